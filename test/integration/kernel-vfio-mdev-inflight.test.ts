// The ZIP mdev's mediation under pressure: UNMAP_DMA while the engine still works on
// the pages waits for the request (dma_unmap may sleep; the vendor must not unpin
// pages its device is using); the last close with a request in flight drains it;
// malformed doorbells and SQEs get errnos; seeded random SQEs never crash the kernel
// and leave nothing pinned once the device is closed.

import { describe, expect, it } from 'vitest';
import * as NR from '../../src/kernel/syscalls/numbers.js';
import { oops_count } from '../../src/kernel/kernel/panic.js';
import { runMarked, sleepNs } from './kernel-iommu-harness.js';
import { mapDma, mmap, statusKb, unmapDma, writeFile } from './kernel-vfio-harness.js';
import { COMP, PAGE, QUEUE_SIZE, createMdev, doorbell, mdevContainer, mdevDevice, readCqe, readSqe, readlink, removeMdev, uuid, waitCq, writeSqe } from './kernel-vfio-mdev-harness.js';

const EINVAL = -22;

describe('ZIP mdev: in-flight requests, malformed doorbells and random SQEs', () => {
  const got: Record<string, unknown> = {};
  const run = runMarked(
    function* (u) {
      const A = uuid(1);
      yield* createMdev(u, COMP, A);
      const c = yield* mdevContainer(u, A);
      if (typeof c === 'string') return (got.setup = c), 1;
      const buf = yield* mmap(u, 1024 * PAGE);
      for (let i = 0; i < 1024; i++) u.cpu.st32(buf + i * PAGE, (i * 2654435761) >>> 0);
      const lck0 = yield* statusKb(u, 'VmLck');
      yield* mapDma(u, c.container, buf, 0x1000000, 1024 * PAGE);
      let d = yield* mdevDevice(u, c.group, A);
      if (typeof d === 'string') return (got.setup = d), 1;
      // 2 MiB in flight, then UNMAP_DMA at once
      writeSqe(u, d.queue, 0, { src: 0x1000000, slen: 512 * PAGE, dst: 0x1200000, dlen: 512 * PAGE });
      got.db = yield* doorbell(u, d.device, 0, 1);
      got.inflightAtUnmap = readCqe(u, d.queue, 0).phase === 0;
      got.unmap = yield* unmapDma(u, c.container, 0x1000000, 1024 * PAGE);
      got.cqeAtUnmapReturn = readCqe(u, d.queue, 0);
      got.res = readSqe(u, d.queue, 0);
      got.lckUnmap = (yield* statusKb(u, 'VmLck')) - lck0;
      got.wait = yield* waitCq(u, d.device, 10);
      yield* doorbell(u, d.device, 1, 1);
      // malformed doorbells and SQEs: errnos, and the ring goes on
      yield* mapDma(u, c.container, buf, 0x1000000, 1024 * PAGE);
      for (let i = 0; i < 32; i++) u.cpu.st32(d.queue + 128 + i * 4, (i * 0x9e3779b9) >>> 0);
      got.garbage = yield* doorbell(u, d.device, 0, 2);
      got.badIndex = yield* doorbell(u, d.device, 0, 1024);
      got.badCmd = yield* doorbell(u, d.device, 2, 2);
      const b = u.alloc(8);
      got.shortWrite = yield* u.sys(NR.__NR_pwrite64, d.device, b, 4, 0x1000);
      got.otherOffset = yield* u.sys(NR.__NR_pwrite64, d.device, b, 8, 0x1008);
      got.readDoorbell = yield* u.sys(NR.__NR_pread64, d.device, b, 8, 0x1000);
      got.queueRead = yield* u.sys(NR.__NR_pread64, d.device, b, 8, 2 ** 40 + 128 + 12);
      got.queueReadPast = yield* u.sys(NR.__NR_pread64, d.device, b, 8, 2 ** 40 + QUEUE_SIZE - 4);
      writeSqe(u, d.queue, 1, { src: 0x1000000, slen: PAGE, dst: 0x1001000, dlen: 2 * PAGE });
      got.good = yield* doorbell(u, d.device, 0, 2);
      got.goodWait = yield* waitCq(u, d.device);
      got.goodRes = readSqe(u, d.queue, 1).status;
      yield* doorbell(u, d.device, 1, 2);
      // seeded random SQEs: random dwords, the buffers somewhere around the mapping
      let seed = 0x2545f491;
      const rnd = (): number => {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        return seed;
      };
      const results = new Map<number, number>();
      let idx = 2;
      for (let n = 0; n < 48; n++) {
        const a = d.queue + idx * 128;
        for (let k = 0; k < 32; k++) u.cpu.st32(a + 4 * k, rnd());
        // mostly flat deflate/zlib/gzip with lengths up to 64 KiB at IOVAs in or near the mapping
        u.cpu.st32(a + 36, (rnd() % 4) | ((rnd() % 5 === 0 ? 1 : 0) << 8));
        u.cpu.st32(a + 16, rnd() % 65536);
        u.cpu.st32(a + 56, rnd() % 65536);
        // stateless, with small SGE offsets (they add to the buffer lengths)
        u.cpu.st32(a + 28, ((rnd() & 0xfb000000) | (rnd() % 256)) >>> 0);
        u.cpu.st32(a + 32, rnd() % 256);
        u.cpu.st32(a + 72, 0x0ff0000 + (rnd() % (5 * 1024 * 1024)));
        u.cpu.st32(a + 76, 0);
        u.cpu.st32(a + 80, 0x0ff0000 + (rnd() % (5 * 1024 * 1024)));
        u.cpu.st32(a + 84, rnd() % 7 === 0 ? 1 : 0);
        const r = yield* doorbell(u, d.device, 0, idx + 1);
        results.set(r, (results.get(r) ?? 0) + 1);
        if (r === 8) {
          yield* waitCq(u, d.device, 1000);
          idx++;
          yield* doorbell(u, d.device, 1, idx);
        }
      }
      got.fuzz = Object.fromEntries(results);
      // the last close with a 2 MiB request in flight drains it and unpins everything
      writeSqe(u, d.queue, idx, { src: 0x1000000, slen: 512 * PAGE, dst: 0x1200000, dlen: 512 * PAGE });
      got.lastDb = yield* doorbell(u, d.device, 0, idx + 1);
      yield* u.sys(NR.__NR_munmap, d.queue, QUEUE_SIZE);
      got.close = yield* u.sys(NR.__NR_close, d.device);
      got.lckClosed = (yield* statusKb(u, 'VmLck')) - lck0;
      // and it opens again with a fresh ring
      d = yield* mdevDevice(u, c.group, A);
      if (typeof d === 'string') return (got.setup = d), 1;
      got.freshCqe = readCqe(u, d.queue, 0);
      writeSqe(u, d.queue, 0, { src: 0x1000000, slen: PAGE, dst: 0x1001000, dlen: 2 * PAGE });
      got.reopen = [yield* doorbell(u, d.device, 0, 1), yield* waitCq(u, d.device), readSqe(u, d.queue, 0).status];
      yield* u.sys(NR.__NR_munmap, d.queue, QUEUE_SIZE);
      yield* u.sys(NR.__NR_close, d.device);
      yield* u.sys(NR.__NR_close, c.group);
      yield* u.sys(NR.__NR_close, c.container);
      got.remove = yield* removeMdev(u, A);
      // unbinding the parent while a user holds an mdev open waits for the user to close it
      const B = uuid(2);
      yield* createMdev(u, COMP, B);
      const ts = u.alloc(16);
      const now = function* () {
        yield* u.sys(NR.__NR_clock_gettime, 1, ts);
        return u.cpu.ld64(ts) * 1e9 + u.cpu.ld64(ts + 8);
      };
      const holder = yield* u.fork(function* (k) {
        const kc = yield* mdevContainer(k, B);
        if (typeof kc === 'string') return 1;
        const kd = yield* mdevDevice(k, kc.group, B);
        if (typeof kd === 'string') return 1;
        yield* sleepNs(k, 2_000_000_000);
        yield* k.sys(NR.__NR_munmap, kd.queue, QUEUE_SIZE);
        yield* k.sys(NR.__NR_close, kd.device);
        return 0;
      });
      yield* sleepNs(u, 500_000_000);
      const t0 = yield* now();
      got.unbind = yield* writeFile(u, '/sys/bus/pci/drivers/hisi_zip/unbind', '0000:00:01.0\n');
      got.unbindWaitedNs = (yield* now()) - t0;
      got.holderExit = (yield* u.wait(holder))[1];
      got.mdevGone = yield* readlink(u, `/sys/bus/mdev/devices/${B}`);
      got.rebind = yield* writeFile(u, '/sys/bus/pci/drivers/hisi_zip/bind', '0000:00:01.0\n');
      return 0;
    },
    { args: 'hisi_zip.vfio_mdev=1', limitNs: 300e9 },
  );

  it('runs without an oops', () => {
    expect(got.setup).toBeUndefined();
    expect(run.code).toBe(0);
    expect(oops_count()).toBe(0);
  });

  it('UNMAP_DMA over pages of an in-flight request returns once the engine has finished with them: a good result, no device fault, nothing pinned', () => {
    expect(got.db).toBe(8);
    expect(got.inflightAtUnmap).toBe(true);
    expect(got.unmap).toEqual([0, 1024 * PAGE]);
    expect(got.cqeAtUnmapReturn).toEqual({ sqHead: 0, phase: 1 });
    expect(got.res).toMatchObject({ consumed: 512 * PAGE, status: 0 });
    expect(got.lckUnmap).toBe(0);
    expect(got.wait).toBe(0);
    expect(run.log.some((l) => /Controller resetting|axi_bresp|axi_rresp/.test(l))).toBe(false);
  });

  it('malformed doorbells are -EINVAL (a random SQE, an index past the ring, another command, a 4-byte store, another offset, a read); the queue region reads back and the ring goes on', () => {
    expect(got.garbage).toBe(EINVAL);
    expect(got.badIndex).toBe(EINVAL);
    expect(got.badCmd).toBe(EINVAL);
    expect(got.shortWrite).toBe(EINVAL);
    expect(got.otherOffset).toBe(EINVAL);
    expect(got.readDoorbell).toBe(EINVAL);
    expect(got.queueRead).toBe(8);
    expect(got.queueReadPast).toBe(EINVAL);
    expect([got.good, got.goodWait, got.goodRes]).toEqual([8, 0, 0]);
  });

  it('48 seeded random SQEs: each doorbell is submitted or refused with an errno', () => {
    const f = got.fuzz as Record<string, number>;
    expect(Object.values(f).reduce((a, b) => a + b, 0)).toBe(48);
    for (const k of Object.keys(f)) expect([8, -22, -1, -14, -12]).toContain(Number(k));
    expect(f['8']).toBeGreaterThan(0);
    expect(f['-22']).toBeGreaterThan(0);
  });

  it('unbinding the parent while an mdev is open waits until its user closes it, then removes the mdev', () => {
    expect(got.unbind).toBe(13);
    expect(got.unbindWaitedNs).toBeGreaterThanOrEqual(1_400_000_000);
    expect(got.holderExit).toBe(0);
    expect(run.log.some((l) => /hisi_zip_mdev 6a3c9e52-0b7d-4f41-9c2e-000000000002: Device is currently in use/.test(l))).toBe(true);
    expect(got.mdevGone).toBe(-2);
    expect(got.rebind).toBe(13);
  });

  it('the last close with a request in flight drains it and unpins everything; the next open starts a fresh ring that works', () => {
    expect(got.lastDb).toBe(8);
    expect(got.close).toBe(0);
    expect(got.lckClosed).toBe(0);
    expect(got.freshCqe).toEqual({ sqHead: 0, phase: 0 });
    expect(got.reopen).toEqual([8, 0, 0]);
    expect(got.remove).toBe(2);
  });
});
