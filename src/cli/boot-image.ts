// `svasoc boot`: build the image's initramfs, boot the kernel on a fresh machine, run
// until the guest powers off, and exit with its poweroff code.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createMachine } from '../machine/create.js';
import { boot, type BootHandle } from '../machine/boot.js';
import type { Machine } from '../machine/board.js';
import { createKernelImage } from '../kernel/image.js';
import { userPrograms } from '../user/rom.js';
import { buildImage } from '../../tools/mkimage/build.js';

export interface GuestBootOptions {
  readonly image: string;
  readonly script?: string;
  readonly ramSize: number;
  readonly cpus: number;
  readonly seed: number;
  readonly trace: boolean;
  /** Kernel command line (default: the device tree's). */
  readonly bootargs?: string;
  /** Words added to the kernel command line (`svasoc boot --append`), e.g. "hisi_zip.uacce_mode=1". */
  readonly append?: string;
  /** Console text as it arrives. */
  readonly consoleSink?: (text: string) => void;
  /** Upper bound of virtual time before giving up (default 600 s). */
  readonly limitNs?: number;
}

export interface GuestBootResult {
  readonly machine: Machine;
  /** The guest's poweroff code, or undefined when it did not power off in time. */
  readonly exitCode: number | undefined;
  readonly virtualNs: number;
}

/** The initramfs for an image path: a cpio file as is, a directory built with mkimage. */
export function initramfsFor(imagePath: string, script?: string): Uint8Array {
  if (statSync(imagePath).isDirectory()) return buildImage(imagePath, script !== undefined ? { script } : {});
  if (script !== undefined) throw new Error('--script needs an image directory, not a prebuilt archive');
  const archive = new Uint8Array(readFileSync(imagePath));
  // the kernel unpacks uncompressed newc only; anything else would end in "No working init found"
  if (new TextDecoder().decode(archive.subarray(0, 6)) !== CPIO_NEWC_MAGIC) throw new Error(`${imagePath} is not a cpio newc archive (svasoc mkimage DIR OUT.cpio builds one)`);
  return archive;
}

/** The first six bytes of every cpio newc header. */
const CPIO_NEWC_MAGIC = '070701';

/** Where an image directory keeps kernel command line words (a Raspberry Pi boot partition's cmdline.txt). */
export const IMAGE_CMDLINE = 'boot/cmdline.txt';

/** The words an image directory asks to add to the kernel command line ('' for none or an archive). */
export function imageCmdline(imagePath: string): string {
  const f = join(imagePath, IMAGE_CMDLINE);
  if (!statSync(imagePath).isDirectory() || !existsSync(f)) return '';
  return readFileSync(f, 'utf8')
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('#'))
    .join(' ')
    .split(/\s+/)
    .filter((w) => w.length > 0)
    .join(' ');
}

/** The kernel command line of a boot: bootargs (else the tree's), then the image's words, then --append. */
function bootargsFor(options: GuestBootOptions, treeDefault: string): string | undefined {
  const extra = [imageCmdline(options.image), options.append ?? ''].filter((w) => w.trim().length > 0);
  if (extra.length === 0) return options.bootargs;
  return [options.bootargs ?? treeDefault, ...extra].join(' ');
}

/**
 * A fresh machine with firmware, kernel and initramfs loaded, at the kernel's entry: run
 * it with `handle.run` / `runToPoweroff` (bootGuest), in slices (bootInteractive) or
 * under the TUI.
 */
export function startGuest(options: GuestBootOptions & { readonly traceCapacity?: number }): { machine: Machine; handle: BootHandle } {
  const machine = createMachine({
    ramSize: options.ramSize,
    cpus: options.cpus,
    seed: options.seed,
    trace: options.trace,
    traceCapacity: options.traceCapacity ?? (options.trace ? 1 << 20 : 1 << 16),
    ...(options.consoleSink ? { consoleSink: options.consoleSink } : {}),
  });
  const bootargs = bootargsFor(options, machine.soc.chosen.bootargs);
  const handle = boot(machine, {
    kernel: createKernelImage({ seed: options.seed }),
    rom: userPrograms,
    initramfs: initramfsFor(options.image, options.script),
    ...(bootargs !== undefined ? { args: bootargs } : {}),
  });
  return { machine, handle };
}

export function bootGuest(options: GuestBootOptions): GuestBootResult {
  const { machine, handle } = startGuest(options);
  const exitCode = handle.runToPoweroff(options.limitNs ?? 600e9);
  return { machine, exitCode, virtualNs: machine.clock.now() };
}

/**
 * Boots with a shell prompt on the console: host stdin feeds the UART receiver, the
 * machine runs in slices of virtual time between host I/O turns. Resolves with the
 * poweroff code when the guest powers off (e.g. `poweroff` at the prompt).
 */
export function bootInteractive(options: GuestBootOptions & { readonly stdin: NodeJS.ReadStream }): Promise<{ machine: Machine; code: number }> {
  const machine = createMachine({ ramSize: options.ramSize, cpus: options.cpus, seed: options.seed, trace: options.trace, ...(options.consoleSink ? { consoleSink: options.consoleSink } : {}) });
  const handle = boot(machine, {
    kernel: createKernelImage({ seed: options.seed }),
    rom: userPrograms,
    initramfs: initramfsFor(options.image, options.script),
    args: `${bootargsFor(options, machine.soc.chosen.bootargs) ?? machine.soc.chosen.bootargs} interactive`,
  });
  const stdin = options.stdin;
  if (stdin.isTTY) stdin.setRawMode(true);
  const onData = (data: Buffer) => {
    // Ctrl-] leaves, as telnet and QEMU's monitor escape do
    if (data.includes(0x1d)) machine.halted = { code: 130, reason: 'off' };
    else handle.input(new Uint8Array(data));
  };
  stdin.on('data', onData);
  return new Promise((resolve) => {
    const slice = () => {
      machine.run({ forNs: 5e6 });
      if (machine.halted) {
        stdin.off('data', onData);
        if (stdin.isTTY) stdin.setRawMode(false);
        stdin.pause();
        machine.console.flush();
        resolve({ machine, code: machine.halted.code });
        return;
      }
      // an idle guest (all cores in WFI) waits for the host's input without spinning
      if (machine.cores.some((c) => c.runnable)) setImmediate(slice);
      else setTimeout(slice, 2);
    };
    slice();
  });
}
