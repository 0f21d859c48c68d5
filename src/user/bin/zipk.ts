// zipk: compress or decompress a file with the ZIP accelerator through the kernel's
// /dev/hisi_zip_k (the acomp path of hisi_zip; no uacce needed).
//
//   zipk [-d] [-a zlib|gzip|deflate] [-b KiB] IN OUT
//
// -d decompresses; -a picks the format (default zlib); -b sets the chunk handed to
// the kernel per request (default 1024 KiB, at most 4096). The whole file becomes
// one stream: a file that fits one chunk is one stateless request, a larger one is
// a stateful stream of chunks. uAPI: see src/kernel/drivers/crypto/hisilicon/zip/zipk.ts.

import { thisCpu } from '../../arch/index.js';
import type { Libc } from '../libc/libc.js';
import { O_RDWR } from '../libc/uapi.js';

const HZIPK_IOC_SESSION = 0x40085a01;
const HZIPK_IOC_XFER = 0xc0285a02;
const HZIPK_LAST = 1;
const HZIPK_END = 1;
const ALGS: Readonly<Record<string, number>> = { deflate: 0, zlib: 1, gzip: 2 };
const MAX_CHUNK = 4 * 1024 * 1024;

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}

function get32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

export function* zipkMain(c: Libc, argv: string[]): Generator<unknown, number, unknown> {
  c.progname = 'zipk';
  let decompress = false;
  let alg = 'zlib';
  let chunk = 1024 * 1024;
  const files: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-d') decompress = true;
    else if (a === '-a') alg = argv[++i] ?? '';
    else if (a === '-b') chunk = Number.parseInt(argv[++i] ?? '', 10) * 1024;
    else files.push(a);
  }
  if (!(alg in ALGS) || files.length !== 2 || !(chunk > 0 && chunk <= MAX_CHUNK)) {
    yield* c.err('usage: zipk [-d] [-a zlib|gzip|deflate] [-b KiB] IN OUT\n');
    return 2;
  }
  const input = yield* c.readFile(files[0]!);
  if (typeof input === 'number') {
    yield* c.perror(files[0]!, input);
    return 1;
  }
  const fd = yield* c.open('/dev/hisi_zip_k', O_RDWR);
  if (fd < 0) {
    yield* c.perror('/dev/hisi_zip_k', fd);
    return 1;
  }
  const outCap = Math.min(MAX_CHUNK, chunk * 2 + 4096);
  const src = yield* c.malloc(chunk);
  const dst = yield* c.malloc(outCap);
  const arg = yield* c.malloc(64);
  if (src === 0 || dst === 0 || arg === 0) {
    yield* c.err('zipk: out of memory\n');
    return 1;
  }
  const cpu = (): ReturnType<typeof thisCpu> => thisCpu();
  const sess = new Uint8Array(8);
  put32(sess, 0, ALGS[alg]!);
  put32(sess, 4, decompress ? 1 : 0);
  cpu().writeVirt(arg, sess);
  let r = yield* c.ioctl(fd, HZIPK_IOC_SESSION, arg);
  if (r < 0) {
    yield* c.perror('session', r);
    return 1;
  }
  const parts: Uint8Array[] = [];
  const x = new Uint8Array(40);
  const outBuf = new Uint8Array(outCap);
  let pos = 0;
  let ended = false;
  while (!ended) {
    const n = Math.min(chunk, input.length - pos);
    const last = pos + n >= input.length;
    if (n === 0 && (decompress || !last)) break;
    if (n > 0) cpu().writeVirt(src, input, pos, n);
    x.fill(0);
    put32(x, 0, src >>> 0);
    put32(x, 4, Math.floor(src / 2 ** 32));
    put32(x, 8, dst >>> 0);
    put32(x, 12, Math.floor(dst / 2 ** 32));
    put32(x, 16, n);
    put32(x, 20, outCap);
    put32(x, 24, last ? HZIPK_LAST : 0);
    cpu().writeVirt(arg, x);
    r = yield* c.ioctl(fd, HZIPK_IOC_XFER, arg);
    if (r < 0) {
      yield* c.perror(`${decompress ? 'decompress' : 'compress'} at byte ${pos}`, r);
      return 1;
    }
    cpu().readVirt(arg, x);
    const consumed = get32(x, 28);
    const produced = get32(x, 32);
    ended = (get32(x, 36) & HZIPK_END) !== 0;
    if (produced > 0) {
      cpu().readVirt(dst, outBuf, 0, produced);
      parts.push(outBuf.slice(0, produced));
    }
    if (consumed === 0 && produced === 0 && !ended) {
      yield* c.err(`zipk: no progress at byte ${pos}\n`);
      return 1;
    }
    pos += Math.min(consumed, n);
    if (decompress && pos >= input.length && !ended) break;
  }
  yield* c.close(fd);
  if (decompress && !ended) {
    yield* c.err(`zipk: ${files[0]}: unexpected end of compressed data\n`);
    return 1;
  }
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  const w = yield* c.writeFile(files[1]!, out);
  if (w < 0) {
    yield* c.perror(files[1]!, w);
    return 1;
  }
  return 0;
}
