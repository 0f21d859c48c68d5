// A driver for the iommu-testdev DMA test device (PCI 1b36:0005, QEMU's iommu-testdev
// register layout plus the svasoc extension registers, see src/hw/testdev): it maps
// BAR0 and exposes the misc device /dev/iommu-testdev so that user space can run DMA
// through the SMMU in two ways.
//
// DMA API mode: the driver bounces the user buffer through kernel pages mapped with
// dma_map_single; the device gets the IOVA (QEMU's write-and-verify reads the result
// back at the physical address, so a wrong translation is caught by the device).
// SVA mode: iommu_dev_enable_iopf + iommu_sva_bind_device(dev, current->mm) give a
// PASID; the device then DMAs at the caller's *virtual* addresses with X_SSID = PASID
// and SSV set. Pages not present yet are faulted in by the IOMMU's I/O page-fault path:
// through the SMMU's stall model (the function is a stall master when the kernel
// command line says iommu_testdev.dma_can_stall=1) or through PCIe PRI (ITD_BIND_PRI).
//
// uAPI (little-endian, type 'T'):
//   ITD_IOC_DMA       _IOWR('T', 1, struct itd_dma)      DMA API transfer
//   ITD_IOC_BIND      _IOWR('T', 2, struct itd_bind)     SVA bind of the caller's mm
//   ITD_IOC_UNBIND    _IO('T', 3)                        SVA unbind (flushes its faults)
//   ITD_IOC_SVA_DMA   _IOWR('T', 4, struct itd_dma)      transfer at user VAs (bound)
//   ITD_IOC_STATUS    _IOR('T', 5, struct itd_status)    state of the last transfer
//
//   struct itd_dma {            40 bytes
//     u64 addr;    in: user buffer (DMA mode) or the user VA the device accesses (SVA)
//     u32 len;     in: bytes, 1..ITD_MAX_DMA (DMA mode) / 1..64 MiB (SVA)
//     u32 op;      in: ITD_OP_WRITE (device writes the 0x12345678 pattern) or
//                      ITD_OP_READ (device reads and compares with the pattern)
//     u32 flags;   in: ITD_F_NOWAIT (SVA: return once started, see ITD_IOC_STATUS),
//                      ITD_F_UNMAP_FIRST (DMA mode: unmap the IOVA before the transfer)
//     u32 result;  out: the device's DMA_RESULT: 0, or 0xdead000x (see src/hw/testdev)
//     u64 iova;    out: the DMA address the device used
//     u64 fault;   out: the address at which the transfer stopped (X_FAULT)
//   }
//   struct itd_bind { u32 flags (in: ITD_BIND_PRI); u32 pasid (out); }
//   struct itd_status { u32 result; u32 iopf_pending; u64 fault; }   16 bytes
// Errors: -EINVAL bad arguments or not bound, -EBUSY a transfer is running, -EFAULT bad
// user memory, -ETIMEDOUT the device did not finish in 5 s (virtual), -ENODEV no IOMMU
// or no SVA support, and what iommu_sva_bind_device returns.

import { thisCpu } from '../../../arch/index.js';
import { EBUSY, EFAULT, EINVAL, ENODEV, ENOMEM, ENOTTY, ETIMEDOUT } from '../../lib/errno.js';
import { _IO, _IOR, _IOWR } from '../../lib/ioctl.js';
import { copy_from_user, copy_to_user } from '../../lib/uaccess.js';
import { dev_info, dev_err } from '../base/core.js';
import { MISC_DYNAMIC_MINOR, misc_deregister, misc_register, type MiscDevice } from '../../fs/char_dev.js';
import type { File, Inode } from '../../fs/types.js';
import { alloc_pages, free_pages } from '../../mm/page_alloc.js';
import { GFP_KERNEL } from '../../mm/gfp.js';
import { PAGE_SIZE } from '../../mm/page.js';
import { current } from '../../sched/core.js';
import { WaitQueueHead, wait_event_interruptible_timeout, wake_up_all } from '../../sched/wait.js';
import { IRQ_HANDLED, free_irq, request_irq } from '../../irq/irqdesc.js';
import { device_initcall } from '../../init/initcall.js';
import {
  PCI_IRQ_MSI,
  PciDev,
  declare_pci_fixup_header,
  pci_alloc_irq_vectors,
  pci_clear_master,
  pci_disable_device,
  pci_enable_device_mem,
  pci_free_irq_vectors,
  pci_iomap,
  pci_irq_vector,
  pci_register_driver,
  pci_set_master,
  type PciDriver,
} from '../pci/pci.js';
import { DMA_FROM_DEVICE, DMA_MAPPING_ERROR, DMA_TO_DEVICE, dma_map_single, dma_unmap_single } from '../iommu/dma-iommu.js';
import { iommu_dev_disable_iopf, iommu_dev_enable_iopf, kernel_cmdline } from '../iommu/iommu.js';
import { iommu_sva_bind_device, iommu_sva_get_pasid, iommu_sva_unbind_device, type IommuSva } from '../iommu/iommu-sva.js';
import { iopf_pending_groups } from '../iommu/io-pgfault.js';

export const PCI_VENDOR_ID_REDHAT = 0x1b36;
export const PCI_DEVICE_ID_REDHAT_TEST = 0x0005;

// BAR0 registers (QEMU docs/specs/iommu-testdev.rst, and the svasoc extension)
const DMA_TRIGGERING = 0x00;
const DMA_GVA_LO = 0x04;
const DMA_GVA_HI = 0x08;
const DMA_LEN = 0x0c;
const DMA_RESULT = 0x10;
const DMA_DBELL = 0x14;
const DMA_GPA_LO = 0x1c;
const DMA_GPA_HI = 0x20;
const X_SSID = 0x40;
const X_CTRL = 0x44;
const X_FAULT_LO = 0x48;
const X_FAULT_HI = 0x4c;
const X_ID = 0x5c;
const X_ID_SVAX = 0x58415653;
const X_PRI_PAGES = 0x60;
const X_CTRL_SSV = 1 << 0;
const X_CTRL_OP_SHIFT = 4;
const X_OP_WRITE_VERIFY = 0;
const X_OP_WRITE = 1;
const X_OP_READ = 2;
const X_CTRL_PRI = 1 << 8;
const X_CTRL_MSI = 1 << 9;
const DMA_RESULT_BUSY = 0xfffffffe;
const DMA_DBELL_ARM = 1;

export const ITD_IOC_DMA = _IOWR('T', 1, 40);
export const ITD_IOC_BIND = _IOWR('T', 2, 8);
export const ITD_IOC_UNBIND = _IO('T', 3);
export const ITD_IOC_SVA_DMA = _IOWR('T', 4, 40);
export const ITD_IOC_STATUS = _IOR('T', 5, 16);
export const ITD_OP_WRITE = 0;
export const ITD_OP_READ = 1;
export const ITD_F_NOWAIT = 1 << 0;
export const ITD_F_UNMAP_FIRST = 1 << 1;
export const ITD_BIND_PRI = 1 << 0;
/** The largest DMA API transfer: one physically contiguous bounce of 1 MiB. */
export const ITD_MAX_DMA = 1 << 20;
const ITD_MAX_SVA = 64 << 20;
const ITD_TIMEOUT_NS = 5_000_000_000;

/** The bound function (one per board). */
class TestDev {
  readonly done = new WaitQueueHead('iommu-testdev');
  /** The file whose transfer runs (one at a time: the engine is single). */
  owner: File | null = null;
  irq = 0;
  constructor(
    readonly pdev: PciDev,
    readonly bar: number,
  ) {}
  readl(off: number): number {
    return thisCpu().ldPhys32(this.bar + off) >>> 0;
  }
  writel(off: number, v: number): void {
    thisCpu().stPhys32(this.bar + off, v >>> 0);
  }
  busy(): boolean {
    return this.readl(DMA_RESULT) === DMA_RESULT_BUSY;
  }
}

/** Per open file: the SVA bond. */
class TestDevFile {
  sva: IommuSva | null = null;
  pri = false;
}

let testdev: TestDev | null = null;
/** Open files, so removal can unbind the bonds still held (as uacce_remove puts every queue). */
const openFiles = new Set<TestDevFile>();

/** iommu_testdev.dma_can_stall=1: the function is described as a stall master (as a firmware node would). */
function want_stall(): boolean {
  return /(^|\s)iommu_testdev\.dma_can_stall=(1|y|Y)(\s|$)/.test(kernel_cmdline());
}

/** iommu_testdev.pri_pages=N: the device asks for N pages per page request group (0: one). */
function pri_pages(): number {
  const m = /(^|\s)iommu_testdev\.pri_pages=(\d+)(\s|$)/.exec(kernel_cmdline());
  return m === null ? 0 : Number(m[2]);
}

/** Header fixup: the property the SMMU driver reads at iommu_probe_device, before binding. */
function quirk_testdev_stall(pdev: PciDev): void {
  if (want_stall()) pdev.properties.set('dma-can-stall', true);
}

function wr64(td: TestDev, lo: number, hi: number, v: number): void {
  td.writel(lo, v % 4294967296);
  td.writel(hi, Math.floor(v / 4294967296));
}

/** Programs and starts one transfer (QEMU's flow: arm the doorbell, then read DMA_TRIGGERING). */
function start_dma(td: TestDev, iova: number, pa: number, len: number, ctrl: number, ssid: number): void {
  wr64(td, DMA_GVA_LO, DMA_GVA_HI, iova);
  wr64(td, DMA_GPA_LO, DMA_GPA_HI, pa);
  td.writel(DMA_LEN, len);
  td.writel(X_SSID, ssid);
  td.writel(X_CTRL, ctrl | X_CTRL_MSI);
  td.writel(DMA_DBELL, DMA_DBELL_ARM);
  td.readl(DMA_TRIGGERING);
}

/** Sleeps until the device's completion MSI says the transfer ended. 0, -ETIMEDOUT or -ERESTARTSYS. */
function* wait_dma(td: TestDev): Generator<unknown, number, unknown> {
  const r = yield* wait_event_interruptible_timeout(td.done, () => !td.busy(), ITD_TIMEOUT_NS);
  if (r < 0) return r;
  return r === 0 ? -ETIMEDOUT : 0;
}

interface ItdDma {
  addr: number;
  len: number;
  op: number;
  flags: number;
}

function read_itd_dma(arg: number): ItdDma | number {
  const b = new Uint8Array(40);
  if (copy_from_user(b, arg, 40)) return -EFAULT;
  const v = new DataView(b.buffer);
  return { addr: Number(v.getBigUint64(0, true)), len: v.getUint32(8, true), op: v.getUint32(12, true), flags: v.getUint32(16, true) };
}

function write_itd_result(arg: number, result: number, iova: number, fault: number): number {
  const b = new Uint8Array(20);
  const v = new DataView(b.buffer);
  v.setUint32(0, result >>> 0, true);
  v.setBigUint64(4, BigInt(iova), true);
  v.setBigUint64(12, BigInt(fault), true);
  return copy_to_user(arg + 20, b, 20) ? -EFAULT : 0;
}

function fault_addr(td: TestDev): number {
  return td.readl(X_FAULT_HI) * 4294967296 + td.readl(X_FAULT_LO);
}

/** ITD_IOC_DMA: bounce pages mapped with the DMA API; the device sees only the IOVA. */
function* itd_dma(td: TestDev, file: File, arg: number): Generator<unknown, number, unknown> {
  const req = read_itd_dma(arg);
  if (typeof req === 'number') return req;
  if (req.len === 0 || req.len > ITD_MAX_DMA || (req.op !== ITD_OP_WRITE && req.op !== ITD_OP_READ)) return -EINVAL;
  if (td.owner !== null || td.busy()) return -EBUSY;
  const order = Math.max(0, Math.ceil(Math.log2(Math.ceil(req.len / PAGE_SIZE))));
  const pfn = alloc_pages(order, GFP_KERNEL);
  if (pfn < 0) return -ENOMEM;
  const pa = pfn * PAGE_SIZE;
  const cpu = thisCpu();
  const buf = new Uint8Array(req.len);
  let ret = 0;
  if (req.op === ITD_OP_READ) {
    if (copy_from_user(buf, req.addr, req.len)) ret = -EFAULT;
    else cpu.writePhys(pa, buf);
  }
  const dir = req.op === ITD_OP_WRITE ? DMA_FROM_DEVICE : DMA_TO_DEVICE;
  const iova = ret ? DMA_MAPPING_ERROR : dma_map_single(td.pdev, pa, req.len, dir);
  if (!ret && iova === DMA_MAPPING_ERROR) ret = -ENOMEM;
  if (ret) {
    free_pages(pa, order);
    return ret;
  }
  let mapped = true;
  if (req.flags & ITD_F_UNMAP_FIRST) {
    dma_unmap_single(td.pdev, iova, req.len, dir);
    mapped = false;
  }
  td.owner = file;
  start_dma(td, iova, pa, req.len, (req.op === ITD_OP_WRITE ? X_OP_WRITE_VERIFY : X_OP_READ) << X_CTRL_OP_SHIFT, 0);
  ret = yield* wait_dma(td);
  td.owner = null;
  const result = td.readl(DMA_RESULT);
  const fault = fault_addr(td);
  if (mapped) dma_unmap_single(td.pdev, iova, req.len, dir);
  if (req.op === ITD_OP_WRITE && ret === 0) {
    cpu.readPhys(pa, buf);
    if (copy_to_user(req.addr, buf, req.len)) ret = -EFAULT;
  }
  free_pages(pa, order);
  if (ret) return ret;
  if (result !== 0) dev_err(td.pdev, `DMA at iova 0x${iova.toString(16)} failed: result 0x${result.toString(16)} at 0x${fault.toString(16)}`);
  return write_itd_result(arg, result, iova, fault);
}

/** ITD_IOC_BIND: the caller's address space at a PASID on the device. */
function* itd_bind(td: TestDev, f: TestDevFile, arg: number): Generator<unknown, number, unknown> {
  const b = new Uint8Array(8);
  if (copy_from_user(b, arg, 8)) return -EFAULT;
  const flags = new DataView(b.buffer).getUint32(0, true);
  if (f.sva !== null) return -EBUSY;
  const mm = current().mm;
  if (mm === null) return -EINVAL;
  let r = iommu_dev_enable_iopf(td.pdev);
  if (r) {
    dev_err(td.pdev, `cannot enable I/O page faults (${r})`);
    return r;
  }
  const h = iommu_sva_bind_device(td.pdev, mm);
  if (typeof h === 'number') return h;
  f.sva = h;
  f.pri = (flags & ITD_BIND_PRI) !== 0;
  const pasid = iommu_sva_get_pasid(h);
  dev_info(td.pdev, `bound pid ${current().pid} at pasid ${pasid} (${f.pri ? 'PRI' : 'stall'})`);
  new DataView(b.buffer).setUint32(4, pasid, true);
  r = copy_to_user(arg, b, 8) ? -EFAULT : 0;
  return r;
}

function* itd_unbind(td: TestDev, f: TestDevFile): Generator<unknown, number, unknown> {
  const h = f.sva;
  if (h === null) return -EINVAL;
  const pasid = iommu_sva_get_pasid(h);
  f.sva = null;
  yield* iommu_sva_unbind_device(h);
  dev_info(td.pdev, `unbound pasid ${pasid}, ${iopf_pending_groups(td.pdev)} faults pending`);
  return 0;
}

/** ITD_IOC_SVA_DMA: the device accesses the caller's virtual addresses at its PASID. */
function* itd_sva_dma(td: TestDev, file: File, f: TestDevFile, arg: number): Generator<unknown, number, unknown> {
  const req = read_itd_dma(arg);
  if (typeof req === 'number') return req;
  if (f.sva === null) return -EINVAL;
  if (req.len === 0 || req.len > ITD_MAX_SVA || (req.op !== ITD_OP_WRITE && req.op !== ITD_OP_READ)) return -EINVAL;
  if (td.owner !== null || td.busy()) return -EBUSY;
  let ctrl = X_CTRL_SSV | ((req.op === ITD_OP_WRITE ? X_OP_WRITE : X_OP_READ) << X_CTRL_OP_SHIFT);
  if (f.pri) ctrl |= X_CTRL_PRI;
  td.owner = file;
  start_dma(td, req.addr, 0, req.len, ctrl, iommu_sva_get_pasid(f.sva));
  if (req.flags & ITD_F_NOWAIT) {
    td.owner = null;
    return write_itd_result(arg, td.readl(DMA_RESULT), req.addr, 0);
  }
  const ret = yield* wait_dma(td);
  td.owner = null;
  if (ret) return ret;
  return write_itd_result(arg, td.readl(DMA_RESULT), req.addr, fault_addr(td));
}

function itd_status(td: TestDev, arg: number): number {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint32(0, td.readl(DMA_RESULT), true);
  v.setUint32(4, iopf_pending_groups(td.pdev), true);
  v.setBigUint64(8, BigInt(fault_addr(td)), true);
  return copy_to_user(arg, b, 16) ? -EFAULT : 0;
}

function* itd_ioctl(file: File, cmd: number, arg: number): Generator<unknown, number, unknown> {
  const td = testdev;
  const f = file.private_data;
  if (td === null || !(f instanceof TestDevFile)) return -ENODEV;
  switch (cmd) {
    case ITD_IOC_DMA:
      return yield* itd_dma(td, file, arg);
    case ITD_IOC_BIND:
      return yield* itd_bind(td, f, arg);
    case ITD_IOC_UNBIND:
      return yield* itd_unbind(td, f);
    case ITD_IOC_SVA_DMA:
      return yield* itd_sva_dma(td, file, f, arg);
    case ITD_IOC_STATUS:
      return itd_status(td, arg);
    default:
      return -ENOTTY;
  }
}

function* itd_open(_inode: Inode, file: File): Generator<unknown, number, unknown> {
  if (testdev === null) return -ENODEV;
  const f = new TestDevFile();
  file.private_data = f;
  openFiles.add(f);
  return 0;
}

/** Release: let a running transfer of the device end, then unbind (the device no longer uses the PASID). */
function* itd_release(_inode: Inode, file: File): Generator<unknown, void, unknown> {
  const td = testdev;
  const f = file.private_data;
  if (f instanceof TestDevFile) openFiles.delete(f);
  if (td === null || !(f instanceof TestDevFile) || f.sva === null) return;
  if (td.busy()) yield* wait_dma(td);
  yield* itd_unbind(td, f);
}

const itdMisc: MiscDevice = {
  minor: MISC_DYNAMIC_MINOR,
  name: 'iommu-testdev',
  mode: 0o666,
  fops: { owner: 'iommu_testdev', open: itd_open, release: itd_release, unlocked_ioctl: itd_ioctl },
};

const iommu_testdev_driver: PciDriver = {
  name: 'iommu-testdev',
  bus: null,
  id_table: [{ vendor: PCI_VENDOR_ID_REDHAT, device: PCI_DEVICE_ID_REDHAT_TEST }],
  *pci_probe(pdev: PciDev): Generator<unknown, number, unknown> {
    if (testdev !== null) return -EBUSY;
    let r = pci_enable_device_mem(pdev);
    if (r) return r;
    const bar = pci_iomap(pdev, 0);
    if (bar === 0) {
      pci_disable_device(pdev);
      return -ENODEV;
    }
    pci_set_master(pdev);
    const td = new TestDev(pdev, bar);
    r = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSI);
    if (r < 0) {
      dev_err(pdev, `no MSI vector (${r})`);
      pci_disable_device(pdev);
      return r;
    }
    td.irq = pci_irq_vector(pdev, 0);
    r = request_irq(td.irq, () => {
      wake_up_all(td.done);
      return IRQ_HANDLED;
    }, 0, 'iommu-testdev', td);
    if (r === 0) r = misc_register(itdMisc);
    if (r) {
      free_irq(td.irq, td);
      pci_free_irq_vectors(pdev);
      pci_disable_device(pdev);
      return r;
    }
    testdev = td;
    const ext = td.readl(X_ID) === X_ID_SVAX;
    if (ext) td.writel(X_PRI_PAGES, pri_pages());
    dev_info(pdev, `BAR0 at 0x${bar.toString(16)}, irq ${td.irq}${ext ? ', SVA extension' : ''}${pdev.properties.get('dma-can-stall') ? ', dma-can-stall' : ''}`);
      return 0;
  },
  *pci_remove(pdev: PciDev): Generator<unknown, void, unknown> {
    const td = testdev;
    if (td === null || td.pdev !== pdev) return;
    misc_deregister(itdMisc);
    if (td.busy()) yield* wait_dma(td);
    // The device is idle: drop every SVA bond still open (their files then find no
    // device) and stop taking I/O page faults for it.
    for (const f of [...openFiles]) if (f.sva !== null) yield* itd_unbind(td, f);
    iommu_dev_disable_iopf(pdev);
    free_irq(td.irq, td);
    pci_free_irq_vectors(pdev);
    pci_clear_master(pdev);
    pci_disable_device(pdev);
    testdev = null;
  },
};

declare_pci_fixup_header({ vendor: PCI_VENDOR_ID_REDHAT, device: PCI_DEVICE_ID_REDHAT_TEST, name: 'quirk_testdev_stall', hook: quirk_testdev_stall });

function* iommu_testdev_init(): Generator<unknown, number, unknown> {
  testdev = null;
  openFiles.clear();
  return yield* pci_register_driver(iommu_testdev_driver);
}

device_initcall('iommu_testdev', iommu_testdev_init);

