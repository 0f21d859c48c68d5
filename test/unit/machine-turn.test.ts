// The run loop's turns: a core may run ahead of the furthest-behind other runnable core by
// at most the interleaving quantum before it hands the loop a turn at its next preemption
// point (MachineCore.turnEndNs, seen by the guest as ArchCpu.turnEndNs).

import { describe, it, expect } from 'vitest';
import { MachineCore, INTERLEAVE_QUANTUM_NS, type Runnable } from '../../src/machine/machine.js';

/** A core whose code spins with a preemption point every `stepNs` and yields when its turn is over. */
class SpinCore implements Runnable {
  runnable = true;
  localNs = 0;
  /** The host order of turns: [name, start, end]. */
  constructor(
    readonly name: string,
    private readonly m: MachineCore,
    private readonly stepNs: number,
    private readonly untilNs: number,
    readonly turns: [string, number, number][],
  ) {}
  step(): void {
    const start = this.localNs;
    do {
      this.localNs += this.stepNs;
    } while (this.localNs < this.m.turnEndNs(this) && this.localNs < this.untilNs);
    this.turns.push([this.name, start, this.localNs]);
    if (this.localNs >= this.untilNs) this.runnable = false;
  }
}

class IdleCore implements Runnable {
  constructor(
    public runnable: boolean,
    public localNs: number,
  ) {}
  step(): void {
    this.localNs += 1;
  }
}

describe('machine turns', () => {
  it('a turn ends a quantum after the furthest-behind other runnable core; idle cores and the core itself do not count', () => {
    const m = new MachineCore({ ramSize: 1 << 20, quantumNs: 1000 });
    const me = new IdleCore(true, 5000);
    const behind = new IdleCore(true, 2000);
    const further = new IdleCore(true, 1500);
    const asleep = new IdleCore(false, 0);
    m.cores.push(me, behind, asleep);
    expect(m.turnEndNs(me)).toBe(3000);
    m.cores.push(further);
    expect(m.turnEndNs(me)).toBe(2500);
    expect(m.turnEndNs(further)).toBe(3000);
    further.runnable = false;
    behind.runnable = false;
    expect(m.turnEndNs(me)).toBe(Infinity);
  });

  it('a turn ends at the end of the current run, and at once for a core that stopped or a halted machine', () => {
    const m = new MachineCore({ ramSize: 1 << 20 });
    const me = new IdleCore(true, 0);
    m.cores.push(me);
    m.run({ untilNs: 0 });
    expect(m.turnEndNs(me)).toBe(0);
    me.runnable = false;
    m.run({ untilIdle: true });
    me.runnable = true;
    expect(m.turnEndNs(me)).toBe(Infinity);
    me.runnable = false;
    expect(m.turnEndNs(me)).toBe(-Infinity);
    me.runnable = true;
    m.halted = { code: 0, reason: 'off' };
    expect(m.turnEndNs(me)).toBe(-Infinity);
  });

  it('two spinning cores alternate in turns and never drift apart by more than a quantum and a step', () => {
    const m = new MachineCore({ ramSize: 1 << 20 });
    const turns: [string, number, number][] = [];
    const a = new SpinCore('a', m, 700, 1_000_000, turns);
    const b = new SpinCore('b', m, 300, 1_000_000, turns);
    m.cores.push(a, b);
    m.run({ untilIdle: true });
    expect(a.localNs).toBeGreaterThanOrEqual(1_000_000);
    expect(b.localNs).toBeGreaterThanOrEqual(1_000_000);
    // Alternating turns, each ending no more than quantum + step past the other core's time.
    expect(turns.length).toBeGreaterThan(1_000_000 / INTERLEAVE_QUANTUM_NS);
    for (let i = 1; i < turns.length - 1; i++) {
      expect(turns[i]![0]).not.toBe(turns[i - 1]![0]);
      const [, , end] = turns[i]!;
      const otherNow = turns[i - 1]![2];
      expect(end - otherNow).toBeLessThanOrEqual(INTERLEAVE_QUANTUM_NS + 700);
    }
  });

  it('a core alone runs to the end of the run in one turn (no needless turns), and forNs stops it there', () => {
    const m = new MachineCore({ ramSize: 1 << 20 });
    const turns: [string, number, number][] = [];
    const a = new SpinCore('a', m, 100, 10_000_000, turns);
    m.cores.push(a, new IdleCore(false, 0));
    expect(m.run({ forNs: 1_000_000 }).reason).toBe('limit');
    // One turn to the limit (the loop still steps a core standing exactly at it: one more step).
    expect(turns[0]).toEqual(['a', 0, 1_000_000]);
    expect(turns.length).toBeLessThanOrEqual(2);
    const before = turns.length;
    m.run({ untilIdle: true });
    expect(turns.length).toBe(before + 1);
    expect(turns[turns.length - 1]![2]).toBe(10_000_000);
  });

  it('the same cores and limits give the same turns (determinism)', () => {
    const once = (): string => {
      const m = new MachineCore({ ramSize: 1 << 20, quantumNs: 5000 });
      const turns: [string, number, number][] = [];
      m.cores.push(new SpinCore('a', m, 130, 200_000, turns), new SpinCore('b', m, 70, 150_000, turns), new SpinCore('c', m, 1100, 300_000, turns));
      m.run({ untilIdle: true });
      return JSON.stringify(turns);
    };
    expect(once()).toBe(once());
  });

  it('rejects a quantum that is not a positive number, saying so', () => {
    expect(() => new MachineCore({ ramSize: 1 << 20, quantumNs: 0 })).toThrow(/quantumNs must be a positive/);
    expect(() => new MachineCore({ ramSize: 1 << 20, quantumNs: Number.NaN })).toThrow(/quantumNs/);
  });
});
