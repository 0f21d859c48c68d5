// Workqueues (kernel/workqueue.c in shape): work items run in process context on a
// worker kernel thread of their workqueue, one at a time in queueing order, so they
// may sleep. Delayed work arms an hrtimer that queues the work when it expires.

import { kthread_run } from './kthread.js';
import { Completion, WaitQueueHead, complete_all, wait_event, wait_for_completion, wake_up, wake_up_all } from '../sched/wait.js';
import { HrTimer, hrtimer_cancel, hrtimer_start_ns } from '../time/hrtimer.js';
import { oops_report } from './panic.js';
import { PF_NO_SETAFFINITY, type TaskStruct } from '../sched/task.js';

export type WorkFunc = (work: WorkStruct) => Generator<unknown, void, unknown>;

export class WorkStruct {
  pending = false;
  running = false;
  wq: WorkqueueStruct | null = null;
  /** Bumped each time the work finishes; flush_work waits for it to move. */
  completions = 0;
  constructor(readonly func: WorkFunc) {}
}

export class DelayedWork {
  readonly work: WorkStruct;
  readonly timer: HrTimer;
  private target: WorkqueueStruct | null = null;
  constructor(func: WorkFunc) {
    this.work = new WorkStruct(func);
    this.timer = new HrTimer(() => {
      if (this.target) queue_work(this.target, this.work);
    });
  }
  arm(wq: WorkqueueStruct, delayNs: number): void {
    this.target = wq;
    hrtimer_start_ns(this.timer, delayNs);
  }
}

// alloc_workqueue flags
export const WQ_UNBOUND = 1 << 1;
export const WQ_FREEZABLE = 1 << 2;
export const WQ_MEM_RECLAIM = 1 << 3;
export const WQ_HIGHPRI = 1 << 4;

export class WorkqueueStruct {
  readonly list: WorkStruct[] = [];
  readonly more = new WaitQueueHead('workqueue');
  readonly idle = new WaitQueueHead('workqueue-idle');
  worker: TaskStruct | null = null;
  /** Works being run right now (0 or 1: one worker). */
  running = 0;
  destroyed = false;
  readonly stopped = new Completion();
  constructor(
    readonly name: string,
    readonly flags: number,
  ) {}
}

let system_wq_: WorkqueueStruct | null = null;
let allWorkqueues: WorkqueueStruct[] = [];

export function workqueue_init(): void {
  allWorkqueues = [];
  system_wq_ = alloc_workqueue('events', 0, 0);
}

/** system_wq: the shared default workqueue ("events"). */
export function system_wq(): WorkqueueStruct {
  if (system_wq_ === null) throw new Error('workqueue: workqueue_init() has not run');
  return system_wq_;
}

function* worker_thread(wq: WorkqueueStruct): Generator<unknown, number, unknown> {
  for (;;) {
    yield* wait_event(wq.more, () => wq.list.length > 0 || wq.destroyed);
    if (wq.list.length === 0 && wq.destroyed) break;
    const work = wq.list.shift()!;
    work.pending = false;
    work.running = true;
    wq.running++;
    try {
      yield* work.func(work);
    } catch (e) {
      oops_report(e, `workqueue ${wq.name} work`);
    }
    work.running = false;
    wq.running--;
    work.completions++;
    wake_up_all(wq.idle);
  }
  complete_all(wq.stopped);
  return 0;
}

/** alloc_workqueue: a workqueue with its own worker thread "kworker/<name>". */
export function alloc_workqueue(name: string, flags: number, _maxActive: number): WorkqueueStruct {
  const wq = new WorkqueueStruct(name, flags);
  allWorkqueues.push(wq);
  return wq;
}

function ensure_worker(wq: WorkqueueStruct): void {
  if (wq.worker !== null) return;
  const t = kthread_run(() => worker_thread(wq), `kworker/${wq.name}`);
  if (typeof t === 'number') return;
  // Workers belong to their pool; userland does not move them (worker_attach_to_pool).
  t.flags |= PF_NO_SETAFFINITY;
  wq.worker = t;
}

/** queue_work: false when the work was already pending. Callable from IRQ context. */
export function queue_work(wq: WorkqueueStruct, work: WorkStruct): boolean {
  if (work.pending || wq.destroyed) return false;
  work.pending = true;
  work.wq = wq;
  wq.list.push(work);
  ensure_worker(wq);
  wake_up(wq.more);
  return true;
}

export function schedule_work(work: WorkStruct): boolean {
  return queue_work(system_wq(), work);
}

export function queue_delayed_work(wq: WorkqueueStruct, dwork: DelayedWork, delayNs: number): boolean {
  if (dwork.work.pending || dwork.timer.queued) return false;
  if (delayNs <= 0) return queue_work(wq, dwork.work);
  dwork.arm(wq, delayNs);
  return true;
}

export function schedule_delayed_work(dwork: DelayedWork, delayNs: number): boolean {
  return queue_delayed_work(system_wq(), dwork, delayNs);
}

/** flush_work: waits until `work` is neither pending nor running; true if it had to wait. */
export function* flush_work(work: WorkStruct): Generator<unknown, boolean, unknown> {
  const wq = work.wq;
  if (wq === null || (!work.pending && !work.running)) return false;
  const target = work.completions + 1;
  yield* wait_event(wq.idle, () => work.completions >= target || (!work.pending && !work.running));
  return true;
}

/** cancel_work_sync: removes a pending work and waits for a running one. */
export function* cancel_work_sync(work: WorkStruct): Generator<unknown, boolean, unknown> {
  const wq = work.wq;
  let was = false;
  if (wq !== null && work.pending) {
    const i = wq.list.indexOf(work);
    if (i >= 0) wq.list.splice(i, 1);
    work.pending = false;
    was = true;
  }
  if (work.running) yield* flush_work(work);
  return was;
}

export function* cancel_delayed_work_sync(dwork: DelayedWork): Generator<unknown, boolean, unknown> {
  const had = hrtimer_cancel(dwork.timer);
  return (yield* cancel_work_sync(dwork.work)) || had;
}

/** flush_workqueue: waits until every work queued so far has run. */
export function* flush_workqueue(wq: WorkqueueStruct): Generator<unknown, void, unknown> {
  yield* wait_event(wq.idle, () => wq.list.length === 0 && wq.running === 0);
}

export function* destroy_workqueue(wq: WorkqueueStruct): Generator<unknown, void, unknown> {
  yield* flush_workqueue(wq);
  wq.destroyed = true;
  if (wq.worker !== null) {
    wake_up(wq.more);
    yield* wait_for_completion(wq.stopped);
  }
  allWorkqueues = allWorkqueues.filter((w) => w !== wq);
}


export function workqueues(): readonly WorkqueueStruct[] {
  return allWorkqueues;
}
