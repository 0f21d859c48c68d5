import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/machine/clock.js';
import { TRACE_KIND_NAMES, TraceKind } from '../../src/trace/record.js';
import { NO_SID, NO_SSID, TraceRing } from '../../src/trace/ring.js';

function ringWith(capacity: number): { clock: Clock; ring: TraceRing } {
  const clock = new Clock();
  const ring = new TraceRing(clock, capacity);
  ring.enable();
  return { clock, ring };
}

describe('trace ring', () => {
  it('decodes what was recorded: 64-bit addresses above 2^32, value halves, no-substream as -1', () => {
    const { clock, ring } = ringWith(8);
    const dev = ring.initiatorId('zip');
    clock.advanceTo(1234);
    ring.record(TraceKind.DmaWrite, dev, 0x10, 3, 0xffff_f000_1000, 0x4_4000_0000, 64, 0x89abcdef, 7, 0x01234567);
    ring.record(TraceKind.MmioRead, dev, NO_SID, NO_SSID, 0x900_0000, 0x900_0000, 4, 0x30);
    const [a, b] = [...ring.records()];
    expect(a).toEqual({
      index: 0,
      timeNs: 1234,
      kind: TraceKind.DmaWrite,
      initiator: 'zip',
      sid: 0x10,
      ssid: 3,
      iova: 0xffff_f000_1000n,
      pa: 0x4_4000_0000n,
      size: 64,
      value: 0x01234567_89abcdefn,
      aux: 7,
    });
    expect(b!.ssid).toBe(-1);
    expect(b!.sid).toBe(NO_SID);
  });

  it('wraps: keeps the newest `capacity` records, indices stay global', () => {
    const { ring } = ringWith(4);
    for (let i = 0; i < 10; i++) ring.record(TraceKind.Marker, 0, NO_SID, NO_SSID, i, i, 0, 0, i);
    expect(ring.total).toBe(10);
    expect(ring.first).toBe(6);
    expect([...ring.records()].map((r) => [r.index, r.aux])).toEqual([
      [6, 6],
      [7, 7],
      [8, 8],
      [9, 9],
    ]);
    expect([...ring.records(8)].map((r) => r.index)).toEqual([8, 9]);
    expect(() => ring.at(5)).toThrow(/not in the ring \[6, 10\)/);
    expect(ring.kindAt(9)).toBe(TraceKind.Marker);
  });

  it('subscribers turn recording on and receive each new index; unsubscribing turns it off', () => {
    const ring = new TraceRing(new Clock(), 16);
    expect(ring.on).toBe(false);
    const seen: number[] = [];
    const off = ring.subscribe((r, i) => seen.push(r.at(i).aux));
    expect(ring.on).toBe(true);
    ring.record(TraceKind.Marker, 0, NO_SID, NO_SSID, 0, 0, 0, 0, 42);
    off();
    expect(ring.on).toBe(false);
    expect(seen).toEqual([42]);
    ring.enable();
    const off2 = ring.subscribe(() => {});
    off2();
    expect(ring.on).toBe(true); // still enabled by enable()
    ring.disable();
    expect(ring.on).toBe(false);
  });

  it('initiator ids are stable per name; unknown ids print as ?N', () => {
    const ring = new TraceRing(new Clock(), 4);
    const a = ring.initiatorId('cpu0');
    expect(ring.initiatorId('smmu')).toBe(a + 1);
    expect(ring.initiatorId('cpu0')).toBe(a);
    expect(ring.initiatorName(99)).toBe('?99');
  });

  it('hash is a fingerprint of content and time; clear forgets records', () => {
    const make = (value: number, at: number) => {
      const { clock, ring } = ringWith(8);
      clock.advanceTo(at);
      ring.record(TraceKind.DmaRead, 0, 1, NO_SSID, 0x1000, 0x1000, 4, value);
      return ring;
    };
    expect(make(1, 10).hash()).toBe(make(1, 10).hash());
    expect(make(1, 10).hash()).not.toBe(make(2, 10).hash());
    expect(make(1, 10).hash()).not.toBe(make(1, 11).hash());
    const r = make(1, 10);
    r.clear();
    expect(r.total).toBe(0);
    expect([...r.records()]).toEqual([]);
  });

  it('every kind has a snake_case name for exporters', () => {
    expect(TRACE_KIND_NAMES[TraceKind.DmaRead]).toBe('dma_read');
    expect(TRACE_KIND_NAMES[TraceKind.IotlbMiss]).toBe('iotlb_miss');
    expect(TRACE_KIND_NAMES[TraceKind.PageRequest]).toBe('page_request');
    for (const [, name] of Object.entries(TRACE_KIND_NAMES)) expect(name).toMatch(/^[a-z]+(_[a-z]+)*$/);
  });
});
