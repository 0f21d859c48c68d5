// SQE dw9[15:12] window (reference section 6: 0 4K, 1 8K, 2 16K, 3 24K, 4 32K): the
// compression engine must never emit a back-reference farther than the configured
// window, since the decompressor the stream was made for (hardware or zlib with a
// smaller windowBits) keeps only that much history. The test walks every DEFLATE
// block of the engine's output (RFC 1951 3.2) with its own decoder, records the
// largest distance used, checks the decoded bytes, and for power-of-two windows also
// inflates with node:zlib at exactly that windowBits.
import { describe, it, expect } from 'vitest';
import * as zlib from 'node:zlib';
import { ZipRig, makeSqe, REQ, STATUS, prng, type QueueInfo } from './zip-rig.js';

const WINDOW_BYTES = [4096, 8192, 16384, 24576, 32768] as const;
const CTX_BYTES = 0x10000;

// ------------------------------------------------------------------ RFC 1951 decoder

const LEN_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LEN_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const CL_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** Canonical Huffman code from code lengths: counts per length and symbols in code order. */
interface Huffman {
  counts: number[];
  symbols: number[];
}

function huffman(lengths: number[]): Huffman {
  const counts = new Array<number>(16).fill(0);
  for (const l of lengths) counts[l]!++;
  counts[0] = 0;
  const offs = new Array<number>(16).fill(0);
  for (let i = 1; i < 16; i++) offs[i] = offs[i - 1]! + counts[i - 1]!;
  const symbols = new Array<number>(lengths.length).fill(0);
  lengths.forEach((l, s) => {
    if (l !== 0) symbols[offs[l]!++] = s;
  });
  return { counts, symbols };
}

/** A DEFLATE decoder that also reports the largest back-reference distance. */
class Inflater {
  private pos = 0;
  private bit = 0;
  readonly out: number[] = [];
  maxDist = 0;
  blocks = 0;

  constructor(private readonly src: Uint8Array) {}

  private bits(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) {
      if (this.pos >= this.src.length) throw new Error('deflate: input ends inside a block');
      v |= ((this.src[this.pos]! >>> this.bit) & 1) << i;
      if (++this.bit === 8) {
        this.bit = 0;
        this.pos++;
      }
    }
    return v;
  }

  private decode(h: Huffman): number {
    let code = 0;
    let first = 0;
    let index = 0;
    for (let len = 1; len < 16; len++) {
      code |= this.bits(1);
      const count = h.counts[len]!;
      if (code - count < first) return h.symbols[index + (code - first)]!;
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    throw new Error('deflate: bad Huffman code');
  }

  /** Decodes blocks until BFINAL, or until the input ends on a block boundary (a SYNC_FLUSHed stream). */
  run(): void {
    for (;;) {
      if (this.pos >= this.src.length) return;
      const final = this.bits(1);
      const type = this.bits(2);
      this.blocks++;
      if (type === 0) {
        if (this.bit !== 0) {
          this.bit = 0;
          this.pos++;
        }
        this.stored();
      } else if (type === 1) this.codes(huffman([...new Array(144).fill(8), ...new Array(112).fill(9), ...new Array(24).fill(7), ...new Array(8).fill(8)]), huffman(new Array(30).fill(5)));
      else if (type === 2) this.dynamic();
      else throw new Error('deflate: reserved block type');
      if (final) return;
    }
  }

  private stored(): void {
    if (this.pos + 4 > this.src.length) throw new Error('deflate: input ends inside a stored block header');
    const len = this.src[this.pos]! | (this.src[this.pos + 1]! << 8);
    const nlen = this.src[this.pos + 2]! | (this.src[this.pos + 3]! << 8);
    if ((len ^ 0xffff) !== nlen) throw new Error('deflate: stored block LEN/NLEN mismatch');
    this.pos += 4;
    for (let i = 0; i < len; i++) this.out.push(this.src[this.pos++]!);
  }

  private dynamic(): void {
    const hlit = this.bits(5) + 257;
    const hdist = this.bits(5) + 1;
    const hclen = this.bits(4) + 4;
    const cl = new Array<number>(19).fill(0);
    for (let i = 0; i < hclen; i++) cl[CL_ORDER[i]!] = this.bits(3);
    const clh = huffman(cl);
    const lengths: number[] = [];
    while (lengths.length < hlit + hdist) {
      const sym = this.decode(clh);
      if (sym < 16) lengths.push(sym);
      else if (sym === 16) {
        const prev = lengths[lengths.length - 1]!;
        for (let n = 3 + this.bits(2); n > 0; n--) lengths.push(prev);
      } else for (let n = sym === 17 ? 3 + this.bits(3) : 11 + this.bits(7); n > 0; n--) lengths.push(0);
    }
    this.codes(huffman(lengths.slice(0, hlit)), huffman(lengths.slice(hlit)));
  }

  private codes(lit: Huffman, dist: Huffman): void {
    for (;;) {
      const sym = this.decode(lit);
      if (sym < 256) this.out.push(sym);
      else if (sym === 256) return;
      else {
        const li = sym - 257;
        const len = LEN_BASE[li]! + this.bits(LEN_EXTRA[li]!);
        const di = this.decode(dist);
        const d = DIST_BASE[di]! + this.bits(DIST_EXTRA[di]!);
        if (d > this.out.length) throw new Error(`deflate: distance ${d} before the start of the output`);
        this.maxDist = Math.max(this.maxDist, d);
        const from = this.out.length - d;
        for (let i = 0; i < len; i++) this.out.push(this.out[from + i]!);
      }
    }
  }
}

/** Decodes a raw DEFLATE stream: the bytes and the largest distance it uses. */
function walk(stream: Uint8Array): { bytes: Uint8Array; maxDist: number; blocks: number } {
  const inf = new Inflater(stream);
  inf.run();
  return { bytes: Uint8Array.from(inf.out), maxDist: inf.maxDist, blocks: inf.blocks };
}

// ------------------------------------------------------------------ data

/**
 * Incompressible 1 KiB pieces, each either fresh noise or a copy of the piece written
 * `back` bytes earlier, with `back` from 2 KiB up to 31 KiB: the best match of a copy
 * is exactly at that distance, so a compressor with a large enough window uses it.
 */
function farRepeats(n: number, seed: number): Uint8Array {
  const r = prng(seed);
  const out = new Uint8Array(n);
  const backs = [2048, 3072, 6144, 7168, 12288, 15360, 20480, 23552, 28672, 31744];
  for (let at = 0; at < n; at += 1024) {
    const back = backs[Math.floor(r() * backs.length)]!;
    const len = Math.min(1024, n - at);
    if (at >= back && r() < 0.6) out.copyWithin(at, at - back, at - back + len);
    else for (let i = 0; i < len; i++) out[at + i] = Math.floor(r() * 256);
  }
  return out;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function compressOnce(rig: ZipRig, q: QueueInfo, data: Uint8Array, window: number, o: { stateful?: boolean; streamNew?: boolean; finish?: boolean; ctx?: number } = {}): Uint8Array {
  const cap = data.length + 4096;
  const dst = rig.alloc(cap);
  const [slot] = rig.submit(q, makeSqe({ reqType: REQ.DEFLATE, src: rig.put(data), dst, inLen: data.length, availOut: cap, window, stateful: o.stateful ?? false, streamNew: o.streamNew ?? false, flushFinish: o.finish ?? true, ctxAddr: o.ctx ?? 0 }));
  rig.run();
  expect(rig.reap(q)).toEqual([slot]);
  const r = rig.result(q, slot!);
  expect([STATUS.OK, STATUS.NEGACOMPRESS]).toContain(r.status);
  return rig.bus.readBytes(dst, r.produced);
}

describe('compression window (dw9[15:12]): no back-reference beyond the configured window', () => {
  it('the checker sees far matches: node:zlib with windowBits 15 on the same data uses distances beyond 24 KiB', () => {
    const data = farRepeats(256 * 1024, 1);
    const w = walk(new Uint8Array(zlib.deflateRawSync(data, { windowBits: 15, level: 6 })));
    expect(same(w.bytes, data)).toBe(true);
    expect(w.maxDist).toBeGreaterThan(24576);
  });

  it.each([0, 1, 2, 3, 4])('window %i: a stateless request never refers farther back than the window, and the stream decodes to the input', (window) => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(0, 0, { depth: 8 });
    const data = farRepeats(256 * 1024, 2 + window);
    const out = compressOnce(rig, q, data, window);
    const w = walk(out);
    expect(same(w.bytes, data)).toBe(true);
    expect(w.maxDist).toBeLessThanOrEqual(WINDOW_BYTES[window]!);
    // The engine does use its history: some match reaches beyond a quarter of the window.
    expect(w.maxDist).toBeGreaterThan(WINDOW_BYTES[window]! / 4);
    expect(out.length).toBeLessThan(data.length);
    if (window !== 3) {
      const wb = Math.log2(WINDOW_BYTES[window]!);
      expect(same(new Uint8Array(zlib.inflateRawSync(out, { windowBits: wb })), data)).toBe(true);
    }
  });

  it.each([0, 1, 2, 3, 4])('window %i: a stateful stream of 40 KiB steps (history carried in the stream context) stays within the window too', (window) => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(0, 0, { depth: 8 });
    const ctx = rig.alloc(CTX_BYTES);
    const data = farRepeats(200 * 1024, 20 + window);
    const parts: Uint8Array[] = [];
    const step = 40 * 1024;
    for (let off = 0; off < data.length; off += step) {
      const last = off + step >= data.length;
      parts.push(compressOnce(rig, q, data.subarray(off, off + step), window, { stateful: true, streamNew: off === 0, finish: last, ctx }));
    }
    const stream = Uint8Array.from(parts.flatMap((p) => [...p]));
    const w = walk(stream);
    expect(same(w.bytes, data)).toBe(true);
    expect(w.maxDist).toBeLessThanOrEqual(WINDOW_BYTES[window]!);
    if (window !== 3) expect(same(new Uint8Array(zlib.inflateRawSync(stream, { windowBits: Math.log2(WINDOW_BYTES[window]!) })), data)).toBe(true);
  });
});
