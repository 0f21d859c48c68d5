import { afterEach, describe, expect, it } from 'vitest';
import { asid_rollovers, ASID } from '../../src/kernel/mm/context.js';
import { dup_mm, mmput } from '../../src/kernel/mm/fork.js';
import { follow_pte, zero_page_pfn, type FollowResult } from '../../src/kernel/mm/memory.js';
import {
  do_brk,
  do_madvise,
  do_mmap,
  do_mprotect,
  do_munmap,
  find_vma,
  MADV_DONTFORK,
  MADV_DONTNEED,
  MADV_WIPEONFORK,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
} from '../../src/kernel/mm/mmap.js';
import {
  MM_ANONPAGES,
  MMU_NOTIFY_CLEAR,
  MMU_NOTIFY_PROTECTION_PAGE,
  MMU_NOTIFY_PROTECTION_VMA,
  MMU_NOTIFY_RELEASE,
  MMU_NOTIFY_UNMAP,
  MmuNotifier,
  type MmStruct,
  VM_DONTCOPY,
  VM_WIPEONFORK,
} from '../../src/kernel/mm/mm_types.js';
import { mmu_notifier_register } from '../../src/kernel/mm/mmu_notifier.js';
import { check_page_alloc_consistency, mem_map, nr_free_pages } from '../../src/kernel/mm/page_alloc.js';
import { PAGE_SIZE, PG_active, PG_anon, PG_lru, PG_unevictable } from '../../src/kernel/mm/page.js';
import { MAIR_EL1_SET, pgd_index, pmd_index, PTE_AF, PTE_NG, PTE_RDONLY, PTE_USER, pte_lookup, pud_index, TCR_EL1_SET } from '../../src/kernel/mm/pgtable.js';
import { page_mappers } from '../../src/kernel/mm/rmap.js';
import { global_page_state } from '../../src/kernel/mm/vmstat.js';
import { makeMmEnv, type MmEnv, SegvError } from '../support/mm-env.js';

let env: MmEnv | undefined;
afterEach(() => {
  env?.restore();
  env = undefined;
});

const fr: FollowResult = { pfn: -1, writable: false, special: false, swapOffset: -1, dirty: false };
function pfnAt(mm: MmStruct, va: number): number {
  follow_pte(mm, va, fr);
  return fr.pfn;
}

function anon(e: MmEnv, mm: MmStruct, len: number, prot = PROT_READ | PROT_WRITE, addr = 0, flags = 0): number {
  const a = do_mmap(mm, null, addr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | flags, 0);
  expect(a).toBeGreaterThan(0);
  void e;
  return a;
}

interface Seen {
  event: number;
  start: number;
  end: number;
}
function recorder(mm: MmStruct): Seen[] {
  const seen: Seen[] = [];
  const sub = new MmuNotifier({
    invalidate_range_start(_s, r) {
      seen.push({ event: r.event, start: r.start, end: r.end });
      return 0;
    },
    release() {
      seen.push({ event: MMU_NOTIFY_RELEASE, start: 0, end: 0 });
    },
  });
  expect(mmu_notifier_register(sub, mm)).toBe(0);
  return seen;
}

describe('address spaces (mm/memory.c, mm/mmap.c) on VMSAv8-64 tables the walker reads', () => {
  it('demand paging: a write faults in a zeroed page mapped with user RW, AF, nG, Normal memory', () => {
    env = makeMmEnv();
    const mm = env.newMm();
    env.use(mm);
    const a = anon(env, mm, 4 * PAGE_SIZE);
    expect(pfnAt(mm, a)).toBe(-1);
    env.cpu.st32(a + 8, 0x12345678);
    expect(env.cpu.ld32(a + 8)).toBe(0x12345678);
    expect(env.cpu.ld32(a + 12)).toBe(0);
    expect(env.cpu.faults).toBe(1);
    const ptep = pte_lookup(env.cpu, mm, a);
    const lo = env.cpu.ldPhys32(ptep);
    expect(lo & 3).toBe(3);
    expect(lo & PTE_USER).toBeTruthy();
    expect(lo & PTE_AF).toBeTruthy();
    expect(lo & PTE_NG).toBeTruthy();
    expect(lo & PTE_RDONLY).toBe(0);
    expect((lo >> 2) & 7).toBe(0); // AttrIndx 0 = MT_NORMAL
    expect(mm.rss_stat[MM_ANONPAGES]).toBe(1);
    expect(global_page_state('pgfault')).toBe(1);
    expect(env.cpu.readSysreg('TTBR0_EL1') >> 48n).toBe(BigInt(ASID(mm)));
    expect(MAIR_EL1_SET & 0xffn).toBe(0xffn);
    expect((TCR_EL1_SET >> 36n) & 1n).toBe(1n); // 16-bit ASIDs
  });

  it('a write fault anywhere in the 48-bit user range: the table indexes are VA[47:39]/[38:30]/[29:21], and the new page is on the inactive anon LRU with an rmap back to (mm, addr)', () => {
    env = makeMmEnv();
    const mm = env.newMm();
    env.use(mm);
    const vas = [0x1000_0000, 2 ** 39 - 2 * PAGE_SIZE, 2 ** 39 + 2 ** 30 + 2 ** 21 + 5 * PAGE_SIZE, 2 ** 47 + 0x1234_5000, 2 ** 48 - 2 * PAGE_SIZE];
    for (const va of vas) {
      const big = BigInt(va);
      expect(pgd_index(va)).toBe(Number((big >> 39n) & 511n));
      expect(pud_index(va)).toBe(Number((big >> 30n) & 511n));
      expect(pmd_index(va)).toBe(Number((big >> 21n) & 511n));
      expect(do_mmap(mm, null, va, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0)).toBe(va);
    }
    const inactive = global_page_state('nr_inactive_anon');
    for (const va of vas) env.cpu.st32(va + 4, va / PAGE_SIZE);
    expect(env.cpu.faults).toBe(vas.length);
    expect(global_page_state('nr_inactive_anon')).toBe(inactive + vas.length);
    for (const va of vas) {
      expect(env.cpu.ld32(va + 4)).toBe((va / PAGE_SIZE) >>> 0);
      const pfn = pfnAt(mm, va);
      expect(pfn).toBeGreaterThan(0);
      expect(mem_map().flags(pfn) & (PG_lru | PG_active | PG_unevictable | PG_anon)).toBe(PG_lru | PG_anon);
      expect(mem_map().index(pfn)).toBe(va / PAGE_SIZE); // vm_pgoff of an anonymous VMA is its start page
      expect(page_mappers(pfn)).toEqual([{ mm, addr: va }]);
    }
  });

  it('a read fault maps the shared zero page read-only; the first write copies it', () => {
    env = makeMmEnv();
    const mm = env.newMm();
    env.use(mm);
    const a = anon(env, mm, PAGE_SIZE);
    expect(env.cpu.ld32(a)).toBe(0);
    expect(pfnAt(mm, a)).toBe(zero_page_pfn());
    expect(fr.writable).toBe(false);
    env.cpu.st8(a, 7);
    expect(pfnAt(mm, a)).not.toBe(zero_page_pfn());
    expect(env.cpu.ld8(a)).toBe(7);
  });

  it('an access outside any VMA or against its protection is not resolved (SIGSEGV)', () => {
    env = makeMmEnv();
    const mm = env.newMm();
    env.use(mm);
    const a = anon(env, mm, PAGE_SIZE, PROT_READ);
    expect(() => env!.cpu.st32(a, 1)).toThrow(SegvError);
    expect(() => env!.cpu.ld32(a + PAGE_SIZE * 100)).toThrow(SegvError);
  });

  it('munmap clears the PTEs, flushes the TLB by ASID and tells notifiers MMU_NOTIFY_UNMAP for the range', () => {
    env = makeMmEnv();
    const mm = env.newMm();
    env.use(mm);
    const seen = recorder(mm);
    const a = anon(env, mm, 8 * PAGE_SIZE);
    for (let i = 0; i < 8; i++) env.cpu.st32(a + i * PAGE_SIZE, i + 1);
    const free0 = nr_free_pages();
    env.cpu.tlbis.length = 0;
    expect(do_munmap(mm, a + 2 * PAGE_SIZE, 4 * PAGE_SIZE)).toBe(0);
    expect(nr_free_pages()).toBe(free0 + 4);
    expect(seen).toContainEqual({ event: MMU_NOTIFY_UNMAP, start: a + 2 * PAGE_SIZE, end: a + 6 * PAGE_SIZE });
    const asid = BigInt(ASID(mm)) << 48n;
    expect(env.cpu.tlbis.length).toBeGreaterThan(0);
    for (const t of env.cpu.tlbis) expect(t.arg & (0xffffn << 48n)).toBe(asid);
    expect(env.cpu.tlbis.map((t) => t.op)).toEqual(['RVALE1IS']); // 4 pages: one last-level range TLBI (the PTE table stays: its 2 MiB is in use)
    expect(() => env!.cpu.ld32(a + 3 * PAGE_SIZE)).toThrow(SegvError);
    expect(env.cpu.ld32(a + PAGE_SIZE)).toBe(2);
    expect(env.cpu.ld32(a + 6 * PAGE_SIZE)).toBe(7);
    expect(mm.mmap.length).toBe(2);
  });

  it('mprotect(PROT_READ) write-protects present pages with MMU_NOTIFY_PROTECTION_VMA; PROT_WRITE again allows writes', () => {
    env = makeMmEnv();
    const mm = env.newMm();
    env.use(mm);
    const seen = recorder(mm);
    const a = anon(env, mm, 2 * PAGE_SIZE);
    env.cpu.st32(a, 5);
    expect(do_mprotect(mm, a, PAGE_SIZE, PROT_READ)).toBe(0);
    expect(seen.some((s) => s.event === MMU_NOTIFY_PROTECTION_VMA && s.start === a && s.end === a + PAGE_SIZE)).toBe(true);
    expect(() => env!.cpu.st32(a, 6)).toThrow(SegvError);
    expect(env.cpu.ld32(a)).toBe(5);
    env.cpu.st32(a + PAGE_SIZE, 9); // the other half is still writable
    expect(do_mprotect(mm, a, PAGE_SIZE, PROT_READ | PROT_WRITE)).toBe(0);
    env.cpu.st32(a, 6);
    expect(env.cpu.ld32(a)).toBe(6);
    expect(mm.mmap.length).toBe(1); // merged back
    expect(do_mprotect(mm, a + 100 * PAGE_SIZE, PAGE_SIZE, PROT_READ)).toBe(-12);
  });

  it('fork: parent and child share pages copy-on-write and see their own data after writes', () => {
    env = makeMmEnv();
    const parent = env.newMm();
    env.use(parent);
    const seen = recorder(parent);
    const a = anon(env, parent, 2 * PAGE_SIZE);
    env.cpu.st32(a, 111);
    env.cpu.st32(a + PAGE_SIZE, 222);
    const child = dup_mm(parent)!;
    expect(child).not.toBeNull();
    expect(seen.some((s) => s.event === MMU_NOTIFY_PROTECTION_PAGE)).toBe(true);
    expect(pfnAt(child, a)).toBe(pfnAt(parent, a));
    env.use(child);
    expect(env.cpu.ld32(a)).toBe(111);
    env.cpu.st32(a, 333);
    expect(pfnAt(child, a)).not.toBe(pfnAt(parent, a));
    env.use(parent);
    expect(env.cpu.ld32(a)).toBe(111);
    env.cpu.st32(a + PAGE_SIZE, 444);
    env.use(child);
    expect(env.cpu.ld32(a + PAGE_SIZE)).toBe(222);
    expect(env.cpu.ld32(a)).toBe(333);
    // the parent's page was reused, not copied: the child's write made it exclusive
    env.use(null);
    mmput(child);
    mmput(parent);
    expect(check_page_alloc_consistency()).toEqual([]);
  });

  it('fork: VM_WIPEONFORK memory reads as zeros in the child, VM_DONTCOPY memory is absent', () => {
    env = makeMmEnv();
    const parent = env.newMm();
    env.use(parent);
    const w = anon(env, parent, PAGE_SIZE);
    const d = anon(env, parent, PAGE_SIZE);
    env.cpu.st32(w, 0xfeed);
    env.cpu.st32(d, 0xbeef);
    expect(do_madvise(parent, w, PAGE_SIZE, MADV_WIPEONFORK)).toBe(0);
    expect(do_madvise(parent, d, PAGE_SIZE, MADV_DONTFORK)).toBe(0);
    expect(find_vma(parent, w)!.vm_flags & VM_WIPEONFORK).toBeTruthy();
    expect(find_vma(parent, d)!.vm_flags & VM_DONTCOPY).toBeTruthy();
    const child = dup_mm(parent)!;
    env.use(child);
    expect(env.cpu.ld32(w)).toBe(0);
    expect(() => env!.cpu.ld32(d)).toThrow(SegvError);
    env.use(parent);
    expect(env.cpu.ld32(w)).toBe(0xfeed);
    expect(env.cpu.ld32(d)).toBe(0xbeef);
  });

  it('MADV_DONTNEED drops private pages (MMU_NOTIFY_CLEAR): the next read sees zeros', () => {
    env = makeMmEnv();
    const mm = env.newMm();
    env.use(mm);
    const seen = recorder(mm);
    const a = anon(env, mm, 4 * PAGE_SIZE);
    env.cpu.st32(a + PAGE_SIZE, 42);
    expect(do_madvise(mm, a, 4 * PAGE_SIZE, MADV_DONTNEED)).toBe(0);
    expect(seen.some((s) => s.event === MMU_NOTIFY_CLEAR && s.start === a && s.end === a + 4 * PAGE_SIZE)).toBe(true);
    expect(env.cpu.ld32(a + PAGE_SIZE)).toBe(0);
    expect(do_madvise(mm, a, PAGE_SIZE, 99)).toBe(-22);
  });

  it('MAP_SHARED|MAP_ANONYMOUS memory is shared with a fork child', () => {
    env = makeMmEnv();
    const parent = env.newMm();
    env.use(parent);
    const s = do_mmap(parent, null, 0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, 0);
    env.cpu.st32(s, 1);
    const child = dup_mm(parent)!;
    env.use(child);
    env.cpu.st32(s, 2);
    env.use(parent);
    expect(env.cpu.ld32(s)).toBe(2);
    expect(pfnAt(parent, s)).toBe(pfnAt(child, s));
  });

  it('brk grows the heap into demand-zero memory and shrinking unmaps it', () => {
    env = makeMmEnv();
    const mm = env.newMm();
    env.use(mm);
    mm.start_brk = mm.brk = 0x10_0000;
    expect(do_brk(mm, 0x10_0000 + 3 * PAGE_SIZE)).toBe(0x10_0000 + 3 * PAGE_SIZE);
    env.cpu.st32(0x10_0000 + 2 * PAGE_SIZE, 9);
    expect(do_brk(mm, 0x10_0000 + PAGE_SIZE)).toBe(0x10_0000 + PAGE_SIZE);
    expect(() => env!.cpu.ld32(0x10_0000 + 2 * PAGE_SIZE)).toThrow(SegvError);
    expect(do_brk(mm, 0x1000)).toBe(0x10_0000 + PAGE_SIZE); // below start_brk: unchanged
  });

  it('MAP_FIXED replaces an existing mapping; bad arguments give EINVAL', () => {
    env = makeMmEnv();
    const mm = env.newMm();
    env.use(mm);
    const a = anon(env, mm, 2 * PAGE_SIZE);
    env.cpu.st32(a, 5);
    expect(do_mmap(mm, null, a, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0)).toBe(a);
    expect(env.cpu.ld32(a)).toBe(0);
    expect(do_mmap(mm, null, 0, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, 0)).toBe(-22);
    expect(do_mmap(mm, null, a + 1, PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0)).toBe(-22);
    expect(do_mmap(mm, null, 0, PAGE_SIZE, PROT_READ, 0, 0)).toBe(-22);
  });

  it('exit_mmap frees every page and page table and calls ->release', () => {
    env = makeMmEnv();
    const free0 = nr_free_pages();
    const mm = env.newMm();
    env.use(mm);
    const seen = recorder(mm);
    const a = anon(env, mm, 64 * PAGE_SIZE);
    for (let i = 0; i < 64; i++) env.cpu.st32(a + i * PAGE_SIZE, i);
    const b = anon(env, mm, PAGE_SIZE, PROT_READ | PROT_WRITE, 0x7000_0000_0000);
    env.cpu.st8(b, 1);
    env.use(null);
    mm.notifier_subscriptions.length = 0; // unsubscribe without ->release for the count below
    mmu_notifier_register(new MmuNotifier({ release: () => seen.push({ event: MMU_NOTIFY_RELEASE, start: 0, end: 0 }) }), mm);
    mmput(mm);
    expect(seen.some((s) => s.event === MMU_NOTIFY_RELEASE)).toBe(true);
    mm.notifier_subscriptions.length = 0;
    mm.mm_count = 1;
    // pgd is freed by the last mmdrop
    expect(nr_free_pages()).toBe(free0 - 1);
    expect(check_page_alloc_consistency()).toEqual([]);
  });

  it('ASIDs roll over when exhausted: TLBI VMALLE1IS, new generation, live ASID kept', () => {
    env = makeMmEnv(64, { asidBits: 3 });
    const mms: MmStruct[] = [];
    for (let i = 0; i < 10; i++) mms.push(env.newMm());
    env.cpu.tlbis.length = 0;
    for (const mm of mms) env.use(mm);
    expect(asid_rollovers).toBe(1);
    expect(env.cpu.tlbis.filter((t) => t.op === 'VMALLE1IS').length).toBe(1);
    const last = mms[mms.length - 1]!;
    const liveAsid = ASID(last);
    // ASIDs of the current generation are distinct
    const current = mms.slice(7).map((m) => ASID(m));
    expect(new Set(current).size).toBe(current.length);
    env.use(last);
    expect(ASID(last)).toBe(liveAsid);
    // user accesses still work after the rollover
    const a = anon(env, last, PAGE_SIZE);
    env.cpu.st32(a, 3);
    expect(env.cpu.ld32(a)).toBe(3);
  });
});
