// ZIP engine behaviour as the Linux hisi_zip driver and UADK (drv/hisi_comp.c) rely
// on it: raw DEFLATE / zlib / gzip without headers, trailers on FINISH, the status
// codes, stateful streams, hardware SGLs, PASID on data transfers, SMMU stalls.
import { describe, it, expect } from 'vitest';
import * as zlib from 'node:zlib';
import * as pako from 'pako';
import { ZipRig, QM, CORE_INT, makeSqe, REQ, STATUS, sampleData, prng, type QueueInfo, type SqeFields, type SqeResult } from './zip-rig.js';
import { DmaStatus, type DmaAttrs, type DmaPort, type Iommu, type IommuResult } from '../../src/hw/bus/dma.js';


/** node:zlib returns Buffers; the model and pako speak plain Uint8Array. */
function u8(b: { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
const deflateRawSync = (d: Uint8Array, o?: zlib.ZlibOptions) => u8(zlib.deflateRawSync(d, o));
const deflateSync = (d: Uint8Array) => u8(zlib.deflateSync(d));
const gzipSync = (d: Uint8Array) => u8(zlib.gzipSync(d));
const gunzipSync = (d: Uint8Array) => u8(zlib.gunzipSync(d));
const inflateRawSync = (d: Uint8Array) => u8(zlib.inflateRawSync(d));
const inflateSync = (d: Uint8Array) => u8(zlib.inflateSync(d));

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const ZLIB_HEADER = new Uint8Array([0x78, 0x9c]);
const GZIP_HEADER = new Uint8Array([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03]);
const CTX_BYTES = 0x10000;

function one(rig: ZipRig, q: QueueInfo, f: SqeFields): SqeResult {
  const [slot] = rig.submit(q, makeSqe(f));
  rig.run();
  const done = rig.reap(q);
  expect(done).toEqual([slot]);
  return rig.result(q, slot!);
}

function setup() {
  const rig = new ZipRig().startQm();
  const comp = rig.startQueue(0, 0, { depth: 64 });
  const decomp = rig.startQueue(1, 1, { depth: 64 });
  return { rig, comp, decomp };
}

/** Stateless compression the way UADK fill_buf_zlib/gzip does it: SW header, HW body + trailer. */
function compress(rig: ZipRig, q: QueueInfo, data: Uint8Array, reqType: number, extra: Partial<SqeFields> = {}): { out: Uint8Array; r: SqeResult } {
  const header = reqType === REQ.ZLIB ? ZLIB_HEADER : reqType === REQ.GZIP ? GZIP_HEADER : new Uint8Array(0);
  const cap = data.length + 1024;
  const dst = rig.alloc(cap + header.length);
  rig.bus.writeBytes(dst, header);
  const r = one(rig, q, { reqType, src: rig.put(data), dst: dst + header.length, inLen: data.length, availOut: cap, ...extra });
  return { out: rig.bus.readBytes(dst, header.length + r.produced), r };
}

function decompress(rig: ZipRig, q: QueueInfo, packed: Uint8Array, reqType: number, outCap: number, extra: Partial<SqeFields> = {}): { out: Uint8Array; r: SqeResult } {
  const skip = reqType === REQ.ZLIB ? 2 : reqType === REQ.GZIP ? 10 : 0;
  const dst = rig.alloc(Math.max(outCap, 1));
  const r = one(rig, q, { reqType, src: rig.put(packed) + skip, dst, inLen: packed.length - skip, availOut: outCap, ...extra });
  return { out: rig.bus.readBytes(dst, r.produced), r };
}

describe('ZIP compression cross-checks', () => {
  const data = sampleData(100_000, 7);

  it('raw deflate output inflates with node:zlib and pako', () => {
    const { rig, comp } = setup();
    const { out, r } = compress(rig, comp, data, REQ.DEFLATE);
    expect(r.status).toBe(STATUS.OK);
    expect(r.consumed).toBe(data.length);
    expect(same(inflateRawSync(out), data)).toBe(true);
    expect(pako.inflateRaw(out)).toEqual(data);
  });

  it('zlib: SW header + HW body with the Adler-32 trailer on FINISH is a valid zlib stream', () => {
    const { rig, comp } = setup();
    const { out, r } = compress(rig, comp, data, REQ.ZLIB);
    expect(same(inflateSync(out), data)).toBe(true);
    expect(pako.inflate(out)).toEqual(data);
    expect(r.checksum).toBe(new DataView(out.buffer, out.byteOffset).getUint32(out.length - 4, false));
  });

  it('gzip: SW header + HW body with CRC-32 and ISIZE on FINISH passes gunzip', () => {
    const { rig, comp } = setup();
    const { out, r } = compress(rig, comp, data, REQ.GZIP);
    expect(same(gunzipSync(out), data)).toBe(true);
    expect(r.isize).toBe(data.length);
  });

  it.each([0, 1, 2, 3, 4])('window size %i produces a stream any inflater reads', (window) => {
    const { rig, comp } = setup();
    const { out, r } = compress(rig, comp, data, REQ.DEFLATE, { window });
    expect(r.status).toBe(STATUS.OK);
    expect(pako.inflateRaw(out)).toEqual(data);
  });

  it('status 0x0d (negative compression) when output exceeds input; the output is still valid', () => {
    const { rig, comp } = setup();
    const r0 = prng(5);
    const noise = Uint8Array.from({ length: 5000 }, () => Math.floor(r0() * 256));
    const { out, r } = compress(rig, comp, noise, REQ.DEFLATE);
    expect(r.status).toBe(STATUS.NEGACOMPRESS);
    expect(r.produced).toBeGreaterThan(r.consumed);
    expect(pako.inflateRaw(out)).toEqual(noise);
  });

  it('status 0x0e when dest_avail_out is too small: nothing consumed or produced', () => {
    const { rig, comp } = setup();
    const r = one(rig, comp, { reqType: REQ.ZLIB, src: rig.put(data), dst: rig.alloc(100), inLen: data.length, availOut: 100 });
    expect(r.status).toBe(STATUS.DSTLEN_OUT);
    expect(r.consumed).toBe(0);
    expect(r.produced).toBe(0);
  });

  it('dw8 out offset skips bytes at the destination (old kernel header handling)', () => {
    const { rig, comp } = setup();
    const dst = rig.alloc(200_000);
    rig.bus.writeBytes(dst, ZLIB_HEADER);
    const r = one(rig, comp, { reqType: REQ.ZLIB, src: rig.put(data), dst, outOffset: 2, inLen: data.length, availOut: 150_000 });
    expect(same(inflateSync(rig.bus.readBytes(dst, r.produced + 2)), data)).toBe(true);
  });
});

describe('ZIP decompression cross-checks', () => {
  const data = sampleData(200_000, 11);

  it('inflates node:zlib raw deflate: a stateless request that decodes the whole stream ends with status 0 (0x13 is a stateful stream\'s end) and lstblk', () => {
    const { rig, decomp } = setup();
    const { out, r } = decompress(rig, decomp, deflateRawSync(data, { level: 9 }), REQ.DEFLATE, data.length);
    expect(r.status).toBe(STATUS.OK);
    expect(r.lstblk).toBe(1);
    expect(same(out, data)).toBe(true);
  });

  it('inflates pako zlib and checks the Adler-32 trailer (consumed includes it)', () => {
    const { rig, decomp } = setup();
    const packed = pako.deflate(data);
    const { out, r } = decompress(rig, decomp, packed, REQ.ZLIB, data.length);
    expect(r.status).toBe(STATUS.OK);
    expect(r.consumed).toBe(packed.length - 2);
    expect(out).toEqual(data);
  });

  it('inflates node:zlib gzip and checks CRC-32 and ISIZE', () => {
    const { rig, decomp } = setup();
    const packed = gzipSync(data);
    const { out, r } = decompress(rig, decomp, packed, REQ.GZIP, data.length + 10);
    expect(r.status).toBe(STATUS.OK);
    expect(r.consumed).toBe(packed.length - 10);
    expect(same(out, data)).toBe(true);
    expect(r.isize).toBe(data.length);
  });

  it('status 0x10 on a wrong trailer checksum (the data is still output)', () => {
    const { rig, decomp } = setup();
    const packed = deflateSync(data);
    packed[packed.length - 1]! ^= 0xff;
    const { out, r } = decompress(rig, decomp, packed, REQ.ZLIB, data.length);
    expect(r.status).toBe(STATUS.CRC_ERR);
    expect(out.length).toBe(data.length);
  });

  it('status 0x0e when the output does not fit (stateless)', () => {
    const { rig, decomp } = setup();
    const { r } = decompress(rig, decomp, deflateRawSync(data), REQ.DEFLATE, 1000);
    expect(r.status).toBe(STATUS.DSTLEN_OUT);
    expect(r.produced).toBe(0);
  });

  it('corrupt input, and truncated input with FINISH, end with the implementation-defined status and no core interrupt; never an exception', () => {
    const { rig, decomp } = setup();
    const packed = deflateRawSync(data);
    const bad = packed.slice();
    for (let i = 0; i < 64; i++) bad[i * 7]! ^= 0x5a;
    expect(decompress(rig, decomp, bad, REQ.DEFLATE, data.length).r.status).toBe(STATUS.IMPLEMENTATION_DEFINED);
    expect(decompress(rig, decomp, new Uint8Array([0xff, 0xff, 0xff, 0xff]), REQ.DEFLATE, 100).r.status).toBe(STATUS.IMPLEMENTATION_DEFINED);
    expect(decompress(rig, decomp, packed.subarray(0, packed.length >> 1), REQ.DEFLATE, data.length).r.status).toBe(STATUS.IMPLEMENTATION_DEFINED);
    expect(rig.r32(QM.ZIP_CORE_INT_SOURCE)).toBe(0);
  });

  it('requests the engine cannot run (unknown req_type, buf_type, sqe_type, window; stateful without context; input above 8 MiB) end with the implementation-defined status and no core interrupt', () => {
    const { rig, comp } = setup();
    const base = { src: rig.put(data), dst: rig.alloc(1000), inLen: 100, availOut: 1000 };
    for (const f of [{ reqType: 0x43 }, { reqType: 0x04 }, { reqType: REQ.ZLIB, bufType: 2 }, { reqType: REQ.ZLIB, window: 5 }, { reqType: REQ.ZLIB, stateful: true }, { reqType: REQ.ZLIB, sqeType: 1 }]) {
      expect(one(rig, comp, { ...base, ...f }).status).toBe(STATUS.IMPLEMENTATION_DEFINED);
    }
    expect(one(rig, comp, { ...base, reqType: REQ.ZLIB, inLen: 9 << 20 }).status).toBe(STATUS.IMPLEMENTATION_DEFINED);
    expect(rig.r32(QM.ZIP_CORE_INT_SOURCE)).toBe(0);
  });

  it('an aborted source read sets HZIP axi_rresp, an aborted destination write axi_bresp; both end with the implementation-defined status', () => {
    const { rig, comp } = setup();
    const r = one(rig, comp, { reqType: REQ.DEFLATE, src: 0x7_0000_0000, dst: rig.alloc(100), inLen: 100, availOut: 100 });
    expect(r.status).toBe(STATUS.IMPLEMENTATION_DEFINED);
    expect(rig.r32(QM.ZIP_CORE_INT_SOURCE)).toBe(CORE_INT.axi_rresp);
    rig.w32(QM.ZIP_CORE_INT_SOURCE, CORE_INT.axi_rresp);
    const w = one(rig, comp, { reqType: REQ.DEFLATE, src: rig.put(data), dst: 0x7_0000_0000, inLen: 100, availOut: 1000 });
    expect(w.status).toBe(STATUS.IMPLEMENTATION_DEFINED);
    expect(rig.r32(QM.ZIP_CORE_INT_SOURCE)).toBe(CORE_INT.axi_bresp);
  });
});

describe('stateful streams (UADK wd_do_comp_strm)', () => {
  /** Compresses `data` in chunks through one 64 KiB stream context; returns header + body + trailer. */
  function streamCompress(rig: ZipRig, q: QueueInfo, data: Uint8Array, cuts: number[], reqType: number): Uint8Array {
    const ctx = rig.alloc(CTX_BYTES);
    const parts: Uint8Array[] = [reqType === REQ.ZLIB ? ZLIB_HEADER : reqType === REQ.GZIP ? GZIP_HEADER : new Uint8Array(0)];
    let checksum = 0;
    let isize = 0;
    let pos = 0;
    const bounds = [...cuts, data.length];
    bounds.forEach((end, i) => {
      const chunk = data.subarray(pos, end);
      const cap = chunk.length * 2 + 64;
      const dst = rig.alloc(cap);
      const r = one(rig, q, { reqType, src: rig.put(chunk), dst, inLen: chunk.length, availOut: cap, stateful: true, streamNew: i === 0, flushFinish: i === bounds.length - 1, ctxAddr: ctx, checksum, isize });
      expect([STATUS.OK, STATUS.NEGACOMPRESS]).toContain(r.status);
      expect(r.consumed).toBe(chunk.length);
      checksum = r.checksum;
      isize = r.isize;
      parts.push(rig.bus.readBytes(dst, r.produced));
      pos = end;
    });
    return concat(parts);
  }

  /** Decompresses `packed` fed in `cuts` pieces with a small output buffer; returns the output. */
  function streamDecompress(rig: ZipRig, q: QueueInfo, packed: Uint8Array, cuts: number[], reqType: number, outChunk: number): { out: Uint8Array; last: SqeResult } {
    const ctx = rig.alloc(CTX_BYTES);
    const skip = reqType === REQ.ZLIB ? 2 : reqType === REQ.GZIP ? 10 : 0;
    const body = packed.subarray(skip);
    const outs: Uint8Array[] = [];
    let checksum = 0;
    let isize = 0;
    let first = true;
    let last: SqeResult | undefined;
    const bounds = [...cuts.filter((c) => c < body.length), body.length];
    let pos = 0;
    for (const end of bounds) {
      while (pos < end || (end === body.length && last?.status !== STATUS.DECOMP_END)) {
        const chunk = body.subarray(pos, end);
        const dst = rig.alloc(outChunk);
        const r = one(rig, q, { reqType, src: rig.put(chunk), dst, inLen: chunk.length, availOut: outChunk, stateful: true, streamNew: first, flushFinish: false, ctxAddr: ctx, checksum, isize });
        first = false;
        expect([STATUS.OK, STATUS.DECOMP_END]).toContain(r.status);
        outs.push(rig.bus.readBytes(dst, r.produced));
        checksum = r.checksum;
        isize = r.isize;
        pos += r.consumed;
        last = r;
        if (r.status === STATUS.DECOMP_END) break;
        if (r.consumed === 0 && r.produced === 0) break;
      }
      if (last?.status === STATUS.DECOMP_END) break;
    }
    return { out: concat(outs), last: last! };
  }

  const data = sampleData(150_000, 21);

  it('stateful compression split at 25 random points (zlib, gzip, raw) round-trips through node:zlib and pako', () => {
    const { rig, comp } = setup();
    const rnd = prng(99);
    for (const reqType of [REQ.ZLIB, REQ.GZIP, REQ.DEFLATE]) {
      const cuts = Array.from({ length: 25 }, () => Math.floor(rnd() * data.length)).sort((a, b) => a - b);
      const packed = streamCompress(rig, comp, data, cuts, reqType);
      const back = reqType === REQ.ZLIB ? inflateSync(packed) : reqType === REQ.GZIP ? gunzipSync(packed) : inflateRawSync(packed);
      expect(same(back, data)).toBe(true);
      if (reqType === REQ.ZLIB) expect(pako.inflate(packed)).toEqual(data);
    }
  });

  it('a stream uses the history of earlier requests (a repeated block compresses to far less than the first)', () => {
    const { rig, comp } = setup();
    const block = sampleData(8000, 3);
    const twice = concat([block, block]);
    const ctx = rig.alloc(CTX_BYTES);
    const d1 = rig.alloc(20000);
    const r1 = one(rig, comp, { reqType: REQ.DEFLATE, src: rig.put(block), dst: d1, inLen: 8000, availOut: 20000, stateful: true, streamNew: true, flushFinish: false, ctxAddr: ctx });
    const d2 = rig.alloc(20000);
    const r2 = one(rig, comp, { reqType: REQ.DEFLATE, src: rig.put(block), dst: d2, inLen: 8000, availOut: 20000, stateful: true, flushFinish: true, ctxAddr: ctx });
    expect(r2.produced).toBeLessThan(r1.produced / 4);
    const packed = concat([rig.bus.readBytes(d1, r1.produced), rig.bus.readBytes(d2, r2.produced)]);
    expect(same(inflateRawSync(packed), twice)).toBe(true);
  });

  it('stateful decompression split at many points with a 3000-byte output buffer reproduces the data (zlib, gzip, raw)', () => {
    const { rig, decomp } = setup();
    const rnd = prng(7);
    for (const [reqType, packed] of [[REQ.ZLIB, deflateSync(data)], [REQ.GZIP, gzipSync(data)], [REQ.DEFLATE, pako.deflateRaw(data, { level: 9 })]] as const) {
      const cuts = Array.from({ length: 40 }, () => Math.floor(rnd() * packed.length)).sort((a, b) => a - b);
      const { out, last } = streamDecompress(rig, decomp, packed, cuts, reqType, 3000);
      expect(last.status).toBe(STATUS.DECOMP_END);
      expect(last.lstblk).toBe(1);
      expect(same(out, data)).toBe(true);
    }
  });

  it('byte-at-a-time input still decodes (the inflater state travels in the context buffer)', () => {
    const { rig, decomp } = setup();
    const small = sampleData(3000, 8);
    const packed = deflateRawSync(small);
    const cuts = Array.from({ length: packed.length }, (_, i) => i + 1);
    const { out } = streamDecompress(rig, decomp, packed, cuts, REQ.DEFLATE, 1 << 16);
    expect(same(out, small)).toBe(true);
  });

  it('a stream continues on another core of another queue with the same context buffer', () => {
    const { rig, decomp } = setup();
    const other = rig.startQueue(2, 1, { depth: 8 });
    const packed = deflateRawSync(data);
    const ctx = rig.alloc(CTX_BYTES);
    const half = packed.length >> 1;
    const d1 = rig.alloc(data.length);
    const r1 = one(rig, decomp, { reqType: REQ.DEFLATE, src: rig.put(packed.subarray(0, half)), dst: d1, inLen: half, availOut: data.length, stateful: true, streamNew: true, flushFinish: false, ctxAddr: ctx });
    expect(r1.status).toBe(STATUS.OK);
    const d2 = rig.alloc(data.length);
    const r2 = one(rig, other, { reqType: REQ.DEFLATE, src: rig.put(packed.subarray(r1.consumed)), dst: d2, inLen: packed.length - r1.consumed, availOut: data.length, stateful: true, flushFinish: false, ctxAddr: ctx });
    expect(r2.status).toBe(STATUS.DECOMP_END);
    expect(same(concat([rig.bus.readBytes(d1, r1.produced), rig.bus.readBytes(d2, r2.produced)]), data)).toBe(true);
  });

  it('output full mid-stream reports ctx_st 0x2 (no space) and status 0', () => {
    const { rig, decomp } = setup();
    // two blocks: a full flush after the first half, so the first block is not final
    const d = new pako.Deflate({ raw: true });
    d.push(data.subarray(0, 50_000), pako.Z_FULL_FLUSH);
    d.push(data.subarray(50_000), true);
    const packed = d.result;
    const ctx = rig.alloc(CTX_BYTES);
    const r = one(rig, decomp, { reqType: REQ.DEFLATE, src: rig.put(packed), dst: rig.alloc(1000), inLen: packed.length, availOut: 1000, stateful: true, streamNew: true, flushFinish: false, ctxAddr: ctx });
    expect(r.status).toBe(STATUS.OK);
    expect(r.produced).toBe(1000);
    expect(r.ctxDw0 & 0xf).toBe(2);
    // in the final block the state says "last block, no space"
    const all = rig.put(packed);
    let pos = r.consumed;
    let st = 0;
    for (let i = 0; i < 500 && st !== 1; i++) {
      const r2 = one(rig, decomp, { reqType: REQ.DEFLATE, src: all + pos, dst: rig.alloc(1000), inLen: packed.length - pos, availOut: 1000, stateful: true, flushFinish: false, ctxAddr: ctx });
      pos += r2.consumed;
      st = r2.ctxDw0 & 0xf;
    }
    expect(st).toBe(1);
  });

  it('ctx_dw1 [18:0] reports the bytes of a stored block still to copy when the output fills inside it, 0 once the block is out (UADK HZ_CTX_STORE_MASK)', () => {
    const { rig, decomp } = setup();
    const data = sampleData(3000, 21);
    const packed = pako.deflateRaw(data, { level: 0 }); // one stored block
    const ctx = rig.alloc(CTX_BYTES);
    const src = rig.put(packed);
    const r1 = one(rig, decomp, { reqType: REQ.DEFLATE, src, dst: rig.alloc(1000), inLen: packed.length, availOut: 1000, stateful: true, streamNew: true, flushFinish: false, ctxAddr: ctx });
    expect([r1.status, r1.produced, r1.ctxDw0 & 0xf]).toEqual([STATUS.OK, 1000, 1]); // last block, no space
    expect(r1.ctxDw1 & 0x7ffff).toBe(2000);
    const r2 = one(rig, decomp, { reqType: REQ.DEFLATE, src: src + r1.consumed, dst: rig.alloc(1500), inLen: packed.length - r1.consumed, availOut: 1500, stateful: true, flushFinish: false, ctxAddr: ctx });
    expect(r2.ctxDw1 & 0x7ffff).toBe(500);
    const r3 = one(rig, decomp, { reqType: REQ.DEFLATE, src: src + r1.consumed + r2.consumed, dst: rig.alloc(1500), inLen: packed.length - r1.consumed - r2.consumed, availOut: 1500, stateful: true, flushFinish: false, ctxAddr: ctx });
    expect([r3.status, r3.produced, r3.ctxDw1]).toEqual([STATUS.DECOMP_END, 500, 0]);
  });

  it('a garbage context on a continuing stream ends with an error status, never an exception', () => {
    const { rig, comp, decomp } = setup();
    const ctx = rig.alloc(CTX_BYTES);
    rig.bus.writeBytes(ctx, Uint8Array.from({ length: 0x3000 }, (_, i) => (i * 131) & 0xff));
    const f = { reqType: REQ.DEFLATE, src: rig.put(data), dst: rig.alloc(1000), inLen: 100, availOut: 1000, stateful: true, flushFinish: false, ctxAddr: ctx };
    expect(one(rig, comp, f).status).toBe(STATUS.IMPLEMENTATION_DEFINED);
    expect(one(rig, decomp, f).status).toBe(STATUS.IMPLEMENTATION_DEFINED);
    // a well-tagged context with insane fields
    const v = new DataView(new ArrayBuffer(0x2000));
    v.setUint32(0, 0x3149_4b48, true);
    for (let i = 2; i < 30; i++) v.setInt32(i * 4, 0x7fff_0000 + i, true);
    v.setInt32(8 + 6 * 4, 100, true); // whave
    rig.bus.writeBytes(ctx, new Uint8Array(v.buffer));
    expect(one(rig, decomp, f).status).toBe(STATUS.IMPLEMENTATION_DEFINED);
  });
});

describe('hardware SGLs', () => {
  const data = sampleData(50_000, 31);

  it('compresses from a chained SGL of uneven pieces into a chained SGL, with dw7/dw8 offsets', () => {
    const { rig, comp } = setup();
    const pieces: [number, number][] = [];
    let pos = 0;
    const rnd = prng(3);
    const src = concat([new TextEncoder().encode('HDR'), data]);
    while (pos < src.length) {
      const n = Math.min(src.length - pos, 1 + Math.floor(rnd() * 3000));
      pieces.push([rig.put(src.subarray(pos, pos + n), 1), n]);
      pos += n;
    }
    const inSgl = rig.buildSgl(pieces, 4); // many chained SGLs of 4 entries
    const outPieces: [number, number][] = Array.from({ length: 40 }, () => [rig.alloc(2000), 2000]);
    const outSgl = rig.buildSgl(outPieces, 7);
    rig.bus.writeBytes(outPieces[0]![0], ZLIB_HEADER);
    const r = one(rig, comp, { reqType: REQ.ZLIB, bufType: 1, src: inSgl, dst: outSgl, inOffset: 3, outOffset: 2, inLen: data.length, availOut: 80_000 });
    expect(r.status).toBe(STATUS.OK);
    const flat = concat(outPieces.map(([a, n]) => rig.bus.readBytes(a, n))).subarray(0, r.produced + 2);
    expect(same(inflateSync(flat), data)).toBe(true);
  });

  it('decompresses from an SGL; the destination SGL capacity limits the output (status 0x0e when short)', () => {
    const { rig, decomp } = setup();
    const packed = deflateRawSync(data);
    const inSgl = rig.buildSgl([[rig.put(packed.subarray(0, 1000)), 1000], [rig.put(packed.subarray(1000)), packed.length - 1000]]);
    const big = rig.alloc(data.length);
    const r = one(rig, decomp, { reqType: REQ.DEFLATE, bufType: 1, src: inSgl, dst: rig.buildSgl([[big, data.length]]), inLen: packed.length, availOut: 1 << 20 });
    expect(r.status).toBe(STATUS.OK);
    expect(same(rig.bus.readBytes(big, r.produced), data)).toBe(true);
    const short = one(rig, decomp, { reqType: REQ.DEFLATE, bufType: 1, src: inSgl, dst: rig.buildSgl([[rig.alloc(100), 100]]), inLen: packed.length, availOut: 1 << 20 });
    expect(short.status).toBe(STATUS.DSTLEN_OUT);
  });

  it('a looping SGL chain, an entry count above 255, a misaligned SGL or a source shorter than the input set HZIP src_addr_parse and end with the implementation-defined status', () => {
    const { rig, comp } = setup();
    const dst = rig.buildSgl([[rig.alloc(4096), 4096]]);
    const piece = rig.put(data.subarray(0, 100));
    const loop = rig.buildSgl([[piece, 100]]);
    rig.bus.write32(loop, loop); // next_dma points to itself
    const tooMany = rig.buildSgl([[piece, 100]]);
    rig.bus.write16(tooMany + 10, 300);
    const base = { reqType: REQ.DEFLATE, bufType: 1, dst, inLen: 10_000, availOut: 4096 };
    for (const src of [loop, tooMany, loop + 8, rig.buildSgl([[piece, 100]])]) {
      expect(one(rig, comp, { ...base, src }).status).toBe(STATUS.IMPLEMENTATION_DEFINED);
      expect(rig.r32(QM.ZIP_CORE_INT_SOURCE)).toBe(CORE_INT.src_addr_parse);
      rig.w32(QM.ZIP_CORE_INT_SOURCE, CORE_INT.src_addr_parse);
    }
  });

  it('a destination SGL that loops, is misaligned or counts more than 255 entries sets HZIP dst_addr_parse (the source parsed) and ends with the implementation-defined status', () => {
    const { rig, comp } = setup();
    const src = rig.buildSgl([[rig.put(data.subarray(0, 100)), 100]]);
    const loop = rig.buildSgl([[rig.alloc(64), 64]]);
    rig.bus.write32(loop, loop);
    const tooMany = rig.buildSgl([[rig.alloc(64), 64]]);
    rig.bus.write16(tooMany + 10, 300);
    for (const dst of [loop, tooMany, loop + 8]) {
      expect(one(rig, comp, { reqType: REQ.DEFLATE, bufType: 1, src, dst, inLen: 100, availOut: 4096 }).status).toBe(STATUS.IMPLEMENTATION_DEFINED);
      expect(rig.r32(QM.ZIP_CORE_INT_SOURCE)).toBe(CORE_INT.dst_addr_parse);
      rig.w32(QM.ZIP_CORE_INT_SOURCE, CORE_INT.dst_addr_parse);
    }
  });

});

/** An identity IOMMU that records attributes and can stall chosen addresses once. */
class TestIommu implements Iommu {
  readonly seen: { iova: number; write: boolean; ssv: boolean; ssid: number }[] = [];
  /** Addresses whose page stalls once (the first transfer that reaches it). */
  readonly stallAt = new Set<number>();
  /** Held transfers, oldest first: the address asked for and the port (bus-master channel) that issued it. */
  readonly held: { at: number; port: DmaPort }[] = [];
  abort = false;
  translate(port: DmaPort, iova: number, write: boolean, attrs: Readonly<DmaAttrs>, out: IommuResult): DmaStatus {
    this.seen.push({ iova, write, ssv: attrs.ssv, ssid: attrs.ssid });
    for (const at of this.stallAt) {
      if (iova > at || at >= iova + 4096) continue;
      this.stallAt.delete(at);
      if (this.abort) return DmaStatus.Abort;
      this.held.push({ at, port });
      return DmaStatus.Stalled;
    }
    out.pa = iova;
    out.span = 4096 - (iova % 4096);
    return DmaStatus.Ok;
  }
}

describe('SVA attributes and SMMU stalls', () => {
  it('with DATA_RUSER/WUSER SSV set (v2 + SVA) data transfers carry the SQC PASID; SQE/CQE transfers carry none', () => {
    const { rig } = setup();
    const q = rig.startQueue(5, 0, { depth: 8, pasid: 0x42 });
    rig.w32(QM.ZIP_DATA_RUSER, 1);
    rig.w32(QM.ZIP_DATA_WUSER, 1);
    const iommu = new TestIommu();
    rig.zip.fn.dma.iommu = iommu;
    const src = rig.put(sampleData(5000));
    const dst = rig.alloc(8192);
    one(rig, q, { reqType: REQ.DEFLATE, src, dst, inLen: 5000, availOut: 8192 });
    const dataAcc = iommu.seen.filter((s) => s.iova >= src && s.iova < src + 5000);
    expect(dataAcc.length).toBeGreaterThan(0);
    expect(dataAcc.every((s) => s.ssv && s.ssid === 0x42)).toBe(true);
    expect(iommu.seen.filter((s) => s.iova >= dst && s.iova < dst + 8192).every((s) => s.write && s.ssv && s.ssid === 0x42)).toBe(true);
    const sqAcc = iommu.seen.filter((s) => s.iova >= q.sq && s.iova < q.sq + 128 * 8);
    expect(sqAcc.length).toBeGreaterThan(0);
    expect(sqAcc.every((s) => !s.ssv)).toBe(true);
  });

  it('with BD_RUSER/BD_WUSER SSV set the SQE fetch and the result write-back carry the SQC PASID (the CQE does not)', () => {
    const { rig } = setup();
    const q = rig.startQueue(5, 0, { depth: 8, pasid: 0x42 });
    rig.w32(QM.ZIP_BD_RUSER, 1);
    rig.w32(QM.ZIP_BD_WUSER, 1);
    const iommu = new TestIommu();
    rig.zip.fn.dma.iommu = iommu;
    one(rig, q, { reqType: REQ.DEFLATE, src: rig.put(sampleData(500)), dst: rig.alloc(4096), inLen: 500, availOut: 4096 });
    const sq = iommu.seen.filter((s) => s.iova >= q.sq && s.iova < q.sq + 128 * 8);
    expect(sq.map((s) => s.write)).toEqual([false, true]);
    expect(sq.every((s) => s.ssv && s.ssid === 0x42)).toBe(true);
    const cq = iommu.seen.filter((s) => s.iova >= q.cq && s.iova < q.cq + 16 * 8);
    expect(cq.length).toBe(1);
    expect(cq[0]!.ssv).toBe(false);
  });

  it('without SSV in the AXUSER registers and without the v3 PASID enable, data transfers carry no PASID', () => {
    const { rig } = setup();
    const q = rig.startQueue(5, 0, { depth: 8, pasid: 0x42 });
    const iommu = new TestIommu();
    rig.zip.fn.dma.iommu = iommu;
    const src = rig.put(sampleData(500));
    one(rig, q, { reqType: REQ.DEFLATE, src, dst: rig.alloc(8192), inLen: 500, availOut: 8192 });
    expect(iommu.seen.every((s) => !s.ssv)).toBe(true);
  });

  it('a stalled data read holds the request until the SMMU resumes it; retry completes it normally', () => {
    const { rig, comp } = setup();
    const iommu = new TestIommu();
    rig.zip.fn.dma.iommu = iommu;
    const data = sampleData(20_000);
    const src = rig.put(data);
    iommu.stallAt.add(src + 8192);
    const dst = rig.alloc(30_000);
    const [slot] = rig.submit(comp, makeSqe({ reqType: REQ.DEFLATE, src, dst, inLen: data.length, availOut: 30_000 }));
    rig.run();
    expect(rig.reap(comp)).toEqual([]);
    expect(rig.zip.engine.cores.filter((c) => c.stalled).length).toBe(1);
    iommu.held[0]!.port.onStallEnd!(true);
    rig.run();
    expect(rig.reap(comp)).toEqual([slot]);
    const r = rig.result(comp, slot!);
    expect(r.status).toBe(STATUS.OK);
    expect(same(inflateRawSync(rig.bus.readBytes(dst, r.produced)), data)).toBe(true);
  });

  it('a stalled transfer that the SMMU terminates ends the request with the implementation-defined status and HZIP axi_bresp', () => {
    const { rig, comp } = setup();
    const iommu = new TestIommu();
    rig.zip.fn.dma.iommu = iommu;
    const dst = rig.alloc(30_000);
    iommu.stallAt.add(dst);
    const [slot] = rig.submit(comp, makeSqe({ reqType: REQ.DEFLATE, src: rig.put(sampleData(1000)), dst, inLen: 1000, availOut: 30_000 }));
    rig.run();
    iommu.held[0]!.port.onStallEnd!(false);
    rig.run();
    expect(rig.reap(comp)).toEqual([slot]);
    expect(rig.result(comp, slot!).status).toBe(STATUS.IMPLEMENTATION_DEFINED);
    expect(rig.r32(QM.ZIP_CORE_INT_SOURCE) & CORE_INT.axi_bresp).toBe(CORE_INT.axi_bresp);
  });

  it('a stalled data transfer holds only its core: a request on another queue completes meanwhile', () => {
    const { rig, comp } = setup();
    const other = rig.startQueue(3, 0, { depth: 8 });
    const iommu = new TestIommu();
    rig.zip.fn.dma.iommu = iommu;
    const src = rig.put(sampleData(1000));
    iommu.stallAt.add(src);
    rig.submit(comp, makeSqe({ reqType: REQ.DEFLATE, src, dst: rig.alloc(4096), inLen: 1000, availOut: 4096 }));
    rig.run();
    rig.submit(other, makeSqe({ reqType: REQ.DEFLATE, src: rig.put(sampleData(1000, 2)), dst: rig.alloc(4096), inLen: 1000, availOut: 4096 }));
    rig.run();
    expect(rig.reap(other)).toEqual([0]);
    expect(rig.result(other, 0).status).toBe(STATUS.OK);
    expect(rig.reap(comp)).toEqual([]);
    iommu.held[0]!.port.onStallEnd!(true);
    rig.run();
    expect(rig.reap(comp)).toEqual([0]);
  });

  it('two requests on two queues, both stalled on their source reads, resume in the opposite order; each completes after its own resume with its own data', () => {
    const { rig, comp } = setup();
    const other = rig.startQueue(3, 0, { depth: 8 });
    const iommu = new TestIommu();
    rig.zip.fn.dma.iommu = iommu;
    const dataA = sampleData(12_000, 3);
    const dataB = sampleData(9_000, 4);
    const srcA = rig.put(dataA);
    const srcB = rig.put(dataB);
    const dstA = rig.alloc(16_384);
    const dstB = rig.alloc(16_384);
    iommu.stallAt.add(srcA + 4096);
    iommu.stallAt.add(srcB + 4096);
    rig.submit(comp, makeSqe({ reqType: REQ.DEFLATE, src: srcA, dst: dstA, inLen: dataA.length, availOut: 16_384 }));
    rig.submit(other, makeSqe({ reqType: REQ.DEFLATE, src: srcB, dst: dstB, inLen: dataB.length, availOut: 16_384 }));
    rig.run();
    expect(iommu.held.map((h) => h.at)).toEqual([srcA + 4096, srcB + 4096]);
    expect(iommu.held[0]!.port).not.toBe(iommu.held[1]!.port);
    expect(rig.zip.engine.cores.filter((c) => c.stalled).length).toBe(2);
    iommu.held[1]!.port.onStallEnd!(true); // B first
    rig.run();
    expect(rig.reap(other)).toEqual([0]);
    expect(rig.reap(comp)).toEqual([]);
    iommu.held[0]!.port.onStallEnd!(true);
    rig.run();
    expect(rig.reap(comp)).toEqual([0]);
    const a = rig.result(comp, 0);
    const b = rig.result(other, 0);
    expect([a.status, b.status]).toEqual([STATUS.OK, STATUS.OK]);
    expect(same(inflateRawSync(rig.bus.readBytes(dstA, a.produced)), dataA)).toBe(true);
    expect(same(inflateRawSync(rig.bus.readBytes(dstB, b.produced)), dataB)).toBe(true);
  });

  it('a stall on the QM channel (a CQE write) holds the completions of every core until it ends; the data transfers of the cores do not wait for it', () => {
    const { rig, comp } = setup();
    const other = rig.startQueue(3, 0, { depth: 8 });
    const iommu = new TestIommu();
    rig.zip.fn.dma.iommu = iommu;
    iommu.stallAt.add(comp.cq);
    const dstA = rig.alloc(4096);
    const dstB = rig.alloc(4096);
    rig.submit(comp, makeSqe({ reqType: REQ.DEFLATE, src: rig.put(sampleData(1000)), dst: dstA, inLen: 1000, availOut: 4096 }));
    rig.submit(other, makeSqe({ reqType: REQ.DEFLATE, src: rig.put(sampleData(1000, 2)), dst: dstB, inLen: 1000, availOut: 4096 }));
    rig.run();
    expect(iommu.held.length).toBe(1);
    expect(iommu.held[0]!.port).toBe(rig.zip.fn.dma);
    expect(rig.reap(comp)).toEqual([]);
    expect(rig.reap(other)).toEqual([]);
    // both outputs went out before the completion stalled
    expect(rig.bus.readBytes(dstA, 4).some((x) => x !== 0)).toBe(true);
    expect(rig.bus.readBytes(dstB, 4).some((x) => x !== 0)).toBe(true);
    rig.zip.fn.dma.onStallEnd!(true);
    rig.run();
    expect(rig.reap(comp)).toEqual([0]);
    expect(rig.reap(other)).toEqual([0]);
  });

});

describe('DFX and timing', () => {
  it('per-core DFX counters count BDs and bytes; a request takes overhead + bytes / core rate of virtual time', () => {
    const { rig, comp } = setup();
    const data = sampleData(1 << 20);
    const t0 = rig.machine.clock.now();
    const { r } = compress(rig, comp, data, REQ.DEFLATE);
    const t = rig.machine.clock.now() - t0;
    const c = rig.machine.cost;
    expect(t).toBeGreaterThanOrEqual(c.zipRequestOverheadNs + (1 << 20) / c.zipCompressBytesPerNsPerCore);
    expect(t).toBeLessThan(c.zipRequestOverheadNs + (1 << 20) / c.zipCompressBytesPerNsPerCore + 5000);
    const bd = rig.r32(0x302000) + rig.r32(0x303000);
    expect(bd).toBe(1);
    expect(rig.r32(0x302038) + rig.r32(0x303038)).toBe(1 << 20);
    expect(rig.r32(0x302040) + rig.r32(0x303040)).toBe(r.produced);
  });

  it('with HZIP_SOFT_CTRL_CNT_CLR_CE bit 0 set, a read of a per-core DFX counter returns it and clears it; without, reads leave it', () => {
    const { rig, comp } = setup();
    const data = sampleData(3000);
    const bdNum = () => rig.r32(0x302000) + rig.r32(0x303000);
    compress(rig, comp, data, REQ.DEFLATE);
    expect(bdNum()).toBe(1);
    expect(bdNum()).toBe(1);
    rig.w32(QM.ZIP_CNT_CLR_CE, 1);
    compress(rig, comp, data, REQ.DEFLATE);
    expect(bdNum()).toBe(2);
    expect(bdNum()).toBe(0);
    expect(rig.r32(0x302038) + rig.r32(0x303038)).toBe(2 * data.length);
    expect(rig.r32(0x302038) + rig.r32(0x303038)).toBe(0);
  });

  it('two compression cores work in parallel: 4 requests take about 2 request times', () => {
    const { rig, comp } = setup();
    const data = sampleData(256 * 1024);
    const reqs = Array.from({ length: 4 }, () => makeSqe({ reqType: REQ.DEFLATE, src: rig.put(data), dst: rig.alloc(300_000), inLen: data.length, availOut: 300_000 }));
    const t0 = rig.machine.clock.now();
    rig.submit(comp, ...reqs);
    rig.run();
    const one = rig.machine.cost.zipRequestOverheadNs + data.length / rig.machine.cost.zipCompressBytesPerNsPerCore;
    const t = rig.machine.clock.now() - t0;
    expect(t).toBeGreaterThanOrEqual(2 * one);
    expect(t).toBeLessThan(2.2 * one);
  });
});
