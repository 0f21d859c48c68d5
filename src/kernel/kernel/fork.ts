// Process and thread creation (kernel/fork.c): copy_process duplicates or shares the
// mm, files, fs and signal state according to the clone flags and queues the child on
// a core. The child's code is the `UserThreadStart` its parent yielded before clone
// (a generator cannot be copied); kernel threads run a kernel generator.

import { thisCpu, ExceptionLevel, type ArchCpu, type UserEntry } from '../../arch/index.js';
import type { UserThreadStart } from '../../arch/program.js';
import { current, select_task_rq, take_child_start, wake_up_new_task } from '../sched/core.js';
import {
  Cred,
  PF_KTHREAD,
  RLIMIT_NPROC,
  SIGCHLD,
  SIGKILL,
  SignalStruct,
  TaskStruct,
  rlimit,
  init_rlimits,
  type PtRegs,
  type Rlimit,
} from '../sched/task.js';
import { alloc_pid, attach_pid, tasks_by_pid } from './pid.js';
import { copy_fs_struct, dup_fd } from '../fs/file.js';
import { EAGAIN, EINVAL, ENOMEM } from '../lib/errno.js';
import { put_user } from '../lib/uaccess.js';
import { ExecUnwind, TaskExitUnwind, W_EXITCODE, is_unwind } from './unwind.js';
import { do_exit } from './exit.js';
import { pr_err } from '../lib/printk.js';
import type { MmStruct } from '../mm/mm_types.js';
import { oops_report } from './panic.js';
import { copy_sighand } from './signal.js';

// clone flags (include/uapi/linux/sched.h)
export const CSIGNAL = 0x000000ff;
export const CLONE_VM = 0x00000100;
export const CLONE_FS = 0x00000200;
export const CLONE_FILES = 0x00000400;
export const CLONE_SIGHAND = 0x00000800;
export const CLONE_PIDFD = 0x00001000;
export const CLONE_PTRACE = 0x00002000;
export const CLONE_VFORK = 0x00004000;
export const CLONE_PARENT = 0x00008000;
export const CLONE_THREAD = 0x00010000;
export const CLONE_NEWNS = 0x00020000;
export const CLONE_SYSVSEM = 0x00040000;
export const CLONE_SETTLS = 0x00080000;
export const CLONE_PARENT_SETTID = 0x00100000;
export const CLONE_CHILD_CLEARTID = 0x00200000;
export const CLONE_DETACHED = 0x00400000;
export const CLONE_UNTRACED = 0x00800000;
export const CLONE_CHILD_SETTID = 0x01000000;

const SUPPORTED = CSIGNAL | CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_PARENT | CLONE_THREAD | CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID | CLONE_DETACHED | CLONE_VFORK | CLONE_UNTRACED | CLONE_SYSVSEM;

/** Number of live tasks per uid (RLIMIT_NPROC accounting, cred->user->processes). */
function processes_of(uid: number): number {
  let n = 0;
  for (const t of tasks_by_pid()) if (t.cred.uid === uid && t.exit_state === 0) n++;
  return n;
}

function copy_rlimits(r: readonly Rlimit[]): Rlimit[] {
  return r.map((x) => ({ rlim_cur: x.rlim_cur, rlim_max: x.rlim_max }));
}

/** The mm lifecycle of the core mm (mm_alloc/dup_mmap/mmput), installed at boot. */
export interface MmLifecycle {
  /** dup_mm: a copy of `oldmm` for fork (COW), or null when out of memory. */
  dup_mm(oldmm: MmStruct): MmStruct | null;
  mmget(mm: MmStruct): void;
  mmput(mm: MmStruct): void;
}

let mmops: MmLifecycle | undefined;

export function set_mm_lifecycle(ops: MmLifecycle): void {
  mmops = ops;
}

function mm_ops(): MmLifecycle {
  if (mmops === undefined) throw new Error('fork: the mm lifecycle (set_mm_lifecycle) is not installed');
  return mmops;
}

function mmget(mm: MmStruct): void {
  mm_ops().mmget(mm);
}

function mmput(mm: MmStruct): void {
  mm_ops().mmput(mm);
}

function dup_mm(mm: MmStruct): MmStruct | null {
  return mm_ops().dup_mm(mm);
}

/** Drops the task's mm (exit_mm). */
export function exit_task_mm(tsk: TaskStruct): void {
  const mm = tsk.mm;
  if (mm === null) return;
  tsk.mm = null;
  tsk.active_mm = null;
  mmput(mm);
}

/** start_thread: a new image starts with zeroed registers, sp at its initial stack, pc at its entry (0: the ROM entry). */
function start_thread(regs: PtRegs, sp: number): void {
  regs.x.fill(0);
  regs.sp = sp;
  regs.pc = 0;
  regs.pstate = 0;
}

/** ret_to_user: the core's EL0 register file is the task's pt_regs (see restore_user_regs in arch/entry.ts). */
function load_user_regs(regs: PtRegs): void {
  thisCpu().user = regs;
}

/**
 * The body of a user task: runs `entry` at EL0; a return is exit(status); exec
 * replaces the entry; exit and fatal signals unwind here and run do_exit.
 */
export function* user_task_body(entry: UserEntry | ((cpu: ArchCpu) => Generator<unknown, number, unknown>), sp: number, isThreadStart: boolean): Generator<unknown, void, unknown> {
  let code: number;
  let run: () => Generator<unknown, number, unknown> = isThreadStart
    ? () => (entry as (cpu: ArchCpu) => Generator<unknown, number, unknown>)(thisCpu())
    : () => (entry as UserEntry)(thisCpu(), sp);
  // ret_from_fork / start_thread: the task's first return to EL0 loads its registers.
  const regs = current().regs;
  if (!isThreadStart) start_thread(regs, sp);
  for (;;) {
    try {
      load_user_regs(regs);
      thisCpu().setEl(ExceptionLevel.EL0);
      const status = yield* run();
      thisCpu().setEl(ExceptionLevel.EL1);
      code = W_EXITCODE(typeof status === 'number' ? status : 0, 0);
      break;
    } catch (e) {
      thisCpu().setEl(ExceptionLevel.EL1);
      if (e instanceof ExecUnwind) {
        const ex = e;
        run = () => ex.entry(thisCpu(), ex.sp);
        start_thread(regs, ex.sp);
        continue;
      }
      if (e instanceof TaskExitUnwind) {
        code = e.code;
        break;
      }
      // A host exception out of user code: the program is broken (its own bug), or a
      // kernel bug surfaced through it. Either way the task dies, the machine runs on.
      oops_report(e, `user program ${current().comm}`);
      code = SIGKILL;
      break;
    }
  }
  yield* do_exit(code);
}

/** The body of a kernel thread: fn's return value is its exit code. */
function* kthread_body(fn: () => Generator<unknown, number | void, unknown>): Generator<unknown, void, unknown> {
  let code = 0;
  try {
    const r = yield* fn();
    code = W_EXITCODE(typeof r === 'number' ? r : 0, 0);
  } catch (e) {
    if (e instanceof TaskExitUnwind) code = e.code;
    else if (!is_unwind(e)) {
      oops_report(e, `kthread ${current().comm}`);
      code = SIGKILL;
    }
  }
  yield* do_exit(code);
}

export interface CloneArgs {
  flags: number;
  stack: number;
  parent_tid: number;
  child_tid: number;
  tls: number;
  exit_signal: number;
}

/**
 * copy_process: a new task sharing or copying the current task's resources. Returns
 * the task or a negative errno. The caller starts it (wake_up_new_task).
 */
export function copy_process(args: CloneArgs, kthread: boolean): TaskStruct | number {
  const parent = current();
  const f = args.flags;
  if (f & ~SUPPORTED) return -EINVAL;
  if ((f & CLONE_THREAD) && !(f & CLONE_SIGHAND)) return -EINVAL;
  if ((f & CLONE_SIGHAND) && !(f & CLONE_VM)) return -EINVAL;
  if (!kthread && parent.cred.uid !== 0 && processes_of(parent.cred.uid) >= rlimit(parent, RLIMIT_NPROC)) return -EAGAIN;
  const pid = alloc_pid();
  if (pid < 0) return -EAGAIN;

  const signal = f & CLONE_THREAD ? parent.signal : new SignalStruct(copy_rlimits(parent.signal.rlim));
  if (!(f & CLONE_THREAD)) copy_sighand(signal, parent.signal);
  if (!(f & CLONE_THREAD)) [signal.oom_score_adj, signal.oom_score_adj_min] = [parent.signal.oom_score_adj, parent.signal.oom_score_adj_min]; // copy_signal
  if (!(f & CLONE_THREAD)) signal.tty = parent.signal.tty; // copy_signal: the controlling terminal is inherited, leadership is not
  const tgid = f & CLONE_THREAD ? parent.tgid : pid;
  const p = new TaskStruct(pid, tgid, parent.comm, parent.cred.clone(), signal);
  p.flags = kthread ? PF_KTHREAD : parent.flags & ~PF_KTHREAD;
  p.blocked = parent.blocked;
  // copy_thread: the child returns to EL0 with its parent's registers, x0 = 0, on its own stack if clone gave one.
  p.regs.x.set(parent.regs.x);
  p.regs.x[0] = 0;
  p.regs.sp = args.stack !== 0 ? args.stack : parent.regs.sp;
  p.regs.pc = parent.regs.pc;
  if (!(f & CLONE_VM)) [p.sas_ss_sp, p.sas_ss_size, p.sas_ss_flags] = [parent.sas_ss_sp, parent.sas_ss_size, parent.sas_ss_flags];
  p.pgid = parent.pgid;
  p.sid = parent.sid;
  p.exit_signal = f & CLONE_THREAD ? 0 : args.exit_signal;

  // copy_mm
  if (!kthread && parent.mm !== null) {
    if (f & CLONE_VM) {
      mmget(parent.mm);
      p.mm = parent.mm;
    } else {
      const mm: MmStruct | null = dup_mm(parent.mm);
      if (mm === null) return -ENOMEM;
      p.mm = mm;
    }
    p.active_mm = p.mm;
  }
  // copy_files / copy_fs
  if (parent.files !== null) {
    if (f & CLONE_FILES) {
      parent.files.count++;
      p.files = parent.files;
    } else p.files = dup_fd(parent.files);
  }
  if (parent.fs !== null) {
    if (f & CLONE_FS) {
      parent.fs.users++;
      p.fs = parent.fs;
    } else p.fs = copy_fs_struct(parent.fs);
  }
  p.thread_ctx.tpidr_el0 = f & CLONE_SETTLS ? BigInt(args.tls) : parent.thread_ctx.tpidr_el0;
  if (f & CLONE_CHILD_SETTID) p.set_child_tid = args.child_tid;
  if (f & CLONE_CHILD_CLEARTID) p.clear_child_tid = args.child_tid;

  // Parent and thread-group links.
  if (f & CLONE_THREAD) {
    p.group_leader = parent.group_leader;
    p.real_parent = parent.group_leader.real_parent;
    parent.group_leader.thread_group.push(p);
    signal.live++;
  } else {
    const realParent = f & CLONE_PARENT ? parent.real_parent ?? parent : parent;
    p.real_parent = realParent;
    realParent.children.push(p);
  }
  p.cpu = select_task_rq();
  attach_pid(p);
  return p;
}

/**
 * kernel_clone for a user task: the child runs `start` (yielded by the parent) at EL0.
 * Returns the child's PID or a negative errno.
 */
export function kernel_clone(args: CloneArgs, start: UserThreadStart | undefined): number {
  if (start === undefined) {
    pr_err(`clone: ${current().comm}[${current().pid}] gave no UserThreadStart before clone; the child has no code to run`);
    return -EINVAL;
  }
  const p = copy_process(args, false);
  if (typeof p === 'number') return p;
  if (args.flags & CLONE_PARENT_SETTID) put_user(p.pid, args.parent_tid, 4);
  if (args.flags & CLONE_CHILD_SETTID && p.mm === current().mm) put_user(p.pid, args.child_tid, 4);
  wake_up_new_task(p, user_task_body(start.entry, args.stack, true));
  return p.pid;
}

/** The UserThreadStart the current task yielded last (its clone child's code). */
export function pending_child_start(): UserThreadStart | undefined {
  return take_child_start(current());
}

/** kernel_thread: a new kernel thread running `fn`; returns it (or a negative errno). */
export function kernel_thread(fn: () => Generator<unknown, number | void, unknown>, name: string, cpu?: number): TaskStruct | number {
  const p = copy_process({ flags: CLONE_FS | CLONE_FILES, stack: 0, parent_tid: 0, child_tid: 0, tls: 0, exit_signal: SIGCHLD }, true);
  if (typeof p === 'number') return p;
  // Kernel threads belong to kthreadd, not to whoever asked: no one wait4s for them.
  const parent = p.real_parent;
  if (parent !== null) {
    const i = parent.children.indexOf(p);
    if (i >= 0) parent.children.splice(i, 1);
  }
  p.real_parent = null;
  p.comm = name;
  if (cpu !== undefined) p.cpu = cpu;
  wake_up_new_task(p, kthread_body(fn));
  return p;
}

/** The first task: PID 1 created from the boot idle task (rest_init's kernel_init). */
export function create_init_task(fn: () => Generator<unknown, number | void, unknown>): TaskStruct {
  const pid = alloc_pid();
  const t = new TaskStruct(pid, pid, 'init', new Cred(), new SignalStruct(init_rlimits()));
  t.cpu = thisCpu().id;
  attach_pid(t);
  wake_up_new_task(t, kthread_body(fn));
  return t;
}

