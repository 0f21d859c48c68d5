// Memory node and zones (include/linux/mmzone.h): pglist_data, struct zone with its
// buddy free_area[] and watermarks, and the node's LRU lists. Lists link PFNs through
// the mem_map's next/prev arrays (page->buddy_list / page->lru); free max-order
// blocks link through per-block arrays so untouched sections stay unmaterialised.

import { MAX_NR_ZONES, ZONE_MOVABLE, ZONE_NORMAL } from './gfp.js';
import { MAX_PAGE_ORDER, MemMap, NR_PAGE_ORDERS, PAGES_PER_SECTION } from './page.js';

// Not the exported PAGES_PER_SECTION - 1: an exported constant is read from its module cell at each use.
const SECTION_PFN_MASK = PAGES_PER_SECTION - 1;

/** Both pages' fields live in one section's arrays (list neighbours usually do). */
function sameSection(a: number, b: number): boolean {
  return (a ^ b) <= SECTION_PFN_MASK;
}

/** A doubly linked list of pages through MemMap.next/prev (list_head of struct page). */
export class PfnList {
  head = -1;
  tail = -1;
  count = 0;

  constructor(private readonly map: MemMap) {}

  addHead(pfn: number): void {
    const map = this.map;
    const s = map.sec(pfn);
    const i = pfn & SECTION_PFN_MASK;
    const h = this.head;
    s.prev[i] = -1;
    s.next[i] = h;
    if (h >= 0) (sameSection(h, pfn) ? s : map.sec(h)).prev[h & SECTION_PFN_MASK] = pfn;
    else this.tail = pfn;
    this.head = pfn;
    this.count++;
  }

  addTail(pfn: number): void {
    const map = this.map;
    const s = map.sec(pfn);
    const i = pfn & SECTION_PFN_MASK;
    const t = this.tail;
    s.next[i] = -1;
    s.prev[i] = t;
    if (t >= 0) (sameSection(t, pfn) ? s : map.sec(t)).next[t & SECTION_PFN_MASK] = pfn;
    else this.head = pfn;
    this.tail = pfn;
    this.count++;
  }

  del(pfn: number): void {
    const map = this.map;
    const s = map.sec(pfn);
    const i = pfn & SECTION_PFN_MASK;
    const n = s.next[i]!;
    const p = s.prev[i]!;
    if (p >= 0) (sameSection(p, pfn) ? s : map.sec(p)).next[p & SECTION_PFN_MASK] = n;
    else this.head = n;
    if (n >= 0) (sameSection(n, pfn) ? s : map.sec(n)).prev[n & SECTION_PFN_MASK] = p;
    else this.tail = p;
    s.next[i] = -1;
    s.prev[i] = -1;
    this.count--;
  }

  next(pfn: number): number {
    return this.map.sec(pfn).next[pfn & SECTION_PFN_MASK]!;
  }
}

/** Free max-order blocks, linked through per-block arrays indexed by pfn >> MAX_PAGE_ORDER. */
export class BlockList {
  head = -1;
  tail = -1;
  count = 0;

  constructor(
    private readonly nextArr: Int32Array,
    private readonly prevArr: Int32Array,
  ) {}

  addHead(pfn: number): void {
    const b = pfn >>> MAX_PAGE_ORDER;
    this.prevArr[b] = -1;
    this.nextArr[b] = this.head;
    if (this.head >= 0) this.prevArr[this.head >>> MAX_PAGE_ORDER] = pfn;
    else this.tail = pfn;
    this.head = pfn;
    this.count++;
  }

  addTail(pfn: number): void {
    const b = pfn >>> MAX_PAGE_ORDER;
    this.nextArr[b] = -1;
    this.prevArr[b] = this.tail;
    if (this.tail >= 0) this.nextArr[this.tail >>> MAX_PAGE_ORDER] = pfn;
    else this.head = pfn;
    this.tail = pfn;
    this.count++;
  }

  del(pfn: number): void {
    const b = pfn >>> MAX_PAGE_ORDER;
    const n = this.nextArr[b]!;
    const p = this.prevArr[b]!;
    if (p >= 0) this.nextArr[p >>> MAX_PAGE_ORDER] = n;
    else this.head = n;
    if (n >= 0) this.prevArr[n >>> MAX_PAGE_ORDER] = p;
    else this.tail = p;
    this.nextArr[b] = -1;
    this.prevArr[b] = -1;
    this.count--;
  }

  next(pfn: number): number {
    return this.nextArr[pfn >>> MAX_PAGE_ORDER]!;
  }
}

export type FreeList = PfnList | BlockList;

export const ZONE_NAMES = ['Normal', 'Movable'] as const;

/** struct zone. */
export class Zone {
  /** free_area[order]: lists of free blocks of 2^order pages. */
  readonly free_area: FreeList[];
  /** NR_FREE_PAGES of this zone. */
  nr_free_pages = 0;
  /** Pages given to the buddy allocator at boot (zone_managed_pages). */
  managed_pages = 0;
  /** _watermark[WMARK_MIN/LOW/HIGH] in pages. */
  wmark_min = 0;
  wmark_low = 0;
  wmark_high = 0;
  /** Compaction's cached scanner positions (compact_cached_migrate_pfn/free_pfn). */
  compact_cached_migrate_pfn = 0;
  compact_cached_free_pfn = 0;
  /**
   * per_cpu_pages: a cache of free order-0 pages in front of the buddy lists, so the
   * fault path does not split and merge blocks for every page (one list per zone here:
   * cores run one at a time). Its pages count as free in nr_free_pages.
   */
  readonly pcp: PfnList;
  /** pcp->high and pcp->batch. */
  pcp_high = 512;
  pcp_batch = 63;

  constructor(
    readonly idx: number,
    readonly name: string,
    /** First and one-past-last PFN of the zone span. */
    readonly zone_start_pfn: number,
    readonly zone_end_pfn: number,
    map: MemMap,
    blockNext: Int32Array,
    blockPrev: Int32Array,
  ) {
    this.free_area = [];
    for (let o = 0; o < NR_PAGE_ORDERS; o++) {
      this.free_area.push(o === MAX_PAGE_ORDER ? new BlockList(blockNext, blockPrev) : new PfnList(map));
    }
    this.compact_cached_migrate_pfn = zone_start_pfn;
    this.compact_cached_free_pfn = zone_end_pfn;
    this.pcp = new PfnList(map);
  }

  get spanned_pages(): number {
    return this.zone_end_pfn - this.zone_start_pfn;
  }

  contains(pfn: number): boolean {
    return pfn >= this.zone_start_pfn && pfn < this.zone_end_pfn;
  }
}

/** LRU list indexes (enum lru_list). */
export const LRU_INACTIVE_ANON = 0;
export const LRU_ACTIVE_ANON = 1;
export const LRU_INACTIVE_FILE = 2;
export const LRU_ACTIVE_FILE = 3;
export const LRU_UNEVICTABLE = 4;
export const NR_LRU_LISTS = 5;

export interface MemRange {
  readonly base: number;
  readonly size: number;
}

/** struct pglist_data: the one memory node. */
export class PgData {
  readonly node_zones: Zone[];
  readonly lruvec: PfnList[];
  /** Per-block links of the max-order free lists. */
  readonly blockNext: Int32Array;
  readonly blockPrev: Int32Array;
  /** kswapd / kcompactd requests (pgdat->kswapd_order, kcompactd_max_order). */
  kswapd_order = -1;
  kcompactd_max_order = -1;

  constructor(
    readonly node_start_pfn: number,
    readonly node_end_pfn: number,
    readonly movable_start_pfn: number,
    readonly mem_map: MemMap,
    /** Memory ranges in PFNs (sorted); PFNs in the span but outside them are holes. */
    readonly present: readonly { start: number; end: number }[],
  ) {
    const nblocks = Math.ceil(node_end_pfn / (1 << MAX_PAGE_ORDER)) + 1;
    this.blockNext = new Int32Array(nblocks).fill(-1);
    this.blockPrev = new Int32Array(nblocks).fill(-1);
    const zones: Zone[] = [];
    zones[ZONE_NORMAL] = new Zone(ZONE_NORMAL, ZONE_NAMES[0], node_start_pfn, movable_start_pfn, mem_map, this.blockNext, this.blockPrev);
    zones[ZONE_MOVABLE] = new Zone(ZONE_MOVABLE, ZONE_NAMES[1], movable_start_pfn, node_end_pfn, mem_map, this.blockNext, this.blockPrev);
    this.node_zones = zones;
    this.lruvec = [];
    for (let l = 0; l < NR_LRU_LISTS; l++) this.lruvec.push(new PfnList(mem_map));
    if (zones.length !== MAX_NR_ZONES) throw new Error('zones');
  }

  get node_spanned_pages(): number {
    return this.node_end_pfn - this.node_start_pfn;
  }

  /** page_zone(). */
  page_zone(pfn: number): Zone {
    return this.node_zones[pfn >= this.movable_start_pfn ? ZONE_MOVABLE : ZONE_NORMAL]!;
  }

  /** pfn_valid(): a PFN of RAM (not a hole, inside the node). */
  pfn_valid(pfn: number): boolean {
    for (const r of this.present) if (pfn >= r.start && pfn < r.end) return true;
    return false;
  }
}
