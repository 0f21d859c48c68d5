// A kernel-mm test environment: a bus-only machine, the test CPU over it, mm_core_init
// over its RAM, and exception vectors that send user data aborts to handle_mm_fault
// for the "current" mm (a fault that cannot be resolved throws SegvError, as the
// kernel would kill the task).

import { ExceptionLevel, type ArchCpu, type ExceptionVectors } from '../../src/arch/cpu.js';
import { cpu_setup_mmu, switch_mm } from '../../src/kernel/mm/context.js';
import { mm_alloc } from '../../src/kernel/mm/fork.js';
import { mm_core_init, type MmInitOptions } from '../../src/kernel/mm/init.js';
import { handle_mm_fault } from '../../src/kernel/mm/memory.js';
import { FAULT_FLAG_USER, FAULT_FLAG_WRITE, type MmStruct, VM_FAULT_ERROR } from '../../src/kernel/mm/mm_types.js';
import { type BusArchCpu, makeBusCpu } from './mm-bus-cpu.js';
import { MachineCore } from '../../src/machine/machine.js';
import { Cluster } from '../../src/hw/cpu/cluster.js';
import type { Core } from '../../src/hw/cpu/core.js';
import { setCurrentCpu } from '../../src/arch/current.js';

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
  return withVectors(machine, cpu, restore, ramMiB, opts);
}

/** As MmEnv, on a real core of the machine (its TLB and walk cache): a missing or too narrow TLBI shows. */
export interface CoreMmEnv extends Omit<MmEnv, 'cpu'> {
  cpu: Core;
}

/** makeMmEnv on a real core (Cluster of one) with the MMU on. */
export function makeCoreMmEnv(ramMiB = 64, opts: Partial<MmInitOptions> = {}): CoreMmEnv {
  const machine = new MachineCore({ ramSize: ramMiB * MiB });
  const cpu = new Cluster(machine, 1).cores[0]!;
  const prev = setCurrentCpu(cpu);
  const env = withVectors(machine, cpu, () => setCurrentCpu(prev), ramMiB, opts);
  cpu_setup_mmu(cpu);
  cpu.writeSysreg('SCTLR_EL1', cpu.readSysreg('SCTLR_EL1') | 1n);
  return env;
}

function withVectors<C extends ArchCpu>(machine: MachineCore, cpu: C, restore: () => void, ramMiB: number, opts: Partial<MmInitOptions>): Omit<MmEnv, 'cpu'> & { cpu: C } {
  mm_core_init({ memory: [{ base: RAM_BASE, size: ramMiB * MiB }], reserved: [{ base: RAM_BASE, size: 1 * MiB }], ...opts });
  const env: Omit<MmEnv, 'cpu'> & { cpu: C } = {
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
