// Sparse RAM: 64 KiB chunks allocated on first write. Reads of untouched memory
// return zero without allocating, so a 16 GiB machine costs what it touches.

export const CHUNK_SHIFT = 16;
export const CHUNK_SIZE = 1 << CHUNK_SHIFT;
export const CHUNK_MASK = CHUNK_SIZE - 1;

const ZERO_CHUNK = new Uint8Array(CHUNK_SIZE);

/**
 * 1 / CHUNK_SIZE as a module-private literal: V8 loads an exported const from its module
 * cell at every use and never folds it, so `off / CHUNK_SIZE` would be a real division on
 * every access. The reciprocal of a power of two is exact.
 */
const PER_CHUNK = 1 / CHUNK_SIZE;

/** Index of the chunk holding RAM offset `off`. */
function chunkIndex(off: number): number {
  return Math.floor(off * PER_CHUNK);
}

export class SparseRam {
  readonly size: number;
  /** Size in 4 KiB pages. */
  readonly pages: number;
  /**
   * The RAM base in 4 KiB pages when the base is chunk-aligned (so any naturally aligned
   * block of up to a chunk lies in one chunk), else -1. Readers use it for page-number arithmetic.
   */
  readonly directBasePage: number;
  private readonly chunks: (Uint8Array | undefined)[];
  private readonly words: (Uint32Array | undefined)[];
  private allocated = 0;

  constructor(
    readonly base: number,
    size: number,
  ) {
    if (size <= 0 || size % CHUNK_SIZE !== 0) {
      throw new RangeError(`RAM size must be a positive multiple of ${CHUNK_SIZE} bytes, got ${size}`);
    }
    this.size = size;
    this.pages = size / 4096;
    this.directBasePage = base % CHUNK_SIZE === 0 && base / 4096 < 2 ** 31 ? base / 4096 : -1;
    const n = size / CHUNK_SIZE;
    this.chunks = new Array<Uint8Array | undefined>(n).fill(undefined);
    this.words = new Array<Uint32Array | undefined>(n).fill(undefined);
  }

  /** Host bytes allocated so far. */
  get allocatedBytes(): number {
    return this.allocated * CHUNK_SIZE;
  }

  contains(pa: number, len = 1): boolean {
    return pa >= this.base && pa + len <= this.base + this.size;
  }

  /** The chunk holding RAM offset `off`, allocated if needed (for writers and TLB fills). */
  chunkFor(off: number): Uint8Array {
    const i = chunkIndex(off);
    let c = this.chunks[i];
    if (c === undefined) {
      c = new Uint8Array(CHUNK_SIZE);
      this.chunks[i] = c;
      this.words[i] = new Uint32Array(c.buffer);
      this.allocated++;
    }
    return c;
  }

  /** Word view of the chunk holding `off` (allocating). */
  wordsFor(off: number): Uint32Array {
    const i = chunkIndex(off);
    if (this.words[i] === undefined) this.chunkFor(off);
    return this.words[i]!;
  }

  /** Word view of the chunk holding `off` for reading, or undefined when untouched (reads as zero; nothing is allocated). */
  wordsForRead(off: number): Uint32Array | undefined {
    return this.words[chunkIndex(off)];
  }

  /** Word view of the chunk holding 4 KiB page `page` (counted from the RAM base) for reading, or undefined when untouched. */
  wordsOfPage(page: number): Uint32Array | undefined {
    return this.words[page >>> (CHUNK_SHIFT - 12)];
  }

  /** The chunk holding 4 KiB page `page` (counted from the RAM base), or undefined when untouched. */
  bytesOfPage(page: number): Uint8Array | undefined {
    return this.chunks[page >>> (CHUNK_SHIFT - 12)];
  }

  /** The chunk for reading: a shared zero chunk when untouched. Never write into it. */
  chunkForRead(off: number): Uint8Array {
    return this.chunks[chunkIndex(off)] ?? ZERO_CHUNK;
  }

  read8(off: number): number {
    return this.chunkForRead(off)[off & CHUNK_MASK]!;
  }

  read16(off: number): number {
    if ((off & CHUNK_MASK) <= CHUNK_SIZE - 2) {
      const c = this.chunkForRead(off);
      const o = off & CHUNK_MASK;
      return c[o]! | (c[o + 1]! << 8);
    }
    return this.read8(off) | (this.read8(off + 1) << 8);
  }

  read32(off: number): number {
    if ((off & 3) === 0) {
      const w = this.words[chunkIndex(off)];
      return w === undefined ? 0 : w[(off & CHUNK_MASK) >>> 2]!;
    }
    return (this.read16(off) | (this.read16(off + 2) << 16)) >>> 0;
  }

  write8(off: number, v: number): void {
    this.chunkFor(off)[off & CHUNK_MASK] = v;
  }

  write16(off: number, v: number): void {
    this.write8(off, v & 0xff);
    this.write8(off + 1, (v >>> 8) & 0xff);
  }

  write32(off: number, v: number): void {
    if ((off & 3) === 0) {
      this.wordsFor(off)[(off & CHUNK_MASK) >>> 2] = v;
      return;
    }
    this.write16(off, v & 0xffff);
    this.write16(off + 2, (v >>> 16) & 0xffff);
  }

  /** Copies `len` bytes at RAM offset `off` into `dst[dstOff..]`. */
  readInto(off: number, dst: Uint8Array, dstOff: number, len: number): void {
    while (len > 0) {
      const o = off & CHUNK_MASK;
      const n = Math.min(len, CHUNK_SIZE - o);
      const c = this.chunks[chunkIndex(off)];
      if (c === undefined) dst.fill(0, dstOff, dstOff + n);
      else dst.set(c.subarray(o, o + n), dstOff);
      off += n;
      dstOff += n;
      len -= n;
    }
  }

  /** Copies `len` bytes of `src[srcOff..]` to RAM offset `off`. */
  writeFrom(off: number, src: Uint8Array, srcOff: number, len: number): void {
    while (len > 0) {
      const o = off & CHUNK_MASK;
      const n = Math.min(len, CHUNK_SIZE - o);
      this.chunkFor(off).set(src.subarray(srcOff, srcOff + n), o);
      off += n;
      srcOff += n;
      len -= n;
    }
  }

  fill(off: number, value: number, len: number): void {
    while (len > 0) {
      const o = off & CHUNK_MASK;
      const n = Math.min(len, CHUNK_SIZE - o);
      if (value !== 0 || this.chunks[chunkIndex(off)] !== undefined) {
        this.chunkFor(off).fill(value, o, o + n);
      }
      off += n;
      len -= n;
    }
  }
}
