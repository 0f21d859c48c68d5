// What a bus-trace record says. One record per bus transaction or architected event.

export enum TraceKind {
  MmioRead = 1,
  MmioWrite,
  DmaRead,
  DmaWrite,
  BusError,
  /** A page-table walk (CPU MMU or SMMU): iova = input address, pa = output, aux = level/fault. */
  Walk,
  TlbHit,
  TlbMiss,
  TlbInvalidate,
  IotlbHit,
  IotlbMiss,
  /** SMMU configuration fetch (STE or CD): pa = address read, aux = 0 STE / 1 CD. */
  ConfigFetch,
  /** SMMU command consumed: aux = opcode, value = dword 0. */
  Command,
  /** SMMU event recorded: aux = event id. */
  Event,
  /** A translation fault seen by the CPU or SMMU: aux = fault code. */
  Fault,
  Stall,
  Resume,
  PageRequest,
  PageResponse,
  /** MSI write: pa = doorbell address, value = data. */
  Msi,
  /** Interrupt raised to a CPU: aux = INTID. */
  Irq,
  /** Exception taken by a CPU: aux = ESR, iova = FAR. */
  Exception,
  /** Queue doorbell on an accelerator: aux = queue, value = index. */
  Doorbell,
  /** Accelerator request completed: aux = queue, value = status. */
  Completion,
  /** Software marker from the guest or a test (aux = user code). */
  Marker,
}

export const TRACE_KIND_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(TraceKind)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => [v as number, k.replace(/[A-Z]/g, (c, i: number) => (i ? '_' : '') + c.toLowerCase())]),
);

/** A decoded record, for consumers (tests, TUI, exporters). The ring stores it packed. */
export interface TraceRecord {
  /** Position in the whole trace since reset (monotonic, survives ring wrap). */
  readonly index: number;
  readonly timeNs: number;
  readonly kind: TraceKind;
  readonly initiator: string;
  readonly sid: number;
  /** SubstreamID, or -1 when not valid (SSV=0). */
  readonly ssid: number;
  readonly iova: bigint;
  readonly pa: bigint;
  readonly size: number;
  readonly value: bigint;
  readonly aux: number;
}

/** Reads a record in words (register and field names, commands, events, faults): the TUI's one-line decode, which the exporters can append. */
export type TraceDescriber = (r: TraceRecord) => string;
