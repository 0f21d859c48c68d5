// The exception vectors (arch/arm64/kernel/entry.S, entry-common.c, traps.c): EL0
// aborts go to do_page_fault and become SIGSEGV/SIGBUS when unresolvable; IRQs go to
// the root irqchip handler; SVC dispatches the system call, then on the way back to
// user space delivers signals (a fatal one ends the task, a handled one gets a frame)
// and gives the scheduler a chance to run. The EL0 registers are the task's pt_regs:
// the return to EL0 installs that object as the core's register file (kernel_exit), so
// an SVC saves into it directly (kernel_entry) and a task that blocks keeps its own
// while other tasks' EL0 code runs on the core.

import { ExceptionLevel, thisCpu, type ArchCpu, type ExceptionVectors } from '../../arch/index.js';
import { cond_resched, current, this_rq } from '../sched/core.js';
import { SIGILL, SIGKILL, type PtRegs, type TaskStruct } from '../sched/task.js';
import { do_page_fault, esr_ec, esr_is_abort } from './fault.js';
import { do_signal, fatal_signal_pending, force_sig, is_restart_code, signal_pending } from '../kernel/signal.js';
import { ExecUnwind, TaskExitUnwind, is_unwind } from '../kernel/unwind.js';
import { task_work_run } from '../kernel/task_work.js';
import { oops_report } from '../kernel/panic.js';
import { syscall_handler } from '../syscalls/table.js';
import { pr_info } from '../lib/printk.js';

let handle_arch_irq: ((cpu: ArchCpu) => void) | undefined;

/** set_handle_irq: the root interrupt controller's entry (gic_handle_irq). */
export function set_handle_irq(fn: (cpu: ArchCpu) => void): void {
  handle_arch_irq = fn;
}

/** show_unhandled_signals: log user faults that kill a task (as Linux does with the sysctl on). */
let showUnhandled = true;
export function set_show_unhandled_signals(on: boolean): void {
  showUnhandled = on;
}

function user_fault_kill(sig: number, far: number, esr: number): never {
  const t = current();
  if (showUnhandled) pr_info(`${t.comm}[${t.pid}]: unhandled ${sig === SIGILL ? 'undefined instruction' : 'level fault'} (${sig === 11 ? 11 : sig}) at 0x${far.toString(16)}, esr 0x${(esr >>> 0).toString(16)}`);
  force_sig(sig, t);
  throw new TaskExitUnwind(sig, true);
}

/**
 * kernel_exit: the task's registers back into the core it returns to EL0 on. The core's
 * register file is the task's pt_regs object itself (installing it stands for loading
 * every register), so exceptions from EL0 save straight into it and nothing is copied.
 */
export function restore_user_regs(regs: PtRegs): void {
  thisCpu().user = regs;
}

/**
 * The signal work of exit_to_user_mode: fatal signals end the task, handled ones get
 * their frames (see do_signal). `inSyscall`: this return ends a system call whose x0
 * was `orig_x0` (its result is in regs.x[0]), which a restart code may restart.
 */
export function exit_to_user_mode_signals(inSyscall = false, orig_x0 = 0): void {
  const t = current();
  if (t.signal.group_exit) throw new TaskExitUnwind(t.signal.group_exit_code, true);
  if (signal_pending(t) || (inSyscall && is_restart_code(t.regs.x[0]!)) || t.saved_sigmask !== undefined) do_signal(t, t.regs, inSyscall, orig_x0);
}

/** After cond_resched: a signal may have arrived while we were switched out. */
function late_signals(t: TaskStruct): void {
  if (t.signal.group_exit || signal_pending(t)) exit_to_user_mode_signals();
}

function* el0_svc(_cpu: ArchCpu, nr: number, args: readonly number[]): Generator<unknown, number, unknown> {
  const t = current();
  // The core saved x0..x5, x8 and the return address into the registers installed at
  // the last return to EL0: the task's pt_regs.
  const regs = t.regs;
  let ret: number;
  try {
    ret = yield* syscall_handler(nr)(args[0] ?? 0, args[1] ?? 0, args[2] ?? 0, args[3] ?? 0, args[4] ?? 0, args[5] ?? 0);
  } catch (e) {
    // a successful execve returns to user space in the new image: its task work first
    if (e instanceof ExecUnwind) yield* task_work_run();
    if (is_unwind(e)) throw e;
    oops_report(e, `syscall ${nr}`);
    throw new TaskExitUnwind(SIGKILL, true);
  }
  if (typeof ret !== 'number' || Number.isNaN(ret)) {
    oops_report(new Error(`syscall ${nr} returned ${String(ret)}`), `syscall ${nr}`);
    throw new TaskExitUnwind(SIGKILL, true);
  }
  // rt_sigreturn has replaced every register, x0 included: it is no system call to restart.
  const sigreturn = t.in_sigreturn;
  t.in_sigreturn = false;
  if (!sigreturn) regs.x[0] = ret;
  if (t.task_works !== null) yield* task_work_run();
  exit_to_user_mode_signals(!sigreturn, args[0] ?? 0);
  yield* cond_resched();
  late_signals(t);
  restore_user_regs(regs);
  return regs.x[0]!;
}

/**
 * The YIELD hint's preemption point: what returning from an exception does before the
 * interrupted code resumes (exit_to_user_mode at EL0; preempt_schedule_irq at EL1).
 */
function* preempt_point(_cpu: ArchCpu, from: ExceptionLevel): Generator<unknown, void, unknown> {
  if (from !== ExceptionLevel.EL0) {
    yield* cond_resched();
    return;
  }
  const t = current();
  if (t.task_works !== null) yield* task_work_run();
  exit_to_user_mode_signals();
  yield* cond_resched();
  late_signals(t);
  restore_user_regs(t.regs);
}

export const kernelVectors: ExceptionVectors = {
  sync(cpu: ArchCpu, from: ExceptionLevel, esr: number, far: number): void {
    const user = from === ExceptionLevel.EL0;
    if (esr_is_abort(esr)) {
      const t = current();
      const sig = do_page_fault(t.mm, far, esr, user);
      if (sig === 0) {
        if (user && fatal_signal_pending(t)) throw new TaskExitUnwind(t.signal.group_exit ? t.signal.group_exit_code : SIGKILL, true); // ret_to_user: a SIGKILL (the OOM killer's) ends the task
        return;
      }
      if (user) user_fault_kill(sig, far, esr);
      oops_report(new Error(`Unable to handle kernel paging request at virtual address 0x${far.toString(16)} (esr 0x${(esr >>> 0).toString(16)})`), 'do_page_fault');
      throw new TaskExitUnwind(SIGKILL, true);
    }
    if (user) user_fault_kill(SIGILL, Number(cpu.readSysreg('ELR_EL1')), esr);
    oops_report(new Error(`unexpected synchronous exception, EC 0x${esr_ec(esr).toString(16)}`), 'el1_sync');
    throw new TaskExitUnwind(SIGKILL, true);
  },
  irq(cpu: ArchCpu): void {
    const rq = this_rq();
    rq.irq_depth++;
    try {
      if (handle_arch_irq) handle_arch_irq(cpu);
    } finally {
      rq.irq_depth--;
    }
  },
  svc: el0_svc,
  preempt: preempt_point,
};
