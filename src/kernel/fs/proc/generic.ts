// The system-wide /proc files (fs/proc/{cmdline,version,uptime,interrupts,devices,
// filesystems,mounts,iomem}.c and the /proc/sys tables of kernel/sysctl.c).

import { proc_create, proc_create_node } from './root.js';
import { kn_link } from '../kernfs.js';
import { show_interrupts } from '../../irq/irqdesc.js';
import { show_chrdevs } from '../char_dev.js';
import { show_filesystems, show_mounts } from '../super.js';
import { ktime_get } from '../../time/hrtimer.js';
import { UTS_RELEASE, UTS_VERSION, uts } from '../../kernel/sys.js';
import { dmesg_text } from '../../lib/printk.js';
import { for_each_cpu_rq } from '../../sched/core.js';
import { tasks_by_pid } from '../../kernel/pid.js';
import type { Resource } from '../../of/base.js';

export interface IomemEntry {
  res: Resource;
  children?: IomemEntry[];
}

let iomem: IomemEntry[] = [];

function find_iomem(list: IomemEntry[], name: string): IomemEntry | undefined {
  for (const e of list) {
    if (e.res.name === name) return e;
    const c = find_iomem(e.children ?? [], name);
    if (c !== undefined) return c;
  }
  return undefined;
}

/** request_resource on iomem_resource, or on the resource named `parentName` (sorted by start when shown). */
export function insert_iomem(res: Resource, parentName?: string): void {
  const parent = parentName ? find_iomem(iomem, parentName) : undefined;
  if (parent) (parent.children ??= []).push({ res });
  else iomem.push({ res });
}

function show_iomem(): string {
  const lines: string[] = [];
  const fmt = (e: IomemEntry, depth: number): void => {
    lines.push(`${'  '.repeat(depth)}${e.res.start.toString(16).padStart(8, '0')}-${e.res.end.toString(16).padStart(8, '0')} : ${e.res.name}`);
    for (const c of [...(e.children ?? [])].sort((a, b) => a.res.start - b.res.start)) fmt(c, depth + 1);
  };
  for (const e of [...iomem].sort((a, b) => a.res.start - b.res.start)) fmt(e, 0);
  return lines.join('\n') + '\n';
}

export function proc_generic_init(cmdline: string): void {
  iomem = [];
  proc_create('cmdline', () => `${cmdline}\n`);
  proc_create('version', () => `Linux version ${UTS_RELEASE} (svasoc@svasoc) (TypeScript) ${UTS_VERSION}\n`);
  proc_create('uptime', () => {
    const s = ktime_get() / 1e9;
    return `${s.toFixed(2)} 0.00\n`;
  });
  proc_create('interrupts', show_interrupts);
  proc_create('devices', () => `Character devices:\n${show_chrdevs()}\nBlock devices:\n`);
  proc_create('filesystems', show_filesystems);
  proc_create('mounts', show_mounts);
  proc_create('iomem', show_iomem, undefined, 0o400);
  proc_create('kmsg', dmesg_text, undefined, 0o400);
  proc_create('loadavg', () => {
    let running = 0;
    for_each_cpu_rq((rq) => (running += rq.nr_running));
    const all = tasks_by_pid();
    return `0.00 0.00 0.00 ${running}/${all.length} ${all.length ? all[all.length - 1]!.pid : 0}\n`;
  });
  proc_create('sys/kernel/hostname', () => `${uts.nodename}\n`, (t) => {
    uts.nodename = t.trim().slice(0, 64);
    return 0;
  });
  proc_create('sys/kernel/ostype', () => 'Linux\n');
  proc_create('sys/kernel/osrelease', () => `${UTS_RELEASE}\n`);
  proc_create('sys/kernel/pid_max', () => '32768\n');
  proc_create_node('', kn_link('mtab', () => 'mounts'));
}
