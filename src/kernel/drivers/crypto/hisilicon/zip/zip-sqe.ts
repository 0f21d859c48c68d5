// The ZIP SQE as hisi_zip declares it (Linux zip/zip.h struct hisi_zip_sqe,
// zip_crypto.c hisi_zip_fill_*): 128 bytes, 32 dwords; the request goes in, the
// hardware writes the result back into the same slot. Also the zlib/gzip header
// handling of the driver (the engine emits raw DEFLATE plus the trailer; the driver
// writes the header and skips it on decompression) and status decoding.

import { FieldTable, getField, setField } from '../../../../lib/field-table.js';
import { EINVAL, EIO } from '../../../../lib/errno.js';

export const HZIP_SQE_SIZE = 128;

export const HZIP_SQE = new FieldTable('ZIP_SQE', HZIP_SQE_SIZE, [
  ['consumed', 0, 0, 32],
  ['produced', 1, 0, 32],
  ['comp_data_length', 2, 0, 32],
  ['status', 3, 0, 8],
  ['lstblk', 3, 8, 1],
  ['input_data_length', 4, 0, 32],
  ['in_sge_data_offset', 7, 0, 24],
  ['flush_type', 7, 25, 1],
  ['stream_mode', 7, 26, 1],
  ['stream_new', 7, 27, 1],
  ['sqe_type', 7, 28, 4],
  ['out_sge_data_offset', 8, 0, 24],
  ['req_type', 9, 0, 8],
  ['buf_type', 9, 8, 4],
  ['win_size', 9, 12, 4],
  ['tag_v2', 13, 0, 32],
  ['dest_avail_out', 14, 0, 32],
  ['ctx_st', 15, 0, 4],
  ['ctx_bfinal', 15, 7, 1],
  ['ctx_head_bits', 15, 10, 6],
  ['source_addr_l', 18, 0, 32],
  ['source_addr_h', 19, 0, 32],
  ['dest_addr_l', 20, 0, 32],
  ['dest_addr_h', 21, 0, 32],
  ['stream_ctx_addr_l', 22, 0, 32],
  ['stream_ctx_addr_h', 23, 0, 32],
  ['tag_v3', 26, 0, 32],
  ['ctx_dw1', 28, 0, 32],
  ['ctx_dw2', 29, 0, 32],
  ['isize', 30, 0, 32],
  ['checksum', 31, 0, 32],
]);

/** req_type (HZIP_ALG_TYPE_*). */
export const HZIP_ALG_TYPE_DEFLATE = 0x01;
export const HZIP_ALG_TYPE_ZLIB = 0x02;
export const HZIP_ALG_TYPE_GZIP = 0x03;

/** buf_type */
export const HZIP_FLAT = 0;
export const HZIP_SGL = 1;

/** dw7 flush: 1 = FINISH (last block), 0 = SYNC_FLUSH. */
export const HZIP_FLUSH_FINISH = 1;
export const HZIP_FLUSH_SYNC = 0;

/** Window sizes (dw9 [15:12]). */
export const HZIP_WIN_4K = 0;
export const HZIP_WIN_32K = 4;

/** Status codes (dw3[7:0]). */
export const HZIP_STATUS_OK = 0x00;
export const HZIP_NC_ERR = 0x0d;
export const HZIP_DEST_TOO_SMALL = 0x0e;
export const HZIP_CRC_ERR = 0x10;
export const HZIP_DECOMP_END = 0x13;

/** Stream context buffer the engine keeps between stateful requests. */
export const HZIP_STREAM_CTX_SIZE = 64 * 1024;

/** Largest input or output of one BD. */
export const HZIP_MAX_BD_BYTES = 8 * 1024 * 1024;

/** Headers the driver writes in front of the engine's raw DEFLATE (zip_crypto.c zlib_head / gzip_head). */
export const ZLIB_HEAD = new Uint8Array([0x78, 0x9c]);
export const GZIP_HEAD = new Uint8Array([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03]);

export function comp_head(reqType: number): Uint8Array {
  return reqType === HZIP_ALG_TYPE_ZLIB ? ZLIB_HEAD : reqType === HZIP_ALG_TYPE_GZIP ? GZIP_HEAD : new Uint8Array(0);
}

// gzip FLG bits (RFC 1952 2.3.1)
const GZIP_FHCRC = 1 << 1;
const GZIP_FEXTRA = 1 << 2;
const GZIP_FNAME = 1 << 3;
const GZIP_FCOMMENT = 1 << 4;

/**
 * Header bytes to skip before the DEFLATE data on decompression. zlib: CMF/FLG
 * (RFC 1950; an FDICT stream is refused). gzip: the member header walked through
 * FEXTRA, FNAME, FCOMMENT and FHCRC as Linux's __get_gzip_head_size does, so
 * `gzip file` output (with FNAME) is accepted. raw deflate: 0. Returns -EINVAL for
 * a header that is not one, or is cut short.
 */
export function decomp_head_size(reqType: number, head: Uint8Array): number {
  if (reqType === HZIP_ALG_TYPE_DEFLATE) return 0;
  if (reqType === HZIP_ALG_TYPE_ZLIB) {
    if (head.length < 2) return -EINVAL;
    const cmf = head[0]!;
    const flg = head[1]!;
    if ((cmf & 0x0f) !== 8 || (cmf >>> 4) > 7 || ((cmf << 8) | flg) % 31 !== 0 || (flg & 0x20) !== 0) return -EINVAL;
    return 2;
  }
  if (reqType !== HZIP_ALG_TYPE_GZIP) return -EINVAL;
  if (head.length < 10 || head[0] !== 0x1f || head[1] !== 0x8b || head[2] !== 8) return -EINVAL;
  const flg = head[3]!;
  let n = 10;
  if (flg & GZIP_FEXTRA) {
    if (head.length < n + 2) return -EINVAL;
    n += 2 + (head[n]! | (head[n + 1]! << 8));
  }
  for (const bit of [GZIP_FNAME, GZIP_FCOMMENT]) {
    if ((flg & bit) === 0) continue;
    while (n < head.length && head[n] !== 0) n++;
    if (n >= head.length) return -EINVAL;
    n++;
  }
  if (flg & GZIP_FHCRC) n += 2;
  return n > head.length ? -EINVAL : n;
}


export interface ZipSqeRequest {
  reqType: number;
  /** Source and destination: flat buffer or hardware SGL DMA addresses. */
  src: number;
  dst: number;
  bufType: number;
  slen: number;
  dlen: number;
  /** Bytes skipped at the start of source / destination (header handling). */
  sskip: number;
  dskip: number;
  tag: number;
  /** sqe_type 0 (v2: tag in dw13) or 3 (v3: tag in dw26). */
  sqeType: number;
  win?: number;
  /** Stateful stream fields (UADK-style streaming; the Linux acomp path is stateless). */
  stream?: { ctxAddr: number; isNew: boolean; finish: boolean; isize: number; checksum: number };
}

/** hisi_zip_fill_sqe + config_buf_type + config_tag into `w` (cleared first). */
export function hisi_zip_fill_sqe(w: Uint32Array, r: ZipSqeRequest): void {
  w.fill(0);
  const F = HZIP_SQE.f;
  setField(w, F.input_data_length, r.slen - r.sskip);
  setField(w, F.in_sge_data_offset, r.sskip);
  setField(w, F.out_sge_data_offset, r.dskip);
  setField(w, F.req_type, r.reqType);
  setField(w, F.buf_type, r.bufType);
  setField(w, F.win_size, r.win ?? HZIP_WIN_4K);
  setField(w, F.dest_avail_out, r.dlen - r.dskip);
  setField(w, F.source_addr_l, r.src >>> 0);
  setField(w, F.source_addr_h, Math.floor(r.src / 2 ** 32));
  setField(w, F.dest_addr_l, r.dst >>> 0);
  setField(w, F.dest_addr_h, Math.floor(r.dst / 2 ** 32));
  setField(w, F.sqe_type, r.sqeType);
  setField(w, r.sqeType === 3 ? F.tag_v3 : F.tag_v2, r.tag);
  if (r.stream) {
    setField(w, F.stream_mode, 1);
    setField(w, F.stream_new, r.stream.isNew ? 1 : 0);
    setField(w, F.flush_type, r.stream.finish ? HZIP_FLUSH_FINISH : HZIP_FLUSH_SYNC);
    setField(w, F.stream_ctx_addr_l, r.stream.ctxAddr >>> 0);
    setField(w, F.stream_ctx_addr_h, Math.floor(r.stream.ctxAddr / 2 ** 32));
    setField(w, F.isize, r.stream.isize);
    setField(w, F.checksum, r.stream.checksum);
  } else {
    setField(w, F.flush_type, HZIP_FLUSH_FINISH);
  }
}

export function hisi_zip_get_tag(w: Uint32Array): number {
  return getField(w, getField(w, HZIP_SQE.f.sqe_type) === 3 ? HZIP_SQE.f.tag_v3 : HZIP_SQE.f.tag_v2);
}

export function hisi_zip_get_status(w: Uint32Array): number {
  return getField(w, HZIP_SQE.f.status);
}

/**
 * The errno of a completed stateless SQE (hisi_zip_acomp_cb): 0 and 0x0d (negative
 * compression) succeed; everything else is -EIO. Decompression end (0x13) is success
 * for the stream path, which passes `streamEndOk`.
 */
export function hisi_zip_status_errno(status: number, streamEndOk = false): number {
  if (status === HZIP_STATUS_OK || status === HZIP_NC_ERR) return 0;
  if (streamEndOk && status === HZIP_DECOMP_END) return 0;
  return -EIO;
}

const STATUS_NAMES: Readonly<Record<number, string>> = {
  0x00: 'ok',
  0x0d: 'negative compression',
  0x0e: 'dest_avail_out too small',
  0x0f: 'input DIF check error',
  0x10: 'CRC error',
  0x12: 'uncompressed DIF error',
  0x13: 'decompression end',
};

export function hisi_zip_status_name(status: number): string {
  return STATUS_NAMES[status] ?? `status 0x${status.toString(16)}`;
}
