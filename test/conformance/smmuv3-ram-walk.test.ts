import { afterEach, describe, expect, it, vi } from 'vitest';
import { DmaStatus, IommuResult, type DmaAttrs } from '../../src/hw/bus/dma.js';
import { S1RamWalk } from '../../src/hw/vmsa/walker.js';
import { mulberry32u } from '../../src/machine/prng.js';
import { AP_RW_ALL, PTE_AF, bringUp, cdWords, cfgiCdAll, cmd, dmaRead, drainEvents, makeRig, setupS1, tlbiNhAll, tlbiVa, type Queues, type Rig, writeSte } from './smmuv3-harness.js';

// The SMMU's one-pass RAM walk on an IOTLB miss (stage-1-only contexts, 4 KiB tables in
// RAM) must be invisible: an SMMU with it and one without (Translator.ramWalks = false),
// given the same stream table, CDs, translation tables and transactions, give the same
// results, the same IOTLB, the same events and the same trace, record for record.

const SID = 0x10;
const POOL_PAGES = 256;
const SSIDS = 8;

/** A random descriptor: mostly table/page into the pool, some blocks, invalid, AF clear, outside RAM or beyond a small IPS. */
function descriptor(next: () => number, pool: number): [number, number] {
  const r = next() % 100;
  const attrs = (next() & 0xffc & ~(1 << 10)) | (next() % 16 === 0 ? 0 : 1 << 10);
  let hi = next() % 6 === 0 ? next() & 0x7ff8_0000 : 0; // APTable, XNTable, UXN, PXN, SW, DBM
  let pa: number;
  const where = next() % 40;
  if (where === 0) pa = 0x0900_0000 + (next() % 16) * 4096; // MMIO: a bus error on the walk
  else if (where === 1) pa = 2 ** 44 + (next() % 16) * 4096; // beyond a 40-bit IPS
  else pa = pool + (next() % POOL_PAGES) * 4096 + (next() % 32 === 0 ? (next() % 512) * 4096 * 512 : 0);
  const lo = ((pa % 2 ** 32) & ~0xfff) | attrs;
  hi |= Math.floor(pa / 2 ** 32) & 0xffff;
  if (r < 85) return [(lo | 3) >>> 0, hi >>> 0];
  if (r < 95) return [((lo & ~3) | 1) >>> 0, hi >>> 0];
  return [(lo & ~1) >>> 0, hi >>> 0];
}

interface Pair {
  a: Rig;
  b: Rig;
  qa: Queues;
  qb: Queues;
  pool: number;
  cdTable: number;
}

function both(p: Pair, f: (rig: Rig, q: Queues) => void): void {
  f(p.a, p.qa);
  f(p.b, p.qb);
}

function setUp(next: () => number): Pair {
  const a = makeRig(SID);
  const b = makeRig(SID);
  b.smmu.translator.ramWalks = false;
  const qa = bringUp(a);
  const qb = bringUp(b);
  const pool = a.mem.take(POOL_PAGES * 4096);
  const cdTable = a.mem.take(SSIDS * 64, 64);
  b.mem.take(POOL_PAGES * 4096);
  b.mem.take(SSIDS * 64, 64);
  const p: Pair = { a, b, qa, qb, pool, cdTable };
  for (let i = 0; i < POOL_PAGES * 512; i++) {
    const [lo, hi] = descriptor(next, pool);
    both(p, (rig) => {
      rig.m.bus.write32(pool + i * 8, lo);
      rig.m.bus.write32(pool + i * 8 + 4, hi);
    });
  }
  const strw = next() % 6 === 0 ? 2 : 0; // now and then the EL2 StreamWorld (TTB1 unreachable, no EL0)
  both(p, (rig, q) => writeSte(rig, q.strtab + SID * 64, { cfg: 5, ctxPtr: cdTable, cdMax: 3, strw }));
  for (let ssid = 0; ssid < SSIDS; ssid++) writeRandomCd(p, ssid, next);
  return p;
}

function writeRandomCd(p: Pair, ssid: number, next: () => number): void {
  const tsz = () => [16, 16, 20, 25, 25, 33, 39][next() % 7]!;
  const table = () => (next() % 12 === 0 ? 0x0900_0000 : p.pool + (next() % POOL_PAGES) * 4096);
  const words = cdWords({
    t0sz: tsz(),
    tg0: next() % 6 === 0 ? 1 + (next() % 2) : 0,
    ttb0: table(),
    t1sz: tsz(),
    tg1: next() % 6 === 0 ? [1, 3][next() % 2]! : 2,
    ttb1: table(),
    epd0: next() % 8 === 0,
    epd1: next() % 3 === 0,
    tbi0: next() % 2 === 0,
    tbi1: next() % 2 === 0,
    wxn: next() % 4 === 0,
    pan: next() % 4 === 0,
    affd: next() % 8 === 0,
    ips: next() % 5 === 0 ? 2 : 5,
    asid: next() % 4,
  });
  both(p, (rig) => words.forEach((w, i) => rig.m.bus.write64(p.cdTable + ssid * 64 + i * 8, w)));
}

/** An input address: either range, in or beyond T0SZ/T1SZ, sometimes tagged or given as an unsigned 64-bit value. */
function randomIova(next: () => number): number {
  const bits = [25, 30, 39, 39, 44, 48, 48][next() % 7]!;
  const page = Math.floor((next() * 2 ** 20 + (next() & 0xfffff)) % 2 ** (bits - 12));
  let va = page * 4096 + (next() % 4096 < 3500 ? (next() & 0xff8) : 0);
  if (next() % 2 === 0) va = -va - 4096; // TTB1 range
  const tag = next() % 8;
  if (tag === 0) va += ((next() % 255) + 1) * 2 ** 56; // tagged: VA[63:56] not a sign extension of VA[55]
  else if (tag === 1 && va < 0) va += 2 ** 64; // unsigned form
  return va - (va % 8);
}

describe('SMMUv3 one-pass RAM walk (IHI 0070 3.3.4, DDI 0487 D8)', () => {
  afterEach(() => vi.restoreAllMocks());

  it('a miss through the RAM walk and through the general walk give identical results, IOTLB, events and trace', () => {
    let fastHits = 0;
    const orig = S1RamWalk.prototype.walk;
    vi.spyOn(S1RamWalk.prototype, 'walk').mockImplementation(function (this: S1RamWalk, va, out) {
      const ok = orig.call(this, va, out);
      if (ok) fastHits++;
      return ok;
    });
    for (let seed = 1; seed <= 5; seed++) {
      const next = mulberry32u(0x5a17 + seed);
      const p = setUp(next);
      const out = [new IommuResult(), new IommuResult()];
      const attrs: DmaAttrs = { ssid: 0, ssv: true, priv: false, exec: false };
      let ok = 0;
      for (let step = 0; step < 4000; step++) {
        const op = next() % 100;
        if (op < 90) {
          attrs.ssid = next() % SSIDS;
          attrs.priv = next() % 2 === 0;
          attrs.exec = next() % 4 === 0;
          const write = next() % 3 === 0;
          const iova = randomIova(next);
          const sa = p.a.smmu.translate(p.a.port, iova, write, attrs, out[0]!);
          const sb = p.b.smmu.translate(p.b.port, iova, write, attrs, out[1]!);
          expect(sa, `seed ${seed} step ${step} iova ${iova}`).toBe(sb);
          if (sa === DmaStatus.Ok) {
            ok++;
            expect([out[0]!.pa, out[0]!.span]).toEqual([out[1]!.pa, out[1]!.span]);
          }
        } else if (op < 95) {
          // a descriptor rewritten, then invalidated by VA or all
          const at = p.pool + (next() % (POOL_PAGES * 512)) * 8;
          const [lo, hi] = descriptor(next, p.pool);
          const va = randomIova(next);
          const c = next() % 2 === 0 ? tlbiNhAll() : tlbiVa(0x13, va < 0 ? va + 2 ** 64 : va);
          both(p, (rig) => {
            rig.m.bus.write32(at, lo);
            rig.m.bus.write32(at + 4, hi);
            cmd(rig, c, [0x46n, 0n]);
          });
        } else if (op < 97) {
          const ssid = next() % SSIDS;
          writeRandomCd(p, ssid, next);
          both(p, (rig) => cmd(rig, cfgiCdAll(SID), tlbiNhAll(), [0x46n, 0n]));
        } else {
          both(p, (rig) => cmd(rig, tlbiNhAll(), [0x46n, 0n]));
        }
      }
      expect(ok, `seed ${seed}: successful translations`).toBeGreaterThan(100);
      const tlb = (rig: Rig) => {
        const t = rig.smmu.iotlb;
        return { count: t.count(), hits: t.hits, misses: t.misses, tag: [...t.tag], va: [...t.vaBase], size: [...t.size], pa: [...t.paBase], perm: [...t.perm], level: [...t.level] };
      };
      expect(tlb(p.a)).toEqual(tlb(p.b));
      expect(drainEvents(p.a, p.qa)).toEqual(drainEvents(p.b, p.qb));
      expect(p.a.m.trace.total).toBe(p.b.m.trace.total);
      expect(p.a.m.trace.hash()).toBe(p.b.m.trace.hash());
    }
    expect(fastHits).toBeGreaterThan(500);
  });
});

describe('SMMUv3 table changes after a TLBI (IHI 0070 4.4: CMD_TLBI_* invalidate every cached walk)', () => {
  it('a level 2 table descriptor pointed at a new level 3 table, then CMD_TLBI_NH_ALL + CMD_SYNC: the next miss walks the new table', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const { pt } = setupS1(rig, q, SID);
    const iova = 0x1234_5000;
    const oldPa = rig.mem.take(4096);
    const newPa = rig.mem.take(4096);
    pt.map(iova, oldPa, PTE_AF | AP_RW_ALL);
    rig.m.bus.write32(oldPa, 0x01d0_01d0);
    rig.m.bus.write32(newPa, 0x0e0e_0e0e);
    expect(dmaRead(rig, iova).data).toEqual(new Uint8Array([0xd0, 0x01, 0xd0, 0x01]));
    // The level 2 entry of the IOVA now names a fresh level 3 table mapping it to newPa
    // (the old table freed and reused, as after munmap + mmap in an SVA address space).
    let table = pt.root;
    for (let l = 0; l < 2; l++) table = Number(rig.m.bus.read64(table + (Math.floor(iova / 2 ** (39 - 9 * l)) % 512) * 8) & 0x0000_ffff_ffff_f000n);
    const l2At = table + (Math.floor(iova / 2 ** 21) % 512) * 8;
    const l3 = rig.mem.take(4096);
    rig.m.bus.write64(l3 + (Math.floor(iova / 4096) % 512) * 8, BigInt(newPa) | PTE_AF | AP_RW_ALL | 3n);
    rig.m.bus.write64(l2At, BigInt(l3) | 3n);
    cmd(rig, tlbiNhAll(), [0x46n, 0n]);
    expect(dmaRead(rig, iova).data).toEqual(new Uint8Array([0x0e, 0x0e, 0x0e, 0x0e]));
    // A neighbouring page of the same 2 MiB, never walked before: unmapped in the new table.
    expect(dmaRead(rig, iova + 0x1000).status).not.toBe(DmaStatus.Ok);
  });
});
