// Task exit and reaping (kernel/exit.c): do_exit releases the mm, files and fs,
// re-parents children to init, becomes a zombie and notifies the parent; wait4 reaps
// zombies. When PID 1 exits the kernel powers the machine off with init's status
// (Linux panics; a test machine wants the code).

import { current } from '../sched/core.js';
import {
  EXIT_DEAD,
  EXIT_ZOMBIE,
  PF_EXITING,
  SIGCHLD,
  SIGKILL,
  SIG_IGN,
  TASK_DEAD,
  TASK_INTERRUPTIBLE,
  type KSigInfo,
  type TaskStruct,
} from '../sched/task.js';
import { ___wait_event, wake_up_all } from '../sched/wait.js';
import { detach_pid, find_task_by_vpid } from './pid.js';
import { CLD_DUMPED, CLD_EXITED, CLD_KILLED, SA_NOCLDWAIT, send_sig } from './signal.js';
import { exit_files, exit_fs } from '../fs/file.js';
import { exit_task_work } from './task_work.js';
import { exit_task_mm } from './fork.js';
import { futex_exit_release } from './futex.js';
import { kernel_power_off } from './reboot.js';
import { printk } from '../lib/printk.js';
import { TaskExitUnwind, WIFEXITED, WEXITSTATUS, WTERMSIG, W_EXITCODE } from './unwind.js';
import { ECHILD, EINVAL, ERESTARTSYS } from '../lib/errno.js';

/** Exit hooks of other subsystems (e.g. uacce, iommu sva) run at do_exit before the mm goes. */
const exitHooks: ((task: TaskStruct) => void)[] = [];
export function register_exit_hook(fn: (task: TaskStruct) => void): void {
  exitHooks.push(fn);
}

/** The init task (child reaper). */
function child_reaper(): TaskStruct | undefined {
  return find_task_by_vpid(1);
}

/**
 * do_exit: everything but the final schedule. `code` is a wait status
 * (W_EXITCODE(status, 0) for exit(), the signal number for a kill).
 */
export function* do_exit(code: number): Generator<unknown, void, unknown> {
  const tsk = current();
  if (tsk.flags & PF_EXITING) return;
  tsk.flags |= PF_EXITING;
  const sig = tsk.signal;
  if (sig.group_exit) code = sig.group_exit_code;
  tsk.exit_code = code;
  sig.live--;
  for (const h of exitHooks) h(tsk);
  futex_exit_release(tsk);
  exit_task_mm(tsk);
  exit_files(tsk);
  exit_fs(tsk);
  yield* exit_task_work(tsk);
  exit_notify(tsk);
  if (tsk.pid === 1 || (tsk.tgid === 1 && sig.live === 0)) {
    const status = sig.group_exit ? sig.group_exit_code : code;
    const exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    printk(`Kernel: init exited with code ${exitCode}; powering off`);
    kernel_power_off(exitCode);
  }
  tsk.state = TASK_DEAD;
}

/** exit_group: the whole thread group leaves with `code`. */
export function do_group_exit_prepare(code: number): number {
  const tsk = current();
  const sig = tsk.signal;
  if (!sig.group_exit) {
    sig.group_exit = true;
    sig.group_exit_code = code;
    for (const t of tsk.group_leader.thread_group) if (t !== tsk) send_sig(SIGKILL, t, false, true); // zap_other_threads
  }
  return sig.group_exit_code;
}

function exit_notify(tsk: TaskStruct): void {
  const reaper = child_reaper();
  // forget_original_parent: children go to init (or die with us when we are init).
  for (const child of tsk.children.splice(0)) {
    if (reaper !== undefined && reaper !== tsk) {
      child.real_parent = reaper;
      reaper.children.push(child);
      if (child.exit_state === EXIT_ZOMBIE) wake_up_all(reaper.signal.wait_chldexit);
    } else {
      child.real_parent = null;
    }
  }
  const leader = tsk.group_leader;
  if (leader !== tsk) {
    // A thread that is not the leader is released at once.
    tsk.exit_state = EXIT_DEAD;
    const i = leader.thread_group.indexOf(tsk);
    if (i >= 0) leader.thread_group.splice(i, 1);
    detach_pid(tsk);
    if (leader.exit_state === EXIT_ZOMBIE && tsk.signal.live === 0) do_notify_parent(leader);
    return;
  }
  tsk.exit_state = EXIT_ZOMBIE;
  if (tsk.signal.live === 0) do_notify_parent(tsk);
}

/** The siginfo do_notify_parent sends: CLD_EXITED with the exit status, or CLD_KILLED/CLD_DUMPED with the signal. */
function child_info(tsk: TaskStruct): KSigInfo {
  const c = tsk.exit_code;
  const killed = (c & 0x7f) !== 0;
  return { signo: tsk.exit_signal, code: killed ? (c & 0x80 ? CLD_DUMPED : CLD_KILLED) : CLD_EXITED, pid: tsk.tgid, uid: tsk.cred.uid, status: killed ? c & 0x7f : (c >> 8) & 0xff };
}

/** do_notify_parent: SIGCHLD to the parent and wake its wait4, or self-reap when it ignores SIGCHLD. */
function do_notify_parent(tsk: TaskStruct): void {
  const parent = tsk.real_parent;
  if (parent === null) {
    release_task(tsk);
    return;
  }
  if (tsk.exit_signal === SIGCHLD && parent.signal.action[SIGCHLD] === SIG_IGN) {
    release_task(tsk);
    wake_up_all(parent.signal.wait_chldexit);
    return;
  }
  // SA_NOCLDWAIT: the child is reaped at once, and a SIGCHLD handler still hears of it.
  if (tsk.exit_signal === SIGCHLD && parent.signal.sa_flags[SIGCHLD]! & SA_NOCLDWAIT) {
    send_sig(SIGCHLD, parent, true, false, child_info(tsk));
    release_task(tsk);
    wake_up_all(parent.signal.wait_chldexit);
    return;
  }
  if (tsk.exit_signal !== 0) send_sig(tsk.exit_signal, parent, true, false, child_info(tsk));
  wake_up_all(parent.signal.wait_chldexit);
}

/** release_task: the zombie's last traces go (PID, place in the parent's list). */
export function release_task(tsk: TaskStruct): void {
  tsk.exit_state = EXIT_DEAD;
  detach_pid(tsk);
  const parent = tsk.real_parent;
  if (parent !== null) {
    const i = parent.children.indexOf(tsk);
    if (i >= 0) parent.children.splice(i, 1);
  }
}

// wait4 options (include/uapi/linux/wait.h)
export const WNOHANG = 0x00000001;
export const WUNTRACED = 0x00000002;
export const WCONTINUED = 0x00000008;
export const __WNOTHREAD = 0x20000000;
export const __WALL = 0x40000000;
export const __WCLONE = 0x80000000;

function eligible_child(pid: number, parent: TaskStruct, child: TaskStruct): boolean {
  if (pid > 0) return child.pid === pid;
  if (pid === 0) return child.pgid === parent.pgid;
  if (pid < -1) return child.pgid === -pid;
  return true;
}

export interface WaitResult {
  pid: number;
  status: number;
  utimeNs: number;
}

/**
 * do_wait: reaps one zombie child matching `pid` (wait4 semantics). Returns the
 * result, 0 for WNOHANG with nothing to reap, or a negative errno.
 */
export function* do_wait(pid: number, options: number): Generator<unknown, WaitResult | number, unknown> {
  if (options & ~(WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WALL | __WCLONE)) return -EINVAL;
  const me = current();
  let found: TaskStruct | undefined;
  let any = false;
  const scan = (): boolean => {
    any = false;
    found = undefined;
    // The children of every thread of the group are eligible (unless __WNOTHREAD).
    const parents = options & __WNOTHREAD ? [me] : me.group_leader.thread_group;
    for (const p of parents) {
      for (const c of p.children) {
        if (!eligible_child(pid, me, c)) continue;
        any = true;
        if (c.exit_state === EXIT_ZOMBIE && c.signal.live === 0) {
          found = c;
          return true;
        }
      }
    }
    return !any || (options & WNOHANG) !== 0;
  };
  const r = yield* ___wait_event(me.signal.wait_chldexit, scan, TASK_INTERRUPTIBLE);
  if (found !== undefined) {
    const c: TaskStruct = found;
    const status = c.signal.group_exit ? c.signal.group_exit_code : c.exit_code;
    const res = { pid: c.pid, status, utimeNs: c.sum_exec_runtime };
    release_task(c);
    return res;
  }
  if (r === -ERESTARTSYS) return r;
  if (!any) return -ECHILD;
  return 0;
}

/** exit(status) from a task body: unwinds to the body's catch, which runs do_exit. */
export function exit_unwind(status: number): never {
  throw new TaskExitUnwind(W_EXITCODE(status, 0), false);
}
