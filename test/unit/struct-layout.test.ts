// The device models' structure-layout module (src/hw/regs/struct-layout.ts): both field
// notations, the one-dword fast path and the exact path across dwords, address fields,
// unions, and the whole-structure helpers.
import { describe, it, expect } from 'vitest';
import { depositBits, dw, dwAddr, extractBits, StructLayout } from '../../src/hw/regs/struct-layout.js';

describe('StructLayout', () => {
  it('extract/deposit handle fields that straddle 32-bit words', () => {
    const w = new Uint32Array(4);
    depositBits(w, 28, 40, 0xab_cdef_1234);
    expect(extractBits(w, 28, 40)).toBe(0xab_cdef_1234);
    expect(w[0]! >>> 28).toBe(0x4);
    depositBits(w, 0, 52, 2 ** 52 - 1);
    expect(extractBits(w, 0, 52)).toBe(2 ** 52 - 1);
  });

  it('rejects overlapping fields, bad bit ranges and fields outside the structure', () => {
    expect(() => new StructLayout('X', 4, [{ name: 'a', dword: 0, lsb: 0, width: 8 }, { name: 'b', dword: 0, lsb: 4, width: 8 }])).toThrow(/overlaps/);
    expect(() => new StructLayout('X', 4, [{ name: 'a', dword: 0, lsb: 30, width: 4 }])).toThrow(/bit range/);
    expect(() => new StructLayout('X', 4, [{ name: 'a', dword: 1, lsb: 0, width: 4 }])).toThrow(/outside/);
  });

  it('set masks the value to the field width and leaves other bits alone', () => {
    const L = new StructLayout('X', 4, [{ name: 'a', dword: 0, lsb: 4, width: 4 }]);
    const w = new Uint32Array([0xffffffff]);
    L.set(w, L.f.a, 0x12);
    expect(w[0]).toBe(0xffffff2f);
    expect(L.get(w, L.f.a)).toBe(2);
    expect(L.format(w)).toBe('a=0x2');
  });

  it('[msb:lsb] ranges over the whole structure: one-dword fields take the mask path, others the exact path', () => {
    const L = new StructLayout('R', 20, { Low: dw(0, 3, 1), High: dw(0, 63, 48), Span: dw(1, 39, 20), Word: [159, 128] });
    expect([L.f.Low.dword, L.f.Low.lsb, L.f.Low.width, L.f.Low.mask]).toEqual([0, 1, 3, 7]);
    expect([L.f.High.dword, L.f.High.lsb, L.f.High.width, L.f.High.mask]).toEqual([1, 16, 16, 0xffff]);
    expect([L.f.Span.dword, L.f.Span.lsb, L.f.Span.width, L.f.Span.mask]).toEqual([2, 20, 20, 0]);
    expect(L.f.Word.mask).toBe(0xffffffff);
    const w = new Uint32Array(5).fill(0xffffffff);
    L.set(w, L.f.Span, 0xa_bcde);
    expect(L.get(w, L.f.Span)).toBe(0xa_bcde);
    expect([w[2]! & 0xfffff, w[3]! >>> 8]).toEqual([0xfffff, 0xffffff]); // neighbours untouched
    L.set(w, L.f.Word, 0x8000_0001);
    expect(L.get(w, L.f.Word)).toBe(0x8000_0001);
    L.set(w, L.f.Low, true);
    expect(L.get(w, L.f.Low)).toBe(1);
    expect(L.flag(w, L.f.Low)).toBe(true);
    L.set(w, L.f.Low, false);
    expect(L.flag(w, L.f.Low)).toBe(false);
    expect(() => new StructLayout('R', 8, { Big: [63, 10] })).toThrow(/R.Big: bad bit range \[63:10\]/); // 54 bits
    expect(() => new StructLayout('R', 8, { Out: [64, 60] })).toThrow(/bad bit range/);
  });

  it('address fields read and write the address, bits in place within their 64-bit dword', () => {
    const L = new StructLayout('A', 16, { Ptr: dwAddr(0, 55, 6), Top: dw(0, 63, 56), Page: dwAddr(1, 63, 12) });
    const w = new Uint32Array(4);
    L.set(w, L.f.Ptr, 0x1234_5678_9ac0 + 0x3f); // the low 6 bits are not part of the field
    expect(L.get(w, L.f.Ptr)).toBe(0x1234_5678_9ac0);
    expect(w[0]! & 0x3f).toBe(0);
    L.set(w, L.f.Page, 0xf_ffff_f000);
    expect([w[2], w[3]]).toEqual([0xfffff000, 0xf]);
    expect(L.decode(w)).toEqual({ Ptr: 0x1234_5678_9ac0, Top: 0, Page: 0xf_ffff_f000 });
  });

  it('a union may share bits; a table that is not refuses it', () => {
    const defs = { IPA: dwAddr(0, 51, 12), FetchAddr: dwAddr(0, 51, 3) };
    expect(() => new StructLayout('U', 8, defs)).toThrow(/overlaps/);
    const U = new StructLayout('U', 8, defs, { union: true });
    const w = U.encode({ FetchAddr: 0x1238 });
    expect(U.get(w, U.f.IPA)).toBe(0x1000);
  });

  it('encode/decode by name, bytes in and out', () => {
    const L = new StructLayout('E', 8, [
      { name: 'a', dword: 0, lsb: 0, width: 16 },
      { name: 'b', dword: 1, lsb: 0, width: 32, description: 'whole dword' },
    ]);
    const w = L.encode({ a: 0x1234, b: 0xdeadbeef });
    expect(L.decode(w)).toEqual({ a: 0x1234, b: 0xdeadbeef });
    expect([...L.toBytes(w)]).toEqual([0x34, 0x12, 0, 0, 0xef, 0xbe, 0xad, 0xde]);
    const into = new Uint32Array(2);
    expect(L.fromBytes(new Uint8Array([9, 9, 9, 9, 0x34, 0x12, 0, 0, 1, 0, 0, 0]), into, 4)).toBe(into);
    expect([...into]).toEqual([0x1234, 1]);
    expect(L.f.b.description).toBe('whole dword');
    expect(() => L.encode({ c: 1 } as never)).toThrow(/E: no field c/);
  });
});
