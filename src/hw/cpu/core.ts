// An AArch64 core as the guest sees it (src/arch/cpu.ts): EL0/EL1, the EL1&0
// stage 1 MMU with a TLB, system registers, synchronous exceptions and IRQs taken
// to the installed vectors, the virtual generic timer, WFI/WFE/SEV and SMC (PSCI,
// answered by the Cluster as firmware would).
//
// Virtual addresses are Numbers: TTBR0 addresses are 0 <= va < 2^48 and TTBR1
// addresses are negative (the 64-bit VA read as a signed integer, e.g.
// 0xffff_8000_0000_0000 is -2^47); unsigned forms >= 2^63 are accepted too.
//
// Time: every access charges cost.cpuAccessNs to the core's local time; hardware
// events fall due when the local time passes the next event (Clock.advanceTo), and
// IRQs are taken there when DAIF.I is clear. A core whose local time is behind the
// machine clock (another core's step moved it on) takes an IRQ when its own time
// reaches the time the IRQ was raised, and WFI sleeps until then.
//
// Events: the event register is set by SEV/SEVL, by an exception return, and when a write
// by another observer clears this core's exclusive monitor (marked by LDXR). WFE in place
// (`wfe`) moves the core's time from one hardware event to the next until one of them
// wakes it; WFE as a yield of the main loop puts the core to sleep until SEV, the monitor
// or an IRQ wakes it.
//
// Modelled more simply than the architecture (each is a deliberate choice):
// - no instruction fetch (guest code is TypeScript): UXN/PXN/WXN are decoded by the
//   walker but only data accesses are checked, so EC 0x20/0x21 never occur;
// - MAIR/AttrIndx and SCTLR.A/C/I are stored, not used: RAM behaves as Normal memory
//   (also with the MMU off), MMIO as Device memory (unaligned access: Alignment fault);
// - ERET restores PSTATE from what the entry saved (as Linux's pt_regs would), not
//   from SPSR_EL1, so nested exceptions in TypeScript handlers stay correct;
// - SVC does not mask DAIF on entry (Linux's el0_svc unmasks at once, and a blocking
//   system call must not leave the core masked while other tasks run).

import type { ArchCpu, AccessFault, CoreMain, CoreYield, ExceptionVectors, SysRegName, TlbiOp, UserRegs, VirtAccessOptions } from '../../arch/cpu.js';
import { ExceptionLevel } from '../../arch/cpu.js';
import { setCurrentCpu } from '../../arch/current.js';
import type { MachineCore, Runnable } from '../../machine/machine.js';
import type { CostModel } from '../../machine/cost.js';
import type { Clock } from '../../machine/clock.js';
import type { PhysicalBus } from '../bus/bus.js';
import { CHUNK_MASK, type SparseRam } from '../bus/ram.js';
import type { ExclusiveMonitors } from '../bus/exclusive-monitor.js';
import { TraceKind } from '../../trace/record.js';
import { NO_SID, NO_SSID, type TraceRing } from '../../trace/ring.js';
import { WalkFault, WalkResult, type DescriptorReader, type WalkConfig } from '../vmsa/types.js';
import { S1RamWalk, walk, MAX_TXSZ, MIN_TXSZ } from '../vmsa/walker.js';
import { TlbiRange, decodeRangeOperand } from '../vmsa/tlbi-range.js';
import { TWO55, TWO64, isSignExtended, signedVa, vaRegion, withoutTopByte } from '../vmsa/va.js';
import type { GicCpuInterface, IccRegName } from './gic-cpuif.js';
import { EC, ESR_IL, FSC, dataAbortEsr, faultStatus } from './esr.js';
import {
  CNTFRQ_HZ,
  DAIF_ALL,
  DAIF_I,
  ID_AA64ISAR0,
  ID_AA64MMFR0,
  ID_AA64MMFR1,
  ID_AA64MMFR2,
  ID_AA64PFR0,
  MIDR_TSV110,
  PAN_BIT,
  PA_BITS,
  SCTLR,
  SCTLR_RESET,
  TCR,
  TTBR,
  VTIMER_PPI,
  field64,
  ipsBits,
  mpidrFor,
  tg0GranuleShift,
  tg1GranuleShift,
} from './sysregs.js';
import { VirtualTimer } from './timer.js';
import {
  ANY_ASID,
  CTX_FLAT,
  CTX_GLOBAL,
  PAGE_SIZE,
  P_ALL,
  P_MMIO_SHIFT,
  P_R0,
  P_R1,
  P_R1PAN,
  P_W0,
  P_W1,
  P_W1PAN,
  TLB_MASK,
  Tlb,
  s1DataPermissions,
} from './tlb.js';

const TWO32 = 4294967296;
const NO_WORDS = new Uint32Array(0);
const NO_BYTES = new Uint8Array(0);
const POW2 = new Float64Array(65).map((_, i) => 2 ** i);
/** 1/4096: multiplying by it is exact and cheaper than dividing. */
const PAGE_RECIPROCAL = 1 / 4096;
/** s1DataPermissions for each AP[2:1]. */
const S1_DATA_PERMISSIONS = Int32Array.from([0, 1, 2, 3], s1DataPermissions);

function clampTsz(tsz: number): number {
  return tsz < MIN_TXSZ ? MIN_TXSZ : tsz > MAX_TXSZ ? MAX_TXSZ : tsz;
}

/** The firmware side of the core: what SMC and the IS maintenance operations reach. */
export interface CoreFirmware {
  /** Broadcasts a TLB maintenance operation to every core of the Inner Shareable domain. */
  broadcastTlbi(op: TlbiOp, lo: number, hi: number): void;
  /** SEV: sets the event register of every core. */
  sendEvent(): void;
  /** SMC from EL1 (PSCI). */
  smc(caller: Core, functionId: number, x1: number | bigint, x2: number | bigint | CoreMain | undefined, x3: number | bigint): number;
}

const enum PowerState {
  Off,
  Running,
  WaitIrq,
  WaitEvent,
}

/** IRQ arrival times a core keeps while its line stays high (later notifications beyond them are dropped). */
const MAX_IRQ_TIMES = 16;

/** refill's result when its walk found a translation fault (recorded as translate records it). */
const REFILL_FAULT = -2;

/** Consecutive faults of one access after which the core gives up (the vector returned without fixing anything). */
const MAX_RETRIES = 64;

const TLBI_OPS: readonly TlbiOp[] = ['VMALLE1IS', 'VMALLE1', 'ASIDE1IS', 'VAE1IS', 'VALE1IS', 'VAAE1IS', 'VAALE1IS', 'RVAE1IS', 'RVALE1IS', 'RVAAE1IS'];

/** Trace Exception record `value`: what kind of exception was taken. */
export const EXCEPTION_SYNC = 0;
export const EXCEPTION_IRQ = 1;
export const EXCEPTION_SVC = 2;

/** The core's descriptor reader: 64-bit loads as this core; RAM is read directly, anything else through the bus. */
class CoreWalkReader implements DescriptorReader {
  hi = 0;
  error = false;
  private readonly ram: SparseRam;
  constructor(
    private readonly bus: PhysicalBus,
    private readonly initiator: number,
  ) {
    this.ram = bus.ram;
  }
  readDescriptor(pa: number): number {
    const ram = this.ram;
    const off = pa - ram.base;
    if (off >= 0 && off + 8 <= ram.size && (off & 7) === 0) {
      // One chunk lookup for both halves: an 8-byte aligned descriptor never straddles chunks.
      this.error = false;
      const w = ram.wordsForRead(off);
      if (w === undefined) {
        this.hi = 0;
        return 0;
      }
      const i = (off & CHUNK_MASK) >>> 2;
      this.hi = w[i + 1]!;
      return w[i]!;
    }
    const lo = this.bus.load(pa, 8, this.initiator);
    this.hi = this.bus.hi;
    this.error = this.bus.error;
    return lo;
  }
}

function toBig(v: bigint | number): bigint {
  if (typeof v === 'bigint') return BigInt.asUintN(64, v);
  return v >= 0 && v <= Number.MAX_SAFE_INTEGER && Number.isInteger(v) ? BigInt(v) : BigInt.asUintN(64, BigInt(Math.trunc(v)));
}

/** A 64-bit register value as a signed Number VA (exact when representable). */
function vaFromBig(v: bigint): number {
  return Number(BigInt.asIntN(64, v));
}

export class Core implements ArchCpu, Runnable {
  readonly cost: Readonly<CostModel>;
  readonly tlb: Tlb;
  /** Trace initiator id ("cpuN"). */
  readonly initiator: number;
  /**
   * Loads and stores that miss the TLB try the refill fast path before the general
   * translation path (tests turn it off to hold the two against each other).
   */
  fastRefill = true;
  /** PSCI CPU_ON context_id of the last power-on (x0 at the entry point on hardware). */
  contextId: bigint = 0n;

  private elValue: ExceptionLevel = ExceptionLevel.EL1;
  private local = 0;
  /** Local time at which the next access must look at the clock and the IRQ line. */
  private deadline = -Infinity;
  /**
   * While the IRQ line stays high: when each IRQ reached this core, earliest first (the
   * machine time of each GIC notification, or the compare time of the core's own timer).
   * A core running behind the machine clock takes an IRQ when its own time gets to the
   * earliest; taking one consumes it. The GIC still picks which IRQ is acknowledged.
   */
  private readonly irqTimes: number[] = [];
  /** While the timer drives its PPI high: the time the GIC's notification stands for. */
  private ppiRiseNs = NaN;
  private readonly accessNs: number;
  private readonly clock: Clock;
  /** The run loop, which says when this core's turn ends. */
  private readonly turns: MachineCore;
  /** An exception returned since the last YIELD hint: the work of that return is due there. */
  private exceptionReturned = false;
  private readonly bus: PhysicalBus;
  private readonly ram: SparseRam;
  private readonly trace: TraceRing;

  // TLB arrays, held directly for the hot path.
  private readonly tVpn: Float64Array;
  private readonly tCtx: Int32Array;
  private readonly tPerm: Int32Array;
  private readonly tActive: Int32Array;
  private readonly tOff: Int32Array;
  private readonly tPa: Float64Array;
  private readonly tWords: Uint32Array[];
  private readonly tBytes: Uint8Array[];
  /** Permission bit a load / store at the current EL and PAN needs. */
  private rdMask = P_R1;
  private wrMask = P_W1;
  /** Context tags a hit accepts: the current ASID (or FLAT) and GLOBAL (or FLAT). */
  private asidTag = CTX_FLAT;
  private globalTag = CTX_FLAT;
  // Last-page caches: a copy of the RAM TLB entry the last load (rd) and store (wr) hit,
  // checked with one compare of the page's VA. They are dropped whenever the TLB changes
  // (fill, invalidation, context switch) or the access masks do (EL, PAN), so they never
  // allow an access the TLB would refuse.
  private rdPage = NaN;
  private rdWords: Uint32Array = NO_WORDS;
  private rdBytes: Uint8Array = NO_BYTES;
  private rdOff = 0;
  private wrPage = NaN;
  private wrWords: Uint32Array = NO_WORDS;
  private wrBytes: Uint8Array = NO_BYTES;
  private wrOff = 0;
  /** Physical address of the last written page (what a store reports to the exclusive monitors). */
  private wrPa = 0;

  // ---- system registers ----
  private sctlr = SCTLR_RESET;
  private tcr = 0n;
  private ttbr0 = 0n;
  private ttbr1 = 0n;
  private mair = 0n;
  private contextidr = 0n;
  /** ESR_EL1 (bits [31:0]; the upper half is RES0 here). */
  private esr = 0;
  /** FAR_EL1 as a signed Number VA, and as the 64-bit value once read or written as one. */
  private farVa_ = 0;
  private farBig: bigint | undefined = 0n;
  /** The last ESR_EL1 value read as a bigint (faults repeat the same few syndromes). */
  private esrBig = 0n;
  private esrBigOf = 0;
  private elr = 0n;
  /** The EL0 register file (x0..x30, SP_EL0, PC); the guest kernel installs each task's own on its return to EL0. */
  user: UserRegs = { x: new Float64Array(31), sp: 0, pc: 0 };
  /** SPSR_EL1 as saved on exception entry (a Number), and as the 64-bit value once read or written as one. */
  private spsrN = 0;
  private spsrBig: bigint | undefined = 0n;
  private vbar = 0n;
  private tpidrEl0 = 0n;
  private tpidrEl1 = 0n;
  private daif = DAIF_ALL;
  private pan = false;

  // ---- decoded translation regime ----
  private mmuOn = false;
  private spanClear = false;
  private asid = 0;
  private readonly cfg: [WalkConfig, WalkConfig];
  private readonly epd = [false, false];
  private readonly tbi = [false, false];
  /** Size of each region's input range, 2^(64 - TxSZ) with TxSZ clamped as the walker clamps it. */
  private readonly span = new Float64Array(2);
  /** The refill fast path's TTBR0/TTBR1 region sizes: span, or 0 while EPDn disables walks of the region. */
  private fastSpan0 = 0;
  private fastSpan1 = 0;
  private readonly walkStepNs: number;
  private readonly walkOut = new WalkResult();
  /** The refill fast path's walks of the TTBR0 and TTBR1 regions. */
  private readonly fastWalk0: S1RamWalk;
  private readonly fastWalk1: S1RamWalk;
  /** The VA whose fast refill a load or store has just declined: its slow path goes straight to the general walk. */
  private declinedVa = NaN;
  private readonly reader: CoreWalkReader;
  private readonly range = new TlbiRange();

  // ---- fault of the last failed translation ----
  private faultDfsc = 0;
  private faultVa = 0;
  private faultWrite = false;

  // ---- execution ----
  private state = PowerState.Off;
  private gen: Generator<CoreYield, void, void> | undefined;
  private eventRegister = false;
  /** The cores' exclusive monitors (on the bus, which devices write through), and this core's index in them. */
  private readonly monitors: ExclusiveMonitors;
  private readonly monitorId: number;
  private vectors: ExceptionVectors | undefined;
  private gic: GicCpuInterface | undefined;
  readonly timer: VirtualTimer;
  /** High half of the last 8-byte load. */
  private hi32 = 0;

  constructor(
    readonly id: number,
    machine: MachineCore,
    private readonly firmware: CoreFirmware,
  ) {
    this.cost = machine.cost;
    this.accessNs = machine.cost.cpuAccessNs;
    this.walkStepNs = machine.cost.walkStepNs;
    this.clock = machine.clock;
    this.turns = machine;
    this.bus = machine.bus;
    this.ram = machine.bus.ram;
    this.trace = machine.trace;
    this.initiator = machine.trace.initiatorId(`cpu${id}`);
    this.tlb = new Tlb(this.ram);
    this.tVpn = this.tlb.vpn;
    this.tCtx = this.tlb.ctx;
    this.tPerm = this.tlb.perm;
    this.tActive = this.tlb.active;
    this.tOff = this.tlb.off;
    this.tPa = this.tlb.pa;
    this.tWords = this.tlb.words;
    this.tBytes = this.tlb.bytes;
    this.reader = new CoreWalkReader(this.bus, this.initiator);
    this.fastWalk0 = new S1RamWalk(this.ram);
    this.fastWalk1 = new S1RamWalk(this.ram);
    this.tlb.onChange = () => this.dropPageCaches();
    this.monitors = machine.bus.monitors;
    this.monitorId = this.monitors.attach(() => this.signalEvent());
    this.cfg = [
      { stage: 1, ttb: 0, granuleShift: 12, tsz: 64, oasBits: 32 },
      { stage: 1, ttb: 0, granuleShift: 12, tsz: 64, oasBits: 32 },
    ];
    this.timer = new VirtualTimer(this.clock, `cpu${id}.vtimer`, (level, atNs) => this.driveTimerPpi(level, atNs));
    this.updateRegime();
  }

  // =====================================================================
  // Runnable
  // =====================================================================

  get runnable(): boolean {
    return this.state === PowerState.Running && this.gen !== undefined;
  }

  get localNs(): number {
    return this.local;
  }

  get poweredOn(): boolean {
    return this.state !== PowerState.Off;
  }

  /** Starts `main` on this core at EL1 (the boot core; secondaries come up through PSCI CPU_ON). */
  enter(main: CoreMain): void {
    this.gen = main(this);
    this.state = PowerState.Running;
    if (this.local < this.clock.now()) this.local = this.clock.now();
    this.deadline = -Infinity;
  }

  step(): void {
    const gen = this.gen;
    if (gen === undefined || this.state !== PowerState.Running) return;
    const prev = setCurrentCpu(this);
    const t0 = this.local;
    this.deadline = -Infinity;
    let r: IteratorResult<CoreYield, void>;
    try {
      r = gen.next();
    } finally {
      setCurrentCpu(prev);
    }
    // The step may have changed the power state (CPU_OFF, SYSTEM_OFF).
    if ((this.state as PowerState) === PowerState.Off) {
      // CPU_OFF or SYSTEM_OFF was called during the step: the code after it never runs.
      this.gen = undefined;
    } else if (r.done) {
      this.gen = undefined;
      this.state = PowerState.Off;
    } else if (r.value === 'wfi') {
      if (!this.irqLine()) this.state = PowerState.WaitIrq;
      else this.waitForIrqArrival();
    } else if (r.value === 'wfe') {
      if (this.eventRegister) this.eventRegister = false;
      else if (!this.irqLine()) this.state = PowerState.WaitEvent;
      else this.waitForIrqArrival();
    }
    // A step is at least one instruction: a core that stays runnable must move time,
    // or the run loop would pick it forever.
    if (this.local === t0 && this.runnable) this.local += this.accessNs;
    this.syncClock();
  }

  /** Powers the core on at `entry` (PSCI CPU_ON): EL1, MMU off, interrupts masked. */
  powerOn(entry: CoreMain, contextId: bigint, atNs: number): void {
    this.resetState();
    this.contextId = contextId;
    if (this.local < atNs) this.local = atNs;
    this.enter(entry);
  }

  /**
   * Powers the core off (PSCI CPU_OFF / SYSTEM_OFF). Its code is dropped, never
   * resumed (no finally blocks run, as when power goes away); a core turning itself
   * off keeps running until its generator next yields.
   */
  powerOff(): void {
    this.state = PowerState.Off;
    if (setCurrentCpuPeek() !== this) this.gen = undefined;
  }

  private resetState(): void {
    this.elValue = ExceptionLevel.EL1;
    this.sctlr = SCTLR_RESET;
    this.tcr = 0n;
    this.ttbr0 = 0n;
    this.ttbr1 = 0n;
    this.daif = DAIF_ALL;
    this.pan = false;
    this.eventRegister = false;
    this.monitors.clear(this.monitorId);
    this.vectors = undefined;
    this.irqTimes.length = 0;
    this.timer.reset();
    this.tlb.invalidateAll();
    this.updateRegime();
  }

  // =====================================================================
  // Time, IRQs, events
  // =====================================================================

  get el(): ExceptionLevel {
    return this.elValue;
  }

  setEl(el: ExceptionLevel): void {
    this.elValue = el === ExceptionLevel.EL0 ? ExceptionLevel.EL0 : ExceptionLevel.EL1;
    this.updateMasks();
  }

  now(): number {
    return this.local;
  }

  /** Time accumulates locally; hardware catches up (and IRQs are taken) at the next event boundary, as for accesses. */
  charge(ns: number): void {
    const t = ns > 0 ? this.local + ns : this.local;
    this.local = t;
    if (t >= this.deadline) this.tick();
  }

  /**
   * Lets hardware catch up with this core's time and takes a pending IRQ once this core's
   * time has reached the time it was raised (a core running behind the machine clock goes
   * on with its own work until then, as it would have on hardware).
   */
  private tick(): void {
    this.syncClock();
    this.deadline = this.clock.nextEventTime();
    if ((this.daif & DAIF_I) === 0 && this.irqLine()) {
      const at = this.irqArrival();
      if (this.local >= at) this.takeIrq();
      else if (at < this.deadline) this.deadline = at;
    }
  }

  /** The GIC's IRQ line to this core, in machine time; seen low, the arrival times are forgotten. */
  private irqLine(): boolean {
    if (this.gic !== undefined && this.gic.hasPendingIrq()) return true;
    // Setting an array's length is a runtime call: only when there is something to forget
    if (this.irqTimes.length !== 0) this.irqTimes.length = 0;
    return false;
  }

  /** When the next pending IRQ reached this core, in its own time (the clock's time when not known). */
  private irqArrival(): number {
    const times = this.irqTimes;
    if (times.length === 0) times.push(this.clock.now());
    return times[0]!;
  }

  /** WFI/WFE with an IRQ pending: the core sleeps until the IRQ reaches it. */
  private waitForIrqArrival(): void {
    const at = this.irqArrival();
    if (this.local < at) this.local = at;
  }

  /** The timer's PPI; a rising level reaches the core at the compare time of its own counter. */
  private driveTimerPpi(level: boolean, atNs: number): void {
    if (level) this.ppiRiseNs = atNs;
    try {
      this.gic?.setPpi(VTIMER_PPI, level);
    } finally {
      this.ppiRiseNs = NaN;
    }
  }

  private syncClock(): void {
    if (this.local > this.clock.now()) this.clock.advanceTo(this.local);
  }

  /** Connects the GIC CPU interface: ICC_* registers, IRQ delivery, the timer PPI. */
  attachGic(cpuif: GicCpuInterface): void {
    this.gic = cpuif;
    cpuif.onIrqChange = () => this.irqLineChanged();
  }

  /** The GIC says an IRQ may have become pending: it reached this core now (in machine time). */
  private irqLineChanged(): void {
    const t = this.ppiRiseNs === this.ppiRiseNs ? this.ppiRiseNs : this.clock.now();
    const times = this.irqTimes;
    const n = times.length;
    if (n === 0 || t >= times[n - 1]!) {
      if (n < MAX_IRQ_TIMES) times.push(t);
    } else {
      // The timer's compare time, earlier than a notification already kept.
      let i = n;
      while (i > 0 && times[i - 1]! > t) i--;
      times.splice(i, 0, t);
      if (times.length > MAX_IRQ_TIMES) times.pop();
    }
    this.deadline = -Infinity;
    if ((this.state === PowerState.WaitIrq || this.state === PowerState.WaitEvent) && this.irqLine()) this.wake();
  }

  private wake(): void {
    this.state = PowerState.Running;
    if (this.local < this.clock.now()) this.local = this.clock.now();
    this.deadline = -Infinity;
  }

  irqPending(): boolean {
    return this.irqLine() && this.local >= this.irqArrival();
  }

  sev(): void {
    this.firmware.sendEvent();
  }

  /**
   * The event register is set (SEV from any core including this one, or another observer's
   * write clearing this core's exclusive monitor); a core asleep in WFE wakes and consumes it.
   */
  signalEvent(): void {
    if (this.state === PowerState.WaitEvent) this.wake();
    else this.eventRegister = true;
  }

  sevl(): void {
    this.charge(this.accessNs);
    this.eventRegister = true;
  }

  /**
   * WFE in place (D1.6.2). With the event register set: clears it and returns. Otherwise the
   * core sleeps: its time moves to the next hardware event (which fires, as when an access
   * reaches it), again and again, until the event register is set, an IRQ that DAIF.I does
   * not mask reaches the core, or `untilNs` comes. Another core cannot run meanwhile (cores
   * are interleaved between steps), so its SEV or store is seen only after the wait.
   */
  wfe(untilNs = Infinity): void {
    this.charge(this.accessNs);
    this.syncClock();
    for (;;) {
      if (this.eventRegister) {
        this.eventRegister = false;
        return;
      }
      let until = untilNs;
      if ((this.daif & DAIF_I) === 0 && this.irqLine()) {
        const at = this.irqArrival();
        if (at <= this.local) return;
        if (at < until) until = at;
      }
      if (this.local >= until) return;
      const next = this.clock.nextEventTime();
      // Nothing will ever happen: a spurious wake-up (allowed) rather than a hang of the host.
      if (next === Infinity && until === Infinity) return;
      let t = next < until ? next : until;
      // An event due now (scheduled after the clock reached this time) fires a cycle later, as for an access.
      if (t <= this.local) t = Math.min(this.local + this.accessNs, until);
      this.local = t;
      this.syncClock();
      this.deadline = -Infinity;
    }
  }

  ldxr32(va: number): number {
    const v = this.ld32(va);
    this.markVirt(va);
    return v;
  }

  ldxr64(va: number): number {
    const v = this.ld64(va);
    this.markVirt(va);
    return v;
  }

  ldxrPhys32(pa: number): number {
    const v = this.physLoad(pa, 4);
    this.monitors.mark(this.monitorId, pa);
    return v;
  }

  ldxrPhys64(pa: number): number {
    const lo = this.physLoad(pa, 8);
    this.monitors.mark(this.monitorId, pa);
    return this.hi32 * TWO32 + lo;
  }

  clrex(): void {
    this.charge(this.accessNs);
    this.monitors.clear(this.monitorId);
  }

  /** Whether this core's exclusive monitor has a granule marked (tests, the TUI). */
  get monitorMarked(): boolean {
    return this.monitors.marked(this.monitorId);
  }

  /** Marks the granule of `va`, which the load just before translated (a TLB hit now). */
  private markVirt(va: number): void {
    const s = this.translate(va, false, false);
    if (s >= 0) this.monitors.mark(this.monitorId, this.tPa[s]! + (va & 0xfff));
  }

  /** This core wrote [pa, pa+len) of RAM: other cores' exclusive monitors on it are cleared. */
  private storeObserved(pa: number, len: number): void {
    this.monitors.written(pa, len, this.monitorId);
  }

  dsb(): void {
    this.charge(this.accessNs);
  }

  isb(): void {
    this.charge(this.accessNs);
  }

  // =====================================================================
  // Exceptions
  // =====================================================================

  setVectors(vbar: number, vectors: ExceptionVectors): void {
    this.vbar = toBig(vbar);
    this.vectors = vectors;
  }

  private noVectors(what: string): Error {
    return new Error(`cpu${this.id}: ${what} with no exception vectors installed (call cpu.setVectors() before enabling faults or IRQs)`);
  }

  /** Saves PSTATE in SPSR_EL1: M[3:0] = EL0t (0) or EL1h (5), DAIF [9:6], PAN [22]. */
  private saveSpsr(): void {
    const m = this.elValue === ExceptionLevel.EL0 ? 0 : 5;
    this.spsrN = m | this.daif | (this.pan ? PAN_BIT : 0);
    this.spsrBig = undefined;
  }

  /** Exception entry to EL1 (D1.3.1): SPSR, PSTATE.DAIF all masked, PAN set unless SCTLR.SPAN. */
  private enterEl1(): void {
    this.saveSpsr();
    this.elValue = ExceptionLevel.EL1;
    this.daif = DAIF_ALL;
    if (this.spanClear) this.pan = true;
    this.updateMasks();
  }

  /** Takes a synchronous exception to the vectors; returning is ERET to the same state. */
  private takeSync(esr: number, far: number): void {
    const vectors = this.vectors;
    if (vectors === undefined) throw this.noVectors(`synchronous exception ESR=0x${esr.toString(16)} FAR=0x${far.toString(16)}`);
    const fromEl = this.elValue;
    const daif = this.daif;
    const pan = this.pan;
    this.esr = esr >>> 0;
    // FAR_EL1 stays a Number until software reads it as a 64-bit value.
    this.farVa_ = signedVa(far);
    this.farBig = undefined;
    this.local += this.cost.exceptionNs;
    if (this.trace.on) {
      this.syncClock();
      this.trace.record(TraceKind.Exception, this.initiator, NO_SID, NO_SSID, far, 0, 0, EXCEPTION_SYNC, esr);
    }
    this.enterEl1();
    try {
      vectors.sync(this, fromEl, this.esr, far < 0 ? far + TWO64 : far);
    } catch (e) {
      // The handler unwinds the interrupted code (the kernel kills the task): stay at EL1.
      this.daif = daif;
      this.pan = pan;
      this.updateMasks();
      throw e;
    }
    this.eret(fromEl, daif, pan);
  }

  private takeIrq(): void {
    const vectors = this.vectors;
    if (vectors === undefined) throw this.noVectors('IRQ');
    this.irqTimes.shift(); // this IRQ's arrival
    const fromEl = this.elValue;
    const daif = this.daif;
    const pan = this.pan;
    this.local += this.cost.exceptionNs;
    if (this.trace.on) {
      this.syncClock();
      this.trace.record(TraceKind.Exception, this.initiator, NO_SID, NO_SSID, 0, 0, 0, EXCEPTION_IRQ, 0);
    }
    this.enterEl1();
    try {
      vectors.irq(this, fromEl);
    } catch (e) {
      this.daif = daif;
      this.pan = pan;
      this.updateMasks();
      throw e;
    }
    this.eret(fromEl, daif, pan);
  }

  private eret(el: ExceptionLevel, daif: number, pan: boolean): void {
    this.exceptionReturned = true;
    // An exception return sets the event register (D1.6.1): a WFE after a handler ran does not sleep.
    this.eventRegister = true;
    this.elValue = el;
    this.daif = daif;
    this.pan = pan;
    this.updateMasks();
    // Unmasking may expose an IRQ that became pending in the handler: take it at the next access.
    // Otherwise the deadline the handler's accesses left stands (events are caught up when due).
    if ((daif & DAIF_I) === 0 && this.gic !== undefined && this.gic.hasPendingIrq()) this.deadline = -Infinity;
  }

  *svc(nr: number, ...args: number[]): Generator<unknown, number, unknown> {
    const vectors = this.vectors;
    if (vectors === undefined) throw this.noVectors(`SVC #0 (nr ${nr})`);
    const fromEl = this.elValue;
    const pan = this.pan;
    this.esr = ((EC.SVC64 << 26) | ESR_IL) >>> 0;
    // The AAPCS64 system-call registers, and the preferred return address past the SVC.
    const regs = this.user;
    for (let i = 0; i < 6; i++) regs.x[i] = args[i] ?? 0;
    regs.x[8] = nr;
    regs.pc += 4;
    this.charge(this.cost.syscallNs);
    if (this.trace.on) this.trace.record(TraceKind.Exception, this.initiator, NO_SID, NO_SSID, 0, 0, 0, EXCEPTION_SVC, this.esr);
    // Entry to EL1 without masking DAIF: Linux's el0_svc unmasks at once, and a
    // blocking system call must not leave the core's interrupts masked.
    this.saveSpsr();
    this.elValue = ExceptionLevel.EL1;
    if (this.spanClear) this.pan = true;
    this.updateMasks();
    const ret = yield* vectors.svc(this, nr, args);
    // The task may have been resumed on another core: return to EL0 on that one.
    const cpu = currentCoreOr(this);
    cpu.elValue = fromEl;
    cpu.pan = pan;
    cpu.updateMasks();
    cpu.eventRegister = true; // ERET (D1.6.1)
    return ret;
  }

  turnEndNs(): number {
    return this.turns.turnEndNs(this);
  }

  *yieldHint(): Generator<unknown, void, unknown> {
    this.charge(this.accessNs);
    const vectors = this.vectors;
    if (vectors?.preempt === undefined) return;
    const fromEl = this.elValue;
    const user = fromEl === ExceptionLevel.EL0;
    if (!this.exceptionReturned && this.local < this.turns.turnEndNs(this)) return;
    this.exceptionReturned = false;
    const pan = this.pan;
    if (user) {
      this.saveSpsr();
      this.elValue = ExceptionLevel.EL1;
      if (this.spanClear) this.pan = true;
      this.updateMasks();
    }
    yield* vectors.preempt(this, fromEl);
    // As after SVC: the task may resume on another core.
    const cpu = currentCoreOr(this);
    if (user) {
      cpu.elValue = fromEl;
      cpu.pan = pan;
      cpu.updateMasks();
    }
  }

  smc(functionId: number, x1: number | bigint = 0, x2?: number | bigint | CoreMain, x3: number | bigint = 0): number {
    this.charge(this.cost.exceptionNs);
    if (this.elValue === ExceptionLevel.EL0) {
      // SMC is UNDEFINED at EL0 (C6.2.283): an Unknown-reason exception.
      this.takeSync((EC.UNKNOWN << 26) | ESR_IL, 0);
      return -1;
    }
    return this.firmware.smc(this, functionId >>> 0, x1, x2, x3);
  }

  // =====================================================================
  // System registers
  // =====================================================================

  readSysreg(name: SysRegName): bigint {
    switch (name) {
      case 'SCTLR_EL1':
        return this.sctlr;
      case 'TCR_EL1':
        return this.tcr;
      case 'TTBR0_EL1':
        return this.ttbr0;
      case 'TTBR1_EL1':
        return this.ttbr1;
      case 'MAIR_EL1':
        return this.mair;
      case 'CONTEXTIDR_EL1':
        return this.contextidr;
      case 'ESR_EL1':
        if (this.esrBigOf !== this.esr) {
          this.esrBig = BigInt(this.esr);
          this.esrBigOf = this.esr;
        }
        return this.esrBig;
      case 'FAR_EL1':
        return (this.farBig ??= toBig(this.farVa_));
      case 'ELR_EL1':
        return this.elr;
      case 'SPSR_EL1':
        return (this.spsrBig ??= BigInt(this.spsrN));
      case 'VBAR_EL1':
        return this.vbar;
      case 'TPIDR_EL1':
        return this.tpidrEl1;
      case 'TPIDR_EL0':
        return this.tpidrEl0;
      case 'DAIF':
        return BigInt(this.daif);
      case 'PAN':
        return this.pan ? BigInt(PAN_BIT) : 0n;
      case 'CurrentEL':
        return BigInt(this.elValue << 2);
      case 'ID_AA64MMFR0_EL1':
        return ID_AA64MMFR0;
      case 'ID_AA64MMFR1_EL1':
        return ID_AA64MMFR1;
      case 'ID_AA64MMFR2_EL1':
        return ID_AA64MMFR2;
      case 'ID_AA64PFR0_EL1':
        return ID_AA64PFR0;
      case 'ID_AA64ISAR0_EL1':
        return ID_AA64ISAR0;
      case 'MIDR_EL1':
        return MIDR_TSV110;
      case 'MPIDR_EL1':
        return mpidrFor(this.id);
      case 'CNTFRQ_EL0':
        return BigInt(CNTFRQ_HZ);
      case 'CNTVCT_EL0':
        return VirtualTimer.count(this.local);
      case 'CNTV_CTL_EL0':
        return BigInt(this.timer.readCtl(this.local));
      case 'CNTV_CVAL_EL0':
        return this.timer.readCval();
      default:
        return this.readIcc(name);
    }
  }

  writeSysreg(name: SysRegName, value: bigint | number): void {
    const v = toBig(value);
    switch (name) {
      case 'SCTLR_EL1':
        this.sctlr = v;
        this.updateRegime();
        return;
      case 'TCR_EL1':
        this.tcr = v;
        this.updateRegime();
        return;
      case 'TTBR0_EL1':
        this.ttbr0 = v;
        this.updateRegime();
        return;
      case 'TTBR1_EL1':
        this.ttbr1 = v;
        this.updateRegime();
        return;
      case 'MAIR_EL1':
        this.mair = v;
        return;
      case 'CONTEXTIDR_EL1':
        this.contextidr = v & 0xffff_ffffn;
        return;
      case 'ESR_EL1':
        this.esr = Number(v & 0xffff_ffffn);
        return;
      case 'FAR_EL1':
        this.farBig = v;
        this.farVa_ = vaFromBig(v);
        return;
      case 'ELR_EL1':
        this.elr = v;
        return;
      case 'SPSR_EL1':
        this.spsrBig = v;
        return;
      case 'VBAR_EL1':
        this.vbar = v & ~0x7ffn;
        return;
      case 'TPIDR_EL1':
        this.tpidrEl1 = v;
        return;
      case 'TPIDR_EL0':
        this.tpidrEl0 = v;
        return;
      case 'DAIF':
        this.daif = Number(v) & DAIF_ALL;
        this.deadline = -Infinity;
        return;
      case 'PAN':
        this.pan = (Number(v & 0xffff_ffffn) & PAN_BIT) !== 0;
        this.updateMasks();
        return;
      case 'CNTV_CTL_EL0':
        this.syncClock();
        this.timer.writeCtl(Number(v & 3n), this.local);
        this.deadline = -Infinity;
        return;
      case 'CNTV_CVAL_EL0':
        this.syncClock();
        this.timer.writeCval(v, this.local);
        this.deadline = -Infinity;
        return;
      case 'CurrentEL':
      case 'ID_AA64MMFR0_EL1':
      case 'ID_AA64MMFR1_EL1':
      case 'ID_AA64MMFR2_EL1':
      case 'ID_AA64PFR0_EL1':
      case 'ID_AA64ISAR0_EL1':
      case 'MIDR_EL1':
      case 'MPIDR_EL1':
      case 'CNTFRQ_EL0': // written by firmware at EL3 only
      case 'CNTVCT_EL0':
        return; // read-only: the write is ignored
      default:
        this.writeIcc(name, v);
    }
  }

  private readIcc(name: IccRegName): bigint {
    if (this.gic === undefined) return 0n;
    this.syncClock();
    const v = this.gic.readSysreg(name);
    this.deadline = -Infinity;
    return v;
  }

  private writeIcc(name: IccRegName, v: bigint): void {
    if (this.gic === undefined) return;
    this.syncClock();
    this.gic.writeSysreg(name, v);
    this.deadline = -Infinity;
  }

  /** Decodes SCTLR/TCR/TTBRn into the walk configs and TLB tags. No TLB flush (D8.16: software must TLBI). */
  private updateRegime(): void {
    const sctlr = this.sctlr;
    const tcr = this.tcr;
    this.mmuOn = field64(sctlr, SCTLR.M) === 1;
    this.spanClear = field64(sctlr, SCTLR.SPAN) === 0;
    const oas = ipsBits(field64(tcr, TCR.IPS));
    const c0 = this.cfg[0];
    c0.granuleShift = tg0GranuleShift(field64(tcr, TCR.TG0));
    c0.tsz = field64(tcr, TCR.T0SZ);
    c0.ttb = Number(this.ttbr0 & 0xffff_ffff_fffen);
    c0.oasBits = oas;
    const c1 = this.cfg[1];
    c1.granuleShift = tg1GranuleShift(field64(tcr, TCR.TG1));
    c1.tsz = field64(tcr, TCR.T1SZ);
    c1.ttb = Number(this.ttbr1 & 0xffff_ffff_fffen);
    c1.oasBits = oas;
    this.fastWalk0.configure(c0);
    this.fastWalk1.configure(c1);
    this.span[0] = POW2[64 - clampTsz(c0.tsz)]!;
    this.span[1] = POW2[64 - clampTsz(c1.tsz)]!;
    this.epd[0] = field64(tcr, TCR.EPD0) === 1;
    this.epd[1] = field64(tcr, TCR.EPD1) === 1;
    this.fastSpan0 = this.epd[0] ? 0 : this.span[0]!;
    this.fastSpan1 = this.epd[1] ? 0 : this.span[1]!;
    this.tbi[0] = field64(tcr, TCR.TBI0) === 1;
    this.tbi[1] = field64(tcr, TCR.TBI1) === 1;
    // TCR.A1 selects the TTBR that holds the ASID; TCR.AS=0 uses 8-bit ASIDs.
    const asid = field64(field64(tcr, TCR.A1) === 1 ? this.ttbr1 : this.ttbr0, TTBR.ASID);
    this.asid = field64(tcr, TCR.AS) === 1 ? asid : asid & 0xff;
    this.asidTag = this.mmuOn ? this.asid : CTX_FLAT;
    this.globalTag = this.mmuOn ? CTX_GLOBAL : CTX_FLAT;
    this.tlb.setContext(this.asidTag, this.globalTag);
    this.updateMasks();
  }

  private updateMasks(): void {
    this.dropPageCaches();
    if (this.elValue === ExceptionLevel.EL0) {
      this.rdMask = P_R0;
      this.wrMask = P_W0;
    } else if (this.pan) {
      this.rdMask = P_R1PAN;
      this.wrMask = P_W1PAN;
    } else {
      this.rdMask = P_R1;
      this.wrMask = P_W1;
    }
  }

  // =====================================================================
  // TLB maintenance
  // =====================================================================

  tlbi(op: TlbiOp, arg: bigint | number = 0): void {
    const v = toBig(arg);
    const lo = Number(v & 0xffff_ffffn);
    const hi = Number(v >> 32n);
    this.charge(this.accessNs);
    if (op === 'VMALLE1') this.tlbiLocal(op, lo, hi);
    else this.firmware.broadcastTlbi(op, lo, hi);
  }

  /** Performs a TLB maintenance operation on this core's TLB (the target of a broadcast). */
  tlbiLocal(op: TlbiOp, lo: number, hi: number): void {
    const tlb = this.tlb;
    const asidField = (hi >>> 16) & 0xffff;
    const asid = field64(this.tcr, TCR.AS) === 1 ? asidField : asidField & 0xff;
    let va = 0;
    let pages = 0;
    switch (op) {
      case 'VMALLE1IS':
      case 'VMALLE1':
        tlb.invalidateAll();
        this.flushWalkCaches();
        break;
      case 'ASIDE1IS':
        tlb.invalidateAsid(asid);
        this.flushWalkCaches(); // the walk caches hold the current regime's tables only: all of them may be this ASID's
        break;
      case 'VAE1IS':
      case 'VALE1IS':
      case 'VAAE1IS':
      case 'VAALE1IS': {
        // Xt: ASID [63:48], VA[55:12] in [43:0]; the VA is sign-extended from bit 55.
        const page = (hi & 0xfff) * TWO32 + (lo >>> 0);
        va = page * PAGE_SIZE;
        if (va >= TWO55) va -= 2 * TWO55;
        pages = 1;
        tlb.invalidateVa(va, op === 'VAAE1IS' || op === 'VAALE1IS' ? ANY_ASID : asid);
        // The last-level forms need not reach the walk caches (D8.17.3); the others do (any ASID: conservative).
        if (op === 'VAE1IS' || op === 'VAAE1IS') this.invalidateWalkCaches(va, PAGE_SIZE);
        break;
      }
      case 'RVAE1IS':
      case 'RVALE1IS':
      case 'RVAAE1IS': {
        const r = decodeRangeOperand(lo, hi, this.range);
        if (!r.valid) break; // TG reserved: nothing is invalidated
        va = r.base;
        pages = r.bytes / PAGE_SIZE;
        tlb.invalidateRange(r.base, r.bytes, op === 'RVAAE1IS' ? ANY_ASID : asid);
        if (op !== 'RVALE1IS') this.invalidateWalkCaches(r.base, r.bytes);
        break;
      }
      default:
        throw new Error(`cpu${this.id}: unknown TLBI operation "${String(op)}" (known: ${TLBI_OPS.join(', ')})`);
    }
    if (this.trace.on) this.trace.record(TraceKind.TlbInvalidate, this.initiator, NO_SID, NO_SSID, va, 0, pages, asidField, TLBI_OPS.indexOf(op));
  }

  /** Empties the walk caches of both TTBR regions. */
  private flushWalkCaches(): void {
    this.fastWalk0.flushWalkCache();
    this.fastWalk1.flushWalkCache();
  }

  /** Drops the walk-cache entries used to translate VAs in [va, va + bytes) (`va` signed: TTBR1 addresses are negative). */
  private invalidateWalkCaches(va: number, bytes: number): void {
    this.fastWalk0.invalidateWalkCache(va, bytes);
    this.fastWalk1.invalidateWalkCache(va + this.span[1]!, bytes);
  }

  // =====================================================================
  // Translation (slow path)
  // =====================================================================

  /**
   * Finds or makes a TLB entry that allows the access; returns its set, or -1 with the
   * fault in faultDfsc/faultVa when the translation faults.
   */
  private translate(va: number, write: boolean, unpriv: boolean): number {
    va = signedVa(va);
    const need = unpriv ? (write ? P_W0 : P_R0) : write ? this.wrMask : this.rdMask;
    const vpn = Math.floor(va * PAGE_RECIPROCAL);
    const s = vpn & TLB_MASK;
    if (this.tVpn[s] === vpn) {
      const c = this.tCtx[s];
      const p = this.tPerm[s]!;
      if ((c === this.asidTag || c === this.globalTag) && ((p | (p >>> P_MMIO_SHIFT)) & need) !== 0) return s;
    }
    // The common case in one pass (also the retry after a fault handler mapped the page),
    // unless the access's hot path has just tried it for this VA.
    if (va === this.declinedVa) {
      this.declinedVa = NaN;
    } else {
      const fast = this.refill(va, need);
      if (fast >= 0) return fast;
      if (fast === REFILL_FAULT) {
        this.refillFault(va, need);
        return -1;
      }
    }
    this.faultVa = va;
    this.faultWrite = write;
    if (this.trace.on) {
      this.syncClock();
      this.trace.record(TraceKind.TlbMiss, this.initiator, NO_SID, NO_SSID, va, 0, 0, 0, this.asid);
    }
    if (!this.mmuOn) {
      // D8.2.10: stage 1 disabled is a flat map; an address beyond PA size is an Address size fault at level 0.
      if (va < 0 || va >= 2 ** PA_BITS) return this.fail(FSC.ADDRESS_SIZE);
      return this.tlb.fill(vpn, CTX_FLAT, P_ALL, vpn * PAGE_SIZE, 12);
    }
    // D8.2.5: bit 55 selects TTBR0/TTBR1; with TBI the top byte is ignored.
    const region = vaRegion(va);
    const v = this.tbi[region] && !isSignExtended(va) ? withoutTopByte(va) : va;
    const span = this.span[region]!;
    const input = region === 0 ? v : v + span;
    // AArch64.S1Translate: out of the region's range, or walks disabled by EPDn: translation fault, level 0.
    if (!(input >= 0 && input < span) || this.epd[region]) return this.fail(FSC.TRANSLATION);
    const out = this.walkOut;
    walk(this.reader, this.cfg[region]!, input, out, this.ram);
    this.local += out.reads * this.walkStepNs;
    if (this.trace.on) {
      this.syncClock();
      this.trace.record(TraceKind.Walk, this.initiator, NO_SID, NO_SSID, va, out.pa, out.reads, 0, out.level | (out.fault << 8));
    }
    if (out.fault !== WalkFault.None) return this.fail(faultStatus(out.fault, out.level));
    const perm = S1_DATA_PERMISSIONS[out.ap]!;
    const pagePa = out.pa - (out.pa & 0xfff);
    const ctx = out.ng ? this.asid : CTX_GLOBAL;
    // A tagged address (TBI) goes to the scratch slot: invalidation by VA could not find it in a set.
    const set = v === va ? this.tlb.fill(vpn, ctx, perm, pagePa, out.sizeShift) : this.tlb.fillScratch(ctx, perm, pagePa);
    if ((perm & need) === 0) return this.fail(FSC.PERMISSION + out.level);
    return set;
  }

  /**
   * The refill fast path of a load or store by the current EL that missed the TLB: the
   * MMU on, a VA inside TTBR0's or TTBR1's range (so TBI cannot change it), a 4 KiB
   * granule walk through RAM-resident tables to a RAM page that allows the access.
   * Does what translate does for such a miss (trace records, walk time, TLB fill) and
   * returns the set. A walk that reads an invalid descriptor in RAM is a translation
   * fault: REFILL_FAULT, the caller records it with refillFault. Returns -1, having
   * done nothing, for anything else (a hit translate would take as it is, other faults,
   * MMIO, another granule...).
   */
  private refill(va: number, need: number): number {
    if (!this.mmuOn || !this.fastRefill) return -1;
    const vpn = Math.floor(va * PAGE_RECIPROCAL);
    const s = vpn & TLB_MASK;
    if (this.tVpn[s] === vpn) {
      const c = this.tCtx[s];
      const p = this.tPerm[s]!;
      if ((c === this.asidTag || c === this.globalTag) && ((p | (p >>> P_MMIO_SHIFT)) & need) !== 0) return -1;
    }
    const out = this.walkOut;
    let done: boolean;
    if (va >= 0) {
      if (!(va < this.fastSpan0)) return -1;
      done = this.fastWalk0.walk(va, out);
    } else {
      const span = this.fastSpan1;
      if (!(va >= -span)) return -1;
      done = this.fastWalk1.walk(va + span, out);
    }
    if (!done) return out.fault === WalkFault.None ? -1 : REFILL_FAULT;
    const perm = S1_DATA_PERMISSIONS[out.ap]!;
    const pagePa = out.pa - (out.pa & 0xfff);
    const off = pagePa - this.ram.base;
    if ((perm & need) === 0 || !(off >= 0 && off + PAGE_SIZE <= this.ram.size)) return -1;
    if (this.trace.on) {
      this.syncClock();
      this.trace.record(TraceKind.TlbMiss, this.initiator, NO_SID, NO_SSID, va, 0, 0, 0, this.asid);
      this.local += out.reads * this.walkStepNs;
      this.syncClock();
      this.trace.record(TraceKind.Walk, this.initiator, NO_SID, NO_SSID, va, out.pa, out.reads, 0, out.level);
    } else {
      this.local += out.reads * this.walkStepNs;
    }
    this.dropPageCaches();
    return this.tlb.fillRam(vpn, out.ng ? this.asid : CTX_GLOBAL, perm, off, out.sizeShift);
  }

  /**
   * The refill walk read an invalid descriptor (walkOut says where): what translate does
   * for that walk (trace records, walk time, the translation fault), without walking again.
   */
  private refillFault(va: number, need: number): void {
    const out = this.walkOut;
    this.faultVa = va;
    this.faultWrite = (need & (P_W0 | P_W1 | P_W1PAN)) !== 0;
    if (this.trace.on) {
      this.syncClock();
      this.trace.record(TraceKind.TlbMiss, this.initiator, NO_SID, NO_SSID, va, 0, 0, 0, this.asid);
      this.local += out.reads * this.walkStepNs;
      this.syncClock();
      this.trace.record(TraceKind.Walk, this.initiator, NO_SID, NO_SSID, va, 0, out.reads, 0, out.level | (WalkFault.Translation << 8));
    } else {
      this.local += out.reads * this.walkStepNs;
    }
    this.fail(FSC.TRANSLATION + out.level);
  }

  /** A load or store whose fast refill declined goes to its slow path, which then skips the refill. */
  private declineRefill(va: number): false {
    this.declinedVa = va;
    return false;
  }

  /**
   * The fast refill for an access by the current EL that needs `need`; a translation fault
   * its walk finds is taken here and the refill retried after the vector returns, as the slow
   * path would (same records, time and syndrome), so the common demand fault stays on this path.
   * Returns the set, or -1 when the refill declines.
   */
  private refillTakingFaults(va: number, need: number, write: boolean): number {
    let s = this.refill(va, need);
    for (let attempt = 0; s === REFILL_FAULT; attempt++) {
      this.refillFault(va, need);
      this.retryGuard(attempt, va);
      this.takeSync(dataAbortEsr(this.elValue, write, this.faultDfsc), this.faultVa);
      s = this.refill(va, need);
    }
    return s;
  }

  /** Refills the TLB for a load at `va` by the fast path (taking its faults) and makes the page the last read page. */
  private refillRead(va: number): boolean {
    const s = this.refillTakingFaults(va, this.rdMask, false);
    if (s < 0) return this.declineRefill(va);
    this.setReadPage(va - (va & 0xfff), s);
    return true;
  }

  /** As refillRead, for a store. */
  private refillWrite(va: number): boolean {
    const s = this.refillTakingFaults(va, this.wrMask, true);
    if (s < 0) return this.declineRefill(va);
    this.setWritePage(va - (va & 0xfff), s);
    return true;
  }

  private fail(dfsc: number): number {
    this.faultDfsc = dfsc;
    if (this.trace.on) this.trace.record(TraceKind.Fault, this.initiator, NO_SID, NO_SSID, this.faultVa, 0, 0, this.faultWrite ? 1 : 0, dfsc);
    return -1;
  }

  /** Translates, taking faults to the vectors and retrying until the access is allowed. */
  private resolve(va: number, write: boolean): number {
    for (let attempt = 0; ; attempt++) {
      const s = this.translate(va, write, false);
      if (s >= 0) return s;
      this.retryGuard(attempt, va);
      this.takeSync(dataAbortEsr(this.elValue, write, this.faultDfsc), this.faultVa);
    }
  }

  private retryGuard(attempt: number, va: number): void {
    if (attempt >= MAX_RETRIES) {
      throw new Error(
        `cpu${this.id}: the access at VA 0x${va.toString(16)} faulted ${MAX_RETRIES} times in a row; the sync vector returned without resolving it (ESR=0x${this.esr.toString(16)})`,
      );
    }
  }

  private dropPageCaches(): void {
    this.rdPage = NaN;
    this.wrPage = NaN;
  }

  /** The set whose TLB entry allows a load at `va` at the current EL (it becomes the last read page), or -1. */
  private readHit(va: number): number {
    const vpn = Math.floor(va * PAGE_RECIPROCAL);
    const s = vpn & TLB_MASK;
    if (this.tVpn[s] !== vpn || (this.tActive[s]! & this.rdMask) === 0) return -1;
    this.setReadPage(vpn * PAGE_SIZE, s);
    return s;
  }

  /** Makes TLB slot `s` (mapping the page at `page`) the last read page. */
  private setReadPage(page: number, s: number): void {
    this.rdPage = page;
    this.rdWords = this.tWords[s]!;
    this.rdBytes = this.tBytes[s]!;
    this.rdOff = this.tOff[s]!;
  }

  /** As readHit, for a store. */
  private writeHit(va: number): number {
    const vpn = Math.floor(va * PAGE_RECIPROCAL);
    const s = vpn & TLB_MASK;
    if (this.tVpn[s] !== vpn || (this.tActive[s]! & this.wrMask) === 0) return -1;
    this.setWritePage(vpn * PAGE_SIZE, s);
    return s;
  }

  /** Makes TLB slot `s` (mapping the page at `page`) the last written page. */
  private setWritePage(page: number, s: number): void {
    this.wrPage = page;
    this.wrWords = this.tWords[s]!;
    this.wrBytes = this.tBytes[s]!;
    this.wrOff = this.tOff[s]!;
    this.wrPa = this.tPa[s]!;
  }

  private isRamEntry(s: number): boolean {
    return (this.tPerm[s]! & P_ALL) !== 0;
  }

  // =====================================================================
  // Virtual accesses (hot path first)
  // =====================================================================

  // Each access charges its time, lets hardware catch up at an event boundary, then
  // tries the last page of its kind (one compare), then the TLB, then the slow path.

  ld8(va: number): number {
    const t = this.local + this.accessNs;
    this.local = t;
    if (t >= this.deadline) this.tick();
    const o = va & 0xfff;
    if (va - o === this.rdPage) return this.rdBytes[this.rdOff + o]!;
    return this.readHit(va) >= 0 || this.refillRead(va) ? this.rdBytes[this.rdOff + o]! : this.loadSlow(va, 1);
  }

  ld16(va: number): number {
    const t = this.local + this.accessNs;
    this.local = t;
    if (t >= this.deadline) this.tick();
    const o = va & 0xfff;
    if ((o & 1) === 0 && (va - o === this.rdPage || this.readHit(va) >= 0 || this.refillRead(va))) {
      const b = this.rdBytes;
      const i = this.rdOff + o;
      return b[i]! | (b[i + 1]! << 8);
    }
    return this.loadSlow(va, 2);
  }

  ld32(va: number): number {
    const t = this.local + this.accessNs;
    this.local = t;
    if (t >= this.deadline) this.tick();
    const o = va & 0xfff;
    if (va - o === this.rdPage && (o & 3) === 0) return this.rdWords[(this.rdOff + o) >>> 2]!;
    return this.ld32Miss(va, o);
  }

  /** ld32 past the last read page: the TLB, then the slow path. */
  private ld32Miss(va: number, o: number): number {
    if ((o & 3) === 0 && (this.readHit(va) >= 0 || this.refillRead(va))) return this.rdWords[(this.rdOff + o) >>> 2]!;
    return this.loadSlow(va, 4);
  }

  ld64(va: number): number {
    const lo = this.ld64lo(va);
    return this.hi32 * TWO32 + lo;
  }

  ld64n(va: number): bigint {
    const lo = this.ld64lo(va);
    return (BigInt(this.hi32) << 32n) | BigInt(lo);
  }

  private ld64lo(va: number): number {
    const t = this.local + this.accessNs;
    this.local = t;
    if (t >= this.deadline) this.tick();
    const o = va & 0xfff;
    if ((o & 7) === 0 && (va - o === this.rdPage || this.readHit(va) >= 0 || this.refillRead(va))) {
      const w = this.rdWords;
      const i = (this.rdOff + o) >>> 2;
      this.hi32 = w[i + 1]!;
      return w[i]!;
    }
    return this.loadSlow(va, 8);
  }

  st8(va: number, v: number): void {
    const t = this.local + this.accessNs;
    this.local = t;
    if (t >= this.deadline) this.tick();
    const o = va & 0xfff;
    if (va - o === this.wrPage || this.writeHit(va) >= 0 || this.refillWrite(va)) {
      this.wrBytes[this.wrOff + o] = v;
      if (this.monitors.armed !== 0) this.storeObserved(this.wrPa + o, 1);
      return;
    }
    this.storeSlow(va, 1, v, 0);
  }

  st16(va: number, v: number): void {
    const t = this.local + this.accessNs;
    this.local = t;
    if (t >= this.deadline) this.tick();
    const o = va & 0xfff;
    if ((o & 1) === 0 && (va - o === this.wrPage || this.writeHit(va) >= 0 || this.refillWrite(va))) {
      const b = this.wrBytes;
      const i = this.wrOff + o;
      b[i] = v;
      b[i + 1] = v >>> 8;
      if (this.monitors.armed !== 0) this.storeObserved(this.wrPa + o, 2);
      return;
    }
    this.storeSlow(va, 2, v, 0);
  }

  st32(va: number, v: number): void {
    const t = this.local + this.accessNs;
    this.local = t;
    if (t >= this.deadline) this.tick();
    const o = va & 0xfff;
    if ((o & 3) === 0 && (va - o === this.wrPage || this.writeHit(va) >= 0 || this.refillWrite(va))) {
      this.wrWords[(this.wrOff + o) >>> 2] = v;
      if (this.monitors.armed !== 0) this.storeObserved(this.wrPa + o, 4);
      return;
    }
    this.storeSlow(va, 4, v, 0);
  }

  st64(va: number, v: number | bigint): void {
    let lo: number;
    let hi: number;
    if (typeof v === 'bigint') {
      const u = BigInt.asUintN(64, v);
      lo = Number(u & 0xffff_ffffn);
      hi = Number(u >> 32n);
    } else {
      lo = v >>> 0;
      hi = Math.floor(v / TWO32) >>> 0;
    }
    const t = this.local + this.accessNs;
    this.local = t;
    if (t >= this.deadline) this.tick();
    const o = va & 0xfff;
    if ((o & 7) === 0 && (va - o === this.wrPage || this.writeHit(va) >= 0 || this.refillWrite(va))) {
      const w = this.wrWords;
      const i = (this.wrOff + o) >>> 2;
      w[i] = lo;
      w[i + 1] = hi;
      if (this.monitors.armed !== 0) this.storeObserved(this.wrPa + o, 8);
      return;
    }
    this.storeSlow(va, 8, lo, hi);
  }

  /** Loads `size` bytes at `va` through the slow path; returns the low 32 bits, high half in hi32. */
  private loadSlow(va: number, size: number): number {
    const pageOff = va & 0xfff;
    if (pageOff + size > PAGE_SIZE) return this.loadSplit(va, size);
    for (let attempt = 0; ; attempt++) {
      const s = this.resolve(va, false);
      if (this.isRamEntry(s)) {
        const o = this.tOff[s]! + pageOff;
        if ((o & (size - 1)) === 0 && size >= 4) {
          const w = this.tWords[s]!;
          if (size === 8) this.hi32 = w[(o >>> 2) + 1]!;
          return w[o >>> 2]!;
        }
        const b = this.tBytes[s]!;
        if (size === 1) return b[o]!;
        if (size === 2) return b[o]! | (b[o + 1]! << 8);
        const lo = (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
        if (size === 8) this.hi32 = (b[o + 4]! | (b[o + 5]! << 8) | (b[o + 6]! << 16) | (b[o + 7]! << 24)) >>> 0;
        return lo;
      }
      // Device memory: unaligned accesses take an Alignment fault (B2.5.2).
      let dfsc: number = FSC.ALIGNMENT;
      if ((pageOff & (size - 1)) === 0) {
        const lo = this.mmioLoad(this.tPa[s]! + pageOff, size);
        if (!this.bus.error) return lo;
        dfsc = FSC.SYNC_EXTERNAL;
      }
      this.retryGuard(attempt, va);
      this.takeSync(dataAbortEsr(this.elValue, false, dfsc), va);
    }
  }

  private loadSplit(va: number, size: number): number {
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < size; i++) {
      const b = this.loadSlow(va + i, 1);
      if (i < 4) lo |= b << (8 * i);
      else hi |= b << (8 * (i - 4));
    }
    this.hi32 = hi >>> 0;
    return lo >>> 0;
  }

  private storeSlow(va: number, size: number, lo: number, hi: number): void {
    const pageOff = va & 0xfff;
    if (pageOff + size > PAGE_SIZE) {
      for (let i = 0; i < size; i++) this.storeSlow(va + i, 1, i < 4 ? lo >>> (8 * i) : hi >>> (8 * (i - 4)), 0);
      return;
    }
    for (let attempt = 0; ; attempt++) {
      const s = this.resolve(va, true);
      if (this.isRamEntry(s)) {
        if (this.monitors.armed !== 0) this.storeObserved(this.tPa[s]! + pageOff, size);
        const o = this.tOff[s]! + pageOff;
        if (size >= 4 && (o & (size - 1)) === 0) {
          const w = this.tWords[s]!;
          w[o >>> 2] = lo;
          if (size === 8) w[(o >>> 2) + 1] = hi;
          return;
        }
        const b = this.tBytes[s]!;
        for (let i = 0; i < size; i++) b[o + i] = i < 4 ? lo >>> (8 * i) : hi >>> (8 * (i - 4));
        return;
      }
      let dfsc: number = FSC.ALIGNMENT;
      if ((pageOff & (size - 1)) === 0) {
        this.mmioStore(this.tPa[s]! + pageOff, size, lo, hi);
        if (!this.bus.error) return;
        dfsc = FSC.SYNC_EXTERNAL;
      }
      this.retryGuard(attempt, va);
      this.takeSync(dataAbortEsr(this.elValue, true, dfsc), va);
    }
  }

  private mmioLoad(pa: number, size: number): number {
    this.local += this.cost.mmioNs;
    this.syncClock();
    const lo = this.bus.load(pa, size as 1 | 2 | 4 | 8, this.initiator);
    this.hi32 = this.bus.hi;
    this.deadline = -Infinity;
    return lo;
  }

  private mmioStore(pa: number, size: number, lo: number, hi: number): void {
    this.local += this.cost.mmioNs;
    this.syncClock();
    this.bus.store(pa, size as 1 | 2 | 4 | 8, lo, hi, this.initiator);
    this.deadline = -Infinity;
  }

  // ---- bulk virtual copies ----

  readVirt(va: number, dst: Uint8Array, dstOff = 0, len = dst.length - dstOff): void {
    this.copyVirt(va, dst, dstOff, len, false);
  }

  writeVirt(va: number, src: Uint8Array, srcOff = 0, len = src.length - srcOff): void {
    this.copyVirt(va, src, srcOff, len, true);
  }

  /** Page-by-page copy; charges one access per 8 bytes (64-bit loads/stores). */
  private copyVirt(va: number, buf: Uint8Array, off: number, len: number, write: boolean): void {
    this.charge(Math.ceil(len / 8) * this.accessNs);
    let done = 0;
    while (done < len) {
      const a = va + done;
      const pageOff = a & 0xfff;
      const n = Math.min(len - done, PAGE_SIZE - pageOff);
      for (let attempt = 0; ; attempt++) {
        const s = this.resolve(a, write);
        const pa = this.tPa[s]! + pageOff;
        if (this.isRamEntry(s)) {
          const b = this.tBytes[s]!;
          const o = this.tOff[s]! + pageOff;
          if (write) {
            b.set(buf.subarray(off + done, off + done + n), o);
            if (this.monitors.armed !== 0) this.storeObserved(pa, n);
          } else buf.set(b.subarray(o, o + n), off + done);
          break;
        }
        this.local += this.cost.mmioNs;
        this.syncClock();
        const ok = write ? this.bus.writeFrom(pa, buf, off + done, n, this.initiator) : this.bus.readInto(pa, buf, off + done, n, this.initiator);
        this.deadline = -Infinity;
        if (ok) break;
        this.retryGuard(attempt, a);
        this.takeSync(dataAbortEsr(this.elValue, write, FSC.SYNC_EXTERNAL), a);
      }
      done += n;
    }
  }

  tryReadVirt(va: number, dst: Uint8Array, dstOff: number, len: number, opts?: VirtAccessOptions): AccessFault | undefined {
    return this.tryCopy(va, dst, dstOff, len, false, opts?.unprivileged === true);
  }

  tryWriteVirt(va: number, src: Uint8Array, srcOff: number, len: number, opts?: VirtAccessOptions): AccessFault | undefined {
    return this.tryCopy(va, src, srcOff, len, true, opts?.unprivileged === true);
  }

  private tryCopy(va: number, buf: Uint8Array, off: number, len: number, write: boolean, unpriv: boolean): AccessFault | undefined {
    this.charge(Math.ceil(len / 8) * this.accessNs);
    let done = 0;
    while (done < len) {
      const a = va + done;
      const pageOff = a & 0xfff;
      const n = Math.min(len - done, PAGE_SIZE - pageOff);
      const s = this.translate(a, write, unpriv);
      if (s < 0) return { esr: dataAbortEsr(this.elValue, write, this.faultDfsc), far: a };
      if (this.isRamEntry(s)) {
        const b = this.tBytes[s]!;
        const o = this.tOff[s]! + pageOff;
        if (write) {
          b.set(buf.subarray(off + done, off + done + n), o);
          if (this.monitors.armed !== 0) this.storeObserved(this.tPa[s]! + pageOff, n);
        } else buf.set(b.subarray(o, o + n), off + done);
      } else {
        this.local += this.cost.mmioNs;
        this.syncClock();
        const pa = this.tPa[s]! + pageOff;
        const ok = write ? this.bus.writeFrom(pa, buf, off + done, n, this.initiator) : this.bus.readInto(pa, buf, off + done, n, this.initiator);
        this.deadline = -Infinity;
        if (!ok) return { esr: dataAbortEsr(this.elValue, write, FSC.SYNC_EXTERNAL), far: a };
      }
      done += n;
    }
    return undefined;
  }

  at(va: number, opts?: VirtAccessOptions): { pa: number } | AccessFault {
    const write = opts?.write === true;
    this.charge(this.accessNs);
    const s = this.translate(va, write, opts?.unprivileged === true);
    if (s < 0) return { esr: dataAbortEsr(this.elValue, write, this.faultDfsc), far: va };
    return { pa: this.tPa[s]! + (va & 0xfff) };
  }

  // =====================================================================
  // Physical accesses
  // =====================================================================

  ldPhys8(pa: number): number {
    return this.physLoad(pa, 1);
  }

  ldPhys16(pa: number): number {
    return this.physLoad(pa, 2);
  }

  ldPhys32(pa: number): number {
    return this.physLoad(pa, 4);
  }

  ldPhys64(pa: number): number {
    const lo = this.physLoad(pa, 8);
    return this.hi32 * TWO32 + lo;
  }

  ldPhys64n(pa: number): bigint {
    const lo = this.physLoad(pa, 8);
    return (BigInt(this.hi32) << 32n) | BigInt(lo);
  }

  stPhys8(pa: number, v: number): void {
    this.physStore(pa, 1, v, 0);
  }

  stPhys16(pa: number, v: number): void {
    this.physStore(pa, 2, v, 0);
  }

  stPhys32(pa: number, v: number): void {
    this.physStore(pa, 4, v, 0);
  }

  stPhys64(pa: number, v: number | bigint): void {
    if (typeof v === 'bigint') {
      const u = BigInt.asUintN(64, v);
      this.physStore(pa, 8, Number(u & 0xffff_ffffn), Number(u >> 32n));
    } else {
      this.physStore(pa, 8, v >>> 0, Math.floor(v / TWO32) >>> 0);
    }
  }

  /** High half of the last ldPhys64Pair. */
  pairHi = 0;

  ldPhys64Pair(pa: number): number {
    const t = this.local + this.accessNs;
    this.local = t;
    if (t >= this.deadline) this.tick();
    const ram = this.ram;
    const off = pa - ram.base;
    if (off >= 0 && off + 8 <= ram.size && (off & 7) === 0) {
      // An aligned doubleword never straddles chunks: one chunk lookup for both halves (by
      // page number: wordsForRead divides by an exported constant, a real divide).
      const w = ram.wordsOfPage(Math.floor(off * PAGE_RECIPROCAL));
      if (w === undefined) {
        this.pairHi = 0;
        return 0;
      }
      const i = (off & CHUNK_MASK) >>> 2;
      this.pairHi = w[i + 1]!;
      return w[i]!;
    }
    const lo = this.physLoadUncharged(pa, 8);
    this.pairHi = this.hi32;
    return lo;
  }

  stPhys64Pair(pa: number, lo: number, hi: number): void {
    const t = this.local + this.accessNs;
    this.local = t;
    if (t >= this.deadline) this.tick();
    const ram = this.ram;
    const off = pa - ram.base;
    if (off >= 0 && off + 8 <= ram.size && (off & 7) === 0) {
      if (this.monitors.armed !== 0) this.storeObserved(pa, 8);
      const w = ram.wordsOfPage(Math.floor(off * PAGE_RECIPROCAL)) ?? ram.wordsFor(off);
      const i = (off & CHUNK_MASK) >>> 2;
      w[i] = lo;
      w[i + 1] = hi;
      return;
    }
    this.physStoreUncharged(pa, 8, lo >>> 0, hi >>> 0);
  }

  private physLoad(pa: number, size: 1 | 2 | 4 | 8): number {
    const t = this.local + this.accessNs;
    this.local = t;
    if (t >= this.deadline) this.tick();
    return this.physLoadUncharged(pa, size);
  }

  /** physLoad after the access has been charged. */
  private physLoadUncharged(pa: number, size: 1 | 2 | 4 | 8): number {
    const ram = this.ram;
    const off = pa - ram.base;
    if (off >= 0 && off + size <= ram.size) {
      if (size === 8) {
        this.hi32 = ram.read32(off + 4);
        return ram.read32(off);
      }
      return size === 4 ? ram.read32(off) : size === 2 ? ram.read16(off) : ram.read8(off);
    }
    for (let attempt = 0; ; attempt++) {
      const lo = this.mmioLoad(pa, size);
      if (!this.bus.error) return lo;
      this.retryGuard(attempt, pa);
      // A bus error on a physical (linear-map) access: synchronous external abort, FAR = the address.
      this.takeSync(dataAbortEsr(this.elValue, false, FSC.SYNC_EXTERNAL), pa);
    }
  }

  private physStore(pa: number, size: 1 | 2 | 4 | 8, lo: number, hi: number): void {
    const t = this.local + this.accessNs;
    this.local = t;
    if (t >= this.deadline) this.tick();
    this.physStoreUncharged(pa, size, lo, hi);
  }

  /** physStore after the access has been charged. */
  private physStoreUncharged(pa: number, size: 1 | 2 | 4 | 8, lo: number, hi: number): void {
    const ram = this.ram;
    const off = pa - ram.base;
    if (off >= 0 && off + size <= ram.size) {
      if (this.monitors.armed !== 0) this.storeObserved(pa, size);
      if (size === 8) {
        ram.write32(off, lo >>> 0);
        ram.write32(off + 4, hi >>> 0);
      } else if (size === 4) ram.write32(off, lo >>> 0);
      else if (size === 2) ram.write16(off, lo & 0xffff);
      else ram.write8(off, lo & 0xff);
      return;
    }
    for (let attempt = 0; ; attempt++) {
      this.mmioStore(pa, size, lo, hi);
      if (!this.bus.error) return;
      this.retryGuard(attempt, pa);
      this.takeSync(dataAbortEsr(this.elValue, true, FSC.SYNC_EXTERNAL), pa);
    }
  }

  readPhys(pa: number, dst: Uint8Array, dstOff = 0, len = dst.length - dstOff): void {
    this.charge(Math.ceil(len / 8) * this.accessNs);
    for (let attempt = 0; ; attempt++) {
      if (this.bus.isRam(pa, len)) {
        this.ram.readInto(pa - this.ram.base, dst, dstOff, len);
        return;
      }
      this.local += this.cost.mmioNs;
      this.syncClock();
      const ok = this.bus.readInto(pa, dst, dstOff, len, this.initiator);
      this.deadline = -Infinity;
      if (ok) return;
      this.retryGuard(attempt, pa);
      this.takeSync(dataAbortEsr(this.elValue, false, FSC.SYNC_EXTERNAL), this.bus.lastError?.pa ?? pa);
    }
  }

  writePhys(pa: number, src: Uint8Array, srcOff = 0, len = src.length - srcOff): void {
    this.charge(Math.ceil(len / 8) * this.accessNs);
    for (let attempt = 0; ; attempt++) {
      if (this.bus.isRam(pa, len)) {
        if (this.monitors.armed !== 0) this.storeObserved(pa, len);
        this.ram.writeFrom(pa - this.ram.base, src, srcOff, len);
        return;
      }
      this.local += this.cost.mmioNs;
      this.syncClock();
      const ok = this.bus.writeFrom(pa, src, srcOff, len, this.initiator);
      this.deadline = -Infinity;
      if (ok) return;
      this.retryGuard(attempt, pa);
      this.takeSync(dataAbortEsr(this.elValue, true, FSC.SYNC_EXTERNAL), this.bus.lastError?.pa ?? pa);
    }
  }

  /** Charges one access per 64-byte block (DC ZVA). */
  fillPhys(pa: number, value: number, len: number): void {
    this.charge(Math.ceil(len / 64) * this.accessNs);
    const ram = this.ram;
    const off = pa - ram.base;
    if (len === PAGE_SIZE && (off & (PAGE_SIZE - 1)) === 0 && off >= 0 && off + PAGE_SIZE <= ram.size) {
      // A whole RAM page (clear_page): one chunk, filled in place (an untouched chunk already reads as zero).
      if (this.monitors.armed !== 0) this.storeObserved(pa, PAGE_SIZE);
      const c = value & 0xff ? ram.chunkFor(off) : ram.bytesOfPage(off * PAGE_RECIPROCAL);
      if (c !== undefined) {
        const o = off & CHUNK_MASK;
        c.fill(value & 0xff, o, o + PAGE_SIZE);
      }
      return;
    }
    for (let attempt = 0; ; attempt++) {
      if (this.bus.isRam(pa, len)) {
        if (this.monitors.armed !== 0) this.storeObserved(pa, len);
        this.ram.fill(pa - this.ram.base, value & 0xff, len);
        return;
      }
      let ok = true;
      this.local += this.cost.mmioNs;
      this.syncClock();
      for (let i = 0; i < len && ok; i++) {
        this.bus.store(pa + i, 1, value & 0xff, 0, this.initiator);
        ok = !this.bus.error;
      }
      this.deadline = -Infinity;
      if (ok) return;
      this.retryGuard(attempt, pa);
      this.takeSync(dataAbortEsr(this.elValue, true, FSC.SYNC_EXTERNAL), this.bus.lastError?.pa ?? pa);
    }
  }

  /** FAR_EL1 as a signed Number VA (tests, TUI). */
  get farVa(): number {
    return this.farVa_;
  }
}

/** The core running guest code right now, without throwing when none is. */
function setCurrentCpuPeek(): ArchCpu | undefined {
  const cur = setCurrentCpu(undefined);
  setCurrentCpu(cur);
  return cur;
}

function currentCoreOr(fallback: Core): Core {
  const cur = setCurrentCpuPeek();
  return cur instanceof Core ? cur : fallback;
}
