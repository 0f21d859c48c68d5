// The running checksums the engine carries in SQE dw31.
import { describe, it, expect } from 'vitest';
import { adler32, crc32, ADLER32_INIT, CRC32_INIT } from '../../src/hw/zip/checksum.js';

const ascii = (s: string) => new TextEncoder().encode(s);

function adlerNaive(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (const x of data) {
    a = (a + x) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

describe('checksums', () => {
  it('RFC 1950 Adler-32 of "Wikipedia" is 0x11e60398; CRC-32 check value of "123456789" is 0xcbf43926', () => {
    expect(adler32(ADLER32_INIT, ascii('Wikipedia'), 0, 9)).toBe(0x11e60398);
    expect(crc32(CRC32_INIT, ascii('123456789'), 0, 9)).toBe(0xcbf43926);
  });

  it('Adler-32 stays exact over long runs of 0xff (the sums never overflow between reductions)', () => {
    const d = new Uint8Array(100_003).fill(0xff);
    expect(adler32(ADLER32_INIT, d, 0, d.length)).toBe(adlerNaive(d));
  });

  it('both checksums continue across split buffers, as a stream carries them request to request', () => {
    const d = Uint8Array.from({ length: 20_000 }, (_, i) => (i * 7919) & 0xff);
    for (const cut of [0, 1, 3, 3799, 3800, 3801, 12_345, 20_000]) {
      expect(adler32(adler32(ADLER32_INIT, d, 0, cut), d, cut, d.length - cut)).toBe(adler32(ADLER32_INIT, d, 0, d.length));
      expect(crc32(crc32(CRC32_INIT, d, 0, cut), d, cut, d.length - cut)).toBe(crc32(CRC32_INIT, d, 0, d.length));
    }
  });
});
