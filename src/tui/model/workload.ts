// What runs on the machine the TUI watches. A workload advances in fixed quanta (one
// scripted step, or a fixed slice of virtual time), whatever the user does, so the
// machine's history and its trace are the same whether the user steps, runs to a
// stall or runs freely: the TUI only decides how much of that history it shows.

import type { MachineCore } from '../../machine/machine.js';
import { TraceKind } from '../../trace/record.js';
import { NO_SID, NO_SSID } from '../../trace/ring.js';

export interface Workload {
  readonly machine: MachineCore;
  /** One line naming what runs: "bare-metal demo", "boot images/default". */
  readonly title: string;
  /** Runs the next quantum; false when there was nothing left to run. */
  advance(): boolean;
  /** Nothing left to run (steps done, guest powered off, time limit reached). */
  readonly done: boolean;
  /** Where the workload is: "step 3/9", "guest running", "guest powered off (code 0)" (the status bar shows it beside the TUI's own paused/running). */
  readonly status: string;
  /** True while only input can make progress (an idle guest at a prompt). */
  readonly waiting: boolean;
  /** Bytes typed into the console (to the guest UART). */
  input?(data: Uint8Array): void;
  /** Title of the step a Marker record (aux) opens. */
  markerLabel?(aux: number): string | undefined;
}

/** One step of a scripted bare-metal scenario: accesses against the machine, then it runs to idle. */
export interface ScriptStep {
  readonly title: string;
  run(): void;
}

export interface ScriptedWorkloadOptions {
  readonly title: string;
  /** Narrative output (step titles and what the steps log). */
  readonly write: (text: string) => void;
  /** Called once after the last step (checks, summary). */
  readonly finish?: () => void;
}

/**
 * A scripted scenario: each quantum opens with a Marker record (aux = step number,
 * as `svasoc demo` records them), runs the step, then runs the machine to idle.
 */
export function scriptedWorkload(machine: MachineCore, steps: readonly ScriptStep[], options: ScriptedWorkloadOptions): Workload {
  let next = 0;
  let finished = false;
  const marker = machine.trace.initiatorId('demo');
  return {
    machine,
    title: options.title,
    advance() {
      if (next >= steps.length) {
        if (!finished) {
          finished = true;
          options.finish?.();
          return true;
        }
        return false;
      }
      const step = steps[next++]!;
      options.write(`[${next}] ${step.title}\n`);
      if (machine.trace.on) machine.trace.record(TraceKind.Marker, marker, NO_SID, NO_SSID, 0, 0, 0, 0, next);
      step.run();
      machine.run({ untilIdle: true });
      return true;
    },
    get done() {
      return finished;
    },
    get status() {
      return finished ? `all ${steps.length} steps done` : next === 0 ? `${steps.length} steps` : `step ${next}/${steps.length}`;
    },
    waiting: false,
    markerLabel: (aux) => steps[aux - 1]?.title,
  };
}

export interface GuestWorkloadOptions {
  readonly title: string;
  /** Virtual time per quantum (default 50 us). */
  readonly quantumNs?: number;
  /** Give up after this much virtual time (default 600 s). */
  readonly limitNs?: number;
  /** Console input to the guest (the UART receiver). */
  readonly input?: (data: Uint8Array) => void;
}

/** A booted guest: each quantum runs the machine for a fixed slice of virtual time. */
export function guestWorkload(machine: MachineCore, options: GuestWorkloadOptions): Workload {
  const quantum = options.quantumNs ?? 50_000;
  const limit = options.limitNs ?? 600e9;
  const idle = () => machine.clock.nextEventTime() === Infinity && machine.cores.every((c) => !c.runnable);
  const input = options.input;
  return {
    machine,
    title: options.title,
    advance() {
      if (machine.halted !== undefined || machine.clock.now() >= limit) return false;
      machine.run({ forNs: quantum });
      return true;
    },
    get done() {
      return machine.halted !== undefined || machine.clock.now() >= limit;
    },
    get status() {
      const h = machine.halted;
      if (h !== undefined) return h.reason === 'off' ? `guest powered off (code ${h.code})` : `guest reset (code ${h.code})`;
      if (machine.clock.now() >= limit) return 'guest stopped: time limit reached';
      return idle() ? 'guest idle (waiting for input)' : 'guest running';
    },
    get waiting() {
      return machine.halted === undefined && idle();
    },
    ...(input !== undefined ? { input } : {}),
  };
}
