// poll/ppoll (fs/select.c): each file's ->poll registers the caller on its wait
// queues through the poll table; the caller sleeps until a queue wakes it, the
// timeout passes or a signal arrives, then polls again.

import { registerSyscall, sys_uint } from '../syscalls/table.js';
import { __NR_ppoll } from '../syscalls/numbers.js';
import { EFAULT, EINTR, EINVAL } from '../lib/errno.js';
import { copy_from_user, copy_to_user } from '../lib/uaccess.js';
import { current, schedule, try_to_wake_up } from '../sched/core.js';
import { RLIMIT_NOFILE, TASK_INTERRUPTIBLE, TASK_NORMAL, TASK_RUNNING, rlimit, type TaskStruct } from '../sched/task.js';
import { WaitQueueEntry, add_wait_queue, remove_wait_queue, type WaitQueueHead } from '../sched/wait.js';
import { HrTimer, hrtimer_cancel, hrtimer_start, ktime_get } from '../time/hrtimer.js';
import { signal_pending } from '../kernel/signal.js';
import { fd_file } from './file.js';
import { DEFAULT_POLLMASK, EPOLLERR, EPOLLHUP, EPOLLNVAL, type File, type PollTable } from './types.js';

/** struct poll_wqueues: the wait entries one poll call registered, and whether one fired. */
export class PollWqueues implements PollTable {
  _key = ~0;
  triggered = false;
  readonly entries: [WaitQueueHead, WaitQueueEntry][] = [];
  constructor(readonly task: TaskStruct) {}
  _qproc(_file: File, wq: WaitQueueHead, _pt: PollTable): void {
    const e = new WaitQueueEntry(this.task, (entry, _mode, key) => {
      // pollwake: ignore wake-ups for events nobody asked for.
      if (key !== 0 && (key & this._key) === 0) return false;
      this.triggered = true;
      return try_to_wake_up(this.task, TASK_NORMAL);
    });
    add_wait_queue(wq, e);
    this.entries.push([wq, e]);
  }
  free(): void {
    for (const [wq, e] of this.entries) remove_wait_queue(wq, e);
    this.entries.length = 0;
  }
}

/** vfs_poll: the file's current mask (registering on `pt` when given). */
export function vfs_poll(file: File, pt: PollTable | null): number {
  return file.f_op.poll ? file.f_op.poll(file, pt) : DEFAULT_POLLMASK;
}

/** Sleeps until woken or `deadline` (ns, Infinity = none); false when the deadline passed. */
export function* poll_schedule_timeout(pwq: PollWqueues, deadline: number): Generator<unknown, boolean, unknown> {
  const task = current();
  task.state = TASK_INTERRUPTIBLE;
  if (pwq.triggered) {
    task.state = TASK_RUNNING;
    pwq.triggered = false;
    return true;
  }
  if (deadline <= ktime_get()) {
    task.state = TASK_RUNNING;
    return false;
  }
  let timer: HrTimer | undefined;
  if (deadline !== Infinity) {
    timer = new HrTimer(() => try_to_wake_up(task, TASK_NORMAL));
    hrtimer_start(timer, deadline);
  }
  yield* schedule();
  if (timer) hrtimer_cancel(timer);
  pwq.triggered = false;
  return ktime_get() < deadline;
}

/** Reads a struct timespec: ns, or a negative errno. */
export function get_timespec_ns(uaddr: number): number {
  const b = new Uint8Array(16);
  if (copy_from_user(b, uaddr, 16) !== 0) return -EFAULT;
  const v = new DataView(b.buffer);
  const sec = Number(v.getBigInt64(0, true));
  const nsec = Number(v.getBigInt64(8, true));
  if (sec < 0 || nsec < 0 || nsec >= 1e9) return -EINVAL;
  return sec * 1e9 + nsec;
}

function* sys_ppoll(ufds: number, nfds: number, tsp: number, _sigmask: number, _sigsetsize: number): Generator<unknown, number, unknown> {
  const n = sys_uint(nfds);
  if (n > rlimit(current(), RLIMIT_NOFILE)) return -EINVAL;
  let deadline = Infinity;
  if (tsp !== 0) {
    const ns = get_timespec_ns(tsp);
    if (ns < 0) return ns;
    deadline = ktime_get() + ns;
  }
  const buf = new Uint8Array(n * 8);
  if (n > 0 && copy_from_user(buf, ufds, buf.length) !== 0) return -EFAULT;
  const v = new DataView(buf.buffer);
  const task = current();
  const pwq = new PollWqueues(task);
  let count = 0;
  try {
    for (let first = true; ; first = false) {
      count = 0;
      for (let i = 0; i < n; i++) {
        const fd = v.getInt32(8 * i, true);
        const events = v.getUint16(8 * i + 4, true);
        let revents = 0;
        if (fd >= 0) {
          const f = fd_file(fd);
          if (f === undefined) revents = EPOLLNVAL;
          else {
            pwq._key = events | EPOLLERR | EPOLLHUP;
            revents = vfs_poll(f, first ? pwq : null) & (events | EPOLLERR | EPOLLHUP);
          }
        }
        v.setUint16(8 * i + 6, revents, true);
        if (revents) count++;
      }
      if (count > 0) break;
      if (signal_pending(task)) {
        count = -EINTR;
        break;
      }
      if (!(yield* poll_schedule_timeout(pwq, deadline))) {
        if (ktime_get() >= deadline) break;
      }
    }
  } finally {
    pwq.free();
  }
  if (count < 0) return count;
  if (n > 0 && copy_to_user(ufds, buf, buf.length) !== 0) return -EFAULT;
  return count;
}

registerSyscall(__NR_ppoll, 'ppoll', sys_ppoll);
