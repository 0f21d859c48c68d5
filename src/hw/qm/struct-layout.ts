// Declarative layouts of in-memory hardware structures (contexts, queue entries,
// descriptors): each field is (name, dword, lsb, width) as the datasheet tables give
// it, and encode/decode/print come from the table. Structures live in guest RAM as
// little-endian dwords; the model copies them into a Uint32Array and reads fields
// through precompiled masks, so hot paths neither allocate nor look names up.

export interface StructFieldDef {
  readonly name: string;
  /** Dword index (4-byte word) inside the structure. */
  readonly dword: number;
  readonly lsb: number;
  readonly width: number;
  readonly description?: string;
}

/** A field with its mask precomputed, for hot-path `get`/`set`. */
export interface StructField extends StructFieldDef {
  readonly mask: number;
}

export class StructLayout<N extends string = string> {
  readonly dwords: number;
  /** Fields by name, for `layout.get(words, layout.f.head)`. */
  readonly f: { readonly [K in N]: StructField };
  readonly fields: readonly StructField[];

  constructor(
    readonly name: string,
    /** Structure size in bytes (a multiple of 4). */
    readonly bytes: number,
    defs: readonly (StructFieldDef & { readonly name: N })[],
  ) {
    if (bytes % 4 !== 0) throw new Error(`${name}: size ${bytes} is not a multiple of 4`);
    this.dwords = bytes / 4;
    const byName = {} as { [K in N]: StructField };
    const fields: StructField[] = [];
    const used = new Uint32Array(this.dwords);
    for (const d of defs) {
      if (d.width < 1 || d.width > 32 || d.lsb < 0 || d.lsb + d.width > 32) throw new Error(`${name}.${d.name}: bad bit range`);
      if (d.dword < 0 || d.dword >= this.dwords) throw new Error(`${name}.${d.name}: dword ${d.dword} outside the structure`);
      const mask = d.width === 32 ? 0xffffffff : ((1 << d.width) - 1) >>> 0;
      const placed = (mask << d.lsb) >>> 0;
      if ((used[d.dword]! & placed) !== 0) throw new Error(`${name}.${d.name}: overlaps another field`);
      used[d.dword]! |= placed;
      if (d.name in byName) throw new Error(`${name}: duplicate field ${d.name}`);
      const f: StructField = { ...d, mask };
      byName[d.name] = f;
      fields.push(f);
    }
    this.f = byName;
    this.fields = fields;
  }

  get(words: Uint32Array, f: StructField): number {
    return ((words[f.dword]! >>> f.lsb) & f.mask) >>> 0;
  }

  set(words: Uint32Array, f: StructField, value: number): void {
    const placed = (f.mask << f.lsb) >>> 0;
    words[f.dword] = ((words[f.dword]! & ~placed) | (((value & f.mask) << f.lsb) & placed)) >>> 0;
  }

  /** All fields by name (cold path: tests, TUI, traces). */
  decode(words: Uint32Array): Record<N, number> {
    const out = {} as Record<N, number>;
    for (const f of this.fields) out[f.name as N] = this.get(words, f);
    return out;
  }

  /** Builds the structure from named values (unnamed fields and reserved bits are zero). */
  encode(values: Partial<Record<N, number>>, into: Uint32Array = new Uint32Array(this.dwords)): Uint32Array {
    for (const [k, v] of Object.entries(values)) {
      const f = this.f[k as N];
      if (f === undefined) throw new Error(`${this.name}: no field ${k}`);
      this.set(into, f, v as number);
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
