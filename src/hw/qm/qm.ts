// The HiSilicon queue manager (QM v2, Kunpeng 920) as the Linux hisi_qm driver and
// UADK drive it (reference sections 2-5): mailbox, SQC/CQC/EQC/AEQC contexts and
// their base tables, the VF queue table, v2 doorbells, the EQ/AEQ event rings with
// phase bits, interrupt sources and masks, abnormal (error) interrupts with their RAS
// routing (raiseAbnormal), DFX counters, memory init, the SQC/CQC cache and its
// write-back (setCacheCtl), queue arbitration and completion order (claimNext,
// mayComplete), the completion-event re-arm (c_flag), the AxUSER of its own
// transactions, and the master-shutdown and vendor-ID reset handshakes. The accelerator behind it (ZIP) fetches SQEs and
// posts completions through the methods in the "engine side" section.

import { DmaStatus, type DmaAttrs, type DmaPort } from '../bus/dma.js';
import type { RegDef } from '../regs/regmap.js';
import type { Clock } from '../../machine/clock.js';
import type { CostModel } from '../../machine/cost.js';
import { TraceKind } from '../../trace/record.js';
import { NO_SSID, type TraceRing } from '../../trace/ring.js';
import { CQC, EQC, SQC } from './contexts.js';
import { AEQE, AeqeType, CQE, EQE } from './queue-entries.js';
import { MAILBOX, MailboxCmd, MailboxStatus, QM_MB_BUSY, QM_MB_STATUS_SHIFT } from './mailbox.js';
import { DmaStallGate } from './dma-gate.js';
import * as R from './registers.js';

/** What the QM needs from its PCI function. */
export interface QmFunctionLink {
  readonly dma: DmaPort;
  readonly busMasterEnabled: boolean;
  signalMsi(vector: number): void;
  /** Records an error completion in the PCI Status register (Received Master/Target Abort). */
  noteDmaError?(status: DmaStatus): void;
}

/** The accelerator behind the QM. */
export interface QmEngine {
  /** SQEs became available, or dispatch conditions changed: start idle cores. */
  kick(): void;
  /** Requests accepted and not yet completed. */
  readonly inFlight: number;
  /** Those of them that still hold the bus master (a core hung in compute holds no transfer). */
  readonly onBus: number;
  /** Accelerator error status (e.g. HZIP_CORE_INT_STATUS) that also raises the abnormal MSI. */
  errorStatus(): number;
}

/** Outcome of posting a CQE. */
export const enum CqePost {
  Written = 0,
  /** The CQ was full: the completion is lost, an AEQE (CQ overflow) was posted and the queue stopped. */
  Overflow = 1,
  Stalled = 2,
  Fault = 3,
  /** The queue has no valid CQ context (reset or never started): nothing written. */
  NoQueue = 4,
}

const QNUM = R.QM_QNUM_V2;
/** CQC dw3[15:12]: the 16-byte CQE every v2 CQ uses. */
const CQE_SIZE_LOG2 = 4;
const SQE_MAX_BYTES = 1024;

function join64(lo: number, hi: number): number {
  return (hi >>> 0) * 4294967296 + (lo >>> 0);
}

export class QueueManager {
  readonly gate: DmaStallGate;
  engine: QmEngine | undefined;

  // Per-queue SQ state (decoded from the SQC, plus live head/tail).
  readonly sqValid = new Uint8Array(QNUM);
  readonly sqBase = new Float64Array(QNUM);
  readonly sqDepth = new Uint16Array(QNUM);
  readonly sqeSize = new Uint16Array(QNUM);
  readonly sqHead = new Uint16Array(QNUM);
  readonly sqTail = new Uint16Array(QNUM);
  readonly sqTailWrap = new Uint8Array(QNUM);
  readonly sqPasid = new Uint16Array(QNUM);
  readonly sqPasidEn = new Uint8Array(QNUM);
  readonly sqAlg = new Uint8Array(QNUM);
  /** SQC w13[3:0]: arbitration priority (higher first, see claimNext). */
  readonly sqPrio = new Uint8Array(QNUM);
  /** SQC w13[7:4] orders: non-zero = the queue's CQEs are posted in SQ order (see mayComplete). */
  readonly sqOrders = new Uint8Array(QNUM);
  /** Ordered queues: the SQ index whose CQE posts next. */
  private readonly cqeNext = new Uint16Array(QNUM);
  /** Ordered queues: requests that ended without a CQE before their turn (error paths). */
  private readonly doneEarly = new Map<number, Set<number>>();
  /** Ordered queues: finished requests whose CQE waits for its turn (reorder buffer): queue -> SQ index -> error. */
  private readonly deferred = new Map<number, Map<number, boolean>>();
  /** SQC/CQC w8 rand_qc: the value an SQ/CQ doorbell's rand field [31:16] must carry (see ring()). */
  readonly sqRand = new Uint16Array(QNUM);
  readonly cqRand = new Uint16Array(QNUM);
  readonly sqCqn = new Uint16Array(QNUM);
  // Per-queue CQ state.
  readonly cqValid = new Uint8Array(QNUM);
  readonly cqBase = new Float64Array(QNUM);
  readonly cqDepth = new Uint16Array(QNUM);
  readonly cqHead = new Uint16Array(QNUM);
  readonly cqTail = new Uint16Array(QNUM);
  readonly cqPhase = new Uint8Array(QNUM);
  /**
   * c_flag: the CQ's completion event is armed. Loaded from CQC dw6 bit1; posting an EQE
   * disarms it; a CQ doorbell with priority bit 0 set re-arms it (Linux "set c_flag").
   */
  readonly cqFlag = new Uint8Array(QNUM);
  readonly cqTailWrap = new Uint8Array(QNUM);
  /** Set when a queue was stopped by an error (CQ overflow); cleared by loading its SQC. */
  readonly qError = new Uint8Array(QNUM);
  /**
   * Set for a loaded SQC/CQC the QM cannot serve: an SQC alg_type naming no engine
   * of the accelerator or an SQE size other than its own, a CQC whose CQE size is
   * not 16 bytes. The context loads (and dumps back unchanged); the queue is never
   * scheduled and its doorbells raise sq_cq_vf_invalid (see ring()).
   */
  readonly sqCtxBad = new Uint8Array(QNUM);
  readonly cqCtxBad = new Uint8Array(QNUM);
  /** What the accelerator serves (set by the device): SQC alg_type 0..algTypes-1, SQEs of 2^sqeSizeLog2 bytes. */
  algTypes = 2;
  sqeSizeLog2 = 7;
  /** Raw contexts as loaded (fields the model does not interpret are dumped back unchanged). */
  private readonly sqcRaw = new Uint32Array(QNUM * 8);
  private readonly cqcRaw = new Uint32Array(QNUM * 8);
  private readonly sqcDirty = new Uint8Array(QNUM);
  private readonly cqcDirty = new Uint8Array(QNUM);
  /** Changes of each cached context since its last write-back (QM_CACHE_CTL WB thresholds). */
  private readonly sqcChanges = new Uint8Array(QNUM);
  private readonly cqcChanges = new Uint8Array(QNUM);
  /** Contexts due for an automatic write-back (qn, CQCs as qn + QNUM), written by one event. */
  private readonly wbDue: number[] = [];
  private wbEvent = false;
  /** QM_CACHE_CTL (see setCacheCtl). */
  private cacheCtl = R.QM_CACHE_CTL_RESET;
  private readonly ctxBytes = new Uint8Array(32);
  private readonly ctxWords = new Uint32Array(8);

  // Event queue (index 0) and asynchronous event queue (index 1).
  private readonly evValid = new Uint8Array(2);
  private readonly evBase = new Float64Array(2);
  private readonly evDepth = new Uint32Array(2);
  private readonly evHead = new Uint32Array(2);
  private readonly evTail = new Uint32Array(2);
  private readonly evPhase = new Uint8Array(2);
  private readonly evcRaw = new Uint32Array(2 * 7);
  private readonly evSource = new Uint8Array(2);
  private readonly evMask = new Uint8Array(2);

  // Context base tables.
  private sqcBt = 0;
  private cqcBt = 0;
  private sqcBtValid = false;
  private cqcBtValid = false;

  // VFT: [type 0 SQC, 1 CQC, 2 shaper][function] -> 64-bit data as lo/hi.
  private readonly vft = new Uint32Array(3 * R.QM_MAX_FUNCTIONS * 2);
  /** The PF's queue range from VFT (function 0, type SQC): [pfQBase, pfQBase + pfQNum). */
  pfQBase = 0;
  pfQNum = 0;

  // Round-robin list of queues with pending SQEs.
  private readonly active = new Int32Array(QNUM);
  private activeCount = 0;
  private readonly inActive = new Uint8Array(QNUM);
  private rr = 0;

  // Mailbox.
  private mbWords = new Uint32Array(4);
  private mbLanes = 0;
  private mbBusy = false;
  private mbStatus = 0;
  private mbCollision = false;
  private mbDataL = 0;
  private mbDataH = 0;
  private readonly mbScratch = new Uint8Array(32);
  private readonly mbScratchWords = new Uint32Array(8);

  // Abnormal interrupts.
  private abnSource = 0;
  private abnMask = R.QM_ABNORMAL_ALL;
  private abnIrqLevel = false;
  /** SOURCE bits raised as CE (at the threshold) or NFE: the ones the abnormal MSI reports. */
  private abnReported = 0;
  /** Correctable errors seen since the last CE report (QM_RAS_CE_THRESHOLD). */
  private ceCount = 0;
  private inf00 = 0;
  private inf01 = 0;
  private oooShutdownSel = 0;
  /** Set when an error selected by QM_OOO_SHUTDOWN_SEL fired: the QM stops fetching work. */
  oooShutdown = false;

  // DFX counters.
  dfxMailbox = 0;
  dfxDoorbell = 0;
  dfxSqe = 0;
  dfxCqe = 0;
  dfxCqeErr = 0;
  /** SQEs fetched and CQEs written per queue: what QM_DFX_SQE_CNT / QM_DFX_CQE_CNT show for the selected queue. */
  readonly dfxSqeQ = new Uint32Array(QNUM);
  readonly dfxCqeQ = new Uint32Array(QNUM);
  /**
   * Counter selection (QM_DFX_MB_CNT_VF, QM_DFX_DB_CNT_VF: function [5:0];
   * QM_DFX_SQE_CNT_VF_SQN, QM_DFX_CQE_CNT_VF_CQN: function [5:0], queue [31:16]).
   */
  private dfxSelMb = 0;
  private dfxSelDb = 0;
  private dfxSelSqe = 0;
  private dfxSelCqe = 0;
  /** QM SRAM ECC errors seen (QM_ECC_1BIT_CNT / QM_ECC_MBIT_CNT), reported or not. */
  dfxEcc1Bit = 0;
  dfxEccMBit = 0;

  // Misc registers with behaviour.
  private memInitDone = 0;
  private cacheWbDone = 0;
  private masterCtrl = 0;
  private dbLatchLo = 0;
  private dbLatchOffset = -1;
  private cqOverflowInjection = -2; // -2 none, -1 next completion of any queue, else queue number
  private eqOverflowInjection = false;
  private readonly ev4 = new Uint32Array(1);
  private readonly ev4Bytes = new Uint8Array(this.ev4.buffer);
  private readonly cqeWords = new Uint32Array(4);
  private readonly cqeBytes = new Uint8Array(this.cqeWords.buffer);
  /** Attributes of the QM's own reads and writes (contexts, CQEs, EQEs, AEQEs): see updateAxUser. */
  private readonly qmRd: DmaAttrs = { ssid: 0, ssv: false, priv: false, exec: false };
  private readonly qmWr: DmaAttrs = { ssid: 0, ssv: false, priv: false, exec: false };
  private readonly cqeAttrs: DmaAttrs = { ssid: 0, ssv: false, priv: false, exec: false };
  /** CQC pasid (w10): the SubstreamID of CQE writes when the write channel's AxUSER SSV is set. */
  readonly cqPasid = new Uint16Array(QNUM);
  /** CQC w11 bit0 (v3 form): CQE writes carry the CQC pasid whatever the AxUSER registers say. */
  readonly cqPasidEn = new Uint8Array(QNUM);

  constructor(
    private readonly clock: Clock,
    private readonly cost: Readonly<CostModel>,
    private readonly trace: TraceRing,
    private readonly link: QmFunctionLink,
  ) {
    this.gate = new DmaStallGate();
    this.resetState();
  }

  // ---------------------------------------------------------------- reset

  /** Hardware reset (controller reset or FLR): contexts, queues, VFT, interrupts. */
  reset(): void {
    this.resetState();
  }

  private resetState(): void {
    for (const a of [this.sqValid, this.sqHead, this.sqTail, this.sqTailWrap, this.cqValid, this.cqHead, this.cqTail, this.cqTailWrap, this.qError, this.sqCtxBad, this.cqCtxBad, this.sqcDirty, this.cqcDirty, this.inActive]) a.fill(0);
    this.sqcRaw.fill(0);
    this.cqcRaw.fill(0);
    this.sqcChanges.fill(0);
    this.cqcChanges.fill(0);
    this.wbDue.length = 0;
    this.doneEarly.clear();
    this.deferred.clear();
    this.cacheCtl = R.QM_CACHE_CTL_RESET;
    this.evValid.fill(0);
    this.evSource.fill(0);
    this.evMask.fill(1);
    this.evHead.fill(0);
    this.evTail.fill(0);
    this.sqcBtValid = this.cqcBtValid = false;
    this.sqcBt = this.cqcBt = 0;
    this.vft.fill(0);
    this.pfQBase = this.pfQNum = 0;
    this.activeCount = 0;
    this.rr = 0;
    this.mbLanes = 0;
    this.mbBusy = false;
    this.mbStatus = 0;
    this.mbCollision = false;
    this.mbDataL = this.mbDataH = 0;
    this.abnSource = 0;
    this.abnMask = R.QM_ABNORMAL_ALL;
    this.abnIrqLevel = false;
    this.abnReported = 0;
    this.ceCount = 0;
    this.inf00 = this.inf01 = 0;
    this.oooShutdownSel = 0;
    this.oooShutdown = false;
    this.dfxMailbox = this.dfxDoorbell = this.dfxSqe = this.dfxCqe = this.dfxCqeErr = 0;
    this.dfxSqeQ.fill(0);
    this.dfxCqeQ.fill(0);
    this.dfxSelMb = this.dfxSelDb = this.dfxSelSqe = this.dfxSelCqe = 0;
    this.dfxEcc1Bit = this.dfxEccMBit = 0;
    this.memInitDone = 0;
    this.cacheWbDone = 0;
    this.masterCtrl = 0;
    this.dbLatchOffset = -1;
    this.cqOverflowInjection = -2;
    this.eqOverflowInjection = false;
    this.qmRd.ssv = this.qmWr.ssv = false;
    this.gate.reset();
    this.epoch++;
  }

  /** Bumped by reset so that events scheduled before it do nothing. */
  private epoch = 0;

  /** True while ACC_MASTER_GLOBAL_CTRL requests shutdown or an OOO error stopped the master. */
  get masterStopped(): boolean {
    return (this.masterCtrl & 1) !== 0 || this.oooShutdown;
  }

  // ---------------------------------------------------------------- registers

  /** QM registers of BAR2 (the device adds its own and the doorbell pages). */
  registerDefs(): RegDef[] {
    type Dfx = 'dfxEcc1Bit' | 'dfxEccMBit' | 'dfxCqeErr';
    // Linux qm_dfx_regs: "XXX_CNT are reading clear register" once debugfs clear_enable sets QM_DFX_CNT_CLR_CE.
    const counter = (name: string, offset: number, key: Dfx): RegDef => ({
      name,
      offset,
      access: 'RO',
      read: () => {
        const v = this[key] >>> 0;
        if ((this.regs?.getNum('QM_DFX_CNT_CLR_CE') ?? 0) & 1) this[key] = 0;
        return v;
      },
    });
    // Counters of one function, or of one queue of one function, chosen by a selection
    // register (Linux debugfs current_qm / current_q: "select the QM", "select a queue to
    // show its debug registers"). The PF is function 0 and the only function this model
    // has: a VF selected counts nothing. A queue is numbered within its function (the
    // PF's VFT base added); one past the function's queues counts nothing.
    const ofFunction = (name: string, offset: number, sel: () => number, key: 'dfxMailbox' | 'dfxDoorbell'): RegDef => ({
      name,
      offset,
      access: 'RO',
      read: () => {
        if ((sel() & R.QM_DFX_FUN_MASK) !== 0) return 0;
        const v = this[key] >>> 0;
        if ((this.regs?.getNum('QM_DFX_CNT_CLR_CE') ?? 0) & 1) this[key] = 0;
        return v;
      },
    });
    const ofQueue = (name: string, offset: number, sel: () => number, counts: Uint32Array): RegDef => ({
      name,
      offset,
      access: 'RO',
      read: () => {
        const s = sel();
        const q = s >>> R.QM_DFX_QN_SHIFT;
        if ((s & R.QM_DFX_FUN_MASK) !== 0 || q >= this.pfQNum || this.pfQBase + q >= QNUM) return 0;
        const v = counts[this.pfQBase + q]!;
        if ((this.regs?.getNum('QM_DFX_CNT_CLR_CE') ?? 0) & 1) counts[this.pfQBase + q] = 0;
        return v;
      },
    });
    const selector = (name: string, offset: number, set: (v: number) => void, queue: boolean): RegDef => ({
      name,
      offset,
      fields: queue
        ? [
            { name: 'function', lsb: 0, width: 6 },
            { name: 'queue', lsb: R.QM_DFX_QN_SHIFT, width: 16 },
          ]
        : [{ name: 'function', lsb: 0, width: 6 }],
      description: queue ? 'function [5:0] and queue [31:16] whose count the matching QM_DFX_*_CNT shows' : 'function [5:0] whose count the matching QM_DFX_*_CNT shows',
      write: (v) => set(Number(v)),
    });
    return [
      { name: 'QM_VF_AEQ_INT_SOURCE', offset: R.QM_VF_AEQ_INT_SOURCE, access: 'RO', read: () => this.evSource[1]! },
      { name: 'QM_VF_AEQ_INT_MASK', offset: R.QM_VF_AEQ_INT_MASK, reset: 1, fields: [{ name: 'mask', lsb: 0, width: 1 }], write: (v) => this.setEventMask(1, Number(v) & 1) },
      { name: 'QM_VF_EQ_INT_SOURCE', offset: R.QM_VF_EQ_INT_SOURCE, access: 'RO', read: () => this.evSource[0]! },
      { name: 'QM_VF_EQ_INT_MASK', offset: R.QM_VF_EQ_INT_MASK, reset: 1, fields: [{ name: 'mask', lsb: 0, width: 1 }], write: (v) => this.setEventMask(0, Number(v) & 1) },
      { name: 'QM_DFX_FUNS_ACTIVE_ST', offset: R.QM_DFX_FUNS_ACTIVE_ST, access: 'RO', read: () => (this.activeCount > 0 || (this.engine?.inFlight ?? 0) > 0 ? 1 : 0) },
      { name: 'QM_CACHE_WB_START', offset: R.QM_CACHE_WB_START, fields: [{ name: 'start', lsb: 0, width: 1, access: 'WO' }], write: (v) => (Number(v) & 1 ? this.startCacheWriteBack() : undefined) },
      { name: 'QM_CACHE_WB_DONE', offset: R.QM_CACHE_WB_DONE, access: 'RO', read: () => this.cacheWbDone },
      { name: 'QM_MB_CMD_SEND_BASE', offset: R.QM_MB_CMD_SEND_BASE, read: () => this.mailboxWord0(), write: (_v, _o, w) => this.mailboxWrite(0, Number(w)) },
      { name: 'QM_MB_CMD_DATA_ADDR_L', offset: R.QM_MB_CMD_DATA_ADDR_L, read: () => this.mbDataL, write: (_v, _o, w) => this.mailboxWrite(1, Number(w)) },
      { name: 'QM_MB_CMD_DATA_ADDR_H', offset: R.QM_MB_CMD_DATA_ADDR_H, read: () => this.mbDataH, write: (_v, _o, w) => this.mailboxWrite(2, Number(w)) },
      { name: 'QM_MB_CMD_RSVD', offset: R.QM_MB_CMD_SEND_BASE + 0xc, read: () => 0, write: (_v, _o, w) => this.mailboxWrite(3, Number(w)) },
      { name: 'QM_ABNORMAL_INT_SOURCE', offset: R.QM_ABNORMAL_INT_SOURCE, access: 'W1C', read: () => this.abnSource, write: (_v, _o, w) => this.clearAbnormal(Number(w)) },
      { name: 'QM_ABNORMAL_INT_MASK', offset: R.QM_ABNORMAL_INT_MASK, reset: R.QM_ABNORMAL_ALL, fields: [{ name: 'mask', lsb: 0, width: 15 }], write: (v) => this.setAbnormalMask(Number(v)) },
      { name: 'QM_ABNORMAL_INT_STATUS', offset: R.QM_ABNORMAL_INT_STATUS, access: 'RO', read: () => this.abnSource & ~this.abnMask & R.QM_ABNORMAL_ALL },
      { name: 'QM_ABNORMAL_INT_SET', offset: R.QM_ABNORMAL_INT_SET, fields: [{ name: 'set', lsb: 0, width: 15, access: 'WO' }], write: (_v, _o, w) => this.raiseAbnormal(Number(w) & R.QM_ABNORMAL_ALL) },
      { name: 'QM_ABNORMAL_INF00', offset: R.QM_ABNORMAL_INF00, access: 'RO', read: () => this.inf00 },
      { name: 'QM_ABNORMAL_INF01', offset: R.QM_ABNORMAL_INF01, access: 'RO', read: () => this.inf01 },
      { name: 'QM_MEM_START_INIT', offset: R.QM_MEM_START_INIT, fields: [{ name: 'start', lsb: 0, width: 1, access: 'WO' }], write: (_v, _o, w) => (Number(w) & 1 ? this.startMemInit() : undefined) },
      { name: 'QM_MEM_INIT_DONE', offset: R.QM_MEM_INIT_DONE, access: 'RO', read: () => this.memInitDone },
      {
        name: 'QM_CACHE_CTL',
        offset: R.QM_CACHE_CTL,
        reset: R.QM_CACHE_CTL_RESET,
        fields: [
          { name: 'sqc_cache', lsb: 0, width: 1 },
          { name: 'cqc_cache', lsb: 1, width: 1 },
          { name: 'sqc_wb', lsb: 4, width: 1 },
          { name: 'sqc_wb_thrd', lsb: 5, width: 6 },
          { name: 'cqc_wb', lsb: 11, width: 1 },
          { name: 'cqc_wb_thrd', lsb: 12, width: 6 },
        ],
        description: 'SQC/CQC cache enables and automatic write-back (see setCacheCtl)',
        write: (v) => this.setCacheCtl(Number(v)),
      },
      { name: 'QM_VFT_CFG_OP_ENABLE', offset: R.QM_VFT_CFG_OP_ENABLE, fields: [{ name: 'enable', lsb: 0, width: 1 }], write: (v) => (Number(v) & 1 ? this.vftOperate() : undefined) },
      { name: 'QM_VFT_CFG_OP_WR', offset: R.QM_VFT_CFG_OP_WR, fields: [{ name: 'read', lsb: 0, width: 1 }] },
      { name: 'QM_VFT_CFG_TYPE', offset: R.QM_VFT_CFG_TYPE, fields: [{ name: 'type', lsb: 0, width: 2 }] },
      { name: 'QM_VFT_CFG', offset: R.QM_VFT_CFG, fields: [{ name: 'function', lsb: 0, width: 6 }] },
      { name: 'QM_VFT_CFG_DATA_L', offset: R.QM_VFT_CFG_DATA_L },
      { name: 'QM_VFT_CFG_DATA_H', offset: R.QM_VFT_CFG_DATA_H },
      { name: 'QM_VFT_CFG_RDY', offset: R.QM_VFT_CFG_RDY, reset: 1, fields: [{ name: 'rdy', lsb: 0, width: 1 }] },
      // AxUSER of the QM's own AXI master: bit n of the transaction's user field is CFG_1 bit n
      // where ENABLE bit n is set, else the QM's own value (0). Bit 0 is SSV (AXUSER_SSV): the
      // transaction carries a SubstreamID (the CQC pasid for CQE writes, 0 for the rest).
      // Linux leaves bit 0 to the QM (ENABLE 0xfffffffe). The other bits (snoop, SMMU command
      // type, NS/NO/FP) select coherency, security and ordering attributes that this machine
      // (coherent memory, non-secure only, in-order bus) cannot show: they read back as written.
      { name: 'QM_ARUSER_M_CFG_1', offset: R.QM_ARUSER_M_CFG_1, description: 'read-channel AxUSER value; bit 0 SSV', write: () => this.updateAxUser() },
      { name: 'QM_ARUSER_M_CFG_ENABLE', offset: R.QM_ARUSER_M_CFG_ENABLE, description: 'per bit: take ARUSER from QM_ARUSER_M_CFG_1', write: () => this.updateAxUser() },
      { name: 'QM_AWUSER_M_CFG_1', offset: R.QM_AWUSER_M_CFG_1, description: 'write-channel AxUSER value; bit 0 SSV', write: () => this.updateAxUser() },
      { name: 'QM_AWUSER_M_CFG_ENABLE', offset: R.QM_AWUSER_M_CFG_ENABLE, description: 'per bit: take AWUSER from QM_AWUSER_M_CFG_1', write: () => this.updateAxUser() },
      { name: 'QM_WUSER_M_CFG_ENABLE', offset: R.QM_WUSER_M_CFG_ENABLE, description: 'write-data WUSER enables: data user bits carry nothing this machine models; reads back as written' },
      { name: 'QM_AXI_M_CFG', offset: R.QM_AXI_M_CFG, description: 'AxCACHE of the QM master ("qm cache"): no observable effect on coherent, uncached memory; reads back as written' },
      { name: 'QM_AXI_M_CFG_ENABLE', offset: R.QM_AXI_M_CFG_ENABLE, description: 'enables for QM_AXI_M_CFG: no observable effect; reads back as written' },
      // Linux: "disable FLR triggered by BME (bus master enable)". The model never resets the
      // function when Bus Master Enable is cleared (the state Linux configures); which bit of
      // Linux's 0x401001 does it is not public, so the register reads back as written.
      { name: 'QM_PEH_AXUSER_CFG', offset: R.QM_PEH_AXUSER_CFG, description: 'PEH AxUSER; Linux value disables the BME-triggered FLR, which the model never does; reads back' },
      { name: 'QM_PEH_AXUSER_CFG_ENABLE', offset: R.QM_PEH_AXUSER_CFG_ENABLE, description: 'enables for QM_PEH_AXUSER_CFG; reads back as written' },
      { name: 'QM_PEH_VENDOR_ID', offset: R.QM_PEH_VENDOR_ID, reset: R.PCI_VENDOR_ID_HUAWEI, description: 'reset handshake: reads back the last value written' },
      // RAS routing of each abnormal source (see raiseAbnormal). Reset: every source NFE, so
      // an error is reported until the driver routes it (the hardware's reset value is not public).
      { name: 'QM_RAS_CE_ENABLE', offset: R.QM_RAS_CE_ENABLE, fields: [{ name: 'ce', lsb: 0, width: 15 }], description: 'sources reported as correctable: counted, MSI 3 every QM_RAS_CE_THRESHOLD' },
      { name: 'QM_RAS_FE_ENABLE', offset: R.QM_RAS_FE_ENABLE, fields: [{ name: 'fe', lsb: 0, width: 15 }], description: 'sources reported as fatal to the platform firmware: SOURCE only, no MSI' },
      { name: 'QM_RAS_NFE_ENABLE', offset: R.QM_RAS_NFE_ENABLE, reset: R.QM_ABNORMAL_ALL, fields: [{ name: 'nfe', lsb: 0, width: 15 }], description: 'sources reported as non-fatal: SOURCE and MSI 3 (the driver resets)' },
      { name: 'QM_RAS_CE_THRESHOLD', offset: R.QM_RAS_CE_THRESHOLD, fields: [{ name: 'times', lsb: 0, width: 16 }], description: 'correctable errors per report (0 counts as 1)', write: () => (this.ceCount = 0) },
      { name: 'QM_QUE_ISO_EN', offset: R.QM_QUE_ISO_EN, access: 'RO', description: 'v2 has no doorbell isolation (v3 feature): reads 0' },
      { name: 'QM_CAPBILITY', offset: R.QM_CAPBILITY, access: 'RO', reset: (QNUM | (QNUM << 11)) >>> 0 },
      { name: 'QM_DFX_CNT_CLR_CE', offset: R.QM_DFX_CNT_CLR_CE, fields: [{ name: 'clr_ce', lsb: 0, width: 1 }], description: 'bit 0: the QM DFX counters clear when read' },
      counter('QM_ECC_1BIT_CNT', R.QM_ECC_1BIT_CNT, 'dfxEcc1Bit'),
      counter('QM_ECC_MBIT_CNT', R.QM_ECC_MBIT_CNT, 'dfxEccMBit'),
      selector('QM_DFX_MB_CNT_VF', R.QM_DFX_MB_CNT_VF, (v) => (this.dfxSelMb = v), false),
      selector('QM_DFX_DB_CNT_VF', R.QM_DFX_DB_CNT_VF, (v) => (this.dfxSelDb = v), false),
      selector('QM_DFX_SQE_CNT_VF_SQN', R.QM_DFX_SQE_CNT_VF_SQN, (v) => (this.dfxSelSqe = v), true),
      selector('QM_DFX_CQE_CNT_VF_CQN', R.QM_DFX_CQE_CNT_VF_CQN, (v) => (this.dfxSelCqe = v), true),
      ofFunction('QM_DFX_MB_CNT', R.QM_DFX_MB_CNT, () => this.dfxSelMb, 'dfxMailbox'),
      ofFunction('QM_DFX_DB_CNT', R.QM_DFX_DB_CNT, () => this.dfxSelDb, 'dfxDoorbell'),
      ofQueue('QM_DFX_SQE_CNT', R.QM_DFX_SQE_CNT, () => this.dfxSelSqe, this.dfxSqeQ),
      ofQueue('QM_DFX_CQE_CNT', R.QM_DFX_CQE_CNT, () => this.dfxSelCqe, this.dfxCqeQ),
      counter('QM_DFX_CQE_ERR_CNT', R.QM_DFX_CQE_ERR_CNT, 'dfxCqeErr'),
      { name: 'QM_OOO_SHUTDOWN_SEL', offset: R.QM_OOO_SHUTDOWN_SEL, fields: [{ name: 'sel', lsb: 0, width: 15 }], write: (v) => (this.oooShutdownSel = Number(v)) },
      { name: 'ACC_MASTER_GLOBAL_CTRL', offset: R.ACC_MASTER_GLOBAL_CTRL, fields: [{ name: 'shutdown', lsb: 0, width: 1 }], write: (v) => this.setMasterCtrl(Number(v)) },
      { name: 'ACC_MASTER_TRANS_RETURN', offset: R.ACC_MASTER_TRANS_RETURN, access: 'RO', read: () => this.transReturn() },
    ];
  }

  // ---------------------------------------------------------------- mailbox

  private mailboxWord0(): number {
    const w = this.mbWords[0]! & ~(QM_MB_BUSY | (0xf << QM_MB_STATUS_SHIFT));
    return (w | (this.mbBusy ? QM_MB_BUSY : 0) | (this.mbStatus << QM_MB_STATUS_SHIFT)) >>> 0;
  }

  /** One 32-bit lane of the command word; the lane that completes the word fires it. */
  private mailboxWrite(lane: number, value: number): void {
    this.mbWords[lane] = value >>> 0;
    this.mbLanes |= 1 << lane;
    if (this.mbLanes !== 0xf) return;
    this.mbLanes = 0;
    if (this.mbBusy) {
      this.mbCollision = true; // discarded; reported in the status of the running command
      return;
    }
    this.mbBusy = true;
    this.mbStatus = 0;
    this.dfxMailbox++;
    const epoch = this.epoch;
    const words = this.mbWords.slice();
    this.clock.after(this.cost.qmMailboxNs, 'qm-mailbox', () => {
      if (epoch === this.epoch) this.gate.whenOpen(() => this.executeMailbox(words, epoch));
    });
  }

  private finishMailbox(status: number): void {
    if (this.mbCollision) {
      this.mbCollision = false;
      if (status === MailboxStatus.OK) status = MailboxStatus.COLLISION;
    }
    this.mbStatus = status;
    this.mbBusy = false;
  }

  private executeMailbox(words: Uint32Array, epoch: number): void {
    if (epoch !== this.epoch) return;
    const f = MAILBOX.f;
    const cmd = MAILBOX.get(words, f.cmd);
    const read = MAILBOX.get(words, f.op) === 1;
    const qn = MAILBOX.get(words, f.queue_num);
    const addr = join64(MAILBOX.get(words, f.base_l), MAILBOX.get(words, f.base_h));
    let st: DmaStatus = DmaStatus.Ok;
    switch (cmd) {
      case MailboxCmd.SQC:
      case MailboxCmd.CQC: {
        if (qn >= QNUM) return this.finishMailbox(MailboxStatus.BAD_QUEUE);
        const sq = cmd === MailboxCmd.SQC;
        if (read) {
          this.dumpQueueContext(sq, qn, this.mbScratchWords);
          st = this.dmaWrite(addr, this.mbScratch, 32);
        } else {
          st = this.dmaRead(addr, this.mbScratch, 32);
          if (st === DmaStatus.Ok) this.loadQueueContext(sq, qn, this.mbScratch, this.mbScratchWords, false);
        }
        break;
      }
      case MailboxCmd.EQC:
      case MailboxCmd.AEQC: {
        const e = cmd === MailboxCmd.EQC ? 0 : 1;
        if (read) {
          this.dumpEventContext(e, this.mbScratchWords);
          st = this.dmaWrite(addr, this.mbScratch, EQC.bytes);
        } else {
          st = this.dmaRead(addr, this.mbScratch, EQC.bytes);
          if (st === DmaStatus.Ok) this.loadEventContext(e, this.mbScratchWords);
        }
        break;
      }
      case MailboxCmd.SQC_BT:
      case MailboxCmd.CQC_BT:
        if (read) {
          const base = cmd === MailboxCmd.SQC_BT ? this.sqcBt : this.cqcBt;
          this.mbDataL = base >>> 0;
          this.mbDataH = Math.floor(base / 4294967296) >>> 0;
        } else if (cmd === MailboxCmd.SQC_BT) {
          this.sqcBt = addr;
          this.sqcBtValid = true;
        } else {
          this.cqcBt = addr;
          this.cqcBtValid = true;
        }
        break;
      case MailboxCmd.SQC_VFT_V2:
        if (!read) return this.finishMailbox(MailboxStatus.BAD_CMD);
        // The function asking is the PF (function 0): VFs are not modelled.
        this.mbDataL = this.vft[0]!;
        this.mbDataH = this.vft[1]!;
        break;
      default:
        return this.finishMailbox(MailboxStatus.BAD_CMD);
    }
    if (st === DmaStatus.Stalled) {
      this.gate.park((retry) => (retry ? this.executeMailbox(words, epoch) : this.finishMailbox(MailboxStatus.DMA_FAULT)));
      return;
    }
    if (st !== DmaStatus.Ok) {
      this.raiseAbnormal(read ? R.QmAbnormal.axi_bresp : R.QmAbnormal.axi_rresp);
      return this.finishMailbox(MailboxStatus.DMA_FAULT);
    }
    this.finishMailbox(MailboxStatus.OK);
  }

  private dmaRead(addr: number, buf: Uint8Array, len: number, port: DmaPort = this.link.dma, attrs: Readonly<DmaAttrs> = this.qmRd): DmaStatus {
    if (!this.link.busMasterEnabled) return DmaStatus.BusError;
    return this.noteError(port.read(addr, buf, 0, len, attrs));
  }

  private dmaWrite(addr: number, buf: Uint8Array, len: number, port: DmaPort = this.link.dma, attrs: Readonly<DmaAttrs> = this.qmWr): DmaStatus {
    if (!this.link.busMasterEnabled) return DmaStatus.BusError;
    return this.noteError(port.write(addr, buf, 0, len, attrs));
  }

  /** Abort and bus-error completions also show in the function's PCI Status register. */
  noteError(st: DmaStatus): DmaStatus {
    if (st === DmaStatus.Abort || st === DmaStatus.BusError) this.link.noteDmaError?.(st);
    return st;
  }

  /**
   * Takes a queue context into the QM: from a mailbox load, or (`reload`) from its table
   * entry when that context type is not cached. A reload keeps an error stop (qError).
   */
  private loadQueueContext(sq: boolean, qn: number, bytes: Uint8Array, w: Uint32Array, reload: boolean): void {
    SQC.fromBytes(bytes, w);
    const raw = sq ? this.sqcRaw : this.cqcRaw;
    raw.set(w, qn * 8);
    if (sq) {
      const f = SQC.f;
      this.sqBase[qn] = join64(SQC.get(w, f.base_l), SQC.get(w, f.base_h));
      this.sqDepth[qn] = SQC.get(w, f.qes) + 1;
      const log2 = SQC.get(w, f.sqe_size_log2);
      this.sqeSize[qn] = 1 << Math.min(log2, 10);
      this.sqHead[qn] = SQC.get(w, f.head) % this.sqDepth[qn]!;
      this.sqTail[qn] = SQC.get(w, f.tail) % this.sqDepth[qn]!;
      this.sqTailWrap[qn] = SQC.get(w, f.tail_wrap);
      this.sqPasid[qn] = SQC.get(w, f.pasid);
      this.sqPasidEn[qn] = SQC.get(w, f.pasid_en);
      this.sqAlg[qn] = SQC.get(w, f.alg_type);
      this.sqPrio[qn] = SQC.get(w, f.priority);
      this.sqOrders[qn] = SQC.get(w, f.orders);
      if (!reload) this.restartOrder(qn);
      this.sqRand[qn] = SQC.get(w, f.rand_qc);
      this.sqCtxBad[qn] = this.sqAlg[qn]! >= this.algTypes || log2 !== this.sqeSizeLog2 ? 1 : 0;
      this.sqCqn[qn] = SQC.get(w, f.cq_num) % QNUM;
      this.sqValid[qn] = 1;
      if (!reload) this.qError[qn] = 0;
      this.noteActive(qn);
    } else {
      const f = CQC.f;
      this.cqBase[qn] = join64(CQC.get(w, f.base_l), CQC.get(w, f.base_h));
      this.cqDepth[qn] = CQC.get(w, f.qes) + 1;
      this.cqHead[qn] = CQC.get(w, f.head) % this.cqDepth[qn]!;
      this.cqTail[qn] = CQC.get(w, f.tail) % this.cqDepth[qn]!;
      this.cqTailWrap[qn] = CQC.get(w, f.tail_wrap);
      this.cqPhase[qn] = CQC.get(w, f.phase);
      this.cqFlag[qn] = CQC.get(w, f.flag);
      this.cqRand[qn] = CQC.get(w, f.rand_qc);
      this.cqPasid[qn] = CQC.get(w, f.pasid);
      this.cqPasidEn[qn] = CQC.get(w, f.pasid_en);
      this.cqCtxBad[qn] = CQC.get(w, f.cqe_size_log2) !== CQE_SIZE_LOG2 ? 1 : 0;
      this.cqValid[qn] = 1;
    }
    // A mailbox load of an uncached context goes to its table entry (the only copy).
    if (!reload) this.contextChanged(sq, qn);
    this.engine?.kick();
  }

  /** The live context of queue `qn` (progress in head/tail/wrap/phase), as LE bytes in mbScratch. */
  private dumpQueueContext(sq: boolean, qn: number, w: Uint32Array): void {
    w.set((sq ? this.sqcRaw : this.cqcRaw).subarray(qn * 8, qn * 8 + 8));
    this.liveQueueFields(sq, qn, w);
    this.wordsToScratch(w, 8);
  }

  /** Overlays the fields the QM updates (head, tail, wrap, phase, c_flag) on a raw context. */
  private liveQueueFields(sq: boolean, qn: number, w: Uint32Array): void {
    if (sq) {
      SQC.set(w, SQC.f.head, this.sqHead[qn]!);
      SQC.set(w, SQC.f.tail, this.sqTail[qn]!);
      SQC.set(w, SQC.f.tail_wrap, this.sqTailWrap[qn]!);
    } else {
      CQC.set(w, CQC.f.head, this.cqHead[qn]!);
      CQC.set(w, CQC.f.tail, this.cqTail[qn]!);
      CQC.set(w, CQC.f.tail_wrap, this.cqTailWrap[qn]!);
      CQC.set(w, CQC.f.phase, this.cqPhase[qn]!);
      CQC.set(w, CQC.f.flag, this.cqFlag[qn]!);
    }
  }

  private wordsToScratch(w: Uint32Array, n: number): void {
    const b = this.mbScratch;
    for (let i = 0; i < n; i++) {
      const v = w[i]!;
      b[i * 4] = v & 0xff;
      b[i * 4 + 1] = (v >>> 8) & 0xff;
      b[i * 4 + 2] = (v >>> 16) & 0xff;
      b[i * 4 + 3] = v >>> 24;
    }
  }

  private loadEventContext(e: number, w: Uint32Array): void {
    EQC.fromBytes(this.mbScratch.subarray(0, EQC.bytes), w);
    this.evcRaw.set(w.subarray(0, 7), e * 7);
    const f = EQC.f;
    this.evBase[e] = join64(EQC.get(w, f.base_l), EQC.get(w, f.base_h));
    this.evDepth[e] = EQC.get(w, f.qes) + 1;
    this.evHead[e] = EQC.get(w, f.head) % this.evDepth[e]!;
    this.evTail[e] = EQC.get(w, f.tail) % this.evDepth[e]!;
    this.evPhase[e] = EQC.get(w, f.phase);
    this.evValid[e] = 1;
  }

  private dumpEventContext(e: number, w: Uint32Array): void {
    w.fill(0);
    w.set(this.evcRaw.subarray(e * 7, e * 7 + 7));
    EQC.set(w, EQC.f.head, this.evHead[e]!);
    EQC.set(w, EQC.f.tail, this.evTail[e]!);
    EQC.set(w, EQC.f.phase, this.evPhase[e]!);
    this.wordsToScratch(w, 7);
  }

  // ---------------------------------------------------------------- cache, memory init, VFT, master

  private startMemInit(): void {
    this.memInitDone = 0;
    const epoch = this.epoch;
    this.clock.after(this.cost.qmMemInitNs, 'qm-mem-init', () => {
      if (epoch === this.epoch) this.memInitDone = 1;
    });
  }

  /**
   * QM_CACHE_CTL (Linux hisi_zip_set_user_domain_and_cache; bits per qm.c). Model:
   * - SQC/CQC cache enable (bit 0 / bit 1) set: a context lives in the QM from its
   *   mailbox load; the QM neither reads its table entry (SQC_BT/CQC_BT + 32 * qn)
   *   again nor writes it except by write-back, so a driver that edits the entry in
   *   memory is not seen until it loads the context again through the mailbox.
   * - cache disabled: the table entry is the only copy. A mailbox load writes it
   *   there, every SQ/CQ doorbell re-reads it before acting (so edits in memory are
   *   seen), and every change the QM makes (tail, head, phase, c_flag) is written
   *   through at once. Without a base table the QM keeps its copy (nothing to read).
   * - write-back enable (bit 4 SQC / bit 11 CQC) with threshold N (bits 10:5 / 17:12,
   *   0 counts as 1), caches on: a context changed N times since its last write-back
   *   is written back to its table entry (in an event at the same instant).
   * QM_CACHE_WB_START writes back every changed context whatever these bits say.
   * Reset: both caches on, no automatic write-back (the hardware value is not public).
   */
  private setCacheCtl(v: number): void {
    this.cacheCtl = v >>> 0;
    this.sqcChanges.fill(0);
    this.cqcChanges.fill(0);
  }

  private cached(sq: boolean): boolean {
    return (this.cacheCtl & (sq ? R.QM_SQC_CACHE_ENABLE : R.QM_CQC_CACHE_ENABLE)) !== 0;
  }

  /** The QM changed (or loaded) context `qn`: write it through, or count it towards a write-back. */
  private contextChanged(sq: boolean, qn: number): void {
    (sq ? this.sqcDirty : this.cqcDirty)[qn] = 1;
    if (!this.cached(sq)) {
      this.writeContextEntry(sq, qn);
      return;
    }
    const wb = sq ? (this.cacheCtl >>> 4) & 1 : (this.cacheCtl >>> 11) & 1;
    if (wb === 0) return;
    const thr = Math.max(1, sq ? (this.cacheCtl >>> 5) & 0x3f : (this.cacheCtl >>> 12) & 0x3f);
    const changes = sq ? this.sqcChanges : this.cqcChanges;
    if (changes[qn]! < 255) changes[qn]!++;
    if (changes[qn]! < thr) return;
    changes[qn] = 0;
    this.wbDue.push(sq ? qn : qn + QNUM);
    if (this.wbEvent) return;
    this.wbEvent = true;
    const epoch = this.epoch;
    this.clock.after(0, 'qm-ctx-wb', () => {
      if (epoch !== this.epoch) return;
      this.wbEvent = false;
      this.gate.whenOpen(() => this.writeDueContexts(epoch));
    });
  }

  private writeDueContexts(epoch: number): void {
    if (epoch !== this.epoch) return;
    while (this.wbDue.length > 0) {
      const k = this.wbDue.shift()!;
      const sq = k < QNUM;
      const qn = sq ? k : k - QNUM;
      if ((sq ? this.sqcDirty : this.cqcDirty)[qn] === 0) continue;
      this.writeContextEntry(sq, qn);
    }
  }

  /** Writes context `qn` to its table entry now; a failed write raises axi_bresp (the QM keeps its copy). */
  private writeContextEntry(sq: boolean, qn: number): void {
    if (!(sq ? this.sqcBtValid : this.cqcBtValid) || (sq ? this.sqValid : this.cqValid)[qn] === 0) return;
    const bt = sq ? this.sqcBt : this.cqcBt;
    const w = this.ctxWords;
    w.set((sq ? this.sqcRaw : this.cqcRaw).subarray(qn * 8, qn * 8 + 8));
    this.liveQueueFields(sq, qn, w);
    const b = this.ctxBytes;
    littleEndianWords(w, b);
    const st = this.dmaWrite(bt + qn * 32, b, 32);
    if (st === DmaStatus.Ok) (sq ? this.sqcDirty : this.cqcDirty)[qn] = 0;
    else this.raiseAbnormal(R.QmAbnormal.axi_bresp);
  }

  /** Cache disabled: the doorbell makes the QM read the context from its table entry. */
  private reloadUncached(sq: boolean, qn: number): void {
    if (this.cached(sq) || !(sq ? this.sqcBtValid : this.cqcBtValid) || (sq ? this.sqValid : this.cqValid)[qn] === 0) return;
    const st = this.dmaRead((sq ? this.sqcBt : this.cqcBt) + qn * 32, this.ctxBytes, 32);
    if (st !== DmaStatus.Ok) return this.raiseAbnormal(R.QmAbnormal.axi_rresp);
    this.loadQueueContext(sq, qn, this.ctxBytes, this.ctxWords, true);
  }

  /** QM_CACHE_WB_START: write every loaded SQC/CQC back into its base table. */
  private startCacheWriteBack(): void {
    this.cacheWbDone = 0;
    const epoch = this.epoch;
    this.clock.after(this.cost.qmCacheWriteBackNs, 'qm-cache-wb', () => {
      if (epoch === this.epoch) this.gate.whenOpen(() => this.writeBackContexts(epoch));
    });
  }

  private writeBackContexts(epoch: number): void {
    if (epoch !== this.epoch) return;
    for (let pass = 0; pass < 2; pass++) {
      const sq = pass === 0;
      const dirty = sq ? this.sqcDirty : this.cqcDirty;
      const btValid = sq ? this.sqcBtValid : this.cqcBtValid;
      if (!btValid) continue;
      const bt = sq ? this.sqcBt : this.cqcBt;
      for (let qn = 0; qn < QNUM; qn++) {
        if (dirty[qn] === 0) continue;
        this.dumpQueueContext(sq, qn, this.mbScratchWords);
        const st = this.dmaWrite(bt + qn * 32, this.mbScratch, 32);
        if (st === DmaStatus.Stalled) {
          this.gate.park((retry) => (retry ? this.writeBackContexts(epoch) : (this.cacheWbDone = 1)));
          return;
        }
        if (st !== DmaStatus.Ok) this.raiseAbnormal(R.QmAbnormal.axi_bresp);
        dirty[qn] = 0;
        (sq ? this.sqcChanges : this.cqcChanges)[qn] = 0;
      }
    }
    this.cacheWbDone = 1;
  }

  private vftOperate(): void {
    const read = (this.regs?.getNum('QM_VFT_CFG_OP_WR') ?? 0) & 1;
    const type = (this.regs?.getNum('QM_VFT_CFG_TYPE') ?? 0) & 3;
    const fn = (this.regs?.getNum('QM_VFT_CFG') ?? 0) & (R.QM_MAX_FUNCTIONS - 1);
    this.regs?.set('QM_VFT_CFG_OP_ENABLE', 0);
    if (type <= 2) {
      const i = (type * R.QM_MAX_FUNCTIONS + fn) * 2;
      if (read) {
        this.regs?.set('QM_VFT_CFG_DATA_L', this.vft[i]!);
        this.regs?.set('QM_VFT_CFG_DATA_H', this.vft[i + 1]!);
      } else {
        this.vft[i] = this.regs?.getNum('QM_VFT_CFG_DATA_L') ?? 0;
        this.vft[i + 1] = this.regs?.getNum('QM_VFT_CFG_DATA_H') ?? 0;
        if (type === 0 && fn === 0) this.decodePfVft();
      }
    }
    this.regs?.set('QM_VFT_CFG_RDY', 1);
  }

  /** SQC VFT v2: base = data[43:28], valid = data[44], count - 1 = data[54:45]. */
  private decodePfVft(): void {
    const lo = this.vft[0]!;
    const hi = this.vft[1]!;
    const valid = (hi >>> 12) & 1;
    this.pfQBase = ((lo >>> 28) | ((hi & 0xfff) << 4)) & 0xffff;
    this.pfQNum = valid ? ((hi >>> 13) & 0x3ff) + 1 : 0;
    this.engine?.kick();
  }

  /** SSV (AxUSER bit 0) of the QM's read and write channels from the *_M_CFG registers. */
  private updateAxUser(): void {
    const g = (n: string): number => this.regs?.getNum(n) ?? 0;
    this.qmRd.ssv = (g('QM_ARUSER_M_CFG_ENABLE') & g('QM_ARUSER_M_CFG_1') & 1) === 1;
    this.qmWr.ssv = (g('QM_AWUSER_M_CFG_ENABLE') & g('QM_AWUSER_M_CFG_1') & 1) === 1;
  }

  private setMasterCtrl(v: number): void {
    this.masterCtrl = v & 1;
    if ((v & 1) === 0) this.engine?.kick();
  }

  private transReturn(): number {
    if ((this.masterCtrl & 1) === 0) return 0;
    return (this.engine?.onBus ?? 0) === 0 && !this.mbBusy && !this.gate.blocked ? R.ACC_MASTER_TRANS_RETURN_RW : 0;
  }

  /** The register block that holds the QM registers (set by the device that builds it). */
  regs: { getNum(name: string): number; set(name: string, v: number | bigint): void } | undefined;

  // ---------------------------------------------------------------- doorbells

  /**
   * A write into the doorbell pages (offset relative to BAR2). 64-bit writes ring at
   * once; a 32-bit write of the low half is latched and the high half rings.
   */
  doorbellWrite(offset: number, size: number, lo: number, hi: number): void {
    const base = offset & ~7;
    if (base !== R.QM_DOORBELL_SQ_CQ_BASE_V2 && base !== R.QM_DOORBELL_EQ_AEQ_BASE_V2) return; // RAZ/WI rest of the pages
    if (size === 8) return this.ring(base, lo >>> 0, hi >>> 0);
    if (size !== 4) return;
    if ((offset & 7) === 0) {
      this.dbLatchLo = lo >>> 0;
      this.dbLatchOffset = base;
    } else if (this.dbLatchOffset === base) {
      this.dbLatchOffset = -1;
      this.ring(base, this.dbLatchLo, lo >>> 0);
    }
  }

  /**
   * Doorbell errors this model reports (the hardware's exact choice is not public):
   * SQ doorbell for a queue outside the PF's VFT range -> sq_vf_invalid; CQ doorbell
   * outside it -> cq_vf_invalid; SQ/CQ doorbell for a queue whose SQC/CQC was never
   * loaded -> sq_cq_vf_invalid; unknown cmd, a cmd on the wrong page, an index beyond
   * the ring, or an EQ/AEQ doorbell before its context -> db_random_invalid, and so
   * does an SQ/CQ doorbell whose rand field [31:16] differs from the context's rand_qc
   * (w8): on v2 every queue's doorbell shares one page that user processes map, and the
   * per-queue value is what keeps one process from ringing another's queue. Linux and
   * UADK write 0 in both.
   * A loaded context the QM cannot serve (sqCtxBad/cqCtxBad) counts as no valid
   * context: no public source says what v2 does with one, and sq_cq_vf_invalid is the
   * documented source closest to "this queue's SQ/CQ context is not usable". The
   * doorbell is dropped (the SQC tail does not move), so nothing is fetched.
   */
  private ring(page: number, lo: number, hi: number): void {
    const qn = lo & 0xfff;
    const cmd = (lo >>> 12) & 0xf;
    const index = hi & 0xffff;
    const rand = lo >>> 16;
    this.dfxDoorbell++;
    if (this.trace.on) this.trace.record(TraceKind.Doorbell, this.link.dma.initiator, this.link.dma.sid, NO_SSID, page, page, 8, index, qn | (cmd << 16), hi);
    const sqcqPage = page === R.QM_DOORBELL_SQ_CQ_BASE_V2;
    if (cmd > R.QmDoorbellCmd.AEQ || sqcqPage !== cmd <= R.QmDoorbellCmd.CQ) return this.raiseAbnormal(R.QmAbnormal.db_random_invalid);
    switch (cmd) {
      case R.QmDoorbellCmd.SQ: {
        if (qn < this.pfQBase || qn >= this.pfQBase + this.pfQNum) return this.raiseAbnormal(R.QmAbnormal.sq_vf_invalid);
        this.reloadUncached(true, qn);
        if (this.sqValid[qn] === 0 || this.sqCtxBad[qn] === 1 || (this.cqValid[this.sqCqn[qn]!] === 1 && this.cqCtxBad[this.sqCqn[qn]!] === 1)) return this.raiseAbnormal(R.QmAbnormal.sq_cq_vf_invalid);
        if (index >= this.sqDepth[qn]! || rand !== this.sqRand[qn]) return this.raiseAbnormal(R.QmAbnormal.db_random_invalid);
        const old = this.sqTail[qn]!;
        if (index < old) this.sqTailWrap[qn]! ^= 1;
        this.sqTail[qn] = index;
        this.contextChanged(true, qn);
        if (index !== old) {
          this.noteActive(qn);
          this.engine?.kick();
        }
        return;
      }
      case R.QmDoorbellCmd.CQ:
        if (qn < this.pfQBase || qn >= this.pfQBase + this.pfQNum) return this.raiseAbnormal(R.QmAbnormal.cq_vf_invalid);
        this.reloadUncached(false, qn);
        if (this.cqValid[qn] === 0 || this.cqCtxBad[qn] === 1) return this.raiseAbnormal(R.QmAbnormal.sq_cq_vf_invalid);
        if (index >= this.cqDepth[qn]! || rand !== this.cqRand[qn]) return this.raiseAbnormal(R.QmAbnormal.db_random_invalid);
        this.cqHead[qn] = index;
        this.contextChanged(false, qn);
        if (((hi >>> 16) & 1) === 1) this.armCompletionEvent(qn);
        return;
      default: {
        const e = cmd - R.QmDoorbellCmd.EQ;
        if (this.evValid[e] === 0 || index >= this.evDepth[e]!) return this.raiseAbnormal(R.QmAbnormal.db_random_invalid);
        this.evHead[e] = index;
        // The doorbell acknowledges the interrupt; entries still unread raise it again.
        this.evSource[e] = 0;
        if (this.evHead[e] !== this.evTail[e]) this.raiseEvent(e);
      }
    }
  }

  // ---------------------------------------------------------------- engine side

  private noteActive(qn: number): void {
    if (this.inActive[qn] === 0 && this.pending(qn) > 0) {
      this.inActive[qn] = 1;
      this.active[this.activeCount++] = qn;
    }
  }

  /** SQEs submitted and not yet fetched. */
  pending(qn: number): number {
    const d = this.sqDepth[qn]!;
    return d === 0 ? 0 : (this.sqTail[qn]! - this.sqHead[qn]! + d) % d;
  }

  /** Whether queue `qn` may have SQEs fetched now. */
  private runnable(qn: number): boolean {
    const cqn = this.sqCqn[qn]!;
    return this.sqValid[qn] === 1 && this.sqCtxBad[qn] === 0 && this.cqValid[cqn] === 1 && this.cqCtxBad[cqn] === 0 && this.qError[qn] === 0 && qn >= this.pfQBase && qn < this.pfQBase + this.pfQNum;
  }

  /**
   * Picks the queue whose head SQE an engine of `algType` takes next and claims that
   * SQE. Arbitration rule: among runnable queues of that direction with SQEs pending,
   * the highest SQC priority (w13[3:0], 15 highest) wins; queues of equal priority are
   * served round robin in the order they became active. Returns the queue number with
   * the SQ index in `claimedIndex`, or -1 when there is nothing to do.
   */
  claimNext(algType: number): number {
    if (this.masterStopped || !this.link.busMasterEnabled) return -1;
    let n = this.activeCount;
    // Drop queues with nothing pending, keeping the order of the rest.
    for (let slot = 0; slot < n; ) {
      const qn = this.active[slot]!;
      if (this.pending(qn) > 0 && this.sqValid[qn] === 1) {
        slot++;
        continue;
      }
      this.active.copyWithin(slot, slot + 1, n);
      this.inActive[qn] = 0;
      n--;
      if (slot < this.rr) this.rr--;
    }
    this.activeCount = n;
    if (n === 0) return -1;
    let best = -1;
    let bestPrio = -1;
    for (let i = 0; i < n; i++) {
      const slot = (this.rr + i) % n;
      const qn = this.active[slot]!;
      if (this.sqAlg[qn] !== algType || this.sqPrio[qn]! <= bestPrio || !this.runnable(qn)) continue;
      best = slot;
      bestPrio = this.sqPrio[qn]!;
      if (bestPrio === 15) break;
    }
    if (best < 0) return -1;
    const qn = this.active[best]!;
    this.claimedIndex = this.sqHead[qn]!;
    this.sqHead[qn] = (this.claimedIndex + 1) % this.sqDepth[qn]!;
    this.contextChanged(true, qn);
    this.rr = (best + 1) % n;
    this.dfxSqe++;
    this.dfxSqeQ[qn]!++;
    return qn;
  }

  claimedIndex = 0;

  /**
   * Completion order (SQC w13 orders, Linux writes 1): a queue with orders != 0 posts
   * its CQEs in SQ order. Its requests still run in parallel on several cores; a request
   * that finishes before an earlier one of the same queue leaves its completion in the
   * QM's reorder buffer (its core is free again), and the QM posts that CQE and its EQE
   * once every earlier request of the queue has posted its CQE or ended without one.
   * orders = 0: CQEs post as requests finish. A reload of the SQC (the queue restarted)
   * drops completions still held for it. True if the CQE of SQ[`index`] may post now.
   */
  mayComplete(qn: number, index: number): boolean {
    return this.sqOrders[qn] === 0 || this.cqeNext[qn] === index;
  }

  /** Hands a finished request whose turn has not come to the reorder buffer. */
  deferCompletion(qn: number, index: number, error: boolean): void {
    let d = this.deferred.get(qn);
    if (d === undefined) this.deferred.set(qn, (d = new Map()));
    d.set(index, error);
  }

  /** The request at SQ[`index`] ended (CQE posted, or none will be): the next in order may post. */
  completionDone(qn: number, index: number): void {
    if (this.sqOrders[qn] === 0 || this.sqDepth[qn] === 0) return;
    if (this.cqeNext[qn] !== index) {
      let early = this.doneEarly.get(qn);
      if (early === undefined) this.doneEarly.set(qn, (early = new Set()));
      early.add(index);
      return;
    }
    const depth = this.sqDepth[qn]!;
    let next = (index + 1) % depth;
    const early = this.doneEarly.get(qn);
    while (early !== undefined && early.delete(next)) next = (next + 1) % depth;
    this.cqeNext[qn] = next;
    const d = this.deferred.get(qn);
    const error = d?.get(next);
    if (error === undefined) return;
    d!.delete(next);
    this.postDeferred(qn, next, error);
  }

  /** Posts a held completion (CQE, then EQE) on the QM's channel, in an event of its own. */
  private postDeferred(qn: number, index: number, error: boolean): void {
    const epoch = this.epoch;
    const eqe = (): void => {
      if (epoch !== this.epoch) return;
      if (this.postCompletionEvent(qn) === DmaStatus.Stalled) this.gate.park((retry) => (retry ? eqe() : undefined));
    };
    const cqe = (): void => {
      if (epoch !== this.epoch) return;
      const r = this.postCqe(qn, index, error); // Written: completionDone releases the next one
      if (r === CqePost.Stalled) return this.gate.park((retry) => (retry ? cqe() : this.completionDone(qn, index)));
      if (r === CqePost.Written) eqe();
      else this.completionDone(qn, index);
    };
    this.clock.after(0, 'qm-cqe-order', () => this.gate.whenOpen(cqe));
  }

  /** A (re)loaded SQC starts the order at its head; completions still held for the old order are dropped. */
  private restartOrder(qn: number): void {
    this.cqeNext[qn] = this.sqHead[qn]!;
    this.doneEarly.delete(qn);
    this.deferred.delete(qn);
  }

  /** Bus address of SQE `index` of queue `qn`. */
  sqeAddress(qn: number, index: number): number {
    return this.sqBase[qn]! + index * this.sqeSize[qn]!;
  }

  /** Reads SQE `index` of queue `qn` (up to `len` bytes, at most the SQE size) on `port` (default: the QM's channel). */
  readSqe(qn: number, index: number, buf: Uint8Array, len: number, port?: DmaPort, attrs?: Readonly<DmaAttrs>): DmaStatus {
    const n = Math.min(len, this.sqeSize[qn]!, SQE_MAX_BYTES);
    if (n < len) buf.fill(0, n, len);
    return this.dmaRead(this.sqeAddress(qn, index), buf, n, port, attrs);
  }

  /** Writes the result back into the SQE slot (Linux and UADK read SQ[cqe.sq_head]). */
  writeSqe(qn: number, index: number, buf: Uint8Array, len: number, port?: DmaPort, attrs?: Readonly<DmaAttrs>): DmaStatus {
    return this.dmaWrite(this.sqeAddress(qn, index), buf, Math.min(len, this.sqeSize[qn]!, SQE_MAX_BYTES), port, attrs);
  }

  /** Attributes for data transfers of queue `qn`: the SQC PASID when `ssv`. */
  dataAttrs(qn: number, ssv: boolean, into: DmaAttrs): DmaAttrs {
    into.ssv = ssv || this.sqPasidEn[qn] === 1;
    into.ssid = into.ssv ? this.sqPasid[qn]! : 0;
    into.priv = false;
    into.exec = false;
    return into;
  }

  /** Injects a CQ overflow on the next completion (of queue `qn`, or of any queue). */
  injectCqOverflow(qn = -1): void {
    this.cqOverflowInjection = qn;
  }

  /** Injects an EQ overflow: the next completion event finds the EQ full (as if the driver had stopped consuming EQEs). */
  injectEqOverflow(): void {
    this.eqOverflowInjection = true;
  }

  /** Posts the CQE for SQ[`sqIndex`] of queue `qn` at the tail of its CQ. */
  postCqe(qn: number, sqIndex: number, error: boolean): CqePost {
    const cqn = this.sqCqn[qn]!;
    if (this.cqValid[cqn] === 0 || this.sqValid[qn] === 0) return CqePost.NoQueue;
    const depth = this.cqDepth[cqn]!;
    const tail = this.cqTail[cqn]!;
    const forced = this.cqOverflowInjection === -1 || this.cqOverflowInjection === qn;
    if (forced || (tail + 1) % depth === this.cqHead[cqn]) {
      if (forced) this.cqOverflowInjection = -2;
      this.qError[qn] = 1;
      this.postAeqe(cqn, AeqeType.CQ_OVERFLOW);
      return CqePost.Overflow;
    }
    const w = this.cqeWords;
    w.fill(0);
    CQE.set(w, CQE.f.sq_head, sqIndex);
    CQE.set(w, CQE.f.sq_num, qn);
    CQE.set(w, CQE.f.phase, this.cqPhase[cqn]!);
    littleEndianWords(w, this.cqeBytes);
    const a = this.cqeAttrs;
    a.ssv = this.qmWr.ssv || this.cqPasidEn[cqn] === 1;
    a.ssid = a.ssv ? this.cqPasid[cqn]! : 0;
    const st = this.dmaWrite(this.cqBase[cqn]! + tail * 16, this.cqeBytes, 16, this.link.dma, a);
    if (st === DmaStatus.Stalled) return CqePost.Stalled;
    if (st !== DmaStatus.Ok) {
      this.raiseAbnormal(R.QmAbnormal.axi_bresp);
      return CqePost.Fault;
    }
    const next = (tail + 1) % depth;
    if (next === 0) {
      this.cqPhase[cqn]! ^= 1;
      this.cqTailWrap[cqn]! ^= 1;
    }
    this.cqTail[cqn] = next;
    this.contextChanged(false, cqn);
    this.dfxCqe++;
    this.dfxCqeQ[cqn]!++;
    this.completionDone(qn, sqIndex);
    if (error) this.dfxCqeErr++;
    return CqePost.Written;
  }

  /** After a CQE: the EQE and the EQ MSI when the CQ's c_flag is armed (posting disarms it). */
  postCompletionEvent(qn: number): DmaStatus {
    return this.postEqe(this.sqCqn[qn]!);
  }

  private postEqe(cqn: number): DmaStatus {
    if (this.cqFlag[cqn] === 0 || this.evValid[0] === 0) return DmaStatus.Ok;
    const head = this.evHead[0]!;
    const tail = this.evTail[0]!;
    const depth = this.evDepth[0]!;
    if (this.eqOverflowInjection || (tail + 1) % depth === head) {
      // The EQE is lost (the CQE is in the CQ); the AEQE tells the driver to reset the function.
      this.eqOverflowInjection = false;
      this.cqFlag[cqn] = 0;
      this.postAeqe(0, AeqeType.EQ_OVERFLOW);
      return DmaStatus.Ok;
    }
    this.ev4[0] = 0;
    EQE.set(this.ev4, EQE.f.cq_num, cqn);
    EQE.set(this.ev4, EQE.f.phase, this.evPhase[0]!);
    littleEndianWords(this.ev4, this.ev4Bytes);
    const st = this.dmaWrite(this.evBase[0]! + tail * 4, this.ev4Bytes, 4);
    if (st === DmaStatus.Stalled) return st;
    if (st !== DmaStatus.Ok) {
      this.raiseAbnormal(R.QmAbnormal.axi_bresp);
      return st;
    }
    this.cqFlag[cqn] = 0;
    this.contextChanged(false, cqn);
    this.advanceEvent(0);
    this.raiseEvent(0);
    return DmaStatus.Ok;
  }

  /**
   * CQ doorbell with priority bit 0 ("set c_flag"): arms the completion event. CQEs
   * the driver has not consumed yet (tail != the new head) post their EQE at once, so
   * a completion that arrived between the driver's last CQE check and the re-arm still
   * interrupts.
   */
  private armCompletionEvent(cqn: number): void {
    if (this.cqFlag[cqn] === 1) return;
    this.cqFlag[cqn] = 1;
    this.contextChanged(false, cqn);
    if (this.cqTail[cqn] === this.cqHead[cqn]) return;
    const epoch = this.epoch;
    const attempt = (): void => {
      if (epoch !== this.epoch) return;
      if (this.postEqe(cqn) === DmaStatus.Stalled) this.gate.park((retry) => (retry ? attempt() : this.raiseAbnormal(R.QmAbnormal.axi_bresp)));
    };
    this.gate.whenOpen(attempt);
  }

  private advanceEvent(e: number): void {
    const next = (this.evTail[e]! + 1) % this.evDepth[e]!;
    if (next === 0) this.evPhase[e]! ^= 1;
    this.evTail[e] = next;
  }

  /** Posts an AEQE; a full or missing AEQ drops it (there is nowhere to report that). */
  postAeqe(qpId: number, type: number): void {
    if (this.evValid[1] === 0) return;
    const tail = this.evTail[1]!;
    if ((tail + 1) % this.evDepth[1]! === this.evHead[1]) return;
    const w = new Uint32Array(1);
    AEQE.set(w, AEQE.f.qp_id, qpId);
    AEQE.set(w, AEQE.f.phase, this.evPhase[1]!);
    AEQE.set(w, AEQE.f.type, type);
    const bytes = new Uint8Array(4);
    littleEndianWords(w, bytes);
    const addr = this.evBase[1]! + tail * 4;
    const attempt = (): void => {
      const st = this.dmaWrite(addr, bytes, 4);
      if (st === DmaStatus.Stalled) {
        this.gate.park((retry) => (retry ? attempt() : this.raiseAbnormal(R.QmAbnormal.axi_bresp)));
        return;
      }
      if (st !== DmaStatus.Ok) return this.raiseAbnormal(R.QmAbnormal.axi_bresp);
      this.advanceEvent(1);
      this.raiseEvent(1);
    };
    this.gate.whenOpen(attempt);
  }

  // ---------------------------------------------------------------- interrupts

  /** Sets an event source; the MSI fires on the rising edge of source & !mask. */
  private raiseEvent(e: number): void {
    if (this.evSource[e] === 1) return;
    this.evSource[e] = 1;
    if (this.evMask[e] === 0) this.link.signalMsi(e === 0 ? R.QmMsiVector.EQ : R.QmMsiVector.AEQ);
  }

  private setEventMask(e: number, mask: number): void {
    const was = this.evMask[e];
    this.evMask[e] = mask;
    if (was === 1 && mask === 0 && this.evSource[e] === 1) this.link.signalMsi(e === 0 ? R.QmMsiVector.EQ : R.QmMsiVector.AEQ);
  }

  /**
   * An error of the QM (hardware, or injected through QM_ABNORMAL_INT_SET). Its
   * hardware action (QM_OOO_SHUTDOWN_SEL) happens whatever the reporting; the report
   * follows the source's RAS class, as hisi_qm_err_ini programs them:
   *   FE  (QM_RAS_FE_ENABLE)   recorded in SOURCE, no MSI: fatal errors go to the
   *                            platform's firmware, which this machine does not have;
   *   NFE (QM_RAS_NFE_ENABLE)  recorded in SOURCE and reported on MSI 3;
   *   CE  (QM_RAS_CE_ENABLE)   counted; every QM_RAS_CE_THRESHOLD-th one is recorded
   *                            and reported, the others leave no trace;
   *   none of them             recorded in SOURCE, not reported (Linux clears an NFE
   *                            enable to silence a source until the reset).
   * A source in several enables takes the most severe class (FE, then NFE, then CE).
   */
  raiseAbnormal(bits: number, info?: { inf00?: number; inf01?: number }): void {
    bits &= R.QM_ABNORMAL_ALL;
    if (info?.inf00 !== undefined) this.inf00 = info.inf00;
    if (info?.inf01 !== undefined) this.inf01 = info.inf01;
    if ((bits & this.oooShutdownSel) !== 0) this.oooShutdown = true;
    if ((bits & R.QmAbnormal.ecc_1bit) !== 0) this.dfxEcc1Bit = (this.dfxEcc1Bit + 1) >>> 0;
    if ((bits & R.QmAbnormal.ecc_mbit) !== 0) this.dfxEccMBit = (this.dfxEccMBit + 1) >>> 0;
    const fe = bits & this.rasReg('QM_RAS_FE_ENABLE', 0);
    const nfe = bits & ~fe & this.rasReg('QM_RAS_NFE_ENABLE', R.QM_ABNORMAL_ALL);
    let ce = bits & ~fe & ~nfe & this.rasReg('QM_RAS_CE_ENABLE', 0);
    const silent = bits & ~(fe | nfe | ce);
    if (ce !== 0) {
      this.ceCount++;
      if (this.ceCount < Math.max(1, this.rasReg('QM_RAS_CE_THRESHOLD', 0) & 0xffff)) ce = 0;
      else this.ceCount = 0;
    }
    this.abnSource = (this.abnSource | fe | nfe | ce | silent) & R.QM_ABNORMAL_ALL;
    this.abnReported = (this.abnReported | nfe | ce) & this.abnSource;
    this.updateAbnormalIrq();
  }

  private rasReg(name: string, dflt: number): number {
    return this.regs === undefined ? dflt : this.regs.getNum(name);
  }

  private clearAbnormal(bits: number): void {
    this.abnSource &= ~bits;
    this.abnReported &= this.abnSource;
    this.updateAbnormalIrq();
  }

  private setAbnormalMask(mask: number): void {
    this.abnMask = mask & R.QM_ABNORMAL_ALL;
    this.updateAbnormalIrq();
  }

  /** Re-evaluates the abnormal MSI (vector 3): it fires when reported, unmasked QM or engine errors turn non-zero. */
  updateAbnormalIrq(): void {
    const level = (this.abnSource & this.abnReported & ~this.abnMask) !== 0 || (this.engine?.errorStatus() ?? 0) !== 0;
    if (level && !this.abnIrqLevel) this.link.signalMsi(R.QmMsiVector.ABNORMAL);
    this.abnIrqLevel = level;
  }

  get abnormalSource(): number {
    return this.abnSource;
  }
}

/** Writes dwords as little-endian bytes (hosts may be big-endian in principle). */
function littleEndianWords(w: Uint32Array, out: Uint8Array): void {
  for (let i = 0; i < w.length; i++) {
    const v = w[i]!;
    out[i * 4] = v & 0xff;
    out[i * 4 + 1] = (v >>> 8) & 0xff;
    out[i * 4 + 2] = (v >>> 16) & 0xff;
    out[i * 4 + 3] = v >>> 24;
  }
}
