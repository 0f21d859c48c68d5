// User memory access from the kernel (arch/arm64/include/asm/uaccess.h, lib/usercopy.c).
// Pointers from user space are guest virtual addresses of the current mm: the copy
// runs through the MMU with EL0 permissions (LDTR/STTR) and, when it faults, the
// exception-table fixup asks the core mm to resolve the fault and retries. A fault
// the mm cannot resolve ends the copy: the caller returns -EFAULT.

import { thisCpu } from '../../arch/index.js';
import { current } from '../sched/core.js';
import { do_page_fault } from '../arch/fault.js';
import { EFAULT, ENAMETOOLONG } from './errno.js';

/** User addresses end at 2^48 (VA_BITS = 48, TTBR0 range). */
export const TASK_SIZE = 2 ** 48;

const UNPRIV = { unprivileged: true } as const;
const UNPRIV_WRITE = { unprivileged: true, write: true } as const;

/** access_ok: the range lies in the user half of the address space. */
export function access_ok(uaddr: number, size: number): boolean {
  return Number.isSafeInteger(uaddr) && Number.isSafeInteger(size) && uaddr >= 0 && size >= 0 && uaddr + size <= TASK_SIZE;
}

/**
 * Copies `len` bytes with fault fixup. Returns the number of bytes NOT copied (0 on
 * success), as raw_copy_{from,to}_user do.
 */
function copy_user(uaddr: number, buf: Uint8Array, off: number, len: number, write: boolean): number {
  if (len === 0) return 0;
  if (!access_ok(uaddr, len)) return len;
  const cpu = thisCpu();
  const mm = current().mm;
  cpu.charge(len * (cpu.cost['copyByteNs'] ?? 0));
  // Each fixup maps at least one page, so a copy needs at most one per page (twice
  // over for COW: read fault then write fault) before it succeeds or fails for good.
  const maxFixups = 2 * (Math.floor((uaddr + len - 1) / 4096) - Math.floor(uaddr / 4096) + 1) + 2;
  for (let fixups = 0; ; fixups++) {
    const fault = write
      ? cpu.tryWriteVirt(uaddr, buf, off, len, UNPRIV_WRITE)
      : cpu.tryReadVirt(uaddr, buf, off, len, UNPRIV);
    if (fault === undefined) return 0;
    const notCopied = len - Math.min(len, Math.max(0, fault.far - uaddr));
    if (fixups >= maxFixups || do_page_fault(mm, fault.far, fault.esr, true) !== 0) return notCopied;
  }
}

/** copy_from_user: returns bytes not copied (0 = success). */
export function copy_from_user(dst: Uint8Array, uaddr: number, len: number, dstOff = 0): number {
  return copy_user(uaddr, dst, dstOff, len, false);
}

/** copy_to_user: returns bytes not copied (0 = success). */
export function copy_to_user(uaddr: number, src: Uint8Array, len: number, srcOff = 0): number {
  return copy_user(uaddr, src, srcOff, len, true);
}

/** clear_user: zeroes user memory; returns bytes not cleared. */
export function clear_user(uaddr: number, len: number): number {
  const zero = new Uint8Array(Math.min(len, 4096));
  let left = len;
  let p = uaddr;
  while (left > 0) {
    const n = Math.min(left, zero.length);
    const r = copy_user(p, zero, 0, n, true);
    if (r !== 0) return left - (n - r);
    left -= n;
    p += n;
  }
  return 0;
}

const scratch = new Uint8Array(8);
const scratchView = new DataView(scratch.buffer);

/** get_user of a 1/2/4/8-byte little-endian value: the value, or undefined on a fault. */
export function get_user(uaddr: number, size: 1 | 2 | 4 | 8): number | undefined {
  if (copy_user(uaddr, scratch, 0, size, false) !== 0) return undefined;
  switch (size) {
    case 1:
      return scratch[0]!;
    case 2:
      return scratchView.getUint16(0, true);
    case 4:
      return scratchView.getUint32(0, true);
    default:
      return scratchView.getUint32(4, true) * 4294967296 + scratchView.getUint32(0, true);
  }
}

/** get_user of a 64-bit value as a bigint (full width), or undefined on a fault. */
export function get_user_u64n(uaddr: number): bigint | undefined {
  if (copy_user(uaddr, scratch, 0, 8, false) !== 0) return undefined;
  return scratchView.getBigUint64(0, true);
}

/** put_user of a 1/2/4/8-byte little-endian value; 0 or -EFAULT. Negative values are two's complement. */
export function put_user(value: number | bigint, uaddr: number, size: 1 | 2 | 4 | 8): number {
  if (typeof value === 'bigint') scratchView.setBigUint64(0, BigInt.asUintN(64, value), true);
  else if (size === 8) scratchView.setBigUint64(0, BigInt.asUintN(64, BigInt(Math.trunc(value))), true);
  else if (size === 4) scratchView.setUint32(0, value >>> 0, true);
  else if (size === 2) scratchView.setUint16(0, value & 0xffff, true);
  else scratch[0] = value & 0xff;
  return copy_user(uaddr, scratch, 0, size, true) === 0 ? 0 : -EFAULT;
}

/**
 * strncpy_from_user: copies a NUL-terminated string of at most `max` bytes (including
 * the NUL). Returns the string, -EFAULT, or -ENAMETOOLONG when no NUL came in `max`.
 */
export function strncpy_from_user(uaddr: number, max: number): string | number {
  const chunk = new Uint8Array(64);
  const parts: number[] = [];
  let p = uaddr;
  while (parts.length < max) {
    // Never read past the page of p in one go: the string may end before an unmapped page.
    const pageLeft = 4096 - (p % 4096);
    const n = Math.min(chunk.length, pageLeft, max - parts.length);
    if (copy_user(p, chunk, 0, n, false) !== 0) return -EFAULT;
    for (let i = 0; i < n; i++) {
      const c = chunk[i]!;
      if (c === 0) return new TextDecoder().decode(Uint8Array.from(parts));
      parts.push(c);
    }
    p += n;
  }
  return -ENAMETOOLONG;
}

/** strnlen_user: length including the NUL, 0 on a fault, > max when too long. */
export function strnlen_user(uaddr: number, max: number): number {
  const s = strncpy_from_user(uaddr, max);
  if (typeof s === 'number') return s === -EFAULT ? 0 : max + 1;
  return new TextEncoder().encode(s).length + 1;
}
