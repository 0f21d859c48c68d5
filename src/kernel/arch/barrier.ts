// Waiting on a memory location as arm64 Linux does (asm/barrier.h smp_cond_load_relaxed,
// asm/cmpxchg.h __cmpwait): read the location; while the condition fails, mark it with
// a load-exclusive and WFE until a write to it (which clears the exclusive monitor) or
// another wake-up event. The locations here are in the linear map, so the accesses are
// physical.
//
// Linux's wait is bounded by the generic timer's event stream (every ~100 us), after
// which the condition, and any timeout check in it, is evaluated again. The event stream
// is not modelled: callers with a timeout pass it as `untilNs`, the latest a WFE sleeps.

import type { ArchCpu } from '../../arch/index.js';

/**
 * __cmpwait_relaxed for a 32-bit word: SEVL+WFE to drop a stale event, LDXR, and WFE
 * only while the word still holds `val`.
 */
export function __cmpwait_relaxed(cpu: ArchCpu, pa: number, val: number, untilNs = Infinity): void {
  cpu.sevl();
  cpu.wfe();
  if (cpu.ldxrPhys32(pa) >>> 0 !== val >>> 0) return;
  cpu.wfe(untilNs);
}

/**
 * smp_cond_load_relaxed on the 32-bit word at `pa`: returns the first value for which
 * `cond` holds. `cond` runs after every wake-up (spurious ones included), as Linux's
 * cond_expr does; a timeout in it must make it true to end the wait.
 */
export function smp_cond_load_relaxed(cpu: ArchCpu, pa: number, cond: (val: number) => boolean, untilNs = Infinity): number {
  for (;;) {
    const val = cpu.ldPhys32(pa) >>> 0;
    if (cond(val)) return val;
    __cmpwait_relaxed(cpu, pa, val, untilNs);
  }
}

/**
 * cpu_relax (YIELD) in a kernel spin loop that may sleep (a generator): a preemption
 * point where the core can end its turn on the machine or the scheduler switch tasks.
 * Code that cannot yield waits with smp_cond_load_relaxed instead.
 */
export function cpu_relax(cpu: ArchCpu): Generator<unknown, void, unknown> {
  return cpu.yieldHint();
}
