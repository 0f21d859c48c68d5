// The bus-trace ring: fixed-size typed arrays, no allocation per record.
// Producers guard every call with `if (trace.on)` so the cost is one branch when
// nobody listens.

import { TraceKind, type TraceRecord } from './record.js';
import type { Clock } from '../machine/clock.js';

const WORDS = 12;
// word layout of one record
const W_KIND = 0; // kind | initiator << 16
const W_SID = 1;
const W_SSID = 2; // ssid + 1 (0 = no substream)
const W_IOVA_LO = 3;
const W_IOVA_HI = 4;
const W_PA_LO = 5;
const W_PA_HI = 6;
const W_SIZE = 7;
const W_VAL_LO = 8;
const W_VAL_HI = 9;
const W_AUX = 10;

export type TraceListener = (ring: TraceRing, index: number) => void;

/** No stream / substream. */
export const NO_SID = 0xffffffff;
export const NO_SSID = -1;

export class TraceRing {
  /** True when something records: set by `enable()` or by a subscriber. */
  on = false;
  private recording = false;
  private readonly words: Uint32Array;
  private readonly times: Float64Array;
  private readonly capacity: number;
  private count = 0;
  private readonly initiators: string[] = [];
  private readonly initiatorIds = new Map<string, number>();
  private readonly listeners: TraceListener[] = [];

  constructor(
    private readonly clock: Clock,
    capacity = 1 << 16,
  ) {
    this.capacity = capacity;
    this.words = new Uint32Array(capacity * WORDS);
    this.times = new Float64Array(capacity);
  }

  /** Starts recording into the ring (listeners turn it on too). */
  enable(): void {
    this.recording = true;
    this.on = true;
  }

  disable(): void {
    this.recording = false;
    this.on = this.listeners.length > 0;
  }

  /** Registers a bus master or device name; the id goes into records. */
  initiatorId(name: string): number {
    let id = this.initiatorIds.get(name);
    if (id === undefined) {
      id = this.initiators.length;
      this.initiators.push(name);
      this.initiatorIds.set(name, id);
    }
    return id;
  }

  initiatorName(id: number): string {
    return this.initiators[id] ?? `?${id}`;
  }

  /** Called for every new record while subscribed. Returns an unsubscribe function. */
  subscribe(listener: TraceListener): () => void {
    this.listeners.push(listener);
    this.on = true;
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
      this.on = this.recording || this.listeners.length > 0;
    };
  }

  /**
   * Appends a record. 64-bit quantities are passed as Numbers (exact below 2^53, which
   * covers 52-bit addresses); `valueHi` carries the top half of a 64-bit data value.
   */
  record(
    kind: TraceKind,
    initiator: number,
    sid: number,
    ssid: number,
    iova: number,
    pa: number,
    size: number,
    value: number,
    aux = 0,
    valueHi = 0,
  ): void {
    const slot = this.count % this.capacity;
    const w = this.words;
    const b = slot * WORDS;
    w[b + W_KIND] = kind | (initiator << 16);
    w[b + W_SID] = sid;
    w[b + W_SSID] = ssid + 1;
    w[b + W_IOVA_LO] = iova >>> 0;
    w[b + W_IOVA_HI] = Math.floor(iova / 4294967296) >>> 0;
    w[b + W_PA_LO] = pa >>> 0;
    w[b + W_PA_HI] = Math.floor(pa / 4294967296) >>> 0;
    w[b + W_SIZE] = size;
    w[b + W_VAL_LO] = value >>> 0;
    w[b + W_VAL_HI] = valueHi !== 0 ? valueHi >>> 0 : Math.floor(value / 4294967296) >>> 0;
    w[b + W_AUX] = aux >>> 0;
    this.times[slot] = this.clock.now();
    const index = this.count++;
    for (let i = 0; i < this.listeners.length; i++) this.listeners[i]!(this, index);
  }

  /** Total records ever appended. */
  get total(): number {
    return this.count;
  }

  /** Index of the oldest record still in the ring. */
  get first(): number {
    return this.count > this.capacity ? this.count - this.capacity : 0;
  }

  kindAt(index: number): TraceKind {
    return (this.words[(index % this.capacity) * WORDS + W_KIND]! & 0xffff) as TraceKind;
  }

  /** Decodes the record at `index` (must be within [first, total)). */
  at(index: number): TraceRecord {
    if (index < this.first || index >= this.count) {
      throw new RangeError(`trace record ${index} is not in the ring [${this.first}, ${this.count})`);
    }
    const slot = index % this.capacity;
    const w = this.words;
    const b = slot * WORDS;
    const pair = (lo: number, hi: number) => (BigInt(w[b + hi]!) << 32n) | BigInt(w[b + lo]!);
    return {
      index,
      timeNs: this.times[slot]!,
      kind: (w[b + W_KIND]! & 0xffff) as TraceKind,
      initiator: this.initiatorName(w[b + W_KIND]! >>> 16),
      sid: w[b + W_SID]!,
      ssid: w[b + W_SSID]! - 1,
      iova: pair(W_IOVA_LO, W_IOVA_HI),
      pa: pair(W_PA_LO, W_PA_HI),
      size: w[b + W_SIZE]!,
      value: pair(W_VAL_LO, W_VAL_HI),
      aux: w[b + W_AUX]!,
    };
  }

  /** Records in [from, total) that are still in the ring, oldest first. */
  *records(from = 0): IterableIterator<TraceRecord> {
    for (let i = Math.max(from, this.first); i < this.count; i++) yield this.at(i);
  }

  /** FNV-1a over every live record: the determinism fingerprint. */
  hash(): string {
    let h = 0x811c9dc5;
    for (let i = this.first; i < this.count; i++) {
      const b = (i % this.capacity) * WORDS;
      for (let k = 0; k < WORDS; k++) {
        h ^= this.words[b + k]!;
        h = Math.imul(h, 0x01000193) >>> 0;
      }
      const t = this.times[i % this.capacity]!;
      h ^= t >>> 0;
      h = Math.imul(h, 0x01000193) >>> 0;
      h ^= Math.floor(t / 4294967296) >>> 0;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h.toString(16).padStart(8, '0');
  }

  /** Forgets all records (initiator names stay registered). */
  clear(): void {
    this.count = 0;
  }
}
