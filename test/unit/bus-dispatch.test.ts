import { describe, expect, it } from 'vitest';
import { PhysicalBus } from '../../src/hw/bus/bus.js';
import type { AccessSize, MmioAccess, MmioDevice } from '../../src/hw/bus/mmio.js';
import { CHUNK_SIZE } from '../../src/hw/bus/ram.js';
import { Clock } from '../../src/machine/clock.js';
import { TraceKind } from '../../src/trace/record.js';
import { TraceRing } from '../../src/trace/ring.js';

const RAM = 0x4000_0000;
const MiB = 1 << 20;

/** A register-less device: a little-endian byte store that logs accesses and can refuse them. */
class ByteDevice implements MmioDevice {
  readonly log: string[] = [];
  readonly bytes: Uint8Array;
  refuse = false;
  decodeHole = false;
  constructor(
    readonly name: string,
    size: number,
  ) {
    this.bytes = new Uint8Array(size);
  }
  mmioRead(offset: number, size: AccessSize, acc: MmioAccess): void {
    this.log.push(`r${size}@${offset.toString(16)}`);
    if (this.refuse || this.decodeHole) {
      acc.error = true;
      acc.decodeError = this.decodeHole;
      return;
    }
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < size; i++) {
      if (i < 4) lo |= this.bytes[offset + i]! << (8 * i);
      else hi |= this.bytes[offset + i]! << (8 * (i - 4));
    }
    acc.lo = lo >>> 0;
    acc.hi = hi >>> 0;
  }
  mmioWrite(offset: number, size: AccessSize, acc: MmioAccess): void {
    this.log.push(`w${size}@${offset.toString(16)}=${acc.hi ? acc.hi.toString(16) + ':' : ''}${acc.lo.toString(16)}`);
    if (this.refuse) {
      acc.error = true;
      return;
    }
    for (let i = 0; i < size; i++) this.bytes[offset + i] = ((i < 4 ? acc.lo : acc.hi) >>> (8 * (i % 4))) & 0xff;
  }
}

function makeBus(ramSize = 16 * MiB) {
  const ring = new TraceRing(new Clock(), 256);
  ring.enable();
  const bus = new PhysicalBus(RAM, ramSize, ring);
  const uart = new ByteDevice('uart', 0x1000);
  const smmu = new ByteDevice('smmu', 0x2_0000);
  const gic = new ByteDevice('gic', 0x1_0000);
  // mapped out of order on purpose: lookup must not depend on map order
  bus.map('smmu', 0x0905_0000, 0x2_0000, smmu);
  bus.map('gic', 0x0800_0000, 0x1_0000, gic);
  bus.map('uart', 0x0900_0000, 0x1000, uart);
  return { bus, ring, uart, smmu, gic };
}

describe('bus: dispatch by region', () => {
  it('routes each access to the region holding it, with region-relative offsets', () => {
    const { bus, uart, smmu, gic } = makeBus();
    bus.write32(0x0900_0018, 0x11);
    bus.write32(0x0905_0044, 0x22);
    bus.write32(0x0800_0000, 0x33);
    bus.write32(0x0906_fffc, 0x44); // last word of the SMMU's page 1
    expect(uart.log).toEqual(['w4@18=11']);
    expect(smmu.log).toEqual(['w4@44=22', 'w4@1fffc=44']);
    expect(gic.log).toEqual(['w4@0=33']);
    expect(bus.regionList.map((r) => r.name)).toEqual(['gic', 'uart', 'smmu']);
    expect(bus.findRegion(0x0900_1000)).toBeUndefined();
  });

  it('traces MMIO reads and writes with the initiator, address, size and value', () => {
    const { bus, ring } = makeBus();
    bus.write32(0x0900_0000, 0xcafe);
    bus.read32(0x0900_0000);
    const recs = [...ring.records()];
    expect(recs.map((r) => [r.kind, r.initiator, Number(r.pa), r.size, Number(r.value)])).toEqual([
      [TraceKind.MmioWrite, 'bench', 0x0900_0000, 4, 0xcafe],
      [TraceKind.MmioRead, 'bench', 0x0900_0000, 4, 0xcafe],
    ]);
  });

  it('mapping a region over another region or over RAM is a wiring error that throws', () => {
    const { bus } = makeBus();
    expect(() => bus.map('x', 0x0900_0800, 0x1000, new ByteDevice('x', 0x1000))).toThrow(/overlaps uart/);
    expect(() => bus.map('y', RAM + 0x1000, 0x1000, new ByteDevice('y', 0x1000))).toThrow(/overlaps RAM/);
  });
});

describe('bus: access widths', () => {
  it('RAM: 8/16/32/64-bit little-endian stores and loads, 64-bit values as bigint at the API', () => {
    const { bus } = makeBus();
    bus.write64(RAM + 0x100, 0x0123_4567_89ab_cdefn);
    expect(bus.read8(RAM + 0x100)).toBe(0xef);
    expect(bus.read16(RAM + 0x100)).toBe(0xcdef);
    expect(bus.read32(RAM + 0x100)).toBe(0x89ab_cdef);
    expect(bus.read32(RAM + 0x104)).toBe(0x0123_4567);
    expect(bus.read64(RAM + 0x100)).toBe(0x0123_4567_89ab_cdefn);
    bus.write64(RAM + 0x108, 0xffff_ffff_ffff_ffffn);
    expect(bus.read64(RAM + 0x108)).toBe(0xffff_ffff_ffff_ffffn);
    bus.write16(RAM + 0x201, 0xbeef);
    bus.write8(RAM + 0x200, 0x1ff); // only the low byte is stored
    expect(bus.read32(RAM + 0x200)).toBe(0x00be_efff);
  });

  it('RAM: unaligned 16/32/64-bit accesses across a 64 KiB chunk boundary', () => {
    const { bus } = makeBus();
    const edge = RAM + CHUNK_SIZE;
    bus.write32(edge - 2, 0xa1b2_c3d4);
    expect(bus.read16(edge - 2)).toBe(0xc3d4);
    expect(bus.read16(edge)).toBe(0xa1b2);
    expect(bus.read32(edge - 2)).toBe(0xa1b2_c3d4);
    bus.write64(edge - 4, 0x1122_3344_5566_7788n);
    expect(bus.read64(edge - 4)).toBe(0x1122_3344_5566_7788n);
    expect(bus.read32(edge)).toBe(0x1122_3344);
  });

  it('MMIO: the device sees size and lo/hi halves; narrow results are masked to their width', () => {
    const { bus, uart } = makeBus();
    bus.write8(0x0900_0001, 0x1234); // masked to 0x34 before the device sees it
    bus.write16(0x0900_0002, 0xabcd);
    bus.write64(0x0900_0008, 0xdead_beef_0000_0001n);
    expect(uart.log).toEqual(['w1@1=34', 'w2@2=abcd', 'w8@8=deadbeef:1']);
    expect(bus.read32(0x0900_0000)).toBe(0xabcd_3400);
    expect(bus.read8(0x0900_0003)).toBe(0xab);
    expect(bus.read64(0x0900_0008)).toBe(0xdead_beef_0000_0001n);
  });
});

describe('bus: errors are recorded and returned, never thrown', () => {
  it('an access to nothing is DECERR: value 0, error flag, count, lastError and a bus_error record', () => {
    const { bus, ring } = makeBus();
    expect(bus.read32(0x0000_1000)).toBe(0);
    expect(bus.error).toBe(true);
    expect(bus.lastError).toEqual({ pa: 0x1000, size: 4, write: false, initiator: 'bench', reason: 'decode' });
    bus.write64(0x2000_0000, 1n);
    expect(bus.lastError).toMatchObject({ pa: 0x2000_0000, size: 8, write: true, reason: 'decode' });
    expect(bus.errorCount).toBe(2);
    const errs = [...ring.records()].filter((r) => r.kind === TraceKind.BusError);
    expect(errs.map((r) => [Number(r.pa), r.aux])).toEqual([
      [0x1000, 0],
      [0x2000_0000, 1],
    ]);
    bus.read32(RAM);
    expect(bus.error).toBe(false); // the flag describes the last access only
  });

  it('an access running past the end of a region or of RAM is DECERR', () => {
    const { bus } = makeBus(16 * MiB);
    bus.read64(0x0900_0ffc);
    expect(bus.lastError?.reason).toBe('decode');
    bus.read32(RAM + 16 * MiB - 2);
    expect(bus.error).toBe(true);
    bus.read8(RAM + 16 * MiB - 1);
    expect(bus.error).toBe(false);
  });

  it('a device that refuses is SLVERR; a bridge reporting a hole is DECERR', () => {
    const { bus, uart, smmu } = makeBus();
    uart.refuse = true;
    bus.write32(0x0900_0000, 1);
    expect(bus.lastError).toMatchObject({ reason: 'slave', write: true });
    smmu.decodeHole = true;
    expect(bus.read32(0x0905_0000)).toBe(0);
    expect(bus.lastError).toMatchObject({ reason: 'decode', write: false });
  });

  it('absurd addresses (negative, beyond 2^52, bigint beyond 2^64) are bus errors, not exceptions', () => {
    const { bus } = makeBus();
    for (const pa of [-4, 2 ** 52, 2 ** 60, Number.MAX_SAFE_INTEGER]) {
      expect(bus.read32(pa)).toBe(0);
      expect(bus.error).toBe(true);
    }
    bus.write32(1n << 70n, 5);
    expect(bus.error).toBe(true);
    expect(bus.readBytes(-100, 16)).toEqual(new Uint8Array(16));
  });
});

describe('bus: bulk reads and writes', () => {
  it('RAM runs across several 64 KiB chunks copy exactly (seeded data)', () => {
    const { bus } = makeBus();
    let s = 12345;
    const data = Uint8Array.from({ length: 3 * CHUNK_SIZE + 123 }, () => ((s = (s * 1103515245 + 12345) >>> 0), s >>> 24));
    const at = RAM + CHUNK_SIZE - 77;
    bus.writeBytes(at, data);
    expect(Buffer.from(bus.readBytes(at, data.length)).toString('hex')).toBe(Buffer.from(data).toString('hex'));
    expect(bus.readBytes(at - 16, 16)).toEqual(new Uint8Array(16));
    // a read straddling touched and untouched memory
    const tail = bus.readBytes(at + data.length - 8, 24);
    expect([...tail.subarray(0, 8)]).toEqual([...data.subarray(data.length - 8)]);
    expect([...tail.subarray(8)]).toEqual(new Array<number>(16).fill(0));
  });

  it('bulk MMIO uses one access for aligned 2/4/8-byte runs and bytes otherwise', () => {
    const { bus, uart } = makeBus();
    bus.writeBytes(0x0900_0010, Uint8Array.of(1, 2, 3, 4));
    bus.writeBytes(0x0900_0021, Uint8Array.of(9, 8, 7));
    expect(uart.log).toEqual(['w4@10=4030201', 'w1@21=9', 'w1@22=8', 'w1@23=7']);
    expect([...bus.readBytes(0x0900_0010, 8)]).toEqual([1, 2, 3, 4, 0, 0, 0, 0]);
  });

  it('a bulk access running off the end of RAM fails and zero-fills what it could not read', () => {
    const { bus } = makeBus(16 * MiB);
    const end = RAM + 16 * MiB;
    bus.writeBytes(end - 4, Uint8Array.of(1, 2, 3, 4));
    const dst = new Uint8Array(12).fill(0xee);
    expect(bus.readInto(end - 4, dst, 0, 12, bus.benchInitiator)).toBe(false);
    expect([...dst]).toEqual([1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(bus.writeFrom(end - 2, new Uint8Array(8), 0, 8, bus.benchInitiator)).toBe(false);
    expect(bus.lastError).toMatchObject({ pa: end, write: true, reason: 'decode' });
  });
});
