// DMA throughput of the iommu-testdev against a plain Uint8Array.set of the same size,
// measured in the same run. The device moves whole runs through its DmaPort, so a 1 MiB
// transfer should cost little more than the copy itself.

import { figure, timeNsPerOp, type BenchFigure } from './figure.js';
import { MachineCore } from '../../src/machine/machine.js';
import { PcieHostBridge } from '../../src/hw/pcie/host-bridge.js';
import {
  IommuTestDev,
  ITD_REG_DMA_DBELL,
  ITD_REG_DMA_GVA_LO,
  ITD_REG_DMA_LEN,
  ITD_REG_DMA_RESULT,
  ITD_REG_DMA_TRIGGERING,
  ITD_X_CTRL,
  ITD_X_OP_WRITE,
  ITD_X_OP_WRITE_VERIFY,
  ITD_REG_DMA_GPA_LO,
} from '../../src/hw/testdev/iommu-testdev.js';
import { DmaStatus, type Iommu } from '../../src/hw/bus/dma.js';

const MiB = 1 << 20;
const BAR = 0x1000_0000;
const CFG = 0x3f00_0000 + (2 << 15);
const BUF = 0x4010_0000;

function testdevMachine(iommu?: Iommu) {
  const m = new MachineCore({ ramSize: 64 * MiB });
  const bridge = new PcieHostBridge(m);
  bridge.mapOn();
  const td = new IommuTestDev({ clock: m.clock, cost: m.cost });
  bridge.attach(td.fn, { bus: 0, device: 2, function: 0 });
  if (iommu) td.fn.dma.iommu = iommu;
  m.bus.write32(CFG + 0x10, BAR);
  m.bus.write16(CFG + 0x04, 0x6);
  return { m, td };
}

/** One DMA of `len` bytes per iteration, through the register protocol. */
function dmaLoop(op: number, iommu?: Iommu): (n: number) => void {
  const { m } = testdevMachine(iommu);
  const bus = m.bus;
  bus.write32(BAR + ITD_REG_DMA_GVA_LO, BUF);
  bus.write32(BAR + ITD_REG_DMA_GPA_LO, BUF);
  bus.write32(BAR + ITD_REG_DMA_LEN, MiB);
  bus.write32(BAR + ITD_X_CTRL, op << 4);
  return (n) => {
    for (let i = 0; i < n; i++) {
      bus.write32(BAR + ITD_REG_DMA_DBELL, 1);
      bus.read32(BAR + ITD_REG_DMA_TRIGGERING);
      m.run({ untilIdle: true });
      if (bus.read32(BAR + ITD_REG_DMA_RESULT) !== 0) throw new Error('bench DMA failed');
    }
  };
}

/** An IOMMU that maps every IOVA to itself one 4 KiB page at a time. */
const identity4k: Iommu = {
  translate(_port, iova, _write, _attrs, out) {
    out.pa = iova;
    out.span = 4096 - (iova % 4096);
    return DmaStatus.Ok;
  },
};

/**
 * Median over rounds of (Uint8Array.set time / DMA time), each round timing both back
 * to back, so load from other processes hits numerator and denominator alike.
 */
function ratioToSet(dma: (n: number) => void, iterations: number): { ratio: number; dmaNs: number; setNs: number } {
  const src = new Uint8Array(MiB).fill(0x5a);
  const dst = new Uint8Array(MiB);
  const copy = (n: number) => {
    for (let i = 0; i < n; i++) dst.set(src);
  };
  const rounds: { ratio: number; dmaNs: number; setNs: number }[] = [];
  for (let r = 0; r < 5; r++) {
    const setNs = timeNsPerOp(copy, iterations, 3);
    const dmaNs = timeNsPerOp(dma, iterations, 3);
    rounds.push({ ratio: setNs / dmaNs, dmaNs, setNs });
  }
  rounds.sort((a, b) => a.ratio - b.ratio);
  return rounds[2]!;
}

export async function bench(): Promise<BenchFigure[]> {
  const plain = ratioToSet(dmaLoop(ITD_X_OP_WRITE), 100);
  const verify = ratioToSet(dmaLoop(ITD_X_OP_WRITE_VERIFY), 50);
  const paged = ratioToSet(dmaLoop(ITD_X_OP_WRITE, identity4k), 50);
  const us = (ns: number) => (ns / 1000).toFixed(1);
  return [
    figure('dma.testdev_1mib_vs_u8set', plain.ratio, 'x', { min: 0.5 }, `1 MiB write DMA ${us(plain.dmaNs)} us, Uint8Array.set ${us(plain.setNs)} us`),
    figure('dma.testdev_1mib_write_verify_vs_u8set', verify.ratio, 'x', undefined, 'QEMU protocol: write through the port, read back at the GPA, compare'),
    figure('dma.testdev_1mib_4k_identity_iommu_vs_u8set', paged.ratio, 'x', undefined, 'one translate call per 4 KiB page'),
  ];
}
