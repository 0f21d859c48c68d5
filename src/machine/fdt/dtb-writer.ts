// DeviceTree -> flattened devicetree blob (DTSpec 5), laid out as dtc lays it out:
// header, memory reservation block (8-aligned), structure block, strings block.
// Property names are stored once; a name that is the tail of one already stored
// points into it, as dtc does, so our blob for a source equals dtc's byte for byte.

import {
  FDT_BEGIN_NODE,
  FDT_END,
  FDT_END_NODE,
  FDT_HEADER_SIZE,
  FDT_LAST_COMP_VERSION,
  FDT_MAGIC,
  FDT_PROP,
  FDT_VERSION,
} from './dtb-format.js';
import type { DeviceTree, FdtNode } from './tree.js';

export interface DtbWriteOptions {
  /** Free bytes appended after the strings block (dtc -p), room for in-place patching. */
  readonly padding?: number;
  /** Overrides the tree's boot_cpuid_phys. */
  readonly bootCpuId?: number;
}

const utf8 = new TextEncoder();

class ByteSink {
  private buf = new Uint8Array(4096);
  private dv = new DataView(this.buf.buffer);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.length));
    this.buf = b;
    this.dv = new DataView(b.buffer);
  }

  u32(v: number): void {
    this.room(4);
    this.dv.setUint32(this.length, v >>> 0);
    this.length += 4;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  align(n: number): void {
    const pad = (n - (this.length % n)) % n;
    this.room(pad);
    this.buf.fill(0, this.length, this.length + pad);
    this.length += pad;
  }

  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

/** The strings block: NUL-terminated names, shared when one is the tail of another. */
class StringTable {
  private text = '';
  private readonly offsets = new Map<string, number>();

  offsetOf(name: string): number {
    let off = this.offsets.get(name);
    if (off === undefined) {
      const needle = `${name}\0`;
      // The first place where `name\0` occurs is a stored name or a tail of one
      // (names hold no NUL); dtc's stringtable_insert picks the same offset.
      const i = this.text.indexOf(needle);
      if (i >= 0) off = i;
      else {
        off = this.text.length;
        this.text += needle;
      }
      this.offsets.set(name, off);
    }
    return off;
  }

  bytes(): Uint8Array {
    return utf8.encode(this.text);
  }
}

/** Flattens `tree` into a standard FDT blob (version 17, last compatible 16). */
export function writeDtb(tree: DeviceTree, options: DtbWriteOptions = {}): Uint8Array {
  const strings = new StringTable();
  const struct = new ByteSink();
  const emit = (node: FdtNode) => {
    struct.u32(FDT_BEGIN_NODE);
    struct.bytes(utf8.encode(`${node.name}\0`));
    struct.align(4);
    for (const p of node.properties) {
      struct.u32(FDT_PROP);
      struct.u32(p.value.length);
      struct.u32(strings.offsetOf(p.name));
      struct.bytes(p.value);
      struct.align(4);
    }
    for (const c of node.children) emit(c);
    struct.u32(FDT_END_NODE);
  };
  emit(tree.root);
  struct.u32(FDT_END);
  const stringBytes = strings.bytes();

  const rsvOff = FDT_HEADER_SIZE; // already 8-aligned
  const rsvSize = (tree.memReserve.length + 1) * 16;
  const structOff = rsvOff + rsvSize;
  const stringsOff = structOff + struct.length;
  const total = stringsOff + stringBytes.length + (options.padding ?? 0);

  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  const header = [
    FDT_MAGIC,
    total,
    structOff,
    stringsOff,
    rsvOff,
    FDT_VERSION,
    FDT_LAST_COMP_VERSION,
    options.bootCpuId ?? tree.bootCpuId,
    stringBytes.length,
    struct.length,
  ];
  header.forEach((v, i) => dv.setUint32(i * 4, v >>> 0));
  tree.memReserve.forEach((r, i) => {
    dv.setBigUint64(rsvOff + i * 16, BigInt.asUintN(64, r.address));
    dv.setBigUint64(rsvOff + i * 16 + 8, BigInt.asUintN(64, r.size));
  });
  out.set(struct.view(), structOff);
  out.set(stringBytes, stringsOff);
  return out;
}
