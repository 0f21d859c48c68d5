// The contract of the shared VMSAv8-64 translation-table walker (src/hw/vmsa/walker.ts),
// used by the CPU MMU and by the SMMU for stage 1 and stage 2. Hot path: the walker
// fills a caller-owned WalkResult and allocates nothing.

export const enum WalkFault {
  None = 0,
  /** Invalid descriptor, or input address outside the range TxSZ allows. */
  Translation = 1,
  /** Output/table address beyond the configured output size (IPS/PS/OAS). */
  AddressSize = 2,
  /** Access flag clear in a leaf descriptor (and no hardware AF update). */
  AccessFlag = 3,
  /** Permission check failed (from checkPermission, not from walk). */
  Permission = 4,
  /** The descriptor read was a bus error (synchronous external abort on walk). */
  ExternalAbort = 5,
}

export interface WalkConfig {
  /** 1 = stage 1 (AP/UXN/PXN, ASID/nG), 2 = stage 2 (S2AP, XN). */
  stage: 1 | 2;
  /** Base of the level-0 (or start-level) table: a PA (or IPA when `s2` is set). */
  ttb: number;
  /** log2 granule: 12 (4 KiB), 14 (16 KiB) or 16 (64 KiB). */
  granuleShift: 12 | 14 | 16;
  /** TxSZ: input address size is 64 - tsz bits. */
  tsz: number;
  /**
   * Stage 2 only: SL0 as in VTCR_EL2 (with the granule it gives the start level).
   * Stage 1 derives the start level from tsz and the granule.
   */
  sl0?: number;
  /** Output address size in bits (from IPS / PS / OAS, e.g. 48). */
  oasBits: number;
  /** Access-flag faults disabled (CD.AFFD / STE.S2AFFD): AF=0 is treated as AF=1. */
  affd?: boolean;
  /**
   * Nested translation: each table address produced by this (stage 1) walk is an IPA
   * that must be translated by stage 2 first. Returns the PA or -1 with `s2Fault` set.
   */
  s2?: NestedStage2;
}

export interface NestedStage2 {
  /** Translates a stage-1 table IPA for a read; returns PA or -1 (fault recorded in `out`). */
  translateTableAddress(ipa: number, out: WalkResult): number;
}

/** Something the walker reads descriptors through: the bus, as a given master. */
export interface DescriptorReader {
  /**
   * Reads the 64-bit little-endian descriptor at `pa`. Returns the low 32 bits and
   * leaves the high 32 bits in `hi`; sets `error` on a bus error.
   */
  readDescriptor(pa: number): number;
  hi: number;
  error: boolean;
}

/** Filled by `walk`. Reused by callers; fields are only meaningful as documented. */
export class WalkResult {
  fault: WalkFault = WalkFault.None;
  /** The stage of the walk that filled this result (selects the permission model). */
  stage: 1 | 2 = 1;
  /** Level at which the walk ended (leaf level, or the level that faulted). */
  level = 0;
  /** Output address for the input address (PA, or IPA for a nested stage 1). */
  pa = 0;
  /** log2 of the size of the mapping (12 for a 4K page, 21 for a 2M block...). */
  sizeShift = 12;
  /** Address of the last descriptor read (for fault records and the trace). */
  descriptorPa = 0;
  /** Descriptors read by this walk (for cost accounting). */
  reads = 0;
  // ---- leaf attributes (stage 1) ----
  /** AP[2:1]: 0 EL1 RW, 1 RW both, 2 EL1 RO, 3 RO both (table APTable already folded in). */
  ap = 0;
  uxn = false;
  pxn = false;
  /** Not global: tagged with the ASID. */
  ng = false;
  af = false;
  /** MAIR index (AttrIndx). */
  attrIndx = 0;
  /** Software bits [58:55] of the leaf (Linux uses them for dirty/special). */
  sw = 0;
  /** DBM bit 51. */
  dbm = false;
  // ---- leaf attributes (stage 2) ----
  /** S2AP: bit0 read, bit1 write. */
  s2ap = 0;
  /** Stage-2 XN[1:0] (XN=2 or 3 forbids execution at EL1/EL0 as FEAT_XNX defines; 0 allows). */
  s2xn = 0;
  /** Set when a nested stage-2 walk of a table address failed (fault describes it). */
  s2Fault = false;
  /** IPA that stage 2 failed on, when s2Fault. */
  s2FaultIpa = 0;

  clear(): void {
    this.fault = WalkFault.None;
    this.level = 0;
    this.pa = 0;
    this.sizeShift = 12;
    this.descriptorPa = 0;
    this.reads = 0;
    this.ap = 0;
    this.uxn = false;
    this.pxn = false;
    this.ng = false;
    this.af = false;
    this.attrIndx = 0;
    this.sw = 0;
    this.dbm = false;
    this.s2ap = 0;
    this.s2xn = 0;
    this.s2Fault = false;
    this.s2FaultIpa = 0;
  }
}

/** The access being checked against a leaf's permissions. */
export interface AccessKind {
  write: boolean;
  exec: boolean;
  /** Privileged (EL1 / PCIe PnU=1) vs unprivileged (EL0). */
  priv: boolean;
}
