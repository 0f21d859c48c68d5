import { describe, expect, it } from 'vitest';
import { CD, CdConfig, decodeCd } from '../../src/hw/smmuv3/cd.js';
import { CMD } from '../../src/hw/smmuv3/cmdq.js';
import { EventRecord, EVT, FaultClass } from '../../src/hw/smmuv3/evtq.js';
import { Iotlb, TlbiScope } from '../../src/hw/smmuv3/iotlb.js';
import { encodePageRequest, PRI } from '../../src/hw/smmuv3/priq.js';
import { decodeSte, STE, SteConfig, StreamWorld } from '../../src/hw/smmuv3/ste.js';

/** 64-bit little-endian dwords to 32-bit words. */
function words(...dws: bigint[]): Uint32Array {
  const w = new Uint32Array(dws.length * 2);
  dws.forEach((d, i) => {
    w[i * 2] = Number(d & 0xffffffffn);
    w[i * 2 + 1] = Number((d >> 32n) & 0xffffffffn);
  });
  return w;
}

describe('SMMUv3 structure field tables', () => {
  it('STE fields sit where arm-smmu-v3.h puts them (STRTAB_STE_*)', () => {
    // Linux: V 0, CFG [3:1], S1FMT [5:4], S1CTXPTR [55:6], S1CDMAX [63:59]; S1DSS dw1[1:0],
    // S1STALLD dw1 27, STRW dw1[31:30]; S2VMID dw2[15:0], VTCR dw2[50:32], S2AA64 51, S2R 58; S2TTB dw3[55:4].
    const w = words((1n | (5n << 1n) | (2n << 4n) | 0x1234_5678_9ac0n | (10n << 59n)), (2n | (1n << 27n) | (2n << 30n)), (0x77n | (25n << 32n) | (1n << 38n) | (1n << 51n) | (1n << 58n)), 0x8765_4320n);
    expect(STE.decode(w)).toMatchObject({ V: 1, Config: 5, S1Fmt: 2, S1CDMax: 10, S1DSS: 2, S1STALLD: 1, STRW: 2, S2VMID: 0x77, S2T0SZ: 25, S2SL0: 1, S2AA64: 1, S2R: 1 });
    expect(STE.get(w, STE.f.S1ContextPtr)).toBe(0x1234_5678_9ac0);
    expect(STE.get(w, STE.f.S2TTB)).toBe(0x8765_4320);
  });

  it('decodeSte applies S1CDMax, S1Fmt and S1DSS rules and the stage 2 ILLEGAL checks', () => {
    const ok = decodeSte(words(1n | (5n << 1n) | 0x4000n | (3n << 4n) | (4n << 59n), 3n, 0n, 0n), new SteConfig());
    expect(ok?.s1Fmt).toBe(0); // 0b11 behaves as linear
    expect(ok?.s1Dss).toBe(0); // 0b11 behaves as terminate
    expect(decodeSte(words(1n | (6n << 1n), 0n, (16n << 32n) | (2n << 38n) | (1n << 51n), 0x10000n), new SteConfig())?.s2Walk.sl0).toBe(2);
    expect(decodeSte(words(1n | (6n << 1n), 0n, (16n << 32n) | (1n << 38n) | (1n << 51n), 0n), new SteConfig())).toBeUndefined(); // 48-bit IPA from level 1
    expect(decodeSte(words(1n | (2n << 1n), 0n, 0n, 0n), new SteConfig())?.config).toBe(0); // 0b0xx behaves as abort
  });

  it('CD fields sit where arm-smmu-v3.h puts them (CTXDESC_CD_*); decodeCd checks TxSZ and TTB range', () => {
    const d0 = 20n | (2n << 6n) | (1n << 30n) | (1n << 31n) | (2n << 32n) | (1n << 41n) | (1n << 44n) | (1n << 45n) | (1n << 46n) | (0xbeefn << 48n);
    const w = words(d0, 0x01ff_ffff_f000n, 0n, 0x0403_0201n);
    expect(CD.decode(w)).toMatchObject({ T0SZ: 20, TG0: 2, EPD1: 1, V: 1, IPS: 2, AA64: 1, S: 1, R: 1, A: 1, ASID: 0xbeef, MAIR0: 0x0403_0201 });
    expect(decodeCd(w, new SteConfig(), StreamWorld.NsEl1, new CdConfig())).toBeUndefined(); // TTB0 beyond 40-bit IPS
    const ok = decodeCd(words(d0, 0x00ff_f000n, 0n, 0n), new SteConfig(), StreamWorld.NsEl1, new CdConfig());
    expect(ok?.walk).toMatchObject({ granuleShift: 14, tsz: 20, oasBits: 40, ttb: 0x00ff_f000 });
    expect(ok?.asid).toBe(0xbeef);
  });

  it('commands, events and PRI entries use the arm-smmu-v3.h positions (CMDQ_*, EVTQ_*, PRIQ_*)', () => {
    const c = words(0x12n | (3n << 12n) | (4n << 20n) | (0x55n << 32n) | (0x66n << 48n), 1n | (2n << 8n) | (1n << 10n) | 0x7000n);
    expect(CMD.decode(c)).toMatchObject({ Opcode: 0x12, NUM: 3, SCALE: 4, VMID: 0x55, ASID: 0x66, Leaf: 1, TTL: 2, TG: 1 });
    expect(CMD.get(c, CMD.f.Address)).toBe(0x7000);
    const ev = new EventRecord().reset(0x10, 0x42, true, 9);
    ev.stall = true;
    ev.stag = 0x1234;
    ev.priv = true;
    ev.write = false;
    ev.s2 = true;
    ev.cls = FaultClass.TT;
    ev.inputAddr = 0xdead_b000;
    ev.ipa = 0x8000_0000;
    const e = ev.encode(new Uint32Array(8));
    const d0 = BigInt(e[0]!) | (BigInt(e[1]!) << 32n);
    const d1 = BigInt(e[2]!) | (BigInt(e[3]!) << 32n);
    expect(d0).toBe(0x10n | (1n << 11n) | (9n << 12n) | (0x42n << 32n));
    expect(d1).toBe(0x1234n | (1n << 31n) | (1n << 33n) | (1n << 35n) | (1n << 39n) | (1n << 40n) | (1n << 44n));
    expect(EVT.get(e, EVT.f.InputAddr)).toBe(0xdead_b000);
    expect(EVT.get(e, EVT.f.IPA)).toBe(0x8000_0000);
    const p = encodePageRequest(new Uint32Array(4), 7, 0x1234_5678, 3, true, true, false, true, false, 0x1ff, true);
    expect(PRI.decode(p)).toMatchObject({ StreamID: 7, SubstreamID: 3, SSV: 1, Read: 1, Write: 0, Exec: 1, Priv: 0, Last: 1, PRGIndex: 0x1ff });
    expect(PRI.get(p, PRI.f.PageAddr)).toBe(0x1234_5000);
  });

  it('IOTLB: global entries match any ASID; invalidation scopes honour ASID, range and TTL', () => {
    const t = new Iotlb();
    t.insert(0x5000, 0, 1, 7, false, 0x5000, 4096, 0x9000, 0xff, 3, 12);
    t.insert(0x20_0000, 0, 1, 7, true, 0x20_0000, 0x20_0000, 0x40_0000, 0xff, 2, 12);
    expect(t.lookup(0x5004, 1, 7, 0)).toBeGreaterThanOrEqual(0);
    expect(t.lookup(0x5004, 1, 8, 0)).toBe(-1);
    expect(t.lookup(0x20_0000, 1, 8, 0)).toBeGreaterThanOrEqual(0); // global
    const s = new TlbiScope().reset(1);
    s.asid = 8;
    expect(t.invalidate(s)).toBe(0);
    s.includeGlobal = true;
    s.start = 0x30_0000;
    s.end = 0x30_1000;
    s.ttlLevel = 3;
    s.granuleShift = 12;
    expect(t.invalidate(s)).toBe(0); // the 2 MiB block is at level 2
    s.ttlLevel = -1;
    expect(t.invalidate(s)).toBe(1);
    expect(t.count()).toBe(1);
  });
});
