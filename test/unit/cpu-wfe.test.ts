import { describe, expect, it } from 'vitest';
import { MachineCore } from '../../src/machine/machine.js';
import { Cluster } from '../../src/hw/cpu/cluster.js';
import type { Core } from '../../src/hw/cpu/core.js';
import type { GicCpuInterface, IccRegName } from '../../src/hw/cpu/gic-cpuif.js';
import type { ArchCpu, ExceptionLevel, ExceptionVectors } from '../../src/arch/cpu.js';
import { DmaPort } from '../../src/hw/bus/dma.js';
import { ERG_BYTES } from '../../src/hw/bus/exclusive-monitor.js';

const RAM = 0x4000_0000;
/** A word the tests watch, 16 bytes into its 64-byte granule. */
const WATCHED = RAM + 0x10_0010;
const FAR = 1e9;

/** One pending-IRQ flag, raised by a scheduled event; IAR acknowledges it. */
class FakeGic implements GicCpuInterface {
  pending = false;
  onIrqChange: (() => void) | undefined;
  hasPendingIrq(): boolean {
    return this.pending;
  }
  raise(): void {
    this.pending = true;
    this.onIrqChange?.();
  }
  readSysreg(name: IccRegName): bigint {
    if (name === 'ICC_IAR1_EL1') this.pending = false;
    return 27n;
  }
  writeSysreg(): void {}
  setPpi(): void {}
}

class Vectors implements ExceptionVectors {
  readonly irqsAt: number[] = [];
  sync(): void {}
  irq(cpu: ArchCpu, _from: ExceptionLevel): void {
    this.irqsAt.push(cpu.now());
    cpu.readSysreg('ICC_IAR1_EL1');
  }
  // eslint-disable-next-line require-yield
  *svc(): Generator<unknown, number, unknown> {
    return 0;
  }
}

function rig(cpus = 1) {
  const m = new MachineCore({ ramSize: 16 * 1024 * 1024 });
  const cluster = new Cluster(m, cpus);
  const vec = new Vectors();
  const gics = cluster.cores.map((c) => {
    const g = new FakeGic();
    c.attachGic(g);
    c.setVectors(0, vec);
    return g;
  });
  const dev = new DmaPort(m.bus, 'dev', 0x10);
  const word = new Uint8Array([0, 0, 0, 0]);
  /** A device's 32-bit DMA write of `v` at `pa`, at time `at`. */
  const dmaAt = (at: number, pa: number, v: number) =>
    m.clock.schedule(at, 'dev.write', () => {
      new DataView(word.buffer).setUint32(0, v, true);
      dev.write(pa, word, 0, 4);
    });
  return { m, cluster, cpu: cluster.cores[0]!, vec, gics, dmaAt };
}

/** Runs `body` as core 0's code once (one step) and the machine until idle. */
function runOn(r: ReturnType<typeof rig>, body: (c: Core) => void): void {
  r.cluster.boot(function* (c) {
    body(c as Core);
  });
  r.m.run({ untilIdle: true });
}

describe('CPU: WFE in place and the exclusive monitor', () => {
  it('LDXR + WFE wakes at the time of a device DMA write to the marked granule, not later', () => {
    const r = rig();
    r.dmaAt(5_000, WATCHED, 0x1234);
    r.m.clock.schedule(9_000, 'later', () => {});
    let woke = -1;
    let seen = -1;
    runOn(r, (c) => {
      expect(c.ldxrPhys32(WATCHED)).toBe(0);
      expect(c.monitorMarked).toBe(true);
      c.wfe(FAR);
      woke = c.now();
      seen = c.ldPhys32(WATCHED);
    });
    expect(woke).toBe(5_000);
    expect(seen).toBe(0x1234);
    expect(r.cpu.monitorMarked).toBe(false);
  });

  it('a device write through the bus (an MSI-style 32-bit store) to the granule wakes it too', () => {
    const r = rig();
    r.m.clock.schedule(3_000, 'msi', () => r.m.bus.store(WATCHED - 16 + 60, 4, 7, 0, 0));
    let woke = -1;
    runOn(r, (c) => {
      c.ldxrPhys32(WATCHED);
      c.wfe(FAR);
      woke = c.now();
    });
    expect(woke).toBe(3_000);
  });

  it('writes outside the marked granule do not wake it: the core sleeps on to the deadline, hardware events firing on the way', () => {
    const r = rig();
    const granule = WATCHED - (WATCHED % ERG_BYTES);
    r.dmaAt(1_000, granule + ERG_BYTES, 1); // the next granule
    r.dmaAt(2_000, granule - 4, 2); // the word before it
    let fired = 0;
    r.m.clock.schedule(3_000, 'other', () => fired++);
    r.m.clock.schedule(50_000, 'after deadline', () => fired++);
    let woke = -1;
    let firedAtWake = -1;
    runOn(r, (c) => {
      c.ldxrPhys32(WATCHED);
      c.wfe(20_000);
      woke = c.now();
      firedAtWake = fired;
    });
    expect(woke).toBe(20_000);
    expect(firedAtWake).toBe(1);
    expect(r.m.bus.load(granule + ERG_BYTES, 4, 0)).toBe(1);
  });

  it('with no marked granule a device write is no wake-up event', () => {
    const r = rig();
    r.dmaAt(1_000, WATCHED, 1);
    let woke = -1;
    runOn(r, (c) => {
      c.ldxrPhys32(WATCHED);
      c.clrex();
      expect(c.monitorMarked).toBe(false);
      c.wfe(10_000);
      woke = c.now();
    });
    expect(woke).toBe(10_000);
  });

  it('SEV (here the SMMU-style event line into the cluster) wakes it at the time it is sent', () => {
    const r = rig();
    r.m.clock.schedule(4_000, 'sev', () => r.cluster.sendEvent());
    let woke = -1;
    runOn(r, (c) => {
      c.wfe(FAR);
      woke = c.now();
    });
    expect(woke).toBe(4_000);
  });

  it('an IRQ wakes it at its arrival while DAIF.I is clear, and is taken at the next access', () => {
    const r = rig();
    r.m.clock.schedule(6_000, 'irq', () => r.gics[0]!.raise());
    let woke = -1;
    runOn(r, (c) => {
      c.writeSysreg('DAIF', 0);
      c.wfe(FAR);
      woke = c.now();
      c.ldPhys32(WATCHED);
    });
    expect(woke).toBe(6_000);
    expect(r.vec.irqsAt).toHaveLength(1);
    expect(r.vec.irqsAt[0]!).toBeGreaterThanOrEqual(6_000);
    expect(r.vec.irqsAt[0]!).toBeLessThan(6_100);
  });

  it('a masked IRQ (DAIF.I set) is no WFE wake-up event', () => {
    const r = rig();
    r.m.clock.schedule(6_000, 'irq', () => r.gics[0]!.raise());
    let woke = -1;
    runOn(r, (c) => {
      c.wfe(30_000);
      woke = c.now();
    });
    expect(woke).toBe(30_000);
    expect(r.gics[0]!.pending).toBe(true);
  });

  it('the deadline is honoured exactly, and events after it have not fired', () => {
    const r = rig();
    let fired = false;
    r.m.clock.schedule(12_000, 'late', () => (fired = true));
    let woke = -1;
    let firedAtWake = true;
    runOn(r, (c) => {
      c.wfe(7_500);
      woke = c.now();
      firedAtWake = fired;
    });
    expect(woke).toBe(7_500);
    expect(firedAtWake).toBe(false);
    expect(fired).toBe(true);
  });

  it('with nothing scheduled and no deadline it returns (a spurious wake-up) instead of hanging', () => {
    const r = rig();
    let woke = -1;
    runOn(r, (c) => {
      const t = c.now();
      c.wfe();
      woke = c.now() - t;
    });
    expect(woke).toBeLessThan(10);
  });

  it('a set event register (SEVL, an exception return) makes WFE return at once; SEVL+WFE clears a stale event', () => {
    const r = rig();
    r.m.clock.schedule(8_000, 'sev', () => r.cluster.sendEvent());
    const wakes: number[] = [];
    runOn(r, (c) => {
      c.sevl();
      const t0 = c.now();
      c.wfe(FAR);
      wakes.push(c.now() - t0);
      c.sevl();
      c.wfe();
      c.wfe(FAR); // no stale event left: sleeps until the SEV
      wakes.push(c.now());
    });
    expect(wakes[0]!).toBeLessThan(5);
    expect(wakes[1]).toBe(8_000);
  });

  it('an exception return sets the event register', () => {
    const r = rig();
    r.gics[0]!.pending = true;
    const wakes: number[] = [];
    runOn(r, (c) => {
      c.writeSysreg('DAIF', 0);
      c.ldPhys32(WATCHED); // takes the IRQ; its ERET sets the event register
      const t0 = c.now();
      c.wfe(FAR);
      wakes.push(c.now() - t0);
    });
    expect(r.vec.irqsAt).toHaveLength(1);
    expect(wakes[0]!).toBeLessThan(5);
  });

  it("another core's store to the marked granule wakes a core waiting in WFE; a core's own store does not clear its mark", () => {
    const r = rig(2);
    const [c0, c1] = r.cluster.cores as [Core, Core];
    const log: string[] = [];
    c1.enter(function* (c) {
      c.ldxrPhys32(WATCHED);
      c.stPhys32(WATCHED + 4, 5); // own store: the mark stays
      log.push(`c1 marked ${String((c as Core).monitorMarked)}`);
      yield 'wfe';
      log.push(`c1 woke ${String((c as Core).monitorMarked)} ${c.ldPhys32(WATCHED)}`);
    });
    c0.enter(function* (c) {
      c.charge(2_000);
      yield 'yield';
      c.stPhys32(WATCHED + 8, 0); // same granule, another word
      log.push('c0 stored');
    });
    r.m.run({ untilIdle: true });
    expect(log).toEqual(['c1 marked true', 'c0 stored', 'c1 woke false 0']);
  });

  it('virtual LDXR marks the physical granule the VA maps to (MMU off: flat)', () => {
    const r = rig();
    r.dmaAt(2_500, WATCHED + 8, 9);
    let woke = -1;
    runOn(r, (c) => {
      c.ldxr32(WATCHED);
      c.wfe(FAR);
      woke = c.now();
    });
    expect(woke).toBe(2_500);
  });

  it('is deterministic: the same scenario gives the same wake times and the same bus trace', () => {
    const once = () => {
      const r = rig();
      r.m.trace.enable();
      r.dmaAt(1_234, WATCHED + 64, 1);
      r.dmaAt(4_321, WATCHED, 2);
      r.m.clock.schedule(7_000, 'sev', () => r.cluster.sendEvent());
      const wakes: number[] = [];
      runOn(r, (c) => {
        c.ldxrPhys32(WATCHED);
        c.wfe(FAR);
        wakes.push(c.now());
        c.wfe(FAR);
        wakes.push(c.now());
        c.wfe(9_999);
        wakes.push(c.now());
      });
      return { wakes, records: r.m.trace.total, hash: r.m.trace.hash() };
    };
    const a = once();
    const b = once();
    expect(a.wakes).toEqual([4_321, 7_000, 9_999]);
    expect(a.records).toBeGreaterThanOrEqual(2); // the two DMA writes at least
    expect(b).toEqual(a);
  });
});
