// Signals (kernel/signal.c). Only default actions and SIG_IGN are modelled (no user
// handlers): a signal whose default action is to terminate kills the process when it
// next returns to user space or sleeps interruptibly; default-ignored signals
// (SIGCHLD, SIGURG, SIGWINCH, SIGCONT) and ignored ones are discarded when sent.
// Stop signals are treated as ignored (no job control). init (the global init, tgid 1)
// is SIGNAL_UNKILLABLE: with no handlers, every signal user space sends it is dropped,
// SIGKILL included; only the kernel's own forced kills and fault signals reach it.

import { try_to_wake_up } from '../sched/core.js';
import {
  SIGCHLD,
  SIGCONT,
  SIGKILL,
  SIGSTOP,
  SIGTSTP,
  SIGURG,
  SIGWINCH,
  SIG_IGN,
  TASK_INTERRUPTIBLE,
  TASK_WAKEKILL,
  _NSIG,
  CAP_KILL,
  has_capability,
  type TaskStruct,
} from '../sched/task.js';

export function sigmask(sig: number): number {
  return sig >= 1 && sig <= 31 ? 1 << (sig - 1) : 0;
}

function sig_default_ignored(sig: number): boolean {
  return sig === SIGCHLD || sig === SIGURG || sig === SIGWINCH || sig === SIGCONT || sig === SIGSTOP || sig === SIGTSTP || sig === 21 || sig === 22;
}

export function valid_signal(sig: number): boolean {
  return Number.isInteger(sig) && sig >= 0 && sig <= _NSIG;
}

/** Deliverable pending signals of a task (SIGKILL ignores the blocked mask). */
function deliverable(task: TaskStruct): number {
  const p = task.pending | task.signal.shared_pending;
  return (p & ~task.blocked) | (p & sigmask(SIGKILL));
}

export function signal_pending(task: TaskStruct): boolean {
  return deliverable(task) !== 0;
}

export function fatal_signal_pending(task: TaskStruct): boolean {
  return ((task.pending | task.signal.shared_pending) & sigmask(SIGKILL)) !== 0 || task.signal.group_exit;
}

/** signal_wake_up: wake an interruptible (or, for SIGKILL, killable) sleeper. */
function signal_wake_up(task: TaskStruct, fatal: boolean): void {
  try_to_wake_up(task, fatal ? TASK_INTERRUPTIBLE | TASK_WAKEKILL : TASK_INTERRUPTIBLE);
}

/** is_global_init: the first process, which SIGNAL_UNKILLABLE protects. */
export function is_global_init(task: TaskStruct): boolean {
  return task.tgid === 1;
}

/** sig_task_ignored / sig_ignored: `force` is a send from the kernel (zap_other_threads and the like). */
function sig_ignored(task: TaskStruct, sig: number, force: boolean): boolean {
  const action = task.signal.action[sig] ?? 0;
  if (is_global_init(task) && action !== SIG_IGN && !(force && (sig === SIGKILL || sig === SIGSTOP))) return true;
  if (sig === SIGKILL) return false;
  if (action === SIG_IGN) return true;
  return sig_default_ignored(sig);
}

/**
 * send_signal to one thread (private) or the whole group (shared). sig 0 is a no-op.
 * `force`: sent by the kernel itself, which may SIGKILL even init's threads.
 */
export function send_sig(sig: number, task: TaskStruct, group: boolean, force = false): void {
  if (sig === 0 || task.exit_state !== 0 || sig_ignored(task, sig, force)) return;
  const m = sigmask(sig);
  if (m === 0) return; // real-time signals are not modelled
  if (group) task.signal.shared_pending |= m;
  else task.pending |= m;
  const fatal = sig === SIGKILL;
  if (group) {
    for (const t of task.group_leader.thread_group.length > 0 ? task.group_leader.thread_group : [task]) signal_wake_up(t, fatal);
  } else signal_wake_up(task, fatal);
}

/** force_sig: a synchronous fault signal (SIGSEGV, SIGBUS) that cannot be ignored. */
export function force_sig(sig: number, task: TaskStruct): void {
  task.signal.action[sig] = 0;
  task.blocked &= ~sigmask(sig);
  task.pending |= sigmask(sig);
}

/** The first deliverable signal (lowest number), cleared from the pending sets; 0 if none. */
export function dequeue_signal(task: TaskStruct): number {
  const d = deliverable(task);
  if (d === 0) return 0;
  const sig = 31 - Math.clz32(d & -d) + 1;
  task.pending &= ~sigmask(sig);
  task.signal.shared_pending &= ~sigmask(sig);
  return sig;
}

/** kill_ok_by_cred: the sender may signal the target. */
export function kill_ok_by_cred(sender: TaskStruct, target: TaskStruct): boolean {
  const s = sender.cred;
  const t = target.cred;
  return s.euid === t.suid || s.euid === t.uid || s.uid === t.suid || s.uid === t.uid || has_capability(sender, CAP_KILL);
}

