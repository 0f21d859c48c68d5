// Sleeping for a time (kernel/time/timer.c schedule_timeout, msleep; hrtimer_nanosleep).

import { current, schedule, try_to_wake_up } from '../sched/core.js';
import { TASK_INTERRUPTIBLE, TASK_NORMAL, TASK_UNINTERRUPTIBLE } from '../sched/task.js';
import { HrTimer, hrtimer_cancel, hrtimer_start, ktime_get } from './hrtimer.js';
import { signal_pending } from '../kernel/signal.js';

/**
 * schedule_timeout: sleeps in the state the caller set for up to `ns`; returns the ns
 * left (0 when the time ran out). MAX_SCHEDULE_TIMEOUT is Infinity.
 */
export function* schedule_timeout(ns: number): Generator<unknown, number, unknown> {
  const task = current();
  if (ns === Infinity) {
    yield* schedule();
    return Infinity;
  }
  const expires = ktime_get() + Math.max(0, ns);
  const timer = new HrTimer(() => {
    try_to_wake_up(task, TASK_NORMAL);
  });
  hrtimer_start(timer, expires);
  yield* schedule();
  hrtimer_cancel(timer);
  return Math.max(0, expires - ktime_get());
}

export function* schedule_timeout_uninterruptible(ns: number): Generator<unknown, number, unknown> {
  current().state = TASK_UNINTERRUPTIBLE;
  return yield* schedule_timeout(ns);
}

export function* schedule_timeout_interruptible(ns: number): Generator<unknown, number, unknown> {
  current().state = TASK_INTERRUPTIBLE;
  return yield* schedule_timeout(ns);
}

/** msleep: sleeps at least `ms` milliseconds, not woken by signals. */
export function* msleep(ms: number): Generator<unknown, void, unknown> {
  let left = ms * 1_000_000;
  while (left > 0) left = yield* schedule_timeout_uninterruptible(left);
}

export function* usleep(us: number): Generator<unknown, void, unknown> {
  let left = us * 1000;
  while (left > 0) left = yield* schedule_timeout_uninterruptible(left);
}

/** msleep_interruptible: returns the ms left when a signal woke it early. */
export function* msleep_interruptible(ms: number): Generator<unknown, number, unknown> {
  let left = ms * 1_000_000;
  while (left > 0 && !signal_pending(current())) left = yield* schedule_timeout_interruptible(left);
  return Math.ceil(left / 1_000_000);
}

/** hrtimer_nanosleep: interruptible sleep until an absolute time; ns left (0 when done). */
export function* nanosleep_until(deadline: number): Generator<unknown, number, unknown> {
  const task = current();
  for (;;) {
    const left = deadline - ktime_get();
    if (left <= 0) return 0;
    if (signal_pending(task)) return left;
    yield* schedule_timeout_interruptible(left);
  }
}
