// Page reclaim (mm/vmscan.c): anonymous pages leave memory for the swap area. The
// inactive anon LRU is scanned from its tail; referenced pages get a second chance,
// mlocked pages move to the unevictable list, pages held by anything but their
// mappings (DMA pins, gup references) are kept; the rest get a swap slot, every PTE
// mapping them becomes a swap entry (MMU notifiers: MMU_NOTIFY_CLEAR; TLB flushed),
// the data is written out and the page freed.
//
// kswapd reclaims in the background when a zone falls below its low watermark until
// it is above the high one; direct reclaim runs in the allocating task when even the
// min watermark fails. vm.swappiness (0..200) sets how willing reclaim is to swap:
// there is no reclaimable file cache here (tmpfs is memory), so at 0 kswapd does not
// swap at all and only direct reclaim under real shortage does, as Linux does when
// file pages are exhausted.

import { thisCpu } from '../../arch/index.js';
import { gfp_zone, type GfpFlags, ZONE_MOVABLE } from './gfp.js';
import {
  add_mm_counter,
  MM_ANONPAGES,
  MM_SWAPENTS,
  MMU_NOTIFY_CLEAR,
  type VmAreaStruct,
} from './mm_types.js';
import { LRU_INACTIVE_ANON, type Zone } from './mmzone.js';
import { notify_end, notify_start } from './mmu_notifier.js';
import { mem_map, NODE_DATA, put_page, zone_watermark_ok } from './page_alloc.js';
import { GUP_PIN_COUNTING_BIAS, PAGE_SIZE, PG_anon, PG_dirty, PG_lru, PG_mlocked, PG_referenced, PG_swapcache, PG_unevictable } from './page.js';
import { PTE_HI_DIRTY, PTE_HI_SPECIAL, PTE_VALID, pte_hi, pte_pfn, pte_read, set_pte, swp_entry_to_pte, swp_hi, walk_pte_range } from './pgtable.js';
import { page_remove_rmap, rmap_walk } from './rmap.js';
import { isolate_page, lru_move, lru_rotate, putback_isolated_page } from './swap.js';
import { add_to_swap, delete_from_swap_cache, swap_entry_get, swap_writepage } from './swapfile.js';
import { flush_tlb_page_mm } from './tlbflush.js';
import { count_vm_event, count_vm_events, VM } from './vmstat.js';
import { migratable } from './migrate.js';

/** SWAP_CLUSTER_MAX: pages reclaimed per batch. */
export const SWAP_CLUSTER_MAX = 32;

/** vm.swappiness (default 60). */
export let vm_swappiness = 60;
export function set_swappiness(v: number): void {
  vm_swappiness = Math.max(0, Math.min(200, Math.trunc(v)));
}

/**
 * try_to_unmap for swap-out: every PTE of the page becomes the swap entry of `off`
 * (one swap reference each), notifiers told, TLBs flushed, rmap and rss updated.
 */
function try_to_unmap_swap(pfn: number, off: number): void {
  const cpu = thisCpu();
  const map = mem_map();
  rmap_walk(pfn, (vma: VmAreaStruct, addr, ptep) => {
    const mm = vma.vm_mm;
    const range = notify_start(MMU_NOTIFY_CLEAR, mm, addr, addr + PAGE_SIZE);
    pte_read(cpu, ptep);
    if (pte_hi & PTE_HI_DIRTY) map.setFlags(pfn, PG_dirty);
    const lo = swp_entry_to_pte(0, off);
    set_pte(cpu, ptep, lo, swp_hi);
    flush_tlb_page_mm(mm, addr);
    swap_entry_get(off);
    add_mm_counter(mm, MM_ANONPAGES, -1);
    add_mm_counter(mm, MM_SWAPENTS, 1);
    page_remove_rmap(pfn);
    put_page(pfn);
    notify_end(range);
  });
}

/**
 * shrink_folio_list for one isolated anon page: swap it out. Returns true when the
 * page was freed (the caller's isolation reference was the last).
 */
function pageout_anon(pfn: number): boolean {
  const map = mem_map();
  let off: number;
  if (map.testFlags(pfn, PG_swapcache)) {
    off = map.private_(pfn);
  } else {
    off = add_to_swap(pfn);
    if (off < 0) return false;
  }
  try_to_unmap_swap(pfn, off);
  if (map.mapcount(pfn) !== 0) return false;
  const cpu = thisCpu();
  cpu.charge((cpu.cost['copyByteNs'] ?? 0) * PAGE_SIZE);
  swap_writepage(cpu, pfn, off);
  delete_from_swap_cache(pfn);
  return map.refcount(pfn) === 1;
}

/** A page reclaim may take: anon, evictable, held only by its mappings (plus the swap cache). */
function reclaimable(pfn: number): boolean {
  const map = mem_map();
  const f = map.flags(pfn);
  if (!(f & PG_anon) || f & (PG_mlocked | PG_unevictable)) return false;
  if (map.refcount(pfn) >= GUP_PIN_COUNTING_BIAS) return false; // folio_maybe_dma_pinned
  return true;
}

/**
 * shrink_inactive_list: scans the inactive anon LRU from its tail and reclaims up to
 * `nr_to_reclaim` pages. Returns the number freed.
 */
export function shrink_anon(nr_to_reclaim: number, kswapd: boolean, reclaim_idx = ZONE_MOVABLE): number {
  const pgdat = NODE_DATA();
  const map = mem_map();
  const lru = pgdat.lruvec[LRU_INACTIVE_ANON]!;
  let freed = 0;
  let budget = lru.count * 2;
  while (freed < nr_to_reclaim && budget-- > 0 && lru.tail >= 0) {
    const pfn = lru.tail;
    count_vm_event(kswapd ? VM.pgscan_kswapd : VM.pgscan_direct);
    const f = map.flags(pfn);
    if (pgdat.page_zone(pfn).idx > reclaim_idx) {
      // isolate_lru_folios: a page of a zone the allocation cannot use does not help it
      lru_rotate(pfn);
      continue;
    }
    if (f & PG_mlocked) {
      count_vm_event(VM.unevictable_pgs_culled);
      lru_move(pfn, true);
      continue;
    }
    if (f & PG_referenced) {
      map.clearFlags(pfn, PG_referenced);
      lru_rotate(pfn);
      count_vm_event(VM.pgrotated);
      continue;
    }
    if (!reclaimable(pfn)) {
      lru_rotate(pfn);
      continue;
    }
    isolate_page(pfn);
    if (!migratable(pfn)) {
      // extra references (gup): keep it
      putback_isolated_page(pfn);
      lru_rotate(pfn);
      continue;
    }
    if (pageout_anon(pfn)) {
      map.clearFlags(pfn, PG_lru);
      put_page(pfn); // the isolation reference was the last: freed
      freed++;
      count_vm_event(kswapd ? VM.pgsteal_kswapd : VM.pgsteal_direct);
    } else {
      putback_isolated_page(pfn);
      if (map.refcount(pfn) > 0 && map.testFlags(pfn, PG_lru)) lru_rotate(pfn);
      break; // swap full or the page stayed mapped: stop this pass
    }
  }
  return freed;
}

/** try_to_free_pages: direct reclaim for an allocation of `order`. */
export function try_to_free_pages(order: number, gfp: GfpFlags): number {
  return shrink_anon(Math.max(SWAP_CLUSTER_MAX, 1 << order), false, gfp_zone(gfp));
}

/** pgdat_balanced: every zone with pages is above its high watermark for `order`. */
function pgdat_balanced(order: number): boolean {
  for (const z of NODE_DATA().node_zones) {
    if (z.managed_pages === 0) continue;
    if (!zone_watermark_ok(z, order > 0 ? 0 : order, z.wmark_high)) return false;
  }
  return true;
}

/** balance_pgdat: kswapd's work until the node is balanced or nothing more can be reclaimed. Returns pages freed. */
export function balance_pgdat(order: number): number {
  count_vm_event(VM.pageoutrun);
  if (vm_swappiness === 0) return 0;
  let total = 0;
  while (!pgdat_balanced(order)) {
    const freed = shrink_anon(SWAP_CLUSTER_MAX, true);
    total += freed;
    if (freed === 0) break;
  }
  return total;
}

/** Wakes the kswapd thread (installed by the daemon glue; a no-op before it runs). */
let kswapd_waker: (() => void) | undefined;
export function set_kswapd_waker(fn: (() => void) | undefined): void {
  kswapd_waker = fn;
}

/** wakeup_kswapd: a zone fell below its low watermark for `order`. */
export function wakeup_kswapd(zone: Zone, order: number): void {
  if (zone.managed_pages === 0) return;
  const pgdat = NODE_DATA();
  if (zone_watermark_ok(zone, order, zone.wmark_high) && order === 0) return;
  pgdat.kswapd_order = Math.max(pgdat.kswapd_order, order);
  kswapd_waker?.();
}

/**
 * reclaim_pages for MADV_PAGEOUT: swaps out the anon pages mapped in [start, end)
 * of `vma` that reclaim may take (not locked, not pinned, not shared with other mms).
 */
export function reclaim_range(vma: VmAreaStruct, start: number, end: number): void {
  const map = mem_map();
  const pfns: number[] = [];
  walk_pte_range(vma.vm_mm, start, end, (_p, _va, lo, hi) => {
    if (!(lo & PTE_VALID) || hi & PTE_HI_SPECIAL) return;
    const pfn = pte_pfn(lo, hi);
    if (reclaimable(pfn) && map.mapcount(pfn) === 1 && map.testFlags(pfn, PG_lru)) pfns.push(pfn);
  });
  for (const pfn of pfns) {
    isolate_page(pfn);
    if (!migratable(pfn) || !pageout_anon(pfn)) {
      putback_isolated_page(pfn);
      continue;
    }
    map.clearFlags(pfn, PG_lru);
    put_page(pfn);
    count_vm_events(VM.pgsteal_direct, 1);
  }
}
