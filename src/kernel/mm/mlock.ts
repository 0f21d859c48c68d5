// mlock, munlock, mlockall, munlockall (mm/mlock.c). Locked VMAs carry VM_LOCKED;
// their pages are PG_mlocked and sit on the unevictable LRU, so reclaim never swaps
// them — but they stay movable: migration and compaction may move them
// (vm.compact_unevictable_allowed, default 1). Locked memory counts in mm->locked_vm
// against RLIMIT_MEMLOCK unless the task has CAP_IPC_LOCK.

import { EINVAL, ENOMEM, EPERM } from '../lib/errno.js';
import { mm_populate } from './gup.js';
import { type MmStruct, VM_LOCKED, VM_LOCKED_MASK, VM_LOCKONFAULT, VM_SPECIAL, type VmAreaStruct } from './mm_types.js';
import { mem_map } from './page_alloc.js';
import { PAGE_SIZE, PG_mlocked, PG_zero_page } from './page.js';
import { PTE_HI_SPECIAL, PTE_VALID, pte_pfn, walk_pte_range } from './pgtable.js';
import { rmap_walk } from './rmap.js';
import { lru_move } from './swap.js';
import { current_mm_creds, type MmCreds } from './util.js';
import { count_vm_event, mod_node_page_state, VM } from './vmstat.js';
import { find_vma, split_vma, vma_merge } from './mmap.js';

export const MLOCK_ONFAULT = 0x01;
export const MCL_CURRENT = 1;
export const MCL_FUTURE = 2;
export const MCL_ONFAULT = 4;

/** mlock_folio: the page becomes unevictable. */
export function mlock_page(pfn: number): void {
  const map = mem_map();
  if (map.testFlags(pfn, PG_mlocked | PG_zero_page)) return;
  map.setFlags(pfn, PG_mlocked);
  mod_node_page_state(VM.nr_mlock, 1);
  count_vm_event(VM.unevictable_pgs_mlocked);
  lru_move(pfn, true);
}

/** mlock_new_folio: a page faulted into a VM_LOCKED VMA. */
export function mlock_new_page(pfn: number): void {
  mlock_page(pfn);
}

/**
 * munlock_folio for a page leaving a locked mapping of `vma`: it stays mlocked while
 * another VM_LOCKED VMA still maps it.
 */
export function munlock_mapped_page(pfn: number, vma: VmAreaStruct): void {
  const map = mem_map();
  if (!map.testFlags(pfn, PG_mlocked)) return;
  let stillLocked = false;
  rmap_walk(pfn, (v) => {
    if (v !== vma && v.vm_flags & VM_LOCKED) {
      stillLocked = true;
      return false;
    }
    return true;
  });
  if (stillLocked) return;
  map.clearFlags(pfn, PG_mlocked);
  mod_node_page_state(VM.nr_mlock, -1);
  count_vm_event(VM.unevictable_pgs_munlocked);
  lru_move(pfn, false);
}

/** can_do_mlock: a non-zero RLIMIT_MEMLOCK or CAP_IPC_LOCK. */
export function can_do_mlock(creds: MmCreds): boolean {
  return creds.memlockLimit !== 0 || creds.capIpcLock;
}

/** mlock_future_ok: a new locked mapping of `bytes` fits RLIMIT_MEMLOCK (or CAP_IPC_LOCK). */
export function mlock_future_ok(mm: MmStruct, flags: number, bytes: number, creds: MmCreds): boolean {
  if (!(flags & VM_LOCKED) || creds.capIpcLock) return true;
  const limit = creds.memlockLimit === Infinity ? Infinity : Math.floor(creds.memlockLimit / PAGE_SIZE);
  return mm.locked_vm + bytes / PAGE_SIZE <= limit;
}

/**
 * mlock_fixup on [start, end) of one VMA (split as needed by the caller): sets the
 * new VM_LOCKED* flags, adjusts locked_vm, and (un)locks the pages present.
 * VM_SPECIAL mappings never become locked.
 */
export function mlock_fixup(vma: VmAreaStruct, start: number, end: number, newflags: number): void {
  const old = vma.vm_flags;
  if (old & VM_SPECIAL) newflags &= ~VM_LOCKED_MASK;
  if (newflags === old) return;
  const mm = vma.vm_mm;
  const n = (end - start) / PAGE_SIZE;
  const lock = (newflags & VM_LOCKED) !== 0;
  if (lock && !(old & VM_LOCKED)) mm.locked_vm += n;
  else if (!lock && old & VM_LOCKED) mm.locked_vm = Math.max(0, mm.locked_vm - n);
  vma.vm_flags = newflags;
  if (lock === ((old & VM_LOCKED) !== 0)) return;
  walk_pte_range(mm, start, end, (_ptep, _va, lo, hi) => {
    if (!(lo & PTE_VALID) || hi & PTE_HI_SPECIAL) return;
    const pfn = pte_pfn(lo, hi);
    if (lock) mlock_page(pfn);
    else munlock_mapped_page(pfn, vma);
  });
}

/** apply_vma_lock_flags: [start, end) must be fully mapped (-ENOMEM otherwise). */
function apply_vma_lock_flags(mm: MmStruct, start: number, end: number, flags: number): number {
  let at = start;
  for (let v = find_vma(mm, start); at < end; ) {
    if (v === null || v.vm_start > at) return -ENOMEM;
    at = v.vm_end;
    const i = mm.mmap.indexOf(v);
    v = i + 1 < mm.mmap.length ? mm.mmap[i + 1]! : null;
  }
  let vma = find_vma(mm, start)!;
  if (vma.vm_start < start) {
    const r = split_vma(vma, start);
    if (typeof r === 'number') return r;
  }
  const last = find_vma(mm, end - 1);
  if (last !== null && last.vm_end > end) {
    const r = split_vma(last, end);
    if (typeof r === 'number') return r;
  }
  const vmas = mm.mmap.filter((v) => v.vm_start >= start && v.vm_end <= end);
  for (const v of vmas) mlock_fixup(v, v.vm_start, v.vm_end, (v.vm_flags & ~VM_LOCKED_MASK) | flags);
  for (const v of vmas) if (mm.mmap.includes(v)) vma = vma_merge(v);
  return 0;
}

/** Pages in [start, end) already in locked VMAs (count_mm_mlocked_page_nr). */
function count_mlocked_pages(mm: MmStruct, start: number, end: number): number {
  let n = 0;
  for (const v of mm.mmap) {
    if (!(v.vm_flags & VM_LOCKED) || v.vm_end <= start || v.vm_start >= end) continue;
    n += (Math.min(end, v.vm_end) - Math.max(start, v.vm_start)) / PAGE_SIZE;
  }
  return n;
}

/**
 * do_mlock (mlock2): locks [start, start+len) and faults it in (unless MLOCK_ONFAULT).
 * -EINVAL bad flags, -EPERM with RLIMIT_MEMLOCK 0 and no CAP_IPC_LOCK, -ENOMEM over
 * the limit or for unmapped parts.
 */
export function do_mlock(mm: MmStruct, start: number, len: number, flags: number, creds: MmCreds = current_mm_creds()): number {
  if (flags & ~MLOCK_ONFAULT) return -EINVAL;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(len) || start < 0 || len < 0) return -EINVAL;
  if (!can_do_mlock(creds)) return -EPERM;
  len = Math.ceil((len + (start % PAGE_SIZE)) / PAGE_SIZE) * PAGE_SIZE;
  start -= start % PAGE_SIZE;
  const end = start + len;
  if (end < start || end > mm.task_size) return -ENOMEM;
  if (len === 0) return 0;
  const limit = creds.memlockLimit === Infinity ? Infinity : Math.floor(creds.memlockLimit / PAGE_SIZE);
  let locked = len / PAGE_SIZE + mm.locked_vm;
  if (locked > limit && !creds.capIpcLock) {
    locked -= count_mlocked_pages(mm, start, end);
    if (locked > limit) return -ENOMEM;
  }
  const r = apply_vma_lock_flags(mm, start, end, VM_LOCKED | (flags & MLOCK_ONFAULT ? VM_LOCKONFAULT : 0));
  if (r < 0) return r;
  if (!(flags & MLOCK_ONFAULT)) {
    const p = mm_populate(mm, start, len);
    if (p < 0) return p === -ENOMEM ? -ENOMEM : 0;
  }
  return 0;
}

/** munlock: unlocks [start, start+len). */
export function do_munlock(mm: MmStruct, start: number, len: number): number {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(len) || start < 0 || len < 0) return -EINVAL;
  len = Math.ceil((len + (start % PAGE_SIZE)) / PAGE_SIZE) * PAGE_SIZE;
  start -= start % PAGE_SIZE;
  if (len === 0) return 0;
  return apply_vma_lock_flags(mm, start, start + len, 0);
}

/**
 * mlockall: MCL_CURRENT locks every VMA now (and populates unless MCL_ONFAULT);
 * MCL_FUTURE makes later mappings locked (mm->def_flags).
 */
export function do_mlockall(mm: MmStruct, flags: number, creds: MmCreds = current_mm_creds()): number {
  if (!flags || flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) || flags === MCL_ONFAULT) return -EINVAL;
  if (!can_do_mlock(creds)) return -EPERM;
  const limit = creds.memlockLimit === Infinity ? Infinity : Math.floor(creds.memlockLimit / PAGE_SIZE);
  if (flags & MCL_CURRENT && !creds.capIpcLock && mm.total_vm > limit) return -ENOMEM;
  const to_add = VM_LOCKED | (flags & MCL_ONFAULT ? VM_LOCKONFAULT : 0);
  mm.def_flags &= ~VM_LOCKED_MASK;
  if (flags & MCL_FUTURE) mm.def_flags |= to_add;
  if (flags & MCL_CURRENT) {
    for (const v of mm.mmap.slice()) mlock_fixup(v, v.vm_start, v.vm_end, (v.vm_flags & ~VM_LOCKED_MASK) | to_add);
    if (!(flags & MCL_ONFAULT)) for (const v of mm.mmap.slice()) if (v.vm_flags & VM_LOCKED) mm_populate(mm, v.vm_start, v.vm_end - v.vm_start);
  }
  return 0;
}

/** munlockall. */
export function do_munlockall(mm: MmStruct): number {
  mm.def_flags &= ~VM_LOCKED_MASK;
  for (const v of mm.mmap.slice()) mlock_fixup(v, v.vm_start, v.vm_end, v.vm_flags & ~VM_LOCKED_MASK);
  for (const v of mm.mmap.slice()) if (mm.mmap.includes(v)) vma_merge(v);
  return 0;
}
