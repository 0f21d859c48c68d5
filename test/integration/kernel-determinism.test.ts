import { describe, it, expect } from 'vitest';
import { createHash } from 'node:crypto';
import { bootKernel } from '../support/kernel-boot.js';
import { UserCtx } from '../support/kernel-user.js';
import type { ArchCpu } from '../../src/arch/index.js';
import * as NR from '../../src/kernel/syscalls/numbers.js';

function run(): { console: string; traceHash: string; now: number } {
  const { machine, handle } = bootKernel({
    programs: {
      init: function* (cpu: ArchCpu, sp: number) {
        const u = new UserCtx(cpu, sp);
        for (let i = 0; i < 3; i++) {
          yield* u.fork(function* (c) {
            const ts = c.alloc(16);
            c.cpu.st64(ts + 8, 100_000 * (3 - i));
            yield* c.sys(NR.__NR_nanosleep, ts, 0);
            yield* c.write(1, `child ${i} pid ${yield* c.sys(NR.__NR_getpid)}\n`);
            return i;
          });
        }
        for (let i = 0; i < 3; i++) {
          const [pid, st] = yield* u.wait();
          yield* u.write(1, `reaped ${pid} ${st >> 8}\n`);
        }
        return 0;
      },
    },
    files: { '/init': ['#!svasoc:init\n', 0o755] },
  });
  machine.trace.enable();
  expect(handle.runToPoweroff(5e9)).toBe(0);
  const h = createHash('sha256').update(machine.trace.hash()).update(String(machine.trace.total));
  return { console: handle.console, traceHash: h.digest('hex'), now: machine.clock.now() };
}

describe('determinism', () => {
  it('two boots of the same image give the same console, the same MMIO trace and the same end time', () => {
    const a = run();
    const b = run();
    expect(a.console).toContain('reaped');
    expect(b.console).toBe(a.console);
    expect(b.traceHash).toBe(a.traceHash);
    expect(b.now).toBe(a.now);
  });
});
