// Producer/consumer index arithmetic shared by the command, event and PRI queues
// (IHI 0070 3.5): an index is [log2size-1:0] plus a wrap bit at [log2size], and
// PROD.OVFLG / CONS.OVACKFLG at bit 31 for the output queues. Mirrors Linux's
// arm_smmu_ll_queue helpers (Q_IDX, Q_WRP, Q_OVF, queue_has_space ...).

export const Q_OVERFLOW_FLAG = 0x80000000;

/** The software copy of one queue's indices (struct arm_smmu_ll_queue). */
export class LlQueue {
  prod = 0;
  cons = 0;
  constructor(public maxNShift: number) {}

  idx(p: number): number {
    return p & ((1 << this.maxNShift) - 1);
  }
  wrp(p: number): number {
    return p & (1 << this.maxNShift);
  }
  static ovf(p: number): number {
    return (p & Q_OVERFLOW_FLAG) >>> 0;
  }
  hasSpace(n: number): boolean {
    const prod = this.idx(this.prod);
    const cons = this.idx(this.cons);
    const space = this.wrp(this.prod) === this.wrp(this.cons) ? (1 << this.maxNShift) - (prod - cons) : cons - prod;
    return space >= n;
  }
  full(): boolean {
    return this.idx(this.prod) === this.idx(this.cons) && this.wrp(this.prod) !== this.wrp(this.cons);
  }
  empty(): boolean {
    return this.idx(this.prod) === this.idx(this.cons) && this.wrp(this.prod) === this.wrp(this.cons);
  }
  /** queue_consumed: the SMMU's cons has moved past `prod`. */
  consumed(prod: number): boolean {
    return (this.wrp(this.cons) === this.wrp(prod) && this.idx(this.cons) > this.idx(prod)) || (this.wrp(this.cons) !== this.wrp(prod) && this.idx(this.cons) <= this.idx(prod));
  }
  /** queue_inc_prod_n: `p` advanced by n entries, keeping its overflow flag. */
  incN(p: number, n: number): number {
    const v = (this.wrp(p) | this.idx(p)) + n;
    return (LlQueue.ovf(p) | this.wrp(v) | this.idx(v)) >>> 0;
  }
  /** queue_inc_cons on `cons`. */
  incCons(): void {
    const c = (this.wrp(this.cons) | this.idx(this.cons)) + 1;
    this.cons = (LlQueue.ovf(this.cons) | this.wrp(c) | this.idx(c)) >>> 0;
  }
}
