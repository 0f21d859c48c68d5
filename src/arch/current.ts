// The core that is executing guest code right now. The machine sets it before it
// steps a core; guest code that migrates between cores (a task resumed elsewhere)
// always asks here instead of keeping a reference.

import type { ArchCpu } from './cpu.js';

let current: ArchCpu | undefined;

export function thisCpu(): ArchCpu {
  if (current === undefined) throw new Error('thisCpu(): no core is executing guest code');
  return current;
}

/** Called by the CPU model around each step of a core (not for guest use). */
export function setCurrentCpu(cpu: ArchCpu | undefined): ArchCpu | undefined {
  const prev = current;
  current = cpu;
  return prev;
}
