// What the SVA MMU notifier sends the SMMU when a bound process unmaps memory
// (arm_smmu_mm_arch_invalidate_secondary_tlbs): with range invalidation (IDR3.RIL)
// one TLBI_NH_VA with NUM/SCALE covers the range; without it, a range below
// CMDQ_MAX_TLBI_OPS (512) pages is one TLBI_NH_VA per page and a range of 512 pages
// or more is a single TLBI_NH_ASID. flush_tlb_mm hands the notifier (0, -1UL): one
// TLBI_NH_ASID with or without RIL. Every command carries the shared (CPU) ASID.
// Each region here is the only VMA in its 1 GiB, so its munmap also frees the PTE and
// PMD tables (free_pgtables between the neighbours) and tlb_finish_mmu then flushes
// that 1 GiB (stride PUD_SIZE, non-leaf): a second invalidation after the pages'.

import { describe, expect, it } from 'vitest';
import { arm_smmu_devices } from '../../src/kernel/drivers/iommu/arm-smmu-v3/arm-smmu-v3.js';
import { ARM_SMMU_FEAT_RANGE_INV } from '../../src/kernel/drivers/iommu/arm-smmu-v3/features.js';
import { CMDQ_MAX_TLBI_OPS } from '../../src/kernel/drivers/iommu/arm-smmu-v3/sva.js';
import { ASID } from '../../src/kernel/mm/context.js';
import { flush_tlb_mm } from '../../src/kernel/mm/tlbflush.js';
import { current } from '../../src/kernel/sched/core.js';
import type { UserCtx } from '../support/kernel-user.js';
import { PAGE, Testdev, cmdDword, mmap, munmap, type Rec } from './kernel-smmu-harness.js';
import { between, runMarked, smmuCommands } from './kernel-iommu-harness.js';

const CMD_TLBI_NH_ASID = 0x11;
const CMD_TLBI_NH_VA = 0x12;
const GiB = 2 ** 30;
/** The 1 GiB a freed PMD table covered. */
const gib = (va: number): number => Math.floor(va / GiB) * GiB;

/** The fields of a TLBI_NH_VA (arm-smmu-v3.h CMDQ_TLBI_*). */
function nhVa(c: Rec): { asid: number; num: number; scale: number; leaf: number; ttl: number; tg: number; addr: number } {
  const d0 = cmdDword(c, 0);
  const d1 = cmdDword(c, 1);
  return {
    asid: Number(d0 >> 48n),
    num: Number((d0 >> 12n) & 31n),
    scale: Number((d0 >> 20n) & 31n),
    leaf: Number(d1 & 1n),
    ttl: Number((d1 >> 8n) & 3n),
    tg: Number((d1 >> 10n) & 3n),
    addr: Number(d1 & ~0xfffn),
  };
}

/** Maps `pages` anonymous pages and writes each one, so that munmap has PTEs to clear. */
function* populated(u: UserCtx, pages: number): Generator<unknown, number, unknown> {
  const a = yield* mmap(u, pages * PAGE);
  for (let i = 0; i < pages; i++) u.cpu.st32(a + i * PAGE, i + 1);
  return a;
}

describe('SVA munmap invalidation with and without range TLBI (CMDQ_MAX_TLBI_OPS)', () => {
  const at: Record<string, number> = {};
  const run = runMarked(
    function* (u, t) {
      const td = yield* Testdev.open(u);
      if (typeof td === 'number') return 10;
      if ((yield* td.bind()) < 0) return 11;
      const smmu = arm_smmu_devices()[0]!;
      at.asid = ASID(current().mm!);
      at.ril = smmu.features & ARM_SMMU_FEAT_RANGE_INV ? 1 : 0;
      t.mark('mm');
      flush_tlb_mm(current().mm!);
      t.mark('mm-done');
      at.range = yield* populated(u, 512);
      t.mark('range');
      at.rangeUnmap = yield* munmap(u, at.range, 512 * PAGE);
      t.mark('range-done');
      // As probe would have found an SMMU without IDR3.RIL
      smmu.features &= ~ARM_SMMU_FEAT_RANGE_INV;
      at.below = yield* populated(u, CMDQ_MAX_TLBI_OPS - 1);
      t.mark('below');
      at.belowUnmap = yield* munmap(u, at.below, (CMDQ_MAX_TLBI_OPS - 1) * PAGE);
      t.mark('below-done');
      at.limit = yield* populated(u, CMDQ_MAX_TLBI_OPS);
      t.mark('limit');
      at.limitUnmap = yield* munmap(u, at.limit, CMDQ_MAX_TLBI_OPS * PAGE);
      t.mark('limit-done');
      at.one = yield* populated(u, 1);
      t.mark('one');
      at.oneUnmap = yield* munmap(u, at.one, PAGE);
      t.mark('one-done');
      t.mark('mm-noril');
      flush_tlb_mm(current().mm!);
      t.mark('mm-noril-done');
      smmu.features |= ARM_SMMU_FEAT_RANGE_INV;
      return 0;
    },
    { args: 'iommu_testdev.dma_can_stall=1' },
  );

  it('every munmap succeeds; the model advertises RIL', () => {
    expect(run.code).toBe(0);
    expect(at.ril).toBe(1);
    expect([at.rangeUnmap, at.belowUnmap, at.limitUnmap, at.oneUnmap]).toEqual([0, 0, 0, 0]);
    expect(CMDQ_MAX_TLBI_OPS).toBe(512);
  });

  it('RIL: 512 pages are one TLBI_NH_VA (NUM=0, SCALE=9: 1 << 9 pages, TG=4K, non-leaf) at the range start, no TLBI_NH_ASID; the freed tables one more (SCALE=18: 1 GiB)', () => {
    const w = between(run, 'range', 'range-done');
    expect(smmuCommands(w, CMD_TLBI_NH_ASID)).toEqual([]);
    expect(smmuCommands(w, CMD_TLBI_NH_VA).map(nhVa)).toEqual([
      { asid: at.asid, num: 0, scale: 9, leaf: 0, ttl: 0, tg: 1, addr: at.range },
      { asid: at.asid, num: 0, scale: 18, leaf: 0, ttl: 0, tg: 1, addr: gib(at.range!) },
    ]);
  });

  it('no RIL, 511 pages: one TLBI_NH_VA per page (no range fields), in order; the freed tables (1 GiB) a TLBI_NH_ASID after them', () => {
    const w = between(run, 'below', 'below-done');
    const asids = smmuCommands(w, CMD_TLBI_NH_ASID);
    expect(asids.map((c) => Number(cmdDword(c, 0) >> 48n))).toEqual([at.asid]);
    expect(asids[0]!.index).toBeGreaterThan(smmuCommands(w, CMD_TLBI_NH_VA).at(-1)!.index);
    const cmds = smmuCommands(w, CMD_TLBI_NH_VA).map(nhVa);
    expect(cmds.length).toBe(CMDQ_MAX_TLBI_OPS - 1);
    cmds.forEach((c, i) => expect(c).toEqual({ asid: at.asid, num: 0, scale: 0, leaf: 0, ttl: 0, tg: 0, addr: at.below! + i * PAGE }));
  });

  it('no RIL, 512 pages: a TLBI_NH_ASID of the shared ASID and no TLBI_NH_VA (and one more for the freed tables)', () => {
    const w = between(run, 'limit', 'limit-done');
    expect(smmuCommands(w, CMD_TLBI_NH_VA)).toEqual([]);
    expect(smmuCommands(w, CMD_TLBI_NH_ASID).map((c) => Number(cmdDword(c, 0) >> 48n))).toEqual([at.asid, at.asid]);
  });

  it('no RIL, one page: one TLBI_NH_VA for it, then a TLBI_NH_ASID for the freed tables (1 GiB)', () => {
    const w = between(run, 'one', 'one-done');
    expect(smmuCommands(w, CMD_TLBI_NH_VA).map(nhVa)).toEqual([{ asid: at.asid, num: 0, scale: 0, leaf: 0, ttl: 0, tg: 0, addr: at.one }]);
    const asids = smmuCommands(w, CMD_TLBI_NH_ASID);
    expect(asids.map((c) => Number(cmdDword(c, 0) >> 48n))).toEqual([at.asid]);
    expect(asids[0]!.index).toBeGreaterThan(smmuCommands(w, CMD_TLBI_NH_VA)[0]!.index);
  });
});
