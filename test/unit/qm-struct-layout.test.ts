// The model's field tables held against values the Linux driver and UADK compute
// (hisi_qm.c QM_MK_*_V2 macros, qm_mb_pre_init, qm_get_vft_v2, zip_crypto.c, hisi_comp.c).
import { describe, it, expect } from 'vitest';
import { StructLayout } from '../../src/hw/qm/struct-layout.js';
import { SQC, CQC, EQC } from '../../src/hw/qm/contexts.js';
import { CQE, EQE, AEQE } from '../../src/hw/qm/queue-entries.js';
import { MAILBOX } from '../../src/hw/qm/mailbox.js';
import { ZIP_SQE } from '../../src/hw/zip/sqe.js';
import { SGL_HEADER, SGE } from '../../src/hw/zip/sgl.js';

describe('QM structure layouts', () => {
  it('SQC dw3 = QM_MK_SQC_DW3_V2(128, 1024) = 0x73ff; w13 for a decompress qp = orders 1 | alg 1 << 8', () => {
    const w = SQC.encode({ qes: 1023, sqe_size_log2: 7, cq_num: 5, orders: 1, alg_type: 1, pasid: 3, pasid_en: 1 });
    expect(w[3]).toBe(0x73ff);
    const b = new DataView(SQC.toBytes(w).buffer);
    expect(b.getUint16(24, true)).toBe(5); // cq_num
    expect(b.getUint16(26, true)).toBe(0x110); // w13
    expect(b.getUint16(20, true)).toBe(3); // pasid
    expect(b.getUint16(22, true)).toBe(0x80); // w11 bit 7 = QM_QC_PASID_ENABLE
  });

  it('CQC dw3 = QM_MK_CQC_DW3_V2(16, 1024) = 0x43ff; dw6 = phase | flag = 3', () => {
    const w = CQC.encode({ qes: 1023, cqe_size_log2: 4, phase: 1, flag: 1 });
    expect(w[3]).toBe(0x43ff);
    expect(w[6]).toBe(3);
  });

  it('EQC dw6 = (depth - 1) | phase << 16 (QM_EQ_DEPTH 2048: 0x107ff)', () => {
    expect(EQC.encode({ qes: 2047, phase: 1 })[6]).toBe(0x107ff);
    expect(EQC.bytes).toBe(28);
  });

  it('CQE phase is w7 bit 0 (byte 14), sq_head at byte 8; EQE phase bit 16; AEQE type at bit 17', () => {
    const b = new DataView(CQE.toBytes(CQE.encode({ sq_head: 0x1234, sq_num: 7, phase: 1 })).buffer);
    expect(b.getUint16(8, true)).toBe(0x1234);
    expect(b.getUint16(10, true)).toBe(7);
    expect(b.getUint16(14, true)).toBe(1);
    expect(EQE.encode({ cq_num: 9, phase: 1 })[0]).toBe(0x10009);
    expect(AEQE.encode({ qp_id: 3, phase: 1, type: 2 })[0]).toBe(3 | (1 << 16) | (2 << 17));
  });

  it('mailbox w0 = cmd | busy << 13 | op << 14, queue_num at bytes 2-3 (qm_mb_pre_init)', () => {
    const w = MAILBOX.encode({ cmd: 6, busy: 1, op: 1, queue_num: 0x2a, base_l: 0x1000 });
    expect(w[0]).toBe(6 | (1 << 13) | (1 << 14) | (0x2a << 16));
    expect(w[1]).toBe(0x1000);
    expect(MAILBOX.decode(new Uint32Array([0x2000 | (0xf << 9), 0, 0, 0])).status).toBe(0xf);
  });
});

describe('ZIP structure layouts', () => {
  it('SQE dw7/dw9 as UADK fill_zip_comp_sqe builds them', () => {
    // stream_new | stateful | FINISH << 25; zlib, SGL, 32K window
    const w = ZIP_SQE.encode({ flush_type: 1, stream_mode: 1, stream_new: 1, req_type: 2, buf_type: 1, window: 4, in_sge_data_offset: 2 });
    expect(w[7]).toBe(((1 << 2) | (1 << 1) | 1) << 25 | 2);
    expect(w[9]).toBe(0x4102);
    expect(ZIP_SQE.f.checksum.dword).toBe(31);
    expect(ZIP_SQE.f.isize.dword).toBe(30);
    expect(ZIP_SQE.f.dest_avail_out.dword).toBe(14);
    expect(ZIP_SQE.f.stream_ctx_addr_l.dword).toBe(22);
    expect(ZIP_SQE.decode(new Uint32Array(32).fill(0x1ff, 3, 4)).lstblk).toBe(1);
  });

  it('SGL header counts at bytes 8/10/12 and SGE len at byte 16 (struct hisi_acc_hw_sgl / acc_hw_sge)', () => {
    const h = new DataView(SGL_HEADER.toBytes(SGL_HEADER.encode({ entry_sum_in_chain: 1, entry_sum_in_sgl: 2, entry_length_in_sgl: 3 })).buffer);
    expect([h.getUint16(8, true), h.getUint16(10, true), h.getUint16(12, true)]).toEqual([1, 2, 3]);
    const e = new DataView(SGE.toBytes(SGE.encode({ len: 4096 })).buffer);
    expect(e.getUint32(16, true)).toBe(4096);
    expect(SGE.bytes).toBe(32);
  });
});

describe('StructLayout', () => {
  it('rejects overlapping fields, bad bit ranges and fields outside the structure', () => {
    expect(() => new StructLayout('X', 4, [{ name: 'a', dword: 0, lsb: 0, width: 8 }, { name: 'b', dword: 0, lsb: 4, width: 8 }])).toThrow(/overlaps/);
    expect(() => new StructLayout('X', 4, [{ name: 'a', dword: 0, lsb: 30, width: 4 }])).toThrow(/bit range/);
    expect(() => new StructLayout('X', 4, [{ name: 'a', dword: 1, lsb: 0, width: 4 }])).toThrow(/outside/);
  });

  it('set masks the value to the field width and leaves other bits alone', () => {
    const L = new StructLayout('X', 4, [{ name: 'a', dword: 0, lsb: 4, width: 4 }]);
    const w = new Uint32Array([0xffffffff]);
    L.set(w, L.f.a, 0x12);
    expect(w[0]).toBe(0xffffff2f);
    expect(L.get(w, L.f.a)).toBe(2);
    expect(L.format(w)).toBe('a=0x2');
  });
});
