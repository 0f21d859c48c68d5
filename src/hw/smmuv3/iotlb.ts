// The SMMU TLB (IHI 0070 3.17): a direct-mapped cache of final translations held in
// typed arrays. An entry covers one page or block (its size and level are kept for
// range and TTL-scoped invalidation) and is tagged by translation regime, VMID and
// ASID; global (nG == 0) stage 1 entries match any ASID. Entries leave only through
// invalidation commands or by being overwritten in their slot.

import { TranslationEpoch } from './last-translation.js';

/** Regime part of an entry's tag (added to the VMID for NS-EL1 and stage 2 entries). */
export const TAG_EL2 = 0x10000;
export const TAG_EL2_E2H = 0x10001;
/** Stage-2-only entries: TAG_S2 + VMID, keyed by IPA. */
export const TAG_S2 = 0x20000;
const INVALID = -1;

/** Index bits of the direct-mapped array: 4096 entries. */
const IOTLB_BITS = 12;
export const IOTLB_ENTRIES = 1 << IOTLB_BITS;
const IOTLB_MASK = IOTLB_ENTRIES - 1;
const PAGE_RECIPROCAL = 1 / 4096;

/** The slot of `iova` (a signed Number: negative in the TTB1 range) for a context's hash. */
function slotOf(iova: number, hash: number): number {
  return (Math.floor(iova * PAGE_RECIPROCAL) ^ hash) & IOTLB_MASK;
}

/** Spreads the slots of different address spaces (regime/VMID tag, ASID or -1). */
export function contextHash(tag: number, asid: number): number {
  return (Math.imul(tag, 0x9e37) ^ Math.imul(asid & 0x1ffff, 0x45d9)) >>> 4;
}

/** Access-kind bit index for the permission mask: write | exec << 1 | priv << 2. */
export function accessIndex(write: boolean, exec: boolean, priv: boolean): number {
  return (write ? 1 : 0) | (exec ? 2 : 0) | (priv ? 4 : 0);
}

/** What an invalidation selects (reused object; see `Iotlb.invalidate`). */
export class TlbiScope {
  /** Exact regime tag to match, or -1 for "all NS non-Hyp" (TLBI_NSNH_ALL). */
  tag = 0;
  /** Also match the stage-2-only entries of this VMID (TLBI_S12_VMALL); -1 for none. */
  s2Tag = -1;
  /** -1: any ASID (including global); otherwise non-global entries of this ASID. */
  asid = -1;
  /** Include global entries when matching by ASID (TLBI_NH_VA) . */
  includeGlobal = false;
  /**
   * Address range [start, end) (negative addresses: the TTB1 range); end == -1 means no
   * address restriction (a range ends on a granule boundary or one past a page base, never at -1).
   */
  start = 0;
  end = -1;
  /** TTL hint: only entries whose leaf is at this level (and of `granuleShift`), -1 any. */
  ttlLevel = -1;
  granuleShift = 0;

  reset(tag: number): this {
    this.tag = tag;
    this.s2Tag = -1;
    this.asid = -1;
    this.includeGlobal = false;
    this.start = 0;
    this.end = -1;
    this.ttlLevel = -1;
    this.granuleShift = 0;
    return this;
  }
}

export class Iotlb {
  /** Regime/VMID tag, INVALID when the slot is empty. */
  readonly tag = new Int32Array(IOTLB_ENTRIES).fill(INVALID);
  /** ASID, or -1 for entries without one (EL2, stage 2 only). */
  readonly asid = new Int32Array(IOTLB_ENTRIES);
  readonly global = new Uint8Array(IOTLB_ENTRIES);
  /** Input base and size of the page/block, output base. */
  readonly vaBase = new Float64Array(IOTLB_ENTRIES);
  readonly size = new Float64Array(IOTLB_ENTRIES);
  readonly paBase = new Float64Array(IOTLB_ENTRIES);
  /** Allowed access kinds: bit `accessIndex(...)` set when permitted. */
  readonly perm = new Uint8Array(IOTLB_ENTRIES);
  /** Lookup level of the leaf and the granule of the walk that produced it. */
  readonly level = new Uint8Array(IOTLB_ENTRIES);
  readonly granule = new Uint8Array(IOTLB_ENTRIES);
  hits = 0;
  misses = 0;

  /** Bumped by every fill and invalidation (the SMMU's last-translation caches follow it). */
  constructor(readonly epoch: TranslationEpoch = new TranslationEpoch()) {}

  /** Stage 2 MemAttr[3:0] of stage-2 entries (S2PTW checks), 0xff when unknown. */
  readonly attr = new Uint8Array(IOTLB_ENTRIES);

  /**
   * The occupied slots, densely packed (order irrelevant): an invalidation visits only
   * live entries instead of all 4096 slots (a DMA domain in strict mode sends a TLBI
   * with every unmap).
   */
  private readonly live = new Uint16Array(IOTLB_ENTRIES);
  private liveCount = 0;

  /**
   * Looks up `iova` for a context; returns the slot index on a hit, -1 on a miss. The
   * hot path: no allocation, a handful of typed-array reads.
   */
  lookup(iova: number, tag: number, asid: number, hash: number): number {
    const i = slotOf(iova, hash);
    if (this.tag[i] !== tag) return -1;
    if (this.asid[i] !== asid && this.global[i] === 0) return -1;
    const d = iova - this.vaBase[i]!;
    if (d < 0 || d >= this.size[i]!) return -1;
    return i;
  }

  /** Fills the slot of `iova` with the entry, replacing what was there; returns the slot. */
  insert(
    iova: number,
    hash: number,
    tag: number,
    asid: number,
    global: boolean,
    vaBase: number,
    size: number,
    paBase: number,
    perm: number,
    level: number,
    granuleShift: number,
    attr = 0xff,
  ): number {
    const i = slotOf(iova, hash);
    this.epoch.value++;
    if (this.tag[i] === INVALID) {
      this.live[this.liveCount++] = i;
    }
    this.tag[i] = tag;
    this.asid[i] = asid;
    this.global[i] = global ? 1 : 0;
    this.vaBase[i] = vaBase;
    this.size[i] = size;
    this.paBase[i] = paBase;
    this.perm[i] = perm;
    this.level[i] = level;
    this.granule[i] = granuleShift;
    this.attr[i] = attr;
    return i;
  }

  /** Invalidates every entry the scope selects; returns how many went. */
  invalidate(s: TlbiScope): number {
    this.epoch.value++;
    let n = 0;
    const tags = this.tag;
    const live = this.live;
    // downwards: a removal moves the last live slot (already visited) into position k
    for (let k = this.liveCount - 1; k >= 0; k--) {
      const i = live[k]!;
      const t = tags[i]!;
      if (s.tag === -1) {
        if (t === TAG_EL2 || t === TAG_EL2_E2H) continue; // NSNH: not the Hyp regimes
      } else if (t !== s.tag && t !== s.s2Tag) continue;
      if (s.asid >= 0) {
        if (this.global[i] !== 0 ? !s.includeGlobal : this.asid[i] !== s.asid) continue;
      }
      if (s.end !== -1) {
        const base = this.vaBase[i]!;
        if (base >= s.end || base + this.size[i]! <= s.start) continue;
      }
      if (s.ttlLevel >= 0 && (this.level[i] !== s.ttlLevel || this.granule[i] !== s.granuleShift)) continue;
      tags[i] = INVALID;
      live[k] = live[--this.liveCount]!;
      n++;
    }
    return n;
  }

  invalidateAll(): void {
    this.epoch.value++;
    this.tag.fill(INVALID);
    this.liveCount = 0;
  }

  /** Live entries (for tests and the TUI). */
  count(): number {
    return this.liveCount;
  }
}
