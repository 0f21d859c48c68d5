// A test-only ArchCpu over a bare PhysicalBus, for kernel-mm unit tests that need
// physical accesses and a translation of virtual addresses before (or without) the
// real CPU model. Virtual accesses walk TTBR0_EL1 with the shared VMSA walker (the
// same code the CPU MMU and SMMU use), check permissions, and on a fault call the
// installed vectors' `sync` with ESR/FAR as a data abort would, then retry. There is
// no TLB: every access walks, so a missing TLBI cannot be caught here; the TLBIs the
// kernel issues are recorded in `tlbis` for tests to assert on.

import type { AccessFault, ArchCpu, CoreMain, ExceptionVectors, SysRegName, TlbiOp, VirtAccessOptions } from '../../src/arch/cpu.js';
import { ExceptionLevel } from '../../src/arch/cpu.js';
import { setCurrentCpu } from '../../src/arch/current.js';
import type { PhysicalBus } from '../../src/hw/bus/bus.js';
import { checkPermission, walk } from '../../src/hw/vmsa/walker.js';
import { WalkFault, WalkResult, type DescriptorReader, type WalkConfig } from '../../src/hw/vmsa/types.js';
import { MachineCore } from '../../src/machine/machine.js';

const TWO32 = 4294967296;

export interface TlbiRecord {
  op: TlbiOp;
  arg: bigint;
}

export class BusArchCpu implements ArchCpu {
  readonly id = 0;
  el: ExceptionLevel = ExceptionLevel.EL1;
  readonly user = { x: new Float64Array(31), sp: 0, pc: 0 };
  readonly cost: Readonly<Record<string, number>>;
  readonly tlbis: TlbiRecord[] = [];
  private readonly sysregs = new Map<SysRegName, bigint>();
  private vectors: ExceptionVectors | undefined;
  private timeNs = 0;
  private readonly initiator: number;
  private readonly res = new WalkResult();
  private readonly reader: DescriptorReader;
  /** Number of data aborts delivered to the vectors. */
  faults = 0;

  constructor(readonly bus: PhysicalBus, cost: Readonly<Record<string, number>> = {}) {
    this.cost = cost;
    this.initiator = bus.trace.initiatorId('test-cpu');
    const b = bus;
    const init = this.initiator;
    this.reader = {
      hi: 0,
      error: false,
      readDescriptor(pa: number): number {
        const lo = b.load(pa, 8, init);
        this.hi = b.hi;
        this.error = b.error;
        return lo;
      },
    };
  }

  /** Makes this the current core (thisCpu()) and returns a function restoring the previous one. */
  makeCurrent(): () => void {
    const prev = setCurrentCpu(this);
    return () => setCurrentCpu(prev);
  }

  setEl(el: ExceptionLevel): void {
    this.el = el;
  }
  now(): number {
    return this.timeNs;
  }
  charge(ns: number): void {
    this.timeNs += ns;
  }
  /** One core and no run loop: its turn never ends. */
  turnEndNs(): number {
    return Infinity;
  }
  /** YIELD: one cycle; with no run loop and no other core there is nothing to hand over to. */
  *yieldHint(): Generator<unknown, void, unknown> {
    this.charge(1);
  }
  readSysreg(name: SysRegName): bigint {
    return this.sysregs.get(name) ?? 0n;
  }
  writeSysreg(name: SysRegName, value: bigint | number): void {
    this.sysregs.set(name, BigInt(value));
  }
  tlbi(op: TlbiOp, arg: bigint | number = 0): void {
    this.tlbis.push({ op, arg: BigInt(arg) });
  }
  dsb(): void {}
  isb(): void {}

  // ---- translation ----
  private cfg(): WalkConfig {
    const ttbr = this.readSysreg('TTBR0_EL1') & 0x0000_ffff_ffff_fffen;
    return { stage: 1, ttb: Number(ttbr), granuleShift: 12, tsz: 16, oasBits: 48 };
  }

  /** Translates or returns the fault (ESR as a data abort from EL0 or EL1). */
  translate(va: number, write: boolean, unprivileged: boolean): number | AccessFault {
    const r = this.res;
    walk(this.reader, this.cfg(), va, r);
    const priv = !unprivileged && this.el === ExceptionLevel.EL1;
    if (r.fault === WalkFault.None && !r.af) r.fault = WalkFault.AccessFlag;
    if (r.fault === WalkFault.None) checkPermission(r, { write, exec: false, priv });
    if (r.fault === WalkFault.None) return r.pa;
    const fsc =
      r.fault === WalkFault.Translation
        ? 0x04 + r.level
        : r.fault === WalkFault.AccessFlag
          ? 0x08 + r.level
          : r.fault === WalkFault.Permission
            ? 0x0c + r.level
            : r.fault === WalkFault.AddressSize
              ? 0x00 + r.level
              : 0x10;
    const ec = this.el === ExceptionLevel.EL0 ? 0x24 : 0x25;
    const esr = ((ec << 26) | (1 << 25) | (write ? 1 << 6 : 0) | fsc) >>> 0;
    return { esr, far: va };
  }

  private resolve(va: number, write: boolean): number {
    for (let tries = 0; tries < 8; tries++) {
      const t = this.translate(va, write, false);
      if (typeof t === 'number') return t;
      if (this.vectors === undefined) throw new Error(`BusArchCpu: fault at 0x${va.toString(16)} with no vectors`);
      this.faults++;
      this.writeSysreg('ESR_EL1', t.esr);
      this.writeSysreg('FAR_EL1', t.far);
      const from = this.el;
      this.vectors.sync(this, from, t.esr, t.far < 0 ? t.far + 2 ** 64 : t.far);
    }
    throw new Error(`BusArchCpu: fault at 0x${va.toString(16)} not resolved after 8 retries`);
  }

  ld8(va: number): number {
    return this.ldPhys8(this.resolve(va, false));
  }
  ld16(va: number): number {
    return this.ldPhys16(this.resolve(va, false));
  }
  ld32(va: number): number {
    return this.ldPhys32(this.resolve(va, false));
  }
  ld64(va: number): number {
    return this.ldPhys64(this.resolve(va, false));
  }
  ld64n(va: number): bigint {
    return this.ldPhys64n(this.resolve(va, false));
  }
  st8(va: number, v: number): void {
    this.stPhys8(this.resolve(va, true), v);
  }
  st16(va: number, v: number): void {
    this.stPhys16(this.resolve(va, true), v);
  }
  st32(va: number, v: number): void {
    this.stPhys32(this.resolve(va, true), v);
  }
  st64(va: number, v: number | bigint): void {
    this.stPhys64(this.resolve(va, true), v);
  }
  readVirt(va: number, dst: Uint8Array, dstOff = 0, len = dst.length - dstOff): void {
    for (let i = 0; i < len; i++) dst[dstOff + i] = this.ld8(va + i);
  }
  writeVirt(va: number, src: Uint8Array, srcOff = 0, len = src.length - srcOff): void {
    for (let i = 0; i < len; i++) this.st8(va + i, src[srcOff + i]!);
  }
  tryReadVirt(va: number, dst: Uint8Array, dstOff: number, len: number, opts?: VirtAccessOptions): AccessFault | undefined {
    for (let i = 0; i < len; i++) {
      const t = this.translate(va + i, false, opts?.unprivileged ?? false);
      if (typeof t !== 'number') return t;
      dst[dstOff + i] = this.ldPhys8(t);
    }
    return undefined;
  }
  tryWriteVirt(va: number, src: Uint8Array, srcOff: number, len: number, opts?: VirtAccessOptions): AccessFault | undefined {
    for (let i = 0; i < len; i++) {
      const t = this.translate(va + i, true, opts?.unprivileged ?? false);
      if (typeof t !== 'number') return t;
      this.stPhys8(t, src[srcOff + i]!);
    }
    return undefined;
  }
  at(va: number, opts?: VirtAccessOptions): { pa: number } | AccessFault {
    const t = this.translate(va, opts?.write ?? false, opts?.unprivileged ?? false);
    return typeof t === 'number' ? { pa: t } : t;
  }

  // ---- physical ----
  ldPhys8(pa: number): number {
    this.timeNs++;
    return this.bus.load(pa, 1, this.initiator);
  }
  ldPhys16(pa: number): number {
    this.timeNs++;
    return this.bus.load(pa, 2, this.initiator);
  }
  ldPhys32(pa: number): number {
    this.timeNs++;
    return this.bus.load(pa, 4, this.initiator);
  }
  ldPhys64(pa: number): number {
    this.timeNs++;
    const lo = this.bus.load(pa, 8, this.initiator);
    return this.bus.hi * TWO32 + lo;
  }
  ldPhys64n(pa: number): bigint {
    this.timeNs++;
    const lo = this.bus.load(pa, 8, this.initiator);
    return (BigInt(this.bus.hi) << 32n) | BigInt(lo);
  }
  pairHi = 0;
  ldPhys64Pair(pa: number): number {
    this.timeNs++;
    const lo = this.bus.load(pa, 8, this.initiator);
    this.pairHi = this.bus.hi;
    return lo;
  }
  stPhys64Pair(pa: number, lo: number, hi: number): void {
    this.timeNs++;
    this.bus.store(pa, 8, lo >>> 0, hi >>> 0, this.initiator);
  }
  stPhys8(pa: number, v: number): void {
    this.timeNs++;
    this.bus.store(pa, 1, v, 0, this.initiator);
  }
  stPhys16(pa: number, v: number): void {
    this.timeNs++;
    this.bus.store(pa, 2, v, 0, this.initiator);
  }
  stPhys32(pa: number, v: number): void {
    this.timeNs++;
    this.bus.store(pa, 4, v, 0, this.initiator);
  }
  stPhys64(pa: number, v: number | bigint): void {
    this.timeNs++;
    const b = BigInt(v) & 0xffff_ffff_ffff_ffffn;
    this.bus.store(pa, 8, Number(b & 0xffff_ffffn), Number(b >> 32n), this.initiator);
  }
  readPhys(pa: number, dst: Uint8Array, dstOff = 0, len = dst.length - dstOff): void {
    this.timeNs += len / 8;
    if (this.bus.isRam(pa, len)) this.bus.ram.readInto(pa - this.bus.ram.base, dst, dstOff, len);
    else for (let i = 0; i < len; i++) dst[dstOff + i] = this.bus.load(pa + i, 1, this.initiator);
  }
  writePhys(pa: number, src: Uint8Array, srcOff = 0, len = src.length - srcOff): void {
    this.timeNs += len / 8;
    if (this.bus.isRam(pa, len)) this.bus.ram.writeFrom(pa - this.bus.ram.base, src, srcOff, len);
    else for (let i = 0; i < len; i++) this.bus.store(pa + i, 1, src[srcOff + i]!, 0, this.initiator);
  }
  fillPhys(pa: number, value: number, len: number): void {
    this.timeNs += len / 64;
    if (this.bus.isRam(pa, len)) this.bus.ram.fill(pa - this.bus.ram.base, value & 0xff, len);
    else for (let i = 0; i < len; i++) this.bus.store(pa + i, 1, value & 0xff, 0, this.initiator);
  }

  // ---- exceptions ----
  *svc(nr: number, ...args: number[]): Generator<unknown, number, unknown> {
    if (this.vectors === undefined) throw new Error('BusArchCpu: svc with no vectors');
    const from = this.el;
    this.el = ExceptionLevel.EL1;
    try {
      return yield* this.vectors.svc(this, nr, args);
    } finally {
      this.el = from;
    }
  }
  setVectors(vbar: number, vectors: ExceptionVectors): void {
    this.writeSysreg('VBAR_EL1', vbar);
    this.vectors = vectors;
  }
  irqPending(): boolean {
    return false;
  }
  sev(): void {}
  sevl(): void {}
  /** No event model here: WFE returns after one cycle (a spurious wake-up, which the caller's loop allows for). */
  wfe(_untilNs?: number): void {
    this.charge(1);
  }
  ldxr32(va: number): number {
    return this.ld32(va);
  }
  ldxr64(va: number): number {
    return this.ld64(va);
  }
  ldxrPhys32(pa: number): number {
    return this.ldPhys32(pa);
  }
  ldxrPhys64(pa: number): number {
    return this.ldPhys64(pa);
  }
  clrex(): void {}
  smc(functionId: number, _x1?: number | bigint, _x2?: number | bigint | CoreMain, _x3?: number | bigint): number {
    void functionId;
    return -1;
  }
}

/** A bus-only machine and a current test CPU over it. */
export function makeBusCpu(ramSize: number): { machine: MachineCore; cpu: BusArchCpu; restore: () => void } {
  const machine = new MachineCore({ ramSize });
  const cpu = new BusArchCpu(machine.bus, machine.cost as unknown as Record<string, number>);
  const restore = cpu.makeCurrent();
  return { machine, cpu, restore };
}

/** A bus CPU whose time is the machine's: each charge advances the clock, so device events fall due. */
export class ClockedBusCpu extends BusArchCpu {
  constructor(private readonly m: MachineCore) {
    super(m.bus, m.cost as unknown as Record<string, number>);
  }
  override now(): number {
    return this.m.clock.now();
  }
  override charge(ns: number): void {
    this.m.clock.advance(ns);
  }
}
