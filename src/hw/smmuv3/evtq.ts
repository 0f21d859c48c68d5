// Event records (IHI 0070 7.3) and the Event queue (7.2, 7.4): the event numbers, the
// 32-byte record layout, and the record an SMMU fault or configuration error fills.

import { dw, dwAddr, StructLayout } from '../regs/struct-layout.js';

export const EVT_BYTES = 32;

/** Event numbers (7.3). */
export const enum EventId {
  F_UUT = 0x01,
  C_BAD_STREAMID = 0x02,
  F_STE_FETCH = 0x03,
  C_BAD_STE = 0x04,
  F_BAD_ATS_TREQ = 0x05,
  F_STREAM_DISABLED = 0x06,
  F_TRANSL_FORBIDDEN = 0x07,
  C_BAD_SUBSTREAMID = 0x08,
  F_CD_FETCH = 0x09,
  C_BAD_CD = 0x0a,
  F_WALK_EABT = 0x0b,
  F_TRANSLATION = 0x10,
  F_ADDR_SIZE = 0x11,
  F_ACCESS = 0x12,
  F_PERMISSION = 0x13,
  F_TLB_CONFLICT = 0x20,
  F_CFG_CONFLICT = 0x21,
  E_PAGE_REQUEST = 0x24,
  F_VMS_FETCH = 0x25,
}

/*
 * Events this implementation never records, and why (IHI 0070 7.3):
 * - F_UUT (7.3.2, 16.7.1): an upstream transaction the SMMU does not support, from an
 *   IMPLEMENTATION DEFINED set that depends on the interconnect (far atomics, or a
 *   transaction crossing a 4KB boundary on AMBA). The bus here carries plain reads and
 *   writes with SubstreamID, PnU and InD, all supported, and a DMA port issues one
 *   transaction per translation (it splits runs where a translation ends). A write
 *   marked as an instruction is not unsupported: it is taken as a data write (13.1.1).
 *   No atomics, CMOs, DVM operations or barriers reach the SMMU.
 * - F_BAD_ATS_TREQ (7.3.6), F_TRANSL_FORBIDDEN (7.3.8): answers to ATS Translation
 *   Requests and to Translated transactions. IDR0.ATS == 0 and no function has ATS, so
 *   neither arrives (CMD_ATC_INV is CERROR_ILL for the same reason).
 * - F_TLB_CONFLICT (7.3.17): a multiple match in a TLB, IMPLEMENTATION DEFINED by its
 *   geometry. The IOTLB is direct-mapped, one entry per slot: a fill replaces what the
 *   slot held, so a lookup never matches two entries.
 * - F_CFG_CONFLICT (7.3.18): a multiple match in the configuration cache through the
 *   STE.CONT hint. The cache ignores CONT and holds STEs by exact StreamID, so no two
 *   entries overlap (no CD can cause it, 7.3.18).
 * - E_PAGE_REQUEST (7.3.19): a speculative page-request hint sent by a client through
 *   its interconnect; nothing on this bus carries one (PCIe functions use PRI, chapter 8).
 * - F_VMS_FETCH (7.3.20): an abort fetching a Virtual Machine Structure. No VMS feature
 *   (MPAM) is implemented, so no VMS is ever fetched.
 */

export const EVENT_NAMES: Readonly<Record<number, string>> = {
  0x01: 'F_UUT',
  0x02: 'C_BAD_STREAMID',
  0x03: 'F_STE_FETCH',
  0x04: 'C_BAD_STE',
  0x05: 'F_BAD_ATS_TREQ',
  0x06: 'F_STREAM_DISABLED',
  0x07: 'F_TRANSL_FORBIDDEN',
  0x08: 'C_BAD_SUBSTREAMID',
  0x09: 'F_CD_FETCH',
  0x0a: 'C_BAD_CD',
  0x0b: 'F_WALK_EABT',
  0x10: 'F_TRANSLATION',
  0x11: 'F_ADDR_SIZE',
  0x12: 'F_ACCESS',
  0x13: 'F_PERMISSION',
  0x20: 'F_TLB_CONFLICT',
  0x21: 'F_CFG_CONFLICT',
  0x24: 'E_PAGE_REQUEST',
  0x25: 'F_VMS_FETCH',
};

/** The four translation-related faults that CD.{A,R,S} / STE.{S2R,S2S} govern (5.5). */
export function isTranslationFault(id: number): boolean {
  return id >= EventId.F_TRANSLATION && id <= EventId.F_PERMISSION;
}

/** CLASS (7.3): which operation faulted. */
export const enum FaultClass {
  CD = 0,
  TT = 1,
  IN = 2,
}

/**
 * The union of the event record layouts of 7.3. InputAddr[63:0] is split in two fields
 * (a field holds at most 53 bits): [51:0] and InputAddrTop [63:52], bits a TTB1-range or
 * tagged address has set. IPA [51:12] and FetchAddr [51:3] share dword 3 (an event has
 * one or the other).
 */
export const EVT = new StructLayout('EVT', EVT_BYTES, {
  EventID: dw(0, 7, 0),
  SSV: dw(0, 11),
  SubstreamID: dw(0, 31, 12),
  StreamID: dw(0, 63, 32),
  STAG: dw(1, 15, 0),
  Stall: dw(1, 31),
  PnU: dw(1, 33),
  InD: dw(1, 34),
  RnW: dw(1, 35),
  S2: dw(1, 39),
  CLASS: dw(1, 41, 40),
  TTRnW: dw(1, 44),
  InputAddr: dw(2, 51, 0),
  InputAddrTop: dw(2, 63, 52),
  IPA: dwAddr(3, 51, 12),
  FetchAddr: dwAddr(3, 51, 3),
}, { union: true });

/** One event being recorded: a reused object filled by the translation path. */
export class EventRecord {
  id = 0;
  sid = 0;
  ssv = false;
  ssid = 0;
  stall = false;
  stag = 0;
  priv = false;
  exec = false;
  write = false;
  s2 = false;
  cls: FaultClass = FaultClass.IN;
  /**
   * The input address as the transaction presented it (7.3: recorded unmodified, TBI
   * does not apply): a Number below 2^64, or negative for an address with bit 63 set.
   */
  inputAddr = 0;
  /** IPA for stage 2 faults, -1 when none. */
  ipa = -1;
  /** Fetch address for F_STE_FETCH / F_CD_FETCH / F_WALK_EABT, -1 when none. */
  fetchAddr = -1;

  reset(id: number, sid: number, ssv: boolean, ssid: number): this {
    this.id = id;
    this.sid = sid;
    this.ssv = ssv;
    this.ssid = ssv ? ssid : 0;
    this.stall = false;
    this.stag = 0;
    this.priv = false;
    this.exec = false;
    this.write = false;
    this.s2 = false;
    this.cls = FaultClass.IN;
    this.inputAddr = 0;
    this.ipa = -1;
    this.fetchAddr = -1;
    return this;
  }

  copyFrom(o: EventRecord): this {
    this.id = o.id;
    this.sid = o.sid;
    this.ssv = o.ssv;
    this.ssid = o.ssid;
    this.stall = o.stall;
    this.stag = o.stag;
    this.priv = o.priv;
    this.exec = o.exec;
    this.write = o.write;
    this.s2 = o.s2;
    this.cls = o.cls;
    this.inputAddr = o.inputAddr;
    this.ipa = o.ipa;
    this.fetchAddr = o.fetchAddr;
    return this;
  }

  /** Encodes the 32-byte record into `words` (8 words, zeroed first). */
  encode(words: Uint32Array): Uint32Array {
    words.fill(0);
    const L = EVT;
    L.set(words, L.f.EventID, this.id);
    L.set(words, L.f.StreamID, this.sid >>> 0);
    if (this.ssv) {
      L.set(words, L.f.SSV, 1);
      L.set(words, L.f.SubstreamID, this.ssid);
    }
    if (this.id >= EventId.F_WALK_EABT && this.id <= EventId.F_PERMISSION) {
      L.set(words, L.f.STAG, this.stag);
      L.set(words, L.f.Stall, this.stall);
      L.set(words, L.f.PnU, this.priv);
      L.set(words, L.f.InD, this.exec && !this.write); // InD == 0 when RnW == 0
      L.set(words, L.f.RnW, !this.write);
      L.set(words, L.f.S2, this.s2);
      L.set(words, L.f.CLASS, this.cls);
      if (this.cls === FaultClass.TT) L.set(words, L.f.TTRnW, 1);
      // InputAddr[63:0], two's complement for a negative (bit 63 set) address.
      words[4] = this.inputAddr >>> 0;
      words[5] = Math.floor(this.inputAddr / 4294967296) >>> 0;
    }
    // Configuration events (C_BAD_*, F_STREAM_DISABLED, F_*_FETCH) carry the stream only.
    if (this.fetchAddr >= 0) L.set(words, L.f.FetchAddr, this.fetchAddr);
    else if (this.ipa >= 0 && this.s2) L.set(words, L.f.IPA, this.ipa);
    return words;
  }
}
