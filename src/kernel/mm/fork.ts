// Address-space lifetime (kernel/fork.c mm_alloc, dup_mm, mmget, mmput, mmdrop;
// mm/mmap.c exit_mmap). mm_users counts the users of the address space (threads,
// get_task_mm); at zero the mappings are torn down. mm_count counts references to
// the struct (notifier subscriptions); at zero the pgd page is freed.

import { MmStruct } from './mm_types.js';
import { DEFAULT_MMAP_BASE, dup_mmap, remove_all_vmas, unmap_all_vmas } from './mmap.js';
import { tlb_finish_mmu, tlb_gather_mmu_fullmm } from './mmu_gather.js';
import { mmu_notifier_release } from './mmu_notifier.js';
import { pgtable_page_alloc, pgtable_page_free, TASK_SIZE } from './pgtable.js';
import { mm_pasid_drop } from '../drivers/iommu/iommu-sva.js';

/** mm_alloc: an empty address space with its own pgd page. Null when out of memory. */
export function mm_alloc(): MmStruct | null {
  const mm = new MmStruct();
  const pgd = pgtable_page_alloc(mm);
  if (pgd < 0) return null;
  mm.pgd = pgd;
  mm.mmap_base = DEFAULT_MMAP_BASE;
  mm.task_size = TASK_SIZE;
  return mm;
}

/** mmget: one more user of the address space. */
export function mmget(mm: MmStruct): void {
  mm.mm_users++;
}

/** mmget_not_zero: a user reference unless the mm is already exiting. */
export function mmget_not_zero(mm: MmStruct): boolean {
  if (mm.mm_users <= 0) return false;
  mm.mm_users++;
  return true;
}

export function mmgrab(mm: MmStruct): void {
  mm.mm_count++;
}

/** mmdrop: drops a struct reference; the last frees the pgd (__mmdrop). */
export function mmdrop(mm: MmStruct): void {
  if (--mm.mm_count > 0) return;
  mm_pasid_drop(mm);
  if (mm.pgd !== 0) {
    pgtable_page_free(mm, mm.pgd);
    mm.pgd = 0;
  }
}

/**
 * exit_mmap: MMU notifiers get ->release, every VMA is unmapped and every table below
 * the pgd unlinked into a full-mm gather, whose finish flushes the ASID (tables were
 * freed) before it frees the pages and tables; then the VMAs go.
 */
export function exit_mmap(mm: MmStruct): void {
  if (mm.dead) return;
  mmu_notifier_release(mm);
  const tlb = tlb_gather_mmu_fullmm(mm);
  unmap_all_vmas(tlb, mm);
  tlb_finish_mmu(tlb);
  remove_all_vmas(mm);
  mm.dead = true;
}

/** mmput: drops a user; the last tears the address space down. */
export function mmput(mm: MmStruct): void {
  if (--mm.mm_users > 0) return;
  exit_mmap(mm);
  mmdrop(mm);
}

/** dup_mm (fork without CLONE_VM): a copy-on-write copy of `oldmm`, or null when out of memory. */
export function dup_mm(oldmm: MmStruct): MmStruct | null {
  const mm = mm_alloc();
  if (mm === null) return null;
  if (dup_mmap(mm, oldmm) < 0) {
    mmput(mm);
    return null;
  }
  return mm;
}
