// The hitless STE/CD writer against the cases of Linux's arm-smmu-v3-test.c (KUnit),
// with the same fixtures and expected sync counts. At every sync the entry must equal
// the initial or the target value on the bits its current configuration uses (minus
// the update-safe bits), and word 0 may be zero only in a disruptive update.

import { describe, expect, it } from 'vitest';
import { writeEntry, type EntryWriter, type EntryWriterOps } from '../../src/kernel/drivers/iommu/arm-smmu-v3/entry-writer.js';
import {
  STE,
  STE_WORDS,
  STRTAB_STE_0_CFG_NESTED,
  STRTAB_STE_0_S1FMT_64K_L2,
  STRTAB_STE_1_S1DSS_BYPASS,
  STRTAB_STE_1_S1DSS_SSID0,
  getSteUpdateSafe,
  getSteUsed,
  makeAbortSte,
  makeBypassSte,
  makeCdtableSte,
  makeS2DomainSte,
} from '../../src/kernel/drivers/iommu/arm-smmu-v3/ste.js';
import { CD, CD_WORDS, getCdUsed, makeS1Cd, makeSvaCd } from '../../src/kernel/drivers/iommu/arm-smmu-v3/cd.js';
import { ARM_SMMU_FEAT_ATTR_TYPES_OVR, ARM_SMMU_FEAT_STALLS } from '../../src/kernel/drivers/iommu/arm-smmu-v3/features.js';
import { getField, setField } from '../../src/kernel/lib/field-table.js';

// The fake SMMU of the KUnit suite
const FEATURES = ARM_SMMU_FEAT_STALLS | ARM_SMMU_FEAT_ATTR_TYPES_OVR;
const FAKE_CDTAB_DMA = 0xf0f0f0f0f0f0;
/** 0xdaedbeefdeadbeef as the driver masks it into a 52-bit table address. */
const FAKE_TTBR = Number(0xdaedbeefdeadbeefn & ((1n << 52n) - 1n));
const FAKE_MAIR = 0xabcdef012345678n;

const ATS = 1;
const STALL = 2;
const NESTED = 4;

const steOps: EntryWriterOps = { getUsed: getSteUsed, getUpdateSafe: getSteUpdateSafe };
const cdOps: EntryWriterOps = { getUsed: getCdUsed };

function differsInUsedBits(entry: Uint32Array, used: Uint32Array, ref: Uint32Array, safe: Uint32Array): boolean {
  for (let i = 0; i < entry.length; i++) {
    const u = used[i]! & ~safe[i]!;
    if (((entry[i]! & u) >>> 0) !== ((ref[i]! & u) >>> 0)) return true;
  }
  return false;
}

interface Outcome {
  syncs: number;
  invalidWritten: boolean;
  mixedStates: number;
  final: Uint32Array;
  dwordWrites: number;
}

/** arm_smmu_v3_test_{ste,cd}_expect_transition without the expectations. */
function transition(ops: EntryWriterOps, init: Uint32Array, target: Uint32Array): Outcome {
  const entry = init.slice();
  const used = new Uint32Array(entry.length);
  const safeInit = new Uint32Array(entry.length);
  const safeTarget = new Uint32Array(entry.length);
  const out: Outcome = { syncs: 0, invalidWritten: false, mixedStates: 0, final: entry, dwordWrites: 0 };
  const writer: EntryWriter = {
    ops,
    writeDword() {
      out.dwordWrites++;
    },
    sync() {
      out.syncs++;
      if (entry[0] === 0 && entry[1] === 0) {
        out.invalidWritten = true;
        return;
      }
      ops.getUsed(entry, used);
      safeInit.fill(0);
      safeTarget.fill(0);
      ops.getUpdateSafe?.(entry, init, safeInit);
      ops.getUpdateSafe?.(entry, target, safeTarget);
      if (differsInUsedBits(entry, used, init, safeInit) && differsInUsedBits(entry, used, target, safeTarget)) out.mixedStates++;
    },
  };
  writeEntry(writer, entry, target);
  return out;
}

function expectTransition(ops: EntryWriterOps, init: Uint32Array, target: Uint32Array, syncs: number, hitless: boolean): void {
  const r = transition(ops, init, target);
  expect(r.invalidWritten).toBe(!hitless);
  expect(r.mixedStates).toBe(0);
  expect(r.syncs).toBe(syncs);
  expect(Array.from(r.final)).toEqual(Array.from(target));
}

const steHitless = (a: Uint32Array, b: Uint32Array, n: number) => expectTransition(steOps, a, b, n, true);
const cdHitless = (a: Uint32Array, b: Uint32Array, n: number) => expectTransition(cdOps, a, b, n, true);
const cdNonHitless = (a: Uint32Array, b: Uint32Array, n: number) => expectTransition(cdOps, a, b, n, false);

function bypassSte(): Uint32Array {
  const t = new Uint32Array(STE_WORDS);
  makeBypassSte(FEATURES, t);
  return t;
}
function abortSte(): Uint32Array {
  const t = new Uint32Array(STE_WORDS);
  makeAbortSte(t);
  return t;
}

/** arm_smmu_test_make_s2_ste: VTCR ps 1, tg 2, sh 3, orgn 1, irgn 2, sl 3, tsz 4. */
function s2Ste(feat: number): Uint32Array {
  const t = new Uint32Array(STE_WORDS);
  makeS2DomainSte(t, FEATURES, { vmid: 0, vttbr: FAKE_TTBR, ps: 1, tg: 2, sh: 3, orgn: 1, irgn: 2, sl: 3, tsz: 4 }, (feat & ATS) !== 0);
  return t;
}

/** arm_smmu_test_make_cdtable_ste: s1cdmax 0xFF, S1FMT 64K_L2; NESTED adds CFG=7, MEV and the S2 half. */
function cdtableSte(s1dss: number, cdtabDma: number, feat: number): Uint32Array {
  const t = new Uint32Array(STE_WORDS);
  makeCdtableSte(t, FEATURES, (feat & STALL) !== 0, { cdtabDma, s1cdmax: 0xff, s1fmt: STRTAB_STE_0_S1FMT_64K_L2 }, (feat & ATS) !== 0, s1dss);
  if (feat & NESTED) {
    const s2 = s2Ste(feat & ~NESTED);
    setField(t, STE.f.CFG, getField(t, STE.f.CFG) | STRTAB_STE_0_CFG_NESTED);
    setField(t, STE.f.MEV, 1);
    for (let i = 4; i < STE_WORDS; i++) t[i] = s2[i]!;
  }
  return t;
}

function s1Cd(asid: number): Uint32Array {
  const t = new Uint32Array(CD_WORDS);
  makeS1Cd(t, false, asid, { ttbr: FAKE_TTBR, ips: 1, tg: 2, sh: 3, orgn: 1, irgn: 2, tsz: 4, mair: FAKE_MAIR });
  return t;
}
function svaCd(asid: number, released: boolean): Uint32Array {
  const t = new Uint32Array(CD_WORDS);
  makeSvaCd(t, { pgd: released ? null : FAKE_TTBR, asid, stallEnabled: false, features: FEATURES, ips: 5, t0sz: 16, tg: 0, mair: FAKE_MAIR });
  return t;
}

describe('arm_smmu_write_entry: STE transitions (arm-smmu-v3-test.c)', () => {
  it('1 bypass -> abort is hitless in 2 syncs (set dword 0, then clean dword 1)', () => steHitless(bypassSte(), abortSte(), 2));
  it('2 abort -> bypass is hitless in 2 syncs', () => steHitless(abortSte(), bypassSte(), 2));
  it('3 cdtable -> abort is hitless in 2 syncs', () => steHitless(cdtableSte(STRTAB_STE_1_S1DSS_SSID0, FAKE_CDTAB_DMA, ATS), abortSte(), 2));
  it('4 abort -> cdtable is hitless in 2 syncs', () => steHitless(abortSte(), cdtableSte(STRTAB_STE_1_S1DSS_SSID0, FAKE_CDTAB_DMA, ATS), 2));
  it('5 cdtable -> bypass is hitless in 3 syncs', () => steHitless(cdtableSte(STRTAB_STE_1_S1DSS_SSID0, FAKE_CDTAB_DMA, ATS), bypassSte(), 3));
  it('6 bypass -> cdtable is hitless in 3 syncs', () => steHitless(bypassSte(), cdtableSte(STRTAB_STE_1_S1DSS_SSID0, FAKE_CDTAB_DMA, ATS), 3));
  it('7 flipping S1DSS SSID0 <-> BYPASS changes only dword 1: one sync each way', () => {
    const ssid0 = cdtableSte(STRTAB_STE_1_S1DSS_SSID0, FAKE_CDTAB_DMA, ATS);
    const byp = cdtableSte(STRTAB_STE_1_S1DSS_BYPASS, FAKE_CDTAB_DMA, ATS);
    steHitless(ssid0, byp, 1);
    steHitless(byp, ssid0, 1);
  });
  it('8 S1DSS=BYPASS cdtable -> STE bypass is hitless in 2 syncs', () => steHitless(cdtableSte(STRTAB_STE_1_S1DSS_BYPASS, FAKE_CDTAB_DMA, ATS), bypassSte(), 2));
  it('9 STE bypass -> S1DSS=BYPASS cdtable is hitless in 2 syncs', () => steHitless(bypassSte(), cdtableSte(STRTAB_STE_1_S1DSS_BYPASS, FAKE_CDTAB_DMA, ATS), 2));
  it('10 S2 -> abort is hitless in 2 syncs', () => steHitless(s2Ste(ATS), abortSte(), 2));
  it('11 abort -> S2 is hitless in 2 syncs', () => steHitless(abortSte(), s2Ste(ATS), 2));
  it('12 S2 -> bypass is hitless in 2 syncs', () => steHitless(s2Ste(ATS), bypassSte(), 2));
  it('13 bypass -> S2 is hitless in 2 syncs', () => steHitless(bypassSte(), s2Ste(ATS), 2));
  it('14 cdtable (S1) -> S2 is hitless in 3 syncs', () => steHitless(cdtableSte(STRTAB_STE_1_S1DSS_SSID0, FAKE_CDTAB_DMA, ATS), s2Ste(ATS), 3));
  it('15 S2 -> cdtable (S1) is hitless in 3 syncs', () => steHitless(s2Ste(ATS), cdtableSte(STRTAB_STE_1_S1DSS_SSID0, FAKE_CDTAB_DMA, ATS), 3));
  it('16 changing CTXPTR and S1DSS together forces V=0: non-hitless in 3 syncs', () => {
    expectTransition(steOps, cdtableSte(STRTAB_STE_1_S1DSS_SSID0, FAKE_CDTAB_DMA, ATS), cdtableSte(STRTAB_STE_1_S1DSS_BYPASS, 0x4b4b4b4b4b, ATS), 3, false);
  });
  it('19 stall-enabled master: cdtable -> S2 is hitless in 3 syncs', () => steHitless(cdtableSte(STRTAB_STE_1_S1DSS_SSID0, FAKE_CDTAB_DMA, STALL), s2Ste(STALL), 3));
  it('20 stall-enabled master: S2 -> cdtable is hitless in 3 syncs', () => steHitless(s2Ste(STALL), cdtableSte(STRTAB_STE_1_S1DSS_SSID0, FAKE_CDTAB_DMA, STALL), 3));
  it('21 nested (S1DSS=BYPASS, MEV, ATS) -> plain S2 is hitless in 3 syncs (one more clears EATS and MEV)', () => {
    steHitless(cdtableSte(STRTAB_STE_1_S1DSS_BYPASS, FAKE_CDTAB_DMA, ATS | NESTED), s2Ste(0), 3);
  });
  it('22 plain S2 -> nested is hitless in 2 syncs', () => steHitless(s2Ste(0), cdtableSte(STRTAB_STE_1_S1DSS_BYPASS, FAKE_CDTAB_DMA, ATS | NESTED), 2));
});

describe('arm_smmu_write_entry: CD transitions (arm-smmu-v3-test.c)', () => {
  it('17 zero CD <-> S1 CD (ASID 1997) is non-hitless, 2 syncs each way', () => {
    const zero = new Uint32Array(CD_WORDS);
    cdNonHitless(zero, s1Cd(1997), 2);
    cdNonHitless(s1Cd(1997), zero, 2);
  });
  it('18 changing the ASID 778 <-> 1997 is hitless in one sync', () => {
    cdHitless(s1Cd(778), s1Cd(1997), 1);
    cdHitless(s1Cd(1997), s1Cd(778), 1);
  });
  it('23 zero CD <-> SVA CD is non-hitless, 2 syncs each way', () => {
    const zero = new Uint32Array(CD_WORDS);
    cdNonHitless(zero, svaCd(1997, false), 2);
    cdNonHitless(svaCd(1997, false), zero, 2);
  });
  it('24 SVA CD <-> released SVA CD (EPD0, faults all) is hitless in 2 syncs each way', () => {
    cdHitless(svaCd(1997, false), svaCd(1997, true), 2);
    cdHitless(svaCd(1997, true), svaCd(1997, false), 2);
  });
});

describe('entry writer mechanics', () => {
  it('writing an identical entry issues no store and no sync', () => {
    const r = transition(steOps, bypassSte(), bypassSte());
    expect(r.syncs).toBe(0);
    expect(r.dwordWrites).toBe(0);
  });
  it('every dword store in a hitless update is followed by a sync before the next step', () => {
    const r = transition(steOps, cdtableSte(STRTAB_STE_1_S1DSS_SSID0, FAKE_CDTAB_DMA, ATS), bypassSte());
    expect(r.dwordWrites).toBeGreaterThanOrEqual(r.syncs);
    expect(r.syncs).toBe(3);
  });
  it('a make function that sets a bit its used-bits function ignores is a driver bug (throws)', () => {
    const bad = abortSte();
    bad[2] = 1; // dword 1 of an abort STE is unused
    expect(() => transition(steOps, bypassSte(), bad)).toThrow(/used-bits/);
  });
  it('field tables place the fixtures where arm-smmu-v3.h does', () => {
    const ste = cdtableSte(STRTAB_STE_1_S1DSS_SSID0, FAKE_CDTAB_DMA, ATS);
    // dw0 = V | CFG=5 << 1 | S1FMT=2 << 4 | CTXPTR (bits 51:6) | S1CDMAX=31 << 59
    expect(ste[0]).toBe(((0xf0f0f0c0 | (2 << 4) | (5 << 1) | 1) >>> 0));
    expect(ste[1]).toBe((0xf0f0 | (31 << 27)) >>> 0);
    const cd = s1Cd(1997);
    expect(getField(cd, CD.f.ASID)).toBe(1997);
    expect(getField(cd, CD.f.TTB0)).toBe(Number(0xdaedbeefdeadbeefn & ((1n << 52n) - 16n)));
    expect(cd[6]).toBe(0x12345678);
    expect(cd[7]).toBe(0x0abcdef0);
  });
});
