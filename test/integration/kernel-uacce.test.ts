// uacce on the booted board: hisi_zip in uacce SVA mode exposes /dev/hisi_zip-0 and
// /sys/class/uacce/hisi_zip-0. A user program (libc, test-only) opens a queue, maps
// its DUS and doorbell regions, submits ZIP SQEs naming its own virtual addresses and
// rings the doorbell with a store: no system call on the data path. Completions are
// waited for with poll() and, separately, by spinning on the CQE phase. The output
// must inflate with pako; the never-touched destination is faulted in by the SMMU's
// stall + I/O page-fault path.

import { describe, expect, it } from 'vitest';
import { inflate } from 'pako';
import { thisCpu } from '../../src/arch/index.js';
import { syscall } from '../../src/user/libc/syscall.js';
import { MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE } from '../../src/kernel/mm/mremap.js';
import type { Libc } from '../../src/user/libc/libc.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, O_RDWR, PROT_READ, PROT_WRITE } from '../../src/user/libc/uapi.js';
import { iopf_stats } from '../../src/kernel/drivers/iommu/io-pgfault.js';
import { TraceKind } from '../../src/trace/record.js';
import { vma_lookup } from '../../src/kernel/mm/mmap.js';
import { VM_DONTCOPY, VM_DONTEXPAND, VM_IO, VM_PFNMAP, VM_WIPEONFORK } from '../../src/kernel/mm/mm_types.js';
import { MT_DEVICE_nGnRE, MT_NORMAL } from '../../src/kernel/mm/pgtable.js';
import { current } from '../../src/kernel/sched/core.js';
import * as K from '../../src/kernel/drivers/misc/uacce/uapi.js';
import * as H from './kernel-uacce-harness.js';
import { bootZip, bytesEqual, zipSample, ZIP_SID } from './kernel-zip-harness.js';
import { uacce_alloc, uacce_devices, uacce_put, uacce_register, uacce_remove } from '../../src/kernel/drivers/misc/uacce/uacce.js';
import { sysfs_lookup } from '../../src/kernel/fs/sysfs/sysfs.js';
import { do_filp_open } from '../../src/kernel/fs/open.js';
import { AT_FDCWD } from '../../src/kernel/fs/namei.js';
import { O_RDONLY } from '../../src/kernel/fs/types.js';
import { kernel_read } from '../../src/kernel/fs/read_write.js';
import { fput } from '../../src/kernel/fs/file.js';
import { Device } from '../../src/kernel/drivers/base/core.js';
import {
  DEV,
  DUS_SIZE,
  MMIO_SIZE,
  PAGE,
  UACCE_CMD_PUT_Q,
  UACCE_CMD_QM_SET_QP_CTX,
  UACCE_CMD_QM_SET_QP_INFO,
  UACCE_CMD_START_Q,
  UserQueue,
  bootUacce,
  ioctlStruct,
  readAttr,
  zlibCompressSqe,
} from './kernel-uacce-harness.js';

const EINVAL = -22;
const EEXIST = -17;
const EFAULT = -14;
const ENXIO = -6;
const INPUT = zipSample(64 * 1024, 7);
const INPUT2 = zipSample(20 * 1024, 9);

/** zlib stream from the engine's output (it writes no header; the caller prepends 78 9c as UADK does). */
function withZlibHead(raw: Uint8Array): Uint8Array {
  const z = new Uint8Array(raw.length + 2);
  z.set([0x78, 0x9c]);
  z.set(raw, 2);
  return z;
}

describe('uacce: /dev/hisi_zip-0 driven from user space with SVA', () => {
  const got: Record<string, unknown> = {};
  const outputs: Uint8Array[] = [];
  let pasidSeen = -1;
  let iopfBefore = { groups: 0, success: 0 };
  let iopfAfter = { groups: 0, success: 0 };
  let dstVa = 0;

  const uacceBasic = function* (c: Libc): Generator<unknown, number, unknown> {
    for (const a of ['api', 'flags', 'available_instances', 'algorithms', 'region_mmio_size', 'region_dus_size', 'isolate_strategy', 'isolate']) got[`attr.${a}`] = yield* readAttr(c, a);
    const dev = yield* c.readdir('/sys/class/uacce/hisi_zip-0/device/');
    got.deviceLink = typeof dev === 'number' ? dev : dev.some((e) => e.name === 'vendor');
    got.classLink = yield* c.readlink('/sys/class/uacce/hisi_zip-0');
    const pdev = yield* c.readlink('/sys/class/uacce/hisi_zip-0/device');
    got.parentName = typeof pdev === 'string' ? pdev.slice(pdev.lastIndexOf('/') + 1) : pdev;
    if (typeof got.parentName === 'string') {
      const glue = `/sys/bus/pci/devices/${got.parentName}/uacce`;
      const g = yield* c.readdir(`${glue}/`);
      got.glueDir = typeof g === 'number' ? g : g.map((e) => e.name).filter((n) => !n.startsWith('.'));
      got.glueDevice = yield* c.readlink(`${glue}/hisi_zip-0/device`);
      got.glueSubsystem = yield* c.readlink(`${glue}/hisi_zip-0/subsystem`);
      const viaGlue = yield* c.readdir(`${glue}/hisi_zip-0/device/`);
      got.glueDeviceResolves = typeof viaGlue === 'number' ? viaGlue : viaGlue.some((e) => e.name === 'vendor');
    }
    const fd = yield* c.open(DEV, O_RDWR);
    if (fd < 0) return 10;
    got.availOpen = yield* readAttr(c, 'available_instances');
    const rw = PROT_READ | PROT_WRITE;
    got.mmapBadRegion = yield* c.mmap(0, PAGE, rw, MAP_SHARED, fd, 2 * PAGE);
    got.mmapDusShort = yield* c.mmap(0, DUS_SIZE - PAGE, rw, MAP_SHARED, fd, PAGE);
    got.mmapMmioLong = yield* c.mmap(0, MMIO_SIZE + PAGE, rw, MAP_SHARED, fd, 0);
    const dus = yield* c.mmap(0, DUS_SIZE, rw, MAP_SHARED, fd, PAGE);
    const mmio = yield* c.mmap(0, MMIO_SIZE, rw, MAP_SHARED, fd, 0);
    if (dus < 0 || mmio < 0) return 11;
    const vflags = VM_DONTCOPY | VM_DONTEXPAND | VM_WIPEONFORK | VM_IO | VM_PFNMAP;
    const vd = vma_lookup(current().mm!, dus)!;
    const vm = vma_lookup(current().mm!, mmio)!;
    got.vmas = { dus: [vd.vm_flags & vflags, vd.vm_page_prot, vd.size], mmio: [vm.vm_flags & vflags, vm.vm_page_prot, vm.size] };
    got.mmapDusAgain = yield* c.mmap(0, DUS_SIZE, rw, MAP_SHARED, fd, PAGE);
    got.mmapMmioAgain = yield* c.mmap(0, MMIO_SIZE, rw, MAP_SHARED, fd, 0);
    // mremap: growth of a VM_DONTEXPAND mapping -EFAULT, MREMAP_DONTUNMAP -EINVAL, a move -EPERM (uacce_vma_mremap)
    // a free spot as large as both regions, so a fixed move's target never reaches another mapping
    const spot = yield* c.mmap(0, DUS_SIZE + MMIO_SIZE, rw, MAP_PRIVATE | MAP_ANONYMOUS);
    got.mremap = {
      grow: yield* syscall(216, dus, DUS_SIZE, DUS_SIZE + PAGE, MREMAP_MAYMOVE),
      dontUnmap: yield* syscall(216, mmio, MMIO_SIZE, MMIO_SIZE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP),
      move: yield* syscall(216, mmio, MMIO_SIZE, MMIO_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, spot),
      moveDus: yield* syscall(216, dus, DUS_SIZE, DUS_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, spot),
    };
    const stay = vma_lookup(current().mm!, mmio);
    got.mremapKept = stay !== null && stay.vm_start === mmio && stay.size === MMIO_SIZE && vma_lookup(current().mm!, spot) === null;
    got.badQcType = (yield* ioctlStruct(c, fd, UACCE_CMD_QM_SET_QP_CTX, new Uint8Array([0, 0, 2, 0])))[0];
    got.ctxFault = yield* c.ioctl(fd, UACCE_CMD_QM_SET_QP_CTX, 16);
    got.unknownIoctl = yield* c.ioctl(fd, 0xc0044899, 0);
    const [ctxRet, ctx] = yield* ioctlStruct(c, fd, UACCE_CMD_QM_SET_QP_CTX, new Uint8Array([0xff, 0xff, 0, 0]));
    got.ctxRet = ctxRet;
    const [infoRet, info] = yield* ioctlStruct(c, fd, UACCE_CMD_QM_SET_QP_INFO, new Uint8Array(16));
    const iv = new DataView(info.buffer);
    got.info = [infoRet, iv.getUint32(0, true), iv.getUint16(4, true), iv.getUint16(6, true)];
    const q = new UserQueue(fd, dus, mmio);
    q.qn = ctx[0]! | (ctx[1]! << 8);
    got.qn = q.qn;
    got.pollBeforeStart = yield* q.poll(c, 0);
    got.start = yield* c.ioctl(fd, UACCE_CMD_START_Q, 0);
    got.startAgain = yield* c.ioctl(fd, UACCE_CMD_START_Q, 0);
    got.stop = [q.txStopped(), q.rxStopped()];

    // request 1: destination never touched by the CPU (the device faults it in), wait in poll()
    const src = yield* c.mmap(0, INPUT.length, rw, MAP_PRIVATE | MAP_ANONYMOUS);
    const dst = yield* c.mmap(0, 128 * 1024, rw, MAP_PRIVATE | MAP_ANONYMOUS);
    dstVa = dst;
    thisCpu().writeVirt(src, INPUT);
    const s = iopf_stats();
    iopfBefore = { groups: s.groups, success: s.success };
    q.send(zlibCompressSqe(src, INPUT.length, dst, 128 * 1024, 0x1234));
    const t0 = thisCpu().now();
    got.poll1 = yield* q.poll(c, 5e9);
    got.pollNs = thisCpu().now() - t0;
    got.ready1 = q.ready();
    const r1 = q.reap();
    const s2 = iopf_stats();
    iopfAfter = { groups: s2.groups, success: s2.success };
    got.r1 = { sqHead: r1.sqHead, status: r1.sqe[3]! & 0xff, consumed: r1.sqe[0], tag: r1.sqe[13] };
    const out1 = new Uint8Array(r1.sqe[1]!);
    thisCpu().readVirt(dst, out1);
    outputs.push(out1);

    // request 2: spin on the CQE phase instead of sleeping
    const src2 = yield* c.malloc(INPUT2.length);
    const dst2 = yield* c.malloc(64 * 1024);
    thisCpu().writeVirt(src2, INPUT2);
    thisCpu().writeVirt(dst2, new Uint8Array(64 * 1024));
    q.send(zlibCompressSqe(src2, INPUT2.length, dst2, 64 * 1024, 0x5678));
    got.spun = q.spin(5e9);
    const r2 = q.reap();
    got.r2 = { sqHead: r2.sqHead, status: r2.sqe[3]! & 0xff, consumed: r2.sqe[0], tag: r2.sqe[13] };
    const out2 = new Uint8Array(r2.sqe[1]!);
    thisCpu().readVirt(dst2, out2);
    outputs.push(out2);
    // poll's view (the kernel's copy of the CQ head) catches up once, then nothing is new
    got.pollCatchUp = yield* q.poll(c, 0);
    got.pollIdle = yield* q.poll(c, 0);

    got.put = yield* c.ioctl(fd, UACCE_CMD_PUT_Q, 0);
    got.availAfterPut = yield* readAttr(c, 'available_instances');
    got.putAgain = yield* c.ioctl(fd, UACCE_CMD_PUT_Q, 0);
    got.startAfterPut = yield* c.ioctl(fd, UACCE_CMD_START_Q, 0);
    yield* c.munmap(dus, DUS_SIZE);
    got.mmapAfterPut = yield* c.mmap(0, DUS_SIZE, rw, MAP_SHARED, fd, PAGE);
    yield* c.close(fd);
    return 0;
  };

  const lateAvail = function* (c: Libc): Generator<unknown, number, unknown> {
    got.availEnd = yield* readAttr(c, 'available_instances');
    return 0;
  };

  const run = bootUacce({
    mains: { uacce_basic: uacceBasic, late_avail: lateAvail },
    script: ['uacce_basic || echo FAIL-basic $?', 'late_avail', 'echo uacce-done'],
    setup(m) {
      m.trace.subscribe((ring, i) => {
        const k = ring.kindAt(i);
        if (k !== TraceKind.Stall) return;
        const r = ring.at(i);
        if (r.sid === ZIP_SID) pasidSeen = r.ssid;
      });
    },
  });

  it('uAPI numbers: the kernel module and the user-space copy agree with the Linux encodings (arm64 _IOC)', () => {
    const want = { START_Q: 0x5700, PUT_Q: 0x5701, SET_QP_CTX: 0xc004480a, SET_QP_INFO: 0xc010480b, PIN: 0x40105702, UNPIN: 0x40105703 };
    expect([K.UACCE_CMD_START_Q, K.UACCE_CMD_PUT_Q, K.UACCE_CMD_QM_SET_QP_CTX, K.UACCE_CMD_QM_SET_QP_INFO, K.UACCE_CMD_PIN, K.UACCE_CMD_UNPIN].map((v) => v >>> 0)).toEqual(Object.values(want));
    expect([H.UACCE_CMD_START_Q, H.UACCE_CMD_PUT_Q, H.UACCE_CMD_QM_SET_QP_CTX, H.UACCE_CMD_QM_SET_QP_INFO, H.UACCE_CMD_PIN, H.UACCE_CMD_UNPIN]).toEqual(Object.values(want));
    expect([K.UACCE_QFRT_MMIO, K.UACCE_QFRT_DUS, K.UACCE_DEV_SVA]).toEqual([0, 1, 1]);
  });

  it('the queue VMAs: VM_DONTCOPY|VM_DONTEXPAND|VM_WIPEONFORK PFN maps; MMIO Device-nGnRE 8 KiB, DUS normal memory 0x25000', () => {
    const f = VM_DONTCOPY | VM_DONTEXPAND | VM_WIPEONFORK | VM_IO | VM_PFNMAP;
    expect(got.vmas).toEqual({ dus: [f, MT_NORMAL, DUS_SIZE], mmio: [f, MT_DEVICE_nGnRE, MMIO_SIZE] });
  });

  it('the program ran to the end', () => {
    expect(run.out).toContain('uacce-done');
    expect(run.out).not.toContain('FAIL');
    expect(run.code).toBe(0);
  });

  it('sysfs: api hisi_qm_v2, flags UACCE_DEV_SVA, 64 instances, zlib/gzip, MMIO 8 KiB, DUS 0x25000, isolation off, device link to the PCI function', () => {
    expect(got['attr.api']).toBe('hisi_qm_v2');
    expect(got['attr.flags']).toBe('1');
    expect(got['attr.available_instances']).toBe('64');
    expect(got['attr.algorithms']).toBe('zlib\ngzip');
    expect(got['attr.region_mmio_size']).toBe(String(MMIO_SIZE));
    expect(got['attr.region_dus_size']).toBe(String(DUS_SIZE));
    expect(got['attr.isolate_strategy']).toBe('0');
    expect(got['attr.isolate']).toBe('0');
    expect(got.deviceLink).toBe(true);
  });

  it('a class device under a device of no class sits in the glue directory <parent>/uacce/, with device and subsystem links from the driver core', () => {
    const parent = got.parentName as string;
    expect(parent).toMatch(/^0000:00:[0-9a-f]{2}\.[0-7]$/);
    expect(got.classLink).toBe(`../../devices/pci0000:00/${parent}/uacce/hisi_zip-0`);
    expect(got.glueDir).toEqual(['hisi_zip-0']);
    expect(got.glueDevice).toBe(`../../../${parent}`);
    expect(got.glueSubsystem).toBe('../../../../../class/uacce');
    expect(got.glueDeviceResolves).toBe(true);
  });

  it('open takes a queue from the pool (available_instances 63) and close gives it back (64)', () => {
    expect(got.availOpen).toBe('63');
    expect(got.availAfterPut).toBe('64');
    expect(got.availEnd).toBe('64');
  });

  it('mmap: region >= 2 is -EINVAL, DUS of the wrong size and MMIO over 8 KiB are -EINVAL, each region maps once (-EEXIST)', () => {
    expect(got.mmapBadRegion).toBe(EINVAL);
    expect(got.mmapDusShort).toBe(EINVAL);
    expect(got.mmapMmioLong).toBe(EINVAL);
    expect(got.mmapDusAgain).toBe(EEXIST);
    expect(got.mmapMmioAgain).toBe(EEXIST);
  });

  it('mremap of a queue region: growing it -EFAULT (VM_DONTEXPAND), MREMAP_DONTUNMAP -EINVAL, moving it -EPERM (uacce_vma_mremap), the mapping left where it was', () => {
    expect(got.mremap).toEqual({ grow: -14, dontUnmap: EINVAL, move: -1, moveDus: -1 });
    expect(got.mremapKept).toBe(true);
  });

  it('ioctl: SET_QP_CTX qc_type 2 -EINVAL, bad pointer -EFAULT, unknown -EINVAL; SET_QP_CTX returns the qp id; SET_QP_INFO returns 128/1024/1024', () => {
    expect(got.badQcType).toBe(EINVAL);
    expect(got.ctxFault).toBe(EFAULT);
    expect(got.unknownIoctl).toBe(EINVAL);
    expect(got.ctxRet).toBe(0);
    expect(got.qn).toBeGreaterThanOrEqual(0);
    expect(got.qn).toBeLessThan(64);
    expect(got.info).toEqual([0, 128, 1024, 1024]);
  });

  it('START_Q moves INIT to STARTED once (again: -EINVAL); TX/RX stop words are clear', () => {
    expect(got.start).toBe(0);
    expect(got.startAgain).toBe(EINVAL);
    expect(got.stop).toEqual([0, 0]);
    expect(got.pollBeforeStart).toBe(0);
  });

  it('an SQE at user VAs and a doorbell store compress; poll() wakes with POLLIN; the output inflates to the input', () => {
    expect(got.poll1).toBe(1);
    // woken by the completion (EQ interrupt -> qm work -> wake_up), long before the 5 s timeout
    expect(got.pollNs as number).toBeLessThan(50e6);
    expect(got.ready1).toBe(true);
    expect(got.r1).toEqual({ sqHead: 0, status: 0, consumed: INPUT.length, tag: 0x1234 });
    expect(bytesEqual(inflate(withZlibHead(outputs[0]!)), INPUT)).toBe(true);
  });

  it('spinning on the CQE phase (no system call) sees the second completion; its output inflates too', () => {
    expect(got.spun).toBe(true);
    expect(got.r2).toEqual({ sqHead: 1, status: 0, consumed: INPUT2.length, tag: 0x5678 });
    expect(bytesEqual(inflate(withZlibHead(outputs[1]!)), INPUT2)).toBe(true);
    expect(got.pollCatchUp).toBe(1);
    expect(got.pollIdle).toBe(0);
  });

  it('the untouched destination stalls the SMMU at the process PASID and the I/O page-fault path resolves it', () => {
    expect(pasidSeen).toBeGreaterThan(0);
    expect(iopfAfter.groups - iopfBefore.groups).toBeGreaterThan(0);
    expect(iopfAfter.success - iopfBefore.success).toBe(iopfAfter.groups - iopfBefore.groups);
    expect(dstVa).toBeGreaterThan(0);
  });

  it('after PUT_Q the queue is a zombie: PUT_Q, START_Q and mmap give -ENXIO (Linux 6.2+)', () => {
    expect(got.put).toBe(0);
    expect(got.putAgain).toBe(ENXIO);
    expect(got.startAfterPut).toBe(ENXIO);
    expect(got.mmapAfterPut).toBe(ENXIO);
  });
});

describe('uacce_alloc negotiates SVA with the IOMMU', () => {
  const got: Record<string, unknown> = {};
  bootZip({
    args: 'console=ttyAMA0 earlycon hisi_zip.uacce_mode=1',
    *scenario(zip) {
      // the ZIP PF: IOPF (stall) and SVA available, the flag stays
      got.zipFlags = zip.qm.uacce?.flags;
      got.zipSva = zip.qm.use_sva;
      // a device behind no IOMMU: enabling IOPF fails, UACCE_DEV_SVA is cleared
      const lone = uacce_alloc(new Device('no-iommu'), { name: 'lone', flags: K.UACCE_DEV_SVA, ops: {} });
      got.loneFlags = typeof lone === 'number' ? lone : lone.flags;
      got.loneName = typeof lone === 'number' ? '' : lone.dev.name;
      if (typeof lone !== 'number') uacce_put(lone);
      got.idsAfterPut = uacce_devices().map((u) => u.dev.name);
      // uacce_dev_is_visible: a parent without isolation ops has no isolate_strategy/isolate files
      const bare = uacce_alloc(new Device('bare-parent'), { name: 'bare', flags: 0, ops: { get_available_instances: () => 3 } });
      if (typeof bare !== 'number') {
        got.bareReg = yield* uacce_register(bare);
        const dir = bare.dev.kobj_path;
        got.bareFiles = ['api', 'available_instances', 'isolate_strategy', 'isolate'].filter((f) => sysfs_lookup(`${dir}/${f}`) !== undefined);
        got.zipFiles = ['isolate_strategy', 'isolate'].filter((f) => sysfs_lookup(`${zip.qm.uacce!.dev.kobj_path}/${f}`) !== undefined);
        yield* uacce_remove(bare);
      }
      // available_instances_show: a parent with no get_available_instances op is -ENODEV at read
      const nocount = uacce_alloc(new Device('nocount-parent'), { name: 'nocount', flags: 0, ops: {} });
      if (typeof nocount !== 'number') {
        got.nocountReg = yield* uacce_register(nocount);
        got.nocountApiVer = nocount.api_ver;
        const f = yield* do_filp_open(AT_FDCWD, `/sys/${nocount.dev.kobj_path}/available_instances`, O_RDONLY, 0);
        got.nocountOpen = typeof f === 'number' ? f : 0;
        if (typeof f !== 'number') {
          got.nocountRead = yield* kernel_read(f, 64);
          fput(f);
        }
        const apiF = yield* do_filp_open(AT_FDCWD, `/sys/${nocount.dev.kobj_path}/api`, O_RDONLY, 0);
        if (typeof apiF !== 'number') {
          const v = yield* kernel_read(apiF, 64);
          got.nocountApi = typeof v === 'number' ? v : new TextDecoder().decode(v);
          fput(apiF);
        }
        yield* uacce_remove(nocount);
      }
      return 0;
    },
  });

  it('the ZIP PF keeps UACCE_DEV_SVA; a device with no IOMMU gets flags 0 (and the next free id); uacce_put frees the id', () => {
    expect(got.zipFlags).toBe(K.UACCE_DEV_SVA);
    expect(got.zipSva).toBe(true);
    expect(got.loneFlags).toBe(0);
    expect(got.loneName).toBe('lone-1');
    expect(got.idsAfterPut).toEqual(['hisi_zip-0']);
  });

  it('uacce_dev_is_visible: isolate_strategy and isolate exist only when the parent has the isolation ops (hisi_qm has them)', () => {
    expect(got.bareReg).toBe(0);
    expect(got.bareFiles).toEqual(['api', 'available_instances']);
    expect(got.zipFiles).toEqual(['isolate_strategy', 'isolate']);
  });

  it('available_instances_show: a parent without get_available_instances opens fine and reads -ENODEV; other attributes still read', () => {
    expect(got.nocountReg).toBe(0);
    expect(got.nocountOpen).toBe(0);
    expect(got.nocountRead).toBe(-19);
    expect(got.nocountApi).toBe(`${String(got.nocountApiVer)}\n`);
  });
});
