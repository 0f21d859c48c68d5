// The uacce user API as user space spells it (Linux include/uapi/misc/uacce/uacce.h
// and hisi_qm.h; UADK carries the same numbers in include/uacce.h and
// drv/hisi_qm_udrv.h). This is libwd's own copy: user space never includes the
// kernel's sources, it agrees with them on numbers.

import { CStruct } from '../libc/cstruct.js';

const _IOC_NRBITS = 8;
const _IOC_TYPEBITS = 8;
const _IOC_SIZEBITS = 14;
const _IOC_NRSHIFT = 0;
const _IOC_TYPESHIFT = _IOC_NRSHIFT + _IOC_NRBITS;
const _IOC_SIZESHIFT = _IOC_TYPESHIFT + _IOC_TYPEBITS;
const _IOC_DIRSHIFT = _IOC_SIZESHIFT + _IOC_SIZEBITS;
const _IOC_NONE = 0;
const _IOC_WRITE = 1;
const _IOC_READ = 2;

/** asm-generic/ioctl.h _IOC(dir, type, nr, size) as an unsigned 32-bit number. */
export function _IOC(dir: number, type: string, nr: number, size: number): number {
  return ((dir << _IOC_DIRSHIFT) | (type.charCodeAt(0) << _IOC_TYPESHIFT) | (nr << _IOC_NRSHIFT) | (size << _IOC_SIZESHIFT)) >>> 0;
}

/** UACCE_CMD_START_Q = _IO('W', 0): the queue starts taking SQEs (INIT -> STARTED). */
export const UACCE_CMD_START_Q = _IOC(_IOC_NONE, 'W', 0, 0);
/** UACCE_CMD_PUT_Q = _IO('W', 1): stop and give back the hardware queue; the file stays open. */
export const UACCE_CMD_PUT_Q = _IOC(_IOC_NONE, 'W', 1, 0);

/** uacce_dev_flag UACCE_DEV_SVA: the device works on the process's own virtual addresses. */
export const UACCE_DEV_SVA = 0x1;

/** enum uacce_qfrt: the region an mmap selects with offset = qfrt * page size. */
export const UACCE_QFRT_MMIO = 0;
export const UACCE_QFRT_DUS = 1;
export const UACCE_QFRT_MAX = 2;

/** The class directory UADK scans for accelerators. */
export const UACCE_CLASS_DIR = '/sys/class/uacce';

/** struct hisi_qp_ctx { __u16 id; __u16 qc_type; }. */
export const HISI_QP_CTX = new CStruct<'id' | 'qc_type'>('hisi_qp_ctx', 4, 2, [
  ['id', 0, 'u16'],
  ['qc_type', 2, 'u16'],
]);

/** struct hisi_qp_info { __u32 sqe_size; __u16 sq_depth; __u16 cq_depth; __u64 reserved; }. */
export const HISI_QP_INFO = new CStruct<'sqe_size' | 'sq_depth' | 'cq_depth' | 'reserved'>('hisi_qp_info', 16, 8, [
  ['sqe_size', 0, 'u32'],
  ['sq_depth', 4, 'u16'],
  ['cq_depth', 6, 'u16'],
  ['reserved', 8, 'u64'],
]);

/** UACCE_CMD_QM_SET_QP_CTX = _IOWR('H', 10, struct hisi_qp_ctx): sets qc_type, returns the queue number. */
export const UACCE_CMD_QM_SET_QP_CTX = _IOC(_IOC_READ | _IOC_WRITE, 'H', 10, HISI_QP_CTX.size);
/** UACCE_CMD_QM_SET_QP_INFO = _IOWR('H', 11, struct hisi_qp_info): the queue's SQE size and depths (newer kernels). */
export const UACCE_CMD_QM_SET_QP_INFO = _IOC(_IOC_READ | _IOC_WRITE, 'H', 11, HISI_QP_INFO.size);
