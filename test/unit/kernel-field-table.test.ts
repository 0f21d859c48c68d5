// The driver-side field-table module: both row notations, the one-word fast path and the
// exact path for fields spanning words, 'addr' fields, masks, and whole-entry helpers.
import { describe, expect, it } from 'vitest';
import { clearFieldMask, FieldTable, formatDwords, getField, orFieldMask, setDwordBig, setField } from '../../src/kernel/lib/field-table.js';

describe('field tables (driver side)', () => {
  it('le64 rows [dword, hi, lo] land on the 32-bit word and bit they name', () => {
    const T = FieldTable.le64('T', 16, [
      ['LOW', 0, 3, 1],
      ['HIGH', 0, 63, 48],
      ['SPAN', 1, 39, 20],
      ['ADDR', 0, 47, 12, 'addr'],
    ]);
    expect([T.f.LOW.dword, T.f.LOW.lsb, T.f.LOW.width]).toEqual([0, 1, 3]);
    expect([T.f.HIGH.dword, T.f.HIGH.lsb, T.f.HIGH.width]).toEqual([1, 16, 16]);
    expect([T.f.SPAN.dword, T.f.SPAN.lsb, T.f.SPAN.width]).toEqual([2, 20, 20]);
    expect(T.f.LOW.mask).toBe(0xe);
    expect(T.f.HIGH.mask).toBe(0xffff0000);
    expect(T.f.SPAN.mask).toBe(0); // spans words 2 and 3: exact path
    expect(T.dwords).toBe(4);
  });

  it('32-bit rows [dword, lsb, width] read through the in-place mask; set drops bits beyond the field and keeps the others', () => {
    const T = new FieldTable('X', 8, [
      ['a', 0, 4, 4],
      ['b', 1, 0, 32],
    ]);
    const w = new Uint32Array([0xffffffff, 0]);
    setField(w, T.f.a, 0x12);
    expect(w[0]).toBe(0xffffff2f);
    expect(getField(w, T.f.a)).toBe(2);
    setField(w, T.f.b, 0xdeadbeef);
    expect(getField(w, T.f.b)).toBe(0xdeadbeef);
    setField(w, T.f.b, -1);
    expect(w[1]).toBe(0xffffffff);
  });

  it('fields spanning two and three words are exact up to 53 bits', () => {
    const T = new FieldTable('W', 16, [
      ['two', 0, 28, 40],
      ['three', 1, 31, 53],
    ], { union: true });
    const w = new Uint32Array(4).fill(0xffffffff);
    setField(w, T.f.two, 0xab_cdef_1234);
    expect(getField(w, T.f.two)).toBe(0xab_cdef_1234);
    expect(w[0]! >>> 28).toBe(0x4);
    expect(w[0]! & 0x0fffffff).toBe(0x0fffffff); // bits below the field untouched
    setField(w, T.f.three, 2 ** 53 - 1);
    expect(getField(w, T.f.three)).toBe(2 ** 53 - 1);
    setField(w, T.f.three, 2 ** 52 + 5);
    expect(getField(w, T.f.three)).toBe(2 ** 52 + 5);
    expect(w[1]! >>> 31).toBe(1); // 5 = 0b101: bit 0 lands in word 1 bit 31
    expect(w[3]! >>> 20).toBe(0xfff); // bits above the field (word 3 [31:20]) untouched
  });

  it("'addr' fields take and give the address, bits in place within their 64-bit dword", () => {
    const T = FieldTable.le64('A', 16, [
      ['PTR', 0, 51, 6, 'addr'],
      ['HI_PTR', 1, 63, 12, 'addr'],
    ]);
    const w = T.alloc();
    setField(w, T.f.PTR, 0x1234_5678_9ac0 + 0x3f); // the low 6 bits are not part of the field
    expect(getField(w, T.f.PTR)).toBe(0x1234_5678_9ac0);
    expect(w[0]! & 0x3f).toBe(0);
    setField(w, T.f.HI_PTR, 0xf_ffff_f000);
    expect(getField(w, T.f.HI_PTR)).toBe(0xf_ffff_f000);
    expect([w[2], w[3]]).toEqual([0xfffff000, 0xf]);
    const W = new FieldTable('W', 8, [['HI', 1, 4, 28, 'addr']]); // [63:36] of dword 0, in 32-bit notation
    const v = W.alloc();
    setField(v, W.f.HI, 2 ** 36 * 3 + 0x123);
    expect([v[0], v[1]]).toEqual([0, 3 << 4]);
    expect(getField(v, W.f.HI)).toBe(2 ** 36 * 3);
  });

  it('encode/decode/format by name; encode refuses a field the table does not have', () => {
    const T = FieldTable.le64('E', 16, [
      ['V', 0, 0, 0],
      ['CFG', 0, 3, 1],
      ['ADDR', 1, 51, 12, 'addr'],
    ]);
    const w = T.encode({ V: 1, CFG: 5, ADDR: 0x4000_1000 });
    expect(T.decode(w)).toEqual({ V: 1, CFG: 5, ADDR: 0x4000_1000 });
    expect(T.format(w)).toBe('E V=0x1 CFG=0x5 ADDR=0x40001000');
    expect(T.format(T.encode({ CFG: 4 }))).toBe('E CFG=0x4');
    const into = new Uint32Array(4).fill(0xffffffff);
    expect(T.encode({ V: 0 }, into)).toBe(into);
    expect(into[0]).toBe(0xfffffffe);
    expect(() => T.encode({ NOPE: 1 } as never)).toThrow(/E: no field NOPE/);
    expect(T.fromBytes(T.toBytes(w))).toEqual(w);
    expect(T.fromBytes(new Uint8Array([9, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 2)[0]).toBe(1);
  });

  it('refuses overlapping fields unless the table is a union, and fields outside the entry or of bad widths', () => {
    expect(() => new FieldTable('X', 4, [['a', 0, 0, 8], ['b', 0, 4, 8]])).toThrow(/X.b: overlaps/);
    expect(() => FieldTable.le64('X', 16, [['a', 0, 40, 20], ['b', 1, 0, 0], ['c', 0, 33, 33]])).toThrow(/X.c: overlaps/);
    expect(new FieldTable('X', 4, [['a', 0, 0, 8], ['b', 0, 4, 8]], { union: true }).fields.length).toBe(2);
    expect(() => new FieldTable('X', 4, [['a', 0, 30, 4]])).toThrow(/outside/);
    expect(() => new FieldTable('X', 4, [['a', 1, 0, 4]])).toThrow(/outside/);
    expect(() => new FieldTable('X', 4, [['a', 0, 0, 0]])).toThrow(/bad bit range/);
    expect(() => new FieldTable('X', 16, [['a', 0, 0, 54]])).toThrow(/bad bit range/);
    expect(() => FieldTable.le64('X', 8, [['a', 0, 3, 4]])).toThrow(/bad bit range \[3:4\]/);
    expect(() => FieldTable.le64('X', 16, [['a', 0, 64, 60]])).toThrow(/bad bit range/);
    expect(() => new FieldTable('X', 6, [])).toThrow(/multiple of 4/);
    expect(() => new FieldTable('X', 8, [['a', 0, 0, 1], ['a', 1, 0, 1]])).toThrow(/duplicate field a/);
  });

  it('field masks cover exactly the field, across words', () => {
    const T = FieldTable.le64('M', 8, [
      ['A', 0, 35, 28],
      ['B', 0, 3, 0],
    ]);
    const m = new Uint32Array(2);
    orFieldMask(m, T.f.A);
    expect([m[0], m[1]]).toEqual([0xf0000000, 0xf]);
    orFieldMask(m, T.f.B);
    clearFieldMask(m, T.f.A);
    expect([m[0], m[1]]).toEqual([0xf, 0]);
  });

  it('64-bit dwords: setDwordBig and formatDwords as Linux prints them', () => {
    const e = new Uint32Array(4);
    setDwordBig(e, 1, 0x0123_4567_89ab_cdefn);
    setDwordBig(e, 0, 0x10n);
    expect(formatDwords(e)).toBe('0x0000000000000010 0x0123456789abcdef');
  });
});
