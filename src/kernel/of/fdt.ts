// Flattened device tree parsing (drivers/of/fdt.c unflatten_device_tree): reads the
// blob from guest RAM with physical loads at the address the boot protocol put in x0
// and builds the live tree. The format (FDT v17, big-endian) is the devicetree
// specification's, chapter 5; this parser is the kernel's own, independent of the
// emulator's writer.

import type { ArchCpu } from '../../arch/index.js';
import { DeviceNode, Property, be32, of_set_root } from './base.js';

export const FDT_MAGIC = 0xd00dfeed;
export const FDT_BEGIN_NODE = 0x1;
export const FDT_END_NODE = 0x2;
export const FDT_PROP = 0x3;
export const FDT_NOP = 0x4;
export const FDT_END = 0x9;
/** Largest blob the kernel accepts (MAX_FDT_SIZE on arm64 is 2 MiB). */
export const MAX_FDT_SIZE = 2 * 1024 * 1024;

export interface FdtHeader {
  magic: number;
  totalsize: number;
  off_dt_struct: number;
  off_dt_strings: number;
  off_mem_rsvmap: number;
  version: number;
  last_comp_version: number;
  boot_cpuid_phys: number;
  size_dt_strings: number;
  size_dt_struct: number;
}

export interface FdtReserve {
  address: number;
  size: number;
}

export interface ParsedFdt {
  header: FdtHeader;
  root: DeviceNode;
  reserved: FdtReserve[];
}

/** fdt_check_header + the whole parse, on bytes. Returns an error string for a bad blob. */
export function fdt_unflatten(blob: Uint8Array): ParsedFdt | string {
  if (blob.length < 40) return 'FDT too small';
  const h: FdtHeader = {
    magic: be32(blob, 0),
    totalsize: be32(blob, 4),
    off_dt_struct: be32(blob, 8),
    off_dt_strings: be32(blob, 12),
    off_mem_rsvmap: be32(blob, 16),
    version: be32(blob, 20),
    last_comp_version: be32(blob, 24),
    boot_cpuid_phys: be32(blob, 28),
    size_dt_strings: be32(blob, 32),
    size_dt_struct: be32(blob, 36),
  };
  if (h.magic !== FDT_MAGIC) return `bad FDT magic 0x${h.magic.toString(16)}`;
  if (h.last_comp_version > 17 || h.version < 16) return `unsupported FDT version ${h.version}`;
  if (h.totalsize > blob.length || h.off_dt_struct + h.size_dt_struct > h.totalsize || h.off_dt_strings + h.size_dt_strings > h.totalsize) return 'FDT block outside totalsize';

  const reserved: FdtReserve[] = [];
  for (let p = h.off_mem_rsvmap; p + 16 <= h.totalsize; p += 16) {
    const address = be32(blob, p) * 4294967296 + be32(blob, p + 4);
    const size = be32(blob, p + 8) * 4294967296 + be32(blob, p + 12);
    if (address === 0 && size === 0) break;
    reserved.push({ address, size });
  }

  const strEnd = h.off_dt_strings + h.size_dt_strings;
  const dec = new TextDecoder();
  const str = (off: number): string => {
    let e = h.off_dt_strings + off;
    const s = e;
    while (e < strEnd && blob[e] !== 0) e++;
    return dec.decode(blob.subarray(s, e));
  };
  let p = h.off_dt_struct;
  const end = h.off_dt_struct + h.size_dt_struct;
  let rootNode: DeviceNode | null = null;
  let cur: DeviceNode | null = null;
  for (;;) {
    if (p + 4 > end) return 'FDT structure block ends without FDT_END';
    const tag = be32(blob, p);
    p += 4;
    if (tag === FDT_BEGIN_NODE) {
      let e = p;
      while (e < end && blob[e] !== 0) e++;
      const name = dec.decode(blob.subarray(p, e));
      p = (e + 1 + 3) & ~3;
      const n: DeviceNode = new DeviceNode(name, cur);
      if (cur === null) {
        if (rootNode !== null) return 'FDT has two root nodes';
        rootNode = n;
      } else cur.children.push(n);
      cur = n;
    } else if (tag === FDT_END_NODE) {
      if (cur === null) return 'FDT_END_NODE without a node';
      cur = cur.parent;
    } else if (tag === FDT_PROP) {
      if (cur === null || p + 8 > end) return 'FDT_PROP outside a node';
      const len = be32(blob, p);
      const nameoff = be32(blob, p + 4);
      p += 8;
      if (p + len > end) return 'FDT property runs past the structure block';
      cur.properties.push(new Property(str(nameoff), blob.slice(p, p + len)));
      p = (p + len + 3) & ~3;
    } else if (tag === FDT_NOP) {
      continue;
    } else if (tag === FDT_END) {
      break;
    } else return `bad FDT tag 0x${tag.toString(16)} at 0x${(p - 4).toString(16)}`;
  }
  if (rootNode === null || cur !== null) return 'FDT nodes not balanced';
  return { header: h, root: rootNode, reserved };
}

/** Reads the blob at `dtbPa` from guest RAM (header first, then totalsize bytes). */
export function fdt_read_blob(cpu: ArchCpu, dtbPa: number): Uint8Array | string {
  if (dtbPa % 8 !== 0) return `FDT address 0x${dtbPa.toString(16)} is not 8-byte aligned`;
  const head = new Uint8Array(8);
  cpu.readPhys(dtbPa, head, 0, 8);
  if (be32(head, 0) !== FDT_MAGIC) return `no FDT at 0x${dtbPa.toString(16)}`;
  const size = be32(head, 4);
  if (size > MAX_FDT_SIZE || size < 40) return `FDT size ${size} out of range`;
  const blob = new Uint8Array(size);
  cpu.readPhys(dtbPa, blob, 0, size);
  return blob;
}

/** unflatten_device_tree: parses the blob at `dtbPa` and installs it as the live tree. */
export function unflatten_device_tree(cpu: ArchCpu, dtbPa: number): ParsedFdt | string {
  const blob = fdt_read_blob(cpu, dtbPa);
  if (typeof blob === 'string') return blob;
  const r = fdt_unflatten(blob);
  if (typeof r === 'string') return r;
  of_set_root(r.root);
  return r;
}
