// Edits the firmware stage makes to the SoC tree before it places the blob in guest
// RAM, as QEMU's arm/boot.c does for -m, -smp, -append and -initrd: the memory
// node's size, one cpu node per core, and /chosen.

import { cells, childCellCounts, regEntries, str } from './property.js';
import type { DeviceTree, FdtNode } from './tree.js';

function memoryNode(tree: DeviceTree): FdtNode {
  for (const n of tree.root.children) {
    const dt = n.prop('device_type');
    if (dt && new TextDecoder().decode(dt.value) === 'memory\0') return n;
  }
  throw new Error('device tree: no memory node (device_type = "memory") under /');
}

/** Sets the (single) memory node's reg to [base, base + size) and renames it memory@<base>. */
export function setMemory(tree: DeviceTree, base: number, size: number): void {
  const memory = memoryNode(tree);
  const { addressCells, sizeCells } = childCellCounts(tree.root);
  memory.setProp('reg', regEntries([{ base, size }], addressCells, sizeCells));
  memory.rename(`memory@${base.toString(16)}`);
}

/**
 * Keeps cpu@0 .. cpu@(count-1) under /cpus, cloning the first cpu node for any that
 * are missing. reg is the MPIDR affinity: Aff0 = index for up to 8 cores.
 */
export function setCpuCount(tree: DeviceTree, count: number): void {
  if (!Number.isInteger(count) || count < 1 || count > 8) throw new RangeError(`cpu count must be 1..8, got ${count}`);
  const cpus = tree.require('/cpus');
  const template = cpus.children.find((c) => c.nodeName === 'cpu');
  if (template === undefined) throw new Error('device tree: /cpus has no cpu node to copy');
  const others = cpus.children.filter((c) => c.nodeName !== 'cpu');
  const kept: FdtNode[] = [];
  for (let i = 0; i < count; i++) {
    let n = cpus.children.find((c) => c.name === `cpu@${i.toString(16)}`);
    if (n === undefined) {
      n = template.clone();
      n.rename(`cpu@${i.toString(16)}`);
      n.labels.length = 0;
      n.removeProp('phandle');
      n.setProp('reg', cells(i));
    }
    n.parent = cpus;
    kept.push(n);
  }
  cpus.children.length = 0;
  cpus.children.push(...kept, ...others);
}

/** Sets /chosen bootargs (creating /chosen if needed). */
export function setBootargs(tree: DeviceTree, bootargs: string): void {
  tree.ensure('/chosen').setProp('bootargs', str(bootargs));
}

/**
 * Sets /chosen linux,initrd-start and linux,initrd-end (end exclusive), as 64-bit
 * values (two cells), the form Linux's early_init_dt_check_for_initrd reads.
 */
export function setInitrd(tree: DeviceTree, start: number, end: number): void {
  if (!(end >= start)) throw new RangeError(`initrd end 0x${end.toString(16)} is before start 0x${start.toString(16)}`);
  const chosen = tree.ensure('/chosen');
  const two = (v: number) => cells(Math.floor(v / 4294967296), v >>> 0);
  chosen.setProp('linux,initrd-start', two(start));
  chosen.setProp('linux,initrd-end', two(end));
}
