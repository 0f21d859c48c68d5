// PRI queue entries (IHI 0070 8.1), 16 bytes: a PCIe Page Request as the SMMU
// records it. Field table as arm-smmu-v3.h defines PRIQ_*.

import { FieldTable } from '../../../lib/field-table.js';

export const PRIQ_ENT_DWORDS = 2;
export const PRIQ_ENT_WORDS = 4;
export const PRIQ_ENT_SZ_SHIFT = 4;

export const PRIQ = FieldTable.le64('PRIQ', 16, [
  ['SID', 0, 31, 0],
  ['SSID', 0, 51, 32],
  ['PRIV', 0, 58, 58],
  ['EXEC', 0, 59, 59],
  ['READ', 0, 60, 60],
  ['WRITE', 0, 61, 61],
  ['PRG_LAST', 0, 62, 62],
  ['SSID_V', 0, 63, 63],
  ['PRG_IDX', 1, 8, 0],
  ['ADDR', 1, 63, 12, 'addr'],
]);
