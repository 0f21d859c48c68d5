// /dev/hisi_zip_k: compression through the ZIP engine for user space without uacce.
// A misc character device over the acomp API; each open file is one session.
//
// uAPI (little-endian, 'Z' ioctls):
//   HZIPK_IOC_SESSION  _IOW('Z', 1, struct { u32 alg; u32 op; })            8 bytes
//       alg: 0 deflate (raw), 1 zlib, 2 gzip (UADK's numbering); op: 0 compress,
//       1 decompress. Starts a new stream (ends any previous one).
//   HZIPK_IOC_XFER     _IOWR('Z', 2, struct hzipk_xfer)                    40 bytes
//       struct hzipk_xfer { u64 src; u64 dst; u32 src_len; u32 dst_len;
//                           u32 flags; u32 consumed; u32 produced; u32 status; }
//       Moves one step: src_len bytes from user `src` (<= 4 MiB), output into user
//       `dst` (<= 4 MiB). flags bit 0 HZIPK_LAST marks the last input of a
//       compression. Out: consumed (input bytes used; the caller resubmits the rest),
//       produced (bytes written to dst), status bit 0 HZIPK_END (the stream is
//       complete). A compression whose first step is also the last goes out as one
//       stateless acomp request (the Linux path); everything else is a stateful
//       stream (see AcompStream).
// Errors: -EINVAL bad arguments or no session, -EFAULT bad user buffers, -EIO the
// engine reported an error (dmesg has its status), -EAGAIN the device is resetting.

import { thisCpu } from '../../../../../arch/index.js';
import { EFAULT, EINVAL, ENOMEM, ENOTTY } from '../../../../lib/errno.js';
import { _IOW, _IOWR } from '../../../../lib/ioctl.js';
import { copy_from_user, copy_to_user, get_user, put_user } from '../../../../lib/uaccess.js';
import { MISC_DYNAMIC_MINOR, misc_deregister, misc_register, type MiscDevice } from '../../../../fs/char_dev.js';
import type { File, Inode } from '../../../../fs/types.js';
import { alloc_pages, __free_pages } from '../../../../mm/page_alloc.js';
import { GFP_KERNEL } from '../../../../mm/gfp.js';
import {
  AcompStream,
  CryptoAcomp,
  CryptoWait,
  acomp_request_alloc,
  acomp_request_set_callback,
  acomp_request_set_params,
  acomp_request_set_stream,
  crypto_acomp_compress,
  crypto_acomp_decompress,
  crypto_alloc_acomp,
  crypto_free_acomp,
  crypto_req_done,
  crypto_wait_req,
} from '../../../../crypto/acompress.js';
import { sg_init_table } from '../../../../crypto/scatterlist.js';
import { hisi_zip_stream_free } from './zip-crypto.js';

export const HZIPK_IOC_SESSION = _IOW('Z', 1, 8);
export const HZIPK_IOC_XFER = _IOWR('Z', 2, 40);
export const HZIPK_LAST = 1 << 0;
export const HZIPK_END = 1 << 0;
export const HZIPK_ALG_DEFLATE = 0;
export const HZIPK_ALG_ZLIB = 1;
export const HZIPK_ALG_GZIP = 2;
export const HZIPK_MAX_CHUNK = 4 * 1024 * 1024;
/** Bounce buffers are 1 MiB physically contiguous blocks (order 8), one SGE each. */
const BLOCK_ORDER = 8;
const BLOCK_SIZE = 4096 << BLOCK_ORDER;
const ALG_DRIVERS = ['hisi-deflate-acomp', 'hisi-zlib-acomp', 'hisi-gzip-acomp'] as const;

class ZipkSession {
  tfm: CryptoAcomp | null = null;
  op = 0;
  stream: AcompStream | null = null;
  first = true;
  /** Bounce blocks (first PFNs) for input and output. */
  readonly src: number[] = [];
  readonly dst: number[] = [];
  bounce = new Uint8Array(0);
}

function grow(blocks: number[], bytes: number): boolean {
  while (blocks.length * BLOCK_SIZE < bytes) {
    const pfn = alloc_pages(BLOCK_ORDER, GFP_KERNEL);
    if (pfn < 0) return false;
    blocks.push(pfn);
  }
  return true;
}

function chunks(blocks: readonly number[], bytes: number): { pa: number; len: number }[] {
  const out: { pa: number; len: number }[] = [];
  for (let i = 0; bytes > 0; i++) {
    const len = Math.min(bytes, BLOCK_SIZE);
    out.push({ pa: blocks[i]! * 4096, len });
    bytes -= len;
  }
  return out;
}

function* session_end(s: ZipkSession): Generator<unknown, void, unknown> {
  if (s.tfm !== null) {
    if (s.stream !== null) hisi_zip_stream_free(s.tfm, s.stream);
    yield* crypto_free_acomp(s.tfm);
  }
  s.tfm = null;
  s.stream = null;
}

function* zipk_open(_inode: Inode, file: File): Generator<unknown, number, unknown> {
  file.private_data = new ZipkSession();
  return 0;
}

function* zipk_release(_inode: Inode, file: File): Generator<unknown, void, unknown> {
  const s = file.private_data as ZipkSession;
  yield* session_end(s);
  for (const pfn of [...s.src, ...s.dst]) __free_pages(pfn, BLOCK_ORDER);
  s.src.length = 0;
  s.dst.length = 0;
}

function* zipk_session(s: ZipkSession, arg: number): Generator<unknown, number, unknown> {
  const alg = get_user(arg, 4);
  const op = get_user(arg + 4, 4);
  if (alg === undefined || op === undefined) return -EFAULT;
  if (alg > 2 || op > 1) return -EINVAL;
  yield* session_end(s);
  const tfm = yield* crypto_alloc_acomp(ALG_DRIVERS[alg]!);
  if (typeof tfm === 'number') return tfm;
  s.tfm = tfm;
  s.op = op;
  s.stream = new AcompStream();
  s.first = true;
  return 0;
}

function* zipk_xfer(s: ZipkSession, arg: number): Generator<unknown, number, unknown> {
  if (s.tfm === null || s.stream === null) return -EINVAL;
  const hdr = new Uint8Array(40);
  if (copy_from_user(hdr, arg, 40) !== 0) return -EFAULT;
  const dv = new DataView(hdr.buffer);
  const src = dv.getUint32(0, true) + dv.getUint32(4, true) * 2 ** 32;
  const dst = dv.getUint32(8, true) + dv.getUint32(12, true) * 2 ** 32;
  const slen = dv.getUint32(16, true);
  const dlen = dv.getUint32(20, true);
  const flags = dv.getUint32(24, true);
  if (slen > HZIPK_MAX_CHUNK || dlen > HZIPK_MAX_CHUNK || dlen === 0) return -EINVAL;
  if (s.stream.ended) return -EINVAL;
  const last = (flags & HZIPK_LAST) !== 0;
  if (slen === 0 && !(s.op === 0 && last)) return -EINVAL;
  if (!grow(s.src, Math.max(slen, 1)) || !grow(s.dst, dlen)) return -ENOMEM;
  const cpu = thisCpu();
  if (s.bounce.length < Math.max(slen, dlen)) s.bounce = new Uint8Array(Math.max(slen, dlen, 65536));
  const buf = s.bounce;
  if (slen > 0 && copy_from_user(buf, src, slen) !== 0) return -EFAULT;
  const srcChunks = chunks(s.src, Math.max(slen, 1));
  let off = 0;
  for (const c of srcChunks) {
    cpu.writePhys(c.pa, buf, off, Math.min(c.len, Math.max(slen - off, 0)));
    off += c.len;
  }
  // An empty last input still needs a one-byte source for the SGL; input_data_length is 0.
  const req = acomp_request_alloc(s.tfm);
  const wait = new CryptoWait();
  acomp_request_set_callback(req, 0, crypto_req_done, wait);
  acomp_request_set_params(req, sg_init_table(srcChunks), sg_init_table(chunks(s.dst, dlen)), slen, dlen);
  const stateless = s.op === 0 && s.first && last && slen > 0;
  s.stream.last = last;
  acomp_request_set_stream(req, stateless ? null : s.stream);
  if (slen === 0) req.slen = 0;
  const r = yield* crypto_wait_req(s.op === 0 ? crypto_acomp_compress(req) : crypto_acomp_decompress(req), wait);
  if (r < 0) return r;
  s.first = false;
  const consumed = stateless ? slen : s.stream.consumed;
  if (stateless) s.stream.ended = true;
  const produced = req.dlen;
  let done = 0;
  for (const c of chunks(s.dst, produced)) {
    cpu.readPhys(c.pa, buf, done, c.len);
    done += c.len;
  }
  if (produced > 0 && copy_to_user(dst, buf, produced) !== 0) return -EFAULT;
  if (put_user(consumed, arg + 28, 4) < 0 || put_user(produced, arg + 32, 4) < 0 || put_user(s.stream.ended ? HZIPK_END : 0, arg + 36, 4) < 0) return -EFAULT;
  return 0;
}

function* zipk_ioctl(file: File, cmd: number, arg: number): Generator<unknown, number, unknown> {
  const s = file.private_data as ZipkSession;
  const c = cmd >>> 0;
  if (c === HZIPK_IOC_SESSION >>> 0) return yield* zipk_session(s, arg);
  if (c === HZIPK_IOC_XFER >>> 0) return yield* zipk_xfer(s, arg);
  return -ENOTTY;
}

const zipkMisc: MiscDevice = {
  minor: MISC_DYNAMIC_MINOR,
  name: 'hisi_zip_k',
  mode: 0o666,
  fops: { owner: 'hisi_zip', open: zipk_open, release: zipk_release, unlocked_ioctl: zipk_ioctl },
};

let registered = false;

export function zipk_register(): number {
  if (registered) return 0;
  zipkMisc.minor = MISC_DYNAMIC_MINOR;
  const r = misc_register(zipkMisc);
  if (r === 0) registered = true;
  return r;
}

export function zipk_unregister(): void {
  if (!registered) return;
  misc_deregister(zipkMisc);
  registered = false;
}

export function zipk_reset_state(): void {
  registered = false;
}
