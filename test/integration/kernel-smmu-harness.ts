// Harness for the SMMU/SVA integration tests: boots the real kernel on the board with
// one user program as /init (raw system calls through UserCtx), records the SMMU and
// test-device trace records of the run (with the bytes of each command the SMMU
// consumed), and wraps /dev/iommu-testdev's ioctls.

import type { ArchCpu } from '../../src/arch/index.js';
import { Machine } from '../../src/machine/board.js';
import { TraceKind, type TraceRecord } from '../../src/trace/record.js';
import * as NR from '../../src/kernel/syscalls/numbers.js';
import { ITD_IOC_BIND, ITD_IOC_DMA, ITD_IOC_STATUS, ITD_IOC_SVA_DMA, ITD_IOC_UNBIND } from '../../src/kernel/drivers/misc/iommu-testdev.js';
import { bootKernel, buildInitramfs } from '../support/kernel-boot.js';
import { boot } from '../../src/machine/boot.js';
import { createKernelImage } from '../../src/kernel/image.js';
import type { DeviceTree } from '../../src/machine/fdt/tree.js';
import { log_records } from '../../src/kernel/lib/printk.js';
import { UserCtx } from '../support/kernel-user.js';

export const PAGE = 4096;
export const TESTDEV_SID = 0x10;
export const ZIP_SID = 0x08;
export const PATTERN = 0x12345678;
export const PROT_RW = 3;
export const MAP_PRIVATE_ANON = 0x22;
const O_RDWR = 2;

export interface Rec extends TraceRecord {
  /** Command records: the 16 bytes of the command as the SMMU read them. */
  readonly cmd?: Uint8Array;
}

export interface SmmuRun {
  machine: Machine;
  code: number | undefined;
  console: string;
  /** The kernel log buffer after the run (dmesg), one line per record, no timestamps. */
  log: string[];
  records: Rec[];
}

const DEFAULT_KINDS = [TraceKind.Command, TraceKind.Event, TraceKind.Stall, TraceKind.Resume, TraceKind.PageRequest, TraceKind.PageResponse, TraceKind.IotlbMiss, TraceKind.Walk, TraceKind.Completion, TraceKind.Fault];

/** Boots with `init` as PID 1's program; its return value is the power-off code. */
export function runInit(
  init: (u: UserCtx) => Generator<unknown, number, unknown>,
  o: { args?: string; kinds?: TraceKind[]; limitNs?: number; /** Edits the tree the guest is given (the board is wired from the original). */ dt?: (tree: DeviceTree) => void } = {},
): SmmuRun {
  const opts = {
    programs: { init: (cpu: ArchCpu, sp: number) => init(new UserCtx(cpu, sp)) },
    files: { '/init': ['#!svasoc:init\n', 0o755] as [string, number] },
    ...(o.args !== undefined ? { args: `console=ttyAMA0 ${o.args}` } : {}),
  };
  const { machine, handle } = o.dt === undefined ? bootKernel(opts) : bootPatched(opts, o.dt);
  const kinds = new Set(o.kinds ?? DEFAULT_KINDS);
  const records: Rec[] = [];
  machine.trace.subscribe((ring, i) => {
    if (!kinds.has(ring.kindAt(i))) return;
    const r = ring.at(i);
    if (r.kind === TraceKind.Command) records.push({ ...r, cmd: machine.bus.readBytes(Number(r.pa), 16) });
    else records.push(r);
  });
  const code = handle.runToPoweroff(o.limitNs ?? 60e9);
  const log = log_records().map((r) => r.text);
  return { machine, code, console: handle.console.replace(/\r\n/g, '\n'), log, records };
}

/** Dword `i` of a recorded command as a bigint. */
export function cmdDword(r: Rec, i: number): bigint {
  const b = r.cmd!;
  let v = 0n;
  for (let k = 7; k >= 0; k--) v = (v << 8n) | BigInt(b[8 * i + k]!);
  return v;
}

export interface DmaResult {
  ret: number;
  result: number;
  iova: number;
  fault: number;
}

/** /dev/iommu-testdev from a user program. */
export class Testdev {
  private constructor(
    readonly u: UserCtx,
    readonly fd: number,
  ) {}

  static *open(u: UserCtx): Generator<unknown, Testdev | number, unknown> {
    const fd = yield* u.sys(NR.__NR_openat, -100, u.str('/dev/iommu-testdev'), O_RDWR, 0);
    return fd < 0 ? fd : new Testdev(u, fd);
  }

  private *xfer(cmd: number, addr: number, len: number, op: number, flags: number): Generator<unknown, DmaResult, unknown> {
    const u = this.u;
    const a = u.alloc(40);
    u.cpu.st64(a, addr);
    u.cpu.st32(a + 8, len);
    u.cpu.st32(a + 12, op);
    u.cpu.st32(a + 16, flags);
    const ret = yield* u.sys(NR.__NR_ioctl, this.fd, cmd, a);
    return { ret, result: u.cpu.ld32(a + 20) >>> 0, iova: u.cpu.ld64(a + 24), fault: u.cpu.ld64(a + 32) };
  }

  /** ITD_IOC_DMA: a transfer through the DMA API (bounce pages, IOVA). */
  dma(addr: number, len: number, op: number, flags = 0): Generator<unknown, DmaResult, unknown> {
    return this.xfer(ITD_IOC_DMA, addr, len, op, flags);
  }

  /** ITD_IOC_SVA_DMA: a transfer at this process's virtual addresses. */
  svaDma(addr: number, len: number, op: number, flags = 0): Generator<unknown, DmaResult, unknown> {
    return this.xfer(ITD_IOC_SVA_DMA, addr, len, op, flags);
  }

  /** ITD_IOC_BIND: the PASID, or -errno. */
  *bind(flags = 0): Generator<unknown, number, unknown> {
    const a = this.u.alloc(8);
    this.u.cpu.st32(a, flags);
    const r = yield* this.u.sys(NR.__NR_ioctl, this.fd, ITD_IOC_BIND, a);
    return r < 0 ? r : this.u.cpu.ld32(a + 4);
  }

  unbind(): Generator<unknown, number, unknown> {
    return this.u.sys(NR.__NR_ioctl, this.fd, ITD_IOC_UNBIND, 0);
  }

  *status(): Generator<unknown, { result: number; pending: number; fault: number }, unknown> {
    const a = this.u.alloc(16);
    yield* this.u.sys(NR.__NR_ioctl, this.fd, ITD_IOC_STATUS, a);
    return { result: this.u.cpu.ld32(a) >>> 0, pending: this.u.cpu.ld32(a + 4), fault: this.u.cpu.ld64(a + 8) };
  }

  close(): Generator<unknown, number, unknown> {
    return this.u.sys(NR.__NR_close, this.fd);
  }
}

export function* mmap(u: UserCtx, len: number): Generator<unknown, number, unknown> {
  return yield* u.sys(NR.__NR_mmap, 0, len, PROT_RW, MAP_PRIVATE_ANON, -1, 0);
}

export function* munmap(u: UserCtx, addr: number, len: number): Generator<unknown, number, unknown> {
  return yield* u.sys(NR.__NR_munmap, addr, len);
}

/** Whether the page at `va` is present, from /proc/self/pagemap (bit 63). */
export function* pagePresent(u: UserCtx, va: number): Generator<unknown, boolean, unknown> {
  const fd = yield* u.sys(NR.__NR_openat, -100, u.str('/proc/self/pagemap'), 0, 0);
  if (fd < 0) throw new Error(`pagemap open ${fd}`);
  const buf = u.alloc(8);
  const r = yield* u.sys(NR.__NR_pread64, fd, buf, 8, Math.floor(va / PAGE) * 8);
  yield* u.sys(NR.__NR_close, fd);
  if (r !== 8) throw new Error(`pagemap pread ${r}`);
  return (u.cpu.ld32(buf + 4) & 0x8000_0000) !== 0;
}

/** True when `n` bytes at `va` hold the device's little-endian 0x12345678 pattern. */
export function holdsPattern(u: UserCtx, va: number, n: number): boolean {
  for (let i = 0; i < n; i += 4) if (u.cpu.ld32(va + i) >>> 0 !== PATTERN) return false;
  return true;
}

/** bootKernel with the guest's device tree edited after the board was wired from it. */
function bootPatched(opts: Parameters<typeof bootKernel>[0] & object, dt: (tree: DeviceTree) => void): ReturnType<typeof bootKernel> {
  const machine = new Machine({ cpus: 2, ramSize: 256 * 1024 * 1024 });
  dt(machine.deviceTree);
  const handle = boot(machine, {
    kernel: createKernelImage({}),
    rom: new Map(Object.entries(opts.programs ?? {})),
    initramfs: buildInitramfs(opts),
    ...(opts.args !== undefined ? { args: opts.args } : {}),
  });
  return { machine, handle };
}
