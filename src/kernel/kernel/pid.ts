// PID allocation and lookup (kernel/pid.c): PIDs are handed out in increasing order
// from 1 up to pid_max and wrap, skipping PIDs in use, so the same boot always gets
// the same PIDs.

import type { TaskStruct } from '../sched/task.js';

/** pid_max default (PID_MAX_DEFAULT). */
export const PID_MAX_DEFAULT = 32768;
/** After wrapping, allocation restarts above the range reserved for early tasks. */
const RESERVED_PIDS = 300;

let pidTable = new Map<number, TaskStruct>();
let lastPid = 0;

export function pidmap_init(): void {
  pidTable = new Map();
  lastPid = 0;
}

/** alloc_pid: the next free PID, or -1 when every PID is in use. */
export function alloc_pid(): number {
  for (let tries = 0; tries < PID_MAX_DEFAULT; tries++) {
    let pid = lastPid + 1;
    if (pid >= PID_MAX_DEFAULT) pid = RESERVED_PIDS;
    lastPid = pid;
    if (!pidTable.has(pid)) return pid;
  }
  return -1;
}

export function attach_pid(task: TaskStruct): void {
  pidTable.set(task.pid, task);
}

export function detach_pid(task: TaskStruct): void {
  if (pidTable.get(task.pid) === task) pidTable.delete(task.pid);
}

/** find_task_by_vpid */
export function find_task_by_vpid(pid: number): TaskStruct | undefined {
  return pidTable.get(pid);
}

/** All tasks in PID order (for_each_process and /proc listings). */
export function tasks_by_pid(): TaskStruct[] {
  return [...pidTable.values()].sort((a, b) => a.pid - b.pid);
}
