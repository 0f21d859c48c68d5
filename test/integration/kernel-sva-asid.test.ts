// The SVA context descriptor shares the process's CPU ASID (arm-smmu-v3-sva.c of the
// shared-ASID era): bind pins the mm's ASID with arm64_mm_context_get, writes it into
// the CD next to TTB0 = mm->pgd, and moves a private DMA domain that owned the same
// SMMU ASID to a new one (CD rewritten hitlessly, old ASID invalidated) so that the
// two address spaces never share IOTLB entries. MMU-notifier invalidations carry the
// shared ASID; unbind invalidates it on the SMMU and releases the pin. A process that
// exits bound gets the quiet CD from release, after which its teardown reaches no SMMU.

import { describe, expect, it } from 'vitest';
import { thisCpu } from '../../src/arch/index.js';
import { ArmSmmuDomain, arm_smmu_devices } from '../../src/kernel/drivers/iommu/arm-smmu-v3/arm-smmu-v3.js';
import { IOMMU_DOMAIN_SVA, iommu_get_dma_domain, iommu_get_domain_for_dev_pasid } from '../../src/kernel/drivers/iommu/iommu.js';
import { ITD_OP_WRITE } from '../../src/kernel/drivers/misc/iommu-testdev.js';
import { ASID, mm_context_pinned } from '../../src/kernel/mm/context.js';
import { mm_has_notifiers } from '../../src/kernel/mm/mmu_notifier.js';
import { current } from '../../src/kernel/sched/core.js';
import { PAGE, TESTDEV_SID, Testdev, cmdDword, holdsPattern, mmap, munmap, type Rec } from './kernel-smmu-harness.js';
import { between, runMarked, smmuCommands } from './kernel-iommu-harness.js';

const CMD_CFGI_CD = 0x05;
const CMD_TLBI_NH_ASID = 0x11;
const CMD_TLBI_NH_VA = 0x12;

/** dword 0 of the CD at `pa`: ASID is bits [63:48]. */
function cdAsid(pa: number): number {
  return thisCpu().ldPhys32(pa + 4) >>> 16;
}

/** TTB0 of the CD at `pa` (dword 1 bits [51:4]). */
function cdTtb0(pa: number): number {
  const cpu = thisCpu();
  const lo = cpu.ldPhys32(pa + 8) >>> 0;
  const hi = cpu.ldPhys32(pa + 12) & 0xfffff;
  return hi * 2 ** 32 + (lo >>> 4) * 16;
}

const asidOf = (c: Rec): number => Number(cmdDword(c, 0) >> 48n);
const cfgiCd = (c: Rec): [number, number, number] => [Number(cmdDword(c, 0) >> 32n), Number((cmdDword(c, 0) >> 12n) & 0xfffffn), Number(cmdDword(c, 1) & 1n)];

describe('SVA CD takes the process CPU ASID; the private domain that owned it is re-ASIDed', () => {
  const got: Record<string, number | boolean> = {};
  const run = runMarked(
    function* (u, t) {
      // A child process: its CPU ASID is the second user ASID, which the SMMU gave the
      // test device's DMA domain at boot (checked below, not assumed)
      const pid = yield* u.fork(function* (c) {
        const td = yield* Testdev.open(c);
        if (typeof td === 'number') return 10;
        const mm = current().mm!;
        const smmu = arm_smmu_devices()[0]!;
        const master = smmu.streams.get(TESTDEV_SID)!;
        const dma = iommu_get_dma_domain(master.dev) as ArmSmmuDomain;
        got.ttbrAsid = Number(c.cpu.readSysreg('TTBR0_EL1') >> 48n);
        got.ctxAsid = ASID(mm);
        got.ownerBefore = smmu.asids.get(got.ctxAsid) === dma;
        got.dmaAsidBefore = dma.asid;
        const bounce = yield* mmap(c, PAGE);
        got.dmaBefore = (yield* td.dma(bounce, PAGE, ITD_OP_WRITE)).result;
        t.mark('bind');
        const pasid = yield* td.bind();
        t.mark('bound');
        got.pasid = pasid;
        const sva = iommu_get_domain_for_dev_pasid(master.dev, pasid) as ArmSmmuDomain;
        got.svaType = sva.type;
        got.svaAsid = sva.asid;
        got.pinned = mm_context_pinned(mm);
        got.ownerSva = smmu.asids.get(got.ctxAsid) === sva;
        got.dmaAsidAfter = dma.asid;
        got.dmaOwner = smmu.asids.get(dma.asid) === dma;
        got.cdSvaAsid = cdAsid(smmu.getCdPtr(master, pasid));
        got.cdSvaTtb0 = cdTtb0(smmu.getCdPtr(master, pasid)) === mm.pgd;
        got.cdDmaAsid = cdAsid(smmu.getCdPtr(master, 0));
        // Both address spaces keep working: DMA API through the moved domain, SVA through the shared one
        got.dmaAfter = (yield* td.dma(bounce, PAGE, ITD_OP_WRITE)).result;
        const buf = yield* mmap(c, 4 * PAGE);
        got.svaDma = (yield* td.svaDma(buf, 4 * PAGE, ITD_OP_WRITE)).result;
        got.svaData = holdsPattern(c, buf, 4 * PAGE);
        t.mark('munmap');
        got.munmap = yield* munmap(c, buf, 2 * PAGE);
        t.mark('unbind');
        got.unbind = yield* td.unbind();
        t.mark('unbound');
        got.pinnedAfter = mm_context_pinned(mm);
        got.asidFreed = !smmu.asids.has(got.ctxAsid as number);
        got.ttbrAsidAfter = Number(c.cpu.readSysreg('TTBR0_EL1') >> 48n);
        return 0;
      });
      const [, status] = yield* u.wait(pid);
      return status >> 8;
    },
    { args: 'iommu_testdev.dma_can_stall=1' },
  );

  it('the CD at the PASID holds the CPU ASID of the mm (TTBR0_EL1.ASID and mm->context) and TTB0 = the mm pgd', () => {
    expect(run.code).toBe(0);
    expect(got.ttbrAsid).toBeGreaterThan(0);
    expect(got.ctxAsid).toBe(got.ttbrAsid);
    expect(got.svaType).toBe(IOMMU_DOMAIN_SVA);
    expect(got.svaAsid).toBe(got.ctxAsid);
    expect(got.cdSvaAsid).toBe(got.ctxAsid);
    expect(got.cdSvaTtb0).toBe(true);
    expect(got.ownerSva).toBe(true);
    // the pin keeps the ASID for this mm across CPU rollovers while the bond lives
    expect(got.pinned).toBe(1);
  });

  it('the DMA domain that owned that SMMU ASID moves to a new one: its CD is rewritten with one hitless step, then TLBI_NH_ASID of the old ASID', () => {
    expect(got.ownerBefore).toBe(true);
    expect(got.dmaAsidBefore).toBe(got.ctxAsid);
    expect(got.dmaAsidAfter).not.toBe(got.ctxAsid);
    expect(got.dmaOwner).toBe(true);
    expect(got.cdDmaAsid).toBe(got.dmaAsidAfter);
    const cmds = smmuCommands(between(run, 'bind', 'bound'));
    const cdSsid0 = cmds.filter((c) => c.aux === CMD_CFGI_CD && cfgiCd(c)[1] === 0);
    // only dword 0 (the ASID) changes: a single CFGI_CD (leaf) step, no V=0 window
    expect(cdSsid0.map(cfgiCd)).toEqual([[TESTDEV_SID, 0, 1]]);
    const inv = cmds.filter((c) => c.aux === CMD_TLBI_NH_ASID);
    expect(inv.map(asidOf)).toEqual([got.ctxAsid]);
    expect(inv[0]!.index).toBeGreaterThan(cdSsid0[0]!.index);
    // ... all before the SVA CD is installed at the PASID
    const cdPasid = cmds.filter((c) => c.aux === CMD_CFGI_CD && cfgiCd(c)[1] === got.pasid);
    expect(cdPasid.length).toBeGreaterThan(0);
    expect(cdPasid[0]!.index).toBeGreaterThan(inv[0]!.index);
  });

  it('DMA API and SVA DMA both work after the move; munmap invalidates with the shared ASID', () => {
    expect(got.dmaBefore).toBe(0);
    expect(got.dmaAfter).toBe(0);
    expect(got.svaDma).toBe(0);
    expect(got.svaData).toBe(true);
    expect(got.munmap).toBe(0);
    const va = smmuCommands(between(run, 'munmap', 'unbind'), CMD_TLBI_NH_VA);
    expect(va.length).toBe(1);
    expect(asidOf(va[0]!)).toBe(got.ctxAsid);
  });

  it('unbind invalidates the shared ASID on the SMMU, frees it there and releases the CPU pin', () => {
    expect(got.unbind).toBe(0);
    const inv = smmuCommands(between(run, 'unbind', 'unbound'), CMD_TLBI_NH_ASID);
    expect(inv.map(asidOf)).toEqual([got.ctxAsid]);
    expect(got.pinnedAfter).toBe(0);
    expect(got.asidFreed).toBe(true);
    // the process keeps its CPU ASID (only the pin is gone)
    expect(got.ttbrAsidAfter).toBe(got.ctxAsid);
  });
});

describe('a process that exits while bound: release installs the quiet CD, then the unbind at close unpins the ASID; the teardown reaches no SMMU', () => {
  const got: Record<string, number> = {};
  let mm: ReturnType<typeof current>['mm'] = null;
  const run = runMarked(
    function* (u, t) {
      const pid = yield* u.fork(function* (c) {
        const td = yield* Testdev.open(c);
        if (typeof td === 'number') return 10;
        mm = current().mm;
        got.pasid = yield* td.bind();
        got.asid = ASID(mm!);
        got.pinned = mm_context_pinned(mm!);
        // mapped and touched: exit_mmap has PTEs to zap and TLB entries to flush
        const a = yield* mmap(c, 16 * PAGE);
        for (let i = 0; i < 16; i++) c.cpu.st32(a + i * PAGE, i);
        t.mark('exit');
        // exit_mm runs before exit_files: ->release sees the bond still in place
        return 0;
      });
      const [, status] = yield* u.wait(pid);
      t.mark('reaped');
      got.pinnedAfter = mm_context_pinned(mm!);
      got.asidFree = arm_smmu_devices()[0]!.asids.has(got.asid!) ? 0 : 1;
      got.notifiers = mm_has_notifiers(mm!) ? 1 : 0;
      return status >> 8;
    },
    { args: 'iommu_testdev.dma_can_stall=1' },
  );

  it('the CD at the PASID goes quiet (CFGI_CD), the shared ASID is invalidated once, the CD is cleared and the pin dropped', () => {
    expect(run.code).toBe(0);
    expect(got.pinned).toBe(1);
    const cmds = smmuCommands(between(run, 'exit', 'reaped'));
    const cd = cmds.filter((c) => c.aux === CMD_CFGI_CD && cfgiCd(c)[1] === got.pasid);
    const inv = cmds.filter((c) => c.aux === CMD_TLBI_NH_ASID);
    // one invalidation of the shared ASID, by release(); unbind does not repeat it
    expect(inv.map(asidOf)).toEqual([got.asid]);
    // quiet CD before the invalidation, the clear (V=0) after it
    expect(cd.filter((c) => c.index < inv[0]!.index).length).toBeGreaterThan(0);
    expect(cd.filter((c) => c.index > inv[0]!.index).length).toBeGreaterThan(0);
    expect(got.pinnedAfter).toBe(0);
    expect(got.asidFree).toBe(1);
  });

  it('release unlinked the notifier (__mmu_notifier_release): the unmaps and flushes of exit_mmap send no TLBI_NH_VA', () => {
    const cmds = smmuCommands(between(run, 'exit', 'reaped'));
    expect(cmds.filter((c) => c.aux === CMD_TLBI_NH_VA)).toEqual([]);
    expect(got.notifiers).toBe(0);
  });
});
