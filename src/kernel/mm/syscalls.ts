// The memory system calls (arm64 asm-generic numbers): brk, mmap, munmap, mprotect,
// madvise, mlock, munlock, mlockall, munlockall, mlock2, mincore, mremap (mremap.ts). Arguments arrive as
// 64-bit register values; C int arguments are narrowed as the kernel's prototypes do.

import { EBADF, EFAULT, EINVAL, ENOMEM } from '../lib/errno.js';
import { copy_to_user } from '../lib/uaccess.js';
import { fd_file } from '../fs/file.js';
import { current } from '../sched/core.js';
import {
  __NR_brk,
  __NR_madvise,
  __NR_mincore,
  __NR_mlock,
  __NR_mlockall,
  __NR_mmap,
  __NR_mprotect,
  __NR_mremap,
  __NR_munlock,
  __NR_munlockall,
  __NR_munmap,
} from '../syscalls/numbers.js';
import { registerSyscall, sys_int, sys_ulong, type SyscallResult } from '../syscalls/table.js';
import { follow_pte, type FollowResult } from './memory.js';
import { do_mlock, do_mlockall, do_munlock, do_munlockall, MLOCK_ONFAULT } from './mlock.js';
import { do_brk, do_madvise, do_mmap, do_mprotect, do_munmap, find_vma, MAP_ANONYMOUS } from './mmap.js';
import type { MmStruct } from './mm_types.js';
import { do_mremap } from './mremap.js';
import { PAGE_SIZE } from './page.js';

/** __NR_mlock2 (asm-generic unistd.h). */
export const __NR_mlock2 = 284;

function mm_of_current(): MmStruct | null {
  return current().mm;
}

function* sys_brk(brk: number): SyscallResult {
  const mm = mm_of_current();
  if (mm === null) return -ENOMEM;
  return do_brk(mm, sys_ulong(brk));
}

/** ksys_mmap_pgoff via sys_mmap (arm64): the offset must be page aligned. */
function* sys_mmap(addr: number, len: number, prot: number, flags: number, fd: number, off: number): SyscallResult {
  const mm = mm_of_current();
  if (mm === null) return -ENOMEM;
  const offset = sys_ulong(off);
  if (offset % PAGE_SIZE !== 0) return -EINVAL;
  const f = sys_int(flags);
  let file = null;
  if (!(f & MAP_ANONYMOUS)) {
    file = fd_file(sys_int(fd)) ?? null;
    if (file === null) return -EBADF;
  }
  return do_mmap(mm, file, sys_ulong(addr), sys_ulong(len), sys_int(prot) >>> 0, f >>> 0, offset / PAGE_SIZE);
}

function* sys_munmap(addr: number, len: number): SyscallResult {
  const mm = mm_of_current();
  if (mm === null) return -EINVAL;
  return do_munmap(mm, sys_ulong(addr), sys_ulong(len));
}

function* sys_mprotect(start: number, len: number, prot: number): SyscallResult {
  const mm = mm_of_current();
  if (mm === null) return -ENOMEM;
  return do_mprotect(mm, sys_ulong(start), sys_ulong(len), sys_int(prot) >>> 0);
}

function* sys_madvise(start: number, len: number, behavior: number): SyscallResult {
  const mm = mm_of_current();
  if (mm === null) return -EINVAL;
  return do_madvise(mm, sys_ulong(start), sys_ulong(len), sys_int(behavior));
}

function* sys_mlock(start: number, len: number): SyscallResult {
  const mm = mm_of_current();
  if (mm === null) return -ENOMEM;
  return do_mlock(mm, sys_ulong(start), sys_ulong(len), 0);
}

function* sys_mlock2(start: number, len: number, flags: number): SyscallResult {
  const mm = mm_of_current();
  if (mm === null) return -ENOMEM;
  const fl = sys_int(flags);
  if (fl & ~MLOCK_ONFAULT) return -EINVAL;
  return do_mlock(mm, sys_ulong(start), sys_ulong(len), fl);
}

function* sys_munlock(start: number, len: number): SyscallResult {
  const mm = mm_of_current();
  if (mm === null) return -ENOMEM;
  return do_munlock(mm, sys_ulong(start), sys_ulong(len));
}

function* sys_mlockall(flags: number): SyscallResult {
  const mm = mm_of_current();
  if (mm === null) return -ENOMEM;
  return do_mlockall(mm, sys_int(flags));
}

function* sys_munlockall(): SyscallResult {
  const mm = mm_of_current();
  if (mm === null) return -ENOMEM;
  return do_munlockall(mm);
}

const fr: FollowResult = { pfn: -1, writable: false, special: false, swapOffset: -1, dirty: false };

/**
 * mincore: one byte per page of [start, start+len), bit 0 set when the page is
 * resident (swapped-out pages are not). -EINVAL for an unaligned start, -ENOMEM for
 * unmapped parts, -EFAULT for a bad vector.
 */
export function* sys_mincore(start: number, len: number, vec: number): SyscallResult {
  const mm = mm_of_current();
  if (mm === null) return -ENOMEM;
  const s = sys_ulong(start);
  const l = sys_ulong(len);
  if (s % PAGE_SIZE !== 0) return -EINVAL;
  const pages = Math.ceil(l / PAGE_SIZE);
  if (s + pages * PAGE_SIZE > mm.task_size) return -ENOMEM;
  const out = new Uint8Array(Math.min(pages, 4096));
  let done = 0;
  while (done < pages) {
    const n = Math.min(out.length, pages - done);
    for (let i = 0; i < n; i++) {
      const va = s + (done + i) * PAGE_SIZE;
      const vma = find_vma(mm, va);
      if (vma === null || vma.vm_start > va) return -ENOMEM;
      follow_pte(mm, va, fr);
      out[i] = fr.pfn >= 0 ? 1 : 0;
    }
    if (copy_to_user(sys_ulong(vec) + done, out, n) !== 0) return -EFAULT;
    done += n;
  }
  return 0;
}

function* sys_mremap(addr: number, oldLen: number, newLen: number, flags: number, newAddr: number): SyscallResult {
  const mm = mm_of_current();
  if (mm === null) return -EINVAL;
  return do_mremap(mm, sys_ulong(addr), sys_ulong(oldLen), sys_ulong(newLen), sys_ulong(flags), sys_ulong(newAddr));
}

/** Registers the memory system calls with the syscall table. */
export function mm_syscalls_init(): void {
  registerSyscall(__NR_brk, 'brk', sys_brk);
  registerSyscall(__NR_munmap, 'munmap', sys_munmap);
  registerSyscall(__NR_mmap, 'mmap', sys_mmap);
  registerSyscall(__NR_mprotect, 'mprotect', sys_mprotect);
  registerSyscall(__NR_mlock, 'mlock', sys_mlock);
  registerSyscall(__NR_munlock, 'munlock', sys_munlock);
  registerSyscall(__NR_mlockall, 'mlockall', sys_mlockall);
  registerSyscall(__NR_munlockall, 'munlockall', sys_munlockall);
  registerSyscall(__NR_mincore, 'mincore', sys_mincore);
  registerSyscall(__NR_madvise, 'madvise', sys_madvise);
  registerSyscall(__NR_mlock2, 'mlock2', sys_mlock2);
  registerSyscall(__NR_mremap, 'mremap', sys_mremap);
}
