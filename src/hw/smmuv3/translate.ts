// The translation procedure of IHI 0070 3.3: configuration lookup (STE, then CD,
// with the SubstreamID rules of 5.2 S1DSS/S1CDMax), stage 1 and stage 2 walks through
// the shared VMSA walker (nested: CD and stage 1 table addresses are IPAs translated by
// stage 2), permission checks, and the IOTLB fill. A failure leaves the event to record
// in `ev` and which fault controls (stage 1 CD.R/S, stage 2 STE.S2R/S2S, or none) apply.

import type { PhysicalBus } from '../bus/bus.js';
import { TraceKind } from '../../trace/record.js';
import type { TraceRing } from '../../trace/ring.js';
import { WalkFault, WalkResult, type AccessKind, type DescriptorReader, type NestedStage2 } from '../vmsa/types.js';
import { checkPermission, S1RamWalk, walk } from '../vmsa/walker.js';
import { isSignExtended, signedVa, vaRegion, withoutTopByte } from '../vmsa/va.js';
import { CD_L2_SPLIT, decodeCd } from './cd.js';
import { ConfigCache, ContextMode, NO_SSID_KEY, StreamContext } from './config-cache.js';
import { EventId, EventRecord, FaultClass } from './evtq.js';
import { accessIndex, contextHash, Iotlb, TAG_EL2, TAG_EL2_E2H, TAG_S2 } from './iotlb.js';
import { SMMU_FEATURES } from './registers.js';
import { decodeSte, S1DSS_BYPASS, S1DSS_SSID0, S1FMT_LINEAR, STE_CFG_ABORT, StreamWorld } from './ste.js';
import { SteLookup, StreamTable } from './strtab.js';

/** Which fault controls govern a failure (IHI 0070 5.5). */
export const enum FaultStage {
  /** Configuration error or external abort: always recorded, always terminates. */
  None = 0,
  /** Stage 1 translation-related fault: CD.R / CD.S. */
  S1 = 1,
  /** Stage 2 translation-related fault: STE.S2R / STE.S2S. */
  S2 = 2,
}

/** IAS == OAS here (3.4: AArch64 tables only). */
export const IAS_LIMIT = 2 ** SMMU_FEATURES.oasBits;
const TWO32 = 4294967296;
/** 2^n for a leaf's sizeShift (no Math.pow on the miss path). */
const POW2 = new Float64Array(64).map((_, i) => 2 ** i);

function faultEvent(f: WalkFault): number {
  switch (f) {
    case WalkFault.AddressSize:
      return EventId.F_ADDR_SIZE;
    case WalkFault.AccessFlag:
      return EventId.F_ACCESS;
    case WalkFault.Permission:
      return EventId.F_PERMISSION;
    case WalkFault.ExternalAbort:
      return EventId.F_WALK_EABT;
    default:
      return EventId.F_TRANSLATION;
  }
}

/** Stage 1 permission-mask rows (see S1_ACCESS): the context's part of the row. */
const S1_ROW_WXN = 16;
const S1_ROW_PAN = 32;
const S1_ROW_EL2 = 64;

/**
 * Allowed access kinds of a stage 1 leaf as an 8-bit mask indexed by `accessIndex`, one
 * row per AP[2:1] | UXN << 2 | PXN << 3 | WXN << 4 | PAN << 5 | EL2 << 6. Built once from
 * checkPermission, except the EL2 StreamWorld rows (see el2Access). The SMMU takes every
 * write as a data access (13.1.1: the instruction marking of a write is dropped on
 * input), so the bit of a write marked as an instruction is the data write's.
 */
const S1_ACCESS = new Uint8Array(128);
/** The same for a stage 2 leaf, by row S2AP | XN[1:0] << 2. */
const S2_ACCESS = new Uint8Array(16);
{
  const leaf = new WalkResult();
  const kind = (i: number): AccessKind => {
    const write = (i & 1) !== 0;
    return { write, exec: !write && (i & 2) !== 0, priv: (i & 4) !== 0 };
  };
  for (let row = 0; row < 128; row++) {
    leaf.stage = 1;
    leaf.ap = row & 3;
    leaf.uxn = (row & 4) !== 0;
    leaf.pxn = (row & 8) !== 0;
    const opts = { wxn: (row & S1_ROW_WXN) !== 0, pan: (row & S1_ROW_PAN) !== 0 };
    if ((row & S1_ROW_EL2) !== 0) {
      S1_ACCESS[row] = el2Access(leaf.ap, leaf.uxn, opts.wxn);
      continue;
    }
    let m = 0;
    for (let i = 0; i < 8; i++) if (checkPermission(leaf, kind(i), opts)) m |= 1 << i;
    S1_ACCESS[row] = m;
  }
  for (let row = 0; row < 16; row++) {
    leaf.stage = 2;
    leaf.s2ap = row & 3;
    leaf.s2xn = row >>> 2;
    let m = 0;
    for (let i = 0; i < 8; i++) if (checkPermission(leaf, kind(i))) m |= 1 << i;
    S2_ACCESS[row] = m;
  }
}

/**
 * The EL2 regime without E2H (the STRW = EL2 StreamWorld, 5.2; DDI 0487 D8.4): one
 * privilege level, so every access is checked as an EL2 one whatever its PnU; AP[2]
 * alone decides writes (AP[1] is RES1 and gives no EL0 access, so it does not make the
 * page privileged-execute-never) and the one execute-never bit is XN, at the UXN
 * position (bit 54; bit 53 is RES0). WXN still makes writable memory execute-never.
 */
function el2Access(ap: number, xn: boolean, wxn: boolean): number {
  const writable = (ap & 2) === 0;
  const exec = !xn && !(wxn && writable);
  let m = 0;
  for (let i = 0; i < 8; i++) {
    const write = (i & 1) !== 0;
    const ex = !write && (i & 2) !== 0;
    if (write ? writable : ex ? exec : true) m |= 1 << i;
  }
  return m;
}

function s1Access(ctx: StreamContext, res: WalkResult): number {
  return S1_ACCESS[ctx.permKey | res.ap | (res.uxn ? 4 : 0) | (res.pxn ? 8 : 0)]!;
}

function s2Access(res: WalkResult): number {
  return S2_ACCESS[res.s2ap | (res.s2xn << 2)]!;
}

export class Translator implements DescriptorReader, NestedStage2 {
  // DescriptorReader
  hi = 0;
  error = false;
  /** The failure to record (valid after resolve/translate returned false/undefined). */
  readonly ev = new EventRecord();
  faultStage: FaultStage = FaultStage.None;
  /** The STE of the failing transaction when known (for S2R/S2S on a CD fetch fault). */
  faultCtx: StreamContext | undefined;
  /** CR2.E2H, sampled when a context is built. */
  e2h = false;
  /** Output of a successful translate. */
  pa = 0;
  span = 0;
  /** Descriptor reads by the last miss (cost accounting by the caller). */
  walkReads = 0;
  /** IOTLB slot of the entry the last successful translate used or filled (its final translation). */
  slot = -1;
  /**
   * One-pass RAM walks for stage-1-only contexts built from now on; false sends every
   * miss through the general walk (the differential test compares the two).
   */
  ramWalks = true;

  private readonly s1 = new WalkResult();
  private readonly s2 = new WalkResult();
  private readonly s2t = new WalkResult();
  private readonly steBytes = new Uint8Array(64);
  private readonly steWords = new Uint32Array(this.steBytes.buffer);
  private readonly cdBytes = new Uint8Array(64);
  private readonly cdWords = new Uint32Array(this.cdBytes.buffer);
  /** Context of the walk in progress (nested table-address translation needs its stage 2). */
  private cur: StreamContext | undefined;
  /** S2 result of the last `s2Translate` (its level/size for the IOTLB). */
  private s2Size = 0;
  private s2Perm = 0;
  private s2Attr = 0;

  constructor(
    private readonly bus: PhysicalBus,
    private readonly initiator: number,
    private readonly trace: TraceRing,
    private readonly strtab: StreamTable,
    readonly configs: ConfigCache,
    readonly iotlb: Iotlb,
  ) {}

  readDescriptor(pa: number): number {
    const lo = this.bus.load(pa, 8, this.initiator);
    this.hi = this.bus.hi;
    this.error = this.bus.error;
    return lo;
  }

  // ---- configuration (IHI 0070 3.3.2 - 3.3.3) ----

  /**
   * The context of (sid, SubstreamID): from the cache, or fetched and decoded. Returns
   * undefined on a configuration error or fault (see `ev`, `faultStage`).
   */
  resolve(sid: number, ssv: boolean, ssid: number): StreamContext | undefined {
    const key = ssv ? ssid : NO_SSID_KEY;
    const hit = this.configs.lookup(sid, key);
    if (hit !== undefined) return hit;
    this.faultStage = FaultStage.None;
    this.faultCtx = undefined;
    const ev = this.ev.reset(0, sid, ssv, ssid);

    let ste = this.configs.cachedSte(sid);
    if (ste === undefined) {
      const r = this.strtab.fetch(sid, this.steBytes);
      if (this.trace.on) this.trace.record(TraceKind.ConfigFetch, this.initiator, sid, ssv ? ssid : -1, 0, this.strtab.address, 64, r, 0);
      if (r === SteLookup.BadStreamId) {
        ev.id = EventId.C_BAD_STREAMID;
        return undefined;
      }
      if (r === SteLookup.FetchAbort) {
        ev.id = EventId.F_STE_FETCH;
        ev.fetchAddr = this.strtab.address;
        return undefined;
      }
      const slot = this.configs.steSlot(sid);
      if (decodeSte(this.steWords, slot) === undefined) {
        this.configs.dropSte(sid);
        ev.id = EventId.C_BAD_STE;
        return undefined;
      }
      ste = slot;
    }

    const ctx = new StreamContext();
    ctx.sid = sid;
    ctx.ssidKey = key;
    ctx.ste = ste;
    ctx.s2Walk = ste.s2Walk;
    ctx.privOverride = ste.privOverride;
    ctx.instOverride = ste.instOverride;
    ctx.s2Record = ste.s2R;
    ctx.s2Stall = ste.s2S;
    ctx.world = !ste.s1 || ste.s2 || ste.strw === 0 ? StreamWorld.NsEl1 : this.e2h ? StreamWorld.El2E2H : StreamWorld.El2;
    this.faultCtx = ctx;

    if (ste.config === STE_CFG_ABORT) {
      ctx.mode = ContextMode.Abort;
      return this.finish(ctx);
    }
    if (!ste.s1) {
      // 5.2 S1CDMax: a SubstreamID with stage 1 disabled is C_BAD_SUBSTREAMID.
      if (ssv) return this.configError(EventId.C_BAD_SUBSTREAMID);
      ctx.mode = ste.s2 ? ContextMode.S2 : ContextMode.Bypass;
      return this.finish(ctx);
    }
    let index: number;
    if (ssv) {
      if (ste.s1CdMax === 0 || ssid >= 2 ** ste.s1CdMax) return this.configError(EventId.C_BAD_SUBSTREAMID);
      if (ste.s1Dss === S1DSS_SSID0 && ssid === 0) return this.configError(EventId.F_STREAM_DISABLED);
      index = ssid;
    } else if (ste.s1CdMax === 0 || ste.s1Dss === S1DSS_SSID0) {
      index = 0;
    } else if (ste.s1Dss === S1DSS_BYPASS) {
      ctx.mode = ste.s2 ? ContextMode.S2 : ContextMode.Bypass;
      return this.finish(ctx);
    } else {
      return this.configError(EventId.F_STREAM_DISABLED);
    }
    ctx.mode = ste.s2 ? ContextMode.Nested : ContextMode.S1;
    if (!this.fetchCd(ctx, index)) return undefined;
    if (decodeCd(this.cdWords, ste, ctx.world, ctx.cd) === undefined) return this.configError(EventId.C_BAD_CD);
    const cd = ctx.cd;
    ctx.cdIndex = index;
    ctx.s1Walk = cd.walk;
    ctx.s1Walk1 = cd.walk1;
    cd.walk.s2 = cd.walk1.s2 = ctx.mode === ContextMode.Nested ? this : undefined;
    ctx.permKey = (cd.wxn ? S1_ROW_WXN : 0) | (cd.pan ? S1_ROW_PAN : 0) | (ctx.world === StreamWorld.El2 ? S1_ROW_EL2 : 0);
    ctx.s1Stall = cd.stall;
    ctx.s1Record = cd.record || cd.stall;
    if (ctx.mode === ContextMode.S1) this.setUpRamWalks(ctx);
    return this.finish(ctx);
  }

  /** The one-pass RAM walks of a stage-1-only context: 4 KiB granule ranges that are not disabled. */
  private setUpRamWalks(ctx: StreamContext): void {
    const ram = this.bus.ram;
    const cd = ctx.cd;
    if (!this.ramWalks || ram.directBasePage < 0) return;
    if (!cd.epd0 && cd.walk.granuleShift === 12) {
      ctx.fast0 = new S1RamWalk(ram, false); // no walk cache: CMD_TLBI_* reach the IOTLB only
      ctx.fast0.configure(cd.walk);
      ctx.fastSpan0 = cd.span0;
    }
    if (!cd.epd1 && cd.walk1.granuleShift === 12) {
      ctx.fast1 = new S1RamWalk(ram, false);
      ctx.fast1.configure(cd.walk1);
      ctx.fastSpan1 = cd.span1;
    }
  }

  private configError(id: number): undefined {
    this.ev.id = id;
    this.faultStage = FaultStage.None;
    return undefined;
  }

  private finish(ctx: StreamContext): StreamContext {
    const ste = ctx.ste;
    if (ctx.mode === ContextMode.S2) {
      ctx.tag = TAG_S2 + ste.vmid;
      ctx.asid = -1;
    } else if (ctx.world === StreamWorld.El2) {
      ctx.tag = TAG_EL2;
      ctx.asid = -1;
    } else {
      ctx.tag = ctx.world === StreamWorld.El2E2H ? TAG_EL2_E2H : ste.vmid;
      ctx.asid = ctx.mode === ContextMode.S1 || ctx.mode === ContextMode.Nested ? ctx.cd.asid : -1;
    }
    ctx.hash = contextHash(ctx.tag, ctx.asid);
    this.configs.insert(ctx);
    return ctx;
  }

  /** Reads CD `index` of the context's STE into cdWords (5.3, 5.4; nested: through stage 2). */
  private fetchCd(ctx: StreamContext, index: number): boolean {
    const ste = ctx.ste;
    const nested = ste.s2;
    let addr = ste.s1ContextPtr;
    if (ste.s1Fmt !== S1FMT_LINEAR) {
      const split = CD_L2_SPLIT[ste.s1Fmt] ?? 6;
      const l1Ipa = addr + Math.floor(index / 2 ** split) * 8;
      const l1 = nested ? this.s2TranslateFetch(ctx, l1Ipa) : l1Ipa;
      if (l1 < 0) return false;
      const lo = this.bus.load(l1, 8, this.initiator);
      if (this.bus.error) return this.cdFetchAbort(l1);
      if ((lo & 1) === 0) {
        this.configError(EventId.C_BAD_SUBSTREAMID); // 5.3.1: L1CD.V == 0
        return false;
      }
      const l2 = (this.bus.hi & 0xffffff) * TWO32 + ((lo & ~0xfff) >>> 0); // L2Ptr [55:12]
      addr = l2 + (index % 2 ** split) * 64;
    } else {
      addr += index * 64;
    }
    const pa = nested ? this.s2TranslateFetch(ctx, addr) : addr;
    if (pa < 0) return false;
    const ok = this.bus.readInto(pa, this.cdBytes, 0, 64, this.initiator);
    if (this.trace.on) this.trace.record(TraceKind.ConfigFetch, this.initiator, ctx.sid, ctx.ssidKey === NO_SSID_KEY ? -1 : ctx.ssidKey, addr, pa, 64, ok ? 0 : 1, 1);
    if (!ok) return this.cdFetchAbort(pa);
    return true;
  }

  private cdFetchAbort(pa: number): false {
    this.ev.id = EventId.F_CD_FETCH;
    this.ev.fetchAddr = pa;
    this.faultStage = FaultStage.None;
    return false;
  }

  /** Stage 2 translation of a CD/L1CD IPA for a read (CLASS = CD). Returns PA or -1. */
  private s2TranslateFetch(ctx: StreamContext, ipa: number): number {
    if (this.s2Translate(ctx, ipa, 0, this.s2)) return this.pa;
    this.s2FaultEvent(this.s2, ipa, FaultClass.CD);
    return -1;
  }

  // ---- translation (3.3.4 onwards) ----

  /**
   * The VA that stage 1 of `ctx` translates for input address `iova` (3.4.1), as a signed
   * Number (negative: VA[55] set, the TTB1 range): an input given as an unsigned 64-bit
   * value is taken modulo 2^64, and when TBI applies to the range VA[55] selects, VA[63:56]
   * become copies of VA[55]. An address in neither range comes back outside
   * [-2^55, 2^55) and `translate` faults it. Exact while the address is a multiple of its
   * ulp (always for sign-extended addresses; a tagged one keeps its bits from 2^11 up).
   */
  stage1Va(ctx: StreamContext, iova: number): number {
    const va = signedVa(iova);
    if (isSignExtended(va)) return va;
    return (vaRegion(va) ? ctx.cd.tbi1 : ctx.cd.tbi0) ? withoutTopByte(va) : va;
  }

  /**
   * Translates `va` for `ctx` after an IOTLB miss (`va` from `stage1Va` for a context with
   * stage 1, the input address otherwise), fills the IOTLB and `pa`/`span`/`slot`. Returns
   * false on a fault (see `ev` and `faultStage`). `exec` is false for writes (13.1.1).
   */
  translate(ctx: StreamContext, va: number, write: boolean, exec: boolean, priv: boolean): boolean {
    const acc = accessIndex(write, exec, priv);
    if (ctx.mode === ContextMode.S1) {
      // The common miss in one pass: a 4 KiB walk over tables in RAM to a leaf that allows
      // the access. Anything else (fault, tables elsewhere) takes the general walk below,
      // which repeats it with every check and record.
      const s1 = this.s1;
      if (va >= 0 ? va < ctx.fastSpan0 && ctx.fast0!.walk(va, s1) : va >= -ctx.fastSpan1 && ctx.fast1!.walk(va + ctx.fastSpan1, s1)) {
        const perm = s1Access(ctx, s1);
        if (((perm >>> acc) & 1) !== 0) {
          this.walkReads = s1.reads;
          if (this.trace.on) this.traceWalk(ctx, va, s1, 1);
          this.fill(ctx, va, s1, perm, s1.pa, POW2[s1.sizeShift]!);
          return true;
        }
      }
    }
    return this.translateWalk(ctx, va, acc, write, exec, priv);
  }

  private translateWalk(ctx: StreamContext, va: number, acc: number, write: boolean, exec: boolean, priv: boolean): boolean {
    this.walkReads = 0;
    this.faultCtx = ctx;
    const ev = this.ev.reset(0, ctx.sid, ctx.ssidKey !== NO_SSID_KEY, ctx.ssidKey);
    ev.priv = priv;
    ev.exec = exec;
    ev.write = write;
    ev.inputAddr = va;

    if (ctx.mode === ContextMode.S2) {
      // Stage 1 bypassed: an input beyond the IAS is a stage 1 Address Size fault (3.4).
      if (!(va >= 0 && va < IAS_LIMIT)) return this.fail(EventId.F_ADDR_SIZE, FaultStage.None, FaultClass.IN);
      if (!this.s2Translate(ctx, va, acc, this.s2)) {
        this.s2FaultEvent(this.s2, va, FaultClass.IN);
        return false;
      }
      this.span = this.s2Size - offsetIn(va, this.s2Size);
      return true;
    }

    const s1 = this.s1;
    const cd = ctx.cd;
    // 3.4.1: VA[55] selects TTB0 or TTB1 (stage1Va made VA[63:56] copies of it when TBI applies).
    const upper = va < 0;
    if (upper ? cd.epd1 : cd.epd0) {
      // 5.4 EPDx: translation through that TTB is disabled; the whole range faults.
      s1.clear();
      s1.fault = WalkFault.Translation;
    } else {
      this.cur = ctx;
      // An input outside the range (the hole between the ranges, or bits above VA[55]
      // that are not its copies) is a translation fault of the walk (3.4.1).
      if (upper) walk(this, ctx.s1Walk1, va + cd.span1, s1, this.bus.ram);
      else walk(this, ctx.s1Walk, va, s1, this.bus.ram); // RAM-resident tables read in place (not when nested)
      this.cur = undefined;
      this.walkReads += s1.reads;
      if (this.trace.on) this.traceWalk(ctx, va, s1, 1);
    }
    if (s1.fault !== WalkFault.None) {
      if (s1.s2Fault) return false; // event already filled by translateTableAddress
      if (s1.fault === WalkFault.ExternalAbort) {
        ev.fetchAddr = s1.descriptorPa;
        return this.fail(EventId.F_WALK_EABT, FaultStage.None, FaultClass.TT);
      }
      return this.fail(faultEvent(s1.fault), FaultStage.S1, FaultClass.IN);
    }
    let perm = s1Access(ctx, s1);
    if (((perm >>> acc) & 1) === 0) return this.fail(EventId.F_PERMISSION, FaultStage.S1, FaultClass.IN);
    let size = POW2[s1.sizeShift]!;
    let pa = s1.pa;
    if (ctx.mode === ContextMode.Nested) {
      const ipa = s1.pa;
      if (!this.s2Translate(ctx, ipa, acc, this.s2)) {
        this.s2FaultEvent(this.s2, ipa, FaultClass.IN);
        return false;
      }
      pa = this.pa;
      perm &= this.s2Perm;
      if (this.s2Size < size) size = this.s2Size;
    }
    this.fill(ctx, va, s1, perm, pa, size);
    return true;
  }

  /** The IOTLB fill of a stage 1 (or nested) translation of `va` to `pa` by a leaf of `size` bytes. */
  private fill(ctx: StreamContext, va: number, s1: WalkResult, perm: number, pa: number, size: number): void {
    const off = offsetIn(va, size);
    this.pa = pa;
    this.span = size - off;
    this.slot = this.iotlb.insert(va, ctx.hash, ctx.tag, ctx.asid, !s1.ng, va - off, size, pa - off, perm, s1.level, va < 0 ? ctx.s1Walk1.granuleShift : ctx.s1Walk.granuleShift);
  }

  private traceWalk(ctx: StreamContext, va: number, res: WalkResult, stage: number): void {
    this.trace.record(TraceKind.Walk, this.initiator, ctx.sid, ctx.ssidKey === NO_SSID_KEY ? -1 : ctx.ssidKey, va, res.pa, res.reads, res.descriptorPa, (stage << 16) | (res.fault << 8) | res.level);
  }

  private fail(id: number, stage: FaultStage, cls: FaultClass): false {
    this.ev.id = id;
    this.ev.cls = cls;
    this.faultStage = stage;
    return false;
  }

  private s2FaultEvent(res: WalkResult, ipa: number, cls: FaultClass): void {
    const ev = this.ev;
    ev.id = faultEvent(res.fault);
    ev.s2 = true;
    ev.cls = cls;
    ev.ipa = ipa;
    if (res.fault === WalkFault.ExternalAbort) {
      ev.fetchAddr = res.descriptorPa;
      this.faultStage = FaultStage.None;
    } else {
      this.faultStage = FaultStage.S2;
    }
  }

  /**
   * Stage 2 for `ipa` with access kind `acc`: IOTLB (stage-2 entries of the VMID) or a
   * walk. Sets `pa`, `s2Size`, `s2Perm`; on failure `res.fault` says why.
   */
  private s2Translate(ctx: StreamContext, ipa: number, acc: number, res: WalkResult): boolean {
    const tlb = this.iotlb;
    const tag = TAG_S2 + ctx.ste.vmid;
    const hash = contextHash(tag, -1);
    const i = tlb.lookup(ipa, tag, -1, hash);
    if (i >= 0 && ((tlb.perm[i]! >>> acc) & 1) !== 0) {
      const d = ipa - tlb.vaBase[i]!;
      this.slot = i;
      this.s2Attr = tlb.attr[i]!;
      this.pa = tlb.paBase[i]! + d;
      this.s2Size = tlb.size[i]!;
      this.s2Perm = tlb.perm[i]!;
      return true;
    }
    const w = ctx.s2Walk;
    walk(this, w, ipa, res, this.bus.ram);
    this.walkReads += res.reads;
    if (this.trace.on) this.traceWalk(ctx, ipa, res, 2);
    if (res.fault !== WalkFault.None) return false;
    const perm = s2Access(res);
    if (((perm >>> acc) & 1) === 0) {
      res.fault = WalkFault.Permission;
      return false;
    }
    const size = POW2[res.sizeShift]!;
    const off = offsetIn(ipa, size);
    this.pa = res.pa;
    this.s2Size = size;
    this.s2Perm = perm;
    this.s2Attr = res.attrIndx;
    this.slot = tlb.insert(ipa, hash, tag, -1, false, ipa - off, size, res.pa - off, perm, res.level, w.granuleShift, res.attrIndx);
    return true;
  }

  /**
   * NestedStage2: a stage 1 table address (IPA) through stage 2 for a read (CLASS = TT).
   * STE.S2PTW: a stage 1 walk that lands on Device memory at stage 2 is a stage 2
   * permission fault.
   */
  translateTableAddress(ipa: number, out: WalkResult): number {
    const ctx = this.cur;
    if (ctx === undefined) return -1;
    const res = this.s2t;
    if (this.s2Translate(ctx, ipa, 0, res)) {
      // Stage 2 MemAttr[3:2] == 0b00 is Device memory.
      if (!ctx.ste.s2Ptw || (this.s2Attr & 0xc) !== 0) return this.pa;
      res.clear();
      res.fault = WalkFault.Permission;
    }
    this.s2FaultEvent(res, ipa, FaultClass.TT);
    out.fault = res.fault;
    out.s2FaultIpa = ipa;
    return -1;
  }

}

/**
 * `addr % size` for the size of a page or block: a power of two of at most 2^30 (D8.3.1:
 * the largest block is 1 GiB), so the offset is in the low 32 bits of `addr` (also for a
 * negative, TTB1-range address, taken modulo 2^32).
 */
function offsetIn(addr: number, size: number): number {
  return (addr >>> 0) & (size - 1);
}
