// Context Descriptor (IHI 0070 5.4) and Level 1 Context Descriptor (5.3): field
// tables and the decode of a CD into a stage 1 configuration, with the ILLEGAL rules
// of the CdIllegal() pseudocode (5.4.2) for the features this model implements.

import type { WalkConfig } from '../vmsa/types.js';
import { dw, dwAddr, StructLayout } from '../regs/struct-layout.js';
import { psBits, StreamWorld, tg0GranuleShift, type SteConfig } from './ste.js';

export const CD_BYTES = 64;

export const CD = new StructLayout('CD', CD_BYTES, {
  T0SZ: dw(0, 5, 0),
  TG0: dw(0, 7, 6),
  IR0: dw(0, 9, 8),
  OR0: dw(0, 11, 10),
  SH0: dw(0, 13, 12),
  EPD0: dw(0, 14),
  ENDI: dw(0, 15),
  T1SZ: dw(0, 21, 16),
  TG1: dw(0, 23, 22),
  IR1: dw(0, 25, 24),
  OR1: dw(0, 27, 26),
  SH1: dw(0, 29, 28),
  EPD1: dw(0, 30),
  V: dw(0, 31),
  IPS: dw(0, 34, 32),
  AFFD: dw(0, 35),
  WXN: dw(0, 36),
  UWXN: dw(0, 37),
  TBI0: dw(0, 38),
  TBI1: dw(0, 39),
  PAN: dw(0, 40),
  AA64: dw(0, 41),
  HD: dw(0, 42),
  HA: dw(0, 43),
  S: dw(0, 44),
  R: dw(0, 45),
  A: dw(0, 46),
  ASET: dw(0, 47),
  ASID: dw(0, 63, 48),
  NSCFG0: dw(1, 0),
  HAD0: dw(1, 1),
  E0PD0: dw(1, 2),
  TTB0: dwAddr(1, 55, 4),
  NSCFG1: dw(2, 0),
  HAD1: dw(2, 1),
  E0PD1: dw(2, 2),
  TTB1: dwAddr(2, 55, 4),
  MAIR0: dw(3, 31, 0),
  MAIR1: dw(3, 63, 32),
  AMAIR0: dw(4, 31, 0),
  AMAIR1: dw(4, 63, 32),
});

/** L1CD (5.3): V [0], L2Ptr [55:12]. */
export const L1CD = new StructLayout('L1CD', 8, {
  V: dw(0, 0),
  L2Ptr: dwAddr(0, 55, 12),
});

/** CDs per level-2 table for STE.S1Fmt = 4K_L2 (1) and 64K_L2 (2): 2^6 and 2^10. */
export const CD_L2_SPLIT = [0, 6, 10] as const;

/** TG1 encodings (5.4): 1 = 16K, 2 = 4K, 3 = 64K, 0 reserved. */
function tg1GranuleShift(tg: number): 12 | 14 | 16 | 0 {
  return tg === 1 ? 14 : tg === 2 ? 12 : tg === 3 ? 16 : 0;
}

/** A valid CD, decoded for one (StreamID, SubstreamID). */
export class CdConfig {
  asid = 0;
  /**
   * Effective EPD0/EPD1: walks through TTB0/TTB1 disabled, every address of that range
   * is a translation fault. In the EL2 StreamWorld EPD0 is IGNORED (0) and TTB1 does not
   * exist, which behaves as EPD1 == 1 (5.4.1).
   */
  epd0 = false;
  epd1 = true;
  /** Effective TBI0/TBI1 (5.4, 3.4.1): VA[63:56] ignored for that range. */
  tbi0 = false;
  tbi1 = false;
  /** CD.S (stall), CD.R (record), CD.A (abort; always 1 here, TERM_MODEL == 1). */
  stall = false;
  record = false;
  /** CD.WXN, CD.PAN: permission options of the stage 1 checks (DDI 0487 D8.4). */
  wxn = false;
  pan = false;
  mair = 0;
  mairHi = 0;
  /** TTB0 walk: input addresses [0, 2^(64 - T0SZ)). */
  readonly walk: WalkConfig = { stage: 1, ttb: 0, granuleShift: 12, tsz: 25, oasBits: 48, affd: false };
  /** TTB1 walk: input addresses [-2^(64 - T1SZ), 0), walked as VA + 2^(64 - T1SZ). */
  readonly walk1: WalkConfig = { stage: 1, ttb: 0, granuleShift: 12, tsz: 25, oasBits: 48, affd: false };
  /** Sizes of the TTB0 and TTB1 ranges: 2^(64 - TxSZ). */
  span0 = 2 ** 39;
  span1 = 2 ** 39;
}

/**
 * Decodes a CD reached from `ste` in `world`. Returns undefined when it is not valid or
 * ILLEGAL (5.4.2): the caller records C_BAD_CD.
 */
export function decodeCd(words: Uint32Array, ste: SteConfig, world: StreamWorld, out: CdConfig): CdConfig | undefined {
  if (!CD.flag(words, CD.f.V)) return undefined;
  const s = CD.flag(words, CD.f.S);
  if (ste.s1StallD && s) return undefined; // stalls disabled by the STE
  if (!CD.flag(words, CD.f.A)) return undefined; // TERM_MODEL == 1: RAZ/WI termination unsupported
  if (!CD.flag(words, CD.f.AA64)) return undefined; // TTF: VMSAv8-32 LPAE unsupported
  if (CD.flag(words, CD.f.HA) || CD.flag(words, CD.f.HD)) return undefined; // HTTU == 0
  // EffectiveCDEPD0/1: in the EL2 StreamWorld EPD0 is IGNORED and TTB1 is unreachable (5.4.1).
  const el2 = world === StreamWorld.El2;
  const epd0 = !el2 && CD.flag(words, CD.f.EPD0);
  const epd1 = el2 || CD.flag(words, CD.f.EPD1);
  if ((!epd0 || !epd1) && CD.flag(words, CD.f.ENDI)) return undefined; // TTENDIAN: little-endian only
  const ips = psBits(CD.get(words, CD.f.IPS));
  if (!epd0) {
    const t0sz = CD.get(words, CD.f.T0SZ);
    if (t0sz < 16 || t0sz > 39) return undefined; // CDTxSZInvalid (STT == 0, 48-bit VA)
    const g = tg0GranuleShift(CD.get(words, CD.f.TG0));
    if (g === 0) return undefined;
    const ttb0 = CD.get(words, CD.f.TTB0);
    if (ttb0 >= 2 ** ips) return undefined; // CDTTBxOutOfRange
    out.walk.ttb = ttb0;
    out.walk.granuleShift = g;
    out.walk.tsz = t0sz;
    out.span0 = 2 ** (64 - t0sz);
  }
  if (!epd1) {
    const t1sz = CD.get(words, CD.f.T1SZ);
    if (t1sz < 16 || t1sz > 39) return undefined;
    const g = tg1GranuleShift(CD.get(words, CD.f.TG1));
    if (g === 0) return undefined;
    const ttb1 = CD.get(words, CD.f.TTB1);
    if (ttb1 >= 2 ** ips) return undefined;
    out.walk1.ttb = ttb1;
    out.walk1.granuleShift = g;
    out.walk1.tsz = t1sz;
    out.span1 = 2 ** (64 - t1sz);
  }
  out.epd0 = epd0;
  out.epd1 = epd1;
  out.walk.oasBits = ips;
  out.walk1.oasBits = ips;
  out.walk.affd = CD.flag(words, CD.f.AFFD);
  out.walk1.affd = out.walk.affd;
  out.tbi0 = CD.flag(words, CD.f.TBI0);
  out.tbi1 = !el2 && CD.flag(words, CD.f.TBI1); // TBI1 is RES0 in the EL2 StreamWorld
  out.asid = world === StreamWorld.El2 ? 0 : CD.get(words, CD.f.ASID);
  out.stall = s;
  out.record = CD.flag(words, CD.f.R);
  out.mair = CD.get(words, CD.f.MAIR0);
  out.mairHi = CD.get(words, CD.f.MAIR1);
  out.wxn = CD.flag(words, CD.f.WXN);
  out.pan = CD.flag(words, CD.f.PAN);
  return out;
}
