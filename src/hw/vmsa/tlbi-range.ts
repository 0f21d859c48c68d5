// Range TLB invalidation (FEAT_TLBIRANGE, Arm ARM DDI 0487 D8.17 "TLB maintenance
// instructions", TLBI RVAE1IS and friends). The CPU operand and the SMMU's
// TLBI_NH_VA/TLBI_S2_IPA range form (IHI 0070 4.4.2) share the encodings of TG,
// SCALE, NUM and TTL; only the field positions differ.
//
// Range = (NUM + 1) * 2^(5*SCALE + 1) translation granules, starting at BaseADDR.

/**
 * TG field: log2 of the translation granule the range is expressed in, or 0 for the
 * reserved encoding 0b00 (no entries are required to be invalidated).
 */
export function tlbiGranuleShift(tg: number): number {
  switch (tg & 3) {
    case 1:
      return 12;
    case 2:
      return 14;
    case 3:
      return 16;
    default:
      return 0;
  }
}

/** Number of granules a range operation covers: (NUM + 1) * 2^(5*SCALE + 1). */
export function tlbiRangeGranules(scale: number, num: number): number {
  return ((num & 31) + 1) * 2 ** (5 * (scale & 3) + 1);
}

/** A decoded range operand. Reused by callers: `decodeRangeOperand` fills it. */
export class TlbiRange {
  /** False when TG is reserved: the operation invalidates nothing. */
  valid = false;
  asid = 0;
  /** log2 of the granule (12, 14, 16). */
  granuleShift = 12;
  /** Number of granules covered. */
  granules = 0;
  /** First address covered, sign-extended from the top bit of BaseADDR (negative = TTBR1 half). */
  base = 0;
  /** Bytes covered: granules << granuleShift. */
  bytes = 0;
  /** TTL level hint: 1..3 when the leaf entries are known to be at that level, -1 when any level. */
  ttlLevel = -1;
}

/**
 * Decodes the Xt operand of TLBI RVAE1IS/RVALE1IS/RVAAE1IS/RVAALE1IS (given as 32-bit
 * halves): ASID [63:48], TG [47:46], SCALE [45:44], NUM [43:39], TTL [38:37],
 * BaseADDR [36:0] in units of the granule (VA[48:12] for 4K, VA[50:14] for 16K,
 * VA[52:16] for 64K).
 */
export function decodeRangeOperand(lo: number, hi: number, out: TlbiRange): TlbiRange {
  out.asid = (hi >>> 16) & 0xffff;
  const tg = (hi >>> 14) & 3;
  const scale = (hi >>> 12) & 3;
  const num = (hi >>> 7) & 31; // bits [43:39]
  const ttl = (hi >>> 5) & 3; // bits [38:37]
  const baseGranules = (hi & 0x1f) * 4294967296 + (lo >>> 0); // bits [36:0]
  out.granuleShift = tlbiGranuleShift(tg);
  out.valid = out.granuleShift !== 0;
  out.granules = tlbiRangeGranules(scale, num);
  out.ttlLevel = ttl === 0 ? -1 : ttl;
  const signed = baseGranules >= 2 ** 36 ? baseGranules - 2 ** 37 : baseGranules;
  const g = out.valid ? out.granuleShift : 12;
  out.base = signed * 2 ** g;
  out.bytes = out.granules * 2 ** g;
  return out;
}

/**
 * Builds the operand the way Linux's __TLBI_VADDR_RANGE does (for tests and the
 * guest's own helpers): returns [lo, hi].
 */
export function encodeRangeOperand(
  asid: number,
  granuleShift: 12 | 14 | 16,
  scale: number,
  num: number,
  ttl: number,
  base: number,
): [number, number] {
  const tg = granuleShift === 12 ? 1 : granuleShift === 14 ? 2 : 3;
  let units = Math.floor(base / 2 ** granuleShift);
  if (units < 0) units += 2 ** 37;
  units %= 2 ** 37;
  const lo = units >>> 0;
  const hi =
    (((asid & 0xffff) << 16) | (tg << 14) | ((scale & 3) << 12) | ((num & 31) << 7) | ((ttl & 3) << 5) | Math.floor(units / 4294967296)) >>> 0;
  return [lo, hi];
}
