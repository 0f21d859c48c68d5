// Interrupt paths, as ratios measured in the same run:
// - one MSI end to end (DMA write to GITS_TRANSLATER, ITS translation, LPI pending,
//   ICC_IAR1_EL1 acknowledge, ICC_EOIR1_EL1) against a 4-byte DMA write to RAM by the
//   same port (target <= 40x: interrupt delivery must not dominate a device's work);
// - the CPU's per-preemption-point poll `hasPendingIrq()` with nothing changed (cached)
//   against the same RAM write (target <= 1x);
// - one PL011 character (UARTDR write, transmit event) against the RAM write (report).

import { figure, timeNsPerOp, type BenchFigure } from './figure.js';
import { MachineCore, RAM_BASE } from '../../src/machine/machine.js';
import { DmaPort } from '../../src/hw/bus/dma.js';
import { Gic, GICD_BASE, GICR_BASE, GITS_BASE, GITS_TRANSLATER_PA } from '../../src/hw/gic/gic.js';
import { GICD } from '../../src/hw/gic/distributor.js';
import { GICR } from '../../src/hw/gic/redistributor.js';
import { GITS } from '../../src/hw/gic/its.js';
import { ITS_CMD, ItsOpcode } from '../../src/hw/gic/its-command.js';
import { PL011_BASE, Pl011, UART } from '../../src/hw/uart/pl011.js';

const VALID = 1n << 63n;

function lpiMachine() {
  const m = new MachineCore({ cpus: 1, ramSize: 64 << 20 });
  const gic = new Gic(m, { cores: 1 });
  gic.mapOn(m.bus);
  const bus = m.bus;
  const prop = RAM_BASE + 0x10_0000;
  bus.write8(prop, 0xa1);
  bus.write32(GICD_BASE + GICD.CTLR, 0x13);
  bus.write32(GICR_BASE + GICR.WAKER, 0);
  bus.write64(GICR_BASE + GICR.PROPBASER, BigInt(prop) | 15n);
  bus.write64(GICR_BASE + GICR.PENDBASER, BigInt(RAM_BASE + 0x20_0000));
  bus.write32(GICR_BASE + GICR.CTLR, 1);
  bus.write64(GITS_BASE + GITS.BASER, VALID | BigInt(RAM_BASE + 0x30_0000) | 15n);
  bus.write64(GITS_BASE + GITS.BASER + 8, VALID | BigInt(RAM_BASE + 0x31_0000));
  const cmdq = RAM_BASE + 0x32_0000;
  bus.write64(GITS_BASE + GITS.CBASER, VALID | BigInt(cmdq));
  bus.write32(GITS_BASE + GITS.CTLR, 1);
  const cmds = [
    ITS_CMD.toBytes(ITS_CMD.encode({ CommandType: ItsOpcode.MAPD, DeviceID: 0x10, Size: 4, ITT_addr: RAM_BASE + 0x33_0000, V: 1 })),
    ITS_CMD.toBytes(ITS_CMD.encode({ CommandType: ItsOpcode.MAPC, ICID: 0, RDbase: 0, V: 1 })),
    ITS_CMD.toBytes(ITS_CMD.encode({ CommandType: ItsOpcode.MAPTI, DeviceID: 0x10, EventID: 0, pINTID: 8192, ICID: 0 })),
  ];
  cmds.forEach((c, i) => bus.writeBytes(cmdq + 32 * i, c));
  bus.write64(GITS_BASE + GITS.CWRITER, BigInt(32 * cmds.length));
  m.run({ untilIdle: true });
  const cpu = gic.cpuInterface(0);
  cpu.writeSysreg('ICC_PMR_EL1', 0xffn);
  cpu.writeSysreg('ICC_IGRPEN1_EL1', 1n);
  return { m, gic, cpu, port: new DmaPort(bus, 'dev', 0x10) };
}

let sink = 0;

export async function bench(): Promise<BenchFigure[]> {
  const { m, cpu, port } = lpiMachine();
  const ramNs = timeNsPerOp((n) => {
    for (let i = 0; i < n; i++) port.write32(RAM_BASE + 0x40_0000 + ((i * 4) & 0xfff), i);
  }, 200_000);
  const msiNs = timeNsPerOp((n) => {
    for (let i = 0; i < n; i++) {
      port.write32(GITS_TRANSLATER_PA, 0);
      const intid = cpu.readSysreg('ICC_IAR1_EL1');
      cpu.writeSysreg('ICC_EOIR1_EL1', intid);
      sink += Number(intid);
    }
  }, 50_000);
  const pollNs = timeNsPerOp((n) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += cpu.hasPendingIrq() ? 1 : 0;
    sink += s;
  }, 1_000_000);
  const uart = new Pl011(m, { onTx: (b) => (sink += b) });
  uart.mapOn(m.bus);
  m.bus.write32(PL011_BASE + UART.CR, 0x301);
  const charNs = timeNsPerOp((n) => {
    for (let i = 0; i < n; i++) {
      m.bus.write32(PL011_BASE + UART.DR, 0x41);
      m.run({ untilIdle: true });
    }
  }, 50_000);
  if (sink === -1) console.log(sink);
  return [
    figure('gic.msi_roundtrip_vs_dma_write32', msiNs / ramNs, 'x', { max: 40 }, `${msiNs.toFixed(0)} ns per MSI+IAR+EOI, ${ramNs.toFixed(0)} ns per RAM write32`),
    figure('gic.has_pending_irq_vs_dma_write32', pollNs / ramNs, 'x', { max: 1 }, `${pollNs.toFixed(1)} ns per poll`),
    figure('uart.char_vs_dma_write32', charNs / ramNs, 'x', undefined, `${charNs.toFixed(0)} ns per transmitted character`),
  ];
}
