import { describe, it, expect } from 'vitest';
import { PciFunction } from '../../src/hw/pcie/function.js';
import { PcieHostBridge, formatBdf } from '../../src/hw/pcie/host-bridge.js';
import type { AccessSize, MmioAccess, MmioDevice } from '../../src/hw/bus/mmio.js';
import { MachineCore } from '../../src/machine/machine.js';

const ECAM = 0x3f00_0000;
const cfg = (bus: number, dev: number, fn: number, reg: number) => ECAM + ((bus << 20) | (dev << 15) | (fn << 12) | reg);

class Scratch implements MmioDevice {
  readonly words = new Uint32Array(1024);
  constructor(readonly name: string) {}
  mmioRead(o: number, _s: AccessSize, acc: MmioAccess): void {
    acc.lo = this.words[o >>> 2]!;
  }
  mmioWrite(o: number, _s: AccessSize, acc: MmioAccess): void {
    this.words[o >>> 2] = acc.lo;
  }
}

function device(name: string, deviceId: number, bar: Scratch) {
  return new PciFunction({
    name, vendorId: 0x1b36, deviceId, revision: 1, classCode: 0xff0000,
    bars: [{ index: 0, size: 0x1000, kind: 'mem32', device: bar }],
  });
}

function setup(options: ConstructorParameters<typeof PcieHostBridge>[1] = {}) {
  const m = new MachineCore({ ramSize: 1 << 24 });
  const bridge = new PcieHostBridge(m, options);
  bridge.mapOn();
  const barA = new Scratch('a');
  const barB = new Scratch('b');
  const a = device('a', 0x0005, barA);
  const b = device('b', 0x0006, barB);
  bridge.attach(a, { bus: 0, device: 2, function: 0 });
  bridge.attach(b, { bus: 1, device: 0, function: 3 });
  return { m, bridge, a, b, barA, barB };
}

describe('ECAM', () => {
  it('PCIe 4.0 7.2.2: config offset = bus<<20 | dev<<15 | fn<<12 | reg reaches the right function', () => {
    const { m } = setup();
    expect(m.bus.read32(cfg(0, 2, 0, 0))).toBe(0x00051b36);
    expect(m.bus.read32(cfg(1, 0, 3, 0))).toBe(0x00061b36);
    expect(m.bus.read16(cfg(1, 0, 3, 2))).toBe(0x0006);
    expect(m.bus.read8(cfg(0, 2, 0, 0x0b))).toBe(0xff);
  });

  it('PCIe 4.0 2.3.2: config reads of absent functions return all ones without a bus error', () => {
    const { m } = setup();
    const before = m.bus.errorCount;
    expect(m.bus.read32(cfg(0, 0, 0, 0))).toBe(0xffffffff);
    expect(m.bus.read16(cfg(0, 2, 1, 0))).toBe(0xffff);
    expect(m.bus.read8(cfg(15, 31, 7, 0xfff))).toBe(0xff);
    m.bus.write32(cfg(0, 5, 0, 4), 0x6); // dropped
    expect(m.bus.errorCount).toBe(before);
  });

  it('a scan of every bus/device/function finds exactly the attached functions, as enumerate() lists them', () => {
    const { m, bridge } = setup();
    const found: string[] = [];
    for (let bus = 0; bus < 16; bus++)
      for (let dev = 0; dev < 32; dev++)
        for (let fn = 0; fn < 8; fn++) if (m.bus.read16(cfg(bus, dev, fn, 0)) !== 0xffff) found.push(formatBdf({ bus, device: dev, function: fn }));
    expect(found).toEqual(['00:02.0', '01:00.3']);
    expect(bridge.enumerate().map((e) => e.bdf)).toEqual(found);
  });

  it('PCI 3.0 6.2.1: Header Type bit 7 is set on every function of a multi-function device', () => {
    const { m, bridge } = setup();
    expect(m.bus.read8(cfg(1, 0, 3, 0x0e))).toBe(0); // alone so far
    bridge.attach(device('c', 7, new Scratch('c')), { bus: 1, device: 0, function: 0 });
    expect(m.bus.read8(cfg(1, 0, 0, 0x0e))).toBe(0x80);
    expect(m.bus.read8(cfg(1, 0, 3, 0x0e))).toBe(0x80);
    expect(m.bus.read8(cfg(0, 2, 0, 0x0e))).toBe(0);
  });

  it('64-bit config accesses are split into two DWORD configuration requests', () => {
    const { m } = setup();
    expect(m.bus.read64(cfg(0, 2, 0, 0x08))).toBe(0x00000000ff000001n);
  });

  it('wiring mistakes throw with the reason', () => {
    const { bridge } = setup();
    expect(() => bridge.attach(device('x', 9, new Scratch('x')), { bus: 0, device: 2, function: 0 })).toThrow(/already occupied/);
    expect(() => bridge.attach(device('y', 9, new Scratch('y')), { bus: 16, device: 0, function: 0 })).toThrow(/outside the ECAM window/);
  });
});

describe('BAR decode through the MMIO window', () => {
  it('PCI 3.0 6.2.2: a BAR decodes only while Memory Space Enable is set; otherwise the access is a decode error', () => {
    const { m, barA } = setup();
    barA.words[1] = 0xcafef00d;
    m.bus.write32(cfg(0, 2, 0, 0x10), 0x1000_4000);
    expect(m.bus.read32(0x1000_4004)).toBe(0);
    expect(m.bus.error).toBe(true);
    expect(m.bus.lastError?.reason).toBe('decode');
    m.bus.write16(cfg(0, 2, 0, 0x04), 0x2);
    expect(m.bus.read32(0x1000_4004)).toBe(0xcafef00d);
    expect(m.bus.error).toBe(false);
    m.bus.write32(0x1000_4008, 0x1234);
    expect(barA.words[2]).toBe(0x1234);
    m.bus.write16(cfg(0, 2, 0, 0x04), 0);
    m.bus.write32(0x1000_4008, 0x9999);
    expect(m.bus.error).toBe(true);
    expect(barA.words[2]).toBe(0x1234);
  });

  it('moving a BAR moves its decode; addresses no BAR claims are decode errors', () => {
    const { m, barA, barB } = setup();
    barA.words[0] = 0xa;
    barB.words[0] = 0xb;
    m.bus.write32(cfg(0, 2, 0, 0x10), 0x1000_0000);
    m.bus.write32(cfg(1, 0, 3, 0x10), 0x1000_1000);
    m.bus.write16(cfg(0, 2, 0, 0x04), 0x2);
    m.bus.write16(cfg(1, 0, 3, 0x04), 0x2);
    expect(m.bus.read32(0x1000_0000)).toBe(0xa);
    expect(m.bus.read32(0x1000_1000)).toBe(0xb);
    m.bus.write32(cfg(0, 2, 0, 0x10), 0x2000_0000);
    expect(m.bus.read32(0x2000_0000)).toBe(0xa);
    m.bus.read32(0x1000_0000);
    expect(m.bus.lastError?.reason).toBe('decode');
    m.bus.read32(0x3000_0000);
    expect(m.bus.error).toBe(true);
  });

  it('a 64-bit BAR assigned inside the 32-bit window decodes there', () => {
    const m = new MachineCore({ ramSize: 1 << 24 });
    const bridge = new PcieHostBridge(m);
    bridge.mapOn();
    const bar = new Scratch('wide');
    bar.words[0x100] = 0x64;
    const fn = new PciFunction({ name: 'wide', vendorId: 1, deviceId: 2, revision: 0, classCode: 0, bars: [{ index: 2, size: 0x10000, kind: 'mem64', prefetchable: true, device: bar }] });
    bridge.attach(fn, { bus: 0, device: 1, function: 0 });
    m.bus.write32(cfg(0, 1, 0, 0x18), 0x1800_000c);
    m.bus.write32(cfg(0, 1, 0, 0x1c), 0);
    m.bus.write16(cfg(0, 1, 0, 0x04), 0x2);
    expect(m.bus.read32(0x1800_0400)).toBe(0x64);
    m.bus.write32(cfg(0, 1, 0, 0x1c), 1); // now above 4 GiB: outside the window
    m.bus.read32(0x1800_0400);
    expect(m.bus.error).toBe(true);
  });
});

describe('RID to StreamID', () => {
  it('requester ID is bus<<8 | device<<3 | function and the default StreamID equals it', () => {
    const { a, b } = setup();
    expect(a.rid).toBe(0x0010);
    expect(b.rid).toBe(0x0103);
    expect(a.dma.sid).toBe(0x0010);
    expect(b.dma.sid).toBe(0x0103);
  });

  it('iommu-map entries <rid-base sid-base length> translate RIDs to StreamIDs', () => {
    const { a, b, bridge } = setup({ iommuMap: [{ ridBase: 0x0000, sidBase: 0x8000, length: 0x100 }, { ridBase: 0x0100, sidBase: 0x20, length: 0x100 }] });
    expect(a.dma.sid).toBe(0x8010);
    expect(b.dma.sid).toBe(0x23);
    expect(bridge.enumerate().map((e) => e.streamId)).toEqual([0x8010, 0x23]);
  });

  it('an iommu-map function is applied to every RID', () => {
    const { a, b } = setup({ iommuMap: (rid) => rid + 0x1000 });
    expect(a.dma.sid).toBe(0x1010);
    expect(b.dma.sid).toBe(0x1103);
  });

  it('a RID outside every iommu-map entry is a wiring mistake', () => {
    expect(() => setup({ iommuMap: [{ ridBase: 0, sidBase: 0, length: 0x100 }] })).toThrow(/no entry for RID 0x103/);
  });
});
