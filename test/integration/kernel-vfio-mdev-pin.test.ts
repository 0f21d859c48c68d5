// The emulated-IOMMU path of type1 (../shared/reference/vfio-and-mm.md section 3,
// drivers/vfio/vfio_iommu_type1.c external domain) as the ZIP mdev drives it: MAP_DMA
// of an mdev-only container pins and charges nothing; the vendor's vfio_pin_pages
// pins and charges each page once (a page pinned again is not charged again); prot
// and unmapped IOVAs are refused; RLIMIT_MEMLOCK holds at pin time; UNMAP_DMA makes
// the vendor unpin through dma_unmap; close and exit release everything; TYPE1 (v1)
// containers refuse vendor pins; an IOMMU-backed group joining the container pins the
// mappings without charging the vendor's pages twice, and leaving re-charges only the
// vendor's pages. Last, the pin hole the WarpDrive readme documents: once pinned, the
// device keeps the pages it pinned after MADV_DONTNEED gave the VMA new ones.

import { describe, expect, it } from 'vitest';
import { inflateRaw } from 'pako';
import * as NR from '../../src/kernel/syscalls/numbers.js';
import { oops_count } from '../../src/kernel/kernel/panic.js';
import { IOMMU_READ } from '../../src/kernel/drivers/iommu/iommu.js';
import { mdev_devices } from '../../src/kernel/drivers/vfio/mdev/mdev_core.js';
import { vfio_pin_pages, vfio_unpin_pages } from '../../src/kernel/drivers/vfio/vfio_main.js';
import { vfio_iommu_instances, vfio_iommu_vendor_pins, type VfioIommu } from '../../src/kernel/drivers/vfio/vfio_iommu_type1.js';
import { hisi_zip_mdev_state, type ZipMdevState } from '../../src/kernel/drivers/crypto/hisilicon/zip/zip-mdev.js';
import { folio_maybe_dma_pinned } from '../../src/kernel/mm/gup.js';
import type { UserCtx } from '../support/kernel-user.js';
import { runMarked } from './kernel-iommu-harness.js';
import { TESTDEV, UStruct, VFIO, bindVfio, groupOf, ioctl, mapDma, mmap, open, statusKb, unmapDma } from './kernel-vfio-harness.js';
import { COMP, PAGE, QUEUE_SIZE, createMdev, doorbell, mdevContainer, mdevDevice, readSqe, removeMdev, uuid, waitCq, writeSqe } from './kernel-vfio-mdev-harness.js';
import { pfnAt } from '../support/user-pages.js';

const EINVAL = -22;
const EPERM = -1;
const EACCES = -13;
const ENOMEM = -12;
const E2BIG = -7;
const MADV_DONTNEED = 4;

function stateOf(id: string): ZipMdevState {
  return hisi_zip_mdev_state(mdev_devices().find((m) => m.name === id)!)!;
}
function iommuOf(st: ZipMdevState): VfioIommu | undefined {
  return [...vfio_iommu_instances()].find((i) => i.emulatedGroups.includes(st.vdev.group!));
}

/** The user's side of one mdev queue: SQ index and CQ head it keeps. */
class Ring {
  idx = 0;
  constructor(
    readonly u: UserCtx,
    readonly device: number,
    readonly queue: number,
  ) {}
  /** One stateless deflate: the doorbell's result (8 or -errno); on success waits for the CQE and acknowledges it. */
  *submit(src: number, slen: number, dst: number, dlen: number, bufType = 0): Generator<unknown, number, unknown> {
    writeSqe(this.u, this.queue, this.idx, { src, slen, dst, dlen, bufType });
    const r = yield* doorbell(this.u, this.device, 0, this.idx + 1);
    if (r !== 8) return r;
    const w = yield* waitCq(this.u, this.device);
    this.idx++;
    yield* doorbell(this.u, this.device, 1, this.idx);
    return w === 0 ? r : w;
  }
  last(): ReturnType<typeof readSqe> {
    return readSqe(this.u, this.queue, this.idx - 1);
  }
}

function textOf(n: number, s: string): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = s.charCodeAt(i % s.length);
  return b;
}

describe('type1 emulated-IOMMU path through the ZIP mdev', () => {
  const got: Record<string, unknown> = {};
  const oldText = textOf(3 * PAGE, 'the device keeps the page it pinned\n');
  const newText = textOf(3 * PAGE, 'the VMA has a new page now\n');
  const run = runMarked(
    function* (u) {
      const A = uuid(0xa);
      const B = uuid(0xb);
      const D = uuid(0xd);
      const E = uuid(0xe);
      const H = uuid(0x40);
      for (const id of [A, B, D, E, H]) yield* createMdev(u, COMP, id);

      // ---- accounting, refusals, UNMAP_DMA, close (mdev A)
      const c = yield* mdevContainer(u, A);
      if (typeof c === 'string') return (got.setup = c), 1;
      const C = c.container;
      const buf = yield* mmap(u, 64 * PAGE);
      u.cpu.writeVirt(buf, oldText);
      for (let i = 3; i < 32; i++) u.cpu.st32(buf + i * PAGE, i);
      const ro = yield* mmap(u, 4 * PAGE, 1);
      const lck0 = yield* statusKb(u, 'VmLck');
      got.map = yield* mapDma(u, C, buf, 0x100000, 32 * PAGE);
      got.mapRo = yield* mapDma(u, C, ro, 0x200000, 4 * PAGE, 1);
      got.lckAfterMap = (yield* statusKb(u, 'VmLck')) - lck0;
      got.pinnedAfterMap = folio_maybe_dma_pinned(pfnAt(buf));
      const d = yield* mdevDevice(u, c.group, A);
      if (typeof d === 'string') return (got.setup = d), 1;
      const st = stateOf(A);
      const iommu = iommuOf(st)!;
      const ring = new Ring(u, d.device, d.queue);
      const lck = function* () {
        return (yield* statusKb(u, 'VmLck')) - lck0;
      };
      got.r1 = yield* ring.submit(0x100000, 3 * PAGE, 0x104000, 8 * PAGE);
      got.out1 = inflateRaw(u.bytes(buf + 4 * PAGE, ring.last().produced));
      got.lck1 = yield* lck();
      got.pins1 = vfio_iommu_vendor_pins(iommu);
      got.pinned1 = [folio_maybe_dma_pinned(pfnAt(buf)), folio_maybe_dma_pinned(pfnAt(buf + 11 * PAGE)), folio_maybe_dma_pinned(pfnAt(buf + 12 * PAGE))];
      got.r2 = yield* ring.submit(0x100000, 3 * PAGE, 0x104000, 8 * PAGE);
      got.lck2 = yield* lck();
      got.pins2 = vfio_iommu_vendor_pins(iommu);
      got.r3 = yield* ring.submit(0x100000, 3 * PAGE, 0x10c000, 4 * PAGE);
      got.lck3 = yield* lck();
      got.pins3 = vfio_iommu_vendor_pins(iommu);
      // refusals: the SQE stays unconsumed, nothing new stays pinned or charged
      got.rPerm = yield* ring.submit(0x100000, 3 * PAGE, 0x200000, 4 * PAGE);
      got.rUnmapped = yield* ring.submit(0x300000, PAGE, 0x104000, PAGE);
      got.rStraddle = yield* ring.submit(0x11f000, 2 * PAGE, 0x104000, PAGE);
      got.rSgl = yield* ring.submit(0x100000, PAGE, 0x104000, PAGE, 1);
      got.lckRefused = yield* lck();
      got.pinsRefused = vfio_iommu_vendor_pins(iommu);
      got.rAfterRefusals = yield* ring.submit(0x110000, PAGE, 0x111000, PAGE);
      got.lckAfterRefusals = yield* lck();
      // vfio_pin_pages itself
      const pages: number[] = [];
      got.pinE2big = vfio_pin_pages(st.vdev, 0x100000, 513, IOMMU_READ, pages);
      got.pinZero = vfio_pin_pages(st.vdev, 0x100000, 0, IOMMU_READ, pages);
      got.pinUnaligned = vfio_pin_pages(st.vdev, 0x100800, 1, IOMMU_READ, pages);
      got.pinAgain = [vfio_pin_pages(st.vdev, 0x100000, 2, IOMMU_READ, pages), pages[0] === pfnAt(buf), vfio_pin_pages(st.vdev, 0x100000, 1, IOMMU_READ, pages)];
      got.pinAgainRefs = vfio_iommu_vendor_pins(iommu);
      got.lckPinAgain = yield* lck();
      vfio_unpin_pages(st.vdev, 0x100000, 2);
      vfio_unpin_pages(st.vdev, 0x100000, 1);
      got.unpinAgainRefs = vfio_iommu_vendor_pins(iommu);
      // UNMAP_DMA: the vendor's dma_unmap drops its pins, so the mapping can go
      got.unmap = yield* unmapDma(u, C, 0x100000, 32 * PAGE);
      got.lckUnmap = yield* lck();
      got.pinsUnmap = vfio_iommu_vendor_pins(iommu);
      got.vendorCache = st.pins.size;
      got.pinnedUnmap = folio_maybe_dma_pinned(pfnAt(buf));
      got.rAfterUnmap = yield* ring.submit(0x100000, PAGE, 0x104000, PAGE);
      got.remap = yield* mapDma(u, C, buf, 0x100000, 32 * PAGE);
      got.rRemap = yield* ring.submit(0x100000, 3 * PAGE, 0x104000, 8 * PAGE);
      got.lckRemap = yield* lck();
      // the last close drains the queue and unpins everything; the mappings stay with the container
      yield* u.sys(NR.__NR_munmap, d.queue, QUEUE_SIZE);
      yield* u.sys(NR.__NR_close, d.device);
      got.lckClosed = yield* lck();
      got.pinsClosed = vfio_iommu_vendor_pins(iommu);
      got.mappingsClosed = iommu.dmaList.length;
      yield* u.sys(NR.__NR_close, c.group);
      yield* u.sys(NR.__NR_close, C);
      got.instanceGone = !vfio_iommu_instances().has(iommu);

      // ---- TYPE1 (v1): vendor pins are refused (-EACCES)
      const v1 = yield* mdevContainer(u, D, VFIO.TYPE1_IOMMU);
      if (typeof v1 === 'string') return (got.setup = v1), 1;
      yield* mapDma(u, v1.container, buf, 0x100000, 32 * PAGE);
      const dv1 = yield* mdevDevice(u, v1.group, D);
      if (typeof dv1 === 'string') return (got.setup = dv1), 1;
      got.v1Submit = yield* new Ring(u, dv1.device, dv1.queue).submit(0x100000, PAGE, 0x104000, PAGE);
      yield* u.sys(NR.__NR_munmap, dv1.queue, QUEUE_SIZE);
      for (const fd of [dv1.device, v1.group, v1.container]) yield* u.sys(NR.__NR_close, fd);

      // ---- RLIMIT_MEMLOCK at pin time and exit releasing everything (mdev B, a child that dropped root)
      const stB = stateOf(B);
      // two pipes: the child says it is at its limit, then waits for the parent's pin attempt
      const pfd = u.alloc(16);
      yield* u.sys(NR.__NR_pipe2, pfd, 0);
      yield* u.sys(NR.__NR_pipe2, pfd + 8, 0);
      const [atLimitR, atLimitW, goOnR, goOnW] = [0, 4, 8, 12].map((o) => u.cpu.ld32(pfd + o));
      const child = yield* u.fork(function* (k) {
        const cb = yield* mdevContainer(k, B);
        if (typeof cb === 'string') return (got.childSetup = cb), 1;
        const rl = new UStruct(k, 16);
        rl.u64(0, 8 * PAGE);
        rl.u64(8, 8 * PAGE);
        yield* k.sys(NR.__NR_setrlimit, 8, rl.va);
        const db = yield* mdevDevice(k, cb.group, B);
        if (typeof db === 'string') return (got.childSetup = db), 1;
        yield* k.sys(NR.__NR_setuid, 1000);
        const b = yield* mmap(k, 32 * PAGE);
        for (let i = 0; i < 32; i++) k.cpu.st32(b + i * PAGE, i + 1);
        const kl0 = yield* statusKb(k, 'VmLck');
        got.childMap = yield* mapDma(k, cb.container, b, 0x100000, 32 * PAGE);
        got.childLckMap = (yield* statusKb(k, 'VmLck')) - kl0;
        const kr = new Ring(k, db.device, db.queue);
        got.childR1 = yield* kr.submit(0x100000, 2 * PAGE, 0x102000, 4 * PAGE);
        got.childLck1 = (yield* statusKb(k, 'VmLck')) - kl0;
        got.childOver = yield* kr.submit(0x100000, 2 * PAGE, 0x108000, 4 * PAGE);
        got.childLckOver = (yield* statusKb(k, 'VmLck')) - kl0;
        got.childExact = yield* kr.submit(0x100000, 2 * PAGE, 0x106000, 2 * PAGE);
        got.childLckExact = (yield* statusKb(k, 'VmLck')) - kl0;
        got.childPins = vfio_iommu_vendor_pins(iommuOf(stB)!);
        const sb = k.alloc(1);
        yield* k.sys(NR.__NR_write, atLimitW, sb, 1);
        yield* k.sys(NR.__NR_read, goOnR, sb, 1);
        got.childLckAfterOther = (yield* statusKb(k, 'VmLck')) - kl0;
        // exit with the device, the mapping of its queue and the container open
        return 0;
      });
      // the parent (root, the default RLIMIT_MEMLOCK) pins one more page of the child's mapping:
      // the charge is the mapper's, held to the mapper's limit (mm_lock_acct(dma->task, ...))
      const pb = u.alloc(1);
      yield* u.sys(NR.__NR_read, atLimitR, pb, 1);
      const otherPages: number[] = [];
      got.otherTaskPin = vfio_pin_pages(stB.vdev, 0x10a000, 1, IOMMU_READ, otherPages);
      if (got.otherTaskPin === 1) vfio_unpin_pages(stB.vdev, 0x10a000, 1);
      got.otherTaskPins = vfio_iommu_vendor_pins(iommuOf(stB)!);
      yield* u.sys(NR.__NR_write, goOnW, pb, 1);
      got.childExit = (yield* u.wait(child))[1] >> 8;
      for (const fd of [atLimitR, atLimitW, goOnR, goOnW]) yield* u.sys(NR.__NR_close, fd);
      got.afterExit = [stB.pins.size, stB.vdev.open_count, iommuOf(stB) === undefined, stB.inflight.size];
      got.removeAfterExit = yield* removeMdev(u, B);

      // ---- an IOMMU-backed group joins the container (mdev E + the test device): no double charge
      const ce = yield* mdevContainer(u, E);
      if (typeof ce === 'string') return (got.setup = ce), 1;
      const mb = yield* mmap(u, 32 * PAGE);
      for (let i = 0; i < 32; i++) u.cpu.st32(mb + i * PAGE, i + 7);
      const ml0 = yield* statusKb(u, 'VmLck');
      yield* mapDma(u, ce.container, mb, 0x100000, 32 * PAGE);
      const de = yield* mdevDevice(u, ce.group, E);
      if (typeof de === 'string') return (got.setup = de), 1;
      got.mixR1 = yield* new Ring(u, de.device, de.queue).submit(0x100000, 2 * PAGE, 0x102000, 4 * PAGE);
      got.mixLckVendor = (yield* statusKb(u, 'VmLck')) - ml0;
      yield* bindVfio(u, TESTDEV);
      const tg = yield* open(u, `/dev/vfio/${yield* groupOf(u, TESTDEV)}`);
      const fdp = u.alloc(4);
      u.cpu.st32(fdp, ce.container);
      got.mixJoin = yield* ioctl(u, tg, VFIO.GROUP_SET_CONTAINER, fdp);
      got.mixLckJoined = (yield* statusKb(u, 'VmLck')) - ml0;
      got.mixUnset = yield* ioctl(u, tg, VFIO.GROUP_UNSET_CONTAINER);
      got.mixLckLeft = (yield* statusKb(u, 'VmLck')) - ml0;
      got.mixPinsLeft = vfio_iommu_vendor_pins(iommuOf(stateOf(E))!);
      yield* u.sys(NR.__NR_close, tg);
      yield* u.sys(NR.__NR_munmap, de.queue, QUEUE_SIZE);
      for (const fd of [de.device, ce.group, ce.container]) yield* u.sys(NR.__NR_close, fd);
      got.mixLckClosed = (yield* statusKb(u, 'VmLck')) - ml0;

      // ---- the pin hole (mdev H): pinned pages outlive the VMA's pages
      const ch = yield* mdevContainer(u, H);
      if (typeof ch === 'string') return (got.setup = ch), 1;
      const hb = yield* mmap(u, 16 * PAGE);
      u.cpu.writeVirt(hb, oldText);
      for (let i = 4; i < 12; i++) u.cpu.st32(hb + i * PAGE, 0x55aa55aa);
      yield* mapDma(u, ch.container, hb, 0x100000, 16 * PAGE);
      const dh = yield* mdevDevice(u, ch.group, H);
      if (typeof dh === 'string') return (got.setup = dh), 1;
      const hr = new Ring(u, dh.device, dh.queue);
      got.holeR1 = yield* hr.submit(0x100000, 3 * PAGE, 0x104000, 8 * PAGE);
      const produced = hr.last().produced;
      const out1 = u.bytes(hb + 4 * PAGE, produced);
      const dstPfn = pfnAt(hb + 4 * PAGE);
      const srcPfn = pfnAt(hb);
      got.holeOut1 = inflateRaw(out1);
      // the destination's pages go from the VMA; the CPU sees zeros, the device still has the old pages
      got.holeDontneed = yield* u.sys(NR.__NR_madvise, hb + 4 * PAGE, 8 * PAGE, MADV_DONTNEED);
      for (let i = 0; i < 8; i++) u.cpu.st32(hb + (4 + i) * PAGE, 0);
      got.holeNewDstPage = pfnAt(hb + 4 * PAGE) !== dstPfn;
      got.holeR2 = yield* hr.submit(0x100000, 3 * PAGE, 0x104000, 8 * PAGE);
      got.holeCpuDst = Array.from(u.bytes(hb + 4 * PAGE, 16));
      const oldPage = new Uint8Array(produced);
      u.cpu.readPhys(dstPfn * PAGE, oldPage);
      got.holeDeviceWroteOld = inflateRaw(oldPage);
      // the source: new data in a new page, the device compresses the old page
      yield* u.sys(NR.__NR_madvise, hb, 3 * PAGE, MADV_DONTNEED);
      u.cpu.writeVirt(hb, newText);
      got.holeNewSrcPage = pfnAt(hb) !== srcPfn;
      got.holeR3 = yield* hr.submit(0x100000, 3 * PAGE, 0x10c000, 4 * PAGE);
      got.holeOut3 = inflateRaw(u.bytes(hb + 12 * PAGE, hr.last().produced));
      // UNMAP_DMA + MAP_DMA again: the vendor pins the VMA's current pages
      yield* unmapDma(u, ch.container, 0x100000, 16 * PAGE);
      yield* mapDma(u, ch.container, hb, 0x100000, 16 * PAGE);
      got.holeR4 = yield* hr.submit(0x100000, 3 * PAGE, 0x104000, 8 * PAGE);
      got.holeOut4 = inflateRaw(u.bytes(hb + 4 * PAGE, hr.last().produced));
      yield* u.sys(NR.__NR_munmap, dh.queue, QUEUE_SIZE);
      for (const fd of [dh.device, ch.group, ch.container]) yield* u.sys(NR.__NR_close, fd);
      return 0;
    },
    { args: 'hisi_zip.vfio_mdev=1', limitNs: 120e9 },
  );

  it('runs without an oops', () => {
    expect(got.setup).toBeUndefined();
    expect(got.childSetup).toBeUndefined();
    expect(run.code).toBe(0);
    expect(oops_count()).toBe(0);
  });

  it('MAP_DMA of an mdev-only container pins and charges nothing', () => {
    expect([got.map, got.mapRo]).toEqual([0, 0]);
    expect(got.lckAfterMap).toBe(0);
    expect(got.pinnedAfterMap).toBe(false);
  });

  it('vfio_pin_pages pins and charges at first use: 3 source + 8 destination pages = 44 kB of VmLck, each page pinned once', () => {
    expect(got.r1).toBe(8);
    expect(got.out1).toEqual(oldText);
    expect(got.lck1).toBe(44);
    expect(got.pins1).toEqual({ pages: 11, refs: 11 });
    expect(got.pinned1).toEqual([true, true, false]);
  });

  it('pages pinned already are not charged again; new pages are', () => {
    expect(got.r2).toBe(8);
    expect(got.lck2).toBe(44);
    expect(got.pins2).toEqual({ pages: 11, refs: 11 });
    expect(got.r3).toBe(8);
    expect(got.lck3).toBe(60);
    expect(got.pins3).toEqual({ pages: 15, refs: 15 });
  });

  it('a destination in a device-read-only mapping is -EPERM, an unmapped or half-mapped buffer -EINVAL, an SGL -EINVAL; nothing new stays pinned or charged and the ring goes on', () => {
    expect(got.rPerm).toBe(EPERM);
    expect(got.rUnmapped).toBe(EINVAL);
    expect(got.rStraddle).toBe(EINVAL);
    expect(got.rSgl).toBe(EINVAL);
    expect(got.lckRefused).toBe(60);
    expect(got.pinsRefused).toEqual({ pages: 15, refs: 15 });
    expect(got.rAfterRefusals).toBe(8);
    expect(got.lckAfterRefusals).toBe(68);
  });

  it('vfio_pin_pages: more than 512 pages -E2BIG, none or an unaligned IOVA -EINVAL; a pinned page gains references without a new charge', () => {
    expect(got.pinE2big).toBe(E2BIG);
    expect(got.pinZero).toBe(EINVAL);
    expect(got.pinUnaligned).toBe(EINVAL);
    expect(got.pinAgain).toEqual([2, true, 1]);
    expect(got.pinAgainRefs).toEqual({ pages: 17, refs: 20 });
    expect(got.lckPinAgain).toBe(68);
    expect(got.unpinAgainRefs).toEqual({ pages: 17, refs: 17 });
  });

  it('UNMAP_DMA over vendor pins calls dma_unmap: the vendor unpins, the charge and the pins go, later SQEs there are -EINVAL until mapped again', () => {
    expect(got.unmap).toEqual([0, 32 * PAGE]);
    expect(got.lckUnmap).toBe(0);
    expect(got.pinsUnmap).toEqual({ pages: 0, refs: 0 });
    expect(got.vendorCache).toBe(0);
    expect(got.pinnedUnmap).toBe(false);
    expect(got.rAfterUnmap).toBe(EINVAL);
    expect(got.remap).toBe(0);
    expect(got.rRemap).toBe(8);
    expect(got.lckRemap).toBe(44);
  });

  it('the last close of the device unpins everything; the container keeps its mappings until it goes', () => {
    expect(got.lckClosed).toBe(0);
    expect(got.pinsClosed).toEqual({ pages: 0, refs: 0 });
    expect(got.mappingsClosed).toBe(2);
    expect(got.instanceGone).toBe(true);
  });

  it('vendor pins in a TYPE1 (v1) container are refused with -EACCES', () => {
    expect(got.v1Submit).toBe(EACCES);
  });

  it('RLIMIT_MEMLOCK is checked at pin time for a mapper without CAP_IPC_LOCK: past it -ENOMEM with nothing charged, reaching it exactly is allowed', () => {
    expect(got.childMap).toBe(0);
    expect(got.childLckMap).toBe(0);
    expect(got.childR1).toBe(8);
    expect(got.childLck1).toBe(24);
    expect(got.childOver).toBe(ENOMEM);
    expect(got.childLckOver).toBe(24);
    expect(got.childExact).toBe(8);
    expect(got.childLckExact).toBe(32);
    expect(got.childPins).toEqual({ pages: 8, refs: 8 });
  });

  it('a vendor pin made by another task is charged to the mapper and held to the mapper\'s RLIMIT_MEMLOCK (dma->task), not the caller\'s', () => {
    expect(got.otherTaskPin).toBe(ENOMEM);
    expect(got.otherTaskPins).toEqual({ pages: 8, refs: 8 });
    expect(got.childLckAfterOther).toBe(32);
  });

  it('a process that exits with the device, its queue mapping and the container open leaves no pins, no open device and no container; the mdev can be removed', () => {
    expect(got.childExit).toBe(0);
    expect(got.afterExit).toEqual([0, 0, true, 0]);
    expect(got.removeAfterExit).toBe(2);
  });

  it('an IOMMU-backed group joining pins the whole mapping without charging the vendor pages twice; leaving re-charges only the vendor pages', () => {
    expect(got.mixR1).toBe(8);
    expect(got.mixLckVendor).toBe(24);
    expect(got.mixJoin).toBe(0);
    expect(got.mixLckJoined).toBe(128);
    expect(got.mixUnset).toBe(0);
    expect(got.mixLckLeft).toBe(24);
    expect(got.mixPinsLeft).toEqual({ pages: 6, refs: 6 });
    expect(got.mixLckClosed).toBe(0);
  });

  it('pin hole (Linux behaviour): after MADV_DONTNEED the VMA gets new pages but the device keeps using the pinned ones, for writes and reads, until UNMAP_DMA/MAP_DMA', () => {
    expect(got.holeR1).toBe(8);
    expect(got.holeOut1).toEqual(oldText);
    expect(got.holeDontneed).toBe(0);
    expect(got.holeNewDstPage).toBe(true);
    expect(got.holeR2).toBe(8);
    expect(got.holeCpuDst).toEqual(new Array(16).fill(0));
    expect(got.holeDeviceWroteOld).toEqual(oldText);
    expect(got.holeNewSrcPage).toBe(true);
    expect(got.holeR3).toBe(8);
    expect(got.holeOut3).toEqual(oldText);
    expect(got.holeR4).toBe(8);
    expect(got.holeOut4).toEqual(newText);
  });
});

