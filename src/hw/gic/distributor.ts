// The GICv3 Distributor (IHI 0069 12.9): SPI enable, pending, active, priority,
// group, trigger and affinity routing. Affinity routing is always on (GICD_CTLR.ARE
// RAO/WI) and the GIC has a single Security state (GICD_CTLR.DS RAO/WI), as QEMU's
// virt GIC without EL3: GICD registers for INTIDs 0-31 are RAZ/WI (they live in
// the Redistributors), and Group 1 is what a Non-secure OS uses.

import { RegisterBlock, type RegDef } from '../regs/regmap.js';
import type { IrqLine } from '../irq.js';
import { TraceKind } from '../../trace/record.js';
import { NO_SID, NO_SSID, type TraceRing } from '../../trace/ring.js';
import { INTID_BITS, PRIVATE_INTIDS, SPI_BASE } from './intid.js';
import { IRQ_REG, configRegister, irqWordRegisters, priorityRegisters } from './irq-registers.js';
import { IrqStateBank, IrqTraceEvent } from './irq-state.js';

/** Register offsets in the 64 KiB Distributor frame (IHI 0069 12.9, the Distributor register map). */
export const GICD = {
  CTLR: 0x0000,
  TYPER: 0x0004,
  IIDR: 0x0008,
  TYPER2: 0x000c,
  ...IRQ_REG,
  IROUTER: 0x6000,
  PIDR2: 0xffe8,
} as const;

/** GICD_CTLR with DS == 1 (IHI 0069, GICD_CTLR). */
export const GICD_CTLR_EnableGrp0 = 1 << 0;
export const GICD_CTLR_EnableGrp1 = 1 << 1;
export const GICD_CTLR_ARE = 1 << 4;
export const GICD_CTLR_DS = 1 << 6;
export const GICD_CTLR_RWP = 1 << 31;

/** GICD_TYPER fields (IHI 0069, GICD_TYPER). */
export const GICD_TYPER_LPIS = 1 << 17;

/** GICD_IROUTER.Interrupt_Routing_Mode: 1 = any participating PE (1 of N). */
export const GICD_IROUTER_IRM = 1 << 31;

/** GICD_PIDR2 / GICR_PIDR2 / GITS_PIDR2: ArchRev [7:4] = 3 (GICv3), JEDEC designer bits of Arm. */
export const GIC_PIDR2_GICV3 = 0x3b;

/** GICD_IIDR: Implementer 0x43B (Arm, JEP106) in [11:0]; ProductID 0: a generic GICv3 model. */
export const GICD_IIDR_VALUE = 0x0000043b;

export interface DistributorOptions {
  /** Number of SPIs: a multiple of 32 from 32 to 960 (INTIDs 32 .. 32+spis-1). */
  readonly spis: number;
  /** Number of PEs (for GICD_TYPER.CPUNumber). */
  readonly cores: number;
}

class SpiLine implements IrqLine {
  constructor(
    private readonly dist: Distributor,
    private readonly intid: number,
  ) {}
  set(level: boolean): void {
    this.dist.drive(this.intid, level);
  }
  pulse(): void {
    this.dist.pulse(this.intid);
  }
}

export class Distributor {
  readonly regs: RegisterBlock;
  /** State of INTIDs 0 .. 32+spis-1; the first 32 are unused (banked in the Redistributors). */
  readonly bank: IrqStateBank;
  readonly spis: number;
  /** GICD_IROUTER affinity per INTID, packed Aff2:Aff1:Aff0 as in MPIDR_EL1[23:0]. */
  readonly routeAffinity: Uint32Array;
  /** Bitmap of INTIDs with Interrupt_Routing_Mode == 1. */
  readonly routeAny: Uint32Array;
  enableGrp0 = false;
  enableGrp1 = false;
  /** Called after any change that may alter what is forwarded to the CPU interfaces. */
  onChange: () => void = () => {};
  private readonly lines: SpiLine[] = [];
  private readonly initiator: number;

  constructor(
    private readonly trace: TraceRing,
    options: DistributorOptions,
  ) {
    const { spis, cores } = options;
    if (!Number.isInteger(spis) || spis < 32 || spis > 960 || spis % 32 !== 0) {
      throw new RangeError(`GIC: spis must be a multiple of 32 between 32 and 960, got ${spis}`);
    }
    this.spis = spis;
    const count = SPI_BASE + spis;
    this.bank = new IrqStateBank(count);
    this.routeAffinity = new Uint32Array(count);
    this.routeAny = new Uint32Array(this.bank.words);
    this.initiator = trace.initiatorId('gicd');
    for (let n = 0; n < spis; n++) this.lines.push(new SpiLine(this, SPI_BASE + n));
    this.regs = new RegisterBlock('GICD', this.registerDefs(cores), { allowNarrow: true, unmappedRazWi: true });
  }

  /** The input line of SPI `n` (INTID 32+n), for wiring a device. */
  spi(n: number): IrqLine {
    const line = this.lines[n];
    if (line === undefined) throw new RangeError(`GIC: SPI ${n} does not exist (this GIC has ${this.spis} SPIs, 0..${this.spis - 1})`);
    return line;
  }

  drive(intid: number, high: boolean): void {
    const wasHigh = (this.bank.level[intid >>> 5]! & (1 << (intid & 31))) !== 0;
    if (wasHigh === high) return;
    if (this.bank.drive(intid, high)) this.becamePending(intid);
    this.onChange();
  }

  pulse(intid: number): void {
    if (this.bank.pulse(intid)) {
      this.becamePending(intid);
      this.onChange();
    }
  }

  /** True when SPI `intid` targets the PE with affinity `aff` (or any PE, 1 of N). */
  routedTo(intid: number, aff: number): boolean {
    return (this.routeAny[intid >>> 5]! & (1 << (intid & 31))) !== 0 || this.routeAffinity[intid] === aff;
  }

  reset(): void {
    const level = this.bank.level.slice();
    this.regs.reset();
    this.bank.reset();
    this.bank.level.set(level);
    this.routeAffinity.fill(0);
    this.routeAny.fill(0);
    this.enableGrp0 = false;
    this.enableGrp1 = false;
    this.onChange();
  }

  private becamePending(intid: number): void {
    if (this.trace.on) this.trace.record(TraceKind.Irq, this.initiator, NO_SID, NO_SSID, 0, 0, 0, IrqTraceEvent.Pending, intid);
  }

  private registerDefs(cores: number): RegDef[] {
    const bank = this.bank;
    const words = bank.words;
    const changed = (): void => this.onChange();
    const itLines = words - 1;
    const defs: RegDef[] = [
      {
        name: 'GICD_CTLR',
        offset: GICD.CTLR,
        reset: GICD_CTLR_ARE | GICD_CTLR_DS,
        fields: [
          { name: 'EnableGrp0', lsb: 0, width: 1 },
          { name: 'EnableGrp1', lsb: 1, width: 1 },
          { name: 'ARE', lsb: 4, width: 1, access: 'RO' },
          { name: 'DS', lsb: 6, width: 1, access: 'RO' },
          { name: 'RWP', lsb: 31, width: 1, access: 'RO' },
        ],
        write: (v) => {
          this.enableGrp0 = (v & GICD_CTLR_EnableGrp0) !== 0;
          this.enableGrp1 = (v & GICD_CTLR_EnableGrp1) !== 0;
          changed();
        },
        description: 'IHI 0069 GICD_CTLR: group enables; ARE and DS RAO/WI; RWP reads 0 (writes take effect at once)',
      },
      {
        name: 'GICD_TYPER',
        offset: GICD.TYPER,
        access: 'RO',
        reset: itLines | (Math.min(cores - 1, 7) << 5) | GICD_TYPER_LPIS | ((INTID_BITS - 1) << 19),
        fields: [
          { name: 'ITLinesNumber', lsb: 0, width: 5 },
          { name: 'CPUNumber', lsb: 5, width: 3 },
          { name: 'SecurityExtn', lsb: 10, width: 1 },
          { name: 'MBIS', lsb: 16, width: 1 },
          { name: 'LPIS', lsb: 17, width: 1 },
          { name: 'DVIS', lsb: 18, width: 1 },
          { name: 'IDbits', lsb: 19, width: 5 },
          { name: 'A3V', lsb: 24, width: 1 },
          { name: 'No1N', lsb: 25, width: 1 },
          { name: 'RSS', lsb: 26, width: 1 },
        ],
      },
      { name: 'GICD_IIDR', offset: GICD.IIDR, access: 'RO', reset: GICD_IIDR_VALUE },
      { name: 'GICD_TYPER2', offset: GICD.TYPER2, access: 'RO', reset: 0 },
      { name: 'GICD_PIDR2', offset: GICD.PIDR2, access: 'RO', reset: GIC_PIDR2_GICV3 },
    ];
    // Word 0 (SGIs, PPIs) is RAZ/WI with ARE == 1: those offsets stay unmapped.
    const pending = (intid: number): void => this.becamePending(intid);
    for (let n = 1; n < words; n++) defs.push(...irqWordRegisters(bank, n, 'GICD', changed, pending));
    defs.push(...priorityRegisters(bank, 'GICD', PRIVATE_INTIDS / 4, words * 8, changed));
    for (let k = PRIVATE_INTIDS / 16; k < words * 2; k++) defs.push(configRegister(bank, 'GICD', k, changed));
    // IROUTER<n> for every SPI: 64-bit, IHI 0069 GICD_IROUTER<n> (A3V == 0, so Aff3 is RES0).
    for (let intid = SPI_BASE; intid < bank.count; intid++) {
      defs.push({
        name: `GICD_IROUTER${intid}`,
        offset: GICD.IROUTER + 8 * intid,
        width: 64,
        fields: [
          { name: 'Aff0', lsb: 0, width: 8 },
          { name: 'Aff1', lsb: 8, width: 8 },
          { name: 'Aff2', lsb: 16, width: 8 },
          { name: 'Interrupt_Routing_Mode', lsb: 31, width: 1 },
        ],
        write: (v) => {
          const x = Number(v & 0xffffffffn);
          this.routeAffinity[intid] = x & 0xffffff;
          const b = 1 << (intid & 31);
          if ((x & GICD_IROUTER_IRM) !== 0) this.routeAny[intid >>> 5]! |= b;
          else this.routeAny[intid >>> 5]! &= ~b;
          changed();
        },
      });
    }
    return defs;
  }
}
