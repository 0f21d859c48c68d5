// The IOTLB's invalidation walks a dense list of occupied slots rather than all 4096:
// checked against a brute-force model of the same direct-mapped array under seeded
// random fills (conflicting slots, pages and blocks, global and non-global, several
// tags and ASIDs) and TLBI scopes (IHI 0070 4.4: by ASID, by VA range with and
// without global entries, TTL-scoped, NSNH_ALL).
import { describe, expect, it } from 'vitest';
import { contextHash, Iotlb, IOTLB_ENTRIES, TAG_EL2, TlbiScope } from '../../src/hw/smmuv3/iotlb.js';
import { mulberry32u } from '../../src/machine/prng.js';

interface Ref {
  tag: number;
  asid: number;
  global: boolean;
  base: number;
  size: number;
  level: number;
}

/** The selection rule of Iotlb.invalidate, written out once more over a plain array. */
function selects(e: Ref, s: TlbiScope): boolean {
  if (s.tag === -1) {
    if (e.tag === TAG_EL2) return false;
  } else if (e.tag !== s.tag && e.tag !== s.s2Tag) return false;
  if (s.asid >= 0 && (e.global ? !s.includeGlobal : e.asid !== s.asid)) return false;
  if (s.end >= 0 && (e.base >= s.end || e.base + e.size <= s.start)) return false;
  if (s.ttlLevel >= 0 && (e.level !== s.ttlLevel || s.granuleShift !== 12)) return false;
  return true;
}

describe('IOTLB invalidation over the live-slot list', () => {
  it('IHI 0070 4.4.1: after 20000 random fills and TLBIs every slot holds exactly what a full scan would leave, and count() is the live total', () => {
    const rnd = mulberry32u(0x15);
    const tlb = new Iotlb();
    const ref: (Ref | undefined)[] = new Array(IOTLB_ENTRIES);
    const scope = new TlbiScope();
    const tags = [1, 2, TAG_EL2];
    let removed = 0;
    for (let step = 0; step < 20000; step++) {
      if (rnd() % 5 !== 0) {
        const tag = tags[rnd() % tags.length]!;
        const asid = rnd() % 4;
        const block = rnd() % 8 === 0;
        const size = block ? 0x20_0000 : 0x1000;
        const iova = (rnd() % 0x4000) * 0x1000;
        const base = iova - (iova % size);
        const global = rnd() % 6 === 0;
        const hash = contextHash(tag, asid);
        tlb.insert(iova, hash, tag, asid, global, base, size, base + 0x4000_0000, 0xff, block ? 2 : 3, 12);
        ref[((iova / 4096) ^ hash) & (IOTLB_ENTRIES - 1)] = { tag, asid, global, base, size, level: block ? 2 : 3 };
      } else {
        const s = scope.reset(rnd() % 7 === 0 ? -1 : tags[rnd() % tags.length]!);
        if (rnd() % 2) s.asid = rnd() % 4;
        s.includeGlobal = rnd() % 2 === 0;
        if (rnd() % 3) {
          s.start = (rnd() % 0x4000) * 0x1000;
          s.end = s.start + (1 + (rnd() % 64)) * 0x1000;
        }
        if (rnd() % 5 === 0) {
          s.ttlLevel = 2 + (rnd() % 2);
          s.granuleShift = 12;
        }
        let want = 0;
        for (let i = 0; i < IOTLB_ENTRIES; i++) {
          const e = ref[i];
          if (e !== undefined && selects(e, s)) {
            ref[i] = undefined;
            want++;
          }
        }
        expect(tlb.invalidate(s)).toBe(want);
        removed += want;
      }
    }
    expect(removed).toBeGreaterThan(1000);
    let live = 0;
    for (let i = 0; i < IOTLB_ENTRIES; i++) {
      const e = ref[i];
      if (e === undefined) expect(tlb.tag[i]).toBe(-1);
      else {
        live++;
        expect(tlb.tag[i]).toBe(e.tag);
        expect(tlb.vaBase[i]).toBe(e.base);
      }
    }
    expect(tlb.count()).toBe(live);
    tlb.invalidateAll();
    expect(tlb.count()).toBe(0);
    expect(tlb.invalidate(scope.reset(-1))).toBe(0);
  });
});
