// PCI core (drivers/pci/{pci.c,probe.c,pci-driver.c,access.c,quirks.c,pci-sysfs.c,
// msi/} in shape): devices found by the host bridge's ECAM scan, configuration
// accessors, BAR decoding (firmware assigned them; unassigned BARs get space from the
// bridge window), pci_enable_device/pci_set_master/pci_iomap, capability lookup,
// driver matching by id table or driver_override, DMA ownership around probe
// (pci_dma_configure), quirks, the sysfs view, and MSI/MSI-X vectors through the MSI
// domain the interrupt controller (ITS) installs.

import { thisCpu } from '../../../arch/index.js';
import { Device, NUMA_NO_NODE, bus_probe_device, bus_register, device_register, driver_register, driver_unregister, type BusType, type DeviceDriver } from '../base/core.js';
import { dma_get_mask } from '../iommu/dma-iommu.js';
import { current, for_each_cpu_rq, nr_cpu_ids } from '../../sched/core.js';
import { CAP_SYS_ADMIN, has_capability } from '../../sched/task.js';
import { iommu_device_unuse_default_domain, iommu_device_use_default_domain } from '../iommu/iommu.js';
import { sysfs_create_bin_file, sysfs_create_file, sysfs_create_link } from '../../fs/sysfs/sysfs.js';
import { generic_file_llseek } from '../../fs/libfs.js';
import { insert_iomem } from '../../fs/proc/generic.js';
import type { FileOperations } from '../../fs/types.js';
import { EBUSY, EINVAL, EIO, ENODEV, ENOSPC, ENOTTY, EPERM } from '../../lib/errno.js';
import { msleep } from '../../time/sleep.js';
import { pgprot_device, pgprot_writecombine, remap_pfn_range } from '../../mm/memory.js';
import type { VmAreaStruct } from '../../mm/mm_types.js';
import { PAGE_SIZE } from '../../mm/page.js';
import { pr_err, pr_info } from '../../lib/printk.js';

// Configuration header (PCI Local Bus 3.0 6.1; type 0)
export const PCI_VENDOR_ID = 0x00;
export const PCI_DEVICE_ID = 0x02;
export const PCI_COMMAND = 0x04;
export const PCI_STATUS = 0x06;
export const PCI_REVISION_ID = 0x08;
export const PCI_CLASS_PROG = 0x09;
export const PCI_CLASS_DEVICE = 0x0a;
export const PCI_HEADER_TYPE = 0x0e;
export const PCI_BASE_ADDRESS_0 = 0x10;
export const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
export const PCI_SUBSYSTEM_ID = 0x2e;
export const PCI_CAPABILITY_LIST = 0x34;
export const PCI_INTERRUPT_LINE = 0x3c;
export const PCI_INTERRUPT_PIN = 0x3d;
export const PCI_COMMAND_IO = 0x1;
export const PCI_COMMAND_MEMORY = 0x2;
export const PCI_COMMAND_MASTER = 0x4;
export const PCI_COMMAND_INTX_DISABLE = 0x400;
export const PCI_STATUS_CAP_LIST = 0x10;
export const PCI_BASE_ADDRESS_SPACE_IO = 0x1;
export const PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x4;
export const PCI_BASE_ADDRESS_MEM_PREFETCH = 0x8;
// Capability ids (PCI 3.0 appendix H, PCIe 7.x)
export const PCI_CAP_ID_PM = 0x01;
export const PCI_CAP_ID_MSI = 0x05;
export const PCI_CAP_ID_EXP = 0x10;
export const PCI_CAP_ID_MSIX = 0x11;
export const PCI_EXT_CAP_ID_ATS = 0x0f;
export const PCI_EXT_CAP_ID_PRI = 0x13;
export const PCI_EXT_CAP_ID_PASID = 0x1b;
export const PCI_ANY_ID = 0xffff;
export const PCI_NUM_RESOURCES = 6;

export const PCI_IRQ_INTX = 1 << 0;
export const PCI_IRQ_MSI = 1 << 1;
export const PCI_IRQ_MSIX = 1 << 2;
export const PCI_IRQ_ALL_TYPES = PCI_IRQ_INTX | PCI_IRQ_MSI | PCI_IRQ_MSIX;

/** How config space is reached (the host bridge's ECAM window). */
export interface PciOps {
  map_bus(bus: number, devfn: number, where: number): number;
}

export interface PciResource {
  start: number;
  end: number;
  flags: number;
}

export const IORESOURCE_MEM = 0x200;
export const IORESOURCE_PREFETCH = 0x2000;
export const IORESOURCE_MEM_64 = 0x100000;

export class PciDev extends Device {
  vendor = 0;
  device = 0;
  subsystem_vendor = 0;
  subsystem_device = 0;
  revision = 0;
  /** 24-bit class code: class << 16 | subclass << 8 | prog-if. */
  class_code = 0;
  hdr_type = 0;
  readonly resource: PciResource[] = [];
  irq = 0;
  msi_enabled = false;
  msix_enabled = false;
  /** Linux IRQ numbers of the allocated MSI/MSI-X vectors. */
  irqs: number[] = [];
  is_busmaster = false;
  enable_cnt = 0;
  /** Set by quirks (e.g. quirk_huawei_pcie_sva): the device can do PASID/PRI-less SVA. */
  eetlp_prefix_path = false;
  pasid_no_tlp = false;
  /** sysfs driver_override: when set, only the driver of this name may bind. */
  driver_override: string | null = null;
  /** MSI and MSI-X refused for this function (msi_bus 0, or a quirk). */
  no_msi = false;
  constructor(
    readonly ops: PciOps,
    readonly domain: number,
    readonly busnr: number,
    readonly devfn: number,
  ) {
    super(pci_name_of(domain, busnr, devfn));
  }
  /** PCI_DEVID: the requester ID (bus << 8 | devfn). */
  get devid(): number {
    return (this.busnr << 8) | this.devfn;
  }
}

export function pci_name_of(domain: number, bus: number, devfn: number): string {
  const h = (n: number, w: number): string => n.toString(16).padStart(w, '0');
  return `${h(domain, 4)}:${h(bus, 2)}:${h(devfn >> 3, 2)}.${devfn & 7}`;
}

export const PCI_DEVFN = (slot: number, fn: number): number => ((slot & 0x1f) << 3) | (fn & 7);

// ---- configuration accessors (drivers/pci/access.c) ----

export function pci_bus_read_config(ops: PciOps, bus: number, devfn: number, where: number, size: 1 | 2 | 4): number {
  const pa = ops.map_bus(bus, devfn, where);
  const cpu = thisCpu();
  return size === 1 ? cpu.ldPhys8(pa) : size === 2 ? cpu.ldPhys16(pa) : cpu.ldPhys32(pa);
}

export function pci_bus_write_config(ops: PciOps, bus: number, devfn: number, where: number, size: 1 | 2 | 4, v: number): void {
  const pa = ops.map_bus(bus, devfn, where);
  const cpu = thisCpu();
  if (size === 1) cpu.stPhys8(pa, v);
  else if (size === 2) cpu.stPhys16(pa, v);
  else cpu.stPhys32(pa, v >>> 0);
}

export const pci_read_config_byte = (d: PciDev, where: number): number => pci_bus_read_config(d.ops, d.busnr, d.devfn, where, 1);
export const pci_read_config_word = (d: PciDev, where: number): number => pci_bus_read_config(d.ops, d.busnr, d.devfn, where, 2);
export const pci_read_config_dword = (d: PciDev, where: number): number => pci_bus_read_config(d.ops, d.busnr, d.devfn, where, 4);
export const pci_write_config_byte = (d: PciDev, where: number, v: number): void => pci_bus_write_config(d.ops, d.busnr, d.devfn, where, 1, v);
export const pci_write_config_word = (d: PciDev, where: number, v: number): void => pci_bus_write_config(d.ops, d.busnr, d.devfn, where, 2, v);
export const pci_write_config_dword = (d: PciDev, where: number, v: number): void => pci_bus_write_config(d.ops, d.busnr, d.devfn, where, 4, v);

/** pci_find_capability: offset of capability `cap` in the standard list, or 0. */
export function pci_find_capability(d: PciDev, cap: number): number {
  if (!(pci_read_config_word(d, PCI_STATUS) & PCI_STATUS_CAP_LIST)) return 0;
  let pos = pci_read_config_byte(d, PCI_CAPABILITY_LIST) & ~3;
  for (let ttl = 48; pos >= 0x40 && ttl > 0; ttl--) {
    const id = pci_read_config_byte(d, pos);
    if (id === 0xff) break;
    if (id === cap) return pos;
    pos = pci_read_config_byte(d, pos + 1) & ~3;
  }
  return 0;
}

/** pci_find_ext_capability: offset of extended capability `cap` (from 0x100), or 0. */
export function pci_find_ext_capability(d: PciDev, cap: number): number {
  let pos = 0x100;
  for (let ttl = (4096 - 256) / 8; ttl > 0; ttl--) {
    const header = pci_read_config_dword(d, pos);
    if (header === 0 || header === 0xffffffff) return 0;
    if ((header & 0xffff) === cap) return pos;
    pos = (header >>> 20) & 0xffc;
    if (pos < 0x100) return 0;
  }
  return 0;
}

// ---- BARs (drivers/pci/probe.c __pci_read_base) ----

let windowNext = 0;
let windowEnd = 0;
/** The host bridge's memory window in /proc/iomem (BARs are claimed below it). */
let windowName = '';

export function pci_set_mem_window(start: number, end: number, name = ''): void {
  windowNext = start;
  windowEnd = end;
  windowName = name;
}

/**
 * A host bridge window (struct resource_entry on pci_host_bridge.windows): CPU
 * addresses [start, end], IORESOURCE_* flags, and offset = CPU address - bus address.
 */
export interface PciBridgeWindow {
  readonly start: number;
  readonly end: number;
  readonly flags: number;
  readonly offset: number;
}

/** The windows of the one host bridge (this SoC has a single root complex). */
let bridgeWindows: PciBridgeWindow[] = [];

/** pci_add_resource_offset: the host driver records a window it parsed from the firmware. */
export function pci_add_resource_offset(start: number, end: number, flags: number, offset: number): void {
  bridgeWindows.push({ start, end, flags, offset });
}

/** pci_find_host_bridge(dev->bus)->windows. */
export function pci_host_bridge_windows(_d: PciDev): readonly PciBridgeWindow[] {
  return bridgeWindows;
}

function read_bases(d: PciDev): void {
  const cmd = pci_read_config_word(d, PCI_COMMAND);
  // Sizing with decode off, as __pci_read_base does.
  pci_write_config_word(d, PCI_COMMAND, cmd & ~(PCI_COMMAND_MEMORY | PCI_COMMAND_IO));
  for (let i = 0; i < PCI_NUM_RESOURCES; i++) {
    const reg = PCI_BASE_ADDRESS_0 + 4 * i;
    const lo = pci_read_config_dword(d, reg);
    if (lo & PCI_BASE_ADDRESS_SPACE_IO) {
      d.resource[i] = { start: 0, end: -1, flags: 0 };
      continue;
    }
    const is64 = (lo & 0x6) === PCI_BASE_ADDRESS_MEM_TYPE_64;
    pci_write_config_dword(d, reg, 0xffffffff);
    const szLo = pci_read_config_dword(d, reg);
    pci_write_config_dword(d, reg, lo);
    let hi = 0;
    let szHi = 0xffffffff;
    if (is64) {
      hi = pci_read_config_dword(d, reg + 4);
      pci_write_config_dword(d, reg + 4, 0xffffffff);
      szHi = pci_read_config_dword(d, reg + 4);
      pci_write_config_dword(d, reg + 4, hi);
    }
    const mask = BigInt(szHi >>> 0) * 4294967296n + BigInt((szLo & ~0xf) >>> 0);
    let flags = IORESOURCE_MEM | (lo & PCI_BASE_ADDRESS_MEM_PREFETCH ? IORESOURCE_PREFETCH : 0) | (is64 ? IORESOURCE_MEM_64 : 0);
    if ((szLo & ~0xf) === 0) {
      d.resource[i] = { start: 0, end: -1, flags: 0 };
      if (is64) i++;
      continue;
    }
    const size = Number(((is64 ? ~mask : ~mask & 0xffffffffn) & (is64 ? 0xffffffffffffffffn : 0xffffffffn)) + 1n);
    let start = (hi >>> 0) * 4294967296 + ((lo & ~0xf) >>> 0);
    if (start === 0 && windowNext > 0) {
      // pci_assign_unassigned_resources: naturally aligned space from the bridge window.
      const aligned = Math.ceil(windowNext / size) * size;
      if (aligned + size - 1 <= windowEnd) {
        start = aligned;
        windowNext = aligned + size;
        pci_write_config_dword(d, reg, (start % 4294967296) | (lo & 0xf));
        if (is64) pci_write_config_dword(d, reg + 4, Math.floor(start / 4294967296));
      } else flags = 0;
    }
    d.resource[i] = { start, end: start + size - 1, flags };
    if (is64) {
      i++;
      d.resource[i] = { start: 0, end: -1, flags: 0 };
    }
  }
  pci_write_config_word(d, PCI_COMMAND, cmd);
}

export function pci_resource_start(d: PciDev, bar: number): number {
  return d.resource[bar]?.start ?? 0;
}

export function pci_resource_len(d: PciDev, bar: number): number {
  const r = d.resource[bar];
  return r && r.end >= r.start ? r.end - r.start + 1 : 0;
}

export function pci_resource_flags(d: PciDev, bar: number): number {
  return d.resource[bar]?.flags ?? 0;
}

/** pci_iomap: the CPU physical address of a BAR (the kernel reaches MMIO physically). 0 if none. */
export function pci_iomap(d: PciDev, bar: number, maxlen = 0): number {
  const len = pci_resource_len(d, bar);
  if (len === 0 || (maxlen && maxlen > len)) return 0;
  return pci_resource_start(d, bar);
}

// ---- enable / master (drivers/pci/pci.c) ----

export function pci_enable_device(d: PciDev): number {
  return pci_enable_device_mem(d);
}

export function pci_enable_device_mem(d: PciDev): number {
  if (d.enable_cnt++ > 0) return 0;
  const cmd = pci_read_config_word(d, PCI_COMMAND);
  let want = cmd;
  for (let i = 0; i < PCI_NUM_RESOURCES; i++) if (d.resource[i]?.flags & IORESOURCE_MEM) want |= PCI_COMMAND_MEMORY;
  if (want !== cmd) pci_write_config_word(d, PCI_COMMAND, want);
  return 0;
}

export function pci_disable_device(d: PciDev): void {
  if (d.enable_cnt === 0 || --d.enable_cnt > 0) return;
  const cmd = pci_read_config_word(d, PCI_COMMAND);
  pci_write_config_word(d, PCI_COMMAND, cmd & ~(PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY));
  d.is_busmaster = false;
}

export function pci_set_master(d: PciDev): void {
  const cmd = pci_read_config_word(d, PCI_COMMAND);
  if (!(cmd & PCI_COMMAND_MASTER)) pci_write_config_word(d, PCI_COMMAND, cmd | PCI_COMMAND_MASTER);
  d.is_busmaster = true;
}

export function pci_clear_master(d: PciDev): void {
  const cmd = pci_read_config_word(d, PCI_COMMAND);
  pci_write_config_word(d, PCI_COMMAND, cmd & ~PCI_COMMAND_MASTER);
  d.is_busmaster = false;
}

// ---- function reset and config state (drivers/pci/pci.c) ----

// PCI Express capability registers (include/uapi/linux/pci_regs.h)
export const PCI_EXP_DEVCAP = 0x04;
export const PCI_EXP_DEVCAP_FLR = 0x10000000;
export const PCI_EXP_DEVCTL = 0x08;
export const PCI_EXP_DEVCTL_BCR_FLR = 0x8000;
export const PCI_EXP_DEVSTA = 0x0a;
export const PCI_EXP_DEVSTA_TRPND = 0x0020;

/** pci_is_pcie: the function has a PCI Express capability. */
export function pci_is_pcie(d: PciDev): boolean {
  return pci_find_capability(d, PCI_CAP_ID_EXP) !== 0;
}

/** pcie_has_flr: Device Capabilities says Function Level Reset is supported. */
export function pcie_has_flr(d: PciDev): boolean {
  const pos = pci_find_capability(d, PCI_CAP_ID_EXP);
  return pos !== 0 && (pci_read_config_dword(d, pos + PCI_EXP_DEVCAP) & PCI_EXP_DEVCAP_FLR) !== 0;
}

/** Config state saved by pci_save_state: the header and the MSI/MSI-X/PCIe control words. */
export interface PciSavedState {
  readonly header: number[];
  readonly caps: [number, number][];
}

/** pci_save_state: what a function reset loses and pci_restore_state puts back. */
export function pci_save_state(d: PciDev): PciSavedState {
  const header: number[] = [];
  for (let i = 0; i < 16; i++) header.push(pci_read_config_dword(d, 4 * i));
  const caps: [number, number][] = [];
  const msi = pci_find_capability(d, PCI_CAP_ID_MSI);
  if (msi) for (let o = 0; o < 24; o += 4) caps.push([msi + o, pci_read_config_dword(d, msi + o)]);
  const msix = pci_find_capability(d, PCI_CAP_ID_MSIX);
  if (msix) caps.push([msix, pci_read_config_dword(d, msix)]);
  const exp = pci_find_capability(d, PCI_CAP_ID_EXP);
  if (exp) caps.push([exp + PCI_EXP_DEVCTL, pci_read_config_dword(d, exp + PCI_EXP_DEVCTL) & 0xffff & ~PCI_EXP_DEVCTL_BCR_FLR]);
  return { header, caps };
}

/** pci_restore_state: the BARs and the rest of the header first, the Command register last, then the capabilities. */
export function pci_restore_state(d: PciDev, st: PciSavedState): void {
  for (let i = 15; i >= 2; i--) pci_write_config_dword(d, 4 * i, st.header[i]!);
  for (const [where, v] of st.caps) pci_write_config_dword(d, where, v);
  pci_write_config_word(d, PCI_COMMAND, st.header[1]! & 0xffff);
}

/**
 * pcie_flr: waits (up to 1 s, virtual) for Transactions Pending to clear, sets
 * Initiate Function Level Reset, waits the 100 ms the spec gives the function, then
 * until it answers config reads again. 0, or -ENOTTY without FLR support.
 */
export function* pcie_flr(d: PciDev): Generator<unknown, number, unknown> {
  if (!pcie_has_flr(d)) return -ENOTTY;
  const pos = pci_find_capability(d, PCI_CAP_ID_EXP);
  for (let waited = 0; pci_read_config_word(d, pos + PCI_EXP_DEVSTA) & PCI_EXP_DEVSTA_TRPND; waited += 100) {
    if (waited >= 1000) {
      pr_info(`pci ${d.name}: timed out waiting for pending transaction; performing function level reset anyway`);
      break;
    }
    yield* msleep(100);
  }
  pci_write_config_word(d, pos + PCI_EXP_DEVCTL, pci_read_config_word(d, pos + PCI_EXP_DEVCTL) | PCI_EXP_DEVCTL_BCR_FLR);
  yield* msleep(100);
  for (let waited = 0; pci_read_config_dword(d, PCI_VENDOR_ID) === 0xffffffff && waited < 60000; waited += 20) yield* msleep(20);
  return 0;
}

/**
 * pci_try_reset_function (__pci_reset_function_locked with FLR as the only method here):
 * saves the config state, resets, restores it. -ENOTTY when the function has no reset.
 */
export function* pci_try_reset_function(d: PciDev): Generator<unknown, number, unknown> {
  if (!pcie_has_flr(d)) return -ENOTTY;
  const st = pci_save_state(d);
  // pci_dev_save_and_disable: no new transactions while the reset runs
  pci_write_config_word(d, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE);
  const r = yield* pcie_flr(d);
  pci_restore_state(d, st);
  return r;
}

// ---- MSI / MSI-X (drivers/pci/msi) ----

/** The MSI domain of the interrupt controller (GICv3 ITS): allocates vectors for a device. */
export interface PciMsiDomain {
  /** Sets up `nvec` vectors (MSI-X table entries or MSI multi-message) and returns their IRQ numbers, or -errno. */
  alloc(dev: PciDev, nvec: number, msix: boolean): number[] | number;
  free(dev: PciDev): void;
}

let msiDomain: PciMsiDomain | undefined;

export function pci_set_msi_domain(d: PciMsiDomain | undefined): void {
  msiDomain = d;
}

/**
 * pci_alloc_irq_vectors: between min and max vectors, MSI-X first, then MSI, then
 * INTx (not wired on this SoC). Returns the number allocated or -errno.
 */
export function pci_alloc_irq_vectors(d: PciDev, min: number, max: number, flags: number): number {
  if (min < 1 || max < min) return -EINVAL;
  if (msiDomain === undefined) return -ENOSPC;
  // pci_msi_supported: a function with no_msi gets neither MSI-X nor MSI
  if (flags & PCI_IRQ_MSIX && !d.no_msi && pci_find_capability(d, PCI_CAP_ID_MSIX)) {
    const ctrl = pci_read_config_word(d, pci_find_capability(d, PCI_CAP_ID_MSIX) + 2);
    const n = Math.min(max, (ctrl & 0x7ff) + 1);
    if (n >= min) {
      const r = msiDomain.alloc(d, n, true);
      if (typeof r !== 'number') {
        d.irqs = r;
        d.msix_enabled = true;
        return r.length;
      }
    }
  }
  if (flags & PCI_IRQ_MSI && !d.no_msi && pci_find_capability(d, PCI_CAP_ID_MSI)) {
    const ctrl = pci_read_config_word(d, pci_find_capability(d, PCI_CAP_ID_MSI) + 2);
    const mmc = 1 << ((ctrl >> 1) & 7);
    // __pci_enable_msi_range: any count up to the capability's; the MME field written
    // is the log2 roundup (a 3-vector allocation enables 4 messages, 3 are used).
    const n = Math.min(max, mmc);
    if (n >= min) {
      const r = msiDomain.alloc(d, n, false);
      if (typeof r !== 'number') {
        d.irqs = r;
        d.msi_enabled = true;
        return r.length;
      }
      return r;
    }
  }
  return -ENOSPC;
}

/** pci_irq_vector: the Linux IRQ of vector `nr`, or -EINVAL. */
export function pci_irq_vector(d: PciDev, nr: number): number {
  return d.irqs[nr] ?? -EINVAL;
}

export function pci_free_irq_vectors(d: PciDev): void {
  msiDomain?.free(d);
  d.irqs = [];
  d.msi_enabled = d.msix_enabled = false;
}

// ---- driver matching (drivers/pci/pci-driver.c) ----

export interface PciDeviceId {
  vendor: number;
  device: number;
  subvendor?: number;
  subdevice?: number;
  class?: number;
  class_mask?: number;
  driver_data?: unknown;
}

export interface PciDriver extends DeviceDriver {
  readonly id_table: readonly PciDeviceId[];
  pci_probe(dev: PciDev, id: PciDeviceId): Generator<unknown, number, unknown>;
  pci_remove?(dev: PciDev): Generator<unknown, void, unknown>;
}

export function pci_match_one_device(id: PciDeviceId, d: PciDev): boolean {
  return (
    (id.vendor === PCI_ANY_ID || id.vendor === d.vendor) &&
    (id.device === PCI_ANY_ID || id.device === d.device) &&
    (id.subvendor === undefined || id.subvendor === PCI_ANY_ID || id.subvendor === d.subsystem_vendor) &&
    (id.subdevice === undefined || id.subdevice === PCI_ANY_ID || id.subdevice === d.subsystem_device) &&
    ((id.class_mask ?? 0) === 0 || (((id.class ?? 0) ^ d.class_code) & (id.class_mask ?? 0)) === 0)
  );
}

/** pci_device_id_any: what a driver_override match binds with when no id matches. */
const PCI_DEVICE_ID_ANY: PciDeviceId = { vendor: PCI_ANY_ID, device: PCI_ANY_ID, subvendor: PCI_ANY_ID, subdevice: PCI_ANY_ID };

/**
 * pci_match_device: with a driver_override only the driver of that name matches (with
 * its id_table entry, or the catch-all id when none matches); otherwise the id table.
 */
function pci_match_device(drv: PciDriver, d: PciDev): PciDeviceId | undefined {
  if (d.driver_override !== null && d.driver_override !== drv.name) return undefined;
  const id = drv.id_table.find((x) => pci_match_one_device(x, d));
  if (id !== undefined) return id;
  return d.driver_override !== null ? PCI_DEVICE_ID_ANY : undefined;
}

export const pci_bus_type: BusType = {
  name: 'pci',
  match(dev, drv): boolean {
    return dev instanceof PciDev && 'id_table' in drv && pci_match_device(drv as PciDriver, dev) !== undefined;
  },
  *probe(dev): Generator<unknown, number, unknown> {
    const drv = dev.driver as PciDriver;
    const pdev = dev as PciDev;
    const id = pci_match_device(drv, pdev);
    if (id === undefined) return -ENODEV;
    return yield* drv.pci_probe(pdev, id);
  },
  *remove(dev): Generator<unknown, void, unknown> {
    const drv = dev.driver as PciDriver;
    if (drv.pci_remove) yield* drv.pci_remove(dev as PciDev);
  },
  /** pci_dma_configure: a driver using the DMA API becomes a user of the group's default domain. */
  dma_configure(dev): number {
    if (dev.driver === null || dev.driver.driver_managed_dma) return 0;
    return iommu_device_use_default_domain(dev);
  },
  /** pci_dma_cleanup. */
  dma_cleanup(dev): void {
    if (dev.driver !== null && !dev.driver.driver_managed_dma) iommu_device_unuse_default_domain(dev);
  },
};

export function* pci_register_driver(drv: PciDriver): Generator<unknown, number, unknown> {
  drv.bus = pci_bus_type;
  return yield* driver_register(drv);
}

export function* pci_unregister_driver(drv: PciDriver): Generator<unknown, void, unknown> {
  yield* driver_unregister(drv);
}

// ---- quirks (drivers/pci/quirks.c) ----

export interface PciFixup {
  vendor: number;
  device: number;
  /** Runs at header (enumeration) time. */
  hook(d: PciDev): void;
  name: string;
}

const fixups: PciFixup[] = [];

/** DECLARE_PCI_FIXUP_HEADER */
export function declare_pci_fixup_header(f: PciFixup): void {
  if (!fixups.some((x) => x.name === f.name && x.vendor === f.vendor && x.device === f.device)) fixups.push(f);
}

function pci_fixup_device(d: PciDev): void {
  for (const f of fixups) if ((f.vendor === PCI_ANY_ID || f.vendor === d.vendor) && (f.device === PCI_ANY_ID || f.device === d.device)) f.hook(d);
}

// ---- enumeration (drivers/pci/probe.c) ----

let pciDevices: PciDev[] = [];

export function pci_core_init(): void {
  pciDevices = [];
  windowNext = windowEnd = 0;
  windowName = '';
  bridgeWindows = [];
  bus_register(pci_bus_type);
}

export function pci_devices(): readonly PciDev[] {
  return pciDevices;
}

export function pci_get_device(vendor: number, device: number, from?: PciDev): PciDev | undefined {
  const start = from ? pciDevices.indexOf(from) + 1 : 0;
  return pciDevices.slice(start).find((d) => (vendor === PCI_ANY_ID || d.vendor === vendor) && (device === PCI_ANY_ID || d.device === device));
}

const hex = (n: number, w: number): string => `0x${n.toString(16).padStart(w, '0')}`;

// ---- user mappings of BARs (drivers/pci/mmap.c, pci-sysfs.c resource<N>) ----

/** BAR `bar`'s length in pages, rounded up. */
function pci_resource_pages(d: PciDev, bar: number): number {
  return Math.floor((pci_resource_len(d, bar) - 1) / PAGE_SIZE) + 1;
}

/**
 * pci_mmap_resource_range: maps pages vm_pgoff.. of BAR `bar` into `vma` as device
 * memory — Device-nGnRE PTEs (Normal non-cacheable with write_combine), vm_pgoff
 * turned into the PFN, and remap_pfn_range's VM_IO | VM_PFNMAP | VM_DONTEXPAND |
 * VM_DONTDUMP. Returns 0 or -EINVAL when the range runs past the BAR.
 */
export function pci_mmap_resource_range(d: PciDev, bar: number, vma: VmAreaStruct, write_combine: boolean): number {
  if (vma.vm_pgoff + vma.size / PAGE_SIZE > pci_resource_pages(d, bar)) return -EINVAL;
  if (write_combine) pgprot_writecombine(vma);
  else pgprot_device(vma);
  vma.vm_pgoff += Math.floor(pci_resource_start(d, bar) / PAGE_SIZE);
  return remap_pfn_range(vma, vma.vm_start, vma.vm_pgoff, vma.size);
}

/** pci_mmap_fits (PCI_MMAP_SYSFS): the VMA's pages [vm_pgoff, +n) lie inside the BAR. */
function pci_mmap_fits(d: PciDev, bar: number, vma: VmAreaStruct): boolean {
  const size = pci_resource_pages(d, bar);
  const start = vma.vm_pgoff;
  return start < size && size - start >= vma.size / PAGE_SIZE;
}

/**
 * The file operations of resource<N>[_wc] (a sysfs bin_attribute with mmap): mmap
 * checks the range against the BAR (pci_mmap_resource); read() of a memory BAR has
 * no handler (sysfs_kf_bin_read: -EIO). Who may map it is the file's mode: 0600 root.
 */
function pci_resource_fops(d: PciDev, bar: number, write_combine: boolean): FileOperations {
  return {
    llseek: generic_file_llseek,
    *read() {
      return -EIO;
    },
    mmap(_file, vma) {
      if (!(pci_resource_flags(d, bar) & IORESOURCE_MEM) || !pci_mmap_fits(d, bar, vma)) return -EINVAL;
      return pci_mmap_resource_range(d, bar, vma, write_combine);
    },
  };
}

/**
 * driver_set_override (drivers/base/driver.c) for driver_override_store: the name up
 * to the first newline; an empty write or a lone newline clears the override. It
 * changes who may bind next, not the driver bound now.
 */
function driver_set_override(d: PciDev, buf: string): number {
  if (buf.length >= PAGE_SIZE - 1) return -EINVAL;
  // the string ends at its first NUL, as strlen sees it
  const s = buf.split('\0')[0]!;
  if (s.length === 0) {
    d.driver_override = null;
    return 0;
  }
  const nl = s.indexOf('\n');
  d.driver_override = nl === 0 ? null : nl > 0 ? s.slice(0, nl) : s;
  return 0;
}

/** kstrtoul(buf, 0): decimal, 0x hex or 0 octal, one trailing newline allowed; -EINVAL otherwise. */
function kstrtoul(buf: string): number {
  const t = buf.endsWith('\n') ? buf.slice(0, -1) : buf;
  const v = /^0x[0-9a-f]+$/i.test(t) ? Number.parseInt(t.slice(2), 16) : /^0[0-7]*$/.test(t) ? Number.parseInt(t, 8) : /^[1-9][0-9]*$/.test(t) ? Number(t) : -1;
  return v >= 0 && Number.isSafeInteger(v) ? v : -EINVAL;
}

/** kstrtoint(buf, 0): kstrtoul with an optional minus sign; -EINVAL otherwise (the value is returned in `out`). */
function kstrtoint(buf: string, out: { v: number }): number {
  const neg = buf.startsWith('-');
  const v = kstrtoul(neg ? buf.slice(1) : buf);
  if (v < 0 || v > (neg ? 0x80000000 : 0x7fffffff)) return -EINVAL;
  out.v = neg ? -v : v;
  return 0;
}

/** enable_store: not while a driver is bound (-EBUSY); 1 enables (pci_enable_device), 0 disables an enabled function, else -EIO. */
function enable_store(d: PciDev, buf: string): number {
  const v = kstrtoul(buf);
  if (v < 0) return v;
  if (!has_capability(current(), CAP_SYS_ADMIN)) return -EPERM;
  if (d.driver !== null) return -EBUSY;
  if (v) return pci_enable_device(d);
  if (d.enable_cnt === 0) return -EIO;
  pci_disable_device(d);
  return 0;
}

/** msi_bus_store (an endpoint: no subordinate bus): 0 forbids MSI/MSI-X to drivers bound from now on. */
function msi_bus_store(d: PciDev, buf: string): number {
  const v = kstrtoul(buf);
  if (v < 0) return v;
  if (!has_capability(current(), CAP_SYS_ADMIN)) return -EPERM;
  d.no_msi = v === 0;
  pr_info(`pci ${d.name}: MSI/MSI-X ${d.no_msi ? 'disallowed' : 'allowed'} for future drivers`);
  return 0;
}

/** The NUMA nodes with memory and CPUs: this kernel has one (node 0, NODE_DATA). */
const node_online = (node: number): boolean => node === 0;

/** numa_node_store: a firmware workaround (root): -1 or an online node, else -EINVAL. */
function numa_node_store(d: PciDev, buf: string): number {
  if (!has_capability(current(), CAP_SYS_ADMIN)) return -EPERM;
  const out = { v: 0 };
  const r = kstrtoint(buf, out);
  if (r < 0) return r;
  if (out.v !== NUMA_NO_NODE && !node_online(out.v)) return -EINVAL;
  // pci_alert (KERN_ALERT; the nearest level printk has here is an error)
  pr_err(`pci ${d.name}: [Firmware Bug]: Overriding NUMA node to ${out.v}.  Contact your vendor for updates.`);
  d.numa_node = out.v;
  return 0;
}

/** local_cpus: cpumask_of_node, or every online CPU for NUMA_NO_NODE (one node holds them all). */
function local_cpu_mask(_d: PciDev): number {
  let m = 0;
  for_each_cpu_rq((rq) => {
    if (rq.online) m |= 2 ** rq.cpu;
  });
  return m;
}

/** "%*pb": the mask in hex, 32-bit groups separated by commas, the first group as wide as its bits need. */
function cpumask_pr_bitmap(mask: number, nbits: number): string {
  const groups: string[] = [];
  for (let lo = 0; lo < nbits; lo += 32) {
    const bits = Math.min(32, nbits - lo);
    const v = Math.floor(mask / 2 ** lo) % 2 ** bits;
    groups.unshift(v.toString(16).padStart(Math.ceil(bits / 4), '0'));
  }
  return groups.join(',');
}

/** "%*pbl": the set bits as ranges ("0-3,6"). */
function cpumask_pr_list(mask: number, nbits: number): string {
  const out: string[] = [];
  for (let i = 0; i < nbits; i++) {
    if (Math.floor(mask / 2 ** i) % 2 === 0) continue;
    let j = i;
    while (j + 1 < nbits && Math.floor(mask / 2 ** (j + 1)) % 2 === 1) j++;
    out.push(i === j ? `${i}` : `${i}-${j}`);
    i = j;
  }
  return out.join(',');
}

/** fls64: the number of significant bits of a mask (a 64-bit mask is 2^64 as a Number). */
function fls64(mask: number): number {
  let b = 0;
  for (let m = mask; m >= 1; m = Math.floor(m / 2)) b++;
  return Math.min(b, 64);
}

/** pci_create_resource_files: resource<N> for each memory BAR, plus resource<N>_wc when prefetchable. */
function pci_create_resource_files(d: PciDev): void {
  for (let i = 0; i < PCI_NUM_RESOURCES; i++) {
    const len = pci_resource_len(d, i);
    const flags = pci_resource_flags(d, i);
    if (len === 0 || !(flags & IORESOURCE_MEM)) continue;
    sysfs_create_bin_file(d.kobj_path, `resource${i}`, 0o600, len, pci_resource_fops(d, i, false));
    if (flags & IORESOURCE_PREFETCH) sysfs_create_bin_file(d.kobj_path, `resource${i}_wc`, 0o600, len, pci_resource_fops(d, i, true));
  }
}

function pci_create_sysfs_dev_files(d: PciDev): void {
  const p = d.kobj_path;
  sysfs_create_file(p, 'vendor', () => `${hex(d.vendor, 4)}\n`);
  sysfs_create_file(p, 'device', () => `${hex(d.device, 4)}\n`);
  sysfs_create_file(p, 'subsystem_vendor', () => `${hex(d.subsystem_vendor, 4)}\n`);
  sysfs_create_file(p, 'subsystem_device', () => `${hex(d.subsystem_device, 4)}\n`);
  sysfs_create_file(p, 'class', () => `${hex(d.class_code, 6)}\n`);
  sysfs_create_file(p, 'revision', () => `${hex(d.revision, 2)}\n`);
  // irq_show: the first MSI vector when MSI is on; with MSI-X (or none) the INTx line
  sysfs_create_file(p, 'irq', () => `${d.msi_enabled && d.irqs.length > 0 ? d.irqs[0] : d.irq}\n`);
  sysfs_create_file(p, 'enable', () => `${d.enable_cnt}\n`, (buf) => enable_store(d, buf), 0o644);
  sysfs_create_file(p, 'msi_bus', () => `${d.no_msi ? 0 : 1}\n`, (buf) => msi_bus_store(d, buf), 0o644);
  sysfs_create_file(p, 'numa_node', () => `${d.numa_node}\n`, (buf) => numa_node_store(d, buf), 0o644);
  // CONFIG_NUMA: NUMA_NO_NODE means every online CPU is local (cpu_online_mask)
  sysfs_create_file(p, 'local_cpus', () => `${cpumask_pr_bitmap(local_cpu_mask(d), nr_cpu_ids())}\n`);
  sysfs_create_file(p, 'local_cpulist', () => `${cpumask_pr_list(local_cpu_mask(d), nr_cpu_ids())}\n`);
  const X = (n: number, w: number): string => n.toString(16).toUpperCase().padStart(w, '0');
  sysfs_create_file(p, 'modalias', () => `pci:v${X(d.vendor, 8)}d${X(d.device, 8)}sv${X(d.subsystem_vendor, 8)}sd${X(d.subsystem_device, 8)}bc${X(d.class_code >>> 16, 2)}sc${X((d.class_code >>> 8) & 0xff, 2)}i${X(d.class_code & 0xff, 2)}\n`);
  sysfs_create_file(p, 'dma_mask_bits', () => `${fls64(dma_get_mask(d))}\n`);
  // dma_set_mask_and_coherent is the only setter here: the coherent mask is the streaming one
  sysfs_create_file(p, 'consistent_dma_mask_bits', () => `${fls64(dma_get_mask(d))}\n`);
  sysfs_create_file(p, 'driver_override', () => `${d.driver_override ?? '(null)'}\n`, (buf) => driver_set_override(d, buf), 0o644);
  sysfs_create_file(p, 'resource', () => {
    let s = '';
    for (let i = 0; i < PCI_NUM_RESOURCES; i++) {
      const r = d.resource[i];
      const ok = r !== undefined && r.end >= r.start && r.flags !== 0;
      s += `${hex(ok ? r.start : 0, 16)} ${hex(ok ? r.end : 0, 16)} ${hex(ok ? r.flags : 0, 16)}\n`;
    }
    return s;
  });
  sysfs_create_file(p, 'config', () => {
    const b = new Uint8Array(256);
    for (let i = 0; i < 256; i += 4) {
      const v = pci_read_config_dword(d, i);
      b[i] = v & 0xff;
      b[i + 1] = (v >>> 8) & 0xff;
      b[i + 2] = (v >>> 16) & 0xff;
      b[i + 3] = (v >>> 24) & 0xff;
    }
    return b;
  });
  pci_create_resource_files(d);
}

/** pci_scan_single_device + pci_device_add: reads the header and registers the device. */
export function* pci_scan_device(ops: PciOps, domain: number, bus: number, devfn: number, parent: Device): Generator<unknown, PciDev | undefined, unknown> {
  const id = pci_bus_read_config(ops, bus, devfn, PCI_VENDOR_ID, 4);
  if (id === 0xffffffff || id === 0 || (id & 0xffff) === 0xffff) return undefined;
  const d = new PciDev(ops, domain, bus, devfn);
  d.vendor = id & 0xffff;
  d.device = id >>> 16;
  const cr = pci_read_config_dword(d, PCI_REVISION_ID);
  d.revision = cr & 0xff;
  d.class_code = cr >>> 8;
  d.hdr_type = pci_read_config_byte(d, PCI_HEADER_TYPE);
  d.subsystem_vendor = pci_read_config_word(d, PCI_SUBSYSTEM_VENDOR_ID);
  d.subsystem_device = pci_read_config_word(d, PCI_SUBSYSTEM_ID);
  if ((d.hdr_type & 0x7f) === 0) read_bases(d);
  pci_fixup_device(d);
  d.parent = parent;
  // pci_device_add: set_dev_node(pcibus_to_node)
  d.numa_node = parent.numa_node;
  d.bus = pci_bus_type;
  pr_info(`pci ${d.name}: [${d.vendor.toString(16).padStart(4, '0')}:${d.device.toString(16).padStart(4, '0')}] type ${(d.hdr_type & 0x7f).toString(16).padStart(2, '0')} class ${hex(d.class_code, 6)}`);
  for (let i = 0; i < PCI_NUM_RESOURCES; i++) {
    const r = d.resource[i];
    if (!r || !r.flags) continue;
    pr_info(`pci ${d.name}: BAR ${i} [mem ${hex(r.start, 8)}-${hex(r.end, 8)}${r.flags & IORESOURCE_MEM_64 ? ' 64bit' : ''}${r.flags & IORESOURCE_PREFETCH ? ' pref' : ''}]`);
    // pci_claim_resource: the BAR, named after the device, inside the bridge window
    insert_iomem({ start: r.start, end: r.end, name: d.name }, windowName || undefined);
  }
  pciDevices.push(d);
  // Register without probing yet: sysfs files first, then driver matching.
  const bus0 = d.bus;
  d.bus = null;
  yield* device_register(d);
  d.bus = bus0;
  pci_create_sysfs_dev_files(d);
  return d;
}

/** pci_bus_add_devices: links to the pci bus and lets drivers bind (unless the bus's drivers_autoprobe is off). */
export function* pci_bus_add_device(d: PciDev): Generator<unknown, void, unknown> {
  sysfs_create_link('bus/pci/devices', d.name, d.kobj_path);
  sysfs_create_link(d.kobj_path, 'subsystem', 'bus/pci');
  yield* bus_probe_device(d);
}
