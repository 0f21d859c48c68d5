// The global exclusive monitors of the cores (Arm DDI 0487 B2.9.2, D1.6.1): a load-exclusive
// marks the granule it read for its core; a write to a marked granule by any other observer
// (another core, a device's DMA or MSI write) clears that mark, and clearing it is a WFE
// wake-up event for the core (its event register is set). This is how a core sleeping in
// LDXR + WFE (Linux's __cmpwait) notices a device writing the location it watches.
//
// Writers check `armed` first, so a write costs one comparison while no core has a
// granule marked.

/** The Exclusives Reservation Granule: 64 bytes (CTR_EL0.ERG = 4, as on Cortex-A and TSV110 cores). */
export const ERG_BYTES = 64;

/** Not an observer: a write by a device (DMA, MSI). */
export const DEVICE_WRITER = -1;

export class ExclusiveMonitors {
  /** How many observers have a granule marked. */
  armed = 0;
  /** Per observer: the marked granule (address / ERG_BYTES), or -1 (Open Access state). */
  private readonly granule: number[] = [];
  private readonly onCleared: (() => void)[] = [];

  /** Adds an observer (a core); `onCleared` runs when another observer's write clears its mark. */
  attach(onCleared: () => void): number {
    this.granule.push(-1);
    this.onCleared.push(onCleared);
    return this.granule.length - 1;
  }

  /** Load-exclusive by `observer` at `pa`: marks the granule holding it (replacing any earlier mark). */
  mark(observer: number, pa: number): void {
    if (this.granule[observer] === -1) this.armed++;
    this.granule[observer] = Math.floor(pa / ERG_BYTES);
  }

  /** CLREX, or a store-exclusive: the observer's mark goes with no event. */
  clear(observer: number): void {
    if (this.granule[observer] === -1) return;
    this.granule[observer] = -1;
    this.armed--;
  }

  /** Whether `observer` has a granule marked (tests, the TUI). */
  marked(observer: number): boolean {
    return this.granule[observer] !== -1;
  }

  /**
   * `writer` (an observer, or DEVICE_WRITER) wrote [pa, pa+len): every other observer
   * whose marked granule the write touches loses its mark and is told.
   */
  written(pa: number, len: number, writer: number): void {
    const first = Math.floor(pa / ERG_BYTES);
    const last = Math.floor((pa + (len > 0 ? len - 1 : 0)) / ERG_BYTES);
    const g = this.granule;
    for (let i = 0; i < g.length; i++) {
      const m = g[i]!;
      if (m < first || m > last || i === writer) continue;
      g[i] = -1;
      this.armed--;
      this.onCleared[i]!();
    }
  }
}
