// Page migration (mm/migrate.c): moves isolated pages to new pages. For each page
// every PTE mapping it is found through the reverse map, cleared (MMU notifiers told
// with MMU_NOTIFY_MIGRATE, CPU TLBs flushed), the content copied, the page cache or
// swap cache pointed at the new page, and the PTEs rewritten with the new PFN and
// the same attributes. Pages with references beyond their mappings — DMA pins
// (folio_maybe_dma_pinned) or get_user_pages references — are not moved: the
// refcount check fails as folio_migrate_mapping's does (-EAGAIN, counted pgmigrate_fail).
//
// Pages here are isolated: off the LRU with one extra reference held by the caller.
// Migration runs to completion without yielding, so no fault can observe the
// cleared PTEs in between and no migration entries are needed.

import { thisCpu } from '../../arch/index.js';
import { EAGAIN, EBUSY } from '../lib/errno.js';
import { copy_page } from './memory.js';
import { type FileRmap, MMU_NOTIFY_MIGRATE, type MmStruct, type VmAreaStruct } from './mm_types.js';
import { notify_end, notify_start } from './mmu_notifier.js';
import { mem_map, put_page } from './page_alloc.js';
import {
  GUP_PIN_COUNTING_BIAS,
  PAGE_SIZE,
  PG_active,
  PG_anon,
  PG_dirty,
  PG_isolated,
  PG_mlocked,
  PG_referenced,
  PG_swapbacked,
  PG_swapcache,
  PG_unevictable,
  PG_uptodate,
} from './page.js';
import { pa_hi, pa_lo, PTE_HI_OA_MASK, PTE_LO_OA_MASK, pte_hi, pte_read, set_pte, pte_clear } from './pgtable.js';
import { rmap_walk } from './rmap.js';
import { putback_isolated_page } from './swap.js';
import { swap_cache_replace } from './swapfile.js';
import { flush_tlb_page_mm } from './tlbflush.js';
import { count_vm_event, VM } from './vmstat.js';

// enum migrate_reason
export const MR_COMPACTION = 0;
export const MR_MEMORY_FAILURE = 1;
export const MR_MEMORY_HOTPLUG = 2;
export const MR_SYSCALL = 3;
export const MR_MEMPOLICY_MBIND = 4;
export const MR_NUMA_MISPLACED = 5;
export const MR_CONTIG_RANGE = 6;
export const MR_LONGTERM_PIN = 7;
export const MR_DEMOTION = 8;

/** Flags that move with the data. */
const MIGRATE_FLAGS = PG_isolated | PG_anon | PG_swapbacked | PG_dirty | PG_referenced | PG_uptodate | PG_mlocked | PG_unevictable | PG_active | PG_swapcache;

/** folio_expected_refs: mappings + page/swap cache + the isolation reference. */
export function expected_refs(pfn: number): number {
  const map = mem_map();
  let refs = map.mapcount(pfn) + 1;
  if (map.testFlags(pfn, PG_swapcache)) refs++;
  const m = map.mappingOf(pfn) as FileRmap | undefined;
  if (m !== undefined && m.kind === 'file' && m.pages.get(map.index(pfn)) === pfn) refs++;
  return refs;
}

/** A page can move when nothing but its mappings, caches and the isolation hold it. */
export function migratable(pfn: number): boolean {
  const rc = mem_map().refcount(pfn);
  return rc < GUP_PIN_COUNTING_BIAS && rc === expected_refs(pfn);
}

interface MappedPte {
  mm: MmStruct;
  vma: VmAreaStruct;
  addr: number;
  ptep: number;
  lo: number;
  hi: number;
}

/**
 * migrate_folio_move for one isolated page. Returns 0, -EAGAIN (pinned or other
 * references), -EBUSY (not a movable page) or -ENOMEM (no target page).
 */
export function migrate_one(pfn: number, newpfn: number): number {
  const map = mem_map();
  const cpu = thisCpu();
  if (map.refcount(pfn) >= GUP_PIN_COUNTING_BIAS) return -EAGAIN;
  if (!migratable(pfn)) return -EAGAIN;
  const fm = map.mappingOf(pfn) as FileRmap | undefined;
  if (fm === undefined && !map.testFlags(pfn, PG_swapcache)) return -EBUSY;
  // try_to_migrate: clear every PTE of the page, each mm told and flushed.
  const ptes: MappedPte[] = [];
  rmap_walk(pfn, (vma, addr, ptep) => {
    const lo = pte_read(cpu, ptep);
    ptes.push({ mm: vma.vm_mm, vma, addr, ptep, lo, hi: pte_hi });
  });
  const ranges = ptes.map((p) => notify_start(MMU_NOTIFY_MIGRATE, p.mm, p.addr, p.addr + PAGE_SIZE));
  for (const p of ptes) {
    pte_clear(cpu, p.ptep);
    flush_tlb_page_mm(p.mm, p.addr);
  }
  copy_page(cpu, newpfn, pfn);
  // folio_migrate_mapping + folio_migrate_flags
  const flags = map.flags(pfn) & MIGRATE_FLAGS;
  map.setFlags(newpfn, flags);
  map.setMapping(newpfn, map.mappingOf(pfn), map.index(pfn));
  map.setPrivate(newpfn, map.private_(pfn));
  map.mapcountAdd(newpfn, map.mapcount(pfn));
  map.setRefcount(newpfn, map.refcount(pfn));
  if (flags & PG_swapcache) swap_cache_replace(map.private_(pfn), newpfn);
  if (fm !== undefined && fm.kind === 'file' && fm.pages.get(map.index(pfn)) === pfn) fm.pages.set(map.index(pfn), newpfn);
  // remove_migration_ptes: same attributes, new output address.
  const npa = newpfn * PAGE_SIZE;
  for (const p of ptes) set_pte(cpu, p.ptep, ((p.lo & ~PTE_LO_OA_MASK) | pa_lo(npa)) >>> 0, ((p.hi & ~PTE_HI_OA_MASK) | pa_hi(npa)) >>> 0);
  for (const r of ranges) notify_end(r);
  // The old page keeps only the isolation reference and no state that put_page would undo.
  map.clearFlags(pfn, ~0);
  map.setMapping(pfn, undefined, 0);
  map.mapcountAdd(pfn, -map.mapcount(pfn));
  map.setPrivate(pfn, 0);
  map.setRefcount(pfn, 1);
  return 0;
}

/**
 * migrate_pages: migrates each isolated page to a page from `alloc(old)`. Moved
 * pages go back on the LRU (new copy) and the old ones are freed; the pages that
 * could not move are returned, still isolated, for the caller to put back.
 */
export function migrate_pages(pages: readonly number[], alloc: (old: number) => number, _gfp: number, reason: number): number[] {
  const failed: number[] = [];
  for (const pfn of pages) {
    if (!migratable(pfn)) {
      count_vm_event(VM.pgmigrate_fail);
      failed.push(pfn);
      continue;
    }
    const npfn = alloc(pfn);
    if (npfn < 0) {
      count_vm_event(VM.pgmigrate_fail);
      failed.push(pfn);
      continue;
    }
    const r = migrate_one(pfn, npfn);
    if (r < 0) {
      put_page(npfn);
      count_vm_event(VM.pgmigrate_fail);
      failed.push(pfn);
      continue;
    }
    count_vm_event(VM.pgmigrate_success);
    // The new page inherited the isolation reference: put it back; the old page is freed.
    putback_isolated_page(npfn);
    put_page(pfn);
  }
  void reason;
  return failed;
}
