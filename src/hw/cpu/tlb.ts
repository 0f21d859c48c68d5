// The core's TLB: a direct-mapped cache of 4 KiB translations in typed arrays.
// An entry holds the page's VA tag, its context tag (ASID, global or MMU-off), a
// permission bitmap with separate read/write bits per EL (so a hit checks its
// permission with one mask), and, for RAM, the host chunk and offset so a hit is one
// typed-array index. Larger mappings (blocks, 16K/64K pages) are cached as their
// 4 KiB pieces; invalidation by VA covers every piece of the mapping (D8.17.2: an
// invalidation by VA affects any entry "that would be used to translate" the VA).

import { CHUNK_MASK, type SparseRam } from '../bus/ram.js';

export const TLB_BITS = 10;
export const TLB_SIZE = 1 << TLB_BITS;
export const TLB_MASK = TLB_SIZE - 1;
export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;

// Permission bits of an entry. RAM entries use the low byte; MMIO entries keep the
// same bits shifted left by 8 so the hot path (which masks the low byte) misses them.
export const P_R0 = 1; // EL0 (or unprivileged) read
export const P_W0 = 2;
export const P_R1 = 4; // EL1 read
export const P_W1 = 8;
export const P_R1PAN = 16; // EL1 read while PSTATE.PAN = 1
export const P_W1PAN = 32;
export const P_ALL = 63;
export const P_MMIO_SHIFT = 8;

/** Context tags: an ASID (0..65535), or one of these. */
export const CTX_GLOBAL = -1;
export const CTX_FLAT = -2;
/** Matches any ASID in an invalidation. */
export const ANY_ASID = -1;

/**
 * D8.4.1 Table D8-45: the data permissions of a stage 1 leaf with AP[2:1] = `ap`,
 * as a bitmap for every (EL, PAN) the core can access with.
 */
export function s1DataPermissions(ap: number): number {
  const el0 = (ap & 1) !== 0;
  const writable = (ap & 2) === 0;
  let p = P_R1;
  if (writable) p |= P_W1;
  if (el0) p |= writable ? P_R0 | P_W0 : P_R0;
  else p |= writable ? P_R1PAN | P_W1PAN : P_R1PAN;
  return p;
}

const NO_WORDS = new Uint32Array(0);
const NO_BYTES = new Uint8Array(0);

/** One slot past the sets: holds a translation used once and never looked up (a TBI-tagged VA). */
export const TLB_SCRATCH = TLB_SIZE;
const SLOTS = TLB_SIZE + 1;

export class Tlb {
  /** VA >> 12 of the cached page (NaN = invalid). */
  readonly vpn = new Float64Array(SLOTS).fill(NaN);
  readonly ctx = new Int32Array(SLOTS);
  readonly perm = new Int32Array(SLOTS);
  /**
   * The RAM permission bits of entries whose context tag matches the current context
   * (the running ASID or global; MMU-off entries while the MMU is off), else 0: the hot
   * path checks a hit with one load and one mask. Rebuilt when the context changes.
   */
  readonly active = new Int32Array(SLOTS);
  private asidTag = CTX_FLAT;
  private globalTag = CTX_FLAT;
  /** Byte offset of the page within its RAM chunk. */
  readonly off = new Int32Array(SLOTS);
  /** PA of the page. */
  readonly pa = new Float64Array(SLOTS);
  /** log2 size of the mapping the page belongs to (12 for a 4K page, 21 for a 2M block...). */
  readonly sizeShift = new Uint8Array(SLOTS);
  readonly words: Uint32Array[] = new Array<Uint32Array>(SLOTS).fill(NO_WORDS);
  readonly bytes: Uint8Array[] = new Array<Uint8Array>(SLOTS).fill(NO_BYTES);
  /** Some valid entry belongs to a mapping larger than 4 KiB: invalidation by VA scans. */
  private large = false;
  /**
   * Called after any change that may remove or alter an entry (fill, invalidation, context
   * switch): the core drops the copies of entries it keeps for its hot path.
   */
  onChange: (() => void) | undefined;

  constructor(private readonly ram: SparseRam) {}

  /** Installs the translation of page `vpn` in its set; returns the set. */
  fill(vpn: number, ctx: number, perm: number, pagePa: number, sizeShift: number): number {
    const s = vpn & TLB_MASK;
    this.vpn[s] = vpn;
    this.set(s, ctx, perm, pagePa, sizeShift);
    this.onChange?.();
    return s;
  }

  /**
   * Installs the translation of page `vpn` to the RAM page at offset `off` (a 4 KiB-aligned
   * offset the caller has checked lies in RAM); returns the set. As fill, without the MMIO case
   * and without calling onChange: the caller drops its hot-path copies itself.
   */
  fillRam(vpn: number, ctx: number, perm: number, off: number, sizeShift: number): number {
    const s = vpn & TLB_MASK;
    this.vpn[s] = vpn;
    this.ctx[s] = ctx;
    this.perm[s] = perm;
    this.active[s] = ctx === this.asidTag || ctx === this.globalTag ? perm : 0;
    const ram = this.ram;
    this.pa[s] = ram.base + off;
    this.sizeShift[s] = sizeShift;
    if (sizeShift > PAGE_SHIFT) this.large = true;
    const page = off * (1 / 4096); // off / PAGE_SIZE, exact: an exported constant is never folded, its division is a real divide
    let words = ram.wordsOfPage(page);
    if (words === undefined) words = ram.wordsFor(off); // first touch: allocate the chunk
    this.words[s] = words;
    this.bytes[s] = ram.bytesOfPage(page)!;
    this.off[s] = off & CHUNK_MASK;
    return s;
  }

  /** Installs a translation in the scratch slot, which no lookup ever hits; returns TLB_SCRATCH. */
  fillScratch(ctx: number, perm: number, pagePa: number): number {
    this.set(TLB_SCRATCH, ctx, perm, pagePa, PAGE_SHIFT);
    return TLB_SCRATCH;
  }

  /** Switches the context the active bits follow (ASID change, MMU on/off). O(TLB_SIZE). */
  setContext(asidTag: number, globalTag: number): void {
    if (asidTag === this.asidTag && globalTag === this.globalTag) return;
    this.onChange?.();
    this.asidTag = asidTag;
    this.globalTag = globalTag;
    const c = this.ctx;
    const p = this.perm;
    const a = this.active;
    for (let s = 0; s < TLB_SIZE; s++) {
      const ctx = c[s]!;
      a[s] = ctx === asidTag || ctx === globalTag ? p[s]! & P_ALL : 0;
    }
  }

  private set(s: number, ctx: number, perm: number, pagePa: number, sizeShift: number): void {
    this.ctx[s] = ctx;
    this.pa[s] = pagePa;
    this.sizeShift[s] = sizeShift;
    if (sizeShift > PAGE_SHIFT) this.large = true;
    const ram = this.ram;
    const off = pagePa - ram.base;
    if (off >= 0 && off + PAGE_SIZE <= ram.size) {
      this.perm[s] = perm;
      this.active[s] = ctx === this.asidTag || ctx === this.globalTag ? perm : 0;
      this.words[s] = ram.wordsFor(off);
      this.bytes[s] = ram.chunkFor(off);
      this.off[s] = off & CHUNK_MASK;
    } else {
      // MMIO or nothing: never host-pointer cached.
      this.perm[s] = perm << P_MMIO_SHIFT;
      this.active[s] = 0;
      this.words[s] = NO_WORDS;
      this.bytes[s] = NO_BYTES;
      this.off[s] = 0;
    }
  }

  invalidateAll(): void {
    this.vpn.fill(NaN, 0, TLB_SIZE);
    this.large = false;
    this.onChange?.();
  }

  /** TLBI ASIDE1: non-global entries of `asid`. */
  invalidateAsid(asid: number): void {
    this.onChange?.();
    const v = this.vpn;
    const c = this.ctx;
    for (let s = 0; s < TLB_SIZE; s++) if (c[s] === asid) v[s] = NaN;
  }

  /**
   * TLBI VAE1/VAAE1 (and the last-level forms: only leaf entries are cached): entries
   * whose mapping contains `va` that are global or belong to `asid` (ANY_ASID: all).
   */
  invalidateVa(va: number, asid: number): void {
    this.onChange?.();
    if (this.large) {
      this.invalidateRange(va, 1, asid);
      return;
    }
    const vpn = Math.floor(va / PAGE_SIZE);
    const s = vpn & TLB_MASK;
    if (this.vpn[s] === vpn && this.matches(s, asid)) this.vpn[s] = NaN;
  }

  /** TLBI RVAE1/RVAAE1: entries whose mapping intersects [base, base + bytes). */
  invalidateRange(base: number, bytes: number, asid: number): void {
    this.onChange?.();
    const end = base + bytes;
    const v = this.vpn;
    if (!this.large && bytes / PAGE_SIZE <= TLB_SIZE) {
      for (let a = Math.floor(base / PAGE_SIZE) * PAGE_SIZE; a < end; a += PAGE_SIZE) {
        const vpn = a / PAGE_SIZE;
        const s = vpn & TLB_MASK;
        if (v[s] === vpn && this.matches(s, asid)) v[s] = NaN;
      }
      return;
    }
    for (let s = 0; s < TLB_SIZE; s++) {
      const vpn = v[s]!;
      if (vpn !== vpn || !this.matches(s, asid)) continue; // NaN: invalid
      const size = 2 ** this.sizeShift[s]!;
      const start = Math.floor((vpn * PAGE_SIZE) / size) * size;
      if (start < end && base < start + size) v[s] = NaN;
    }
  }

  private matches(s: number, asid: number): boolean {
    const c = this.ctx[s]!;
    return c !== CTX_FLAT && (asid === ANY_ASID || c === CTX_GLOBAL || c === asid);
  }

  /** Number of valid entries (tests, TUI). */
  get validCount(): number {
    let n = 0;
    for (let s = 0; s < TLB_SIZE; s++) if (this.vpn[s] === this.vpn[s]) n++;
    return n;
  }
}
