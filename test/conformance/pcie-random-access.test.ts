import { describe, it, expect } from 'vitest';
import { PcieHostBridge } from '../../src/hw/pcie/host-bridge.js';
import { PciFunction } from '../../src/hw/pcie/function.js';
import { IommuTestDev } from '../../src/hw/testdev/iommu-testdev.js';
import { DmaStatus, type Iommu } from '../../src/hw/bus/dma.js';
import type { AccessSize, MmioAccess, MmioDevice } from '../../src/hw/bus/mmio.js';
import { MachineCore } from '../../src/machine/machine.js';
import { mulberry32 as prng } from '../../src/machine/prng.js';


const regs: MmioDevice = { name: 'regs', mmioRead: (_o: number, _s: AccessSize, a: MmioAccess) => void (a.lo = 0), mmioWrite: () => {} };

/** An IOMMU that answers Ok, Abort or Stalled at random, and accepts page requests at random. */
function randomIommu(rand: () => number): Iommu {
  return {
    translate(_port, iova, _write, _attrs, out) {
      const x = rand();
      if (x < 0.2) return DmaStatus.Abort;
      if (x < 0.3) return DmaStatus.Stalled;
      out.pa = 0x4000_0000 + (iova % (1 << 20));
      out.span = 4096 - (iova % 4096);
      return DmaStatus.Ok;
    },
    pri: { request: () => rand() < 0.7 },
  };
}

function machine(seed: number) {
  const rand = prng(seed);
  const m = new MachineCore({ ramSize: 1 << 22 });
  const bridge = new PcieHostBridge(m);
  bridge.mapOn();
  const td = new IommuTestDev({ clock: m.clock, cost: m.cost });
  bridge.attach(td.fn, { bus: 0, device: 2, function: 0 });
  const zip = new PciFunction({
    name: 'zip', vendorId: 0x19e5, deviceId: 0xa250, revision: 0x21, classCode: 0x120000,
    bars: [{ index: 0, size: 0x4000, kind: 'mem32', device: regs }, { index: 2, size: 0x10000, kind: 'mem64', device: regs }],
    msi: { vectors: 4, perVectorMask: true },
    msix: { vectors: 16, tableBar: 2, tableOffset: 0x8000, pbaBar: 2, pbaOffset: 0xc000 },
    pasid: { maxPasidWidth: 16 }, pri: { outstandingRequests: 8 }, ats: true,
  });
  bridge.attach(zip, { bus: 0, device: 3, function: 0 });
  td.fn.dma.iommu = randomIommu(rand);
  zip.dma.iommu = td.fn.dma.iommu;
  return { m, td, zip, rand };
}

describe('random accesses never throw (seeded)', () => {
  for (const seed of [1, 2, 3, 0xbeef]) {
    it(`seed ${seed}: random ECAM, window, MSI and testdev traffic gives architected results only, identity registers unchanged`, () => {
      const { m, td, zip, rand } = machine(seed);
      const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
      const sizes = [1, 2, 4, 8] as const;
      for (let i = 0; i < 4000; i++) {
        const size = pick(sizes);
        const kind = rand();
        if (kind < 0.4) {
          // config space of a present or absent function, any register
          const dev = pick([2, 3, 4]);
          const reg = Math.floor(rand() * 4096) & ~(size - 1);
          const pa = 0x3f00_0000 + (dev << 15) + reg;
          if (reg === 0x48 && rand() < 0.9) continue; // keep FLRs occasional
          if (rand() < 0.5) m.bus.read32(pa & ~3);
          else if (size === 8) m.bus.write64(pa, BigInt(Math.floor(rand() * 2 ** 32)) * 0x1_0000_0001n);
          else m.bus.store(pa, size, Math.floor(rand() * 2 ** 32), 0, m.bus.benchInitiator);
        } else if (kind < 0.7) {
          const pa = 0x1000_0000 + Math.floor(rand() * 0x40000) * 4;
          if (rand() < 0.5) m.bus.load(pa, size, m.bus.benchInitiator);
          else m.bus.store(pa, size, Math.floor(rand() * 2 ** 32), 0, m.bus.benchInitiator);
        } else if (kind < 0.85) {
          // the test device through its BAR wherever it currently is
          const bar = td.fn.barBase[0]!;
          const reg = Math.floor(rand() * 0x18) * 4;
          if (rand() < 0.3) m.bus.read32(bar + reg);
          else m.bus.write32(bar + reg, reg === 0x0c ? Math.floor(rand() * 0x3000) : Math.floor(rand() * 2 ** 32));
        } else if (kind < 0.9) {
          zip.signalMsi(Math.floor(rand() * 20));
          td.fn.signalMsi(Math.floor(rand() * 2));
        } else if (kind < 0.95) {
          const port = pick([td.fn.dma, zip.dma]);
          if (rand() < 0.5) port.onStallEnd?.(rand() < 0.5);
          else port.onPageResponse?.(Math.floor(rand() * 512), pick([0, 1, 0xf, 7]), Math.floor(rand() * 65536), rand() < 0.5);
        } else {
          m.run({ forNs: Math.floor(rand() * 100_000) });
        }
      }
      m.run({ forNs: 1_000_000 });
      expect(m.bus.read32(0x3f00_0000 + (2 << 15))).toBe(0x00051b36);
      expect(m.bus.read32(0x3f00_0000 + (3 << 15))).toBe(0xa25019e5);
      expect(m.bus.read32(0x3f00_0000 + (4 << 15))).toBe(0xffffffff);
      expect(m.bus.read8(0x3f00_0000 + (3 << 15) + 0x34)).toBe(0x40);
      // After an FLR the test device works again, whatever state the traffic left it in.
      const cfg = 0x3f00_0000 + (2 << 15);
      m.bus.write16(cfg + 0x48, 1 << 15);
      td.fn.dma.iommu = undefined;
      m.bus.write32(cfg + 0x10, 0x1000_0000);
      m.bus.write16(cfg + 0x04, 0x6);
      for (const [off, v] of [[0x04, 0x4000_1000], [0x08, 0], [0x1c, 0x4000_1000], [0x20, 0], [0x0c, 64], [0x14, 1]] as const) m.bus.write32(0x1000_0000 + off, v);
      m.bus.read32(0x1000_0000);
      m.run({ untilIdle: true });
      expect(m.bus.read32(0x1000_0010)).toBe(0);
      expect(m.bus.read32(0x4000_1000)).toBe(0x12345678);
    });
  }
});
