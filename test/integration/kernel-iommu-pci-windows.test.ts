// The DMA domain's IOVA allocator keeps out of the PCI host bridge's memory window
// (dma-iommu.c iova_reserve_pci_windows): the window the host driver parsed from the
// DT `ranges` of the PCIe node is reserved in every PCI device's allocator at its bus
// address, so a DMA address can never be taken by the bridge as peer-to-peer traffic
// to a BAR. Exhausting the test device's 32-bit IOVA space hands out everything around
// the window and the MSI window and nothing inside them. Linux lists the window only
// to the allocator: the group's reserved_regions still shows just the MSI window.

import { describe, expect, it } from 'vitest';
import { MSI_IOVA_BASE, MSI_IOVA_LENGTH } from '../../src/kernel/drivers/iommu/arm-smmu-v3/arm-smmu-v3.js';
import { DMA_MAPPING_ERROR, DMA_TO_DEVICE, dma_map_single, dma_unmap_single, iommu_dma_init_domain } from '../../src/kernel/drivers/iommu/dma-iommu.js';
import { iommu_get_dma_domain, iommu_group_get } from '../../src/kernel/drivers/iommu/iommu.js';
import type { Iova } from '../../src/kernel/drivers/iommu/iova.js';
import { IORESOURCE_MEM, pci_devices, pci_host_bridge_windows, type PciDev } from '../../src/kernel/drivers/pci/pci.js';
import { GFP_KERNEL, __GFP_ZERO } from '../../src/kernel/mm/gfp.js';
import { alloc_pages, free_pages } from '../../src/kernel/mm/page_alloc.js';
import { PAGE } from './kernel-smmu-harness.js';
import { readFile, runMarked } from './kernel-iommu-harness.js';

const TESTDEV = '0000:00:02.0';
const ZIP = '0000:00:01.0';
/** The low (32-bit) IOVA space: the last page below 4 GiB. */
const LIMIT_PFN = 2 ** 32 / PAGE - 1;

describe('IOVAs of a PCI device never fall in the host bridge window', () => {
  const got: Record<string, unknown> = {};
  const run = runMarked(function* (u, t) {
    const pdev = pci_devices().find((d) => d.name === TESTDEV) as PciDev;
    const zip = pci_devices().find((d) => d.name === ZIP) as PciDev;
    got.windows = pci_host_bridge_windows(pdev).map((w) => [w.start, w.end, w.offset, (w.flags & IORESOURCE_MEM) !== 0]);
    const group = iommu_group_get(pdev)!;
    const resvPath = `/sys/kernel/iommu_groups/${group.id}/reserved_regions`;
    got.resvBefore = yield* readFile(u, resvPath);

    const iovad = iommu_dma_init_domain(iommu_get_dma_domain(pdev)!, pdev);
    const zipIovad = iommu_dma_init_domain(iommu_get_dma_domain(zip)!, zip);
    const win = t.machine.memoryMap.find((r) => r.region === 'pcie-mmio')!;
    got.win = [win.base, win.base + win.size - 1];
    got.zipReserved = [win.base, win.base + win.size - 1].map((a) => zipIovad.find(Math.floor(a / PAGE))?.reserved ?? false);

    // Exhaust the 32-bit space: large size-aligned blocks first, then smaller ones into the gaps
    const taken: Iova[] = [];
    for (let order = 18; order >= 0; order--) {
      for (;;) {
        const a = iovad.alloc(2 ** order, LIMIT_PFN, true);
        if (a === null) break;
        taken.push(a);
      }
    }
    got.taken = taken.map((a) => [a.pfnLo * PAGE, (a.pfnHi + 1) * PAGE - 1]);
    // the DMA API finds no IOVA either
    const page = alloc_pages(0, GFP_KERNEL | __GFP_ZERO) * PAGE;
    got.mapFull = dma_map_single(pdev, page, PAGE, DMA_TO_DEVICE);
    for (const a of taken) iovad.free(a);
    const dma = dma_map_single(pdev, page, PAGE, DMA_TO_DEVICE);
    got.mapAfter = dma;
    dma_unmap_single(pdev, dma, PAGE, DMA_TO_DEVICE);
    free_pages(page, 0);
    got.resvAfter = yield* readFile(u, resvPath);
    return 0;
  });

  const overlaps = (a: number[], lo: number, hi: number): boolean => a[0]! <= hi && a[1]! >= lo;

  it('the host driver recorded the DT window (0x10000000, size 0x2eff0000, bus = CPU address) on the bridge', () => {
    expect(run.code).toBe(0);
    const [lo, hi] = got.win as number[];
    expect(lo).toBe(0x1000_0000);
    expect(hi).toBe(0x1000_0000 + 0x2eff_0000 - 1);
    expect(got.windows).toEqual([[lo, hi, 0, true]]);
  });

  it('no IOVA of the exhausted 32-bit space lies in the window or the MSI window; the pages next to them are handed out', () => {
    const [lo, hi] = got.win as number[];
    const taken = got.taken as number[][];
    expect(taken.filter((a) => overlaps(a, lo!, hi!))).toEqual([]);
    expect(taken.filter((a) => overlaps(a, MSI_IOVA_BASE, MSI_IOVA_BASE + MSI_IOVA_LENGTH - 1))).toEqual([]);
    const covered = (addr: number): boolean => taken.some((a) => a[0]! <= addr && addr <= a[1]!);
    // just below and just above the window, just above the MSI window, the top of 4 GiB, the first page
    expect([lo! - PAGE, hi! + 1, MSI_IOVA_BASE + MSI_IOVA_LENGTH, 2 ** 32 - PAGE, PAGE].map(covered)).toEqual([true, true, true, true, true]);
    // everything else of the 32-bit space was handed out
    const pages = taken.reduce((n, a) => n + (a[1]! + 1 - a[0]!) / PAGE, 0);
    expect(pages).toBe(LIMIT_PFN - (hi! + 1 - lo!) / PAGE - MSI_IOVA_LENGTH / PAGE);
  });

  it('with the space exhausted dma_map_single fails; freed, it maps outside the window again', () => {
    const [lo, hi] = got.win as number[];
    expect(got.mapFull).toBe(DMA_MAPPING_ERROR);
    const dma = got.mapAfter as number;
    expect(dma).not.toBe(DMA_MAPPING_ERROR);
    expect(dma >= lo! && dma <= hi!).toBe(false);
  });

  it('the ZIP function (another PCI device) has the window reserved too', () => {
    expect(got.zipReserved).toEqual([true, true]);
  });

  it('reserved_regions lists only the MSI window, before and after (the bridge window is the allocator\'s alone)', () => {
    const msi = `0x${MSI_IOVA_BASE.toString(16).padStart(16, '0')} 0x${(MSI_IOVA_BASE + MSI_IOVA_LENGTH - 1).toString(16).padStart(16, '0')} msi\n`;
    expect(got.resvBefore).toBe(msi);
    expect(got.resvAfter).toBe(msi);
  });
});
