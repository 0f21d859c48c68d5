// VFIO groups (drivers/vfio/group.c in shape): one /dev/vfio/<N> per IOMMU group with
// a device registered with VFIO, N being the IOMMU group's number. The group is the
// unit of ownership: VFIO_GROUP_SET_CONTAINER claims the IOMMU group's DMA from the
// IOMMU core (iommu_group_claim_dma_owner: refused while a DMA API driver is bound to
// one of its devices) and puts it in the container; device files come from
// VFIO_GROUP_GET_DEVICE_FD by device name once the container has an IOMMU backend.
//
// uAPI (include/uapi/linux/vfio.h): GET_STATUS fills {argsz, flags} with VIABLE (the
// group is in a container, or nobody uses its DMA) and CONTAINER_SET; SET_CONTAINER
// takes a pointer to the container fd (-EFAULT, -EBADF, -EINVAL already set, -EBADFD
// not a container, then what claiming and the backend's attach return);
// UNSET_CONTAINER (-EINVAL none, -EBUSY device files open); GET_DEVICE_FD takes a
// pointer to the device name (-ENODEV no such device in the group, -EINVAL no IOMMU
// backend yet) and returns an O_CLOEXEC fd. Only one opener of the group at a time
// (-EBUSY). Unknown ioctls: -ENOTTY.

import { EBADF, EBUSY, EFAULT, EINVAL, ENODEV, ENOTTY, EBADFD } from '../../lib/errno.js';
import { get_user, strncpy_from_user } from '../../lib/uaccess.js';
import { register_chrdev, devnode_create, devnode_remove } from '../../fs/char_dev.js';
import { sysfs_create_link, sysfs_remove } from '../../fs/sysfs/sysfs.js';
import { alloc_fd, fd_file, fd_install, put_unused_fd } from '../../fs/file.js';
import { MINOR, MKDEV, S_IFCHR, type File, type FileOperations, type Inode } from '../../fs/types.js';
import { PAGE_SIZE } from '../../mm/page.js';
import { iommu_group_claim_dma_owner, iommu_group_dma_owner_claimed, iommu_group_get, iommu_group_release_dma_owner, iommu_groups, type IommuGroup } from '../iommu/iommu.js';
import { vfio_container_from_file, vfio_container_group_attached, vfio_container_group_detached, type VfioContainer } from './container.js';
import { vfio_device_open_file, type VfioDevice } from './vfio_main.js';
import { VFIO_GROUP_FLAGS_CONTAINER_SET, VFIO_GROUP_FLAGS_VIABLE, VFIO_GROUP_GET_DEVICE_FD, VFIO_GROUP_GET_STATUS, VFIO_GROUP_SET_CONTAINER, VFIO_GROUP_UNSET_CONTAINER, ustruct_from_user, ustruct_to_user, vfio_group_status } from './uapi.js';

/** enum vfio_group_type. */
export const VFIO_IOMMU = 0;
export const VFIO_EMULATED_IOMMU = 1;

/** struct vfio_group. */
export class VfioGroup {
  readonly devices: VfioDevice[] = [];
  container: VfioContainer | null = null;
  /** The one open group file (group->opened_file). */
  opened_file: File | null = null;
  /** Device files open through this group (container_users - 1). */
  deviceFiles = 0;
  /** False once its last device has gone: the node is removed, open files see -ENODEV. */
  live = true;
  constructor(
    /** /dev/vfio/<id>: the IOMMU group's number. */
    readonly id: number,
    /** null for an emulated-IOMMU group. */
    readonly iommu_group: IommuGroup | null,
    readonly type: number,
    readonly minor: number,
  ) {}
}

let vfioGroupMajor = 0;
let groups: VfioGroup[] = [];
let nextMinor = 0;

/** vfio_group_init: the "vfio" char device region for the group nodes. */
export function vfio_group_init(): number {
  groups = [];
  nextMinor = 0;
  const m = register_chrdev(0, 0, 1 << 16, 'vfio', vfio_group_fops);
  if (m < 0) return m;
  vfioGroupMajor = m;
  return 0;
}

export function vfio_groups(): readonly VfioGroup[] {
  return groups;
}

function vfio_group_devname(g: VfioGroup): string {
  return `vfio/${g.id}`;
}

/**
 * vfio_device_set_group: the device joins the VFIO group of its IOMMU group (created
 * with its /dev/vfio node on first use); an emulated-IOMMU device gets a new group,
 * numbered with the lowest number free (as Linux gives it a fresh IOMMU group).
 */
export function vfio_device_set_group(vdev: VfioDevice, type: number): number {
  let g: VfioGroup | undefined;
  if (type === VFIO_IOMMU) {
    const ig = iommu_group_get(vdev.dev);
    if (ig === null) return -EINVAL;
    g = groups.find((x) => x.iommu_group === ig && x.live);
    if (g === undefined) {
      g = new VfioGroup(ig.id, ig, VFIO_IOMMU, nextMinor++);
      groups.push(g);
      devnode_create(vfio_group_devname(g), MKDEV(vfioGroupMajor, g.minor), S_IFCHR | 0o600);
    }
  } else {
    // the lowest number no IOMMU group and no other VFIO group has (Linux allocates a
    // fresh IOMMU group from the same IDA)
    let id = 0;
    while (iommu_groups().some((x) => x.id === id) || groups.some((x) => x.id === id)) id++;
    g = new VfioGroup(id, null, VFIO_EMULATED_IOMMU, nextMinor++);
    groups.push(g);
    devnode_create(vfio_group_devname(g), MKDEV(vfioGroupMajor, g.minor), S_IFCHR | 0o600);
    // iommu_group_add_device: /sys/kernel/iommu_groups/<id>/devices/<dev> and <dev>/iommu_group
    sysfs_create_link(`kernel/iommu_groups/${id}/devices`, vdev.dev.name, vdev.dev.kobj_path || `devices/${vdev.dev.name}`);
    if (vdev.dev.kobj_path) sysfs_create_link(vdev.dev.kobj_path, 'iommu_group', `kernel/iommu_groups/${id}`);
  }
  g.devices.push(vdev);
  vdev.group = g;
  return 0;
}

/** The device leaves its group; the last device takes the /dev node with it. */
export function vfio_device_remove_group(vdev: VfioDevice): void {
  const g = vdev.group;
  if (g === null) return;
  g.devices.splice(g.devices.indexOf(vdev), 1);
  if (g.type === VFIO_EMULATED_IOMMU) {
    if (vdev.dev.kobj_path) sysfs_remove(vdev.dev.kobj_path, 'iommu_group');
    sysfs_remove('kernel/iommu_groups', String(g.id));
  }
  if (g.devices.length === 0) {
    g.live = false;
    devnode_remove(vfio_group_devname(g));
    groups = groups.filter((x) => x !== g);
  }
}

/** vfio_group_has_iommu: the group is in a container. */
function vfio_group_has_iommu(g: VfioGroup): boolean {
  return g.container !== null;
}

/** vfio_group_use_container: a device file may open only once the container has an IOMMU backend. */
export function vfio_group_use_container(g: VfioGroup): number {
  if (g.container === null || g.container.iommu === null) return -EINVAL;
  g.deviceFiles++;
  return 0;
}

export function vfio_group_device_closed(g: VfioGroup): void {
  g.deviceFiles--;
}

function group_of(file: File): VfioGroup {
  return file.private_data as VfioGroup;
}

/**
 * vfio_container_attach_group: claim the group's DMA (an emulated group has none),
 * attach it to the backend if the container has one, and link it in.
 */
function vfio_container_attach_group(c: VfioContainer, g: VfioGroup): number {
  if (g.type === VFIO_IOMMU) {
    const r = iommu_group_claim_dma_owner(g.iommu_group!, g);
    if (r) return r;
  }
  if (c.iommu !== null) {
    const r = c.iommu.driver.attach_group(c.iommu.data, g);
    if (r) {
      if (g.type === VFIO_IOMMU) iommu_group_release_dma_owner(g.iommu_group!);
      return r;
    }
  }
  g.container = c;
  vfio_container_group_attached(c, g);
  return 0;
}

/** vfio_group_detach_container: the backend lets go of the group, which returns to the DMA API. */
export function vfio_group_detach_container(g: VfioGroup): void {
  const c = g.container;
  if (c === null) return;
  if (c.iommu !== null) c.iommu.driver.detach_group(c.iommu.data, g);
  if (g.type === VFIO_IOMMU) iommu_group_release_dma_owner(g.iommu_group!);
  g.container = null;
  vfio_container_group_detached(c, g);
}

function* vfio_group_ioctl_get_status(g: VfioGroup, arg: number): Generator<unknown, number, unknown> {
  const minsz = vfio_group_status.end('flags');
  const st = ustruct_from_user(vfio_group_status, arg, minsz);
  if (typeof st === 'number') return st;
  if (st.get('argsz') < minsz) return -EINVAL;
  if (!g.live) return -ENODEV;
  let flags = 0;
  if (vfio_group_has_iommu(g)) flags |= VFIO_GROUP_FLAGS_CONTAINER_SET | VFIO_GROUP_FLAGS_VIABLE;
  else if (g.iommu_group === null || !iommu_group_dma_owner_claimed(g.iommu_group)) flags |= VFIO_GROUP_FLAGS_VIABLE;
  st.set('flags', flags);
  return ustruct_to_user(arg, st, minsz);
}

function vfio_group_ioctl_set_container(g: VfioGroup, arg: number): number {
  const fd = get_user(arg, 4);
  if (fd === undefined) return -EFAULT;
  const f = fd_file(fd | 0);
  if (f === undefined) return -EBADF;
  if (vfio_group_has_iommu(g)) return -EINVAL;
  if (!g.live) return -ENODEV;
  const c = vfio_container_from_file(f);
  if (c === null) return -EBADFD;
  return vfio_container_attach_group(c, g);
}

function vfio_group_ioctl_unset_container(g: VfioGroup): number {
  if (!vfio_group_has_iommu(g)) return -EINVAL;
  if (g.deviceFiles !== 0) return -EBUSY;
  vfio_group_detach_container(g);
  return 0;
}

/** vfio_device_get_from_name: ops.match when the driver has one, else dev_name equality. */
function vfio_device_get_from_name(g: VfioGroup, name: string): VfioDevice | undefined {
  return g.devices.find((d) => (d.ops.match ? d.ops.match(d, name) > 0 : d.name === name));
}

function* vfio_group_ioctl_get_device_fd(g: VfioGroup, file: File, arg: number): Generator<unknown, number, unknown> {
  // strndup_user(arg, PAGE_SIZE): -EFAULT for a bad pointer, -EINVAL without a NUL in the first page
  const name = strncpy_from_user(arg, PAGE_SIZE);
  if (typeof name === 'number') return name === -EFAULT ? -EFAULT : -EINVAL;
  if (!vfio_group_has_iommu(g)) return -EINVAL;
  const vdev = vfio_device_get_from_name(g, name);
  if (vdev === undefined) return -ENODEV;
  const fd = alloc_fd(0, true);
  if (fd < 0) return fd;
  const f = yield* vfio_device_open_file(vdev, file);
  if (typeof f === 'number') {
    put_unused_fd(fd);
    return f;
  }
  fd_install(fd, f);
  return fd;
}

const vfio_group_fops: FileOperations = {
  *open(inode: Inode, file: File) {
    const g = groups.find((x) => x.minor === MINOR(inode.i_rdev));
    if (g === undefined || !g.live) return -ENODEV;
    // one user of a group at a time
    if (g.opened_file !== null) return -EBUSY;
    g.opened_file = file;
    file.private_data = g;
    return 0;
  },
  release(_inode: Inode, file: File) {
    const g = group_of(file);
    // device files hold the group file open, so none is left here
    if (g.container !== null) vfio_group_detach_container(g);
    g.opened_file = null;
  },
  *unlocked_ioctl(file: File, cmd: number, arg: number) {
    const g = group_of(file);
    switch (cmd) {
      case VFIO_GROUP_GET_STATUS:
        return yield* vfio_group_ioctl_get_status(g, arg);
      case VFIO_GROUP_SET_CONTAINER:
        return vfio_group_ioctl_set_container(g, arg);
      case VFIO_GROUP_UNSET_CONTAINER:
        return vfio_group_ioctl_unset_container(g);
      case VFIO_GROUP_GET_DEVICE_FD:
        return yield* vfio_group_ioctl_get_device_fd(g, file, arg);
      default:
        return -ENOTTY;
    }
  },
};
