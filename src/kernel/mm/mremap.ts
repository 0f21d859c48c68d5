// mremap(2) in the shape of mm/mremap.c: shrink in place, grow in place when the
// address space after the VMA is free, or (MREMAP_MAYMOVE) move the mapping: a copy of
// the VMA at the new address (same anon_vma / file rmap, vm_pgoff kept so the reverse
// map still finds every page), the page-table entries moved rather than the pages
// (move_page_tables: MMU notifiers with MMU_NOTIFY_UNMAP over the old range and a TLB
// flush of it), then the old range unmapped. MREMAP_FIXED puts the result at new_addr
// (anything there is unmapped first). VM_LOCKED mappings keep their pages locked,
// locked_vm follows the new size and the grown part is populated; VM_DONTEXPAND and
// VM_PFNMAP mappings cannot grow (-EFAULT). MREMAP_DONTUNMAP moves the pages but leaves
// the old range mapped (empty, unlocked). A driver's vm_ops->mremap sees the moved VMA
// and may refuse the move: the entries go back and the new range is unmapped instead.
// Not implemented: VM_ACCOUNT commit charging (this kernel does no overcommit accounting).

import { thisCpu } from '../../arch/index.js';
import { EAGAIN, EFAULT, EINVAL, ENOMEM } from '../lib/errno.js';
import { mm_populate } from './gup.js';
import { do_munmap, find_vma_intersection, get_unmapped_area, PAGE_ALIGN, split_vma, sysctl_max_map_count, vm_stat_account, vma_link, vma_lookup, vma_merge } from './mmap.js';
import { mlock_fixup, mlock_future_ok } from './mlock.js';
import { MMU_NOTIFY_UNMAP, type MmStruct, VM_DONTEXPAND, VM_LOCKED, VM_LOCKED_MASK, VM_MAYSHARE, VM_PFNMAP, VM_SHARED, VmAreaStruct } from './mm_types.js';
import { notify_end, notify_start } from './mmu_notifier.js';
import { PAGE_SIZE } from './page.js';
import { pte_alloc, pte_clear, pte_lookup, set_pte, walk_pte_range } from './pgtable.js';
import { anon_vma_link, file_rmap_link } from './rmap.js';
import { flush_tlb_range_mm } from './tlbflush.js';
import { current_mm_creds, type MmCreds } from './util.js';

export const MREMAP_MAYMOVE = 1;
export const MREMAP_FIXED = 2;
export const MREMAP_DONTUNMAP = 4;

/**
 * move_page_tables: moves the PTEs of [oldAddr, oldAddr+len) to newAddr (same mm),
 * present, swap and special entries alike. The old range's secondary TLBs hear
 * MMU_NOTIFY_UNMAP (as Linux), the CPU TLB is flushed for it. Returns the bytes moved:
 * less than `len` when a page table for the destination could not be allocated.
 */
function move_page_tables(mm: MmStruct, oldAddr: number, newAddr: number, len: number): number {
  const cpu = thisCpu();
  const range = notify_start(MMU_NOTIFY_UNMAP, mm, oldAddr, oldAddr + len);
  let moved = len;
  let any = false;
  // Destination tables first, so that a failed allocation leaves nothing half moved
  walk_pte_range(mm, oldAddr, oldAddr + len, (_ptep, va) => {
    if (moved < len) return;
    if (pte_alloc(cpu, mm, newAddr + (va - oldAddr)) < 0) moved = va - oldAddr;
  });
  walk_pte_range(mm, oldAddr, oldAddr + moved, (oldp, va, lo, hi) => {
    any = true;
    const newp = pte_lookup(cpu, mm, newAddr + (va - oldAddr));
    pte_clear(cpu, oldp);
    set_pte(cpu, newp, lo, hi);
  });
  if (any) flush_tlb_range_mm(mm, oldAddr, oldAddr + moved);
  notify_end(range);
  return moved;
}

/** copy_vma: a VMA for [newAddr, newAddr+newLen) mapping what `vma` maps at oldAddr. */
function copy_vma(vma: VmAreaStruct, oldAddr: number, newAddr: number, newLen: number): VmAreaStruct {
  const mm = vma.vm_mm;
  const nv = new VmAreaStruct(mm, newAddr, newAddr + newLen, vma.vm_flags, vma.vm_pgoff + (oldAddr - vma.vm_start) / PAGE_SIZE);
  nv.vm_ops = vma.vm_ops;
  nv.vm_file = vma.vm_file;
  nv.vm_private_data = vma.vm_private_data;
  nv.vm_page_prot = vma.vm_page_prot;
  nv.anon_name = vma.anon_name;
  if (vma.anon_vma !== null) anon_vma_link(nv, vma.anon_vma);
  if (vma.file_rmap !== null) file_rmap_link(nv, vma.file_rmap);
  if (nv.vm_file) nv.vm_file.f_count++;
  // vma_link accounts total_vm and (VM_LOCKED) locked_vm for the whole new size
  vma_link(mm, nv);
  nv.vm_ops?.open?.(nv);
  return nv;
}

/**
 * move_vma: the mapping at oldAddr (oldLen bytes, inside `vma`) moves to newAddr and
 * becomes newLen bytes. Returns newAddr or a negative errno.
 */
function move_vma(vma: VmAreaStruct, oldAddr: number, oldLen: number, newLen: number, newAddr: number, dontUnmap = false): number {
  const mm = vma.vm_mm;
  // A move may split the old VMA in up to three and adds one
  if (mm.mmap.length >= sysctl_max_map_count - 3) return -ENOMEM;
  if (vma.vm_ops?.may_split) {
    if (vma.vm_start !== oldAddr) {
      const r = vma.vm_ops.may_split(vma, oldAddr);
      if (r < 0) return r;
    }
    if (vma.vm_end !== oldAddr + oldLen) {
      const r = vma.vm_ops.may_split(vma, oldAddr + oldLen);
      if (r < 0) return r;
    }
  }
  const nv = copy_vma(vma, oldAddr, newAddr, newLen);
  const moved = move_page_tables(mm, oldAddr, newAddr, oldLen);
  let err = 0;
  if (moved < oldLen) err = -ENOMEM;
  else if (vma.vm_ops?.mremap) err = vma.vm_ops.mremap(nv);
  if (err < 0) {
    // Out of page-table memory, or the driver refuses: put the entries back and unmap
    // the new range instead of the old (its ->close runs, as Linux's do_vmi_munmap does)
    move_page_tables(mm, newAddr, oldAddr, moved);
    do_munmap(mm, newAddr, newLen);
    return err;
  }
  if (dontUnmap) {
    // MREMAP_DONTUNMAP: the old range stays mapped, now empty (it faults in afresh) and
    // no longer locked: the lock moved with the pages, so locked_vm nets to unchanged
    const old = dontUnmapUnlock(vma, oldAddr, oldLen);
    if (old < 0) return old;
  } else if (oldLen > 0) {
    // The old range goes as munmap would take it (its locked_vm share too); with
    // old_len 0 (a second mapping of shared memory) there is nothing to unmap
    do_munmap(mm, oldAddr, oldLen);
  }
  if (mm.mmap.includes(nv)) vma_merge(nv);
  return newAddr;
}

/** The old range of a MREMAP_DONTUNMAP move loses VM_LOCKED* (split out of its VMA first). 0 or -errno. */
function dontUnmapUnlock(vma: VmAreaStruct, addr: number, len: number): number {
  if (!(vma.vm_flags & VM_LOCKED_MASK)) return 0;
  let v = vma;
  if (v.vm_start < addr) {
    const r = split_vma(v, addr);
    if (typeof r === 'number') return r;
    v = r;
  }
  if (v.vm_end > addr + len) {
    const r = split_vma(v, addr + len);
    if (typeof r === 'number') return r;
  }
  mlock_fixup(v, v.vm_start, v.vm_end, v.vm_flags & ~VM_LOCKED_MASK);
  return 0;
}

/**
 * vma_to_resize: the VMA at addr when [addr, addr+oldLen) lies in it and it may become
 * newLen bytes; -EFAULT (no VMA, crosses its end, or growing a VM_DONTEXPAND/VM_PFNMAP
 * mapping), -EAGAIN (RLIMIT_MEMLOCK), -EINVAL (page offset overflow).
 */
function vma_to_resize(mm: MmStruct, addr: number, oldLen: number, newLen: number, flags: number, creds: MmCreds): VmAreaStruct | number {
  const vma = vma_lookup(mm, addr);
  if (vma === null) return -EFAULT;
  if (oldLen > vma.vm_end - addr) return -EFAULT;
  // A driver's PFN map cannot be left behind empty
  if (flags & MREMAP_DONTUNMAP && vma.vm_flags & (VM_DONTEXPAND | VM_PFNMAP)) return -EINVAL;
  if (newLen === oldLen) return vma;
  const pgoff = vma.vm_pgoff + (addr - vma.vm_start) / PAGE_SIZE;
  if (pgoff + newLen / PAGE_SIZE > Number.MAX_SAFE_INTEGER) return -EINVAL;
  if (vma.vm_flags & (VM_DONTEXPAND | VM_PFNMAP)) return -EFAULT;
  if (newLen > oldLen && !mlock_future_ok(mm, vma.vm_flags, newLen - oldLen, creds)) return -EAGAIN;
  return vma;
}

/** mremap_to: MREMAP_FIXED and/or MREMAP_DONTUNMAP. The new address or a negative errno. */
function mremap_to(mm: MmStruct, addr: number, oldLen: number, newAddr: number, newLen: number, flags: number, creds: MmCreds): number {
  if (flags & MREMAP_FIXED) {
    if (newAddr % PAGE_SIZE !== 0) return -EINVAL;
    if (newLen > mm.task_size || newAddr > mm.task_size - newLen) return -EINVAL;
    // The two ranges may not overlap
    if (addr + oldLen > newAddr && newAddr + newLen > addr) return -EINVAL;
    const r = do_munmap(mm, newAddr, newLen);
    if (r) return r;
  } else {
    // MREMAP_DONTUNMAP alone: anywhere free
    newAddr = get_unmapped_area(mm, 0, newLen);
    if (newAddr < 0) return newAddr;
  }
  let r = 0;
  if (oldLen > newLen) {
    r = do_munmap(mm, addr + newLen, oldLen - newLen);
    if (r) return r;
    oldLen = newLen;
  }
  const vma = vma_to_resize(mm, addr, oldLen, newLen, flags, creds);
  if (typeof vma === 'number') return vma;
  return move_vma(vma, addr, oldLen, newLen, newAddr, (flags & MREMAP_DONTUNMAP) !== 0);
}

/** vma_expandable: nothing maps the `delta` bytes after the VMA and they fit the task. */
function vma_expandable(vma: VmAreaStruct, delta: number): boolean {
  const end = vma.vm_end + delta;
  if (end > vma.vm_mm.task_size) return false;
  return find_vma_intersection(vma.vm_mm, vma.vm_end, end) === null;
}

/**
 * do_mremap (SYSCALL_DEFINE5(mremap)): resizes and/or moves [addr, addr+oldLen).
 * Returns the mapping's address or a negative errno: -EINVAL (unknown flags,
 * MREMAP_FIXED without MREMAP_MAYMOVE, unaligned addr or new_addr, new_len 0, overlapping
 * ranges, old_len 0 of a private mapping, MREMAP_DONTUNMAP without MREMAP_MAYMOVE, with
 * old_len != new_len or of a PFN map), -EFAULT (see vma_to_resize),
 * -EAGAIN (RLIMIT_MEMLOCK), -ENOMEM (cannot grow in place without MREMAP_MAYMOVE, no
 * room for the moved mapping, map-count limit).
 */
export function do_mremap(mm: MmStruct, addr: number, oldLen: number, newLen: number, flags: number, newAddr: number, creds: MmCreds = current_mm_creds()): number {
  if (!Number.isSafeInteger(flags) || flags < 0 || flags > 0xffffffff || flags & ~(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP)) return -EINVAL;
  if (flags & MREMAP_FIXED && !(flags & MREMAP_MAYMOVE)) return -EINVAL;
  // MREMAP_DONTUNMAP (Linux 5.7) moves without resizing
  if (flags & MREMAP_DONTUNMAP && (!(flags & MREMAP_MAYMOVE) || oldLen !== newLen)) return -EINVAL;
  if (!Number.isSafeInteger(addr) || addr < 0 || addr % PAGE_SIZE !== 0) return -EINVAL;
  if (!Number.isSafeInteger(oldLen) || !Number.isSafeInteger(newLen) || oldLen < 0 || newLen < 0 || newLen > mm.task_size || oldLen > mm.task_size) return -EINVAL;
  oldLen = PAGE_ALIGN(oldLen);
  newLen = PAGE_ALIGN(newLen);
  if (newLen === 0) return -EINVAL;
  const first = vma_lookup(mm, addr);
  if (first === null) return -EFAULT;
  // old_len 0 duplicates a shared mapping; of private memory it is meaningless
  if (oldLen === 0 && (!(first.vm_flags & (VM_SHARED | VM_MAYSHARE)) || !(flags & MREMAP_MAYMOVE))) return -EINVAL;

  let ret: number;
  let locked = false;
  let populateAt = 0;
  if (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) {
    ret = mremap_to(mm, addr, oldLen, newAddr, newLen, flags, creds);
    if (ret >= 0 && first.vm_flags & VM_LOCKED && newLen > oldLen) {
      locked = true;
      populateAt = ret;
    }
  } else if (oldLen >= newLen) {
    // Shrinking (or same size): the tail goes, the mapping stays where it is
    ret = oldLen > newLen ? do_munmap(mm, addr + newLen, oldLen - newLen) : 0;
    if (ret === 0) ret = addr;
  } else {
    const vma = vma_to_resize(mm, addr, oldLen, newLen, flags, creds);
    if (typeof vma === 'number') return vma;
    const delta = newLen - oldLen;
    if (oldLen === vma.vm_end - addr && oldLen > 0 && vma_expandable(vma, delta)) {
      // Grow in place
      vma.vm_end += delta;
      vm_stat_account(mm, vma.vm_flags, delta / PAGE_SIZE);
      if (vma.vm_flags & VM_LOCKED) {
        mm.locked_vm += delta / PAGE_SIZE;
        locked = true;
      }
      populateAt = addr;
      ret = addr;
    } else if (flags & MREMAP_MAYMOVE) {
      const wasLocked = (vma.vm_flags & VM_LOCKED) !== 0;
      const to = get_unmapped_area(mm, 0, newLen);
      ret = to < 0 ? to : move_vma(vma, addr, oldLen, newLen, to);
      if (ret >= 0 && wasLocked) {
        locked = true;
        populateAt = ret;
      }
    } else ret = -ENOMEM;
  }
  // The grown part of a locked mapping is faulted in, as mlock would
  if (locked && ret >= 0 && newLen > oldLen) mm_populate(mm, populateAt + oldLen, newLen - oldLen);
  return ret;
}
