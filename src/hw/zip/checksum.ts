// The running checksums the engine carries across a stream in SQE dw31:
// Adler-32 for zlib (RFC 1950 section 9) and CRC-32 for gzip (RFC 1952 section 8,
// ISO 3309 polynomial, reflected).

const ADLER_BASE = 65521;
/**
 * Bytes summed between reductions on the byte path, chosen so both sums stay below
 * 2^31 (small integers for the JIT): 255 n (n + 1) / 2 + (n + 1) (BASE - 1) < 2^31
 * for n = 3800.
 */
const ADLER_RUN = 3800;
/**
 * Words per block on the word path: byte-position sums live in 16-bit lanes of a
 * 32-bit integer (at most 255 per word, so 256 words fill a lane to 65280 < 2^16).
 */
const ADLER_BLOCK_WORDS = 256;
/** Shortest run worth the word path (a typed-array view costs an allocation). */
const ADLER_WORD_MIN = 256;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export const ADLER32_INIT = 1;
export const CRC32_INIT = 0;

export function adler32(adler: number, buf: Uint8Array, off: number, len: number): number {
  let a = adler & 0xffff;
  let b = (adler >>> 16) & 0xffff;
  const end = off + len;
  if (LITTLE_ENDIAN && len >= ADLER_WORD_MIN) {
    // Bytes up to a 4-byte boundary of the underlying buffer, then whole 16-byte groups as words.
    const head = (4 - ((buf.byteOffset + off) & 3)) & 3;
    for (const stop = off + head; off < stop; off++) {
      a += buf[off]!;
      b += a;
    }
    a %= ADLER_BASE;
    b %= ADLER_BASE;
    const words = ((end - off) >>> 4) << 2;
    const sums = adlerWords(a, b, new Uint32Array(buf.buffer, buf.byteOffset + off, words));
    a = sums & 0xffff;
    b = sums >>> 16;
    off += words * 4;
  }
  while (off < end) {
    const stop = Math.min(end, off + ADLER_RUN);
    const stop4 = stop - 3;
    for (; off < stop4; off += 4) {
      a = (a + buf[off]!) | 0;
      b = (b + a) | 0;
      a = (a + buf[off + 1]!) | 0;
      b = (b + a) | 0;
      a = (a + buf[off + 2]!) | 0;
      b = (b + a) | 0;
      a = (a + buf[off + 3]!) | 0;
      b = (b + a) | 0;
    }
    for (; off < stop; off++) {
      a = (a + buf[off]!) | 0;
      b = (b + a) | 0;
    }
    a %= ADLER_BASE;
    b %= ADLER_BASE;
  }
  return ((b << 16) | a) >>> 0;
}

/**
 * Adler-32 over little-endian words (a multiple of 4), from reduced sums a, b. For a
 * block of n = 4m bytes x_i: a' = a + sum x_i and b' = b + n a + sum (n - i) x_i. With
 * W_k the byte sum of word k, sum (n - i) x_i = 4 sum_k (m - k) W_k - (A1 + 2 A2 + 3 A3),
 * where A_j sums the bytes at position j of each word; sum_k (m - k) W_k is the sum of
 * the running sums of W. Two bytes at a time share a 32-bit integer (16-bit lanes).
 */
function adlerWords(a: number, b: number, w: Uint32Array): number {
  const n = w.length;
  let k = 0;
  while (k < n) {
    const stop = Math.min(n, k + ADLER_BLOCK_WORDS);
    const m = stop - k;
    let even = 0; // lanes: bytes 0 and 2 of each word
    let odd = 0; // lanes: bytes 1 and 3
    let run = 0; // running sum of W_k
    let runs = 0; // sum of the running sums
    for (; k < stop; k += 4) {
      const w0 = w[k]!;
      const w1 = w[k + 1]!;
      const w2 = w[k + 2]!;
      const w3 = w[k + 3]!;
      const e0 = w0 & 0xff00ff;
      const o0 = (w0 >>> 8) & 0xff00ff;
      const e1 = w1 & 0xff00ff;
      const o1 = (w1 >>> 8) & 0xff00ff;
      const e2 = w2 & 0xff00ff;
      const o2 = (w2 >>> 8) & 0xff00ff;
      const e3 = w3 & 0xff00ff;
      const o3 = (w3 >>> 8) & 0xff00ff;
      const e = e0 + e1 + e2 + e3;
      const o = o0 + o1 + o2 + o3;
      even = (even + e) | 0;
      odd = (odd + o) | 0;
      // The four running sums of this group: 4 run + 4 W0 + 3 W1 + 2 W2 + W3 (lanes <= 5100).
      const q = 4 * (e0 + o0) + 3 * (e1 + o1) + 2 * (e2 + o2) + e3 + o3;
      runs = (runs + 4 * run + (q & 0xffff) + (q >>> 16)) | 0;
      const s = e + o;
      run = (run + (s & 0xffff) + (s >>> 16)) | 0;
    }
    const a1 = odd & 0xffff;
    const a2 = even >>> 16;
    const a3 = odd >>> 16;
    b = (b + ((4 * m * a) % ADLER_BASE) + ((4 * runs) % ADLER_BASE) + 3 * ADLER_BASE - ((a1 + 2 * a2 + 3 * a3) % ADLER_BASE)) % ADLER_BASE;
    a = (a + (even & 0xffff) + a1 + a2 + a3) % ADLER_BASE;
  }
  return ((b << 16) | a) >>> 0;
}

// Slicing-by-4 tables: T[k][n] is the CRC of byte n followed by k zero bytes.
const CRC_TABLE = new Int32Array(256 * 4);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  CRC_TABLE[n] = c;
}
for (let n = 0; n < 256; n++) {
  let c = CRC_TABLE[n]!;
  for (let t = 1; t < 4; t++) {
    c = CRC_TABLE[c & 0xff]! ^ (c >>> 8);
    CRC_TABLE[t * 256 + n] = c;
  }
}

export function crc32(crc: number, buf: Uint8Array, off: number, len: number): number {
  const T = CRC_TABLE;
  let c = ~crc;
  const end = off + len;
  const end4 = end - 3;
  for (; off < end4; off += 4) {
    c ^= buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16) | (buf[off + 3]! << 24);
    c = T[768 + (c & 0xff)]! ^ T[512 + ((c >>> 8) & 0xff)]! ^ T[256 + ((c >>> 16) & 0xff)]! ^ T[c >>> 24]!;
  }
  for (; off < end; off++) c = T[(c ^ buf[off]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
