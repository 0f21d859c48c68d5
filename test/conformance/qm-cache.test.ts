// QM_CACHE_CTL (Linux hisi_zip_set_user_domain_and_cache: SQC/CQC cache and write-back
// with threshold 1) and QM_CACHE_WB_START: whether the QM holds SQC/CQC itself or works
// on the table entries (SQC_BT/CQC_BT + 32 * qn) in memory. Rule in qm.ts setCacheCtl.
import { describe, it, expect } from 'vitest';
import { ZipRig, QM, DB_CMD, makeSqe, REQ, sampleData } from './zip-rig.js';

const CACHE_CTL = 0x100050;
const SQC_CACHE = 1 << 0;
const CQC_CACHE = 1 << 1;
const SQC_WB = 1 << 4;
const CQC_WB = 1 << 11;
const LINUX_CACHE_CTL = SQC_CACHE | CQC_CACHE | SQC_WB | (1 << 5) | CQC_WB | (1 << 12);
const DB_RANDOM_INVALID = 1 << 12;

function request(rig: ZipRig, tag: number): Uint8Array {
  const data = sampleData(64, tag);
  return makeSqe({ reqType: REQ.DEFLATE, src: rig.put(data), dst: rig.alloc(256), inLen: data.length, availOut: 256, tag });
}

/** head/tail (dword 0), rand_qc (w8) and dw6 of a table entry. */
function entry(rig: ZipRig, bt: number, qn: number): { head: number; tail: number; rand: number; dw6: number; base: number } {
  const at = bt + qn * 32;
  return { head: rig.bus.read16(at), tail: rig.bus.read16(at + 2), rand: rig.bus.read16(at + 16), dw6: rig.bus.read32(at + 24), base: rig.bus.read32(at + 4) };
}

describe('QM_CACHE_CTL', () => {
  it('reset value: both caches on, no automatic write-back', () => {
    const rig = new ZipRig().startQm();
    expect(rig.r32(CACHE_CTL)).toBe(SQC_CACHE | CQC_CACHE);
  });

  it('SQC cache on: a context edited in its table entry is not seen; the QM keeps the one the mailbox loaded', () => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(3, 0, { depth: 8 });
    // The driver writes a context with rand_qc 0x55 into the table entry without a mailbox load.
    const ctx = rig.alloc(32);
    rig.mailbox(0, q.qn, ctx, 1); // dump the live SQC
    const b = rig.bus.readBytes(ctx, 32);
    new DataView(b.buffer).setUint16(16, 0x55, true);
    rig.bus.writeBytes(rig.sqcBt + q.qn * 32, b);
    rig.submit(q, request(rig, 1)); // rand 0 matches the cached context
    rig.run();
    expect(rig.r32(QM.ABN_SOURCE)).toBe(0);
    expect(rig.reap(q)).toEqual([0]);
  });

  it('SQC cache off: the mailbox load goes to the table entry and each SQ doorbell re-reads it, so an edit in memory is seen', () => {
    const rig = new ZipRig().startQm();
    rig.w32(CACHE_CTL, CQC_CACHE);
    const q = rig.startQueue(3, 0, { depth: 8 });
    expect(entry(rig, rig.sqcBt, q.qn).base).toBe(q.sq >>> 0);
    rig.bus.write16(rig.sqcBt + q.qn * 32 + 16, 0x55); // rand_qc
    rig.submit(q, request(rig, 1));
    expect(rig.r32(QM.ABN_SOURCE)).toBe(DB_RANDOM_INVALID);
    rig.w32(QM.ABN_SOURCE, 0x7fff);
    rig.doorbell(q.qn, DB_CMD.SQ, 1, 0, 0x55);
    rig.run();
    expect(rig.r32(QM.ABN_SOURCE)).toBe(0);
    expect(rig.reap(q, false)).toEqual([0]);
  });

  it('cache off: every change the QM makes is written through to the entries (SQ head/tail, CQ tail, phase, c_flag)', () => {
    const rig = new ZipRig().startQm();
    rig.w32(CACHE_CTL, 0);
    const q = rig.startQueue(4, 0, { depth: 8 });
    rig.submit(q, request(rig, 1), request(rig, 2));
    rig.run();
    expect(entry(rig, rig.sqcBt, q.qn)).toMatchObject({ head: 2, tail: 2 });
    const cqc = entry(rig, rig.cqcBt, q.qn);
    expect(cqc.tail).toBe(2);
    expect(cqc.dw6 & 3).toBe(1); // phase 1, c_flag cleared by the EQE
  });

  it('CQC cache off: a CQ doorbell re-reads the CQC, so a rand_qc edited in memory is enforced', () => {
    const rig = new ZipRig().startQm();
    rig.w32(CACHE_CTL, SQC_CACHE);
    const q = rig.startQueue(5, 0, { depth: 8 });
    rig.bus.write16(rig.cqcBt + q.qn * 32 + 16, 0x77); // rand_qc of the CQC
    rig.doorbell(q.qn, DB_CMD.CQ, 0, 0, 0);
    expect(rig.r32(QM.ABN_SOURCE)).toBe(DB_RANDOM_INVALID);
  });

  it('write-back threshold 2 (caches on): a context is written to its entry on every second change', () => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(6, 0, { depth: 8 });
    rig.w32(CACHE_CTL, SQC_CACHE | CQC_CACHE | CQC_WB | (2 << 12));
    rig.doorbell(q.qn, DB_CMD.CQ, 3);
    rig.run();
    expect(entry(rig, rig.cqcBt, q.qn).head).toBe(0);
    expect(entry(rig, rig.cqcBt, q.qn).base).toBe(0); // never written
    rig.doorbell(q.qn, DB_CMD.CQ, 5);
    rig.run();
    expect(entry(rig, rig.cqcBt, q.qn)).toMatchObject({ head: 5, base: q.cq >>> 0 });
    // SQC write-back is off: its entry stays unwritten.
    rig.submit(q, request(rig, 1));
    rig.run();
    expect(entry(rig, rig.sqcBt, q.qn).base).toBe(0);
  });

  it("Linux's value (caches on, write-back threshold 1): the entries follow every change", () => {
    const rig = new ZipRig().startQm();
    rig.w32(CACHE_CTL, LINUX_CACHE_CTL);
    const q = rig.startQueue(7, 0, { depth: 8 });
    rig.submit(q, request(rig, 1));
    rig.run();
    expect(entry(rig, rig.sqcBt, q.qn)).toMatchObject({ head: 1, tail: 1, base: q.sq >>> 0 });
    expect(entry(rig, rig.cqcBt, q.qn).tail).toBe(1);
  });

  it('QM_CACHE_WB_START writes back changed contexts whatever the write-back bits say, then sets WB_DONE', () => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(8, 0, { depth: 8 });
    rig.submit(q, request(rig, 1));
    rig.run();
    expect(entry(rig, rig.sqcBt, q.qn).base).toBe(0);
    rig.w32(QM.CACHE_WB_START, 1);
    expect(rig.r32(QM.CACHE_WB_DONE) & 1).toBe(0);
    rig.run();
    expect(rig.r32(QM.CACHE_WB_DONE) & 1).toBe(1);
    expect(entry(rig, rig.sqcBt, q.qn)).toMatchObject({ head: 1, tail: 1, base: q.sq >>> 0 });
  });
});
