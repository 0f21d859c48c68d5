// struct mutex (kernel/locking/mutex.c): a sleeping lock with an owner. Only tasks
// take it (never an interrupt handler). Waiters queue FIFO, so hand-over order is
// deterministic.

import { current } from '../sched/core.js';
import { TASK_UNINTERRUPTIBLE, type TaskStruct } from '../sched/task.js';
import { ___wait_event, WaitQueueHead, wake_up } from '../sched/wait.js';
import { TASK_INTERRUPTIBLE } from '../sched/task.js';

export class Mutex {
  owner: TaskStruct | null = null;
  readonly wait = new WaitQueueHead('mutex');
  constructor(readonly name = 'mutex') {}
}

export function* mutex_lock(m: Mutex): Generator<unknown, void, unknown> {
  const me = current();
  if (m.owner === me) throw new Error(`mutex_lock: ${m.name} already held by ${me.comm}/${me.pid} (recursive locking is a kernel bug)`);
  yield* ___wait_event(m.wait, () => m.owner === null, TASK_UNINTERRUPTIBLE, true);
  m.owner = me;
}

/** Returns 0 with the lock held, or -ERESTARTSYS when a signal arrived first. */
export function* mutex_lock_interruptible(m: Mutex): Generator<unknown, number, unknown> {
  const me = current();
  const r = yield* ___wait_event(m.wait, () => m.owner === null, TASK_INTERRUPTIBLE, true);
  if (r < 0) return r;
  m.owner = me;
  return 0;
}

export function mutex_trylock(m: Mutex): boolean {
  if (m.owner !== null) return false;
  m.owner = current();
  return true;
}

export function mutex_unlock(m: Mutex): void {
  m.owner = null;
  wake_up(m.wait);
}

export function mutex_is_locked(m: Mutex): boolean {
  return m.owner !== null;
}
