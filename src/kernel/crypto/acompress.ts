// Asynchronous compression API (include/crypto/acompress.h, crypto/acompress.c in
// shape): drivers register acomp algorithms under a cra_name ("zlib-deflate",
// "gzip", "deflate"); users allocate a transform by name (the highest priority
// implementation wins), requests carry source/destination scatterlists and a
// completion callback. compress/decompress return -EINPROGRESS when the driver
// queued the work (the callback reports the result), -EBUSY when its queue is full,
// or a final result.

import { EINPROGRESS, ENOENT, EBUSY } from '../lib/errno.js';
import { Completion, complete, wait_for_completion } from '../sched/wait.js';
import type { Scatterlist } from './scatterlist.js';

export type CryptoCompletion = (req: AcompReq, err: number) => void;

/** struct acomp_alg */
export interface AcompAlg {
  readonly cra_name: string;
  readonly cra_driver_name: string;
  readonly cra_priority: number;
  readonly cra_module?: string;
  /** crypto_tfm init: set up the transform's context (may sleep). Returns 0 or -errno. */
  init(tfm: CryptoAcomp): Generator<unknown, number, unknown>;
  exit(tfm: CryptoAcomp): Generator<unknown, void, unknown>;
  compress(req: AcompReq): number;
  decompress(req: AcompReq): number;
}

/** struct crypto_acomp: one user's handle on an algorithm, with the driver's context. */
export class CryptoAcomp {
  /** crypto_tfm_ctx(): the driver's per-transform state. */
  ctx: unknown = null;
  constructor(readonly alg: AcompAlg) {}
}

/** struct acomp_req */
export class AcompReq {
  src: Scatterlist[] = [];
  dst: Scatterlist[] = [];
  slen = 0;
  /** In: destination capacity. Out: bytes produced. */
  dlen = 0;
  flags = 0;
  complete: CryptoCompletion | null = null;
  data: unknown = null;
  /** Driver-private per-request state (acomp_request_ctx). */
  __ctx: unknown = null;
  /** svasoc extension: one step of a stateful stream (null: a stateless request, as in Linux). */
  stream: AcompStream | null = null;
  constructor(readonly tfm: CryptoAcomp) {}
}

/**
 * svasoc extension, not in Linux: the state a caller keeps between the steps of a
 * stateful stream (UADK's wd_do_comp_strm in shape), for data larger than one
 * hardware request. The driver fills `consumed` per step and sets `ended` when the
 * stream is complete; `last` asks for the final (FINISH) step of a compression.
 */
export class AcompStream {
  /** Driver state (hisi_zip: the engine's stream context buffer). */
  priv: unknown = null;
  isNew = true;
  ended = false;
  isize = 0;
  checksum = 0;
  consumed = 0;
  last = false;
}

export function acomp_request_set_stream(req: AcompReq, stream: AcompStream | null): void {
  req.stream = stream;
}

export const CRYPTO_TFM_REQ_MAY_BACKLOG = 0x400;
export const CRYPTO_TFM_REQ_MAY_SLEEP = 0x200;

const algs: AcompAlg[] = [];

/** Counters per algorithm for /proc/crypto-like listings. */
export interface AcompStats {
  compress: number;
  decompress: number;
  errors: number;
}
const stats = new Map<AcompAlg, AcompStats>();

export function crypto_register_acomp(alg: AcompAlg): number {
  if (algs.some((a) => a.cra_driver_name === alg.cra_driver_name)) return -17; // -EEXIST
  algs.push(alg);
  stats.set(alg, { compress: 0, decompress: 0, errors: 0 });
  return 0;
}

export function crypto_unregister_acomp(alg: AcompAlg): void {
  const i = algs.indexOf(alg);
  if (i >= 0) algs.splice(i, 1);
  stats.delete(alg);
}

/** crypto_has_acomp */
export function crypto_has_acomp(name: string): boolean {
  return algs.some((a) => a.cra_name === name || a.cra_driver_name === name);
}

/** Registered algorithms (for /proc/crypto and tests). */
export function crypto_acomp_algs(): readonly AcompAlg[] {
  return algs;
}

export function crypto_acomp_stats(alg: AcompAlg): AcompStats | undefined {
  return stats.get(alg);
}

/** crypto_alloc_acomp: by cra_name (highest priority) or cra_driver_name. Returns -ENOENT if none. */
export function* crypto_alloc_acomp(name: string): Generator<unknown, CryptoAcomp | number, unknown> {
  let best: AcompAlg | undefined;
  for (const a of algs) {
    if (a.cra_driver_name === name) {
      best = a;
      break;
    }
    if (a.cra_name === name && (best === undefined || a.cra_priority > best.cra_priority)) best = a;
  }
  if (best === undefined) return -ENOENT;
  const tfm = new CryptoAcomp(best);
  const r = yield* best.init(tfm);
  if (r < 0) return r;
  return tfm;
}

export function* crypto_free_acomp(tfm: CryptoAcomp): Generator<unknown, void, unknown> {
  yield* tfm.alg.exit(tfm);
}

export function acomp_request_alloc(tfm: CryptoAcomp): AcompReq {
  return new AcompReq(tfm);
}

export function acomp_request_free(_req: AcompReq): void {}

export function acomp_request_set_callback(req: AcompReq, flags: number, cmpl: CryptoCompletion | null, data: unknown): void {
  req.flags = flags;
  req.complete = cmpl;
  req.data = data;
}

export function acomp_request_set_params(req: AcompReq, src: Scatterlist[], dst: Scatterlist[], slen: number, dlen: number): void {
  req.src = src;
  req.dst = dst;
  req.slen = slen;
  req.dlen = dlen;
}

/** acomp_request_complete: the driver reports a queued request's result. */
export function acomp_request_complete(req: AcompReq, err: number): void {
  if (err < 0) {
    const s = stats.get(req.tfm.alg);
    if (s) s.errors++;
  }
  req.complete?.(req, err);
}

export function crypto_acomp_compress(req: AcompReq): number {
  const s = stats.get(req.tfm.alg);
  if (s) s.compress++;
  return req.tfm.alg.compress(req);
}

export function crypto_acomp_decompress(req: AcompReq): number {
  const s = stats.get(req.tfm.alg);
  if (s) s.decompress++;
  return req.tfm.alg.decompress(req);
}

/** struct crypto_wait (DECLARE_CRYPTO_WAIT) with crypto_req_done as the callback. */
export class CryptoWait {
  readonly completion = new Completion();
  err = 0;
}

export function crypto_req_done(req: AcompReq, err: number): void {
  const wait = req.data as CryptoWait;
  wait.err = err;
  complete(wait.completion);
}

/** crypto_wait_req: turns an -EINPROGRESS/-EBUSY return into the final result. */
export function* crypto_wait_req(err: number, wait: CryptoWait): Generator<unknown, number, unknown> {
  if (err === -EINPROGRESS || err === -EBUSY) {
    if (err === -EBUSY) return err; // no backlog: the driver refused the request
    yield* wait_for_completion(wait.completion);
    return wait.err;
  }
  return err;
}

/** /proc/crypto style listing of the acomp algorithms. */
export function crypto_show_acomp(): string {
  return algs
    .map((a) => {
      const s = stats.get(a);
      return [
        `name         : ${a.cra_name}`,
        `driver       : ${a.cra_driver_name}`,
        `module       : ${a.cra_module ?? 'kernel'}`,
        `priority     : ${a.cra_priority}`,
        `type         : acomp`,
        `compress     : ${s?.compress ?? 0}`,
        `decompress   : ${s?.decompress ?? 0}`,
        `errors       : ${s?.errors ?? 0}`,
        '',
      ].join('\n');
    })
    .join('\n');
}
