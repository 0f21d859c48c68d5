// Objects the kernel throws to unwind a task's stack back to its body: the generator
// frames of user code and of the system call in progress are abandoned, as a real
// kernel abandons a user context on exit or exec. The task body (kernel/fork.ts)
// catches them; they never reach the machine.

import type { UserEntry } from '../../arch/index.js';

/** exit()/exit_group()/a fatal signal: the task leaves with `code` (a wait status). */
export class TaskExitUnwind {
  constructor(
    readonly code: number,
    readonly group: boolean,
  ) {}
}

/** A successful execve: the old program is gone; the task starts `entry` at EL0 with `sp`. */
export class ExecUnwind {
  constructor(
    readonly entry: UserEntry,
    readonly sp: number,
  ) {}
}

export function is_unwind(e: unknown): e is TaskExitUnwind | ExecUnwind {
  return e instanceof TaskExitUnwind || e instanceof ExecUnwind;
}

// Wait status encoding (include/uapi/linux/wait.h as the W* macros decode it).
export function W_EXITCODE(ret: number, sig: number): number {
  return ((ret & 0xff) << 8) | (sig & 0x7f);
}
export const WIFEXITED = (status: number): boolean => (status & 0x7f) === 0;
export const WEXITSTATUS = (status: number): number => (status >> 8) & 0xff;
export const WIFSIGNALED = (status: number): boolean => (status & 0x7f) !== 0 && (status & 0x7f) !== 0x7f;
export const WTERMSIG = (status: number): number => status & 0x7f;
