// One PCIe function as the host bridge and a device model see it: its configuration
// space, its BARs, its bus-master port (StreamID from iommu-map), MSI/MSI-X delivery
// and its PASID/PRI/ATS state. Device models own a PciFunction (or subclass it) and
// give it the MmioDevice behind each BAR; offsets they see are relative to the BAR.

import type { AccessSize, MmioAccess, MmioDevice } from '../bus/mmio.js';
import { DmaStatus, type DmaAttrs, type DmaPort } from '../bus/dma.js';
import type { RegisterBlock } from '../regs/regmap.js';
import { TraceKind } from '../../trace/record.js';
import { NO_SSID } from '../../trace/ring.js';
import {
  buildConfigSpace,
  COMMAND_BUS_MASTER,
  COMMAND_MEMORY_SPACE,
  STATUS_RECEIVED_MASTER_ABORT,
  STATUS_RECEIVED_TARGET_ABORT,
  type ConfigLayout,
} from './config-space.js';
import { MsixTable } from './msix.js';

export interface BarSpec {
  index: number;
  /** Power of two >= 4096. */
  size: number;
  kind: 'mem32' | 'mem64';
  prefetchable?: boolean;
  device: MmioDevice;
}

export interface PciFunctionSpec {
  name: string;
  vendorId: number;
  deviceId: number;
  revision: number;
  /** 24-bit: base class, sub-class, programming interface. */
  classCode: number;
  subsystemVendorId?: number;
  subsystemId?: number;
  bars: BarSpec[];
  msi?: { vectors: 1 | 2 | 4 | 8 | 16 | 32; perVectorMask?: boolean };
  msix?: { vectors: number; tableBar: number; tableOffset: number; pbaBar: number; pbaOffset: number };
  /** PASID extended capability; exec/priv say whether those permissions are supported (default yes). */
  pasid?: { maxPasidWidth: number; exec?: boolean; priv?: boolean };
  /** Page Request extended capability. */
  pri?: { outstandingRequests: number };
  ats?: boolean;
  /** Interrupt Pin register: 0 = no INTx (default). INTx delivery is not modelled. */
  interruptPin?: number;
}

/** PRG Response Codes (PCIe Base 4.0 10.4.2.1). */
export const PRG_RESPONSE_SUCCESS = 0x0;
export const PRG_RESPONSE_INVALID_REQUEST = 0x1;
export const PRG_RESPONSE_FAILURE = 0xf;

/** PRG indices are 9 bits (PCIe Base 4.0 10.4.1). */
const PRG_INDEX_COUNT = 512;

export class PciFunction {
  readonly spec: PciFunctionSpec;
  /** The configuration space registers (the host bridge routes ECAM accesses here). */
  readonly config: RegisterBlock;
  readonly layout: ConfigLayout;
  /** MSI-X table and PBA, when the function has MSI-X. */
  readonly msix: MsixTable | undefined;

  /** Hooks for owners: FLR, Command register changes, PRI responses. */
  onReset?: () => void;
  onCommandChange?: (command: number, old: number) => void;
  /** A PRG response for this function arrived (after the PRI bookkeeping). */
  onPageResponse?: (prgIndex: number, responseCode: number, ssid: number, ssv: boolean) => void;
  /** Set by the host bridge: BAR addresses or Memory Space Enable changed. */
  decodeChanged: (() => void) | undefined;

  /** MSIs that were not sent (disabled, BME clear, or the write failed). */
  msiDropped = 0;
  /** MSI writes sent. */
  msiSent = 0;

  private _rid = -1;
  private _dma: DmaPort | undefined;
  private command = 0;
  private msiEnabled = false;
  // MSI registers as plain numbers, refreshed on every write to them, for signalMsi.
  private msiAddrLo = 0;
  private msiAddrHi = 0;
  private msiData = 0;
  private msiVectors = 1;
  private msixEnabled = false;
  private msixFunctionMask = false;
  /** Per BAR slot: the spec that starts there (the upper slot of a mem64 BAR is undefined). */
  private readonly barSpecs: (BarSpec | undefined)[] = new Array<BarSpec | undefined>(6).fill(undefined);
  /** Decoded base address of each BAR (meaningful for slots with a BarSpec). */
  readonly barBase = new Float64Array(6);
  private readonly msiAttrs: DmaAttrs = { ssid: 0, ssv: false, priv: false, exec: false };
  // PRI state (PCIe Base 4.0 10.4): outstanding requests per PRG index, and in total.
  private readonly prgOutstanding = new Uint16Array(PRG_INDEX_COUNT);
  private priOutstanding = 0;
  private priHalted = false;

  constructor(spec: PciFunctionSpec) {
    this.spec = spec;
    const built = buildConfigSpace(spec, {
      command: (v, old) => this.commandWritten(v, old),
      bar: () => this.decodeBars(),
      initiateFlr: () => this.functionLevelReset(),
      msiControl: () => this.msiControlWritten(),
      msiMask: () => this.msiMaskWritten(),
      msixControl: () => this.msixControlWritten(),
      priControl: (v, old, written) => this.priControlWritten(v, old, written),
    });
    this.config = built.regs;
    this.layout = built.layout;
    for (const b of spec.bars) this.barSpecs[b.index] = b;
    if (spec.msix) {
      const x = spec.msix;
      for (const [what, bar, off] of [['table', x.tableBar, x.tableOffset], ['PBA', x.pbaBar, x.pbaOffset]] as const) {
        const b = this.barSpecs[bar];
        if (b === undefined) throw new Error(`${spec.name}: MSI-X ${what} BAR${bar} is not a BAR of the function`);
        if (off % 8 !== 0) throw new Error(`${spec.name}: MSI-X ${what} offset must be QWORD aligned`);
        if (off + (what === 'table' ? 16 * x.vectors : Math.ceil(x.vectors / 64) * 8) > b.size) throw new Error(`${spec.name}: MSI-X ${what} does not fit in BAR${bar}`);
      }
      this.msix = new MsixTable(x.vectors, (v) => this.msixUnmasked(v));
    } else this.msix = undefined;
  }

  get name(): string {
    return this.spec.name;
  }

  /** Requester ID (bus << 8 | device << 3 | function); -1 until plugged into a host bridge. */
  get rid(): number {
    return this._rid;
  }

  /** The function's bus-master port. Devices check `busMasterEnabled` before DMA. */
  get dma(): DmaPort {
    if (this._dma === undefined) throw new Error(`${this.spec.name}: not attached to a host bridge yet (PcieHostBridge.attach creates the DMA port)`);
    return this._dma;
  }

  get attached(): boolean {
    return this._dma !== undefined;
  }

  /** Called by the host bridge on attach. */
  plug(rid: number, dma: DmaPort): void {
    if (this._dma !== undefined) throw new Error(`${this.spec.name}: already attached`);
    this._rid = rid;
    this._dma = dma;
    dma.onPageResponse = (prg, code, ssid, ssv) => this.pageResponse(prg, code, ssid, ssv);
  }

  get busMasterEnabled(): boolean {
    return (this.command & COMMAND_BUS_MASTER) !== 0;
  }

  get memoryEnabled(): boolean {
    return (this.command & COMMAND_MEMORY_SPACE) !== 0;
  }

  get pasidEnabled(): boolean {
    return this.layout.pasid !== 0 && this.config.field('PASID.CapabilityControl', 'PASIDEnable') === 1;
  }

  get pasidExecEnabled(): boolean {
    return this.pasidEnabled && (this.config.getNum('PASID.CapabilityControl') & (1 << 17)) !== 0;
  }

  get pasidPrivEnabled(): boolean {
    return this.pasidEnabled && (this.config.getNum('PASID.CapabilityControl') & (1 << 18)) !== 0;
  }

  get priEnabled(): boolean {
    return this.layout.pri !== 0 && this.config.field('PRI.ControlStatus', 'Enable') === 1;
  }

  get atsEnabled(): boolean {
    return this.layout.ats !== 0 && this.config.field('ATS.CapabilityControl', 'Enable') === 1;
  }

  /** BAR `index`'s spec, or undefined (also for the upper half of a 64-bit BAR). */
  bar(index: number): BarSpec | undefined {
    return this.barSpecs[index];
  }

  // --- Memory-space accesses to the BARs (routed by the host bridge) ---

  /** A read at `offset` within BAR `index`. MSI-X table/PBA windows are served here. */
  barRead(index: number, offset: number, size: AccessSize, acc: MmioAccess): void {
    const m = this.msix;
    if (m !== undefined) {
      const x = this.spec.msix!;
      if (index === x.tableBar && offset >= x.tableOffset && offset < x.tableOffset + m.tableSize) return m.readTable(offset - x.tableOffset, size, acc);
      if (index === x.pbaBar && offset >= x.pbaOffset && offset < x.pbaOffset + m.pbaSize) return m.readPba(offset - x.pbaOffset, size, acc);
    }
    this.barSpecs[index]!.device.mmioRead(offset, size, acc);
  }

  barWrite(index: number, offset: number, size: AccessSize, acc: MmioAccess): void {
    const m = this.msix;
    if (m !== undefined) {
      const x = this.spec.msix!;
      if (index === x.tableBar && offset >= x.tableOffset && offset < x.tableOffset + m.tableSize) return m.writeTable(offset - x.tableOffset, size, acc);
      if (index === x.pbaBar && offset >= x.pbaOffset && offset < x.pbaOffset + m.pbaSize) return;
    }
    this.barSpecs[index]!.device.mmioWrite(offset, size, acc);
  }

  // --- Status bits a device sets about its own transactions ---

  /** Records an error completion to one of this function's requests (PCI 3.0 6.2.3: Status). */
  noteDmaError(status: DmaStatus): void {
    // An UR completion sets Received Master Abort, a CA completion Received Target Abort (PCIe 4.0 7.5.1.1.4).
    const bit = status === DmaStatus.BusError ? STATUS_RECEIVED_MASTER_ABORT : STATUS_RECEIVED_TARGET_ABORT;
    this.config.set('CommandStatus', this.config.getNum('CommandStatus') | (bit << 16));
  }

  /** Device Status Transactions Pending (PCIe 4.0 7.5.3.5): software polls it before an FLR. */
  setTransactionsPending(on: boolean): void {
    this.config.setField('PCIe.DeviceControlStatus', 'TransactionsPending', on ? 1 : 0);
  }

  // --- MSI / MSI-X ---

  /**
   * Signals vector `vector`: the DWORD write of the programmed data to the programmed
   * address through `dma` (translated by the IOMMU like any other write). A masked
   * vector sets its pending bit instead; a function without MSI/MSI-X enabled, or with
   * Bus Master Enable clear (PCIe 4.0 7.5.1.1.3), sends nothing.
   */
  signalMsi(vector: number): void {
    const m = this.msix;
    if (m !== undefined && this.msixEnabled) {
      if (vector < 0 || vector >= m.vectors) {
        this.msiDropped++;
        return;
      }
      if (this.msixFunctionMask || m.masked(vector)) {
        m.setPending(vector, true); // 6.8.2.10
        return;
      }
      this.sendMsi(m.addressLo(vector), m.addressHi(vector), m.data(vector));
      return;
    }
    if (this.spec.msi !== undefined && this.msiEnabled) {
      const allocated = this.msiVectors;
      // 6.8.3.4: with fewer vectors allocated than requested, which events share a vector
      // is the function's choice; this one folds the excess onto the last allocated vector.
      const v = vector < 0 ? 0 : vector < allocated ? vector : allocated - 1;
      if (this.spec.msi.perVectorMask && (this.config.getNum('MSI.MaskBits') & (1 << v)) !== 0) {
        this.config.set('MSI.PendingBits', this.config.getNum('MSI.PendingBits') | (1 << v));
        return;
      }
      this.sendMsiVector(v);
      return;
    }
    this.msiDropped++;
  }

  /** Vectors granted by Multiple Message Enable (never more than Multiple Message Capable). */
  msiAllocated(): number {
    const mme = this.config.field('MSI.Header', 'MultipleMessageEnable');
    const mmc = this.config.field('MSI.Header', 'MultipleMessageCapable');
    return 1 << Math.min(mme, mmc);
  }

  private sendMsiVector(v: number): void {
    // 6.8.1.6: the function modifies the low log2(allocated) bits of Message Data; the write is a DWORD with the upper 16 bits zero.
    const data = ((this.msiData & ~(this.msiVectors - 1)) | v) >>> 0;
    this.sendMsi(this.msiAddrLo, this.msiAddrHi, data);
  }

  private sendMsi(addrLo: number, addrHi: number, data: number): void {
    if (!this.busMasterEnabled || this._dma === undefined) {
      this.msiDropped++;
      return;
    }
    const dma = this._dma;
    const addr = addrHi * 4294967296 + (addrLo >>> 0);
    const trace = dma.bus.trace;
    if (trace.on) trace.record(TraceKind.Msi, dma.initiator, dma.sid, NO_SSID, addr, addr, 4, data);
    // A stalled MSI is counted as dropped: the port's stall callback belongs to the device's DMA engine.
    const st = dma.write32(addr, data, this.msiAttrs);
    if (st === DmaStatus.Ok) this.msiSent++;
    else this.msiDropped++;
  }

  private msiControlWritten(): void {
    this.msiEnabled = this.config.field('MSI.Header', 'MSIEnable') === 1;
    this.msiAddrLo = this.config.getNum('MSI.MessageAddress');
    this.msiAddrHi = this.config.getNum('MSI.MessageUpperAddress');
    this.msiData = this.config.getNum('MSI.MessageData') & 0xffff;
    this.msiVectors = this.msiAllocated();
    if (this.msiEnabled) this.msiMaskWritten();
  }

  /** 6.8.3.3: when a vector with its Pending bit set is unmasked, the function sends it. */
  private msiMaskWritten(): void {
    if (!this.spec.msi?.perVectorMask || !this.msiEnabled) return;
    const mask = this.config.getNum('MSI.MaskBits');
    let pend = this.config.getNum('MSI.PendingBits');
    const ready = pend & ~mask;
    if (ready === 0) return;
    for (let v = 0; v < this.msiVectors; v++) {
      if ((ready & (1 << v)) === 0) continue;
      pend &= ~(1 << v);
      this.config.set('MSI.PendingBits', pend >>> 0);
      this.sendMsiVector(v);
    }
  }

  private msixControlWritten(): void {
    this.msixEnabled = this.config.field('MSIX.Header', 'MSIXEnable') === 1;
    this.msixFunctionMask = this.config.field('MSIX.Header', 'FunctionMask') === 1;
    if (this.msixEnabled && !this.msixFunctionMask) {
      const m = this.msix!;
      for (let v = 0; v < m.vectors; v++) if (m.isPending(v) && !m.masked(v)) this.msixUnmasked(v);
    }
  }

  /** 6.8.2.9: clearing a vector's Mask bit while its Pending bit is set sends the message. */
  private msixUnmasked(v: number): void {
    const m = this.msix!;
    if (!this.msixEnabled || this.msixFunctionMask || !m.isPending(v)) return;
    m.setPending(v, false);
    this.sendMsi(m.addressLo(v), m.addressHi(v), m.data(v));
  }

  // --- PRI (PCIe Base 4.0 10.4) ---

  /**
   * Sends one Page Request Message. Returns false when the function may not send it:
   * PRI disabled or stopped after a Response Failure, the outstanding allocation used
   * up (10.5.2.5), or the IOMMU has no page request interface.
   */
  pageRequest(addr: number, ssid: number, ssv: boolean, read: boolean, write: boolean, exec: boolean, priv: boolean, prgIndex: number, last: boolean): boolean {
    if (!this.priEnabled || this.priHalted || this._dma === undefined || !this.busMasterEnabled) return false;
    if (this.priOutstanding >= this.config.getNum('PRI.OutstandingRequestAllocation')) return false;
    const prg = prgIndex & (PRG_INDEX_COUNT - 1);
    const dma = this._dma;
    // Exec and Privileged ride in the PASID prefix and need their enables (PCIe 4.0 7.8.8.3).
    const pasid = ssv && this.pasidEnabled;
    if (!dma.pageRequest(addr, pasid ? ssid : 0, pasid, read, write, exec && pasid && this.pasidExecEnabled, priv && pasid && this.pasidPrivEnabled, prg, last)) return false;
    this.prgOutstanding[prg]!++;
    this.priOutstanding++;
    return true;
  }

  /** Outstanding page requests (credits in use). */
  get pageRequestsOutstanding(): number {
    return this.priOutstanding;
  }

  private pageResponse(prgIndex: number, code: number, ssid: number, ssv: boolean): void {
    const prg = prgIndex & (PRG_INDEX_COUNT - 1);
    const n = this.prgOutstanding[prg]!;
    if (n === 0) {
      // 10.5.2.3: a response for a PRG index with nothing outstanding.
      this.config.setField('PRI.ControlStatus', 'UnexpectedPRGIndex', 1);
      return;
    }
    this.prgOutstanding[prg] = 0;
    this.priOutstanding -= n;
    if (code === PRG_RESPONSE_FAILURE) {
      // 10.4.2.1: Response Failure disables the interface until software resets it.
      this.config.setField('PRI.ControlStatus', 'ResponseFailure', 1);
      this.priHalted = true;
    }
    this.updatePriStopped();
    this.onPageResponse?.(prg, code, ssid, ssv);
  }

  private priControlWritten(v: number, old: number, written: number): void {
    const enable = (v & 1) !== 0;
    if (enable && (old & 1) === 0) {
      this.priHalted = false;
      this.config.setField('PRI.ControlStatus', 'Stopped', 0);
    }
    // 10.5.2.2: Reset clears the credit counters and pending state only while Enable is 0.
    if ((written & 2) !== 0 && !enable) {
      this.prgOutstanding.fill(0);
      this.priOutstanding = 0;
      this.priHalted = false;
    }
    this.updatePriStopped();
  }

  /** 10.5.2.3: Stopped when disabled (or halted) and no request is outstanding. */
  private updatePriStopped(): void {
    if (this.layout.pri === 0) return;
    const stopped = (!this.priEnabled || this.priHalted) && this.priOutstanding === 0;
    this.config.setField('PRI.ControlStatus', 'Stopped', stopped ? 1 : 0);
  }

  // --- Command register, BAR decode, reset ---

  private commandWritten(value: number, old: number): void {
    this.command = value;
    if (((value ^ old) & COMMAND_MEMORY_SPACE) !== 0) this.decodeChanged?.();
    this.onCommandChange?.(value, old);
  }

  private decodeBars(): void {
    for (let i = 0; i < 6; i++) {
      const b = this.barSpecs[i];
      if (b === undefined) continue;
      const lo = this.config.getNum(`BAR${i}`) & ~0xf;
      const hi = b.kind === 'mem64' ? this.config.getNum(`BAR${i + 1}`) : 0;
      this.barBase[i] = hi * 4294967296 + (lo >>> 0);
    }
    this.decodeChanged?.();
  }

  /** Header Type bit 7: set by the host bridge when the device has more than one function. */
  setMultiFunction(on: boolean): void {
    this.config.set('HeaderType', (this.config.getNum('HeaderType') & ~(0x80 << 16)) | (on ? 0x80 << 16 : 0));
  }

  /**
   * Function Level Reset (PCIe Base 4.0 6.6.2): configuration registers return to their
   * reset values (the function stops decoding and mastering), MSI/MSI-X and PRI state is
   * cleared, then the owner's `onReset` resets the device's own state.
   */
  functionLevelReset(): void {
    const multi = (this.config.getNum('HeaderType') & (0x80 << 16)) !== 0;
    this.config.reset();
    this.setMultiFunction(multi);
    this.command = 0;
    if (this.spec.msi) this.msiControlWritten();
    this.msixEnabled = false;
    this.msixFunctionMask = false;
    this.msix?.reset();
    this.prgOutstanding.fill(0);
    this.priOutstanding = 0;
    this.priHalted = false;
    this.decodeBars();
    this.onReset?.();
  }

  /** Command register value (cached for hot paths). */
  get commandRegister(): number {
    return this.command;
  }
}
