// System-register fields and identification values of the svasoc core (Arm ARM
// DDI 0487 chapter D24). Field tables are data, so tests and the TUI can print them.

/** A field of a 64-bit system register: bit position and width. */
export interface SysregField {
  readonly lsb: number;
  readonly width: number;
}

export function field64(value: bigint, f: SysregField): number {
  return Number((value >> BigInt(f.lsb)) & ((1n << BigInt(f.width)) - 1n));
}

/** D24.2.151 SCTLR_EL1 (the fields the core implements). */
export const SCTLR = {
  M: { lsb: 0, width: 1 },
  A: { lsb: 1, width: 1 },
  C: { lsb: 2, width: 1 },
  I: { lsb: 12, width: 1 },
  WXN: { lsb: 19, width: 1 },
  /** 0: PSTATE.PAN is set on exception entry to EL1. */
  SPAN: { lsb: 23, width: 1 },
} as const satisfies Record<string, SysregField>;

/** RES1 bits of SCTLR_EL1 in Armv8.0 plus SPAN=1 (bits 11, 20, 22, 23, 28, 29): the reset value, MMU off. */
export const SCTLR_RESET = 0x30d0_0800n;

/** D24.2.194 TCR_EL1. */
export const TCR = {
  T0SZ: { lsb: 0, width: 6 },
  EPD0: { lsb: 7, width: 1 },
  TG0: { lsb: 14, width: 2 },
  T1SZ: { lsb: 16, width: 6 },
  A1: { lsb: 22, width: 1 },
  EPD1: { lsb: 23, width: 1 },
  TG1: { lsb: 30, width: 2 },
  IPS: { lsb: 32, width: 3 },
  AS: { lsb: 36, width: 1 },
  TBI0: { lsb: 37, width: 1 },
  TBI1: { lsb: 38, width: 1 },
} as const satisfies Record<string, SysregField>;

/** TCR_EL1.TG0: 0b00 4K, 0b01 64K, 0b10 16K; reserved 0b11 is treated as 4K. */
export function tg0GranuleShift(tg0: number): 12 | 14 | 16 {
  return tg0 === 1 ? 16 : tg0 === 2 ? 14 : 12;
}

/** TCR_EL1.TG1 (a different encoding!): 0b01 16K, 0b10 4K, 0b11 64K; reserved 0b00 is treated as 4K. */
export function tg1GranuleShift(tg1: number): 12 | 14 | 16 {
  return tg1 === 1 ? 14 : tg1 === 3 ? 16 : 12;
}

/** TCR_EL1.IPS -> output size in bits, capped at the implemented PARange (48). */
export function ipsBits(ips: number): number {
  const bits = [32, 36, 40, 42, 44, 48, 52, 48][ips & 7]!;
  return bits > PA_BITS ? PA_BITS : bits;
}

/** D24.2.199/200 TTBRn_EL1: ASID [63:48], BADDR [47:1], CnP [0]. */
export const TTBR = {
  ASID: { lsb: 48, width: 16 },
  BADDR: { lsb: 1, width: 47 },
} as const satisfies Record<string, SysregField>;

/** Implemented physical address size (ID_AA64MMFR0_EL1.PARange = 0b0101). */
export const PA_BITS = 48;

/** DAIF register layout: D [9], A [8], I [7], F [6]. */
export const DAIF_D = 1 << 9;
export const DAIF_A = 1 << 8;
export const DAIF_I = 1 << 7;
export const DAIF_F = 1 << 6;
export const DAIF_ALL = DAIF_D | DAIF_A | DAIF_I | DAIF_F;
/** PAN register: PSTATE.PAN in bit 22. */
export const PAN_BIT = 1 << 22;

/**
 * Identification registers: exactly what this core implements.
 * D24.2.64 ID_AA64MMFR0_EL1: PARange [3:0] = 0b0101 (48 bits), ASIDBits [7:4] = 0b0010
 * (16 bits), TGran16 [23:20] = 0b0001 (16K supported), TGran64 [27:24] = 0b0000
 * (supported), TGran4 [31:28] = 0b0000 (supported); mixed-endian, secure memory and
 * the stage 2 granule fields are 0 (no EL2).
 */
export const ID_AA64MMFR0 = 0x0010_0025n;
/**
 * D24.2.65 ID_AA64MMFR1_EL1: PAN [23:20] = 0b0001 (FEAT_PAN); HAFDBS = 0 (no hardware
 * Access flag or dirty update), VH = 0, HPDS = 0, XNX = 0.
 */
export const ID_AA64MMFR1 = 0x0010_0000n;
/** D24.2.66 ID_AA64MMFR2_EL1: VARange = 0 (48-bit VA), ST = 0 (no TTST), TTL = 0: all zero. */
export const ID_AA64MMFR2 = 0n;
/**
 * D24.2.72 ID_AA64PFR0_EL1: EL0 [3:0] = EL1 [7:4] = 0b0001 (AArch64 only), EL2 = 0
 * (not implemented), EL3 [15:12] = 0b0001 (firmware answers SMC), FP [19:16] and
 * AdvSIMD [23:20] = 0b1111 (not implemented), GIC [27:24] = 0b0001 (GICv3 system
 * register interface).
 */
export const ID_AA64PFR0 = 0x01ff_1011n;
/**
 * D24.2.61 ID_AA64ISAR0_EL1: TLB [59:56] = 0b0010 (FEAT_TLBIOS and FEAT_TLBIRANGE: the
 * range TLBI operations RVAE1IS/RVALE1IS/RVAAE1IS are implemented).
 */
export const ID_AA64ISAR0 = 0x0200_0000_0000_0000n;
/**
 * MIDR_EL1 of HiSilicon TaiShan v110 (Kunpeng 920): Implementer 0x48 ('H'),
 * Variant 1, Architecture 0xf, PartNum 0xd01, Revision 0 (Linux
 * arch/arm64/include/asm/cputype.h: ARM_CPU_IMP_HISI, HISI_CPU_PART_TSV110).
 */
export const MIDR_TSV110 = 0x481f_d010n;
/** MPIDR_EL1: bit 31 RES1, U [30] = 0 (multiprocessor), Aff0 = core number. */
export function mpidrFor(coreId: number): bigint {
  return 0x8000_0000n | BigInt(coreId & 0xff);
}

/** Generic timer frequency: 62.5 MHz, as QEMU's virt board (16 ns per tick). */
export const CNTFRQ_HZ = 62_500_000;
export const NS_PER_TICK = 1e9 / CNTFRQ_HZ;
/** D24.8 CNTV_CTL_EL0: ENABLE [0], IMASK [1], ISTATUS [2] (read-only). */
export const CNTV_CTL_ENABLE = 1;
export const CNTV_CTL_IMASK = 2;
export const CNTV_CTL_ISTATUS = 4;
/** The virtual timer's PPI (INTID 27, as the arm,armv8-timer binding and QEMU virt use). */
export const VTIMER_PPI = 27;
