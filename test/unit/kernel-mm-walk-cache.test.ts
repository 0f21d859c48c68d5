// The kernel's page-table freeing against a core that caches table entries (walk
// cache): munmap frees a PTE table only after a TLBI that reaches walk caches
// (mmu_gather with freed_tables: RVAE1IS/VAE1IS, never the last-level forms), so a
// table page handed out again is never walked for its old region.

import { afterEach, describe, expect, it } from 'vitest';
import { do_mmap, do_munmap, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/kernel/mm/mmap.js';
import { pte_lookup } from '../../src/kernel/mm/pgtable.js';
import { ASID, asid_rollovers } from '../../src/kernel/mm/context.js';
import type { MmStruct } from '../../src/kernel/mm/mm_types.js';
import { type CoreMmEnv, makeCoreMmEnv } from '../support/mm-env.js';

let env: CoreMmEnv | undefined;
afterEach(() => {
  env?.restore();
  env = undefined;
});

const MiB2 = 0x20_0000;
const A = 0x4000_0000;
const B = A + 4 * MiB2;

describe('kernel-mm page-table freeing with a walk cache', () => {
  it('a PTE table freed by munmap and reused for another region is not walked for the old one', () => {
    const e = (env = makeCoreMmEnv(32));
    const mm = e.newMm();
    e.use(mm);
    const map = (va: number): void => {
      expect(do_mmap(mm, null, va, MiB2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0, { memlockLimit: 0, capIpcLock: false })).toBe(va);
    };
    map(A);
    // A read fault maps the zero page: the walk to A's PTE table is now cached, and no data page is allocated.
    expect(e.cpu.ld32(A)).toBe(0);
    const tableA = pte_lookup(e.cpu, mm, A);
    expect(do_munmap(mm, A, MiB2)).toBe(0); // frees A's PTE table (the last page freed: the head of the pcp list)
    map(B);
    e.cpu.st32(B + 5 * 4096, 0xb0b);
    // B's new PTE table is the page A's table was.
    expect(pte_lookup(e.cpu, mm, B)).toBe(tableA);
    map(A);
    e.cpu.st32(A + 5 * 4096, 0xa0a);
    expect(e.cpu.ld32(B + 5 * 4096)).toBe(0xb0b);
    expect(e.cpu.ld32(A + 5 * 4096)).toBe(0xa0a);
    expect(pte_lookup(e.cpu, mm, A)).not.toBe(tableA);
  });

  it('ASID rollover: an mm given the ASID another mm had walks its own tables for the same VA', () => {
    // 16 ASIDs (0 reserved): every 15 new mms roll the allocator over (flush_context: TLBI VMALLE1IS).
    const e = (env = makeCoreMmEnv(64, { asidBits: 4 }));
    const mmap = (mm: MmStruct): void => {
      expect(do_mmap(mm, null, A, MiB2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0, { memlockLimit: 0, capIpcLock: false })).toBe(A);
    };
    const first = e.newMm();
    e.use(first);
    mmap(first);
    e.cpu.st32(A, 0x1f);
    e.cpu.st32(A + 5 * 4096, 0x15f);
    const firstAsid = ASID(first);
    const before = asid_rollovers;
    // New mms until one is given the first mm's ASID in a later generation; each maps the same VA.
    let other: MmStruct | undefined;
    for (let i = 0; i < 40 && other === undefined; i++) {
      const mm = e.newMm();
      e.use(mm);
      mmap(mm);
      e.cpu.st32(A, 0x100 + i);
      if (ASID(mm) === firstAsid) other = mm;
    }
    expect(asid_rollovers).toBeGreaterThan(before);
    expect(other).toBeDefined();
    // A page the other mm has not touched: its walk must use the other mm's tables, not the first mm's.
    expect(e.cpu.ld32(A + 5 * 4096)).toBe(0);
    e.use(first);
    expect(e.cpu.ld32(A + 5 * 4096)).toBe(0x15f);
    expect(e.cpu.ld32(A)).toBe(0x1f);
  });
});
