// The machine: clock, trace, bus, and the devices the board wires onto it.
// `run` interleaves device events and CPU cores in virtual-time order.

import { Clock } from './clock.js';
import { makeCostModel, type CostModel } from './cost.js';
import { PhysicalBus } from '../hw/bus/bus.js';
import { TraceRing } from '../trace/ring.js';

/** Something the run loop can give host time to: a CPU core. */
export interface Runnable {
  /** True while the core has work (not powered off, not sleeping in WFI/WFE). */
  readonly runnable: boolean;
  /** The core's local virtual time. */
  readonly localNs: number;
  /** Runs the core until it yields; it charges its time through the clock. */
  step(): void;
}

export interface MachineOptions {
  /** RAM size in bytes (default 1 GiB, at most 16 GiB, a multiple of 64 KiB). */
  ramSize?: number;
  /** Number of CPU cores (default 2, at most 8). */
  cpus?: number;
  /** Cost-model overrides (see src/machine/cost.ts). */
  cost?: Partial<CostModel>;
  /** Record the bus trace into the ring from reset (default false; subscribers turn it on too). */
  trace?: boolean;
  /** Trace ring capacity in records (default 65536). */
  traceCapacity?: number;
  /** Seed for anything the machine randomises (none of the hardware does today). */
  seed?: number;
  /**
   * Interleaving quantum in ns (default INTERLEAVE_QUANTUM_NS): how far a core may run
   * ahead of another runnable core before it gives the run loop a turn at its next
   * preemption point.
   */
  quantumNs?: number;
}

export type RunLimit = { forNs: number } | { untilNs: number } | { untilIdle: true };

export interface RunResult {
  /** Why the run stopped. */
  readonly reason: 'limit' | 'idle' | 'halted';
  readonly nowNs: number;
  readonly events: number;
}

export const GiB = 1024 * 1024 * 1024;
/**
 * Default interleaving quantum: the skew allowed between cores' local times before the
 * one ahead hands over. Guest code runs in steps between generator yields, so this bounds
 * how late one core sees another's stores, wake-ups and queued work (e.g. an I/O
 * page-fault handled by a kworker on the other core).
 */
export const INTERLEAVE_QUANTUM_NS = 20_000;
export const RAM_BASE = 0x4000_0000;

export class MachineCore {
  readonly clock = new Clock();
  readonly trace: TraceRing;
  readonly bus: PhysicalBus;
  readonly cost: Readonly<CostModel>;
  readonly ramSize: number;
  readonly cores: Runnable[] = [];
  /** See MachineOptions.quantumNs. */
  readonly quantumNs: number;
  /** End of the current `run` (machine time): a core past it hands the loop a turn. */
  private runEndNs = Infinity;
  /** Set by PSCI SYSTEM_OFF / SYSTEM_RESET: the run loop stops. */
  halted: { code: number; reason: 'off' | 'reset' } | undefined;

  constructor(options: MachineOptions = {}) {
    const ramSize = options.ramSize ?? GiB;
    if (!Number.isInteger(ramSize) || ramSize <= 0 || ramSize > 16 * GiB || ramSize % 0x10000 !== 0) {
      throw new RangeError(`ramSize must be a multiple of 64 KiB between 64 KiB and 16 GiB, got ${ramSize}`);
    }
    this.ramSize = ramSize;
    const quantumNs = options.quantumNs ?? INTERLEAVE_QUANTUM_NS;
    if (!(quantumNs > 0)) throw new RangeError(`quantumNs must be a positive number of ns, got ${quantumNs}`);
    this.quantumNs = quantumNs;
    this.cost = makeCostModel(options.cost);
    this.trace = new TraceRing(this.clock, options.traceCapacity ?? 1 << 16);
    if (options.trace) this.trace.enable();
    this.bus = new PhysicalBus(RAM_BASE, ramSize, this.trace);
  }

  /**
   * When the turn of `core` ends, in its local time: a quantum after the local time of the
   * furthest-behind other runnable core, or the end of the current run, whichever is first.
   * Device events need no turn: they fire as the running core's time passes them, and an
   * event that wakes another core makes that core runnable at the event's time, which
   * pulls this bound in. Only virtual times enter it (deterministic). A core that powered
   * off, or a halted machine, has no turn left.
   */
  turnEndNs(core: Runnable): number {
    // Powered off during its step (CPU_OFF, SYSTEM_OFF): the code after it never runs.
    if (this.halted || !core.runnable) return -Infinity;
    let end = this.runEndNs;
    const q = this.quantumNs;
    for (const c of this.cores) {
      if (c !== core && c.runnable) {
        const t = c.localNs + q;
        if (t < end) end = t;
      }
    }
    return end;
  }

  /**
   * Runs device events and cores in time order until the limit. `untilIdle` stops when
   * no event is pending and no core is runnable.
   */
  run(limit: RunLimit): RunResult {
    const clock = this.clock;
    const end = 'forNs' in limit ? clock.now() + limit.forNs : 'untilNs' in limit ? limit.untilNs : Infinity;
    let events = 0;
    this.runEndNs = end;
    for (;;) {
      if (this.halted) return { reason: 'halted', nowNs: clock.now(), events };
      let core: Runnable | undefined;
      for (const c of this.cores) if (c.runnable && (core === undefined || c.localNs < core.localNs)) core = c;
      const tEvent = clock.nextEventTime();
      const tCore = core ? Math.max(core.localNs, clock.now()) : Infinity;
      const t = Math.min(tEvent, tCore);
      if (t === Infinity) {
        // Nothing left to do: time still passes up to a finite limit.
        if (end !== Infinity) clock.advanceTo(end);
        return { reason: 'idle', nowNs: clock.now(), events };
      }
      if (t > end) {
        clock.advanceTo(end);
        return { reason: 'limit', nowNs: clock.now(), events };
      }
      if (tEvent <= tCore) {
        clock.fireNext();
        events++;
      } else {
        core!.step();
      }
    }
  }
}
