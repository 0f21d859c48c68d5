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
}

export type RunLimit = { forNs: number } | { untilNs: number } | { untilIdle: true };

export interface RunResult {
  /** Why the run stopped. */
  readonly reason: 'limit' | 'idle' | 'halted';
  readonly nowNs: number;
  readonly events: number;
}

export const GiB = 1024 * 1024 * 1024;
export const RAM_BASE = 0x4000_0000;

export class MachineCore {
  readonly clock = new Clock();
  readonly trace: TraceRing;
  readonly bus: PhysicalBus;
  readonly cost: Readonly<CostModel>;
  readonly ramSize: number;
  readonly cores: Runnable[] = [];
  /** Set by PSCI SYSTEM_OFF / SYSTEM_RESET: the run loop stops. */
  halted: { code: number; reason: 'off' | 'reset' } | undefined;

  constructor(options: MachineOptions = {}) {
    const ramSize = options.ramSize ?? GiB;
    if (!Number.isInteger(ramSize) || ramSize <= 0 || ramSize > 16 * GiB || ramSize % 0x10000 !== 0) {
      throw new RangeError(`ramSize must be a multiple of 64 KiB between 64 KiB and 16 GiB, got ${ramSize}`);
    }
    this.ramSize = ramSize;
    this.cost = makeCostModel(options.cost);
    this.trace = new TraceRing(this.clock, options.traceCapacity ?? 1 << 16);
    if (options.trace) this.trace.enable();
    this.bus = new PhysicalBus(RAM_BASE, ramSize, this.trace);
  }

  /**
   * Runs device events and cores in time order until the limit. `untilIdle` stops when
   * no event is pending and no core is runnable.
   */
  run(limit: RunLimit): RunResult {
    const clock = this.clock;
    const end = 'forNs' in limit ? clock.now() + limit.forNs : 'untilNs' in limit ? limit.untilNs : Infinity;
    let events = 0;
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
