// UADK's test/sanity_test.sh scaled down, on the booted board: uadk_tool compresses
// with the ZIP engine through /dev/hisi_zip-0 (uacce, SVA) and software (pako, the
// guest's gunzip) decompresses; software compresses and uadk_tool decompresses. zlib
// and gzip, block (one stateless request) and stream (stateful pieces), text and
// random data, sizes 0, 1, 4 KiB and 200 KiB.

import { beforeAll, describe, expect, it } from 'vitest';
import { deflate, gzip, inflate, ungzip } from 'pako';
import { bootUadk, bytesEqual, sample, type UadkRun } from './user-uadk-harness.js';

/** pako's gzip member with FEXTRA, FNAME and FCOMMENT added to its header (as `gzip FILE` and other tools write them). */
function withOptionalFields(member: Uint8Array): Uint8Array {
  const name = new TextEncoder().encode('data.txt\0');
  const comment = new TextEncoder().encode('svasoc\0');
  const extra = new Uint8Array([4, 0, 0x53, 0x56, 2, 0]);
  const head = new Uint8Array(member.subarray(0, 10));
  head[3] = 0x04 | 0x08 | 0x10;
  const out = new Uint8Array(10 + extra.length + name.length + comment.length + member.length - 10);
  let o = 0;
  for (const part of [head, extra, name, comment, member.subarray(10)]) {
    out.set(part, o);
    o += part.length;
  }
  return out;
}

const ALGS = [
  { n: 1, name: 'zlib', sw: (d: Uint8Array) => deflate(d), unsw: (d: Uint8Array) => inflate(d) },
  { n: 2, name: 'gzip', sw: (d: Uint8Array) => withOptionalFields(gzip(d)), unsw: (d: Uint8Array) => ungzip(d) },
] as const;
const MODES = [
  { name: 'block', flag: '' },
  { name: 'stream', flag: ' --stream --blksize 65536' },
] as const;
const KINDS = ['text', 'random'] as const;
const SIZES = [0, 1, 4096, 200 * 1024];

interface Case {
  alg: (typeof ALGS)[number];
  mode: (typeof MODES)[number];
  kind: (typeof KINDS)[number];
  size: number;
  data: Uint8Array;
}

const cases: Case[] = [];
for (const alg of ALGS)
  for (const mode of MODES)
    for (const kind of KINDS)
      for (const size of SIZES) cases.push({ alg, mode, kind, size, data: sample(kind, size, 0x1000 + size + (kind === 'text' ? 1 : 2)) });

const tag = (k: Case): string => `${k.alg.name}-${k.mode.name}-${k.kind}-${k.size}`;

describe('uadk_tool sanity matrix (HW <-> software, zlib/gzip, block/stream)', () => {
  let run: UadkRun;
  beforeAll(() => {
    const files: Record<string, Uint8Array> = {};
    const script: string[] = [];
    const outs: string[] = [];
    for (const k of cases) {
      files[`/data/${k.kind}-${k.size}`] = k.data;
      files[`/data/sw-${k.alg.name}-${k.kind}-${k.size}`] = k.alg.sw(k.data);
      script.push(`uadk_tool test --m zip --alg ${k.alg.n}${k.mode.flag} --in /data/${k.kind}-${k.size} --out /tmp/hw-${tag(k)} > /dev/null || echo "FAIL compress ${tag(k)}"`);
      script.push(`uadk_tool test --m zip --alg ${k.alg.n}${k.mode.flag} --inf --in /data/sw-${k.alg.name}-${k.kind}-${k.size} --out /tmp/sw-${tag(k)} > /dev/null || echo "FAIL decompress ${tag(k)}"`);
      outs.push(`/tmp/hw-${tag(k)}`, `/tmp/sw-${tag(k)}`);
    }
    // the guest's own gunzip reads the engine's gzip, and the engine reads its own output back
    script.push('gunzip -c /tmp/hw-gzip-block-text-204800 > /tmp/g.out && cmp /data/text-204800 /tmp/g.out && echo gunzip-ok');
    script.push('uadk_tool test --m zip --alg 1 --inf --in /tmp/hw-zlib-stream-random-204800 --out /tmp/hwhw > /dev/null && cmp /data/random-204800 /tmp/hwhw && echo hw-hw-ok');
    for (let i = 0; i < outs.length; i += 16) script.push(`grab ${outs.slice(i, i + 16).join(' ')}`);
    script.push('exit 0');
    run = bootUadk({ script, files });
  }, 600_000);

  it('every uadk_tool run exits 0 and the script powers off with 0', () => {
    expect(run.out).not.toContain('FAIL');
    expect(run.code).toBe(0);
  });

  it('engine output (compress) inflates in software to the input, every alg x mode x data x size', () => {
    const bad: string[] = [];
    for (const k of cases) {
      const z = run.files.get(`/tmp/hw-${tag(k)}`);
      let back: Uint8Array | undefined;
      try {
        back = z === undefined ? undefined : k.alg.unsw(z);
      } catch {
        back = undefined;
      }
      if (!bytesEqual(back, k.data)) bad.push(tag(k));
    }
    expect(bad).toEqual([]);
    expect(run.files.size).toBe(cases.length * 2);
  });

  it('software output (pako; gzip headers with FEXTRA, FNAME, FCOMMENT) decompresses on the engine to the input, every case', () => {
    const bad = cases.filter((k) => !bytesEqual(run.files.get(`/tmp/sw-${tag(k)}`), k.data)).map(tag);
    expect(bad).toEqual([]);
  });

  it('text compresses (the engine really deflates) and random data stays about its size', () => {
    const t = run.files.get('/tmp/hw-zlib-block-text-204800')!;
    const r = run.files.get('/tmp/hw-zlib-block-random-204800')!;
    expect(t.length).toBeLessThan(204800 / 3);
    expect(r.length).toBeGreaterThan(204800);
    expect(r.length).toBeLessThan(204800 + 204800 / 64);
    // an empty input is a complete stream: header, an empty final block, the trailer
    expect([...run.files.get('/tmp/hw-zlib-block-text-0')!]).toEqual([0x78, 0x9c, 0x01, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01]);
  });

  it("the guest's gunzip reads the engine's gzip, and the engine inflates its own zlib stream", () => {
    expect(run.out).toContain('gunzip-ok');
    expect(run.out).toContain('hw-hw-ok');
  });
});
