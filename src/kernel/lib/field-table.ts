// Field tables for the structures and registers a driver shares with its hardware
// (what Linux writes as GENMASK/FIELD_GET/FIELD_PREP macros in a driver header, kept
// here as data so a dump can print an entry by field name). An entry is a Uint32Array
// of little-endian 32-bit words. Rows are written the way the source draws them:
// `new FieldTable(name, bytes, [[field, dword, lsb, width]])` over the 32-bit dwords of
// hisi_qm's structs, `FieldTable.le64(name, bytes, [[field, dword, hi, lo]])` over the
// __le64 dwords of arm-smmu-v3.h. The device models keep their own tables (DESIGN.md
// section 1); tests hold the two against vectors from the public sources.

/**
 * One field. Fields inside one 32-bit word read and write through `mask`; fields
 * spanning words and address fields take the exact path (values up to 53 bits).
 * A plain object: as a class instance its fields would be defined empty, then
 * assigned, and getField/setField would read them slower.
 */
export interface Field {
  readonly name: string;
  /** 32-bit word holding the lowest bit (64-bit dword d is words 2d and 2d+1). */
  readonly dword: number;
  /** Lowest bit within that word. */
  readonly lsb: number;
  readonly width: number;
  /**
   * 'addr' fields hold an address whose bits sit in place (S1ContextPtr[51:6],
   * TTB0[51:4], ...): getField/setField take the address, not the shifted value.
   */
  readonly kind: 'addr' | undefined;
  /** The field in place within its 32-bit word, or 0 for spanning and address fields. */
  readonly mask: number;
  /** 'addr' fields: 2^(position of the lowest bit within its 64-bit dword), else 1. */
  readonly scale: number;
}

/** A row over 32-bit dwords: [name, dword, lsb, width, kind?]. */
export type FieldRow<N extends string> = readonly [N, number, number, number, ('addr' | undefined)?];
/** A row over 64-bit dwords as arm-smmu-v3.h draws it: [name, dword, hi, lo, kind?]. */
export type FieldRow64<N extends string> = readonly [N, number, number, number, ('addr' | undefined)?];

export interface FieldTableOptions {
  /**
   * The entry is a union of formats (commands by opcode, events by type), so fields
   * may share bits. Otherwise an overlap is a mistake in the table and is refused.
   */
  readonly union?: boolean;
}

/** Ones over bits [bit, bit + n) of a 32-bit word (1 <= n, bit + n <= 32). */
function wordMask(bit: number, n: number): number {
  return ((0xffffffff >>> (32 - n)) << bit) >>> 0;
}

/** 2^i without a pow call on the exact paths. */
const POW2 = new Float64Array(64).map((_, i) => 2 ** i);

/** A structure layout: fields by name (`T.f.head`), encode/decode/format over a Uint32Array. */
export class FieldTable<N extends string = string> {
  /** Size in 32-bit words. */
  readonly dwords: number;
  readonly f: { readonly [K in N]: Field };
  readonly fields: readonly Field[];

  constructor(
    readonly name: string,
    readonly bytes: number,
    rows: readonly FieldRow<N>[],
    options: FieldTableOptions = {},
  ) {
    if (bytes % 4 !== 0) throw new Error(`${name}: size ${bytes} is not a multiple of 4`);
    this.dwords = bytes / 4;
    const fields: Field[] = [];
    const names = new Set<string>();
    const used = new Uint32Array(this.dwords);
    for (const row of rows) {
      const [fname, dword, lsb, width, kind] = row;
      const where = `${name}.${fname}`;
      if (width < 1 || width > 53 || lsb < 0 || lsb > 31) throw new Error(`${where}: bad bit range (bit ${lsb}, width ${width})`);
      if (dword < 0 || dword * 32 + lsb + width > bytes * 8) throw new Error(`${where}: outside the ${bytes}-byte structure`);
      if (names.has(fname)) throw new Error(`${name}: duplicate field ${fname}`);
      names.add(fname);
      const mask = kind === undefined && lsb + width <= 32 ? wordMask(lsb, width) : 0;
      const scale = kind === 'addr' ? POW2[(dword & 1) * 32 + lsb]! : 1;
      const field: Field = { name: fname, dword, lsb, width, kind, mask, scale };
      if (!options.union) {
        const bits = new Uint32Array(this.dwords);
        orFieldMask(bits, field);
        for (let i = 0; i < this.dwords; i++) {
          if ((used[i]! & bits[i]!) !== 0) throw new Error(`${where}: overlaps another field`);
          used[i] = (used[i]! | bits[i]!) >>> 0;
        }
      }
      fields.push(field);
    }
    // Built in one go: an object given its many fields one keyed store at a time
    // falls into dictionary mode, and every `T.f.x` would be a hash lookup.
    this.f = Object.fromEntries(fields.map((field) => [field.name, field])) as Record<N, Field>;
    this.fields = fields;
  }

  /** A table from rows over 64-bit dwords: [name, dword, hi, lo, kind?] (arm-smmu-v3.h). */
  static le64<const N extends string>(name: string, bytes: number, rows: readonly FieldRow64<N>[], options?: FieldTableOptions): FieldTable<N> {
    const rows32 = rows.map(([field, dword, hi, lo, kind]): FieldRow<N> => {
      if (hi < lo || hi > 63 || lo < 0) throw new Error(`${name}.${field}: bad bit range [${hi}:${lo}]`);
      return [field, dword * 2 + (lo >>> 5), lo & 31, hi - lo + 1, kind];
    });
    return new FieldTable(name, bytes, rows32, options);
  }

  /** A zeroed entry. */
  alloc(): Uint32Array {
    return new Uint32Array(this.dwords);
  }

  /** Builds an entry from named values, other bits zero (cold paths and tests). */
  encode(values: Partial<Record<N, number>>, into: Uint32Array = this.alloc()): Uint32Array {
    for (const name of Object.keys(values) as N[]) {
      const field = this.f[name];
      if (field === undefined) throw new Error(`${this.name}: no field ${String(name)}`);
      setField(into, field, values[name]!);
    }
    return into;
  }

  /** Every field by name (addresses for 'addr' fields). */
  decode(w: Uint32Array): Record<N, number> {
    const out = {} as Record<N, number>;
    for (const field of this.fields) out[field.name as N] = getField(w, field);
    return out;
  }

  /** "STE V=0x1 CFG=0x5 S1CTXPTR=0x40001000": the non-zero fields, for dmesg and debugfs. */
  format(w: Uint32Array): string {
    const parts = [this.name];
    for (const field of this.fields) {
      const v = getField(w, field);
      if (v !== 0) parts.push(`${field.name}=0x${v.toString(16)}`);
    }
    return parts.join(' ');
  }

  /** Little-endian bytes of an entry. */
  toBytes(w: Uint32Array): Uint8Array {
    const b = new Uint8Array(this.bytes);
    const dv = new DataView(b.buffer);
    for (let i = 0; i < this.dwords; i++) dv.setUint32(i * 4, w[i]!, true);
    return b;
  }

  fromBytes(b: Uint8Array, off = 0, into: Uint32Array = this.alloc()): Uint32Array {
    const dv = new DataView(b.buffer, b.byteOffset + off, this.bytes);
    for (let i = 0; i < this.dwords; i++) into[i] = dv.getUint32(i * 4, true);
    return into;
  }
}

/** Field value (FIELD_GET): an address for 'addr' fields, else the field's bits shifted down. */
export function getField(w: Uint32Array, f: Field): number {
  if (f.mask !== 0) return (w[f.dword]! & f.mask) >>> f.lsb;
  return getSpanned(w, f);
}

/** Writes a field (FIELD_PREP into place): an address for 'addr' fields; bits beyond the field are dropped. */
export function setField(w: Uint32Array, f: Field, value: number): void {
  if (f.mask !== 0) w[f.dword] = ((w[f.dword]! & ~f.mask) | ((value << f.lsb) & f.mask)) >>> 0;
  else setSpanned(w, f, value);
}

/** The exact path of getField: a field spanning words, or an address. */
function getSpanned(w: Uint32Array, f: Field): number {
  let value = 0;
  let got = 0;
  let bit = f.lsb;
  for (let i = f.dword; got < f.width; i++) {
    const take = Math.min(32 - bit, f.width - got);
    value += ((w[i]! & wordMask(bit, take)) >>> bit) * POW2[got]!;
    got += take;
    bit = 0;
  }
  return value * f.scale;
}

function setSpanned(w: Uint32Array, f: Field, value: number): void {
  let rest = Math.floor(value / f.scale) % POW2[f.width]!;
  if (rest < 0) rest += POW2[f.width]!;
  let bit = f.lsb;
  for (let i = f.dword, left = f.width; left > 0; i++) {
    const take = Math.min(32 - bit, left);
    const part = rest % POW2[take]!;
    const m = wordMask(bit, take);
    w[i] = ((w[i]! & ~m) | ((part << bit) & m)) >>> 0;
    rest = (rest - part) / POW2[take]!;
    left -= take;
    bit = 0;
  }
}

/** ORs the mask of field `f` (all ones over its bits) into `mask`. */
export function orFieldMask(mask: Uint32Array, f: Field): void {
  markField(mask, f, true);
}

/** Clears the bits of field `f` in `mask`. */
export function clearFieldMask(mask: Uint32Array, f: Field): void {
  markField(mask, f, false);
}

function markField(mask: Uint32Array, f: Field, on: boolean): void {
  let bit = f.lsb;
  for (let i = f.dword, left = f.width; left > 0; i++) {
    const take = Math.min(32 - bit, left);
    const m = wordMask(bit, take);
    mask[i] = (on ? mask[i]! | m : mask[i]! & ~m) >>> 0;
    left -= take;
    bit = 0;
  }
}

/** Sets 64-bit dword `d` from a bigint (fixtures, MAIR). */
export function setDwordBig(e: Uint32Array, d: number, v: bigint): void {
  e[2 * d] = Number(v & 0xffffffffn);
  e[2 * d + 1] = Number((v >> 32n) & 0xffffffffn);
}

/** "0x0123456789abcdef 0x..." (one hex word per 64-bit dword), as Linux's event dumps print them. */
export function formatDwords(e: Uint32Array): string {
  const parts: string[] = [];
  for (let d = 0; d < e.length / 2; d++) parts.push('0x' + e[2 * d + 1]!.toString(16).padStart(8, '0') + e[2 * d]!.toString(16).padStart(8, '0'));
  return parts.join(' ');
}
