import { describe, it, expect } from 'vitest';
import { bootKernel } from '../support/kernel-boot.js';
import { oops_count } from '../../src/kernel/kernel/panic.js';
import { thisCpu } from '../../src/arch/index.js';
import { cond_resched, current } from '../../src/kernel/sched/core.js';
import { kthread_run } from '../../src/kernel/kernel/kthread.js';
import { Completion, complete, wait_for_completion } from '../../src/kernel/sched/wait.js';
import { Mutex, mutex_lock, mutex_unlock } from '../../src/kernel/locking/mutex.js';
import { msleep } from '../../src/kernel/time/sleep.js';
import { WorkStruct, flush_work, schedule_work } from '../../src/kernel/kernel/workqueue.js';
import { HrTimer, hrtimer_start_ns } from '../../src/kernel/time/hrtimer.js';
import { show_interrupts } from '../../src/kernel/irq/irqdesc.js';

describe('scheduler and kernel primitives', () => {
  it('two CPU-bound kthreads on one core share it round-robin in 4 ms slices', () => {
    const trace: string[] = [];
    const { handle } = bootKernel({
      config: {
        *initTask() {
          const done = new Completion();
          for (const name of ['A', 'B']) {
            kthread_run(
              function* () {
                for (let i = 0; i < 12; i++) {
                  thisCpu().charge(1_000_000); // 1 ms of work
                  trace.push(name);
                  yield* cond_resched();
                }
                complete(done);
              },
              `spin${name}`,
              1,
            );
          }
          yield* wait_for_completion(done);
          yield* wait_for_completion(done);
          return 0;
        },
      },
    });
    expect(handle.runToPoweroff(5e9)).toBe(0);
    const s = trace.join('');
    expect(s.length).toBe(24);
    expect(s).toMatch(/^(AAAABBBB)+$|^(BBBBAAAA)+$/);
    expect(oops_count()).toBe(0);
  });

  it('a wake-up from core 0 reaches a sleeper on core 1 (reschedule IPI) and it runs there', () => {
    const seen: number[] = [];
    const { handle } = bootKernel({
      config: {
        *initTask() {
          const go = new Completion();
          const back = new Completion();
          kthread_run(
            function* () {
              yield* wait_for_completion(go);
              seen.push(thisCpu().id, current().cpu);
              complete(back);
            },
            'sleeper',
            1,
          );
          yield* msleep(1);
          seen.push(thisCpu().id);
          complete(go);
          yield* wait_for_completion(back);
          return 0;
        },
      },
    });
    expect(handle.runToPoweroff(5e9)).toBe(0);
    expect(seen).toEqual([0, 1, 1]);
    expect(oops_count()).toBe(0);
  });

  it('a mutex keeps two sleeping holders apart; a workqueue item queued from a timer interrupt runs in process context', () => {
    const events: string[] = [];
    const { handle } = bootKernel({
      config: {
        *initTask() {
          const m = new Mutex('test');
          const done = new Completion();
          for (const name of ['x', 'y']) {
            kthread_run(function* () {
              yield* mutex_lock(m);
              events.push(`${name}+`);
              yield* msleep(2);
              events.push(`${name}-`);
              mutex_unlock(m);
              complete(done);
            }, `m${name}`);
          }
          yield* wait_for_completion(done);
          yield* wait_for_completion(done);
          const work = new WorkStruct(function* () {
            yield* msleep(1);
            events.push(`work in ${current().comm}`);
          });
          hrtimer_start_ns(new HrTimer(() => schedule_work(work)), 500_000);
          yield* msleep(1);
          yield* flush_work(work);
          events.push('flushed');
          return 0;
        },
      },
    });
    expect(handle.runToPoweroff(5e9)).toBe(0);
    // Either thread may win the lock (they start on different cores); the other waits until it is released.
    const [first, second] = events[0] === 'x+' ? ['x', 'y'] : ['y', 'x'];
    expect(events).toEqual([`${first}+`, `${first}-`, `${second}+`, `${second}-`, 'work in kworker/events', 'flushed']);
    // Timer interrupts are handled, not spurious: no interrupt storm on a core behind the machine clock.
    expect(Number(/Err:\s+(\d+)/.exec(show_interrupts())![1])).toBeLessThan(5);
    expect(oops_count()).toBe(0);
  });
});
