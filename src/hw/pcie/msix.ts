// The MSI-X table and Pending Bit Array (PCI Local Bus 3.0 6.8.2.6-6.8.2.10), which
// live in memory space behind one of the function's BARs. The table is an array of
// identical 16-byte entries (up to 2048), so it is stored as a typed array rather than
// a register table: entry n is Message Address, Message Upper Address, Message Data,
// Vector Control at dwords 4n..4n+3.

import type { AccessSize, MmioAccess } from '../bus/mmio.js';

export const MSIX_ENTRY_SIZE = 16;
/** Vector Control bit 0 (6.8.2.9); bits 31:1 are reserved. */
export const MSIX_VECTOR_CTRL_MASK_BIT = 1;

export class MsixTable {
  /** Four dwords per entry: address lo, address hi, data, vector control. */
  readonly entries: Uint32Array;
  /** Pending bits, one per vector, as 64-bit QWORDs in two dwords each (6.8.2.10). */
  readonly pending: Uint32Array;

  constructor(
    readonly vectors: number,
    /** Called when software clears a vector's Mask bit (pending messages are then sent). */
    private readonly unmasked: (vector: number) => void,
  ) {
    this.entries = new Uint32Array(vectors * 4);
    this.pending = new Uint32Array(Math.ceil(vectors / 64) * 2);
    this.reset();
  }

  get tableSize(): number {
    return this.vectors * MSIX_ENTRY_SIZE;
  }

  get pbaSize(): number {
    return this.pending.length * 4;
  }

  /** 6.8.2.9: every vector comes out of reset masked; addresses and data are undefined (zero here). */
  reset(): void {
    this.entries.fill(0);
    for (let v = 0; v < this.vectors; v++) this.entries[v * 4 + 3] = MSIX_VECTOR_CTRL_MASK_BIT;
    this.pending.fill(0);
  }

  masked(vector: number): boolean {
    return (this.entries[vector * 4 + 3]! & MSIX_VECTOR_CTRL_MASK_BIT) !== 0;
  }

  addressLo(vector: number): number {
    return this.entries[vector * 4]!;
  }

  addressHi(vector: number): number {
    return this.entries[vector * 4 + 1]!;
  }

  data(vector: number): number {
    return this.entries[vector * 4 + 2]!;
  }

  isPending(vector: number): boolean {
    return (this.pending[vector >>> 5]! & (1 << (vector & 31))) !== 0;
  }

  setPending(vector: number, on: boolean): void {
    const bit = 1 << (vector & 31);
    const w = vector >>> 5;
    this.pending[w] = on ? this.pending[w]! | bit : this.pending[w]! & ~bit;
  }

  /** Table read at `offset` from the table start (DWORD or aligned QWORD, 6.8.2). */
  readTable(offset: number, size: AccessSize, acc: MmioAccess): void {
    readWords(this.entries, offset, size, acc);
  }

  writeTable(offset: number, size: AccessSize, acc: MmioAccess): void {
    const first = offset >>> 2;
    const last = (offset + size - 1) >>> 2;
    for (let w = first; w <= last && w < this.entries.length; w++) {
      const lanes = laneMask(offset, size, w);
      const value = w === first ? shiftIn(acc.lo, offset & 3) : acc.hi;
      const old = this.entries[w]!;
      let next = ((old & ~lanes) | (value & lanes)) >>> 0;
      switch (w & 3) {
        case 0:
          next &= ~3; // Message Address bits 1:0 are DWORD alignment, hardwired to 0
          break;
        case 3:
          next &= MSIX_VECTOR_CTRL_MASK_BIT; // reserved bits read as 0
          break;
      }
      this.entries[w] = next >>> 0;
      if ((w & 3) === 3 && (old & MSIX_VECTOR_CTRL_MASK_BIT) !== 0 && (next & MSIX_VECTOR_CTRL_MASK_BIT) === 0) this.unmasked(w >>> 2);
    }
  }

  /** The PBA is read-only (6.8.2.10): writes are ignored. */
  readPba(offset: number, size: AccessSize, acc: MmioAccess): void {
    readWords(this.pending, offset, size, acc);
  }
}

function shiftIn(v: number, byteOff: number): number {
  return byteOff === 0 ? v >>> 0 : (v << (8 * byteOff)) >>> 0;
}

/** The byte lanes of dword `w` that an access of `size` at `offset` covers. */
function laneMask(offset: number, size: number, w: number): number {
  const start = Math.max(offset, w * 4);
  const end = Math.min(offset + size, w * 4 + 4);
  let m = 0;
  for (let b = start; b < end; b++) m |= 0xff << (8 * (b & 3));
  return m >>> 0;
}

function readWords(words: Uint32Array, offset: number, size: AccessSize, acc: MmioAccess): void {
  const w = offset >>> 2;
  const lo = words[w] ?? 0;
  if (size === 8) {
    acc.lo = lo;
    acc.hi = words[w + 1] ?? 0;
    return;
  }
  const v = lo >>> (8 * (offset & 3));
  acc.lo = size === 4 ? v >>> 0 : v & (size === 1 ? 0xff : 0xffff);
  acc.hi = 0;
}
