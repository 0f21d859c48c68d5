// The uacce uAPI as the kernel exposes it (Linux include/uapi/misc/uacce/uacce.h and
// include/uapi/misc/uacce/hisi_qm.h), plus the out-of-tree uacce_ctrl pinning device
// (LKML RFC "uacce: Add uacce_ctrl misc device", 2021). User space keeps its own copy
// of these numbers, as UADK does with its headers.

import { _IO, _IOW, _IOWR } from '../../../lib/ioctl.js';

/** UACCE_CMD_START_Q: _IO('W', 0), INIT -> STARTED. */
export const UACCE_CMD_START_Q = _IO('W', 0);
/** UACCE_CMD_PUT_Q: _IO('W', 1), stop and release the hardware queue (the fd stays open). */
export const UACCE_CMD_PUT_Q = _IO('W', 1);

/** uacce_dev_flag: the device shares the process address space (PASID + I/O page faults). */
export const UACCE_DEV_SVA = 1 << 0;

/** enum uacce_qfrt: the region a queue file mmap selects with offset = type * PAGE_SIZE. */
export const UACCE_QFRT_MMIO = 0;
export const UACCE_QFRT_DUS = 1;
export const UACCE_MAX_REGION = 2;

/** enum uacce_q_state. */
export const UACCE_Q_ZOMBIE = 0;
export const UACCE_Q_INIT = 1;
export const UACCE_Q_STARTED = 2;

/** isolate attribute values (include/linux/uacce.h enum uacce_dev_state). */
export const UACCE_DEV_NORMAL = 0;
export const UACCE_DEV_ISOLATE = 1;
/** isolate_strategy upper bound (UACCE_MAX_ERR_THRESHOLD). */
export const UACCE_MAX_ERR_THRESHOLD = 65535;

/** struct hisi_qp_ctx { __u16 id; __u16 qc_type; } (4 bytes). */
export const HISI_QP_CTX_SIZE = 4;
/** struct hisi_qp_info { __u32 sqe_size; __u16 sq_depth; __u16 cq_depth; __u64 reserved; } (16 bytes). */
export const HISI_QP_INFO_SIZE = 16;
/** UACCE_CMD_QM_SET_QP_CTX: _IOWR('H', 10, struct hisi_qp_ctx) = 0xc004480a. */
export const UACCE_CMD_QM_SET_QP_CTX = _IOWR('H', 10, HISI_QP_CTX_SIZE);
/** UACCE_CMD_QM_SET_QP_INFO: _IOWR('H', 11, struct hisi_qp_info) = 0xc010480b. */
export const UACCE_CMD_QM_SET_QP_INFO = _IOWR('H', 11, HISI_QP_INFO_SIZE);

/** struct uacce_pin_address { __u64 addr; __u64 size; } (RFC v2 field types). */
export const UACCE_PIN_ADDRESS_SIZE = 16;
/** UACCE_CMD_PIN: _IOW('W', 2, struct uacce_pin_address) = 0x40105702. */
export const UACCE_CMD_PIN = _IOW('W', 2, UACCE_PIN_ADDRESS_SIZE);
/** UACCE_CMD_UNPIN: _IOW('W', 3, struct uacce_pin_address) = 0x40105703. */
export const UACCE_CMD_UNPIN = _IOW('W', 3, UACCE_PIN_ADDRESS_SIZE);
