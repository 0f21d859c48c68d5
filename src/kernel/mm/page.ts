// struct page, as typed arrays. Linux keeps one struct page per page frame in the
// mem_map; here each field is a typed array indexed by PFN, grouped per memory
// section as SPARSEMEM does (include/linux/mmzone.h, mem_section). A section's arrays
// are created the first time one of its pages leaves a free max-order block, so a
// 16 GiB guest that touches 100 MiB pays for the sections it touched only: untouched
// sections are implicitly "free, in order-MAX_PAGE_ORDER buddy blocks".

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
export const PAGE_MASK = PAGE_SIZE - 1;

/** include/linux/mmzone.h: MAX_PAGE_ORDER (orders 0..10, 4 MiB blocks with 4 KiB pages). */
export const MAX_PAGE_ORDER = 10;
export const NR_PAGE_ORDERS = MAX_PAGE_ORDER + 1;
export const MAX_ORDER_NR_PAGES = 1 << MAX_PAGE_ORDER;

/** arm64 SECTION_SIZE_BITS = 27: 128 MiB sections, 32768 pages each. */
export const PFN_SECTION_SHIFT = 27 - PAGE_SHIFT;
export const PAGES_PER_SECTION = 1 << PFN_SECTION_SHIFT;
const SECTION_PFN_MASK = PAGES_PER_SECTION - 1;

/** include/linux/mm.h: a FOLL_PIN adds this to the refcount (mm/gup.c). */
export const GUP_PIN_COUNTING_BIAS = 1024;

// page->flags (include/linux/page-flags.h). Linux keeps PageBuddy and PageTable in
// page_type and PageAnon in the low bit of page->mapping; here they are flags too.
export const PG_locked = 1 << 0;
export const PG_referenced = 1 << 1;
export const PG_uptodate = 1 << 2;
export const PG_dirty = 1 << 3;
export const PG_lru = 1 << 4;
export const PG_active = 1 << 5;
export const PG_reserved = 1 << 6;
export const PG_writeback = 1 << 7;
export const PG_swapcache = 1 << 8;
export const PG_swapbacked = 1 << 9;
export const PG_unevictable = 1 << 10;
export const PG_mlocked = 1 << 11;
/** page_type PG_buddy: the head of a free block; `private` holds its order. */
export const PG_buddy = 1 << 12;
/** page_type PG_table: a page-table page. */
export const PG_table = 1 << 13;
/** PAGE_MAPPING_ANON: `mapping` is an anon_vma. */
export const PG_anon = 1 << 14;
/** __PageMovable / LRU isolation by compaction or migration (isolate_movable_page). */
export const PG_isolated = 1 << 15;
/** Kernel allocation that must never move (slab-like, driver buffers). */
export const PG_slab = 1 << 16;
/** Page content is known to be zero: never handed out since boot, so __GFP_ZERO can skip the memset. */
export const PG_zeroed = 1 << 17;
/** Not RAM: a hole between memory ranges inside the node span (pfn_valid() is false). */
export const PG_hole = 1 << 18;
/** The shared zero page (ZERO_PAGE(0)). */
export const PG_zero_page = 1 << 19;

export const PAGE_FLAG_NAMES: readonly (readonly [number, string])[] = [
  [PG_locked, 'locked'],
  [PG_referenced, 'referenced'],
  [PG_uptodate, 'uptodate'],
  [PG_dirty, 'dirty'],
  [PG_lru, 'lru'],
  [PG_active, 'active'],
  [PG_reserved, 'reserved'],
  [PG_writeback, 'writeback'],
  [PG_swapcache, 'swapcache'],
  [PG_swapbacked, 'swapbacked'],
  [PG_unevictable, 'unevictable'],
  [PG_mlocked, 'mlocked'],
  [PG_buddy, 'buddy'],
  [PG_table, 'table'],
  [PG_anon, 'anon'],
  [PG_isolated, 'isolated'],
  [PG_slab, 'slab'],
  [PG_zeroed, 'zeroed'],
  [PG_hole, 'hole'],
  [PG_zero_page, 'zero_page'],
];

/** One memory section's slice of the mem_map. */
export class MemSection {
  readonly flags = new Uint32Array(PAGES_PER_SECTION);
  /** page->_refcount. */
  readonly refcount = new Int32Array(PAGES_PER_SECTION);
  /** Number of PTEs mapping the page (page_mapcount(); Linux stores it biased by -1). */
  readonly mapcount = new Int32Array(PAGES_PER_SECTION);
  /** page->private: buddy order when PG_buddy, swap entry when PG_swapcache. */
  readonly private = new Int32Array(PAGES_PER_SECTION);
  /** page->mapping: id of an AnonVma or AddressSpace in the mapping registry (0: none). */
  readonly mapping = new Int32Array(PAGES_PER_SECTION);
  /** page->index: linear page index in the mapping (VA >> PAGE_SHIFT for anon). */
  readonly index = new Float64Array(PAGES_PER_SECTION);
  /** page->lru / buddy_list links (PFNs, -1 = none). */
  readonly next = new Int32Array(PAGES_PER_SECTION).fill(-1);
  readonly prev = new Int32Array(PAGES_PER_SECTION).fill(-1);
}

/** A mapping page->mapping may point at (AnonVma, AddressSpace): registered to get an id. */
export interface PageMapping {
  readonly mappingId: number;
}

/**
 * The mem_map of the node: PFN-indexed fields, materialised per section. Field access
 * goes through `sec(pfn)` then `pfn & SECTION_PFN_MASK`; readers of an untouched
 * section see a free max-order block.
 */
export class MemMap {
  readonly sections: (MemSection | undefined)[];
  /** Called when a section is materialised, so the allocator can mark its free max-order heads. */
  onMaterialise: ((sectionNr: number, sec: MemSection) => void) | undefined;
  private readonly mappings: (PageMapping | undefined)[] = [undefined];
  private readonly freeMappingIds: number[] = [];

  constructor(readonly endPfn: number) {
    this.sections = new Array<MemSection | undefined>(Math.ceil(endPfn / PAGES_PER_SECTION)).fill(undefined);
  }

  /** The section of `pfn`, created on first use. */
  sec(pfn: number): MemSection {
    // Every page fault asks here several times: the creation stays out of line, so the
    // compiled callers keep only the load and the check.
    const s = this.sections[pfn >>> PFN_SECTION_SHIFT];
    return s !== undefined ? s : this.materialise(pfn >>> PFN_SECTION_SHIFT);
  }

  private materialise(nr: number): MemSection {
    const s = new MemSection();
    this.sections[nr] = s;
    this.onMaterialise?.(nr, s);
    return s;
  }

  isMaterialised(pfn: number): boolean {
    return this.sections[pfn >>> PFN_SECTION_SHIFT] !== undefined;
  }

  /** Host bytes spent on materialised sections. */
  get hostBytes(): number {
    let n = 0;
    for (const s of this.sections) if (s !== undefined) n += PAGES_PER_SECTION * 36;
    return n;
  }

  flags(pfn: number): number {
    const s = this.sections[pfn >>> PFN_SECTION_SHIFT];
    return s === undefined ? 0 : s.flags[pfn & SECTION_PFN_MASK]!;
  }
  setFlags(pfn: number, bits: number): void {
    this.sec(pfn).flags[pfn & SECTION_PFN_MASK]! |= bits;
  }
  /** Materialises the section first, so an implied state (free max-order heads) is not resurrected afterwards. */
  clearFlags(pfn: number, bits: number): void {
    this.sec(pfn).flags[pfn & SECTION_PFN_MASK]! &= ~bits;
  }
  testFlags(pfn: number, bits: number): boolean {
    return (this.flags(pfn) & bits) !== 0;
  }

  refcount(pfn: number): number {
    const s = this.sections[pfn >>> PFN_SECTION_SHIFT];
    return s === undefined ? 0 : s.refcount[pfn & SECTION_PFN_MASK]!;
  }
  setRefcount(pfn: number, v: number): void {
    this.sec(pfn).refcount[pfn & SECTION_PFN_MASK] = v;
  }
  /** page_ref_add(); returns the new count. */
  refAdd(pfn: number, n: number): number {
    const s = this.sec(pfn);
    const i = pfn & SECTION_PFN_MASK;
    return (s.refcount[i] = s.refcount[i]! + n);
  }

  mapcount(pfn: number): number {
    const s = this.sections[pfn >>> PFN_SECTION_SHIFT];
    return s === undefined ? 0 : s.mapcount[pfn & SECTION_PFN_MASK]!;
  }
  mapcountAdd(pfn: number, n: number): number {
    const s = this.sec(pfn);
    const i = pfn & SECTION_PFN_MASK;
    return (s.mapcount[i] = s.mapcount[i]! + n);
  }

  private_(pfn: number): number {
    const s = this.sections[pfn >>> PFN_SECTION_SHIFT];
    return s === undefined ? 0 : s.private[pfn & SECTION_PFN_MASK]!;
  }
  setPrivate(pfn: number, v: number): void {
    this.sec(pfn).private[pfn & SECTION_PFN_MASK] = v;
  }

  mappingId(pfn: number): number {
    const s = this.sections[pfn >>> PFN_SECTION_SHIFT];
    return s === undefined ? 0 : s.mapping[pfn & SECTION_PFN_MASK]!;
  }
  mappingOf(pfn: number): PageMapping | undefined {
    return this.mappings[this.mappingId(pfn)];
  }
  index(pfn: number): number {
    const s = this.sections[pfn >>> PFN_SECTION_SHIFT];
    return s === undefined ? 0 : s.index[pfn & SECTION_PFN_MASK]!;
  }
  setMapping(pfn: number, mapping: PageMapping | undefined, index: number): void {
    const s = this.sec(pfn);
    const i = pfn & SECTION_PFN_MASK;
    s.mapping[i] = mapping === undefined ? 0 : mapping.mappingId;
    s.index[i] = index;
  }

  /** Gives an AnonVma/AddressSpace its page->mapping id. */
  registerMapping(make: (id: number) => PageMapping): PageMapping {
    const id = this.freeMappingIds.pop() ?? this.mappings.length;
    const m = make(id);
    this.mappings[id] = m;
    return m;
  }
  unregisterMapping(m: PageMapping): void {
    if (this.mappings[m.mappingId] !== m) return;
    this.mappings[m.mappingId] = undefined;
    this.freeMappingIds.push(m.mappingId);
    this.freeMappingIds.sort((a, b) => b - a);
  }
}

export function pfn_to_phys(pfn: number): number {
  return pfn * PAGE_SIZE;
}

export function phys_to_pfn(pa: number): number {
  return Math.floor(pa / PAGE_SIZE);
}
