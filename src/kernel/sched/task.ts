// struct task_struct and what hangs off it: credentials, resource limits, signal
// state (include/linux/sched.h, cred.h, sched/signal.h). Kernel bookkeeping lives in
// TypeScript objects ("kernel memory"); only what hardware reads is in guest RAM.

import type { HrTimer } from '../time/hrtimer.js';
import type { MmStruct } from '../mm/mm_types.js';
import type { FilesStruct, FsStruct } from '../fs/types.js';
import { WaitQueueHead } from './wait.js';

// Task states (include/linux/sched.h).
export const TASK_RUNNING = 0x0000;
export const TASK_INTERRUPTIBLE = 0x0001;
export const TASK_UNINTERRUPTIBLE = 0x0002;
export const TASK_STOPPED = 0x0004;
export const TASK_DEAD = 0x0080;
export const TASK_KILLABLE = 0x0100 | TASK_UNINTERRUPTIBLE; // TASK_WAKEKILL | UNINTERRUPTIBLE
export const TASK_WAKEKILL = 0x0100;
export const TASK_NORMAL = TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE;
// exit_state
export const EXIT_ZOMBIE = 0x0020;
export const EXIT_DEAD = 0x0010;

// task->flags
export const PF_EXITING = 0x00000004;
export const PF_KTHREAD = 0x00200000;
export const PF_IDLE = 0x00000002;
/** Userland may not change the task's affinity (per-CPU kernel threads, kthread_bind). */
export const PF_NO_SETAFFINITY = 0x04000000;
/** A cpumask with every CPU of this kernel set (cpumasks are bit sets over CPU numbers < 32). */
export const CPU_MASK_ALL = 0xffffffff;

/** cpumask_test_cpu */
export function cpumask_test_cpu(cpu: number, mask: number): boolean {
  return cpu >= 0 && cpu < 32 && ((mask >>> cpu) & 1) === 1;
}

// Capabilities (include/uapi/linux/capability.h).
export const CAP_CHOWN = 0;
export const CAP_DAC_OVERRIDE = 1;
export const CAP_DAC_READ_SEARCH = 2;
export const CAP_FOWNER = 3;
export const CAP_KILL = 5;
export const CAP_SETGID = 6;
export const CAP_SETUID = 7;
export const CAP_IPC_LOCK = 14;
export const CAP_SYS_RAWIO = 17;
export const CAP_SYS_ADMIN = 21;
export const CAP_SYS_BOOT = 22;
export const CAP_SYS_NICE = 23;
export const CAP_SYS_RESOURCE = 24;
export const CAP_LAST_CAP = 40;
/** Every capability bit 0..CAP_LAST_CAP set (a Number: 2^41 - 1 is exact). */
export const CAP_FULL_SET = 2 ** (CAP_LAST_CAP + 1) - 1;

export function cap_raised(set: number, cap: number): boolean {
  return Math.floor(set / 2 ** cap) % 2 === 1;
}

export function cap_drop(set: number, cap: number): number {
  return cap_raised(set, cap) ? set - 2 ** cap : set;
}

export function cap_raise(set: number, cap: number): number {
  return cap_raised(set, cap) ? set : set + 2 ** cap;
}

/** struct cred: who the task is for permission checks. */
export class Cred {
  constructor(
    public uid = 0,
    public gid = 0,
    public euid = 0,
    public egid = 0,
    public suid = 0,
    public sgid = 0,
    public fsuid = 0,
    public fsgid = 0,
    /** cap_effective as a bit set over capability numbers. */
    public cap_effective = CAP_FULL_SET,
    public cap_permitted = CAP_FULL_SET,
  ) {}

  clone(): Cred {
    return new Cred(this.uid, this.gid, this.euid, this.egid, this.suid, this.sgid, this.fsuid, this.fsgid, this.cap_effective, this.cap_permitted);
  }
}

// Resource limits (include/uapi/asm-generic/resource.h).
export const RLIMIT_CPU = 0;
export const RLIMIT_FSIZE = 1;
export const RLIMIT_DATA = 2;
export const RLIMIT_STACK = 3;
export const RLIMIT_CORE = 4;
export const RLIMIT_RSS = 5;
export const RLIMIT_NPROC = 6;
export const RLIMIT_NOFILE = 7;
export const RLIMIT_MEMLOCK = 8;
export const RLIMIT_AS = 9;
export const RLIMIT_LOCKS = 10;
export const RLIMIT_SIGPENDING = 11;
export const RLIMIT_MSGQUEUE = 12;
export const RLIMIT_NICE = 13;
export const RLIMIT_RTPRIO = 14;
export const RLIMIT_RTTIME = 15;
export const RLIM_NLIMITS = 16;
/** RLIM_INFINITY (~0UL at the ABI); the kernel keeps it as Infinity. */
export const RLIM_INFINITY = Infinity;

export interface Rlimit {
  rlim_cur: number;
  rlim_max: number;
}

/** init_task's limits (include/asm-generic/resource.h INIT_RLIMITS; MLOCK_LIMIT is 8 MiB since 5.16). */
export function init_rlimits(): Rlimit[] {
  const r: Rlimit[] = [];
  for (let i = 0; i < RLIM_NLIMITS; i++) r.push({ rlim_cur: RLIM_INFINITY, rlim_max: RLIM_INFINITY });
  r[RLIMIT_STACK] = { rlim_cur: 8 * 1024 * 1024, rlim_max: RLIM_INFINITY };
  r[RLIMIT_CORE] = { rlim_cur: 0, rlim_max: RLIM_INFINITY };
  r[RLIMIT_NOFILE] = { rlim_cur: 1024, rlim_max: 4096 };
  r[RLIMIT_MEMLOCK] = { rlim_cur: 8 * 1024 * 1024, rlim_max: 8 * 1024 * 1024 };
  r[RLIMIT_SIGPENDING] = { rlim_cur: 0, rlim_max: 0 };
  r[RLIMIT_MSGQUEUE] = { rlim_cur: 819200, rlim_max: 819200 };
  r[RLIMIT_NICE] = { rlim_cur: 0, rlim_max: 0 };
  r[RLIMIT_RTPRIO] = { rlim_cur: 0, rlim_max: 0 };
  return r;
}

// Signals (include/uapi/asm-generic/signal.h).
export const SIGHUP = 1;
export const SIGINT = 2;
export const SIGQUIT = 3;
export const SIGILL = 4;
export const SIGTRAP = 5;
export const SIGABRT = 6;
export const SIGBUS = 7;
export const SIGFPE = 8;
export const SIGKILL = 9;
export const SIGUSR1 = 10;
export const SIGSEGV = 11;
export const SIGUSR2 = 12;
export const SIGPIPE = 13;
export const SIGALRM = 14;
export const SIGTERM = 15;
export const SIGCHLD = 17;
export const SIGCONT = 18;
export const SIGSTOP = 19;
export const SIGTSTP = 20;
export const SIGURG = 23;
export const SIGWINCH = 28;
export const _NSIG = 64;
export const SIG_DFL = 0;
export const SIG_IGN = 1;

/** The fields of a kernel_siginfo this kernel fills (si_signo, si_code and the _kill/_sigchld members). */
export interface KSigInfo {
  readonly signo: number;
  readonly code: number;
  readonly pid: number;
  readonly uid: number;
  /** _sigchld.si_status (CLD_* codes only). */
  readonly status: number;
}

/** Saved EL0 registers of a task in the kernel (struct pt_regs): x0..x30, sp, pc, pstate. */
export class PtRegs {
  readonly x = new Float64Array(31);
  sp = 0;
  pc = 0;
  pstate = 0;
}

/** struct signal_struct: shared by the threads of a process. */
export class SignalStruct {
  /** Shared pending signals, bit (sig-1). Signals 1..31 only; real-time signals are not modelled. */
  shared_pending = 0;
  /** Per-signal struct k_sigaction (sighand->action): sa_handler (SIG_DFL, SIG_IGN or a user address), sa_flags, sa_restorer, sa_mask. */
  readonly action: number[] = new Array<number>(_NSIG + 1).fill(SIG_DFL);
  readonly sa_flags: number[] = new Array<number>(_NSIG + 1).fill(0);
  readonly sa_restorer: number[] = new Array<number>(_NSIG + 1).fill(0);
  readonly sa_mask: number[] = new Array<number>(_NSIG + 1).fill(0);
  /** siginfo of each shared pending signal (one per signal: non-real-time signals do not queue). */
  readonly shared_info: (KSigInfo | undefined)[] = new Array<KSigInfo | undefined>(_NSIG + 1);
  group_exit = false;
  group_exit_code = 0;
  rlim: Rlimit[];
  /** Threads alive in the group. */
  live = 1;
  /** wait4 sleepers of this process (signal->wait_chldexit). */
  readonly wait_chldexit = new WaitQueueHead('wait_chldexit');
  /** /proc/<pid>/oom_score_adj (-1000..1000) and the floor an unprivileged writer may not go below. */
  oom_score_adj = 0;
  oom_score_adj_min = 0;
  /** ITIMER_REAL (signal->real_timer, it_real_incr): SIGALRM at expiry, re-armed every `it_real_incr` ns when nonzero. */
  real_timer: HrTimer | null = null;
  it_real_incr = 0;
  /** The mm of an OOM victim (signal->oom_mm, set by mark_oom_victim): tsk_is_oom_victim. */
  oom_mm: MmStruct | null = null;
  /** signal->leader: this process made its session with setsid (drivers/tty: session leader rules). */
  leader = false;
  /** signal->tty: the controlling terminal (a tty_io Tty), inherited by fork, dropped by setsid. */
  tty: object | null = null;
  constructor(rlim: Rlimit[]) {
    this.rlim = rlim;
  }
}

/** Saved CPU state of a task that is switched out (cpu_context in thread_struct). */
export interface ThreadStruct {
  el: 0 | 1;
  tpidr_el0: bigint;
}

export type TaskBody = Generator<unknown, void, unknown>;

/** callback_head: one queued task_work callback (kernel/task_work.ts). */
export interface CallbackHead {
  readonly func: () => Generator<unknown, void, unknown>;
  next: CallbackHead | null;
}

/** Boot generation: bumped by sched_init, so tasks of an earlier boot in the same host process are inert. */
let bootGeneration = 0;
export function next_boot_generation(): number {
  return ++bootGeneration;
}
export function boot_generation(): number {
  return bootGeneration;
}

export class TaskStruct {
  state = TASK_RUNNING;
  exit_state = 0;
  exit_code = 0;
  /** Signal that tells the parent this child exited (SIGCHLD for fork, 0 for threads). */
  exit_signal = SIGCHLD;
  flags = 0;
  comm: string;
  pid: number;
  tgid: number;
  group_leader: TaskStruct;
  real_parent: TaskStruct | null = null;
  readonly children: TaskStruct[] = [];
  /** Threads of this group, leader first (kept on the leader). */
  readonly thread_group: TaskStruct[] = [this];
  cred: Cred;
  signal: SignalStruct;
  /** Private pending signals, bit (sig-1), and each one's siginfo. */
  pending = 0;
  readonly pending_info: (KSigInfo | undefined)[] = new Array<KSigInfo | undefined>(_NSIG + 1);
  blocked = 0;
  /** The EL0 registers saved at the last exception entry from EL0 (task_pt_regs). */
  readonly regs = new PtRegs();
  /** The system call running is rt_sigreturn: its return restarts nothing (forget_syscall). */
  in_sigreturn = false;
  /** The mask rt_sigsuspend replaced, put back once a handler's frame holds it or no handler ran (TIF_RESTORE_SIGMASK). */
  saved_sigmask: number | undefined = undefined;
  /** sigaltstack: ss_sp, ss_size, and SS_AUTODISARM (sas_ss_flags). */
  sas_ss_sp = 0;
  sas_ss_size = 0;
  sas_ss_flags = 0;
  mm: MmStruct | null = null;
  /** The mm whose page tables are live while a kernel thread borrows them. */
  active_mm: MmStruct | null = null;
  files: FilesStruct | null = null;
  fs: FsStruct | null = null;
  /** Core this task runs on (placed at creation; it moves when cpus_mask excludes it). */
  cpu = 0;
  /** CPUs the task may run on (cpus_mask), a bit per CPU. */
  cpus_mask = CPU_MASK_ALL;
  on_rq = false;
  /** The task's kernel stack: its body, resumed by the scheduler. */
  thread: TaskBody | undefined;
  readonly thread_ctx: ThreadStruct = { el: 1, tpidr_el0: 0n };
  set_child_tid = 0;
  clear_child_tid = 0;
  /** task_works: callbacks to run on the way back to user space or at exit (kernel/task_work.ts), newest first. */
  task_works: CallbackHead | null = null;
  /** Virtual ns at creation (start_time), and accumulated run time. */
  start_time = 0;
  sum_exec_runtime = 0;
  /** Waker's virtual time at the last wake-up: the task cannot run on a core whose clock is behind it. */
  wake_ns = 0;
  /** Process group and session (setpgid/setsid). */
  pgid: number;
  sid: number;
  /** The boot this task belongs to (see next_boot_generation). */
  readonly generation = bootGeneration;
  constructor(pid: number, tgid: number, comm: string, cred: Cred, signal: SignalStruct) {
    this.pid = pid;
    this.tgid = tgid;
    this.comm = comm;
    this.cred = cred;
    this.signal = signal;
    this.group_leader = this;
    this.pgid = pid;
    this.sid = pid;
  }

  get rlim(): Rlimit[] {
    return this.signal.rlim;
  }
}

export function rlimit(task: TaskStruct, resource: number): number {
  return task.signal.rlim[resource]!.rlim_cur;
}

/** capable(cap) of a given task (security/commoncap.c cap_capable with the task's cred). */
export function has_capability(task: TaskStruct, cap: number): boolean {
  return cap_raised(task.cred.cap_effective, cap);
}
