// The Arm SMMUv3 (IHI 0070): programming interface on two 64 KiB pages, the IOMMU a
// DMA port translates through, and the PRI sink of PCIe functions. The parts live in
// their own files: registers, stream table, STE/CD decode, configuration cache,
// translation, IOTLB, command queue, Event queue, PRI queue and stall table.

import type { PhysicalBus } from '../bus/bus.js';
import { DmaStatus, type DmaAttrs, type DmaPort, type Iommu, type IommuResult, type PageRequestSink } from '../bus/dma.js';
import type { AccessSize, MmioAccess, MmioDevice } from '../bus/mmio.js';
import { UNCONNECTED_IRQ, type IrqLine } from '../irq.js';
import { RegisterBlock, type FieldDef, type RegDef } from '../regs/regmap.js';
import type { Clock } from '../../machine/clock.js';
import type { CostModel } from '../../machine/cost.js';
import { TraceKind } from '../../trace/record.js';
import { NO_SSID, type TraceRing } from '../../trace/ring.js';
import { CommandQueue, CS_IRQ, CS_SEV, type CommandTarget } from './cmdq.js';
import { ConfigCache, ContextMode, NO_SSID_KEY } from './config-cache.js';
import { EventId, EventRecord, EVT_BYTES } from './evtq.js';
import { accessIndex, Iotlb, IOTLB_ENTRIES } from './iotlb.js';
import { accessMaskForAttrs, LastTranslations, TranslationEpoch } from './last-translation.js';
import { encodePageRequest, PRG_RESP_FAILURE, PRG_RESP_SUCCESS, priRespCode, PRI_BYTES } from './priq.js';
import { OutputQueue, QueueWrite, type QueueRegisters, type SmmuQueue } from './queue.js';
import {
  AIDR_VALUE,
  CR0_CMDQEN,
  CR0_EVENTQEN,
  CR0_PRIQEN,
  CR0_SMMUEN,
  CR2_E2H,
  CR2_RECINVSID,
  GBPA_ABORT,
  GBPA_UPDATE,
  GERROR_CMDQ_ERR,
  GERROR_EVENTQ_ABT_ERR,
  GERROR_MASK,
  GERROR_MSI_CMDQ_ABT_ERR,
  GERROR_MSI_EVENTQ_ABT_ERR,
  GERROR_MSI_GERROR_ABT_ERR,
  GERROR_MSI_PRIQ_ABT_ERR,
  GERROR_PRIQ_ABT_ERR,
  IDR0_VALUE,
  IDR1_VALUE,
  IDR3_VALUE,
  IDR5_VALUE,
  IIDR_VALUE,
  IRQ_CTRL_EVENTQ_IRQEN,
  IRQ_CTRL_GERROR_IRQEN,
  IRQ_CTRL_PRIQ_IRQEN,
  Q_OVFLG,
  SMMU_FEATURES,
  SMMU_PAGE1,
  SMMU_REGION_SIZE,
} from './registers.js';
import { StallTable, type StallEntry } from './stall.js';
import { StreamTable } from './strtab.js';
import { FaultStage, IAS_LIMIT, Translator } from './translate.js';
import { isSignExtended } from '../vmsa/va.js';

/** CR0 and CR0ACK (6.3.9, 6.3.10): the ACK register reports the same enables. */
const CR0_FIELDS: readonly FieldDef[] = [
  { name: 'SMMUEN', lsb: 0, width: 1 },
  { name: 'PRIQEN', lsb: 1, width: 1 },
  { name: 'EVENTQEN', lsb: 2, width: 1 },
  { name: 'CMDQEN', lsb: 3, width: 1 },
];

/** IRQ_CTRL and IRQ_CTRLACK (6.3.21, 6.3.22). */
const IRQ_CTRL_FIELDS: readonly FieldDef[] = [
  { name: 'GERROR_IRQEN', lsb: 0, width: 1 },
  { name: 'PRIQ_IRQEN', lsb: 1, width: 1 },
  { name: 'EVENTQ_IRQEN', lsb: 2, width: 1 },
];

/** The wired interrupt outputs (IHI 0070 3.18) and the WFE wake-up event (IDR0.SEV). */
export interface SmmuIrqLines {
  eventq: IrqLine;
  priq: IrqLine;
  cmdqSync: IrqLine;
  gerror: IrqLine;
  /** SEV: wakes cores waiting in WFE (CMD_SYNC with CS = SIG_SEV, queue non-full). */
  sev?: () => void;
}

/** What the SMMU needs from the machine. A MachineCore satisfies it. */
export interface SmmuHost {
  readonly bus: PhysicalBus;
  readonly clock: Clock;
  readonly trace: TraceRing;
  readonly cost: Readonly<CostModel>;
}

export interface SmmuOptions {
  /** Trace initiator name of the SMMU's own accesses (default "smmu"). */
  readonly name?: string;
  /** DeviceID on the SMMU's own MSI writes (sideband for an ITS-like doorbell). */
  readonly msiDeviceId?: number;
}

export const SMMU_DEFAULT_BASE = 0x0905_0000;

/** A SubstreamID the SMMU takes (IDR1.SSIDSIZE bits); any other is C_BAD_SUBSTREAMID. */
function validSsid(ssid: number): boolean {
  return ssid >= 0 && ssid < 2 ** SMMU_FEATURES.ssidBits && Number.isInteger(ssid);
}

/** CMD_PREFETCH_ADDR: the stride of the span, and the translations one command may make. */
const PREFETCH_STRIDE = 4096;
const PREFETCH_MAX_TRANSLATIONS = IOTLB_ENTRIES;

/** VA[55]: addresses in [-2^55, 2^55) are sign-extended from bit 55 (no TBI tag). */

interface IrqSource {
  readonly enable: number;
  readonly cfg0: string;
  readonly cfg1: string;
  readonly msiAbort: number;
  readonly line: IrqLine;
}

export class SmmuV3 implements MmioDevice, Iommu, PageRequestSink, CommandTarget {
  readonly name: string;
  readonly page0: RegisterBlock;
  readonly page1: RegisterBlock;
  /** Bumped by every change to the configuration cache, the IOTLB or translation registers. */
  private readonly epoch = new TranslationEpoch();
  readonly configs = new ConfigCache(this.epoch);
  readonly iotlb = new Iotlb(this.epoch);
  /** Per-port copy of the IOTLB entry last used (valid while `epoch` is unchanged). */
  private readonly last = new LastTranslations(this.epoch);
  readonly stalls = new StallTable(SMMU_FEATURES.stallMax);
  readonly strtab: StreamTable;
  readonly translator: Translator;
  readonly cmdq: CommandQueue;
  readonly evtq: OutputQueue;
  readonly priq: OutputQueue;
  /** The SMMU's bus-master trace id ("smmu"). */
  readonly initiator: number;
  /** PageRequestSink: PCIe functions reach the PRI queue through `port.iommu.pri`. */
  readonly pri: PageRequestSink = this;

  private readonly bus: PhysicalBus;
  private readonly clock: Clock;
  private readonly trace: TraceRing;
  private readonly cost: Readonly<CostModel>;
  private readonly lines: SmmuIrqLines;
  private readonly msiDeviceId: number;
  private readonly ports: DmaPort[] = [];
  private readonly evtWords = new Uint32Array(EVT_BYTES / 4);
  private readonly priWords = new Uint32Array(PRI_BYTES / 4);
  private readonly evtIrq: IrqSource;
  private readonly priIrq: IrqSource;
  private readonly gerrIrq: IrqSource;
  // Hot-path copies of register state.
  private smmuEn = false;
  private gbpaAbort = false;

  constructor(host: SmmuHost, lines: Partial<SmmuIrqLines> = {}, options: SmmuOptions = {}) {
    this.bus = host.bus;
    this.clock = host.clock;
    this.trace = host.trace;
    this.cost = host.cost;
    this.name = options.name ?? 'smmu';
    this.msiDeviceId = options.msiDeviceId ?? 0xffffffff;
    this.lines = {
      eventq: lines.eventq ?? UNCONNECTED_IRQ,
      priq: lines.priq ?? UNCONNECTED_IRQ,
      cmdqSync: lines.cmdqSync ?? UNCONNECTED_IRQ,
      gerror: lines.gerror ?? UNCONNECTED_IRQ,
      ...(lines.sev !== undefined ? { sev: lines.sev } : {}),
    };
    this.initiator = this.trace.initiatorId(this.name);
    this.page0 = new RegisterBlock(`${this.name}.page0`, this.page0Defs(), { unmappedRazWi: true });
    this.page1 = new RegisterBlock(`${this.name}.page1`, this.page1Defs(), { unmappedRazWi: true });
    this.strtab = new StreamTable(this.bus, this.initiator);
    this.translator = new Translator(this.bus, this.initiator, this.trace, this.strtab, this.configs, this.iotlb);
    const q = (base: string, prod: string, cons: string, ptrBlock: RegisterBlock): QueueRegisters => ({
      baseBlock: this.page0,
      baseName: base,
      ptrBlock,
      prodName: prod,
      consName: cons,
    });
    this.cmdq = new CommandQueue(
      q('CMDQ_BASE', 'CMDQ_PROD', 'CMDQ_CONS', this.page0),
      SMMU_FEATURES.cmdqLog2Max,
      this.bus,
      this.clock,
      this.trace,
      this.initiator,
      () => this.cost.smmuCommandNs,
      this,
    );
    this.evtq = new OutputQueue(q('EVENTQ_BASE', 'EVENTQ_PROD', 'EVENTQ_CONS', this.page1), EVT_BYTES, SMMU_FEATURES.evtqLog2Max, this.bus, this.initiator);
    this.priq = new OutputQueue(q('PRIQ_BASE', 'PRIQ_PROD', 'PRIQ_CONS', this.page1), PRI_BYTES, SMMU_FEATURES.priqLog2Max, this.bus, this.initiator);
    this.evtIrq = { enable: IRQ_CTRL_EVENTQ_IRQEN, cfg0: 'EVENTQ_IRQ_CFG0', cfg1: 'EVENTQ_IRQ_CFG1', msiAbort: GERROR_MSI_EVENTQ_ABT_ERR, line: this.lines.eventq };
    this.priIrq = { enable: IRQ_CTRL_PRIQ_IRQEN, cfg0: 'PRIQ_IRQ_CFG0', cfg1: 'PRIQ_IRQ_CFG1', msiAbort: GERROR_MSI_PRIQ_ABT_ERR, line: this.lines.priq };
    this.gerrIrq = { enable: IRQ_CTRL_GERROR_IRQEN, cfg0: 'GERROR_IRQ_CFG0', cfg1: 'GERROR_IRQ_CFG1', msiAbort: GERROR_MSI_GERROR_ABT_ERR, line: this.lines.gerror };
    this.reset();
  }

  // ---- wiring ----

  /** Maps both register pages at `base` (page 1 at base + 64 KiB). */
  mapOn(bus: PhysicalBus = this.bus, base = SMMU_DEFAULT_BASE): this {
    bus.map(this.name, base, SMMU_REGION_SIZE, this);
    return this;
  }

  /** Puts the SMMU on a master's path: its transactions translate through here. */
  attach(port: DmaPort): void {
    port.iommu = this;
    let slot = this.ports.indexOf(port);
    if (slot < 0) slot = this.ports.push(port) - 1;
    port.iommuSlot = slot;
    this.last.grow(this.ports.length);
  }

  reset(): void {
    this.cmdq.stop();
    this.page0.reset();
    this.page1.reset();
    this.cmdq.configure();
    this.evtq.configure();
    this.priq.configure();
    this.configs.invalidateAll();
    this.iotlb.invalidateAll();
    this.stalls.releaseAll(-1);
    this.smmuEn = false;
    this.gbpaAbort = (this.page0.getNum('GBPA') & GBPA_ABORT) !== 0;
    this.epoch.bump();
    this.translator.e2h = false;
    this.strtab.configure(0n, 0);
  }

  // ---- MmioDevice ----

  mmioRead(offset: number, size: AccessSize, acc: MmioAccess): void {
    if (offset >= SMMU_PAGE1) this.page1.mmioRead(offset - SMMU_PAGE1, size, acc);
    else this.page0.mmioRead(offset, size, acc);
  }

  mmioWrite(offset: number, size: AccessSize, acc: MmioAccess): void {
    if (offset >= SMMU_PAGE1) this.page1.mmioWrite(offset - SMMU_PAGE1, size, acc);
    else this.page0.mmioWrite(offset, size, acc);
  }

  // ---- register state ----

  private cr0(): number {
    return this.page0.getNum('CR0');
  }

  private irqCtrl(): number {
    return this.page0.getNum('IRQ_CTRL');
  }

  private gerrorActive(bit: number): boolean {
    return ((this.page0.getNum('GERROR') ^ this.page0.getNum('GERRORN')) & bit) !== 0;
  }

  /** Activates a global error (6.3.19): toggles GERROR[x] unless already active, then interrupts. */
  raiseGerror(bit: number): void {
    if (this.gerrorActive(bit)) return;
    this.page0.set('GERROR', (this.page0.getNum('GERROR') ^ bit) >>> 0);
    // IHI 0070 7.5.1: MSI_GERROR_ABT_ERR triggers no GERROR interrupt (another MSI to the
    // address that just aborted would likely abort again).
    if (bit !== GERROR_MSI_GERROR_ABT_ERR) this.signal(this.gerrIrq);
  }

  /**
   * An interrupt from one source (3.18): a pulse on its wired output and, when its
   * IRQ_CFG0.ADDR is not zero, an MSI of IRQ_CFG1 to that address.
   */
  private signal(src: IrqSource): void {
    if ((this.irqCtrl() & src.enable) === 0) return;
    src.line.pulse();
    const addr = Number(this.page0.get(src.cfg0) & 0x000f_ffff_ffff_fffcn);
    if (addr !== 0 && !this.msiWrite(addr, this.page0.getNum(src.cfg1))) this.raiseGerror(src.msiAbort);
  }

  /** A 32-bit MSI write by the SMMU itself. Returns false when it aborted. */
  private msiWrite(addr: number, data: number): boolean {
    this.bus.store(addr, 4, data >>> 0, 0, this.initiator, this.msiDeviceId);
    if (this.trace.on) this.trace.record(TraceKind.Msi, this.initiator, this.msiDeviceId, NO_SSID, 0, addr, 4, data >>> 0);
    return !this.bus.error;
  }

  private page0Defs(): RegDef[] {
    const ro = (name: string, offset: number, reset: number): RegDef => ({ name, offset, reset, access: 'RO' });
    const guard = (blk: () => RegisterBlock, name: string, allowed: () => boolean) => (_v: unknown, old: bigint | number) => {
      if (!allowed()) blk().set(name, old);
    };
    const p0 = () => this.page0;
    const irqOff = (bit: number) => () => (this.irqCtrl() & bit) === 0;
    const irqCfg = (prefix: string, base: number, enable: number, lo: boolean): RegDef[] => [
      { name: `${prefix}_CFG0`, offset: base, width: 64, fields: [{ name: 'ADDR', lsb: 2, width: 50 }], write: guard(p0, `${prefix}_CFG0`, irqOff(enable)) },
      { name: `${prefix}_CFG1`, offset: base + 8, fields: [{ name: 'DATA', lsb: 0, width: 32 }], write: guard(p0, `${prefix}_CFG1`, irqOff(enable)) },
      {
        name: `${prefix}_CFG2`,
        offset: base + 12,
        fields: [{ name: 'MemAttr', lsb: 0, width: 4 }, { name: 'SH', lsb: 4, width: 2 }, ...(lo ? [{ name: 'LO', lsb: 31, width: 1 }] : [])],
        write: guard(p0, `${prefix}_CFG2`, irqOff(enable)),
      },
    ];
    const queueBase = (name: string, offset: number, enable: number): RegDef => ({
      name,
      offset,
      width: 64,
      fields: [
        { name: 'LOG2SIZE', lsb: 0, width: 5 },
        { name: 'ADDR', lsb: 5, width: 51 },
        { name: 'RA', lsb: 62, width: 1 },
      ],
      write: (v, old) => {
        if ((this.cr0() & enable) !== 0) this.page0.set(name, old);
        this.queueByBase(name).configure();
      },
    });
    return [
      ro('IDR0', 0x00, IDR0_VALUE),
      ro('IDR1', 0x04, IDR1_VALUE),
      ro('IDR2', 0x08, 0),
      ro('IDR3', 0x0c, IDR3_VALUE),
      ro('IDR4', 0x10, 0),
      ro('IDR5', 0x14, IDR5_VALUE >>> 0),
      ro('IIDR', 0x18, IIDR_VALUE),
      ro('AIDR', 0x1c, AIDR_VALUE),
      {
        name: 'CR0',
        offset: 0x20,
        fields: CR0_FIELDS,
        write: (v, old) => this.onCr0(Number(v), Number(old)),
      },
      {
        name: 'CR0ACK',
        offset: 0x24,
        access: 'RO',
        fields: CR0_FIELDS,
      },
      {
        name: 'CR1',
        offset: 0x28,
        fields: [
          { name: 'QUEUE_IC', lsb: 0, width: 2 },
          { name: 'QUEUE_OC', lsb: 2, width: 2 },
          { name: 'QUEUE_SH', lsb: 4, width: 2 },
          { name: 'TABLE_IC', lsb: 6, width: 2 },
          { name: 'TABLE_OC', lsb: 8, width: 2 },
          { name: 'TABLE_SH', lsb: 10, width: 2 },
        ],
        // 6.3.11: TABLE_* guarded by SMMUEN, QUEUE_* by all queue enables.
        write: (v, old) => {
          let next = Number(v);
          if ((this.cr0() & CR0_SMMUEN) !== 0) next = (next & ~0xfc0) | (Number(old) & 0xfc0);
          if ((this.cr0() & (CR0_CMDQEN | CR0_EVENTQEN | CR0_PRIQEN)) !== 0) next = (next & ~0x3f) | (Number(old) & 0x3f);
          this.page0.set('CR1', next);
        },
      },
      {
        name: 'CR2',
        offset: 0x2c,
        fields: [
          { name: 'E2H', lsb: 0, width: 1 },
          { name: 'RECINVSID', lsb: 1, width: 1 },
          { name: 'PTM', lsb: 2, width: 1 },
        ],
        write: (_v, old) => {
          if ((this.cr0() & CR0_SMMUEN) !== 0) this.page0.set('CR2', old);
          this.translator.e2h = (this.page0.getNum('CR2') & CR2_E2H) !== 0;
          this.epoch.bump();
        },
      },
      ro('STATUSR', 0x40, 0),
      {
        name: 'GBPA',
        offset: 0x44,
        reset: 0x1000, // SHCFG = use incoming
        fields: [
          { name: 'MemAttr', lsb: 0, width: 4 },
          { name: 'MTCFG', lsb: 4, width: 1 },
          { name: 'ALLOCCFG', lsb: 8, width: 4 },
          { name: 'SHCFG', lsb: 12, width: 2 },
          { name: 'PRIVCFG', lsb: 16, width: 2 },
          { name: 'INSTCFG', lsb: 18, width: 2 },
          { name: 'ABORT', lsb: 20, width: 1 },
          { name: 'Update', lsb: 31, width: 1 },
        ],
        // 6.3.14: a write without Update is IGNORED; with Update it takes effect and Update clears.
        write: (v, old) => {
          const n = Number(v);
          if ((n & GBPA_UPDATE) === 0) {
            this.page0.set('GBPA', old);
            return;
          }
          this.page0.set('GBPA', (n & ~GBPA_UPDATE) >>> 0);
          this.gbpaAbort = (n & GBPA_ABORT) !== 0;
          this.epoch.bump();
        },
      },
      {
        name: 'IRQ_CTRL',
        offset: 0x50,
        fields: IRQ_CTRL_FIELDS,
        write: (v) => this.page0.set('IRQ_CTRLACK', v),
      },
      {
        name: 'IRQ_CTRLACK',
        offset: 0x54,
        access: 'RO',
        fields: IRQ_CTRL_FIELDS,
      },
      { name: 'GERROR', offset: 0x60, access: 'RO', reserved: ~GERROR_MASK >>> 0 },
      { name: 'GERRORN', offset: 0x64, reserved: ~GERROR_MASK >>> 0, write: (v, old) => this.onGerrorn(Number(v), Number(old)) },
      ...irqCfg('GERROR_IRQ', 0x68, IRQ_CTRL_GERROR_IRQEN, false),
      {
        name: 'STRTAB_BASE',
        offset: 0x80,
        width: 64,
        fields: [
          { name: 'ADDR', lsb: 6, width: 50 },
          { name: 'RA', lsb: 62, width: 1 },
        ],
        write: (_v, old) => {
          if ((this.cr0() & CR0_SMMUEN) !== 0) this.page0.set('STRTAB_BASE', old);
          this.configureStrtab();
        },
      },
      {
        name: 'STRTAB_BASE_CFG',
        offset: 0x88,
        fields: [
          { name: 'LOG2SIZE', lsb: 0, width: 6 },
          { name: 'SPLIT', lsb: 6, width: 5 },
          { name: 'FMT', lsb: 16, width: 2 },
        ],
        write: (_v, old) => {
          if ((this.cr0() & CR0_SMMUEN) !== 0) this.page0.set('STRTAB_BASE_CFG', old);
          this.configureStrtab();
        },
      },
      queueBase('CMDQ_BASE', 0x90, CR0_CMDQEN),
      {
        name: 'CMDQ_PROD',
        offset: 0x98,
        fields: [{ name: 'WR', lsb: 0, width: 20 }],
        write: (v) => {
          this.page0.set('CMDQ_PROD', this.cmdq.maskWritten(Number(v), 0));
          this.cmdq.kick();
        },
      },
      {
        name: 'CMDQ_CONS',
        offset: 0x9c,
        fields: [
          { name: 'RD', lsb: 0, width: 20 },
          { name: 'ERR', lsb: 24, width: 7, access: 'RO' },
        ],
        write: (v, old) => {
          if ((this.cr0() & CR0_CMDQEN) !== 0) this.page0.set('CMDQ_CONS', old);
          else this.page0.set('CMDQ_CONS', this.cmdq.maskWritten(Number(v), 0x7f << 24));
        },
      },
      queueBase('EVENTQ_BASE', 0xa0, CR0_EVENTQEN),
      ...irqCfg('EVENTQ_IRQ', 0xb0, IRQ_CTRL_EVENTQ_IRQEN, false),
      queueBase('PRIQ_BASE', 0xc0, CR0_PRIQEN),
      ...irqCfg('PRIQ_IRQ', 0xd0, IRQ_CTRL_PRIQ_IRQEN, true),
    ];
  }

  private page1Defs(): RegDef[] {
    const prod = (name: string, offset: number, enable: number, q: () => OutputQueue): RegDef => ({
      name,
      offset,
      fields: [
        { name: 'WR', lsb: 0, width: 20 },
        { name: 'OVFLG', lsb: 31, width: 1, access: 'RO' },
      ],
      // 6.3.29-33: software may move an output queue's PROD only while the queue is disabled.
      write: (v, old) => {
        if ((this.cr0() & enable) !== 0) this.page1.set(name, old);
        else this.page1.set(name, q().maskWritten(Number(v), Q_OVFLG));
      },
    });
    const cons = (name: string, offset: number, q: () => OutputQueue, after: () => void): RegDef => ({
      name,
      offset,
      fields: [
        { name: 'RD', lsb: 0, width: 20 },
        { name: 'OVACKFLG', lsb: 31, width: 1 },
      ],
      write: (v) => {
        this.page1.set(name, q().maskWritten(Number(v), Q_OVFLG));
        after();
      },
    });
    return [
      prod('EVENTQ_PROD', 0xa8, CR0_EVENTQEN, () => this.evtq),
      cons('EVENTQ_CONS', 0xac, () => this.evtq, () => this.flushStallEvents()),
      prod('PRIQ_PROD', 0xc8, CR0_PRIQEN, () => this.priq),
      cons('PRIQ_CONS', 0xcc, () => this.priq, () => undefined),
    ];
  }

  private queueByBase(name: string): SmmuQueue {
    return name === 'CMDQ_BASE' ? this.cmdq : name === 'EVENTQ_BASE' ? this.evtq : this.priq;
  }

  private configureStrtab(): void {
    this.epoch.bump();
    this.strtab.configure(this.page0.get('STRTAB_BASE'), this.page0.getNum('STRTAB_BASE_CFG'));
  }

  /** CR0 (6.3.9): enables take effect at once and CR0ACK follows. */
  private onCr0(v: number, old: number): void {
    this.page0.set('CR0ACK', v);
    this.smmuEn = (v & CR0_SMMUEN) !== 0;
    this.epoch.bump();
    // 6.3.9.6: disabling translation terminates every stalled transaction with an abort.
    if ((old & CR0_SMMUEN) !== 0 && !this.smmuEn) this.endStalls(this.stalls.releaseAll(-1), false);
    if ((v & CR0_CMDQEN) !== 0 && (old & CR0_CMDQEN) === 0) this.cmdq.kick();
    if ((v & CR0_CMDQEN) === 0) this.cmdq.stop();
    if ((v & CR0_EVENTQEN) !== 0 && (old & CR0_EVENTQEN) === 0) this.flushStallEvents();
  }

  /** GERRORN (6.3.20): acknowledging CMDQ_ERR restarts the queue; EVTQ_ABT_ERR makes it writable. */
  private onGerrorn(v: number, old: number): void {
    const acked = v ^ old;
    if ((acked & GERROR_CMDQ_ERR) !== 0) this.cmdq.kick();
    if ((acked & GERROR_EVENTQ_ABT_ERR) !== 0) this.flushStallEvents();
  }

  // ---- Iommu: the translation path (IHI 0070 3.3) ----

  translate(port: DmaPort, iova: number, write: boolean, attrs: Readonly<DmaAttrs>, out: IommuResult): DmaStatus {
    // The port's last translation: a few compares, valid while nothing changed since its fill.
    if (this.last.hit(port.iommuSlot, iova, port.sid >>> 0, write, attrs, out)) {
      this.iotlb.hits++;
      if (this.trace.on) this.trace.record(TraceKind.IotlbHit, this.initiator, port.sid >>> 0, attrs.ssv ? attrs.ssid : NO_SSID, iova, out.pa, out.span, 0);
      return DmaStatus.Ok;
    }
    return this.translateSlow(port, iova, write, attrs, out);
  }

  /** Configuration lookup, IOTLB lookup, walk (IHI 0070 3.3); refills the port's last translation. */
  private translateSlow(port: DmaPort, iova: number, write: boolean, attrs: Readonly<DmaAttrs>, out: IommuResult): DmaStatus {
    if (!this.smmuEn) {
      // 6.3.14: with SMMUEN == 0 transactions bypass or abort as GBPA says; 3.4: an input
      // beyond the OAS is terminated without an event.
      if (this.gbpaAbort || !(iova >= 0 && iova < IAS_LIMIT)) return DmaStatus.Abort;
      out.pa = iova;
      out.span = IAS_LIMIT - iova;
      return DmaStatus.Ok;
    }
    const sid = port.sid >>> 0;
    const ssv = attrs.ssv;
    const ssid = attrs.ssid;
    // A SubstreamID beyond SSIDSIZE is checked before the cache (its key could be another context's).
    if (ssv && !validSsid(ssid)) {
      this.translator.ev.reset(EventId.C_BAD_SUBSTREAMID, sid, true, 0);
      return this.fail(port, iova, write, attrs.priv, attrs.exec, FaultStage.None);
    }
    let ctx = this.configs.lookup(sid, ssv ? ssid : NO_SSID_KEY);
    if (ctx === undefined) {
      ctx = this.translator.resolve(sid, ssv, ssid);
      if (ctx === undefined) return this.fail(port, iova, write, attrs.priv, attrs.exec, this.translator.faultStage);
    }
    const mode = ctx.mode;
    if (mode === ContextMode.Abort) return DmaStatus.Abort;
    const priv = ctx.privOverride < 0 ? attrs.priv : ctx.privOverride === 1;
    // 13.1.1: every write is a data access; INSTCFG changes the marking of reads only.
    const exec = !write && (ctx.instOverride < 0 ? attrs.exec : ctx.instOverride === 1);
    if (mode === ContextMode.Bypass) {
      // 3.4: both stages bypassed, an input beyond the OAS is a stage 1 Address Size fault.
      if (!(iova >= 0 && iova < IAS_LIMIT)) {
        this.translator.ev.reset(EventId.F_ADDR_SIZE, sid, ssv, ssid);
        return this.fail(port, iova, write, priv, exec, FaultStage.None);
      }
      out.pa = iova;
      out.span = IAS_LIMIT - iova;
      return DmaStatus.Ok;
    }
    // The VA stage 1 sees (TTB1 range negative, TBI applied); stage 2 only takes the input as it is.
    const va = mode === ContextMode.S2 || isSignExtended(iova) ? iova : this.translator.stage1Va(ctx, iova);
    const tlb = this.iotlb;
    let i = tlb.lookup(va, ctx.tag, ctx.asid, ctx.hash);
    if (i >= 0 && ((tlb.perm[i]! >>> accessIndex(write, exec, priv)) & 1) !== 0) {
      const d = va - tlb.vaBase[i]!;
      out.pa = tlb.paBase[i]! + d;
      out.span = tlb.size[i]! - d;
      tlb.hits++;
      if (this.trace.on) this.trace.record(TraceKind.IotlbHit, this.initiator, sid, ssv ? ssid : NO_SSID, iova, out.pa, out.span, 0);
    } else {
      tlb.misses++;
      if (this.trace.on) this.trace.record(TraceKind.IotlbMiss, this.initiator, sid, ssv ? ssid : NO_SSID, iova, 0, 0, 0);
      const tr = this.translator;
      if (!tr.translate(ctx, va, write, exec, priv)) return this.fail(port, iova, write, priv, exec, tr.faultStage);
      out.pa = tr.pa;
      out.span = tr.span;
      i = tr.slot;
    }
    // A tagged address (TBI) is not cached as the port's last translation: its range is of the untagged VA.
    if (va === iova && port.iommuSlot >= 0 && port.iommuSlot < this.ports.length && this.ports[port.iommuSlot] === port) {
      this.last.fill(port.iommuSlot, sid, ssv, ssid, tlb.vaBase[i]!, tlb.size[i]!, tlb.paBase[i]!, accessMaskForAttrs(tlb.perm[i]!, ctx.privOverride, ctx.instOverride));
    }
    return DmaStatus.Ok;
  }

  /**
   * Iommu.extendRun: a translation the caches already hold (the port's last translation,
   * or a cached configuration and an IOTLB hit), accepted only when it continues the
   * caller's physical run. Counts the hit and refills the port's last translation exactly
   * as `translate` would; anything else (miss, fault, bypass) is left to `translate`.
   */
  extendRun(port: DmaPort, iova: number, write: boolean, attrs: Readonly<DmaAttrs>, expectPa: number, need: number, paLimit: number, out: IommuResult): boolean {
    if (!this.smmuEn) return false;
    const sid = port.sid >>> 0;
    const ssv = attrs.ssv;
    if (ssv && !validSsid(attrs.ssid)) return false;
    const ctx = this.configs.lookup(sid, ssv ? attrs.ssid : NO_SSID_KEY);
    if (ctx === undefined || ctx.mode === ContextMode.Abort || ctx.mode === ContextMode.Bypass) return false;
    const priv = ctx.privOverride < 0 ? attrs.priv : ctx.privOverride === 1;
    const exec = !write && (ctx.instOverride < 0 ? attrs.exec : ctx.instOverride === 1);
    const tlb = this.iotlb;
    // Untagged, sign-extended addresses only (a tagged one takes translate).
    if (!isSignExtended(iova)) return false;
    const i = tlb.lookup(iova, ctx.tag, ctx.asid, ctx.hash);
    if (i < 0 || ((tlb.perm[i]! >>> accessIndex(write, exec, priv)) & 1) === 0) return false;
    const d = iova - tlb.vaBase[i]!;
    const pa = tlb.paBase[i]! + d;
    const span = tlb.size[i]! - d;
    if (pa !== expectPa || pa + (span < need ? span : need) > paLimit) return false;
    out.pa = pa;
    out.span = span;
    tlb.hits++;
    const slot = port.iommuSlot;
    if (slot >= 0 && slot < this.ports.length && this.ports[slot] === port) {
      this.last.fill(slot, sid, ssv, attrs.ssid, tlb.vaBase[i]!, tlb.size[i]!, tlb.paBase[i]!, accessMaskForAttrs(tlb.perm[i]!, ctx.privOverride, ctx.instOverride));
    }
    return true;
  }

  /**
   * A failed translation (3.12, 5.5): configuration errors and external aborts are
   * recorded and terminate; translation-related faults stall (CD.S / STE.S2S), or
   * terminate and are recorded when CD.R / STE.S2R ask for it.
   */
  private fail(port: DmaPort, iova: number, write: boolean, priv: boolean, exec: boolean, stage: FaultStage): DmaStatus {
    const tr = this.translator;
    const ev = tr.ev;
    ev.inputAddr = iova;
    ev.write = write;
    ev.priv = priv;
    ev.exec = exec;
    if (this.trace.on) this.trace.record(TraceKind.Fault, this.initiator, ev.sid, ev.ssv ? ev.ssid : NO_SSID, iova, ev.ipa >= 0 ? ev.ipa : 0, 0, ev.fetchAddr >= 0 ? ev.fetchAddr : 0, ev.id);
    if (stage !== FaultStage.None && tr.faultCtx !== undefined) {
      const ctx = tr.faultCtx;
      const stall = stage === FaultStage.S1 ? ctx.s1Stall : ctx.s2Stall;
      const record = stage === FaultStage.S1 ? ctx.s1Record : ctx.s2Record;
      if (stall) {
        const e = this.stalls.hold(port, ev);
        if (e !== undefined) {
          if (this.trace.on) this.trace.record(TraceKind.Stall, this.initiator, e.sid, e.ssid, iova, 0, 0, e.stag, ev.id);
          this.deliverStallEvent(e);
          return DmaStatus.Stalled;
        }
        // Beyond STALL_MAX the transaction is terminated; its fault is still reported.
      }
      if (record || stall) this.recordEvent(ev);
      return DmaStatus.Abort;
    }
    if (ev.id !== EventId.C_BAD_STREAMID || (this.page0.getNum('CR2') & CR2_RECINVSID) !== 0) this.recordEvent(ev);
    return DmaStatus.Abort;
  }

  // ---- Event queue (7.2) ----

  /** The Event queue is writable: enabled, no EVENTQ_ABT_ERR, (and not full, checked on append). */
  private evtqOpen(): boolean {
    return (this.cr0() & CR0_EVENTQEN) !== 0 && !this.gerrorActive(GERROR_EVENTQ_ABT_ERR);
  }

  /** Records a non-stall event: discarded when the queue is unwritable, overflow when full. */
  recordEvent(ev: EventRecord): boolean {
    if (!this.evtqOpen()) return false;
    return this.writeEvent(ev);
  }

  private writeEvent(ev: EventRecord): boolean {
    const q = this.evtq;
    const wasEmpty = q.isEmpty();
    const r = q.append(ev.encode(this.evtWords));
    if (r === QueueWrite.Abort) {
      this.raiseGerror(GERROR_EVENTQ_ABT_ERR);
      return false;
    }
    if (r !== QueueWrite.Written) return false;
    if (this.trace.on) this.trace.record(TraceKind.Event, this.initiator, ev.sid, ev.ssv ? ev.ssid : NO_SSID, ev.inputAddr, ev.fetchAddr >= 0 ? ev.fetchAddr : ev.ipa >= 0 ? ev.ipa : 0, EVT_BYTES, ev.stag, ev.id);
    if (wasEmpty) this.signal(this.evtIrq);
    return true;
  }

  /** 7.2.1: a stall record is never discarded; it waits until the queue is writable. */
  private deliverStallEvent(e: StallEntry): void {
    if (!e.eventPending || !this.evtqOpen() || this.evtq.isFull()) return;
    this.stalls.eventDelivered(e);
    this.writeEvent(e.event);
  }

  private flushStallEvents(): void {
    if (this.stalls.eventsPending === 0) return;
    for (const e of this.stalls.entries) if (e.inUse && e.eventPending) this.deliverStallEvent(e);
  }

  // ---- stalls (3.12.2, 4.7.1-2) ----

  private endStalls(ports: DmaPort[], retry: boolean): void {
    for (const p of ports) p.onStallEnd?.(retry);
  }

  resume(sid: number, stag: number, retry: boolean): void {
    const e = this.stalls.find(sid, stag);
    if (e === undefined) return; // no such stalled transaction: no effect
    if (this.trace.on) this.trace.record(TraceKind.Resume, this.initiator, e.sid, e.ssid, e.iova, 0, 0, stag, retry ? 1 : 0);
    const port = this.stalls.release(e);
    // TERM_MODEL == 1: a terminate always aborts.
    port?.onStallEnd?.(retry);
  }

  stallTerm(sid: number): void {
    if (this.trace.on) this.trace.record(TraceKind.Resume, this.initiator, sid, NO_SSID, 0, 0, 0, 0, 2);
    this.endStalls(this.stalls.releaseAll(sid), false);
  }

  // ---- PRI (chapter 8) ----

  /** PageRequestSink: one PCIe Page Request Message from `port`'s function. */
  request(port: DmaPort, addr: number, ssid: number, ssv: boolean, read: boolean, write: boolean, exec: boolean, priv: boolean, prgIndex: number, last: boolean): boolean {
    const cr0 = this.cr0();
    const stopMarker = ssv && last && !read && !write;
    // 8.2: PRIQEN == 0 (SMMUEN == 0 implies it) or PRIQ_ABT_ERR: every PPR gets Response Failure.
    if ((cr0 & CR0_SMMUEN) === 0 || (cr0 & CR0_PRIQEN) === 0 || this.gerrorActive(GERROR_PRIQ_ABT_ERR)) {
      if (!stopMarker) this.autoResponse(port, prgIndex, PRG_RESP_FAILURE, ssid, false);
      return true;
    }
    const q = this.priq;
    // 8.1: an active overflow condition discards PPRs; Last ones get an automatic Success.
    if (q.overflowActive()) {
      if (last && !stopMarker) this.autoResponse(port, prgIndex, PRG_RESP_SUCCESS, ssid, ssv);
      return true;
    }
    const wasEmpty = q.isEmpty();
    const r = q.append(encodePageRequest(this.priWords, port.sid >>> 0, addr, ssid, ssv, read, write, exec, priv, prgIndex, last));
    if (r === QueueWrite.Overflow) {
      if (last && !stopMarker) this.autoResponse(port, prgIndex, PRG_RESP_SUCCESS, ssid, ssv);
      return true;
    }
    if (r === QueueWrite.Abort) {
      this.raiseGerror(GERROR_PRIQ_ABT_ERR);
      if (!stopMarker) this.autoResponse(port, prgIndex, PRG_RESP_FAILURE, ssid, false);
      return true;
    }
    const lastOnly = (this.page0.getNum('PRIQ_IRQ_CFG2') >>> 31) === 1;
    if (lastOnly ? last : wasEmpty) this.signal(this.priIrq);
    return true;
  }

  /** An automatic PRG Response (8.2), delivered to the function as a message after the request. */
  private autoResponse(port: DmaPort, prgIndex: number, code: number, ssid: number, withPasid: boolean): void {
    this.clock.after(0, 'smmu.pri-auto-response', () => this.deliverPageResponse(port, prgIndex, code, ssid, withPasid));
  }

  private deliverPageResponse(port: DmaPort, prgIndex: number, code: number, ssid: number, ssv: boolean): void {
    if (this.trace.on) this.trace.record(TraceKind.PageResponse, this.initiator, port.sid, ssv ? ssid : NO_SSID, 0, 0, 0, code, prgIndex);
    port.onPageResponse?.(prgIndex, code, ssv ? ssid : 0, ssv);
  }

  priResponse(sid: number, ssv: boolean, ssid: number, prgIndex: number, resp: number): void {
    const code = priRespCode(resp);
    for (const p of this.ports) if (p.sid >>> 0 === sid) this.deliverPageResponse(p, prgIndex, code, ssid, ssv);
  }

  // ---- CommandTarget ----

  smmuEnabled(): boolean {
    return this.smmuEn;
  }

  e2h(): boolean {
    return (this.page0.getNum('CR2') & CR2_E2H) !== 0;
  }

  cmdqEnabled(): boolean {
    return (this.cr0() & CR0_CMDQEN) !== 0;
  }

  cmdqErrorActive(): boolean {
    return this.gerrorActive(GERROR_CMDQ_ERR);
  }

  raiseCmdqError(): void {
    this.raiseGerror(GERROR_CMDQ_ERR);
  }

  /** CMD_PREFETCH_CONFIG (4.2.1): fetch into the configuration cache, silently. */
  prefetchConfig(sid: number, ssv: boolean, ssid: number): void {
    if (this.smmuEn) this.translator.resolve(sid, ssv, ssid);
  }

  /**
   * CMD_PREFETCH_ADDR (4.2.2): translations into the IOTLB for the span of 2^Size
   * addresses from Addr, silently: an address that faults records nothing and the rest
   * of the span is still fetched (4.2). The stride is 4 KiB (the SMMUv3.0 effective
   * stride; the command's Stride field is not decoded, which 4.2.2 permits: an
   * implementation need not prefetch all the entries asked for). At most
   * PREFETCH_MAX_TRANSLATIONS per command, so that a span never overwrites in the
   * direct-mapped IOTLB what it prefetched earlier (the limit 4.2.2 suggests).
   */
  prefetchAddr(sid: number, ssv: boolean, ssid: number, addr: number, log2Pages: number): void {
    if (!this.smmuEn) return;
    const ctx = this.translator.resolve(sid, ssv, ssid);
    if (ctx === undefined || ctx.mode === ContextMode.Abort || ctx.mode === ContextMode.Bypass) return;
    const n = Math.min(2 ** log2Pages, PREFETCH_MAX_TRANSLATIONS);
    for (let i = 0; i < n; i++) {
      const a = addr + i * PREFETCH_STRIDE;
      // Addr is signed (VA[63] set below 0): the span does not wrap from the top of the
      // address space to its bottom
      if ((addr < 0 && a >= 0) || a >= 2 ** 63) break;
      this.translator.translate(ctx, ctx.mode === ContextMode.S2 ? a : this.translator.stage1Va(ctx, a), false, false, false);
    }
  }

  /** CMD_SYNC completion signal (4.7.3): MSI when MSIAddress != 0 plus the wired pulse; or SEV. */
  syncSignal(cs: number, msiAddr: number, msiData: number): void {
    if (cs === CS_IRQ) {
      if (msiAddr !== 0 && !this.msiWrite(msiAddr, msiData)) this.raiseGerror(GERROR_MSI_CMDQ_ABT_ERR);
      this.lines.cmdqSync.pulse();
    } else if (cs === CS_SEV) {
      this.sendEvent();
    }
  }

  sendEvent(): void {
    this.lines.sev?.();
  }
}
