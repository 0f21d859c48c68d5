// QM register offsets in BAR2 (hisi_qm v2, reference section 2), named as Linux
// names them, plus the bit assignments of the abnormal-interrupt registers.

export const QM_VF_AEQ_INT_SOURCE = 0x0000;
export const QM_VF_AEQ_INT_MASK = 0x0004;
export const QM_VF_EQ_INT_SOURCE = 0x0008;
export const QM_VF_EQ_INT_MASK = 0x000c;
export const QM_DFX_FUNS_ACTIVE_ST = 0x0200;
export const QM_CACHE_WB_START = 0x0204;
export const QM_CACHE_WB_DONE = 0x0208;
export const QM_MB_CMD_SEND_BASE = 0x0300;
export const QM_MB_CMD_DATA_ADDR_L = 0x0304;
export const QM_MB_CMD_DATA_ADDR_H = 0x0308;
export const QM_DOORBELL_SQ_CQ_BASE_V2 = 0x1000;
export const QM_DOORBELL_EQ_AEQ_BASE_V2 = 0x2000;
export const QM_DOORBELL_PAGE_SIZE = 0x1000;

export const QM_ABNORMAL_INT_SOURCE = 0x100000;
export const QM_ABNORMAL_INT_MASK = 0x100004;
export const QM_ABNORMAL_INT_STATUS = 0x100008;
export const QM_ABNORMAL_INT_SET = 0x10000c;
export const QM_ABNORMAL_INF00 = 0x100010;
export const QM_ABNORMAL_INF01 = 0x100014;
export const QM_MEM_START_INIT = 0x100040;
export const QM_MEM_INIT_DONE = 0x100044;
export const QM_CACHE_CTL = 0x100050;
/** QM_CACHE_CTL bits (Linux qm.c): SQC/CQC cache enables; write-back enables and thresholds at [4], [10:5], [11], [17:12]. */
export const QM_SQC_CACHE_ENABLE = 1 << 0;
export const QM_CQC_CACHE_ENABLE = 1 << 1;
/** The model's reset value: both caches on, no automatic write-back (hardware value not public). */
export const QM_CACHE_CTL_RESET = QM_SQC_CACHE_ENABLE | QM_CQC_CACHE_ENABLE;
export const QM_VFT_CFG_OP_ENABLE = 0x100054;
export const QM_VFT_CFG_OP_WR = 0x100058;
export const QM_VFT_CFG_TYPE = 0x10005c;
export const QM_VFT_CFG = 0x100060;
export const QM_VFT_CFG_DATA_L = 0x100064;
export const QM_VFT_CFG_DATA_H = 0x100068;
export const QM_VFT_CFG_RDY = 0x10006c;
export const QM_ARUSER_M_CFG_1 = 0x100088;
export const QM_ARUSER_M_CFG_ENABLE = 0x100090;
export const QM_AWUSER_M_CFG_1 = 0x100098;
export const QM_AWUSER_M_CFG_ENABLE = 0x1000a0;
export const QM_WUSER_M_CFG_ENABLE = 0x1000a8;
export const QM_AXI_M_CFG = 0x1000ac;
export const QM_AXI_M_CFG_ENABLE = 0x1000b0;
export const QM_PEH_AXUSER_CFG = 0x1000cc;
export const QM_PEH_AXUSER_CFG_ENABLE = 0x1000d0;
export const QM_PEH_VENDOR_ID = 0x1000d8;
export const QM_RAS_CE_ENABLE = 0x1000ec;
export const QM_RAS_FE_ENABLE = 0x1000f0;
export const QM_RAS_NFE_ENABLE = 0x1000f4;
export const QM_RAS_CE_THRESHOLD = 0x1000f8;
export const QM_DFX_CNT_CLR_CE = 0x100118;
export const QM_QUE_ISO_EN = 0x100154;
export const QM_CAPBILITY = 0x100158;
export const QM_ECC_1BIT_CNT = 0x104000;
export const QM_ECC_MBIT_CNT = 0x104008;
export const QM_DFX_MB_CNT_VF = 0x104010;
export const QM_DFX_DB_CNT_VF = 0x104020;
export const QM_DFX_SQE_CNT_VF_SQN = 0x104030;
export const QM_DFX_CQE_CNT_VF_CQN = 0x104040;
/** Selection register fields: function [5:0] (CURRENT_FUN_MASK), queue [31:16] (QM_DFX_QN_SHIFT). */
export const QM_DFX_FUN_MASK = 0x3f;
export const QM_DFX_QN_SHIFT = 16;
export const QM_DFX_MB_CNT = 0x104018;
export const QM_DFX_DB_CNT = 0x104028;
export const QM_DFX_SQE_CNT = 0x104038;
export const QM_DFX_CQE_CNT = 0x104048;
export const QM_DFX_CQE_ERR_CNT = 0x1040b4;
export const QM_OOO_SHUTDOWN_SEL = 0x1040f8;
export const ACC_MASTER_GLOBAL_CTRL = 0x300000;
export const ACC_MASTER_TRANS_RETURN = 0x300150;

/** ACC_MASTER_TRANS_RETURN value once read and write channels have drained. */
export const ACC_MASTER_TRANS_RETURN_RW = 3;
/** Reset handshake values of QM_PEH_VENDOR_ID (Linux `qm_check_req_recv`). */
export const ACC_VENDOR_ID_VALUE = 0x5a5a;
export const PCI_VENDOR_ID_HUAWEI = 0x19e5;

/** QM_ABNORMAL_INT_* bits 0-14 (Linux `qm_hw_error` table). */
export const QmAbnormal = {
  axi_rresp: 1 << 0,
  axi_bresp: 1 << 1,
  ecc_mbit: 1 << 2,
  ecc_1bit: 1 << 3,
  acc_get_task_timeout: 1 << 4,
  acc_do_task_timeout: 1 << 5,
  acc_wb_not_ready_timeout: 1 << 6,
  sq_cq_vf_invalid: 1 << 7,
  cq_vf_invalid: 1 << 8,
  sq_vf_invalid: 1 << 9,
  db_timeout: 1 << 10,
  of_fifo_of: 1 << 11,
  db_random_invalid: 1 << 12,
  mailbox_timeout: 1 << 13,
  flr_timeout: 1 << 14,
} as const;
export type QmAbnormalName = keyof typeof QmAbnormal;
export const QM_ABNORMAL_ALL = 0x7fff;

/** MSI vectors of the v2 PF (reference section 1). */
export const QmMsiVector = {
  EQ: 0,
  AEQ: 1,
  PF_VF: 2,
  ABNORMAL: 3,
} as const;

/** Total queue pairs of a v2 PF and its VFs (`QM_QNUM_V2`). */
export const QM_QNUM_V2 = 1024;
/** Functions the VFT can describe (PF + 63 VFs). */
export const QM_MAX_FUNCTIONS = 64;

/** Doorbell `cmd` field values. */
export const QmDoorbellCmd = {
  SQ: 0,
  CQ: 1,
  EQ: 2,
  AEQ: 3,
} as const;
