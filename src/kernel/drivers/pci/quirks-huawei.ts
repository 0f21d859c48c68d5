// quirk_huawei_pcie_sva (Linux drivers/pci/quirks.c): the HiSilicon accelerators of
// Kunpeng 920 (revision 0x21) and 930 (0x30) sit on an internal bus and only look
// like PCIe functions. They support SVA through the SMMU's stall model rather than
// PRI, and use PASIDs without the PCIe TLP prefix. The quirk marks them so: the
// device property "dma-can-stall" (the SMMU driver then sets CD.S and leaves
// STE.S1STALLD clear) and pasid_no_tlp (PASID is usable without a PASID TLP prefix
// capability path). Linux applies it as a FINAL fixup (FIXUP_HEADER since 6.15, so it
// runs before arm_smmu_probe_device).
//
// Registration: the PCI core's fixup table is kernel-core's; until it exists this
// file keeps a DECLARE_PCI_FIXUP_FINAL-style table of its own (`pci_fixups_final`),
// and the PCI core calls `pci_fixup_device_final(pdev)` for every new function.

export const PCI_VENDOR_ID_HUAWEI = 0x19e5;
export const PCI_ANY_ID = 0xffff;

/** The part of struct pci_dev a quirk touches. */
export interface QuirkPciDev {
  readonly vendor: number;
  readonly device: number;
  readonly revision: number;
  /** Set when the device has a device-tree node (then the tree sets dma-can-stall itself). */
  readonly of_node?: unknown;
  /** Device properties (software node): "dma-can-stall" and friends. */
  readonly properties: Map<string, number | boolean>;
  pasid_no_tlp?: boolean;
}

export interface PciFixup<D extends QuirkPciDev = QuirkPciDev> {
  readonly vendor: number;
  readonly device: number;
  readonly name: string;
  readonly hook: (dev: D) => void;
}

/** The FINAL fixup table (DECLARE_PCI_FIXUP_FINAL entries). */
export const pci_fixups_final: PciFixup[] = [];

export function DECLARE_PCI_FIXUP_FINAL(vendor: number, device: number, hook: (dev: QuirkPciDev) => void): void {
  if (pci_fixups_final.some((f) => f.vendor === vendor && f.device === device && f.hook === hook)) return;
  pci_fixups_final.push({ vendor, device, name: hook.name, hook });
}

/** pci_fixup_device(pci_fixup_final, dev): runs every matching quirk; returns their names. */
export function pci_fixup_device_final(dev: QuirkPciDev): string[] {
  const ran: string[] = [];
  for (const f of pci_fixups_final) {
    if ((f.vendor === dev.vendor || f.vendor === PCI_ANY_ID) && (f.device === dev.device || f.device === PCI_ANY_ID)) {
      f.hook(dev);
      ran.push(f.name);
    }
  }
  return ran;
}

export function quirk_huawei_pcie_sva(pdev: QuirkPciDev): void {
  if (pdev.revision !== 0x21 && pdev.revision !== 0x30) return;
  pdev.pasid_no_tlp = true;
  // Linux adds the property only on ACPI platforms (no of_node): a device tree can
  // say "dma-can-stall" itself. PCI functions found by enumeration have no node here.
  if (pdev.of_node === undefined || pdev.of_node === null) pdev.properties.set('dma-can-stall', true);
}

/** ZIP, SEC and HPRE, physical and virtual functions. */
export const HUAWEI_SVA_DEVICE_IDS = [0xa250, 0xa251, 0xa255, 0xa256, 0xa258, 0xa259] as const;

for (const id of HUAWEI_SVA_DEVICE_IDS) DECLARE_PCI_FIXUP_FINAL(PCI_VENDOR_ID_HUAWEI, id, quirk_huawei_pcie_sva);
