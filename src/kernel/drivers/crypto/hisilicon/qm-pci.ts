// The kernel binding of qm-bus.ts: hisi_qm's PCI and DMA calls go to the kernel's PCI
// core (drivers/pci/pci.ts) and DMA API (drivers/iommu/dma-iommu.ts). The PCI core's
// pci_dev is wrapped once per device so the driver sees only HisiPciDev.

import { thisCpu } from '../../../../arch/index.js';
import { ENOTTY } from '../../../lib/errno.js';
import {
  PCI_CAP_ID_EXP,
  PCI_CAP_ID_MSI,
  PciDev,
  pci_alloc_irq_vectors,
  pci_clear_master,
  pci_disable_device,
  pci_enable_device_mem,
  pci_find_capability,
  pci_free_irq_vectors,
  pci_irq_vector,
  pci_read_config_dword,
  pci_resource_len,
  pci_resource_start,
  pci_set_master,
  pci_write_config_dword,
} from '../../pci/pci.js';
import { dma_alloc_coherent, dma_free_coherent, dma_map_single, dma_unmap_single, type CoherentBuffer } from '../../iommu/dma-iommu.js';
import type { Device as IommuDevice } from '../../iommu/iommu.js';
import type { DmaCoherent, HisiPciDev, QmBusOps } from './qm-bus.js';

/** A PCI core device as hisi_qm sees it. */
export class QmPciDev implements HisiPciDev {
  constructor(readonly pci: PciDev) {}
  get name(): string {
    return this.pci.name;
  }
  get vendor(): number {
    return this.pci.vendor;
  }
  get device(): number {
    return this.pci.device;
  }
  get revision(): number {
    return this.pci.revision;
  }
  get dev(): object {
    return this.pci;
  }
  get pasid_no_tlp(): boolean {
    return this.pci.pasid_no_tlp;
  }
}

const pciOf = (p: HisiPciDev): PciDev => (p as QmPciDev).pci;
// The DMA API takes the IOMMU core's device; the PCI core's device carries the same
// IOMMU state (dev.iommu), which is all the DMA API reads.
const dmaDev = (dev: object): IommuDevice => dev as IommuDevice;

/** PCIe Device Control (PCIe 4.0 7.5.3.4) bit 15: Initiate Function Level Reset. */
const PCI_EXP_DEVCTL = 8;
const PCI_EXP_DEVCTL_BCR_FLR = 1 << 15;

/** pci_reset_function: save the header and MSI capability, FLR, wait, restore. */
function pci_reset_function(pdev: PciDev): number {
  const exp = pci_find_capability(pdev, PCI_CAP_ID_EXP);
  if (exp === 0) return -ENOTTY;
  const header: number[] = [];
  for (let o = 0; o < 0x40; o += 4) header.push(pci_read_config_dword(pdev, o));
  const msi = pci_find_capability(pdev, PCI_CAP_ID_MSI);
  const msiSaved: number[] = [];
  if (msi !== 0) for (let o = 0; o < 0x18; o += 4) msiSaved.push(pci_read_config_dword(pdev, msi + o));
  pci_write_config_dword(pdev, exp + PCI_EXP_DEVCTL, pci_read_config_dword(pdev, exp + PCI_EXP_DEVCTL) | PCI_EXP_DEVCTL_BCR_FLR);
  thisCpu().charge(100_000_000); // PCIe 4.0 6.6.2: 100 ms before the function is accessed again
  for (let o = 0x10; o < 0x40; o += 4) pci_write_config_dword(pdev, o, header[o / 4]!);
  if (msi !== 0) {
    for (let o = 4; o < 0x18; o += 4) pci_write_config_dword(pdev, msi + o, msiSaved[o / 4]!);
    pci_write_config_dword(pdev, msi, msiSaved[0]!);
  }
  pci_write_config_dword(pdev, 4, header[1]! & 0xffff);
  return 0;
}

/** What the DMA API allocated for each coherent buffer (it rounds sizes up to a power of two). */
const coherent = new Map<number, CoherentBuffer>();

export const qm_pci_bus_ops: QmBusOps = {
  pci_enable_device_mem: (p) => pci_enable_device_mem(pciOf(p)),
  pci_disable_device: (p) => pci_disable_device(pciOf(p)),
  pci_set_master: (p) => pci_set_master(pciOf(p)),
  pci_clear_master: (p) => pci_clear_master(pciOf(p)),
  pci_resource_start: (p, bar) => pci_resource_start(pciOf(p), bar),
  pci_resource_len: (p, bar) => pci_resource_len(pciOf(p), bar),
  pci_alloc_irq_vectors: (p, min, max, flags) => pci_alloc_irq_vectors(pciOf(p), min, max, flags),
  pci_irq_vector: (p, nr) => pci_irq_vector(pciOf(p), nr),
  pci_free_irq_vectors: (p) => pci_free_irq_vectors(pciOf(p)),
  pci_read_config_dword: (p, where) => pci_read_config_dword(pciOf(p), where) >>> 0,
  pci_write_config_dword: (p, where, v) => pci_write_config_dword(pciOf(p), where, v),
  pci_reset_function: (p) => pci_reset_function(pciOf(p)),
  dma_alloc_coherent(dev, size): DmaCoherent | null {
    const b = dma_alloc_coherent(dmaDev(dev), size);
    if (b === null) return null;
    coherent.set(b.cpuAddr, b);
    return { cpu: b.cpuAddr, dma: b.dmaHandle, size };
  },
  dma_free_coherent(dev, mem) {
    const b = coherent.get(mem.cpu);
    if (b === undefined) return;
    coherent.delete(mem.cpu);
    dma_free_coherent(dmaDev(dev), b);
  },
  dma_map_single: (dev, pa, size, dir) => dma_map_single(dmaDev(dev), pa, size, dir),
  dma_unmap_single: (dev, dma, size, dir) => dma_unmap_single(dmaDev(dev), dma, size, dir),
};
