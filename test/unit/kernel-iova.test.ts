// IOVA allocator reservations (drivers/iommu/iova.c reserve_iova): a reservation that
// overlaps or touches earlier ones merges with them into one range, one inside an
// earlier one changes nothing, and allocation never hands out a page of any of them,
// down to the last free page.

import { describe, expect, it } from 'vitest';
import { IovaDomain } from '../../src/kernel/drivers/iommu/iova.js';

const spans = (d: IovaDomain): [number, number, boolean][] => d.ranges.map((r) => [r.pfnLo, r.pfnHi, r.reserved]);

describe('reserve_iova merges overlapping and adjacent reservations', () => {
  it('overlapping, touching and contained reservations become one range; disjoint ones stay apart', () => {
    const d = new IovaDomain(4096, 1);
    d.reserve(0x100, 0x1ff);
    d.reserve(0x180, 0x27f);
    expect(spans(d)).toEqual([[0x100, 0x27f, true]]);
    d.reserve(0x280, 0x2ff); // touches the end
    d.reserve(0xf0, 0xff); // touches the start
    expect(spans(d)).toEqual([[0xf0, 0x2ff, true]]);
    const inside = d.reserve(0x120, 0x130);
    expect(spans(d)).toEqual([[0xf0, 0x2ff, true]]);
    expect(inside.pfnLo).toBe(0xf0);
    d.reserve(0x400, 0x4ff);
    d.reserve(0x10, 0x1f);
    expect(spans(d)).toEqual([
      [0x10, 0x1f, true],
      [0xf0, 0x2ff, true],
      [0x400, 0x4ff, true],
    ]);
    // one reservation spanning two earlier ones swallows both
    d.reserve(0x200, 0x480);
    expect(spans(d)).toEqual([
      [0x10, 0x1f, true],
      [0xf0, 0x4ff, true],
    ]);
  });

  it('exhausting the space with page allocations never returns a reserved page, and every free page is used', () => {
    const d = new IovaDomain(4096, 1);
    d.reserve(0x40, 0x7f);
    d.reserve(0x60, 0x9f);
    d.reserve(0xc0, 0xc3);
    const limit = 0xff;
    const got = new Set<number>();
    for (;;) {
      const a = d.alloc(1, limit, true);
      if (a === null) break;
      got.add(a.pfnLo);
    }
    const reserved = (p: number): boolean => (p >= 0x40 && p <= 0x9f) || (p >= 0xc0 && p <= 0xc3);
    expect([...got].filter(reserved)).toEqual([]);
    const free: number[] = [];
    for (let p = 1; p <= limit; p++) if (!reserved(p)) free.push(p);
    expect([...got].sort((a, b) => a - b)).toEqual(free);
  });
});
