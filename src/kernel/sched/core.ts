// The scheduler (kernel/sched/core.c in shape): per-core run queues, round robin with
// a time slice charged in virtual time, the idle loop, and wake-ups.
//
// A task is a generator (its "kernel stack"). Whatever a task yields comes back here:
// `schedule()` yields after setting the task state; a task that yields while still
// TASK_RUNNING has reached a preemption point and stays runnable. Preemption points are
// the return to user space from a system call and the YIELD hint of spin loops (the
// `preempt` vector), and cond_resched in kernel loops; there the task gives up its core
// when need_resched is set (a wake-up IPI), when its slice is over with others queued
// (what the scheduler tick would flag), or when the core's turn on the machine is over.
// Tasks are placed on a core at creation and move only when their affinity no longer
// allows their core (sched_setaffinity); a wake-up from another core reaches a task
// with a reschedule IPI (SGI), as on arm64.

import { thisCpu, type ArchCpu, type CoreYield, ExceptionLevel } from '../../arch/index.js';
import { UserThreadStart } from '../../arch/program.js';
import { EINVAL } from '../lib/errno.js';
import { HrTimer, hrtimer_cancel, hrtimer_start } from '../time/hrtimer.js';
import {
  TASK_DEAD,
  TASK_RUNNING,
  TASK_NORMAL,
  PF_IDLE,
  PF_KTHREAD,
  CPU_MASK_ALL,
  cpumask_test_cpu,
  TaskStruct,
  Cred,
  SignalStruct,
  init_rlimits,
  type TaskBody,
  boot_generation,
  next_boot_generation,
} from './task.js';

/** Round-robin slice (sysctl_sched_base_slice is 3 ms on Linux 6.6; 4 ms = one tick at HZ=250). */
export const SCHED_SLICE_NS = 4_000_000;
/** Bits of a cpumask this kernel is built with (CONFIG_NR_CPUS): one unsigned long. */
export const NR_CPUS = 64;
/** cpumask_size(): bytes of a user cpumask (BITS_TO_LONGS(NR_CPUS) * sizeof(long)). */
export const CPUMASK_SIZE = 8;

export class RunQueue {
  readonly queue: TaskStruct[] = [];
  curr: TaskStruct;
  need_resched = false;
  nr_switches = 0;
  /** Start of the current task's slice (virtual ns). */
  slice_start = 0;
  /** Nested IRQ depth (in_interrupt()). */
  irq_depth = 0;
  /** A task handed over with `UserThreadStart` just before it calls clone. */
  online = false;
  /** The scheduler tick at the end of the current slice while others wait (see hrtick). */
  readonly hrtick_timer: HrTimer;
  constructor(
    readonly cpu: number,
    readonly idle: TaskStruct,
  ) {
    this.curr = idle;
    this.hrtick_timer = new HrTimer(() => hrtick(this));
  }
  get nr_running(): number {
    return this.queue.length + (this.curr === this.idle ? 0 : 1);
  }
}

let runqueues: RunQueue[] = [];
/** Sends the reschedule IPI to a core (installed by the irqchip driver at boot). */
let ipiSender: ((cpu: number) => void) | undefined;
/** Called when a task's body finishes or throws (installed by kernel/exit). */
let taskDeadHook: ((task: TaskStruct, error: unknown) => void) | undefined;
/** Per-task hook to switch address spaces (installed by kernel-mm's switch_mm glue). */
let mmSwitcher: ((cpu: ArchCpu, prev: TaskStruct, next: TaskStruct) => void) | undefined;

/** sched_init: one run queue (and idle task "swapper/N") per possible core. */
export function sched_init(nrCpus: number): void {
  next_boot_generation();
  runqueues = [];
  ipiSender = undefined;
  for (let i = 0; i < nrCpus; i++) {
    const idle = new TaskStruct(0, 0, i === 0 ? 'swapper/0' : `swapper/${i}`, new Cred(), new SignalStruct(init_rlimits()));
    idle.flags |= PF_IDLE | PF_KTHREAD;
    idle.cpu = i;
    runqueues.push(new RunQueue(i, idle));
  }
}

export function set_smp_cross_call(fn: (cpu: number) => void): void {
  ipiSender = fn;
}

export function set_task_dead_hook(fn: (task: TaskStruct, error: unknown) => void): void {
  taskDeadHook = fn;
}

export function set_mm_switcher(fn: (cpu: ArchCpu, prev: TaskStruct, next: TaskStruct) => void): void {
  mmSwitcher = fn;
}

export function nr_cpu_ids(): number {
  return runqueues.length;
}

export function cpu_rq(cpu: number): RunQueue {
  const rq = runqueues[cpu];
  if (rq === undefined) throw new Error(`sched: no run queue for cpu ${cpu} (sched_init not run?)`);
  return rq;
}

export function this_rq(): RunQueue {
  return cpu_rq(thisCpu().id);
}

/** The task running on this core (the idle task when none). */
export function current(): TaskStruct {
  return cpu_rq(thisCpu().id).curr;
}

export function in_interrupt(): boolean {
  return cpu_rq(thisCpu().id).irq_depth > 0;
}

export function set_current_state(state: number): void {
  current().state = state;
}

/** cpu_active_mask: the cores that run tasks (their idle loop has started). */
export function cpu_active_mask(): number {
  let m = 0;
  for (const rq of runqueues) if (rq.online) m |= 1 << rq.cpu;
  return m >>> 0;
}

/** cpu_possible_mask: every core the kernel has a run queue for. */
export function cpu_possible_mask(): number {
  return runqueues.length >= 32 ? CPU_MASK_ALL : ((1 << runqueues.length) - 1) >>> 0;
}

/**
 * Picks the core for a new or moving task among `allowed`: the online core with the
 * fewest runnable tasks, lowest number first (deterministic); before any allowed core is
 * online, the lowest allowed one.
 */
export function select_task_rq(allowed = CPU_MASK_ALL): number {
  let best = -1;
  let bestLoad = Infinity;
  for (const rq of runqueues) {
    if (!rq.online || !cpumask_test_cpu(rq.cpu, allowed)) continue;
    const load = rq.nr_running;
    if (load < bestLoad) {
      best = rq.cpu;
      bestLoad = load;
    }
  }
  if (best >= 0) return best;
  for (const rq of runqueues) if (cpumask_test_cpu(rq.cpu, allowed)) return rq.cpu;
  return 0;
}

/** try_to_wake_up: makes `task` runnable if its state matches `state`; true when it woke. */
export function try_to_wake_up(task: TaskStruct, state = TASK_NORMAL): boolean {
  if ((task.state & state) === 0 || task.state === TASK_DEAD) return false;
  // A sleeper left on a wait queue by an earlier boot in this host process.
  if (task.generation !== boot_generation()) return false;
  task.state = TASK_RUNNING;
  task.wake_ns = Math.max(task.wake_ns, thisCpu().now());
  const rq = cpu_rq(task.cpu);
  if (!task.on_rq && rq.curr !== task) {
    task.on_rq = true;
    rq.queue.push(task);
  }
  if (task.cpu !== thisCpu().id) {
    if (ipiSender) ipiSender(task.cpu);
  } else if (rq.curr !== task) {
    rq.need_resched = rq.curr === rq.idle ? true : rq.need_resched;
    hrtick_start(rq);
  }
  return true;
}

export function wake_up_process(task: TaskStruct): boolean {
  return try_to_wake_up(task, TASK_NORMAL);
}

/** wake_up_new_task: the first enqueue of a task made by fork or kthread_create. */
export function wake_up_new_task(task: TaskStruct, body: TaskBody): void {
  // A forked task inherits its parent's affinity (dup_task_struct); kernel threads come
  // from kthreadd, which may run anywhere.
  if ((task.flags & PF_KTHREAD) === 0) task.cpus_mask = current().cpus_mask;
  if (!cpumask_test_cpu(task.cpu, task.cpus_mask)) task.cpu = select_task_rq(task.cpus_mask);
  task.thread = body;
  task.state = TASK_RUNNING;
  task.start_time = task.wake_ns = thisCpu().now();
  const rq = cpu_rq(task.cpu);
  task.on_rq = true;
  rq.queue.push(task);
  if (task.cpu !== thisCpu().id) {
    if (ipiSender) ipiSender(task.cpu);
  } else hrtick_start(rq);
}

/**
 * The scheduler tick (Linux's HRTICK: an hrtimer at the end of the running task's slice,
 * armed only while other tasks wait on the core, as a busy core's tick would be). In hard
 * IRQ context on the run queue's core: flags need_resched once the slice is over, and the
 * task gives the core up at its next preemption point (for a spinner, the YIELD hint
 * after the IRQ returns).
 */
function hrtick(rq: RunQueue): void {
  if (rq.curr === rq.idle || rq.queue.length === 0) return;
  const end = rq.slice_start + SCHED_SLICE_NS;
  if (thisCpu().now() >= end) rq.need_resched = true;
  else hrtimer_start(rq.hrtick_timer, end);
}

/** hrtick_start: arms the tick when a task waits behind the running one on this core. */
function hrtick_start(rq: RunQueue): void {
  if (rq.cpu !== thisCpu().id || rq.curr === rq.idle || rq.queue.length === 0 || rq.hrtick_timer.queued) return;
  hrtimer_start(rq.hrtick_timer, rq.slice_start + SCHED_SLICE_NS);
}

/** Token a task yields to enter the scheduler. */
export const SCHEDULE = Symbol('schedule');

/**
 * schedule(): the caller has set its state (or left it RUNNING to give up the core).
 * Returns when the task runs again.
 */
export function* schedule(): Generator<unknown, void, unknown> {
  yield SCHEDULE;
}

/**
 * cond_resched and the preemption check on the way back to user space: yield when a
 * reschedule is flagged, the slice is over with others waiting, the core's turn on the
 * machine is over, or the task's affinity moved it to another core.
 */
export function* cond_resched(): Generator<unknown, void, unknown> {
  const cpu = thisCpu();
  const rq = cpu_rq(cpu.id);
  const now = cpu.now();
  if (
    rq.need_resched ||
    now >= cpu.turnEndNs() ||
    (rq.queue.length > 0 && now - rq.slice_start >= SCHED_SLICE_NS) ||
    rq.curr.cpu !== cpu.id
  ) {
    yield SCHEDULE;
  }
}

/** sched_yield: go to the back of the queue when others are waiting. */
export function* yield_task(): Generator<unknown, void, unknown> {
  this_rq().need_resched = true;
  yield SCHEDULE;
}

/** The last `UserThreadStart` a task yielded: what its next clone child runs. */
const pendingChildStart = new WeakMap<TaskStruct, UserThreadStart>();

export function take_child_start(task: TaskStruct): UserThreadStart | undefined {
  const s = pendingChildStart.get(task);
  pendingChildStart.delete(task);
  return s;
}

function context_switch(cpu: ArchCpu, rq: RunQueue, next: TaskStruct): void {
  const prev = rq.curr;
  rq.curr = next;
  rq.nr_switches++;
  rq.need_resched = false;
  rq.slice_start = cpu.now();
  if (rq.queue.length > 0) {
    if (rq.hrtick_timer.queued) hrtimer_cancel(rq.hrtick_timer);
    hrtick_start(rq);
  } else if (rq.hrtick_timer.queued) hrtimer_cancel(rq.hrtick_timer);
  if (mmSwitcher && (next.mm !== null || next.active_mm !== null)) mmSwitcher(cpu, prev, next);
  cpu.writeSysreg('TPIDR_EL0', next.thread_ctx.tpidr_el0);
}

/**
 * Runs `next` until it blocks, exits or is preempted. Returns the yields to hand to the
 * machine (the caller is the per-core loop).
 */
function* run_task(cpu: ArchCpu, rq: RunQueue, next: TaskStruct): Generator<CoreYield, void, void> {
  next.on_rq = false;
  // Causality across cores: cores run on loosely synchronised local clocks, and a task
  // woken (or created) at time T on another core must not run here before T.
  const lag = next.wake_ns - cpu.now();
  if (lag > 0) cpu.charge(lag);
  context_switch(cpu, rq, next);
  for (;;) {
    const body = next.thread;
    if (body === undefined) break;
    const t0 = cpu.now();
    cpu.setEl(next.thread_ctx.el === 0 ? ExceptionLevel.EL0 : ExceptionLevel.EL1);
    let res: IteratorResult<unknown, void>;
    try {
      res = body.next();
    } catch (err) {
      cpu.setEl(ExceptionLevel.EL1);
      next.thread = undefined;
      next.sum_exec_runtime += cpu.now() - t0;
      if (taskDeadHook) taskDeadHook(next, err);
      break;
    }
    next.thread_ctx.el = cpu.el === ExceptionLevel.EL0 ? 0 : 1;
    cpu.setEl(ExceptionLevel.EL1);
    next.sum_exec_runtime += cpu.now() - t0;
    if (res.done) {
      next.thread = undefined;
      if (next.state !== TASK_DEAD && taskDeadHook) taskDeadHook(next, undefined);
      break;
    }
    if (res.value instanceof UserThreadStart) {
      pendingChildStart.set(next, res.value);
      continue;
    }
    if (next.state !== TASK_RUNNING) break;
    const now = cpu.now();
    if (next.cpu !== cpu.id) {
      // Its affinity no longer allows this core: it goes on on its new one (move_queued_task).
      // An interrupt's wake-up between setting its state and schedule() may have queued it there.
      next.wake_ns = Math.max(next.wake_ns, now);
      if (!next.on_rq) {
        next.on_rq = true;
        cpu_rq(next.cpu).queue.push(next);
      }
      if (ipiSender) ipiSender(next.cpu);
      break;
    }
    if (rq.queue.length > 0 && (rq.need_resched || now - rq.slice_start >= SCHED_SLICE_NS)) {
      next.on_rq = true;
      rq.queue.push(next);
      break;
    }
    rq.need_resched = false;
    if (now >= cpu.turnEndNs()) yield 'yield';
  }
  next.thread_ctx.tpidr_el0 = cpu.readSysreg('TPIDR_EL0');
  rq.curr = rq.idle;
}

/** Cost of leaving WFI and re-entering the scheduler (charged so a pending IRQ is taken). */
const IDLE_EXIT_NS = 20;

/**
 * cpu_startup_entry: the per-core loop. Runs queued tasks; with none, WFI until an
 * interrupt (whose handler may queue a task).
 */
export function* cpu_startup_entry(cpu: ArchCpu): Generator<CoreYield, void, void> {
  const rq = cpu_rq(cpu.id);
  rq.online = true;
  for (;;) {
    const next = rq.queue.shift();
    if (next === undefined) {
      if (!cpu.irqPending()) yield 'wfi';
      cpu.charge(IDLE_EXIT_NS);
      continue;
    }
    if (next.state !== TASK_RUNNING || next.thread === undefined) {
      next.on_rq = false;
      continue;
    }
    yield* run_task(cpu, rq, next);
    if (cpu.now() >= cpu.turnEndNs()) yield 'yield';
  }
}

/**
 * set_cpus_allowed_ptr: `task` may run only on the CPUs of `mask` (bits of CPUs that do not
 * exist are dropped). -EINVAL when no online CPU is left in it. A task on a core the mask
 * excludes moves to an allowed one: queued, at once; asleep, its wake-up goes there;
 * running (here, or on another core, which an IPI asks to reschedule), at its next
 * preemption point.
 */
export function set_cpus_allowed_ptr(task: TaskStruct, mask: number): number {
  const allowed = (mask & cpu_possible_mask()) >>> 0;
  const active = (allowed & cpu_active_mask()) >>> 0;
  if (active === 0) return -EINVAL;
  task.cpus_mask = allowed;
  if (cpumask_test_cpu(task.cpu, active)) return 0;
  const dest = select_task_rq(active);
  const from = cpu_rq(task.cpu);
  const here = thisCpu();
  if (task.on_rq && from.curr !== task) {
    const i = from.queue.indexOf(task);
    if (i >= 0) from.queue.splice(i, 1);
    task.cpu = dest;
    task.wake_ns = Math.max(task.wake_ns, here.now());
    cpu_rq(dest).queue.push(task);
    if (dest !== here.id) {
      if (ipiSender) ipiSender(dest);
    } else hrtick_start(cpu_rq(dest));
    return 0;
  }
  task.cpu = dest;
  if (from.curr === task && from.cpu !== here.id && ipiSender) ipiSender(from.cpu);
  return 0;
}

/** Scheduler IPI handler: the wake-up already queued the task; the loop picks it. */
export function scheduler_ipi(): void {
  this_rq().need_resched = true;
}

/** Every task known to the run queues of all cores (for /proc and debugging). */
export function for_each_cpu_rq(fn: (rq: RunQueue) => void): void {
  for (const rq of runqueues) fn(rq);
}
