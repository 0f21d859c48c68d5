// The emulated-IOMMU contract of type1 with two minimal vendor devices registered
// straight through vfio_register_emulated_iommu_dev (no mdev, no hardware): each
// gets a VFIO group of its own with /sys/kernel/iommu_groups/<n>/devices/<name>; one
// unpins in dma_unmap, so UNMAP_DMA over its pins succeeds after one notification;
// the other does not, and UNMAP_DMA BUG()s after 10 retries as Linux does (an oops
// that kills the caller; the kernel keeps running).

import { describe, expect, it } from 'vitest';
import { Device } from '../../src/kernel/drivers/base/core.js';
import { IOMMU_READ } from '../../src/kernel/drivers/iommu/iommu.js';
import { VfioDevice, vfio_pin_pages, vfio_register_emulated_iommu_dev, vfio_unpin_pages, vfio_unregister_group_dev } from '../../src/kernel/drivers/vfio/vfio_main.js';
import { oops_count, oops_messages } from '../../src/kernel/kernel/panic.js';
import * as NR from '../../src/kernel/syscalls/numbers.js';
import type { UserCtx } from '../support/kernel-user.js';
import { runMarked } from './kernel-iommu-harness.js';
import { VFIO, ioctl, mapDma, mmap, open, statusKb, unmapDma } from './kernel-vfio-harness.js';
import { PAGE, readlink } from './kernel-vfio-mdev-harness.js';

describe('type1 and emulated-IOMMU vendor devices: dma_unmap must unpin', () => {
  const got: Record<string, unknown> = {};
  const run = runMarked(function* (u) {
    const calls = { good: 0, bad: 0 };
    const good: VfioDevice = new VfioDevice(new Device('vendor-good'), {
      name: 'vendor-good',
      *dma_unmap(vdev, iova, length) {
        calls.good++;
        got.goodRange = [iova, length];
        vfio_unpin_pages(vdev, iova, length / PAGE);
      },
    });
    const bad: VfioDevice = new VfioDevice(new Device('vendor-bad'), {
      name: 'vendor-bad',
      *dma_unmap() {
        calls.bad++;
      },
    });
    const noUnmap: VfioDevice = new VfioDevice(new Device('vendor-no-dma-unmap'), { name: 'vendor-no-dma-unmap' });
    for (const v of [good, bad, noUnmap]) if ((yield* vfio_register_emulated_iommu_dev(v)) !== 0) return (got.setup = 'register'), 1;
    got.groups = [good.group!.id, bad.group!.id, noUnmap.group!.id];
    got.sysfsGroup = yield* readlink(u, `/sys/kernel/iommu_groups/${good.group!.id}/devices/vendor-good`);
    const openDev = function* (k: UserCtx, v: VfioDevice): Generator<unknown, { c: number; d: number } | string, unknown> {
      const c = yield* open(k, '/dev/vfio/vfio');
      const g = yield* open(k, `/dev/vfio/${v.group!.id}`);
      if (g < 0) return `group ${g}`;
      const fdp = k.alloc(4);
      k.cpu.st32(fdp, c);
      if ((yield* ioctl(k, g, VFIO.GROUP_SET_CONTAINER, fdp)) < 0) return 'SET_CONTAINER';
      if ((yield* ioctl(k, c, VFIO.SET_IOMMU, VFIO.TYPE1v2_IOMMU)) < 0) return 'SET_IOMMU';
      const d = yield* ioctl(k, g, VFIO.GROUP_GET_DEVICE_FD, k.str(v.name));
      if (d < 0) return `GET_DEVICE_FD ${d}`;
      return { c, d };
    };
    // a well-behaved vendor
    const gd = yield* openDev(u, good);
    if (typeof gd === 'string') return (got.setup = gd), 1;
    const buf = yield* mmap(u, 8 * PAGE);
    for (let i = 0; i < 8; i++) u.cpu.st32(buf + i * PAGE, i);
    const lck0 = yield* statusKb(u, 'VmLck');
    yield* mapDma(u, gd.c, buf, 0x100000, 8 * PAGE);
    got.goodPin = vfio_pin_pages(good, 0x100000, 8, IOMMU_READ, []);
    got.goodLck = (yield* statusKb(u, 'VmLck')) - lck0;
    got.goodUnmap = yield* unmapDma(u, gd.c, 0x100000, 8 * PAGE);
    got.goodCalls = calls.good;
    got.goodLckAfter = (yield* statusKb(u, 'VmLck')) - lck0;
    // a device without dma_unmap cannot pin (Linux: vfio_pin_pages -EINVAL)
    const gn = yield* openDev(u, noUnmap);
    if (typeof gn === 'string') return (got.setup = gn), 1;
    yield* mapDma(u, gn.c, buf, 0x100000, 8 * PAGE);
    got.noUnmapPin = vfio_pin_pages(noUnmap, 0x100000, 1, IOMMU_READ, []);
    // a vendor that keeps its pins: the unmapping task is killed by the BUG
    const oops0 = oops_count();
    const child = yield* u.fork(function* (k) {
      const bd = yield* openDev(k, bad);
      if (typeof bd === 'string') return (got.setup = bd), 1;
      const b = yield* mmap(k, 4 * PAGE);
      for (let i = 0; i < 4; i++) k.cpu.st32(b + i * PAGE, i);
      yield* mapDma(k, bd.c, b, 0x200000, 4 * PAGE);
      got.badPin = vfio_pin_pages(bad, 0x200000, 2, IOMMU_READ, []);
      got.badUnmapReturned = yield* unmapDma(k, bd.c, 0x200000, 4 * PAGE);
      return 0;
    });
    const [, status] = yield* u.wait(child);
    got.childSignal = status & 0x7f;
    got.badCalls = calls.bad;
    got.oopses = oops_count() - oops0;
    got.oopsText = oops_messages().at(-1);
    // unregistering after the users are gone
    for (const fd of [gd.d, gn.d]) yield* u.sys(NR.__NR_close, fd);
    for (const v of [good, noUnmap]) yield* vfio_unregister_group_dev(v);
    got.nodeGone = yield* open(u, `/dev/vfio/${good.group?.id ?? (got.groups as number[])[0]}`);
    return 0;
  });

  it('each emulated device has a group of its own, listed in /sys/kernel/iommu_groups', () => {
    expect(got.setup).toBeUndefined();
    expect(run.code).toBe(0);
    const g = got.groups as number[];
    expect(new Set(g).size).toBe(3);
    expect(got.sysfsGroup).toBe('../../../../devices/vendor-good');
  });

  it('a vendor that unpins in dma_unmap: UNMAP_DMA notifies it once with the mapping range and succeeds; the charge goes', () => {
    expect(got.goodPin).toBe(8);
    expect(got.goodLck).toBe(32);
    expect(got.goodUnmap).toEqual([0, 8 * PAGE]);
    expect(got.goodCalls).toBe(1);
    expect(got.goodRange).toEqual([0x100000, 8 * PAGE]);
    expect(got.goodLckAfter).toBe(0);
  });

  it('vfio_pin_pages needs a dma_unmap op (-EINVAL)', () => {
    expect(got.noUnmapPin).toBe(-22);
  });

  it('a vendor that keeps its pins: 11 notifications, then BUG (an oops), the unmapping task is killed', () => {
    expect(got.badPin).toBe(2);
    expect(got.badUnmapReturned).toBeUndefined();
    expect(got.badCalls).toBe(11);
    expect(got.oopses).toBe(1);
    expect(got.oopsText).toMatch(/kernel BUG at vfio_iommu_type1\.c: vendor driver kept 2 pinned page\(s\) at IOVA 0x200000/);
    expect(got.childSignal).toBe(9);
  });

  it('unregistering the device removes its group node', () => {
    expect(got.nodeGone).toBe(-2);
  });
});
