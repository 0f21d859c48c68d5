import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/machine/clock.js';
import { allOf, anyOf, byAddress, byInitiator, byKind, byStream, byTime, not, parseTraceFilter, select, type TraceFilter } from '../../src/trace/filter.js';
import { TraceKind } from '../../src/trace/record.js';
import { NO_SID, NO_SSID, TraceRing } from '../../src/trace/ring.js';

/** A small mixed trace: cpu0 MMIO, zip DMA with substreams, smmu walks, at 100 ns steps. */
function sample(): TraceRing {
  const clock = new Clock();
  const ring = new TraceRing(clock, 64);
  ring.enable();
  const cpu = ring.initiatorId('cpu0');
  const cpu1 = ring.initiatorId('cpu1');
  const zip = ring.initiatorId('zip');
  const smmu = ring.initiatorId('smmu');
  const rows: [TraceKind, number, number, number, number, number][] = [
    [TraceKind.MmioWrite, cpu, NO_SID, NO_SSID, 0x9050000, 0x9050000],
    [TraceKind.Walk, smmu, 8, 1, 0x1000, 0x4010_0000],
    [TraceKind.DmaRead, zip, 8, 1, 0x1000, 0x4010_0000],
    [TraceKind.DmaWrite, zip, 8, 2, 0x2000, 0x4020_0000],
    [TraceKind.IotlbHit, smmu, 8, 2, 0x2000, 0x4020_0000],
    [TraceKind.MmioRead, cpu1, NO_SID, NO_SSID, 0x9000000, 0x9000000],
    [TraceKind.DmaRead, zip, 0x10, NO_SSID, 0x4030_0000, 0x4030_0000],
  ];
  for (const [kind, ini, sid, ssid, iova, pa] of rows) {
    clock.advance(100);
    ring.record(kind, ini, sid, ssid, iova, pa, 4, 0);
  }
  return ring;
}

const indices = (ring: TraceRing, f: TraceFilter) => [...select(ring, f)].map((r) => r.index);

describe('trace filters', () => {
  const ring = sample();

  it('byKind passes only the named kinds and lets select skip other kinds undecoded', () => {
    const f = byKind(TraceKind.DmaRead, TraceKind.DmaWrite);
    expect(indices(ring, f)).toEqual([2, 3, 6]);
    expect(f.kinds).toEqual(new Set([TraceKind.DmaRead, TraceKind.DmaWrite]));
  });

  it('byInitiator matches exact names and name* prefixes', () => {
    expect(indices(ring, byInitiator('zip'))).toEqual([2, 3, 6]);
    expect(indices(ring, byInitiator('cpu*'))).toEqual([0, 5]);
  });

  it('byStream matches StreamIDs, optionally one SubstreamID', () => {
    expect(indices(ring, byStream(8))).toEqual([1, 2, 3, 4]);
    expect(indices(ring, byStream(8, 2))).toEqual([3, 4]);
    expect(indices(ring, byStream([8, 0x10], -1))).toEqual([6]);
  });

  it('byAddress matches the input or output address in [lo, hi)', () => {
    expect(indices(ring, byAddress(0x4010_0000, 0x4020_0000))).toEqual([1, 2]);
    expect(indices(ring, byAddress(0x1000, 0x1001))).toEqual([1, 2]);
    expect(indices(ring, byAddress(0x2000n, 0x2001n))).toEqual([3, 4]);
    expect(indices(ring, byAddress(0x4030_0000, 2 ** 40))).toEqual([6]);
  });

  it('byTime keeps records stamped in [from, to)', () => {
    expect(indices(ring, byTime(200, 400))).toEqual([1, 2]);
    expect(indices(ring, byTime(650))).toEqual([6]);
  });

  it('allOf intersects, anyOf unites, not complements (kind sets follow)', () => {
    const dmaOf8 = allOf(byKind(TraceKind.DmaRead, TraceKind.DmaWrite), byStream(8));
    expect(indices(ring, dmaOf8)).toEqual([2, 3]);
    expect(indices(ring, anyOf(byKind(TraceKind.Walk), byInitiator('cpu1')))).toEqual([1, 5]);
    expect(indices(ring, not(byKind(TraceKind.DmaRead, TraceKind.DmaWrite)))).toEqual([0, 1, 4, 5]);
    // negating a compound filter must not drop records of its kinds
    expect(indices(ring, not(dmaOf8))).toEqual([0, 1, 4, 5, 6]);
    expect(allOf(byKind(TraceKind.DmaRead), byKind(TraceKind.DmaWrite)).kinds).toEqual(new Set());
  });

  it('filters are plain predicates over decoded records', () => {
    const f = byKind(TraceKind.Walk);
    expect([...ring.records()].filter((r) => f.test(r)).map((r) => r.index)).toEqual([1]);
  });

  it('select starts at a given index and respects the ring window', () => {
    expect(indices(ring, byInitiator('zip')).filter((i) => i >= 3)).toEqual([...select(ring, byInitiator('zip'), 3)].map((r) => r.index));
  });
});

describe('trace filter text form', () => {
  const ring = sample();
  const parsed = (text: string) => {
    const r = parseTraceFilter(text);
    if (!r.ok) throw new Error(r.error);
    return indices(ring, r.filter);
  };

  it('key=value terms all hold; commas list alternatives', () => {
    expect(parsed('kind=dma_read,dma_write sid=0x8')).toEqual([2, 3]);
    expect(parsed('initiator=cpu0,smmu')).toEqual([0, 1, 4]);
    expect(parsed('')).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('kind globs, ssid (- for none), addr ranges LO-HI and BASE+SIZE, time with units', () => {
    expect(parsed('kind=dma_*')).toEqual([2, 3, 6]);
    expect(parsed('ssid=1')).toEqual([1, 2]);
    expect(parsed('ssid=- kind=dma_read')).toEqual([6]);
    expect(parsed('addr=0x40100000-0x40200000')).toEqual([1, 2]);
    expect(parsed('addr=0x40200000+0x1000')).toEqual([3, 4]);
    expect(parsed('addr=0x1000')).toEqual([1, 2]);
    expect(parsed('time=0.2us-400ns')).toEqual([1, 2]);
    expect(parsed('time=600-')).toEqual([5, 6]);
  });

  it('!term negates', () => {
    expect(parsed('!initiator=zip !kind=mmio_*')).toEqual([1, 4]);
  });

  it('mistakes are error values that say what was wrong', () => {
    const err = (t: string) => {
      const r = parseTraceFilter(t);
      return r.ok ? 'ok' : r.error;
    };
    expect(err('kind=dma')).toMatch(/unknown trace kind "dma" \(known: mmio_read/);
    expect(err('colour=red')).toMatch(/unknown filter key "colour"/);
    expect(err('sid=foo')).toMatch(/sid "foo"/);
    expect(err('addr=0x10-0x8')).toMatch(/empty/);
    expect(err('addr=zz')).toMatch(/addr "zz"/);
    expect(err('time=1parsec')).toMatch(/time "1parsec"/);
    expect(err('kind')).toMatch(/not key=value/);
    expect(err('ssid=0x100000')).toMatch(/below 2\^20/);
  });
});
