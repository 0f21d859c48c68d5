// The per-port last-translation cache of the SMMU model is an accelerator over the
// configuration cache and the IOTLB: these tests check that it never answers
// differently from them (stale only where the IOTLB itself is stale, gone when an
// invalidation, a conflicting fill or a register change makes the IOTLB answer change).

import { describe, expect, it } from 'vitest';
import { DmaPort, DmaStatus } from '../../src/hw/bus/dma.js';
import { TraceKind } from '../../src/trace/record.js';
import {
  AP_RO_ALL,
  AP_RW_ALL,
  bringUp,
  cmd,
  dmaRead,
  dmaWrite,
  makeRig,
  PTE_AF,
  PTE_NG,
  R,
  RAM,
  setupS1,
  sync,
  tlbiNhAsid,
  w32,
  writeSte,
  type Rig,
} from '../conformance/smmuv3-harness.js';

const SID = 0x10;
const DATA = RAM + 0x10_0000;
const OTHER = RAM + 0x20_0000;

function read32(rig: Rig, iova: number): number | undefined {
  const r = dmaRead(rig, iova, 4);
  return r.status === DmaStatus.Ok ? new DataView(r.data.buffer).getUint32(0, true) : undefined;
}

const walks = (rig: Rig) => [...rig.m.trace.records()].filter((r) => r.kind === TraceKind.Walk).length;

describe('SMMU last-translation cache (follows the IOTLB, IHI 0070 3.17)', () => {
  it('a PTE rewritten without TLBI keeps translating to the old page, and TLBI_NH_ASID makes the next access walk', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const { pt } = setupS1(rig, q, SID);
    pt.map(0x4000, DATA, PTE_AF | AP_RW_ALL | PTE_NG);
    rig.m.bus.write32(DATA, 0x1111);
    rig.m.bus.write32(OTHER, 0x2222);
    expect(read32(rig, 0x4000)).toBe(0x1111);
    pt.map(0x4000, OTHER, PTE_AF | AP_RW_ALL | PTE_NG);
    expect(read32(rig, 0x4000)).toBe(0x1111);
    cmd(rig, tlbiNhAsid(1), sync());
    expect(read32(rig, 0x4000)).toBe(0x2222);
  });

  it('an access kind the cached entry does not allow is decided by the full path (a write to a read-only page faults)', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const { pt } = setupS1(rig, q, SID);
    pt.map(0x4000, DATA, PTE_AF | AP_RO_ALL | PTE_NG);
    expect(read32(rig, 0x4000)).toBeDefined();
    expect(dmaWrite(rig, 0x4000, new Uint8Array(4))).toBe(DmaStatus.Abort);
    expect(read32(rig, 0x4000)).toBeDefined();
  });

  it('a fill that overwrites the IOTLB slot of the cached entry sends the next access back to a walk', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const { pt } = setupS1(rig, q, SID);
    const far = 0x4000 + 4096 * 4096; // same direct-mapped IOTLB slot, same context
    pt.map(0x4000, DATA, PTE_AF | AP_RW_ALL | PTE_NG);
    pt.map(far, OTHER, PTE_AF | AP_RW_ALL | PTE_NG);
    read32(rig, 0x4000);
    read32(rig, 0x4000);
    expect(walks(rig)).toBe(1);
    read32(rig, far);
    expect(walks(rig)).toBe(2);
    read32(rig, 0x4000);
    expect(walks(rig)).toBe(3);
  });

  it('CR0.SMMUEN cleared takes effect on the next access (GBPA.ABORT as left by bring-up: abort), and GBPA then bypasses it', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const { pt } = setupS1(rig, q, SID);
    pt.map(DATA, OTHER, PTE_AF | AP_RW_ALL | PTE_NG);
    rig.m.bus.write32(DATA, 0xaaaa);
    rig.m.bus.write32(OTHER, 0xbbbb);
    expect(read32(rig, DATA)).toBe(0xbbbb);
    w32(rig, R.CR0, 0);
    expect(read32(rig, DATA)).toBeUndefined();
    w32(rig, R.GBPA, 1 << 31);
    expect(read32(rig, DATA)).toBe(0xaaaa);
  });

  it('two ports, and a port whose StreamID changes, never use each other\'s translation', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const { pt } = setupS1(rig, q, SID);
    pt.map(0x4000, DATA, PTE_AF | AP_RW_ALL | PTE_NG);
    writeSte(rig, q.strtab + (SID + 1) * 64, { cfg: 0 }); // SID + 1: abort
    const other = new DmaPort(rig.m.bus, 'other', SID + 1);
    rig.smmu.attach(other);
    const buf = new Uint8Array(4);
    for (let i = 0; i < 3; i++) {
      expect(read32(rig, 0x4000)).toBeDefined();
      expect(other.read(0x4000, buf, 0, 4)).toBe(DmaStatus.Abort);
    }
    rig.port.sid = SID + 1;
    expect(read32(rig, 0x4000)).toBeUndefined();
    rig.port.sid = SID;
    expect(read32(rig, 0x4000)).toBeDefined();
  });

  it('a SubstreamID on the transaction is not served by the entry cached for no SubstreamID', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const { pt } = setupS1(rig, q, SID);
    pt.map(0x4000, DATA, PTE_AF | AP_RW_ALL | PTE_NG);
    expect(read32(rig, 0x4000)).toBeDefined();
    // S1CDMax == 0: any SubstreamID is C_BAD_SUBSTREAMID.
    expect(dmaRead(rig, 0x4000, 4, { ssv: true, ssid: 0 }).status).toBe(DmaStatus.Abort);
    expect(read32(rig, 0x4000)).toBeDefined();
    // Out-of-range SubstreamIDs (negative, or 2^20 and beyond) are decided by the full path too.
    for (const ssid of [-1, -2, 0x10_0000, 0.5]) {
      expect(read32(rig, 0x4000)).toBeDefined();
      expect(dmaRead(rig, 0x4000, 4, { ssv: true, ssid }).status).toBe(DmaStatus.Abort);
    }
  });

  it('a DMA over physically contiguous and scattered pages moves the same bytes, hits the IOTLB as often and stops at the same byte on a fault, traced (page by page) or not (runs)', () => {
    const run = (traced: boolean) => {
      const rig = makeRig(SID);
      const q = bringUp(rig);
      const { pt } = setupS1(rig, q, SID);
      // IOVA pages 0..5: PA pages 0,1,2 contiguous, then 7, 8 contiguous, then 3; page 6 unmapped.
      const paPage = [0, 1, 2, 7, 8, 3];
      for (let i = 0; i < paPage.length; i++) pt.map(0x10_0000 + i * 4096, DATA + paPage[i]! * 4096, PTE_AF | AP_RW_ALL | PTE_NG);
      const src = new Uint8Array(7 * 4096).map((_, i) => (i * 7 + 3) & 0xff);
      expect(rig.port.write(0x10_0000, src, 0, 6 * 4096)).toBe(DmaStatus.Ok); // fills the IOTLB
      if (!traced) rig.m.trace.disable();
      expect(rig.m.trace.on).toBe(traced);
      const hits0 = rig.smmu.iotlb.hits;
      const st = rig.port.write(0x10_0000 + 100, src, 50, 7 * 4096 - 200);
      const hits = rig.smmu.iotlb.hits - hits0;
      const back = new Uint8Array(6 * 4096);
      for (let i = 0; i < paPage.length; i++) back.set(rig.m.bus.readBytes(DATA + paPage[i]! * 4096, 4096), i * 4096);
      return { st, done: rig.port.done, hits, back };
    };
    const a = run(true);
    const b = run(false);
    expect(a.st).toBe(DmaStatus.Abort);
    expect(a.done).toBe(6 * 4096 - 100);
    expect(b).toEqual(a);
  });
});
