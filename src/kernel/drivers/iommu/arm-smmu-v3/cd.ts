// Context Descriptor (IHI 0070 5.4), 64 bytes: the field table, the CDs the driver
// installs (a DMA/unmanaged stage-1 domain, an SVA domain sharing a process page
// table, the "released" SVA CD that faults everything) and arm_smmu_get_cd_used.

import { clearFieldMask, FieldTable, getField, orFieldMask, setDwordBig, setField } from '../../../lib/field-table.js';
import { ARM_SMMU_FEAT_STALL_FORCE } from './features.js';

export const CTXDESC_CD_DWORDS = 8;
export const CD_WORDS = CTXDESC_CD_DWORDS * 2;
/** Linux: 1024 CDs per lazily allocated level-2 table (S1FMT = 64K_L2 when SSIDs exceed it). */
export const CTXDESC_SPLIT = 10;
export const CTXDESC_L2_ENTRIES = 1 << CTXDESC_SPLIT;
/** With only linear CD tables Linux caps a table at 64 KiB: 1024 CDs (CTXDESC_LINEAR_CDMAX). */
export const CTXDESC_LINEAR_CDMAX = 10;

export const CD = FieldTable.le64('CD', 64, [
  ['T0SZ', 0, 5, 0],
  ['TG0', 0, 7, 6],
  ['IRGN0', 0, 9, 8],
  ['ORGN0', 0, 11, 10],
  ['SH0', 0, 13, 12],
  ['EPD0', 0, 14, 14],
  ['ENDI', 0, 15, 15],
  ['T1SZ', 0, 21, 16],
  ['TG1', 0, 23, 22],
  ['IRGN1', 0, 25, 24],
  ['ORGN1', 0, 27, 26],
  ['SH1', 0, 29, 28],
  ['EPD1', 0, 30, 30],
  ['V', 0, 31, 31],
  ['IPS', 0, 34, 32],
  ['AFFD', 0, 35, 35],
  ['WXN', 0, 36, 36],
  ['UWXN', 0, 37, 37],
  ['TBI', 0, 39, 38],
  ['PAN', 0, 40, 40],
  ['AA64', 0, 41, 41],
  ['HD', 0, 42, 42],
  ['HA', 0, 43, 43],
  ['S', 0, 44, 44],
  ['R', 0, 45, 45],
  ['A', 0, 46, 46],
  ['ASET', 0, 47, 47],
  ['ASID', 0, 63, 48],
  ['NSCFG0', 1, 0, 0],
  ['HAD0', 1, 1, 1],
  ['TTB0', 1, 51, 4, 'addr'],
  ['NSCFG1', 2, 0, 0],
  ['HAD1', 2, 1, 1],
  ['TTB1', 2, 51, 4, 'addr'],
  ['MAIR_LO', 3, 31, 0],
  ['MAIR_HI', 3, 63, 32],
  ['AMAIR_LO', 4, 31, 0],
  ['AMAIR_HI', 4, 63, 32],
]);

/** Level-1 CD table descriptor (IHI 0070 5.4.1). */
export const L1CD = FieldTable.le64('L1CD', 8, [
  ['V', 0, 0, 0],
  ['L2PTR', 0, 51, 12, 'addr'],
]);

// TCR encodings shared with the CPU's TCR_EL1 (io-pgtable-arm.h ARM_LPAE_TCR_*).
export const ARM_LPAE_TCR_TG0_4K = 0;
export const ARM_LPAE_TCR_TG0_64K = 1;
export const ARM_LPAE_TCR_TG0_16K = 2;
export const ARM_LPAE_TCR_RGN_WBWA = 1;
export const ARM_LPAE_TCR_SH_IS = 3;

/** arm_smmu_get_cd_used: every bit of a valid CD, minus the TTB0 walk fields when EPD0 is set. */
export function getCdUsed(ent: Uint32Array, used: Uint32Array): void {
  used.fill(0);
  orFieldMask(used, CD.f.V);
  if (!getField(ent, CD.f.V)) return;
  used.fill(0xffffffff);
  if (getField(ent, CD.f.EPD0)) {
    for (const f of [CD.f.T0SZ, CD.f.TG0, CD.f.IRGN0, CD.f.ORGN0, CD.f.SH0, CD.f.TTB0]) clearFieldMask(used, f);
  }
}

/** Stage-1 table parameters (io_pgtable_cfg.arm_lpae_s1_cfg). */
export interface S1Config {
  readonly ttbr: number;
  readonly tsz: number;
  readonly tg: number;
  readonly irgn: number;
  readonly orgn: number;
  readonly sh: number;
  readonly ips: number;
  /** MAIR, 64 bits. */
  readonly mair: bigint;
}

/** arm_smmu_make_s1_cd: a paging domain's CD (TTB0 walks, TTB1 disabled). */
export function makeS1Cd(t: Uint32Array, stallEnabled: boolean, asid: number, s1: S1Config): void {
  t.fill(0);
  setField(t, CD.f.T0SZ, s1.tsz);
  setField(t, CD.f.TG0, s1.tg);
  setField(t, CD.f.IRGN0, s1.irgn);
  setField(t, CD.f.ORGN0, s1.orgn);
  setField(t, CD.f.SH0, s1.sh);
  setField(t, CD.f.EPD1, 1);
  setField(t, CD.f.V, 1);
  setField(t, CD.f.IPS, s1.ips);
  setField(t, CD.f.AA64, 1);
  if (stallEnabled) setField(t, CD.f.S, 1);
  setField(t, CD.f.R, 1);
  setField(t, CD.f.A, 1);
  setField(t, CD.f.ASET, 1);
  setField(t, CD.f.ASID, asid);
  setField(t, CD.f.TTB0, s1.ttbr);
  setDwordBig(t, 3, s1.mair);
}

/** What an SVA CD takes from the CPU's view of the process (vabits, PARange, MAIR_EL1). */
export interface SvaCdParams {
  /** Physical address of the mm's level-0 table, or null for the released CD. */
  readonly pgd: number | null;
  readonly asid: number;
  readonly stallEnabled: boolean;
  readonly features: number;
  /** ID_AA64MMFR0_EL1.PARange. */
  readonly ips: number;
  /** 64 - vabits_actual. */
  readonly t0sz: number;
  readonly tg: number;
  readonly mair: bigint;
}

/**
 * arm_smmu_make_sva_cd: a CD walking the process page tables. Without an mm (the
 * process exited) it is a valid CD with EPD0 set that faults every access, so the
 * switch between the two is hitless (TTB0 and its walk fields are then unused).
 */
export function makeSvaCd(t: Uint32Array, p: SvaCdParams): void {
  t.fill(0);
  setField(t, CD.f.EPD1, 1);
  setField(t, CD.f.V, 1);
  setField(t, CD.f.IPS, p.ips);
  setField(t, CD.f.AA64, 1);
  if (p.stallEnabled) setField(t, CD.f.S, 1);
  setField(t, CD.f.R, 1);
  setField(t, CD.f.A, 1);
  setField(t, CD.f.ASET, 1);
  setField(t, CD.f.ASID, p.asid);
  if (p.pgd !== null) {
    setField(t, CD.f.T0SZ, p.t0sz);
    setField(t, CD.f.TG0, p.tg);
    setField(t, CD.f.IRGN0, ARM_LPAE_TCR_RGN_WBWA);
    setField(t, CD.f.ORGN0, ARM_LPAE_TCR_RGN_WBWA);
    setField(t, CD.f.SH0, ARM_LPAE_TCR_SH_IS);
    setField(t, CD.f.TTB0, p.pgd);
  } else {
    setField(t, CD.f.EPD0, 1);
    // Abort at once instead of stalling a dying process's DMA, when stalls may be disabled
    if (!(p.features & ARM_SMMU_FEAT_STALL_FORCE)) {
      setField(t, CD.f.S, 0);
      setField(t, CD.f.R, 0);
    }
  }
  setDwordBig(t, 3, p.mair);
}
