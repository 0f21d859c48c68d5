// Task work (kernel/task_work.c): callbacks a task runs in its own process context on
// its way back to user space (exit_to_user_mode, after a system call) or at exit
// (exit_task_work). fput uses it so that the final release of a file dropped by a
// task runs before that task is back in user space. Once a task has run its exit
// work the list is closed and task_work_add fails with -ESRCH.

import { current } from '../sched/core.js';
import { PF_EXITING, type CallbackHead, type TaskStruct } from '../sched/task.js';
import { ESRCH } from '../lib/errno.js';

export type TaskWorkFunc = () => Generator<unknown, void, unknown>;

/** The closed list of a task past exit_task_work (Linux's work_exited sentinel). */
const WORK_EXITED: CallbackHead = { func: function* () {}, next: null };

/** task_work_notify_mode: TWA_RESUME is the only mode with a user here (fput). */
export const TWA_NONE = 0;
export const TWA_RESUME = 1;

/**
 * task_work_add: queues `func` for `task`; it runs when the task next returns to user
 * space or exits. -ESRCH once the task has passed exit_task_work.
 */
export function task_work_add(task: TaskStruct, func: TaskWorkFunc, _notify: number = TWA_RESUME): number {
  const head = task.task_works;
  if (head === WORK_EXITED) return -ESRCH;
  task.task_works = { func, next: head };
  return 0;
}

/** task_work_pending: whether `task` has callbacks queued. */
export function task_work_pending(task: TaskStruct): boolean {
  const head = task.task_works;
  return head !== null && head !== WORK_EXITED;
}

/**
 * task_work_cancel: takes the most recently queued callback `func` off `task`'s list
 * without running it; true if one was found.
 */
export function task_work_cancel(task: TaskStruct, func: TaskWorkFunc): boolean {
  let prev: CallbackHead | null = null;
  let w = task.task_works;
  if (w === WORK_EXITED) return false;
  while (w !== null) {
    if (w.func === func) {
      if (prev === null) task.task_works = w.next;
      else prev.next = w.next;
      return true;
    }
    prev = w;
    w = w.next;
  }
  return false;
}

/**
 * task_work_run: runs the current task's callbacks, newest first (no FIFO guarantee
 * since Linux 5.5), until none is left; callbacks may queue more. An exiting task
 * closes its list when it empties.
 */
export function* task_work_run(): Generator<unknown, void, unknown> {
  const task = current();
  for (;;) {
    let work = task.task_works;
    if (work === WORK_EXITED) return;
    if (work === null) {
      if (task.flags & PF_EXITING) task.task_works = WORK_EXITED;
      return;
    }
    task.task_works = null;
    while (work !== null) {
      const next: CallbackHead | null = work.next;
      yield* work.func();
      work = next;
    }
  }
}

/** exit_task_work: the last run at do_exit; afterwards task_work_add refuses. */
export function* exit_task_work(_task: TaskStruct): Generator<unknown, void, unknown> {
  yield* task_work_run();
}
