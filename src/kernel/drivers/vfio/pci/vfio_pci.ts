// The vfio-pci driver (drivers/vfio/pci/vfio_pci.c in shape): binds only where user
// space asks for it (driver_override = vfio-pci, then drivers_probe or bind; its id
// table is empty), manages the function's DMA itself (driver_managed_dma: binding it
// does not make the IOMMU group a DMA API user, so the group stays viable), and
// registers the function with VFIO so that /dev/vfio/<group> appears. Unbinding
// waits until user space has closed the device, signalling its REQ eventfd meanwhile.
// new_id (pci-driver.c new_id_store): "vendor device [subvendor subdevice class
// class_mask]" in hex adds a dynamic id and binds the matching unbound functions;
// -EEXIST for an id it has already, -EINVAL for a bad line.

import { EEXIST, EINVAL } from '../../../lib/errno.js';
import { dev_set_drvdata, dev_get_drvdata, device_driver_attach } from '../../base/core.js';
import { sysfs_create_file } from '../../../fs/sysfs/sysfs.js';
import { device_initcall } from '../../../init/initcall.js';
import { PCI_ANY_ID, PciDev, pci_bus_type, pci_devices, pci_match_one_device, pci_register_driver, type PciDeviceId, type PciDriver } from '../../pci/pci.js';
import { vfio_register_group_dev, vfio_unregister_group_dev } from '../vfio_main.js';
import { vfio_pci_core_alloc_device, type VfioPciCoreDevice } from './vfio_pci_core.js';

const PCI_HEADER_TYPE_NORMAL = 0;

/** The dynamic ids added through new_id (the static table is empty). */
const dynids: PciDeviceId[] = [];

export const vfio_pci_driver: PciDriver = {
  name: 'vfio-pci',
  bus: null,
  id_table: dynids,
  driver_managed_dma: true,
  *pci_probe(pdev: PciDev) {
    if ((pdev.hdr_type & 0x7f) !== PCI_HEADER_TYPE_NORMAL) return -EINVAL;
    const v = vfio_pci_core_alloc_device(pdev);
    const r = yield* vfio_register_group_dev(v.vdev);
    if (r) return r;
    dev_set_drvdata(pdev, v);
    return 0;
  },
  *pci_remove(pdev: PciDev) {
    const v = dev_get_drvdata(pdev) as VfioPciCoreDevice;
    yield* vfio_unregister_group_dev(v.vdev);
  },
};

function* new_id_store(buf: string): Generator<unknown, number, unknown> {
  const f = buf.trim().split(/\s+/);
  if (f.length < 2 || f.length > 7 || !f.every((x) => /^(0x)?[0-9a-f]+$/i.test(x))) return -EINVAL;
  const n = f.map((x) => Number.parseInt(x, 16));
  if (n.some((x) => x > 0xffffffff)) return -EINVAL;
  const id: PciDeviceId = { vendor: n[0]!, device: n[1]!, subvendor: n[2] ?? PCI_ANY_ID, subdevice: n[3] ?? PCI_ANY_ID, class: n[4] ?? 0, class_mask: n[5] ?? 0 };
  // driver_data (the 7th field) must be one the static table has: vfio-pci's has none
  if (f.length === 7 && n[6] !== 0) return -EINVAL;
  if (dynids.some((d) => d.vendor === id.vendor && d.device === id.device && d.subvendor === id.subvendor && d.subdevice === id.subdevice && d.class === id.class && d.class_mask === id.class_mask)) return -EEXIST;
  dynids.push(id);
  // driver_attach: every unbound function the new id matches (a driver_override naming another driver wins)
  for (const d of pci_devices()) {
    if (d.driver !== null || !pci_match_one_device(id, d) || !pci_bus_type.match(d, vfio_pci_driver)) continue;
    yield* device_driver_attach(vfio_pci_driver, d);
  }
  return buf.length;
}

device_initcall('vfio_pci', function* () {
  dynids.length = 0;
  const r = yield* pci_register_driver(vfio_pci_driver);
  if (r) return r;
  sysfs_create_file('bus/pci/drivers/vfio-pci', 'new_id', undefined, new_id_store, 0o200);
  return 0;
});
