// QM v2 error reporting and reset handshakes as Linux hisi_qm uses them
// (qm_hw_error_handle_v2, qm_check_req_recv, qm_master_ooo_check / ACC_MASTER_*),
// memory init, and the error-injection API.
import { describe, it, expect } from 'vitest';
import { ZipRig, QM, makeSqe, REQ, STATUS, sampleData } from './zip-rig.js';
import { DEFAULT_COST } from '../../src/machine/cost.js';

function bigRequest(rig: ZipRig, len = 1 << 20): Uint8Array {
  const data = sampleData(len, 3);
  return makeSqe({ reqType: REQ.DEFLATE, src: rig.put(data), dst: rig.alloc(len + 4096), inLen: len, availOut: len + 4096 });
}

describe('QM memory init', () => {
  it('QM_MEM_START_INIT clears MEM_INIT_DONE until qmMemInitNs have passed', () => {
    const rig = new ZipRig();
    rig.enablePci();
    rig.w32(QM.MEM_START_INIT, 1);
    expect(rig.r32(QM.MEM_INIT_DONE) & 1).toBe(0);
    rig.run(DEFAULT_COST.qmMemInitNs - 1);
    expect(rig.r32(QM.MEM_INIT_DONE) & 1).toBe(0);
    rig.run(1);
    expect(rig.r32(QM.MEM_INIT_DONE) & 1).toBe(1);
  });
});

describe('QM abnormal interrupts (0x100000..)', () => {
  it('INT_SET injects, STATUS = SOURCE & ~MASK, SOURCE is write-1-to-clear, MSI vector 3 fires on the rising edge', () => {
    const rig = new ZipRig().startQm();
    rig.w32(QM.ABN_MASK, 1 << 4);
    rig.w32(QM.ABN_SET, (1 << 4) | (1 << 5));
    expect(rig.r32(QM.ABN_SOURCE)).toBe((1 << 4) | (1 << 5));
    expect(rig.r32(QM.ABN_STATUS)).toBe(1 << 5);
    expect(rig.msi.received.filter((v) => v === 3).length).toBe(1);
    rig.w32(QM.ABN_SET, 1 << 6); // already asserted: no new edge
    expect(rig.msi.received.filter((v) => v === 3).length).toBe(1);
    rig.w32(QM.ABN_SOURCE, (1 << 5) | (1 << 6));
    expect(rig.r32(QM.ABN_SOURCE)).toBe(1 << 4);
    expect(rig.r32(QM.ABN_STATUS)).toBe(0);
  });

  it('all sources masked at reset: nothing is signalled until the driver unmasks', () => {
    const rig = new ZipRig();
    rig.enablePci();
    expect(rig.r32(QM.ABN_MASK)).toBe(0x7fff);
    rig.w32(QM.ABN_SET, 1);
    expect(rig.msi.received).toEqual([]);
    rig.w32(QM.ABN_MASK, 0);
    expect(rig.msi.received).toEqual([3]);
  });

  it('injection: doorbell-timeout sets db_timeout and INF01 (type << 6 | function)', () => {
    const rig = new ZipRig().startQm();
    rig.zip.inject({ kind: 'doorbell-timeout', doorbellType: 2 });
    expect(rig.r32(QM.ABN_STATUS)).toBe(1 << 10);
    expect(rig.r32(QM.INF01)).toBe(2 << 6);
    rig.zip.inject({ kind: 'fifo-overflow', doorbellType: 1 });
    expect(rig.r32(QM.ABN_STATUS) & (1 << 11)).toBe(1 << 11);
    expect(rig.r32(QM.INF00)).toBe(1 << 6);
  });

  it('injection: ecc-1bit / ecc-mbit set HZIP_CORE_INT bits and raise the abnormal MSI', () => {
    const rig = new ZipRig().startQm();
    rig.zip.inject({ kind: 'ecc-1bit' });
    expect(rig.r32(QM.ZIP_CORE_INT_STATUS)).toBe(1);
    expect(rig.msi.received).toContain(3);
    rig.w32(QM.ZIP_CORE_INT_SOURCE, 1);
    expect(rig.r32(QM.ZIP_CORE_INT_STATUS)).toBe(0);
    rig.zip.inject({ kind: 'ecc-mbit' });
    expect(rig.r32(QM.ZIP_CORE_INT_STATUS)).toBe(2);
    rig.zip.inject({ kind: 'qm-ecc-mbit' });
    rig.zip.inject({ kind: 'qm-abnormal', bit: 'mailbox_timeout' });
    expect(rig.r32(QM.ABN_STATUS)).toBe((1 << 2) | (1 << 13));
  });

  it('an error selected by QM_OOO_SHUTDOWN_SEL stops the QM fetching SQEs until reset', () => {
    const rig = new ZipRig().startQm();
    rig.w32(QM.OOO_SHUTDOWN_SEL, 1 << 2);
    const q = rig.startQueue(0, 0, { depth: 8 });
    rig.zip.inject({ kind: 'qm-ecc-mbit' });
    rig.submit(q, bigRequest(rig, 100));
    rig.run();
    expect(rig.reap(q)).toEqual([]);
    expect(rig.r32(QM.DFX_SQE)).toBe(0);
  });

  it('injection: axi makes the next request end with the implementation-defined status and HZIP axi_rresp', () => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(0, 0, { depth: 8 });
    rig.zip.inject({ kind: 'axi' });
    const [slot] = rig.submit(q, bigRequest(rig, 100));
    rig.run();
    expect(rig.reap(q)).toEqual([slot]);
    expect(rig.result(q, slot!).status).toBe(STATUS.IMPLEMENTATION_DEFINED);
    expect(rig.r32(QM.ZIP_CORE_INT_SOURCE) & (1 << 2)).toBe(1 << 2);
    expect(rig.r32(QM.DFX_CQE_ERR)).toBe(1);
  });
});

describe('reset handshakes', () => {
  it('QM_PEH_VENDOR_ID reads back 0x5a5a then 0x19e5 (Linux qm_check_req_recv)', () => {
    const rig = new ZipRig().startQm();
    rig.w32(QM.PEH_VENDOR_ID, 0x5a5a);
    expect(rig.r32(QM.PEH_VENDOR_ID)).toBe(0x5a5a);
    rig.w32(QM.PEH_VENDOR_ID, 0x19e5);
    expect(rig.r32(QM.PEH_VENDOR_ID)).toBe(0x19e5);
  });

  it('ACC_MASTER_GLOBAL_CTRL shutdown: TRANS_RETURN reads 3 only once requests in flight have drained, and no new SQE is fetched', () => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(0, 0, { depth: 8 });
    rig.submit(q, bigRequest(rig));
    rig.run(100); // dispatched, compressing for ~0.5 ms of virtual time
    rig.w32(QM.MASTER_GLOBAL_CTRL, 1);
    expect(rig.r32(QM.MASTER_TRANS_RETURN)).toBe(0);
    rig.submit(q, bigRequest(rig, 100));
    rig.run();
    expect(rig.r32(QM.MASTER_TRANS_RETURN)).toBe(3);
    expect(rig.reap(q)).toEqual([0]); // the in-flight one finished, the new one waits
  });

  it('a function level reset returns QM state to reset: contexts invalid, VFT cleared, masks set', () => {
    const rig = new ZipRig().startQm();
    rig.startQueue(0, 0, { depth: 8 });
    const pcie = rig.findCap(0x10);
    rig.cfgWrite32(pcie + 8, rig.cfgRead32(pcie + 8) | (1 << 15)); // Device Control: Initiate FLR
    expect(rig.zip.qm.sqValid[0]).toBe(0);
    expect(rig.zip.qm.pfQNum).toBe(0);
    rig.enablePci();
    expect(rig.r32(QM.EQ_INT_MASK)).toBe(1);
    expect(rig.r32(QM.ABN_MASK)).toBe(0x7fff);
    expect(rig.r32(QM.MEM_INIT_DONE)).toBe(0);
  });
});

describe('QM DFX counters', () => {
  it('QM_DFX_CNT_CLR_CE bit 0 makes the DFX counters clear when read (Linux debugfs clear_enable)', () => {
    const rig = new ZipRig().startQm();
    const mb = rig.r32(QM.DFX_MB);
    expect(mb).toBeGreaterThan(0);
    expect(rig.r32(QM.DFX_MB)).toBe(mb); // not cleared by default
    rig.w32(0x100118, 1);
    expect(rig.r32(QM.DFX_MB)).toBe(mb);
    expect(rig.r32(QM.DFX_MB)).toBe(0);
    rig.w32(0x100118, 0);
    rig.startQueue(0, 0, { depth: 8 });
    expect(rig.r32(QM.DFX_MB)).toBe(2);
    expect(rig.r32(QM.DFX_MB)).toBe(2);
  });

  it('QM_DFX_SQE/CQE_CNT show the queue [31:16] and function [5:0] that QM_DFX_SQE_CNT_VF_SQN / QM_DFX_CQE_CNT_VF_CQN select; MB/DB_CNT the function of QM_DFX_MB/DB_CNT_VF (Linux debugfs current_q / current_qm)', () => {
    const { DFX_SQE_SEL: SQE_SEL, DFX_CQE_SEL: CQE_SEL, DFX_MB_SEL: MB_SEL, DFX_DB_SEL: DB_SEL } = QM;
    const rig = new ZipRig().startQm();
    const q1 = rig.startQueue(1, 0, { depth: 8 });
    const q3 = rig.startQueue(3, 0, { depth: 8 });
    const req = (seed: number): Uint8Array => {
      const data = sampleData(64, seed);
      return makeSqe({ reqType: REQ.DEFLATE, src: rig.put(data), dst: rig.alloc(256), inLen: data.length, availOut: 256, tag: seed });
    };
    rig.submit(q1, req(1));
    rig.submit(q3, req(2), req(3), req(4));
    rig.run();
    expect(rig.reap(q1).length + rig.reap(q3).length).toBe(4);
    // Reset selection: function 0, queue 0 (no request went there).
    expect(rig.r32(SQE_SEL)).toBe(0);
    expect(rig.r32(QM.DFX_SQE)).toBe(0);
    expect(rig.r32(QM.DFX_CQE)).toBe(0);
    rig.w32(SQE_SEL, 3 << 16);
    rig.w32(CQE_SEL, 3 << 16);
    expect(rig.r32(SQE_SEL) >>> 16).toBe(3);
    expect(rig.r32(QM.DFX_SQE)).toBe(3);
    expect(rig.r32(QM.DFX_CQE)).toBe(3);
    rig.w32(SQE_SEL, 1 << 16);
    rig.w32(CQE_SEL, 1 << 16);
    expect(rig.r32(QM.DFX_SQE)).toBe(1);
    expect(rig.r32(QM.DFX_CQE)).toBe(1);
    // Read-clear applies to the selected queue only.
    rig.w32(0x100118, 1);
    expect(rig.r32(QM.DFX_SQE)).toBe(1);
    expect(rig.r32(QM.DFX_SQE)).toBe(0);
    rig.w32(0x100118, 0);
    rig.w32(SQE_SEL, 3 << 16);
    expect(rig.r32(QM.DFX_SQE)).toBe(3);
    // A VF (function 5) has issued nothing: every counter of it reads 0.
    const mb = rig.r32(QM.DFX_MB);
    const db = rig.r32(QM.DFX_DB);
    expect(mb).toBeGreaterThan(0);
    expect(db).toBeGreaterThan(0);
    rig.w32(MB_SEL, 5);
    rig.w32(DB_SEL, 5);
    rig.w32(SQE_SEL, (3 << 16) | 5);
    expect(rig.r32(MB_SEL)).toBe(5);
    expect(rig.r32(QM.DFX_MB)).toBe(0);
    expect(rig.r32(QM.DFX_DB)).toBe(0);
    expect(rig.r32(QM.DFX_SQE)).toBe(0);
    rig.w32(MB_SEL, 0);
    rig.w32(DB_SEL, 0);
    expect(rig.r32(QM.DFX_MB)).toBe(mb);
    expect(rig.r32(QM.DFX_DB)).toBe(db);
    // A queue beyond the function's VFT range (64 queues) counts nothing.
    rig.w32(SQE_SEL, 64 << 16);
    expect(rig.r32(QM.DFX_SQE)).toBe(0);
  });
});
