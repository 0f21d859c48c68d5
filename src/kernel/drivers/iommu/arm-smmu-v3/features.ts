// What the driver learned from the ID registers and firmware (arm_smmu_device.features
// and .options in Linux). Bits, so a whole set travels as one number.

export const ARM_SMMU_FEAT_2_LVL_STRTAB = 1 << 0;
export const ARM_SMMU_FEAT_2_LVL_CDTAB = 1 << 1;
export const ARM_SMMU_FEAT_TT_LE = 1 << 2;
export const ARM_SMMU_FEAT_TT_BE = 1 << 3;
export const ARM_SMMU_FEAT_PRI = 1 << 4;
export const ARM_SMMU_FEAT_ATS = 1 << 5;
export const ARM_SMMU_FEAT_SEV = 1 << 6;
export const ARM_SMMU_FEAT_MSI = 1 << 7;
export const ARM_SMMU_FEAT_COHERENCY = 1 << 8;
export const ARM_SMMU_FEAT_TRANS_S1 = 1 << 9;
export const ARM_SMMU_FEAT_TRANS_S2 = 1 << 10;
export const ARM_SMMU_FEAT_STALLS = 1 << 11;
export const ARM_SMMU_FEAT_HYP = 1 << 12;
export const ARM_SMMU_FEAT_STALL_FORCE = 1 << 13;
export const ARM_SMMU_FEAT_VAX = 1 << 14;
export const ARM_SMMU_FEAT_RANGE_INV = 1 << 15;
export const ARM_SMMU_FEAT_BTM = 1 << 16;
export const ARM_SMMU_FEAT_SVA = 1 << 17;
export const ARM_SMMU_FEAT_E2H = 1 << 18;
export const ARM_SMMU_FEAT_NESTING = 1 << 19;
export const ARM_SMMU_FEAT_ATTR_TYPES_OVR = 1 << 20;
export const ARM_SMMU_FEAT_HA = 1 << 21;
export const ARM_SMMU_FEAT_HD = 1 << 22;

export const ARM_SMMU_OPT_SKIP_PREFETCH = 1 << 0;
export const ARM_SMMU_OPT_PAGE0_REGS_ONLY = 1 << 1;
export const ARM_SMMU_OPT_MSIPOLL = 1 << 2;
export const ARM_SMMU_OPT_CMDQ_FORCE_SYNC = 1 << 3;

/** Shareability and memory-attribute encodings the driver writes (arm-smmu-v3.h). */
export const ARM_SMMU_SH_NSH = 0;
export const ARM_SMMU_SH_OSH = 2;
export const ARM_SMMU_SH_ISH = 3;
export const ARM_SMMU_MEMATTR_DEVICE_nGnRE = 0x1;
export const ARM_SMMU_MEMATTR_OIWB = 0xf;
