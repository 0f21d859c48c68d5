// hisi_qm: the HiSilicon queue manager core (Linux drivers/crypto/hisilicon/qm.c in
// shape, QM v2 / Kunpeng 920). PCI and IRQ set-up, device memory init, the
// EQ/AEQ/SQC/CQC context tables, VFT, mailbox, doorbells, queue pairs with the v2
// drain loop, EQ/AEQ handling with phase bits, CQ polling, abnormal-error handling
// and the controller reset. The accelerator driver (hisi_zip) supplies its register
// set-up and error hooks through `HisiQmErrIni`.

import { thisCpu, type ArchCpu } from '../../../../arch/index.js';
import { EAGAIN, EBUSY, EFAULT, EINVAL, EIO, ENODEV, ENOMEM, EPERM, ETIMEDOUT } from '../../../lib/errno.js';
import { pr_debug, pr_err, pr_info, pr_warn } from '../../../lib/printk.js';
import { getField } from '../../../lib/field-table.js';
import { IRQ_HANDLED, IRQ_NONE, IRQ_WAKE_THREAD, free_irq, request_irq, request_threaded_irq, type IrqReturn } from '../../../irq/irqdesc.js';
import { WQ_HIGHPRI, WQ_MEM_RECLAIM, WQ_UNBOUND, WorkStruct, alloc_workqueue, destroy_workqueue, flush_workqueue, queue_work, schedule_work, type WorkqueueStruct } from '../../../kernel/workqueue.js';
import { usleep } from '../../../time/sleep.js';
import { sysfs_create_file, sysfs_remove } from '../../../fs/sysfs/sysfs.js';
import { PCI_IRQ_MSI, qm_bus, type DmaCoherent, type HisiPciDev } from './qm-bus.js';
import * as R from './qm-regs.js';
import { QmErrIsolate, qm_alloc_uacce, qm_free_uacce, qm_hw_err_isolate, qm_remove_uacce } from './qm-uacce.js';
import type { UacceDevice } from '../../misc/uacce/uacce.js';
import {
  QM_AEQE_TYPE,
  QM_AEQ_DEPTH,
  QM_CQC,
  QM_CQE_SIZE,
  QM_CTX_SLOT,
  QM_EQ_DEPTH,
  QM_MAILBOX,
  QM_MB_CMD,
  QM_Q_DEPTH,
  QM_SQC,
  qm_cqc_build,
  qm_eqc_build,
  qm_mb_word,
  qm_sqc_build,
} from './qm-structs.js';

export const PAGE_SIZE = 4096;

/** enum qm_state */
export const QM_INIT = 0;
export const QM_START = 1;
export const QM_CLOSE = 2;
export const QM_STOP = 3;
/** enum qp_state */
export const QP_INIT = 1;
export const QP_START = 2;
export const QP_STOP = 3;
export const QP_CLOSE = 4;
/** enum qm_stop_reason */
export const QM_NORMAL = 0;
export const QM_SOFT_RESET = 1;
export const QM_DOWN = 2;
/** qm_set_qp_disable offsets (u32 words back from the end of the qp's DMA area). */
export const QM_RESET_STOP_TX_OFFSET = 1;
export const QM_RESET_STOP_RX_OFFSET = 2;

/** enum acc_err_result */
export const ACC_ERR_NONE = 0;
export const ACC_ERR_NEED_RESET = 1;
export const ACC_ERR_RECOVERED = 2;

// Polling limits (qm.c): mailbox 10 us step / 1 ms, memory init and cache write-back 1 ms.
const POLL_PERIOD_US = 10;
const POLL_TIMEOUT_US = 1000;
const MB_WAIT_US = 10;
const MB_TIMEOUT_US = 1000;
const DRAIN_MAX_WAIT_COUNTS = 1000;
const DRAIN_WAIT_US = 150;
/** Software status written into the SQE of a request that the stop path ended (no hardware result). */
export const QM_SQE_STATUS_ABORTED = 0xff;

/** Little-endian host check: SQE scratch buffers are viewed as LE 32-bit words. */
if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) throw new Error('hisi_qm: big-endian hosts are not supported');

/** What the accelerator driver adds to the QM core (struct hisi_qm_err_ini + hw_init). */
export interface HisiQmErrIni {
  /** Engine register set-up (user domain, cache, clock gates): hisi_zip_set_user_domain_and_cache. */
  hw_init(qm: HisiQm): number;
  hw_err_enable(qm: HisiQm): void;
  hw_err_disable(qm: HisiQm): void;
  get_dev_hw_err_status(qm: HisiQm): number;
  clear_dev_hw_err_status(qm: HisiQm, err: number): void;
  /** hisi_zip_disable_error_report: silences the engine sources that need a reset until it is done. */
  disable_error_report(qm: HisiQm, err: number): void;
  /** hisi_zip_enable_error_report: routes the engine's CE/NFE sources again (firmware may have cleared them). */
  enable_error_report(qm: HisiQm): void;
  log_dev_hw_err(qm: HisiQm, err: number): void;
  /** Engine error bits that need a controller reset. */
  readonly dev_reset_mask: number;
}

/** debugfs dfx counters of the QM (struct qm_dfx). */
export interface QmDfx {
  err_irq_cnt: number;
  aeq_irq_cnt: number;
  abnormal_irq_cnt: number;
  create_qp_err_cnt: number;
  mb_err_cnt: number;
  eq_irq_cnt: number;
  reset_cnt: number;
}

export type QpReqCb = (qp: HisiQp, sqe: Uint32Array) => void;

export class HisiQp {
  status = QP_INIT;
  alg_type = 0;
  /** The accelerator's req_type for kernel qps (zlib/gzip/deflate). */
  req_type = 0;
  pasid = 0;
  sq_tail = 0;
  cq_head = 0;
  cqc_phase = 1;
  used = 0;
  is_resetting = false;
  is_in_kernel = true;
  req_cb: QpReqCb | null = null;
  /** uacce qps: a completion only wakes poll() waiters. */
  event_cb: ((qp: HisiQp) => void) | null = null;
  qp_ctx: unknown = null;
  /** Per-qp DMA area: [SQ][CQ][status page] (the uacce DUS layout). */
  readonly sqeDma: number;
  readonly sqeCpu: number;
  readonly cqeDma: number;
  readonly cqeCpu: number;
  /** Scratch SQE (bytes and LE word view over the same memory): the hot path allocates nothing. */
  readonly sqeBuf = new Uint8Array(128);
  readonly sqeWords = new Uint32Array(this.sqeBuf.buffer);

  constructor(
    readonly qm: HisiQm,
    readonly qp_id: number,
    readonly qdma: DmaCoherent,
    readonly sq_depth: number,
    readonly cq_depth: number,
  ) {
    this.sqeCpu = qdma.cpu;
    this.sqeDma = qdma.dma;
    this.cqeCpu = qdma.cpu + qm.sqe_size * sq_depth;
    this.cqeDma = qdma.dma + qm.sqe_size * sq_depth;
  }
}

export interface HisiQmOptions {
  /** Driver name for dmesg and debugfs ("hisi_zip"). */
  readonly dev_name: string;
  /** Queues of the PF (pf_q_num). */
  readonly qp_num: number;
  readonly sqe_size: number;
  /** Algorithms advertised (uacce "algorithms"). */
  readonly algs: string;
  readonly err_ini: HisiQmErrIni;
  /** uacce_mode module parameter (0 kernel only, 1 also uacce). */
  readonly uacce_mode?: number;
}

export class HisiQm {
  readonly ver: number;
  readonly dev_name: string;
  readonly sqe_size: number;
  readonly algs: string;
  readonly err_ini: HisiQmErrIni;
  readonly uacce_mode: number;
  /** uacce device of the function (qm_alloc_uacce), and whether user queues share process address spaces. */
  uacce: UacceDevice | null = null;
  use_sva = false;
  /** uacce isolate_strategy state (struct qm_err_isolate). */
  readonly isolate_data = new QmErrIsolate();
  io_base = 0;
  qp_base = 0;
  qp_num: number;
  ctrl_qp_num = R.QM_QNUM_V2;
  db_interval = 0;
  status = QM_INIT;
  stop_reason = QM_NORMAL;
  qps: HisiQp[] = [];
  qp_in_used = 0;
  /** [EQ][AEQ][SQC x qp_num][CQC x qp_num] */
  qdma: DmaCoherent | null = null;
  eqeDma = 0;
  eqeCpu = 0;
  aeqeDma = 0;
  aeqeCpu = 0;
  sqcDma = 0;
  cqcDma = 0;
  eq_head = 0;
  eqc_phase = 1;
  aeq_head = 0;
  aeqc_phase = 1;
  irqs: number[] = [];
  wq: WorkqueueStruct | null = null;
  readonly work: WorkStruct;
  readonly rst_work: WorkStruct;
  resetting = false;
  /** Held while a mailbox command is in flight (qm->mailbox_lock). */
  mbBusy = false;
  /** Set when the abnormal handler saw an ECC multi-bit error (is_qm_ecc_mbit). */
  is_qm_ecc_mbit = false;
  error_mask = 0;
  readonly dfx: QmDfx = { err_irq_cnt: 0, aeq_irq_cnt: 0, abnormal_irq_cnt: 0, create_qp_err_cnt: 0, mb_err_cnt: 0, eq_irq_cnt: 0, reset_cnt: 0 };
  /** Driver data of the accelerator (struct hisi_zip). */
  drvdata: unknown = null;
  /** Where the debugfs-like files live below /sys. */
  debugDir = '';
  /** Queues of the function current_qm selected (debug.curr_qm_qp_num): the bound for current_q. */
  debug_curr_qm_qp_num = 0;

  constructor(
    readonly pdev: HisiPciDev,
    o: HisiQmOptions,
  ) {
    this.ver = pdev.revision;
    this.dev_name = o.dev_name;
    this.qp_num = o.qp_num;
    this.sqe_size = o.sqe_size;
    this.algs = o.algs;
    this.err_ini = o.err_ini;
    this.uacce_mode = o.uacce_mode ?? 0;
    this.work = new WorkStruct(() => qm_work_process(this));
    this.rst_work = new WorkStruct(() => hisi_qm_controller_reset_work(this));
  }

  get name(): string {
    return `${this.dev_name} ${this.pdev.name}`;
  }
}

// ---------------------------------------------------------------- register access

export function readl(qm: HisiQm, off: number): number {
  return thisCpu().ldPhys32(qm.io_base + off) >>> 0;
}

export function writel(qm: HisiQm, off: number, v: number): void {
  thisCpu().stPhys32(qm.io_base + off, v >>> 0);
}

/** readl_relaxed_poll_timeout: 0 when `cond` held, -ETIMEDOUT otherwise (busy wait in virtual time). */
export function readl_poll_timeout(qm: HisiQm, off: number, cond: (v: number) => boolean, stepUs: number, timeoutUs: number): number {
  const cpu = thisCpu();
  const deadline = cpu.now() + timeoutUs * 1000;
  for (;;) {
    const v = readl(qm, off);
    if (cond(v)) return 0;
    if (cpu.now() >= deadline) return -ETIMEDOUT;
    cpu.charge(stepUs * 1000);
  }
}

function dev_err(qm: HisiQm, msg: string): void {
  pr_err(`${qm.name}: ${msg}`);
}
function dev_info(qm: HisiQm, msg: string): void {
  pr_info(`${qm.name}: ${msg}`);
}

// ---------------------------------------------------------------- doorbells and mailbox

/** qm_db (v2): one 64-bit store; the high half (index, priority <= 1) keeps the value exact as a Number. */
export function qm_db(qm: HisiQm, qn: number, cmd: number, index: number, priority: number): void {
  const d = R.qm_db_v2(qn, cmd, index, priority);
  thisCpu().stPhys64(qm.io_base + R.qm_db_offset_v2(cmd, qn, qm.db_interval), d.hi * 4294967296 + d.lo);
}

/**
 * qm_mb: one mailbox command. Waits for busy=0, writes the 16-byte word as two 64-bit
 * stores (what the 128-bit store becomes on the bus), waits for busy=0 again and
 * checks the status field. Returns 0, -EBUSY (busy before), -ETIMEDOUT or -EIO.
 */
export function qm_mb(qm: HisiQm, cmd: number, dma: number, queue: number, op: 0 | 1): number {
  if (qm.mbBusy) return -EBUSY;
  qm.mbBusy = true;
  try {
    const busyFree = (v: number): boolean => (v & (1 << 13)) === 0;
    if (readl_poll_timeout(qm, R.QM_MB_CMD_SEND_BASE, busyFree, MB_WAIT_US, MB_TIMEOUT_US) < 0) {
      dev_err(qm, 'QM mailbox is busy to start!');
      qm.dfx.mb_err_cnt++;
      return -EBUSY;
    }
    const w = qm_mb_word(cmd, dma, queue, op);
    const cpu = thisCpu();
    cpu.dsb();
    const lo = (BigInt(w[1]!) << 32n) | BigInt(w[0]!);
    const hi = (BigInt(w[3]!) << 32n) | BigInt(w[2]!);
    cpu.stPhys64(qm.io_base + R.QM_MB_CMD_SEND_BASE, lo);
    cpu.stPhys64(qm.io_base + R.QM_MB_CMD_SEND_BASE + 8, hi);
    if (readl_poll_timeout(qm, R.QM_MB_CMD_SEND_BASE, busyFree, MB_WAIT_US, MB_TIMEOUT_US) < 0) {
      dev_err(qm, 'QM mailbox operation timeout!');
      qm.dfx.mb_err_cnt++;
      return -ETIMEDOUT;
    }
    const word0 = new Uint32Array([readl(qm, R.QM_MB_CMD_SEND_BASE)]);
    const status = getField(word0, QM_MAILBOX.f.status);
    if (status !== 0) {
      dev_err(qm, `QM mailbox operation failed (cmd ${cmd}, queue ${queue}, status 0x${status.toString(16)})!`);
      qm.dfx.mb_err_cnt++;
      return -EIO;
    }
    return 0;
  } finally {
    qm.mbBusy = false;
  }
}

// ---------------------------------------------------------------- VFT

function qm_set_vft_common(qm: HisiQm, type: number, fun_num: number, base: number, number: number): number {
  const rdy = (v: number): boolean => (v & 1) === 1;
  if (readl_poll_timeout(qm, R.QM_VFT_CFG_RDY, rdy, POLL_PERIOD_US, POLL_TIMEOUT_US) < 0) return -ETIMEDOUT;
  writel(qm, R.QM_VFT_CFG_OP_WR, 0);
  writel(qm, R.QM_VFT_CFG_TYPE, type);
  writel(qm, R.QM_VFT_CFG, fun_num);
  const d = R.qm_vft_data_v2(type, base, number);
  writel(qm, R.QM_VFT_CFG_DATA_L, d.lo);
  writel(qm, R.QM_VFT_CFG_DATA_H, d.hi);
  writel(qm, R.QM_VFT_CFG_RDY, 0);
  writel(qm, R.QM_VFT_CFG_OP_ENABLE, 1);
  return readl_poll_timeout(qm, R.QM_VFT_CFG_RDY, rdy, POLL_PERIOD_US, POLL_TIMEOUT_US);
}

/** hisi_qm_set_vft: the SQC and CQC VFT of function `fun_num` (number 0 clears it). */
export function hisi_qm_set_vft(qm: HisiQm, fun_num: number, base: number, number: number): number {
  for (const type of [R.SQC_VFT, R.CQC_VFT]) {
    const r = qm_set_vft_common(qm, type, fun_num, base, number);
    if (r < 0) return r;
  }
  return 0;
}

/** qm_get_vft_v2: the function's own queue range through mailbox SQC_VFT_V2 (what a VF does). */
export function qm_get_vft(qm: HisiQm): { base: number; number: number } | number {
  const r = qm_mb(qm, QM_MB_CMD.SQC_VFT_V2, 0, 0, 1);
  if (r < 0) return r;
  return R.qm_vft_decode_v2(readl(qm, R.QM_MB_CMD_DATA_ADDR_L), readl(qm, R.QM_MB_CMD_DATA_ADDR_H));
}

// ---------------------------------------------------------------- init / uninit

/** qm_dev_mem_reset: QM_MEM_START_INIT then wait for QM_MEM_INIT_DONE. */
export function qm_dev_mem_reset(qm: HisiQm): number {
  writel(qm, R.QM_MEM_START_INIT, 1);
  const r = readl_poll_timeout(qm, R.QM_MEM_INIT_DONE, (v) => (v & 1) === 1, POLL_PERIOD_US, POLL_TIMEOUT_US);
  if (r < 0) dev_err(qm, 'failed to init QM memory');
  return r;
}

/** hisi_qm_cache_wb: write the SQC/CQC caches back to memory. */
export function hisi_qm_cache_wb(qm: HisiQm): void {
  writel(qm, R.QM_CACHE_WB_START, 1);
  if (readl_poll_timeout(qm, R.QM_CACHE_WB_DONE, (v) => (v & 1) === 1, POLL_PERIOD_US, POLL_TIMEOUT_US) < 0) dev_err(qm, 'QM writeback sqc cache fail!');
}

/** The per-qp DMA size: PAGE_ALIGN(SQ + CQ) + one status page (TX/RX stop words at its end). */
export function qm_qp_dma_size(sqe_size: number, depth = QM_Q_DEPTH): number {
  return Math.ceil((sqe_size * depth + QM_CQE_SIZE * depth) / PAGE_SIZE) * PAGE_SIZE + PAGE_SIZE;
}

function align32(v: number): number {
  return Math.ceil(v / 32) * 32;
}

/** hisi_qm_memory_init: the context tables and every qp's ring memory. */
function hisi_qm_memory_init(qm: HisiQm): number {
  const bus = qm_bus();
  const eqSize = align32(4 * QM_EQ_DEPTH);
  const aeqSize = align32(4 * QM_AEQ_DEPTH);
  const ctxSize = align32(QM_CTX_SLOT * qm.qp_num);
  const total = eqSize + aeqSize + 2 * ctxSize;
  const qdma = bus.dma_alloc_coherent(qm.pdev.dev, total);
  if (qdma === null) return -ENOMEM;
  qm.qdma = qdma;
  qm.eqeCpu = qdma.cpu;
  qm.eqeDma = qdma.dma;
  qm.aeqeCpu = qdma.cpu + eqSize;
  qm.aeqeDma = qdma.dma + eqSize;
  qm.sqcDma = qdma.dma + eqSize + aeqSize;
  qm.cqcDma = qm.sqcDma + ctxSize;
  const size = qm_qp_dma_size(qm.sqe_size);
  for (let i = 0; i < qm.qp_num; i++) {
    const mem = bus.dma_alloc_coherent(qm.pdev.dev, size);
    if (mem === null) {
      hisi_qm_memory_uninit(qm);
      return -ENOMEM;
    }
    const qp = new HisiQp(qm, i, mem, QM_Q_DEPTH, QM_Q_DEPTH);
    qp.status = QP_CLOSE;
    qm.qps.push(qp);
  }
  return 0;
}

function hisi_qm_memory_uninit(qm: HisiQm): void {
  const bus = qm_bus();
  for (const qp of qm.qps) bus.dma_free_coherent(qm.pdev.dev, qp.qdma);
  qm.qps = [];
  if (qm.qdma) bus.dma_free_coherent(qm.pdev.dev, qm.qdma);
  qm.qdma = null;
}

function qm_irq(_irq: number, data: unknown): IrqReturn {
  const qm = data as HisiQm;
  if (readl(qm, R.QM_VF_EQ_INT_SOURCE) !== 0) {
    qm.dfx.eq_irq_cnt++;
    if (qm.wq) queue_work(qm.wq, qm.work);
    return IRQ_HANDLED;
  }
  qm.dfx.err_irq_cnt++;
  dev_err(qm, 'invalid int source');
  qm_db(qm, 0, R.QM_DOORBELL_CMD_EQ, qm.eq_head, 0);
  return IRQ_NONE;
}

function qm_aeq_irq(_irq: number, data: unknown): IrqReturn {
  const qm = data as HisiQm;
  qm.dfx.aeq_irq_cnt++;
  if (readl(qm, R.QM_VF_AEQ_INT_SOURCE) === 0) return IRQ_NONE;
  return IRQ_WAKE_THREAD;
}

function* qm_aeq_thread(_irq: number, data: unknown): Generator<unknown, IrqReturn, unknown> {
  yield* qm_aeq_process(data as HisiQm);
  return IRQ_HANDLED;
}

function qm_abnormal_irq(_irq: number, data: unknown): IrqReturn {
  const qm = data as HisiQm;
  qm.dfx.abnormal_irq_cnt++;
  const r = hisi_qm_process_dev_error(qm);
  // The reset work goes to the system workqueue: it flushes qm.wq while stopping qps.
  if (r === ACC_ERR_NEED_RESET && !qm.resetting) {
    qm.resetting = true;
    schedule_work(qm.rst_work);
  }
  return IRQ_HANDLED;
}

function qm_irqs_register(qm: HisiQm): number {
  const bus = qm_bus();
  const n = bus.pci_alloc_irq_vectors(qm.pdev, R.QM_MSI_VECTORS_V2_PF, R.QM_MSI_VECTORS_V2_PF, PCI_IRQ_MSI);
  if (n < 0) {
    dev_err(qm, `Enable MSI vectors fail (${n})!`);
    return n;
  }
  const irq = (v: number): number => bus.pci_irq_vector(qm.pdev, v);
  const eq = irq(R.QM_EQ_EVENT_IRQ_VECTOR);
  let r = request_irq(eq, qm_irq, 0, qm.dev_name, qm);
  if (r < 0) return r;
  qm.irqs.push(eq);
  const aeq = irq(R.QM_AEQ_EVENT_IRQ_VECTOR);
  r = request_threaded_irq(aeq, qm_aeq_irq, qm_aeq_thread, 0, qm.dev_name, qm);
  if (r < 0) return r;
  qm.irqs.push(aeq);
  const abn = irq(R.QM_ABNORMAL_EVENT_IRQ_VECTOR);
  r = request_irq(abn, qm_abnormal_irq, 0, qm.dev_name, qm);
  if (r < 0) return r;
  qm.irqs.push(abn);
  return 0;
}

function qm_irqs_unregister(qm: HisiQm): void {
  for (const irq of qm.irqs) free_irq(irq, qm);
  qm.irqs = [];
  qm_bus().pci_free_irq_vectors(qm.pdev);
}

/**
 * hisi_qm_init: PCI (memory BAR, bus master), MSI vectors and handlers, device
 * memory init, the accelerator's register set-up, and the context/ring memory.
 */
export function hisi_qm_init(qm: HisiQm): number {
  const bus = qm_bus();
  if (qm.ver !== R.QM_HW_V2) {
    pr_err(`${qm.name}: QM version 0x${qm.ver.toString(16)} is not supported (this driver handles v2, revision 0x21)`);
    return -ENODEV;
  }
  if (qm.qp_num < 1 || qm.qp_num > qm.ctrl_qp_num) {
    dev_err(qm, `qp_num ${qm.qp_num} out of range (1-${qm.ctrl_qp_num})`);
    return -EINVAL;
  }
  let r = bus.pci_enable_device_mem(qm.pdev);
  if (r < 0) {
    dev_err(qm, 'Failed to enable device mem!');
    return r;
  }
  qm.io_base = bus.pci_resource_start(qm.pdev, 2);
  if (qm.io_base === 0) {
    dev_err(qm, 'BAR2 is not assigned');
    bus.pci_disable_device(qm.pdev);
    return -ENODEV;
  }
  bus.pci_set_master(qm.pdev);
  qm.wq = alloc_workqueue('hisi_qm', WQ_HIGHPRI | WQ_MEM_RECLAIM | WQ_UNBOUND, 0);
  r = qm_irqs_register(qm);
  if (r < 0) {
    qm_irqs_unregister(qm);
    bus.pci_disable_device(qm.pdev);
    return r;
  }
  // uacce first: whether the function shares address spaces decides the engine's AXUSER set-up
  if (qm.uacce_mode === 1) {
    const u = qm_alloc_uacce(qm);
    if (u < 0) pr_warn(`${qm.name}: fail to alloc uacce (${u})`);
  }
  r = qm_dev_mem_reset(qm);
  if (r === 0) r = qm.err_ini.hw_init(qm);
  if (r === 0) r = hisi_qm_memory_init(qm);
  if (r < 0) {
    qm_free_uacce(qm);
    qm_irqs_unregister(qm);
    bus.pci_clear_master(qm.pdev);
    bus.pci_disable_device(qm.pdev);
    return r;
  }
  qm.status = QM_INIT;
  return 0;
}

export function* hisi_qm_uninit(qm: HisiQm): Generator<unknown, void, unknown> {
  const bus = qm_bus();
  yield* qm_remove_uacce(qm);
  hisi_qm_cache_wb(qm);
  hisi_qm_dev_err_uninit(qm);
  if (qm.wq) {
    yield* flush_workqueue(qm.wq);
    yield* destroy_workqueue(qm.wq);
    qm.wq = null;
  }
  qm_irqs_unregister(qm);
  hisi_qm_memory_uninit(qm);
  bus.pci_clear_master(qm.pdev);
  bus.pci_disable_device(qm.pdev);
  qm.status = QM_CLOSE;
}

// ---------------------------------------------------------------- start / stop

function qm_eq_ctx_cfg(qm: HisiQm): number {
  const bus = qm_bus();
  const ctx = bus.dma_alloc_coherent(qm.pdev.dev, 32);
  if (ctx === null) return -ENOMEM;
  const cpu = thisCpu();
  try {
    writeWords(cpu, ctx.cpu, qm_eqc_build(qm.eqeDma, QM_EQ_DEPTH));
    let r = qm_mb(qm, QM_MB_CMD.EQC, ctx.dma, 0, 0);
    if (r < 0) return r;
    writeWords(cpu, ctx.cpu, qm_eqc_build(qm.aeqeDma, QM_AEQ_DEPTH));
    r = qm_mb(qm, QM_MB_CMD.AEQC, ctx.dma, 0, 0);
    return r;
  } finally {
    bus.dma_free_coherent(qm.pdev.dev, ctx);
  }
}

function writeWords(cpu: ArchCpu, pa: number, w: Uint32Array): void {
  for (let i = 0; i < w.length; i++) cpu.stPhys32(pa + i * 4, w[i]!);
}

/** __hisi_qm_start: EQC/AEQC, SQC_BT/CQC_BT, then the EQ/AEQ doorbells and unmask. */
function __hisi_qm_start(qm: HisiQm): number {
  qm.eq_head = 0;
  qm.eqc_phase = 1;
  qm.aeq_head = 0;
  qm.aeqc_phase = 1;
  let r = qm_eq_ctx_cfg(qm);
  if (r === 0) r = qm_mb(qm, QM_MB_CMD.SQC_BT, qm.sqcDma, 0, 0);
  if (r === 0) r = qm_mb(qm, QM_MB_CMD.CQC_BT, qm.cqcDma, 0, 0);
  if (r < 0) return r;
  qm_db(qm, 0, R.QM_DOORBELL_CMD_AEQ, qm.aeq_head, 0);
  qm_db(qm, 0, R.QM_DOORBELL_CMD_EQ, qm.eq_head, 0);
  writel(qm, R.QM_VF_EQ_INT_MASK, 0);
  writel(qm, R.QM_VF_AEQ_INT_MASK, 0);
  return 0;
}

/** hisi_qm_start: the PF's VFT (its queue range), then the QM contexts. */
export function hisi_qm_start(qm: HisiQm): number {
  dev_info(qm, `qm start with ${qm.qp_num} queue pairs`);
  if (qm.qp_num === 0) return -EINVAL;
  let r = hisi_qm_set_vft(qm, 0, qm.qp_base, qm.qp_num);
  if (r < 0) {
    dev_err(qm, 'Failed to set vft!');
    return r;
  }
  r = __hisi_qm_start(qm);
  if (r < 0) return r;
  qm.status = QM_START;
  return 0;
}

/** qm_set_qp_disable: writes 1 into the TX or RX stop word of the qp's status page. */
export function qm_set_qp_disable(qp: HisiQp, offset: number): void {
  thisCpu().stPhys32(qp.qdma.cpu + qp.qdma.size - offset * 4, 1);
}

/** The TX/RX stop words (uacce/UADK check them before doorbells). */
export function qm_qp_stop_words(qp: HisiQp): { tx: number; rx: number } {
  const cpu = thisCpu();
  const end = qp.qdma.cpu + qp.qdma.size;
  return { tx: cpu.ldPhys32(end - 4 * QM_RESET_STOP_TX_OFFSET), rx: cpu.ldPhys32(end - 4 * QM_RESET_STOP_RX_OFFSET) };
}

function hisi_qm_set_hw_reset(qm: HisiQm, offset: number): void {
  for (const qp of qm.qps) if (qp.status === QP_START || qp.status === QP_STOP) qm_set_qp_disable(qp, offset);
}

function qm_clear_queues(qm: HisiQm): void {
  const cpu = thisCpu();
  for (const qp of qm.qps) {
    if (qp.status === QP_CLOSE) continue;
    cpu.fillPhys(qp.qdma.cpu, 0, qp.qdma.size - PAGE_SIZE);
  }
  if (qm.qdma) cpu.fillPhys(qm.qdma.cpu, 0, qm.qdma.size);
}

/** hisi_qm_stop: stops started qps (with TX/RX stop flags on reset), masks events, clears the VFT. */
export function* hisi_qm_stop(qm: HisiQm, reason: number): Generator<unknown, number, unknown> {
  qm.stop_reason = reason;
  let ret = 0;
  if (reason === QM_SOFT_RESET || reason === QM_DOWN) {
    hisi_qm_set_hw_reset(qm, QM_RESET_STOP_TX_OFFSET);
    for (const qp of qm.qps) {
      if (qp.status !== QP_START) continue;
      qp.is_resetting = true;
      const r = yield* hisi_qm_stop_qp(qp);
      if (r < 0) ret = r;
    }
    hisi_qm_set_hw_reset(qm, QM_RESET_STOP_RX_OFFSET);
  }
  writel(qm, R.QM_VF_EQ_INT_MASK, R.QM_EQ_INT_DISABLE);
  writel(qm, R.QM_VF_AEQ_INT_MASK, R.QM_AEQ_INT_DISABLE);
  const r = hisi_qm_set_vft(qm, 0, 0, 0);
  if (r < 0) {
    dev_err(qm, 'Failed to set vft!');
    ret = r;
  }
  qm_clear_queues(qm);
  qm.status = QM_STOP;
  return ret;
}

// ---------------------------------------------------------------- queue pairs

/** hisi_qm_create_qp: takes a free qp (its memory was allocated at init). */
export function hisi_qm_create_qp(qm: HisiQm, alg_type: number): HisiQp | number {
  if (qm.status !== QM_START && qm.status !== QM_INIT) return -EPERM;
  if (qm.qp_in_used >= qm.qp_num) {
    dev_info(qm, `All ${qm.qp_num} queues of QM are busy!`);
    qm.dfx.create_qp_err_cnt++;
    return -EBUSY;
  }
  const qp = qm.qps.find((q) => q.status === QP_CLOSE);
  if (qp === undefined) {
    qm.dfx.create_qp_err_cnt++;
    return -EBUSY;
  }
  qp.status = QP_INIT;
  qp.alg_type = alg_type;
  qp.is_in_kernel = true;
  qp.is_resetting = false;
  qp.req_cb = null;
  qp.event_cb = null;
  qp.used = 0;
  qm.qp_in_used++;
  // The ring and the status page start zeroed: phase 1 is the first expected, TX/RX stop words are 0.
  thisCpu().fillPhys(qp.qdma.cpu, 0, qp.qdma.size);
  return qp;
}

/** qm_qp_ctx_cfg: SQC and CQC of the qp through the mailbox. */
function qm_qp_ctx_cfg(qp: HisiQp, pasid: number): number {
  const qm = qp.qm;
  const bus = qm_bus();
  const ctx = bus.dma_alloc_coherent(qm.pdev.dev, 32);
  if (ctx === null) return -ENOMEM;
  const cpu = thisCpu();
  try {
    // The SQC/CQC PASID enable exists from v3 on, for user queues of an SVA function;
    // v2 tags data transfers with the SQC PASID through the engine's AXUSER SSV bits.
    const pasidEnable = qm.ver >= R.QM_HW_V3 && qm.use_sva && !qp.is_in_kernel;
    const sqc = qm_sqc_build({ base: qp.sqeDma, depth: qp.sq_depth, sqeSizeLog2: Math.log2(qm.sqe_size), pasid, pasidEnable, cqNum: qp.qp_id, algType: qp.alg_type });
    writeWords(cpu, ctx.cpu, sqc);
    let r = qm_mb(qm, QM_MB_CMD.SQC, ctx.dma, qp.qp_id, 0);
    if (r < 0) return r;
    writeWords(cpu, ctx.cpu, qm_cqc_build({ base: qp.cqeDma, depth: qp.cq_depth, pasid, pasidEnable }));
    r = qm_mb(qm, QM_MB_CMD.CQC, ctx.dma, qp.qp_id, 0);
    return r;
  } finally {
    bus.dma_free_coherent(qm.pdev.dev, ctx);
  }
}

/** hisi_qm_start_qp: kernel callers pass pasid 0; uacce passes the bound PASID. */
export function hisi_qm_start_qp(qp: HisiQp, pasid: number): number {
  const qm = qp.qm;
  if (qm.status !== QM_START || (qp.status !== QP_INIT && qp.status !== QP_STOP)) {
    dev_err(qm, `failed to start qp${qp.qp_id}: qm state ${qm.status}, qp state ${qp.status}`);
    return -EPERM;
  }
  qp.sq_tail = 0;
  qp.cq_head = 0;
  qp.cqc_phase = 1;
  qp.used = 0;
  qp.pasid = pasid;
  const r = qm_qp_ctx_cfg(qp, pasid);
  if (r < 0) return r;
  qp.status = QP_START;
  qp.is_resetting = false;
  pr_debug(`${qm.name}: queue ${qp.qp_id} started with pasid ${pasid}`);
  return qp.qp_id;
}

/** Dumps SQC and CQC of a queue (mailbox op 1) into `buf` (64 bytes of coherent memory). */
export function qm_dump_sqc_cqc(qm: HisiQm, qp_id: number, buf: DmaCoherent): { sqc: Uint32Array; cqc: Uint32Array } | number {
  let r = qm_mb(qm, QM_MB_CMD.SQC, buf.dma, qp_id, 1);
  if (r === 0) r = qm_mb(qm, QM_MB_CMD.CQC, buf.dma + 32, qp_id, 1);
  if (r < 0) return r;
  const cpu = thisCpu();
  const sqc = QM_SQC.alloc();
  const cqc = QM_CQC.alloc();
  for (let i = 0; i < 8; i++) {
    sqc[i] = cpu.ldPhys32(buf.cpu + i * 4);
    cqc[i] = cpu.ldPhys32(buf.cpu + 32 + i * 4);
  }
  return { sqc, cqc };
}

/** qm_drain_qp (v2): dump SQC and CQC until the tails and their wrap bits match. */
function* qm_drain_qp(qp: HisiQp): Generator<unknown, number, unknown> {
  const qm = qp.qm;
  const bus = qm_bus();
  const buf = bus.dma_alloc_coherent(qm.pdev.dev, 64);
  if (buf === null) return -ENOMEM;
  try {
    for (let i = 1; ; i++) {
      const d = qm_dump_sqc_cqc(qm, qp.qp_id, buf);
      if (typeof d === 'number') {
        dev_err(qm, 'Failed to dump sqc/cqc!');
        return d;
      }
      const sqTail = getField(d.sqc, QM_SQC.f.tail);
      const cqTail = getField(d.cqc, QM_CQC.f.tail);
      if (sqTail === cqTail && getField(d.sqc, QM_SQC.f.wrap) === getField(d.cqc, QM_CQC.f.wrap)) return 0;
      if (i === DRAIN_MAX_WAIT_COUNTS) {
        dev_err(qm, `Fail to empty queue ${qp.qp_id}!`);
        return -EBUSY;
      }
      yield* usleep(DRAIN_WAIT_US);
    }
  } finally {
    bus.dma_free_coherent(qm.pdev.dev, buf);
  }
}

/** qp_stop_fail_cb: requests still outstanding after a failed drain are ended with an abort status. */
function qp_stop_fail_cb(qp: HisiQp): void {
  const cpu = thisCpu();
  const n = qp.used;
  const head = (qp.sq_tail + qp.sq_depth - n) % qp.sq_depth;
  for (let i = 0; i < n; i++) {
    const pos = (head + i) % qp.sq_depth;
    const addr = qp.sqeCpu + pos * qp.qm.sqe_size;
    cpu.readPhys(addr, qp.sqeBuf, 0, 128);
    qp.sqeBuf[12] = QM_SQE_STATUS_ABORTED; // dw3[7:0]: no hardware result came back
    qp.req_cb?.(qp, qp.sqeWords);
    qp.used--;
  }
}

/** hisi_qm_stop_qp: drain, flush the completion work, end what is left on reset. */
export function* hisi_qm_stop_qp(qp: HisiQp): Generator<unknown, number, unknown> {
  const qm = qp.qm;
  if (qp.status === QP_STOP || qp.status === QP_INIT || qp.status === QP_CLOSE) return 0;
  qp.status = QP_STOP;
  const r = yield* qm_drain_qp(qp);
  if (r < 0) dev_err(qm, 'Failed to drain out data for stopping!');
  if (qm.wq) yield* flush_workqueue(qm.wq);
  // Completions that arrived while draining: deliver them before declaring the qp stopped.
  qm_poll_req_cb(qp, true);
  if ((qp.is_resetting || r < 0) && qp.used > 0) qp_stop_fail_cb(qp);
  pr_debug(`${qm.name}: stop queue ${qp.qp_id}!`);
  return 0;
}

/** hisi_qm_release_qp: gives the qp back (it must be stopped). */
export function hisi_qm_release_qp(qp: HisiQp): void {
  const qm = qp.qm;
  if (qp.status === QP_CLOSE) return;
  qp.status = QP_CLOSE;
  qp.req_cb = null;
  qp.event_cb = null;
  qp.qp_ctx = null;
  qm.qp_in_used--;
}

/**
 * hisi_qp_send: copies the SQE into SQ[tail], rings the SQ doorbell with the new
 * tail. -EAGAIN when the qp or QM is stopped or resetting, -EBUSY when the SQ is full
 * (used == depth - 1).
 */
export function hisi_qp_send(qp: HisiQp, sqe: Uint8Array): number {
  const qm = qp.qm;
  if (qp.status !== QP_START || qm.status !== QM_START || qp.is_resetting) return -EAGAIN;
  if (qp.used >= qp.sq_depth - 1) return -EBUSY;
  const cpu = thisCpu();
  const tail = qp.sq_tail;
  cpu.writePhys(qp.sqeCpu + tail * qm.sqe_size, sqe, 0, qm.sqe_size);
  const next = (tail + 1) % qp.sq_depth;
  cpu.dsb();
  qp.sq_tail = next;
  qp.used++;
  qm_db(qm, qp.qp_id, R.QM_DOORBELL_CMD_SQ, next, 0);
  return 0;
}

/**
 * qm_poll_req_cb: consumes CQEs whose phase matches, hands SQ[sq_head] (where the
 * hardware wrote the result) to req_cb, rings the CQ doorbell per entry and once more
 * with priority 1 (the c_flag re-arm). `stopping` also drains a qp being stopped.
 */
export function qm_poll_req_cb(qp: HisiQp, stopping = false): number {
  const qm = qp.qm;
  if (qp.status !== QP_START && !(stopping && qp.status === QP_STOP)) return 0;
  const cpu = thisCpu();
  let n = 0;
  for (;;) {
    const cqe = qp.cqeCpu + qp.cq_head * QM_CQE_SIZE;
    const w3 = cpu.ldPhys32(cqe + 12);
    if (((w3 >>> 16) & 1) !== qp.cqc_phase) break;
    const sqHead = cpu.ldPhys16(cqe + 8);
    if (sqHead < qp.sq_depth) {
      cpu.readPhys(qp.sqeCpu + sqHead * qm.sqe_size, qp.sqeBuf, 0, qm.sqe_size);
      if (qp.used > 0) qp.used--;
      qp.req_cb?.(qp, qp.sqeWords);
    } else {
      dev_err(qm, `qp${qp.qp_id}: CQE sq_head ${sqHead} out of range`);
    }
    qm_cq_head_update(qp);
    qm_db(qm, qp.qp_id, R.QM_DOORBELL_CMD_CQ, qp.cq_head, 0);
    n++;
  }
  if (n > 0) qm_db(qm, qp.qp_id, R.QM_DOORBELL_CMD_CQ, qp.cq_head, 1);
  return n;
}

/** qm_cq_head_update: advance, flipping the expected phase at the wrap. */
export function qm_cq_head_update(qp: HisiQp): void {
  if (qp.cq_head === qp.cq_depth - 1) {
    qp.cqc_phase ^= 1;
    qp.cq_head = 0;
  } else qp.cq_head++;
}

/** hisi_qm_is_q_updated (uacce poll): true when a CQE with the expected phase waits; advances like UADK expects. */
export function hisi_qm_is_q_updated(qp: HisiQp): boolean {
  const cpu = thisCpu();
  let updated = false;
  for (;;) {
    const w3 = cpu.ldPhys32(qp.cqeCpu + qp.cq_head * QM_CQE_SIZE + 12);
    if (((w3 >>> 16) & 1) !== qp.cqc_phase) break;
    qm_cq_head_update(qp);
    updated = true;
  }
  return updated;
}

function qm_poll_qp(qm: HisiQm, cqn: number): void {
  const qp = qm.qps[cqn - qm.qp_base];
  if (qp === undefined || qp.status !== QP_START) return;
  if (qp.event_cb) {
    qp.event_cb(qp);
    return;
  }
  qm_poll_req_cb(qp);
}

/** qm_work_process: EQEs with the expected phase name the CQs to poll; the EQ doorbell acknowledges. */
function* qm_work_process(qm: HisiQm): Generator<unknown, void, unknown> {
  const cpu = thisCpu();
  let eqe_num = 0;
  for (;;) {
    const dw0 = cpu.ldPhys32(qm.eqeCpu + qm.eq_head * 4);
    if (((dw0 >>> 16) & 1) !== qm.eqc_phase) break;
    eqe_num++;
    qm_poll_qp(qm, dw0 & 0xffff);
    if (qm.eq_head === QM_EQ_DEPTH - 1) {
      qm.eqc_phase ^= 1;
      qm.eq_head = 0;
    } else qm.eq_head++;
    if (eqe_num === QM_EQ_DEPTH / 2 - 1) {
      eqe_num = 0;
      qm_db(qm, 0, R.QM_DOORBELL_CMD_EQ, qm.eq_head, 0);
    }
  }
  qm_db(qm, 0, R.QM_DOORBELL_CMD_EQ, qm.eq_head, 0);
}

/** qm_disable_qp: TX stop flag, stop, RX stop flag (CQ overflow / CQE error). */
function* qm_disable_qp(qm: HisiQm, qp_id: number): Generator<unknown, void, unknown> {
  const qp = qm.qps[qp_id - qm.qp_base];
  if (qp === undefined) return;
  qm_set_qp_disable(qp, QM_RESET_STOP_TX_OFFSET);
  yield* hisi_qm_stop_qp(qp);
  qm_set_qp_disable(qp, QM_RESET_STOP_RX_OFFSET);
}

/** qm_aeq_thread: walks the AEQEs with the expected phase, then the AEQ doorbell. */
function* qm_aeq_process(qm: HisiQm): Generator<unknown, void, unknown> {
  const cpu = thisCpu();
  for (;;) {
    const dw0 = cpu.ldPhys32(qm.aeqeCpu + qm.aeq_head * 4);
    if (((dw0 >>> 16) & 1) !== qm.aeqc_phase) break;
    const type = dw0 >>> 17;
    const qp_id = dw0 & 0xffff;
    if (qm.aeq_head === QM_AEQ_DEPTH - 1) {
      qm.aeqc_phase ^= 1;
      qm.aeq_head = 0;
    } else qm.aeq_head++;
    switch (type) {
      case QM_AEQE_TYPE.EQ_OVERFLOW:
        dev_err(qm, 'eq overflow, reset function');
        qm_db(qm, 0, R.QM_DOORBELL_CMD_AEQ, qm.aeq_head, 0);
        yield* qm_reset_function(qm);
        return;
      case QM_AEQE_TYPE.CQ_OVERFLOW:
        dev_err(qm, `cq overflow, stop qp(${qp_id})`);
        yield* qm_disable_qp(qm, qp_id);
        break;
      case QM_AEQE_TYPE.CQE_ERROR:
        dev_err(qm, `cqe error, stop qp(${qp_id})`);
        yield* qm_disable_qp(qm, qp_id);
        break;
      default:
        dev_err(qm, `unknown error type ${type}`);
    }
  }
  qm_db(qm, 0, R.QM_DOORBELL_CMD_AEQ, qm.aeq_head, 0);
}

/** Number of free queues (hisi_qm_get_free_qp_num; uacce available_instances). */
export function hisi_qm_get_free_qp_num(qm: HisiQm): number {
  return qm.qp_num - qm.qp_in_used;
}

// ---------------------------------------------------------------- errors

/** hisi_qm_dev_err_init: QM RAS routing and abnormal mask, then the engine's error enables. */
export function hisi_qm_dev_err_init(qm: HisiQm): void {
  const ce = R.QM_BASE_CE;
  const nfe = R.QM_BASE_NFE;
  writel(qm, R.QM_ABNORMAL_INT_SOURCE, R.QM_ABNORMAL_INT_MASK_VALUE);
  writel(qm, R.QM_RAS_CE_ENABLE, ce);
  writel(qm, R.QM_RAS_CE_THRESHOLD, 1);
  writel(qm, R.QM_RAS_NFE_ENABLE, nfe);
  writel(qm, R.QM_RAS_FE_ENABLE, 0);
  writel(qm, R.QM_OOO_SHUTDOWN_SEL, R.QM_ECC_MBIT);
  qm.error_mask = ce | nfe;
  writel(qm, R.QM_ABNORMAL_INT_MASK, ~qm.error_mask & R.QM_ABNORMAL_INT_MASK_VALUE);
  qm.err_ini.hw_err_enable(qm);
}

export function hisi_qm_dev_err_uninit(qm: HisiQm): void {
  writel(qm, R.QM_ABNORMAL_INT_MASK, R.QM_ABNORMAL_INT_MASK_VALUE);
  qm.err_ini.hw_err_disable(qm);
}

function qm_log_hw_error(qm: HisiQm, status: number): void {
  for (const e of R.QM_HW_ERRORS) {
    if ((status & (1 << e.bit)) === 0) continue;
    dev_err(qm, `${e.msg} [error status=0x${(1 << e.bit).toString(16)}] found`);
    if (1 << e.bit === R.QM_DB_TIMEOUT) {
      const v = readl(qm, R.QM_ABNORMAL_INF01);
      dev_err(qm, `qm ${R.QM_DB_TYPE_NAMES[(v & R.QM_DB_TIMEOUT_TYPE) >>> R.QM_DB_TIMEOUT_TYPE_SHIFT]} doorbell timeout in function ${v & R.QM_DB_TIMEOUT_VF}`);
    } else if (1 << e.bit === R.QM_OF_FIFO_OF) {
      const v = readl(qm, R.QM_ABNORMAL_INF00);
      dev_err(qm, `qm ${R.QM_DB_TYPE_NAMES[(v & R.QM_FIFO_OVERFLOW_TYPE) >>> R.QM_FIFO_OVERFLOW_TYPE_SHIFT]} fifo overflow in function ${v & R.QM_FIFO_OVERFLOW_VF}`);
    }
  }
}

/** qm_hw_error_handle_v2 */
function qm_hw_error_handle(qm: HisiQm): number {
  const status = qm.error_mask & readl(qm, R.QM_ABNORMAL_INT_STATUS);
  if (status === 0) return ACC_ERR_NONE;
  if (status & R.QM_ECC_MBIT) qm.is_qm_ecc_mbit = true;
  qm_log_hw_error(qm, status);
  if (status & R.QM_RESET_MASK) {
    // Disable the same error reporting until the device is recovered (the reset re-routes it).
    writel(qm, R.QM_RAS_NFE_ENABLE, R.QM_BASE_NFE & ~status);
    return ACC_ERR_NEED_RESET;
  }
  writel(qm, R.QM_ABNORMAL_INT_SOURCE, status);
  writel(qm, R.QM_RAS_NFE_ENABLE, R.QM_BASE_NFE);
  writel(qm, R.QM_RAS_CE_ENABLE, R.QM_BASE_CE);
  return ACC_ERR_RECOVERED;
}

function qm_dev_err_handle(qm: HisiQm): number {
  const err = qm.err_ini.get_dev_hw_err_status(qm);
  if (err === 0) return ACC_ERR_NONE;
  qm.err_ini.log_dev_hw_err(qm, err);
  if (err & qm.err_ini.dev_reset_mask) {
    qm.err_ini.disable_error_report(qm, err);
    return ACC_ERR_NEED_RESET;
  }
  qm.err_ini.clear_dev_hw_err_status(qm, err);
  qm.err_ini.enable_error_report(qm);
  return ACC_ERR_RECOVERED;
}

/** hisi_qm_process_dev_error: QM then engine errors; correctable ones are cleared here. */
export function hisi_qm_process_dev_error(qm: HisiQm): number {
  const a = qm_hw_error_handle(qm);
  const b = qm_dev_err_handle(qm);
  if (a === ACC_ERR_NEED_RESET || b === ACC_ERR_NEED_RESET) return ACC_ERR_NEED_RESET;
  return a === ACC_ERR_RECOVERED || b === ACC_ERR_RECOVERED ? ACC_ERR_RECOVERED : ACC_ERR_NONE;
}

// ---------------------------------------------------------------- reset

/** qm_check_req_recv (v2): the vendor-ID handshake proves the QM saw every doorbell and mailbox. */
function qm_check_req_recv(qm: HisiQm): number {
  writel(qm, R.QM_PEH_VENDOR_ID, R.QM_PEH_VENDOR_ID_PROBE);
  let r = readl_poll_timeout(qm, R.QM_PEH_VENDOR_ID, (v) => v === R.QM_PEH_VENDOR_ID_PROBE, POLL_PERIOD_US, POLL_TIMEOUT_US);
  if (r < 0) {
    dev_err(qm, 'Fails to read QM reg!');
    return r;
  }
  writel(qm, R.QM_PEH_VENDOR_ID, R.PCI_VENDOR_ID_HUAWEI);
  r = readl_poll_timeout(qm, R.QM_PEH_VENDOR_ID, (v) => v === R.PCI_VENDOR_ID_HUAWEI, POLL_PERIOD_US, POLL_TIMEOUT_US);
  if (r < 0) dev_err(qm, 'Fails to read QM reg in the second time!');
  return r;
}

const PCI_CAP_ID_MSI = 0x05;
const PCI_MSI_FLAGS_64BIT = 1 << 7;

/** pci_find_capability through the config accessors. */
function pci_find_capability(pdev: HisiPciDev, id: number): number {
  const bus = qm_bus();
  let pos = bus.pci_read_config_dword(pdev, 0x34) & 0xfc;
  for (let n = 0; pos !== 0 && n < 48; n++) {
    const hdr = bus.pci_read_config_dword(pdev, pos);
    if ((hdr & 0xff) === id) return pos;
    pos = (hdr >>> 8) & 0xfc;
  }
  return 0;
}

/** qm_set_msi (v2): mask or unmask every MSI vector through the per-vector mask register. */
function qm_set_msi(qm: HisiQm, on: boolean): void {
  const bus = qm_bus();
  const cap = pci_find_capability(qm.pdev, PCI_CAP_ID_MSI);
  if (cap === 0) return;
  const ctl = bus.pci_read_config_dword(qm.pdev, cap) >>> 16;
  const maskOff = cap + (ctl & PCI_MSI_FLAGS_64BIT ? 0x10 : 0x0c);
  bus.pci_write_config_dword(qm.pdev, maskOff, on ? 0 : 0xffffffff);
}

/** qm_soft_reset: handshake, MSI off, master shutdown and wait, then the reset itself. */
function qm_soft_reset(qm: HisiQm): number {
  let r = qm_check_req_recv(qm);
  if (r < 0) return r;
  qm_set_msi(qm, false);
  writel(qm, R.ACC_MASTER_GLOBAL_CTRL, R.ACC_MASTER_GLOBAL_CTRL_SHUTDOWN);
  r = readl_poll_timeout(qm, R.ACC_MASTER_TRANS_RETURN, (v) => v === R.ACC_MASTER_TRANS_RETURN_RW, POLL_PERIOD_US, POLL_TIMEOUT_US);
  if (r < 0) {
    pr_err(`${qm.name}: Bus lock! Please reset system.`);
    return r;
  }
  // Linux evaluates the ACPI "ZRST" method here; a device-tree platform has none, so the
  // function is reset with an FLR (pci_reset_function saves and restores config space).
  r = qm_bus_reset_function(qm);
  if (r < 0) dev_err(qm, `No reset method! (${r})`);
  return r;
}

function qm_bus_reset_function(qm: HisiQm): number {
  return qm_bus().pci_reset_function(qm.pdev);
}

/** Re-initialises the function after a reset and restarts the qps that were running. */
function qm_controller_reset_done(qm: HisiQm): number {
  qm_set_msi(qm, true);
  let r = qm_dev_mem_reset(qm);
  if (r === 0) r = qm.err_ini.hw_init(qm);
  if (r < 0) return r;
  hisi_qm_dev_err_init(qm);
  r = hisi_qm_start(qm);
  if (r < 0) return r;
  for (const qp of qm.qps) {
    if (qp.status !== QP_STOP || !qp.is_resetting) continue;
    const end = qp.qdma.cpu + qp.qdma.size;
    thisCpu().stPhys32(end - 4 * QM_RESET_STOP_TX_OFFSET, 0);
    thisCpu().stPhys32(end - 4 * QM_RESET_STOP_RX_OFFSET, 0);
    const s = hisi_qm_start_qp(qp, qp.pasid);
    if (s < 0) {
      dev_err(qm, `Failed to start qp${qp.qp_id}!`);
      return s;
    }
  }
  return 0;
}

/** hisi_qm_controller_reset: stop, soft reset, re-init, restart. */
export function* hisi_qm_controller_reset(qm: HisiQm): Generator<unknown, number, unknown> {
  dev_info(qm, 'Controller resetting...');
  qm.resetting = true;
  if (qm.use_sva) qm_hw_err_isolate(qm);
  qm.dfx.reset_cnt++;
  let r = yield* hisi_qm_stop(qm, QM_SOFT_RESET);
  if (r < 0) dev_err(qm, 'Fails to stop QM!');
  r = qm_soft_reset(qm);
  if (r === 0) r = qm_controller_reset_done(qm);
  qm.resetting = false;
  qm.is_qm_ecc_mbit = false;
  if (r < 0) {
    dev_err(qm, `Controller reset failed (${r})`);
    return r;
  }
  dev_info(qm, 'Controller reset complete');
  return 0;
}

function* hisi_qm_controller_reset_work(qm: HisiQm): Generator<unknown, void, unknown> {
  yield* hisi_qm_controller_reset(qm);
}

/** qm_reset_function (EQ overflow): stop and start the function and its qps. */
function* qm_reset_function(qm: HisiQm): Generator<unknown, void, unknown> {
  if (qm.resetting) return;
  qm.resetting = true;
  yield* hisi_qm_stop(qm, QM_DOWN);
  const r = qm_controller_reset_done(qm);
  qm.resetting = false;
  if (r < 0) dev_err(qm, `function reset failed (${r})`);
  else dev_info(qm, 'function reset complete');
}

// ---------------------------------------------------------------- debug files

/** DFX registers shown in the debugfs "regs" file (qm_dfx_regs). */
const QM_DEBUG_REGS: readonly [string, number][] = [
  ['QM_ECC_1BIT_CNT', 0x104000],
  ['QM_ECC_MBIT_CNT', 0x104008],
  ['QM_DFX_MB_CNT', R.QM_DFX_MB_CNT],
  ['QM_DFX_DB_CNT', R.QM_DFX_DB_CNT],
  ['QM_DFX_SQE_CNT', R.QM_DFX_SQE_CNT],
  ['QM_DFX_CQE_CNT', R.QM_DFX_CQE_CNT],
  ['QM_DFX_CQE_ERR_CNT', R.QM_DFX_CQE_ERR_CNT],
  ['QM_ABNORMAL_INT_SOURCE', R.QM_ABNORMAL_INT_SOURCE],
  ['QM_ABNORMAL_INT_MASK', R.QM_ABNORMAL_INT_MASK],
  ['QM_VF_EQ_INT_SOURCE', R.QM_VF_EQ_INT_SOURCE],
  ['QM_VF_EQ_INT_MASK', R.QM_VF_EQ_INT_MASK],
  ['QM_VF_AEQ_INT_SOURCE', R.QM_VF_AEQ_INT_SOURCE],
  ['QM_VF_AEQ_INT_MASK', R.QM_VF_AEQ_INT_MASK],
];

/**
 * hisi_qm_debug_init: the debugfs files Linux has under /sys/kernel/debug/<drv>/<bdf>/
 * (qm_regs, qm_state, status counters). This kernel has no separate debugfs mount,
 * so the directory lives in sysfs at kernel/debug/<drv>/<bdf>.
 */
export function hisi_qm_debug_init(qm: HisiQm): void {
  const dir = `kernel/debug/${qm.dev_name}/${qm.pdev.name}`;
  qm.debugDir = dir;
  qm.debug_curr_qm_qp_num = qm.qp_num;
  // current_qm (the function whose QM counters show), qm/current_q (the queue whose SQE/CQE
  // counts show), qm/clear_enable (read-clear of the counters): PF only, as Linux.
  const file = (at: string, name: string, read: () => number, write: (v: number) => number): void => {
    sysfs_create_file(at, name, () => `${read() >>> 0}\n`, (text) => {
      const v = qm_debug_parse(text);
      return v < 0 ? v : write(v);
    }, 0o600);
  };
  file(dir, 'current_qm', () => readl(qm, R.QM_DFX_MB_CNT_VF), (v) => current_qm_write(qm, v));
  file(`${dir}/qm`, 'current_q', () => readl(qm, R.QM_DFX_SQE_CNT_VF_SQN) >>> R.QM_DFX_QN_SHIFT, (v) => current_q_write(qm, v));
  file(`${dir}/qm`, 'clear_enable', () => readl(qm, R.QM_DFX_CNT_CLR_CE), (v) => {
    if (v > 1) return -EINVAL;
    writel(qm, R.QM_DFX_CNT_CLR_CE, v);
    return 0;
  });
  sysfs_create_file(`${dir}/qm`, 'regs', () => QM_DEBUG_REGS.map(([n, off]) => `${n} = 0x${readl(qm, off).toString(16).padStart(8, '0')}\n`).join(''));
  sysfs_create_file(`${dir}/qm`, 'qm_state', () => `${['init', 'start', 'close', 'stop'][qm.status] ?? qm.status}\n`);
  sysfs_create_file(`${dir}/qm`, 'status', () =>
    (Object.keys(qm.dfx) as (keyof QmDfx)[]).map((k) => `${k}: ${qm.dfx[k]}\n`).join('') + `qp_in_used: ${qm.qp_in_used}\nqp_num: ${qm.qp_num}\n`,
  );
  for (const k of Object.keys(qm.dfx) as (keyof QmDfx)[]) sysfs_create_file(`${dir}/qm`, k, () => `${qm.dfx[k]}\n`);
}

/**
 * hisi_qm_debug_uninit / hisi_zip_debugfs_exit (debugfs_remove_recursive of the
 * function's debug root): every debug file of the function goes, the accelerator's too.
 */
export function hisi_qm_debug_uninit(qm: HisiQm): void {
  if (qm.debugDir === '') return;
  sysfs_remove(`kernel/debug/${qm.dev_name}`, qm.pdev.name);
  qm.debugDir = '';
}

/** qm_debug_write's number: kstrtoul(buf, 0) (decimal, 0x hex, 0 octal, one newline); Linux answers a bad one with -EFAULT. */
function qm_debug_parse(buf: string): number {
  const t = buf.endsWith('\n') ? buf.slice(0, -1) : buf;
  const v = /^0x[0-9a-f]+$/i.test(t) ? Number.parseInt(t.slice(2), 16) : /^0[0-7]*$/.test(t) ? Number.parseInt(t, 8) : /^[1-9][0-9]*$/.test(t) ? Number(t) : -1;
  return v >= 0 && v <= 0xffffffff ? v : -EFAULT;
}

/** current_qm_write: function `val` (0 = PF; this kernel enables no VFs) for every QM DFX counter selection. */
function current_qm_write(qm: HisiQm, val: number): number {
  if (val > 0) return -EINVAL; // qm->vfs_num: this kernel enables no VFs
  qm.debug_curr_qm_qp_num = qm.qp_num;
  writel(qm, R.QM_DFX_MB_CNT_VF, val);
  writel(qm, R.QM_DFX_DB_CNT_VF, val);
  writel(qm, R.QM_DFX_SQE_CNT_VF_SQN, (val | (readl(qm, R.QM_DFX_SQE_CNT_VF_SQN) & R.CURRENT_Q_MASK)) >>> 0);
  writel(qm, R.QM_DFX_CQE_CNT_VF_CQN, (val | (readl(qm, R.QM_DFX_CQE_CNT_VF_CQN) & R.CURRENT_Q_MASK)) >>> 0);
  return 0;
}

/** current_q_write: queue `val` of the selected function for the SQE/CQE counters. */
function current_q_write(qm: HisiQm, val: number): number {
  if (val >= qm.debug_curr_qm_qp_num) return -EINVAL;
  writel(qm, R.QM_DFX_SQE_CNT_VF_SQN, ((val << R.QM_DFX_QN_SHIFT) | (readl(qm, R.QM_DFX_SQE_CNT_VF_SQN) & R.CURRENT_FUN_MASK)) >>> 0);
  writel(qm, R.QM_DFX_CQE_CNT_VF_CQN, ((val << R.QM_DFX_QN_SHIFT) | (readl(qm, R.QM_DFX_CQE_CNT_VF_CQN) & R.CURRENT_FUN_MASK)) >>> 0);
  return 0;
}

