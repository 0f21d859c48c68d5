// Swap (mm/swapfile.c, mm/swap_state.c, mm/page_io.c, do_swap_page of mm/memory.c).
//
// The swap area is a swap device inside the kernel, like zram without compression:
// `nr_slots` page slots whose data lives in kernel memory, written and read with a
// memcpy's cost in virtual time. Slot 0 is the header and never used. A slot's
// swap_map count is the number of PTEs holding its swap entry; a page being written
// out or read in stays in the swap cache (PG_swapcache, page->private = offset,
// one page reference) so every PTE sharing the slot finds the same page.

import type { ArchCpu } from '../../arch/index.js';
import { GFP_HIGHUSER_MOVABLE } from './gfp.js';
import {
  add_mm_counter,
  FAULT_FLAG_WRITE,
  MM_ANONPAGES,
  MM_SWAPENTS,
  VM_FAULT_MAJOR,
  VM_FAULT_OOM,
  VM_FAULT_SIGBUS,
  VM_LOCKED,
  VM_WRITE,
  type VmAreaStruct,
} from './mm_types.js';
import { make_pte, mk_pte_hi, mk_pte_lo } from './memory.js';
import { mlock_new_page } from './mlock.js';
import { alloc_pages, get_page, mem_map, put_page } from './page_alloc.js';
import { PAGE_SIZE, PG_anon, PG_dirty, PG_swapbacked, PG_swapcache } from './page.js';
import { pte_hi, pte_read, pte_swp_offset, set_pte } from './pgtable.js';
import { page_add_new_anon_rmap, page_add_rmap } from './rmap.js';
import { lru_cache_add } from './swap.js';
import { count_vm_event, mod_node_page_state, VM } from './vmstat.js';

export class SwapInfo {
  readonly swap_map: Int32Array;
  /** Swap-cache page of each slot (-1 none). */
  readonly cache: Int32Array;
  /** Slot data (kernel memory of the in-kernel swap device). */
  readonly data: (Uint8Array | undefined)[];
  /** 1 while a slot is allocated (from add_to_swap until no PTE or cache uses it). */
  readonly taken: Uint8Array;
  /** Slots in use. */
  inuse_pages = 0;
  private cursor = 1;

  constructor(readonly nr_slots: number) {
    this.swap_map = new Int32Array(nr_slots);
    this.cache = new Int32Array(nr_slots).fill(-1);
    this.data = new Array<Uint8Array | undefined>(nr_slots).fill(undefined);
    this.taken = new Uint8Array(nr_slots);
    this.taken[0] = 1; // the swap header
  }

  /** Pages usable for swap (the header slot excluded). */
  get pages(): number {
    return this.nr_slots - 1;
  }

  /** scan_swap_map_slots: the next free slot from the cursor, or -1. */
  alloc_slot(): number {
    for (let n = 0; n < this.nr_slots; n++) {
      const off = this.cursor;
      this.cursor = this.cursor + 1 >= this.nr_slots ? 1 : this.cursor + 1;
      if (this.taken[off] === 0) {
        this.taken[off] = 1;
        this.inuse_pages++;
        return off;
      }
    }
    return -1;
  }

  /** swap_entry_range_free: a slot no PTE and no cached page uses is free again. */
  free_slot_if_unused(off: number): void {
    if (off === 0 || this.taken[off] === 0 || this.swap_map[off]! > 0 || this.cache[off] !== -1) return;
    this.taken[off] = 0;
    this.data[off] = undefined;
    this.inuse_pages--;
  }
}

let si: SwapInfo | undefined;

/** swapon: a swap area of `bytes` (0 = no swap). */
export function swapon(bytes: number): void {
  const n = Math.floor(bytes / PAGE_SIZE);
  si = n > 1 ? new SwapInfo(n) : undefined;
}

export function swap_info(): SwapInfo | undefined {
  return si;
}

export function total_swap_pages(): number {
  return si === undefined ? 0 : si.pages;
}

export function nr_swap_pages(): number {
  return si === undefined ? 0 : si.pages - si.inuse_pages;
}

/** get_swap_page: a free slot, or -1 when there is no swap or it is full. */
function get_swap_slot(): number {
  return si === undefined ? -1 : si.alloc_slot();
}

/** add_to_swap: gives the page a swap slot and puts it in the swap cache. Returns the offset or -1. */
export function add_to_swap(pfn: number): number {
  const off = get_swap_slot();
  if (off < 0) return -1;
  const map = mem_map();
  si!.cache[off] = pfn;
  map.setFlags(pfn, PG_swapcache | PG_dirty);
  map.setPrivate(pfn, off);
  get_page(pfn);
  mod_node_page_state(VM.nr_swapcached, 1);
  return off;
}

/** swap_writepage: the page's data to its slot. */
export function swap_writepage(cpu: ArchCpu, pfn: number, off: number): void {
  const buf = si!.data[off] ?? new Uint8Array(PAGE_SIZE);
  cpu.readPhys(pfn * PAGE_SIZE, buf, 0, PAGE_SIZE);
  si!.data[off] = buf;
  mem_map().clearFlags(pfn, PG_dirty);
  count_vm_event(VM.pswpout);
  count_vm_event(VM.pgpgout);
}

/** swap_read_folio: the slot's data into the page. */
function swap_readpage(cpu: ArchCpu, off: number, pfn: number): void {
  const buf = si!.data[off];
  if (buf === undefined) cpu.fillPhys(pfn * PAGE_SIZE, 0, PAGE_SIZE);
  else cpu.writePhys(pfn * PAGE_SIZE, buf, 0, PAGE_SIZE);
  count_vm_event(VM.pswpin);
  count_vm_event(VM.pgpgin);
}

/** delete_from_swap_cache: the page leaves the swap cache (its slot is freed if no PTE refers to it). */
export function delete_from_swap_cache(pfn: number): void {
  const map = mem_map();
  if (!map.testFlags(pfn, PG_swapcache) || si === undefined) return;
  const off = map.private_(pfn);
  si.cache[off] = -1;
  map.clearFlags(pfn, PG_swapcache);
  map.setPrivate(pfn, 0);
  mod_node_page_state(VM.nr_swapcached, -1);
  si.free_slot_if_unused(off);
  put_page(pfn);
}

/**
 * free_swap_cache (free_pages_and_swap_cache, for each page a zap unmapped): a swap-cache
 * page no PTE maps any more and whose slot no swap entry refers to leaves the swap cache
 * (folio_free_swap), so its slot and the cache's reference go with it. Without this an
 * unmapped page would stay cached, its slot taken, until reclaim found it.
 */
export function free_swap_cache(pfn: number): void {
  const map = mem_map();
  if (si === undefined || !map.testFlags(pfn, PG_swapcache) || map.mapcount(pfn) !== 0) return;
  if (si.swap_map[map.private_(pfn)]! > 0) return; // folio_swapped: other PTEs still hold the entry
  delete_from_swap_cache(pfn);
  map.setFlags(pfn, PG_dirty); // its only copy is now in memory
}

/** swap_cache_get_folio. */
export function lookup_swap_cache(off: number): number {
  return si === undefined || off <= 0 || off >= si.nr_slots ? -1 : si.cache[off]!;
}

/** Migration moved a swap-cache page. */
export function swap_cache_replace(off: number, newpfn: number): void {
  if (si !== undefined && off > 0 && off < si.nr_slots) si.cache[off] = newpfn;
}

/** swap_duplicate: one more PTE holds the entry (fork). */
export function swap_duplicate(off: number): void {
  if (si !== undefined && off > 0 && off < si.nr_slots) si.swap_map[off]!++;
}

/** swap_free: a PTE dropped the entry; an unreferenced, uncached slot is freed. */
export function swap_free(off: number): void {
  if (si === undefined || off <= 0 || off >= si.nr_slots || si.swap_map[off]! <= 0) return;
  si.swap_map[off]!--;
  if (si.swap_map[off] === 0) {
    const pfn = si.cache[off]!;
    // free_swap_and_cache: a cached page no PTE waits for leaves the cache.
    if (pfn >= 0 && mem_map().mapcount(pfn) === 0 && mem_map().refcount(pfn) === 1) delete_from_swap_cache(pfn);
    else si.free_slot_if_unused(off);
  }
}

/** Takes one PTE reference on a slot (try_to_unmap writing the swap entry). */
export function swap_entry_get(off: number): void {
  swap_duplicate(off);
}

/** The swap count of a slot (swp_swapcount). */
export function swap_count(off: number): number {
  return si === undefined || off <= 0 || off >= si.nr_slots ? 0 : si.swap_map[off]!;
}

/** A swap-cache page still shared with swap entries in other PTEs is not exclusive (do_wp_page). */
export function swapcache_shared(pfn: number): boolean {
  const map = mem_map();
  if (!map.testFlags(pfn, PG_swapcache) || si === undefined) return false;
  return si.swap_map[map.private_(pfn)]! > 0;
}

/**
 * do_swap_page: a fault on a swap PTE. The page comes from the swap cache or is read
 * from the device (a major fault). This PTE's swap reference is dropped; when it
 * was the last, the page leaves the swap cache and, exclusive again, is mapped
 * writable on a write fault. Otherwise it is mapped read-only (shared, COW later).
 */
export function do_swap_page(cpu: ArchCpu, vma: VmAreaStruct, addr: number, ptep: number, lo: number, hi: number, flags: number): number {
  const off = pte_swp_offset(lo, hi);
  if (si === undefined || off <= 0 || off >= si.nr_slots || si.swap_map[off]! <= 0) return VM_FAULT_SIGBUS;
  const map = mem_map();
  let ret = 0;
  let pfn = si.cache[off]!;
  if (pfn < 0) {
    pfn = alloc_pages(0, GFP_HIGHUSER_MOVABLE);
    if (pfn < 0) return VM_FAULT_OOM;
    // The allocation may have reclaimed, compacted or run the OOM killer and its reaper:
    // if this PTE is no longer the swap entry the fault started from (zapped, or faulted
    // in by someone else), drop the page and let the access retry (pte_same recheck).
    if (pte_read(cpu, ptep) !== lo || pte_hi !== hi || si.swap_map[off]! <= 0) {
      put_page(pfn);
      return 0;
    }
    if (si.cache[off]! >= 0) {
      // another PTE of the same slot brought the page into the swap cache meanwhile
      put_page(pfn);
      pfn = si.cache[off]!;
    } else {
      cpu.charge((cpu.cost['copyByteNs'] ?? 0) * PAGE_SIZE);
      swap_readpage(cpu, off, pfn);
      si.cache[off] = pfn;
      map.setFlags(pfn, PG_swapcache | PG_swapbacked);
      map.setPrivate(pfn, off);
      mod_node_page_state(VM.nr_swapcached, 1);
      // The allocation reference becomes the swap cache's.
      ret = VM_FAULT_MAJOR;
      count_vm_event(VM.pgmajfault);
    }
  }
  get_page(pfn);
  if (map.testFlags(pfn, PG_anon)) page_add_rmap(pfn);
  else page_add_new_anon_rmap(pfn, vma, addr);
  add_mm_counter(vma.vm_mm, MM_ANONPAGES, 1);
  add_mm_counter(vma.vm_mm, MM_SWAPENTS, -1);
  si.swap_map[off]!--;
  let exclusive = false;
  if (si.swap_map[off] === 0) {
    delete_from_swap_cache(pfn);
    exclusive = map.mapcount(pfn) === 1;
  }
  const write = exclusive && (flags & FAULT_FLAG_WRITE) !== 0 && (vma.vm_flags & VM_WRITE) !== 0;
  make_pte(pfn, vma, write);
  if (vma.vm_flags & VM_LOCKED) mlock_new_page(pfn);
  lru_cache_add(pfn);
  set_pte(cpu, ptep, mk_pte_lo(), mk_pte_hi());
  return ret;
}

/** /proc/swaps content. */
export function swaps_show(): string {
  let out = 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n';
  if (si !== undefined) out += `/dev/swap-kernel                        partition\t${si.pages * 4}\t\t${si.inuse_pages * 4}\t\t-2\n`;
  return out;
}

