// AxUSER of the QM's own bus-master transactions (Linux hisi_zip_set_user_domain_and_cache:
// QM_ARUSER_M_CFG_1 / QM_AWUSER_M_CFG_1 = AXUSER_BASE with ENABLE 0xfffffffe): bit n comes
// from CFG_1 where ENABLE bit n is set; bit 0 is SSV, so a QM write with it set carries a
// SubstreamID (the CQC pasid for a CQE, 0 otherwise). Seen in the DMA trace records' ssid.
import { describe, it, expect } from 'vitest';
import { ZipRig, makeSqe, REQ, sampleData } from './zip-rig.js';
import { TraceKind } from '../../src/trace/record.js';

const AWUSER_M_CFG_1 = 0x100098;
const AWUSER_M_CFG_ENABLE = 0x1000a0;
const ARUSER_M_CFG_1 = 0x100088;
const ARUSER_M_CFG_ENABLE = 0x100090;
const AXUSER_BASE = (1 << 30) | (1 << 12) | (1 << 6) | (1 << 5) | (1 << 4);

function complete(rig: ZipRig, pasid: number): { cqeSsid: number; eqeSsid: number } {
  const q = rig.startQueue(2, 0, { depth: 8, pasid });
  rig.machine.trace.enable();
  const data = sampleData(64, 1);
  rig.submit(q, makeSqe({ reqType: REQ.DEFLATE, src: rig.put(data), dst: rig.alloc(256), inLen: 64, availOut: 256 }));
  rig.run();
  const writes = [...rig.machine.trace.records()].filter((r) => r.kind === TraceKind.DmaWrite);
  const cqe = writes.find((r) => Number(r.iova) === q.cq)!;
  const eqe = writes.find((r) => Number(r.iova) === rig.eqBase)!;
  return { cqeSsid: cqe.ssid, eqeSsid: eqe.ssid };
}

describe('QM AxUSER (QM_AR/AWUSER_M_CFG_1 and _ENABLE)', () => {
  it("Linux's set-up (ENABLE 0xfffffffe) leaves SSV to the QM: CQE and EQE writes carry no SubstreamID", () => {
    const rig = new ZipRig().startQm();
    rig.w32(AWUSER_M_CFG_1, AXUSER_BASE | 1);
    rig.w32(AWUSER_M_CFG_ENABLE, 0xfffffffe);
    expect(complete(rig, 5)).toEqual({ cqeSsid: -1, eqeSsid: -1 });
  });

  it('AWUSER SSV enabled and set: the CQE write carries the CQC pasid, the EQE write SubstreamID 0', () => {
    const rig = new ZipRig().startQm();
    rig.w32(AWUSER_M_CFG_1, AXUSER_BASE | 1);
    rig.w32(AWUSER_M_CFG_ENABLE, 0xffffffff);
    expect(complete(rig, 5)).toEqual({ cqeSsid: 5, eqeSsid: 0 });
  });

  it("ARUSER SSV applies to the QM's reads: mailbox context loads carry SubstreamID 0", () => {
    const rig = new ZipRig().startQm();
    rig.w32(ARUSER_M_CFG_1, 1);
    rig.w32(ARUSER_M_CFG_ENABLE, 1);
    rig.machine.trace.enable();
    const q = rig.startQueue(3, 0, { depth: 8 });
    const reads = [...rig.machine.trace.records()].filter((r) => r.kind === TraceKind.DmaRead);
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.every((r) => r.ssid === 0)).toBe(true);
    expect(q.qn).toBe(3);
  });

  it('the other AxUSER bits and the cache/PEH registers read back as written', () => {
    const rig = new ZipRig().startQm();
    for (const off of [ARUSER_M_CFG_1, ARUSER_M_CFG_ENABLE, AWUSER_M_CFG_1, AWUSER_M_CFG_ENABLE, 0x1000a8, 0x1000ac, 0x1000b0, 0x1000cc, 0x1000d0]) {
      rig.w32(off, 0x40101070);
      expect(rig.r32(off)).toBe(0x40101070);
    }
  });
});

describe('CQC pasid enable (w11 bit 0, v3 form)', () => {
  it('a CQC with the PASID enable set makes its CQE writes carry the CQC pasid without AxUSER SSV', () => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(4, 0, { depth: 8, pasid: 9 });
    // Reload the CQC with w11 bit 0 set.
    const ctx = rig.alloc(32);
    rig.mailbox(1, q.qn, ctx, 1);
    rig.bus.write16(ctx + 22, rig.bus.read16(ctx + 22) | 1);
    rig.mailbox(1, q.qn, ctx, 0);
    rig.machine.trace.enable();
    const data = sampleData(64, 2);
    rig.submit(q, makeSqe({ reqType: REQ.DEFLATE, src: rig.put(data), dst: rig.alloc(256), inLen: 64, availOut: 256 }));
    rig.run();
    const cqe = [...rig.machine.trace.records()].find((r) => r.kind === TraceKind.DmaWrite && Number(r.iova) === q.cq)!;
    expect(cqe.ssid).toBe(9);
  });
});
