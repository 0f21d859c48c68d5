// of_iommu_configure (drivers/iommu/of_iommu.c in shape): a device the firmware puts
// behind an IOMMU (for PCI, the host bridge's iommu-map translated its requester ID
// to a StreamID) gets its fwspec and is probed by the IOMMU core, before any driver
// binds and uses the DMA API.

import { pr_warn } from '../../lib/printk.js';
import type { DeviceNode } from '../../of/base.js';
import { ENODEV } from '../../lib/errno.js';
import { iommu_fwspec_init, iommu_probe_device, type Device } from './iommu.js';

/** 0 when the device is behind its IOMMU now; -ENODEV when the firmware maps it to none. */
export function of_iommu_configure(dev: Device, map: { target: DeviceNode; id: number } | undefined): number {
  if (map === undefined) return -ENODEV;
  let r = iommu_fwspec_init(dev, map.target, [map.id]);
  if (r === 0) r = iommu_probe_device(dev);
  if (r && r !== -ENODEV) pr_warn(`iommu: ${dev.name}: failed to probe behind ${map.target.full_name} (${r})`);
  return r;
}
