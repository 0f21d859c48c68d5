// The driver model (drivers/base/core.c, bus.c, dd.c, driver.c, class.c in shape):
// devices on buses, drivers bound by the bus's match, probe/remove, classes, and the
// sysfs view of all of it (/sys/devices, /sys/bus/<bus>/{devices,drivers},
// /sys/class/<class>). A device with a dev_t gets a devtmpfs node.

import { ENODEV, EEXIST, EINVAL } from '../../lib/errno.js';
import { sysfs_create_dir, sysfs_create_file, sysfs_create_link, sysfs_remove } from '../../fs/sysfs/sysfs.js';
import { devnode_create, devnode_remove } from '../../fs/char_dev.js';
import { MAJOR, MINOR, S_IFCHR } from '../../fs/types.js';
import { oops_report } from '../../kernel/panic.js';
import { pr_info, pr_err } from '../../lib/printk.js';

export interface BusType {
  readonly name: string;
  match(dev: Device, drv: DeviceDriver): boolean;
  probe?(dev: Device): Generator<unknown, number, unknown>;
  remove?(dev: Device): Generator<unknown, void, unknown>;
}

export interface DeviceDriver {
  readonly name: string;
  bus: BusType | null;
  probe?(dev: Device): Generator<unknown, number, unknown>;
  remove?(dev: Device): Generator<unknown, void, unknown>;
}

export class Device {
  parent: Device | null = null;
  bus: BusType | null = null;
  driver: DeviceDriver | null = null;
  class: DeviceClass | null = null;
  /** dev_t when the device has a node in /dev. */
  devt = 0;
  /** Node mode for devtmpfs (default 0600). */
  devnode_mode = 0o600;
  driver_data: unknown = undefined;
  /** Firmware node (device tree). */
  of_node: unknown = undefined;
  /** Software-node properties (device_property_*), e.g. "dma-can-stall" added by a PCI quirk. */
  readonly properties = new Map<string, number | boolean>();
  /** IOMMU group and per-device IOMMU state, owned by the IOMMU core. */
  iommu_group: unknown = undefined;
  iommu: unknown = undefined;
  /** Set by device_add: the path below /sys (e.g. "devices/pci0000:00/0000:00:01.0"). */
  kobj_path = '';
  registered = false;
  constructor(public name: string) {}
}

export class DeviceClass {
  constructor(readonly name: string) {}
}

let buses: BusType[] = [];
let drivers: DeviceDriver[] = [];
let devices: Device[] = [];

export function driver_core_init(): void {
  buses = [];
  drivers = [];
  devices = [];
}

export function dev_name(dev: Device): string {
  return dev.name;
}

export function dev_get_drvdata(dev: Device): unknown {
  return dev.driver_data;
}

export function dev_set_drvdata(dev: Device, data: unknown): void {
  dev.driver_data = data;
}

export function bus_register(bus: BusType): number {
  if (buses.includes(bus)) return -EEXIST;
  buses.push(bus);
  sysfs_create_dir(`bus/${bus.name}/devices`);
  sysfs_create_dir(`bus/${bus.name}/drivers`);
  return 0;
}

export function class_register(cls: DeviceClass): number {
  sysfs_create_dir(`class/${cls.name}`);
  return 0;
}

function* really_probe(dev: Device, drv: DeviceDriver): Generator<unknown, number, unknown> {
  dev.driver = drv;
  let r: number;
  try {
    if (dev.bus?.probe) r = yield* dev.bus.probe(dev);
    else if (drv.probe) r = yield* drv.probe(dev);
    else r = 0;
  } catch (e) {
    oops_report(e, `probe of ${dev.name} by ${drv.name}`);
    r = -ENODEV;
  }
  if (r < 0) {
    dev.driver = null;
    if (r !== -ENODEV) pr_err(`${drv.name} ${dev.name}: probe failed with error ${r}`);
    return r;
  }
  if (dev.bus) {
    sysfs_create_link(dev.kobj_path, 'driver', `bus/${dev.bus.name}/drivers/${drv.name}`);
    sysfs_create_link(`bus/${dev.bus.name}/drivers/${drv.name}`, dev.name, dev.kobj_path);
  }
  return 0;
}

/** device_attach: the first matching registered driver probes the device. */
export function* device_attach(dev: Device): Generator<unknown, number, unknown> {
  if (dev.driver !== null || dev.bus === null) return 0;
  for (const drv of drivers) {
    if (drv.bus !== dev.bus || !dev.bus.match(dev, drv)) continue;
    const r = yield* really_probe(dev, drv);
    if (r === 0) return 1;
  }
  return 0;
}

/** device_release_driver: remove() and unbind. */
export function* device_release_driver(dev: Device): Generator<unknown, void, unknown> {
  const drv = dev.driver;
  if (drv === null) return;
  try {
    if (dev.bus?.remove) yield* dev.bus.remove(dev);
    else if (drv.remove) yield* drv.remove(dev);
  } catch (e) {
    oops_report(e, `remove of ${dev.name}`);
  }
  if (dev.bus) {
    sysfs_remove(dev.kobj_path, 'driver');
    sysfs_remove(`bus/${dev.bus.name}/drivers/${drv.name}`, dev.name);
  }
  dev.driver = null;
  dev.driver_data = undefined;
}

/** device_add: sysfs directory, bus and class links, devtmpfs node, then driver matching. */
export function* device_add(dev: Device): Generator<unknown, number, unknown> {
  if (dev.registered) return -EEXIST;
  const parentPath = dev.parent ? dev.parent.kobj_path : dev.class ? `devices/virtual/${dev.class.name}` : 'devices';
  dev.kobj_path = `${parentPath}/${dev.name}`;
  sysfs_create_dir(dev.kobj_path);
  sysfs_create_file(dev.kobj_path, 'uevent', () => (dev.devt ? `MAJOR=${MAJOR(dev.devt)}\nMINOR=${MINOR(dev.devt)}\nDEVNAME=${dev.name}\n` : ''));
  dev.registered = true;
  devices.push(dev);
  if (dev.bus) sysfs_create_link(`bus/${dev.bus.name}/devices`, dev.name, dev.kobj_path);
  if (dev.class) {
    sysfs_create_link(`class/${dev.class.name}`, dev.name, dev.kobj_path);
    sysfs_create_link(dev.kobj_path, 'subsystem', `class/${dev.class.name}`);
  }
  if (dev.devt) {
    sysfs_create_file(dev.kobj_path, 'dev', () => `${MAJOR(dev.devt)}:${MINOR(dev.devt)}\n`);
    devnode_create(dev.name, dev.devt, S_IFCHR | dev.devnode_mode);
  }
  if (dev.bus) yield* device_attach(dev);
  return 0;
}

export function device_initialize(dev: Device): void {
  dev.registered = false;
}

export function* device_register(dev: Device): Generator<unknown, number, unknown> {
  device_initialize(dev);
  return yield* device_add(dev);
}

export function* device_del(dev: Device): Generator<unknown, void, unknown> {
  if (!dev.registered) return;
  yield* device_release_driver(dev);
  if (dev.devt) devnode_remove(dev.name);
  if (dev.bus) sysfs_remove(`bus/${dev.bus.name}/devices`, dev.name);
  if (dev.class) sysfs_remove(`class/${dev.class.name}`, dev.name);
  const slash = dev.kobj_path.lastIndexOf('/');
  sysfs_remove(dev.kobj_path.slice(0, slash), dev.kobj_path.slice(slash + 1));
  devices = devices.filter((d) => d !== dev);
  dev.registered = false;
}

/** device_create: a class device (e.g. /dev/uacce/<name>) with a dev_t. */
export function* device_create(cls: DeviceClass, parent: Device | null, devt: number, name: string, mode = 0o600): Generator<unknown, Device | number, unknown> {
  const d = new Device(name);
  d.class = cls;
  d.parent = parent;
  d.devt = devt;
  d.devnode_mode = mode;
  const r = yield* device_register(d);
  return r < 0 ? r : d;
}

/** driver_register: adds the driver and probes every matching unbound device. */
export function* driver_register(drv: DeviceDriver): Generator<unknown, number, unknown> {
  if (drv.bus === null) return -EINVAL;
  if (drivers.includes(drv)) return -EEXIST;
  drivers.push(drv);
  sysfs_create_dir(`bus/${drv.bus.name}/drivers/${drv.name}`);
  for (const dev of [...devices]) {
    if (dev.bus !== drv.bus || dev.driver !== null || !drv.bus.match(dev, drv)) continue;
    yield* really_probe(dev, drv);
  }
  return 0;
}

export function* driver_unregister(drv: DeviceDriver): Generator<unknown, void, unknown> {
  for (const dev of [...devices]) if (dev.driver === drv) yield* device_release_driver(dev);
  drivers = drivers.filter((d) => d !== drv);
  if (drv.bus) {
    const b = drv.bus.name;
    sysfs_remove(`bus/${b}/drivers`, drv.name);
  }
}

export function bus_for_each_dev(bus: BusType, fn: (dev: Device) => void): void {
  for (const d of devices) if (d.bus === bus) fn(d);
}

export function all_devices(): readonly Device[] {
  return devices;
}

export function dev_info(dev: Device, msg: string): void {
  pr_info(`${dev.driver?.name ?? dev.bus?.name ?? 'device'} ${dev.name}: ${msg}`);
}

export function dev_err(dev: Device, msg: string): void {
  pr_err(`${dev.driver?.name ?? dev.bus?.name ?? 'device'} ${dev.name}: ${msg}`);
}
