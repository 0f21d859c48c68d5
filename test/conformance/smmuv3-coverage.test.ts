// Conformance tests for SMMUv3 paths no other file drives: stage 2 fault recording and
// stalling (STE.S2R / S2S), a nested stage 2 fault on a stage 1 table fetch, the GERROR
// and PRI queue MSIs with their IRQ_CTRL gating and MSI_*_ABT_ERR, instruction fetches
// against XN, and the 16 KiB and 64 KiB granules. Everything goes through the bus and the
// harness's DMA port, and every assertion is on an architected value.

import { describe, expect, it } from 'vitest';
import { DmaStatus } from '../../src/hw/bus/dma.js';
import { TraceKind } from '../../src/trace/record.js';
import {
  AP_RO_ALL,
  AP_RW_ALL,
  AP_RW_EL1,
  bringUp,
  cmd,
  dmaRead,
  dmaWrite,
  drainEvents,
  GERROR_CMDQ_ERR,
  GERROR_MSI_EVTQ_ABT,
  makeRig,
  PageTable,
  PTE_AF,
  type Queues,
  R,
  r32,
  r64,
  RAM,
  resume,
  type Rig,
  S2_MEMATTR_NORMAL,
  S2AP_R,
  S2AP_W,
  setupS1,
  sync,
  tlbiVa,
  w32,
  w64,
  writeCd,
  writeSte,
} from './smmuv3-harness.js';

const SID = 0x10;
const DATA = RAM + 0x10_0000;
/** An address with no slave on the rig's bus: a write there aborts. */
const NO_SLAVE = 0x0a00_0000;
const GERROR_PRIQ_ABT = 1 << 3;
const GERROR_MSI_PRIQ_ABT = 1 << 6;
const GERROR_MSI_GERROR_ABT = 1 << 7;
const IRQ_GERROR = 1, IRQ_PRIQ = 2, IRQ_EVTQ = 4;

const F_TRANSLATION = 0x10, F_ADDR_SIZE = 0x11, F_ACCESS = 0x12, F_PERMISSION = 0x13;
const CLASS_CD = 0, CLASS_TT = 1, CLASS_IN = 2;
const S2_XN = 2n << 53n; // XN[1:0] = 0b10: not executable at any level
const UXN = 1n << 54n;
const PXN = 1n << 53n;
const S2_RW = PTE_AF | S2AP_R | S2AP_W | S2_MEMATTR_NORMAL;

const ipaOf = (dw3: bigint) => dw3 & 0x000f_ffff_ffff_f000n;

/** Dword 1 of the event at EVTQ_CONS, read before `drainEvents` moves past it (TTRnW at bit 44). */
function nextEventDw1(rig: Rig, q: Queues): bigint {
  const cons = r32(rig, 0x100ac) & ((1 << q.evtqLog2) - 1);
  return rig.m.bus.read64(q.evtq + cons * 32 + 8);
}

/** A stage-2-only stream (STE.Config == 0b110) over a fresh 4-level stage 2 table. */
function s2Stream(s2: { r?: boolean; s?: boolean; ps?: number; affd?: boolean }) {
  const rig = makeRig(SID);
  const q = bringUp(rig);
  const pt = new PageTable(rig);
  writeSte(rig, q.strtab + SID * 64, { cfg: 6, vmid: 7, s2: { t0sz: 16, sl0: 2, ttb: pt.ttb, ...s2 } });
  return { rig, q, pt };
}

describe('SMMUv3 stage 2 fault controls (IHI 0070 5.2 STE.S2R / S2S, 5.5)', () => {
  /** The four stage 2 translation-related faults, each from its own IPA. */
  function provokeAll(rig: Rig, pt: PageTable) {
    pt.map(0x2000, DATA, S2AP_R | S2_MEMATTR_NORMAL | PTE_AF); // read-only
    pt.map(0x3000, DATA, S2AP_R | S2AP_W | S2_MEMATTR_NORMAL); // AF == 0
    pt.map(0x4000, 2 ** 32, S2_RW); // output beyond S2PS (32 bits)
    return [
      dmaRead(rig, 0x1000).status, // not mapped
      dmaWrite(rig, 0x2008, new Uint8Array(4)),
      dmaRead(rig, 0x3010).status,
      dmaRead(rig, 0x4000).status,
    ];
  }

  it('5.2 S2R == 1: F_TRANSLATION, F_PERMISSION, F_ACCESS and F_ADDR_SIZE of a stage 2 walk are recorded with S2 = 1, CLASS = IN and the IPA', () => {
    const { rig, q, pt } = s2Stream({ r: true, ps: 0 });
    expect(provokeAll(rig, pt)).toEqual([DmaStatus.Abort, DmaStatus.Abort, DmaStatus.Abort, DmaStatus.Abort]);
    const ev = drainEvents(rig, q);
    expect(ev.map((e) => [e.id, e.s2, e.cls, e.rnw, e.sid, e.stall, e.addr, ipaOf(e.dw3)])).toEqual([
      [F_TRANSLATION, true, CLASS_IN, true, SID, false, 0x1000n, 0x1000n],
      [F_PERMISSION, true, CLASS_IN, false, SID, false, 0x2008n, 0x2000n],
      [F_ACCESS, true, CLASS_IN, true, SID, false, 0x3010n, 0x3000n],
      [F_ADDR_SIZE, true, CLASS_IN, true, SID, false, 0x4000n, 0x4000n],
    ]);
  });

  it('5.2 S2R == 0: the same stage 2 faults terminate without an event', () => {
    const { rig, q, pt } = s2Stream({ r: false, ps: 0 });
    expect(provokeAll(rig, pt)).toEqual([DmaStatus.Abort, DmaStatus.Abort, DmaStatus.Abort, DmaStatus.Abort]);
    expect(drainEvents(rig, q)).toEqual([]);
  });

  it('5.2 S2AFFD == 1: AF == 0 in a stage 2 leaf does not fault', () => {
    const { rig, q, pt } = s2Stream({ r: true, affd: true });
    pt.map(0x3000, DATA, S2AP_R | S2AP_W | S2_MEMATTR_NORMAL);
    expect(dmaRead(rig, 0x3010).status).toBe(DmaStatus.Ok);
    expect(drainEvents(rig, q)).toEqual([]);
  });

  it('3.12.2 / 5.2 S2S == 1: a stage 2 fault stalls, is recorded with Stall = 1 and a STAG even with S2R == 0; CMD_RESUME retry completes it', () => {
    const { rig, q, pt } = s2Stream({ s: true, r: false });
    rig.m.bus.write32(DATA + 4, 0xc0ffee11);
    expect(dmaRead(rig, 0x6004).status).toBe(DmaStatus.Stalled);
    const [e] = drainEvents(rig, q);
    expect(e).toMatchObject({ id: F_TRANSLATION, stall: true, s2: true, cls: CLASS_IN, sid: SID, rnw: true });
    expect(e!.addr).toBe(0x6004n);
    expect(ipaOf(e!.dw3)).toBe(0x6000n);
    expect(rig.smmu.stalls.outstanding).toBe(1);
    pt.map(0x6000, DATA, S2_RW);
    cmd(rig, resume(SID, e!.stag, true), sync());
    expect(rig.stallEnds).toEqual([true]);
    expect(rig.smmu.stalls.outstanding).toBe(0);
    const replay = dmaRead(rig, 0x6004);
    expect(replay.status).toBe(DmaStatus.Ok);
    expect(new DataView(replay.data.buffer).getUint32(0, true)).toBe(0xc0ffee11);
  });

  it('4.7.1: CMD_RESUME with the abort action terminates a stalled stage 2 permission fault', () => {
    const { rig, q, pt } = s2Stream({ s: true, r: true });
    pt.map(0x7000, DATA, PTE_AF | S2AP_R | S2_MEMATTR_NORMAL);
    expect(dmaWrite(rig, 0x7000, new Uint8Array(8))).toBe(DmaStatus.Stalled);
    const [e] = drainEvents(rig, q);
    expect(e).toMatchObject({ id: F_PERMISSION, stall: true, s2: true, rnw: false });
    expect(ipaOf(e!.dw3)).toBe(0x7000n);
    cmd(rig, resume(SID, e!.stag, false), sync());
    expect(rig.stallEnds).toEqual([false]);
    expect(rig.smmu.stalls.outstanding).toBe(0);
    expect(drainEvents(rig, q)).toEqual([]);
  });

  it('5.5: a stage 1 fault of a nested stream is governed by CD.R, not STE.S2R', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const s2 = new PageTable(rig);
    // Identity stage 2 over the first 64 MiB of the allocator's region (2 MiB blocks).
    for (let pa = RAM + 0x0100_0000; pa < RAM + 0x0500_0000; pa += 0x20_0000) s2.map(pa, pa, S2_RW, 2);
    const { cdAt } = setupS1(rig, q, SID, { r: false });
    writeSte(rig, q.strtab + SID * 64, { cfg: 7, ctxPtr: cdAt, vmid: 2, s2: { t0sz: 16, sl0: 2, ttb: s2.ttb, r: true } });
    expect(dmaRead(rig, 0x9000).status).toBe(DmaStatus.Abort); // stage 1 translation fault
    expect(drainEvents(rig, q)).toEqual([]);
  });
});

describe('SMMUv3 nested stage 2 faults on stage 1 table walks (IHI 0070 3.3, 7.3 CLASS)', () => {
  /**
   * A nested stream whose stage 2 maps, page by page and identically, the CD, every stage 1
   * table of VA 0x5000 and its data page, except the level-2 table, mapped with `l2Attrs`.
   */
  function nestedRig(l2Attrs: bigint | undefined, s2r = true) {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const s2 = new PageTable(rig);
    const { pt, cdAt } = setupS1(rig, q, SID);
    pt.map(0x5000, DATA, PTE_AF | AP_RW_ALL);
    const tables = [pt.root];
    for (let l = 0; l < 3; l++) {
      const idx = Math.floor(0x5000 / 2 ** (39 - 9 * l)) % 512;
      tables.push(Number(rig.m.bus.read64(tables[l]! + idx * 8) & 0x0000_ffff_ffff_f000n));
    }
    for (const pa of [cdAt - (cdAt % 4096), tables[0]!, tables[1]!, tables[3]!, DATA]) s2.map(pa, pa, S2_RW);
    if (l2Attrs !== undefined) s2.map(tables[2]!, tables[2]!, l2Attrs);
    writeSte(rig, q.strtab + SID * 64, { cfg: 7, ctxPtr: cdAt, vmid: 3, s2: { t0sz: 16, sl0: 2, ttb: s2.ttb, r: s2r } });
    return { rig, q, l2: tables[2]! };
  }

  it('a nested walk through tables mapped at stage 2 reaches the data', () => {
    const { rig } = nestedRig(S2_RW);
    rig.m.bus.write32(DATA, 0x1357_9bdf);
    const r = dmaRead(rig, 0x5000);
    expect(r.status).toBe(DmaStatus.Ok);
    expect(new DataView(r.data.buffer).getUint32(0, true)).toBe(0x1357_9bdf);
  });

  it('7.3.12-15: a stage 2 translation, access or permission fault fetching the level 2 table is recorded with CLASS = TT, S2 = 1, TTRnW = 1 and the table IPA', () => {
    const cases: [bigint | undefined, number][] = [
      [undefined, F_TRANSLATION],
      [S2AP_R | S2AP_W | S2_MEMATTR_NORMAL, F_ACCESS], // AF == 0
      [PTE_AF | S2AP_W | S2_MEMATTR_NORMAL, F_PERMISSION], // not readable at stage 2
    ];
    for (const [attrs, id] of cases) {
      const { rig, q, l2 } = nestedRig(attrs);
      expect(dmaWrite(rig, 0x5000, new Uint8Array(4))).toBe(DmaStatus.Abort);
      const dw1 = nextEventDw1(rig, q);
      const [e, ...rest] = drainEvents(rig, q);
      expect(rest).toEqual([]);
      expect(e).toMatchObject({ id, s2: true, cls: CLASS_TT, stall: false, sid: SID });
      expect(e!.addr).toBe(0x5000n); // InputAddr: the VA of the transaction
      expect(ipaOf(e!.dw3)).toBe(BigInt(l2));
      expect((dw1 >> 44n) & 1n).toBe(1n); // TTRnW: a table fetch is a read
    }
  });

  it('5.2: with STE.S2R == 0 the CLASS = TT stage 2 fault terminates without an event', () => {
    const { rig, q } = nestedRig(undefined, false);
    expect(dmaRead(rig, 0x5000).status).toBe(DmaStatus.Abort);
    expect(drainEvents(rig, q)).toEqual([]);
  });

  it('a stage 2 fault on the CD fetch of a nested stream is CLASS = CD', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const s2 = new PageTable(rig);
    const { cdAt } = setupS1(rig, q, SID);
    writeSte(rig, q.strtab + SID * 64, { cfg: 7, ctxPtr: cdAt, vmid: 3, s2: { t0sz: 16, sl0: 2, ttb: s2.ttb, r: true } });
    expect(dmaRead(rig, 0x5000).status).toBe(DmaStatus.Abort);
    const [e] = drainEvents(rig, q);
    expect(e).toMatchObject({ id: F_TRANSLATION, s2: true, cls: CLASS_CD });
    expect(ipaOf(e!.dw3)).toBe(BigInt(cdAt - (cdAt % 4096)));
  });
});

describe('SMMUv3 MSIs of GERROR and the PRI queue (IHI 0070 3.18, 6.3.16-23, 7.5)', () => {
  /** Makes CMDQ_ERR active with an illegal opcode (7.1 CERROR_ILL), then acknowledges nothing. */
  function cmdqError(rig: Rig): void {
    cmd(rig, [0x7fn, 0n]);
  }

  /** Linux's recovery: the illegal entry becomes a CMD_SYNC, then GERRORN acknowledges. */
  function ack(rig: Rig): void {
    const base = Number(r64(rig, R.CMDQ_BASE) & 0x00ff_ffff_ffff_ffe0n);
    const slot = r32(rig, R.CMDQ_CONS) & 0xff;
    rig.m.bus.write64(base + slot * 16, sync()[0]);
    rig.m.bus.write64(base + slot * 16 + 8, 0n);
    w32(rig, R.GERRORN, r32(rig, R.GERROR));
    rig.m.run({ untilIdle: true });
  }

  function msiCount(rig: Rig): number {
    return [...rig.m.trace.records()].filter((r) => r.kind === TraceKind.Msi).length;
  }

  it('3.18: a GERROR activation sends GERROR_IRQ_CFG1 to GERROR_IRQ_CFG0 and pulses the wired line; IRQ_CTRL.GERROR_IRQEN == 0 sends nothing', () => {
    const rig = makeRig(SID);
    bringUp(rig, { irq: false });
    const msi = rig.mem.take(64);
    w64(rig, R.GERROR_IRQ_CFG0, BigInt(msi) | 3n); // ADDR[1:0] are RES0
    w32(rig, R.GERROR_IRQ_CFG1, 0xfeed_0001);
    w32(rig, R.GERROR_IRQ_CFG2, (2 << 4) | 1); // SH = outer, MemAttr = Device-nGnRE
    expect(r64(rig, R.GERROR_IRQ_CFG0)).toBe(BigInt(msi));
    expect(r32(rig, R.GERROR_IRQ_CFG2)).toBe((2 << 4) | 1);

    // Disabled: the error is still activated, but no MSI and no pulse.
    cmdqError(rig);
    expect(r32(rig, R.GERROR) & GERROR_CMDQ_ERR).toBe(GERROR_CMDQ_ERR);
    expect(rig.m.bus.read32(msi)).toBe(0);
    expect(rig.irqs.gerror).toBe(0);
    expect(msiCount(rig)).toBe(0);
    ack(rig);

    w32(rig, R.IRQ_CTRL, IRQ_GERROR);
    expect(r32(rig, R.IRQ_CTRLACK)).toBe(IRQ_GERROR);
    // 6.3.21-23: IRQ_CFG{0,1,2} are guarded by their IRQEN: writes while enabled are ignored.
    w64(rig, R.GERROR_IRQ_CFG0, 0x1000n);
    w32(rig, R.GERROR_IRQ_CFG1, 0);
    w32(rig, R.GERROR_IRQ_CFG2, 0);
    expect(r64(rig, R.GERROR_IRQ_CFG0)).toBe(BigInt(msi));
    expect(r32(rig, R.GERROR_IRQ_CFG2)).toBe((2 << 4) | 1);

    const before = r32(rig, R.GERROR);
    cmdqError(rig);
    expect((r32(rig, R.GERROR) ^ before) >>> 0).toBe(GERROR_CMDQ_ERR); // toggled
    expect(rig.m.bus.read32(msi)).toBe(0xfeed_0001);
    expect(rig.irqs.gerror).toBe(1);
    expect(msiCount(rig)).toBe(1);
  });

  it('3.18 / 8: the PRI queue interrupt is an MSI of PRIQ_IRQ_CFG1 to PRIQ_IRQ_CFG0, gated by IRQ_CTRL.PRIQ_IRQEN', () => {
    const rig = makeRig(SID);
    bringUp(rig, { irq: false });
    const msi = rig.mem.take(64);
    w64(rig, R.PRIQ_IRQ_CFG0, BigInt(msi));
    w32(rig, R.PRIQ_IRQ_CFG1, 0x0000_0a5a);
    w32(rig, R.PRIQ_IRQ_CFG2, 1);
    expect(r32(rig, R.PRIQ_IRQ_CFG2)).toBe(1);
    rig.port.pageRequest(0x1000, 0, false, true, false, false, false, 1, true);
    expect(rig.m.bus.read32(msi)).toBe(0);
    expect(rig.irqs.priq).toBe(0);
    // Drain the queue so the next request makes it non-empty again.
    w32(rig, R.PRIQ_CONS, r32(rig, R.PRIQ_PROD));
    w32(rig, R.IRQ_CTRL, IRQ_PRIQ);
    rig.port.pageRequest(0x2000, 0, false, true, false, false, false, 2, true);
    expect(rig.m.bus.read32(msi)).toBe(0x0a5a);
    expect(rig.irqs.priq).toBe(1);
    expect(r32(rig, R.GERROR)).toBe(0);
  });

  it('7.5.1: a GERROR MSI that aborts activates MSI_GERROR_ABT_ERR without a further GERROR interrupt', () => {
    const rig = makeRig(SID);
    bringUp(rig, { irq: false });
    w64(rig, R.GERROR_IRQ_CFG0, NO_SLAVE);
    w32(rig, R.GERROR_IRQ_CFG1, 1);
    w32(rig, R.IRQ_CTRL, IRQ_GERROR);
    cmdqError(rig);
    expect(r32(rig, R.GERROR) & 0x1fd).toBe(GERROR_CMDQ_ERR | GERROR_MSI_GERROR_ABT);
    expect(rig.irqs.gerror).toBe(1); // the CMDQ_ERR interrupt only
    expect(msiCount(rig)).toBe(1); // the aborted MSI is not re-sent
    // 6.3.19: activation of the error does not affect future MSIs.
    ack(rig);
    cmdqError(rig);
    expect(r32(rig, R.GERROR) ^ r32(rig, R.GERRORN)).toBe(GERROR_CMDQ_ERR | GERROR_MSI_GERROR_ABT);
    expect(msiCount(rig)).toBe(2);
    expect(rig.irqs.gerror).toBe(2);
  });

  it('6.3.19: a PRI queue MSI that aborts activates MSI_PRIQ_ABT_ERR, which raises a GERROR MSI; the request stays recorded', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig, { irq: false });
    const gmsi = rig.mem.take(64);
    w64(rig, R.PRIQ_IRQ_CFG0, NO_SLAVE);
    w64(rig, R.GERROR_IRQ_CFG0, BigInt(gmsi));
    w32(rig, R.GERROR_IRQ_CFG1, 0x6e);
    w32(rig, R.IRQ_CTRL, IRQ_GERROR | IRQ_PRIQ);
    rig.port.pageRequest(0x3000, 0, false, true, false, false, false, 3, true);
    expect(r32(rig, R.GERROR)).toBe(GERROR_MSI_PRIQ_ABT);
    expect(r32(rig, R.GERROR) & GERROR_PRIQ_ABT).toBe(0); // the queue write itself succeeded
    expect(rig.m.bus.read32(gmsi)).toBe(0x6e);
    expect(rig.irqs.gerror).toBe(1);
    expect(r32(rig, R.PRIQ_PROD) & 0xff).toBe(1);
    expect(rig.m.bus.read64(q.priq + 8)).toBe(0x3000n | 3n);
  });

  it('6.3.19: an Event queue MSI that aborts activates MSI_EVENTQ_ABT_ERR; the event stays recorded', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig, { irq: false });
    w64(rig, R.EVTQ_IRQ_CFG0, NO_SLAVE);
    w32(rig, R.IRQ_CTRL, IRQ_GERROR | IRQ_EVTQ);
    setupS1(rig, q, SID);
    expect(dmaRead(rig, 0x1000).status).toBe(DmaStatus.Abort);
    expect(r32(rig, R.GERROR)).toBe(GERROR_MSI_EVTQ_ABT);
    expect(rig.irqs.gerror).toBe(1);
    expect(drainEvents(rig, q).map((e) => [e.id, e.addr])).toEqual([[F_TRANSLATION, 0x1000n]]);
  });
});

describe('SMMUv3 instruction fetches (IHI 0070 13.1.1, 7.3 InD / PnU; Arm ARM D8.4)', () => {
  it('stage 1: UXN stops unprivileged and PXN privileged instruction reads (InD = 1, PnU as issued); EL0-writable memory is never executable at EL1', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const { pt } = setupS1(rig, q, SID);
    pt.map(0x1000, DATA, PTE_AF | AP_RO_ALL | UXN);
    pt.map(0x2000, DATA, PTE_AF | AP_RO_ALL | PXN);
    pt.map(0x3000, DATA, PTE_AF | AP_RW_ALL);
    pt.map(0x4000, DATA, PTE_AF | AP_RW_EL1);
    const ifetch = (va: number, priv: boolean) => dmaRead(rig, va, 4, { exec: true, priv }).status;
    expect([ifetch(0x1000, false), ifetch(0x1000, true), dmaRead(rig, 0x1000).status]).toEqual([DmaStatus.Abort, DmaStatus.Ok, DmaStatus.Ok]);
    expect([ifetch(0x2000, true), ifetch(0x2000, false)]).toEqual([DmaStatus.Abort, DmaStatus.Ok]);
    expect([ifetch(0x3000, true), ifetch(0x3000, false)]).toEqual([DmaStatus.Abort, DmaStatus.Ok]);
    expect([ifetch(0x4000, true), ifetch(0x4000, false)]).toEqual([DmaStatus.Ok, DmaStatus.Ok]);
    const ev = drainEvents(rig, q);
    expect(ev.map((e) => [e.id, e.ind, e.pnu, e.rnw, e.s2, e.cls, e.addr])).toEqual([
      [F_PERMISSION, true, false, true, false, CLASS_IN, 0x1000n],
      [F_PERMISSION, true, true, true, false, CLASS_IN, 0x2000n],
      [F_PERMISSION, true, true, true, false, CLASS_IN, 0x3000n],
    ]);
  });

  it('a data read of a page that is only non-executable is allowed and an IOTLB entry filled by it does not let an instruction read through', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const { pt } = setupS1(rig, q, SID);
    pt.map(0x1000, DATA, PTE_AF | AP_RO_ALL | UXN | PXN);
    expect(dmaRead(rig, 0x1000).status).toBe(DmaStatus.Ok);
    expect(dmaRead(rig, 0x1004, 4, { exec: true }).status).toBe(DmaStatus.Abort);
    expect(drainEvents(rig, q).map((e) => [e.id, e.ind, e.pnu])).toEqual([[F_PERMISSION, true, false]]);
  });

  it('stage 2: XN stops an instruction read with S2 = 1 and InD = 1; a data read of the same page passes', () => {
    const { rig, q, pt } = s2Stream({ r: true });
    pt.map(0x8000, DATA, S2_RW | S2_XN);
    pt.map(0x9000, DATA, S2_RW);
    expect(dmaRead(rig, 0x8000).status).toBe(DmaStatus.Ok);
    expect(dmaRead(rig, 0x8000, 4, { exec: true, priv: true }).status).toBe(DmaStatus.Abort);
    expect(dmaRead(rig, 0x9000, 4, { exec: true, priv: true }).status).toBe(DmaStatus.Ok);
    const [e, ...rest] = drainEvents(rig, q);
    expect(rest).toEqual([]);
    expect(e).toMatchObject({ id: F_PERMISSION, ind: true, pnu: true, rnw: true, s2: true, cls: CLASS_IN });
    expect(ipaOf(e!.dw3)).toBe(0x8000n);
  });
});

/** A VMSAv8-64 stage 1 table for a 2^shift granule and 48-bit VAs, built in guest RAM. */
class GranuleTable {
  readonly root: number;
  readonly startLevel: number;
  private readonly bitsPerLevel: number;

  constructor(private readonly rig: Rig, private readonly shift: 14 | 16) {
    this.bitsPerLevel = shift - 3;
    this.startLevel = 4 - Math.ceil((48 - shift) / this.bitsPerLevel);
    this.root = this.table();
  }

  private table(): number {
    return this.rig.mem.take(2 ** this.shift, 2 ** this.shift);
  }

  private index(va: number, level: number): number {
    return Math.floor(va / 2 ** (this.shift + (3 - level) * this.bitsPerLevel)) % 2 ** this.bitsPerLevel;
  }

  private leafAt(va: number, create: boolean): number {
    const bus = this.rig.m.bus;
    let t = this.root;
    for (let l = this.startLevel; l < 3; l++) {
      const at = t + this.index(va, l) * 8;
      const d = bus.read64(at);
      if ((d & 3n) === 3n) {
        t = Number(d & 0x0000_ffff_ffff_f000n);
      } else {
        if (!create) return -1;
        const next = this.table();
        bus.write64(at, BigInt(next) | 3n);
        t = next;
      }
    }
    return t + this.index(va, 3) * 8;
  }

  map(va: number, pa: number, attrs: bigint): void {
    this.rig.m.bus.write64(this.leafAt(va, true), BigInt(pa) | attrs | 3n);
  }

  unmap(va: number): void {
    const at = this.leafAt(va, false);
    if (at >= 0) this.rig.m.bus.write64(at, 0n);
  }
}

describe('SMMUv3 16 KiB and 64 KiB granules through a CD (IHI 0070 5.4 TG0, 4.4.1.1 TG)', () => {
  const cases = [
    // name, CD.TG0, TLBI TG, granule shift, levels, VA (all start-level index bits set)
    { name: '16 KiB, 4 levels', tg0: 2, tlbiTg: 2, shift: 14 as const, levels: 4, va: 0x8123_4567_c000 },
    { name: '64 KiB, 3 levels', tg0: 1, tlbiTg: 3, shift: 16 as const, levels: 3, va: 0xfc12_3456_0000 },
  ];

  it('IDR5 advertises GRAN16K and GRAN64K (and GRAN4K)', () => {
    const rig = makeRig(SID);
    expect((r32(rig, R.IDR5) >>> 4) & 7).toBe(7);
  });

  for (const c of cases) {
    it(`${c.name}: a DMA translates through the table, a missing leaf faults with its address, and TLBI_NH_VA with TG invalidates the leaf`, () => {
      const rig = makeRig(SID);
      const q = bringUp(rig);
      const g = 2 ** c.shift;
      const pt = new GranuleTable(rig, c.shift);
      expect(4 - pt.startLevel).toBe(c.levels);
      const cdAt = rig.mem.take(64, 64);
      writeCd(rig, cdAt, { ttb0: pt.root, tg0: c.tg0, t0sz: 16, asid: 4 });
      writeSte(rig, q.strtab + SID * 64, { cfg: 5, ctxPtr: cdAt });
      const pa = RAM + 0x40_0000; // granule-aligned for both
      pt.map(c.va, pa, PTE_AF | AP_RW_ALL);

      // A whole granule written through the translation lands in one physical run.
      const src = new Uint8Array(g).map((_, i) => (i * 7) & 0xff);
      expect(dmaWrite(rig, c.va, src)).toBe(DmaStatus.Ok);
      expect(Buffer.compare(rig.m.bus.readBytes(pa, g), src)).toBe(0);
      const r = dmaRead(rig, c.va + g - 4, 4);
      expect(r.status).toBe(DmaStatus.Ok);
      expect([...r.data]).toEqual([...src.subarray(g - 4)]);
      const walks = [...rig.m.trace.records()].filter((t) => t.kind === TraceKind.Walk).length;
      expect(walks).toBe(1); // one walk filled a granule-sized IOTLB entry

      // The next granule has no leaf: F_TRANSLATION at that address.
      expect(dmaRead(rig, c.va + g + 0x10).status).toBe(DmaStatus.Abort);
      expect(drainEvents(rig, q).map((e) => [e.id, e.cls, e.addr])).toEqual([[F_TRANSLATION, CLASS_IN, BigInt(c.va + g + 0x10)]]);

      // Remove the leaf in memory: the IOTLB keeps the translation until a TLBI covers it.
      pt.unmap(c.va);
      cmd(rig, tlbiVa(0x12, c.va + g, { asid: 4, tg: c.tlbiTg, ttl: 3 }), sync()); // the next granule only
      expect(dmaRead(rig, c.va + 8).status).toBe(DmaStatus.Ok);
      cmd(rig, tlbiVa(0x12, c.va, { asid: 4, tg: c.tlbiTg, ttl: 3 }), sync());
      expect(dmaRead(rig, c.va + 8).status).toBe(DmaStatus.Abort);
      expect(drainEvents(rig, q).map((e) => [e.id, e.addr])).toEqual([[F_TRANSLATION, BigInt(c.va + 8)]]);
    });
  }
});
