import { describe, it, expect } from 'vitest';
import { bootKernel } from '../support/kernel-boot.js';
import { oops_count, oops_messages } from '../../src/kernel/kernel/panic.js';
import { thisCpu } from '../../src/arch/index.js';
import {
  PCI_IRQ_MSI,
  PCI_IRQ_MSIX,
  PCI_CAP_ID_MSI,
  pci_alloc_irq_vectors,
  pci_find_capability,
  pci_free_irq_vectors,
  pci_read_config_word,
  pci_enable_device,
  pci_get_device,
  pci_iomap,
  pci_irq_vector,
  pci_register_driver,
  pci_set_master,
  type PciDev,
  type PciDriver,
} from '../../src/kernel/drivers/pci/pci.js';
import { IRQ_HANDLED, request_irq } from '../../src/kernel/irq/irqdesc.js';
import { device_release_driver } from '../../src/kernel/drivers/base/core.js';
import { Completion, complete, wait_for_completion_timeout } from '../../src/kernel/sched/wait.js';
import { alloc_page } from '../../src/kernel/mm/page_alloc.js';
import { GFP_KERNEL } from '../../src/kernel/mm/gfp.js';

describe('PCI core and ITS MSIs', () => {
  it('a pci_driver binds by id table; pci_alloc_irq_vectors gives an ITS LPI that fires when the test device completes a DMA', () => {
    const log: string[] = [];
    let pciDev: PciDev | undefined;
    // The function's own driver (iommu-testdev) is unbound first; identity domains keep its DMA at physical addresses
    const { handle } = bootKernel({
      args: 'console=ttyAMA0 iommu.passthrough=1',
      config: {
        *initTask() {
          yield* device_release_driver(pci_get_device(0x1b36, 0x0005)!);
          const drv: PciDriver = {
            name: 'itd-test',
            bus: null,
            id_table: [{ vendor: 0x1b36, device: 0x0005 }],
            *pci_probe(dev) {
              pciDev = dev;
              log.push(`probe ${dev.name}`);
              return 0;
            },
          };
          yield* pci_register_driver(drv);
          const dev = pci_get_device(0x1b36, 0x0005)!;
          expect(dev).toBe(pciDev);
          expect(pci_enable_device(dev)).toBe(0);
          pci_set_master(dev);
          const n = pci_alloc_irq_vectors(dev, 1, 1, PCI_IRQ_MSI | PCI_IRQ_MSIX);
          log.push(`vectors ${n}`);
          const done = new Completion();
          const irq = pci_irq_vector(dev, 0);
          expect(request_irq(irq, () => (complete(done), IRQ_HANDLED), 0, 'itd', dev)).toBe(0);
          const bar = pci_iomap(dev, 0);
          const pa = alloc_page(GFP_KERNEL) * 4096;
          const cpu = thisCpu();
          cpu.stPhys32(bar + 0x04, pa >>> 0);
          cpu.stPhys32(bar + 0x08, 0);
          cpu.stPhys32(bar + 0x0c, 64);
          cpu.stPhys32(bar + 0x1c, pa >>> 0);
          cpu.stPhys32(bar + 0x20, 0);
          cpu.stPhys32(bar + 0x44, 1 << 9); // X_CTRL.MSI: vector 0 on completion
          cpu.stPhys32(bar + 0x14, 1); // arm
          cpu.ldPhys32(bar + 0x00); // trigger
          const left = yield* wait_for_completion_timeout(done, 10e6);
          log.push(`msi ${left > 0 ? 'received' : 'timeout'}`);
          log.push(`result 0x${(cpu.ldPhys32(bar + 0x10) >>> 0).toString(16)}`);
          return 0;
        },
      },
    });
    const code = handle.runToPoweroff(5e9);
    expect(oops_messages()).toEqual([]);
    expect(code).toBe(0);
    expect(log).toEqual(['probe 0000:00:02.0', 'vectors 1', 'msi received', 'result 0x0']);
    expect(handle.console).toMatch(/0000:00:02\.0: ITS DeviceID 0x10: 1 MSI(-X)? vector\(s\) -> LPI 8192\.\.8192/);
    expect(oops_count()).toBe(0);
  });

  it('pci_alloc_irq_vectors: MSI gives the requested count, not a power of two; MME is the log2 roundup', () => {
    const got: Record<string, unknown> = {};
    const { handle } = bootKernel({
      args: 'console=ttyAMA0 iommu.passthrough=1',
      config: {
        *initTask() {
          // the ZIP PF: MSI only, Multiple Message Capable = 4
          const dev = pci_get_device(0x19e5, 0xa250)!;
          yield* device_release_driver(dev);
          expect(pci_enable_device(dev)).toBe(0);
          const cap = pci_find_capability(dev, PCI_CAP_ID_MSI);
          got.mmc = (pci_read_config_word(dev, cap + 2) >> 1) & 7;
          got.n3 = pci_alloc_irq_vectors(dev, 3, 3, PCI_IRQ_MSI);
          got.irqs3 = [0, 1, 2, 3].map((i) => pci_irq_vector(dev, i) >= 0);
          const ctrl = pci_read_config_word(dev, cap + 2);
          got.mme3 = (ctrl >> 4) & 7;
          got.enabled3 = ctrl & 1;
          pci_free_irq_vectors(dev);
          // more than the capability offers: clamped to 4; a minimum above it is -ENOSPC
          got.n8 = pci_alloc_irq_vectors(dev, 1, 8, PCI_IRQ_MSI);
          got.mme8 = (pci_read_config_word(dev, cap + 2) >> 4) & 7;
          pci_free_irq_vectors(dev);
          got.min5 = pci_alloc_irq_vectors(dev, 5, 8, PCI_IRQ_MSI);
          return 0;
        },
      },
    });
    const code = handle.runToPoweroff(5e9);
    expect(oops_messages()).toEqual([]);
    expect(code).toBe(0);
    expect(got).toEqual({ mmc: 2, n3: 3, irqs3: [true, true, true, false], mme3: 2, enabled3: 1, n8: 4, mme8: 2, min5: -28 });
  });
});
