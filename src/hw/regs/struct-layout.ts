// In-memory structures the device models read and write (SMMU STE/CD/commands/events/
// PRI records, QM contexts and queue entries, ZIP SQEs and SGLs), declared as field
// tables and decoded from the table, the way QEMU declares register fields once and
// reads them with FIELD_EX32. A structure is held as little-endian 32-bit words in a
// Uint32Array. Fields are declared as the datasheet draws them: `[msb, lsb]` over the
// whole structure (IHI 0070 counts the bits of an STE from 0 to 511; `dw(n, msb, lsb)`
// takes the 64-bit-dword form), or `{ dword, lsb, width }` inside one 32-bit dword as
// the QM tables give them. The guest drivers keep their own tables (DESIGN.md section 1).

/**
 * One field, with what `get`/`set` need precomputed. A plain object: as a class
 * instance its fields would be defined empty, then assigned, and reads of them slow.
 */
export interface StructField {
  readonly name: string;
  /** 32-bit dword holding the lowest bit. */
  readonly dword: number;
  /** Lowest bit within that dword. */
  readonly lsb: number;
  readonly width: number;
  /**
   * An address field such as S1ContextPtr[55:6] reads and writes the address: the
   * field's bits in place within its 64-bit dword, the bits below it zero.
   */
  readonly addr: boolean;
  /**
   * `width` ones when the field lies inside one 32-bit dword and is read as is (the fast
   * path); 0 for fields spanning dwords and for address fields (the exact path).
   */
  readonly mask: number;
  /** Address fields: 2^(position of the lowest bit within its 64-bit dword), else 1. */
  readonly scale: number;
  readonly description: string | undefined;
}

function structField(name: string, dword: number, lsb: number, width: number, addr: boolean, description: string | undefined): StructField {
  const mask = !addr && lsb + width <= 32 ? 0xffffffff >>> (32 - width) : 0;
  const scale = addr ? 2 ** ((dword & 1) * 32 + lsb) : 1;
  return { name, dword, lsb, width, addr, mask, scale, description };
}

/** [msb, lsb] counted over the whole structure, as the spec writes the range; 'addr' marks an address field. */
export type BitRange = readonly [msb: number, lsb: number] | readonly [msb: number, lsb: number, kind: 'addr'];

/** A field inside one 32-bit dword, as the QM/ZIP tables give it. */
export interface DwordFieldDef<N extends string = string> {
  readonly name: N;
  readonly dword: number;
  readonly lsb: number;
  readonly width: number;
  readonly description?: string;
}

export interface StructLayoutOptions {
  /**
   * The structure is a union of formats (commands by opcode, events by type), so
   * fields may share bits. Otherwise an overlap is a mistake in the table and is refused.
   */
  readonly union?: boolean;
}

const POW2 = new Float64Array(64).map((_, i) => 2 ** i);

/** Reads `width` bits (up to 53) at bit `lsb` of `words`, exact. */
export function extractBits(words: Uint32Array, lsb: number, width: number): number {
  let value = 0;
  let got = 0;
  let bit = lsb & 31;
  for (let i = lsb >>> 5; got < width; i++) {
    const take = Math.min(32 - bit, width - got);
    const part = ((words[i]! >>> bit) & (0xffffffff >>> (32 - take))) >>> 0;
    value += part * POW2[got]!;
    got += take;
    bit = 0;
  }
  return value;
}

/** Writes the low `width` bits of `value` at bit `lsb` of `words`, leaving the other bits alone. */
export function depositBits(words: Uint32Array, lsb: number, width: number, value: number): void {
  let rest = Math.floor(value) % POW2[width]!;
  if (rest < 0) rest += POW2[width]!;
  let bit = lsb & 31;
  for (let i = lsb >>> 5, left = width; left > 0; i++) {
    const take = Math.min(32 - bit, left);
    const part = rest % POW2[take]!;
    const m = ((0xffffffff >>> (32 - take)) << bit) >>> 0;
    words[i] = ((words[i]! & ~m) | ((part * POW2[bit]!) & m)) >>> 0;
    rest = (rest - part) / POW2[take]!;
    left -= take;
    bit = 0;
  }
}

export class StructLayout<N extends string = string> {
  /** Size in 32-bit dwords. */
  readonly dwords: number;
  /** Fields by name, for `layout.get(words, layout.f.head)`. */
  readonly f: { readonly [K in N]: StructField };
  readonly fields: readonly StructField[];

  constructor(name: string, bytes: number, defs: Readonly<Record<N, BitRange>>, options?: StructLayoutOptions);
  constructor(name: string, bytes: number, defs: readonly DwordFieldDef<N>[], options?: StructLayoutOptions);
  constructor(
    readonly name: string,
    /** Structure size in bytes (a multiple of 4). */
    readonly bytes: number,
    defs: Readonly<Record<N, BitRange>> | readonly DwordFieldDef<N>[],
    options: StructLayoutOptions = {},
  ) {
    if (bytes % 4 !== 0) throw new Error(`${name}: size ${bytes} is not a multiple of 4`);
    this.dwords = bytes / 4;
    const fields: StructField[] = [];
    if (isDwordDefs(defs)) {
      for (const d of defs) {
        if (d.width < 1 || d.width > 32 || d.lsb < 0 || d.lsb + d.width > 32) throw new Error(`${name}.${d.name}: bad bit range`);
        if (d.dword < 0 || d.dword >= this.dwords) throw new Error(`${name}.${d.name}: dword ${d.dword} outside the structure`);
        fields.push(structField(d.name, d.dword, d.lsb, d.width, false, d.description));
      }
    } else {
      for (const key of Object.keys(defs) as N[]) {
        const [msb, lsb, kind] = defs[key];
        const width = msb - lsb + 1;
        if (width <= 0 || width > 53 || lsb < 0 || msb >= bytes * 8) throw new Error(`${name}.${key}: bad bit range [${msb}:${lsb}]`);
        fields.push(structField(key, lsb >>> 5, lsb & 31, width, kind === 'addr', undefined));
      }
      fields.sort((a, b) => a.dword * 32 + a.lsb - (b.dword * 32 + b.lsb));
    }
    const names = new Set<string>();
    const used = new Uint32Array(this.dwords);
    for (const f of fields) {
      if (names.has(f.name)) throw new Error(`${name}: duplicate field ${f.name}`);
      names.add(f.name);
      if (options.union) continue;
      let bit = f.lsb;
      for (let i = f.dword, left = f.width; left > 0; i++) {
        const take = Math.min(32 - bit, left);
        const placed = ((0xffffffff >>> (32 - take)) << bit) >>> 0;
        if ((used[i]! & placed) !== 0) throw new Error(`${name}.${f.name}: overlaps another field`);
        used[i] = (used[i]! | placed) >>> 0;
        left -= take;
        bit = 0;
      }
    }
    // Built in one go: an object given its many fields one keyed store at a time
    // falls into dictionary mode, and every `layout.f.x` would be a hash lookup.
    this.f = Object.fromEntries(fields.map((f) => [f.name, f])) as Record<N, StructField>;
    this.fields = fields;
  }

  /** The field's value; for an address field, the address. */
  get(words: Uint32Array, f: StructField): number {
    if (f.mask !== 0) return ((words[f.dword]! >>> f.lsb) & f.mask) >>> 0;
    return extractBits(words, f.dword * 32 + f.lsb, f.width) * f.scale;
  }

  flag(words: Uint32Array, f: StructField): boolean {
    return this.get(words, f) !== 0;
  }

  /** Stores `value` (an address for an address field); bits beyond the field are dropped. */
  set(words: Uint32Array, f: StructField, value: number | boolean): void {
    if (f.mask !== 0) {
      const placed = (f.mask << f.lsb) >>> 0;
      words[f.dword] = ((words[f.dword]! & ~placed) | ((+value << f.lsb) & placed)) >>> 0;
      return;
    }
    depositBits(words, f.dword * 32 + f.lsb, f.width, +value / f.scale);
  }

  /** Every field by name (cold path: tests, TUI, traces). */
  decode(words: Uint32Array): Record<N, number> {
    const out = {} as Record<N, number>;
    for (const f of this.fields) out[f.name as N] = this.get(words, f);
    return out;
  }

  /** Builds the structure from named values (other fields and reserved bits zero unless `into` has them). */
  encode(values: Partial<Record<N, number | boolean>>, into: Uint32Array = new Uint32Array(this.dwords)): Uint32Array {
    for (const key of Object.keys(values) as N[]) {
      const f = this.f[key];
      if (f === undefined) throw new Error(`${this.name}: no field ${key}`);
      const v = values[key];
      if (v !== undefined) this.set(into, f, v);
    }
    return into;
  }

  /** The structure as little-endian bytes. */
  toBytes(words: Uint32Array): Uint8Array {
    return new Uint8Array(words.buffer, words.byteOffset, this.bytes).slice();
  }

  /** Reads the structure from little-endian bytes at `offset` (no allocation when `into` is given). */
  fromBytes(bytes: Uint8Array, into: Uint32Array = new Uint32Array(this.dwords), offset = 0): Uint32Array {
    const n = Math.min(this.dwords, (bytes.length - offset) >> 2);
    for (let i = 0; i < n; i++) {
      const o = offset + i * 4;
      into[i] = (bytes[o]! | (bytes[o + 1]! << 8) | (bytes[o + 2]! << 16) | (bytes[o + 3]! << 24)) >>> 0;
    }
    return into;
  }

  /** "name=0x.. name=0x.." for logs and test failure messages. */
  format(words: Uint32Array): string {
    return this.fields.map((f) => `${f.name}=0x${this.get(words, f).toString(16)}`).join(' ');
  }
}

function isDwordDefs<N extends string>(defs: Readonly<Record<N, BitRange>> | readonly DwordFieldDef<N>[]): defs is readonly DwordFieldDef<N>[] {
  return Array.isArray(defs);
}

/** dw(n, msb, lsb): a bit range inside 64-bit dword n, as the Linux headers write them. */
export function dw(n: number, msb: number, lsb = msb): BitRange {
  return [n * 64 + msb, n * 64 + lsb];
}

/** An address field inside 64-bit dword n (S1ContextPtr = dwAddr(0, 55, 6)): read and written as the address. */
export function dwAddr(n: number, msb: number, lsb: number): BitRange {
  return [n * 64 + msb, n * 64 + lsb, 'addr'];
}
