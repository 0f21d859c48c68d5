// hisi_qm register map (BAR2 offsets) and the word encodings the driver writes:
// doorbells, VFT data, error bits. Names as Linux's qm.c / hisi_acc_qm.h spell them;
// values from the reference (hisi-zip-qm-uacce.md sections 2 and 4).

export const QM_VF_AEQ_INT_SOURCE = 0x0;
export const QM_VF_AEQ_INT_MASK = 0x4;
export const QM_VF_EQ_INT_SOURCE = 0x8;
export const QM_VF_EQ_INT_MASK = 0xc;
export const QM_DFX_FUNS_ACTIVE_ST = 0x200;
export const QM_CACHE_WB_START = 0x204;
export const QM_CACHE_WB_DONE = 0x208;
export const QM_MB_CMD_SEND_BASE = 0x300;
export const QM_MB_CMD_DATA_ADDR_L = 0x304;
export const QM_MB_CMD_DATA_ADDR_H = 0x308;
export const QM_DOORBELL_BASE_V1 = 0x340;
export const QM_DOORBELL_SQ_CQ_BASE_V2 = 0x1000;
export const QM_DOORBELL_EQ_AEQ_BASE_V2 = 0x2000;

export const QM_ABNORMAL_INT_SOURCE = 0x100000;
export const QM_ABNORMAL_INT_MASK = 0x100004;
export const QM_ABNORMAL_INT_STATUS = 0x100008;
export const QM_ABNORMAL_INT_SET = 0x10000c;
export const QM_ABNORMAL_INF00 = 0x100010;
export const QM_ABNORMAL_INF01 = 0x100014;
export const QM_MEM_START_INIT = 0x100040;
export const QM_MEM_INIT_DONE = 0x100044;
export const QM_CACHE_CTL = 0x100050;
export const QM_VFT_CFG_OP_ENABLE = 0x100054;
export const QM_VFT_CFG_OP_WR = 0x100058;
export const QM_VFT_CFG_TYPE = 0x10005c;
export const QM_VFT_CFG = 0x100060;
export const QM_VFT_CFG_DATA_L = 0x100064;
export const QM_VFT_CFG_DATA_H = 0x100068;
export const QM_VFT_CFG_RDY = 0x10006c;
export const QM_PEH_VENDOR_ID = 0x1000d8;
export const QM_RAS_CE_ENABLE = 0x1000ec;
export const QM_RAS_FE_ENABLE = 0x1000f0;
export const QM_RAS_NFE_ENABLE = 0x1000f4;
export const QM_RAS_CE_THRESHOLD = 0x1000f8;
export const QM_CAPBILITY = 0x100158;
export const QM_ARUSER_M_CFG_1 = 0x100088;
export const QM_ARUSER_M_CFG_ENABLE = 0x100090;
export const QM_AWUSER_M_CFG_1 = 0x100098;
export const QM_AWUSER_M_CFG_ENABLE = 0x1000a0;
export const QM_WUSER_M_CFG_ENABLE = 0x1000a8;

// DFX counters (qm.c qm_dfx_regs)
export const QM_DFX_MB_CNT_VF = 0x104010;
export const QM_DFX_DB_CNT_VF = 0x104020;
export const QM_DFX_SQE_CNT_VF_SQN = 0x104030;
export const QM_DFX_CQE_CNT_VF_CQN = 0x104040;
/** Selection fields: function [5:0], queue [31:16]. */
export const CURRENT_FUN_MASK = 0x3f;
export const CURRENT_Q_MASK = 0xffff0000;
export const QM_DFX_QN_SHIFT = 16;
export const QM_DFX_CNT_CLR_CE = 0x100118;
export const QM_DFX_MB_CNT = 0x104018;
export const QM_DFX_DB_CNT = 0x104028;
export const QM_DFX_SQE_CNT = 0x104038;
export const QM_DFX_CQE_CNT = 0x104048;
export const QM_DFX_CQE_ERR_CNT = 0x1040b4;
export const QM_OOO_SHUTDOWN_SEL = 0x1040f8;

export const ACC_MASTER_GLOBAL_CTRL = 0x300000;
export const ACC_MASTER_TRANS_RETURN = 0x300150;
export const ACC_MASTER_GLOBAL_CTRL_SHUTDOWN = 0x1;
/** TRANS_RETURN reads 3 when the master has stopped (ACC_MASTER_TRANS_RETURN_RW). */
export const ACC_MASTER_TRANS_RETURN_RW = 3;

// Interrupt masks
export const QM_EQ_INT_DISABLE = 0x1;
export const QM_AEQ_INT_DISABLE = 0x1;
export const QM_ABNORMAL_INT_MASK_VALUE = 0x7fff;

// Cache control (qm_hw_init v2: SQC/CQC caches and write-back; QM_CACHE_CTL bits)
export const QM_SQC_CACHE_ENABLE = 1 << 0;
export const QM_CQC_CACHE_ENABLE = 1 << 1;
export const QM_SQC_CACHE_WB_ENABLE = 1 << 4;
export const QM_SQC_CACHE_WB_THRD_SHIFT = 5;
export const QM_CQC_CACHE_WB_ENABLE = 1 << 11;
export const QM_CQC_CACHE_WB_THRD_SHIFT = 12;
/** The v2 value Linux writes: both caches, write-back enabled with threshold 1. */
export const QM_CACHE_CTL_V2 =
  QM_SQC_CACHE_ENABLE | QM_CQC_CACHE_ENABLE | QM_SQC_CACHE_WB_ENABLE | (1 << QM_SQC_CACHE_WB_THRD_SHIFT) | QM_CQC_CACHE_WB_ENABLE | (1 << QM_CQC_CACHE_WB_THRD_SHIFT);

// QM_PEH_VENDOR_ID handshake around a controller reset (qm_set_vf_mse / qm_vf_reset_*)
export const QM_PEH_VENDOR_ID_PROBE = 0x5a5a;
export const PCI_VENDOR_ID_HUAWEI = 0x19e5;

/** Hardware versions = PCI revision (enum qm_hw_ver). */
export const QM_HW_V1 = 0x20;
export const QM_HW_V2 = 0x21;
export const QM_HW_V3 = 0x30;

/** Queue counts per PF+VFs (QM_QNUM_V1/V2). */
export const QM_QNUM_V1 = 4096;
export const QM_QNUM_V2 = 1024;

/** MSI vectors (enum qm_irq / QM_*_EVENT_IRQ_VECTOR). */
export const QM_EQ_EVENT_IRQ_VECTOR = 0;
export const QM_AEQ_EVENT_IRQ_VECTOR = 1;
export const QM_CMD_EVENT_IRQ_VECTOR = 2;
export const QM_ABNORMAL_EVENT_IRQ_VECTOR = 3;
export const QM_MSI_VECTORS_V2_PF = 4;

// Doorbell commands (QM_DOORBELL_CMD_*)
export const QM_DOORBELL_CMD_SQ = 0;
export const QM_DOORBELL_CMD_CQ = 1;
export const QM_DOORBELL_CMD_EQ = 2;
export const QM_DOORBELL_CMD_AEQ = 3;

/**
 * A v2 doorbell as two 32-bit halves of the 64-bit write (qm_db_v2):
 * lo = qn[11:0] | cmd[15:12] | rand[31:16] (0), hi = index[15:0] | priority[31:16].
 */
export function qm_db_v2(qn: number, cmd: number, index: number, priority: number): { lo: number; hi: number } {
  return {
    lo: ((qn & 0xfff) | ((cmd & 0xf) << 12)) >>> 0,
    hi: ((index & 0xffff) | ((priority & 0xffff) << 16)) >>> 0,
  };
}

/** Offset of a v2 doorbell: SQ/CQ at 0x1000 (+ qn * db_interval when isolated), EQ/AEQ at 0x2000. */
export function qm_db_offset_v2(cmd: number, qn: number, dbInterval: number): number {
  return cmd === QM_DOORBELL_CMD_SQ || cmd === QM_DOORBELL_CMD_CQ ? QM_DOORBELL_SQ_CQ_BASE_V2 + qn * dbInterval : QM_DOORBELL_EQ_AEQ_BASE_V2;
}

/** A v1 doorbell (qm_db_v1): lo = qn[15:0] | cmd[31:16], hi = index[15:0] | priority[31:16]. */
export function qm_db_v1(qn: number, cmd: number, index: number, priority: number): { lo: number; hi: number } {
  return {
    lo: ((qn & 0xffff) | ((cmd & 0xffff) << 16)) >>> 0,
    hi: ((index & 0xffff) | ((priority & 0xffff) << 16)) >>> 0,
  };
}

// VFT (qm_vft_data_cfg)
export const SQC_VFT = 0;
export const CQC_VFT = 1;
export const SHAPER_VFT = 2;
export const QM_SQC_VFT_BASE_SHIFT_V2 = 28;
export const QM_SQC_VFT_VALID = 2 ** 44;
export const QM_SQC_VFT_NUM_SHIFT_V2 = 45;
export const QM_CQC_VFT_VALID = 2 ** 28;

/** VFT data as [lo, hi] 32-bit halves for a function's queue range (v2 layout). */
export function qm_vft_data_v2(type: number, base: number, number: number): { lo: number; hi: number } {
  let v = 0;
  if (number > 0) {
    if (type === SQC_VFT) v = base * 2 ** QM_SQC_VFT_BASE_SHIFT_V2 + QM_SQC_VFT_VALID + (number - 1) * 2 ** QM_SQC_VFT_NUM_SHIFT_V2;
    else if (type === CQC_VFT) v = QM_CQC_VFT_VALID;
  }
  return { lo: v % 2 ** 32 >>> 0, hi: Math.floor(v / 2 ** 32) >>> 0 };
}

/** Decodes the SQC_VFT_V2 mailbox answer (qm_get_vft_v2): base [43:28], number-1 [54:45]. */
export function qm_vft_decode_v2(lo: number, hi: number): { base: number; number: number } {
  const v = hi * 2 ** 32 + (lo >>> 0);
  const base = Math.floor(v / 2 ** QM_SQC_VFT_BASE_SHIFT_V2) % 2 ** 16;
  const number = (Math.floor(v / 2 ** QM_SQC_VFT_NUM_SHIFT_V2) % 2 ** 10) + 1;
  return { base, number };
}

/** QM abnormal source bits 0-14 (qm_hw_error[]), with Linux's messages. */
export const QM_HW_ERRORS: readonly { readonly bit: number; readonly msg: string }[] = [
  { bit: 0, msg: 'qm_axi_rresp' },
  { bit: 1, msg: 'qm_axi_bresp' },
  { bit: 2, msg: 'qm_ecc_mbit' },
  { bit: 3, msg: 'qm_ecc_1bit' },
  { bit: 4, msg: 'qm_acc_get_task_timeout' },
  { bit: 5, msg: 'qm_acc_do_task_timeout' },
  { bit: 6, msg: 'qm_acc_wb_not_ready_timeout' },
  { bit: 7, msg: 'qm_sq_cq_vf_invalid' },
  { bit: 8, msg: 'qm_cq_vf_invalid' },
  { bit: 9, msg: 'qm_sq_vf_invalid' },
  { bit: 10, msg: 'qm_db_timeout' },
  { bit: 11, msg: 'qm_of_fifo_of' },
  { bit: 12, msg: 'qm_db_random_invalid' },
  { bit: 13, msg: 'qm_mailbox_timeout' },
  { bit: 14, msg: 'qm_flr_timeout' },
];
export const QM_AXI_RRESP = 1 << 0;
export const QM_AXI_BRESP = 1 << 1;
export const QM_ECC_MBIT = 1 << 2;
export const QM_ECC_1BIT = 1 << 3;
export const QM_ACC_GET_TASK_TIMEOUT = 1 << 4;
export const QM_ACC_WB_NOT_READY_TIMEOUT = 1 << 6;
export const QM_DB_TIMEOUT = 1 << 10;
export const QM_OF_FIFO_OF = 1 << 11;
export const QM_DB_RANDOM_INVALID = 1 << 12;
/** Correctable errors (QM_BASE_CE): only the 1-bit ECC; logged and cleared. */
export const QM_BASE_CE = QM_ECC_1BIT;
/**
 * Non-fatal errors, reported with MSI 3 (QM_BASE_NFE | QM_ACC_WB_NOT_READY_TIMEOUT as
 * hisi_zip sets err_info.nfe on v2). The other sources stay masked.
 */
export const QM_BASE_NFE = QM_AXI_RRESP | QM_AXI_BRESP | QM_ECC_MBIT | QM_ACC_GET_TASK_TIMEOUT | QM_DB_TIMEOUT | QM_OF_FIFO_OF | QM_DB_RANDOM_INVALID | QM_ACC_WB_NOT_READY_TIMEOUT;
/**
 * The reported QM errors that need a controller reset (err_info.qm_reset_mask; v2 0xc57):
 * every NFE but db_random_invalid, which a v2 driver logs, clears and keeps reporting
 * (a doorbell the QM dropped leaves nothing to recover).
 */
export const QM_RESET_MASK = QM_BASE_NFE & ~QM_DB_RANDOM_INVALID;

/** Doorbell types in INF00/INF01 [7:6] (qm_db_timeout / qm_fifo_overflow names). */
export const QM_DB_TYPE_NAMES = ['SQ', 'CQ', 'EQ', 'AEQ'] as const;
export const QM_DB_TIMEOUT_TYPE_SHIFT = 6;
export const QM_DB_TIMEOUT_TYPE = 0xc0;
export const QM_DB_TIMEOUT_VF = 0x3f;
export const QM_FIFO_OVERFLOW_TYPE_SHIFT = 6;
export const QM_FIFO_OVERFLOW_TYPE = 0xc0;
export const QM_FIFO_OVERFLOW_VF = 0x3f;
