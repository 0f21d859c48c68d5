// VFIO core (drivers/vfio/vfio_main.c in shape): a bus driver (vfio-pci, later an mdev
// parent) registers a vfio_device with its vfio_device_ops; the device joins the VFIO
// group of its IOMMU group (group.ts), and user space reaches it through a device file
// from VFIO_GROUP_GET_DEVICE_FD whose read/write/mmap/ioctl go to the ops. The first
// open of the device calls open_device, the last close close_device. Unregistering
// waits until every device file is closed, asking the user to let go (ops.request).
//
// Devices without an IOMMU of their own (an mdev whose parent does the DMA, an
// emulated IOMMU) register with vfio_register_emulated_iommu_dev: their group has no
// IOMMU group, the container's IOMMU backend does not pin at MAP_DMA, and the driver
// pins what the device touches with vfio_pin_pages / vfio_unpin_pages.

import { E2BIG, EBUSY, EINVAL, ENODEV, ENOTTY } from '../../lib/errno.js';
import { pr_info } from '../../lib/printk.js';
import type { Device } from '../base/core.js';
import type { File, FileOperations, Inode, KGen } from '../../fs/types.js';
import { FMODE_PREAD, FMODE_PWRITE, O_RDWR } from '../../fs/types.js';
import { anon_inode_getfile } from '../../fs/eventpoll.js';
import { fput } from '../../fs/file.js';
import type { VmAreaStruct } from '../../mm/mm_types.js';
import { current } from '../../sched/core.js';
import { TASK_UNINTERRUPTIBLE } from '../../sched/task.js';
import { WaitQueueHead, wait_event_interruptible_timeout, wake_up_all } from '../../sched/wait.js';
import { iommu_group_get } from '../iommu/iommu.js';
import { INITCALL_SUBSYS, register_initcall } from '../../init/initcall.js';
import { vfio_container_init, vfio_register_iommu_driver } from './container.js';
import { VFIO_PIN_PAGES_MAX_ENTRIES, vfio_iommu_driver_ops_type1 } from './vfio_iommu_type1.js';
import { VFIO_IRQ_SET_ACTION_TYPE_MASK, VFIO_IRQ_SET_DATA_BOOL, VFIO_IRQ_SET_DATA_EVENTFD, VFIO_IRQ_SET_DATA_NONE, VFIO_IRQ_SET_DATA_TYPE_MASK, vfio_irq_set } from './uapi.js';
import { vfio_group_init, VFIO_EMULATED_IOMMU, VFIO_IOMMU, vfio_device_remove_group, vfio_device_set_group, vfio_group_device_closed, vfio_group_use_container, type VfioGroup } from './group.js';

/** struct vfio_device_ops: what a VFIO bus driver provides. */
export interface VfioDeviceOps {
  readonly name: string;
  /** First open of the device (a device file of a group with an IOMMU backend set). 0 or -errno. */
  open_device?(vdev: VfioDevice): KGen<number>;
  /** Last device file closed. */
  close_device?(vdev: VfioDevice): KGen<void>;
  read?(vdev: VfioDevice, ubuf: number, count: number, ppos: { pos: number }): KGen<number>;
  write?(vdev: VfioDevice, ubuf: number, count: number, ppos: { pos: number }): KGen<number>;
  ioctl?(vdev: VfioDevice, cmd: number, arg: number): KGen<number>;
  mmap?(vdev: VfioDevice, vma: VmAreaStruct): number;
  /** The device is being unregistered while open: ask the user to release it (count: how many times asked). */
  request?(vdev: VfioDevice, count: number): void;
  /** GET_DEVICE_FD name match: 1 match, 0 no match (default: dev_name equality). */
  match?(vdev: VfioDevice, name: string): number;
  /**
   * Emulated IOMMU devices: user space unmaps [iova, iova+length); the driver must
   * unpin its pages there before returning (it may sleep, e.g. until its device is
   * done with them).
   */
  dma_unmap?(vdev: VfioDevice, iova: number, length: number): KGen<void>;
}

/** struct vfio_device. */
export class VfioDevice {
  group: VfioGroup | null = null;
  /** Device files open on the device (open_count). */
  open_count = 0;
  /** Times unregistration asked the user to release the device. */
  requests = 0;
  registered = false;
  readonly closed = new WaitQueueHead('vfio-device');
  constructor(
    readonly dev: Device,
    readonly ops: VfioDeviceOps,
  ) {}
  get name(): string {
    return this.dev.name;
  }
}

/** What a device file points at (struct vfio_device_file). */
class VfioDeviceFile {
  constructor(
    readonly device: VfioDevice,
    /** The group file this device file keeps open (a reference taken at GET_DEVICE_FD). */
    readonly groupFile: File,
  ) {}
}

function df_of(file: File): VfioDeviceFile {
  return file.private_data as VfioDeviceFile;
}

function* __vfio_register_dev(vdev: VfioDevice, type: number): Generator<unknown, number, unknown> {
  if (vdev.registered) return -EBUSY;
  // vfio_device_set_group: a device behind no IOMMU cannot be handed to user space (no noiommu mode here)
  if (type === VFIO_IOMMU && iommu_group_get(vdev.dev) === null) return -EINVAL;
  const r = vfio_device_set_group(vdev, type);
  if (r) return r;
  vdev.registered = true;
  return 0;
}

/** vfio_register_group_dev: a device isolated by its IOMMU group (vfio-pci). */
export function vfio_register_group_dev(vdev: VfioDevice): Generator<unknown, number, unknown> {
  return __vfio_register_dev(vdev, VFIO_IOMMU);
}

/** vfio_register_emulated_iommu_dev: a device whose DMA the driver mediates (mdev); it gets a group of its own. */
export function vfio_register_emulated_iommu_dev(vdev: VfioDevice): Generator<unknown, number, unknown> {
  return __vfio_register_dev(vdev, VFIO_EMULATED_IOMMU);
}

/** How often unregistration asks an open device's user to release it (virtual ns). */
const VFIO_REQUEST_INTERVAL_NS = 10_000_000_000;

/**
 * vfio_unregister_group_dev: waits until no device file is open, calling ops.request
 * every 10 s (virtual) meanwhile, as Linux does, then leaves the group.
 */
export function* vfio_unregister_group_dev(vdev: VfioDevice): Generator<unknown, void, unknown> {
  if (!vdev.registered) return;
  let i = 0;
  while (vdev.open_count > 0) {
    // (i counts outside the optional call: `request?.(vdev, i++)` skips the increment without a request op)
    vdev.ops.request?.(vdev, i);
    vdev.requests = ++i;
    if (i === 1) pr_info(`${vdev.dev.driver?.name ?? 'vfio'} ${vdev.name}: Device is currently in use, task "${current().comm}" (${current().pid}) blocked until device is released`);
    yield* wait_event_interruptible_timeout(vdev.closed, () => vdev.open_count === 0, VFIO_REQUEST_INTERVAL_NS, TASK_UNINTERRUPTIBLE);
  }
  vfio_device_remove_group(vdev);
  vdev.registered = false;
}

const vfio_device_fops: FileOperations = {
  llseek(file: File): number {
    return file.f_pos; // noop_llseek: offsets are region offsets given per access
  },
  *read(file, ubuf, count, ppos) {
    const d = df_of(file).device;
    if (d.ops.read === undefined) return -EINVAL;
    return yield* d.ops.read(d, ubuf, count, ppos);
  },
  *write(file, ubuf, count, ppos) {
    const d = df_of(file).device;
    if (d.ops.write === undefined) return -EINVAL;
    return yield* d.ops.write(d, ubuf, count, ppos);
  },
  *unlocked_ioctl(file, cmd, arg) {
    const d = df_of(file).device;
    if (d.ops.ioctl === undefined) return -EINVAL;
    return yield* d.ops.ioctl(d, cmd, arg);
  },
  mmap(file, vma) {
    const d = df_of(file).device;
    if (d.ops.mmap === undefined) return -EINVAL;
    return d.ops.mmap(d, vma);
  },
  *release(_inode: Inode, file: File) {
    const df = df_of(file);
    yield* vfio_df_close(df.device);
    fput(df.groupFile);
  },
};

/** vfio_df_open: the first opener runs open_device (the group's container must have an IOMMU backend). */
function* vfio_df_open(vdev: VfioDevice): Generator<unknown, number, unknown> {
  if (vdev.open_count === 0) {
    const r = vfio_group_use_container(vdev.group!);
    if (r) return r;
    if (vdev.ops.open_device) {
      const o = yield* vdev.ops.open_device(vdev);
      if (o) {
        vfio_group_device_closed(vdev.group!);
        return o;
      }
    }
  } else {
    const r = vfio_group_use_container(vdev.group!);
    if (r) return r;
  }
  vdev.open_count++;
  return 0;
}

function* vfio_df_close(vdev: VfioDevice): Generator<unknown, void, unknown> {
  if (vdev.open_count === 1 && vdev.ops.close_device) yield* vdev.ops.close_device(vdev);
  vdev.open_count--;
  vfio_group_device_closed(vdev.group!);
  wake_up_all(vdev.closed);
}

/**
 * vfio_device_open_file: opens the device for the group file `groupFile` and returns
 * the new device file (O_RDWR, pread/pwrite allowed), or -errno.
 */
export function* vfio_device_open_file(vdev: VfioDevice, groupFile: File): Generator<unknown, File | number, unknown> {
  if (!vdev.registered) return -ENODEV;
  const r = yield* vfio_df_open(vdev);
  if (r) return r;
  const file = anon_inode_getfile('[vfio-device]', vfio_device_fops, null, O_RDWR);
  file.private_data = new VfioDeviceFile(vdev, groupFile);
  file.f_mode |= FMODE_PREAD | FMODE_PWRITE;
  groupFile.f_count++;
  return file;
}

/** The device behind a device file (for tests and in-kernel users), or null for another file. */
export function vfio_device_from_file(file: File): VfioDevice | null {
  return file.f_op === vfio_device_fops ? df_of(file).device : null;
}

/**
 * vfio_pin_pages: an emulated-IOMMU device pins the user pages behind `npage` pages at
 * page-aligned `iova` of its container's mappings (prot: IOMMU_READ/WRITE). Fills
 * `pages` with the PFNs; returns npage or -errno: -EINVAL not open, no backend, no
 * dma_unmap op or npage 0; -E2BIG more than VFIO_PIN_PAGES_MAX_ENTRIES; -ENOTTY the
 * backend cannot pin; then what the backend returns (type1: -EACCES not TYPE1v2,
 * -EINVAL unmapped IOVA, -EPERM prot beyond the mapping's, -ENOMEM RLIMIT_MEMLOCK).
 */
export function vfio_pin_pages(vdev: VfioDevice, iova: number, npage: number, prot: number, pages: number[]): number {
  const g = vdev.group;
  if (npage <= 0 || vdev.open_count === 0 || vdev.ops.dma_unmap === undefined) return -EINVAL;
  if (g === null || g.container === null || g.container.iommu === null) return -EINVAL;
  if (npage > VFIO_PIN_PAGES_MAX_ENTRIES) return -E2BIG;
  const c = g.container;
  const driver = c.iommu!.driver;
  if (driver.pin_pages === undefined) return -ENOTTY;
  return driver.pin_pages(c.iommu!.data, g, iova, npage, prot, pages);
}

/** vfio_unpin_pages: releases one reference of each page pinned with vfio_pin_pages. */
export function vfio_unpin_pages(vdev: VfioDevice, iova: number, npage: number): void {
  if (npage <= 0 || npage > VFIO_PIN_PAGES_MAX_ENTRIES) return;
  const g = vdev.group;
  const it = g?.container?.iommu;
  if (it === null || it === undefined) return;
  it.driver.unpin_pages?.(it.data, iova, npage);
}

/**
 * vfio_set_irqs_validate_and_prepare: -EINVAL for a short argsz, an index past the
 * last, start/count outside the index's vectors, unknown flags, not exactly one data
 * type, or data shorter than count elements. Returns the data size.
 */
export function vfio_set_irqs_validate_and_prepare(argsz: number, flags: number, index: number, start: number, count: number, num_irqs: number, max_irq_type: number): number {
  const minsz = vfio_irq_set.end('count');
  if (argsz < minsz || index >= max_irq_type || count >= 0xffffffff - start || flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK)) return -EINVAL;
  if (start >= num_irqs || start + count > num_irqs) return -EINVAL;
  let size: number;
  switch (flags & VFIO_IRQ_SET_DATA_TYPE_MASK) {
    case VFIO_IRQ_SET_DATA_NONE:
      size = 0;
      break;
    case VFIO_IRQ_SET_DATA_BOOL:
      size = 1;
      break;
    case VFIO_IRQ_SET_DATA_EVENTFD:
      size = 4;
      break;
    default:
      return -EINVAL;
  }
  if (size && argsz - minsz < count * size) return -EINVAL;
  return count * size;
}

/** vfio_init: /dev/vfio/vfio, the group char device region, and the type1 backend (built in). */
function vfio_init(): void {
  vfio_container_init();
  vfio_group_init();
  vfio_register_iommu_driver(vfio_iommu_driver_ops_type1);
  pr_info('VFIO - User Level meta-driver version: 0.3');
}

register_initcall(INITCALL_SUBSYS, 'vfio_init', vfio_init);
