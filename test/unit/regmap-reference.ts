// The register-block rules as first written, on BigInt values: a reference for the
// differential test of src/hw/regs/regmap.ts (which compiles the same rules to 32-bit
// halves). Test code only; hooks here take BigInts for every width.

import type { AccessSize, MmioAccess, MmioDevice } from '../../src/hw/bus/mmio.js';

type BitAccess = 'RW' | 'RO' | 'WO' | 'W1C' | 'W1S' | 'RC';

interface FieldDef {
  readonly name: string;
  readonly lsb: number;
  readonly width: number;
  /** Defaults to the register's access. */
  readonly access?: BitAccess;
}

export interface RefRegDef {
  readonly name: string;
  readonly offset: number;
  /** 32 (default) or 64 bits. A 64-bit register may be accessed as two 32-bit halves. */
  readonly width?: 32 | 64;
  readonly reset?: number | bigint;
  /** Access of the bits not covered by a field with its own access. Default RW. */
  readonly access?: BitAccess;
  readonly fields?: readonly FieldDef[];
  /**
   * Bits that are reserved (RES0): read as zero, writes ignored. When `fields` is given
   * and this is omitted, every bit outside the fields is reserved.
   */
  readonly reserved?: number | bigint;
  /** Computes the value on read (the stored value is passed in): status registers. */
  readonly read?: (stored: bigint) => bigint | number;
  /** Side effects after the stored value changed: doorbells, enables. */
  readonly write?: (value: bigint, old: bigint, written: bigint) => void;
  readonly description?: string;
}

interface CompiledReg {
  readonly def: RefRegDef;
  readonly index: number;
  readonly wide: boolean;
  readonly reset: bigint;
  readonly roMask: bigint; // RO and reserved: writes ignored
  readonly w1cMask: bigint;
  readonly w1sMask: bigint;
  readonly rcMask: bigint;
  readonly woMask: bigint; // write-only bits read as zero
  readonly rsvdMask: bigint;
}

const ALL64 = (1n << 64n) - 1n;

function maskOf(lsb: number, width: number): bigint {
  return ((1n << BigInt(width)) - 1n) << BigInt(lsb);
}

/** Why an access was refused; kept on the block so tests and the TUI can show it. */
interface RegAccessIssue {
  readonly offset: number;
  readonly size: number;
  readonly write: boolean;
  readonly reason: 'unmapped' | 'width' | 'alignment';
}

interface RegBlockOptions {
  /** Accesses narrower than 32 bits are refused (SLVERR) unless set. */
  readonly allowNarrow?: boolean;
  /** Unmapped offsets read as zero / ignore writes instead of SLVERR (RAZ/WI). */
  readonly unmappedRazWi?: boolean;
}

export class ReferenceRegisterBlock implements MmioDevice {
  private readonly regs: CompiledReg[] = [];
  private readonly byWord = new Map<number, { reg: CompiledReg; high: boolean }>();
  private readonly values: bigint[] = [];
  private readonly byName = new Map<string, CompiledReg>();
  lastIssue: RegAccessIssue | undefined;

  constructor(
    readonly name: string,
    defs: readonly RefRegDef[],
    private readonly options: RegBlockOptions = {},
  ) {
    for (const def of defs) this.add(def);
  }

  /** Adds a register after construction (for register arrays built in loops). */
  add(def: RefRegDef): void {
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
    const reg: CompiledReg = {
      def,
      index: this.regs.length,
      wide,
      reset: BigInt(def.reset ?? 0) & full,
      roMask: masks.RO | masks.RC | rsvd,
      w1cMask: masks.W1C,
      w1sMask: masks.W1S,
      rcMask: masks.RC,
      woMask: masks.WO,
      rsvdMask: rsvd,
    };
    if (this.byName.has(def.name)) throw new Error(`${this.name}: duplicate register ${def.name}`);
    this.regs.push(reg);
    this.values.push(reg.reset);
    this.byName.set(def.name, reg);
    for (const [w, high] of wide ? ([[def.offset >> 2, false], [(def.offset >> 2) + 1, true]] as const) : ([[def.offset >> 2, false]] as const)) {
      if (this.byWord.has(w)) throw new Error(`${this.name}.${def.name}: offset overlaps ${this.byWord.get(w)!.reg.def.name}`);
      this.byWord.set(w, { reg, high });
    }
  }

  /** Register definitions in offset order, for tests and the TUI. */
  get definitions(): readonly RefRegDef[] {
    return [...this.regs].sort((a, b) => a.def.offset - b.def.offset).map((r) => r.def);
  }

  reset(): void {
    for (const r of this.regs) this.values[r.index] = r.reset;
  }

  private reg(name: string): CompiledReg {
    const r = this.byName.get(name);
    if (!r) throw new Error(`${this.name}: no register ${name}`);
    return r;
  }

  /** The stored value (hardware's view, no read side effects). */
  get(name: string): bigint {
    return this.values[this.reg(name).index]!;
  }

  /** Stored value as a Number (for registers of at most 53 significant bits). */
  getNum(name: string): number {
    return Number(this.values[this.reg(name).index]!);
  }

  /** Sets the stored value from the hardware side (no write rules, no hooks). */
  set(name: string, value: bigint | number): void {
    const r = this.reg(name);
    this.values[r.index] = BigInt(value) & (r.wide ? ALL64 : 0xffffffffn);
  }

  field(regName: string, fieldName: string): number {
    const r = this.reg(regName);
    const f = r.def.fields?.find((x) => x.name === fieldName);
    if (!f) throw new Error(`${this.name}.${regName}: no field ${fieldName}`);
    return Number((this.values[r.index]! >> BigInt(f.lsb)) & ((1n << BigInt(f.width)) - 1n));
  }

  setField(regName: string, fieldName: string, value: number | bigint): void {
    const r = this.reg(regName);
    const f = r.def.fields?.find((x) => x.name === fieldName);
    if (!f) throw new Error(`${this.name}.${regName}: no field ${fieldName}`);
    const m = maskOf(f.lsb, f.width);
    this.values[r.index] = (this.values[r.index]! & ~m) | ((BigInt(value) << BigInt(f.lsb)) & m);
  }

  /** Guest-visible read of a whole register by name (applies read hooks and RC). */
  readReg(name: string): bigint {
    return this.readValue(this.reg(name));
  }

  /** Guest-visible write of a whole register by name (applies the write rules and hooks). */
  writeReg(name: string, value: bigint | number): void {
    const r = this.reg(name);
    this.writeValue(r, BigInt(value), r.wide ? ALL64 : 0xffffffffn);
  }

  private readValue(r: CompiledReg): bigint {
    const stored = this.values[r.index]!;
    let v = r.def.read ? BigInt(r.def.read(stored)) : stored;
    if (r.rcMask !== 0n) this.values[r.index] = stored & ~r.rcMask;
    v &= ~(r.rsvdMask | r.woMask);
    return v & (r.wide ? ALL64 : 0xffffffffn);
  }

  /** Applies a write of `value` to the bits in `lanes` (the bytes the access covers). */
  private writeValue(r: CompiledReg, value: bigint, lanes: bigint): void {
    const old = this.values[r.index]!;
    const writable = lanes & ~(r.roMask | r.w1cMask | r.w1sMask);
    let next = (old & ~writable) | (value & writable);
    next &= ~(value & lanes & r.w1cMask);
    next |= value & lanes & r.w1sMask;
    this.values[r.index] = next;
    r.def.write?.(next, old, value & lanes);
  }

  mmioRead(offset: number, size: AccessSize, acc: MmioAccess): void {
    const e = this.locate(offset, size, false);
    if (e === undefined) {
      if (this.options.unmappedRazWi && this.lastIssue?.reason === 'unmapped') {
        acc.lo = 0;
        acc.hi = 0;
        return;
      }
      acc.error = true;
      return;
    }
    const { reg, shift } = e;
    if (size === 8 && !reg.wide) {
      // two consecutive 32-bit registers read as one 64-bit access
      const next = this.byWord.get((offset >> 2) + 1);
      acc.lo = Number(this.readValue(reg)) >>> 0;
      acc.hi = next ? Number(this.readValue(next.reg)) >>> 0 : 0;
      return;
    }
    const v = this.readValue(reg) >> BigInt(shift);
    acc.lo = Number(v & 0xffffffffn) >>> 0;
    acc.hi = size === 8 ? Number((v >> 32n) & 0xffffffffn) >>> 0 : 0;
    if (size < 4) acc.lo &= size === 1 ? 0xff : 0xffff;
  }

  mmioWrite(offset: number, size: AccessSize, acc: MmioAccess): void {
    const e = this.locate(offset, size, true);
    if (e === undefined) {
      if (this.options.unmappedRazWi && this.lastIssue?.reason === 'unmapped') return;
      acc.error = true;
      return;
    }
    const { reg, shift } = e;
    if (size === 8 && !reg.wide) {
      const next = this.byWord.get((offset >> 2) + 1);
      this.writeValue(reg, BigInt(acc.lo >>> 0), 0xffffffffn);
      if (next) this.writeValue(next.reg, BigInt(acc.hi >>> 0), 0xffffffffn);
      return;
    }
    const value = size === 8 ? (BigInt(acc.hi >>> 0) << 32n) | BigInt(acc.lo >>> 0) : BigInt(acc.lo >>> 0);
    const laneBits = size === 8 ? ALL64 : (1n << BigInt(size * 8)) - 1n;
    this.writeValue(reg, value << BigInt(shift), laneBits << BigInt(shift));
  }

  private locate(offset: number, size: AccessSize, write: boolean): { reg: CompiledReg; shift: number } | undefined {
    if (offset % size !== 0) {
      this.lastIssue = { offset, size, write, reason: 'alignment' };
      return undefined;
    }
    const e = this.byWord.get(offset >> 2);
    if (e === undefined) {
      this.lastIssue = { offset, size, write, reason: 'unmapped' };
      return undefined;
    }
    if (size < 4 && !this.options.allowNarrow) {
      this.lastIssue = { offset, size, write, reason: 'width' };
      return undefined;
    }
    if (size === 8 && !e.reg.wide) {
      if (e.high) {
        this.lastIssue = { offset, size, write, reason: 'alignment' };
        return undefined;
      }
      return { reg: e.reg, shift: 0 };
    }
    const shift = (e.high ? 32 : 0) + (offset & 3) * 8;
    return { reg: e.reg, shift };
  }
}
