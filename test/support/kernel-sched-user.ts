// User-space helpers for scheduler tests, where a task may move between cores: every
// call asks thisCpu() for the core the task runs on now (test/support/kernel-user.ts's
// UserCtx keeps the core it was made on).

import { thisCpu } from '../../src/arch/index.js';
import { UserThreadStart } from '../../src/arch/program.js';
import * as NR from '../../src/kernel/syscalls/numbers.js';

/** A system call on the core the task runs on now. */
export function sys(nr: number, ...args: number[]): Generator<unknown, number, unknown> {
  return thisCpu().svc(nr, ...args);
}

/** fork(): the child runs `child` and exits with its result; returns the child's PID. */
export function* fork(child: () => Generator<unknown, number, unknown>): Generator<unknown, number, unknown> {
  yield new UserThreadStart(function* () {
    const r = yield* child();
    return yield* sys(NR.__NR_exit, r);
  });
  return yield* sys(NR.__NR_clone, 17 /* SIGCHLD */, 0, 0, 0, 0);
}

/** A 64 KiB MAP_SHARED | MAP_ANONYMOUS mapping (shared with children forked later). */
export function* shared_scratch(): Generator<unknown, number, unknown> {
  return yield* sys(NR.__NR_mmap, 0, 65536, 3 /* PROT_READ | PROT_WRITE */, 0x21, -1, 0);
}
