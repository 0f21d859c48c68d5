// Signals (kernel/signal.c, arch/arm64/kernel/signal.c). A signal is delivered on the
// way back to EL0 (system-call return and the YIELD preemption point): a user handler
// gets an arm64 rt_sigframe on its stack and the EL0 registers are pointed at it
// (x0 = sig, x1 = &siginfo, x2 = &ucontext, x30 = sa_restorer, pc = sa_handler);
// rt_sigreturn restores the interrupted registers and mask from that frame. A signal
// with the default action terminates the process or is ignored (SIGCHLD, SIGURG,
// SIGWINCH, SIGCONT); stop signals are treated as ignored (no job control). init (the
// global init, tgid 1) is SIGNAL_UNKILLABLE: signals user space sends it are dropped
// unless it installed a handler; only the kernel's own forced kills and fault signals
// reach it with the default action. Only signals 1..31 exist (no real-time queue).
//
// Synchronous fault signals (SIGSEGV, SIGBUS, SIGILL from an EL0 access) keep their
// default action even with a handler installed: user code is TypeScript, and a fault
// is taken inside a load or store that cannot be suspended to run a handler and then
// retried (arch/fault.ts kills the task there). Handlers run for signals sent by
// kill/tgkill/the kernel (SIGCHLD, SIGPIPE, SIGINT from the tty...).

import { try_to_wake_up } from '../sched/core.js';
import { copy_from_user, copy_to_user } from '../lib/uaccess.js';
import { TaskExitUnwind } from './unwind.js';
import { EINTR, EINVAL, ENOMEM, EPERM, ERESTARTNOHAND, ERESTARTNOINTR, ERESTARTSYS, ERESTART_RESTARTBLOCK } from '../lib/errno.js';
import {
  SIGSEGV,
  SIG_DFL,
  type KSigInfo,
  type PtRegs,
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

/** sig_kernel_ignore: signals whose default action is to be ignored. */
export function sig_kernel_ignore(sig: number): boolean {
  return sig_default_ignored(sig);
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
  if (is_global_init(task) && action === SIG_DFL && !(force && (sig === SIGKILL || sig === SIGSTOP))) return true;
  if (sig === SIGKILL) return false;
  // A blocked signal is kept even when ignored: the action may change before it is unblocked.
  if (task.blocked & sigmask(sig)) return false;
  if (action !== SIG_DFL) return action === SIG_IGN;
  return sig_default_ignored(sig);
}

// si_code values (include/uapi/asm-generic/siginfo.h).
export const SI_USER = 0;
export const SI_KERNEL = 0x80;
export const SI_TKILL = -6;
export const CLD_EXITED = 1;
export const CLD_KILLED = 2;
export const CLD_DUMPED = 3;

// sa_flags (include/uapi/asm-generic/signal-defs.h, arm64 SA_RESTORER).
export const SA_NOCLDSTOP = 0x00000001;
export const SA_NOCLDWAIT = 0x00000002;
export const SA_SIGINFO = 0x00000004;
export const SA_RESTORER = 0x04000000;
export const SA_ONSTACK = 0x08000000;
export const SA_RESTART = 0x10000000;
export const SA_NODEFER = 0x40000000;
export const SA_RESETHAND = 0x80000000;
/** The flags rt_sigaction keeps (UAPI_SA_FLAGS): unknown bits read back as 0, so user space can probe them. */
export const UAPI_SA_FLAGS = (SA_NOCLDSTOP | SA_NOCLDWAIT | SA_SIGINFO | SA_RESTORER | SA_ONSTACK | SA_RESTART | SA_NODEFER | SA_RESETHAND) >>> 0;

// sigaltstack (include/uapi/linux/signal.h, arm64 MINSIGSTKSZ).
export const SS_ONSTACK = 1;
export const SS_DISABLE = 2;
export const SS_AUTODISARM = 0x80000000;
export const MINSIGSTKSZ = 5120;

/** Bits of a mask that exist (signals 1..31). */
const SIGSET_BITS = 0x7fffffff;

/**
 * sigset bits a task may block: everything but SIGKILL and SIGSTOP (sigdelsetmask in
 * set_current_blocked). `mask` may be a whole 64-bit sigset word as a Number. The mask of
 * the two is built per call: this module is evaluated inside an import cycle with
 * sched/task.ts, before the signal numbers exist.
 */
export function blockable(mask: number): number {
  return mask & SIGSET_BITS & ~(sigmask(SIGKILL) | sigmask(SIGSTOP));
}

/** The siginfo a sender fills when it gives none (SEND_SIG_NOINFO from the current task, or the kernel). */
function default_info(sig: number, sender: TaskStruct | undefined): KSigInfo {
  return sender === undefined ? { signo: sig, code: SI_KERNEL, pid: 0, uid: 0, status: 0 } : { signo: sig, code: SI_USER, pid: sender.tgid, uid: sender.cred.uid, status: 0 };
}

/**
 * send_signal to one thread (private) or the whole group (shared). sig 0 is a no-op.
 * `force`: sent by the kernel itself, which may SIGKILL even init's threads.
 * `info`: the siginfo the handler sees (SI_KERNEL when none is given).
 */
export function send_sig(sig: number, task: TaskStruct, group: boolean, force = false, info?: KSigInfo): void {
  if (sig === 0 || task.exit_state !== 0 || sig_ignored(task, sig, force)) return;
  const m = sigmask(sig);
  if (m === 0) return; // real-time signals are not modelled
  const i = info ?? default_info(sig, undefined);
  // A non-real-time signal already pending is not queued twice (legacy_queue): its first siginfo stands.
  if (group) {
    if ((task.signal.shared_pending & m) === 0) task.signal.shared_info[sig] = i;
    task.signal.shared_pending |= m;
  } else {
    if ((task.pending & m) === 0) task.pending_info[sig] = i;
    task.pending |= m;
  }
  const fatal = sig === SIGKILL;
  if (group) {
    for (const t of task.group_leader.thread_group.length > 0 ? task.group_leader.thread_group : [task]) signal_wake_up(t, fatal);
  } else signal_wake_up(task, fatal);
}

/** The siginfo kill(2) sends: SI_USER with the sender's tgid and real uid. */
export function user_info(sig: number, sender: TaskStruct, code = SI_USER): KSigInfo {
  return { ...default_info(sig, sender), code };
}

/** force_sig: a synchronous fault signal (SIGSEGV, SIGBUS) that cannot be ignored, with its default action. */
export function force_sig(sig: number, task: TaskStruct): void {
  task.signal.action[sig] = SIG_DFL;
  task.blocked &= ~sigmask(sig);
  task.pending |= sigmask(sig);
  task.pending_info[sig] = { signo: sig, code: SI_KERNEL, pid: 0, uid: 0, status: 0 };
}

/** The first deliverable signal (lowest number), cleared from the pending sets; 0 if none. */
export function dequeue_signal(task: TaskStruct): number {
  return dequeue_signal_info(task)?.signo ?? 0;
}

/** dequeue_signal with its siginfo (the private queue first, as Linux's dequeue_signal). */
function dequeue_signal_info(task: TaskStruct): KSigInfo | undefined {
  const d = deliverable(task);
  if (d === 0) return undefined;
  const m = d & -d;
  const sig = 31 - Math.clz32(m) + 1;
  let info: KSigInfo | undefined;
  if (task.pending & m) {
    info = task.pending_info[sig];
    task.pending &= ~m;
    task.pending_info[sig] = undefined;
  } else {
    info = task.signal.shared_info[sig];
    task.signal.shared_pending &= ~m;
    task.signal.shared_info[sig] = undefined;
  }
  return info ?? default_info(sig, undefined);
}

// ---- delivery (arch/arm64/kernel/signal.c) ----

/** A signal get_signal chose for a user handler, with the action as it was (ksignal). */
interface KSignal {
  readonly info: KSigInfo;
  readonly handler: number;
  readonly flags: number;
  readonly restorer: number;
  readonly mask: number;
}

/**
 * get_signal: dequeues signals until one has a user handler (returned) or none is left
 * (undefined). Default-fatal signals end the process here (do_group_exit via the unwind);
 * ignored ones are dropped.
 */
function get_signal(task: TaskStruct): KSignal | undefined {
  for (;;) {
    if (task.signal.group_exit) throw new TaskExitUnwind(task.signal.group_exit_code, true);
    const info = dequeue_signal_info(task);
    if (info === undefined) return undefined;
    const sig = info.signo;
    const sa = task.signal;
    const handler = sa.action[sig] ?? SIG_DFL;
    if (handler === SIG_IGN) continue;
    if (handler !== SIG_DFL) {
      const ks: KSignal = { info, handler, flags: sa.sa_flags[sig]!, restorer: sa.sa_restorer[sig]!, mask: sa.sa_mask[sig]! };
      // SA_RESETHAND (SA_ONESHOT): the handler runs once; the default action is back for the next.
      if (ks.flags & SA_RESETHAND) {
        sa.action[sig] = SIG_DFL;
        sa.sa_flags[sig] = 0;
      }
      return ks;
    }
    if (sig_default_ignored(sig)) continue;
    // SIGNAL_UNKILLABLE: init's default-fatal signals are dropped unless the kernel forced them.
    if (is_global_init(task) && sig !== SIGKILL && info.code !== SI_KERNEL) continue;
    throw new TaskExitUnwind(sig, true);
  }
}

// struct rt_sigframe (arch/arm64/kernel/signal.c) = siginfo (128) + struct ucontext:
// uc_flags 0, uc_link 8, uc_stack 16 (ss_sp, ss_flags + pad, ss_size), uc_sigmask 40,
// 120 bytes of glibc's sigset padding, uc_mcontext (struct sigcontext, 16-aligned) at 176:
// fault_address 0, regs[31] 8, sp 256, pc 264, pstate 272, __reserved[4096] at 288.
export const SIGINFO_SIZE = 128;
const UC = SIGINFO_SIZE;
export const UC_STACK = UC + 16;
export const UC_SIGMASK = UC + 40;
export const UC_MCONTEXT = UC + 176;
export const SC_REGS = UC_MCONTEXT + 8;
export const SC_SP = UC_MCONTEXT + 256;
export const SC_PC = UC_MCONTEXT + 264;
export const SC_PSTATE = UC_MCONTEXT + 272;
export const SC_RESERVED = UC_MCONTEXT + 288;
const RESERVED_SIZE = 4096;
export const RT_SIGFRAME_SIZE = SC_RESERVED + RESERVED_SIZE;
/** struct frame_record {fp, lr} above the frame, so unwinders walk through a handler. */
const FRAME_RECORD_SIZE = 16;
/** siginfo offsets: si_signo 0, si_errno 4, si_code 8, then the union at 16 (_kill: pid 16, uid 20; _sigchld: status 24). */
const SI_PID = 16;
const SI_UID = 20;
const SI_STATUS = 24;
/** PSTATE bits a sigreturn may not set: M[4:0] other than EL0t, nRW (AArch32), D A I F. */
const PSTATE_BAD = 0x1f | 0x3c0;

function put64(dv: DataView, off: number, v: number): void {
  const b = Number.isInteger(v) ? BigInt(v) : 0n;
  dv.setBigUint64(off, BigInt.asUintN(64, b), true);
}

/** A 64-bit field read back as the signed Number the register file holds (exact below 2^53). */
function get64(dv: DataView, off: number): number {
  return Number(dv.getBigInt64(off, true));
}

function on_sig_stack(task: TaskStruct, sp: number): boolean {
  return task.sas_ss_size !== 0 && sp > task.sas_ss_sp && sp - task.sas_ss_sp <= task.sas_ss_size;
}

/** The uc_stack / sigaltstack view of the alternate stack (sas_ss_flags). */
export function sas_ss_flags(task: TaskStruct, sp: number): number {
  if (task.sas_ss_size === 0) return SS_DISABLE;
  return on_sig_stack(task, sp) ? SS_ONSTACK : 0;
}

/**
 * setup_rt_frame: the frame on the user stack (or the alternate stack for SA_ONSTACK) and
 * the registers for the handler. False when the stack cannot take it (the caller forces SIGSEGV).
 */
function setup_rt_frame(task: TaskStruct, regs: PtRegs, ks: KSignal): boolean {
  let sp = regs.sp;
  const ssFlags = sas_ss_flags(task, sp);
  if (ks.flags & SA_ONSTACK && ssFlags === 0) sp = task.sas_ss_sp + task.sas_ss_size;
  if (!Number.isSafeInteger(sp) || sp < 0) return false;
  const record = Math.floor((sp - FRAME_RECORD_SIZE) / 16) * 16;
  const frame = Math.floor((record - RT_SIGFRAME_SIZE) / 16) * 16;
  if (frame < 0) return false;
  const buf = new Uint8Array(record + FRAME_RECORD_SIZE - frame);
  const dv = new DataView(buf.buffer);
  const info = ks.info;
  // The siginfo is filled only for SA_SIGINFO handlers (x1/x2 are left alone otherwise, as arm64 does).
  const siginfo = (ks.flags & SA_SIGINFO) !== 0;
  if (siginfo) {
    dv.setInt32(0, info.signo, true);
    dv.setInt32(8, info.code, true);
    dv.setInt32(SI_PID, info.pid, true);
    dv.setUint32(SI_UID, info.uid >>> 0, true);
    if (info.code >= CLD_EXITED && info.code <= CLD_DUMPED && info.signo === 17) dv.setInt32(SI_STATUS, info.status, true);
  }
  // ucontext: uc_flags and uc_link 0; __save_altstack; the mask to restore; the interrupted registers.
  put64(dv, UC_STACK, task.sas_ss_sp);
  dv.setInt32(UC_STACK + 8, ssFlags | (task.sas_ss_flags & SS_AUTODISARM), true);
  put64(dv, UC_STACK + 16, task.sas_ss_size);
  put64(dv, UC_SIGMASK, (task.saved_sigmask ?? task.blocked) >>> 0); // sigmask_to_save
  for (let i = 0; i < 31; i++) put64(dv, SC_REGS + 8 * i, regs.x[i]!);
  put64(dv, SC_SP, regs.sp);
  put64(dv, SC_PC, regs.pc);
  put64(dv, SC_PSTATE, regs.pstate);
  // __reserved: no FPSIMD record (this core has no FP/SIMD registers), the terminating null record (magic 0, size 0) first.
  put64(dv, record - frame, regs.x[29]!);
  put64(dv, record - frame + 8, regs.x[30]!);
  if (copy_to_user(frame, buf, buf.length) !== 0) return false;
  if (ks.flags & SA_ONSTACK && task.sas_ss_flags & SS_AUTODISARM) {
    task.sas_ss_sp = 0;
    task.sas_ss_size = 0;
  }
  regs.x[0] = info.signo;
  if (siginfo) {
    regs.x[1] = frame;
    regs.x[2] = frame + UC;
  }
  regs.x[29] = record;
  // No vDSO sigreturn trampoline here: without SA_RESTORER the handler returns to 0 (and faults).
  regs.x[30] = ks.flags & SA_RESTORER ? ks.restorer : 0;
  regs.sp = frame;
  regs.pc = ks.handler;
  regs.pstate = 0;
  return true;
}

/** force_sigsegv: the frame could not be written; a SIGSEGV handler would not run either. */
function force_sigsegv(task: TaskStruct, sig: number): void {
  if (sig === SIGSEGV) task.signal.action[SIGSEGV] = SIG_DFL;
  force_sig(SIGSEGV, task);
}

/** handle_signal: the frame, then the handler's mask (sa_mask, and the signal itself unless SA_NODEFER). */
function handle_signal(task: TaskStruct, regs: PtRegs, ks: KSignal): void {
  if (!setup_rt_frame(task, regs, ks)) {
    force_sigsegv(task, ks.info.signo);
    return;
  }
  let block = ks.mask;
  if (!(ks.flags & SA_NODEFER)) block |= sigmask(ks.info.signo);
  task.blocked = blockable(task.blocked | block);
  task.saved_sigmask = undefined; // the frame holds it now
}

/** x0 is one of the kernel-internal restart codes (-ERESTARTSYS, -ERESTARTNOINTR, -ERESTARTNOHAND, -ERESTART_RESTARTBLOCK). */
export function is_restart_code(x0: number): boolean {
  return x0 === -ERESTARTSYS || x0 === -ERESTARTNOHAND || x0 === -ERESTARTNOINTR || x0 === -ERESTART_RESTARTBLOCK;
}

/**
 * do_signal on the way back to EL0. `inSyscall`: this return ends a system call that was
 * given `orig_x0` in x0; its result is in regs.x[0]. A restartable result rewinds the
 * PC to the SVC with x0 = orig_x0 (the user re-issues it) unless a handler runs and the
 * rules say -EINTR: -ERESTARTNOHAND always, -ERESTARTSYS without SA_RESTART.
 * -ERESTART_RESTARTBLOCK is treated as -ERESTARTNOHAND (no restart_syscall here).
 * Then every deliverable signal with a handler gets a frame, each interrupting the
 * previous handler's first instruction, as Linux's exit_to_user_mode loop does.
 */
export function do_signal(task: TaskStruct, regs: PtRegs, inSyscall: boolean, orig_x0: number): void {
  const retval = regs.x[0]!;
  const restart = inSyscall && is_restart_code(retval);
  const retaddr = regs.pc;
  if (restart) {
    regs.x[0] = orig_x0;
    regs.pc = retaddr - 4;
  }
  let first = true;
  while (signal_pending(task) || task.signal.group_exit) {
    const ks = get_signal(task);
    if (ks === undefined) break;
    if (first && restart) {
      const r = -retval;
      if (r === ERESTARTNOHAND || r === ERESTART_RESTARTBLOCK || (r === ERESTARTSYS && !(ks.flags & SA_RESTART))) {
        regs.x[0] = -EINTR;
        regs.pc = retaddr;
      }
    }
    first = false;
    handle_signal(task, regs, ks);
  }
  // A restart code never reaches user space: with no handler, the call restarts.
  if (restart && first && -retval === ERESTART_RESTARTBLOCK) {
    regs.x[0] = -EINTR;
    regs.pc = retaddr;
  }
  // restore_saved_sigmask: no handler took rt_sigsuspend's saved mask into a frame.
  if (task.saved_sigmask !== undefined) {
    task.blocked = task.saved_sigmask;
    task.saved_sigmask = undefined;
  }
}

/**
 * rt_sigreturn: restores the registers and mask from the frame at sp. Returns false for a
 * frame that is unaligned, unreadable or corrupt (bad PSTATE, an unknown record in
 * __reserved): the caller forces SIGSEGV.
 */
export function restore_sigframe(task: TaskStruct, regs: PtRegs): boolean {
  const frame = regs.sp;
  if (!Number.isSafeInteger(frame) || frame < 0 || frame % 16 !== 0) return false;
  const buf = new Uint8Array(RT_SIGFRAME_SIZE);
  if (copy_from_user(buf, frame, buf.length) !== 0) return false;
  const dv = new DataView(buf.buffer);
  const pstate = get64(dv, SC_PSTATE);
  if (pstate & PSTATE_BAD || pstate < 0) return false;
  // The only record this kernel writes or accepts in __reserved is the terminator.
  if (dv.getUint32(SC_RESERVED, true) !== 0 || dv.getUint32(SC_RESERVED + 4, true) !== 0) return false;
  task.blocked = blockable(Number(dv.getBigUint64(UC_SIGMASK, true) & 0x7fffffffn));
  for (let i = 0; i < 31; i++) regs.x[i] = get64(dv, SC_REGS + 8 * i);
  regs.sp = get64(dv, SC_SP);
  regs.pc = get64(dv, SC_PC);
  regs.pstate = pstate;
  // restore_altstack: as sigaltstack(&uc_stack, NULL) would; a bad one is ignored, as Linux does.
  const ssSp = get64(dv, UC_STACK);
  const ssFlags = dv.getInt32(UC_STACK + 8, true);
  const ssSize = get64(dv, UC_STACK + 16);
  do_sigaltstack(task, { sp: ssSp, flags: ssFlags, size: ssSize }, regs.sp);
  return true;
}

/** do_sigaltstack's set half: 0 or -errno (EPERM on the alternate stack, EINVAL, ENOMEM). */
export function do_sigaltstack(task: TaskStruct, ss: { sp: number; flags: number; size: number }, sp: number): number {
  if (on_sig_stack(task, sp)) return -EPERM;
  const mode = ss.flags & ~SS_AUTODISARM;
  if (mode !== SS_DISABLE && mode !== SS_ONSTACK && mode !== 0) return -EINVAL;
  if (mode === SS_DISABLE) {
    task.sas_ss_sp = 0;
    task.sas_ss_size = 0;
    task.sas_ss_flags = SS_DISABLE;
    return 0;
  }
  if (ss.size < MINSIGSTKSZ || !Number.isSafeInteger(ss.size) || !Number.isSafeInteger(ss.sp) || ss.sp < 0) return -ENOMEM;
  task.sas_ss_sp = ss.sp;
  task.sas_ss_size = ss.size;
  task.sas_ss_flags = ss.flags & SS_AUTODISARM;
  return 0;
}

/** forget_syscall: the registers rt_sigreturn restored are not a system call's result to restart. */
export function forget_syscall(t: TaskStruct): void {
  t.in_sigreturn = true;
}

/** Handled actions go back to SIG_DFL on exec (flush_signal_handlers); ignored ones stay ignored. */
export function flush_signal_handlers(task: TaskStruct): void {
  const sa = task.signal;
  for (let s = 1; s < sa.action.length; s++) {
    if (sa.action[s] !== SIG_IGN) sa.action[s] = SIG_DFL;
    sa.sa_flags[s] = 0;
    sa.sa_restorer[s] = 0;
    sa.sa_mask[s] = 0;
  }
  task.sas_ss_sp = 0;
  task.sas_ss_size = 0;
  task.sas_ss_flags = 0;
}

/** copy_sighand: a forked process starts with its parent's actions. */
export function copy_sighand(dst: TaskStruct['signal'], src: TaskStruct['signal']): void {
  for (let s = 0; s < dst.action.length; s++) {
    dst.action[s] = src.action[s]!;
    dst.sa_flags[s] = src.sa_flags[s]!;
    dst.sa_restorer[s] = src.sa_restorer[s]!;
    dst.sa_mask[s] = src.sa_mask[s]!;
  }
}

/** kill_ok_by_cred: the sender may signal the target. */
export function kill_ok_by_cred(sender: TaskStruct, target: TaskStruct): boolean {
  const s = sender.cred;
  const t = target.cred;
  return s.euid === t.suid || s.euid === t.uid || s.uid === t.suid || s.uid === t.uid || has_capability(sender, CAP_KILL);
}

