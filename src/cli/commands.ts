// What each `svasoc` command does, behind parseArgs. Returns the exit status:
// 0 success, 1 the run failed (e.g. a file could not be written), 2 bad arguments.

import { readFileSync, writeFileSync } from 'node:fs';
import { writeDtb } from '../machine/fdt/dtb-writer.js';
import { createMachine } from '../machine/create.js';
import { exportChromeFromRing } from '../trace/export-chrome.js';
import { exportText } from '../trace/export-text.js';
import { parseTraceFilter } from '../trace/filter.js';
import type { TraceRecord } from '../trace/record.js';
import { decodeLine } from '../tui/model/decode.js';
import { answerWithoutMachine, parseArgs, type BootArgs, type DemoArgs, type DumpDtbArgs, type MkimageArgs } from './args.js';
import { runTui } from './tui.js';
import { runBareMetalDemo } from './demo.js';
import type * as BootImage from './boot-image.js';
import { DEFAULT_IMAGE, resolveImage } from './image-path.js';
import type { Machine } from '../machine/board.js';
import type { MachineCore } from '../machine/machine.js';

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export { version } from './args.js';

function writeFile(io: CliIo, file: string, data: string | Uint8Array, what: string): boolean {
  try {
    writeFileSync(file, data);
    return true;
  } catch (e) {
    io.stderr(`svasoc: cannot write ${what} to ${file}: ${e instanceof Error ? e.message : String(e)}\n`);
    return false;
  }
}

function dumpDtb(args: DumpDtbArgs, io: CliIo): number {
  // QEMU's dumpdtb writes the blob of the machine as built, so do we
  const blob = writeDtb(createMachine({ ramSize: args.ramSize, cpus: args.cpus }).deviceTree);
  return writeFile(io, args.file, blob, 'the device tree blob') ? EXIT_OK : EXIT_FAILURE;
}

/** `svasoc boot`: the guest's poweroff code is the exit status. The guest kernel is loaded here, for boot only. */
function boot(args: BootArgs, io: CliIo): Promise<number> {
  return import('./boot-image.js').then(({ bootGuest, bootInteractive, initramfsFor }) => bootWith(args, io, bootGuest, bootInteractive, initramfsFor));
}

function bootWith(
  args: BootArgs,
  io: CliIo,
  bootGuest: typeof BootImage.bootGuest,
  bootInteractive: typeof BootImage.bootInteractive,
  initramfsFor: typeof BootImage.initramfsFor,
): number | Promise<number> {
  const image = resolveImage(args.image);
  if (image === undefined) {
    io.stderr(`svasoc: no such image: ${args.image ?? DEFAULT_IMAGE}\n`);
    return EXIT_USAGE;
  }
  let script: string | undefined;
  try {
    script = args.script !== undefined ? readFileSync(args.script, 'utf8') : undefined;
    initramfsFor(image, script); // fail early on a bad image, before the console starts
  } catch (e) {
    io.stderr(`svasoc: ${e instanceof Error ? e.message : String(e)}\n`);
    return EXIT_USAGE;
  }
  const traceOn = args.trace !== undefined || args.log !== undefined;
  const common = {
    image,
    ramSize: args.ramSize,
    cpus: args.cpus,
    seed: args.seed,
    trace: traceOn,
    consoleSink: io.stdout,
    ...(script !== undefined ? { script } : {}),
    ...(args.append !== undefined ? { append: args.append } : {}),
  };
  const finish = (machine: Machine, code: number | undefined): number => {
    let ok = writeTraceFiles(machine, args, io);
    if (code === undefined) {
      const idle = machine.clock.nextEventTime() === Infinity && machine.cores.every((c) => !c.runnable);
      const why = idle ? ': it sits idle waiting for console input (an image without a workload gives a shell: --interactive to use it, --script FILE to run one)' : '';
      io.stderr(`svasoc: the guest did not power off within ${machine.clock.now() / 1e9} s of virtual time${why}\n`);
      ok = false;
    }
    // a guest that powered off fine does not make a run whose trace was lost a success
    if (code === undefined || (code === EXIT_OK && !ok)) return ok ? EXIT_OK : EXIT_FAILURE;
    return code;
  };
  if (args.interactive) {
    return bootInteractive({ ...common, stdin: process.stdin }).then(({ machine, code }) => finish(machine, code));
  }
  const { machine, exitCode } = bootGuest(common);
  return finish(machine, exitCode);
}

/** --trace/--log after a run; false when a file could not be written. */
function writeTraceFiles(machine: MachineCore, args: { trace: string | undefined; log: string | undefined; traceFilter: string }, io: CliIo): boolean {
  const parsed = parseTraceFilter(args.traceFilter);
  const filter = parsed.ok ? parsed.filter : undefined;
  // Each record also read in words, as the TUI's list reads it (no STE/CD snapshots after the run).
  const ctx = { machine, snapshots: { get: () => undefined } };
  const describe = (r: TraceRecord): string => decodeLine(ctx, r);
  let ok = true;
  if (args.trace !== undefined) {
    const json = JSON.stringify(exportChromeFromRing(machine.trace, filter, { cost: machine.cost, describe }));
    ok = writeFile(io, args.trace, json, 'the trace') && ok;
  }
  if (args.log !== undefined) ok = writeFile(io, args.log, exportText(machine.trace, filter, describe), 'the trace log') && ok;
  return ok;
}

/** `svasoc mkimage`: the builder (and the user ROM it lists programs from) is loaded for this command only. */
function mkimage(args: MkimageArgs, io: CliIo): Promise<number> {
  return import('../../tools/mkimage/build.js').then(({ buildImage }) => {
    try {
      const script = args.script !== undefined ? readFileSync(args.script) : undefined;
      const archive = buildImage(args.dir, script !== undefined ? { script: new Uint8Array(script) } : {});
      return writeFile(io, args.out, archive, 'the image') ? EXIT_OK : EXIT_FAILURE;
    } catch (e) {
      io.stderr(`svasoc: ${e instanceof Error ? e.message : String(e)}\n`);
      return EXIT_USAGE;
    }
  });
}

/** `svasoc demo`: the bare-metal demo, with --trace/--log written after it. */
function demo(args: DemoArgs, io: CliIo): number {
  const { machine, failures } = runBareMetalDemo({ write: io.stdout }, { ramSize: args.ramSize, cpus: args.cpus, seed: args.seed });
  const ok = writeTraceFiles(machine, args, io) && failures.length === 0;
  return ok ? EXIT_OK : EXIT_FAILURE;
}

/** Runs `svasoc` with `argv` (arguments after the program name). */
export function runCli(argv: readonly string[], io: CliIo): number | Promise<number> {
  const parsed = parseArgs(argv);
  const answer = answerWithoutMachine(parsed, io);
  if (answer !== undefined || !parsed.ok) return answer ?? EXIT_USAGE;
  const args = parsed.args;
  switch (args.command) {
    case 'help':
    case 'version':
      return EXIT_OK; // answered above
    case 'dumpdtb':
      return dumpDtb(args, io);
    case 'boot':
      return boot(args, io);
    case 'mkimage':
      return mkimage(args, io);
    case 'demo':
      return demo(args, io);
    case 'tui':
      return runTui(args, io);
  }
}
