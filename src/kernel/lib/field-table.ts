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
 */
export class Field {
  /** The field in place within its 32-bit word, or 0 for spanning and address fields. */
  readonly mask: number;
  /** 'addr' fields: 2^(position of the lowest bit within its 64-bit dword), else 1. */
  readonly scale: number;

  constructor(
    readonly name: string,
    /** 32-bit word holding the lowest bit (64-bit dword d is words 2d and 2d+1). */
    readonly dword: number,
    /** Lowest bit within that word. */
    readonly lsb: number,
    readonly width: number,
    /**
     * 'addr' fields hold an address whose bits sit in place (S1ContextPtr[51:6],
     * TTB0[51:4], ...): getField/setField take the address, not the shifted value.
     */
    readonly kind: 'addr' | undefined,
  ) {
    this.mask = kind === undefined && lsb + width <= 32 ? (lowMask(width) * 2 ** lsb) >>> 0 : 0;
    this.scale = kind === 'addr' ? 2 ** ((dword & 1) * 32 + lsb) : 1;
  }
}

/** A row over 32-bit dwords: [name, dword, lsb, width]. */
export type FieldRow<N extends string> = readonly [N, number, number, number];
/** A row over 64-bit dwords as arm-smmu-v3.h draws it: [name, dword, hi, lo, kind?]. */
export type FieldRow64<N extends string> = readonly [N, number, number, number, ('addr' | undefined)?];

export interface FieldTableOptions {
  /**
   * The entry is a union of formats (commands by opcode, events by type), so fields
   * may share bits. Otherwise an overlap is a mistake in the table and is refused.
   */
  readonly union?: boolean;
}

/** A structure layout: fields by name (`T.f.head`), encode/decode/format over a Uint32Array. */
export class FieldTable<N extends string = string> {
  /** Size in 32-bit words. */
  readonly dwords: number;
  readonly f: { readonly [K in N]: Field };
  readonly fields: readonly Field[];

  constructor(name: string, bytes: number, rows: readonly FieldRow<N>[], options?: FieldTableOptions);
  constructor(name: string, bytes: number, rows: readonly Field[], options?: FieldTableOptions);
  constructor(
    readonly name: string,
    readonly bytes: number,
    rows: readonly (FieldRow<N> | Field)[],
    options: FieldTableOptions = {},
  ) {
    if (bytes % 4 !== 0) throw new Error(`${name}: size ${bytes} is not a multiple of 4`);
    this.dwords = bytes / 4;
    const byName = {} as Record<N, Field>;
    const fields: Field[] = [];
    const used = new Uint32Array(this.dwords);
    for (const row of rows) {
      const field = row instanceof Field ? row : new Field(row[0], row[1], row[2], row[3], undefined);
      const where = `${name}.${field.name}`;
      if (field.width < 1 || field.width > 53 || field.lsb < 0 || field.lsb > 31) throw new Error(`${where}: bad bit range (bit ${field.lsb}, width ${field.width})`);
      if (field.dword < 0 || field.dword * 32 + field.lsb + field.width > bytes * 8) throw new Error(`${where}: outside the ${bytes}-byte structure`);
      if (field.name in byName) throw new Error(`${name}: duplicate field ${field.name}`);
      if (!options.union) {
        forEachWord(field, (i, m) => {
          if ((used[i]! & m) !== 0) throw new Error(`${where}: overlaps another field`);
          used[i] = (used[i]! | m) >>> 0;
        });
      }
      byName[field.name as N] = field;
      fields.push(field);
    }
    this.f = byName;
    this.fields = fields;
  }

  /** A table from rows over 64-bit dwords: [name, dword, hi, lo, kind?] (arm-smmu-v3.h). */
  static le64<const N extends string>(name: string, bytes: number, rows: readonly FieldRow64<N>[], options?: FieldTableOptions): FieldTable<N> {
    const fields = rows.map(([field, dword, hi, lo, kind]) => {
      if (hi < lo || hi > 63 || lo < 0) throw new Error(`${name}.${field}: bad bit range [${hi}:${lo}]`);
      return new Field(field, dword * 2 + (lo >>> 5), lo & 31, hi - lo + 1, kind);
    });
    return new FieldTable<N>(name, bytes, fields, options);
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

function lowMask(bits: number): number {
  return bits >= 32 ? 0xffffffff : 2 ** bits - 1;
}

/** Calls `fn(word, mask)` for each 32-bit word the field covers. */
function forEachWord(f: Field, fn: (word: number, mask: number) => void): void {
  let bit = f.lsb;
  for (let i = f.dword, left = f.width; left > 0; i++) {
    const take = Math.min(32 - bit, left);
    fn(i, (lowMask(take) * 2 ** bit) >>> 0);
    left -= take;
    bit = 0;
  }
}

/** Field value (FIELD_GET): an address for 'addr' fields, else the field's bits shifted down. */
export function getField(w: Uint32Array, f: Field): number {
  if (f.mask !== 0) return (w[f.dword]! & f.mask) >>> f.lsb;
  let value = 0;
  let got = 0;
  let bit = f.lsb;
  for (let i = f.dword; got < f.width; i++) {
    const take = Math.min(32 - bit, f.width - got);
    const part = take === 32 ? w[i]! : (w[i]! >>> bit) & lowMask(take);
    value += part * 2 ** got;
    got += take;
    bit = 0;
  }
  return value * f.scale;
}

/** Writes a field (FIELD_PREP into place): an address for 'addr' fields; bits beyond the field are dropped. */
export function setField(w: Uint32Array, f: Field, value: number): void {
  if (f.mask !== 0) {
    w[f.dword] = ((w[f.dword]! & ~f.mask) | ((value << f.lsb) & f.mask)) >>> 0;
    return;
  }
  const span = 2 ** f.width;
  let rest = Math.floor(value / f.scale) % span;
  if (rest < 0) rest += span;
  let bit = f.lsb;
  for (let i = f.dword, left = f.width; left > 0; i++) {
    const take = Math.min(32 - bit, left);
    const m = (lowMask(take) * 2 ** bit) >>> 0;
    const part = rest % 2 ** take;
    w[i] = ((w[i]! & ~m) | ((part * 2 ** bit) & m)) >>> 0;
    rest = (rest - part) / 2 ** take;
    left -= take;
    bit = 0;
  }
}

/** ORs the mask of field `f` (all ones over its bits) into `mask`. */
export function orFieldMask(mask: Uint32Array, f: Field): void {
  forEachWord(f, (i, m) => {
    mask[i] = (mask[i]! | m) >>> 0;
  });
}

/** Clears the bits of field `f` in `mask`. */
export function clearFieldMask(mask: Uint32Array, f: Field): void {
  forEachWord(f, (i, m) => {
    mask[i] = (mask[i]! & ~m) >>> 0;
  });
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
