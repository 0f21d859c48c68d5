import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/machine/clock.js';
import { DEFAULT_COST, makeCostModel } from '../../src/machine/cost.js';
import { exportChrome, exportChromeFromRing, type ChromeTraceEvent } from '../../src/trace/export-chrome.js';
import { exportText, formatTraceLine } from '../../src/trace/export-text.js';
import { byKind } from '../../src/trace/filter.js';
import { TraceKind } from '../../src/trace/record.js';
import { NO_SID, NO_SSID, TraceRing } from '../../src/trace/ring.js';

function sample(): TraceRing {
  const clock = new Clock();
  const ring = new TraceRing(clock, 64);
  ring.enable();
  const cpu = ring.initiatorId('cpu0');
  const zip = ring.initiatorId('zip');
  const smmu = ring.initiatorId('smmu');
  clock.advanceTo(1000);
  ring.record(TraceKind.MmioWrite, cpu, NO_SID, NO_SSID, 0x9050000, 0x9050000, 4, 0x1);
  ring.record(TraceKind.IotlbMiss, smmu, 8, 1, 0x1000, 0, 0, 0);
  ring.record(TraceKind.Walk, smmu, 8, 1, 0x1000, 0x4010_0000, 8, 0x40100003, 3);
  clock.advanceTo(1010);
  // a 4 KiB DMA at 16 B/ns lasts 100 + 256 ns, but the next one starts 50 ns later
  ring.record(TraceKind.DmaRead, zip, 8, 1, 0x1000, 0x4010_0000, 4096, 0xdeadbeef);
  clock.advanceTo(1060);
  ring.record(TraceKind.DmaWrite, zip, 8, 1, 0x1_0000_2000, 0x1_4020_0000, 64, 0x9abc_def0, 0, 0x1234_5678);
  ring.record(TraceKind.Msi, zip, 8, NO_SSID, 0x8090040, 0x8090040, 4, 0x21);
  return ring;
}

describe('text exporter (QEMU-style key=value lines)', () => {
  it('one line per record: time, initiator, kind, then sid ssid iova pa size value aux', () => {
    const lines = exportText(sample()).split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines[0]).toBe('1000 cpu0 mmio_write sid=- ssid=- iova=0x9050000 pa=0x9050000 size=4 value=0x1 aux=0x0');
    expect(lines[2]).toBe('1000 smmu walk sid=0x8 ssid=0x1 iova=0x1000 pa=0x40100000 size=8 value=0x40100003 aux=0x3');
    expect(lines[4]).toBe('1060 zip dma_write sid=0x8 ssid=0x1 iova=0x100002000 pa=0x140200000 size=64 value=0x123456789abcdef0 aux=0x0');
  });

  it('with a describer, each line ends with " | " and the record read in words', () => {
    const lines = exportText(sample(), byKind(TraceKind.Walk, TraceKind.Msi), (r) => `kind ${r.kind} at ${r.iova.toString(16)}`).trim().split('\n');
    expect(lines).toEqual([
      `1000 smmu walk sid=0x8 ssid=0x1 iova=0x1000 pa=0x40100000 size=8 value=0x40100003 aux=0x3 | kind ${TraceKind.Walk} at 1000`,
      `1060 zip msi sid=0x8 ssid=- iova=0x8090040 pa=0x8090040 size=4 value=0x21 aux=0x0 | kind ${TraceKind.Msi} at 8090040`,
    ]);
  });

  it('takes a filter, and lines are greppable by key=value', () => {
    const text = exportText(sample(), byKind(TraceKind.DmaRead, TraceKind.DmaWrite));
    expect(text.trim().split('\n')).toHaveLength(2);
    expect(text.split('\n').filter((l) => / sid=0x8 /.test(l) && / dma_read /.test(l))).toHaveLength(1);
    expect(formatTraceLine(sample().at(5))).toMatch(/^1060 zip msi sid=0x8 ssid=- /);
  });
});

describe('Chrome/Perfetto exporter (Trace Event Format)', () => {
  const trace = JSON.parse(JSON.stringify(exportChromeFromRing(sample()))) as { traceEvents: ChromeTraceEvent[]; displayTimeUnit: string };
  const events = trace.traceEvents;
  const body = events.filter((e) => e.ph !== 'M');

  it('is valid JSON with traceEvents and displayTimeUnit "ns"; every event has name, ph, ts, pid, tid', () => {
    expect(trace.displayTimeUnit).toBe('ns');
    for (const e of events) {
      expect(typeof e.name).toBe('string');
      expect(['X', 'i', 'M']).toContain(e.ph);
      expect(Number.isFinite(e.ts) && e.ts >= 0).toBe(true);
      expect(e.pid).toBe(1);
      expect(Number.isInteger(e.tid)).toBe(true);
    }
    expect(body).toHaveLength(6);
  });

  it('names the process and one thread per initiator with M metadata, in order of appearance', () => {
    const names = events.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => [e.tid, e.args!.name]);
    expect(names).toEqual([
      [1, 'cpu0'],
      [2, 'smmu'],
      [3, 'zip'],
    ]);
    expect(events.find((e) => e.name === 'process_name')!.args!.name).toBe('svasoc SoC');
    const tids = new Set(body.map((e) => e.tid));
    for (const t of tids) expect(names.some(([tid]) => tid === t)).toBe(true);
  });

  it('transactions are X slices with ts in us and dur from the cost model; other records are thread instants', () => {
    const mmio = body.find((e) => e.name === 'mmio_write')!;
    expect(mmio).toMatchObject({ ph: 'X', ts: 1, dur: DEFAULT_COST.mmioNs / 1000, cat: 'bus' });
    const walk = body.find((e) => e.name === 'walk')!;
    expect(walk).toMatchObject({ ph: 'X', dur: DEFAULT_COST.walkStepNs / 1000 });
    const miss = body.find((e) => e.name === 'iotlb_miss')!;
    expect(miss).toMatchObject({ ph: 'i', s: 't' });
    expect(miss.dur).toBeUndefined();
    const write = body.find((e) => e.name === 'dma_write')!;
    expect(write.dur).toBeCloseTo((DEFAULT_COST.dmaLatencyNs + 64 / DEFAULT_COST.dmaBytesPerNs) / 1000, 9);
  });

  it('args carry addr, pa, size, value, sid, ssid as hex; absent sid/ssid are left out', () => {
    expect(body.find((e) => e.name === 'dma_write')!.args).toEqual({ addr: '0x100002000', pa: '0x140200000', size: 64, value: '0x123456789abcdef0', sid: '0x8', ssid: '0x1' });
    const mmio = body.find((e) => e.name === 'mmio_write')!.args!;
    expect(mmio.sid).toBeUndefined();
    expect(mmio.ssid).toBeUndefined();
    expect(body.find((e) => e.name === 'walk')!.args!.aux).toBe('0x3');
  });

  it('with a describer, every event carries the record read in words as args.decoded', () => {
    const events = exportChromeFromRing(sample(), undefined, { describe: (r) => `record ${r.index}` }).traceEvents.filter((e) => e.ph !== 'M');
    expect(events.map((e) => e.args!.decoded)).toEqual(['record 0', 'record 1', 'record 2', 'record 3', 'record 4', 'record 5']);
  });

  it('slices of one thread never partially overlap (Perfetto requires nesting): the earlier one is cut', () => {
    const read = body.find((e) => e.name === 'dma_read')!;
    expect(read.ts).toBeCloseTo(1.01, 9);
    expect(read.dur).toBeCloseTo(0.05, 9);
    const byTid = new Map<number, ChromeTraceEvent[]>();
    for (const e of body.filter((x) => x.ph === 'X')) byTid.set(e.tid, [...(byTid.get(e.tid) ?? []), e]);
    for (const slices of byTid.values()) {
      slices.sort((a, b) => a.ts - b.ts);
      for (let i = 1; i < slices.length; i++) expect(slices[i - 1]!.ts + slices[i - 1]!.dur!).toBeLessThanOrEqual(slices[i]!.ts + 1e-9);
    }
  });

  it("durations follow the machine's cost overrides", () => {
    const t = exportChrome(sample().records(), { cost: makeCostModel({ mmioNs: 500 }), processName: 'test' });
    expect(t.traceEvents.find((e) => e.name === 'mmio_write')!.dur).toBe(0.5);
    expect(t.traceEvents.find((e) => e.name === 'process_name')!.args!.name).toBe('test');
  });

  it('an empty trace is still a loadable document', () => {
    const t = JSON.parse(JSON.stringify(exportChrome([]))) as { traceEvents: ChromeTraceEvent[] };
    expect(t.traceEvents.map((e) => e.name)).toEqual(['process_name']);
  });
});
