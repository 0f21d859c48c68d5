// GIC highest-priority pending interrupt: seeded random sequences of wired-interrupt,
// LPI, ITS and CPU-interface operations, driven through the bus and ICC_* registers,
// against a reference that keeps the architected state plainly and recomputes the
// HPPI from scratch every time (IHI 0069 4.8: priority, then lowest INTID; Group 1
// only; ICC_PMR_EL1 and the running priority mask signalling; LPI configuration as
// cached at EnableLPIs, INV and INVALL).
import { describe, expect, it } from 'vitest';
import { MachineCore, RAM_BASE } from '../../src/machine/machine.js';
import { DmaPort } from '../../src/hw/bus/dma.js';
import { Gic, GICD_BASE, GICR_BASE, GITS_BASE, GITS_TRANSLATER_PA } from '../../src/hw/gic/gic.js';
import { GICD } from '../../src/hw/gic/distributor.js';
import { GICR, GICR_FRAME_SIZE, GICR_SGI, GICR_STRIDE } from '../../src/hw/gic/redistributor.js';
import { GITS } from '../../src/hw/gic/its.js';
import { ITS_CMD, ItsOpcode, type ItsCmdFields, type ItsCommandName } from '../../src/hw/gic/its-command.js';
import { mulberry32u } from '../../src/machine/prng.js';

const CORES = 2;
const SPIS = 64;
const WIRED = 32 + SPIS;
const LPI_BASE = 8192;
const LPIS = 24;
const EVENTS = 16;
const DEVICE_ID = 0x10;
const PROP = RAM_BASE + 0x10_0000;
const PEND = RAM_BASE + 0x20_0000;
const CMDQ = RAM_BASE + 0x32_0000;
const VALID = 1n << 63n;
const SPURIOUS = 1023;
const PRIORITIES = [0x80, 0x88, 0x90, 0xa0, 0xa8];

/** Plain state of one interrupt for the reference. */
interface Wired {
  enabled: boolean;
  latch: boolean;
  level: boolean;
  active: boolean;
  group1: boolean;
  edge: boolean;
  priority: number;
}

const wired = (edge: boolean): Wired => ({ enabled: false, latch: false, level: false, active: false, group1: false, edge, priority: 0 });
const pending = (w: Wired): boolean => w.latch || (w.level && !w.edge);

class Reference {
  /** SGIs and PPIs per core, INTID 0..31. */
  readonly priv: Wired[][] = [];
  /** SPIs by INTID (entries 0..31 unused). */
  readonly spi: Wired[] = [];
  readonly routeAff: number[] = new Array<number>(WIRED).fill(0);
  readonly routeAny: boolean[] = new Array<boolean>(WIRED).fill(false);
  enableGrp1 = true;
  readonly dpg1ns: boolean[] = [];
  readonly pmr: number[] = [];
  readonly apr: number[] = [];
  /** LPI configuration bytes as each Redistributor cached them, by INTID - 8192. */
  readonly lpiConfig: number[][] = [];
  readonly lpiPending: Set<number>[] = [];
  /** EventID -> [LPI, ICID]; ICID n targets core n. */
  readonly ites = new Map<number, [number, number]>();

  constructor(prop: readonly number[]) {
    for (let c = 0; c < CORES; c++) {
      this.priv.push(Array.from({ length: 32 }, (_, i) => wired(i < 16)));
      this.dpg1ns.push(false);
      this.pmr.push(0xf8);
      this.apr.push(0);
      this.lpiConfig.push([...prop]);
      this.lpiPending.push(new Set());
    }
    for (let i = 0; i < WIRED; i++) this.spi.push(wired(false));
  }

  state(c: number, intid: number): Wired {
    return intid < 32 ? this.priv[c]![intid]! : this.spi[intid]!;
  }

  rpr(c: number): number {
    const apr = this.apr[c]!;
    return apr === 0 ? 0xff : (31 - Math.clz32(apr & -apr)) << 3;
  }

  /** Every candidate, sorted by (priority, INTID); the first is the HPPI. */
  hppi(c: number): { intid: number; priority: number } {
    const cands: { intid: number; priority: number }[] = [];
    if (this.enableGrp1) {
      const forwardable = (w: Wired): boolean => w.enabled && w.group1 && pending(w) && !w.active;
      for (let i = 0; i < 32; i++) {
        const w = this.priv[c]![i]!;
        if (forwardable(w)) cands.push({ intid: i, priority: w.priority });
      }
      for (let i = 32; i < WIRED; i++) {
        const w = this.spi[i]!;
        const routed = this.routeAny[i] ? !this.dpg1ns[c] : this.routeAff[i] === c;
        if (forwardable(w) && routed) cands.push({ intid: i, priority: w.priority });
      }
      for (const lpi of this.lpiPending[c]!) {
        const cfg = this.lpiConfig[c]![lpi - LPI_BASE]!;
        if ((cfg & 1) !== 0) cands.push({ intid: lpi, priority: cfg & 0xf8 });
      }
    }
    cands.sort((a, b) => a.priority - b.priority || a.intid - b.intid);
    return cands[0] ?? { intid: SPURIOUS, priority: 0x100 };
  }

  canSignal(c: number): boolean {
    const h = this.hppi(c);
    return h.intid !== SPURIOUS && h.priority < this.pmr[c]! && h.priority < this.rpr(c);
  }

  acknowledge(c: number): number {
    if (!this.canSignal(c)) return SPURIOUS;
    const { intid, priority } = this.hppi(c);
    this.apr[c]! |= 1 << (priority >>> 3);
    if (intid >= LPI_BASE) this.lpiPending[c]!.delete(intid);
    else {
      const w = this.state(c, intid);
      w.latch = false;
      w.active = true;
    }
    return intid;
  }

  endOfInterrupt(c: number, intid: number): void {
    if (intid >= 1020 && intid <= 1023) return;
    const apr = this.apr[c]!;
    if (apr !== 0) this.apr[c] = apr & (apr - 1);
    if (intid < WIRED) this.state(c, intid).active = false;
  }
}

function setup(seed: number) {
  const next = mulberry32u(seed);
  const m = new MachineCore({ cpus: CORES, ramSize: 64 << 20 });
  const gic = new Gic(m, { cores: CORES, spis: SPIS });
  gic.mapOn(m.bus);
  const bus = m.bus;
  const prop: number[] = [];
  for (let i = 0; i < LPIS; i++) {
    const b = PRIORITIES[next() % PRIORITIES.length]! | (next() % 4 === 0 ? 0 : 1);
    prop.push(b);
    bus.write8(PROP + i, b);
  }
  for (let i = LPIS; i < 8192; i++) prop.push(0);
  bus.write32(GICD_BASE + GICD.CTLR, 0x13);
  for (let c = 0; c < CORES; c++) {
    const rd = GICR_BASE + c * GICR_STRIDE;
    bus.write32(rd + GICR.WAKER, 0);
    bus.write64(rd + GICR.PROPBASER, BigInt(PROP) | 13n); // 14 INTID bits: LPIs 8192..16383
    bus.write64(rd + GICR.PENDBASER, BigInt(PEND + c * 0x1_0000) | (1n << 62n));
    bus.write32(rd + GICR.CTLR, 1);
    gic.cpuInterface(c).writeSysreg('ICC_PMR_EL1', 0xf8n);
    gic.cpuInterface(c).writeSysreg('ICC_IGRPEN1_EL1', 1n);
  }
  // Core 1's interface is polled on every change (as an attached core does); core 0's lazily.
  let wakeups = 0;
  gic.cpuInterface(1).onIrqChange = () => wakeups++;
  bus.write64(GITS_BASE + GITS.BASER, VALID | BigInt(RAM_BASE + 0x30_0000) | 15n);
  bus.write64(GITS_BASE + GITS.BASER + 8, VALID | BigInt(RAM_BASE + 0x31_0000));
  bus.write64(GITS_BASE + GITS.CBASER, VALID | BigInt(CMDQ));
  bus.write32(GITS_BASE + GITS.CTLR, 1);
  let cwriter = 0;
  const send = (name: ItsCommandName, fields: ItsCmdFields) => {
    bus.writeBytes(CMDQ + cwriter, ITS_CMD.toBytes(ITS_CMD.encode({ ...fields, CommandType: ItsOpcode[name] })));
    cwriter = (cwriter + 32) % 0x1000;
    bus.write64(GITS_BASE + GITS.CWRITER, BigInt(cwriter));
    m.run({ untilIdle: true });
  };
  send('MAPD', { DeviceID: DEVICE_ID, Size: 3, ITT_addr: RAM_BASE + 0x33_0000, V: 1 });
  for (let c = 0; c < CORES; c++) send('MAPC', { ICID: c, RDbase: c, V: 1 });
  return { m, gic, bus, send, next, ref: new Reference(prop), port: new DmaPort(bus, 'dev', DEVICE_ID) };
}

const sgiBase = (c: number) => GICR_BASE + c * GICR_STRIDE + GICR_FRAME_SIZE;

function runSequence(seed: number, steps: number): { acks: number; lpiAcks: number } {
  const { m, gic, bus, send, next, ref, port } = setup(seed);
  const pick = <T>(xs: readonly T[]): T => xs[next() % xs.length]!;
  const wiredIntid = (): number => next() % WIRED;
  /** Register base and bit of a wired INTID as seen from core c. */
  const regOf = (c: number, intid: number, off: number) =>
    intid < 32 ? sgiBase(c) + off : GICD_BASE + off + 4 * (intid >>> 5);
  const acked: number[][] = [[], []];
  let acks = 0;
  let lpiAcks = 0;

  const check = (step: string) => {
    for (let c = 0; c < CORES; c++) {
      const cpu = gic.cpuInterface(c);
      const h = ref.hppi(c);
      expect(Number(cpu.readSysreg('ICC_HPPIR1_EL1')), `${step}: HPPIR core ${c}`).toBe(h.intid);
      expect(cpu.hasPendingIrq(), `${step}: pending core ${c}`).toBe(ref.canSignal(c));
      expect(Number(cpu.readSysreg('ICC_RPR_EL1')), `${step}: RPR core ${c}`).toBe(ref.rpr(c));
    }
  };
  const checkState = (step: string) => {
    for (let c = 0; c < CORES; c++) {
      let pend = 0;
      let act = 0;
      for (let i = 0; i < 32; i++) {
        if (pending(ref.priv[c]![i]!)) pend |= 1 << i;
        if (ref.priv[c]![i]!.active) act |= 1 << i;
      }
      expect(bus.read32(sgiBase(c) + GICR_SGI.ISPENDR0) >>> 0, `${step}: GICR${c}_ISPENDR0`).toBe(pend >>> 0);
      expect(bus.read32(sgiBase(c) + GICR_SGI.ISACTIVER0) >>> 0, `${step}: GICR${c}_ISACTIVER0`).toBe(act >>> 0);
      for (let i = 0; i < LPIS; i++) {
        expect(gic.redistributors[c]!.isLpiPending(LPI_BASE + i), `${step}: LPI ${LPI_BASE + i} at core ${c}`).toBe(ref.lpiPending[c]!.has(LPI_BASE + i));
      }
    }
    for (let w = 1; w < WIRED / 32; w++) {
      let pend = 0;
      let act = 0;
      for (let b = 0; b < 32; b++) {
        if (pending(ref.spi[w * 32 + b]!)) pend |= 1 << b;
        if (ref.spi[w * 32 + b]!.active) act |= 1 << b;
      }
      expect(bus.read32(GICD_BASE + GICD.ISPENDR + 4 * w) >>> 0, `${step}: GICD_ISPENDR${w}`).toBe(pend >>> 0);
      expect(bus.read32(GICD_BASE + GICD.ISACTIVER + 4 * w) >>> 0, `${step}: GICD_ISACTIVER${w}`).toBe(act >>> 0);
    }
  };

  for (let s = 0; s < steps; s++) {
    const c = next() % CORES;
    const op = next() % 24;
    let what = '';
    switch (op) {
      case 0:
      case 1: {
        const i = wiredIntid();
        what = `ISPENDR ${i}`;
        bus.write32(regOf(c, i, GICD.ISPENDR), 1 << (i & 31));
        ref.state(c, i).latch = true;
        break;
      }
      case 2: {
        const i = wiredIntid();
        what = `ICPENDR ${i}`;
        bus.write32(regOf(c, i, GICD.ICPENDR), 1 << (i & 31));
        ref.state(c, i).latch = false;
        break;
      }
      case 3: {
        const i = wiredIntid();
        const on = next() % 3 !== 0;
        what = `${on ? 'IS' : 'IC'}ENABLER ${i}`;
        bus.write32(regOf(c, i, on ? GICD.ISENABLER : GICD.ICENABLER), 1 << (i & 31));
        ref.state(c, i).enabled = on;
        break;
      }
      case 4: {
        const i = wiredIntid();
        const p = pick(PRIORITIES) | (next() & 7);
        what = `IPRIORITYR ${i} = ${p}`;
        bus.write8((i < 32 ? sgiBase(c) : GICD_BASE) + GICD.IPRIORITYR + i, p);
        ref.state(c, i).priority = p & 0xf8;
        break;
      }
      case 5: {
        const i = wiredIntid();
        const on = next() % 4 !== 0;
        what = `IGROUPR ${i} = ${on}`;
        const addr = regOf(c, i, GICD.IGROUPR);
        const v = bus.read32(addr);
        bus.write32(addr, on ? v | (1 << (i & 31)) : v & ~(1 << (i & 31)));
        ref.state(c, i).group1 = on;
        break;
      }
      case 6: {
        const n = next() % SPIS;
        const high = next() % 2 === 0;
        what = `SPI line ${32 + n} ${high}`;
        gic.spi(n).set(high);
        const w = ref.spi[32 + n]!;
        if (high && !w.level && w.edge) w.latch = true;
        w.level = high;
        break;
      }
      case 7: {
        const i = 16 + (next() % 16);
        const high = next() % 2 === 0;
        what = `PPI ${i} ${high}`;
        gic.cpuInterface(c).setPpi(i, high);
        const w = ref.priv[c]![i]!;
        if (high && !w.level && w.edge) w.latch = true;
        w.level = high;
        break;
      }
      case 8: {
        const i = next() % 16;
        const targets = 1 + (next() % 3);
        what = `SGI ${i} -> ${targets}`;
        gic.cpuInterface(c).writeSysreg('ICC_SGI1R_EL1', BigInt((i << 24) | targets));
        for (let t = 0; t < CORES; t++) if ((targets & (1 << t)) !== 0 && ref.priv[t]![i]!.group1) ref.priv[t]![i]!.latch = true;
        break;
      }
      case 9: {
        const i = 32 + (next() % SPIS);
        const mode = next() % 3;
        what = `IROUTER ${i} mode ${mode}`;
        bus.write64(GICD_BASE + GICD.IROUTER + 8 * i, mode === 2 ? 1n << 31n : BigInt(mode));
        ref.routeAny[i] = mode === 2;
        ref.routeAff[i] = mode === 2 ? 0 : mode;
        break;
      }
      case 10: {
        const on = next() % 2 === 0;
        what = `DPG1NS ${c} ${on}`;
        bus.write32(GICR_BASE + c * GICR_STRIDE + GICR.CTLR, 1 | (on ? 1 << 25 : 0));
        ref.dpg1ns[c] = on;
        break;
      }
      case 11: {
        const on = next() % 5 !== 0;
        what = `EnableGrp1 ${on}`;
        bus.write32(GICD_BASE + GICD.CTLR, on ? 0x13 : 0x11);
        ref.enableGrp1 = on;
        break;
      }
      case 12: {
        const p = pick([0xf8, 0xf8, 0xa8, 0x90, 0x88]);
        what = `PMR ${p}`;
        gic.cpuInterface(c).writeSysreg('ICC_PMR_EL1', BigInt(p));
        ref.pmr[c] = p;
        break;
      }
      case 13: {
        const i = 32 + (next() % SPIS);
        const edge = next() % 2 === 0;
        what = `ICFGR ${i} edge ${edge}`;
        const k = i >>> 4;
        const addr = GICD_BASE + GICD.ICFGR + 4 * k;
        const bit = 2 << (2 * (i & 15));
        const v = bus.read32(addr);
        bus.write32(addr, edge ? v | bit : v & ~bit);
        ref.spi[i]!.edge = edge;
        break;
      }
      case 14: {
        const i = wiredIntid();
        what = `ICACTIVER ${i}`;
        bus.write32(regOf(c, i, GICD.ICACTIVER), 1 << (i & 31));
        ref.state(c, i).active = false;
        break;
      }
      case 15:
      case 16: {
        const intid = Number(gic.cpuInterface(c).readSysreg('ICC_IAR1_EL1'));
        what = `IAR core ${c} -> ${intid}`;
        expect(intid, `step ${s}: ${what}`).toBe(ref.acknowledge(c));
        if (intid !== SPURIOUS) {
          acked[c]!.push(intid);
          acks++;
          if (intid >= LPI_BASE) lpiAcks++;
        }
        break;
      }
      case 17: {
        // Mostly the last acknowledged interrupt; sometimes any INTID (software may get it wrong).
        const intid = acked[c]!.pop() ?? (next() % 2 === 0 ? wiredIntid() : SPURIOUS);
        what = `EOI core ${c} ${intid}`;
        gic.cpuInterface(c).writeSysreg('ICC_EOIR1_EL1', BigInt(intid));
        ref.endOfInterrupt(c, intid);
        break;
      }
      case 18: {
        const i = next() % LPIS;
        const b = pick(PRIORITIES) | (next() % 3 === 0 ? 0 : 1);
        what = `property byte ${LPI_BASE + i} = ${b} (no INV)`;
        bus.write8(PROP + i, b);
        break;
      }
      case 19: {
        const ev = next() % EVENTS;
        const lpi = LPI_BASE + (next() % LPIS);
        const icid = next() % CORES;
        what = `MAPTI ${ev} -> ${lpi} icid ${icid}`;
        send('MAPTI', { DeviceID: DEVICE_ID, EventID: ev, pINTID: lpi, ICID: icid });
        ref.ites.set(ev, [lpi, icid]);
        break;
      }
      case 20:
      case 21: {
        const ev = next() % EVENTS;
        what = `MSI event ${ev}`;
        port.write32(GITS_TRANSLATER_PA, ev);
        const ite = ref.ites.get(ev);
        if (ite !== undefined) ref.lpiPending[ite[1]]!.add(ite[0]);
        break;
      }
      case 22: {
        const mapped = [...ref.ites.keys()].sort((a, b) => a - b);
        if (mapped.length === 0) break;
        const ev = pick(mapped);
        const [lpi, icid] = ref.ites.get(ev)!;
        const cmd = pick<ItsCommandName>(['INT', 'INT', 'CLEAR', 'INV', 'INV', 'DISCARD']);
        what = `${cmd} event ${ev} (LPI ${lpi} at core ${icid})`;
        send(cmd, { DeviceID: DEVICE_ID, EventID: ev });
        if (cmd === 'INT') ref.lpiPending[icid]!.add(lpi);
        else if (cmd === 'CLEAR') ref.lpiPending[icid]!.delete(lpi);
        else if (cmd === 'INV') ref.lpiConfig[icid]![lpi - LPI_BASE] = bus.read8(PROP + lpi - LPI_BASE);
        else {
          ref.lpiPending[icid]!.delete(lpi);
          ref.ites.delete(ev);
        }
        break;
      }
      case 23: {
        const cmd = pick<ItsCommandName>(['INVALL', 'SYNC']);
        what = `${cmd} icid ${c}`;
        send(cmd, cmd === 'INVALL' ? { ICID: c } : { RDbase: c });
        if (cmd === 'INVALL') for (let i = 0; i < LPIS; i++) ref.lpiConfig[c]![i] = bus.read8(PROP + i);
        break;
      }
    }
    // Checking reads the HPPI and so refreshes the caches: leave some changes to pile up unobserved.
    if (next() % 3 === 0) check(`step ${s}: ${what}`);
    if (next() % 16 === 0) checkState(`step ${s}: ${what}`);
  }
  check('end');
  checkState('end');
  expect(gic.its.isStalled).toBe(false);
  m.run({ untilIdle: true });
  return { acks, lpiAcks };
}

describe('GIC HPPI against a recompute-everything reference (IHI 0069 4.8, 6.1)', () => {
  for (const seed of [1, 2, 3, 0xc0ffee, 0x5eed]) {
    it(`seed ${seed}: same IAR results, HPPIR, signalling, RPR and pending state over 4000 operations`, () => {
      const { acks, lpiAcks } = runSequence(seed, 4000);
      // The sequence must actually deliver interrupts of every kind to mean anything.
      expect(acks).toBeGreaterThan(50);
      expect(lpiAcks).toBeGreaterThan(10);
    });
  }
});
