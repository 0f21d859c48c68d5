// QM v2 mailbox, contexts and VFT, as Linux hisi_qm (qm_mb_nolock, qm_set_vft_common,
// qm_get_vft_v2, hisi_qm_start_qp) relies on them. Driven through machine.bus only.
import { describe, it, expect } from 'vitest';
import { ZipRig, QM, MB_CMD, DB_CMD } from './zip-rig.js';
import { DEFAULT_COST } from '../../src/machine/cost.js';

const BUSY = 1 << 13;

function ctxBytes(rig: ZipRig, at: number, n = 32): DataView {
  const b = rig.bus.readBytes(at, n);
  return new DataView(b.buffer);
}

describe('QM mailbox (Linux qm_mb_nolock)', () => {
  it('a 128-bit command written as two 64-bit stores is busy until it completes after qmMailboxNs', () => {
    const rig = new ZipRig();
    rig.enablePci();
    const w0 = rig.mailbox(MB_CMD.SQC_BT, 0, 0x4100_0000, 0, { wait: false });
    expect(w0 & BUSY).toBe(BUSY);
    rig.run(DEFAULT_COST.qmMailboxNs - 1);
    expect(rig.r32(QM.MB) & BUSY).toBe(BUSY);
    rig.run(1);
    expect(rig.r32(QM.MB) & BUSY).toBe(0);
    expect(rig.mbStatus(rig.r32(QM.MB))).toBe(0);
  });

  it('the command fires on the write that completes all 16 bytes, in any order of 32-bit writes', () => {
    const rig = new ZipRig();
    rig.enablePci();
    // SQC_BT query (op=1) of a base set before: write dwords 3, 1, 2 then 0
    rig.mailbox(MB_CMD.SQC_BT, 0, 0x4123_4000, 0);
    const w0 = MB_CMD.SQC_BT | BUSY | (1 << 14);
    rig.w32(QM.MB + 12, 0);
    rig.w32(QM.MB + 4, 0);
    rig.w32(QM.MB + 8, 0);
    rig.run(DEFAULT_COST.qmMailboxNs * 2);
    expect(rig.r32(QM.MB_DATA_L)).toBe(0); // nothing ran: the word is incomplete
    rig.w32(QM.MB, w0);
    expect(rig.r32(QM.MB) & BUSY).toBe(BUSY);
    rig.run();
    expect(rig.r32(QM.MB_DATA_L)).toBe(0x4123_4000);
    expect(rig.r32(QM.MB_DATA_H)).toBe(0);
  });

  it('reads of 0x304/0x308 return QM_MB_CMD_DATA_ADDR_L/H, not the written base address', () => {
    const rig = new ZipRig().startQm();
    rig.mailbox(MB_CMD.SQC_VFT_V2, 0, 0x4abc_d000, 1);
    // PF VFT from startQm: base 0, 64 queues: data = valid bit 44 | 63 << 45
    const data = (BigInt(rig.r32(QM.MB_DATA_H)) << 32n) | BigInt(rig.r32(QM.MB_DATA_L));
    expect((data >> 28n) & 0xffffn).toBe(0n);
    expect(((data >> 45n) & 0x3ffn) + 1n).toBe(64n);
  });

  it('a command written while busy is discarded and the running command completes with a non-zero status', () => {
    const rig = new ZipRig();
    rig.enablePci();
    rig.mailbox(MB_CMD.SQC_BT, 0, 0x4100_0000, 0, { wait: false });
    rig.mailbox(MB_CMD.CQC_BT, 0, 0x4200_0000, 0, { wait: false });
    rig.run();
    expect(rig.mbStatus(rig.r32(QM.MB))).not.toBe(0);
    rig.mailbox(MB_CMD.CQC_BT, 0, 0, 1);
    expect(rig.r32(QM.MB_DATA_L)).toBe(0); // CQC_BT was never set
    expect(rig.mbStatus(rig.r32(QM.MB))).toBe(0); // the next command succeeds
  });

  it('unknown commands and v3-only commands (STOP_QP) fail with a non-zero status, not an exception', () => {
    const rig = new ZipRig();
    rig.enablePci();
    for (const cmd of [MB_CMD.STOP_QP, 0x7, 0xc, 0xd, 0xff]) {
      const w0 = rig.mailbox(cmd, 0, 0, 0);
      expect(w0 & BUSY).toBe(0);
      expect(rig.mbStatus(w0)).not.toBe(0);
    }
  });

  it('a queue number beyond QM_CAPBILITY fails the SQC/CQC command', () => {
    const rig = new ZipRig().startQm();
    expect(rig.r32(QM.CAPBILITY) & 0x7ff).toBe(1024);
    const ctx = rig.alloc(32);
    expect(rig.mbStatus(rig.mailbox(MB_CMD.SQC, 1024, ctx, 0))).not.toBe(0);
    expect(rig.mbStatus(rig.mailbox(MB_CMD.CQC, 0xffff, ctx, 1))).not.toBe(0);
  });

  it('a context DMA that hits nothing fails the command and raises axi_rresp', () => {
    const rig = new ZipRig().startQm();
    const w0 = rig.mailbox(MB_CMD.SQC, 1, 0x7_0000_0000, 0);
    expect(rig.mbStatus(w0)).not.toBe(0);
    expect(rig.r32(QM.ABN_SOURCE) & 1).toBe(1);
    expect(rig.msi.received).toContain(3);
  });

  it('QM_DFX_MB_CNT counts mailbox commands', () => {
    const rig = new ZipRig().startQm();
    const before = rig.r32(QM.DFX_MB);
    rig.mailbox(MB_CMD.SQC_BT, 0, 0, 1);
    rig.mailbox(MB_CMD.CQC_BT, 0, 0, 1);
    expect(rig.r32(QM.DFX_MB) - before).toBe(2);
  });
});

describe('QM contexts', () => {
  it('SQC load then dump returns the context with the live head/tail (hisi_qm_start_qp, qm_drain_qp)', () => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(3, 0, { depth: 16, pasid: 0x55 });
    const dump = rig.alloc(32);
    rig.mailbox(MB_CMD.SQC, 3, dump, 1);
    let v = ctxBytes(rig, dump);
    expect(v.getUint32(4, true)).toBe(q.sq >>> 0);
    expect(v.getUint32(12, true)).toBe(15 | (7 << 12));
    expect(v.getUint16(20, true)).toBe(0x55);
    expect(v.getUint16(24, true)).toBe(3);
    expect((v.getUint16(26, true) >>> 8) & 0xf).toBe(0);
    expect(v.getUint16(0, true)).toBe(0);
    expect(v.getUint16(2, true)).toBe(0);
    // ring the doorbell with 2 bogus SQEs; the engine fetches and completes them
    rig.submit(q, new Uint8Array(128), new Uint8Array(128));
    rig.run();
    rig.mailbox(MB_CMD.SQC, 3, dump, 1);
    v = ctxBytes(rig, dump);
    expect(v.getUint16(0, true)).toBe(2); // head
    expect(v.getUint16(2, true)).toBe(2); // tail
    const cdump = rig.alloc(32);
    rig.mailbox(MB_CMD.CQC, 3, cdump, 1);
    const c = ctxBytes(rig, cdump);
    expect(c.getUint16(2, true)).toBe(2); // CQ tail: the v2 stop loop waits for sqc.tail == cqc.tail
    expect(c.getUint32(24, true) & 1).toBe(1); // phase still 1 on lap 0
  });

  it('the SQC/CQC tail wrap bits (w11 bit 6) agree after whole laps, as the v2 drain check requires', () => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(1, 0, { depth: 4 });
    for (let i = 0; i < 5; i++) {
      rig.submit(q, new Uint8Array(128));
      rig.run();
      rig.reap(q);
    }
    const s = rig.alloc(32);
    const c = rig.alloc(32);
    rig.mailbox(MB_CMD.SQC, 1, s, 1);
    rig.mailbox(MB_CMD.CQC, 1, c, 1);
    const sv = ctxBytes(rig, s);
    const cv = ctxBytes(rig, c);
    expect(sv.getUint16(2, true)).toBe(1);
    expect(cv.getUint16(2, true)).toBe(1);
    expect((sv.getUint16(22, true) >>> 6) & 1).toBe(1);
    expect((cv.getUint16(22, true) >>> 6) & 1).toBe(1);
  });

  it('EQC and AEQC load and dump (depth - 1 and phase in dw6)', () => {
    const rig = new ZipRig().startQm();
    const d = rig.alloc(32);
    rig.mailbox(MB_CMD.EQC, 0, d, 1);
    let v = ctxBytes(rig, d, 28);
    expect(v.getUint32(4, true)).toBe(rig.eqBase >>> 0);
    expect(v.getUint32(24, true)).toBe(2047 | (1 << 16));
    rig.mailbox(MB_CMD.AEQC, 0, d, 1);
    v = ctxBytes(rig, d, 28);
    expect(v.getUint32(4, true)).toBe(rig.aeqBase >>> 0);
    expect(v.getUint32(24, true)).toBe(1023 | (1 << 16));
  });

  it('SQC_BT/CQC_BT set the table bases; QM_CACHE_WB_START writes the contexts there and sets DONE', () => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(5, 1, { depth: 8 });
    rig.mailbox(MB_CMD.SQC_BT, 0, 0, 1);
    expect(rig.r32(QM.MB_DATA_L)).toBe(rig.sqcBt >>> 0);
    rig.w32(QM.CACHE_WB_START, 1);
    expect(rig.r32(QM.CACHE_WB_DONE) & 1).toBe(0);
    rig.run();
    expect(rig.r32(QM.CACHE_WB_DONE) & 1).toBe(1);
    expect(rig.bus.read32(rig.sqcBt + 5 * 32 + 4)).toBe(q.sq >>> 0);
    expect(rig.bus.read32(rig.cqcBt + 5 * 32 + 4)).toBe(q.cq >>> 0);
  });
});

describe('QM VFT (Linux qm_set_vft_common)', () => {
  it('OP_ENABLE applies DATA_L/H to the function and type in CFG/TYPE and sets RDY', () => {
    const rig = new ZipRig();
    rig.enablePci();
    rig.setPfVft(16, 8);
    expect(rig.r32(QM.VFT_RDY) & 1).toBe(1);
    expect(rig.zip.qm.pfQBase).toBe(16);
    expect(rig.zip.qm.pfQNum).toBe(8);
    // read back through OP_WR = 1
    rig.w32(QM.VFT_OP_WR, 1);
    rig.w32(QM.VFT_TYPE, 0);
    rig.w32(QM.VFT_CFG, 0);
    rig.w32(QM.VFT_DATA_L, 0);
    rig.w32(QM.VFT_DATA_H, 0);
    rig.w32(QM.VFT_OP_ENABLE, 1);
    const data = (BigInt(rig.r32(QM.VFT_DATA_H)) << 32n) | BigInt(rig.r32(QM.VFT_DATA_L));
    expect(data).toBe((16n << 28n) | (1n << 44n) | (7n << 45n));
  });

  it('queues outside the PF range are invalid: an SQ doorbell raises sq_vf_invalid, a CQ doorbell cq_vf_invalid', () => {
    const rig = new ZipRig().startQm(4);
    rig.startQueue(6, 0, { depth: 8 });
    rig.doorbell(6, DB_CMD.SQ, 1);
    rig.run();
    expect(rig.r32(QM.ABN_SOURCE) & (1 << 9)).toBe(1 << 9);
    rig.doorbell(6, DB_CMD.CQ, 1);
    expect(rig.r32(QM.ABN_SOURCE) & (1 << 8)).toBe(1 << 8);
    expect(rig.zip.qm.dfxSqe).toBe(0);
  });
});
