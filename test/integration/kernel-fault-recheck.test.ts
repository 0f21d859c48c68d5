// The fault paths recheck the PTE after allocating (pte_same): the allocation may
// reclaim, compact or run the OOM killer and its reaper, and when the PTE the fault
// started from has changed meanwhile, the new page is dropped and the access retried.
// The test makes the allocation itself change the PTE: a wrapper around alloc_pages
// zaps the faulting page (as the OOM reaper or MADV_DONTNEED would) the first time a
// user page is allocated while it is armed.

import { describe, expect, it, vi } from 'vitest';
import { thisCpu } from '../../src/arch/index.js';
import type { Libc } from '../../src/user/libc/libc.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/user/libc/uapi.js';
import { check_page_alloc_consistency } from '../../src/kernel/mm/page_alloc.js';
import { oops_count } from '../../src/kernel/kernel/panic.js';
import { current } from '../../src/kernel/sched/core.js';
import { find_vma } from '../../src/kernel/mm/mmap.js';
import { zap_page_range } from '../../src/kernel/mm/memory.js';
import { MMU_NOTIFY_CLEAR, MM_SWAPENTS } from '../../src/kernel/mm/mm_types.js';
import { __GFP_MOVABLE } from '../../src/kernel/mm/gfp.js';
import { swap_info } from '../../src/kernel/mm/swapfile.js';
import { PAGE, bootUacce } from './kernel-uacce-harness.js';

const hook = vi.hoisted(() => ({ addr: -1, fired: 0 }));

vi.mock('../../src/kernel/mm/page_alloc.js', async (importOriginal) => {
  const m = await importOriginal<typeof import('../../src/kernel/mm/page_alloc.js')>();
  return {
    ...m,
    alloc_pages(order: number, gfp: number): number {
      if (hook.addr >= 0 && gfp & __GFP_MOVABLE) {
        const addr = hook.addr;
        hook.addr = -1;
        const mm = current().mm!;
        const vma = find_vma(mm, addr)!;
        zap_page_range(vma, addr, addr + PAGE, MMU_NOTIFY_CLEAR);
        hook.fired++;
      }
      return m.alloc_pages(order, gfp);
    },
  };
});

function run(main: (c: Libc) => Generator<unknown, number, unknown>) {
  hook.fired = 0;
  const r = bootUacce({ ramSize: 128 * 1024 * 1024, mains: { t: main }, script: ['t', 'echo "status $?"'], limitNs: 30e9 });
  return r;
}

describe('fault paths recheck the PTE after allocating', () => {
  it('do_wp_page: a COW fault whose page is zapped during the allocation drops its copy and retries; the child keeps its data', () => {
    const r = run(function* (c) {
      const a = yield* c.mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      thisCpu().st32(a, 0x1234);
      const pid = yield* c.fork(function* (cc) {
        while (typeof (yield* cc.stat('/tmp/go')) === 'number') yield* cc.nanosleep(1_000_000);
        return thisCpu().ld32(a) === 0x1234 ? 0 : 1;
      });
      if (pid < 0) return 10;
      hook.addr = a;
      thisCpu().st32(a + 8, 0x5678); // COW fault; the page is zapped while the copy is allocated
      const after = [thisCpu().ld32(a), thisCpu().ld32(a + 8)];
      yield* c.writeFile('/tmp/go', 'y');
      const w = yield* c.wait4(pid, 0);
      if (typeof w === 'number') return 11;
      // zapped: the retried write found no page and got a fresh zero page
      return after[0] === 0 && after[1] === 0x5678 && w.status === 0 ? 0 : 12;
    });
    expect(hook.fired).toBe(1);
    expect(r.out).toContain('status 0\n');
    expect(check_page_alloc_consistency()).toEqual([]);
    expect(oops_count()).toBe(0);
  });

  it('do_swap_page: a swap-in whose swap PTE is zapped during the allocation frees the page and retries; no swap count goes negative', () => {
    const got: { swapMin?: number; used?: number; swapents?: number; v?: number } = {};
    const r = run(function* (c) {
      const a = yield* c.mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      thisCpu().st32(a, 0x1234);
      if ((yield* c.madvise(a, PAGE, 21 /* MADV_PAGEOUT */)) !== 0) return 10;
      const si = swap_info()!;
      const slots = () => Array.from(si.swap_map.subarray(1, si.nr_slots));
      if (slots().filter((n) => n > 0).length !== 1 || Array.from(si.cache).some((p) => p >= 0)) return 13; // swapped out, not cached
      hook.addr = a;
      got.v = thisCpu().ld32(a); // swap-in; the swap PTE is zapped while its page is allocated
      got.swapMin = Math.min(...slots());
      got.used = slots().filter((n) => n !== 0).length;
      got.swapents = current().mm!.rss_stat[MM_SWAPENTS];
      return 0;
    });
    expect(r.out).toContain('status 0\n');
    expect(hook.fired).toBe(1);
    expect(got).toEqual({ v: 0, swapMin: 0, used: 0, swapents: 0 });
    expect(check_page_alloc_consistency()).toEqual([]);
    expect(oops_count()).toBe(0);
  });
});
