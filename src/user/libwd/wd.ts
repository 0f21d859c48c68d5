// libwd core (UADK wd.c in shape): finds accelerators under /sys/class/uacce by
// algorithm, opens one queue of a device as a context (/dev/<name>, O_RDWR|O_CLOEXEC),
// maps its regions (offset = region type x page size), starts it, waits on it with
// poll(POLLIN) and releases it. Errors are negative errno values, as UADK returns
// -WD_E*; the WD_* codes above errno's range are UADK's own.

import type { Libc } from '../libc/libc.js';
import { AT_PAGESZ, MAP_SHARED, O_CLOEXEC, O_RDWR, POLLIN, PROT_READ, PROT_WRITE } from '../libc/uapi.js';
import { EINVAL, ENODEV, EEXIST } from '../libc/errno.js';
import { UACCE_CLASS_DIR, UACCE_CMD_PUT_Q, UACCE_CMD_START_Q, UACCE_QFRT_DUS, UACCE_QFRT_MAX, UACCE_QFRT_MMIO } from './uacce.js';

/** Request status values (include/wd.h). */
export const WD_SUCCESS = 0;
export const WD_STREAM_END = 1;
/** Error codes beyond errno (include/wd.h); functions return them negated. */
export const WD_HW_EACCESS = 62;
export const WD_SGL_ERR = 63;
export const WD_VERIFY_ERR = 64;
export const WD_OUT_EPARA = 66;
export const WD_IN_EPARA = 67;
export const WD_ENOPROC = 68;

/** What UADK's get_dev_info reads about one uacce device. */
export interface UaccDevInfo {
  /** Device name, e.g. "hisi_zip-0" (the /sys/class/uacce entry and the /dev node). */
  readonly name: string;
  readonly devPath: string;
  /** "hisi_qm_v2" ... */
  readonly api: string;
  readonly algorithms: readonly string[];
  readonly flags: number;
  readonly regionMmioSize: number;
  readonly regionDusSize: number;
  readonly availableInstances: number;
  readonly numaNode: number;
  readonly isolated: boolean;
}

function* readAttr(c: Libc, dir: string, name: string): Generator<unknown, string | number, unknown> {
  const d = yield* c.readFile(`${dir}/${name}`);
  if (typeof d === 'number') return d;
  return new TextDecoder().decode(d).replace(/\n$/, '');
}

function* readIntAttr(c: Libc, dir: string, name: string): Generator<unknown, number | undefined, unknown> {
  const s = yield* readAttr(c, dir, name);
  if (typeof s === 'number') return undefined;
  const v = Number.parseInt(s.trim(), 10);
  return Number.isFinite(v) ? v : undefined;
}

/** get_dev_info: the attributes of /sys/class/uacce/<name>, or -errno when they cannot be read. */
export function* wd_get_dev_info(c: Libc, name: string): Generator<unknown, UaccDevInfo | number, unknown> {
  const dir = `${UACCE_CLASS_DIR}/${name}`;
  const api = yield* readAttr(c, dir, 'api');
  if (typeof api === 'number') return api;
  const algs = yield* readAttr(c, dir, 'algorithms');
  if (typeof algs === 'number') return algs;
  const flags = yield* readIntAttr(c, dir, 'flags');
  const avail = yield* readIntAttr(c, dir, 'available_instances');
  if (flags === undefined || avail === undefined) return -ENODEV;
  const mmio = (yield* readIntAttr(c, dir, 'region_mmio_size')) ?? 0;
  const dus = (yield* readIntAttr(c, dir, 'region_dus_size')) ?? 0;
  const isolate = (yield* readIntAttr(c, dir, 'isolate')) ?? 0;
  const numa = (yield* readIntAttr(c, dir, 'device/numa_node')) ?? 0;
  return {
    name,
    devPath: `/dev/${name}`,
    api,
    algorithms: algs.split('\n').filter((a) => a.length > 0),
    flags,
    regionMmioSize: mmio,
    regionDusSize: dus,
    availableInstances: avail,
    numaNode: numa < 0 ? 0 : numa,
    isolated: isolate === 1,
  };
}

/** wd_get_accel_list: devices that list `alg` as a whole line of "algorithms" and are not isolated. */
export function* wd_get_accel_list(c: Libc, alg: string): Generator<unknown, UaccDevInfo[], unknown> {
  const ents = yield* c.readdir(UACCE_CLASS_DIR);
  if (typeof ents === 'number') return [];
  const out: UaccDevInfo[] = [];
  for (const e of [...ents].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (e.name === '.' || e.name === '..') continue;
    const info = yield* wd_get_dev_info(c, e.name);
    if (typeof info === 'number' || info.isolated || !info.algorithms.includes(alg)) continue;
    out.push(info);
  }
  return out;
}

/** wd_find_dev_by_numa: the device with the most free queues, preferring `node` (-1 = any). */
export function wd_find_dev_by_numa(list: readonly UaccDevInfo[], node: number): UaccDevInfo | null {
  const pick = (cands: readonly UaccDevInfo[]): UaccDevInfo | null => {
    let best: UaccDevInfo | null = null;
    for (const d of cands) if (d.availableInstances > 0 && (best === null || d.availableInstances > best.availableInstances)) best = d;
    return best;
  };
  if (node >= 0) {
    const local = pick(list.filter((d) => d.numaNode === node));
    if (local !== null) return local;
  }
  return pick(list);
}

/** wd_get_accel_dev: the best device for `alg`, or null when none has a free queue. */
export function* wd_get_accel_dev(c: Libc, alg: string): Generator<unknown, UaccDevInfo | null, unknown> {
  return wd_find_dev_by_numa(yield* wd_get_accel_list(c, alg), -1);
}

/** One opened queue of a uacce device (UADK struct wd_ctx_h). */
export class WdCtx {
  /** Mapped region addresses (0 = not mapped), by UACCE_QFRT_*. */
  readonly qfrs: number[] = [0, 0];
  readonly qfrsSize: number[] = [0, 0];
  /** The driver's queue state (wd_ctx_set_priv). */
  priv: unknown = null;
  released = false;
  constructor(
    readonly c: Libc,
    readonly fd: number,
    readonly dev: UaccDevInfo,
  ) {}
}

/** getpagesize(): the kernel's page size from the auxiliary vector. */
export function wd_page_size(c: Libc): number {
  return c.auxv.get(AT_PAGESZ) ?? 4096;
}

/** wd_request_ctx: open a queue of `dev`; the kernel binds it to this process (SVA, PASID). */
export function* wd_request_ctx(c: Libc, dev: UaccDevInfo): Generator<unknown, WdCtx | number, unknown> {
  const fd = yield* c.open(dev.devPath, O_RDWR | O_CLOEXEC);
  if (fd < 0) return fd;
  return new WdCtx(c, fd, dev);
}

/** wd_ctx_mmap_qfr: map region `qfrt` (its sysfs size) with offset qfrt x page size; the address or -errno. */
export function* wd_ctx_mmap_qfr(ctx: WdCtx, qfrt: number): Generator<unknown, number, unknown> {
  if (qfrt < 0 || qfrt >= UACCE_QFRT_MAX) return -EINVAL;
  if (ctx.qfrs[qfrt] !== 0) return -EEXIST;
  const size = qfrt === UACCE_QFRT_MMIO ? ctx.dev.regionMmioSize : ctx.dev.regionDusSize;
  if (size <= 0) return -EINVAL;
  const va = yield* ctx.c.mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED, ctx.fd, qfrt * wd_page_size(ctx.c));
  if (va < 0) return va;
  ctx.qfrs[qfrt] = va;
  ctx.qfrsSize[qfrt] = size;
  return va;
}

/** wd_ctx_unmap_qfr. */
export function* wd_ctx_unmap_qfr(ctx: WdCtx, qfrt: number): Generator<unknown, number, unknown> {
  const va = ctx.qfrs[qfrt] ?? 0;
  if (va === 0) return -EINVAL;
  const r = yield* ctx.c.munmap(va, ctx.qfrsSize[qfrt]!);
  ctx.qfrs[qfrt] = 0;
  ctx.qfrsSize[qfrt] = 0;
  return r;
}

/** wd_ctx_start: UACCE_CMD_START_Q. */
export function wd_ctx_start(ctx: WdCtx): Generator<unknown, number, unknown> {
  return ctx.c.ioctl(ctx.fd, UACCE_CMD_START_Q, 0);
}

/** wd_ctx_set_io_cmd: a driver ioctl whose argument is at user address `arg`. */
export function wd_ctx_set_io_cmd(ctx: WdCtx, cmd: number, arg: number): Generator<unknown, number, unknown> {
  return ctx.c.ioctl(ctx.fd, cmd, arg);
}

/** wd_release_ctx: unmap what is mapped and close (the kernel puts the queue on release). */
export function* wd_release_ctx(ctx: WdCtx): Generator<unknown, void, unknown> {
  if (ctx.released) return;
  ctx.released = true;
  for (const t of [UACCE_QFRT_DUS, UACCE_QFRT_MMIO]) if (ctx.qfrs[t] !== 0) yield* wd_ctx_unmap_qfr(ctx, t);
  yield* ctx.c.close(ctx.fd);
}

/** wd_release_ctx_force: UACCE_CMD_PUT_Q first (the queue is free at once), then release. */
export function* wd_release_ctx_force(ctx: WdCtx): Generator<unknown, void, unknown> {
  if (ctx.released) return;
  yield* ctx.c.ioctl(ctx.fd, UACCE_CMD_PUT_Q, 0);
  yield* wd_release_ctx(ctx);
}

/**
 * wd_ctx_wait: sleep in poll(POLLIN) until the queue has a completion or `ms`
 * milliseconds pass (< 0: forever). Returns 1 on POLLIN, 0 on timeout, -errno.
 */
export function* wd_ctx_wait(ctx: WdCtx, ms: number): Generator<unknown, number, unknown> {
  const r = yield* ctx.c.ppoll([{ fd: ctx.fd, events: POLLIN }], ms < 0 ? -1 : ms * 1e6);
  if (typeof r === 'number') return r;
  return (r[0]! & POLLIN) !== 0 ? 1 : 0;
}

/** "hisi_qm_v2" -> 2 (UADK parses the version after the 9-character "hisi_qm_v"); -EINVAL otherwise. */
export function wd_parse_api_version(api: string, prefix = 'hisi_qm_v'): number {
  if (!api.startsWith(prefix)) return -EINVAL;
  const v = Number.parseInt(api.slice(prefix.length), 10);
  return Number.isFinite(v) && v > 0 ? v : -EINVAL;
}
