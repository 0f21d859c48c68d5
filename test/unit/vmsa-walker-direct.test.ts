import { describe, expect, it } from 'vitest';
import { SparseRam } from '../../src/hw/bus/ram.js';
import { WalkFault, WalkResult, type DescriptorReader, type WalkConfig } from '../../src/hw/vmsa/types.js';
import { S1RamWalk, s1StartLevel, s2StartLevel, walk } from '../../src/hw/vmsa/walker.js';

// walk(..., ram) reads RAM-resident tables in place (the CPU's refill path); it must give
// exactly what the same walk through the DescriptorReader gives, for any table contents.

/** Reads `ram` as the bus would: RAM at its base, a bus error anywhere else. */
class RamReader implements DescriptorReader {
  hi = 0;
  error = false;
  reads = 0;
  constructor(private readonly ram: SparseRam) {}
  readDescriptor(pa: number): number {
    this.reads++;
    const off = pa - this.ram.base;
    this.error = !(off >= 0 && off + 8 <= this.ram.size);
    if (this.error) return (this.hi = 0);
    this.hi = this.ram.read32(off + 4);
    return this.ram.read32(off);
  }
}

/** mulberry32 */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const S1_FIELDS = ['fault', 'stage', 'level', 'pa', 'sizeShift', 'descriptorPa', 'reads', 'ap', 'uxn', 'pxn', 'ng', 'af', 'attrIndx', 'sw', 'dbm'] as const;

const FIELDS = ['fault', 'stage', 'level', 'pa', 'sizeShift', 'descriptorPa', 'reads', 'ap', 'uxn', 'pxn', 'ng', 'af', 'attrIndx', 'sw', 'dbm', 's2ap', 's2xn', 's2Fault'] as const;

function snapshot(r: WalkResult): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const f of FIELDS) o[f] = r[f];
  return o;
}

/**
 * Random tables: each descriptor on a walk's path is a table, page, block, invalid,
 * AF-clear leaf, or a table pointing outside RAM / beyond the output size, with random
 * attribute bits, for 4K/16K/64K granules and random TxSZ.
 */
/** Counts of S1RamWalk outcomes over the cases run. */
const fastWalks = { done: 0, declined: 0, faults: 0, cached: 0 };

function runCase(seed: number, ramBase: number): void {
  const rnd = prng(seed);
  const ramSize = 8 << 20;
  const ram = new SparseRam(ramBase, ramSize);
  const reader = new RamReader(ram);
  const fast = new S1RamWalk(ram);
  const granules = [12, 14, 16] as const;
  const g = granules[Math.floor(rnd() * 3)]!;
  const tsz = 16 + Math.floor(rnd() * 24);
  const stride = g - 3;
  const tableBytes = 1 << g;
  let next = ramBase + tableBytes;
  const allocTable = (): number => {
    const a = next;
    next += tableBytes;
    return a - (a % tableBytes);
  };
  const stage: 1 | 2 = rnd() < 0.8 ? 1 : 2;
  const sl0 = Math.floor(rnd() * 3);
  const ia = 64 - tsz;
  const start = stage === 1 ? s1StartLevel(g, tsz) : s2StartLevel(g, sl0, tsz);
  const startBits = ia - (g + (3 - Math.max(start, 0)) * stride);
  // The start table: anywhere in its granule-sized block (small start tables need not be page-aligned).
  const startBytes = 8 * 2 ** startBits;
  const root = allocTable() + (startBytes < tableBytes ? Math.floor(rnd() * (tableBytes / startBytes)) * startBytes : 0);
  const cfg: WalkConfig = { stage, ttb: root + (rnd() < 0.1 ? 8 : 0), granuleShift: g, tsz, oasBits: rnd() < 0.2 ? 32 : 48, sl0 };
  // The one-pass walk keeps its walk cache across the walks of a case; each change to the
  // tables is followed by the invalidation the architecture asks for (a TLBI by VA over
  // what the changed descriptor maps).
  fast.configure(cfg);
  for (let t = 0; t < 40; t++) {
    const va = Math.floor(rnd() * 2 ** ia);
    // Populate the path of `va` with random descriptors (overwriting what was there).
    let table = root;
    const topShift = g + (3 - Math.max(start, 0)) * stride;
    fast.invalidateWalkCache(va - (va % 2 ** topShift), 2 ** topShift);
    for (let level = Math.max(start, 0); level <= 3; level++) {
      const shift = g + (3 - level) * stride;
      const idx = Math.floor(va / 2 ** shift) % 2 ** (level === start ? startBits : stride);
      const slot = table + idx * 8 - ramBase;
      if (slot < 0 || slot + 8 > ramSize) break;
      const kind = rnd();
      let lo: number;
      let hi = rnd() < 0.3 ? ((Math.floor(rnd() * 16) << 27) | (rnd() < 0.5 ? 1 << 21 : 0) | (rnd() < 0.5 ? 1 << 22 : 0)) >>> 0 : 0;
      const attrs = (Math.floor(rnd() * 4096) & 0xffc) | (rnd() < 0.85 ? 1 << 10 : 0);
      if (kind < 0.55 && level < 3) {
        const t2 = rnd() < 0.9 ? allocTable() : rnd() < 0.5 ? 2 ** 33 + tableBytes : ramBase + ramSize + tableBytes;
        lo = ((t2 % 2 ** 32) | 3) >>> 0;
        hi = (hi & ~0xffff) | Math.floor(t2 / 2 ** 32);
        ram.write32(slot, lo);
        ram.write32(slot + 4, hi >>> 0);
        table = t2;
        continue;
      }
      const oa = Math.floor(rnd() * 2 ** 36) * 4096;
      if (kind < 0.8) lo = ((oa % 2 ** 32) & ~0xfff) | attrs | 3; // page (or table at L3)
      else if (kind < 0.9) lo = ((oa % 2 ** 32) & ~0xfff) | attrs | 1; // block
      else lo = attrs & ~1; // invalid
      hi = (hi & ~0xffff) | (Math.floor(oa / 2 ** 32) & 0xffff);
      ram.write32(slot, lo >>> 0);
      ram.write32(slot + 4, hi >>> 0);
      break;
    }
    const a = new WalkResult();
    const b = new WalkResult();
    walk(reader, cfg, va, a);
    walk(reader, cfg, va, b, ram);
    expect(snapshot(b), `seed ${seed} va 0x${va.toString(16)} g ${g} tsz ${tsz}`).toEqual(snapshot(a));
    // The one-pass walk: with every table in RAM (this reader faults on anything else), it
    // completes exactly the walks that succeed, with the same stage 1 fields.
    const c = new WalkResult();
    const done = fast.walk(va, c);
    if (stage === 1 && g === 12 && ram.directBasePage >= 0) {
      // Another page of the same 2 MiB region: its walk may come from the walk cache.
      const va2 = va - (va % 2 ** 21) + Math.floor(rnd() * 512) * 4096;
      const a2 = new WalkResult();
      walk(reader, cfg, va2, a2);
      const c2 = new WalkResult();
      const done2 = fast.walk(va2, c2);
      expect(done2, `seed ${seed} va2 0x${va2.toString(16)}: cached S1RamWalk completes iff walk succeeds`).toBe(a2.fault === 0);
      if (done2) for (const f of S1_FIELDS) expect(c2[f], `seed ${seed} va2 0x${va2.toString(16)} ${f}`).toEqual(a2[f]);
      if (!done2 && c2.fault !== WalkFault.None) expect([c2.fault, c2.level, c2.reads, c2.descriptorPa]).toEqual([WalkFault.Translation, a2.level, a2.reads, a2.descriptorPa]);
      if (fast.walkCacheCount > 0) fastWalks.cached++;
    }
    if (stage === 1 && g === 12 && ram.directBasePage >= 0) {
      expect(done, `seed ${seed} va 0x${va.toString(16)} tsz ${tsz}: S1RamWalk completes iff walk succeeds`).toBe(a.fault === 0);
      if (done) for (const f of S1_FIELDS) expect(c[f], `seed ${seed} va 0x${va.toString(16)} ${f}`).toEqual(a[f]);
      // A walk that ended at an invalid descriptor in RAM reports the translation fault as walk does.
      if (!done && c.fault !== WalkFault.None) {
        fastWalks.faults++;
        expect([c.fault, c.level, c.reads, c.descriptorPa], `seed ${seed} va 0x${va.toString(16)}: S1RamWalk's fault`).toEqual([WalkFault.Translation, a.level, a.reads, a.descriptorPa]);
        expect(a.fault).toBe(WalkFault.Translation);
      }
    } else {
      expect(done).toBe(false);
    }
    if (done) fastWalks.done++;
    else fastWalks.declined++;
  }
}

describe('walker: in-place RAM reads', () => {
  it('D8.3: a walk reading RAM tables in place matches the walk through the descriptor reader (random tables, chunk-aligned RAM)', () => {
    for (let seed = 1; seed <= 300; seed++) runCase(seed, 0x4000_0000);
  });

  it('D8.3: a RAM base that is not chunk-aligned falls back to the descriptor reader with the same results', () => {
    for (let seed = 301; seed <= 340; seed++) runCase(seed, 0x4000_0000 + 0x1_0000 * 0 + 0x4000);
  });

  it('S1RamWalk (the CPU refill fast path) took part: it completed many walks and declined many', () => {
    fastWalks.done = 0;
    fastWalks.declined = 0;
    fastWalks.faults = 0;
    fastWalks.cached = 0;
    for (let seed = 1; seed <= 300; seed++) runCase(seed, 0x4000_0000);
    expect(fastWalks.done).toBeGreaterThan(200);
    expect(fastWalks.declined).toBeGreaterThan(200);
    expect(fastWalks.faults).toBeGreaterThan(100);
    expect(fastWalks.cached).toBeGreaterThan(200); // walks made with a non-empty walk cache
  });

  it('D8.3: untouched RAM reads as zero in place (translation fault at level 0, nothing allocated)', () => {
    const ram = new SparseRam(0x4000_0000, 1 << 20);
    const out = new WalkResult();
    walk(new RamReader(ram), { stage: 1, ttb: 0x4000_0000, granuleShift: 12, tsz: 16, oasBits: 48 }, 0x1234_5000, out, ram);
    expect(out.fault).toBe(1);
    expect(out.level).toBe(0);
    expect(out.reads).toBe(1);
    expect(ram.allocatedBytes).toBe(0);
  });
});
