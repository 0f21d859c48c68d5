// MMU notifier lifetime (mm/mmu_notifier.c): __mmu_notifier_release calls each
// subscription's ->release once and unlinks it (hlist_del_init_rcu), so the unmaps
// and TLB flushes of the teardown that follow reach nobody; unregister after release
// does not call ->release again but still drops the mm reference; mmu_notifier_get
// after release makes a new subscription. flush_tlb_mm hands secondary TLBs
// (0, -1UL), a range flush its own page-aligned range.

import { afterEach, describe, expect, it } from 'vitest';
import { mmput } from '../../src/kernel/mm/fork.js';
import { do_mmap, do_munmap, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/kernel/mm/mmap.js';
import { MmuNotifier, type MmStruct, type MmuNotifierOps } from '../../src/kernel/mm/mm_types.js';
import {
  mm_has_notifiers,
  mmu_notifier_arch_invalidate_secondary_tlbs,
  mmu_notifier_get,
  mmu_notifier_put,
  mmu_notifier_register,
  mmu_notifier_release,
  mmu_notifier_unregister,
  ULONG_MAX,
} from '../../src/kernel/mm/mmu_notifier.js';
import { PAGE_SIZE } from '../../src/kernel/mm/page.js';
import { flush_tlb_mm, flush_tlb_page_mm, flush_tlb_range_mm } from '../../src/kernel/mm/tlbflush.js';
import { makeMmEnv, type MmEnv } from '../support/mm-env.js';

let env: MmEnv | undefined;
afterEach(() => {
  env?.restore();
  env = undefined;
});

type Call = [string, number, number];

/** A subscription that logs every callback as [name, start, end]. */
function logger(calls: Call[], tag = ''): MmuNotifierOps {
  return {
    release: () => void calls.push([`${tag}release`, 0, 0]),
    invalidate_range_start: (_s, r) => {
      calls.push([`${tag}start`, r.start, r.end]);
      return 0;
    },
    invalidate_range_end: (_s, r) => void calls.push([`${tag}end`, r.start, r.end]),
    arch_invalidate_secondary_tlbs: (_s, _mm, start, end) => void calls.push([`${tag}tlb`, start, end]),
  };
}

function populated(e: MmEnv, mm: MmStruct, pages: number): number {
  const a = do_mmap(mm, null, 0, pages * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, 0);
  expect(a).toBeGreaterThan(0);
  for (let i = 0; i < pages; i++) e.cpu.st32(a + i * PAGE_SIZE, i + 1);
  return a;
}

describe('__mmu_notifier_release: ->release once per subscription, then unlinked', () => {
  it('after release no invalidation or secondary-TLB flush reaches the subscription; the others released too', () => {
    env = makeMmEnv();
    const mm = env.newMm();
    env.use(mm);
    const a = populated(env, mm, 4);
    const calls: Call[] = [];
    expect(mmu_notifier_register(new MmuNotifier(logger(calls, 'a:')), mm)).toBe(0);
    expect(mmu_notifier_register(new MmuNotifier(logger(calls, 'b:')), mm)).toBe(0);
    mmu_notifier_release(mm);
    expect(calls).toEqual([
      ['a:release', 0, 0],
      ['b:release', 0, 0],
    ]);
    expect(mm_has_notifiers(mm)).toBe(false);
    calls.length = 0;
    expect(do_munmap(mm, a, 4 * PAGE_SIZE)).toBe(0);
    flush_tlb_mm(mm);
    mmu_notifier_arch_invalidate_secondary_tlbs(mm, a, a + PAGE_SIZE);
    expect(calls).toEqual([]);
    env.use(null);
  });

  it('exit_mmap (the last mmput) calls ->release once; the teardown reaches nobody; unregister then only drops the mm reference', () => {
    env = makeMmEnv();
    const mm = env.newMm();
    env.use(mm);
    populated(env, mm, 8);
    const calls: Call[] = [];
    const sub = new MmuNotifier(logger(calls));
    expect(mmu_notifier_register(sub, mm)).toBe(0);
    const count = mm.mm_count;
    env.use(null);
    mmput(mm);
    expect(calls).toEqual([['release', 0, 0]]);
    // the user reference is gone; the subscription's struct reference keeps the pgd
    expect(mm.mm_count).toBe(count - 1);
    expect(mm.pgd).not.toBe(0);
    mmu_notifier_unregister(sub, mm);
    expect(calls).toEqual([['release', 0, 0]]);
    expect(mm.mm_count).toBe(count - 2);
    expect(mm.pgd).toBe(0);
  });

  it('unregister of a live mm calls ->release, unlinks and drops the reference; a second unregister does nothing', () => {
    env = makeMmEnv();
    const mm = env.newMm();
    const calls: Call[] = [];
    const sub = new MmuNotifier(logger(calls));
    const count = mm.mm_count;
    expect(mmu_notifier_register(sub, mm)).toBe(0);
    expect(mm.mm_count).toBe(count + 1);
    mmu_notifier_unregister(sub, mm);
    expect(calls).toEqual([['release', 0, 0]]);
    expect(mm_has_notifiers(mm)).toBe(false);
    expect(mm.mm_count).toBe(count);
    mmu_notifier_unregister(sub, mm);
    expect(calls.length).toBe(1);
    expect(mm.mm_count).toBe(count);
  });

  it('mmu_notifier_get after release allocates a new subscription; put of the released one only drops its reference', () => {
    env = makeMmEnv();
    const mm = env.newMm();
    const calls: Call[] = [];
    const freed: MmuNotifier[] = [];
    const ops: MmuNotifierOps = { ...logger(calls), free_notifier: (s) => void freed.push(s) };
    const count = mm.mm_count;
    const first = mmu_notifier_get(ops, mm, () => new MmuNotifier(ops));
    expect(mmu_notifier_get(ops, mm, () => new MmuNotifier(ops))).toBe(first);
    expect(first.users).toBe(2);
    mmu_notifier_release(mm);
    const second = mmu_notifier_get(ops, mm, () => new MmuNotifier(ops));
    expect(second).not.toBe(first);
    expect(mm.notifier_subscriptions).toEqual([second]);
    mmu_notifier_put(first);
    mmu_notifier_put(first);
    expect(freed).toEqual([first]);
    expect(mm.notifier_subscriptions).toEqual([second]);
    mmu_notifier_put(second);
    expect(freed).toEqual([first, second]);
    expect(mm.mm_count).toBe(count);
  });
});

describe('secondary TLB ranges of the CPU TLB flushes (arch/arm64 tlbflush.h)', () => {
  it('flush_tlb_mm passes (0, -1UL): the whole address space, end - start === ULONG_MAX', () => {
    env = makeMmEnv();
    const mm = env.newMm();
    env.use(mm);
    const calls: Call[] = [];
    expect(mmu_notifier_register(new MmuNotifier(logger(calls)), mm)).toBe(0);
    flush_tlb_mm(mm);
    expect(calls).toEqual([['tlb', 0, ULONG_MAX]]);
    expect(calls[0]![2] - calls[0]![1]).toBe(ULONG_MAX);
    // -1UL: 0xffff_ffff_ffff_ffff as a Number
    expect(ULONG_MAX).toBe(Number(0xffff_ffff_ffff_ffffn));
    expect(env.cpu.tlbis.some((t) => t.op === 'ASIDE1IS')).toBe(true);
    env.use(null);
  });

  it('a page flush and a range flush pass their own page-aligned [start, end)', () => {
    env = makeMmEnv();
    const mm = env.newMm();
    env.use(mm);
    const calls: Call[] = [];
    expect(mmu_notifier_register(new MmuNotifier(logger(calls)), mm)).toBe(0);
    flush_tlb_page_mm(mm, 0x40_1000);
    flush_tlb_range_mm(mm, 0x40_0010, 0x40_2ff0);
    expect(calls).toEqual([
      ['tlb', 0x40_1000, 0x40_2000],
      ['tlb', 0x40_0000, 0x40_3000],
    ]);
    env.use(null);
  });
});
