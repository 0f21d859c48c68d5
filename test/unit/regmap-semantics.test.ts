import { describe, expect, it } from 'vitest';
import { PhysicalBus } from '../../src/hw/bus/bus.js';
import { RegisterBlock, type RegDef } from '../../src/hw/regs/regmap.js';
import { Clock } from '../../src/machine/clock.js';
import { TraceRing } from '../../src/trace/ring.js';

const BASE = 0x0a00_0000;

function setup(options: { allowNarrow?: boolean; unmappedRazWi?: boolean } = {}) {
  const writes: [number, number, number][] = [];
  const wideWrites: [bigint, bigint, bigint][] = [];
  const defs: RegDef[] = [
    { name: 'CTRL', offset: 0x00, reset: 0x1, fields: [{ name: 'EN', lsb: 0, width: 1 }, { name: 'MODE', lsb: 1, width: 2 }] },
    { name: 'STATUS', offset: 0x04, access: 'RO', reset: 0x80 },
    { name: 'IRQ_STS', offset: 0x08, access: 'W1C' },
    { name: 'IRQ_SET', offset: 0x0c, access: 'W1S' },
    { name: 'COUNT', offset: 0x10, access: 'RC' },
    { name: 'KEY', offset: 0x14, access: 'WO' },
    { name: 'BASE', offset: 0x18, width: 64, reset: 0x1_0000_0000n },
    {
      name: 'MIX',
      offset: 0x20,
      fields: [
        { name: 'DATA', lsb: 0, width: 8 },
        { name: 'ERR', lsb: 8, width: 1, access: 'W1C' },
        { name: 'BUSY', lsb: 9, width: 1, access: 'RO' },
      ],
    },
    { name: 'DOORBELL', offset: 0x24, write: (value, old, written) => writes.push([value, old, written]) },
    { name: 'STATE', offset: 0x28, access: 'RO', read: (stored) => stored | 0x100 },
    { name: 'PAIR_LO', offset: 0x30 },
    { name: 'PAIR_HI', offset: 0x34 },
    { name: 'HALF_RSVD', offset: 0x38, reserved: 0xffff0000 },
    { name: 'WIDE_HOOKED', offset: 0x40, width: 64, write: (value, old, written) => wideWrites.push([value, old, written]), read: (stored) => stored | (1n << 63n) },
  ];
  const block = new RegisterBlock('dev', defs, options);
  const ring = new TraceRing(new Clock(), 64);
  const bus = new PhysicalBus(0x4000_0000, 1 << 20, ring);
  bus.map('dev', BASE, 0x1000, block);
  return { block, bus, writes, wideWrites };
}

describe('register maps: per-bit access rules', () => {
  it('reset values read back; reserved (RES0) bits read as zero and ignore writes', () => {
    const { bus } = setup();
    expect(bus.read32(BASE + 0x00)).toBe(0x1);
    expect(bus.read32(BASE + 0x04)).toBe(0x80);
    bus.write32(BASE + 0x00, 0xffff_ffff);
    expect(bus.read32(BASE + 0x00)).toBe(0x7); // only EN and MODE exist
    bus.write32(BASE + 0x38, 0xffff_ffff);
    expect(bus.read32(BASE + 0x38)).toBe(0xffff);
  });

  it('RO ignores writes without an error', () => {
    const { bus } = setup();
    bus.write32(BASE + 0x04, 0);
    expect(bus.error).toBe(false);
    expect(bus.read32(BASE + 0x04)).toBe(0x80);
  });

  it('W1C clears the bits written as 1 and keeps the rest; W1S sets them', () => {
    const { bus, block } = setup();
    block.set('IRQ_STS', 0b1111);
    bus.write32(BASE + 0x08, 0b0101);
    expect(bus.read32(BASE + 0x08)).toBe(0b1010);
    bus.write32(BASE + 0x08, 0);
    expect(bus.read32(BASE + 0x08)).toBe(0b1010);
    bus.write32(BASE + 0x0c, 0b0001);
    bus.write32(BASE + 0x0c, 0b1000);
    bus.write32(BASE + 0x0c, 0);
    expect(bus.read32(BASE + 0x0c)).toBe(0b1001);
  });

  it('RC bits clear after a guest read; the hardware view (get) has no side effect', () => {
    const { bus, block } = setup();
    block.set('COUNT', 42);
    expect(block.get('COUNT')).toBe(42n);
    expect(bus.read32(BASE + 0x10)).toBe(42);
    expect(bus.read32(BASE + 0x10)).toBe(0);
    block.set('COUNT', 7);
    bus.write32(BASE + 0x10, 0); // RC bits are not writable
    expect(block.get('COUNT')).toBe(7n);
  });

  it('WO bits take writes and read as zero', () => {
    const { bus, block } = setup();
    bus.write32(BASE + 0x14, 0xabcd);
    expect(block.get('KEY')).toBe(0xabcdn);
    expect(bus.read32(BASE + 0x14)).toBe(0);
  });

  it('fields with their own access mix RW, W1C and RO in one register', () => {
    const { bus, block } = setup();
    block.set('MIX', 0x3ff);
    bus.write32(BASE + 0x20, 0x1_0000 | 0x100 | 0x5a); // reserved bit 16, clear ERR, DATA=0x5a
    expect(bus.read32(BASE + 0x20)).toBe(0x200 | 0x5a);
    expect(block.field('MIX', 'BUSY')).toBe(1);
    expect(block.field('MIX', 'ERR')).toBe(0);
    block.setField('MIX', 'DATA', 0x1ff); // truncated to the field width
    expect(block.field('MIX', 'DATA')).toBe(0xff);
  });
});

describe('register maps: 64-bit registers and halves', () => {
  it('a 64-bit register is written and read as two 32-bit halves or one 64-bit access', () => {
    const { bus, block } = setup();
    expect(bus.read64(BASE + 0x18)).toBe(0x1_0000_0000n);
    bus.write32(BASE + 0x18, 0x89ab_cdef);
    expect(block.get('BASE')).toBe(0x1_89ab_cdefn); // the high half is untouched
    bus.write32(BASE + 0x1c, 0x0123_4567);
    expect(bus.read64(BASE + 0x18)).toBe(0x0123_4567_89ab_cdefn);
    bus.write64(BASE + 0x18, 0xffff_0000_ffff_0000n);
    expect([bus.read32(BASE + 0x18), bus.read32(BASE + 0x1c)]).toEqual([0xffff_0000, 0xffff_0000]);
  });

  it('a 64-bit access to two adjacent 32-bit registers reaches both', () => {
    const { bus, block } = setup();
    bus.write64(BASE + 0x30, 0x2222_2222_1111_1111n);
    expect([block.get('PAIR_LO'), block.get('PAIR_HI')]).toEqual([0x1111_1111n, 0x2222_2222n]);
    expect(bus.read64(BASE + 0x30)).toBe(0x2222_2222_1111_1111n);
  });
});

describe('register maps: hooks', () => {
  it('write hooks get the new value, the old value and the bits written', () => {
    const { bus, writes } = setup();
    bus.write32(BASE + 0x24, 5);
    bus.write32(BASE + 0x24, 9);
    expect(writes).toEqual([
      [5, 0, 5],
      [9, 5, 9],
    ]);
  });

  it('hooks of a 64-bit register see the whole register as BigInts, also for a write of one half', () => {
    const { bus, block, wideWrites } = setup();
    bus.write32(BASE + 0x44, 0x8000_0001);
    bus.write64(BASE + 0x40, 0x1_0000_0002n);
    expect(wideWrites).toEqual([
      [0x8000_0001_0000_0000n, 0n, 0x8000_0001_0000_0000n],
      [0x1_0000_0002n, 0x8000_0001_0000_0000n, 0x1_0000_0002n],
    ]);
    expect(bus.read64(BASE + 0x40)).toBe(0x8000_0001_0000_0002n);
    expect(bus.read32(BASE + 0x44)).toBe(0x8000_0001);
    expect(block.get('WIDE_HOOKED')).toBe(0x1_0000_0002n);
  });

  it('read hooks compute the value the guest sees from the stored one', () => {
    const { bus, block } = setup();
    block.set('STATE', 3);
    expect(bus.read32(BASE + 0x28)).toBe(0x103);
    expect(block.get('STATE')).toBe(3n);
  });
});

describe('register maps: refused accesses are SLVERR on the bus', () => {
  it('8- and 16-bit accesses are refused unless the block allows narrow accesses', () => {
    const { bus, block } = setup();
    expect(bus.read8(BASE)).toBe(0);
    expect(bus.lastError).toMatchObject({ reason: 'slave', size: 1, write: false });
    expect(block.lastIssue).toEqual({ offset: 0, size: 1, write: false, reason: 'width' });
    bus.write16(BASE, 0xffff);
    expect(bus.lastError).toMatchObject({ reason: 'slave', size: 2, write: true });
    expect(block.get('CTRL')).toBe(1n);
  });

  it('misaligned accesses, unmapped offsets and a 64-bit access at the high word of a pair are refused', () => {
    const { bus, block } = setup();
    bus.read32(BASE + 0x02);
    expect(block.lastIssue?.reason).toBe('alignment');
    expect(bus.lastError?.reason).toBe('slave');
    bus.write32(BASE + 0x100, 1);
    expect(block.lastIssue).toEqual({ offset: 0x100, size: 4, write: true, reason: 'unmapped' });
    bus.read64(BASE + 0x34);
    expect(block.lastIssue?.reason).toBe('alignment');
    expect(bus.errorCount).toBe(3);
  });

  it('allowNarrow: a byte write changes only its lane; a 16-bit read returns its lane', () => {
    const { bus, block } = setup({ allowNarrow: true });
    block.set('PAIR_LO', 0x4433_2211);
    bus.write8(BASE + 0x31, 0xaa);
    expect(block.get('PAIR_LO')).toBe(0x4433_aa11n);
    expect(bus.read16(BASE + 0x32)).toBe(0x4433);
    expect(bus.read8(BASE + 0x1d)).toBe(0); // byte 5 of BASE (0x1_0000_0000): lane of the high half
    expect(bus.read8(BASE + 0x1c)).toBe(1);
  });

  it('unmappedRazWi: holes read as zero and ignore writes, other mistakes still abort', () => {
    const { bus } = setup({ unmappedRazWi: true });
    expect(bus.read32(BASE + 0x200)).toBe(0);
    expect(bus.error).toBe(false);
    bus.write32(BASE + 0x200, 1);
    expect(bus.error).toBe(false);
    bus.read32(BASE + 0x1);
    expect(bus.error).toBe(true);
  });
});

describe('register maps: the block as data', () => {
  it('reset restores every register; definitions list in offset order; readReg/writeReg apply the rules', () => {
    const { block } = setup();
    block.writeReg('CTRL', 0x6);
    block.set('IRQ_STS', 3);
    block.writeReg('IRQ_STS', 1);
    expect(block.get('IRQ_STS')).toBe(2n);
    block.set('COUNT', 4);
    expect(block.readReg('COUNT')).toBe(4n);
    expect(block.get('COUNT')).toBe(0n);
    block.reset();
    expect([block.get('CTRL'), block.get('IRQ_STS'), block.get('BASE')]).toEqual([1n, 0n, 0x1_0000_0000n]);
    const offsets = block.definitions.map((d) => d.offset);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
  });

  it('mistakes in a register table throw at construction, naming the register', () => {
    expect(() => new RegisterBlock('x', [{ name: 'A', offset: 2 }])).toThrow(/x\.A: misaligned offset/);
    expect(() => new RegisterBlock('x', [{ name: 'W', offset: 4, width: 64 }])).toThrow(/misaligned/);
    expect(() => new RegisterBlock('x', [{ name: 'A', offset: 0, width: 64 }, { name: 'B', offset: 4 }])).toThrow(/x\.B: offset overlaps A/);
    expect(() => new RegisterBlock('x', [{ name: 'A', offset: 0 }, { name: 'A', offset: 4 }])).toThrow(/duplicate register A/);
    expect(() => new RegisterBlock('x', [{ name: 'A', offset: 0, fields: [{ name: 'F', lsb: 30, width: 4 }] }])).toThrow(/A\.F: field beyond register width/);
    const { block } = setup();
    expect(() => block.get('NOPE')).toThrow(/dev: no register NOPE/);
    expect(() => block.field('CTRL', 'NOPE')).toThrow(/dev\.CTRL: no field NOPE/);
  });
});
