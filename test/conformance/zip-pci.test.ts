// The ZIP PF as PCI enumeration sees it (Linux hisi_zip_probe, hisi_qm_pci_init).
import { describe, it, expect } from 'vitest';
import { ZipRig, BAR2, QM, DB_CMD, makeSqe, REQ, sampleData } from './zip-rig.js';

describe('ZIP PCI function', () => {
  it('identity: 19e5:a250, revision 0x21 (QM v2), class 0x120000 (processing accelerator)', () => {
    const rig = new ZipRig();
    expect(rig.cfgRead32(0x00)).toBe(0xa250_19e5);
    expect(rig.cfgRead32(0x08)).toBe(0x1200_0021);
  });

  it('BAR2 is a 64-bit memory BAR of 4 MiB (covers the registers up to 0x30a000)', () => {
    const rig = new ZipRig();
    rig.cfgWrite32(0x18, 0xffff_ffff);
    rig.cfgWrite32(0x1c, 0xffff_ffff);
    const lo = rig.cfgRead32(0x18);
    expect(lo & 0x6).toBe(0x4); // 64-bit
    expect((~(lo & ~0xf) >>> 0) + 1).toBe(4 << 20);
    expect(rig.cfgRead32(0x10)).toBe(0); // BAR0 unimplemented
  });

  it('MSI capability with 4 vectors; PASID extended capability present', () => {
    const rig = new ZipRig();
    const msi = rig.findCap(0x05);
    expect(msi).not.toBe(0);
    expect((rig.cfgRead32(msi) >>> 17) & 7).toBe(2); // Multiple Message Capable: 4
    let p = 0x100;
    const ids: number[] = [];
    while (p !== 0 && ids.length < 16) {
      const h = rig.cfgRead32(p);
      ids.push(h & 0xffff);
      p = h >>> 20;
    }
    expect(ids).toContain(0x1b); // PASID
  });

  it('a request whose data DMA hits nothing sets Received Master Abort in the PCI Status register', () => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(0, 0, { depth: 8 });
    expect((rig.cfgRead32(0x04) >>> 16) & (1 << 13)).toBe(0);
    rig.submit(q, makeSqe({ reqType: REQ.DEFLATE, src: 0x7_0000_0000, dst: rig.alloc(256), inLen: 50, availOut: 256 }));
    rig.run();
    expect((rig.cfgRead32(0x04) >>> 16) & (1 << 13)).toBe(1 << 13);
  });

  it('registers answer through the host bridge once memory decoding is on', () => {
    const rig = new ZipRig().enablePci();
    expect(rig.bus.read32(BAR2 + QM.CAPBILITY) & 0x7ff).toBe(1024);
  });
});

describe('event queue rings', () => {
  it('EQ phase flips every lap: 5 laps of an 8-entry EQ deliver every completion event once', () => {
    const rig = new ZipRig().startQm(64, { eqDepth: 8 });
    const q = rig.startQueue(6, 0, { depth: 8 });
    let events = 0;
    for (let i = 0; i < 40; i++) {
      const data = sampleData(100, i);
      rig.submit(q, makeSqe({ reqType: REQ.DEFLATE, src: rig.put(data), dst: rig.alloc(512), inLen: 100, availOut: 512 }));
      rig.run();
      rig.reap(q);
      const e = rig.reapEq();
      expect(e.every((cq) => cq === 6)).toBe(true);
      events += e.length;
    }
    expect(events).toBe(40);
  });

  it('EQ overflow: with the EQ full the next completion event becomes AEQE type 1 (EQ overflow)', () => {
    const rig = new ZipRig().startQm(64, { eqDepth: 4 });
    // Four queues, one request each: four armed completion events for three free EQ slots.
    const qs = [2, 3, 4, 5].map((qn) => rig.startQueue(qn, 0, { depth: 16 }));
    qs.forEach((q, i) => rig.submit(q, makeSqe({ reqType: REQ.DEFLATE, src: rig.put(sampleData(50, i)), dst: rig.alloc(256), inLen: 50, availOut: 256 })));
    rig.run();
    expect(qs.map((q) => rig.reap(q).length)).toEqual([1, 1, 1, 1]); // CQEs are all written
    expect(rig.reapAeq()).toEqual([{ qp: 0, type: 1 }]);
    expect(rig.msi.received).toContain(1);
  });

  it('an AEQ doorbell clears the AEQ source; a CQ doorbell for an unloaded CQ raises sq_cq_vf_invalid', () => {
    const rig = new ZipRig().startQm();
    rig.zip.inject({ kind: 'cq-overflow' });
    const q = rig.startQueue(1, 0, { depth: 8 });
    rig.submit(q, makeSqe({ reqType: REQ.DEFLATE, src: rig.put(sampleData(50)), dst: rig.alloc(256), inLen: 50, availOut: 256 }));
    rig.run();
    expect(rig.r32(QM.AEQ_INT_SOURCE)).toBe(1);
    rig.reapAeq();
    expect(rig.r32(QM.AEQ_INT_SOURCE)).toBe(0);
    rig.doorbell(9, DB_CMD.CQ, 0);
    expect(rig.r32(QM.ABN_SOURCE) & (1 << 7)).toBe(1 << 7);
  });
});
