// The 4 KiB configuration space of one PCIe function, declared as register tables:
// the type-0 header (PCI Local Bus 3.0 section 6.1/6.2, PCIe Base 4.0 7.5.1), the
// capability list in the first 256 bytes (PCI Express 7.5.3, MSI PCI 3.0 6.8.1, MSI-X
// PCI 3.0 6.8.2) and extended capabilities from 0x100 (ATS 10.5.1, PRI 10.5.2, PASID
// 7.8.8). Offsets not covered read as zero and ignore writes, as PCIe requires of
// unimplemented configuration registers.
//
// Where capabilities sit is the device's choice; svasoc puts the PCI Express capability
// at 0x40, MSI at 0x80, MSI-X at 0xa0 and chains ATS, PRI, PASID from 0x100.

import { RegisterBlock, type FieldDef, type RegDef } from '../regs/regmap.js';

export const CONFIG_SPACE_SIZE = 4096;

/** Capability IDs (PCI Local Bus 3.0 appendix H; PCI Code and ID Assignment). */
export const CapId = { MSI: 0x05, PCI_EXPRESS: 0x10, MSIX: 0x11 } as const;
/** Extended capability IDs (PCIe Base 4.0 7.6.3). */
export const ExtCapId = { ATS: 0x000f, PRI: 0x0013, PASID: 0x001b } as const;

/** Command register bits (PCI Local Bus 3.0 6.2.2). */
export const COMMAND_MEMORY_SPACE = 1 << 1;
export const COMMAND_BUS_MASTER = 1 << 2;
export const COMMAND_PARITY_ERROR_RESPONSE = 1 << 6;
export const COMMAND_SERR_ENABLE = 1 << 8;
export const COMMAND_INTX_DISABLE = 1 << 10;

/** Status register bits (upper half of the dword at 0x04). */
export const STATUS_CAPABILITIES_LIST = 1 << 4;
export const STATUS_SIGNALED_TARGET_ABORT = 1 << 11;
export const STATUS_RECEIVED_TARGET_ABORT = 1 << 12;
export const STATUS_RECEIVED_MASTER_ABORT = 1 << 13;

/** Header offsets (dword-aligned registers of the type-0 header). */
export const CFG_VENDOR_DEVICE = 0x00;
export const CFG_COMMAND_STATUS = 0x04;
export const CFG_CLASS_REVISION = 0x08;
export const CFG_HEADER_TYPE = 0x0c;
export const CFG_BAR0 = 0x10;
export const CFG_SUBSYSTEM = 0x2c;
export const CFG_CAPABILITIES_POINTER = 0x34;
export const CFG_INTERRUPT = 0x3c;

/** Where each capability lives (0 = absent). */
export interface ConfigLayout {
  readonly pcie: number;
  readonly msi: number;
  readonly msix: number;
  readonly ats: number;
  readonly pri: number;
  readonly pasid: number;
}

export const PCIE_CAP_OFFSET = 0x40;
export const MSI_CAP_OFFSET = 0x80;
export const MSIX_CAP_OFFSET = 0xa0;
export const EXT_CAP_OFFSET = 0x100;

/** What the config-space tables need to know of a function (a subset of PciFunctionSpec). */
export interface ConfigSpaceSpec {
  readonly name: string;
  readonly vendorId: number;
  readonly deviceId: number;
  readonly revision: number;
  readonly classCode: number;
  readonly subsystemVendorId?: number;
  readonly subsystemId?: number;
  readonly bars: readonly { index: number; size: number; kind: 'mem32' | 'mem64'; prefetchable?: boolean }[];
  readonly msi?: { vectors: number; perVectorMask?: boolean };
  readonly msix?: { vectors: number; tableBar: number; tableOffset: number; pbaBar: number; pbaOffset: number };
  readonly pasid?: { maxPasidWidth: number; exec?: boolean; priv?: boolean };
  readonly pri?: { outstandingRequests: number };
  readonly ats?: boolean;
  /** Header Type bit 7 (set by the host bridge when a device has several functions). */
  readonly multiFunction?: boolean;
  /** Interrupt Pin: 0 = no INTx (default), 1..4 = INTA..INTD. */
  readonly interruptPin?: number;
}

/** Side effects of config writes, called after the stored value changed. */
export interface ConfigSpaceHooks {
  command(value: number, old: number): void;
  bar(index: number): void;
  initiateFlr(): void;
  /** Any write to the MSI Message Control, Address or Data registers. */
  msiControl(): void;
  msiMask(): void;
  msixControl(): void;
  priControl(value: number, old: number, written: number): void;
}

const f = (name: string, lsb: number, width: number, access?: FieldDef['access']): FieldDef =>
  access === undefined ? { name, lsb, width } : { name, lsb, width, access };

function log2(v: number): number {
  return Math.round(Math.log2(v));
}

function isPowerOfTwo(v: number): boolean {
  return Number.isInteger(v) && v > 0 && 2 ** log2(v) === v;
}

/** Builds the configuration register tables for `spec`. Spec errors are emulator misuse and throw. */
export function buildConfigSpace(spec: ConfigSpaceSpec, hooks: ConfigSpaceHooks): { regs: RegisterBlock; layout: ConfigLayout } {
  const regs: RegDef[] = [];
  const add = (d: RegDef): void => void regs.push(d);

  // --- Type-0 header (PCI Local Bus 3.0 6.1, 6.2; PCIe Base 4.0 7.5.1.2) ---
  add({
    name: 'ID', offset: CFG_VENDOR_DEVICE, access: 'RO',
    reset: ((spec.deviceId & 0xffff) << 16 | (spec.vendorId & 0xffff)) >>> 0,
    fields: [f('VendorID', 0, 16), f('DeviceID', 16, 16)],
  });
  add({
    name: 'CommandStatus', offset: CFG_COMMAND_STATUS,
    reset: (STATUS_CAPABILITIES_LIST << 16) >>> 0,
    fields: [
      // Command (6.2.2): I/O Space stays 0 (no I/O BARs); legacy PCI bits are RO 0 on PCIe.
      f('MemorySpaceEnable', 1, 1, 'RW'),
      f('BusMasterEnable', 2, 1, 'RW'),
      f('ParityErrorResponse', 6, 1, 'RW'),
      f('SERREnable', 8, 1, 'RW'),
      f('InterruptDisable', 10, 1, 'RW'),
      // Status (6.2.3)
      f('InterruptStatus', 16 + 3, 1, 'RO'),
      f('CapabilitiesList', 16 + 4, 1, 'RO'),
      f('MasterDataParityError', 16 + 8, 1, 'W1C'),
      f('SignaledTargetAbort', 16 + 11, 1, 'W1C'),
      f('ReceivedTargetAbort', 16 + 12, 1, 'W1C'),
      f('ReceivedMasterAbort', 16 + 13, 1, 'W1C'),
      f('SignaledSystemError', 16 + 14, 1, 'W1C'),
      f('DetectedParityError', 16 + 15, 1, 'W1C'),
    ],
    write: (v, old) => hooks.command(v & 0xffff, old & 0xffff),
  });
  add({
    name: 'ClassRevision', offset: CFG_CLASS_REVISION, access: 'RO',
    reset: (((spec.classCode & 0xffffff) << 8) | (spec.revision & 0xff)) >>> 0,
    fields: [f('RevisionID', 0, 8), f('ClassCode', 8, 24)],
  });
  add({
    name: 'HeaderType', offset: CFG_HEADER_TYPE,
    reset: spec.multiFunction ? 0x80 << 16 : 0,
    // Cache Line Size is RW for software's benefit; Latency Timer is RO 0 on PCIe (7.5.1.1.7).
    fields: [f('CacheLineSize', 0, 8, 'RW'), f('LatencyTimer', 8, 8, 'RO'), f('HeaderType', 16, 8, 'RO'), f('BIST', 24, 8, 'RO')],
  });
  const barOwner = new Array<string | undefined>(6).fill(undefined);
  for (const b of spec.bars) {
    const slots = b.kind === 'mem64' ? 2 : 1;
    if (!Number.isInteger(b.index) || b.index < 0 || b.index + slots > 6) throw new Error(`${spec.name}: BAR${b.index} (${b.kind}) does not fit in BAR0..BAR5`);
    if (!isPowerOfTwo(b.size) || b.size < 4096) throw new Error(`${spec.name}: BAR${b.index} size 0x${b.size.toString(16)} must be a power of two >= 4096`);
    if (b.kind === 'mem32' && b.size > 2 ** 31) throw new Error(`${spec.name}: BAR${b.index} is mem32 but larger than 2 GiB`);
    for (let s = 0; s < slots; s++) {
      if (barOwner[b.index + s] !== undefined) throw new Error(`${spec.name}: BAR${b.index + s} is declared twice`);
      barOwner[b.index + s] = 'x';
    }
    const bits = log2(b.size);
    // 6.2.5.1: bit 0 memory, bits 2:1 type (00 32-bit, 10 64-bit), bit 3 prefetchable; the
    // address bits below the size are hardwired to zero, which is how sizing works.
    const type = (b.kind === 'mem64' ? 0b100 : 0) | (b.prefetchable ? 0b1000 : 0);
    const idx = b.index;
    add({
      name: `BAR${idx}`, offset: CFG_BAR0 + 4 * idx, reset: type,
      fields: [f('MemType', 0, 4, 'RO'), ...(bits < 32 ? [f('Address', bits, 32 - bits, 'RW')] : [])],
      write: () => hooks.bar(idx),
    });
    if (b.kind === 'mem64') {
      const hiBits = bits > 32 ? bits - 32 : 0;
      add({ name: `BAR${idx + 1}`, offset: CFG_BAR0 + 4 * (idx + 1), fields: [f('AddressHigh', hiBits, 32 - hiBits, 'RW')], write: () => hooks.bar(idx) });
    }
  }
  for (let i = 0; i < 6; i++) if (barOwner[i] === undefined) add({ name: `BAR${i}`, offset: CFG_BAR0 + 4 * i, access: 'RO' });
  add({
    name: 'Subsystem', offset: CFG_SUBSYSTEM, access: 'RO',
    reset: (((spec.subsystemId ?? 0) & 0xffff) << 16 | ((spec.subsystemVendorId ?? 0) & 0xffff)) >>> 0,
    fields: [f('SubsystemVendorID', 0, 16), f('SubsystemID', 16, 16)],
  });
  add({ name: 'ExpansionROM', offset: 0x30, access: 'RO' });
  add({ name: 'CapabilitiesPointer', offset: CFG_CAPABILITIES_POINTER, access: 'RO', reset: PCIE_CAP_OFFSET, fields: [f('CapPtr', 0, 8)] });
  add({
    name: 'Interrupt', offset: CFG_INTERRUPT, reset: ((spec.interruptPin ?? 0) & 0xff) << 8,
    fields: [f('InterruptLine', 0, 8, 'RW'), f('InterruptPin', 8, 8, 'RO'), f('MinGnt', 16, 8, 'RO'), f('MaxLat', 24, 8, 'RO')],
  });

  // --- Capability list: PCI Express, then MSI, then MSI-X ---
  const chain: number[] = [PCIE_CAP_OFFSET];
  if (spec.msi) chain.push(MSI_CAP_OFFSET);
  if (spec.msix) chain.push(MSIX_CAP_OFFSET);
  const next = (at: number): number => chain[chain.indexOf(at) + 1] ?? 0;

  // PCI Express capability, v2, Endpoint (PCIe Base 4.0 7.5.3).
  const pe = PCIE_CAP_OFFSET;
  add({
    name: 'PCIe.Header', offset: pe, access: 'RO',
    reset: CapId.PCI_EXPRESS | (next(pe) << 8) | (2 << 16) /* version 2, type 0 = PCI Express Endpoint */,
    fields: [f('CapID', 0, 8), f('NextPtr', 8, 8), f('CapabilityVersion', 16, 4), f('DevicePortType', 20, 4), f('SlotImplemented', 24, 1), f('InterruptMessageNumber', 25, 5)],
  });
  add({
    // 7.5.3.3: MPS supported 256 B, Extended Tag, Role-Based Error Reporting, FLR capable.
    name: 'PCIe.DeviceCapabilities', offset: pe + 0x04, access: 'RO', reset: 0b001 | (1 << 5) | (1 << 15) | (1 << 28),
    fields: [f('MaxPayloadSizeSupported', 0, 3), f('PhantomFunctionsSupported', 3, 2), f('ExtendedTagSupported', 5, 1), f('EndpointL0sLatency', 6, 3), f('EndpointL1Latency', 9, 3), f('RoleBasedErrorReporting', 15, 1), f('CapturedSlotPowerLimitValue', 18, 8), f('CapturedSlotPowerLimitScale', 26, 2), f('FunctionLevelResetCapability', 28, 1)],
  });
  add({
    // 7.5.3.4/7.5.3.5: Relaxed Ordering and No Snoop enabled, MRRS 512 B at reset.
    name: 'PCIe.DeviceControlStatus', offset: pe + 0x08, reset: (1 << 4) | (1 << 11) | (0b010 << 12),
    fields: [
      f('CorrectableErrorReportingEnable', 0, 1, 'RW'), f('NonFatalErrorReportingEnable', 1, 1, 'RW'), f('FatalErrorReportingEnable', 2, 1, 'RW'), f('UnsupportedRequestReportingEnable', 3, 1, 'RW'),
      f('EnableRelaxedOrdering', 4, 1, 'RW'), f('MaxPayloadSize', 5, 3, 'RW'), f('ExtendedTagFieldEnable', 8, 1, 'RW'), f('PhantomFunctionsEnable', 9, 1, 'RO'),
      f('AuxPowerPMEnable', 10, 1, 'RO'), f('EnableNoSnoop', 11, 1, 'RW'), f('MaxReadRequestSize', 12, 3, 'RW'),
      f('InitiateFunctionLevelReset', 15, 1, 'WO'),
      f('CorrectableErrorDetected', 16, 1, 'W1C'), f('NonFatalErrorDetected', 17, 1, 'W1C'), f('FatalErrorDetected', 18, 1, 'W1C'), f('UnsupportedRequestDetected', 19, 1, 'W1C'),
      f('AuxPowerDetected', 20, 1, 'RO'), f('TransactionsPending', 21, 1, 'RO'),
    ],
    write: (_v, _old, written) => {
      if ((written & (1 << 15)) !== 0) hooks.initiateFlr();
    },
  });
  // 7.5.3.6/7.5.3.8: an x16 link at 16 GT/s (Gen4), trained.
  add({ name: 'PCIe.LinkCapabilities', offset: pe + 0x0c, access: 'RO', reset: 4 | (16 << 4), fields: [f('MaxLinkSpeed', 0, 4), f('MaxLinkWidth', 4, 6), f('ASPMSupport', 10, 2), f('PortNumber', 24, 8)] });
  add({
    name: 'PCIe.LinkControlStatus', offset: pe + 0x10, reset: (4 | (16 << 4)) << 16,
    fields: [f('ASPMControl', 0, 2, 'RW'), f('ReadCompletionBoundary', 3, 1, 'RO'), f('CommonClockConfiguration', 6, 1, 'RW'), f('ExtendedSynch', 7, 1, 'RW'), f('CurrentLinkSpeed', 16, 4, 'RO'), f('NegotiatedLinkWidth', 20, 6, 'RO')],
  });
  add({ name: 'PCIe.SlotCapabilities', offset: pe + 0x14, access: 'RO' });
  add({ name: 'PCIe.SlotControlStatus', offset: pe + 0x18, access: 'RO' });
  add({ name: 'PCIe.RootControlCapabilities', offset: pe + 0x1c, access: 'RO' });
  add({ name: 'PCIe.RootStatus', offset: pe + 0x20, access: 'RO' });
  // 7.5.3.15: completion timeout ranges A/B, timeout disable supported; 10-bit tags not supported.
  add({ name: 'PCIe.DeviceCapabilities2', offset: pe + 0x24, access: 'RO', reset: 0b0011 | (1 << 4), fields: [f('CompletionTimeoutRangesSupported', 0, 4), f('CompletionTimeoutDisableSupported', 4, 1)] });
  add({ name: 'PCIe.DeviceControlStatus2', offset: pe + 0x28, fields: [f('CompletionTimeoutValue', 0, 4, 'RW'), f('CompletionTimeoutDisable', 4, 1, 'RW')] });
  add({ name: 'PCIe.LinkCapabilities2', offset: pe + 0x2c, access: 'RO', reset: 0b1111 << 1, fields: [f('SupportedLinkSpeedsVector', 1, 7)] });
  add({ name: 'PCIe.LinkControlStatus2', offset: pe + 0x30, reset: 4, fields: [f('TargetLinkSpeed', 0, 4, 'RW')] });
  add({ name: 'PCIe.SlotCapabilities2', offset: pe + 0x34, access: 'RO' });
  add({ name: 'PCIe.SlotControlStatus2', offset: pe + 0x38, access: 'RO' });

  // MSI capability, 64-bit address (PCI Local Bus 3.0 6.8.1).
  if (spec.msi) {
    const m = MSI_CAP_OFFSET;
    const mmc = log2(spec.msi.vectors);
    if (![1, 2, 4, 8, 16, 32].includes(spec.msi.vectors)) throw new Error(`${spec.name}: MSI vectors must be 1, 2, 4, 8, 16 or 32`);
    const pvm = spec.msi.perVectorMask === true;
    add({
      name: 'MSI.Header', offset: m,
      reset: CapId.MSI | (next(m) << 8) | ((mmc << 1) | (1 << 7) | (pvm ? 1 << 8 : 0)) << 16,
      fields: [f('CapID', 0, 8, 'RO'), f('NextPtr', 8, 8, 'RO'), f('MSIEnable', 16, 1, 'RW'), f('MultipleMessageCapable', 17, 3, 'RO'), f('MultipleMessageEnable', 20, 3, 'RW'), f('Address64Capable', 23, 1, 'RO'), f('PerVectorMaskingCapable', 24, 1, 'RO')],
      write: () => hooks.msiControl(),
    });
    add({ name: 'MSI.MessageAddress', offset: m + 0x04, fields: [f('Address', 2, 30, 'RW')], write: () => hooks.msiControl() });
    add({ name: 'MSI.MessageUpperAddress', offset: m + 0x08, write: () => hooks.msiControl() });
    add({ name: 'MSI.MessageData', offset: m + 0x0c, fields: [f('Data', 0, 16, 'RW')], write: () => hooks.msiControl() });
    if (pvm) {
      const vecMask = spec.msi.vectors === 32 ? 0xffffffff : (1 << spec.msi.vectors) - 1;
      add({ name: 'MSI.MaskBits', offset: m + 0x10, fields: [f('Mask', 0, spec.msi.vectors, 'RW')], reserved: ~vecMask >>> 0, write: () => hooks.msiMask() });
      add({ name: 'MSI.PendingBits', offset: m + 0x14, access: 'RO', fields: [f('Pending', 0, spec.msi.vectors, 'RO')] });
    }
  }

  // MSI-X capability (PCI Local Bus 3.0 6.8.2): the table and PBA live in a BAR.
  if (spec.msix) {
    const x = MSIX_CAP_OFFSET;
    const v = spec.msix.vectors;
    if (!Number.isInteger(v) || v < 1 || v > 2048) throw new Error(`${spec.name}: MSI-X vectors must be 1..2048`);
    add({
      name: 'MSIX.Header', offset: x,
      reset: CapId.MSIX | (next(x) << 8) | ((v - 1) << 16),
      fields: [f('CapID', 0, 8, 'RO'), f('NextPtr', 8, 8, 'RO'), f('TableSize', 16, 11, 'RO'), f('FunctionMask', 30, 1, 'RW'), f('MSIXEnable', 31, 1, 'RW')],
      write: () => hooks.msixControl(),
    });
    add({ name: 'MSIX.Table', offset: x + 0x04, access: 'RO', reset: (spec.msix.tableOffset | spec.msix.tableBar) >>> 0, fields: [f('BIR', 0, 3), f('Offset', 3, 29)] });
    add({ name: 'MSIX.PBA', offset: x + 0x08, access: 'RO', reset: (spec.msix.pbaOffset | spec.msix.pbaBar) >>> 0, fields: [f('BIR', 0, 3), f('Offset', 3, 29)] });
  }

  // --- Extended capabilities (PCIe Base 4.0 7.6), chained from 0x100 ---
  const ext: { id: number; size: number; kind: 'ats' | 'pri' | 'pasid' }[] = [];
  if (spec.ats) ext.push({ id: ExtCapId.ATS, size: 8, kind: 'ats' });
  if (spec.pri) ext.push({ id: ExtCapId.PRI, size: 16, kind: 'pri' });
  if (spec.pasid) ext.push({ id: ExtCapId.PASID, size: 8, kind: 'pasid' });
  const layout = { pcie: pe, msi: spec.msi ? MSI_CAP_OFFSET : 0, msix: spec.msix ? MSIX_CAP_OFFSET : 0, ats: 0, pri: 0, pasid: 0 };
  let at = EXT_CAP_OFFSET;
  if (ext.length === 0) add({ name: 'ExtCap.None', offset: EXT_CAP_OFFSET, access: 'RO' }); // 7.6.3: all zero header ends the list
  for (let i = 0; i < ext.length; i++) {
    const e = ext[i]!;
    const nextAt = i + 1 < ext.length ? at + e.size : 0;
    const header: RegDef = {
      name: `${e.kind.toUpperCase()}.Header`, offset: at, access: 'RO',
      reset: (e.id | (1 << 16) | (nextAt << 20)) >>> 0,
      fields: [f('CapabilityID', 0, 16), f('CapabilityVersion', 16, 4), f('NextCapabilityOffset', 20, 12)],
    };
    add(header);
    if (e.kind === 'ats') {
      layout.ats = at;
      // 10.5.1.2/10.5.1.3: Invalidate Queue Depth 0 (= 32), page-aligned requests; STU and Enable RW.
      add({ name: 'ATS.CapabilityControl', offset: at + 4, reset: 1 << 5, fields: [f('InvalidateQueueDepth', 0, 5, 'RO'), f('PageAlignedRequest', 5, 1, 'RO'), f('GlobalInvalidateSupported', 6, 1, 'RO'), f('SmallestTranslationUnit', 16, 5, 'RW'), f('Enable', 31, 1, 'RW')] });
    } else if (e.kind === 'pri') {
      layout.pri = at;
      // 10.5.2.2/10.5.2.3: Control (Enable, Reset) and Status (RF, UPRGI, Stopped, PRG Response PASID Required).
      add({
        name: 'PRI.ControlStatus', offset: at + 4,
        reset: ((1 << 8) | (spec.pasid ? 1 << 15 : 0)) << 16,
        fields: [f('Enable', 0, 1, 'RW'), f('Reset', 1, 1, 'WO'), f('ResponseFailure', 16, 1, 'W1C'), f('UnexpectedPRGIndex', 17, 1, 'W1C'), f('Stopped', 24, 1, 'RO'), f('PRGResponsePASIDRequired', 31, 1, 'RO')],
        write: (v, old, written) => hooks.priControl(v, old, written),
      });
      add({ name: 'PRI.OutstandingRequestCapacity', offset: at + 8, access: 'RO', reset: spec.pri!.outstandingRequests >>> 0 });
      add({ name: 'PRI.OutstandingRequestAllocation', offset: at + 12, access: 'RW' });
    } else {
      layout.pasid = at;
      const p = spec.pasid!;
      if (!Number.isInteger(p.maxPasidWidth) || p.maxPasidWidth < 1 || p.maxPasidWidth > 20) throw new Error(`${spec.name}: maxPasidWidth must be 1..20`);
      // 7.8.8.2/7.8.8.3: Execute/Privileged Mode Supported, Max PASID Width; Control enables.
      const supported = (p.exec ?? true ? 1 << 1 : 0) | (p.priv ?? true ? 1 << 2 : 0);
      add({
        name: 'PASID.CapabilityControl', offset: at + 4,
        reset: supported | (p.maxPasidWidth << 8),
        fields: [f('ExecutePermissionSupported', 1, 1, 'RO'), f('PrivilegedModeSupported', 2, 1, 'RO'), f('MaxPASIDWidth', 8, 5, 'RO'), f('PASIDEnable', 16, 1, 'RW'), ...(supported & 2 ? [f('ExecutePermissionEnable', 17, 1, 'RW')] : []), ...(supported & 4 ? [f('PrivilegedModeEnable', 18, 1, 'RW')] : [])],
      });
    }
    at += e.size;
  }

  return { regs: new RegisterBlock(`${spec.name}.config`, regs, { allowNarrow: true, unmappedRazWi: true }), layout };
}
