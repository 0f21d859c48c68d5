// The GICv3 Interrupt Translation Service (IHI 0069 6.2, 6.3, 12.19): turns an MSI,
// a 32-bit write to GITS_TRANSLATER whose data is the EventID and whose DeviceID is
// the writer's StreamID (the bus carries it as sideband, `MmioAccess.streamId`),
// into an LPI pending at the Redistributor of the event's collection.
//
// Software programs it through a command queue in guest RAM (GITS_CBASER/CWRITER/
// CREADR). The Device and Collection tables are described by GITS_BASER<n>; like an
// ITS that caches every entry it maps, this model keeps MAPD/MAPC/MAPTI results
// internally instead of writing them to those tables (the BASER Valid bits and sizes
// are still honoured: no valid table, no mapping). ITTs are likewise kept in the model.
// Command errors stall the queue (GITS_CREADR.Stalled), one of the behaviours
// IHI 0069 6.3 allows; GITS_CWRITER.Retry re-executes the stalled command.

import { RegisterBlock, type RegDef } from '../regs/regmap.js';
import type { AccessSize, MmioAccess, MmioDevice } from '../bus/mmio.js';
import type { PhysicalBus } from '../bus/bus.js';
import type { Clock, ScheduledEvent } from '../../machine/clock.js';
import { TraceKind } from '../../trace/record.js';
import { NO_SSID, type TraceRing } from '../../trace/ring.js';
import { LPI_BASE, MAX_INTIDS } from './intid.js';
import { GIC_PIDR2_GICV3 } from './distributor.js';
import type { Redistributor } from './redistributor.js';
import { ITS_CMD, ITS_CMD_SIZE, ItsOpcode, itsCommandName } from './its-command.js';

// The command fields as constants: looked up by name once, not per command.
const {
  CommandType: F_CommandType,
  DeviceID: F_DeviceID,
  EventID: F_EventID,
  ICID: F_ICID,
  ITT_addr: F_ITT_addr,
  RDbase: F_RDbase,
  RDbase2: F_RDbase2,
  Size: F_Size,
  V: F_V,
  pINTID: F_pINTID,
} = ITS_CMD.f;

/** Offsets in the ITS's 128 KiB: control frame, then translation frame (IHI 0069 12.19). */
export const GITS = {
  CTLR: 0x0000,
  IIDR: 0x0004,
  TYPER: 0x0008,
  CBASER: 0x0080,
  CWRITER: 0x0088,
  CREADR: 0x0090,
  BASER: 0x0100,
  PIDR2: 0xffe8,
  TRANSLATER: 0x1_0040,
} as const;
export const GITS_FRAME_SIZE = 0x2_0000;
const CONTROL_FRAME_SIZE = 0x1_0000;

export const GITS_CTLR_Enabled = 1 << 0;
export const GITS_CTLR_Quiescent = 1 << 31;
export const GITS_CREADR_Stalled = 1 << 0;
export const GITS_CWRITER_Retry = 1 << 0;

/** GITS_BASER<n>.Type (IHI 0069, GITS_BASER<n>). */
export const GITS_BASER_TYPE_DEVICE = 1;
export const GITS_BASER_TYPE_COLLECTION = 4;
const BASER_VALID = 1n << 63n;

/** What this ITS implements (GITS_TYPER). */
export const ITS_ITT_ENTRY_BYTES = 8;
export const ITS_EVENTID_BITS = 16;
export const ITS_DEVICEID_BITS = 16;
export const ITS_ICID_BITS = 16;
const TABLE_ENTRY_BYTES = 8;

/** GITS_IIDR: Implementer 0x43B (Arm), ProductID 0: a generic ITS model. */
export const GITS_IIDR_VALUE = 0x0000043b;

/**
 * Command error codes (IHI 0069 6.3, each command's error list; the values Linux's
 * arm-gic-v3.h also carries as E_ITS_*): 0x01 << 16 | command << 8 | cause.
 */
const enum Cause {
  DeviceOor = 0x01,
  ProcnumOrSizeOor = 0x02,
  CollectionOor = 0x03,
  UnmappedDevice = 0x04,
  IdOor = 0x05,
  PhysicalIdOor = 0x06,
  UnmappedInterrupt = 0x07,
  UnmappedCollection = 0x09,
}
const CAUSE_NAMES: Readonly<Record<number, string>> = {
  0x01: 'DEVICE_OOR',
  0x02: 'OOR',
  0x03: 'COLLECTION_OOR',
  0x04: 'UNMAPPED_DEVICE',
  0x05: 'ID_OOR',
  0x06: 'PHYSICALID_OOR',
  0x07: 'UNMAPPED_INTERRUPT',
  0x09: 'UNMAPPED_COLLECTION',
};

export interface ItsCommandError {
  /** Architected error code (0 for the conditions below that the spec leaves unnamed). */
  readonly code: number;
  /** E.g. "MAPTI_UNMAPPED_DEVICE", "COMMAND_FETCH_ABORT", "UNSUPPORTED_COMMAND", "CWRITER_OOR". */
  readonly name: string;
  /** Queue offset of the command that stalled. */
  readonly offset: number;
  readonly opcode: number;
}

/** Why an MSI was dropped (a translation error: the write completes and nothing happens). */
export const enum ItsTranslationError {
  None = 0,
  ItsDisabled = 1,
  DeviceOor = 2,
  UnmappedDevice = 3,
  IdOor = 4,
  UnmappedInterrupt = 5,
  UnmappedCollection = 6,
  /** The target Redistributor refused the LPI (LPIs disabled there, or INTID beyond PROPBASER.IDbits). */
  LpiRejected = 7,
}
export const ITS_TRANSLATION_ERROR_NAMES: readonly string[] = [
  'NONE',
  'ITS_DISABLED',
  'DEVICE_OOR',
  'UNMAPPED_DEVICE',
  'ID_OOR',
  'UNMAPPED_INTERRUPT',
  'UNMAPPED_COLLECTION',
  'LPI_REJECTED',
];

interface ItsDevice {
  readonly eventBits: number;
  readonly ittAddr: number;
  /** EventID -> pINTID * 2^16 + ICID. */
  readonly ites: Map<number, number>;
}

export interface ItsHost {
  readonly bus: PhysicalBus;
  readonly clock: Clock;
  readonly trace: TraceRing;
  readonly cost: { readonly itsCommandNs: number };
}

export class Its implements MmioDevice {
  readonly name = 'gits';
  readonly regs: RegisterBlock;
  /** MSIs dropped by a translation error since reset. */
  translationErrors = 0;
  lastTranslationError: { readonly error: ItsTranslationError; readonly deviceId: number; readonly eventId: number } | undefined;
  lastCommandError: ItsCommandError | undefined;
  /** Commands executed since reset. */
  commandsProcessed = 0;
  /** GITS_TRANSLATER's physical address (for trace records); set when the GIC is mapped. */
  doorbellPa = 0;

  private enabled = false;
  /** Entries of the Device and Collection tables, from GITS_BASER<n> (recomputed when one is written). */
  private deviceEntries = 0;
  private collectionEntries = 0;
  private creadr = 0;
  private stalled = false;
  private drain: ScheduledEvent | undefined;
  private readonly devices = new Map<number, ItsDevice>();
  /** ICID -> target processor number, -1 = unmapped. */
  private readonly collections = new Int32Array(1 << ITS_ICID_BITS).fill(-1);
  private readonly cmdBytes = new Uint8Array(ITS_CMD_SIZE);
  private readonly cmdWords = new Uint32Array(ITS_CMD.dwords);
  private readonly initiator: number;
  private readonly bus: PhysicalBus;
  private readonly clock: Clock;
  private readonly trace: TraceRing;
  private readonly commandNs: () => number;

  constructor(
    host: ItsHost,
    private readonly redists: readonly Redistributor[],
  ) {
    this.bus = host.bus;
    this.clock = host.clock;
    this.trace = host.trace;
    this.commandNs = () => host.cost.itsCommandNs;
    this.initiator = host.trace.initiatorId('gits');
    this.regs = new RegisterBlock('GITS', this.registerDefs(), { unmappedRazWi: true });
    this.updateTableCapacities();
  }

  reset(): void {
    this.drain?.cancel();
    this.drain = undefined;
    this.regs.reset();
    this.updateTableCapacities();
    this.enabled = false;
    this.creadr = 0;
    this.stalled = false;
    this.devices.clear();
    this.collections.fill(-1);
    this.translationErrors = 0;
    this.lastTranslationError = undefined;
    this.lastCommandError = undefined;
    this.commandsProcessed = 0;
  }

  get isStalled(): boolean {
    return this.stalled;
  }

  mmioRead(offset: number, size: AccessSize, acc: MmioAccess): void {
    if (offset < CONTROL_FRAME_SIZE) {
      this.regs.mmioRead(offset, size, acc);
      return;
    }
    // Translation frame: GITS_TRANSLATER is write-only; the rest is reserved (RAZ).
    acc.lo = 0;
    acc.hi = 0;
  }

  mmioWrite(offset: number, size: AccessSize, acc: MmioAccess): void {
    if (offset < CONTROL_FRAME_SIZE) {
      this.regs.mmioWrite(offset, size, acc);
      return;
    }
    // IHI 0069, GITS_TRANSLATER: 16-bit and 32-bit writes; EventID is the data.
    if (offset === GITS.TRANSLATER && (size === 4 || size === 2)) {
      this.translate(acc.streamId >>> 0, size === 2 ? acc.lo & 0xffff : acc.lo >>> 0, acc.initiator, size);
    }
  }

  /**
   * IHI 0069 6.2: (DeviceID, EventID) -> ITE -> (pINTID, collection) -> Redistributor.
   * An unmapped request is dropped and counted (a translation error).
   */
  translate(deviceId: number, eventId: number, initiator: number, size = 4): void {
    let err = ItsTranslationError.None;
    let lpi = 0;
    if (!this.enabled) err = ItsTranslationError.ItsDisabled;
    else if (deviceId >= this.deviceCapacity()) err = ItsTranslationError.DeviceOor;
    else {
      const dev = this.devices.get(deviceId);
      if (dev === undefined) err = ItsTranslationError.UnmappedDevice;
      else if (eventId >= 2 ** dev.eventBits) err = ItsTranslationError.IdOor;
      else {
        const ite = dev.ites.get(eventId);
        if (ite === undefined) err = ItsTranslationError.UnmappedInterrupt;
        else {
          const target = this.collections[ite % 65536]!;
          lpi = Math.floor(ite / 65536);
          if (target < 0) err = ItsTranslationError.UnmappedCollection;
          else if (!this.redists[target]!.setLpiPending(lpi)) err = ItsTranslationError.LpiRejected;
        }
      }
    }
    const trace = this.trace;
    const pa = this.doorbellPa;
    if (trace.on) trace.record(TraceKind.Msi, initiator, deviceId, NO_SSID, pa, pa, size, eventId, err === ItsTranslationError.None ? lpi : 0);
    if (err !== ItsTranslationError.None) {
      this.translationErrors++;
      this.lastTranslationError = { error: err, deviceId, eventId };
      if (trace.on) trace.record(TraceKind.Fault, this.initiator, deviceId, NO_SSID, pa, pa, size, eventId, err);
    }
  }

  // ---- tables ----

  /** Entries a GITS_BASER table of `type` can hold (0 when none is valid). */
  private tableCapacity(type: number, idBits: number): number {
    for (let n = 0; n < 8; n++) {
      const v = this.regs.get(`GITS_BASER${n}`);
      if (Number((v >> 56n) & 7n) !== type) continue;
      if ((v & BASER_VALID) === 0n) return 0;
      const pageBytes = [0x1000, 0x4000, 0x1_0000, 0x1_0000][Number((v >> 8n) & 3n)]!;
      const bytes = (Number(v & 0xffn) + 1) * pageBytes;
      return Math.min(Math.floor(bytes / TABLE_ENTRY_BYTES), 2 ** idBits);
    }
    return 0;
  }

  private updateTableCapacities(): void {
    this.deviceEntries = this.tableCapacity(GITS_BASER_TYPE_DEVICE, ITS_DEVICEID_BITS);
    this.collectionEntries = this.tableCapacity(GITS_BASER_TYPE_COLLECTION, ITS_ICID_BITS);
  }

  private deviceCapacity(): number {
    return this.deviceEntries;
  }

  private collectionCapacity(): number {
    return this.collectionEntries;
  }

  // ---- command queue ----

  private queueBytes(): number {
    return (Number(this.regs.get('GITS_CBASER') & 0xffn) + 1) * 0x1000;
  }

  private cwriter(): number {
    return Number(this.regs.get('GITS_CWRITER') & 0xfffe0n);
  }

  private canProcess(): boolean {
    return this.enabled && !this.stalled && (this.regs.get('GITS_CBASER') & BASER_VALID) !== 0n;
  }

  private kick(): void {
    if (this.drain !== undefined || !this.canProcess() || this.creadr === this.cwriter()) return;
    this.drain = this.clock.after(this.commandNs(), 'gits.command', this.processOne);
  }

  private readonly processOne = (): void => {
    this.drain = undefined;
    if (!this.canProcess()) return;
    const cwriter = this.cwriter();
    const qbytes = this.queueBytes();
    if (this.creadr === cwriter) return;
    if (cwriter >= qbytes) {
      this.stall(0, 'CWRITER_OOR', 0);
      return;
    }
    const base = Number(this.regs.get('GITS_CBASER') & 0x000f_ffff_ffff_f000n);
    if (!this.bus.readInto(base + this.creadr, this.cmdBytes, 0, ITS_CMD_SIZE, this.initiator)) {
      this.stall(0, 'COMMAND_FETCH_ABORT', 0);
      return;
    }
    const w = ITS_CMD.fromBytes(this.cmdBytes, this.cmdWords);
    const opcode = ITS_CMD.get(w, F_CommandType);
    if (this.trace.on) this.trace.record(TraceKind.Command, this.initiator, 0xffffffff, NO_SSID, 0, base + this.creadr, ITS_CMD_SIZE, w[0]!, opcode, w[1]!);
    const code = this.execute(opcode, w);
    if (code !== 0) {
      const name = code < 0 ? 'UNSUPPORTED_COMMAND' : `${itsCommandName(opcode)}_${CAUSE_NAMES[code & 0xff]}`;
      this.stall(code < 0 ? 0 : code, name, opcode);
      return;
    }
    this.commandsProcessed++;
    this.creadr = (this.creadr + ITS_CMD_SIZE) % qbytes;
    this.kick();
  };

  private stall(code: number, name: string, opcode: number): void {
    this.stalled = true;
    this.lastCommandError = { code, name, offset: this.creadr, opcode };
    if (this.trace.on) {
      const pa = Number(this.regs.get('GITS_CBASER') & 0x000f_ffff_ffff_f000n) + this.creadr;
      this.trace.record(TraceKind.Fault, this.initiator, 0xffffffff, NO_SSID, 0, pa, ITS_CMD_SIZE, opcode, code);
    }
  }

  /** Executes one command; returns 0, an error code, or -1 for a command this ITS does not implement. */
  private execute(opcode: number, w: Uint32Array): number {
    const fail = (cause: Cause): number => 0x01_0000 | (opcode << 8) | cause;
    switch (opcode) {
      case ItsOpcode.MAPD: {
        // IHI 0069 6.3, MAPD: map (V=1) or unmap a DeviceID to an ITT of 2^(Size+1) events.
        const deviceId = ITS_CMD.get(w, F_DeviceID);
        if (deviceId >= this.deviceCapacity()) return fail(Cause.DeviceOor);
        const size = ITS_CMD.get(w, F_Size);
        if (size > ITS_EVENTID_BITS - 1) return fail(Cause.ProcnumOrSizeOor);
        if (ITS_CMD.flag(w, F_V)) {
          this.devices.set(deviceId, { eventBits: size + 1, ittAddr: ITS_CMD.get(w, F_ITT_addr), ites: new Map() });
        } else this.devices.delete(deviceId);
        return 0;
      }
      case ItsOpcode.MAPC: {
        const icid = ITS_CMD.get(w, F_ICID);
        if (icid >= this.collectionCapacity()) return fail(Cause.CollectionOor);
        if (!ITS_CMD.flag(w, F_V)) {
          this.collections[icid] = -1;
          return 0;
        }
        const rd = ITS_CMD.get(w, F_RDbase);
        if (rd >= this.redists.length) return fail(Cause.ProcnumOrSizeOor);
        this.collections[icid] = rd;
        return 0;
      }
      case ItsOpcode.MAPTI:
      case ItsOpcode.MAPI: {
        const dev = this.lookupDevice(w);
        if (typeof dev === 'number') return fail(dev);
        const eventId = ITS_CMD.get(w, F_EventID);
        if (eventId >= 2 ** dev.eventBits) return fail(Cause.IdOor);
        const lpi = opcode === ItsOpcode.MAPTI ? ITS_CMD.get(w, F_pINTID) : eventId;
        if (lpi < LPI_BASE || lpi >= MAX_INTIDS) return fail(Cause.PhysicalIdOor);
        const icid = ITS_CMD.get(w, F_ICID);
        if (icid >= this.collectionCapacity()) return fail(Cause.CollectionOor);
        dev.ites.set(eventId, lpi * 65536 + icid);
        return 0;
      }
      case ItsOpcode.MOVI: {
        const found = this.lookupEvent(w);
        if (found < 0) return fail(-found);
        const dev = this.foundDevice!;
        const eventId = this.foundEvent;
        const lpi = this.foundLpi;
        const oldIcid = this.foundIcid;
        const icid = ITS_CMD.get(w, F_ICID);
        if (icid >= this.collectionCapacity()) return fail(Cause.CollectionOor);
        const to = this.collections[icid]!;
        if (to < 0) return fail(Cause.UnmappedCollection);
        const from = this.collections[oldIcid]!;
        // IHI 0069 6.3, MOVI: a pending LPI moves with its event.
        if (from >= 0 && from !== to && this.redists[from]!.isLpiPending(lpi)) {
          this.redists[from]!.clearLpiPending(lpi);
          this.redists[to]!.setLpiPending(lpi);
        }
        dev.ites.set(eventId, lpi * 65536 + icid);
        return 0;
      }
      case ItsOpcode.DISCARD: {
        const found = this.lookupEvent(w);
        if (found < 0) return fail(-found);
        const target = this.collections[this.foundIcid]!;
        if (target >= 0) this.redists[target]!.clearLpiPending(this.foundLpi);
        this.foundDevice!.ites.delete(this.foundEvent);
        return 0;
      }
      case ItsOpcode.INT:
      case ItsOpcode.CLEAR:
      case ItsOpcode.INV: {
        const found = this.lookupEvent(w);
        if (found < 0) {
          // The spec lists CLEAR's unmapped-interrupt error as 0x010507 (as Linux's E_ITS_CLEAR_UNMAPPED_INTERRUPT).
          if (opcode === ItsOpcode.CLEAR && -found === Cause.UnmappedInterrupt) return 0x01_0507;
          return fail(-found);
        }
        const lpi = this.foundLpi;
        const target = this.collections[this.foundIcid]!;
        if (target < 0) return fail(Cause.UnmappedCollection);
        const rd = this.redists[target]!;
        if (opcode === ItsOpcode.INT) rd.setLpiPending(lpi);
        else if (opcode === ItsOpcode.CLEAR) rd.clearLpiPending(lpi);
        else rd.invalidateLpi(lpi);
        return 0;
      }
      case ItsOpcode.INVALL: {
        const icid = ITS_CMD.get(w, F_ICID);
        if (icid >= this.collectionCapacity()) return fail(Cause.CollectionOor);
        const target = this.collections[icid]!;
        if (target < 0) return fail(Cause.UnmappedCollection);
        this.redists[target]!.invalidateAllLpis();
        return 0;
      }
      case ItsOpcode.SYNC:
        // Every earlier command took full effect before CREADR moved past it.
        return 0;
      case ItsOpcode.MOVALL: {
        const rd1 = ITS_CMD.get(w, F_RDbase);
        const rd2 = ITS_CMD.get(w, F_RDbase2);
        if (rd1 >= this.redists.length || rd2 >= this.redists.length) return 0x01_0e01;
        this.redists[rd1]!.movePendingLpisTo(this.redists[rd2]!);
        return 0;
      }
      default:
        return -1;
    }
  }

  // Result of `lookupEvent` (scratch fields: no allocation per command).
  private foundDevice: ItsDevice | undefined;
  private foundEvent = 0;
  private foundLpi = 0;
  private foundIcid = 0;

  private lookupDevice(w: Uint32Array): ItsDevice | Cause {
    const deviceId = ITS_CMD.get(w, F_DeviceID);
    if (deviceId >= this.deviceCapacity()) return Cause.DeviceOor;
    return this.devices.get(deviceId) ?? Cause.UnmappedDevice;
  }

  /** Resolves DeviceID/EventID of a command into `found`; returns 0 or -cause. */
  private lookupEvent(w: Uint32Array): number {
    const dev = this.lookupDevice(w);
    if (typeof dev === 'number') return -dev;
    const eventId = ITS_CMD.get(w, F_EventID);
    if (eventId >= 2 ** dev.eventBits) return -Cause.IdOor;
    const ite = dev.ites.get(eventId);
    if (ite === undefined) return -Cause.UnmappedInterrupt;
    this.foundDevice = dev;
    this.foundEvent = eventId;
    this.foundLpi = Math.floor(ite / 65536);
    this.foundIcid = ite % 65536;
    return 0;
  }

  private registerDefs(): RegDef[] {
    const typer =
      1 | // Physical
      ((ITS_ITT_ENTRY_BYTES - 1) << 4) |
      ((ITS_EVENTID_BITS - 1) << 8) |
      ((ITS_DEVICEID_BITS - 1) << 13);
    const baser = (n: number, type: number): RegDef => ({
      name: `GITS_BASER${n}`,
      offset: GITS.BASER + 8 * n,
      width: 64,
      reset: (BigInt(type) << 56n) | (BigInt(TABLE_ENTRY_BYTES - 1) << 48n),
      fields:
        type === 0
          ? [{ name: 'Type', lsb: 56, width: 3, access: 'RO' }]
          : [
              { name: 'Size', lsb: 0, width: 8 },
              { name: 'Page_Size', lsb: 8, width: 2 },
              { name: 'Shareability', lsb: 10, width: 2 },
              { name: 'Physical_Address', lsb: 12, width: 36 },
              { name: 'Entry_Size', lsb: 48, width: 5, access: 'RO' },
              { name: 'OuterCache', lsb: 53, width: 3 },
              { name: 'Type', lsb: 56, width: 3, access: 'RO' },
              { name: 'InnerCache', lsb: 59, width: 3 },
              // Flat tables only: Indirect is RAZ/WI.
              { name: 'Indirect', lsb: 62, width: 1, access: 'RO' },
              { name: 'Valid', lsb: 63, width: 1 },
            ],
      // Fixed while the ITS is enabled (UNPREDICTABLE to write then; ignored here).
      write: (_v, old) => {
        if (this.enabled) this.regs.set(`GITS_BASER${n}`, old);
        else this.updateTableCapacities();
      },
    });
    return [
      {
        name: 'GITS_CTLR',
        offset: GITS.CTLR,
        fields: [
          { name: 'Enabled', lsb: 0, width: 1 },
          { name: 'Quiescent', lsb: 31, width: 1, access: 'RO' },
        ],
        read: (v) => (this.enabled || this.drain !== undefined ? v & ~GITS_CTLR_Quiescent : v | GITS_CTLR_Quiescent),
        write: (v) => {
          this.enabled = (v & 1) !== 0;
          this.kick();
        },
      },
      { name: 'GITS_IIDR', offset: GITS.IIDR, access: 'RO', reset: GITS_IIDR_VALUE },
      {
        name: 'GITS_TYPER',
        offset: GITS.TYPER,
        width: 64,
        access: 'RO',
        reset: typer,
        fields: [
          { name: 'Physical', lsb: 0, width: 1 },
          { name: 'Virtual', lsb: 1, width: 1 },
          { name: 'CCT', lsb: 2, width: 1 },
          { name: 'ITT_entry_size', lsb: 4, width: 4 },
          { name: 'IDbits', lsb: 8, width: 5 },
          { name: 'Devbits', lsb: 13, width: 5 },
          { name: 'SEIS', lsb: 18, width: 1 },
          { name: 'PTA', lsb: 19, width: 1 },
          { name: 'HCC', lsb: 24, width: 8 },
          { name: 'CIDbits', lsb: 32, width: 4 },
          { name: 'CIL', lsb: 36, width: 1 },
        ],
      },
      {
        name: 'GITS_CBASER',
        offset: GITS.CBASER,
        width: 64,
        fields: [
          { name: 'Size', lsb: 0, width: 8 },
          { name: 'Shareability', lsb: 10, width: 2 },
          { name: 'Physical_Address', lsb: 12, width: 40 },
          { name: 'OuterCache', lsb: 53, width: 3 },
          { name: 'InnerCache', lsb: 59, width: 3 },
          { name: 'Valid', lsb: 63, width: 1 },
        ],
        // IHI 0069, GITS_CBASER: a write resets GITS_CREADR to 0. Ignored while enabled.
        write: (_v, old) => {
          if (this.enabled) {
            this.regs.set('GITS_CBASER', old);
            return;
          }
          this.creadr = 0;
          this.stalled = false;
        },
      },
      {
        name: 'GITS_CWRITER',
        offset: GITS.CWRITER,
        width: 64,
        fields: [
          { name: 'Retry', lsb: 0, width: 1, access: 'WO' },
          { name: 'Offset', lsb: 5, width: 15 },
        ],
        write: (v) => {
          if ((v & 1n) !== 0n && this.stalled) {
            this.stalled = false;
            this.lastCommandError = undefined;
          }
          this.kick();
        },
      },
      {
        name: 'GITS_CREADR',
        offset: GITS.CREADR,
        width: 64,
        access: 'RO',
        fields: [
          { name: 'Stalled', lsb: 0, width: 1 },
          { name: 'Offset', lsb: 5, width: 15 },
        ],
        read: () => this.creadr | (this.stalled ? GITS_CREADR_Stalled : 0),
      },
      baser(0, GITS_BASER_TYPE_DEVICE),
      baser(1, GITS_BASER_TYPE_COLLECTION),
      ...[2, 3, 4, 5, 6, 7].map((n) => baser(n, 0)),
      { name: 'GITS_PIDR2', offset: GITS.PIDR2, access: 'RO', reset: GIC_PIDR2_GICV3 },
    ];
  }
}
