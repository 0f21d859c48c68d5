// hisi_zip acomp algorithms (Linux zip/zip_crypto.c in shape): zlib-deflate, gzip
// and deflate. A transform owns two queue pairs (alg_type 0 compress, 1 decompress)
// on one device, each with a request table and a hardware SGL pool; a request maps
// its source and destination scatterlists into pool SGLs, goes out as one SQE, and
// completes from the QM completion work through hisi_zip_acomp_cb.
//
// The engine emits raw DEFLATE plus the zlib/gzip trailer; the driver writes the
// header in front (out_sge_data_offset) and skips it on decompression
// (in_sge_data_offset), as Linux does.
//
// svasoc extension (not in Linux): a request may carry `stream` state, which turns it
// into one step of a stateful stream (UADK's wd_do_comp_strm in shape: stream mode,
// a 64 KiB stream context, isize/checksum carried between steps, SYNC_FLUSH until
// the last step). /dev/hisi_zip_k uses it to move files larger than one 8 MiB BD.

import { thisCpu } from '../../../../../arch/index.js';
import { EAGAIN, EBUSY, EINPROGRESS, EINVAL, ENODEV, ENOMEM } from '../../../../lib/errno.js';
import { pr_err } from '../../../../lib/printk.js';
import { getField } from '../../../../lib/field-table.js';
import {
  AcompReq,
  AcompStream,
  CryptoAcomp,
  acomp_request_complete,
  crypto_register_acomp,
  crypto_unregister_acomp,
  type AcompAlg,
} from '../../../../crypto/acompress.js';
import { sg_pcopy_from_buffer, sg_pcopy_to_buffer, sg_total_len } from '../../../../crypto/scatterlist.js';
import {
  HisiQm,
  HisiQp,
  QP_START,
  hisi_qm_create_qp,
  hisi_qm_get_free_qp_num,
  hisi_qm_release_qp,
  hisi_qm_start_qp,
  hisi_qm_stop_qp,
  hisi_qp_send,
} from '../qm.js';
import { QM_Q_DEPTH } from '../qm-structs.js';
import { qm_bus, type DmaCoherent } from '../qm-bus.js';
import { hisi_acc_create_sgl_pool, hisi_acc_free_sgl_pool, hisi_acc_sg_buf_map_to_hw_sgl, hisi_acc_sg_buf_unmap, type HisiAccSglPool } from '../sgl.js';
import {
  HZIP_ALG_TYPE_DEFLATE,
  HZIP_ALG_TYPE_GZIP,
  HZIP_ALG_TYPE_ZLIB,
  HZIP_DECOMP_END,
  HZIP_SGL,
  HZIP_SQE,
  HZIP_WIN_32K,
  HZIP_STREAM_CTX_SIZE,
  comp_head,
  decomp_head_size,
  hisi_zip_fill_sqe,
  hisi_zip_get_status,
  hisi_zip_get_tag,
  hisi_zip_status_errno,
  hisi_zip_status_name,
} from './zip-sqe.js';

export const HZIP_ALG_PRIORITY = 300;
export const HZIP_CTX_Q_NUM = 2;
export const HZIP_QPC_COMP = 0;
export const HZIP_QPC_DECOMP = 1;

/** Per-device counters (struct hisi_zip_dfx). */
export interface HisiZipDfx {
  send_cnt: number;
  recv_cnt: number;
  send_busy_cnt: number;
  err_bd_cnt: number;
}

/** What zip-crypto needs of a probed device (struct hisi_zip). */
export interface HisiZipDev {
  readonly qm: HisiQm;
  readonly dfx: HisiZipDfx;
  /** sgl_sge_nr module parameter. */
  readonly sgl_sge_nr: number;
}

interface HisiZipReq {
  readonly id: number;
  req: AcompReq | null;
  hw_src: number;
  hw_dst: number;
  sskip: number;
  dskip: number;
}

class HisiZipQpCtx {
  readonly reqs: HisiZipReq[] = [];
  private readonly free: number[] = [];
  constructor(
    readonly qp: HisiQp,
    readonly zip: HisiZipDev,
    readonly pool: HisiAccSglPool,
    size: number,
  ) {
    for (let i = 0; i < size; i++) {
      this.reqs.push({ id: i, req: null, hw_src: 0, hw_dst: 0, sskip: 0, dskip: 0 });
      this.free.push(size - 1 - i);
    }
  }
  take(): HisiZipReq | undefined {
    const id = this.free.pop();
    return id === undefined ? undefined : this.reqs[id];
  }
  give(r: HisiZipReq): void {
    r.req = null;
    this.free.push(r.id);
  }
}

class HisiZipCtx {
  readonly qp_ctx: HisiZipQpCtx[] = [];
}

/** The probed devices acomp transforms pick from (zip_devices list). */
const zipDevices: HisiZipDev[] = [];

export function hisi_zip_register_device(zip: HisiZipDev): void {
  if (!zipDevices.includes(zip)) zipDevices.push(zip);
}

export function hisi_zip_unregister_device(zip: HisiZipDev): void {
  const i = zipDevices.indexOf(zip);
  if (i >= 0) zipDevices.splice(i, 1);
}

/** hisi_qm_alloc_qps_node in shape: the device with the most free queues that has enough. */
function zip_find_device(n: number): HisiZipDev | undefined {
  let best: HisiZipDev | undefined;
  for (const d of zipDevices) {
    const free = hisi_qm_get_free_qp_num(d.qm);
    if (free >= n && (best === undefined || free > hisi_qm_get_free_qp_num(best.qm))) best = d;
  }
  return best;
}

function ctx_of(tfm: CryptoAcomp): HisiZipCtx {
  return tfm.ctx as HisiZipCtx;
}

function* hisi_zip_acomp_init(tfm: CryptoAcomp, reqType: number): Generator<unknown, number, unknown> {
  const zip = zip_find_device(HZIP_CTX_Q_NUM);
  if (zip === undefined) {
    pr_err('hisi_zip: can not create zip qps!');
    return -ENODEV;
  }
  const ctx = new HisiZipCtx();
  for (let i = 0; i < HZIP_CTX_Q_NUM; i++) {
    const qp = hisi_qm_create_qp(zip.qm, i);
    if (typeof qp === 'number') {
      yield* hisi_zip_release_ctx(ctx);
      return qp;
    }
    qp.req_type = reqType;
    const pool = hisi_acc_create_sgl_pool(zip.qm.pdev.dev, QM_Q_DEPTH << 1, zip.sgl_sge_nr);
    if (typeof pool === 'number') {
      hisi_qm_release_qp(qp);
      yield* hisi_zip_release_ctx(ctx);
      return pool;
    }
    const qc = new HisiZipQpCtx(qp, zip, pool, QM_Q_DEPTH);
    qp.qp_ctx = qc;
    qp.req_cb = hisi_zip_acomp_cb;
    ctx.qp_ctx.push(qc);
    const r = hisi_qm_start_qp(qp, 0);
    if (r < 0) {
      pr_err(`${zip.qm.name}: failed to start qp (${r})!`);
      yield* hisi_zip_release_ctx(ctx);
      return r;
    }
  }
  tfm.ctx = ctx;
  return 0;
}

function* hisi_zip_release_ctx(ctx: HisiZipCtx): Generator<unknown, void, unknown> {
  for (const qc of ctx.qp_ctx) {
    yield* hisi_qm_stop_qp(qc.qp);
    hisi_qm_release_qp(qc.qp);
    hisi_acc_free_sgl_pool(qc.pool);
  }
  ctx.qp_ctx.length = 0;
}

function* hisi_zip_acomp_exit(tfm: CryptoAcomp): Generator<unknown, void, unknown> {
  const ctx = tfm.ctx as HisiZipCtx | null;
  if (ctx === null) return;
  yield* hisi_zip_release_ctx(ctx);
  tfm.ctx = null;
}

/** hisi_zip_acomp_cb: one completed SQE (the slot the hardware wrote back into). */
function hisi_zip_acomp_cb(qp: HisiQp, sqe: Uint32Array): void {
  const qc = qp.qp_ctx as HisiZipQpCtx;
  const zip = qc.zip;
  const tag = hisi_zip_get_tag(sqe);
  const zr = qc.reqs[tag];
  if (zr === undefined || zr.req === null) {
    pr_err(`${zip.qm.name}: completion with unknown tag ${tag} on qp${qp.qp_id}`);
    return;
  }
  const req = zr.req;
  const dev = zip.qm.pdev.dev;
  zip.dfx.recv_cnt++;
  const status = hisi_zip_get_status(sqe);
  const decomp = qp.alg_type === 1;
  const stream = req.stream;
  // Stateless requests take 0 and 0x0d only (Linux); a stream's decompression also ends with 0x13.
  const err = hisi_zip_status_errno(status, stream !== null && decomp);
  if (err < 0) {
    pr_err(`${zip.qm.name}: ${decomp ? 'de' : ''}compress fail in qp${qp.qp_id}: ${status} (${hisi_zip_status_name(status)}), output: ${getField(sqe, HZIP_SQE.f.produced)}`);
    zip.dfx.err_bd_cnt++;
  }
  hisi_acc_sg_buf_unmap(dev, req.src);
  hisi_acc_sg_buf_unmap(dev, req.dst);
  const produced = getField(sqe, HZIP_SQE.f.produced);
  req.dlen = produced + zr.dskip;
  if (stream) {
    stream.consumed = getField(sqe, HZIP_SQE.f.consumed) + zr.sskip;
    stream.isize = getField(sqe, HZIP_SQE.f.isize);
    stream.checksum = getField(sqe, HZIP_SQE.f.checksum);
    if (err === 0) stream.isNew = false;
    if (decomp ? status === HZIP_DECOMP_END : stream.last && stream.consumed === req.slen) stream.ended = true;
  }
  qc.give(zr);
  acomp_request_complete(req, err);
}

/** hisi_zip_do_work: map, fill the SQE, send. */
function hisi_zip_do_work(qc: HisiZipQpCtx, zr: HisiZipReq, req: AcompReq): number {
  const qp = qc.qp;
  const zip = qc.zip;
  const dev = zip.qm.pdev.dev;
  if (req.src.length === 0 || (req.slen === 0 && req.stream === null) || req.dst.length === 0 || req.dlen === 0) return -EINVAL;
  const src = hisi_acc_sg_buf_map_to_hw_sgl(dev, req.src, qc.pool, zr.id << 1);
  if (src < 0) {
    pr_err(`${zip.qm.name}: failed to map the src buffer to hw sgl (${src})!`);
    return src;
  }
  const dst = hisi_acc_sg_buf_map_to_hw_sgl(dev, req.dst, qc.pool, (zr.id << 1) + 1);
  if (dst < 0) {
    hisi_acc_sg_buf_unmap(dev, req.src);
    pr_err(`${zip.qm.name}: failed to map the dst buffer to hw sgl (${dst})!`);
    return dst;
  }
  zr.hw_src = src;
  zr.hw_dst = dst;
  const stream = req.stream;
  let streamFields: { ctxAddr: number; isNew: boolean; finish: boolean; isize: number; checksum: number } | undefined;
  if (stream) {
    streamFields = { ctxAddr: (stream.priv as DmaCoherent).dma, isNew: stream.isNew, finish: qp.alg_type === 0 ? stream.last : true, isize: stream.isize, checksum: stream.checksum };
  }
  hisi_zip_fill_sqe(qp.sqeWords, {
    reqType: qp.req_type,
    src,
    dst,
    bufType: HZIP_SGL,
    slen: req.slen,
    dlen: req.dlen,
    sskip: zr.sskip,
    dskip: zr.dskip,
    tag: zr.id,
    sqeType: 0,
    // 32 KiB: the window the 78 9c zlib header declares (CINFO 7), and UADK's default.
    win: HZIP_WIN_32K,
    ...(streamFields ? { stream: streamFields } : {}),
  });
  zip.dfx.send_cnt++;
  const r = hisi_qp_send(qp, qp.sqeBuf);
  if (r < 0) {
    if (r === -EBUSY) zip.dfx.send_busy_cnt++;
    hisi_acc_sg_buf_unmap(dev, req.src);
    hisi_acc_sg_buf_unmap(dev, req.dst);
    return r === -EBUSY ? -EAGAIN : r;
  }
  return -EINPROGRESS;
}

function physWriter(pa: number, src: Uint8Array, off: number, len: number): void {
  thisCpu().writePhys(pa, src, off, len);
}
function physReader(pa: number, dst: Uint8Array, off: number, len: number): void {
  thisCpu().readPhys(pa, dst, off, len);
}

function stream_prepare(qc: HisiZipQpCtx, req: AcompReq): number {
  const stream = req.stream;
  if (stream === null) return 0;
  if (stream.ended) return -EINVAL;
  if (stream.priv === null) {
    stream.priv = qm_bus().dma_alloc_coherent(qc.zip.qm.pdev.dev, HZIP_STREAM_CTX_SIZE);
    if (stream.priv === null) return -ENOMEM;
  }
  return 0;
}

/** Frees the stream context of a finished or abandoned stream. */
export function hisi_zip_stream_free(tfm: CryptoAcomp, stream: AcompStream): void {
  const ctx = tfm.ctx as HisiZipCtx | null;
  if (stream.priv !== null && ctx !== null && ctx.qp_ctx[0]) qm_bus().dma_free_coherent(ctx.qp_ctx[0].zip.qm.pdev.dev, stream.priv as DmaCoherent);
  stream.priv = null;
}

/** Where a decompression's header is looked at first; a longer header (FEXTRA is up to 64 KiB, FNAME/FCOMMENT unbounded) is read again whole. */
const headPeek = new Uint8Array(1024);
/** Longest gzip header the driver walks: 10 + XLEN 2 + 65535 of FEXTRA, names and comment. */
const HEAD_MAX = 128 * 1024;

/** decomp_head_size over the start of the source: the first KiB, then up to HEAD_MAX when the header runs past it. */
function src_head_size(reqType: number, req: AcompReq): number {
  const peek = headPeek.subarray(0, Math.min(req.slen, headPeek.length));
  sg_pcopy_to_buffer(physReader, req.src, peek);
  const skip = decomp_head_size(reqType, peek);
  if (skip >= 0 || req.slen <= peek.length) return skip;
  const whole = new Uint8Array(Math.min(req.slen, HEAD_MAX));
  sg_pcopy_to_buffer(physReader, req.src, whole);
  return decomp_head_size(reqType, whole);
}

const NO_HEAD = new Uint8Array(0);

function hisi_zip_acompress(req: AcompReq): number {
  const qc = ctx_of(req.tfm).qp_ctx[HZIP_QPC_COMP];
  if (qc === undefined || qc.qp.status !== QP_START) return -EAGAIN;
  let r = stream_prepare(qc, req);
  if (r < 0) return r;
  // The header goes out with the first (or only) request of a stream.
  const head = req.stream === null || req.stream.isNew ? comp_head(qc.qp.req_type) : NO_HEAD;
  if (head.length > 0 && sg_total_len(req.dst) < head.length + 1) return -EINVAL;
  if (head.length > 0) sg_pcopy_from_buffer(physWriter, req.dst, head);
  const zr = qc.take();
  if (zr === undefined) return -EAGAIN;
  zr.req = req;
  zr.sskip = 0;
  zr.dskip = head.length;
  r = hisi_zip_do_work(qc, zr, req);
  if (r !== -EINPROGRESS) qc.give(zr);
  return r;
}

function hisi_zip_adecompress(req: AcompReq): number {
  const qc = ctx_of(req.tfm).qp_ctx[HZIP_QPC_DECOMP];
  if (qc === undefined || qc.qp.status !== QP_START) return -EAGAIN;
  let r = stream_prepare(qc, req);
  if (r < 0) return r;
  let skip = 0;
  if (req.stream === null || req.stream.isNew) {
    if (req.src.length === 0 || req.slen === 0) return -EINVAL;
    skip = src_head_size(qc.qp.req_type, req);
    if (skip < 0) return skip;
    if (skip > req.slen) return -EINVAL;
  }
  const zr = qc.take();
  if (zr === undefined) return -EAGAIN;
  zr.req = req;
  zr.sskip = skip;
  zr.dskip = 0;
  r = hisi_zip_do_work(qc, zr, req);
  if (r !== -EINPROGRESS) qc.give(zr);
  return r;
}

function alg(cra_name: string, driver: string, reqType: number): AcompAlg {
  return {
    cra_name,
    cra_driver_name: driver,
    cra_priority: HZIP_ALG_PRIORITY,
    cra_module: 'hisi_zip',
    init: (tfm) => hisi_zip_acomp_init(tfm, reqType),
    exit: (tfm) => hisi_zip_acomp_exit(tfm),
    compress: hisi_zip_acompress,
    decompress: hisi_zip_adecompress,
  };
}

export const hisi_zip_acomp_zlib = alg('zlib-deflate', 'hisi-zlib-acomp', HZIP_ALG_TYPE_ZLIB);
export const hisi_zip_acomp_gzip = alg('gzip', 'hisi-gzip-acomp', HZIP_ALG_TYPE_GZIP);
export const hisi_zip_acomp_deflate = alg('deflate', 'hisi-deflate-acomp', HZIP_ALG_TYPE_DEFLATE);
const ALGS = [hisi_zip_acomp_zlib, hisi_zip_acomp_gzip, hisi_zip_acomp_deflate];

let registered = 0;

/** hisi_zip_register_to_crypto: the first device registers the algorithms. */
export function hisi_zip_register_to_crypto(): number {
  if (registered++ > 0) return 0;
  for (const a of ALGS) {
    const r = crypto_register_acomp(a);
    if (r < 0) {
      pr_err(`hisi_zip: failed to register ${a.cra_name} (${r})!`);
      for (const b of ALGS) if (b !== a) crypto_unregister_acomp(b);
      registered = 0;
      return r;
    }
  }
  return 0;
}

export function hisi_zip_unregister_from_crypto(): void {
  if (registered === 0 || --registered > 0) return;
  for (const a of ALGS) crypto_unregister_acomp(a);
}

/** Forgets every device and registration (a new boot in the same host process). */
export function hisi_zip_crypto_reset(): void {
  zipDevices.length = 0;
  registered = 0;
  for (const a of ALGS) crypto_unregister_acomp(a);
}

