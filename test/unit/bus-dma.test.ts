import { describe, expect, it } from 'vitest';
import { PhysicalBus } from '../../src/hw/bus/bus.js';
import { DmaPort, DmaStatus, type DmaAttrs, type Iommu, type IommuResult } from '../../src/hw/bus/dma.js';
import { Clock } from '../../src/machine/clock.js';
import { TraceKind } from '../../src/trace/record.js';
import { TraceRing } from '../../src/trace/ring.js';

const RAM = 0x4000_0000;
const PAGE = 4096;

function setup() {
  const ring = new TraceRing(new Clock(), 256);
  ring.enable();
  const bus = new PhysicalBus(RAM, 16 << 20, ring);
  const port = new DmaPort(bus, 'testdev', 0x10);
  return { ring, bus, port };
}

/** A page-granular IOMMU: IOVA page n -> the PA in `map`, or the status in `fail`. */
class PageIommu implements Iommu {
  readonly map = new Map<number, number>();
  readonly fail = new Map<number, DmaStatus>();
  readonly calls: string[] = [];
  translate(_port: DmaPort, iova: number, write: boolean, attrs: Readonly<DmaAttrs>, out: IommuResult): DmaStatus {
    const page = Math.floor(iova / PAGE);
    this.calls.push(`${write ? 'w' : 'r'}:${iova.toString(16)}${attrs.ssv ? `/${attrs.ssid}` : ''}`);
    const f = this.fail.get(page);
    if (f !== undefined) return f;
    const pa = this.map.get(page);
    if (pa === undefined) return DmaStatus.Abort;
    out.pa = pa + (iova % PAGE);
    out.span = PAGE - (iova % PAGE);
    return DmaStatus.Ok;
  }
}

describe('DMA port', () => {
  it('without an IOMMU a transfer is one physical run, traced with the StreamID', () => {
    const { bus, ring, port } = setup();
    const src = Uint8Array.from({ length: 3 * PAGE }, (_, i) => i & 0xff);
    expect(port.write(RAM + 0x800, src, 0, src.length)).toBe(DmaStatus.Ok);
    expect(port.done).toBe(3 * PAGE);
    expect(bus.readBytes(RAM + 0x800, 3 * PAGE)).toEqual(src);
    const [rec] = [...ring.records()];
    expect(rec).toMatchObject({ kind: TraceKind.DmaWrite, initiator: 'testdev', sid: 0x10, ssid: -1, size: 3 * PAGE, value: 0x03020100n });
  });

  it('through an IOMMU it translates once per page and scatters the data to each PA', () => {
    const { bus, ring, port } = setup();
    const mmu = new PageIommu();
    mmu.map.set(0x1000 / PAGE, RAM + 0x5000);
    mmu.map.set(0x2000 / PAGE, RAM + 0x3000);
    port.iommu = mmu;
    const src = Uint8Array.from({ length: PAGE + 0x100 }, (_, i) => (i * 7) & 0xff);
    const attrs = { ssid: 5, ssv: true, priv: false, exec: false };
    expect(port.write(0x1f00, src, 0, src.length, attrs)).toBe(DmaStatus.Ok);
    expect(mmu.calls).toEqual(['w:1f00/5', 'w:2000/5']);
    expect(bus.readBytes(RAM + 0x5f00, 0x100)).toEqual(src.subarray(0, 0x100));
    expect(bus.readBytes(RAM + 0x3000, PAGE)).toEqual(src.subarray(0x100));
    const recs = [...ring.records()];
    expect(recs.map((r) => [Number(r.iova), Number(r.pa), r.size, r.ssid])).toEqual([
      [0x1f00, RAM + 0x5f00, 0x100, 5],
      [0x2000, RAM + 0x3000, PAGE, 5],
    ]);
  });

  it('an IOMMU abort stops the transfer at the failing page and counts a fault', () => {
    const { port } = setup();
    const mmu = new PageIommu();
    mmu.map.set(0, RAM);
    port.iommu = mmu;
    const dst = new Uint8Array(2 * PAGE);
    expect(port.read(0, dst, 0, dst.length)).toBe(DmaStatus.Abort);
    expect(port.done).toBe(PAGE);
    expect(port.faults).toBe(1);
  });

  it('a stall is not a fault: the port reports Stalled and waits for the IOMMU', () => {
    const { port } = setup();
    const mmu = new PageIommu();
    mmu.fail.set(0, DmaStatus.Stalled);
    port.iommu = mmu;
    expect(port.write32(0x10, 1)).toBe(DmaStatus.Stalled);
    expect(port.faults).toBe(0);
    expect(port.done).toBe(0);
  });

  it('a translation to a PA nothing decodes is a bus error, traced with the DMA record', () => {
    const { ring, port } = setup();
    const mmu = new PageIommu();
    mmu.map.set(0, 0x2000_0000);
    port.iommu = mmu;
    expect(port.write32(0x40, 0x1234)).toBe(DmaStatus.BusError);
    expect(port.faults).toBe(1);
    expect([...ring.records()].map((r) => r.kind)).toEqual([TraceKind.BusError, TraceKind.DmaWrite]);
  });

  it('write32 stores little-endian, as an MSI write does', () => {
    const { bus, port } = setup();
    port.write32(RAM + 0x40, 0xa1b2c3d4);
    expect([...bus.readBytes(RAM + 0x40, 4)]).toEqual([0xd4, 0xc3, 0xb2, 0xa1]);
  });
});
