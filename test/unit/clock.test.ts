import { describe, expect, it } from 'vitest';
import { Clock, EventQueue } from '../../src/machine/clock.js';
import { MachineCore, type Runnable } from '../../src/machine/machine.js';
import { xorshift32 as xorshift } from '../../src/machine/prng.js';

describe('Clock and event queue', () => {
  it('fires events in (time, sequence) order', () => {
    const c = new Clock();
    const seen: string[] = [];
    c.schedule(20, 'b', () => seen.push('b'));
    c.schedule(10, 'a', () => seen.push('a'));
    c.schedule(20, 'c', () => seen.push('c'));
    c.advanceTo(100);
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(c.now()).toBe(100);
  });

  it('the heap pops 5000 random events in the same order as a stable sort by time (seeded)', () => {
    const q = new EventQueue();
    const rnd = xorshift(7);
    const pushed: { t: number; i: number }[] = [];
    for (let i = 0; i < 5000; i++) {
      const t = Math.floor(rnd() * 200); // many equal times: sequence must break ties
      pushed.push({ t, i });
      q.push(t, `e${i}`, () => {});
    }
    const expected = [...pushed].sort((a, b) => a.t - b.t || a.i - b.i).map((e) => `e${e.i}`);
    const got: string[] = [];
    for (let ev = q.pop(); ev; ev = q.pop()) got.push(ev.label);
    expect(got).toEqual(expected);
    expect(q.size).toBe(0);
  });

  it('a cancelled event never fires, and does not hold up nextEventTime', () => {
    const c = new Clock();
    const seen: string[] = [];
    const a = c.schedule(10, 'a', () => seen.push('a'));
    c.schedule(20, 'b', () => seen.push('b'));
    a.cancel();
    expect(a.cancelled).toBe(true);
    expect(c.nextEventTime()).toBe(20);
    c.advanceTo(30);
    expect(seen).toEqual(['b']);
    expect(c.nextEventTime()).toBe(Infinity);
  });

  it('an event may cancel a later one, and cancelling after firing is harmless', () => {
    const c = new Clock();
    const seen: string[] = [];
    const late = c.schedule(50, 'late', () => seen.push('late'));
    const early = c.schedule(10, 'early', () => {
      seen.push('early');
      late.cancel();
    });
    c.advanceTo(100);
    early.cancel();
    expect(seen).toEqual(['early']);
  });

  it('scheduling in the past runs at now; after() with a negative delay runs at now', () => {
    const c = new Clock();
    c.advanceTo(100);
    const times: number[] = [];
    c.schedule(5, 'past', (t) => times.push(t));
    c.after(-10, 'neg', (t) => times.push(t));
    expect(c.nextEventTime()).toBe(100);
    c.advanceTo(100.5);
    expect(times).toEqual([100, 100]);
  });

  it('advanceTo fires events due at the target, not after it, and never moves backwards', () => {
    const c = new Clock();
    const seen: number[] = [];
    c.schedule(50, 'at', (t) => seen.push(t));
    c.schedule(51, 'after', (t) => seen.push(t));
    c.advanceTo(50);
    expect(seen).toEqual([50]);
    c.advanceTo(20);
    expect(c.now()).toBe(50);
    expect(c.fireNext(50.5)).toBe(false);
    expect(c.fireNext()).toBe(true);
    expect(seen).toEqual([50, 51]);
  });

  it('events scheduled for now by a firing event run in the same advance, after it', () => {
    const c = new Clock();
    const seen: string[] = [];
    c.schedule(10, 'a', () => {
      seen.push('a');
      c.after(0, 'a2', () => seen.push('a2'));
    });
    c.schedule(10, 'b', () => seen.push('b'));
    c.advanceTo(10);
    expect(seen).toEqual(['a', 'b', 'a2']);
  });

  it('a handler that charges time only moves the clock; time seen by later events never decreases', () => {
    const c = new Clock();
    const times: number[] = [];
    c.schedule(10, 'charges', () => c.advance(50));
    c.schedule(30, 'due-inside', (t) => times.push(t));
    c.schedule(80, 'later', (t) => times.push(t));
    c.advanceTo(100);
    expect(times).toEqual([60, 80]);
    expect(c.now()).toBe(100);
  });
});

class FakeCore implements Runnable {
  localNs = 0;
  steps = 0;
  constructor(
    private readonly name: string,
    private readonly quantum: number,
    private readonly maxSteps: number,
    private readonly log: string[],
  ) {}
  get runnable(): boolean {
    return this.steps < this.maxSteps;
  }
  step(): void {
    this.log.push(`${this.name}@${this.localNs}`);
    this.localNs += this.quantum;
    this.steps++;
  }
}

describe('Machine run loop', () => {
  it('interleaves cores (lowest local time first) and device events in time order', () => {
    const m = new MachineCore({ ramSize: 1 << 20 });
    const log: string[] = [];
    m.cores.push(new FakeCore('c0', 100, 3, log), new FakeCore('c1', 150, 2, log));
    m.clock.schedule(120, 'dev', () => log.push(`dev@${m.clock.now()}`));
    const r = m.run({ untilIdle: true });
    expect(log).toEqual(['c0@0', 'c1@0', 'c0@100', 'dev@120', 'c1@150', 'c0@200']);
    expect(r).toMatchObject({ reason: 'idle', events: 1 });
  });

  it('forNs and untilNs stop at the limit with the clock there; later events stay queued', () => {
    const m = new MachineCore({ ramSize: 1 << 20 });
    const seen: number[] = [];
    for (const t of [100, 200, 300]) m.clock.schedule(t, 'e', (now) => seen.push(now));
    expect(m.run({ forNs: 150 })).toEqual({ reason: 'limit', nowNs: 150, events: 1 });
    expect(m.run({ untilNs: 250 })).toEqual({ reason: 'limit', nowNs: 250, events: 1 });
    expect(seen).toEqual([100, 200]);
    expect(m.clock.nextEventTime()).toBe(300);
  });

  it('a halted machine stops the loop', () => {
    const m = new MachineCore({ ramSize: 1 << 20 });
    m.clock.schedule(10, 'off', () => (m.halted = { code: 0, reason: 'off' }));
    m.clock.schedule(20, 'never', () => {
      throw new Error('ran after halt');
    });
    expect(m.run({ untilIdle: true }).reason).toBe('halted');
  });

  it('rejects a RAM size that is not a multiple of 64 KiB or above 16 GiB, saying so', () => {
    expect(() => new MachineCore({ ramSize: 1000 })).toThrow(/multiple of 64 KiB between 64 KiB and 16 GiB/);
    expect(() => new MachineCore({ ramSize: 17 * 2 ** 30 })).toThrow(/16 GiB/);
  });
});
