// Fast user-space mutexes (kernel/futex/{core,waitwake,syscalls}.c in shape): FUTEX_WAIT
// sleeps while the 32-bit word at uaddr still holds `val`; FUTEX_WAKE wakes up to `nr`
// sleepers. Private futexes are keyed by (mm, address), shared ones by the physical
// address the word translates to. Thread exit clears clear_child_tid and wakes one
// waiter, which is how pthread_join learns a thread is gone.

import { thisCpu } from '../../arch/index.js';
import { registerSyscall, sys_int, sys_uint } from '../syscalls/table.js';
import { __NR_futex } from '../syscalls/numbers.js';
import { EAGAIN, EFAULT, EINVAL, ENOSYS, ERESTARTSYS, ETIMEDOUT } from '../lib/errno.js';
import { get_user, put_user } from '../lib/uaccess.js';
import { current, schedule, try_to_wake_up } from '../sched/core.js';
import { TASK_INTERRUPTIBLE, TASK_NORMAL, TASK_RUNNING, type TaskStruct } from '../sched/task.js';
import { HrTimer, hrtimer_cancel, hrtimer_start, ktime_get } from '../time/hrtimer.js';
import { signal_pending } from './signal.js';
import { get_timespec_ns } from '../fs/select.js';

export const FUTEX_WAIT = 0;
export const FUTEX_WAKE = 1;
export const FUTEX_WAIT_BITSET = 9;
export const FUTEX_WAKE_BITSET = 10;
export const FUTEX_PRIVATE_FLAG = 128;
export const FUTEX_CLOCK_REALTIME = 256;
export const FUTEX_BITSET_MATCH_ANY = 0xffffffff;

interface FutexQ {
  task: TaskStruct;
  bitset: number;
  woken: boolean;
}

let hash = new Map<string, FutexQ[]>();

export function futex_init(): void {
  hash = new Map();
}

/** get_futex_key: "m<mm id>:<va>" for private futexes, "p<pa>" for shared ones. */
function get_futex_key(uaddr: number, priv: boolean): string | number {
  if (uaddr % 4 !== 0) return -EINVAL;
  const mm = current().mm;
  if (mm === null) return -EFAULT;
  if (priv) return `m${mm.id}:${uaddr}`;
  const t = thisCpu().at(uaddr, { unprivileged: true });
  if (!('pa' in t)) return get_user(uaddr, 4) === undefined ? -EFAULT : get_futex_key(uaddr, priv);
  return `p${t.pa}`;
}

function* futex_wait(uaddr: number, priv: boolean, val: number, deadline: number, bitset: number): Generator<unknown, number, unknown> {
  if (bitset === 0) return -EINVAL;
  const key = get_futex_key(uaddr, priv);
  if (typeof key === 'number') return key;
  const cur = get_user(uaddr, 4);
  if (cur === undefined) return -EFAULT;
  if (cur >>> 0 !== val >>> 0) return -EAGAIN;
  const task = current();
  const q: FutexQ = { task, bitset, woken: false };
  const list = hash.get(key) ?? [];
  list.push(q);
  hash.set(key, list);
  let timer: HrTimer | undefined;
  if (deadline !== Infinity) {
    timer = new HrTimer(() => try_to_wake_up(task, TASK_NORMAL));
    hrtimer_start(timer, deadline);
  }
  let ret = 0;
  for (;;) {
    task.state = TASK_INTERRUPTIBLE;
    if (q.woken) break;
    if (signal_pending(task)) {
      ret = -ERESTARTSYS;
      break;
    }
    if (ktime_get() >= deadline) {
      ret = -ETIMEDOUT;
      break;
    }
    yield* schedule();
  }
  task.state = TASK_RUNNING;
  if (timer) hrtimer_cancel(timer);
  if (!q.woken) {
    const l = hash.get(key);
    if (l) {
      const i = l.indexOf(q);
      if (i >= 0) l.splice(i, 1);
      if (l.length === 0) hash.delete(key);
    }
  }
  return q.woken ? 0 : ret;
}

/** futex_wake: wakes up to `nr` waiters whose bitset matches; returns how many. */
export function futex_wake(uaddr: number, priv: boolean, nr: number, bitset = FUTEX_BITSET_MATCH_ANY): number {
  if (bitset === 0) return -EINVAL;
  const key = get_futex_key(uaddr, priv);
  if (typeof key === 'number') return key;
  const list = hash.get(key);
  if (list === undefined) return 0;
  let n = 0;
  for (let i = 0; i < list.length && n < nr; ) {
    const q = list[i]!;
    if ((q.bitset & bitset) === 0) {
      i++;
      continue;
    }
    list.splice(i, 1);
    q.woken = true;
    try_to_wake_up(q.task, TASK_NORMAL);
    n++;
  }
  if (list.length === 0) hash.delete(key);
  return n;
}

/** mm_release's CLONE_CHILD_CLEARTID part: *clear_child_tid = 0 and wake one waiter. */
export function futex_exit_release(task: TaskStruct): void {
  const tid = task.clear_child_tid;
  if (tid === 0 || task.mm === null) return;
  task.clear_child_tid = 0;
  if (put_user(0, tid, 4) === 0) futex_wake(tid, false, 1);
}

function* sys_futex(uaddr: number, op: number, val: number, utime: number, _uaddr2: number, val3: number): Generator<unknown, number, unknown> {
  const o = sys_int(op);
  const priv = (o & FUTEX_PRIVATE_FLAG) !== 0;
  const cmd = o & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
  switch (cmd) {
    case FUTEX_WAIT:
    case FUTEX_WAIT_BITSET: {
      let deadline = Infinity;
      if (utime !== 0) {
        const ns = get_timespec_ns(utime);
        if (ns < 0) return ns;
        // FUTEX_WAIT takes a relative timeout; FUTEX_WAIT_BITSET an absolute CLOCK_MONOTONIC one.
        deadline = cmd === FUTEX_WAIT ? ktime_get() + ns : ns;
      }
      return yield* futex_wait(uaddr, priv, sys_uint(val), deadline, cmd === FUTEX_WAIT ? FUTEX_BITSET_MATCH_ANY : sys_uint(val3));
    }
    case FUTEX_WAKE:
    case FUTEX_WAKE_BITSET:
      return futex_wake(uaddr, priv, Math.max(0, sys_int(val)), cmd === FUTEX_WAKE ? FUTEX_BITSET_MATCH_ANY : sys_uint(val3));
    default:
      return -ENOSYS;
  }
}

registerSyscall(__NR_futex, 'futex', sys_futex);
