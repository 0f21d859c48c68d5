// The HiSilicon ZIP physical function (19e5:a250, revision 0x21 = QM v2, Kunpeng
// 920): a PCIe processing accelerator whose BAR2 holds the QM registers, the v2
// doorbell pages and the ZIP registers (reference sections 1-2). MSI vectors:
// 0 EQ, 1 AEQ, 2 PF-VF (unused on v2), 3 abnormal. PASID capability without PRI:
// like the real integrated endpoint, faults are resolved with the SMMU stall model.

import type { AccessSize, MmioAccess, MmioDevice } from '../bus/mmio.js';
import type { DmaPort } from '../bus/dma.js';
import { RegisterBlock, type RegDef } from '../regs/regmap.js';
import { PciFunction } from '../pcie/function.js';
import type { Bdf, PcieHostBridge } from '../pcie/host-bridge.js';
import type { Clock } from '../../machine/clock.js';
import type { CostModel } from '../../machine/cost.js';
import type { TraceRing } from '../../trace/ring.js';
import { QueueManager } from '../qm/qm.js';
import { QM_DOORBELL_SQ_CQ_BASE_V2, QM_DOORBELL_EQ_AEQ_BASE_V2, QM_DOORBELL_PAGE_SIZE, QmAbnormal, type QmAbnormalName } from '../qm/registers.js';
import { ZipEngine } from './engine.js';
import { ZIP_SQE_BYTES } from './sqe.js';
import * as Z from './registers.js';

export const HISI_ZIP_VENDOR_ID = 0x19e5;
export const HISI_ZIP_PF_DEVICE_ID = 0xa250;
export const HISI_ZIP_REVISION_V2 = 0x21;
/** PCI class: processing accelerator (0x12), sub-class 0, prog-if 0. */
export const HISI_ZIP_CLASS = 0x120000;
/** BAR2 covers the QM, doorbell and ZIP registers (last at 0x30a000). */
export const HISI_ZIP_BAR2_SIZE = 0x40_0000;

/** Error injection: each kind sets what the hardware would set when it happens. */
export type ZipInjection =
  /** Correctable SRAM ECC error in the engine (HZIP_CORE_INT bit ecc_1bit). */
  | { kind: 'ecc-1bit' }
  /** Multi-bit SRAM ECC error (ecc_2bit); shuts the AXI master down when HZIP_SOFT_CTRL_ZIP_CONTROL bit 14 is set. */
  | { kind: 'ecc-mbit' }
  /** QM SRAM ECC errors (QM abnormal ecc_1bit / ecc_mbit). */
  | { kind: 'qm-ecc-1bit' }
  | { kind: 'qm-ecc-mbit' }
  /** The next request's data read completes with an AXI error response. */
  | { kind: 'axi' }
  /** Doorbell timeout (QM db_timeout) with INF01 = type << 6 | function. */
  | { kind: 'doorbell-timeout'; doorbellType?: number }
  /** FIFO overflow (QM of_fifo_of) with INF00 = type << 6 | function. */
  | { kind: 'fifo-overflow'; doorbellType?: number }
  /** The next completion (of `queue`, or of any queue) finds its CQ full: AEQE CQ overflow. */
  | { kind: 'cq-overflow'; queue?: number }
  /** The next completion event finds the EQ full: its EQE is lost, AEQE EQ overflow (type 1). */
  | { kind: 'eq-overflow' }
  /**
   * Core `core` (0-1 compress, 2-7 decompress; every core when omitted) hangs on the
   * next request it starts computing: no result, no CQE, until a controller reset or FLR.
   * A hung core holds no bus transfer, so the master shutdown of the reset completes.
   */
  | { kind: 'core-stuck'; core?: number }
  /** Any QM abnormal source bit by name. */
  | { kind: 'qm-abnormal'; bit: QmAbnormalName };

export interface HisiZipOptions {
  /** Function name in traces (default "hisi_zip"). */
  name?: string;
}

interface MachineParts {
  readonly clock: Clock;
  readonly cost: Readonly<CostModel>;
  readonly trace: TraceRing;
}

export class HisiZip implements MmioDevice {
  readonly name: string;
  readonly fn: PciFunction;
  readonly qm: QueueManager;
  readonly engine: ZipEngine;
  /** QM and ZIP registers of BAR2 (doorbell pages are decoded before it). */
  readonly regs: RegisterBlock;
  private coreSource = 0;
  /** HZIP_CORE_INT_SOURCE bits raised as CE or NFE: the ones the abnormal MSI reports. */
  private coreReported = 0;
  private coreMask = Z.HZIP_CORE_INT_ALL;
  private eccInfo = 0;
  private axiErrorArmed = false;

  constructor(machine: MachineParts, options: HisiZipOptions = {}) {
    this.name = options.name ?? 'hisi_zip';
    this.fn = new PciFunction({
      name: this.name,
      vendorId: HISI_ZIP_VENDOR_ID,
      deviceId: HISI_ZIP_PF_DEVICE_ID,
      revision: HISI_ZIP_REVISION_V2,
      classCode: HISI_ZIP_CLASS,
      bars: [{ index: 2, size: HISI_ZIP_BAR2_SIZE, kind: 'mem64', device: this }],
      msi: { vectors: 4, perVectorMask: true },
      pasid: { maxPasidWidth: 16, exec: false, priv: false },
    });
    const fn = this.fn;
    this.qm = new QueueManager(machine.clock, machine.cost, machine.trace, fn);
    const self = this;
    this.engine = new ZipEngine(machine.clock, machine.cost, machine.trace, this.qm, {
      bdRuser: () => self.regs.getNum('HZIP_BD_RUSER_32_63'),
      bdWuser: () => self.regs.getNum('HZIP_BD_WUSER_32_63'),
      sglRuser: () => self.regs.getNum('HZIP_SGL_RUSER_32_63'),
      dataRuser: () => self.regs.getNum('HZIP_DATA_RUSER_32_63'),
      dataWuser: () => self.regs.getNum('HZIP_DATA_WUSER_32_63'),
      raiseCoreError: (bits) => self.raiseCoreError(bits),
      takeInjectedAxiError: () => {
        const armed = self.axiErrorArmed;
        self.axiErrorArmed = false;
        return armed;
      },
      coreClocked: (index) => ((self.regs.getNum('HZIP_CLOCK_GATE_CTRL') >>> index) & 1) === 1,
      decompCheck: () => (self.regs.getNum('HZIP_CLOCK_GATE_CTRL') & Z.HZIP_DECOMP_CHECK_ENABLE) !== 0,
      fsmLimitNs: () => self.regs.getNum('HZIP_FSM_MAX_CNT') * Z.HZIP_FSM_CYCLE_NS,
      coreErrorStatus: () => self.coreSource & self.coreReported & ~self.coreMask & Z.HZIP_CORE_INT_ALL,
      get busMasterEnabled() {
        return fn.busMasterEnabled;
      },
      get dma(): DmaPort {
        return fn.dma;
      },
    });
    this.qm.engine = this.engine;
    // Queues the engine serves: SQC alg_type 0 compress / 1 decompress, 128-byte SQEs.
    this.qm.algTypes = 2;
    this.qm.sqeSizeLog2 = Math.log2(ZIP_SQE_BYTES);
    this.regs = new RegisterBlock(`${this.name}.bar2`, [...this.qm.registerDefs(), ...this.zipRegisterDefs()], { unmappedRazWi: true });
    this.qm.regs = this.regs;
    fn.onReset = () => this.reset();
  }

  /** Plugs the function into a host bridge (creates its DMA port) and takes the port's stall callback. */
  attach(bridge: PcieHostBridge, at: Bdf): DmaPort {
    const port = bridge.attach(this.fn, at);
    this.qm.gate.bind(port);
    return port;
  }

  /** Controller reset (what the ACPI "ZRST" method or an FLR does): registers, queues, engine. */
  reset(): void {
    this.engine.reset();
    this.qm.reset();
    this.regs.reset();
    this.coreSource = 0;
    this.coreReported = 0;
    this.coreMask = Z.HZIP_CORE_INT_ALL;
    this.eccInfo = 0;
    this.axiErrorArmed = false;
  }

  // ---------------------------------------------------------------- BAR2

  mmioRead(offset: number, size: AccessSize, acc: MmioAccess): void {
    if (offset >= QM_DOORBELL_SQ_CQ_BASE_V2 && offset < QM_DOORBELL_EQ_AEQ_BASE_V2 + QM_DOORBELL_PAGE_SIZE) {
      acc.lo = 0; // doorbells are write-only; QM_TYPE_USAGE (UADK only) is not modelled
      acc.hi = 0;
      return;
    }
    this.regs.mmioRead(offset, size, acc);
  }

  mmioWrite(offset: number, size: AccessSize, acc: MmioAccess): void {
    if (offset >= QM_DOORBELL_SQ_CQ_BASE_V2 && offset < QM_DOORBELL_EQ_AEQ_BASE_V2 + QM_DOORBELL_PAGE_SIZE) {
      this.qm.doorbellWrite(offset, size, acc.lo, acc.hi);
      return;
    }
    this.regs.mmioWrite(offset, size, acc);
  }

  // ---------------------------------------------------------------- errors

  /**
   * An engine error (or HZIP_CORE_INT_SET). The multi-bit ECC shutdown happens whatever
   * the reporting; the report follows HZIP_CORE_INT_RAS_{FE,NFE,CE}_ENB as for the QM
   * (QueueManager.raiseAbnormal): FE is recorded in SOURCE only (platform firmware),
   * NFE and CE are recorded and reported on MSI 3 (the engine has no CE threshold), a
   * source in no enable is recorded and not reported. Most severe class wins.
   */
  private raiseCoreError(bits: number): void {
    bits &= Z.HZIP_CORE_INT_ALL;
    const fe = bits & this.regs.getNum('HZIP_CORE_INT_RAS_FE_ENB');
    const reported = bits & ~fe & (this.regs.getNum('HZIP_CORE_INT_RAS_NFE_ENB') | this.regs.getNum('HZIP_CORE_INT_RAS_CE_ENB'));
    this.coreSource = (this.coreSource | bits) & Z.HZIP_CORE_INT_ALL;
    this.coreReported = (this.coreReported | reported) & this.coreSource;
    if ((bits & Z.ZipCoreError.ecc_2bit) !== 0 && (this.regs.getNum('HZIP_SOFT_CTRL_ZIP_CONTROL') & Z.HZIP_AXI_SHUTDOWN_ENABLE) !== 0) {
      this.qm.oooShutdown = true;
    }
    this.qm.updateAbnormalIrq();
  }

  /** Error injection for driver error-path and reset tests. */
  inject(what: ZipInjection): void {
    switch (what.kind) {
      case 'ecc-1bit':
        this.eccInfo = 1;
        return this.raiseCoreError(Z.ZipCoreError.ecc_1bit);
      case 'ecc-mbit':
        this.eccInfo = 2;
        return this.raiseCoreError(Z.ZipCoreError.ecc_2bit);
      case 'qm-ecc-1bit':
        return this.qm.raiseAbnormal(QmAbnormal.ecc_1bit);
      case 'qm-ecc-mbit':
        return this.qm.raiseAbnormal(QmAbnormal.ecc_mbit);
      case 'axi':
        this.axiErrorArmed = true;
        return;
      case 'doorbell-timeout':
        return this.qm.raiseAbnormal(QmAbnormal.db_timeout, { inf01: ((what.doorbellType ?? 0) & 3) << 6 });
      case 'fifo-overflow':
        return this.qm.raiseAbnormal(QmAbnormal.of_fifo_of, { inf00: ((what.doorbellType ?? 0) & 3) << 6 });
      case 'cq-overflow':
        return this.qm.injectCqOverflow(what.queue ?? -1);
      case 'eq-overflow':
        return this.qm.injectEqOverflow();
      case 'core-stuck':
        return this.engine.hang(what.core);
      case 'qm-abnormal':
        return this.qm.raiseAbnormal(QmAbnormal[what.bit]);
      default: {
        const never: never = what;
        throw new Error(`hisi_zip.inject: unknown injection ${JSON.stringify(never)}`);
      }
    }
  }

  private zipRegisterDefs(): RegDef[] {
    // AxCACHE attributes of the engine's read (ARCA) and write (AWCA) ports; Linux sets every
    // bit (HZIP_CACHE_ALL_EN). This machine's memory is coherent and has no system cache, so
    // allocate/bufferable hints change nothing a guest can observe: read back as written.
    const axCache = (name: string, offset: number): RegDef => ({ name, offset, description: 'AxCACHE hints: no observable effect on coherent, uncached memory; reads back as written' });
    const defs: RegDef[] = [
      { name: 'HZIP_SOFT_CTRL_CNT_CLR_CE', offset: Z.HZIP_SOFT_CTRL_CNT_CLR_CE, fields: [{ name: 'clr_ce', lsb: 0, width: 1 }], description: 'bit 0: per-core DFX counters clear when read (Linux debugfs clear_enable)' },
      {
        name: 'HZIP_CLOCK_GATE_CTRL',
        offset: Z.HZIP_CLOCK_GATE_CTRL,
        // Model reset: every core clocked, check on (Linux writes the same; hardware reset value not public).
        reset: Z.HZIP_CORE_CLOCK_ENABLE_ALL | Z.HZIP_DECOMP_CHECK_ENABLE,
        fields: [
          { name: 'comp_en', lsb: 0, width: 2 },
          { name: 'decomp_en', lsb: 2, width: 6 },
          { name: 'decomp_check', lsb: 16, width: 1 },
        ],
        description: 'bits 0-7: core clocks (a gated core takes no SQE; one already running finishes); bit 16: decompression checks the trailer',
        write: () => this.engine.kick(),
      },
      { name: 'HZIP_FSM_MAX_CNT', offset: Z.HZIP_FSM_MAX_CNT, description: 'core FSM watchdog in engine cycles (0 off): a request computing longer raises QM acc_do_task_timeout' },
      { name: 'HZIP_SOFT_CTRL_ZIP_CONTROL', offset: Z.HZIP_SOFT_CTRL_ZIP_CONTROL, fields: [{ name: 'axi_shutdown_en', lsb: 14, width: 1 }], description: 'bit 14: AXI shutdown on multi-bit ECC' },
      axCache('HZIP_PORT_ARCA_CHE_0', Z.HZIP_PORT_ARCA_CHE_0),
      axCache('HZIP_PORT_ARCA_CHE_1', Z.HZIP_PORT_ARCA_CHE_1),
      axCache('HZIP_PORT_AWCA_CHE_0', Z.HZIP_PORT_AWCA_CHE_0),
      axCache('HZIP_PORT_AWCA_CHE_1', Z.HZIP_PORT_AWCA_CHE_1),
      { name: 'HZIP_CORE_INT_SOURCE', offset: Z.HZIP_CORE_INT_SOURCE, access: 'W1C', read: () => this.coreSource, write: (_v, _o, w) => this.clearCoreSource(Number(w)) },
      { name: 'HZIP_CORE_INT_MASK', offset: Z.HZIP_CORE_INT_MASK, reset: Z.HZIP_CORE_INT_ALL, fields: [{ name: 'mask', lsb: 0, width: 11 }], write: (v) => this.setCoreMask(Number(v)) },
      { name: 'HZIP_CORE_INT_SET', offset: Z.HZIP_CORE_INT_SET, fields: [{ name: 'set', lsb: 0, width: 11, access: 'WO' }], write: (_v, _o, w) => this.raiseCoreError(Number(w)) },
      { name: 'HZIP_CORE_INT_STATUS', offset: Z.HZIP_CORE_INT_STATUS, access: 'RO', read: () => this.coreSource & ~this.coreMask & Z.HZIP_CORE_INT_ALL },
      { name: 'HZIP_BD_RUSER_32_63', offset: Z.HZIP_BD_RUSER_32_63, description: 'bit 0 SSV: the engine\'s SQE (BD) reads carry the SQC PASID; other bits (snoop, NS/NO/FP) have no observable effect here and read back' },
      { name: 'HZIP_SGL_RUSER_32_63', offset: Z.HZIP_SGL_RUSER_32_63, description: 'bit 0 SSV: SGL reads carry the SQC PASID; other bits (snoop, NS/NO/FP) have no observable effect here and read back' },
      { name: 'HZIP_DATA_RUSER_32_63', offset: Z.HZIP_DATA_RUSER_32_63, description: 'bit 0 SSV: data and context reads carry the SQC PASID; other bits (snoop, NS/NO/FP) have no observable effect here and read back' },
      { name: 'HZIP_DATA_WUSER_32_63', offset: Z.HZIP_DATA_WUSER_32_63, description: 'bit 0 SSV: data and context writes carry the SQC PASID; other bits (snoop, NS/NO/FP) have no observable effect here and read back' },
      { name: 'HZIP_BD_WUSER_32_63', offset: Z.HZIP_BD_WUSER_32_63, description: 'bit 0 SSV: the engine\'s SQE (BD) write-backs carry the SQC PASID; other bits (snoop, NS/NO/FP) have no observable effect here and read back' },
      { name: 'HZIP_SRAM_ECC_ERR_INFO', offset: Z.HZIP_SRAM_ECC_ERR_INFO, access: 'RO', read: () => this.eccInfo },
      // Reset: every source NFE, so an error is reported until the driver routes it (hardware reset value not public).
      { name: 'HZIP_CORE_INT_RAS_CE_ENB', offset: Z.HZIP_CORE_INT_RAS_CE_ENB, fields: [{ name: 'ce', lsb: 0, width: 11 }], description: 'sources reported as correctable (MSI 3, no reset needed)' },
      { name: 'HZIP_CORE_INT_RAS_NFE_ENB', offset: Z.HZIP_CORE_INT_RAS_NFE_ENB, reset: Z.HZIP_CORE_INT_ALL, fields: [{ name: 'nfe', lsb: 0, width: 11 }], description: 'sources reported as non-fatal (MSI 3; the driver resets)' },
      { name: 'HZIP_CORE_INT_RAS_FE_ENB', offset: Z.HZIP_CORE_INT_RAS_FE_ENB, fields: [{ name: 'fe', lsb: 0, width: 11 }], description: 'sources reported as fatal to the platform firmware: SOURCE only, no MSI' },
      { name: 'HZIP_QM_IDEL_STATUS', offset: Z.HZIP_QM_IDEL_STATUS, access: 'RO', read: () => (this.engine.inFlight === 0 ? 1 : 0) },
    ];
    const coreNames = ['COMP0', 'COMP1', 'DECOMP0', 'DECOMP1', 'DECOMP2', 'DECOMP3', 'DECOMP4', 'DECOMP5'];
    coreNames.forEach((n, i) => {
      const base = Z.HZIP_CORE_DFX_BASE + i * Z.HZIP_CORE_DFX_STRIDE;
      const core = () => this.engine.cores[i]!;
      // Guest reads clear a counter while HZIP_SOFT_CTRL_CNT_CLR_CE bit 0 is set.
      const counter = (name: string, at: number, key: 'bdGot' | 'bdCount' | 'consumedBytes' | 'producedBytes'): RegDef => ({
        name,
        offset: base + at,
        access: 'RO',
        read: () => {
          const c = core();
          const v = c[key];
          if ((this.regs.getNum('HZIP_SOFT_CTRL_CNT_CLR_CE') & 1) !== 0) c[key] = 0;
          return v;
        },
      });
      defs.push(
        // GET: BDs the core took from a queue; DONE: BDs it finished (a hung core's BD is got, not done).
        counter(`HZIP_${n}_GET_BD_NUM`, Z.HZIP_CORE_DFX_GET_BD_NUM, 'bdGot'),
        counter(`HZIP_${n}_DONE_BD_NUM`, Z.HZIP_CORE_DFX_DONE_BD_NUM, 'bdCount'),
        counter(`HZIP_${n}_CONSUMED_BYTE`, Z.HZIP_CORE_DFX_CONSUMED_BYTE, 'consumedBytes'),
        counter(`HZIP_${n}_PRODUCED_BYTE`, Z.HZIP_CORE_DFX_PRODUCED_BYTE, 'producedBytes'),
      );
    });
    return defs;
  }

  private clearCoreSource(bits: number): void {
    this.coreSource &= ~bits;
    this.coreReported &= this.coreSource;
    this.qm.updateAbnormalIrq();
  }

  private setCoreMask(mask: number): void {
    this.coreMask = mask & Z.HZIP_CORE_INT_ALL;
    this.qm.updateAbnormalIrq();
  }
}
