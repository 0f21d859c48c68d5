// The physical address space: RAM plus MMIO regions dispatched by address.
// Every access names its initiator so the trace shows who did what. An access to
// nothing is a bus error (DECERR): recorded, counted, and returned to the initiator
// as `error`, never thrown.

import { SparseRam } from './ram.js';
import { DEVICE_WRITER, ExclusiveMonitors } from './exclusive-monitor.js';
import { MmioAccess, type AccessSize, type MmioDevice } from './mmio.js';
import { TraceKind } from '../../trace/record.js';
import { NO_SID, NO_SSID, type TraceRing } from '../../trace/ring.js';

export interface BusRegion {
  readonly name: string;
  readonly base: number;
  readonly size: number;
  readonly device: MmioDevice;
}

export interface BusErrorInfo {
  readonly pa: number;
  readonly size: number;
  readonly write: boolean;
  readonly initiator: string;
  /** DECERR: nothing decodes the address; SLVERR: a device refused the access. */
  readonly reason: 'decode' | 'slave';
}

const TWO32 = 4294967296;

export class PhysicalBus {
  readonly ram: SparseRam;
  private readonly regions: BusRegion[] = [];
  private readonly acc = new MmioAccess();
  /** High half of the last 8-byte load (lo is the return value). */
  hi = 0;
  /** True when the last access through `load`/`store` failed. */
  error = false;
  errorCount = 0;
  lastError: BusErrorInfo | undefined;
  /** Trace id used by the public test-bench API (`machine.bus.read32` etc.). */
  readonly benchInitiator: number;
  /**
   * The cores' exclusive monitors: RAM writes through the bus (device DMA and MSI writes,
   * the test bench) clear the marks they touch. Cores report their own stores to it.
   */
  readonly monitors = new ExclusiveMonitors();

  constructor(
    ramBase: number,
    ramSize: number,
    readonly trace: TraceRing,
  ) {
    this.ram = new SparseRam(ramBase, ramSize);
    this.benchInitiator = trace.initiatorId('bench');
  }

  /** Maps a device at [base, base+size). Overlaps are a wiring mistake of the board. */
  map(name: string, base: number, size: number, device: MmioDevice): void {
    for (const r of this.regions) {
      if (base < r.base + r.size && r.base < base + size) {
        throw new Error(`bus: region ${name} [0x${base.toString(16)}+0x${size.toString(16)}] overlaps ${r.name}`);
      }
    }
    if (base < this.ram.base + this.ram.size && this.ram.base < base + size) {
      throw new Error(`bus: region ${name} overlaps RAM`);
    }
    this.regions.push({ name, base, size, device });
    this.regions.sort((a, b) => a.base - b.base);
  }

  get regionList(): readonly BusRegion[] {
    return this.regions;
  }

  isRam(pa: number, len = 1): boolean {
    return pa >= this.ram.base && pa + len <= this.ram.base + this.ram.size;
  }

  findRegion(pa: number): BusRegion | undefined {
    const rs = this.regions;
    let lo = 0;
    let hi = rs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = rs[mid]!;
      if (pa < r.base) hi = mid - 1;
      else if (pa >= r.base + r.size) lo = mid + 1;
      else return r;
    }
    return undefined;
  }

  /**
   * Loads `size` bytes at `pa` for `initiator`. Returns the low 32 bits (8-byte loads
   * leave the high half in `this.hi`); sets `this.error` on a bus error (value 0).
   */
  load(pa: number, size: AccessSize, initiator: number, streamId = NO_SID): number {
    this.error = false;
    const ram = this.ram;
    const off = pa - ram.base;
    if (off >= 0 && off + size <= ram.size) {
      switch (size) {
        case 1:
          return ram.read8(off);
        case 2:
          return ram.read16(off);
        case 4:
          return ram.read32(off);
        default:
          this.hi = ram.read32(off + 4);
          return ram.read32(off);
      }
    }
    const r = this.findRegion(pa);
    if (r === undefined || pa + size > r.base + r.size) return this.fail(pa, size, false, initiator, 'decode', streamId);
    const acc = this.acc.reset(initiator, 0, 0, streamId);
    r.device.mmioRead(pa - r.base, size, acc);
    if (acc.error) return this.fail(pa, size, false, initiator, acc.decodeError ? 'decode' : 'slave', streamId);
    const lo = size === 4 || size === 8 ? acc.lo >>> 0 : acc.lo & (size === 1 ? 0xff : 0xffff);
    this.hi = size === 8 ? acc.hi >>> 0 : 0;
    if (this.trace.on) this.trace.record(TraceKind.MmioRead, initiator, NO_SID, NO_SSID, pa, pa, size, lo, 0, this.hi);
    return lo;
  }

  /** Stores `size` bytes at `pa`; `hi` is the top half of an 8-byte store. */
  store(pa: number, size: AccessSize, lo: number, hi: number, initiator: number, streamId = NO_SID): void {
    this.error = false;
    const ram = this.ram;
    const off = pa - ram.base;
    if (off >= 0 && off + size <= ram.size) {
      if (this.monitors.armed !== 0) this.monitors.written(pa, size, DEVICE_WRITER);
      switch (size) {
        case 1:
          ram.write8(off, lo & 0xff);
          return;
        case 2:
          ram.write16(off, lo & 0xffff);
          return;
        case 4:
          ram.write32(off, lo >>> 0);
          return;
        default:
          ram.write32(off, lo >>> 0);
          ram.write32(off + 4, hi >>> 0);
          return;
      }
    }
    const r = this.findRegion(pa);
    if (r === undefined || pa + size > r.base + r.size) {
      this.fail(pa, size, true, initiator, 'decode', streamId);
      return;
    }
    const mask = size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
    const acc = this.acc.reset(initiator, (lo & mask) >>> 0, size === 8 ? hi >>> 0 : 0, streamId);
    if (this.trace.on) this.trace.record(TraceKind.MmioWrite, initiator, NO_SID, NO_SSID, pa, pa, size, acc.lo, 0, acc.hi);
    r.device.mmioWrite(pa - r.base, size, acc);
    if (acc.error) this.fail(pa, size, true, initiator, acc.decodeError ? 'decode' : 'slave', streamId);
  }

  private fail(pa: number, size: number, write: boolean, initiator: number, reason: 'decode' | 'slave', streamId = NO_SID): number {
    this.error = true;
    this.hi = 0;
    this.errorCount++;
    this.lastError = { pa, size, write, initiator: this.trace.initiatorName(initiator), reason };
    if (this.trace.on) {
      this.trace.record(TraceKind.BusError, initiator, streamId, NO_SSID, pa, pa, size, 0, write ? 1 : 0);
    }
    return 0;
  }

  /**
   * Bulk read of physical memory into `dst`. RAM runs copy with `set`; MMIO is read
   * a byte at a time. Returns false on a bus error (the rest of `dst` is zeroed).
   */
  readInto(pa: number, dst: Uint8Array, dstOff: number, len: number, initiator: number, streamId = NO_SID): boolean {
    if (this.isRam(pa, len)) {
      this.ram.readInto(pa - this.ram.base, dst, dstOff, len);
      return true;
    }
    if ((len === 4 || len === 8 || len === 2) && pa % len === 0) {
      const lo = this.load(pa, len, initiator, streamId);
      if (this.error) {
        dst.fill(0, dstOff, dstOff + len);
        return false;
      }
      for (let i = 0; i < len; i++) dst[dstOff + i] = i < 4 ? (lo >>> (8 * i)) & 0xff : (this.hi >>> (8 * (i - 4))) & 0xff;
      return true;
    }
    for (let i = 0; i < len; i++) {
      dst[dstOff + i] = this.load(pa + i, 1, initiator, streamId);
      if (this.error) {
        dst.fill(0, dstOff + i, dstOff + len);
        return false;
      }
    }
    return true;
  }

  /** Bulk write of `src[srcOff..srcOff+len)` to physical memory. Returns false on a bus error. */
  writeFrom(pa: number, src: Uint8Array, srcOff: number, len: number, initiator: number, streamId = NO_SID): boolean {
    if (this.isRam(pa, len)) {
      if (this.monitors.armed !== 0) this.monitors.written(pa, len, DEVICE_WRITER);
      this.ram.writeFrom(pa - this.ram.base, src, srcOff, len);
      return true;
    }
    if ((len === 4 || len === 8 || len === 2) && pa % len === 0) {
      let lo = 0;
      let hi = 0;
      for (let i = 0; i < len; i++) {
        if (i < 4) lo |= src[srcOff + i]! << (8 * i);
        else hi |= src[srcOff + i]! << (8 * (i - 4));
      }
      this.store(pa, len, lo >>> 0, hi >>> 0, initiator, streamId);
      return !this.error;
    }
    for (let i = 0; i < len; i++) {
      this.store(pa + i, 1, src[srcOff + i]!, 0, initiator, streamId);
      if (this.error) return false;
    }
    return true;
  }

  // --- Public test-bench API (DESIGN.md section 5): a bus master called "bench". ---

  read8(pa: number | bigint): number {
    return this.load(Number(pa), 1, this.benchInitiator);
  }

  read16(pa: number | bigint): number {
    return this.load(Number(pa), 2, this.benchInitiator);
  }

  read32(pa: number | bigint): number {
    return this.load(Number(pa), 4, this.benchInitiator);
  }

  read64(pa: number | bigint): bigint {
    const lo = this.load(Number(pa), 8, this.benchInitiator);
    return (BigInt(this.hi) << 32n) | BigInt(lo);
  }

  write8(pa: number | bigint, value: number): void {
    this.store(Number(pa), 1, value, 0, this.benchInitiator);
  }

  write16(pa: number | bigint, value: number): void {
    this.store(Number(pa), 2, value, 0, this.benchInitiator);
  }

  write32(pa: number | bigint, value: number): void {
    this.store(Number(pa), 4, value, 0, this.benchInitiator);
  }

  write64(pa: number | bigint, value: bigint | number): void {
    const v = BigInt.asUintN(64, BigInt(value));
    this.store(Number(pa), 8, Number(v & 0xffffffffn), Number(v >> 32n), this.benchInitiator);
  }

  readBytes(pa: number | bigint, len: number): Uint8Array {
    const out = new Uint8Array(len);
    this.readInto(Number(pa), out, 0, len, this.benchInitiator);
    return out;
  }

  writeBytes(pa: number | bigint, bytes: Uint8Array): void {
    this.writeFrom(Number(pa), bytes, 0, bytes.length, this.benchInitiator);
  }
}

/** Splits a Number below 2^53 into its high 32 bits. */
export function hi32(v: number): number {
  return Math.floor(v / TWO32) >>> 0;
}

/** Joins lo/hi halves into a Number (exact when hi < 2^21). */
export function join64(lo: number, hi: number): number {
  return (hi >>> 0) * TWO32 + (lo >>> 0);
}
