// The GICv3 CPU interface of one PE (IHI 0069 chapter 4 and the ICC_* register descriptions in chapter 12): the ICC_*_EL1
// system registers a core reaches through MRS/MSR. It picks the highest-priority
// pending interrupt forwarded to the PE (SGIs/PPIs of its Redistributor, SPIs routed
// to its affinity, LPIs pending at its Redistributor), masks it with ICC_PMR_EL1 and
// the running priority, and keeps the active-priority state that EOI drops.
//
// Only Group 1 is delivered: with a single Security state Group 0 would be signalled
// as FIQ, which the CPU contract does not have, so Group 0 interrupts stay pending.
// ICC_BPR1_EL1 is fixed at its minimum (every priority bit is group priority), and
// with EOImode == 1 deactivation goes through `deactivate` (ICC_DIR_EL1 is not part
// of the CPU contract yet).

import type { GicCpuInterface, IccRegName } from '../cpu/gic-cpuif.js';
import { TraceKind } from '../../trace/record.js';
import { NO_SID, NO_SSID, type TraceRing } from '../../trace/ring.js';
import { GROUP_PRIORITY_MASK, IDLE_PRIORITY, INTID_SPURIOUS, LPI_BASE, PRIORITY_BITS, PRIORITY_MASK, PRIVATE_INTIDS, ctz32 } from './intid.js';
import { IrqTraceEvent } from './irq-state.js';
import type { Distributor } from './distributor.js';
import type { Redistributor } from './redistributor.js';

/** ICC_CTLR_EL1 fields (IHI 0069, ICC_CTLR_EL1). */
export const ICC_CTLR_CBPR = 1 << 0;
export const ICC_CTLR_EOImode = 1 << 1;
/** PRIbits [10:8] = implemented priority bits - 1; IDbits [13:11] = 0 (16-bit INTIDs). */
const ICC_CTLR_RO = (PRIORITY_BITS - 1) << 8;
/** ICC_SRE_EL1: SRE, DFB, DIB all RAO/WI (system-register interface only). */
const ICC_SRE_VALUE = 0x7n;

export class CpuInterface implements GicCpuInterface {
  onIrqChange: (() => void) | undefined;
  private pmr = 0;
  private igrpen1 = false;
  private ctlr = 0;
  /** Active priorities (ICC_AP1R0_EL1): bit n set = group priority n << 3 is active. */
  private apr = 0;
  private hppiDirty = true;
  private hppiIntid = INTID_SPURIOUS;
  private hppiPriority = 0x100;
  /**
   * Best SPI forwarded to this PE, kept apart so that SGI, PPI and LPI changes do not
   * rescan the Distributor: recomputed after a Distributor change (`notifyDistributor`)
   * or when GICR_CTLR.DPG1NS, which it depends on, differs from `spiDpg1ns`.
   */
  private spiDirty = true;
  private spiDpg1ns = false;
  private spiIntid = INTID_SPURIOUS;
  private spiPriority = 0x100;
  private readonly initiator: number;

  constructor(
    readonly core: number,
    private readonly dist: Distributor,
    private readonly redist: Redistributor,
    /** Every Redistributor of the GIC, for SGI targeting. */
    private readonly allRedists: readonly Redistributor[],
    private readonly trace: TraceRing,
  ) {
    this.initiator = trace.initiatorId(`gic.cpu${core}`);
  }

  /** Called by the GIC when forwarded state of this PE's Redistributor or CPU interface may have changed. */
  notify(): void {
    this.hppiDirty = true;
    if (this.onIrqChange !== undefined && this.hasPendingIrq()) this.onIrqChange();
  }

  /** Called by the GIC when Distributor state (SPIs, GICD_CTLR) may have changed. */
  notifyDistributor(): void {
    this.spiDirty = true;
    this.notify();
  }

  reset(): void {
    this.pmr = 0;
    this.igrpen1 = false;
    this.ctlr = 0;
    this.apr = 0;
    this.hppiDirty = true;
    this.spiDirty = true;
  }

  /** ICC_RPR_EL1: group priority of the highest active interrupt, 0xff when idle. */
  get runningPriority(): number {
    return this.apr === 0 ? IDLE_PRIORITY : ctz32(this.apr) << (8 - PRIORITY_BITS);
  }

  hasPendingIrq(): boolean {
    if (!this.igrpen1) return false;
    this.updateHppi();
    return this.hppiIntid !== INTID_SPURIOUS && this.canSignal(this.hppiPriority);
  }

  readSysreg(name: IccRegName): bigint {
    switch (name) {
      case 'ICC_IAR1_EL1':
        return BigInt(this.acknowledge());
      case 'ICC_HPPIR1_EL1':
        this.updateHppi();
        return BigInt(this.hppiIntid);
      case 'ICC_PMR_EL1':
        return BigInt(this.pmr);
      case 'ICC_IGRPEN1_EL1':
        return this.igrpen1 ? 1n : 0n;
      case 'ICC_SRE_EL1':
        return ICC_SRE_VALUE;
      case 'ICC_CTLR_EL1':
        return BigInt(this.ctlr | ICC_CTLR_RO);
      case 'ICC_RPR_EL1':
        return BigInt(this.runningPriority);
      case 'ICC_EOIR1_EL1':
      case 'ICC_SGI1R_EL1':
        return 0n; // write-only
    }
  }

  writeSysreg(name: IccRegName, value: bigint): void {
    switch (name) {
      case 'ICC_EOIR1_EL1':
        this.endOfInterrupt(Number(value & 0xffffffn));
        return;
      case 'ICC_PMR_EL1':
        this.pmr = Number(value & 0xffn) & PRIORITY_MASK;
        this.notify();
        return;
      case 'ICC_IGRPEN1_EL1':
        this.igrpen1 = (value & 1n) !== 0n;
        this.notify();
        return;
      case 'ICC_CTLR_EL1':
        this.ctlr = Number(value & BigInt(ICC_CTLR_CBPR | ICC_CTLR_EOImode));
        return;
      case 'ICC_SGI1R_EL1':
        this.generateSgi(value);
        return;
      case 'ICC_SRE_EL1':
      case 'ICC_IAR1_EL1':
      case 'ICC_RPR_EL1':
      case 'ICC_HPPIR1_EL1':
        return; // RAO/WI or read-only
    }
  }

  setPpi(intid: number, level: boolean): void {
    if (!Number.isInteger(intid) || intid < 16 || intid > 31) {
      throw new RangeError(`GIC: setPpi takes a PPI INTID 16..31, got ${intid}`);
    }
    this.redist.drivePpi(intid, level);
  }

  /** Deactivates `intid` (what ICC_DIR_EL1 does when EOImode == 1). */
  deactivate(intid: number): void {
    if (intid < PRIVATE_INTIDS) {
      if (!this.redist.bank.isActive(intid)) return;
      this.redist.bank.deactivate(intid);
      this.traceEvent(IrqTraceEvent.Deactivate, intid);
      this.redist.onChange();
    } else if (intid < this.dist.bank.count) {
      if (!this.dist.bank.isActive(intid)) return;
      this.dist.bank.deactivate(intid);
      this.traceEvent(IrqTraceEvent.Deactivate, intid);
      this.dist.onChange();
    }
    // LPIs have no active state (IHI 0069 6.1); 1020-1023 and unimplemented INTIDs: nothing.
  }

  /** Interrupt of priority `prio` can be signalled: above the mask and preempting the running priority. */
  private canSignal(prio: number): boolean {
    return prio < this.pmr && (prio & GROUP_PRIORITY_MASK) < this.runningPriority;
  }

  /**
   * IHI 0069 4.8: highest-priority forwarded Group 1 interrupt; lowest INTID wins a tie
   * (SGIs/PPIs, then SPIs, then LPIs, each taken only at a strictly higher priority).
   */
  private updateHppi(): void {
    if (!this.hppiDirty) return;
    this.hppiDirty = false;
    let best = INTID_SPURIOUS;
    let bestPrio = 0x100;
    const redist = this.redist;
    if (!redist.processorSleep && this.dist.enableGrp1) {
      const rb = redist.bank;
      let c = rb.forwardable(0);
      while (c !== 0) {
        const intid = ctz32(c);
        c &= c - 1;
        const p = rb.priority[intid]!;
        if (p < bestPrio) {
          bestPrio = p;
          best = intid;
        }
      }
      if (this.spiDirty || this.spiDpg1ns !== redist.dpg1ns) this.updateBestSpi();
      if (this.spiPriority < bestPrio) {
        bestPrio = this.spiPriority;
        best = this.spiIntid;
      }
      if (redist.bestLpi() && redist.bestPriority < bestPrio) {
        bestPrio = redist.bestPriority;
        best = redist.bestIntid;
      }
    }
    this.hppiIntid = best;
    this.hppiPriority = bestPrio;
  }

  /** The highest-priority SPI forwardable to this PE (lowest INTID on a tie) into `spiIntid`/`spiPriority`. */
  private updateBestSpi(): void {
    this.spiDirty = false;
    const redist = this.redist;
    const dist = this.dist;
    const dpg1ns = redist.dpg1ns;
    this.spiDpg1ns = dpg1ns;
    let best = INTID_SPURIOUS;
    let bestPrio = 0x100;
    const db = dist.bank;
    const aff = redist.affinity;
    for (let w = 1; w < db.words; w++) {
      let c = db.forwardable(w);
      while (c !== 0) {
        const bit = ctz32(c);
        c &= c - 1;
        const intid = w * 32 + bit;
        const p = db.priority[intid]!;
        if (p >= bestPrio) continue;
        const anyPe = (dist.routeAny[w]! & (1 << bit)) !== 0;
        if (anyPe ? dpg1ns : dist.routeAffinity[intid] !== aff) continue;
        bestPrio = p;
        best = intid;
      }
    }
    this.spiIntid = best;
    this.spiPriority = bestPrio;
  }

  /** ICC_IAR1_EL1 read (IHI 0069, ICC_IAR1_EL1): acknowledge, or 1023 when nothing may be signalled. */
  private acknowledge(): number {
    if (!this.igrpen1) return INTID_SPURIOUS;
    this.updateHppi();
    const intid = this.hppiIntid;
    const prio = this.hppiPriority;
    if (intid === INTID_SPURIOUS || !this.canSignal(prio)) return INTID_SPURIOUS;
    this.apr |= 1 << (prio >>> (8 - PRIORITY_BITS));
    this.hppiDirty = true;
    this.traceEvent(IrqTraceEvent.Acknowledge, intid);
    if (intid < PRIVATE_INTIDS) {
      this.redist.bank.acknowledge(intid);
      this.redist.onChange();
    } else if (intid < LPI_BASE) {
      this.dist.bank.acknowledge(intid);
      this.dist.onChange();
    } else this.redist.clearLpiPending(intid);
    return intid;
  }

  /** ICC_EOIR1_EL1 write (IHI 0069, ICC_EOIR1_EL1): priority drop, and deactivation when EOImode == 0. */
  private endOfInterrupt(intid: number): void {
    if (intid >= 1020 && intid <= 1023) return;
    if (this.apr !== 0) this.apr &= this.apr - 1;
    if ((this.ctlr & ICC_CTLR_EOImode) === 0) this.deactivate(intid);
    this.notify();
  }

  /** ICC_SGI1R_EL1 write (IHI 0069, ICC_SGI1R_EL1): Group 1 SGI to a target list or to every other PE. */
  private generateSgi(v: bigint): void {
    const lo = Number(v & 0xffffffffn);
    const hi = Number((v >> 32n) & 0xffffffffn);
    const targetList = lo & 0xffff;
    const aff1 = (lo >>> 16) & 0xff;
    const intid = (lo >>> 24) & 0xf;
    const aff2 = hi & 0xff;
    const irm = (hi >>> 8) & 1;
    const rs = (hi >>> 12) & 0xf;
    const aff3 = (hi >>> 16) & 0xff;
    for (const r of this.allRedists) {
      if (irm === 1) {
        if (r !== this.redist) r.raiseSgi(intid);
        continue;
      }
      const a = r.affinity;
      if (aff3 !== 0 || ((a >>> 16) & 0xff) !== aff2 || ((a >>> 8) & 0xff) !== aff1) continue;
      const aff0 = a & 0xff;
      if (aff0 >>> 4 === rs && (targetList & (1 << (aff0 & 15))) !== 0) r.raiseSgi(intid);
    }
  }

  private traceEvent(event: IrqTraceEvent, intid: number): void {
    if (this.trace.on) this.trace.record(TraceKind.Irq, this.initiator, NO_SID, NO_SSID, 0, 0, 0, event, intid);
  }
}
