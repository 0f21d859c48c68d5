import { describe, expect, it } from 'vitest';
import { CHUNK_SIZE, SparseRam } from '../../src/hw/bus/ram.js';
import { createMachine } from '../../src/machine/create.js';

const GiB = 2 ** 30;
const RAM = 0x4000_0000;

describe('sparse RAM (DESIGN.md 7: pages allocated on first touch)', () => {
  it('a 16 GiB machine allocates nothing at reset', () => {
    const m = createMachine({ ramSize: 16 * GiB });
    expect(m.bus.ram.allocatedBytes).toBe(0);
  });

  it('touching N pages in N distinct chunks allocates N chunks, wherever they are in 16 GiB', () => {
    const m = createMachine({ ramSize: 16 * GiB });
    const n = 200;
    for (let i = 0; i < n; i++) m.bus.write8(RAM + i * (16 * GiB / n) + 0x123, i);
    expect(m.bus.ram.allocatedBytes).toBe(n * CHUNK_SIZE);
    expect(m.bus.read8(RAM + 199 * (16 * GiB / n) + 0x123)).toBe(199);
    m.bus.write8(RAM + 16 * GiB - 1, 0xaa); // the last byte of RAM
    expect(m.bus.read8(RAM + 16 * GiB - 1)).toBe(0xaa);
  });

  it('pages in one chunk share it; reads of untouched memory return zero and allocate nothing', () => {
    const ram = new SparseRam(RAM, 16 * GiB);
    for (let p = 0; p < CHUNK_SIZE / 4096; p++) ram.write32(p * 4096, p);
    expect(ram.allocatedBytes).toBe(CHUNK_SIZE);
    expect(ram.read32(8 * GiB)).toBe(0);
    expect(ram.read8(12 * GiB + 5)).toBe(0);
    expect(ram.read16(3 * GiB + 1)).toBe(0);
    const dst = new Uint8Array(3 * CHUNK_SIZE).fill(9);
    ram.readInto(4 * GiB, dst, 0, dst.length);
    expect(dst.every((b) => b === 0)).toBe(true);
    expect(ram.chunkForRead(10 * GiB).every((b) => b === 0)).toBe(true);
    expect(ram.allocatedBytes).toBe(CHUNK_SIZE);
  });

  it('zero-filling untouched memory allocates nothing; a non-zero fill does', () => {
    const ram = new SparseRam(0, 4 * GiB);
    ram.fill(GiB, 0, 8 * CHUNK_SIZE);
    expect(ram.allocatedBytes).toBe(0);
    ram.fill(GiB + 10, 0xff, CHUNK_SIZE);
    expect(ram.allocatedBytes).toBe(2 * CHUNK_SIZE);
    expect(ram.read8(GiB + 9)).toBe(0);
    expect(ram.read8(GiB + 10 + CHUNK_SIZE - 1)).toBe(0xff);
    expect(ram.read8(GiB + 10 + CHUNK_SIZE)).toBe(0);
  });

  it('unaligned 16/32-bit accesses across a chunk boundary are byte-exact little-endian', () => {
    const ram = new SparseRam(0, 4 * CHUNK_SIZE);
    ram.write32(CHUNK_SIZE - 1, 0x4433_2211);
    expect([ram.read8(CHUNK_SIZE - 1), ram.read8(CHUNK_SIZE), ram.read8(CHUNK_SIZE + 1), ram.read8(CHUNK_SIZE + 2)]).toEqual([0x11, 0x22, 0x33, 0x44]);
    expect(ram.read32(CHUNK_SIZE - 1)).toBe(0x4433_2211);
    ram.write16(2 * CHUNK_SIZE - 1, 0xbbaa);
    expect(ram.read16(2 * CHUNK_SIZE - 1)).toBe(0xbbaa);
    expect(ram.allocatedBytes).toBe(3 * CHUNK_SIZE);
  });

  it('bulk copies across chunks with the word view and byte view agreeing', () => {
    const ram = new SparseRam(0, 4 * CHUNK_SIZE);
    const src = Uint8Array.from({ length: 2 * CHUNK_SIZE + 8 }, (_, i) => (i * 31) & 0xff);
    ram.writeFrom(CHUNK_SIZE - 4, src, 0, src.length);
    const back = new Uint8Array(src.length);
    ram.readInto(CHUNK_SIZE - 4, back, 0, back.length);
    expect(Buffer.from(back).toString('hex')).toBe(Buffer.from(src).toString('hex'));
    expect(ram.wordsFor(CHUNK_SIZE)[0]).toBe((src[4]! | (src[5]! << 8) | (src[6]! << 16) | (src[7]! << 24)) >>> 0);
  });

  it('a size that is not a positive multiple of 64 KiB is an API misuse that throws', () => {
    expect(() => new SparseRam(0, 1000)).toThrow(/multiple of 65536/);
    expect(() => new SparseRam(0, 0)).toThrow(/positive/);
  });
});
