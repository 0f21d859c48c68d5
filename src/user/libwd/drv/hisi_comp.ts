// The ZIP user driver (UADK drv/hisi_comp.c in shape, QM v2 form): a compression
// message becomes one 128-byte SQE naming the caller's buffers by their virtual
// addresses (SVA: no mapping, no pinning). The engine writes no zlib/gzip header, so
// the driver writes it at the start of a compression stream and skips it at the start
// of a decompression; the engine writes the trailer (Adler-32, or CRC-32 + ISIZE) on
// FINISH. A stateful stream carries its state in the session's 64 KiB context buffer:
// the engine's history at +64, ctx_dw0..2 at +0/+4/+8, checksum and ISIZE in the
// session.

import { thisCpu } from '../../../arch/index.js';
import { EAGAIN, EINVAL } from '../../libc/errno.js';
import { WD_IN_EPARA, WD_STREAM_END } from '../wd.js';
import { hisi_check_bd_id, hisi_qm_send, hisi_set_msg_id, type HisiQp } from './hisi_qm_udrv.js';

export const HZIP_SQE_SIZE = 128;
/** Largest input or output of one BD (HZ_MAX_SIZE). */
export const HZ_MAX_SIZE = 8 * 1024 * 1024;
/** The session's hardware context buffer (HW_CTX_SIZE); the engine's part starts at RSV_OFFSET. */
export const HW_CTX_SIZE = 0x10000;
export const RSV_OFFSET = 64;
const CTX_DW1_OFFSET = 4;
const CTX_DW2_OFFSET = 8;

/** UADK algorithm numbers (enum wd_comp_alg_type). */
export const WD_DEFLATE = 0;
export const WD_ZLIB = 1;
export const WD_GZIP = 2;
export const WD_LZ77_ZSTD = 3;
export const WD_LZ4 = 4;
export const WD_LZ77_ONLY = 5;
export const WD_COMP_ALG_MAX = 6;
export const WD_DIR_COMPRESS = 0;
export const WD_DIR_DECOMPRESS = 1;
export const WD_COMP_STATELESS = 0;
export const WD_COMP_STATEFUL = 1;
export const WD_COMP_STREAM_OLD = 0;
export const WD_COMP_STREAM_NEW = 1;

/** SQE req_type (dw9[7:0]). */
export const HW_DEFLATE = 0x01;
export const HW_ZLIB = 0x02;
export const HW_GZIP = 0x03;
/** Status codes (dw3[7:0]) and stream states (ctx_dw0[3:0]) the driver acts on. */
export const HZ_NEGACOMPRESS = 0x0d;
export const HZ_ERR_DSTLEN_OUT = 0x0e;
export const HZ_CRC_ERR = 0x10;
export const HZ_DECOMP_END = 0x13;
export const HZ_DECOMP_NO_SPACE = 0x01;
export const HZ_DECOMPING_NO_SPACE = 0x02;

/** The ZIP SQE as this driver reads and writes it: [dword, lsb, width]. */
export const HZIP_SQE = {
  consumed: [0, 0, 32],
  produced: [1, 0, 32],
  status: [3, 0, 8],
  lstblk: [3, 8, 1],
  input_data_length: [4, 0, 32],
  flush_type: [7, 25, 1],
  stream_mode: [7, 26, 1],
  stream_pos: [7, 27, 1],
  sqe_type: [7, 28, 4],
  req_type: [9, 0, 8],
  buf_type: [9, 8, 4],
  win_sz: [9, 12, 4],
  tag: [13, 0, 32],
  dest_avail_out: [14, 0, 32],
  ctx_dw0: [15, 0, 32],
  ctx_st: [15, 0, 4],
  ctx_bfinal: [15, 7, 1],
  source_addr_l: [18, 0, 32],
  source_addr_h: [19, 0, 32],
  dest_addr_l: [20, 0, 32],
  dest_addr_h: [21, 0, 32],
  stream_ctx_addr_l: [22, 0, 32],
  stream_ctx_addr_h: [23, 0, 32],
  ctx_dw1: [28, 0, 32],
  ctx_store: [28, 0, 19],
  ctx_dw2: [29, 0, 32],
  isize: [30, 0, 32],
  checksum: [31, 0, 32],
} as const satisfies Record<string, readonly [number, number, number]>;
export type HzipSqeField = keyof typeof HZIP_SQE;

export function sqe_get(w: Uint32Array, f: HzipSqeField): number {
  const [dw, lsb, width] = HZIP_SQE[f];
  return width === 32 ? w[dw]! >>> 0 : (w[dw]! >>> lsb) & ((1 << width) - 1);
}

export function sqe_set(w: Uint32Array, f: HzipSqeField, v: number): void {
  const [dw, lsb, width] = HZIP_SQE[f];
  if (width === 32) {
    w[dw] = v >>> 0;
    return;
  }
  const mask = ((1 << width) - 1) << lsb;
  w[dw] = ((w[dw]! & ~mask) | ((v << lsb) & mask)) >>> 0;
}

function sqe_set_addr(w: Uint32Array, lo: HzipSqeField, hi: HzipSqeField, va: number): void {
  sqe_set(w, lo, va >>> 0);
  sqe_set(w, hi, Math.floor(va / 2 ** 32));
}

/** struct wd_comp_msg: one request as the driver sees it, and its results. */
export interface WdCompMsg {
  alg_type: number;
  op_type: number;
  win_sz: number;
  comp_lv: number;
  stream_mode: number;
  stream_pos: number;
  src: number;
  src_len: number;
  dst: number;
  /** Output capacity (req.dst_len). */
  avail_out: number;
  last: number;
  /** Session context buffer (user VA), 0 when none. */
  ctx_buf: number;
  isize: number;
  checksum: number;
  tag: number;
  // results
  in_cons: number;
  produced: number;
  status: number;
  /** Header bytes written (compress) or skipped (decompress) at a stream start. */
  head_size: number;
  /** The driver answered without the hardware (an empty final block). */
  skip_hw: boolean;
}

export function wd_comp_msg(init: Partial<WdCompMsg> = {}): WdCompMsg {
  return {
    alg_type: WD_ZLIB,
    op_type: WD_DIR_COMPRESS,
    win_sz: 4,
    comp_lv: 8,
    stream_mode: WD_COMP_STATELESS,
    stream_pos: WD_COMP_STREAM_NEW,
    src: 0,
    src_len: 0,
    dst: 0,
    avail_out: 0,
    last: 1,
    ctx_buf: 0,
    isize: 0,
    checksum: 0,
    tag: 0,
    in_cons: 0,
    produced: 0,
    status: 0,
    head_size: 0,
    skip_hw: false,
    ...init,
  };
}

/** The zlib header UADK writes (CMF 0x78: deflate, 32 KiB window; FLG 0x9c). */
export const ZLIB_HEADER = new Uint8Array([0x78, 0x9c]);
/** The gzip header UADK writes: ID1 ID2, CM 8, FLG 0, MTIME 0, XFL 0, OS 3 (Unix). */
export const GZIP_HEADER = new Uint8Array([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03]);
/** A final empty stored block (BFINAL 1, BTYPE 00, LEN 0, NLEN 0xffff). */
export const STORE_BLOCK = new Uint8Array([0x01, 0x00, 0x00, 0xff, 0xff]);

const FTEXT_FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;
const FRESERVED = 0xe0;

/**
 * The length of the zlib or gzip header at the start of `b` (RFC 1950 2.2, RFC 1952
 * 2.3): -EINVAL when it is not one this engine can follow (bad magic, a preset
 * dictionary, reserved flags), 0 when `b` ends inside it. UADK skips a fixed 2 or 10
 * bytes; parsing the optional gzip fields lets files with a name (gzip FILE) through.
 */
export function comp_head_size(alg: number, b: Uint8Array): number {
  if (alg === WD_ZLIB) {
    if (b.length < 2) return 0;
    const cmf = b[0]!;
    const flg = b[1]!;
    if ((cmf & 0x0f) !== 8 || cmf >>> 4 > 7 || ((cmf << 8) | flg) % 31 !== 0 || flg & 0x20) return -EINVAL;
    return 2;
  }
  if (alg === WD_GZIP) {
    if (b.length < 10) return 0;
    if (b[0] !== 0x1f || b[1] !== 0x8b || b[2] !== 8 || b[3]! & FRESERVED) return -EINVAL;
    const flg = b[3]!;
    let n = 10;
    if (flg & FEXTRA) {
      if (b.length < n + 2) return 0;
      n += 2 + (b[n]! | (b[n + 1]! << 8));
    }
    for (const f of [FNAME, FCOMMENT]) {
      if (!(flg & f)) continue;
      for (;;) {
        if (n >= b.length) return 0;
        if (b[n++] === 0) break;
      }
    }
    if (flg & FTEXT_FHCRC) n += 2;
    return n <= b.length ? n : 0;
  }
  return 0;
}

/** Largest gzip header this driver reads to find where the deflate data starts. */
const HEAD_PEEK = 4096;

function hw_req_type(alg: number): number {
  return alg === WD_DEFLATE ? HW_DEFLATE : alg === WD_ZLIB ? HW_ZLIB : alg === WD_GZIP ? HW_GZIP : -EINVAL;
}

/** min_out_buf_size: a stateful compression wants 1.125 x input of output room. */
export function min_out_buf_size(inl: number): number {
  return Math.floor((inl * 9 + 7) / 8);
}

/** max_in_data_size: the input a given output room allows, 4-byte aligned. */
export function max_in_data_size(outl: number): number {
  return Math.floor((outl * 8) / 9) & ~3;
}

/**
 * fill_zip_comp_sqe for zlib, gzip and deflate: the header at a compression stream's
 * start, sizes, user VAs, dw7 flush/mode/position, dw9 algorithm + flat buffers +
 * window, the tag, the carried ISIZE/checksum and ctx_dw0..2. Returns 0 or -errno.
 */
export function fill_zip_comp_sqe(qp: HisiQp, msg: WdCompMsg, w: Uint32Array): number {
  const reqType = hw_req_type(msg.alg_type);
  // QM v2 engines know deflate, zlib and gzip only (UADK rejects the rest on v1/v2)
  if (reqType < 0 || (qp.hw_type <= 2 && msg.alg_type > WD_GZIP)) return -EINVAL;
  w.fill(0);
  let src = msg.src;
  let dst = msg.dst;
  let inSize = msg.src_len;
  let outSize = msg.avail_out;
  msg.head_size = 0;
  if (msg.stream_pos === WD_COMP_STREAM_NEW && msg.alg_type !== WD_DEFLATE) {
    if (msg.op_type === WD_DIR_COMPRESS) {
      const head = msg.alg_type === WD_ZLIB ? ZLIB_HEADER : GZIP_HEADER;
      if (outSize <= head.length) return -EINVAL;
      thisCpu().writeVirt(dst, head);
      msg.head_size = head.length;
      dst += head.length;
      outSize -= head.length;
    } else {
      const peek = new Uint8Array(Math.min(inSize, HEAD_PEEK));
      thisCpu().readVirt(src, peek);
      const n = comp_head_size(msg.alg_type, peek);
      if (n <= 0) return -EINVAL;
      msg.head_size = n;
      src += n;
      inSize -= n;
    }
  }
  // a stateful compression with less than 1.125 x input of room takes less input
  if (msg.stream_mode === WD_COMP_STATEFUL && msg.op_type === WD_DIR_COMPRESS && outSize < min_out_buf_size(inSize)) {
    inSize = max_in_data_size(outSize);
    msg.last = 0;
  }
  if (inSize > HZ_MAX_SIZE) return -EINVAL;
  if (outSize > HZ_MAX_SIZE) outSize = HZ_MAX_SIZE;
  sqe_set(w, 'input_data_length', inSize);
  sqe_set(w, 'dest_avail_out', outSize);
  sqe_set_addr(w, 'source_addr_l', 'source_addr_h', src);
  sqe_set_addr(w, 'dest_addr_l', 'dest_addr_h', dst);
  if (msg.stream_mode === WD_COMP_STATEFUL) {
    if (msg.ctx_buf === 0) return -EINVAL;
    sqe_set_addr(w, 'stream_ctx_addr_l', 'stream_ctx_addr_h', msg.ctx_buf + RSV_OFFSET);
  }
  sqe_set(w, 'sqe_type', 0);
  sqe_set(w, 'req_type', reqType);
  sqe_set(w, 'buf_type', 0);
  sqe_set(w, 'tag', msg.tag);
  sqe_set(w, 'stream_pos', msg.stream_pos === WD_COMP_STREAM_NEW ? 1 : 0);
  sqe_set(w, 'stream_mode', msg.stream_mode === WD_COMP_STATEFUL ? 1 : 0);
  sqe_set(w, 'flush_type', msg.last === 1 ? 1 : 0);
  sqe_set(w, 'win_sz', msg.win_sz);
  sqe_set(w, 'isize', msg.isize);
  sqe_set(w, 'checksum', msg.checksum);
  if (msg.ctx_buf !== 0) {
    const cpu = thisCpu();
    sqe_set(w, 'ctx_dw0', cpu.ld32(msg.ctx_buf));
    sqe_set(w, 'ctx_dw1', cpu.ld32(msg.ctx_buf + CTX_DW1_OFFSET));
    sqe_set(w, 'ctx_dw2', cpu.ld32(msg.ctx_buf + CTX_DW2_OFFSET));
  }
  return 0;
}

function put32le(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}

/**
 * append_store_block: the last, empty request of a stateful compression needs no
 * engine: an empty final stored block and the trailer from the carried checksum
 * (Adler-32 big-endian; CRC-32 and ISIZE little-endian). This engine returns the
 * CRC-32 in trailer form (its own trailers are written from it as is), so it is not
 * inverted and bit-reversed as UADK does for Kunpeng's register. A stream that is
 * empty from its start gets its header first (UADK writes none there).
 */
export function append_store_block(msg: WdCompMsg): number {
  const head = msg.stream_pos === WD_COMP_STREAM_NEW ? (msg.alg_type === WD_ZLIB ? ZLIB_HEADER : msg.alg_type === WD_GZIP ? GZIP_HEADER : null) : null;
  const trailer = msg.alg_type === WD_ZLIB ? 4 : msg.alg_type === WD_GZIP ? 8 : 0;
  const headLen = head?.length ?? 0;
  const out = new Uint8Array(headLen + STORE_BLOCK.length + trailer);
  if (msg.avail_out < out.length) return -EINVAL;
  let o = 0;
  if (head !== null) {
    out.set(head);
    o = headLen;
    // a fresh stream: the checksum of nothing
    msg.checksum = msg.alg_type === WD_ZLIB ? 1 : 0;
    msg.isize = 0;
  }
  out.set(STORE_BLOCK, o);
  o += STORE_BLOCK.length;
  if (msg.alg_type === WD_ZLIB) {
    out[o] = (msg.checksum >>> 24) & 0xff;
    out[o + 1] = (msg.checksum >>> 16) & 0xff;
    out[o + 2] = (msg.checksum >>> 8) & 0xff;
    out[o + 3] = msg.checksum & 0xff;
  } else if (msg.alg_type === WD_GZIP) {
    put32le(out, o, msg.checksum);
    put32le(out, o + 4, msg.isize);
  }
  thisCpu().writeVirt(msg.dst, out);
  msg.produced = out.length;
  msg.in_cons = 0;
  msg.status = 0;
  msg.skip_hw = true;
  return 0;
}

/**
 * hisi_zip_comp_send: an empty final stateful compression is answered here; anything
 * else is tagged (sync queues: the next nrand48 value; async: the caller's pool
 * index), filled and sent. Returns 0 or -errno (-EBUSY: the SQ is full).
 */
export function hisi_zip_comp_send(qp: HisiQp, msg: WdCompMsg): number {
  msg.skip_hw = false;
  if (msg.stream_mode === WD_COMP_STATEFUL && msg.alg_type <= WD_GZIP && msg.op_type === WD_DIR_COMPRESS && msg.last === 1 && msg.src_len === 0) return append_store_block(msg);
  if (qp.qp_mode === 0) msg.tag = hisi_set_msg_id(qp);
  const w = new Uint32Array(HZIP_SQE_SIZE / 4);
  const r = fill_zip_comp_sqe(qp, msg, w);
  if (r < 0) return r;
  return hisi_qm_send(qp, new Uint8Array(w.buffer), 1);
}

/** The tag of a response SQE (sqe_type 0: dw13). */
export function hisi_zip_resp_tag(resp: Uint8Array): number {
  return new DataView(resp.buffer, resp.byteOffset, HZIP_SQE_SIZE).getUint32(13 * 4, true);
}

/**
 * parse_zip_sqe: the result the engine wrote into the SQE slot. Status other than
 * 0, 0x0d (negative compression) or 0x13 (decompression end) is WD_IN_EPARA; a stream
 * header counts in produced (compress) or consumed (decompress); a decompression that
 * ran out of room in its final block asks for another call (status EAGAIN), the end
 * of the final block is WD_STREAM_END. ctx_dw0..2 go back to the context buffer.
 * Returns 0, or -EINVAL when the response is not the one sent (sync queues).
 */
export function parse_zip_sqe(qp: HisiQp, resp: Uint8Array, msg: WdCompMsg): number {
  const w = new Uint32Array(HZIP_SQE_SIZE / 4);
  const dv = new DataView(resp.buffer, resp.byteOffset, HZIP_SQE_SIZE);
  for (let i = 0; i < w.length; i++) w[i] = dv.getUint32(i * 4, true);
  const tag = sqe_get(w, 'tag');
  const r = hisi_check_bd_id(qp, msg.tag, tag);
  if (r < 0) return r;
  const status = sqe_get(w, 'status');
  const ctxSt = sqe_get(w, 'ctx_st');
  msg.status = 0;
  if (status !== 0 && status !== HZ_NEGACOMPRESS && status !== HZ_DECOMP_END) msg.status = WD_IN_EPARA;
  msg.in_cons = sqe_get(w, 'consumed');
  msg.produced = sqe_get(w, 'produced');
  if (sqe_get(w, 'stream_pos') === 1 && msg.alg_type !== WD_DEFLATE && msg.status === 0) {
    if (qp.qc_type === WD_DIR_COMPRESS) msg.produced += msg.head_size;
    else msg.in_cons += msg.head_size;
  }
  if (sqe_get(w, 'stream_ctx_addr_l') !== 0 || sqe_get(w, 'stream_ctx_addr_h') !== 0) {
    if (msg.ctx_buf !== 0) {
      const cpu = thisCpu();
      cpu.st32(msg.ctx_buf, sqe_get(w, 'ctx_dw0'));
      cpu.st32(msg.ctx_buf + CTX_DW1_OFFSET, sqe_get(w, 'ctx_dw1'));
      cpu.st32(msg.ctx_buf + CTX_DW2_OFFSET, sqe_get(w, 'ctx_dw2'));
    }
  }
  if (ctxSt === HZ_DECOMP_NO_SPACE) msg.status = EAGAIN;
  if (ctxSt === HZ_DECOMPING_NO_SPACE && msg.src_len === msg.in_cons && sqe_get(w, 'ctx_bfinal') && sqe_get(w, 'ctx_store')) msg.status = EAGAIN;
  if (sqe_get(w, 'lstblk') && status === HZ_DECOMP_END) msg.status = WD_STREAM_END;
  msg.isize = sqe_get(w, 'isize');
  msg.checksum = sqe_get(w, 'checksum');
  return 0;
}
