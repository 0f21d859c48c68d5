// The DMA API over an IOMMU (drivers/iommu/dma-iommu.c in shape): a DMA domain gets
// an IOVA allocator with the reserved regions and PCI host bridge windows carved out; dma_map_single/sg allocate
// IOVA space and map it, unmaps tear the mapping down and wait for the IOTLB
// invalidation before the IOVA is reused; dma_alloc_coherent allocates zeroed pages
// and maps them both ways. Devices with no IOMMU or an identity domain get their
// physical addresses (dma-direct).

import { alloc_pages, free_pages } from '../../mm/page_alloc.js';
import { GFP_KERNEL, __GFP_ZERO } from '../../mm/gfp.js';
import { MAX_PAGE_ORDER, PAGE_SIZE } from '../../mm/page.js';
import { IOMMU_CACHE, IOMMU_DOMAIN_DMA, IOMMU_DOMAIN_UNMANAGED, IOMMU_MMIO, IOMMU_NOEXEC, IOMMU_READ, IOMMU_RESV_SW_MSI, IOMMU_WRITE, iommu_get_dma_domain, iommu_get_domain_for_dev, iommu_get_resv_regions, iommu_map, iommu_unmap, type Device, type IommuDomain } from './iommu.js';
import { IovaDomain } from './iova.js';
import { IORESOURCE_MEM, PciDev, pci_host_bridge_windows } from '../pci/pci.js';
import { EINVAL, EIO } from '../../lib/errno.js';
import type { Scatterlist } from '../../crypto/scatterlist.js';

export const DMA_BIDIRECTIONAL = 0;
export const DMA_TO_DEVICE = 1;
export const DMA_FROM_DEVICE = 2;
/** DMA_MAPPING_ERROR (~0 in Linux): never a valid handle here. */
export const DMA_MAPPING_ERROR = -1;
/** The default dma_mask of a device: 32 bits until the driver sets a wider one. */
export const DMA_BIT_MASK_32 = 2 ** 32 - 1;

/** dma_get_max_seg_size without dma_parms (and as PCI sets it): 64 KiB. */
export const DMA_DEFAULT_MAX_SEG_SIZE = 65536;
/** dma_get_seg_boundary as PCI sets it: segments do not cross 4 GiB. */
export const DMA_DEFAULT_SEG_BOUNDARY = 2 ** 32 - 1;

const dmaMasks = new WeakMap<Device, number>();
/** struct device_dma_parameters: max_segment_size and segment_boundary_mask. */
const dmaParms = new WeakMap<Device, { maxSegSize: number; segBoundary: number }>();

/** dma_set_mask_and_coherent. */
export function dma_set_mask(dev: Device, mask: number): number {
  dmaMasks.set(dev, mask);
  return 0;
}

export function dma_get_mask(dev: Device): number {
  return dmaMasks.get(dev) ?? DMA_BIT_MASK_32;
}

function dma_parms(dev: Device): { maxSegSize: number; segBoundary: number } {
  let p = dmaParms.get(dev);
  if (p === undefined) {
    p = { maxSegSize: DMA_DEFAULT_MAX_SEG_SIZE, segBoundary: DMA_DEFAULT_SEG_BOUNDARY };
    dmaParms.set(dev, p);
  }
  return p;
}

/** dma_set_max_seg_size: the longest DMA segment dma_map_sg may build. */
export function dma_set_max_seg_size(dev: Device, size: number): number {
  if (size <= 0) return -EIO;
  dma_parms(dev).maxSegSize = size;
  return 0;
}

export function dma_get_max_seg_size(dev: Device): number {
  return dmaParms.get(dev)?.maxSegSize ?? DMA_DEFAULT_MAX_SEG_SIZE;
}

/** dma_set_seg_boundary: `mask` + 1 is a power of two no DMA segment crosses. */
export function dma_set_seg_boundary(dev: Device, mask: number): number {
  const b = mask + 1;
  if (mask < PAGE_SIZE - 1 || b !== 2 ** Math.round(Math.log2(b))) return -EINVAL;
  dma_parms(dev).segBoundary = mask;
  return 0;
}

export function dma_get_seg_boundary(dev: Device): number {
  return dmaParms.get(dev)?.segBoundary ?? DMA_DEFAULT_SEG_BOUNDARY;
}

function dma_info_to_prot(dir: number, coherent: boolean): number {
  const prot = (coherent ? IOMMU_CACHE : 0) | IOMMU_NOEXEC;
  if (dir === DMA_TO_DEVICE) return prot | IOMMU_READ;
  if (dir === DMA_FROM_DEVICE) return prot | IOMMU_WRITE;
  return prot | IOMMU_READ | IOMMU_WRITE;
}

/**
 * iova_reserve_pci_windows: a PCI device's IOVAs never fall in its host bridge's memory
 * windows (at their bus addresses), where the bridge would take the DMA for peer-to-peer
 * traffic to a BAR. Only the allocator knows them: they are not reserved regions.
 */
function iova_reserve_pci_windows(dev: PciDev, iovad: IovaDomain): void {
  for (const w of pci_host_bridge_windows(dev)) {
    if (!(w.flags & IORESOURCE_MEM)) continue;
    iovad.reserve(Math.floor((w.start - w.offset) / PAGE_SIZE), Math.floor((w.end - w.offset) / PAGE_SIZE));
  }
}

/**
 * iommu_dma_init_domain: the IOVA allocator of a DMA domain, with the host bridge
 * windows of a PCI device and the reserved regions excluded (iova_reserve_iommu_regions).
 */
export function iommu_dma_init_domain(domain: IommuDomain, dev: Device): IovaDomain {
  if (domain.iovaCookie instanceof IovaDomain) return domain.iovaCookie;
  const iovad = new IovaDomain(PAGE_SIZE, Math.max(1, Math.floor(domain.apertureStart / PAGE_SIZE)));
  if (dev instanceof PciDev) iova_reserve_pci_windows(dev, iovad);
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
  const limit = Math.floor(Math.min(dma_get_mask(dev), domain.apertureEnd) / PAGE_SIZE);
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

/**
 * iommu_dma_map_sg: the whole list gets one IOVA range, each segment at its page
 * offset in page-aligned slots laid end to end (padded so that no slot crosses the
 * device's segment boundary; as in Linux the padding extends the previous slot's
 * mapping). __finalise_sg then merges slots that continue each other in IOVA space
 * (the next segment starts on a page, the previous ends on one, no boundary is
 * crossed and the result fits the maximum segment size) into DMA segments, written to
 * the first entries' dma_address/dma_length. Returns the number of DMA segments, or 0
 * when IOVA space or the mapping fails. Without a translating domain (dma-direct)
 * every entry is its physical address and nothing merges.
 */
export function dma_map_sg(dev: Device, sg: Scatterlist[], dir: number): number {
  const domain = dmaDomain(dev);
  if (domain === null) {
    for (const s of sg) {
      s.dma_address = s.pa;
      s.dma_length = s.length;
    }
    return sg.length;
  }
  if (sg.length === 0) return 0;
  const boundary = dma_get_seg_boundary(dev) + 1;
  // The IOVA slot of each segment (page-aligned, plus any padding after it)
  const slots = new Array<number>(sg.length);
  let iovaLen = 0;
  for (let i = 0; i < sg.length; i++) {
    const s = sg[i]!;
    const slot = Math.ceil(((s.pa % PAGE_SIZE) + s.length) / PAGE_SIZE) * PAGE_SIZE;
    // Start a slot that would cross a boundary on the boundary instead
    const pad = (boundary - (iovaLen % boundary)) % boundary;
    if (i > 0 && pad && pad < slot - 1) {
      slots[i - 1]! += pad;
      iovaLen += pad;
    }
    slots[i] = slot;
    iovaLen += slot;
  }
  const iova = alloc_iova(domain, dev, iovaLen);
  if (iova === DMA_MAPPING_ERROR) return 0;
  // iommu_map_sg: one map call per physically contiguous run of slots
  const prot = dma_info_to_prot(dir, true);
  let at = iova;
  let runPa = 0;
  let runLen = 0;
  let mapped = 0;
  for (let i = 0; i <= sg.length; i++) {
    const s = sg[i];
    const pa = s === undefined ? -1 : s.pa - (s.pa % PAGE_SIZE);
    if (runLen && pa !== runPa + runLen) {
      if (iommu_map(domain, at, runPa, runLen, prot)) {
        if (mapped) iommu_unmap(domain, iova, mapped);
        free_iova(domain, iova);
        return 0;
      }
      at += runLen;
      mapped += runLen;
      runLen = 0;
    }
    if (s === undefined) break;
    if (runLen === 0) runPa = pa;
    runLen += slots[i]!;
  }
  return finalise_sg(dev, sg, slots, iova);
}

/** __finalise_sg: DMA segments from the mapped slots, merged where Linux merges them. */
function finalise_sg(dev: Device, sg: Scatterlist[], slots: readonly number[], iova: number): number {
  const boundary = dma_get_seg_boundary(dev) + 1;
  const maxLen = dma_get_max_seg_size(dev);
  let dmaAddr = iova;
  let cur = 0;
  let curLen = 0;
  let count = 0;
  for (let i = 0; i < sg.length; i++) {
    const s = sg[i]!;
    const off = s.pa % PAGE_SIZE;
    const len = s.length;
    s.dma_address = DMA_MAPPING_ERROR;
    s.dma_length = 0;
    if (curLen && !off && dmaAddr % boundary !== 0 && maxLen - curLen >= len) {
      curLen += len;
    } else {
      if (i > 0) cur++;
      curLen = len;
      count++;
      sg[cur]!.dma_address = dmaAddr + off;
    }
    sg[cur]!.dma_length = curLen;
    dmaAddr += slots[i]!;
    // A segment ending inside its slot ends the DMA segment too
    if (len + off < slots[i]!) curLen = 0;
  }
  return count;
}

/**
 * iommu_dma_unmap_sg: the IOVA range from the first DMA segment to the end of the
 * last one (entries with dma_length 0 end the list) is unmapped, invalidated and freed.
 */
export function dma_unmap_sg(dev: Device, sg: Scatterlist[], _dir: number): void {
  const domain = dmaDomain(dev);
  if (domain === null || sg.length === 0) return;
  const start = sg[0]!.dma_address;
  let end = start + sg[0]!.dma_length;
  for (let i = 1; i < sg.length && sg[i]!.dma_length !== 0; i++) end = sg[i]!.dma_address + sg[i]!.dma_length;
  const base = start - (start % PAGE_SIZE);
  iommu_unmap(domain, base, Math.ceil((end - base) / PAGE_SIZE) * PAGE_SIZE);
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
