import { afterEach, describe, expect, it } from 'vitest';
import { compact_nodes, set_compact_unevictable_allowed } from '../../src/kernel/mm/compaction.js';
import { dup_mm } from '../../src/kernel/mm/fork.js';
import { GFP_HIGHUSER_MOVABLE, ZONE_MOVABLE, ZONE_NORMAL } from '../../src/kernel/mm/gfp.js';
import { FOLL_LONGTERM, FOLL_WRITE, pin_user_pages_remote, unpin_user_pages } from '../../src/kernel/mm/gup.js';
import { follow_pte, type FollowResult } from '../../src/kernel/mm/memory.js';
import { do_mmap, do_mprotect, do_munmap, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/kernel/mm/mmap.js';
import {
  get_mm_counter,
  MM_ANONPAGES,
  MM_SHMEMPAGES,
  MMU_NOTIFY_CLEAR,
  MMU_NOTIFY_MIGRATE,
  MmuNotifier,
  type MmStruct,
  VM_FAULT_SIGBUS,
} from '../../src/kernel/mm/mm_types.js';
import { mmu_notifier_register } from '../../src/kernel/mm/mmu_notifier.js';
import { LRU_UNEVICTABLE } from '../../src/kernel/mm/mmzone.js';
import { check_page_alloc_consistency, mem_map, NODE_DATA } from '../../src/kernel/mm/page_alloc.js';
import { PAGE_SIZE, PG_lru, PG_swapbacked, PG_unevictable } from '../../src/kernel/mm/page.js';
import { page_mappers } from '../../src/kernel/mm/rmap.js';
import { show_maps } from '../../src/kernel/mm/task_mmu.js';
import { set_swappiness, try_to_free_pages } from '../../src/kernel/mm/vmscan.js';
import { global_page_state } from '../../src/kernel/mm/vmstat.js';
import { shmem_fill_super, shmem_write_bytes } from '../../src/kernel/fs/shmem.js';
import { Dentry, File, FMODE_READ, FMODE_WRITE, type Inode, VfsMount } from '../../src/kernel/fs/types.js';
import { makeMmEnv, type MmEnv, SegvError } from '../support/mm-env.js';

let env: MmEnv | undefined;
afterEach(() => {
  env?.restore();
  env = undefined;
  set_compact_unevictable_allowed(1);
  set_swappiness(60);
});

const RW = PROT_READ | PROT_WRITE;
const fr: FollowResult = { pfn: -1, writable: false, special: false, swapOffset: -1, dirty: false };
function pfnAt(mm: MmStruct, va: number): number {
  follow_pte(mm, va, fr);
  return fr.pfn;
}

function setup(ramMiB = 64, swapMiB = 16): { e: MmEnv; mm: MmStruct } {
  env = makeMmEnv(ramMiB, { swapBytes: swapMiB * 1024 * 1024 });
  const mm = env.newMm();
  env.use(mm);
  return { e: env, mm };
}

/** A tmpfs file holding `pages` pages whose first word is tag + index; opened with `fmode`. */
function tmpfsFile(pages: number, tag: number, fmode = FMODE_READ | FMODE_WRITE, size = pages * PAGE_SIZE): { inode: Inode; file: File } {
  const sb = shmem_fill_super();
  const root = sb.s_root!;
  const dentry = new Dentry('data', root, sb);
  expect(root.d_inode!.i_op.create!(root.d_inode!, dentry, 0o644)).toBe(0);
  const inode = dentry.d_inode!;
  const data = new Uint8Array(size);
  const dv = new DataView(data.buffer);
  for (let i = 0; i < pages && i * PAGE_SIZE + 4 <= size; i++) dv.setUint32(i * PAGE_SIZE, tag + i, true);
  expect(shmem_write_bytes(inode, data)).toBe(0);
  const file = new File({ mnt: new VfsMount(root, sb, 'tmpfs'), dentry }, inode, inode.i_fop, 2, fmode);
  return { inode, file };
}

function cachePfn(inode: Inode, index: number): number {
  return inode.i_mapping.pages.get(index) ?? -1;
}

/** The word the file holds at `off` (through the page cache, as read() sees it). */
function fileWord(e: MmEnv, inode: Inode, off: number): number {
  const pfn = cachePfn(inode, Math.floor(off / PAGE_SIZE));
  return pfn < 0 ? 0 : e.cpu.ldPhys32(pfn * PAGE_SIZE + (off % PAGE_SIZE)) >>> 0;
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

/** Runs `fn` expecting the access to be refused with the VM_FAULT bits `bits`. */
function faultOf(fn: () => void): number {
  try {
    fn();
  } catch (err) {
    if (err instanceof SegvError) return err.fault;
    throw err;
  }
  return 0;
}

describe('mmap of tmpfs files (mm/shmem.c shmem_mmap/shmem_fault, mm/filemap.c)', () => {
  it('MAP_SHARED maps the page-cache pages themselves: two processes see each other\'s stores, the file sees them too', () => {
    const { e, mm } = setup();
    const { inode, file } = tmpfsFile(4, 100);
    const other = e.newMm();
    const a = do_mmap(mm, file, 0, 4 * PAGE_SIZE, RW, MAP_SHARED, 0);
    const b = do_mmap(other, file, 0, 2 * PAGE_SIZE, RW, MAP_SHARED, 2);
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(0);
    expect(e.cpu.ld32(a + PAGE_SIZE)).toBe(101);
    e.cpu.st32(a + 2 * PAGE_SIZE + 8, 0xabc);
    expect(pfnAt(mm, a + 2 * PAGE_SIZE)).toBe(cachePfn(inode, 2));
    expect(fileWord(e, inode, 2 * PAGE_SIZE + 8)).toBe(0xabc);
    e.use(other);
    expect(e.cpu.ld32(b + 8)).toBe(0xabc); // offset 2 pages in the file
    e.cpu.st32(b + PAGE_SIZE, 0x5151);
    expect(pfnAt(other, b)).toBe(cachePfn(inode, 2));
    e.use(mm);
    expect(e.cpu.ld32(a + 3 * PAGE_SIZE)).toBe(0x5151);
    // both mms map the same page: the rmap finds them both; it counts as shmem RSS
    expect(page_mappers(cachePfn(inode, 2)).map((m) => m.mm.id).sort()).toEqual([mm.id, other.id].sort());
    expect(get_mm_counter(mm, MM_SHMEMPAGES)).toBe(3);
    expect(get_mm_counter(mm, MM_ANONPAGES)).toBe(0);
    const f = mem_map().flags(cachePfn(inode, 0));
    expect(f & (PG_swapbacked | PG_lru | PG_unevictable)).toBe(PG_swapbacked | PG_lru | PG_unevictable);
  });

  it('fork keeps a shared file mapping shared: the child writes the parent\'s page', () => {
    const { e, mm } = setup();
    const { inode, file } = tmpfsFile(2, 7);
    const a = do_mmap(mm, file, 0, 2 * PAGE_SIZE, RW, MAP_SHARED, 0);
    e.cpu.st32(a, 1);
    const child = dup_mm(mm)!;
    e.use(child);
    expect(pfnAt(child, a)).toBe(cachePfn(inode, 0));
    e.cpu.st32(a, 2);
    e.cpu.st32(a + PAGE_SIZE, 3); // not faulted in the parent yet
    e.use(mm);
    expect(e.cpu.ld32(a)).toBe(2);
    expect(e.cpu.ld32(a + PAGE_SIZE)).toBe(3);
    expect(fileWord(e, inode, PAGE_SIZE)).toBe(3);
  });

  it('MAP_PRIVATE reads the file and copies on write: the file and other mappings keep the old data', () => {
    const { e, mm } = setup();
    const { inode, file } = tmpfsFile(2, 40);
    const p = do_mmap(mm, file, 0, 2 * PAGE_SIZE, RW, MAP_PRIVATE, 0);
    const s = do_mmap(mm, file, 0, 2 * PAGE_SIZE, RW, MAP_SHARED, 0);
    expect(e.cpu.ld32(p)).toBe(40);
    expect(pfnAt(mm, p)).toBe(cachePfn(inode, 0)); // a read maps the cache page read-only
    e.cpu.st32(p, 0xdead);
    expect(pfnAt(mm, p)).not.toBe(cachePfn(inode, 0));
    expect(e.cpu.ld32(p)).toBe(0xdead);
    expect(fileWord(e, inode, 0)).toBe(40);
    expect(e.cpu.ld32(s)).toBe(40);
    // a write fault on a page never read copies at once; the file is unchanged
    e.cpu.st32(p + PAGE_SIZE + 4, 9);
    expect(e.cpu.ld32(p + PAGE_SIZE)).toBe(41);
    expect(fileWord(e, inode, PAGE_SIZE + 4)).toBe(0);
    expect(get_mm_counter(mm, MM_ANONPAGES)).toBe(2);
    // the file's later stores reach private pages only while they are not copied
    e.cpu.st32(s + PAGE_SIZE + 8, 77);
    expect(e.cpu.ld32(p + PAGE_SIZE + 8)).toBe(0);
    const q = do_mmap(mm, file, 0, 2 * PAGE_SIZE, RW, MAP_PRIVATE, 0);
    expect(e.cpu.ld32(q + PAGE_SIZE + 8)).toBe(77);
    e.cpu.st32(s + PAGE_SIZE + 12, 78);
    expect(e.cpu.ld32(q + PAGE_SIZE + 12)).toBe(78);
  });

  it('an access beyond the end of the file is SIGBUS (VM_FAULT_SIGBUS); the last partial page is mapped', () => {
    const { e, mm } = setup();
    const { file } = tmpfsFile(1, 5, FMODE_READ | FMODE_WRITE, PAGE_SIZE + 100);
    const a = do_mmap(mm, file, 0, 4 * PAGE_SIZE, RW, MAP_SHARED, 0);
    expect(e.cpu.ld32(a)).toBe(5);
    expect(e.cpu.ld32(a + PAGE_SIZE + 200)).toBe(0); // inside the last (partial) page
    expect(faultOf(() => e.cpu.ld32(a + 2 * PAGE_SIZE)) & VM_FAULT_SIGBUS).toBe(VM_FAULT_SIGBUS);
    expect(faultOf(() => e.cpu.st32(a + 3 * PAGE_SIZE, 1)) & VM_FAULT_SIGBUS).toBe(VM_FAULT_SIGBUS);
    const priv = do_mmap(mm, file, 0, 3 * PAGE_SIZE, RW, MAP_PRIVATE, 0);
    expect(faultOf(() => e.cpu.st32(priv + 2 * PAGE_SIZE, 1)) & VM_FAULT_SIGBUS).toBe(VM_FAULT_SIGBUS);
  });

  it('ftruncate shrinking a mapped file unmaps its pages from every mapping (MMU_NOTIFY_CLEAR), frees them, and later accesses get SIGBUS', () => {
    const { e, mm } = setup();
    const seen = events(mm);
    const { inode, file } = tmpfsFile(4, 60);
    const s = do_mmap(mm, file, 0, 4 * PAGE_SIZE, RW, MAP_SHARED, 0);
    const p = do_mmap(mm, file, 0, 4 * PAGE_SIZE, RW, MAP_PRIVATE, 0);
    for (let i = 0; i < 4; i++) expect(e.cpu.ld32(s + i * PAGE_SIZE)).toBe(60 + i);
    e.cpu.st32(p + 3 * PAGE_SIZE, 1); // a private COW copy beyond the new end
    e.cpu.st32(s + PAGE_SIZE + 2000, 0x11111111); // in the tail the truncate zeroes
    const shmemBefore = global_page_state('nr_shmem');
    const freeBefore = global_page_state('nr_free_pages');
    expect(inode.i_op.setattr!(file.f_path.dentry, { size: PAGE_SIZE + 1000 })).toBe(0);
    expect(inode.i_size).toBe(PAGE_SIZE + 1000);
    expect([...inode.i_mapping.pages.keys()]).toEqual([0, 1]);
    expect(global_page_state('nr_shmem')).toBe(shmemBefore - 2);
    expect(global_page_state('nr_free_pages')).toBe(freeBefore + 3); // two cache pages and the COW copy
    for (const va of [s + 2 * PAGE_SIZE, s + 3 * PAGE_SIZE, p + 3 * PAGE_SIZE]) expect(pfnAt(mm, va)).toBe(-1);
    expect(pfnAt(mm, s + PAGE_SIZE)).toBe(cachePfn(inode, 1));
    const clears = seen.filter((x) => x.event === MMU_NOTIFY_CLEAR);
    expect(clears).toContainEqual({ event: MMU_NOTIFY_CLEAR, start: s + 2 * PAGE_SIZE, end: s + 4 * PAGE_SIZE });
    expect(clears).toContainEqual({ event: MMU_NOTIFY_CLEAR, start: p + 2 * PAGE_SIZE, end: p + 4 * PAGE_SIZE });
    expect(faultOf(() => e.cpu.ld32(s + 2 * PAGE_SIZE)) & VM_FAULT_SIGBUS).toBe(VM_FAULT_SIGBUS);
    expect(faultOf(() => e.cpu.ld32(p + 3 * PAGE_SIZE)) & VM_FAULT_SIGBUS).toBe(VM_FAULT_SIGBUS);
    expect(e.cpu.ld32(s + PAGE_SIZE)).toBe(61);
    expect(e.cpu.ld32(s + PAGE_SIZE + 2000)).toBe(0); // beyond the new size: zeroed
    // growing again: the new pages read zeros through the same mapping
    expect(inode.i_op.setattr!(file.f_path.dentry, { size: 4 * PAGE_SIZE })).toBe(0);
    expect(e.cpu.ld32(s + 3 * PAGE_SIZE)).toBe(0);
    expect(check_page_alloc_consistency()).toEqual([]);
  });

  it('the open mode limits the mapping: shared writable needs FMODE_WRITE (-EACCES), and mprotect cannot add it later', () => {
    const { mm } = setup();
    const ro = tmpfsFile(1, 0, FMODE_READ).file;
    expect(do_mmap(mm, ro, 0, PAGE_SIZE, RW, MAP_SHARED, 0)).toBe(-13);
    const shared = do_mmap(mm, ro, 0, PAGE_SIZE, PROT_READ, MAP_SHARED, 0);
    expect(shared).toBeGreaterThan(0);
    expect(do_mprotect(mm, shared, PAGE_SIZE, RW)).toBe(-13);
    const priv = do_mmap(mm, ro, 0, PAGE_SIZE, RW, MAP_PRIVATE, 0);
    expect(priv).toBeGreaterThan(0); // a private writable copy needs only read access
    const wo = tmpfsFile(1, 0, FMODE_WRITE).file;
    expect(do_mmap(mm, wo, 0, PAGE_SIZE, PROT_READ, MAP_SHARED, 0)).toBe(-13);
    expect(do_mmap(mm, wo, 0, PAGE_SIZE, PROT_WRITE, MAP_PRIVATE, 0)).toBe(-13);
  });

  it('munmap drops the mapping\'s references; the cache keeps the data; /proc maps names the file', () => {
    const { e, mm } = setup();
    const { inode, file } = tmpfsFile(2, 1);
    const a = do_mmap(mm, file, 0, 2 * PAGE_SIZE, RW, MAP_SHARED, 1);
    e.cpu.st32(a, 0x77);
    const pfn = cachePfn(inode, 1);
    expect(mem_map().refcount(pfn)).toBe(2);
    const maps = show_maps(mm, (vma) => (vma.vm_file === file ? '/tmp/data' : undefined));
    expect(maps).toMatch(new RegExp(`^${a.toString(16).padStart(8, '0')}-${(a + 2 * PAGE_SIZE).toString(16).padStart(8, '0')} rw-s 00001000 00:\\d\\d ${inode.i_ino} +/tmp/data$`, 'm'));
    expect(do_munmap(mm, a, 2 * PAGE_SIZE)).toBe(0);
    expect(mem_map().refcount(pfn)).toBe(1);
    expect(mem_map().mapcount(pfn)).toBe(0);
    expect(fileWord(e, inode, PAGE_SIZE)).toBe(0x77);
    expect(check_page_alloc_consistency()).toEqual([]);
  });
});

describe('tmpfs pages and page movement (rmap, migration, compaction, pins, reclaim)', () => {
  it('compaction moves mapped and unmapped cache pages: PTEs in every mm and the cache follow (MMU_NOTIFY_MIGRATE), data intact', () => {
    const { e, mm } = setup();
    const seen = events(mm);
    const other = e.newMm();
    // fragment memory: anonymous pages around the file pages, then free them
    const filler = do_mmap(mm, null, 0, 64 * PAGE_SIZE, RW, MAP_PRIVATE | MAP_ANONYMOUS, 0);
    for (let i = 0; i < 64; i++) e.cpu.st32(filler + i * PAGE_SIZE, i);
    const { inode, file } = tmpfsFile(8, 500);
    const a = do_mmap(mm, file, 0, 8 * PAGE_SIZE, RW, MAP_SHARED, 0);
    for (let i = 0; i < 4; i++) e.cpu.st32(a + i * PAGE_SIZE + 4, 0xf00 + i);
    const b = do_mmap(other, file, 0, 8 * PAGE_SIZE, PROT_READ, MAP_SHARED, 0);
    e.use(other);
    expect(e.cpu.ld32(b + 4)).toBe(0xf00);
    e.use(mm);
    expect(do_munmap(mm, filler, 64 * PAGE_SIZE)).toBe(0);
    const before = [...Array(8).keys()].map((i) => cachePfn(inode, i));
    compact_nodes();
    const after = [...Array(8).keys()].map((i) => cachePfn(inode, i));
    expect(after.filter((p, i) => p !== before[i]).length).toBeGreaterThan(4);
    for (let i = 0; i < 8; i++) {
      if (i < 4) expect(pfnAt(mm, a + i * PAGE_SIZE)).toBe(after[i]);
      expect(fileWord(e, inode, i * PAGE_SIZE)).toBe(500 + i);
      if (i < 4) expect(fileWord(e, inode, i * PAGE_SIZE + 4)).toBe(0xf00 + i);
      expect(mem_map().testFlags(after[i]!, PG_unevictable)).toBe(true);
    }
    expect(pfnAt(other, b)).toBe(after[0]);
    expect(e.cpu.ld32(a + 4)).toBe(0xf00);
    expect(seen.some((s) => s.event === MMU_NOTIFY_MIGRATE && s.start === a)).toBe(before[0] !== after[0]);
    expect(check_page_alloc_consistency()).toEqual([]);
  });

  it('a pinned cache page is not moved; FOLL_LONGTERM moves it out of ZONE_MOVABLE first; truncate leaves a pinned page until unpin', () => {
    const { e, mm } = setup();
    const { inode, file } = tmpfsFile(4, 900);
    const a = do_mmap(mm, file, 0, 4 * PAGE_SIZE, RW, MAP_SHARED, 0);
    for (let i = 0; i < 4; i++) e.cpu.st32(a + i * PAGE_SIZE + 8, i);
    const pgdat = NODE_DATA();
    expect(pgdat.page_zone(cachePfn(inode, 0)).idx).toBe(ZONE_MOVABLE);
    const pins: number[] = [];
    expect(pin_user_pages_remote(mm, a, 2, FOLL_WRITE | FOLL_LONGTERM, pins)).toBe(2);
    expect(pins).toEqual([cachePfn(inode, 0), cachePfn(inode, 1)]);
    for (const p of pins) expect(pgdat.page_zone(p).idx).toBe(ZONE_NORMAL);
    expect(e.cpu.ld32(a + PAGE_SIZE)).toBe(901);
    const pinned = cachePfn(inode, 1);
    compact_nodes();
    expect(cachePfn(inode, 1)).toBe(pinned);
    expect(pfnAt(mm, a + PAGE_SIZE)).toBe(pinned);
    // truncating the file drops the cache's reference; the pin keeps the page until unpin
    expect(inode.i_op.setattr!(file.f_path.dentry, { size: 0 })).toBe(0);
    expect(mem_map().refcount(pinned)).toBeGreaterThan(0);
    expect(mem_map().mappingOf(pinned)).toBeUndefined();
    unpin_user_pages(pins, 2);
    expect(mem_map().refcount(pinned)).toBe(0);
    expect(check_page_alloc_consistency()).toEqual([]);
  });

  it('reclaim swaps the anonymous pages of a process but leaves its tmpfs pages (unevictable LRU) in memory', () => {
    const { e, mm } = setup(32, 16);
    const { inode, file } = tmpfsFile(16, 300);
    const s = do_mmap(mm, file, 0, 16 * PAGE_SIZE, RW, MAP_SHARED, 0);
    for (let i = 0; i < 16; i++) e.cpu.st32(s + i * PAGE_SIZE + 4, i);
    const anonVa = do_mmap(mm, null, 0, 16 * PAGE_SIZE, RW, MAP_PRIVATE | MAP_ANONYMOUS, 0);
    for (let i = 0; i < 16; i++) e.cpu.st32(anonVa + i * PAGE_SIZE, i);
    const cache = [...Array(16).keys()].map((i) => cachePfn(inode, i));
    expect(NODE_DATA().lruvec[LRU_UNEVICTABLE]!.count).toBeGreaterThanOrEqual(16);
    while (try_to_free_pages(0, GFP_HIGHUSER_MOVABLE) > 0);
    for (let i = 0; i < 16; i++) {
      follow_pte(mm, anonVa + i * PAGE_SIZE, fr);
      expect(fr.swapOffset).toBeGreaterThan(0);
      expect(pfnAt(mm, s + i * PAGE_SIZE)).toBe(cache[i]);
    }
    expect(e.cpu.ld32(s + 5 * PAGE_SIZE)).toBe(305);
    expect(e.cpu.ld32(anonVa + 5 * PAGE_SIZE)).toBe(5);
  });
});
