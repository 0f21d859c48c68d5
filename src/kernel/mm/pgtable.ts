// arm64 page tables in guest RAM (arch/arm64/include/asm/pgtable-hwdef.h,
// pgtable-prot.h, pgtable.h): VMSAv8-64 stage 1, 4 KiB granule, 48-bit VA, four
// levels pgd (L0) / pud (L1) / pmd (L2) / pte (L3). Descriptors are 64-bit, read and
// written with one single-copy-atomic 64-bit access each (READ_ONCE/WRITE_ONCE of a
// pte_t), carried as two 32-bit halves (lo = bits 31:0, hi = 63:32) so no BigInt is
// made on the fault path: a walker on another core (or the SMMU) never sees a
// descriptor with one half old and one half new.

import { thisCpu, type ArchCpu } from '../../arch/index.js';
import { __GFP_ZERO, GFP_KERNEL } from './gfp.js';
import type { MmStruct } from './mm_types.js';
import { alloc_pages, mem_map, put_page } from './page_alloc.js';
import { PAGE_SIZE, PG_table } from './page.js';
import { mod_node_page_state, VM } from './vmstat.js';

const TWO32 = 4294967296;

// Descriptor bits, low word (Arm ARM D8.3).
export const PTE_VALID = 1 << 0;
/** Table descriptor at L0-L2; page descriptor at L3 (PTE_TYPE_PAGE = 3). */
export const PTE_TABLE_BIT = 1 << 1;
export const PTE_TYPE_PAGE = 3;
export const PMD_TYPE_TABLE = 3;
export const PTE_ATTRINDX_SHIFT = 2;
/** AP[1]: EL0 may access. */
export const PTE_USER = 1 << 6;
/** AP[2]: read-only. */
export const PTE_RDONLY = 1 << 7;
/** SH[1:0] = 0b11, Inner Shareable. */
export const PTE_SHARED = 3 << 8;
export const PTE_AF = 1 << 10;
export const PTE_NG = 1 << 11;
// High word (descriptor bit n is bit n-32 here).
/** DBM, bit 51: Linux's PTE_WRITE (writable, possibly clean). */
export const PTE_HI_WRITE = 1 << (51 - 32);
export const PTE_HI_PXN = 1 << (53 - 32);
export const PTE_HI_UXN = 1 << (54 - 32);
/** Software bits 55..58 (pgtable-prot.h): dirty, special, devmap, PROT_NONE. */
export const PTE_HI_DIRTY = 1 << (55 - 32);
export const PTE_HI_SPECIAL = 1 << (56 - 32);
export const PTE_HI_PROT_NONE = 1 << (58 - 32);
/** OA[47:32] in the high word. */
export const PTE_HI_OA_MASK = 0xffff;
/** OA[31:12] in the low word. */
export const PTE_LO_OA_MASK = 0xfffff000;

// Memory types: MAIR_EL1 attribute indexes as arm64 Linux lays them out (asm/memory.h).
export const MT_NORMAL = 0;
export const MT_NORMAL_TAGGED = 1;
export const MT_NORMAL_NC = 2;
export const MT_DEVICE_nGnRnE = 3;
export const MT_DEVICE_nGnRE = 4;
/** MAIR_EL1 (proc.S MAIR_EL1_SET): 0 Normal WB RA/WA (0xff), 1 tagged (0xf0), 2 Normal NC (0x44), 3 Device-nGnRnE (0x00), 4 Device-nGnRE (0x04). */
export const MAIR_EL1_SET = 0x04_00_44_f0_ffn;

/**
 * TCR_EL1 for the user half (proc.S __cpu_setup): T0SZ=16 (48-bit VA), 4K granule
 * (TG0=0), inner-shareable write-back walks (IRGN0=ORGN0=1, SH0=3), EPD1=1 (the
 * kernel uses physical accesses, no TTBR1 tables), TG1=4K, IPS=48 bits (0b101),
 * AS=1 (16-bit ASIDs), A1=0 (the ASID comes from TTBR0_EL1).
 */
export const TCR_EL1_SET =
  16n | (1n << 8n) | (1n << 10n) | (3n << 12n) | (0n << 14n) | (16n << 16n) | (1n << 23n) | (2n << 30n) | (5n << 32n) | (1n << 36n);

export const PTRS_PER_TABLE = 512;
export const PGDIR_SHIFT = 39;
export const PUD_SHIFT = 30;
export const PMD_SHIFT = 21;
export const PMD_SIZE = 1 << PMD_SHIFT;
export const PUD_SIZE = 2 ** PUD_SHIFT;
export const PGDIR_SIZE = 2 ** PGDIR_SHIFT;
export const TASK_SIZE = 2 ** 48;

// Exported constants are read from their module cell at each use and never folded, so a
// division by one is a real divide: the fault path multiplies by these exact reciprocals.
const PGDIR_RECIPROCAL = 2 ** -39;
const PUD_RECIPROCAL = 2 ** -30;
const PMD_RECIPROCAL = 2 ** -21;

export function pgd_index(va: number): number {
  return Math.floor(va * PGDIR_RECIPROCAL) & 511;
}
export function pud_index(va: number): number {
  return Math.floor(va * PUD_RECIPROCAL) & 511;
}
export function pmd_index(va: number): number {
  return (va >>> PMD_SHIFT) & 511; // bits 29:21 survive the 32-bit truncation of >>>
}
export function pte_index(va: number): number {
  return (va >>> 12) & 511;
}

/** High half of the last descriptor read by `pte_read` (lo is the return value). */
export let pte_hi = 0;

/** Reads the descriptor at `ptep` (one 64-bit load); returns the low word, leaves the high word in `pte_hi`. */
export function pte_read(cpu: ArchCpu, ptep: number): number {
  const lo = cpu.ldPhys64Pair(ptep);
  pte_hi = cpu.pairHi;
  return lo;
}

/** set_pte: writes a descriptor with one 64-bit store. */
export function set_pte(cpu: ArchCpu, ptep: number, lo: number, hi: number): void {
  cpu.stPhys64Pair(ptep, lo >>> 0, hi >>> 0);
}

/** pte_clear. */
export function pte_clear(cpu: ArchCpu, ptep: number): void {
  cpu.stPhys64Pair(ptep, 0, 0);
}

/** Output address (PA) of a valid descriptor. */
export function pte_pa(lo: number, hi: number): number {
  return (hi & PTE_HI_OA_MASK) * TWO32 + ((lo & PTE_LO_OA_MASK) >>> 0);
}

export function pte_pfn(lo: number, hi: number): number {
  return (hi & PTE_HI_OA_MASK) * (TWO32 / PAGE_SIZE) + ((lo & PTE_LO_OA_MASK) >>> 12);
}

/** Low and high words of a descriptor whose output address is `pa` (attributes not set). */
export function pa_lo(pa: number): number {
  return pa & PTE_LO_OA_MASK; // ToInt32 keeps bits 31:0 of any integer below 2^53 (and is no fmod)
}
export function pa_hi(pa: number): number {
  return Math.floor(pa / TWO32) & PTE_HI_OA_MASK;
}

/** pte_none: nothing there (not present, not swap, not PROT_NONE). */
export function pte_none(lo: number, hi: number): boolean {
  return lo === 0 && hi === 0;
}
/** pte_present: valid, or PROT_NONE (mapped but inaccessible). */
export function pte_present(lo: number, hi: number): boolean {
  return (lo & PTE_VALID) !== 0 || (hi & PTE_HI_PROT_NONE) !== 0;
}
export function pte_write(lo: number, hi: number): boolean {
  return (hi & PTE_HI_WRITE) !== 0 && (lo & PTE_RDONLY) === 0;
}
export function pte_dirty(hi: number): boolean {
  return (hi & PTE_HI_DIRTY) !== 0;
}
export function pte_special(hi: number): boolean {
  return (hi & PTE_HI_SPECIAL) !== 0;
}

// Swap entries in non-present PTEs (pgtable.h __SWP_TYPE_SHIFT=3, __SWP_OFFSET_SHIFT=8):
// bit 0 clear, type in bits 7:3, offset in bits 57:8.
export const SWP_TYPE_SHIFT = 3;
export const SWP_OFFSET_SHIFT = 8;

export function is_swap_pte(lo: number, hi: number): boolean {
  return !pte_none(lo, hi) && !pte_present(lo, hi);
}
/** Swap offset of a swap PTE (type 0 only: one swap area). */
export function pte_swp_offset(lo: number, hi: number): number {
  return (hi & 0x3ffffff) * (TWO32 / 256) + (lo >>> SWP_OFFSET_SHIFT);
}
/** Encodes a swap PTE for `offset` of swap type `type`; low word in the return, high word in `swp_hi`. */
export let swp_hi = 0;
export function swp_entry_to_pte(type: number, offset: number): number {
  swp_hi = Math.floor(offset / (TWO32 / 256)) & 0x3ffffff;
  return (((offset % (TWO32 / 256)) << SWP_OFFSET_SHIFT) | ((type & 31) << SWP_TYPE_SHIFT)) >>> 0;
}

/**
 * Protection bits of a user mapping (protection_map / vm_get_page_prot): low and high
 * words without the output address. Writable private mappings start read-only until
 * a write fault makes them writable (and dirty); shared writable ones too (dirty
 * tracking without hardware DBM).
 */
export function user_pte_prot(writable: boolean, exec: boolean, device: boolean): { lo: number; hi: number } {
  const attr = device ? MT_DEVICE_nGnRE : MT_NORMAL;
  const lo = PTE_TYPE_PAGE | (attr << PTE_ATTRINDX_SHIFT) | PTE_USER | PTE_SHARED | PTE_AF | PTE_NG | (writable ? 0 : PTE_RDONLY);
  let hi = PTE_HI_PXN | (exec && !device ? 0 : PTE_HI_UXN);
  if (writable) hi |= PTE_HI_WRITE | PTE_HI_DIRTY;
  return { lo, hi };
}

// ---- page-table pages ----

/** Allocates a zeroed page-table page (pte_alloc_one / __pud_alloc ...). Returns its PA or -1. */
export function pgtable_page_alloc(mm: MmStruct | null): number {
  const pfn = alloc_pages(0, GFP_KERNEL | __GFP_ZERO);
  if (pfn < 0) return -1;
  mem_map().setFlags(pfn, PG_table);
  mod_node_page_state(VM.nr_page_table_pages, 1);
  if (mm !== null) mm.pgtables_bytes += PAGE_SIZE;
  return pfn * PAGE_SIZE;
}

export function pgtable_page_free(mm: MmStruct | null, pa: number): void {
  pte_table_cache_mm = null; // the cached table may be this one
  const pfn = pa / PAGE_SIZE;
  mem_map().clearFlags(pfn, PG_table);
  mod_node_page_state(VM.nr_page_table_pages, -1);
  if (mm !== null) mm.pgtables_bytes -= PAGE_SIZE;
  put_page(pfn);
}

/** The next-level table of a table descriptor at `entryPa`, or -1 when none (pXd_none_or_clear_bad). */
export function next_table(cpu: ArchCpu, entryPa: number): number {
  const lo = cpu.ldPhys64Pair(entryPa);
  if ((lo & 3) !== PMD_TYPE_TABLE) return -1;
  return pte_pa(lo, cpu.pairHi);
}

/** Next-level table, allocating it when missing; -1 when out of memory. */
function next_table_alloc(cpu: ArchCpu, mm: MmStruct, entryPa: number): number {
  const t = next_table(cpu, entryPa);
  if (t >= 0) return t;
  const pa = pgtable_page_alloc(mm);
  if (pa < 0) return -1;
  set_pte(cpu, entryPa, pa_lo(pa) | PMD_TYPE_TABLE, pa_hi(pa));
  return pa;
}

// A one-entry cache of the last PTE table found (mm, 2 MiB index) -> table PA, so
// consecutive faults in one region skip the upper-level reads. Dropped whenever a
// table page is freed.
let pte_table_cache_mm: MmStruct | null = null;
let pte_table_cache_idx = -1;
let pte_table_cache_pa = -1;

/** Forgets the cached PTE table (its PMD entry is being cleared). */
export function pte_table_cache_drop(): void {
  pte_table_cache_mm = null;
}

/**
 * pte_offset_map of an existing walk: the PA of the L3 entry for `va`, or -1 when an
 * intermediate table is missing. Never allocates.
 */
export function pte_lookup(cpu: ArchCpu, mm: MmStruct, va: number): number {
  const idx = Math.floor(va * PMD_RECIPROCAL);
  if (mm === pte_table_cache_mm && idx === pte_table_cache_idx) return pte_table_cache_pa + pte_index(va) * 8;
  let t = next_table(cpu, mm.pgd + pgd_index(va) * 8);
  if (t < 0) return -1;
  t = next_table(cpu, t + pud_index(va) * 8);
  if (t < 0) return -1;
  t = next_table(cpu, t + pmd_index(va) * 8);
  if (t < 0) return -1;
  pte_table_cache_mm = mm;
  pte_table_cache_idx = idx;
  pte_table_cache_pa = t;
  return t + pte_index(va) * 8;
}

/** pte_alloc_map: the PA of the L3 entry for `va`, allocating tables; -1 when out of memory. */
export function pte_alloc(cpu: ArchCpu, mm: MmStruct, va: number): number {
  const idx = Math.floor(va * PMD_RECIPROCAL);
  if (mm === pte_table_cache_mm && idx === pte_table_cache_idx) return pte_table_cache_pa + pte_index(va) * 8;
  let t = next_table_alloc(cpu, mm, mm.pgd + pgd_index(va) * 8);
  if (t < 0) return -1;
  t = next_table_alloc(cpu, mm, t + pud_index(va) * 8);
  if (t < 0) return -1;
  t = next_table_alloc(cpu, mm, t + pmd_index(va) * 8);
  if (t < 0) return -1;
  pte_table_cache_mm = mm;
  pte_table_cache_idx = idx;
  pte_table_cache_pa = t;
  return t + pte_index(va) * 8;
}

/**
 * Visits every non-empty L3 entry in [start, end) (the walk_page_range shape):
 * `fn(ptep, va, lo, hi)`. Skips missing tables a whole table span at a time.
 */
export function walk_pte_range(mm: MmStruct, start: number, end: number, fn: (ptep: number, va: number, lo: number, hi: number) => void): void {
  const cpu = thisCpu();
  let va = start;
  while (va < end) {
    const pud = next_table(cpu, mm.pgd + pgd_index(va) * 8);
    if (pud < 0) {
      va = (Math.floor(va / PGDIR_SIZE) + 1) * PGDIR_SIZE;
      continue;
    }
    const pmd = next_table(cpu, pud + pud_index(va) * 8);
    if (pmd < 0) {
      va = (Math.floor(va / PUD_SIZE) + 1) * PUD_SIZE;
      continue;
    }
    const pte = next_table(cpu, pmd + pmd_index(va) * 8);
    const pmdEnd = Math.min(end, (Math.floor(va / PMD_SIZE) + 1) * PMD_SIZE);
    if (pte < 0) {
      va = pmdEnd;
      continue;
    }
    for (; va < pmdEnd; va += PAGE_SIZE) {
      const ptep = pte + pte_index(va) * 8;
      const lo = pte_read(cpu, ptep);
      const hi = pte_hi;
      if (lo !== 0 || hi !== 0) fn(ptep, va, lo, hi);
    }
  }
}
