// malloc/free over the program break and anonymous mmap, as a small C allocator does:
// small blocks come from an arena grown with brk(2) (or an mmap'd chunk when brk is
// refused), blocks of MMAP_THRESHOLD and more get their own mapping. The bookkeeping
// (the free list) is the allocator's own state; the blocks are user memory.

import { sys, isErr } from './syscall.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from './uapi.js';

/** Requests at least this size are served by their own mmap (glibc's default M_MMAP_THRESHOLD). */
export const MMAP_THRESHOLD = 128 * 1024;
const ALIGN = 16;
const ARENA_GROW = 64 * 1024;
const PAGE = 4096;

const roundUp = (n: number, a: number): number => Math.ceil(n / a) * a;

export class Heap {
  /** Free runs [start, size], sorted by address, coalesced. */
  private free: [number, number][] = [];
  /** Live blocks: address -> size; `true` in `mapped` when the block is its own mapping. */
  private live = new Map<number, number>();
  private mapped = new Set<number>();
  private brkEnd = 0;
  private brkUsable = true;
  /** Bytes currently handed out (for tests and diagnostics). */
  inUse = 0;

  /** A copy for a forked child: the same blocks at the same addresses (memory is copied by fork). */
  clone(): Heap {
    const h = new Heap();
    h.free = this.free.map(([a, s]) => [a, s]);
    h.live = new Map(this.live);
    h.mapped = new Set(this.mapped);
    h.brkEnd = this.brkEnd;
    h.brkUsable = this.brkUsable;
    h.inUse = this.inUse;
    return h;
  }

  /** malloc(3): a 16-aligned block of `size` bytes, or 0 when memory is exhausted. */
  *malloc(size: number): Generator<unknown, number, unknown> {
    if (!(size >= 0) || size > 2 ** 40) return 0;
    const n = roundUp(Math.max(size, 1), ALIGN);
    if (n >= MMAP_THRESHOLD) {
      const len = roundUp(n, PAGE);
      const va = yield* sys('mmap', 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (isErr(va)) return 0;
      this.live.set(va, len);
      this.mapped.add(va);
      this.inUse += len;
      return va;
    }
    let va = this.take(n);
    if (va === 0) {
      if (!(yield* this.grow(n))) return 0;
      va = this.take(n);
    }
    if (va !== 0) {
      this.live.set(va, n);
      this.inUse += n;
    }
    return va;
  }

  /** The size of a live block (0 when `va` is not one). */
  sizeOf(va: number): number {
    return this.live.get(va) ?? 0;
  }

  /** free(3). Freeing 0 is a no-op; freeing an unknown pointer is ignored (a real libc would abort). */
  *freeBlock(va: number): Generator<unknown, void, unknown> {
    const n = this.live.get(va);
    if (n === undefined) return;
    this.live.delete(va);
    this.inUse -= n;
    if (this.mapped.delete(va)) {
      yield* sys('munmap', va, n);
      return;
    }
    this.insertFree(va, n);
  }

  private take(n: number): number {
    for (let i = 0; i < this.free.length; i++) {
      const run = this.free[i]!;
      if (run[1] < n) continue;
      const va = run[0];
      if (run[1] === n) this.free.splice(i, 1);
      else {
        run[0] += n;
        run[1] -= n;
      }
      return va;
    }
    return 0;
  }

  private insertFree(va: number, n: number): void {
    const f = this.free;
    let i = 0;
    while (i < f.length && f[i]![0] < va) i++;
    f.splice(i, 0, [va, n]);
    // Coalesce with the next and previous runs.
    if (i + 1 < f.length && f[i]![0] + f[i]![1] === f[i + 1]![0]) {
      f[i]![1] += f[i + 1]![1];
      f.splice(i + 1, 1);
    }
    if (i > 0 && f[i - 1]![0] + f[i - 1]![1] === f[i]![0]) {
      f[i - 1]![1] += f[i]![1];
      f.splice(i, 1);
    }
  }

  private *grow(n: number): Generator<unknown, boolean, unknown> {
    const want = roundUp(n, ARENA_GROW);
    if (this.brkUsable) {
      if (this.brkEnd === 0) {
        const cur = yield* sys('brk', 0);
        if (isErr(cur) || cur === 0) this.brkUsable = false;
        else this.brkEnd = roundUp(cur, ALIGN);
      }
      if (this.brkUsable) {
        const got = yield* sys('brk', this.brkEnd + want);
        if (got >= this.brkEnd + want) {
          this.insertFree(this.brkEnd, want);
          this.brkEnd += want;
          return true;
        }
        this.brkUsable = false;
      }
    }
    const chunk = Math.max(want, 1024 * 1024);
    const va = yield* sys('mmap', 0, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (isErr(va)) return false;
    this.insertFree(va, chunk);
    return true;
  }
}
