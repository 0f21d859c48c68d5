// QM queue contexts as the hardware reads them from memory (hisi_qm, reference
// section 3): SQC and CQC (32 bytes each), EQC and AEQC (28 bytes). The guest
// driver keeps its own declarations; tests hold both against the Linux layout.

import { StructLayout } from '../regs/struct-layout.js';

/** Submission queue context (Linux `struct qm_sqc`). */
export const SQC = new StructLayout('SQC', 32, [
  { name: 'head', dword: 0, lsb: 0, width: 16, description: 'HW-owned SQ head (next SQE to fetch)' },
  { name: 'tail', dword: 0, lsb: 16, width: 16, description: 'SQ tail from the last SQ doorbell' },
  { name: 'base_l', dword: 1, lsb: 0, width: 32 },
  { name: 'base_h', dword: 2, lsb: 0, width: 32 },
  { name: 'qes', dword: 3, lsb: 0, width: 12, description: 'V2: SQ depth - 1' },
  { name: 'sqe_size_log2', dword: 3, lsb: 12, width: 4, description: 'V2: log2(SQE size), 7 = 128 B' },
  { name: 'rand_qc', dword: 4, lsb: 0, width: 16, description: 'w8; V2 writes 0' },
  { name: 'pasid', dword: 5, lsb: 0, width: 16 },
  { name: 'tail_wrap', dword: 5, lsb: 22, width: 1, description: 'w11 bit6: lap parity of tail' },
  { name: 'pasid_en', dword: 5, lsb: 23, width: 1, description: 'w11 bit7: V3 PASID enable' },
  { name: 'cq_num', dword: 6, lsb: 0, width: 16 },
  { name: 'priority', dword: 6, lsb: 16, width: 4, description: 'w13[3:0]' },
  { name: 'orders', dword: 6, lsb: 20, width: 4, description: 'w13[7:4]' },
  { name: 'alg_type', dword: 6, lsb: 24, width: 4, description: 'w13[11:8]: ZIP 0 compress, 1 decompress' },
]);

/** Completion queue context (Linux `struct qm_cqc`). */
export const CQC = new StructLayout('CQC', 32, [
  { name: 'head', dword: 0, lsb: 0, width: 16, description: 'CQ head from the last CQ doorbell' },
  { name: 'tail', dword: 0, lsb: 16, width: 16, description: 'HW-owned CQ tail (next CQE slot)' },
  { name: 'base_l', dword: 1, lsb: 0, width: 32 },
  { name: 'base_h', dword: 2, lsb: 0, width: 32 },
  { name: 'qes', dword: 3, lsb: 0, width: 12, description: 'V2: CQ depth - 1' },
  { name: 'cqe_size_log2', dword: 3, lsb: 12, width: 4, description: 'V2: log2(CQE size), 4 = 16 B' },
  { name: 'rand_qc', dword: 4, lsb: 0, width: 16 },
  { name: 'pasid', dword: 5, lsb: 0, width: 16 },
  { name: 'pasid_en', dword: 5, lsb: 16, width: 1, description: 'w11 bit0: V3 PASID enable' },
  { name: 'tail_wrap', dword: 5, lsb: 22, width: 1, description: 'w11 bit6: lap parity of tail' },
  { name: 'phase', dword: 6, lsb: 0, width: 1, description: 'phase HW writes in the next CQE (init 1)' },
  { name: 'flag', dword: 6, lsb: 1, width: 1, description: 'completion event enable: an EQE per CQE' },
]);

/** Event queue / asynchronous event queue context (Linux `struct qm_eqc` / `qm_aeqc`). */
export const EQC = new StructLayout('EQC', 28, [
  { name: 'head', dword: 0, lsb: 0, width: 16 },
  { name: 'tail', dword: 0, lsb: 16, width: 16 },
  { name: 'base_l', dword: 1, lsb: 0, width: 32 },
  { name: 'base_h', dword: 2, lsb: 0, width: 32 },
  { name: 'dw3', dword: 3, lsb: 0, width: 32, description: 'V1 EQ entry size; unused on V2' },
  { name: 'qes', dword: 6, lsb: 0, width: 16, description: 'depth - 1' },
  { name: 'phase', dword: 6, lsb: 16, width: 1, description: 'phase of the next entry (init 1)' },
]);
export const AEQC = EQC;

export const SQC_BYTES = SQC.bytes;
export const CQC_BYTES = CQC.bytes;
export const EQC_BYTES = EQC.bytes;
