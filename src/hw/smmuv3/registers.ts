// SMMUv3 programming interface (IHI 0070 chapter 6): register offsets, field
// positions, and the ID register values this model advertises. Every ID bit says
// what the model really does.

/** Page 1 sits 64 KiB above page 0 (IHI 0070 6.1); EVENTQ/PRIQ PROD/CONS live there. */
export const SMMU_PAGE1 = 0x10000;
export const SMMU_REGION_SIZE = 0x20000;

// Page 0 offsets (IHI 0070 6.2, Table 6-1).
export const SMMU_IDR0 = 0x00;
export const SMMU_IDR1 = 0x04;
export const SMMU_IDR2 = 0x08;
export const SMMU_IDR3 = 0x0c;
export const SMMU_IDR4 = 0x10;
export const SMMU_IDR5 = 0x14;
export const SMMU_IIDR = 0x18;
export const SMMU_AIDR = 0x1c;
export const SMMU_CR0 = 0x20;
export const SMMU_CR0ACK = 0x24;
export const SMMU_CR1 = 0x28;
export const SMMU_CR2 = 0x2c;
export const SMMU_STATUSR = 0x40;
export const SMMU_GBPA = 0x44;
export const SMMU_IRQ_CTRL = 0x50;
export const SMMU_IRQ_CTRLACK = 0x54;
export const SMMU_GERROR = 0x60;
export const SMMU_GERRORN = 0x64;
export const SMMU_GERROR_IRQ_CFG0 = 0x68;
export const SMMU_GERROR_IRQ_CFG1 = 0x70;
export const SMMU_GERROR_IRQ_CFG2 = 0x74;
export const SMMU_STRTAB_BASE = 0x80;
export const SMMU_STRTAB_BASE_CFG = 0x88;
export const SMMU_CMDQ_BASE = 0x90;
export const SMMU_CMDQ_PROD = 0x98;
export const SMMU_CMDQ_CONS = 0x9c;
export const SMMU_EVENTQ_BASE = 0xa0;
export const SMMU_EVENTQ_IRQ_CFG0 = 0xb0;
export const SMMU_EVENTQ_IRQ_CFG1 = 0xb8;
export const SMMU_EVENTQ_IRQ_CFG2 = 0xbc;
export const SMMU_PRIQ_BASE = 0xc0;
export const SMMU_PRIQ_IRQ_CFG0 = 0xd0;
export const SMMU_PRIQ_IRQ_CFG1 = 0xd8;
export const SMMU_PRIQ_IRQ_CFG2 = 0xdc;
// Page 1 offsets (relative to page 1).
export const SMMU_EVENTQ_PROD = 0xa8;
export const SMMU_EVENTQ_CONS = 0xac;
export const SMMU_PRIQ_PROD = 0xc8;
export const SMMU_PRIQ_CONS = 0xcc;

// CR0 / CR0ACK (6.3.9).
export const CR0_SMMUEN = 1 << 0;
export const CR0_PRIQEN = 1 << 1;
export const CR0_EVENTQEN = 1 << 2;
export const CR0_CMDQEN = 1 << 3;

// CR2 (6.3.12).
export const CR2_E2H = 1 << 0;
export const CR2_RECINVSID = 1 << 1;
export const CR2_PTM = 1 << 2;

// IRQ_CTRL (6.3.16).
export const IRQ_CTRL_GERROR_IRQEN = 1 << 0;
export const IRQ_CTRL_PRIQ_IRQEN = 1 << 1;
export const IRQ_CTRL_EVENTQ_IRQEN = 1 << 2;

// GBPA (6.3.14).
export const GBPA_UPDATE = 1 << 31;
export const GBPA_ABORT = 1 << 20;

// GERROR / GERRORN (6.3.19).
export const GERROR_CMDQ_ERR = 1 << 0;
export const GERROR_EVENTQ_ABT_ERR = 1 << 2;
export const GERROR_PRIQ_ABT_ERR = 1 << 3;
export const GERROR_MSI_CMDQ_ABT_ERR = 1 << 4;
export const GERROR_MSI_EVENTQ_ABT_ERR = 1 << 5;
export const GERROR_MSI_PRIQ_ABT_ERR = 1 << 6;
export const GERROR_MSI_GERROR_ABT_ERR = 1 << 7;
export const GERROR_SFM_ERR = 1 << 8;
export const GERROR_MASK = 0x1fd;

// Queue PROD/CONS (6.3.27-28): index + wrap bit in [19:0], flags above.
export const Q_OVFLG = 1 << 31;
export const CMDQ_CONS_ERR_SHIFT = 24;
export const CMDQ_CONS_ERR_MASK = 0x7f << 24;
/** CMDQ_CONS.ERR codes (IHI 0070 7.1, Table 7-1). */
export const CERROR_NONE = 0;
export const CERROR_ILL = 1;
export const CERROR_ABT = 2;
export const CERROR_ATC_INV_SYNC = 3;

// STRTAB_BASE_CFG (6.3.25).
export const STRTAB_FMT_LINEAR = 0;
export const STRTAB_FMT_2LVL = 1;

/** What the model implements; the ID registers are built from these. */
export const SMMU_FEATURES = {
  /** SIDSIZE: StreamID bits. */
  sidBits: 16,
  /** SSIDSIZE: SubstreamID (PASID) bits. */
  ssidBits: 20,
  /** CMDQS/EVENTQS/PRIQS: log2 of the largest queue. */
  cmdqLog2Max: 19,
  evtqLog2Max: 19,
  priqLog2Max: 19,
  /** OAS = IAS = 48 bits (IDR5.OAS = 0b101). */
  oasBits: 48,
  /** IDR5.STALL_MAX: stalled transactions the model can hold at once. */
  stallMax: 64,
} as const;

/** IDR5.OAS encodings (6.3.6): 32, 36, 40, 42, 44, 48, 52 bits. */
export const OAS_BITS = [32, 36, 40, 42, 44, 48, 52] as const;

/**
 * IDR0 (6.3.1): S2P, S1P, TTF=AArch64, COHACC, Hyp, ASID16, MSI, SEV, PRI, VMID16,
 * CD2L, TTENDIAN=little, STALL_MODEL=stall+terminate, TERM_MODEL=abort only,
 * ST_LEVEL=2-level. BTM=0 (no broadcast TLBI snooping), HTTU=0, ATS=0, ATOS=0, VATOS=0.
 */
export const IDR0_VALUE =
  (1 << 0) | // S2P
  (1 << 1) | // S1P
  (2 << 2) | // TTF: AArch64 only
  (1 << 4) | // COHACC
  (1 << 9) | // Hyp
  (1 << 12) | // ASID16
  (1 << 13) | // MSI
  (1 << 14) | // SEV
  (1 << 16) | // PRI
  (1 << 18) | // VMID16
  (1 << 19) | // CD2L
  (2 << 21) | // TTENDIAN: little-endian only
  (0 << 24) | // STALL_MODEL: stall and terminate
  (1 << 26) | // TERM_MODEL: terminate = abort (no RAZ/WI)
  (1 << 27); // ST_LEVEL: 2-level Stream table

/** IDR1 (6.3.2): SIDSIZE, SSIDSIZE, PRIQS, EVENTQS, CMDQS; nothing preset. */
export const IDR1_VALUE =
  (SMMU_FEATURES.sidBits << 0) |
  (SMMU_FEATURES.ssidBits << 6) |
  (SMMU_FEATURES.priqLog2Max << 11) |
  (SMMU_FEATURES.evtqLog2Max << 16) |
  (SMMU_FEATURES.cmdqLog2Max << 21);

/**
 * IDR3 (6.3.4): RIL (range invalidation and TTL hint), PPS (auto PRG responses keep the PASID),
 * XNX (stage 2 XN is the two-bit EL0/EL1 encoding; mandatory from SMMUv3.1 with S2P, and the
 * shared walker decodes it so).
 */
export const IDR3_RIL = 1 << 10;
export const IDR3_PPS = 1 << 5;
export const IDR3_XNX = 1 << 4;
export const IDR3_VALUE = IDR3_RIL | IDR3_PPS | IDR3_XNX;

/** IDR5 (6.3.6): OAS 48 bits, 4K/16K/64K granules (the shared walker does all three), STALL_MAX. */
export const IDR5_VALUE = (5 << 0) | (1 << 4) | (1 << 5) | (1 << 6) | (SMMU_FEATURES.stallMax << 16);

/** IIDR (6.3.7): no implementer code claimed (not an Arm MMU-600/700, so no errata workarounds apply). */
export const IIDR_VALUE = 0;

/** AIDR (6.3.8): SMMUv3.2 (RIL and the v3.1+ ILLEGAL rules for TxSZ). */
export const AIDR_VALUE = 0x02;
