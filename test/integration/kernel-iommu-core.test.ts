// The IOMMU core and DMA API on the booted board, with the test device doing the DMA
// (programmed through its BAR, as its driver would): dma_map_sg gives a scattered
// list one IOVA range and merges it into DMA segments; an unmanaged domain attached
// to the device's group (after the DMA ownership dance vfio does) carries the
// device's DMA until it is unmapped; the group's reserved regions show the MSI window,
// which the default domain's IOVA allocator never hands out.

import { describe, expect, it } from 'vitest';
import { thisCpu } from '../../src/arch/index.js';
import { arm_smmu_devices, MSI_IOVA_BASE, MSI_IOVA_LENGTH } from '../../src/kernel/drivers/iommu/arm-smmu-v3/arm-smmu-v3.js';
import {
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_TO_DEVICE,
  dma_get_mask,
  dma_map_sg,
  dma_map_single,
  dma_set_mask,
  dma_set_max_seg_size,
  dma_unmap_sg,
  dma_unmap_single,
  iommu_dma_init_domain,
} from '../../src/kernel/drivers/iommu/dma-iommu.js';
import {
  IOMMU_DOMAIN_BLOCKED,
  IOMMU_DOMAIN_DMA,
  IOMMU_DOMAIN_UNMANAGED,
  IOMMU_READ,
  IOMMU_WRITE,
  iommu_attach_group,
  iommu_detach_group,
  iommu_domain_free,
  iommu_get_dma_domain,
  iommu_get_domain_for_dev,
  iommu_group_claim_dma_owner,
  iommu_group_get,
  iommu_group_release_dma_owner,
  iommu_iova_to_phys,
  iommu_map,
  iommu_paging_domain_alloc,
  iommu_unmap,
  type IommuDomain,
} from '../../src/kernel/drivers/iommu/iommu.js';
import { ITD_OP_WRITE } from '../../src/kernel/drivers/misc/iommu-testdev.js';
import { device_attach, device_release_driver } from '../../src/kernel/drivers/base/core.js';
import { pci_disable_device, pci_enable_device_mem, pci_resource_start, pci_set_master, type PciDev } from '../../src/kernel/drivers/pci/pci.js';
import { Scatterlist } from '../../src/kernel/crypto/scatterlist.js';
import { GFP_KERNEL, __GFP_ZERO } from '../../src/kernel/mm/gfp.js';
import { alloc_pages, free_pages } from '../../src/kernel/mm/page_alloc.js';
import { TraceKind } from '../../src/trace/record.js';
import type { UserCtx } from '../support/kernel-user.js';
import { PAGE, PATTERN, TESTDEV_SID, Testdev } from './kernel-smmu-harness.js';
import { between, readFile, runMarked, sleepNs } from './kernel-iommu-harness.js';

// iommu-testdev BAR0 (QEMU's layout and the svasoc extension, src/hw/testdev)
const GVA_LO = 0x04;
const GVA_HI = 0x08;
const LEN = 0x0c;
const RESULT = 0x10;
const DBELL = 0x14;
const GPA_LO = 0x1c;
const GPA_HI = 0x20;
const X_CTRL = 0x44;
const X_FAULT_LO = 0x48;
const OP_WRITE_VERIFY = 0;
const OP_WRITE = 1;
const OP_READ = 2;
const BUSY = 0xfffffffe;
const TX_FAIL = 0xdead0002;
const EVT_F_TRANSLATION = 0x10;

/** One transfer of the test device, driven through its BAR the way its driver does; polls until it ends. */
function* deviceDma(u: UserCtx, bar: number, iova: number, len: number, op: number, gpa = 0): Generator<unknown, { result: number; fault: number }, unknown> {
  const cpu = thisCpu();
  cpu.stPhys32(bar + GVA_LO, iova >>> 0);
  cpu.stPhys32(bar + GVA_HI, Math.floor(iova / 2 ** 32));
  cpu.stPhys32(bar + GPA_LO, gpa >>> 0);
  cpu.stPhys32(bar + GPA_HI, Math.floor(gpa / 2 ** 32));
  cpu.stPhys32(bar + LEN, len);
  cpu.stPhys32(bar + X_CTRL, op << 4);
  cpu.stPhys32(bar + DBELL, 1);
  cpu.ldPhys32(bar + 0x00);
  // the task may wake on another core: each access goes through the current one
  // up to 5 s of virtual time, as the driver's wait_dma allows
  for (let i = 0; i < 50_000 && thisCpu().ldPhys32(bar + RESULT) >>> 0 === BUSY; i++) yield* sleepNs(u, 100_000);
  return { result: thisCpu().ldPhys32(bar + RESULT) >>> 0, fault: thisCpu().ldPhys32(bar + X_FAULT_LO) >>> 0 };
}

/** Whether [pa, pa+len) holds the device's pattern (transfer-aligned: `pa` at pattern phase 0). */
function patternAt(pa: number, len: number): boolean {
  const cpu = thisCpu();
  for (let i = 0; i < len; i += 4) if (cpu.ldPhys32(pa + i) >>> 0 !== PATTERN) return false;
  return true;
}

function zeroAt(pa: number, len: number): boolean {
  const cpu = thisCpu();
  for (let i = 0; i < len; i += 4) if (cpu.ldPhys32(pa + i) !== 0) return false;
  return true;
}

function testdevPci(): PciDev {
  return arm_smmu_devices()[0]!.streams.get(TESTDEV_SID)!.dev as PciDev;
}

/** Eight zeroed pages; every other one is used, so no two used pages are adjacent. */
function scatteredPages(): { pages: number[]; spare: number[] } {
  const all: number[] = [];
  for (let i = 0; i < 8; i++) all.push(alloc_pages(0, GFP_KERNEL | __GFP_ZERO) * PAGE);
  return { pages: all.filter((_, i) => i % 2 === 0), spare: all.filter((_, i) => i % 2 === 1) };
}

describe('dma_map_sg: one IOVA range for the list, merged DMA segments, sg_dma_address/len per entry', () => {
  const got: Record<string, unknown> = {};
  const run = runMarked(function* (u) {
    const pdev = testdevPci();
    const bar = pci_resource_start(pdev, 0);
    const { pages, spare } = scatteredPages();
    got.adjacent = pages.some((p) => pages.includes(p + PAGE));

    // Four whole scattered pages: contiguous in IOVA space, one 16 KiB DMA segment
    const sg = pages.map((p) => new Scatterlist(p, PAGE));
    got.n4 = dma_map_sg(pdev, sg, DMA_FROM_DEVICE);
    got.seg4 = sg.map((s) => [s.dma_address, s.dma_length]);
    got.write4 = (yield* deviceDma(u, bar, sg[0]!.dma_address, 4 * PAGE, OP_WRITE)).result;
    got.landed4 = pages.map((p) => patternAt(p, PAGE));
    got.spareUntouched = spare.every((p) => zeroAt(p, PAGE));
    dma_unmap_sg(pdev, sg, DMA_FROM_DEVICE);
    const after = yield* deviceDma(u, bar, (got.seg4 as number[][])[0]![0]!, PAGE, OP_WRITE);
    got.afterUnmap = after.result;

    // The device reads the list back through a new mapping (DMA_TO_DEVICE) and finds the pattern
    const rd = pages.map((p) => new Scatterlist(p, PAGE));
    got.nRead = dma_map_sg(pdev, rd, DMA_TO_DEVICE);
    got.read4 = (yield* deviceDma(u, bar, rd[0]!.dma_address, 4 * PAGE, OP_READ)).result;
    dma_unmap_sg(pdev, rd, DMA_TO_DEVICE);

    // Offsets and partial pages: 0x100+0xf00 | whole page | 0x800 from the start | 0x200+0x400
    for (const p of pages) thisCpu().writePhys(p, new Uint8Array(PAGE));
    const mixed = [new Scatterlist(pages[0]! + 0x100, 0xf00), new Scatterlist(pages[1]!, PAGE), new Scatterlist(pages[2]!, 0x800), new Scatterlist(pages[3]! + 0x200, 0x400)];
    got.nMixed = dma_map_sg(pdev, mixed, DMA_FROM_DEVICE);
    got.segMixed = mixed.map((s) => [s.dma_address, s.dma_length]);
    got.writeA = (yield* deviceDma(u, bar, mixed[0]!.dma_address, mixed[0]!.dma_length, OP_WRITE)).result;
    got.writeB = (yield* deviceDma(u, bar, mixed[1]!.dma_address, mixed[1]!.dma_length, OP_WRITE)).result;
    got.landedMixed = [
      zeroAt(pages[0]!, 0x100),
      patternAt(pages[0]! + 0x100, 0xf00),
      patternAt(pages[1]!, PAGE),
      patternAt(pages[2]!, 0x800),
      zeroAt(pages[2]! + 0x800, 0x800),
      zeroAt(pages[3]!, 0x200),
      patternAt(pages[3]! + 0x200, 0x400),
      zeroAt(pages[3]! + 0x600, PAGE - 0x600),
    ];
    dma_unmap_sg(pdev, mixed, DMA_FROM_DEVICE);

    // A smaller max segment size splits the merge
    dma_set_max_seg_size(pdev, 2 * PAGE);
    const split = pages.map((p) => new Scatterlist(p, PAGE));
    got.nSplit = dma_map_sg(pdev, split, DMA_FROM_DEVICE);
    got.segSplit = split.map((s) => s.dma_length);
    got.splitContiguous = split[1]!.dma_address === split[0]!.dma_address + 2 * PAGE;
    dma_unmap_sg(pdev, split, DMA_FROM_DEVICE);
    dma_set_max_seg_size(pdev, 65536);
    for (const p of [...pages, ...spare]) free_pages(p, 0);
    return 0;
  });

  it('four scattered pages become one DMA segment of 16 KiB at the start of one IOVA range; the other entries are unused', () => {
    expect(run.code).toBe(0);
    expect(got.adjacent).toBe(false);
    expect(got.n4).toBe(1);
    const seg = got.seg4 as number[][];
    expect(seg[0]![0]! % PAGE).toBe(0);
    expect(seg[0]![1]).toBe(4 * PAGE);
    expect(seg.slice(1)).toEqual([
      [DMA_MAPPING_ERROR, 0],
      [DMA_MAPPING_ERROR, 0],
      [DMA_MAPPING_ERROR, 0],
    ]);
  });

  it('one device write over the DMA segment lands in each scattered page and nowhere else; unmapped, the device faults there', () => {
    expect(got.write4).toBe(0);
    expect(got.landed4).toEqual([true, true, true, true]);
    expect(got.spareUntouched).toBe(true);
    expect(got.afterUnmap).toBe(TX_FAIL);
    expect(got.nRead).toBe(1);
    expect(got.read4).toBe(0);
  });

  it('segments merge only page-to-page: an offset start keeps its offset, a segment ending mid-page ends the DMA segment', () => {
    expect(got.nMixed).toBe(2);
    const seg = got.segMixed as number[][];
    expect(seg[0]![0]! % PAGE).toBe(0x100);
    expect(seg[0]![1]).toBe(0xf00 + PAGE + 0x800);
    // the fourth entry starts after three page slots of the same IOVA range
    expect(seg[1]![0]).toBe(seg[0]![0]! - 0x100 + 3 * PAGE + 0x200);
    expect(seg[1]![1]).toBe(0x400);
    expect(seg.slice(2)).toEqual([
      [DMA_MAPPING_ERROR, 0],
      [DMA_MAPPING_ERROR, 0],
    ]);
    expect(got.writeA).toBe(0);
    expect(got.writeB).toBe(0);
    expect(got.landedMixed).toEqual([true, true, true, true, true, true, true, true]);
  });

  it('dma_set_max_seg_size caps the merged length', () => {
    expect(got.nSplit).toBe(2);
    expect(got.segSplit).toEqual([2 * PAGE, 2 * PAGE, 0, 0]);
    expect(got.splitContiguous).toBe(true);
  });
});

describe('an unmanaged domain for the test device group (what vfio does): ownership, attach, map, DMA, unmap, back to the default domain', () => {
  const got: Record<string, unknown> = {};
  let unmappedIova = 0;
  const run = runMarked(function* (u, t) {
    const pdev = testdevPci();
    const group = iommu_group_get(pdev)!;
    const bar = pci_resource_start(pdev, 0);
    const dom = iommu_paging_domain_alloc(pdev) as IommuDomain;
    got.domType = dom.type;
    // The bound iommu-testdev driver uses the DMA API: nobody may take the group
    got.claimBound = iommu_group_claim_dma_owner(group, 'test');
    got.defaultStill = iommu_get_domain_for_dev(pdev) === iommu_get_dma_domain(pdev);
    yield* device_release_driver(pdev);
    got.claim = iommu_group_claim_dma_owner(group, 'test');
    got.blocked = iommu_get_domain_for_dev(pdev)?.type;
    got.claimTwice = iommu_group_claim_dma_owner(group, 'other');
    got.attach = iommu_attach_group(dom, group);
    const other = iommu_paging_domain_alloc(pdev) as IommuDomain;
    got.attachOther = iommu_attach_group(other, group);
    iommu_domain_free(other);
    got.current = iommu_get_domain_for_dev(pdev) === dom;

    const page = alloc_pages(1, GFP_KERNEL | __GFP_ZERO) * PAGE;
    const iova = 0x1234_0000;
    unmappedIova = iova;
    got.map = iommu_map(dom, iova, page, 2 * PAGE, IOMMU_READ | IOMMU_WRITE);
    got.phys = iommu_iova_to_phys(dom, iova + PAGE + 8) === page + PAGE + 8;
    // the device is ours now: enable it as vfio-pci would
    pci_enable_device_mem(pdev);
    pci_set_master(pdev);
    // write + readback at the physical address: the device checks the translation itself
    got.dma = (yield* deviceDma(u, bar, iova, 2 * PAGE, OP_WRITE_VERIFY, page)).result;
    got.landed = patternAt(page, 2 * PAGE);
    got.unmap = iommu_unmap(dom, iova, 2 * PAGE);
    t.mark('faulting');
    const f = yield* deviceDma(u, bar, iova, 64, OP_WRITE);
    yield* sleepNs(u, 100_000);
    t.mark('faulted');
    got.fault = f;

    iommu_detach_group(dom, group);
    got.afterDetach = iommu_get_domain_for_dev(pdev)?.type;
    iommu_group_release_dma_owner(group);
    got.afterRelease = iommu_get_domain_for_dev(pdev) === iommu_get_dma_domain(pdev);
    iommu_domain_free(dom);
    pci_disable_device(pdev);
    free_pages(page, 1);
    // The DMA API driver binds again and its transfers go through the default domain
    got.reprobe = yield* device_attach(pdev);
    const td = yield* Testdev.open(u);
    if (typeof td === 'number') return 10;
    const buf = u.alloc(PAGE);
    got.dmaApi = (yield* td.dma(buf, PAGE, ITD_OP_WRITE)).result;
    return 0;
  });

  it('claiming DMA ownership fails with -EPERM while the DMA API driver is bound; after unbinding it the group waits in the blocked domain', () => {
    expect(run.code).toBe(0);
    expect(got.domType).toBe(IOMMU_DOMAIN_UNMANAGED);
    expect(got.claimBound).toBe(-1);
    expect(got.defaultStill).toBe(true);
    expect(got.claim).toBe(0);
    expect(got.blocked).toBe(IOMMU_DOMAIN_BLOCKED);
    expect(got.claimTwice).toBe(-1);
  });

  it('the unmanaged domain attaches (a second one is -EBUSY); the device DMAs through iommu_map into the right pages', () => {
    expect(got.attach).toBe(0);
    expect(got.attachOther).toBe(-16);
    expect(got.current).toBe(true);
    expect(got.map).toBe(0);
    expect(got.phys).toBe(true);
    expect(got.dma).toBe(0);
    expect(got.landed).toBe(true);
  });

  it('after iommu_unmap the device write faults: F_TRANSLATION for the SID at that IOVA, the transfer fails there', () => {
    expect(got.unmap).toBe(2 * PAGE);
    const f = got.fault as { result: number; fault: number };
    expect(f.result).toBe(TX_FAIL);
    expect(f.fault).toBe(unmappedIova);
    const ev = between(run, 'faulting', 'faulted').filter((r) => r.kind === TraceKind.Event);
    expect(ev.map((r) => [r.aux, r.sid, Number(r.iova)])).toEqual([[EVT_F_TRANSLATION, TESTDEV_SID, unmappedIova]]);
    expect(run.log.some((l) => l.includes(`F_TRANSLATION sid 0x${TESTDEV_SID.toString(16)} addr 0x${unmappedIova.toString(16)}`))).toBe(true);
  });

  it('detach returns the owned group to the blocked domain, release to the default DMA domain, and the driver DMAs again', () => {
    expect(got.afterDetach).toBe(IOMMU_DOMAIN_BLOCKED);
    expect(got.afterRelease).toBe(true);
    expect(got.reprobe).toBe(1);
    expect(got.dmaApi).toBe(0);
  });
});

describe('reserved regions: the MSI window in sysfs, never handed out by the default domain IOVA allocator', () => {
  const got: Record<string, unknown> = {};
  const lo = MSI_IOVA_BASE / PAGE;
  const hi = (MSI_IOVA_BASE + MSI_IOVA_LENGTH - 1) / PAGE;
  const run = runMarked(function* (u) {
    const pdev = testdevPci();
    const group = iommu_group_get(pdev)!;
    got.sysfs = yield* readFile(u, `/sys/kernel/iommu_groups/${group.id}/reserved_regions`);
    const dom = iommu_get_dma_domain(pdev)!;
    got.domType = dom.type;
    // the device's MSI doorbell is mapped in the window
    got.doorbell = iommu_iova_to_phys(dom, MSI_IOVA_BASE);
    // Exhaust the allocator below 256 MiB: nothing may fall in the window
    const iovad = iommu_dma_init_domain(dom, pdev);
    const taken = [];
    for (let a = iovad.alloc(64, 0x0fff_ffff / PAGE, true); a !== null; a = iovad.alloc(64, 0x0fff_ffff / PAGE, true)) taken.push(a);
    for (let a = iovad.alloc(1, 0x0fff_ffff / PAGE, false); a !== null; a = iovad.alloc(1, 0x0fff_ffff / PAGE, false)) taken.push(a);
    got.count = taken.length;
    got.overlap = taken.filter((a) => a.pfnHi >= lo && a.pfnLo <= hi).length;
    got.justAbove = taken.some((a) => a.pfnLo <= hi + 1 && a.pfnHi >= hi + 1);
    got.justBelow = taken.some((a) => a.pfnLo <= lo - 1 && a.pfnHi >= lo - 1);
    for (const a of taken) iovad.free(a);
    // The DMA API with a mask ending at the window's top: the mapping lands below it and works
    const mask = dma_get_mask(pdev);
    dma_set_mask(pdev, MSI_IOVA_BASE + MSI_IOVA_LENGTH - 1);
    const page = alloc_pages(0, GFP_KERNEL | __GFP_ZERO) * PAGE;
    const h = dma_map_single(pdev, page, PAGE, DMA_FROM_DEVICE);
    got.handle = h;
    const bar = pci_resource_start(pdev, 0);
    got.dma = (yield* deviceDma(u, bar, h, PAGE, OP_WRITE_VERIFY, page)).result;
    dma_unmap_single(pdev, h, PAGE, DMA_FROM_DEVICE);
    dma_set_mask(pdev, mask);
    free_pages(page, 0);
    return 0;
  });

  it('/sys/kernel/iommu_groups/<n>/reserved_regions lists the SW_MSI window as "msi"', () => {
    expect(run.code).toBe(0);
    expect(got.sysfs).toBe('0x0000000008000000 0x00000000080fffff msi\n');
  });

  it('the window holds the MSI doorbell mapping of the default domain', () => {
    expect(got.domType).toBe(IOMMU_DOMAIN_DMA);
    expect(got.doorbell).toBeGreaterThan(0);
  });

  it('the IOVA allocator hands out the space right above and below the window but nothing in it; a DMA mask ending there maps below it', () => {
    expect(got.count).toBeGreaterThan(1000);
    expect(got.overlap).toBe(0);
    expect(got.justAbove).toBe(true);
    expect(got.justBelow).toBe(true);
    expect(got.handle).not.toBe(DMA_MAPPING_ERROR);
    expect(got.handle as number).toBeLessThan(MSI_IOVA_BASE);
    expect(got.dma).toBe(0);
  });
});
