// GICv3 driver (drivers/irqchip/irq-gic-v3.c in shape): distributor and
// redistributor bring-up (GICR_WAKER handshake), the system-register CPU interface,
// the irq domain for SGIs/PPIs/SPIs, and the root IRQ entry that acknowledges with
// ICC_IAR1_EL1 and completes with ICC_EOIR1_EL1 (EOImode 0: EOI drops priority and
// deactivates). Register layout from the GICv3 architecture spec (IHI 0069).

import { thisCpu, type ArchCpu } from '../../../arch/index.js';
import { IrqDomain, generic_handle_domain_irq, irq_create_mapping, type IrqChip, type IrqDesc } from '../../irq/irqdesc.js';
import { set_handle_irq } from '../../arch/entry.js';
import { of_find_compatible_node, of_reg, type DeviceNode, type OfPhandleArgs } from '../../of/base.js';
import { pr_err, pr_info } from '../../lib/printk.js';

// Distributor (IHI 0069 12.9)
const GICD_CTLR = 0x0000;
const GICD_TYPER = 0x0004;
const GICD_IGROUPR = 0x0080;
const GICD_ISENABLER = 0x0100;
const GICD_ICENABLER = 0x0180;
const GICD_ICPENDR = 0x0280;
const GICD_ICACTIVER = 0x0380;
const GICD_IPRIORITYR = 0x0400;
const GICD_ICFGR = 0x0c00;
const GICD_IROUTER = 0x6000;
const GICD_CTLR_RWP = 1 << 31;
const GICD_CTLR_ARE_NS = 1 << 4;
const GICD_CTLR_ENABLE_G1A = 1 << 1;
// Redistributor RD_base and SGI_base frames (IHI 0069 12.10, 12.11)
const GICR_TYPER = 0x0008;
const GICR_WAKER = 0x0014;
const GICR_WAKER_ProcessorSleep = 1 << 1;
const GICR_WAKER_ChildrenAsleep = 1 << 2;
const GICR_TYPER_LAST = 1 << 4;
const SGI_BASE = 0x10000;
const GICR_IGROUPR0 = SGI_BASE + 0x0080;
const GICR_ISENABLER0 = SGI_BASE + 0x0100;
const GICR_ICENABLER0 = SGI_BASE + 0x0180;
const GICR_ICPENDR0 = SGI_BASE + 0x0280;
const GICR_ICACTIVER0 = SGI_BASE + 0x0380;
const GICR_IPRIORITYR0 = SGI_BASE + 0x0400;
const GICR_ICFGR1 = SGI_BASE + 0x0c04;
const GICR_STRIDE = 0x20000;

/** Default priority of every interrupt (GICD_INT_DEF_PRI). */
const GICD_INT_DEF_PRI = 0xa0;
/** ICC_PMR_EL1 value letting every priority through (DEFAULT_PMR_VALUE). */
const DEFAULT_PMR_VALUE = 0xf0;
/** INTIDs 1020-1023 are special: nothing pending. */
const GIC_SPURIOUS_START = 1020;

// IPIs (arch/arm64/kernel/smp.c enum ipi_msg_type)
export const IPI_RESCHEDULE = 0;
export const IPI_CALL_FUNC = 1;

interface GicState {
  distBase: number;
  rdistBase: number;
  nrIrqs: number;
  domain: IrqDomain;
  /** Per-core redistributor base, found by matching GICR_TYPER.Processor_Number. */
  rdist: number[];
}

let gic: GicState | null = null;
/** LPIs (INTID >= 8192) are dispatched to the ITS driver's domain. */
let lpiDomain: IrqDomain | null = null;

export function gic_set_lpi_domain(d: IrqDomain | null): void {
  lpiDomain = d;
}

/** GICR base of a core (for LPI set-up by the ITS driver). */
export function gic_rdist_base(cpuId: number): number {
  return rdist_of(cpuId);
}

function dist_wait_for_rwp(cpu: ArchCpu, base: number): void {
  for (let i = 0; i < 1000; i++) {
    if ((cpu.ldPhys32(base + GICD_CTLR) & GICD_CTLR_RWP) === 0) return;
  }
  pr_err('GICv3: RWP timeout');
}

function rdist_of(cpuId: number): number {
  const g = gic!;
  return g.rdist[cpuId] ?? g.rdistBase + cpuId * GICR_STRIDE;
}

const chip: IrqChip = {
  name: 'GICv3',
  irq_mask(d: IrqDesc): void {
    const cpu = thisCpu();
    const id = d.hwirq;
    if (id < 32) cpu.stPhys32(rdist_of(cpu.id) + GICR_ICENABLER0, 1 << id);
    else cpu.stPhys32(gic!.distBase + GICD_ICENABLER + 4 * (id >>> 5), 1 << (id & 31));
  },
  irq_unmask(d: IrqDesc): void {
    const cpu = thisCpu();
    const id = d.hwirq;
    if (id < 32) cpu.stPhys32(rdist_of(cpu.id) + GICR_ISENABLER0, 1 << id);
    else cpu.stPhys32(gic!.distBase + GICD_ISENABLER + 4 * (id >>> 5), 1 << (id & 31));
  },
  irq_set_type(d: IrqDesc, type: number): number {
    // IRQ_TYPE_EDGE_RISING = 1, IRQ_TYPE_LEVEL_HIGH = 4; ICFGR bit 2n+1 set = edge.
    const id = d.hwirq;
    if (id < 32) return 0;
    const cpu = thisCpu();
    const reg = gic!.distBase + GICD_ICFGR + 4 * (id >>> 4);
    const shift = 2 * (id & 15) + 1;
    const v = cpu.ldPhys32(reg);
    cpu.stPhys32(reg, (type & 0x3 ? v | (1 << shift) : v & ~(1 << shift)) >>> 0);
    return 0;
  },
  irq_set_affinity(d: IrqDesc, target: number): number {
    if (d.hwirq < 32) return -22;
    thisCpu().stPhys64(gic!.distBase + GICD_IROUTER + 8 * d.hwirq, target);
    return 0;
  },
};

/** Brings up the redistributor and CPU interface of the calling core (gic_cpu_init). */
export function gic_cpu_init(cpu: ArchCpu): void {
  const g = gic;
  if (g === null) return;
  // gic_populate_rdist: find the frame whose GICR_TYPER.Processor_Number is ours.
  let base = g.rdistBase;
  for (let i = 0; i < 64; i++) {
    const typer = cpu.ldPhys64n(base + GICR_TYPER);
    const procNum = Number((typer >> 8n) & 0xffffn);
    const aff0 = Number((typer >> 32n) & 0xffn);
    if (procNum === cpu.id || aff0 === cpu.id) break;
    if (Number(typer) & GICR_TYPER_LAST) {
      base = g.rdistBase + cpu.id * GICR_STRIDE;
      break;
    }
    base += GICR_STRIDE;
  }
  g.rdist[cpu.id] = base;
  // gic_enable_redist: clear ProcessorSleep and wait for ChildrenAsleep to clear.
  cpu.stPhys32(base + GICR_WAKER, cpu.ldPhys32(base + GICR_WAKER) & ~GICR_WAKER_ProcessorSleep);
  for (let i = 0; i < 1000 && cpu.ldPhys32(base + GICR_WAKER) & GICR_WAKER_ChildrenAsleep; i++) cpu.charge(100);
  // SGIs and PPIs: group 1, disabled, cleared, default priority.
  cpu.stPhys32(base + GICR_IGROUPR0, 0xffffffff);
  cpu.stPhys32(base + GICR_ICACTIVER0, 0xffffffff);
  cpu.stPhys32(base + GICR_ICPENDR0, 0xffffffff);
  cpu.stPhys32(base + GICR_ICENABLER0, 0xffff0000);
  cpu.stPhys32(base + GICR_ISENABLER0, 0x0000ffff);
  for (let i = 0; i < 32; i += 4) cpu.stPhys32(base + GICR_IPRIORITYR0 + i, GICD_INT_DEF_PRI * 0x01010101);
  cpu.stPhys32(base + GICR_ICFGR1, 0); // PPIs level
  // gic_cpu_sys_reg_init
  cpu.writeSysreg('ICC_SRE_EL1', 0x7n);
  cpu.writeSysreg('ICC_PMR_EL1', BigInt(DEFAULT_PMR_VALUE));
  cpu.writeSysreg('ICC_CTLR_EL1', 0n);
  cpu.writeSysreg('ICC_IGRPEN1_EL1', 1n);
}

/** gic_handle_irq: acknowledge, handle, EOI until nothing is pending. */
function gic_handle_irq(cpu: ArchCpu): void {
  const g = gic!;
  for (let n = 0; n < 64; n++) {
    const irqnr = Number(cpu.readSysreg('ICC_IAR1_EL1') & 0xffffffn);
    if (irqnr >= GIC_SPURIOUS_START && irqnr <= 1023) return;
    generic_handle_domain_irq(irqnr >= 8192 && lpiDomain !== null ? lpiDomain : g.domain, irqnr);
    cpu.writeSysreg('ICC_EOIR1_EL1', BigInt(irqnr));
  }
}

/** gic_ipi_send_mask for one target: ICC_SGI1R_EL1 with Aff0 target list (cores 0-15 in cluster 0). */
export function gic_send_sgi(targetCpu: number, sgi: number): void {
  const v = (BigInt(sgi & 0xf) << 24n) | BigInt(1 << (targetCpu & 15)) | (BigInt((targetCpu >> 4) & 0xff) << 16n);
  thisCpu().writeSysreg('ICC_SGI1R_EL1', v);
}

export function gic_domain(): IrqDomain {
  if (gic === null) throw new Error('GICv3: not initialised');
  return gic.domain;
}

/**
 * irq_create_of_mapping for a GIC specifier <type number flags>: type 0 = SPI
 * (INTID 32+n), 1 = PPI (INTID 16+n). Returns the Linux IRQ number (0 when invalid).
 */
export function gic_irq_of_mapping(spec: OfPhandleArgs): number {
  if (gic === null || spec.args.length < 3) return 0;
  const [type, num] = spec.args as [number, number, number];
  const hwirq = type === 0 ? 32 + num : type === 1 ? 16 + num : -1;
  if (hwirq < 0 || hwirq >= gic.nrIrqs) return 0;
  return irq_create_mapping(gic.domain, hwirq);
}

/** gic_of_init: distributor init on the boot core. Returns false when there is no GICv3. */
export function gic_of_init(cpu: ArchCpu, node?: DeviceNode): boolean {
  const np = node ?? of_find_compatible_node(null, 'arm,gic-v3');
  if (np === undefined) return false;
  const regs = of_reg(np);
  if (regs.length < 2) {
    pr_err('GICv3: missing distributor/redistributor reg');
    return false;
  }
  const distBase = regs[0]!.start;
  const rdistBase = regs[1]!.start;
  const typer = cpu.ldPhys32(distBase + GICD_TYPER);
  const nrIrqs = Math.min(32 * ((typer & 0x1f) + 1), 1020);
  const domain = new IrqDomain('GICv3', chip, (hwirq) => hwirq < 32);
  gic = { distBase, rdistBase, nrIrqs, domain, rdist: [] };
  // gic_dist_init: disable, then configure every SPI (group 1, level, default priority, routed to core 0).
  cpu.stPhys32(distBase + GICD_CTLR, 0);
  dist_wait_for_rwp(cpu, distBase);
  for (let i = 32; i < nrIrqs; i += 32) {
    cpu.stPhys32(distBase + GICD_IGROUPR + i / 8, 0xffffffff);
    cpu.stPhys32(distBase + GICD_ICACTIVER + i / 8, 0xffffffff);
    cpu.stPhys32(distBase + GICD_ICPENDR + i / 8, 0xffffffff);
    cpu.stPhys32(distBase + GICD_ICENABLER + i / 8, 0xffffffff);
  }
  for (let i = 32; i < nrIrqs; i += 16) cpu.stPhys32(distBase + GICD_ICFGR + i / 4, 0);
  for (let i = 32; i < nrIrqs; i += 4) cpu.stPhys32(distBase + GICD_IPRIORITYR + i, GICD_INT_DEF_PRI * 0x01010101);
  dist_wait_for_rwp(cpu, distBase);
  cpu.stPhys32(distBase + GICD_CTLR, GICD_CTLR_ARE_NS | GICD_CTLR_ENABLE_G1A);
  dist_wait_for_rwp(cpu, distBase);
  for (let i = 32; i < nrIrqs; i++) cpu.stPhys64(distBase + GICD_IROUTER + 8 * i, 0);
  pr_info(`GICv3: ${nrIrqs - 32} SPIs implemented`);
  pr_info(`GICv3: CPU0: found redistributor 0 region 0:0x${rdistBase.toString(16).padStart(16, '0')}`);
  set_handle_irq(gic_handle_irq);
  gic_cpu_init(cpu);
  return true;
}

export function gic_reset(): void {
  gic = null;
  lpiDomain = null;
}
