// Helpers for the VFIO integration tests: a test program (UserCtx, raw system calls)
// binds the test device to vfio-pci through sysfs and drives /dev/vfio with the uAPI
// structures laid out by hand, as a C program would (include/uapi/linux/vfio.h).

import * as NR from '../../src/kernel/syscalls/numbers.js';
import type { UserCtx } from '../support/kernel-user.js';

export const TESTDEV = '0000:00:02.0';
export const ZIP = '0000:00:01.0';
export const AT_FDCWD = -100;
export const O_RDWR = 2;
export const O_WRONLY = 1;
export const PROT_RW = 3;
export const MAP_SHARED = 1;
export const MAP_PRIVATE = 2;
export const MAP_ANONYMOUS = 0x20;
export const MAP_POPULATE = 0x8000;

const io = (n: number): number => 0x3b00 | (100 + n);
export const VFIO = {
  GET_API_VERSION: io(0),
  CHECK_EXTENSION: io(1),
  SET_IOMMU: io(2),
  GROUP_GET_STATUS: io(3),
  GROUP_SET_CONTAINER: io(4),
  GROUP_UNSET_CONTAINER: io(5),
  GROUP_GET_DEVICE_FD: io(6),
  DEVICE_GET_INFO: io(7),
  DEVICE_GET_REGION_INFO: io(8),
  DEVICE_GET_IRQ_INFO: io(9),
  DEVICE_SET_IRQS: io(10),
  DEVICE_RESET: io(11),
  IOMMU_GET_INFO: io(12),
  IOMMU_MAP_DMA: io(13),
  IOMMU_UNMAP_DMA: io(14),
  TYPE1_IOMMU: 1,
  TYPE1v2_IOMMU: 3,
  UNMAP_ALL: 9,
} as const;

/** Writes `text` to a sysfs file in one write(2): its result, or the open's error. */
export function* writeFile(u: UserCtx, path: string, text: string): Generator<unknown, number, unknown> {
  const fd = yield* u.sys(NR.__NR_openat, AT_FDCWD, u.str(path), O_WRONLY, 0);
  if (fd < 0) return fd;
  const n = yield* u.sys(NR.__NR_write, fd, u.str(text), text.length);
  yield* u.sys(NR.__NR_close, fd);
  return n;
}

/** driver_override = vfio-pci, unbind from the current driver, drivers_probe. */
export function* bindVfio(u: UserCtx, bdf: string, from = 'iommu-testdev'): Generator<unknown, number, unknown> {
  let r = yield* writeFile(u, `/sys/bus/pci/devices/${bdf}/driver_override`, 'vfio-pci\n');
  if (r < 0) return r;
  r = yield* writeFile(u, `/sys/bus/pci/drivers/${from}/unbind`, `${bdf}\n`);
  if (r < 0) return r;
  return yield* writeFile(u, '/sys/bus/pci/drivers_probe', `${bdf}\n`);
}

/** readlink of the device's iommu_group: the group number. */
export function* groupOf(u: UserCtx, bdf: string): Generator<unknown, number, unknown> {
  const buf = u.alloc(256);
  const n = yield* u.sys(NR.__NR_readlinkat, AT_FDCWD, u.str(`/sys/bus/pci/devices/${bdf}/iommu_group`), buf, 256);
  if (n < 0) return n;
  const s = u.text(buf, n);
  return Number(s.slice(s.lastIndexOf('/') + 1));
}

export function* open(u: UserCtx, path: string, flags = O_RDWR): Generator<unknown, number, unknown> {
  return yield* u.sys(NR.__NR_openat, AT_FDCWD, u.str(path), flags, 0);
}

export function* ioctl(u: UserCtx, fd: number, cmd: number, arg = 0): Generator<unknown, number, unknown> {
  return yield* u.sys(NR.__NR_ioctl, fd, cmd, arg);
}

/** A zeroed struct in scratch memory with 32/64-bit field writers. */
export class UStruct {
  readonly va: number;
  constructor(
    private readonly u: UserCtx,
    size: number,
  ) {
    this.va = u.alloc(size);
  }
  u32(off: number, v?: number): number {
    if (v !== undefined) this.u.cpu.st32(this.va + off, v >>> 0);
    return this.u.cpu.ld32(this.va + off) >>> 0;
  }
  u64(off: number, v?: number | bigint): number {
    if (v !== undefined) this.u.cpu.st64(this.va + off, v);
    return this.u.cpu.ld64(this.va + off);
  }
  u64n(off: number): bigint {
    return this.u.cpu.ld64n(this.va + off);
  }
}

/** struct vfio_iommu_type1_dma_map: argsz 32, flags, vaddr, iova, size. */
export function* mapDma(u: UserCtx, container: number, vaddr: number | bigint, iova: number | bigint, size: number | bigint, flags = 3, argsz = 32): Generator<unknown, number, unknown> {
  const m = new UStruct(u, 32);
  m.u32(0, argsz);
  m.u32(4, flags);
  m.u64(8, vaddr);
  m.u64(16, iova);
  m.u64(24, size);
  return yield* ioctl(u, container, VFIO.IOMMU_MAP_DMA, m.va);
}

/** struct vfio_iommu_type1_dma_unmap: the ioctl's result and the size it reports. */
export function* unmapDma(u: UserCtx, container: number, iova: number | bigint, size: number | bigint, flags = 0): Generator<unknown, [number, number], unknown> {
  const m = new UStruct(u, 24);
  m.u32(0, 24);
  m.u32(4, flags);
  m.u64(8, iova);
  m.u64(16, size);
  const r = yield* ioctl(u, container, VFIO.IOMMU_UNMAP_DMA, m.va);
  return [r, m.u64(16)];
}

export function* mmap(u: UserCtx, len: number, prot = PROT_RW, flags = MAP_PRIVATE | MAP_ANONYMOUS, fd = -1, off = 0): Generator<unknown, number, unknown> {
  return yield* u.sys(NR.__NR_mmap, 0, len, prot, flags, fd, off);
}

/** The container/group/device sequence of vfio.rst up to SET_IOMMU; fds or the first failure. */
export interface VfioFds {
  container: number;
  group: number;
  groupId: number;
}

export function* openContainerGroup(u: UserCtx, bdf: string, type: number = VFIO.TYPE1v2_IOMMU): Generator<unknown, VfioFds | string, unknown> {
  const groupId = yield* groupOf(u, bdf);
  if (groupId < 0) return `readlink ${groupId}`;
  const fds = yield* openGroupInContainer(u, groupId, type);
  return typeof fds === 'string' ? fds : { ...fds, groupId };
}

/** Opens /dev/vfio/vfio and /dev/vfio/<groupId>, puts the group in the container and sets the IOMMU model. */
export function* openGroupInContainer(u: UserCtx, groupId: number, type: number): Generator<unknown, { container: number; group: number } | string, unknown> {
  const container = yield* open(u, '/dev/vfio/vfio');
  if (container < 0) return `open container ${container}`;
  const group = yield* open(u, `/dev/vfio/${groupId}`);
  if (group < 0) return `open group ${group}`;
  const fdp = u.alloc(4);
  u.cpu.st32(fdp, container);
  let r = yield* ioctl(u, group, VFIO.GROUP_SET_CONTAINER, fdp);
  if (r < 0) return `SET_CONTAINER ${r}`;
  r = yield* ioctl(u, container, VFIO.SET_IOMMU, type);
  if (r < 0) return `SET_IOMMU ${r}`;
  return { container, group };
}

/** Reads the kernel-side /proc/self/status line `key` (kB). */
export function* statusKb(u: UserCtx, key: string): Generator<unknown, number, unknown> {
  const fd = yield* open(u, '/proc/self/status', 0);
  const buf = u.alloc(4096);
  const n = yield* u.sys(NR.__NR_read, fd, buf, 4096);
  yield* u.sys(NR.__NR_close, fd);
  const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(u.text(buf, n));
  return m === null ? -1 : Number(m[1]);
}
