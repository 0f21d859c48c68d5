// quirk_huawei_pcie_sva (Linux drivers/pci/quirks.c): the HiSilicon accelerators of
// Kunpeng 920 (revision 0x21) and 930 (0x30) sit on an internal bus and only look
// like PCIe functions. They support SVA through the SMMU's stall model rather than
// PRI, and use PASIDs without the PCIe TLP prefix. The quirk marks them so: the
// device property "dma-can-stall" (the SMMU driver then enables stall for the
// master: CD.S set, STE.S1STALLD clear) and pasid_no_tlp. Registered as a HEADER
// fixup, as Linux does since 6.15, so it runs before the IOMMU probes the device.

import { pr_warn } from '../../lib/printk.js';
import { declare_pci_fixup_header, type PciDev } from './pci.js';

export const PCI_VENDOR_ID_HUAWEI = 0x19e5;

/** The part of struct pci_dev the quirk touches. */
export interface QuirkPciDev {
  readonly name: string;
  readonly vendor: number;
  readonly device: number;
  readonly revision: number;
  /** Set when the device has a device-tree node (then the tree says dma-can-stall itself). */
  readonly of_node?: unknown;
  /** Device properties (software node), where the device model has them. */
  readonly properties?: Map<string, number | boolean>;
  pasid_no_tlp: boolean;
}

export function quirk_huawei_pcie_sva(pdev: QuirkPciDev): void {
  if (pdev.revision !== 0x21 && pdev.revision !== 0x30) return;
  pdev.pasid_no_tlp = true;
  // Linux adds the property only without a firmware node (ACPI): a device tree can say
  // "dma-can-stall" itself. Functions found by enumeration have no node here.
  if (pdev.of_node !== undefined && pdev.of_node !== null) return;
  if (pdev.properties === undefined) {
    pr_warn(`pci ${pdev.name}: could not add stall property`);
    return;
  }
  pdev.properties.set('dma-can-stall', true);
}

/** ZIP, SEC and HPRE, physical and virtual functions. */
export const HUAWEI_SVA_DEVICE_IDS = [0xa250, 0xa251, 0xa255, 0xa256, 0xa258, 0xa259] as const;

for (const device of HUAWEI_SVA_DEVICE_IDS) {
  declare_pci_fixup_header({ vendor: PCI_VENDOR_ID_HUAWEI, device, name: 'quirk_huawei_pcie_sva', hook: (d: PciDev) => quirk_huawei_pcie_sva(d as unknown as QuirkPciDev) });
}
