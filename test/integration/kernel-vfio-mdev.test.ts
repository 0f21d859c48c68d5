// vfio-mdev with the ZIP's queues as mediated devices (hisi_zip.vfio_mdev=1): the
// sysfs of the mdev core (Documentation/driver-api/vfio-mediated-device.rst), every
// create/remove errno, available_instances following the QM's free queues, and the
// mediated data path: an SQE written in the mapped queue, the trapped doorbell, the
// engine's result and CQE back in the user's ring.

import { describe, expect, it } from 'vitest';
import { inflateRaw } from 'pako';
import * as NR from '../../src/kernel/syscalls/numbers.js';
import { oops_count } from '../../src/kernel/kernel/panic.js';
import { runMarked, readFile } from './kernel-iommu-harness.js';
import { MAP_SHARED, PROT_RW, UStruct, VFIO, ioctl, mapDma, mmap, open, writeFile } from './kernel-vfio-harness.js';
import { COMP, DECOMP, PAGE, QUEUE_SIZE, REGION_OFFSET, createMdev, deviceInfo, doorbell, mdevContainer, mdevDevice, readCqe, readSqe, readlink, regionInfo, removeMdev, uuid, waitCq, writeSqe } from './kernel-vfio-mdev-harness.js';

const EINVAL = -22;
const EEXIST = -17;
const EBUSY = -16;
const ENOSPC = -28;

describe('ZIP mdev: sysfs, create/remove and the mediated queue', () => {
  const got: Record<string, unknown> = {};
  const text = new Uint8Array(3 * PAGE);
  for (let i = 0; i < text.length; i++) text[i] = 'mediated devices share the parent\n'.charCodeAt(i % 34);
  const run = runMarked(
    function* (u) {
      const rd = function* (p: string) {
        const t = yield* readFile(u, p);
        return typeof t === 'string' ? t.trim() : t;
      };
      got.types = [yield* rd(`${COMP}/name`), yield* rd(`${COMP}/device_api`), yield* rd(`${DECOMP}/name`)];
      got.description = yield* rd(`${COMP}/description`);
      got.mdevBus = yield* readlink(u, `/sys/class/mdev_bus/0000:00:01.0`);
      const avail0 = Number(yield* rd(`${COMP}/available_instances`));
      got.avail0 = avail0;
      // create: UUID text of 36 bytes (+ newline)
      const A = uuid(1);
      got.createShort = yield* writeFile(u, `${COMP}/create`, A.slice(0, 35));
      got.createLong = yield* writeFile(u, `${COMP}/create`, `${A}xx`);
      got.createBad = yield* writeFile(u, `${COMP}/create`, A.replace('6a3c', '6g3c'));
      got.createBadDash = yield* writeFile(u, `${COMP}/create`, A.replace('-0b7d', 'x0b7d'));
      got.create = yield* createMdev(u, COMP, A);
      got.createDup = yield* createMdev(u, DECOMP, A.toUpperCase());
      got.avail1 = Number(yield* rd(`${COMP}/available_instances`));
      got.availDecomp1 = Number(yield* rd(`${DECOMP}/available_instances`));
      got.mdevType = yield* readlink(u, `/sys/bus/mdev/devices/${A}/mdev_type`);
      got.typeDevices = yield* readlink(u, `${COMP}/devices/${A}`);
      got.group = yield* readlink(u, `/sys/bus/mdev/devices/${A}/iommu_group`);
      // remove "0" does nothing, garbage is -EINVAL
      got.remove0 = yield* writeFile(u, `/sys/bus/mdev/devices/${A}/remove`, '0');
      got.removeBad = yield* writeFile(u, `/sys/bus/mdev/devices/${A}/remove`, 'yes');
      // open it through VFIO
      const c = yield* mdevContainer(u, A);
      if (typeof c === 'string') {
        got.setup = c;
        return 1;
      }
      const buf = yield* mmap(u, 16 * PAGE);
      u.cpu.writeVirt(buf, text);
      got.map = yield* mapDma(u, c.container, buf, 0x100000, 16 * PAGE);
      const d = yield* mdevDevice(u, c.group, A);
      if (typeof d === 'string') {
        got.setup = d;
        return 1;
      }
      got.info = yield* deviceInfo(u, d.device);
      got.region0 = yield* regionInfo(u, d.device, 0);
      got.region1 = yield* regionInfo(u, d.device, 1);
      got.region2 = yield* regionInfo(u, d.device, 2);
      // no IRQs and no reset: the vfio-platform/mtty answers for an index past num_irqs and a missing reset
      const irq = new UStruct(u, 24);
      irq.u32(0, 16);
      irq.u32(8, 0);
      got.irqInfo = yield* ioctl(u, d.device, VFIO.DEVICE_GET_IRQ_INFO, irq.va);
      irq.u32(0, 20);
      irq.u32(4, 1 | 32); // DATA_NONE | ACTION_TRIGGER
      irq.u32(8, 0);
      irq.u32(12, 0);
      irq.u32(16, 0);
      got.setIrqs = yield* ioctl(u, d.device, VFIO.DEVICE_SET_IRQS, irq.va);
      got.reset = yield* ioctl(u, d.device, VFIO.DEVICE_RESET);
      got.irqInfoFault = yield* ioctl(u, d.device, VFIO.DEVICE_GET_IRQ_INFO, 8);
      got.unknownIoctl = yield* ioctl(u, d.device, 0x3b00 | 150);
      got.mmapDoorbell = yield* mmap(u, 2 * PAGE, PROT_RW, MAP_SHARED, d.device, REGION_OFFSET(0));
      got.mmapShort = yield* mmap(u, PAGE, PROT_RW, MAP_SHARED, d.device, REGION_OFFSET(1));
      got.removeOpen = yield* removeMdev(u, A);
      // one compression: source at IOVA 0x100000 (3 pages), destination at 0x104000
      writeSqe(u, d.queue, 0, { src: 0x100000, slen: text.length, dst: 0x104000, dlen: 8 * PAGE, tag: 0xabcd });
      got.db = yield* doorbell(u, d.device, 0, 1);
      got.wait = yield* waitCq(u, d.device);
      got.cqe = readCqe(u, d.queue, 0);
      got.cqeNext = readCqe(u, d.queue, 1);
      const res = readSqe(u, d.queue, 0);
      got.res = res;
      got.out = u.bytes(buf + 4 * PAGE, res.produced);
      got.cqDb = yield* doorbell(u, d.device, 1, 1);
      got.cqDbTooFar = yield* doorbell(u, d.device, 1, 3);
      got.waitNone = yield* waitCq(u, d.device, 1);
      // the queue mapping holds the device file: unmap first, then the last close stops the queue
      yield* u.sys(NR.__NR_munmap, d.queue, QUEUE_SIZE);
      got.close = yield* u.sys(NR.__NR_close, d.device);
      yield* u.sys(NR.__NR_close, c.group);
      yield* u.sys(NR.__NR_close, c.container);
      got.remove = yield* removeMdev(u, A);
      got.removeAgain = yield* removeMdev(u, A);
      got.gone = yield* readlink(u, `${COMP}/devices/${A}`);
      got.busGone = yield* readlink(u, `/sys/bus/mdev/devices/${A}`);
      got.groupNode = yield* open(u, `/dev/vfio/${String(got.group).split('/').pop()}`);
      got.avail2 = Number(yield* rd(`${COMP}/available_instances`));
      // every free queue taken: the next create is -ENOSPC, in either type
      let made = 0;
      for (let i = 0; i < avail0; i++) if ((yield* createMdev(u, i % 2 ? COMP : DECOMP, uuid(100 + i))) > 0) made++;
      got.made = made;
      got.availFull = [Number(yield* rd(`${COMP}/available_instances`)), Number(yield* rd(`${DECOMP}/available_instances`))];
      got.createNoSpace = yield* createMdev(u, DECOMP, uuid(99));
      for (let i = 0; i < made; i++) yield* removeMdev(u, uuid(100 + i));
      got.availBack = Number(yield* rd(`${COMP}/available_instances`));
      // unbinding hisi_zip takes its mdevs and the types with it; binding again brings the types back
      yield* createMdev(u, COMP, uuid(7));
      got.unbind = yield* writeFile(u, '/sys/bus/pci/drivers/hisi_zip/unbind', '0000:00:01.0\n');
      got.afterUnbind = [yield* rd(`${COMP}/available_instances`), yield* readlink(u, `/sys/bus/mdev/devices/${uuid(7)}`), yield* readlink(u, '/sys/class/mdev_bus/0000:00:01.0')];
      got.bind = yield* writeFile(u, '/sys/bus/pci/drivers/hisi_zip/bind', '0000:00:01.0\n');
      got.afterBind = [yield* rd(`${COMP}/available_instances`), yield* readlink(u, `/sys/bus/mdev/devices/${uuid(7)}`)];
      got.createAfterBind = yield* createMdev(u, COMP, uuid(7));
      return 0;
    },
    { args: 'hisi_zip.vfio_mdev=1' },
  );

  it('boots and runs without an oops', () => {
    expect(got.setup).toBeUndefined();
    expect(run.code).toBe(0);
    expect(oops_count()).toBe(0);
  });

  it('types: <driver>-<name> directories with name, device_api, description and available_instances; /sys/class/mdev_bus links the parent', () => {
    expect(got.types).toEqual(['hisi_zip compression queue', 'vfio-platform', 'hisi_zip decompression queue']);
    expect(got.description).toMatch(/one ZIP queue pair \(compression\)/);
    expect(got.mdevBus).toBe('../../devices/pci0000:00/0000:00:01.0');
  });

  it('create takes a 36-character UUID (+ newline): short, long or malformed text is -EINVAL, a UUID in use (any case, any type) -EEXIST', () => {
    expect([got.createShort, got.createLong, got.createBad, got.createBadDash]).toEqual([EINVAL, EINVAL, EINVAL, EINVAL]);
    expect(got.create).toBe(37);
    expect(got.createDup).toBe(EEXIST);
  });

  it('available_instances is the QM free queue count, shared by both types: an mdev takes one queue, removing it gives it back', () => {
    expect(got.avail0).toBeGreaterThan(0);
    expect(got.avail1).toBe((got.avail0 as number) - 1);
    expect(got.availDecomp1).toBe(got.avail1);
    expect(got.avail2).toBe(got.avail0);
    expect(got.made).toBe(got.avail0);
    expect(got.availFull).toEqual([0, 0]);
    expect(got.availBack).toBe(got.avail0);
  });

  it('no queue left: create is -ENOSPC (the vendor probe fails, as mtty does)', () => {
    expect(got.createNoSpace).toBe(ENOSPC);
  });

  it('the mdev: mdev_type links the type, the type lists the mdev, it has an IOMMU group of its own', () => {
    expect(got.mdevType).toBe('../mdev_supported_types/hisi_zip-comp');
    expect(got.typeDevices).toBe('../../../6a3c9e52-0b7d-4f41-9c2e-000000000001');
    expect(got.group).toMatch(/kernel\/iommu_groups\/\d+$/);
  });

  it('remove: "0" does nothing, a non-number is -EINVAL, an open mdev -EBUSY; after the last close it goes with its links and group node', () => {
    expect(got.remove0).toBe(1);
    expect(got.removeBad).toBe(EINVAL);
    expect(got.removeOpen).toBe(EBUSY);
    expect(got.close).toBe(0);
    expect(got.remove).toBe(2);
    expect(got.removeAgain).toBe(-2);
    expect(got.gone).toBe(-2);
    expect(got.busGone).toBe(-2);
    expect(got.groupNode).toBe(-2);
  });

  it('device: VFIO_DEVICE_FLAGS_PLATFORM, 2 regions, no IRQs; region 0 the doorbell (WRITE only, 8 KiB), region 1 the queue (READ|WRITE|MMAP, SQ + CQ) at index << 40; no region 2', () => {
    expect(got.info).toEqual([0, 4, 2, 0]);
    expect(got.region0).toEqual([0, 2, 8192, 0]);
    expect(got.region1).toEqual([0, 7, 128 * 1024 + 16 * 1024, 2 ** 40]);
    expect((got.region2 as number[])[0]).toBe(EINVAL);
  });

  it('no IRQs and no reset: GET_IRQ_INFO and SET_IRQS of index 0 and VFIO_DEVICE_RESET are -EINVAL, a bad pointer -EFAULT; an unknown ioctl -ENOTTY', () => {
    expect([got.irqInfo, got.setIrqs, got.reset]).toEqual([EINVAL, EINVAL, EINVAL]);
    expect(got.irqInfoFault).toBe(-14);
    expect(got.unknownIoctl).toBe(-25);
  });

  it('the doorbell region cannot be mapped (it is trapped), and the queue region maps whole only', () => {
    expect(got.mmapDoorbell).toBe(EINVAL);
    expect(got.mmapShort).toBe(EINVAL);
  });

  it('an SQ doorbell mediates the SQE: the engine compresses the user IOVAs, the result and the user tag/addresses come back in the SQE, a CQE with phase 1 names SQ slot 0', () => {
    expect(got.map).toBe(0);
    expect(got.db).toBe(8);
    expect(got.wait).toBe(0);
    expect(got.cqe).toEqual({ sqHead: 0, phase: 1 });
    expect(got.cqeNext).toEqual({ sqHead: 0, phase: 0 });
    const res = got.res as { consumed: number; produced: number; status: number; tag: number; src: number; dst: number };
    expect(res).toMatchObject({ consumed: text.length, status: 0, tag: 0xabcd, src: 0x100000, dst: 0x104000 });
    expect(inflateRaw(got.out as Uint8Array)).toEqual(text);
  });

  it('a CQ doorbell acknowledges consumed CQEs (past the posted ones -EINVAL); WAIT with nothing to consume times out', () => {
    expect(got.cqDb).toBe(8);
    expect(got.cqDbTooFar).toBe(EINVAL);
    expect(got.waitNone).toBe(-110);
  });

  it('unbinding hisi_zip removes its mdevs, types and class link; binding again offers the types and a UUID can be reused', () => {
    expect(got.unbind).toBeGreaterThan(0);
    expect(got.afterUnbind).toEqual([-2, -2, -2]);
    expect(got.bind).toBeGreaterThan(0);
    expect(got.afterBind).toEqual([String(got.avail0), -2]);
    expect(got.createAfterBind).toBe(37);
  });
});
