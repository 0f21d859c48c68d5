// GICv3 CPU interface: ICC_* system registers, priority masking, preemption, SGIs, PPIs.
import { describe, expect, it } from 'vitest';
import { MachineCore } from '../../src/machine/machine.js';
import { Gic, GICD_BASE, GICR_BASE } from '../../src/hw/gic/gic.js';
import { GICD } from '../../src/hw/gic/distributor.js';
import { GICR, GICR_SGI, GICR_STRIDE, GICR_FRAME_SIZE } from '../../src/hw/gic/redistributor.js';

function setup(cores = 2) {
  const m = new MachineCore({ cpus: cores });
  const gic = new Gic(m, { cores });
  gic.mapOn(m.bus);
  const bus = m.bus;
  bus.write32(GICD_BASE + GICD.CTLR, 0x13);
  for (let c = 0; c < cores; c++) {
    const rd = GICR_BASE + c * GICR_STRIDE;
    bus.write32(rd + GICR.WAKER, 0);
    bus.write32(rd + GICR_FRAME_SIZE + GICR_SGI.IGROUPR0, 0xffffffff);
    bus.write32(rd + GICR_FRAME_SIZE + GICR_SGI.ISENABLER0, 0xffffffff);
    for (let k = 0; k < 8; k++) bus.write32(rd + GICR_FRAME_SIZE + GICR_SGI.IPRIORITYR + 4 * k, 0xa0a0a0a0);
    gic.cpuInterface(c).writeSysreg('ICC_PMR_EL1', 0xf0n);
    gic.cpuInterface(c).writeSysreg('ICC_IGRPEN1_EL1', 1n);
  }
  for (let n = 1; n < 9; n++) bus.write32(GICD_BASE + GICD.IGROUPR + 4 * n, 0xffffffff);
  return { m, gic, bus };
}

const sgiBase = (c: number) => GICR_BASE + c * GICR_STRIDE + GICR_FRAME_SIZE;
const read = (gic: Gic, name: Parameters<ReturnType<Gic['cpuInterface']>['readSysreg']>[0], c = 0) => Number(gic.cpuInterface(c).readSysreg(name));

function spi(bus: MachineCore['bus'], gic: Gic, n: number, prio: number): number {
  const intid = 32 + n;
  bus.write8(GICD_BASE + GICD.IPRIORITYR + intid, prio);
  bus.write32(GICD_BASE + GICD.ISENABLER + 4 * (intid >>> 5), 1 << (intid & 31));
  bus.write32(GICD_BASE + GICD.ISPENDR + 4 * (intid >>> 5), 1 << (intid & 31));
  return intid;
}

describe('ICC_* registers (IHI 0069 12.2)', () => {
  it('ICC_IAR1_EL1 returns the spurious INTID 1023 when nothing is pending', () => {
    const { gic } = setup();
    expect(read(gic, 'ICC_IAR1_EL1')).toBe(1023);
    expect(read(gic, 'ICC_HPPIR1_EL1')).toBe(1023);
  });

  it('ICC_IGRPEN1_EL1 == 0 hides Group 1 interrupts: IAR1 reads 1023 and nothing is signalled', () => {
    const { gic, bus } = setup();
    const intid = spi(bus, gic, 1, 0x80);
    const cpu = gic.cpuInterface(0);
    cpu.writeSysreg('ICC_IGRPEN1_EL1', 0n);
    expect(cpu.hasPendingIrq()).toBe(false);
    expect(read(gic, 'ICC_IAR1_EL1')).toBe(1023);
    cpu.writeSysreg('ICC_IGRPEN1_EL1', 1n);
    expect(read(gic, 'ICC_IAR1_EL1')).toBe(intid);
  });

  it('ICC_SRE_EL1 reads SRE, DFB and DIB as one (system-register interface only)', () => {
    const { gic } = setup();
    gic.cpuInterface(0).writeSysreg('ICC_SRE_EL1', 0n);
    expect(read(gic, 'ICC_SRE_EL1')).toBe(7);
  });

  it('ICC_CTLR_EL1 reports 5 priority bits (PRIbits = 4) and 16-bit INTIDs; EOImode is RW', () => {
    const { gic } = setup();
    expect((read(gic, 'ICC_CTLR_EL1') >>> 8) & 7).toBe(4);
    expect((read(gic, 'ICC_CTLR_EL1') >>> 11) & 7).toBe(0);
    gic.cpuInterface(0).writeSysreg('ICC_CTLR_EL1', 0xffffn);
    expect(read(gic, 'ICC_CTLR_EL1') & 0xff).toBe(3);
  });

  it('ICC_PMR_EL1 keeps only the implemented priority bits', () => {
    const { gic } = setup();
    gic.cpuInterface(0).writeSysreg('ICC_PMR_EL1', 0xffn);
    expect(read(gic, 'ICC_PMR_EL1')).toBe(0xf8);
  });
});

describe('priority masking and preemption (IHI 0069 4.8)', () => {
  it('an interrupt is signalled only when its priority is higher (lower value) than ICC_PMR_EL1', () => {
    const { gic, bus } = setup();
    const intid = spi(bus, gic, 2, 0x80);
    const cpu = gic.cpuInterface(0);
    cpu.writeSysreg('ICC_PMR_EL1', 0x80n);
    expect(cpu.hasPendingIrq()).toBe(false);
    expect(read(gic, 'ICC_IAR1_EL1')).toBe(1023);
    expect(read(gic, 'ICC_HPPIR1_EL1')).toBe(intid); // HPPIR ignores the mask
    cpu.writeSysreg('ICC_PMR_EL1', 0x88n);
    expect(cpu.hasPendingIrq()).toBe(true);
  });

  it('the running priority follows the highest active priority: only higher priorities preempt, EOI drops it', () => {
    const { gic, bus } = setup();
    const cpu = gic.cpuInterface(0);
    const low = spi(bus, gic, 3, 0x80);
    expect(read(gic, 'ICC_RPR_EL1')).toBe(0xff);
    expect(read(gic, 'ICC_IAR1_EL1')).toBe(low);
    expect(read(gic, 'ICC_RPR_EL1')).toBe(0x80);
    const same = spi(bus, gic, 4, 0x80);
    expect(cpu.hasPendingIrq()).toBe(false);
    const high = spi(bus, gic, 5, 0x40);
    expect(cpu.hasPendingIrq()).toBe(true);
    expect(read(gic, 'ICC_IAR1_EL1')).toBe(high);
    expect(read(gic, 'ICC_RPR_EL1')).toBe(0x40);
    cpu.writeSysreg('ICC_EOIR1_EL1', BigInt(high));
    expect(read(gic, 'ICC_RPR_EL1')).toBe(0x80);
    cpu.writeSysreg('ICC_EOIR1_EL1', BigInt(low));
    expect(read(gic, 'ICC_RPR_EL1')).toBe(0xff);
    expect(read(gic, 'ICC_IAR1_EL1')).toBe(same);
  });

  it('EOImode == 1: ICC_EOIR1_EL1 only drops priority; the interrupt stays active until deactivated', () => {
    const { gic, bus } = setup();
    const cpu = gic.cpuInterface(0);
    cpu.writeSysreg('ICC_CTLR_EL1', 2n);
    const intid = spi(bus, gic, 6, 0x80);
    expect(read(gic, 'ICC_IAR1_EL1')).toBe(intid);
    cpu.writeSysreg('ICC_EOIR1_EL1', BigInt(intid));
    expect(read(gic, 'ICC_RPR_EL1')).toBe(0xff);
    expect(bus.read32(GICD_BASE + GICD.ISACTIVER + 4) & (1 << (intid & 31))).not.toBe(0);
    cpu.deactivate(intid);
    expect(bus.read32(GICD_BASE + GICD.ISACTIVER + 4) & (1 << (intid & 31))).toBe(0);
  });

  it('an EOI of a special INTID (1020-1023) is ignored', () => {
    const { gic, bus } = setup();
    const intid = spi(bus, gic, 7, 0x80);
    read(gic, 'ICC_IAR1_EL1');
    gic.cpuInterface(0).writeSysreg('ICC_EOIR1_EL1', 1023n);
    expect(read(gic, 'ICC_RPR_EL1')).toBe(0x80);
    gic.cpuInterface(0).writeSysreg('ICC_EOIR1_EL1', BigInt(intid));
    expect(read(gic, 'ICC_RPR_EL1')).toBe(0xff);
  });

  it('onIrqChange is called when an interrupt becomes signallable, e.g. to wake a core from WFI', () => {
    const { gic, bus } = setup();
    let calls = 0;
    gic.cpuInterface(1).onIrqChange = () => calls++;
    const intid = 32 + 8;
    bus.write8(GICD_BASE + GICD.IPRIORITYR + intid, 0x80);
    bus.write64(GICD_BASE + GICD.IROUTER + 8 * intid, 1n);
    bus.write32(GICD_BASE + GICD.ISENABLER + 4, 1 << (intid & 31));
    expect(calls).toBe(0);
    gic.spi(8).set(true);
    expect(calls).toBe(1);
  });
});

describe('SGIs and PPIs (IHI 0069 ICC_SGI1R_EL1, GICR SGI_base)', () => {
  it('ICC_SGI1R_EL1 with a target list makes the SGI pending at the listed PE only', () => {
    const { gic } = setup();
    // INTID 5 [27:24], TargetList bit 1 (Aff0 = 1), Aff1 = Aff2 = Aff3 = 0
    gic.cpuInterface(0).writeSysreg('ICC_SGI1R_EL1', (5n << 24n) | 0b10n);
    expect(gic.cpuInterface(0).hasPendingIrq()).toBe(false);
    expect(read(gic, 'ICC_IAR1_EL1', 1)).toBe(5);
    gic.cpuInterface(1).writeSysreg('ICC_EOIR1_EL1', 5n);
    expect(read(gic, 'ICC_IAR1_EL1', 1)).toBe(1023);
  });

  it('ICC_SGI1R_EL1.IRM == 1 sends the SGI to every PE but the sender', () => {
    const { gic } = setup(3);
    gic.cpuInterface(1).writeSysreg('ICC_SGI1R_EL1', (1n << 40n) | (3n << 24n));
    expect(read(gic, 'ICC_IAR1_EL1', 0)).toBe(3);
    expect(read(gic, 'ICC_IAR1_EL1', 1)).toBe(1023);
    expect(read(gic, 'ICC_IAR1_EL1', 2)).toBe(3);
  });

  it('an SGI1R SGI is not forwarded to a PE where that SGI is Group 0', () => {
    const { gic, bus } = setup();
    bus.write32(sgiBase(1) + GICR_SGI.IGROUPR0, 0xffffffff & ~(1 << 2));
    gic.cpuInterface(0).writeSysreg('ICC_SGI1R_EL1', (2n << 24n) | 0b10n);
    expect(bus.read32(sgiBase(1) + GICR_SGI.ISPENDR0) & 4).toBe(0);
  });

  it('GICR_ICFGR0 reads SGIs as edge-triggered and ignores writes', () => {
    const { bus } = setup();
    bus.write32(sgiBase(0) + GICR_SGI.ICFGR0, 0);
    expect(bus.read32(sgiBase(0) + GICR_SGI.ICFGR0)).toBe(0xaaaaaaaa);
  });

  it('a timer PPI (INTID 27) driven by setPpi is pending at its own PE only, and follows the level', () => {
    const { gic, bus } = setup();
    gic.cpuInterface(1).setPpi(27, true);
    expect(gic.cpuInterface(0).hasPendingIrq()).toBe(false);
    expect(bus.read32(sgiBase(1) + GICR_SGI.ISPENDR0) & (1 << 27)).not.toBe(0);
    expect(read(gic, 'ICC_IAR1_EL1', 1)).toBe(27);
    gic.cpuInterface(1).setPpi(27, false); // the handler reprograms the timer
    gic.cpuInterface(1).writeSysreg('ICC_EOIR1_EL1', 27n);
    expect(read(gic, 'ICC_IAR1_EL1', 1)).toBe(1023);
  });

  it('a disabled PPI (GICR_ICENABLER0) stays pending without being signalled', () => {
    const { gic, bus } = setup();
    bus.write32(sgiBase(0) + GICR_SGI.ICENABLER0, 1 << 30);
    gic.cpuInterface(0).setPpi(30, true);
    expect(gic.cpuInterface(0).hasPendingIrq()).toBe(false);
    bus.write32(sgiBase(0) + GICR_SGI.ISENABLER0, 1 << 30);
    expect(gic.cpuInterface(0).hasPendingIrq()).toBe(true);
  });

  it('setPpi with an INTID outside 16-31 is an API error', () => {
    const { gic } = setup();
    expect(() => gic.cpuInterface(0).setPpi(32, true)).toThrow(/PPI INTID 16\.\.31/);
  });
});
