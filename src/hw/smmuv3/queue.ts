// The circular queues of IHI 0070 3.5: a BASE register (ADDR, LOG2SIZE) and PROD/CONS
// index registers whose low LOG2SIZE bits are the index and the next bit the wrap
// flag. The command queue is consumed by the SMMU; the Event and PRI queues are
// produced by it (OutputQueue).

import type { PhysicalBus } from '../bus/bus.js';
import type { RegisterBlock } from '../regs/regmap.js';
import { Q_OVFLG } from './registers.js';

/** Where a queue's registers live (the PROD/CONS pair may be on page 1). */
export interface QueueRegisters {
  readonly baseBlock: RegisterBlock;
  readonly baseName: string;
  readonly ptrBlock: RegisterBlock;
  readonly prodName: string;
  readonly consName: string;
}

export class SmmuQueue {
  // BASE decoded as Numbers (kept by `configure`, which runs at every BASE write and reset).
  private log2 = 0;
  private base = 0;
  private mask = 1;

  constructor(
    readonly regs: QueueRegisters,
    /** Bytes per entry: 16 (CMD, PRI) or 32 (EVT). */
    readonly entryBytes: number,
    /** IDR1.{CMDQS,EVENTQS,PRIQS}: LOG2SIZE beyond it is treated as this value. */
    readonly maxLog2: number,
  ) {
    this.configure();
  }

  /**
   * Decodes BASE (6.3.26): effective LOG2SIZE = MIN(BASE.LOG2SIZE, IDR1.xQS); ADDR[55:5]
   * aligned by the SMMU to the larger of the queue size or 32 bytes, ignoring the low bits.
   */
  configure(): void {
    const raw = this.regs.baseBlock.get(this.regs.baseName);
    const l = Number(raw & 0x1fn);
    this.log2 = l > this.maxLog2 ? this.maxLog2 : l;
    const addr = Number((raw >> 5n) & ((1n << 51n) - 1n)) * 32;
    const bytes = Math.max(32, this.entryBytes * 2 ** this.log2);
    this.base = addr - (addr % bytes);
    this.mask = (2 << this.log2) - 1;
  }

  /** Effective LOG2SIZE. */
  log2Size(): number {
    return this.log2;
  }

  /** Effective base address. */
  baseAddress(): number {
    return this.base;
  }

  /** Mask of index + wrap bit. */
  ptrMask(): number {
    return this.mask;
  }

  prod(): number {
    return this.regs.ptrBlock.getNum(this.regs.prodName) & this.ptrMask();
  }

  cons(): number {
    return this.regs.ptrBlock.getNum(this.regs.consName) & this.ptrMask();
  }

  isEmpty(): boolean {
    return this.prod() === this.cons();
  }

  /** Full: same index, different wrap flags (7.4). */
  isFull(): boolean {
    return (this.prod() ^ this.cons()) === 1 << this.log2;
  }

  /** Address of the entry at pointer `ptr` (its index part). */
  slotAddress(ptr: number): number {
    const index = ptr & ((1 << this.log2) - 1);
    return this.base + index * this.entryBytes;
  }

  next(ptr: number): number {
    return (ptr + 1) & this.ptrMask();
  }

  /** Replaces the index/wrap bits of a pointer register, keeping the flag bits above. */
  setPtr(name: string, ptr: number): void {
    const blk = this.regs.ptrBlock;
    const v = blk.getNum(name);
    const mask = this.ptrMask();
    blk.set(name, ((v & ~mask & ~0xfffff) | (ptr & mask)) >>> 0);
  }

  /** Masks a value software wrote to PROD/CONS to the index and wrap bits (bits above read as zero). */
  maskWritten(v: number, flagBits: number): number {
    return ((v & (this.ptrMask() | flagBits)) >>> 0);
  }
}

/** Result of trying to append to an output queue. */
export const enum QueueWrite {
  Written = 0,
  /** The queue is disabled or in an error state: the record is discarded, no overflow. */
  Unwritable = 1,
  /** The queue is full: the record is discarded and the overflow condition entered. */
  Overflow = 2,
  /** The write of the entry was a bus error: the record is lost (GERROR *_ABT_ERR). */
  Abort = 3,
}

/**
 * A queue the SMMU produces into (Event queue, PRI queue): writes entries by DMA with
 * the SMMU's own initiator, advances PROD, and tracks the overflow flag.
 */
export class OutputQueue extends SmmuQueue {
  private readonly bytes: Uint8Array;

  constructor(
    regs: QueueRegisters,
    entryBytes: number,
    maxLog2: number,
    private readonly bus: PhysicalBus,
    private readonly initiator: number,
  ) {
    super(regs, entryBytes, maxLog2);
    this.bytes = new Uint8Array(entryBytes);
  }

  /** Overflow condition: PROD.OVFLG != CONS.OVACKFLG (7.4, 8.1). */
  overflowActive(): boolean {
    const blk = this.regs.ptrBlock;
    return ((blk.getNum(this.regs.prodName) ^ blk.getNum(this.regs.consName)) & Q_OVFLG) !== 0;
  }

  /** Enters the overflow condition by toggling PROD.OVFLG, unless already present. */
  signalOverflow(): void {
    if (this.overflowActive()) return;
    const blk = this.regs.ptrBlock;
    blk.set(this.regs.prodName, (blk.getNum(this.regs.prodName) ^ Q_OVFLG) >>> 0);
  }

  /**
   * Writes one entry (`words`, little-endian) at PROD and advances PROD. The caller has
   * checked enable/error state. `wasEmpty` tells the caller whether to interrupt.
   */
  append(words: Uint32Array): QueueWrite {
    if (this.isFull()) {
      this.signalOverflow();
      return QueueWrite.Overflow;
    }
    const prod = this.prod();
    const b = this.bytes;
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!;
      b[i * 4] = w & 0xff;
      b[i * 4 + 1] = (w >>> 8) & 0xff;
      b[i * 4 + 2] = (w >>> 16) & 0xff;
      b[i * 4 + 3] = (w >>> 24) & 0xff;
    }
    if (!this.bus.writeFrom(this.slotAddress(prod), b, 0, this.entryBytes, this.initiator)) return QueueWrite.Abort;
    this.setPtr(this.regs.prodName, this.next(prod));
    return QueueWrite.Written;
  }
}
