// Event records (IHI 0070 7.3) and the Event queue (7.2, 7.4): the event numbers, the
// 32-byte record layout, and the record an SMMU fault or configuration error fills.

import { dw, StructLayout } from './struct-layout.js';

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
 * The union of the event record layouts of 7.3. Addresses are at most 52 bits in this
 * model, so InputAddr is declared [51:0]; IPA [51:12] and FetchAddr [51:3] share dword 3
 * (an event has one or the other).
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
  IPA: dw(3, 51, 12),
  FetchAddr: dw(3, 51, 3),
});

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
    L.set(words, 'EventID', this.id);
    L.set(words, 'StreamID', this.sid >>> 0);
    if (this.ssv) {
      L.set(words, 'SSV', 1);
      L.set(words, 'SubstreamID', this.ssid);
    }
    if (this.id >= EventId.F_WALK_EABT && this.id <= EventId.F_PERMISSION) {
      L.set(words, 'STAG', this.stag);
      L.set(words, 'Stall', this.stall);
      L.set(words, 'PnU', this.priv);
      L.set(words, 'InD', this.exec && !this.write); // InD == 0 when RnW == 0
      L.set(words, 'RnW', !this.write);
      L.set(words, 'S2', this.s2);
      L.set(words, 'CLASS', this.cls);
      if (this.cls === FaultClass.TT) L.set(words, 'TTRnW', 1);
      L.set(words, 'InputAddr', this.inputAddr);
    }
    // Configuration events (C_BAD_*, F_STREAM_DISABLED, F_*_FETCH) carry the stream only.
    if (this.fetchAddr >= 0) L.setAddress(words, 'FetchAddr', this.fetchAddr);
    else if (this.ipa >= 0 && this.s2) L.setAddress(words, 'IPA', this.ipa);
    return words;
  }
}
