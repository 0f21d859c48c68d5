// struct iov_iter (include/linux/uio.h, lib/iov_iter.c): the source or destination of
// a read/write, either user memory (an iovec array of guest virtual ranges, copied
// through copy_{to,from}_user) or a kernel buffer (ITER_KVEC). Filesystems and
// drivers move bytes with copy_to_iter/copy_from_iter and never care which it is.

import { copy_from_user, copy_to_user } from '../lib/uaccess.js';

export interface IoVec {
  base: number;
  len: number;
}

export class IovIter {
  private seg = 0;
  private segOff = 0;
  /** Bytes left to transfer. */
  count: number;
  /** Set when a user copy faulted (the caller returns what was done, or -EFAULT). */
  faulted = false;

  private constructor(
    /** User segments (ITER_IOVEC/ITER_UBUF) or undefined for a kernel buffer. */
    private readonly iov: IoVec[] | undefined,
    private readonly kbuf: Uint8Array | undefined,
    private kOff: number,
    count: number,
  ) {
    this.count = count;
  }

  /** import_ubuf: one user range. */
  static ubuf(base: number, len: number): IovIter {
    return new IovIter([{ base, len }], undefined, 0, len);
  }

  /** import_iovec: several user ranges (readv/writev). */
  static iovec(iov: IoVec[]): IovIter {
    return new IovIter(iov, undefined, 0, iov.reduce((n, v) => n + v.len, 0));
  }

  /** iov_iter_kvec over a kernel buffer. */
  static kvec(buf: Uint8Array, off = 0, len = buf.length - off): IovIter {
    return new IovIter(undefined, buf, off, len);
  }

  get isUser(): boolean {
    return this.iov !== undefined;
  }

  /** copy_to_iter: returns bytes copied (short on a user fault). */
  copy_to_iter(src: Uint8Array, srcOff: number, len: number): number {
    return this.transfer(src, srcOff, len, true);
  }

  /** copy_from_iter: returns bytes copied (short on a user fault). */
  copy_from_iter(dst: Uint8Array, dstOff: number, len: number): number {
    return this.transfer(dst, dstOff, len, false);
  }

  /** Skips `len` bytes (iov_iter_advance). */
  advance(len: number): void {
    const n = Math.min(len, this.count);
    if (this.iov === undefined) {
      this.kOff += n;
      this.count -= n;
      return;
    }
    let left = n;
    while (left > 0 && this.seg < this.iov.length) {
      const v = this.iov[this.seg]!;
      const take = Math.min(left, v.len - this.segOff);
      left -= take;
      this.segOff += take;
      this.count -= take;
      if (this.segOff >= v.len) {
        this.seg++;
        this.segOff = 0;
      }
    }
  }

  private transfer(buf: Uint8Array, off: number, len: number, toIter: boolean): number {
    const want = Math.min(len, this.count);
    if (this.iov === undefined) {
      const k = this.kbuf!;
      if (toIter) k.set(buf.subarray(off, off + want), this.kOff);
      else buf.set(k.subarray(this.kOff, this.kOff + want), off);
      this.kOff += want;
      this.count -= want;
      return want;
    }
    let done = 0;
    while (done < want && this.seg < this.iov.length) {
      const v = this.iov[this.seg]!;
      const n = Math.min(want - done, v.len - this.segOff);
      if (n > 0) {
        const ua = v.base + this.segOff;
        const left = toIter ? copy_to_user(ua, buf, n, off + done) : copy_from_user(buf, ua, n, off + done);
        const moved = n - left;
        done += moved;
        this.segOff += moved;
        this.count -= moved;
        if (left !== 0) {
          this.faulted = true;
          return done;
        }
      }
      if (this.segOff >= v.len) {
        this.seg++;
        this.segOff = 0;
      }
    }
    return done;
  }
}
