// Pages an SVA device uses move under it, and the IOMMU follows (issue 3: "every move
// or unmap ... calls MMU notifiers ... so an IOMMU can follow"). A process binds its mm
// to the test device (stall model) and the device DMAs at its virtual addresses; then
// the kernel moves one of those pages — explicit migration (migrate_pages, as
// move_pages(2) does), compaction (/proc/sys/vm/compact_memory) — or swaps it out
// (MADV_PAGEOUT through vmscan). Each time the MMU notifier makes arm-smmu-v3 send
// TLBI_NH_VA with the process's ASID for that page while the PTE changes; the device's
// next DMA walks the page tables again and reaches the new physical page (data
// correct), or, for the swapped page, stalls, is faulted back in by the I/O page-fault
// path (do_swap_page) and completes with the data that was swapped out.

import { describe, expect, it } from 'vitest';
import { ArmSmmuDomain, arm_smmu_devices } from '../../src/kernel/drivers/iommu/arm-smmu-v3/arm-smmu-v3.js';
import { iommu_get_domain_for_dev_pasid } from '../../src/kernel/drivers/iommu/iommu.js';
import { ITD_OP_READ, ITD_OP_WRITE } from '../../src/kernel/drivers/misc/iommu-testdev.js';
import { global_page_state } from '../../src/kernel/mm/vmstat.js';
import * as NR from '../../src/kernel/syscalls/numbers.js';
import { TraceKind } from '../../src/trace/record.js';
import { PAGE, PATTERN, TESTDEV_SID, Testdev, cmdDword, holdsPattern, mmap, pagePresent, runInit, type Rec, type SmmuRun } from './kernel-smmu-harness.js';
import type { UserCtx } from '../support/kernel-user.js';
import { followUserPte, pfnAt, migrateUserPage } from '../support/user-pages.js';

const STALL = 'iommu_testdev.dma_can_stall=1';
const CMD_TLBI_NH_VA = 0x12;
const CMD_TLBI_NH_ASID = 0x11;
const CMD_RESUME = 0x44;
const MADV_DONTNEED = 4;
const MADV_PAGEOUT = 21;



function fill(u: UserCtx, va: number, len: number, v: number): void {
  for (let i = 0; i < len; i += 4) u.cpu.st32(va + i, v);
}

/** The SVA domain's ASID of the bound process (the CPU ASID it shares). */
function svaAsid(pasid: number): number {
  const smmu = arm_smmu_devices()[0]!;
  const dom = iommu_get_domain_for_dev_pasid(smmu.streams.get(TESTDEV_SID)!.dev, pasid);
  return dom instanceof ArmSmmuDomain ? dom.asid : -1;
}

const smmuCmds = (run: SmmuRun, op: number): Rec[] => run.records.filter((r) => r.kind === TraceKind.Command && r.initiator === 'smmu' && r.aux === op);

/** TLBI_NH_VA with `asid` whose address lies in [va, va+len), consumed in [t0, t1]; plus TLBI_NH_ASID of `asid` then. */
function tlbis(run: SmmuRun, asid: number, va: number, len: number, t0: number, t1: number): { va: Rec[]; asid: Rec[] } {
  const inTime = (c: Rec): boolean => c.timeNs >= t0 && c.timeNs <= t1;
  return {
    va: smmuCmds(run, CMD_TLBI_NH_VA).filter((c) => {
      const a = Number(cmdDword(c, 1) & ~0xfffn);
      return inTime(c) && Number(cmdDword(c, 0) >> 48n) === asid && a >= va && a < va + len;
    }),
    asid: smmuCmds(run, CMD_TLBI_NH_ASID).filter((c) => inTime(c) && Number(cmdDword(c, 0) >> 48n) === asid),
  };
}

describe('explicit migration of a page the device has cached in its IOTLB', () => {
  const got: Record<string, number | boolean> = {};
  const run = runInit(
    function* (u) {
      const td = yield* Testdev.open(u);
      if (typeof td === 'number') return 10;
      const pasid = yield* td.bind();
      got.asid = svaAsid(pasid);
      const buf = yield* mmap(u, 4 * PAGE);
      got.buf = buf;
      fill(u, buf, 4 * PAGE, 0);
      got.first = (yield* td.svaDma(buf, 4 * PAGE, ITD_OP_WRITE)).result; // the SMMU caches all four translations
      fill(u, buf + PAGE, PAGE, 0); // page 1 back to zeros: only a DMA that reaches it writes the pattern again
      got.oldPfn = pfnAt(buf + PAGE);
      got.t0 = u.cpu.now();
      got.failed = migrateUserPage(buf + PAGE);
      got.t1 = u.cpu.now();
      got.newPfn = pfnAt(buf + PAGE);
      got.zeros = u.cpu.ld32(buf + PAGE) === 0 && u.cpu.ld32(buf + 2 * PAGE) === PATTERN;
      got.second = (yield* td.svaDma(buf + PAGE, PAGE, ITD_OP_WRITE)).result;
      got.t2 = u.cpu.now();
      got.data = holdsPattern(u, buf + PAGE, PAGE);
      return 0;
    },
    { args: STALL },
  );

  it('the page moves (new PFN, data intact) and the notifier sends TLBI_NH_VA with the process ASID for it during the move', () => {
    expect(run.code).toBe(0);
    expect(got.first).toBe(0);
    expect(got.failed).toBe(0);
    expect(got.newPfn).not.toBe(got.oldPfn);
    expect(got.zeros).toBe(true);
    const t = tlbis(run, got.asid as number, (got.buf as number) + PAGE, PAGE, got.t0 as number, got.t1 as number);
    expect(t.va.length + t.asid.length).toBeGreaterThanOrEqual(1);
    expect(t.va.length).toBeGreaterThanOrEqual(1);
  });

  it('the next DMA misses the IOTLB, walks to the new page without a fault, and its data lands there', () => {
    const va = (got.buf as number) + PAGE;
    const after = run.records.filter((r) => r.timeNs > (got.t1 as number) && r.timeNs <= (got.t2 as number) && Number(r.iova) === va);
    expect(after.some((r) => r.kind === TraceKind.IotlbMiss && r.sid === TESTDEV_SID)).toBe(true);
    expect(after.some((r) => r.kind === TraceKind.Stall)).toBe(false);
    expect(got.second).toBe(0);
    expect(got.data).toBe(true);
  });
});

describe('compaction moves pages a bound device uses', () => {
  const got: Record<string, unknown> = {};
  const N = 64;
  const run = runInit(
    function* (u) {
      const td = yield* Testdev.open(u);
      if (typeof td === 'number') return 10;
      got.asid = svaAsid(yield* td.bind());
      const buf = yield* mmap(u, N * PAGE);
      got.buf = buf;
      for (let i = 0; i < N; i++) u.cpu.st32(buf + i * PAGE, i);
      got.first = (yield* td.svaDma(buf, N * PAGE, ITD_OP_WRITE)).result;
      // free every other page so compaction has holes to fill; the device touches each
      // kept page last (its translation is in the IOTLB), then the CPU zeroes it
      for (let i = 0; i < N; i += 2) yield* u.sys(NR.__NR_madvise, buf + i * PAGE, PAGE, MADV_DONTNEED);
      for (let i = 1; i < N; i += 2) if ((yield* td.svaDma(buf + i * PAGE, PAGE, ITD_OP_WRITE)).result !== 0) return 11;
      for (let i = 1; i < N; i += 2) fill(u, buf + i * PAGE, PAGE, 0);
      const before = [...Array(N).keys()].map((i) => (i % 2 ? pfnAt(buf + i * PAGE) : -1));
      const fd = yield* u.sys(NR.__NR_openat, -100, u.str('/proc/sys/vm/compact_memory'), 1, 0);
      got.t0 = u.cpu.now();
      got.compact = yield* u.write(fd, '1\n');
      got.t1 = u.cpu.now();
      const after = [...Array(N).keys()].map((i) => (i % 2 ? pfnAt(buf + i * PAGE) : -1));
      got.moved = [...Array(N).keys()].filter((i) => i % 2 === 1 && after[i] !== before[i]);
      let second = 0;
      for (let i = 1; i < N; i += 2) second |= (yield* td.svaDma(buf + i * PAGE, PAGE, ITD_OP_WRITE)).result;
      got.second = second;
      got.t2 = u.cpu.now();
      got.data = [...Array(N).keys()].filter((i) => i % 2 === 1).every((i) => holdsPattern(u, buf + i * PAGE, PAGE));
      return 0;
    },
    { args: STALL },
  );

  it('compaction moves pages of the bound range and each move sends TLBI_NH_VA (or NH_ASID) for that page', () => {
    expect(run.code).toBe(0);
    expect(got.first).toBe(0);
    expect(got.compact).toBe(2);
    const moved = got.moved as number[];
    expect(moved.length).toBeGreaterThan(0);
    const buf = got.buf as number;
    for (const i of moved) {
      const t = tlbis(run, got.asid as number, buf + i * PAGE, PAGE, got.t0 as number, got.t1 as number);
      expect(t.va.length + t.asid.length).toBeGreaterThanOrEqual(1);
    }
  });

  it('the next DMA to each moved page misses the IOTLB (no fault: the PTE is valid) and its data lands in the new page', () => {
    const buf = got.buf as number;
    for (const i of got.moved as number[]) {
      const after = run.records.filter((r) => r.timeNs > (got.t1 as number) && r.timeNs <= (got.t2 as number) && Number(r.iova) === buf + i * PAGE);
      expect(after.some((r) => r.kind === TraceKind.IotlbMiss)).toBe(true);
      expect(after.some((r) => r.kind === TraceKind.Stall)).toBe(false);
    }
    expect(got.second).toBe(0);
    expect(got.data).toBe(true);
  });
});

describe('a page the device uses is swapped out and comes back through an I/O page fault', () => {
  const got: Record<string, number | boolean> = {};
  const run = runInit(
    function* (u) {
      const td = yield* Testdev.open(u);
      if (typeof td === 'number') return 10;
      got.asid = svaAsid(yield* td.bind());
      const buf = yield* mmap(u, 4 * PAGE);
      got.buf = buf;
      fill(u, buf, 4 * PAGE, 1);
      fill(u, buf + 2 * PAGE, PAGE, PATTERN);
      got.first = (yield* td.svaDma(buf + 2 * PAGE, PAGE, ITD_OP_READ)).result; // the device reads the CPU's data
      const pswpin = global_page_state('pswpin');
      got.t0 = u.cpu.now();
      got.pageout = yield* u.sys(NR.__NR_madvise, buf + 2 * PAGE, PAGE, MADV_PAGEOUT);
      got.t1 = u.cpu.now();
      const pte = followUserPte(buf + 2 * PAGE);
      got.swapped = pte.pfn < 0 && pte.swapOffset > 0;
      got.presentBefore = yield* pagePresent(u, buf + 2 * PAGE);
      got.second = (yield* td.svaDma(buf + 2 * PAGE, PAGE, ITD_OP_READ)).result; // data compared by the device
      got.t2 = u.cpu.now();
      got.swapins = global_page_state('pswpin') - pswpin;
      got.presentAfter = yield* pagePresent(u, buf + 2 * PAGE);
      got.cpuSees = u.cpu.ld32(buf + 2 * PAGE + 100) === PATTERN;
      return 0;
    },
    { args: STALL },
  );

  it('MADV_PAGEOUT swaps the page out and the notifier sends TLBI_NH_VA for it', () => {
    expect(run.code).toBe(0);
    expect(got.first).toBe(0);
    expect(got.pageout).toBe(0);
    expect(got.swapped).toBe(true);
    expect(got.presentBefore).toBe(false);
    const t = tlbis(run, got.asid as number, (got.buf as number) + 2 * PAGE, PAGE, got.t0 as number, got.t1 as number);
    expect(t.va.length).toBeGreaterThanOrEqual(1);
  });

  it('the device then stalls on it, the IOPF path swaps it back in (a major fault), CMD_RESUME RETRY, and the device reads the swapped-out data', () => {
    const va = (got.buf as number) + 2 * PAGE;
    const t1 = got.t1 as number;
    const t2 = got.t2 as number;
    const stalls = run.records.filter((r) => r.kind === TraceKind.Stall && Number(r.iova) === va && r.timeNs > t1 && r.timeNs <= t2);
    expect(stalls.length).toBe(1);
    const resumes = smmuCmds(run, CMD_RESUME).filter((c) => c.timeNs > stalls[0]!.timeNs && c.timeNs <= t2);
    expect(resumes.length).toBe(1);
    expect(Number((cmdDword(resumes[0]!, 0) >> 12n) & 3n)).toBe(1); // RETRY
    expect(run.log).toContainEqual(expect.stringMatching(new RegExp(`iopf pasid \\d+ grpid \\d+ addr 0x${va.toString(16)} -> SUCCESS`)));
    expect(got.swapins).toBe(1);
    expect(got.second).toBe(0);
    expect(got.presentAfter).toBe(true);
    expect(got.cpuSees).toBe(true);
  });
});
