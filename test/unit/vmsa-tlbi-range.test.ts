import { describe, expect, it } from 'vitest';
import { TlbiRange, decodeRangeOperand, encodeRangeOperand, tlbiGranuleShift, tlbiRangeGranules } from '../../src/hw/vmsa/tlbi-range.js';

const split = (v: bigint): [number, number] => [Number(v & 0xffffffffn), Number(v >> 32n)];

describe('range TLBI operand (FEAT_TLBIRANGE)', () => {
  it('range = (NUM+1) * 2^(5*SCALE+1) granules', () => {
    expect(tlbiRangeGranules(0, 0)).toBe(2);
    expect(tlbiRangeGranules(0, 31)).toBe(64);
    expect(tlbiRangeGranules(1, 0)).toBe(64);
    expect(tlbiRangeGranules(3, 31)).toBe(32 * 2 ** 16);
  });

  it('TG encodes 4K/16K/64K as 1/2/3; 0 is reserved', () => {
    expect([0, 1, 2, 3].map(tlbiGranuleShift)).toEqual([0, 12, 14, 16]);
  });

  it('decodes ASID[63:48] TG[47:46] SCALE[45:44] NUM[43:39] TTL[38:37] BaseADDR[36:0] at the bit positions Linux __TLBI_VADDR_RANGE uses', () => {
    const asid = 0x1234n, tg = 1n, scale = 2n, num = 5n, ttl = 3n, baddr = 0x7_1234_5678n;
    const xt = (asid << 48n) | (tg << 46n) | (scale << 44n) | (num << 39n) | (ttl << 37n) | baddr;
    const r = decodeRangeOperand(...split(xt), new TlbiRange());
    expect(r.valid).toBe(true);
    expect(r.asid).toBe(0x1234);
    expect(r.granuleShift).toBe(12);
    expect(r.granules).toBe(6 * 2 ** 11);
    expect(r.ttlLevel).toBe(3);
    expect(r.base).toBe(0x7_1234_5678 * 4096);
    expect(r.bytes).toBe(6 * 2 ** 11 * 4096);
  });

  it('BaseADDR sign-extends from its top bit, so a TTBR1 address comes back negative', () => {
    // VA 0xffff_8000_0000_0000 with 4K: BaseADDR = VA[48:12] = 0x1_f800_0000 | bit 36.
    const baddr = (0xffff_8000_0000_0000n >> 12n) & ((1n << 37n) - 1n);
    const r = decodeRangeOperand(...split((1n << 46n) | baddr), new TlbiRange());
    expect(r.base).toBe(-(2 ** 47));
  });

  it('TG=0b00 is reserved: nothing is invalidated', () => {
    const r = decodeRangeOperand(0x1000, 0, new TlbiRange());
    expect(r.valid).toBe(false);
  });

  it('encodeRangeOperand round-trips through decodeRangeOperand for each granule', () => {
    for (const g of [12, 14, 16] as const) {
      for (const base of [0x40_0000 * 2 ** (g - 12), -(2 ** 40)]) {
        const [lo, hi] = encodeRangeOperand(77, g, 1, 9, 2, base);
        const r = decodeRangeOperand(lo, hi, new TlbiRange());
        expect([r.asid, r.granuleShift, r.granules, r.ttlLevel, r.base]).toEqual([77, g, 10 * 64, 2, base]);
      }
    }
  });
});
