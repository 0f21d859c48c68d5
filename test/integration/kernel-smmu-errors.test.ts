// Error paths of the arm-smmu-v3 driver on the booted board: a command the driver
// should never have built (a reserved opcode written through the svasoc debugfs
// hook inject_cmd, the way a driver bug would) stops the command queue with
// CERROR_ILL and GERROR.CMDQ_ERR, and the GERROR handler recovers as Linux does; a
// fault storm overflows a shrunk event queue and the event thread reports the loss,
// acknowledges OVFLG and keeps going; a page request group larger than a shrunk PRI
// queue overflows it and the PRI thread does the same; removing the test device's driver while a
// fault is pending answers it INVALID (iopf_queue_remove_device).

import { describe, expect, it } from 'vitest';
import { TraceKind } from '../../src/trace/record.js';
import { arm_smmu_devices } from '../../src/kernel/drivers/iommu/arm-smmu-v3/arm-smmu-v3.js';
import { ITD_BIND_PRI, ITD_F_NOWAIT, ITD_F_UNMAP_FIRST, ITD_OP_WRITE } from '../../src/kernel/drivers/misc/iommu-testdev.js';
import * as NR from '../../src/kernel/syscalls/numbers.js';
import { iommu_get_domain_for_dev_pasid, iommu_release_device } from '../../src/kernel/drivers/iommu/iommu.js';
import { iopf_partial_faults, iopf_pending_groups, iopf_stats } from '../../src/kernel/drivers/iommu/io-pgfault.js';
import { PAGE, TESTDEV_SID, Testdev, cmdDword, holdsPattern, mmap, runInit, type DmaResult, type SmmuRun } from './kernel-smmu-harness.js';
import type { UserCtx } from '../support/kernel-user.js';
import { pci_get_device } from '../../src/kernel/drivers/pci/pci.js';
import { device_release_driver } from '../../src/kernel/drivers/base/core.js';

const O_WRONLY = 1;
const CMD_SYNC = 0x46;

function* writeFile(u: UserCtx, path: string, text: string): Generator<unknown, number, unknown> {
  const fd = yield* u.sys(NR.__NR_openat, -100, u.str(path), O_WRONLY, 0);
  if (fd < 0) return fd;
  const r = yield* u.sys(NR.__NR_write, fd, u.str(text), text.length);
  yield* u.sys(NR.__NR_close, fd);
  return r;
}

/** A struct timespec of `ns` nanoseconds (< 1 s) in user memory. */
function timespec(u: UserCtx, ns: number): number {
  const ts = u.alloc(16);
  u.cpu.st64(ts, 0);
  u.cpu.st64(ts + 8, ns);
  return ts;
}

const smmuCmds = (run: SmmuRun): { op: number; pa: number; d0: bigint }[] =>
  run.records.filter((r) => r.kind === TraceKind.Command && r.initiator === 'smmu').map((r) => ({ op: Number(r.aux), pa: Number(r.pa), d0: cmdDword(r, 0) }));

describe('GERROR.CMDQ_ERR recovery in the booted kernel (IHI 0070 7.1, 6.3.26 CMDQ_CONS.ERR)', () => {
  const got: Record<string, unknown> = {};
  const run = runInit(function* (u) {
    const smmu = arm_smmu_devices()[0]!;
    got.gerrorsBefore = smmu.stats.gerrors;
    // Opcode 0x7f is reserved: CERROR_ILL (IHI 0070 4.1.3)
    got.inject = yield* writeFile(u, `/sys/kernel/debug/iommu/${smmu.name}/inject_cmd`, '0x0000007f 0xdeadbeef');
    got.gerrorsAfter = smmu.stats.gerrors;
    got.bad = yield* writeFile(u, `/sys/kernel/debug/iommu/${smmu.name}/inject_cmd`, 'nonsense');
    const td = yield* Testdev.open(u);
    if (typeof td === 'number') return 10;
    const buf = yield* mmap(u, PAGE);
    got.dma = yield* td.dma(buf, PAGE, ITD_OP_WRITE);
    got.smmu = { ...smmu.stats };
    return 0;
  });

  it('the illegal command is reported: GERROR logged, CONS.ERR = CERROR_ILL named, the bad entry dumped', () => {
    expect(run.code).toBe(0);
    expect(got.inject).toBeGreaterThan(0);
    expect(got.gerrorsAfter).toBe((got.gerrorsBefore as number) + 1);
    const i = run.log.findIndex((l) => /unexpected global error reported \(0x00000001\), this could be serious/.test(l));
    expect(i).toBeGreaterThanOrEqual(0);
    expect(run.log.some((l) => /CMDQ error \(cons 0x01[0-9a-f]{6}\): Illegal command/.test(l))).toBe(true);
    const k = run.log.findIndex((l) => /skipping command in error state:/.test(l));
    expect(k).toBeGreaterThan(i);
    expect(run.log.slice(k, k + 3).join(' ')).toContain('0xdeadbeef0000007f');
  });

  it('the bad entry is replaced by CMD_SYNC and the queue continues: the sync slot after it completes, later commands complete', () => {
    const cmds = smmuCmds(run);
    // The SMMU fetched opcode 0x7f and stopped; after GERRORN was acknowledged it
    // re-read the same slot, now a CMD_SYNC written by the handler, and went on
    const bad = cmds.findIndex((c) => c.op === 0x7f);
    expect(bad).toBeGreaterThanOrEqual(0);
    expect(cmds[bad]!.d0).toBe(0xdeadbeef0000007fn);
    expect(cmds[bad + 1]!.op).toBe(CMD_SYNC);
    expect(cmds[bad + 1]!.pa).toBe(cmds[bad]!.pa);
    // then the injected command's own CMD_SYNC in the next slot
    expect(cmds[bad + 2]!.op).toBe(CMD_SYNC);
    expect(cmds[bad + 2]!.pa).toBe(cmds[bad]!.pa + 16);
    expect(cmds.filter((c) => c.op === 0x7f).length).toBe(1);
    const dma = got.dma as DmaResult;
    expect(dma.ret).toBe(0);
    expect(dma.result).toBe(0);
    // the DMA's map/unmap invalidations and syncs were consumed after the recovery
    expect(cmds.length).toBeGreaterThan(bad + 3);
    expect((got.smmu as { gerrors: number }).gerrors).toBe(got.gerrorsAfter);
  });

  it('the hook takes only 1-4 hex words (-EINVAL otherwise)', () => {
    expect(got.bad).toBe(-22);
  });
});

describe('event queue overflow under a fault storm (IHI 0070 7.4: PROD.OVFLG, CONS.OVACKFLG)', () => {
  const EVTQ_ENTRIES = 4;
  const STORM = 10;
  const got: Record<string, unknown> = {};
  const run = runInit(
    function* (u) {
      const smmu = arm_smmu_devices()[0]!;
      const dir = `/sys/kernel/debug/iommu/${smmu.name}`;
      const td = yield* Testdev.open(u);
      if (typeof td === 'number') return 10;
      const buf = yield* mmap(u, PAGE);
      // The event thread cannot run while the storm lasts: every DMA hits an unmapped IOVA (F_TRANSLATION, CD.R=1)
      got.hold = yield* writeFile(u, `${dir}/evtq_irq`, '0');
      const results: number[] = [];
      for (let i = 0; i < STORM; i++) results.push((yield* td.dma(buf, 64, ITD_OP_WRITE, ITD_F_UNMAP_FIRST)).result);
      got.results = results;
      got.eventsDuringStorm = smmu.stats.events;
      got.release = yield* writeFile(u, `${dir}/evtq_irq`, '1');
      // let the event thread run
      yield* u.sys(NR.__NR_nanosleep, timespec(u, 2_000_000), 0);
      got.afterStorm = { ...smmu.stats };
      // The queue keeps working: one more fault is received and reported
      got.late = yield* td.dma(buf, 64, ITD_OP_WRITE, ITD_F_UNMAP_FIRST);
      yield* u.sys(NR.__NR_nanosleep, timespec(u, 2_000_000), 0);
      got.final = { ...smmu.stats };
      return 0;
    },
    { args: `arm_smmu_v3.evtq_max_n_shift=2` },
  );
  it('the shrunk queue holds 4 records', () => {
    expect(run.code).toBe(0);
    expect(run.log).toContain(`arm-smmu-v3 9050000.smmuv3: allocated ${EVTQ_ENTRIES} entries for evtq`);
  });
  it('the storm: every DMA aborts (0xdead0002) and no event is handled while the interrupt is held', () => {
    expect(got.hold).toBeGreaterThan(0);
    expect(got.results).toEqual(Array(STORM).fill(0xdead0002));
  });
  it('the event thread reports the overflow once, handles the records the queue kept, and acknowledges OVFLG in CONS.OVACKFLG', () => {
    const before = got.eventsDuringStorm as number;
    const after = got.afterStorm as { events: number; evtqOverflows: number };
    expect(after.evtqOverflows).toBe(1);
    expect(after.events - before).toBe(EVTQ_ENTRIES);
    expect(run.log.filter((l) => l === 'arm-smmu-v3 9050000.smmuv3: EVTQ overflow detected -- events lost').length).toBe(1);
    const smmu = arm_smmu_devices()[0]!;
    const prod = run.machine.bus.read32(smmu.base + 0x100a8);
    const cons = run.machine.bus.read32(smmu.base + 0x100ac);
    expect(prod >>> 31).toBe(1);
    expect(cons >>> 31).toBe(prod >>> 31);
  });
  it('after the overflow the queue keeps delivering: a later fault is received and logged', () => {
    const after = got.afterStorm as { events: number };
    const fin = got.final as { events: number; evtqOverflows: number };
    expect((got.late as DmaResult).result).toBe(0xdead0002);
    expect(fin.events).toBe(after.events + 1);
    expect(fin.evtqOverflows).toBe(1);
  });
});

describe('PRI queue overflow: a page request group larger than the queue the driver chose (IHI 0070 8.1, 8.1.1)', () => {
  const got: Record<string, unknown> = {};
  const run = runInit(
    function* (u) {
      const smmu = arm_smmu_devices()[0]!;
      const pdev = pci_get_device(0x1b36, 0x0005)!;
      const td = yield* Testdev.open(u);
      if (typeof td === 'number') return 10;
      got.pasid = yield* td.bind(ITD_BIND_PRI);
      const buf = yield* mmap(u, 8 * PAGE);
      // four pages not present: one group of four requests into a two-entry PRI queue
      got.first = yield* td.svaDma(buf, 4 * PAGE, ITD_OP_WRITE);
      got.afterFirst = { ...smmu.stats };
      got.partial = iopf_partial_faults(pdev);
      // a group that fits the queue goes through the whole fault path
      got.second = yield* td.svaDma(buf + 4 * PAGE, 2 * PAGE, ITD_OP_WRITE);
      got.data = holdsPattern(u, buf + 4 * PAGE, 2 * PAGE);
      got.final = { ...smmu.stats };
      return 0;
    },
    { args: 'arm_smmu_v3.priq_max_n_shift=1 iommu_testdev.pri_pages=4' },
  );
  it('the driver allocated a 2-entry PRI queue; the device was given more credits than that', () => {
    expect(run.code).toBe(0);
    expect(run.log).toContain('arm-smmu-v3 9050000.smmuv3: allocated 2 entries for priq');
    expect(got.pasid).toBeGreaterThan(0);
  });
  it('the PRI thread reports the overflow once, drops the two requests whose Last was lost, and acknowledges OVFLG in CONS.OVACKFLG', () => {
    const after = got.afterFirst as { pageRequests: number; priqOverflows: number; priResps: number };
    expect(after.priqOverflows).toBe(1);
    expect(after.pageRequests).toBe(2);
    expect(after.priResps).toBe(0); // the group had no Last entry in the queue: nothing to answer (the SMMU answered it)
    expect(got.partial).toBe(0);
    expect(run.log.filter((l) => l === 'arm-smmu-v3 9050000.smmuv3: PRIQ overflow detected -- requests lost').length).toBe(1);
    const smmu = arm_smmu_devices()[0]!;
    const prod = run.machine.bus.read32(smmu.base + 0x100c8);
    const cons = run.machine.bus.read32(smmu.base + 0x100cc);
    expect(prod >>> 31).toBe(1);
    expect(cons >>> 31).toBe(prod >>> 31);
  });
  it('the device got the automatic Success, retried, still faulted on the first page and reported the error there', () => {
    expect((got.first as DmaResult).result).toBe(0xdead0002);
    const resps = run.records.filter((r) => r.kind === TraceKind.PageResponse);
    expect(resps[0]!.ssid).toBe(got.pasid);
    expect(Number(resps[0]!.value)).toBe(0);
  });
  it('after the overflow the queue keeps delivering: a two-page group is faulted in and answered PRI_RESP Success', () => {
    const fin = got.final as { pageRequests: number; priqOverflows: number; priResps: number };
    expect((got.second as DmaResult).result).toBe(0);
    expect(got.data).toBe(true);
    expect(fin.pageRequests).toBe(4);
    expect(fin.priResps).toBe(1);
    expect(fin.priqOverflows).toBe(1);
  });
});

describe('device removal with a fault pending (iommu_release_device -> arm_smmu_release_device -> iopf_queue_remove_device)', () => {
  const got: Record<string, unknown> = {};
  const run = runInit(
    function* (u) {
      const td = yield* Testdev.open(u);
      if (typeof td === 'number') return 10;
      yield* td.bind();
      const buf = yield* mmap(u, 8 * PAGE);
      const smmu = arm_smmu_devices()[0]!;
      const dev = smmu.streams.get(TESTDEV_SID)!.dev;
      // The function goes away (the bus notifier's BUS_NOTIFY_REMOVED_DEVICE) right after
      // its first fault was queued for the iopf worker and before the worker answers it
      const domain = iommu_get_domain_for_dev_pasid(dev, 1)!;
      const handler = domain.iopfHandler!;
      domain.iopfHandler = (group) => {
        const r = handler(group);
        got.pendingAtRemoval = iopf_pending_groups(dev);
        got.iopfBefore = { ...iopf_stats() };
        iommu_release_device(dev);
        got.pendingAfter = iopf_pending_groups(dev);
        got.iopfAfter = { ...iopf_stats() };
        domain.iopfHandler = handler;
        return r;
      };
      got.start = yield* td.svaDma(buf, 8 * PAGE, ITD_OP_WRITE, ITD_F_NOWAIT);
      let st = yield* td.status();
      for (let i = 0; i < 100000 && got.iopfAfter === undefined; i++) st = yield* td.status();
      got.streamGone = smmu.streams.has(TESTDEV_SID) === false;
      // The stalled transaction was terminated: the device ends with an error, not BUSY
      for (let i = 0; i < 100000 && st.result === 0xfffffffe; i++) st = yield* td.status();
      got.final = st.result;
      return 0;
    },
    { args: 'iommu_testdev.dma_can_stall=1' },
  );
  it('the outstanding fault is answered INVALID (CMD_RESUME ABORT for a stall), nothing stays pending or stalled, the DMA ends in error', () => {
    expect(run.code).toBe(0);
    expect(got.pendingAtRemoval).toBeGreaterThan(0);
    const before = got.iopfBefore as ReturnType<typeof iopf_stats>;
    const after = got.iopfAfter as ReturnType<typeof iopf_stats>;
    expect(after.invalid - before.invalid).toBe(got.pendingAtRemoval);
    expect(got.pendingAfter).toBe(0);
    expect(got.streamGone).toBe(true);
    expect(run.machine.smmu.stalls.outstanding).toBe(0);
    // CMD_RESUME with RESP = ABORT (dw0[13:12] = 2) for the stalled STAG
    const resumes = run.records.filter((r) => r.kind === TraceKind.Command && r.initiator === 'smmu' && r.aux === 0x44);
    expect(resumes.length).toBeGreaterThan(0);
    expect(Number((cmdDword(resumes[resumes.length - 1]!, 0) >> 12n) & 3n)).toBe(2);
    expect(got.final).not.toBe(0xfffffffe);
    expect(got.final).not.toBe(0);
  });
});

describe('removal of a stall master whose stall the driver has not seen yet: CMD_STALL_TERM (IHI 0070 4.7.3, 7.2.1)', () => {
  const got: Record<string, unknown> = {};
  const run = runInit(
    function* (u) {
      const smmu = arm_smmu_devices()[0]!;
      const dir = `/sys/kernel/debug/iommu/${smmu.name}`;
      const td = yield* Testdev.open(u);
      if (typeof td === 'number') return 10;
      yield* td.bind();
      const buf = yield* mmap(u, 2 * PAGE);
      // The stall's record is written but evtq_thread does not run: no STAG reaches the driver
      yield* writeFile(u, `${dir}/evtq_irq`, '0');
      got.start = yield* td.svaDma(buf, PAGE, ITD_OP_WRITE, ITD_F_NOWAIT);
      yield* u.sys(NR.__NR_nanosleep, timespec(u, 1_000_000), 0);
      const dev = smmu.streams.get(TESTDEV_SID)!.dev;
      got.busyBefore = (yield* td.status()).result;
      got.pendingBefore = iopf_pending_groups(dev);
      iommu_release_device(dev);
      let st = yield* td.status();
      for (let i = 0; i < 1000 && st.result === 0xfffffffe; i++) st = yield* td.status();
      got.final = st.result;
      // The record is read late and names a stream the driver no longer has
      yield* writeFile(u, `${dir}/evtq_irq`, '1');
      yield* u.sys(NR.__NR_nanosleep, timespec(u, 1_000_000), 0);
      return 0;
    },
    { args: 'iommu_testdev.dma_can_stall=1' },
  );
  it('the driver knew no fault; STALL_TERM with the SID ends the stall, the device DMA ends in error, no stall is left', () => {
    expect(run.code).toBe(0);
    expect(got.busyBefore).toBe(0xfffffffe);
    expect(got.pendingBefore).toBe(0);
    const cmds = run.records.filter((r) => r.kind === TraceKind.Command && r.initiator === 'smmu');
    const term = cmds.filter((r) => r.aux === 0x45);
    expect(term.length).toBe(1);
    // CMD_STALL_TERM: StreamID dw0[63:32]
    expect(Number(cmdDword(term[0]!, 0) >> 32n)).toBe(TESTDEV_SID);
    // and a CMD_SYNC after it
    expect(cmds[cmds.indexOf(term[0]!) + 1]!.aux).toBe(CMD_SYNC);
    expect(cmds.some((r) => r.aux === 0x44)).toBe(false);
    expect(run.machine.smmu.stalls.outstanding).toBe(0);
    expect(got.final).not.toBe(0xfffffffe);
    expect(got.final).not.toBe(0);
    expect(run.log.some((l) => /F_TRANSLATION sid 0x10 ssid 0x1/.test(l))).toBe(true);
  });
});

describe('driver unbind with an SVA bond still open (remove drops the bonds and disables I/O page faults, as uacce_remove does)', () => {
  const got: Record<string, unknown> = {};
  const run = runInit(function* (u) {
    const td = yield* Testdev.open(u);
    if (typeof td === 'number') return 10;
    got.pasid = yield* td.bind();
    const pdev = pci_get_device(0x1b36, 0x0005)!;
    got.bondBefore = iommu_get_domain_for_dev_pasid(pdev, got.pasid as number) !== null;
    yield* device_release_driver(pdev);
    got.bondAfter = iommu_get_domain_for_dev_pasid(pdev, got.pasid as number) !== null;
    // the open file now finds no device: another bind fails, close still works
    got.rebind = yield* td.bind();
    got.close = yield* td.close();
    return 0;
  });
  it('the PASID is detached from the device at remove, and the stale file gets an error instead of a bond', () => {
    expect(run.code).toBe(0);
    expect(got.pasid).toBeGreaterThan(0);
    expect(got.bondBefore).toBe(true);
    expect(got.bondAfter).toBe(false);
    expect(got.rebind as number).toBeLessThan(0);
    expect(got.close).toBe(0);
    expect(run.log.some((l) => /iommu-testdev 0000:00:02\.0: unbound pasid \d+/.test(l))).toBe(true);
  });
});
