// A generic ECAM PCIe host bridge (the kind Linux drives with pci-host-ecam-generic):
// configuration space through the Enhanced Configuration Access Mechanism (PCIe Base
// 4.0 7.2.2: offset = bus << 20 | device << 15 | function << 12 | register), one
// non-prefetchable MMIO window routed to whichever BAR decodes the address, and a bus
// master port per function whose StreamID comes from the `iommu-map` of the device tree.

import type { PhysicalBus } from '../bus/bus.js';
import { DmaPort } from '../bus/dma.js';
import type { AccessSize, MmioAccess, MmioDevice } from '../bus/mmio.js';
import type { PciFunction } from './function.js';

/** QEMU virt / DESIGN.md section 6. */
export const PCIE_ECAM_BASE = 0x3f00_0000;
export const PCIE_ECAM_BUSES = 16;
export const PCIE_MMIO_BASE = 0x1000_0000;
export const PCIE_MMIO_SIZE = 0x2eff_0000;

/** One `iommu-map = <rid-base &iommu sid-base length>` entry. */
export interface IommuMapEntry {
  readonly ridBase: number;
  readonly sidBase: number;
  readonly length: number;
}

export interface PcieHostBridgeOptions {
  /** Trace name of the bridge's regions (default "pcie"). */
  readonly name?: string;
  readonly ecamBase?: number;
  /** Buses covered by the ECAM window (1 MiB each; default 16). */
  readonly ecamBuses?: number;
  readonly mmioBase?: number;
  readonly mmioSize?: number;
  /** RID -> StreamID: a function, or `iommu-map` entries (default: StreamID = RID). */
  readonly iommuMap?: ((rid: number) => number) | readonly IommuMapEntry[];
}

export interface Bdf {
  readonly bus: number;
  readonly device: number;
  readonly function: number;
}

export interface EnumeratedFunction extends Bdf {
  /** "bb:dd.f" in hex, as lspci prints it. */
  readonly bdf: string;
  readonly rid: number;
  readonly streamId: number;
  readonly fn: PciFunction;
}

export function formatBdf(b: Bdf): string {
  const h = (v: number, w: number) => v.toString(16).padStart(w, '0');
  return `${h(b.bus, 2)}:${h(b.device, 2)}.${b.function}`;
}

/** Maps a RID through `iommu-map` entries; undefined when no entry covers it. */
export function mapRid(entries: readonly IommuMapEntry[], rid: number): number | undefined {
  for (const e of entries) if (rid >= e.ridBase && rid < e.ridBase + e.length) return e.sidBase + (rid - e.ridBase);
  return undefined;
}

export class PcieHostBridge {
  readonly name: string;
  readonly ecamBase: number;
  readonly ecamSize: number;
  readonly mmioBase: number;
  readonly mmioSize: number;
  readonly ecam: MmioDevice;
  readonly mmio: MmioDevice;
  private readonly bus: PhysicalBus;
  private readonly iommuMap: (rid: number) => number;
  /** Function at each RID covered by ECAM (bus * 256 + devfn). */
  private readonly byRid: (PciFunction | undefined)[];
  private readonly attached: EnumeratedFunction[] = [];
  // Decode table of enabled BARs inside the window, rebuilt when a BAR or MSE changes.
  private decBase = new Float64Array(0);
  private decEnd = new Float64Array(0);
  private decFn: PciFunction[] = [];
  private decBar = new Uint8Array(0);
  private decCount = 0;
  private lastHit = 0;

  constructor(host: PhysicalBus | { readonly bus: PhysicalBus }, options: PcieHostBridgeOptions = {}) {
    this.bus = 'bus' in host ? host.bus : host;
    this.name = options.name ?? 'pcie';
    this.ecamBase = options.ecamBase ?? PCIE_ECAM_BASE;
    const buses = options.ecamBuses ?? PCIE_ECAM_BUSES;
    if (!Number.isInteger(buses) || buses < 1 || buses > 256) throw new Error(`${this.name}: ecamBuses must be 1..256, got ${buses}`);
    this.ecamSize = buses << 20;
    this.mmioBase = options.mmioBase ?? PCIE_MMIO_BASE;
    this.mmioSize = options.mmioSize ?? PCIE_MMIO_SIZE;
    this.byRid = new Array<PciFunction | undefined>(buses * 256).fill(undefined);
    const map = options.iommuMap;
    if (map === undefined) this.iommuMap = (rid) => rid;
    else if (typeof map === 'function') this.iommuMap = map;
    else {
      const entries = [...map];
      this.iommuMap = (rid) => {
        const sid = mapRid(entries, rid);
        if (sid === undefined) throw new Error(`${this.name}: iommu-map has no entry for RID 0x${rid.toString(16)}`);
        return sid;
      };
    }
    this.ecam = { name: `${this.name}-ecam`, mmioRead: (o, s, a) => this.ecamRead(o, s, a), mmioWrite: (o, s, a) => this.ecamWrite(o, s, a) };
    this.mmio = { name: `${this.name}-mmio`, mmioRead: (o, s, a) => this.windowRead(o, s, a), mmioWrite: (o, s, a) => this.windowWrite(o, s, a) };
  }

  /** Maps the ECAM and MMIO windows on the physical bus. */
  mapOn(bus: PhysicalBus = this.bus): void {
    bus.map(this.ecam.name, this.ecamBase, this.ecamSize, this.ecam);
    bus.map(this.mmio.name, this.mmioBase, this.mmioSize, this.mmio);
  }

  /**
   * Plugs `fn` in at bus/device/function: sets its requester ID and creates its DMA
   * port with StreamID = iommu-map(RID). Wiring mistakes throw.
   */
  attach(fn: PciFunction, at: Bdf): DmaPort {
    const { bus, device, function: func } = at;
    if (!Number.isInteger(bus) || bus < 0 || bus * 256 >= this.byRid.length) throw new Error(`${this.name}: bus ${bus} is outside the ECAM window (buses 0..${this.byRid.length / 256 - 1})`);
    if (!Number.isInteger(device) || device < 0 || device > 31) throw new Error(`${this.name}: device number ${device} must be 0..31`);
    if (!Number.isInteger(func) || func < 0 || func > 7) throw new Error(`${this.name}: function number ${func} must be 0..7`);
    const rid = (bus << 8) | (device << 3) | func;
    const bdf = formatBdf(at);
    if (this.byRid[rid] !== undefined) throw new Error(`${this.name}: ${bdf} is already occupied by ${this.byRid[rid]!.name}`);
    const sid = this.iommuMap(rid);
    const port = new DmaPort(this.bus, `${fn.name}@${bdf}`, sid);
    fn.plug(rid, port);
    fn.decodeChanged = () => this.rebuildDecode();
    this.byRid[rid] = fn;
    this.attached.push({ bus, device, function: func, bdf, rid, streamId: sid, fn });
    this.attached.sort((a, b) => a.rid - b.rid);
    // Header Type bit 7 on every function of a multi-function device (PCI 3.0 6.2.1).
    const base = rid & ~7;
    const siblings = this.byRid.slice(base, base + 8).filter((f): f is PciFunction => f !== undefined);
    for (const s of siblings) s.setMultiFunction(siblings.length > 1);
    this.rebuildDecode();
    return port;
  }

  /** Functions present, in RID order. */
  enumerate(): readonly EnumeratedFunction[] {
    return this.attached;
  }

  functionAt(bus: number, device: number, func: number): PciFunction | undefined {
    return this.byRid[(bus << 8) | (device << 3) | func];
  }

  /** Every function's bus-master port (the board puts the SMMU on them). */
  ports(): DmaPort[] {
    return this.attached.map((e) => e.fn.dma);
  }

  // --- ECAM (PCIe Base 4.0 7.2.2) ---

  private ecamRead(offset: number, size: AccessSize, acc: MmioAccess): void {
    const fn = this.byRid[offset >>> 12];
    if (fn === undefined) {
      // 7.2.2 / 2.3.2: a configuration read to a function that does not exist completes
      // with UR, which the root complex returns to the CPU as all ones.
      acc.lo = size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
      acc.hi = size === 8 ? 0xffffffff : 0;
      return;
    }
    const reg = offset & 0xfff;
    if (size === 8) {
      // Configuration requests are at most one DWORD: split the access.
      if ((reg & 7) !== 0) {
        acc.error = true;
        return;
      }
      fn.config.mmioRead(reg, 4, acc);
      const lo = acc.lo;
      fn.config.mmioRead(reg + 4, 4, acc);
      acc.hi = acc.lo;
      acc.lo = lo;
      return;
    }
    fn.config.mmioRead(reg, size, acc);
  }

  private ecamWrite(offset: number, size: AccessSize, acc: MmioAccess): void {
    const fn = this.byRid[offset >>> 12];
    if (fn === undefined) return; // UR for a posted-like config write: dropped, no error to the CPU
    const reg = offset & 0xfff;
    if (size === 8) {
      if ((reg & 7) !== 0) {
        acc.error = true;
        return;
      }
      const hi = acc.hi;
      fn.config.mmioWrite(reg, 4, acc);
      acc.lo = hi;
      acc.hi = 0;
      fn.config.mmioWrite(reg + 4, 4, acc);
      return;
    }
    fn.config.mmioWrite(reg, size, acc);
  }

  // --- MMIO window: routed to the BAR that decodes the address ---

  private rebuildDecode(): void {
    const entries: { base: number; end: number; fn: PciFunction; bar: number }[] = [];
    const winEnd = this.mmioBase + this.mmioSize;
    for (const e of this.attached) {
      const fn = e.fn;
      if (!fn.memoryEnabled) continue;
      for (let i = 0; i < 6; i++) {
        const b = fn.bar(i);
        if (b === undefined) continue;
        const base = fn.barBase[i]!;
        // Only BARs wholly inside the window are reachable through it.
        if (base < this.mmioBase || base + b.size > winEnd) continue;
        entries.push({ base, end: base + b.size, fn, bar: i });
      }
    }
    const n = entries.length;
    this.decBase = new Float64Array(n);
    this.decEnd = new Float64Array(n);
    this.decBar = new Uint8Array(n);
    this.decFn = entries.map((e) => e.fn);
    entries.forEach((e, i) => {
      this.decBase[i] = e.base;
      this.decEnd[i] = e.end;
      this.decBar[i] = e.bar;
    });
    this.decCount = n;
    this.lastHit = 0;
  }

  /** Index of the decode entry holding [pa, pa+size), or -1. Overlapping BARs (a programming error) decode to one of them, deterministically. */
  private decode(pa: number, size: number): number {
    const h = this.lastHit;
    if (h < this.decCount && pa >= this.decBase[h]! && pa + size <= this.decEnd[h]!) return h;
    for (let i = 0; i < this.decCount; i++) {
      if (pa >= this.decBase[i]! && pa + size <= this.decEnd[i]!) {
        this.lastHit = i;
        return i;
      }
    }
    return -1;
  }

  private windowRead(offset: number, size: AccessSize, acc: MmioAccess): void {
    const pa = this.mmioBase + offset;
    const i = this.decode(pa, size);
    if (i < 0) {
      acc.error = true;
      acc.decodeError = true;
      return;
    }
    this.decFn[i]!.barRead(this.decBar[i]!, pa - this.decBase[i]!, size, acc);
  }

  private windowWrite(offset: number, size: AccessSize, acc: MmioAccess): void {
    const pa = this.mmioBase + offset;
    const i = this.decode(pa, size);
    if (i < 0) {
      acc.error = true;
      acc.decodeError = true;
      return;
    }
    this.decFn[i]!.barWrite(this.decBar[i]!, pa - this.decBase[i]!, size, acc);
  }
}
