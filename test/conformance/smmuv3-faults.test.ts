import { describe, expect, it } from 'vitest';
import { DmaStatus } from '../../src/hw/bus/dma.js';
import {
  AP_RW_ALL,
  bringUp,
  cfgiSte,
  cmd,
  dmaRead,
  drainEvents,
  GERROR_EVTQ_ABT,
  makeRig,
  P1,
  priResp,
  PTE_AF,
  R,
  r32,
  r64,
  RAM,
  resume,
  setupS1,
  stallTerm,
  sync,
  w32,
  w64,
  writeCd,
  writeSte,
} from './smmuv3-harness.js';

const SID = 0x10;
const DATA = RAM + 0x10_0000;

describe('SMMUv3 configuration errors (IHI 0070 7.3)', () => {
  it('7.3.3: a StreamID beyond STRTAB_BASE_CFG.LOG2SIZE is C_BAD_STREAMID, recorded only with CR2.RECINVSID', () => {
    const rig = makeRig(0x300);
    const q = bringUp(rig, { log2: 8 });
    expect(dmaRead(rig, 0x1000).status).toBe(DmaStatus.Abort);
    expect(drainEvents(rig, q).map((e) => [e.id, e.sid])).toEqual([[0x02, 0x300]]);
    w32(rig, R.CR0, 0xe);
    w32(rig, R.CR2, 0);
    w32(rig, R.CR0, 0xf);
    expect(dmaRead(rig, 0x1000).status).toBe(DmaStatus.Abort);
    expect(drainEvents(rig, q)).toEqual([]);
  });

  it('7.3.5: invalid and ILLEGAL STEs record C_BAD_STE (SteIllegal vectors)', () => {
    const illegal = [
      { cfg: 5, valid: false, ctxPtr: 0 },
      { cfg: 5, ctxPtr: 0, cdMax: 21 }, // S1CDMax > SSIDSIZE
      { cfg: 5, ctxPtr: 0, strw: 1 }, // STRW 0bx1 reserved
      { cfg: 6, s2: { t0sz: 40, sl0: 1, ttb: 0 } }, // S2T0SZ > 39
      { cfg: 6, s2: { t0sz: 16, sl0: 0, ttb: 0 } }, // SL0 inconsistent with T0SZ (needs 16+ tables)
      { cfg: 6, s2: { t0sz: 25, sl0: 1, ttb: 0, tg: 3 } }, // reserved granule
      { cfg: 6, s2: { t0sz: 25, sl0: 1, ttb: 0, aa64: false } }, // VMSAv8-32 unsupported
      { cfg: 6, s2: { t0sz: 25, sl0: 1, ttb: 2 ** 40, ps: 2 } }, // S2TTB beyond S2PS (40 bits)
    ];
    for (const ste of illegal) {
      const rig = makeRig(SID);
      const q = bringUp(rig);
      writeSte(rig, q.strtab + SID * 64, ste);
      expect(dmaRead(rig, 0x1000).status).toBe(DmaStatus.Abort);
      expect(drainEvents(rig, q).map((e) => e.id)).toEqual([0x04]);
    }
  });

  it('7.3.11: invalid and ILLEGAL CDs record C_BAD_CD (CdIllegal vectors)', () => {
    const illegal = [{ valid: false }, { aa64: false }, { a: false }, { t0sz: 12 }, { t0sz: 40 }, { tg0: 3 }, { endi: true }, { ips: 2, ttb0: 2 ** 41 }];
    for (const cd of illegal) {
      const rig = makeRig(SID);
      const q = bringUp(rig);
      setupS1(rig, q, SID, cd);
      expect(dmaRead(rig, 0x1000).status).toBe(DmaStatus.Abort);
      expect(drainEvents(rig, q).map((e) => e.id)).toEqual([0x0a]);
    }
    // 5.5: CD.S with STE.S1STALLD is ILLEGAL
    const rig = makeRig(SID);
    const q = bringUp(rig);
    setupS1(rig, q, SID, { s: true }, { s1stalld: true });
    expect(dmaRead(rig, 0x1000).status).toBe(DmaStatus.Abort);
    expect(drainEvents(rig, q).map((e) => e.id)).toEqual([0x0a]);
  });

  it('5.2 S1DSS / S1CDMax: SubstreamID rules give C_BAD_SUBSTREAMID or F_STREAM_DISABLED', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const cdTable = rig.mem.take(64 * 16, 1024);
    writeCd(rig, cdTable + 64 * 3, { ttb0: 0, epd0: true, asid: 3 });
    // S1CDMax = 4 (16 CDs), S1DSS = terminate
    writeSte(rig, q.strtab + SID * 64, { cfg: 5, ctxPtr: cdTable, cdMax: 4, s1dss: 0 });
    expect(dmaRead(rig, 0x1000).status).toBe(DmaStatus.Abort); // no SSID, terminate
    expect(dmaRead(rig, 0x1000, 4, { ssv: true, ssid: 16 }).status).toBe(DmaStatus.Abort); // >= 2^S1CDMax
    expect(dmaRead(rig, 0x1000, 4, { ssv: true, ssid: 3 }).status).toBe(DmaStatus.Abort); // CD 3: EPD0 fault
    writeSte(rig, q.strtab + SID * 64, { cfg: 5, ctxPtr: cdTable, cdMax: 4, s1dss: 2 });
    cmd(rig, cfgiSte(SID), sync());
    expect(dmaRead(rig, 0x1000, 4, { ssv: true, ssid: 0 }).status).toBe(DmaStatus.Abort); // SSID 0 with S1DSS=SSID0
    writeSte(rig, q.strtab + SID * 64, { cfg: 4 });
    cmd(rig, cfgiSte(SID), sync());
    expect(dmaRead(rig, 0x1000, 4, { ssv: true, ssid: 1 }).status).toBe(DmaStatus.Abort); // SSV with stage 1 off
    const ev = drainEvents(rig, q);
    expect(ev.map((e) => [e.id, e.ssv, e.ssid])).toEqual([
      [0x06, false, 0],
      [0x08, true, 16],
      [0x10, true, 3],
      [0x06, true, 0],
      [0x08, true, 1],
    ]);
  });

  it('5.1 / 5.3: 2-level stream table (SPAN) and 2-level CD table (L1CD) are walked; L1CD.V == 0 is C_BAD_SUBSTREAMID', () => {
    const rig = makeRig(0x1234);
    const l1 = rig.mem.take(8 * 256, 2048);
    // STRTAB_BASE_CFG: FMT 2-level, SPLIT 8, LOG2SIZE 16
    const q = bringUp(rig, { strtabBase: BigInt(l1), strtabCfg: (1 << 16) | (8 << 6) | 16 });
    const l2 = rig.mem.take(64 * 256, 64 * 256);
    rig.m.bus.write64(l1 + 0x12 * 8, BigInt(l2) | 9n); // SPAN 9 = 256 STEs
    const cdL1 = rig.mem.take(8 * 16, 128);
    const cdL2 = rig.mem.take(64 * 64, 4096);
    rig.m.bus.write64(cdL1 + 8, BigInt(cdL2) | 1n); // L1CD[1]: SSIDs 64..127 (4K leaves)
    const { pt } = setupS1(rig, { ...q, strtab: 0 } as typeof q, 0); // builds a page table; CD written below
    pt.map(0x2000, DATA, PTE_AF | AP_RW_ALL);
    writeCd(rig, cdL2 + (70 - 64) * 64, { ttb0: pt.ttb, asid: 70 });
    writeSte(rig, l2 + 0x34 * 64, { cfg: 5, ctxPtr: cdL1, cdMax: 10, s1Fmt: 1, s1dss: 0 });
    rig.m.bus.write32(DATA, 0x77);
    const r = dmaRead(rig, 0x2000, 4, { ssv: true, ssid: 70 });
    expect(r.status).toBe(DmaStatus.Ok);
    expect(r.data[0]).toBe(0x77);
    expect(dmaRead(rig, 0x2000, 4, { ssv: true, ssid: 5 }).status).toBe(DmaStatus.Abort); // L1CD[0] invalid
    expect(drainEvents(rig, q).map((e) => [e.id, e.ssid])).toEqual([[0x08, 5]]);
  });

  it('7.3.4 / 7.3.10 / 7.3.12: bus errors fetching an STE, a CD or a descriptor are F_STE_FETCH, F_CD_FETCH, F_WALK_EABT with the fetch address', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    writeSte(rig, q.strtab + SID * 64, { cfg: 5, ctxPtr: 0x0a00_0000 });
    expect(dmaRead(rig, 0x1000).status).toBe(DmaStatus.Abort);
    setupS1(rig, q, SID, { ttb0: 0x0b00_0000 });
    cmd(rig, cfgiSte(SID), sync());
    expect(dmaRead(rig, 0x1000).status).toBe(DmaStatus.Abort);
    const ev = drainEvents(rig, q);
    expect(ev.map((e) => [e.id, e.dw3 & ~7n])).toEqual([
      [0x09, 0x0a00_0000n],
      [0x0b, 0x0b00_0000n],
    ]);
    const rig2 = makeRig(SID);
    const q2 = bringUp(rig2, { strtabBase: 0x0c00_0000n, strtabCfg: 8 });
    expect(dmaRead(rig2, 0x1000).status).toBe(DmaStatus.Abort);
    expect(drainEvents(rig2, q2).map((e) => [e.id, e.dw3 & ~7n])).toEqual([[0x03, 0x0c00_0000n + BigInt(SID * 64)]]);
  });
});

describe('SMMUv3 stall model (IHI 0070 3.12.2, 4.7)', () => {
  function stallRig() {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const { pt } = setupS1(rig, q, SID, { s: true, r: false });
    return { rig, q, pt };
  }

  it('3.12.2: a fault on a stall-enabled stream stalls and records Stall = 1 with a STAG; RESUME retry replays it', () => {
    const { rig, q, pt } = stallRig();
    expect(dmaRead(rig, 0x5000, 4, { ssv: false }).status).toBe(DmaStatus.Stalled);
    const [e] = drainEvents(rig, q);
    expect(e).toMatchObject({ id: 0x10, stall: true, sid: SID });
    expect(e!.addr).toBe(0x5000n);
    pt.map(0x5000, DATA, PTE_AF | AP_RW_ALL);
    cmd(rig, resume(SID, e!.stag, true), sync());
    expect(rig.stallEnds).toEqual([true]);
    expect(dmaRead(rig, 0x5000).status).toBe(DmaStatus.Ok); // the device's replay
    expect(rig.smmu.stalls.outstanding).toBe(0);
  });

  it('4.7.1: RESUME with the terminate action aborts; a wrong StreamID or STAG has no effect', () => {
    const { rig, q } = stallRig();
    dmaRead(rig, 0x5000);
    const [e] = drainEvents(rig, q);
    cmd(rig, resume(SID + 1, e!.stag, true), resume(SID, e!.stag + 1, true), sync());
    expect(rig.stallEnds).toEqual([]);
    cmd(rig, resume(SID, e!.stag, false), sync());
    expect(rig.stallEnds).toEqual([false]);
  });

  it('4.7.2: STALL_TERM ends every stall of the StreamID; STAGs of outstanding stalls are unique', () => {
    const { rig, q } = stallRig();
    for (let i = 0; i < 5; i++) expect(dmaRead(rig, 0x5000 + i * 4096).status).toBe(DmaStatus.Stalled);
    const tags = drainEvents(rig, q).map((e) => e.stag);
    expect(new Set(tags).size).toBe(5);
    cmd(rig, stallTerm(SID), sync());
    expect(rig.stallEnds).toEqual([false, false, false, false, false]);
  });

  it('6.3.6 STALL_MAX: beyond the stall bound a faulting transaction is terminated', () => {
    const { rig } = stallRig();
    const max = r32(rig, R.IDR5) >>> 16;
    for (let i = 0; i < max; i++) expect(dmaRead(rig, 0x10_0000 + i * 4096).status).toBe(DmaStatus.Stalled);
    expect(dmaRead(rig, 0x9000_0000).status).toBe(DmaStatus.Abort);
  });

  it('7.2.1: a stall record is not discarded while the Event queue is disabled; it is written when enabled', () => {
    const { rig, q } = stallRig();
    w32(rig, R.CR0, 0xb); // EVENTQEN off
    expect(dmaRead(rig, 0x5000).status).toBe(DmaStatus.Stalled);
    expect(drainEvents(rig, q)).toEqual([]);
    w32(rig, R.CR0, 0xf);
    expect(drainEvents(rig, q).map((e) => [e.id, e.stall])).toEqual([[0x10, true]]);
  });

  it('6.3.9.6: clearing SMMUEN terminates stalled transactions', () => {
    const { rig } = stallRig();
    dmaRead(rig, 0x5000);
    w32(rig, R.CR0, 0xe);
    expect(rig.stallEnds).toEqual([false]);
  });
});

describe('SMMUv3 Event queue (IHI 0070 7.2, 7.4)', () => {
  it('7.4: when full, events are discarded and PROD.OVFLG toggles until CONS.OVACKFLG acknowledges', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig, { evtqLog2: 2 }); // 4 entries
    setupS1(rig, q, SID);
    for (let i = 0; i < 6; i++) dmaRead(rig, 0x1000 + i * 4096);
    const prod = rig.m.bus.read32(P1 + 0xa8);
    expect(prod >>> 31).toBe(1); // overflow
    expect(prod & 7).toBe(4); // index 0, wrap 1: full
    expect(drainEvents(rig, q, true).map((e) => e.addr)).toEqual([0x1000n, 0x2000n, 0x3000n, 0x4000n]);
    expect(rig.m.bus.read32(P1 + 0xac) >>> 31).toBe(1); // acknowledged
    dmaRead(rig, 0x9000);
    expect(rig.m.bus.read32(P1 + 0xa8) >>> 31).toBe(1); // no new overflow
    expect(drainEvents(rig, q).map((e) => e.addr)).toEqual([0x9000n]);
  });

  it('3.18: the Event queue interrupt is an MSI of EVENTQ_IRQ_CFG1 to EVENTQ_IRQ_CFG0 plus the wired pulse, on empty to non-empty', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig, { irq: false });
    const msi = rig.mem.take(64);
    w64(rig, R.EVTQ_IRQ_CFG0, BigInt(msi));
    w32(rig, R.EVTQ_IRQ_CFG1, 0x55);
    w32(rig, R.IRQ_CTRL, 4);
    setupS1(rig, q, SID);
    dmaRead(rig, 0x1000);
    dmaRead(rig, 0x2000); // queue not empty: no second interrupt
    expect(rig.m.bus.read32(msi)).toBe(0x55);
    expect(rig.irqs.eventq).toBe(1);
    expect(r64(rig, R.EVTQ_IRQ_CFG0)).toBe(BigInt(msi));
  });

  it('7.2.2: an Event queue write that aborts raises GERROR.EVENTQ_ABT_ERR', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    w32(rig, R.CR0, 0xb);
    w64(rig, R.EVTQ_BASE, 0x0a00_0000n | 4n);
    w32(rig, R.CR0, 0xf);
    setupS1(rig, q, SID);
    dmaRead(rig, 0x1000);
    expect(r32(rig, R.GERROR) & GERROR_EVTQ_ABT).toBe(GERROR_EVTQ_ABT);
    expect(rig.irqs.gerror).toBe(1);
  });
});

describe('SMMUv3 PRI queue (IHI 0070 chapter 8)', () => {
  it('8 / 4.5.2: a page request is recorded with its fields; PRI_RESP Resp 0b10, 0b00 and 0b01 reach the function as Success, Response Failure and Invalid Request', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    expect(rig.port.pageRequest(0x1234_5678, 42, true, true, true, false, false, 7, true)).toBe(true);
    const d0 = rig.m.bus.read64(q.priq);
    const d1 = rig.m.bus.read64(q.priq + 8);
    expect(Number(d0 & 0xffffffffn)).toBe(SID);
    expect(Number((d0 >> 32n) & 0xfffffn)).toBe(42);
    expect([58n, 59n, 60n, 61n, 62n, 63n].map((bit) => Number((d0 >> bit) & 1n))).toEqual([0, 0, 1, 1, 1, 1]);
    expect(d1).toBe(0x1234_5000n | 7n);
    expect(rig.irqs.priq).toBe(1);
    cmd(rig, priResp(SID, 7, 2, 42), sync());
    expect(rig.pageResponses).toEqual([{ prg: 7, code: 0, ssid: 42, ssv: true }]);
    cmd(rig, priResp(SID, 8, 0), priResp(SID, 9, 1), sync());
    // 4.5.2 Resp: 0b00 ResponseFailure, 0b01 InvalidRequest
    expect(rig.pageResponses.slice(1).map((r) => r.code)).toEqual([0b1111, 0b0001]);
  });

  it('8.1: when the PRI queue overflows, Last requests get an automatic Success and the queue stays inhibited', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig, { priqLog2: 1 }); // 2 entries
    for (let i = 0; i < 2; i++) rig.port.pageRequest(0x1000 * i, 0, false, true, false, false, false, i, false);
    rig.port.pageRequest(0x9000, 0, false, true, false, false, false, 5, true); // overflows
    rig.port.pageRequest(0xa000, 0, false, true, false, false, false, 6, false); // discarded silently
    rig.m.run({ untilIdle: true });
    expect(rig.m.bus.read32(P1 + 0xc8) >>> 31).toBe(1);
    expect(rig.pageResponses).toEqual([{ prg: 5, code: 0, ssid: 0, ssv: false }]);
    void q;
  });

  it('8.2: with PRIQEN == 0 every page request gets an automatic Response Failure', () => {
    const rig = makeRig(SID);
    bringUp(rig);
    w32(rig, R.CR0, 0xd);
    rig.port.pageRequest(0x1000, 3, true, true, false, false, false, 4, false);
    rig.m.run({ untilIdle: true });
    expect(rig.pageResponses).toEqual([{ prg: 4, code: 0b1111, ssid: 0, ssv: false }]);
  });
});
