// The driver model (drivers/base/core.c, bus.c, dd.c, driver.c, class.c in shape):
// devices on buses, drivers bound by the bus's match, probe/remove (with the bus's
// dma_configure/dma_cleanup around them), classes, and the sysfs view of all of it
// (/sys/devices, /sys/bus/<bus>/{devices,drivers,drivers_probe,drivers_autoprobe},
// /sys/bus/<bus>/drivers/<drv>/{bind,unbind}, /sys/class/<class>). A device with a
// dev_t gets a devtmpfs node.

import { EAGAIN, EBUSY, ENODEV, EEXIST, EINVAL, EPROBE_DEFER } from '../../lib/errno.js';
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
  /**
   * Before probe, with dev.driver set: DMA setup for the driver (PCI: the device's
   * IOMMU group counts one more DMA API user). 0 or -errno, which fails the bind.
   */
  dma_configure?(dev: Device): number;
  /** After remove, or after a failed probe: undoes dma_configure. */
  dma_cleanup?(dev: Device): void;
}

export interface DeviceDriver {
  readonly name: string;
  bus: BusType | null;
  probe?(dev: Device): Generator<unknown, number, unknown>;
  remove?(dev: Device): Generator<unknown, void, unknown>;
  /**
   * The driver manages the device's DMA itself (vfio-pci): binding it does not make
   * the device a user of its IOMMU group's default domain.
   */
  readonly driver_managed_dma?: boolean;
  /** No bind/unbind files in sysfs for this driver. */
  readonly suppress_bind_attrs?: boolean;
}

/** NUMA_NO_NODE (include/linux/numa.h). */
export const NUMA_NO_NODE = -1;

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
  /** dev->numa_node: NUMA_NO_NODE unless firmware or the parent bus says. */
  numa_node = NUMA_NO_NODE;
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
/** Buses whose drivers_autoprobe is off (subsys_private.drivers_autoprobe = 0). */
let noAutoprobe = new Set<BusType>();

export function driver_core_init(): void {
  buses = [];
  drivers = [];
  devices = [];
  noAutoprobe = new Set();
  glueDirs = new Map();
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

/** sysfs_streq: equal, ignoring one trailing newline on either side. */
function sysfs_streq(a: string, b: string): boolean {
  return a.replace(/\n$/, '') === b.replace(/\n$/, '');
}

/** bus_find_device_by_name: the registered device of `bus` named `name` (sysfs_streq). */
export function bus_find_device_by_name(bus: BusType, name: string): Device | undefined {
  return devices.find((d) => d.bus === bus && sysfs_streq(d.name, name));
}

/**
 * bus_register, with the bus attributes: drivers_probe (0200) probes a named unbound
 * device now (bus_rescan_devices_helper); drivers_autoprobe (0644) says whether new
 * devices and drivers are matched automatically.
 */
export function bus_register(bus: BusType): number {
  if (buses.includes(bus)) return -EEXIST;
  buses.push(bus);
  sysfs_create_dir(`bus/${bus.name}/devices`);
  sysfs_create_dir(`bus/${bus.name}/drivers`);
  sysfs_create_file(`bus/${bus.name}`, 'drivers_probe', undefined, (buf) => drivers_probe_store(bus, buf), 0o200);
  sysfs_create_file(
    `bus/${bus.name}`,
    'drivers_autoprobe',
    () => (noAutoprobe.has(bus) ? '0\n' : '1\n'),
    (buf) => {
      // kstrtobool's first character: 1/y/Y/t/T/on enable, 0/n/N/f/F/off disable
      const on = /^(1|y|t|on)/i.test(buf);
      if (!on && !/^(0|n|f|of)/i.test(buf)) return -EINVAL;
      if (on) noAutoprobe.delete(bus);
      else noAutoprobe.add(bus);
      return 0;
    },
    0o644,
  );
  return 0;
}

/** drivers_probe_store: -ENODEV for an unknown device; a bound device is left as it is. */
function* drivers_probe_store(bus: BusType, buf: string): Generator<unknown, number, unknown> {
  const dev = bus_find_device_by_name(bus, buf);
  if (dev === undefined) return -ENODEV;
  if (dev.driver !== null) return 0;
  const r = yield* device_attach(dev);
  return r < 0 ? r : 0;
}

export function class_register(cls: DeviceClass): number {
  sysfs_create_dir(`class/${cls.name}`);
  return 0;
}

/**
 * really_probe: the bus's dma_configure, then probe; on failure both are undone
 * (dma_cleanup) and the device is left unbound. 0, -errno when the bind failed before
 * the driver's probe ran, or +errno when the probe failed (so that device_attach can
 * let the next driver try after a probe error, as Linux does).
 */
function* really_probe(dev: Device, drv: DeviceDriver): Generator<unknown, number, unknown> {
  dev.driver = drv;
  let r = dev.bus?.dma_configure?.(dev) ?? 0;
  if (r < 0) {
    dev.driver = null;
    return r;
  }
  try {
    if (dev.bus?.probe) r = yield* dev.bus.probe(dev);
    else if (drv.probe) r = yield* drv.probe(dev);
    else r = 0;
  } catch (e) {
    oops_report(e, `probe of ${dev.name} by ${drv.name}`);
    r = -ENODEV;
  }
  if (r < 0) {
    dev.bus?.dma_cleanup?.(dev);
    dev.driver = null;
    dev.driver_data = undefined;
    if (r !== -ENODEV) pr_err(`${drv.name} ${dev.name}: probe failed with error ${r}`);
    return -r;
  }
  if (dev.bus) {
    sysfs_create_link(dev.kobj_path, 'driver', `bus/${dev.bus.name}/drivers/${drv.name}`);
    sysfs_create_link(`bus/${dev.bus.name}/drivers/${drv.name}`, dev.name, dev.kobj_path);
  }
  return 0;
}

/**
 * device_driver_attach (__driver_probe_device): binds `drv` to `dev` whatever the
 * automatic matching would pick. -ENODEV for a device gone, -EBUSY when it has a
 * driver, -EAGAIN for a deferred probe, else what really_probe returns.
 */
export function* device_driver_attach(drv: DeviceDriver, dev: Device): Generator<unknown, number, unknown> {
  if (!dev.registered) return -ENODEV;
  if (dev.driver !== null) return -EBUSY;
  const p = yield* really_probe(dev, drv);
  // probe errors come back as normal negative errnos
  const r = p > 0 ? -p : p;
  return r === -EPROBE_DEFER ? -EAGAIN : r;
}

/** bind_store: a device of the driver's bus, by name, that the driver matches; -ENODEV otherwise. */
function* bind_store(drv: DeviceDriver, buf: string): Generator<unknown, number, unknown> {
  if (drv.bus === null) return -ENODEV;
  const dev = bus_find_device_by_name(drv.bus, buf);
  if (dev === undefined || !drv.bus.match(dev, drv)) return -ENODEV;
  return yield* device_driver_attach(drv, dev);
}

/** unbind_store: the named device must be bound to this driver (-ENODEV otherwise). */
function* unbind_store(drv: DeviceDriver, buf: string): Generator<unknown, number, unknown> {
  if (drv.bus === null) return -ENODEV;
  const dev = bus_find_device_by_name(drv.bus, buf);
  if (dev === undefined || dev.driver !== drv) return -ENODEV;
  yield* device_release_driver(dev);
  return 0;
}

/**
 * device_attach: the matching registered drivers try in turn until one binds (1); a
 * probe error lets the next one try, an error before probe (e.g. -EBUSY from
 * dma_configure on an IOMMU group a user owns) ends the search and is returned. 0
 * when no driver bound.
 */
export function* device_attach(dev: Device): Generator<unknown, number, unknown> {
  if (dev.driver !== null || dev.bus === null) return 0;
  for (const drv of drivers) {
    if (drv.bus !== dev.bus || !dev.bus.match(dev, drv)) continue;
    const r = yield* really_probe(dev, drv);
    if (r === 0) return 1;
    if (r < 0) return r;
  }
  return 0;
}

/** device_release_driver: the sysfs links go, remove() runs, then the bus's dma_cleanup; the device is unbound. */
export function* device_release_driver(dev: Device): Generator<unknown, void, unknown> {
  const drv = dev.driver;
  if (drv === null) return;
  if (dev.bus) {
    sysfs_remove(dev.kobj_path, 'driver');
    sysfs_remove(`bus/${dev.bus.name}/drivers/${drv.name}`, dev.name);
  }
  try {
    if (dev.bus?.remove) yield* dev.bus.remove(dev);
    else if (drv.remove) yield* drv.remove(dev);
  } catch (e) {
    oops_report(e, `remove of ${dev.name}`);
  }
  dev.bus?.dma_cleanup?.(dev);
  dev.driver = null;
  dev.driver_data = undefined;
}

/** bus_probe_device: matches a new device with the drivers, unless the bus's drivers_autoprobe is off. */
export function* bus_probe_device(dev: Device): Generator<unknown, void, unknown> {
  if (dev.bus === null || noAutoprobe.has(dev.bus)) return;
  yield* device_attach(dev);
}

/** Glue directories (<parent>/<class name>) and the number of devices in each (class_dir). */
let glueDirs = new Map<string, number>();

/**
 * get_device_parent: the sysfs directory a device goes in. A class device with no
 * parent goes in /sys/devices/virtual/<class>; under a parent that is not itself a
 * class device, in the glue directory <parent>/<class>; under a class device, in it
 * directly. Any other device goes under its parent, or in /sys/devices.
 */
function get_device_parent(dev: Device): string {
  const parent = dev.parent;
  if (dev.class !== null) {
    if (parent !== null && parent.class !== null) return parent.kobj_path;
    const glue = `${parent !== null ? parent.kobj_path : 'devices/virtual'}/${dev.class.name}`;
    glueDirs.set(glue, (glueDirs.get(glue) ?? 0) + 1);
    return glue;
  }
  return parent !== null ? parent.kobj_path : 'devices';
}

/** cleanup_glue_dir: the glue directory goes with its last device. */
function cleanup_glue_dir(dir: string): void {
  const n = glueDirs.get(dir);
  if (n === undefined) return;
  if (n > 1) {
    glueDirs.set(dir, n - 1);
    return;
  }
  glueDirs.delete(dir);
  const slash = dir.lastIndexOf('/');
  sysfs_remove(dir.slice(0, slash), dir.slice(slash + 1));
}

/**
 * device_add: sysfs directory, bus links (bus_add_device: the bus's devices/<name>
 * and the device's subsystem), class links (device_add_class_symlinks: subsystem,
 * device -> parent, class/<class>/<name>), devtmpfs node, then driver matching.
 */
export function* device_add(dev: Device): Generator<unknown, number, unknown> {
  if (dev.registered) return -EEXIST;
  dev.kobj_path = `${get_device_parent(dev)}/${dev.name}`;
  sysfs_create_dir(dev.kobj_path);
  sysfs_create_file(dev.kobj_path, 'uevent', () => (dev.devt ? `MAJOR=${MAJOR(dev.devt)}\nMINOR=${MINOR(dev.devt)}\nDEVNAME=${dev.name}\n` : ''));
  dev.registered = true;
  devices.push(dev);
  if (dev.class) {
    sysfs_create_link(dev.kobj_path, 'subsystem', `class/${dev.class.name}`);
    if (dev.parent !== null) sysfs_create_link(dev.kobj_path, 'device', dev.parent.kobj_path);
    sysfs_create_link(`class/${dev.class.name}`, dev.name, dev.kobj_path);
  }
  if (dev.bus) {
    sysfs_create_link(`bus/${dev.bus.name}/devices`, dev.name, dev.kobj_path);
    sysfs_create_link(dev.kobj_path, 'subsystem', `bus/${dev.bus.name}`);
  }
  if (dev.devt) {
    sysfs_create_file(dev.kobj_path, 'dev', () => `${MAJOR(dev.devt)}:${MINOR(dev.devt)}\n`);
    devnode_create(dev.name, dev.devt, S_IFCHR | dev.devnode_mode);
  }
  if (dev.bus) yield* bus_probe_device(dev);
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
  const dir = dev.kobj_path.slice(0, slash);
  sysfs_remove(dir, dev.kobj_path.slice(slash + 1));
  cleanup_glue_dir(dir);
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

/**
 * driver_register: adds the driver, with its bind and unbind files (0200, root), and
 * probes every matching unbound device when the bus autoprobes.
 */
export function* driver_register(drv: DeviceDriver): Generator<unknown, number, unknown> {
  if (drv.bus === null) return -EINVAL;
  if (drivers.includes(drv)) return -EEXIST;
  drivers.push(drv);
  const dir = `bus/${drv.bus.name}/drivers/${drv.name}`;
  sysfs_create_dir(dir);
  if (!drv.suppress_bind_attrs) {
    sysfs_create_file(dir, 'bind', undefined, (buf) => bind_store(drv, buf), 0o200);
    sysfs_create_file(dir, 'unbind', undefined, (buf) => unbind_store(drv, buf), 0o200);
  }
  if (noAutoprobe.has(drv.bus)) return 0;
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
