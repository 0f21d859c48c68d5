// Virtual addresses as signed Numbers, shared by the CPU MMU and the SMMU's stage 1:
// an address with VA[63] set is carried as its negative two's-complement value, so the
// TTBR1 range [-2^55, 0) and the TTBR0 range [0, 2^55) are contiguous. Exact while the
// address is a multiple of its ulp (always for sign-extended addresses; a tagged one
// keeps its bits from 2^11 up).

export const TWO55 = 2 ** 55;
const TWO55_RECIPROCAL = 2 ** -55;
const TWO56 = 2 ** 56;
const TWO56_RECIPROCAL = 2 ** -56;
export const TWO63 = 2 ** 63;
export const TWO64 = 2 ** 64;

/** An unsigned 64-bit address (as a Number) in the signed form; a signed one unchanged. */
export function signedVa(va: number): number {
  return va >= TWO63 ? va - TWO64 : va;
}

/** VA[55] (D8.2.5): 1 selects the upper (TTBR1) range, 0 the lower. */
export function vaRegion(va: number): 0 | 1 {
  return (Math.floor(va * TWO55_RECIPROCAL) & 1) as 0 | 1;
}

/** VA[63:56] are already copies of VA[55]. */
export function isSignExtended(va: number): boolean {
  return va >= -TWO55 && va < TWO55;
}

/**
 * Top-byte ignore: VA[63:56] become copies of VA[55]. Subtracts the multiple of 2^56 that
 * brings the address into [-2^55, 2^55); adding 2^56 to a small negative VA, as
 * va % 2^56 would, rounds its low bits away.
 */
export function withoutTopByte(va: number): number {
  return va - Math.floor(va * TWO56_RECIPROCAL + 0.5) * TWO56;
}
