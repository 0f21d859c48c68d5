// The running checksums the engine carries across a stream in SQE dw31:
// Adler-32 for zlib (RFC 1950 section 9) and CRC-32 for gzip (RFC 1952 section 8,
// ISO 3309 polynomial, reflected).

const ADLER_BASE = 65521;
/**
 * Bytes summed between reductions, chosen so both sums stay below 2^31 (small
 * integers for the JIT): 255 n (n + 1) / 2 + (n + 1) (BASE - 1) < 2^31 for n = 3800.
 */
const ADLER_RUN = 3800;

export const ADLER32_INIT = 1;
export const CRC32_INIT = 0;

export function adler32(adler: number, buf: Uint8Array, off: number, len: number): number {
  let a = adler & 0xffff;
  let b = (adler >>> 16) & 0xffff;
  const end = off + len;
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
