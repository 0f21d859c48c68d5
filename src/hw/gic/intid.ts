// The GICv3 INTID space and the priority scheme this GIC implements.
// IHI 0069 2.2 (INTIDs): SGIs 0-15, PPIs 16-31, SPIs 32-1019, special 1020-1023,
// LPIs from 8192. IHI 0069 4.8 (interrupt prioritization): lower value = higher priority.

export const SGI_COUNT = 16;
/** SGIs and PPIs: banked per PE in the Redistributor. */
export const PRIVATE_INTIDS = 32;
export const SPI_BASE = 32;
export const MAX_SPI_INTID = 1019;
/** IHI 0069 2.2 (special INTIDs): returned by ICC_IAR1_EL1/ICC_HPPIR1_EL1 when nothing is pending. */
export const INTID_SPURIOUS = 1023;
export const LPI_BASE = 8192;

/** INTID bits: GICD_TYPER.IDbits + 1, ICC_CTLR_EL1.IDbits = 0 (16 bits). */
export const INTID_BITS = 16;
export const MAX_INTIDS = 1 << INTID_BITS;

/**
 * Implemented priority bits (ICC_CTLR_EL1.PRIbits + 1). Five bits, 32 levels, the
 * minimum IHI 0069 4.8 allows with two security states and what QEMU models; the
 * unimplemented low bits of every priority field are RAZ/WI.
 */
export const PRIORITY_BITS = 5;
export const PRIORITY_MASK = (0xff << (8 - PRIORITY_BITS)) & 0xff;
/** ICC_RPR_EL1 when no interrupt is active. */
export const IDLE_PRIORITY = 0xff;
/**
 * Group priority mask for Group 1 with the minimum binary point (ICC_BPR1_EL1 = 3 for
 * five priority bits, IHI 0069 4.8, ICC_BPR1_EL1): every implemented bit is group priority, so
 * any higher priority preempts.
 */
export const GROUP_PRIORITY_MASK = PRIORITY_MASK;

/** Count trailing zeros of a non-zero 32-bit word. */
export function ctz32(w: number): number {
  return 31 - Math.clz32(w & -w);
}
