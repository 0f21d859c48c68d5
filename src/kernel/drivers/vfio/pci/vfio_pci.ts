// The vfio-pci driver (drivers/vfio/pci/vfio_pci.c in shape): binds only where user
// space asks for it (driver_override = vfio-pci, then drivers_probe or bind; its id
// table is empty), manages the function's DMA itself (driver_managed_dma: binding it
// does not make the IOMMU group a DMA API user, so the group stays viable), and
// registers the function with VFIO so that /dev/vfio/<group> appears. Unbinding
// waits until user space has closed the device, signalling its REQ eventfd meanwhile.

import { EINVAL } from '../../../lib/errno.js';
import { dev_set_drvdata, dev_get_drvdata } from '../../base/core.js';
import { device_initcall } from '../../../init/initcall.js';
import { pci_register_driver, type PciDev, type PciDriver } from '../../pci/pci.js';
import { vfio_register_group_dev, vfio_unregister_group_dev } from '../vfio_main.js';
import { vfio_pci_core_alloc_device, type VfioPciCoreDevice } from './vfio_pci_core.js';

const PCI_HEADER_TYPE_NORMAL = 0;

export const vfio_pci_driver: PciDriver = {
  name: 'vfio-pci',
  bus: null,
  id_table: [],
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

device_initcall('vfio_pci', function* () {
  yield* pci_register_driver(vfio_pci_driver);
});
