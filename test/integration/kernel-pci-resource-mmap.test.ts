// /sys/bus/pci/devices/<bdf>/resource<N> (drivers/pci/pci-sysfs.c, drivers/pci/mmap.c
// pci_mmap_resource_range): root maps BAR0 of the iommu-testdev (00:02.0) and reads and
// writes its registers with plain loads and stores at EL0. The mapping is a PFN map
// (VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP) of Device-nGnRE memory: gup refuses
// it, fork copies its PTEs (shared, no COW), pagemap reports it as a hole, munmap
// removes it. The range must lie inside the BAR (-EINVAL); the file is 0600 root.

import { describe, expect, it } from 'vitest';
import type { ArchCpu } from '../../src/arch/index.js';
import { pci_devices, pci_resource_start } from '../../src/kernel/drivers/pci/pci.js';
import { oops_count } from '../../src/kernel/kernel/panic.js';
import { FOLL_WRITE, get_user_pages, pin_user_pages } from '../../src/kernel/mm/gup.js';
import { follow_pte, type FollowResult } from '../../src/kernel/mm/memory.js';
import { vma_lookup } from '../../src/kernel/mm/mmap.js';
import { VM_DONTDUMP, VM_DONTEXPAND, VM_IO, VM_PFNMAP, VM_SHARED } from '../../src/kernel/mm/mm_types.js';
import { MT_DEVICE_nGnRE, PTE_ATTRINDX_SHIFT, pte_lookup, pte_read } from '../../src/kernel/mm/pgtable.js';
import { current } from '../../src/kernel/sched/core.js';
import * as NR from '../../src/kernel/syscalls/numbers.js';
import { TraceKind } from '../../src/trace/record.js';
import { bootKernel } from '../support/kernel-boot.js';
import { UserCtx } from '../support/kernel-user.js';

const PAGE = 4096;
const AT_FDCWD = -100;
const O_RDONLY = 0;
const O_RDWR = 2;
const PROT_RW = 3;
const MAP_SHARED = 0x01;
const RESOURCE0 = '/sys/bus/pci/devices/0000:00:02.0/resource0';
const X_ID = 0x5c;
const X_ID_SVAX = 0x58415653;
const DMA_GVA_LO = 0x04;

describe('mmap of a PCI BAR through sysfs resource0', () => {
  const got: Record<string, unknown> = {};
  let va = 0;
  const { machine, handle } = bootKernel({
    programs: {
      init: function* (cpu: ArchCpu, sp: number) {
        const u = new UserCtx(cpu, sp);
        const fd = yield* u.sys(NR.__NR_openat, AT_FDCWD, u.str(RESOURCE0), O_RDWR, 0);
        if (fd < 0) return 10;
        const st = u.alloc(128);
        yield* u.sys(NR.__NR_fstat, fd, st);
        got.size = u.cpu.ld64(st + 48);
        got.mode = u.cpu.ld32(st + 16) & 0o7777;
        got.read = yield* u.sys(NR.__NR_read, fd, u.alloc(16), 16);
        got.beyond = yield* u.sys(NR.__NR_mmap, 0, PAGE, PROT_RW, MAP_SHARED, fd, PAGE);
        got.tooLong = yield* u.sys(NR.__NR_mmap, 0, 2 * PAGE, PROT_RW, MAP_SHARED, fd, 0);
        va = yield* u.sys(NR.__NR_mmap, 0, PAGE, PROT_RW, MAP_SHARED, fd, 0);
        if (va < 0) return 11;
        // plain loads and stores reach the device's registers
        got.id = cpu.ld32(va + X_ID) >>> 0;
        cpu.st32(va + DMA_GVA_LO, 0x1234_5000);
        got.gva = cpu.ld32(va + DMA_GVA_LO) >>> 0;
        // the VMA and its PTE, as the kernel keeps them
        const mm = current().mm!;
        const vma = vma_lookup(mm, va)!;
        got.flags = vma.vm_flags & (VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP | VM_SHARED);
        got.pgoff = vma.vm_pgoff;
        const ptep = pte_lookup(cpu, mm, va);
        got.attrIndx = (pte_read(cpu, ptep) >>> PTE_ATTRINDX_SHIFT) & 7;
        const fr: FollowResult = { pfn: -1, writable: false, special: false, swapOffset: -1, dirty: false };
        follow_pte(mm, va, fr);
        got.pte = [fr.pfn, fr.special, fr.writable];
        // gup and pins refuse PFN maps
        got.pin = pin_user_pages(va, 1, FOLL_WRITE, []);
        got.get = get_user_pages(va, 1, 0, []);
        // pagemap: a hole, even for root (walk_page_test skips VM_PFNMAP)
        const pm = yield* u.sys(NR.__NR_openat, AT_FDCWD, u.str('/proc/self/pagemap'), O_RDONLY, 0);
        const e = u.alloc(8);
        yield* u.sys(NR.__NR_pread64, pm, e, 8, (va / PAGE) * 8);
        got.pagemap = [cpu.ld32(e), cpu.ld32(e + 4)];
        const maps = u.alloc(8192);
        const mfd = yield* u.sys(NR.__NR_openat, AT_FDCWD, u.str('/proc/self/maps'), O_RDONLY, 0);
        const n = yield* u.sys(NR.__NR_read, mfd, maps, 8192);
        got.maps = u.text(maps, Math.max(0, n));
        // fork copies the PTE: the child reaches the same registers without a fault
        const pid = yield* u.fork(function* (c) {
          const cmm = current().mm!;
          const cfr: FollowResult = { pfn: -1, writable: false, special: false, swapOffset: -1, dirty: false };
          follow_pte(cmm, va, cfr);
          if (cfr.pfn !== fr.pfn || !cfr.special || !cfr.writable) return 1;
          if (c.cpu.ld32(va + DMA_GVA_LO) >>> 0 !== 0x1234_5000) return 2;
          c.cpu.st32(va + DMA_GVA_LO, 0x6789_a000);
          return 0;
        });
        got.child = (yield* u.wait(pid))[1];
        got.afterChild = cpu.ld32(va + DMA_GVA_LO) >>> 0;
        // a user without root cannot open the 0600 root file
        const pid2 = yield* u.fork(function* (c) {
          yield* c.sys(NR.__NR_setuid, 1000);
          const r = yield* c.sys(NR.__NR_openat, AT_FDCWD, c.str(RESOURCE0), O_RDWR, 0);
          return -r;
        });
        got.nonRoot = -((yield* u.wait(pid2))[1] >> 8);
        got.munmap = yield* u.sys(NR.__NR_munmap, va, PAGE);
        follow_pte(mm, va, fr);
        got.afterUnmap = [vma_lookup(mm, va), fr.pfn];
        const pid3 = yield* u.fork(function* (c) {
          c.cpu.ld32(va + X_ID);
          return 0;
        });
        got.touchUnmapped = (yield* u.wait(pid3))[1] & 0x7f;
        return 0;
      },
    },
    files: { '/init': ['#!svasoc:init\n', 0o755] },
  });
  const mmio: { kind: number; pa: number; value: number }[] = [];
  machine.trace.subscribe((ring, i) => {
    const k = ring.kindAt(i);
    if (k !== TraceKind.MmioRead && k !== TraceKind.MmioWrite) return;
    const r = ring.at(i);
    mmio.push({ kind: k, pa: Number(r.pa), value: Number(r.value) });
  });
  const code = handle.runToPoweroff(10e9);
  const bar0 = pci_resource_start(pci_devices().find((d) => d.name === '0000:00:02.0')!, 0);

  it('root maps BAR0 and reads and writes its registers with loads and stores (MMIO on the bus)', () => {
    expect(code).toBe(0);
    expect(got.size).toBe(PAGE);
    expect(got.mode).toBe(0o600);
    expect(got.id).toBe(X_ID_SVAX);
    expect(got.gva).toBe(0x1234_5000);
    expect(mmio).toContainEqual({ kind: TraceKind.MmioRead, pa: bar0 + X_ID, value: X_ID_SVAX });
    expect(mmio).toContainEqual({ kind: TraceKind.MmioWrite, pa: bar0 + DMA_GVA_LO, value: 0x1234_5000 });
    expect(oops_count()).toBe(0);
  });

  it('the VMA is VM_IO|VM_PFNMAP|VM_DONTEXPAND|VM_DONTDUMP with vm_pgoff = the BAR PFN; the PTE is special Device-nGnRE', () => {
    expect(got.flags).toBe(VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP | VM_SHARED);
    expect(got.pgoff).toBe(bar0 / PAGE);
    expect(got.attrIndx).toBe(MT_DEVICE_nGnRE);
    expect(got.pte).toEqual([bar0 / PAGE, true, true]);
    const hex = (n: number): string => n.toString(16).padStart(8, '0');
    expect(got.maps).toMatch(new RegExp(`^${hex(va)}-${hex(va + PAGE)} rw-s ${hex(bar0)} [0-9a-f]{2}:[0-9a-f]{2} \\d+ +/sys/devices/\\S+/0000:00:02\\.0/resource0$`, 'm'));
  });

  it('pin_user_pages and get_user_pages refuse it (-EFAULT); pagemap shows a hole', () => {
    expect(got.pin).toBe(-14);
    expect(got.get).toBe(-14);
    expect(got.pagemap).toEqual([0, 0]);
  });

  it('fork copies the PFN map (same PFN, shared, writable): the parent sees the child\'s register write', () => {
    expect(got.child).toBe(0);
    expect(got.afterChild).toBe(0x6789_a000);
  });

  it('a range beyond the BAR is -EINVAL; read() is -EIO; a non-root open is -EACCES; after munmap the page is gone (SIGSEGV)', () => {
    expect(got.beyond).toBe(-22);
    expect(got.tooLong).toBe(-22);
    expect(got.read).toBe(-5);
    expect(got.nonRoot).toBe(-13);
    expect(got.munmap).toBe(0);
    expect(got.afterUnmap).toEqual([null, -1]);
    expect(got.touchUnmapped).toBe(11);
  });
});
