import { describe, expect, it } from 'vitest';
import { WalkFault, WalkResult, type DescriptorReader, type WalkConfig } from '../../src/hw/vmsa/types.js';
import { checkPermission, s1StartLevel, s2StartLevel, walk } from '../../src/hw/vmsa/walker.js';
import { P_R0, P_R1, P_R1PAN, P_W0, P_W1, P_W1PAN, s1DataPermissions } from '../../src/hw/cpu/tlb.js';
import { xorshift32u as rng } from '../../src/machine/prng.js';

/** Every descriptor read returns random bits (sometimes a bus error). */
class RandomTables implements DescriptorReader {
  hi = 0;
  error = false;
  constructor(private readonly next: () => number) {}
  readDescriptor(pa: number): number {
    void pa;
    const r = this.next();
    this.error = (r & 0xff) === 0;
    // Mostly valid-looking descriptors with small output addresses, sometimes anything.
    this.hi = (r & 0x100) !== 0 ? this.next() : this.next() & 0xffe0_000f;
    return this.next() | ((r >>> 9) & 3);
  }
}

describe('VMSAv8-64 walker on random tables (seeded)', () => {
  it('never throws, and every result is a fault at a level 0..3 or a mapping whose size fits the granule, level and output size', () => {
    const next = rng(0x5eed);
    const mem = new RandomTables(next);
    const out = new WalkResult();
    const bad: string[] = [];
    const faults = new Set<WalkFault>();
    let mapped = 0;
    const granules = [12, 14, 16] as const;
    for (let i = 0; i < 20_000; i++) {
      const g = granules[next() % 3]!;
      const stage = (next() & 1) === 0 ? 1 : 2;
      const cfg: WalkConfig = {
        stage,
        ttb: (next() % 0x10000) * 4096,
        granuleShift: g,
        tsz: next() % 64,
        sl0: next() & 3,
        oasBits: [32, 36, 40, 42, 44, 48, 52][next() % 7]!,
        affd: (next() & 1) === 0,
      };
      const va = (next() % 0x10000) * 2 ** 32 + next();
      walk(mem, cfg, va, out);
      if (out.level < 0 || out.level > 3) bad.push(`level ${out.level}`);
      if (out.fault === WalkFault.None) {
        mapped++;
        const start = stage === 1 ? s1StartLevel(g, cfg.tsz) : s2StartLevel(g, cfg.sl0!, cfg.tsz);
        if (out.level < start) bad.push(`leaf level ${out.level} before start ${start}`);
        if (out.sizeShift !== g + (3 - out.level) * (g - 3)) bad.push(`size ${out.sizeShift} at level ${out.level}, granule ${g}`);
        if (!(out.pa < 2 ** Math.min(cfg.oasBits, 48)) || !Number.isInteger(out.pa)) bad.push(`pa ${out.pa} for oas ${cfg.oasBits}`);
        if (out.reads !== out.level - start + 1) bad.push(`${out.reads} reads for levels ${start}..${out.level}`);
      } else {
        faults.add(out.fault);
      }
    }
    expect(bad.slice(0, 5)).toEqual([]);
    expect(mapped).toBeGreaterThan(100);
    expect([...faults].sort()).toEqual([WalkFault.Translation, WalkFault.AddressSize, WalkFault.AccessFlag, WalkFault.ExternalAbort].sort());
  });
});

describe('the CPU TLB permission bitmap agrees with checkPermission', () => {
  it('D8.4.1: for every AP and every (EL, PAN, read/write) the TLB grants exactly what checkPermission allows', () => {
    const r = new WalkResult();
    for (let ap = 0; ap < 4; ap++) {
      r.ap = ap;
      const p = s1DataPermissions(ap);
      const cases: [number, boolean, boolean, boolean][] = [
        [P_R0, false, false, false],
        [P_W0, false, true, false],
        [P_R1, true, false, false],
        [P_W1, true, true, false],
        [P_R1PAN, true, false, true],
        [P_W1PAN, true, true, true],
      ];
      for (const [bit, priv, write, pan] of cases) {
        expect((p & bit) !== 0, `AP=${ap} bit=${bit}`).toBe(checkPermission(r, { priv, write, exec: false }, { pan }));
      }
    }
  });
});
