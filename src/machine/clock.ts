// The one virtual clock of the machine and its deterministic event queue.
// Time is a Number of nanoseconds (exact to 2^53 ns, about 104 days). Events fire in
// (time, sequence) order, so two runs with the same inputs interleave identically.

export type EventCallback = (nowNs: number) => void;

/** A handle to a scheduled event; cancel() makes it a no-op. */
export interface ScheduledEvent {
  readonly atNs: number;
  readonly label: string;
  cancel(): void;
  readonly cancelled: boolean;
}

class QueuedEvent implements ScheduledEvent {
  cancelled = false;
  constructor(
    readonly atNs: number,
    readonly seq: number,
    readonly label: string,
    readonly callback: EventCallback,
  ) {}
  cancel(): void {
    this.cancelled = true;
  }
}

function before(a: QueuedEvent, b: QueuedEvent): boolean {
  return a.atNs < b.atNs || (a.atNs === b.atNs && a.seq < b.seq);
}

/** Binary min-heap on (atNs, seq). */
export class EventQueue {
  private heap: QueuedEvent[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(atNs: number, label: string, callback: EventCallback): ScheduledEvent {
    const ev = new QueuedEvent(atNs, this.seq++, label, callback);
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(ev, h[parent]!)) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = ev;
    return ev;
  }

  /** Time of the earliest live event, or Infinity. Drops cancelled events at the head. */
  peekTime(): number {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.popHead();
    return this.heap.length > 0 ? this.heap[0]!.atNs : Infinity;
  }

  /** Removes and returns the earliest live event. */
  pop(): QueuedEvent | undefined {
    while (this.heap.length > 0) {
      const ev = this.popHead();
      if (!ev.cancelled) return ev;
    }
    return undefined;
  }

  private popHead(): QueuedEvent {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      const n = h.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && before(h[r]!, h[l]!) ? r : l;
        if (!before(h[c]!, last)) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}

/**
 * The machine clock. Hardware models schedule work with `schedule`/`after`; the
 * machine loop (`Machine.run`) pops events in order and advances `now`.
 * Guest CPU time is charged by the cores through `advanceTo`, which first fires every
 * hardware event that falls due on the way, so a guest spinning on memory sees
 * device completions.
 */
export class Clock {
  private nowNs = 0;
  readonly events = new EventQueue();
  private firing = false;

  now(): number {
    return this.nowNs;
  }

  /** Schedules `callback` at absolute time `atNs` (clamped to now). */
  schedule(atNs: number, label: string, callback: EventCallback): ScheduledEvent {
    return this.events.push(atNs < this.nowNs ? this.nowNs : atNs, label, callback);
  }

  /** Schedules `callback` `delayNs` from now. */
  after(delayNs: number, label: string, callback: EventCallback): ScheduledEvent {
    return this.schedule(this.nowNs + (delayNs > 0 ? delayNs : 0), label, callback);
  }

  /** Time of the next pending event, or Infinity when idle. */
  nextEventTime(): number {
    return this.events.peekTime();
  }

  /**
   * Fires the next event if it is due at or before `limitNs`; returns false when there
   * is none. The clock moves to the event's time.
   */
  fireNext(limitNs = Infinity): boolean {
    if (this.events.peekTime() > limitNs) return false;
    const ev = this.events.pop();
    if (!ev) return false;
    if (ev.atNs > this.nowNs) this.nowNs = ev.atNs;
    ev.callback(this.nowNs);
    return true;
  }

  /**
   * Moves time forward to `targetNs`, firing every event due on the way. Re-entrant
   * calls (an event handler charging time) only move the clock.
   */
  advanceTo(targetNs: number): void {
    if (targetNs <= this.nowNs) return;
    if (this.firing) {
      this.nowNs = targetNs;
      return;
    }
    this.firing = true;
    try {
      while (this.events.peekTime() <= targetNs) this.fireNext(targetNs);
      if (targetNs > this.nowNs) this.nowNs = targetNs;
    } finally {
      this.firing = false;
    }
  }

  /** Charges `ns` of time from now (see advanceTo). */
  advance(ns: number): void {
    if (ns > 0) this.advanceTo(this.nowNs + ns);
  }
}
