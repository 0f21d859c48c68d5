// What hisi_qm and hisi_zip need from the PCI core and the DMA API, in Linux's
// names: pci_enable_device_mem, pci_set_master, pci_resource_start,
// pci_alloc_irq_vectors/pci_irq_vector, config accessors, dma_alloc_coherent,
// dma_map_single/dma_map_sg. The driver makes these calls only through this file,
// so binding it to the kernel's PCI core (drivers/pci) and DMA API
// (drivers/iommu/dma-iommu) is one `set_qm_bus()` call at init. Kernel memory is
// named by physical address (the kernel's linear map), so a `cpu` address here is a
// PA the driver reads with ldPhys/readPhys.

/** The part of struct pci_dev the driver reads. */
export interface HisiPciDev {
  /** pci_name(): "0000:00:01.0". */
  readonly name: string;
  readonly vendor: number;
  readonly device: number;
  readonly revision: number;
  /** &pdev->dev as the DMA API and device properties know it (opaque here). */
  readonly dev: object;
  /** Set by quirk_huawei_pcie_sva: PASID works without the TLP prefix. */
  pasid_no_tlp?: boolean;
}

/** A coherent DMA allocation: the CPU side (PA) and the device side (IOVA or PA). */
export interface DmaCoherent {
  readonly cpu: number;
  readonly dma: number;
  readonly size: number;
}

export const DMA_BIDIRECTIONAL = 0;
export const DMA_TO_DEVICE = 1;
export const DMA_FROM_DEVICE = 2;
/** dma_map_* failure (DMA_MAPPING_ERROR is ~0 in Linux; a Number can't hold that). */
export const DMA_MAPPING_ERROR = -1;

export const PCI_IRQ_MSI = 1 << 1;

export interface QmBusOps {
  pci_enable_device_mem(pdev: HisiPciDev): number;
  pci_disable_device(pdev: HisiPciDev): void;
  pci_set_master(pdev: HisiPciDev): void;
  pci_clear_master(pdev: HisiPciDev): void;
  /** CPU physical address of a memory BAR (0 if unassigned). */
  pci_resource_start(pdev: HisiPciDev, bar: number): number;
  pci_resource_len(pdev: HisiPciDev, bar: number): number;
  /** Returns the number of vectors allocated, or -errno. */
  pci_alloc_irq_vectors(pdev: HisiPciDev, min: number, max: number, flags: number): number;
  /** Linux irq number of MSI vector `nr`. */
  pci_irq_vector(pdev: HisiPciDev, nr: number): number;
  pci_free_irq_vectors(pdev: HisiPciDev): void;
  pci_read_config_dword(pdev: HisiPciDev, where: number): number;
  pci_write_config_dword(pdev: HisiPciDev, where: number, value: number): void;
  /**
   * pci_reset_function: save config space, FLR, restore. Stands in for the ACPI
   * "ZRST" method Linux calls in qm_soft_reset (a device-tree platform has none).
   */
  pci_reset_function(pdev: HisiPciDev): number;
  /** Zeroed coherent memory, or null when the allocation fails. */
  dma_alloc_coherent(dev: object, size: number): DmaCoherent | null;
  dma_free_coherent(dev: object, mem: DmaCoherent): void;
  /** Maps `size` bytes at physical `pa`; DMA_MAPPING_ERROR on failure. */
  dma_map_single(dev: object, pa: number, size: number, dir: number): number;
  dma_unmap_single(dev: object, dma: number, size: number, dir: number): void;
}

let ops: QmBusOps | undefined;

/** Binds the driver to the PCI core and DMA API (done once by the kernel, or by a test). */
export function set_qm_bus(o: QmBusOps | undefined): void {
  ops = o;
}

export function qm_bus_bound(): boolean {
  return ops !== undefined;
}

export function qm_bus(): QmBusOps {
  if (ops === undefined) throw new Error('hisi_qm: no PCI/DMA binding: call set_qm_bus() before probing (see qm-bus.ts)');
  return ops;
}
