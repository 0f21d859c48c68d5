import { describe, expect, it } from 'vitest';
import { DmaStatus } from '../../src/hw/bus/dma.js';
import {
  AP_RW_ALL,
  bringUp,
  cfgiAll,
  cfgiCdAll,
  cfgiSteRange,
  cmd,
  dmaRead,
  GERROR_CMDQ_ERR,
  makeRig,
  PageTable,
  prefetchAddr,
  prefetchCfg,
  PTE_AF,
  PTE_NG,
  R,
  r32,
  RAM,
  S2_MEMATTR_NORMAL,
  S2AP_R,
  S2AP_W,
  setupS1,
  submit,
  sync,
  tlbiNhAll,
  tlbiNhAsid,
  tlbiNsnhAll,
  tlbiS12Vmall,
  tlbiVa,
  w32,
  writeSte,
  type Cmd,
} from './smmuv3-harness.js';
import { TraceKind } from '../../src/trace/record.js';

const SID = 0x10;
const DATA = RAM + 0x10_0000;
const OTHER = RAM + 0x20_0000;

/** Maps `n` pages at `va`, touches them (IOTLB fill), then remaps them all to OTHER in memory only. */
function primeThenRemap(rig: ReturnType<typeof makeRig>, pt: PageTable, va: number, n: number, attrs = PTE_AF | AP_RW_ALL | PTE_NG): void {
  for (let i = 0; i < n; i++) pt.map(va + i * 4096, DATA, attrs);
  for (let i = 0; i < n; i++) expect(dmaRead(rig, va + i * 4096).status).toBe(DmaStatus.Ok);
  for (let i = 0; i < n; i++) pt.map(va + i * 4096, OTHER, attrs);
}

/** Which of the pages still translate to DATA (stale IOTLB) rather than OTHER. */
function stale(rig: ReturnType<typeof makeRig>, va: number, n: number): boolean[] {
  rig.m.bus.write32(DATA, 1);
  rig.m.bus.write32(OTHER, 2);
  return Array.from({ length: n }, (_, i) => dmaRead(rig, va + i * 4096).data[0] === 1);
}

describe('SMMUv3 commands (IHI 0070 chapter 4)', () => {
  it('4.1.4: CMDQ_CONS advances one command per cost.smmuCommandNs of virtual time', () => {
    const rig = makeRig(SID);
    bringUp(rig);
    const cons0 = r32(rig, R.CMDQ_CONS);
    const t0 = rig.m.clock.now();
    submit(rig, tlbiNsnhAll(), tlbiNsnhAll(), sync());
    expect(r32(rig, R.CMDQ_CONS)).toBe(cons0);
    rig.m.run({ forNs: rig.m.cost.smmuCommandNs });
    expect(r32(rig, R.CMDQ_CONS)).toBe(cons0 + 1);
    rig.m.run({ untilIdle: true });
    expect(r32(rig, R.CMDQ_CONS)).toBe(cons0 + 3);
    expect(rig.m.clock.now() - t0).toBe(3 * rig.m.cost.smmuCommandNs);
  });

  it('4.4.2.2: TLBI_NH_ASID invalidates non-global entries of that ASID only', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const { pt } = setupS1(rig, q, SID, { asid: 7 });
    primeThenRemap(rig, pt, 0x10_0000, 2);
    cmd(rig, tlbiNhAsid(8), sync());
    expect(stale(rig, 0x10_0000, 2)).toEqual([true, true]);
    cmd(rig, tlbiNhAsid(7), sync());
    expect(stale(rig, 0x10_0000, 2)).toEqual([false, false]);
  });

  it('4.4.2.2: TLBI_NH_ASID leaves global (nG == 0) entries; TLBI_NH_VAA removes them', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const { pt } = setupS1(rig, q, SID, { asid: 7 });
    primeThenRemap(rig, pt, 0x10_0000, 1, PTE_AF | AP_RW_ALL);
    cmd(rig, tlbiNhAsid(7), sync());
    expect(stale(rig, 0x10_0000, 1)).toEqual([true]);
    cmd(rig, tlbiVa(0x13, 0x10_0000), sync());
    expect(stale(rig, 0x10_0000, 1)).toEqual([false]);
  });

  it('4.4.1.1: TLBI_NH_VA with TG/NUM/SCALE invalidates (NUM+1) * 2^SCALE granules from Address', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const { pt } = setupS1(rig, q, SID, { asid: 3 });
    primeThenRemap(rig, pt, 0x40_0000, 8);
    // pages 2..7: 6 pages = (NUM=2 + 1) * 2^(SCALE=1)
    cmd(rig, tlbiVa(0x12, 0x40_2000, { asid: 3, tg: 1, num: 2, scale: 1 }), sync());
    expect(stale(rig, 0x40_0000, 8)).toEqual([true, true, false, false, false, false, false, false]);
  });

  it('4.4.1.1: a TTL hint limits the invalidation to leaves at that level', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const { pt } = setupS1(rig, q, SID, { asid: 3 });
    primeThenRemap(rig, pt, 0x40_0000, 1);
    cmd(rig, tlbiVa(0x12, 0x40_0000, { asid: 3, tg: 1, ttl: 2 }), sync()); // level 2: does not match a level 3 page
    expect(stale(rig, 0x40_0000, 1)).toEqual([true]);
    cmd(rig, tlbiVa(0x12, 0x40_0000, { asid: 3, tg: 1, ttl: 3, leaf: true }), sync());
    expect(stale(rig, 0x40_0000, 1)).toEqual([false]);
  });

  it('4.4.1.1: NUM == SCALE == TTL == 0 with TG != 0 is CERROR_ILL', () => {
    const rig = makeRig(SID);
    bringUp(rig);
    cmd(rig, tlbiVa(0x12, 0x1000, { tg: 1 }));
    expect(r32(rig, R.GERROR) & GERROR_CMDQ_ERR).toBe(GERROR_CMDQ_ERR);
    expect((r32(rig, R.CMDQ_CONS) >>> 24) & 0x7f).toBe(1);
  });

  it('4.4.2.1 / 4.4.3: TLBI_NH_ALL is per VMID; TLBI_S12_VMALL and TLBI_NSNH_ALL clear stage 1 and stage 2', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const { pt } = setupS1(rig, q, SID, { asid: 3 }, { vmid: 4 });
    primeThenRemap(rig, pt, 0x10_0000, 1);
    cmd(rig, tlbiNhAll(5), sync());
    expect(stale(rig, 0x10_0000, 1)).toEqual([true]);
    cmd(rig, tlbiNhAll(4), sync());
    expect(stale(rig, 0x10_0000, 1)).toEqual([false]);
    primeThenRemap(rig, pt, 0x20_0000, 1);
    cmd(rig, tlbiS12Vmall(4), sync());
    expect(stale(rig, 0x20_0000, 1)).toEqual([false]);
    primeThenRemap(rig, pt, 0x30_0000, 1);
    cmd(rig, tlbiNsnhAll(), sync());
    expect(stale(rig, 0x30_0000, 1)).toEqual([false]);
  });

  it('4.4.3.2: TLBI_S2_IPA invalidates stage 2 entries of the VMID by IPA', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const s2 = new PageTable(rig);
    const attrs = PTE_AF | S2AP_R | S2AP_W | S2_MEMATTR_NORMAL;
    s2.map(0x8000, DATA, attrs);
    writeSte(rig, q.strtab + SID * 64, { cfg: 6, vmid: 3, s2: { t0sz: 16, sl0: 2, ttb: s2.ttb } });
    expect(dmaRead(rig, 0x8000).status).toBe(DmaStatus.Ok);
    s2.map(0x8000, OTHER, attrs);
    cmd(rig, tlbiVa(0x2a, 0x8000, { vmid: 2 }), sync());
    expect(stale(rig, 0x8000, 1)).toEqual([true]);
    cmd(rig, tlbiVa(0x2a, 0x8000, { vmid: 3 }), sync());
    expect(stale(rig, 0x8000, 1)).toEqual([false]);
  });

  it('4.3.2 / 4.3.4 / 4.3.6: CFGI_STE_RANGE, CFGI_CD_ALL and CFGI_ALL drop cached configuration', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    setupS1(rig, q, SID);
    const probe = (c: Cmd) => {
      dmaRead(rig, 0x1000); // fill the config cache
      expect(rig.smmu.configs.hasSte(SID)).toBe(true);
      cmd(rig, c, sync());
    };
    probe(cfgiSteRange(SID & ~3, 1)); // 4 StreamIDs from 0x10
    expect(rig.smmu.configs.hasSte(SID)).toBe(false);
    probe(cfgiSteRange(0x20, 1)); // not ours
    expect(rig.smmu.configs.hasSte(SID)).toBe(true);
    cmd(rig, cfgiAll(), sync());
    expect(rig.smmu.configs.hasSte(SID)).toBe(false);
    dmaRead(rig, 0x1000);
    cmd(rig, cfgiCdAll(SID), sync());
    expect(rig.smmu.configs.lookup(SID, 0x100000)).toBeUndefined();
    expect(rig.smmu.configs.hasSte(SID)).toBe(true);
  });

  it('4.2: PREFETCH_CONFIG and PREFETCH_ADDR fill the caches without recording events', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const { pt } = setupS1(rig, q, SID);
    pt.map(0x7000, DATA, PTE_AF | AP_RW_ALL);
    cmd(rig, prefetchCfg(SID), prefetchAddr(SID, 0x7000), prefetchAddr(SID, 0x9000), sync());
    expect(rig.smmu.configs.hasSte(SID)).toBe(true);
    rig.m.trace.clear();
    expect(dmaRead(rig, 0x7000).status).toBe(DmaStatus.Ok);
    expect([...rig.m.trace.records()].some((r) => r.kind === TraceKind.IotlbHit)).toBe(true);
    expect(r32(rig, 0x100a8) & 0xfffff).toBe(0); // no event for the unmapped prefetch
  });

  it('4.2.2: PREFETCH_ADDR fetches the span of 2^Size 4 KiB strides from Addr; a hole in it records no event and the rest is still fetched', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const { pt } = setupS1(rig, q, SID);
    for (const va of [0x10000, 0x12000, 0x13000, 0x14000]) pt.map(va, DATA, PTE_AF | AP_RW_ALL);
    // Size 2: 0x10000..0x13fff (0x11000 unmapped); 0x14000 is past the span
    cmd(rig, prefetchAddr(SID, 0x10000, 2), sync());
    expect(r32(rig, 0x100a8) & 0xfffff).toBe(0);
    const hit = (va: number): boolean => {
      rig.m.trace.clear();
      expect(dmaRead(rig, va).status).toBe(DmaStatus.Ok);
      return [...rig.m.trace.records()].some((r) => r.kind === TraceKind.IotlbHit);
    };
    expect([0x10000, 0x12000, 0x13000, 0x14000].map(hit)).toEqual([true, true, true, false]);
  });

  it('7.1: an illegal command stops the queue with CERROR_ILL until GERRORN acknowledges; the driver replaces it with a SYNC', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const cons0 = r32(rig, R.CMDQ_CONS);
    const gerrIrqs = rig.irqs.gerror;
    cmd(rig, [0x7fn, 0n], tlbiNsnhAll(), sync());
    expect(r32(rig, R.CMDQ_CONS) & 0xfffff).toBe(cons0); // RD points at the infringing command
    expect((r32(rig, R.CMDQ_CONS) >>> 24) & 0x7f).toBe(1); // CERROR_ILL
    expect((r32(rig, R.GERROR) ^ r32(rig, R.GERRORN)) & GERROR_CMDQ_ERR).toBe(GERROR_CMDQ_ERR);
    expect(rig.irqs.gerror).toBe(gerrIrqs + 1);
    // Linux: overwrite the bad entry with a CMD_SYNC, then acknowledge.
    rig.m.bus.write64(q.cmdq + (cons0 & 0xff) * 16, sync()[0]);
    rig.m.bus.write64(q.cmdq + (cons0 & 0xff) * 16 + 8, 0n);
    w32(rig, R.GERRORN, r32(rig, R.GERROR));
    rig.m.run({ untilIdle: true });
    expect(r32(rig, R.CMDQ_CONS) & 0xfffff).toBe(cons0 + 3);
  });

  it('7.1: a command fetch that aborts is CERROR_ABT', () => {
    const rig = makeRig(SID);
    bringUp(rig);
    w32(rig, R.CR0, 0);
    rig.m.bus.write64(0x0905_0000 + R.CMDQ_BASE, 0x0a00_0000n | 4n); // not RAM: decode error
    w32(rig, R.CMDQ_PROD, 0);
    w32(rig, R.CMDQ_CONS, 0);
    w32(rig, R.CR0, 8);
    w32(rig, R.CMDQ_PROD, 1);
    rig.m.run({ untilIdle: true });
    expect((r32(rig, R.CMDQ_CONS) >>> 24) & 0x7f).toBe(2);
  });

  it('4.5.1 / 4.4.2: ATC_INV without ATS and TLBI_EL3_* on the Non-secure queue are CERROR_ILL', () => {
    for (const op of [0x40n, 0x18n, 0x1an]) {
      const rig = makeRig(SID);
      bringUp(rig);
      cmd(rig, [op, 0n]);
      expect((r32(rig, R.CMDQ_CONS) >>> 24) & 0x7f).toBe(1);
    }
  });

  it('4.7.3: CMD_SYNC with CS = SIG_IRQ writes MSIDATA to MSIADDR (the sync slot itself) and pulses the wired line', () => {
    const rig = makeRig(SID);
    const q = bringUp(rig);
    const prod = r32(rig, R.CMDQ_PROD);
    const slot = q.cmdq + (prod & 0xff) * 16;
    const before = rig.irqs.cmdqSync;
    cmd(rig, sync(1, slot, 0));
    expect(rig.m.bus.read32(slot)).toBe(0); // Linux MSIPOLL: first word of the slot cleared
    expect(rig.irqs.cmdqSync).toBe(before + 1);
    cmd(rig, sync(1, DATA, 0xabcd1234));
    expect(rig.m.bus.read32(DATA)).toBe(0xabcd1234);
  });

  it('4.7.3: CMD_SYNC with CS = SIG_SEV sends a WFE wake-up; CS = 0b11 is CERROR_ILL', () => {
    const rig = makeRig(SID);
    bringUp(rig);
    const sev = rig.irqs.sev;
    cmd(rig, sync(2));
    expect(rig.irqs.sev).toBe(sev + 1);
    cmd(rig, sync(3));
    expect((r32(rig, R.CMDQ_CONS) >>> 24) & 0x7f).toBe(1);
  });

  it('6.3.21: a CMD_SYNC MSI that aborts raises GERROR.MSI_CMDQ_ABT_ERR and the queue goes on', () => {
    const rig = makeRig(SID);
    bringUp(rig);
    const cons0 = r32(rig, R.CMDQ_CONS);
    cmd(rig, sync(1, 0x0a00_0000, 1), sync());
    expect(r32(rig, R.GERROR) & 0x10).toBe(0x10);
    expect(r32(rig, R.CMDQ_CONS)).toBe(cons0 + 2);
  });
});
