// hisi_qm in-memory structures as the driver declares them (Linux
// include/linux/hisi_acc_qm.h / qm.c: struct qm_sqc, qm_cqc, qm_eqc, qm_aeqc,
// qm_cqe, qm_eqe, qm_aeqe, qm_mailbox). Each structure is a field table of
// (name, dword, lsb, width) over little-endian 32-bit words; encode, decode and the
// printable form derive from the table. The device model keeps its own tables
// (DESIGN.md section 1); test/unit/kernel-qm-structs.test.ts holds these against
// byte vectors built from the Linux struct layouts.

import { FieldTable } from '../../../lib/field-table.js';

/** struct qm_sqc (32 bytes). */
export const QM_SQC = new FieldTable('SQC', 32, [
  ['head', 0, 0, 16],
  ['tail', 0, 16, 16],
  ['base_l', 1, 0, 32],
  ['base_h', 2, 0, 32],
  // dw3 on v2/v3: [11:0] depth-1, [15:12] log2(sqe size)
  ['sq_depth', 3, 0, 12],
  ['sqe_size', 3, 12, 4],
  ['rand_qc', 4, 0, 32],
  ['pasid', 5, 0, 16],
  ['pasid_en', 5, 23, 1],
  ['wrap', 5, 22, 1],
  ['cq_num', 6, 0, 16],
  ['priority', 6, 16, 4],
  ['orders', 6, 20, 4],
  ['alg_type', 6, 24, 4],
]);

/** struct qm_cqc (32 bytes). */
export const QM_CQC = new FieldTable('CQC', 32, [
  ['head', 0, 0, 16],
  ['tail', 0, 16, 16],
  ['base_l', 1, 0, 32],
  ['base_h', 2, 0, 32],
  ['cq_depth', 3, 0, 12],
  ['cqe_size', 3, 12, 4],
  ['rand_qc', 4, 0, 32],
  ['pasid', 5, 0, 16],
  ['pasid_en', 5, 16, 1],
  ['wrap', 5, 22, 1],
  ['phase', 6, 0, 1],
  ['flag', 6, 1, 1],
]);

/** struct qm_eqc and struct qm_aeqc share one layout (28 bytes, the driver allocates 32 for alignment). */
const QM_XEQC_FIELDS = [
  ['head', 0, 0, 16],
  ['tail', 0, 16, 16],
  ['base_l', 1, 0, 32],
  ['base_h', 2, 0, 32],
  ['dw3', 3, 0, 32],
  ['depth', 6, 0, 16],
  ['phase', 6, 16, 1],
] as const;
export const QM_EQC = new FieldTable('EQC', 28, QM_XEQC_FIELDS);
export const QM_AEQC = new FieldTable('AEQC', 28, QM_XEQC_FIELDS);

/** struct qm_cqe (16 bytes): sq_head names the SQ slot the hardware wrote back into. */
export const QM_CQE = new FieldTable('CQE', 16, [
  ['rsvd0', 0, 0, 32],
  ['cmd_id', 1, 0, 16],
  ['sq_head', 2, 0, 16],
  ['sq_num', 2, 16, 16],
  ['phase', 3, 16, 1],
]);

/** struct qm_eqe (4 bytes): CQ number and phase. */
export const QM_EQE = new FieldTable('EQE', 4, [
  ['cq_num', 0, 0, 16],
  ['phase', 0, 16, 1],
]);

/** struct qm_aeqe (4 bytes): qp id, phase, event type. */
export const QM_AEQE = new FieldTable('AEQE', 4, [
  ['qp_id', 0, 0, 16],
  ['phase', 0, 16, 1],
  ['type', 0, 17, 15],
]);

/** AEQE types (qm.c enum qm_event_type / QM_AEQE_TYPE_*). */
export const QM_AEQE_TYPE = {
  CQ_OVERFLOW: 0,
  EQ_OVERFLOW: 1,
  CQE_ERROR: 2,
} as const;

/** struct qm_mailbox (16 bytes, written with one 128-bit store). */
export const QM_MAILBOX = new FieldTable('MAILBOX', 16, [
  ['cmd', 0, 0, 8],
  ['event', 0, 8, 1],
  ['status', 0, 9, 4],
  ['busy', 0, 13, 1],
  ['op', 0, 14, 1],
  ['queue_num', 0, 16, 16],
  ['base_l', 1, 0, 32],
  ['base_h', 2, 0, 32],
  ['rsvd', 3, 0, 32],
]);

/** Mailbox commands (QM_MB_CMD_*). */
export const QM_MB_CMD = {
  SQC: 0x0,
  CQC: 0x1,
  EQC: 0x2,
  AEQC: 0x3,
  SQC_BT: 0x4,
  CQC_BT: 0x5,
  SQC_VFT_V2: 0x6,
  STOP_QP: 0x8,
  SRC: 0xc,
  DST: 0xd,
} as const;

/** Sizes the driver uses (QM_Q_DEPTH era, v1/v2). */
export const QM_SQE_SIZE_LOG2_ZIP = 7;
export const QM_CQE_SIZE = 16;
export const QM_CQE_SIZE_LOG2 = 4;
export const QM_EQE_SIZE = 4;
export const QM_AEQE_SIZE = 4;
export const QM_EQ_DEPTH = 2048;
export const QM_AEQ_DEPTH = 1024;
export const QM_Q_DEPTH = 1024;
/** Context slots are 32 bytes in the SQC/CQC tables (qm.c aligns every chunk to 32). */
export const QM_CTX_SLOT = 32;

/** Builds a mailbox word (qm_mb_pre_init): busy set, op 1 = read/dump, 0 = write/load. */
export function qm_mb_word(cmd: number, base: number, queue: number, op: 0 | 1): Uint32Array {
  return QM_MAILBOX.encode({
    cmd,
    op,
    busy: 1,
    queue_num: queue,
    base_l: base >>> 0,
    base_h: Math.floor(base / 2 ** 32) >>> 0,
  });
}

/** SQC for a kernel or user qp (qm_sq_ctx_cfg, v2 layout). */
export function qm_sqc_build(o: { base: number; depth: number; sqeSizeLog2: number; pasid: number; pasidEnable: boolean; cqNum: number; algType: number }): Uint32Array {
  return QM_SQC.encode({
    base_l: o.base >>> 0,
    base_h: Math.floor(o.base / 2 ** 32) >>> 0,
    sq_depth: o.depth - 1,
    sqe_size: o.sqeSizeLog2,
    pasid: o.pasid,
    pasid_en: o.pasidEnable ? 1 : 0,
    cq_num: o.cqNum,
    orders: 1,
    alg_type: o.algType,
  });
}

/** CQC for a qp (qm_cq_ctx_cfg, v2 layout): phase and flag start at 1. */
export function qm_cqc_build(o: { base: number; depth: number; pasid: number; pasidEnable: boolean }): Uint32Array {
  return QM_CQC.encode({
    base_l: o.base >>> 0,
    base_h: Math.floor(o.base / 2 ** 32) >>> 0,
    cq_depth: o.depth - 1,
    cqe_size: QM_CQE_SIZE_LOG2,
    pasid: o.pasid,
    pasid_en: o.pasidEnable ? 1 : 0,
    phase: 1,
    flag: 1,
  });
}

/** EQC/AEQC (qm_eq_ctx_cfg / qm_aeq_ctx_cfg): depth-1 with the initial phase 1 in dw6. */
export function qm_eqc_build(base: number, depth: number): Uint32Array {
  return QM_EQC.encode({ base_l: base >>> 0, base_h: Math.floor(base / 2 ** 32) >>> 0, depth: depth - 1, phase: 1 });
}
