// Interoperability host -> device: files made on the host by the standard gzip CLI
// (with the FNAME header `gzip -c FILE` writes, and without it, `gzip -n`), by
// node:zlib (gzip, deflate, deflateRaw) and hand-made gzip members whose headers
// carry FEXTRA, FNAME, FCOMMENT and FHCRC, decompressed by the device through zipk
// (/dev/hisi_zip_k, the acomp path of hisi_zip). The engine only inflates raw
// DEFLATE and checks the trailer; the driver walks the gzip/zlib header and skips it
// (reference section 6, "Header/trailer handling").
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { bytesEqual as eq, runZipUser, zipSample as sample } from './kernel-zip-harness.js';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 of RFC 1952 section 8. */
function crc32(d: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < d.length; i++) c = CRC_TABLE[(c ^ d[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const FHCRC = 1 << 1;
const FEXTRA = 1 << 2;
const FNAME = 1 << 3;
const FCOMMENT = 1 << 4;

/**
 * A gzip member (RFC 1952 2.3) with the optional header fields asked for: FEXTRA with
 * `extraLen` bytes of subfields, FNAME, FCOMMENT, FHCRC (low 16 bits of the CRC-32 of
 * the header before it), then raw DEFLATE from node:zlib, CRC-32 and ISIZE.
 */
function gzipMember(data: Uint8Array, o: { extraLen?: number; name?: string; comment?: string; hcrc?: boolean }): Uint8Array {
  const h: number[] = [0x1f, 0x8b, 8, 0, 0x78, 0x56, 0x34, 0x12, 0, 3];
  let flg = 0;
  if (o.extraLen !== undefined) {
    flg |= FEXTRA;
    h.push(o.extraLen & 0xff, o.extraLen >>> 8);
    // One subfield 'S','V' with LEN = extraLen - 4 bytes of payload.
    const payload = o.extraLen - 4;
    h.push(0x53, 0x56, payload & 0xff, payload >>> 8);
    for (let i = 0; i < payload; i++) h.push((i * 7 + 1) & 0xff);
  }
  if (o.name !== undefined) {
    flg |= FNAME;
    for (const c of new TextEncoder().encode(o.name)) h.push(c);
    h.push(0);
  }
  if (o.comment !== undefined) {
    flg |= FCOMMENT;
    for (const c of new TextEncoder().encode(o.comment)) h.push(c);
    h.push(0);
  }
  if (o.hcrc) flg |= FHCRC;
  h[3] = flg;
  if (o.hcrc) {
    const c = crc32(Uint8Array.from(h));
    h.push(c & 0xff, (c >>> 8) & 0xff);
  }
  const body = deflateRawSync(data);
  const out = new Uint8Array(h.length + body.length + 8);
  out.set(h, 0);
  out.set(body, h.length);
  const v = new DataView(out.buffer);
  v.setUint32(h.length + body.length, crc32(data), true);
  v.setUint32(h.length + body.length + 4, data.length >>> 0, true);
  return out;
}

/** Runs the host's gzip CLI on a real file (so `-c` stores its name, FNAME) and returns the output. */
function gzipCli(dir: string, name: string, data: Uint8Array, args: string[]): Uint8Array {
  const p = join(dir, name);
  writeFileSync(p, data);
  return new Uint8Array(execFileSync('gzip', [...args, '-c', p], { maxBuffer: 512 * 1024 * 1024 }));
}

/** Which zipk algorithm a host-made file is in. */
type Alg = 'gzip' | 'zlib' | 'deflate';

interface HostFile {
  /** Guest path of the compressed file; the original is at `${orig}`. */
  path: string;
  orig: string;
  alg: Alg;
  bytes: Uint8Array;
}

describe('host -> device: the device decompresses what gzip(1) and node:zlib compress', () => {
  const sizes = [0, 1, 4096, 1024 * 1024];
  const dir = mkdtempSync(join(tmpdir(), 'svasoc-interop-'));
  const files: Record<string, Uint8Array> = {};
  const made: HostFile[] = [];
  const add = (name: string, orig: string, alg: Alg, bytes: Uint8Array): void => {
    const path = `/tmp/${name}`;
    files[path] = bytes;
    made.push({ path, orig, alg, bytes });
  };
  try {
    sizes.forEach((n, i) => {
      const data = sample(n, 31 + i);
      const orig = `/tmp/o${n}`;
      files[orig] = data;
      add(`cli-name-${n}.gz`, orig, 'gzip', gzipCli(dir, `sample-file-${n}.txt`, data, []));
      add(`cli-n-${n}.gz`, orig, 'gzip', gzipCli(dir, `n-${n}`, data, ['-n']));
      add(`cli-9-${n}.gz`, orig, 'gzip', gzipCli(dir, `nine-${n}.bin`, data, ['-9']));
      add(`node-${n}.gz`, orig, 'gzip', new Uint8Array(gzipSync(data)));
      add(`node-${n}.zlib`, orig, 'zlib', new Uint8Array(deflateSync(data)));
      add(`node-9-${n}.zlib`, orig, 'zlib', new Uint8Array(deflateSync(data, { level: 9 })));
      add(`node-${n}.deflate`, orig, 'deflate', new Uint8Array(deflateRawSync(data)));
      add(`hdr-all-${n}.gz`, orig, 'gzip', gzipMember(data, { extraLen: 12, name: 'a name.txt', comment: 'a comment, with spaces', hcrc: true }));
      add(`hdr-extra-${n}.gz`, orig, 'gzip', gzipMember(data, { extraLen: 3000 }));
      add(`hdr-comment-hcrc-${n}.gz`, orig, 'gzip', gzipMember(data, { comment: 'c', hcrc: true }));
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const script: string[] = [];
  for (const f of made) {
    // One stateless request per file, then a stream of 64 KiB steps.
    script.push(`zipk -d -a ${f.alg} ${f.path} ${f.path}.out || echo FAIL-d-${f.path}`);
    script.push(`cmp ${f.orig} ${f.path}.out || echo FAIL-cmp-${f.path}`);
    script.push(`zipk -d -a ${f.alg} -b 64 ${f.path} ${f.path}.s.out || echo FAIL-ds-${f.path}`);
    script.push(`cmp ${f.orig} ${f.path}.s.out || echo FAIL-cmps-${f.path}`);
  }
  script.push('capture /tmp/cli-name-1048576.gz.out /tmp/hdr-all-1048576.gz.out');
  script.push('echo interop-done');
  const run = runZipUser({ files, script, ramSize: 512 * 1024 * 1024 });

  it('the host files are what they claim: gzip -c stores FNAME, gzip -n does not, and gzip -t accepts the hand-made headers', () => {
    const cli = made.find((f) => f.path === '/tmp/cli-name-4096.gz')!.bytes;
    expect(cli[3]! & FNAME).toBe(FNAME);
    expect(new TextDecoder().decode(cli.subarray(10, 10 + 'sample-file-4096.txt'.length))).toBe('sample-file-4096.txt');
    expect(made.find((f) => f.path === '/tmp/cli-n-4096.gz')!.bytes[3]).toBe(0);
    const all = made.find((f) => f.path === '/tmp/hdr-all-4096.gz')!.bytes;
    expect(all[3]).toBe(FHCRC | FEXTRA | FNAME | FCOMMENT);
    for (const f of made.filter((x) => x.path.includes('hdr-'))) {
      const back = execFileSync('gzip', ['-dc'], { input: f.bytes, maxBuffer: 64 * 1024 * 1024 });
      expect(eq(new Uint8Array(back), files[f.orig]!), f.path).toBe(true);
    }
  });

  it('every file decompresses on the device to the original, stateless and as a stream of 64 KiB steps (cmp in the guest)', () => {
    expect(run.out).toContain('interop-done');
    expect(run.out).not.toMatch(/FAIL|zipk:/);
    expect(run.code).toBe(0);
  });

  it('the device output of a named gzip(1) file and of a header with every optional field equals the original on the host too', () => {
    const orig = files['/tmp/o1048576']!;
    expect(eq(run.captured.get('/tmp/cli-name-1048576.gz.out')!, orig)).toBe(true);
    expect(eq(run.captured.get('/tmp/hdr-all-1048576.gz.out')!, orig)).toBe(true);
  });

  it('a gzip member with a bad CRC-32 or ISIZE, or a header cut inside FNAME, is refused (-EIO / -EINVAL), never inflated silently', () => {
    const data = sample(4096, 5);
    const good = gzipMember(data, { name: 'x' });
    const badCrc = good.slice();
    badCrc[badCrc.length - 8]! ^= 0xff;
    const badSize = good.slice();
    badSize[badSize.length - 1]! ^= 0x01;
    const cut = good.slice(0, 11); // "x" of FNAME without its terminating NUL
    const r = runZipUser({
      files: { '/tmp/crc.gz': badCrc, '/tmp/size.gz': badSize, '/tmp/cut.gz': cut },
      script: ['zipk -d -a gzip /tmp/crc.gz /tmp/crc.out; echo crc=$?', 'zipk -d -a gzip /tmp/size.gz /tmp/size.out; echo size=$?', 'zipk -d -a gzip /tmp/cut.gz /tmp/cut.out; echo cut=$?', 'echo bad-done'],
      ramSize: 256 * 1024 * 1024,
    });
    expect(r.out).toContain('bad-done');
    expect(r.out).toContain('crc=1');
    expect(r.out).toContain('size=1');
    expect(r.out).toContain('cut=1');
    expect(r.out).toMatch(/zipk: decompress at byte 0: (Input\/output error|EIO)/);
    expect(r.out).toMatch(/zipk: decompress at byte 0: (Invalid argument|EINVAL)/);
  }, 120_000);
});

describe('host -> device with 64 MiB files (stateful stream of 4 MiB steps)', () => {
  it('gzip(1) with FNAME, node:zlib deflate and deflateRaw of 64 MiB decompress on the device to the original', () => {
    const big = sample(64 * 1024 * 1024, 77);
    const dir = mkdtempSync(join(tmpdir(), 'svasoc-interop-'));
    let cli: Uint8Array;
    try {
      cli = gzipCli(dir, 'big-sample.dat', big, []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(cli[3]! & FNAME).toBe(FNAME);
    const files: Record<string, Uint8Array> = {
      '/tmp/big': big,
      '/tmp/big.gz': cli,
      '/tmp/big.zlib': new Uint8Array(deflateSync(big)),
      '/tmp/big.deflate': new Uint8Array(deflateRawSync(big)),
    };
    const script: string[] = [];
    for (const [f, alg] of [['/tmp/big.gz', 'gzip'], ['/tmp/big.zlib', 'zlib'], ['/tmp/big.deflate', 'deflate']] as const) {
      script.push(`zipk -d -a ${alg} -b 4096 ${f} /tmp/big.out || echo FAIL-d-${alg}`);
      script.push(`cmp /tmp/big /tmp/big.out || echo FAIL-cmp-${alg}`);
      script.push('rm /tmp/big.out');
    }
    script.push('echo big-done');
    const r = runZipUser({ files, script, ramSize: 1024 * 1024 * 1024, limitNs: 3600e9 });
    expect(r.out).toContain('big-done');
    expect(r.out).not.toMatch(/FAIL|zipk:/);
    expect(r.code).toBe(0);
  }, 600_000);
});
