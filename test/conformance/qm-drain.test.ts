// The v2 queue drain as Linux qm_drain_qp polls it (reference section 5: dump SQC and
// CQC through the mailbox until sqc.tail == cqc.tail with equal wrap bits), with
// requests in flight, and the `core-stuck` injection that makes a queue never drain.
import { describe, it, expect } from 'vitest';
import { deflateRawSync } from 'node:zlib';
import { ZipRig, QM, MB_CMD, makeSqe, REQ, STATUS, sampleData, type QueueInfo } from './zip-rig.js';

function request(rig: ZipRig, seed: number, len = 200_000): Uint8Array {
  const data = sampleData(len, seed);
  return makeSqe({ reqType: REQ.DEFLATE, src: rig.put(data), dst: rig.alloc(len + 4096), inLen: data.length, availOut: len + 4096, tag: seed });
}

/** SQC and CQC tails and wrap bits as qm_drain_qp reads them (mailbox op 1). */
function tails(rig: ZipRig, qn: number): { sq: number; cq: number; sqWrap: number; cqWrap: number } {
  const at = rig.alloc(64, 32);
  rig.mailbox(MB_CMD.SQC, qn, at, 1);
  rig.mailbox(MB_CMD.CQC, qn, at + 32, 1);
  const b = rig.bus.readBytes(at, 64);
  const v = new DataView(b.buffer);
  return { sq: v.getUint16(2, true), cq: v.getUint16(32 + 2, true), sqWrap: (v.getUint16(22, true) >>> 6) & 1, cqWrap: (v.getUint16(32 + 22, true) >>> 6) & 1 };
}

/** qm_drain_qp: polls every `stepNs` up to `tries` times; the poll count when drained, or -1. */
function drain(rig: ZipRig, q: QueueInfo, tries: number, stepNs: number): number {
  for (let i = 1; i <= tries; i++) {
    const t = tails(rig, q.qn);
    if (t.sq === t.cq && t.sqWrap === t.cqWrap) return i;
    rig.run(stepNs);
  }
  return -1;
}

describe('v2 drain with requests in flight', () => {
  it('five 200 KB compressions on one queue: the SQC/CQC tails differ while the engine works and meet once every CQE is written', () => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(0, 0, { depth: 16 });
    const slots = rig.submit(q, ...[1, 2, 3, 4, 5].map((s) => request(rig, s)));
    const first = tails(rig, q.qn);
    expect(first.sq).toBe(5);
    expect(first.cq).toBe(0);
    const polls = drain(rig, q, 1000, 150_000);
    expect(polls).toBeGreaterThan(1);
    expect(rig.reap(q).sort()).toEqual(slots);
    for (const s of slots) expect(rig.result(q, s).status).toBe(STATUS.OK);
  });
});

describe('error injection core-stuck', () => {
  it('with both compression cores stuck a compression queue never drains: two SQEs are fetched, no CQE comes, the tails stay apart', () => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(0, 0, { depth: 16 });
    rig.zip.inject({ kind: 'core-stuck', core: 0 });
    rig.zip.inject({ kind: 'core-stuck', core: 1 });
    rig.submit(q, ...[1, 2, 3].map((s) => request(rig, s, 4000)));
    expect(drain(rig, q, 1000, 150_000)).toBe(-1);
    expect(rig.r32(QM.DFX_SQE)).toBe(2);
    expect(rig.reap(q)).toEqual([]);
    expect(tails(rig, q.qn)).toEqual({ sq: 3, cq: 0, sqWrap: 0, cqWrap: 0 });
    expect(rig.zip.engine.inFlight).toBe(2);
  });

  it('a stuck core holds only its own request: the other compression core and the decompression cores keep serving', () => {
    const rig = new ZipRig().startQm();
    const c = rig.startQueue(0, 0, { depth: 16, orders: 0 }); // CQEs as requests finish
    const d = rig.startQueue(1, 1, { depth: 16 });
    rig.zip.inject({ kind: 'core-stuck', core: 0 });
    const slots = rig.submit(c, ...[1, 2, 3, 4].map((s) => request(rig, s, 4000)));
    const data = sampleData(5000, 9);
    const z = new Uint8Array(deflateRawSync(data));
    const [ds] = rig.submit(d, makeSqe({ reqType: REQ.DEFLATE, src: rig.put(z), dst: rig.alloc(8192), inLen: z.length, availOut: 8192 }));
    rig.run(50_000_000);
    // Core 0 took the first SQE and hangs on it; core 1 completed the other three.
    expect(rig.reap(c).sort()).toEqual(slots.slice(1));
    expect(rig.reap(d)).toEqual([ds]);
    expect(rig.result(d, ds!).status).toBe(STATUS.OK);
  });

  it('the master shutdown of a controller reset still completes (a hung core holds no transfer), and the FLR frees the cores', () => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(0, 0, { depth: 16 });
    rig.zip.inject({ kind: 'core-stuck' });
    rig.submit(q, request(rig, 1, 4000));
    rig.run(10_000_000);
    expect(rig.reap(q)).toEqual([]);
    rig.w32(QM.MASTER_GLOBAL_CTRL, 1);
    expect(rig.r32(QM.MASTER_TRANS_RETURN)).toBe(3);
    const pcie = rig.findCap(0x10);
    rig.cfgWrite32(pcie + 8, rig.cfgRead32(pcie + 8) | (1 << 15));
    rig.queues.clear();
    rig.startQm();
    const again = rig.startQueue(0, 0, { depth: 16 });
    const [slot] = rig.submit(again, request(rig, 2, 4000));
    rig.run();
    expect(rig.reap(again)).toEqual([slot]);
    expect(rig.result(again, slot!).status).toBe(STATUS.OK);
  });
});
