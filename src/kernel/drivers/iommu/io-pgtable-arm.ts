// The IOMMU's own page tables for DMA and unmanaged domains (io-pgtable-arm.c,
// ARM_64_LPAE_S1 in shape): VMSAv8-64 stage-1 tables with the 4 KiB granule and a
// 48-bit input range (4 levels), built in guest RAM with the page allocator. Leaves
// are 4 KiB pages (level 3) and 2 MiB / 1 GiB blocks (levels 2 / 1): pgsize_bitmap
// SZ_4K | SZ_2M | SZ_1G, as arm_lpae_restrict_pgsizes gives the 4 KiB granule.
// As __arm_lpae_map / __arm_lpae_unmap since Linux 6.13 (33729a5fc0ca, split on
// unmap removed): a block laid over a table frees that table, unmapping at a block
// size frees the tables it meets, and unmapping part of a block unmaps nothing.
// Tables emptied by unmapping their pages are kept.

import { thisCpu } from '../../../arch/index.js';
import { free_pages, get_zeroed_page } from '../../mm/page_alloc.js';
import { GFP_KERNEL } from '../../mm/gfp.js';
import { pr_warn } from '../../lib/printk.js';
import { loadDword, storeDword } from './dword-io.js';
import { IOMMU_CACHE, IOMMU_MMIO, IOMMU_NOEXEC, IOMMU_PRIV, IOMMU_READ, IOMMU_WRITE, type IotlbGather } from './iommu.js';

const TWO32 = 4294967296;
export const ARM_LPAE_GRANULE = 4096;
export const IO_PGTABLE_IAS = 48;
/** Leaf sizes of the 4 KiB granule: 4 KiB pages, 2 MiB and 1 GiB blocks. */
export const ARM_LPAE_PGSIZES_4K = 2 ** 12 + 2 ** 21 + 2 ** 30;

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
/** Entries in one table. */
const PTES_PER_TABLE = 512;

/** Zeroes for clearing a run of PTEs. */
const ZERO_RUN = new Uint8Array(PTES_PER_TABLE * 8);

/** The TLB maintenance the tables ask of their IOMMU driver (struct iommu_flush_ops). */
export interface IoPgtableFlushOps {
  /** tlb_flush_walk: a table was unhooked; invalidate every cached level of [iova, iova+size). */
  flushWalk(iova: number, size: number, granule: number): void;
  /** tlb_add_page: a leaf of `granule` bytes at `iova` was cleared; gather it for iotlb_sync. */
  addPage(gather: IotlbGather, iova: number, granule: number): void;
}

/** The level whose leaves are `pgsize` bytes, or -1 for a size the tables cannot map. */
function levelOf(pgsize: number): number {
  return pgsize === LEVEL_SPAN[3] ? 3 : pgsize === LEVEL_SPAN[2] ? 2 : pgsize === LEVEL_SPAN[1] ? 1 : -1;
}

/** iopte_leaf: a page at level 3, a block above it. */
function isLeaf(lo: number, level: number): boolean {
  return (lo & PTE_VALID) !== 0 && ((lo & PTE_TYPE_TABLE_OR_PAGE) !== 0) === (level === 3);
}

function isTable(lo: number, level: number): boolean {
  return level < 3 && (lo & (PTE_VALID | PTE_TYPE_TABLE_OR_PAGE)) === (PTE_VALID | PTE_TYPE_TABLE_OR_PAGE);
}

function outputAddress(lo: number, hi: number): number {
  return (hi & 0xffff) * TWO32 + (lo & 0xfffff000);
}

/** One domain's table tree. */
export class IoPgtable {
  /** Physical address of the level-0 table (TTBR / CD.TTB0). */
  readonly pgd: number;
  /** Table pages, freed with the domain. */
  private readonly tables = new Set<number>();
  private readonly buf = new Uint32Array(2);
  /** A run of PTEs of one table as lo/hi words (guest RAM is little-endian, as the host the word views assume). */
  private readonly run = new Uint32Array(PTES_PER_TABLE * 2);
  private readonly runBytes = new Uint8Array(this.run.buffer);
  /** Level of the table `walk` stopped at, and the entry it stopped on when it met a leaf or a hole above the target. */
  private walkLevel = 0;
  private walkPte = 0;

  private constructor(
    pgd: number,
    private readonly tlb: IoPgtableFlushOps,
  ) {
    this.pgd = pgd;
    this.tables.add(pgd);
  }

  static alloc(tlb: IoPgtableFlushOps): IoPgtable | null {
    const pgd = get_zeroed_page(GFP_KERNEL);
    return pgd < 0 ? null : new IoPgtable(pgd, tlb);
  }

  free(): void {
    for (const t of this.tables) free_pages(t, 0);
    this.tables.clear();
  }

  private index(iova: number, level: number): number {
    return Math.floor(iova / LEVEL_SPAN[level]!) % PTES_PER_TABLE;
  }

  /**
   * The table at `target` level that holds `iova`'s entry, allocating tables on the way
   * when `alloc`. -1 when the walk meets a hole (not allocating) or a leaf above
   * `target`: then walkLevel/walkPte say where.
   */
  private walkTo(iova: number, target: number, alloc: boolean): number {
    const cpu = thisCpu();
    let table = this.pgd;
    for (let level = 0; level < target; level++) {
      const ptep = table + 8 * this.index(iova, level);
      loadDword(cpu, ptep, this.buf, 0);
      const lo = this.buf[0]!;
      if (isTable(lo, level)) {
        table = outputAddress(lo, this.buf[1]!);
        continue;
      }
      this.walkLevel = level;
      this.walkPte = ptep;
      if (lo & PTE_VALID || !alloc) return -1;
      const next = get_zeroed_page(GFP_KERNEL);
      if (next < 0) return -1;
      this.tables.add(next);
      storeDword(cpu, ptep, ((next % TWO32) | PTE_VALID | PTE_TYPE_TABLE_OR_PAGE) >>> 0, Math.floor(next / TWO32));
      table = next;
    }
    return table;
  }

  /** __arm_lpae_free_pgtable: the table at `level` and every table below it. */
  private freeTable(table: number, level: number): void {
    if (level < 2) {
      const cpu = thisCpu();
      for (let i = 0; i < PTES_PER_TABLE; i++) {
        loadDword(cpu, table + 8 * i, this.buf, 0);
        if (isTable(this.buf[0]!, level + 1)) this.freeTable(outputAddress(this.buf[0]!, this.buf[1]!), level + 1);
      }
    }
    this.tables.delete(table);
    free_pages(table, 0);
  }

  /**
   * Unhooks the table entry at `ptep` (an entry of `level` mapping `iova`), flushes the
   * walks through it and frees the tables below (the non-leaf case of __arm_lpae_unmap).
   */
  private dropTable(ptep: number, level: number, iova: number, lo: number, hi: number): void {
    storeDword(thisCpu(), ptep, 0, 0);
    this.tlb.flushWalk(iova, LEVEL_SPAN[level]!, ARM_LPAE_GRANULE);
    this.freeTable(outputAddress(lo, hi), level + 1);
  }

  /**
   * map_pages: `pgcount` leaves of `pgsize` (4 KiB, 2 MiB or 1 GiB) from `iova` to `pa`.
   * 0, -EINVAL (-22) for a size the tables have no leaf of, -EEXIST (-17) when a leaf is
   * there already (a block above a page counts), -ENOMEM (-12). One walk per table, then
   * the run of entries in that table is checked (one 64-bit load each) before any of it is
   * written (one 64-bit store each); an empty table where a block goes is freed first.
   */
  map(iova: number, pa: number, pgsize: number, pgcount: number, prot: number): number {
    if (!(prot & (IOMMU_READ | IOMMU_WRITE))) return 0;
    const level = levelOf(pgsize);
    if (level < 0 || iova % pgsize || pa % pgsize) return -22;
    const cpu = thisCpu();
    let lo = PTE_VALID | PTE_AF | PTE_NG;
    if (level === 3) lo |= PTE_TYPE_TABLE_OR_PAGE;
    if (!(prot & IOMMU_PRIV)) lo |= PTE_AP_UNPRIV;
    if (!(prot & IOMMU_WRITE)) lo |= PTE_AP_RDONLY;
    const attr = prot & IOMMU_MMIO ? MAIR_ATTR_IDX_DEV : prot & IOMMU_CACHE ? MAIR_ATTR_IDX_CACHE : MAIR_ATTR_IDX_NC;
    lo |= attr << PTE_ATTRINDX_SHIFT;
    if (!(prot & IOMMU_MMIO)) lo |= PTE_SH_IS;
    const hiBits = prot & IOMMU_NOEXEC ? PTE_HI_XN : 0;
    const run = this.run;
    let done = 0;
    while (done < pgcount) {
      const va = iova + done * pgsize;
      const first = this.index(va, level);
      const n = Math.min(pgcount - done, PTES_PER_TABLE - first);
      const table = this.walkTo(va, level, true);
      let err = table >= 0 ? 0 : this.tableMissing() ? -12 : -17;
      const ptep = table + 8 * first;
      if (err === 0) {
        cpu.readPhys(ptep, this.runBytes, 0, n * 8);
        for (let i = 0; i < n; i++) if (isLeaf(run[2 * i]!, level)) err = -17;
      }
      if (err === 0 && level < 3) {
        // arm_lpae_init_pte: a table where a block goes is unmapped and freed first
        for (let i = 0; i < n; i++) if (isTable(run[2 * i]!, level)) this.dropTable(ptep + 8 * i, level, va + i * pgsize, run[2 * i]!, run[2 * i + 1]!);
      }
      if (err) {
        // a failed call leaves nothing of its own mapped
        for (let undone = 0; undone < done; ) {
          const n = this.unmap(iova + undone * pgsize, pgsize, done - undone, null) / pgsize;
          if (n === 0) break;
          undone += n;
        }
        return err;
      }
      for (let i = 0; i < n; i++) {
        const out = pa + (done + i) * pgsize;
        run[2 * i] = ((out % TWO32) | lo) >>> 0;
        run[2 * i + 1] = (Math.floor(out / TWO32) | hiBits) >>> 0;
      }
      cpu.writePhys(ptep, this.runBytes, 0, n * 8);
      done += n;
    }
    return 0;
  }

  /** After a failed allocating walk: whether it stopped on a hole (no memory for a table) rather than a leaf. */
  private tableMissing(): boolean {
    loadDword(thisCpu(), this.walkPte, this.buf, 0);
    return (this.buf[0]! & PTE_VALID) === 0;
  }

  /**
   * unmap_pages: clears up to `pgcount` leaves of `pgsize` within one table (a table met
   * where a leaf of that size would be is unhooked and freed, its walks flushed) and
   * gathers each cleared leaf for the IOTLB; returns the bytes unmapped. Stops at a
   * hole. Part of a larger block unmaps nothing (0), as Linux since 6.13.
   */
  unmap(iova: number, pgsize: number, pgcount: number, gather: IotlbGather | null): number {
    const level = levelOf(pgsize);
    if (level < 0 || pgcount <= 0) return 0;
    const table = this.walkTo(iova, level, false);
    if (table < 0) {
      loadDword(thisCpu(), this.walkPte, this.buf, 0);
      if (this.buf[0]! & PTE_VALID) pr_warn(`io-pgtable-arm: unmap of a partial large IOPTE is not allowed (iova 0x${iova.toString(16)}, size 0x${pgsize.toString(16)})`);
      return 0;
    }
    const cpu = thisCpu();
    const run = this.run;
    const first = this.index(iova, level);
    const ptep = table + 8 * first;
    const n = Math.min(pgcount, PTES_PER_TABLE - first);
    cpu.readPhys(ptep, this.runBytes, 0, n * 8);
    let i = 0;
    for (; i < n; i++) {
      const lo = run[2 * i]!;
      if (!(lo & PTE_VALID)) break;
      if (!isLeaf(lo, level)) this.dropTable(ptep + 8 * i, level, iova + i * pgsize, lo, run[2 * i + 1]!);
    }
    if (i > 0) cpu.writePhys(ptep, ZERO_RUN, 0, i * 8);
    if (gather !== null) for (let j = 0; j < i; j++) this.tlb.addPage(gather, iova + j * pgsize, pgsize);
    return i * pgsize;
  }

  /** The level of the leaf mapping `iova` (1, 2 or 3), or -1 when nothing maps it. */
  leafLevel(iova: number): number {
    const table = this.walkTo(iova, 3, false);
    if (table < 0) return this.buf[0]! & PTE_VALID ? this.walkLevel : -1;
    loadDword(thisCpu(), table + 8 * this.index(iova, 3), this.buf, 0);
    return this.buf[0]! & PTE_VALID ? 3 : -1;
  }

  iovaToPhys(iova: number): number {
    const level = this.leafLevel(iova);
    if (level < 0) return 0;
    return outputAddress(this.buf[0]!, this.buf[1]!) - (outputAddress(this.buf[0]!, this.buf[1]!) % LEVEL_SPAN[level]!) + (iova % LEVEL_SPAN[level]!);
  }
}
