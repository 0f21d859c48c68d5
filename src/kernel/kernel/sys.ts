// Identity, limits and system information system calls (kernel/sys.c, kernel/exit.c,
// kernel/fork.c, kernel/signal.c, kernel/time/*.c, kernel/sched/core.c entry points).

import { registerSyscall, sys_int, sys_uint, sys_long } from '../syscalls/table.js';
import * as NR from '../syscalls/numbers.js';
import {
  CAP_SETGID,
  CAP_SETUID,
  CAP_SYS_BOOT,
  CAP_SYS_RESOURCE,
  CAP_SYS_NICE,
  PF_NO_SETAFFINITY,
  RLIM_NLIMITS,
  RLIMIT_NOFILE,
  SIGALRM,
  SIGKILL,
  SIGSEGV,
  SIGSTOP,
  SIG_DFL,
  TASK_INTERRUPTIBLE,
  TASK_RUNNING,
  SIG_IGN,
  _NSIG,
  has_capability,
  type TaskStruct,
} from '../sched/task.js';
import { CPUMASK_SIZE, cond_resched, cpu_active_mask, current, nr_cpu_ids, schedule, set_cpus_allowed_ptr, set_current_state, yield_task } from '../sched/core.js';
import { EFAULT, EINVAL, EPERM, ESRCH, EINTR, ERESTARTNOHAND } from '../lib/errno.js';
import { copy_from_user, copy_to_user, put_user, get_user, get_user_u64n } from '../lib/uaccess.js';
import { find_task_by_vpid, tasks_by_pid } from './pid.js';
import {
  SS_AUTODISARM,
  SI_TKILL,
  UAPI_SA_FLAGS,
  blockable,
  do_sigaltstack,
  force_sig,
  forget_syscall,
  kill_ok_by_cred,
  restore_sigframe,
  sas_ss_flags,
  send_sig,
  sig_kernel_ignore,
  signal_pending,
  sigmask,
  user_info,
  valid_signal,
} from './signal.js';
import { do_group_exit_prepare, do_wait } from './exit.js';
import { TaskExitUnwind, W_EXITCODE } from './unwind.js';
import { CLONE_THREAD, kernel_clone, pending_child_start } from './fork.js';
import {
  LINUX_REBOOT_CMD_POWER_OFF,
  LINUX_REBOOT_CMD_RESTART,
  LINUX_REBOOT_CMD_HALT,
  LINUX_REBOOT_CMD_CAD_OFF,
  LINUX_REBOOT_CMD_CAD_ON,
  LINUX_REBOOT_MAGIC1,
  LINUX_REBOOT_MAGIC2,
  LINUX_REBOOT_MAGIC2A,
  LINUX_REBOOT_MAGIC2B,
  LINUX_REBOOT_MAGIC2C,
  kernel_power_off,
  kernel_restart,
} from './reboot.js';
import { HrTimer, hrtimer_cancel, hrtimer_start, ktime_get } from '../time/hrtimer.js';
import { nanosleep_until } from '../time/sleep.js';
import { get_timespec_ns } from '../fs/select.js';
import { NR_OPEN } from '../fs/file.js';

// ---- identity ----

function* sys_getpid(): Generator<unknown, number, unknown> {
  return current().tgid;
}
function* sys_gettid(): Generator<unknown, number, unknown> {
  return current().pid;
}
function* sys_getppid(): Generator<unknown, number, unknown> {
  return current().group_leader.real_parent?.tgid ?? 0;
}
function* sys_getuid(): Generator<unknown, number, unknown> {
  return current().cred.uid;
}
function* sys_geteuid(): Generator<unknown, number, unknown> {
  return current().cred.euid;
}
function* sys_getgid(): Generator<unknown, number, unknown> {
  return current().cred.gid;
}
function* sys_getegid(): Generator<unknown, number, unknown> {
  return current().cred.egid;
}

/** setuid(2): root sets all ids; others may set euid to uid or suid. Leaving root drops capabilities. */
function* sys_setuid(uid: number): Generator<unknown, number, unknown> {
  const u = sys_int(uid);
  if (u < 0) return -EINVAL;
  const t = current();
  const c = t.cred;
  if (has_capability(t, CAP_SETUID)) {
    c.uid = c.euid = c.suid = c.fsuid = u;
  } else if (u === c.uid || u === c.suid) {
    c.euid = c.fsuid = u;
  } else return -EPERM;
  // cap_emulate_setxuid: all uids non-zero -> capabilities are gone.
  if (c.uid !== 0 && c.euid !== 0 && c.suid !== 0) {
    c.cap_effective = 0;
    c.cap_permitted = 0;
  } else if (c.euid === 0) c.cap_effective = c.cap_permitted;
  else c.cap_effective = 0;
  return 0;
}

function* sys_setgid(gid: number): Generator<unknown, number, unknown> {
  const g = sys_int(gid);
  if (g < 0) return -EINVAL;
  const t = current();
  const c = t.cred;
  if (has_capability(t, CAP_SETGID)) c.gid = c.egid = c.sgid = c.fsgid = g;
  else if (g === c.gid || g === c.sgid) c.egid = c.fsgid = g;
  else return -EPERM;
  return 0;
}

/** A live process (thread-group leader) whose process group is `pgrp`. */
function pgrp_member(pgrp: number): TaskStruct | undefined {
  return tasks_by_pid().find((t) => t.pgid === pgrp && t.pid === t.tgid && t.exit_state === 0);
}

/**
 * setpgid (kernel/sys.c): the caller or one of its children (exec is not tracked, so
 * no EACCES) joins or makes a process group of its own session. A session
 * leader cannot move (EPERM), nor can a child in another session (EPERM); the group
 * joined must exist in the caller's session (EPERM).
 */
function* sys_setpgid(pid: number, pgid: number): Generator<unknown, number, unknown> {
  const me = current().group_leader;
  const want = sys_int(pid);
  const g0 = sys_int(pgid);
  if (g0 < 0) return -EINVAL;
  const p = want === 0 ? me : find_task_by_vpid(want);
  if (p === undefined || p.exit_state !== 0) return -ESRCH;
  if (p.pid !== p.tgid) return -EINVAL;
  const g = g0 === 0 ? p.pid : g0;
  if (p.real_parent?.tgid === me.tgid) {
    if (p.sid !== me.sid) return -EPERM;
  } else if (p !== me) return -ESRCH;
  if (p.signal.leader) return -EPERM;
  if (g !== p.pid) {
    const member = pgrp_member(g);
    if (member === undefined || member.sid !== me.sid) return -EPERM;
  }
  for (const t of p.thread_group) t.pgid = g;
  return 0;
}

function* sys_getpgid(pid: number): Generator<unknown, number, unknown> {
  const p = sys_int(pid) === 0 ? current() : find_task_by_vpid(sys_int(pid));
  return p === undefined ? -ESRCH : p.pgid;
}

/** getsid: the session of `pid` (0: the caller). */
function* sys_getsid(pid: number): Generator<unknown, number, unknown> {
  const p = sys_int(pid) === 0 ? current() : find_task_by_vpid(sys_int(pid));
  return p === undefined || p.exit_state !== 0 ? -ESRCH : p.sid;
}

/**
 * setsid (ksys_setsid): a new session and process group named after the caller, with no
 * controlling terminal (proc_clear_tty). EPERM for a session leader or when a process
 * group with the caller's PID exists.
 */
function* sys_setsid(): Generator<unknown, number, unknown> {
  const me = current().group_leader;
  if (me.signal.leader) return -EPERM;
  if (tasks_by_pid().some((t) => t.pgid === me.pid && t.exit_state === 0)) return -EPERM;
  me.signal.leader = true;
  me.signal.tty = null;
  for (const t of me.thread_group) {
    t.sid = me.pid;
    t.pgid = me.pid;
  }
  return me.pid;
}

// ---- uname ----

export const UTS_SYSNAME = 'Linux';
export const UTS_RELEASE = '6.6.0-svasoc';
export const UTS_VERSION = '#1 SMP PREEMPT svasoc';
export const UTS_MACHINE = 'aarch64';
export const uts = { nodename: 'svasoc', domainname: '(none)' };

function* sys_uname(name: number): Generator<unknown, number, unknown> {
  // struct new_utsname: six 65-byte fields.
  const b = new Uint8Array(6 * 65);
  const fields = [UTS_SYSNAME, uts.nodename, UTS_RELEASE, UTS_VERSION, UTS_MACHINE, uts.domainname];
  fields.forEach((s, i) => b.set(new TextEncoder().encode(s).subarray(0, 64), 65 * i));
  return copy_to_user(name, b, b.length) === 0 ? 0 : -EFAULT;
}

// ---- resource limits ----

const RLIM64_INFINITY = 0xffffffffffffffffn;

function rlim_to_user(v: number): bigint {
  return v === Infinity ? RLIM64_INFINITY : BigInt(v);
}

function rlim_from_user(v: bigint): number {
  return v >= RLIM64_INFINITY ? Infinity : Number(v);
}

/** do_prlimit: reads (old) and sets (new) one limit of `tsk`; 0 or -errno. */
function do_prlimit(tsk: TaskStruct, resource: number, newLim: { cur: number; max: number } | null, oldOut: { cur: number; max: number } | null): number {
  if (resource < 0 || resource >= RLIM_NLIMITS) return -EINVAL;
  const r = tsk.signal.rlim[resource]!;
  if (newLim !== null) {
    if (newLim.cur > newLim.max) return -EINVAL;
    if (resource === RLIMIT_NOFILE && newLim.max > NR_OPEN) return -EPERM;
    if (newLim.max > r.rlim_max && !has_capability(current(), CAP_SYS_RESOURCE)) return -EPERM;
  }
  if (oldOut !== null) {
    oldOut.cur = r.rlim_cur;
    oldOut.max = r.rlim_max;
  }
  if (newLim !== null) {
    r.rlim_cur = newLim.cur;
    r.rlim_max = newLim.max;
  }
  return 0;
}

function read_rlimit(uaddr: number): { cur: number; max: number } | number {
  const b = new Uint8Array(16);
  if (copy_from_user(b, uaddr, 16) !== 0) return -EFAULT;
  const v = new DataView(b.buffer);
  return { cur: rlim_from_user(v.getBigUint64(0, true)), max: rlim_from_user(v.getBigUint64(8, true)) };
}

function write_rlimit(uaddr: number, lim: { cur: number; max: number }): number {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, rlim_to_user(lim.cur), true);
  v.setBigUint64(8, rlim_to_user(lim.max), true);
  return copy_to_user(uaddr, b, 16) === 0 ? 0 : -EFAULT;
}

function* sys_getrlimit(resource: number, rlim: number): Generator<unknown, number, unknown> {
  const old = { cur: 0, max: 0 };
  const r = do_prlimit(current(), sys_uint(resource), null, old);
  if (r < 0) return r;
  return write_rlimit(rlim, old);
}

function* sys_setrlimit(resource: number, rlim: number): Generator<unknown, number, unknown> {
  const n = read_rlimit(rlim);
  if (typeof n === 'number') return n;
  return do_prlimit(current(), sys_uint(resource), n, null);
}

function* sys_prlimit64(pid: number, resource: number, newRlim: number, oldRlim: number): Generator<unknown, number, unknown> {
  const me = current();
  const p = sys_int(pid);
  const tsk = p === 0 ? me : find_task_by_vpid(p);
  if (tsk === undefined) return -ESRCH;
  let n: { cur: number; max: number } | null = null;
  if (newRlim !== 0) {
    const r = read_rlimit(newRlim);
    if (typeof r === 'number') return r;
    n = r;
  }
  if (tsk !== me) {
    const c = me.cred;
    const t = tsk.cred;
    const same = c.uid === t.euid && c.uid === t.suid && c.uid === t.uid && c.gid === t.egid && c.gid === t.sgid && c.gid === t.gid;
    if (!same && !has_capability(me, CAP_SYS_RESOURCE)) return -EPERM;
  }
  const old = { cur: 0, max: 0 };
  const r = do_prlimit(tsk, sys_uint(resource), n, oldRlim !== 0 ? old : null);
  if (r < 0) return r;
  if (oldRlim !== 0) return write_rlimit(oldRlim, old);
  return 0;
}

// ---- reboot ----

function* sys_reboot(magic1: number, magic2: number, cmd: number, arg: number): Generator<unknown, number, unknown> {
  if (!has_capability(current(), CAP_SYS_BOOT)) return -EPERM;
  const m2 = sys_uint(magic2);
  if (sys_uint(magic1) !== LINUX_REBOOT_MAGIC1 || (m2 !== LINUX_REBOOT_MAGIC2 && m2 !== LINUX_REBOOT_MAGIC2A && m2 !== LINUX_REBOOT_MAGIC2B && m2 !== LINUX_REBOOT_MAGIC2C)) return -EINVAL;
  switch (sys_uint(cmd)) {
    case LINUX_REBOOT_CMD_POWER_OFF:
    case LINUX_REBOOT_CMD_HALT:
      // svasoc: x3 (Linux's `arg`, unused by POWER_OFF) carries the power-off code,
      // which the machine reports as its exit status.
      kernel_power_off(sys_uint(arg ?? 0) & 0xff);
      return 0;
    case LINUX_REBOOT_CMD_RESTART:
      kernel_restart();
      return 0;
    case LINUX_REBOOT_CMD_CAD_ON:
    case LINUX_REBOOT_CMD_CAD_OFF:
      return 0;
    default:
      return -EINVAL;
  }
}

// ---- exit / wait / clone ----

function* sys_exit(code: number): Generator<unknown, number, unknown> {
  throw new TaskExitUnwind(W_EXITCODE(sys_int(code), 0), false);
}

function* sys_exit_group(code: number): Generator<unknown, number, unknown> {
  const c = do_group_exit_prepare(W_EXITCODE(sys_int(code), 0));
  throw new TaskExitUnwind(c, true);
}

function* sys_wait4(upid: number, stat_addr: number, options: number, ru: number): Generator<unknown, number, unknown> {
  const r = yield* do_wait(sys_int(upid), sys_int(options));
  if (typeof r === 'number') return r;
  if (stat_addr !== 0 && put_user(r.status, stat_addr, 4) < 0) return -EFAULT;
  if (ru !== 0) {
    // struct rusage: ru_utime (timeval) first; the rest zero.
    const b = new Uint8Array(144);
    const v = new DataView(b.buffer);
    v.setBigInt64(0, BigInt(Math.floor(r.utimeNs / 1e9)), true);
    v.setBigInt64(8, BigInt(Math.floor((r.utimeNs % 1e9) / 1000)), true);
    if (copy_to_user(ru, b, b.length) !== 0) return -EFAULT;
  }
  return r.pid;
}

/** arm64 clone(flags, newsp, parent_tidptr, tls, child_tidptr). */
function* sys_clone(flags: number, newsp: number, parent_tid: number, tls: number, child_tid: number): Generator<unknown, number, unknown> {
  const f = sys_uint(flags);
  const start = pending_child_start();
  return kernel_clone({ flags: f & ~0xff, stack: newsp, parent_tid, child_tid, tls, exit_signal: f & CLONE_THREAD ? 0 : f & 0xff }, start);
}

function* sys_set_tid_address(tidptr: number): Generator<unknown, number, unknown> {
  const t = current();
  t.clear_child_tid = tidptr;
  return t.pid;
}

// ---- signals ----

function kill_one(sig: number, t: TaskStruct): number {
  if (!kill_ok_by_cred(current(), t)) return -EPERM;
  send_sig(sig, t, true, false, user_info(sig, current()));
  return 0;
}

function* sys_kill(pid: number, sig: number): Generator<unknown, number, unknown> {
  const p = sys_int(pid);
  const s = sys_int(sig);
  if (!valid_signal(s)) return -EINVAL;
  const me = current();
  if (p > 0) {
    const t = find_task_by_vpid(p);
    if (t === undefined || t.exit_state !== 0 || t.pid !== t.tgid) return -ESRCH;
    return kill_one(s, t);
  }
  let targets: TaskStruct[];
  if (p === 0) targets = tasks_by_pid().filter((t) => t.pgid === me.pgid && t.pid === t.tgid);
  else if (p === -1) targets = tasks_by_pid().filter((t) => t.pid > 1 && t.tgid !== me.tgid && t.pid === t.tgid && t.mm !== null);
  else targets = tasks_by_pid().filter((t) => t.pgid === -p && t.pid === t.tgid);
  targets = targets.filter((t) => t.exit_state === 0);
  if (targets.length === 0) return -ESRCH;
  let ok = 0;
  let err = -EPERM;
  for (const t of targets) {
    const r = kill_one(s, t);
    if (r === 0) ok++;
    else err = r;
  }
  return ok > 0 ? 0 : err;
}

function* sys_tgkill(tgid: number, pid: number, sig: number): Generator<unknown, number, unknown> {
  const s = sys_int(sig);
  if (!valid_signal(s) || sys_int(pid) <= 0) return -EINVAL;
  const t = find_task_by_vpid(sys_int(pid));
  if (t === undefined || (sys_int(tgid) > 0 && t.tgid !== sys_int(tgid)) || t.exit_state !== 0) return -ESRCH;
  if (!kill_ok_by_cred(current(), t)) return -EPERM;
  send_sig(s, t, false, false, user_info(s, current(), SI_TKILL));
  return 0;
}

function* sys_tkill(pid: number, sig: number): Generator<unknown, number, unknown> {
  return yield* sys_tgkill(-1, pid, sig);
}

/**
 * rt_sigaction (kernel/signal.c do_sigaction) with the arm64 struct sigaction: sa_handler,
 * sa_flags, sa_restorer, sa_mask, 8 bytes each. A handler is a user address the signal
 * delivery points the PC at (see do_signal). SIGKILL and SIGSTOP cannot be caught or
 * ignored; unknown sa_flags bits are dropped (UAPI_SA_FLAGS); setting SIG_IGN (or SIG_DFL
 * for a default-ignored signal) discards the pending instances.
 * A handler for SIGSEGV/SIGBUS/SIGILL is stored and runs for those signals sent with
 * kill/tgkill, but a fault raised by an EL0 load or store still takes the default action:
 * the faulting access is a TypeScript call that cannot be suspended to run the handler.
 */
function* sys_rt_sigaction(sig: number, act: number, oact: number, sigsetsize: number): Generator<unknown, number, unknown> {
  const s = sys_int(sig);
  if (sys_uint(sigsetsize) !== 8) return -EINVAL;
  if (s < 1 || s > _NSIG) return -EINVAL;
  const t = current();
  const sa = t.signal;
  let nh = 0;
  let nf = 0;
  let nr = 0;
  let nm = 0;
  if (act !== 0) {
    const b = new Uint8Array(32);
    if (copy_from_user(b, act, 32) !== 0) return -EFAULT;
    const dv = new DataView(b.buffer);
    nh = Number(dv.getBigUint64(0, true));
    nf = Number(dv.getBigUint64(8, true) & BigInt(UAPI_SA_FLAGS));
    nr = Number(dv.getBigUint64(16, true));
    nm = blockable(Number(dv.getBigUint64(24, true) & 0x7fffffffn));
    if (s === SIGKILL || s === SIGSTOP) return -EINVAL;
  }
  if (oact !== 0) {
    const b = new Uint8Array(32);
    const dv = new DataView(b.buffer);
    dv.setBigUint64(0, BigInt(sa.action[s] ?? SIG_DFL), true);
    dv.setBigUint64(8, BigInt(sa.sa_flags[s]! >>> 0), true);
    dv.setBigUint64(16, BigInt(sa.sa_restorer[s]!), true);
    dv.setBigUint64(24, BigInt(sa.sa_mask[s]! >>> 0), true);
    if (copy_to_user(oact, b, 32) !== 0) return -EFAULT;
  }
  if (act !== 0) {
    sa.action[s] = nh;
    sa.sa_flags[s] = nf;
    sa.sa_restorer[s] = nr;
    sa.sa_mask[s] = nm;
    // sig_handler_ignored: pending instances of a now-ignored signal go, in every thread.
    if (nh === SIG_IGN || (nh === SIG_DFL && sig_kernel_ignore(s))) {
      for (const th of t.group_leader.thread_group) {
        th.pending &= ~sigmask(s);
        th.pending_info[s] = undefined;
      }
      sa.shared_pending &= ~sigmask(s);
      sa.shared_info[s] = undefined;
    }
  }
  return 0;
}

/**
 * rt_sigsuspend: waits with `unewset` as the mask until a signal is delivered. Always
 * -ERESTARTNOHAND: -EINTR once a handler ran (after which the old mask comes back with
 * rt_sigreturn), restarted when the signal had no handler.
 */
function* sys_rt_sigsuspend(unewset: number, sigsetsize: number): Generator<unknown, number, unknown> {
  if (sys_uint(sigsetsize) !== 8) return -EINVAL;
  const v = get_user_u64n(unewset);
  if (v === undefined) return -EFAULT;
  const t = current();
  t.saved_sigmask = t.blocked;
  t.blocked = blockable(Number(v & 0x7fffffffn));
  while (!signal_pending(t)) {
    set_current_state(TASK_INTERRUPTIBLE);
    if (signal_pending(t)) {
      set_current_state(TASK_RUNNING);
      break;
    }
    yield* schedule();
  }
  return -ERESTARTNOHAND;
}

/** rt_sigpending: the signals pending while blocked, private and shared. */
function* sys_rt_sigpending(uset: number, sigsetsize: number): Generator<unknown, number, unknown> {
  if (sys_uint(sigsetsize) !== 8) return -EINVAL;
  const t = current();
  return put_user(((t.pending | t.signal.shared_pending) & t.blocked) >>> 0, uset, 8) < 0 ? -EFAULT : 0;
}

// ---- interval timers (kernel/time/itimer.c): ITIMER_REAL only ----

export const ITIMER_REAL = 0;

/** it_real_fn: SIGALRM to the process (SEND_SIG_PRIV: si_code SI_KERNEL), re-armed by the interval. */
function it_real_fn(leader: TaskStruct): (timer: HrTimer) => void {
  return (timer) => {
    if (leader.exit_state !== 0 || leader.signal.live === 0) return;
    send_sig(SIGALRM, leader, true);
    const incr = leader.signal.it_real_incr;
    if (incr > 0) hrtimer_start(timer, timer.expires + incr);
  };
}

/** struct itimerval {it_interval, it_value}, each a struct timeval {tv_sec, tv_usec} of 8-byte fields. */
function put_itimerval(uaddr: number, intervalNs: number, valueNs: number): number {
  const b = new Uint8Array(32);
  const dv = new DataView(b.buffer);
  const us = (ns: number): [bigint, bigint] => {
    const u = Math.ceil(ns / 1000);
    return [BigInt(Math.floor(u / 1e6)), BigInt(u % 1e6)];
  };
  const [is, iu] = us(intervalNs);
  const [vs, vu] = us(valueNs);
  dv.setBigInt64(0, is, true);
  dv.setBigInt64(8, iu, true);
  dv.setBigInt64(16, vs, true);
  dv.setBigInt64(24, vu, true);
  return copy_to_user(uaddr, b, 32) === 0 ? 0 : -EFAULT;
}

/** The remaining time and interval of the caller's ITIMER_REAL. */
function itimer_real_get(t: TaskStruct): [number, number] {
  const timer = t.signal.real_timer;
  const left = timer !== null && timer.queued ? Math.max(1000, timer.expires - ktime_get()) : 0;
  return [t.signal.it_real_incr, left];
}

function* sys_getitimer(which: number, value: number): Generator<unknown, number, unknown> {
  if (sys_int(which) !== ITIMER_REAL) return -EINVAL; // ITIMER_VIRTUAL/PROF: no per-process CPU-time timers here
  const [incr, left] = itimer_real_get(current());
  return put_itimerval(value, incr, left);
}

/** setitimer(ITIMER_REAL): arms (value != 0) or disarms the timer; `ovalue` gets the old setting. */
function* sys_setitimer(which: number, value: number, ovalue: number): Generator<unknown, number, unknown> {
  if (sys_int(which) !== ITIMER_REAL) return -EINVAL;
  const t = current();
  let incr = 0;
  let val = 0;
  if (value !== 0) {
    const b = new Uint8Array(32);
    if (copy_from_user(b, value, 32) !== 0) return -EFAULT;
    const dv = new DataView(b.buffer);
    const f = [0, 8, 16, 24].map((o) => Number(dv.getBigInt64(o, true)));
    if (f.some((x, i) => x < 0 || (i % 2 === 1 && x >= 1e6))) return -EINVAL;
    incr = f[0]! * 1e9 + f[1]! * 1000;
    val = f[2]! * 1e9 + f[3]! * 1000;
  }
  const [oincr, oleft] = itimer_real_get(t);
  if (ovalue !== 0 && put_itimerval(ovalue, oincr, oleft) < 0) return -EFAULT;
  const sig = t.signal;
  if (sig.real_timer === null) sig.real_timer = new HrTimer(it_real_fn(t.group_leader));
  if (sig.real_timer.queued) hrtimer_cancel(sig.real_timer);
  sig.it_real_incr = val === 0 ? 0 : incr;
  if (val > 0) hrtimer_start(sig.real_timer, ktime_get() + val);
  return 0;
}

/** rt_sigreturn: back from a handler to the registers and mask its frame saved; a bad frame is SIGSEGV. */
function* sys_rt_sigreturn(): Generator<unknown, number, unknown> {
  const t = current();
  forget_syscall(t);
  if (!restore_sigframe(t, t.regs)) {
    force_sig(SIGSEGV, t);
    return 0;
  }
  return t.regs.x[0]!;
}

/** sigaltstack(ss, old_ss): stack_t is ss_sp (8), ss_flags (int, padded to 8), ss_size (8). */
function* sys_sigaltstack(uss: number, uoss: number): Generator<unknown, number, unknown> {
  const t = current();
  const sp = t.regs.sp;
  let ns: { sp: number; flags: number; size: number } | undefined;
  if (uss !== 0) {
    const b = new Uint8Array(24);
    if (copy_from_user(b, uss, 24) !== 0) return -EFAULT;
    const dv = new DataView(b.buffer);
    ns = { sp: Number(dv.getBigUint64(0, true)), flags: dv.getInt32(8, true) >>> 0, size: Number(dv.getBigUint64(16, true)) };
  }
  if (uoss !== 0) {
    const b = new Uint8Array(24);
    const dv = new DataView(b.buffer);
    dv.setBigUint64(0, BigInt(t.sas_ss_sp), true);
    dv.setInt32(8, sas_ss_flags(t, sp) | (t.sas_ss_flags & SS_AUTODISARM), true);
    dv.setBigUint64(16, BigInt(t.sas_ss_size), true);
    if (copy_to_user(uoss, b, 24) !== 0) return -EFAULT;
  }
  return ns === undefined ? 0 : do_sigaltstack(t, ns, sp);
}

function* sys_rt_sigprocmask(how: number, nset: number, oset: number, sigsetsize: number): Generator<unknown, number, unknown> {
  if (sys_uint(sigsetsize) !== 8) return -EINVAL;
  const t = current();
  if (oset !== 0 && put_user(t.blocked >>> 0, oset, 8) < 0) return -EFAULT;
  if (nset === 0) return 0;
  const v = get_user(nset, 8);
  if (v === undefined) return -EFAULT;
  const m = blockable(v);
  switch (sys_int(how)) {
    case 0:
      t.blocked |= m;
      break;
    case 1:
      t.blocked &= ~m;
      break;
    case 2:
      t.blocked = m;
      break;
    default:
      return -EINVAL;
  }
  return 0;
}

// ---- time ----

export const CLOCK_REALTIME = 0;
export const CLOCK_MONOTONIC = 1;
export const CLOCK_PROCESS_CPUTIME_ID = 2;
export const CLOCK_THREAD_CPUTIME_ID = 3;
export const CLOCK_MONOTONIC_RAW = 4;
export const CLOCK_REALTIME_COARSE = 5;
export const CLOCK_MONOTONIC_COARSE = 6;
export const CLOCK_BOOTTIME = 7;
/** The realtime clock starts at the Unix epoch of the image's build (no RTC): 2026-01-01T00:00:00Z. */
export const REALTIME_EPOCH_S = 1767225600;

function clock_ns(which: number): number | undefined {
  switch (which) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE:
      return REALTIME_EPOCH_S * 1e9 + ktime_get();
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:
      return ktime_get();
    case CLOCK_PROCESS_CPUTIME_ID:
    case CLOCK_THREAD_CPUTIME_ID:
      return current().sum_exec_runtime;
    default:
      return undefined;
  }
}

function put_timespec(uaddr: number, ns: number): number {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setBigInt64(0, BigInt(Math.floor(ns / 1e9)), true);
  v.setBigInt64(8, BigInt(Math.floor(ns % 1e9)), true);
  return copy_to_user(uaddr, b, 16) === 0 ? 0 : -EFAULT;
}

function* sys_clock_gettime(which: number, tp: number): Generator<unknown, number, unknown> {
  const ns = clock_ns(sys_int(which));
  if (ns === undefined) return -EINVAL;
  return put_timespec(tp, ns);
}

function* sys_gettimeofday(tv: number): Generator<unknown, number, unknown> {
  if (tv === 0) return 0;
  const ns = REALTIME_EPOCH_S * 1e9 + ktime_get();
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setBigInt64(0, BigInt(Math.floor(ns / 1e9)), true);
  v.setBigInt64(8, BigInt(Math.floor((ns % 1e9) / 1000)), true);
  return copy_to_user(tv, b, 16) === 0 ? 0 : -EFAULT;
}

function* sys_nanosleep(rqtp: number, rmtp: number): Generator<unknown, number, unknown> {
  const ns = get_timespec_ns(rqtp);
  if (ns < 0) return ns;
  const left = yield* nanosleep_until(ktime_get() + ns);
  if (left > 0) {
    if (rmtp !== 0) put_timespec(rmtp, left);
    return -EINTR;
  }
  return 0;
}

export const TIMER_ABSTIME = 1;

function* sys_clock_nanosleep(which: number, flags: number, rqtp: number, rmtp: number): Generator<unknown, number, unknown> {
  const w = sys_int(which);
  if (w !== CLOCK_REALTIME && w !== CLOCK_MONOTONIC && w !== CLOCK_BOOTTIME) return -EINVAL;
  const ns = get_timespec_ns(rqtp);
  if (ns < 0) return ns;
  const abs = (sys_int(flags) & TIMER_ABSTIME) !== 0;
  const deadline = abs ? ns - (w === CLOCK_REALTIME ? REALTIME_EPOCH_S * 1e9 : 0) : ktime_get() + ns;
  const left = yield* nanosleep_until(deadline);
  if (left > 0) {
    if (rmtp !== 0 && !abs) put_timespec(rmtp, left);
    return -EINTR;
  }
  return 0;
}

function* sys_sched_yield(): Generator<unknown, number, unknown> {
  yield* yield_task();
  return 0;
}

// ---- CPU affinity (kernel/sched/syscalls.c) ----

/** find_process_by_pid: 0 is the caller; any thread id names that thread. */
function find_process_by_pid(pid: number): TaskStruct | undefined {
  return pid === 0 ? current() : find_task_by_vpid(pid);
}

/** check_same_owner: the caller's euid is the target's euid or uid. */
function check_same_owner(p: TaskStruct): boolean {
  const me = current().cred;
  return me.euid === p.cred.euid || me.euid === p.cred.uid;
}

/**
 * sched_setaffinity(pid, len, mask): a mask shorter than cpumask_size() is zero-extended,
 * a longer one is cut to it. The task may then run only on the mask's online CPUs and
 * moves if its core is not one of them (the caller itself before returning to user space).
 */
function* sys_sched_setaffinity(pid: number, len: number, user_mask_ptr: number): Generator<unknown, number, unknown> {
  const b = new Uint8Array(CPUMASK_SIZE);
  const n = Math.min(sys_uint(len), CPUMASK_SIZE);
  if (copy_from_user(b, user_mask_ptr, n) !== 0) return -EFAULT;
  // CPUs of this kernel are numbered below 32: the low word holds every one of them.
  const mask = (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
  const p = find_process_by_pid(sys_int(pid));
  if (p === undefined) return -ESRCH;
  if (p.flags & PF_NO_SETAFFINITY) return -EINVAL;
  if (!check_same_owner(p) && !has_capability(current(), CAP_SYS_NICE)) return -EPERM;
  const r = set_cpus_allowed_ptr(p, mask);
  if (r === 0 && p === current()) yield* cond_resched();
  return r;
}

/** sched_getaffinity(pid, len, mask): the task's mask of online CPUs; returns the bytes written. */
function* sys_sched_getaffinity(pid: number, len: number, user_mask_ptr: number): Generator<unknown, number, unknown> {
  const n = sys_uint(len);
  if (n * 8 < nr_cpu_ids()) return -EINVAL;
  if (n & 7) return -EINVAL;
  const p = find_process_by_pid(sys_int(pid));
  if (p === undefined) return -ESRCH;
  const mask = (p.cpus_mask & cpu_active_mask()) >>> 0;
  const b = new Uint8Array(CPUMASK_SIZE);
  new DataView(b.buffer).setUint32(0, mask, true);
  const retlen = Math.min(n, CPUMASK_SIZE);
  return copy_to_user(user_mask_ptr, b, retlen) === 0 ? retlen : -EFAULT;
}

/** getrandom: a deterministic xorshift stream (seeded per boot), so runs repeat. */
let rngState = 0x2545f491;
export function random_init(seed: number): void {
  rngState = (seed >>> 0) || 0x2545f491;
}
function* sys_getrandom(buf: number, count: number, flags: number): Generator<unknown, number, unknown> {
  if (sys_uint(flags) & ~7) return -EINVAL;
  const n = Math.min(sys_long(count), 33554431);
  if (n < 0) return -EINVAL;
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    rngState ^= rngState << 13;
    rngState ^= rngState >>> 17;
    rngState ^= rngState << 5;
    rngState >>>= 0;
    b[i] = rngState & 0xff;
  }
  return copy_to_user(buf, b, n) === 0 ? n : -EFAULT;
}

/** sysinfo: uptime, RAM figures from the mm (through a hook), process count. */
let sysinfoMem: () => { totalram: number; freeram: number } = () => ({ totalram: 0, freeram: 0 });
export function set_sysinfo_mem(fn: () => { totalram: number; freeram: number }): void {
  sysinfoMem = fn;
}
function* sys_sysinfo(info: number): Generator<unknown, number, unknown> {
  const b = new Uint8Array(112);
  const v = new DataView(b.buffer);
  const m = sysinfoMem();
  v.setBigInt64(0, BigInt(Math.floor(ktime_get() / 1e9)), true);
  v.setBigUint64(32, BigInt(m.totalram), true);
  v.setBigUint64(40, BigInt(m.freeram), true);
  v.setUint16(80, tasks_by_pid().length, true);
  v.setUint32(104, 1, true); // mem_unit
  return copy_to_user(info, b, b.length) === 0 ? 0 : -EFAULT;
}

// prctl: PR_SET_NAME (15) and PR_GET_NAME (16) only.
function* sys_prctl(option: number, arg2: number): Generator<unknown, number, unknown> {
  const t = current();
  switch (sys_int(option)) {
    case 15: {
      const b = new Uint8Array(16);
      if (copy_from_user(b, arg2, 16) !== 0) return -EFAULT;
      const end = b.indexOf(0);
      t.comm = new TextDecoder().decode(b.subarray(0, end < 0 ? 15 : Math.min(end, 15)));
      return 0;
    }
    case 16: {
      const b = new Uint8Array(16);
      b.set(new TextEncoder().encode(t.comm).subarray(0, 15));
      return copy_to_user(arg2, b, 16) === 0 ? 0 : -EFAULT;
    }
    default:
      return -EINVAL;
  }
}

registerSyscall(NR.__NR_getpid, 'getpid', sys_getpid);
registerSyscall(NR.__NR_gettid, 'gettid', sys_gettid);
registerSyscall(NR.__NR_getppid, 'getppid', sys_getppid);
registerSyscall(NR.__NR_getuid, 'getuid', sys_getuid);
registerSyscall(NR.__NR_geteuid, 'geteuid', sys_geteuid);
registerSyscall(NR.__NR_getgid, 'getgid', sys_getgid);
registerSyscall(NR.__NR_getegid, 'getegid', sys_getegid);
registerSyscall(NR.__NR_setuid, 'setuid', sys_setuid);
registerSyscall(NR.__NR_setgid, 'setgid', sys_setgid);
registerSyscall(NR.__NR_setpgid, 'setpgid', sys_setpgid);
registerSyscall(NR.__NR_getpgid, 'getpgid', sys_getpgid);
registerSyscall(NR.__NR_getsid, 'getsid', sys_getsid);
registerSyscall(NR.__NR_setsid, 'setsid', sys_setsid);
registerSyscall(NR.__NR_uname, 'uname', sys_uname);
registerSyscall(NR.__NR_getrlimit, 'getrlimit', sys_getrlimit);
registerSyscall(NR.__NR_setrlimit, 'setrlimit', sys_setrlimit);
registerSyscall(NR.__NR_prlimit64, 'prlimit64', sys_prlimit64);
registerSyscall(NR.__NR_reboot, 'reboot', sys_reboot);
registerSyscall(NR.__NR_exit, 'exit', sys_exit);
registerSyscall(NR.__NR_exit_group, 'exit_group', sys_exit_group);
registerSyscall(NR.__NR_wait4, 'wait4', sys_wait4);
registerSyscall(NR.__NR_clone, 'clone', sys_clone);
registerSyscall(NR.__NR_set_tid_address, 'set_tid_address', sys_set_tid_address);
registerSyscall(NR.__NR_kill, 'kill', sys_kill);
registerSyscall(NR.__NR_tkill, 'tkill', sys_tkill);
registerSyscall(NR.__NR_tgkill, 'tgkill', sys_tgkill);
registerSyscall(NR.__NR_rt_sigaction, 'rt_sigaction', sys_rt_sigaction);
registerSyscall(NR.__NR_rt_sigprocmask, 'rt_sigprocmask', sys_rt_sigprocmask);
registerSyscall(NR.__NR_rt_sigreturn, 'rt_sigreturn', sys_rt_sigreturn);
registerSyscall(NR.__NR_rt_sigsuspend, 'rt_sigsuspend', sys_rt_sigsuspend);
registerSyscall(NR.__NR_rt_sigpending, 'rt_sigpending', sys_rt_sigpending);
registerSyscall(NR.__NR_getitimer, 'getitimer', sys_getitimer);
registerSyscall(NR.__NR_setitimer, 'setitimer', sys_setitimer);
registerSyscall(NR.__NR_sigaltstack, 'sigaltstack', sys_sigaltstack);
registerSyscall(NR.__NR_clock_gettime, 'clock_gettime', sys_clock_gettime);
registerSyscall(NR.__NR_gettimeofday, 'gettimeofday', sys_gettimeofday);
registerSyscall(NR.__NR_nanosleep, 'nanosleep', sys_nanosleep);
registerSyscall(NR.__NR_clock_nanosleep, 'clock_nanosleep', sys_clock_nanosleep);
registerSyscall(NR.__NR_sched_yield, 'sched_yield', sys_sched_yield);
registerSyscall(NR.__NR_sched_setaffinity, 'sched_setaffinity', sys_sched_setaffinity);
registerSyscall(NR.__NR_sched_getaffinity, 'sched_getaffinity', sys_sched_getaffinity);
registerSyscall(NR.__NR_getrandom, 'getrandom', sys_getrandom);
registerSyscall(NR.__NR_sysinfo, 'sysinfo', sys_sysinfo);
registerSyscall(NR.__NR_prctl, 'prctl', sys_prctl);

