// Conformance tests for the EL2 StreamWorld's TLB regimes and the STE attribute
// overrides, driven through the bus: STE.STRW = EL2 entries answer only TLBI_EL2_*
// (IHI 0070 4.4.2, 5.2 STRW), with SMMU_CR2.E2H selecting the EL2 regime without ASIDs
// or the EL2-E2H regime with them (6.3.12); STE.PRIVCFG and INSTCFG replace the
// incoming PnU and InD attributes before the permission check (5.2, 13.1.1).

import { describe, expect, it } from 'vitest';
import { DmaStatus } from '../../src/hw/bus/dma.js';
import {
  AP_RW_ALL,
  AP_RW_EL1,
  bringUp,
  cfgiAll,
  cmd,
  CR0_CMDQEN,
  CR0_EVTQEN,
  CR0_PRIQEN,
  CR0_SMMUEN,
  dmaRead,
  dmaWrite,
  drainEvents,
  makeRig,
  PTE_AF,
  PTE_NG,
  R,
  r32,
  RAM,
  setupS1,
  sync,
  tlbiEl2All,
  tlbiNhAll,
  tlbiNhAsid,
  tlbiNsnhAll,
  tlbiVa,
  w32,
  type Rig,
} from './smmuv3-harness.js';

const SID = 0x10;
const DATA = RAM + 0x80_0000;

/** CR2.E2H can only change while SMMUEN == 0 (6.3.12). */
function setE2h(rig: Rig): void {
  const en = CR0_CMDQEN | CR0_EVTQEN | CR0_PRIQEN;
  w32(rig, R.CR0, en);
  w32(rig, R.CR2, r32(rig, R.CR2) | 1);
  w32(rig, R.CR0, en | CR0_SMMUEN);
  expect(r32(rig, R.CR2) & 1).toBe(1);
}

function clearE2h(rig: Rig): void {
  const en = CR0_CMDQEN | CR0_EVTQEN | CR0_PRIQEN;
  w32(rig, R.CR0, en);
  w32(rig, R.CR2, r32(rig, R.CR2) & ~1);
  w32(rig, R.CR0, en | CR0_SMMUEN);
  expect(r32(rig, R.CR2) & 1).toBe(0);
}

describe('SMMUv3 EL2 StreamWorld TLB maintenance (IHI 0070 4.4.2, 5.2 STRW, 6.3.12 CR2.E2H)', () => {
  it('E2H == 0: an EL2 entry survives TLBI_NH_ALL, TLBI_NH_ASID and TLBI_NSNH_ALL; TLBI_EL2_VA and TLBI_EL2_ALL remove it', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const { pt } = setupS1(rig, q, SID, { asid: 5 }, { strw: 2 });
    pt.map(0x1000, DATA, PTE_AF | AP_RW_EL1);
    pt.map(0x2000, DATA + 0x1000, PTE_AF | AP_RW_EL1);
    expect(dmaRead(rig, 0x1000).status).toBe(DmaStatus.Ok);
    expect(dmaRead(rig, 0x2000).status).toBe(DmaStatus.Ok);
    // The tables change; only an EL2 invalidation may make the SMMU see it
    pt.unmap(0x1000);
    pt.unmap(0x2000);
    cmd(rig, tlbiNhAll(), tlbiNhAsid(5), tlbiNhAsid(0), tlbiNsnhAll(), sync());
    expect(dmaRead(rig, 0x1000).status).toBe(DmaStatus.Ok);
    expect(dmaRead(rig, 0x2000).status).toBe(DmaStatus.Ok);
    cmd(rig, tlbiVa(0x22, 0x1000), sync());
    expect(dmaRead(rig, 0x1000).status).toBe(DmaStatus.Abort);
    expect(dmaRead(rig, 0x2000).status).toBe(DmaStatus.Ok);
    cmd(rig, tlbiEl2All(), sync());
    expect(dmaRead(rig, 0x2000).status).toBe(DmaStatus.Abort);
    expect(drainEvents(rig, q).map((e) => [e.id, Number(e.addr)])).toEqual([
      [0x10, 0x1000],
      [0x10, 0x2000],
    ]);
  });

  it('E2H == 0: every access of the EL2 StreamWorld is privileged (an EL1-only page is reachable by an unprivileged transaction)', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const { pt } = setupS1(rig, q, SID, {}, { strw: 2 });
    pt.map(0x1000, DATA, PTE_AF | AP_RW_EL1);
    expect(dmaWrite(rig, 0x1000, new Uint8Array(4), { priv: false })).toBe(DmaStatus.Ok);
    expect(drainEvents(rig, q)).toEqual([]);
  });

  it('E2H == 0: the EL2 regime has one execute-never bit, XN (descriptor bit 54), and no EL0 (AP[1] does not make a page PXN)', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const { pt } = setupS1(rig, q, SID, {}, { strw: 2 });
    pt.map(0x1000, DATA, PTE_AF | AP_RW_ALL); // AP[1] == 1 (RES1 in this regime): read/write, executable
    pt.map(0x2000, DATA, PTE_AF | AP_RW_EL1 | (1n << 54n)); // XN
    expect(dmaRead(rig, 0x1000, 4, { exec: true }).status).toBe(DmaStatus.Ok);
    expect(dmaWrite(rig, 0x1000, new Uint8Array(4))).toBe(DmaStatus.Ok);
    expect(dmaRead(rig, 0x2000, 4, { exec: true }).status).toBe(DmaStatus.Abort);
    expect(dmaRead(rig, 0x2000, 4).status).toBe(DmaStatus.Ok);
    expect(drainEvents(rig, q).map((e) => [e.id, Number(e.addr), e.ind])).toEqual([[0x13, 0x2000, true]]);
  });

  it('E2H == 1: EL2-E2H entries carry the CD ASID; TLBI_EL2_ASID removes that ASID only, TLBI_NH_* leave them', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    setE2h(rig);
    const { pt } = setupS1(rig, q, SID, { asid: 7 }, { strw: 2 });
    pt.map(0x1000, DATA, PTE_AF | PTE_NG | AP_RW_ALL);
    expect(dmaRead(rig, 0x1000).status).toBe(DmaStatus.Ok);
    pt.unmap(0x1000);
    cmd(rig, tlbiNhAll(), tlbiNhAsid(7), tlbiNsnhAll(), sync());
    expect(dmaRead(rig, 0x1000).status).toBe(DmaStatus.Ok);
    // TLBI_EL2_ASID (0x21) of another ASID: still cached
    cmd(rig, [0x21n | (8n << 48n), 0n], sync());
    expect(dmaRead(rig, 0x1000).status).toBe(DmaStatus.Ok);
    cmd(rig, [0x21n | (7n << 48n), 0n], sync());
    expect(dmaRead(rig, 0x1000).status).toBe(DmaStatus.Abort);
    expect(drainEvents(rig, q).map((e) => e.id)).toEqual([0x10]);
  });

  it('TLBI_EL2_ASID removes NS-EL2-E2H entries of the ASID whatever CR2.E2H is (4.4.2.10), and leaves NS-EL2 entries, which have no ASID', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    setE2h(rig);
    const { pt } = setupS1(rig, q, SID, { asid: 7 }, { strw: 2 });
    pt.map(0x1000, DATA, PTE_AF | PTE_NG | AP_RW_ALL);
    expect(dmaRead(rig, 0x1000).status).toBe(DmaStatus.Ok);
    pt.unmap(0x1000);
    // E2H back to 0, configuration caches invalidated but the EL2-E2H TLB entry left
    // cached (6.3.12.3 asks for both; this software skipped TLBI_EL2_ALL)
    clearE2h(rig);
    cmd(rig, cfgiAll(), sync());
    pt.map(0x2000, DATA, PTE_AF | PTE_NG | AP_RW_ALL);
    expect(dmaRead(rig, 0x2000).status).toBe(DmaStatus.Ok);
    pt.unmap(0x2000);
    cmd(rig, [0x21n | (7n << 48n), 0n], sync());
    // the NS-EL2 entry stays
    expect(dmaRead(rig, 0x2000).status).toBe(DmaStatus.Ok);
    // and the EL2-E2H one is gone: with E2H set again the walk finds the page unmapped
    setE2h(rig);
    cmd(rig, cfgiAll(), sync());
    expect(dmaRead(rig, 0x1000).status).toBe(DmaStatus.Abort);
    expect(drainEvents(rig, q).map((e) => [e.id, Number(e.addr)])).toEqual([[0x10, 0x1000]]);
  });

  it('E2H == 1: TLBI_EL2_VA matches the ASID (and global entries), TLBI_EL2_VAA any ASID', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    setE2h(rig);
    const { pt } = setupS1(rig, q, SID, { asid: 7 }, { strw: 2 });
    pt.map(0x1000, DATA, PTE_AF | PTE_NG | AP_RW_ALL);
    pt.map(0x2000, DATA, PTE_AF | AP_RW_ALL); // global
    pt.map(0x3000, DATA, PTE_AF | PTE_NG | AP_RW_ALL);
    for (const va of [0x1000, 0x2000, 0x3000]) expect(dmaRead(rig, va).status).toBe(DmaStatus.Ok);
    for (const va of [0x1000, 0x2000, 0x3000]) pt.unmap(va);
    cmd(rig, tlbiVa(0x22, 0x1000, { asid: 9 }), sync());
    expect(dmaRead(rig, 0x1000).status).toBe(DmaStatus.Ok);
    cmd(rig, tlbiVa(0x22, 0x1000, { asid: 7 }), tlbiVa(0x22, 0x2000, { asid: 9 }), tlbiVa(0x23, 0x3000), sync());
    for (const va of [0x1000, 0x2000, 0x3000]) expect(dmaRead(rig, va).status).toBe(DmaStatus.Abort);
    void q;
  });
});

describe('SMMUv3 STE.PRIVCFG / INSTCFG (IHI 0070 5.2, 13.1.1)', () => {
  /** Sets STE dword 1 PRIVCFG [49:48] and INSTCFG [51:50] on the stream's STE. */
  function overrides(rig: Rig, strtab: number, privcfg: number, instcfg: number): void {
    const at = strtab + SID * 64 + 8;
    const d1 = rig.m.bus.read64(at) & ~(0xfn << 48n);
    rig.m.bus.write64(at, d1 | (BigInt(privcfg) << 48n) | (BigInt(instcfg) << 50n));
  }

  it('PRIVCFG = 0b10 makes every access unprivileged: an EL1-only page faults with PnU == 0 even for a privileged transaction', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const { pt } = setupS1(rig, q, SID);
    overrides(rig, q.strtab, 2, 0);
    pt.map(0x1000, DATA, PTE_AF | AP_RW_EL1);
    expect(dmaRead(rig, 0x1000, 4, { priv: true }).status).toBe(DmaStatus.Abort);
    expect(drainEvents(rig, q).map((e) => [e.id, e.pnu])).toEqual([[0x13, false]]);
  });

  it('PRIVCFG = 0b11 makes every access privileged; 0b00 uses the incoming PnU', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const { pt } = setupS1(rig, q, SID);
    overrides(rig, q.strtab, 3, 0);
    pt.map(0x1000, DATA, PTE_AF | AP_RW_EL1);
    expect(dmaRead(rig, 0x1000, 4, { priv: false }).status).toBe(DmaStatus.Ok);
    overrides(rig, q.strtab, 0, 0);
    cmd(rig, [0x03n | (BigInt(SID) << 32n), 1n], tlbiNhAll(), sync());
    expect(dmaRead(rig, 0x1000, 4, { priv: false }).status).toBe(DmaStatus.Abort);
    expect(drainEvents(rig, q).map((e) => [e.id, e.pnu])).toEqual([[0x13, false]]);
  });

  it('INSTCFG = 0b11 marks reads as instruction fetches (XN applies, InD == 1); 0b10 marks them data (an instruction read of XN memory passes)', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const { pt } = setupS1(rig, q, SID);
    pt.map(0x1000, DATA, PTE_AF | AP_RW_ALL | (1n << 54n)); // UXN
    overrides(rig, q.strtab, 0, 3);
    expect(dmaRead(rig, 0x1000, 4, { exec: false }).status).toBe(DmaStatus.Abort);
    // a write stays a data write (13.1.1)
    expect(dmaWrite(rig, 0x1000, new Uint8Array(4))).toBe(DmaStatus.Ok);
    overrides(rig, q.strtab, 0, 2);
    cmd(rig, [0x03n | (BigInt(SID) << 32n), 1n], tlbiNhAll(), sync());
    expect(dmaRead(rig, 0x1000, 4, { exec: true }).status).toBe(DmaStatus.Ok);
    expect(drainEvents(rig, q).map((e) => [e.id, e.ind, e.rnw])).toEqual([[0x13, true, true]]);
  });
});
