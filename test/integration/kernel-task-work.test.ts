// task_work (kernel/task_work.c) and the fput that uses it (fs/file_table.c): work
// queued by a task runs in that task before its system call returns to user space
// (newest first), or in do_exit before the parent hears of the exit; once the task has
// passed exit_task_work, task_work_add refuses with -ESRCH. The last fput of a file
// dropped by a task (munmap of the mapping that held it) releases the file before
// munmap returns; from a kernel thread it goes to the delayed_fput work.

import { describe, expect, it } from 'vitest';
import type { ArchCpu } from '../../src/arch/index.js';
import { current } from '../../src/kernel/sched/core.js';
import type { TaskStruct } from '../../src/kernel/sched/task.js';
import { task_work_add, task_work_cancel, task_work_pending } from '../../src/kernel/kernel/task_work.js';
import { kthread_run } from '../../src/kernel/kernel/kthread.js';
import { fd_file, fget, fput } from '../../src/kernel/fs/file.js';
import type { File } from '../../src/kernel/fs/types.js';
import { oops_count } from '../../src/kernel/kernel/panic.js';
import * as NR from '../../src/kernel/syscalls/numbers.js';
import { bootKernel } from '../support/kernel-boot.js';
import { UserCtx } from '../support/kernel-user.js';

const ESRCH = -3;
const PAGE = 4096;
const PROT_RW = 3;
const MAP_SHARED = 1;
const AT_FDCWD = -100;
const O_RDWR = 2;
const O_CREAT = 0o100;

/** A file's f_op with a release that records when it ran, then does the original's work. */
function watchRelease(file: File, seen: { released: boolean }): void {
  const orig = file.f_op;
  file.f_op = {
    ...orig,
    *release(inode, f) {
      seen.released = true;
      const r = orig.release?.(inode, f);
      if (r) yield* r;
    },
  };
}

describe('task_work and the deferred fput', () => {
  const got: Record<string, unknown> = {};
  const log: string[] = [];
  const { handle } = bootKernel({
    programs: {
      init: function* (cpu: ArchCpu, sp: number) {
        const u = new UserCtx(cpu, sp);
        const me = current();
        // queued work waits for the way back to user space, then runs newest first
        task_work_add(me, function* () {
          log.push('first');
        });
        task_work_add(me, function* () {
          log.push('second');
        });
        const dropped = function* (): Generator<unknown, void, unknown> {
          log.push('cancelled');
        };
        task_work_add(me, dropped);
        got.cancel = task_work_cancel(me, dropped);
        got.beforeReturn = [...log];
        got.pendingBefore = task_work_pending(me);
        yield* u.sys(NR.__NR_getpid);
        got.afterReturn = [...log];
        got.pendingAfter = task_work_pending(me);

        // a child's work runs in do_exit, before wait4 sees it; afterwards the list is closed
        let child: TaskStruct | undefined;
        const pid = yield* u.fork(function* () {
          child = current();
          task_work_add(current(), function* () {
            log.push('child exit');
          });
          return 7;
        });
        const [, status] = yield* u.wait(pid);
        got.childStatus = status >> 8;
        got.afterChild = [...log];
        got.addAfterExit = child === undefined ? 'no child' : task_work_add(child, function* () {});

        // munmap of the mapping that holds the last reference of a file: released before munmap returns
        const fd = yield* u.sys(NR.__NR_openat, AT_FDCWD, u.str('/tw'), O_CREAT | O_RDWR, 0o600);
        yield* u.sys(NR.__NR_ftruncate, fd, PAGE);
        const file = fd_file(fd)!;
        const addr = yield* u.sys(NR.__NR_mmap, 0, PAGE, PROT_RW, MAP_SHARED, fd, 0);
        yield* u.sys(NR.__NR_close, fd);
        got.countMapped = file.f_count;
        const seen = { released: false };
        watchRelease(file, seen);
        got.munmap = yield* u.sys(NR.__NR_munmap, addr, PAGE);
        got.releasedAtReturn = seen.released;

        // from a kernel thread the last fput goes to the delayed_fput work: not released when the thread ends
        const fd2 = yield* u.sys(NR.__NR_openat, AT_FDCWD, u.str('/tw2'), O_CREAT | O_RDWR, 0o600);
        const file2 = fget(fd2)!;
        yield* u.sys(NR.__NR_close, fd2);
        const seen2 = { released: false };
        let releasedInThread = true;
        watchRelease(file2, seen2);
        kthread_run(function* () {
          fput(file2);
          releasedInThread = seen2.released;
          return 0;
        }, 'tw-kthread');
        const ts = u.alloc(16);
        u.cpu.st64(ts, 0n);
        u.cpu.st64(ts + 8, 10_000_000n);
        yield* u.sys(NR.__NR_nanosleep, ts, 0);
        got.kthread = [releasedInThread, seen2.released];
        return 0;
      },
    },
    files: { '/init': ['#!svasoc:init\n', 0o755] },
  });
  const code = handle.runToPoweroff(10e9);

  it('runs to the end without an oops', () => {
    expect(code).toBe(0);
    expect(oops_count()).toBe(0);
  });

  it('task work runs when the system call returns to user space, newest first; a cancelled one never runs', () => {
    expect(got.cancel).toBe(true);
    expect(got.beforeReturn).toEqual([]);
    expect(got.pendingBefore).toBe(true);
    expect(got.afterReturn).toEqual(['second', 'first']);
    expect(got.pendingAfter).toBe(false);
  });

  it("an exiting task runs its work in do_exit, before the parent's wait4 returns; then task_work_add is -ESRCH", () => {
    expect(got.childStatus).toBe(7);
    expect(got.afterChild).toEqual(['second', 'first', 'child exit']);
    expect(got.addAfterExit).toBe(ESRCH);
  });

  it('munmap dropping the last reference of a file returns after the file was released', () => {
    expect(got.countMapped).toBe(1);
    expect(got.munmap).toBe(0);
    expect(got.releasedAtReturn).toBe(true);
  });

  it('a kernel thread dropping the last reference leaves the release to the delayed_fput work', () => {
    expect(got.kthread).toEqual([false, true]);
  });
});
