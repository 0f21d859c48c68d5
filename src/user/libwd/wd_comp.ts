// The compression API of libwd (UADK wd_comp.c / include/wd_comp.h in shape):
//   wd_comp_init(config) / wd_comp_init2(alg)   queues (contexts) for this process
//   wd_comp_alloc_sess(setup)                    algorithm, direction, window; 64 KiB
//                                                hardware context buffer
//   wd_do_comp_sync(sess, req)                   one stateless request (one BD)
//   wd_do_comp_strm(sess, req)                   one step of a stateful stream
//   wd_do_comp_sync2(sess, req)                  any length, as a stream of 128 KiB steps
//   wd_do_comp_async(sess, req) + wd_comp_poll   stateless, completion by callback
//   wd_comp_free_sess / wd_comp_reset_sess / wd_comp_uninit
// Buffers are plain user memory (SVA: the engine reads and writes the process's own
// virtual addresses; an untouched page is faulted in by the SMMU's stall + I/O page
// fault path). Errors are -errno; a request's `status` is WD_SUCCESS, WD_STREAM_END,
// EAGAIN (call again) or WD_IN_EPARA (the engine refused the data).
//
// State is per process (UADK keeps it in globals of the process's libwd): it is kept
// per C library instance, so a forked child starts without queues, as the kernel's
// VM_WIPEONFORK leaves it without their mappings.

import { thisCpu } from '../../arch/index.js';
import type { Libc } from '../libc/libc.js';
import { EAGAIN, EBUSY, EEXIST, EINVAL, ENODEV, ETIMEDOUT } from '../libc/errno.js';
import { WD_IN_EPARA, WD_STREAM_END, WD_SUCCESS, WdCtx, wd_ctx_wait, wd_get_accel_list, wd_find_dev_by_numa, wd_release_ctx, wd_request_ctx } from './wd.js';
import { CTX_MODE_ASYNC, CTX_MODE_SYNC, HisiQp, hisi_qm_alloc_qp, hisi_qm_free_qp, hisi_qm_recv, hisi_qm_wait_cqe } from './drv/hisi_qm_udrv.js';
import {
  HW_CTX_SIZE,
  HZIP_SQE_SIZE,
  WD_COMP_ALG_MAX,
  WD_COMP_STATEFUL,
  WD_COMP_STATELESS,
  WD_COMP_STREAM_NEW,
  WD_COMP_STREAM_OLD,
  WD_DIR_COMPRESS,
  WD_DIR_DECOMPRESS,
  WD_GZIP,
  WD_ZLIB,
  hisi_zip_comp_send,
  hisi_zip_resp_tag,
  parse_zip_sqe,
  wd_comp_msg,
  type WdCompMsg,
} from './drv/hisi_comp.js';

export { WD_DEFLATE, WD_ZLIB, WD_GZIP, WD_LZ77_ZSTD, WD_LZ4, WD_LZ77_ONLY, WD_DIR_COMPRESS, WD_DIR_DECOMPRESS } from './drv/hisi_comp.js';
export { CTX_MODE_SYNC, CTX_MODE_ASYNC } from './drv/hisi_qm_udrv.js';

/** Compression levels (enum wd_comp_level); the v2 engine has one level (L8, the default). */
export const WD_COMP_L8 = 8;
export const WD_COMP_L15 = 15;
/** History windows (enum wd_comp_winsz_type), dw9[15:12]. */
export const WD_COMP_WS_4K = 0;
export const WD_COMP_WS_8K = 1;
export const WD_COMP_WS_16K = 2;
export const WD_COMP_WS_24K = 3;
export const WD_COMP_WS_32K = 4;
export const WD_FLAT_BUF = 0;
export const WD_SGL_BUF = 1;
/** wd_do_comp_sync2's step (STREAM_CHUNK). */
export const STREAM_CHUNK = 128 * 1024;
/** Header sizes the API checks against at a stream's start. */
export const WD_ZLIB_HEADER_SZ = 2;
export const WD_GZIP_HEADER_SZ = 10;
/** poll() timeout of one wait when completions are waited for by epoll (ms; UADK POLL_TIME). */
export const POLL_TIME_MS = 1000;
/** A synchronous request that has no completion after this much virtual time fails with -ETIMEDOUT. */
export const WD_RECV_TIMEOUT_NS = 10e9;
/** Busy-wait slice (LDXR + WFE on the CQE) before giving the core away with sched_yield. */
export const SPIN_SLICE_NS = 20_000;

/** struct wd_comp_req. */
export interface WdCompReq {
  src: number;
  src_len: number;
  dst: number;
  dst_len: number;
  op_type: number;
  data_fmt?: number;
  /** Last piece of a stream (wd_do_comp_strm, compression). */
  last?: number;
  status: number;
  cb?: (req: WdCompReq, param: unknown) => void;
  cb_param?: unknown;
}

/** struct wd_comp_sess_setup. */
export interface WdCompSessSetup {
  alg_type: number;
  op_type: number;
  comp_lv?: number;
  win_sz?: number;
}

/** struct wd_ctx: a context handed to wd_comp_init. */
export interface WdCtxEntry {
  readonly ctx: WdCtx;
  /** Direction of the queue: WD_DIR_COMPRESS / WD_DIR_DECOMPRESS. */
  readonly op_type: number;
  readonly ctx_mode: number;
}

export interface WdCtxConfig {
  readonly ctxs: readonly WdCtxEntry[];
}

/** One initialised context: its queue and, for async ones, the messages in flight by tag. */
class CompCtx {
  readonly pool = new Map<number, { msg: WdCompMsg; req: WdCompReq }>();
  nextTag = 0;
  constructor(
    readonly entry: WdCtxEntry,
    readonly qp: HisiQp,
  ) {}
}

/** What wd_comp_init sets up for one process (wd_comp_setting). */
export class WdCompSetting {
  readonly ctxs: CompCtx[] = [];
  /** Round-robin cursors per (mode, op_type) (sched_rr). */
  private readonly rr = new Map<number, number>();
  /** Contexts wd_comp_init2 requested itself (released by uninit). */
  owned = false;
  constructor(readonly c: Libc) {}

  pick(mode: number, op: number): CompCtx | null {
    const key = mode * 2 + op;
    const cands = this.ctxs.filter((x) => x.entry.ctx_mode === mode && x.entry.op_type === op);
    if (cands.length === 0) return null;
    const i = (this.rr.get(key) ?? 0) % cands.length;
    this.rr.set(key, i + 1);
    return cands[i]!;
  }
}

const settings = new WeakMap<Libc, WdCompSetting>();

/** The process's compression setting, or null before wd_comp_init. */
export function wd_comp_setting(c: Libc): WdCompSetting | null {
  return settings.get(c) ?? null;
}

/**
 * wd_comp_init: starts a queue pair on every context of `config` (SET_QP_CTX with its
 * direction, START_Q). Synchronous contexts wait in poll() when WD_COMP_EPOLL_EN=1 is
 * in the environment, else they spin on the CQE. Returns 0 or -errno.
 */
export function* wd_comp_init(c: Libc, config: WdCtxConfig): Generator<unknown, number, unknown> {
  if (settings.has(c)) return -EEXIST;
  if (config.ctxs.length === 0) return -EINVAL;
  for (const e of config.ctxs) {
    if ((e.op_type !== WD_DIR_COMPRESS && e.op_type !== WD_DIR_DECOMPRESS) || (e.ctx_mode !== CTX_MODE_SYNC && e.ctx_mode !== CTX_MODE_ASYNC)) return -EINVAL;
  }
  const epoll = c.getenv('WD_COMP_EPOLL_EN') === '1';
  const s = new WdCompSetting(c);
  for (let i = 0; i < config.ctxs.length; i++) {
    const e = config.ctxs[i]!;
    const qp = yield* hisi_qm_alloc_qp(e.ctx, { sqe_size: HZIP_SQE_SIZE, op_type: e.op_type, qp_mode: e.ctx_mode, epoll_en: epoll && e.ctx_mode === CTX_MODE_SYNC, idx: i });
    if (typeof qp === 'number') {
      for (const x of s.ctxs) yield* hisi_qm_free_qp(x.qp);
      return qp;
    }
    s.ctxs.push(new CompCtx(e, qp));
  }
  settings.set(c, s);
  return 0;
}

/** Parses WD_COMP_CTX_NUM ("sync-comp:1@0,sync-decomp:1@0,async-comp:1@0,async-decomp:1@0"). */
export function wd_parse_ctx_num(text: string): { mode: number; op: number; num: number }[] | number {
  const out: { mode: number; op: number; num: number }[] = [];
  for (const part of text.split(',')) {
    const m = /^(sync|async)-(comp|decomp):(\d+)@(\d+)$/.exec(part.trim());
    if (m === null) return -EINVAL;
    const num = Number(m[3]);
    if (num > 64) return -EINVAL;
    out.push({ mode: m[1] === 'sync' ? CTX_MODE_SYNC : CTX_MODE_ASYNC, op: m[2] === 'comp' ? WD_DIR_COMPRESS : WD_DIR_DECOMPRESS, num });
  }
  return out;
}

/**
 * wd_comp_init2: finds the device for `alg` (the one with the most free queues),
 * requests the contexts WD_COMP_CTX_NUM asks for (default one of each kind) and
 * initialises them. Returns 0 or -errno (-ENODEV: no device lists `alg`).
 */
export function* wd_comp_init2(c: Libc, alg: string): Generator<unknown, number, unknown> {
  if (settings.has(c)) return -EEXIST;
  const spec = wd_parse_ctx_num(c.getenv('WD_COMP_CTX_NUM') ?? 'sync-comp:1@0,sync-decomp:1@0,async-comp:1@0,async-decomp:1@0');
  if (typeof spec === 'number') return spec;
  const dev = wd_find_dev_by_numa(yield* wd_get_accel_list(c, alg), -1);
  if (dev === null) return -ENODEV;
  const entries: WdCtxEntry[] = [];
  const release = function* (): Generator<unknown, void, unknown> {
    for (const e of entries) yield* wd_release_ctx(e.ctx);
  };
  for (const k of spec) {
    for (let i = 0; i < k.num; i++) {
      const ctx = yield* wd_request_ctx(c, dev);
      if (typeof ctx === 'number') {
        yield* release();
        return ctx;
      }
      entries.push({ ctx, op_type: k.op, ctx_mode: k.mode });
    }
  }
  const r = yield* wd_comp_init(c, { ctxs: entries });
  if (r < 0) {
    yield* release();
    return r;
  }
  settings.get(c)!.owned = true;
  return 0;
}

/** wd_comp_uninit: every queue put and released. */
export function* wd_comp_uninit(c: Libc): Generator<unknown, void, unknown> {
  const s = settings.get(c);
  if (s === undefined) return;
  settings.delete(c);
  for (const x of s.ctxs) yield* hisi_qm_free_qp(x.qp);
}

/** struct wd_comp_sess. */
export class WdCompSess {
  stream_pos = WD_COMP_STREAM_NEW;
  isize = 0;
  checksum = 0;
  constructor(
    readonly setting: WdCompSetting,
    readonly alg_type: number,
    readonly op_type: number,
    readonly comp_lv: number,
    readonly win_sz: number,
    /** 64 KiB hardware context buffer (user memory). */
    public ctx_buf: number,
  ) {}
}

/** wd_comp_alloc_sess: checks the setup, allocates and zeroes the context buffer; null on error. */
export function* wd_comp_alloc_sess(c: Libc, setup: WdCompSessSetup): Generator<unknown, WdCompSess | null, unknown> {
  const s = settings.get(c);
  if (s === undefined) return null;
  const lv = setup.comp_lv ?? WD_COMP_L8;
  const win = setup.win_sz ?? WD_COMP_WS_32K;
  if (!(setup.alg_type >= 0 && setup.alg_type < WD_COMP_ALG_MAX) || (setup.op_type !== WD_DIR_COMPRESS && setup.op_type !== WD_DIR_DECOMPRESS)) return null;
  if (setup.op_type === WD_DIR_COMPRESS && (!(lv >= 0 && lv <= WD_COMP_L15) || !(win >= WD_COMP_WS_4K && win <= WD_COMP_WS_32K))) return null;
  const buf = yield* c.malloc(HW_CTX_SIZE);
  if (buf === 0) return null;
  thisCpu().writeVirt(buf, new Uint8Array(HW_CTX_SIZE));
  return new WdCompSess(s, setup.alg_type, setup.op_type, lv, win, buf);
}

/** wd_comp_free_sess. */
export function* wd_comp_free_sess(c: Libc, sess: WdCompSess): Generator<unknown, void, unknown> {
  if (sess.ctx_buf !== 0) yield* c.free(sess.ctx_buf);
  sess.ctx_buf = 0;
}

/** wd_comp_reset_sess: the next request starts a new stream. */
export function wd_comp_reset_sess(sess: WdCompSess): number {
  sess.stream_pos = WD_COMP_STREAM_NEW;
  sess.isize = 0;
  sess.checksum = 0;
  if (sess.ctx_buf !== 0) thisCpu().writeVirt(sess.ctx_buf, new Uint8Array(HW_CTX_SIZE));
  return 0;
}

/** wd_comp_check_params: buffers, direction, header room at a stream's start, callback rules. */
function check_params(sess: WdCompSess, req: WdCompReq, mode: number): number {
  if ((req.data_fmt ?? WD_FLAT_BUF) !== WD_FLAT_BUF) return -EINVAL; // hardware SGLs are not built by this libwd
  if (req.src === 0 || req.dst === 0) return -EINVAL;
  if (!(req.dst_len > 0)) return -EINVAL;
  if (req.op_type !== WD_DIR_COMPRESS && req.op_type !== WD_DIR_DECOMPRESS) return -EINVAL;
  if (sess.stream_pos === WD_COMP_STREAM_NEW) {
    const head = sess.alg_type === WD_ZLIB ? WD_ZLIB_HEADER_SZ : sess.alg_type === WD_GZIP ? WD_GZIP_HEADER_SZ : 0;
    if (head > 0 && req.op_type === WD_DIR_COMPRESS && req.dst_len <= head) return -EINVAL;
    if (head > 0 && req.op_type === WD_DIR_DECOMPRESS && req.src_len <= head) return -EINVAL;
  }
  if (mode === CTX_MODE_ASYNC && (req.cb === undefined || req.cb_param === undefined)) return -EINVAL;
  if (mode === CTX_MODE_SYNC && req.cb !== undefined) return -EINVAL;
  return 0;
}

function fill_msg(sess: WdCompSess, req: WdCompReq, stream_mode: number): WdCompMsg {
  return wd_comp_msg({
    alg_type: sess.alg_type,
    op_type: req.op_type,
    win_sz: sess.win_sz,
    comp_lv: sess.comp_lv,
    stream_mode,
    stream_pos: stream_mode === WD_COMP_STATEFUL ? sess.stream_pos : WD_COMP_STREAM_NEW,
    src: req.src,
    src_len: req.src_len,
    dst: req.dst,
    avail_out: req.dst_len,
    last: stream_mode === WD_COMP_STATEFUL ? (req.last ?? 0) : 1,
    ctx_buf: sess.ctx_buf,
    isize: stream_mode === WD_COMP_STATEFUL ? sess.isize : 0,
    checksum: stream_mode === WD_COMP_STATEFUL ? sess.checksum : 0,
  });
}

/**
 * Receives the one response of a synchronous queue: waits in poll() (epoll mode) or
 * spins on the CQE with LDXR + WFE, giving the core away between slices so that the
 * kernel's I/O page-fault work can run on it.
 */
function* sync_recv(c: Libc, cc: CompCtx, msg: WdCompMsg): Generator<unknown, number, unknown> {
  const qp = cc.qp;
  const resp = new Uint8Array(qp.sqe_size);
  const deadline = thisCpu().now() + WD_RECV_TIMEOUT_NS;
  for (;;) {
    if (qp.epoll_en) yield* wd_ctx_wait(cc.entry.ctx, POLL_TIME_MS);
    const [r, n] = hisi_qm_recv(qp, resp, 1);
    if (r === 0 && n === 1) return parse_zip_sqe(qp, resp, msg);
    if (r !== -EAGAIN) return r;
    const now = thisCpu().now();
    if (now >= deadline) return -ETIMEDOUT;
    if (!qp.epoll_en && !(yield* hisi_qm_wait_cqe(qp, Math.min(deadline, now + SPIN_SLICE_NS)))) yield* c.sched_yield();
  }
}

function* sync_job(sess: WdCompSess, op: number, msg: WdCompMsg): Generator<unknown, number, unknown> {
  const cc = sess.setting.pick(CTX_MODE_SYNC, op);
  if (cc === null) return -EINVAL;
  const r = hisi_zip_comp_send(cc.qp, msg);
  if (r < 0) return r;
  if (msg.skip_hw) return 0;
  return yield* sync_recv(sess.setting.c, cc, msg);
}

/** wd_do_comp_sync: one stateless request; the whole input and output in one BD. */
export function* wd_do_comp_sync(sess: WdCompSess, req: WdCompReq): Generator<unknown, number, unknown> {
  const saved = sess.stream_pos;
  sess.stream_pos = WD_COMP_STREAM_NEW;
  let r = check_params(sess, req, CTX_MODE_SYNC);
  sess.stream_pos = saved;
  if (r < 0) return r;
  if (req.src_len === 0) return -EINVAL;
  const msg = fill_msg(sess, req, WD_COMP_STATELESS);
  r = yield* sync_job(sess, req.op_type, msg);
  if (r < 0) return r;
  req.src_len = msg.in_cons;
  req.dst_len = msg.produced;
  req.status = msg.status;
  return 0;
}

/**
 * wd_do_comp_strm: one step of a stateful stream. Compression ends the stream when
 * `last` is set and all input was taken; decompression when the final block ended
 * (status WD_STREAM_END). req.src_len/dst_len come back as consumed/produced.
 */
export function* wd_do_comp_strm(sess: WdCompSess, req: WdCompReq): Generator<unknown, number, unknown> {
  let r = check_params(sess, req, CTX_MODE_SYNC);
  if (r < 0) return r;
  const msg = fill_msg(sess, req, WD_COMP_STATEFUL);
  const srcLen = req.src_len;
  r = yield* sync_job(sess, req.op_type, msg);
  if (r < 0) return r;
  req.src_len = msg.in_cons;
  req.dst_len = msg.produced;
  req.status = msg.status;
  sess.isize = msg.isize;
  sess.checksum = msg.checksum;
  sess.stream_pos = WD_COMP_STREAM_OLD;
  if (req.op_type === WD_DIR_COMPRESS && req.last === 1 && req.src_len === srcLen && req.status === WD_SUCCESS) sess.stream_pos = WD_COMP_STREAM_NEW;
  else if (req.op_type === WD_DIR_DECOMPRESS && req.status === WD_STREAM_END) sess.stream_pos = WD_COMP_STREAM_NEW;
  return 0;
}

/**
 * wd_do_comp_sync2: any length as a stream of STREAM_CHUNK steps over the same
 * buffers; returns when the stream ended. A step that neither consumes nor produces
 * (truncated input, no room) ends it with WD_IN_EPARA and -EINVAL.
 */
export function* wd_do_comp_sync2(sess: WdCompSess, req: WdCompReq): Generator<unknown, number, unknown> {
  let r = check_params(sess, req, CTX_MODE_SYNC);
  if (r < 0) return r;
  if (req.src_len === 0) return -EINVAL;
  let availIn = req.src_len;
  let availOut = req.dst_len;
  const step: WdCompReq = { src: req.src, src_len: 0, dst: req.dst, dst_len: 0, op_type: req.op_type, status: 0, last: 0 };
  let consumed = 0;
  req.dst_len = 0;
  do {
    step.src_len = Math.min(availIn, STREAM_CHUNK);
    step.dst_len = Math.min(availOut, STREAM_CHUNK);
    if (req.op_type === WD_DIR_COMPRESS && availIn <= STREAM_CHUNK) step.last = 1;
    r = yield* wd_do_comp_strm(sess, step);
    if (r < 0 || step.status === WD_IN_EPARA || (step.src_len === 0 && step.dst_len === 0 && sess.stream_pos !== WD_COMP_STREAM_NEW)) {
      req.status = step.status === WD_SUCCESS ? WD_IN_EPARA : step.status;
      wd_comp_reset_sess(sess);
      return r < 0 ? r : -EINVAL;
    }
    req.dst_len += step.dst_len;
    step.dst += step.dst_len;
    availOut -= step.dst_len;
    step.src += step.src_len;
    availIn -= step.src_len;
    consumed += step.src_len;
  } while (sess.stream_pos !== WD_COMP_STREAM_NEW);
  req.src_len = consumed;
  req.status = 0;
  return 0;
}

/**
 * wd_do_comp_async: a stateless request on an asynchronous queue; its callback runs
 * from wd_comp_poll_ctx / wd_comp_poll. -EBUSY when the queue (or its message pool)
 * is full.
 */
export function wd_do_comp_async(sess: WdCompSess, req: WdCompReq): number {
  const saved = sess.stream_pos;
  sess.stream_pos = WD_COMP_STREAM_NEW;
  let r = check_params(sess, req, CTX_MODE_ASYNC);
  sess.stream_pos = saved;
  if (r < 0) return r;
  if (req.src_len === 0) return -EINVAL;
  const cc = sess.setting.pick(CTX_MODE_ASYNC, req.op_type);
  if (cc === null) return -EINVAL;
  const depth = cc.qp.sq_depth - 1;
  if (cc.pool.size >= depth) return -EBUSY;
  let tag = cc.nextTag;
  while (cc.pool.has(tag)) tag = (tag + 1) % depth;
  cc.nextTag = (tag + 1) % depth;
  const msg = fill_msg(sess, req, WD_COMP_STATELESS);
  msg.tag = tag;
  r = hisi_zip_comp_send(cc.qp, msg);
  if (r < 0) return r;
  cc.pool.set(tag, { msg, req });
  return 0;
}

/**
 * wd_comp_poll_ctx: up to `expt` completions of async context `idx`, each handed to
 * its request's callback. Returns [0 | -errno, count]; -EAGAIN when fewer were ready.
 */
export function wd_comp_poll_ctx(c: Libc, idx: number, expt: number): [number, number] {
  const s = settings.get(c);
  if (s === undefined || !(expt > 0)) return [-EINVAL, 0];
  const cc = s.ctxs[idx];
  if (cc === undefined || cc.entry.ctx_mode !== CTX_MODE_ASYNC) return [-EINVAL, 0];
  const resp = new Uint8Array(cc.qp.sqe_size);
  let count = 0;
  while (count < expt) {
    const [r] = hisi_qm_recv(cc.qp, resp, 1);
    if (r < 0) return [r, count];
    count++;
    const tag = hisi_zip_resp_tag(resp);
    const ent = cc.pool.get(tag);
    if (ent === undefined) return [-EINVAL, count];
    cc.pool.delete(tag);
    parse_zip_sqe(cc.qp, resp, ent.msg);
    ent.req.src_len = ent.msg.in_cons;
    ent.req.dst_len = ent.msg.produced;
    ent.req.status = ent.msg.status;
    ent.req.cb!(ent.req, ent.req.cb_param);
  }
  return [0, count];
}

/** wd_comp_poll: completions of every async context, up to `expt` in all. Returns [0 | -errno, count]. */
export function wd_comp_poll(c: Libc, expt: number): [number, number] {
  const s = settings.get(c);
  if (s === undefined || !(expt > 0)) return [-EINVAL, 0];
  let total = 0;
  for (let i = 0; i < s.ctxs.length && total < expt; i++) {
    if (s.ctxs[i]!.entry.ctx_mode !== CTX_MODE_ASYNC) continue;
    const [r, n] = wd_comp_poll_ctx(c, i, expt - total);
    total += n;
    if (r < 0 && r !== -EAGAIN) return [r, total];
  }
  return [0, total];
}

/** Requests in flight on the async contexts (not yet polled). */
export function wd_comp_inflight(c: Libc): number {
  const s = settings.get(c);
  let n = 0;
  if (s !== undefined) for (const x of s.ctxs) n += x.pool.size;
  return n;
}
