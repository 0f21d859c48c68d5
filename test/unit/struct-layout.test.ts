// The device models' structure-layout module (src/hw/regs/struct-layout.ts): both field
// notations, the one-dword fast path and the exact path across dwords, address fields,
// unions, and the whole-structure helpers; the QM and ZIP tables held against values the
// Linux driver and UADK compute (hisi_qm.c QM_MK_*_V2 macros, qm_mb_pre_init, qm_get_vft_v2,
// zip_crypto.c, hisi_comp.c).
import { describe, it, expect } from 'vitest';
import { depositBits, dw, dwAddr, extractBits, StructLayout } from '../../src/hw/regs/struct-layout.js';
import { SQC, CQC, EQC } from '../../src/hw/qm/contexts.js';
import { CQE, EQE, AEQE } from '../../src/hw/qm/queue-entries.js';
import { MAILBOX } from '../../src/hw/qm/mailbox.js';
import { ZIP_SQE } from '../../src/hw/zip/sqe.js';
import { SGL_HEADER, SGE } from '../../src/hw/zip/sgl.js';

describe('StructLayout', () => {
  it('extract/deposit handle fields that straddle 32-bit words', () => {
    const w = new Uint32Array(4);
    depositBits(w, 28, 40, 0xab_cdef_1234);
    expect(extractBits(w, 28, 40)).toBe(0xab_cdef_1234);
    expect(w[0]! >>> 28).toBe(0x4);
    depositBits(w, 0, 52, 2 ** 52 - 1);
    expect(extractBits(w, 0, 52)).toBe(2 ** 52 - 1);
  });

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

  it('[msb:lsb] ranges over the whole structure: one-dword fields take the mask path, others the exact path', () => {
    const L = new StructLayout('R', 20, { Low: dw(0, 3, 1), High: dw(0, 63, 48), Span: dw(1, 39, 20), Word: [159, 128] });
    expect([L.f.Low.dword, L.f.Low.lsb, L.f.Low.width, L.f.Low.mask]).toEqual([0, 1, 3, 7]);
    expect([L.f.High.dword, L.f.High.lsb, L.f.High.width, L.f.High.mask]).toEqual([1, 16, 16, 0xffff]);
    expect([L.f.Span.dword, L.f.Span.lsb, L.f.Span.width, L.f.Span.mask]).toEqual([2, 20, 20, 0]);
    expect(L.f.Word.mask).toBe(0xffffffff);
    const w = new Uint32Array(5).fill(0xffffffff);
    L.set(w, L.f.Span, 0xa_bcde);
    expect(L.get(w, L.f.Span)).toBe(0xa_bcde);
    expect([w[2]! & 0xfffff, w[3]! >>> 8]).toEqual([0xfffff, 0xffffff]); // neighbours untouched
    L.set(w, L.f.Word, 0x8000_0001);
    expect(L.get(w, L.f.Word)).toBe(0x8000_0001);
    L.set(w, L.f.Low, true);
    expect(L.get(w, L.f.Low)).toBe(1);
    expect(L.flag(w, L.f.Low)).toBe(true);
    L.set(w, L.f.Low, false);
    expect(L.flag(w, L.f.Low)).toBe(false);
    expect(() => new StructLayout('R', 8, { Big: [63, 10] })).toThrow(/R.Big: bad bit range \[63:10\]/); // 54 bits
    expect(() => new StructLayout('R', 8, { Out: [64, 60] })).toThrow(/bad bit range/);
  });

  it('address fields read and write the address, bits in place within their 64-bit dword', () => {
    const L = new StructLayout('A', 16, { Ptr: dwAddr(0, 55, 6), Top: dw(0, 63, 56), Page: dwAddr(1, 63, 12) });
    const w = new Uint32Array(4);
    L.set(w, L.f.Ptr, 0x1234_5678_9ac0 + 0x3f); // the low 6 bits are not part of the field
    expect(L.get(w, L.f.Ptr)).toBe(0x1234_5678_9ac0);
    expect(w[0]! & 0x3f).toBe(0);
    L.set(w, L.f.Page, 0xf_ffff_f000);
    expect([w[2], w[3]]).toEqual([0xfffff000, 0xf]);
    expect(L.decode(w)).toEqual({ Ptr: 0x1234_5678_9ac0, Top: 0, Page: 0xf_ffff_f000 });
  });

  it('a union may share bits; a table that is not refuses it', () => {
    const defs = { IPA: dwAddr(0, 51, 12), FetchAddr: dwAddr(0, 51, 3) };
    expect(() => new StructLayout('U', 8, defs)).toThrow(/overlaps/);
    const U = new StructLayout('U', 8, defs, { union: true });
    const w = U.encode({ FetchAddr: 0x1238 });
    expect(U.get(w, U.f.IPA)).toBe(0x1000);
  });

  it('encode/decode by name, bytes in and out', () => {
    const L = new StructLayout('E', 8, [
      { name: 'a', dword: 0, lsb: 0, width: 16 },
      { name: 'b', dword: 1, lsb: 0, width: 32, description: 'whole dword' },
    ]);
    const w = L.encode({ a: 0x1234, b: 0xdeadbeef });
    expect(L.decode(w)).toEqual({ a: 0x1234, b: 0xdeadbeef });
    expect([...L.toBytes(w)]).toEqual([0x34, 0x12, 0, 0, 0xef, 0xbe, 0xad, 0xde]);
    const into = new Uint32Array(2);
    expect(L.fromBytes(new Uint8Array([9, 9, 9, 9, 0x34, 0x12, 0, 0, 1, 0, 0, 0]), into, 4)).toBe(into);
    expect([...into]).toEqual([0x1234, 1]);
    expect(L.f.b.description).toBe('whole dword');
    expect(() => L.encode({ c: 1 } as never)).toThrow(/E: no field c/);
  });
});

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
