// stdio streams: a FILE buffers output and flushes it with write(2) from a buffer in
// user memory (the kernel copies from there), and buffers input read with read(2).
// stdout is line-buffered on a terminal and fully buffered otherwise; stderr is
// unbuffered (ISO C 7.21.3).

import { thisCpu } from '../../arch/index.js';
import { sys, isErr } from './syscall.js';
import { utf8 } from './string.js';
import { EINTR } from './errno.js';

export const BUFSIZ = 4096;

export const enum BufMode {
  /** _IOFBF */
  Full = 0,
  /** _IOLBF */
  Line = 1,
  /** _IONBF */
  None = 2,
}

export class FILE {
  /** Bytes staged for output (the program's view of its buffer before it is copied out). */
  private out = new Uint8Array(BUFSIZ);
  private outLen = 0;
  /** Input buffered by read(2) and not yet consumed. */
  private inBuf = new Uint8Array(0);
  private inPos = 0;
  eof = false;
  /** Last error from write/read (negative errno) or 0. */
  error = 0;

  constructor(
    readonly fd: number,
    /** BUFSIZ bytes of user memory the stream writes from and reads into. */
    readonly ubuf: number,
    public mode: BufMode,
  ) {}

  /** A copy for a forked child; buffers are flushed before fork, so the copy starts empty. */
  clone(): FILE {
    const f = new FILE(this.fd, this.ubuf, this.mode);
    f.eof = this.eof;
    return f;
  }

  /** fputs/fwrite: buffers `data`, flushing as the buffering mode says. */
  *write(data: string | Uint8Array): Generator<unknown, number, unknown> {
    const bytes = typeof data === 'string' ? utf8(data) : data;
    if (this.mode === BufMode.None) {
      const r = yield* writeAll(this.fd, this.ubuf, bytes);
      if (r < 0) this.error = r;
      return r;
    }
    let off = 0;
    while (off < bytes.length) {
      const n = Math.min(bytes.length - off, BUFSIZ - this.outLen);
      this.out.set(bytes.subarray(off, off + n), this.outLen);
      this.outLen += n;
      off += n;
      if (this.outLen === BUFSIZ) {
        const r = yield* this.flush();
        if (r < 0) return r;
      }
    }
    if (this.mode === BufMode.Line && bytes.lastIndexOf(10) >= 0) {
      const r = yield* this.flush();
      if (r < 0) return r;
    }
    return bytes.length;
  }

  /** fflush: writes out whatever is buffered. Returns 0 or -errno. */
  *flush(): Generator<unknown, number, unknown> {
    if (this.outLen === 0) return 0;
    const data = this.out.subarray(0, this.outLen);
    const r = yield* writeAll(this.fd, this.ubuf, data);
    this.outLen = 0;
    if (r < 0) {
      this.error = r;
      return r;
    }
    return 0;
  }

  /** Pending output bytes (for tests). */
  get buffered(): number {
    return this.outLen;
  }

  private *fill(): Generator<unknown, number, unknown> {
    for (;;) {
      const n = yield* sys('read', this.fd, this.ubuf, BUFSIZ);
      if (n === -EINTR) continue;
      if (isErr(n)) {
        this.error = n;
        return n;
      }
      if (n === 0) {
        this.eof = true;
        return 0;
      }
      this.inBuf = new Uint8Array(n);
      thisCpu().readVirt(this.ubuf, this.inBuf, 0, n);
      this.inPos = 0;
      return n;
    }
  }

  /** fgets-like: the next line with its "\n" (or the tail at EOF); null at EOF or on error. */
  *readLine(): Generator<unknown, string | null, unknown> {
    const parts: Uint8Array[] = [];
    for (;;) {
      if (this.inPos >= this.inBuf.length) {
        const n = yield* this.fill();
        if (n <= 0) break;
      }
      const nl = this.inBuf.indexOf(10, this.inPos);
      if (nl >= 0) {
        parts.push(this.inBuf.slice(this.inPos, nl + 1));
        this.inPos = nl + 1;
        return decodeParts(parts);
      }
      parts.push(this.inBuf.slice(this.inPos));
      this.inPos = this.inBuf.length;
    }
    return parts.length === 0 ? null : decodeParts(parts);
  }

  /** fread until EOF: everything left on the stream. */
  *readAll(): Generator<unknown, Uint8Array | number, unknown> {
    const parts: Uint8Array[] = [this.inBuf.slice(this.inPos)];
    this.inPos = this.inBuf.length;
    for (;;) {
      const n = yield* this.fill();
      if (n < 0) return n;
      if (n === 0) break;
      parts.push(this.inBuf.slice());
      this.inPos = this.inBuf.length;
    }
    return concat(parts);
  }
}

/** write(2) in a loop until all of `data` is out, staging it through `ubuf` (BUFSIZ bytes). */
export function* writeAll(fd: number, ubuf: number, data: Uint8Array): Generator<unknown, number, unknown> {
  let off = 0;
  while (off < data.length) {
    const n = Math.min(BUFSIZ, data.length - off);
    thisCpu().writeVirt(ubuf, data, off, n);
    let done = 0;
    while (done < n) {
      const r = yield* sys('write', fd, ubuf + done, n - done);
      if (r === -EINTR) continue;
      if (isErr(r)) return r;
      if (r === 0) return off + done;
      done += r;
    }
    off += n;
  }
  return off;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const dec = new TextDecoder();
function decodeParts(parts: readonly Uint8Array[]): string {
  return dec.decode(parts.length === 1 ? parts[0]! : concat(parts));
}
