// The canonical VFIO sequence (Documentation/driver-api/vfio.rst "VFIO Usage
// Example"; ../shared/reference/vfio-and-mm.md 2.1) by a user-space driver of the
// iommu-testdev: bind to vfio-pci through driver_override, container and group,
// TYPE1v2, GET_INFO with its capability chain, MAP_DMA of an anonymous buffer, the
// device fd with its regions and IRQs, BAR0 mmapped, config space through the fd, a
// DMA the device signals with its MSI on an eventfd; a DMA outside the mapping is
// stopped by the SMMU (an event, nothing written); reset; and close releases it all.

import { describe, expect, it } from 'vitest';
import * as NR from '../../src/kernel/syscalls/numbers.js';
import { TraceKind } from '../../src/trace/record.js';
import { oops_count } from '../../src/kernel/kernel/panic.js';
import { iommu_get_dma_domain, iommu_get_domain_for_dev, iommu_group_get } from '../../src/kernel/drivers/iommu/iommu.js';
import { pci_devices, pci_find_capability, pci_read_config_dword } from '../../src/kernel/drivers/pci/pci.js';
import { vfio_iommu_instances } from '../../src/kernel/drivers/vfio/vfio_iommu_type1.js';
import { mem_map } from '../../src/kernel/mm/page_alloc.js';
import { follow_pte } from '../../src/kernel/mm/memory.js';
import { current } from '../../src/kernel/sched/core.js';
import { runMarked } from './kernel-iommu-harness.js';
import { DMA_DBELL, DMA_GVA_HI, DMA_GVA_LO, DMA_LEN, DMA_RESULT, DMA_TRIGGERING, X_CTRL, X_CTRL_MSI, X_FAULT_LO, X_ID, X_OP_READ, X_OP_WRITE, X_READ_DATA } from '../../src/user/bin/vfio_testdev.js';
import { MAP_SHARED, PROT_RW, TESTDEV, UStruct, VFIO, bindVfio, groupOf, ioctl, mapDma, mmap, open, openContainerGroup } from './kernel-vfio-harness.js';

const IOVA = 0x100000;
const BUF = 64 * 1024;

describe('a user-space driver of the test device through VFIO (container, group, type1 v2, vfio-pci)', () => {
  const got: Record<string, unknown> = {};
  const run = runMarked(function* (u, t) {
    const cpu = u.cpu;
    got.bind = yield* bindVfio(u, TESTDEV);
    const pdev = pci_devices().find((d) => d.name === TESTDEV)!;
    got.driver = pdev.driver?.name;
    const gid = yield* groupOf(u, TESTDEV);
    got.groupId = gid;
    const container = yield* open(u, '/dev/vfio/vfio');
    got.apiVersion = yield* ioctl(u, container, VFIO.GET_API_VERSION);
    got.extV2 = yield* ioctl(u, container, VFIO.CHECK_EXTENSION, VFIO.TYPE1v2_IOMMU);
    got.extV1 = yield* ioctl(u, container, VFIO.CHECK_EXTENSION, VFIO.TYPE1_IOMMU);
    got.extCc = yield* ioctl(u, container, VFIO.CHECK_EXTENSION, 4);
    got.extBogus = yield* ioctl(u, container, VFIO.CHECK_EXTENSION, 77);
    got.setIommuNoGroup = yield* ioctl(u, container, VFIO.SET_IOMMU, VFIO.TYPE1v2_IOMMU);
    got.mapNoIommu = yield* mapDma(u, container, 0x1000, 0, 4096);
    const group = yield* open(u, `/dev/vfio/${gid}`);
    got.groupOpenTwice = yield* open(u, `/dev/vfio/${gid}`);
    const st = new UStruct(u, 8);
    st.u32(0, 8);
    got.status = yield* ioctl(u, group, VFIO.GROUP_GET_STATUS, st.va);
    got.statusFlags = st.u32(4);
    const fdp = u.alloc(4);
    cpu.st32(fdp, container);
    got.setContainer = yield* ioctl(u, group, VFIO.GROUP_SET_CONTAINER, fdp);
    got.setContainerAgain = yield* ioctl(u, group, VFIO.GROUP_SET_CONTAINER, fdp);
    got.status2 = yield* ioctl(u, group, VFIO.GROUP_GET_STATUS, st.va);
    got.statusFlags2 = st.u32(4);
    got.ownerClaimed = iommu_group_get(pdev)!.owner !== null;
    got.deviceBeforeIommu = yield* ioctl(u, group, VFIO.GROUP_GET_DEVICE_FD, u.str(TESTDEV));
    got.setIommu = yield* ioctl(u, container, VFIO.SET_IOMMU, VFIO.TYPE1v2_IOMMU);
    got.setIommuAgain = yield* ioctl(u, container, VFIO.SET_IOMMU, VFIO.TYPE1v2_IOMMU);
    // GET_INFO: first with the bare struct (argsz raised), then with room for the chain
    const info = new UStruct(u, 256);
    info.u32(0, 24);
    got.info = yield* ioctl(u, container, VFIO.IOMMU_GET_INFO, info.va);
    got.infoNeed = info.u32(0);
    got.infoFlags = info.u32(4);
    got.infoPgsizes = info.u64n(8);
    got.infoCapOff0 = info.u32(16);
    info.u32(0, 256);
    got.info2 = yield* ioctl(u, container, VFIO.IOMMU_GET_INFO, info.va);
    const caps: { id: number; ver: number; off: number }[] = [];
    for (let off = info.u32(16); off !== 0 && caps.length < 8; off = info.u32(off + 4)) caps.push({ id: info.u32(off) & 0xffff, ver: info.u32(off) >>> 16, off });
    got.caps = caps.map((c) => [c.id, c.ver]);
    const avail = caps.find((c) => c.id === 3);
    got.dmaAvail = avail ? info.u32(avail.off + 8) : -1;
    const ranges = caps.find((c) => c.id === 1);
    const list: [number, number][] = [];
    if (ranges) for (let i = 0; i < info.u32(ranges.off + 8); i++) list.push([info.u64(ranges.off + 16 + 16 * i), info.u64(ranges.off + 24 + 16 * i)]);
    got.iovaRanges = list;

    // MAP_DMA an anonymous buffer, untouched so far: the pin faults it in
    const buf = yield* mmap(u, BUF);
    got.map = yield* mapDma(u, container, buf, IOVA, BUF);
    got.mapAgain = yield* mapDma(u, container, buf, IOVA, BUF);
    const dom = iommu_get_domain_for_dev(pdev)!;
    got.domainIsVfio = dom !== iommu_get_dma_domain(pdev);
    got.iovaToPhys = dom.ops.iovaToPhys!(dom, IOVA + 0x2000);
    const f = { pfn: -1, writable: false, special: false, swapOffset: -1, dirty: false };
    follow_pte(current().mm!, buf + 0x2000, f);
    got.userPa = f.pfn * 4096;
    got.pinned = mem_map().refcount(f.pfn) >= 1024;

    // the device fd
    const dev = yield* ioctl(u, group, VFIO.GROUP_GET_DEVICE_FD, u.str(TESTDEV));
    got.devFd = dev;
    got.devBadName = yield* ioctl(u, group, VFIO.GROUP_GET_DEVICE_FD, u.str('0000:00:09.0'));
    const di = new UStruct(u, 24);
    di.u32(0, 24);
    got.devInfo = yield* ioctl(u, dev, VFIO.DEVICE_GET_INFO, di.va);
    got.devInfoFields = [di.u32(4), di.u32(8), di.u32(12)];
    const regions: Record<number, [number, number, number, number]> = {};
    for (const idx of [0, 1, 6, 7]) {
      const ri = new UStruct(u, 32);
      ri.u32(0, 32);
      ri.u32(8, idx);
      const r = yield* ioctl(u, dev, VFIO.DEVICE_GET_REGION_INFO, ri.va);
      regions[idx] = [r, ri.u32(4), ri.u64(16), ri.u64(24)];
    }
    got.regions = regions;
    const vga = new UStruct(u, 32);
    vga.u32(0, 32);
    vga.u32(8, 8);
    got.regionVga = yield* ioctl(u, dev, VFIO.DEVICE_GET_REGION_INFO, vga.va);
    const irqs: [number, number, number][] = [];
    for (let idx = 0; idx < 5; idx++) {
      const ii = new UStruct(u, 16);
      ii.u32(0, 16);
      ii.u32(8, idx);
      const r = yield* ioctl(u, dev, VFIO.DEVICE_GET_IRQ_INFO, ii.va);
      irqs.push([r, ii.u32(4), ii.u32(12)]);
    }
    got.irqs = irqs;
    got.devUnknownIoctl = yield* ioctl(u, dev, 0x3b7f);
    got.groupUnknownIoctl = yield* ioctl(u, group, 0x3b7f);
    got.containerUnknownIoctl = yield* ioctl(u, container, 0x3b7f);
    got.unsetBusy = yield* ioctl(u, group, VFIO.GROUP_UNSET_CONTAINER);

    // config space through the device fd: IDs, virtual BAR sizing, Command
    const CFG = 7 * 2 ** 40;
    const w = u.alloc(8);
    got.cfgId = (yield* u.sys(NR.__NR_pread64, dev, w, 4, CFG)) === 4 ? cpu.ld32(w) >>> 0 : -1;
    cpu.st32(w, 0xffffffff);
    yield* u.sys(NR.__NR_pwrite64, dev, w, 4, CFG + 0x10);
    yield* u.sys(NR.__NR_pread64, dev, w, 4, CFG + 0x10);
    got.barSizing = cpu.ld32(w) >>> 0;
    got.physBar = (pci_read_config_dword(pdev, 0x10) & ~0xf) >>> 0;
    got.resStart = pdev.resource[0]!.start;
    yield* u.sys(NR.__NR_pread64, dev, w, 2, CFG + 4);
    const cmd = cpu.ld16(w);
    cpu.st16(w, cmd | 0x6); // Memory + Bus Master
    got.cmdWrite = yield* u.sys(NR.__NR_pwrite64, dev, w, 2, CFG + 4);
    got.cfgPastEnd = yield* u.sys(NR.__NR_pread64, dev, w, 4, CFG + 4096);

    // BAR0 by pread and by mmap
    got.idByRead = (yield* u.sys(NR.__NR_pread64, dev, w, 4, X_ID)) === 4 ? cpu.ld32(w) >>> 0 : -1;
    const bar = yield* mmap(u, 4096, PROT_RW, MAP_SHARED, dev, 0);
    got.barMmap = bar > 0;
    got.idByMmap = cpu.ld32(bar + X_ID) >>> 0;
    got.privateMmap = yield* mmap(u, 4096, PROT_RW, 2, dev, 0);
    got.mmapPastBar = yield* mmap(u, 8192, PROT_RW, MAP_SHARED, dev, 0);

    // MSI on an eventfd
    const efd = yield* u.sys(NR.__NR_eventfd2, 0, 0);
    const set = new UStruct(u, 24);
    set.u32(0, 24);
    set.u32(4, 4 | 32); // DATA_EVENTFD | ACTION_TRIGGER
    set.u32(8, 1);
    set.u32(12, 0);
    set.u32(16, 1);
    set.u32(20, efd);
    got.setIrqs = yield* ioctl(u, dev, VFIO.DEVICE_SET_IRQS, set.va);

    // DMA: the device writes the pattern at IOVA through the SMMU, then raises its MSI
    const prog = function* (iova: number, len: number, ctrl: number): Generator<unknown, number, unknown> {
      cpu.st32(bar + DMA_GVA_LO, iova);
      cpu.st32(bar + DMA_GVA_HI, 0);
      cpu.st32(bar + DMA_LEN, len);
      cpu.st32(bar + X_CTRL, ctrl | X_CTRL_MSI);
      cpu.st32(bar + DMA_DBELL, 1);
      cpu.ld32(bar + DMA_TRIGGERING);
      const cnt = u.alloc(8);
      const n = yield* u.sys(NR.__NR_read, efd, cnt, 8);
      return n === 8 ? cpu.ld64(cnt) : n;
    };
    t.mark('dma');
    got.eventCount = yield* prog(IOVA + 0x2000, 256, X_OP_WRITE);
    got.result = cpu.ld32(bar + DMA_RESULT) >>> 0;
    got.written = [cpu.ld32(buf + 0x2000) >>> 0, cpu.ld32(buf + 0x2000 + 252) >>> 0, cpu.ld32(buf + 0x2000 + 256) >>> 0];
    cpu.st32(buf + 0x3000, 0x12345678);
    got.readResult = [yield* prog(IOVA + 0x3000, 4, X_OP_READ), cpu.ld32(bar + DMA_RESULT) >>> 0, cpu.ld32(bar + X_READ_DATA) >>> 0];
    t.mark('outside');
    got.outside = [yield* prog(IOVA + BUF, 64, X_OP_WRITE), cpu.ld32(bar + DMA_RESULT) >>> 0, cpu.ld32(bar + X_FAULT_LO) >>> 0];
    t.mark('end');
    got.afterOutside = cpu.ld32(buf + BUF - 4) >>> 0;

    // Memory Space off through the config region: BAR reads -EIO, the mapping faults SIGBUS; back on, both work
    cpu.st16(w, (cmd & ~0x2) | 0x4);
    yield* u.sys(NR.__NR_pwrite64, dev, w, 2, CFG + 4);
    got.barReadMemOff = yield* u.sys(NR.__NR_pread64, dev, w, 4, X_ID);
    const kid = yield* u.fork(function* (c) {
      c.cpu.ld32(bar + X_ID);
      return 0;
    });
    got.touchMemOff = (yield* u.wait(kid))[1] & 0x7f;
    cpu.st16(w, cmd | 0x6);
    yield* u.sys(NR.__NR_pwrite64, dev, w, 2, CFG + 4);
    got.idMemOn = cpu.ld32(bar + X_ID) >>> 0;
    // the MSI capability is virtual: what the user writes there never reaches the function
    const msi = pci_find_capability(pdev, 5);
    const hostAddr = pci_read_config_dword(pdev, msi + 4);
    cpu.st32(w, 0xfee00000);
    got.msiAddrWrite = yield* u.sys(NR.__NR_pwrite64, dev, w, 4, CFG + msi + 4);
    yield* u.sys(NR.__NR_pread64, dev, w, 4, CFG + msi + 4);
    got.msiAddrVirtual = cpu.ld32(w) >>> 0;
    got.msiAddrHost = pci_read_config_dword(pdev, msi + 4) === hostAddr && hostAddr !== 0xfee00000;

    // reset: the device's registers go back to reset values, the mapping stays usable
    cpu.st32(bar + DMA_LEN, 0x1234);
    got.reset = yield* ioctl(u, dev, VFIO.DEVICE_RESET);
    got.lenAfterReset = cpu.ld32(bar + DMA_LEN) >>> 0;
    got.afterReset = [yield* prog(IOVA, 16, X_OP_WRITE), cpu.ld32(bar + DMA_RESULT) >>> 0, cpu.ld32(buf) >>> 0];

    // close everything: back to the DMA API's default domain, pins released
    yield* u.sys(NR.__NR_munmap, bar, 4096);
    yield* u.sys(NR.__NR_close, efd);
    yield* u.sys(NR.__NR_close, dev);
    got.instancesOpen = vfio_iommu_instances().size;
    yield* u.sys(NR.__NR_close, group);
    yield* u.sys(NR.__NR_close, container);
    got.instancesClosed = vfio_iommu_instances().size;
    got.backToDefault = iommu_get_domain_for_dev(pdev) === iommu_get_dma_domain(pdev);
    got.ownerReleased = iommu_group_get(pdev)!.owner === null;
    got.unpinned = mem_map().refcount(f.pfn) < 1024;
    // and it can all be done again
    const again = yield* openContainerGroup(u, TESTDEV);
    got.again = typeof again === 'string' ? again : 'ok';
    return 0;
  });

  it('runs to the end without an oops', () => {
    expect(run.code).toBe(0);
    expect(oops_count()).toBe(0);
  });

  it('driver_override + unbind + drivers_probe binds vfio-pci, whose group node appears', () => {
    expect(got.bind).toBeGreaterThan(0);
    expect(got.driver).toBe('vfio-pci');
    expect(got.groupId).toBeGreaterThanOrEqual(0);
  });

  it('container: API version 0, TYPE1/TYPE1v2 supported, DMA_CC_IOMMU and unknown extensions not; SET_IOMMU needs a group; other ioctls -EINVAL before SET_IOMMU', () => {
    expect([got.apiVersion, got.extV2, got.extV1, got.extCc, got.extBogus]).toEqual([0, 1, 1, 0, 0]);
    expect(got.setIommuNoGroup).toBe(-22);
    expect(got.mapNoIommu).toBe(-22);
  });

  it('group: one opener (-EBUSY), VIABLE before SET_CONTAINER, VIABLE|CONTAINER_SET after, a second SET_CONTAINER -EINVAL, GET_DEVICE_FD before SET_IOMMU -EINVAL', () => {
    expect(got.groupOpenTwice).toBe(-16);
    expect([got.status, got.statusFlags]).toEqual([0, 1]);
    expect(got.setContainer).toBe(0);
    expect(got.setContainerAgain).toBe(-22);
    expect([got.status2, got.statusFlags2]).toEqual([0, 3]);
    expect(got.ownerClaimed).toBe(true);
    expect(got.deviceBeforeIommu).toBe(-22);
    expect([got.setIommu, got.setIommuAgain]).toEqual([0, -22]);
  });

  it('IOMMU_GET_INFO: PGSIZES|CAPS, iova_pgsizes 4K|2M|1G (the domain pgsize_bitmap), argsz raised when too small, then MIGRATION, DMA_AVAIL and IOVA_RANGE caps; the SMMU MSI window is carved out of the aperture', () => {
    expect(got.info).toBe(0);
    expect(got.infoNeed).toBeGreaterThan(24);
    expect(got.infoFlags).toBe(3);
    expect(got.infoPgsizes).toBe(0x1000n | 0x20_0000n | 0x4000_0000n);
    expect(got.infoCapOff0).toBe(0);
    expect(got.info2).toBe(0);
    expect(got.caps).toEqual([
      [2, 1],
      [3, 1],
      [1, 1],
    ]);
    expect(got.dmaAvail).toBe(65535);
    expect(got.iovaRanges).toEqual([
      [0, 0x7ffffff],
      [0x8100000, 2 ** 48 - 1],
    ]);
  });

  it('MAP_DMA pins the buffer and maps it in a vfio domain: the IOVA translates to the page the process sees; the same range again is -EEXIST', () => {
    expect(got.map).toBe(0);
    expect(got.mapAgain).toBe(-17);
    expect(got.domainIsVfio).toBe(true);
    expect(got.iovaToPhys).toBe(got.userPa);
    expect(got.pinned).toBe(true);
  });

  it('device: GET_INFO PCI|RESET, 9 regions, 5 irqs; BAR0 4 KiB RW+MMAP, BAR1 empty, ROM empty, CONFIG 4 KiB at 7<<40; VGA -EINVAL', () => {
    expect(got.devFd).toBeGreaterThan(0);
    expect(got.devBadName).toBe(-19);
    expect(got.devInfo).toBe(0);
    expect(got.devInfoFields).toEqual([3, 9, 5]);
    expect(got.regions).toEqual({
      0: [0, 7, 4096, 0],
      1: [0, 0, 0, 2 ** 40],
      6: [0, 0, 0, 6 * 2 ** 40],
      7: [0, 3, 4096, 7 * 2 ** 40],
    });
    expect(got.regionVga).toBe(-22);
  });

  it('IRQ info: INTx count 0 (not wired), MSI 1 NORESIZE, no MSI-X, ERR and REQ one each', () => {
    expect(got.irqs).toEqual([
      [0, 7, 0],
      [0, 9, 1],
      [0, 9, 0],
      [0, 9, 1],
      [0, 9, 1],
    ]);
  });

  it('unknown ioctls: -ENOTTY on device and group fds, -ENOTTY from type1 on the container; UNSET_CONTAINER with a device open -EBUSY', () => {
    expect(got.devUnknownIoctl).toBe(-25);
    expect(got.groupUnknownIoctl).toBe(-25);
    expect(got.containerUnknownIoctl).toBe(-25);
    expect(got.unsetBusy).toBe(-16);
  });

  it('config space: IDs read through the fd, BAR sizing is virtual (size mask, real BAR untouched), Command writes, past the end -EFAULT', () => {
    expect(got.cfgId).toBe(0x00051b36);
    expect(got.barSizing).toBe(0xfffff000);
    expect(got.physBar).toBe(got.resStart);
    expect(got.cmdWrite).toBe(2);
    expect(got.cfgPastEnd).toBe(-14);
  });

  it('BAR0 through pread and mmap (shared only, inside the BAR)', () => {
    expect(got.idByRead).toBe(0x58415653);
    expect(got.barMmap).toBe(true);
    expect(got.idByMmap).toBe(0x58415653);
    expect(got.privateMmap).toBe(-22);
    expect(got.mmapPastBar).toBe(-22);
  });

  it('the DMA lands in the pinned buffer and its MSI arrives on the eventfd; a read DMA sees what the CPU wrote', () => {
    expect(got.setIrqs).toBe(0);
    expect(got.eventCount).toBe(1);
    expect(got.result).toBe(0);
    expect(got.written).toEqual([0x12345678, 0x12345678, 0]);
    expect(got.readResult).toEqual([1, 0, 0x12345678]);
  });

  it('a DMA outside the mapping faults in the SMMU (an event, TX_FAIL at the IOVA) and writes nothing', () => {
    expect(got.outside).toEqual([1, 0xdead0002, IOVA + BUF]);
    expect(got.afterOutside).toBe(0);
    const a = run.marks.get('outside')!;
    const b = run.marks.get('end')!;
    const events = run.records.slice(a, b).filter((r) => r.kind === TraceKind.Event);
    expect(events.length).toBeGreaterThan(0);
    expect(events.some((e) => Number(e.iova) === IOVA + BUF)).toBe(true);
  });

  it('clearing Memory Space in the virtual Command register: BAR reads -EIO and the BAR mapping SIGBUS until it is set again', () => {
    expect(got.barReadMemOff).toBe(-5);
    expect(got.touchMemOff).toBe(7);
    expect(got.idMemOn).toBe(0x58415653);
  });

  it('the MSI capability is virtual: the user reads back its own address, the function keeps the host-programmed doorbell', () => {
    expect(got.msiAddrWrite).toBe(4);
    expect(got.msiAddrVirtual).toBe(0xfee00000);
    expect(got.msiAddrHost).toBe(true);
  });

  it('VFIO_DEVICE_RESET is an FLR: registers back to reset, config restored, DMA works again', () => {
    expect(got.reset).toBe(0);
    expect(got.lenAfterReset).toBe(0);
    expect(got.afterReset).toEqual([1, 0, 0x12345678]);
  });

  it('closing the fds releases the backend, the pins and the group ownership; the device goes back to its default domain', () => {
    expect(got.instancesOpen).toBe(1);
    expect(got.instancesClosed).toBe(0);
    expect(got.backToDefault).toBe(true);
    expect(got.ownerReleased).toBe(true);
    expect(got.unpinned).toBe(true);
    expect(got.again).toBe('ok');
  });
});
