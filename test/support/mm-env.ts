// A kernel-mm test environment: a bus-only machine, the test CPU over it, mm_core_init
// over its RAM, and exception vectors that send user data aborts to handle_mm_fault
// for the "current" mm (a fault that cannot be resolved throws SegvError, as the
// kernel would kill the task).

import { ExceptionLevel, type ArchCpu, type ExceptionVectors } from '../../src/arch/cpu.js';
import { switch_mm } from '../../src/kernel/mm/context.js';
import { mm_alloc } from '../../src/kernel/mm/fork.js';
import { mm_core_init, type MmInitOptions } from '../../src/kernel/mm/init.js';
import { handle_mm_fault } from '../../src/kernel/mm/memory.js';
import { FAULT_FLAG_USER, FAULT_FLAG_WRITE, type MmStruct, VM_FAULT_ERROR } from '../../src/kernel/mm/mm_types.js';
import { BusArchCpu, makeBusCpu } from './mm-bus-cpu.js';
import type { MachineCore } from '../../src/machine/machine.js';

export const RAM_BASE = 0x4000_0000;
export const MiB = 1024 * 1024;

export class SegvError extends Error {
  constructor(
    readonly addr: number,
    readonly fault: number,
  ) {
    super(`SIGSEGV at 0x${addr.toString(16)} (VM_FAULT 0x${fault.toString(16)})`);
  }
}

export interface MmEnv {
  machine: MachineCore;
  cpu: BusArchCpu;
  /** The mm user accesses run in (switch with `use`). */
  current: MmStruct | null;
  use(mm: MmStruct | null): void;
  newMm(): MmStruct;
  restore(): void;
}

export function makeMmEnv(ramMiB = 64, opts: Partial<MmInitOptions> = {}): MmEnv {
  const { machine, cpu, restore } = makeBusCpu(ramMiB * MiB);
  mm_core_init({ memory: [{ base: RAM_BASE, size: ramMiB * MiB }], reserved: [{ base: RAM_BASE, size: 1 * MiB }], ...opts });
  const env: MmEnv = {
    machine,
    cpu,
    current: null,
    use(mm) {
      env.current = mm;
      switch_mm(cpu, mm);
    },
    newMm() {
      const mm = mm_alloc();
      if (mm === null) throw new Error('mm_alloc failed');
      return mm;
    },
    restore,
  };
  const vectors: ExceptionVectors = {
    sync(_c: ArchCpu, from: ExceptionLevel, esr: number, far: number) {
      const mm = env.current;
      if (mm === null) throw new SegvError(far, -1);
      const flags = (esr & (1 << 6) ? FAULT_FLAG_WRITE : 0) | (from === ExceptionLevel.EL0 ? FAULT_FLAG_USER : 0);
      const r = handle_mm_fault(mm, far, flags);
      if (r & VM_FAULT_ERROR) throw new SegvError(far, r);
    },
    irq() {},
    *svc() {
      return -38;
    },
  };
  cpu.setVectors(0, vectors);
  cpu.setEl(ExceptionLevel.EL0);
  return env;
}
