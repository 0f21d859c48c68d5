// Kernel threads (kernel/kthread.c): kthread_run creates and starts one;
// kthread_stop asks it to stop and waits for its exit code.

import { current, wake_up_process } from '../sched/core.js';
import { PF_NO_SETAFFINITY, type TaskStruct } from '../sched/task.js';
import { Completion, complete, wait_for_completion } from '../sched/wait.js';
import { kernel_thread } from './fork.js';

interface KthreadState {
  should_stop: boolean;
  exited: Completion;
  result: number;
}

const kthreads = new WeakMap<TaskStruct, KthreadState>();

/**
 * kthread_run: starts `threadfn` in a new kernel thread called `name` (on `cpu` when
 * given, kthread_create_on_cpu). Returns the task or a negative errno.
 */
export function kthread_run(threadfn: () => Generator<unknown, number | void, unknown>, name: string, cpu?: number): TaskStruct | number {
  const state: KthreadState = { should_stop: false, exited: new Completion(), result: 0 };
  const p = kernel_thread(function* () {
    let r: number | void = 0;
    try {
      r = yield* threadfn();
    } finally {
      state.result = typeof r === 'number' ? r : 0;
      complete(state.exited);
    }
    return r;
  }, name, cpu);
  if (typeof p === 'number') return p;
  kthreads.set(p, state);
  if (cpu !== undefined) {
    // kthread_bind: a per-CPU thread stays on its CPU, and userland may not move it.
    p.cpus_mask = (1 << cpu) >>> 0;
    p.flags |= PF_NO_SETAFFINITY;
  }
  return p;
}

/** kthread_should_stop: true once kthread_stop was called on the current thread. */
export function kthread_should_stop(): boolean {
  return kthreads.get(current())?.should_stop ?? false;
}

/** kthread_stop: sets should_stop, wakes the thread and waits for its exit; returns its result. */
export function* kthread_stop(task: TaskStruct): Generator<unknown, number, unknown> {
  const st = kthreads.get(task);
  if (st === undefined) return -1;
  st.should_stop = true;
  wake_up_process(task);
  yield* wait_for_completion(st.exited);
  return st.result;
}
