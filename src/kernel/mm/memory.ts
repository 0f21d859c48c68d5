// The core of demand paging (mm/memory.c): handle_mm_fault and its cases
// (do_anonymous_page, do_fault / do_cow_fault / do_shared_fault, do_wp_page,
// do_swap_page), zapping PTEs (zap_page_range / unmap_vmas) and freeing page tables
// (free_pgd_range), copying them at fork (copy_page_range), and the driver entry
// points vm_insert_pfn / remap_pfn_range. Pages and table pages are freed only after
// the TLB flush of the entries that mapped them (mmu_gather.ts), so no core or SMMU
// can reach a page that was handed out again.

import { thisCpu, type ArchCpu } from '../../arch/index.js';
import { EINVAL, ENOMEM } from '../lib/errno.js';
import { __GFP_ZERO, GFP_HIGHUSER_MOVABLE, GFP_KERNEL } from './gfp.js';
import {
  add_mm_counter,
  FAULT_FLAG_INSTRUCTION,
  FAULT_FLAG_WRITE,
  MM_ANONPAGES,
  MM_FILEPAGES,
  MM_SHMEMPAGES,
  MM_SWAPENTS,
  type MmStruct,
  type MmuNotifierEvent,
  MMU_NOTIFY_CLEAR,
  MMU_NOTIFY_PROTECTION_PAGE,
  MMU_NOTIFY_UNMAP,
  VM_ACCESS_FLAGS,
  VM_DONTDUMP,
  VM_DONTEXPAND,
  VM_EXEC,
  VM_FAULT_MAJOR,
  VM_FAULT_NOPAGE,
  VM_FAULT_OOM,
  VM_FAULT_SIGBUS,
  VM_FAULT_SIGSEGV,
  VM_IO,
  VM_LOCKED,
  VM_MAYWRITE,
  VM_MIXEDMAP,
  VM_PFNMAP,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  VmAreaStruct,
  VmFault,
} from './mm_types.js';
import {
  type MmuGather,
  pmd_free_tlb,
  pte_free_tlb,
  pud_free_tlb,
  tlb_end_vma,
  tlb_finish_mmu,
  tlb_gather_mmu,
  tlb_remove_page,
  tlb_remove_tlb_entry,
} from './mmu_gather.js';
import { notify_end, notify_start } from './mmu_notifier.js';
import { alloc_pages, get_page, mem_map, put_page } from './page_alloc.js';
import { PAGE_MASK, PAGE_SIZE, PG_anon, PG_dirty, PG_mlocked, PG_referenced, PG_reserved, PG_swapbacked, PG_zero_page, GUP_PIN_COUNTING_BIAS } from './page.js';
import {
  is_swap_pte,
  MT_DEVICE_nGnRE,
  MT_NORMAL,
  MT_NORMAL_NC,
  next_table,
  pa_hi,
  pgd_index,
  PGDIR_SIZE,
  pmd_index,
  PMD_SIZE,
  pud_index,
  PUD_SIZE,
  pa_lo,
  pte_alloc,
  pte_clear,
  pte_hi,
  pte_lookup,
  pte_none,
  pte_pfn,
  pte_present,
  pte_read,
  pte_swp_offset,
  pte_table_cache_drop,
  PTE_AF,
  PTE_ATTRINDX_SHIFT,
  PTE_HI_DIRTY,
  PTE_HI_PROT_NONE,
  PTE_HI_PXN,
  PTE_HI_SPECIAL,
  PTE_HI_UXN,
  PTE_HI_WRITE,
  PTE_NG,
  PTE_RDONLY,
  PTE_SHARED,
  PTE_TYPE_PAGE,
  PTE_USER,
  PTE_VALID,
  set_pte,
  walk_pte_range,
} from './pgtable.js';
import { page_add_file_rmap, page_add_new_anon_rmap, page_add_rmap, page_remove_rmap } from './rmap.js';
import { lru_cache_add } from './swap.js';
import { do_swap_page, swap_duplicate, swap_free } from './swapfile.js';
import { flush_tlb_page_mm, flush_tlb_range_mm } from './tlbflush.js';
import { count_vm_event, VM } from './vmstat.js';
import { find_vma } from './mmap.js';
import { mlock_new_page, munlock_mapped_page } from './mlock.js';

/** The shared zero page (ZERO_PAGE): read faults on anonymous memory map it read-only. */
let zero_pfn = -1;

export function zero_page_pfn(): number {
  return zero_pfn;
}

/** Allocates the zero page (paging_init). */
export function zero_page_init(): void {
  const pfn = alloc_pages(0, GFP_KERNEL | __GFP_ZERO);
  if (pfn < 0) throw new Error('mm: no memory for the zero page');
  mem_map().setFlags(pfn, PG_reserved | PG_zero_page);
  zero_pfn = pfn;
}

export function is_zero_pfn(pfn: number): boolean {
  return pfn === zero_pfn;
}

// ---- PTE construction (mk_pte with vma->vm_page_prot) ----

/** Low/high words produced by mk_pte. */
let mk_lo = 0;
let mk_hi = 0;

/** mk_pte: a descriptor mapping `pfn` with the VMA's protection; `write` makes it writable and dirty. */
function mk_pte(pfn: number, vma: VmAreaStruct, write: boolean, special: boolean): void {
  const pa = pfn * PAGE_SIZE;
  const attr = vma.vm_page_prot;
  const flags = vma.vm_flags;
  let lo = pa_lo(pa) | PTE_TYPE_PAGE | (attr << PTE_ATTRINDX_SHIFT) | PTE_USER | PTE_AF | PTE_NG;
  if (attr === MT_NORMAL || attr === MT_NORMAL_NC) lo |= PTE_SHARED;
  let hi = pa_hi(pa) | PTE_HI_PXN;
  if (!(flags & VM_EXEC) || attr === MT_DEVICE_nGnRE) hi |= PTE_HI_UXN;
  if (write) hi |= PTE_HI_WRITE | PTE_HI_DIRTY;
  else lo |= PTE_RDONLY;
  if (special) hi |= PTE_HI_SPECIAL;
  if (!(flags & VM_ACCESS_FLAGS)) {
    // PROT_NONE: the page stays mapped for the kernel's bookkeeping, invisible to the MMU.
    lo &= ~PTE_VALID;
    hi |= PTE_HI_PROT_NONE;
  }
  mk_lo = lo >>> 0;
  mk_hi = hi >>> 0;
}

/** pte_modify for mprotect: same page, the VMA's new protection, writable only if it was and still may be. */
export function pte_modify(lo: number, hi: number, vma: VmAreaStruct): void {
  const pfn = pte_pfn(lo, hi);
  const wasWrite = (hi & PTE_HI_WRITE) !== 0 && (lo & PTE_RDONLY) === 0;
  mk_pte(pfn, vma, wasWrite && (vma.vm_flags & VM_WRITE) !== 0, (hi & PTE_HI_SPECIAL) !== 0);
  if (hi & PTE_HI_DIRTY) mk_hi |= PTE_HI_DIRTY;
}

export function mk_pte_lo(): number {
  return mk_lo;
}
export function mk_pte_hi(): number {
  return mk_hi;
}

/** Builds the descriptor for `pfn` in `vma` (mk_pte); read back with mk_pte_lo/mk_pte_hi. */
export function make_pte(pfn: number, vma: VmAreaStruct, write: boolean, special = false): void {
  mk_pte(pfn, vma, write, special);
}

// ---- page copy ----

const copyBuf = new Uint8Array(PAGE_SIZE);

/** copy_user_highpage. */
export function copy_page(cpu: ArchCpu, dstPfn: number, srcPfn: number): void {
  cpu.readPhys(srcPfn * PAGE_SIZE, copyBuf, 0, PAGE_SIZE);
  cpu.writePhys(dstPfn * PAGE_SIZE, copyBuf, 0, PAGE_SIZE);
}

function rss_member(pfn: number): number {
  const f = mem_map().flags(pfn);
  return f & PG_anon ? MM_ANONPAGES : f & PG_swapbacked ? MM_SHMEMPAGES : MM_FILEPAGES;
}

/** Whether a VMA allows the access described by fault flags (arch/arm64/mm/fault.c access_error). */
export function access_error(vma: VmAreaStruct, flags: number): boolean {
  if (flags & FAULT_FLAG_WRITE) return (vma.vm_flags & VM_WRITE) === 0;
  if (flags & FAULT_FLAG_INSTRUCTION) return (vma.vm_flags & VM_EXEC) === 0;
  return (vma.vm_flags & (VM_READ | VM_WRITE | VM_EXEC)) === 0;
}

/**
 * handle_mm_fault(mm, address, flags) as the arch fault handler and the IOPF path
 * call it: finds the VMA, checks the access against its flags, and resolves the
 * fault. Returns VM_FAULT_* bits (0 = resolved, retry the access).
 */
export function handle_mm_fault(mm: MmStruct, address: number, flags: number): number {
  if (mm.dead || !(address >= 0 && address < mm.task_size)) return VM_FAULT_SIGSEGV;
  const vma = find_vma(mm, address);
  if (vma === null || vma.vm_start > address) return VM_FAULT_SIGSEGV;
  if (access_error(vma, flags)) return VM_FAULT_SIGSEGV;
  return handle_vma_fault(vma, address, flags);
}

/**
 * __handle_mm_fault on a VMA already checked by the caller (gup with FOLL_FORCE may
 * write through a read-only private mapping: the COW copy is then mapped read-only).
 */
export function handle_vma_fault(vma: VmAreaStruct, address: number, flags: number): number {
  const cpu = thisCpu();
  const mm = vma.vm_mm;
  count_vm_event(VM.pgfault);
  cpu.charge(cpu.cost['pageFaultNs'] ?? 0);
  const addr = address - (address & PAGE_MASK); // not %: a remainder of a double above 2^31 is a slow fmod
  const ptep = pte_alloc(cpu, mm, addr);
  if (ptep < 0) return VM_FAULT_OOM;
  const lo = pte_read(cpu, ptep);
  const hi = pte_hi;
  const write = (flags & FAULT_FLAG_WRITE) !== 0;
  if (pte_none(lo, hi)) {
    if (vma.vm_ops?.fault) return do_fault(cpu, vma, addr, ptep, flags);
    if (vma.vm_flags & (VM_PFNMAP | VM_MIXEDMAP)) return VM_FAULT_SIGBUS;
    return do_anonymous_page(cpu, vma, addr, ptep, write);
  }
  if (is_swap_pte(lo, hi)) return do_swap_page(cpu, vma, addr, ptep, lo, hi, flags);
  if (!(lo & PTE_VALID)) return VM_FAULT_SIGSEGV; // PROT_NONE mapping
  if (write && (lo & PTE_RDONLY)) return do_wp_page(cpu, vma, addr, ptep, lo, hi, flags);
  // Spurious: the PTE already allows the access (a stale TLB entry on this core).
  const pfn = pte_pfn(lo, hi);
  if (!(hi & PTE_HI_SPECIAL)) mem_map().setFlags(pfn, PG_referenced);
  return 0;
}

/** do_anonymous_page: zero page for reads, a new zeroed page for writes. */
function do_anonymous_page(cpu: ArchCpu, vma: VmAreaStruct, addr: number, ptep: number, write: boolean): number {
  if (!write && !(vma.vm_flags & VM_LOCKED)) {
    mk_pte(zero_pfn, vma, false, true);
    set_pte(cpu, ptep, mk_lo, mk_hi);
    return 0;
  }
  const pfn = alloc_pages(0, GFP_HIGHUSER_MOVABLE | __GFP_ZERO);
  if (pfn < 0) return VM_FAULT_OOM;
  page_add_new_anon_rmap(pfn, vma, addr);
  vma.vm_mm.rss_stat[MM_ANONPAGES]! += 1;
  mk_pte(pfn, vma, (vma.vm_flags & VM_WRITE) !== 0, false);
  if (vma.vm_flags & VM_LOCKED) mlock_new_page(pfn);
  lru_cache_add(pfn);
  set_pte(cpu, ptep, mk_lo, mk_hi);
  return 0;
}

/** do_fault: pages from vm_ops->fault (files, shmem, drivers); private write faults copy (do_cow_fault). */
function do_fault(cpu: ArchCpu, vma: VmAreaStruct, addr: number, ptep: number, flags: number): number {
  const pgoff = (addr - vma.vm_start) / PAGE_SIZE + vma.vm_pgoff;
  const vmf = new VmFault(vma, addr, pgoff, flags);
  const r = vma.vm_ops!.fault!(vmf);
  if (r & (VM_FAULT_OOM | VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV)) return r;
  if (r & VM_FAULT_NOPAGE || vmf.page < 0) return r & ~VM_FAULT_NOPAGE; // the handler installed the PTE itself
  const page = vmf.page;
  const write = (flags & FAULT_FLAG_WRITE) !== 0;
  const mm = vma.vm_mm;
  if (write && !(vma.vm_flags & VM_SHARED)) {
    // do_cow_fault: a private copy of the file page.
    const npfn = alloc_pages(0, GFP_HIGHUSER_MOVABLE);
    if (npfn < 0) {
      put_page(page);
      return VM_FAULT_OOM;
    }
    copy_page(cpu, npfn, page);
    put_page(page);
    page_add_new_anon_rmap(npfn, vma, addr);
    add_mm_counter(mm, MM_ANONPAGES, 1);
    mk_pte(npfn, vma, (vma.vm_flags & VM_WRITE) !== 0, false);
    if (vma.vm_flags & VM_LOCKED) mlock_new_page(npfn);
    lru_cache_add(npfn);
    set_pte(cpu, ptep, mk_lo, mk_hi);
    return r & VM_FAULT_MAJOR;
  }
  // Map the file page itself (the fault's reference becomes the mapping's).
  if (vma.file_rmap !== null) page_add_file_rmap(page, vma.file_rmap, pgoff);
  else page_add_rmap(page);
  add_mm_counter(mm, rss_member(page), 1);
  const writable = write && (vma.vm_flags & VM_SHARED) !== 0 && (vma.vm_flags & VM_WRITE) !== 0;
  if (writable) {
    if (vma.vm_ops?.page_mkwrite) vma.vm_ops.page_mkwrite(vmf);
    mem_map().setFlags(page, PG_dirty);
  }
  mk_pte(page, vma, writable, false);
  if (vma.vm_flags & VM_LOCKED) mlock_new_page(page);
  set_pte(cpu, ptep, mk_lo, mk_hi);
  return r & VM_FAULT_MAJOR;
}

/**
 * do_wp_page: a write to a read-only present PTE. Shared mappings become writable
 * (wp_page_shared); a private page only this PTE maps is reused (wp_page_reuse);
 * otherwise the page is copied (wp_page_copy), including the zero page.
 */
function do_wp_page(cpu: ArchCpu, vma: VmAreaStruct, addr: number, ptep: number, lo: number, hi: number, flags: number): number {
  const map = mem_map();
  const mm = vma.vm_mm;
  const pfn = pte_pfn(lo, hi);
  const special = (hi & PTE_HI_SPECIAL) !== 0;
  const mayWrite = (vma.vm_flags & VM_WRITE) !== 0;
  if (special && !is_zero_pfn(pfn)) return VM_FAULT_SIGBUS; // a PFN map mapped read-only
  if (vma.vm_flags & VM_SHARED && !special) {
    if (!mayWrite) return VM_FAULT_SIGSEGV;
    if (vma.vm_ops?.page_mkwrite) vma.vm_ops.page_mkwrite(new VmFault(vma, addr, linear_index(vma, addr), flags));
    map.setFlags(pfn, PG_dirty);
    mk_pte(pfn, vma, true, false);
    set_pte(cpu, ptep, mk_lo, mk_hi);
    flush_page(mm, addr);
    return 0;
  }
  if (!special && map.testFlags(pfn, PG_anon) && map.mapcount(pfn) === 1 && !swapcache_shared(pfn)) {
    // wp_page_reuse: exclusive anonymous page (pins do not map it, so a pinned page stays in place).
    mk_pte(pfn, vma, mayWrite, false);
    set_pte(cpu, ptep, mk_lo, mk_hi);
    flush_page(mm, addr);
    return 0;
  }
  // wp_page_copy. The old page is held across the allocation, which may reclaim,
  // compact or run the OOM killer and its reaper; if the PTE is then no longer the one
  // the fault started from (swapped out, zapped, replaced), the new page goes and the
  // access retries (the pte_same recheck).
  if (!special) get_page(pfn);
  const npfn = alloc_pages(0, GFP_HIGHUSER_MOVABLE | (special ? __GFP_ZERO : 0));
  if (npfn < 0) {
    if (!special) put_page(pfn);
    return VM_FAULT_OOM;
  }
  if (pte_read(cpu, ptep) !== lo || pte_hi !== hi) {
    put_page(npfn);
    if (!special) put_page(pfn);
    return 0;
  }
  if (!special) {
    copy_page(cpu, npfn, pfn);
    put_page(pfn); // the PTE still maps it: its own reference keeps it
  }
  const range = notify_start(MMU_NOTIFY_CLEAR, mm, addr, addr + PAGE_SIZE);
  pte_clear(cpu, ptep);
  flush_page(mm, addr);
  page_add_new_anon_rmap(npfn, vma, addr);
  mk_pte(npfn, vma, mayWrite, false);
  if (vma.vm_flags & VM_LOCKED) mlock_new_page(npfn);
  lru_cache_add(npfn);
  set_pte(cpu, ptep, mk_lo, mk_hi);
  if (special) {
    add_mm_counter(mm, MM_ANONPAGES, 1);
  } else {
    if (!map.testFlags(pfn, PG_anon)) {
      add_mm_counter(mm, rss_member(pfn), -1);
      add_mm_counter(mm, MM_ANONPAGES, 1);
    }
    if (vma.vm_flags & VM_LOCKED) munlock_mapped_page(pfn, vma);
    page_remove_rmap(pfn);
    put_page(pfn);
  }
  notify_end(range);
  return 0;
}

function linear_index(vma: VmAreaStruct, addr: number): number {
  return (addr - vma.vm_start) / PAGE_SIZE + vma.vm_pgoff;
}

/** A page in the swap cache whose slot other PTEs still reference is not exclusive. */
let swapcache_shared: (pfn: number) => boolean = () => false;
export function set_swapcache_shared_check(fn: (pfn: number) => boolean): void {
  swapcache_shared = fn;
}

function flush_page(mm: MmStruct, addr: number): void {
  flush_tlb_page_mm(mm, addr);
}

// ---- unmapping (zap_pte_range, unmap_vmas, free_pgtables) ----

/**
 * zap_pte_range over [start, end) of `vma`: clears every PTE. Present ones widen the
 * gather's flush range and lose their rmap and rss at once, their page reference
 * after the flush; swap entries free their slot (nothing to flush).
 */
function unmap_page_range(tlb: MmuGather, vma: VmAreaStruct, start: number, end: number): void {
  const mm = vma.vm_mm;
  const cpu = thisCpu();
  const map = mem_map();
  walk_pte_range(mm, start, end, (ptep, va, lo, hi) => {
    pte_clear(cpu, ptep);
    if (is_swap_pte(lo, hi)) {
      swap_free(pte_swp_offset(lo, hi));
      add_mm_counter(mm, MM_SWAPENTS, -1);
      return;
    }
    tlb_remove_tlb_entry(tlb, va);
    if (hi & PTE_HI_SPECIAL) return;
    const pfn = pte_pfn(lo, hi);
    if (hi & PTE_HI_DIRTY && !map.testFlags(pfn, PG_anon)) map.setFlags(pfn, PG_dirty);
    add_mm_counter(mm, rss_member(pfn), -1);
    page_remove_rmap(pfn);
    if (map.testFlags(pfn, PG_mlocked)) munlock_mapped_page(pfn, vma);
    tlb_remove_page(tlb, pfn);
  });
}

/** unmap_single_vma: the part of [start, end) inside `vma`, flushed when the VMA is done (tlb_end_vma). */
function unmap_single_vma(tlb: MmuGather, vma: VmAreaStruct, start: number, end: number): void {
  const s = Math.max(start, vma.vm_start);
  const e = Math.min(end, vma.vm_end);
  if (s >= e) return;
  unmap_page_range(tlb, vma, s, e);
  tlb_end_vma(tlb);
}

/**
 * unmap_vmas: clears the PTEs of `vmas` in [start, end) inside one MMU_NOTIFY_UNMAP
 * range. Pages are freed by tlb_finish_mmu, after the flush.
 */
export function unmap_vmas(tlb: MmuGather, vmas: readonly VmAreaStruct[], start: number, end: number): void {
  if (vmas.length === 0) return;
  const range = notify_start(MMU_NOTIFY_UNMAP, tlb.mm, start, end);
  for (let i = 0; i < vmas.length; i++) unmap_single_vma(tlb, vmas[i]!, start, end);
  notify_end(range);
}

/**
 * zap_page_range_single for [start, end) of `vma` (MADV_DONTNEED, truncation): clears
 * every PTE, drops rmap, rss and page references (after the TLB flush), frees swap
 * slots, and tells MMU notifiers with `event`.
 */
export function zap_page_range(vma: VmAreaStruct, start: number, end: number, event: MmuNotifierEvent): void {
  const tlb = tlb_gather_mmu(vma.vm_mm);
  const range = notify_start(event, vma.vm_mm, start, end);
  unmap_single_vma(tlb, vma, start, end);
  notify_end(range);
  tlb_finish_mmu(tlb);
}

/**
 * free_pgd_range: unlinks the table pages that only map [addr, end) and whose whole
 * span lies in [floor, ceiling) (the gap between the surviving neighbours, so no other
 * VMA uses them) into `tlb`, which frees them after its flush. PTE tables go by 2 MiB,
 * PMD tables by 1 GiB, PUD tables by 512 GiB; the pgd stays. Their entries must be
 * cleared already (the VMAs are unmapped). `ceiling` is TASK_SIZE for "no VMA above".
 */
export function free_pgd_range(tlb: MmuGather, addr: number, end: number, floor: number, ceiling: number): void {
  addr = Math.floor(addr / PMD_SIZE) * PMD_SIZE;
  if (addr < floor) addr += PMD_SIZE;
  ceiling = Math.floor(ceiling / PMD_SIZE) * PMD_SIZE;
  if (end > ceiling) end -= PMD_SIZE;
  if (addr >= end) return;
  const cpu = thisCpu();
  const pgd = tlb.mm.pgd;
  while (addr < end) {
    const next = Math.min((Math.floor(addr / PGDIR_SIZE) + 1) * PGDIR_SIZE, end);
    const pgdp = pgd + pgd_index(addr) * 8;
    const pud = next_table(cpu, pgdp);
    if (pud >= 0) free_pud_range(cpu, tlb, pgdp, pud, addr, next, floor, ceiling);
    addr = next;
  }
}

/** free_pud_range (P4D folded): the PMD tables under `pud`, then the PUD table if its 512 GiB are free. */
function free_pud_range(cpu: ArchCpu, tlb: MmuGather, pgdp: number, pud: number, addr: number, end: number, floor: number, ceiling: number): void {
  const start = addr;
  while (addr < end) {
    const next = Math.min((Math.floor(addr / PUD_SIZE) + 1) * PUD_SIZE, end);
    const pudp = pud + pud_index(addr) * 8;
    const pmd = next_table(cpu, pudp);
    if (pmd >= 0) free_pmd_range(cpu, tlb, pudp, pmd, addr, next, floor, ceiling);
    addr = next;
  }
  const base = Math.floor(start / PGDIR_SIZE) * PGDIR_SIZE;
  if (base < floor || end > Math.floor(ceiling / PGDIR_SIZE) * PGDIR_SIZE) return;
  pte_clear(cpu, pgdp);
  pud_free_tlb(tlb, pud, base);
}

/** free_pmd_range: the PTE tables under `pmd` in [addr, end), then the PMD table if its 1 GiB is free. */
function free_pmd_range(cpu: ArchCpu, tlb: MmuGather, pudp: number, pmd: number, addr: number, end: number, floor: number, ceiling: number): void {
  const start = addr;
  for (; addr < end; addr = Math.min((Math.floor(addr / PMD_SIZE) + 1) * PMD_SIZE, end)) {
    const pmdp = pmd + pmd_index(addr) * 8;
    const pte = next_table(cpu, pmdp);
    if (pte < 0) continue;
    // free_pte_range
    pte_clear(cpu, pmdp);
    pte_table_cache_drop();
    pte_free_tlb(tlb, pte, addr);
  }
  const base = Math.floor(start / PUD_SIZE) * PUD_SIZE;
  if (base < floor || end > Math.floor(ceiling / PUD_SIZE) * PUD_SIZE) return;
  pte_clear(cpu, pudp);
  pmd_free_tlb(tlb, pmd, base);
}

/**
 * copy_page_range for fork: the child's PTEs for `src` (parent) in `dst` (child).
 * Private writable pages become read-only in both (COW) — except pages that may be
 * DMA-pinned, which the child gets a copy of at once (copy_present_page), so the
 * parent keeps the pinned page writable. Shared pages and PFN maps are shared as
 * they are; swap entries gain a reference. Returns 0 or -ENOMEM.
 */
export function copy_page_range(dst: VmAreaStruct, src: VmAreaStruct): number {
  const cpu = thisCpu();
  const map = mem_map();
  const srcMm = src.vm_mm;
  const dstMm = dst.vm_mm;
  // is_cow_mapping: private and possibly writable
  const cow = (src.vm_flags & (VM_SHARED | VM_MAYWRITE)) === VM_MAYWRITE;
  const range = cow ? notify_start(MMU_NOTIFY_PROTECTION_PAGE, srcMm, src.vm_start, src.vm_end) : undefined;
  let err = 0;
  let wrprotected = false;
  walk_pte_range(srcMm, src.vm_start, src.vm_end, (sptep, va, lo, hi) => {
    if (err) return;
    const dptep = pte_alloc(cpu, dstMm, va);
    if (dptep < 0) {
      err = -ENOMEM;
      return;
    }
    if (is_swap_pte(lo, hi)) {
      swap_duplicate(pte_swp_offset(lo, hi));
      add_mm_counter(dstMm, MM_SWAPENTS, 1);
      set_pte(cpu, dptep, lo, hi);
      return;
    }
    if (hi & PTE_HI_SPECIAL) {
      set_pte(cpu, dptep, lo, hi); // zero page or PFN map: shared as is
      return;
    }
    const pfn = pte_pfn(lo, hi);
    if (cow && map.testFlags(pfn, PG_anon) && map.refcount(pfn) >= GUP_PIN_COUNTING_BIAS) {
      // copy_present_page: a maybe-pinned page is not shared with the child.
      const npfn = alloc_pages(0, GFP_HIGHUSER_MOVABLE);
      if (npfn < 0) {
        err = -ENOMEM;
        return;
      }
      copy_page(cpu, npfn, pfn);
      page_add_new_anon_rmap(npfn, dst, va);
      add_mm_counter(dstMm, MM_ANONPAGES, 1);
      lru_cache_add(npfn);
      mk_pte(npfn, dst, (dst.vm_flags & VM_WRITE) !== 0, false);
      set_pte(cpu, dptep, mk_lo, mk_hi);
      return;
    }
    get_page(pfn);
    page_add_rmap(pfn);
    add_mm_counter(dstMm, rss_member(pfn), 1);
    let clo = lo;
    let chi = hi & ~PTE_HI_DIRTY;
    if (cow && !(lo & PTE_RDONLY)) {
      // ptep_set_wrprotect in the parent; the child starts read-only too.
      set_pte(cpu, sptep, (lo | PTE_RDONLY) >>> 0, hi);
      wrprotected = true;
      clo = (lo | PTE_RDONLY) >>> 0;
    }
    if (!cow) chi = hi;
    set_pte(cpu, dptep, clo, chi);
  });
  if (wrprotected) flush_tlb_range_mm(srcMm, src.vm_start, src.vm_end);
  notify_end(range);
  return err;
}

// ---- drivers: PFN maps ----

/** pgprot_device / pgprot_noncached: Device-nGnRE PTEs for an MMIO mapping. */
export function pgprot_device(vma: VmAreaStruct): void {
  vma.vm_page_prot = MT_DEVICE_nGnRE;
}

/** pgprot_writecombine: Normal non-cacheable PTEs. */
export function pgprot_writecombine(vma: VmAreaStruct): void {
  vma.vm_page_prot = MT_NORMAL_NC;
}

/**
 * vmf_insert_pfn / vm_insert_pfn: maps `pfn` (RAM or MMIO, no struct page
 * accounting) at `addr` of a VM_PFNMAP/VM_MIXEDMAP VMA, writable if the VMA is.
 * Returns VM_FAULT_NOPAGE, or VM_FAULT_SIGBUS/OOM.
 */
export function vm_insert_pfn(vma: VmAreaStruct, addr: number, pfn: number): number {
  if (!(vma.vm_flags & (VM_PFNMAP | VM_MIXEDMAP)) || !vma.contains(addr) || addr % PAGE_SIZE !== 0) return VM_FAULT_SIGBUS;
  const cpu = thisCpu();
  const ptep = pte_alloc(cpu, vma.vm_mm, addr);
  if (ptep < 0) return VM_FAULT_OOM;
  const lo = pte_read(cpu, ptep);
  if (!pte_none(lo, pte_hi)) return VM_FAULT_NOPAGE; // already mapped (a racing fault)
  mk_pte(pfn, vma, (vma.vm_flags & (VM_WRITE | VM_SHARED)) === (VM_WRITE | VM_SHARED), true);
  set_pte(cpu, ptep, mk_lo, mk_hi);
  return VM_FAULT_NOPAGE;
}

/**
 * remap_pfn_range: maps [pfn, pfn + size/PAGE_SIZE) at `addr` now, marking the VMA
 * VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP. Returns 0, -EINVAL or -ENOMEM.
 */
export function remap_pfn_range(vma: VmAreaStruct, addr: number, pfn: number, size: number): number {
  if (addr % PAGE_SIZE !== 0 || size % PAGE_SIZE !== 0 || size <= 0 || addr < vma.vm_start || addr + size > vma.vm_end) return -EINVAL;
  vma.vm_flags |= VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP;
  const cpu = thisCpu();
  const writable = (vma.vm_flags & (VM_WRITE | VM_SHARED)) === (VM_WRITE | VM_SHARED);
  for (let off = 0; off < size; off += PAGE_SIZE) {
    const ptep = pte_alloc(cpu, vma.vm_mm, addr + off);
    if (ptep < 0) return -ENOMEM;
    mk_pte(pfn + off / PAGE_SIZE, vma, writable, true);
    set_pte(cpu, ptep, mk_lo, mk_hi);
  }
  return 0;
}

/**
 * follow_pte for gup and /proc/pid/pagemap: the PFN mapped at `addr` (-1 none) and
 * whether the PTE is writable / special / a swap entry, without faulting.
 */
export interface FollowResult {
  pfn: number;
  writable: boolean;
  special: boolean;
  swapOffset: number;
  dirty: boolean;
}

export function follow_pte(mm: MmStruct, addr: number, out: FollowResult): void {
  out.pfn = -1;
  out.writable = false;
  out.special = false;
  out.swapOffset = -1;
  out.dirty = false;
  if (mm.dead) return;
  const cpu = thisCpu();
  const ptep = pte_lookup(cpu, mm, addr - (addr & PAGE_MASK));
  if (ptep < 0) return;
  const lo = pte_read(cpu, ptep);
  const hi = pte_hi;
  if (pte_none(lo, hi)) return;
  if (is_swap_pte(lo, hi)) {
    out.swapOffset = pte_swp_offset(lo, hi);
    return;
  }
  if (!pte_present(lo, hi) || !(lo & PTE_VALID)) return;
  out.pfn = pte_pfn(lo, hi);
  out.writable = (lo & PTE_RDONLY) === 0;
  out.special = (hi & PTE_HI_SPECIAL) !== 0;
  out.dirty = (hi & PTE_HI_DIRTY) !== 0;
}

