// hisi_qm as a uacce parent (Linux drivers/crypto/hisilicon/qm.c, the uacce_qm_ops
// part): each open of /dev/hisi_zip-<id> takes one queue pair from the same pool the
// kernel's acomp path uses, bound to the opener's PASID. The process maps
//   region 0 (MMIO): BAR2 [0, 8 KiB) on v2 without doorbell isolation; the SQ/CQ
//                    doorbell is the 64-bit register at +0x1000 (qn in bits [11:0]);
//   region 1 (DUS):  the qp's coherent DMA area, exactly qm_qp_dma_size() bytes:
//                    [SQ sqe_size x depth][CQ 16 x depth][status page], the TX/RX stop
//                    words being the last two u32 (size-4 TX, size-8 RX);
// sets the queue type with UACCE_CMD_QM_SET_QP_CTX, starts it, writes SQEs whose
// addresses are its own virtual addresses and rings the doorbell with a store.
// Completions only wake poll() (qm_qp_event_notifier); user space consumes the CQ and
// rings the CQ doorbell itself.

import { thisCpu } from '../../../../arch/index.js';
import { EFAULT, EINVAL, ENODEV, EPERM } from '../../../lib/errno.js';
import { pr_warn } from '../../../lib/printk.js';
import { copy_from_user, copy_to_user } from '../../../lib/uaccess.js';
import type { KGen } from '../../../fs/types.js';
import { pgprot_device, remap_pfn_range } from '../../../mm/memory.js';
import { VM_IO, type VmAreaStruct } from '../../../mm/mm_types.js';
import { Device } from '../../base/core.js';
import { UacceDevice, uacce_alloc, uacce_put, uacce_register, uacce_remove, uacce_wake_up, UacceQueue, type UacceOps, type UacceQfileRegion } from '../../misc/uacce/uacce.js';
import {
  HISI_QP_CTX_SIZE,
  HISI_QP_INFO_SIZE,
  UACCE_CMD_QM_SET_QP_CTX,
  UACCE_CMD_QM_SET_QP_INFO,
  UACCE_DEV_ISOLATE,
  UACCE_DEV_NORMAL,
  UACCE_DEV_SVA,
  UACCE_QFRT_DUS,
  UACCE_QFRT_MMIO,
} from '../../misc/uacce/uapi.js';
import { qm_bus } from './qm-bus.js';
import * as R from './qm-regs.js';
import { HisiQm, HisiQp, PAGE_SIZE, hisi_qm_cache_wb, hisi_qm_create_qp, hisi_qm_get_free_qp_num, hisi_qm_is_q_updated, hisi_qm_release_qp, hisi_qm_start_qp, hisi_qm_stop_qp } from './qm.js';
import { QM_CQE_SIZE, QM_Q_DEPTH } from './qm-structs.js';

/** uacce api strings (include/linux/hisi_acc_qm.h HISI_QM_API_VER*_BASE). */
export const HISI_QM_API_VER_BASE = 'hisi_qm_v1';
export const HISI_QM_API_VER2_BASE = 'hisi_qm_v2';
export const HISI_QM_API_VER3_BASE = 'hisi_qm_v3';
/** Doorbell pages of v1 (QM_DOORBELL_PAGE_NR). */
const QM_DOORBELL_PAGE_NR = 1;
const SECONDS_PER_HOUR = 3600;

/** struct qm_err_isolate: error timestamps (virtual ns) within the last hour and the threshold. */
export class QmErrIsolate {
  err_threshold = 0;
  is_isolate = false;
  readonly hw_errs: number[] = [];
}

function qp_of(q: UacceQueue): HisiQp {
  return q.priv as HisiQp;
}

function qm_of(uacce: UacceDevice): HisiQm {
  return uacce.priv as HisiQm;
}

/** qm_qp_event_notifier: a completion on a user queue wakes its poll() sleepers. */
function qm_qp_event_notifier(qp: HisiQp): void {
  const q = qp.qp_ctx;
  if (q instanceof UacceQueue) uacce_wake_up(q);
}

function hisi_qm_get_available_instances(uacce: UacceDevice): number {
  return hisi_qm_get_free_qp_num(qm_of(uacce));
}

function hisi_qm_uacce_get_queue(uacce: UacceDevice, pasid: number, q: UacceQueue): number {
  const qm = qm_of(uacce);
  const qp = hisi_qm_create_qp(qm, 0);
  if (typeof qp === 'number') return qp;
  q.priv = qp;
  qp.qp_ctx = q;
  qp.event_cb = qm_qp_event_notifier;
  qp.pasid = pasid;
  qp.is_in_kernel = false;
  return 0;
}

function hisi_qm_uacce_put_queue(q: UacceQueue): void {
  const qp = qp_of(q);
  hisi_qm_cache_wb(qp.qm);
  hisi_qm_release_qp(qp);
}

function hisi_qm_uacce_start_queue(q: UacceQueue): number {
  const qp = qp_of(q);
  const r = hisi_qm_start_qp(qp, qp.pasid);
  return r < 0 ? r : 0;
}

function* hisi_qm_uacce_stop_queue(q: UacceQueue): KGen<void> {
  yield* hisi_qm_stop_qp(qp_of(q));
}

function hisi_qm_uacce_is_q_updated(q: UacceQueue): boolean {
  return hisi_qm_is_q_updated(qp_of(q));
}

/** hisi_qm_uacce_mmap: the doorbell page(s) of BAR2 (non-cached) or the qp's DMA area (exact size). */
function hisi_qm_uacce_mmap(q: UacceQueue, vma: VmAreaStruct, qfr: UacceQfileRegion): number {
  const qp = qp_of(q);
  const qm = qp.qm;
  const sz = vma.vm_end - vma.vm_start;
  switch (qfr.type) {
    case UACCE_QFRT_MMIO: {
      if (qm.ver === R.QM_HW_V1) {
        if (sz > PAGE_SIZE * QM_DOORBELL_PAGE_NR) return -EINVAL;
      } else if (sz > PAGE_SIZE * (QM_DOORBELL_PAGE_NR + R.QM_DOORBELL_SQ_CQ_BASE_V2 / PAGE_SIZE)) return -EINVAL;
      // v2 without doorbell isolation: every queue's doorbell is in the same page (db_interval 0).
      const phys = qm_bus().pci_resource_start(qm.pdev, 2) + qp.qp_id * qm.db_interval;
      vma.vm_flags |= VM_IO;
      pgprot_device(vma);
      return remap_pfn_range(vma, vma.vm_start, phys / PAGE_SIZE, sz);
    }
    case UACCE_QFRT_DUS:
      if (sz !== qp.qdma.size) return -EINVAL;
      // dma_mmap_coherent: the coherent buffer's pages, cacheable (the device is coherent).
      return remap_pfn_range(vma, vma.vm_start, qp.qdma.cpu / PAGE_SIZE, sz);
    default:
      return -EINVAL;
  }
}

function* hisi_qm_uacce_ioctl(q: UacceQueue, cmd: number, arg: number): KGen<number> {
  const qp = qp_of(q);
  if (cmd === UACCE_CMD_QM_SET_QP_CTX >>> 0) {
    const b = new Uint8Array(HISI_QP_CTX_SIZE);
    if (copy_from_user(b, arg, HISI_QP_CTX_SIZE) !== 0) return -EFAULT;
    const dv = new DataView(b.buffer);
    const qc_type = dv.getUint16(2, true);
    if (qc_type !== 0 && qc_type !== 1) return -EINVAL;
    // qm_set_sqctype: the direction the SQC gets at START_Q (w13 alg_type)
    qp.alg_type = qc_type;
    dv.setUint16(0, qp.qp_id, true);
    return copy_to_user(arg, b, HISI_QP_CTX_SIZE) !== 0 ? -EFAULT : 0;
  }
  if (cmd === UACCE_CMD_QM_SET_QP_INFO >>> 0) {
    const b = new Uint8Array(HISI_QP_INFO_SIZE);
    if (copy_from_user(b, arg, HISI_QP_INFO_SIZE) !== 0) return -EFAULT;
    const dv = new DataView(b.buffer);
    dv.setUint32(0, qp.qm.sqe_size, true);
    dv.setUint16(4, qp.sq_depth, true);
    dv.setUint16(6, qp.cq_depth, true);
    return copy_to_user(arg, b, HISI_QP_INFO_SIZE) !== 0 ? -EFAULT : 0;
  }
  return -EINVAL;
}

function hisi_qm_get_isolate_state(uacce: UacceDevice): number {
  return qm_of(uacce).isolate_data.is_isolate ? UACCE_DEV_ISOLATE : UACCE_DEV_NORMAL;
}

function hisi_qm_isolate_threshold_write(uacce: UacceDevice, num: number): number {
  const qm = qm_of(uacce);
  if (uacce.is_vf || qm.isolate_data.is_isolate) return -EPERM;
  qm.isolate_data.err_threshold = num;
  // A new policy starts a new error history (qm_hw_err_destroy).
  qm.isolate_data.hw_errs.length = 0;
  return 0;
}

function hisi_qm_isolate_threshold_read(uacce: UacceDevice): number {
  return qm_of(uacce).isolate_data.err_threshold;
}

export const uacce_qm_ops: UacceOps = {
  get_available_instances: hisi_qm_get_available_instances,
  get_queue: hisi_qm_uacce_get_queue,
  put_queue: hisi_qm_uacce_put_queue,
  start_queue: hisi_qm_uacce_start_queue,
  stop_queue: hisi_qm_uacce_stop_queue,
  is_q_updated: hisi_qm_uacce_is_q_updated,
  mmap: hisi_qm_uacce_mmap,
  ioctl: hisi_qm_uacce_ioctl,
  get_isolate_state: hisi_qm_get_isolate_state,
  isolate_err_threshold_write: hisi_qm_isolate_threshold_write,
  isolate_err_threshold_read: hisi_qm_isolate_threshold_read,
};

/**
 * qm_alloc_uacce (hisi_qm_init, uacce_mode 1): a uacce device for the function. Only
 * the SVA case is supported: without it the device is dropped again (-EINVAL) and
 * qm.use_sva stays false.
 */
export function qm_alloc_uacce(qm: HisiQm): number {
  const parent = qm.pdev.dev;
  if (!(parent instanceof Device)) return -ENODEV;
  const uacce = uacce_alloc(parent, { name: qm.dev_name, flags: UACCE_DEV_SVA, ops: uacce_qm_ops });
  if (typeof uacce === 'number') return uacce;
  if (!(uacce.flags & UACCE_DEV_SVA)) {
    // only consider the sva case
    uacce_put(uacce);
    return -EINVAL;
  }
  qm.use_sva = true;
  uacce.priv = qm;
  uacce.api_ver = qm.ver === R.QM_HW_V1 ? HISI_QM_API_VER_BASE : qm.ver === R.QM_HW_V2 ? HISI_QM_API_VER2_BASE : HISI_QM_API_VER3_BASE;
  uacce.algs = qm.algs;
  uacce.qf_pg_num[UACCE_QFRT_MMIO] = qm.ver === R.QM_HW_V1 ? QM_DOORBELL_PAGE_NR : QM_DOORBELL_PAGE_NR + R.QM_DOORBELL_SQ_CQ_BASE_V2 / PAGE_SIZE;
  // One more page for the qp status (TX/RX stop words).
  uacce.qf_pg_num[UACCE_QFRT_DUS] = Math.floor((PAGE_SIZE - 1 + qm.sqe_size * QM_Q_DEPTH + QM_CQE_SIZE * QM_Q_DEPTH + PAGE_SIZE) / PAGE_SIZE);
  qm.uacce = uacce;
  return 0;
}

/** Drops a uacce device that was allocated but never registered (hisi_qm_init failing later). */
export function qm_free_uacce(qm: HisiQm): void {
  if (qm.uacce === null || qm.uacce.registered) return;
  uacce_put(qm.uacce);
  qm.uacce = null;
  qm.use_sva = false;
}

/** hisi_qm uacce registration (the accelerator's probe, after the QM started). */
export function* qm_register_uacce(qm: HisiQm): KGen<number> {
  if (qm.uacce === null || !qm.use_sva) return 0;
  return yield* uacce_register(qm.uacce);
}

/** qm_remove_uacce: every user queue stopped and released, mappings gone, SVA off. */
export function* qm_remove_uacce(qm: HisiQm): KGen<void> {
  const uacce = qm.uacce;
  if (uacce === null) return;
  qm.uacce = null;
  yield* uacce_remove(uacce);
  qm.use_sva = false;
}

/**
 * qm_hw_err_isolate (controller reset of an SVA function): remember this error; when
 * err_threshold or more happened within the last hour, the device is isolated (its
 * uacce "isolate" attribute reads 1 and UADK stops choosing it).
 */
export function qm_hw_err_isolate(qm: HisiQm): void {
  const iso = qm.isolate_data;
  if (qm.uacce === null || qm.uacce.is_vf || iso.is_isolate || iso.err_threshold === 0) return;
  const now = thisCpu().now();
  let count = 0;
  for (let i = iso.hw_errs.length - 1; i >= 0; i--) {
    if ((now - iso.hw_errs[i]!) / 1e9 > SECONDS_PER_HOUR) iso.hw_errs.splice(i, 1);
    else count++;
  }
  iso.hw_errs.push(now);
  if (count >= iso.err_threshold) {
    iso.is_isolate = true;
    pr_warn(`${qm.name}: ${count + 1} hardware errors within an hour (threshold ${iso.err_threshold}): device isolated`);
  }
}
