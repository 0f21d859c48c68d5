// The DEFLATE datapath of one engine core, on pako's zlib port. A compression core
// produces raw DEFLATE (the hardware never writes zlib/gzip headers) continuing from
// a history window; a decompression core runs a raw inflater whose complete state
// can be saved to and restored from the stream context in guest memory, so a
// stateful stream may continue on any core of any queue.
//
// Stream context format (this model's; real hardware keeps its own, undocumented):
//
//   compression (magic "HKD1")            decompression (magic "HKI1")
//   0x00 u32 magic                        0x00 u32 magic
//   0x04 u32 history bytes (<= 32 KiB)     0x04 u32 bit0 lencode fixed, bit1 distcode fixed, bit2 last, bit3 havedict
//   0x40 history (the last input bytes)    0x08 u32[23] inflater scalars (INFLATE_SCALARS order)
//                                          0x080 u16[320] code lengths
//                                          0x300 i32[852] length/literal table
//                                          0x1080 i32[592] distance table
//                                          0x2000 window (whave bytes, 32 KiB max)
//
// Everything fits in the 64 KiB context buffer the drivers allocate.

import {
  ZStream,
  Z_DATA_ERROR,
  Z_FINISH,
  Z_NO_FLUSH,
  Z_OK,
  Z_STREAM_END,
  Z_SYNC_FLUSH,
  zlibDeflate,
  zlibDeflateInit2,
  zlibDeflateReset,
  zlibDeflateSetDictionary,
  zlibInflate,
  zlibInflateInit2,
  zlibInflateReset2,
} from 'pako';

export const STREAM_CTX_BYTES = 0x10000;
export const CTX_MAGIC_DEFLATE = 0x3144_4b48; // "HKD1"
export const CTX_MAGIC_INFLATE = 0x3149_4b48; // "HKI1"
export const CTX_HISTORY_OFFSET = 0x40;
export const CTX_INFLATE_BYTES_FIXED = 0x2000;
export const HISTORY_MAX = 32768;
/** Level of the software deflate standing in for the engine (the hardware ignores the level; its ratio is below zlib -1). */
export const ENGINE_DEFLATE_LEVEL = 1;

// ------------------------------------------------------------------ compression

/** Outcome of a deflate run: bytes produced, or -1 when the output did not fit. */
export class DeflateUnit {
  private readonly strm = new ZStream();
  private wbits = 0;
  /** Output of the last run. */
  out = new Uint8Array(1 << 16);

  /**
   * Compresses `input[inOff..inOff+inLen)` continuing from `history`, flushing with
   * FINISH (final block) or SYNC_FLUSH (byte-aligned, stream stays open). Returns the
   * bytes produced into `this.out`, or -1 if more than `cap` bytes would be needed.
   */
  run(input: Uint8Array, inOff: number, inLen: number, history: Uint8Array, histLen: number, windowBits: number, finish: boolean, cap: number): number {
    const s = this.strm;
    if (this.wbits !== windowBits) {
      if (zlibDeflateInit2(s, ENGINE_DEFLATE_LEVEL, 8, -windowBits, 8, 0) !== Z_OK) return -1;
      this.wbits = windowBits;
    } else zlibDeflateReset(s);
    if (histLen > 0) zlibDeflateSetDictionary(s, history.subarray(0, histLen));
    // deflateBound-like limit plus a sync marker: output can never need more.
    const bound = inLen + (inLen >>> 10) + 64;
    const size = Math.min(cap, bound);
    if (this.out.length < size) this.out = new Uint8Array(Math.max(size, this.out.length * 2));
    s.input = input;
    s.next_in = inOff;
    s.avail_in = inLen;
    s.output = this.out;
    s.next_out = 0;
    s.avail_out = size;
    const ret = zlibDeflate(s, finish ? Z_FINISH : Z_SYNC_FLUSH);
    s.input = EMPTY;
    if (finish ? ret !== Z_STREAM_END : s.avail_in !== 0 || s.avail_out === 0) return -1;
    return s.next_out;
  }
}

const EMPTY = new Uint8Array(0);

// ------------------------------------------------------------------ decompression

// pako's inflate state, as far as this model saves and restores it.
interface PakoInflateState {
  mode: number;
  last: boolean | number;
  wrap: number;
  havedict: boolean | number;
  flags: number;
  dmax: number;
  check: number;
  total: number;
  wbits: number;
  wsize: number;
  whave: number;
  wnext: number;
  window: Uint8Array | null;
  hold: number;
  bits: number;
  length: number;
  offset: number;
  extra: number;
  lencode: Int32Array | null;
  distcode: Int32Array | null;
  lenbits: number;
  distbits: number;
  ncode: number;
  nlen: number;
  ndist: number;
  have: number;
  lens: Uint16Array;
  lendyn: Int32Array | null;
  distdyn: Int32Array | null;
  sane: number;
  back: number;
  was: number;
}

type InflateScalar = 'mode' | 'flags' | 'dmax' | 'total' | 'wbits' | 'wsize' | 'whave' | 'wnext' | 'hold' | 'bits' | 'length' | 'offset' | 'extra' | 'lenbits' | 'distbits' | 'ncode' | 'nlen' | 'ndist' | 'have' | 'sane' | 'back' | 'was' | 'check';
const INFLATE_SCALARS: readonly InflateScalar[] = ['mode', 'flags', 'dmax', 'total', 'wbits', 'wsize', 'whave', 'wnext', 'hold', 'bits', 'length', 'offset', 'extra', 'lenbits', 'distbits', 'ncode', 'nlen', 'ndist', 'have', 'sane', 'back', 'was', 'check'];

// pako inflate modes (zlib inflate.h) a raw stream can be saved in.
const MODE_TYPE = 16191;
const MODE_COPY_ = 16194;
const MODE_COPY = 16195;
const MODE_LENGTH = 16207;
const MODE_DONE = 16208;
const ENOUGH_LENS = 852;
const ENOUGH_DISTS = 592;
const WINDOW = 32768;

function stateOf(s: ZStream): PakoInflateState {
  return s.state as PakoInflateState;
}

// pako's shared fixed-Huffman tables, captured once by inflating an empty fixed block.
const fixedTables = (() => {
  const s = new ZStream();
  zlibInflateInit2(s, -15);
  s.input = new Uint8Array([0x03, 0x00]);
  s.next_in = 0;
  s.avail_in = 2;
  s.output = new Uint8Array(16);
  s.next_out = 0;
  s.avail_out = 16;
  zlibInflate(s, Z_NO_FLUSH);
  const st = stateOf(s);
  return { len: st.lencode!, dist: st.distcode! };
})();

export const enum InflateOutcome {
  /** The final block ended. */
  End = 0,
  /** Stopped with input used up or output full; more calls can continue. */
  Progress = 1,
  /** Corrupt data (or a corrupt saved state). */
  Error = 2,
}

export class InflateUnit {
  private readonly strm = new ZStream();
  /** Output of the last run. */
  out = new Uint8Array(1 << 16);
  /** Bytes consumed / produced by the last run. */
  consumed = 0;
  produced = 0;

  constructor() {
    zlibInflateInit2(this.strm, -15);
  }

  /** Starts a new raw DEFLATE stream. */
  fresh(): void {
    zlibInflateReset2(this.strm, -15);
  }

  /** Whether the current block is the final one (BFINAL seen). */
  get inLastBlock(): boolean {
    return Boolean(stateOf(this.strm).last);
  }

  /** Waiting for the header of the next block: the input ended between blocks. */
  get betweenBlocks(): boolean {
    return stateOf(this.strm).mode === MODE_TYPE;
  }

  /** Bits held in the bit buffer (reported in ctx_dw0). */
  get heldBits(): number {
    return stateOf(this.strm).bits & 0x3f;
  }

  /** Bytes of the current stored block still to be copied out (reported in ctx_dw1 [18:0]); 0 outside a stored block. */
  get storedPending(): number {
    const st = stateOf(this.strm);
    return st.mode === MODE_COPY_ || st.mode === MODE_COPY ? st.length : 0;
  }

  /** Window bytes held (reported in ctx_dw2). */
  get windowHeld(): number {
    return stateOf(this.strm).whave;
  }

  /**
   * Inflates `input[inOff..inOff+inLen)` into `this.out`, up to `cap` bytes (the
   * buffer grows on demand). Corrupt input or a corrupt restored state is an Error,
   * never an exception.
   */
  run(input: Uint8Array, inOff: number, inLen: number, cap: number): InflateOutcome {
    const s = this.strm;
    s.input = input;
    s.next_in = inOff;
    s.avail_in = inLen;
    let size = Math.min(cap, Math.max(this.out.length, 1));
    if (this.out.length < size) this.out = new Uint8Array(size);
    s.output = this.out;
    s.next_out = 0;
    s.avail_out = size;
    let outcome = InflateOutcome.Progress;
    try {
      for (;;) {
        const ret = zlibInflate(s, Z_NO_FLUSH);
        if (ret === Z_STREAM_END) {
          outcome = InflateOutcome.End;
          break;
        }
        if (ret === Z_DATA_ERROR || (ret !== Z_OK && ret !== -5)) {
          outcome = InflateOutcome.Error;
          break;
        }
        if (s.avail_out === 0 && size < cap) {
          // Grow the staging buffer and continue where it stopped.
          const bigger = new Uint8Array(Math.min(cap, size * 2));
          bigger.set(this.out.subarray(0, s.next_out));
          this.out = bigger;
          s.output = bigger;
          s.avail_out = bigger.length - s.next_out;
          size = bigger.length;
          continue;
        }
        break;
      }
    } catch {
      outcome = InflateOutcome.Error;
    }
    this.consumed = s.next_in - inOff;
    this.produced = s.next_out;
    s.input = EMPTY;
    return outcome;
  }

  /** Output buffer was filled before the stream ended. */
  get outputFull(): boolean {
    return this.strm.avail_out === 0;
  }

  /** Saves the inflater into `ctx` (see the format above); returns the bytes used. */
  save(ctx: Uint8Array): number {
    const st = stateOf(this.strm);
    const v = new DataView(ctx.buffer, ctx.byteOffset, ctx.byteLength);
    v.setUint32(0, CTX_MAGIC_INFLATE, true);
    const flags = (st.lencode === fixedTables.len ? 1 : 0) | (st.distcode === fixedTables.dist ? 2 : 0) | (st.last ? 4 : 0) | (st.havedict ? 8 : 0);
    v.setUint32(4, flags, true);
    for (let i = 0; i < INFLATE_SCALARS.length; i++) v.setInt32(8 + i * 4, st[INFLATE_SCALARS[i]!] | 0, true);
    for (let i = 0; i < 320; i++) v.setUint16(0x80 + i * 2, st.lens[i]!, true);
    const ld = st.lendyn;
    const dd = st.distdyn;
    for (let i = 0; i < ENOUGH_LENS; i++) v.setInt32(0x300 + i * 4, ld ? ld[i]! : 0, true);
    for (let i = 0; i < ENOUGH_DISTS; i++) v.setInt32(0x1080 + i * 4, dd ? dd[i]! : 0, true);
    const whave = st.window !== null ? Math.min(st.whave, st.window.length) : 0;
    if (whave > 0) ctx.set(st.window!.subarray(0, whave), CTX_INFLATE_BYTES_FIXED);
    return CTX_INFLATE_BYTES_FIXED + whave;
  }

  /** Bytes of a saved context that must be read back, from its fixed part; -1 if not one. */
  static savedBytes(ctxHead: Uint8Array): number {
    const v = new DataView(ctxHead.buffer, ctxHead.byteOffset, ctxHead.byteLength);
    if (v.getUint32(0, true) !== CTX_MAGIC_INFLATE) return -1;
    const whave = v.getInt32(8 + INFLATE_SCALARS.indexOf('whave') * 4, true);
    if (whave < 0 || whave > WINDOW) return -1;
    return CTX_INFLATE_BYTES_FIXED + whave;
  }

  /** Restores a saved inflater; false (and a fresh inflater) when `ctx` is not a sane saved state. */
  restore(ctx: Uint8Array): boolean {
    this.fresh();
    const v = new DataView(ctx.buffer, ctx.byteOffset, ctx.byteLength);
    if (ctx.byteLength < CTX_INFLATE_BYTES_FIXED || v.getUint32(0, true) !== CTX_MAGIC_INFLATE) return false;
    const val: Record<InflateScalar, number> = {} as Record<InflateScalar, number>;
    for (let i = 0; i < INFLATE_SCALARS.length; i++) val[INFLATE_SCALARS[i]!] = v.getInt32(8 + i * 4, true);
    const sane =
      val.mode >= MODE_TYPE && val.mode <= MODE_DONE && val.mode !== MODE_LENGTH &&
      val.wbits === 15 && (val.wsize === 0 || val.wsize === WINDOW) &&
      val.whave >= 0 && val.whave <= val.wsize && val.wnext >= 0 && val.wnext < Math.max(val.wsize, 1) &&
      (val.whave === val.wsize || val.wnext === val.whave) &&
      val.bits >= 0 && val.bits <= 32 && val.lenbits >= 0 && val.lenbits <= 10 && val.distbits >= 0 && val.distbits <= 10 &&
      val.have >= 0 && val.have <= 320 && val.nlen >= 0 && val.nlen <= 288 && val.ndist >= 0 && val.ndist <= 32 && val.ncode >= 0 && val.ncode <= 19 &&
      val.length >= 0 && val.length <= 65535 && val.offset >= 0 && val.offset <= WINDOW + 1 && val.extra >= 0 && val.extra <= 15 &&
      ctx.byteLength >= CTX_INFLATE_BYTES_FIXED + val.whave;
    if (!sane) return false;
    const st = stateOf(this.strm);
    for (const k of INFLATE_SCALARS) st[k] = val[k];
    const flags = v.getUint32(4, true);
    st.last = (flags & 4) !== 0;
    st.havedict = (flags & 8) !== 0;
    st.wrap = 0;
    for (let i = 0; i < 320; i++) st.lens[i] = v.getUint16(0x80 + i * 2, true);
    const ld = (st.lendyn ??= new Int32Array(ENOUGH_LENS));
    const dd = (st.distdyn ??= new Int32Array(ENOUGH_DISTS));
    for (let i = 0; i < ENOUGH_LENS; i++) ld[i] = v.getInt32(0x300 + i * 4, true);
    for (let i = 0; i < ENOUGH_DISTS; i++) dd[i] = v.getInt32(0x1080 + i * 4, true);
    st.lencode = flags & 1 ? fixedTables.len : ld;
    st.distcode = flags & 2 ? fixedTables.dist : dd;
    if (val.wsize > 0) {
      if (st.window === null || st.window.length !== WINDOW) st.window = new Uint8Array(WINDOW);
      st.window.set(ctx.subarray(CTX_INFLATE_BYTES_FIXED, CTX_INFLATE_BYTES_FIXED + val.whave));
    }
    return true;
  }
}

// ------------------------------------------------------------------ compression history

/** Reads the history of a saved compression stream; -1 when `ctx` is not one. */
export function savedHistoryBytes(ctxHead: Uint8Array): number {
  const v = new DataView(ctxHead.buffer, ctxHead.byteOffset, ctxHead.byteLength);
  if (v.getUint32(0, true) !== CTX_MAGIC_DEFLATE) return -1;
  const n = v.getUint32(4, true);
  return n <= HISTORY_MAX ? n : -1;
}
