// Mediated device core (drivers/vfio/mdev/mdev_core.c and mdev_sysfs.c in shape;
// Documentation/driver-api/vfio-mediated-device.rst). A parent device registers with
// an mdev driver and its types; user space creates an mdev by writing a UUID to a
// type's create file and destroys it with "1" to the mdev's remove file:
//
//   /sys/<parent>/mdev_supported_types/<driver>-<name>/{create, name,
//       available_instances, device_api, description, devices/<uuid> -> mdev}
//   /sys/<parent>/<uuid>/{remove, mdev_type -> type, iommu_group -> group}
//   /sys/bus/mdev/devices/<uuid>, /sys/class/mdev_bus/<parent> -> parent
//
// create: 36 or 37 bytes (a trailing newline) of UUID text, else -EINVAL; a UUID
// already in use (any case) -EEXIST; without get_available, past max_instances
// -EUSERS; then the mdev driver binds and its probe's error fails the create (a
// vendor out of instances gives -ENOSPC, as mtty does). remove: "0" does nothing, a
// non-number -EINVAL, an mdev the driver reports in use -EBUSY (the pre-5.x
// parent_ops->remove contract), one being removed -EAGAIN. The mdev's name is the
// UUID in lower case (%pUl).

import { EAGAIN, EEXIST, EINVAL, ENODEV, EUSERS } from '../../../lib/errno.js';
import { pr_info } from '../../../lib/printk.js';
import { sysfs_create_dir, sysfs_create_file, sysfs_create_link, sysfs_remove } from '../../../fs/sysfs/sysfs.js';
import { Device, DeviceClass, class_register, device_add, device_del, device_driver_attach, device_initialize } from '../../base/core.js';
import type { KGen } from '../../../fs/types.js';
import { subsys_initcall } from '../../../init/initcall.js';
import { mdev_bus_register, mdev_bus_type, type MdevDriver } from './mdev_driver.js';

export const UUID_STRING_LEN = 36;

/** struct mdev_type: one kind of mdev a parent offers. */
export class MdevType {
  parent: MdevParent | null = null;
  /** The sysfs directory name "<driver>-<sysfs_name>" once registered. */
  id = '';
  constructor(
    readonly sysfs_name: string,
    /** The name attribute (sysfs_name when empty). */
    readonly pretty_name = '',
    /** Driver data of the type. */
    readonly priv: unknown = null,
  ) {}
  get dir(): string {
    return `${this.parent!.dev.kobj_path}/mdev_supported_types/${this.id}`;
  }
}

/** struct mdev_parent. */
export class MdevParent {
  /** Instances left when the driver has no get_available (max_instances). */
  available_instances = 0;
  /** unreg_sem taken for writing: creates and removes fail with -ENODEV. */
  unregistering = false;
  constructor(
    readonly dev: Device,
    readonly mdev_driver: MdevDriver,
    readonly types: readonly MdevType[],
  ) {}
}

/** struct mdev_device. */
export class MdevDevice extends Device {
  /** Created and not being removed. */
  active = false;
  /** What the mdev driver's probe set up (its VFIO device). */
  drvdata: unknown = null;
  constructor(
    readonly uuid: string,
    readonly type: MdevType,
  ) {
    super(uuid);
  }
  get mdev_parent(): MdevParent {
    return this.type.parent!;
  }
}

let mdev_list: MdevDevice[] = [];
let parents: MdevParent[] = [];
let mdev_bus_compat_class = new DeviceClass('mdev_bus');

/** Every mdev alive (for tests and debugging). */
export function mdev_devices(): readonly MdevDevice[] {
  return mdev_list;
}

export function mdev_parents(): readonly MdevParent[] {
  return parents;
}

export function mdev_get_drvdata(mdev: MdevDevice): unknown {
  return mdev.drvdata;
}

export function mdev_set_drvdata(mdev: MdevDevice, data: unknown): void {
  mdev.drvdata = data;
}

/** guid_parse: 8-4-4-4-12 hex digits, either case; the canonical lower-case text, or null. */
export function guid_parse(s: string): string | null {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s) ? s.toLowerCase() : null;
}

function available_instances(mtype: MdevType): number {
  const p = mtype.parent!;
  return p.mdev_driver.get_available ? p.mdev_driver.get_available(mtype) : p.available_instances;
}

/** create_store. */
function* create_store(mtype: MdevType, buf: string): KGen<number> {
  if (buf.length < UUID_STRING_LEN || buf.length > UUID_STRING_LEN + 1) return -EINVAL;
  const uuid = guid_parse(buf.slice(0, UUID_STRING_LEN));
  if (uuid === null) return -EINVAL;
  return yield* mdev_device_create(mtype, uuid);
}

/** parent_create_sysfs_files: the types directory and each type's attributes. */
function parent_create_sysfs_files(parent: MdevParent): void {
  const drv = parent.mdev_driver;
  sysfs_create_dir(`${parent.dev.kobj_path}/mdev_supported_types`);
  for (const t of parent.types) {
    t.parent = parent;
    t.id = `${parent.dev.driver?.name ?? parent.dev.name}-${t.sysfs_name}`;
    const dir = t.dir;
    sysfs_create_dir(`${dir}/devices`);
    sysfs_create_file(dir, 'create', undefined, (buf) => create_store(t, buf), 0o200);
    sysfs_create_file(dir, 'name', () => `${t.pretty_name || t.sysfs_name}\n`);
    sysfs_create_file(dir, 'available_instances', () => `${available_instances(t)}\n`);
    sysfs_create_file(dir, 'device_api', () => `${drv.device_api}\n`);
    if (drv.show_description) sysfs_create_file(dir, 'description', () => drv.show_description!(t));
  }
}

/**
 * mdev_register_parent: the parent offers `types` of mdevs bound to `mdev_driver`
 * (whose name prefixes the type ids, with the parent's driver name). -EINVAL without
 * types, -EEXIST for a parent registered already.
 */
export function mdev_register_parent(parent: MdevParent): number {
  if (parent.types.length === 0) return -EINVAL;
  if (parents.some((p) => p.dev === parent.dev)) return -EEXIST;
  parent.available_instances = parent.mdev_driver.max_instances ?? 0;
  parent.unregistering = false;
  parent_create_sysfs_files(parent);
  sysfs_create_link(`class/${mdev_bus_compat_class.name}`, parent.dev.name, parent.dev.kobj_path);
  parents.push(parent);
  pr_info(`${parent.dev.driver?.name ?? 'mdev'} ${parent.dev.name}: MDEV: Registered`);
  return 0;
}

/**
 * mdev_unregister_parent: no new creates; every mdev of the parent is removed (the
 * removal of an open one waits until its user lets go), then the sysfs view goes.
 */
export function* mdev_unregister_parent(parent: MdevParent): KGen<void> {
  if (!parents.includes(parent)) return;
  parent.unregistering = true;
  for (const m of mdev_list.filter((x) => x.mdev_parent === parent)) {
    m.active = false;
    yield* mdev_device_remove_common(m);
  }
  sysfs_remove(parent.dev.kobj_path, 'mdev_supported_types');
  sysfs_remove(`class/${mdev_bus_compat_class.name}`, parent.dev.name);
  parents = parents.filter((p) => p !== parent);
  pr_info(`${parent.dev.driver?.name ?? 'mdev'} ${parent.dev.name}: MDEV: Unregistering`);
}

/** remove_store: kstrtoul(buf, 0); non-zero removes. */
function* remove_store(mdev: MdevDevice, buf: string): KGen<number> {
  const t = buf.replace(/\n$/, '');
  let val: number;
  if (/^0x[0-9a-f]+$/i.test(t)) val = Number.parseInt(t.slice(2), 16);
  else if (/^0[0-7]*$/.test(t)) val = Number.parseInt(t, 8);
  else if (/^[1-9][0-9]*$/.test(t)) val = Number(t);
  else return -EINVAL;
  if (val === 0) return 0;
  return yield* mdev_device_remove(mdev);
}

function mdev_create_sysfs_files(mdev: MdevDevice): void {
  sysfs_create_link(`${mdev.type.dir}/devices`, mdev.name, mdev.kobj_path);
  sysfs_create_link(mdev.kobj_path, 'mdev_type', mdev.type.dir);
  sysfs_create_file(mdev.kobj_path, 'remove', undefined, (buf) => remove_store(mdev, buf), 0o200);
}

function mdev_remove_sysfs_files(mdev: MdevDevice): void {
  sysfs_remove(mdev.kobj_path, 'remove');
  sysfs_remove(mdev.kobj_path, 'mdev_type');
  sysfs_remove(`${mdev.type.dir}/devices`, mdev.name);
}

/** mdev_device_create: a new mdev of `mtype` named `uuid` (lower case), bound to the parent's mdev driver. */
export function* mdev_device_create(mtype: MdevType, uuid: string): KGen<number> {
  const parent = mtype.parent!;
  const drv = parent.mdev_driver;
  if (mdev_list.some((m) => m.uuid === uuid)) return -EEXIST;
  if (!drv.get_available) {
    if (parent.available_instances === 0) return -EUSERS;
    parent.available_instances--;
  }
  const mdev = new MdevDevice(uuid, mtype);
  device_initialize(mdev);
  mdev.parent = parent.dev;
  mdev.bus = mdev_bus_type;
  mdev_list.push(mdev);
  const undo = (): void => {
    mdev_list = mdev_list.filter((m) => m !== mdev);
    if (!drv.get_available) parent.available_instances++;
  };
  if (parent.unregistering) {
    undo();
    return -ENODEV;
  }
  let r = yield* device_add(mdev);
  if (r) {
    undo();
    return r;
  }
  r = yield* device_driver_attach(drv, mdev);
  if (r) {
    yield* device_del(mdev);
    undo();
    return r;
  }
  mdev_create_sysfs_files(mdev);
  mdev.active = true;
  return 0;
}

/** mdev_device_remove_common: sysfs files, then device_del (the driver's remove), then the instance back. */
function* mdev_device_remove_common(mdev: MdevDevice): KGen<void> {
  const parent = mdev.mdev_parent;
  mdev_remove_sysfs_files(mdev);
  yield* device_del(mdev);
  mdev_list = mdev_list.filter((m) => m !== mdev);
  if (!parent.mdev_driver.get_available) parent.available_instances++;
}

/** mdev_device_remove. */
export function* mdev_device_remove(mdev: MdevDevice): KGen<number> {
  if (!mdev_list.includes(mdev)) return -ENODEV;
  if (!mdev.active) return -EAGAIN;
  const parent = mdev.mdev_parent;
  if (parent.unregistering) return -ENODEV;
  const busy = parent.mdev_driver.remove_busy?.(mdev) ?? 0;
  if (busy) return busy;
  mdev.active = false;
  yield* mdev_device_remove_common(mdev);
  return 0;
}

/** mdev_init: the mdev bus and the mdev_bus class (fresh state for each boot). */
function* mdev_init(): KGen<number> {
  mdev_list = [];
  parents = [];
  mdev_bus_compat_class = new DeviceClass('mdev_bus');
  const r = mdev_bus_register();
  if (r) return r;
  return class_register(mdev_bus_compat_class);
}

subsys_initcall('mdev', mdev_init);
