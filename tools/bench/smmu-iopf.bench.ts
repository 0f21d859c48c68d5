// The stalled I/O page fault round trip on the booted board, measured in one run: a
// process binds its mm to the test device (stall master: iommu_testdev.dma_can_stall=1)
// and the device writes N never-touched pages at their virtual addresses. Each page
// stalls in the SMMU, the event reaches evtq_thread, the iopf worker faults the page
// in through the mm, CMD_RESUME RETRY replays the access.
// - virtual time of a round trip: from the Stall trace record to the Resume record of
//   the same STAG (event write, interrupt, kernel handling, CMD_RESUME consumed), and
//   the part after the event (kernel fault handling + command);
// - the same process's CPU demand fault (store to a fresh page) in virtual time, and
//   the ratio;
// - host cost: wall time per fault (the faulting transfer minus the same transfer over
//   the now-present pages, divided by N), as reported figures: ROUNDS rounds on fresh
//   mappings in one boot; the figure is the median of the second half (the JIT takes a few
//   thousand faults to warm up: the first rounds cost several times more, see the note).

import { figure, type BenchFigure } from './figure.js';
import { TraceKind } from '../../src/trace/record.js';
import type { ArchCpu } from '../../src/arch/index.js';
import { bootKernel } from '../../test/support/kernel-boot.js';
import { UserCtx } from '../../test/support/kernel-user.js';
import * as NR from '../../src/kernel/syscalls/numbers.js';
import { ITD_IOC_BIND, ITD_IOC_SVA_DMA, ITD_OP_WRITE } from '../../src/kernel/drivers/misc/iommu-testdev.js';

const PAGE = 4096;
const N = 512;
const ROUNDS = 8;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1] ?? 0;
}

interface Phase {
  wallNs: number;
  virtNs: number;
  result: number;
}

/** One boot running the workload; `traced` subscribes to the trace for the round trips (the host cost is measured untraced). */
function runOnce(traced: boolean, rounds: number): { phases: Record<string, Phase>; cpuFaultVirtNs: number; rt: number[]; afterEvent: number[] } {
  const phases: Record<string, Phase> = {};
  let cpuFaultVirtNs = 0;
  const init = function* (cpu: ArchCpu, sp: number): Generator<unknown, number, unknown> {
    const u = new UserCtx(cpu, sp);
    const fd = yield* u.sys(NR.__NR_openat, -100, u.str('/dev/iommu-testdev'), 2, 0);
    if (fd < 0) return 10;
    const b = u.alloc(8);
    if ((yield* u.sys(NR.__NR_ioctl, fd, ITD_IOC_BIND, b)) !== 0) return 11;
    const req = u.alloc(40);
    function* sva(name: string, va: number, len: number): Generator<unknown, void, unknown> {
      cpu.st64(req, va);
      cpu.st32(req + 8, len);
      cpu.st32(req + 12, ITD_OP_WRITE);
      cpu.st32(req + 16, 0);
      const t0 = process.hrtime.bigint();
      const v0 = cpu.now();
      yield* u.sys(NR.__NR_ioctl, fd, ITD_IOC_SVA_DMA, req);
      phases[name] = { wallNs: Number(process.hrtime.bigint() - t0), virtNs: cpu.now() - v0, result: cpu.ld32(req + 20) >>> 0 };
    }
    for (let r = 0; r < rounds; r++) {
      const buf = yield* u.sys(NR.__NR_mmap, 0, N * PAGE, 3, 0x22, -1, 0);
      yield* sva(`fault${r}`, buf, N * PAGE);
      yield* sva(`present${r}`, buf, N * PAGE);
    }
    // The CPU's own demand faults on N fresh pages, in virtual time
    const cbuf = yield* u.sys(NR.__NR_mmap, 0, N * PAGE, 3, 0x22, -1, 0);
    const v0 = cpu.now();
    for (let i = 0; i < N; i++) cpu.st32(cbuf + i * PAGE, i);
    cpuFaultVirtNs = (cpu.now() - v0) / N;
    return 0;
  };
  const { machine, handle } = bootKernel({ programs: { init }, files: { '/init': ['#!svasoc:init\n', 0o755] }, args: 'console=ttyAMA0 iommu_testdev.dma_can_stall=1' });
  const stallAt = new Map<number, number>();
  const eventAt = new Map<number, number>();
  const rt: number[] = [];
  const afterEvent: number[] = [];
  const unsubscribe = machine.trace.subscribe((ring, i) => {
    const k = ring.kindAt(i);
    if (k !== TraceKind.Stall && k !== TraceKind.Event && k !== TraceKind.Resume) return;
    const r = ring.at(i);
    if (k === TraceKind.Event) {
      eventAt.set(Number(r.value) & 0xffff, r.timeNs);
      return;
    }
    // Stall and Resume records carry the STAG in `value`
    const stag = Number(r.value) & 0xffff;
    if (k === TraceKind.Stall) stallAt.set(stag, r.timeNs);
    else if (stallAt.has(stag)) {
      rt.push(r.timeNs - stallAt.get(stag)!);
      afterEvent.push(r.timeNs - (eventAt.get(stag) ?? stallAt.get(stag)!));
      stallAt.delete(stag);
    }
  });
  if (!traced) unsubscribe();
  const code = handle.runToPoweroff(600e9);
  if (code !== 0) throw new Error(`smmu-iopf bench: run failed (code ${code})`);
  return { phases, cpuFaultVirtNs, rt, afterEvent };
}

export async function bench(): Promise<BenchFigure[]> {
  const { rt, afterEvent, cpuFaultVirtNs } = runOnce(true, 1);
  const { phases } = runOnce(false, ROUNDS);
  const hostPerFault: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const f = phases[`fault${r}`];
    const p = phases[`present${r}`];
    if (f === undefined || p === undefined || f.result !== 0 || p.result !== 0) throw new Error(`smmu-iopf bench: DMA failed in round ${r} (results ${f?.result}/${p?.result})`);
    hostPerFault.push((f.wallNs - p.wallNs) / N);
  }
  const f = phases.fault0!;
  const p = phases.present0!;
  if (rt.length !== N) throw new Error(`smmu-iopf bench: ${rt.length} round trips traced, expected ${N}`);
  const rtNs = median(rt);
  const hostPerFaultNs = median(hostPerFault.slice(ROUNDS >> 1));
  return [
    figure('smmu_iopf.stall_roundtrip_virtual_ns', rtNs, 'ns', undefined, `median of ${rt.length}: Stall -> event -> evtq_thread -> iopf worker (handle_mm_fault) -> CMD_RESUME consumed; mean ${(rt.reduce((a, b) => a + b, 0) / rt.length).toFixed(0)} ns`),
    figure('smmu_iopf.after_event_virtual_ns', median(afterEvent), 'ns', undefined, 'event record written -> RESUME consumed (interrupt, kernel fault handling, command)'),
    figure('smmu_iopf.per_fault_dma_virtual_ns', (f.virtNs - p.virtNs) / N, 'ns', undefined, `extra virtual time per page of a ${N}-page SVA write over not-present pages vs present ones (the test device charges each byte once: the extra is the time spent stalled)`),
    figure('smmu_iopf.vs_cpu_fault_virtual', rtNs / cpuFaultVirtNs, 'x', undefined, `CPU demand fault of the same process: ${cpuFaultVirtNs.toFixed(0)} ns virtual`),
    figure('smmu_iopf.host_ns_per_fault', hostPerFaultNs, 'ns', undefined, `host wall time per stalled fault, trace off: (faulting transfer - present transfer) / ${N}, median of rounds ${ROUNDS >> 1}-${ROUNDS - 1} on fresh mappings; per round ${hostPerFault.map((x) => (x / 1e3).toFixed(0)).join(', ')} us (the JIT warms up over the first rounds)`),
  ];
}
