import { describe, expect, it } from 'vitest';
import { SparseRam } from '../../src/hw/bus/ram.js';
import { WalkFault, WalkResult, type DescriptorReader, type WalkConfig } from '../../src/hw/vmsa/types.js';
import { checkPermission, s1StartLevel, s2StartLevel, walk } from '../../src/hw/vmsa/walker.js';

// A descriptor reader over sparse RAM at PA 0, with one address that aborts.
class TableMemory implements DescriptorReader {
  readonly ram = new SparseRam(0, 1 << 30);
  hi = 0;
  error = false;
  abortAt = -1;
  reads: number[] = [];
  private next = 0x10_0000;

  readDescriptor(pa: number): number {
    this.reads.push(pa);
    this.error = pa === this.abortAt || pa >= this.ram.size;
    if (this.error) return (this.hi = 0);
    this.hi = this.ram.read32(pa + 4);
    return this.ram.read32(pa);
  }

  write64(pa: number, v: bigint): void {
    this.ram.write32(pa, Number(v & 0xffffffffn));
    this.ram.write32(pa + 4, Number(v >> 32n));
  }

  read64(pa: number): bigint {
    return (BigInt(this.ram.read32(pa + 4)) << 32n) | BigInt(this.ram.read32(pa));
  }

  alloc(bytes: number): number {
    const a = Math.ceil(this.next / bytes) * bytes;
    this.next = a + bytes;
    return a;
  }
}

const TABLE = 3n;
const PAGE = 3n;
const BLOCK = 1n;
const AF = 1n << 10n;
const NG = 1n << 11n;
const AP = (ap: number) => BigInt(ap) << 6n;
const PXN = 1n << 53n;
const UXN = 1n << 54n;
const PXNTABLE = 1n << 59n;
const UXNTABLE = 1n << 60n;
const APTABLE = (v: number) => BigInt(v) << 61n;

interface Geometry {
  g: 12 | 14 | 16;
  tsz: number;
}

/** Builds tables from `root` down to `leafLevel` for `va`, writing `leaf` (already including type bits). */
function mapAt(mem: TableMemory, geo: Geometry, root: number, start: number, va: number, leafLevel: number, leaf: bigint, tableAttrs: bigint[] = []): void {
  const stride = geo.g - 3;
  let table = root;
  for (let level = start; level <= leafLevel; level++) {
    const shift = geo.g + (3 - level) * stride;
    const bits = level === start ? 64 - geo.tsz - shift : stride;
    const idx = Math.floor(va / 2 ** shift) % 2 ** bits;
    const slot = table + idx * 8;
    if (level === leafLevel) {
      mem.write64(slot, leaf);
      return;
    }
    let d = mem.read64(slot);
    if ((d & 1n) === 0n) {
      const t = mem.alloc(2 ** geo.g);
      d = BigInt(t) | TABLE | (tableAttrs[level - start] ?? 0n);
      mem.write64(slot, d);
    }
    table = Number(d & 0x0000_ffff_ffff_f000n) - (Number(d & 0x0000_ffff_ffff_f000n) % 2 ** geo.g);
  }
}

function s1(ttb: number, g: 12 | 14 | 16 = 12, tsz = 16, oasBits = 48): WalkConfig {
  return { stage: 1, ttb, granuleShift: g, tsz, oasBits };
}

describe('VMSAv8-64 walker, stage 1, 4K granule', () => {
  it('D8.2.6: T0SZ=16 with 4K starts at level 0 and resolves a page with four descriptor reads', () => {
    const mem = new TableMemory();
    const root = mem.alloc(4096);
    const va = 0x0000_7f12_3456_7000 + 0xabc;
    mapAt(mem, { g: 12, tsz: 16 }, root, 0, va, 3, 0x4567_8000n | PAGE | AF | AP(1));
    const out = new WalkResult();
    walk(mem, s1(root), va, out);
    expect(out.fault).toBe(WalkFault.None);
    expect(out.level).toBe(3);
    expect(out.sizeShift).toBe(12);
    expect(out.pa).toBe(0x4567_8abc);
    expect(out.reads).toBe(4);
    expect(out.ap).toBe(1);
  });

  it('D8.2.6: the start level follows TxSZ (T0SZ=25 starts at level 1, T0SZ=34..39 at level 2 for 4K)', () => {
    expect(s1StartLevel(12, 16)).toBe(0);
    expect(s1StartLevel(12, 25)).toBe(1);
    expect(s1StartLevel(12, 33)).toBe(1);
    expect(s1StartLevel(12, 34)).toBe(2);
    expect(s1StartLevel(12, 39)).toBe(2);
    expect(s1StartLevel(14, 16)).toBe(0);
    expect(s1StartLevel(14, 17)).toBe(1);
    expect(s1StartLevel(16, 16)).toBe(1);
    expect(s1StartLevel(16, 22)).toBe(2);
    const mem = new TableMemory();
    const root = mem.alloc(4096);
    mapAt(mem, { g: 12, tsz: 25 }, root, 1, 0x12_3456_7000, 3, 0x9000n | PAGE | AF);
    const out = new WalkResult();
    walk(mem, s1(root, 12, 25), 0x12_3456_7010, out);
    expect(out.fault).toBe(WalkFault.None);
    expect(out.pa).toBe(0x9010);
    expect(out.reads).toBe(3);
  });

  it('D8.3.1: a level 1 block maps 1 GiB and a level 2 block maps 2 MiB', () => {
    const mem = new TableMemory();
    const root = mem.alloc(4096);
    mapAt(mem, { g: 12, tsz: 16 }, root, 0, 0x80_0000_0000, 1, 0x4000_0000n | BLOCK | AF);
    mapAt(mem, { g: 12, tsz: 16 }, root, 0, 0x90_0020_0000, 2, 0x0060_0000n | BLOCK | AF);
    const out = new WalkResult();
    walk(mem, s1(root), 0x80_1234_5678, out);
    expect([out.fault, out.level, out.sizeShift, out.pa]).toEqual([WalkFault.None, 1, 30, 0x5234_5678]);
    walk(mem, s1(root), 0x90_003f_fff8, out);
    expect([out.fault, out.level, out.sizeShift, out.pa]).toEqual([WalkFault.None, 2, 21, 0x007f_fff8]);
  });

  it('D8.3.1: a block descriptor at level 0 is a translation fault at level 0 (4K, no LPA2)', () => {
    const mem = new TableMemory();
    const root = mem.alloc(4096);
    mem.write64(root, 0x0n | BLOCK | AF);
    const out = new WalkResult();
    walk(mem, s1(root), 0x1000, out);
    expect([out.fault, out.level]).toEqual([WalkFault.Translation, 0]);
  });

  it('D8.3.1: descriptor bits[1:0]=0b01 at level 3 is reserved and faults as translation at level 3', () => {
    const mem = new TableMemory();
    const root = mem.alloc(4096);
    mapAt(mem, { g: 12, tsz: 16 }, root, 0, 0x5000, 3, 0x8000n | BLOCK | AF);
    const out = new WalkResult();
    walk(mem, s1(root), 0x5000, out);
    expect([out.fault, out.level]).toEqual([WalkFault.Translation, 3]);
  });

  it('D8.3: an invalid descriptor is a translation fault at the level it was read (0, 1, 2, 3)', () => {
    for (let leafLevel = 0; leafLevel <= 3; leafLevel++) {
      const mem = new TableMemory();
      const root = mem.alloc(4096);
      const va = 0x0000_1234_5678_9000;
      if (leafLevel > 0) mapAt(mem, { g: 12, tsz: 16 }, root, 0, va, leafLevel, 0n);
      const out = new WalkResult();
      walk(mem, s1(root), va, out);
      expect([out.fault, out.level, out.reads]).toEqual([WalkFault.Translation, leafLevel, leafLevel + 1]);
    }
  });

  it('AArch64.S1Translate: an input address beyond 2^(64-TxSZ) is a translation fault at level 0 with no descriptor read', () => {
    const mem = new TableMemory();
    const out = new WalkResult();
    walk(mem, s1(mem.alloc(4096), 12, 25), 2 ** 39, out);
    expect([out.fault, out.level, out.reads]).toEqual([WalkFault.Translation, 0, 0]);
    walk(mem, s1(mem.alloc(4096), 12, 25), -4096, out);
    expect(out.fault).toBe(WalkFault.Translation);
  });

  it('D8.2.6: TxSZ below 16 or above 39 is treated as the limit', () => {
    const mem = new TableMemory();
    const root = mem.alloc(4096);
    mapAt(mem, { g: 12, tsz: 39 }, root, 2, 0x40_0000, 3, 0x7000n | PAGE | AF);
    const out = new WalkResult();
    walk(mem, s1(root, 12, 48), 0x40_0000, out);
    expect([out.fault, out.pa]).toEqual([WalkFault.None, 0x7000]);
  });

  it('D8.3.2: output address beyond IPS is an address size fault at the leaf level', () => {
    const mem = new TableMemory();
    const root = mem.alloc(4096);
    mapAt(mem, { g: 12, tsz: 16 }, root, 0, 0x3000, 3, 0x10_0000_0000n | PAGE | AF);
    const out = new WalkResult();
    walk(mem, s1(root, 12, 16, 36), 0x3000, out);
    expect([out.fault, out.level]).toEqual([WalkFault.AddressSize, 3]);
    walk(mem, s1(root, 12, 16, 40), 0x3000, out);
    expect(out.fault).toBe(WalkFault.None);
  });

  it('D8.3.2: a next-level table address beyond the output size is an address size fault at the level holding it', () => {
    const mem = new TableMemory();
    const root = mem.alloc(4096);
    mem.write64(root, 0x1_0000_0000n | TABLE);
    const out = new WalkResult();
    walk(mem, s1(root, 12, 16, 32), 0x1000, out);
    expect([out.fault, out.level, out.reads]).toEqual([WalkFault.AddressSize, 0, 1]);
  });

  it('AArch64.S1Walk: a translation table base beyond the output size is an address size fault at level 0', () => {
    const mem = new TableMemory();
    const out = new WalkResult();
    walk(mem, s1(0x1_0000_0000, 12, 16, 32), 0x1000, out);
    expect([out.fault, out.level, out.reads]).toEqual([WalkFault.AddressSize, 0, 0]);
  });

  it('D8.5.1: AF=0 in the leaf is an access flag fault at the leaf level unless AFFD', () => {
    const mem = new TableMemory();
    const root = mem.alloc(4096);
    mapAt(mem, { g: 12, tsz: 16 }, root, 0, 0x40_0000, 2, 0x20_0000n | BLOCK);
    const out = new WalkResult();
    walk(mem, s1(root), 0x40_0000, out);
    expect([out.fault, out.level]).toEqual([WalkFault.AccessFlag, 2]);
    walk(mem, { ...s1(root), affd: true }, 0x40_0000, out);
    expect([out.fault, out.af, out.pa]).toEqual([WalkFault.None, true, 0x20_0000]);
  });

  it('D8.3: an external abort on a descriptor read is reported at the level of that read', () => {
    const mem = new TableMemory();
    const root = mem.alloc(4096);
    mapAt(mem, { g: 12, tsz: 16 }, root, 0, 0x6000, 3, 0x6000n | PAGE | AF);
    const out = new WalkResult();
    walk(mem, s1(root), 0x6000, out);
    const third = mem.reads[2]!; // the level 2 descriptor
    mem.abortAt = third;
    walk(mem, s1(root), 0x6000, out);
    expect([out.fault, out.level, out.descriptorPa]).toEqual([WalkFault.ExternalAbort, 2, third]);
  });

  it('D8.3.1: leaf attributes are decoded (nG, AttrIndx, software bits, DBM, PXN, UXN)', () => {
    const mem = new TableMemory();
    const root = mem.alloc(4096);
    const leaf = 0x8000n | PAGE | AF | NG | (5n << 2n) | AP(3) | PXN | UXN | (0xan << 55n) | (1n << 51n);
    mapAt(mem, { g: 12, tsz: 16 }, root, 0, 0x8000, 3, leaf);
    const out = new WalkResult();
    walk(mem, s1(root), 0x8000, out);
    expect({ ng: out.ng, attr: out.attrIndx, sw: out.sw, dbm: out.dbm, pxn: out.pxn, uxn: out.uxn, ap: out.ap }).toEqual({
      ng: true,
      attr: 5,
      sw: 0xa,
      dbm: true,
      pxn: true,
      uxn: true,
      ap: 3,
    });
  });

  it('D8.4.2: APTable, PXNTable and UXNTable fold into the leaf permissions', () => {
    const mem = new TableMemory();
    const root = mem.alloc(4096);
    mapAt(mem, { g: 12, tsz: 16 }, root, 0, 0x9000, 3, 0x9000n | PAGE | AF | AP(1), [0n, APTABLE(1) | PXNTABLE, APTABLE(2) | UXNTABLE]);
    const out = new WalkResult();
    walk(mem, s1(root), 0x9000, out);
    // AP=01 (RW at EL0 and EL1) loses EL0 access (APTable[0]) and write (APTable[1]): AP=10.
    expect([out.ap, out.pxn, out.uxn]).toEqual([2, true, true]);
  });
});

describe('VMSAv8-64 walker, 16K and 64K granules', () => {
  it('D8.2.6: 16K with T0SZ=16 walks four levels; level 0 holds two entries', () => {
    const mem = new TableMemory();
    const root = mem.alloc(16384);
    const va = 0x0000_8123_4567_4000 + 0x123;
    mapAt(mem, { g: 14, tsz: 16 }, root, 0, va, 3, 0x1234_4000n | PAGE | AF);
    const out = new WalkResult();
    walk(mem, s1(root, 14, 16), va, out);
    expect([out.fault, out.level, out.sizeShift, out.pa, out.reads]).toEqual([WalkFault.None, 3, 14, 0x1234_4123, 4]);
  });

  it('D8.3.1: 16K level 2 block maps 32 MiB; a level 1 block is a translation fault', () => {
    const mem = new TableMemory();
    const root = mem.alloc(16384);
    mapAt(mem, { g: 14, tsz: 17 }, root, 1, 0x20_0200_0000, 2, 0x0200_0000n | BLOCK | AF);
    mapAt(mem, { g: 14, tsz: 17 }, root, 1, 0x40_0000_0000, 1, 0x0n | BLOCK | AF);
    const out = new WalkResult();
    walk(mem, s1(root, 14, 17), 0x20_0200_1234, out);
    expect([out.fault, out.level, out.sizeShift, out.pa]).toEqual([WalkFault.None, 2, 25, 0x0200_1234]);
    walk(mem, s1(root, 14, 17), 0x40_0000_0000, out);
    expect([out.fault, out.level]).toEqual([WalkFault.Translation, 1]);
  });

  it('D8.2.6: 64K with T0SZ=16 starts at level 1 (64 entries) and maps 64 KiB pages', () => {
    const mem = new TableMemory();
    const root = mem.alloc(65536);
    const va = 0x0000_ffff_1234_0000 + 0xfedc;
    mapAt(mem, { g: 16, tsz: 16 }, root, 1, va, 3, 0x3000_0000n | PAGE | AF);
    const out = new WalkResult();
    walk(mem, s1(root, 16, 16), va, out);
    expect([out.fault, out.level, out.sizeShift, out.pa, out.reads]).toEqual([WalkFault.None, 3, 16, 0x3000_fedc, 3]);
  });

  it('D8.3.1: 64K level 2 block maps 512 MiB; a level 1 block is a translation fault (no LPA)', () => {
    const mem = new TableMemory();
    const root = mem.alloc(65536);
    mapAt(mem, { g: 16, tsz: 16 }, root, 1, 0x1_2000_0000, 2, 0x2000_0000n | BLOCK | AF);
    mapAt(mem, { g: 16, tsz: 16 }, root, 1, 0x400_0000_0000, 1, 0x0n | BLOCK | AF);
    const out = new WalkResult();
    walk(mem, s1(root, 16, 16), 0x1_3fff_fff0, out);
    expect([out.fault, out.level, out.sizeShift, out.pa]).toEqual([WalkFault.None, 2, 29, 0x3fff_fff0]);
    walk(mem, s1(root, 16, 16), 0x400_0000_0000, out);
    expect([out.fault, out.level]).toEqual([WalkFault.Translation, 1]);
  });
});

describe('checkPermission, stage 1', () => {
  const leaf = (ap: number, pxn = false, uxn = false) => {
    const r = new WalkResult();
    r.ap = ap;
    r.pxn = pxn;
    r.uxn = uxn;
    return r;
  };
  const acc = (priv: boolean, write: boolean, exec = false) => ({ priv, write, exec });

  it('D8.4.1 Table D8-45: AP[2:1] grants data access per EL (00 EL1 RW, 01 RW both, 10 EL1 RO, 11 RO both)', () => {
    const table: [number, boolean, boolean, boolean][] = [
      // ap, priv, write, allowed
      [0, true, false, true],
      [0, true, true, true],
      [0, false, false, false],
      [0, false, true, false],
      [1, true, false, true],
      [1, true, true, true],
      [1, false, false, true],
      [1, false, true, true],
      [2, true, false, true],
      [2, true, true, false],
      [2, false, false, false],
      [2, false, true, false],
      [3, true, false, true],
      [3, true, true, false],
      [3, false, false, true],
      [3, false, true, false],
    ];
    for (const [ap, priv, write, allowed] of table) {
      const r = leaf(ap);
      expect(checkPermission(r, acc(priv, write)), `AP=${ap} priv=${priv} write=${write}`).toBe(allowed);
      expect(r.fault).toBe(allowed ? WalkFault.None : WalkFault.Permission);
    }
  });

  it('D8.4.1: PXN forbids EL1 execution, UXN forbids EL0 execution, EL0-writable memory is never EL1-executable', () => {
    expect(checkPermission(leaf(0, true, false), acc(true, false, true))).toBe(false);
    expect(checkPermission(leaf(0, false, true), acc(true, false, true))).toBe(true);
    expect(checkPermission(leaf(3, false, true), acc(false, false, true))).toBe(false);
    expect(checkPermission(leaf(3, true, false), acc(false, false, true))).toBe(true);
    expect(checkPermission(leaf(1), acc(true, false, true))).toBe(false);
    // Execute-only at EL0: AP=00 with UXN=0 lets EL0 fetch but not read.
    expect(checkPermission(leaf(0), acc(false, false, true))).toBe(true);
  });

  it('D8.4.1: SCTLR.WXN makes writable memory execute-never', () => {
    expect(checkPermission(leaf(0), acc(true, false, true), { wxn: true })).toBe(false);
    expect(checkPermission(leaf(2), acc(true, false, true), { wxn: true })).toBe(true);
  });

  it('D8.4.3: PAN forbids EL1 data access to EL0-accessible memory but not to EL1-only memory', () => {
    expect(checkPermission(leaf(1), acc(true, false), { pan: true })).toBe(false);
    expect(checkPermission(leaf(3), acc(true, false), { pan: true })).toBe(false);
    expect(checkPermission(leaf(0), acc(true, true), { pan: true })).toBe(true);
    expect(checkPermission(leaf(1), acc(false, true), { pan: true })).toBe(true);
  });
});

describe('VMSAv8-64 walker, stage 2', () => {
  const s2 = (ttb: number, g: 12 | 14 | 16, tsz: number, sl0: number, oasBits = 48): WalkConfig => ({ stage: 2, ttb, granuleShift: g, tsz, sl0, oasBits });

  it('D8.2.7: SL0 selects the start level (4K: 0->L2, 1->L1, 2->L0; 16K/64K: 0->L3, 1->L2, 2->L1)', () => {
    expect(s2StartLevel(12, 0, 34)).toBe(2);
    expect(s2StartLevel(12, 1, 25)).toBe(1);
    expect(s2StartLevel(12, 2, 16)).toBe(0);
    expect(s2StartLevel(12, 3, 16)).toBe(-1);
    expect(s2StartLevel(16, 0, 39)).toBe(3);
    expect(s2StartLevel(16, 1, 28)).toBe(2);
    expect(s2StartLevel(16, 2, 16)).toBe(1);
    expect(s2StartLevel(16, 3, 16)).toBe(-1);
    expect(s2StartLevel(14, 1, 28)).toBe(2);
  });

  it('AArch64.S2InconsistentSL: SL0 that cannot resolve T0SZ with at most 16 concatenated tables is a translation fault at level 0', () => {
    expect(s2StartLevel(12, 0, 16)).toBe(-1); // 48-bit IPA from level 2 would need 2^18 tables
    expect(s2StartLevel(12, 1, 38)).toBe(-1); // 26-bit IPA cannot start at level 1
    const mem = new TableMemory();
    const out = new WalkResult();
    walk(mem, s2(mem.alloc(4096), 12, 16, 0), 0x1000, out);
    expect([out.fault, out.level, out.reads]).toEqual([WalkFault.Translation, 0, 0]);
  });

  it('D8.2.7.1: concatenated start tables: 4K, T0SZ=24 (40-bit IPA) from level 1 uses 2 tables', () => {
    expect(s2StartLevel(12, 1, 24)).toBe(1);
    const mem = new TableMemory();
    const root = mem.alloc(8192);
    const ipa = 0xa0_1234_5000; // bit 39 set: second concatenated table
    mapAt(mem, { g: 12, tsz: 24 }, root, 1, ipa, 3, 0x5_5000n | PAGE | AF | AP(3));
    const out = new WalkResult();
    walk(mem, s2(root, 12, 24, 1), ipa + 0x10, out);
    expect([out.fault, out.pa, out.reads, out.stage]).toEqual([WalkFault.None, 0x5_5010, 3, 2]);
    expect(mem.reads[0]!).toBeGreaterThanOrEqual(root + 4096);
  });

  it('D8.2.7.1: 4K, T0SZ=21 (43-bit IPA) from level 1 concatenates 16 tables; T0SZ=20 would need 32', () => {
    expect(s2StartLevel(12, 1, 21)).toBe(1);
    expect(s2StartLevel(12, 1, 20)).toBe(-1);
    const mem = new TableMemory();
    const root = mem.alloc(16 * 4096);
    const ipa = 0x780_0000_0000;
    mapAt(mem, { g: 12, tsz: 21 }, root, 1, ipa, 2, 0x20_0000n | BLOCK | AF | AP(1));
    const out = new WalkResult();
    walk(mem, s2(root, 12, 21, 1), ipa, out);
    expect([out.fault, out.pa, out.level]).toEqual([WalkFault.None, 0x20_0000, 2]);
    // Level 1 resolves IPA[42:30]: 13 bits index across the 16 concatenated tables.
    expect(mem.reads[0]).toBe(root + ((ipa / 2 ** 30) % 2 ** 13) * 8);
    expect(mem.reads[0]).toBeGreaterThanOrEqual(root + 15 * 4096);
  });

  it('D8.4.1.2: S2AP[0] grants read, S2AP[1] grants write; XN[1:0] per FEAT_XNX', () => {
    const r = new WalkResult();
    r.stage = 2;
    for (let s2ap = 0; s2ap < 4; s2ap++) {
      r.s2ap = s2ap;
      expect(checkPermission(r, { priv: true, write: false, exec: false })).toBe((s2ap & 1) !== 0);
      expect(checkPermission(r, { priv: false, write: true, exec: false })).toBe((s2ap & 2) !== 0);
    }
    const execAllowed = [
      [true, true],
      [false, true],
      [false, false],
      [true, false],
    ];
    for (let xn = 0; xn < 4; xn++) {
      r.s2xn = xn;
      expect(checkPermission(r, { priv: true, write: false, exec: true })).toBe(execAllowed[xn]![0]);
      expect(checkPermission(r, { priv: false, write: false, exec: true })).toBe(execAllowed[xn]![1]);
    }
  });

  it('D8.3.1: stage 2 leaves decode S2AP, XN and MemAttr and ignore table attributes', () => {
    const mem = new TableMemory();
    const root = mem.alloc(4096);
    mapAt(mem, { g: 12, tsz: 32 }, root, 1, 0x1000, 3, 0x7000n | PAGE | AF | AP(2) | (2n << 53n) | (0xfn << 2n), [APTABLE(3)]);
    const out = new WalkResult();
    walk(mem, s2(root, 12, 32, 1), 0x1000, out);
    expect([out.fault, out.s2ap, out.s2xn, out.attrIndx, out.ap]).toEqual([WalkFault.None, 2, 2, 15, 0]);
  });
});

describe('VMSAv8-64 walker, nested stage 1 through stage 2', () => {
  it('D8.2.8: every stage 1 table address is an IPA translated by stage 2 before the descriptor read', () => {
    const mem = new TableMemory();
    const root = mem.alloc(4096);
    mapAt(mem, { g: 12, tsz: 16 }, root, 0, 0x4000, 3, 0x99_9000n | PAGE | AF);
    const OFFSET = 0x100_0000; // fake stage 2: IPA x -> PA x - OFFSET
    const seen: number[] = [];
    const cfg: WalkConfig = {
      ...s1(root + OFFSET),
      s2: {
        translateTableAddress(ipa) {
          seen.push(ipa);
          return ipa - OFFSET;
        },
      },
    };
    const out = new WalkResult();
    // Table descriptors hold PAs in memory; make them IPAs by adding OFFSET.
    let table = root;
    for (let level = 0; level < 3; level++) {
      const idx = Math.floor(0x4000 / 2 ** (12 + (3 - level) * 9)) % 512;
      const d = mem.read64(table + idx * 8);
      const next = Number(d & 0xffff_ffff_f000n);
      mem.write64(table + idx * 8, BigInt(next + OFFSET) | TABLE);
      table = next;
    }
    walk(mem, cfg, 0x4000, out);
    expect(out.fault).toBe(WalkFault.None);
    expect(out.pa).toBe(0x99_9000); // an IPA, for the caller's final stage 2
    expect(seen.length).toBe(4);
    expect(seen.every((ipa) => ipa >= OFFSET)).toBe(true);
  });

  it('D8.2.8: a stage 2 fault on a stage 1 table address ends the walk with s2Fault and the IPA', () => {
    const mem = new TableMemory();
    const root = mem.alloc(4096);
    const out = new WalkResult();
    walk(
      mem,
      {
        ...s1(root),
        s2: {
          translateTableAddress(ipa, o) {
            o.fault = WalkFault.Translation;
            o.level = 2;
            o.s2FaultIpa = ipa;
            return -1;
          },
        },
      },
      0x4000,
      out,
    );
    expect([out.fault, out.level, out.s2Fault, out.s2FaultIpa, out.reads]).toEqual([WalkFault.Translation, 2, true, root, 0]);
  });
});
