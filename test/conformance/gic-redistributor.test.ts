// GICv3 Redistributor frames through machine.bus (IHI 0069 12.10).
import { describe, expect, it } from 'vitest';
import { MachineCore } from '../../src/machine/machine.js';
import { Gic, GICD_BASE, GICR_BASE } from '../../src/hw/gic/gic.js';
import { GICD } from '../../src/hw/gic/distributor.js';
import { GICR, GICR_FRAME_SIZE, GICR_SGI, GICR_STRIDE } from '../../src/hw/gic/redistributor.js';

function setup(cores = 2) {
  const m = new MachineCore({ cpus: cores });
  const gic = new Gic(m, { cores });
  gic.mapOn(m.bus);
  return { m, gic, bus: m.bus };
}

describe('GICR_WAKER power handshake (IHI 0069, GICR_WAKER)', () => {
  it('resets asleep; clearing ProcessorSleep makes ChildrenAsleep read 0, as Linux gic_enable_redist waits for', () => {
    const { bus } = setup();
    expect(bus.read32(GICR_BASE + GICR.WAKER)).toBe(0b110);
    bus.write32(GICR_BASE + GICR.WAKER, 0);
    expect(bus.read32(GICR_BASE + GICR.WAKER)).toBe(0);
    bus.write32(GICR_BASE + GICR.WAKER, 0b010);
    expect(bus.read32(GICR_BASE + GICR.WAKER)).toBe(0b110);
  });

  it('while ProcessorSleep == 1 nothing is forwarded to the PE', () => {
    const { gic, bus } = setup();
    bus.write32(GICD_BASE + GICD.CTLR, 0x13);
    const sgi = GICR_BASE + GICR_FRAME_SIZE;
    bus.write32(sgi + GICR_SGI.IGROUPR0, 0xffffffff);
    bus.write32(sgi + GICR_SGI.ISENABLER0, 0xffffffff);
    const cpu = gic.cpuInterface(0);
    cpu.writeSysreg('ICC_PMR_EL1', 0xffn);
    cpu.writeSysreg('ICC_IGRPEN1_EL1', 1n);
    cpu.setPpi(23, true);
    expect(cpu.hasPendingIrq()).toBe(false);
    bus.write32(GICR_BASE + GICR.WAKER, 0);
    expect(cpu.hasPendingIrq()).toBe(true);
  });
});

describe('Redistributor identification (IHI 0069, GICR_TYPER, GICR_PIDR2)', () => {
  it('GICR_TYPER gives Processor_Number, the affinity, PLPIS, and Last only on the final frame', () => {
    const { bus } = setup(3);
    for (let c = 0; c < 3; c++) {
      const typer = bus.read64(GICR_BASE + c * GICR_STRIDE + GICR.TYPER);
      expect(Number((typer >> 8n) & 0xffffn)).toBe(c);
      expect(Number(typer >> 32n)).toBe(c);
      expect(Number(typer & 1n)).toBe(1);
      expect(Number((typer >> 4n) & 1n)).toBe(c === 2 ? 1 : 0);
    }
    expect((bus.read32(GICR_BASE + 2 * GICR_STRIDE + GICR.PIDR2) >>> 4) & 0xf).toBe(3);
  });

  it('the region ends after the last Redistributor: the next frame is a decode error', () => {
    const { bus } = setup(2);
    bus.read32(GICR_BASE + 2 * GICR_STRIDE);
    expect(bus.error).toBe(true);
    expect(bus.lastError?.reason).toBe('decode');
  });

  it('GICR_CTLR.EnableLPIs cannot be cleared once set (CES == 0), and PROPBASER is then read-only', () => {
    const { bus } = setup();
    bus.write64(GICR_BASE + GICR.PROPBASER, 0x4100_0000n | 15n);
    bus.write32(GICR_BASE + GICR.CTLR, 1);
    bus.write32(GICR_BASE + GICR.CTLR, 0);
    expect(bus.read32(GICR_BASE + GICR.CTLR) & 1).toBe(1);
    expect(bus.read32(GICR_BASE + GICR.CTLR) & 2).toBe(0);
    bus.write64(GICR_BASE + GICR.PROPBASER, 0x4200_0000n | 15n);
    expect(bus.read64(GICR_BASE + GICR.PROPBASER)).toBe(0x4100_0000n | 15n);
  });

  it('GICR_IPRIORITYR is byte-accessible and GICR_ICFGR1 makes PPIs edge-triggered', () => {
    const { gic, bus } = setup();
    const sgi = GICR_BASE + GICR_FRAME_SIZE;
    bus.write8(sgi + GICR_SGI.IPRIORITYR + 27, 0x47);
    expect(bus.read8(sgi + GICR_SGI.IPRIORITYR + 27)).toBe(0x40);
    bus.write32(sgi + GICR_SGI.ICFGR1, 0xffffffff);
    expect(bus.read32(sgi + GICR_SGI.ICFGR1)).toBe(0xaaaaaaaa);
    gic.cpuInterface(0).setPpi(20, true);
    gic.cpuInterface(0).setPpi(20, false);
    expect(bus.read32(sgi + GICR_SGI.ISPENDR0) & (1 << 20)).not.toBe(0);
  });
});
