// Determinism of the whole machine (DESIGN.md section 3: the same inputs and seed give
// the same trace, byte for byte). One bare-metal workload touches every source of
// concurrency at once: both CPU cores with their MMUs on, printing on the PL011 and
// taking an LPI; the testdev's PASID DMA translated by the SMMU through stage 1
// tables, one of them stalled and resumed; a ZIP compression through the QM rings
// whose completion MSI goes through the ITS. Two runs with one seed must give the
// same running trace hash, console text and RAM; another seed must not.

import { describe, it, expect } from 'vitest';
import { inflateRaw } from 'pako';
import { BareMetalSmmu, SVA_LAYOUT } from '../../src/cli/demo.js';
import { ZipRig, BAR2, REQ, makeSqe, sampleData } from '../conformance/zip-rig.js';
import { assignPciBars } from '../../firmware/pci-enum.js';
import { GITS } from '../../src/hw/gic/its.js';
import { GICR, GICR_STRIDE } from '../../src/hw/gic/redistributor.js';
import { ITS_CMD, ItsOpcode, type ItsCmdFields, type ItsCommandName } from '../../src/hw/gic/its-command.js';
import { RAM_BASE } from '../../src/machine/machine.js';
import { PSCI, type ArchCpu, type CoreMain, type ExceptionVectors } from '../../src/arch/cpu.js';
import { mulberry32u as rng } from '../../src/machine/prng.js';

const MiB = 1 << 20;
const TESTDEV_SID = 0x10;
const ZIP_SID = 0x08;
// GIC LPI tables and ITS queue (bench-owned RAM below the demo's SMMU area).
const LPI_PROP = RAM_BASE + 0x20_0000;
const LPI_PEND = RAM_BASE + 0x21_0000; // + core * 64 KiB
const ITS_DEVICES = RAM_BASE + 0x23_0000;
const ITS_COLLECTIONS = RAM_BASE + 0x24_0000;
const ITS_CMDQ = RAM_BASE + 0x25_0000;
const ITS_ITT = RAM_BASE + 0x26_0000;
const ZIP_EVENT = 0x40; // the rig's MSI data base: vector 0 (EQ) sends EventID 0x40
const LPI = 8192;
// CPU stage 1 tables and the cores' data pages (VA USER_VA maps DATA_PA).
const CPU_TABLES = RAM_BASE + 0x30_0000;
const DATA_PA = RAM_BASE + 0x38_0000;
const USER_VA = 0x0000_0040_0000_0000;
const DATA_PAGES = 8;

interface Outcome {
  readonly hash: string;
  readonly records: number;
  readonly console: string;
  readonly ram: string;
  readonly nowNs: number;
}

/** FNV-1a over 32-bit words. */
class Fnv {
  h = 0x811c9dc5;
  word(v: number): void {
    this.h ^= v >>> 0;
    this.h = Math.imul(this.h, 0x01000193) >>> 0;
  }
  num(v: number): void {
    this.word(v >>> 0);
    this.word(Math.floor(v / 4294967296));
  }
  bytes(b: Uint8Array): void {
    for (let i = 0; i + 4 <= b.length; i += 4) this.word(b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24));
  }
  get hex(): string {
    return this.h.toString(16).padStart(8, '0');
  }
}


function runWorkload(seed: number): Outcome {
  const rig = new ZipRig({ ramSize: 256 * MiB });
  const m = rig.machine;
  const bus = m.bus;
  m.trace.enable();
  // A running hash of every record as it is appended: the ring may wrap, this does not.
  const trace = new Fnv();
  let records = 0;
  m.trace.subscribe((ring, i) => {
    const r = ring.at(i);
    records++;
    trace.num(r.timeNs);
    trace.word(r.kind);
    for (const c of r.initiator) trace.word(c.charCodeAt(0));
    trace.word(r.sid);
    trace.word(r.ssid);
    for (const v of [r.iova, r.pa, r.value]) {
      trace.word(Number(v & 0xffffffffn));
      trace.word(Number(v >> 32n));
    }
    trace.word(r.size);
    trace.word(r.aux);
  });
  const random = rng(seed);

  // ---- PCI: the boot stage's enumeration ----
  const soc = m.soc;
  const bars = assignPciBars(bus, soc.pcie.ecam.base, soc.pcie.busRange.first, soc.pcie.busRange.last, soc.pcie.mmioWindow, bus.benchInitiator);
  const testdev = bars.find((b) => b.bdf === '0000:00:02.0' && b.index === 0)!.base;
  expect(bars.find((b) => b.bdf === '0000:00:01.0' && b.index === 2)!.base).toBe(BAR2);

  // ---- GIC: Group 1, LPIs on both Redistributors, ITS with ZIP's DeviceID mapped to an LPI on core 1 ----
  const gicd = soc.gic.gicd.base;
  const its = soc.gic.its.base;
  bus.write32(gicd, 0x13);
  for (let i = 0; i < 64; i++) bus.write8(LPI_PROP + i, 0xa0 | 1);
  for (let c = 0; c < 2; c++) {
    const rd = soc.gic.gicr.base + c * GICR_STRIDE;
    bus.write32(rd + GICR.WAKER, 0);
    bus.write64(rd + GICR.PROPBASER, BigInt(LPI_PROP) | 15n);
    bus.write64(rd + GICR.PENDBASER, BigInt(LPI_PEND + c * 0x1_0000));
    bus.write32(rd + GICR.CTLR, 1);
  }
  bus.write64(its + GITS.BASER, (1n << 63n) | BigInt(ITS_DEVICES) | 15n);
  bus.write64(its + GITS.BASER + 8, (1n << 63n) | BigInt(ITS_COLLECTIONS));
  bus.write64(its + GITS.CBASER, (1n << 63n) | BigInt(ITS_CMDQ));
  bus.write32(its + GITS.CTLR, 1);
  let cwriter = 0;
  const itsCommands = (...cmds: [ItsCommandName, ItsCmdFields][]) => {
    for (const [name, fields] of cmds) {
      bus.writeBytes(ITS_CMDQ + cwriter, ITS_CMD.toBytes(ITS_CMD.encode({ ...fields, CommandType: ItsOpcode[name] })));
      cwriter += 32;
    }
    bus.write64(its + GITS.CWRITER, BigInt(cwriter));
  };
  itsCommands(
    ['MAPD', { DeviceID: ZIP_SID, Size: 7, ITT_addr: ITS_ITT, V: 1 }],
    ['MAPC', { ICID: 1, RDbase: 1, V: 1 }],
    ['MAPTI', { DeviceID: ZIP_SID, EventID: ZIP_EVENT, pINTID: LPI, ICID: 1 }],
    ['SYNC', { RDbase: 1 }],
  );
  m.run({ untilIdle: true });

  // ---- SMMU: the demo driver's bring-up, a PASID bound for the testdev, ZIP in bypass ----
  const smmu = new BareMetalSmmu(m, soc.smmu.base);
  expect(smmu.reset(() => {})).toBe(true);
  const pages = Array.from({ length: 4 }, () => SVA_LAYOUT.pa + (random() % 64) * 4096);
  pages.forEach((pa, i) => smmu.mapUserPage(SVA_LAYOUT.iova + i * 4096, pa));
  smmu.attachPasid(TESTDEV_SID, SVA_LAYOUT.ssid, SVA_LAYOUT.asid);
  bus.write64(SVA_LAYOUT.strtab + ZIP_SID * 64, 1n | (4n << 1n)); // STE.Config = bypass
  smmu.command([0x03n | (BigInt(ZIP_SID) << 32n), 1n]);
  expect(smmu.sync()).toBe(true);
  const ecamTestdev = soc.pcie.ecam.base + (2 << 15);
  bus.write16(ecamTestdev + 4, 0x6);
  bus.write32(ecamTestdev + 0x110 + 4, 1 << 16); // PASID Enable

  // ---- ZIP: QM up, one queue; its MSI now targets the ITS doorbell ----
  rig.startQm(8);
  const q = rig.startQueue(0, 0, { depth: 16 });
  const msiCap = rig.findCap(0x05);
  rig.cfgWrite32(msiCap + 4, its + GITS.TRANSLATER);

  // ---- CPU cores: MMU on over bench-built tables, UART output, an LPI on core 1 ----
  const uart = soc.uart.base;
  bus.write32(uart + 0x30, 0x301); // UARTCR: UARTEN | TXE | RXE
  buildCpuTables(m.bus, DATA_PA, DATA_PAGES);
  const words = Array.from({ length: 256 }, () => random());
  const lpis: number[] = [];
  let done = 0;
  const vectors: ExceptionVectors = {
    sync(cpu) {
      throw new Error(`unexpected sync exception ESR=0x${cpu.readSysreg('ESR_EL1').toString(16)} FAR=0x${cpu.readSysreg('FAR_EL1').toString(16)}`);
    },
    irq(cpu) {
      const intid = Number(cpu.readSysreg('ICC_IAR1_EL1') & 0xffffffn);
      if (intid >= 1020 && intid <= 1023) return; // special INTIDs: nothing to acknowledge
      lpis.push(intid);
      print(cpu, `cpu${cpu.id}: irq ${intid} at ${cpu.now()} ns\n`);
      cpu.writeSysreg('ICC_EOIR1_EL1', intid);
    },
    // eslint-disable-next-line require-yield
    *svc() {
      return 0;
    },
  };
  const print = (cpu: ArchCpu, text: string) => {
    for (const ch of text) {
      while ((cpu.ldPhys32(uart + 0x18) & (1 << 5)) !== 0) cpu.charge(10_000); // UARTFR.TXFF
      cpu.stPhys32(uart, ch.charCodeAt(0));
    }
  };
  const mmuOn = (cpu: ArchCpu) => {
    cpu.setVectors(RAM_BASE, vectors);
    cpu.writeSysreg('MAIR_EL1', 0xff);
    cpu.writeSysreg('TCR_EL1', 16n | (1n << 23n) | (5n << 32n) | (1n << 36n)); // T0SZ 16, EPD1, IPS 48, AS
    cpu.writeSysreg('TTBR0_EL1', (BigInt(cpu.id + 1) << 48n) | BigInt(CPU_TABLES));
    cpu.writeSysreg('SCTLR_EL1', cpu.readSysreg('SCTLR_EL1') | 1n);
    cpu.writeSysreg('ICC_PMR_EL1', 0xff);
    cpu.writeSysreg('ICC_IGRPEN1_EL1', 1);
  };
  const secondary: CoreMain = function* (cpu) {
    mmuOn(cpu);
    cpu.writeSysreg('DAIF', 0);
    let sum = 0;
    for (let i = 0; i < words.length; i++) sum = (sum + cpu.ld32(USER_VA + 4 * i)) >>> 0;
    print(cpu, `cpu1: sum ${sum.toString(16)}\n`);
    while (lpis.length === 0) yield 'wfi';
    done++;
  };
  const primary: CoreMain = function* (cpu) {
    mmuOn(cpu);
    for (let i = 0; i < words.length; i++) cpu.st32(USER_VA + 4 * i, words[i]!);
    cpu.dsb();
    print(cpu, `cpu0: wrote ${words.length} words\n`);
    cpu.smc(PSCI.CPU_ON_64, 1, secondary, 0);
    for (let round = 0; round < 20; round++) {
      let x = 0;
      for (let i = 0; i < 64; i++) x ^= cpu.ld32(USER_VA + 4 * ((i * 7 + round) % words.length));
      cpu.st32(USER_VA + 4096 + 4 * round, x);
      yield 'yield';
    }
    print(cpu, 'cpu0: done\n');
    done++;
  };
  m.cluster.boot(primary);

  // ---- Devices at work while the cores run ----
  m.run({ forNs: 20_000 });
  const input = sampleData(48 * 1024, seed);
  const src = rig.put(input);
  const dst = rig.alloc(64 * 1024);
  rig.submit(q, makeSqe({ reqType: REQ.DEFLATE, src, dst, inLen: input.length, availOut: 64 * 1024 }));
  // The testdev: a PASID DMA over the mapped pages, then one that stalls on the fifth (unmapped) page.
  const dma = (iova: number, gpa: number, len: number) => {
    bus.write32(testdev + 0x04, iova >>> 0);
    bus.write32(testdev + 0x08, Math.floor(iova / 4294967296));
    bus.write32(testdev + 0x1c, gpa >>> 0);
    bus.write32(testdev + 0x20, 0);
    bus.write32(testdev + 0x0c, len);
    bus.write32(testdev + 0x40, SVA_LAYOUT.ssid);
    bus.write32(testdev + 0x44, 1 | (1 << 4)); // SSV, OP = write only
    bus.write32(testdev + 0x14, 1);
    bus.read32(testdev + 0x00);
  };
  dma(SVA_LAYOUT.iova, pages[0]!, 3000 + (random() % 1000));
  m.run({ forNs: 50_000 });
  expect(bus.read32(testdev + 0x10)).toBe(0);
  dma(SVA_LAYOUT.iova + 3 * 4096, pages[3]!, 8192);
  m.run({ forNs: 50_000 });
  expect(bus.read32(testdev + 0x10)).toBe(0xfffffffe); // BUSY: stalled on the unmapped page
  const [stall] = smmu.popEvents();
  expect(stall?.stall).toBe(true);
  smmu.mapUserPage(SVA_LAYOUT.iova + 4 * 4096, SVA_LAYOUT.pa + 0x8_0000);
  smmu.resume(TESTDEV_SID, stall!.stag);
  expect(smmu.sync()).toBe(true);
  m.run({ untilIdle: true });
  expect(bus.read32(testdev + 0x10)).toBe(0);

  // ---- Outcome ----
  expect(done).toBe(2);
  expect(lpis).toContain(LPI);
  const [slot] = rig.reap(q);
  const result = rig.result(q, slot!);
  expect(result.status).toBe(0);
  expect(inflateRaw(bus.readBytes(dst, result.produced))).toEqual(input);
  const ram = new Fnv();
  for (const [base, len] of [
    [RAM_BASE + 0x20_0000, 0x40_0000], // GIC tables, CPU tables and data, SMMU structures and SVA buffers
    [SVA_LAYOUT.pa, 0x10_0000],
    [RAM_BASE + 0x0400_0000, 0x20_0000], // the rig's QM rings, contexts and buffers
  ] as const) {
    ram.bytes(bus.readBytes(base, len));
  }
  return { hash: trace.hex, records, console: m.console.text, ram: ram.hex, nowNs: m.clock.now() };
}

/** Identity-free stage 1 tables for the cores: USER_VA + i*4K -> dataPa + i*4K (4K pages, AP = RW EL1, AF). */
function buildCpuTables(bus: { write64(pa: number, v: bigint): void; writeBytes(pa: number, b: Uint8Array): void }, dataPa: number, pages: number): void {
  const l0 = CPU_TABLES;
  const l1 = CPU_TABLES + 0x1000;
  const l2 = CPU_TABLES + 0x2000;
  const l3 = CPU_TABLES + 0x3000;
  bus.writeBytes(l0, new Uint8Array(0x4000));
  const idx = (level: number) => Math.floor(USER_VA / 2 ** (39 - 9 * level)) % 512;
  bus.write64(l0 + idx(0) * 8, BigInt(l1) | 3n);
  bus.write64(l1 + idx(1) * 8, BigInt(l2) | 3n);
  bus.write64(l2 + idx(2) * 8, BigInt(l3) | 3n);
  for (let i = 0; i < pages; i++) bus.write64(l3 + (idx(3) + i) * 8, BigInt(dataPa + i * 4096) | (1n << 10n) | (3n << 8n) | 3n);
}

describe('machine determinism (DESIGN.md section 3)', () => {
  it('two runs of the same bare-metal workload and seed give the same trace hash, console output, RAM and virtual time; another seed changes the hash', () => {
    const a = runWorkload(7);
    const b = runWorkload(7);
    expect(a.records).toBeGreaterThan(500);
    expect(a.console).toMatch(/cpu0: wrote 256 words\n/);
    expect(a.console).toMatch(/cpu1: irq 8192 at \d+ ns\n/);
    expect(b).toEqual(a);
    const c = runWorkload(8);
    expect(c.hash).not.toBe(a.hash);
    expect(c.ram).not.toBe(a.ram);
  });
});
