// Oops reporting (kernel/panic.c, arch/arm64/kernel/traps.c die()): a host exception
// inside kernel code is a kernel bug. It is logged like an oops with the task and the
// stack, counted (tests assert the count stays zero), and the task is killed; the
// machine keeps running.

import { pr_err } from '../lib/printk.js';
import { current } from '../sched/core.js';

let oopsCount = 0;
const oopsLog: string[] = [];

export function panic_init(): void {
  oopsCount = 0;
  oopsLog.length = 0;
}

/** Number of oopses since boot. */
export function oops_count(): number {
  return oopsCount;
}

/** The messages of the oopses since boot (first line each). */
export function oops_messages(): readonly string[] {
  return oopsLog;
}

export function oops_report(err: unknown, where: string): void {
  oopsCount++;
  let who = '?';
  try {
    const t = current();
    who = `${t.comm} pid ${t.pid}`;
  } catch {
    // no current core: reported from outside guest execution
  }
  const msg = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  oopsLog.push(`${where}: ${msg}`);
  pr_err(`Internal error: Oops: ${msg} [#${oopsCount}]`);
  pr_err(`CPU task: ${who} in ${where}`);
  if (err instanceof Error && err.stack) {
    const frames = err.stack.split('\n').slice(1, 8);
    pr_err('Call trace:');
    for (const f of frames) pr_err(` ${f.trim()}`);
  }
  pr_err('---[ end trace ]---');
}
