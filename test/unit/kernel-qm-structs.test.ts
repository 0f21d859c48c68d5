// hisi_qm driver field tables and word encodings against vectors computed from the
// Linux macros (qm.c QM_MK_SQC_DW3_V2, QM_MK_SQC_W13, QM_MK_CQC_DW3_V2, qm_mb_pre_init,
// qm_db_v2, qm_vft_data_cfg), and cross-checked with the device model's own tables.
import { describe, expect, it } from 'vitest';
import {
  QM_AEQE,
  QM_CQC,
  QM_CQE,
  QM_EQE,
  QM_MAILBOX,
  QM_MB_CMD,
  QM_SQC,
  qm_cqc_build,
  qm_eqc_build,
  qm_mb_word,
  qm_sqc_build,
} from '../../src/kernel/drivers/crypto/hisilicon/qm-structs.js';
import * as R from '../../src/kernel/drivers/crypto/hisilicon/qm-regs.js';
import { getField } from '../../src/kernel/lib/field-table.js';
import { qm_qp_dma_size } from '../../src/kernel/drivers/crypto/hisilicon/qm.js';
import { SQC as MODEL_SQC, CQC as MODEL_CQC } from '../../src/hw/qm/contexts.js';
import { CQE as MODEL_CQE, EQE as MODEL_EQE, AEQE as MODEL_AEQE } from '../../src/hw/qm/queue-entries.js';
import { MAILBOX as MODEL_MAILBOX } from '../../src/hw/qm/mailbox.js';

describe('QM context encodings (qm.c qm_sq_ctx_cfg / qm_cq_ctx_cfg / qm_eq_ctx_cfg, v2)', () => {
  it('SQC dw3 = (depth-1) | log2(128) << 12 = 0x73ff and w13 = orders 1 | alg_type << 8 in dword 6 [31:16]', () => {
    const w = qm_sqc_build({ base: 0x1_2345_6000, depth: 1024, sqeSizeLog2: 7, pasid: 0, pasidEnable: false, cqNum: 5, algType: 1 });
    expect(w[1]).toBe(0x23456000);
    expect(w[2]).toBe(0x1);
    expect(w[3]).toBe(0x73ff);
    expect(w[4]).toBe(0); // rand_qc 0 on v2
    expect(w[6]).toBe((0x0110 << 16) | 5);
    expect(getField(w, QM_SQC.f.alg_type)).toBe(1);
  });
  it('SQC w11 (byte 22): bit 7 PASID enable, bit 6 tail wrap; CQC w11 bit 0 PASID enable', () => {
    const s = qm_sqc_build({ base: 0, depth: 1024, sqeSizeLog2: 7, pasid: 0x1234, pasidEnable: true, cqNum: 0, algType: 0 });
    expect(QM_SQC.toBytes(s)[20]).toBe(0x34);
    expect(QM_SQC.toBytes(s)[22]).toBe(0x80);
    const c = qm_cqc_build({ base: 0, depth: 1024, pasid: 7, pasidEnable: true });
    expect(QM_CQC.toBytes(c)[22]).toBe(0x01);
    expect(QM_SQC.encode({ wrap: 1 })[5]).toBe(1 << 22);
  });
  it('CQC dw3 = 1023 | 4 << 12 (16-byte CQEs) and dw6 = phase 1 | flag 1', () => {
    const w = qm_cqc_build({ base: 0x4000_0000, depth: 1024, pasid: 0, pasidEnable: false });
    expect(w[3]).toBe(0x43ff);
    expect(w[6]).toBe(0x3);
  });
  it('EQC dw6 = 2047 | phase << 16, AEQC dw6 = 1023 | phase << 16', () => {
    expect(qm_eqc_build(0x4000_1000, 2048)[6]).toBe(0x107ff);
    expect(qm_eqc_build(0x4000_1000, 1024)[6]).toBe(0x103ff);
  });
  it('CQE: sq_head is the u16 at byte 8, phase is bit 0 of the u16 at byte 14; EQE/AEQE: phase bit 16, AEQE type [31:17]', () => {
    const b = new Uint8Array(16);
    b[8] = 0x2a;
    b[9] = 0x01;
    b[14] = 0x01;
    const w = QM_CQE.fromBytes(b);
    expect(getField(w, QM_CQE.f.sq_head)).toBe(0x12a);
    expect(getField(w, QM_CQE.f.phase)).toBe(1);
    expect(QM_EQE.encode({ cq_num: 3, phase: 1 })[0]).toBe(0x10003);
    expect(QM_AEQE.encode({ qp_id: 9, phase: 1, type: 2 })[0]).toBe((2 << 17) | (1 << 16) | 9);
  });
  it('the per-qp DMA area is PAGE_ALIGN(SQ + CQ) + one status page: 0x25000 for ZIP (128 B x 1024 + 16 B x 1024)', () => {
    expect(qm_qp_dma_size(128)).toBe(0x25000);
  });
});

describe('mailbox, doorbell and VFT words', () => {
  it('qm_mb_pre_init: w0 = cmd | op << 14 | busy << 13, queue_num in [31:16], base split in dwords 1-2', () => {
    const w = qm_mb_word(QM_MB_CMD.SQC, 0x1_2345_6780, 5, 0);
    expect([...w]).toEqual([0x0005_2000, 0x23456780, 0x1, 0]);
    const q = qm_mb_word(QM_MB_CMD.CQC, 0x8000, 0x3ff, 1);
    expect(q[0]).toBe(0x03ff_6001);
    expect(getField(q, QM_MAILBOX.f.op)).toBe(1);
  });
  it('qm_db_v2: qn [11:0], cmd [15:12], rand 0, index [47:32], priority [63:48]', () => {
    expect(R.qm_db_v2(3, R.QM_DOORBELL_CMD_SQ, 17, 0)).toEqual({ lo: 0x3, hi: 0x11 });
    expect(R.qm_db_v2(0x7ff, R.QM_DOORBELL_CMD_CQ, 1023, 1)).toEqual({ lo: 0x17ff, hi: 0x0001_03ff });
    expect(R.qm_db_v2(0, R.QM_DOORBELL_CMD_EQ, 5, 0)).toEqual({ lo: 0x2000, hi: 5 });
    expect(R.qm_db_v2(0, R.QM_DOORBELL_CMD_AEQ, 0, 0)).toEqual({ lo: 0x3000, hi: 0 });
    expect(R.qm_db_offset_v2(R.QM_DOORBELL_CMD_CQ, 9, 0)).toBe(0x1000);
    expect(R.qm_db_offset_v2(R.QM_DOORBELL_CMD_EQ, 0, 0)).toBe(0x2000);
    expect(R.qm_db_offset_v2(R.QM_DOORBELL_CMD_SQ, 2, 0x10000)).toBe(0x21000);
  });
  it('qm_db_v1: qn [15:0], cmd [31:16], index [47:32], priority [63:48]', () => {
    expect(R.qm_db_v1(3, R.QM_DOORBELL_CMD_CQ, 7, 1)).toEqual({ lo: 0x0001_0003, hi: 0x0001_0007 });
  });
  it('VFT v2: SQC data = base << 28 | valid bit 44 | (num-1) << 45; CQC data = valid bit 28; num 0 clears', () => {
    expect(R.qm_vft_data_v2(R.SQC_VFT, 0, 64)).toEqual({ lo: 0, hi: 0x1000 | (63 << 13) });
    expect(R.qm_vft_data_v2(R.SQC_VFT, 64, 32)).toEqual({ lo: 0, hi: 0x1000 | (31 << 13) | (64 >>> 4) });
    expect(R.qm_vft_data_v2(R.CQC_VFT, 0, 64)).toEqual({ lo: 0x1000_0000, hi: 0 });
    expect(R.qm_vft_data_v2(R.SQC_VFT, 0, 0)).toEqual({ lo: 0, hi: 0 });
    const d = R.qm_vft_data_v2(R.SQC_VFT, 100, 200);
    expect(R.qm_vft_decode_v2(d.lo, d.hi)).toEqual({ base: 100, number: 200 });
  });
  it('QM_CACHE_CTL v2 value = SQC/CQC cache, write-back enables, thresholds 1 (0x1833 in Linux terms)', () => {
    expect(R.QM_CACHE_CTL_V2).toBe(0x1 | 0x2 | 0x10 | (1 << 5) | 0x800 | (1 << 12));
  });
  it('abnormal classes: 1-bit ECC is the only CE; the reset set is Linux QM_BASE_NFE | wb_not_ready_timeout', () => {
    expect(R.QM_BASE_CE).toBe(1 << 3);
    expect(R.QM_BASE_NFE).toBe(0x1c57);
    expect(R.QM_BASE_NFE & R.QM_BASE_CE).toBe(0);
  });
});

describe('driver tables agree with the device model tables (written independently)', () => {
  const cases: [string, { fields: readonly { name: string; dword: number; lsb: number; width: number }[] }, { f: Record<string, { dword: number; lsb: number; width: number }> }, Record<string, string>][] = [
    ['SQC', QM_SQC, MODEL_SQC, { sq_depth: 'qes', sqe_size: 'sqe_size_log2', wrap: 'tail_wrap' }],
    ['CQC', QM_CQC, MODEL_CQC, { cq_depth: 'qes', cqe_size: 'cqe_size_log2', wrap: 'tail_wrap' }],
    ['CQE', QM_CQE, MODEL_CQE, {}],
    ['EQE', QM_EQE, MODEL_EQE, {}],
    ['AEQE', QM_AEQE, MODEL_AEQE, {}],
    ['MAILBOX', QM_MAILBOX, MODEL_MAILBOX, {}],
  ];
  for (const [name, drv, model, rename] of cases) {
    it(`${name}: every driver field the model also names sits at the same dword and bits`, () => {
      let compared = 0;
      for (const f of drv.fields) {
        if (f.name === 'rand_qc') continue; // model declares the 16-bit w8, Linux the whole dword
        const m = model.f[rename[f.name] ?? f.name];
        if (m === undefined) continue;
        expect([f.name, m.dword, m.lsb, m.width]).toEqual([f.name, f.dword, f.lsb, f.width]);
        compared++;
      }
      expect(compared).toBeGreaterThan(1);
    });
  }
});
