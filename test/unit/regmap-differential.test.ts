// The compiled register block (32-bit halves, offset table) against the BigInt reference
// of the same rules: random register tables and random guest and hardware accesses must
// give the same values, errors, refusal reasons and hook calls.

import { describe, expect, it } from 'vitest';
import { MmioAccess, type AccessSize } from '../../src/hw/bus/mmio.js';
import { RegisterBlock, type BitAccess, type FieldDef, type RegDef } from '../../src/hw/regs/regmap.js';
import { mulberry32 as rng } from '../../src/machine/prng.js';
import { ReferenceRegisterBlock, type RefRegDef } from './regmap-reference.js';

const ACCESSES: readonly BitAccess[] = ['RW', 'RO', 'WO', 'W1C', 'W1S', 'RC'];

interface Pair {
  readonly block: RegisterBlock;
  readonly ref: ReferenceRegisterBlock;
  readonly names: string[];
  readonly fields: Map<string, string[]>;
  readonly log: string[];
  readonly refLog: string[];
  readonly span: number;
}

/**
 * A random table of `n` registers (32- and 64-bit, fields of every access, reserved bits,
 * a few far offsets) and the same table for both blocks; hooks log their arguments as
 * BigInts, read hooks flip bits, and some write hooks act on the block as device hooks do
 * (restore the old value, update another register).
 */
function randomPair(seed: number, n: number): Pair {
  const r = rng(seed);
  const int = (k: number) => Math.floor(r() * k);
  const u32 = () => int(2 ** 32);
  const u64 = () => (BigInt(u32()) << 32n) | BigInt(u32());
  const used = new Set<number>();
  const defs: RegDef[] = [];
  const refDefs: RefRegDef[] = [];
  const names: string[] = [];
  const fields = new Map<string, string[]>();
  const log: string[] = [];
  const refLog: string[] = [];
  let block!: RegisterBlock;
  let ref!: ReferenceRegisterBlock;
  for (let i = 0; defs.length < n && i < 10 * n; i++) {
    const wide = r() < 0.3;
    const far = r() < 0.1;
    let word = far ? 0xc0000 + int(0x800) : int(0x600);
    if (wide) word &= ~1;
    const words = wide ? [word, word + 1] : [word];
    if (words.some((w) => used.has(w))) continue;
    words.forEach((w) => used.add(w));
    const width = wide ? 64 : 32;
    const name = `R${defs.length}`;
    const fs: FieldDef[] = [];
    if (r() < 0.6) {
      for (let lsb = int(4); lsb < width; ) {
        const w = 1 + int(Math.min(width - lsb, r() < 0.2 ? 40 : 8));
        if (r() < 0.7) fs.push(r() < 0.5 ? { name: `F${lsb}`, lsb, width: w } : { name: `F${lsb}`, lsb, width: w, access: ACCESSES[int(6)]! });
        lsb += w + int(3);
      }
    }
    const access = r() < 0.5 ? undefined : ACCESSES[int(6)]!;
    const reserved = r() < 0.2 ? (wide ? u64() & u64() : (u32() & u32()) >>> 0) : undefined;
    const reset = wide ? u64() : u32();
    const common = { name, offset: word * 4, reset, ...(access ? { access } : {}), ...(fs.length ? { fields: fs } : {}), ...(reserved !== undefined ? { reserved } : {}) };
    const mode = int(4); // 0 plain, 1 hooks, 2 guard (restore old), 3 mirror into the previous register
    const other = names[names.length - 1];
    const flip32 = u32();
    const flip64 = u64();
    if (wide) {
      const hooks = (log_: string[], blk: () => RegisterBlock | ReferenceRegisterBlock) => ({
        // a read hook may answer a BigInt or a Number (below 2^53)
        ...(mode === 1 ? { read: (s: bigint) => (flip32 & 1 ? Number((s ^ flip64) & 0x1f_ffff_ffff_ffffn) : s ^ flip64) } : {}),
        ...(mode !== 0
          ? {
              write: (v: bigint, o: bigint, w: bigint) => {
                log_.push(`${name} w ${v} ${o} ${w}`);
                if (mode === 2 && (v & 1n) !== 0n) blk().set(name, o);
                if (mode === 3 && other) blk().set(other, v >> 7n);
              },
            }
          : {}),
      });
      defs.push({ ...common, width: 64, ...hooks(log, () => block) });
      refDefs.push({ ...common, width: 64, ...hooks(refLog, () => ref) });
    } else {
      defs.push({
        ...common,
        ...(mode === 1 ? { read: (s: number) => (s ^ flip32) >>> 0 } : {}),
        ...(mode !== 0
          ? {
              write: (v: number, o: number, w: number) => {
                log.push(`${name} w ${v} ${o} ${w}`);
                if (mode === 2 && (v & 1) !== 0) block.set(name, o);
                if (mode === 3 && other) block.set(other, v >>> 3);
              },
            }
          : {}),
      });
      refDefs.push({
        ...common,
        ...(mode === 1 ? { read: (s: bigint) => s ^ BigInt(flip32) } : {}),
        ...(mode !== 0
          ? {
              write: (v: bigint, o: bigint, w: bigint) => {
                refLog.push(`${name} w ${v} ${o} ${w}`);
                if (mode === 2 && (v & 1n) !== 0n) ref.set(name, o);
                if (mode === 3 && other) ref.set(other, v >> 3n);
              },
            }
          : {}),
      });
    }
    names.push(name);
    fields.set(name, fs.map((f) => f.name));
  }
  const options = { allowNarrow: r() < 0.5, unmappedRazWi: r() < 0.5 };
  // some registers are added after construction, as register arrays are
  const late = Math.floor(defs.length / 4);
  block = new RegisterBlock('blk', defs.slice(0, defs.length - late), options);
  ref = new ReferenceRegisterBlock('blk', refDefs.slice(0, refDefs.length - late), options);
  for (const d of defs.slice(defs.length - late)) block.add(d);
  for (const d of refDefs.slice(refDefs.length - late)) ref.add(d);
  return { block, ref, names, fields, log, refLog, span: Math.max(...[...used]) * 4 + 16 };
}

function stateOf(b: RegisterBlock | ReferenceRegisterBlock, names: readonly string[]): bigint[] {
  return names.map((n) => b.get(n));
}

describe('register block: compiled slots behave as the BigInt reference', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`random table and accesses, seed ${seed}`, () => {
      const p = randomPair(seed, 40);
      const r = rng(seed * 7919);
      const int = (k: number) => Math.floor(r() * k);
      const acc = new MmioAccess();
      const refAcc = new MmioAccess();
      expect(p.block.definitions.map((d) => [d.name, d.offset])).toEqual(p.ref.definitions.map((d) => [d.name, d.offset]));
      expect(stateOf(p.block, p.names)).toEqual(stateOf(p.ref, p.names));
      for (let step = 0; step < 3000; step++) {
        const name = p.names[int(p.names.length)]!;
        const op = int(100);
        const where = `step ${step} op ${op} ${name}`;
        if (op < 70) {
          // guest access: mostly at a register, sometimes anywhere in the span
          const size = ([1, 2, 4, 8] as const)[int(4)]! as AccessSize;
          const def = p.block.definitions.find((d) => d.name === name)!;
          let offset = r() < 0.8 ? def.offset + int(8) : int(p.span);
          if (r() < 0.8) offset -= offset % size;
          const lo = int(2 ** 32);
          const hi = int(2 ** 32);
          acc.reset(0, lo, hi);
          refAcc.reset(0, lo, hi);
          if (r() < 0.5) {
            p.block.mmioRead(offset, size, acc);
            p.ref.mmioRead(offset, size, refAcc);
          } else {
            p.block.mmioWrite(offset, size, acc);
            p.ref.mmioWrite(offset, size, refAcc);
          }
          expect([acc.lo >>> 0, acc.hi >>> 0, acc.error], where).toEqual([refAcc.lo >>> 0, refAcc.hi >>> 0, refAcc.error]);
          expect(p.block.lastIssue, where).toEqual(p.ref.lastIssue);
        } else if (op < 78) {
          const v = r() < 0.5 ? (BigInt(int(2 ** 32)) << 32n) | BigInt(int(2 ** 32)) : r() < 0.5 ? int(2 ** 53) : -int(2 ** 40);
          p.block.set(name, v);
          p.ref.set(name, v);
        } else if (op < 84) {
          const v = r() < 0.5 ? BigInt(int(2 ** 32)) << BigInt(int(33)) : int(2 ** 32) - (r() < 0.2 ? 2 ** 31 : 0);
          p.block.writeReg(name, v);
          p.ref.writeReg(name, v);
        } else if (op < 89) {
          expect(p.block.readReg(name), where).toBe(p.ref.readReg(name));
        } else if (op < 97) {
          const fs = p.fields.get(name)!;
          if (fs.length === 0) continue;
          const f = fs[int(fs.length)]!;
          if (r() < 0.5) expect(p.block.field(name, f), where).toBe(p.ref.field(name, f));
          else {
            const v = r() < 0.5 ? int(2 ** 32) : BigInt(int(2 ** 32)) * BigInt(int(2 ** 32));
            p.block.setField(name, f, v);
            p.ref.setField(name, f, v);
          }
        } else if (op < 99) {
          expect(p.block.getNum(name), where).toBe(p.ref.getNum(name));
        } else {
          p.block.reset();
          p.ref.reset();
        }
        expect(stateOf(p.block, p.names), where).toEqual(stateOf(p.ref, p.names));
        expect(p.log.length, where).toBe(p.refLog.length);
      }
      expect(p.log).toEqual(p.refLog);
    });
  }

  it('offsets far apart (two-level table): registers on both sides of a page boundary and 3 MiB up', () => {
    const defs: RegDef[] = [
      { name: 'A', offset: 0xffc },
      { name: 'B', offset: 0x1000, width: 64, reset: 0x1234_5678_9abc_def0n },
      { name: 'FAR', offset: 0x30_9040, reset: 7 },
    ];
    const b = new RegisterBlock('far', defs, { unmappedRazWi: true });
    const acc = new MmioAccess();
    b.mmioRead(0x1004, 4, acc);
    expect(acc.lo).toBe(0x1234_5678);
    b.mmioRead(0x30_9040, 4, acc);
    expect(acc.lo).toBe(7);
    b.mmioWrite(0xffc, 4, acc.reset(0, 0xdead_beef));
    expect(b.getNum('A')).toBe(0xdead_beef);
    b.mmioRead(0x20_0000, 4, acc.reset(0, 5));
    expect([acc.lo, acc.error, b.lastIssue?.reason]).toEqual([0, false, 'unmapped']);
    b.mmioRead(0x40_0000, 4, acc.reset(0, 5));
    expect([acc.lo, acc.error, b.lastIssue?.reason]).toEqual([0, false, 'unmapped']);
    expect(() => b.add({ name: 'C', offset: 0x1004 })).toThrow(/far\.C: offset overlaps B/);
  });
});
