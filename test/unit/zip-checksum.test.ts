// The running checksums the engine carries in SQE dw31.
import { describe, it, expect } from 'vitest';
import { adler32, crc32, ADLER32_INIT, CRC32_INIT } from '../../src/hw/zip/checksum.js';

const ascii = (s: string) => new TextEncoder().encode(s);

function adlerNaive(data: Uint8Array, start = 1): number {
  let a = start & 0xffff;
  let b = start >>> 16;
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

  it('Adler-32 word path (16-byte groups over 32-bit words) matches the byte-at-a-time definition at every alignment, length and start value', () => {
    let seed = 0x2545f491;
    const rand = (): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return seed >>> 0;
    };
    const backing = new Uint8Array(70_000 + 8);
    for (let i = 0; i < backing.length; i++) backing[i] = rand() & 0xff;
    backing.fill(0xff, 5_000, 40_000); // worst case for the 16-bit lanes
    for (let trial = 0; trial < 60; trial++) {
      const viewOff = rand() % 4; // byteOffset of the view itself
      const view = backing.subarray(viewOff);
      const off = rand() % 64;
      const len = trial < 8 ? [0, 1, 255, 256, 257, 1023, 1024, 4099][trial]! : rand() % (view.length - off);
      const start = trial % 3 === 0 ? ADLER32_INIT : ((rand() % 65521) << 16) | (rand() % 65521);
      expect(adler32(start, view, off, len)).toBe(adlerNaive(view.subarray(off, off + len), start));
    }
  });
});
