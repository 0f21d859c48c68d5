// The contract between the bus and a memory-mapped device.

export type AccessSize = 1 | 2 | 4 | 8;

/**
 * One in-flight MMIO access. The bus owns a single instance and reuses it, so an
 * access allocates nothing. 64-bit values travel as lo/hi 32-bit halves.
 */
export class MmioAccess {
  lo = 0;
  hi = 0;
  /** Set by a device that answers with a slave error (SLVERR); the initiator sees an abort. */
  error = false;
  /**
   * Set with `error` by a bridge that forwards nothing at this address (a PCIe window
   * hole): the initiator sees a decode error (DECERR) rather than SLVERR.
   */
  decodeError = false;
  /** Trace id of the bus master making the access. */
  initiator = 0;
  /**
   * StreamID of a DMA master (sideband, like AXI AxUSER carrying the requester's
   * DeviceID to a GICv3 ITS); 0xffffffff for CPUs and the test bench.
   */
  streamId = 0xffffffff;

  reset(initiator: number, lo = 0, hi = 0, streamId = 0xffffffff): this {
    this.lo = lo;
    this.hi = hi;
    this.error = false;
    this.decodeError = false;
    this.initiator = initiator;
    this.streamId = streamId;
    return this;
  }
}

/** A device region on the bus. Offsets are relative to the region base. */
export interface MmioDevice {
  readonly name: string;
  /** Fill `acc.lo` (and `acc.hi` for 8-byte reads); set `acc.error` to abort. */
  mmioRead(offset: number, size: AccessSize, acc: MmioAccess): void;
  /** Consume `acc.lo` (and `acc.hi` for 8-byte writes); set `acc.error` to abort. */
  mmioWrite(offset: number, size: AccessSize, acc: MmioAccess): void;
}
