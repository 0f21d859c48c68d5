// Garbage in the queue contexts (reference section 3: SQC dw3[15:12] log2 of the SQE
// size, 7 for the ZIP's 128-byte SQE; SQC w13[11:8] alg_type, 0 compress / 1
// decompress for the ZIP; CQC dw3[15:12] = 4 for the 16-byte CQE). A context the QM
// cannot serve loads like any other (the mailbox does not validate it, the dump gives
// it back), but the queue is never scheduled: its doorbells raise the QM abnormal
// source sq_cq_vf_invalid (bit 7, MSI vector 3 when unmasked) and are dropped, so no
// SQE is fetched and the v2 drain (SQC tail == CQC tail) still ends. No public source
// gives v2's behaviour here; sq_cq_vf_invalid is the documented source closest to
// "no usable SQ/CQ context", the one a doorbell for a queue never loaded raises.
import { describe, it, expect } from 'vitest';
import { ZipRig, QM, MB_CMD, DB_CMD, makeSqe, REQ, STATUS, sampleData, type QueueInfo } from './zip-rig.js';

const SQ_CQ_VF_INVALID = 1 << 7;
const MSI_ABNORMAL = 3;

interface CtxFields {
  algType?: number;
  sqeLog2?: number;
  cqeLog2?: number;
}

/** Builds SQC and CQC bytes as Linux qm_sqc_ctx_cfg / qm_cqc_ctx_cfg do, with the fields given, and loads them. */
function loadQueue(rig: ZipRig, qn: number, f: CtxFields, depth = 8): QueueInfo {
  const sq = rig.alloc(128 * depth);
  const cq = rig.alloc(16 * depth);
  const sqc = new Uint8Array(32);
  let v = new DataView(sqc.buffer);
  v.setUint32(4, sq >>> 0, true);
  v.setUint32(12, (depth - 1) | ((f.sqeLog2 ?? 7) << 12), true);
  v.setUint16(24, qn, true);
  v.setUint16(26, (1 << 4) | ((f.algType ?? 0) << 8), true);
  const cqc = new Uint8Array(32);
  v = new DataView(cqc.buffer);
  v.setUint32(4, cq >>> 0, true);
  v.setUint32(12, (depth - 1) | ((f.cqeLog2 ?? 4) << 12), true);
  v.setUint32(24, 3, true);
  const at = rig.alloc(64);
  rig.bus.writeBytes(at, sqc);
  rig.bus.writeBytes(at + 32, cqc);
  expect(rig.mbStatus(rig.mailbox(MB_CMD.SQC, qn, at, 0))).toBe(0);
  expect(rig.mbStatus(rig.mailbox(MB_CMD.CQC, qn, at + 32, 0))).toBe(0);
  const q: QueueInfo = { qn, depth, sq, cq, sqTail: 0, cqHead: 0, cqPhase: 1 };
  rig.queues.set(qn, q);
  return q;
}

/** Dumps SQC or CQC of `qn` (mailbox op 1). */
function dump(rig: ZipRig, cmd: number, qn: number): Uint8Array {
  const at = rig.alloc(32);
  expect(rig.mbStatus(rig.mailbox(cmd, qn, at, 1))).toBe(0);
  return rig.bus.readBytes(at, 32);
}

function request(rig: ZipRig, seed: number): { sqe: Uint8Array; data: Uint8Array } {
  const data = sampleData(3000, seed);
  return { sqe: makeSqe({ reqType: REQ.ZLIB, src: rig.put(data), dst: rig.alloc(8192), inLen: data.length, availOut: 8192, tag: seed }), data };
}

/** Submits one SQE and runs: what the QM did with it. */
function tryServe(rig: ZipRig, q: QueueInfo, seed: number) {
  const { sqe } = request(rig, seed);
  rig.w32(QM.DFX_SQE_SEL, q.qn << 16); // QM_DFX_SQE_CNT shows this queue's fetches
  const fetched = rig.r32(QM.DFX_SQE);
  rig.w32(QM.ABN_SOURCE, 0x7fff);
  const msis = rig.msi.received.filter((x) => x === MSI_ABNORMAL).length;
  const [slot] = rig.submit(q, sqe);
  rig.run();
  return {
    abnormal: rig.r32(QM.ABN_SOURCE),
    msi: rig.msi.received.filter((x) => x === MSI_ABNORMAL).length - msis,
    fetched: rig.r32(QM.DFX_SQE) - fetched,
    cqes: rig.reap(q),
    // The slot is untouched when nothing was written back (dw3 status and dw1 produced still 0).
    slotUntouched: rig.bus.read32(q.sq + slot! * 128 + 4) === 0 && rig.bus.read32(q.sq + slot! * 128 + 12) === 0,
    sqcTail: new DataView(dump(rig, MB_CMD.SQC, q.qn).buffer).getUint16(2, true),
    cqcTail: new DataView(dump(rig, MB_CMD.CQC, q.qn).buffer).getUint16(2, true),
  };
}

describe('garbage SQC/CQC: the queue is refused with sq_cq_vf_invalid, never silently left unserved', () => {
  it('an SQC alg_type of 2..15 (no ZIP engine serves it): SQ doorbell raises sq_cq_vf_invalid and the abnormal MSI, nothing is fetched, the drain condition holds', () => {
    const rig = new ZipRig().startQm();
    for (let alg = 2; alg <= 15; alg++) {
      const q = loadQueue(rig, alg, { algType: alg });
      const r = tryServe(rig, q, alg);
      expect(r, `alg_type ${alg}`).toEqual({ abnormal: SQ_CQ_VF_INVALID, msi: 1, fetched: 0, cqes: [], slotUntouched: true, sqcTail: 0, cqcTail: 0 });
    }
  });

  it('an SQC sqe_size_log2 other than 7 (the ZIP SQE is 128 bytes): the same, for every other value 0..15', () => {
    const rig = new ZipRig().startQm();
    for (let log2 = 0; log2 <= 15; log2++) {
      if (log2 === 7) continue;
      const q = loadQueue(rig, 16 + log2, { sqeLog2: log2, algType: log2 & 1 });
      const r = tryServe(rig, q, 100 + log2);
      expect(r, `sqe_size_log2 ${log2}`).toEqual({ abnormal: SQ_CQ_VF_INVALID, msi: 1, fetched: 0, cqes: [], slotUntouched: true, sqcTail: 0, cqcTail: 0 });
    }
  });

  it('a CQC cqe_size_log2 other than 4: the SQ doorbell of its queue and its CQ doorbell raise sq_cq_vf_invalid; nothing is fetched', () => {
    const rig = new ZipRig().startQm();
    for (const log2 of [0, 3, 5, 7, 15]) {
      const q = loadQueue(rig, 40 + log2, { cqeLog2: log2 });
      const r = tryServe(rig, q, 200 + log2);
      expect(r, `cqe_size_log2 ${log2}`).toEqual({ abnormal: SQ_CQ_VF_INVALID, msi: 1, fetched: 0, cqes: [], slotUntouched: true, sqcTail: 0, cqcTail: 0 });
      rig.w32(QM.ABN_SOURCE, 0x7fff);
      rig.doorbell(q.qn, DB_CMD.CQ, 0);
      expect(rig.r32(QM.ABN_SOURCE)).toBe(SQ_CQ_VF_INVALID);
    }
  });

  it('the garbage context loads as written: the dump gives alg_type and sqe_size_log2 back unchanged', () => {
    const rig = new ZipRig().startQm();
    loadQueue(rig, 3, { algType: 9, sqeLog2: 5 }, 16);
    const d = new DataView(dump(rig, MB_CMD.SQC, 3).buffer);
    expect(d.getUint32(12, true)).toBe(15 | (5 << 12));
    expect((d.getUint16(26, true) >>> 8) & 0xf).toBe(9);
  });

  it('other queues keep working next to a refused one, and reloading a valid SQC into the refused queue makes it serve', () => {
    const rig = new ZipRig().startQm();
    const bad = loadQueue(rig, 1, { algType: 3 });
    const good = loadQueue(rig, 2, {});
    expect(tryServe(rig, bad, 1).fetched).toBe(0);
    const ok = tryServe(rig, good, 2);
    expect(ok.abnormal).toBe(0);
    expect(ok.fetched).toBe(1);
    expect(ok.cqes).toEqual([0]);
    expect(rig.result(good, 0).status).toBe(STATUS.OK);
    // The refused SQE was never fetched; a valid SQC (tail 0) and a new doorbell serve the queue.
    const fixed = loadQueue(rig, 1, {});
    const r = tryServe(rig, fixed, 3);
    expect(r.abnormal).toBe(0);
    expect(r.fetched).toBe(1);
    expect(r.cqes).toEqual([0]);
    expect(rig.result(fixed, 0).status).toBe(STATUS.OK);
  });
});
