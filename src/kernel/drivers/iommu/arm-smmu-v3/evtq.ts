// Event queue records (IHI 0070 7.3), 32 bytes: the field table, the event IDs and
// their names for the log, as arm-smmu-v3.h defines them for the driver.

import { FieldTable } from '../../../lib/field-table.js';

export const EVTQ_ENT_DWORDS = 4;
export const EVTQ_ENT_WORDS = 8;
export const EVTQ_ENT_SZ_SHIFT = 5;

export const EVTQ = FieldTable.le64('EVTQ', 32, [
  ['ID', 0, 7, 0],
  ['SSV', 0, 11, 11],
  ['SSID', 0, 31, 12],
  ['SID', 0, 63, 32],
  ['STAG', 1, 15, 0],
  ['STALL', 1, 31, 31],
  ['PnU', 1, 33, 33],
  ['InD', 1, 34, 34],
  ['RnW', 1, 35, 35],
  ['S2', 1, 39, 39],
  ['CLASS', 1, 41, 40],
  ['TT_READ', 1, 44, 44],
  ['ADDR_LO', 2, 31, 0],
  ['ADDR_HI', 2, 63, 32],
  ['IPA', 3, 51, 12, 'addr'],
]);

export const EVT_ID_UUT = 0x01;
export const EVT_ID_BAD_STREAMID = 0x02;
export const EVT_ID_STE_FETCH = 0x03;
export const EVT_ID_BAD_STE = 0x04;
export const EVT_ID_BAD_ATS_TREQ = 0x05;
export const EVT_ID_STREAM_DISABLED = 0x06;
export const EVT_ID_TRANSL_FORBIDDEN = 0x07;
export const EVT_ID_BAD_SUBSTREAMID = 0x08;
export const EVT_ID_CD_FETCH = 0x09;
export const EVT_ID_BAD_CD = 0x0a;
export const EVT_ID_WALK_EABT = 0x0b;
export const EVT_ID_TRANSLATION_FAULT = 0x10;
export const EVT_ID_ADDR_SIZE_FAULT = 0x11;
export const EVT_ID_ACCESS_FAULT = 0x12;
export const EVT_ID_PERMISSION_FAULT = 0x13;
export const EVT_ID_TLB_CONFLICT = 0x20;
export const EVT_ID_CFG_CONFLICT = 0x21;
export const EVT_ID_PAGE_REQ = 0x24;
export const EVT_ID_VMS_FETCH = 0x25;

export const EVT_NAMES: Readonly<Record<number, string>> = {
  0x01: 'F_UUT', 0x02: 'C_BAD_STREAMID', 0x03: 'F_STE_FETCH', 0x04: 'C_BAD_STE', 0x05: 'F_BAD_ATS_TREQ',
  0x06: 'F_STREAM_DISABLED', 0x07: 'F_TRANSL_FORBIDDEN', 0x08: 'C_BAD_SUBSTREAMID', 0x09: 'F_CD_FETCH', 0x0a: 'C_BAD_CD',
  0x0b: 'F_WALK_EABT', 0x10: 'F_TRANSLATION', 0x11: 'F_ADDR_SIZE', 0x12: 'F_ACCESS', 0x13: 'F_PERMISSION',
  0x20: 'F_TLB_CONFLICT', 0x21: 'F_CFG_CONFLICT', 0x24: 'E_PAGE_REQ', 0x25: 'F_VMS_FETCH',
};

/** The input address of an event record (dword 2) as a Number (exact below 2^53). */
export function evtAddr(e: Uint32Array): number {
  return e[5]! * 4294967296 + e[4]!;
}
