// GICv3 Distributor and SPI delivery, driven through machine.bus (IHI 0069).
import { describe, expect, it } from 'vitest';
import { MachineCore } from '../../src/machine/machine.js';
import { Gic, GICD_BASE, GICR_BASE } from '../../src/hw/gic/gic.js';
import { GICD } from '../../src/hw/gic/distributor.js';
import { GICR, GICR_STRIDE } from '../../src/hw/gic/redistributor.js';
import { TraceKind } from '../../src/trace/record.js';

function setup(cores = 2) {
  const m = new MachineCore({ cpus: cores });
  const gic = new Gic(m, { cores });
  gic.mapOn(m.bus);
  const bus = m.bus;
  // What Linux's gic_dist_init / gic_enable_redist / gic_cpu_sys_reg_init do.
  bus.write32(GICD_BASE + GICD.CTLR, 0x13);
  for (let c = 0; c < cores; c++) {
    bus.write32(GICR_BASE + c * GICR_STRIDE + GICR.WAKER, 0);
    const cpu = gic.cpuInterface(c);
    cpu.writeSysreg('ICC_PMR_EL1', 0xf0n);
    cpu.writeSysreg('ICC_IGRPEN1_EL1', 1n);
  }
  for (let n = 1; n < 9; n++) bus.write32(GICD_BASE + GICD.IGROUPR + 4 * n, 0xffffffff);
  return { m, gic, bus };
}

/** Enables SPI `n` at priority `prio`, routed to core `core`, level or edge. */
function configureSpi(bus: MachineCore['bus'], n: number, opts: { prio?: number; core?: number; edge?: boolean; any?: boolean } = {}) {
  const intid = 32 + n;
  bus.write8(GICD_BASE + GICD.IPRIORITYR + intid, opts.prio ?? 0xa0);
  const cfgOff = GICD_BASE + GICD.ICFGR + 4 * (intid >>> 4);
  const cfg = bus.read32(cfgOff);
  const bit = 2 << (2 * (intid & 15));
  bus.write32(cfgOff, opts.edge ? cfg | bit : cfg & ~bit);
  bus.write64(GICD_BASE + GICD.IROUTER + 8 * intid, opts.any ? 1n << 31n : BigInt(opts.core ?? 0));
  bus.write32(GICD_BASE + GICD.ISENABLER + 4 * (intid >>> 5), 1 << (intid & 31));
  return intid;
}

const iar = (gic: Gic, c = 0) => Number(gic.cpuInterface(c).readSysreg('ICC_IAR1_EL1'));
const eoi = (gic: Gic, intid: number, c = 0) => gic.cpuInterface(c).writeSysreg('ICC_EOIR1_EL1', BigInt(intid));
const pendBit = (bus: MachineCore['bus'], intid: number) => (bus.read32(GICD_BASE + GICD.ISPENDR + 4 * (intid >>> 5)) >>> (intid & 31)) & 1;
const activeBit = (bus: MachineCore['bus'], intid: number) => (bus.read32(GICD_BASE + GICD.ISACTIVER + 4 * (intid >>> 5)) >>> (intid & 31)) & 1;

describe('GICv3 Distributor identification (IHI 0069 12.9)', () => {
  it('GICD_PIDR2.ArchRev reads 3 and GICD_TYPER describes 256 SPIs, LPIs and 16 INTID bits', () => {
    const { bus } = setup();
    expect((bus.read32(GICD_BASE + GICD.PIDR2) >>> 4) & 0xf).toBe(3);
    const typer = bus.read32(GICD_BASE + GICD.TYPER);
    expect(typer & 0x1f).toBe(8); // ITLinesNumber: 32 * (8 + 1) = 288 INTIDs
    expect((typer >>> 17) & 1).toBe(1); // LPIS
    expect((typer >>> 19) & 0x1f).toBe(15); // IDbits
    expect((typer >>> 10) & 1).toBe(0); // single Security state
  });

  it('GICD_CTLR: ARE and DS are RAO/WI, the group enables are RW and RWP reads 0', () => {
    const { bus } = setup();
    bus.write32(GICD_BASE + GICD.CTLR, 0);
    expect(bus.read32(GICD_BASE + GICD.CTLR)).toBe(0x50);
    bus.write32(GICD_BASE + GICD.CTLR, 0xffffffff);
    expect(bus.read32(GICD_BASE + GICD.CTLR)).toBe(0x53);
  });

  it('with ARE == 1 the GICD registers of INTIDs 0-31 are RAZ/WI', () => {
    const { bus } = setup();
    bus.write32(GICD_BASE + GICD.ISENABLER, 0xffffffff);
    expect(bus.read32(GICD_BASE + GICD.ISENABLER)).toBe(0);
    expect(bus.read32(GICD_BASE + GICD.IPRIORITYR)).toBe(0);
    expect(bus.error).toBe(false);
  });

  it('GICD_IPRIORITYR is byte-accessible and the unimplemented low priority bits are RAZ/WI', () => {
    const { bus } = setup();
    bus.write8(GICD_BASE + GICD.IPRIORITYR + 41, 0xff);
    expect(bus.read8(GICD_BASE + GICD.IPRIORITYR + 41)).toBe(0xf8);
    expect(bus.read32(GICD_BASE + GICD.IPRIORITYR + 40)).toBe(0x0000f800);
  });

  it('GICD_IROUTER<n> is a 64-bit register holding Aff2.Aff1.Aff0 and Interrupt_Routing_Mode', () => {
    const { bus } = setup();
    bus.write64(GICD_BASE + GICD.IROUTER + 8 * 40, 0xffff_ffff_ffff_ffffn);
    expect(bus.read64(GICD_BASE + GICD.IROUTER + 8 * 40)).toBe(0x80ff_ffffn);
  });
});

describe('SPI lifecycle (IHI 0069 4.1)', () => {
  it('a level-sensitive SPI is pending while its line is high, active and pending after acknowledge, and pending again after EOI', () => {
    const { gic, bus } = setup();
    const intid = configureSpi(bus, 1);
    const line = gic.spi(1);
    expect(gic.cpuInterface(0).hasPendingIrq()).toBe(false);
    line.set(true);
    expect(pendBit(bus, intid)).toBe(1);
    expect(gic.cpuInterface(0).hasPendingIrq()).toBe(true);
    expect(iar(gic)).toBe(intid);
    expect(activeBit(bus, intid)).toBe(1);
    expect(pendBit(bus, intid)).toBe(1); // line still high: active and pending
    expect(gic.cpuInterface(0).hasPendingIrq()).toBe(false); // not forwarded while active
    eoi(gic, intid);
    expect(activeBit(bus, intid)).toBe(0);
    expect(iar(gic)).toBe(intid); // still asserted
    eoi(gic, intid);
    line.set(false);
    expect(pendBit(bus, intid)).toBe(0);
    expect(iar(gic)).toBe(1023);
  });

  it('an edge-triggered SPI latches a rising edge; an edge while active makes it active and pending', () => {
    const { gic, bus } = setup();
    const intid = configureSpi(bus, 2, { edge: true });
    gic.spi(2).pulse();
    expect(pendBit(bus, intid)).toBe(1);
    expect(iar(gic)).toBe(intid);
    expect(pendBit(bus, intid)).toBe(0);
    gic.spi(2).pulse();
    expect(pendBit(bus, intid)).toBe(1);
    expect(activeBit(bus, intid)).toBe(1);
    expect(iar(gic)).toBe(1023);
    eoi(gic, intid);
    expect(iar(gic)).toBe(intid);
  });

  it('a level held high on an edge-triggered SPI gives one interrupt, not one per set(true)', () => {
    const { gic, bus } = setup();
    const intid = configureSpi(bus, 3, { edge: true });
    gic.spi(3).set(true);
    expect(iar(gic)).toBe(intid);
    eoi(gic, intid);
    gic.spi(3).set(true);
    expect(iar(gic)).toBe(1023);
  });

  it('a pulse on a level-sensitive SPI leaves nothing pending (the level was never held)', () => {
    const { gic, bus } = setup();
    const intid = configureSpi(bus, 4);
    gic.spi(4).pulse();
    expect(pendBit(bus, intid)).toBe(0);
  });

  it('GICD_ICPENDR clears the software latch but a level-sensitive line still high keeps it pending', () => {
    const { gic, bus } = setup();
    const intid = configureSpi(bus, 5);
    bus.write32(GICD_BASE + GICD.ISPENDR + 4, 1 << (intid & 31));
    expect(pendBit(bus, intid)).toBe(1);
    bus.write32(GICD_BASE + GICD.ICPENDR + 4, 1 << (intid & 31));
    expect(pendBit(bus, intid)).toBe(0);
    gic.spi(5).set(true);
    bus.write32(GICD_BASE + GICD.ICPENDR + 4, 1 << (intid & 31));
    expect(pendBit(bus, intid)).toBe(1);
  });

  it('a disabled SPI is pending but not forwarded until GICD_ISENABLER enables it', () => {
    const { gic, bus } = setup();
    const intid = configureSpi(bus, 6);
    bus.write32(GICD_BASE + GICD.ICENABLER + 4, 1 << (intid & 31));
    expect(bus.read32(GICD_BASE + GICD.ISENABLER + 4) & (1 << (intid & 31))).toBe(0);
    gic.spi(6).set(true);
    expect(gic.cpuInterface(0).hasPendingIrq()).toBe(false);
    bus.write32(GICD_BASE + GICD.ISENABLER + 4, 1 << (intid & 31));
    expect(gic.cpuInterface(0).hasPendingIrq()).toBe(true);
  });

  it('GICD_CTLR.EnableGrp1 == 0 stops forwarding; Group 0 interrupts are never acknowledged through IAR1', () => {
    const { gic, bus } = setup();
    const intid = configureSpi(bus, 7);
    gic.spi(7).set(true);
    bus.write32(GICD_BASE + GICD.CTLR, 0x01);
    expect(iar(gic)).toBe(1023);
    bus.write32(GICD_BASE + GICD.CTLR, 0x13);
    bus.write32(GICD_BASE + GICD.IGROUPR + 4, 0); // all of INTIDs 32-63 to Group 0
    expect(iar(gic)).toBe(1023);
    bus.write32(GICD_BASE + GICD.IGROUPR + 4, 0xffffffff);
    expect(iar(gic)).toBe(intid);
  });
});

describe('priority and routing (IHI 0069 4.8, GICD_IROUTER<n>)', () => {
  it('the highest priority (lowest value) is acknowledged first; equal priorities go lowest INTID first', () => {
    const { gic, bus } = setup();
    const a = configureSpi(bus, 10, { prio: 0xa0 });
    const b = configureSpi(bus, 11, { prio: 0x40 });
    const c = configureSpi(bus, 12, { prio: 0xa0 });
    for (const n of [12, 10, 11]) gic.spi(n).set(true);
    expect(iar(gic)).toBe(b);
    eoi(gic, b);
    gic.spi(11).set(false);
    expect(iar(gic)).toBe(a);
    eoi(gic, a);
    gic.spi(10).set(false);
    expect(iar(gic)).toBe(c);
  });

  it('an SPI routed to affinity 0.0.1 reaches core 1 only', () => {
    const { gic, bus } = setup();
    const intid = configureSpi(bus, 20, { core: 1 });
    gic.spi(20).set(true);
    expect(gic.cpuInterface(0).hasPendingIrq()).toBe(false);
    expect(gic.cpuInterface(1).hasPendingIrq()).toBe(true);
    expect(iar(gic, 0)).toBe(1023);
    expect(iar(gic, 1)).toBe(intid);
  });

  it('an SPI routed to an affinity with no PE stays pending and reaches nobody', () => {
    const { gic, bus } = setup();
    configureSpi(bus, 21, { core: 7 });
    gic.spi(21).set(true);
    expect(gic.cpuInterface(0).hasPendingIrq() || gic.cpuInterface(1).hasPendingIrq()).toBe(false);
  });

  it('Interrupt_Routing_Mode == 1 offers the SPI to every participating PE; the first to acknowledge takes it', () => {
    const { gic, bus } = setup();
    const intid = configureSpi(bus, 22, { any: true });
    bus.write32(GICD_BASE + GICD.ISPENDR + 4 * (intid >>> 5), 1 << (intid & 31));
    expect(gic.cpuInterface(0).hasPendingIrq()).toBe(true);
    expect(gic.cpuInterface(1).hasPendingIrq()).toBe(true);
    expect(iar(gic, 1)).toBe(intid);
    expect(iar(gic, 0)).toBe(1023);
  });

  it('GICR_CTLR.DPG1NS takes a PE out of 1-of-N selection', () => {
    const { gic, bus } = setup();
    const intid = configureSpi(bus, 23, { any: true });
    bus.write32(GICR_BASE + GICR.CTLR, 1 << 25);
    bus.write32(GICD_BASE + GICD.ISPENDR + 4 * (intid >>> 5), 1 << (intid & 31));
    expect(gic.cpuInterface(0).hasPendingIrq()).toBe(false);
    expect(iar(gic, 1)).toBe(intid);
  });

  it('the trace records an Irq when an SPI becomes pending and when it is acknowledged (aux = INTID)', () => {
    const { m, gic, bus } = setup();
    const intid = configureSpi(bus, 30);
    m.trace.enable();
    const from = m.trace.total;
    gic.spi(30).set(true);
    iar(gic);
    const irqs = [...m.trace.records(from)].filter((r) => r.kind === TraceKind.Irq);
    expect(irqs.map((r) => [r.initiator, Number(r.value), r.aux])).toEqual([
      ['gicd', 0, intid],
      ['gic.cpu0', 1, intid],
    ]);
  });

  it('gic.spi(n) for a SPI the GIC does not have is an API error that names the range', () => {
    const { gic } = setup();
    expect(() => gic.spi(256)).toThrow(/SPI 256 does not exist.*0\.\.255/);
  });
});
