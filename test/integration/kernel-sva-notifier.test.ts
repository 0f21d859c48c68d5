// The SVA MMU notifier's view of whole-mm flushes and of the mm's end
// (arm_smmu_mm_arch_invalidate_secondary_tlbs, arm_smmu_mm_release with
// __mmu_notifier_release): flush_tlb_mm hands it (0, -1UL), which is one TLBI_NH_ASID
// of the shared ASID with and without range invalidation; when a bound process exits,
// release quiets the CD and invalidates the ASID once, and none of the teardown's
// unmaps and TLB flushes that follow reach the SMMU (the subscription is unlinked).

import { describe, expect, it } from 'vitest';
import { arm_smmu_devices } from '../../src/kernel/drivers/iommu/arm-smmu-v3/arm-smmu-v3.js';
import { ARM_SMMU_FEAT_RANGE_INV } from '../../src/kernel/drivers/iommu/arm-smmu-v3/features.js';
import { ASID } from '../../src/kernel/mm/context.js';
import { mm_has_notifiers } from '../../src/kernel/mm/mmu_notifier.js';
import { flush_tlb_mm } from '../../src/kernel/mm/tlbflush.js';
import { current } from '../../src/kernel/sched/core.js';
import type { MmStruct } from '../../src/kernel/mm/mm_types.js';
import { PAGE, Testdev, cmdDword, mmap, type Rec } from './kernel-smmu-harness.js';
import { between, runMarked, smmuCommands } from './kernel-iommu-harness.js';

const CMD_CFGI_CD = 0x05;
const CMD_TLBI_NH_ASID = 0x11;
const CMD_TLBI_NH_VA = 0x12;

const asidOf = (c: Rec): number => Number(cmdDword(c, 0) >> 48n);

describe('flush_tlb_mm of a bound mm: one TLBI_NH_ASID of the shared ASID, with and without RIL', () => {
  const got: Record<string, number> = {};
  const run = runMarked(
    function* (u, t) {
      const td = yield* Testdev.open(u);
      if (typeof td === 'number') return 10;
      if ((yield* td.bind()) < 0) return 11;
      const smmu = arm_smmu_devices()[0]!;
      const mm = current().mm!;
      got.asid = ASID(mm);
      got.ril = smmu.features & ARM_SMMU_FEAT_RANGE_INV ? 1 : 0;
      t.mark('ril');
      flush_tlb_mm(mm);
      t.mark('ril-done');
      smmu.features &= ~ARM_SMMU_FEAT_RANGE_INV;
      t.mark('noril');
      flush_tlb_mm(mm);
      t.mark('noril-done');
      smmu.features |= ARM_SMMU_FEAT_RANGE_INV;
      return 0;
    },
    { args: 'iommu_testdev.dma_can_stall=1' },
  );

  it('with RIL (size ULONG_MAX): a single TLBI_NH_ASID, no TLBI_NH_VA', () => {
    expect(run.code).toBe(0);
    expect(got.ril).toBe(1);
    const w = between(run, 'ril', 'ril-done');
    expect(smmuCommands(w, CMD_TLBI_NH_VA)).toEqual([]);
    expect(smmuCommands(w, CMD_TLBI_NH_ASID).map(asidOf)).toEqual([got.asid]);
  });

  it('without RIL (beyond CMDQ_MAX_TLBI_OPS pages): a single TLBI_NH_ASID, no TLBI_NH_VA', () => {
    const w = between(run, 'noril', 'noril-done');
    expect(smmuCommands(w, CMD_TLBI_NH_VA)).toEqual([]);
    expect(smmuCommands(w, CMD_TLBI_NH_ASID).map(asidOf)).toEqual([got.asid]);
  });
});

describe('a bound process exits: release is the last thing the SVA notifier hears of the mm', () => {
  const got: Record<string, number> = {};
  let mm: MmStruct | null = null;
  const run = runMarked(
    function* (u, t) {
      const pid = yield* u.fork(function* (c) {
        const td = yield* Testdev.open(c);
        if (typeof td === 'number') return 10;
        mm = current().mm;
        got.pasid = yield* td.bind();
        got.asid = ASID(mm!);
        // mapped and touched: exit_mmap has PTEs to zap and TLB entries to flush
        const a = yield* mmap(c, 16 * PAGE);
        for (let i = 0; i < 16; i++) c.cpu.st32(a + i * PAGE, i);
        t.mark('exit');
        return 0;
      });
      const [, status] = yield* u.wait(pid);
      t.mark('reaped');
      got.notifiers = mm_has_notifiers(mm!) ? 1 : 0;
      return status >> 8;
    },
    { args: 'iommu_testdev.dma_can_stall=1' },
  );

  it('the quiet CD and one TLBI_NH_ASID from release; no TLBI_NH_VA and no other TLBI_NH_ASID while the mm is torn down', () => {
    expect(run.code).toBe(0);
    expect(got.pasid).toBeGreaterThan(0);
    const cmds = smmuCommands(between(run, 'exit', 'reaped'));
    const inv = cmds.filter((c) => c.aux === CMD_TLBI_NH_ASID);
    expect(inv.map(asidOf)).toEqual([got.asid]);
    // the quiet CD was written (CFGI_CD at the PASID) before that invalidation
    const quiet = cmds.filter((c) => c.aux === CMD_CFGI_CD && Number((cmdDword(c, 0) >> 12n) & 0xfffffn) === got.pasid && c.index < inv[0]!.index);
    expect(quiet.length).toBeGreaterThan(0);
    expect(cmds.filter((c) => c.aux === CMD_TLBI_NH_VA)).toEqual([]);
    expect(got.notifiers).toBe(0);
  });
});
