// Declarative register maps. A device lists its registers as data, the way the
// datasheet does (offset, width, reset, access per bit, fields), and gets MMIO
// read/write semantics, reset, and something tests and the TUI can iterate.
//
// Write rule (per bit): RO and reserved bits keep their value; W1C bits clear where
// a 1 is written; W1S bits set where a 1 is written; RW bits take the new value.
// Read rule: reserved bits read as zero; RC bits clear after the read.
//
// The table is compiled once into register slots that hold the value and every mask
// as 32-bit halves (Numbers), reached from the access offset through a two-level
// table of words, so an MMIO access allocates nothing and does no BigInt work. Hooks
// of 32-bit registers see Numbers (unsigned); hooks of 64-bit registers see BigInts,
// built only when such a hook runs.

import type { AccessSize, MmioAccess, MmioDevice } from '../bus/mmio.js';

export type BitAccess = 'RW' | 'RO' | 'WO' | 'W1C' | 'W1S' | 'RC';

export interface FieldDef {
  readonly name: string;
  readonly lsb: number;
  readonly width: number;
  /** Defaults to the register's access. */
  readonly access?: BitAccess;
}

interface RegDefCommon {
  readonly name: string;
  readonly offset: number;
  readonly reset?: number | bigint;
  /** Access of the bits not covered by a field with its own access. Default RW. */
  readonly access?: BitAccess;
  readonly fields?: readonly FieldDef[];
  /**
   * Bits that are reserved (RES0): read as zero, writes ignored. When `fields` is given
   * and this is omitted, every bit outside the fields is reserved.
   */
  readonly reserved?: number | bigint;
  readonly description?: string;
}

/** A 32-bit register (the default): hooks see unsigned 32-bit Numbers. */
export interface RegDef32 extends RegDefCommon {
  readonly width?: 32;
  /** Computes the value on read (the stored value is passed in): status registers. */
  readonly read?: (stored: number) => number;
  /** Side effects after the stored value changed: doorbells, enables. */
  readonly write?: (value: number, old: number, written: number) => void;
}

/** A 64-bit register, which may also be accessed as two 32-bit halves: hooks see BigInts. */
export interface RegDef64 extends RegDefCommon {
  readonly width: 64;
  readonly read?: (stored: bigint) => bigint | number;
  readonly write?: (value: bigint, old: bigint, written: bigint) => void;
}

export type RegDef = RegDef32 | RegDef64;

const TWO32 = 4294967296;
const ALL64 = (1n << 64n) - 1n;

function maskOf(lsb: number, width: number): bigint {
  return ((1n << BigInt(width)) - 1n) << BigInt(lsb);
}

function lo32(v: bigint): number {
  return Number(v & 0xffffffffn);
}

function hi32(v: bigint): number {
  return Number((v >> 32n) & 0xffffffffn);
}

function big64(lo: number, hi: number): bigint {
  return hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
}

/** Bits [lsb, lsb+width) of a 32-bit value, width <= 32. */
function bits32(x: number, lsb: number, width: number): number {
  return width >= 32 ? x >>> 0 : (x >>> lsb) & ((1 << width) - 1);
}

/** A register compiled for the access path: its value and masks as 32-bit halves. */
class Slot {
  lo: number;
  hi = 0;
  /** Bits a plain write does not set: RO, RC, reserved, W1C and W1S. */
  readonly keepLo: number;
  readonly keepHi: number;
  readonly w1cLo: number;
  readonly w1cHi: number;
  readonly w1sLo: number;
  readonly w1sHi: number;
  readonly rcLo: number;
  readonly rcHi: number;
  /** Bits a read returns: all but reserved and write-only ones. */
  readonly visLo: number;
  readonly visHi: number;
  readonly resetLo: number;
  readonly resetHi: number;
  readonly read32: ((stored: number) => number) | undefined;
  readonly write32: ((value: number, old: number, written: number) => void) | undefined;
  readonly read64: ((stored: bigint) => bigint | number) | undefined;
  readonly write64: ((value: bigint, old: bigint, written: bigint) => void) | undefined;
  readonly fields = new Map<string, FieldDef>();

  constructor(
    readonly def: RegDef,
    readonly wide: boolean,
    reset: bigint,
    keep: bigint,
    w1c: bigint,
    w1s: bigint,
    rc: bigint,
    visible: bigint,
  ) {
    this.resetLo = lo32(reset);
    this.resetHi = hi32(reset);
    this.lo = this.resetLo;
    this.hi = this.resetHi;
    this.keepLo = lo32(keep);
    this.keepHi = hi32(keep);
    this.w1cLo = lo32(w1c);
    this.w1cHi = hi32(w1c);
    this.w1sLo = lo32(w1s);
    this.w1sHi = hi32(w1s);
    this.rcLo = lo32(rc);
    this.rcHi = hi32(rc);
    this.visLo = lo32(visible);
    this.visHi = hi32(visible);
    if (def.width === 64) {
      this.read32 = undefined;
      this.write32 = undefined;
      this.read64 = def.read;
      this.write64 = def.write;
    } else {
      this.read32 = def.read;
      this.write32 = def.write;
      this.read64 = undefined;
      this.write64 = undefined;
    }
    for (const f of def.fields ?? []) this.fields.set(f.name, f);
  }
}

/** One 32-bit word of the block: the register it belongs to, and which half. */
class WordRef {
  constructor(
    readonly slot: Slot,
    readonly high: boolean,
  ) {}
}

/** Words per page of the offset table (4 KiB of register space). */
const PAGE_SHIFT = 10;
const PAGE_WORDS = 1 << PAGE_SHIFT;
const EMPTY_PAGE: readonly (WordRef | null)[] = new Array<WordRef | null>(PAGE_WORDS).fill(null);

/** Why an access was refused; kept on the block so tests and the TUI can show it. */
export interface RegAccessIssue {
  readonly offset: number;
  readonly size: number;
  readonly write: boolean;
  readonly reason: 'unmapped' | 'width' | 'alignment';
}

export interface RegBlockOptions {
  /** Accesses narrower than 32 bits are refused (SLVERR) unless set. */
  readonly allowNarrow?: boolean;
  /** Unmapped offsets read as zero / ignore writes instead of SLVERR (RAZ/WI). */
  readonly unmappedRazWi?: boolean;
}

export class RegisterBlock implements MmioDevice {
  private readonly slots: Slot[] = [];
  private readonly byName = new Map<string, Slot>();
  /** Offset table: pages of PAGE_WORDS words; pages with no register share EMPTY_PAGE. */
  private readonly pages: (readonly (WordRef | null)[])[] = [];
  private readonly allowNarrow: boolean;
  private readonly razWi: boolean;
  /** The value of the last 64-bit register read (readWide). */
  private rlo = 0;
  private rhi = 0;
  lastIssue: RegAccessIssue | undefined;

  constructor(
    readonly name: string,
    defs: readonly RegDef[],
    options: RegBlockOptions = {},
  ) {
    this.allowNarrow = options.allowNarrow === true;
    this.razWi = options.unmappedRazWi === true;
    for (const def of defs) this.add(def);
  }

  /** Adds a register after construction (for register arrays built in loops). */
  add(def: RegDef): void {
    const wide = def.width === 64;
    const width = wide ? 64 : 32;
    const full = wide ? ALL64 : 0xffffffffn;
    let rsvd: bigint;
    if (def.reserved !== undefined) rsvd = BigInt(def.reserved) & full;
    else if (def.fields && def.fields.length > 0) {
      let covered = 0n;
      for (const f of def.fields) covered |= maskOf(f.lsb, f.width);
      rsvd = full & ~covered;
    } else rsvd = 0n;
    const masks: Record<BitAccess, bigint> = { RW: 0n, RO: 0n, WO: 0n, W1C: 0n, W1S: 0n, RC: 0n };
    let fieldBits = 0n;
    for (const f of def.fields ?? []) {
      const m = maskOf(f.lsb, f.width);
      if (f.lsb + f.width > width) throw new Error(`${this.name}.${def.name}.${f.name}: field beyond register width`);
      fieldBits |= m;
      masks[f.access ?? def.access ?? 'RW'] |= m;
    }
    masks[def.access ?? 'RW'] |= full & ~fieldBits & ~rsvd;
    if ((def.offset & (wide ? 7 : 3)) !== 0) throw new Error(`${this.name}.${def.name}: misaligned offset`);
    if (this.byName.has(def.name)) throw new Error(`${this.name}: duplicate register ${def.name}`);
    const words = wide ? [def.offset >>> 2, (def.offset >>> 2) + 1] : [def.offset >>> 2];
    for (const w of words) {
      const at = this.wordAt(w);
      if (at !== null) throw new Error(`${this.name}.${def.name}: offset overlaps ${at.slot.def.name}`);
    }
    const ro = masks.RO | masks.RC | rsvd;
    const slot = new Slot(def, wide, BigInt(def.reset ?? 0) & full, ro | masks.W1C | masks.W1S, masks.W1C, masks.W1S, masks.RC, full & ~(rsvd | masks.WO));
    this.slots.push(slot);
    this.byName.set(def.name, slot);
    words.forEach((w, i) => this.setWord(w, new WordRef(slot, i === 1)));
  }

  private setWord(w: number, ref: WordRef): void {
    const top = w >>> PAGE_SHIFT;
    while (this.pages.length <= top) this.pages.push(EMPTY_PAGE);
    if (this.pages[top] === EMPTY_PAGE) this.pages[top] = EMPTY_PAGE.slice();
    (this.pages[top] as (WordRef | null)[])[w & (PAGE_WORDS - 1)] = ref;
  }

  private wordAt(w: number): WordRef | null {
    const top = w >>> PAGE_SHIFT;
    return top < this.pages.length ? this.pages[top]![w & (PAGE_WORDS - 1)]! : null;
  }

  /** Register definitions in offset order, for tests and the TUI. */
  get definitions(): readonly RegDef[] {
    return this.slots.map((s) => s.def).sort((a, b) => a.offset - b.offset);
  }

  reset(): void {
    for (const s of this.slots) {
      s.lo = s.resetLo;
      s.hi = s.resetHi;
    }
  }

  private reg(name: string): Slot {
    const s = this.byName.get(name);
    if (s === undefined) throw new Error(`${this.name}: no register ${name}`);
    return s;
  }

  private fieldDef(s: Slot, regName: string, fieldName: string): FieldDef {
    const f = s.fields.get(fieldName);
    if (f === undefined) throw new Error(`${this.name}.${regName}: no field ${fieldName}`);
    return f;
  }

  /** The stored value (hardware's view, no read side effects). */
  get(name: string): bigint {
    const s = this.reg(name);
    return big64(s.lo, s.hi);
  }

  /** Stored value as a Number (for registers of at most 53 significant bits). */
  getNum(name: string): number {
    const s = this.reg(name);
    return s.hi === 0 ? s.lo : s.hi * TWO32 + s.lo;
  }

  /** Sets the stored value from the hardware side (no write rules, no hooks). */
  set(name: string, value: bigint | number): void {
    const s = this.reg(name);
    if (typeof value === 'number') {
      s.lo = value >>> 0;
      s.hi = s.wide ? Math.floor(value / TWO32) >>> 0 : 0;
    } else {
      s.lo = lo32(value);
      s.hi = s.wide ? hi32(value) : 0;
    }
  }

  field(regName: string, fieldName: string): number {
    const s = this.reg(regName);
    const { lsb, width } = this.fieldDef(s, regName, fieldName);
    if (lsb >= 32) return bits32(s.hi, lsb - 32, width);
    if (lsb + width <= 32) return bits32(s.lo, lsb, width);
    const low = 32 - lsb;
    return (s.lo >>> lsb) + bits32(s.hi, 0, width - low) * 2 ** low;
  }

  setField(regName: string, fieldName: string, value: number | bigint): void {
    const s = this.reg(regName);
    const { lsb, width } = this.fieldDef(s, regName, fieldName);
    if (!s.wide) {
      const v = typeof value === 'number' ? value : Number(BigInt.asUintN(32, value));
      const m = width >= 32 ? -1 : ((1 << width) - 1) << lsb;
      s.lo = ((s.lo & ~m) | ((v << lsb) & m)) >>> 0;
      return;
    }
    const m = maskOf(lsb, width);
    const next = (big64(s.lo, s.hi) & ~m) | ((BigInt(value) << BigInt(lsb)) & m);
    s.lo = lo32(next);
    s.hi = hi32(next);
  }

  /** Guest-visible read of a whole register by name (applies read hooks and RC). */
  readReg(name: string): bigint {
    const s = this.reg(name);
    if (!s.wide) return BigInt(this.read32(s));
    this.readWide(s);
    return big64(this.rlo, this.rhi);
  }

  /** Guest-visible write of a whole register by name (applies the write rules and hooks). */
  writeReg(name: string, value: bigint | number): void {
    const s = this.reg(name);
    const big = typeof value === 'bigint' ? value : BigInt(value);
    if (!s.wide) this.write32(s, lo32(big), 0xffffffff);
    else this.writeWide(s, lo32(big), hi32(big), 0xffffffff, 0xffffffff);
  }

  /** Guest read of a 32-bit register: read hook, RC, reserved and WO bits as zero. */
  private read32(s: Slot): number {
    const stored = s.lo;
    const v = s.read32 === undefined ? stored : s.read32(stored);
    if (s.rcLo !== 0) s.lo = (stored & ~s.rcLo) >>> 0;
    return (v & s.visLo) >>> 0;
  }

  /** Guest read of a 64-bit register into rlo/rhi. */
  private readWide(s: Slot): void {
    const lo = s.lo;
    const hi = s.hi;
    let vlo = lo;
    let vhi = hi;
    if (s.read64 !== undefined) {
      const v = s.read64(big64(lo, hi));
      if (typeof v === 'bigint') {
        vlo = lo32(v);
        vhi = hi32(v);
      } else {
        vlo = v >>> 0;
        vhi = Math.floor(v / TWO32) >>> 0;
      }
    }
    if ((s.rcLo | s.rcHi) !== 0) {
      s.lo = (lo & ~s.rcLo) >>> 0;
      s.hi = (hi & ~s.rcHi) >>> 0;
    }
    this.rlo = (vlo & s.visLo) >>> 0;
    this.rhi = (vhi & s.visHi) >>> 0;
  }

  /** Guest read of one word: a 32-bit register, or a half of a 64-bit one (whole-register side effects). */
  private readWord(ref: WordRef): number {
    const s = ref.slot;
    if (!s.wide) return this.read32(s);
    this.readWide(s);
    return ref.high ? this.rhi : this.rlo;
  }

  /** Applies a write of `value` to the bits in `lanes` (the bytes the access covers). */
  private write32(s: Slot, value: number, lanes: number): void {
    const old = s.lo;
    const writable = lanes & ~s.keepLo;
    let next = (old & ~writable) | (value & writable);
    next &= ~(value & lanes & s.w1cLo);
    next |= value & lanes & s.w1sLo;
    s.lo = next >>> 0;
    if (s.write32 !== undefined) s.write32(s.lo, old, (value & lanes) >>> 0);
  }

  private writeWide(s: Slot, vlo: number, vhi: number, llo: number, lhi: number): void {
    const oldLo = s.lo;
    const oldHi = s.hi;
    const wlo = llo & ~s.keepLo;
    const whi = lhi & ~s.keepHi;
    s.lo = ((((oldLo & ~wlo) | (vlo & wlo)) & ~(vlo & llo & s.w1cLo)) | (vlo & llo & s.w1sLo)) >>> 0;
    s.hi = ((((oldHi & ~whi) | (vhi & whi)) & ~(vhi & lhi & s.w1cHi)) | (vhi & lhi & s.w1sHi)) >>> 0;
    if (s.write64 !== undefined) s.write64(big64(s.lo, s.hi), big64(oldLo, oldHi), big64((vlo & llo) >>> 0, (vhi & lhi) >>> 0));
  }

  /** Guest write of `value` to the `lanes` of one word (a 32-bit register or a half of a 64-bit one). */
  private writeWord(ref: WordRef, value: number, lanes: number): void {
    const s = ref.slot;
    if (!s.wide) this.write32(s, value, lanes);
    else if (ref.high) this.writeWide(s, 0, value, 0, lanes);
    else this.writeWide(s, value, 0, lanes, 0);
  }

  mmioRead(offset: number, size: AccessSize, acc: MmioAccess): void {
    // The common access, an aligned 32-bit one to a register, has nothing to refuse.
    if (size === 4 && (offset & 3) === 0) {
      const ref = this.wordAt(offset >>> 2);
      if (ref !== null) {
        acc.lo = this.readWord(ref);
        acc.hi = 0;
        return;
      }
    }
    const ref = this.locate(offset, size, false);
    if (ref === null) {
      if (this.razWi && this.lastIssue?.reason === 'unmapped') {
        acc.lo = 0;
        acc.hi = 0;
        return;
      }
      acc.error = true;
      return;
    }
    const s = ref.slot;
    if (size === 8) {
      if (s.wide) {
        this.readWide(s);
        acc.lo = this.rlo;
        acc.hi = this.rhi;
      } else {
        // two consecutive 32-bit registers read as one 64-bit access
        const next = this.wordAt((offset >>> 2) + 1);
        acc.lo = this.read32(s);
        acc.hi = next === null ? 0 : this.readWord(next);
      }
      return;
    }
    // a narrow access (allowNarrow): its byte lanes of the word
    acc.lo = (this.readWord(ref) >>> ((offset & 3) * 8)) & (size === 1 ? 0xff : 0xffff);
    acc.hi = 0;
  }

  mmioWrite(offset: number, size: AccessSize, acc: MmioAccess): void {
    if (size === 4 && (offset & 3) === 0) {
      const ref = this.wordAt(offset >>> 2);
      if (ref !== null) return this.writeWord(ref, acc.lo >>> 0, 0xffffffff);
    }
    const ref = this.locate(offset, size, true);
    if (ref === null) {
      if (this.razWi && this.lastIssue?.reason === 'unmapped') return;
      acc.error = true;
      return;
    }
    const s = ref.slot;
    if (size === 8) {
      if (s.wide) this.writeWide(s, acc.lo >>> 0, acc.hi >>> 0, 0xffffffff, 0xffffffff);
      else {
        const next = this.wordAt((offset >>> 2) + 1);
        this.write32(s, acc.lo >>> 0, 0xffffffff);
        if (next !== null) this.writeWord(next, acc.hi >>> 0, 0xffffffff);
      }
      return;
    }
    const shift = (offset & 3) * 8;
    this.writeWord(ref, (acc.lo << shift) >>> 0, ((size === 1 ? 0xff : 0xffff) << shift) >>> 0);
  }

  /** The word an access reaches, or null (with lastIssue set) when the access is refused. */
  private locate(offset: number, size: AccessSize, write: boolean): WordRef | null {
    if (offset % size !== 0) {
      this.lastIssue = { offset, size, write, reason: 'alignment' };
      return null;
    }
    const ref = this.wordAt(offset >>> 2);
    if (ref === null) {
      this.lastIssue = { offset, size, write, reason: 'unmapped' };
      return null;
    }
    if (size < 4 && !this.allowNarrow) {
      this.lastIssue = { offset, size, write, reason: 'width' };
      return null;
    }
    return ref;
  }
}
