import { describe, it, expect } from 'vitest';
import { PciFunction } from '../../src/hw/pcie/function.js';
import { PcieHostBridge } from '../../src/hw/pcie/host-bridge.js';
import { MmioAccess, type AccessSize, type MmioDevice } from '../../src/hw/bus/mmio.js';
import { MachineCore } from '../../src/machine/machine.js';
import { DmaStatus, type Iommu } from '../../src/hw/bus/dma.js';
import { TraceKind } from '../../src/trace/record.js';

const DOORBELL = 0x0800_0040; // a fake GIC ITS GITS_TRANSLATER-like doorbell page

/** Records every write it receives, with the StreamID sideband. */
class Doorbell implements MmioDevice {
  readonly name = 'doorbell';
  writes: { offset: number; size: number; value: number; sid: number }[] = [];
  mmioRead(_o: number, _s: AccessSize, acc: MmioAccess): void {
    acc.lo = 0;
  }
  mmioWrite(offset: number, size: AccessSize, acc: MmioAccess): void {
    this.writes.push({ offset, size, value: acc.lo >>> 0, sid: acc.streamId });
  }
}

const nullDevice: MmioDevice = { name: 'regs', mmioRead: (_o, _s, a) => void (a.lo = 0x5a5a5a5a), mmioWrite: () => {} };

function setup(opts: { msix?: boolean } = {}) {
  const m = new MachineCore({ ramSize: 1 << 24 });
  const bell = new Doorbell();
  m.bus.map('doorbell', 0x0800_0000, 0x1000, bell);
  const bridge = new PcieHostBridge(m);
  bridge.mapOn();
  const fn = new PciFunction({
    name: 'dev',
    vendorId: 0x19e5,
    deviceId: 0xa250,
    revision: 0x21,
    classCode: 0x120000,
    bars: [{ index: 2, size: 0x10000, kind: 'mem64', device: nullDevice }],
    msi: { vectors: 4, perVectorMask: true },
    ...(opts.msix ? { msix: { vectors: 8, tableBar: 2, tableOffset: 0x8000, pbaBar: 2, pbaOffset: 0x9000 } } : {}),
  });
  bridge.attach(fn, { bus: 0, device: 3, function: 0 });
  const cfg = (reg: number) => 0x3f00_0000 + (3 << 15) + reg;
  return { m, bell, bridge, fn, cfg };
}

function enableMsi(s: ReturnType<typeof setup>, mme: number, data = 0x40) {
  const { m, cfg } = s;
  m.bus.write32(cfg(0x84), DOORBELL);
  m.bus.write32(cfg(0x88), 0);
  m.bus.write16(cfg(0x8c), data);
  m.bus.write16(cfg(0x82), 1 | (mme << 4));
  m.bus.write16(cfg(0x04), 0x6);
}

describe('MSI', () => {
  it('PCI 3.0 6.8.1: signalMsi writes the Message Data as a DWORD to the Message Address through the DMA port', () => {
    const s = setup();
    enableMsi(s, 0, 0x1234);
    s.fn.signalMsi(0);
    expect(s.bell.writes).toEqual([{ offset: 0x40, size: 4, value: 0x1234, sid: s.fn.rid }]);
    expect(s.fn.msiSent).toBe(1);
  });

  it('PCI 3.0 6.8.1.6: with Multiple Message Enable the function puts the vector number in the low data bits', () => {
    const s = setup();
    enableMsi(s, 2, 0x40);
    s.fn.signalMsi(3);
    s.fn.signalMsi(1);
    expect(s.bell.writes.map((w) => w.value)).toEqual([0x43, 0x41]);
  });

  it('PCI 3.0 6.8.3.4: vectors beyond the allocated count fold onto the last allocated vector', () => {
    const s = setup();
    enableMsi(s, 1, 0x40); // 2 vectors
    s.fn.signalMsi(3);
    expect(s.bell.writes.map((w) => w.value)).toEqual([0x41]);
  });

  it('PCI 3.0 6.8.1.3: nothing is sent while MSI Enable is clear', () => {
    const s = setup();
    enableMsi(s, 0);
    s.m.bus.write16(s.cfg(0x82), 0);
    s.fn.signalMsi(0);
    expect(s.bell.writes).toEqual([]);
    expect(s.fn.msiDropped).toBe(1);
  });

  it('PCIe 4.0 7.5.1.1.3: with Bus Master Enable clear the function sends no MSI', () => {
    const s = setup();
    enableMsi(s, 0);
    s.m.bus.write16(s.cfg(0x04), 0x2);
    s.fn.signalMsi(0);
    expect(s.bell.writes).toEqual([]);
  });

  it('PCI 3.0 6.8.3.3: a masked vector sets its Pending bit; unmasking sends the message and clears Pending', () => {
    const s = setup();
    enableMsi(s, 2, 0x40);
    s.m.bus.write32(s.cfg(0x90), 0b0100);
    s.fn.signalMsi(2);
    expect(s.bell.writes).toEqual([]);
    expect(s.m.bus.read32(s.cfg(0x94))).toBe(0b0100);
    s.m.bus.write32(s.cfg(0x90), 0);
    expect(s.bell.writes.map((w) => w.value)).toEqual([0x42]);
    expect(s.m.bus.read32(s.cfg(0x94))).toBe(0);
  });

  it('the MSI write is translated by the IOMMU on the function port and traced as an MSI record', () => {
    const s = setup();
    const seen: number[] = [];
    const iommu: Iommu = {
      translate(_port, iova, _write, _attrs, out) {
        seen.push(iova);
        out.pa = DOORBELL + (iova - 0x0800_0000_0000 + 0);
        out.span = 4;
        return DmaStatus.Ok;
      },
    };
    s.fn.dma.iommu = iommu;
    enableMsi(s, 0, 0x77);
    s.m.bus.write32(s.cfg(0x84), 0);
    s.m.bus.write32(s.cfg(0x88), 0x800);
    s.m.trace.enable();
    s.fn.signalMsi(0);
    expect(seen).toEqual([0x0800_0000_0000]);
    expect(s.bell.writes.map((w) => w.value)).toEqual([0x77]);
    const msi = [...s.m.trace.records()].filter((r) => r.kind === TraceKind.Msi);
    expect(msi).toHaveLength(1);
    expect(msi[0]!.pa).toBe(0x0800_0000_0000n);
    expect(msi[0]!.value).toBe(0x77n);
  });
});

describe('MSI-X', () => {
  function enableMsix(s: ReturnType<typeof setup>) {
    const { m, cfg } = s;
    m.bus.write32(cfg(0x18), 0x1000_0000);
    m.bus.write32(cfg(0x1c), 0);
    m.bus.write16(cfg(0x04), 0x6);
    return 0x1000_0000 + 0x8000;
  }

  it('PCI 3.0 6.8.2.3: MSI-X Message Control reports Table Size N-1, Table/PBA BIR and offsets', () => {
    const s = setup({ msix: true });
    expect(s.m.bus.read32(s.cfg(0xa0)) >>> 16).toBe(7);
    expect(s.m.bus.read32(s.cfg(0xa4))).toBe(0x8002);
    expect(s.m.bus.read32(s.cfg(0xa8))).toBe(0x9002);
  });

  it('PCI 3.0 6.8.2.9: table entries come out of reset masked and the table is read and written through the BAR', () => {
    const s = setup({ msix: true });
    const table = enableMsix(s);
    expect(s.m.bus.read32(table + 12)).toBe(1);
    s.m.bus.write32(table + 16, DOORBELL | 3);
    s.m.bus.write32(table + 20, 0);
    s.m.bus.write32(table + 24, 0xabcd0001);
    expect(s.m.bus.read32(table + 16)).toBe(DOORBELL); // bits 1:0 are 0
    expect(s.m.bus.read32(table + 24)).toBe(0xabcd0001);
    expect(s.m.bus.read64(table + 16)).toBe(BigInt(DOORBELL));
    s.m.bus.write32(table + 28, 0xfffffffe);
    expect(s.m.bus.read32(table + 28)).toBe(0); // reserved bits read 0, mask cleared
    expect(s.m.bus.read32(0x1000_0000)).toBe(0x5a5a5a5a); // the rest of the BAR is the device's
  });

  it('PCI 3.0 6.8.2: an unmasked vector sends its entry data to its entry address', () => {
    const s = setup({ msix: true });
    const table = enableMsix(s);
    s.m.bus.write32(table + 16, DOORBELL);
    s.m.bus.write32(table + 24, 0x99);
    s.m.bus.write32(table + 28, 0);
    s.m.bus.write16(s.cfg(0xa2), 0x8000);
    s.fn.signalMsi(1);
    expect(s.bell.writes.map((w) => w.value)).toEqual([0x99]);
  });

  it('PCI 3.0 6.8.2.10: a masked vector sets its PBA bit; unmasking sends it and clears the bit', () => {
    const s = setup({ msix: true });
    const table = enableMsix(s);
    s.m.bus.write32(table + 5 * 16, DOORBELL);
    s.m.bus.write32(table + 5 * 16 + 8, 0x55);
    s.m.bus.write16(s.cfg(0xa2), 0x8000);
    s.fn.signalMsi(5);
    expect(s.bell.writes).toEqual([]);
    expect(s.m.bus.read32(0x1000_9000)).toBe(1 << 5);
    s.m.bus.write32(0x1000_9000, 0); // PBA is read-only
    expect(s.m.bus.read32(0x1000_9000)).toBe(1 << 5);
    s.m.bus.write32(table + 5 * 16 + 12, 0);
    expect(s.bell.writes.map((w) => w.value)).toEqual([0x55]);
    expect(s.m.bus.read32(0x1000_9000)).toBe(0);
  });

  it('PCI 3.0 6.8.2.3: Function Mask holds every vector pending until it is cleared', () => {
    const s = setup({ msix: true });
    const table = enableMsix(s);
    s.m.bus.write32(table, DOORBELL);
    s.m.bus.write32(table + 8, 0x11);
    s.m.bus.write32(table + 12, 0);
    s.m.bus.write16(s.cfg(0xa2), 0xc000);
    s.fn.signalMsi(0);
    expect(s.bell.writes).toEqual([]);
    expect(s.m.bus.read32(0x1000_9000)).toBe(1);
    s.m.bus.write16(s.cfg(0xa2), 0x8000);
    expect(s.bell.writes.map((w) => w.value)).toEqual([0x11]);
  });

  it('PCI 3.0 6.8.2.3: with MSI-X enabled, MSI is not used', () => {
    const s = setup({ msix: true });
    enableMsi(s, 0, 0x40);
    const table = enableMsix(s);
    s.m.bus.write32(table, DOORBELL + 4);
    s.m.bus.write32(table + 8, 0x22);
    s.m.bus.write32(table + 12, 0);
    s.m.bus.write16(s.cfg(0xa2), 0x8000);
    s.fn.signalMsi(0);
    expect(s.bell.writes).toEqual([{ offset: 0x44, size: 4, value: 0x22, sid: s.fn.rid }]);
  });

  it('PCIe 4.0 6.6.2: FLR masks every MSI-X vector and clears the PBA', () => {
    const s = setup({ msix: true });
    const table = enableMsix(s);
    s.m.bus.write32(table + 12, 0);
    s.fn.functionLevelReset();
    expect(s.fn.msix!.masked(0)).toBe(true);
    expect(s.fn.memoryEnabled).toBe(false);
  });

  it('rejects an MSI-X table that does not fit in its BAR', () => {
    expect(
      () =>
        new PciFunction({
          name: 'bad', vendorId: 1, deviceId: 2, revision: 0, classCode: 0,
          bars: [{ index: 0, size: 0x1000, kind: 'mem32', device: nullDevice }],
          msix: { vectors: 512, tableBar: 0, tableOffset: 0, pbaBar: 0, pbaOffset: 0 },
        }),
    ).toThrow(/does not fit/);
  });
});
