// The Command queue (IHI 0070 chapter 4 and 7.1): the 16-byte command layout, the
// opcodes, and the consumer. Commands are consumed one at a time in modelled time
// (cost.smmuCommandNs each, scheduled on the machine clock), so CMDQ_CONS advances while
// the driver polls. An illegal command or a fetch abort stops the queue with
// CMDQ_CONS.ERR set and GERROR.CMDQ_ERR active until software acknowledges it.

import type { PhysicalBus } from '../bus/bus.js';
import type { Clock, ScheduledEvent } from '../../machine/clock.js';
import { TraceKind } from '../../trace/record.js';
import type { TraceRing } from '../../trace/ring.js';
import { TAG_EL2, TAG_EL2_E2H, TAG_S2, TlbiScope, type Iotlb } from './iotlb.js';
import type { ConfigCache } from './config-cache.js';
import { CERROR_ABT, CERROR_ILL, CERROR_NONE, CMDQ_CONS_ERR_MASK, CMDQ_CONS_ERR_SHIFT } from './registers.js';
import { SmmuQueue, type QueueRegisters } from './queue.js';
import { dw, dwAddr, StructLayout } from '../regs/struct-layout.js';

export const CMD_BYTES = 16;

const TWO32 = 4294967296;

/**
 * Address[63:12] of a command (dword 1) as a signed Number, the form the translation path
 * takes VAs in (negative: VA[63] set); exact for addresses sign-extended from bit 52 up.
 */
function commandVa(w: Uint32Array): number {
  return (w[3]! | 0) * TWO32 + ((w[2]! & ~0xfff) >>> 0);
}

/**
 * The VA of a TLBI_*_VA/VAA command with TBI applied (4.4: permitted): VA[63:56] are
 * taken as copies of VA[55], as the IOTLB holds its VAs.
 */
function tlbiVa(w: Uint32Array): number {
  return ((w[3]! << 8) >> 8) * TWO32 + ((w[2]! & ~0xfff) >>> 0);
}

/** Command opcodes (4.1.1). */
export const enum CmdOp {
  PREFETCH_CONFIG = 0x01,
  PREFETCH_ADDR = 0x02,
  CFGI_STE = 0x03,
  CFGI_STE_RANGE = 0x04,
  CFGI_CD = 0x05,
  CFGI_CD_ALL = 0x06,
  CFGI_VMS_PIDM = 0x07,
  TLBI_NH_ALL = 0x10,
  TLBI_NH_ASID = 0x11,
  TLBI_NH_VA = 0x12,
  TLBI_NH_VAA = 0x13,
  TLBI_EL3_ALL = 0x18,
  TLBI_EL3_VA = 0x1a,
  TLBI_EL2_ALL = 0x20,
  TLBI_EL2_ASID = 0x21,
  TLBI_EL2_VA = 0x22,
  TLBI_EL2_VAA = 0x23,
  TLBI_S12_VMALL = 0x28,
  TLBI_S2_IPA = 0x2a,
  TLBI_NSNH_ALL = 0x30,
  ATC_INV = 0x40,
  PRI_RESP = 0x41,
  RESUME = 0x44,
  STALL_TERM = 0x45,
  SYNC = 0x46,
}

/** CFGI_ALL is CFGI_STE_RANGE with Range = 31 (4.3.6). */
export const CFGI_ALL_RANGE = 31;

/** CMD_SYNC.CS (4.7.3). */
export const CS_NONE = 0;
export const CS_IRQ = 1;
export const CS_SEV = 2;

/**
 * The union of the command layouts of chapter 4 (fields of different commands share
 * bits; each command reads its own). MSIAddress is [55:2] in the spec; bits [55:52]
 * are RES0 for this 48-bit-OAS model.
 */
export const CMD = new StructLayout('CMD', CMD_BYTES, {
  Opcode: dw(0, 7, 0),
  Global: dw(0, 9),
  SSec: dw(0, 10),
  SSV: dw(0, 11),
  SubstreamID: dw(0, 31, 12),
  StreamID: dw(0, 63, 32),
  NUM: dw(0, 16, 12),
  SCALE: dw(0, 24, 20),
  VMID: dw(0, 47, 32),
  ASID: dw(0, 63, 48),
  CS: dw(0, 13, 12),
  Ac: dw(0, 12),
  Ab: dw(0, 13),
  MSH: dw(0, 23, 22),
  MSIAttr: dw(0, 27, 24),
  MSIData: dw(0, 63, 32),
  Leaf: dw(1, 0),
  Range: dw(1, 4, 0),
  Size: dw(1, 4, 0),
  PRGIndex: dw(1, 8, 0),
  TTL: dw(1, 9, 8),
  TG: dw(1, 11, 10),
  Resp: dw(1, 13, 12),
  STAG: dw(1, 15, 0),
  Address: dwAddr(1, 63, 12),
  MSIAddress: dwAddr(1, 51, 2),
}, { union: true });

// The fields as constants: looked up by name once, not per command.
const {
  ASID: F_ASID,
  Ac: F_Ac,
  Address: F_Address,
  CS: F_CS,
  MSIAddress: F_MSIAddress,
  MSIData: F_MSIData,
  NUM: F_NUM,
  PRGIndex: F_PRGIndex,
  Range: F_Range,
  Resp: F_Resp,
  SCALE: F_SCALE,
  SSV: F_SSV,
  SSec: F_SSec,
  Size: F_Size,
  STAG: F_STAG,
  StreamID: F_StreamID,
  SubstreamID: F_SubstreamID,
  TG: F_TG,
  TTL: F_TTL,
  VMID: F_VMID,
} = CMD.f;

/** What commands act on besides the caches: implemented by the SMMU device. */
export interface CommandTarget {
  readonly configs: ConfigCache;
  readonly iotlb: Iotlb;
  smmuEnabled(): boolean;
  /** SMMU_CR2.E2H: which EL2 regime the TLBI_EL2_* commands address. */
  e2h(): boolean;
  cmdqEnabled(): boolean;
  cmdqErrorActive(): boolean;
  /** Activates GERROR.CMDQ_ERR (CMDQ_CONS.ERR already holds the reason). */
  raiseCmdqError(): void;
  prefetchConfig(sid: number, ssv: boolean, ssid: number): void;
  /** `log2Pages`: CMD_PREFETCH_ADDR.Size, the span as 2^Size 4 KiB strides. */
  prefetchAddr(sid: number, ssv: boolean, ssid: number, addr: number, log2Pages: number): void;
  resume(sid: number, stag: number, retry: boolean): void;
  stallTerm(sid: number): void;
  priResponse(sid: number, ssv: boolean, ssid: number, prgIndex: number, resp: number): void;
  /** CMD_SYNC completion signal (4.7.3). */
  syncSignal(cs: number, msiAddr: number, msiData: number): void;
  /** WFE wake-up (IDR0.SEV): the queue became non-full. */
  sendEvent(): void;
}

export class CommandQueue extends SmmuQueue {
  private readonly bytes = new Uint8Array(CMD_BYTES);
  private readonly words = new Uint32Array(this.bytes.buffer);
  private readonly scope = new TlbiScope();
  private pending: ScheduledEvent | undefined;
  /** Commands consumed since reset. */
  consumed = 0;

  constructor(
    regs: QueueRegisters,
    maxLog2: number,
    private readonly bus: PhysicalBus,
    private readonly clock: Clock,
    private readonly trace: TraceRing,
    private readonly initiator: number,
    private readonly costNs: () => number,
    private readonly target: CommandTarget,
  ) {
    super(regs, CMD_BYTES, maxLog2);
  }

  /** Considers the queue for processing (CMDQ_PROD write, CMDQEN set, CMDQ_ERR acknowledged). */
  kick(): void {
    if (this.pending !== undefined) return;
    if (!this.canRun()) return;
    this.pending = this.clock.after(this.costNs(), 'smmu.cmdq', () => this.step());
  }

  /** Stops processing (CMDQEN cleared, reset). */
  stop(): void {
    this.pending?.cancel();
    this.pending = undefined;
  }

  private canRun(): boolean {
    return this.target.cmdqEnabled() && !this.target.cmdqErrorActive() && !this.isEmpty();
  }

  /** Consumes the command at CONS (4.1.2); one per scheduled step. */
  private step(): void {
    this.pending = undefined;
    const t = this.target;
    if (!t.cmdqEnabled() || t.cmdqErrorActive()) return;
    const prod = this.prod();
    const cons = this.cons();
    if (prod === cons) return;
    const wasFull = (prod ^ cons) === 1 << this.log2Size();
    const at = this.slotAddress(cons);
    if (!this.fetch(at)) {
      this.fail(CERROR_ABT);
      return;
    }
    const w = this.words;
    const op = w[0]! & 0xff;
    if (this.trace.on) this.trace.record(TraceKind.Command, this.initiator, 0xffffffff, -1, 0, at, CMD_BYTES, w[0]!, op, w[1]!);
    const err = this.execute(w, op);
    if (err !== CERROR_NONE) {
      this.fail(err);
      return;
    }
    this.consumed++;
    const next = this.next(cons);
    this.setPtr(this.regs.consName, next);
    if (wasFull) t.sendEvent();
    // the queue drained: nothing to schedule (kick would find it empty)
    if (this.prod() !== next) this.kick();
  }

  /** Reads the command at `at` into `words`; false on an abort. A command in RAM is two 64-bit loads. */
  private fetch(at: number): boolean {
    const bus = this.bus;
    if (!bus.isRam(at, CMD_BYTES)) return bus.readInto(at, this.bytes, 0, CMD_BYTES, this.initiator);
    const w = this.words;
    w[0] = bus.load(at, 8, this.initiator);
    w[1] = bus.hi;
    w[2] = bus.load(at + 8, 8, this.initiator);
    w[3] = bus.hi;
    return true;
  }

  private fail(code: number): void {
    const blk = this.regs.ptrBlock;
    const v = blk.getNum(this.regs.consName);
    blk.set(this.regs.consName, ((v & ~CMDQ_CONS_ERR_MASK) | (code << CMDQ_CONS_ERR_SHIFT)) >>> 0);
    this.target.raiseCmdqError();
  }

  /** Executes one command; returns a CERROR code (CERROR_NONE when consumed). */
  execute(w: Uint32Array, op: number): number {
    const t = this.target;
    const C = CMD;
    switch (op) {
      case CmdOp.PREFETCH_CONFIG:
      case CmdOp.PREFETCH_ADDR: {
        if (C.flag(w, F_SSec)) return CERROR_ILL;
        const sid = C.get(w, F_StreamID);
        const ssv = C.flag(w, F_SSV);
        const ssid = C.get(w, F_SubstreamID);
        if (op === CmdOp.PREFETCH_CONFIG) t.prefetchConfig(sid, ssv, ssid);
        else t.prefetchAddr(sid, ssv, ssid, commandVa(w), C.get(w, F_Size));
        return CERROR_NONE;
      }
      case CmdOp.CFGI_STE:
        if (C.flag(w, F_SSec)) return CERROR_ILL;
        t.configs.invalidateSte(C.get(w, F_StreamID));
        return CERROR_NONE;
      case CmdOp.CFGI_STE_RANGE:
        if (C.flag(w, F_SSec)) return CERROR_ILL;
        t.configs.invalidateSteRange(C.get(w, F_StreamID), C.get(w, F_Range));
        return CERROR_NONE;
      case CmdOp.CFGI_CD:
        if (C.flag(w, F_SSec)) return CERROR_ILL;
        t.configs.invalidateCd(C.get(w, F_StreamID), C.get(w, F_SubstreamID));
        return CERROR_NONE;
      case CmdOp.CFGI_CD_ALL:
        if (C.flag(w, F_SSec)) return CERROR_ILL;
        t.configs.invalidateCdAll(C.get(w, F_StreamID));
        return CERROR_NONE;
      case CmdOp.TLBI_NH_ALL:
        t.iotlb.invalidate(this.scope.reset(C.get(w, F_VMID)));
        return CERROR_NONE;
      case CmdOp.TLBI_NH_ASID: {
        const s = this.scope.reset(C.get(w, F_VMID));
        s.asid = C.get(w, F_ASID);
        t.iotlb.invalidate(s);
        return CERROR_NONE;
      }
      case CmdOp.TLBI_NH_VA:
      case CmdOp.TLBI_NH_VAA: {
        const s = this.scope.reset(C.get(w, F_VMID));
        if (op === CmdOp.TLBI_NH_VA) {
          s.asid = C.get(w, F_ASID);
          s.includeGlobal = true;
        }
        return this.invalidateRange(w, s, tlbiVa(w));
      }
      case CmdOp.TLBI_EL2_ALL:
        t.iotlb.invalidate(this.scope.reset(t.e2h() ? TAG_EL2_E2H : TAG_EL2));
        return CERROR_NONE;
      case CmdOp.TLBI_EL2_ASID: {
        // 4.4.2.10: non-global NS-EL2-E2H entries of the ASID, whatever CR2.E2H is now (the
        // scope is where entries were inserted; ones left from before an E2H change that
        // software did not invalidate, 6.3.12.3, go too). NS-EL2 entries carry no ASID and
        // are not required to be invalidated: they stay.
        const s = this.scope.reset(TAG_EL2_E2H);
        s.asid = C.get(w, F_ASID);
        t.iotlb.invalidate(s);
        return CERROR_NONE;
      }
      case CmdOp.TLBI_EL2_VA:
      case CmdOp.TLBI_EL2_VAA: {
        const s = this.scope.reset(t.e2h() ? TAG_EL2_E2H : TAG_EL2);
        if (op === CmdOp.TLBI_EL2_VA && t.e2h()) {
          s.asid = C.get(w, F_ASID);
          s.includeGlobal = true;
        }
        return this.invalidateRange(w, s, tlbiVa(w));
      }
      case CmdOp.TLBI_S12_VMALL: {
        const vmid = C.get(w, F_VMID);
        const s = this.scope.reset(vmid);
        s.s2Tag = TAG_S2 + vmid;
        t.iotlb.invalidate(s);
        return CERROR_NONE;
      }
      case CmdOp.TLBI_S2_IPA:
        return this.invalidateRange(w, this.scope.reset(TAG_S2 + C.get(w, F_VMID)), C.get(w, F_Address));
      case CmdOp.TLBI_NSNH_ALL:
        t.iotlb.invalidate(this.scope.reset(-1));
        return CERROR_NONE;
      case CmdOp.PRI_RESP: {
        const resp = C.get(w, F_Resp);
        if (resp === 3) return CERROR_ILL; // 4.5.2: Reserved, ILLEGAL
        if (t.smmuEnabled()) t.priResponse(C.get(w, F_StreamID), C.flag(w, F_SSV), C.get(w, F_SubstreamID), C.get(w, F_PRGIndex), resp);
        return CERROR_NONE;
      }
      case CmdOp.RESUME:
        if (C.flag(w, F_SSec)) return CERROR_ILL;
        t.resume(C.get(w, F_StreamID), C.get(w, F_STAG), C.flag(w, F_Ac));
        return CERROR_NONE;
      case CmdOp.STALL_TERM:
        if (C.flag(w, F_SSec)) return CERROR_ILL;
        t.stallTerm(C.get(w, F_StreamID));
        return CERROR_NONE;
      case CmdOp.SYNC: {
        const cs = C.get(w, F_CS);
        if (cs === 3) return CERROR_ILL; // Reserved
        t.syncSignal(cs, C.get(w, F_MSIAddress), C.get(w, F_MSIData));
        return CERROR_NONE;
      }
      // ATC_INV: ILLEGAL when SMMU_IDR0.ATS == 0 (4.5.1). EL3 TLBIs: Secure queue only (4.4.2).
      // CFGI_VMS_PIDM: no VMS/MPAM. Everything else is a Reserved opcode.
      default:
        return CERROR_ILL;
    }
  }

  /**
   * The address part of TLBI_*_VA/VAA/S2_IPA (4.4.1.1): one address when TG == 0,
   * else the range (NUM+1) * 2^SCALE granules from Address, with the TTL level hint.
   */
  private invalidateRange(w: Uint32Array, s: TlbiScope, addr: number): number {
    const C = CMD;
    const tg = C.get(w, F_TG);
    if (tg === 0) {
      s.start = addr;
      s.end = addr + 1;
    } else {
      const num = C.get(w, F_NUM);
      const scale = C.get(w, F_SCALE);
      const ttl = C.get(w, F_TTL);
      if (num === 0 && scale === 0 && ttl === 0) return CERROR_ILL; // Reserved combination
      if (tg === 2 && ttl === 1) return CERROR_ILL; // 16K level 1 needs SMMU_IDR5.DS
      const g = tg === 1 ? 12 : tg === 2 ? 14 : 16;
      s.start = addr;
      s.end = addr + (num + 1) * 2 ** scale * 2 ** g;
      if (ttl !== 0) {
        s.ttlLevel = ttl;
        s.granuleShift = g;
      }
    }
    this.target.iotlb.invalidate(s);
    return CERROR_NONE;
  }
}
