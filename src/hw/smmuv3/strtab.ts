// Stream table lookup (IHI 0070 3.3.2, 5.1, 6.3.24-25): from a StreamID to the address
// of its STE through a linear table or a 2-level table of L1STDs, as the SMMU reads it
// with its own bus-master accesses.

import type { PhysicalBus } from '../bus/bus.js';
import { STRTAB_FMT_2LVL, SMMU_FEATURES } from './registers.js';

export const enum SteLookup {
  Ok = 0,
  /** StreamID out of range, or an invalid/out-of-span L1STD: C_BAD_STREAMID. */
  BadStreamId = 1,
  /** External abort reading the L1STD or STE: F_STE_FETCH. */
  FetchAbort = 2,
}

const TWO32 = 4294967296;

export class StreamTable {
  /** Effective configuration, recomputed when STRTAB_BASE/_CFG are written. */
  private base = 0;
  private twoLevel = false;
  private log2Size = 0;
  private split = 6;
  /** Address of the STE found (Ok) or of the access that aborted (FetchAbort). */
  address = 0;
  /** Address of the L1STD read, -1 for a linear table (for the trace). */
  l1Address = -1;

  constructor(
    private readonly bus: PhysicalBus,
    private readonly initiator: number,
  ) {}

  /**
   * SMMU_STRTAB_BASE (ADDR [55:6]) and SMMU_STRTAB_BASE_CFG (FMT, SPLIT, LOG2SIZE).
   * The base is aligned to the table size (linear) or to the larger of 64 bytes and
   * the L1 table size (2-level), using the literal LOG2SIZE (6.3.24).
   */
  configure(baseReg: bigint, cfg: number): void {
    const addr = Number((baseReg >> 6n) & ((1n << 50n) - 1n)) * 64;
    const fmt = (cfg >>> 16) & 3;
    const literal = cfg & 0x3f;
    let split = (cfg >>> 6) & 0x1f;
    if (split !== 6 && split !== 8 && split !== 10) split = 6; // reserved values behave as 6
    this.twoLevel = fmt === STRTAB_FMT_2LVL; // reserved FMT values behave as linear
    this.split = split;
    this.log2Size = Math.min(literal, SMMU_FEATURES.sidBits);
    const tableBytes = this.twoLevel ? Math.max(64, 8 * 2 ** Math.max(0, literal - split)) : 64 * 2 ** literal;
    this.base = tableBytes >= 2 ** 52 ? 0 : addr - (addr % tableBytes);
  }

  /** Finds the STE of `sid` and reads its 64 bytes into `dst`. */
  fetch(sid: number, dst: Uint8Array): SteLookup {
    this.l1Address = -1;
    if (sid >= 2 ** this.log2Size) return SteLookup.BadStreamId;
    let steAddr: number;
    if (!this.twoLevel) {
      steAddr = this.base + sid * 64;
    } else {
      const l1 = this.base + Math.floor(sid / 2 ** this.split) * 8;
      this.l1Address = l1;
      const lo = this.bus.load(l1, 8, this.initiator);
      if (this.bus.error) {
        this.address = l1;
        return SteLookup.FetchAbort;
      }
      const hi = this.bus.hi;
      const span = lo & 0x1f;
      // 5.1.1: Span 0, reserved (12-31) or beyond SPLIT+1, or a StreamID past the span: invalid.
      if (span === 0 || span > 11 || span > this.split + 1) return SteLookup.BadStreamId;
      const low = sid % 2 ** this.split;
      if (low >= 2 ** (span - 1)) return SteLookup.BadStreamId;
      const l2ptr = (hi & 0xffffff) * TWO32 + ((lo & ~0x3f) >>> 0); // L2Ptr [55:6]
      const l2Bytes = 64 * 2 ** (span - 1); // L2Ptr[5 + Span - 1 : 0] treated as zero
      steAddr = l2ptr - (l2ptr % l2Bytes) + low * 64;
    }
    this.address = steAddr;
    if (!this.bus.readInto(steAddr, dst, 0, 64, this.initiator)) return SteLookup.FetchAbort;
    return SteLookup.Ok;
  }
}
