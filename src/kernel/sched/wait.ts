// Wait queues and completions (kernel/sched/wait.c, completion.c). A waiter sets its
// state, re-checks the condition and yields to the scheduler; wake_up() makes every
// non-exclusive waiter (and one exclusive waiter) runnable again. Top halves may call
// wake_up: it only changes run queues.

import { current, schedule, try_to_wake_up } from './core.js';
import { TASK_INTERRUPTIBLE, TASK_NORMAL, TASK_UNINTERRUPTIBLE, TASK_KILLABLE, TASK_RUNNING, type TaskStruct } from './task.js';
import { ERESTARTSYS } from '../lib/errno.js';
import { signal_pending, fatal_signal_pending } from '../kernel/signal.js';
import { hrtimer_cancel, hrtimer_start_ns, HrTimer } from '../time/hrtimer.js';

export const WQ_FLAG_EXCLUSIVE = 0x01;

export type WaitFunc = (entry: WaitQueueEntry, mode: number, key: number) => boolean;

export class WaitQueueEntry {
  flags = 0;
  queued = false;
  constructor(
    readonly task: TaskStruct | null,
    readonly func: WaitFunc = default_wake_function,
    /** Opaque owner data (poll table entries keep their poll_wqueues here). */
    readonly priv: unknown = undefined,
  ) {}
}

export function default_wake_function(entry: WaitQueueEntry, mode: number): boolean {
  return entry.task !== null && try_to_wake_up(entry.task, mode);
}

export class WaitQueueHead {
  readonly head: WaitQueueEntry[] = [];
  constructor(readonly name = '') {}
  get active(): boolean {
    return this.head.length > 0;
  }
}

export function add_wait_queue(wq: WaitQueueHead, entry: WaitQueueEntry): void {
  if (entry.queued) return;
  entry.queued = true;
  if (entry.flags & WQ_FLAG_EXCLUSIVE) wq.head.push(entry);
  else wq.head.unshift(entry);
}

export function remove_wait_queue(wq: WaitQueueHead, entry: WaitQueueEntry): void {
  if (!entry.queued) return;
  const i = wq.head.indexOf(entry);
  if (i >= 0) wq.head.splice(i, 1);
  entry.queued = false;
}

export function prepare_to_wait(wq: WaitQueueHead, entry: WaitQueueEntry, state: number): void {
  add_wait_queue(wq, entry);
  current().state = state;
}

export function prepare_to_wait_exclusive(wq: WaitQueueHead, entry: WaitQueueEntry, state: number): void {
  entry.flags |= WQ_FLAG_EXCLUSIVE;
  add_wait_queue(wq, entry);
  current().state = state;
}

export function finish_wait(wq: WaitQueueHead, entry: WaitQueueEntry): void {
  current().state = TASK_RUNNING;
  remove_wait_queue(wq, entry);
}

/** __wake_up: wakes all non-exclusive waiters and up to `nrExclusive` exclusive ones. */
export function __wake_up(wq: WaitQueueHead, mode: number, nrExclusive: number, key = 0): void {
  // Copy: a wake function may remove its own entry.
  const list = wq.head.slice();
  let excl = nrExclusive;
  for (const e of list) {
    const woke = e.func(e, mode, key);
    if (woke && e.flags & WQ_FLAG_EXCLUSIVE && --excl === 0) break;
  }
}

export function wake_up(wq: WaitQueueHead): void {
  __wake_up(wq, TASK_NORMAL, 1);
}

export function wake_up_all(wq: WaitQueueHead): void {
  __wake_up(wq, TASK_NORMAL, 0);
}

export function wake_up_interruptible(wq: WaitQueueHead): void {
  __wake_up(wq, TASK_INTERRUPTIBLE, 1);
}

/** wake_up_poll: wakes with a poll key (EPOLLIN...), as pollers filter on it. */
export function wake_up_poll(wq: WaitQueueHead, key: number): void {
  __wake_up(wq, TASK_NORMAL, 1, key);
}

/**
 * ___wait_event: waits until `cond()` holds. Returns 0, or -ERESTARTSYS when a signal
 * interrupted an interruptible (or a fatal one a killable) wait.
 */
export function* ___wait_event(wq: WaitQueueHead, cond: () => boolean, state: number, exclusive = false): Generator<unknown, number, unknown> {
  if (cond()) return 0;
  const entry = new WaitQueueEntry(current());
  if (exclusive) entry.flags |= WQ_FLAG_EXCLUSIVE;
  let ret = 0;
  for (;;) {
    prepare_to_wait(wq, entry, state);
    if (cond()) break;
    if (state & TASK_INTERRUPTIBLE && signal_pending(current())) {
      ret = -ERESTARTSYS;
      break;
    }
    if (state === TASK_KILLABLE && fatal_signal_pending(current())) {
      ret = -ERESTARTSYS;
      break;
    }
    yield* schedule();
  }
  finish_wait(wq, entry);
  return ret;
}

export function* wait_event(wq: WaitQueueHead, cond: () => boolean): Generator<unknown, void, unknown> {
  yield* ___wait_event(wq, cond, TASK_UNINTERRUPTIBLE);
}

export function wait_event_interruptible(wq: WaitQueueHead, cond: () => boolean): Generator<unknown, number, unknown> {
  return ___wait_event(wq, cond, TASK_INTERRUPTIBLE);
}

export function wait_event_killable(wq: WaitQueueHead, cond: () => boolean): Generator<unknown, number, unknown> {
  return ___wait_event(wq, cond, TASK_KILLABLE);
}

/**
 * wait_event_interruptible_timeout: >0 (ns left, at least 1) when the condition became
 * true, 0 on timeout, -ERESTARTSYS on a signal.
 */
export function* wait_event_interruptible_timeout(wq: WaitQueueHead, cond: () => boolean, timeoutNs: number, state = TASK_INTERRUPTIBLE): Generator<unknown, number, unknown> {
  if (cond()) return Math.max(1, timeoutNs);
  const task = current();
  const entry = new WaitQueueEntry(task);
  let expired = false;
  const timer = new HrTimer(() => {
    expired = true;
    try_to_wake_up(task, TASK_NORMAL);
  });
  const deadline = hrtimer_start_ns(timer, timeoutNs);
  let ret = 0;
  for (;;) {
    prepare_to_wait(wq, entry, state);
    if (cond()) {
      ret = 1;
      break;
    }
    if (state & TASK_INTERRUPTIBLE && signal_pending(task)) {
      ret = -ERESTARTSYS;
      break;
    }
    if (expired) break;
    yield* schedule();
  }
  finish_wait(wq, entry);
  hrtimer_cancel(timer);
  if (ret === 1) ret = Math.max(1, deadline - timer.now());
  return ret;
}

export class Completion {
  done = 0;
  readonly wait = new WaitQueueHead('completion');
}

export function complete(c: Completion): void {
  if (c.done !== Infinity) c.done++;
  __wake_up(c.wait, TASK_NORMAL, 1);
}

export function complete_all(c: Completion): void {
  c.done = Infinity;
  __wake_up(c.wait, TASK_NORMAL, 0);
}

export function* wait_for_completion(c: Completion): Generator<unknown, void, unknown> {
  yield* ___wait_event(c.wait, () => c.done > 0, TASK_UNINTERRUPTIBLE, true);
  if (c.done !== Infinity) c.done--;
}

export function* wait_for_completion_interruptible(c: Completion): Generator<unknown, number, unknown> {
  const r = yield* ___wait_event(c.wait, () => c.done > 0, TASK_INTERRUPTIBLE, true);
  if (r < 0) return r;
  if (c.done !== Infinity) c.done--;
  return 0;
}

/** wait_for_completion_timeout: ns left (>0) or 0 on timeout. */
export function* wait_for_completion_timeout(c: Completion, timeoutNs: number): Generator<unknown, number, unknown> {
  const r = yield* wait_event_interruptible_timeout(c.wait, () => c.done > 0, timeoutNs, TASK_UNINTERRUPTIBLE);
  if (r > 0 && c.done !== Infinity) c.done--;
  return r > 0 ? r : 0;
}

export function reinit_completion(c: Completion): void {
  c.done = 0;
}
