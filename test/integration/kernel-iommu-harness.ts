// Harness for the IOMMU-core integration tests: boots the kernel with one user program
// as /init (as kernel-smmu-harness's runInit does) and gives that program the machine
// and named marks in the recorded trace, so a test can look at exactly the SMMU
// commands a step caused. The program may also call kernel functions directly (it
// runs on the guest CPU, as kernel code reached through a system call would).

import type { ArchCpu } from '../../src/arch/index.js';
import type { Machine } from '../../src/machine/board.js';
import { TraceKind } from '../../src/trace/record.js';
import * as NR from '../../src/kernel/syscalls/numbers.js';
import { log_records } from '../../src/kernel/lib/printk.js';
import { bootKernel } from '../support/kernel-boot.js';
import { UserCtx } from '../support/kernel-user.js';
import type { Rec, SmmuRun } from './kernel-smmu-harness.js';

export interface MarkedRun extends SmmuRun {
  /** Mark name -> number of records before it (an index into `records`). */
  marks: Map<string, number>;
}

export interface InitTools {
  readonly machine: Machine;
  /** Records the position in the trace under `name`. */
  mark(name: string): void;
}

const KINDS = new Set([TraceKind.Command, TraceKind.Event, TraceKind.Stall, TraceKind.Resume, TraceKind.PageRequest, TraceKind.PageResponse, TraceKind.Completion, TraceKind.Fault]);

/** Boots with `init` as PID 1's program; its return value is the power-off code. */
export function runMarked(init: (u: UserCtx, t: InitTools) => Generator<unknown, number, unknown>, o: { args?: string; limitNs?: number } = {}): MarkedRun {
  let tools: InitTools | null = null;
  const { machine, handle } = bootKernel({
    programs: { init: (cpu: ArchCpu, sp: number) => init(new UserCtx(cpu, sp), tools!) },
    files: { '/init': ['#!svasoc:init\n', 0o755] },
    ...(o.args !== undefined ? { args: `console=ttyAMA0 ${o.args}` } : {}),
  });
  const records: Rec[] = [];
  const marks = new Map<string, number>();
  tools = { machine, mark: (name) => void marks.set(name, records.length) };
  machine.trace.subscribe((ring, i) => {
    if (!KINDS.has(ring.kindAt(i))) return;
    const r = ring.at(i);
    if (r.kind === TraceKind.Command) records.push({ ...r, cmd: machine.bus.readBytes(Number(r.pa), 16) });
    else records.push(r);
  });
  const code = handle.runToPoweroff(o.limitNs ?? 60e9);
  const log = log_records().map((r) => r.text);
  return { machine, code, console: handle.console.replace(/\r\n/g, '\n'), log, records, marks };
}

/** The records between two marks. */
export function between(run: MarkedRun, from: string, to: string): Rec[] {
  const a = run.marks.get(from);
  const b = run.marks.get(to);
  if (a === undefined || b === undefined) throw new Error(`no mark ${a === undefined ? from : to}`);
  return run.records.slice(a, b);
}

/** SMMU commands (opcode `op`, or all) among `recs`. */
export function smmuCommands(recs: readonly Rec[], op?: number): Rec[] {
  return recs.filter((r) => r.kind === TraceKind.Command && r.initiator === 'smmu' && (op === undefined || r.aux === op));
}

/** One timespec per program: UserCtx scratch is never freed, and polling loops sleep often. */
const timespecs = new WeakMap<UserCtx, number>();

/** Sleeps `ns` of virtual time (nanosleep), letting devices and kernel threads run. */
export function* sleepNs(u: UserCtx, ns: number): Generator<unknown, number, unknown> {
  let ts = timespecs.get(u);
  if (ts === undefined) {
    ts = u.alloc(16);
    timespecs.set(u, ts);
  }
  u.cpu.st64(ts, Math.floor(ns / 1e9));
  u.cpu.st64(ts + 8, ns % 1e9);
  return yield* u.sys(NR.__NR_nanosleep, ts, 0);
}

/** Reads a whole (small) file, or returns -errno. */
export function* readFile(u: UserCtx, path: string): Generator<unknown, string | number, unknown> {
  const fd = yield* u.sys(NR.__NR_openat, -100, u.str(path), 0, 0);
  if (fd < 0) return fd;
  const buf = u.alloc(4096);
  const n = yield* u.sys(NR.__NR_read, fd, buf, 4096);
  yield* u.sys(NR.__NR_close, fd);
  return n < 0 ? n : u.text(buf, n);
}
