// Property values as the FDT stores them (DTSpec 2.2.4): big-endian 32-bit cells,
// NUL-terminated strings and string lists, raw bytes. Encoders build values to set;
// decoders return undefined when the bytes do not have the asked-for shape, so a
// malformed tree is a value to report, not a host exception.

import type { FdtNode } from './tree.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

/** `<a b c>`: 32-bit cells. Numbers must be integers in [0, 2^32). */
export function cells(...values: readonly (number | bigint)[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => {
    const n = typeof v === 'bigint' ? v : BigInt(v);
    if (n < 0n || n > 0xffffffffn || (typeof v === 'number' && !Number.isInteger(v))) {
      throw new RangeError(`device tree cell must be an integer in [0, 2^32), got ${v}`);
    }
    dv.setUint32(i * 4, Number(n));
  });
  return out;
}

/** A number spread over `count` cells, most significant first (addresses, sizes). */
export function multiCell(value: number | bigint, count: number): Uint8Array {
  let v = BigInt(value);
  if (v < 0n || v >= 1n << BigInt(32 * count)) throw new RangeError(`device tree value ${value} does not fit in ${count} cell(s)`);
  const parts: bigint[] = [];
  for (let i = 0; i < count; i++) {
    parts.unshift(v & 0xffffffffn);
    v >>= 32n;
  }
  return cells(...parts);
}

/** `reg`-style list of (address, size) pairs with the parent's #address-cells/#size-cells. */
export function regEntries(entries: readonly { base: number | bigint; size: number | bigint }[], addressCells: number, sizeCells: number): Uint8Array {
  return concat(entries.flatMap((e) => [multiCell(e.base, addressCells), multiCell(e.size, sizeCells)]));
}

/** A single NUL-terminated string. */
export function str(s: string): Uint8Array {
  return stringList(s);
}

/** `"a", "b"`: NUL-terminated strings back to back. */
export function stringList(...items: readonly string[]): Uint8Array {
  return concat(items.map((s) => encoder.encode(`${s}\0`)));
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The cells of a value, or undefined when its length is not a multiple of 4. */
export function readCells(value: Uint8Array): number[] | undefined {
  if (value.length % 4 !== 0) return undefined;
  const dv = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const out: number[] = [];
  for (let i = 0; i < value.length; i += 4) out.push(dv.getUint32(i));
  return out;
}

/** A single-cell value (`<n>`), or undefined. */
export function readU32(value: Uint8Array): number | undefined {
  return value.length === 4 ? new DataView(value.buffer, value.byteOffset, 4).getUint32(0) : undefined;
}

/** Joins `count` cells starting at `cellIndex` into one number (exact below 2^53), or undefined. */
export function joinCells(cellList: readonly number[], cellIndex: number, count: number): number | undefined {
  if (cellIndex + count > cellList.length) return undefined;
  let v = 0;
  for (let i = 0; i < count; i++) v = v * 4294967296 + cellList[cellIndex + i]!;
  return Number.isSafeInteger(v) ? v : undefined;
}

/**
 * The strings of a string-list value, or undefined when it is not one (empty, no
 * final NUL, or an empty string in the list).
 */
export function readStringList(value: Uint8Array): string[] | undefined {
  if (value.length === 0 || value[value.length - 1] !== 0) return undefined;
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    if (value[i] !== 0) continue;
    if (i === start) return undefined;
    out.push(decoder.decode(value.subarray(start, i)));
    start = i + 1;
  }
  return out;
}

export function readString(value: Uint8Array): string | undefined {
  const l = readStringList(value);
  return l !== undefined && l.length === 1 ? l[0] : undefined;
}

/** True when every byte is printable ASCII or a string separator (for printing values). */
export function looksLikeStrings(value: Uint8Array): boolean {
  if (readStringList(value) === undefined) return false;
  for (const b of value) if (b !== 0 && (b < 0x20 || b > 0x7e)) return false;
  return true;
}

/**
 * #address-cells / #size-cells that apply to the children of `node` (DTSpec 2.3.5:
 * defaults 2 and 1 when absent).
 */
export function childCellCounts(node: FdtNode): { addressCells: number; sizeCells: number } {
  const a = node.prop('#address-cells');
  const s = node.prop('#size-cells');
  return {
    addressCells: (a && readU32(a.value)) ?? 2,
    sizeCells: (s && readU32(s.value)) ?? 1,
  };
}

/** The (address, size) pairs of `node`'s reg, decoded with its parent's cell counts. */
export function readReg(node: FdtNode): { base: number; size: number }[] | undefined {
  const p = node.prop('reg');
  if (p === undefined || node.parent === undefined) return undefined;
  const { addressCells, sizeCells } = childCellCounts(node.parent);
  const c = readCells(p.value);
  const stride = addressCells + sizeCells;
  if (c === undefined || stride === 0 || c.length % stride !== 0) return undefined;
  const out: { base: number; size: number }[] = [];
  for (let i = 0; i < c.length; i += stride) {
    const base = joinCells(c, i, addressCells);
    const size = sizeCells === 0 ? 0 : joinCells(c, i + addressCells, sizeCells);
    if (base === undefined || size === undefined) return undefined;
    out.push({ base, size });
  }
  return out;
}
