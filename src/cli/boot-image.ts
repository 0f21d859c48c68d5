// `svasoc boot`: build the image's initramfs, boot the kernel on a fresh machine, run
// until the guest powers off, and exit with its poweroff code.

import { readFileSync, statSync } from 'node:fs';
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
  return new Uint8Array(readFileSync(imagePath));
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
  const handle = boot(machine, {
    kernel: createKernelImage({ seed: options.seed }),
    rom: userPrograms,
    initramfs: initramfsFor(options.image, options.script),
    ...(options.bootargs !== undefined ? { args: options.bootargs } : {}),
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
    args: `${options.bootargs ?? machine.soc.chosen.bootargs} interactive`,
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
