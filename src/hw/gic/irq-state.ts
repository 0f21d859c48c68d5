// The state machine of wired interrupts (SGIs, PPIs, SPIs) as bitmaps indexed by
// INTID: enable, pending latch, input level, active, group, trigger, priority.
// IHI 0069 4.1 (interrupt lifecycle): an edge-triggered interrupt is pending from a
// rising edge (or a GICD_ISPENDR write) until acknowledged; a level-sensitive one is
// pending while its input is asserted, or while a GICD_ISPENDR write latched it.
// Acknowledge makes it active (active and pending if the level is still high); only
// interrupts that are pending and not active are forwarded.

export class IrqStateBank {
  readonly words: number;
  readonly enabled: Uint32Array;
  /** Pending set by an edge, ISPENDR or an SGI; cleared by ICPENDR or acknowledge. */
  readonly pendLatch: Uint32Array;
  /** Input line level (level-sensitive pending follows it). */
  readonly level: Uint32Array;
  readonly active: Uint32Array;
  /** 1 = Group 1 (GICD_IGROUPR). */
  readonly group: Uint32Array;
  /** 1 = edge-triggered (GICD_ICFGR Int_config). */
  readonly edge: Uint32Array;
  readonly priority: Uint8Array;

  constructor(readonly count: number) {
    this.words = (count + 31) >>> 5;
    this.enabled = new Uint32Array(this.words);
    this.pendLatch = new Uint32Array(this.words);
    this.level = new Uint32Array(this.words);
    this.active = new Uint32Array(this.words);
    this.group = new Uint32Array(this.words);
    this.edge = new Uint32Array(this.words);
    this.priority = new Uint8Array(count);
  }

  reset(): void {
    this.enabled.fill(0);
    this.pendLatch.fill(0);
    this.level.fill(0);
    this.active.fill(0);
    this.group.fill(0);
    this.edge.fill(0);
    this.priority.fill(0);
  }

  /** Pending bits of word `w`. */
  pending(w: number): number {
    return (this.pendLatch[w]! | (this.level[w]! & ~this.edge[w]!)) >>> 0;
  }

  /** Interrupts of word `w` the bank may forward: Group 1, enabled, pending, not active. */
  forwardable(w: number): number {
    return (this.enabled[w]! & this.group[w]! & this.pending(w) & ~this.active[w]!) >>> 0;
  }

  isPending(intid: number): boolean {
    return (this.pending(intid >>> 5) & (1 << (intid & 31))) !== 0;
  }

  isActive(intid: number): boolean {
    return (this.active[intid >>> 5]! & (1 << (intid & 31))) !== 0;
  }

  /** Drives the input line. Returns true when the interrupt became pending. */
  drive(intid: number, high: boolean): boolean {
    const w = intid >>> 5;
    const b = 1 << (intid & 31);
    const wasPending = (this.pending(w) & b) !== 0;
    const wasHigh = (this.level[w]! & b) !== 0;
    if (high) {
      this.level[w]! |= b;
      if (!wasHigh && (this.edge[w]! & b) !== 0) this.pendLatch[w]! |= b;
    } else this.level[w]! &= ~b;
    return !wasPending && (this.pending(w) & b) !== 0;
  }

  /**
   * One rising edge followed by the line falling again. An edge-triggered interrupt
   * latches pending; a level-sensitive one is pending only while the line is high,
   * so a pulse leaves no state behind (IHI 0069 4.1).
   */
  pulse(intid: number): boolean {
    const w = intid >>> 5;
    const b = 1 << (intid & 31);
    if ((this.edge[w]! & b) === 0 || (this.level[w]! & b) !== 0) return false;
    const wasPending = (this.pendLatch[w]! & b) !== 0;
    this.pendLatch[w]! |= b;
    return !wasPending;
  }

  /** Sets the pending latch (ISPENDR, SGI). Returns true when it became pending. */
  setPending(intid: number): boolean {
    const w = intid >>> 5;
    const b = 1 << (intid & 31);
    const was = (this.pending(w) & b) !== 0;
    this.pendLatch[w]! |= b;
    return !was;
  }

  /** Applies GICD_ISPENDR-style writes: returns the bits that became pending. */
  setPendingBits(w: number, bits: number): number {
    const before = this.pending(w);
    this.pendLatch[w]! |= bits;
    return (this.pending(w) & ~before) >>> 0;
  }

  /** IHI 0069 4.1: acknowledge moves pending to active (and pending, if the level is still high). */
  acknowledge(intid: number): void {
    const w = intid >>> 5;
    const b = 1 << (intid & 31);
    this.pendLatch[w]! &= ~b;
    this.active[w]! |= b;
  }

  deactivate(intid: number): void {
    this.active[intid >>> 5]! &= ~(1 << (intid & 31));
  }

  /** GICD_ICFGR value for INTIDs 16k..16k+15: Int_config at bit 2j+1. */
  icfgr(k: number): number {
    const w = k >>> 1;
    const half = (this.edge[w]! >>> ((k & 1) * 16)) & 0xffff;
    let v = 0;
    for (let j = 0; j < 16; j++) if ((half >>> j) & 1) v |= 2 << (2 * j);
    return v >>> 0;
  }

  setIcfgr(k: number, value: number): void {
    const w = k >>> 1;
    const shift = (k & 1) * 16;
    let half = 0;
    for (let j = 0; j < 16; j++) if ((value >>> (2 * j + 1)) & 1) half |= 1 << j;
    this.edge[w] = ((this.edge[w]! & ~(0xffff << shift)) | (half << shift)) >>> 0;
  }
}

/** What an Irq trace record's `value` says happened to INTID `aux`. */
export const enum IrqTraceEvent {
  /** The interrupt became pending. */
  Pending = 0,
  /** A CPU interface acknowledged it (ICC_IAR1_EL1). */
  Acknowledge = 1,
  /** It was deactivated (ICC_EOIR1_EL1 with EOImode 0). */
  Deactivate = 2,
}
