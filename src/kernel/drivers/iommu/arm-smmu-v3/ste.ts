// Stream Table Entry (IHI 0070 5.2), 64 bytes, as the driver writes it: the field
// table, the "make" functions for each configuration the driver installs, and the
// used-bits and update-safe functions the hitless writer relies on
// (arm_smmu_get_ste_used / arm_smmu_get_ste_update_safe as Linux has them since v6.18).

import { FieldTable, getField, orFieldMask, setField } from '../../../lib/field-table.js';
import { ARM_SMMU_FEAT_ATTR_TYPES_OVR, ARM_SMMU_FEAT_E2H, ARM_SMMU_FEAT_STALLS, ARM_SMMU_SH_ISH } from './features.js';

export const STRTAB_STE_DWORDS = 8;
/** Uint32 halves in an STE. */
export const STE_WORDS = STRTAB_STE_DWORDS * 2;

export const STE = FieldTable.le64('STE', 64, [
  ['V', 0, 0, 0],
  ['CFG', 0, 3, 1],
  ['S1FMT', 0, 5, 4],
  ['S1CTXPTR', 0, 51, 6, 'addr'],
  ['S1CDMAX', 0, 63, 59],
  ['S1DSS', 1, 1, 0],
  ['S1CIR', 1, 3, 2],
  ['S1COR', 1, 5, 4],
  ['S1CSH', 1, 7, 6],
  ['MEV', 1, 19, 19],
  ['S2FWB', 1, 25, 25],
  ['S1STALLD', 1, 27, 27],
  ['EATS', 1, 29, 28],
  ['STRW', 1, 31, 30],
  ['SHCFG', 1, 45, 44],
  ['S2VMID', 2, 15, 0],
  ['VTCR', 2, 50, 32],
  ['S2AA64', 2, 51, 51],
  ['S2ENDI', 2, 52, 52],
  ['S2AFFD', 2, 53, 53],
  ['S2PTW', 2, 54, 54],
  ['S2HD', 2, 55, 55],
  ['S2HA', 2, 56, 56],
  ['S2S', 2, 57, 57],
  ['S2R', 2, 58, 58],
  ['S2TTB', 3, 51, 4, 'addr'],
]);

/** Sub-fields of STE.VTCR, at bit offsets inside the 19-bit VTCR value (Linux STRTAB_STE_2_VTCR_*). */
export const VTCR = FieldTable.le64('VTCR', 8, [
  ['S2T0SZ', 0, 5, 0],
  ['S2SL0', 0, 7, 6],
  ['S2IR0', 0, 9, 8],
  ['S2OR0', 0, 11, 10],
  ['S2SH0', 0, 13, 12],
  ['S2TG', 0, 15, 14],
  ['S2PS', 0, 18, 16],
]);

export const STRTAB_STE_0_CFG_ABORT = 0;
export const STRTAB_STE_0_CFG_BYPASS = 4;
export const STRTAB_STE_0_CFG_S1_TRANS = 5;
export const STRTAB_STE_0_CFG_S2_TRANS = 6;
export const STRTAB_STE_0_CFG_NESTED = 7;
export const STRTAB_STE_0_S1FMT_LINEAR = 0;
export const STRTAB_STE_0_S1FMT_64K_L2 = 2;
export const STRTAB_STE_1_S1DSS_TERMINATE = 0;
export const STRTAB_STE_1_S1DSS_BYPASS = 1;
export const STRTAB_STE_1_S1DSS_SSID0 = 2;
export const STRTAB_STE_1_S1C_CACHE_WBRA = 1;
export const STRTAB_STE_1_EATS_ABT = 0;
export const STRTAB_STE_1_EATS_TRANS = 1;
export const STRTAB_STE_1_EATS_S1CHK = 2;
export const STRTAB_STE_1_STRW_NSEL1 = 0;
export const STRTAB_STE_1_STRW_EL2 = 2;
export const STRTAB_STE_1_SHCFG_INCOMING = 1;

/** Level-1 stream table descriptor (IHI 0070 5.1.1): SPAN and L2Ptr. */
export const L1STD = FieldTable.le64('L1STD', 8, [
  ['SPAN', 0, 4, 0],
  ['L2PTR', 0, 51, 6, 'addr'],
]);
/** Linux's split: 256 STEs (one PCI bus) per lazily allocated level-2 table. */
export const STRTAB_SPLIT = 8;

/** arm_smmu_get_ste_used: the bits of `ent` the SMMU reads under its configuration. */
export function getSteUsed(ent: Uint32Array, used: Uint32Array): void {
  used.fill(0);
  orFieldMask(used, STE.f.V);
  if (!getField(ent, STE.f.V)) return;
  orFieldMask(used, STE.f.CFG);
  const cfg = getField(ent, STE.f.CFG);
  if (cfg & 1) {
    // Stage 1 translates
    for (const f of [STE.f.S1FMT, STE.f.S1CTXPTR, STE.f.S1CDMAX, STE.f.S1DSS, STE.f.S1CIR, STE.f.S1COR, STE.f.S1CSH, STE.f.S1STALLD, STE.f.STRW, STE.f.EATS, STE.f.MEV, STE.f.S2VMID]) orFieldMask(used, f);
    // IHI 0070 13.5: SHCFG applies to S1DSS=bypass traffic
    if (getField(ent, STE.f.S1DSS) === STRTAB_STE_1_S1DSS_BYPASS) orFieldMask(used, STE.f.SHCFG);
  }
  if (cfg & 2) {
    // Stage 2 translates
    for (const f of [STE.f.S2FWB, STE.f.EATS, STE.f.SHCFG, STE.f.MEV, STE.f.S2VMID, STE.f.VTCR, STE.f.S2AA64, STE.f.S2ENDI, STE.f.S2PTW, STE.f.S2S, STE.f.S2R, STE.f.S2TTB]) orFieldMask(used, f);
  }
  if (cfg === STRTAB_STE_0_CFG_BYPASS) orFieldMask(used, STE.f.SHCFG);
}

/**
 * arm_smmu_get_ste_update_safe: used bits that may still change in any order.
 * EATS=Translate: the attach code has ATS disabled at the endpoint whenever it flips,
 * unless S1CHK or S2S is involved (EATS=1 with S2S=1 is an ILLEGAL STE, IHI 0070 5.2).
 * MEV: only changes how faults are coalesced, which software must expect anyway.
 */
export function getSteUpdateSafe(cur: Uint32Array, target: Uint32Array, safe: Uint32Array): void {
  safe.fill(0);
  const s1chk = (getField(cur, STE.f.EATS) | getField(target, STE.f.EATS)) & STRTAB_STE_1_EATS_S1CHK;
  const s2s = getField(cur, STE.f.S2S) | getField(target, STE.f.S2S);
  // Only the Translate bit of EATS (bit 28), never the field as a whole
  if (!s1chk && !s2s) safe[STE.f.EATS.dword] = (safe[STE.f.EATS.dword]! | (STRTAB_STE_1_EATS_TRANS << STE.f.EATS.lsb)) >>> 0;
  orFieldMask(safe, STE.f.MEV);
}

/** arm_smmu_make_abort_ste. */
export function makeAbortSte(t: Uint32Array): void {
  t.fill(0);
  setField(t, STE.f.V, 1);
  setField(t, STE.f.CFG, STRTAB_STE_0_CFG_ABORT);
}

/** arm_smmu_make_bypass_ste. */
export function makeBypassSte(features: number, t: Uint32Array): void {
  t.fill(0);
  setField(t, STE.f.V, 1);
  setField(t, STE.f.CFG, STRTAB_STE_0_CFG_BYPASS);
  if (features & ARM_SMMU_FEAT_ATTR_TYPES_OVR) setField(t, STE.f.SHCFG, STRTAB_STE_1_SHCFG_INCOMING);
}

/** The CD table a master's STE points at (arm_smmu_ctx_desc_cfg). */
export interface CdTableRef {
  readonly cdtabDma: number;
  readonly s1cdmax: number;
  readonly s1fmt: number;
}

/** arm_smmu_make_cdtable_ste: stage 1 through the master's CD table. */
export function makeCdtableSte(t: Uint32Array, features: number, stallEnabled: boolean, cd: CdTableRef, atsEnabled: boolean, s1dss: number): void {
  t.fill(0);
  setField(t, STE.f.V, 1);
  setField(t, STE.f.CFG, STRTAB_STE_0_CFG_S1_TRANS);
  setField(t, STE.f.S1FMT, cd.s1fmt);
  setField(t, STE.f.S1CTXPTR, cd.cdtabDma);
  setField(t, STE.f.S1CDMAX, cd.s1cdmax);
  setField(t, STE.f.S1DSS, s1dss);
  setField(t, STE.f.S1CIR, STRTAB_STE_1_S1C_CACHE_WBRA);
  setField(t, STE.f.S1COR, STRTAB_STE_1_S1C_CACHE_WBRA);
  setField(t, STE.f.S1CSH, ARM_SMMU_SH_ISH);
  // Stalls are on for the stream unless the master may not stall (IHI 0070 5.2 S1STALLD)
  if (features & ARM_SMMU_FEAT_STALLS && !stallEnabled) setField(t, STE.f.S1STALLD, 1);
  setField(t, STE.f.EATS, atsEnabled ? STRTAB_STE_1_EATS_TRANS : 0);
  if (features & ARM_SMMU_FEAT_ATTR_TYPES_OVR && s1dss === STRTAB_STE_1_S1DSS_BYPASS) setField(t, STE.f.SHCFG, STRTAB_STE_1_SHCFG_INCOMING);
  if (features & ARM_SMMU_FEAT_E2H) setField(t, STE.f.STRW, STRTAB_STE_1_STRW_EL2);
  else {
    setField(t, STE.f.STRW, STRTAB_STE_1_STRW_NSEL1);
    // VMID 0 is kept for stage-2-bypass EL1 streams
    setField(t, STE.f.S2VMID, 0);
  }
}

/** Stage-2 translation parameters (io_pgtable_cfg.arm_lpae_s2_cfg). */
export interface S2Config {
  readonly vmid: number;
  readonly vttbr: number;
  readonly tsz: number;
  readonly sl: number;
  readonly irgn: number;
  readonly orgn: number;
  readonly sh: number;
  readonly tg: number;
  readonly ps: number;
}

/** arm_smmu_make_s2_domain_ste. */
export function makeS2DomainSte(t: Uint32Array, features: number, s2: S2Config, atsEnabled: boolean): void {
  t.fill(0);
  setField(t, STE.f.V, 1);
  setField(t, STE.f.CFG, STRTAB_STE_0_CFG_S2_TRANS);
  setField(t, STE.f.EATS, atsEnabled ? STRTAB_STE_1_EATS_TRANS : 0);
  if (features & ARM_SMMU_FEAT_ATTR_TYPES_OVR) setField(t, STE.f.SHCFG, STRTAB_STE_1_SHCFG_INCOMING);
  const v = new Uint32Array(2);
  setField(v, VTCR.f.S2T0SZ, s2.tsz);
  setField(v, VTCR.f.S2SL0, s2.sl);
  setField(v, VTCR.f.S2IR0, s2.irgn);
  setField(v, VTCR.f.S2OR0, s2.orgn);
  setField(v, VTCR.f.S2SH0, s2.sh);
  setField(v, VTCR.f.S2TG, s2.tg);
  setField(v, VTCR.f.S2PS, s2.ps);
  setField(t, STE.f.S2VMID, s2.vmid);
  setField(t, STE.f.VTCR, v[0]!);
  setField(t, STE.f.S2AA64, 1);
  setField(t, STE.f.S2PTW, 1);
  setField(t, STE.f.S2R, 1);
  setField(t, STE.f.S2TTB, s2.vttbr);
}
