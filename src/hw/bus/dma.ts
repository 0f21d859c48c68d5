// DMA ports: how a bus master's transactions reach memory. A port carries the
// master's StreamID; each transaction may carry a SubstreamID (PASID) with SSV and
// the PCIe attributes (privileged, instruction). When an IOMMU sits on the master's
// path the port translates through it page by page, and copies whole runs with
// `Uint8Array.set`.

import type { PhysicalBus } from './bus.js';
import { TraceKind } from '../../trace/record.js';

export enum DmaStatus {
  Ok = 0,
  /** The IOMMU terminated the transaction (abort): the master sees an error response. */
  Abort = 1,
  /** The IOMMU holds the transaction (stall model): wait for `onStallEnd`. */
  Stalled = 2,
  /** Nothing decodes the physical address, or the target refused it. */
  BusError = 3,
}

/** Per-transaction attributes. Reused objects: do not keep references. */
export interface DmaAttrs {
  /** SubstreamID (PASID), meaningful when ssv is true. */
  ssid: number;
  ssv: boolean;
  /** PCIe "privileged mode requested" / AXI APROT[0]. */
  priv: boolean;
  /** Instruction fetch (AXI APROT[2]). */
  exec: boolean;
}

export const DEFAULT_DMA_ATTRS: Readonly<DmaAttrs> = Object.freeze({ ssid: 0, ssv: false, priv: false, exec: false });

/** Result of translating one address: written by the IOMMU into a reused object. */
export class IommuResult {
  /** Output physical address. */
  pa = 0;
  /** Bytes from `pa` that share this translation (to the end of the page or block). */
  span = 0;
}

/**
 * What the SMMU (or any IOMMU) offers a DMA port. `translate` decides one access:
 * Ok (with `out.pa`/`out.span`), Abort, or Stalled. A stalled transaction is later
 * resolved through the port's `stallEnded` callback: retry or abort.
 */
export interface Iommu {
  translate(
    port: DmaPort,
    iova: number,
    write: boolean,
    attrs: Readonly<DmaAttrs>,
    out: IommuResult,
  ): DmaStatus;
  /** Present when the IOMMU accepts PCIe page requests (an SMMU with PRI). */
  readonly pri?: PageRequestSink;
  /**
   * Optional fast path for runs: when `iova` is already translated in the IOMMU's caches
   * (no walk, no fetch, no event needed) to exactly `expectPa`, and the first
   * min(span, need) bytes from there end at or below `paLimit`, counts the access as
   * `translate` would, fills `out` and returns true. Otherwise returns false with no
   * effect at all, and the port calls `translate`.
   */
  extendRun?(port: DmaPort, iova: number, write: boolean, attrs: Readonly<DmaAttrs>, expectPa: number, need: number, paLimit: number, out: IommuResult): boolean;
}

/**
 * Receives a PCIe Page Request Message (PCIe Base 4.0 10.4.1) from a function: the
 * SMMU queues it in its PRI queue. Returns false when it is not accepted. The answer
 * comes back later through the port's `onPageResponse`.
 */
export interface PageRequestSink {
  request(port: DmaPort, addr: number, ssid: number, ssv: boolean, read: boolean, write: boolean, exec: boolean, priv: boolean, prgIndex: number, last: boolean): boolean;
}

/** Receives the end of a stall: `retry` true means replay the transaction. */
export type StallEndCallback = (retry: boolean) => void;

/** A PCIe page request interface (PRI) response delivered to the requesting function. */
export type PageResponseCallback = (prgIndex: number, responseCode: number, ssid: number, ssv: boolean) => void;

export class DmaPort {
  /** Set by the machine when an IOMMU is on this master's path. */
  iommu: Iommu | undefined;
  /** Called by the IOMMU when a stalled transaction of this port is resumed or terminated. */
  onStallEnd: StallEndCallback | undefined;
  /** Called by the IOMMU when a PRI_RESP for this function arrives. */
  onPageResponse: PageResponseCallback | undefined;
  /** Transactions that ended in Abort or BusError since reset. */
  faults = 0;
  /** The IOMMU's own index for this port (set when it attaches the port), -1 when none. */
  iommuSlot = -1;
  readonly initiator: number;
  private readonly tr = new IommuResult();

  constructor(
    readonly bus: PhysicalBus,
    readonly name: string,
    /** StreamID: PCI requester ID mapped by `iommu-map`, or the platform device's id. */
    public sid: number,
  ) {
    this.initiator = bus.trace.initiatorId(name);
  }

  /**
   * Reads `len` bytes at bus address `iova` into `dst[dstOff..]`. On anything but Ok
   * the copy stops at the failing page; `this.done` says how many bytes arrived.
   */
  read(iova: number, dst: Uint8Array, dstOff: number, len: number, attrs: Readonly<DmaAttrs> = DEFAULT_DMA_ATTRS): DmaStatus {
    return this.transfer(iova, dst, dstOff, len, false, attrs);
  }

  write(iova: number, src: Uint8Array, srcOff: number, len: number, attrs: Readonly<DmaAttrs> = DEFAULT_DMA_ATTRS): DmaStatus {
    return this.transfer(iova, src, srcOff, len, true, attrs);
  }

  /** Bytes moved by the last read/write before it stopped. */
  done = 0;

  private transfer(iova: number, buf: Uint8Array, off: number, len: number, write: boolean, attrs: Readonly<DmaAttrs>): DmaStatus {
    const bus = this.bus;
    const trace = bus.trace;
    const iommu = this.iommu;
    const tr = this.tr;
    this.done = 0;
    while (this.done < len) {
      const addr = iova + this.done;
      let pa = addr;
      let span = len - this.done;
      if (iommu !== undefined) {
        const st = iommu.translate(this, addr, write, attrs, tr);
        if (st !== DmaStatus.Ok) {
          if (st !== DmaStatus.Stalled) this.faults++;
          return st;
        }
        pa = tr.pa;
        if (tr.span < span) span = tr.span;
        // Untraced: pages that continue the same RAM run physically are copied with it, when the
        // IOMMU has them cached (a cache lookup reads no memory, so the copy order is unobservable).
        if (span < len - this.done && !trace.on && iommu.extendRun !== undefined && bus.isRam(pa, span)) {
          const ramEnd = bus.ram.base + bus.ram.size;
          for (;;) {
            const need = len - this.done - span;
            if (need <= 0 || !iommu.extendRun(this, addr + span, write, attrs, pa + span, need, ramEnd, tr)) break;
            span += tr.span < need ? tr.span : need;
          }
        }
      }
      const ok = write
        ? bus.writeFrom(pa, buf, off + this.done, span, this.initiator, this.sid)
        : bus.readInto(pa, buf, off + this.done, span, this.initiator, this.sid);
      if (trace.on) {
        const at = off + this.done;
        const head = buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16) | (buf[at + 3]! << 24);
        trace.record(write ? TraceKind.DmaWrite : TraceKind.DmaRead, this.initiator, this.sid, attrs.ssv ? attrs.ssid : -1, addr, pa, span, span >= 4 ? head >>> 0 : buf[at]!);
      }
      if (!ok) {
        this.faults++;
        return DmaStatus.BusError;
      }
      this.done += span;
    }
    return DmaStatus.Ok;
  }

  /**
   * Sends a Page Request Message for the page holding `addr` to the IOMMU's page
   * request interface; false when there is none or it refused the request.
   */
  pageRequest(addr: number, ssid: number, ssv: boolean, read: boolean, write: boolean, exec: boolean, priv: boolean, prgIndex: number, last: boolean): boolean {
    const pri = this.iommu?.pri;
    if (pri === undefined) return false;
    const trace = this.bus.trace;
    if (trace.on) trace.record(TraceKind.PageRequest, this.initiator, this.sid, ssv ? ssid : -1, addr, 0, 0, (read ? 1 : 0) | (write ? 2 : 0) | (exec ? 4 : 0) | (priv ? 8 : 0) | (last ? 16 : 0), prgIndex);
    return pri.request(this, addr, ssid, ssv, read, write, exec, priv, prgIndex, last);
  }

  /** A 32-bit write such as an MSI: one transaction, translated like any other. */
  write32(iova: number, value: number, attrs: Readonly<DmaAttrs> = DEFAULT_DMA_ATTRS): DmaStatus {
    const b = scratch4;
    b[0] = value & 0xff;
    b[1] = (value >>> 8) & 0xff;
    b[2] = (value >>> 16) & 0xff;
    b[3] = (value >>> 24) & 0xff;
    return this.write(iova, b, 0, 4, attrs);
  }
}

const scratch4 = new Uint8Array(4);
