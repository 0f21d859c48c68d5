// Batched unmapping (mm/mmu_gather.c, include/asm-generic/tlb.h, arch/arm64
// include/asm/tlb.h). Whoever clears PTEs or page-table entries records here what
// it cleared (the VA range and the levels) and hands over the pages and table pages
// it unmapped; the TLB is flushed for that range, and only then are the pages and
// tables freed. Walk caches may hold table entries, so freeing a table page always
// flushes, even when no page was mapped under it: a core or the SMMU could otherwise
// walk through a table page that was handed out again.

import { flush_tlb_mm, __flush_tlb_range } from './tlbflush.js';
import type { MmStruct } from './mm_types.js';
import { put_page } from './page_alloc.js';
import { free_swap_cache } from './swapfile.js';
import { PAGE_SIZE } from './page.js';
import { PGDIR_SIZE, pgtable_page_free, PMD_SIZE, PUD_SIZE } from './pgtable.js';

/** struct mmu_gather: the range and levels cleared so far, and what waits for the flush. */
export class MmuGather {
  /** Tearing down the whole address space (exit_mmap): the ASID is flushed once, at the end. */
  fullmm = false;
  start = Infinity;
  end = 0;
  /** A table page was unlinked: the flush must reach walk caches (not last-level only). */
  freed_tables = false;
  cleared_ptes = false;
  cleared_pmds = false;
  cleared_puds = false;
  cleared_p4ds = false;
  /** Pages whose mappings were cleared, freed after the flush (tlb_remove_page). */
  readonly pages: number[] = [];
  /** Page-table pages unlinked from their parent, freed after the flush (tlb_remove_table). */
  readonly tables: number[] = [];

  constructor(readonly mm: MmStruct) {}
}

/** tlb_gather_mmu: a gather for a partial unmap (munmap, MADV_DONTNEED). */
export function tlb_gather_mmu(mm: MmStruct): MmuGather {
  return new MmuGather(mm);
}

/** tlb_gather_mmu_fullmm: a gather for exit_mmap (no per-range flushes). */
export function tlb_gather_mmu_fullmm(mm: MmStruct): MmuGather {
  const tlb = new MmuGather(mm);
  tlb.fullmm = true;
  return tlb;
}

function __tlb_adjust_range(tlb: MmuGather, address: number, size: number): void {
  if (address < tlb.start) tlb.start = address;
  if (address + size > tlb.end) tlb.end = address + size;
}

function __tlb_reset_range(tlb: MmuGather): void {
  tlb.start = Infinity;
  tlb.end = 0;
  tlb.freed_tables = false;
  tlb.cleared_ptes = false;
  tlb.cleared_pmds = false;
  tlb.cleared_puds = false;
  tlb.cleared_p4ds = false;
}

/** tlb_remove_tlb_entry: a present PTE for `address` was cleared. */
export function tlb_remove_tlb_entry(tlb: MmuGather, address: number): void {
  __tlb_adjust_range(tlb, address, PAGE_SIZE);
  tlb.cleared_ptes = true;
}

/** tlb_remove_page: drops the mapping's page reference after the flush. */
export function tlb_remove_page(tlb: MmuGather, pfn: number): void {
  tlb.pages.push(pfn);
}

/** pte_free_tlb: the PTE table at `pa`, covering the 2 MiB at `address`, was unlinked from its PMD. */
export function pte_free_tlb(tlb: MmuGather, pa: number, address: number): void {
  __tlb_adjust_range(tlb, address, PAGE_SIZE);
  tlb.cleared_pmds = true;
  tlb.freed_tables = true;
  tlb.tables.push(pa);
}

/** pmd_free_tlb: a PMD table (1 GiB at `address`) was unlinked from its PUD. */
export function pmd_free_tlb(tlb: MmuGather, pa: number, address: number): void {
  __tlb_adjust_range(tlb, address, PAGE_SIZE);
  tlb.cleared_puds = true;
  tlb.freed_tables = true;
  tlb.tables.push(pa);
}

/** pud_free_tlb: a PUD table (512 GiB at `address`) was unlinked from the pgd. */
export function pud_free_tlb(tlb: MmuGather, pa: number, address: number): void {
  __tlb_adjust_range(tlb, address, PAGE_SIZE);
  tlb.cleared_p4ds = true;
  tlb.freed_tables = true;
  tlb.tables.push(pa);
}

/** tlb_get_unmap_size: the stride of the flush, the smallest level cleared. */
function tlb_get_unmap_size(tlb: MmuGather): number {
  if (tlb.cleared_ptes) return PAGE_SIZE;
  if (tlb.cleared_pmds) return PMD_SIZE;
  if (tlb.cleared_puds) return PUD_SIZE;
  if (tlb.cleared_p4ds) return PGDIR_SIZE;
  return PAGE_SIZE;
}

/**
 * arm64 tlb_flush: a full-mm teardown flushes the ASID only when tables were freed
 * (its ASID is not handed out again without a flush of everything); otherwise a range
 * flush of the cleared range, last-level only when no table was freed.
 */
function tlb_flush(tlb: MmuGather): void {
  if (tlb.fullmm) {
    if (tlb.freed_tables) flush_tlb_mm(tlb.mm);
    return;
  }
  __flush_tlb_range(tlb.mm, tlb.start, tlb.end, tlb_get_unmap_size(tlb), !tlb.freed_tables);
}

/** tlb_flush_mmu_tlbonly: flushes what was cleared since the last flush, frees nothing. */
export function tlb_flush_mmu_tlbonly(tlb: MmuGather): void {
  if (!(tlb.freed_tables || tlb.cleared_ptes || tlb.cleared_pmds || tlb.cleared_puds || tlb.cleared_p4ds)) return;
  tlb_flush(tlb);
  __tlb_reset_range(tlb);
}

/** tlb_end_vma: without MMU_GATHER_MERGE_VMAS (arm64) each VMA's range is flushed when its unmap ends. */
export function tlb_end_vma(tlb: MmuGather): void {
  if (tlb.fullmm) return;
  tlb_flush_mmu_tlbonly(tlb);
}

/** tlb_flush_mmu: flush, then free the gathered pages and table pages. */
export function tlb_flush_mmu(tlb: MmuGather): void {
  tlb_flush_mmu_tlbonly(tlb);
  const tables = tlb.tables;
  for (let i = 0; i < tables.length; i++) pgtable_page_free(tlb.mm, tables[i]!);
  tables.length = 0;
  const pages = tlb.pages;
  // free_pages_and_swap_cache
  for (let i = 0; i < pages.length; i++) {
    free_swap_cache(pages[i]!);
    put_page(pages[i]!);
  }
  pages.length = 0;
}

/** tlb_finish_mmu. */
export function tlb_finish_mmu(tlb: MmuGather): void {
  tlb_flush_mmu(tlb);
}
