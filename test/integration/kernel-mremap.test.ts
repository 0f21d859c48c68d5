// mremap(2) (216) from a user program on the booted kernel: shrink, grow in place,
// MREMAP_MAYMOVE moving the page-table entries (the same physical pages appear at the
// new address, MMU notifiers hear MMU_NOTIFY_UNMAP over the old range), MREMAP_FIXED
// replacing what was at new_addr, shared anonymous memory (moved, and old_len 0
// duplicating it), MREMAP_DONTUNMAP, VM_LOCKED accounting in /proc/self/status,
// VM_DONTEXPAND, and the
// errno paths of mm/mremap.c.

import { describe, expect, it } from 'vitest';
import { current } from '../../src/kernel/sched/core.js';
import { vma_lookup } from '../../src/kernel/mm/mmap.js';
import { MMU_NOTIFY_UNMAP, MmuNotifier, VM_DONTEXPAND } from '../../src/kernel/mm/mm_types.js';
import { mmu_notifier_register } from '../../src/kernel/mm/mmu_notifier.js';
import * as NR from '../../src/kernel/syscalls/numbers.js';
import type { UserCtx } from '../support/kernel-user.js';
import { TraceKind } from '../../src/trace/record.js';
import { ITD_OP_READ, ITD_OP_WRITE } from '../../src/kernel/drivers/misc/iommu-testdev.js';
import { Testdev, cmdDword, runInit } from './kernel-smmu-harness.js';

const PAGE = 4096;
const PROT_RW = 3;
const MAP_PRIVATE_ANON = 0x22;
const MAP_SHARED_ANON = 0x21;
const MAP_LOCKED = 0x2000;
const MAP_FIXED = 0x10;
const MREMAP_MAYMOVE = 1;
const MREMAP_FIXED = 2;
const MREMAP_DONTUNMAP = 4;
const EINVAL = -22;
const EFAULT = -14;
const ENOMEM = -12;

function* mmap(u: UserCtx, len: number, flags = MAP_PRIVATE_ANON, at = 0): Generator<unknown, number, unknown> {
  return yield* u.sys(NR.__NR_mmap, at, len, PROT_RW, flags, -1, 0);
}
function* mremap(u: UserCtx, addr: number, oldLen: number, newLen: number, flags: number, newAddr = 0): Generator<unknown, number, unknown> {
  return yield* u.sys(NR.__NR_mremap, addr, oldLen, newLen, flags, newAddr);
}
/** [present, pfn] of the page at va, from /proc/self/pagemap. */
function* pagemap(u: UserCtx, va: number): Generator<unknown, [boolean, number], unknown> {
  const fd = yield* u.sys(NR.__NR_openat, -100, u.str('/proc/self/pagemap'), 0, 0);
  const buf = u.alloc(8);
  yield* u.sys(NR.__NR_pread64, fd, buf, 8, Math.floor(va / PAGE) * 8);
  yield* u.sys(NR.__NR_close, fd);
  const hi = u.cpu.ld32(buf + 4) >>> 0;
  const lo = u.cpu.ld32(buf) >>> 0;
  return [(hi & 0x8000_0000) !== 0, (hi & 0x7fffff) * 2 ** 32 + lo];
}
function* readFile(u: UserCtx, path: string): Generator<unknown, string, unknown> {
  const fd = yield* u.sys(NR.__NR_openat, -100, u.str(path), 0, 0);
  const buf = u.alloc(4096);
  const n = yield* u.sys(NR.__NR_read, fd, buf, 4096);
  yield* u.sys(NR.__NR_close, fd);
  return u.text(buf, Math.max(0, n));
}
function fill(u: UserCtx, va: number, pages: number, tag: number): void {
  for (let p = 0; p < pages; p++) u.cpu.st32(va + p * PAGE, tag + p);
}
function holds(u: UserCtx, va: number, pages: number, tag: number): boolean {
  for (let p = 0; p < pages; p++) if (u.cpu.ld32(va + p * PAGE) >>> 0 !== tag + p) return false;
  return true;
}

const got: Record<string, unknown> = {};
const notes: { event: number; start: number; end: number }[] = [];

const run = runInit(function* (u) {
  const mm = current().mm!;
  mmu_notifier_register(
    new MmuNotifier({
      invalidate_range_start(_s, r) {
        notes.push({ event: r.event, start: r.start, end: r.end });
        return 0;
      },
    }),
    mm,
  );

  // --- anonymous private: move with MREMAP_MAYMOVE, the PTEs (not the pages) move
  const a = yield* mmap(u, 4 * PAGE);
  // a guard mapping right above, so that growing cannot happen in place
  const guard = yield* mmap(u, PAGE, MAP_PRIVATE_ANON | MAP_FIXED, a + 4 * PAGE);
  fill(u, a, 4, 0xa000);
  const pfnsBefore: number[] = [];
  for (let p = 0; p < 4; p++) pfnsBefore.push((yield* pagemap(u, a + p * PAGE))[1]);
  got.noMove = yield* mremap(u, a, 4 * PAGE, 8 * PAGE, 0);
  notes.length = 0;
  const b = yield* mremap(u, a, 4 * PAGE, 8 * PAGE, MREMAP_MAYMOVE);
  got.move = { a, b, guard };
  got.moveNotes = notes.splice(0);
  got.moveData = holds(u, b, 4, 0xa000);
  const pfnsAfter: number[] = [];
  for (let p = 0; p < 4; p++) pfnsAfter.push((yield* pagemap(u, b + p * PAGE))[1]);
  got.pfns = [pfnsBefore, pfnsAfter];
  got.oldPresent = (yield* pagemap(u, a))[0];
  got.oldGone = yield* mremap(u, a, PAGE, PAGE, 0);
  // the grown tail is demand-zero
  got.tailZero = u.cpu.ld32(b + 6 * PAGE) >>> 0;

  // --- shrink in place: the tail is unmapped, the address stays
  got.shrink = (yield* mremap(u, b, 8 * PAGE, 2 * PAGE, 0)) === b;
  got.shrinkTail = yield* mremap(u, b + 2 * PAGE, PAGE, PAGE, 0);
  got.shrinkKept = holds(u, b, 2, 0xa000);

  // --- grow in place into free space
  got.growInPlace = (yield* mremap(u, b, 2 * PAGE, 3 * PAGE, 0)) === b;
  got.growKept = holds(u, b, 2, 0xa000);

  // --- MREMAP_FIXED: replaces what is at new_addr
  const c = yield* mmap(u, 2 * PAGE);
  fill(u, c, 2, 0xc000);
  const victim = yield* mmap(u, 4 * PAGE);
  fill(u, victim, 4, 0xdead);
  got.fixed = (yield* mremap(u, c, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, victim + PAGE)) === victim + PAGE;
  got.fixedData = holds(u, victim + PAGE, 2, 0xc000);
  got.fixedNeighbours = [u.cpu.ld32(victim) >>> 0, u.cpu.ld32(victim + 3 * PAGE) >>> 0];

  // --- shared anonymous: moved, then duplicated with old_len 0
  const s = yield* mmap(u, 2 * PAGE, MAP_SHARED_ANON);
  fill(u, s, 2, 0x5000);
  const s2 = yield* mremap(u, s, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, s + 64 * PAGE);
  got.sharedMoved = s2 === s + 64 * PAGE && holds(u, s2, 2, 0x5000);
  const dup = yield* mremap(u, s2, 0, 2 * PAGE, MREMAP_MAYMOVE);
  got.dup = dup > 0 && dup !== s2 && holds(u, dup, 2, 0x5000);
  u.cpu.st32(dup + 4, 0x77);
  got.dupShared = u.cpu.ld32(s2 + 4) >>> 0;
  got.privateDup = yield* mremap(u, b, 0, PAGE, MREMAP_MAYMOVE);

  // --- VM_LOCKED: locked_vm follows, the grown part is populated
  const l = yield* mmap(u, 2 * PAGE, MAP_PRIVATE_ANON | MAP_LOCKED);
  yield* mmap(u, PAGE, MAP_PRIVATE_ANON | MAP_FIXED, l + 2 * PAGE);
  const st0 = yield* readFile(u, '/proc/self/status');
  const l2 = yield* mremap(u, l, 2 * PAGE, 5 * PAGE, MREMAP_MAYMOVE);
  const st1 = yield* readFile(u, '/proc/self/status');
  const present: boolean[] = [];
  for (let p = 0; p < 5; p++) present.push((yield* pagemap(u, l2 + p * PAGE))[0]);
  got.locked = { moved: l2 !== l, vmlck: [/VmLck:\s+(\d+) kB/.exec(st0)?.[1], /VmLck:\s+(\d+) kB/.exec(st1)?.[1]], present };
  yield* mremap(u, l2, 5 * PAGE, 3 * PAGE, 0);
  got.lockedShrunk = /VmLck:\s+(\d+) kB/.exec(yield* readFile(u, '/proc/self/status'))?.[1];

  // --- VM_DONTEXPAND (as remap_pfn_range sets it on a driver's mapping): no growth, moving is fine
  const d = yield* mmap(u, 2 * PAGE);
  vma_lookup(mm, d)!.vm_flags |= VM_DONTEXPAND;
  got.dontexpand = [yield* mremap(u, d, 2 * PAGE, 3 * PAGE, MREMAP_MAYMOVE), (yield* mremap(u, d, 2 * PAGE, PAGE, 0)) === d, (yield* mremap(u, d, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, d + 32 * PAGE)) === d + 32 * PAGE];

  // --- MREMAP_DONTUNMAP: the pages (and the lock) move, the old range stays mapped and empty
  const k = yield* mmap(u, 2 * PAGE, MAP_PRIVATE_ANON | MAP_LOCKED);
  fill(u, k, 2, 0x4000);
  const kpfn = (yield* pagemap(u, k))[1];
  const lck0 = /VmLck:\s+(\d+) kB/.exec(yield* readFile(u, '/proc/self/status'))?.[1];
  const k2 = yield* mremap(u, k, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
  const lck1 = /VmLck:\s+(\d+) kB/.exec(yield* readFile(u, '/proc/self/status'))?.[1];
  const oldPresent = (yield* pagemap(u, k))[0];
  got.dontunmap = {
    moved: k2 > 0 && k2 !== k,
    data: holds(u, k2, 2, 0x4000),
    samePfn: (yield* pagemap(u, k2))[1] === kpfn,
    oldPresent,
    oldReadsZero: u.cpu.ld32(k) >>> 0,
    oldStillMapped: (yield* mremap(u, k, 2 * PAGE, 2 * PAGE, 0)) === k,
    vmlck: [lck0, lck1],
  };

  // --- errno paths
  // [e] mapped, [e+PAGE] a hole, [e+2*PAGE] mapped
  const e = yield* mmap(u, 3 * PAGE);
  yield* u.sys(NR.__NR_munmap, e + PAGE, PAGE);
  got.errs = [
    yield* mremap(u, e, PAGE, PAGE, 8), // unknown flag
    yield* mremap(u, e, PAGE, 2 * PAGE, MREMAP_FIXED, e + 16 * PAGE), // FIXED without MAYMOVE
    yield* mremap(u, e + 1, PAGE, PAGE, 0), // unaligned addr
    yield* mremap(u, e, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, e + 16 * PAGE + 1), // unaligned new_addr
    yield* mremap(u, e, PAGE, 0, 0), // new_len 0
    yield* mremap(u, e, PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, e - PAGE), // overlapping ranges
    yield* mremap(u, e, PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP), // DONTUNMAP cannot resize
    yield* mremap(u, e + PAGE, PAGE, PAGE, 0), // nothing mapped there
    yield* mremap(u, e, 2 * PAGE, 3 * PAGE, MREMAP_MAYMOVE), // crosses the VMA's end
    yield* mremap(u, e, PAGE, 3 * PAGE, 0), // e+2*PAGE is in the way and MREMAP_MAYMOVE is not given
  ];
  return 0;
});

describe('mremap (216) on the booted kernel (mm/mremap.c semantics)', () => {
  it('MREMAP_MAYMOVE moves the mapping: same data, same physical pages at the new address, the old range unmapped, the grown tail demand-zero', () => {
    expect(run.code).toBe(0);
    const m = got.move as { a: number; b: number; guard: number };
    expect(m.guard).toBe(m.a + 4 * PAGE);
    expect(got.noMove).toBe(ENOMEM);
    expect(m.b).not.toBe(m.a);
    expect(m.b % PAGE).toBe(0);
    expect(got.moveData).toBe(true);
    const [before, after] = got.pfns as number[][];
    expect(after).toEqual(before);
    expect(got.oldPresent).toBe(false);
    expect(got.oldGone).toBe(EFAULT);
    expect(got.tailZero).toBe(0);
  });
  it('moving the page tables tells MMU notifiers MMU_NOTIFY_UNMAP over the old range', () => {
    const m = got.move as { a: number };
    const n = got.moveNotes as { event: number; start: number; end: number }[];
    expect(n.length).toBeGreaterThan(0);
    expect(n[0]).toEqual({ event: MMU_NOTIFY_UNMAP, start: m.a, end: m.a + 4 * PAGE });
    expect(n.every((x) => x.event === MMU_NOTIFY_UNMAP && x.start >= m.a && x.end <= m.a + 4 * PAGE)).toBe(true);
  });
  it('shrinking keeps the address and unmaps the tail; growing into free space stays in place', () => {
    expect(got.shrink).toBe(true);
    expect(got.shrinkTail).toBe(EFAULT);
    expect(got.shrinkKept).toBe(true);
    expect(got.growInPlace).toBe(true);
    expect(got.growKept).toBe(true);
  });
  it('MREMAP_FIXED replaces the pages at new_addr and leaves the rest of that mapping', () => {
    expect(got.fixed).toBe(true);
    expect(got.fixedData).toBe(true);
    expect(got.fixedNeighbours).toEqual([0xdead, 0xdead + 3]);
  });
  it('shared anonymous memory moves; old_len 0 maps the same shared pages a second time; of private memory it is -EINVAL', () => {
    expect(got.sharedMoved).toBe(true);
    expect(got.dup).toBe(true);
    expect(got.dupShared).toBe(0x77);
    expect(got.privateDup).toBe(EINVAL);
  });
  it('VM_LOCKED: VmLck follows the new size (8 kB -> 20 kB -> 12 kB) and the grown part is faulted in', () => {
    const l = got.locked as { moved: boolean; vmlck: string[]; present: boolean[] };
    expect(l.moved).toBe(true);
    expect(l.vmlck).toEqual(['8', '20']);
    expect(l.present).toEqual([true, true, true, true, true]);
    expect(got.lockedShrunk).toBe('12');
  });
  it('VM_DONTEXPAND: growing is -EFAULT even with MREMAP_MAYMOVE; shrinking and moving work', () => {
    expect(got.dontexpand).toEqual([EFAULT, true, true]);
  });
  it('MREMAP_DONTUNMAP: the pages and the lock move (VmLck unchanged), the old range stays mapped, empty, and faults in zeroes', () => {
    expect(got.dontunmap).toEqual({ moved: true, data: true, samePfn: true, oldPresent: false, oldReadsZero: 0, oldStillMapped: true, vmlck: ['20', '20'] }); // 12 kB locked earlier + 8 kB here, before and after
  });
  it('errno paths: EINVAL for bad flags, alignment, zero length, overlap, DONTUNMAP resizing; EFAULT for no VMA or crossing its end; ENOMEM when it cannot grow in place', () => {
    expect(got.errs).toEqual([EINVAL, EINVAL, EINVAL, EINVAL, EINVAL, EINVAL, EINVAL, EFAULT, EFAULT, ENOMEM]);
  });
});

describe('mremap of memory shared with a device (SVA): the SMMU follows the move', () => {
  const sva: Record<string, unknown> = {};
  const svaRun = runInit(
    function* (u) {
      const td = yield* Testdev.open(u);
      if (typeof td === 'number') return 10;
      yield* td.bind();
      const a = yield* mmap(u, 2 * PAGE);
      // a guard right above so that the move cannot be avoided
      yield* mmap(u, PAGE, MAP_PRIVATE_ANON | MAP_FIXED, a + 2 * PAGE);
      sva.write = (yield* td.svaDma(a, 2 * PAGE, ITD_OP_WRITE)).result;
      const pfn = (yield* pagemap(u, a))[1];
      const b = yield* mremap(u, a, 2 * PAGE, 4 * PAGE, MREMAP_MAYMOVE);
      sva.addrs = { a, b };
      sva.samePfn = (yield* pagemap(u, b))[1] === pfn;
      // The device reads the moved data at the new address; the old address has no VMA now
      sva.readNew = (yield* td.svaDma(b, 2 * PAGE, ITD_OP_READ)).result;
      sva.readOld = (yield* td.svaDma(a, PAGE, ITD_OP_READ)).result;
      return 0;
    },
    { args: 'iommu_testdev.dma_can_stall=1' },
  );
  it('the old range is invalidated in the SMMU TLB (TLBI_NH_VA), the device finds the same pages at the new address and faults INVALID at the old one', () => {
    expect(svaRun.code).toBe(0);
    expect(sva.write).toBe(0);
    expect(sva.samePfn).toBe(true);
    expect(sva.readNew).toBe(0);
    expect(sva.readOld).not.toBe(0);
    const { a } = sva.addrs as { a: number; b: number };
    // TLBI_NH_VA (0x12) for the old range: Address dw1[63:12]
    const tlbi = svaRun.records.filter((r) => r.kind === TraceKind.Command && r.initiator === 'smmu' && r.aux === 0x12).map((r) => Number(cmdDword(r, 1) & ~0xfffn));
    expect(tlbi).toContain(a);
  });
});
