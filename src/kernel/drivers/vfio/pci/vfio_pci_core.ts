// vfio-pci core (drivers/vfio/pci/vfio_pci_core.c, vfio_pci_rdwr.c in shape): the
// vfio_device_ops of a PCI function handed to user space.
//
// Regions (VFIO_DEVICE_GET_REGION_INFO; file offset = index << 40): BAR0..5 READ|WRITE,
// plus MMAP for memory BARs of at least a page (the MSI-X BAR says so with the
// MSIX_MAPPABLE capability: the ITS isolates MSIs, so the table may be mapped); ROM
// (size 0: no option ROMs here); CONFIG READ|WRITE, 256 or 4096 bytes, virtualized
// (vfio_pci_config.ts); VGA -EINVAL (no VGA devices). read/write of a BAR are
// naturally aligned MMIO accesses of up to 4 bytes and need the user's Memory Space
// Enable (-EIO otherwise); reads of the MSI-X table through read() return 0xff,
// writes there are dropped. mmap needs MAP_SHARED and a range inside the BAR; pages
// are inserted on fault (VM_IO | VM_PFNMAP, Device-nGnRE) while memory is enabled,
// SIGBUS otherwise, and zapped when the user disables memory or resets the device.
// IRQs: vfio_pci_intrs.ts. VFIO_DEVICE_RESET: a Function Level Reset with the config
// state saved and restored (-EINVAL when the function has no FLR). Opening enables
// the function and resets it; the last close disables interrupts and bus mastering,
// resets it again and restores the state it had before.

import { thisCpu } from '../../../../arch/index.js';
import { EFAULT, EINVAL, EIO, ENOTTY } from '../../../lib/errno.js';
import { pr_info, pr_warn } from '../../../lib/printk.js';
import { copy_from_user, copy_to_user } from '../../../lib/uaccess.js';
import { eventfd_signal } from '../../../fs/eventfd.js';
import { vm_insert_pfn, pgprot_device, zap_page_range } from '../../../mm/memory.js';
import { MMU_NOTIFY_CLEAR, VM_DONTDUMP, VM_DONTEXPAND, VM_FAULT_SIGBUS, VM_IO, VM_PFNMAP, VM_SHARED, type VmAreaStruct, type VmFault, type VmOperationsStruct } from '../../../mm/mm_types.js';
import { PAGE_SIZE } from '../../../mm/page.js';
import {
  IORESOURCE_MEM,
  PCI_CAP_ID_MSI,
  PCI_CAP_ID_MSIX,
  PciDev,
  pci_clear_master,
  pci_disable_device,
  pci_enable_device,
  pci_find_capability,
  pci_is_pcie,
  pci_read_config_dword,
  pci_read_config_word,
  pci_resource_flags,
  pci_resource_len,
  pci_resource_start,
  pci_restore_state,
  pci_save_state,
  pci_try_reset_function,
  pcie_has_flr,
  type PciSavedState,
} from '../../pci/pci.js';
import { VfioDevice, vfio_set_irqs_validate_and_prepare, type VfioDeviceOps } from '../vfio_main.js';
import { VfioPciConfig } from './vfio_pci_config.js';
import { VFIO_PCI_IRQ_NONE, vfio_msi_disable, vfio_pci_set_irqs_ioctl, type VfioPciIrqCtx } from './vfio_pci_intrs.js';
import type { EventfdCtx } from '../../../fs/eventfd.js';
import {
  VFIO_DEVICE_FLAGS_PCI,
  VFIO_DEVICE_FLAGS_RESET,
  VFIO_DEVICE_GET_INFO,
  VFIO_DEVICE_GET_IRQ_INFO,
  VFIO_DEVICE_GET_REGION_INFO,
  VFIO_DEVICE_RESET,
  VFIO_DEVICE_SET_IRQS,
  VFIO_IRQ_INFO_AUTOMASKED,
  VFIO_IRQ_INFO_EVENTFD,
  VFIO_IRQ_INFO_MASKABLE,
  VFIO_IRQ_INFO_NORESIZE,
  VFIO_PCI_BAR5_REGION_INDEX,
  VFIO_PCI_CONFIG_REGION_INDEX,
  VFIO_PCI_ERR_IRQ_INDEX,
  VFIO_PCI_INDEX_TO_OFFSET,
  VFIO_PCI_INTX_IRQ_INDEX,
  VFIO_PCI_MSIX_IRQ_INDEX,
  VFIO_PCI_MSI_IRQ_INDEX,
  VFIO_PCI_NUM_IRQS,
  VFIO_PCI_NUM_REGIONS,
  VFIO_PCI_OFFSET_SHIFT,
  VFIO_PCI_OFFSET_TO_INDEX,
  VFIO_PCI_REQ_IRQ_INDEX,
  VFIO_PCI_ROM_REGION_INDEX,
  VFIO_REGION_INFO_CAP_MSIX_MAPPABLE,
  VFIO_REGION_INFO_FLAG_CAPS,
  VFIO_REGION_INFO_FLAG_MMAP,
  VFIO_REGION_INFO_FLAG_READ,
  VFIO_REGION_INFO_FLAG_WRITE,
  VfioInfoCap,
  ustruct_from_user,
  ustruct_to_user,
  vfio_device_info,
  vfio_irq_info,
  vfio_irq_set,
  vfio_region_info,
} from '../uapi.js';

const PCI_MSI_FLAGS_QMASK = 0x000e;
const PCI_MSIX_FLAGS_QSIZE = 0x07ff;
const PCI_MSIX_TABLE = 4;
const PCI_MSIX_TABLE_BIR = 0x7;

/** struct vfio_pci_core_device. */
export class VfioPciCoreDevice {
  readonly vdev: VfioDevice;
  config: VfioPciConfig | null = null;
  /** VFIO_PCI_*_IRQ_INDEX of the enabled interrupt type, or VFIO_PCI_IRQ_NONE. */
  irq_type = VFIO_PCI_IRQ_NONE;
  num_ctx = 0;
  readonly ctx = new Map<number, VfioPciIrqCtx>();
  readonly err_trigger: { ctx: EventfdCtx | null } = { ctx: null };
  readonly req_trigger: { ctx: EventfdCtx | null } = { ctx: null };
  reset_works = false;
  readonly bar_mmap_supported: boolean[] = [];
  msix_bar = -1;
  msix_offset = 0;
  msix_size = 0;
  /** User mappings of the BARs (zapped when memory is disabled or the device is reset). */
  readonly vmas = new Set<VmAreaStruct>();
  /** Config state of the function before the first open (restored at the last close). */
  saved: PciSavedState | null = null;
  /** Resets done through VFIO_DEVICE_RESET or a config-space FLR (for tests). */
  resets = 0;
  constructor(
    readonly pdev: PciDev,
    ops: VfioDeviceOps,
  ) {
    this.vdev = new VfioDevice(pdev, ops);
    for (let i = 0; i < 6; i++) {
      const len = pci_resource_len(pdev, i);
      // vfio_pci_probe_mmaps: memory BARs of at least a page
      this.bar_mmap_supported[i] = (pci_resource_flags(pdev, i) & IORESOURCE_MEM) !== 0 && len >= PAGE_SIZE;
    }
    const msix = pci_find_capability(pdev, PCI_CAP_ID_MSIX);
    if (msix) {
      const table = pci_read_config_dword(pdev, msix + PCI_MSIX_TABLE);
      this.msix_bar = table & PCI_MSIX_TABLE_BIR;
      this.msix_offset = table & ~PCI_MSIX_TABLE_BIR;
      this.msix_size = ((pci_read_config_word(pdev, msix + 2) & PCI_MSIX_FLAGS_QSIZE) + 1) * 16;
    }
  }
}

const cores = new WeakMap<VfioDevice, VfioPciCoreDevice>();
export function vfio_pci_core_of(vdev: VfioDevice): VfioPciCoreDevice {
  return cores.get(vdev)!;
}

/** vfio_pci_zap_bars: user mappings of the BARs lose their pages (refaulted while memory is enabled). */
function vfio_pci_zap_bars(v: VfioPciCoreDevice): void {
  for (const vma of v.vmas) zap_page_range(vma, vma.vm_start, vma.vm_end, MMU_NOTIFY_CLEAR);
}

/** The reset VFIO_DEVICE_RESET and a config-space FLR do: mappings zapped, FLR with the config state kept. */
function* vfio_pci_reset(v: VfioPciCoreDevice): Generator<unknown, number, unknown> {
  vfio_pci_zap_bars(v);
  const r = yield* pci_try_reset_function(v.pdev);
  if (r === 0) v.resets++;
  return r;
}

/** vfio_pci_core_enable. */
function* vfio_pci_core_enable(v: VfioPciCoreDevice): Generator<unknown, number, unknown> {
  const pdev = v.pdev;
  const r = pci_enable_device(pdev);
  if (r) return r;
  v.saved = pci_save_state(pdev);
  // reset before handing the function over; it works when the function has FLR
  v.reset_works = pcie_has_flr(pdev);
  if (v.reset_works) yield* pci_try_reset_function(pdev);
  v.config = new VfioPciConfig(pdev, {
    memoryDisabled: () => vfio_pci_zap_bars(v),
    flr: function* () {
      if (v.reset_works) yield* vfio_pci_reset(v);
    },
  });
  return 0;
}

/** vfio_pci_core_disable. */
function* vfio_pci_core_disable(v: VfioPciCoreDevice): Generator<unknown, void, unknown> {
  const pdev = v.pdev;
  vfio_msi_disable(v);
  v.err_trigger.ctx = null;
  v.req_trigger.ctx = null;
  pci_clear_master(pdev);
  if (v.reset_works) yield* pci_try_reset_function(pdev);
  if (v.saved !== null) pci_restore_state(pdev, v.saved);
  v.saved = null;
  v.config = null;
  pci_disable_device(pdev);
}

/** vfio_pci_get_irq_count. */
function vfio_pci_get_irq_count(v: VfioPciCoreDevice, index: number): number {
  const pdev = v.pdev;
  switch (index) {
    case VFIO_PCI_INTX_IRQ_INDEX:
      // Interrupt Pin 0 (INTx is not wired on this SoC)
      return 0;
    case VFIO_PCI_MSI_IRQ_INDEX: {
      const pos = pci_find_capability(pdev, PCI_CAP_ID_MSI);
      return pos ? 1 << ((pci_read_config_word(pdev, pos + 2) & PCI_MSI_FLAGS_QMASK) >> 1) : 0;
    }
    case VFIO_PCI_MSIX_IRQ_INDEX: {
      const pos = pci_find_capability(pdev, PCI_CAP_ID_MSIX);
      return pos ? (pci_read_config_word(pdev, pos + 2) & PCI_MSIX_FLAGS_QSIZE) + 1 : 0;
    }
    case VFIO_PCI_ERR_IRQ_INDEX:
      return pci_is_pcie(pdev) ? 1 : 0;
    case VFIO_PCI_REQ_IRQ_INDEX:
      return 1;
    default:
      return 0;
  }
}

function* vfio_pci_ioctl_get_info(v: VfioPciCoreDevice, arg: number): Generator<unknown, number, unknown> {
  const minsz = vfio_device_info.end('num_irqs');
  const info = ustruct_from_user(vfio_device_info, arg, minsz);
  if (typeof info === 'number') return info;
  const argsz = info.get('argsz');
  if (argsz < minsz) return -EINVAL;
  info.set('flags', VFIO_DEVICE_FLAGS_PCI | (v.reset_works ? VFIO_DEVICE_FLAGS_RESET : 0));
  info.set('num_regions', VFIO_PCI_NUM_REGIONS);
  info.set('num_irqs', VFIO_PCI_NUM_IRQS);
  info.set('cap_offset', 0);
  info.set('pad', 0);
  return ustruct_to_user(arg, info, Math.min(argsz, vfio_device_info.size));
}

function* vfio_pci_ioctl_get_region_info(v: VfioPciCoreDevice, arg: number): Generator<unknown, number, unknown> {
  const minsz = vfio_region_info.end('offset');
  const info = ustruct_from_user(vfio_region_info, arg, minsz);
  if (typeof info === 'number') return info;
  if (info.get('argsz') < minsz) return -EINVAL;
  const index = info.get('index');
  const caps = new VfioInfoCap();
  let flags = 0;
  let size = 0;
  if (index === VFIO_PCI_CONFIG_REGION_INDEX) {
    size = pci_is_pcie(v.pdev) ? 4096 : 256;
    flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
  } else if (index <= VFIO_PCI_BAR5_REGION_INDEX) {
    size = pci_resource_len(v.pdev, index);
    if (size) {
      flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
      if (v.bar_mmap_supported[index]) {
        flags |= VFIO_REGION_INFO_FLAG_MMAP;
        if (index === v.msix_bar) caps.add(VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, 1, 8);
      }
    }
  } else if (index === VFIO_PCI_ROM_REGION_INDEX) {
    // no option ROM: size 0, no access
  } else return -EINVAL; // VGA (no VGA device) and beyond
  info.set('offset', VFIO_PCI_INDEX_TO_OFFSET(index));
  info.set('size', size);
  if (caps.size) {
    flags |= VFIO_REGION_INFO_FLAG_CAPS;
    const base = vfio_region_info.size;
    if (info.get('argsz') < base + caps.size) {
      info.set('argsz', base + caps.size);
      info.set('cap_offset', 0);
    } else {
      const b = caps.bytes(base);
      if (copy_to_user(arg + base, b, b.length)) return -EFAULT;
      info.set('cap_offset', base);
    }
  }
  info.set('flags', flags);
  return ustruct_to_user(arg, info, minsz);
}

function* vfio_pci_ioctl_get_irq_info(v: VfioPciCoreDevice, arg: number): Generator<unknown, number, unknown> {
  const minsz = vfio_irq_info.end('count');
  const info = ustruct_from_user(vfio_irq_info, arg, minsz);
  if (typeof info === 'number') return info;
  const index = info.get('index');
  if (info.get('argsz') < minsz || index >= VFIO_PCI_NUM_IRQS) return -EINVAL;
  if (index === VFIO_PCI_ERR_IRQ_INDEX && !pci_is_pcie(v.pdev)) return -EINVAL;
  let flags = VFIO_IRQ_INFO_EVENTFD;
  if (index === VFIO_PCI_INTX_IRQ_INDEX) flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
  else flags |= VFIO_IRQ_INFO_NORESIZE;
  info.set('flags', flags);
  info.set('count', vfio_pci_get_irq_count(v, index));
  return ustruct_to_user(arg, info, minsz);
}

function* vfio_pci_ioctl_set_irqs(v: VfioPciCoreDevice, arg: number): Generator<unknown, number, unknown> {
  const minsz = vfio_irq_set.end('count');
  const hdr = ustruct_from_user(vfio_irq_set, arg, minsz);
  if (typeof hdr === 'number') return hdr;
  const index = hdr.get('index');
  const flags = hdr.get('flags');
  const start = hdr.get('start');
  const count = hdr.get('count');
  const max = vfio_pci_get_irq_count(v, index);
  const dataSize = vfio_set_irqs_validate_and_prepare(hdr.get('argsz'), flags, index, start, count, max, VFIO_PCI_NUM_IRQS);
  if (dataSize < 0) return dataSize;
  const data = new Uint8Array(Math.max(4, dataSize));
  if (dataSize && copy_from_user(data, arg + minsz, dataSize)) return -EFAULT;
  return vfio_pci_set_irqs_ioctl(v, flags, index, start, count, data);
}

function* vfio_pci_core_ioctl(vdev: VfioDevice, cmd: number, arg: number): Generator<unknown, number, unknown> {
  const v = vfio_pci_core_of(vdev);
  switch (cmd) {
    case VFIO_DEVICE_GET_INFO:
      return yield* vfio_pci_ioctl_get_info(v, arg);
    case VFIO_DEVICE_GET_REGION_INFO:
      return yield* vfio_pci_ioctl_get_region_info(v, arg);
    case VFIO_DEVICE_GET_IRQ_INFO:
      return yield* vfio_pci_ioctl_get_irq_info(v, arg);
    case VFIO_DEVICE_SET_IRQS:
      return yield* vfio_pci_ioctl_set_irqs(v, arg);
    case VFIO_DEVICE_RESET:
      if (!v.reset_works) return -EINVAL;
      return yield* vfio_pci_reset(v);
    default:
      return -ENOTTY;
  }
}

/** vfio_pci_config_rw: naturally aligned pieces of 4, 2 or 1 bytes; outside the space -EFAULT. */
function* vfio_pci_config_rw(v: VfioPciCoreDevice, ubuf: number, count: number, off: number, iswrite: boolean): Generator<unknown, number, unknown> {
  const cfg = v.config!;
  let done = 0;
  let pos = off;
  while (count > 0) {
    if (pos >= cfg.size || pos + count > cfg.size) return done > 0 ? done : -EFAULT;
    const n: 1 | 2 | 4 = count >= 4 && pos % 4 === 0 ? 4 : count >= 2 && pos % 2 === 0 ? 2 : 1;
    const b = new Uint8Array(4);
    const dv = new DataView(b.buffer);
    if (iswrite) {
      if (copy_from_user(b, ubuf + done, n)) return -EFAULT;
      yield* cfg.write(pos, n, n === 4 ? dv.getUint32(0, true) : n === 2 ? dv.getUint16(0, true) : b[0]!);
    } else {
      const val = cfg.read(pos, n);
      if (n === 4) dv.setUint32(0, val, true);
      else if (n === 2) dv.setUint16(0, val, true);
      else b[0] = val;
      if (copy_to_user(ubuf + done, b, n)) return -EFAULT;
    }
    done += n;
    pos += n;
    count -= n;
  }
  return done;
}

/**
 * vfio_pci_bar_rw with vfio_pci_core_do_io_rw: MMIO accesses of the BAR at `off`,
 * clipped to the BAR; -EIO while the user has memory disabled.
 */
function vfio_pci_bar_rw(v: VfioPciCoreDevice, bar: number, ubuf: number, count: number, off: number, iswrite: boolean): number {
  const len = pci_resource_len(v.pdev, bar);
  if (!len || !(pci_resource_flags(v.pdev, bar) & IORESOURCE_MEM)) return -EINVAL;
  if (off >= len) return -EINVAL;
  count = Math.min(count, len - off);
  if (!v.config!.memoryEnabled()) return -EIO;
  const base = pci_resource_start(v.pdev, bar);
  const xStart = bar === v.msix_bar ? v.msix_offset : len;
  const xEnd = bar === v.msix_bar ? v.msix_offset + v.msix_size : len;
  const cpu = thisCpu();
  const b = new Uint8Array(4);
  const dv = new DataView(b.buffer);
  let done = 0;
  while (count > 0) {
    const pos = off + done;
    if (pos >= xStart && pos < xEnd) {
      // the MSI-X table is the host's: reads see 0xff, writes are dropped
      const n = Math.min(count, xEnd - pos);
      if (!iswrite && copy_to_user(ubuf + done, new Uint8Array(n).fill(0xff), n)) return -EFAULT;
      done += n;
      count -= n;
      continue;
    }
    const n: 1 | 2 | 4 = count >= 4 && pos % 4 === 0 ? 4 : count >= 2 && pos % 2 === 0 ? 2 : 1;
    if (iswrite) {
      if (copy_from_user(b, ubuf + done, n)) return -EFAULT;
      if (n === 4) cpu.stPhys32(base + pos, dv.getUint32(0, true));
      else if (n === 2) cpu.stPhys16(base + pos, dv.getUint16(0, true));
      else cpu.stPhys8(base + pos, b[0]!);
    } else {
      if (n === 4) dv.setUint32(0, cpu.ldPhys32(base + pos) >>> 0, true);
      else if (n === 2) dv.setUint16(0, cpu.ldPhys16(base + pos), true);
      else b[0] = cpu.ldPhys8(base + pos);
      if (copy_to_user(ubuf + done, b, n)) return -EFAULT;
    }
    done += n;
    count -= n;
  }
  return done;
}

/** vfio_pci_rw: dispatch by region index. */
function* vfio_pci_rw(vdev: VfioDevice, ubuf: number, count: number, ppos: { pos: number }, iswrite: boolean): Generator<unknown, number, unknown> {
  const v = vfio_pci_core_of(vdev);
  const index = VFIO_PCI_OFFSET_TO_INDEX(ppos.pos);
  const off = ppos.pos % 2 ** VFIO_PCI_OFFSET_SHIFT;
  let r: number;
  if (index === VFIO_PCI_CONFIG_REGION_INDEX) r = yield* vfio_pci_config_rw(v, ubuf, count, off, iswrite);
  else if (index <= VFIO_PCI_BAR5_REGION_INDEX) r = vfio_pci_bar_rw(v, index, ubuf, count, off, iswrite);
  else return -EINVAL; // ROM (none), VGA (none), no device-specific regions
  if (r > 0) ppos.pos += r;
  return r;
}

const vfio_pci_mmap_ops: VmOperationsStruct = {
  open(vma: VmAreaStruct): void {
    (vma.vm_private_data as VfioPciCoreDevice).vmas.add(vma);
  },
  close(vma: VmAreaStruct): void {
    (vma.vm_private_data as VfioPciCoreDevice).vmas.delete(vma);
  },
  /** vfio_pci_mmap_fault: the BAR page, while the user has memory enabled; SIGBUS otherwise. */
  fault(vmf: VmFault): number {
    const vma = vmf.vma;
    const v = vma.vm_private_data as VfioPciCoreDevice;
    if (v.config === null || !v.config.memoryEnabled()) return VM_FAULT_SIGBUS;
    const index = Math.floor(vma.vm_pgoff / 2 ** (VFIO_PCI_OFFSET_SHIFT - 12));
    const pgoff = vma.vm_pgoff % 2 ** (VFIO_PCI_OFFSET_SHIFT - 12);
    const pfn = pci_resource_start(v.pdev, index) / PAGE_SIZE + pgoff + (vmf.address - vma.vm_start) / PAGE_SIZE;
    return vm_insert_pfn(vma, vmf.address, pfn);
  },
};

/** vfio_pci_core_mmap: a shared mapping inside a memory BAR that supports mmap. */
function vfio_pci_core_mmap(vdev: VfioDevice, vma: VmAreaStruct): number {
  const v = vfio_pci_core_of(vdev);
  const index = Math.floor(vma.vm_pgoff / 2 ** (VFIO_PCI_OFFSET_SHIFT - 12));
  if (index >= VFIO_PCI_NUM_REGIONS) return -EINVAL;
  if (vma.vm_end < vma.vm_start) return -EINVAL;
  if (!(vma.vm_flags & VM_SHARED)) return -EINVAL;
  if (index >= VFIO_PCI_ROM_REGION_INDEX) return -EINVAL;
  if (!v.bar_mmap_supported[index]) return -EINVAL;
  const physLen = Math.ceil(pci_resource_len(v.pdev, index) / PAGE_SIZE) * PAGE_SIZE;
  const reqStart = (vma.vm_pgoff % 2 ** (VFIO_PCI_OFFSET_SHIFT - 12)) * PAGE_SIZE;
  if (reqStart + vma.size > physLen) return -EINVAL;
  vma.vm_private_data = v;
  pgprot_device(vma);
  vma.vm_flags |= VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP;
  vma.vm_ops = vfio_pci_mmap_ops;
  v.vmas.add(vma);
  return 0;
}

/** vfio_pci_core_request: the device is wanted back; tell the user through the REQ eventfd. */
function vfio_pci_core_request(vdev: VfioDevice, count: number): void {
  const v = vfio_pci_core_of(vdev);
  if (v.req_trigger.ctx !== null) {
    if (count % 10 === 0) pr_info(`vfio-pci ${v.pdev.name}: Relaying device request to user (#${count})`);
    eventfd_signal(v.req_trigger.ctx);
  } else if (count === 0) pr_warn(`vfio-pci ${v.pdev.name}: No device request channel registered, blocked until released by user`);
}

export const vfio_pci_ops: VfioDeviceOps = {
  name: 'vfio-pci',
  *open_device(vdev) {
    return yield* vfio_pci_core_enable(vfio_pci_core_of(vdev));
  },
  *close_device(vdev) {
    yield* vfio_pci_core_disable(vfio_pci_core_of(vdev));
  },
  read: (vdev, ubuf, count, ppos) => vfio_pci_rw(vdev, ubuf, count, ppos, false),
  write: (vdev, ubuf, count, ppos) => vfio_pci_rw(vdev, ubuf, count, ppos, true),
  ioctl: vfio_pci_core_ioctl,
  mmap: vfio_pci_core_mmap,
  request: vfio_pci_core_request,
};

/** vfio_pci_core_alloc_device: the vfio-pci state of `pdev`. */
export function vfio_pci_core_alloc_device(pdev: PciDev): VfioPciCoreDevice {
  const v = new VfioPciCoreDevice(pdev, vfio_pci_ops);
  cores.set(v.vdev, v);
  return v;
}
