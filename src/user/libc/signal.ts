// Signal handlers in user space (glibc's sigaction and __restore_rt, arm64).
//
// Guest code is TypeScript, so a handler is no machine code at an address. The library
// gives each handler an address in its own text (HANDLER_BASE + 16 * n, a table of
// address -> generator) and hands the kernel that address as sa_handler, with
// SA_RESTORER and sa_restorer = __restore_rt's address. The kernel delivers a signal on
// the way back to EL0 by pointing the EL0 registers at the handler (pc = sa_handler,
// x0 = sig, x1 = &siginfo, x2 = &ucontext, x30 = sa_restorer, sp = the frame). Every
// return to EL0 of this library (its SVC and its YIELD) reads the PC the kernel left
// (ArchCpu.user.pc) and "executes" from there: the handler's generator, then a `ret` to
// x30, which is __restore_rt's `mov x8, #139; svc #0` (rt_sigreturn), which resumes the
// interrupted point: the instruction after the SVC with the call's result in x0, the
// SVC itself when the kernel restarts the call (SA_RESTART), or the YIELD.
// A handler may make system calls and be interrupted by further signals: each nested
// delivery is run by the SVC or YIELD return that received it.

import { thisCpu } from '../../arch/index.js';

/** The library's text (a region of the program's address space that holds no data). */
export const LIBC_TEXT = 0x40_0000;
/** `svc #0; ret`: every system call of the library. */
export const SVC_PC = LIBC_TEXT;
/** `yield; ret`: cpu_relax. */
export const YIELD_PC = LIBC_TEXT + 0x10;
/** __restore_rt: `mov x8, #__NR_rt_sigreturn; svc #0`. */
export const RESTORER_PC = LIBC_TEXT + 0x20;
/** The handler entry table. */
export const HANDLER_BASE = LIBC_TEXT + 0x1000;
const HANDLER_SLOT = 16;
const NR_rt_sigreturn = 139;
const NR_rt_sigaction = 134;
const NR_rt_sigprocmask = 135;
const NR_gettid = 178;
const NR_tgkill = 131;
const SIGILL = 4;

/** A signal handler: sig, the siginfo_t address and the ucontext_t address (SA_SIGINFO's three arguments; a plain handler ignores two). */
export type SignalHandler = (sig: number, info: number, uc: number) => Generator<unknown, void, unknown>;

const addressOf = new Map<SignalHandler, number>();
const handlers: SignalHandler[] = [];

/** The text address of `fn` (the same one every time it is asked). */
export function handler_address(fn: SignalHandler): number {
  let a = addressOf.get(fn);
  if (a === undefined) {
    a = HANDLER_BASE + HANDLER_SLOT * handlers.length;
    handlers.push(fn);
    addressOf.set(fn, a);
  }
  return a;
}

function handler_at(pc: number): SignalHandler | undefined {
  const i = (pc - HANDLER_BASE) / HANDLER_SLOT;
  return Number.isInteger(i) && i >= 0 ? handlers[i] : undefined;
}

/**
 * Runs EL0 from wherever the kernel's ERET left the PC until it reaches `retAddr`
 * (the instruction after the caller's SVC or its YIELD); returns x0 there.
 */
export function* resume_el0(retAddr: number): Generator<unknown, number, unknown> {
  for (;;) {
    const cpu = thisCpu();
    const u = cpu.user;
    const pc = u.pc;
    if (pc === retAddr) return u.x[0]!;
    if (pc === SVC_PC) {
      // The kernel restarted the call: the SVC again, with the registers it restored.
      const x = u.x;
      yield* cpu.svc(x[8]!, x[0]!, x[1]!, x[2]!, x[3]!, x[4]!, x[5]!);
      continue;
    }
    if (pc === RESTORER_PC) {
      u.pc = RESTORER_PC + 4;
      yield* cpu.svc(NR_rt_sigreturn);
      continue;
    }
    const h = handler_at(pc);
    if (h !== undefined) {
      const lr = u.x[30]!;
      yield* h(u.x[0]!, u.x[1]!, u.x[2]!);
      thisCpu().user.pc = lr; // ret
      continue;
    }
    yield* bad_pc(pc);
  }
}

/**
 * A branch to an address that is no text of this library. There is no instruction fetch:
 * the fetch is a load at the PC (an unmapped PC faults: SIGSEGV); if that reads, what
 * is there is no instruction, which this library raises as the CPU would: SIGILL with
 * its default action, unblocked.
 */
function* bad_pc(pc: number): Generator<unknown, void, unknown> {
  let cpu = thisCpu();
  cpu.ld32(Number.isSafeInteger(pc) && pc >= 0 ? pc : 0);
  // struct sigaction {SIG_DFL, 0, 0, 0} and the sigset {SIGILL}, below the stack pointer.
  const sp = Math.floor(cpu.user.sp / 16) * 16;
  const act = sp - 64;
  for (let i = 0; i < 4; i++) cpu.st64(act + 8 * i, 0);
  cpu.st64(act + 32, 1 << (SIGILL - 1));
  const raw = function* (nr: number, a0 = 0, a1 = 0, a2 = 0, a3 = 0): Generator<unknown, number, unknown> {
    cpu = thisCpu();
    cpu.user.pc = SVC_PC;
    return yield* cpu.svc(nr, a0, a1, a2, a3);
  };
  const tid = yield* raw(NR_gettid);
  yield* raw(NR_rt_sigaction, SIGILL, act, 0, 8);
  yield* raw(NR_rt_sigprocmask, 1 /* SIG_UNBLOCK */, act + 32, 0, 8);
  yield* raw(NR_tgkill, -1, tid, SIGILL);
}
