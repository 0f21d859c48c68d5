// The buddy allocator (mm/page_alloc.c): zones NORMAL and MOVABLE over the memory
// node, free_area[0..MAX_PAGE_ORDER] per zone, split on allocation (expand), merge
// with the buddy on free (__free_one_page), watermarks (__setup_per_zone_wmarks) and
// the slow path that wakes kswapd, compacts and reclaims before failing.
//
// A "struct page *" is its PFN here; -1 stands for NULL.

import { thisCpu } from '../../arch/index.js';
import {
  __GFP_DIRECT_RECLAIM,
  __GFP_KSWAPD_RECLAIM,
  __GFP_MOVABLE,
  __GFP_NOFAIL,
  __GFP_NORETRY,
  __GFP_RETRY_MAYFAIL,
  __GFP_ZERO,
  gfp_zone,
  type GfpFlags,
  ZONE_MOVABLE,
  ZONE_NORMAL,
} from './gfp.js';
import { PgData, type MemRange, type Zone } from './mmzone.js';
import {
  MAX_ORDER_NR_PAGES,
  MAX_PAGE_ORDER,
  MemMap,
  MemSection,
  PAGE_SIZE,
  PAGES_PER_SECTION,
  PFN_SECTION_SHIFT,
  PG_buddy,
  PG_dirty,
  PG_hole,
  PG_lru,
  PG_mlocked,
  PG_reserved,
  PG_zeroed,
} from './page.js';
import { count_vm_event, count_vm_events, VM, vm_stat, vmstat_reset } from './vmstat.js';

/** PG_head: first page of a multi-page allocation; `private` holds the order. */
export const PG_head = 1 << 20;

export interface MemInitOptions {
  /** Memory ranges from the DTB /memory nodes. */
  memory: readonly MemRange[];
  /** Ranges that are not given to the allocator: DTB, initramfs, kernel image, firmware. */
  reserved?: readonly MemRange[];
  /** `movablecore=`: bytes of ZONE_MOVABLE at the top of memory (default: 25% of RAM). */
  movablecore?: number;
  /** `kernelcore=`: bytes kept out of ZONE_MOVABLE (wins over movablecore). */
  kernelcore?: number;
  /**
   * RAM outside the reserved ranges reads as zero at kernel entry (true for the
   * emulator's fresh RAM): pages never handed out skip the __GFP_ZERO memset.
   */
  ramIsZero?: boolean;
}

/** Reclaim and compaction, wired by mm_core_init so the buddy can be tested alone. */
export interface AllocSlowpathOps {
  wakeup_kswapd(zone: Zone, order: number): void;
  wakeup_kcompactd(order: number): void;
  /** Direct compaction (try_to_compact_pages): true when a block of `order` may now be free. */
  try_to_compact_pages(order: number, gfp: GfpFlags): boolean;
  /** Direct reclaim (try_to_free_pages): pages freed. */
  try_to_free_pages(order: number, gfp: GfpFlags): number;
}

/**
 * The OOM killer (mm/oom_kill.c), wired once tasks exist (mm_late_init): the slow
 * path's last resort after reclaim and compaction made no progress.
 */
export interface OomOps {
  /** out_of_memory: true when progress was made (a victim killed or already dying). */
  out_of_memory(gfp: GfpFlags, order: number): boolean;
  /**
   * oom_reserves_allowed: the allocating task may go below the min watermark (to
   * half of it, ALLOC_OOM): it is an OOM victim, or it waits on one (see oom_kill.ts).
   */
  oom_reserves_allowed(): boolean;
  /** tsk_is_oom_victim(current). */
  current_is_oom_victim(): boolean;
}

/** PAGE_ALLOC_COSTLY_ORDER: above it an allocation fails rather than invoke the OOM killer. */
export const PAGE_ALLOC_COSTLY_ORDER = 3;

let NODE: PgData | undefined;
let slowpath: AllocSlowpathOps | undefined;
let oomOps: OomOps | undefined;
/** Watermark scaling in 1/10000 of managed pages (vm.watermark_scale_factor). */
let watermark_scale_factor = 10;

/** NODE_DATA(0): the node, after mem_init. */
export function NODE_DATA(): PgData {
  if (NODE === undefined) throw new Error('mm: mem_init() has not run');
  return NODE;
}

export function mem_map(): MemMap {
  return NODE_DATA().mem_map;
}

export function set_alloc_slowpath_ops(ops: AllocSlowpathOps | undefined): void {
  slowpath = ops;
}

/** Installs (or, with undefined, removes) the OOM killer; mem_init removes it. */
export function set_oom_ops(ops: OomOps | undefined): void {
  oomOps = ops;
}

/**
 * free_area_init + memblock_free_all: builds the node over `memory`, splits it into
 * ZONE_NORMAL and ZONE_MOVABLE and frees every page not reserved into the buddy.
 */
export function mem_init(opts: MemInitOptions): PgData {
  if (opts.memory.length === 0) throw new Error('mem_init: no memory ranges');
  const present = opts.memory
    .map((r) => ({ start: Math.ceil(r.base / PAGE_SIZE), end: Math.floor((r.base + r.size) / PAGE_SIZE) }))
    .filter((r) => r.end > r.start)
    .sort((a, b) => a.start - b.start);
  const start = present[0]!.start;
  const end = present[present.length - 1]!.end;
  const total = present.reduce((n, r) => n + r.end - r.start, 0);
  // find_zone_movable_pfns_for_nodes: kernelcore wins; default keeps 75% in NORMAL.
  let movablePages: number;
  if (opts.kernelcore !== undefined) movablePages = Math.max(0, total - Math.floor(opts.kernelcore / PAGE_SIZE));
  else if (opts.movablecore !== undefined) movablePages = Math.floor(opts.movablecore / PAGE_SIZE);
  else movablePages = Math.floor(total / 4);
  let movableStart = Math.max(start, end - movablePages);
  movableStart = Math.ceil(movableStart / MAX_ORDER_NR_PAGES) * MAX_ORDER_NR_PAGES; // zone boundaries on max-order blocks
  if (movableStart > end) movableStart = end;

  vmstat_reset();
  oomOps = undefined;
  const map = new MemMap(end);
  const pgdat = new PgData(start, end, movableStart, map, present);
  NODE = pgdat;

  const reserved = (opts.reserved ?? []).map((r) => ({
    start: Math.floor(r.base / PAGE_SIZE),
    end: Math.ceil((r.base + r.size) / PAGE_SIZE),
  }));
  const isReserved = (pfn: number): boolean => reserved.some((r) => pfn >= r.start && pfn < r.end);
  const zeroed = opts.ramIsZero ?? true ? PG_zeroed : 0;

  // Sections wholly inside one memory range with nothing reserved stay unmaterialised:
  // their max-order blocks go straight to the free lists.
  const firstSec = start >>> PFN_SECTION_SHIFT;
  const lastSec = (end - 1) >>> PFN_SECTION_SHIFT;
  for (let s = firstSec; s <= lastSec; s++) {
    const s0 = s * PAGES_PER_SECTION;
    const s1 = s0 + PAGES_PER_SECTION;
    const whole =
      present.some((r) => r.start <= s0 && r.end >= s1) && !reserved.some((r) => r.start < s1 && r.end > s0);
    if (whole) {
      for (let pfn = s0; pfn < s1; pfn += MAX_ORDER_NR_PAGES) {
        const z = pgdat.page_zone(pfn);
        z.free_area[MAX_PAGE_ORDER]!.addTail(pfn);
        z.nr_free_pages += MAX_ORDER_NR_PAGES;
        z.managed_pages += MAX_ORDER_NR_PAGES;
      }
      continue;
    }
    const sec = map.sec(s0);
    const hi = Math.min(s1, end);
    const freeable = (pfn: number): boolean => pgdat.pfn_valid(pfn) && !isReserved(pfn);
    for (let pfn = Math.max(s0, start); pfn < hi; ) {
      const i = pfn & (PAGES_PER_SECTION - 1);
      if (!pgdat.pfn_valid(pfn)) {
        sec.flags[i] = PG_hole | PG_reserved;
        pfn++;
        continue;
      }
      if (isReserved(pfn)) {
        sec.flags[i] = PG_reserved;
        sec.refcount[i] = 1;
        pfn++;
        continue;
      }
      // __free_pages_memory: the largest aligned block of free-able pages in one zone
      const z = pgdat.page_zone(pfn);
      let order = 0;
      while (order < MAX_PAGE_ORDER && pfn % (1 << (order + 1)) === 0 && pfn + (1 << (order + 1)) <= hi && z.contains(pfn + (1 << (order + 1)) - 1)) order++;
      for (; order > 0; order--) {
        let ok = true;
        for (let q = pfn; q < pfn + (1 << order) && ok; q++) ok = freeable(q);
        if (ok) break;
      }
      const n = 1 << order;
      for (let q = pfn; q < pfn + n; q++) sec.flags[q & (PAGES_PER_SECTION - 1)] = zeroed;
      z.managed_pages += n;
      free_one_page(pgdat, z, pfn, order, true);
      pfn += n;
    }
    for (let pfn = s0; pfn < s1; pfn++) if (pfn < start || pfn >= end) sec.flags[pfn & (PAGES_PER_SECTION - 1)] = PG_hole | PG_reserved;
  }
  vm_stat[VM.nr_free_pages] = pgdat.node_zones.reduce((n, z) => n + z.nr_free_pages, 0);
  map.onMaterialise = (nr, sec) => materialiseFreeSection(nr, sec, zeroed);
  zonelists = [];
  zonelists[ZONE_NORMAL] = [pgdat.node_zones[ZONE_NORMAL]!];
  zonelists[ZONE_MOVABLE] = [pgdat.node_zones[ZONE_MOVABLE]!, pgdat.node_zones[ZONE_NORMAL]!];
  setup_per_zone_wmarks();
  return pgdat;
}

/** A section seen for the first time was all free max-order blocks: say so in its mem_map. */
function materialiseFreeSection(nr: number, sec: MemSection, zeroed: number): void {
  if (zeroed) sec.flags.fill(zeroed);
  for (let i = 0; i < PAGES_PER_SECTION; i += MAX_ORDER_NR_PAGES) {
    sec.flags[i]! |= PG_buddy;
    sec.private[i] = MAX_PAGE_ORDER;
  }
  void nr;
}

/** __setup_per_zone_wmarks with min_free_kbytes = sqrt(lowmem_kbytes * 16) (init_per_zone_wmark_min). */
export function setup_per_zone_wmarks(): void {
  const pgdat = NODE_DATA();
  const normal = pgdat.node_zones[ZONE_NORMAL]!;
  const lowmemKb = (normal.managed_pages * PAGE_SIZE) / 1024;
  const minFreeKb = Math.min(Math.max(Math.floor(Math.sqrt(lowmemKb * 16)), 128), 262144);
  const pagesMin = Math.floor((minFreeKb * 1024) / PAGE_SIZE);
  for (const z of pgdat.node_zones) {
    let min: number;
    if (z.idx === ZONE_MOVABLE) {
      // highmem/movable zones get a small reserve: managed/1024 clamped to [32, 128]
      min = Math.min(Math.max(Math.floor(z.managed_pages / 1024), 32), 128);
    } else {
      min = normal.managed_pages === 0 ? 0 : pagesMin;
    }
    if (z.managed_pages === 0) min = 0;
    const delta = Math.max(min >> 2, Math.floor((z.managed_pages * watermark_scale_factor) / 10000));
    z.wmark_min = min;
    z.wmark_low = min + delta;
    z.wmark_high = min + 2 * delta;
  }
}

export function set_watermark_scale_factor(v: number): void {
  watermark_scale_factor = v;
  if (NODE !== undefined) setup_per_zone_wmarks();
}

function page_is_buddy(map: MemMap, pgdat: PgData, pfn: number, order: number): boolean {
  if (pfn < pgdat.node_start_pfn || pfn >= pgdat.node_end_pfn) return false;
  const f = map.flags(pfn);
  return (f & PG_buddy) !== 0 && map.private_(pfn) === order;
}

function add_to_free_list(map: MemMap, z: Zone, pfn: number, order: number, tail: boolean): void {
  map.setFlags(pfn, PG_buddy);
  map.setPrivate(pfn, order);
  const l = z.free_area[order]!;
  if (tail) l.addTail(pfn);
  else l.addHead(pfn);
}

function del_page_from_free_list(map: MemMap, z: Zone, pfn: number, order: number): void {
  z.free_area[order]!.del(pfn);
  map.clearFlags(pfn, PG_buddy);
  map.setPrivate(pfn, 0);
}

/** __free_one_page: merge with free buddies up to MAX_PAGE_ORDER, then list the block. */
function free_one_page(pgdat: PgData, z: Zone, pfn: number, order: number, tail: boolean): void {
  const map = pgdat.mem_map;
  const npages = 1 << order;
  while (order < MAX_PAGE_ORDER) {
    const buddy = pfn ^ (1 << order);
    if (!z.contains(buddy) || !page_is_buddy(map, pgdat, buddy, order)) break;
    del_page_from_free_list(map, z, buddy, order);
    pfn &= ~(1 << order);
    order++;
  }
  add_to_free_list(map, z, pfn, order, tail);
  z.nr_free_pages += npages;
}

/** expand(): split a block of `high` order down to `low`, freeing the upper halves. */
function expand(map: MemMap, z: Zone, pfn: number, low: number, high: number): void {
  let size = 1 << high;
  while (high > low) {
    high--;
    size >>= 1;
    add_to_free_list(map, z, pfn + size, high, false);
  }
}

/** rmqueue: order-0 pages come from the zone's pcp list, refilled in batches (rmqueue_bulk). */
function rmqueue(pgdat: PgData, z: Zone, order: number): number {
  if (order !== 0) return rmqueue_smallest(pgdat, z, order);
  const pcp = z.pcp;
  if (pcp.count === 0) {
    rmqueue_bulk(pgdat, z, z.pcp_batch);
    if (pcp.count === 0) return -1;
  }
  const pfn = pcp.head;
  pcp.del(pfn);
  z.nr_free_pages -= 1;
  return pfn;
}

/**
 * rmqueue_bulk: moves up to `count` order-0 pages to the pcp list, in the order
 * __rmqueue_smallest would hand them out one at a time (smallest free block first,
 * ascending PFNs, the split-off buddies left on the free lists) but moving each free
 * block whole, or its largest aligned head that fits, instead of splitting page by page.
 */
function rmqueue_bulk(pgdat: PgData, z: Zone, count: number): void {
  const map = pgdat.mem_map;
  const pcp = z.pcp;
  while (count > 0) {
    let o = 0;
    while (o <= MAX_PAGE_ORDER && z.free_area[o]!.head < 0) o++;
    if (o > MAX_PAGE_ORDER) return;
    const pfn = z.free_area[o]!.head;
    del_page_from_free_list(map, z, pfn, o);
    // Take the block's lowest 2^k pages (k: the largest order that fits); the rest goes back as buddies.
    let k = o;
    while (1 << k > count) k--;
    expand(map, z, pfn, k, o);
    const n = 1 << k;
    for (let i = 0; i < n; i++) pcp.addTail(pfn + i); // still free (nr_free_pages unchanged), now on the pcp list
    count -= n;
  }
}

/** free_unref_page: an order-0 page goes to the pcp list; above pcp->high a batch returns to the buddy. */
function free_unref_page(pgdat: PgData, z: Zone, pfn: number): void {
  const pcp = z.pcp;
  pcp.addHead(pfn);
  z.nr_free_pages += 1;
  if (pcp.count > z.pcp_high) {
    for (let i = 0; i < z.pcp_batch && pcp.tail >= 0; i++) {
      const p = pcp.tail;
      pcp.del(p);
      z.nr_free_pages -= 1;
      free_one_page(pgdat, z, p, 0, false);
    }
  }
}

/** drain_all_pages: every pcp page back into the buddy (before compaction and reclaim). */
export function drain_all_pages(): void {
  const pgdat = NODE_DATA();
  for (const z of pgdat.node_zones) {
    const pcp = z.pcp;
    while (pcp.tail >= 0) {
      const p = pcp.tail;
      pcp.del(p);
      z.nr_free_pages -= 1;
      free_one_page(pgdat, z, p, 0, false);
    }
  }
}

/** __rmqueue_smallest: the smallest free block of at least `order`, split down. */
function rmqueue_smallest(pgdat: PgData, z: Zone, order: number): number {
  const map = pgdat.mem_map;
  for (let o = order; o <= MAX_PAGE_ORDER; o++) {
    const l = z.free_area[o]!;
    const pfn = l.head;
    if (pfn < 0) continue;
    del_page_from_free_list(map, z, pfn, o);
    expand(map, z, pfn, order, o);
    z.nr_free_pages -= 1 << order;
    return pfn;
  }
  return -1;
}

/** __zone_watermark_ok: enough free pages above `mark`, and a free block of `order`. */
export function zone_watermark_ok(z: Zone, order: number, mark: number): boolean {
  const free = z.nr_free_pages - ((1 << order) - 1);
  if (free <= mark) return false;
  if (order === 0) return true;
  for (let o = order; o <= MAX_PAGE_ORDER; o++) if (z.free_area[o]!.count > 0) return true;
  return false;
}

/** Zones an allocation may use, highest first (the zonelist), built once per node. */
let zonelists: Zone[][] = [];
function zonelist(pgdat: PgData, gfp: GfpFlags): Zone[] {
  void pgdat;
  return zonelists[gfp_zone(gfp)]!;
}

const WMARK_MIN = 0;
const WMARK_LOW = 1;
const WMARK_HIGH = 2;
/** ALLOC_OOM: an OOM victim may use half of the min reserve (__zone_watermark_ok). */
const WMARK_OOM = 3;

function get_page_from_freelist(pgdat: PgData, gfp: GfpFlags, order: number, wmark: number): number {
  for (const z of zonelist(pgdat, gfp)) {
    if (z.managed_pages === 0) continue;
    const mark = wmark === WMARK_LOW ? z.wmark_low : wmark === WMARK_MIN ? z.wmark_min : wmark === WMARK_HIGH ? z.wmark_high : z.wmark_min - (z.wmark_min >> 1);
    if (!zone_watermark_ok(z, order, mark)) continue;
    const pfn = rmqueue(pgdat, z, order);
    if (pfn >= 0) {
      prep_new_page(pgdat, z, pfn, order, gfp);
      return pfn;
    }
  }
  return -1;
}

function prep_new_page(pgdat: PgData, z: Zone, pfn: number, order: number, gfp: GfpFlags): void {
  const map = pgdat.mem_map;
  if (order === 0) {
    // The page fault's case: one page, no loop.
    vm_stat[VM.nr_free_pages]! -= 1;
    vm_stat[z.idx === ZONE_MOVABLE ? VM.pgalloc_movable : VM.pgalloc_normal]! += 1;
    const sec = map.sec(pfn);
    const j = pfn & (PAGES_PER_SECTION - 1);
    if ((gfp & __GFP_ZERO) !== 0 && (sec.flags[j]! & PG_zeroed) === 0) thisCpu().fillPhys(pfn * PAGE_SIZE, 0, PAGE_SIZE);
    sec.flags[j] = 0;
    sec.refcount[j] = 1;
    return;
  }
  const n = 1 << order;
  vm_stat[VM.nr_free_pages]! -= n;
  count_vm_events(z.idx === ZONE_MOVABLE ? VM.pgalloc_movable : VM.pgalloc_normal, n);
  const zero = (gfp & __GFP_ZERO) !== 0;
  let cpu: ReturnType<typeof thisCpu> | undefined;
  for (let i = 0; i < n; i++) {
    const p = pfn + i;
    const sec = map.sec(p);
    const j = p & (PAGES_PER_SECTION - 1);
    if (zero && (sec.flags[j]! & PG_zeroed) === 0) {
      cpu ??= thisCpu();
      cpu.fillPhys(p * PAGE_SIZE, 0, PAGE_SIZE);
    }
    sec.flags[j] = 0;
    sec.refcount[j] = i === 0 ? 1 : 0;
  }
  if (order > 0) {
    map.setFlags(pfn, PG_head);
    map.setPrivate(pfn, order);
  }
}

/**
 * alloc_pages(gfp, order) (__alloc_pages): returns the first PFN of 2^order pages
 * with refcount 1, or -1. Below the low watermark kswapd is woken; then the min
 * watermark is tried; allocations that may sleep compact (order > 0) and reclaim.
 */
export function alloc_pages(order: number, gfp: GfpFlags): number {
  const pgdat = NODE_DATA();
  if (order === 0) {
    // Fast path: a hot page from the first zone's pcp list above its low watermark.
    const z = zonelists[gfp_zone(gfp)]![0]!;
    if (z.pcp.count > 0 && z.nr_free_pages - 1 > z.wmark_low) {
      const pfn = z.pcp.head;
      z.pcp.del(pfn);
      z.nr_free_pages -= 1;
      prep_new_page(pgdat, z, pfn, 0, gfp);
      return pfn;
    }
  }
  if (!(order >= 0 && order <= MAX_PAGE_ORDER)) return -1;
  let pfn = get_page_from_freelist(pgdat, gfp, order, WMARK_LOW);
  if (pfn >= 0) return pfn;
  // __alloc_pages_slowpath
  if (gfp & __GFP_KSWAPD_RECLAIM && slowpath !== undefined) {
    for (const z of zonelist(pgdat, gfp)) slowpath.wakeup_kswapd(z, order);
    if (order > 0) slowpath.wakeup_kcompactd(order);
  }
  pfn = get_page_from_freelist(pgdat, gfp, order, WMARK_MIN);
  if (pfn >= 0) return pfn;
  if (order > 0) {
    drain_all_pages();
    pfn = get_page_from_freelist(pgdat, gfp, order, WMARK_MIN);
    if (pfn >= 0) return pfn;
  }
  if (!(gfp & __GFP_DIRECT_RECLAIM) || slowpath === undefined) return -1;
  // should_reclaim_retry: keep going while reclaim makes progress (MAX_RECLAIM_RETRIES without it)
  for (let attempt = 0, noProgress = 0; attempt < 256 && noProgress < 16; attempt++) {
    if (order > 0) {
      count_vm_event(VM.compact_stall);
      if (slowpath.try_to_compact_pages(order, gfp)) {
        pfn = get_page_from_freelist(pgdat, gfp, order, WMARK_MIN);
        if (pfn >= 0) {
          count_vm_event(VM.compact_success);
          return pfn;
        }
      }
      count_vm_event(VM.compact_fail);
    }
    count_vm_event(gfp & __GFP_MOVABLE ? VM.allocstall_movable : VM.allocstall_normal);
    const freed = slowpath.try_to_free_pages(order, gfp);
    pfn = get_page_from_freelist(pgdat, gfp, order, WMARK_MIN);
    if (pfn >= 0) return pfn;
    if (freed === 0) noProgress++;
    if (freed === 0 && order === 0 && noProgress >= 2) break;
  }
  return __alloc_pages_may_oom(pgdat, gfp, order);
}

/**
 * __alloc_pages_may_oom and what follows it in __alloc_pages_slowpath: reclaim and
 * compaction gave up, so an allocation that may not fail on its own invokes the OOM
 * killer (not __GFP_NORETRY, not __GFP_RETRY_MAYFAIL, not above the costly order;
 * atomic and GFP_NOWAIT allocations never get here) and tries again, an OOM victim
 * with ALLOC_OOM. Linux then loops back to reclaim until the victim's memory is back;
 * here the allocating context cannot sleep while the victim exits, so it retries once
 * after the kill (the OOM reaper has run in out_of_memory when it could) and fails
 * otherwise: the caller sees -ENOMEM or VM_FAULT_OOM.
 */
function __alloc_pages_may_oom(pgdat: PgData, gfp: GfpFlags, order: number): number {
  const oom = oomOps;
  if (oom === undefined || slowpath === undefined) return -1;
  if (gfp & __GFP_NORETRY) return -1;
  if (order > PAGE_ALLOC_COSTLY_ORDER && !(gfp & __GFP_RETRY_MAYFAIL)) return -1;
  // A racing free (another core) may have made room: the high watermark keeps this from succeeding on a whim.
  let pfn = get_page_from_freelist(pgdat, gfp, order, WMARK_HIGH);
  if (pfn >= 0) return pfn;
  if (order > PAGE_ALLOC_COSTLY_ORDER || gfp & __GFP_RETRY_MAYFAIL) return -1;
  const progress = oom.out_of_memory(gfp, order) || (gfp & __GFP_NOFAIL) !== 0;
  if (!progress) return -1;
  const wmark = oom.oom_reserves_allowed() ? WMARK_OOM : WMARK_MIN;
  pfn = get_page_from_freelist(pgdat, gfp, order, wmark);
  if (pfn >= 0) return pfn;
  // Avoid allocations with no watermarks from looping endlessly: a victim that failed with ALLOC_OOM gives up.
  if (oom.current_is_oom_victim() && wmark === WMARK_OOM) return -1;
  // did_some_progress: back to reclaim once, now that the victim's memory may be free.
  if (order > 0) {
    drain_all_pages();
    if (slowpath.try_to_compact_pages(order, gfp)) {
      pfn = get_page_from_freelist(pgdat, gfp, order, wmark);
      if (pfn >= 0) return pfn;
    }
  }
  slowpath.try_to_free_pages(order, gfp);
  return get_page_from_freelist(pgdat, gfp, order, wmark);
}

/** alloc_page(gfp). */
export function alloc_page(gfp: GfpFlags): number {
  return alloc_pages(0, gfp);
}

/** __get_free_pages: the physical address of 2^order pages, or -1. */
export function __get_free_pages(gfp: GfpFlags, order: number): number {
  const pfn = alloc_pages(order, gfp);
  return pfn < 0 ? -1 : pfn * PAGE_SIZE;
}

export function get_zeroed_page(gfp: GfpFlags): number {
  return __get_free_pages(gfp | __GFP_ZERO, 0);
}

/**
 * __isolate_free_page for compaction's free scanner: takes the free block headed by
 * `pfn` off its free list (counted as allocated) and returns its order, or -1 when
 * `pfn` does not head a free block. Its pages are left with refcount 0, no flags.
 */
export function isolate_free_block(pfn: number): number {
  const pgdat = NODE_DATA();
  const map = pgdat.mem_map;
  if (!map.testFlags(pfn, PG_buddy)) return -1;
  const order = map.private_(pfn);
  const z = pgdat.page_zone(pfn);
  del_page_from_free_list(map, z, pfn, order);
  const n = 1 << order;
  z.nr_free_pages -= n;
  vm_stat[VM.nr_free_pages]! -= n;
  for (let i = 0; i < n; i++) map.clearFlags(pfn + i, ~0);
  return order;
}

/** prep_new_page for a page compaction took from the buddy: refcount 1. */
export function prep_isolated_page(pfn: number): void {
  mem_map().setRefcount(pfn, 1);
}

/** Gives 2^order pages starting at `pfn` back to the buddy (free_pages_prepare + __free_one_page). */
export function free_pages_to_buddy(pfn: number, order: number, countFree = true): void {
  const pgdat = NODE_DATA();
  const map = pgdat.mem_map;
  const n = 1 << order;
  for (let i = 0; i < n; i++) {
    const p = pfn + i;
    const sec = map.sec(p);
    const j = p & (PAGES_PER_SECTION - 1);
    sec.flags[j] = 0;
    sec.refcount[j] = 0;
    sec.mapcount[j] = 0;
    sec.private[j] = 0;
    sec.mapping[j] = 0;
    sec.index[j] = 0;
  }
  const z = pgdat.page_zone(pfn);
  if (order === 0) free_unref_page(pgdat, z, pfn);
  else free_one_page(pgdat, z, pfn, order, false);
  vm_stat[VM.nr_free_pages]! += n;
  if (countFree) count_vm_events(VM.pgfree, n);
}

/** __free_pages(page, order): drops a reference; the block is freed when it was the last. */
export function __free_pages(pfn: number, order: number): void {
  const map = mem_map();
  if (map.refAdd(pfn, -1) === 0) free_pages_to_buddy(pfn, order);
}

/** free_pages(addr, order) for a physical address from __get_free_pages. */
export function free_pages(pa: number, order: number): void {
  __free_pages(Math.floor(pa / PAGE_SIZE), order);
}

/** get_page(). */
export function get_page(pfn: number): void {
  mem_map().refAdd(pfn, 1);
}

/** page_count(). */
export function page_count(pfn: number): number {
  return mem_map().refcount(pfn);
}

/** Hooks run when a user page is freed by put_page (the LRU and swap cache live elsewhere). */
export interface PageFreeHooks {
  /** Removes the page from its LRU list (folio_del_from_lru via __folio_put). */
  del_from_lru(pfn: number): void;
}
let freeHooks: PageFreeHooks | undefined;
export function set_page_free_hooks(h: PageFreeHooks | undefined): void {
  freeHooks = h;
}

/** put_page(): drops a reference; on the last one the page leaves the LRU and is freed (__folio_put). */
export function put_page(pfn: number): void {
  const map = mem_map();
  const c = map.refAdd(pfn, -1);
  if (c > 0) return;
  if (c < 0) {
    // A double put: keep the allocator consistent rather than freeing twice (Linux: VM_BUG_ON_PAGE).
    map.setRefcount(pfn, 0);
    return;
  }
  const f = map.flags(pfn);
  if (f & PG_lru) freeHooks?.del_from_lru(pfn);
  if (f & PG_mlocked) vm_stat[VM.nr_mlock]! -= 1;
  if (f & PG_dirty) map.clearFlags(pfn, PG_dirty);
  const order = f & PG_head ? map.private_(pfn) : 0;
  free_pages_to_buddy(pfn, order);
}

/** Free pages per order of a zone (/proc/buddyinfo). */
export function buddyinfo(): string {
  const pgdat = NODE_DATA();
  let out = '';
  for (const z of pgdat.node_zones) {
    out += `Node 0, zone ${z.name.padStart(8)}`;
    for (const l of z.free_area) out += ` ${String(l.count).padStart(6)}`;
    out += '\n';
  }
  return out;
}

/** Total free pages of the node. */
export function nr_free_pages(): number {
  return vm_stat[VM.nr_free_pages]!;
}

export function totalram_pages(): number {
  const pgdat = NODE_DATA();
  return pgdat.node_zones.reduce((n, z) => n + z.managed_pages, 0);
}

/**
 * The allocator consistency check the fuzzers run: every free block is listed once,
 * aligned, in the right zone and order, and every page of the node is either inside
 * exactly one free block or in use (refcount > 0, reserved, or a tail of an in-use
 * multi-page block). Returns the problems found (empty when consistent).
 */
export function check_page_alloc_consistency(maxErrors = 20): string[] {
  const pgdat = NODE_DATA();
  const map = pgdat.mem_map;
  const start = pgdat.node_start_pfn;
  const span = pgdat.node_end_pfn - start;
  const free = new Uint8Array(span);
  const errs: string[] = [];
  const err = (s: string): void => {
    if (errs.length < maxErrors) errs.push(s);
  };
  let totalFree = 0;
  for (const z of pgdat.node_zones) {
    let zoneFree = 0;
    for (let o = 0; o <= MAX_PAGE_ORDER; o++) {
      const l = z.free_area[o]!;
      let n = 0;
      for (let pfn = l.head; pfn >= 0; pfn = l.next(pfn)) {
        if (++n > span) {
          err(`zone ${z.name} order ${o}: free list loops`);
          break;
        }
        if (!z.contains(pfn) || !z.contains(pfn + (1 << o) - 1)) err(`pfn 0x${pfn.toString(16)} order ${o} outside zone ${z.name}`);
        if (pfn & ((1 << o) - 1)) err(`pfn 0x${pfn.toString(16)} misaligned for order ${o}`);
        if (map.isMaterialised(pfn) && (!map.testFlags(pfn, PG_buddy) || map.private_(pfn) !== o)) {
          err(`pfn 0x${pfn.toString(16)} on order-${o} list without PG_buddy/order`);
        }
        for (let i = 0; i < 1 << o; i++) {
          const p = pfn + i - start;
          if (free[p]) err(`pfn 0x${(pfn + i).toString(16)} free twice`);
          free[p] = 1;
          if (map.refcount(pfn + i) !== 0) err(`free pfn 0x${(pfn + i).toString(16)} has refcount ${map.refcount(pfn + i)}`);
        }
        zoneFree += 1 << o;
      }
      if (n !== l.count) err(`zone ${z.name} order ${o}: count ${l.count} but ${n} listed`);
    }
    let n = 0;
    for (let pfn = z.pcp.head; pfn >= 0; pfn = z.pcp.next(pfn)) {
      if (++n > span) {
        err(`zone ${z.name}: pcp list loops`);
        break;
      }
      if (!z.contains(pfn)) err(`pcp pfn 0x${pfn.toString(16)} outside zone ${z.name}`);
      if (free[pfn - start]) err(`pfn 0x${pfn.toString(16)} free twice (pcp)`);
      free[pfn - start] = 1;
      if (map.refcount(pfn) !== 0) err(`pcp pfn 0x${pfn.toString(16)} has refcount ${map.refcount(pfn)}`);
      zoneFree++;
    }
    if (n !== z.pcp.count) err(`zone ${z.name}: pcp count ${z.pcp.count} but ${n} listed`);
    if (zoneFree !== z.nr_free_pages) err(`zone ${z.name}: nr_free_pages ${z.nr_free_pages} but ${zoneFree} listed`);
    totalFree += zoneFree;
  }
  if (totalFree !== vm_stat[VM.nr_free_pages]) err(`NR_FREE_PAGES ${vm_stat[VM.nr_free_pages]} but ${totalFree} listed`);
  for (let pfn = start; pfn < pgdat.node_end_pfn; pfn++) {
    if (!map.isMaterialised(pfn)) {
      const secEnd = ((pfn >>> PFN_SECTION_SHIFT) + 1) * PAGES_PER_SECTION;
      for (; pfn < Math.min(secEnd, pgdat.node_end_pfn); pfn++) if (!free[pfn - start]) err(`untouched pfn 0x${pfn.toString(16)} not free`);
      pfn--;
      continue;
    }
    if (free[pfn - start]) continue;
    const f = map.flags(pfn);
    if (f & PG_reserved) continue;
    const rc = map.refcount(pfn);
    if (rc <= 0) {
      err(`pfn 0x${pfn.toString(16)} neither free nor in use (refcount ${rc})`);
      continue;
    }
    if (f & PG_head) pfn += (1 << map.private_(pfn)) - 1;
  }
  return errs;
}
