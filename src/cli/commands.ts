// What each `svasoc` command does, behind parseArgs. Returns the exit status:
// 0 success, 1 the run failed (e.g. a file could not be written), 2 bad arguments.

import { readFileSync, writeFileSync } from 'node:fs';
import { writeDtb } from '../machine/fdt/dtb-writer.js';
import { createMachine } from '../machine/create.js';
import { exportChromeFromRing } from '../trace/export-chrome.js';
import { exportText } from '../trace/export-text.js';
import { parseTraceFilter } from '../trace/filter.js';
import { helpText, parseArgs, type BootArgs, type DemoArgs, type DumpDtbArgs } from './args.js';
import { runBareMetalDemo } from './demo.js';

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}

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

function boot(args: BootArgs, io: CliIo): number {
  if (args.image !== undefined || args.script !== undefined) {
    io.stderr(`svasoc: the guest kernel has not landed yet: ${[args.image, args.script].filter(Boolean).join(' and ')} not run; running the bare-metal demo\n`);
  }
  return demo({ ...args, command: 'demo' }, io);
}

/** `svasoc demo`: the bare-metal demo, with --trace/--log written after it. */
function demo(args: DemoArgs, io: CliIo): number {
  const { machine, failures } = runBareMetalDemo({ write: io.stdout }, { ramSize: args.ramSize, cpus: args.cpus, seed: args.seed });
  const parsed = parseTraceFilter(args.traceFilter);
  const filter = parsed.ok ? parsed.filter : undefined;
  let ok = failures.length === 0;
  if (args.trace !== undefined) {
    const json = JSON.stringify(exportChromeFromRing(machine.trace, filter, { cost: machine.cost }));
    ok = writeFile(io, args.trace, json, 'the trace') && ok;
  }
  if (args.log !== undefined) ok = writeFile(io, args.log, exportText(machine.trace, filter), 'the trace log') && ok;
  return ok ? EXIT_OK : EXIT_FAILURE;
}

/** Runs `svasoc` with `argv` (arguments after the program name). */
export function runCli(argv: readonly string[], io: CliIo): number {
  const parsed = parseArgs(argv);
  if (!parsed.ok) {
    io.stderr(`svasoc: ${parsed.error}\n`);
    return EXIT_USAGE;
  }
  const args = parsed.args;
  switch (args.command) {
    case 'help':
      io.stdout(helpText(version()));
      return EXIT_OK;
    case 'version':
      io.stdout(`svasoc ${version()}\n`);
      return EXIT_OK;
    case 'dumpdtb':
      return dumpDtb(args, io);
    case 'boot':
      return boot(args, io);
    case 'demo':
      return demo(args, io);
  }
}
