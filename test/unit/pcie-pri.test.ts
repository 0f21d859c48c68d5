import { describe, it, expect } from 'vitest';
import { PciFunction, PRG_RESPONSE_FAILURE, PRG_RESPONSE_SUCCESS } from '../../src/hw/pcie/function.js';
import { PcieHostBridge } from '../../src/hw/pcie/host-bridge.js';
import { DmaStatus, type Iommu } from '../../src/hw/bus/dma.js';
import { MachineCore } from '../../src/machine/machine.js';
import { TraceKind } from '../../src/trace/record.js';

const CFG = 0x3f00_0000 + (1 << 15);
const PRI = 0x100; // no ATS: PRI first, then PASID
const PASID = 0x110;

function setup(acceptRequests = true) {
  const m = new MachineCore({ ramSize: 1 << 20 });
  const bridge = new PcieHostBridge(m);
  bridge.mapOn();
  const fn = new PciFunction({
    name: 'acc', vendorId: 0x19e5, deviceId: 0xa250, revision: 0x21, classCode: 0x120000,
    bars: [], pasid: { maxPasidWidth: 16 }, pri: { outstandingRequests: 4 },
  });
  bridge.attach(fn, { bus: 0, device: 1, function: 0 });
  const requests: { addr: number; ssid: number; ssv: boolean; exec: boolean; priv: boolean; prg: number; last: boolean }[] = [];
  const iommu: Iommu = {
    translate: () => DmaStatus.Abort,
    pri: {
      request: (_p, addr, ssid, ssv, _r, _w, exec, priv, prg, last) => {
        requests.push({ addr, ssid, ssv, exec, priv, prg, last });
        return acceptRequests;
      },
    },
  };
  fn.dma.iommu = iommu;
  m.bus.write16(CFG + 0x04, 0x4);
  m.bus.write32(CFG + PRI + 0xc, 4);
  m.bus.write16(CFG + PRI + 4, 1);
  const status = () => m.bus.read16(CFG + PRI + 6);
  return { m, fn, requests, status };
}

describe('Page Request Interface bookkeeping', () => {
  it('PCIe 4.0 10.4.1: each page request uses one credit; a PRG response returns every credit of its group', () => {
    const { fn } = setup();
    expect(fn.pageRequest(0x1000, 0, false, true, false, false, false, 3, false)).toBe(true);
    expect(fn.pageRequest(0x2000, 0, false, true, false, false, false, 3, true)).toBe(true);
    expect(fn.pageRequest(0x3000, 0, false, true, false, false, false, 4, true)).toBe(true);
    expect(fn.pageRequestsOutstanding).toBe(3);
    fn.dma.onPageResponse!(3, PRG_RESPONSE_SUCCESS, 0, false);
    expect(fn.pageRequestsOutstanding).toBe(1);
  });

  it('PCIe 4.0 10.5.2.5: requests beyond the Outstanding Page Request Allocation are not sent', () => {
    const { fn, requests } = setup();
    for (let i = 0; i < 4; i++) expect(fn.pageRequest(i * 0x1000, 0, false, true, false, false, false, i, true)).toBe(true);
    expect(fn.pageRequest(0x9000, 0, false, true, false, false, false, 9, true)).toBe(false);
    expect(requests).toHaveLength(4);
  });

  it('PCIe 4.0 10.5.2.2: Reset with Enable clear drops outstanding state; Stopped follows', () => {
    const { m, fn, status } = setup();
    fn.pageRequest(0x1000, 0, false, true, false, false, false, 1, true);
    m.bus.write16(CFG + PRI + 4, 0);
    expect(status() & 0x100).toBe(0); // disabled but a request is still outstanding
    m.bus.write16(CFG + PRI + 4, 2);
    expect(fn.pageRequestsOutstanding).toBe(0);
    expect(status() & 0x100).toBe(0x100);
  });

  it('PCIe 4.0 10.5.2.2: Reset written together with Enable set does nothing', () => {
    const { m, fn } = setup();
    fn.pageRequest(0x1000, 0, false, true, false, false, false, 1, true);
    m.bus.write16(CFG + PRI + 4, 3);
    expect(fn.pageRequestsOutstanding).toBe(1);
    expect(m.bus.read16(CFG + PRI + 4)).toBe(1); // Reset reads 0
  });

  it('PCIe 4.0 10.5.2.3: Stopped sets once the disabled interface has no request outstanding', () => {
    const { m, fn, status } = setup();
    fn.pageRequest(0x1000, 0, false, true, false, false, false, 1, true);
    m.bus.write16(CFG + PRI + 4, 0);
    expect(status() & 0x100).toBe(0);
    fn.dma.onPageResponse!(1, PRG_RESPONSE_SUCCESS, 0, false);
    expect(status() & 0x100).toBe(0x100);
  });

  it('PCIe 4.0 10.4.2.1: Response Failure sets RF (RW1C) and stops requests until Enable is set again', () => {
    const { m, fn, status } = setup();
    fn.pageRequest(0x1000, 0, false, true, false, false, false, 1, true);
    fn.dma.onPageResponse!(1, PRG_RESPONSE_FAILURE, 0, false);
    expect(status() & 0x101).toBe(0x101);
    expect(fn.pageRequest(0x1000, 0, false, true, false, false, false, 2, true)).toBe(false);
    m.bus.write16(CFG + PRI + 6, 1);
    expect(status() & 1).toBe(0);
    m.bus.write16(CFG + PRI + 4, 0);
    m.bus.write16(CFG + PRI + 4, 1);
    expect(fn.pageRequest(0x1000, 0, false, true, false, false, false, 2, true)).toBe(true);
  });

  it('PCIe 4.0 7.8.8.3: the PASID, exec and privileged fields of a request need the matching PASID enables', () => {
    const { m, fn, requests } = setup();
    fn.pageRequest(0x1000, 7, true, true, false, true, true, 0, true);
    m.bus.write16(CFG + PASID + 6, 0b001);
    fn.pageRequest(0x2000, 7, true, true, false, true, true, 1, true);
    m.bus.write16(CFG + PASID + 6, 0b111);
    fn.pageRequest(0x3000, 7, true, true, false, true, true, 2, true);
    expect(requests.map((r) => [r.ssid, r.ssv, r.exec, r.priv])).toEqual([
      [0, false, false, false],
      [7, true, false, false],
      [7, true, true, true],
    ]);
  });

  it('a request the IOMMU refuses uses no credit; without Bus Master Enable nothing is sent', () => {
    const { m, fn, requests } = setup(false);
    expect(fn.pageRequest(0x1000, 0, false, true, false, false, false, 0, true)).toBe(false);
    expect(fn.pageRequestsOutstanding).toBe(0);
    m.bus.write16(CFG + 0x04, 0);
    fn.pageRequest(0x1000, 0, false, true, false, false, false, 0, true);
    expect(requests).toHaveLength(1);
  });

  it('page requests are traced with the StreamID, PRG index and R/W/L flags', () => {
    const { m, fn } = setup();
    m.trace.enable();
    fn.pageRequest(0x5000, 0, false, true, true, false, false, 0x1ab, true);
    const rec = [...m.trace.records()].find((r) => r.kind === TraceKind.PageRequest)!;
    expect(rec.sid).toBe(fn.rid);
    expect(rec.iova).toBe(0x5000n);
    expect(rec.aux).toBe(0x1ab);
    expect(Number(rec.value)).toBe(1 | 2 | 16);
  });
});
