// The acomp API (crypto/acompress.c in shape) without a device: algorithm lookup by
// cra_name (highest priority) or driver name, request plumbing, completion waiting,
// statistics. Generators are driven by hand (nothing here sleeps).
import { describe, expect, it } from 'vitest';
import {
  CryptoWait,
  acomp_request_alloc,
  acomp_request_complete,
  acomp_request_set_callback,
  acomp_request_set_params,
  crypto_acomp_algs,
  crypto_acomp_compress,
  crypto_acomp_stats,
  crypto_alloc_acomp,
  crypto_has_acomp,
  crypto_register_acomp,
  crypto_req_done,
  crypto_unregister_acomp,
  crypto_wait_req,
  type AcompAlg,
  type AcompReq,
  type CryptoAcomp,
} from '../../src/kernel/crypto/acompress.js';
import { sg_init_table, sg_pcopy_from_buffer, sg_pcopy_to_buffer, sg_total_len } from '../../src/kernel/crypto/scatterlist.js';

function run<T>(g: Generator<unknown, T, unknown>): T {
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
  }
}

function fakeAlg(name: string, driver: string, priority: number, result: (req: AcompReq) => number): AcompAlg {
  return {
    cra_name: name,
    cra_driver_name: driver,
    cra_priority: priority,
    *init(tfm) {
      tfm.ctx = driver;
      return 0;
    },
    *exit() {},
    compress: result,
    decompress: result,
  };
}

describe('acomp API', () => {
  it('crypto_alloc_acomp picks the highest-priority implementation of a cra_name, or exactly the named driver', () => {
    const lo = fakeAlg('zlib-deflate', 'soft-zlib', 100, () => 0);
    const hi = fakeAlg('zlib-deflate', 'hw-zlib', 300, () => 0);
    expect(crypto_register_acomp(lo)).toBe(0);
    expect(crypto_register_acomp(hi)).toBe(0);
    expect(crypto_register_acomp(hi)).toBe(-17);
    try {
      expect((run(crypto_alloc_acomp('zlib-deflate')) as CryptoAcomp).ctx).toBe('hw-zlib');
      expect((run(crypto_alloc_acomp('soft-zlib')) as CryptoAcomp).ctx).toBe('soft-zlib');
      expect(run(crypto_alloc_acomp('lz4'))).toBe(-2);
      expect(crypto_has_acomp('zlib-deflate')).toBe(true);
    } finally {
      crypto_unregister_acomp(lo);
      crypto_unregister_acomp(hi);
    }
    expect(crypto_acomp_algs().includes(hi)).toBe(false);
  });

  it('a synchronous result passes through crypto_wait_req; an asynchronous one arrives through crypto_req_done', () => {
    let pending: AcompReq | undefined;
    const alg = fakeAlg('gzip', 'async-gzip', 10, (req) => {
      pending = req;
      return -115; // -EINPROGRESS
    });
    crypto_register_acomp(alg);
    try {
      const tfm = run(crypto_alloc_acomp('gzip')) as CryptoAcomp;
      const req = acomp_request_alloc(tfm);
      const wait = new CryptoWait();
      acomp_request_set_callback(req, 0, crypto_req_done, wait);
      acomp_request_set_params(req, [], [], 5, 64);
      const rc = crypto_acomp_compress(req);
      expect(rc).toBe(-115);
      acomp_request_complete(pending!, -5);
      expect(wait.completion.done).toBe(1);
      expect(run(crypto_wait_req(rc, wait))).toBe(-5);
      expect(run(crypto_wait_req(0, new CryptoWait()))).toBe(0);
      expect(run(crypto_wait_req(-16, new CryptoWait()))).toBe(-16);
      expect(crypto_acomp_stats(alg)).toEqual({ compress: 1, decompress: 0, errors: 1 });
    } finally {
      crypto_unregister_acomp(alg);
    }
  });
});

describe('scatterlists', () => {
  it('copies to and from a multi-segment list honour the skip offset across segment boundaries', () => {
    const mem = new Uint8Array(64);
    const read = (pa: number, dst: Uint8Array, off: number, len: number) => dst.set(mem.subarray(pa, pa + len), off);
    const write = (pa: number, src: Uint8Array, off: number, len: number) => mem.set(src.subarray(off, off + len), pa);
    const sgl = sg_init_table([
      { pa: 0, len: 4 },
      { pa: 16, len: 4 },
      { pa: 32, len: 8 },
    ]);
    expect(sg_total_len(sgl)).toBe(16);
    expect(sg_pcopy_from_buffer(write, sgl, new Uint8Array([1, 2, 3, 4, 5, 6]), 2)).toBe(6);
    expect([...mem.subarray(0, 4)]).toEqual([0, 0, 1, 2]);
    expect([...mem.subarray(16, 20)]).toEqual([3, 4, 5, 6]);
    const back = new Uint8Array(5);
    expect(sg_pcopy_to_buffer(read, sgl, back, 3)).toBe(5);
    expect([...back]).toEqual([2, 3, 4, 5, 6]);
  });
});
