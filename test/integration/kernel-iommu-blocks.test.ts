// Block mappings in the DMA/unmanaged domains' io-pgtable (io-pgtable-arm.c with the
// 4 KiB granule: pgsize_bitmap 4K | 2M | 1G). iommu_map of a 2 MiB-aligned run to a
// 2 MiB-aligned PA writes one level-2 block, which the SMMU's stage-1 walk finds (the
// walk trace record carries the leaf level); unmapping it sends one leaf TLBI_NH_VA
// with TTL = level 2 (IDR3.RIL); unmapping part of it unmaps nothing (Linux 6.13+); a
// block laid over an emptied table, or an unmap at block size over 4 KiB pages, frees
// the table with a non-leaf (walk) invalidation first.

import { describe, expect, it } from 'vitest';
import { thisCpu } from '../../src/arch/index.js';
import { arm_smmu_devices, type ArmSmmuDomain } from '../../src/kernel/drivers/iommu/arm-smmu-v3/arm-smmu-v3.js';
import {
  IOMMU_READ,
  IOMMU_WRITE,
  iommu_attach_group,
  iommu_detach_group,
  iommu_domain_free,
  iommu_group_claim_dma_owner,
  iommu_group_get,
  iommu_group_release_dma_owner,
  iommu_iova_to_phys,
  iommu_map,
  iommu_paging_domain_alloc,
  iommu_unmap,
  type IommuDomain,
} from '../../src/kernel/drivers/iommu/iommu.js';
import { device_release_driver } from '../../src/kernel/drivers/base/core.js';
import { pci_disable_device, pci_enable_device_mem, pci_resource_start, pci_set_master, type PciDev } from '../../src/kernel/drivers/pci/pci.js';
import { GFP_KERNEL, __GFP_ZERO } from '../../src/kernel/mm/gfp.js';
import { alloc_pages, free_pages } from '../../src/kernel/mm/page_alloc.js';
import { TraceKind } from '../../src/trace/record.js';
import type { UserCtx } from '../support/kernel-user.js';
import { PATTERN, TESTDEV_SID, cmdDword, type Rec } from './kernel-smmu-harness.js';
import { between, runMarked, sleepNs, smmuCommands } from './kernel-iommu-harness.js';

const SZ_2M = 2 * 1024 * 1024;
const SZ_1G = 1024 * 1024 * 1024;
const PAGE = 4096;
const CMDQ_OP_TLBI_NH_VA = 0x12;
const CMDQ_OP_CMD_SYNC = 0x46;
const EVT_F_TRANSLATION = 0x10;

// iommu-testdev BAR0
const GVA_LO = 0x04;
const GVA_HI = 0x08;
const LEN = 0x0c;
const RESULT = 0x10;
const DBELL = 0x14;
const TRIGGER = 0x00;
const X_CTRL = 0x44;
const OP_WRITE = 1;
const BUSY = 0xfffffffe;
const TX_FAIL = 0xdead0002;

function* deviceWrite(u: UserCtx, bar: number, iova: number, len: number): Generator<unknown, number, unknown> {
  const cpu = thisCpu();
  cpu.stPhys32(bar + GVA_LO, iova >>> 0);
  cpu.stPhys32(bar + GVA_HI, Math.floor(iova / 2 ** 32));
  cpu.stPhys32(bar + LEN, len);
  cpu.stPhys32(bar + X_CTRL, OP_WRITE << 4);
  cpu.stPhys32(bar + DBELL, 1);
  cpu.ldPhys32(bar + TRIGGER);
  for (let i = 0; i < 50_000 && thisCpu().ldPhys32(bar + RESULT) >>> 0 === BUSY; i++) yield* sleepNs(u, 100_000);
  return thisCpu().ldPhys32(bar + RESULT) >>> 0;
}

function patternAt(pa: number, len: number): boolean {
  const cpu = thisCpu();
  for (let i = 0; i < len; i += 4) if (cpu.ldPhys32(pa + i) >>> 0 !== PATTERN) return false;
  return true;
}

/** The TLBI_NH_VA fields that say what is invalidated: [addr, leaf, ttl, tg, num, scale]. */
function tlbiFields(r: Rec): number[] {
  const d0 = cmdDword(r, 0);
  const d1 = cmdDword(r, 1);
  return [Number(d1 & ~0xfffn), Number(d1 & 1n), Number((d1 >> 8n) & 3n), Number((d1 >> 10n) & 3n), Number((d0 >> 12n) & 31n), Number((d0 >> 20n) & 31n)];
}

describe('2 MiB block mappings in an unmanaged domain (io-pgtable-arm, pgsize_bitmap 4K|2M|1G)', () => {
  const got: Record<string, unknown> = {};
  const walkLevels: number[] = [];
  const IOVA = 0x4000_0000;
  let pa = 0;
  const run = runMarked(function* (u, t) {
    const pdev = arm_smmu_devices()[0]!.streams.get(TESTDEV_SID)!.dev as PciDev;
    const group = iommu_group_get(pdev)!;
    const bar = pci_resource_start(pdev, 0);
    yield* device_release_driver(pdev);
    iommu_group_claim_dma_owner(group, 'test');
    const dom = iommu_paging_domain_alloc(pdev) as IommuDomain;
    got.bitmap = dom.pgsizeBitmap;
    got.attach = iommu_attach_group(dom, group);
    pci_enable_device_mem(pdev);
    pci_set_master(pdev);
    const pgtbl = (dom as ArmSmmuDomain).pgtbl!;
    // 1024 pages: a 2 MiB-aligned 2 MiB run inside them whatever the buddy gives
    const base = alloc_pages(10, GFP_KERNEL | __GFP_ZERO) * PAGE;
    pa = Math.ceil(base / SZ_2M) * SZ_2M;

    got.map = iommu_map(dom, IOVA, pa, SZ_2M, IOMMU_READ | IOMMU_WRITE);
    got.level = pgtbl.leafLevel(IOVA + 0x12_3000);
    got.phys = iommu_iova_to_phys(dom, IOVA + 0x12_3456) === pa + 0x12_3456;
    const unsub = t.machine.trace.subscribe((ring, i) => {
      if (ring.kindAt(i) !== TraceKind.Walk) return;
      const r = ring.at(i);
      if (r.sid === TESTDEV_SID) walkLevels.push(r.aux & 0xff);
    });
    got.dma = yield* deviceWrite(u, bar, IOVA + SZ_2M / 2, 64 * 1024);
    unsub();
    got.landed = patternAt(pa + SZ_2M / 2, 64 * 1024);

    // part of the block: refused, nothing unmapped, no invalidation, the block stays
    t.mark('partial');
    got.partial = iommu_unmap(dom, IOVA + PAGE, PAGE);
    t.mark('partial-done');
    got.levelAfterPartial = pgtbl.leafLevel(IOVA + PAGE);

    t.mark('unmap');
    got.unmap = iommu_unmap(dom, IOVA, SZ_2M);
    t.mark('unmapped');
    got.afterUnmap = yield* deviceWrite(u, bar, IOVA + SZ_2M / 2, 64);
    yield* sleepNs(u, 100_000);
    t.mark('faulted');

    // 4 KiB pages where the block was (PA off 2 MiB alignment by a page): a level-3 table
    got.mapPages = iommu_map(dom, IOVA, pa + PAGE, SZ_2M - PAGE, IOMMU_READ | IOMMU_WRITE);
    got.pageLevel = pgtbl.leafLevel(IOVA);
    // unmapping at block size meets the table: freed, walks flushed (leaf = 0), 2 MiB gone
    t.mark('unmap-table');
    got.unmapTable = iommu_unmap(dom, IOVA, SZ_2M);
    t.mark('unmap-table-done');
    got.levelGone = pgtbl.leafLevel(IOVA + PAGE);

    // pages unmapped one run at a time leave an empty table; a block laid over it frees it
    got.mapPages2 = iommu_map(dom, IOVA, pa + PAGE, 16 * PAGE, IOMMU_READ | IOMMU_WRITE);
    got.unmapPages2 = iommu_unmap(dom, IOVA, 16 * PAGE);
    t.mark('block-over-table');
    got.mapOver = iommu_map(dom, IOVA, pa, SZ_2M, IOMMU_READ | IOMMU_WRITE);
    t.mark('block-over-table-done');
    got.levelOver = pgtbl.leafLevel(IOVA);
    got.dmaOver = yield* deviceWrite(u, bar, IOVA, 4096);
    // a 4 KiB map inside the block: -EEXIST
    got.mapInside = iommu_map(dom, IOVA + PAGE, pa, PAGE, IOMMU_READ);
    got.unmapOver = iommu_unmap(dom, IOVA, SZ_2M);

    // 1 GiB: a level-1 block (the tables only; the PA range need not be allocated)
    t.mark('giga');
    got.mapGiga = iommu_map(dom, SZ_1G * 4, SZ_1G, SZ_1G, IOMMU_READ);
    got.levelGiga = pgtbl.leafLevel(SZ_1G * 4 + 0x1234_5000);
    got.physGiga = iommu_iova_to_phys(dom, SZ_1G * 4 + 0x1234_5678);
    got.unmapGiga = iommu_unmap(dom, SZ_1G * 4, SZ_1G);
    t.mark('giga-done');

    iommu_detach_group(dom, group);
    iommu_group_release_dma_owner(group);
    iommu_domain_free(dom);
    pci_disable_device(pdev);
    free_pages(base, 10);
    return 0;
  });

  it('the domain advertises 4K | 2M | 1G, and a 2 MiB-aligned run to a 2 MiB-aligned PA is one level-2 block', () => {
    expect(run.code).toBe(0);
    expect(got.bitmap).toBe(2 ** 12 + 2 ** 21 + 2 ** 30);
    expect(got.attach).toBe(0);
    expect(got.map).toBe(0);
    expect(got.level).toBe(2);
    expect(got.phys).toBe(true);
  });

  it("the SMMU's stage-1 walk ends at the level-2 block and the device's DMA lands in the block's pages", () => {
    expect(got.dma).toBe(0);
    expect(got.landed).toBe(true);
    expect(walkLevels.length).toBeGreaterThan(0);
    expect(new Set(walkLevels)).toEqual(new Set([2]));
  });

  it('unmapping part of a block unmaps nothing and invalidates nothing (Linux 6.13+: no split on unmap)', () => {
    expect(got.partial).toBe(0);
    expect(got.levelAfterPartial).toBe(2);
    expect(smmuCommands(between(run, 'partial', 'partial-done'))).toEqual([]);
    expect(run.log.some((l) => l.includes('unmap of a partial large IOPTE is not allowed'))).toBe(true);
  });

  it('unmapping the block is one leaf TLBI_NH_VA at its IOVA with TTL 2 and TG 4K (range, IDR3.RIL), then CMD_SYNC; the device then faults', () => {
    expect(got.unmap).toBe(SZ_2M);
    const cmds = smmuCommands(between(run, 'unmap', 'unmapped'));
    expect(cmds.map((r) => r.aux)).toEqual([CMDQ_OP_TLBI_NH_VA, CMDQ_OP_CMD_SYNC]);
    // 512 4 KiB granules: NUM 0 (one) << SCALE 9
    expect(tlbiFields(cmds[0]!)).toEqual([IOVA, 1, 2, 1, 0, 9]);
    expect(got.afterUnmap).toBe(TX_FAIL);
    const ev = between(run, 'unmapped', 'faulted').filter((r) => r.kind === TraceKind.Event);
    expect(ev.map((r) => [r.aux, r.sid])).toEqual([[EVT_F_TRANSLATION, TESTDEV_SID]]);
  });

  it('an unmap at block size over 4 KiB pages frees their table after a non-leaf walk invalidation (no TTL), then invalidates the 2 MiB as a leaf', () => {
    expect(got.mapPages).toBe(0);
    expect(got.pageLevel).toBe(3);
    expect(got.unmapTable).toBe(SZ_2M);
    expect(got.levelGone).toBe(-1);
    const tlbi = smmuCommands(between(run, 'unmap-table', 'unmap-table-done'), CMDQ_OP_TLBI_NH_VA).map(tlbiFields);
    expect(tlbi).toEqual([
      [IOVA, 0, 0, 1, 0, 9],
      [IOVA, 1, 2, 1, 0, 9],
    ]);
  });

  it('a block laid over an emptied page table frees it with a walk invalidation; a page inside the block is -EEXIST', () => {
    expect(got.mapPages2).toBe(0);
    expect(got.unmapPages2).toBe(16 * PAGE);
    expect(got.mapOver).toBe(0);
    expect(got.levelOver).toBe(2);
    expect(got.dmaOver).toBe(0);
    const tlbi = smmuCommands(between(run, 'block-over-table', 'block-over-table-done'), CMDQ_OP_TLBI_NH_VA).map(tlbiFields);
    expect(tlbi).toEqual([[IOVA, 0, 0, 1, 0, 9]]);
    expect(got.mapInside).toBe(-17);
    expect(got.unmapOver).toBe(SZ_2M);
  });

  it('a 1 GiB-aligned GiB to a 1 GiB-aligned PA is one level-1 block; its unmap is one leaf TLBI_NH_VA with TTL 1', () => {
    expect(got.mapGiga).toBe(0);
    expect(got.levelGiga).toBe(1);
    expect(got.physGiga).toBe(SZ_1G + 0x1234_5678);
    expect(got.unmapGiga).toBe(SZ_1G);
    const tlbi = smmuCommands(between(run, 'giga', 'giga-done'), CMDQ_OP_TLBI_NH_VA).map(tlbiFields);
    // 2^18 4 KiB granules: NUM 0 << SCALE 18
    expect(tlbi).toEqual([[SZ_1G * 4, 1, 1, 1, 0, 18]]);
  });
});
