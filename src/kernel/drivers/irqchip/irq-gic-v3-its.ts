// GICv3 ITS driver (drivers/irqchip/irq-gic-v3-its.c in shape): the command queue and
// the Device/Collection tables in guest RAM, the LPI configuration and pending tables
// of the Redistributors, one collection per core, and the PCI MSI domain: each device
// (DeviceID from the host bridge's msi-map) gets an ITT with one EventID per vector,
// mapped to a fresh LPI (MAPD, MAPTI, INV, SYNC), and its MSI/MSI-X capability is
// programmed with GITS_TRANSLATER as the address and the EventID as the data.
// Layouts and commands: GICv3/v4 architecture spec IHI 0069, chapters 5, 6 and 12.

import { thisCpu, type ArchCpu } from '../../../arch/index.js';
import { alloc_pages } from '../../mm/page_alloc.js';
import { GFP_KERNEL, __GFP_ZERO } from '../../mm/gfp.js';
import { IrqDomain, irq_create_mapping, type IrqChip, type IrqDesc } from '../../irq/irqdesc.js';
import { of_find_compatible_node, of_reg } from '../../of/base.js';
import { pr_err, pr_info } from '../../lib/printk.js';
import { gic_rdist_base, gic_set_lpi_domain } from './irq-gic-v3.js';
import { EINVAL, ENOMEM, ENOSPC } from '../../lib/errno.js';
import {
  PCI_CAP_ID_MSI,
  PCI_CAP_ID_MSIX,
  pci_find_capability,
  pci_read_config_dword,
  pci_read_config_word,
  pci_resource_start,
  pci_set_msi_domain,
  pci_write_config_dword,
  pci_write_config_word,
  type PciDev,
} from '../pci/pci.js';
import { pci_msi_map } from '../pci/controller/pci-host-generic.js';
import { iommu_dma_compose_msi_addr } from '../iommu/dma-iommu.js';
import { storeDword } from '../iommu/dword-io.js';
import { FieldTable, setField } from '../../lib/field-table.js';

const GITS_CTLR = 0x0000;
const GITS_TYPER = 0x0008;
const GITS_CBASER = 0x0080;
const GITS_CWRITER = 0x0088;
const GITS_CREADR = 0x0090;
const GITS_BASER = 0x0100;
const GITS_TRANSLATER = 0x10040;
const GITS_CTLR_ENABLE = 1;
const GITS_CTLR_QUIESCENT = 1 << 31;
const GITS_BASER_TYPE_DEVICE = 1;
const GITS_BASER_TYPE_COLLECTION = 4;
const GICR_CTLR = 0x0000;
const GICR_PROPBASER = 0x0070;
const GICR_PENDBASER = 0x0078;
const GICR_CTLR_ENABLE_LPIS = 1;
// ITS commands (IHI 0069 6.3)
const GITS_CMD_MAPD = 0x08;
const GITS_CMD_MAPC = 0x09;
const GITS_CMD_MAPTI = 0x0a;
const GITS_CMD_INV = 0x0c;
const GITS_CMD_SYNC = 0x05;
const GITS_CMD_DISCARD = 0x0f;
/**
 * The command fields over 4 x 64 bits, named as IHI 0069 6.3 names them and placed as
 * Linux's its_encode_* helpers place them (RDbase as its_encode_target: [51:16]).
 */
export const GITS_CMD = FieldTable.le64('GITS_CMD', 32, [
  ['CommandType', 0, 7, 0],
  ['DeviceID', 0, 63, 32],
  ['Size', 1, 4, 0],
  ['EventID', 1, 31, 0],
  ['pINTID', 1, 63, 32],
  ['ICID', 2, 15, 0],
  ['ITT_addr', 2, 51, 8, 'addr'],
  ['RDbase', 2, 51, 16],
  ['V', 2, 63, 63],
], { union: true });
const { CommandType, DeviceID, Size, EventID, pINTID, ICID, ITT_addr, RDbase, V } = GITS_CMD.f;
const ITS_CMD_QUEUE_SZ = 64 * 1024;
/** LPI INTIDs start at 8192; this kernel uses 16 ID bits (LPIs 8192..65535). */
const LPI_BASE = 8192;
const LPI_ID_BITS = 16;
const LPI_PROP_DEFAULT_PRIO = 0xa0;
const LPI_PROP_ENABLED = 1;
const PAGE = 4096;

interface ItsState {
  base: number;
  cmdq: number;
  cmdWrite: number;
  propTable: number;
  ittEntrySize: number;
  nextLpi: number;
  domain: IrqDomain;
  /** DeviceID -> { itt PA, EventIDs used, LPIs } */
  devices: Map<number, { itt: number; lpis: number[] }>;
}

let its: ItsState | null = null;

function order_for(bytes: number): number {
  return Math.max(0, Math.ceil(Math.log2(Math.ceil(bytes / PAGE))));
}

function alloc_table(bytes: number): number {
  const pfn = alloc_pages(order_for(bytes), GFP_KERNEL | __GFP_ZERO);
  return pfn < 0 ? -1 : pfn * PAGE;
}

/** Starts a command in `cmd` (struct its_cmd_block): zeroed, then the command number. */
function its_build_cmd(cmd: Uint32Array, op: number): Uint32Array {
  cmd.fill(0);
  setField(cmd, CommandType, op);
  return cmd;
}

/** its_build_mapd_cmd: DeviceID to an ITT of 2^(Size+1) EventIDs (V = 0 unmaps). */
export function its_build_mapd_cmd(cmd: Uint32Array, devid: number, eventBits: number, itt: number, valid: boolean): Uint32Array {
  its_build_cmd(cmd, GITS_CMD_MAPD);
  setField(cmd, DeviceID, devid);
  setField(cmd, Size, eventBits - 1);
  setField(cmd, ITT_addr, itt);
  setField(cmd, V, valid ? 1 : 0);
  return cmd;
}

/** its_build_mapc_cmd: collection `icid` to the Redistributor `target` (processor number, PTA = 0). */
export function its_build_mapc_cmd(cmd: Uint32Array, icid: number, target: number): Uint32Array {
  its_build_cmd(cmd, GITS_CMD_MAPC);
  setField(cmd, ICID, icid);
  setField(cmd, RDbase, target);
  setField(cmd, V, 1);
  return cmd;
}

/** its_build_mapti_cmd: (DeviceID, EventID) to LPI `lpi` in collection `icid`. */
export function its_build_mapti_cmd(cmd: Uint32Array, devid: number, event: number, lpi: number, icid: number): Uint32Array {
  its_build_cmd(cmd, GITS_CMD_MAPTI);
  setField(cmd, DeviceID, devid);
  setField(cmd, EventID, event);
  setField(cmd, pINTID, lpi);
  setField(cmd, ICID, icid);
  return cmd;
}

/** INV and DISCARD (its_build_inv_cmd, its_build_discard_cmd): one event of a device. */
export function its_build_event_cmd(cmd: Uint32Array, op: number, devid: number, event: number): Uint32Array {
  its_build_cmd(cmd, op);
  setField(cmd, DeviceID, devid);
  setField(cmd, EventID, event);
  return cmd;
}

/** its_build_sync_cmd: waits for the commands before it at Redistributor `target`. */
export function its_build_sync_cmd(cmd: Uint32Array, target: number): Uint32Array {
  its_build_cmd(cmd, GITS_CMD_SYNC);
  setField(cmd, RDbase, target);
  return cmd;
}

/** The command being built: commands are sent one at a time. */
const cmdScratch = GITS_CMD.alloc();

/** its_send_single_command: writes a 32-byte command and waits until the ITS consumed it. */
function its_send_cmd(cpu: ArchCpu, cmd: Uint32Array): boolean {
  const s = its!;
  const slot = s.cmdq + s.cmdWrite;
  for (let i = 0; i < 4; i++) storeDword(cpu, slot + 8 * i, cmd[2 * i]!, cmd[2 * i + 1]!);
  cpu.dsb();
  s.cmdWrite = (s.cmdWrite + 32) % ITS_CMD_QUEUE_SZ;
  cpu.stPhys64(s.base + GITS_CWRITER, s.cmdWrite);
  for (let i = 0; i < 10000; i++) {
    const rd = Number(cpu.ldPhys64n(s.base + GITS_CREADR));
    if (rd & 1) {
      pr_err(`ITS: command queue stalled at 0x${(rd & ~31).toString(16)}`);
      return false;
    }
    if ((rd & ~31) === s.cmdWrite) return true;
    cpu.charge(cpu.cost['itsCommandNs'] ?? 20);
  }
  pr_err('ITS: command queue timeout');
  return false;
}

function its_send_sync(cpu: ArchCpu, target: number): boolean {
  return its_send_cmd(cpu, its_build_sync_cmd(cmdScratch, target));
}

function lpi_set_enabled(d: IrqDesc, on: boolean): void {
  const s = its!;
  const cpu = thisCpu();
  const at = s.propTable + (d.hwirq - LPI_BASE);
  cpu.stPhys8(at, LPI_PROP_DEFAULT_PRIO | (on ? LPI_PROP_ENABLED : 0));
  cpu.dsb();
  // INV makes the Redistributor re-read the configuration byte.
  for (const [devid, dev] of s.devices) {
    const ev = dev.lpis.indexOf(d.hwirq);
    if (ev >= 0) {
      its_send_cmd(cpu, its_build_event_cmd(cmdScratch, GITS_CMD_INV, devid, ev));
      break;
    }
  }
}

const its_irq_chip: IrqChip = {
  name: 'ITS-MSI',
  irq_mask: (d) => lpi_set_enabled(d, false),
  irq_unmask: (d) => lpi_set_enabled(d, true),
};

function write_msi_msg(dev: PciDev, index: number, msix: boolean, addr: number, data: number): number {
  const cpu = thisCpu();
  if (msix) {
    const cap = pci_find_capability(dev, PCI_CAP_ID_MSIX);
    const tbl = pci_read_config_dword(dev, cap + 4);
    const base = pci_resource_start(dev, tbl & 7);
    if (base === 0) return -EINVAL;
    const entry = base + (tbl & ~7) + 16 * index;
    cpu.stPhys32(entry, addr % 4294967296);
    cpu.stPhys32(entry + 4, Math.floor(addr / 4294967296));
    cpu.stPhys32(entry + 8, data);
    cpu.stPhys32(entry + 12, 0); // unmask
    return 0;
  }
  if (index !== 0) return 0;
  const cap = pci_find_capability(dev, PCI_CAP_ID_MSI);
  const ctrl = pci_read_config_word(dev, cap + 2);
  pci_write_config_dword(dev, cap + 4, addr % 4294967296);
  if (ctrl & 0x80) {
    pci_write_config_dword(dev, cap + 8, Math.floor(addr / 4294967296));
    pci_write_config_word(dev, cap + 12, data);
  } else pci_write_config_word(dev, cap + 8, data);
  return 0;
}

function its_msi_alloc(dev: PciDev, nvec: number, msix: boolean): number[] | number {
  const s = its;
  if (s === null) return -ENOSPC;
  const map = pci_msi_map(dev);
  if (map === undefined) return -EINVAL;
  const devid = map.id;
  const cpu = thisCpu();
  if (s.nextLpi + nvec > 2 ** LPI_ID_BITS) return -ENOSPC;
  const bits = Math.max(1, Math.ceil(Math.log2(Math.max(2, nvec))));
  const itt = alloc_table(Math.max(256, (1 << bits) * s.ittEntrySize));
  if (itt < 0) return -ENOMEM;
  if (!its_send_cmd(cpu, its_build_mapd_cmd(cmdScratch, devid, bits, itt, true))) return -EINVAL;
  const lpis: number[] = [];
  const irqs: number[] = [];
  for (let ev = 0; ev < nvec; ev++) {
    const lpi = s.nextLpi++;
    lpis.push(lpi);
    cpu.stPhys8(s.propTable + (lpi - LPI_BASE), LPI_PROP_DEFAULT_PRIO);
    // ICID 0: core 0's collection.
    its_send_cmd(cpu, its_build_mapti_cmd(cmdScratch, devid, ev, lpi, 0));
    irqs.push(irq_create_mapping(s.domain, lpi));
  }
  its_send_sync(cpu, 0);
  s.devices.set(devid, { itt, lpis });
  const addr = iommu_dma_compose_msi_addr(dev, s.base + GITS_TRANSLATER);
  for (let ev = 0; ev < nvec; ev++) {
    const r = write_msi_msg(dev, ev, msix, addr, ev);
    if (r < 0) return r;
  }
  if (msix) {
    const cap = pci_find_capability(dev, PCI_CAP_ID_MSIX);
    const ctrl = pci_read_config_word(dev, cap + 2);
    pci_write_config_word(dev, cap + 2, (ctrl | 0x8000) & ~0x4000);
  } else {
    const cap = pci_find_capability(dev, PCI_CAP_ID_MSI);
    const ctrl = pci_read_config_word(dev, cap + 2);
    pci_write_config_word(dev, cap + 2, (ctrl & ~0x70) | (Math.ceil(Math.log2(nvec)) << 4) | 1);
  }
  pr_info(`${dev.name}: ITS DeviceID 0x${devid.toString(16)}: ${nvec} ${msix ? 'MSI-X' : 'MSI'} vector(s) -> LPI ${lpis[0]}..${lpis[lpis.length - 1]}`);
  return irqs;
}

function its_msi_free(dev: PciDev): void {
  const s = its;
  const map = pci_msi_map(dev);
  if (s === null || map === undefined) return;
  const d = s.devices.get(map.id);
  if (d === undefined) return;
  const cpu = thisCpu();
  for (let ev = 0; ev < d.lpis.length; ev++) its_send_cmd(cpu, its_build_event_cmd(cmdScratch, GITS_CMD_DISCARD, map.id, ev));
  // MAPD with V = 0: Size and ITT_addr are ignored.
  its_send_cmd(cpu, its_build_mapd_cmd(cmdScratch, map.id, 1, 0, false));
  its_send_sync(cpu, 0);
  s.devices.delete(map.id);
  const msixCap = pci_find_capability(dev, PCI_CAP_ID_MSIX);
  if (dev.msix_enabled && msixCap) pci_write_config_word(dev, msixCap + 2, pci_read_config_word(dev, msixCap + 2) & ~0x8000);
  const msiCap = pci_find_capability(dev, PCI_CAP_ID_MSI);
  if (dev.msi_enabled && msiCap) pci_write_config_word(dev, msiCap + 2, pci_read_config_word(dev, msiCap + 2) & ~1);
}

/** Enables LPIs on one core's Redistributor (its_cpu_init_lpis). */
function its_cpu_init_lpis(cpu: ArchCpu, core: number, propTable: number): boolean {
  const rd = gic_rdist_base(core);
  const pend = alloc_table(2 ** LPI_ID_BITS / 8);
  if (pend < 0) return false;
  cpu.stPhys64(rd + GICR_PROPBASER, BigInt(propTable) | BigInt(LPI_ID_BITS - 1));
  cpu.stPhys64(rd + GICR_PENDBASER, BigInt(pend));
  cpu.stPhys32(rd + GICR_CTLR, cpu.ldPhys32(rd + GICR_CTLR) | GICR_CTLR_ENABLE_LPIS);
  return true;
}

/** its_init: tables, command queue, collections for `nrCpus` cores, MSI domain. */
export function its_init(cpu: ArchCpu, nrCpus: number): boolean {
  its = null;
  pci_set_msi_domain(undefined);
  gic_set_lpi_domain(null);
  const np = of_find_compatible_node(null, 'arm,gic-v3-its');
  const reg = np ? of_reg(np)[0] : undefined;
  if (reg === undefined) return false;
  const base = reg.start;
  const typer = cpu.ldPhys64n(base + GITS_TYPER);
  const ittEntrySize = Number((typer >> 4n) & 0xfn) + 1;
  const devBits = Number((typer >> 13n) & 0x1fn) + 1;
  cpu.stPhys32(base + GITS_CTLR, 0);
  for (let i = 0; i < 1000 && !(cpu.ldPhys32(base + GITS_CTLR) & GITS_CTLR_QUIESCENT); i++) cpu.charge(100);
  const cmdq = alloc_table(ITS_CMD_QUEUE_SZ);
  const propTable = alloc_table(2 ** LPI_ID_BITS - LPI_BASE);
  if (cmdq < 0 || propTable < 0) return false;
  cpu.fillPhys(propTable, LPI_PROP_DEFAULT_PRIO, 2 ** LPI_ID_BITS - LPI_BASE);
  cpu.stPhys64(base + GITS_CBASER, (1n << 63n) | BigInt(cmdq) | BigInt(ITS_CMD_QUEUE_SZ / PAGE - 1));
  cpu.stPhys64(base + GITS_CWRITER, 0);
  for (let n = 0; n < 8; n++) {
    const v = cpu.ldPhys64n(base + GITS_BASER + 8 * n);
    const type = Number((v >> 56n) & 7n);
    if (type !== GITS_BASER_TYPE_DEVICE && type !== GITS_BASER_TYPE_COLLECTION) continue;
    const esz = Number((v >> 48n) & 0x1fn) + 1;
    const entries = type === GITS_BASER_TYPE_DEVICE ? 2 ** Math.min(devBits, 16) : Math.max(nrCpus, 16);
    const bytes = Math.max(PAGE, entries * esz);
    const pages = Math.ceil(bytes / PAGE);
    const tbl = alloc_table(bytes);
    if (tbl < 0) return false;
    const keep = v & (7n << 56n) & ~(1n << 63n);
    cpu.stPhys64(base + GITS_BASER + 8 * n, (1n << 63n) | keep | (BigInt(esz - 1) << 48n) | BigInt(tbl) | BigInt(Math.min(pages, 256) - 1));
  }
  for (let c = 0; c < nrCpus; c++) if (!its_cpu_init_lpis(cpu, c, propTable)) return false;
  const domain = new IrqDomain('ITS-MSI', its_irq_chip, () => false);
  its = { base, cmdq, cmdWrite: 0, propTable, ittEntrySize, nextLpi: LPI_BASE, domain, devices: new Map() };
  cpu.stPhys32(base + GITS_CTLR, GITS_CTLR_ENABLE);
  for (let c = 0; c < nrCpus; c++) its_send_cmd(cpu, its_build_mapc_cmd(cmdScratch, c, c));
  its_send_sync(cpu, 0);
  gic_set_lpi_domain(domain);
  pci_set_msi_domain({ alloc: its_msi_alloc, free: its_msi_free });
  pr_info(`ITS ${np!.full_name}: allocated 65536 Devices, cmd queue at 0x${cmdq.toString(16)}`);
  pr_info(`GICv3: using LPI property table @0x${propTable.toString(16).padStart(16, '0')}`);
  return true;
}
