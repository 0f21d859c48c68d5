// cpu_relax(): the YIELD hint a spin loop executes on each iteration (arm64's cpu_relax
// and the `yield` of user-space spin helpers).
//
// Guest code is TypeScript: a loop that only loads memory never gives the host back
// control, so the other cores (and whatever the kernel would run at a timer tick) would
// wait until it ends. cpu_relax is that loop's yield point: the core may end its turn
// here, and the kernel does the return-to-user work an interrupt taken during the spin
// would have done (reschedule, signals). Every spin loop in user space goes through it.
// The YIELD sits at YIELD_PC of the library's text; a signal delivered there sends EL0
// to its handler first (resume_el0), and its rt_sigreturn comes back to the YIELD.

import { thisCpu } from '../../arch/index.js';
import { YIELD_PC, resume_el0 } from './signal.js';

/** One YIELD: a possible preemption point. Asks thisCpu() each time (the task may move). */
export function* cpu_relax(): Generator<unknown, void, unknown> {
  const cpu = thisCpu();
  // The register file is the task's own (the kernel installs it on every return to EL0), so it stays valid across a migration.
  const regs = cpu.user;
  regs.pc = YIELD_PC;
  yield* cpu.yieldHint();
  if (regs.pc !== YIELD_PC) yield* resume_el0(YIELD_PC);
}
