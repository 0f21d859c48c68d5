// Generic IRQ layer (kernel/irq/irqdesc.c, manage.c, irqdomain.c in shape): interrupt
// controllers register domains that map their hardware numbers to Linux IRQ numbers;
// drivers request_irq() on those numbers. Top halves run in IRQ context and must not
// sleep; a threaded handler runs in a kernel thread "irq/<n>-<name>" that the top half
// wakes with IRQ_WAKE_THREAD.

import { thisCpu } from '../../arch/index.js';
import { EBUSY, EINVAL, ENOMEM } from '../lib/errno.js';
import { oops_report } from '../kernel/panic.js';
import { WaitQueueHead, wait_event, wake_up } from '../sched/wait.js';
import { kthread_run, kthread_should_stop } from '../kernel/kthread.js';

export const IRQ_NONE = 0;
export const IRQ_HANDLED = 1;
export const IRQ_WAKE_THREAD = 2;
export type IrqReturn = 0 | 1 | 2;

// request_irq flags
export const IRQF_TRIGGER_RISING = 0x01;
export const IRQF_TRIGGER_FALLING = 0x02;
export const IRQF_TRIGGER_HIGH = 0x04;
export const IRQF_TRIGGER_LOW = 0x08;
export const IRQF_SHARED = 0x80;
export const IRQF_ONESHOT = 0x2000;
export const IRQF_NO_SUSPEND = 0x4000;
export const IRQF_PERCPU = 0x0400;

export type IrqHandler = (irq: number, devId: unknown) => IrqReturn;
export type IrqThreadFn = (irq: number, devId: unknown) => Generator<unknown, IrqReturn, unknown>;

/** struct irq_chip: what the core asks the interrupt controller to do for one line. */
export interface IrqChip {
  readonly name: string;
  irq_mask(d: IrqDesc): void;
  irq_unmask(d: IrqDesc): void;
  irq_eoi?(d: IrqDesc): void;
  irq_set_type?(d: IrqDesc, type: number): number;
  irq_set_affinity?(d: IrqDesc, cpu: number): number;
}

export interface IrqAction {
  readonly handler: IrqHandler;
  readonly thread_fn: IrqThreadFn | undefined;
  readonly flags: number;
  readonly name: string;
  readonly dev_id: unknown;
  threadWake: WaitQueueHead | undefined;
  threadPending: boolean;
}

export class IrqDesc {
  readonly actions: IrqAction[] = [];
  /** Per-core counts for /proc/interrupts. */
  readonly kstat: number[] = [];
  masked = true;
  constructor(
    readonly irq: number,
    readonly hwirq: number,
    readonly domain: IrqDomain,
    readonly chip: IrqChip,
    /** Private-per-core interrupt (PPI/SGI): enabled on each core separately. */
    readonly percpu: boolean,
  ) {}
}

export class IrqDomain {
  readonly revmap = new Map<number, number>();
  constructor(
    readonly name: string,
    readonly chip: IrqChip,
    /** Decides whether a hwirq is per-core (PPI/SGI). */
    readonly isPercpu: (hwirq: number) => boolean,
  ) {}
}

let descs: (IrqDesc | undefined)[] = [];
let nextIrq = 1;
let nrCpus = 1;

export function irq_init(cpus: number): void {
  descs = [];
  nextIrq = 1;
  nrCpus = cpus;
}

export function irq_to_desc(irq: number): IrqDesc | undefined {
  return Number.isInteger(irq) && irq > 0 ? descs[irq] : undefined;
}

/** irq_create_mapping: the Linux IRQ number for `hwirq` in `domain` (allocated on first use). */
export function irq_create_mapping(domain: IrqDomain, hwirq: number): number {
  const have = domain.revmap.get(hwirq);
  if (have !== undefined) return have;
  const irq = nextIrq++;
  const d = new IrqDesc(irq, hwirq, domain, domain.chip, domain.isPercpu(hwirq));
  for (let i = 0; i < nrCpus; i++) d.kstat.push(0);
  descs[irq] = d;
  domain.revmap.set(hwirq, irq);
  return irq;
}

export function irq_find_mapping(domain: IrqDomain, hwirq: number): number {
  return domain.revmap.get(hwirq) ?? 0;
}

function* irq_thread(desc: IrqDesc, action: IrqAction): Generator<unknown, number, unknown> {
  const wq = action.threadWake!;
  for (;;) {
    yield* wait_event(wq, () => action.threadPending || kthread_should_stop());
    if (kthread_should_stop()) return 0;
    action.threadPending = false;
    try {
      yield* action.thread_fn!(desc.irq, action.dev_id);
    } catch (e) {
      oops_report(e, `irq thread ${action.name}`);
    }
    if (action.flags & IRQF_ONESHOT && desc.masked && desc.actions.includes(action)) {
      desc.masked = false;
      desc.chip.irq_unmask(desc);
    }
  }
}

/** request_threaded_irq: 0 or a negative errno. */
export function request_threaded_irq(irq: number, handler: IrqHandler | null, thread_fn: IrqThreadFn | null, flags: number, name: string, dev_id: unknown): number {
  const desc = irq_to_desc(irq);
  if (desc === undefined) return -EINVAL;
  if (handler === null && thread_fn === null) return -EINVAL;
  if (desc.actions.length > 0 && !(flags & IRQF_SHARED && desc.actions.every((a) => a.flags & IRQF_SHARED))) return -EBUSY;
  const top: IrqHandler = handler ?? (() => IRQ_WAKE_THREAD);
  const action: IrqAction = { handler: top, thread_fn: thread_fn ?? undefined, flags: thread_fn && !handler ? flags | IRQF_ONESHOT : flags, name, dev_id, threadWake: undefined, threadPending: false };
  if (thread_fn) {
    action.threadWake = new WaitQueueHead(`irq/${irq}-${name}`);
    const t = kthread_run(() => irq_thread(desc, action), `irq/${irq}-${name}`);
    if (typeof t === 'number') return -ENOMEM;
  }
  desc.actions.push(action);
  if (desc.chip.irq_set_type && flags & 0x0f) desc.chip.irq_set_type(desc, flags & 0x0f);
  if (desc.masked) {
    desc.masked = false;
    desc.chip.irq_unmask(desc);
  }
  return 0;
}

export function request_irq(irq: number, handler: IrqHandler, flags: number, name: string, dev_id: unknown): number {
  return request_threaded_irq(irq, handler, null, flags, name, dev_id);
}

/** request_percpu_irq: the same handler on every core; each core enables it with enable_percpu_irq. */
export function request_percpu_irq(irq: number, handler: IrqHandler, name: string, dev_id: unknown): number {
  const desc = irq_to_desc(irq);
  if (desc === undefined || !desc.percpu) return -EINVAL;
  if (desc.actions.length > 0) return -EBUSY;
  desc.actions.push({ handler, thread_fn: undefined, flags: IRQF_PERCPU, name, dev_id, threadWake: undefined, threadPending: false });
  return 0;
}

/** enable_percpu_irq: unmasks a PPI on the calling core. */
export function enable_percpu_irq(irq: number): void {
  const desc = irq_to_desc(irq);
  if (desc === undefined) return;
  desc.masked = false;
  desc.chip.irq_unmask(desc);
}

export function free_irq(irq: number, dev_id: unknown): void {
  const desc = irq_to_desc(irq);
  if (desc === undefined) return;
  const i = desc.actions.findIndex((a) => a.dev_id === dev_id);
  if (i < 0) return;
  const [action] = desc.actions.splice(i, 1);
  if (action?.threadWake) {
    action.threadPending = false;
    wake_up(action.threadWake);
  }
  if (desc.actions.length === 0 && !desc.masked) {
    desc.masked = true;
    desc.chip.irq_mask(desc);
  }
}

export function disable_irq_nosync(irq: number): void {
  const desc = irq_to_desc(irq);
  if (desc && !desc.masked) {
    desc.masked = true;
    desc.chip.irq_mask(desc);
  }
}

export function enable_irq(irq: number): void {
  const desc = irq_to_desc(irq);
  if (desc && desc.masked) {
    desc.masked = false;
    desc.chip.irq_unmask(desc);
  }
}

/** Spurious interrupts (no handler claimed them), for /proc/interrupts ERR. */
let spurious = 0;

/** generic_handle_domain_irq: runs the actions of `hwirq`; called by the irqchip's entry. */
export function generic_handle_domain_irq(domain: IrqDomain, hwirq: number): number {
  const irq = domain.revmap.get(hwirq);
  const desc = irq === undefined ? undefined : descs[irq];
  if (desc === undefined) {
    spurious++;
    return -EINVAL;
  }
  desc.kstat[thisCpu().id] = (desc.kstat[thisCpu().id] ?? 0) + 1;
  let handled = false;
  for (const a of desc.actions) {
    let r: IrqReturn = IRQ_NONE;
    try {
      r = a.handler(desc.irq, a.dev_id);
    } catch (e) {
      oops_report(e, `irq handler ${a.name}`);
      r = IRQ_HANDLED;
    }
    if (r === IRQ_WAKE_THREAD && a.threadWake) {
      if (a.flags & IRQF_ONESHOT && !desc.masked) {
        desc.masked = true;
        desc.chip.irq_mask(desc);
      }
      a.threadPending = true;
      wake_up(a.threadWake);
      handled = true;
    } else if (r !== IRQ_NONE) handled = true;
  }
  if (!handled) spurious++;
  return 0;
}

/** /proc/interrupts */
export function show_interrupts(): string {
  let out = '     ' + Array.from({ length: nrCpus }, (_, i) => `      CPU${i}`).join('') + '\n';
  for (const d of descs) {
    if (d === undefined || d.actions.length === 0) continue;
    out += `${String(d.irq).padStart(4)}: ${d.kstat.map((n) => String(n).padStart(10)).join('')} ${d.chip.name.padStart(8)} ${String(d.hwirq).padStart(4)} ${d.actions.map((a) => a.name).join(', ')}\n`;
  }
  out += `Err: ${String(spurious).padStart(10)}\n`;
  return out;
}
