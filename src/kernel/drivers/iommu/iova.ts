// IOVA allocator (drivers/iommu/iova.c in shape): page-granular ranges handed out top
// down below a limit, size-aligned for power-of-two requests as Linux aligns them,
// with reserved ranges (the MSI window, PCI host bridge windows) that are never handed
// out; overlapping reservations merge into one. Ranges are kept sorted in an array
// without overlaps; the per-CPU rcaches of Linux are not modelled.

export class Iova {
  constructor(
    readonly pfnLo: number,
    readonly pfnHi: number,
    readonly reserved: boolean,
  ) {}
}

export class IovaDomain {
  /** Allocated and reserved ranges, sorted by pfnLo. */
  readonly ranges: Iova[] = [];
  constructor(
    readonly granule: number,
    /** Lowest PFN handed out (IOVA 0 stays unused so a 0 dma_addr never appears). */
    readonly startPfn: number,
  ) {}

  private insert(iova: Iova): void {
    let i = this.ranges.length;
    while (i > 0 && this.ranges[i - 1]!.pfnLo > iova.pfnLo) i--;
    this.ranges.splice(i, 0, iova);
  }

  /**
   * reserve_iova: [pfnLo, pfnHi] is never allocated. A reservation that overlaps or
   * touches earlier ones absorbs them (__adjust_overlap_range), so ranges never overlap.
   */
  reserve(pfnLo: number, pfnHi: number): Iova {
    for (const r of this.ranges) {
      if (!r.reserved || r.pfnHi + 1 < pfnLo || r.pfnLo > pfnHi + 1) continue;
      if (r.pfnLo <= pfnLo && r.pfnHi >= pfnHi) return r;
      pfnLo = Math.min(pfnLo, r.pfnLo);
      pfnHi = Math.max(pfnHi, r.pfnHi);
    }
    for (let i = this.ranges.length - 1; i >= 0; i--) {
      const r = this.ranges[i]!;
      if (r.reserved && r.pfnLo >= pfnLo && r.pfnHi <= pfnHi) this.ranges.splice(i, 1);
    }
    const r = new Iova(pfnLo, pfnHi, true);
    this.insert(r);
    return r;
  }

  /**
   * alloc_iova: `size` pages ending at or below `limitPfn`, the highest such gap, aligned
   * to the next power of two of `size` when `sizeAligned`. Null when nothing fits.
   */
  alloc(size: number, limitPfn: number, sizeAligned: boolean): Iova | null {
    if (size <= 0) return null;
    const align = sizeAligned ? 2 ** Math.ceil(Math.log2(size)) : 1;
    let hiBound = limitPfn;
    for (let i = this.ranges.length; i >= 0; i--) {
      const below = i > 0 ? this.ranges[i - 1]! : null;
      const gapLo = below ? below.pfnHi + 1 : this.startPfn;
      const above = i < this.ranges.length ? this.ranges[i]!.pfnLo - 1 : limitPfn;
      const gapHi = Math.min(above, hiBound);
      if (gapHi >= gapLo) {
        const lo = Math.floor((gapHi - size + 1) / align) * align;
        if (lo >= gapLo && lo >= this.startPfn) {
          const iova = new Iova(lo, lo + size - 1, false);
          this.insert(iova);
          return iova;
        }
      }
      if (below) hiBound = Math.min(hiBound, below.pfnLo - 1);
    }
    return null;
  }

  /** find_iova: the allocation containing `pfn`. */
  find(pfn: number): Iova | null {
    for (const r of this.ranges) if (pfn >= r.pfnLo && pfn <= r.pfnHi) return r;
    return null;
  }

  /** __free_iova. Reserved ranges stay. */
  free(iova: Iova): void {
    if (iova.reserved) return;
    const i = this.ranges.indexOf(iova);
    if (i >= 0) this.ranges.splice(i, 1);
  }
}
