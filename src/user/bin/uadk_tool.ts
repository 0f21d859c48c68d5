// uadk_tool: UADK's test and benchmark tool (uadk_tool/), the ZIP subset, over libwd:
// the accelerator is reached through /dev/hisi_zip-<N> (uacce, SVA), requests name
// plain malloc'd memory, the data path is loads and stores.
//
//   uadk_tool test --m zip --alg 0|1|2 [--inf] [--stream] [--blksize N] --in FILE --out FILE
//     --alg 0 deflate, 1 zlib, 2 gzip; --inf decompresses; block mode (default) sends
//     the file as one stateless request (wd_do_comp_sync; wd_do_comp_sync2 above one
//     BD), --stream as a stateful stream of --blksize pieces (default 128 KiB,
//     wd_do_comp_strm). An empty file compresses to an empty stream.
//   uadk_tool benchmark --alg zlib|gzip|deflate --mode sva --opt 0|1|2|3 [--sync|--async]
//     --pktlen N --seconds S
//     --opt 0/1 block compress/decompress, 2/3 stream compress/decompress of one packet;
//     runs for S seconds of virtual time (0 < S <= 128, fractions allowed) and prints
//     the throughput.
// Devices are found as UADK's test finds them: the uacce devices listing "zlib"
// (v2 engines list zlib and gzip and also run raw deflate). WD_COMP_EPOLL_EN=1 makes
// synchronous requests sleep in poll() instead of spinning on the completion queue.
// Usage mistakes print one line and exit 2; failures exit 1.

import { thisCpu } from '../../arch/index.js';
import type { Libc } from '../libc/libc.js';
import { CLOCK_MONOTONIC } from '../libc/uapi.js';
import { strerror } from '../libc/errno.js';
import { concat } from '../libc/stdio.js';
import { WD_IN_EPARA, WD_STREAM_END, wd_find_dev_by_numa, wd_get_accel_list, wd_release_ctx, wd_request_ctx, type UaccDevInfo } from '../libwd/wd.js';
import { HZ_MAX_SIZE } from '../libwd/drv/hisi_comp.js';
import {
  CTX_MODE_ASYNC,
  CTX_MODE_SYNC,
  STREAM_CHUNK,
  WD_COMP_WS_32K,
  WD_DIR_COMPRESS,
  WD_DIR_DECOMPRESS,
  wd_comp_alloc_sess,
  wd_comp_free_sess,
  wd_comp_inflight,
  wd_comp_init,
  wd_comp_poll,
  wd_comp_uninit,
  wd_do_comp_async,
  wd_do_comp_strm,
  wd_do_comp_sync,
  wd_do_comp_sync2,
  type WdCompReq,
  type WdCompSess,
  type WdCtxEntry,
} from '../libwd/wd_comp.js';

const TEST_USAGE = 'uadk_tool test --m zip --alg 0|1|2 [--inf] [--stream] [--blksize N] --in FILE --out FILE';
const BENCH_USAGE = 'uadk_tool benchmark --alg zlib|gzip|deflate --mode sva --opt 0|1|2|3 [--sync|--async] --pktlen N --seconds S';
const ALG_NAMES = ['deflate', 'zlib', 'gzip'] as const;
const MAX_SECONDS = 128;
/** Requests an --async benchmark keeps in flight. */
const ASYNC_DEPTH = 32;

class UsageError {
  constructor(readonly msg: string) {}
}

/** --name value options and flags from argv[2..]; unknown options are usage errors. */
function parseOptions(argv: readonly string[], valued: readonly string[], flags: readonly string[]): Map<string, string> | UsageError {
  const out = new Map<string, string>();
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) return new UsageError(`unexpected argument '${a}'`);
    const name = a.slice(2);
    if (flags.includes(name)) out.set(name, '1');
    else if (valued.includes(name)) {
      const v = argv[++i];
      if (v === undefined) return new UsageError(`option --${name} needs a value`);
      out.set(name, v);
    } else return new UsageError(`unknown option --${name}`);
  }
  return out;
}

function parseCount(text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  const v = Number(text);
  return v >= min && v <= max ? v : undefined;
}

/** The ZIP device for a test: UADK's test asks for the devices that list "zlib". */
function* zipDevice(c: Libc): Generator<unknown, UaccDevInfo | null, unknown> {
  return wd_find_dev_by_numa(yield* wd_get_accel_list(c, 'zlib'), -1);
}

const NO_DEVICE = 'no ZIP accelerator with a free queue under /sys/class/uacce (hisi_zip needs uacce_mode=1 on the kernel command line)';

/** wd_comp_init with the given contexts on `dev`, then a session. */
function* setUp(c: Libc, dev: UaccDevInfo, kinds: readonly [op: number, mode: number][], alg: number, op: number): Generator<unknown, WdCompSess | string, unknown> {
  const entries: WdCtxEntry[] = [];
  for (const [o, m] of kinds) {
    const ctx = yield* wd_request_ctx(c, dev);
    if (typeof ctx === 'number') {
      for (const e of entries) yield* wd_release_ctx(e.ctx);
      return `${dev.devPath}: ${strerror(ctx)}`;
    }
    entries.push({ ctx, op_type: o, ctx_mode: m });
  }
  const r = yield* wd_comp_init(c, { ctxs: entries });
  if (r < 0) {
    for (const e of entries) yield* wd_release_ctx(e.ctx);
    return `wd_comp_init: ${strerror(r)}`;
  }
  const sess = yield* wd_comp_alloc_sess(c, { alg_type: alg, op_type: op, win_sz: WD_COMP_WS_32K });
  if (sess === null) {
    yield* wd_comp_uninit(c);
    return 'wd_comp_alloc_sess failed';
  }
  return sess;
}

function reqFailure(what: string, r: number, status: number): string {
  if (r < 0) return `${what}: ${strerror(r)} (${r})`;
  return `${what}: the engine refused the data (status ${status}${status === WD_IN_EPARA ? ', WD_IN_EPARA' : ''})`;
}

/** Block mode: one stateless request (or sync2 above one BD); an empty input as an empty stream. */
function* runBlock(c: Libc, sess: WdCompSess, op: number, input: Uint8Array): Generator<unknown, Uint8Array | string, unknown> {
  const src = yield* c.malloc(Math.max(1, input.length));
  const cap = op === WD_DIR_COMPRESS ? Math.floor((input.length * 9) / 8) + 4096 : HZ_MAX_SIZE;
  const dst = yield* c.malloc(cap);
  if (src === 0 || dst === 0) return 'out of memory';
  try {
    if (input.length > 0) thisCpu().writeVirt(src, input);
    const req: WdCompReq = { src, src_len: input.length, dst, dst_len: cap, op_type: op, status: 0 };
    let r: number;
    if (input.length === 0 && op === WD_DIR_COMPRESS) {
      req.last = 1;
      r = yield* wd_do_comp_strm(sess, req);
    } else if (input.length === 0) return 'empty input: no compressed stream';
    else if (op === WD_DIR_COMPRESS && input.length > HZ_MAX_SIZE - 4096) r = yield* wd_do_comp_sync2(sess, req);
    else r = yield* wd_do_comp_sync(sess, req);
    if (r < 0 || req.status === WD_IN_EPARA) return reqFailure(op === WD_DIR_COMPRESS ? 'compress' : 'decompress', r, req.status);
    const out = new Uint8Array(req.dst_len);
    thisCpu().readVirt(dst, out);
    return out;
  } finally {
    yield* c.free(src);
    yield* c.free(dst);
  }
}

/** Stream mode: wd_do_comp_strm over `blk`-byte pieces until the stream ends. */
function* runStream(c: Libc, sess: WdCompSess, op: number, input: Uint8Array, blk: number): Generator<unknown, Uint8Array | string, unknown> {
  const outCap = op === WD_DIR_COMPRESS ? Math.floor((blk * 9) / 8) + 1024 : Math.max(blk * 2, STREAM_CHUNK);
  const src = yield* c.malloc(blk);
  const dst = yield* c.malloc(outCap);
  if (src === 0 || dst === 0) return 'out of memory';
  const parts: Uint8Array[] = [];
  try {
    let pos = 0;
    for (;;) {
      const n = Math.min(blk, input.length - pos);
      if (n > 0) thisCpu().writeVirt(src, input, pos, n);
      const last = pos + n >= input.length ? 1 : 0;
      const req: WdCompReq = { src, src_len: n, dst, dst_len: outCap, op_type: op, status: 0, last };
      const r = yield* wd_do_comp_strm(sess, req);
      if (r < 0 || req.status === WD_IN_EPARA) return reqFailure(`${op === WD_DIR_COMPRESS ? 'compress' : 'decompress'} at byte ${pos}`, r, req.status);
      if (req.dst_len > 0) {
        const o = new Uint8Array(req.dst_len);
        thisCpu().readVirt(dst, o);
        parts.push(o);
      }
      pos += req.src_len;
      if (op === WD_DIR_COMPRESS && last === 1 && req.src_len === n && req.status === 0) break;
      if (op === WD_DIR_DECOMPRESS && req.status === WD_STREAM_END) break;
      if (req.src_len === 0 && req.dst_len === 0) return op === WD_DIR_DECOMPRESS ? 'decompress: unexpected end of compressed data' : 'compress: no progress';
    }
  } finally {
    yield* c.free(src);
    yield* c.free(dst);
  }
  return concat(parts);
}

function* testMain(c: Libc, argv: string[]): Generator<unknown, number, unknown> {
  const o = parseOptions(argv, ['m', 'alg', 'in', 'out', 'blksize'], ['inf', 'stream']);
  const usage = function* (msg: string): Generator<unknown, number, unknown> {
    yield* c.err(`uadk_tool: ${msg} (usage: ${TEST_USAGE})\n`);
    return 2;
  };
  if (o instanceof UsageError) return yield* usage(o.msg);
  if (o.get('m') !== 'zip') return yield* usage(o.has('m') ? `module '${o.get('m')}' is not supported (only zip)` : 'missing --m zip');
  const alg = parseCount(o.get('alg'), 0, 2);
  if (alg === undefined) return yield* usage(`bad --alg '${o.get('alg') ?? ''}' (0 deflate, 1 zlib, 2 gzip)`);
  const blk = o.has('blksize') ? parseCount(o.get('blksize'), 1, HZ_MAX_SIZE / 2) : STREAM_CHUNK;
  if (blk === undefined) return yield* usage(`bad --blksize '${o.get('blksize')}' (1..${HZ_MAX_SIZE / 2})`);
  const inPath = o.get('in');
  const outPath = o.get('out');
  if (inPath === undefined || outPath === undefined) return yield* usage('--in FILE and --out FILE are required');
  const op = o.has('inf') ? WD_DIR_DECOMPRESS : WD_DIR_COMPRESS;
  const input = yield* c.readFile(inPath);
  if (typeof input === 'number') {
    yield* c.err(`uadk_tool: ${inPath}: ${strerror(input)}\n`);
    return 1;
  }
  const dev = yield* zipDevice(c);
  if (dev === null) {
    yield* c.err(`uadk_tool: ${NO_DEVICE}\n`);
    return 1;
  }
  const sess = yield* setUp(c, dev, [[op, CTX_MODE_SYNC]], alg, op);
  if (typeof sess === 'string') {
    yield* c.err(`uadk_tool: ${sess}\n`);
    return 1;
  }
  const out = o.has('stream') ? yield* runStream(c, sess, op, input, blk) : yield* runBlock(c, sess, op, input);
  yield* wd_comp_free_sess(c, sess);
  yield* wd_comp_uninit(c);
  if (typeof out === 'string') {
    yield* c.err(`uadk_tool: ${inPath}: ${out}\n`);
    return 1;
  }
  const w = yield* c.writeFile(outPath, out);
  if (w < 0) {
    yield* c.err(`uadk_tool: ${outPath}: ${strerror(w)}\n`);
    return 1;
  }
  yield* c.out(`uadk_tool: ${ALG_NAMES[alg]} ${op === WD_DIR_COMPRESS ? 'compress' : 'decompress'} (${o.has('stream') ? 'stream' : 'block'}) ${input.length} -> ${out.length} bytes on ${dev.name} (SVA)\n`);
  return 0;
}

/** Benchmark data: seeded pseudo-random words, compressible about as text is. */
export function benchData(n: number, seed: number): Uint8Array {
  const words = ['accelerator ', 'queue ', 'doorbell ', 'stream ', 'phase ', 'window ', 'pasid ', 'fault ', 'zip ', 'sva '];
  const b = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; ) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const w = words[(x >>> 0) % words.length]!;
    for (let j = 0; j < w.length && i < n; j++) b[i++] = w.charCodeAt(j);
  }
  return b;
}

function* benchMain(c: Libc, argv: string[]): Generator<unknown, number, unknown> {
  const o = parseOptions(argv, ['alg', 'mode', 'opt', 'pktlen', 'seconds'], ['sync', 'async']);
  const usage = function* (msg: string): Generator<unknown, number, unknown> {
    yield* c.err(`uadk_tool: ${msg} (usage: ${BENCH_USAGE})\n`);
    return 2;
  };
  if (o instanceof UsageError) return yield* usage(o.msg);
  const algName = o.get('alg') ?? '';
  const alg = (ALG_NAMES as readonly string[]).indexOf(algName);
  if (alg < 0) return yield* usage(`--alg '${algName}' is not supported (zlib, gzip, deflate)`);
  if ((o.get('mode') ?? 'sva') !== 'sva') return yield* usage(`--mode '${o.get('mode')}' is not supported (sva)`);
  const opt = parseCount(o.get('opt') ?? '0', 0, 3);
  if (opt === undefined) return yield* usage(`bad --opt '${o.get('opt')}' (0..3)`);
  const pktlen = parseCount(o.get('pktlen') ?? '1024', 1, HZ_MAX_SIZE / 2);
  if (pktlen === undefined) return yield* usage(`bad --pktlen '${o.get('pktlen')}' (1..${HZ_MAX_SIZE / 2})`);
  const secText = o.get('seconds') ?? '';
  const seconds = /^\d+(\.\d+)?$/.test(secText) ? Number(secText) : NaN;
  if (!(seconds > 0 && seconds <= MAX_SECONDS)) return yield* usage(`bad --seconds '${secText}' (0 < S <= ${MAX_SECONDS})`);
  if (o.has('sync') && o.has('async')) return yield* usage('--sync and --async exclude each other');
  const async = o.has('async');
  const op = opt === 1 || opt === 3 ? WD_DIR_DECOMPRESS : WD_DIR_COMPRESS;
  const stream = opt >= 2;
  if (async && stream) return yield* usage('--async runs block requests only (--opt 0 or 1)');

  const dev = yield* zipDevice(c);
  if (dev === null) {
    yield* c.err(`uadk_tool: ${NO_DEVICE}\n`);
    return 1;
  }
  const kinds: [number, number][] = [[WD_DIR_COMPRESS, CTX_MODE_SYNC]];
  if (op === WD_DIR_DECOMPRESS) kinds.push([WD_DIR_DECOMPRESS, async ? CTX_MODE_ASYNC : CTX_MODE_SYNC]);
  else if (async) kinds.push([WD_DIR_COMPRESS, CTX_MODE_ASYNC]);
  const sess = yield* setUp(c, dev, kinds, alg, op);
  if (typeof sess === 'string') {
    yield* c.err(`uadk_tool: ${sess}\n`);
    return 1;
  }
  const data = benchData(pktlen, 0x5eed);
  let input = data;
  let packetOut = 0;
  const fail = function* (msg: string): Generator<unknown, number, unknown> {
    yield* c.err(`uadk_tool: ${msg}\n`);
    yield* wd_comp_free_sess(c, sess);
    yield* wd_comp_uninit(c);
    return 1;
  };
  if (op === WD_DIR_DECOMPRESS) {
    // the packet to decompress: the same data compressed by the engine first
    const csess = yield* wd_comp_alloc_sess(c, { alg_type: alg, op_type: WD_DIR_COMPRESS, win_sz: WD_COMP_WS_32K });
    if (csess === null) return yield* fail('wd_comp_alloc_sess failed');
    const z = yield* runBlock(c, csess, WD_DIR_COMPRESS, data);
    yield* wd_comp_free_sess(c, csess);
    if (typeof z === 'string') return yield* fail(z);
    input = z;
  }
  const inCap = Math.max(1, input.length);
  const outCap = op === WD_DIR_COMPRESS ? Math.floor((pktlen * 9) / 8) + 4096 : pktlen + 4096;
  const slots = async ? ASYNC_DEPTH : 1;
  const srcs: number[] = [];
  const dsts: number[] = [];
  for (let i = 0; i < slots; i++) {
    const s = yield* c.malloc(inCap);
    const d = yield* c.malloc(outCap);
    if (s === 0 || d === 0) return yield* fail('out of memory');
    thisCpu().writeVirt(s, input);
    srcs.push(s);
    dsts.push(d);
  }
  const t0 = yield* c.clock_gettime(CLOCK_MONOTONIC);
  const end = t0 + seconds * 1e9;
  let done = 0;
  let bytes = 0;
  let now = t0;
  if (!async) {
    while (now < end) {
      const req: WdCompReq = { src: srcs[0]!, src_len: input.length, dst: dsts[0]!, dst_len: outCap, op_type: op, status: 0, last: 1 };
      const r = stream ? yield* wd_do_comp_strm(sess, req) : yield* wd_do_comp_sync(sess, req);
      if (r < 0 || req.status === WD_IN_EPARA) return yield* fail(reqFailure('request', r, req.status));
      done++;
      bytes += pktlen;
      packetOut = op === WD_DIR_COMPRESS ? req.dst_len : input.length;
      now = yield* c.clock_gettime(CLOCK_MONOTONIC);
    }
  } else {
    let failed = 0;
    const freeSlots = Array.from({ length: slots }, (_, i) => i);
    const cb = (req: WdCompReq, param: unknown): void => {
      if (req.status === WD_IN_EPARA) failed++;
      else {
        done++;
        bytes += pktlen;
        packetOut = op === WD_DIR_COMPRESS ? req.dst_len : input.length;
      }
      freeSlots.push(param as number);
    };
    while (now < end || wd_comp_inflight(c) > 0) {
      while (now < end && freeSlots.length > 0) {
        const slot = freeSlots.pop()!;
        const req: WdCompReq = { src: srcs[slot]!, src_len: input.length, dst: dsts[slot]!, dst_len: outCap, op_type: op, status: 0, cb, cb_param: slot };
        const r = wd_do_comp_async(sess, req);
        if (r < 0) {
          freeSlots.push(slot);
          if (r === -16) break;
          return yield* fail(reqFailure('async request', r, 0));
        }
      }
      const [pr, n] = wd_comp_poll(c, slots);
      if (pr < 0) return yield* fail(`wd_comp_poll: ${strerror(pr)}`);
      if (n === 0) yield* c.sched_yield();
      now = yield* c.clock_gettime(CLOCK_MONOTONIC);
    }
    if (failed > 0) return yield* fail(`${failed} async requests failed`);
  }
  const elapsed = (now - t0) / 1e9;
  for (let i = 0; i < slots; i++) {
    yield* c.free(srcs[i]!);
    yield* c.free(dsts[i]!);
  }
  yield* wd_comp_free_sess(c, sess);
  yield* wd_comp_uninit(c);
  const mibs = bytes / 1048576 / elapsed;
  const kind = `${stream ? 'stream' : 'block'} ${op === WD_DIR_COMPRESS ? 'compress' : 'decompress'} ${async ? 'async' : 'sync'}`;
  const ratio = op === WD_DIR_COMPRESS ? `, ratio ${((packetOut / pktlen) * 100).toFixed(1)}%` : '';
  yield* c.out(`benchmark: ${algName} ${kind} on ${dev.name} (sva), pktlen ${pktlen}: ${done} requests in ${elapsed.toFixed(6)} s virtual: ${mibs.toFixed(2)} MiB/s, ${Math.round(done / elapsed)} req/s${ratio}\n`);
  return 0;
}

export function* uadkToolMain(c: Libc, argv: string[]): Generator<unknown, number, unknown> {
  c.progname = 'uadk_tool';
  const sub = argv[1];
  if (sub === 'test') return yield* testMain(c, argv);
  if (sub === 'benchmark') return yield* benchMain(c, argv);
  yield* c.err(`uadk_tool: ${sub === undefined ? 'missing command' : `unknown command '${sub}'`} (usage: ${TEST_USAGE} | ${BENCH_USAGE})\n`);
  return 2;
}
