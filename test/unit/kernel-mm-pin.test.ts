import { afterEach, describe, expect, it } from 'vitest';
import { compact_nodes, compact_zone, set_compact_unevictable_allowed } from '../../src/kernel/mm/compaction.js';
import { dup_mm } from '../../src/kernel/mm/fork.js';
import { GFP_HIGHUSER_MOVABLE, ZONE_MOVABLE, ZONE_NORMAL } from '../../src/kernel/mm/gfp.js';
import {
  FOLL_FORCE,
  FOLL_LONGTERM,
  FOLL_WRITE,
  get_user_pages_remote,
  pin_user_pages_remote,
  unpin_user_pages,
  unpin_user_pages_dirty_lock,
} from '../../src/kernel/mm/gup.js';
import { follow_pte, zero_page_pfn, type FollowResult } from '../../src/kernel/mm/memory.js';
import { do_mlock, do_mlockall, do_munlock, MCL_CURRENT } from '../../src/kernel/mm/mlock.js';
import { do_madvise, do_mmap, MADV_PAGEOUT, MAP_ANONYMOUS, MAP_LOCKED, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/kernel/mm/mmap.js';
import { MMU_NOTIFY_CLEAR, MMU_NOTIFY_MIGRATE, MmuNotifier, type MmStruct } from '../../src/kernel/mm/mm_types.js';
import { mmu_notifier_register } from '../../src/kernel/mm/mmu_notifier.js';
import { check_page_alloc_consistency, mem_map, NODE_DATA, put_page } from '../../src/kernel/mm/page_alloc.js';
import { GUP_PIN_COUNTING_BIAS, PAGE_SIZE, PG_dirty, PG_mlocked } from '../../src/kernel/mm/page.js';
import { account_locked_vm } from '../../src/kernel/mm/util.js';
import { balance_pgdat, set_swappiness, try_to_free_pages } from '../../src/kernel/mm/vmscan.js';
import { global_page_state } from '../../src/kernel/mm/vmstat.js';
import { makeMmEnv, type MmEnv } from '../support/mm-env.js';

let env: MmEnv | undefined;
afterEach(() => {
  env?.restore();
  env = undefined;
  set_compact_unevictable_allowed(1);
  set_swappiness(60);
});

const fr: FollowResult = { pfn: -1, writable: false, special: false, swapOffset: -1, dirty: false };
function pfnAt(mm: MmStruct, va: number): number {
  follow_pte(mm, va, fr);
  return fr.pfn;
}
function swapAt(mm: MmStruct, va: number): number {
  follow_pte(mm, va, fr);
  return fr.swapOffset;
}

const ROOT = { memlockLimit: 8 * 1024 * 1024, capIpcLock: true };
const USER = { memlockLimit: 64 * 1024, capIpcLock: false };

function setup(ramMiB = 64, swapMiB = 16): { e: MmEnv; mm: MmStruct } {
  env = makeMmEnv(ramMiB, { swapBytes: swapMiB * 1024 * 1024 });
  const mm = env.newMm();
  env.use(mm);
  return { e: env, mm };
}

function anon(mm: MmStruct, pages: number, flags = 0, creds = ROOT): number {
  const a = do_mmap(mm, null, 0, pages * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flags, 0, creds);
  expect(a).toBeGreaterThan(0);
  return a;
}

function touch(e: MmEnv, a: number, pages: number, tag: number): void {
  for (let i = 0; i < pages; i++) e.cpu.st32(a + i * PAGE_SIZE, tag + i);
}

function events(mm: MmStruct): { event: number; start: number; end: number }[] {
  const seen: { event: number; start: number; end: number }[] = [];
  mmu_notifier_register(
    new MmuNotifier({
      invalidate_range_start(_s, r) {
        seen.push({ event: r.event, start: r.start, end: r.end });
        return 0;
      },
    }),
    mm,
  );
  return seen;
}

describe('get_user_pages vs pin_user_pages (mm/gup.c, pin_user_pages.rst)', () => {
  it('a pin adds GUP_PIN_COUNTING_BIAS and counts nr_foll_pin_acquired/released; a get adds 1', () => {
    const { e, mm } = setup();
    const a = anon(mm, 2);
    touch(e, a, 2, 1);
    const p = pfnAt(mm, a);
    const rc0 = mem_map().refcount(p);
    const pages: number[] = [];
    expect(pin_user_pages_remote(mm, a, 2, FOLL_WRITE, pages)).toBe(2);
    expect(mem_map().refcount(p)).toBe(rc0 + GUP_PIN_COUNTING_BIAS);
    expect(global_page_state('nr_foll_pin_acquired')).toBe(2);
    unpin_user_pages_dirty_lock(pages, 2, true);
    expect(mem_map().refcount(p)).toBe(rc0);
    expect(mem_map().testFlags(p, PG_dirty)).toBe(true);
    expect(global_page_state('nr_foll_pin_released')).toBe(2);
    const got: number[] = [];
    expect(get_user_pages_remote(mm, a, 1, 0, got)).toBe(1);
    expect(mem_map().refcount(p)).toBe(rc0 + 1);
    put_page(got[0]!);
  });

  it('FOLL_WRITE breaks COW: the pinned page is the task\'s own copy, not the page shared with a fork child', () => {
    const { e, mm } = setup();
    const a = anon(mm, 1);
    touch(e, a, 1, 50);
    const child = dup_mm(mm)!;
    const shared = pfnAt(mm, a);
    expect(pfnAt(child, a)).toBe(shared);
    const pages: number[] = [];
    expect(pin_user_pages_remote(mm, a, 1, FOLL_WRITE, pages)).toBe(1);
    expect(pages[0]).not.toBe(shared);
    expect(pfnAt(mm, a)).toBe(pages[0]);
    expect(e.cpu.ldPhys32(pages[0]! * PAGE_SIZE)).toBe(50);
    unpin_user_pages(pages, 1);
  });

  it('a read pin of untouched anonymous memory gets the zero page without pinning it', () => {
    const { mm } = setup();
    const a = anon(mm, 1);
    const pages: number[] = [];
    expect(pin_user_pages_remote(mm, a, 1, 0, pages)).toBe(1);
    expect(pages[0]).toBe(zero_page_pfn());
    expect(global_page_state('nr_foll_pin_acquired')).toBe(0);
  });

  it('FOLL_FORCE writes through a read-only private mapping via a COW copy (ptrace); without it -EFAULT', () => {
    const { e, mm } = setup();
    const a = do_mmap(mm, null, 0, PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, 0);
    expect(pin_user_pages_remote(mm, a, 1, FOLL_WRITE, [])).toBe(-14);
    const pages: number[] = [];
    expect(pin_user_pages_remote(mm, a, 1, FOLL_WRITE | FOLL_FORCE, pages)).toBe(1);
    e.cpu.stPhys32(pages[0]! * PAGE_SIZE, 0xabc);
    expect(e.cpu.ld32(a)).toBe(0xabc); // the task sees the write
    follow_pte(mm, a, fr);
    expect(fr.writable).toBe(false); // and still cannot write itself
    unpin_user_pages(pages, 1);
  });

  it('FOLL_LONGTERM migrates pages out of ZONE_MOVABLE first (MMU_NOTIFY_MIGRATE), data intact, then pins', () => {
    const { e, mm } = setup();
    const seen = events(mm);
    const a = anon(mm, 4);
    touch(e, a, 4, 100);
    const pgdat = NODE_DATA();
    const before = [0, 1, 2, 3].map((i) => pfnAt(mm, a + i * PAGE_SIZE));
    for (const p of before) expect(pgdat.page_zone(p).idx).toBe(ZONE_MOVABLE);
    const pages: number[] = [];
    expect(pin_user_pages_remote(mm, a, 4, FOLL_WRITE | FOLL_LONGTERM, pages)).toBe(4);
    for (let i = 0; i < 4; i++) {
      expect(pgdat.page_zone(pages[i]!).idx).toBe(ZONE_NORMAL);
      expect(pfnAt(mm, a + i * PAGE_SIZE)).toBe(pages[i]);
      expect(pages[i]).not.toBe(before[i]);
      expect(e.cpu.ld32(a + i * PAGE_SIZE)).toBe(100 + i);
    }
    expect(seen.filter((s) => s.event === MMU_NOTIFY_MIGRATE).map((s) => s.start)).toEqual([a, a + PAGE_SIZE, a + 2 * PAGE_SIZE, a + 3 * PAGE_SIZE]);
    expect(global_page_state('pgmigrate_success')).toBe(4);
    unpin_user_pages(pages, 4);
    expect(check_page_alloc_consistency()).toEqual([]);
  });
});

describe('migration and compaction (mm/migrate.c, mm/compaction.c)', () => {
  it('compaction moves unpinned pages (their PFN changes) and leaves pinned pages in place', () => {
    const { e, mm } = setup();
    const a = anon(mm, 64);
    touch(e, a, 64, 1000);
    // free every other page so the zone is fragmented
    for (let i = 0; i < 64; i += 2) expect(do_madvise(mm, a + i * PAGE_SIZE, PAGE_SIZE, 4)).toBe(0);
    const pinned: number[] = [];
    expect(pin_user_pages_remote(mm, a + 1 * PAGE_SIZE, 1, FOLL_WRITE, pinned)).toBe(1);
    const before = new Map<number, number>();
    for (let i = 1; i < 64; i += 2) before.set(i, pfnAt(mm, a + i * PAGE_SIZE));
    compact_nodes();
    let moved = 0;
    for (let i = 1; i < 64; i += 2) {
      const now = pfnAt(mm, a + i * PAGE_SIZE);
      if (i === 1) expect(now).toBe(before.get(1));
      else if (now !== before.get(i)) moved++;
      expect(e.cpu.ld32(a + i * PAGE_SIZE)).toBe(1000 + i);
    }
    expect(moved).toBe(31);
    expect(global_page_state('pgmigrate_success')).toBeGreaterThanOrEqual(31);
    expect(global_page_state('compact_migrate_scanned')).toBeGreaterThan(0);
    expect(global_page_state('compact_free_scanned')).toBeGreaterThan(0);
    expect(global_page_state('compact_isolated')).toBeGreaterThan(0);
    unpin_user_pages(pinned, 1);
    expect(check_page_alloc_consistency()).toEqual([]);
  });

  it('pages held by get_user_pages are not migrated either (their refcount does not match)', () => {
    const { e, mm } = setup();
    const a = anon(mm, 8);
    touch(e, a, 8, 0);
    const got: number[] = [];
    expect(get_user_pages_remote(mm, a, 1, 0, got)).toBe(1);
    const zone = NODE_DATA().page_zone(got[0]!);
    compact_zone(zone, -1);
    expect(pfnAt(mm, a)).toBe(got[0]);
    put_page(got[0]!);
  });
});

describe('swap and mlock (mm/vmscan.c, mm/mlock.c)', () => {
  it('memory pressure swaps anonymous pages out (MMU_NOTIFY_CLEAR) and faults them back as major faults', () => {
    const { e, mm } = setup(24, 16);
    const seen = events(mm);
    const n = 24 * 256; // more pages than RAM
    const a = anon(mm, n);
    touch(e, a, n, 7);
    expect(global_page_state('pswpout')).toBeGreaterThan(0);
    expect(seen.some((s) => s.event === MMU_NOTIFY_CLEAR)).toBe(true);
    let swapped = 0;
    for (let i = 0; i < n; i++) if (swapAt(mm, a + i * PAGE_SIZE) > 0) swapped++;
    expect(swapped).toBeGreaterThan(0);
    for (let i = 0; i < n; i += 97) expect(e.cpu.ld32(a + i * PAGE_SIZE)).toBe(7 + i);
    expect(global_page_state('pswpin')).toBeGreaterThan(0);
    expect(global_page_state('pgmajfault')).toBeGreaterThan(0);
    expect(check_page_alloc_consistency()).toEqual([]);
  });

  it('mlocked pages are never swapped, but compaction still migrates them (compact_unevictable_allowed=1)', () => {
    const { e, mm } = setup(32, 16);
    const locked = anon(mm, 16, MAP_LOCKED);
    const plain = anon(mm, 16);
    touch(e, locked, 16, 10);
    touch(e, plain, 16, 20);
    expect(mem_map().testFlags(pfnAt(mm, locked), PG_mlocked)).toBe(true);
    expect(global_page_state('nr_mlock')).toBe(16);
    while (try_to_free_pages(0, GFP_HIGHUSER_MOVABLE) > 0);
    for (let i = 0; i < 16; i++) {
      expect(swapAt(mm, plain + i * PAGE_SIZE)).toBeGreaterThan(0);
      expect(pfnAt(mm, locked + i * PAGE_SIZE)).toBeGreaterThan(0);
    }
    const before = pfnAt(mm, locked + 5 * PAGE_SIZE);
    // a hole below the locked pages so the migrate scanner finds them first
    compact_nodes();
    const after = pfnAt(mm, locked + 5 * PAGE_SIZE);
    expect(after).not.toBe(before);
    expect(mem_map().testFlags(after, PG_mlocked)).toBe(true);
    expect(e.cpu.ld32(locked + 5 * PAGE_SIZE)).toBe(15);
  });

  it('with compact_unevictable_allowed=0 compaction leaves mlocked pages alone', () => {
    const { e, mm } = setup(32, 16);
    const locked = anon(mm, 8, MAP_LOCKED);
    touch(e, locked, 8, 0);
    set_compact_unevictable_allowed(0);
    const before = pfnAt(mm, locked);
    compact_nodes();
    expect(pfnAt(mm, locked)).toBe(before);
  });

  it('MADV_PAGEOUT swaps out a range at once; vm.swappiness=0 keeps kswapd from swapping', () => {
    const { e, mm } = setup(32, 16);
    const a = anon(mm, 8);
    touch(e, a, 8, 3);
    expect(do_madvise(mm, a, 8 * PAGE_SIZE, MADV_PAGEOUT)).toBe(0);
    for (let i = 0; i < 8; i++) expect(swapAt(mm, a + i * PAGE_SIZE)).toBeGreaterThan(0);
    expect(e.cpu.ld32(a + 3 * PAGE_SIZE)).toBe(6);
    set_swappiness(0);
    const out0 = global_page_state('pswpout');
    expect(balance_pgdat(0)).toBe(0);
    expect(global_page_state('pswpout')).toBe(out0);
  });

  it('RLIMIT_MEMLOCK: mlock over the limit is -ENOMEM, CAP_IPC_LOCK bypasses it, a zero limit is -EPERM', () => {
    const { mm } = setup();
    const a = anon(mm, 32);
    expect(do_mlock(mm, a, 32 * PAGE_SIZE, 0, USER)).toBe(-12);
    expect(mm.locked_vm).toBe(0);
    expect(do_mlock(mm, a, 16 * PAGE_SIZE, 0, USER)).toBe(0); // 64 KiB = 16 pages: at the limit
    expect(mm.locked_vm).toBe(16);
    expect(do_mlock(mm, a, 16 * PAGE_SIZE, 0, USER)).toBe(0); // already locked pages do not count twice
    expect(do_mlock(mm, a, 32 * PAGE_SIZE, 0, ROOT)).toBe(0);
    expect(mm.locked_vm).toBe(32);
    expect(do_munlock(mm, a, 32 * PAGE_SIZE)).toBe(0);
    expect(mm.locked_vm).toBe(0);
    expect(global_page_state('nr_mlock')).toBe(0);
    expect(do_mlock(mm, a, PAGE_SIZE, 0, { memlockLimit: 0, capIpcLock: false })).toBe(-1);
    expect(do_mlockall(mm, MCL_CURRENT, USER)).toBe(-12);
    expect(do_mmap(mm, null, 0, 32 * PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, 0, USER)).toBe(-11);
  });

  it('account_locked_vm: -ENOMEM over RLIMIT_MEMLOCK unless CAP_IPC_LOCK; decrement restores', () => {
    const { mm } = setup();
    expect(account_locked_vm(mm, 16, true, USER)).toBe(0);
    expect(account_locked_vm(mm, 1, true, USER)).toBe(-12);
    expect(mm.locked_vm).toBe(16);
    expect(account_locked_vm(mm, 1000, true, ROOT)).toBe(0);
    expect(account_locked_vm(mm, 1016, false, USER)).toBe(0);
    expect(mm.locked_vm).toBe(0);
    expect(account_locked_vm(null, 5, true, USER)).toBe(0);
  });
});
