// Field tables for the SMMUv3 in-memory structures (STE, CD, commands, events, PRI
// entries) as the driver sees them. An entry is a Uint32Array of 32-bit halves:
// index 2*d is bits [31:0] of 64-bit dword d, index 2*d+1 bits [63:32]. Each field is
// (name, dword, hi, lo) as IHI 0070 and Linux's arm-smmu-v3.h place it; encode,
// decode, masks and the printable form all derive from the table. The device model
// keeps its own tables (DESIGN.md section 1); tests hold the two against vectors.

const TWO32 = 4294967296;

export interface FieldSpec {
  readonly name: string;
  /** 64-bit dword index inside the entry. */
  readonly dword: number;
  /** Highest and lowest bit inside the dword (0..63). */
  readonly hi: number;
  readonly lo: number;
  /**
   * 'addr' fields hold an address whose bits sit in place (S1ContextPtr[51:6],
   * TTB0[51:4], ...): get/set take the address, not the shifted field value.
   */
  readonly kind?: 'addr';
}

export type FieldTable = Readonly<Record<string, FieldSpec>>;

/** Builds a field table from [name, dword, hi, lo, kind?] rows. */
export function fieldTable<const N extends string>(rows: readonly (readonly [N, number, number, number, ('addr' | undefined)?])[]): Readonly<Record<N, FieldSpec>> {
  const out = {} as Record<N, FieldSpec>;
  for (const [name, dword, hi, lo, kind] of rows) {
    if (hi < lo || hi > 63 || lo < 0 || hi - lo > 52) throw new Error(`field table: bad bit range for ${name}: [${hi}:${lo}]`);
    out[name] = kind === undefined ? { name, dword, hi, lo } : { name, dword, hi, lo, kind };
  }
  return out;
}

function lowMask(bits: number): number {
  return bits >= 32 ? 0xffffffff : bits <= 0 ? 0 : 2 ** bits - 1;
}

/** Raw field value (bits [hi:lo] shifted down), exact up to 53 bits. */
export function fieldRaw(e: Uint32Array, f: FieldSpec): number {
  const base = f.dword * 2;
  const { hi, lo } = f;
  if (hi < 32) return ((e[base]! >>> lo) & lowMask(hi - lo + 1)) >>> 0;
  if (lo >= 32) return ((e[base + 1]! >>> (lo - 32)) & lowMask(hi - lo + 1)) >>> 0;
  const low = e[base]! >>> lo;
  const high = e[base + 1]! & lowMask(hi - 31);
  return low + high * 2 ** (32 - lo);
}

/** Field value: an address for 'addr' fields, else the raw value. */
export function getField(e: Uint32Array, f: FieldSpec): number {
  const raw = fieldRaw(e, f);
  return f.kind === 'addr' ? raw * 2 ** f.lo : raw;
}

/** Writes a field (an address for 'addr' fields; bits outside the field are dropped). */
export function setField(e: Uint32Array, f: FieldSpec, value: number): void {
  const base = f.dword * 2;
  const { hi, lo } = f;
  const width = hi - lo + 1;
  let raw = f.kind === 'addr' ? Math.floor(value / 2 ** lo) : value;
  raw = raw % 2 ** width;
  if (raw < 0) raw += 2 ** width;
  if (hi < 32) {
    const m = (lowMask(width) << lo) >>> 0;
    e[base] = ((e[base]! & ~m) | ((raw << lo) & m)) >>> 0;
  } else if (lo >= 32) {
    const s = lo - 32;
    const m = (lowMask(width) << s) >>> 0;
    e[base + 1] = ((e[base + 1]! & ~m) | ((raw << s) & m)) >>> 0;
  } else {
    const lowBits = 32 - lo;
    const lowPart = raw % 2 ** lowBits;
    const highPart = Math.floor(raw / 2 ** lowBits);
    const ml = (lowMask(lowBits) << lo) >>> 0;
    e[base] = ((e[base]! & ~ml) | ((lowPart << lo) & ml)) >>> 0;
    const mh = lowMask(hi - 31);
    e[base + 1] = ((e[base + 1]! & ~mh) | (highPart & mh)) >>> 0;
  }
}

/** ORs the mask of field `f` (all ones over [hi:lo]) into `mask`. */
export function orFieldMask(mask: Uint32Array, f: FieldSpec): void {
  const base = f.dword * 2;
  for (let b = f.lo; b <= f.hi; b++) {
    const i = base + (b >= 32 ? 1 : 0);
    mask[i] = (mask[i]! | (1 << (b & 31))) >>> 0;
  }
}

/** Clears the bits of field `f` in `mask`. */
export function clearFieldMask(mask: Uint32Array, f: FieldSpec): void {
  const base = f.dword * 2;
  for (let b = f.lo; b <= f.hi; b++) {
    const i = base + (b >= 32 ? 1 : 0);
    mask[i] = (mask[i]! & ~(1 << (b & 31))) >>> 0;
  }
}

/** A dword of the entry as a bigint (cold paths: printing, 64-bit stores). */
export function dwordBig(e: Uint32Array, d: number): bigint {
  return (BigInt(e[2 * d + 1]!) << 32n) | BigInt(e[2 * d]!);
}

/** Sets a whole dword from a bigint (fixtures, MAIR). */
export function setDwordBig(e: Uint32Array, d: number, v: bigint): void {
  e[2 * d] = Number(v & 0xffffffffn);
  e[2 * d + 1] = Number((v >> 32n) & 0xffffffffn);
}

/** A dword as a Number when it is below 2^53 (addresses), else NaN. */
export function dwordNumber(e: Uint32Array, d: number): number {
  const hi = e[2 * d + 1]!;
  return hi >= 0x200000 ? NaN : hi * TWO32 + e[2 * d]!;
}

/** Decodes every non-zero field of the table: { FIELD: value } (for dumps and the TUI). */
export function decodeFields(e: Uint32Array, table: FieldTable): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of Object.values(table)) {
    const v = getField(e, f);
    if (v !== 0) out[f.name] = v;
  }
  return out;
}

/** "V=1 CFG=0x5 S1CTXPTR=0x40001000" for the non-zero fields. */
export function formatFields(e: Uint32Array, table: FieldTable): string {
  return Object.entries(decodeFields(e, table))
    .map(([k, v]) => (v < 10 ? `${k}=${v}` : `${k}=0x${v.toString(16)}`))
    .join(' ');
}

/** "0x0123456789abcdef 0x..." (one hex word per dword), as Linux's event dumps print them. */
export function formatDwords(e: Uint32Array): string {
  const parts: string[] = [];
  for (let d = 0; d < e.length / 2; d++) parts.push('0x' + dwordBig(e, d).toString(16).padStart(16, '0'));
  return parts.join(' ');
}
