// The ZIP engine behind the QM: 2 compression and 6 decompression cores (v2,
// Kunpeng 920), each taking one SQE at a time from the queues of its direction
// (SQC alg_type 0 compress, 1 decompress) in round-robin order.
//
// A request runs as a small state machine so that any DMA may stall (SMMU stall
// model) and be replayed, or be aborted and take the error path. Each core is its own
// bus-master channel (a DMA port with the function's StreamID, as the AXI IDs of a
// real engine keep their transactions apart): its SQE, SGL, data and context
// transfers stall and resume independently of the other cores'. Completions (CQE,
// EQE, MSI) go out on the QM's channel, one stalled transaction at a time (DmaStallGate):
//   FETCH  read the SQE at the SQ head
//   LOAD   decode it, walk the source/destination SGLs, read input and stream context
//   (compute on pako, then wait the modelled time: overhead + bytes / core rate)
//   STORE  write output and stream context
//   WRITEBACK  write the result into the SQE slot (consumed, produced, status, ...)
//   CQE, EQE   post the completion (QM) and the completion event + EQ MSI
// Data and context moves carry the SQC PASID when HZIP_{SGL,DATA}_{R,W}USER has SSV
// set (v2, Linux sets it when SVA is on) or the SQC enables PASID (v3 form).
//
// Failures whose hardware status code is not public end with the model's one
// IMPLEMENTATION-DEFINED code (ZipStatus.IMPLEMENTATION_DEFINED_ERROR, documented in
// sqe.ts); an unparsable SGL also sets HZIP_CORE_INT src/dst_addr_parse and an aborted
// data or context transfer axi_rresp/axi_bresp, as the Linux error table names them.

import { DmaPort, DmaStatus, type DmaAttrs } from '../bus/dma.js';
import type { Clock, ScheduledEvent } from '../../machine/clock.js';
import type { CostModel } from '../../machine/cost.js';
import { TraceKind } from '../../trace/record.js';
import type { TraceRing } from '../../trace/ring.js';
import { CqePost, type QmEngine, type QueueManager } from '../qm/qm.js';
import { QmAbnormal } from '../qm/registers.js';
import { ZIP_SQE, ZIP_SQE_BYTES, ZIP_WINDOW_BYTES, ZipCtxState, ZipReqType, ZipStatus } from './sqe.js';
import { SegmentList, SglResult, moveSegments, walkSgl } from './sgl.js';
import { ADLER32_INIT, CRC32_INIT, adler32, crc32 } from './checksum.js';
import { CTX_HISTORY_OFFSET, CTX_MAGIC_DEFLATE, DeflateUnit, HISTORY_MAX, InflateOutcome, InflateUnit, STREAM_CTX_BYTES, savedHistoryBytes } from './codec.js';
import { HZIP_COMP_CORE_NUM, HZIP_DECOMP_CORE_NUM, ZipCoreError } from './registers.js';

/** Largest input or output of one request (UADK `HZ_MAX_SIZE`). */
export const ZIP_MAX_BD_BYTES = 8 * 1024 * 1024;

/** What the engine needs from the device around it. */
export interface ZipEngineHost {
  /** AXUSER registers: SSV (bit 0) for SQE (BD) reads and write-backs, SGL reads, data reads, data writes. */
  bdRuser(): number;
  bdWuser(): number;
  sglRuser(): number;
  dataRuser(): number;
  dataWuser(): number;
  /** Sets HZIP_CORE_INT_SOURCE bits. */
  raiseCoreError(bits: number): void;
  /** True once if an injected AXI read error is armed (consumed by the call). */
  takeInjectedAxiError(): boolean;
  readonly busMasterEnabled: boolean;
  /** HZIP_CLOCK_GATE_CTRL bit `index`: the core is clocked (a gated core takes no SQE). */
  coreClocked(index: number): boolean;
  /** HZIP_CLOCK_GATE_CTRL bit 16: decompression checks the zlib/gzip trailer. */
  decompCheck(): boolean;
  /** HZIP_FSM_MAX_CNT in ns (0: no watchdog). */
  fsmLimitNs(): number;
  /** HZIP_CORE_INT_STATUS: non-zero raises the abnormal MSI with the QM's errors. */
  coreErrorStatus(): number;
  /** The function's bus-master port (exists once the function is attached). */
  readonly dma: DmaPort;
}

const enum Step {
  Idle = 0,
  Fetch,
  Load,
  Compute,
  Wait,
  Store,
  WriteBack,
  Cqe,
  Eqe,
}

const F = ZIP_SQE.f;
/** The model's one status for failures whose hardware code is not public (see sqe.ts). */
const IMPDEF = ZipStatus.IMPLEMENTATION_DEFINED_ERROR;

export class ZipCore {
  busy = false;
  step = Step.Idle;
  qn = 0;
  sqIndex = 0;
  readonly sqe = new Uint8Array(ZIP_SQE_BYTES);
  readonly words = new Uint32Array(ZIP_SQE_BYTES / 4);
  // request
  reqType = 0;
  stateful = false;
  fresh = true;
  finish = false;
  inLen = 0;
  outSkip = 0;
  avail = 0;
  ctxAddr = 0;
  // result
  status = 0;
  consumed = 0;
  produced = 0;
  lstblk = 0;
  ctxSt = 0;
  checksum = 0;
  isize = 0;
  ctxWriteLen = 0;
  /** The output lives in the codec's buffer; a failed request produces nothing. */
  outBuf: Uint8Array = new Uint8Array(0);
  input = new Uint8Array(1 << 16);
  readonly ctx = new Uint8Array(STREAM_CTX_BYTES);
  readonly src = new SegmentList();
  readonly dst = new SegmentList();
  readonly bdRdAttrs: DmaAttrs = { ssid: 0, ssv: false, priv: false, exec: false };
  readonly bdWrAttrs: DmaAttrs = { ssid: 0, ssv: false, priv: false, exec: false };
  readonly sglAttrs: DmaAttrs = { ssid: 0, ssv: false, priv: false, exec: false };
  readonly rdAttrs: DmaAttrs = { ssid: 0, ssv: false, priv: false, exec: false };
  readonly wrAttrs: DmaAttrs = { ssid: 0, ssv: false, priv: false, exec: false };
  readonly deflate: DeflateUnit | undefined;
  readonly inflate: InflateUnit | undefined;
  event: ScheduledEvent | undefined;
  /** HZIP_FSM_MAX_CNT watchdog of the request being computed. */
  watchdog: ScheduledEvent | undefined;
  /** The core's bus-master channel (created with the function's port). */
  port: DmaPort | undefined;
  /** A transfer on the core's channel is held by the IOMMU. */
  stalled = false;
  /** Stalls of the core's channel since reset. */
  stalls = 0;
  /** The request's place in its queue's CQE order is released (CQE posted, or it ended without one). */
  orderDone = false;
  /** Injected hang: the next request the core starts computing never finishes (until reset). */
  hung = false;
  cont: () => void = () => {};
  resume: (retry: boolean) => void = () => {};
  // DFX (32-bit wrapping counters, as the hardware's): BDs taken (GET_BD_NUM) and finished (DONE_BD_NUM).
  bdGot = 0;
  bdCount = 0;
  consumedBytes = 0;
  producedBytes = 0;

  constructor(
    readonly index: number,
    /** SQC alg_type served: 0 compress, 1 decompress. */
    readonly algType: number,
  ) {
    this.deflate = algType === 0 ? new DeflateUnit() : undefined;
    this.inflate = algType === 1 ? new InflateUnit() : undefined;
  }
}

export class ZipEngine implements QmEngine {
  readonly cores: ZipCore[] = [];
  private dispatchEvent: ScheduledEvent | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly cost: Readonly<CostModel>,
    private readonly trace: TraceRing,
    private readonly qm: QueueManager,
    private readonly host: ZipEngineHost,
  ) {
    for (let i = 0; i < HZIP_COMP_CORE_NUM + HZIP_DECOMP_CORE_NUM; i++) {
      const core = new ZipCore(i, i < HZIP_COMP_CORE_NUM ? 0 : 1);
      core.cont = () => this.run(core);
      core.resume = (retry) => {
        if (!retry) this.abortStep(core);
        this.run(core);
      };
      this.cores.push(core);
    }
  }

  get inFlight(): number {
    let n = 0;
    for (const c of this.cores) if (c.busy) n++;
    return n;
  }

  get onBus(): number {
    let n = 0;
    for (const c of this.cores) if (c.busy && !(c.hung && c.step === Step.Wait)) n++;
    return n;
  }

  /** Error injection: core `index` (all cores when omitted) hangs on the next request it computes. */
  hang(index?: number): void {
    for (const c of this.cores) if (index === undefined || c.index === index) c.hung = true;
  }

  errorStatus(): number {
    return this.host.coreErrorStatus();
  }

  /** The function's port: the QM's channel (trace initiator and StreamID). */
  private get port(): DmaPort {
    return this.host.dma;
  }

  /**
   * The core's channel, following the function's StreamID and IOMMU (set by the PCIe
   * wiring and the machine after the engine is built). A stalled transfer ends through
   * the channel's own onStallEnd, so each core resumes on its own.
   */
  private channel(core: ZipCore): DmaPort {
    const fn = this.host.dma;
    let p = core.port;
    if (p === undefined || p.bus !== fn.bus) {
      p = new DmaPort(fn.bus, fn.name, fn.sid);
      p.onStallEnd = (retry) => this.stallEnded(core, retry);
      core.port = p;
    }
    p.sid = fn.sid;
    p.iommu = fn.iommu;
    return p;
  }

  private stall(core: ZipCore): void {
    core.stalled = true;
    core.stalls++;
  }

  private stallEnded(core: ZipCore, retry: boolean): void {
    if (!core.stalled) return; // nothing of this core is held (a resume after a reset)
    core.stalled = false;
    if (!retry) this.abortStep(core);
    this.run(core);
  }

  /** Drops everything in flight (device reset). */
  reset(): void {
    this.dispatchEvent?.cancel();
    this.dispatchEvent = undefined;
    for (const c of this.cores) {
      c.event?.cancel();
      c.event = undefined;
      c.watchdog?.cancel();
      c.watchdog = undefined;
      c.busy = false;
      c.stalled = false;
      c.hung = false;
      c.step = Step.Idle;
      c.bdGot = c.bdCount = c.consumedBytes = c.producedBytes = 0;
    }
  }

  /** Schedules a dispatch pass now (after the current MMIO access or event). */
  kick(): void {
    if (this.dispatchEvent !== undefined) return;
    this.dispatchEvent = this.clock.after(0, 'zip-dispatch', () => {
      this.dispatchEvent = undefined;
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (const core of this.cores) {
      if (core.busy || !this.host.coreClocked(core.index)) continue;
      const qn = this.qm.claimNext(core.algType);
      if (qn < 0) continue;
      core.busy = true;
      core.bdGot = (core.bdGot + 1) >>> 0;
      core.qn = qn;
      core.sqIndex = this.qm.claimedIndex;
      core.orderDone = false;
      core.step = Step.Fetch;
      this.channel(core);
      this.run(core);
    }
  }

  /** Advances `core` through its steps until it waits for time, a stall, or finishes. */
  private run(core: ZipCore): void {
    const gate = this.qm.gate;
    for (;;) {
      if (!core.busy || core.stalled) return;
      // The QM's channel serves completions in order: a stall there holds every core's.
      if (gate.blocked && (core.step === Step.Cqe || core.step === Step.Eqe)) {
        gate.whenOpen(core.cont);
        return;
      }
      let st: DmaStatus;
      switch (core.step) {
        case Step.Fetch:
          st = this.host.busMasterEnabled ? this.qm.readSqe(core.qn, core.sqIndex, core.sqe, ZIP_SQE_BYTES, core.port, this.qm.dataAttrs(core.qn, (this.host.bdRuser() & 1) !== 0, core.bdRdAttrs)) : DmaStatus.BusError;
          if (st === DmaStatus.Stalled) return this.stall(core);
          if (st !== DmaStatus.Ok) {
            this.abortStep(core);
            continue;
          }
          core.step = Step.Load;
          continue;
        case Step.Load:
          st = this.load(core);
          if (st === DmaStatus.Stalled) return this.stall(core);
          core.step = Step.Compute;
          continue;
        case Step.Compute: {
          const limitNs = this.host.fsmLimitNs();
          if (core.hung) {
            core.step = Step.Wait; // no completion event: only a reset frees the core
            if (limitNs > 0) this.armWatchdog(core, limitNs);
            return;
          }
          if (core.status === ZipStatus.OK) this.compute(core);
          const bytes = core.algType === 0 ? core.consumed : core.produced;
          const rate = core.algType === 0 ? this.cost.zipCompressBytesPerNsPerCore : this.cost.zipDecompressBytesPerNsPerCore;
          const ns = this.cost.zipRequestOverheadNs + (rate > 0 ? bytes / rate : 0);
          if (limitNs > 0 && ns > limitNs) this.armWatchdog(core, limitNs);
          core.step = Step.Wait;
          core.event = this.clock.after(ns, 'zip-core', () => {
            core.event = undefined;
            core.step = Step.Store;
            this.run(core);
          });
          return;
        }
        case Step.Wait:
          return;
        case Step.Store:
          st = this.store(core);
          if (st === DmaStatus.Stalled) return this.stall(core);
          if (st !== DmaStatus.Ok) {
            this.abortStep(core);
            continue;
          }
          core.step = Step.WriteBack;
          continue;
        case Step.WriteBack:
          this.fillResult(core);
          st = this.host.busMasterEnabled ? this.qm.writeSqe(core.qn, core.sqIndex, core.sqe, ZIP_SQE_BYTES, core.port, this.qm.dataAttrs(core.qn, (this.host.bdWuser() & 1) !== 0, core.bdWrAttrs)) : DmaStatus.BusError;
          if (st === DmaStatus.Stalled) return this.stall(core);
          if (st !== DmaStatus.Ok) {
            this.abortStep(core);
            continue;
          }
          core.step = Step.Cqe;
          continue;
        case Step.Cqe: {
          if (this.trace.on) {
            const a = this.qm.sqeAddress(core.qn, core.sqIndex);
            this.trace.record(TraceKind.Completion, this.port.initiator, this.port.sid, -1, a, a, ZIP_SQE_BYTES, core.status, core.qn);
          }
          if (!this.qm.mayComplete(core.qn, core.sqIndex)) {
            // An earlier SQE of this ordered queue has not posted: the QM holds the completion.
            this.qm.deferCompletion(core.qn, core.sqIndex, !isSuccess(core.status));
            core.orderDone = true;
            this.finish(core);
            return;
          }
          const r = this.qm.postCqe(core.qn, core.sqIndex, !isSuccess(core.status));
          if (r === CqePost.Stalled) return gate.park(core.resume);
          if (r === CqePost.Written) core.orderDone = true;
          if (r !== CqePost.Written) {
            this.finish(core);
            return;
          }
          core.step = Step.Eqe;
          continue;
        }
        case Step.Eqe:
          st = this.qm.postCompletionEvent(core.qn);
          if (st === DmaStatus.Stalled) return gate.park(core.resume);
          this.finish(core);
          return;
        default:
          return;
      }
    }
  }

  /**
   * HZIP_FSM_MAX_CNT: a core whose compute state lasts longer than the limit reports
   * QM acc_do_task_timeout when the limit expires (a hung core, or a request slower
   * than the limit, which still completes). The report follows the QM's RAS routing.
   */
  private armWatchdog(core: ZipCore, limitNs: number): void {
    core.watchdog?.cancel();
    core.watchdog = this.clock.after(limitNs, 'zip-fsm-watchdog', () => {
      core.watchdog = undefined;
      this.qm.raiseAbnormal(QmAbnormal.acc_do_task_timeout);
    });
  }

  /** A transfer of the current step was aborted (or could not be issued). */
  private abortStep(core: ZipCore): void {
    switch (core.step) {
      case Step.Fetch:
        // Without the SQE there is no slot to report into: the request is lost.
        this.qm.raiseAbnormal(QmAbnormal.axi_rresp);
        this.finish(core);
        return;
      case Step.Load:
        this.fail(core, IMPDEF, ZipCoreError.axi_rresp);
        core.step = Step.Compute;
        return;
      case Step.Store:
        this.fail(core, IMPDEF, ZipCoreError.axi_bresp);
        core.step = Step.WriteBack;
        return;
      case Step.WriteBack:
        this.qm.raiseAbnormal(QmAbnormal.axi_bresp);
        core.step = Step.Cqe;
        return;
      case Step.Cqe:
        core.step = Step.Idle;
        this.finish(core);
        return;
      case Step.Eqe:
        this.finish(core);
        return;
      default:
        return;
    }
  }

  private finish(core: ZipCore): void {
    if (!core.orderDone) this.qm.completionDone(core.qn, core.sqIndex);
    core.orderDone = true;
    core.busy = false;
    core.step = Step.Idle;
    core.bdCount = (core.bdCount + 1) >>> 0;
    this.kick();
  }

  private fail(core: ZipCore, status: number, coreError: number): void {
    core.status = status;
    core.consumed = 0;
    core.produced = 0;
    core.ctxWriteLen = 0;
    if (coreError !== 0) this.host.raiseCoreError(coreError);
  }

  // ---------------------------------------------------------------- LOAD

  private load(core: ZipCore): DmaStatus {
    const w = core.words;
    ZIP_SQE.fromBytes(core.sqe, w);
    core.status = ZipStatus.OK;
    core.consumed = core.produced = 0;
    core.lstblk = core.ctxSt = 0;
    core.ctxWriteLen = 0;
    core.outBuf = EMPTY;
    const reqType = ZIP_SQE.get(w, F.req_type);
    const bufType = ZIP_SQE.get(w, F.buf_type);
    const window = ZIP_SQE.get(w, F.window);
    const sqeType = ZIP_SQE.get(w, F.sqe_type);
    core.reqType = reqType;
    core.stateful = ZIP_SQE.get(w, F.stream_mode) === 1;
    core.fresh = !core.stateful || ZIP_SQE.get(w, F.stream_new) === 1;
    core.finish = ZIP_SQE.get(w, F.flush_type) === 1;
    core.inLen = ZIP_SQE.get(w, F.input_data_length);
    core.checksum = ZIP_SQE.get(w, F.checksum);
    core.isize = ZIP_SQE.get(w, F.isize);
    const inSkip = ZIP_SQE.get(w, F.in_sge_data_offset);
    core.outSkip = ZIP_SQE.get(w, F.out_sge_data_offset);
    core.avail = Math.min(ZIP_SQE.get(w, F.dest_avail_out), ZIP_MAX_BD_BYTES);
    core.ctxAddr = ZIP_SQE.get(w, F.stream_ctx_addr_h) * 4294967296 + ZIP_SQE.get(w, F.stream_ctx_addr_l);
    const srcAddr = ZIP_SQE.get(w, F.source_addr_h) * 4294967296 + ZIP_SQE.get(w, F.source_addr_l);
    const dstAddr = ZIP_SQE.get(w, F.dest_addr_h) * 4294967296 + ZIP_SQE.get(w, F.dest_addr_l);
    if (
      (reqType !== ZipReqType.DEFLATE && reqType !== ZipReqType.ZLIB && reqType !== ZipReqType.GZIP) ||
      bufType > 1 || window >= ZIP_WINDOW_BYTES.length || (sqeType !== 0 && sqeType !== 3) ||
      core.inLen > ZIP_MAX_BD_BYTES || (core.stateful && core.ctxAddr === 0)
    ) {
      this.fail(core, IMPDEF, 0);
      return DmaStatus.Ok;
    }
    if (!this.host.busMasterEnabled) {
      this.fail(core, IMPDEF, ZipCoreError.axi_rresp);
      return DmaStatus.Ok;
    }
    const qm = this.qm;
    const port = core.port!;
    qm.dataAttrs(core.qn, (this.host.sglRuser() & 1) !== 0, core.sglAttrs);
    qm.dataAttrs(core.qn, (this.host.dataRuser() & 1) !== 0, core.rdAttrs);
    qm.dataAttrs(core.qn, (this.host.dataWuser() & 1) !== 0, core.wrAttrs);
    // Source and destination runs.
    if (bufType === 0) {
      core.src.flat(srcAddr, inSkip + core.inLen);
      core.dst.flat(dstAddr, core.outSkip + core.avail);
    } else {
      let parseError = ZipCoreError.src_addr_parse;
      let r = walkSgl(port, srcAddr, core.sglAttrs, inSkip + core.inLen, true, core.src);
      if (r === SglResult.Ok) {
        parseError = ZipCoreError.dst_addr_parse;
        r = walkSgl(port, dstAddr, core.sglAttrs, core.outSkip + core.avail, false, core.dst);
      }
      if (r === SglResult.Stalled) return DmaStatus.Stalled;
      if (r !== SglResult.Ok) {
        this.fail(core, IMPDEF, r === SglResult.Fault ? ZipCoreError.axi_rresp : parseError);
        return DmaStatus.Ok;
      }
      core.avail = Math.max(0, Math.min(core.avail, core.dst.total - core.outSkip));
    }
    // Input data.
    if (core.input.length < core.inLen) core.input = new Uint8Array(Math.max(core.inLen, core.input.length * 2));
    let st = this.qm.noteError(moveSegments(port, core.src, inSkip, core.input, 0, core.inLen, false, core.rdAttrs));
    if (st === DmaStatus.Ok && this.host.takeInjectedAxiError()) st = DmaStatus.BusError;
    if (st === DmaStatus.Stalled) return st;
    if (st !== DmaStatus.Ok) {
      this.fail(core, IMPDEF, ZipCoreError.axi_rresp);
      return DmaStatus.Ok;
    }
    // Stream context of a continuing stateful stream.
    if (!core.fresh) {
      st = port.read(core.ctxAddr, core.ctx, 0, CTX_HISTORY_OFFSET, core.rdAttrs);
      if (st === DmaStatus.Ok) {
        const n = core.algType === 0 ? savedHistoryBytes(core.ctx) : InflateUnit.savedBytes(core.ctx);
        if (n < 0) {
          this.fail(core, IMPDEF, 0);
          return DmaStatus.Ok;
        }
        const total = core.algType === 0 ? CTX_HISTORY_OFFSET + n : n;
        st = port.read(core.ctxAddr + CTX_HISTORY_OFFSET, core.ctx, CTX_HISTORY_OFFSET, total - CTX_HISTORY_OFFSET, core.rdAttrs);
      }
      this.qm.noteError(st);
      if (st === DmaStatus.Stalled) return st;
      if (st !== DmaStatus.Ok) {
        this.fail(core, IMPDEF, ZipCoreError.axi_rresp);
        return DmaStatus.Ok;
      }
    }
    return DmaStatus.Ok;
  }

  // ---------------------------------------------------------------- compute

  private compute(core: ZipCore): void {
    const zlib = core.reqType === ZipReqType.ZLIB;
    const gzip = core.reqType === ZipReqType.GZIP;
    if (core.fresh) {
      core.checksum = zlib ? ADLER32_INIT : CRC32_INIT;
      core.isize = 0;
    }
    if (core.algType === 0) this.compress(core, zlib, gzip);
    else this.decompress(core, zlib, gzip);
  }

  private compress(core: ZipCore, zlib: boolean, gzip: boolean): void {
    const unit = core.deflate!;
    const w = core.words;
    const histLen = core.fresh ? 0 : savedHistoryBytes(core.ctx);
    const history = core.ctx.subarray(CTX_HISTORY_OFFSET);
    const trailer = core.finish ? (zlib ? 4 : gzip ? 8 : 0) : 0;
    const windowBits = WINDOW_BITS[ZIP_SQE.get(w, F.window)]!;
    const n = core.avail < trailer ? -1 : unit.run(core.input, 0, core.inLen, history, histLen, windowBits, core.finish, core.avail - trailer);
    if (n < 0) {
      this.fail(core, ZipStatus.DSTLEN_OUT, 0);
      return;
    }
    const out = unit.out;
    if (zlib) core.checksum = adler32(core.checksum, core.input, 0, core.inLen);
    else if (gzip) core.checksum = crc32(core.checksum, core.input, 0, core.inLen);
    core.isize = (core.isize + core.inLen) >>> 0;
    if (trailer === 4) writeU32BE(out, n, core.checksum);
    else if (trailer === 8) {
      writeU32LE(out, n, core.checksum);
      writeU32LE(out, n + 4, core.isize);
    }
    core.outBuf = out;
    core.consumed = core.inLen;
    core.produced = n + trailer;
    core.status = core.produced > core.consumed ? ZipStatus.NEGACOMPRESS : ZipStatus.OK;
    if (core.stateful && !core.finish) {
      // Keep the last 32 KiB of history for the next request of the stream.
      const keep = Math.min(histLen, HISTORY_MAX - Math.min(core.inLen, HISTORY_MAX));
      const ctx = core.ctx;
      ctx.copyWithin(CTX_HISTORY_OFFSET, CTX_HISTORY_OFFSET + histLen - keep, CTX_HISTORY_OFFSET + histLen);
      const take = Math.min(core.inLen, HISTORY_MAX);
      ctx.set(core.input.subarray(core.inLen - take, core.inLen), CTX_HISTORY_OFFSET + keep);
      writeU32LE(ctx, 0, CTX_MAGIC_DEFLATE);
      writeU32LE(ctx, 4, keep + take);
      core.ctxWriteLen = CTX_HISTORY_OFFSET + keep + take;
    }
  }

  private decompress(core: ZipCore, zlib: boolean, gzip: boolean): void {
    const unit = core.inflate!;
    if (core.fresh) unit.fresh();
    else if (!unit.restore(core.ctx)) {
      this.fail(core, IMPDEF, 0);
      return;
    }
    const outcome = unit.run(core.input, 0, core.inLen, core.avail);
    if (outcome === InflateOutcome.Error) {
      this.fail(core, IMPDEF, 0);
      return;
    }
    const out = unit.out;
    if (outcome === InflateOutcome.Progress && !core.stateful) {
      if (unit.outputFull || core.finish) {
        this.fail(core, unit.outputFull ? ZipStatus.DSTLEN_OUT : IMPDEF, 0);
        return;
      }
    }
    core.consumed = unit.consumed;
    core.produced = unit.produced;
    core.outBuf = out;
    if (zlib) core.checksum = adler32(core.checksum, out, 0, core.produced);
    else if (gzip) core.checksum = crc32(core.checksum, out, 0, core.produced);
    core.isize = (core.isize + core.produced) >>> 0;
    if (outcome === InflateOutcome.End) {
      // A stateful stream reports its end with 0x13; a stateless request that decoded its
      // whole stream is plain success (Linux hisi_zip_acomp_cb, stateless only, takes
      // nothing but 0 and 0x0d as success for decompression too).
      // The zlib/gzip trailer is checked when HZIP_CLOCK_GATE_CTRL bit 16 is set and the
      // input holds it; otherwise it is skipped if present and ctx_st says NO_CRC.
      core.status = core.stateful ? ZipStatus.DECOMP_END : ZipStatus.OK;
      core.lstblk = 1;
      const rest = core.inLen - core.consumed;
      const inp = core.input;
      const check = this.host.decompCheck();
      const trailer = zlib ? 4 : gzip ? 8 : 0;
      if (trailer > 0 && rest >= trailer) {
        if (check && zlib && readU32BE(inp, core.consumed) !== core.checksum) core.status = ZipStatus.CRC_ERR;
        if (check && gzip && (readU32LE(inp, core.consumed) !== core.checksum || readU32LE(inp, core.consumed + 4) !== core.isize)) core.status = ZipStatus.CRC_ERR;
        core.consumed += trailer;
      }
      if (trailer > 0 && (!check || rest < trailer)) core.ctxSt = ZipCtxState.NO_CRC;
      return;
    }
    core.status = ZipStatus.OK;
    if (core.stateful) {
      core.ctxSt = unit.outputFull
        ? unit.inLastBlock ? ZipCtxState.LAST_BLOCK_NO_SPACE : ZipCtxState.NO_SPACE
        : unit.betweenBlocks ? ZipCtxState.BLOCK_NOT_STARTED : ZipCtxState.NONE;
      core.ctxWriteLen = unit.save(core.ctx);
    }
  }

  // ---------------------------------------------------------------- STORE, WRITEBACK

  private store(core: ZipCore): DmaStatus {
    if (!this.host.busMasterEnabled && (core.produced > 0 || core.ctxWriteLen > 0)) return DmaStatus.BusError;
    const port = core.port!;
    if (core.produced > 0) {
      const st = this.qm.noteError(moveSegments(port, core.dst, core.outSkip, core.outBuf, 0, core.produced, true, core.wrAttrs));
      if (st !== DmaStatus.Ok) return st;
    }
    if (core.ctxWriteLen > 0) {
      const st = this.qm.noteError(port.write(core.ctxAddr, core.ctx, 0, core.ctxWriteLen, core.wrAttrs));
      if (st !== DmaStatus.Ok) return st;
    }
    core.consumedBytes = (core.consumedBytes + core.consumed) >>> 0;
    core.producedBytes = (core.producedBytes + core.produced) >>> 0;
    return DmaStatus.Ok;
  }

  private fillResult(core: ZipCore): void {
    const w = core.words;
    ZIP_SQE.set(w, F.consumed, core.consumed);
    ZIP_SQE.set(w, F.produced, core.produced);
    ZIP_SQE.set(w, F.status, core.status);
    ZIP_SQE.set(w, F.lstblk, core.lstblk);
    ZIP_SQE.set(w, F.ctx_st, core.ctxSt);
    const inflate = core.inflate;
    const keepState = inflate !== undefined && core.stateful && core.status === ZipStatus.OK;
    ZIP_SQE.set(w, F.ctx_bfinal, keepState && inflate.inLastBlock ? 1 : 0);
    ZIP_SQE.set(w, F.ctx_head_bits, keepState ? inflate.heldBits : 0);
    ZIP_SQE.set(w, F.ctx_dw1, keepState ? inflate.storedPending & 0x7ffff : 0);
    ZIP_SQE.set(w, F.ctx_dw2, keepState ? inflate.windowHeld : 0);
    ZIP_SQE.set(w, F.isize, core.isize);
    ZIP_SQE.set(w, F.checksum, core.checksum);
    const b = core.sqe;
    for (let i = 0; i < w.length; i++) writeU32LE(b, i * 4, w[i]!);
  }
}

function isSuccess(status: number): boolean {
  return status === ZipStatus.OK || status === ZipStatus.NEGACOMPRESS || status === ZipStatus.DECOMP_END;
}

const EMPTY = new Uint8Array(0);
/**
 * dw9 window field to deflate windowBits. The compressor must never refer farther back
 * than the window (the decompressor keeps no more). 24 KiB is no power of two and
 * pako's window is: it compresses with 16 KiB, the largest that stays inside.
 */
const WINDOW_BITS = [12, 13, 14, 14, 15] as const;

function writeU32LE(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}

function writeU32BE(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

function readU32LE(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

function readU32BE(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}
