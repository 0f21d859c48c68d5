// EQ overflow (reference section 3, AEQE type 1; Linux qm_aeq_thread: "eq overflow,
// reset function"): when the driver stops consuming EQEs and the EQ fills, the QM
// still writes each CQE but loses its EQE and posts an AEQE of type 1 with the AEQ
// interrupt instead. The injection kind `eq-overflow` does the same for the next
// completion event without filling the ring.
import { describe, it, expect } from 'vitest';
import { ZipRig, makeSqe, REQ, sampleData } from './zip-rig.js';

const AEQE_EQ_OVERFLOW = 1;
const MSI_EQ = 0;
const MSI_AEQ = 1;

function smallRequest(rig: ZipRig, tag: number): Uint8Array {
  const data = sampleData(64, tag);
  return makeSqe({ reqType: REQ.DEFLATE, src: rig.put(data), dst: rig.alloc(256), inLen: data.length, availOut: 256, tag });
}

/** Raw EQEs in the ring (phase bit and CQ number), without consuming them. */
function eqEntries(rig: ZipRig): { cq: number; phase: number }[] {
  const out: { cq: number; phase: number }[] = [];
  for (let i = 0; i < rig.eqDepth; i++) {
    const e = rig.bus.read32(rig.eqBase + i * 4);
    out.push({ cq: e & 0xffff, phase: (e >>> 16) & 1 });
  }
  return out;
}

describe('EQ overflow', () => {
  it('a 4-entry EQ the driver never reads holds 3 EQEs; the 4th and 5th completion events post CQEs, lose their EQEs and post AEQE type 1', () => {
    const rig = new ZipRig().startQm(64, { eqDepth: 4 });
    // One request on each of five queues: every CQ's completion event is armed once.
    const qs = [5, 6, 7, 8, 9].map((qn) => rig.startQueue(qn, 0, { depth: 16 }));
    const slots = qs.map((q, i) => rig.submit(q, smallRequest(rig, i + 1)));
    rig.run();
    // Every completion reached its CQ.
    qs.forEach((q, i) => expect(rig.reap(q)).toEqual(slots[i]));
    // Three EQEs with phase 1 naming three different CQs; the fourth slot was never written (full ring: depth - 1).
    const eqes = eqEntries(rig);
    expect(eqes.slice(0, 3).every((e) => e.phase === 1 && e.cq >= 5 && e.cq <= 9)).toBe(true);
    expect(new Set(eqes.slice(0, 3).map((e) => e.cq)).size).toBe(3);
    expect(eqes[3]).toEqual({ cq: 0, phase: 0 });
    expect(rig.msi.received.filter((v) => v === MSI_EQ).length).toBe(1);
    expect(rig.msi.received.filter((v) => v === MSI_AEQ).length).toBe(1);
    expect(rig.r32(0x0)).toBe(1); // QM_VF_AEQ_INT_SOURCE
    expect(rig.reapAeq()).toEqual([{ qp: 0, type: AEQE_EQ_OVERFLOW }, { qp: 0, type: AEQE_EQ_OVERFLOW }]);
  });

  it('once the driver consumes the EQ (EQ doorbell with the new head) completions post EQEs again', () => {
    const rig = new ZipRig().startQm(64, { eqDepth: 4 });
    const qs = [1, 2, 3, 4].map((qn) => rig.startQueue(qn, 0, { depth: 16 }));
    qs.forEach((q, i) => rig.submit(q, smallRequest(rig, i + 1)));
    rig.run();
    expect(rig.reapEq().length).toBe(3);
    expect(rig.reapAeq()).toEqual([{ qp: 0, type: AEQE_EQ_OVERFLOW }]);
    for (const q of qs) rig.reap(q); // consumes and re-arms every CQ
    rig.submit(qs[1]!, smallRequest(rig, 9));
    rig.submit(qs[2]!, smallRequest(rig, 10));
    rig.run();
    expect(rig.reapEq().sort()).toEqual([2, 3]);
    expect(rig.reapAeq()).toEqual([]);
  });

  it('injection eq-overflow: the next completion loses its EQE and posts AEQE type 1; the one after is reported normally', () => {
    const rig = new ZipRig().startQm();
    const c = rig.startQueue(4, 0, { depth: 8 });
    rig.zip.inject({ kind: 'eq-overflow' });
    const [s0] = rig.submit(c, smallRequest(rig, 1));
    rig.run();
    expect(rig.reap(c)).toEqual([s0]);
    expect(rig.reapEq()).toEqual([]);
    expect(rig.reapAeq()).toEqual([{ qp: 0, type: AEQE_EQ_OVERFLOW }]);
    expect(rig.msi.received).toContain(MSI_AEQ);
    const [s1] = rig.submit(c, smallRequest(rig, 2));
    rig.run();
    expect(rig.reap(c)).toEqual([s1]);
    expect(rig.reapEq()).toEqual([4]);
    expect(rig.reapAeq()).toEqual([]);
  });

  it('a queue whose CQC has the completion-event flag clear posts no EQE, so it cannot overflow the EQ', () => {
    const rig = new ZipRig().startQm(64, { eqDepth: 2 });
    const q = rig.startQueue(0, 0, { depth: 16, cqFlag: false });
    const slots = rig.submit(q, ...[1, 2, 3, 4].map((t) => smallRequest(rig, t)));
    rig.run();
    expect(rig.reap(q).sort()).toEqual(slots);
    expect(rig.reapEq()).toEqual([]);
    expect(rig.reapAeq()).toEqual([]);
  });

  it('a controller reset (FLR) drops an armed eq-overflow injection', () => {
    const rig = new ZipRig().startQm();
    rig.zip.inject({ kind: 'eq-overflow' });
    const pcie = rig.findCap(0x10);
    rig.cfgWrite32(pcie + 8, rig.cfgRead32(pcie + 8) | (1 << 15));
    rig.queues.clear();
    rig.startQm();
    const q = rig.startQueue(0, 0, { depth: 8 });
    rig.submit(q, smallRequest(rig, 1));
    rig.run();
    expect(rig.reapEq()).toEqual([0]);
    expect(rig.reapAeq()).toEqual([]);
  });
});
