// Stream Table Entry (IHI 0070 5.2) and Level 1 Stream Table Descriptor (5.1):
// field tables and the decode of an STE into the configuration the translation path
// uses, with the ILLEGAL rules of the SteIllegal() pseudocode (5.2) for the features
// this model implements.

import type { WalkConfig } from '../vmsa/types.js';
import { s2StartLevel } from '../vmsa/walker.js';
import { dw, dwAddr, StructLayout } from '../regs/struct-layout.js';
import { IDR0_VALUE, SMMU_FEATURES } from './registers.js';

export const STE_BYTES = 64;

export const STE = new StructLayout('STE', STE_BYTES, {
  V: dw(0, 0),
  Config: dw(0, 3, 1),
  S1Fmt: dw(0, 5, 4),
  S1ContextPtr: dwAddr(0, 55, 6),
  S1CDMax: dw(0, 63, 59),
  S1DSS: dw(1, 1, 0),
  S1CIR: dw(1, 3, 2),
  S1COR: dw(1, 5, 4),
  S1CSH: dw(1, 7, 6),
  DRE: dw(1, 12),
  CONT: dw(1, 16, 13),
  DCP: dw(1, 17),
  PPAR: dw(1, 18),
  // MEV (5.2, 3.5.5): event merging is optional, and only an SMMU that merges must honour
  // MEV. The model never merges (every event is recorded, as MMU-600 does), so MEV has no
  // effect: a choice, not an omission.
  MEV: dw(1, 19),
  S1STALLD: dw(1, 27),
  EATS: dw(1, 29, 28),
  STRW: dw(1, 31, 30),
  MemAttr: dw(1, 35, 32),
  MTCFG: dw(1, 36),
  ALLOCCFG: dw(1, 40, 37),
  SHCFG: dw(1, 45, 44),
  NSCFG: dw(1, 47, 46),
  PRIVCFG: dw(1, 49, 48),
  INSTCFG: dw(1, 51, 50),
  S2VMID: dw(2, 15, 0),
  S2T0SZ: dw(2, 37, 32),
  S2SL0: dw(2, 39, 38),
  S2IR0: dw(2, 41, 40),
  S2OR0: dw(2, 43, 42),
  S2SH0: dw(2, 45, 44),
  S2TG: dw(2, 47, 46),
  S2PS: dw(2, 50, 48),
  S2AA64: dw(2, 51),
  S2ENDI: dw(2, 52),
  S2AFFD: dw(2, 53),
  S2PTW: dw(2, 54),
  S2HD: dw(2, 55),
  S2HA: dw(2, 56),
  S2S: dw(2, 57),
  S2R: dw(2, 58),
  S2TTB: dwAddr(3, 55, 4),
});

/** L1STD (5.1): Span [4:0], L2Ptr [55:6]. */
export const L1STD = new StructLayout('L1STD', 8, {
  Span: dw(0, 4, 0),
  L2Ptr: dwAddr(0, 55, 6),
});

/** STE.Config (5.2). */
export const STE_CFG_ABORT = 0;
export const STE_CFG_BYPASS = 4;
export const STE_CFG_S1 = 5;
export const STE_CFG_S2 = 6;
export const STE_CFG_NESTED = 7;

/** STE.S1DSS (5.2). */
export const S1DSS_TERMINATE = 0;
export const S1DSS_BYPASS = 1;
export const S1DSS_SSID0 = 2;

/** STE.S1Fmt (5.2): linear, 2-level with 4K (64 CDs) or 64K (1024 CDs) leaf tables. */
export const S1FMT_LINEAR = 0;
export const S1FMT_4K_L2 = 1;
export const S1FMT_64K_L2 = 2;

/** StreamWorld (5.2 STE.STRW with SMMU_CR2.E2H). */
export const enum StreamWorld {
  NsEl1 = 0,
  El2 = 2,
  El2E2H = 3,
}

/** Granule of a TG0-style encoding (STE.S2TG, CD.TG0): 0 = 4K, 1 = 64K, 2 = 16K. */
export function tg0GranuleShift(tg: number): 12 | 14 | 16 | 0 {
  return tg === 0 ? 12 : tg === 1 ? 16 : tg === 2 ? 14 : 0;
}

/** PS/IPS encodings (3.4, CalcPARange): effective size clamped to the OAS. */
export function psBits(ps: number): number {
  const bits = ps <= 6 ? [32, 36, 40, 42, 44, 48, 52][ps]! : SMMU_FEATURES.oasBits;
  return bits > SMMU_FEATURES.oasBits ? SMMU_FEATURES.oasBits : bits;
}

const HYP = (IDR0_VALUE >>> 9) & 1;

/** A valid STE, decoded once per configuration-cache fill. */
export class SteConfig {
  config = 0;
  /** Stage 1 translates (Config[0]), stage 2 translates (Config[1]). */
  s1 = false;
  s2 = false;
  s1Fmt = 0;
  s1ContextPtr = 0;
  s1CdMax = 0;
  s1Dss = 0;
  s1StallD = false;
  strw = 0;
  /** PRIVCFG/INSTCFG overrides: -1 use incoming, 0 force off, 1 force on. */
  privOverride = -1;
  instOverride = -1;
  vmid = 0;
  /** Stage 2 walk configuration (when s2). */
  readonly s2Walk: WalkConfig = { stage: 2, ttb: 0, granuleShift: 12, tsz: 25, sl0: 1, oasBits: 48, affd: false };
  s2S = false;
  s2R = false;
  s2Ptw = false;
}

/**
 * Decodes the 16 words of an STE. Returns undefined when the STE is not valid or is
 * ILLEGAL (5.2: "Use of an ILLEGAL STE behaves as described for STE.V == 0"): the
 * caller records C_BAD_STE.
 */
export function decodeSte(words: Uint32Array, out: SteConfig): SteConfig | undefined {
  if (!STE.flag(words, STE.f.V)) return undefined;
  const config = STE.get(words, STE.f.Config);
  out.config = config;
  out.s1 = false;
  out.s2 = false;
  if ((config & 4) === 0) {
    out.config = STE_CFG_ABORT; // 0b0xx: reserved values behave as 0b000
    return out;
  }
  out.s1 = (config & 1) !== 0;
  out.s2 = (config & 2) !== 0;
  out.privOverride = overrideOf(STE.get(words, STE.f.PRIVCFG));
  out.instOverride = overrideOf(STE.get(words, STE.f.INSTCFG));
  if (config === STE_CFG_BYPASS) return out;

  // StreamWorld: used only with Hyp, stage 1 enabled and stage 2 disabled (IgnoreSTESTRW).
  const strw = STE.get(words, STE.f.STRW);
  const strwUsed = HYP === 1 && out.s1 && !out.s2;
  out.strw = strwUsed ? strw : 0;
  if (strwUsed && (strw & 1) !== 0) return undefined; // 0bx1 reserved for Non-secure streams

  out.vmid = strwUsed && strw !== 0 ? 0 : STE.get(words, STE.f.S2VMID);

  if (out.s1) {
    out.s1StallD = STE.flag(words, STE.f.S1STALLD);
    out.s1CdMax = STE.get(words, STE.f.S1CDMax);
    if (out.s1CdMax > SMMU_FEATURES.ssidBits) return undefined;
    const fmt = STE.get(words, STE.f.S1Fmt);
    out.s1Fmt = out.s1CdMax === 0 || fmt === 3 ? S1FMT_LINEAR : fmt; // 0b11 behaves as 0b00
    out.s1Dss = out.s1CdMax === 0 ? S1DSS_TERMINATE : STE.get(words, STE.f.S1DSS);
    if (out.s1Dss === 3) out.s1Dss = S1DSS_TERMINATE; // reserved, behaves as 0b00
    out.s1ContextPtr = STE.get(words, STE.f.S1ContextPtr);
    // STES1ContextPtrOutOfRange: an IPA beyond the IAS or a PA beyond the OAS (both 48 bits here).
    if (out.s1ContextPtr >= 2 ** SMMU_FEATURES.oasBits) return undefined;
  }

  if (out.s2) {
    if (!STE.flag(words, STE.f.S2AA64)) return undefined; // TTF has no VMSAv8-32 LPAE
    if (STE.flag(words, STE.f.S2ENDI)) return undefined; // TTENDIAN: little-endian only
    if (STE.flag(words, STE.f.S2HA) || STE.flag(words, STE.f.S2HD)) return undefined; // HTTU == 0
    const g = tg0GranuleShift(STE.get(words, STE.f.S2TG));
    if (g === 0) return undefined; // reserved granule
    const tsz = STE.get(words, STE.f.S2T0SZ);
    // STES2T0SZInvalid: IDR3.STT == 0 so the maximum is 39; 48-bit IAS so the minimum is 16.
    if (tsz < 16 || tsz > 39) return undefined;
    const sl0 = STE.get(words, STE.f.S2SL0);
    if (s2StartLevel(g, sl0, tsz) < 0) return undefined; // STEWalkConfigInconsistentAA64
    const ps = psBits(STE.get(words, STE.f.S2PS));
    const ttb = STE.get(words, STE.f.S2TTB);
    if (ttb >= 2 ** ps) return undefined; // STES2TTBOutOfRange
    const w = out.s2Walk;
    w.ttb = ttb;
    w.granuleShift = g;
    w.tsz = tsz;
    w.sl0 = sl0;
    w.oasBits = ps;
    w.affd = STE.flag(words, STE.f.S2AFFD);
    out.s2S = STE.flag(words, STE.f.S2S);
    out.s2R = STE.flag(words, STE.f.S2R);
    out.s2Ptw = STE.flag(words, STE.f.S2PTW);
  }
  return out;
}

function overrideOf(cfg: number): number {
  return cfg === 2 ? 0 : cfg === 3 ? 1 : -1; // 0b00 use incoming, 0b01 reserved (incoming)
}
