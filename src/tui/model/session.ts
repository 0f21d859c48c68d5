// The debugger session behind the TUI, independent of any terminal library: a machine
// and its workload, the part of the trace shown so far, and the controls that move it
// (step one record, run to the next record a filter matches, run to a breakpoint
// kind). The workload always advances in its own fixed quanta (see workload.ts); the
// session reveals the records those quanta produced one at a time, so stepping is
// exact per record and two sessions given the same commands show the same list.

import type { MachineCore } from '../../machine/machine.js';
import { Machine } from '../../machine/board.js';
import { TRACE_KIND_NAMES, TraceKind, type TraceRecord } from '../../trace/record.js';
import { anyRecord, parseTraceFilter, type TraceFilter } from '../../trace/filter.js';
import { formatTraceLine } from '../../trace/export-text.js';
import type { TraceRing } from '../../trace/ring.js';
import { CMD_BYTES } from '../../hw/smmuv3/cmdq.js';
import { EVT_BYTES } from '../../hw/smmuv3/evtq.js';
import { PRI_BYTES } from '../../hw/smmuv3/priq.js';
import { ITS_CMD_SIZE } from '../../hw/gic/its-command.js';
import { ZIP_SQE_BYTES } from '../../hw/zip/sqe.js';
import { PRG_RESPONSE_NAMES, cdBrief, decodeLine, detailSections, eventName, hex, initiatorRole, intidName, ns, smmuNamed, steBrief, type DecodeContext, type DetailSection } from './decode.js';
import { SmmuV3 } from '../../hw/smmuv3/smmuv3.js';
import type { Workload } from './workload.js';

export type RunState = 'paused' | 'running' | 'finished';

/** Why a control stopped. */
export type StopReason = 'step' | 'match' | 'end' | 'budget';

export interface StopInfo {
  readonly reason: StopReason;
  /** The record it stopped at (the last one revealed), if any. */
  readonly index: number | undefined;
}

/** Kinds a free run stops at unless the user changes them. */
export const DEFAULT_BREAKPOINTS: readonly TraceKind[] = [TraceKind.Stall];

const KIND_BY_NAME = new Map(Object.entries(TRACE_KIND_NAMES).map(([k, n]) => [n, Number(k) as TraceKind]));

/** Parses "stall,fault,bus_error" into kinds; a string is the error. */
export function parseKinds(text: string): TraceKind[] | string {
  const out: TraceKind[] = [];
  for (const item of text.split(/[\s,]+/).filter((s) => s !== '')) {
    const k = KIND_BY_NAME.get(item);
    if (k === undefined) return `unknown trace kind "${item}" (known: ${[...KIND_BY_NAME.keys()].join(', ')})`;
    out.push(k);
  }
  return out;
}

export interface SessionOptions {
  /** Trace filter text for the list (parseTraceFilter syntax). */
  readonly filter?: string;
  readonly breakpoints?: readonly TraceKind[];
}

/** A row of the transaction list. */
export interface ListRow {
  readonly record: TraceRecord;
  readonly decode: string;
}

export class TuiSession implements DecodeContext {
  readonly machine: MachineCore;
  readonly ring: TraceRing;
  /** Records [ring.first, shownEnd) have been revealed. */
  private shownEnd: number;
  private filterValue: TraceFilter = anyRecord;
  private filterSource = '';
  /** Revealed records that pass the filter (absolute indices), oldest first. */
  private rows: number[] = [];
  /** Next absolute index to test against the filter. */
  private scanned: number;
  private readonly captured = new Map<number, Uint32Array>();
  private pendingPri: { index: number; prod: number } | undefined;
  /** STE/CD rows of a stall's story, by stall index (found once: they come before the stall). */
  private readonly configCache = new Map<number, string[]>();
  private readonly unsubscribe: () => void;
  breakpoints: Set<TraceKind>;
  state: RunState = 'paused';
  /** Records that left the ring before they were shown (the ring wrapped). */
  lost = 0;
  /** The last stop, for the status bar. */
  lastStop: StopInfo | undefined;

  constructor(
    readonly workload: Workload,
    options: SessionOptions = {},
  ) {
    this.machine = workload.machine;
    this.ring = workload.machine.trace;
    this.ring.enable();
    this.shownEnd = this.ring.total;
    this.scanned = this.ring.total;
    this.breakpoints = new Set(options.breakpoints ?? DEFAULT_BREAKPOINTS);
    this.unsubscribe = this.ring.subscribe((ring, index) => this.capture(ring, index));
    if (options.filter !== undefined) {
      const err = this.setFilter(options.filter);
      if (err !== undefined) throw new Error(`trace filter: ${err}`);
    }
  }

  close(): void {
    this.unsubscribe();
  }

  // ---- what is shown ----

  /** Index one past the last revealed record. */
  get end(): number {
    return this.shownEnd;
  }

  /** Number of rows the list has (revealed records passing the filter). */
  get rowCount(): number {
    this.scan();
    this.dropLost();
    return this.rows.length;
  }

  /** The rows [from, from+count) of the list. */
  rowsAt(from: number, count: number): ListRow[] {
    this.scan();
    this.dropLost();
    const out: ListRow[] = [];
    for (let i = Math.max(0, from); i < Math.min(this.rows.length, from + count); i++) {
      const r = this.ring.at(this.rows[i]!);
      out.push({ record: r, decode: decodeLine(this, r) });
    }
    return out;
  }

  /** The absolute record index of list row `row`. */
  indexOfRow(row: number): number | undefined {
    this.scan();
    this.dropLost();
    return this.rows[row];
  }

  /** The list row showing record `index`, or the row of the nearest later record shown. */
  rowOfIndex(index: number): number {
    this.scan();
    this.dropLost();
    let lo = 0;
    let hi = this.rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.rows[mid]! < index) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  record(index: number): TraceRecord | undefined {
    return index >= this.ring.first && index < this.shownEnd ? this.ring.at(index) : undefined;
  }

  /** Virtual time of the last revealed record (or of the machine when all are shown). */
  get timeNs(): number {
    if (this.shownEnd === this.ring.total) return this.machine.clock.now();
    return this.shownEnd > this.ring.first ? this.ring.at(this.shownEnd - 1).timeNs : 0;
  }

  /** Records the workload produced that are not shown yet. */
  get ahead(): number {
    return this.ring.total - this.shownEnd;
  }

  get filterText(): string {
    return this.filterSource;
  }

  get filter(): TraceFilter {
    return this.filterValue;
  }

  /** Sets the list filter (trace filter syntax); returns an error message or undefined. */
  setFilter(text: string): string | undefined {
    const parsed = parseTraceFilter(text);
    if (!parsed.ok) return parsed.error;
    this.filterValue = parsed.filter;
    this.filterSource = text.trim();
    this.rows = [];
    this.scanned = this.ring.first;
    return undefined;
  }

  private scan(): void {
    const ring = this.ring;
    const f = this.filterValue;
    const kinds = f.kinds;
    for (let i = Math.max(this.scanned, ring.first); i < this.shownEnd; i++) {
      if (kinds !== undefined && !kinds.has(ring.kindAt(i))) continue;
      if (f === anyRecord || f.test(ring.at(i))) this.rows.push(i);
    }
    this.scanned = this.shownEnd;
  }

  private dropLost(): void {
    const first = this.ring.first;
    if (this.rows.length === 0 || this.rows[0]! >= first) return;
    let n = 0;
    while (n < this.rows.length && this.rows[n]! < first) n++;
    this.rows.splice(0, n);
    for (const k of this.captured.keys()) if (k < first) this.captured.delete(k);
  }

  /** Makes records up to `index` (exclusive) shown, counting any the ring already lost. */
  private reveal(upTo: number): void {
    const first = this.ring.first;
    if (this.shownEnd < first) {
      this.lost += first - this.shownEnd;
      this.shownEnd = first;
    }
    this.shownEnd = Math.max(this.shownEnd, Math.min(upTo, this.ring.total));
  }

  // ---- controls ----

  /** Runs the workload one quantum; false when it had nothing left. */
  private advance(): boolean {
    const more = this.workload.advance();
    if (this.machine instanceof Machine) this.machine.console.flush();
    this.checkPendingPri();
    if (!more || this.workload.done) this.state = this.ahead === 0 ? 'finished' : this.state;
    return more;
  }

  /** Reveals the next `count` records (running the workload as far as needed). */
  step(count = 1): StopInfo {
    for (let i = 0; i < count; i++) {
      while (this.shownEnd >= this.ring.total) {
        if (!this.advance()) return this.stop('end');
      }
      this.reveal(Math.max(this.shownEnd, this.ring.first) + 1);
    }
    return this.stop('step');
  }

  /**
   * Reveals records up to and including the next one `match` accepts. Gives up with
   * 'budget' after `budget` workload quanta (call again to continue), 'end' when the
   * workload has nothing left.
   */
  runUntil(match: (r: TraceRecord) => boolean, budget = Infinity, kinds?: ReadonlySet<TraceKind>): StopInfo {
    let quanta = 0;
    for (;;) {
      const ring = this.ring;
      for (let i = Math.max(this.shownEnd, ring.first); i < ring.total; i++) {
        if (kinds !== undefined && !kinds.has(ring.kindAt(i))) continue;
        if (match(ring.at(i))) {
          this.reveal(i + 1);
          return this.stop('match');
        }
      }
      this.reveal(ring.total);
      if (quanta++ >= budget) return this.stop('budget');
      if (!this.advance()) return this.stop('end');
    }
  }

  /** Runs to the next record passing `filter` (default: the list filter). */
  runToFilter(filter: TraceFilter = this.filterValue, budget = Infinity): StopInfo {
    return this.runUntil((r) => filter.test(r), budget, filter.kinds);
  }

  /** Runs to the next record of one of `kinds` (default: the breakpoints). */
  runToKind(kinds: ReadonlySet<TraceKind> = this.breakpoints, budget = Infinity): StopInfo {
    if (kinds.size === 0) return this.runUntil(() => false, budget);
    return this.runUntil(() => true, budget, kinds);
  }

  private stop(reason: StopReason): StopInfo {
    if (reason === 'end' && this.workload.done) this.state = 'finished';
    const info = { reason, index: this.shownEnd > this.ring.first ? this.shownEnd - 1 : undefined };
    this.lastStop = info;
    return info;
  }

  /** Types into the guest console. */
  input(data: Uint8Array): boolean {
    if (this.workload.input === undefined) return false;
    this.workload.input(data);
    return true;
  }

  // ---- search ----

  /** The next row after `fromRow` (or before it, backwards) whose line contains `text`. */
  search(text: string, fromRow: number, backwards = false): number | undefined {
    const needle = text.toLowerCase();
    if (needle === '') return undefined;
    const n = this.rowCount;
    for (let k = 1; k <= n; k++) {
      const row = backwards ? (fromRow - k + n * 2) % n : (fromRow + k) % n;
      const r = this.ring.at(this.rows[row]!);
      if (`${formatTraceLine(r)} ${decodeLine(this, r)}`.toLowerCase().includes(needle)) return row;
    }
    return undefined;
  }

  // ---- decode ----

  get snapshots(): { get(index: number): Uint32Array | undefined } {
    return this.captured;
  }

  markerLabel(aux: number): string | undefined {
    return this.workload.markerLabel?.(aux);
  }

  decode(r: TraceRecord): string {
    return decodeLine(this, r);
  }

  /** Everything the detail pane shows for record `index`. */
  detail(index: number): DetailSection[] {
    const r = this.record(index);
    if (r === undefined) return [];
    const related = this.related(r);
    return [{ title: `${TRACE_KIND_NAMES[r.kind] ?? r.kind} #${r.index} ${this.decode(r)}`, rows: [] }, ...(related !== undefined ? [related] : []), ...detailSections(this, r)];
  }

  /** First revealed record from `from` of kind `kind` that `match` accepts. */
  private findAfter(from: number, kind: TraceKind, match: (r: TraceRecord) => boolean): TraceRecord | undefined {
    for (let i = Math.max(from, this.ring.first); i < this.shownEnd; i++) {
      if (this.ring.kindAt(i) !== kind) continue;
      const r = this.ring.at(i);
      if (match(r)) return r;
    }
    return undefined;
  }

  private findBefore(from: number, kind: TraceKind, match: (r: TraceRecord) => boolean): TraceRecord | undefined {
    for (let i = Math.min(from, this.shownEnd - 1); i >= this.ring.first; i--) {
      if (this.ring.kindAt(i) !== kind) continue;
      const r = this.ring.at(i);
      if (match(r)) return r;
    }
    return undefined;
  }

  /** The stall a record belongs to: the STE and CD in use, its event, who took the event, the RESUME that ended it, the retried translation, and how long it lasted. */
  stallStory(stall: TraceRecord): DetailSection {
    const stag = stall.value;
    const sameStall = (r: TraceRecord) => r.sid === stall.sid && r.value === stag;
    const event = this.findAfter(stall.index, TraceKind.Event, (r) => r.sid === stall.sid && r.value === stag && r.aux === stall.aux);
    const resume = this.findAfter(stall.index + 1, TraceKind.Resume, (r) => (r.aux !== 2 && sameStall(r)) || (r.aux === 2 && r.sid === stall.sid));
    const command = resume && this.findBefore(resume.index, TraceKind.Command, (r) => r.aux === (resume.aux === 2 ? 0x45 : 0x44));
    const held = (resume?.timeNs ?? this.timeNs) - stall.timeNs;
    const what = `STAG ${hex(stag)} (${eventName(stall.aux)}) StreamID ${hex(stall.sid)}${stall.ssid >= 0 ? ` SSID ${stall.ssid}` : ''} IOVA ${hex(stall.iova)}`;
    const rows = [
      `${what}: ${resume !== undefined ? `held ${ns(held)}, then ${resume.aux === 1 ? 'RETRY' : resume.aux === 2 ? 'STALL_TERM' : 'TERMINATE'}` : `still held (${ns(held)} so far)`}`,
      ...this.configUsed(stall),
      `stalled    #${stall.index} at ${ns(stall.timeNs)}`,
      event ? `event      #${event.index} at ${ns(event.timeNs)}: ${this.decode(event)}` : `event      not shown yet${this.ahead > 0 ? ' (step on)' : ' (a stall event waits while the EVTQ is disabled or full)'}`,
    ];
    if (event !== undefined) {
      const until = resume?.index ?? this.shownEnd;
      const irq = this.findAfter(event.index, TraceKind.Irq, (r) => r.index < until && r.value === 1n && intidName(this.machine, r.aux) === 'smmu eventq');
      if (irq !== undefined) rows.push(`interrupt  #${irq.index} at ${ns(irq.timeNs)}: ${this.decode(irq)} by ${irq.initiator}`);
      const consumed = this.findAfter(event.index, TraceKind.MmioWrite, (r) => r.index < until && / EVENTQ_CONS <- /.test(this.decode(r)));
      if (consumed !== undefined) rows.push(`consumed   #${consumed.index} at ${ns(consumed.timeNs)}: ${consumed.initiator} ${this.decode(consumed)} (software has read the event)`);
    }
    rows.push(
      resume !== undefined
        ? `resumed    #${resume.index} at ${ns(resume.timeNs)}${command ? ` by #${command.index} ${this.decode(command)}` : ''}`
        : 'resumed    not yet: software must send CMD_RESUME (or CMD_STALL_TERM)',
    );
    if (resume !== undefined && resume.aux === 1) {
      const page = stall.iova >> 12n;
      const retry = this.findAfter(resume.index, TraceKind.Walk, (r) => r.initiator === stall.initiator && r.sid === stall.sid && r.ssid === stall.ssid && r.iova >> 12n === page);
      if (retry !== undefined) {
        const mapped = ((retry.aux >>> 8) & 0xff) === 0;
        rows.push(`retried    #${retry.index} at ${ns(retry.timeNs)}: ${this.decode(retry)}${mapped ? ': the page is mapped now' : ': it faults again'}`);
      }
    }
    return { title: '', rows };
  }

  /** A page request (PCIe PRI, IHI 0070 8) and its group's answer: the interrupt, the software that read the PRI queue, the CMD_PRI_RESP and the PRG response the function got. */
  priStory(request: TraceRecord): DetailSection {
    const prg = request.aux;
    const response = this.findAfter(request.index, TraceKind.PageResponse, (r) => r.sid === request.sid && r.aux === prg);
    const until = response?.index ?? this.shownEnd;
    const command = response && this.findBefore(response.index, TraceKind.Command, (r) => r.index > request.index && r.aux === 0x41 && initiatorRole(this.machine, r.initiator) === 'smmu');
    const waited = (response?.timeNs ?? this.timeNs) - request.timeNs;
    const what = `PRG ${prg} StreamID ${hex(request.sid)}${request.ssid >= 0 ? ` SSID ${request.ssid}` : ''} page ${hex(request.iova - (request.iova % 4096n))}`;
    const answer = response !== undefined ? (PRG_RESPONSE_NAMES[Number(response.value)] ?? hex(response.value)) : undefined;
    const rows = [
      `${what}: ${answer !== undefined ? `answered ${answer} after ${ns(waited)}` : `waiting (${ns(waited)} so far)`}`,
      `requested  #${request.index} at ${ns(request.timeNs)} by ${request.initiator}: ${this.decode(request)}`,
    ];
    const irq = this.findAfter(request.index, TraceKind.Irq, (r) => r.index < until && r.value === 1n && intidName(this.machine, r.aux) === 'smmu priq');
    if (irq !== undefined) rows.push(`interrupt  #${irq.index} at ${ns(irq.timeNs)}: ${this.decode(irq)} by ${irq.initiator}`);
    const consumed = this.findAfter(request.index, TraceKind.MmioWrite, (r) => r.index < until && / PRIQ_CONS <- /.test(this.decode(r)));
    if (consumed !== undefined) rows.push(`consumed   #${consumed.index} at ${ns(consumed.timeNs)}: ${consumed.initiator} ${this.decode(consumed)} (software has read the request)`);
    rows.push(
      response !== undefined
        ? `answered   #${response.index} at ${ns(response.timeNs)}${command ? ` by #${command.index} ${this.decode(command)}` : ' (automatic: the SMMU answered itself, 8.1/8.2)'}: ${this.decode(response)}`
        : 'answered   not yet: software must send CMD_PRI_RESP for the group',
    );
    return { title: '', rows };
  }

  /** The STE and CD a stalled transaction was translated with: the SMMU's last fetches of them before it (later ones hit its configuration cache). */
  private configUsed(stall: TraceRecord): string[] {
    const cached = this.configCache.get(stall.index);
    if (cached !== undefined) return cached;
    const rows: string[] = [];
    const ste = this.findBefore(stall.index, TraceKind.ConfigFetch, (r) => r.aux === 0 && r.value === 0n && r.initiator === stall.initiator && r.sid === stall.sid);
    const cd = this.findBefore(stall.index, TraceKind.ConfigFetch, (r) => r.aux === 1 && r.value === 0n && r.initiator === stall.initiator && r.sid === stall.sid && r.ssid === stall.ssid);
    for (const [label, fetch, brief] of [
      ['STE', ste, steBrief],
      ['CD', cd, cdBrief],
    ] as const) {
      if (fetch === undefined) continue;
      const words = this.captured.get(fetch.index);
      rows.push(`${label.padEnd(10)} #${fetch.index} at ${hex(fetch.pa)}${words !== undefined ? `: ${brief(words)}` : ''}`);
    }
    if (ste === undefined && cd === undefined) rows.push('STE/CD     fetched before the records shown (select a cfg_fetch record for the fields)');
    this.configCache.set(stall.index, rows);
    return rows;
  }

  private related(r: TraceRecord): DetailSection | undefined {
    if (r.kind === TraceKind.Stall) return this.stallStory(r);
    if (r.kind === TraceKind.Event || r.kind === TraceKind.Fault) {
      const stall = this.findAfter(r.index - 8, TraceKind.Stall, (s) => s.sid === r.sid && s.aux === r.aux && s.index <= r.index + 8 && (r.kind === TraceKind.Fault || s.value === r.value));
      if (stall !== undefined) return this.stallStory(stall);
    }
    if (r.kind === TraceKind.Resume && r.aux !== 2) {
      const stall = this.findBefore(r.index, TraceKind.Stall, (s) => s.sid === r.sid && s.value === r.value);
      if (stall !== undefined) return this.stallStory(stall);
    }
    if (r.kind === TraceKind.PageRequest) return this.priStory(r);
    if (r.kind === TraceKind.PageResponse) {
      const request = this.findBefore(r.index, TraceKind.PageRequest, (q) => q.sid === r.sid && q.aux === r.aux);
      if (request !== undefined) return this.priStory(request);
    }
    if (r.kind === TraceKind.Command && initiatorRole(this.machine, r.initiator) === 'smmu' && r.aux === 0x41) {
      const response = this.findAfter(r.index, TraceKind.PageResponse, () => true);
      const request = response && this.findBefore(response.index, TraceKind.PageRequest, (q) => q.sid === response.sid && q.aux === response.aux);
      if (request !== undefined) return this.priStory(request);
    }
    if (r.kind === TraceKind.Command && initiatorRole(this.machine, r.initiator) === 'smmu' && r.aux === 0x44) {
      const resume = this.findAfter(r.index, TraceKind.Resume, () => true);
      if (resume !== undefined) {
        const stall = this.findBefore(resume.index, TraceKind.Stall, (s) => s.sid === resume.sid && s.value === resume.value);
        if (stall !== undefined) return this.stallStory(stall);
      }
    }
    return undefined;
  }

  // ---- copies of in-RAM structures, taken as their records are made ----

  private readRam(pa: number, bytes: number): Uint32Array | undefined {
    const bus = this.machine.bus;
    if (!bus.isRam(pa, bytes)) return undefined;
    const b = new Uint8Array(bytes);
    bus.ram.readInto(pa - bus.ram.base, b, 0, bytes);
    return new Uint32Array(b.buffer);
  }

  private capture(ring: TraceRing, index: number): void {
    if (this.pendingPri !== undefined) this.checkPendingPri();
    const kind = ring.kindAt(index);
    if (kind !== TraceKind.Command && kind !== TraceKind.Event && kind !== TraceKind.ConfigFetch && kind !== TraceKind.Completion && kind !== TraceKind.PageRequest) return;
    const r = ring.at(index);
    const role = initiatorRole(this.machine, r.initiator);
    let words: Uint32Array | undefined;
    switch (kind) {
      case TraceKind.Command:
        words = this.readRam(Number(r.pa), role === 'its' ? ITS_CMD_SIZE : CMD_BYTES);
        break;
      case TraceKind.Event:
        // the SMMU has just written the record at PROD and moved PROD past it
        if (role === 'smmu') {
          const q = smmuNamed(this.machine, r.initiator)?.evtq;
          if (q !== undefined) words = this.readRam(q.slotAddress((q.prod() - 1) & q.ptrMask()), EVT_BYTES);
        }
        break;
      case TraceKind.ConfigFetch:
        if (r.value === 0n) words = this.readRam(Number(r.pa), 64);
        break;
      case TraceKind.Completion:
        // the SQE address is an IOVA: the write-back of the SQE just before says where it went
        if (role === 'zip') words = this.readRam(this.writeBackPa(ring, index, r) ?? Number(r.pa), ZIP_SQE_BYTES);
        break;
      case TraceKind.PageRequest:
        // recorded by the function before the SMMU queues it: take the entry once PRIQ_PROD moves
        {
          const smmu = this.priSmmu();
          if (smmu !== undefined) this.pendingPri = { index, prod: smmu.priq.prod() };
        }
        break;
    }
    if (words !== undefined) this.captured.set(index, words);
  }

  /** PA of the latest DMA write by `r`'s initiator to `r.iova` among the few records before it. */
  private writeBackPa(ring: TraceRing, index: number, r: TraceRecord): number | undefined {
    for (let i = index - 1; i >= Math.max(ring.first, index - 32); i--) {
      if (ring.kindAt(i) !== TraceKind.DmaWrite) continue;
      const w = ring.at(i);
      if (w.initiator === r.initiator && w.iova === r.iova) return Number(w.pa);
    }
    return undefined;
  }

  /** The SMMU page requests go to (the board's, or the only one on a bare rig's bus). */
  private priSmmu(): SmmuV3 | undefined {
    if (this.machine instanceof Machine) return this.machine.smmu;
    const found = this.machine.bus.regionList.filter((r) => r.device instanceof SmmuV3);
    return found.length === 1 ? (found[0]!.device as SmmuV3) : undefined;
  }

  private checkPendingPri(): void {
    const p = this.pendingPri;
    if (p === undefined) return;
    const q = this.priSmmu()?.priq;
    if (q === undefined) return;
    if (q.prod() === p.prod) return;
    this.pendingPri = undefined;
    const words = this.readRam(q.slotAddress(p.prod), PRI_BYTES);
    if (words !== undefined) this.captured.set(p.index, words);
  }
}
