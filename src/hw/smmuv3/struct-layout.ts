// In-memory structures of the SMMU (STE, CD, commands, event and PRI records) declared
// as field tables, the way IHI 0070 chapters 4, 5, 7 and 8 draw them: a name and a
// bit range counted from bit 0 of the structure. Encode and decode are derived from
// the table, so tests and the TUI can print any record by field name.
// Values travel as Numbers: a field is at most 52 bits wide.

export interface StructField {
  readonly name: string;
  /** Bit position of the field's least significant bit within the structure. */
  readonly lsb: number;
  readonly width: number;
}

/** [msb, lsb] as the spec writes the range, counted over the whole structure. */
export type BitRange = readonly [msb: number, lsb: number];

const POW2 = new Float64Array(64).map((_, i) => 2 ** i);

/** Reads `width` bits at `lsb` from little-endian 32-bit words. */
export function extractBits(words: Uint32Array, lsb: number, width: number): number {
  let value = 0;
  let got = 0;
  let bit = lsb;
  while (got < width) {
    const w = bit >>> 5;
    const sh = bit & 31;
    const take = Math.min(32 - sh, width - got);
    const word = words[w]! >>> sh;
    const part = take === 32 ? word >>> 0 : (word & ((2 ** take - 1) >>> 0)) >>> 0;
    value += part * POW2[got]!;
    got += take;
    bit += take;
  }
  return value;
}

/** Writes `width` bits of `value` at `lsb` into little-endian 32-bit words. */
export function depositBits(words: Uint32Array, lsb: number, width: number, value: number): void {
  let rest = Math.floor(value) % POW2[width]!;
  if (rest < 0) rest += POW2[width]!;
  let done = 0;
  let bit = lsb;
  while (done < width) {
    const w = bit >>> 5;
    const sh = bit & 31;
    const take = Math.min(32 - sh, width - done);
    const part = rest % POW2[take]!;
    rest = Math.floor(rest / POW2[take]!);
    const mask = take === 32 ? 0xffffffff : (((2 ** take - 1) >>> 0) << sh) >>> 0;
    words[w] = ((words[w]! & ~mask) | ((part * POW2[sh]!) & mask)) >>> 0;
    done += take;
    bit += take;
  }
}

export class StructLayout<N extends string> {
  readonly fields: readonly StructField[];
  private readonly byName: Readonly<Record<N, StructField>>;

  constructor(
    readonly name: string,
    readonly bytes: number,
    defs: Readonly<Record<N, BitRange>>,
  ) {
    const fields: StructField[] = [];
    const byName = {} as Record<N, StructField>;
    for (const key of Object.keys(defs) as N[]) {
      const [msb, lsb] = defs[key];
      const width = msb - lsb + 1;
      if (width <= 0 || width > 52 || msb >= bytes * 8) throw new Error(`${name}.${key}: bad bit range [${msb}:${lsb}]`);
      const f = { name: key, lsb, width };
      fields.push(f);
      byName[key] = f;
    }
    fields.sort((a, b) => a.lsb - b.lsb);
    this.fields = fields;
    this.byName = byName;
  }

  field(name: N): StructField {
    return this.byName[name];
  }

  get(words: Uint32Array, name: N): number {
    const f = this.byName[name];
    return extractBits(words, f.lsb, f.width);
  }

  flag(words: Uint32Array, name: N): boolean {
    return this.get(words, name) !== 0;
  }

  /**
   * An address field such as S1ContextPtr[55:6]: the field's bits in place within its
   * 64-bit word (the low bits below the field read as zero).
   */
  address(words: Uint32Array, name: N): number {
    const f = this.byName[name];
    return extractBits(words, f.lsb, f.width) * POW2[f.lsb & 63]!;
  }

  set(words: Uint32Array, name: N, value: number | boolean): void {
    const f = this.byName[name];
    depositBits(words, f.lsb, f.width, typeof value === 'boolean' ? (value ? 1 : 0) : value);
  }

  /** Stores an address into an address field (the inverse of `address`). */
  setAddress(words: Uint32Array, name: N, addr: number): void {
    const f = this.byName[name];
    depositBits(words, f.lsb, f.width, Math.floor(addr / POW2[f.lsb & 63]!));
  }

  /** Every field by name: for tests, the TUI and trace printers. */
  decode(words: Uint32Array): Record<N, number> {
    const out = {} as Record<N, number>;
    for (const f of this.fields) out[f.name as N] = extractBits(words, f.lsb, f.width);
    return out;
  }

  /** Builds a structure from named fields (others zero): for tests and tools. */
  encode(values: Partial<Record<N, number | boolean>>, into?: Uint32Array): Uint32Array {
    const words = into ?? new Uint32Array(this.bytes / 4);
    for (const key of Object.keys(values) as N[]) {
      const v = values[key];
      if (v !== undefined) this.set(words, key, v);
    }
    return words;
  }
}

/** dw(n, msb, lsb): a bit range inside 64-bit word n, as the Linux headers write them. */
export function dw(n: number, msb: number, lsb = msb): BitRange {
  return [n * 64 + msb, n * 64 + lsb];
}
