import { describe, expect, it } from 'vitest';
import { DmaStatus } from '../../src/hw/bus/dma.js';
import { TraceKind } from '../../src/trace/record.js';
import {
  AP_RO_ALL,
  AP_RW_ALL,
  AP_RW_EL1,
  bringUp,
  cdWords,
  cfgiCd,
  cfgiSte,
  cmd,
  dmaRead,
  dmaWrite,
  drainEvents,
  makeRig,
  PageTable,
  PTE_AF,
  PTE_NG,
  R,
  RAM,
  S2_MEMATTR_NORMAL,
  S2AP_R,
  S2AP_W,
  setupS1,
  sync,
  tlbiNhAsid,
  tlbiVa,
  type CdOpts,
  w32,
  writeCd,
  writeSte,
} from './smmuv3-harness.js';

const SID = 0x10;
const DATA = RAM + 0x10_0000;

describe('SMMUv3 translation (IHI 0070 3.3)', () => {
  it('3.3.4: a stage 1 translation through a 4-level 4K table reaches the mapped page', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const { pt } = setupS1(rig, q, SID);
    pt.map(0x1234_5000, DATA, PTE_AF | AP_RW_ALL | PTE_NG);
    rig.m.bus.write32(DATA + 0x10, 0xcafef00d);
    const { status, data } = dmaRead(rig, 0x1234_5010, 4);
    expect(status).toBe(DmaStatus.Ok);
    expect(new DataView(data.buffer).getUint32(0, true)).toBe(0xcafef00d);
    expect(dmaWrite(rig, 0x1234_5020, new Uint8Array([1, 2, 3, 4]))).toBe(DmaStatus.Ok);
    expect(rig.m.bus.read32(DATA + 0x20)).toBe(0x04030201);
    // the second access hits the IOTLB; the walk happened once
    const kinds = [...rig.m.trace.records()].map((r) => r.kind);
    expect(kinds.filter((k) => k === TraceKind.Walk).length).toBe(1);
    expect(kinds.filter((k) => k === TraceKind.IotlbHit).length).toBe(1);
  });

  it('6.3.14: with SMMUEN == 0 transactions bypass, or abort when GBPA.ABORT is set', () => {
    const rig = makeRig(SID);
    rig.m.bus.write32(DATA, 0x11223344);
    expect(dmaRead(rig, DATA).status).toBe(DmaStatus.Ok);
    w32(rig, R.GBPA, (1 << 31) | (1 << 20));
    expect(dmaRead(rig, DATA).status).toBe(DmaStatus.Abort);
    w32(rig, R.GBPA, 0); // without Update: ignored
    expect(dmaRead(rig, DATA).status).toBe(DmaStatus.Abort);
    w32(rig, R.GBPA, 1 << 31);
    expect(dmaRead(rig, DATA).status).toBe(DmaStatus.Ok);
  });

  it('5.2: STE.Config abort terminates silently; bypass passes the address through', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    writeSte(rig, q.strtab + SID * 64, { cfg: 0 });
    expect(dmaRead(rig, DATA).status).toBe(DmaStatus.Abort);
    expect(drainEvents(rig, q)).toEqual([]);
    writeSte(rig, q.strtab + SID * 64, { cfg: 4 });
    cmd(rig, cfgiSte(SID), sync());
    rig.m.bus.write32(DATA, 7);
    const r = dmaRead(rig, DATA);
    expect(r.status).toBe(DmaStatus.Ok);
    expect(r.data[0]).toBe(7);
  });

  it('3.21: an STE changed in memory without CMD_CFGI_STE keeps its cached configuration', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const { pt } = setupS1(rig, q, SID);
    pt.map(0x4000, DATA, PTE_AF | AP_RW_ALL);
    expect(dmaRead(rig, 0x4000).status).toBe(DmaStatus.Ok);
    writeSte(rig, q.strtab + SID * 64, { cfg: 0 }); // abort, but not invalidated
    expect(dmaRead(rig, 0x4000).status).toBe(DmaStatus.Ok);
    cmd(rig, cfgiSte(SID), sync());
    expect(dmaRead(rig, 0x4000).status).toBe(DmaStatus.Abort);
  });

  it('4.3.3: a CD changed without CMD_CFGI_CD stays cached; CFGI_CD applies it to new walks, TLBI to cached ones', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const { pt, cdAt } = setupS1(rig, q, SID);
    pt.map(0x4000, DATA, PTE_AF | AP_RW_ALL | PTE_NG);
    pt.map(0x5000, DATA, PTE_AF | AP_RW_ALL | PTE_NG);
    expect(dmaRead(rig, 0x4000).status).toBe(DmaStatus.Ok);
    writeCd(rig, cdAt, { ttb0: pt.ttb, asid: 1, epd0: true });
    expect(dmaRead(rig, 0x5000).status).toBe(DmaStatus.Ok); // stale CD: still walks TTB0
    cmd(rig, cfgiCd(SID, 0), sync());
    expect(dmaRead(rig, 0x4000).status).toBe(DmaStatus.Ok); // IOTLB entry of ASID 1 survives CFGI
    expect(dmaRead(rig, 0x6000).status).toBe(DmaStatus.Abort); // new walk: EPD0
    cmd(rig, tlbiNhAsid(1), sync());
    expect(dmaRead(rig, 0x4000).status).toBe(DmaStatus.Abort);
    const ev = drainEvents(rig, q);
    expect(ev.map((e) => e.id)).toEqual([0x10, 0x10]); // EPD0: F_TRANSLATION, CD.R = 1
  });

  it('5.5: a stage 1 translation fault records F_TRANSLATION with the access attributes when CD.R == 1', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    setupS1(rig, q, SID);
    expect(dmaWrite(rig, 0x7000_1234, new Uint8Array(4), { priv: true })).toBe(DmaStatus.Abort);
    const [e] = drainEvents(rig, q);
    expect(e).toMatchObject({ id: 0x10, sid: SID, ssv: false, stall: false, pnu: true, rnw: false, ind: false, s2: false, cls: 2 });
    expect(e!.addr).toBe(0x7000_1234n);
    expect(rig.irqs.eventq).toBe(1);
  });

  it('5.5: with CD.R == 0 a translation fault terminates without an event', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    setupS1(rig, q, SID, { r: false });
    expect(dmaRead(rig, 0x7000_0000).status).toBe(DmaStatus.Abort);
    expect(drainEvents(rig, q)).toEqual([]);
  });

  it('D8.4: a write to a read-only page and an unprivileged access to an EL1 page are F_PERMISSION', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const { pt } = setupS1(rig, q, SID);
    pt.map(0x1000, DATA, PTE_AF | AP_RO_ALL);
    pt.map(0x2000, DATA, PTE_AF | AP_RW_EL1);
    expect(dmaRead(rig, 0x1000).status).toBe(DmaStatus.Ok);
    expect(dmaWrite(rig, 0x1000, new Uint8Array(4))).toBe(DmaStatus.Abort);
    expect(dmaRead(rig, 0x2000).status).toBe(DmaStatus.Abort);
    expect(dmaRead(rig, 0x2000, 4, { priv: true }).status).toBe(DmaStatus.Ok);
    const ev = drainEvents(rig, q);
    expect(ev.map((e) => [e.id, e.rnw, e.pnu])).toEqual([
      [0x13, false, false],
      [0x13, true, false],
    ]);
  });

  it('5.4 AFFD: AF == 0 is F_ACCESS unless CD.AFFD is set', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const { pt, cdAt } = setupS1(rig, q, SID);
    pt.map(0x3000, DATA, AP_RW_ALL); // AF clear
    expect(dmaRead(rig, 0x3000).status).toBe(DmaStatus.Abort);
    expect(drainEvents(rig, q).map((e) => e.id)).toEqual([0x12]);
    writeCd(rig, cdAt, { ttb0: pt.ttb, asid: 1, affd: true });
    cmd(rig, cfgiCd(SID, 0), sync());
    expect(dmaRead(rig, 0x3000).status).toBe(DmaStatus.Ok);
  });

  it('D8.3: a 2 MiB block maps a whole run and the port copies it in one span', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const { pt } = setupS1(rig, q, SID);
    pt.map(0x20_0000, RAM + 0x40_0000, PTE_AF | AP_RW_ALL, 2);
    const src = new Uint8Array(64 * 1024).map((_, i) => i & 0xff);
    expect(dmaWrite(rig, 0x21_0000, src)).toBe(DmaStatus.Ok);
    expect(Buffer.compare(rig.m.bus.readBytes(RAM + 0x41_0000, src.length), src)).toBe(0);
    expect([...rig.m.trace.records()].filter((r) => r.kind === TraceKind.Walk).length).toBe(1);
  });

  it('3.3: stage 2 only (STE.Config == 0b110) translates the input as an IPA', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const s2 = new PageTable(rig);
    s2.map(0x8000, DATA, PTE_AF | S2AP_R | S2AP_W | S2_MEMATTR_NORMAL);
    writeSte(rig, q.strtab + SID * 64, { cfg: 6, vmid: 3, s2: { t0sz: 16, sl0: 2, ttb: s2.ttb, r: true } });
    rig.m.bus.write32(DATA + 4, 0x5a5a5a5a);
    const r = dmaRead(rig, 0x8004);
    expect(r.status).toBe(DmaStatus.Ok);
    expect(r.data[0]).toBe(0x5a);
    expect(dmaRead(rig, 0x9000).status).toBe(DmaStatus.Abort);
    const [e] = drainEvents(rig, q);
    expect(e).toMatchObject({ id: 0x10, s2: true, cls: 2 });
    expect(e!.dw3 & 0x000f_ffff_ffff_f000n).toBe(0x9000n); // IPA
  });

  it('3.3 nested: the CD fetch and the stage 1 table walk go through stage 2 as IPAs', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    // Stage 2 maps IPA [0, 64 MiB) to PA [RAM + 32 MiB, ...) with 2 MiB blocks.
    const IPA_OFF = RAM + 0x0200_0000;
    const s2 = new PageTable(rig);
    for (let ipa = 0; ipa < 0x0400_0000; ipa += 0x20_0000) s2.map(ipa, IPA_OFF + ipa, PTE_AF | S2AP_R | S2AP_W | S2_MEMATTR_NORMAL, 2);
    // Stage 1 tables and the CD live in that window, addressed by IPA.
    const toIpa = (pa: number) => pa - IPA_OFF;
    const toPa = (ipa: number) => ipa + IPA_OFF;
    // make the allocator hand out pages inside the stage 2 window
    while (rig.mem.take(4096) < IPA_OFF);
    const s1 = new PageTable(rig, toIpa, toPa);
    const cdPa = rig.mem.take(64, 64);
    writeCd(rig, cdPa, { ttb0: s1.ttb, asid: 9 });
    s1.map(0x5000, 0x0010_0000 /* IPA */, PTE_AF | AP_RW_ALL);
    rig.m.bus.write32(toPa(0x0010_0000) + 8, 0x600df00d);
    writeSte(rig, q.strtab + SID * 64, { cfg: 7, ctxPtr: toIpa(cdPa), vmid: 5, s2: { t0sz: 16, sl0: 2, ttb: s2.ttb, r: true } });
    const r = dmaRead(rig, 0x5008);
    expect(r.status).toBe(DmaStatus.Ok);
    expect(new DataView(r.data.buffer).getUint32(0, true)).toBe(0x600df00d);
    // a stage 1 output IPA outside the stage 2 window faults at stage 2, CLASS = IN
    s1.map(0x6000, 0x0800_0000, PTE_AF | AP_RW_ALL);
    expect(dmaRead(rig, 0x6000).status).toBe(DmaStatus.Abort);
    const [e] = drainEvents(rig, q);
    expect(e).toMatchObject({ id: 0x10, s2: true, cls: 2 });
    expect(e!.dw3 & 0x000f_ffff_ffff_f000n).toBe(0x0800_0000n);
  });

  it('3.3 nested: a stage 2 fault on a stage 1 table fetch is reported with CLASS = TT', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const s2 = new PageTable(rig);
    const cd = rig.mem.take(64, 64);
    s2.map(0x1000_0000, cd - (cd % 4096), PTE_AF | S2AP_R | S2_MEMATTR_NORMAL);
    // TTB0 is an IPA that stage 2 does not map
    cdWords({ ttb0: 0x2000_0000, asid: 2 }).forEach((w, i) => rig.m.bus.write64(cd + i * 8, w));
    writeSte(rig, q.strtab + SID * 64, { cfg: 7, ctxPtr: 0x1000_0000 + (cd % 4096), vmid: 1, s2: { t0sz: 16, sl0: 2, ttb: s2.ttb, r: true } });
    expect(dmaRead(rig, 0x1000).status).toBe(DmaStatus.Abort);
    const [e] = drainEvents(rig, q);
    expect(e).toMatchObject({ id: 0x10, s2: true, cls: 1 });
    expect(e!.dw3 & 0x000f_ffff_ffff_f000n).toBe(0x2000_0000n);
  });

  it('3.3 nested: a stage 2 fault on the CD fetch is reported with CLASS = CD', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const s2 = new PageTable(rig);
    writeSte(rig, q.strtab + SID * 64, { cfg: 7, ctxPtr: 0x3000_0000, vmid: 1, s2: { t0sz: 16, sl0: 2, ttb: s2.ttb, r: true } });
    expect(dmaRead(rig, 0x1000).status).toBe(DmaStatus.Abort);
    const [e] = drainEvents(rig, q);
    expect(e).toMatchObject({ id: 0x10, s2: true, cls: 0 });
    expect(e!.dw3 & 0x000f_ffff_ffff_f000n).toBe(0x3000_0000n);
  });
});

describe('SMMUv3 stage 1 VA ranges: TTB0 and TTB1 (IHI 0070 3.4.1, 5.4)', () => {
  // A TTB1 VA is walked as VA + 2^(64 - T1SZ); with T1SZ = 16 that is its low 48 bits.
  const UPPER = -0x7fff_edcb_b000; // 0xffff_8000_1234_5000
  const UPPER_INPUT = UPPER + 2 ** 48; // 0x8000_1234_5000
  const DATA2 = RAM + 0x20_0000;

  function twoRanges(cd: Partial<CdOpts> = {}) {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const pt0 = new PageTable(rig);
    const pt1 = new PageTable(rig);
    const cdAt = rig.mem.take(64, 64);
    writeCd(rig, cdAt, { ttb0: pt0.ttb, t1sz: 16, tg1: 2, ttb1: pt1.ttb, epd1: false, asid: 1, ...cd });
    writeSte(rig, q.strtab + SID * 64, { cfg: 5, ctxPtr: cdAt });
    return { rig, q, pt0, pt1, cdAt };
  }

  it('3.4.1: VA[55] == 1 selects TTB1, walked with T1SZ/TG1; the same low bits in the TTB0 range go through TTB0', () => {
    const { rig, q, pt0, pt1 } = twoRanges();
    pt1.map(UPPER_INPUT, DATA, PTE_AF | AP_RW_ALL | PTE_NG);
    pt0.map(UPPER_INPUT, DATA2, PTE_AF | AP_RW_ALL | PTE_NG);
    // (the two pages share an IOTLB slot: the second fill replaces the first)
    rig.m.bus.write32(DATA + 0x10, 0x1111_1111);
    rig.m.bus.write32(DATA2 + 0x10, 0x2222_2222);
    const upper = dmaRead(rig, UPPER + 0x10);
    expect(upper.status).toBe(DmaStatus.Ok);
    expect(new DataView(upper.data.buffer).getUint32(0, true)).toBe(0x1111_1111);
    const lower = dmaRead(rig, UPPER_INPUT + 0x10);
    expect(new DataView(lower.data.buffer).getUint32(0, true)).toBe(0x2222_2222);
    // the input given as an unsigned 64-bit value is the same address
    expect(dmaWrite(rig, 2 ** 64 + UPPER, new Uint8Array([9, 9, 9, 9]))).toBe(DmaStatus.Ok);
    expect(rig.m.bus.read32(DATA)).toBe(0x0909_0909);
    // the upper walks read TTB1's tables, the lower one TTB0's (Walk record: value = last descriptor address)
    const walks = [...rig.m.trace.records()].filter((r) => r.kind === TraceKind.Walk);
    expect(walks.map((w) => BigInt(w.iova))).toEqual([UPPER + 0x10, UPPER_INPUT + 0x10, UPPER].map((v) => BigInt.asUintN(64, BigInt(v))));
    expect(walks.map((w) => Number(w.pa))).toEqual([DATA + 0x10, DATA2 + 0x10, DATA]);
    expect(drainEvents(rig, q)).toEqual([]);
  });

  it('4.4.1: TLBI_NH_VA of the TTB1 address invalidates the upper-range entry only', () => {
    const { rig, pt0, pt1 } = twoRanges();
    const LOWER = UPPER_INPUT + 0x1000; // another IOTLB slot
    pt1.map(UPPER_INPUT, DATA, PTE_AF | AP_RW_ALL | PTE_NG);
    pt0.map(LOWER, DATA2, PTE_AF | AP_RW_ALL | PTE_NG);
    expect(dmaRead(rig, UPPER).status).toBe(DmaStatus.Ok);
    expect(dmaRead(rig, LOWER).status).toBe(DmaStatus.Ok);
    expect(rig.smmu.iotlb.count()).toBe(2);
    cmd(rig, tlbiVa(0x12, LOWER + 0x1000, { asid: 1 }), sync()); // another page: nothing
    expect(rig.smmu.iotlb.count()).toBe(2);
    cmd(rig, tlbiVa(0x12, 2 ** 64 + UPPER, { asid: 1 }), sync());
    expect(rig.smmu.iotlb.count()).toBe(1);
    const walks = () => [...rig.m.trace.records()].filter((r) => r.kind === TraceKind.Walk).length;
    const before = walks();
    expect(dmaRead(rig, LOWER).status).toBe(DmaStatus.Ok);
    expect(walks()).toBe(before); // still cached
    expect(dmaRead(rig, UPPER).status).toBe(DmaStatus.Ok);
    expect(walks()).toBe(before + 1); // walked again
    // 4.4: TBI is applied to the TLBI address (permitted): a tagged alias of LOWER removes it
    cmd(rig, tlbiVa(0x12, LOWER + 0x5a * 2 ** 56, { asid: 1 }), sync());
    expect(rig.smmu.iotlb.count()).toBe(1);
  });

  it('5.4 EPD1: with TTB1 walks disabled every upper-range address is F_TRANSLATION, without a walk', () => {
    const { rig, q, pt1 } = twoRanges({ epd1: true });
    pt1.map(UPPER_INPUT, DATA, PTE_AF | AP_RW_ALL);
    expect(dmaRead(rig, UPPER).status).toBe(DmaStatus.Abort);
    const [e] = drainEvents(rig, q);
    expect(e).toMatchObject({ id: 0x10, cls: 2, s2: false });
    expect(e!.addr).toBe(BigInt.asUintN(64, BigInt(UPPER)));
    expect([...rig.m.trace.records()].some((r) => r.kind === TraceKind.Walk)).toBe(false);
  });

  it('3.4.1: addresses in the hole between the ranges, or not sign-extended from VA[55], are F_TRANSLATION', () => {
    const { rig, q, pt0, pt1 } = twoRanges({ t0sz: 25, t1sz: 25 });
    // 39-bit ranges: [0, 2^39) and [-2^39, 0); map something at each edge so only the range check can fail
    pt0.map(0, DATA, PTE_AF | AP_RW_ALL);
    pt1.map(0, DATA, PTE_AF | AP_RW_ALL);
    const hole = [2 ** 39, 2 ** 47, -(2 ** 39) - 0x1000, -(2 ** 47)];
    const notExtended = [0x0080_0000_0000_0000, 0x0100_0000_0000_0000, 2 ** 64 - 2 ** 56]; // VA[55] set with top byte 0; top byte 1; 0xff00_0000_0000_0000
    for (const va of [...hole, ...notExtended]) expect(dmaRead(rig, va).status, `va ${va}`).toBe(DmaStatus.Abort);
    const ev = drainEvents(rig, q);
    expect(ev.map((e) => e.id)).toEqual(Array(7).fill(0x10));
    expect(ev.map((e) => e.addr)).toEqual([...hole, ...notExtended].map((v) => BigInt.asUintN(64, BigInt(v))));
  });

  it('3.4.1 / 5.4 TBI: with CD.TBI0/TBI1 VA[63:56] are ignored; without TBI a tagged address faults; InputAddr keeps the tag', () => {
    const tagged0 = 0x5a00_0000_1234_5000; // TTB0 range, tag 0x5a
    const tagged1 = 0x12ff_8000_1234_5000; // VA[55] == 1: TTB1 range, tag 0x12
    const untagged1 = UPPER;
    const withTbi = twoRanges({ tbi0: true, tbi1: true });
    withTbi.pt0.map(0x1234_5000, DATA2, PTE_AF | AP_RW_ALL);
    withTbi.pt1.map(UPPER_INPUT, DATA, PTE_AF | AP_RW_ALL);
    withTbi.rig.m.bus.write32(DATA, 0xaaaa_aaaa);
    withTbi.rig.m.bus.write32(DATA2, 0xbbbb_bbbb);
    const r0 = dmaRead(withTbi.rig, tagged0);
    const r1 = dmaRead(withTbi.rig, tagged1);
    expect([r0.status, r1.status]).toEqual([DmaStatus.Ok, DmaStatus.Ok]);
    expect(new DataView(r0.data.buffer).getUint32(0, true)).toBe(0xbbbb_bbbb);
    expect(new DataView(r1.data.buffer).getUint32(0, true)).toBe(0xaaaa_aaaa);
    expect(dmaRead(withTbi.rig, untagged1).status).toBe(DmaStatus.Ok); // the untagged VA hits the same entry
    expect(drainEvents(withTbi.rig, withTbi.q)).toEqual([]);

    const noTbi = twoRanges();
    noTbi.pt0.map(0x1234_5000, DATA2, PTE_AF | AP_RW_ALL);
    noTbi.pt1.map(UPPER_INPUT, DATA, PTE_AF | AP_RW_ALL);
    expect(dmaRead(noTbi.rig, tagged0).status).toBe(DmaStatus.Abort);
    expect(dmaRead(noTbi.rig, tagged1).status).toBe(DmaStatus.Abort);
    expect(dmaRead(noTbi.rig, untagged1).status).toBe(DmaStatus.Ok);
    const ev = drainEvents(noTbi.rig, noTbi.q);
    expect(ev.map((e) => [e.id, e.addr])).toEqual([
      [0x10, 0x5a00_0000_1234_5000n],
      [0x10, 0x12ff_8000_1234_5000n],
    ]);
  });

  it('5.4.1: in the EL2 StreamWorld TTB1 is unreachable and EPD0 is ignored', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const pt0 = new PageTable(rig);
    const pt1 = new PageTable(rig);
    const cdAt = rig.mem.take(64, 64);
    writeCd(rig, cdAt, { ttb0: pt0.ttb, epd0: true, t1sz: 16, tg1: 2, ttb1: pt1.ttb, epd1: false });
    writeSte(rig, q.strtab + SID * 64, { cfg: 5, ctxPtr: cdAt, strw: 2 });
    pt0.map(0x4000, DATA, PTE_AF | AP_RW_EL1);
    pt1.map(UPPER_INPUT, DATA, PTE_AF | AP_RW_EL1);
    expect(dmaRead(rig, 0x4000).status).toBe(DmaStatus.Ok);
    expect(dmaRead(rig, UPPER).status).toBe(DmaStatus.Abort);
    expect(drainEvents(rig, q).map((e) => e.id)).toEqual([0x10]);
  });
});

describe('SMMUv3 transaction attributes and bypass address size (IHI 0070 13.1.1, 3.4)', () => {
  it('13.1.1: a write marked as an instruction is a data write: checked for write permission, recorded with InD == 0', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const { pt } = setupS1(rig, q, SID);
    pt.map(0x1000, DATA, PTE_AF | AP_RO_ALL); // readable and executable (UXN == 0), not writable
    pt.map(0x2000, DATA, PTE_AF | AP_RW_ALL | (1n << 54n)); // writable, UXN: not executable at EL0
    expect(dmaWrite(rig, 0x1000, new Uint8Array(4), { exec: true, ssv: false })).toBe(DmaStatus.Abort);
    expect(dmaWrite(rig, 0x2000, new Uint8Array(4), { exec: true })).toBe(DmaStatus.Ok);
    expect(dmaRead(rig, 0x2000, 4, { exec: true }).status).toBe(DmaStatus.Abort); // an instruction read of XN memory
    const ev = drainEvents(rig, q);
    expect(ev.map((e) => [e.id, e.rnw, e.ind])).toEqual([
      [0x13, false, false],
      [0x13, true, true],
    ]);
  });

  it('3.4: with both stages bypassed (STE.Config == 0b100) an input beyond the OAS is F_ADDR_SIZE; with SMMUEN == 0 it aborts without an event', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    writeSte(rig, q.strtab + SID * 64, { cfg: 4 });
    expect(dmaRead(rig, 2 ** 48).status).toBe(DmaStatus.Abort);
    expect(dmaRead(rig, -0x1000).status).toBe(DmaStatus.Abort);
    expect(dmaRead(rig, DATA).status).toBe(DmaStatus.Ok);
    const ev = drainEvents(rig, q);
    expect(ev.map((e) => [e.id, e.addr])).toEqual([
      [0x11, 2n ** 48n],
      [0x11, 2n ** 64n - 0x1000n],
    ]);
    w32(rig, R.CR0, 0xe); // SMMUEN = 0, GBPA bypass
    w32(rig, R.GBPA, 1 << 31);
    expect(dmaRead(rig, 2 ** 48).status).toBe(DmaStatus.Abort);
    expect(dmaRead(rig, DATA).status).toBe(DmaStatus.Ok);
    expect(drainEvents(rig, q)).toEqual([]);
  });
});
