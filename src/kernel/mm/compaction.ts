// Memory compaction (mm/compaction.c). Two scanners walk a zone towards each other:
// the migrate scanner from the bottom isolates movable pages (user pages on the
// LRU, shmem pages), the free scanner from the top isolates free pages; the movable
// pages are migrated into the free ones, so free memory gathers at the bottom into
// large blocks. Pinned pages and pages with extra references are skipped (they
// cannot move); mlocked pages move unless vm.compact_unevictable_allowed is 0.
//
// Runs on demand (/proc/sys/vm/compact_memory), in the allocating task for
// high-order allocations (direct compaction), and in kcompactd when woken.
// Pageblocks are MAX_ORDER_NR_PAGES (4 MiB) here.

import type { GfpFlags } from './gfp.js';
import { gfp_zone, ZONE_MOVABLE, ZONE_NORMAL } from './gfp.js';
import { migratable, migrate_pages, MR_COMPACTION } from './migrate.js';
import type { Zone } from './mmzone.js';
import { drain_all_pages, free_pages_to_buddy, isolate_free_block, mem_map, NODE_DATA, prep_isolated_page, zone_watermark_ok } from './page_alloc.js';
import { MAX_ORDER_NR_PAGES, MAX_PAGE_ORDER, PAGES_PER_SECTION, PG_buddy, PG_lru, PG_mlocked, PG_reserved, PG_unevictable } from './page.js';
import { PG_head } from './page_alloc.js';
import { isolate_page, putback_isolated_page } from './swap.js';
import { count_vm_event, count_vm_events, VM } from './vmstat.js';

const pageblock_nr_pages = MAX_ORDER_NR_PAGES;

/** vm.compact_unevictable_allowed (default 1). */
export let sysctl_compact_unevictable_allowed = 1;
export function set_compact_unevictable_allowed(v: number): void {
  sysctl_compact_unevictable_allowed = v ? 1 : 0;
}

/** enum compact_result (the ones returned here). */
export const COMPACT_SKIPPED = 1;
export const COMPACT_COMPLETE = 4;
export const COMPACT_PARTIAL_SKIPPED = 5;
export const COMPACT_SUCCESS = 7;

class CompactControl {
  readonly migratepages: number[] = [];
  readonly freepages: number[] = [];
  migrate_pfn: number;
  free_pfn: number;
  nr_migrated = 0;
  nr_failed = 0;
  constructor(
    readonly zone: Zone,
    /** -1: compact the whole zone (compact_memory). */
    readonly order: number,
    readonly daemon: boolean,
  ) {
    this.migrate_pfn = zone.zone_start_pfn;
    this.free_pfn = Math.floor(zone.zone_end_pfn / pageblock_nr_pages) * pageblock_nr_pages;
    if (this.free_pfn <= this.migrate_pfn) this.free_pfn = zone.zone_end_pfn;
  }
}

/** A page the migrate scanner may take (isolate_migratepages_block's tests). */
function movable_candidate(pfn: number): boolean {
  const map = mem_map();
  const f = map.flags(pfn);
  if (f & (PG_buddy | PG_reserved | PG_head)) return false;
  if (!(f & PG_lru)) {
    // non-LRU movable: a page-cache page (shmem) mapped through a file rmap
    const m = map.mappingOf(pfn) as { kind?: string } | undefined;
    if (m === undefined || m.kind !== 'file') return false;
  }
  if (f & (PG_mlocked | PG_unevictable) && !sysctl_compact_unevictable_allowed) return false;
  // The isolation reference is not taken yet: the page must have exactly its expected references minus one.
  map.refAdd(pfn, 1);
  const ok = migratable(pfn);
  map.refAdd(pfn, -1);
  return ok;
}

/** isolate_migratepages_block over [low, high). */
function isolate_migratepages_block(cc: CompactControl, low: number, high: number): void {
  const map = mem_map();
  for (let pfn = low; pfn < high; pfn++) {
    if (!map.isMaterialised(pfn)) {
      // an untouched section is all free max-order blocks
      pfn = Math.min(high, (Math.floor(pfn / PAGES_PER_SECTION) + 1) * PAGES_PER_SECTION) - 1;
      continue;
    }
    count_vm_event(cc.daemon ? VM.compact_daemon_migrate_scanned : VM.compact_migrate_scanned);
    const f = map.flags(pfn);
    if (f & PG_buddy) {
      pfn += (1 << map.private_(pfn)) - 1;
      continue;
    }
    if (f & PG_head) {
      pfn += (1 << map.private_(pfn)) - 1;
      continue;
    }
    if (!movable_candidate(pfn)) continue;
    isolate_page(pfn);
    cc.migratepages.push(pfn);
    count_vm_event(VM.compact_isolated);
  }
}

/** isolate_freepages: free pages from pageblocks below free_pfn, above the migrate scanner. */
function isolate_freepages(cc: CompactControl): void {
  const map = mem_map();
  const low = Math.ceil(cc.migrate_pfn / pageblock_nr_pages) * pageblock_nr_pages;
  while (cc.freepages.length < cc.migratepages.length && cc.free_pfn - pageblock_nr_pages >= low) {
    const blk = cc.free_pfn - pageblock_nr_pages;
    cc.free_pfn = blk;
    if (blk < cc.zone.zone_start_pfn) break;
    map.sec(blk); // materialise the section so its free blocks are visible
    for (let pfn = blk; pfn < blk + pageblock_nr_pages; ) {
      count_vm_event(cc.daemon ? VM.compact_daemon_free_scanned : VM.compact_free_scanned);
      const order = isolate_free_block(pfn);
      if (order < 0) {
        pfn++;
        continue;
      }
      for (let i = (1 << order) - 1; i >= 0; i--) cc.freepages.push(pfn + i);
      count_vm_events(VM.compact_isolated, 1 << order);
      pfn += 1 << order;
    }
  }
}

/** release_free_list: unused isolated free pages return to the buddy. */
function release_freepages(cc: CompactControl): void {
  while (cc.freepages.length > 0) free_pages_to_buddy(cc.freepages.pop()!, 0, false);
}

/** compact_finished: for an order-N request, a free block of N exists above the min watermark. */
function compact_finished(cc: CompactControl): boolean {
  if (cc.order < 0) return false;
  const z = cc.zone;
  if (!zone_watermark_ok(z, 0, z.wmark_min)) return false;
  for (let o = cc.order; o <= MAX_PAGE_ORDER; o++) if (z.free_area[o]!.count > 0) return true;
  return false;
}

/** compact_zone: runs the scanners until they meet (or the request is satisfied). */
export function compact_zone(zone: Zone, order: number, daemon = false): number {
  if (zone.managed_pages === 0) return COMPACT_SKIPPED;
  drain_all_pages();
  const cc = new CompactControl(zone, order, daemon);
  let result = COMPACT_COMPLETE;
  while (cc.migrate_pfn < cc.free_pfn) {
    if (compact_finished(cc)) {
      result = COMPACT_SUCCESS;
      break;
    }
    const blockEnd = Math.min(cc.free_pfn, (Math.floor(cc.migrate_pfn / pageblock_nr_pages) + 1) * pageblock_nr_pages);
    isolate_migratepages_block(cc, cc.migrate_pfn, blockEnd);
    cc.migrate_pfn = blockEnd;
    if (cc.migratepages.length === 0) continue;
    isolate_freepages(cc);
    const todo = cc.migratepages.splice(0);
    const failed = migrate_pages(
      todo,
      () => {
        const p = cc.freepages.pop();
        if (p === undefined) return -1;
        prep_isolated_page(p);
        return p;
      },
      0,
      MR_COMPACTION,
    );
    cc.nr_migrated += todo.length - failed.length;
    cc.nr_failed += failed.length;
    for (const p of failed) putback_isolated_page(p);
    if (cc.freepages.length === 0 && failed.length > 0 && cc.free_pfn <= cc.migrate_pfn) break;
  }
  release_freepages(cc);
  if (result !== COMPACT_SUCCESS && compact_finished(cc)) result = COMPACT_SUCCESS;
  return result;
}

/** compact_node / sysctl compact_memory: full compaction of every zone. */
export function compact_nodes(): void {
  for (const z of NODE_DATA().node_zones) compact_zone(z, -1);
}

/** try_to_compact_pages: direct compaction for an allocation; true when a block of `order` is now free. */
export function try_to_compact_pages(order: number, gfp: GfpFlags): boolean {
  const pgdat = NODE_DATA();
  const zones = gfp_zone(gfp) === ZONE_MOVABLE ? [pgdat.node_zones[ZONE_MOVABLE]!, pgdat.node_zones[ZONE_NORMAL]!] : [pgdat.node_zones[ZONE_NORMAL]!];
  for (const z of zones) {
    if (compact_zone(z, order) === COMPACT_SUCCESS) return true;
  }
  return false;
}

/** vm.compaction_proactiveness (0..100, default 20). */
export let sysctl_compaction_proactiveness = 20;
export function set_compaction_proactiveness(v: number): void {
  sysctl_compaction_proactiveness = Math.max(0, Math.min(100, Math.trunc(v)));
}

/** COMPACTION_HPAGE_ORDER: the block size proactive compaction aims for (2 MiB). */
const COMPACTION_HPAGE_ORDER = 9;

/**
 * fragmentation_score_node: 0..100, the share of free memory not in blocks of at
 * least COMPACTION_HPAGE_ORDER, weighted by zone size (fragmentation_score_zone_weighted).
 */
export function fragmentation_score(): number {
  const zones = NODE_DATA().node_zones;
  let total = 0;
  let score = 0;
  for (const z of zones) total += z.managed_pages;
  if (total === 0) return 0;
  for (const z of zones) {
    const free = z.nr_free_pages;
    if (free === 0) continue;
    let suitable = 0;
    for (let o = COMPACTION_HPAGE_ORDER; o <= MAX_PAGE_ORDER; o++) suitable += z.free_area[o]!.count << o;
    score += (((free - suitable) * 100) / free) * (z.managed_pages / total);
  }
  return score;
}

/** fragmentation_score_wmark: compaction starts above the high mark and stops at the low one. */
function fragmentation_wmark(low: boolean): number {
  const wmark_low = Math.max(100 - sysctl_compaction_proactiveness, 5);
  return low ? wmark_low : Math.min(wmark_low + 10, 100);
}

/** should_proactive_compact_node. */
export function should_proactive_compact(): boolean {
  return sysctl_compaction_proactiveness > 0 && fragmentation_score() > fragmentation_wmark(false);
}

/**
 * kcompactd_do_work: background compaction for the requested order; order 0 is a
 * proactive request (proactive_compact_node): whole zones until the score is low.
 */
export function kcompactd_do_work(order: number): void {
  count_vm_event(VM.compact_daemon_wake);
  for (const z of NODE_DATA().node_zones) {
    if (z.managed_pages === 0) continue;
    if (order <= 0 && fragmentation_score() <= fragmentation_wmark(true)) break;
    const r = compact_zone(z, order > 0 ? order : -1, true);
    if (r === COMPACT_SUCCESS) count_vm_event(VM.compact_success);
  }
}

let kcompactd_waker: (() => void) | undefined;
export function set_kcompactd_waker(fn: (() => void) | undefined): void {
  kcompactd_waker = fn;
}

/** wakeup_kcompactd. */
export function wakeup_kcompactd(order: number): void {
  const pgdat = NODE_DATA();
  pgdat.kcompactd_max_order = Math.max(pgdat.kcompactd_max_order, order);
  kcompactd_waker?.();
}
