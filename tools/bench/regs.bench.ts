// MMIO register accesses through the bus against RAM accesses through the same bus, in
// one run (report only): a read of the SMMU's CMDQ_CONS (a plain register of a
// RegisterBlock, reached through the bus's region lookup and the SMMU's page dispatch)
// against a RAM read32, and a write of CMDQ_PROD with the value it holds (its write hook
// runs: the queue is kicked and finds nothing to consume) against a RAM write32.

import { figure, timeNsPerOp, type BenchFigure } from './figure.js';
import { createMachine } from '../../src/machine/create.js';
import { RAM_BASE } from '../../src/machine/machine.js';

const CMDQ_PROD = 0x98;
const CMDQ_CONS = 0x9c;

let sink = 0;

export async function bench(): Promise<BenchFigure[]> {
  const m = createMachine();
  const bus = m.bus;
  const smmu = m.soc.smmu.base;
  const ram = RAM_BASE + 0x10_0000;
  const ramReadNs = timeNsPerOp((n) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += bus.read32(ram + ((i * 4) & 0xfff));
    sink += s;
  }, 500_000);
  const regReadNs = timeNsPerOp((n) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += bus.read32(smmu + CMDQ_CONS);
    sink += s;
  }, 500_000);
  const ramWriteNs = timeNsPerOp((n) => {
    for (let i = 0; i < n; i++) bus.write32(ram + ((i * 4) & 0xfff), i);
  }, 500_000);
  const prod = bus.read32(smmu + CMDQ_PROD);
  const regWriteNs = timeNsPerOp((n) => {
    for (let i = 0; i < n; i++) bus.write32(smmu + CMDQ_PROD, prod);
  }, 500_000);
  if (bus.error || sink === -1) throw new Error('regs bench: bus error');
  return [
    figure('regs.mmio_read32_vs_ram_read32', regReadNs / ramReadNs, 'x', undefined, `SMMU CMDQ_CONS read through the bus ${regReadNs.toFixed(1)} ns, RAM read32 ${ramReadNs.toFixed(1)} ns`),
    figure('regs.mmio_write32_vs_ram_write32', regWriteNs / ramWriteNs, 'x', undefined, `SMMU CMDQ_PROD write (hook: kick, nothing to consume) ${regWriteNs.toFixed(1)} ns, RAM write32 ${ramWriteNs.toFixed(1)} ns`),
  ];
}
