// A DMA test device register-compatible with QEMU's iommu-testdev (hw/misc/
// iommu-testdev.c, docs/specs/iommu-testdev.rst): PCI 1b36:0005, BAR0 of 32-bit
// registers. Software programs an IOVA, a length and the physical address the IOVA
// should translate to, arms the doorbell and reads DMA_TRIGGERING; the device writes
// the pattern 0x12345678 (little-endian, repeated) to the IOVA through the IOMMU, reads
// it back at the physical address directly, and reports 0 or an 0xdead000x code in
// DMA_RESULT.
//
// DMA_GVA is a 64-bit address, taken as a signed value (an address with bit 63 set, as a
// TTB1-range address is, reaches the IOMMU as a negative Number: exact for addresses
// sign-extended from bit 52 up).
//
// Unlike QEMU's model the DMA takes virtual time: DMA_RESULT reads BUSY
// (0xfffffffe) until the transfer completes, cost.dmaLatencyNs + len/cost.dmaBytesPerNs
// after the trigger when nothing stalls. The engine moves the transfer in runs of at most
// 64 KiB at its bandwidth: a run's bytes land when its time has passed, and each byte is
// charged once. A transaction the IOMMU stalls keeps the device BUSY until the IOMMU
// resumes it (replay) or terminates it (error); a resumed transfer goes on where it
// stopped, so a stall adds only the time it lasted (the rest of its run was already
// charged). After a page response the device issues the access again: one more
// cost.dmaLatencyNs.
//
// svasoc extensions, at offsets QEMU leaves unused (QEMU reads them as zero, so software
// detects them through ITD_X_ID). None of these exist in QEMU:
//   0x40 ITD_X_SSID        SubstreamID (PASID) of the transaction, Max PASID Width bits
//   0x44 ITD_X_CTRL        bit 0 SSV, bit 1 PRIV (privileged), bit 2 EXEC (instruction)
//                          (these ride in the PASID TLP prefix, so they take effect only
//                          with PASID Enable, and PRIV/EXEC only with SSV and the PASID
//                          capability's Privileged/Execute enables: PCIe 4.0 6.20, 7.8.8.3),
//                          bits 5:4 OP (0 QEMU write + readback, 1 write only,
//                          2 read + compare), bit 8 PRI (on an IOMMU abort send a page
//                          request and retry after a Success response), bit 9 MSI
//                          (signal MSI vector 0 when the DMA completes)
//   0x48 ITD_X_FAULT_LO    IOVA [31:0] at which the last DMA stopped (RO)
//   0x4c ITD_X_FAULT_HI    IOVA [63:32] (RO)
//   0x50 ITD_X_DONE        bytes the last DMA moved through the IOMMU (RO)
//   0x54 ITD_X_PRI_STATUS  [8:0] last PRG index, [15:12] last PRG response code,
//                          [31:16] page requests sent since reset (RO)
//   0x58 ITD_X_READ_DATA   first DWORD read by OP 2 (RO)
//   0x5c ITD_X_ID          0x58415653 ("SVAX") (RO)
//   0x60 ITD_X_PRI_PAGES   [8:0] pages per Page Request Group: on an IOMMU abort with PRI
//                          the device requests this many consecutive pages from the
//                          faulting one (0 or 1: that page alone), as one PRG whose last
//                          request has Last set, limited by the end of the transfer and by
//                          the Outstanding Page Request Allocation credits left
// Extension error codes: 0xdead0007 page request refused (PRI disabled, no credits or
// no page request interface), 0xdead0008 page response other than Success.

import { Buffer } from 'node:buffer';
import { DmaStatus, type DmaAttrs } from '../bus/dma.js';
import type { AccessSize, MmioAccess, MmioDevice } from '../bus/mmio.js';
import { RegisterBlock } from '../regs/regmap.js';
import { PciFunction, PRG_RESPONSE_SUCCESS } from '../pcie/function.js';
import type { Clock, ScheduledEvent } from '../../machine/clock.js';
import type { CostModel } from '../../machine/cost.js';
import { TraceKind } from '../../trace/record.js';
import { NO_SSID } from '../../trace/ring.js';

export const IOMMU_TESTDEV_VENDOR_ID = 0x1b36; // Red Hat, Inc. (QEMU)
export const IOMMU_TESTDEV_DEVICE_ID = 0x0005; // PCI_DEVICE_ID_REDHAT_TEST
/** PCI_CLASS_OTHERS (0xff), as QEMU declares it. */
export const IOMMU_TESTDEV_CLASS = 0xff0000;
export const IOMMU_TESTDEV_BAR0_SIZE = 0x1000;

export const ITD_REG_DMA_TRIGGERING = 0x00;
export const ITD_REG_DMA_GVA_LO = 0x04;
export const ITD_REG_DMA_GVA_HI = 0x08;
export const ITD_REG_DMA_LEN = 0x0c;
export const ITD_REG_DMA_RESULT = 0x10;
export const ITD_REG_DMA_DBELL = 0x14;
export const ITD_REG_DMA_ATTRS = 0x18;
export const ITD_REG_DMA_GPA_LO = 0x1c;
export const ITD_REG_DMA_GPA_HI = 0x20;

export const ITD_X_SSID = 0x40;
export const ITD_X_CTRL = 0x44;
export const ITD_X_FAULT_LO = 0x48;
export const ITD_X_FAULT_HI = 0x4c;
export const ITD_X_DONE = 0x50;
export const ITD_X_PRI_STATUS = 0x54;
export const ITD_X_READ_DATA = 0x58;
export const ITD_X_ID = 0x5c;
export const ITD_X_ID_VALUE = 0x58415653;
export const ITD_X_PRI_PAGES = 0x60;

export const ITD_X_CTRL_SSV = 1 << 0;
export const ITD_X_CTRL_PRIV = 1 << 1;
export const ITD_X_CTRL_EXEC = 1 << 2;
export const ITD_X_CTRL_OP_SHIFT = 4;
export const ITD_X_OP_WRITE_VERIFY = 0;
export const ITD_X_OP_WRITE = 1;
export const ITD_X_OP_READ = 2;
export const ITD_X_CTRL_PRI = 1 << 8;
export const ITD_X_CTRL_MSI = 1 << 9;

export const ITD_DMA_RESULT_IDLE = 0xffffffff;
export const ITD_DMA_RESULT_BUSY = 0xfffffffe;
export const ITD_DMA_ERR_BAD_LEN = 0xdead0001;
export const ITD_DMA_ERR_TX_FAIL = 0xdead0002;
export const ITD_DMA_ERR_RD_FAIL = 0xdead0003;
export const ITD_DMA_ERR_MISMATCH = 0xdead0004;
export const ITD_DMA_ERR_NOT_ARMED = 0xdead0005;
export const ITD_DMA_ERR_BAD_ATTRS = 0xdead0006;
export const ITD_X_ERR_PRI_REFUSED = 0xdead0007;
export const ITD_X_ERR_PRI_DENIED = 0xdead0008;

export const ITD_DMA_WRITE_VAL = 0x12345678;
export const ITD_DMA_DBELL_ARM = 0x1;

/** ATTRS: bit 0 secure, bits 2:1 ArmSecuritySpace (0 Secure, 1 Non-secure), bit 3 space valid. */
const ATTRS_SPACE_SECURE = 0;
const ATTRS_SPACE_NONSECURE = 1;

/** Longest transfer the device accepts; longer lengths fail with BAD_LEN (svasoc limit). */
export const ITD_MAX_LEN = 64 * 1024 * 1024;
/** The engine moves data in runs of at most this many bytes. */
const RUN = 64 * 1024;

const enum Phase {
  Idle,
  /** Waiting for the scheduled (re)issue of the transfer. */
  Issuing,
  /** The IOMMU holds a transaction: waiting for onStallEnd. */
  Stalled,
  /** A page request is out: waiting for onPageResponse. */
  PageRequest,
}

export interface IommuTestDevOptions {
  readonly clock: Clock;
  readonly cost: Readonly<CostModel>;
  /** PCI function name (trace initiator); default "iommu-testdev". */
  readonly name?: string;
  /** Max PASID Width of the PASID capability (default 16). */
  readonly maxPasidWidth?: number;
  /** Outstanding Page Request Capacity of the PRI capability (default 32). */
  readonly priCapacity?: number;
}

export class IommuTestDev implements MmioDevice {
  readonly name: string;
  readonly fn: PciFunction;
  readonly regs: RegisterBlock;
  private readonly clock: Clock;
  private readonly cost: Readonly<CostModel>;
  private armed = false;
  private phase = Phase.Idle;
  private pending: ScheduledEvent | undefined;
  // The transfer being run, sampled at the trigger (QEMU samples GVA/LEN/ATTRS there).
  private iova = 0;
  private gpa = 0;
  private len = 0;
  private op = ITD_X_OP_WRITE_VERIFY;
  private pri = false;
  private msi = false;
  /** Bytes moved through the port. */
  private pos = 0;
  /** Bytes whose transfer time has been charged (pos <= paid <= len). */
  private paid = 0;
  /** IOVA of the page last requested through PRI: a second abort there fails the DMA. */
  private priPage = -1;
  private prgIndex = 0;
  private pageRequests = 0;
  private readonly attrs: DmaAttrs = { ssid: 0, ssv: false, priv: false, exec: false };
  // The pattern, with 4 spare bytes so a run can start at any phase of the 4-byte period,
  // and a read buffer; a Buffer view of it compares with the pattern at memcmp speed.
  private readonly pattern = new Uint8Array(RUN + 4);
  private readonly scratch = new Uint8Array(RUN);
  private readonly scratchView = Buffer.from(this.scratch.buffer, 0, RUN);
  private readonly onStallEnd = (retry: boolean): void => this.stallEnded(retry);
  private readonly eventLabel: string;
  private readonly issue = (): void => {
    this.pending = undefined;
    this.run();
  };

  constructor(options: IommuTestDevOptions) {
    this.clock = options.clock;
    this.cost = options.cost;
    this.name = options.name ?? 'iommu-testdev';
    this.eventLabel = `${this.name}.dma`;
    const maxPasidWidth = options.maxPasidWidth ?? 16;
    for (let i = 0; i < this.pattern.length; i++) this.pattern[i] = (ITD_DMA_WRITE_VAL >>> ((i & 3) * 8)) & 0xff;
    this.regs = new RegisterBlock(`${this.name}.bar0`, [
      { name: 'DMA_TRIGGERING', offset: ITD_REG_DMA_TRIGGERING, access: 'RO', read: () => this.trigger() },
      { name: 'DMA_GVA_LO', offset: ITD_REG_DMA_GVA_LO },
      { name: 'DMA_GVA_HI', offset: ITD_REG_DMA_GVA_HI },
      { name: 'DMA_LEN', offset: ITD_REG_DMA_LEN },
      { name: 'DMA_RESULT', offset: ITD_REG_DMA_RESULT, reset: ITD_DMA_RESULT_IDLE },
      { name: 'DMA_DBELL', offset: ITD_REG_DMA_DBELL, access: 'WO', write: (v) => this.doorbell(Number(v)) },
      { name: 'DMA_ATTRS', offset: ITD_REG_DMA_ATTRS, reset: ATTRS_SPACE_NONSECURE << 1 },
      { name: 'DMA_GPA_LO', offset: ITD_REG_DMA_GPA_LO },
      { name: 'DMA_GPA_HI', offset: ITD_REG_DMA_GPA_HI },
      { name: 'X_SSID', offset: ITD_X_SSID, fields: [{ name: 'SSID', lsb: 0, width: maxPasidWidth }] },
      {
        name: 'X_CTRL', offset: ITD_X_CTRL,
        fields: [
          { name: 'SSV', lsb: 0, width: 1 }, { name: 'PRIV', lsb: 1, width: 1 }, { name: 'EXEC', lsb: 2, width: 1 },
          { name: 'OP', lsb: 4, width: 2 }, { name: 'PRI', lsb: 8, width: 1 }, { name: 'MSI', lsb: 9, width: 1 },
        ],
      },
      { name: 'X_FAULT_LO', offset: ITD_X_FAULT_LO, access: 'RO' },
      { name: 'X_FAULT_HI', offset: ITD_X_FAULT_HI, access: 'RO' },
      { name: 'X_DONE', offset: ITD_X_DONE, access: 'RO' },
      { name: 'X_PRI_STATUS', offset: ITD_X_PRI_STATUS, access: 'RO', fields: [{ name: 'PRGIndex', lsb: 0, width: 9 }, { name: 'ResponseCode', lsb: 12, width: 4 }, { name: 'Requests', lsb: 16, width: 16 }] },
      { name: 'X_READ_DATA', offset: ITD_X_READ_DATA, access: 'RO' },
      { name: 'X_ID', offset: ITD_X_ID, access: 'RO', reset: ITD_X_ID_VALUE },
      { name: 'X_PRI_PAGES', offset: ITD_X_PRI_PAGES, fields: [{ name: 'PAGES', lsb: 0, width: 9 }] },
    ], { unmappedRazWi: true });
    this.fn = new PciFunction({
      name: this.name,
      vendorId: IOMMU_TESTDEV_VENDOR_ID,
      deviceId: IOMMU_TESTDEV_DEVICE_ID,
      revision: 0,
      classCode: IOMMU_TESTDEV_CLASS,
      bars: [{ index: 0, size: IOMMU_TESTDEV_BAR0_SIZE, kind: 'mem32', device: this }],
      msi: { vectors: 1, perVectorMask: true },
      pasid: { maxPasidWidth },
      pri: { outstandingRequests: options.priCapacity ?? 32 },
    });
    this.fn.onReset = () => this.reset();
    this.fn.onPageResponse = (prg, code) => this.pageResponse(prg, code);
  }

  /** True while a DMA is in flight (RESULT reads BUSY until it ends). */
  get busy(): boolean {
    return this.phase !== Phase.Idle;
  }

  // --- BAR0: 32-bit accesses only, like QEMU's (valid.min/max_access_size = 4) ---

  mmioRead(offset: number, size: AccessSize, acc: MmioAccess): void {
    if (size !== 4) {
      acc.error = true;
      return;
    }
    this.regs.mmioRead(offset, size, acc);
  }

  mmioWrite(offset: number, size: AccessSize, acc: MmioAccess): void {
    if (size !== 4) {
      acc.error = true;
      return;
    }
    this.regs.mmioWrite(offset, size, acc);
  }

  /** Device reset (FLR or machine reset): any DMA in flight is forgotten. */
  reset(): void {
    this.pending?.cancel();
    this.pending = undefined;
    this.phase = Phase.Idle;
    this.armed = false;
    this.pageRequests = 0;
    this.prgIndex = 0;
    this.regs.reset();
  }

  private doorbell(v: number): void {
    if (this.phase !== Phase.Idle) return; // the engine is busy: the doorbell is ignored
    this.armed = (v & ITD_DMA_DBELL_ARM) !== 0;
    this.regs.set('DMA_RESULT', this.armed ? ITD_DMA_RESULT_BUSY : ITD_DMA_RESULT_IDLE);
  }

  /** DMA_TRIGGERING read: consumes the armed request and starts the transfer. Reads 0. */
  private trigger(): number {
    if (this.phase !== Phase.Idle) return 0; // one transfer at a time
    if (!this.armed) this.regs.set('DMA_RESULT', ITD_DMA_ERR_NOT_ARMED);
    else {
      this.armed = false;
      this.start();
    }
    return 0;
  }

  private start(): void {
    const r = this.regs;
    this.iova = (r.getNum('DMA_GVA_HI') | 0) * 4294967296 + r.getNum('DMA_GVA_LO');
    this.gpa = r.getNum('DMA_GPA_HI') * 4294967296 + r.getNum('DMA_GPA_LO');
    this.len = r.getNum('DMA_LEN');
    const ctrl = r.getNum('X_CTRL');
    this.op = (ctrl >>> ITD_X_CTRL_OP_SHIFT) & 3;
    this.pri = (ctrl & ITD_X_CTRL_PRI) !== 0;
    this.msi = (ctrl & ITD_X_CTRL_MSI) !== 0;
    const a = this.attrs;
    const fn = this.fn;
    a.ssv = (ctrl & ITD_X_CTRL_SSV) !== 0 && fn.pasidEnabled;
    a.ssid = a.ssv ? r.getNum('X_SSID') : 0;
    a.priv = a.ssv && (ctrl & ITD_X_CTRL_PRIV) !== 0 && fn.pasidPrivEnabled;
    a.exec = a.ssv && (ctrl & ITD_X_CTRL_EXEC) !== 0 && fn.pasidExecEnabled;
    this.pos = 0;
    this.paid = 0;
    this.priPage = -1;
    r.set('X_DONE', 0);
    const fail = this.op === ITD_X_OP_READ ? ITD_DMA_ERR_RD_FAIL : ITD_DMA_ERR_TX_FAIL;
    // OP 3 is reserved: treated like a transfer that cannot be described (BAD_LEN).
    if (this.len === 0 || this.len > ITD_MAX_LEN || this.op === 3) return this.finish(ITD_DMA_ERR_BAD_LEN);
    const attrsCfg = r.getNum('DMA_ATTRS');
    const spaceValid = (attrsCfg & 8) !== 0;
    const space = spaceValid ? (attrsCfg >>> 1) & 3 : ATTRS_SPACE_NONSECURE;
    const secure = (attrsCfg & 1) !== 0;
    if (spaceValid && (space === ATTRS_SPACE_SECURE || space === ATTRS_SPACE_NONSECURE) && secure !== (space === ATTRS_SPACE_SECURE)) return this.finish(ITD_DMA_ERR_BAD_ATTRS);
    // svasoc has only the Non-secure physical address space: a Secure (or other) request gets an error response.
    if (secure || space !== ATTRS_SPACE_NONSECURE) return this.finish(fail);
    if (!this.fn.attached) return this.finish(fail);
    this.fn.dma.onStallEnd = this.onStallEnd;
    this.fn.setTransactionsPending(true);
    this.issueAfter(this.cost.dmaLatencyNs + this.chargeRun());
  }

  /** Schedules the (re)issue of the transfer `ns` from now. */
  private issueAfter(ns: number): void {
    this.phase = Phase.Issuing;
    this.pending = this.clock.after(ns, this.eventLabel, this.issue);
  }

  /** Charges the next run of the transfer (all bytes charged so far have moved): its time in ns. */
  private chargeRun(): number {
    const n = Math.min(RUN, this.len - this.paid);
    this.paid += n;
    return Math.ceil(n / this.cost.dmaBytesPerNs);
  }

  /**
   * Moves the bytes already charged through the port, stopping at a stall or fault;
   * once they are all moved, charges the next run and comes back when its time has
   * passed.
   */
  private run(): void {
    const fn = this.fn;
    const read = this.op === ITD_X_OP_READ;
    if (!fn.busMasterEnabled) return this.finish(read ? ITD_DMA_ERR_RD_FAIL : ITD_DMA_ERR_TX_FAIL);
    const dma = fn.dma;
    while (this.pos < this.len) {
      if (this.pos === this.paid) return this.issueAfter(this.chargeRun());
      const n = this.paid - this.pos;
      let st: DmaStatus;
      if (read) {
        st = dma.read(this.iova + this.pos, this.scratch, 0, n, this.attrs);
        if (dma.done > 0) {
          if (this.pos === 0) this.regs.set('X_READ_DATA', this.scratchView.readUInt32LE(0));
          if (!this.matchesPattern(dma.done, this.pos & 3)) {
            this.pos += dma.done;
            return this.finish(ITD_DMA_ERR_MISMATCH);
          }
        }
      } else {
        st = dma.write(this.iova + this.pos, this.pattern, this.pos & 3, n, this.attrs);
      }
      this.pos += dma.done;
      this.regs.set('X_DONE', this.pos);
      if (st === DmaStatus.Ok) continue;
      if (st === DmaStatus.Stalled) {
        this.phase = Phase.Stalled;
        return;
      }
      if (read) fn.noteDmaError(st); // writes are posted: no completion comes back
      if (st === DmaStatus.Abort && this.pri) return this.requestPage();
      return this.finish(read ? ITD_DMA_ERR_RD_FAIL : ITD_DMA_ERR_TX_FAIL);
    }
    if (this.op === ITD_X_OP_WRITE_VERIFY) return this.finish(this.verify());
    this.finish(0);
  }

  /** QEMU's step 2/3: read the GPA directly (no IOMMU) and compare with the pattern. */
  private verify(): number {
    const dma = this.fn.dma;
    const bus = dma.bus;
    for (let at = 0; at < this.len; at += RUN) {
      const n = Math.min(RUN, this.len - at);
      const ok = bus.readInto(this.gpa + at, this.scratch, 0, n, dma.initiator, dma.sid);
      if (bus.trace.on) bus.trace.record(TraceKind.DmaRead, dma.initiator, dma.sid, NO_SSID, this.gpa + at, this.gpa + at, n, this.scratchView.readUInt32LE(0));
      if (!ok) return ITD_DMA_ERR_RD_FAIL;
      if (!this.matchesPattern(n, at & 3)) return ITD_DMA_ERR_MISMATCH;
    }
    return 0;
  }

  /** True when the first `n` bytes read hold the pattern from byte `phase` of its period. */
  private matchesPattern(n: number, phase: number): boolean {
    return this.scratchView.compare(this.pattern, phase, phase + n, 0, n) === 0;
  }

  /**
   * PCIe 10.4.1: one Page Request Group for the faulting page and the ones after it
   * (X_PRI_PAGES), never more requests than the allocation credits left, the last with
   * Last set. The device then waits for the group's response.
   */
  private requestPage(): void {
    const addr = this.iova + this.pos;
    const page = Math.floor(addr / 4096) * 4096;
    const read = this.op === ITD_X_OP_READ;
    if (page === this.priPage) return this.finish(read ? ITD_DMA_ERR_RD_FAIL : ITD_DMA_ERR_TX_FAIL);
    const fn = this.fn;
    const credits = fn.config.getNum('PRI.OutstandingRequestAllocation') - fn.pageRequestsOutstanding;
    const toEnd = Math.ceil((this.iova + this.len - page) / 4096);
    const n = Math.min(Math.max(1, this.regs.getNum('X_PRI_PAGES')), toEnd, credits);
    if (n <= 0) return this.finish(ITD_X_ERR_PRI_REFUSED);
    const a = this.attrs;
    const prg = this.prgIndex;
    for (let k = 0; k < n; k++) {
      // Every condition that refuses a request (PRI off, stopped, no credit, no page
      // request interface) holds for the first one already: a group is sent whole or not at all.
      if (!fn.pageRequest(page + k * 4096, a.ssid, a.ssv, read, !read, a.exec, a.priv, prg, k === n - 1)) return this.finish(ITD_X_ERR_PRI_REFUSED);
      this.pageRequests = (this.pageRequests + 1) & 0xffff;
    }
    this.prgIndex = (prg + 1) & 0x1ff;
    this.priPage = page;
    this.regs.set('X_PRI_STATUS', prg | (this.pageRequests << 16));
    this.phase = Phase.PageRequest;
  }

  private pageResponse(prg: number, code: number): void {
    this.regs.set('X_PRI_STATUS', (prg & 0x1ff) | ((code & 0xf) << 12) | (this.pageRequests << 16));
    if (this.phase !== Phase.PageRequest) return;
    if (code !== PRG_RESPONSE_SUCCESS) return this.finish(ITD_X_ERR_PRI_DENIED);
    this.issueAfter(this.cost.dmaLatencyNs + (this.pos === this.paid ? this.chargeRun() : 0));
  }

  private stallEnded(retry: boolean): void {
    if (this.phase !== Phase.Stalled) return;
    // The IOMMU replays the held transaction: the transfer goes on now (in an event of
    // its own, outside the IOMMU's command processing).
    if (retry) return this.issueAfter(0);
    const read = this.op === ITD_X_OP_READ;
    if (read) this.fn.noteDmaError(DmaStatus.Abort);
    this.finish(read ? ITD_DMA_ERR_RD_FAIL : ITD_DMA_ERR_TX_FAIL);
  }

  private finish(result: number): void {
    const stop = this.iova + this.pos;
    this.regs.set('X_FAULT_LO', stop >>> 0);
    this.regs.set('X_FAULT_HI', Math.floor(stop / 4294967296) >>> 0);
    this.regs.set('DMA_RESULT', result >>> 0);
    this.phase = Phase.Idle;
    this.fn.setTransactionsPending(false);
    const trace = this.fn.attached ? this.fn.dma.bus.trace : undefined;
    if (trace?.on) trace.record(TraceKind.Completion, this.fn.dma.initiator, this.fn.dma.sid, this.attrs.ssv ? this.attrs.ssid : NO_SSID, this.iova, 0, this.pos, result >>> 0);
    if (this.msi && this.fn.attached) this.fn.signalMsi(0);
  }
}

