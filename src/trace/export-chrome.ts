// Chrome Trace Event Format / Perfetto JSON of trace records, for ui.perfetto.dev
// and chrome://tracing: {traceEvents, displayTimeUnit: 'ns'}.
//   pid 1 is the SoC; each initiator (CPU core, SMMU, device) is a thread with a
//   'M' thread_name record, numbered in order of first appearance.
//   Transactions with a modelled cost (MMIO, DMA, walks, config fetches, SMMU
//   commands) are 'X' slices whose dur comes from the cost model; the rest are
//   thread-scoped 'i' instants.
// Perfetto needs slices on one thread to nest (docs: "duration events must nest"),
// so a slice is cut short where the next slice of the same initiator begins.
// ts and dur are in microseconds as the format defines them; fractions keep ns.

import { DEFAULT_COST, type CostModel } from '../machine/cost.js';
import { anyRecord, select, type TraceFilter } from './filter.js';
import { TRACE_KIND_NAMES, TraceKind, type TraceDescriber, type TraceRecord } from './record.js';
import { NO_SID, type TraceRing } from './ring.js';

export interface ChromeTraceEvent {
  readonly name: string;
  readonly ph: 'X' | 'i' | 'M';
  readonly ts: number;
  dur?: number;
  readonly pid: number;
  readonly tid: number;
  readonly cat?: string;
  /** Scope of an instant: 't' = thread. */
  readonly s?: 't';
  readonly args?: Readonly<Record<string, string | number>>;
}

export interface ChromeTrace {
  readonly traceEvents: ChromeTraceEvent[];
  readonly displayTimeUnit: 'ns';
  readonly otherData: Readonly<Record<string, string>>;
}

export interface ChromeExportOptions {
  /** Cost model the durations come from (the machine's, so overrides show). */
  readonly cost?: Readonly<CostModel>;
  /** Process name shown for pid 1. */
  readonly processName?: string;
  /** A one-line reading of a record (what the TUI's list shows), put in its args as `decoded`. */
  readonly describe?: TraceDescriber;
}

export const SOC_PID = 1;

const CATEGORY: Readonly<Partial<Record<TraceKind, string>>> = {
  [TraceKind.MmioRead]: 'bus',
  [TraceKind.MmioWrite]: 'bus',
  [TraceKind.DmaRead]: 'bus',
  [TraceKind.DmaWrite]: 'bus',
  [TraceKind.BusError]: 'error',
  [TraceKind.Walk]: 'translation',
  [TraceKind.TlbHit]: 'translation',
  [TraceKind.TlbMiss]: 'translation',
  [TraceKind.TlbInvalidate]: 'translation',
  [TraceKind.IotlbHit]: 'translation',
  [TraceKind.IotlbMiss]: 'translation',
  [TraceKind.ConfigFetch]: 'smmu',
  [TraceKind.Command]: 'smmu',
  [TraceKind.Event]: 'smmu',
  [TraceKind.Fault]: 'fault',
  [TraceKind.Stall]: 'smmu',
  [TraceKind.Resume]: 'smmu',
  [TraceKind.PageRequest]: 'smmu',
  [TraceKind.PageResponse]: 'smmu',
  [TraceKind.Msi]: 'irq',
  [TraceKind.Irq]: 'irq',
  [TraceKind.Exception]: 'cpu',
  [TraceKind.Doorbell]: 'accel',
  [TraceKind.Completion]: 'accel',
  [TraceKind.Marker]: 'marker',
};

/** Modelled duration of a record in ns, or undefined for an instant. */
export function modelledDurationNs(r: TraceRecord, cost: Readonly<CostModel>): number | undefined {
  switch (r.kind) {
    case TraceKind.MmioRead:
    case TraceKind.MmioWrite:
      return cost.mmioNs;
    case TraceKind.DmaRead:
    case TraceKind.DmaWrite:
      return cost.dmaLatencyNs + r.size / cost.dmaBytesPerNs;
    case TraceKind.Walk:
    case TraceKind.ConfigFetch:
      return cost.walkStepNs;
    case TraceKind.Command:
      return cost.smmuCommandNs;
    default:
      return undefined;
  }
}

const hex = (v: bigint | number) => `0x${v.toString(16)}`;

function argsOf(r: TraceRecord, describe: TraceDescriber | undefined): Record<string, string | number> {
  const args: Record<string, string | number> = {};
  if (describe !== undefined) args.decoded = describe(r);
  args.addr = hex(r.iova);
  args.pa = hex(r.pa);
  args.size = r.size;
  args.value = hex(r.value);
  if (r.sid !== NO_SID) args.sid = hex(r.sid);
  if (r.ssid >= 0) args.ssid = hex(r.ssid);
  if (r.aux !== 0) args.aux = hex(r.aux);
  return args;
}

/** Builds the Chrome/Perfetto trace object of `records` (JSON.stringify it to write a file). */
export function exportChrome(records: Iterable<TraceRecord>, options: ChromeExportOptions = {}): ChromeTrace {
  const cost = options.cost ?? DEFAULT_COST;
  const meta: ChromeTraceEvent[] = [
    { name: 'process_name', ph: 'M', ts: 0, pid: SOC_PID, tid: 0, args: { name: options.processName ?? 'svasoc SoC' } },
  ];
  const events: ChromeTraceEvent[] = [];
  const tids = new Map<string, number>();
  const openSlice = new Map<number, ChromeTraceEvent>();
  for (const r of records) {
    let tid = tids.get(r.initiator);
    if (tid === undefined) {
      tid = tids.size + 1;
      tids.set(r.initiator, tid);
      meta.push({ name: 'thread_name', ph: 'M', ts: 0, pid: SOC_PID, tid, args: { name: r.initiator } });
      meta.push({ name: 'thread_sort_index', ph: 'M', ts: 0, pid: SOC_PID, tid, args: { sort_index: tid } });
    }
    const ts = r.timeNs / 1000;
    const name = TRACE_KIND_NAMES[r.kind] ?? `kind${r.kind}`;
    const cat = CATEGORY[r.kind] ?? 'other';
    const durNs = modelledDurationNs(r, cost);
    if (durNs === undefined) {
      events.push({ name, cat, ph: 'i', s: 't', ts, pid: SOC_PID, tid, args: argsOf(r, options.describe) });
      continue;
    }
    const prev = openSlice.get(tid);
    if (prev !== undefined && prev.ts + prev.dur! > ts) prev.dur = Math.max(0, ts - prev.ts);
    const slice: ChromeTraceEvent = { name, cat, ph: 'X', ts, dur: durNs / 1000, pid: SOC_PID, tid, args: argsOf(r, options.describe) };
    openSlice.set(tid, slice);
    events.push(slice);
  }
  return { traceEvents: [...meta, ...events], displayTimeUnit: 'ns', otherData: { generator: 'svasoc', clock: 'virtual ns' } };
}

/** The ring's records passing `filter` as a Chrome/Perfetto trace object. */
export function exportChromeFromRing(ring: TraceRing, filter: TraceFilter = anyRecord, options: ChromeExportOptions = {}): ChromeTrace {
  return exportChrome(select(ring, filter), options);
}
