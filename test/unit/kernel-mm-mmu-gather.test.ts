// Freeing page tables (mm/memory.c free_pgd_range, mm/mmu_gather.c, arm64 tlb_flush):
// munmap unlinks the table pages that only the removed VMAs used (PTE tables by 2 MiB,
// PMD tables by 1 GiB, PUD tables by 512 GiB, between the surviving neighbours), and
// always flushes the TLB afterwards with a TLBI that reaches walk caches, even when no
// page was mapped any more; the table pages are freed only after that flush. Page-only
// unmaps flush last-level entries only.

import { afterEach, describe, expect, it } from 'vitest';
import type { TlbiOp } from '../../src/arch/cpu.js';
import { ASID } from '../../src/kernel/mm/context.js';
import { mmput } from '../../src/kernel/mm/fork.js';
import { do_madvise, do_mmap, do_munmap, MADV_DONTNEED, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/kernel/mm/mmap.js';
import { MmuNotifier, type MmStruct } from '../../src/kernel/mm/mm_types.js';
import { mmu_notifier_register } from '../../src/kernel/mm/mmu_notifier.js';
import { check_page_alloc_consistency, mem_map, page_count } from '../../src/kernel/mm/page_alloc.js';
import { PAGE_SIZE, PG_table } from '../../src/kernel/mm/page.js';
import { next_table, pgd_index, pmd_index, pte_lookup, pud_index } from '../../src/kernel/mm/pgtable.js';
import { set_tlbi_range } from '../../src/kernel/mm/tlbflush.js';
import { global_page_state } from '../../src/kernel/mm/vmstat.js';
import { makeMmEnv, type MmEnv } from '../support/mm-env.js';

let env: MmEnv | undefined;
afterEach(() => {
  set_tlbi_range(true);
  env?.restore();
  env = undefined;
});

const GiB = 2 ** 30;
const MiB = 2 ** 20;
/** 256 GiB: 1 GiB- and 2 MiB-aligned, inside pgd entry 0. */
const G = 256 * GiB;

function fixed(mm: MmStruct, addr: number, len: number): void {
  expect(do_mmap(mm, null, addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0)).toBe(addr);
}

/** The PA of each level's table on the walk of `va` (pud, pmd, pte; -1 when missing). */
function tablesOf(e: MmEnv, mm: MmStruct, va: number): { pud: number; pmd: number; pte: number } {
  const pud = next_table(e.cpu, mm.pgd + pgd_index(va) * 8);
  const pmd = pud < 0 ? -1 : next_table(e.cpu, pud + pud_index(va) * 8);
  const pte = pmd < 0 ? -1 : next_table(e.cpu, pmd + pmd_index(va) * 8);
  return { pud, pmd, pte };
}

function isLiveTable(pa: number): boolean {
  const pfn = pa / PAGE_SIZE;
  return mem_map().testFlags(pfn, PG_table) && page_count(pfn) > 0;
}

interface Seen {
  op: TlbiOp;
  arg: bigint;
  /** Whether each watched table page was still allocated as a table when the TLBI was issued. */
  live: boolean[];
}

/** Records every TLBI with the state of the `watched` table pages at that moment. */
function watchTlbis(e: MmEnv, watched: () => number[]): Seen[] {
  const seen: Seen[] = [];
  const orig = e.cpu.tlbi.bind(e.cpu);
  e.cpu.tlbi = (op: TlbiOp, arg: bigint | number = 0) => {
    seen.push({ op, arg: BigInt(arg), live: watched().map(isLiveTable) });
    orig(op, arg);
  };
  return seen;
}

function secondaryTlbRanges(mm: MmStruct): [number, number][] {
  const ranges: [number, number][] = [];
  const sub = new MmuNotifier({ arch_invalidate_secondary_tlbs: (_s, _mm, start, end) => void ranges.push([start, end]) });
  expect(mmu_notifier_register(sub, mm)).toBe(0);
  return ranges;
}

/** A VMA at G + 2 MiB whose pages were dropped (MADV_DONTNEED), between neighbours in the same 1 GiB. */
function emptiedBetweenNeighbours(e: MmEnv, len: number): { mm: MmStruct; a: number } {
  const mm = e.newMm();
  e.use(mm);
  fixed(mm, G, PAGE_SIZE);
  fixed(mm, G + 8 * MiB, PAGE_SIZE);
  const a = G + 2 * MiB;
  fixed(mm, a, len);
  e.cpu.st32(G, 1);
  e.cpu.st32(G + 8 * MiB, 2);
  for (let off = 0; off < len; off += 64 * PAGE_SIZE) e.cpu.st32(a + off, off + 1);
  expect(do_madvise(mm, a, len, MADV_DONTNEED)).toBe(0);
  return { mm, a };
}

describe('munmap frees page tables only after a TLB flush that reaches walk caches (free_pgtables + tlb_finish_mmu)', () => {
  it('no page left mapped: the emptied PTE table is unlinked, one RVAE1IS covers its 2 MiB, then the table page is freed', () => {
    env = makeMmEnv();
    const { mm, a } = emptiedBetweenNeighbours(env, 2 * MiB);
    const t = tablesOf(env, mm, a);
    expect(t.pte).toBeGreaterThan(0);
    const ranges = secondaryTlbRanges(mm);
    const seen = watchTlbis(env, () => [t.pte]);
    const tables0 = global_page_state('nr_page_table_pages');
    expect(do_munmap(mm, a, 2 * MiB)).toBe(0);
    // 512 pages at stride 2 MiB: SCALE 1, NUM 7 (8 << 6 pages), TG 4K, BaseADDR = a >> 12
    const asid = BigInt(ASID(mm)) << 48n;
    const arg = asid | (1n << 46n) | (1n << 44n) | (7n << 39n) | BigInt(a / PAGE_SIZE);
    expect(seen).toEqual([{ op: 'RVAE1IS', arg, live: [true] }]);
    expect(ranges).toEqual([[a, a + 2 * MiB]]);
    expect(isLiveTable(t.pte)).toBe(false);
    expect(global_page_state('nr_page_table_pages')).toBe(tables0 - 1);
    expect(pte_lookup(env.cpu, mm, a)).toBe(-1);
    // the neighbours keep their tables and data; the PMD table stays (its 1 GiB is in use)
    expect(tablesOf(env, mm, a).pmd).toBe(t.pmd);
    expect(env.cpu.ld32(G)).toBe(1);
    expect(env.cpu.ld32(G + 8 * MiB)).toBe(2);
    expect(check_page_alloc_consistency()).toEqual([]);
    env.use(null);
  });

  it('without range TLBI the same unmap is one VAE1IS (one per 2 MiB stride), issued before the table is freed', () => {
    env = makeMmEnv();
    set_tlbi_range(false);
    const { mm, a } = emptiedBetweenNeighbours(env, 2 * MiB);
    const t = tablesOf(env, mm, a);
    const seen = watchTlbis(env, () => [t.pte]);
    expect(do_munmap(mm, a, 2 * MiB)).toBe(0);
    const asid = BigInt(ASID(mm)) << 48n;
    expect(seen).toEqual([{ op: 'VAE1IS', arg: asid | BigInt(a / PAGE_SIZE), live: [true] }]);
    expect(isLiveTable(t.pte)).toBe(false);
    env.use(null);
  });

  it('a partial unmap frees the PTE table when no neighbour shares its 2 MiB; a neighbour in the same 2 MiB keeps it', () => {
    env = makeMmEnv();
    const { mm, a } = emptiedBetweenNeighbours(env, 2 * MiB);
    const t = tablesOf(env, mm, a);
    const seen = watchTlbis(env, () => [t.pte]);
    // the upper half goes: the lower half still uses the table, no table freed, no page mapped: no TLBI
    expect(do_munmap(mm, a + MiB, MiB)).toBe(0);
    expect(seen).toEqual([]);
    expect(isLiveTable(t.pte)).toBe(true);
    // the lower half goes: the whole 2 MiB is between the neighbours now
    expect(do_munmap(mm, a, MiB)).toBe(0);
    expect(seen.map((s) => [s.op, s.live])).toEqual([['RVAE1IS', [true]]]);
    expect(isLiveTable(t.pte)).toBe(false);
    env.use(null);
  });

  it('the last VMA of the address space: PTE, PMD and PUD tables all go, after one ASID flush', () => {
    env = makeMmEnv();
    const mm = env.newMm();
    env.use(mm);
    const a = G + 2 * MiB;
    fixed(mm, a, 4 * PAGE_SIZE);
    env.cpu.st32(a, 1);
    expect(do_madvise(mm, a, 4 * PAGE_SIZE, MADV_DONTNEED)).toBe(0);
    const t = tablesOf(env, mm, a);
    const seen = watchTlbis(env, () => [t.pte, t.pmd, t.pud]);
    const tables0 = global_page_state('nr_page_table_pages');
    expect(do_munmap(mm, a, 4 * PAGE_SIZE)).toBe(0);
    // a PUD table (stride 512 GiB) is beyond any range TLBI: the ASID goes
    expect(seen).toEqual([{ op: 'ASIDE1IS', arg: BigInt(ASID(mm)) << 48n, live: [true, true, true] }]);
    expect([t.pte, t.pmd, t.pud].map(isLiveTable)).toEqual([false, false, false]);
    expect(global_page_state('nr_page_table_pages')).toBe(tables0 - 3);
    expect(next_table(env.cpu, mm.pgd + pgd_index(a) * 8)).toBe(-1);
    expect(check_page_alloc_consistency()).toEqual([]);
    env.use(null);
  });

  it('mapped pages and their table in one munmap: a last-level flush of the pages, then a walk-cache flush before the table goes', () => {
    env = makeMmEnv();
    const mm = env.newMm();
    env.use(mm);
    fixed(mm, G, PAGE_SIZE);
    fixed(mm, G + 8 * MiB, PAGE_SIZE);
    const a = G + 2 * MiB;
    fixed(mm, a, 4 * PAGE_SIZE);
    for (let i = 0; i < 4; i++) env.cpu.st32(a + i * PAGE_SIZE, i + 1);
    const t = tablesOf(env, mm, a);
    const pages = [0, 1, 2, 3].map((i) => pte_lookup(env!.cpu, mm, a + i * PAGE_SIZE)).map((p) => env!.cpu.ldPhys32(p) >>> 12);
    const seen = watchTlbis(env, () => [t.pte]);
    const pagesLive: boolean[] = [];
    const orig = env.cpu.tlbi;
    env.cpu.tlbi = (op: TlbiOp, arg?: bigint | number) => {
      pagesLive.push(pages.every((pfn) => page_count(pfn) > 0));
      orig(op, arg);
    };
    expect(do_munmap(mm, a, 4 * PAGE_SIZE)).toBe(0);
    const asid = BigInt(ASID(mm)) << 48n;
    // 4 pages: SCALE 0, NUM 1, last level; then the table's 2 MiB, all levels
    expect(seen).toEqual([
      { op: 'RVALE1IS', arg: asid | (1n << 46n) | (1n << 39n) | BigInt(a / PAGE_SIZE), live: [true] },
      { op: 'RVAE1IS', arg: asid | (1n << 46n) | (1n << 44n) | (7n << 39n) | BigInt(a / PAGE_SIZE), live: [true] },
    ]);
    expect(pagesLive).toEqual([true, true]);
    expect(isLiveTable(t.pte)).toBe(false);
    expect(pages.every((pfn) => page_count(pfn) === 0)).toBe(true);
    expect(check_page_alloc_consistency()).toEqual([]);
    env.use(null);
  });

  it('exit_mmap: one ASID flush while every table and page is still allocated, then all are freed', () => {
    env = makeMmEnv();
    const mm = env.newMm();
    env.use(mm);
    fixed(mm, G, 64 * PAGE_SIZE);
    fixed(mm, 0x7000_0000_0000, PAGE_SIZE);
    for (let i = 0; i < 64; i++) env.cpu.st32(G + i * PAGE_SIZE, i);
    env.cpu.st32(0x7000_0000_0000, 1);
    const low = tablesOf(env, mm, G);
    const high = tablesOf(env, mm, 0x7000_0000_0000);
    const watched = [low.pte, low.pmd, low.pud, high.pte, high.pmd, high.pud];
    const seen = watchTlbis(env, () => watched);
    const tables0 = global_page_state('nr_page_table_pages');
    env.use(null);
    mmput(mm);
    const asidFlushes = seen.filter((s) => s.op === 'ASIDE1IS');
    expect(asidFlushes.length).toBe(1);
    expect(asidFlushes[0]!.live).toEqual(watched.map(() => true));
    expect(seen.filter((s) => s.op !== 'ASIDE1IS')).toEqual([]);
    expect(watched.map(isLiveTable)).toEqual(watched.map(() => false));
    // the six tables and the pgd
    expect(global_page_state('nr_page_table_pages')).toBe(tables0 - 7);
    expect(check_page_alloc_consistency()).toEqual([]);
  });
});

describe('page-only unmaps flush last-level entries (arm64 tlb_flush with no table freed)', () => {
  it('MADV_DONTNEED of 3 pages: one VALE1IS for the odd page, one RVALE1IS for the other two; tables stay', () => {
    env = makeMmEnv();
    const mm = env.newMm();
    env.use(mm);
    const a = G + 2 * MiB;
    fixed(mm, a, 3 * PAGE_SIZE);
    for (let i = 0; i < 3; i++) env.cpu.st32(a + i * PAGE_SIZE, 1);
    const t = tablesOf(env, mm, a);
    const seen = watchTlbis(env, () => [t.pte]);
    expect(do_madvise(mm, a, 3 * PAGE_SIZE, MADV_DONTNEED)).toBe(0);
    const asid = BigInt(ASID(mm)) << 48n;
    expect(seen).toEqual([
      { op: 'VALE1IS', arg: asid | BigInt(a / PAGE_SIZE), live: [true] },
      { op: 'RVALE1IS', arg: asid | (1n << 46n) | BigInt(a / PAGE_SIZE + 1), live: [true] },
    ]);
    expect(isLiveTable(t.pte)).toBe(true);
    env.use(null);
  });
});
