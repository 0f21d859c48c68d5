// The GICv3 interrupt controller of the machine: one Distributor, one Redistributor
// and CPU interface per core, and an ITS, wired together and mapped at the QEMU virt
// addresses. Devices get their wired interrupt from `spi(n)`; cores get their
// `GicCpuInterface` from `cpuInterface(core)`; MSIs are writes to GITS_TRANSLATER.

import type { PhysicalBus } from '../bus/bus.js';
import type { AccessSize, MmioAccess, MmioDevice } from '../bus/mmio.js';
import type { IrqLine } from '../irq.js';
import type { Clock } from '../../machine/clock.js';
import type { TraceRing } from '../../trace/ring.js';
import { Distributor } from './distributor.js';
import { GICR_FRAME_SIZE, GICR_STRIDE, Redistributor } from './redistributor.js';
import { CpuInterface } from './cpu-interface.js';
import { GITS, GITS_FRAME_SIZE, Its } from './its.js';

/** QEMU virt memory map (hw/arm/virt.c VIRT_GIC_DIST, VIRT_GIC_ITS, VIRT_GIC_REDIST). */
export const GICD_BASE = 0x0800_0000;
export const GICD_SIZE = 0x1_0000;
export const GITS_BASE = 0x0808_0000;
export const GICR_BASE = 0x080a_0000;
/** The doorbell MSI writers target. */
export const GITS_TRANSLATER_PA = GITS_BASE + GITS.TRANSLATER;

export interface GicHost {
  readonly bus: PhysicalBus;
  readonly clock: Clock;
  readonly trace: TraceRing;
  readonly cost: { readonly itsCommandNs: number };
}

export interface GicOptions {
  /** Number of cores (one Redistributor and CPU interface each), 1..8. */
  readonly cores: number;
  /** Wired SPIs, a multiple of 32 (default 256: INTIDs 32..287). */
  readonly spis?: number;
  /** Affinity (MPIDR_EL1 Aff2:Aff1:Aff0) of a core; default Aff0 = core number. */
  readonly affinity?: (core: number) => number;
}

export interface GicBases {
  readonly gicd: number;
  readonly gits: number;
  readonly gicr: number;
}

/** The Redistributor region: RD_base and SGI_base frames of each core, back to back. */
class RedistributorRegion implements MmioDevice {
  readonly name = 'gicr';
  constructor(private readonly redists: readonly Redistributor[]) {}

  mmioRead(offset: number, size: AccessSize, acc: MmioAccess): void {
    const r = this.redists[Math.floor(offset / GICR_STRIDE)];
    if (r === undefined) return;
    const off = offset % GICR_STRIDE;
    if (off < GICR_FRAME_SIZE) r.rd.mmioRead(off, size, acc);
    else r.sgi.mmioRead(off - GICR_FRAME_SIZE, size, acc);
  }

  mmioWrite(offset: number, size: AccessSize, acc: MmioAccess): void {
    const r = this.redists[Math.floor(offset / GICR_STRIDE)];
    if (r === undefined) return;
    const off = offset % GICR_STRIDE;
    if (off < GICR_FRAME_SIZE) r.rd.mmioWrite(off, size, acc);
    else r.sgi.mmioWrite(off - GICR_FRAME_SIZE, size, acc);
  }
}

export class Gic {
  readonly distributor: Distributor;
  readonly redistributors: readonly Redistributor[];
  readonly its: Its;
  readonly cores: number;
  private readonly cpuifs: readonly CpuInterface[];
  private readonly redistRegion: RedistributorRegion;

  constructor(
    private readonly host: GicHost,
    options: GicOptions,
  ) {
    const { cores } = options;
    if (!Number.isInteger(cores) || cores < 1 || cores > 8) throw new RangeError(`GIC: cores must be 1..8, got ${cores}`);
    this.cores = cores;
    const affinity = options.affinity ?? ((core: number) => core);
    const dist = new Distributor(host.trace, { spis: options.spis ?? 256, cores });
    const redists: Redistributor[] = [];
    for (let c = 0; c < cores; c++) redists.push(new Redistributor(host.bus, host.trace, c, affinity(c) & 0xffffff, c === cores - 1));
    const cpuifs = redists.map((r, c) => new CpuInterface(c, dist, r, redists, host.trace));
    dist.onChange = () => {
      for (const i of cpuifs) i.notifyDistributor();
    };
    redists.forEach((r, c) => {
      r.onChange = () => cpuifs[c]!.notify();
    });
    this.distributor = dist;
    this.redistributors = redists;
    this.cpuifs = cpuifs;
    this.its = new Its(host, redists);
    this.its.doorbellPa = GITS_TRANSLATER_PA;
    this.redistRegion = new RedistributorRegion(redists);
  }

  /** The input line of SPI `n` (INTID 32+n). */
  spi(n: number): IrqLine {
    return this.distributor.spi(n);
  }

  /** The CPU interface of `core` (a GicCpuInterface, plus `deactivate` for EOImode 1). */
  cpuInterface(core: number): CpuInterface {
    const i = this.cpuifs[core];
    if (i === undefined) throw new RangeError(`GIC: no CPU interface for core ${core} (this GIC has ${this.cores})`);
    return i;
  }

  /** Maps GICD, GITS and the GICR frames on `bus` (default: the host's bus at the QEMU virt addresses). */
  mapOn(bus: PhysicalBus = this.host.bus, bases: GicBases = { gicd: GICD_BASE, gits: GITS_BASE, gicr: GICR_BASE }): void {
    bus.map('gicd', bases.gicd, GICD_SIZE, this.distributor.regs);
    bus.map('gits', bases.gits, GITS_FRAME_SIZE, this.its);
    bus.map('gicr', bases.gicr, this.cores * GICR_STRIDE, this.redistRegion);
    this.its.doorbellPa = bases.gits + GITS.TRANSLATER;
  }

  reset(): void {
    this.its.reset();
    for (const r of this.redistributors) r.reset();
    for (const i of this.cpuifs) i.reset();
    this.distributor.reset();
  }
}
