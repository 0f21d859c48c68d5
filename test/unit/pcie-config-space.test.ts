import { describe, it, expect } from 'vitest';
import { PciFunction, type PciFunctionSpec } from '../../src/hw/pcie/function.js';
import { CapId, ExtCapId } from '../../src/hw/pcie/config-space.js';
import { MmioAccess, type MmioDevice } from '../../src/hw/bus/mmio.js';

const nullDevice: MmioDevice = { name: 'null', mmioRead: (_o, _s, a) => void (a.lo = 0), mmioWrite: () => {} };

function zipLike(extra: Partial<PciFunctionSpec> = {}): PciFunction {
  return new PciFunction({
    name: 'zip',
    vendorId: 0x19e5,
    deviceId: 0xa250,
    revision: 0x21,
    classCode: 0x120000,
    subsystemVendorId: 0x19e5,
    subsystemId: 0x0123,
    bars: [
      { index: 0, size: 0x4000, kind: 'mem32', device: nullDevice },
      { index: 2, size: 0x400000, kind: 'mem64', prefetchable: true, device: nullDevice },
    ],
    msi: { vectors: 4, perVectorMask: true },
    pasid: { maxPasidWidth: 16 },
    pri: { outstandingRequests: 32 },
    ats: true,
    ...extra,
  });
}

const acc = new MmioAccess();
function rd(fn: PciFunction, off: number, size: 1 | 2 | 4 = 4): number {
  fn.config.mmioRead(off, size, acc.reset(0));
  expect(acc.error).toBe(false);
  return acc.lo >>> 0;
}
function wr(fn: PciFunction, off: number, value: number, size: 1 | 2 | 4 = 4): void {
  fn.config.mmioWrite(off, size, acc.reset(0, value >>> 0));
  expect(acc.error).toBe(false);
}

/** Walks the capability list from 0x34 and returns [id, offset] pairs. */
function capabilities(fn: PciFunction): [number, number][] {
  const out: [number, number][] = [];
  let p = rd(fn, 0x34, 1);
  while (p !== 0 && out.length < 48) {
    out.push([rd(fn, p, 1), p]);
    p = rd(fn, p + 1, 1);
  }
  return out;
}

function extCapabilities(fn: PciFunction): [number, number][] {
  const out: [number, number][] = [];
  let p = 0x100;
  while (p !== 0 && out.length < 48) {
    const h = rd(fn, p);
    if (h === 0) break;
    out.push([h & 0xffff, p]);
    p = h >>> 20;
  }
  return out;
}

describe('PCI type-0 header', () => {
  it('PCI 3.0 6.2.1: Vendor/Device ID, Revision and Class Code read as configured and ignore writes', () => {
    const fn = zipLike();
    expect(rd(fn, 0x00)).toBe(0xa25019e5);
    wr(fn, 0x00, 0x12345678);
    expect(rd(fn, 0x00)).toBe(0xa25019e5);
    expect(rd(fn, 0x08)).toBe(0x12000021);
    expect(rd(fn, 0x08, 1)).toBe(0x21);
    expect(rd(fn, 0x0b, 1)).toBe(0x12);
    expect(rd(fn, 0x0e, 1)).toBe(0x00); // header type 0, single function
    expect(rd(fn, 0x2c)).toBe(0x012319e5);
  });

  it('PCI 3.0 6.2.2: Command has Memory Space, Bus Master, INTx Disable writable; I/O Space and reserved bits read 0', () => {
    const fn = zipLike();
    wr(fn, 0x04, 0xffff, 2);
    expect(rd(fn, 0x04, 2)).toBe((1 << 1) | (1 << 2) | (1 << 6) | (1 << 8) | (1 << 10));
    expect(fn.memoryEnabled).toBe(true);
    expect(fn.busMasterEnabled).toBe(true);
    wr(fn, 0x04, 0, 2);
    expect(fn.memoryEnabled).toBe(false);
    expect(fn.busMasterEnabled).toBe(false);
  });

  it('PCI 3.0 6.2.3: Status has Capabilities List set; error bits are RW1C and a Command write leaves them alone', () => {
    const fn = zipLike();
    expect(rd(fn, 0x06, 2) & 0x10).toBe(0x10);
    fn.config.set('CommandStatus', fn.config.getNum('CommandStatus') | (1 << 29)); // Received Master Abort
    wr(fn, 0x04, 0x6, 2);
    expect(rd(fn, 0x06, 2) & (1 << 13)).toBe(1 << 13);
    wr(fn, 0x06, 1 << 13, 2);
    expect(rd(fn, 0x06, 2) & (1 << 13)).toBe(0);
    expect(rd(fn, 0x04, 2)).toBe(0x6);
  });

  it('PCI 3.0 6.2.5.1: a 32-bit BAR reads back its size mask after all-ones is written', () => {
    const fn = zipLike();
    wr(fn, 0x10, 0xffffffff);
    expect(rd(fn, 0x10)).toBe(0xffffc000);
    wr(fn, 0x10, 0x10004000);
    expect(rd(fn, 0x10)).toBe(0x10004000);
    wr(fn, 0x10, 0x10004abc);
    expect(rd(fn, 0x10)).toBe(0x10004000); // bits below the size are hardwired to 0
  });

  it('PCI 3.0 6.2.5.1: a 64-bit prefetchable BAR pair reports type 10b and prefetchable, and sizes across both dwords', () => {
    const fn = zipLike();
    expect(rd(fn, 0x18) & 0xf).toBe(0b1100);
    wr(fn, 0x18, 0xffffffff);
    wr(fn, 0x1c, 0xffffffff);
    expect(rd(fn, 0x18)).toBe(0xffc0000c);
    expect(rd(fn, 0x1c)).toBe(0xffffffff);
    wr(fn, 0x18, 0x20000000);
    wr(fn, 0x1c, 0x1);
    expect(fn.barBase[2]).toBe(0x1_2000_0000);
  });

  it('PCI 3.0 6.2.5.1: unimplemented BARs read as zero even after all-ones is written', () => {
    const fn = zipLike();
    for (const off of [0x14, 0x20, 0x24]) {
      wr(fn, off, 0xffffffff);
      expect(rd(fn, off)).toBe(0);
    }
  });

  it('PCI 3.0 6.2.4: Interrupt Line is RW and Interrupt Pin is RO (0: no INTx)', () => {
    const fn = zipLike();
    wr(fn, 0x3c, 0xffff, 2);
    expect(rd(fn, 0x3c, 2)).toBe(0x00ff);
  });

  it('PCIe 4.0 7.5.1: unimplemented configuration registers read as zero and ignore writes', () => {
    const fn = zipLike();
    wr(fn, 0xf0, 0xdeadbeef);
    expect(rd(fn, 0xf0)).toBe(0);
    wr(fn, 0xffc, 0xdeadbeef);
    expect(rd(fn, 0xffc)).toBe(0);
  });

  it('rejects a BAR spec whose size is not a power of two >= 4096', () => {
    expect(() => zipLike({ bars: [{ index: 0, size: 0x3000, kind: 'mem32', device: nullDevice }] })).toThrow(/power of two/);
    expect(() => zipLike({ bars: [{ index: 5, size: 0x1000, kind: 'mem64', device: nullDevice }] })).toThrow(/does not fit/);
  });
});

describe('capability list', () => {
  it('PCI 3.0 6.7: the list from 0x34 holds PCI Express, MSI and MSI-X in order and ends with 0', () => {
    const fn = zipLike({ msix: { vectors: 8, tableBar: 2, tableOffset: 0x1000, pbaBar: 2, pbaOffset: 0x2000 } });
    expect(capabilities(fn)).toEqual([[CapId.PCI_EXPRESS, 0x40], [CapId.MSI, 0x80], [CapId.MSIX, 0xa0]]);
  });

  it('PCIe 4.0 7.5.3.2: the PCI Express capability is version 2, Endpoint, and advertises FLR', () => {
    const fn = zipLike();
    expect((rd(fn, 0x42, 2) & 0xf)).toBe(2);
    expect((rd(fn, 0x42, 2) >> 4) & 0xf).toBe(0);
    expect((rd(fn, 0x44) >>> 28) & 1).toBe(1);
  });

  it('PCI 3.0 6.8.1.3: MSI Message Control reports 64-bit, per-vector masking and Multiple Message Capable', () => {
    const fn = zipLike();
    const mc = rd(fn, 0x82, 2);
    expect(mc & 1).toBe(0);
    expect((mc >> 1) & 7).toBe(2); // 4 vectors
    expect((mc >> 7) & 1).toBe(1);
    expect((mc >> 8) & 1).toBe(1);
    wr(fn, 0x82, 0xffff, 2);
    expect(rd(fn, 0x82, 2)).toBe(mc | 1 | (7 << 4));
  });

  it('PCI 3.0 6.8.1.4-6.8.1.8: MSI address bits 1:0 are 0, data is 16 bits, mask bits exist only for capable vectors, pending is RO', () => {
    const fn = zipLike();
    wr(fn, 0x84, 0xffffffff);
    expect(rd(fn, 0x84)).toBe(0xfffffffc);
    wr(fn, 0x88, 0x12345678);
    expect(rd(fn, 0x88)).toBe(0x12345678);
    wr(fn, 0x8c, 0xffffffff);
    expect(rd(fn, 0x8c)).toBe(0xffff);
    wr(fn, 0x90, 0xffffffff);
    expect(rd(fn, 0x90)).toBe(0xf);
    wr(fn, 0x94, 0xffffffff);
    expect(rd(fn, 0x94)).toBe(0);
  });

  it('PCIe 4.0 7.6.3: extended capabilities chain from 0x100 (ATS, PRI, PASID), version 1', () => {
    const fn = zipLike();
    expect(extCapabilities(fn)).toEqual([[ExtCapId.ATS, 0x100], [ExtCapId.PRI, 0x108], [ExtCapId.PASID, 0x118]]);
    for (const [, at] of extCapabilities(fn)) expect((rd(fn, at) >>> 16) & 0xf).toBe(1);
  });

  it('PCIe 4.0 7.6.3: a function without extended capabilities reads 0 at 0x100', () => {
    const fn = zipLike({ pasid: undefined, pri: undefined, ats: false });
    expect(rd(fn, 0x100)).toBe(0);
  });

  it('PCIe 4.0 7.8.8: PASID capability reports Max PASID Width, Exec and Privileged support; Control enables are RW', () => {
    const fn = zipLike();
    const cap = rd(fn, 0x11c, 2);
    expect((cap >> 8) & 0x1f).toBe(16);
    expect(cap & 0b110).toBe(0b110);
    expect(fn.pasidEnabled).toBe(false);
    wr(fn, 0x11e, 0xffff, 2);
    expect(rd(fn, 0x11e, 2)).toBe(0b111);
    expect(fn.pasidEnabled && fn.pasidExecEnabled && fn.pasidPrivEnabled).toBe(true);
    wr(fn, 0x11c, 0, 2); // capability half is RO
    expect(rd(fn, 0x11c, 2)).toBe(cap);
  });

  it('PCIe 4.0 7.8.8.2: a function without exec/priv support keeps those enables at 0', () => {
    const fn = zipLike({ pasid: { maxPasidWidth: 20, exec: false, priv: false } });
    expect(rd(fn, 0x11c, 2)).toBe(20 << 8);
    wr(fn, 0x11e, 0x7, 2);
    expect(rd(fn, 0x11e, 2)).toBe(1);
  });

  it('PCIe 4.0 10.5.2: PRI reports its capacity, Stopped at reset and PRG Response PASID Required with PASID; allocation is RW', () => {
    const fn = zipLike();
    expect(rd(fn, 0x110)).toBe(32);
    expect(rd(fn, 0x10e, 2)).toBe((1 << 8) | (1 << 15));
    wr(fn, 0x114, 16);
    expect(rd(fn, 0x114)).toBe(16);
    wr(fn, 0x10c, 1, 2);
    expect(fn.priEnabled).toBe(true);
    expect(rd(fn, 0x10e, 2) & (1 << 8)).toBe(0); // no longer stopped
    wr(fn, 0x10c, 0, 2);
    expect(rd(fn, 0x10e, 2) & (1 << 8)).toBe(1 << 8);
  });

  it('PCIe 4.0 10.5.1: ATS Control has STU and Enable writable', () => {
    const fn = zipLike();
    wr(fn, 0x106, 0xffff, 2);
    expect(rd(fn, 0x106, 2)).toBe(0x801f);
    expect(fn.atsEnabled).toBe(true);
  });
});

describe('Function Level Reset', () => {
  it('PCIe 4.0 6.6.2: Initiate FLR returns config registers to reset values, reads as 0, and calls onReset', () => {
    const fn = zipLike();
    let resets = 0;
    fn.onReset = () => resets++;
    wr(fn, 0x10, 0x10000000);
    wr(fn, 0x04, 0x6, 2);
    wr(fn, 0x82, 1, 2);
    wr(fn, 0x11e, 1, 2);
    wr(fn, 0x3c, 0x20, 1);
    expect(fn.memoryEnabled).toBe(true);
    wr(fn, 0x48, 1 << 15, 2);
    expect(resets).toBe(1);
    expect(rd(fn, 0x48, 2) & (1 << 15)).toBe(0);
    expect(rd(fn, 0x10)).toBe(0);
    expect(rd(fn, 0x04, 2)).toBe(0);
    expect(fn.memoryEnabled).toBe(false);
    expect(fn.busMasterEnabled).toBe(false);
    expect(rd(fn, 0x82, 2) & 1).toBe(0);
    expect(fn.pasidEnabled).toBe(false);
    expect(rd(fn, 0x3c, 1)).toBe(0);
    expect(rd(fn, 0x00)).toBe(0xa25019e5);
  });

  it('PCIe 4.0 7.5.3.4: Device Control fields other than Initiate FLR do not reset the function', () => {
    const fn = zipLike();
    let resets = 0;
    fn.onReset = () => resets++;
    wr(fn, 0x48, 0x7fff, 2);
    expect(resets).toBe(0);
  });
});
