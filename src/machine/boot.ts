// boot(): firmware, kernel and init on a machine at reset (DESIGN.md section 5).

import type { KernelImage, ProgramRom } from '../arch/index.js';
import { runFirmware, type FirmwareResult } from '../../firmware/stage.js';
import type { Machine } from './board.js';
import type { RunLimit, RunResult } from './machine.js';

export interface BootOptions {
  /** The kernel image (its entry runs on the boot core with x0 = DTB). */
  readonly kernel: KernelImage;
  /** User programs available to exec. */
  readonly rom: ProgramRom;
  /** The initramfs, a cpio newc archive. */
  readonly initramfs?: Uint8Array;
  /** Kernel command line. */
  readonly args?: string;
}

export interface BootHandle {
  readonly machine: Machine;
  readonly firmware: FirmwareResult;
  /** Console output so far. */
  readonly console: string;
  /** Sends text or bytes to the console input (the UART receiver). */
  input(data: string | Uint8Array): void;
  /** Runs the machine (see Machine.run). */
  run(limit: RunLimit): RunResult;
  /**
   * Runs until the guest powers off (or `limitNs` of virtual time passes) and returns
   * the poweroff code, or undefined if it did not power off.
   */
  runToPoweroff(limitNs?: number): number | undefined;
  /** The guest's poweroff code once it has powered off. */
  readonly exitCode: number | undefined;
}

export function boot(machine: Machine, options: BootOptions): BootHandle {
  const firmware = runFirmware(machine, {
    kernel: options.kernel,
    rom: options.rom,
    ...(options.initramfs ? { initramfs: options.initramfs } : {}),
    ...(options.args !== undefined ? { bootargs: options.args } : {}),
  });
  const handle: BootHandle = {
    machine,
    firmware,
    get console() {
      return machine.console.text;
    },
    input(data: string | Uint8Array) {
      machine.uart.input(data);
    },
    run(limit: RunLimit) {
      return machine.run(limit);
    },
    runToPoweroff(limitNs = 600e9) {
      machine.run({ untilNs: machine.clock.now() + limitNs });
      machine.console.flush();
      return machine.halted?.code;
    },
    get exitCode() {
      return machine.halted?.code;
    },
  };
  return handle;
}
