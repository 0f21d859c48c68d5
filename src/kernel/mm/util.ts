// mm/util.c: locked-memory accounting against RLIMIT_MEMLOCK (account_locked_vm),
// and the credentials of the calling task the mm needs (rlimit, CAP_IPC_LOCK),
// supplied by the process layer through a provider so mm stays testable alone.

import { ENOMEM } from '../lib/errno.js';
import type { MmStruct } from './mm_types.js';
import { PAGE_SHIFT } from './page.js';

/** What mlock/pin accounting asks of the current task. */
export interface MmCreds {
  /** RLIMIT_MEMLOCK soft limit in bytes (Infinity = RLIM_INFINITY). */
  readonly memlockLimit: number;
  /** capable(CAP_IPC_LOCK) (root has it). */
  readonly capIpcLock: boolean;
}

/** Linux's default: MLOCK_LIMIT 8 MiB, unprivileged. */
const DEFAULT_CREDS: MmCreds = { memlockLimit: 8 * 1024 * 1024, capIpcLock: false };
let provider: () => MmCreds = () => DEFAULT_CREDS;

/** Installs how the mm learns the current task's RLIMIT_MEMLOCK and CAP_IPC_LOCK. */
export function set_mm_creds_provider(fn: () => MmCreds): void {
  provider = fn;
}

export function current_mm_creds(): MmCreds {
  return provider();
}

/**
 * __account_locked_vm: on `inc`, fails with -ENOMEM (and changes nothing) when
 * `locked_vm + pages` exceeds RLIMIT_MEMLOCK and `bypass` is false; on decrement,
 * subtracts (clamped at zero, where Linux WARNs).
 */
export function __account_locked_vm(mm: MmStruct, pages: number, inc: boolean, creds: MmCreds, bypass: boolean): number {
  if (inc) {
    const limit = creds.memlockLimit === Infinity ? Infinity : Math.floor(creds.memlockLimit / 2 ** PAGE_SHIFT);
    if (!bypass && mm.locked_vm + pages > limit) return -ENOMEM;
    mm.locked_vm += pages;
  } else {
    mm.locked_vm = Math.max(0, mm.locked_vm - pages);
  }
  return 0;
}

/** account_locked_vm: as above for the current task, bypassed by CAP_IPC_LOCK; 0 for no pages or no mm. */
export function account_locked_vm(mm: MmStruct | null, pages: number, inc: boolean, creds: MmCreds = current_mm_creds()): number {
  if (pages === 0 || mm === null) return 0;
  return __account_locked_vm(mm, pages, inc, creds, creds.capIpcLock);
}

/**
 * Long-term pin accounting in mm->pinned_vm (what RDMA's ib_umem_get and iommufd do):
 * -ENOMEM beyond RLIMIT_MEMLOCK unless CAP_IPC_LOCK.
 */
export function account_pinned_vm(mm: MmStruct, pages: number, inc: boolean, creds: MmCreds = current_mm_creds()): number {
  if (inc) {
    const limit = creds.memlockLimit === Infinity ? Infinity : Math.floor(creds.memlockLimit / 2 ** PAGE_SHIFT);
    if (!creds.capIpcLock && mm.pinned_vm + pages > limit) return -ENOMEM;
    mm.pinned_vm += pages;
  } else {
    mm.pinned_vm = Math.max(0, mm.pinned_vm - pages);
  }
  return 0;
}
