// The stall model (IHI 0070 3.12.2): a faulting transaction of a stall-enabled stream
// is held, its event is recorded with Stall = 1 and a Stall Tag, and it waits for
// CMD_RESUME (retry or terminate) or CMD_STALL_TERM. The table is bounded by
// SMMU_IDR5.STALL_MAX; a STAG is not reused until its transaction has been resumed or
// terminated (4.7.1).

import type { DmaPort } from '../bus/dma.js';
import { EventRecord } from './evtq.js';

export class StallEntry {
  inUse = false;
  sid = 0;
  stag = 0;
  ssid = -1;
  iova = 0;
  port: DmaPort | undefined;
  /** The stall event, kept until the Event queue is writable (7.2.1). */
  readonly event = new EventRecord();
  eventPending = false;
}

export class StallTable {
  readonly entries: StallEntry[];
  /** Held transactions whose stall record is not in the Event queue yet. */
  eventsPending = 0;
  private nextStag = 0;

  constructor(readonly capacity: number) {
    this.entries = Array.from({ length: capacity }, () => new StallEntry());
  }

  get outstanding(): number {
    let n = 0;
    for (const e of this.entries) if (e.inUse) n++;
    return n;
  }

  /**
   * Holds a transaction; returns its entry (with a fresh STAG unique among
   * outstanding stalls), or undefined when STALL_MAX transactions are already held.
   */
  hold(port: DmaPort, ev: EventRecord): StallEntry | undefined {
    const free = this.entries.find((e) => !e.inUse);
    if (free === undefined) return undefined;
    let stag = this.nextStag;
    while (this.entries.some((e) => e.inUse && e.stag === stag)) stag = (stag + 1) & 0xffff;
    this.nextStag = (stag + 1) & 0xffff;
    free.inUse = true;
    free.sid = ev.sid;
    free.stag = stag;
    free.ssid = ev.ssv ? ev.ssid : -1;
    free.iova = ev.inputAddr;
    free.port = port;
    free.event.copyFrom(ev);
    free.event.stall = true;
    free.event.stag = stag;
    free.eventPending = true;
    this.eventsPending++;
    return free;
  }

  /** The outstanding stall of `sid` tagged `stag` (4.7.1: both must match). */
  find(sid: number, stag: number): StallEntry | undefined {
    return this.entries.find((e) => e.inUse && e.sid === sid && e.stag === stag);
  }

  /** The entry's stall record has been written to the Event queue. */
  eventDelivered(e: StallEntry): void {
    if (!e.eventPending) return;
    e.eventPending = false;
    this.eventsPending--;
  }

  /** Releases an entry and returns its port (the caller ends the stall on it). */
  release(e: StallEntry): DmaPort | undefined {
    const port = e.port;
    this.eventDelivered(e);
    e.inUse = false;
    e.port = undefined;
    return port;
  }

  /** Releases every stall of `sid` (or all when sid < 0); returns the ports in STAG order of holding. */
  releaseAll(sid: number): DmaPort[] {
    const ports: DmaPort[] = [];
    for (const e of this.entries) {
      if (!e.inUse || (sid >= 0 && e.sid !== sid)) continue;
      const p = this.release(e);
      if (p !== undefined) ports.push(p);
    }
    return ports;
  }
}
