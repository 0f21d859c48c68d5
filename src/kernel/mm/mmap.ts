// Address-space layout (mm/mmap.c, mm/vma.c, mm/mprotect.c, mm/madvise.c): the
// sorted VMA list, find_vma, get_unmapped_area, do_mmap, splitting and merging VMAs,
// do_munmap, mprotect, brk and madvise. Every PTE change goes through memory.ts,
// which issues the TLB invalidations and MMU-notifier calls.

import { thisCpu } from '../../arch/index.js';
import type { File } from '../fs/types.js';
import { EACCES, EAGAIN, EEXIST, EINVAL, ENODEV, ENOMEM, EOPNOTSUPP, EOVERFLOW, EPERM } from '../lib/errno.js';
import { mm_populate } from './gup.js';
import { copy_page_range, free_pgd_range, mk_pte_hi, mk_pte_lo, pte_modify, unmap_vmas, zap_page_range } from './memory.js';
import {
  MMU_NOTIFY_CLEAR,
  MMU_NOTIFY_PROTECTION_VMA,
  type MmStruct,
  VM_ACCOUNT,
  VM_DONTCOPY,
  VM_DONTDUMP,
  VM_EXEC,
  VM_GROWSDOWN,
  VM_IO,
  VM_LOCKED,
  VM_LOCKED_MASK,
  VM_LOCKONFAULT,
  VM_MAYEXEC,
  VM_MAYREAD,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_MIXEDMAP,
  VM_NORESERVE,
  VM_PFNMAP,
  VM_RAND_READ,
  VM_READ,
  VM_SEQ_READ,
  VM_SHARED,
  VM_SPECIAL,
  VM_WIPEONFORK,
  VM_WRITE,
  VmAreaStruct,
} from './mm_types.js';
import { mlock_fixup, mlock_future_ok } from './mlock.js';
import { type MmuGather, tlb_finish_mmu, tlb_gather_mmu } from './mmu_gather.js';
import { notify_end, notify_start } from './mmu_notifier.js';
import { PAGE_SIZE } from './page.js';
import { pte_present, set_pte, TASK_SIZE, walk_pte_range } from './pgtable.js';
import { anon_vma_link, file_rmap_get, file_rmap_link, file_rmap_unlink, unlink_anon_vmas } from './rmap.js';
import { shmem_zero_setup } from './shmem.js';
import { flush_tlb_range_mm } from './tlbflush.js';
import { current_mm_creds, type MmCreds } from './util.js';

// include/uapi/asm-generic/mman-common.h, mman.h
export const PROT_NONE = 0x0;
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const PROT_EXEC = 0x4;
export const PROT_SEM = 0x8;
export const PROT_BTI = 0x10;
export const PROT_MTE = 0x20;
export const PROT_GROWSDOWN = 0x01000000;
export const PROT_GROWSUP = 0x02000000;

export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_SHARED_VALIDATE = 0x03;
export const MAP_TYPE = 0x0f;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;
export const MAP_GROWSDOWN = 0x0100;
export const MAP_DENYWRITE = 0x0800;
export const MAP_EXECUTABLE = 0x1000;
export const MAP_LOCKED = 0x2000;
export const MAP_NORESERVE = 0x4000;
export const MAP_POPULATE = 0x8000;
export const MAP_NONBLOCK = 0x10000;
export const MAP_STACK = 0x20000;
export const MAP_HUGETLB = 0x40000;
export const MAP_SYNC = 0x80000;
export const MAP_FIXED_NOREPLACE = 0x100000;
export const MAP_UNINITIALIZED = 0x4000000;
/** Flags mmap accepts with MAP_SHARED_VALIDATE (LEGACY_MAP_MASK | MAP_SYNC). */
const LEGACY_MAP_MASK =
  MAP_SHARED | MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_DENYWRITE | MAP_EXECUTABLE | MAP_UNINITIALIZED | MAP_GROWSDOWN | MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE | MAP_NONBLOCK | MAP_STACK | MAP_HUGETLB;

export const MADV_NORMAL = 0;
export const MADV_RANDOM = 1;
export const MADV_SEQUENTIAL = 2;
export const MADV_WILLNEED = 3;
export const MADV_DONTNEED = 4;
export const MADV_FREE = 8;
export const MADV_REMOVE = 9;
export const MADV_DONTFORK = 10;
export const MADV_DOFORK = 11;
export const MADV_MERGEABLE = 12;
export const MADV_UNMERGEABLE = 13;
export const MADV_HUGEPAGE = 14;
export const MADV_NOHUGEPAGE = 15;
export const MADV_DONTDUMP = 16;
export const MADV_DODUMP = 17;
export const MADV_WIPEONFORK = 18;
export const MADV_KEEPONFORK = 19;
export const MADV_COLD = 20;
export const MADV_PAGEOUT = 21;
export const MADV_POPULATE_READ = 22;
export const MADV_POPULATE_WRITE = 23;

// fs.h f_mode bits the mmap checks read.
const FMODE_READ = 0x1;
const FMODE_WRITE = 0x2;

/** vm.max_map_count. */
export let sysctl_max_map_count = 65530;
/** vm.mmap_min_addr. */
export let mmap_min_addr = 4096;

export function set_max_map_count(v: number): void {
  sysctl_max_map_count = v;
}

/** The default top of the mmap area (mmap_base for a 48-bit VA with the default 8 MiB stack limit + gap). */
export const DEFAULT_MMAP_BASE = TASK_SIZE - 2 ** 30;

export function PAGE_ALIGN(n: number): number {
  return Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;
}

// ---- the VMA list ----

/** find_vma: the first VMA with vm_end > addr, or null. */
export function find_vma(mm: MmStruct, addr: number): VmAreaStruct | null {
  const v = mm.mmap;
  let lo = 0;
  let hi = v.length - 1;
  let best: VmAreaStruct | null = null;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const vma = v[mid]!;
    if (vma.vm_end > addr) {
      best = vma;
      hi = mid - 1;
    } else {
      lo = mid + 1;
    }
  }
  return best;
}

/** vma_lookup: the VMA containing addr, or null. */
export function vma_lookup(mm: MmStruct, addr: number): VmAreaStruct | null {
  const v = find_vma(mm, addr);
  return v !== null && v.vm_start <= addr ? v : null;
}

/** find_vma_intersection: the first VMA overlapping [start, end), or null. */
export function find_vma_intersection(mm: MmStruct, start: number, end: number): VmAreaStruct | null {
  const v = find_vma(mm, start);
  return v !== null && v.vm_start < end ? v : null;
}

function is_stack(flags: number): boolean {
  return (flags & VM_GROWSDOWN) !== 0;
}
function is_exec(flags: number): boolean {
  return (flags & (VM_EXEC | VM_WRITE | VM_GROWSDOWN)) === VM_EXEC;
}
function is_data(flags: number): boolean {
  return (flags & (VM_WRITE | VM_SHARED | VM_GROWSDOWN)) === VM_WRITE;
}

/** vm_stat_account. */
export function vm_stat_account(mm: MmStruct, flags: number, npages: number): void {
  mm.total_vm += npages;
  if (mm.total_vm > mm.hiwater_vm) mm.hiwater_vm = mm.total_vm;
  if (is_exec(flags)) mm.exec_vm += npages;
  else if (is_stack(flags)) mm.stack_vm += npages;
  else if (is_data(flags)) mm.data_vm += npages;
}

/** vma_link: inserts a VMA into the sorted list and accounts it. */
export function vma_link(mm: MmStruct, vma: VmAreaStruct): void {
  const v = mm.mmap;
  let i = v.length;
  while (i > 0 && v[i - 1]!.vm_start > vma.vm_start) i--;
  v.splice(i, 0, vma);
  const n = vma.size / PAGE_SIZE;
  vm_stat_account(mm, vma.vm_flags, n);
  if (vma.vm_flags & VM_LOCKED) mm.locked_vm += n;
}

/** Takes a VMA out of the list (unaccounting it), without touching its pages. */
function vma_unlink_list(mm: MmStruct, vma: VmAreaStruct): void {
  const i = mm.mmap.indexOf(vma);
  if (i >= 0) mm.mmap.splice(i, 1);
  const n = vma.size / PAGE_SIZE;
  vm_stat_account(mm, vma.vm_flags, -n);
  if (vma.vm_flags & VM_LOCKED) mm.locked_vm = Math.max(0, mm.locked_vm - n);
}

/** fput, installed by the VFS glue: the last reference queues the release (task work or delayed_fput). */
let deferred_fput: (file: File) => void = (file) => {
  file.f_count--;
};
export function set_deferred_fput(fn: (file: File) => void): void {
  deferred_fput = fn;
}

/** remove_vma's fput: it never sleeps; the final release runs later. */
function vma_fput(file: File): void {
  deferred_fput(file);
}

/** remove_vma: the VMA is gone (its pages already zapped): close, unlink its rmaps, drop its file. */
function remove_vma(vma: VmAreaStruct): void {
  // unlink_file_vma / unlink_anon_vmas happen in free_pgtables, before ->close
  unlink_anon_vmas(vma);
  file_rmap_unlink(vma);
  vma.vm_ops?.close?.(vma);
  if (vma.vm_file !== null) vma_fput(vma.vm_file);
}

/**
 * __split_vma: splits `vma` at `addr`; the part above `addr` becomes a new VMA (which
 * shares the anon_vma and file rmap and gets vm_ops->open). Returns it, or a negative
 * errno (vm_ops->may_split refusing, or -ENOMEM at the map-count limit).
 */
export function split_vma(vma: VmAreaStruct, addr: number): VmAreaStruct | number {
  const mm = vma.vm_mm;
  if (vma.vm_ops?.may_split) {
    const r = vma.vm_ops.may_split(vma, addr);
    if (r < 0) return r;
  }
  if (mm.mmap.length >= sysctl_max_map_count) return -ENOMEM;
  const nv = new VmAreaStruct(mm, addr, vma.vm_end, vma.vm_flags, vma.vm_pgoff + (addr - vma.vm_start) / PAGE_SIZE);
  nv.vm_ops = vma.vm_ops;
  nv.vm_file = vma.vm_file;
  nv.vm_private_data = vma.vm_private_data;
  nv.vm_page_prot = vma.vm_page_prot;
  nv.anon_name = vma.anon_name;
  if (vma.anon_vma !== null) anon_vma_link(nv, vma.anon_vma);
  if (vma.file_rmap !== null) file_rmap_link(nv, vma.file_rmap);
  vma.vm_end = addr;
  const i = mm.mmap.indexOf(vma);
  mm.mmap.splice(i + 1, 0, nv);
  if (nv.vm_file) nv.vm_file.f_count++;
  nv.vm_ops?.open?.(nv);
  return nv;
}

/** can_vma_merge: two adjacent VMAs can become one (same flags, anonymous-compatible, contiguous offsets). */
function can_merge(prev: VmAreaStruct, next: VmAreaStruct): boolean {
  if (prev.vm_end !== next.vm_start || prev.vm_flags !== next.vm_flags || prev.vm_flags & VM_SPECIAL) return false;
  if (prev.vm_file !== next.vm_file || prev.vm_ops !== next.vm_ops || prev.vm_private_data !== next.vm_private_data) return false;
  if (prev.vm_page_prot !== next.vm_page_prot || prev.anon_name !== next.anon_name) return false;
  if (prev.vm_pgoff + prev.size / PAGE_SIZE !== next.vm_pgoff) return false;
  if (prev.vm_file !== null || prev.vm_ops !== null) return false; // only anonymous memory merges here
  return prev.anon_vma === null || next.anon_vma === null || prev.anon_vma === next.anon_vma;
}

/** vma_merge around `vma`: folds it into its neighbours when compatible; returns the surviving VMA. */
export function vma_merge(vma: VmAreaStruct): VmAreaStruct {
  const mm = vma.vm_mm;
  let i = mm.mmap.indexOf(vma);
  let cur = vma;
  const prev = i > 0 ? mm.mmap[i - 1]! : null;
  if (prev !== null && can_merge(prev, cur)) {
    mm.mmap.splice(i, 1);
    prev.vm_end = cur.vm_end;
    if (prev.anon_vma === null && cur.anon_vma !== null) anon_vma_link(prev, cur.anon_vma);
    unlink_anon_vmas(cur);
    cur = prev;
    i--;
  }
  const next = i + 1 < mm.mmap.length ? mm.mmap[i + 1]! : null;
  if (next !== null && can_merge(cur, next)) {
    mm.mmap.splice(i + 1, 1);
    cur.vm_end = next.vm_end;
    if (cur.anon_vma === null && next.anon_vma !== null) anon_vma_link(cur, next.anon_vma);
    unlink_anon_vmas(next);
  }
  return cur;
}

/**
 * get_unmapped_area (top-down, arch_get_unmapped_area_topdown): the hint if it is
 * free, else the highest gap below mmap_base. Returns the address or -ENOMEM.
 */
export function get_unmapped_area(mm: MmStruct, addr: number, len: number): number {
  if (len > mm.task_size) return -ENOMEM;
  if (addr !== 0) {
    addr = PAGE_ALIGN(addr);
    if (addr >= mmap_min_addr && addr + len <= mm.task_size && find_vma_intersection(mm, addr, addr + len) === null) return addr;
  }
  const base = mm.mmap_base !== 0 ? mm.mmap_base : DEFAULT_MMAP_BASE;
  let top = base;
  for (let i = mm.mmap.length - 1; i >= -1; i--) {
    const v = i >= 0 ? mm.mmap[i]! : null;
    const gapStart = v === null ? mmap_min_addr : v.vm_end;
    if (v !== null && v.vm_start >= top) continue;
    const gapEnd = Math.min(top, i + 1 < mm.mmap.length ? mm.mmap[i + 1]!.vm_start : top);
    if (gapEnd - gapStart >= len && gapEnd - len >= mmap_min_addr) return gapEnd - len;
    if (v !== null) top = Math.min(top, v.vm_start);
  }
  return -ENOMEM;
}

/** calc_vm_prot_bits | calc_vm_flag_bits. */
function calc_vm_flags(prot: number, flags: number): number {
  let f = 0;
  if (prot & PROT_READ) f |= VM_READ;
  if (prot & PROT_WRITE) f |= VM_WRITE;
  if (prot & PROT_EXEC) f |= VM_EXEC;
  if (flags & MAP_GROWSDOWN) f |= VM_GROWSDOWN;
  if (flags & MAP_LOCKED) f |= VM_LOCKED;
  return f;
}

/**
 * do_mmap: creates a mapping of `len` bytes and returns its address or a negative
 * errno. Anonymous private memory is demand-zero; MAP_SHARED|MAP_ANONYMOUS is shmem;
 * file mappings call file->f_op->mmap. MAP_LOCKED / mlockall(MCL_FUTURE) lock and
 * populate; MAP_POPULATE populates.
 */
export function do_mmap(
  mm: MmStruct,
  file: File | null,
  addr: number,
  len: number,
  prot: number,
  flags: number,
  pgoff: number,
  creds: MmCreds = current_mm_creds(),
): number {
  if (!Number.isSafeInteger(len) || !Number.isSafeInteger(addr) || !Number.isSafeInteger(pgoff) || pgoff < 0 || addr < 0) return -EINVAL;
  if (len === 0) return -EINVAL;
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM | PROT_BTI | PROT_MTE)) return -EINVAL;
  len = PAGE_ALIGN(len);
  if (len > mm.task_size) return -ENOMEM;
  if (pgoff + len / PAGE_SIZE > 2 ** 52) return -EOVERFLOW;
  const type = flags & MAP_TYPE;
  if (type !== MAP_SHARED && type !== MAP_PRIVATE && type !== MAP_SHARED_VALIDATE) return -EINVAL;
  if (type === MAP_SHARED_VALIDATE && flags & ~(LEGACY_MAP_MASK | MAP_SYNC | MAP_FIXED_NOREPLACE | MAP_SHARED_VALIDATE)) return -EOPNOTSUPP;
  if (flags & MAP_HUGETLB) return -EINVAL;
  const fixed = (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) !== 0;
  if (fixed) {
    if (addr % PAGE_SIZE !== 0) return -EINVAL;
    if (addr + len > mm.task_size || addr < mmap_min_addr) return addr < mmap_min_addr ? -EPERM : -ENOMEM;
    if (flags & MAP_FIXED_NOREPLACE && !(flags & MAP_FIXED) && find_vma_intersection(mm, addr, addr + len) !== null) return -EEXIST;
  } else {
    addr = get_unmapped_area(mm, addr, len);
    if (addr < 0) return addr;
  }
  if (mm.mmap.length >= sysctl_max_map_count) return -ENOMEM;

  let vm_flags = calc_vm_flags(prot, flags) | mm.def_flags | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
  if (vm_flags & VM_LOCKED && !mlock_future_ok(mm, vm_flags, len, creds)) return -EAGAIN;
  if (file !== null) {
    if (!(file.f_mode & FMODE_READ)) return -EACCES;
    if (type === MAP_SHARED || type === MAP_SHARED_VALIDATE) {
      if (prot & PROT_WRITE && !(file.f_mode & FMODE_WRITE)) return -EACCES;
      vm_flags |= VM_SHARED | VM_MAYSHARE;
      if (!(file.f_mode & FMODE_WRITE)) vm_flags &= ~(VM_MAYWRITE | VM_SHARED);
    }
    if (file.f_op.mmap === undefined) return -ENODEV;
  } else if (type === MAP_SHARED || type === MAP_SHARED_VALIDATE) {
    vm_flags |= VM_SHARED | VM_MAYSHARE;
    pgoff = 0;
  } else {
    pgoff = addr / PAGE_SIZE;
  }
  if (flags & MAP_NORESERVE) vm_flags |= VM_NORESERVE;
  else if ((vm_flags & (VM_SHARED | VM_WRITE)) === VM_WRITE) vm_flags |= VM_ACCOUNT;

  // MAP_FIXED replaces whatever was there.
  if (flags & MAP_FIXED) {
    const r = do_munmap(mm, addr, len);
    if (r < 0) return r;
  }

  const vma = new VmAreaStruct(mm, addr, addr + len, vm_flags, pgoff);
  if (file !== null) {
    vma.vm_file = file;
    file.f_count++;
    const r = file.f_op.mmap!(file, vma);
    if (r < 0) {
      file.f_count--;
      return r;
    }
    if (vma.file_rmap === null && !(vma.vm_flags & (VM_PFNMAP | VM_IO))) {
      const pages = file.f_inode.i_mapping.pages;
      file_rmap_link(vma, file_rmap_get(pages));
    }
  } else if (vm_flags & VM_SHARED) {
    const r = shmem_zero_setup(vma);
    if (r < 0) return r;
  }
  vma_link(mm, vma);
  if (file === null && !(vm_flags & VM_SHARED)) vma_merge(vma);
  if ((flags & (MAP_POPULATE | MAP_NONBLOCK)) === MAP_POPULATE || (vm_flags & VM_LOCKED && !(vm_flags & VM_LOCKONFAULT))) {
    // MAP_LOCKED does not fail when populating fails (mm_populate ignores errors).
    mm_populate(mm, addr, len);
  }
  return addr;
}


/**
 * do_munmap / do_vmi_munmap: removes [start, start+len). VMAs straddling the ends
 * are split; pages are zapped with MMU_NOTIFY_UNMAP; the table pages only the removed
 * VMAs used are freed after the TLB flush that follows (it reaches walk caches).
 * Returns 0 or -EINVAL / -ENOMEM (split at the map-count limit).
 */
export function do_munmap(mm: MmStruct, start: number, len: number): number {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(len) || start % PAGE_SIZE !== 0 || start < 0 || start > mm.task_size) return -EINVAL;
  len = PAGE_ALIGN(len);
  if (len === 0 || len > mm.task_size - start) return -EINVAL;
  const end = start + len;
  let vma = find_vma(mm, start);
  if (vma === null || vma.vm_start >= end) return 0;
  if (vma.vm_start < start) {
    const r = split_vma(vma, start);
    if (typeof r === 'number') return r;
    vma = r;
  }
  const last = find_vma(mm, end - 1);
  if (last !== null && last.vm_start < end && last.vm_end > end) {
    const r = split_vma(last, end);
    if (typeof r === 'number') return r;
  }
  const doomed = mm.mmap.filter((v) => v.vm_start >= start && v.vm_end <= end);
  const first = mm.mmap.indexOf(doomed[0]!);
  const prev = first > 0 ? mm.mmap[first - 1]! : null;
  const next = first + doomed.length < mm.mmap.length ? mm.mmap[first + doomed.length]! : null;
  for (const v of doomed) if (v.vm_flags & VM_LOCKED) mlock_fixup(v, v.vm_start, v.vm_end, v.vm_flags & ~VM_LOCKED_MASK);
  // vms_clear_ptes: unmap_vmas, free_pgtables between the neighbours, one tlb_finish_mmu
  const tlb = tlb_gather_mmu(mm);
  unmap_vmas(tlb, doomed, start, end);
  free_pgd_range(tlb, doomed[0]!.vm_start, doomed[doomed.length - 1]!.vm_end, prev !== null ? prev.vm_end : 0, next !== null ? next.vm_start : TASK_SIZE);
  tlb_finish_mmu(tlb);
  for (const v of doomed) {
    vma_unlink_list(mm, v);
    remove_vma(v);
  }
  return 0;
}

/** Splits so that [start, end) is covered by whole VMAs; returns the VMAs or an errno. */
function isolate_range(mm: MmStruct, start: number, end: number, requireContiguous: boolean): VmAreaStruct[] | number {
  let vma = find_vma(mm, start);
  if (vma === null || vma.vm_start >= end) return requireContiguous ? -ENOMEM : [];
  if (requireContiguous && vma.vm_start > start) return -ENOMEM;
  // Check contiguity before splitting anything.
  if (requireContiguous) {
    let at = start;
    for (let v: VmAreaStruct | null = vma; v !== null && at < end; ) {
      if (v.vm_start > at) return -ENOMEM;
      at = v.vm_end;
      const i = mm.mmap.indexOf(v);
      v = i + 1 < mm.mmap.length ? mm.mmap[i + 1]! : null;
    }
    if (at < end) return -ENOMEM;
  }
  if (vma.vm_start < start) {
    const r = split_vma(vma, start);
    if (typeof r === 'number') return r;
    vma = r;
  }
  const last = find_vma(mm, end - 1);
  if (last !== null && last.vm_start < end && last.vm_end > end) {
    const r = split_vma(last, end);
    if (typeof r === 'number') return r;
  }
  return mm.mmap.filter((v) => v.vm_start >= start && v.vm_end <= end);
}

/**
 * do_mprotect_pkey: changes the protection of [start, start+len). -EINVAL for bad
 * arguments, -ENOMEM for unmapped holes, -EACCES when the mapping may not get the
 * access (VM_MAY*). PTEs are rewritten (change_protection) with MMU_NOTIFY_PROTECTION_VMA.
 */
export function do_mprotect(mm: MmStruct, start: number, len: number, prot: number): number {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(len) || start % PAGE_SIZE !== 0 || start < 0) return -EINVAL;
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM | PROT_BTI | PROT_MTE | PROT_GROWSDOWN | PROT_GROWSUP)) return -EINVAL;
  if ((prot & (PROT_GROWSDOWN | PROT_GROWSUP)) === (PROT_GROWSDOWN | PROT_GROWSUP)) return -EINVAL;
  len = PAGE_ALIGN(len);
  if (len === 0) return 0;
  const end = start + len;
  if (end > mm.task_size) return -ENOMEM;
  const newbits = (prot & PROT_READ ? VM_READ : 0) | (prot & PROT_WRITE ? VM_WRITE : 0) | (prot & PROT_EXEC ? VM_EXEC : 0);
  // Permission checks before any change, as mprotect_fixup would fail midway otherwise.
  for (let v = find_vma(mm, start); v !== null && v.vm_start < end; v = next_vma(mm, v)) {
    if ((newbits & VM_READ && !(v.vm_flags & VM_MAYREAD)) || (newbits & VM_WRITE && !(v.vm_flags & VM_MAYWRITE)) || (newbits & VM_EXEC && !(v.vm_flags & VM_MAYEXEC))) {
      return -EACCES;
    }
  }
  const vmas = isolate_range(mm, start, end, true);
  if (typeof vmas === 'number') return vmas;
  for (const v of vmas) mprotect_fixup(v, (v.vm_flags & ~(VM_READ | VM_WRITE | VM_EXEC)) | newbits);
  for (const v of vmas) if (mm.mmap.includes(v)) vma_merge(v);
  return 0;
}

function next_vma(mm: MmStruct, v: VmAreaStruct): VmAreaStruct | null {
  const i = mm.mmap.indexOf(v);
  return i + 1 < mm.mmap.length ? mm.mmap[i + 1]! : null;
}

/** mprotect_fixup + change_protection for one whole VMA. */
function mprotect_fixup(vma: VmAreaStruct, newflags: number): void {
  const mm = vma.vm_mm;
  const n = vma.size / PAGE_SIZE;
  vm_stat_account(mm, vma.vm_flags, -n);
  if (newflags & VM_WRITE && !(vma.vm_flags & (VM_SHARED | VM_ACCOUNT | VM_NORESERVE))) newflags |= VM_ACCOUNT;
  vma.vm_flags = newflags;
  vm_stat_account(mm, newflags, n);
  const cpu = thisCpu();
  const range = notify_start(MMU_NOTIFY_PROTECTION_VMA, mm, vma.vm_start, vma.vm_end);
  let changed = false;
  walk_pte_range(mm, vma.vm_start, vma.vm_end, (ptep, _va, lo, hi) => {
    if (!pte_present(lo, hi)) return; // swap entries keep their offset
    pte_modify(lo, hi, vma);
    const nlo = mk_pte_lo();
    const nhi = mk_pte_hi();
    if (nlo === lo && nhi === hi) return;
    set_pte(cpu, ptep, nlo, nhi);
    changed = true;
  });
  if (changed) flush_tlb_range_mm(mm, vma.vm_start, vma.vm_end);
  notify_end(range);
}

/**
 * brk (mm/mmap.c SYSCALL brk): moves the program break. Shrinking unmaps; growing
 * maps anonymous memory if nothing is in the way. Returns the new break, or the old
 * one when the request cannot be honoured (as Linux does).
 */
export function do_brk(mm: MmStruct, brk: number, creds: MmCreds = current_mm_creds()): number {
  if (!Number.isSafeInteger(brk) || brk < mm.start_brk || brk > mm.task_size) return mm.brk;
  const newbrk = PAGE_ALIGN(brk);
  const oldbrk = PAGE_ALIGN(mm.brk);
  if (oldbrk === newbrk) {
    mm.brk = brk;
    return brk;
  }
  if (brk <= mm.brk) {
    if (do_munmap(mm, newbrk, oldbrk - newbrk) < 0) return mm.brk;
    mm.brk = brk;
    return brk;
  }
  if (find_vma_intersection(mm, oldbrk, newbrk + PAGE_SIZE) !== null) return mm.brk;
  const r = do_brk_flags(mm, oldbrk, newbrk - oldbrk, creds);
  if (r < 0) return mm.brk;
  mm.brk = brk;
  return brk;
}

/** do_brk_flags: extends the heap VMA (or creates it) over [addr, addr+len). */
function do_brk_flags(mm: MmStruct, addr: number, len: number, creds: MmCreds): number {
  const flags = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_ACCOUNT | mm.def_flags;
  if (flags & VM_LOCKED && !mlock_future_ok(mm, flags, len, creds)) return -EAGAIN;
  if (mm.mmap.length >= sysctl_max_map_count) return -ENOMEM;
  const vma = new VmAreaStruct(mm, addr, addr + len, flags, addr / PAGE_SIZE);
  vma.anon_name = '[heap]';
  vma_link(mm, vma);
  vma_merge(vma);
  if (flags & VM_LOCKED) mm_populate(mm, addr, len);
  return 0;
}

/**
 * do_madvise: advice on [start, start+len). DONTNEED/FREE zap private pages
 * (-EINVAL on locked or PFN-mapped VMAs); PAGEOUT reclaims them to swap; DONTFORK,
 * DOFORK, WIPEONFORK, KEEPONFORK, DONTDUMP, DODUMP, RANDOM, SEQUENTIAL, NORMAL change
 * VMA flags; WILLNEED, COLD, (UN)MERGEABLE, (NO)HUGEPAGE are accepted hints;
 * POPULATE_READ/WRITE fault pages in. Unmapped parts give -ENOMEM after the rest is done.
 */
export function do_madvise(mm: MmStruct, start: number, len: number, advice: number): number {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(len) || start % PAGE_SIZE !== 0 || start < 0 || len < 0) return -EINVAL;
  const known = [
    MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED, MADV_FREE, MADV_REMOVE, MADV_DONTFORK, MADV_DOFORK,
    MADV_MERGEABLE, MADV_UNMERGEABLE, MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_DONTDUMP, MADV_DODUMP, MADV_WIPEONFORK, MADV_KEEPONFORK,
    MADV_COLD, MADV_PAGEOUT, MADV_POPULATE_READ, MADV_POPULATE_WRITE,
  ];
  if (!known.includes(advice)) return -EINVAL;
  len = PAGE_ALIGN(len);
  const end = start + len;
  if (end > mm.task_size) return -EINVAL;
  if (len === 0) return 0;
  let unmapped = false;
  let at = start;
  for (let v = find_vma(mm, start); v !== null && v.vm_start < end; v = next_vma(mm, v)) {
    if (v.vm_start > at) unmapped = true;
    at = v.vm_end;
  }
  if (at < end) unmapped = true;
  const modifiesFlags = [MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_DONTFORK, MADV_DOFORK, MADV_DONTDUMP, MADV_DODUMP, MADV_WIPEONFORK, MADV_KEEPONFORK].includes(advice);
  const vmas = modifiesFlags ? isolate_range(mm, start, end, false) : mm.mmap.filter((v) => v.vm_end > start && v.vm_start < end);
  if (typeof vmas === 'number') return vmas;
  for (const v of vmas) {
    const s = Math.max(start, v.vm_start);
    const e = Math.min(end, v.vm_end);
    switch (advice) {
      case MADV_DONTNEED:
      case MADV_FREE:
        if (v.vm_flags & (VM_LOCKED | VM_PFNMAP | VM_IO | VM_MIXEDMAP)) return -EINVAL;
        if (advice === MADV_FREE && v.vm_flags & VM_SHARED) return -EINVAL;
        zap_page_range(v, s, e, MMU_NOTIFY_CLEAR);
        break;
      case MADV_REMOVE:
        if (!(v.vm_flags & VM_SHARED)) return -EINVAL;
        zap_page_range(v, s, e, MMU_NOTIFY_CLEAR);
        break;
      case MADV_PAGEOUT:
        if (v.vm_flags & (VM_LOCKED | VM_PFNMAP | VM_IO | VM_MIXEDMAP)) return -EINVAL;
        reclaim_range_hook(v, s, e);
        break;
      case MADV_DONTFORK:
        v.vm_flags |= VM_DONTCOPY;
        break;
      case MADV_DOFORK:
        if (v.vm_flags & VM_IO) return -EINVAL;
        v.vm_flags &= ~VM_DONTCOPY;
        break;
      case MADV_WIPEONFORK:
        if (v.vm_file !== null || v.vm_flags & VM_SHARED) return -EINVAL;
        v.vm_flags |= VM_WIPEONFORK;
        break;
      case MADV_KEEPONFORK:
        v.vm_flags &= ~VM_WIPEONFORK;
        break;
      case MADV_DONTDUMP:
        v.vm_flags |= VM_DONTDUMP;
        break;
      case MADV_DODUMP:
        if (v.vm_flags & VM_SPECIAL && !(v.vm_flags & VM_DONTDUMP)) return -EINVAL;
        v.vm_flags &= ~VM_DONTDUMP;
        break;
      case MADV_NORMAL:
        v.vm_flags &= ~(VM_RAND_READ | VM_SEQ_READ);
        break;
      case MADV_RANDOM:
        v.vm_flags = (v.vm_flags & ~VM_SEQ_READ) | VM_RAND_READ;
        break;
      case MADV_SEQUENTIAL:
        v.vm_flags = (v.vm_flags & ~VM_RAND_READ) | VM_SEQ_READ;
        break;
      case MADV_POPULATE_READ:
      case MADV_POPULATE_WRITE: {
        if (v.vm_flags & (VM_PFNMAP | VM_IO)) return -EINVAL;
        const r = mm_populate(mm, s, e - s, advice === MADV_POPULATE_WRITE);
        if (r < 0) return r;
        break;
      }
      default:
        break; // WILLNEED, COLD, (UN)MERGEABLE, (NO)HUGEPAGE: hints with nothing to do here
    }
  }
  if (modifiesFlags) for (const v of vmas) if (mm.mmap.includes(v)) vma_merge(v);
  return unmapped ? -ENOMEM : 0;
}

/** MADV_PAGEOUT is served by vmscan (reclaim_pages); wired at init to avoid a module cycle at load. */
let reclaim_range_hook: (vma: VmAreaStruct, start: number, end: number) => void = () => {};
export function set_madv_pageout_hook(fn: (vma: VmAreaStruct, start: number, end: number) => void): void {
  reclaim_range_hook = fn;
}

/**
 * dup_mmap (fork): copies the VMA list into `mm`. VM_DONTCOPY VMAs are left out;
 * VM_WIPEONFORK VMAs come empty (the child sees zeros); locks are not inherited;
 * other pages are shared copy-on-write through copy_page_range. Returns 0 or -ENOMEM.
 */
export function dup_mmap(mm: MmStruct, oldmm: MmStruct): number {
  mm.start_code = oldmm.start_code;
  mm.end_code = oldmm.end_code;
  mm.start_data = oldmm.start_data;
  mm.end_data = oldmm.end_data;
  mm.start_brk = oldmm.start_brk;
  mm.brk = oldmm.brk;
  mm.start_stack = oldmm.start_stack;
  mm.arg_start = oldmm.arg_start;
  mm.arg_end = oldmm.arg_end;
  mm.env_start = oldmm.env_start;
  mm.env_end = oldmm.env_end;
  mm.mmap_base = oldmm.mmap_base;
  mm.task_size = oldmm.task_size;
  mm.def_flags = 0;
  for (const mpnt of oldmm.mmap) {
    if (mpnt.vm_flags & VM_DONTCOPY) continue;
    const tmp = new VmAreaStruct(mm, mpnt.vm_start, mpnt.vm_end, mpnt.vm_flags & ~VM_LOCKED_MASK, mpnt.vm_pgoff);
    tmp.vm_ops = mpnt.vm_ops;
    tmp.vm_file = mpnt.vm_file;
    tmp.vm_private_data = mpnt.vm_private_data;
    tmp.vm_page_prot = mpnt.vm_page_prot;
    tmp.anon_name = mpnt.anon_name;
    const wipe = (tmp.vm_flags & VM_WIPEONFORK) !== 0;
    if (mpnt.anon_vma !== null && !wipe) anon_vma_link(tmp, mpnt.anon_vma);
    if (mpnt.file_rmap !== null) file_rmap_link(tmp, mpnt.file_rmap);
    if (tmp.vm_file) tmp.vm_file.f_count++;
    mm.mmap.push(tmp);
    vm_stat_account(mm, tmp.vm_flags, tmp.size / PAGE_SIZE);
    tmp.vm_ops?.open?.(tmp);
    if (wipe) continue;
    if (copy_page_range(tmp, mpnt) < 0) return -ENOMEM;
  }
  return 0;
}

/**
 * exit_mmap's unmap_vmas + free_pgtables over the whole address space into a full-mm
 * gather (the caller finishes it, then removes the VMAs with remove_all_vmas).
 */
export function unmap_all_vmas(tlb: MmuGather, mm: MmStruct): void {
  for (const v of mm.mmap) if (v.vm_flags & VM_LOCKED) mlock_fixup(v, v.vm_start, v.vm_end, v.vm_flags & ~VM_LOCKED_MASK);
  unmap_vmas(tlb, mm.mmap, 0, TASK_SIZE);
  free_pgd_range(tlb, 0, TASK_SIZE, 0, TASK_SIZE);
}

/** exit_mmap's remove_vma loop: every VMA closed, unlinked and released. */
export function remove_all_vmas(mm: MmStruct): void {
  for (const v of mm.mmap.slice()) {
    vma_unlink_list(mm, v);
    remove_vma(v);
  }
}
