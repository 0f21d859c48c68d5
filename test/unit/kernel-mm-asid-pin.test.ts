// Pinned ASIDs (arch/arm64/mm/context.c arm64_mm_context_get/put, used by the SMMU
// for SVA): a pinned ASID survives every rollover of the CPU ASID allocator and is
// never handed to another mm; the pin count nests; the last put lets rollovers reuse
// it; at most NUM_USER_ASIDS - cpus - 2 ASIDs can be pinned.

import { afterEach, describe, expect, it } from 'vitest';
import { ASID, arm64_mm_context_get, arm64_mm_context_put, asid_rollovers, mm_context_pinned } from '../../src/kernel/mm/context.js';
import type { MmStruct } from '../../src/kernel/mm/mm_types.js';
import { makeMmEnv, type MmEnv } from '../support/mm-env.js';

let env: MmEnv | undefined;
afterEach(() => {
  env?.restore();
  env = undefined;
});

/** Runs each of `n` fresh mms once on the core; returns them. */
function churn(e: MmEnv, n: number): MmStruct[] {
  const mms: MmStruct[] = [];
  for (let i = 0; i < n; i++) {
    const mm = e.newMm();
    e.use(mm);
    mms.push(mm);
  }
  e.use(null);
  return mms;
}

const ttbrAsid = (e: MmEnv): number => Number(e.cpu.readSysreg('TTBR0_EL1') >> 48n);

describe('arm64_mm_context_get: pinned ASIDs across rollovers', () => {
  it('a pinned ASID keeps its value through several rollovers and no other mm is given it', () => {
    // 16 ASIDs: 0 reserved, so every 15 new mms force a rollover
    env = makeMmEnv(64, { asidBits: 4 });
    const a = env.newMm();
    env.use(a);
    const asid = arm64_mm_context_get(a);
    expect(asid).toBe(ASID(a));
    expect(asid).toBeGreaterThan(0);
    expect(mm_context_pinned(a)).toBe(1);
    env.use(null);
    const before = asid_rollovers;
    const others = churn(env, 60);
    expect(asid_rollovers - before).toBeGreaterThanOrEqual(3);
    // every mm that ran after the pin got another ASID, in every generation
    expect(others.filter((m) => ASID(m) === asid)).toEqual([]);
    // the pinned mm runs again with the same ASID in TTBR0_EL1, and a later get returns it too
    env.use(a);
    expect(ASID(a)).toBe(asid);
    expect(ttbrAsid(env)).toBe(asid);
    expect(arm64_mm_context_get(a)).toBe(asid);
    expect(mm_context_pinned(a)).toBe(2);
  });

  it('without the pin the same history hands the ASID to other mms (control)', () => {
    env = makeMmEnv(64, { asidBits: 4 });
    const a = env.newMm();
    env.use(a);
    const asid = ASID(a);
    env.use(null);
    const others = churn(env, 60);
    expect(others.some((m) => ASID(m) === asid)).toBe(true);
  });

  it('pins nest; the last put frees the ASID for the next generations', () => {
    env = makeMmEnv(64, { asidBits: 4 });
    const a = env.newMm();
    env.use(a);
    const asid = arm64_mm_context_get(a);
    expect(arm64_mm_context_get(a)).toBe(asid);
    env.use(null);
    arm64_mm_context_put(a);
    expect(mm_context_pinned(a)).toBe(1);
    expect(churn(env, 45).some((m) => ASID(m) === asid)).toBe(false);
    arm64_mm_context_put(a);
    expect(mm_context_pinned(a)).toBe(0);
    expect(churn(env, 45).some((m) => ASID(m) === asid)).toBe(true);
    // a put without a pin changes nothing
    arm64_mm_context_put(a);
    expect(mm_context_pinned(a)).toBe(0);
  });

  it('an mm that never ran gets an ASID of the current generation when pinned', () => {
    env = makeMmEnv(64, { asidBits: 4 });
    churn(env, 20);
    const fresh = env.newMm();
    expect(fresh.context_id).toBe(0);
    const asid = arm64_mm_context_get(fresh);
    expect(asid).toBeGreaterThan(0);
    expect(ASID(fresh)).toBe(asid);
    // and it does not collide with a live mm
    const live = env.newMm();
    env.use(live);
    expect(ASID(live)).not.toBe(asid);
  });

  it('at most NUM_USER_ASIDS - cpus - 2 ASIDs can be pinned; the next get fails with 0', () => {
    env = makeMmEnv(64, { asidBits: 4 });
    // one core here: 16 - 1 - 2 = 13
    const mms = churn(env, 14);
    const got = mms.map((m) => arm64_mm_context_get(m));
    expect(got.slice(0, 13).every((a) => a > 0)).toBe(true);
    expect(new Set(got.slice(0, 13)).size).toBe(13);
    expect(got[13]).toBe(0);
    expect(mm_context_pinned(mms[13]!)).toBe(0);
    // rollovers still find ASIDs for new mms, never one of the pinned
    const pinnedSet = new Set(got.slice(0, 13));
    const later = churn(env, 30);
    expect(later.filter((m) => pinnedSet.has(ASID(m)))).toEqual([]);
    arm64_mm_context_put(mms[0]!);
    expect(arm64_mm_context_get(mms[13]!)).toBeGreaterThan(0);
  });
});
