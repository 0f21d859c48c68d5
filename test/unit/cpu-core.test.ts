import { describe, expect, it } from 'vitest';
import { MachineCore } from '../../src/machine/machine.js';
import { Cluster } from '../../src/hw/cpu/cluster.js';
import type { Core } from '../../src/hw/cpu/core.js';
import type { GicCpuInterface, IccRegName } from '../../src/hw/cpu/gic-cpuif.js';
import { ExceptionLevel, PSCI, PSCI_RET, type ArchCpu, type CoreMain, type ExceptionVectors } from '../../src/arch/cpu.js';
import { thisCpu } from '../../src/arch/current.js';
import { Gic, GICD_BASE, GICR_BASE } from '../../src/hw/gic/gic.js';
import { GICD } from '../../src/hw/gic/distributor.js';
import { GICR, GICR_SGI, GICR_STRIDE, GICR_FRAME_SIZE } from '../../src/hw/gic/redistributor.js';

/** A GIC CPU interface stand-in: one pending flag, PPI levels recorded, ICC writes stored. */
class FakeGic implements GicCpuInterface {
  pending = false;
  readonly ppi = new Map<number, boolean>();
  readonly ppiLog: [number, boolean, number][] = [];
  readonly regs = new Map<IccRegName, bigint>();
  onIrqChange: (() => void) | undefined;
  constructor(private readonly m: MachineCore) {}
  hasPendingIrq(): boolean {
    return this.pending;
  }
  raise(): void {
    this.pending = true;
    this.onIrqChange?.();
  }
  readSysreg(name: IccRegName): bigint {
    if (name === 'ICC_IAR1_EL1') {
      this.pending = false;
      return 27n;
    }
    return this.regs.get(name) ?? 0n;
  }
  writeSysreg(name: IccRegName, value: bigint): void {
    this.regs.set(name, value);
  }
  setPpi(intid: number, level: boolean): void {
    this.ppi.set(intid, level);
    this.ppiLog.push([intid, level, this.m.clock.now()]);
    if (level) this.raise();
    else this.pending = false;
  }
}

class Vectors implements ExceptionVectors {
  irqs: { from: ExceptionLevel; daif: bigint; at: number }[] = [];
  syncs: bigint[] = [];
  onIrq: ((cpu: ArchCpu) => void) | undefined;
  sync(cpu: ArchCpu): void {
    this.syncs.push(cpu.readSysreg('ESR_EL1'));
  }
  irq(cpu: ArchCpu, from: ExceptionLevel): void {
    this.irqs.push({ from, daif: cpu.readSysreg('DAIF'), at: cpu.now() });
    this.onIrq?.(cpu);
  }
  *svc(cpu: ArchCpu, nr: number, args: readonly number[]): Generator<unknown, number, unknown> {
    const esr = cpu.readSysreg('ESR_EL1');
    yield 'blocked';
    return nr * 1000 + args.reduce((a, b) => a + b, 0) + (Number(esr >> 26n) === 0x15 && cpu.el === ExceptionLevel.EL1 ? 1 : 0);
  }
}

function setup(cpus = 2) {
  const m = new MachineCore({ ramSize: 16 * 1024 * 1024 });
  const halts: [number, string][] = [];
  const cluster = new Cluster(m, cpus, { onSystemOff: (code, reason) => halts.push([code, reason]) });
  const vec = new Vectors();
  const gics = cluster.cores.map((c) => {
    const g = new FakeGic(m);
    c.attachGic(g);
    c.setVectors(0, vec);
    return g;
  });
  return { m, cluster, cpu: cluster.cores[0]!, vec, gics, halts };
}

describe('CPU core: execution', () => {
  it('step() resumes the CoreMain once per yield, with thisCpu() set to the core', () => {
    const { cluster, cpu } = setup();
    const seen: (ArchCpu | undefined)[] = [];
    cluster.boot(function* (c) {
      seen.push(thisCpu());
      yield 'yield';
      seen.push(c);
    });
    expect(cpu.runnable).toBe(true);
    cpu.step();
    expect(seen).toEqual([cpu]);
    cpu.step();
    expect(seen).toEqual([cpu, cpu]);
    expect(cpu.runnable).toBe(false); // main returned: the core is off
    expect(() => thisCpu()).toThrow();
  });

  it('the machine run loop interleaves cores by local time', () => {
    const { m, cluster } = setup();
    const order: number[] = [];
    const main = (n: number): CoreMain =>
      function* (c) {
        for (let i = 0; i < 3; i++) {
          order.push(n);
          c.charge(n === 0 ? 100 : 150);
          yield 'yield';
        }
      };
    cluster.cores[0]!.enter(main(0));
    cluster.cores[1]!.enter(main(1));
    expect(m.run({ untilIdle: true }).reason).toBe('idle');
    expect(order).toEqual([0, 1, 0, 1, 0, 1]);
    expect(m.clock.now()).toBe(450);
  });

  it('WFI: the core sleeps until an IRQ is pending, then its local time jumps to the clock', () => {
    const { m, cluster, cpu, gics } = setup();
    let woke = -1;
    cluster.boot(function* (c) {
      yield 'wfi';
      woke = c.now();
    });
    m.clock.schedule(5000, 'device irq', () => gics[0]!.raise());
    cpu.step();
    expect(cpu.runnable).toBe(false);
    m.run({ untilIdle: true });
    expect(woke).toBe(5000);
  });

  it('WFI with an IRQ already pending does not sleep (even with DAIF.I set)', () => {
    const { cluster, cpu, gics } = setup();
    gics[0]!.pending = true;
    cluster.boot(function* () {
      yield 'wfi';
    });
    cpu.step();
    expect(cpu.runnable).toBe(true);
  });

  it('WFE sleeps until SEV from another core; a pending event register makes WFE return at once', () => {
    const { m, cluster } = setup();
    const [c0, c1] = cluster.cores as [Core, Core];
    const log: string[] = [];
    c0.enter(function* () {
      yield 'wfe';
      log.push('c0 woke');
    });
    c1.enter(function* (c) {
      c.charge(1000);
      yield 'yield';
      log.push('c1 sev');
      c.sev();
      yield 'wfe'; // its own SEV set its event register: no sleep
      log.push('c1 past wfe');
    });
    m.run({ untilIdle: true });
    expect(log).toEqual(['c1 sev', 'c0 woke', 'c1 past wfe']);
  });

  it('IRQs are taken at charge/access points while DAIF.I is clear, with DAIF masked in the handler and restored after', () => {
    const { cpu, vec, gics } = setup();
    cpu.setEl(ExceptionLevel.EL0);
    gics[0]!.raise();
    cpu.charge(10);
    expect(vec.irqs).toHaveLength(0); // DAIF resets to all masked
    cpu.writeSysreg('DAIF', 0);
    vec.onIrq = (c) => c.readSysreg('ICC_IAR1_EL1');
    cpu.ldPhys32(0x4000_0000);
    expect(vec.irqs).toHaveLength(1);
    expect(vec.irqs[0]!.from).toBe(ExceptionLevel.EL0);
    expect(vec.irqs[0]!.daif).toBe(0x3c0n);
    expect(cpu.readSysreg('DAIF')).toBe(0n);
    expect(cpu.el).toBe(ExceptionLevel.EL0);
    cpu.charge(10);
    expect(vec.irqs).toHaveLength(1); // acknowledged
  });

  it('an IRQ raised by a device event is taken when the core charges past the event time', () => {
    const { m, cpu, vec, gics } = setup();
    cpu.writeSysreg('DAIF', 0);
    vec.onIrq = (c) => c.readSysreg('ICC_IAR1_EL1');
    m.clock.schedule(1000, 'dev', () => gics[0]!.raise());
    for (let i = 0; i < 999; i++) cpu.ldPhys32(0x4000_0000);
    expect(vec.irqs).toHaveLength(0);
    cpu.ldPhys32(0x4000_0000);
    cpu.ldPhys32(0x4000_0000);
    expect(vec.irqs).toHaveLength(1);
    expect(vec.irqs[0]!.at).toBeGreaterThanOrEqual(1000);
  });

  it('a core behind the machine clock takes an IRQ when its own time reaches the time the IRQ was raised, not before', () => {
    const { m, cluster, vec, gics } = setup();
    const [c0, c1] = cluster.cores as [Core, Core];
    vec.onIrq = (c) => c.readSysreg('ICC_IAR1_EL1');
    // Core 0 runs far ahead: its step moves the machine clock to 50 us, firing the device
    // event at 10 us that raises core 1's IRQ while core 1 is still at 0.
    m.clock.schedule(10_000, 'dev', () => gics[1]!.raise());
    c0.enter(function* (c) {
      c.charge(50_000);
      yield 'yield';
    });
    const progress: number[] = [];
    c1.enter(function* (c) {
      c.writeSysreg('DAIF', 0);
      for (let i = 0; i < 40; i++) {
        c.charge(500);
        progress.push(vec.irqs.length);
        yield 'yield';
      }
    });
    m.run({ untilIdle: true });
    expect(vec.irqs).toHaveLength(1);
    expect(vec.irqs[0]!.at).toBeGreaterThanOrEqual(10_000);
    expect(vec.irqs[0]!.at).toBeLessThan(10_000 + 500 + m.cost.exceptionNs);
    // Core 1 kept running its own work up to the raise time: 19 slices of 500 ns before the IRQ.
    expect(progress.indexOf(1)).toBe(19);
  });

  it('the virtual timer IRQ of a core behind the machine clock is taken once its counter has reached CVAL (ISTATUS reads 1)', () => {
    const { m, cluster, vec } = setup();
    const [c0, c1] = cluster.cores as [Core, Core];
    const seen: { at: number; ctl: bigint; cnt: bigint }[] = [];
    vec.onIrq = (c) => {
      seen.push({ at: c.now(), ctl: c.readSysreg('CNTV_CTL_EL0'), cnt: c.readSysreg('CNTVCT_EL0') });
      c.readSysreg('ICC_IAR1_EL1');
      c.writeSysreg('CNTV_CTL_EL0', 3); // IMASK
    };
    c1.enter(function* (c) {
      c.writeSysreg('CNTV_CVAL_EL0', 625n); // 10 us
      c.writeSysreg('CNTV_CTL_EL0', 1);
      yield 'yield';
      c.writeSysreg('DAIF', 0);
      for (let i = 0; i < 100 && seen.length === 0; i++) {
        c.charge(100);
        yield 'yield';
      }
    });
    c0.enter(function* (c) {
      c.charge(40_000);
      yield 'yield';
    });
    m.run({ untilIdle: true });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.ctl & 4n).toBe(4n); // ISTATUS: the condition holds at the core's own time
    expect(seen[0]!.cnt).toBeGreaterThanOrEqual(625n);
    expect(seen[0]!.at).toBeLessThan(10_000 + 100 + m.cost.exceptionNs + 10);
  });

  it('WFI on a core behind the machine clock with an IRQ raised ahead of it: the core sleeps until the IRQ time, then takes it', () => {
    const { m, cluster, vec, gics } = setup();
    const [c0, c1] = cluster.cores as [Core, Core];
    vec.onIrq = (c) => c.readSysreg('ICC_IAR1_EL1');
    m.clock.schedule(7_000, 'dev', () => gics[1]!.raise());
    c0.enter(function* (c) {
      c.charge(30_000);
      yield 'yield';
    });
    let afterWfi = -1;
    c1.enter(function* (c) {
      c.charge(1_000);
      yield 'yield';
      c.writeSysreg('DAIF', 0);
      if (!c.irqPending()) yield 'wfi';
      afterWfi = c.now();
      c.charge(1);
    });
    m.run({ untilIdle: true });
    expect(afterWfi).toBe(7_000);
    expect(vec.irqs).toHaveLength(1);
    expect(vec.irqs[0]!.at).toBe(7_000 + 1 + m.cost.exceptionNs);
  });

  it('with the GICv3 model: a core behind the machine clock takes its timer PPI at its compare time and an SGI from a core ahead at the time it was sent', () => {
    const m = new MachineCore({ ramSize: 16 * 1024 * 1024 });
    const cluster = new Cluster(m, 2);
    const gic = new Gic(m, { cores: 2 });
    gic.mapOn(m.bus);
    m.bus.write32(GICD_BASE + GICD.CTLR, 0x13);
    const taken: { intid: number; at: number; istatus: boolean }[] = [];
    const vectors: ExceptionVectors = {
      sync() {},
      irq(c: ArchCpu) {
        const intid = Number(c.readSysreg('ICC_IAR1_EL1'));
        taken.push({ intid, at: c.now(), istatus: (c.readSysreg('CNTV_CTL_EL0') & 4n) !== 0n });
        if (intid === 27) c.writeSysreg('CNTV_CTL_EL0', 3); // IMASK
        c.writeSysreg('ICC_EOIR1_EL1', intid);
      },
      // eslint-disable-next-line require-yield
      *svc() {
        return 0;
      },
    };
    cluster.cores.forEach((core, i) => {
      core.attachGic(gic.cpuInterface(i));
      core.setVectors(0, vectors);
      const sgi = GICR_BASE + i * GICR_STRIDE + GICR_FRAME_SIZE;
      m.bus.write32(GICR_BASE + i * GICR_STRIDE + GICR.WAKER, 0);
      m.bus.write32(sgi + GICR_SGI.IGROUPR0, 0xffffffff);
      m.bus.write32(sgi + GICR_SGI.ISENABLER0, 0xffffffff);
      for (let k = 0; k < 8; k++) m.bus.write32(sgi + GICR_SGI.IPRIORITYR + 4 * k, 0xa0a0a0a0);
      m.bus.write8(sgi + GICR_SGI.IPRIORITYR + 27, 0x80); // the timer above the SGIs: the GIC acknowledges it first
      core.writeSysreg('ICC_PMR_EL1', 0xf0n);
      core.writeSysreg('ICC_IGRPEN1_EL1', 1n);
    });
    // Core 0 programs its timer, then runs behind core 1, whose first step moves the machine
    // clock to 60 us: the timer fires at 10 us and the SGI is sent at 30 us meanwhile.
    const [c0, c1] = cluster.cores as [Core, Core];
    c0.enter(function* (c) {
      c.writeSysreg('CNTV_CVAL_EL0', 625n); // 10 us
      c.writeSysreg('CNTV_CTL_EL0', 1);
      c.writeSysreg('DAIF', 0);
      yield 'yield';
      while (taken.length < 2) {
        c.charge(100);
        yield 'yield';
      }
    });
    c1.enter(function* (c) {
      c.charge(30_000);
      c.writeSysreg('ICC_SGI1R_EL1', (3n << 24n) | 1n); // SGI 3 to core 0, sent at 30 us
      c.charge(30_000);
      yield 'yield';
    });
    m.run({ untilIdle: true });
    expect(taken.map((t) => t.intid)).toEqual([27, 3]);
    const [timer, sgi] = taken as [(typeof taken)[0], (typeof taken)[0]];
    expect(timer.istatus).toBe(true);
    expect(timer.at).toBeGreaterThanOrEqual(10_000);
    expect(timer.at).toBeLessThan(10_000 + 100 + m.cost.exceptionNs + 10);
    expect(sgi.at).toBeGreaterThanOrEqual(30_000);
    expect(sgi.at).toBeLessThan(30_000 + 100 + m.cost.exceptionNs + 10);
  });

  it('SVC #0 enters EL1 with ESR.EC=0x15, charges syscallNs, runs the svc vector (which may block) and returns to EL0', () => {
    const { m, cpu } = setup();
    cpu.setEl(ExceptionLevel.EL0);
    const t0 = cpu.now();
    const g = cpu.svc(64, 1, 2, 3);
    const first = g.next();
    expect(first).toEqual({ value: 'blocked', done: false });
    expect(cpu.el).toBe(ExceptionLevel.EL1);
    const last = g.next();
    expect(last).toEqual({ value: 64_007, done: true });
    expect(cpu.el).toBe(ExceptionLevel.EL0);
    expect(cpu.now() - t0).toBeGreaterThanOrEqual(m.cost.syscallNs);
  });
});

describe('CPU core: determinism', () => {
  it('the same workload gives the same trace, record for record (FNV hash), on two fresh machines', () => {
    const runOnce = () => {
      const { m, cluster, vec } = setup();
      m.trace.enable();
      vec.onIrq = (c) => {
        c.readSysreg('ICC_IAR1_EL1');
        c.writeSysreg('CNTV_CVAL_EL0', c.readSysreg('CNTVCT_EL0') + 100n);
      };
      const worker = (seed: number): CoreMain =>
        function* (c) {
          c.writeSysreg('CNTV_CVAL_EL0', 50n + BigInt(seed));
          c.writeSysreg('CNTV_CTL_EL0', 1);
          c.writeSysreg('DAIF', 0);
          let x = seed;
          for (let i = 0; i < 200; i++) {
            x = (Math.imul(x, 1103515245) + 12345) >>> 0;
            c.stPhys32(0x4000_0000 + (x & 0xfffc), i);
            c.charge(x & 0xff);
            if ((i & 15) === 0) yield 'yield';
          }
          c.smc(PSCI.SYSTEM_OFF);
          yield 'yield';
        };
      cluster.cores[0]!.enter(worker(1));
      cluster.cores[1]!.enter(worker(2));
      m.run({ untilIdle: true });
      return { hash: m.trace.hash(), records: m.trace.total, now: m.clock.now(), irqs: vec.irqs.length };
    };
    const a = runOnce();
    const b = runOnce();
    expect(a.irqs).toBeGreaterThan(10);
    expect(b).toEqual(a);
  });

  it('step() restores the current-CPU register even when the guest code throws', () => {
    const { cluster, cpu } = setup();
    cluster.boot(function* () {
      throw new Error('guest bug');
    });
    expect(() => cpu.step()).toThrow('guest bug');
    expect(() => thisCpu()).toThrow();
  });
});

describe('CPU core: PSCI (DEN 0022) through SMC', () => {
  it('PSCI_VERSION reports 1.0; unknown functions return NOT_SUPPORTED', () => {
    const { cpu } = setup();
    expect(cpu.smc(PSCI.VERSION)).toBe(0x10000);
    expect(cpu.smc(0x8400_00ff)).toBe(PSCI_RET.NOT_SUPPORTED);
  });

  it('CPU_ON starts the target core at its entry with the context id; ALREADY_ON and INVALID_PARAMETERS as the spec says', () => {
    const { m, cluster } = setup();
    const [c0, c1] = cluster.cores as [Core, Core];
    const ran: number[] = [];
    const secondary: CoreMain = function* (c) {
      ran.push(c.id);
      expect(c.el).toBe(ExceptionLevel.EL1);
      expect(c.readSysreg('SCTLR_EL1') & 1n).toBe(0n);
      yield 'wfi';
    };
    const results: number[] = [];
    cluster.boot(function* (c) {
      c.charge(500);
      results.push(c.smc(PSCI.CPU_ON_64, 1, secondary, 0xc0ffee));
      results.push(c.smc(PSCI.CPU_ON_64, 1, secondary, 0));
      results.push(c.smc(PSCI.CPU_ON_64, 7, secondary, 0));
      results.push(c.smc(PSCI.CPU_ON_64, 0x100, secondary, 0));
      yield 'yield';
    });
    m.run({ untilIdle: true });
    expect(results).toEqual([PSCI_RET.SUCCESS, PSCI_RET.ALREADY_ON, PSCI_RET.INVALID_PARAMETERS, PSCI_RET.INVALID_PARAMETERS]);
    expect(ran).toEqual([1]);
    expect(c1.contextId).toBe(0xc0ffeen);
    expect(c1.localNs).toBeGreaterThanOrEqual(500);
    expect(c0.poweredOn).toBe(false);
  });

  it('CPU_OFF powers the caller down; the rest of its code never runs', () => {
    const { m, cluster } = setup();
    const log: string[] = [];
    cluster.boot(function* (c) {
      log.push('before');
      c.smc(PSCI.CPU_OFF);
      yield 'yield';
      log.push('after');
    });
    m.run({ untilIdle: true });
    expect(log).toEqual(['before']);
    expect(cluster.cores[0]!.poweredOn).toBe(false);
  });

  it('SYSTEM_OFF halts the machine run loop and calls the platform callback; SYSTEM_RESET too', () => {
    for (const [fid, reason] of [
      [PSCI.SYSTEM_OFF, 'off'],
      [PSCI.SYSTEM_RESET, 'reset'],
    ] as const) {
      const { m, cluster, halts } = setup();
      cluster.cores[1]!.enter(function* () {
        for (;;) yield 'yield';
      });
      cluster.boot(function* (c) {
        c.charge(100);
        c.smc(fid, 3);
        yield 'yield';
      });
      const r = m.run({ forNs: 1e6 });
      expect(r.reason).toBe('halted');
      expect(m.halted).toEqual({ code: 3, reason });
      expect(halts).toEqual([[3, reason]]);
      expect(cluster.cores.every((c) => !c.poweredOn)).toBe(true);
    }
  });

  it('SMC at EL0 is UNDEFINED: an Unknown-reason exception (EC 0x00)', () => {
    const { cpu, vec } = setup();
    cpu.setEl(ExceptionLevel.EL0);
    expect(cpu.smc(PSCI.VERSION)).toBe(PSCI_RET.NOT_SUPPORTED);
    expect(vec.syncs.map((e) => Number(e >> 26n))).toEqual([0]);
  });
});

describe('CPU core: generic timer', () => {
  it('D12: CNTFRQ is 62.5 MHz and CNTVCT counts virtual time in 16 ns ticks', () => {
    const { cpu } = setup();
    expect(cpu.readSysreg('CNTFRQ_EL0')).toBe(62_500_000n);
    cpu.charge(16 * 1000 + 7);
    expect(cpu.readSysreg('CNTVCT_EL0')).toBe(1000n);
  });

  it('D12.2.4: CVAL with ENABLE=1, IMASK=0 raises PPI 27 when CNTVCT >= CVAL; ISTATUS reads 1; IMASK lowers the line', () => {
    const { m, cpu, gics } = setup();
    const g = gics[0]!;
    cpu.writeSysreg('CNTV_CVAL_EL0', 1000n); // 16 us
    cpu.writeSysreg('CNTV_CTL_EL0', 1);
    expect(cpu.readSysreg('CNTV_CTL_EL0')).toBe(1n);
    m.run({ untilIdle: true });
    expect(g.ppiLog).toEqual([[27, true, 16_000]]);
    cpu.charge(16_000);
    expect(cpu.readSysreg('CNTV_CTL_EL0')).toBe(5n); // ENABLE | ISTATUS
    cpu.writeSysreg('CNTV_CTL_EL0', 3); // IMASK
    expect(g.ppi.get(27)).toBe(false);
    expect(cpu.readSysreg('CNTV_CTL_EL0')).toBe(7n);
    cpu.writeSysreg('CNTV_CTL_EL0', 1);
    expect(g.ppi.get(27)).toBe(true);
    cpu.writeSysreg('CNTV_CVAL_EL0', 10_000n); // condition no longer met: the level drops
    expect(g.ppi.get(27)).toBe(false);
  });

  it('a core in WFI with the timer armed wakes at the compare time', () => {
    const { m, cluster, vec } = setup();
    let wokeAt = 0;
    vec.onIrq = (c) => {
      c.readSysreg('ICC_IAR1_EL1');
      c.writeSysreg('CNTV_CTL_EL0', 0);
    };
    cluster.boot(function* (c) {
      c.writeSysreg('CNTV_CVAL_EL0', 625n); // 10 us
      c.writeSysreg('CNTV_CTL_EL0', 1);
      c.writeSysreg('DAIF', 0);
      yield 'wfi';
      wokeAt = c.now();
      c.charge(1);
    });
    m.run({ untilIdle: true });
    expect(wokeAt).toBe(10_000);
    expect(vec.irqs).toHaveLength(1);
  });
});

describe('CPU core: identification and GIC system registers', () => {
  it('MIDR is HiSilicon TaiShan v110; MPIDR has bit 31 set and Aff0 = core number; CurrentEL reads EL<<2', () => {
    const { cluster } = setup();
    expect(cluster.cores[0]!.readSysreg('MIDR_EL1')).toBe(0x481fd010n);
    expect(cluster.cores[1]!.readSysreg('MPIDR_EL1')).toBe(0x8000_0001n);
    expect(cluster.cores[0]!.readSysreg('CurrentEL')).toBe(4n);
  });

  it('ID_AA64MMFR0 advertises PARange 48 bits, 16-bit ASIDs and 4K/16K/64K granules; MMFR1 FEAT_PAN; ISAR0 range TLBI', () => {
    const { cpu } = setup();
    const mmfr0 = cpu.readSysreg('ID_AA64MMFR0_EL1');
    expect(mmfr0 & 0xfn).toBe(5n);
    expect((mmfr0 >> 4n) & 0xfn).toBe(2n);
    expect((mmfr0 >> 20n) & 0xfn).toBe(1n);
    expect((mmfr0 >> 24n) & 0xfn).toBe(0n);
    expect((mmfr0 >> 28n) & 0xfn).toBe(0n);
    expect((cpu.readSysreg('ID_AA64MMFR1_EL1') >> 20n) & 0xfn).toBe(1n);
    expect((cpu.readSysreg('ID_AA64MMFR1_EL1') >> 0n) & 0xfn).toBe(0n); // no HW AF/dirty
    expect((cpu.readSysreg('ID_AA64ISAR0_EL1') >> 56n) & 0xfn).toBe(2n);
    expect((cpu.readSysreg('ID_AA64PFR0_EL1') >> 24n) & 0xfn).toBe(1n);
  });

  it('ICC_* registers go to the attached CPU interface; without one they read 0 and writes are ignored', () => {
    const m = new MachineCore({ ramSize: 1 << 20 });
    const cluster = new Cluster(m, 1);
    const c = cluster.cores[0]!;
    c.writeSysreg('ICC_PMR_EL1', 0xf0);
    expect(c.readSysreg('ICC_PMR_EL1')).toBe(0n);
    const g = new FakeGic(m);
    c.attachGic(g);
    c.writeSysreg('ICC_PMR_EL1', 0xf0);
    expect(g.regs.get('ICC_PMR_EL1')).toBe(0xf0n);
    expect(c.readSysreg('ICC_PMR_EL1')).toBe(0xf0n);
  });

  it('read-only registers ignore writes; VBAR keeps bits [63:11]', () => {
    const { cpu } = setup();
    cpu.writeSysreg('MIDR_EL1', 0);
    expect(cpu.readSysreg('MIDR_EL1')).toBe(0x481fd010n);
    cpu.writeSysreg('VBAR_EL1', 0xffff_0000_1234_5fffn);
    expect(cpu.readSysreg('VBAR_EL1')).toBe(0xffff_0000_1234_5800n);
  });
});

describe('CPU core: 64-bit physical accesses as halves (ldPhys64Pair/stPhys64Pair)', () => {
  const RAM0 = 0x4000_0000;

  it('a doubleword is stored and loaded whole, any bit pattern (no Number rounding), one access each', () => {
    const { m, cpu } = setup(1);
    const t0 = cpu.now();
    cpu.stPhys64Pair(RAM0 + 0x2008, 0xdead_beef, 0xf0e0_0001);
    expect(m.bus.read64(RAM0 + 0x2008)).toBe(0xf0e0_0001_dead_beefn);
    m.bus.write64(RAM0 + 0x3000, 0x8000_0000_0000_0001n);
    expect(cpu.ldPhys64Pair(RAM0 + 0x3000)).toBe(1);
    expect(cpu.pairHi).toBe(0x8000_0000);
    expect(cpu.now() - t0).toBe(2 * m.cost.cpuAccessNs);
  });

  it('untouched RAM loads as zero without allocating it; an unaligned doubleword is still one access', () => {
    const { m, cpu } = setup(1);
    const before = m.bus.ram.allocatedBytes;
    cpu.stPhys64Pair(RAM0 + 0x10, 1, 1); // make pairHi non-zero first
    expect(cpu.ldPhys64Pair(RAM0 + 0x20_0000)).toBe(0);
    expect(cpu.pairHi).toBe(0);
    expect(m.bus.ram.allocatedBytes - before).toBe(64 * 1024); // only the chunk written above
    const t0 = cpu.now();
    cpu.stPhys64Pair(RAM0 + 0x1004, 0x1122_3344, 0x5566_7788);
    expect(m.bus.read64(RAM0 + 0x1004)).toBe(0x5566_7788_1122_3344n);
    expect(cpu.ldPhys64Pair(RAM0 + 0x1004)).toBe(0x1122_3344);
    expect(cpu.pairHi).toBe(0x5566_7788);
    expect(cpu.now() - t0).toBe(2 * m.cost.cpuAccessNs);
  });

  it('outside RAM the access goes to the bus; nothing there is a synchronous external abort', () => {
    const { cpu, vec } = setup(1);
    // This vector returns without fixing anything: the core retries, then reports the livelock.
    expect(() => cpu.stPhys64Pair(0x7000_0000, 1, 2)).toThrow(/faulted 64 times/);
    expect(Number(vec.syncs[0]! & 0x3fn)).toBe(0b010000);
    expect(Number(vec.syncs[0]! >> 26n)).toBe(0x25);
    vec.syncs.length = 0;
    expect(() => cpu.ldPhys64Pair(0x7000_0000)).toThrow(/faulted 64 times/);
    expect(Number(vec.syncs[0]! & 0x3fn)).toBe(0b010000);
  });

  it('a store clears another core exclusive monitor on the doubleword', () => {
    const { cluster } = setup(2);
    const [c0, c1] = cluster.cores as [Core, Core];
    c1.ldxrPhys64(RAM0 + 0x4000);
    expect(c1.monitorMarked).toBe(true);
    c0.stPhys64Pair(RAM0 + 0x4008, 5, 6);
    expect(c1.monitorMarked).toBe(false);
  });
});

describe('CPU core: fillPhys (clear_page, memset)', () => {
  const RAM0 = 0x4000_0000;

  it('a whole page is filled in place with the byte value; one access per 64 bytes (DC ZVA)', () => {
    const { m, cpu } = setup(1);
    m.bus.write32(RAM0 + 0x5000 - 4, 0x1111_1111);
    m.bus.write32(RAM0 + 0x6000, 0x2222_2222);
    const t0 = cpu.now();
    cpu.fillPhys(RAM0 + 0x5000, 0x1a5, 4096);
    expect(cpu.now() - t0).toBe(64 * m.cost.cpuAccessNs);
    expect(m.bus.read32(RAM0 + 0x5000)).toBe(0xa5a5_a5a5);
    expect(m.bus.read32(RAM0 + 0x5ffc)).toBe(0xa5a5_a5a5);
    expect(m.bus.read32(RAM0 + 0x5000 - 4)).toBe(0x1111_1111);
    expect(m.bus.read32(RAM0 + 0x6000)).toBe(0x2222_2222);
    cpu.fillPhys(RAM0 + 0x5000, 0, 4096);
    expect(m.bus.read32(RAM0 + 0x5800)).toBe(0);
  });

  it('zeroing an untouched page allocates no host memory; a non-zero fill does', () => {
    const { m, cpu } = setup(1);
    const before = m.bus.ram.allocatedBytes;
    cpu.fillPhys(RAM0 + 0x40_0000, 0, 4096);
    expect(m.bus.ram.allocatedBytes).toBe(before);
    expect(m.bus.read32(RAM0 + 0x40_0010)).toBe(0);
    cpu.fillPhys(RAM0 + 0x40_0000, 7, 4096);
    expect(m.bus.ram.allocatedBytes).toBe(before + 64 * 1024);
    expect(m.bus.read8(RAM0 + 0x40_0fff)).toBe(7);
  });

  it('unaligned or partial fills and fills across chunks write exactly their bytes', () => {
    const { m, cpu } = setup(1);
    cpu.fillPhys(RAM0 + 0xfff0, 0x33, 0x20); // crosses a 64 KiB chunk
    expect(m.bus.read8(RAM0 + 0xffef)).toBe(0);
    expect(m.bus.read8(RAM0 + 0xfff0)).toBe(0x33);
    expect(m.bus.read8(RAM0 + 0x1000f)).toBe(0x33);
    expect(m.bus.read8(RAM0 + 0x10010)).toBe(0);
    cpu.fillPhys(RAM0 + 0x2800, 0x44, 4096);
    expect([m.bus.read8(RAM0 + 0x27ff), m.bus.read8(RAM0 + 0x2800), m.bus.read8(RAM0 + 0x37ff), m.bus.read8(RAM0 + 0x3800)]).toEqual([0, 0x44, 0x44, 0]);
  });

  it('a page fill clears another core exclusive monitor on it', () => {
    const { cluster } = setup(2);
    const [c0, c1] = cluster.cores as [Core, Core];
    c1.ldxrPhys64(RAM0 + 0x7040);
    c0.fillPhys(RAM0 + 0x7000, 0, 4096);
    expect(c1.monitorMarked).toBe(false);
  });
});
