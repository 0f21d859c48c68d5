// QM v2 doorbells, completion/event rings with phase bits, interrupts and the
// SQE write-back rule, as Linux hisi_qm (qm_db_v2, qm_poll_req_cb, qm_eq_irq,
// qm_aeq_thread) and UADK (hisi_qm_send/recv) rely on them.
import { describe, it, expect } from 'vitest';
import { ZipRig, QM, DB_CMD, makeSqe, REQ, STATUS, sampleData } from './zip-rig.js';
import { TraceKind } from '../../src/trace/record.js';

function smallRequest(rig: ZipRig, tag: number): Uint8Array {
  const data = sampleData(64, tag);
  return makeSqe({ reqType: REQ.DEFLATE, src: rig.put(data), dst: rig.alloc(256), inLen: data.length, availOut: 256, tag });
}

describe('QM doorbells (v2 format: qn[11:0] cmd[15:12] index[47:32] priority[63:48])', () => {
  it('an SQ doorbell makes the engine fetch SQ[head..index) and post one CQE per SQE', () => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(2, 0, { depth: 16 });
    const slots = rig.submit(q, smallRequest(rig, 1), smallRequest(rig, 2), smallRequest(rig, 3));
    rig.run();
    expect(rig.reap(q).sort()).toEqual(slots);
    expect(rig.r32(QM.DFX_DB)).toBeGreaterThan(0);
    rig.w32(QM.DFX_SQE_SEL, 2 << 16);
    rig.w32(QM.DFX_CQE_SEL, 2 << 16);
    expect(rig.r32(QM.DFX_SQE)).toBe(3);
    expect(rig.r32(QM.DFX_CQE)).toBe(3);
  });

  it('a doorbell written as two 32-bit halves rings on the high half', () => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(0, 0, { depth: 8 });
    rig.bus.writeBytes(q.sq, smallRequest(rig, 4));
    rig.w32(QM.DB_SQ_CQ, (q.qn & 0xfff) | (DB_CMD.SQ << 12));
    rig.run();
    expect(rig.r32(QM.DFX_SQE)).toBe(0);
    rig.w32(QM.DB_SQ_CQ + 4, 1);
    q.sqTail = 1;
    rig.run();
    expect(rig.reap(q)).toEqual([0]);
  });

  it('a doorbell for a started-less queue raises sq_cq_vf_invalid; a bad cmd or index raises db_random_invalid', () => {
    const rig = new ZipRig().startQm();
    rig.doorbell(7, DB_CMD.SQ, 1);
    expect(rig.r32(QM.ABN_SOURCE) & (1 << 7)).toBe(1 << 7);
    rig.w32(QM.ABN_SOURCE, 0x7fff);
    rig.w64(QM.DB_SQ_CQ, BigInt(7 | (5 << 12)) | (1n << 32n));
    expect(rig.r32(QM.ABN_SOURCE)).toBe(1 << 12);
    rig.w32(QM.ABN_SOURCE, 0x7fff);
    const q = rig.startQueue(1, 0, { depth: 8 });
    rig.doorbell(q.qn, DB_CMD.SQ, 8); // index >= depth
    expect(rig.r32(QM.ABN_SOURCE)).toBe(1 << 12);
    rig.w32(QM.ABN_SOURCE, 0x7fff);
    rig.w64(QM.DB_EQ_AEQ, BigInt(1 | (DB_CMD.SQ << 12)) | (1n << 32n)); // SQ cmd on the EQ page
    expect(rig.r32(QM.ABN_SOURCE)).toBe(1 << 12);
    expect(rig.msi.received.filter((v) => v === 3).length).toBeGreaterThan(0);
  });

  it('records a Doorbell trace (aux = queue | cmd << 16, value = index) and a Completion trace (aux = queue, value = status)', () => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(9, 0, { depth: 8 });
    rig.machine.trace.enable();
    rig.submit(q, smallRequest(rig, 5));
    rig.run();
    const recs = [...rig.machine.trace.records()];
    const db = recs.find((r) => r.kind === TraceKind.Doorbell)!;
    expect(db.aux & 0xffff).toBe(9);
    expect(db.value & 0xffffn).toBe(1n);
    const done = recs.find((r) => r.kind === TraceKind.Completion)!;
    expect(done.aux).toBe(9);
    expect(done.value).toBe(BigInt(STATUS.OK));
  });
});

describe('completion path', () => {
  it('write-back rule: the result lands in the SQE slot named by cqe.sq_head, the tag is preserved', () => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(0, 0, { depth: 8 });
    const data = sampleData(3000, 9);
    const [slot] = rig.submit(q, makeSqe({ reqType: REQ.DEFLATE, src: rig.put(data), dst: rig.alloc(4096), inLen: data.length, availOut: 4096, tag: 0xfeed }));
    rig.run();
    const [head] = rig.reap(q);
    expect(head).toBe(slot);
    const r = rig.result(q, head!);
    expect(r.consumed).toBe(3000);
    expect(r.produced).toBeGreaterThan(0);
    expect(r.tag).toBe(0xfeed);
    const cqe = new DataView(rig.bus.readBytes(q.cq, 16).buffer);
    expect(cqe.getUint16(10, true)).toBe(0); // sq_num
  });

  it('phase bits: over 40 laps of an 8-entry ring the consumer sees every completion exactly once', () => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(4, 0, { depth: 8 });
    let seen = 0;
    for (let lap = 0; lap < 40; lap++) {
      const reqs = Array.from({ length: 7 }, (_, i) => smallRequest(rig, lap * 8 + i));
      const slots = rig.submit(q, ...reqs);
      rig.run();
      const done = rig.reap(q);
      expect(done.sort((a, b) => a - b)).toEqual([...slots].sort((a, b) => a - b));
      seen += done.length;
      for (const s of slots) expect(rig.result(q, s).status).toBe(STATUS.OK);
    }
    expect(seen).toBe(280);
    // One EQE per lap: the first completion after each re-arm (see the c_flag tests).
    const eqes = rig.reapEq();
    expect(eqes.length).toBe(40);
    expect(eqes.every((cq) => cq === 4)).toBe(true);
  });

  it('a completion with the c_flag armed posts an EQE (cq number, phase) and the EQ MSI (vector 0); the EQ doorbell clears the source', () => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(11, 0, { depth: 8 });
    rig.submit(q, smallRequest(rig, 1), smallRequest(rig, 2));
    rig.run();
    expect(rig.r32(QM.EQ_INT_SOURCE)).toBe(1);
    expect(rig.msi.received.filter((v) => v === 0).length).toBe(1); // one edge until acknowledged
    expect(rig.reapEq()).toEqual([11]); // the first completion disarmed the event
    expect(rig.r32(QM.EQ_INT_SOURCE)).toBe(0);
    rig.reap(q); // CQ doorbells, the last with priority 1: re-armed
    rig.submit(q, smallRequest(rig, 3));
    rig.run();
    expect(rig.msi.received.filter((v) => v === 0).length).toBe(2);
    expect(rig.reapEq()).toEqual([11]);
  });

  it('c_flag: CQ doorbells with priority 0 leave the event disarmed, so later completions post no EQE (UADK without epoll)', () => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(3, 0, { depth: 8 });
    rig.submit(q, smallRequest(rig, 1));
    rig.run();
    expect(rig.reapEq()).toEqual([3]);
    for (let i = 0; i < 3; i++) {
      rig.reap(q, false);
      rig.doorbell(q.qn, DB_CMD.CQ, q.cqHead, 0);
      rig.submit(q, smallRequest(rig, 2 + i));
      rig.run();
    }
    expect(rig.reap(q, false).length).toBe(1);
    expect(rig.reapEq()).toEqual([]);
    expect(rig.msi.received.filter((v) => v === 0).length).toBe(1);
  });

  it('c_flag: re-arming (CQ doorbell priority 1) while CQEs are still unconsumed posts their EQE at once', () => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(5, 0, { depth: 8 });
    rig.submit(q, smallRequest(rig, 1), smallRequest(rig, 2));
    rig.run();
    expect(rig.reapEq()).toEqual([5]);
    // The driver consumed one CQE, and re-arms with the second still in the ring.
    rig.doorbell(q.qn, DB_CMD.CQ, 1, 1);
    rig.run();
    expect(rig.reapEq()).toEqual([5]);
    // Re-arming with nothing pending posts nothing until the next completion.
    rig.doorbell(q.qn, DB_CMD.CQ, 2, 1);
    rig.run();
    expect(rig.reapEq()).toEqual([]);
  });

  it('c_flag: a CQC dump (mailbox CQC, op 1) shows the live flag in dw6 bit 1', () => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(2, 0, { depth: 8 });
    const dump = rig.alloc(32);
    rig.mailbox(1, q.qn, dump, 1);
    expect((rig.bus.read32(dump + 24) >>> 1) & 1).toBe(1);
    rig.submit(q, smallRequest(rig, 1));
    rig.run();
    rig.mailbox(1, q.qn, dump, 1);
    expect((rig.bus.read32(dump + 24) >>> 1) & 1).toBe(0);
  });

  it('an EQ doorbell that leaves entries unread re-raises the EQ interrupt', () => {
    const rig = new ZipRig().startQm();
    const a = rig.startQueue(1, 0, { depth: 8 });
    const b = rig.startQueue(2, 0, { depth: 8 });
    rig.submit(a, smallRequest(rig, 1));
    rig.submit(b, smallRequest(rig, 2));
    rig.run();
    const before = rig.msi.received.length;
    rig.doorbell(0, DB_CMD.EQ, 1); // consumed only one EQE
    expect(rig.r32(QM.EQ_INT_SOURCE)).toBe(1);
    expect(rig.msi.received.length).toBe(before + 1);
  });

  it('a masked EQ interrupt sends no MSI; unmasking with the source set sends it', () => {
    const rig = new ZipRig().startQm();
    rig.w32(QM.EQ_INT_MASK, 1);
    const q = rig.startQueue(1, 0, { depth: 8 });
    rig.submit(q, smallRequest(rig, 1));
    rig.run();
    expect(rig.msi.received).not.toContain(0);
    rig.w32(QM.EQ_INT_MASK, 0);
    expect(rig.msi.received).toContain(0);
  });

  it('CQC flag clear: CQEs are written but no EQE is posted', () => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(1, 0, { depth: 8, cqFlag: false });
    rig.submit(q, smallRequest(rig, 1));
    rig.run();
    expect(rig.reap(q)).toEqual([0]);
    expect(rig.reapEq()).toEqual([]);
  });

  it('CQ overflow: a completion that finds the CQ full posts AEQE type 0 with the qp, raises MSI 1 and stops the queue', () => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(3, 0, { depth: 4 });
    // never ring the CQ doorbell: 3 CQEs fill the ring (depth - 1), the 4th overflows
    rig.submit(q, smallRequest(rig, 1), smallRequest(rig, 2), smallRequest(rig, 3));
    rig.run();
    expect(rig.reap(q, false).length).toBe(3);
    rig.submit(q, smallRequest(rig, 4));
    rig.run();
    expect(rig.reapAeq()).toEqual([{ qp: 3, type: 0 }]);
    expect(rig.msi.received).toContain(1);
    rig.doorbell(3, DB_CMD.CQ, q.cqHead);
    rig.submit(q, smallRequest(rig, 5));
    rig.run();
    expect(rig.reap(q)).toEqual([]); // stopped until restarted
    rig.startQueue(3, 0, { depth: 4 });
  });

  it('injected cq-overflow hits the next completion of the named queue', () => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(2, 0, { depth: 8 });
    rig.zip.inject({ kind: 'cq-overflow', queue: 2 });
    rig.submit(q, smallRequest(rig, 1));
    rig.run();
    expect(rig.reap(q)).toEqual([]);
    expect(rig.reapAeq()).toEqual([{ qp: 2, type: 0 }]);
  });

  it('queues are served round robin: two queues with work both make progress on a single core type', () => {
    const rig = new ZipRig().startQm();
    const a = rig.startQueue(0, 0, { depth: 64 });
    const b = rig.startQueue(1, 0, { depth: 64 });
    rig.submit(a, ...Array.from({ length: 20 }, (_, i) => smallRequest(rig, i)));
    rig.submit(b, ...Array.from({ length: 20 }, (_, i) => smallRequest(rig, 100 + i)));
    rig.run(6000);
    const na = rig.reap(a).length;
    const nb = rig.reap(b).length;
    expect(na).toBeGreaterThan(0);
    expect(nb).toBeGreaterThan(0);
    expect(Math.abs(na - nb)).toBeLessThanOrEqual(2);
  });
});
