// Shared virtual addressing end to end on the board: the ZIP PF's data transfers
// carry the SQC PASID (v2: HZIP_DATA_RUSER/WUSER SSV), the SMMUv3 model translates
// them through the CD of that SubstreamID, and a fault on a stall-enabled CD holds
// the transfer until CMD_RESUME (IHI 0070 3.12.2), as the HiSilicon integrated
// endpoint relies on instead of PRI.
import { describe, it, expect } from 'vitest';
import * as zlib from 'node:zlib';
import { ZipRig, QM, CORE_INT, makeSqe, REQ, STATUS, sampleData } from './zip-rig.js';
import { Alloc, PageTable, bringUp, cmd, drainEvents, resume, writeCd, writeSte, cfgiAll, sync, PTE_AF, AP_RW_ALL, type Rig } from './smmuv3-harness.js';

const PASID = 1;
const VA_SRC = 0x7f00_0000_0000;
const VA_DST = 0x7f00_0010_0000;
const S1DSS_BYPASS = 1;

function svaRig(stall: boolean) {
  const zr = new ZipRig().startQm();
  const m = zr.machine;
  const port = zr.zip.fn.dma;
  const smmuRig: Rig = { m, smmu: m.smmu, port, mem: new Alloc(), irqs: { eventq: 0, priq: 0, cmdqSync: 0, gerror: 0, sev: 0 }, stallEnds: [], pageResponses: [] };
  const sid = m.pcie.enumerate().find((e) => e.fn === zr.zip.fn)!.streamId;
  const q = bringUp(smmuRig, { log2: 8 });
  const pt = new PageTable(smmuRig);
  const cds = smmuRig.mem.take(64 * 4, 64);
  writeCd(smmuRig, cds + PASID * 64, { ttb0: pt.ttb, asid: 7, s: stall, mair: 0xffn });
  writeSte(smmuRig, q.strtab + sid * 64, { cfg: 5, ctxPtr: cds, cdMax: 2, s1dss: S1DSS_BYPASS });
  cmd(smmuRig, cfgiAll(), sync());
  zr.w32(QM.ZIP_DATA_RUSER, 1);
  zr.w32(QM.ZIP_DATA_WUSER, 1);
  const queue = zr.startQueue(0, 0, { depth: 8, pasid: PASID });
  return { zr, smmuRig, q, pt, sid, queue };
}

/** Maps `len` bytes at `va` onto fresh pages of the ZIP rig; returns their PA. */
function mapRange(zr: ZipRig, pt: PageTable, va: number, len: number): number {
  const pa = zr.alloc(len, 4096);
  for (let off = 0; off < len; off += 4096) pt.map(va + off, pa + off, PTE_AF | AP_RW_ALL);
  return pa;
}

describe('ZIP with the SMMUv3 model (SVA)', () => {
  it('a request on a queue with PASID 1 reads and writes user virtual addresses through the CD of SubstreamID 1', () => {
    const { zr, pt, queue } = svaRig(false);
    const data = sampleData(20_000, 4);
    const srcPa = mapRange(zr, pt, VA_SRC, 20_480);
    zr.bus.writeBytes(srcPa, data);
    const dstPa = mapRange(zr, pt, VA_DST, 32_768);
    const [slot] = zr.submit(queue, makeSqe({ reqType: REQ.DEFLATE, src: VA_SRC, dst: VA_DST, inLen: data.length, availOut: 32_768 }));
    zr.run();
    expect(zr.reap(queue)).toEqual([slot]);
    const r = zr.result(queue, slot!);
    expect(r.status).toBe(STATUS.OK);
    const out = zr.bus.readBytes(dstPa, r.produced);
    expect(new Uint8Array(zlib.inflateRawSync(out))).toEqual(data);
  });

  it('a fault on a stall-enabled CD stalls the write; after the page is mapped, CMD_RESUME(retry) completes the request', () => {
    const { zr, smmuRig, q, pt, sid, queue } = svaRig(true);
    const data = sampleData(8000, 5);
    zr.bus.writeBytes(mapRange(zr, pt, VA_SRC, 8192), data);
    const [slot] = zr.submit(queue, makeSqe({ reqType: REQ.DEFLATE, src: VA_SRC, dst: VA_DST, inLen: data.length, availOut: 8192 }));
    zr.run();
    expect(zr.reap(queue)).toEqual([]);
    const evts = drainEvents(smmuRig, q, true);
    expect(evts.length).toBe(1);
    const e = evts[0]!;
    expect(e.stall).toBe(true);
    expect(e.ssv).toBe(true);
    expect(e.ssid).toBe(PASID);
    expect(Number(e.addr)).toBe(VA_DST);
    expect(e.rnw).toBe(false);
    const dstPa = mapRange(zr, pt, VA_DST, 8192);
    cmd(smmuRig, resume(sid, e.stag, true));
    zr.run();
    expect(zr.reap(queue)).toEqual([slot]);
    const r = zr.result(queue, slot!);
    expect(r.status).toBe(STATUS.OK);
    expect(new Uint8Array(zlib.inflateRawSync(zr.bus.readBytes(dstPa, r.produced)))).toEqual(data);
  });

  it('two requests on two queues stall on their destination writes; CMD_RESUME in the opposite order completes each after its own resume (one STAG per held transfer)', () => {
    const { zr, smmuRig, q, pt, sid, queue } = svaRig(true);
    const second = zr.startQueue(1, 0, { depth: 8, pasid: PASID });
    const VA_SRC_B = VA_SRC + 0x10_0000 * 2;
    const VA_DST_B = VA_DST + 0x10_0000 * 2;
    const dataA = sampleData(6000, 6);
    const dataB = sampleData(7000, 7);
    zr.bus.writeBytes(mapRange(zr, pt, VA_SRC, 8192), dataA);
    zr.bus.writeBytes(mapRange(zr, pt, VA_SRC_B, 8192), dataB);
    const [slotA] = zr.submit(queue, makeSqe({ reqType: REQ.DEFLATE, src: VA_SRC, dst: VA_DST, inLen: dataA.length, availOut: 8192 }));
    const [slotB] = zr.submit(second, makeSqe({ reqType: REQ.DEFLATE, src: VA_SRC_B, dst: VA_DST_B, inLen: dataB.length, availOut: 8192 }));
    zr.run();
    const evts = drainEvents(smmuRig, q, true);
    expect(evts.map((e) => [e.stall, Number(e.addr)])).toEqual([[true, VA_DST], [true, VA_DST_B]]);
    expect(evts[0]!.stag).not.toBe(evts[1]!.stag);
    const dstA = mapRange(zr, pt, VA_DST, 8192);
    const dstB = mapRange(zr, pt, VA_DST_B, 8192);
    cmd(smmuRig, resume(sid, evts[1]!.stag, true));
    zr.run();
    expect(zr.reap(second)).toEqual([slotB]);
    expect(zr.reap(queue)).toEqual([]);
    cmd(smmuRig, resume(sid, evts[0]!.stag, true));
    zr.run();
    expect(zr.reap(queue)).toEqual([slotA]);
    const a = zr.result(queue, slotA!);
    const b = zr.result(second, slotB!);
    expect([a.status, b.status]).toEqual([STATUS.OK, STATUS.OK]);
    expect(new Uint8Array(zlib.inflateRawSync(zr.bus.readBytes(dstA, a.produced)))).toEqual(dataA);
    expect(new Uint8Array(zlib.inflateRawSync(zr.bus.readBytes(dstB, b.produced)))).toEqual(dataB);
  });

  it('CMD_RESUME with abort ends the request whose destination write stalled with the implementation-defined status and HZIP axi_bresp', () => {
    const { zr, smmuRig, q, pt, sid, queue } = svaRig(true);
    zr.bus.writeBytes(mapRange(zr, pt, VA_SRC, 4096), sampleData(4000));
    const [slot] = zr.submit(queue, makeSqe({ reqType: REQ.DEFLATE, src: VA_SRC, dst: VA_DST, inLen: 4000, availOut: 8192 }));
    zr.run();
    const [e] = drainEvents(smmuRig, q, true);
    cmd(smmuRig, resume(sid, e!.stag, false));
    zr.run();
    expect(zr.reap(queue)).toEqual([slot]);
    expect(zr.result(queue, slot!).status).toBe(STATUS.IMPLEMENTATION_DEFINED);
    expect(zr.r32(QM.ZIP_CORE_INT_SOURCE) & CORE_INT.axi_bresp).toBe(CORE_INT.axi_bresp);
  });
});
