// VFIO ownership and lifetime on the booted board: group viability follows the IOMMU
// core's DMA ownership (a DMA API user in the group makes it not viable and
// SET_CONTAINER -EPERM); SET_CONTAINER's fd errors; a process killed while it holds a
// container, a device with MSI bound to an eventfd, a BAR mapping and pinned DMA
// memory leaves nothing behind (pins, charges, IRQs, ownership, the vfio domain);
// unbinding vfio-pci while the device is open asks the user through the REQ eventfd
// and waits for the close.

import { describe, expect, it } from 'vitest';
import * as NR from '../../src/kernel/syscalls/numbers.js';
import { oops_count } from '../../src/kernel/kernel/panic.js';
import { iommu_device_unuse_default_domain, iommu_device_use_default_domain, iommu_get_dma_domain, iommu_get_domain_for_dev, iommu_group_get } from '../../src/kernel/drivers/iommu/iommu.js';
import { pci_devices } from '../../src/kernel/drivers/pci/pci.js';
import { vfio_iommu_instances } from '../../src/kernel/drivers/vfio/vfio_iommu_type1.js';
import { folio_maybe_dma_pinned } from '../../src/kernel/mm/gup.js';
import { follow_pte, type FollowResult } from '../../src/kernel/mm/memory.js';
import { mem_map } from '../../src/kernel/mm/page_alloc.js';
import { VM, vm_stat } from '../../src/kernel/mm/vmstat.js';
import { show_interrupts } from '../../src/kernel/irq/irqdesc.js';
import { current } from '../../src/kernel/sched/core.js';
import { runMarked, sleepNs } from './kernel-iommu-harness.js';
import { MAP_SHARED, PROT_RW, TESTDEV, UStruct, VFIO, bindVfio, groupOf, ioctl, mapDma, mmap, open, openContainerGroup, writeFile } from './kernel-vfio-harness.js';

const PAGE = 4096;
const SIGKILL = 9;

describe('VFIO group viability, process exit and device removal', () => {
  const got: Record<string, unknown> = {};
  const run = runMarked(function* (u) {
    const cpu = u.cpu;
    yield* bindVfio(u, TESTDEV);
    const pdev = pci_devices().find((d) => d.name === TESTDEV)!;
    const gid = yield* groupOf(u, TESTDEV);

    // viability: a DMA API user of the IOMMU group (as a second device bound to a kernel driver would be)
    const container = yield* open(u, '/dev/vfio/vfio');
    const group = yield* open(u, `/dev/vfio/${gid}`);
    const st = new UStruct(u, 8);
    st.u32(0, 8);
    got.useDefault = iommu_device_use_default_domain(pdev);
    yield* ioctl(u, group, VFIO.GROUP_GET_STATUS, st.va);
    got.flagsInUse = st.u32(4);
    const fdp = u.alloc(4);
    cpu.st32(fdp, container);
    got.setContainerInUse = yield* ioctl(u, group, VFIO.GROUP_SET_CONTAINER, fdp);
    iommu_device_unuse_default_domain(pdev);
    yield* ioctl(u, group, VFIO.GROUP_GET_STATUS, st.va);
    got.flagsFree = st.u32(4);
    got.unsetNone = yield* ioctl(u, group, VFIO.GROUP_UNSET_CONTAINER);
    const efd = yield* u.sys(NR.__NR_eventfd2, 0, 0);
    cpu.st32(fdp, efd);
    got.setContainerEventfd = yield* ioctl(u, group, VFIO.GROUP_SET_CONTAINER, fdp);
    cpu.st32(fdp, 999);
    got.setContainerBadFd = yield* ioctl(u, group, VFIO.GROUP_SET_CONTAINER, fdp);
    got.setContainerBadPtr = yield* ioctl(u, group, VFIO.GROUP_SET_CONTAINER, 0x10);
    cpu.st32(fdp, container);
    got.setContainer = yield* ioctl(u, group, VFIO.GROUP_SET_CONTAINER, fdp);
    // while the group is in a container the DMA API may not take it (a kernel driver's probe would fail)
    got.useWhileOwned = iommu_device_use_default_domain(pdev);
    got.unset = yield* ioctl(u, group, VFIO.GROUP_UNSET_CONTAINER);
    got.ownerAfterUnset = iommu_group_get(pdev)!.owner;
    yield* u.sys(NR.__NR_close, group);
    yield* u.sys(NR.__NR_close, container);

    // a child holds everything and is killed while it waits for an interrupt
    const pinAcq0 = vm_stat[VM.nr_foll_pin_acquired]!;
    const pinRel0 = vm_stat[VM.nr_foll_pin_released]!;
    const pfns: number[] = [];
    const child = yield* u.fork(function* (c) {
      const fds = yield* openContainerGroup(c, TESTDEV);
      if (typeof fds === 'string') return 1;
      const b = yield* mmap(c, 16 * PAGE);
      for (let i = 0; i < 16; i++) c.cpu.st32(b + i * PAGE, i);
      if ((yield* mapDma(c, fds.container, b, 0x100000, 16 * PAGE)) !== 0) return 2;
      const fr: FollowResult = { pfn: -1, writable: false, special: false, swapOffset: -1, dirty: false };
      for (let i = 0; i < 16; i++) {
        follow_pte(current().mm!, b + i * PAGE, fr);
        pfns.push(fr.pfn);
      }
      const dev = yield* ioctl(c, fds.group, VFIO.GROUP_GET_DEVICE_FD, c.str(TESTDEV));
      const bar = yield* mmap(c, PAGE, PROT_RW, MAP_SHARED, dev, 0);
      if (bar < 0) return 3;
      const e = yield* c.sys(NR.__NR_eventfd2, 0, 0);
      const set = new UStruct(c, 24);
      set.u32(0, 24);
      set.u32(4, 4 | 32);
      set.u32(8, 1);
      set.u32(16, 1);
      set.u32(20, e);
      const sr = yield* ioctl(c, dev, VFIO.DEVICE_SET_IRQS, set.va);
      if (sr !== 0) return 4;
      got.childIrqs = show_interrupts().includes('vfio-msi[0]');
      got.childLck = current().mm!.locked_vm;
      // blocks forever: nothing will raise the MSI
      yield* c.sys(NR.__NR_read, e, c.alloc(8), 8);
      return 5;
    });
    // opening the device resets it (FLR: 100 ms); the child is blocked in read() well before 2 s
    yield* sleepNs(u, 2_000_000_000);
    got.pinnedWhileAlive = pfns.length === 16 && pfns.every((p) => folio_maybe_dma_pinned(p));
    got.domainWhileAlive = iommu_get_domain_for_dev(pdev) !== iommu_get_dma_domain(pdev);
    yield* u.sys(NR.__NR_kill, child, SIGKILL);
    const [, status] = yield* u.wait(child);
    got.childStatus = status & 0x7f;
    // the child's files, the BAR VMA's among them, are released in its exit_task_work, before the parent is notified
    got.instances = vfio_iommu_instances().size;
    got.pinsBalanced = vm_stat[VM.nr_foll_pin_acquired]! - pinAcq0 === vm_stat[VM.nr_foll_pin_released]! - pinRel0;
    got.pinsAcquired = vm_stat[VM.nr_foll_pin_acquired]! - pinAcq0;
    got.pagesFreed = pfns.every((p) => !folio_maybe_dma_pinned(p) && mem_map().refcount(p) === 0);
    got.irqsGone = !show_interrupts().includes('vfio-msi');
    got.ownerReleased = iommu_group_get(pdev)!.owner === null;
    got.defaultDomain = iommu_get_domain_for_dev(pdev) === iommu_get_dma_domain(pdev);
    const fds = yield* openContainerGroup(u, TESTDEV);
    got.reopen = typeof fds;
    if (typeof fds === 'string') return 1;

    // unbind while the device is open: the REQ eventfd is signalled, the unbind waits for the close
    const dev = yield* ioctl(u, fds.group, VFIO.GROUP_GET_DEVICE_FD, u.str(TESTDEV));
    const req = yield* u.sys(NR.__NR_eventfd2, 0, 0);
    const set = new UStruct(u, 24);
    set.u32(0, 24);
    set.u32(4, 4 | 32);
    set.u32(8, 4); // VFIO_PCI_REQ_IRQ_INDEX
    set.u32(16, 1);
    set.u32(20, req);
    got.setReq = yield* ioctl(u, dev, VFIO.DEVICE_SET_IRQS, set.va);
    const unbinder = yield* u.fork(function* (c) {
      // the copies of the VFIO fds fork gave us would keep the device open
      for (const fd of [dev, fds.group, fds.container, req]) yield* c.sys(NR.__NR_close, fd);
      const r = yield* writeFile(c, '/sys/bus/pci/drivers/vfio-pci/unbind', `${TESTDEV}\n`);
      return r > 0 ? 0 : 1;
    });
    const cnt = u.alloc(8);
    got.reqRead = yield* u.sys(NR.__NR_read, req, cnt, 8);
    got.reqCount = cpu.ld64(cnt);
    got.stillBound = pdev.driver?.name;
    yield* u.sys(NR.__NR_close, dev);
    yield* u.sys(NR.__NR_close, fds.group);
    yield* u.sys(NR.__NR_close, fds.container);
    const [, ust] = yield* u.wait(unbinder);
    got.unbindStatus = ust >> 8;
    got.unbound = pdev.driver === null;
    got.groupNode = yield* open(u, `/dev/vfio/${gid}`);
    return 0;
  });

  it('runs to the end without an oops', () => {
    expect(run.code).toBe(0);
    expect(oops_count()).toBe(0);
  });

  it('a DMA API user in the IOMMU group makes the VFIO group not viable and SET_CONTAINER -EPERM; without it VIABLE again', () => {
    expect(got.useDefault).toBe(0);
    expect(got.flagsInUse).toBe(0);
    expect(got.setContainerInUse).toBe(-1);
    expect(got.flagsFree).toBe(1);
  });

  it('SET_CONTAINER: an fd that is no container -EBADFD, no such fd -EBADF, a bad pointer -EFAULT; UNSET_CONTAINER without one -EINVAL', () => {
    expect(got.unsetNone).toBe(-22);
    expect(got.setContainerEventfd).toBe(-77);
    expect(got.setContainerBadFd).toBe(-9);
    expect(got.setContainerBadPtr).toBe(-14);
  });

  it('a group in a container owns its DMA: the DMA API cannot use it (-EBUSY) until UNSET_CONTAINER gives it back', () => {
    expect(got.setContainer).toBe(0);
    expect(got.useWhileOwned).toBe(-16);
    expect(got.unset).toBe(0);
    expect(got.ownerAfterUnset).toBe(null);
  });

  it('while the process lives its pages are pinned and charged, its MSI bound, the group in a vfio domain', () => {
    expect(got.pinnedWhileAlive).toBe(true);
    expect(got.domainWhileAlive).toBe(true);
    expect(got.childIrqs).toBe(true);
    expect(got.childLck).toBe(16);
  });

  it('killed, it leaves nothing: backend released, every pin returned and its pages freed, IRQ freed, ownership back, default domain; the group opens again', () => {
    expect(got.childStatus).toBe(SIGKILL);
    expect(got.instances).toBe(0);
    // FOLL_LONGTERM pinned the ZONE_MOVABLE pages, let go, migrated them and pinned again
    expect(got.pinsAcquired).toBe(32);
    expect(got.pinsBalanced).toBe(true);
    expect(got.pagesFreed).toBe(true);
    expect(got.irqsGone).toBe(true);
    expect(got.ownerReleased).toBe(true);
    expect(got.defaultDomain).toBe(true);
    expect(got.reopen).toBe('object');
  });

  it('unbinding vfio-pci while the device is open signals the REQ eventfd and completes once the user closes it; the group node goes', () => {
    expect(got.setReq).toBe(0);
    expect(got.reqRead).toBe(8);
    expect(got.reqCount).toBe(1);
    expect(got.stillBound).toBe('vfio-pci');
    expect(got.unbindStatus).toBe(0);
    expect(got.unbound).toBe(true);
    expect(got.groupNode).toBe(-2);
  });
});
