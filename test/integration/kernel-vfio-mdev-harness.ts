// Helpers for the vfio-mdev integration tests: a test program (UserCtx, raw system
// calls) creates a ZIP mdev through sysfs and drives it through VFIO, laying the
// uAPI structs, the ZIP SQE and the doorbell word out by hand as a C program would
// (include/uapi/linux/vfio.h; the SQE of Linux zip.h; the v2 QM doorbell).

import * as NR from '../../src/kernel/syscalls/numbers.js';
import type { UserCtx } from '../support/kernel-user.js';
import { AT_FDCWD, MAP_SHARED, PROT_RW, UStruct, VFIO, ioctl, mmap, openGroupInContainer, writeFile } from './kernel-vfio-harness.js';

export const ZIP_BDF = '0000:00:01.0';
export const TYPES = `/sys/bus/pci/devices/${ZIP_BDF}/mdev_supported_types`;
export const COMP = `${TYPES}/hisi_zip-comp`;
export const DECOMP = `${TYPES}/hisi_zip-decomp`;
export const PAGE = 4096;
export const SQ_SIZE = 128 * 1024;
export const CQ_SIZE = 16 * 1024;
export const QUEUE_SIZE = SQ_SIZE + CQ_SIZE;
export const REGION_OFFSET = (i: number): number => i * 2 ** 40;
export const SDMDEV_CMD_WAIT = 0x5701;

/** A UUID whose last group is `n` (lower case). */
export function uuid(n: number): string {
  return `6a3c9e52-0b7d-4f41-9c2e-${n.toString(16).padStart(12, '0')}`;
}

/** readlink of a path: the text, or -errno. */
export function* readlink(u: UserCtx, path: string): Generator<unknown, string | number, unknown> {
  const buf = u.alloc(256);
  const n = yield* u.sys(NR.__NR_readlinkat, AT_FDCWD, u.str(path), buf, 256);
  return n < 0 ? n : u.text(buf, n);
}

/** The VFIO group of an mdev from /sys/bus/mdev/devices/<uuid>/iommu_group. */
export function* mdevGroup(u: UserCtx, id: string): Generator<unknown, number, unknown> {
  const l = yield* readlink(u, `/sys/bus/mdev/devices/${id}/iommu_group`);
  if (typeof l === 'number') return l;
  return Number(l.slice(l.lastIndexOf('/') + 1));
}

export interface MdevFds {
  container: number;
  group: number;
  device: number;
  /** The queue region mapped (SQ then CQ). */
  queue: number;
}

/** Container + group + TYPE1v2 for the mdev's group; no device yet. */
export function* mdevContainer(u: UserCtx, id: string, type: number = VFIO.TYPE1v2_IOMMU): Generator<unknown, { container: number; group: number } | string, unknown> {
  const g = yield* mdevGroup(u, id);
  if (g < 0) return `group ${g}`;
  return yield* openGroupInContainer(u, g, type);
}

/** GET_DEVICE_FD by UUID and the queue region mapped shared. */
export function* mdevDevice(u: UserCtx, group: number, id: string): Generator<unknown, { device: number; queue: number } | string, unknown> {
  const device = yield* ioctl(u, group, VFIO.GROUP_GET_DEVICE_FD, u.str(id));
  if (device < 0) return `GET_DEVICE_FD ${device}`;
  const queue = yield* mmap(u, QUEUE_SIZE, PROT_RW, MAP_SHARED, device, REGION_OFFSET(1));
  if (queue < 0 && queue > -4096) return `mmap ${queue}`;
  return { device, queue };
}

export function* createMdev(u: UserCtx, type: string, id: string): Generator<unknown, number, unknown> {
  return yield* writeFile(u, `${type}/create`, `${id}\n`);
}

export function* removeMdev(u: UserCtx, id: string): Generator<unknown, number, unknown> {
  return yield* writeFile(u, `/sys/bus/mdev/devices/${id}/remove`, '1\n');
}

export interface Sqe {
  /** 1 deflate, 2 zlib, 3 gzip. */
  reqType?: number;
  src: number;
  slen: number;
  dst: number;
  dlen: number;
  tag?: number;
  bufType?: number;
}

/** Writes a stateless SQE (flush FINISH, 4 KiB window, sqe_type 0) into SQ slot `idx`. */
export function writeSqe(u: UserCtx, queue: number, idx: number, s: Sqe): void {
  const a = queue + idx * 128;
  for (let i = 0; i < 32; i++) u.cpu.st32(a + 4 * i, 0);
  u.cpu.st32(a + 4 * 4, s.slen);
  u.cpu.st32(a + 4 * 7, 1 << 25);
  u.cpu.st32(a + 4 * 9, (s.reqType ?? 1) | ((s.bufType ?? 0) << 8));
  u.cpu.st32(a + 4 * 13, s.tag ?? 0);
  u.cpu.st32(a + 4 * 14, s.dlen);
  u.cpu.st32(a + 4 * 18, s.src >>> 0);
  u.cpu.st32(a + 4 * 19, Math.floor(s.src / 2 ** 32));
  u.cpu.st32(a + 4 * 20, s.dst >>> 0);
  u.cpu.st32(a + 4 * 21, Math.floor(s.dst / 2 ** 32));
}

/** The result words of SQ slot `idx`: consumed, produced, status, tag and the addresses as the user wrote them. */
export function readSqe(u: UserCtx, queue: number, idx: number): { consumed: number; produced: number; status: number; tag: number; src: number; dst: number } {
  const a = queue + idx * 128;
  const w = (i: number): number => u.cpu.ld32(a + 4 * i) >>> 0;
  return { consumed: w(0), produced: w(1), status: w(3) & 0xff, tag: w(13), src: w(19) * 2 ** 32 + w(18), dst: w(21) * 2 ** 32 + w(20) };
}

/** CQE `i`: sq_head and phase. */
export function readCqe(u: UserCtx, queue: number, i: number): { sqHead: number; phase: number } {
  const a = queue + SQ_SIZE + i * 16;
  return { sqHead: u.cpu.ld32(a + 8) & 0xffff, phase: (u.cpu.ld32(a + 12) >>> 16) & 1 };
}

/** One 64-bit doorbell store through the trapped region 0 (pwrite at 0x1000): cmd 0 SQ, 1 CQ. */
export function* doorbell(u: UserCtx, device: number, cmd: number, index: number): Generator<unknown, number, unknown> {
  const b = u.alloc(8);
  u.cpu.st32(b, (cmd & 0xf) << 12);
  u.cpu.st32(b + 4, index & 0xffff);
  return yield* u.sys(NR.__NR_pwrite64, device, b, 8, 0x1000);
}

/** VFIO_SDMDEV_CMD_WAIT with a timeout in ms. */
export function* waitCq(u: UserCtx, device: number, ms = 1000): Generator<unknown, number, unknown> {
  return yield* ioctl(u, device, SDMDEV_CMD_WAIT, ms);
}

/** struct vfio_region_info for `index`: [ret, flags, size, offset]. */
export function* regionInfo(u: UserCtx, device: number, index: number): Generator<unknown, [number, number, number, number], unknown> {
  const s = new UStruct(u, 32);
  s.u32(0, 32);
  s.u32(8, index);
  const r = yield* ioctl(u, device, VFIO.DEVICE_GET_REGION_INFO, s.va);
  return [r, s.u32(4), s.u64(16), s.u64(24)];
}

/** struct vfio_device_info: [ret, flags, num_regions, num_irqs]. */
export function* deviceInfo(u: UserCtx, device: number): Generator<unknown, [number, number, number, number], unknown> {
  const s = new UStruct(u, 24);
  s.u32(0, 24);
  const r = yield* ioctl(u, device, VFIO.DEVICE_GET_INFO, s.va);
  return [r, s.u32(4), s.u32(8), s.u32(12)];
}
