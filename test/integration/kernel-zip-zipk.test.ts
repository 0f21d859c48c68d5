// zipk round trips through /dev/hisi_zip_k on the booted board: files of 0 B, 1 B,
// 4 KiB, 1 MiB and 64 MiB in zlib, gzip and raw deflate. What the device compresses
// must decompress with pako, node:zlib and the host's gzip -d; what pako compresses
// the device must decompress.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { gunzipSync, inflateRawSync, inflateSync } from 'node:zlib';
import { deflate, deflateRaw, gzip, inflate, inflateRaw, ungzip } from 'pako';
import { bytesEqual as eq, runZipUser, zipSample as sample, ZIP_SID } from './kernel-zip-harness.js';

const FORMATS = ['zlib', 'gzip', 'deflate'] as const;
const ref = {
  zlib: { compress: (d: Uint8Array) => deflate(d), decompress: (d: Uint8Array) => inflate(d), node: (d: Uint8Array) => new Uint8Array(inflateSync(d)) },
  gzip: { compress: (d: Uint8Array) => gzip(d), decompress: (d: Uint8Array) => ungzip(d), node: (d: Uint8Array) => new Uint8Array(gunzipSync(d)) },
  deflate: { compress: (d: Uint8Array) => deflateRaw(d), decompress: (d: Uint8Array) => inflateRaw(d), node: (d: Uint8Array) => new Uint8Array(inflateRawSync(d)) },
};

describe('zipk through hisi_zip (acomp + stream path, real PCI/ITS/DMA binding)', () => {
  const sizes = [0, 1, 4096, 1024 * 1024];
  const files: Record<string, Uint8Array> = {};
  sizes.forEach((n, i) => (files[`/tmp/f${n}`] = sample(n, 17 + i)));
  for (const f of FORMATS) for (const n of sizes) if (n > 0) files[`/tmp/f${n}.sw.${f}`] = ref[f].compress(files[`/tmp/f${n}`]!);
  const script: string[] = [];
  for (const f of FORMATS)
    for (const n of sizes) {
      script.push(`zipk -a ${f} /tmp/f${n} /tmp/f${n}.${f} || echo FAIL-c-${f}-${n}`);
      script.push(`zipk -d -a ${f} /tmp/f${n}.${f} /tmp/f${n}.${f}.out || echo FAIL-d-${f}-${n}`);
      script.push(`cmp /tmp/f${n} /tmp/f${n}.${f}.out || echo FAIL-cmp-${f}-${n}`);
      if (n > 0) {
        script.push(`zipk -d -a ${f} -b 256 /tmp/f${n}.sw.${f} /tmp/f${n}.sw.out || echo FAIL-dsw-${f}-${n}`);
        script.push(`cmp /tmp/f${n} /tmp/f${n}.sw.out || echo FAIL-cmpsw-${f}-${n}`);
      }
      script.push(`capture /tmp/f${n}.${f}`);
    }
  script.push('echo zipk-done');
  const run = runZipUser({ files, script, ramSize: 512 * 1024 * 1024, countTranslation: true });

  it('every zipk command succeeds and every device round trip is byte-identical (cmp in the guest)', () => {
    expect(run.out).toContain('zipk-done');
    expect(run.out).not.toMatch(/FAIL|zipk:/);
    expect(run.code).toBe(0);
  });

  for (const f of FORMATS)
    it(`${f}: device output decompresses with pako and node:zlib to the original, for 0 B, 1 B, 4 KiB and 1 MiB`, () => {
      for (const n of sizes) {
        const out = run.captured.get(`/tmp/f${n}.${f}`);
        expect(out, `${f} ${n}`).toBeDefined();
        expect(eq(ref[f].decompress(out!), files[`/tmp/f${n}`]!), `pako ${f} ${n}`).toBe(true);
        expect(eq(ref[f].node(out!), files[`/tmp/f${n}`]!), `node ${f} ${n}`).toBe(true);
      }
    });

  it('gzip: device output passes the host gzip -d (integrity check and content)', () => {
    for (const n of sizes) {
      const out = run.captured.get(`/tmp/f${n}.gzip`)!;
      const back = execFileSync('gzip', ['-dc'], { input: out, maxBuffer: 256 * 1024 * 1024 });
      expect(eq(new Uint8Array(back), files[`/tmp/f${n}`]!), `gzip -d ${n}`).toBe(true);
    }
  });

  it('a 1 MiB file compresses (text-like data shrinks) and the zlib stream starts with the driver header 78 9c', () => {
    const z = run.captured.get('/tmp/f1048576.zlib')!;
    expect(z.length).toBeLessThan(1024 * 1024 * 0.7);
    expect([z[0], z[1]]).toEqual([0x78, 0x9c]);
    const g = run.captured.get('/tmp/f1048576.gzip')!;
    expect([...g.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
  });

  it('IHI 0070 3.2: the SMMU translates every DMA of the ZIP PF (StreamID 0x8) in a DMA domain: IOTLB hits, misses and stage-1 walks while zipk runs, no fault, no F_TRANSLATION', () => {
    expect(run.console).toContain('iommu: Default domain type: Translated');
    const t = run.translation!;
    expect(ZIP_SID).toBe(0x8);
    expect(t.iotlbMiss).toBeGreaterThan(0);
    expect(t.walks).toBeGreaterThanOrEqual(t.iotlbMiss);
    // Every freshly mapped data page misses once (strict mode invalidates on unmap, and
    // the IOVAs are recycled); the rings, SQEs and SGLs of later requests hit.
    expect(t.iotlbHit).toBeGreaterThan(0);
    // 1 MiB in and out per format, 4 KiB pages: at least 256 distinct pages each way
    expect(t.iotlbMiss).toBeGreaterThan(3 * 2 * 256);
    expect(t.faults).toBe(0);
    expect(t.fTranslation).toBe(0);
  });

  it('no coherent DMA memory or mapping leaked beyond the driver\'s own rings and tables', () => {
    // 64 qps + the context tables stay allocated while bound; every request buffer was returned.
    expect(run.stats.coherentLive).toBe(65);
    expect(run.stats.mapped).toBe(0);
  });
});

describe('zipk with a 64 MiB file (stateful stream of 4 MiB chunks, many BDs)', () => {
  it('zlib, gzip and deflate of 64 MiB round-trip in the guest and decompress with pako and gzip -d on the host', () => {
    const big = sample(64 * 1024 * 1024, 99);
    const script: string[] = [];
    for (const f of FORMATS) {
      script.push(`zipk -a ${f} -b 4096 /tmp/big /tmp/big.${f} || echo FAIL-c-${f}`);
      script.push(`zipk -d -a ${f} -b 4096 /tmp/big.${f} /tmp/big.out || echo FAIL-d-${f}`);
      script.push(`cmp /tmp/big /tmp/big.out || echo FAIL-cmp-${f}`);
      script.push(`capture /tmp/big.${f}`);
      script.push('rm /tmp/big.out');
    }
    script.push('echo big-done');
    const r = runZipUser({ files: { '/tmp/big': big }, script, ramSize: 1024 * 1024 * 1024, limitNs: 3600e9 });
    expect(r.out).toContain('big-done');
    expect(r.out).not.toMatch(/FAIL|zipk:/);
    expect(eq(inflate(r.captured.get('/tmp/big.zlib')!), big)).toBe(true);
    expect(eq(inflateRaw(r.captured.get('/tmp/big.deflate')!), big)).toBe(true);
    const back = execFileSync('gzip', ['-dc'], { input: r.captured.get('/tmp/big.gzip')!, maxBuffer: 256 * 1024 * 1024 });
    expect(eq(new Uint8Array(back), big)).toBe(true);
  }, 600_000);
});

describe('zipk with iommu.passthrough=1 (identity default domain: the STE bypasses, no translation)', () => {
  it('4 KiB round trips in zlib, gzip and deflate succeed, and the SMMU neither walks nor looks up its IOTLB for the ZIP PF', () => {
    const data = sample(4096, 7);
    const script: string[] = [];
    for (const f of FORMATS) {
      script.push(`zipk -a ${f} /tmp/p /tmp/p.${f} || echo FAIL-c-${f}`);
      script.push(`zipk -d -a ${f} /tmp/p.${f} /tmp/p.${f}.out || echo FAIL-d-${f}`);
      script.push(`cmp /tmp/p /tmp/p.${f}.out || echo FAIL-cmp-${f}`);
      script.push(`capture /tmp/p.${f}`);
    }
    script.push('echo pt-done');
    const r = runZipUser({ files: { '/tmp/p': data }, script, ramSize: 256 * 1024 * 1024, iommu: 'passthrough', countTranslation: true });
    expect(r.console).toContain('iommu: Default domain type: Passthrough');
    expect(r.out).toContain('pt-done');
    expect(r.out).not.toMatch(/FAIL|zipk:/);
    for (const f of FORMATS) expect(eq(ref[f].decompress(r.captured.get(`/tmp/p.${f}`)!), data), f).toBe(true);
    expect(r.translation).toEqual({ iotlbHit: 0, iotlbMiss: 0, walks: 0, faults: 0, fTranslation: 0 });
  }, 120_000);
});
