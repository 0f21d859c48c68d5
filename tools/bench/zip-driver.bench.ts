// ZIP guest path: host throughput of a compression request through the whole stack
// (acomp API, hisi_zip request table and SGL pool, dma_map through the IOMMU DMA
// domain, hisi_qm SQ/doorbell, the model's rings, every DMA translated by the SMMU
// (stage-1 walks, IOTLB), the engine, the MSI through the ITS doorbell's SW_MSI
// mapping, the IRQ, the completion work, the callback and the waiting task), on the
// booted board with the default (translated) DMA domain, against raw pako on the
// same data in the same run. Also the virtual-time throughput of the device as seen
// by the driver for the same requests, and the host cost of translation (the same
// 64 KiB request with iommu.passthrough=1).
//
// The engine stands in for hardware with pako at ENGINE_DEFLATE_LEVEL, so the
// reference is pako at that level (compression) and pako.inflate of the device's
// own output (decompression). Guest and pako requests alternate one by one (the host
// is shared), and the median round is reported.

import * as pako from 'pako';
import { figure, type BenchFigure } from './figure.js';
import { ENGINE_DEFLATE_LEVEL } from '../../src/hw/zip/codec.js';
import { sampleData } from '../../test/conformance/zip-rig.js';
import { bootZip, type IommuMode } from '../../test/integration/kernel-zip-harness.js';
import { thisCpu } from '../../src/arch/index.js';
import { qm_bus } from '../../src/kernel/drivers/crypto/hisilicon/qm-bus.js';
import {
  CryptoWait,
  acomp_request_alloc,
  acomp_request_set_callback,
  acomp_request_set_params,
  crypto_acomp_compress,
  crypto_acomp_decompress,
  crypto_alloc_acomp,
  crypto_req_done,
  crypto_wait_req,
  type CryptoAcomp,
} from '../../src/kernel/crypto/acompress.js';
import { sg_init_one } from '../../src/kernel/crypto/scatterlist.js';

const KiB = 1024;
const MiB = 1 << 20;

interface Sample {
  guestNs: number;
  pakoNs: number;
}

interface SizeResult {
  comp: Sample;
  decomp: Sample;
  virtCompNs: number;
  virtDecompNs: number;
  ratio: number;
}

function median(samples: Sample[]): Sample {
  const s = [...samples].sort((a, b) => a.pakoNs / a.guestNs - b.pakoNs / b.guestNs);
  return s[s.length >> 1]!;
}

function measure(size: number, iters: number, rounds: number, iommu: IommuMode = 'translated'): SizeResult {
  const data = sampleData(size, 5);
  let result: SizeResult | undefined;
  let failure = '';
  const b = bootZip({
    iommu,
    ramSize: 512 * MiB,
    limitNs: 36000e9,
    scenario: function* (zip) {
      const bus = qm_bus();
      const dev = zip.qm.pdev.dev;
      const src = bus.dma_alloc_coherent(dev, size)!;
      const mid = bus.dma_alloc_coherent(dev, size * 2 + 4096)!;
      const out = bus.dma_alloc_coherent(dev, size + 4096)!;
      thisCpu().writePhys(src.cpu, data);
      const tfm = (yield* crypto_alloc_acomp('zlib-deflate')) as CryptoAcomp;
      const req = acomp_request_alloc(tfm);
      const wait = new CryptoWait();
      let clen = 0;
      const compressOnce = function* (): Generator<unknown, void, unknown> {
        wait.completion.done = 0;
        acomp_request_set_callback(req, 0, crypto_req_done, wait);
        acomp_request_set_params(req, sg_init_one(src.cpu, size), sg_init_one(mid.cpu, size * 2 + 4096), size, size * 2 + 4096);
        const r = yield* crypto_wait_req(crypto_acomp_compress(req), wait);
        if (r < 0) failure = `compress ${r}`;
        clen = req.dlen;
      };
      const decompressOnce = function* (): Generator<unknown, void, unknown> {
        wait.completion.done = 0;
        acomp_request_set_callback(req, 0, crypto_req_done, wait);
        acomp_request_set_params(req, sg_init_one(mid.cpu, clen), sg_init_one(out.cpu, size + 4096), clen, size + 4096);
        const r = yield* crypto_wait_req(crypto_acomp_decompress(req), wait);
        if (r < 0 || req.dlen !== size) failure = `decompress ${r} ${req.dlen}`;
      };
      yield* compressOnce();
      const z = new Uint8Array(clen);
      thisCpu().readPhys(mid.cpu, z);
      yield* decompressOnce();
      const comp: Sample[] = [];
      const decomp: Sample[] = [];
      let virtComp = 0;
      let virtDecomp = 0;
      // Guest and pako requests interleave one by one, so a change in host load hits
      // both sides of a ratio alike; each round gives one sample per side.
      for (let r = 0; r < rounds && failure === ''; r++) {
        let guest = 0;
        let ref = 0;
        let virt = 0;
        for (let i = 0; i < iters; i++) {
          const v0 = thisCpu().now();
          const t0 = process.hrtime.bigint();
          yield* compressOnce();
          const t1 = process.hrtime.bigint();
          virt += thisCpu().now() - v0;
          pako.deflate(data, { level: ENGINE_DEFLATE_LEVEL });
          const t2 = process.hrtime.bigint();
          guest += Number(t1 - t0);
          ref += Number(t2 - t1);
        }
        comp.push({ guestNs: guest / iters, pakoNs: ref / iters });
        virtComp += virt / iters;
        guest = 0;
        ref = 0;
        virt = 0;
        for (let i = 0; i < iters; i++) {
          const v0 = thisCpu().now();
          const t0 = process.hrtime.bigint();
          yield* decompressOnce();
          const t1 = process.hrtime.bigint();
          virt += thisCpu().now() - v0;
          pako.inflate(z);
          const t2 = process.hrtime.bigint();
          guest += Number(t1 - t0);
          ref += Number(t2 - t1);
        }
        decomp.push({ guestNs: guest / iters, pakoNs: ref / iters });
        virtDecomp += virt / iters;
      }
      result = { comp: median(comp), decomp: median(decomp), virtCompNs: virtComp / rounds, virtDecompNs: virtDecomp / rounds, ratio: clen / size };
      return 0;
    },
  });
  if (result === undefined || failure !== '' || b.code !== 0) throw new Error(`zip-driver bench: ${failure || `guest exited with ${b.code}`}`);
  return result;
}

/**
 * Virtual-time throughput through the driver with `depth` requests of 8 KiB kept in
 * flight (each completion callback submits the next), per queue depth.
 */
function queueDepthCurve(depths: readonly number[], total: number): Map<number, number> {
  const size = 8 * KiB;
  const data = sampleData(size, 9);
  const out = new Map<number, number>();
  let failure = '';
  bootZip({
    limitNs: 36000e9,
    scenario: function* (zip) {
      const bus = qm_bus();
      const dev = zip.qm.pdev.dev;
      const tfm = (yield* crypto_alloc_acomp('zlib-deflate')) as CryptoAcomp;
      for (const depth of depths) {
        const bufs = Array.from({ length: depth }, () => ({ src: bus.dma_alloc_coherent(dev, size)!, dst: bus.dma_alloc_coherent(dev, 2 * size)! }));
        for (const b of bufs) thisCpu().writePhys(b.src.cpu, data);
        const done = new CryptoWait();
        let submitted = 0;
        let completed = 0;
        const submit = (i: number): void => {
          const b = bufs[i]!;
          const req = acomp_request_alloc(tfm);
          acomp_request_set_callback(req, 0, (_r, err) => {
            if (err < 0) failure = `qd${depth}: ${err}`;
            completed++;
            if (submitted < total) submit(i);
            else if (completed === total) crypto_req_done(req, 0);
          }, done);
          acomp_request_set_params(req, sg_init_one(b.src.cpu, size), sg_init_one(b.dst.cpu, 2 * size), size, 2 * size);
          submitted++;
          const r = crypto_acomp_compress(req);
          if (r !== -115) failure = `qd${depth}: submit ${r}`;
        };
        const v0 = thisCpu().now();
        for (let i = 0; i < depth; i++) submit(i);
        yield* crypto_wait_req(-115, done);
        out.set(depth, (total * size) / (thisCpu().now() - v0));
        for (const b of bufs) {
          bus.dma_free_coherent(dev, b.src);
          bus.dma_free_coherent(dev, b.dst);
        }
      }
      return 0;
    },
  });
  if (failure !== '' || out.size !== depths.length) throw new Error(`zip-driver bench: queue-depth curve: ${failure || 'incomplete'}`);
  return out;
}

export async function bench(): Promise<BenchFigure[]> {
  const figs: BenchFigure[] = [];
  for (const [qd, bytesPerNs] of queueDepthCurve([1, 2, 4, 8, 16, 32, 64], 512)) {
    figs.push(figure(`zip_driver.virtual_compress_8k_qd${qd}`, bytesPerNs, 'GB/s', undefined, 'virtual time through acomp, rings, engine and completion work'));
  }
  for (const [size, label, iters, rounds] of [
    [64 * KiB, '64k', 40, 7],
    [1 * MiB, '1m', 4, 7],
  ] as const) {
    const r = measure(size, iters, rounds);
    const note = `guest ${(r.comp.guestNs / 1e3).toFixed(0)} us vs pako ${(r.comp.pakoNs / 1e3).toFixed(0)} us per request; ratio ${(r.ratio * 100).toFixed(1)} %`;
    figs.push(figure(`zip_driver.host_compress_${label}_vs_pako`, r.comp.pakoNs / r.comp.guestNs, 'x', { min: 0.9 }, note));
    figs.push(
      figure(`zip_driver.host_decompress_${label}_vs_pako`, r.decomp.pakoNs / r.decomp.guestNs, 'x', { min: 0.8 }, `guest ${(r.decomp.guestNs / 1e3).toFixed(0)} us vs pako ${(r.decomp.pakoNs / 1e3).toFixed(0)} us per request`),
    );
    figs.push(figure(`zip_driver.virtual_compress_${label}`, (size / r.virtCompNs) * 1e9 / MiB, 'MiB/s', undefined, 'one request in flight, acomp call to callback, virtual time'));
    figs.push(figure(`zip_driver.virtual_decompress_${label}`, (size / r.virtDecompNs) * 1e9 / MiB, 'MiB/s', undefined, 'one request in flight, virtual time'));
  }
  // What translation costs the host: the same 64 KiB requests in both modes, boots
  // alternating (the host is shared); the median of the per-pair ratios.
  const pairs: { tr: number; pt: number }[] = [];
  for (let i = 0; i < 5; i++) {
    const pt = measure(64 * KiB, 20, 3, 'passthrough').comp.guestNs;
    const tr = measure(64 * KiB, 20, 3, 'translated').comp.guestNs;
    pairs.push({ tr, pt });
  }
  pairs.sort((a, b) => a.tr / a.pt - b.tr / b.pt);
  const mid = pairs[pairs.length >> 1]!;
  figs.push(
    figure(
      'zip_driver.host_compress_64k_translated_vs_passthrough',
      mid.tr / mid.pt,
      'x',
      undefined,
      `translated ${(mid.tr / 1e3).toFixed(0)} us vs passthrough ${(mid.pt / 1e3).toFixed(0)} us per request (host time, median of 5 alternating pairs)`,
    ),
  );
  return figs;
}
