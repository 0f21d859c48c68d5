// The DMA API over an IOMMU (drivers/iommu/dma-iommu.c in shape): a DMA domain gets
// an IOVA allocator with the reserved regions carved out; dma_map_single/sg allocate
// IOVA space and map it, unmaps tear the mapping down and wait for the IOTLB
// invalidation before the IOVA is reused; dma_alloc_coherent allocates zeroed pages
// and maps them both ways. Devices with no IOMMU or an identity domain get their
// physical addresses (dma-direct).

import { alloc_pages, free_pages } from '../../mm/page_alloc.js';
import { GFP_KERNEL, __GFP_ZERO } from '../../mm/gfp.js';
import { MAX_PAGE_ORDER, PAGE_SIZE } from '../../mm/page.js';
import { IOMMU_CACHE, IOMMU_DOMAIN_DMA, IOMMU_DOMAIN_UNMANAGED, IOMMU_MMIO, IOMMU_NOEXEC, IOMMU_READ, IOMMU_RESV_SW_MSI, IOMMU_WRITE, iommu_get_dma_domain, iommu_get_domain_for_dev, iommu_get_resv_regions, iommu_map, iommu_unmap, type Device, type IommuDomain } from './iommu.js';
import { IovaDomain } from './iova.js';

export const DMA_BIDIRECTIONAL = 0;
export const DMA_TO_DEVICE = 1;
export const DMA_FROM_DEVICE = 2;
/** DMA_MAPPING_ERROR (~0 in Linux): never a valid handle here. */
export const DMA_MAPPING_ERROR = -1;
/** The default dma_mask of a device: 32 bits until the driver sets a wider one. */
export const DMA_BIT_MASK_32 = 2 ** 32 - 1;

const dmaMasks = new WeakMap<Device, number>();

/** dma_set_mask_and_coherent. */
export function dma_set_mask(dev: Device, mask: number): number {
  dmaMasks.set(dev, mask);
  return 0;
}

function dmaMask(dev: Device): number {
  return dmaMasks.get(dev) ?? DMA_BIT_MASK_32;
}

function dma_info_to_prot(dir: number, coherent: boolean): number {
  const prot = (coherent ? IOMMU_CACHE : 0) | IOMMU_NOEXEC;
  if (dir === DMA_TO_DEVICE) return prot | IOMMU_READ;
  if (dir === DMA_FROM_DEVICE) return prot | IOMMU_WRITE;
  return prot | IOMMU_READ | IOMMU_WRITE;
}

/** iommu_dma_init_domain: the IOVA allocator of a DMA domain, reserved regions excluded. */
export function iommu_dma_init_domain(domain: IommuDomain, dev: Device): IovaDomain {
  if (domain.iovaCookie instanceof IovaDomain) return domain.iovaCookie;
  const iovad = new IovaDomain(PAGE_SIZE, Math.max(1, Math.floor(domain.apertureStart / PAGE_SIZE)));
  for (const r of iommu_get_resv_regions(dev)) iovad.reserve(Math.floor(r.start / PAGE_SIZE), Math.floor((r.start + r.length - 1) / PAGE_SIZE));
  domain.iovaCookie = iovad;
  return iovad;
}

function dmaDomain(dev: Device): IommuDomain | null {
  const d = iommu_get_dma_domain(dev);
  return d !== null && (d.type === IOMMU_DOMAIN_DMA || d.type === IOMMU_DOMAIN_UNMANAGED) ? d : null;
}

/** iommu_dma_alloc_iova: below the device's DMA mask and the domain's aperture. */
function alloc_iova(domain: IommuDomain, dev: Device, size: number): number {
  const iovad = iommu_dma_init_domain(domain, dev);
  const limit = Math.floor(Math.min(dmaMask(dev), domain.apertureEnd) / PAGE_SIZE);
  const iova = iovad.alloc(size / PAGE_SIZE, limit, true);
  return iova === null ? DMA_MAPPING_ERROR : iova.pfnLo * PAGE_SIZE;
}

function free_iova(domain: IommuDomain, iovaAddr: number): void {
  const iovad = domain.iovaCookie;
  if (!(iovad instanceof IovaDomain)) return;
  const iova = iovad.find(Math.floor(iovaAddr / PAGE_SIZE));
  if (iova) iovad.free(iova);
}

/** dma_map_single / dma_map_page: a DMA address for [pa, pa+size), or DMA_MAPPING_ERROR. */
export function dma_map_single(dev: Device, pa: number, size: number, dir: number): number {
  const domain = dmaDomain(dev);
  if (domain === null) return pa;
  const offset = pa % PAGE_SIZE;
  const len = Math.ceil((offset + size) / PAGE_SIZE) * PAGE_SIZE;
  const iova = alloc_iova(domain, dev, len);
  if (iova === DMA_MAPPING_ERROR) return DMA_MAPPING_ERROR;
  if (iommu_map(domain, iova, pa - offset, len, dma_info_to_prot(dir, true))) {
    free_iova(domain, iova);
    return DMA_MAPPING_ERROR;
  }
  return iova + offset;
}

/** dma_unmap_single: unmapped and invalidated before the IOVA can be reused. */
export function dma_unmap_single(dev: Device, addr: number, size: number, _dir: number): void {
  const domain = dmaDomain(dev);
  if (domain === null) return;
  const offset = addr % PAGE_SIZE;
  const len = Math.ceil((offset + size) / PAGE_SIZE) * PAGE_SIZE;
  iommu_unmap(domain, addr - offset, len);
  free_iova(domain, addr - offset);
}

export function dma_mapping_error(_dev: Device, addr: number): boolean {
  return addr === DMA_MAPPING_ERROR;
}

/** A scatterlist entry: CPU physical pages in, DMA address and length out. */
export interface ScatterList {
  pa: number;
  length: number;
  dmaAddress: number;
  dmaLength: number;
}

/**
 * iommu_dma_map_sg: one IOVA range for the whole list, each segment mapped at its page
 * offset (segments after the first start page-aligned in IOVA space). Returns the
 * number of DMA segments (here: as many as CPU segments) or 0 on failure.
 */
export function dma_map_sg(dev: Device, sg: ScatterList[], dir: number): number {
  const domain = dmaDomain(dev);
  if (domain === null) {
    for (const s of sg) {
      s.dmaAddress = s.pa;
      s.dmaLength = s.length;
    }
    return sg.length;
  }
  let total = 0;
  for (const s of sg) total += Math.ceil(((s.pa % PAGE_SIZE) + s.length) / PAGE_SIZE) * PAGE_SIZE;
  const base = alloc_iova(domain, dev, total);
  if (base === DMA_MAPPING_ERROR) return 0;
  let at = base;
  const prot = dma_info_to_prot(dir, true);
  for (const s of sg) {
    const off = s.pa % PAGE_SIZE;
    const len = Math.ceil((off + s.length) / PAGE_SIZE) * PAGE_SIZE;
    if (iommu_map(domain, at, s.pa - off, len, prot)) {
      if (at > base) iommu_unmap(domain, base, at - base);
      free_iova(domain, base);
      return 0;
    }
    s.dmaAddress = at + off;
    s.dmaLength = s.length;
    at += len;
  }
  return sg.length;
}

export function dma_unmap_sg(dev: Device, sg: ScatterList[], _dir: number): void {
  const domain = dmaDomain(dev);
  if (domain === null || sg.length === 0) return;
  const first = sg[0]!;
  const base = first.dmaAddress - (first.dmaAddress % PAGE_SIZE);
  let total = 0;
  for (const s of sg) total += Math.ceil(((s.pa % PAGE_SIZE) + s.length) / PAGE_SIZE) * PAGE_SIZE;
  iommu_unmap(domain, base, total);
  free_iova(domain, base);
}

/** What dma_alloc_coherent returns: the CPU's (physical, linear-map) address and the DMA handle. */
export interface CoherentBuffer {
  readonly cpuAddr: number;
  readonly dmaHandle: number;
  readonly size: number;
}

/** dma_alloc_coherent: zeroed pages mapped for the device both ways; null when out of memory or IOVA. */
export function dma_alloc_coherent(dev: Device, size: number): CoherentBuffer | null {
  const order = Math.max(0, Math.ceil(Math.log2(Math.max(size, PAGE_SIZE) / PAGE_SIZE)));
  if (order > MAX_PAGE_ORDER) return null;
  const pfn = alloc_pages(order, GFP_KERNEL | __GFP_ZERO);
  if (pfn < 0) return null;
  const pa = pfn * PAGE_SIZE;
  const bytes = PAGE_SIZE * 2 ** order;
  const dma = dma_map_single(dev, pa, bytes, DMA_BIDIRECTIONAL);
  if (dma === DMA_MAPPING_ERROR) {
    free_pages(pa, order);
    return null;
  }
  return { cpuAddr: pa, dmaHandle: dma, size: bytes };
}

export function dma_free_coherent(dev: Device, buf: CoherentBuffer): void {
  dma_unmap_single(dev, buf.dmaHandle, buf.size, DMA_BIDIRECTIONAL);
  free_pages(buf.cpuAddr, Math.round(Math.log2(buf.size / PAGE_SIZE)));
}

/** Doorbell pages mapped per domain in its SW_MSI window (struct iommu_dma_msi_page). */
const msiPages = new WeakMap<IommuDomain, Map<number, number>>();

/**
 * iommu_dma_prepare_msi + iommu_dma_compose_msi_msg: the address a device behind a
 * translating domain must write its MSIs to. The doorbell page is mapped (once per
 * domain) at the next page of the IOMMU_RESV_SW_MSI window; devices without such a
 * domain write the physical doorbell. Returns the address to program into the
 * function's MSI capability or table.
 */
export function iommu_dma_compose_msi_addr(dev: Device, doorbell: number): number {
  const domain = iommu_get_domain_for_dev(dev);
  if (domain === null || (domain.type !== IOMMU_DOMAIN_DMA && domain.type !== IOMMU_DOMAIN_UNMANAGED)) return doorbell;
  const page = doorbell - (doorbell % PAGE_SIZE);
  let pages = msiPages.get(domain);
  if (pages === undefined) {
    pages = new Map();
    msiPages.set(domain, pages);
  }
  const have = pages.get(page);
  if (have !== undefined) return have + (doorbell - page);
  const win = iommu_get_resv_regions(dev).find((r) => r.type === IOMMU_RESV_SW_MSI);
  if (win === undefined) return doorbell;
  const iova = win.start + pages.size * PAGE_SIZE;
  if (iova + PAGE_SIZE > win.start + win.length) return doorbell;
  if (iommu_map(domain, iova, page, PAGE_SIZE, IOMMU_WRITE | IOMMU_NOEXEC | IOMMU_MMIO)) return doorbell;
  pages.set(page, iova);
  return iova + (doorbell - page);
}
