// ESR_ELx encodings the core produces (Arm ARM DDI 0487 D24.2.40 ESR_EL1, and
// "ISS encoding for an exception from a Data Abort").

import { WalkFault } from '../vmsa/types.js';

/** Exception classes, ESR_ELx.EC [31:26]. */
export const EC = {
  UNKNOWN: 0x00,
  SVC64: 0x15,
  IABT_LOW: 0x20,
  IABT_CUR: 0x21,
  DABT_LOW: 0x24,
  DABT_CUR: 0x25,
} as const;

/** ESR_ELx.IL: 32-bit instruction (every AArch64 instruction). */
export const ESR_IL = 1 << 25;
/** Data Abort ISS.WnR: the abort was caused by a write. */
export const ESR_WNR = 1 << 6;

/** Data/Instruction Fault Status Codes, ISS.DFSC [5:0]. Level-encoded ones add the level. */
export const FSC = {
  ADDRESS_SIZE: 0b000000, // + level
  TRANSLATION: 0b000100, // + level
  ACCESS_FLAG: 0b001000, // + level
  PERMISSION: 0b001100, // + level
  SYNC_EXTERNAL: 0b010000,
  SYNC_EXTERNAL_WALK: 0b010100, // + level
  ALIGNMENT: 0b100001,
} as const;

/** DFSC for a walker fault at `level`. */
export function faultStatus(fault: WalkFault, level: number): number {
  switch (fault) {
    case WalkFault.AddressSize:
      return FSC.ADDRESS_SIZE + level;
    case WalkFault.AccessFlag:
      return FSC.ACCESS_FLAG + level;
    case WalkFault.Permission:
      return FSC.PERMISSION + level;
    case WalkFault.ExternalAbort:
      return FSC.SYNC_EXTERNAL_WALK + level;
    default:
      return FSC.TRANSLATION + level;
  }
}

/** ESR for a data abort: EC by the EL the access came from, WnR, ISV=0. */
export function dataAbortEsr(fromEl: number, write: boolean, dfsc: number): number {
  return (((fromEl === 0 ? EC.DABT_LOW : EC.DABT_CUR) << 26) | ESR_IL | (write ? ESR_WNR : 0) | dfsc) >>> 0;
}
