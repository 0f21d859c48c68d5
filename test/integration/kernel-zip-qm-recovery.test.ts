// hisi_qm recovery paths with requests in flight (Linux qm.c): the AEQ's EQ-overflow
// event resets the function (qm_reset_function: hisi_qm_stop(QM_DOWN), start again,
// qps restarted), and the v2 stop loop (qm_drain_qp: dump SQC/CQC until the tails
// meet) either lets outstanding requests finish or, when the queue never drains,
// times out and ends them through qp_stop_fail_cb.
import { describe, expect, it } from 'vitest';
import { deflate, inflate } from 'pako';
import { bootZip, bytesEqual as eq, zipSample as sample } from './kernel-zip-harness.js';
import type { HisiZip } from '../../src/kernel/drivers/crypto/hisilicon/zip/zip-main.js';
import { thisCpu } from '../../src/arch/index.js';
import { msleep } from '../../src/kernel/time/sleep.js';
import { ktime_get } from '../../src/kernel/time/hrtimer.js';
import {
  AcompReq,
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
import { qm_bus, type DmaCoherent } from '../../src/kernel/drivers/crypto/hisilicon/qm-bus.js';
import { QP_START, QP_STOP, hisi_qm_controller_reset, hisi_qm_start_qp, hisi_qm_stop_qp, readl, type HisiQp } from '../../src/kernel/drivers/crypto/hisilicon/qm.js';
import { QM_DFX_MB_CNT } from '../../src/kernel/drivers/crypto/hisilicon/qm-regs.js';

/** One asynchronous compression: its buffers, request and the value crypto_acomp_compress returned. */
interface Flight {
  data: Uint8Array;
  src: DmaCoherent;
  dst: DmaCoherent;
  req: AcompReq;
  wait: CryptoWait;
  issued: number;
}

/** Issues `n` compressions of `size` bytes without waiting (each its own buffers). */
function launch(zip: HisiZip, tfm: CryptoAcomp, n: number, size: number, seed: number): Flight[] {
  const bus = qm_bus();
  const dev = zip.qm.pdev.dev;
  const out: Flight[] = [];
  for (let i = 0; i < n; i++) {
    const data = sample(size, seed + i);
    const src = bus.dma_alloc_coherent(dev, size)!;
    const dst = bus.dma_alloc_coherent(dev, size + 4096)!;
    thisCpu().writePhys(src.cpu, data);
    const req = acomp_request_alloc(tfm);
    const wait = new CryptoWait();
    acomp_request_set_callback(req, 0, crypto_req_done, wait);
    acomp_request_set_params(req, sg_init_one(src.cpu, size), sg_init_one(dst.cpu, size + 4096), size, size + 4096);
    out.push({ data, src, dst, req, wait, issued: crypto_acomp_compress(req) });
  }
  return out;
}

/** Waits for every flight: 'ok' when the output inflates to the input, else the errno; frees the buffers. */
function* land(zip: HisiZip, flights: Flight[]): Generator<unknown, string[], unknown> {
  const bus = qm_bus();
  const dev = zip.qm.pdev.dev;
  const res: string[] = [];
  for (const f of flights) {
    const r = yield* crypto_wait_req(f.issued, f.wait);
    if (r < 0) res.push(`${r}`);
    else {
      const z = new Uint8Array(f.req.dlen);
      thisCpu().readPhys(f.dst.cpu, z);
      res.push(eq(inflate(z), f.data) ? 'ok' : 'mismatch');
    }
    bus.dma_free_coherent(dev, f.src);
    bus.dma_free_coherent(dev, f.dst);
  }
  return res;
}

/** Compress then decompress 12 KiB through `tfm`: 'ok' or the first errno. */
function* roundTrip(zip: HisiZip, tfm: CryptoAcomp): Generator<unknown, string, unknown> {
  const [f] = launch(zip, tfm, 1, 12_288, 3);
  const r = yield* land(zip, [f!]);
  if (r[0] !== 'ok') return `compress ${r[0]}`;
  const bus = qm_bus();
  const dev = zip.qm.pdev.dev;
  const z = deflate(f!.data);
  const a = bus.dma_alloc_coherent(dev, z.length)!;
  const b = bus.dma_alloc_coherent(dev, 16_384)!;
  try {
    thisCpu().writePhys(a.cpu, z);
    const req = acomp_request_alloc(tfm);
    const w = new CryptoWait();
    acomp_request_set_callback(req, 0, crypto_req_done, w);
    acomp_request_set_params(req, sg_init_one(a.cpu, z.length), sg_init_one(b.cpu, 16_384), z.length, 16_384);
    const d = yield* crypto_wait_req(crypto_acomp_decompress(req), w);
    if (d < 0) return `decompress ${d}`;
    const back = new Uint8Array(req.dlen);
    thisCpu().readPhys(b.cpu, back);
    return eq(back, f!.data) ? 'ok' : 'decompress mismatch';
  } finally {
    bus.dma_free_coherent(dev, a);
    bus.dma_free_coherent(dev, b);
  }
}

/** Sleeps until virtual time `ns`. */
function* until(ns: number): Generator<unknown, void, unknown> {
  const ms = (ns - ktime_get()) / 1e6;
  if (ms > 0) yield* msleep(ms);
}

describe('EQ overflow -> AEQE type 1 -> qm_reset_function', () => {
  it('the driver resets the function (stop QM_DOWN, start, qps restarted): the request whose EQE was lost completes, and the same transform works afterwards', () => {
    const log: string[] = [];
    const INJECT = 1e9;
    const b = bootZip({
      setup: (m) => void m.clock.after(INJECT, 'inject eq-overflow', () => m.zip.inject({ kind: 'eq-overflow' })),
      scenario: function* (zip) {
        const tfm = (yield* crypto_alloc_acomp('zlib-deflate')) as CryptoAcomp;
        const started = zip.qm.qps.filter((q) => q.status === QP_START).map((q) => q.qp_id);
        yield* until(INJECT + 10e6);
        // Four compressions in flight: the first completion event hits the "full" EQ.
        log.push((yield* land(zip, launch(zip, tfm, 4, 64 * 1024, 11))).join(','));
        log.push(`qps=${JSON.stringify(zip.qm.qps.filter((q) => q.status === QP_START).map((q) => q.qp_id)) === JSON.stringify(started)} used=${zip.qm.qps.map((q) => q.used).reduce((a, c) => a + c, 0)}`);
        log.push(yield* roundTrip(zip, tfm));
        log.push(yield* roundTrip(zip, tfm));
        return 0;
      },
    });
    expect(b.code).toBe(0);
    const con = b.handle.console;
    expect(con).toContain('hisi_zip 0000:00:01.0: eq overflow, reset function');
    expect(con).toContain('hisi_zip 0000:00:01.0: function reset complete');
    expect(con.match(/eq overflow, reset function/g)?.length).toBe(1);
    expect(log).toEqual(['ok,ok,ok,ok', 'qps=true used=0', 'ok', 'ok']);
    // A function reset, not a controller reset: no FLR, no master shutdown.
    expect(b.stats.resets).toBe(0);
    expect(con).not.toContain('Controller resetting');
    expect(b.stats.mapped).toBe(0);
  }, 60_000);
});

/** The started compression qp with requests outstanding (the transform's qp_ctx[0]). */
function busyCompressQp(zip: HisiZip): HisiQp {
  const qps = zip.qm.qps.filter((q) => q.status === QP_START && q.alg_type === 0 && q.used > 0);
  expect(qps.length).toBe(1);
  return qps[0]!;
}

describe('hisi_qm_stop_qp with requests in flight (v2 drain loop)', () => {
  it('six 256 KiB compressions outstanding: the drain polls SQC/CQC until the engine has finished them, every request completes with its output, the stop returns 0 and the qp restarts', () => {
    const log: string[] = [];
    const b = bootZip({
      scenario: function* (zip) {
        const tfm = (yield* crypto_alloc_acomp('zlib-deflate')) as CryptoAcomp;
        const flights = launch(zip, tfm, 6, 256 * 1024, 40);
        const qp = busyCompressQp(zip);
        log.push(`issued=${flights.map((f) => f.issued).join(',')} used=${qp.used}`);
        const mb = readl(zip.qm, QM_DFX_MB_CNT);
        const t0 = ktime_get();
        const r = yield* hisi_qm_stop_qp(qp);
        const polls = (readl(zip.qm, QM_DFX_MB_CNT) - mb) / 2;
        log.push(`stop=${r} status=${qp.status === QP_STOP ? 'stop' : qp.status} used=${qp.used} polls>1=${polls > 1} waited>=150us=${ktime_get() - t0 >= 150e3}`);
        log.push((yield* land(zip, flights)).join(','));
        log.push(`start=${hisi_qm_start_qp(qp, 0) === qp.qp_id}`);
        log.push(yield* roundTrip(zip, tfm));
        return 0;
      },
    });
    expect(b.code).toBe(0);
    expect(log).toEqual(['issued=-115,-115,-115,-115,-115,-115 used=6', 'stop=0 status=stop used=0 polls>1=true waited>=150us=true', 'ok,ok,ok,ok,ok,ok', 'start=true', 'ok']);
    expect(b.handle.console).not.toContain('Fail to empty queue');
    expect(b.stats.mapped).toBe(0);
  }, 60_000);

  it('a queue that never drains (both compression cores stuck): after 1000 polls the stop gives up and returns, the outstanding requests are failed back with -EIO (qp_stop_fail_cb), and a controller reset brings the cores back', () => {
    const log: string[] = [];
    const INJECT = 1e9;
    const b = bootZip({
      setup: (m) =>
        void m.clock.after(INJECT, 'inject core-stuck', () => {
          m.zip.inject({ kind: 'core-stuck', core: 0 });
          m.zip.inject({ kind: 'core-stuck', core: 1 });
        }),
      scenario: function* (zip) {
        const tfm = (yield* crypto_alloc_acomp('zlib-deflate')) as CryptoAcomp;
        yield* until(INJECT + 10e6);
        const flights = launch(zip, tfm, 3, 8192, 50);
        const qp = busyCompressQp(zip);
        const mb = readl(zip.qm, QM_DFX_MB_CNT);
        const t0 = ktime_get();
        const r = yield* hisi_qm_stop_qp(qp);
        log.push(`stop=${r} used=${qp.used} polls=${(readl(zip.qm, QM_DFX_MB_CNT) - mb) / 2} waited>=150ms=${ktime_get() - t0 >= 150e6}`);
        log.push((yield* land(zip, flights)).join(','));
        log.push(`reset=${yield* hisi_qm_controller_reset(zip.qm)}`);
        log.push(`start=${hisi_qm_start_qp(qp, 0) === qp.qp_id}`);
        log.push(yield* roundTrip(zip, tfm));
        const fresh = (yield* crypto_alloc_acomp('zlib-deflate')) as CryptoAcomp;
        log.push(yield* roundTrip(zip, fresh));
        return 0;
      },
    });
    expect(b.code).toBe(0);
    expect(log).toEqual(['stop=0 used=0 polls=1000 waited>=150ms=true', '-5,-5,-5', 'reset=0', 'start=true', 'ok', 'ok']);
    const con = b.handle.console;
    expect(con).toMatch(/hisi_zip 0000:00:01\.0: Fail to empty queue \d+!/);
    expect(con).toContain('hisi_zip 0000:00:01.0: Failed to drain out data for stopping!');
    expect(con.match(/compress fail in qp\d+: 255/g)?.length).toBe(3);
    expect(con).toContain('Controller reset complete');
    expect(b.stats.resets).toBe(1);
    expect(b.stats.mapped).toBe(0);
  }, 120_000);
});
