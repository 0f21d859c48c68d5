// The VFIO container (drivers/vfio/container.c in shape): /dev/vfio/vfio (misc minor
// 196, mode 0666: it grants nothing by itself). Groups join it with
// VFIO_GROUP_SET_CONTAINER; VFIO_SET_IOMMU then picks the IOMMU backend (type1) that
// accepts the type and attaches every group to it. Without a backend the container
// answers only GET_API_VERSION, CHECK_EXTENSION (asking each registered backend) and
// SET_IOMMU; other ioctls are -EINVAL. With one, ioctls it does not know go to the
// backend. When the last group leaves, the backend is released (its mappings unpinned)
// and the container is unset again.

import { EINVAL, ENODEV } from '../../lib/errno.js';
import { misc_register, type MiscDevice } from '../../fs/char_dev.js';
import type { File, FileOperations, KGen } from '../../fs/types.js';
import type { VfioGroup } from './group.js';
import { VFIO_API_VERSION, VFIO_CHECK_EXTENSION, VFIO_GET_API_VERSION, VFIO_SET_IOMMU } from './uapi.js';

/** struct vfio_iommu_driver_ops. `data` is what open returned. */
export interface VfioIommuDriverOps {
  readonly name: string;
  /** A backend instance for the type given to SET_IOMMU, or -errno. */
  open(arg: number): unknown;
  release(data: unknown): void;
  /** `data` is null for CHECK_EXTENSION on a container without a backend. */
  ioctl(data: unknown, cmd: number, arg: number): KGen<number>;
  attach_group(data: unknown, group: VfioGroup): number;
  detach_group(data: unknown, group: VfioGroup): void;
  /** Emulated-IOMMU devices (vfio_pin_pages): npage or -errno. */
  pin_pages?(data: unknown, group: VfioGroup, iova: number, npage: number, prot: number, pages: number[]): number;
  unpin_pages?(data: unknown, iova: number, npage: number): void;
}

/** struct vfio_container. */
export class VfioContainer {
  readonly groups: VfioGroup[] = [];
  /** The backend chosen by SET_IOMMU and its instance. */
  iommu: { readonly driver: VfioIommuDriverOps; readonly data: unknown } | null = null;
}

const VFIO_MINOR = 196;
let iommuDrivers: VfioIommuDriverOps[] = [];

/** vfio_register_iommu_driver. */
export function vfio_register_iommu_driver(ops: VfioIommuDriverOps): number {
  if (iommuDrivers.includes(ops)) return -EINVAL;
  iommuDrivers.push(ops);
  return 0;
}

export function vfio_unregister_iommu_driver(ops: VfioIommuDriverOps): void {
  iommuDrivers = iommuDrivers.filter((d) => d !== ops);
}

function container_of(file: File): VfioContainer {
  return file.private_data as VfioContainer;
}

/** vfio_container_from_file: the container behind a /dev/vfio/vfio file, else null. */
export function vfio_container_from_file(file: File): VfioContainer | null {
  return file.f_op === vfio_fops ? container_of(file) : null;
}

export function vfio_container_group_attached(c: VfioContainer, g: VfioGroup): void {
  c.groups.push(g);
}

/** __vfio_group_unset_container's tail: the last group out releases the backend. */
export function vfio_container_group_detached(c: VfioContainer, g: VfioGroup): void {
  c.groups.splice(c.groups.indexOf(g), 1);
  if (c.groups.length === 0 && c.iommu !== null) {
    c.iommu.driver.release(c.iommu.data);
    c.iommu = null;
  }
}

function* vfio_container_ioctl_check_extension(c: VfioContainer, arg: number): Generator<unknown, number, unknown> {
  if (c.iommu !== null) return yield* c.iommu.driver.ioctl(c.iommu.data, VFIO_CHECK_EXTENSION, arg);
  let ret = 0;
  for (const d of iommuDrivers) {
    ret = yield* d.ioctl(null, VFIO_CHECK_EXTENSION, arg);
    if (ret > 0) break;
  }
  return ret;
}

/**
 * vfio_ioctl_set_iommu: only with a group in the container and no backend yet
 * (-EINVAL); the first backend that reports the extension, opens for it and attaches
 * every group wins; -ENODEV when none does, else the last failure.
 */
function* vfio_ioctl_set_iommu(c: VfioContainer, arg: number): Generator<unknown, number, unknown> {
  if (c.groups.length === 0 || c.iommu !== null) return -EINVAL;
  let ret = -ENODEV;
  for (const d of iommuDrivers) {
    if ((yield* d.ioctl(null, VFIO_CHECK_EXTENSION, arg)) <= 0) continue;
    const data = d.open(arg);
    if (typeof data === 'number') {
      ret = data;
      continue;
    }
    ret = 0;
    const done: VfioGroup[] = [];
    for (const g of c.groups) {
      ret = d.attach_group(data, g);
      if (ret) break;
      done.push(g);
    }
    if (ret) {
      for (const g of done) d.detach_group(data, g);
      d.release(data);
      continue;
    }
    c.iommu = { driver: d, data };
    break;
  }
  return ret;
}

const vfio_fops: FileOperations = {
  *open(_inode, file) {
    file.private_data = new VfioContainer();
    return 0;
  },
  // groups keep the container (and its backend) alive after its file is closed
  release() {},
  *unlocked_ioctl(file: File, cmd: number, arg: number) {
    const c = container_of(file);
    switch (cmd) {
      case VFIO_GET_API_VERSION:
        return VFIO_API_VERSION;
      case VFIO_CHECK_EXTENSION:
        return yield* vfio_container_ioctl_check_extension(c, arg);
      case VFIO_SET_IOMMU:
        return yield* vfio_ioctl_set_iommu(c, arg);
      default:
        if (c.iommu === null) return -EINVAL;
        return yield* c.iommu.driver.ioctl(c.iommu.data, cmd, arg);
    }
  },
};

const vfio_dev: MiscDevice = { minor: VFIO_MINOR, name: 'vfio/vfio', fops: vfio_fops, mode: 0o666 };

/** vfio_container_init: /dev/vfio/vfio. */
export function vfio_container_init(): number {
  iommuDrivers = [];
  vfio_dev.minor = VFIO_MINOR;
  return misc_register(vfio_dev);
}
