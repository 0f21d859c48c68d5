// /proc/<pid> (fs/proc/base.c, array.c, task_mmu.c in shape): status, stat, cmdline,
// comm, fd links, and the mm views that the core mm supplies through hooks
// (maps, pagemap, the VmLck/VmPin lines of status).

import type { TaskStruct } from '../../sched/task.js';
import { kn_dir, kn_file, kn_link, type KernfsNode } from '../kernfs.js';
import { TASK_INTERRUPTIBLE, TASK_UNINTERRUPTIBLE, TASK_RUNNING, TASK_DEAD, EXIT_ZOMBIE } from '../../sched/task.js';
import { d_path } from '../namei.js';
import type { FileOperations } from '../types.js';

/** What the core mm contributes to /proc/<pid>: set by mm at boot. */
export interface ProcMmHooks {
  /** Lines for /proc/<pid>/status after the VmXxx keys (VmPeak .. VmPin ...). */
  status_vm?(task: TaskStruct): string;
  maps?(task: TaskStruct): string;
  /** /proc/<pid>/pagemap file operations (binary, 8 bytes per page). */
  pagemap_fops?(task: TaskStruct): FileOperations;
  smaps_rollup?(task: TaskStruct): string;
}

let mmHooks: ProcMmHooks = {};

/** Further /proc/<pid> files of other subsystems (e.g. oom_score, oom_score_adj of the OOM killer). */
const pidEntryMakers: ((task: TaskStruct) => KernfsNode)[] = [];
export function proc_pid_entry_register(make: (task: TaskStruct) => KernfsNode): void {
  if (!pidEntryMakers.includes(make)) pidEntryMakers.push(make);
}

export function set_proc_mm_hooks(h: ProcMmHooks): void {
  mmHooks = h;
}

function state_str(t: TaskStruct): string {
  if (t.exit_state === EXIT_ZOMBIE) return 'Z (zombie)';
  if (t.state === TASK_DEAD) return 'X (dead)';
  if (t.state === TASK_RUNNING) return 'R (running)';
  if (t.state & TASK_UNINTERRUPTIBLE) return 'D (disk sleep)';
  if (t.state & TASK_INTERRUPTIBLE) return 'S (sleeping)';
  return 'S (sleeping)';
}

/** Argument strings of the process (set by exec). */
const cmdlines = new WeakMap<TaskStruct, string[]>();

export function set_task_cmdline(t: TaskStruct, argv: string[]): void {
  cmdlines.set(t, argv);
}

export function get_task_cmdline(t: TaskStruct): string[] {
  return cmdlines.get(t) ?? [];
}

function status(t: TaskStruct): string {
  const c = t.cred;
  const ppid = t.real_parent?.tgid ?? 0;
  const lines = [
    `Name:\t${t.comm}`,
    `Umask:\t${(t.fs?.umask ?? 0o022).toString(8).padStart(4, '0')}`,
    `State:\t${state_str(t)}`,
    `Tgid:\t${t.tgid}`,
    `Ngid:\t0`,
    `Pid:\t${t.pid}`,
    `PPid:\t${ppid}`,
    `TracerPid:\t0`,
    `Uid:\t${c.uid}\t${c.euid}\t${c.suid}\t${c.fsuid}`,
    `Gid:\t${c.gid}\t${c.egid}\t${c.sgid}\t${c.fsgid}`,
    `FDSize:\t${Math.max(64, t.files?.fd.length ?? 0)}`,
  ];
  if (t.mm !== null && mmHooks.status_vm) lines.push(mmHooks.status_vm(t).replace(/\n$/, ''));
  lines.push(`Threads:\t${t.group_leader.thread_group.length}`);
  lines.push(`SigPnd:\t${t.pending.toString(16).padStart(16, '0')}`);
  lines.push(`ShdPnd:\t${t.signal.shared_pending.toString(16).padStart(16, '0')}`);
  lines.push(`SigBlk:\t${t.blocked.toString(16).padStart(16, '0')}`);
  lines.push(`CapEff:\t${c.cap_effective.toString(16).padStart(16, '0')}`);
  lines.push(`Cpus_allowed_list:\t${t.cpu}`);
  return lines.join('\n') + '\n';
}

function stat(t: TaskStruct): string {
  const st = state_str(t)[0];
  return `${t.pid} (${t.comm}) ${st} ${t.real_parent?.tgid ?? 0} ${t.pgid} ${t.sid} 0 -1 0 0 0 0 0 ${Math.floor(t.sum_exec_runtime / 1e7)} 0 0 0 20 0 ${t.group_leader.thread_group.length} 0 ${Math.floor(t.start_time / 1e7)} 0 0\n`;
}

function fd_dir(t: TaskStruct): KernfsNode {
  return kn_dir('fd', [], () => {
    const out: KernfsNode[] = [];
    const files = t.files;
    if (files === null) return out;
    files.fd.forEach((f, i) => {
      if (f) out.push(kn_link(String(i), () => (f.f_path.dentry.d_parent === null ? f.f_path.dentry.d_name : d_path(f.f_path))));
    });
    return out;
  });
}

export function proc_pid_entries(t: TaskStruct): KernfsNode[] {
  const e: KernfsNode[] = [
    kn_file('status', () => status(t)),
    kn_file('stat', () => stat(t)),
    kn_file('comm', () => `${t.comm}\n`),
    kn_file('cmdline', () => {
      const a = get_task_cmdline(t);
      return a.length ? a.join('\0') + '\0' : '';
    }),
    fd_dir(t),
    kn_link('cwd', () => (t.fs ? d_path(t.fs.pwd) : '/')),
    kn_link('root', () => (t.fs ? d_path(t.fs.root) : '/')),
  ];
  if (mmHooks.maps) {
    const h = mmHooks.maps;
    e.push(kn_file('maps', () => (t.mm ? h(t) : '')));
  }
  if (mmHooks.smaps_rollup) {
    const h = mmHooks.smaps_rollup;
    e.push(kn_file('smaps_rollup', () => (t.mm ? h(t) : '')));
  }
  if (mmHooks.pagemap_fops) e.push({ name: 'pagemap', mode: 0o100400, fops: mmHooks.pagemap_fops(t), uid: t.cred.euid });
  for (const make of pidEntryMakers) e.push(make(t));
  return e;
}
