// High-resolution timers (kernel/time/hrtimer.c in shape): per-core lists of timers
// ordered by expiry; the earliest is programmed into the core's clock event device
// (the arch timer's CNTV comparator). Callbacks run in hard-IRQ context: they must
// not block (they wake tasks).

import { thisCpu } from '../../arch/index.js';

/** A clock event device as the timer core programs it (one per core). */
export interface ClockEventDevice {
  readonly name: string;
  /** Programs the next interrupt at absolute time `ns` (ktime), or stops it with Infinity. */
  set_next_ktime(ns: number): void;
}

/** The clock source: monotonic ns since boot (ktime_get). */
export interface ClockSource {
  readonly name: string;
  read_ns(): number;
}

const cpuClockSource: ClockSource = { name: 'cpu', read_ns: () => thisCpu().now() };
let clocksource: ClockSource = cpuClockSource;
let clockevents: (ClockEventDevice | undefined)[] = [];
let bases: HrTimer[][] = [];
let seq = 0;

export class HrTimer {
  expires = Infinity;
  cpu = -1;
  queued = false;
  readonly order: number;
  constructor(readonly fn: (timer: HrTimer) => void) {
    this.order = seq++;
  }
  now(): number {
    return ktime_get();
  }
}

export function hrtimers_init(nrCpus: number): void {
  clocksource = cpuClockSource;
  clockevents = new Array<ClockEventDevice | undefined>(nrCpus).fill(undefined);
  bases = [];
  for (let i = 0; i < nrCpus; i++) bases.push([]);
}

export function clocksource_register(cs: ClockSource): void {
  clocksource = cs;
}

export function clockevents_register_device(cpu: number, dev: ClockEventDevice): void {
  clockevents[cpu] = dev;
  reprogram(cpu);
}

export function current_clocksource(): ClockSource {
  return clocksource;
}

/** Monotonic time in ns since the counter started (CLOCK_MONOTONIC). */
export function ktime_get(): number {
  return clocksource.read_ns();
}

function reprogram(cpu: number): void {
  const dev = clockevents[cpu];
  if (dev === undefined) return;
  const list = bases[cpu];
  dev.set_next_ktime(list !== undefined && list.length > 0 ? list[0]!.expires : Infinity);
}

/** Arms `timer` at absolute time `expires` on this core. */
export function hrtimer_start(timer: HrTimer, expires: number): void {
  if (timer.queued) hrtimer_cancel(timer);
  const cpu = thisCpu().id;
  const list = bases[cpu];
  if (list === undefined) throw new Error('hrtimer_start: hrtimers_init has not run for this core');
  timer.expires = expires;
  timer.cpu = cpu;
  timer.queued = true;
  let i = list.length;
  while (i > 0 && (list[i - 1]!.expires > expires || (list[i - 1]!.expires === expires && list[i - 1]!.order > timer.order))) i--;
  list.splice(i, 0, timer);
  if (i === 0) reprogram(cpu);
}

/** Arms `timer` `deltaNs` from now; returns the absolute expiry. */
export function hrtimer_start_ns(timer: HrTimer, deltaNs: number): number {
  const expires = ktime_get() + Math.max(0, deltaNs);
  hrtimer_start(timer, expires);
  return expires;
}

export function hrtimer_cancel(timer: HrTimer): boolean {
  if (!timer.queued) return false;
  const list = bases[timer.cpu];
  timer.queued = false;
  if (list === undefined) return false;
  const i = list.indexOf(timer);
  if (i >= 0) list.splice(i, 1);
  if (i === 0) reprogram(timer.cpu);
  return true;
}

export function hrtimer_active(timer: HrTimer): boolean {
  return timer.queued;
}

/** hrtimer_interrupt: runs every expired timer of this core, then reprograms the device. */
export function hrtimer_interrupt(): void {
  const cpu = thisCpu().id;
  const list = bases[cpu];
  if (list === undefined) return;
  const now = ktime_get();
  while (list.length > 0 && list[0]!.expires <= now) {
    const t = list.shift()!;
    t.queued = false;
    t.fn(t);
  }
  reprogram(cpu);
}

/** Next expiry on a core (for tests and /proc/timer_list). */
export function hrtimer_next_expiry(cpu: number): number {
  const list = bases[cpu];
  return list !== undefined && list.length > 0 ? list[0]!.expires : Infinity;
}
