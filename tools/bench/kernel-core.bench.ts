// kernel-core figures: boot to PID 1, system-call round trip, fork+exit+wait.
// Wall times are host figures for this run; virtual times come from the cost model.

import { figure, type BenchFigure } from './figure.js';
import { bootKernel } from '../../test/support/kernel-boot.js';
import { UserCtx } from '../../test/support/kernel-user.js';
import type { ArchCpu } from '../../src/arch/index.js';

function bootOnce(): { wallMs: number; virtMs: number } {
  const t0 = performance.now();
  let initAt = 0;
  const { handle, machine } = bootKernel({
    config: {
      *initTask() {
        initAt = machine.clock.now();
        return 0;
      },
    },
  });
  handle.runToPoweroff(10e9);
  return { wallMs: performance.now() - t0, virtMs: initAt / 1e6 };
}

function userLoop(kind: 'getpid' | 'fork', n: number): { wallNsPerOp: number; virtNsPerOp: number } {
  let t0 = 0;
  let v0 = 0;
  let t1 = 0;
  let v1 = 0;
  const { handle } = bootKernel({
    programs: {
      init: function* (cpu: ArchCpu, sp: number) {
        const u = new UserCtx(cpu, sp);
        t0 = performance.now();
        v0 = cpu.now();
        for (let i = 0; i < n; i++) {
          if (kind === 'getpid') yield* u.sys(172);
          else {
            yield* u.fork(function* () {
              return 0;
            });
            yield* u.wait(-1);
          }
        }
        t1 = performance.now();
        v1 = cpu.now();
        return 0;
      },
    },
    files: { '/init': ['#!svasoc:init\n', 0o755] },
  });
  handle.runToPoweroff(600e9);
  return { wallNsPerOp: ((t1 - t0) * 1e6) / n, virtNsPerOp: (v1 - v0) / n };
}

export async function bench(): Promise<BenchFigure[]> {
  bootOnce(); // warm up the JIT and module graph
  const boots = [bootOnce(), bootOnce(), bootOnce()].sort((a, b) => a.wallMs - b.wallMs);
  const boot = boots[1]!;
  const sc = userLoop('getpid', 100000);
  const fk = userLoop('fork', 300);
  return [
    figure('kernel.boot_to_init_wall', boot.wallMs, 'ms', { max: 1000 }, 'Machine + firmware + start_kernel to PID 1 and power-off, median of 3'),
    figure('kernel.boot_to_init_virtual', boot.virtMs, 'ms', undefined, 'virtual time at which PID 1 runs (PL011 console at 115200 baud dominates)'),
    figure('kernel.syscall_getpid_wall', sc.wallNsPerOp, 'ns', undefined, 'host ns per getpid round trip from a user program'),
    figure('kernel.syscall_getpid_virtual', sc.virtNsPerOp, 'ns', undefined, 'virtual ns per getpid (cost.syscallNs + kernel work)'),
    figure('kernel.fork_exit_wait_wall', fk.wallNsPerOp / 1000, 'us', undefined, 'host us per fork + child exit + wait4 of a small process'),
    figure('kernel.fork_exit_wait_virtual', fk.virtNsPerOp / 1000, 'us', undefined, 'virtual us per fork + exit + wait4'),
  ];
}
