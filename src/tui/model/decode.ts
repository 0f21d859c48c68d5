// What a trace record means, in the words of the spec: the MMIO register and fields
// it touched, the SMMU command or event by name, the stall and its STAG, the walk
// level and fault, the doorbell queue and index, the completion status. One line for
// the transaction list, and a field-by-field detail for the selected record, with the
// command/event/STE/CD/SQE read from guest RAM and decoded with the device models'
// own field tables.

import type { MachineCore } from '../../machine/machine.js';
import { Machine } from '../../machine/board.js';
import { TRACE_KIND_NAMES, TraceKind, type TraceRecord } from '../../trace/record.js';
import { NO_SID } from '../../trace/ring.js';
import { CMD } from '../../hw/smmuv3/cmdq.js';
import { SmmuV3 } from '../../hw/smmuv3/smmuv3.js';
import { EVENT_NAMES, EVT } from '../../hw/smmuv3/evtq.js';
import { PRI } from '../../hw/smmuv3/priq.js';
import { STE } from '../../hw/smmuv3/ste.js';
import { CD } from '../../hw/smmuv3/cd.js';
import { ITS_CMD, itsCommandName } from '../../hw/gic/its-command.js';
import { ITS_TRANSLATION_ERROR_NAMES } from '../../hw/gic/its.js';
import { EC, ESR_WNR } from '../../hw/cpu/esr.js';
import { ZIP_SQE, ZipStatus } from '../../hw/zip/sqe.js';
import type { StructLayout } from '../../hw/regs/struct-layout.js';
import { describeMsixTable, describeQmDoorbell, describeRegister, mmioTarget } from './mmio-names.js';

export const hex = (v: number | bigint): string => `0x${v.toString(16)}`;

/**
 * Virtual time (a point or a span) as text in the unit that reads best, to the ns:
 * "20 ns", "2.764 us", "302.186653 ms"; fractions of a ns (cost-model rates) below 1 us.
 */
export const ns = (t: number): string => {
  const a = Math.abs(t);
  if (a < 1e3) return `${Number.isInteger(t) ? t : t.toFixed(3)} ns`;
  if (a < 1e6) return `${(t / 1e3).toFixed(3)} us`;
  if (a < 1e9) return `${(t / 1e6).toFixed(6)} ms`;
  return `${(t / 1e9).toFixed(9)} s`;
};

/** SMMU command opcodes (IHI 0070 4.1.1) and the CMD fields each one reads (4.2-4.7). */
export const SMMU_COMMANDS: Readonly<Record<number, { readonly name: string; readonly fields: readonly (keyof typeof CMD.f)[] }>> = {
  0x01: { name: 'CMD_PREFETCH_CONFIG', fields: ['SSec', 'SSV', 'SubstreamID', 'StreamID'] },
  0x02: { name: 'CMD_PREFETCH_ADDR', fields: ['SSec', 'SSV', 'SubstreamID', 'StreamID', 'Size', 'Address'] },
  0x03: { name: 'CMD_CFGI_STE', fields: ['SSec', 'StreamID', 'Leaf'] },
  0x04: { name: 'CMD_CFGI_STE_RANGE', fields: ['SSec', 'StreamID', 'Range'] },
  0x05: { name: 'CMD_CFGI_CD', fields: ['SSec', 'SubstreamID', 'StreamID', 'Leaf'] },
  0x06: { name: 'CMD_CFGI_CD_ALL', fields: ['SSec', 'StreamID'] },
  0x07: { name: 'CMD_CFGI_VMS_PIDM', fields: ['SSec', 'VMID'] },
  0x10: { name: 'CMD_TLBI_NH_ALL', fields: ['VMID'] },
  0x11: { name: 'CMD_TLBI_NH_ASID', fields: ['VMID', 'ASID'] },
  0x12: { name: 'CMD_TLBI_NH_VA', fields: ['NUM', 'SCALE', 'VMID', 'ASID', 'Leaf', 'TTL', 'TG', 'Address'] },
  0x13: { name: 'CMD_TLBI_NH_VAA', fields: ['NUM', 'SCALE', 'VMID', 'Leaf', 'TTL', 'TG', 'Address'] },
  0x18: { name: 'CMD_TLBI_EL3_ALL', fields: [] },
  0x1a: { name: 'CMD_TLBI_EL3_VA', fields: ['NUM', 'SCALE', 'Leaf', 'TTL', 'TG', 'Address'] },
  0x20: { name: 'CMD_TLBI_EL2_ALL', fields: [] },
  0x21: { name: 'CMD_TLBI_EL2_ASID', fields: ['ASID'] },
  0x22: { name: 'CMD_TLBI_EL2_VA', fields: ['NUM', 'SCALE', 'ASID', 'Leaf', 'TTL', 'TG', 'Address'] },
  0x23: { name: 'CMD_TLBI_EL2_VAA', fields: ['NUM', 'SCALE', 'Leaf', 'TTL', 'TG', 'Address'] },
  0x28: { name: 'CMD_TLBI_S12_VMALL', fields: ['VMID'] },
  0x2a: { name: 'CMD_TLBI_S2_IPA', fields: ['NUM', 'SCALE', 'VMID', 'Leaf', 'TTL', 'TG', 'Address'] },
  0x30: { name: 'CMD_TLBI_NSNH_ALL', fields: [] },
  0x40: { name: 'CMD_ATC_INV', fields: ['SSV', 'SubstreamID', 'StreamID', 'Global', 'Size', 'Address'] },
  0x41: { name: 'CMD_PRI_RESP', fields: ['SSV', 'SubstreamID', 'StreamID', 'PRGIndex', 'Resp'] },
  0x44: { name: 'CMD_RESUME', fields: ['StreamID', 'Ac', 'Ab', 'STAG'] },
  0x45: { name: 'CMD_STALL_TERM', fields: ['StreamID'] },
  0x46: { name: 'CMD_SYNC', fields: ['CS', 'MSH', 'MSIAttr', 'MSIData', 'MSIAddress'] },
};

/** ITS command fields by command (IHI 0069 6.3). */
const ITS_FIELDS: Readonly<Record<string, readonly (keyof typeof ITS_CMD.f)[]>> = {
  MOVI: ['DeviceID', 'EventID', 'ICID'],
  INT: ['DeviceID', 'EventID'],
  CLEAR: ['DeviceID', 'EventID'],
  SYNC: ['RDbase'],
  MAPD: ['DeviceID', 'Size', 'ITT_addr', 'V'],
  MAPC: ['ICID', 'RDbase', 'V'],
  MAPTI: ['DeviceID', 'EventID', 'pINTID', 'ICID'],
  MAPI: ['DeviceID', 'EventID', 'ICID'],
  INV: ['DeviceID', 'EventID'],
  INVALL: ['ICID'],
  MOVALL: ['RDbase', 'RDbase2'],
  DISCARD: ['DeviceID', 'EventID'],
};

/** Event fields by event number (IHI 0070 7.3): the common header, then what each adds. */
function eventFields(id: number): (keyof typeof EVT.f)[] {
  const head: (keyof typeof EVT.f)[] = ['EventID', 'StreamID', 'SSV', 'SubstreamID'];
  if (id >= 0x10 && id <= 0x13) return [...head, 'Stall', 'STAG', 'PnU', 'InD', 'RnW', 'S2', 'CLASS', 'InputAddr', 'IPA'];
  if (id === 0x03 || id === 0x09 || id === 0x0b) return [...head, 'InputAddr', 'FetchAddr', ...(id === 0x0b ? (['PnU', 'InD', 'RnW', 'S2', 'CLASS'] as const) : [])];
  if (id === 0x06 || id === 0x02 || id === 0x04 || id === 0x08 || id === 0x0a) return head;
  return [...head, 'InputAddr'];
}

const FAULT_CLASS = ['CD', 'TT', 'IN', 'reserved'];
const WALK_FAULTS = ['none', 'Translation', 'AddressSize', 'AccessFlag', 'Permission', 'ExternalAbort'];
const IRQ_EVENTS = ['pending', 'acknowledged', 'deactivated'];
const EXCEPTION_TYPES = ['sync', 'irq', 'svc'];
/** TraceKind.TlbInvalidate aux: the TLBI operation, in the order src/hw/cpu/core.ts numbers them. */
const TLBI_OPS = ['VMALLE1IS', 'VMALLE1', 'ASIDE1IS', 'VAE1IS', 'VALE1IS', 'VAAE1IS', 'VAALE1IS', 'RVAE1IS', 'RVALE1IS', 'RVAAE1IS'];
/** PCIe PRG Response codes (the function's view of CMD_PRI_RESP). */
export const PRG_RESPONSE_NAMES: Readonly<Record<number, string>> = { 0: 'Success', 1: 'Invalid Request', 0xf: 'Response Failure' };
const ZIP_STATUS_NAMES = Object.fromEntries(Object.entries(ZipStatus).map(([k, v]) => [v, k])) as Record<number, string>;
const EC_NAMES = Object.fromEntries(Object.entries(EC).map(([k, v]) => [v, k])) as Record<number, string>;
const CS_NAMES = ['NONE', 'IRQ', 'SEV', 'reserved'];
const STE_CONFIG = ['abort', 'reserved', 'reserved', 'reserved', 'bypass', 'S1 translate', 'S2 translate', 'S1+S2 nested'];

/** The STE fields that say how a stream translates (5.2). */
export function steBrief(words: Uint32Array): string {
  const g = (f: (typeof STE.fields)[number]) => STE.get(words, f);
  return `V ${g(STE.f.V)}, Config ${STE_CONFIG[g(STE.f.Config)]}, S1ContextPtr ${hex(g(STE.f.S1ContextPtr))}, S1CDMax ${g(STE.f.S1CDMax)}, S1STALLD ${g(STE.f.S1STALLD)}`;
}

/** The CD fields that say how a substream translates (5.4): its address space and whether faults stall. */
export function cdBrief(words: Uint32Array): string {
  const g = (f: (typeof CD.fields)[number]) => CD.get(words, f);
  return `V ${g(CD.f.V)}, ASID ${hex(g(CD.f.ASID))}, TTB0 ${hex(g(CD.f.TTB0))}, T0SZ ${g(CD.f.T0SZ)}, S ${g(CD.f.S)}${g(CD.f.S) ? ' (faults stall)' : ''}, R ${g(CD.f.R)}, A ${g(CD.f.A)}`;
}

export function eventName(id: number): string {
  return EVENT_NAMES[id] ?? `event ${hex(id)}`;
}

export function commandName(op: number): string {
  return SMMU_COMMANDS[op]?.name ?? `CMD ${hex(op)}`;
}

/** Action of CMD_RESUME (4.7.2): Ac retry, Ab abort-with-response, neither terminate. */
function resumeAction(ac: number, ab: number): string {
  return ac ? 'RETRY' : ab ? 'ABORT' : 'TERMINATE';
}

/**
 * Copies of in-RAM structures taken when their record was made (a queue slot is
 * reused later): command, event, PRI entry, STE, CD, ZIP SQE, keyed by record index.
 */
export interface RecordSnapshots {
  get(index: number): Uint32Array | undefined;
}

/** What decoding needs besides the record. */
export interface DecodeContext {
  readonly machine: MachineCore;
  readonly snapshots: RecordSnapshots;
  /** Label of a marker record (the workload's step titles). */
  markerLabel?(aux: number): string | undefined;
}

/** Which device model a record's initiator is. */
export type InitiatorRole = 'smmu' | 'its' | 'zip' | 'testdev' | 'cpu' | 'gic' | 'other';

const roleCache = new WeakMap<MachineCore, Map<string, InitiatorRole>>();

/** The SMMU on the bus whose trace initiator is `initiator` (any machine: a board or a bare rig). */
export function smmuNamed(machine: MachineCore, initiator: string): SmmuV3 | undefined {
  if (machine instanceof Machine) return machine.smmu.name === initiator ? machine.smmu : undefined;
  for (const r of machine.bus.regionList) if (r.device instanceof SmmuV3 && r.device.name === initiator) return r.device;
  return undefined;
}

export function initiatorRole(machine: MachineCore, initiator: string): InitiatorRole {
  let cache = roleCache.get(machine);
  if (cache === undefined) {
    cache = new Map();
    roleCache.set(machine, cache);
    if (machine instanceof Machine) {
      cache.set(machine.smmu.name, 'smmu');
      cache.set('gits', 'its');
      if (machine.zip.fn.attached) cache.set(machine.trace.initiatorName(machine.zip.fn.dma.initiator), 'zip');
      if (machine.testdev.fn.attached) cache.set(machine.trace.initiatorName(machine.testdev.fn.dma.initiator), 'testdev');
    }
  }
  const known = cache.get(initiator);
  if (known !== undefined) return known;
  if (smmuNamed(machine, initiator) !== undefined) {
    cache.set(initiator, 'smmu');
    return 'smmu';
  }
  if (/^cpu\d+$/.test(initiator)) return 'cpu';
  if (/^gic/.test(initiator)) return 'gic';
  if (initiator === 'smmu') return 'smmu';
  return 'other';
}

function fieldList(layout: StructLayout, words: Uint32Array, names: readonly string[], compact: boolean): string {
  const parts: string[] = [];
  for (const n of names) {
    const f = (layout.f as Record<string, (typeof layout.fields)[number]>)[n];
    if (f === undefined) continue;
    const v = layout.get(words, f);
    if (compact && v === 0 && f.width === 1) continue;
    parts.push(`${n}=${f.width > 4 || f.addr ? hex(v) : v}`);
  }
  return parts.join(' ');
}

function intidNames(machine: MachineCore): Map<number, string> {
  const m = new Map<number, string>();
  if (machine instanceof Machine) {
    const soc = machine.soc;
    m.set(32 + soc.uart.irq.number, 'uart');
    for (const [name, irq] of Object.entries(soc.smmu.irqs)) m.set(32 + irq.number, `smmu ${name}`);
  }
  return m;
}
const intidCache = new WeakMap<MachineCore, Map<number, string>>();

/** What an INTID is on this machine: 'uart', 'smmu eventq', ..., or its class (SGI, PPI, SPI, LPI). */
export function intidName(machine: MachineCore, intid: number): string {
  let m = intidCache.get(machine);
  if (m === undefined) {
    m = intidNames(machine);
    intidCache.set(machine, m);
  }
  const n = m.get(intid);
  if (n !== undefined) return n;
  return intid < 16 ? 'SGI' : intid < 32 ? 'PPI' : intid < 1020 ? 'SPI' : intid >= 8192 ? 'LPI' : '';
}

function mmioLine(ctx: DecodeContext, r: TraceRecord, write: boolean): string {
  const pa = Number(r.pa);
  const t = mmioTarget(ctx.machine, pa);
  const arrow = write ? '<-' : '->';
  if (t === undefined) return `${hex(pa)} ${arrow} ${hex(r.value)}`;
  if (t.special === 'qm-doorbell') return `${t.device} ${describeQmDoorbell(Number(r.value & 0xffffffffn), Number(r.value >> 32n))}`;
  if (t.special === 'its-translater') return `gits GITS_TRANSLATER ${arrow} EventID ${r.value}`;
  if (t.special === 'msix-table') return `${t.device} ${describeMsixTable(t.offset)} ${arrow} ${hex(r.value)}`;
  const reg = t.block !== undefined ? describeRegister(t.block, t.offset, r.size, r.value) : undefined;
  if (reg === undefined) return `${t.device}${t.block === undefined && t.device.startsWith('ecam') ? ' (no function)' : ''} +${hex(t.offset)} ${arrow} ${hex(r.value)}`;
  const nonzero = reg.fields.filter((f) => f.value !== 0);
  const fields = reg.fields.length === 0 ? hex(r.value) : nonzero.length === 0 ? '0' : nonzero.map((f) => `${f.name}=${f.value > 9 ? hex(f.value) : f.value}`).join(' ');
  return `${t.device} ${reg.name} ${arrow} ${fields}`;
}

function regionName(ctx: DecodeContext, pa: number): string {
  const bus = ctx.machine.bus;
  if (bus.isRam(pa)) return 'RAM';
  return mmioTarget(ctx.machine, pa)?.device ?? 'nothing';
}

function walkLine(r: TraceRecord): string {
  const stage = r.aux >>> 16;
  const fault = (r.aux >>> 8) & 0xff;
  const level = r.aux & 0xff;
  const s = stage === 2 ? 'S2' : 'S1';
  const out = fault === 0 ? `-> ${hex(r.pa)}` : `FAULT ${WALK_FAULTS[fault] ?? fault}`;
  return `${s} walk ${hex(r.iova)} L${level} ${out} (${r.size} reads)`;
}

function stallLine(r: TraceRecord): string {
  return `STAG ${hex(r.value)} ${eventName(r.aux)} at ${hex(r.iova)}`;
}

/** The one-line decode shown in the transaction list. */
export function decodeLine(ctx: DecodeContext, r: TraceRecord): string {
  const role = () => initiatorRole(ctx.machine, r.initiator);
  switch (r.kind) {
    case TraceKind.MmioRead:
      return mmioLine(ctx, r, false);
    case TraceKind.MmioWrite:
      return mmioLine(ctx, r, true);
    case TraceKind.DmaRead:
    case TraceKind.DmaWrite: {
      const where = regionName(ctx, Number(r.pa));
      const xlate = r.iova !== r.pa ? `${hex(r.iova)} -> ${hex(r.pa)}` : hex(r.pa);
      return `${r.kind === TraceKind.DmaRead ? 'read' : 'write'} ${r.size} B ${xlate}${where !== 'RAM' ? ` (${where})` : ''} first ${hex(r.value)}`;
    }
    case TraceKind.BusError: {
      const decoded = ctx.machine.bus.findRegion(Number(r.pa)) !== undefined;
      return `${r.aux ? 'write' : 'read'} of ${r.size} B at ${hex(r.pa)}: ${decoded ? 'refused by the device (SLVERR)' : 'nothing decodes it (DECERR)'}`;
    }
    case TraceKind.Walk:
      return walkLine(r);
    case TraceKind.TlbHit:
      return `TLB hit ${hex(r.iova)}`;
    case TraceKind.TlbMiss:
      return `TLB miss ${hex(r.iova)} ASID ${hex(r.aux)}`;
    case TraceKind.TlbInvalidate:
      return `TLBI ${TLBI_OPS[r.aux] ?? `op${r.aux}`} ${r.size > 0 ? `VA ${hex(r.iova)} pages ${r.size} ` : ''}ASID field ${hex(r.value)}`;
    case TraceKind.IotlbHit:
      return `IOTLB hit ${hex(r.iova)} -> ${hex(r.pa)} span ${hex(r.size)}`;
    case TraceKind.IotlbMiss:
      return `IOTLB miss ${hex(r.iova)}`;
    case TraceKind.ConfigFetch: {
      const what = r.aux === 1 ? 'CD' : 'STE';
      const words = ctx.snapshots.get(r.index);
      let brief = '';
      if (words !== undefined && r.aux === 0 && r.value === 0n) brief = ` V=${STE.get(words, STE.f.V)} Config=${STE_CONFIG[STE.get(words, STE.f.Config)]}`;
      if (words !== undefined && r.aux === 1 && r.value === 0n) brief = ` V=${CD.get(words, CD.f.V)} ASID=${hex(CD.get(words, CD.f.ASID))} S=${CD.get(words, CD.f.S)}`;
      const status = r.value === 0n ? '' : r.aux === 1 ? ' fetch failed' : r.value === 1n ? ' bad StreamID' : ' fetch abort';
      return `${what} fetch at ${hex(r.pa)}${brief}${status}`;
    }
    case TraceKind.Command: {
      if (role() === 'its') {
        const name = itsCommandName(r.aux) ?? `ITS cmd ${hex(r.aux)}`;
        const words = ctx.snapshots.get(r.index);
        return words ? `${name} ${fieldList(ITS_CMD, words, ITS_FIELDS[name] ?? [], true)}` : name;
      }
      const spec = SMMU_COMMANDS[r.aux];
      const words = ctx.snapshots.get(r.index) ?? commandWordsFromRecord(r);
      if (spec === undefined) return commandName(r.aux);
      if (r.aux === 0x44) return `${spec.name} ${resumeAction(CMD.get(words, CMD.f.Ac), CMD.get(words, CMD.f.Ab))} StreamID=${hex(CMD.get(words, CMD.f.StreamID))} STAG=${hex(CMD.get(words, CMD.f.STAG))}`;
      if (r.aux === 0x46) return `${spec.name} CS=${CS_NAMES[CMD.get(words, CMD.f.CS)]}${CMD.get(words, CMD.f.CS) === 1 ? ` MSIAddress=${hex(CMD.get(words, CMD.f.MSIAddress))} MSIData=${hex(CMD.get(words, CMD.f.MSIData))}` : ''}`;
      if (r.aux === 0x04 && CMD.get(words, CMD.f.Range) === 31) return 'CMD_CFGI_ALL';
      return `${spec.name} ${fieldList(CMD, words, spec.fields, true)}`.trimEnd();
    }
    case TraceKind.Event: {
      const words = ctx.snapshots.get(r.index);
      const stall = words !== undefined && EVT.get(words, EVT.f.Stall) === 1 ? ` Stall STAG ${hex(EVT.get(words, EVT.f.STAG))}` : '';
      return `${eventName(r.aux)} StreamID ${hex(r.sid)}${r.ssid >= 0 ? ` SSID ${r.ssid}` : ''} InputAddr ${hex(r.iova)}${stall}`;
    }
    case TraceKind.Fault: {
      const rl = role();
      if (rl === 'smmu') return `${eventName(r.aux)} at ${hex(r.iova)}${r.value !== 0n ? ` fetch ${hex(r.value)}` : ''}`;
      if (rl === 'its') {
        if (r.sid === NO_SID) return `ITS command ${itsCommandName(Number(r.value)) ?? hex(r.value)} at ${hex(r.pa)} failed: error ${hex(r.aux)}`;
        return `MSI DeviceID ${hex(r.sid)} EventID ${r.value}: ${ITS_TRANSLATION_ERROR_NAMES[r.aux] ?? r.aux}`;
      }
      return `${dfscName(r.aux)} ${r.value ? 'write' : 'read'} at ${hex(r.iova)}`;
    }
    case TraceKind.Stall:
      return stallLine(r);
    case TraceKind.Resume:
      return r.aux === 2 ? `STALL_TERM StreamID ${hex(r.sid)}: every stall terminated` : `${r.aux === 1 ? 'RETRY' : 'TERMINATE'} STAG ${hex(r.value)} at ${hex(r.iova)}`;
    case TraceKind.PageRequest:
      return `PRI PRG ${r.aux} ${prFlags(Number(r.value))} page ${hex(r.iova - (r.iova % 4096n))}`;
    case TraceKind.PageResponse:
      return `PRG ${r.aux} response ${PRG_RESPONSE_NAMES[Number(r.value)] ?? hex(r.value)}`;
    case TraceKind.Msi: {
      if (role() === 'its') return `DeviceID ${hex(r.sid)} EventID ${r.value} -> ${r.aux !== 0 ? `LPI ${r.aux}` : 'no LPI'}`;
      const target = mmioTarget(ctx.machine, Number(r.pa));
      const reg = target?.special === 'its-translater' ? 'GITS_TRANSLATER' : target?.block !== undefined ? describeRegister(target.block, target.offset, 4, r.value)?.name : undefined;
      const where = ctx.machine.bus.isRam(Number(r.pa)) ? ' (RAM)' : target ? ` (${target.device}${reg ? ` ${reg}` : ''})` : '';
      return `write ${hex(r.value)} to ${hex(r.pa)}${where}`;
    }
    case TraceKind.Irq: {
      const name = intidName(ctx.machine, r.aux);
      return `INTID ${r.aux}${name ? ` (${name})` : ''} ${IRQ_EVENTS[Number(r.value)] ?? `event ${r.value}`}`;
    }
    case TraceKind.Exception: {
      const type = EXCEPTION_TYPES[Number(r.value)] ?? `type ${r.value}`;
      if (Number(r.value) === 1) return 'IRQ taken';
      const ec = r.aux >>> 26;
      if (ec === EC.SVC64) return `system call (SVC #${r.aux & 0xffff})`;
      const far = Number(r.value) === 0 ? ` FAR ${hex(r.iova)}` : '';
      const abort = ec >= EC.IABT_LOW && ec <= EC.DABT_CUR ? ` ${dfscName(r.aux & 0x3f)}${ec >= EC.DABT_LOW && r.aux & ESR_WNR ? ' on write' : ''}` : '';
      return `${type} ESR ${hex(r.aux)} EC=${EC_NAMES[ec] ?? hex(ec)}${abort}${far}`;
    }
    case TraceKind.Doorbell:
      return describeQmDoorbell((r.aux & 0xfff) | ((r.aux >>> 16) << 12), Number(r.value >> 32n) || Number(r.value & 0xffffn));
    case TraceKind.Completion: {
      if (role() === 'testdev') return `DMA done: ${r.size} B at ${hex(r.iova)}, DMA_RESULT ${hex(r.value)}${r.value === 0n ? ' (ok)' : ''}`;
      const status = Number(r.value);
      return `qn=${r.aux} SQE ${hex(r.pa)} status ${hex(status)} ${ZIP_STATUS_NAMES[status] ?? ''}`.trimEnd();
    }
    case TraceKind.Marker: {
      const label = ctx.markerLabel?.(r.aux);
      return label !== undefined ? `[${r.aux}] ${label}` : `marker ${r.aux}`;
    }
    default:
      return '';
  }
}

function prFlags(v: number): string {
  return ['R', 'W', 'X', 'Priv', 'Last'].filter((_, i) => (v >>> i) & 1).join(' ') || 'stop marker';
}

/** DFSC (ISS[5:0]) of a CPU abort, by name. */
export function dfscName(dfsc: number): string {
  const level = dfsc & 3;
  switch (dfsc & 0x3c) {
    case 0x00:
      return `address size fault L${level}`;
    case 0x04:
      return `translation fault L${level}`;
    case 0x08:
      return `access flag fault L${level}`;
    case 0x0c:
      return `permission fault L${level}`;
    case 0x14:
      return `external abort on walk L${level}`;
  }
  if (dfsc === 0x10) return 'synchronous external abort';
  if (dfsc === 0x21) return 'alignment fault';
  return `DFSC ${hex(dfsc)}`;
}

/** The first command dword as the record carries it (value), when no copy of the slot was taken. */
function commandWordsFromRecord(r: TraceRecord): Uint32Array {
  const w = new Uint32Array(4);
  w[0] = Number(r.value & 0xffffffffn);
  w[1] = Number(r.value >> 32n);
  return w;
}

/** A detail section: a title and "name: value" rows. */
export interface DetailSection {
  readonly title: string;
  readonly rows: readonly string[];
}

/** What a field's value means, for the fields whose numbers are codes (by layout name, then field name). */
const FIELD_MEANINGS: Readonly<Record<string, Readonly<Record<string, (v: number) => string | undefined>>>> = {
  EVT: {
    EventID: (v) => eventName(v),
    RnW: (v) => (v ? 'read' : 'write'),
    PnU: (v) => (v ? 'privileged' : 'unprivileged'),
    InD: (v) => (v ? 'instruction' : 'data'),
    CLASS: (v) => `${FAULT_CLASS[v]}: ${['CD fetch', 'table walk', 'input address', '?'][v]}`,
  },
  CMD: { Opcode: (v) => SMMU_COMMANDS[v]?.name, CS: (v) => CS_NAMES[v] },
  STE: { Config: (v) => STE_CONFIG[v] },
  CD: { TG0: (v) => ['4K', '64K', '16K', '?'][v], S: (v) => (v ? 'faults stall' : 'faults terminate') },
};

function layoutRows(layout: StructLayout, words: Uint32Array, names?: readonly string[]): string[] {
  const fields = names === undefined ? layout.fields : names.map((n) => (layout.f as Record<string, (typeof layout.fields)[number]>)[n]).filter((f) => f !== undefined);
  const meanings = FIELD_MEANINGS[layout.name];
  return fields.map((f) => {
    const v = layout.get(words, f!);
    const meaning = meanings?.[f!.name]?.(v);
    return `${f!.name.padEnd(18)} ${f!.width > 4 || f!.addr ? hex(v) : v}${meaning !== undefined ? ` (${meaning})` : ''}`;
  });
}

function dwordRows(words: Uint32Array): string {
  const parts: string[] = [];
  for (let i = 0; i + 1 < words.length; i += 2) parts.push(`${hex(words[i + 1]!).slice(2).padStart(8, '0')}${words[i]!.toString(16).padStart(8, '0')}`);
  return parts.map((p, i) => `dw${i} 0x${p}`).join(' ');
}

/** What a record's value and aux fields hold, by kind (see TraceKind), and what they mean when they are codes. */
function recordFieldMeanings(ctx: DecodeContext | undefined, r: TraceRecord): { value?: string; aux?: string } {
  const v = Number(r.value);
  const smmu = ctx !== undefined && initiatorRole(ctx.machine, r.initiator) === 'smmu';
  switch (r.kind) {
    case TraceKind.Stall:
      return { value: 'STAG', aux: `event ${eventName(r.aux)}` };
    case TraceKind.Resume:
      return { value: 'STAG', aux: ['TERMINATE', 'RETRY', 'STALL_TERM'][r.aux] ?? '?' };
    case TraceKind.Event:
      return { aux: `event ${eventName(r.aux)}` };
    case TraceKind.Fault:
      return smmu ? { aux: `event ${eventName(r.aux)}`, ...(v !== 0 ? { value: 'fetch address' } : {}) } : {};
    case TraceKind.Command:
      return smmu ? { value: 'dword 0', aux: `opcode ${commandName(r.aux)}` } : {};
    case TraceKind.Walk:
      return { value: 'last descriptor address', aux: `stage ${r.aux >>> 16 || 1}, level ${r.aux & 0xff}, fault ${WALK_FAULTS[(r.aux >>> 8) & 0xff] ?? '?'}` };
    case TraceKind.ConfigFetch:
      return { value: v === 0 ? 'ok' : 'failed', aux: r.aux === 1 ? 'CD' : 'STE' };
    case TraceKind.Irq:
      return { value: IRQ_EVENTS[v] ?? '?', aux: `INTID ${r.aux}${ctx !== undefined ? ` ${intidName(ctx.machine, r.aux)}` : ''}` };
    case TraceKind.Exception:
      return { value: EXCEPTION_TYPES[v] ?? '?', aux: 'ESR' };
    case TraceKind.TlbMiss:
      return { aux: 'ASID' };
    case TraceKind.PageRequest:
      return { value: prFlags(v), aux: 'PRG index' };
    case TraceKind.PageResponse:
      return { value: PRG_RESPONSE_NAMES[v] ?? '?', aux: 'PRG index' };
    case TraceKind.Completion:
      return ctx !== undefined && initiatorRole(ctx.machine, r.initiator) === 'zip' ? { value: `status ${ZIP_STATUS_NAMES[v] ?? '?'}`, aux: 'queue' } : { value: 'DMA_RESULT' };
    case TraceKind.Doorbell:
      return { aux: 'queue' };
    case TraceKind.Marker:
      return { aux: 'step' };
    default:
      return {};
  }
}

/** The fields of the record itself, by name; with a context, value and aux say what they hold. */
export function recordRows(r: TraceRecord, ctx?: DecodeContext): string[] {
  const m = recordFieldMeanings(ctx, r);
  return [
    `index      ${r.index}`,
    `time       ${ns(r.timeNs)}${r.timeNs >= 1e3 ? ` (${Number.isInteger(r.timeNs) ? r.timeNs : r.timeNs.toFixed(3)} ns)` : ''}`,
    `initiator  ${r.initiator}`,
    `kind       ${TRACE_KIND_NAMES[r.kind] ?? r.kind}`,
    `StreamID   ${r.sid === NO_SID ? '-' : hex(r.sid)}`,
    `SubstreamID ${r.ssid < 0 ? '-' : hex(r.ssid)}`,
    `iova       ${hex(r.iova)}`,
    `pa         ${hex(r.pa)}`,
    `size       ${r.size}`,
    `value      ${hex(r.value)}${m.value !== undefined ? ` (${m.value})` : ''}`,
    `aux        ${hex(r.aux)}${m.aux !== undefined ? ` (${m.aux})` : ''}`,
  ];
}

/** Field-by-field decode of the record's payload (the structures it names, read from RAM when it was made), then the record's own fields. */
export function detailSections(ctx: DecodeContext, r: TraceRecord): DetailSection[] {
  const out: DetailSection[] = [];
  const words = ctx.snapshots.get(r.index);
  switch (r.kind) {
    case TraceKind.MmioRead:
    case TraceKind.MmioWrite: {
      const t = mmioTarget(ctx.machine, Number(r.pa));
      if (t?.block === undefined) break;
      const reg = describeRegister(t.block, t.offset, r.size, r.value);
      if (reg === undefined) break;
      const rows = [`device     ${t.device} (${t.block.name}) offset ${hex(t.offset)}`, `register   ${reg.name}${reg.def.description ? `: ${reg.def.description}` : ''}`];
      for (const f of reg.fields) rows.push(`  ${f.name.padEnd(22)} ${f.value > 9 ? hex(f.value) : f.value}`);
      out.push({ title: `register ${reg.name}`, rows });
      break;
    }
    case TraceKind.Command: {
      if (words === undefined) break;
      if (initiatorRole(ctx.machine, r.initiator) === 'its') {
        const name = itsCommandName(r.aux) ?? 'ITS command';
        out.push({ title: `${name} at ${hex(r.pa)} (ITS_CMD fields)`, rows: [dwordRows(words), ...layoutRows(ITS_CMD, words, ['CommandType', ...(ITS_FIELDS[name] ?? [])])] });
        break;
      }
      const spec = SMMU_COMMANDS[r.aux];
      const rows = [dwordRows(words), ...layoutRows(CMD, words, ['Opcode', ...(spec?.fields ?? [])])];
      if (r.aux === 0x44) rows.push(`action             ${resumeAction(CMD.get(words, CMD.f.Ac), CMD.get(words, CMD.f.Ab))}`);
      if (r.aux === 0x46) rows.push(`completion signal  ${CS_NAMES[CMD.get(words, CMD.f.CS)]}`);
      out.push({ title: `${commandName(r.aux)} from the CMDQ slot at ${hex(r.pa)} (CMD fields)`, rows });
      break;
    }
    case TraceKind.Event: {
      if (words === undefined) {
        out.push({ title: 'event record', rows: ['the EVTQ slot was not captured'] });
        break;
      }
      const rows = [dwordRows(words), ...layoutRows(EVT, words, eventFields(r.aux))];
      out.push({ title: `${eventName(r.aux)} event record from the EVTQ (EVT fields)`, rows });
      break;
    }
    case TraceKind.PageRequest:
      if (words !== undefined) out.push({ title: 'PRI queue entry (PRI fields)', rows: [dwordRows(words), ...layoutRows(PRI, words)] });
      break;
    case TraceKind.ConfigFetch:
      if (words !== undefined && r.value === 0n) {
        const layout = r.aux === 1 ? CD : STE;
        out.push({ title: `${layout.name} at ${hex(r.pa)} (${layout.name} fields)`, rows: [dwordRows(words), ...layoutRows(layout, words)] });
      }
      break;
    case TraceKind.Exception:
      if (Number(r.value) === 2 && r.aux >>> 26 === EC.SVC64) out.push({ title: 'system call', rows: [`ESR        ${hex(r.aux)}: EC SVC64, imm16 ${r.aux & 0xffff}`, 'number     in x8 at the SVC; the trace records bus transactions and exceptions, not registers'] });
      break;
    case TraceKind.Completion:
      if (words !== undefined) out.push({ title: `ZIP SQE at ${hex(r.pa)} (ZIP_SQE fields)`, rows: layoutRows(ZIP_SQE, words) });
      break;
    default:
      break;
  }
  out.push({ title: `record #${r.index}`, rows: recordRows(r, ctx) });
  return out;
}
