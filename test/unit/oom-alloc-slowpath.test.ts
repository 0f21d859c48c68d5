// The allocator's way into the OOM killer (__alloc_pages_slowpath ->
// __alloc_pages_may_oom): only allocations that may sleep, are not __GFP_NORETRY or
// __GFP_RETRY_MAYFAIL and are at most PAGE_ALLOC_COSTLY_ORDER invoke it; a victim (or a
// task waiting on one) may then dip into half of the min reserve (ALLOC_OOM), and a
// victim that still fails gives up instead of looping.

import { afterEach, describe, expect, it } from 'vitest';
import { __GFP_NORETRY, __GFP_RETRY_MAYFAIL, GFP_ATOMIC, GFP_HIGHUSER_MOVABLE, GFP_KERNEL, GFP_NOWAIT, ZONE_NORMAL } from '../../src/kernel/mm/gfp.js';
import { alloc_pages, check_page_alloc_consistency, NODE_DATA, PAGE_ALLOC_COSTLY_ORDER, set_oom_ops } from '../../src/kernel/mm/page_alloc.js';
import { makeMmEnv, type MmEnv } from '../support/mm-env.js';

let env: MmEnv | undefined;
afterEach(() => {
  env?.restore();
  env = undefined;
});

interface Spy {
  calls: [number, number][];
  progress: boolean;
  reserves: boolean;
  victim: boolean;
}

function install(): Spy {
  const s: Spy = { calls: [], progress: false, reserves: false, victim: false };
  set_oom_ops({
    out_of_memory: (gfp, order) => {
      s.calls.push([gfp, order]);
      return s.progress;
    },
    oom_reserves_allowed: () => s.reserves,
    current_is_oom_victim: () => s.victim,
  });
  return s;
}

/** Allocates with `gfp` until it fails; returns the count. */
function drain(gfp: number): number {
  let n = 0;
  while (alloc_pages(0, gfp) >= 0) n++;
  return n;
}

describe('__alloc_pages_may_oom: which allocations invoke the OOM killer', () => {
  it('GFP_NOWAIT/GFP_ATOMIC, __GFP_NORETRY, __GFP_RETRY_MAYFAIL and costly orders fail without it; GFP_KERNEL up to order 3 and GFP_HIGHUSER_MOVABLE call it', () => {
    env = makeMmEnv(16, { swapBytes: 0 });
    const spy = install();
    expect(drain(GFP_HIGHUSER_MOVABLE | __GFP_NORETRY)).toBeGreaterThan(1000);
    drain(GFP_KERNEL | __GFP_NORETRY);
    expect(alloc_pages(0, GFP_NOWAIT)).toBe(-1);
    expect(alloc_pages(0, GFP_ATOMIC)).toBe(-1);
    expect(alloc_pages(0, GFP_KERNEL | __GFP_RETRY_MAYFAIL)).toBe(-1);
    expect(alloc_pages(PAGE_ALLOC_COSTLY_ORDER + 1, GFP_KERNEL)).toBe(-1);
    expect(spy.calls).toEqual([]);
    expect(alloc_pages(0, GFP_KERNEL)).toBe(-1);
    expect(alloc_pages(PAGE_ALLOC_COSTLY_ORDER, GFP_KERNEL)).toBe(-1);
    expect(alloc_pages(0, GFP_HIGHUSER_MOVABLE)).toBe(-1);
    expect(spy.calls).toEqual([
      [GFP_KERNEL, 0],
      [GFP_KERNEL, PAGE_ALLOC_COSTLY_ORDER],
      [GFP_HIGHUSER_MOVABLE, 0],
    ]);
    expect(check_page_alloc_consistency()).toEqual([]);
  });

  it('after a kill, ALLOC_OOM lets the allocation use half of the min reserve and no more; a victim that still fails gives up (one OOM call, no loop)', () => {
    env = makeMmEnv(16, { swapBytes: 0 });
    const spy = install();
    drain(GFP_KERNEL | __GFP_NORETRY);
    const z = NODE_DATA().node_zones[ZONE_NORMAL]!;
    const free0 = z.nr_free_pages;
    expect(free0).toBeLessThanOrEqual(z.wmark_min + 1);
    // progress without reserves: the retry at the min watermark still fails
    spy.progress = true;
    expect(alloc_pages(0, GFP_KERNEL)).toBe(-1);
    expect(spy.calls.length).toBe(1);
    // reserves (the victim itself): pages down to min/2
    spy.reserves = true;
    spy.victim = true;
    let got = 0;
    while (alloc_pages(0, GFP_KERNEL) >= 0) got++;
    const floor = z.wmark_min - (z.wmark_min >> 1);
    expect(z.nr_free_pages).toBeGreaterThanOrEqual(floor);
    expect(z.nr_free_pages).toBeLessThanOrEqual(floor + 1);
    expect(got).toBe(free0 - z.nr_free_pages);
    // each failing victim allocation called the OOM killer once and returned
    expect(spy.calls.length).toBe(got + 2);
    expect(check_page_alloc_consistency()).toEqual([]);
  });

  it('a node brought up again has no OOM killer until oom_init wires it (mem_init unwires it)', () => {
    env = makeMmEnv(16, { swapBytes: 0 });
    const spy = install();
    env.restore();
    env = makeMmEnv(16, { swapBytes: 0 });
    drain(GFP_KERNEL);
    expect(spy.calls).toEqual([]);
  });
});
