// One GICv3 Redistributor (IHI 0069 12.10): the RD_base frame (control, LPI
// tables, power handshake) and the SGI_base frame (SGI and PPI state of its PE).
//
// LPIs (IHI 0069 6.1): configuration is one byte per LPI in the property table at
// GICR_PROPBASER (bit 0 Enable, bits [7:2] priority). Like real Redistributors this
// one caches it: the whole table is read when EnableLPIs is set, one entry again on
// an ITS INV and all entries on INVALL. Software that changes a byte without INV
// keeps seeing the old configuration, as on hardware.
// Pending LPIs are kept in the model. The pending table at GICR_PENDBASER is read
// once when LPIs are enabled (unless PTZ says it is zero) and never written back:
// GICR_CTLR.CES == 0, EnableLPIs cannot be cleared, so no state ever leaves the model.

import { RegisterBlock, type RegDef } from '../regs/regmap.js';
import type { PhysicalBus } from '../bus/bus.js';
import { TraceKind } from '../../trace/record.js';
import { NO_SID, NO_SSID, type TraceRing } from '../../trace/ring.js';
import { INTID_BITS, LPI_BASE, MAX_INTIDS, PRIORITY_MASK, ctz32 } from './intid.js';
import { IRQ_REG, configRegister, irqWordRegisters, priorityRegisters } from './irq-registers.js';
import { IrqStateBank, IrqTraceEvent } from './irq-state.js';
import { GICD_IIDR_VALUE, GIC_PIDR2_GICV3 } from './distributor.js';

/** Each Redistributor has two 64 KiB frames: RD_base then SGI_base (no VLPI frames, GICv3). */
export const GICR_FRAME_SIZE = 0x1_0000;
export const GICR_STRIDE = 0x2_0000;

/** RD_base offsets (IHI 0069 12.10, RD_base frame). */
export const GICR = {
  CTLR: 0x0000,
  IIDR: 0x0004,
  TYPER: 0x0008,
  STATUSR: 0x0010,
  WAKER: 0x0014,
  PROPBASER: 0x0070,
  PENDBASER: 0x0078,
  PIDR2: 0xffe8,
} as const;

/** SGI_base offsets (IHI 0069 12.10, SGI_base frame). */
export const GICR_SGI = {
  IGROUPR0: IRQ_REG.IGROUPR,
  ISENABLER0: IRQ_REG.ISENABLER,
  ICENABLER0: IRQ_REG.ICENABLER,
  ISPENDR0: IRQ_REG.ISPENDR,
  ICPENDR0: IRQ_REG.ICPENDR,
  ISACTIVER0: IRQ_REG.ISACTIVER,
  ICACTIVER0: IRQ_REG.ICACTIVER,
  IPRIORITYR: IRQ_REG.IPRIORITYR,
  ICFGR0: IRQ_REG.ICFGR,
  ICFGR1: IRQ_REG.ICFGR + 4,
} as const;

export const GICR_CTLR_EnableLPIs = 1 << 0;
export const GICR_CTLR_DPG1NS = 1 << 25;
export const GICR_WAKER_ProcessorSleep = 1 << 1;
export const GICR_WAKER_ChildrenAsleep = 1 << 2;
export const GICR_TYPER_PLPIS = 1 << 0;
export const GICR_TYPER_Last = 1 << 4;
export const GICR_TYPER_DPGS = 1 << 5;
export const GICR_PENDBASER_PTZ = 1n << 62n;

/** LPI property table entry (IHI 0069 6.1.1). */
export const LPI_PROP_ENABLE = 1 << 0;
export const LPI_PROP_PRIORITY_MASK = 0xfc;

const SGI_EDGE_BITS = 0x0000ffff;
const LPI_WORDS = MAX_INTIDS >>> 5;
const ADDR_51_12 = 0x000f_ffff_ffff_f000n;
const ADDR_51_16 = 0x000f_ffff_ffff_0000n;

export class Redistributor {
  readonly rd: RegisterBlock;
  readonly sgi: RegisterBlock;
  /** SGIs 0-15 and PPIs 16-31 of this PE. */
  readonly bank = new IrqStateBank(32);
  /** GICR_WAKER.ProcessorSleep: while set, nothing is forwarded to the CPU interface. */
  processorSleep = true;
  lpisEnabled = false;
  /** GICR_CTLR.DPG1NS: the PE does not take part in 1-of-N selection of Group 1 SPIs. */
  dpg1ns = false;
  /** First INTID beyond the LPIs this Redistributor accepts (0 = none): from PROPBASER.IDbits. */
  lpiLimit = 0;
  /** LPIs dropped because LPIs were disabled here or the INTID was out of range. */
  lpisDropped = 0;
  /** Called after any change that may alter what is forwarded to this PE. */
  onChange: () => void = () => {};
  /** Result of `bestLpi`: INTID and priority of the highest-priority enabled pending LPI. */
  bestIntid = 0;
  bestPriority = 0x100;
  /**
   * `bestIntid`/`bestPriority` are current. A new pending LPI updates them in place;
   * clearing the best one, an INV of a pending LPI, INVALL, MOVALL or enabling LPIs
   * makes `bestLpi` scan the pending bitmap again.
   */
  private bestValid = false;
  private lpiPendingCount = 0;

  /** Cached property-table bytes, indexed by INTID - 8192. */
  private lpiConfig: Uint8Array | undefined;
  private propBase = 0;
  private readonly lpiPending = new Uint32Array(LPI_WORDS);
  /** Bit i set when lpiPending word i is non-zero. */
  private readonly lpiSummary = new Uint32Array(LPI_WORDS >>> 5);
  private readonly initiator: number;

  constructor(
    private readonly bus: PhysicalBus,
    private readonly trace: TraceRing,
    /** GICR_TYPER.Processor_Number, also the RDbase an ITS uses with GITS_TYPER.PTA == 0. */
    readonly processorNumber: number,
    /** Affinity of the PE, Aff2:Aff1:Aff0 as in MPIDR_EL1[23:0]. */
    readonly affinity: number,
    last: boolean,
  ) {
    this.initiator = trace.initiatorId(`gicr${processorNumber}`);
    this.bank.edge[0] = SGI_EDGE_BITS;
    this.rd = new RegisterBlock(`GICR${processorNumber}.RD_base`, this.rdDefs(last), { unmappedRazWi: true });
    this.sgi = new RegisterBlock(`GICR${processorNumber}.SGI_base`, this.sgiDefs(), { allowNarrow: true, unmappedRazWi: true });
  }

  reset(): void {
    const level = this.bank.level.slice();
    this.rd.reset();
    this.sgi.reset();
    this.bank.reset();
    this.bank.level.set(level);
    this.bank.edge[0] = SGI_EDGE_BITS;
    this.processorSleep = true;
    this.lpisEnabled = false;
    this.dpg1ns = false;
    this.lpiLimit = 0;
    this.lpiPending.fill(0);
    this.lpiSummary.fill(0);
    this.lpiPendingCount = 0;
    this.bestValid = false;
    this.onChange();
  }

  /** Makes SGI `intid` pending (ICC_SGI1R_EL1 of some PE). Group 0 SGIs are not forwarded by SGI1R. */
  raiseSgi(intid: number): void {
    if ((this.bank.group[0]! & (1 << intid)) === 0) return;
    if (this.bank.setPending(intid)) this.becamePending(intid);
    this.onChange();
  }

  /** Drives PPI `intid` (16-31). */
  drivePpi(intid: number, level: boolean): void {
    if (((this.bank.level[0]! & (1 << intid)) !== 0) === level) return;
    if (this.bank.drive(intid, level)) this.becamePending(intid);
    this.onChange();
  }

  // ---- LPIs ----

  /** Makes LPI `intid` pending (from an ITS). Returns false when this Redistributor dropped it. */
  setLpiPending(intid: number): boolean {
    if (!this.lpisEnabled || intid < LPI_BASE || intid >= this.lpiLimit) {
      this.lpisDropped++;
      return false;
    }
    const w = intid >>> 5;
    const b = 1 << (intid & 31);
    if ((this.lpiPending[w]! & b) === 0) {
      this.lpiPending[w]! |= b;
      this.lpiSummary[w >>> 5]! |= 1 << (w & 31);
      this.lpiPendingCount++;
      if (this.bestValid) this.considerLpi(intid);
      this.becamePending(intid);
      this.onChange();
    }
    return true;
  }

  clearLpiPending(intid: number): void {
    if (intid >= MAX_INTIDS) return;
    const w = intid >>> 5;
    const b = 1 << (intid & 31);
    if ((this.lpiPending[w]! & b) === 0) return;
    this.lpiPending[w]! &= ~b;
    if (this.lpiPending[w] === 0) this.lpiSummary[w >>> 5]! &= ~(1 << (w & 31));
    this.lpiPendingCount--;
    if (this.lpiPendingCount === 0) {
      // Nothing left: the answer is known without a scan.
      this.bestPriority = 0x100;
      this.bestIntid = 0;
      this.bestValid = this.lpisEnabled && this.lpiConfig !== undefined;
    } else if (intid === this.bestIntid) this.bestValid = false;
    this.onChange();
  }

  isLpiPending(intid: number): boolean {
    return intid < MAX_INTIDS && (this.lpiPending[intid >>> 5]! & (1 << (intid & 31))) !== 0;
  }

  /** Cached configuration byte of LPI `intid` (0 when LPIs are off or out of range). */
  lpiConfigOf(intid: number): number {
    const cfg = this.lpiConfig;
    return cfg !== undefined && intid >= LPI_BASE && intid < this.lpiLimit ? cfg[intid - LPI_BASE]! : 0;
  }

  /** ITS INV: re-reads one property-table entry. */
  invalidateLpi(intid: number): void {
    if (!this.lpisEnabled || intid < LPI_BASE || intid >= this.lpiLimit) return;
    this.lpiConfig![intid - LPI_BASE] = this.readPropertyByte(intid);
    if (this.isLpiPending(intid)) this.bestValid = false;
    this.onChange();
  }

  /** ITS INVALL: re-reads the whole property table. */
  invalidateAllLpis(): void {
    if (!this.lpisEnabled) return;
    this.loadPropertyTable();
    this.bestValid = false;
    this.onChange();
  }

  /** ITS MOVALL: every pending LPI of this Redistributor becomes pending at `to`. */
  movePendingLpisTo(to: Redistributor): void {
    if (to === this) return;
    for (let s = 0; s < this.lpiSummary.length; s++) {
      let sw = this.lpiSummary[s]!;
      while (sw !== 0) {
        const wi = s * 32 + ctz32(sw);
        sw &= sw - 1;
        let bits = this.lpiPending[wi]!;
        while (bits !== 0) {
          const intid = wi * 32 + ctz32(bits);
          bits &= bits - 1;
          to.setLpiPending(intid);
        }
        this.lpiPending[wi] = 0;
      }
      this.lpiSummary[s] = 0;
    }
    this.lpiPendingCount = 0;
    this.bestValid = false;
    this.onChange();
  }

  /**
   * Finds the highest-priority pending LPI whose cached configuration is enabled
   * (lowest INTID on a tie) into `bestIntid`/`bestPriority`; false when there is none.
   */
  bestLpi(): boolean {
    if (this.bestValid) return this.bestPriority < 0x100;
    this.bestPriority = 0x100;
    this.bestIntid = 0;
    const cfg = this.lpiConfig;
    if (!this.lpisEnabled || cfg === undefined) return false;
    this.bestValid = true;
    if (this.lpiPendingCount === 0) return false;
    for (let s = 0; s < this.lpiSummary.length; s++) {
      let sw = this.lpiSummary[s]!;
      while (sw !== 0) {
        const wi = s * 32 + ctz32(sw);
        sw &= sw - 1;
        let bits = this.lpiPending[wi]!;
        while (bits !== 0) {
          const intid = wi * 32 + ctz32(bits);
          bits &= bits - 1;
          const c = cfg[intid - LPI_BASE]!;
          if ((c & LPI_PROP_ENABLE) === 0) continue;
          const prio = c & LPI_PROP_PRIORITY_MASK & PRIORITY_MASK;
          if (prio < this.bestPriority) {
            this.bestPriority = prio;
            this.bestIntid = intid;
          }
        }
      }
    }
    return this.bestPriority < 0x100;
  }

  /** A newly pending LPI against the cached best (the lower INTID wins a tie, as in the scan). */
  private considerLpi(intid: number): void {
    const c = this.lpiConfig![intid - LPI_BASE]!;
    if ((c & LPI_PROP_ENABLE) === 0) return;
    const prio = c & LPI_PROP_PRIORITY_MASK & PRIORITY_MASK;
    if (prio < this.bestPriority || (prio === this.bestPriority && intid < this.bestIntid)) {
      this.bestPriority = prio;
      this.bestIntid = intid;
    }
  }

  private becamePending(intid: number): void {
    if (this.trace.on) this.trace.record(TraceKind.Irq, this.initiator, NO_SID, NO_SSID, 0, 0, 0, IrqTraceEvent.Pending, intid);
  }

  /** IHI 0069 GICR_CTLR.EnableLPIs 0 -> 1: PROPBASER/PENDBASER are read and LPIs are accepted. */
  private enableLpis(): void {
    const prop = this.rd.get('GICR_PROPBASER');
    const idBits = Math.min(Number(prop & 0x1fn), INTID_BITS - 1) + 1;
    this.lpiLimit = idBits >= 14 ? 1 << idBits : 0;
    this.propBase = Number(prop & ADDR_51_12);
    this.lpiConfig ??= new Uint8Array(MAX_INTIDS - LPI_BASE);
    this.lpisEnabled = true;
    this.bestValid = false;
    this.loadPropertyTable();
    const pend = this.rd.get('GICR_PENDBASER');
    if ((pend & GICR_PENDBASER_PTZ) === 0n && this.lpiLimit > 0) this.loadPendingTable(Number(pend & ADDR_51_16));
    this.onChange();
  }

  private loadPropertyTable(): void {
    const cfg = this.lpiConfig!;
    cfg.fill(0);
    const len = this.lpiLimit - LPI_BASE;
    if (len <= 0) return;
    // A table outside RAM reads as all-disabled rather than as a burst of bus errors.
    if (this.bus.isRam(this.propBase, len)) this.bus.ram.readInto(this.propBase - this.bus.ram.base, cfg, 0, len);
  }

  private readPropertyByte(intid: number): number {
    const pa = this.propBase + intid - LPI_BASE;
    return this.bus.isRam(pa, 1) ? this.bus.ram.read8(pa - this.bus.ram.base) : 0;
  }

  /** IHI 0069 6.1.2: one bit per INTID; the first 1 KiB (INTIDs below 8192) is not LPI state. */
  private loadPendingTable(base: number): void {
    const first = LPI_BASE >>> 3;
    const len = (this.lpiLimit >>> 3) - first;
    if (!this.bus.isRam(base + first, len)) return;
    const bytes = new Uint8Array(len);
    this.bus.ram.readInto(base + first - this.bus.ram.base, bytes, 0, len);
    for (let i = 0; i < len; i++) {
      let v = bytes[i]!;
      while (v !== 0) {
        const bit = ctz32(v);
        v &= v - 1;
        const intid = LPI_BASE + i * 8 + bit;
        const w = intid >>> 5;
        const b = 1 << (intid & 31);
        if ((this.lpiPending[w]! & b) === 0) this.lpiPendingCount++;
        this.lpiPending[w]! |= b;
        this.lpiSummary[w >>> 5]! |= 1 << (w & 31);
      }
    }
  }

  private rdDefs(last: boolean): RegDef[] {
    const typer =
      (BigInt(this.affinity >>> 0) << 32n) |
      BigInt((this.processorNumber << 8) | GICR_TYPER_DPGS | (last ? GICR_TYPER_Last : 0) | GICR_TYPER_PLPIS);
    return [
      {
        name: 'GICR_CTLR',
        offset: GICR.CTLR,
        fields: [
          { name: 'EnableLPIs', lsb: 0, width: 1 },
          { name: 'CES', lsb: 1, width: 1, access: 'RO' },
          { name: 'RWP', lsb: 3, width: 1, access: 'RO' },
          { name: 'DPG0', lsb: 24, width: 1 },
          { name: 'DPG1NS', lsb: 25, width: 1 },
          { name: 'DPG1S', lsb: 26, width: 1 },
          { name: 'UWP', lsb: 31, width: 1, access: 'RO' },
        ],
        write: (v, old) => {
          // CES == 0: once set, EnableLPIs stays set (IHI 0069, GICR_CTLR).
          const wasOn = (old & 1) !== 0;
          if (wasOn && (v & 1) === 0) this.rd.set('GICR_CTLR', v | 1);
          this.dpg1ns = (v & GICR_CTLR_DPG1NS) !== 0;
          if (!wasOn && (v & 1) !== 0) this.enableLpis();
          else this.onChange();
        },
      },
      { name: 'GICR_IIDR', offset: GICR.IIDR, access: 'RO', reset: GICD_IIDR_VALUE },
      {
        name: 'GICR_TYPER',
        offset: GICR.TYPER,
        width: 64,
        access: 'RO',
        reset: typer,
        fields: [
          { name: 'PLPIS', lsb: 0, width: 1 },
          { name: 'VLPIS', lsb: 1, width: 1 },
          { name: 'Dirty', lsb: 2, width: 1 },
          { name: 'DirectLPI', lsb: 3, width: 1 },
          { name: 'Last', lsb: 4, width: 1 },
          { name: 'DPGS', lsb: 5, width: 1 },
          { name: 'Processor_Number', lsb: 8, width: 16 },
          { name: 'CommonLPIAff', lsb: 24, width: 2 },
          { name: 'PPInum', lsb: 27, width: 5 },
          { name: 'Affinity_Value', lsb: 32, width: 32 },
        ],
      },
      {
        name: 'GICR_WAKER',
        offset: GICR.WAKER,
        reset: GICR_WAKER_ProcessorSleep | GICR_WAKER_ChildrenAsleep,
        fields: [
          { name: 'ProcessorSleep', lsb: 1, width: 1 },
          { name: 'ChildrenAsleep', lsb: 2, width: 1, access: 'RO' },
        ],
        // IHI 0069, GICR_WAKER: ChildrenAsleep follows ProcessorSleep once the interface has quiesced
        // or woken; this model has nothing in flight, so it follows at once.
        read: (v) => (v & ~GICR_WAKER_ChildrenAsleep) | ((v & GICR_WAKER_ProcessorSleep) << 1),
        write: (v) => {
          this.processorSleep = (v & GICR_WAKER_ProcessorSleep) !== 0;
          this.onChange();
        },
      },
      {
        name: 'GICR_PROPBASER',
        offset: GICR.PROPBASER,
        width: 64,
        fields: [
          { name: 'IDbits', lsb: 0, width: 5 },
          { name: 'InnerCache', lsb: 7, width: 3 },
          { name: 'Shareability', lsb: 10, width: 2 },
          { name: 'Physical_Address', lsb: 12, width: 40 },
          { name: 'OuterCache', lsb: 56, width: 3 },
        ],
        // Fixed while LPIs are enabled (writes then are UNPREDICTABLE; this model ignores them).
        write: (_v, old) => {
          if (this.lpisEnabled) this.rd.set('GICR_PROPBASER', old);
        },
      },
      {
        name: 'GICR_PENDBASER',
        offset: GICR.PENDBASER,
        width: 64,
        fields: [
          { name: 'InnerCache', lsb: 7, width: 3 },
          { name: 'Shareability', lsb: 10, width: 2 },
          { name: 'Physical_Address', lsb: 16, width: 36 },
          { name: 'OuterCache', lsb: 56, width: 3 },
          { name: 'PTZ', lsb: 62, width: 1 },
        ],
        write: (_v, old) => {
          if (this.lpisEnabled) this.rd.set('GICR_PENDBASER', old);
        },
      },
      { name: 'GICR_PIDR2', offset: GICR.PIDR2, access: 'RO', reset: GIC_PIDR2_GICV3 },
    ];
  }

  private sgiDefs(): RegDef[] {
    const bank = this.bank;
    const changed = (): void => this.onChange();
    return [
      ...irqWordRegisters(bank, 0, 'GICR', changed, (intid) => this.becamePending(intid)),
      ...priorityRegisters(bank, 'GICR', 0, 8, changed),
      // SGIs are always edge-triggered (IHI 0069, GICR_ICFGR0); PPIs are configurable.
      { name: 'GICR_ICFGR0', offset: GICR_SGI.ICFGR0, access: 'RO', reset: 0xaaaaaaaa },
      configRegister(bank, 'GICR', 1, changed),
    ];
  }
}
