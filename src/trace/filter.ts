// Trace filters: which records a consumer wants (the TUI's bus pane, test
// assertions, exporters, `--trace-filter`). Filters compose with allOf/anyOf/not,
// test one decoded record, and let `select` skip records of unwanted kinds without
// decoding them.
//
// Text form (parseTraceFilter), terms separated by spaces, all must hold:
//   kind=dma_read,dma_write   kind=iotlb_*   initiator=cpu0,zip*   sid=0x8,0x10
//   ssid=1   addr=0x40000000-0x40001000 (iova or pa in [lo, hi))   addr=0x40000000+0x1000
//   time=10us-2ms (virtual time [from, to); units ns, us, ms, s; ns when bare)
//   !term negates a term.

import { TRACE_KIND_NAMES, TraceKind, type TraceRecord } from './record.js';
import type { TraceRing } from './ring.js';

export interface TraceFilter {
  /** True when the record passes. */
  test(record: TraceRecord): boolean;
  /** The kinds that can pass, or undefined for any kind (lets `select` skip undecoded records). */
  readonly kinds: ReadonlySet<TraceKind> | undefined;
}

const ALL_KINDS: readonly TraceKind[] = Object.keys(TRACE_KIND_NAMES).map(Number);

/** Filters made by byKind alone: their negation is the complementary kind set. */
const pureKindFilters = new WeakSet<TraceFilter>();

export const anyRecord: TraceFilter = { test: () => true, kinds: undefined };

export function byKind(...kinds: readonly TraceKind[]): TraceFilter {
  const set = new Set(kinds);
  const f: TraceFilter = { test: (r) => set.has(r.kind), kinds: set };
  pureKindFilters.add(f);
  return f;
}

/** Initiators by exact name, or by prefix when the name ends in '*' ("cpu*"). */
export function byInitiator(...names: readonly string[]): TraceFilter {
  const exact = new Set(names.filter((n) => !n.endsWith('*')));
  const prefixes = names.filter((n) => n.endsWith('*')).map((n) => n.slice(0, -1));
  return { test: (r) => exact.has(r.initiator) || prefixes.some((p) => r.initiator.startsWith(p)), kinds: undefined };
}

/** Records of these StreamIDs; with `ssid`, only that SubstreamID (-1: no substream). */
export function byStream(sids: number | readonly number[], ssid?: number): TraceFilter {
  const set = new Set(typeof sids === 'number' ? [sids] : sids);
  return { test: (r) => set.has(r.sid) && (ssid === undefined || r.ssid === ssid), kinds: undefined };
}

export function bySubstream(ssid: number): TraceFilter {
  return { test: (r) => r.ssid === ssid, kinds: undefined };
}

/** Records whose input (iova) or output (pa) address lies in [lo, hi). */
export function byAddress(lo: number | bigint, hi: number | bigint): TraceFilter {
  const [l, h] = [BigInt(lo), BigInt(hi)];
  return { test: (r) => (r.iova >= l && r.iova < h) || (r.pa >= l && r.pa < h), kinds: undefined };
}

/** Records stamped in the virtual-time window [fromNs, toNs). */
export function byTime(fromNs: number, toNs = Infinity): TraceFilter {
  return { test: (r) => r.timeNs >= fromNs && r.timeNs < toNs, kinds: undefined };
}

export function allOf(...filters: readonly TraceFilter[]): TraceFilter {
  let kinds: Set<TraceKind> | undefined;
  for (const f of filters) {
    if (f.kinds === undefined) continue;
    kinds = kinds === undefined ? new Set(f.kinds) : new Set([...kinds].filter((k) => f.kinds!.has(k)));
  }
  return { test: (r) => filters.every((f) => f.test(r)), kinds };
}

export function anyOf(...filters: readonly TraceFilter[]): TraceFilter {
  const kinds = filters.some((f) => f.kinds === undefined) ? undefined : new Set(filters.flatMap((f) => [...f.kinds!]));
  return { test: (r) => filters.some((f) => f.test(r)), kinds };
}

export function not(filter: TraceFilter): TraceFilter {
  // a pure kind filter negates to its complement; anything else can pass any kind
  const kinds = filter.kinds !== undefined && pureKindFilters.has(filter) ? new Set(ALL_KINDS.filter((k) => !filter.kinds!.has(k))) : undefined;
  return { test: (r) => !filter.test(r), kinds };
}

/** The ring's records from index `from` that pass `filter`, oldest first. */
export function* select(ring: TraceRing, filter: TraceFilter = anyRecord, from = 0): IterableIterator<TraceRecord> {
  const kinds = filter.kinds;
  for (let i = Math.max(from, ring.first); i < ring.total; i++) {
    if (kinds !== undefined && !kinds.has(ring.kindAt(i))) continue;
    const r = ring.at(i);
    if (filter.test(r)) yield r;
  }
}

// --- text form ---

export type TraceFilterParse = { readonly ok: true; readonly filter: TraceFilter } | { readonly ok: false; readonly error: string };

const KIND_BY_NAME = new Map<string, TraceKind>(Object.entries(TRACE_KIND_NAMES).map(([k, name]) => [name, Number(k) as TraceKind]));

function parseNumber(text: string): number | undefined {
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(text)) return undefined;
  const v = Number(text);
  return Number.isSafeInteger(v) ? v : undefined;
}

function parseTime(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ns|us|ms|s)?$/.exec(text);
  if (!m) return undefined;
  const scale = { ns: 1, us: 1e3, ms: 1e6, s: 1e9 }[m[2] ?? 'ns'] ?? 1;
  return Math.round(Number(m[1]) * scale);
}

function parseTerm(term: string): TraceFilter | string {
  const eq = term.indexOf('=');
  if (eq <= 0 || eq === term.length - 1) return `"${term}" is not key=value`;
  const key = term.slice(0, eq);
  const value = term.slice(eq + 1);
  const list = value.split(',');
  switch (key) {
    case 'kind': {
      const kinds: TraceKind[] = [];
      for (const item of list) {
        const matched = item.endsWith('*') ? [...KIND_BY_NAME].filter(([n]) => n.startsWith(item.slice(0, -1))).map(([, k]) => k) : [KIND_BY_NAME.get(item)];
        if (matched.length === 0 || matched[0] === undefined) return `unknown trace kind "${item}" (known: ${[...KIND_BY_NAME.keys()].join(', ')})`;
        kinds.push(...(matched as TraceKind[]));
      }
      return byKind(...kinds);
    }
    case 'initiator':
      return byInitiator(...list);
    case 'sid': {
      const sids = list.map(parseNumber);
      if (sids.some((s) => s === undefined || s > 0xffffffff)) return `sid "${value}" is not a list of numbers`;
      return byStream(sids as number[]);
    }
    case 'ssid': {
      const s = value === '-' ? -1 : parseNumber(value);
      if (s === undefined || s > 0xfffff) return `ssid "${value}" is not a number below 2^20 (or - for none)`;
      return bySubstream(s);
    }
    case 'addr': {
      const m = /^([^+-]+)(?:([+-])(.+))?$/.exec(value);
      const lo = m && parseNumber(m[1]!);
      const rest = m?.[3] !== undefined ? parseNumber(m[3]) : undefined;
      if (lo === undefined || lo === null || (m![2] !== undefined && rest === undefined)) return `addr "${value}" is not ADDR, LO-HI or BASE+SIZE`;
      const hi = m![2] === '+' ? lo + rest! : m![2] === '-' ? rest! : lo + 1;
      if (hi <= lo) return `addr range "${value}" is empty`;
      return byAddress(lo, hi);
    }
    case 'time': {
      const [a, b] = value.split('-');
      const from = parseTime(a ?? '');
      const to = b === undefined || b === '' ? Infinity : parseTime(b);
      if (from === undefined || to === undefined) return `time "${value}" is not FROM-TO (e.g. 10us-2ms)`;
      return byTime(from, to);
    }
    default:
      return `unknown filter key "${key}" (use kind, initiator, sid, ssid, addr, time)`;
  }
}

/** Parses the text form (see the top of this file). An empty text passes everything. */
export function parseTraceFilter(text: string): TraceFilterParse {
  const filters: TraceFilter[] = [];
  for (const raw of text.trim().split(/\s+/)) {
    if (raw === '') continue;
    const negate = raw.startsWith('!');
    const f = parseTerm(negate ? raw.slice(1) : raw);
    if (typeof f === 'string') return { ok: false, error: f };
    filters.push(negate ? not(f) : f);
  }
  return { ok: true, filter: filters.length === 0 ? anyRecord : filters.length === 1 ? filters[0]! : allOf(...filters) };
}
