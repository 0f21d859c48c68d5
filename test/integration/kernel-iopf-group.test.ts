// PCIe page request groups of several requests (PCIe 10.4.1; io-pgfault.c): the
// SMMU driver reports every PRI queue entry, io-pgfault parks the requests of a group
// until the one marked LAST arrives, then the whole group is handled at once (every
// page faulted in through the mm) and answered with a single PRI_RESP for its PRG
// index. The test device's engine sends one-request groups only, so the test sends
// the Page Request Messages through the test device's PCI function itself, as a
// device with a multi-page request would.

import { describe, expect, it } from 'vitest';
import { iopf_partial_faults, iopf_stats } from '../../src/kernel/drivers/iommu/io-pgfault.js';
import { arm_smmu_devices } from '../../src/kernel/drivers/iommu/arm-smmu-v3/arm-smmu-v3.js';
import type { PciFunction } from '../../src/hw/pcie/function.js';
import type { UserCtx } from '../support/kernel-user.js';
import { PAGE, TESTDEV_SID, Testdev, cmdDword, mmap, munmap, pagePresent, type Rec } from './kernel-smmu-harness.js';
import { between, runMarked, sleepNs, smmuCommands } from './kernel-iommu-harness.js';
import { TraceKind } from '../../src/trace/record.js';
import { ITD_BIND_PRI } from '../../src/kernel/drivers/misc/iommu-testdev.js';

const CMD_PRI_RESP = 0x41;
const PRI_RESP_FAIL = 1; // IHI 0070 4.5.2: Resp 0b01, InvalidRequest
const PRI_RESP_SUCC = 2;

/** [SID, SSID, GRPID, RESP] of a PRI_RESP. */
function priResp(c: Rec): [number, number, number, number] {
  const d0 = cmdDword(c, 0);
  const d1 = cmdDword(c, 1);
  return [Number(d0 >> 32n), Number((d0 >> 12n) & 0xfffffn), Number(d1 & 0x1ffn), Number((d1 >> 12n) & 3n)];
}

/** A write page request for `va` at `pasid`, PRG index `prg`. */
function request(fn: PciFunction, va: number, pasid: number, prg: number, last: boolean): boolean {
  return fn.pageRequest(va, pasid, true, false, true, false, false, prg, last);
}

/** Sleeps until the function has its page request credits back (every group answered), up to 1 s. */
function* answered(u: UserCtx, fn: PciFunction): Generator<unknown, void, unknown> {
  for (let i = 0; i < 10_000 && fn.pageRequestsOutstanding > 0; i++) yield* sleepNs(u, 100_000);
}

function* present(u: UserCtx, va: number, pages: number): Generator<unknown, boolean[], unknown> {
  const out: boolean[] = [];
  for (let i = 0; i < pages; i++) out.push(yield* pagePresent(u, va + i * PAGE));
  return out;
}

describe('a page request group of three requests is handled once, at its LAST request, with one PRI_RESP', () => {
  const got: Record<string, unknown> = {};
  let buf = 0;
  let pasid = 0;
  const run = runMarked(function* (u, t) {
    const td = yield* Testdev.open(u);
    if (typeof td === 'number') return 10;
    pasid = yield* td.bind(ITD_BIND_PRI);
    const fn = t.machine.testdev.fn;
    buf = yield* mmap(u, 3 * PAGE);
    const s0 = { ...iopf_stats() };
    t.mark('partial');
    got.sent = [request(fn, buf, pasid, 5, false), request(fn, buf + PAGE, pasid, 5, false)];
    yield* sleepNs(u, 1_000_000);
    t.mark('partial-seen');
    const s1 = { ...iopf_stats() };
    got.afterPartial = { reported: s1.reported - s0.reported, groups: s1.groups - s0.groups, responded: s1.responded - s0.responded };
    got.presentPartial = yield* present(u, buf, 3);
    got.outstandingPartial = fn.pageRequestsOutstanding;
    t.mark('last');
    got.sentLast = request(fn, buf + 2 * PAGE, pasid, 5, true);
    yield* answered(u, fn);
    t.mark('answered');
    const s2 = { ...iopf_stats() };
    got.afterLast = { reported: s2.reported - s0.reported, groups: s2.groups - s0.groups, responded: s2.responded - s0.responded, success: s2.success - s0.success };
    got.presentLast = yield* present(u, buf, 3);
    got.outstandingLast = fn.pageRequestsOutstanding;
    return 0;
  });

  it('the two non-last requests reach the driver and are parked: nothing is faulted in, no group is handled, no response is sent', () => {
    expect(run.code).toBe(0);
    expect(got.sent).toEqual([true, true]);
    const w = between(run, 'partial', 'partial-seen');
    expect(w.filter((r) => r.kind === TraceKind.PageRequest).map((r) => [r.sid, r.ssid, Number(r.iova)])).toEqual([
      [TESTDEV_SID, pasid, buf],
      [TESTDEV_SID, pasid, buf + PAGE],
    ]);
    expect(got.afterPartial).toEqual({ reported: 2, groups: 0, responded: 0 });
    expect(got.presentPartial).toEqual([false, false, false]);
    expect(smmuCommands(between(run, 'partial', 'last'), CMD_PRI_RESP)).toEqual([]);
    expect(got.outstandingPartial).toBe(2);
  });

  it('the LAST request makes one group of all three: every page is faulted in and one PRI_RESP Success answers PRG index 5', () => {
    expect(got.sentLast).toBe(true);
    expect(got.afterLast).toEqual({ reported: 3, groups: 1, responded: 1, success: 1 });
    expect(got.presentLast).toEqual([true, true, true]);
    const resp = smmuCommands(between(run, 'last', 'answered'), CMD_PRI_RESP);
    expect(resp.map(priResp)).toEqual([[TESTDEV_SID, pasid, 5, PRI_RESP_SUCC]]);
    // the function's credits for the whole group come back with that one response
    expect(got.outstandingLast).toBe(0);
    // one fault line for the group, at the LAST request's address
    const lines = run.log.filter((l) => l.includes(`iopf pasid ${pasid} grpid 5 `));
    expect(lines.length).toBe(1);
    expect(lines[0]).toContain(`addr 0x${(buf + 2 * PAGE).toString(16)} -> SUCCESS`);
  });
});

describe('groups are kept apart by PRG index, and a group fails as a whole', () => {
  const got: Record<string, unknown> = {};
  let buf = 0;
  let hole = 0;
  let pasid = 0;
  const run = runMarked(function* (u, t) {
    const td = yield* Testdev.open(u);
    if (typeof td === 'number') return 10;
    pasid = yield* td.bind(ITD_BIND_PRI);
    const fn = t.machine.testdev.fn;
    buf = yield* mmap(u, 4 * PAGE);
    const more = yield* mmap(u, 2 * PAGE);
    hole = more + PAGE;
    yield* munmap(u, hole, PAGE);
    // interleaved: group 7 starts, group 9 starts and ends, group 7 ends
    t.mark('interleaved');
    request(fn, buf, pasid, 7, false);
    request(fn, buf + 2 * PAGE, pasid, 9, false);
    request(fn, buf + 3 * PAGE, pasid, 9, true);
    yield* sleepNs(u, 1_000_000);
    t.mark('nine-done');
    got.afterNine = yield* present(u, buf, 4);
    request(fn, buf + PAGE, pasid, 7, true);
    yield* answered(u, fn);
    t.mark('seven-done');
    got.afterSeven = yield* present(u, buf, 4);
    // a group whose LAST request has no VMA: one answer for all, Invalid Request
    t.mark('failing');
    request(fn, more, pasid, 11, false);
    request(fn, hole, pasid, 11, true);
    yield* answered(u, fn);
    t.mark('failed');
    got.outstanding = fn.pageRequestsOutstanding;
    return 0;
  });

  it('group 9 is handled on its own LAST (its two pages only); group 7 later, with the page of its first request', () => {
    expect(run.code).toBe(0);
    expect(got.afterNine).toEqual([false, false, true, true]);
    expect(smmuCommands(between(run, 'interleaved', 'nine-done'), CMD_PRI_RESP).map(priResp)).toEqual([[TESTDEV_SID, pasid, 9, PRI_RESP_SUCC]]);
    expect(got.afterSeven).toEqual([true, true, true, true]);
    expect(smmuCommands(between(run, 'nine-done', 'seven-done'), CMD_PRI_RESP).map(priResp)).toEqual([[TESTDEV_SID, pasid, 7, PRI_RESP_SUCC]]);
  });

  it('a group with an unresolvable request gets one PRI_RESP InvalidRequest (Resp 0b01) for the group', () => {
    expect(smmuCommands(between(run, 'failing', 'failed'), CMD_PRI_RESP).map(priResp)).toEqual([[TESTDEV_SID, pasid, 11, PRI_RESP_FAIL]]);
    expect(got.outstanding).toBe(0);
    expect(run.log.some((l) => l.includes(`iopf pasid ${pasid} grpid 11 addr 0x${hole.toString(16)} -> INVALID`))).toBe(true);
  });
});

describe('a group is keyed by PRG index alone, whatever the PASID of its requests (Linux 6.10+ iopf_group_alloc)', () => {
  const got: Record<string, unknown> = {};
  let buf = 0;
  let pasid = 0;
  const run = runMarked(function* (u, t) {
    const td = yield* Testdev.open(u);
    if (typeof td === 'number') return 10;
    pasid = yield* td.bind(ITD_BIND_PRI);
    const fn = t.machine.testdev.fn;
    const dev = arm_smmu_devices()[0]!.streams.get(TESTDEV_SID)!.dev;
    buf = yield* mmap(u, 2 * PAGE);
    // group 13: a request with the PASID, then the LAST one without a PASID (the RID's
    // DMA domain takes no page faults: the group is answered InvalidRequest)
    t.mark('mixed');
    request(fn, buf, pasid, 13, false);
    fn.pageRequest(buf + PAGE, 0, false, false, true, false, false, 13, true);
    yield* answered(u, fn);
    t.mark('mixed-done');
    got.parked = iopf_partial_faults(dev);
    // a later group 13 of one request: only its own page is faulted in
    request(fn, buf + PAGE, pasid, 13, true);
    yield* answered(u, fn);
    t.mark('next-done');
    got.present = yield* present(u, buf, 2);
    return 0;
  });

  it('the LAST request without a PASID takes the PASID request of its PRG index into its group: one InvalidRequest, nothing left parked', () => {
    expect(run.code).toBe(0);
    expect(smmuCommands(between(run, 'mixed', 'mixed-done'), CMD_PRI_RESP).map((c) => priResp(c)[2])).toEqual([13]);
    expect(smmuCommands(between(run, 'mixed', 'mixed-done'), CMD_PRI_RESP).map((c) => priResp(c)[3])).toEqual([PRI_RESP_FAIL]);
    expect(got.parked).toBe(0);
  });

  it('the next group with that PRG index holds only its own request: the first group\'s page is not faulted in with it', () => {
    expect(smmuCommands(between(run, 'mixed-done', 'next-done'), CMD_PRI_RESP).map(priResp)).toEqual([[TESTDEV_SID, pasid, 13, PRI_RESP_SUCC]]);
    expect(got.present).toEqual([false, true]);
  });
});
