// Screen geometry and the text of a list row, as pure functions of the terminal size,
// so 80x24 and a large terminal can be checked without a terminal.

import { TraceKind, type TraceRecord } from '../trace/record.js';
import { NO_SID } from '../trace/ring.js';

export interface Rect {
  readonly top: number;
  readonly left: number;
  readonly width: number;
  readonly height: number;
}

export interface Layout {
  readonly list: Rect;
  readonly detail: Rect;
  readonly console: Rect;
  /** The detail pane when zoomed (Enter): the list and detail areas together. */
  readonly zoom: Rect;
  readonly status: Rect;
}

/**
 * Below 140x40 the panes stack (list, detail, console) at full width. A bigger
 * terminal keeps the list at full width on top, where the wide columns fit, and puts
 * detail and console side by side below it.
 */
export function layoutFor(cols: number, rows: number): Layout {
  const w = Math.max(cols, 20);
  const h = Math.max(rows, 10) - 1; // the status bar takes the last line
  const status = { top: h, left: 0, width: w, height: 1 };
  if (w >= 140 && h >= 39) {
    const listH = Math.floor(h * 0.55);
    const detailW = Math.floor(w * 0.6);
    const list = { top: 0, left: 0, width: w, height: listH };
    const detail = { top: listH, left: 0, width: detailW, height: h - listH };
    const console = { top: listH, left: detailW, width: w - detailW, height: h - listH };
    return { list, detail, console, zoom: { top: 0, left: 0, width: w, height: h }, status };
  }
  const listH = Math.max(5, Math.floor(h * 0.5));
  const detailH = Math.max(4, Math.floor(h * 0.28));
  const consoleH = Math.max(3, h - listH - detailH);
  return {
    list: { top: 0, left: 0, width: w, height: listH },
    detail: { top: listH, left: 0, width: w, height: detailH },
    console: { top: listH + detailH, left: 0, width: w, height: consoleH },
    zoom: { top: 0, left: 0, width: w, height: listH + detailH },
    status,
  };
}

const KIND_LABELS: Readonly<Record<number, string>> = {
  [TraceKind.MmioRead]: 'mmio_rd',
  [TraceKind.MmioWrite]: 'mmio_wr',
  [TraceKind.DmaRead]: 'dma_rd',
  [TraceKind.DmaWrite]: 'dma_wr',
  [TraceKind.BusError]: 'BUS_ERR',
  [TraceKind.Walk]: 'walk',
  [TraceKind.TlbHit]: 'tlb_hit',
  [TraceKind.TlbMiss]: 'tlb_miss',
  [TraceKind.TlbInvalidate]: 'tlbi',
  [TraceKind.IotlbHit]: 'iotlb_hit',
  [TraceKind.IotlbMiss]: 'iotlb_miss',
  [TraceKind.ConfigFetch]: 'cfg_fetch',
  [TraceKind.Command]: 'command',
  [TraceKind.Event]: 'EVENT',
  [TraceKind.Fault]: 'FAULT',
  [TraceKind.Stall]: 'STALL',
  [TraceKind.Resume]: 'resume',
  [TraceKind.PageRequest]: 'pri_req',
  [TraceKind.PageResponse]: 'pri_resp',
  [TraceKind.Msi]: 'msi',
  [TraceKind.Irq]: 'irq',
  [TraceKind.Exception]: 'exception',
  [TraceKind.Doorbell]: 'doorbell',
  [TraceKind.Completion]: 'complete',
  [TraceKind.Marker]: 'step',
};

export function kindLabel(kind: TraceKind): string {
  return KIND_LABELS[kind] ?? `kind${kind}`;
}

/** Virtual time for a column: ns below 1 us, then us / ms / s with three decimals. */
export function formatTime(ns: number): string {
  if (ns < 1e3) return `${Math.round(ns)}ns`;
  if (ns < 1e6) return `${(ns / 1e3).toFixed(3)}us`;
  if (ns < 1e9) return `${(ns / 1e6).toFixed(3)}ms`;
  return `${(ns / 1e9).toFixed(3)}s`;
}

/** Initiator names made short for a column: "iommu-testdev@00:02.0" -> "testdev". */
export function shortInitiator(name: string): string {
  const base = name.split('@')[0]!;
  return base === 'iommu-testdev' ? 'testdev' : base === 'hisi_zip' ? 'zip' : base;
}

const hex = (v: number | bigint) => `0x${v.toString(16)}`;

function cut(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, Math.max(0, width - 1))}~` : text.padEnd(width);
}

/** Kinds whose record is a bus access at `pa` (for MMIO `iova` repeats it). */
const ACCESS_KINDS = new Set([TraceKind.DmaRead, TraceKind.DmaWrite, TraceKind.MmioRead, TraceKind.MmioWrite, TraceKind.BusError]);
const MMIO_KINDS = new Set([TraceKind.MmioRead, TraceKind.MmioWrite, TraceKind.BusError]);

/**
 * The iova and pa columns: '-' where the record has no such address (a stall, an
 * event or a walk that faulted has no output address; an IRQ none at all; an MMIO
 * access has one address, shown as pa), so a 0 is never read as address 0.
 */
export function addressColumns(r: TraceRecord): { iova: string; pa: string } {
  const iova = MMIO_KINDS.has(r.kind) || (r.iova === 0n && !ACCESS_KINDS.has(r.kind)) ? '-' : hex(r.iova);
  const pa = r.pa === 0n && !ACCESS_KINDS.has(r.kind) ? '-' : hex(r.pa);
  return { iova, pa };
}

/**
 * One list row in `width` columns: time, initiator, kind, then the decode; wider
 * terminals add the record index, SID/SSID, IOVA, PA, size and value columns.
 */
export function formatRow(r: TraceRecord, decode: string, width: number): string {
  const cols: string[] = [];
  if (width >= 120) cols.push(`#${r.index}`.padStart(7));
  cols.push(formatTime(r.timeNs).padStart(10));
  cols.push(cut(shortInitiator(r.initiator), width >= 120 ? 12 : 8));
  cols.push(cut(kindLabel(r.kind), 10));
  if (width >= 100) cols.push(cut(r.sid === NO_SID ? '-' : `${hex(r.sid)}${r.ssid >= 0 ? `/${r.ssid}` : ''}`, 8));
  if (width >= 150) {
    cols.push(cut(addressColumns(r).iova, 14));
    cols.push(cut(addressColumns(r).pa, 12));
    cols.push(`${r.size}`.padStart(5));
    cols.push(cut(hex(r.value), 18));
  }
  const head = cols.join(' ');
  const rest = width - head.length - 1;
  return rest > 0 ? `${head} ${cut(decode, rest)}` : head.slice(0, width);
}

/** Header line matching formatRow's columns. */
export function formatHeader(width: number): string {
  const cols: string[] = [];
  if (width >= 120) cols.push('rec'.padStart(7));
  cols.push('time'.padStart(10));
  cols.push('who'.padEnd(width >= 120 ? 12 : 8));
  cols.push('kind'.padEnd(10));
  if (width >= 100) cols.push('sid/ssid'.padEnd(8));
  if (width >= 150) cols.push('iova'.padEnd(14), 'pa'.padEnd(12), 'size'.padStart(5), 'value'.padEnd(18));
  const head = cols.join(' ');
  return `${head} ${'decode'}`.slice(0, width).padEnd(width);
}
