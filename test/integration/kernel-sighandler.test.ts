import { describe, it, expect } from 'vitest';
import { bootKernel } from '../support/kernel-boot.js';
import { oops_count, oops_messages } from '../../src/kernel/kernel/panic.js';
import { program, type Main } from '../../src/user/libc/crt0.js';
import { cpu_relax } from '../../src/user/libc/cpu_relax.js';
import { thisCpu } from '../../src/arch/index.js';
import type { Libc } from '../../src/user/libc/libc.js';
import * as U from '../../src/user/libc/uapi.js';

const EINTR = -4;
const EINVAL = -22;

function run(main: Main, programs: Record<string, Main> = {}): number {
  const rom: Record<string, ReturnType<typeof program>> = { init: program(main) };
  for (const [k, v] of Object.entries(programs)) rom[k] = program(v);
  const { handle } = bootKernel({ programs: rom, files: { '/init': ['#!svasoc:init\n', 0o755] } });
  const code = handle.runToPoweroff(20e9) ?? -1;
  expect(oops_messages()).toEqual([]);
  expect(oops_count()).toBe(0);
  return code;
}

/** fork + wait4: the child's wait status. */
function* child(c: Libc, body: (k: Libc) => Generator<unknown, number, unknown>): Generator<unknown, number, unknown> {
  const pid = yield* c.fork(body);
  const w = yield* c.wait4(pid, 0);
  return typeof w === 'number' ? w : w.status;
}

function* sleepMs(c: Libc, ms: number): Generator<unknown, void, unknown> {
  yield* c.nanosleep(ms * 1e6);
}

describe('user signal handlers (rt_sigaction, delivery, rt_sigreturn)', () => {
  it('a handler runs once per signal with siginfo si_signo, si_code SI_USER (kill) / SI_TKILL (tgkill), si_pid and si_uid of the sender', () => {
    const seen: unknown[] = [];
    run(function* (c) {
      const st = yield* child(c, function* (k) {
        const me = yield* k.getpid();
        seen.push(
          yield* k.sigaction(U.SIGUSR1, function* (sig, info, uc) {
            seen.push({ sig, ...k.siginfo(info), ucOff: uc - info });
          }, U.SA_SIGINFO),
        );
        seen.push(['kill', yield* k.kill(me, U.SIGUSR1)]);
        seen.push(['tgkill', yield* k.raise(U.SIGUSR1)]);
        seen.push(['me', me]);
        return 3;
      });
      seen.push(['status', st]);
      return 0;
    });
    const me = (seen.find((s) => Array.isArray(s) && s[0] === 'me') as [string, number])[1];
    expect(seen).toEqual([
      0,
      { sig: U.SIGUSR1, signo: U.SIGUSR1, code: U.SI_USER, pid: me, uid: 0, status: 0, ucOff: 128 },
      ['kill', 0],
      { sig: U.SIGUSR1, signo: U.SIGUSR1, code: U.SI_TKILL, pid: me, uid: 0, status: 0, ucOff: 128 },
      ['tgkill', 0],
      ['me', me],
      ['status', 3 << 8],
    ]);
  });

  it('sa_mask and the signal itself are blocked while the handler runs and the old mask is back after rt_sigreturn; a signal raised in its own handler waits until then', () => {
    const log: unknown[] = [];
    run(function* (c) {
      yield* child(c, function* (k) {
        let depth = 0;
        let runs = 0;
        yield* k.sigaction(
          U.SIGUSR1,
          function* () {
            depth++;
            log.push(['in', depth, yield* k.sigprocmask(U.SIG_BLOCK)]);
            if (++runs === 1) yield* k.raise(U.SIGUSR1); // blocked: pending until the handler returns
            log.push(['out', depth]);
            depth--;
          },
          0,
          U.sigbit(U.SIGUSR2),
        );
        yield* k.raise(U.SIGUSR1);
        log.push(['after', yield* k.sigprocmask(U.SIG_BLOCK)]);
        return 0;
      });
      return 0;
    });
    const inMask = U.sigbit(U.SIGUSR1) | U.sigbit(U.SIGUSR2);
    expect(log).toEqual([['in', 1, inMask], ['out', 1], ['in', 1, inMask], ['out', 1], ['after', 0]]);
  });

  it('SA_NODEFER: the signal raised in its own handler nests at once', () => {
    const log: unknown[] = [];
    run(function* (c) {
      yield* child(c, function* (k) {
        let depth = 0;
        yield* k.sigaction(
          U.SIGUSR1,
          function* () {
            depth++;
            log.push(['in', depth]);
            if (depth === 1) yield* k.raise(U.SIGUSR1);
            log.push(['out', depth]);
            depth--;
          },
          U.SA_NODEFER,
        );
        yield* k.raise(U.SIGUSR1);
        return 0;
      });
      return 0;
    });
    expect(log).toEqual([['in', 1], ['in', 2], ['out', 2], ['out', 1]]);
  });

  for (const restart of [true, false]) {
    it(`a read blocked on an empty pipe ${restart ? 'restarts after the handler with SA_RESTART (and returns the data written later)' : 'returns -EINTR after the handler without SA_RESTART'}`, () => {
      const log: unknown[] = [];
      run(function* (c) {
        const ready = yield* c.pipe2(0);
        const data = yield* c.pipe2(0);
        if (typeof ready === 'number' || typeof data === 'number') throw new Error('pipe');
        const pid = yield* c.fork(function* (k) {
          yield* k.sigaction(U.SIGUSR1, function* () {
            log.push('handler');
          }, restart ? U.SA_RESTART : 0);
          yield* k.write(ready[1], 'r');
          const got = yield* k.read(data[0], 10);
          log.push(typeof got === 'number' ? got : new TextDecoder().decode(got));
          return 0;
        });
        yield* c.read(ready[0], 1);
        yield* sleepMs(c, 2);
        yield* c.kill(pid, U.SIGUSR1);
        yield* sleepMs(c, 2);
        yield* c.write(data[1], 'data');
        yield* c.wait4(pid, 0);
        return 0;
      });
      expect(log).toEqual(restart ? ['handler', 'data'] : ['handler', EINTR]);
    });
  }

  it('wait4 interrupted by a handled SIGCHLD: -EINTR without SA_RESTART; the handler sees CLD_EXITED with the child pid and status', () => {
    const log: unknown[] = [];
    run(function* (c) {
      yield* child(c, function* (k) {
        yield* k.sigaction(U.SIGCHLD, function* (_sig, info) {
          const i = k.siginfo(info);
          log.push(['chld', i.signo, i.code, i.status]);
        }, U.SA_SIGINFO);
        const kid = yield* k.fork(function* (g) {
          yield* sleepMs(g, 2);
          return 7;
        });
        // A wait on a pid that is not the exiting child: blocks until SIGCHLD interrupts it.
        const p = yield* k.pipe2(0);
        if (typeof p === 'number') return 1;
        log.push(['read', yield* k.read(p[0], 1)]);
        const w = yield* k.wait4(kid, 0);
        log.push(['wait', typeof w === 'number' ? w : [w.pid === kid, U.WEXITSTATUS(w.status)]]);
        return 0;
      });
      return 0;
    });
    expect(log).toEqual([['chld', U.SIGCHLD, U.CLD_EXITED, 7], ['read', EINTR], ['wait', [true, 7]]]);
  });

  it('SA_RESETHAND: the handler runs for the first signal only; the second takes the default action (terminate)', () => {
    let st = -1;
    let runs = 0;
    run(function* (c) {
      st = yield* child(c, function* (k) {
        yield* k.sigaction(U.SIGUSR2, function* () {
          runs++;
        }, U.SA_RESETHAND);
        yield* k.raise(U.SIGUSR2);
        const a = yield* k.sigactionOf(U.SIGUSR2);
        if (typeof a === 'number' || a.handler !== U.SIG_DFL) return 9;
        yield* k.raise(U.SIGUSR2);
        return 0;
      });
      return 0;
    });
    expect(runs).toBe(1);
    expect(st & 0x7f).toBe(U.SIGUSR2);
  });

  it('SIGKILL and SIGSTOP cannot be caught (-EINVAL) and SIGKILL still kills a process whose other signals are handled', () => {
    const log: unknown[] = [];
    run(function* (c) {
      const st = yield* child(c, function* (k) {
        log.push(yield* k.sigaction(U.SIGKILL, function* () {}));
        log.push(yield* k.sigaction(U.SIGSTOP, U.SIG_IGN));
        for (const s of [U.SIGTERM, U.SIGINT, U.SIGUSR1]) yield* k.sigaction(s, function* () {});
        yield* k.kill(yield* k.getpid(), U.SIGKILL);
        return 0;
      });
      log.push(st & 0x7f);
      return 0;
    });
    expect(log).toEqual([EINVAL, EINVAL, U.SIGKILL]);
  });

  it('rt_sigaction returns the old action in the arm64 layout (handler, flags with SA_RESTORER, restorer, mask); unknown flag bits read back as 0', () => {
    const log: unknown[] = [];
    run(function* (c) {
      yield* child(c, function* (k) {
        yield* k.sigaction(U.SIGUSR1, function* () {}, U.SA_RESTART | 0x100, U.sigbit(U.SIGINT) | U.sigbit(U.SIGKILL));
        const a = yield* k.sigactionOf(U.SIGUSR1);
        if (typeof a !== 'number') log.push(a.handler >= 0x401000, a.flags, a.restorer, a.mask);
        return 0;
      });
      return 0;
    });
    expect(log).toEqual([true, U.SA_RESTART | U.SA_RESTORER, 0x400020, U.sigbit(U.SIGINT)]);
  });

  it('fork keeps the handlers (the child runs it); exec resets handled signals to SIG_DFL and keeps ignored ones ignored', () => {
    const log: unknown[] = [];
    run(
      function* (c) {
        yield* child(c, function* (k) {
          yield* k.sigaction(U.SIGUSR1, function* () {
            log.push(['handler', yield* k.getpid()]);
          });
          yield* k.sigaction(U.SIGUSR2, U.SIG_IGN);
          const st = yield* child(k, function* (g) {
            const a = yield* g.sigactionOf(U.SIGUSR1);
            log.push(['forked', typeof a === 'number' ? a : a.handler !== U.SIG_DFL]);
            yield* g.raise(U.SIGUSR1);
            return yield* g.execve('/bin/probe', ['probe']);
          });
          log.push(['probe', U.WEXITSTATUS(st)]);
          return 0;
        });
        return 0;
      },
      {
        probe: function* (c) {
          const a = yield* c.sigactionOf(U.SIGUSR1);
          const b = yield* c.sigactionOf(U.SIGUSR2);
          log.push(['exec', typeof a === 'number' ? a : a.handler, typeof b === 'number' ? b : b.handler]);
          return 5;
        },
      },
    );
    expect(log.length).toBe(4);
    expect(log[0]).toEqual(['forked', true]);
    expect((log[1] as unknown[])[0]).toBe('handler');
    expect(log.slice(2)).toEqual([['exec', U.SIG_DFL, U.SIG_IGN], ['probe', 5]]);
  });

  for (const corruption of ['pstate', 'reserved', 'sp'] as const) {
    it(`a corrupted signal frame (${corruption}) makes rt_sigreturn raise SIGSEGV`, () => {
      let st = -1;
      run(function* (c) {
        st = yield* child(c, function* (k) {
          yield* k.sigaction(U.SIGUSR1, function* (_s, _i, uc) {
            const cpu = thisCpu();
            if (corruption === 'pstate') cpu.st64(uc + U.UCONTEXT.pstate, 5); // EL1h
            else if (corruption === 'reserved') cpu.st32(uc + U.UCONTEXT.reserved, 0x46508001); // an FPSIMD magic this kernel does not write
            else cpu.user.sp += 8; // the frame pointer is no longer 16-aligned
          }, U.SA_SIGINFO);
          yield* k.raise(U.SIGUSR1);
          return 0;
        });
        return 0;
      });
      expect(st & 0x7f).toBe(U.SIGSEGV);
    });
  }

  it('the interrupted registers come back: a handler that changes x19 and x0 leaves the interrupted call its own result', () => {
    const log: unknown[] = [];
    run(function* (c) {
      yield* child(c, function* (k) {
        yield* k.sigaction(U.SIGUSR1, function* (_s, _i, uc) {
          log.push(['saved x0', thisCpu().ld64(uc + U.UCONTEXT.regs)]);
          thisCpu().user.x[19] = 1234;
        }, U.SA_SIGINFO);
        thisCpu().user.x[19] = 77;
        log.push(['kill', yield* k.kill(yield* k.getpid(), U.SIGUSR1)]);
        log.push(['x19', thisCpu().user.x[19]]);
        return 0;
      });
      return 0;
    });
    expect(log).toEqual([['saved x0', 0], ['kill', 0], ['x19', 77]]);
  });

  it('a signal reaches a task spinning in user space at its cpu_relax (YIELD) point; the spin resumes after the handler', () => {
    const log: unknown[] = [];
    run(function* (c) {
      const flag = yield* c.malloc(8);
      thisCpu().st64(flag, 0);
      const pid = yield* c.fork(function* (k) {
        yield* k.sigaction(U.SIGUSR1, function* () {
          log.push('handler');
          thisCpu().st64(flag, 1);
        });
        let spins = 0;
        while (thisCpu().ld64(flag) === 0) {
          spins++;
          yield* cpu_relax();
        }
        log.push(spins > 0 ? 'spun' : 'no spin');
        return 0;
      });
      yield* sleepMs(c, 3);
      yield* c.kill(pid, U.SIGUSR1);
      const w = yield* c.wait4(pid, 0);
      log.push(typeof w === 'number' ? w : w.status);
      return 0;
    });
    expect(log).toEqual(['handler', 'spun', 0]);
  });

  it('sigaltstack with SA_ONSTACK: the frame is on the alternate stack', () => {
    const log: unknown[] = [];
    run(function* (c) {
      yield* child(c, function* (k) {
        const alt = yield* k.malloc(16384);
        log.push(yield* k.sigaltstack(alt, 16384));
        yield* k.sigaction(U.SIGUSR1, function* (_s, info) {
          log.push(info >= alt && info < alt + 16384);
        }, U.SA_ONSTACK | U.SA_SIGINFO);
        yield* k.raise(U.SIGUSR1);
        log.push(yield* k.sigaltstack(alt, 100));
        return 0;
      });
      return 0;
    });
    expect(log).toEqual([0, true, -12]);
  });

  it('deliveries are deterministic: the same program gives the same order of handler runs and results', () => {
    const once = (): unknown[] => {
      const log: unknown[] = [];
      run(function* (c) {
        const h = function* (sig: number): Generator<unknown, void, unknown> {
          log.push(sig);
        };
        for (const s of [U.SIGUSR1, U.SIGUSR2, U.SIGALRM, U.SIGTERM]) yield* c.sigaction(s, h, U.SA_RESTART);
        const pids: number[] = [];
        for (let i = 0; i < 3; i++) {
          pids.push(
            yield* c.fork(function* (k) {
              const pp = yield* k.getppid();
              for (const s of [U.SIGTERM, U.SIGUSR2, U.SIGUSR1, U.SIGALRM]) yield* k.kill(pp, s);
              return i;
            }),
          );
        }
        for (const p of pids) {
          const w = yield* c.wait4(p, 0);
          log.push(typeof w === 'number' ? w : ['w', w.status >> 8]);
        }
        return 0;
      });
      return log;
    };
    const a = once();
    expect(a.filter((x) => typeof x === 'number').length).toBeGreaterThan(0);
    expect(once()).toEqual(a);
  });

  it('without SA_SIGINFO the handler gets the signal number only: x1 keeps the interrupted value (no siginfo pointer)', () => {
    const log: unknown[] = [];
    run(function* (c) {
      yield* child(c, function* (k) {
        yield* k.sigaction(U.SIGUSR1, function* (sig, info) {
          log.push(sig, info);
        });
        yield* k.kill(yield* k.getpid(), U.SIGUSR1); // x1 = the kill's second argument
        return 0;
      });
      return 0;
    });
    expect(log).toEqual([U.SIGUSR1, U.SIGUSR1]);
  });

  it('sigsuspend waits with its mask until a handler ran, returns -EINTR and puts the old mask back; sigpending reports blocked pending signals', () => {
    const log: unknown[] = [];
    run(function* (c) {
      yield* child(c, function* (k) {
        yield* k.sigaction(U.SIGUSR1, function* () {
          log.push(['handler mask', yield* k.sigprocmask(U.SIG_BLOCK)]);
        });
        yield* k.sigprocmask(U.SIG_SETMASK, U.sigbit(U.SIGUSR1) | U.sigbit(U.SIGUSR2));
        yield* k.raise(U.SIGUSR2);
        log.push(['pending', yield* k.sigpending()]);
        yield* k.sigaction(U.SIGUSR2, U.SIG_IGN); // discards the pending USR2
        log.push(['pending', yield* k.sigpending()]);
        const me = yield* k.getpid();
        yield* k.fork(function* (g) {
          yield* sleepMs(g, 2);
          yield* g.kill(me, U.SIGUSR1);
          return 0;
        });
        log.push(['suspend', yield* k.sigsuspend(U.sigbit(U.SIGUSR2))]);
        log.push(['mask', yield* k.sigprocmask(U.SIG_BLOCK)]);
        return 0;
      });
      return 0;
    });
    const both = U.sigbit(U.SIGUSR1) | U.sigbit(U.SIGUSR2);
    expect(log).toEqual([['pending', U.sigbit(U.SIGUSR2)], ['pending', 0], ['handler mask', both], ['suspend', EINTR], ['mask', both]]);
  });

  it('SA_NOCLDWAIT on SIGCHLD: the handler runs and the child is reaped at once (wait4 then finds no child: -ECHILD)', () => {
    const log: unknown[] = [];
    run(function* (c) {
      yield* child(c, function* (k) {
        yield* k.sigaction(U.SIGCHLD, function* (_s, info) {
          log.push(['chld', k.siginfo(info).status]);
        }, U.SA_SIGINFO | U.SA_NOCLDWAIT | U.SA_RESTART);
        const kid = yield* k.fork(function* () {
          return 4;
        });
        yield* sleepMs(k, 5);
        const w = yield* k.wait4(kid, 0);
        log.push(['wait', w]);
        return 0;
      });
      return 0;
    });
    expect(log).toEqual([['chld', 4], ['wait', -10]]);
  });

  it('a blocked default-ignored signal stays pending (SIGCHLD in sigpending) and is dropped when unblocked; the block-fork-sigsuspend pattern gets its SIGCHLD', () => {
    const log: unknown[] = [];
    run(function* (c) {
      yield* child(c, function* (k) {
        yield* k.sigprocmask(U.SIG_BLOCK, U.sigbit(U.SIGCHLD));
        const a = yield* k.fork(function* () {
          return 0;
        });
        yield* k.wait4(a, 0);
        log.push(['pending', yield* k.sigpending()]);
        yield* k.sigprocmask(U.SIG_UNBLOCK, U.sigbit(U.SIGCHLD));
        log.push(['pending', yield* k.sigpending()]);
        yield* k.sigaction(U.SIGCHLD, function* () {
          log.push('chld');
        });
        yield* k.sigprocmask(U.SIG_BLOCK, U.sigbit(U.SIGCHLD));
        yield* k.fork(function* (g) {
          yield* sleepMs(g, 2);
          return 0;
        });
        log.push(['suspend', yield* k.sigsuspend(0)]);
        return 0;
      });
      return 0;
    });
    expect(log).toEqual([['pending', U.sigbit(U.SIGCHLD)], ['pending', 0], 'chld', ['suspend', EINTR]]);
  });

  it('setitimer(ITIMER_REAL) sends SIGALRM (si_code SI_KERNEL) after the value and then every interval; value 0 disarms; unhandled, SIGALRM terminates', () => {
    const log: unknown[] = [];
    let plain = -1;
    run(function* (c) {
      yield* child(c, function* (k) {
        let n = 0;
        const times: number[] = [];
        yield* k.sigaction(U.SIGALRM, function* (_s, info) {
          n++;
          times.push(thisCpu().now());
          log.push(['code', k.siginfo(info).code]);
        }, U.SA_SIGINFO);
        log.push(['set', yield* k.setitimer(2e6, 1e6)]);
        const it = yield* k.getitimer();
        log.push(['armed', typeof it === 'number' ? it : [it[0], it[1] > 0 && it[1] <= 2e6]]);
        while (n < 3) yield* k.sigsuspend(0);
        log.push(['disarm', yield* k.setitimer(0)]);
        log.push(['after', yield* k.getitimer()]);
        log.push(['spacing', times[2]! - times[1]! >= 0.9e6 && times[2]! - times[1]! < 1.5e6]);
        return 0;
      });
      plain = yield* child(c, function* (k) {
        yield* k.alarm(0.001);
        yield* k.sigsuspend(0);
        return 0;
      });
      return 0;
    });
    expect(log).toEqual([['set', 0], ['armed', [1e6, true]], ['code', 0x80], ['code', 0x80], ['code', 0x80], ['disarm', 0], ['after', [0, 0]], ['spacing', true]]);
    expect(plain & 0x7f).toBe(U.SIGALRM);
  });
});
