// The mdev bus and mdev drivers (drivers/vfio/mdev/mdev_driver.c in shape). An mdev
// driver (the vendor's: it turns an mdev into a VFIO device) is bound explicitly when
// the mdev is created, never by matching: the bus matches nothing, so neither device
// nor driver registration nor drivers_probe binds an mdev by itself.

import type { Device, BusType, DeviceDriver } from '../../base/core.js';
import { bus_register, driver_register, driver_unregister } from '../../base/core.js';
import type { KGen } from '../../../fs/types.js';
import type { MdevDevice, MdevType } from './mdev_core.js';

/** struct mdev_driver. */
export interface MdevDriver extends DeviceDriver {
  /** The VFIO device_api string of every type (e.g. "vfio-pci"). */
  readonly device_api: string;
  /** Without get_available: instances of all types of a parent together; create past it is -EUSERS. */
  readonly max_instances?: number;
  /** Binds the new mdev (creates its VFIO device). 0 or -errno, which fails the create. */
  mdev_probe(mdev: MdevDevice): KGen<number>;
  mdev_remove(mdev: MdevDevice): KGen<void>;
  /** available_instances of a type. */
  get_available?(mtype: MdevType): number;
  /** The type's description attribute (the file exists only when the driver has this). */
  show_description?(mtype: MdevType): string;
  /**
   * Whether a remove through sysfs may proceed now: 0, or -EBUSY while the device is
   * in use (the pre-5.x parent_ops->remove contract without force_remove; parent
   * unregistration removes regardless and waits for the user to let go).
   */
  remove_busy?(mdev: MdevDevice): number;
}

/** mdev_bus_type: probe and remove go to the bound mdev driver. */
export const mdev_bus_type: BusType = {
  name: 'mdev',
  // mdev_match: no automatic binding (device_driver_attach at create)
  match: () => false,
  *probe(dev: Device) {
    const drv = dev.driver as MdevDriver;
    return yield* drv.mdev_probe(dev as MdevDevice);
  },
  *remove(dev: Device) {
    const drv = dev.driver as MdevDriver | null;
    if (drv !== null) yield* drv.mdev_remove(dev as MdevDevice);
  },
};

export function mdev_bus_register(): number {
  return bus_register(mdev_bus_type);
}

/** mdev_register_driver. */
export function* mdev_register_driver(drv: MdevDriver): KGen<number> {
  drv.bus = mdev_bus_type;
  return yield* driver_register(drv);
}

export function* mdev_unregister_driver(drv: MdevDriver): KGen<void> {
  yield* driver_unregister(drv);
}
