import { describe, expect, it } from 'vitest';
import { PcieHostBridge } from '../../src/hw/pcie/host-bridge.js';
import {
  IommuTestDev,
  ITD_DMA_ERR_TX_FAIL,
  ITD_REG_DMA_DBELL,
  ITD_REG_DMA_GVA_HI,
  ITD_REG_DMA_GVA_LO,
  ITD_REG_DMA_LEN,
  ITD_REG_DMA_RESULT,
  ITD_REG_DMA_TRIGGERING,
  ITD_X_CTRL,
  ITD_X_CTRL_PRI,
  ITD_X_CTRL_SSV,
  ITD_X_OP_WRITE,
  ITD_X_PRI_PAGES,
  ITD_X_PRI_STATUS,
  ITD_X_SSID,
} from '../../src/hw/testdev/iommu-testdev.js';
import { TraceKind } from '../../src/trace/record.js';
import { AP_RW_ALL, bringUp, cmd, makeRig, P1, PageTable, priResp, PTE_AF, RAM, sync, writeCd, writeSte } from './smmuv3-harness.js';

// PRI queue overflow reached the way hardware reaches it (IHI 0070 8.1): software gave a
// function more page-request credits than its PRI queue has room for (PRIQ_BASE.LOG2SIZE
// = 1, two entries; Outstanding Page Request Allocation = 8), and the function sends a
// Page Request Group of four pages.

const BAR = 0x1000_0000;
const CFG = 0x3f00_0000 + (2 << 15); // bus 0, device 2, function 0: RequesterID = StreamID 0x10
const SID = 0x10;
const SSID = 5;
const IOVA = 0x7000_0000;

function extCap(read32: (a: number) => number, id: number): number {
  for (let at = 0x100; at !== 0; ) {
    const h = read32(CFG + at);
    if ((h & 0xffff) === id) return at;
    at = h >>> 20;
  }
  throw new Error(`extended capability ${id} not found`);
}

function setUp() {
  const rig = makeRig(0x7f); // the rig's own port is not the device here
  const q = bringUp(rig, { priqLog2: 1 });
  const bus = rig.m.bus;
  const bridge = new PcieHostBridge(rig.m);
  bridge.mapOn();
  const td = new IommuTestDev({ clock: rig.m.clock, cost: rig.m.cost });
  bridge.attach(td.fn, { bus: 0, device: 2, function: 0 });
  rig.smmu.attach(td.fn.dma);
  bus.write32(CFG + 0x10, BAR);
  bus.write16(CFG + 0x04, 0x6); // Memory Space + Bus Master
  const read32 = (a: number) => bus.read32(a);
  const pri = extCap(read32, 0x13);
  bus.write32(CFG + pri + 0xc, 8); // Outstanding Page Request Allocation: more than the queue holds
  bus.write16(CFG + pri + 4, 1); // PRI Enable
  bus.write16(CFG + extCap(read32, 0x1b) + 6, 1); // PASID Enable
  // Stream 0x10: stage 1 with SubstreamIDs; CD 5 has an empty table (every page faults, CD.R = 0)
  const pt = new PageTable(rig);
  const cds = rig.mem.take(8 * 64, 64);
  writeCd(rig, cds + SSID * 64, { ttb0: pt.ttb, asid: 3, r: false });
  writeSte(rig, q.strtab + SID * 64, { cfg: 5, ctxPtr: cds, cdMax: 3 });
  const dev = (off: number, v: number) => bus.write32(BAR + off, v);
  const dma = (pages: number, prgPages: number, offset = 0) => {
    dev(ITD_REG_DMA_GVA_LO, IOVA + offset);
    dev(ITD_REG_DMA_GVA_HI, 0);
    dev(ITD_REG_DMA_LEN, pages * 4096);
    dev(ITD_X_SSID, SSID);
    dev(ITD_X_CTRL, ITD_X_CTRL_PRI | ITD_X_CTRL_SSV | (ITD_X_OP_WRITE << 4));
    dev(ITD_X_PRI_PAGES, prgPages);
    dev(ITD_REG_DMA_DBELL, 1);
    bus.read32(BAR + ITD_REG_DMA_TRIGGERING);
  };
  const priEntry = (i: number) => {
    const d0 = bus.read64(q.priq + i * 16);
    const d1 = bus.read64(q.priq + i * 16 + 8);
    return { addr: Number(d1 & ~0xfffn), prg: Number(d1 & 0x1ffn), last: Number((d0 >> 62n) & 1n), ssv: Number(d0 >> 63n), ssid: Number((d0 >> 32n) & 0xfffffn), sid: Number(d0 & 0xffffffffn) };
  };
  return { rig, q, td, pt, dma, priEntry, result: () => bus.read32(BAR + ITD_REG_DMA_RESULT) >>> 0, priStatus: () => bus.read32(BAR + ITD_X_PRI_STATUS) >>> 0 };
}

describe('SMMUv3 PRI queue overflow from a device (IHI 0070 8.1)', () => {
  it('a Page Request Group larger than the free queue space overflows it: OVFLG toggles, the rest is discarded, the Last request gets an automatic Success with its PASID', () => {
    const { rig, td, dma, priEntry, result, priStatus } = setUp();
    const bus = rig.m.bus;
    dma(4, 4);
    rig.m.run({ untilIdle: true });
    // the two requests that fit are recorded (Last == 0), the third overflows the queue
    expect([priEntry(0), priEntry(1)]).toEqual([
      { addr: IOVA, prg: 0, last: 0, ssv: 1, ssid: SSID, sid: SID },
      { addr: IOVA + 0x1000, prg: 0, last: 0, ssv: 1, ssid: SSID, sid: SID },
    ]);
    const prod = bus.read32(P1 + 0xc8);
    expect(prod & 0x3).toBe(0x2); // index 0, wrap 1: full
    expect(prod >>> 31).toBe(1); // PROD.OVFLG
    expect(bus.read32(P1 + 0xcc) >>> 31).toBe(0); // CONS.OVACKFLG: not acknowledged
    // 8.1: the discarded Last request was answered Success, with the PASID (IDR3.PPS == 1)
    const resps = [...rig.m.trace.records()].filter((r) => r.kind === TraceKind.PageResponse);
    expect(resps.map((r) => [r.sid, r.ssid, Number(r.value), r.aux])).toEqual([[SID, SSID, 0, 0]]);
    // the credits of the group came back with the response; the device retried, faulted on the same page and gave up
    expect(td.fn.pageRequestsOutstanding).toBe(0);
    expect(priStatus() & 0xf000).toBe(0); // last response code: Success
    expect(priStatus() >>> 16).toBe(4); // four requests sent
    expect(result()).toBe(ITD_DMA_ERR_TX_FAIL);
  });

  it('while the overflow is active new groups are discarded (auto Success); after CONS.OVACKFLG the queue records again and PRI_RESP completes the DMA', () => {
    const { rig, pt, dma, priEntry, result } = setUp();
    const bus = rig.m.bus;
    const responses = () => [...rig.m.trace.records()].filter((r) => r.kind === TraceKind.PageResponse).length;
    dma(4, 4);
    rig.m.run({ untilIdle: true });
    // software consumes both entries (no Last: the group is ignored, 8.1.1) but does not acknowledge yet
    bus.write32(P1 + 0xcc, 0x2);
    dma(1, 1, 0x10_0000);
    rig.m.run({ untilIdle: true });
    expect(bus.read32(P1 + 0xc8)).toBe(0x8000_0002); // nothing written while the overflow is active
    expect(responses()).toBe(2);
    expect(result()).toBe(ITD_DMA_ERR_TX_FAIL);
    // acknowledge: OVACKFLG = OVFLG
    bus.write32(P1 + 0xcc, 0x8000_0002);
    dma(1, 1, 0x10_0000);
    rig.m.run({ untilIdle: true });
    expect(bus.read32(P1 + 0xc8)).toBe(0x8000_0003);
    expect(priEntry(0)).toEqual({ addr: IOVA + 0x10_0000, prg: 2, last: 1, ssv: 1, ssid: SSID, sid: SID });
    expect(responses()).toBe(2); // no automatic response: software answers this one
    expect(result()).toBe(0xfffffffe); // BUSY: waiting for the response
    pt.map(IOVA + 0x10_0000, RAM + 0x20_0000, PTE_AF | AP_RW_ALL);
    cmd(rig, priResp(SID, 2, 2, SSID), sync());
    rig.m.run({ untilIdle: true });
    expect(result()).toBe(0);
    expect(bus.read32(RAM + 0x20_0000)).toBe(0x12345678);
  });
});
