// The boot stage: what a boot loader does between reset and the kernel's first
// instruction, following the arm64 Linux booting protocol (Documentation/arch/arm64/
// booting.rst): assign PCI BARs, place the kernel image, the initramfs and the DTB
// in RAM, and enter the kernel on the boot CPU at EL1 with the MMU off and x0 = the
// DTB's physical address.

import type { CoreMain, KernelImage, ProgramRom } from '../src/arch/index.js';
import type { Machine } from '../src/machine/board.js';
import { setBootargs, setInitrd } from '../src/machine/fdt/boot-patches.js';
import { writeDtb } from '../src/machine/fdt/dtb-writer.js';
import { assignPciBars, type AssignedBar } from './pci-enum.js';

/** Where the boot stage puts things, as offsets from the start of RAM. */
export const BOOT_LAYOUT = {
  /** The kernel image: arm64 kernels load 2 MiB-aligned; 16 MiB stands for text + data + bss. */
  kernelOffset: 0x20_0000,
  kernelSize: 0x100_0000,
  /** The initramfs, 2 MiB-aligned after the kernel. */
  initrdOffset: 0x120_0000,
  /** Room reserved for the DTB (booting.rst: at most 2 MiB, 8-byte aligned). */
  dtbSize: 0x20_0000,
} as const;

export interface FirmwareLoad {
  readonly kernel: KernelImage;
  readonly rom: ProgramRom;
  /** A cpio newc archive, or none. */
  readonly initramfs?: Uint8Array;
  /** Kernel command line (/chosen bootargs); the tree's default when omitted. */
  readonly bootargs?: string;
}

export interface FirmwareResult {
  readonly dtbPa: number;
  readonly dtbSize: number;
  readonly initrd: { readonly start: number; readonly end: number } | undefined;
  readonly kernel: { readonly start: number; readonly end: number };
  readonly bars: readonly AssignedBar[];
}

function align(v: number, a: number): number {
  return Math.ceil(v / a) * a;
}

/**
 * Runs the boot stage on a machine at reset and powers on the boot core at the
 * kernel's entry. The machine then runs with `machine.run(...)`.
 */
export function runFirmware(machine: Machine, load: FirmwareLoad): FirmwareResult {
  const bus = machine.bus;
  const firmware = machine.trace.initiatorId('firmware');
  const ramBase = machine.soc.memory.base;
  const ramSize = machine.ramSize;

  const { pcie } = machine.soc;
  const bars = assignPciBars(bus, pcie.ecam.base, pcie.busRange.first, pcie.busRange.last, pcie.mmioWindow, firmware);

  const kernel = { start: ramBase + BOOT_LAYOUT.kernelOffset, end: ramBase + BOOT_LAYOUT.kernelOffset + BOOT_LAYOUT.kernelSize };
  const tree = machine.deviceTree.clone();
  tree.memReserve.push({ address: BigInt(kernel.start), size: BigInt(BOOT_LAYOUT.kernelSize) });

  let initrd: FirmwareResult['initrd'];
  let next = ramBase + BOOT_LAYOUT.initrdOffset;
  if (load.initramfs !== undefined && load.initramfs.length > 0) {
    initrd = { start: next, end: next + load.initramfs.length };
    next = align(initrd.end, 0x20_0000);
    setInitrd(tree, initrd.start, initrd.end);
  }
  if (load.bootargs !== undefined) setBootargs(tree, load.bootargs);

  const dtbPa = next;
  // The DTB reserves itself (booting.rst: the kernel keeps it); room for the entry.
  tree.memReserve.push({ address: BigInt(dtbPa), size: BigInt(BOOT_LAYOUT.dtbSize) });
  const dtb = writeDtb(tree);
  const end = dtbPa + BOOT_LAYOUT.dtbSize;
  if (end > ramBase + ramSize) {
    throw new Error(`boot: RAM of ${ramSize / 2 ** 20} MiB is too small for the kernel, initramfs (${load.initramfs?.length ?? 0} bytes) and DTB`);
  }
  if (initrd) bus.writeFrom(initrd.start, load.initramfs!, 0, load.initramfs!.length, firmware);
  bus.writeFrom(dtbPa, dtb, 0, dtb.length, firmware);

  const main: CoreMain = (cpu) => load.kernel.entry(cpu, dtbPa, load.rom);
  machine.cluster.boot(main);
  return { dtbPa, dtbSize: dtb.length, initrd, kernel, bars };
}
