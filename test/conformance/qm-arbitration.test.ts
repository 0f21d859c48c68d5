// QM queue arbitration and doorbell checks driven by SQC/CQC fields Linux writes
// (qm_sqc_ctx_cfg: w8 rand_qc 0, w13 priority 0 / orders 1 / alg_type): the model's
// rules are stated in qm.ts (claimNext, ring).
import { describe, it, expect } from 'vitest';
import { ZipRig, QM, DB_CMD, makeSqe, REQ, sampleData } from './zip-rig.js';
import { TraceKind } from '../../src/trace/record.js';

function request(rig: ZipRig, tag: number, len = 2048): Uint8Array {
  const data = sampleData(len, tag);
  return makeSqe({ reqType: REQ.DEFLATE, src: rig.put(data), dst: rig.alloc(len + 1024), inLen: data.length, availOut: len + 1024, tag });
}

/** Queue numbers of the Completion trace records, in completion order. */
function completionOrder(rig: ZipRig): number[] {
  return [...rig.machine.trace.records()].filter((r) => r.kind === TraceKind.Completion).map((r) => r.aux);
}

describe('SQC priority (w13[3:0]): higher priority is served first, equal priorities round robin', () => {
  it('with both queues pending, every SQE of the priority-5 queue is taken before any of the priority-0 queue', () => {
    const rig = new ZipRig().startQm();
    const low = rig.startQueue(1, 0, { depth: 16, priority: 0 });
    const high = rig.startQueue(2, 0, { depth: 16, priority: 5 });
    rig.machine.trace.enable();
    rig.submit(low, ...[1, 2, 3, 4].map((t) => request(rig, t)));
    rig.submit(high, ...[5, 6, 7, 8].map((t) => request(rig, t)));
    rig.run();
    expect(completionOrder(rig)).toEqual([2, 2, 2, 2, 1, 1, 1, 1]);
  });

  it('equal priorities alternate between queues (round robin)', () => {
    const rig = new ZipRig().startQm();
    const a = rig.startQueue(1, 0, { depth: 16 });
    const b = rig.startQueue(2, 0, { depth: 16 });
    rig.machine.trace.enable();
    rig.submit(a, ...[1, 2, 3, 4].map((t) => request(rig, t)));
    rig.submit(b, ...[5, 6, 7, 8].map((t) => request(rig, t)));
    rig.run();
    const order = completionOrder(rig);
    expect(order.slice(0, 2).sort()).toEqual([1, 2]);
    expect(order.filter((q) => q === 1).length).toBe(4);
  });

  it('priority arbitrates only among queues of one direction: a high-priority decompress queue does not hold back compression', () => {
    const rig = new ZipRig().startQm();
    const comp = rig.startQueue(1, 0, { depth: 16, priority: 0 });
    rig.startQueue(2, 1, { depth: 16, priority: 15 });
    rig.submit(comp, request(rig, 1));
    rig.run();
    expect(rig.reap(comp)).toEqual([0]);
  });
});

describe('rand_qc (SQC/CQC w8): an SQ/CQ doorbell must carry the context\'s value in rand [31:16]', () => {
  it('a doorbell with the matching rand rings; a different rand raises db_random_invalid and is dropped', () => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(3, 0, { depth: 8, rand: 0x1234 });
    rig.bus.writeBytes(q.sq, request(rig, 1, 64));
    rig.doorbell(q.qn, DB_CMD.SQ, 1, 0, 0); // Linux's rand 0 does not match this context
    rig.run();
    expect(rig.r32(QM.ABN_SOURCE)).toBe(1 << 12);
    expect(rig.r32(QM.DFX_SQE)).toBe(0);
    rig.w32(QM.ABN_SOURCE, 0x7fff);
    rig.doorbell(q.qn, DB_CMD.SQ, 1, 0, 0x1234);
    q.sqTail = 1;
    rig.run();
    expect(rig.r32(QM.ABN_SOURCE)).toBe(0);
    expect(rig.reap(q, false)).toEqual([0]);
    rig.doorbell(q.qn, DB_CMD.CQ, 1, 0, 0x4321);
    expect(rig.r32(QM.ABN_SOURCE)).toBe(1 << 12);
    rig.w32(QM.ABN_SOURCE, 0x7fff);
    rig.doorbell(q.qn, DB_CMD.CQ, 1, 0, 0x1234);
    expect(rig.r32(QM.ABN_SOURCE)).toBe(0);
  });
});

describe('SQC orders (w13[7:4]): non-zero posts a queue\'s CQEs in SQ order', () => {
  function bigThenSmall(rig: ZipRig, orders: number): number[] {
    const q = rig.startQueue(1, 0, { depth: 16, orders });
    rig.submit(q, request(rig, 1, 1 << 20), request(rig, 2, 256));
    rig.run();
    return rig.reap(q);
  }

  it('orders 1 (Linux): a small request finishing on the other core first still posts its CQE second', () => {
    expect(bigThenSmall(new ZipRig().startQm(), 1)).toEqual([0, 1]);
  });

  it('orders 0: CQEs post as requests finish (the small one first)', () => {
    expect(bigThenSmall(new ZipRig().startQm(), 0)).toEqual([1, 0]);
  });

  it('a hung core on the head of an ordered queue holds that queue\'s later CQEs but not other queues, and the master still drains', () => {
    const rig = new ZipRig().startQm();
    rig.zip.inject({ kind: 'core-stuck', core: 0 });
    const a = rig.startQueue(1, 0, { depth: 16, orders: 1 });
    const b = rig.startQueue(2, 0, { depth: 16, orders: 1 });
    rig.submit(a, request(rig, 1), request(rig, 2));
    rig.run(50_000_000);
    expect(rig.reap(a)).toEqual([]);
    rig.submit(b, request(rig, 3));
    rig.run(50_000_000);
    expect(rig.reap(b)).toEqual([0]);
    rig.w32(QM.MASTER_GLOBAL_CTRL, 1);
    expect(rig.r32(QM.MASTER_TRANS_RETURN)).toBe(3);
  });
});
