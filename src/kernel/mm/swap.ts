// LRU lists (mm/swap.c, include/linux/mm_inline.h): user pages sit on the node's
// inactive/active anon lists or, when mlocked, on the unevictable list. Reclaim
// (vmscan.ts) takes candidates from the inactive tail; compaction isolates pages off
// these lists before migrating them.

import { LRU_ACTIVE_ANON, LRU_INACTIVE_ANON, LRU_UNEVICTABLE } from './mmzone.js';
import { mem_map, NODE_DATA, put_page } from './page_alloc.js';
import { PAGES_PER_SECTION, PG_active, PG_anon, PG_isolated, PG_lru, PG_swapbacked, PG_unevictable } from './page.js';
import { mod_node_page_state, VM, vm_stat } from './vmstat.js';

function lru_item(lru: number): number {
  return lru === LRU_UNEVICTABLE ? VM.nr_unevictable : lru === LRU_ACTIVE_ANON ? VM.nr_active_anon : VM.nr_inactive_anon;
}

function page_lru(pfn: number): number {
  const f = mem_map().flags(pfn);
  return f & PG_unevictable ? LRU_UNEVICTABLE : f & PG_active ? LRU_ACTIVE_ANON : LRU_INACTIVE_ANON;
}

/** folio_add_lru: a new user page joins the inactive anon list (or unevictable if marked so). */
export function lru_cache_add(pfn: number): void {
  const pgdat = NODE_DATA();
  const sec = pgdat.mem_map.sec(pfn);
  const i = pfn & (PAGES_PER_SECTION - 1);
  const f = sec.flags[i]!;
  if (f & PG_lru) return;
  sec.flags[i] = f | PG_lru;
  if ((f & (PG_unevictable | PG_active)) === 0) {
    // A new anonymous page (every demand fault): the inactive list, no list or counter to choose.
    pgdat.lruvec[LRU_INACTIVE_ANON]!.addHead(pfn);
    vm_stat[VM.nr_inactive_anon]! += 1;
    return;
  }
  const lru = f & PG_unevictable ? LRU_UNEVICTABLE : LRU_ACTIVE_ANON;
  pgdat.lruvec[lru]!.addHead(pfn);
  vm_stat[lru_item(lru)]! += 1;
}

/** lruvec_del_folio: takes the page off its LRU list (isolation, freeing). */
export function del_page_from_lru_list(pfn: number): void {
  const map = mem_map();
  if (!map.testFlags(pfn, PG_lru)) return;
  const lru = page_lru(pfn);
  NODE_DATA().lruvec[lru]!.del(pfn);
  map.clearFlags(pfn, PG_lru);
  mod_node_page_state(lru_item(lru), -1);
}

/** folio_evictable's mapping test: shmem page-cache pages stay unevictable (mm/shmem.ts has no writeout). */
function mapping_unevictable(pfn: number): boolean {
  return (mem_map().flags(pfn) & (PG_swapbacked | PG_anon)) === PG_swapbacked;
}

/** Moves a page between the evictable and unevictable lists after PG_unevictable changed. */
export function lru_move(pfn: number, unevictable: boolean): void {
  const map = mem_map();
  const onLru = map.testFlags(pfn, PG_lru);
  if (onLru) del_page_from_lru_list(pfn);
  if (unevictable) map.setFlags(pfn, PG_unevictable);
  else map.clearFlags(pfn, mapping_unevictable(pfn) ? PG_active : PG_unevictable | PG_active);
  if (onLru) lru_cache_add(pfn);
}

/** folio_putback_lru after isolation. */
export function putback_lru_page(pfn: number): void {
  lru_cache_add(pfn);
}

/** Rotates a referenced page to the head of its list (second chance). */
export function lru_rotate(pfn: number): void {
  if (!mem_map().testFlags(pfn, PG_lru)) return;
  const l = NODE_DATA().lruvec[page_lru(pfn)]!;
  l.del(pfn);
  l.addHead(pfn);
}

/**
 * folio_isolate_lru / isolate_movable_page: takes a user page off the LRU for
 * migration or reclaim with an extra reference. LRU pages are marked PG_isolated so
 * putback knows to return them; page-cache pages off the LRU (shmem) are just held.
 */
export function isolate_page(pfn: number): void {
  const map = mem_map();
  if (map.testFlags(pfn, PG_lru)) {
    del_page_from_lru_list(pfn);
    map.setFlags(pfn, PG_isolated);
  }
  map.refAdd(pfn, 1);
}

/** putback_movable_pages for one page: back on its LRU if it came from one, isolation reference dropped. */
export function putback_isolated_page(pfn: number): void {
  const map = mem_map();
  if (map.testFlags(pfn, PG_isolated)) {
    map.clearFlags(pfn, PG_isolated);
    lru_cache_add(pfn);
  }
  put_page(pfn);
}
