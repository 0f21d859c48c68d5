// SVA with I/O page faults end to end on the booted board: a process binds its mm to
// the test device (iommu_sva_bind_device: PASID, SVA domain sharing the CPU page
// table) and the device DMAs at the process's virtual addresses. Pages not present
// yet are faulted in by the kernel: the SMMU stalls the transaction (stall model) or
// the device sends a PCIe page request (PRI); the event/PRI thread hands the fault to
// the iopf workqueue, which resolves it through the mm and answers with CMD_RESUME or
// PRI_RESP. Faults with no VMA are answered INVALID; unbind flushes pending faults;
// the MMU notifier turns munmap/madvise of shared pages into SMMU TLB invalidations.

import { describe, expect, it } from 'vitest';
import { TraceKind } from '../../src/trace/record.js';
import { ArmSmmuDomain, arm_smmu_devices, type ArmSmmuDevice } from '../../src/kernel/drivers/iommu/arm-smmu-v3/arm-smmu-v3.js';
import { iommu_get_domain_for_dev_pasid } from '../../src/kernel/drivers/iommu/iommu.js';
import { iopf_stats } from '../../src/kernel/drivers/iommu/io-pgfault.js';
import { ITD_BIND_PRI, ITD_F_NOWAIT, ITD_OP_READ, ITD_OP_WRITE } from '../../src/kernel/drivers/misc/iommu-testdev.js';
import * as NR from '../../src/kernel/syscalls/numbers.js';
import { PAGE, PATTERN, TESTDEV_SID, Testdev, cmdDword, holdsPattern, mmap, munmap, pagePresent, runInit, type DmaResult, type Rec, type SmmuRun } from './kernel-smmu-harness.js';

const STALL = 'iommu_testdev.dma_can_stall=1';
const CMD_RESUME = 0x44;
const CMD_PRI_RESP = 0x41;
const CMD_TLBI_NH_VA = 0x12;
const CMD_TLBI_NH_ASID = 0x11;
const MADV_DONTNEED = 4;

const smmuCmds = (run: SmmuRun, op: number): Rec[] => run.records.filter((r) => r.kind === TraceKind.Command && r.initiator === 'smmu' && r.aux === op);

describe('stall model: a never-touched anonymous page faulted in for the device (IHI 0070 3.12.2, CMD_RESUME)', () => {
  const got: Record<string, unknown> = {};
  let buf = 0;
  const run = runInit(
    function* (u) {
      const td = yield* Testdev.open(u);
      if (typeof td === 'number') return 10;
      got.pasid = yield* td.bind();
      buf = yield* mmap(u, 4 * PAGE);
      got.before = [yield* pagePresent(u, buf), yield* pagePresent(u, buf + PAGE)];
      got.dma = yield* td.svaDma(buf + 8, 2 * PAGE - 8, ITD_OP_WRITE);
      got.after = [yield* pagePresent(u, buf), yield* pagePresent(u, buf + PAGE), yield* pagePresent(u, buf + 2 * PAGE)];
      got.data = holdsPattern(u, buf + 8, 2 * PAGE - 8);
      got.head = u.cpu.ld32(buf);
      // The device reads what the CPU wrote at the same virtual address (now present: no fault)
      for (let i = 0; i < PAGE; i += 4) u.cpu.st32(buf + 2 * PAGE + i, PATTERN);
      got.read = yield* td.svaDma(buf + 2 * PAGE, PAGE, ITD_OP_READ);
      got.iopf = { ...iopf_stats() };
      got.smmu = { ...arm_smmu_devices()[0]!.stats };
      return 0;
    },
    { args: STALL },
  );
  const dma = (): DmaResult => got.dma as DmaResult;

  it('the process gets a PASID; the pages are not present before the DMA and present after; the data is the device pattern', () => {
    expect(run.code).toBe(0);
    expect(got.pasid).toBe(1);
    expect(got.before).toEqual([false, false]);
    expect(dma().ret).toBe(0);
    expect(dma().result).toBe(0);
    expect(got.after).toEqual([true, true, false]);
    expect(got.data).toBe(true);
    expect(got.head).toBe(0);
    expect((got.read as DmaResult).result).toBe(0);
    expect(run.log).toContain('iommu-testdev 0000:00:02.0: bound pid 1 at pasid 1 (stall)');
  });

  it('each page: Stall and its event (STALL, STAG) with SID/SSID/VA, the iopf worker resolves it, CMD_RESUME RETRY with that STAG, then the DMA completes', () => {
    const stalls = run.records.filter((r) => r.kind === TraceKind.Stall);
    expect(stalls.map((r) => [r.sid, r.ssid, Number(r.iova)])).toEqual([
      [TESTDEV_SID, 1, buf + 8],
      [TESTDEV_SID, 1, buf + PAGE],
    ]);
    const resumes = smmuCmds(run, CMD_RESUME);
    expect(resumes.length).toBe(2);
    for (let i = 0; i < 2; i++) {
      const ev = run.records.find((r) => r.kind === TraceKind.Event && r.sid === TESTDEV_SID && Number(r.iova) === Number(stalls[i]!.iova))!;
      expect(ev.aux).toBe(0x10);
      const stag = Number(ev.value);
      const c = resumes[i]!;
      // CMD_RESUME: SID dw0[63:32], RESP dw0[13:12] = 1 (RETRY), STAG dw1[15:0]
      expect(Number(cmdDword(c, 0) >> 32n)).toBe(TESTDEV_SID);
      expect(Number((cmdDword(c, 0) >> 12n) & 3n)).toBe(1);
      expect(Number(cmdDword(c, 1) & 0xffffn)).toBe(stag);
      expect(c.index).toBeGreaterThan(ev.index);
    }
    const done = run.records.filter((r) => r.kind === TraceKind.Completion && r.sid === TESTDEV_SID && r.ssid === 1);
    expect(Number(done[0]!.value)).toBe(0);
    expect(done[0]!.index).toBeGreaterThan(resumes[1]!.index);
    expect(run.records.filter((r) => r.kind === TraceKind.Resume).length).toBe(2);
  });

  it('the driver logs each resolved fault with its latency; debugfs-style counters agree', () => {
    const lines = run.log.filter((l) => l.startsWith('iommu: 0000:00:02.0: iopf pasid 1 '));
    expect(lines.length).toBe(2);
    expect(lines[0]).toMatch(new RegExp(`grpid \\d+ addr 0x${(buf + 8).toString(16)} -> SUCCESS in \\d+ ns$`));
    expect(lines[1]).toMatch(new RegExp(`addr 0x${(buf + PAGE).toString(16)} -> SUCCESS in \\d+ ns$`));
    const s = got.iopf as ReturnType<typeof iopf_stats>;
    expect([s.reported, s.responded, s.success, s.invalid]).toEqual([2, 2, 2, 0]);
    const st = got.smmu as ArmSmmuDevice['stats'];
    expect(st.stallEvents).toBe(2);
    expect(st.resumes).toBe(2);
  });
});

describe('PRI: the device requests the page (PCIe 10.4), the kernel answers PRI_RESP Success', () => {
  const got: Record<string, unknown> = {};
  let buf = 0;
  const run = runInit(function* (u) {
    const td = yield* Testdev.open(u);
    if (typeof td === 'number') return 10;
    got.pasid = yield* td.bind(ITD_BIND_PRI);
    buf = yield* mmap(u, 2 * PAGE);
    got.before = yield* pagePresent(u, buf);
    got.dma = yield* td.svaDma(buf, 2 * PAGE, ITD_OP_WRITE);
    got.data = holdsPattern(u, buf, 2 * PAGE);
    got.smmu = { ...arm_smmu_devices()[0]!.stats };
    return 0;
  });

  it('the pages are faulted in through the PRI queue and the device completes; no stall is involved', () => {
    expect(run.code).toBe(0);
    expect(got.before).toBe(false);
    expect((got.dma as DmaResult).result).toBe(0);
    expect(got.data).toBe(true);
    expect(run.records.some((r) => r.kind === TraceKind.Stall)).toBe(false);
    expect(run.log).toContain('iommu-testdev 0000:00:02.0: bound pid 1 at pasid 1 (PRI)');
  });

  it('each page request (SID, PASID, address, PRG index) gets a PRI_RESP Success for its group, then the device retries', () => {
    const reqs = run.records.filter((r) => r.kind === TraceKind.PageRequest);
    expect(reqs.map((r) => [r.ssid, Number(r.iova)])).toEqual([
      [1, buf],
      [1, buf + PAGE],
    ]);
    const resps = smmuCmds(run, CMD_PRI_RESP);
    expect(resps.length).toBe(2);
    resps.forEach((c, i) => {
      // PRI_RESP: SSV dw0[11], SSID dw0[31:12], SID dw0[63:32]; GRPID dw1[8:0], RESP dw1[13:12] = 2 (success)
      const d0 = cmdDword(c, 0);
      expect(Number((d0 >> 11n) & 1n)).toBe(1);
      expect(Number((d0 >> 12n) & 0xfffffn)).toBe(1);
      expect(Number(d0 >> 32n)).toBe(TESTDEV_SID);
      expect(Number((cmdDword(c, 1) >> 12n) & 3n)).toBe(2);
      expect(Number(cmdDword(c, 1) & 0x1ffn)).toBe(i);
      expect(c.index).toBeGreaterThan(reqs[i]!.index);
    });
    expect(run.records.filter((r) => r.kind === TraceKind.PageResponse).length).toBe(2);
    expect((got.smmu as ArmSmmuDevice['stats']).pageRequests).toBe(2);
  });
});

describe('faults the mm cannot resolve are answered INVALID and the device reports an error', () => {
  const got: Record<string, DmaResult> = {};
  let hole = 0;
  let ro = 0;
  const runStall = runInit(
    function* (u) {
      const td = yield* Testdev.open(u);
      if (typeof td === 'number') return 10;
      yield* td.bind();
      hole = yield* mmap(u, PAGE);
      yield* munmap(u, hole, PAGE);
      got.stallHole = yield* td.svaDma(hole, 64, ITD_OP_WRITE);
      ro = yield* u.sys(NR.__NR_mmap, 0, PAGE, 1, 0x22, -1, 0);
      got.stallReadOnly = yield* td.svaDma(ro, 64, ITD_OP_WRITE);
      // A read of a read-only page is fine (the fault maps the zero page): the device compares and finds zeros
      got.stallReadRo = yield* td.svaDma(ro, 64, ITD_OP_READ);
      return 0;
    },
    { args: STALL },
  );
  const runPri = runInit(function* (u) {
    const td = yield* Testdev.open(u);
    if (typeof td === 'number') return 10;
    yield* td.bind(ITD_BIND_PRI);
    const a = yield* mmap(u, PAGE);
    yield* munmap(u, a, PAGE);
    got.priHole = yield* td.svaDma(a, 64, ITD_OP_WRITE);
    // Invalid Request fails that one group; the function's PRI interface goes on
    const b = yield* mmap(u, PAGE);
    got.priAfter = yield* td.svaDma(b, 64, ITD_OP_WRITE);
    return 0;
  });

  it('stall: no VMA -> INVALID -> CMD_RESUME ABORT -> the write fails (0xdead0002) at that address', () => {
    expect(runStall.code).toBe(0);
    expect(got.stallHole!.result).toBe(0xdead0002);
    expect(got.stallHole!.fault).toBe(hole);
    expect(runStall.log.some((l) => l.includes(`addr 0x${hole.toString(16)} -> INVALID`))).toBe(true);
    const resume = smmuCmds(runStall, CMD_RESUME)[0]!;
    expect(Number((cmdDword(resume, 0) >> 12n) & 3n)).toBe(2);
  });

  it('stall: a write to a read-only VMA is INVALID too; a read of it succeeds (the access is checked against vm_flags)', () => {
    expect(got.stallReadOnly!.result).toBe(0xdead0002);
    expect(runStall.log.some((l) => l.includes(`addr 0x${ro.toString(16)} -> INVALID`))).toBe(true);
    expect(got.stallReadRo!.result).toBe(0xdead0004);
    expect(runStall.log.some((l) => l.includes(`addr 0x${ro.toString(16)} -> SUCCESS`))).toBe(true);
  });

  it('PRI: no VMA -> PRI_RESP Invalid Request -> the device reports a refused page (0xdead0008)', () => {
    expect(runPri.code).toBe(0);
    expect(got.priHole!.result).toBe(0xdead0008);
    const resp = smmuCmds(runPri, CMD_PRI_RESP)[0]!;
    // IHI 0070 4.5.2: Resp 0b01 is InvalidRequest (0b00 would be ResponseFailure)
    expect(Number((cmdDword(resp, 1) >> 12n) & 3n)).toBe(1);
  });

  it('PRI: after Invalid Request the function still requests pages (not Response Failure, which stops its PRI): the next page faults in and the DMA completes', () => {
    expect(got.priAfter!.result).toBe(0);
    expect(smmuCmds(runPri, CMD_PRI_RESP).map((r) => Number((cmdDword(r, 1) >> 12n) & 3n))).toEqual([1, 2]);
  });
});

describe('unbind flushes the pending faults of the PASID', () => {
  const got: Record<string, unknown> = {};
  const run = runInit(
    function* (u) {
      const td = yield* Testdev.open(u);
      if (typeof td === 'number') return 10;
      yield* td.bind();
      const buf = yield* mmap(u, 8 * PAGE);
      got.start = yield* td.svaDma(buf, 8 * PAGE, ITD_OP_WRITE, ITD_F_NOWAIT);
      // Wait until a fault of this transfer sits on the iopf queue, then unbind at once
      let st = yield* td.status();
      for (let i = 0; i < 100000 && st.pending === 0; i++) st = yield* td.status();
      got.pendingAtUnbind = st.pending;
      got.unbind = yield* td.unbind();
      got.afterUnbind = (yield* td.status()).pending;
      // The device is not left stalled: it ends (the retried access after the detach may fail)
      for (let i = 0; i < 100000 && st.result === 0xfffffffe; i++) st = yield* td.status();
      got.final = st.result;
      got.dmaAfter = (yield* td.svaDma(buf, 64, ITD_OP_WRITE)).ret;
      got.iopf = { ...iopf_stats() };
      return 0;
    },
    { args: STALL },
  );

  it('unbind waits for the queued fault to be answered before the PASID is detached; nothing stays pending or stalled', () => {
    expect(run.code).toBe(0);
    expect(got.pendingAtUnbind).toBeGreaterThan(0);
    expect(got.unbind).toBe(0);
    expect(got.afterUnbind).toBe(0);
    const answered = run.log.findIndex((l) => / iopf pasid 1 .* -> (SUCCESS|INVALID)/.test(l));
    const unbound = run.log.indexOf('iommu-testdev 0000:00:02.0: unbound pasid 1, 0 faults pending');
    expect(answered).toBeGreaterThanOrEqual(0);
    expect(unbound).toBeGreaterThan(answered);
    expect(got.final).not.toBe(0xfffffffe);
    expect(run.machine.smmu.stalls.outstanding).toBe(0);
    expect(got.dmaAfter).toBe(-22);
    const s = got.iopf as ReturnType<typeof iopf_stats>;
    expect(s.groups).toBeGreaterThan(0);
    expect(s.responded).toBe(s.groups);
  });
});

describe('MMU notifier: CPU page-table changes of a bound mm invalidate the SMMU TLB (TLBI_NH_VA with the SVA ASID)', () => {
  const got: Record<string, unknown> = {};
  let buf = 0;
  let asid = -1;
  const run = runInit(
    function* (u) {
      const td = yield* Testdev.open(u);
      if (typeof td === 'number') return 10;
      const pasid = yield* td.bind();
      const smmu = arm_smmu_devices()[0]!;
      const dom = iommu_get_domain_for_dev_pasid(smmu.streams.get(TESTDEV_SID)!.dev, pasid);
      asid = dom instanceof ArmSmmuDomain ? dom.asid : -1;
      got.cpuAsid = Number(u.cpu.readSysreg('TTBR0_EL1') >> 48n);
      buf = yield* mmap(u, 4 * PAGE);
      got.first = (yield* td.svaDma(buf, 4 * PAGE, ITD_OP_WRITE)).result;
      // Zap one page: the CPU sees a fresh zero page, and so must the device after its TLBI
      got.dontneed = yield* u.sys(NR.__NR_madvise, buf + PAGE, PAGE, MADV_DONTNEED);
      got.zeroed = u.cpu.ld32(buf + PAGE);
      got.again = (yield* td.svaDma(buf + PAGE, PAGE, ITD_OP_WRITE)).result;
      got.refilled = holdsPattern(u, buf + PAGE, PAGE);
      got.unmap = yield* munmap(u, buf + 2 * PAGE, 2 * PAGE);
      got.gone = (yield* td.svaDma(buf + 2 * PAGE, 64, ITD_OP_WRITE)).result;
      return 0;
    },
    { args: STALL },
  );

  function tlbisFor(va: number, len: number): Rec[] {
    return smmuCmds(run, CMD_TLBI_NH_VA).filter((c) => {
      const a = Number(cmdDword(c, 1) & ~0xfffn);
      return Number(cmdDword(c, 0) >> 48n) === asid && a >= va && a < va + len;
    });
  }

  it('the SVA domain uses the process CPU ASID (TTBR0_EL1.ASID); every DMA step succeeds', () => {
    expect(run.code).toBe(0);
    expect(asid).toBeGreaterThan(0);
    expect(asid).toBe(got.cpuAsid);
    expect(got.first).toBe(0);
    expect(got.dontneed).toBe(0);
    expect(got.zeroed).toBe(0);
    expect(got.again).toBe(0);
    expect(got.refilled).toBe(true);
    expect(got.unmap).toBe(0);
  });

  it('madvise(MADV_DONTNEED) sends TLBI_NH_VA for that VA; the re-faulted page gets the device data (no stale IOTLB entry)', () => {
    expect(tlbisFor(buf + PAGE, PAGE).length).toBeGreaterThanOrEqual(1);
    // A second stall at that page after the zap: the SMMU walked again
    const stalls = run.records.filter((r) => r.kind === TraceKind.Stall && Number(r.iova) === buf + PAGE);
    expect(stalls.length).toBe(2);
  });

  it('munmap of two pages sends one range TLBI_NH_VA (RIL: NUM=0, SCALE=1, TG=4K, non-leaf) at their start and no TLBI_NH_ASID; the device then gets INVALID there', () => {
    // between the completion of the refill DMA and that of the DMA after munmap
    const done = run.records.filter((r) => r.kind === TraceKind.Completion && r.sid === TESTDEV_SID);
    const inWindow = (c: Rec): boolean => c.index > done[1]!.index && c.index < done[2]!.index;
    const va = smmuCmds(run, CMD_TLBI_NH_VA).filter(inWindow);
    expect(va.map((c) => [Number(cmdDword(c, 0) >> 48n), Number((cmdDword(c, 0) >> 12n) & 31n), Number((cmdDword(c, 0) >> 20n) & 31n), Number((cmdDword(c, 1) >> 10n) & 3n), Number(cmdDword(c, 1) & 1n), Number(cmdDword(c, 1) & ~0xfffn)])).toEqual([[asid, 0, 1, 1, 0, buf + 2 * PAGE]]);
    expect(smmuCmds(run, CMD_TLBI_NH_ASID).filter(inWindow)).toEqual([]);
    expect(got.gone).toBe(0xdead0002);
  });
});

describe('PASID lifetime: one global PASID per mm, returned when the mm is freed (mm_pasid_drop at __mmdrop)', () => {
  const pasids: number[] = [];
  const run = runInit(
    function* (u) {
      for (let i = 0; i < 2; i++) {
        const pid = yield* u.fork(function* (c) {
          const td = yield* Testdev.open(c);
          if (typeof td === 'number') return 10;
          const p = yield* td.bind();
          // The child exits still bound: release unbinds, exit frees the mm
          return p;
        });
        const [, status] = yield* u.wait(pid);
        pasids.push((status >> 8) & 0xff);
      }
      const td = yield* Testdev.open(u);
      if (typeof td === 'number') return 10;
      pasids.push(yield* td.bind());
      const again = yield* Testdev.open(u);
      if (typeof again === 'number') return 11;
      // A second bond of the same mm (another file) shares the mm's PASID
      pasids.push(yield* again.bind());
      return 0;
    },
    { args: STALL },
  );

  it('two processes in turn get PASID 1 (the first was freed with its mm); two bonds of one mm share its PASID', () => {
    expect(run.code).toBe(0);
    expect(pasids).toEqual([1, 1, 1, 1]);
  });
});
