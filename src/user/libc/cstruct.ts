// C structures at their real arm64 (LP64, little-endian) layouts, declared as field
// tables: name, byte offset, C type. Encoding goes through one bulk copy of the whole
// structure (readVirt/writeVirt), as the kernel's copy_{from,to}_user would see it.

import { thisCpu } from '../../arch/index.js';

export type CScalar = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'u64' | 'i64';
/** A scalar, or a fixed char array (NUL-padded string) of `char` bytes. */
export type CType = CScalar | { readonly char: number };

export type CField<N extends string = string> = readonly [name: N, offset: number, type: CType];

const SCALAR_SIZE: Record<CScalar, number> = { u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, u64: 8, i64: 8 };

export function ctypeSize(t: CType): number {
  return typeof t === 'string' ? SCALAR_SIZE[t] : t.char;
}

const utf8Dec = new TextDecoder();
const utf8Enc = new TextEncoder();

/** A C struct: its size, alignment and fields; values are Numbers (below 2^53) or strings. */
export class CStruct<N extends string> {
  readonly fields: readonly CField<N>[];
  private readonly index: Map<N, CField<N>>;

  constructor(
    readonly name: string,
    readonly size: number,
    readonly align: number,
    fields: readonly CField<N>[],
  ) {
    this.fields = fields;
    this.index = new Map(fields.map((f) => [f[0], f]));
    for (const [fname, off, t] of fields) {
      if (off < 0 || off + ctypeSize(t) > size) throw new Error(`struct ${name}: field ${fname} at ${off} does not fit in ${size} bytes`);
    }
  }

  offsetof(field: N): number {
    return this.field(field)[1];
  }

  sizeofField(field: N): number {
    return ctypeSize(this.field(field)[2]);
  }

  private field(name: N): CField<N> {
    const f = this.index.get(name);
    if (f === undefined) throw new Error(`struct ${this.name} has no field ${name}`);
    return f;
  }

  /** Decodes from `bytes` at `off` (host side of a copy). */
  decode(bytes: Uint8Array, off = 0): Record<N, number | string> {
    const dv = new DataView(bytes.buffer, bytes.byteOffset + off, this.size);
    const out = {} as Record<N, number | string>;
    for (const [name, o, t] of this.fields) out[name] = readField(dv, o, t);
    return out;
  }

  /** Encodes `values` into `bytes` at `off`; unnamed fields and padding are zero. */
  encode(values: Partial<Record<N, number | string>>, bytes: Uint8Array = new Uint8Array(this.size), off = 0): Uint8Array {
    bytes.fill(0, off, off + this.size);
    const dv = new DataView(bytes.buffer, bytes.byteOffset + off, this.size);
    for (const [name, o, t] of this.fields) {
      const v = values[name];
      if (v !== undefined) writeField(dv, o, t, v);
    }
    return bytes;
  }

  /** Reads the structure at user virtual address `va`. */
  read(va: number): Record<N, number | string> {
    const buf = new Uint8Array(this.size);
    thisCpu().readVirt(va, buf);
    return this.decode(buf);
  }

  /** Writes the structure at user virtual address `va`. */
  write(va: number, values: Partial<Record<N, number | string>>): void {
    thisCpu().writeVirt(va, this.encode(values));
  }

  /** Reads one numeric field in place. */
  readNumber(va: number, field: N): number {
    const v = this.read(va)[field];
    return typeof v === 'number' ? v : 0;
  }
}

function readField(dv: DataView, o: number, t: CType): number | string {
  switch (t) {
    case 'u8':
      return dv.getUint8(o);
    case 'i8':
      return dv.getInt8(o);
    case 'u16':
      return dv.getUint16(o, true);
    case 'i16':
      return dv.getInt16(o, true);
    case 'u32':
      return dv.getUint32(o, true);
    case 'i32':
      return dv.getInt32(o, true);
    case 'u64':
      return dv.getUint32(o + 4, true) * 0x1_0000_0000 + dv.getUint32(o, true);
    case 'i64':
      return dv.getInt32(o + 4, true) * 0x1_0000_0000 + dv.getUint32(o, true);
    default: {
      const bytes = new Uint8Array(dv.buffer, dv.byteOffset + o, t.char);
      const nul = bytes.indexOf(0);
      return utf8Dec.decode(nul < 0 ? bytes : bytes.subarray(0, nul));
    }
  }
}

function writeField(dv: DataView, o: number, t: CType, v: number | string): void {
  if (typeof t !== 'string') {
    const enc = utf8Enc.encode(String(v));
    const n = Math.min(enc.length, t.char - 1);
    new Uint8Array(dv.buffer, dv.byteOffset + o, n).set(enc.subarray(0, n));
    return;
  }
  const n = typeof v === 'number' ? v : Number(v);
  switch (t) {
    case 'u8':
    case 'i8':
      dv.setUint8(o, n & 0xff);
      return;
    case 'u16':
    case 'i16':
      dv.setUint16(o, n & 0xffff, true);
      return;
    case 'u32':
    case 'i32':
      dv.setUint32(o, n >>> 0, true);
      return;
    default: {
      if (n >= 18446744073709551615) {
        // ~0UL (RLIM_INFINITY, -1 as unsigned) rounds to 2^64 as a Number.
        dv.setUint32(o, 0xffffffff, true);
        dv.setUint32(o + 4, 0xffffffff, true);
        return;
      }
      // 64-bit two's complement from a Number in -2^53..2^64.
      const lo = n >= 0 ? n % 0x1_0000_0000 : (0x1_0000_0000 + (n % 0x1_0000_0000)) % 0x1_0000_0000;
      const hi = Math.floor((n - lo) / 0x1_0000_0000);
      dv.setUint32(o, lo >>> 0, true);
      dv.setUint32(o + 4, hi >>> 0, true);
    }
  }
}

/** Raw words at a user address, for ioctl arguments built by offset: `u32(off)` reads, `u32(off, v)` writes then reads back. */
export class UserWords {
  constructor(readonly va: number) {}
  u32(off: number, v?: number): number {
    const cpu = thisCpu();
    if (v !== undefined) cpu.st32(this.va + off, v >>> 0);
    return cpu.ld32(this.va + off) >>> 0;
  }
  u64(off: number, v?: number): number {
    const cpu = thisCpu();
    if (v !== undefined) cpu.st64(this.va + off, v);
    return cpu.ld64(this.va + off);
  }
}
