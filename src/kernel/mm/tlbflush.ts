// TLB maintenance for user mappings (arch/arm64/include/asm/tlbflush.h). Every flush
// is Inner Shareable (broadcast to all cores), bracketed by DSB ISH, and followed by
// the MMU-notifier secondary-TLB hook, as __flush_tlb_range does.

import { thisCpu } from '../../arch/index.js';
import { ASID } from './context.js';
import type { MmStruct, VmAreaStruct } from './mm_types.js';
import { mmu_notifier_arch_invalidate_secondary_tlbs, ULONG_MAX } from './mmu_notifier.js';
import { PAGE_SIZE } from './page.js';

/** MAX_DVM_OPS / MAX_TLBI_OPS: beyond this many pages a range flush becomes an ASID flush. */
export const MAX_TLBI_OPS = 512;

/** __TLBI_RANGE_PAGES(31, 3): the most a range TLBI sequence covers. */
export const MAX_TLBI_RANGE_PAGES = 32 << 16;

/** Whether range TLBI (FEAT_TLBIRANGE, RVAE1IS) is used; the CPU contract offers it. */
let tlbi_range = true;
export function set_tlbi_range(on: boolean): void {
  tlbi_range = on;
}

function asid_arg(mm: MmStruct): bigint {
  return BigInt(ASID(mm)) << 48n;
}

/** flush_tlb_all: TLBI VMALLE1IS. */
export function flush_tlb_all(): void {
  const cpu = thisCpu();
  cpu.dsb();
  cpu.tlbi('VMALLE1IS');
  cpu.dsb();
  cpu.isb();
}

/** flush_tlb_mm: TLBI ASIDE1IS for the mm's ASID; secondary TLBs drop everything (0, -1UL). */
export function flush_tlb_mm(mm: MmStruct): void {
  if (mm.context_id !== 0) {
    const cpu = thisCpu();
    cpu.dsb();
    cpu.tlbi('ASIDE1IS', asid_arg(mm));
    cpu.dsb();
  }
  mmu_notifier_arch_invalidate_secondary_tlbs(mm, 0, ULONG_MAX);
}

/** flush_tlb_page: TLBI VALE1IS, ASID | VA[55:12]. */
export function flush_tlb_page(vma: VmAreaStruct, uaddr: number): void {
  flush_tlb_page_mm(vma.vm_mm, uaddr);
}

/** One leaf entry changed, so arm64 uses the last-level form (walk caches may stay). */
export function flush_tlb_page_mm(mm: MmStruct, uaddr: number): void {
  if (mm.context_id !== 0) {
    const cpu = thisCpu();
    cpu.dsb();
    cpu.tlbi('VALE1IS', asid_arg(mm) | BigInt(Math.floor(uaddr / PAGE_SIZE)));
    cpu.dsb();
  }
  mmu_notifier_arch_invalidate_secondary_tlbs(mm, uaddr, uaddr + PAGE_SIZE);
}

/**
 * flush_tlb_range: a range flush that also reaches walk caches (arm64 never uses the
 * last-level form here: the range may cover table entries being changed).
 */
export function flush_tlb_range(vma: VmAreaStruct, start: number, end: number): void {
  __flush_tlb_range(vma.vm_mm, start, end, PAGE_SIZE, false);
}

export function flush_tlb_range_mm(mm: MmStruct, start: number, end: number): void {
  __flush_tlb_range(mm, start, end, PAGE_SIZE, false);
}

/**
 * __flush_tlb_range (__flush_tlb_range_op): [start, end) rounded out to `stride` (the
 * smallest level the caller cleared); per-stride TLBIs for odd pages, then range TLBIs
 * of (NUM+1) << (5*SCALE+1) pages with increasing SCALE. `last_level` uses VALE1IS /
 * RVALE1IS, which leave walk caches alone (only when no table entry changed). Beyond
 * MAX_TLBI_OPS strides (no range TLBI) or MAX_TLBI_RANGE_PAGES the whole ASID goes.
 */
export function __flush_tlb_range(mm: MmStruct, start: number, end: number, stride: number, last_level: boolean): void {
  start = Math.floor(start / stride) * stride;
  end = Math.ceil(end / stride) * stride;
  let pages = (end - start) / PAGE_SIZE;
  if (pages <= 0) return;
  if ((!tlbi_range && end - start >= MAX_TLBI_OPS * stride) || pages > MAX_TLBI_RANGE_PAGES) {
    flush_tlb_mm(mm);
    return;
  }
  if (mm.context_id !== 0) {
    const cpu = thisCpu();
    const asid = asid_arg(mm);
    const op = last_level ? 'VALE1IS' : 'VAE1IS';
    const rop = last_level ? 'RVALE1IS' : 'RVAE1IS';
    const stridePages = stride / PAGE_SIZE;
    cpu.dsb();
    let addr = start;
    let scale = 0;
    while (pages > 0) {
      if (!tlbi_range || pages % 2 === 1) {
        cpu.tlbi(op, asid | BigInt(addr / PAGE_SIZE));
        addr += stride;
        pages -= stridePages;
        continue;
      }
      // __TLBI_RANGE_NUM: this SCALE's 5-bit digit of the page count, minus one.
      const num = (Math.floor(pages / 2 ** (5 * scale + 1)) & 31) - 1;
      if (num >= 0) {
        const arg = asid | (1n << 46n) | (BigInt(scale) << 44n) | (BigInt(num) << 39n) | BigInt(addr / PAGE_SIZE);
        cpu.tlbi(rop, arg);
        const n = (num + 1) * 2 ** (5 * scale + 1);
        addr += n * PAGE_SIZE;
        pages -= n;
      }
      scale++;
    }
    cpu.dsb();
  }
  mmu_notifier_arch_invalidate_secondary_tlbs(mm, start, end);
}
