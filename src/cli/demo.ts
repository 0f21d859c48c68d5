// The bare-metal demo (`svasoc demo`): a machine at reset, driven from outside as a
// bare-metal test would drive it, with its trace printed by the text exporter.
//
// The work is a list of steps, each a small program against `machine.bus` and the
// clock: a plain bus master copies a seeded buffer, the iommu-testdev found through
// ECAM does a DMA with the SMMU still disabled (IOVA = PA), accesses to holes end in
// bus errors; then the SMMU comes up as Linux brings it up, a process address space
// is bound to the testdev with a PASID, its DMA translates through stage 1, and a DMA
// to an unmapped page stalls until the "fault handler" maps it and sends CMD_RESUME.

import { assignPciBars } from '../../firmware/pci-enum.js';
import { DmaPort, DmaStatus } from '../hw/bus/dma.js';
import { buildSocTree, loadSocDescription } from '../machine/soc.js';
import { writeDtb } from '../machine/fdt/dtb-writer.js';
import { createMachine } from '../machine/create.js';
import type { MachineCore } from '../machine/machine.js';
import { TraceKind } from '../trace/record.js';
import { NO_SID, NO_SSID } from '../trace/ring.js';
import { formatTraceLine } from '../trace/export-text.js';
import { byAddress, not, select, type TraceFilter } from '../trace/filter.js';
import { formatSize } from './args.js';
import { mulberry32 } from '../machine/prng.js';

export interface DemoOutput {
  write(text: string): void;
}

export interface DemoContext {
  readonly machine: MachineCore;
  /** Seeded generator (mulberry32) for demo data: same seed, same bytes. */
  readonly random: () => number;
  /** Prints one line of the step's narrative. */
  log(line: string): void;
  /** Facts later steps and the summary use (e.g. where a buffer lives). */
  readonly facts: Map<string, number>;
}

export interface DemoStep {
  readonly title: string;
  /** Issues the step's accesses; may schedule events that the demo then runs to idle. */
  start(ctx: DemoContext): void;
  /** Checks the outcome after the machine went idle; returns a failure message or undefined. */
  check?(ctx: DemoContext): string | undefined;
  /** The trace excerpt starts at the first step that sets this (default: the first step). */
  readonly excerpt?: boolean;
}

export interface DemoOptions {
  readonly ramSize?: number;
  readonly cpus?: number;
  readonly seed?: number;
  /** A machine to use instead of a fresh one (it must have tracing on). */
  readonly machine?: MachineCore;
  readonly steps?: readonly DemoStep[];
  /** Trace lines to print (head of the trace). */
  readonly excerptLines?: number;
  /** Records the excerpt shows (default: all but PCI configuration accesses through ECAM). */
  readonly excerptFilter?: TraceFilter;
}

export interface DemoResult {
  readonly machine: MachineCore;
  readonly traceHash: string;
  readonly failures: readonly string[];
}


const hex = (v: number, digits = 8) => `0x${v.toString(16).padStart(digits, '0')}`;

const DEMO_SRC = 0x4010_f000; // straddles the 64 KiB RAM chunk at 0x4011_0000
const DEMO_DST = 0x4020_0000;
const DEMO_LEN = 3 * 4096;
const PAGE = 4096;
/** StreamID of the plain bus master: requester ID 01:00.0, where no PCI function sits. */
const DEMO_SID = 0x0100;

export const FILL_SOURCE_STEP: DemoStep = {
  title: 'bench (the test bench: this demo driving machine.bus, no CPU) writes a 12 KiB seeded source buffer across a RAM chunk boundary',
  start(ctx) {
    const data = new Uint8Array(DEMO_LEN);
    for (let i = 0; i < data.length; i++) data[i] = Math.floor(ctx.random() * 256);
    ctx.machine.bus.writeBytes(DEMO_SRC, data);
    ctx.log(`src ${hex(DEMO_SRC)}..${hex(DEMO_SRC + DEMO_LEN - 1)} written`);
  },
};

export const DMA_COPY_STEP: DemoStep = {
  title: 'a plain bus master copies the buffer page by page in virtual time',
  start(ctx) {
    const m = ctx.machine;
    const port = new DmaPort(m.bus, 'demo-dma', DEMO_SID);
    const page = new Uint8Array(PAGE);
    const perPage = m.cost.dmaLatencyNs + PAGE / m.cost.dmaBytesPerNs;
    let copied = 0;
    const copyPage = (i: number) => {
      const readSt = port.read(DEMO_SRC + i * PAGE, page, 0, PAGE);
      const writeSt = readSt === DmaStatus.Ok ? port.write(DEMO_DST + i * PAGE, page, 0, PAGE) : readSt;
      if (writeSt === DmaStatus.Ok) copied += PAGE;
      ctx.facts.set('copied', copied);
      if (i + 1 < DEMO_LEN / PAGE) m.clock.after(2 * perPage, 'demo-dma page', () => copyPage(i + 1));
      else ctx.log(`copy done at ${m.clock.now()} ns: ${copied} bytes`);
    };
    m.clock.after(perPage, 'demo-dma page', () => copyPage(0));
  },
  check(ctx) {
    const bus = ctx.machine.bus;
    const a = bus.readBytes(DEMO_SRC, DEMO_LEN);
    const b = bus.readBytes(DEMO_DST, DEMO_LEN);
    const same = a.every((v, i) => v === b[i]);
    ctx.log(same ? `dst ${hex(DEMO_DST)} matches src (${DEMO_LEN} bytes)` : 'dst differs from src');
    return same ? undefined : 'DMA copy mismatch';
  },
};

// iommu-testdev BAR0 registers (QEMU docs/specs/iommu-testdev.rst), as a driver declares them
const ITD_DMA_TRIGGERING = 0x00;
const ITD_DMA_GVA_LO = 0x04;
const ITD_DMA_GVA_HI = 0x08;
const ITD_DMA_LEN = 0x0c;
const ITD_DMA_RESULT = 0x10;
const ITD_DMA_DBELL = 0x14;
const ITD_DMA_GPA_LO = 0x1c;
const ITD_DMA_GPA_HI = 0x20;
const ITD_PATTERN = 0x12345678;
const TESTDEV_BDF = '0000:00:02.0';
const TESTDEV_BUF = 0x4030_0000;
const TESTDEV_LEN = 256;
const PCI_COMMAND = 0x04;
const PCI_COMMAND_MEMORY = 0x2;
const PCI_COMMAND_MASTER = 0x4;

export const TESTDEV_DMA_STEP: DemoStep = {
  title: 'the iommu-testdev at 00:02.0 (BAR0 assigned through ECAM) writes its pattern by DMA and checks it',
  start(ctx) {
    const m = ctx.machine;
    const soc = loadSocDescription();
    const { ecam, busRange, mmioWindow } = soc.pcie;
    const bars = assignPciBars(m.bus, ecam.base, busRange.first, busRange.last, mmioWindow, m.bus.benchInitiator);
    const bar0 = bars.find((b) => b.bdf === TESTDEV_BDF && b.index === 0);
    if (bar0 === undefined) {
      ctx.log(`no BAR0 for ${TESTDEV_BDF}: the test device is not on this machine`);
      return;
    }
    const cmd = ecam.base + (2 << 15) + PCI_COMMAND; // bus 0, device 2, function 0
    m.bus.write16(cmd, m.bus.read16(cmd) | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    const reg = (off: number) => bar0.base + off;
    m.bus.write32(reg(ITD_DMA_GVA_LO), TESTDEV_BUF);
    m.bus.write32(reg(ITD_DMA_GVA_HI), 0);
    m.bus.write32(reg(ITD_DMA_GPA_LO), TESTDEV_BUF); // no SMMU yet: the IOVA is the PA
    m.bus.write32(reg(ITD_DMA_GPA_HI), 0);
    m.bus.write32(reg(ITD_DMA_LEN), TESTDEV_LEN);
    m.bus.write32(reg(ITD_DMA_DBELL), 1);
    m.bus.read32(reg(ITD_DMA_TRIGGERING));
    ctx.facts.set('testdevResultReg', reg(ITD_DMA_RESULT));
    ctx.facts.set('testdevBar0', bar0.base);
    ctx.log(`BAR0 at ${hex(bar0.base)}; DMA of ${TESTDEV_LEN} bytes to ${hex(TESTDEV_BUF)} triggered at ${m.clock.now()} ns`);
  },
  check(ctx) {
    const resultReg = ctx.facts.get('testdevResultReg');
    if (resultReg === undefined) return 'the test device was not found';
    const bus = ctx.machine.bus;
    const result = bus.read32(resultReg);
    const word = bus.read32(TESTDEV_BUF + TESTDEV_LEN - 4);
    ctx.log(`testdev DMA_RESULT ${hex(result)}; last word at the buffer ${hex(word)}`);
    return result === 0 && word === ITD_PATTERN ? undefined : `testdev DMA_RESULT ${hex(result)}, buffer word ${hex(word)}`;
  },
};

export const BUS_ERROR_STEP: DemoStep = {
  title: 'accesses to addresses nothing decodes end in bus errors, recorded and returned',
  start(ctx) {
    const m = ctx.machine;
    const before = m.bus.errorCount;
    const v = m.bus.read32(0x0000_1000);
    const port = new DmaPort(m.bus, 'demo-dma', DEMO_SID);
    const st = port.write32(0x3e00_0000, 0xfeedface); // a hole in the PCIe window, no BAR there
    ctx.log(`read32(0x1000) -> ${hex(v)} with error=${m.bus.error}; DMA to 0x3e000000 -> ${DmaStatus[st]}`);
    ctx.facts.set('busErrors', m.bus.errorCount - before);
  },
  check(ctx) {
    return ctx.facts.get('busErrors') === 2 ? undefined : `expected 2 bus errors, saw ${ctx.facts.get('busErrors')}`;
  },
};

// ---------------------------------------------------------------------------
// SVA through the SMMU, as a bare-metal driver would program it (all through
// machine.bus). Field positions are the driver's own, written from Linux's
// arm-smmu-v3.h and the Arm SMMUv3 spec (IHI 0070), not taken from the model.

/** SMMU register offsets (IHI 0070 6.2; page 1 at +64 KiB). */
const SMMU_REG = {
  IDR0: 0x00,
  IDR1: 0x04,
  CR0: 0x20,
  CR0ACK: 0x24,
  CR1: 0x28,
  CR2: 0x2c,
  GBPA: 0x44,
  IRQ_CTRL: 0x50,
  IRQ_CTRLACK: 0x54,
  GERROR: 0x60,
  GERRORN: 0x64,
  STRTAB_BASE: 0x80,
  STRTAB_BASE_CFG: 0x88,
  CMDQ_BASE: 0x90,
  CMDQ_PROD: 0x98,
  CMDQ_CONS: 0x9c,
  EVTQ_BASE: 0xa0,
  EVTQ_PROD: 0x1_00a8,
  EVTQ_CONS: 0x1_00ac,
} as const;
const CR0_SMMUEN = 1 << 0;
const CR0_EVTQEN = 1 << 2;
const CR0_CMDQEN = 1 << 3;
const GBPA_UPDATE = 1 << 31;
const GBPA_ABORT = 1 << 20;
const IRQ_CTRL_GERROR_IRQEN = 1 << 0;
const GERROR_CMDQ_ERR = 1 << 0;
const IRQ_CTRL_EVTQ_IRQEN = 1 << 2;
/** CR1: queues and tables Inner Shareable, Write-Back cacheable (Linux arm_smmu_device_reset). */
const CR1_VALUE = (3 << 10) | (1 << 8) | (1 << 6) | (3 << 4) | (1 << 2) | 1;
/** CR2: PTM | RECINVSID. */
const CR2_VALUE = (1 << 2) | (1 << 1);
const Q_BASE_RWA = 1n << 62n;
const STRTAB_BASE_RA = 1n << 62n;

const CMD = { CFGI_STE: 0x03, CFGI_CD: 0x05, CFGI_ALL: 0x04, TLBI_NSNH_ALL: 0x30, RESUME: 0x44, SYNC: 0x46 } as const;
/** CMD_RESUME dw0[13:12] (Linux CMDQ_RESUME_0_RESP_*). */
const RESUME_RETRY = 1;

/** Event numbers the demo can see (IHI 0070 7.3). */
const EVENT_NAMES: Readonly<Record<number, string>> = {
  0x02: 'C_BAD_STREAMID', 0x04: 'C_BAD_STE', 0x06: 'F_STREAM_DISABLED', 0x08: 'C_BAD_SUBSTREAMID', 0x0a: 'C_BAD_CD',
  0x10: 'F_TRANSLATION', 0x11: 'F_ADDR_SIZE', 0x12: 'F_ACCESS', 0x13: 'F_PERMISSION',
};
const EVENT_CLASS = ['CD', 'TT', 'IN', 'reserved'] as const;

/** The demo's RAM layout for the SMMU's structures and the SVA buffers. */
export const SVA_LAYOUT = {
  strtab: 0x4040_0000,
  strtabLog2: 5, // 32 STEs: StreamIDs 0x00..0x1f cover both PCI functions
  cmdq: 0x4040_1000,
  cmdqLog2: 8,
  evtq: 0x4040_2000,
  evtqLog2: 6,
  cdTable: 0x4040_3000,
  cdLog2: 1, // two CDs: SSID 0 (unused) and SSID 1
  pageTables: 0x4041_0000,
  /** The process's buffer as the device sees it (a user VA) and where it lives. */
  iova: 0x0000_7f00_0040_0000,
  pa: 0x4050_0000,
  /** An 8 KiB buffer whose second page is not mapped when the DMA starts. */
  stallIova: 0x0000_7f00_0080_0000,
  stallPa: 0x4051_0000,
  asid: 0x42,
  ssid: 1,
} as const;

/** StreamID of the iommu-testdev (requester ID 00:02.0 through iommu-map). */
const TESTDEV_SID = 0x10;
const ITD_X_SSID = 0x40;
const ITD_X_CTRL = 0x44;
const ITD_X_CTRL_SSV = 1;
const ITD_X_FAULT_LO = 0x48;
const ITD_X_DONE = 0x50;
const ITD_BUSY = 0xfffffffe;
const PCI_EXT_CAP_ID_PASID = 0x1b;
const PCI_PASID_CTRL = 0x06;
const PCI_PASID_CTRL_ENABLE = 1;

const big = BigInt;
const bitsAt = (v: number | bigint, lsb: number) => big(v) << big(lsb);

/** A minimal bare-metal SMMUv3 driver over the bus, in the order Linux's arm_smmu_device_reset uses. */
export class BareMetalSmmu {
  private prod = 0;
  private nextTable: number = SVA_LAYOUT.pageTables;
  /** Root of the process's stage 1 tables (TTB0 of its CD). */
  readonly ttb0: number;

  constructor(
    private readonly machine: MachineCore,
    readonly base: number,
  ) {
    this.ttb0 = this.table();
  }

  private get bus() {
    return this.machine.bus;
  }

  r32(off: number): number {
    return this.bus.read32(this.base + off);
  }

  w32(off: number, v: number): void {
    this.bus.write32(this.base + off, v >>> 0);
  }

  w64(off: number, v: bigint): void {
    this.bus.write64(this.base + off, v);
  }

  /** Writes CR0 and polls CR0ACK (6.3.9: the update is complete when CR0ACK matches). */
  private writeCr0(v: number): boolean {
    this.w32(SMMU_REG.CR0, v);
    for (let i = 0; i < 100; i++) {
      if (this.r32(SMMU_REG.CR0ACK) === v) return true;
      this.machine.run({ forNs: 100 });
    }
    return false;
  }

  /** Brings the SMMU up; returns the steps as narrative lines. */
  reset(log: (line: string) => void): boolean {
    const L = SVA_LAYOUT;
    const idr0 = this.r32(SMMU_REG.IDR0);
    const idr1 = this.r32(SMMU_REG.IDR1);
    log(`IDR0 ${hex(idr0)}: S1P=${(idr0 >>> 1) & 1} STALL_MODEL=${(idr0 >>> 24) & 3} PRI=${(idr0 >>> 16) & 1}; IDR1 ${hex(idr1)}: SIDSIZE=${idr1 & 0x3f} SSIDSIZE=${(idr1 >>> 6) & 0x1f}`);
    // 6.3.14: abort incoming traffic while the tables change; Update reads 0 once applied.
    this.w32(SMMU_REG.GBPA, GBPA_UPDATE | GBPA_ABORT);
    if ((this.r32(SMMU_REG.GBPA) & GBPA_UPDATE) !== 0) return false;
    if (!this.writeCr0(0)) return false;
    // 6.3.19: a global error left active (CMDQ_ERR stops the command queue) is acknowledged by copying GERROR to GERRORN.
    this.w32(SMMU_REG.GERRORN, this.r32(SMMU_REG.GERROR));
    this.w32(SMMU_REG.CR1, CR1_VALUE);
    this.w32(SMMU_REG.CR2, CR2_VALUE);
    log(`GBPA.ABORT set, CR0 = 0 (acked), CR1 ${hex(CR1_VALUE)}, CR2 ${hex(CR2_VALUE)}`);
    this.bus.writeBytes(L.strtab, new Uint8Array(64 << L.strtabLog2)); // every STE invalid
    this.w64(SMMU_REG.STRTAB_BASE, STRTAB_BASE_RA | big(L.strtab));
    this.w32(SMMU_REG.STRTAB_BASE_CFG, L.strtabLog2); // FMT = linear
    this.w64(SMMU_REG.CMDQ_BASE, Q_BASE_RWA | big(L.cmdq) | big(L.cmdqLog2));
    this.w32(SMMU_REG.CMDQ_PROD, 0);
    this.w32(SMMU_REG.CMDQ_CONS, 0);
    this.prod = 0;
    if (!this.writeCr0(CR0_CMDQEN)) return false;
    log(`linear stream table of ${1 << L.strtabLog2} STEs at ${hex(L.strtab)}; CMDQ of ${1 << L.cmdqLog2} at ${hex(L.cmdq)}, CMDQEN acked`);
    this.command([big(CMD.CFGI_ALL), 31n], [big(CMD.TLBI_NSNH_ALL), 0n]);
    if (!this.sync()) return false;
    log('CFGI_ALL + TLBI_NSNH_ALL + CMD_SYNC consumed');
    this.w64(SMMU_REG.EVTQ_BASE, Q_BASE_RWA | big(L.evtq) | big(L.evtqLog2));
    this.w32(SMMU_REG.EVTQ_PROD, 0);
    this.w32(SMMU_REG.EVTQ_CONS, 0);
    if (!this.writeCr0(CR0_CMDQEN | CR0_EVTQEN)) return false;
    this.w32(SMMU_REG.IRQ_CTRL, 0);
    if (this.r32(SMMU_REG.IRQ_CTRLACK) !== 0) return false;
    const irqs = IRQ_CTRL_GERROR_IRQEN | IRQ_CTRL_EVTQ_IRQEN;
    this.w32(SMMU_REG.IRQ_CTRL, irqs);
    if (this.r32(SMMU_REG.IRQ_CTRLACK) !== irqs) return false;
    log(`EVTQ of ${1 << L.evtqLog2} at ${hex(L.evtq)}, EVTQEN acked; IRQ_CTRL = GERROR | EVTQ (acked)`);
    if (!this.writeCr0(CR0_CMDQEN | CR0_EVTQEN | CR0_SMMUEN)) return false;
    log('SMMUEN acked: every DMA now translates through the stream table');
    return true;
  }

  /** Writes commands at PROD and publishes them (4.1, the producer index with its wrap bit). */
  command(...cmds: readonly (readonly [bigint, bigint])[]): void {
    const L = SVA_LAYOUT;
    const size = 1 << L.cmdqLog2;
    for (const [d0, d1] of cmds) {
      const at = L.cmdq + (this.prod & (size - 1)) * 16;
      this.bus.write64(at, d0);
      this.bus.write64(at + 8, d1);
      this.prod = (this.prod + 1) & (2 * size - 1);
    }
    this.w32(SMMU_REG.CMDQ_PROD, this.prod);
  }

  /** CMD_SYNC (CS = none) and poll CMDQ_CONS up to PROD, as a driver without MSIs does. */
  sync(): boolean {
    this.command([big(CMD.SYNC), 0n]);
    for (let i = 0; i < 1000; i++) {
      const cons = this.r32(SMMU_REG.CMDQ_CONS);
      // 7.1: an active GERROR.CMDQ_ERR stops the queue (CONS.ERR then says why; it is stale otherwise).
      if (((this.r32(SMMU_REG.GERROR) ^ this.r32(SMMU_REG.GERRORN)) & GERROR_CMDQ_ERR) !== 0) return false;
      if ((cons & 0xfffff) === this.prod) return true;
      this.machine.run({ forNs: this.machine.cost.smmuCommandNs });
    }
    return false;
  }

  /** A 4 KiB table page for the stage 1 tables, zeroed. */
  private table(): number {
    const at = this.nextTable;
    this.nextTable += PAGE;
    this.bus.writeBytes(at, new Uint8Array(PAGE));
    return at;
  }


  /** Maps a 4 KiB user page (VMSAv8-64 4K granule, levels 0..3; AP = RW at EL0 and EL1, nG, AF). */
  mapUserPage(va: number, pa: number): void {
    let table = this.ttb0;
    for (let level = 0; level < 3; level++) {
      const slot = table + (Math.floor(va / 2 ** (39 - 9 * level)) % 512) * 8;
      const d = this.bus.read64(slot);
      if ((d & 3n) === 3n) table = Number(d & 0x0000_ffff_ffff_f000n);
      else {
        const next = this.table();
        this.bus.write64(slot, big(next) | 3n);
        table = next;
      }
    }
    const pte = big(pa) | (1n << 11n) | (1n << 10n) | (3n << 8n) | (1n << 6n) | 3n;
    this.bus.write64(table + (Math.floor(va / PAGE) % 512) * 8, pte);
  }

  /**
   * STE for `sid`: stage 1 translate with a linear CD table of 2^cdLog2 entries
   * (S1DSS = terminate for traffic without a PASID), and the CD of `ssid`: 48-bit VA,
   * 4K granule, ASID, stall on fault (CD.S, IHI 0070 5.4), R and A set.
   */
  attachPasid(sid: number, ssid: number, asid: number): void {
    const L = SVA_LAYOUT;
    const cd = L.cdTable + ssid * 64;
    this.bus.writeBytes(L.cdTable, new Uint8Array(64 << L.cdLog2));
    const cd0 =
      16n | // T0SZ: 48-bit input
      bitsAt(0, 6) | // TG0 4K
      bitsAt(1, 8) | bitsAt(1, 10) | bitsAt(3, 12) | // IRGN0 ORGN0 WB, SH0 inner
      bitsAt(1, 30) | // EPD1: no TTB1 walks
      bitsAt(1, 31) | // V
      bitsAt(5, 32) | // IPS 48 bits
      bitsAt(1, 41) | // AA64
      bitsAt(1, 44) | // S: stall faulting transactions
      bitsAt(1, 45) | bitsAt(1, 46) | // R, A
      bitsAt(1, 47) | // ASET: shared with the CPU's ASID space
      bitsAt(asid, 48);
    this.bus.write64(cd, cd0);
    this.bus.write64(cd + 8, big(this.ttb0)); // TTB0
    this.bus.write64(cd + 24, 0x44_ff_04n); // MAIR0: Device-nGnRE, Normal WB, Normal NC
    const ste = L.strtab + sid * 64;
    const ste1 = bitsAt(0, 0) | bitsAt(1, 2) | bitsAt(1, 4) | bitsAt(3, 6) | bitsAt(1, 44); // S1DSS terminate, S1C* WB ISH, SHCFG incoming
    this.bus.write64(ste + 8, ste1);
    this.bus.write64(ste, 1n | bitsAt(5, 1) | big(L.cdTable) | bitsAt(L.cdLog2, 59)); // V, Config = S1 translate, S1CDMax
    this.command([big(CMD.CFGI_STE) | bitsAt(sid, 32), 1n], [big(CMD.CFGI_CD) | bitsAt(ssid, 12) | bitsAt(sid, 32), 1n]);
  }

  /** CMD_RESUME with RETRY for the stalled transaction `stag` of `sid` (4.7.2). */
  resume(sid: number, stag: number): void {
    this.command([big(CMD.RESUME) | bitsAt(RESUME_RETRY, 12) | bitsAt(sid, 32), big(stag & 0xffff)]);
  }

  /** Pops the records between EVTQ_CONS and EVTQ_PROD (7.2) and moves CONS. */
  popEvents(): DemoEvent[] {
    const L = SVA_LAYOUT;
    const mask = (2 << L.evtqLog2) - 1;
    const prod = this.r32(SMMU_REG.EVTQ_PROD) & mask;
    let cons = this.r32(SMMU_REG.EVTQ_CONS) & mask;
    const out: DemoEvent[] = [];
    while (cons !== prod) {
      const at = L.evtq + (cons & ((1 << L.evtqLog2) - 1)) * 32;
      out.push(decodeEvent(this.bus.readBytes(at, 32)));
      cons = (cons + 1) & mask;
    }
    this.w32(SMMU_REG.EVTQ_CONS, cons);
    return out;
  }
}

/** An event record (IHI 0070 7.3, the F_TRANSLATION-family layout), decoded by the driver's field positions. */
export interface DemoEvent {
  readonly id: number;
  readonly name: string;
  readonly streamId: number;
  readonly ssv: boolean;
  readonly substreamId: number;
  readonly stall: boolean;
  readonly stag: number;
  readonly pnu: boolean;
  readonly ind: boolean;
  readonly rnw: boolean;
  readonly cls: string;
  readonly inputAddr: number;
}

function decodeEvent(b: Uint8Array): DemoEvent {
  const v = new DataView(b.buffer, b.byteOffset, 32);
  const w = (i: number) => v.getUint32(i * 4, true);
  const id = w(0) & 0xff;
  return {
    id,
    name: EVENT_NAMES[id] ?? `event 0x${id.toString(16)}`,
    ssv: ((w(0) >>> 11) & 1) === 1,
    substreamId: w(0) >>> 12,
    streamId: w(1),
    stag: w(2) & 0xffff,
    stall: ((w(2) >>> 31) & 1) === 1,
    pnu: ((w(3) >>> 1) & 1) === 1,
    ind: ((w(3) >>> 2) & 1) === 1,
    rnw: ((w(3) >>> 3) & 1) === 1,
    cls: EVENT_CLASS[(w(3) >>> 8) & 3]!,
    inputAddr: w(5) * 4294967296 + w(4),
  };
}

export function formatEvent(e: DemoEvent): string {
  return `${e.name} (0x${e.id.toString(16)}) StreamID ${hex(e.streamId, 2)} SSV ${e.ssv ? 1 : 0} SubstreamID ${e.substreamId} Stall ${e.stall ? 1 : 0} STAG ${hex(e.stag, 4)} RnW ${e.rnw ? 1 : 0} PnU ${e.pnu ? 1 : 0} InD ${e.ind ? 1 : 0} CLASS ${e.cls} InputAddr ${hex(e.inputAddr, 12)}`;
}

/** Where the SVA steps find the SMMU driver and the test device's BAR0 (set by the earlier steps). */
const SVA_SMMU = new WeakMap<DemoContext, BareMetalSmmu>();

function smmuOf(ctx: DemoContext): BareMetalSmmu | undefined {
  return SVA_SMMU.get(ctx);
}

function testdevReg(ctx: DemoContext, off: number): number | undefined {
  const bar0 = ctx.facts.get('testdevBar0');
  return bar0 === undefined ? undefined : bar0 + off;
}

/** Programs and triggers a testdev DMA (write pattern, read back at `gpa`) with PASID `ssid`. */
function testdevDma(ctx: DemoContext, iova: number, gpa: number, len: number, ssid: number): boolean {
  const reg = (off: number) => testdevReg(ctx, off);
  if (reg(0) === undefined) return false;
  const bus = ctx.machine.bus;
  bus.write32(reg(ITD_DMA_GVA_LO)!, iova >>> 0);
  bus.write32(reg(ITD_DMA_GVA_HI)!, Math.floor(iova / 4294967296));
  bus.write32(reg(ITD_DMA_GPA_LO)!, gpa >>> 0);
  bus.write32(reg(ITD_DMA_GPA_HI)!, Math.floor(gpa / 4294967296));
  bus.write32(reg(ITD_DMA_LEN)!, len);
  bus.write32(reg(ITD_X_SSID)!, ssid);
  bus.write32(reg(ITD_X_CTRL)!, ITD_X_CTRL_SSV); // OP 0: write the pattern, read it back at the GPA
  bus.write32(reg(ITD_DMA_DBELL)!, 1);
  bus.read32(reg(ITD_DMA_TRIGGERING)!);
  return true;
}

export const SMMU_BRINGUP_STEP: DemoStep = {
  title: 'the SMMU at 0x09050000 is brought up in the Linux order (GBPA, CR0, CR1/CR2, stream table, CMDQ, invalidate all, EVTQ, IRQ_CTRL, SMMUEN)',
  start(ctx) {
    const smmu = new BareMetalSmmu(ctx.machine, loadSocDescription().smmu.base);
    SVA_SMMU.set(ctx, smmu);
    ctx.facts.set('smmuUp', smmu.reset(ctx.log) ? 1 : 0);
  },
  check(ctx) {
    return ctx.facts.get('smmuUp') === 1 ? undefined : 'the SMMU did not come up (an ACK or CMD_SYNC never completed)';
  },
};

export const SVA_BIND_STEP: DemoStep = {
  title: `a process address space is bound to the testdev: STE for StreamID ${hex(TESTDEV_SID, 2)}, CD for SSID ${SVA_LAYOUT.ssid}, 4-level stage 1 tables`,
  start(ctx) {
    const smmu = smmuOf(ctx);
    const m = ctx.machine;
    if (smmu === undefined) return;
    const L = SVA_LAYOUT;
    smmu.mapUserPage(L.iova, L.pa);
    smmu.mapUserPage(L.stallIova, L.stallPa); // the second page of the stall buffer stays unmapped
    smmu.attachPasid(TESTDEV_SID, L.ssid, L.asid);
    ctx.facts.set('bindSync', smmu.sync() ? 1 : 0);
    ctx.log(`TTB0 ${hex(smmu.ttb0)}: ${hex(L.iova, 12)} -> ${hex(L.pa)}, ${hex(L.stallIova, 12)} -> ${hex(L.stallPa)} (user pages, ASID ${hex(L.asid, 2)}); ${hex(L.stallIova + PAGE, 12)} not mapped`);
    ctx.log(`STE ${hex(L.strtab + TESTDEV_SID * 64)}: Config S1, S1CDMax ${L.cdLog2}; CD ${hex(L.cdTable + L.ssid * 64)}: T0SZ 16, TG0 4K, S=1 (stall), R=1 A=1; CFGI_STE + CFGI_CD + CMD_SYNC`);
    // PCIe 7.8.8.3: the function sends PASID TLP prefixes only with PASID Enable set.
    const ecam = loadSocDescription().pcie.ecam.base + (2 << 15); // 00:02.0
    let cap = 0x100;
    while (cap !== 0 && (m.bus.read32(ecam + cap) & 0xffff) !== PCI_EXT_CAP_ID_PASID) cap = m.bus.read32(ecam + cap) >>> 20;
    if (cap !== 0) {
      m.bus.write16(ecam + cap + PCI_PASID_CTRL, m.bus.read16(ecam + cap + PCI_PASID_CTRL) | PCI_PASID_CTRL_ENABLE);
      ctx.log(`testdev PASID capability at config ${hex(cap, 3)}: PASID Enable set`);
    }
    ctx.facts.set('pasidCap', cap);
  },
  check(ctx) {
    if (ctx.facts.get('pasidCap') === 0) return 'the testdev has no PASID capability';
    return ctx.facts.get('bindSync') === 1 ? undefined : 'CMD_SYNC after the STE/CD writes did not complete';
  },
};

export const SVA_DMA_STEP: DemoStep = {
  title: `the testdev DMAs ${SVA_LAYOUT.ssid === 1 ? 'with PASID 1' : 'with a PASID'} to the process's virtual address ${hex(SVA_LAYOUT.iova, 12)}`,
  start(ctx) {
    const L = SVA_LAYOUT;
    if (!testdevDma(ctx, L.iova, L.pa, TESTDEV_LEN, L.ssid)) return;
    ctx.machine.run({ untilIdle: true });
    const bus = ctx.machine.bus;
    const result = bus.read32(testdevReg(ctx, ITD_DMA_RESULT)!);
    const word = bus.read32(L.pa);
    ctx.facts.set('svaResult', result);
    ctx.facts.set('svaWord', word);
    ctx.log(`SSV=1 SSID=${L.ssid}: walk of ${hex(L.iova, 12)} through CD ${L.ssid} gives ${hex(L.pa)}; DMA_RESULT ${hex(result)}, word at ${hex(L.pa)} = ${hex(word)}`);
  },
  check(ctx) {
    const r = ctx.facts.get('svaResult');
    return r === 0 && ctx.facts.get('svaWord') === ITD_PATTERN ? undefined : `SVA DMA: DMA_RESULT ${hex(r ?? -1)}`;
  },
};

export const SVA_STALL_STEP: DemoStep = {
  title: 'an 8 KiB DMA runs into the unmapped second page: CD.S=1, so the SMMU stalls it and records the fault',
  excerpt: true,
  start(ctx) {
    const L = SVA_LAYOUT;
    const smmu = smmuOf(ctx);
    if (smmu === undefined || !testdevDma(ctx, L.stallIova, L.stallPa, 2 * PAGE, L.ssid)) return;
    ctx.machine.run({ untilIdle: true });
    const bus = ctx.machine.bus;
    const events = smmu.popEvents();
    events.forEach((e, i) => ctx.log(`EVTQ[${i}]: ${formatEvent(e)}`));
    const e = events[0];
    if (e !== undefined) {
      ctx.facts.set('stallEvents', events.length);
      ctx.facts.set('stallEventId', e.id);
      ctx.facts.set('stallStall', e.stall ? 1 : 0);
      ctx.facts.set('stag', e.stag);
      ctx.facts.set('stallAddr', e.inputAddr);
    }
    const result = bus.read32(testdevReg(ctx, ITD_DMA_RESULT)!);
    const done = bus.read32(testdevReg(ctx, ITD_X_DONE)!);
    ctx.facts.set('stallResult', result);
    ctx.log(`the machine is idle at ${ctx.machine.clock.now()} ns with the transaction held: DMA_RESULT ${hex(result)}${result === ITD_BUSY ? ' (BUSY)' : ''}, ${done} bytes moved`);
  },
  check(ctx) {
    const f = ctx.facts;
    if (f.get('stallEvents') !== 1 || f.get('stallEventId') !== 0x10 || f.get('stallStall') !== 1) return 'expected one F_TRANSLATION event with Stall = 1';
    if (f.get('stallAddr') !== SVA_LAYOUT.stallIova + PAGE) return `stall InputAddr ${hex(f.get('stallAddr') ?? 0)}`;
    return f.get('stallResult') === ITD_BUSY ? undefined : 'the stalled testdev was not BUSY';
  },
};

export const SVA_RESUME_STEP: DemoStep = {
  title: 'the fault handler maps the page, then CMD_RESUME (RETRY) + CMD_SYNC: the stalled DMA completes',
  excerpt: true,
  start(ctx) {
    const L = SVA_LAYOUT;
    const smmu = smmuOf(ctx);
    const stag = ctx.facts.get('stag');
    if (smmu === undefined || stag === undefined) return;
    smmu.mapUserPage(L.stallIova + PAGE, L.stallPa + PAGE);
    smmu.resume(TESTDEV_SID, stag);
    const synced = smmu.sync();
    ctx.log(`PTE for ${hex(L.stallIova + PAGE, 12)} -> ${hex(L.stallPa + PAGE)} written; RESUME STAG ${hex(stag, 4)} ${synced ? 'and CMD_SYNC consumed' : 'but CMD_SYNC did not complete'}`);
    ctx.machine.run({ untilIdle: true });
    const bus = ctx.machine.bus;
    const result = bus.read32(testdevReg(ctx, ITD_DMA_RESULT)!);
    const done = bus.read32(testdevReg(ctx, ITD_X_DONE)!);
    const stop = bus.read32(testdevReg(ctx, ITD_X_FAULT_LO)!);
    const word = bus.read32(L.stallPa + 2 * PAGE - 4);
    ctx.facts.set('resumeResult', result);
    ctx.facts.set('resumeWord', word);
    ctx.log(`DMA_RESULT ${hex(result)} at ${ctx.machine.clock.now()} ns, ${done} bytes moved (ended at ${hex(stop)}); last word at ${hex(L.stallPa + 2 * PAGE - 4)} = ${hex(word)}`);
  },
  check(ctx) {
    const r = ctx.facts.get('resumeResult');
    return r === 0 && ctx.facts.get('resumeWord') === ITD_PATTERN ? undefined : `resumed DMA: DMA_RESULT ${hex(r ?? -1)}`;
  },
};

/** The SVA part of the demo, after the plain DMA steps. */
export const SVA_STEPS: readonly DemoStep[] = [SMMU_BRINGUP_STEP, SVA_BIND_STEP, SVA_DMA_STEP, SVA_STALL_STEP, SVA_RESUME_STEP];

export const BARE_METAL_STEPS: readonly DemoStep[] = [FILL_SOURCE_STEP, DMA_COPY_STEP, TESTDEV_DMA_STEP, BUS_ERROR_STEP, ...SVA_STEPS];

/** Runs the demo and prints its narrative, the memory map and a trace excerpt to `out`. */
export function runBareMetalDemo(out: DemoOutput, options: DemoOptions = {}): DemoResult {
  const ramSize = options.machine?.ramSize ?? options.ramSize ?? 2 ** 30;
  const cpus = options.cpus ?? 2;
  const seed = options.seed ?? 1;
  const machine = options.machine ?? createMachine({ ramSize, cpus, seed, trace: true });
  const steps = options.steps ?? BARE_METAL_STEPS;
  const w = (line = '') => out.write(`${line}\n`);

  w('svasoc bare-metal demo (no guest kernel yet: the machine is driven from outside, as a bare-metal test does)');
  w(`machine: ${formatSize(ramSize)} RAM, ${cpus} CPU${cpus === 1 ? '' : 's'}, seed ${seed}`);
  w('memory map (firmware/soc.dts):');
  const soc = loadSocDescription();
  const rows = soc.memoryMap.map((r) => (r.region === 'ram' ? { ...r, size: ramSize } : r));
  const digits = Math.max(...rows.map((r) => (r.base + r.size - 1).toString(16).length), 8);
  const status = rows.map((r) => (r.region === 'ram' || machine.bus.findRegion(r.base) !== undefined ? 'wired' : 'not wired yet'));
  const statusWidth = Math.max(...status.map((s) => s.length));
  rows.forEach((r, i) => w(`  ${hex(r.base, digits)}-${hex(r.base + r.size - 1, digits)}  ${r.region.padEnd(18)}  ${status[i]!.padEnd(statusWidth)}  ${r.node}`));
  w(`device tree blob: ${writeDtb(buildSocTree({ ramSize, cpus })).length} bytes (svasoc dumpdtb FILE writes it)`);

  const marker = machine.trace.initiatorId('demo');
  const ctx: DemoContext = { machine, random: mulberry32(seed), log: (l) => w(`    ${l}`), facts: new Map() };
  let excerptFrom = 0;
  let excerptStep = 1;
  const firstExcerptStep = steps.findIndex((s) => s.excerpt === true);
  steps.forEach((step, i) => {
    w(`[${i + 1}] ${step.title}`);
    if (i === firstExcerptStep) {
      excerptFrom = machine.trace.total;
      excerptStep = i + 1;
    }
    if (machine.trace.on) machine.trace.record(TraceKind.Marker, marker, NO_SID, NO_SSID, 0, 0, 0, 0, i + 1);
    step.start(ctx);
    machine.run({ untilIdle: true });
  });
  const failures: string[] = [];
  if (steps.some((s) => s.check)) w('checks:');
  for (const step of steps) {
    const f = step.check?.(ctx);
    if (f !== undefined) failures.push(f);
  }

  const ring = machine.trace;
  const excerpt = options.excerptLines ?? 40;
  const ecam = byAddress(soc.pcie.ecam.base, soc.pcie.ecam.base + soc.pcie.ecam.size);
  const filter = options.excerptFilter ?? not(ecam);
  const shown = [...select(ring, filter, excerptFrom)];
  let hidden = 0;
  if (options.excerptFilter === undefined) for (const r of select(ring, ecam)) if (r) hidden++;
  w(`trace: ${ring.total} records, hash ${ring.hash()}; first ${Math.min(excerpt, shown.length)} of ${shown.length} from step [${excerptStep}]${hidden > 0 ? ` (${hidden} ECAM configuration accesses not shown)` : ''}:`);
  for (const r of shown.slice(0, excerpt)) w(`  ${formatTraceLine(r)}`);
  w(`virtual time ${machine.clock.now()} ns; host memory for guest RAM: ${formatSize(machine.bus.ram.allocatedBytes)} of ${formatSize(ramSize)}`);
  w(failures.length === 0 ? 'demo: ok' : `demo: FAILED: ${failures.join('; ')}`);
  return { machine, traceHash: ring.hash(), failures };
}
