// SMMUv3 programming interface as the driver uses it (IHI 0070 6.3; Linux
// arm-smmu-v3.h): register offsets in page 0 and page 1 and the register fields, as
// field tables over a 32-bit (or 64-bit) register value.

import { FieldTable } from '../../../lib/field-table.js';

export const ARM_SMMU_IDR0 = 0x00;
export const ARM_SMMU_IDR1 = 0x04;
export const ARM_SMMU_IDR2 = 0x08;
export const ARM_SMMU_IDR3 = 0x0c;
export const ARM_SMMU_IDR4 = 0x10;
export const ARM_SMMU_IDR5 = 0x14;
export const ARM_SMMU_IIDR = 0x18;
export const ARM_SMMU_AIDR = 0x1c;
export const ARM_SMMU_CR0 = 0x20;
export const ARM_SMMU_CR0ACK = 0x24;
export const ARM_SMMU_CR1 = 0x28;
export const ARM_SMMU_CR2 = 0x2c;
export const ARM_SMMU_STATUSR = 0x40;
export const ARM_SMMU_GBPA = 0x44;
export const ARM_SMMU_IRQ_CTRL = 0x50;
export const ARM_SMMU_IRQ_CTRLACK = 0x54;
export const ARM_SMMU_GERROR = 0x60;
export const ARM_SMMU_GERRORN = 0x64;
export const ARM_SMMU_GERROR_IRQ_CFG0 = 0x68;
export const ARM_SMMU_GERROR_IRQ_CFG1 = 0x70;
export const ARM_SMMU_GERROR_IRQ_CFG2 = 0x74;
export const ARM_SMMU_STRTAB_BASE = 0x80;
export const ARM_SMMU_STRTAB_BASE_CFG = 0x88;
export const ARM_SMMU_CMDQ_BASE = 0x90;
export const ARM_SMMU_CMDQ_PROD = 0x98;
export const ARM_SMMU_CMDQ_CONS = 0x9c;
export const ARM_SMMU_EVTQ_BASE = 0xa0;
export const ARM_SMMU_EVTQ_IRQ_CFG0 = 0xb0;
export const ARM_SMMU_EVTQ_IRQ_CFG1 = 0xb8;
export const ARM_SMMU_EVTQ_IRQ_CFG2 = 0xbc;
export const ARM_SMMU_PRIQ_BASE = 0xc0;
export const ARM_SMMU_PRIQ_IRQ_CFG0 = 0xd0;
export const ARM_SMMU_PRIQ_IRQ_CFG1 = 0xd8;
export const ARM_SMMU_PRIQ_IRQ_CFG2 = 0xdc;
/** Page 1 (base + 64 KiB) holds the event and PRI queue indices. */
export const ARM_SMMU_PAGE1 = 0x10000;
export const ARM_SMMU_EVTQ_PROD = 0xa8;
export const ARM_SMMU_EVTQ_CONS = 0xac;
export const ARM_SMMU_PRIQ_PROD = 0xc8;
export const ARM_SMMU_PRIQ_CONS = 0xcc;
/** Linux maps this much of each page (the rest may belong to the PMCG). */
export const ARM_SMMU_REG_SZ = 0xe00;

// Registers are 32 bits (dword 0, bits [31:0]) except the 64-bit BASE/CFG0 ones.
export const IDR0 = FieldTable.le64('IDR0', 4, [
  ['S2P', 0, 0, 0],
  ['S1P', 0, 1, 1],
  ['TTF', 0, 3, 2],
  ['COHACC', 0, 4, 4],
  ['BTM', 0, 5, 5],
  ['HTTU', 0, 7, 6],
  ['HYP', 0, 9, 9],
  ['ATS', 0, 10, 10],
  ['ASID16', 0, 12, 12],
  ['MSI', 0, 13, 13],
  ['SEV', 0, 14, 14],
  ['PRI', 0, 16, 16],
  ['VMID16', 0, 18, 18],
  ['CD2L', 0, 19, 19],
  ['TTENDIAN', 0, 22, 21],
  ['STALL_MODEL', 0, 25, 24],
  ['TERM_MODEL', 0, 26, 26],
  ['ST_LEVEL', 0, 28, 27],
]);
export const IDR0_TTF_AARCH64 = 2;
export const IDR0_TTF_AARCH32_64 = 3;
export const IDR0_TTENDIAN_MIXED = 0;
export const IDR0_TTENDIAN_LE = 2;
export const IDR0_STALL_MODEL_STALL = 0;
export const IDR0_STALL_MODEL_FORCE = 2;
export const IDR0_ST_LVL_2LVL = 1;
export const IDR0_HTTU_ACCESS = 1;
export const IDR0_HTTU_ACCESS_DIRTY = 2;

export const IDR1 = FieldTable.le64('IDR1', 4, [
  ['SIDSIZE', 0, 5, 0],
  ['SSIDSIZE', 0, 10, 6],
  ['PRIQS', 0, 15, 11],
  ['EVTQS', 0, 20, 16],
  ['CMDQS', 0, 25, 21],
  ['ATTR_TYPES_OVR', 0, 27, 27],
  ['REL', 0, 28, 28],
  ['QUEUES_PRESET', 0, 29, 29],
  ['TABLES_PRESET', 0, 30, 30],
]);

export const IDR3 = FieldTable.le64('IDR3', 4, [
  ['HAD', 0, 2, 2],
  ['RIL', 0, 10, 10],
]);

export const IDR5 = FieldTable.le64('IDR5', 4, [
  ['OAS', 0, 2, 0],
  ['GRAN4K', 0, 4, 4],
  ['GRAN16K', 0, 5, 5],
  ['GRAN64K', 0, 6, 6],
  ['VAX', 0, 11, 10],
  ['STALL_MAX', 0, 31, 16],
]);
/** IDR5.OAS encodings -> bits. */
export const OAS_BITS = [32, 36, 40, 42, 44, 48, 52] as const;

export const IIDR = FieldTable.le64('IIDR', 4, [
  ['IMPLEMENTER', 0, 11, 0],
  ['REVISION', 0, 15, 12],
  ['VARIANT', 0, 19, 16],
  ['PRODUCTID', 0, 31, 20],
]);

export const CR0_SMMUEN = 1 << 0;
export const CR0_PRIQEN = 1 << 1;
export const CR0_EVTQEN = 1 << 2;
export const CR0_CMDQEN = 1 << 3;
export const CR0_ATSCHK = 1 << 4;

export const CR1 = FieldTable.le64('CR1', 4, [
  ['QUEUE_IC', 0, 1, 0],
  ['QUEUE_OC', 0, 3, 2],
  ['QUEUE_SH', 0, 5, 4],
  ['TABLE_IC', 0, 7, 6],
  ['TABLE_OC', 0, 9, 8],
  ['TABLE_SH', 0, 11, 10],
]);
export const CR1_CACHE_WB = 1;

export const CR2_E2H = 1 << 0;
export const CR2_RECINVSID = 1 << 1;
export const CR2_PTM = 1 << 2;

export const GBPA_ABORT = 1 << 20;
/** Bit 31: software sets it with the new value; the SMMU clears it when the update took effect. */
export const GBPA_UPDATE = 0x80000000;

export const IRQ_CTRL_GERROR_IRQEN = 1 << 0;
export const IRQ_CTRL_PRIQ_IRQEN = 1 << 1;
export const IRQ_CTRL_EVTQ_IRQEN = 1 << 2;

export const GERROR_CMDQ_ERR = 1 << 0;
export const GERROR_EVTQ_ABT_ERR = 1 << 2;
export const GERROR_PRIQ_ABT_ERR = 1 << 3;
export const GERROR_MSI_CMDQ_ABT_ERR = 1 << 4;
export const GERROR_MSI_EVTQ_ABT_ERR = 1 << 5;
export const GERROR_MSI_PRIQ_ABT_ERR = 1 << 6;
export const GERROR_MSI_GERROR_ABT_ERR = 1 << 7;
export const GERROR_SFM_ERR = 1 << 8;
export const GERROR_ERR_MASK = 0x1fd;

export const STRTAB_BASE = FieldTable.le64('STRTAB_BASE', 8, [
  ['ADDR', 0, 51, 6, 'addr'],
  ['RA', 0, 62, 62],
]);
export const STRTAB_BASE_CFG = FieldTable.le64('STRTAB_BASE_CFG', 4, [
  ['LOG2SIZE', 0, 5, 0],
  ['SPLIT', 0, 10, 6],
  ['FMT', 0, 17, 16],
]);
export const STRTAB_BASE_CFG_FMT_LINEAR = 0;
export const STRTAB_BASE_CFG_FMT_2LVL = 1;

/** CMDQ_BASE / EVTQ_BASE / PRIQ_BASE. */
export const Q_BASE = FieldTable.le64('Q_BASE', 8, [
  ['LOG2SIZE', 0, 4, 0],
  ['ADDR', 0, 51, 5, 'addr'],
  ['RWA', 0, 62, 62],
]);

/** CMDQ_CONS.ERR [30:24]. */
export const CMDQ_CONS_ERR_SHIFT = 24;
export const CMDQ_CONS_ERR_MASK = 0x7f;
export const CMDQ_ERR_CERROR_NONE_IDX = 0;
export const CMDQ_ERR_CERROR_ILL_IDX = 1;
export const CMDQ_ERR_CERROR_ABT_IDX = 2;
export const CMDQ_ERR_CERROR_ATC_INV_IDX = 3;

/** IRQ_CFG0 ADDR[51:2]; IRQ_CFG2 SH[5:4], MEMATTR[3:0]. */
export const IRQ_CFG0_ADDR_MASK_LO = 0xfffffffc;
