// get_user_pages and pin_user_pages (mm/gup.c, Documentation/core-api/pin_user_pages.rst).
// FOLL_GET takes a plain page reference (put_page releases it); FOLL_PIN adds
// GUP_PIN_COUNTING_BIAS to the refcount so folio_maybe_dma_pinned() sees it, and
// counts nr_foll_pin_acquired/released. FOLL_WRITE faults pages in writable (breaking
// COW), FOLL_FORCE may write through a read-only private mapping (the COW copy stays
// read-only to the task, as ptrace does). FOLL_LONGTERM first migrates pages out of
// ZONE_MOVABLE, then pins them; pinned pages are never migrated, compacted or swapped.

import { EFAULT, EINVAL, ENOMEM } from '../lib/errno.js';
import { GFP_HIGHUSER } from './gfp.js';
import { ZONE_MOVABLE } from './gfp.js';
import { follow_pte, handle_vma_fault, is_zero_pfn, type FollowResult } from './memory.js';
import {
  FAULT_FLAG_REMOTE,
  FAULT_FLAG_WRITE,
  type MmStruct,
  VM_FAULT_ERROR,
  VM_FAULT_OOM,
  VM_IO,
  VM_MAYREAD,
  VM_MAYWRITE,
  VM_PFNMAP,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  type VmAreaStruct,
} from './mm_types.js';
import { find_vma } from './mmap.js';
import { migrate_pages, MR_LONGTERM_PIN } from './migrate.js';
import { alloc_pages, get_page, mem_map, NODE_DATA, put_page } from './page_alloc.js';
import { GUP_PIN_COUNTING_BIAS, PAGE_SIZE, PG_anon, PG_dirty, PG_lru, PG_referenced } from './page.js';
import { isolate_page, putback_isolated_page } from './swap.js';
import { count_vm_event, count_vm_events, VM } from './vmstat.js';

// enum foll_flags (include/linux/mm_types.h)
export const FOLL_WRITE = 1 << 0;
export const FOLL_GET = 1 << 1;
export const FOLL_DUMP = 1 << 2;
export const FOLL_FORCE = 1 << 3;
export const FOLL_NOWAIT = 1 << 4;
export const FOLL_NOFAULT = 1 << 5;
export const FOLL_HWPOISON = 1 << 6;
export const FOLL_ANON = 1 << 7;
export const FOLL_LONGTERM = 1 << 8;
export const FOLL_SPLIT_PMD = 1 << 9;
export const FOLL_PCI_P2PDMA = 1 << 10;
export const FOLL_INTERRUPTIBLE = 1 << 11;
/** Internal: pin (set by the pin_user_pages* entry points only). */
export const FOLL_PIN = 1 << 19;
/** Internal: fault in without taking references (populate). */
const FOLL_POPULATE = 1 << 20;

/** folio_maybe_dma_pinned: the refcount carries at least one pin bias. */
export function folio_maybe_dma_pinned(pfn: number): boolean {
  return mem_map().refcount(pfn) >= GUP_PIN_COUNTING_BIAS;
}

/** The mm of the calling task, for pin_user_pages / get_user_pages without a remote mm. */
let currentMm: () => MmStruct | null = () => null;
export function set_current_mm_provider(fn: () => MmStruct | null): void {
  currentMm = fn;
}

/** check_vma_flags: may gup access this VMA with these flags? 0 or -EFAULT. */
function check_vma_flags(vma: VmAreaStruct, gup_flags: number): number {
  const f = vma.vm_flags;
  if (f & (VM_IO | VM_PFNMAP)) return -EFAULT;
  if (gup_flags & FOLL_ANON && vma.vm_file !== null) return -EFAULT;
  if (gup_flags & FOLL_WRITE) {
    if (!(f & VM_WRITE)) {
      if (!(gup_flags & FOLL_FORCE)) return -EFAULT;
      // FOLL_FORCE writes only to private (COW) mappings that could be writable.
      if (!(f & VM_MAYWRITE) || f & VM_SHARED) return -EFAULT;
    }
  } else if (!(f & VM_READ)) {
    if (!(gup_flags & FOLL_FORCE)) return -EFAULT;
    if (!(f & VM_MAYREAD)) return -EFAULT;
  }
  return 0;
}

/** try_grab_folio: a GET or PIN reference on a page found by follow_page. */
function try_grab_page(pfn: number, gup_flags: number): void {
  const map = mem_map();
  map.setFlags(pfn, PG_referenced);
  if (gup_flags & FOLL_PIN) {
    if (is_zero_pfn(pfn)) return; // the zero page is never pinned (it is not going anywhere)
    map.refAdd(pfn, GUP_PIN_COUNTING_BIAS);
    count_vm_event(VM.nr_foll_pin_acquired);
  } else if (gup_flags & FOLL_GET) {
    if (is_zero_pfn(pfn)) return;
    get_page(pfn);
  }
}

const fr: FollowResult = { pfn: -1, writable: false, special: false, swapOffset: -1, dirty: false };

/** follow_page_mask for one address: the page if the PTE allows the access, else -1. */
function follow_page(mm: MmStruct, addr: number, gup_flags: number): number {
  follow_pte(mm, addr, fr);
  if (fr.pfn < 0) return -1;
  if (fr.special && !is_zero_pfn(fr.pfn)) return -1;
  if (gup_flags & FOLL_WRITE && !fr.writable) {
    // can_follow_write_pte: FOLL_FORCE may use the task's own read-only COW copy.
    const map = mem_map();
    if (!(gup_flags & FOLL_FORCE) || is_zero_pfn(fr.pfn) || !map.testFlags(fr.pfn, PG_anon) || map.mapcount(fr.pfn) !== 1) return -1;
  }
  return fr.pfn;
}

/**
 * __get_user_pages: for each page of [start, start + nr_pages*PAGE_SIZE), fault it in
 * as needed and take a GET or PIN reference (or none when populating). Returns the
 * number of pages done, or a negative errno when the first page fails.
 */
function __get_user_pages(mm: MmStruct, start: number, nr_pages: number, gup_flags: number, pages: number[] | null): number {
  if (mm.dead) return -EFAULT;
  let done = 0;
  let vma: VmAreaStruct | null = null;
  for (let i = 0; i < nr_pages; i++) {
    const addr = start + i * PAGE_SIZE;
    if (vma === null || addr >= vma.vm_end) {
      vma = find_vma(mm, addr);
      if (vma === null || vma.vm_start > addr) return done > 0 ? done : -EFAULT;
      const r = check_vma_flags(vma, gup_flags);
      if (r < 0) return done > 0 ? done : r;
    }
    let pfn = -1;
    for (let tries = 0; tries < 4; tries++) {
      pfn = follow_page(mm, addr, gup_flags);
      if (pfn >= 0) break;
      if (gup_flags & FOLL_NOFAULT) return done > 0 ? done : -EFAULT;
      const ret = handle_vma_fault(vma, addr, (gup_flags & FOLL_WRITE ? FAULT_FLAG_WRITE : 0) | FAULT_FLAG_REMOTE);
      if (ret & VM_FAULT_ERROR) {
        const err = ret & VM_FAULT_OOM ? -ENOMEM : -EFAULT;
        return done > 0 ? done : err;
      }
    }
    if (pfn < 0) return done > 0 ? done : -EFAULT;
    if (!(gup_flags & FOLL_POPULATE)) try_grab_page(pfn, gup_flags);
    if (pages !== null) pages.push(pfn);
    done++;
  }
  return done;
}

/** Releases what __get_user_pages took (unpin or put). */
function release_pages(pages: number[], gup_flags: number): void {
  if (gup_flags & FOLL_PIN) unpin_user_pages(pages, pages.length);
  else for (const p of pages) if (!is_zero_pfn(p)) put_page(p);
}

/**
 * check_and_migrate_movable_pages: pages of a long-term pin must not sit in
 * ZONE_MOVABLE. If any do, everything is released, those pages are migrated to
 * ZONE_NORMAL and the caller retries (-EAGAIN); a failed migration is -ENOMEM.
 */
function check_and_migrate_movable_pages(pages: number[], gup_flags: number): number {
  const pgdat = NODE_DATA();
  const movable = pgdat.node_zones[ZONE_MOVABLE]!;
  const map = mem_map();
  const move: number[] = [];
  for (const p of pages) if (movable.contains(p) && !is_zero_pfn(p) && !move.includes(p)) move.push(p);
  if (move.length === 0) return 0;
  release_pages(pages, gup_flags);
  pages.length = 0;
  const isolated: number[] = [];
  for (const p of move) {
    if (!map.testFlags(p, PG_lru) && map.mappingOf(p) === undefined) return -ENOMEM; // not movable: cannot be long-term pinned
    isolate_page(p);
    isolated.push(p);
  }
  const failed = migrate_pages(isolated, () => alloc_pages(0, GFP_HIGHUSER), GFP_HIGHUSER, MR_LONGTERM_PIN);
  if (failed.length > 0) {
    for (const p of failed) putback_isolated_page(p);
    return -ENOMEM;
  }
  return -11; // -EAGAIN: pin again
}

/** __gup_longterm_locked. */
function __gup_longterm_locked(mm: MmStruct, start: number, nr_pages: number, gup_flags: number, pages: number[] | null): number {
  if (!(gup_flags & FOLL_LONGTERM)) return __get_user_pages(mm, start, nr_pages, gup_flags, pages);
  const local: number[] = [];
  for (let attempt = 0; attempt < 8; attempt++) {
    local.length = 0;
    const r = __get_user_pages(mm, start, nr_pages, gup_flags, local);
    if (r < 0) return r;
    const m = check_and_migrate_movable_pages(local, gup_flags);
    if (m === 0) {
      if (pages !== null) for (const p of local) pages.push(p);
      return r;
    }
    if (m !== -11) return m;
  }
  return -ENOMEM;
}

function is_valid_gup_args(start: number, nr_pages: number, gup_flags: number): number {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(nr_pages) || start < 0 || nr_pages < 0) return -EINVAL;
  if (start % PAGE_SIZE !== 0) return -EINVAL;
  if (gup_flags & FOLL_PIN && gup_flags & FOLL_GET) return -EINVAL;
  return 0;
}

/** get_user_pages_remote: FOLL_GET references on pages of `mm`. Returns pages done or -errno. */
export function get_user_pages_remote(mm: MmStruct, start: number, nr_pages: number, gup_flags: number, pages: number[] | null): number {
  const e = is_valid_gup_args(start, nr_pages, gup_flags);
  if (e < 0) return e;
  if (gup_flags & FOLL_LONGTERM) return -EINVAL; // long-term users must pin
  return __gup_longterm_locked(mm, start, nr_pages, gup_flags | (pages !== null ? FOLL_GET : 0), pages);
}

/** get_user_pages on the current task's mm. */
export function get_user_pages(start: number, nr_pages: number, gup_flags: number, pages: number[] | null): number {
  const mm = currentMm();
  if (mm === null) return -EFAULT;
  return get_user_pages_remote(mm, start, nr_pages, gup_flags, pages);
}

/** pin_user_pages_remote: FOLL_PIN on pages of `mm`. Returns pages pinned or -errno. */
export function pin_user_pages_remote(mm: MmStruct, start: number, nr_pages: number, gup_flags: number, pages: number[]): number {
  const e = is_valid_gup_args(start, nr_pages, gup_flags);
  if (e < 0) return e;
  if (gup_flags & FOLL_GET) return -EINVAL;
  return __gup_longterm_locked(mm, start, nr_pages, gup_flags | FOLL_PIN, pages);
}

/** pin_user_pages on the current task's mm. */
export function pin_user_pages(start: number, nr_pages: number, gup_flags: number, pages: number[]): number {
  const mm = currentMm();
  if (mm === null) return -EFAULT;
  return pin_user_pages_remote(mm, start, nr_pages, gup_flags, pages);
}

/** pin_user_pages_fast: the same here (no lockless fast path to model). */
export function pin_user_pages_fast(start: number, nr_pages: number, gup_flags: number, pages: number[]): number {
  return pin_user_pages(start, nr_pages, gup_flags, pages);
}

/** unpin_user_page: drops one pin (the zero page is never pinned). */
export function unpin_user_page(pfn: number): void {
  if (is_zero_pfn(pfn)) return;
  const map = mem_map();
  if (map.refcount(pfn) < GUP_PIN_COUNTING_BIAS) return; // not pinned: Linux would WARN
  count_vm_events(VM.nr_foll_pin_released, 1);
  if (map.refAdd(pfn, -(GUP_PIN_COUNTING_BIAS - 1)) === 1) put_page(pfn);
  else map.refAdd(pfn, -1);
}

/** unpin_user_pages. */
export function unpin_user_pages(pages: readonly number[], npages: number): void {
  for (let i = 0; i < npages; i++) unpin_user_page(pages[i]!);
}

/** unpin_user_pages_dirty_lock: marks the pages dirty (the device wrote them) when asked, then unpins. */
export function unpin_user_pages_dirty_lock(pages: readonly number[], npages: number, make_dirty: boolean): void {
  const map = mem_map();
  for (let i = 0; i < npages; i++) {
    const p = pages[i]!;
    if (make_dirty && !is_zero_pfn(p)) map.setFlags(p, PG_dirty);
    unpin_user_page(p);
  }
}

/**
 * __mm_populate / populate_vma_page_range: faults [start, start+len) in without
 * taking references — writable (COW broken) for private writable mappings, or when
 * `write` asks (MADV_POPULATE_WRITE). Returns 0, -ENOMEM or -EFAULT.
 */
export function mm_populate(mm: MmStruct, start: number, len: number, write?: boolean): number {
  const end = start + Math.ceil(len / PAGE_SIZE) * PAGE_SIZE;
  let addr = start - (start % PAGE_SIZE);
  while (addr < end) {
    const vma = find_vma(mm, addr);
    if (vma === null || vma.vm_start >= end) break;
    if (vma.vm_start > addr) {
      if (write !== undefined) return -ENOMEM;
      addr = vma.vm_start;
    }
    const vend = Math.min(end, vma.vm_end);
    if (!(vma.vm_flags & (VM_IO | VM_PFNMAP))) {
      let flags = FOLL_POPULATE;
      if (write === true || (write === undefined && (vma.vm_flags & (VM_WRITE | VM_SHARED)) === VM_WRITE)) flags |= FOLL_WRITE;
      if (write === undefined) flags |= FOLL_FORCE;
      if (!(vma.vm_flags & (VM_READ | VM_WRITE)) && write === undefined) {
        addr = vend;
        continue;
      }
      const r = __get_user_pages(mm, addr, (vend - addr) / PAGE_SIZE, flags, null);
      if (r < 0) return r === -ENOMEM ? -ENOMEM : write !== undefined ? r : 0;
    } else if (write !== undefined) {
      return -EFAULT;
    }
    addr = vend;
  }
  return 0;
}
