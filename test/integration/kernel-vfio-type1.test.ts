// VFIO type1 semantics on the booted board (../shared/reference/vfio-and-mm.md
// sections 3 and 7; drivers/vfio/vfio_iommu_type1.c): every MAP_DMA and UNMAP_DMA
// errno in Linux's order, v2 vs v1 unmap rules, the same-mm rule, dma_entry_limit,
// long-term pins (ZONE_MOVABLE pages migrated first; pinned pages are not migrated,
// compacted or swapped), locked_vm (VmLck) charging against RLIMIT_MEMLOCK with the
// CAP_IPC_LOCK bypass taken at MAP time, MMIO (VM_PFNMAP) mappings neither pinned nor
// charged, and -EFAULT for bad pointers.

import { describe, expect, it } from 'vitest';
import * as NR from '../../src/kernel/syscalls/numbers.js';
import { oops_count } from '../../src/kernel/kernel/panic.js';
import { iommu_get_domain_for_dev } from '../../src/kernel/drivers/iommu/iommu.js';
import { pci_devices, pci_resource_start } from '../../src/kernel/drivers/pci/pci.js';
import { folio_maybe_dma_pinned } from '../../src/kernel/mm/gup.js';
import { compact_nodes } from '../../src/kernel/mm/compaction.js';
import { swapon } from '../../src/kernel/mm/swapfile.js';
import { runMarked } from './kernel-iommu-harness.js';
import { MAP_SHARED, PROT_RW, TESTDEV, UStruct, VFIO, bindVfio, ioctl, mapDma, mmap, openContainerGroup, statusKb, unmapDma } from './kernel-vfio-harness.js';
import { followUserPte, pfnAt, movable, migrateUserPage } from '../support/user-pages.js';

const EINVAL = -22;
const EEXIST = -17;
const ENOSPC = -28;
const EFAULT = -14;
const ENOMEM = -12;
const PAGE = 4096;
const MADV_PAGEOUT = 21;


describe('type1: MAP_DMA / UNMAP_DMA errnos, pins and accounting', () => {
  const got: Record<string, unknown> = {};
  const run = runMarked(
    function* (u) {
      const cpu = u.cpu;
      yield* bindVfio(u, TESTDEV);
      const fds = yield* openContainerGroup(u, TESTDEV, VFIO.TYPE1v2_IOMMU);
      if (typeof fds === 'string') {
        got.setup = fds;
        return 1;
      }
      const C = fds.container;
      const buf = yield* mmap(u, 64 * PAGE);
      // MAP_DMA, in Linux's order of checks
      got.mapArgsz = yield* mapDma(u, C, buf, 0x100000, PAGE, 3, 31);
      got.mapUnknownFlag = yield* mapDma(u, C, buf, 0x100000, PAGE, 3 | 8);
      got.mapNoPerm = yield* mapDma(u, C, buf, 0x100000, PAGE, 0);
      got.mapVaddrFlag = yield* mapDma(u, C, buf, 0x100000, PAGE, 4);
      got.mapSize0 = yield* mapDma(u, C, buf, 0x100000, 0);
      got.mapIovaUnaligned = yield* mapDma(u, C, buf, 0x100800, PAGE);
      got.mapVaddrUnaligned = yield* mapDma(u, C, buf + 8, 0x100000, PAGE);
      got.mapSizeUnaligned = yield* mapDma(u, C, buf, 0x100000, PAGE + 1);
      got.mapIovaWrap = yield* mapDma(u, C, buf, 0, 2n ** 64n - 4096n);
      got.mapIovaWrap2 = yield* mapDma(u, C, buf, 2n ** 64n - 8192n, 4n * 4096n);
      got.mapVaddrWrap = yield* mapDma(u, C, 2n ** 64n - 8192n, 0x100000, 4n * 4096n);
      // touch the buffer: its pages come from ZONE_MOVABLE
      for (let i = 0; i < 8; i++) cpu.st32(buf + i * PAGE, 0xc0de0000 + i);
      got.movableBefore = [0, 1, 2, 3].map((i) => movable(pfnAt(buf + i * PAGE)));
      const lck0 = yield* statusKb(u, 'VmLck');
      got.map = yield* mapDma(u, C, buf, 0x100000, 4 * PAGE);
      got.vmLck = (yield* statusKb(u, 'VmLck')) - lck0;
      got.movableAfter = [0, 1, 2, 3].map((i) => movable(pfnAt(buf + i * PAGE)));
      got.dataKept = [0, 1, 2, 3].map((i) => cpu.ld32(buf + i * PAGE) >>> 0);
      got.pinned = [0, 1, 2, 3, 4].map((i) => folio_maybe_dma_pinned(pfnAt(buf + i * PAGE)));
      const pdev = pci_devices().find((d) => d.name === TESTDEV)!;
      const dom = iommu_get_domain_for_dev(pdev)!;
      got.translates = dom.ops.iovaToPhys!(dom, 0x101000 + 12) === pfnAt(buf + PAGE) * PAGE + 12;
      // pinned pages stay put: migration, compaction and swap leave them
      const pfn1 = pfnAt(buf + PAGE);
      got.migratePinned = migrateUserPage(buf + PAGE);
      compact_nodes();
      swapon(4 << 20);
      got.pageout = yield* u.sys(NR.__NR_madvise, buf, 8 * PAGE, MADV_PAGEOUT);
      const pinned = followUserPte(buf + PAGE);
      got.pinnedStayed = pinned.pfn === pfn1 && pinned.swapOffset < 0;
      got.unpinnedSwapped = followUserPte(buf + 6 * PAGE).swapOffset >= 0;
      got.stillTranslates = dom.ops.iovaToPhys!(dom, 0x101000) === pfn1 * PAGE;
      // overlap before the rest
      got.mapOverlap = yield* mapDma(u, C, buf + 8 * PAGE, 0x103000, 2 * PAGE);
      got.mapOverlapUnaligned = yield* mapDma(u, C, buf + 8 * PAGE, 0x103800, 2 * PAGE);
      // the IOVA must lie in one valid range: not in the MSI window, not past the aperture
      got.mapMsiWindow = yield* mapDma(u, C, buf + 8 * PAGE, 0x8000000, PAGE);
      got.mapStraddle = yield* mapDma(u, C, buf + 8 * PAGE, 0x7fff000, 2 * PAGE);
      got.mapPastAperture = yield* mapDma(u, C, buf + 8 * PAGE, 2 ** 48, PAGE);
      // pinning: unmapped user memory -EFAULT, nothing left behind
      const lck1 = yield* statusKb(u, 'VmLck');
      got.mapUnmappedVaddr = yield* mapDma(u, C, 0x7000_0000_0000 - 16 * PAGE, 0x200000, PAGE);
      const half = yield* mmap(u, 4 * PAGE);
      yield* u.sys(NR.__NR_munmap, half + 2 * PAGE, 2 * PAGE);
      got.mapHalfUnmapped = yield* mapDma(u, C, half, 0x200000, 4 * PAGE);
      got.mapHalfAfter = yield* mapDma(u, C, half, 0x200000, 2 * PAGE);
      got.lckAfterFailures = (yield* statusKb(u, 'VmLck')) - lck1;
      // a read-only buffer can be mapped device-read-only, not device-writable
      const ro = yield* mmap(u, PAGE, 1);
      got.mapRoWrite = yield* mapDma(u, C, ro, 0x300000, PAGE, 3);
      got.mapRoRead = yield* mapDma(u, C, ro, 0x300000, PAGE, 1);
      // bad ioctl argument pointers
      got.mapBadPtr = yield* ioctl(u, C, VFIO.IOMMU_MAP_DMA, 0x10);
      got.unmapBadPtr = yield* ioctl(u, C, VFIO.IOMMU_UNMAP_DMA, 0x10);
      got.infoBadPtr = yield* ioctl(u, C, VFIO.IOMMU_GET_INFO, 0x10);
      got.statusBadPtr = yield* ioctl(u, fds.group, VFIO.GROUP_GET_STATUS, 0x10);
      got.deviceBadPtr = yield* ioctl(u, fds.group, VFIO.GROUP_GET_DEVICE_FD, 0x10);
      const info = new UStruct(u, 16);
      info.u32(0, 15);
      got.infoShortArgsz = yield* ioctl(u, C, VFIO.IOMMU_GET_INFO, info.va);

      // MMIO through a BAR mmap: mapped (peer-to-peer), neither pinned nor charged
      const dev = yield* ioctl(u, fds.group, VFIO.GROUP_GET_DEVICE_FD, u.str(TESTDEV));
      const bar = yield* mmap(u, PAGE, PROT_RW, MAP_SHARED, dev, 0);
      cpu.ld32(bar); // memory is on: the page is there
      const lck2 = yield* statusKb(u, 'VmLck');
      got.mapBar = yield* mapDma(u, C, bar, 0x400000, PAGE);
      got.barLck = (yield* statusKb(u, 'VmLck')) - lck2;
      got.barTranslates = dom.ops.iovaToPhys!(dom, 0x400000) === pci_resource_start(pdev, 0);

      // UNMAP_DMA checks (v2)
      const a = yield* mmap(u, 8 * PAGE);
      got.mapA = yield* mapDma(u, C, a, 0x500000, 4 * PAGE);
      got.mapB = yield* mapDma(u, C, a + 4 * PAGE, 0x504000, 4 * PAGE);
      const um = new UStruct(u, 24);
      um.u32(0, 23);
      um.u64(8, 0x500000);
      um.u64(16, PAGE);
      got.unmapArgsz = yield* ioctl(u, C, VFIO.IOMMU_UNMAP_DMA, um.va);
      got.unmapUnknownFlag = yield* unmapDma(u, C, 0x500000, PAGE, 1 << 5);
      got.unmapDirty = yield* unmapDma(u, C, 0x500000, PAGE, 1);
      got.unmapVaddr = yield* unmapDma(u, C, 0x500000, PAGE, 4);
      got.unmapIovaUnaligned = yield* unmapDma(u, C, 0x500800, PAGE);
      got.unmapSize0 = yield* unmapDma(u, C, 0x500000, 0);
      got.unmapSizeUnaligned = yield* unmapDma(u, C, 0x500000, 100);
      got.unmapWrap = yield* unmapDma(u, C, 0x500000, 2n ** 64n - 4096n);
      got.unmapAllWithRange = yield* unmapDma(u, C, 0x500000, PAGE, 2);
      got.unmapBisectStart = yield* unmapDma(u, C, 0x501000, 7 * PAGE);
      got.unmapBisectEnd = yield* unmapDma(u, C, 0x500000, 6 * PAGE);
      got.unmapNothing = yield* unmapDma(u, C, 0x600000, 16 * PAGE);
      const lck3 = yield* statusKb(u, 'VmLck');
      got.unmapBoth = yield* unmapDma(u, C, 0x4ff000, 10 * PAGE);
      got.unmapLck = lck3 - (yield* statusKb(u, 'VmLck'));
      // dma_entry_limit=8 on the command line: 8 mappings, then -ENOSPC (after the -EEXIST check, before the IOVA check)
      const lim = yield* mmap(u, 16 * PAGE);
      const results: number[] = [];
      for (let i = 0; i < 8; i++) results.push(yield* mapDma(u, C, lim + i * PAGE, 0x700000 + i * PAGE, PAGE));
      got.fill = results;
      got.limitNext = yield* mapDma(u, C, lim + 8 * PAGE, 0x700000 + 8 * PAGE, PAGE);
      got.limitOverlap = yield* mapDma(u, C, lim + 8 * PAGE, 0x700000, PAGE);
      got.limitMsiWindow = yield* mapDma(u, C, lim + 8 * PAGE, 0x8000000, PAGE);
      const gi = new UStruct(u, 256);
      gi.u32(0, 256);
      yield* ioctl(u, C, VFIO.IOMMU_GET_INFO, gi.va);
      let availOff = 0;
      for (let off = gi.u32(16); off !== 0; off = gi.u32(off + 4)) if ((gi.u32(off) & 0xffff) === 3) availOff = off;
      got.availAtLimit = gi.u32(availOff + 8);
      // a child process maps through the same container: the parent cannot unmap it (same-mm rule)
      const childMap = yield* u.fork(function* (c) {
        const cb = yield* mmap(c, PAGE);
        c.cpu.st32(cb, 1);
        const r = yield* unmapDma(c, C, 0x700000, PAGE);
        return r[0] === 0 && r[1] === 0 ? 0 : 1;
      });
      got.childUnmapOthers = (yield* u.wait(childMap))[1] >> 8;
      const [allR, allSize] = yield* unmapDma(u, C, 0, 0, 2);
      got.unmapAll = [allR, allSize];
      got.lckAfterAll = yield* statusKb(u, 'VmLck');
      got.migrateAfterUnmap = migrateUserPage(buf + PAGE);

      // RLIMIT_MEMLOCK: as root (CAP_IPC_LOCK) the limit is bypassed; a child that dropped root is held to it
      const rl = new UStruct(u, 16);
      rl.u64(0, 8 * PAGE);
      rl.u64(8, 8 * PAGE);
      yield* u.sys(NR.__NR_setrlimit, 8, rl.va);
      const big = yield* mmap(u, 16 * PAGE);
      got.rootOverLimit = yield* mapDma(u, C, big, 0x800000, 16 * PAGE);
      got.rootLck = yield* statusKb(u, 'VmLck');
      const pid = yield* u.fork(function* (c) {
        yield* c.sys(NR.__NR_setuid, 1000);
        const b = yield* mmap(c, 16 * PAGE);
        const r1 = yield* mapDma(c, C, b, 0x900000, 6 * PAGE);
        const l1 = yield* statusKb(c, 'VmLck');
        const r2 = yield* mapDma(c, C, b + 6 * PAGE, 0x906000, 4 * PAGE);
        const l2 = yield* statusKb(c, 'VmLck');
        const r3 = yield* mapDma(c, C, b + 6 * PAGE, 0x906000, 2 * PAGE);
        const l3 = yield* statusKb(c, 'VmLck');
        const r4 = yield* unmapDma(c, C, 0x900000, 8 * PAGE);
        const l4 = yield* statusKb(c, 'VmLck');
        // reaching the limit exactly is allowed
        const ok = r1 === 0 && l1 === 24 && r2 === ENOMEM && l2 === 24 && r3 === 0 && l3 === 32 && r4[0] === 0 && r4[1] === 8 * PAGE && l4 === 0;
        return ok ? 0 : 1;
      });
      got.childRlimit = (yield* u.wait(pid))[1] >> 8;
      // the BAR mapping holds the device file (and so the group and the container) open
      yield* u.sys(NR.__NR_close, dev);
      yield* u.sys(NR.__NR_close, fds.group);
      yield* u.sys(NR.__NR_close, fds.container);
      got.lckWhileBarMapped = yield* statusKb(u, 'VmLck');
      yield* u.sys(NR.__NR_munmap, bar, PAGE);
      // the VMA held the last reference of the device file: its release (with the FLR, 100 ms) is task work, done before munmap returns
      got.lckAfterClose = yield* statusKb(u, 'VmLck');

      // v1 (TYPE1): an unmap starting inside a mapping unmaps nothing; one covering its first IOVA unmaps all of it
      const v1 = yield* openContainerGroup(u, TESTDEV, VFIO.TYPE1_IOMMU);
      if (typeof v1 === 'string') {
        got.v1 = v1;
        return 1;
      }
      const vb = yield* mmap(u, 8 * PAGE);
      got.v1Map = yield* mapDma(u, v1.container, vb, 0x200000, 4 * PAGE);
      got.v1Map2 = yield* mapDma(u, v1.container, vb + 4 * PAGE, 0x204000, 4 * PAGE);
      got.v1Inside = yield* unmapDma(u, v1.container, 0x201000, PAGE);
      got.v1First = yield* unmapDma(u, v1.container, 0x200000, PAGE);
      got.v1Rest = yield* unmapDma(u, v1.container, 0x1ff000, 0x10000);
      yield* u.sys(NR.__NR_close, v1.group);
      yield* u.sys(NR.__NR_close, v1.container);
      return 0;
    },
    { args: 'vfio_iommu_type1.dma_entry_limit=12' },
  );

  it('runs to the end without an oops', () => {
    expect(got.setup).toBeUndefined();
    expect(run.code).toBe(0);
    expect(oops_count()).toBe(0);
  });

  it('MAP_DMA: short argsz, unknown flags, neither READ nor WRITE, the (unsupported) VADDR flag -EINVAL', () => {
    expect([got.mapArgsz, got.mapUnknownFlag, got.mapNoPerm, got.mapVaddrFlag]).toEqual([EINVAL, EINVAL, EINVAL, EINVAL]);
  });

  it('MAP_DMA: size 0, IOVA/vaddr/size not page aligned, IOVA or vaddr wrap: -EINVAL', () => {
    expect([got.mapSize0, got.mapIovaUnaligned, got.mapVaddrUnaligned, got.mapSizeUnaligned]).toEqual([EINVAL, EINVAL, EINVAL, EINVAL]);
    expect([got.mapIovaWrap, got.mapIovaWrap2, got.mapVaddrWrap]).toEqual([EINVAL, EINVAL, EINVAL]);
  });

  it('MAP_DMA pins long-term: ZONE_MOVABLE pages are migrated out first (data kept), only the mapped pages are pinned, VmLck grows by the mapping', () => {
    expect(got.map).toBe(0);
    expect(got.movableBefore).toEqual([true, true, true, true]);
    expect(got.movableAfter).toEqual([false, false, false, false]);
    expect(got.dataKept).toEqual([0xc0de0000, 0xc0de0001, 0xc0de0002, 0xc0de0003]);
    expect(got.pinned).toEqual([true, true, true, true, false]);
    expect(got.vmLck).toBe(16);
    expect(got.translates).toBe(true);
  });

  it('a pinned page is not migrated, compacted or swapped out (MADV_PAGEOUT swaps its unpinned neighbours)', () => {
    expect(got.migratePinned).toBe(1);
    expect(got.pageout).toBe(0);
    expect(got.pinnedStayed).toBe(true);
    expect(got.unpinnedSwapped).toBe(true);
    expect(got.stillTranslates).toBe(true);
  });

  it('MAP_DMA: overlap -EEXIST (alignment is checked before it); outside the valid IOVA list (MSI window, straddling it, past the aperture) -EINVAL', () => {
    expect(got.mapOverlap).toBe(EEXIST);
    expect(got.mapOverlapUnaligned).toBe(EINVAL);
    expect([got.mapMsiWindow, got.mapStraddle, got.mapPastAperture]).toEqual([EINVAL, EINVAL, EINVAL]);
  });

  it('MAP_DMA: unmapped or partly unmapped user memory -EFAULT with nothing left pinned or charged; device-writable needs a writable buffer', () => {
    expect(got.mapUnmappedVaddr).toBe(EFAULT);
    expect(got.mapHalfUnmapped).toBe(EFAULT);
    expect(got.mapHalfAfter).toBe(0);
    expect(got.lckAfterFailures).toBe(8);
    expect(got.mapRoWrite).toBe(EFAULT);
    expect(got.mapRoRead).toBe(0);
  });

  it('bad argument pointers: -EFAULT from MAP, UNMAP, GET_INFO, GROUP_GET_STATUS and GET_DEVICE_FD; GET_INFO argsz below 16 -EINVAL', () => {
    expect([got.mapBadPtr, got.unmapBadPtr, got.infoBadPtr, got.statusBadPtr, got.deviceBadPtr]).toEqual([EFAULT, EFAULT, EFAULT, EFAULT, EFAULT]);
    expect(got.infoShortArgsz).toBe(EINVAL);
  });

  it('a BAR mmapped through vfio-pci maps into the IOMMU at its bus address, neither pinned nor charged', () => {
    expect(got.mapBar).toBe(0);
    expect(got.barLck).toBe(0);
    expect(got.barTranslates).toBe(true);
  });

  it('UNMAP_DMA: short argsz, unknown/dirty/vaddr flags, unaligned IOVA or size, size 0, wrap, ALL with a range: -EINVAL, the struct left as it was', () => {
    expect(got.unmapArgsz).toBe(EINVAL);
    for (const k of ['unmapUnknownFlag', 'unmapDirty', 'unmapVaddr', 'unmapIovaUnaligned', 'unmapSizeUnaligned', 'unmapAllWithRange']) expect([k, got[k]]).toEqual([k, [EINVAL, k === 'unmapSizeUnaligned' ? 100 : 4096]]);
    expect(got.unmapSize0).toEqual([EINVAL, 0]);
    expect(got.unmapWrap).toEqual([EINVAL, 2 ** 64 - 4096]);
  });

  it('UNMAP_DMA v2: bisecting a mapping at either end -EINVAL; a range with no mapping is 0 bytes; a range covering two mappings unmaps both and uncharges them', () => {
    expect([got.mapA, got.mapB]).toEqual([0, 0]);
    expect(got.unmapBisectStart).toEqual([EINVAL, 7 * PAGE]);
    expect(got.unmapBisectEnd).toEqual([EINVAL, 6 * PAGE]);
    expect(got.unmapNothing).toEqual([0, 0]);
    expect(got.unmapBoth).toEqual([0, 8 * PAGE]);
    expect(got.unmapLck).toBe(32);
  });

  it('dma_entry_limit: the limit-th mapping fails -ENOSPC; overlap is still -EEXIST and -ENOSPC comes before the IOVA check; DMA_AVAIL reports 0', () => {
    expect(got.fill).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(got.limitNext).toBe(ENOSPC);
    expect(got.limitOverlap).toBe(EEXIST);
    expect(got.limitMsiWindow).toBe(ENOSPC);
    expect(got.availAtLimit).toBe(0);
  });

  it('only the mm that mapped may unmap: another process gets 0 bytes; UNMAP_ALL unmaps everything of ours', () => {
    expect(got.childUnmapOthers).toBe(0);
    expect(got.unmapAll).toEqual([0, 4 * PAGE + 2 * PAGE + PAGE + PAGE + 8 * PAGE]);
    expect(got.lckAfterAll).toBe(0);
    expect(got.migrateAfterUnmap).toBe(0);
  });

  it('RLIMIT_MEMLOCK: root (CAP_IPC_LOCK) maps past it and is still charged; without the capability the map that passes the limit is -ENOMEM with nothing charged', () => {
    expect(got.rootOverLimit).toBe(0);
    expect(got.rootLck).toBe(64);
    expect(got.childRlimit).toBe(0);
  });

  it('the mappings live until the last user of the container goes: an mmap of a BAR keeps the device file open; its munmap releases everything', () => {
    expect(got.lckWhileBarMapped).toBe(64);
    expect(got.lckAfterClose).toBe(0);
  });

  it('UNMAP_DMA v1: starting inside a mapping unmaps 0 bytes; covering its first IOVA unmaps all of it', () => {
    expect([got.v1Map, got.v1Map2]).toEqual([0, 0]);
    expect(got.v1Inside).toEqual([0, 0]);
    expect(got.v1First).toEqual([0, 4 * PAGE]);
    expect(got.v1Rest).toEqual([0, 4 * PAGE]);
  });
});
