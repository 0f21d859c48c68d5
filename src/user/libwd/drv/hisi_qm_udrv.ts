// The HiSilicon QM user driver (UADK drv/hisi_qm_udrv.c in shape): one hardware queue
// pair driven from user space with plain loads and stores. The DUS region holds
//   [SQ sqe_size x sq_depth][CQ 16 x cq_depth] ... [RX stop u32][TX stop u32]
// (the last two words of the region); the MMIO region holds the doorbell register.
// Send copies SQEs to the SQ tail (wrapping), checks the TX stop word and rings the
// SQ doorbell with the new tail. Receive reads the CQE at the head; a phase bit other
// than the expected one means "nothing yet"; the response is the SQE slot the CQE
// names (the engine wrote its results there); the head advances (the expected phase
// flips at the wrap), the RX stop word is checked and the CQ doorbell rung. No system
// call on this path.

import { thisCpu } from '../../../arch/index.js';
import { cpu_relax } from '../../libc/cpu_relax.js';
import { EBUSY, EINVAL, EIO, EAGAIN, ENOMEM } from '../../libc/errno.js';
import { HISI_QP_CTX, HISI_QP_INFO, UACCE_CMD_QM_SET_QP_CTX, UACCE_CMD_QM_SET_QP_INFO, UACCE_QFRT_DUS, UACCE_QFRT_MMIO } from '../uacce.js';
import { WD_HW_EACCESS, WdCtx, wd_ctx_mmap_qfr, wd_ctx_set_io_cmd, wd_ctx_start, wd_ctx_unmap_qfr, wd_parse_api_version, wd_release_ctx_force } from '../wd.js';

export const QM_DBELL_CMD_SQ = 0;
export const QM_DBELL_CMD_CQ = 1;
/** v1 doorbell register in the MMIO region. */
export const QM_DBELL_OFFSET = 0x340;
/** v2+ SQ/CQ doorbell register in the MMIO region. */
export const QM_DBELL_OFFSET_V2 = 0x1000;
/** UADK masks the queue number with 10 bits (1024 queues per function on v2). */
export const QM_DBELL_SQN_MASK = 0x3ff;
export const QM_DBELL_CMD_MASK = 0xf;
/** Depth used when the kernel does not answer UACCE_CMD_QM_SET_QP_INFO. */
export const QM_Q_DEPTH = 1024;
export const QM_CQE_SIZE = 16;
/** CQE: sq_head u16 at byte 8 (the SQ slot completed), w7 u16 at byte 14 with the phase in bit 0. */
export const CQE_SQ_HEAD_OFFSET = 8;
export const CQE_W7_OFFSET = 14;

export const CTX_MODE_SYNC = 0;
export const CTX_MODE_ASYNC = 1;

/** A 64-bit doorbell value as its two 32-bit halves. */
export interface DoorbellValue {
  readonly lo: number;
  readonly hi: number;
}

/** hacc_db_v1: qn [15:0], cmd [31:16], index [47:32], priority [63:48]. */
export function qm_db_v1(sqn: number, cmd: number, index: number, priority: number): DoorbellValue {
  return { lo: ((sqn & 0xffff) | ((cmd & 0xffff) << 16)) >>> 0, hi: ((index & 0xffff) | ((priority & 0xffff) << 16)) >>> 0 };
}

/** hacc_db_v2: qn [9:0] (UADK's mask), cmd [15:12], rand 0, index [47:32], priority [63:48]. */
export function qm_db_v2(sqn: number, cmd: number, index: number, priority: number): DoorbellValue {
  return { lo: ((sqn & QM_DBELL_SQN_MASK) | ((cmd & QM_DBELL_CMD_MASK) << 12)) >>> 0, hi: ((index & 0xffff) | ((priority & 0xffff) << 16)) >>> 0 };
}

/** Configuration of a queue (struct hisi_qm_priv). */
export interface HisiQmPriv {
  readonly sqe_size: number;
  /** Queue type for SET_QP_CTX: 0 compress, 1 decompress (the SQC alg_type). */
  readonly op_type: number;
  readonly qp_mode: number;
  /** Wait in poll(): the CQ doorbell then asks for a completion event (priority 1). */
  readonly epoll_en: boolean;
  /** Index of the context in its wd_ctx_config. */
  readonly idx: number;
}

/** struct hisi_qp + hisi_qm_queue_info. */
export class HisiQp {
  hw_type = 0;
  sqn = 0;
  sqe_size = 0;
  sq_depth = 0;
  cq_depth = 0;
  sq_base = 0;
  cq_base = 0;
  mmio_base = 0;
  db_base = 0;
  ds_tx_base = 0;
  ds_rx_base = 0;
  qc_type = 0;
  qp_mode = CTX_MODE_SYNC;
  epoll_en = false;
  idx = 0;
  sq_tail_index = 0;
  cq_head_index = 0;
  cqc_phase = 1;
  used_num = 0;
  /** hisi_set_msg_id's per-thread seed (UADK starts every thread at 0x330eabcd). */
  rand_seed = 0x330eabcd;
  /** Doorbell stores made (SQ and CQ), for tests and the benchmark. */
  doorbells = 0;
  constructor(readonly ctx: WdCtx) {}

  /** Rings the SQ or CQ doorbell: one 64-bit store to the mapped MMIO page. */
  db(cmd: number, index: number, priority: number): void {
    const v = this.hw_type === 1 ? qm_db_v1(this.sqn, cmd, index, priority) : qm_db_v2(this.sqn, cmd, index, priority);
    const cpu = thisCpu();
    cpu.st64(this.db_base, v.hi < 1 << 21 ? v.hi * 2 ** 32 + v.lo : (BigInt(v.hi) << 32n) | BigInt(v.lo));
    this.doorbells++;
  }
}

/**
 * hisi_qm_alloc_qp: map DUS then MMIO, set the queue type (SET_QP_CTX gives the queue
 * number), read SQE size and depths (SET_QP_INFO; 1024/1024 when the kernel does not
 * know the command), start the queue. Returns the queue or -errno.
 */
export function* hisi_qm_alloc_qp(ctx: WdCtx, priv: HisiQmPriv): Generator<unknown, HisiQp | number, unknown> {
  if (!(priv.sqe_size > 0)) return -EINVAL;
  const ver = wd_parse_api_version(ctx.dev.api);
  if (ver < 0) return ver;
  const qp = new HisiQp(ctx);
  qp.hw_type = ver;
  const c = ctx.c;
  const dus = yield* wd_ctx_mmap_qfr(ctx, UACCE_QFRT_DUS);
  if (dus < 0) return dus;
  const mmio = yield* wd_ctx_mmap_qfr(ctx, UACCE_QFRT_MMIO);
  if (mmio < 0) {
    yield* wd_ctx_unmap_qfr(ctx, UACCE_QFRT_DUS);
    return mmio;
  }
  qp.sq_base = dus;
  qp.mmio_base = mmio;
  qp.db_base = mmio + (ver === 1 ? QM_DBELL_OFFSET : QM_DBELL_OFFSET_V2);
  const arg = yield* c.malloc(HISI_QP_INFO.size);
  if (arg === 0) return yield* fail(-ENOMEM);
  try {
    HISI_QP_CTX.write(arg, { id: 0, qc_type: priv.op_type });
    let r = yield* wd_ctx_set_io_cmd(ctx, UACCE_CMD_QM_SET_QP_CTX, arg);
    if (r < 0) return yield* fail(r);
    qp.sqn = HISI_QP_CTX.readNumber(arg, 'id');
    qp.qc_type = priv.op_type;
    HISI_QP_INFO.write(arg, {});
    r = yield* wd_ctx_set_io_cmd(ctx, UACCE_CMD_QM_SET_QP_INFO, arg);
    if (r < 0) {
      // an older kernel: the depths every QM v1/v2 queue has
      qp.sq_depth = QM_Q_DEPTH;
      qp.cq_depth = QM_Q_DEPTH;
      qp.sqe_size = priv.sqe_size;
    } else {
      const info = HISI_QP_INFO.read(arg);
      qp.sq_depth = info['sq_depth'] as number;
      qp.cq_depth = info['cq_depth'] as number;
      qp.sqe_size = info['sqe_size'] as number;
    }
  } finally {
    yield* c.free(arg);
  }
  const dusSize = ctx.dev.regionDusSize;
  if (qp.sq_depth < 2 || qp.cq_depth < 2 || qp.sqe_size !== priv.sqe_size || qp.sqe_size * qp.sq_depth + QM_CQE_SIZE * qp.cq_depth + 8 > dusSize) return yield* fail(-EINVAL);
  qp.qp_mode = priv.qp_mode;
  qp.epoll_en = priv.epoll_en;
  qp.idx = priv.idx;
  qp.cqc_phase = 1;
  qp.cq_base = qp.sq_base + qp.sqe_size * qp.sq_depth;
  // the last two words of the DUS: the kernel's TX and RX stop flags
  qp.ds_tx_base = qp.sq_base + dusSize - 4;
  qp.ds_rx_base = qp.ds_tx_base - 4;
  const s = yield* wd_ctx_start(ctx);
  if (s < 0) return yield* fail(s);
  ctx.priv = qp;
  return qp;

  function* fail(err: number): Generator<unknown, number, unknown> {
    yield* wd_ctx_unmap_qfr(ctx, UACCE_QFRT_MMIO);
    yield* wd_ctx_unmap_qfr(ctx, UACCE_QFRT_DUS);
    return err;
  }
}

/** hisi_qm_free_qp: PUT_Q, unmap, close. */
export function* hisi_qm_free_qp(qp: HisiQp): Generator<unknown, void, unknown> {
  yield* wd_release_ctx_force(qp.ctx);
}

/** Free SQ slots: the device keeps one slot empty (full = depth - 1 in use). */
export function hisi_qm_get_free_sqe_num(qp: HisiQp): number {
  return qp.sq_depth - 1 - qp.used_num;
}

/** The queue was disabled by the kernel (error or reset): the TX stop word is 1. */
export function hisi_qm_tx_stopped(qp: HisiQp): boolean {
  return thisCpu().ld32(qp.ds_tx_base) === 1;
}

/** The RX stop word is 1. */
export function hisi_qm_rx_stopped(qp: HisiQp): boolean {
  return thisCpu().ld32(qp.ds_rx_base) === 1;
}

/**
 * hisi_qm_send: `expect` SQEs (sqe_size bytes each, back to back in `sqes`) into the
 * SQ from the tail, wrapping at the depth; then the SQ doorbell with the new tail.
 * -EBUSY when they do not all fit, -WD_HW_EACCESS when the queue is stopped.
 */
export function hisi_qm_send(qp: HisiQp, sqes: Uint8Array, expect: number): number {
  if (expect <= 0 || sqes.length < expect * qp.sqe_size) return -EINVAL;
  const free = hisi_qm_get_free_sqe_num(qp);
  if (free === 0 || expect > free) return -EBUSY;
  const cpu = thisCpu();
  const tail = qp.sq_tail_index;
  const first = Math.min(expect, qp.sq_depth - tail);
  cpu.writeVirt(qp.sq_base + tail * qp.sqe_size, sqes, 0, first * qp.sqe_size);
  if (first < expect) cpu.writeVirt(qp.sq_base, sqes, first * qp.sqe_size, (expect - first) * qp.sqe_size);
  const newTail = (tail + expect) % qp.sq_depth;
  if (hisi_qm_tx_stopped(qp)) return -WD_HW_EACCESS;
  // mb(): the SQEs are visible before the doorbell store
  cpu.dsb();
  qp.db(QM_DBELL_CMD_SQ, newTail, 0);
  qp.sq_tail_index = newTail;
  qp.used_num += expect;
  return 0;
}

/** The CQE at the head carries the phase this pass expects. */
export function hisi_qm_cqe_ready(qp: HisiQp): boolean {
  return (thisCpu().ld16(qp.cq_base + qp.cq_head_index * QM_CQE_SIZE + CQE_W7_OFFSET) & 1) === qp.cqc_phase;
}

/**
 * Waits without a system call until the head CQE is ready or the core's clock reaches
 * `untilNs`: LDXR marks the CQE's granule, WFE sleeps until the engine's write to it
 * (or the deadline). True when ready. Each wake-up goes through cpu_relax, and a WFE
 * sleeps no further than the end of the core's turn, so the other cores (a kworker
 * resolving this queue's I/O page fault, say) run during the wait.
 */
export function* hisi_qm_wait_cqe(qp: HisiQp, untilNs: number): Generator<unknown, boolean, unknown> {
  const w = qp.cq_base + qp.cq_head_index * QM_CQE_SIZE + 12;
  for (;;) {
    const cpu = thisCpu();
    if (((cpu.ldxr32(w) >>> 16) & 1) === qp.cqc_phase) return true;
    if (cpu.now() >= untilNs) return false;
    cpu.wfe(Math.min(untilNs, cpu.turnEndNs()));
    yield* cpu_relax();
  }
}

function hisi_qm_recv_single(qp: HisiQp, resp: Uint8Array, idx: number): number {
  const cpu = thisCpu();
  const cqe = qp.cq_base + qp.cq_head_index * QM_CQE_SIZE;
  if ((cpu.ld16(cqe + CQE_W7_OFFSET) & 1) !== qp.cqc_phase) return -EAGAIN;
  const j = cpu.ld16(cqe + CQE_SQ_HEAD_OFFSET);
  if (j >= qp.sq_depth) return -EIO;
  cpu.readVirt(qp.sq_base + j * qp.sqe_size, resp, idx * qp.sqe_size, qp.sqe_size);
  let i = qp.cq_head_index;
  if (i === qp.cq_depth - 1) {
    qp.cqc_phase ^= 1;
    i = 0;
  } else i++;
  if (hisi_qm_rx_stopped(qp)) return -WD_HW_EACCESS;
  qp.db(QM_DBELL_CMD_CQ, i, qp.epoll_en ? 1 : 0);
  qp.cq_head_index = i;
  qp.used_num--;
  return 0;
}

/**
 * hisi_qm_recv: up to `expect` responses (the SQE slots the CQEs name) into `resp`.
 * Returns [ret, count]: ret 0 when `expect` came, -EAGAIN when fewer were ready,
 * -WD_HW_EACCESS when the queue is stopped, -EIO for a CQE naming no SQ slot.
 */
export function hisi_qm_recv(qp: HisiQp, resp: Uint8Array, expect: number): [number, number] {
  if (expect <= 0) return [0, 0];
  if (resp.length < expect * qp.sqe_size) return [-EINVAL, 0];
  if (hisi_qm_rx_stopped(qp)) return [-WD_HW_EACCESS, 0];
  let n = 0;
  let ret = 0;
  for (; n < expect; n++) {
    ret = hisi_qm_recv_single(qp, resp, n);
    if (ret !== 0) break;
  }
  return [ret, n];
}

/**
 * hisi_set_msg_id: a sync queue tags each SQE with the next value of nrand48 (the
 * 48-bit LCG a = 0x5DEECE66D, c = 0xB, seeded from the previous id), so a response
 * can be matched to its request; async queues use the message-pool index instead.
 */
export function hisi_set_msg_id(qp: HisiQp): number {
  const id = nrand48(qp.rand_seed);
  qp.rand_seed = id;
  return id;
}

/**
 * nrand48 as UADK seeds it (xsubi = {seed[15:0], seed[31:16], 0}): the state is the
 * seed's low 32 bits, X' = (0x5DEECE66D X + 0xB) mod 2^48, the result X'[47:17].
 */
export function nrand48(seed: number): number {
  const x = BigInt(seed >>> 0);
  const next = (0x5deece66dn * x + 0xbn) & 0xffffffffffffn;
  return Number(next >> 17n);
}

/** hisi_check_bd_id: on a sync queue the response must carry the tag just sent. */
export function hisi_check_bd_id(qp: HisiQp, sent: number, got: number): number {
  return qp.qp_mode === CTX_MODE_SYNC && sent !== got ? -EINVAL : 0;
}
