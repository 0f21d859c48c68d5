// syscall(2): the only door from a user program into the kernel. SVC #0 with the number
// in x8 and arguments in x0..x5; the kernel answers in x0, a value in -4095..-1 being
// -errno (the raw Linux convention, which these wrappers keep: no global errno).
// The SVC sits at SVC_PC of the library's text; when the kernel returns to EL0 anywhere
// else (a signal handler, the SVC again for a restart), resume_el0 runs from there.

import { thisCpu } from '../../arch/index.js';
import { NR, type SyscallName } from './unistd.js';
import { SVC_PC, resume_el0 } from './signal.js';

/** Largest errno the kernel returns in x0 (MAX_ERRNO in include/linux/err.h). */
export const MAX_ERRNO = 4095;

/** True when a raw system-call result is -errno. */
export function isErr(ret: number): boolean {
  return ret < 0 && ret >= -MAX_ERRNO;
}

/**
 * Issues system call `nr` with up to six arguments and returns x0 (a result or -errno).
 * Asks thisCpu() each time: the task may be resumed on another core after it blocks.
 */
export function* syscall(nr: number, a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0): Generator<unknown, number, unknown> {
  const cpu = thisCpu();
  cpu.user.pc = SVC_PC;
  const ret = yield* cpu.svc(nr, a0, a1, a2, a3, a4, a5);
  if (thisCpu().user.pc === SVC_PC + 4) return ret;
  return yield* resume_el0(SVC_PC + 4);
}

/** syscall() by name, for readability in wrappers. */
export function sys(name: SyscallName, a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0): Generator<unknown, number, unknown> {
  return syscall(NR[name], a0, a1, a2, a3, a4, a5);
}
