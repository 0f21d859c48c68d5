import { afterEach, describe, expect, it } from 'vitest';
import { FOLL_LONGTERM, FOLL_WRITE, pin_user_pages_remote, unpin_user_pages } from '../../src/kernel/mm/gup.js';
import { follow_pte, type FollowResult } from '../../src/kernel/mm/memory.js';
import { do_madvise, do_mmap, MADV_PAGEOUT, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/kernel/mm/mmap.js';
import type { MmStruct } from '../../src/kernel/mm/mm_types.js';
import { check_page_alloc_consistency } from '../../src/kernel/mm/page_alloc.js';
import { PAGE_SIZE } from '../../src/kernel/mm/page.js';
import { global_page_state } from '../../src/kernel/mm/vmstat.js';
import { makeMmEnv, type MmEnv } from '../support/mm-env.js';

let env: MmEnv | undefined;
afterEach(() => {
  env?.restore();
  env = undefined;
});

const fr: FollowResult = { pfn: -1, writable: false, special: false, swapOffset: -1, dirty: false };
function at(mm: MmStruct, va: number): { pfn: number; swap: number } {
  follow_pte(mm, va, fr);
  return { pfn: fr.pfn, swap: fr.swapOffset };
}

const ROOT = { memlockLimit: Infinity, capIpcLock: true };

function anon(mm: MmStruct, pages: number): number {
  const a = do_mmap(mm, null, 0, pages * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, 0, ROOT);
  expect(a).toBeGreaterThan(0);
  return a;
}

describe('pinned pages are never swapped (mm/vmscan.c skips folio_maybe_dma_pinned)', () => {
  it('under memory pressure with swap on, short- and long-term pinned pages stay where they are; the unpinned pages of the same process are swapped out', () => {
    env = makeMmEnv(24, { swapBytes: 32 * 1024 * 1024 });
    const e = env;
    const mm = e.newMm();
    e.use(mm);
    const a = anon(mm, 32);
    for (let i = 0; i < 32; i++) e.cpu.st32(a + i * PAGE_SIZE, 0xa000 + i);
    const shortPins: number[] = [];
    const longPins: number[] = [];
    expect(pin_user_pages_remote(mm, a, 8, FOLL_WRITE, shortPins)).toBe(8);
    expect(pin_user_pages_remote(mm, a + 8 * PAGE_SIZE, 8, FOLL_WRITE | FOLL_LONGTERM, longPins)).toBe(8);
    const pinned = [...shortPins, ...longPins];
    const out0 = global_page_state('pswpout');
    // memory pressure: touch more anonymous memory than the machine has RAM
    const n = 24 * 256;
    const big = anon(mm, n);
    for (let i = 0; i < n; i++) e.cpu.st32(big + i * PAGE_SIZE, i);
    expect(global_page_state('pswpout') - out0).toBeGreaterThanOrEqual(16);
    for (let i = 0; i < 16; i++) {
      const p = at(mm, a + i * PAGE_SIZE);
      expect(p.swap).toBe(-1);
      expect(p.pfn).toBe(pinned[i]);
      expect(e.cpu.ldPhys32(p.pfn * PAGE_SIZE) >>> 0).toBe(0xa000 + i);
    }
    for (let i = 16; i < 32; i++) expect(at(mm, a + i * PAGE_SIZE).swap).toBeGreaterThan(0);
    // MADV_PAGEOUT does not take them either
    expect(do_madvise(mm, a, 16 * PAGE_SIZE, MADV_PAGEOUT)).toBe(0);
    for (let i = 0; i < 16; i++) expect(at(mm, a + i * PAGE_SIZE).pfn).toBe(pinned[i]);
    // once unpinned, they are ordinary pages reclaim may take
    unpin_user_pages(shortPins, 8);
    unpin_user_pages(longPins, 8);
    expect(do_madvise(mm, a, 16 * PAGE_SIZE, MADV_PAGEOUT)).toBe(0);
    for (let i = 0; i < 16; i++) expect(at(mm, a + i * PAGE_SIZE).swap).toBeGreaterThan(0);
    for (let i = 0; i < 32; i += 5) expect(e.cpu.ld32(a + i * PAGE_SIZE)).toBe(0xa000 + i);
    expect(check_page_alloc_consistency()).toEqual([]);
  });
});
