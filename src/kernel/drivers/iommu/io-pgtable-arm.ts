// The IOMMU's own page tables for DMA and unmanaged domains (io-pgtable-arm.c,
// ARM_64_LPAE_S1 in shape): VMSAv8-64 stage-1 tables with the 4 KiB granule and a
// 48-bit input range (4 levels), built in guest RAM with the page allocator. Only
// 4 KiB leaves are made (pgsize_bitmap = SZ_4K); tables emptied by unmap are kept.

import { thisCpu } from '../../../arch/index.js';
import { free_pages, get_zeroed_page } from '../../mm/page_alloc.js';
import { GFP_KERNEL } from '../../mm/gfp.js';
import { loadDword, storeDword } from './dword-io.js';
import { IOMMU_CACHE, IOMMU_MMIO, IOMMU_NOEXEC, IOMMU_PRIV, IOMMU_READ, IOMMU_WRITE } from './iommu.js';

const TWO32 = 4294967296;
export const ARM_LPAE_GRANULE = 4096;
export const IO_PGTABLE_IAS = 48;

// Descriptor bits (VMSAv8-64 D8.3): lo half unless named HI
const PTE_VALID = 1 << 0;
const PTE_TYPE_TABLE_OR_PAGE = 1 << 1;
const PTE_ATTRINDX_SHIFT = 2;
const PTE_AP_UNPRIV = 1 << 6;
const PTE_AP_RDONLY = 1 << 7;
const PTE_SH_IS = 3 << 8;
const PTE_AF = 1 << 10;
const PTE_NG = 1 << 11;
const PTE_HI_XN = 1 << (54 - 32);

// MAIR indices io-pgtable programs (ARM_LPAE_MAIR_ATTR_IDX_*)
export const MAIR_ATTR_IDX_NC = 0;
export const MAIR_ATTR_IDX_CACHE = 1;
export const MAIR_ATTR_IDX_DEV = 2;
/** MAIR: Normal-NC 0x44, Normal WBRAWA 0xff, Device-nGnRE 0x04, inner-NC outer-WB 0xf4. */
export const IO_PGTABLE_MAIR = 0xf404ff44n;

/** Bytes one entry maps at each level (4 KiB granule, 48-bit input: levels 0-3). */
const LEVEL_SPAN = [2 ** 39, 2 ** 30, 2 ** 21, 2 ** 12] as const;
/** Leaves in one level-3 table. */
const PTES_PER_TABLE = 512;

/** Zeroes for clearing a run of PTEs. */
const ZERO_RUN = new Uint8Array(PTES_PER_TABLE * 8);

/** One domain's table tree. */
export class IoPgtable {
  /** Physical address of the level-0 table (TTBR / CD.TTB0). */
  readonly pgd: number;
  /** Table pages, freed with the domain. */
  private readonly tables: number[] = [];
  private readonly buf = new Uint32Array(2);
  /** A run of PTEs of one leaf table as lo/hi words (guest RAM is little-endian, as the host the word views assume). */
  private readonly run = new Uint32Array(PTES_PER_TABLE * 2);
  private readonly runBytes = new Uint8Array(this.run.buffer);

  private constructor(pgd: number) {
    this.pgd = pgd;
    this.tables.push(pgd);
  }

  static alloc(): IoPgtable | null {
    const pgd = get_zeroed_page(GFP_KERNEL);
    return pgd < 0 ? null : new IoPgtable(pgd);
  }

  free(): void {
    for (const t of this.tables) free_pages(t, 0);
    this.tables.length = 0;
  }

  private index(iova: number, level: number): number {
    return Math.floor(iova / LEVEL_SPAN[level]!) % PTES_PER_TABLE;
  }

  /** The PTE address for `iova` at level 3, allocating tables on the way when `alloc`. */
  private walkToLeaf(iova: number, alloc: boolean): number {
    const cpu = thisCpu();
    let table = this.pgd;
    for (let level = 0; level < 3; level++) {
      const ptep = table + 8 * this.index(iova, level);
      loadDword(cpu, ptep, this.buf, 0);
      const lo = this.buf[0]!;
      const hi = this.buf[1]!;
      if (lo & PTE_VALID) {
        table = (hi & 0xffff) * TWO32 + (lo & 0xfffff000);
        continue;
      }
      if (!alloc) return -1;
      const next = get_zeroed_page(GFP_KERNEL);
      if (next < 0) return -1;
      this.tables.push(next);
      storeDword(cpu, ptep, ((next % TWO32) | PTE_VALID | PTE_TYPE_TABLE_OR_PAGE) >>> 0, Math.floor(next / TWO32));
      table = next;
    }
    return table + 8 * this.index(iova, 3);
  }

  /**
   * map_pages of 4 KiB leaves: 0, -EEXIST (12 -> -17) when a page is mapped, -ENOMEM (-12).
   * Like __arm_lpae_map, one walk per leaf table, then the run of PTEs in that table is
   * checked (one 64-bit load each) before any of it is written (one 64-bit store each).
   */
  map(iova: number, pa: number, pgcount: number, prot: number): number {
    if (!(prot & (IOMMU_READ | IOMMU_WRITE))) return 0;
    const cpu = thisCpu();
    let lo = PTE_VALID | PTE_TYPE_TABLE_OR_PAGE | PTE_AF | PTE_NG;
    if (!(prot & IOMMU_PRIV)) lo |= PTE_AP_UNPRIV;
    if (!(prot & IOMMU_WRITE)) lo |= PTE_AP_RDONLY;
    const attr = prot & IOMMU_MMIO ? MAIR_ATTR_IDX_DEV : prot & IOMMU_CACHE ? MAIR_ATTR_IDX_CACHE : MAIR_ATTR_IDX_NC;
    lo |= attr << PTE_ATTRINDX_SHIFT;
    if (!(prot & IOMMU_MMIO)) lo |= PTE_SH_IS;
    const hiBits = prot & IOMMU_NOEXEC ? PTE_HI_XN : 0;
    const run = this.run;
    let done = 0;
    while (done < pgcount) {
      const va = iova + done * ARM_LPAE_GRANULE;
      const first = this.index(va, 3);
      const n = Math.min(pgcount - done, PTES_PER_TABLE - first);
      const ptep = this.walkToLeaf(va, true);
      let err = ptep < 0 ? -12 : 0;
      if (err === 0) {
        cpu.readPhys(ptep, this.runBytes, 0, n * 8);
        for (let i = 0; i < n; i++) if (run[2 * i]! & PTE_VALID) err = -17;
      }
      if (err) {
        // a failed call leaves nothing of its own mapped
        if (done) this.unmap(iova, done);
        return err;
      }
      for (let i = 0; i < n; i++) {
        const out = pa + (done + i) * ARM_LPAE_GRANULE;
        run[2 * i] = ((out % TWO32) | lo) >>> 0;
        run[2 * i + 1] = (Math.floor(out / TWO32) | hiBits) >>> 0;
      }
      cpu.writePhys(ptep, this.runBytes, 0, n * 8);
      done += n;
    }
    return 0;
  }

  /**
   * unmap_pages: clears up to `pgcount` leaves; returns the bytes unmapped (stops at a
   * hole). Per leaf table, one 64-bit load and one 64-bit store per PTE, as
   * __arm_lpae_unmap reads and clears a run.
   */
  unmap(iova: number, pgcount: number): number {
    const cpu = thisCpu();
    const run = this.run;
    let done = 0;
    while (done < pgcount) {
      const va = iova + done * ARM_LPAE_GRANULE;
      const n = Math.min(pgcount - done, PTES_PER_TABLE - this.index(va, 3));
      const ptep = this.walkToLeaf(va, false);
      if (ptep < 0) break;
      cpu.readPhys(ptep, this.runBytes, 0, n * 8);
      let valid = 0;
      while (valid < n && run[2 * valid]! & PTE_VALID) valid++;
      if (valid > 0) cpu.writePhys(ptep, ZERO_RUN, 0, valid * 8);
      done += valid;
      if (valid < n) break;
    }
    return done * ARM_LPAE_GRANULE;
  }

  iovaToPhys(iova: number): number {
    const ptep = this.walkToLeaf(iova, false);
    if (ptep < 0) return 0;
    loadDword(thisCpu(), ptep, this.buf, 0);
    if (!(this.buf[0]! & PTE_VALID)) return 0;
    return (this.buf[1]! & 0xffff) * TWO32 + (this.buf[0]! & 0xfffff000) + (iova % ARM_LPAE_GRANULE);
  }
}
