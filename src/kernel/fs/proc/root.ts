// procfs (fs/proc in shape): a kernfs tree. Subsystems add entries with proc_create
// (e.g. "meminfo", "sys/vm/swappiness"); per-process directories are generated from
// the PID table on each lookup, so they vanish with the process.

import { kernfs_dops, kn_add, kn_dir, kn_file, kn_find, kn_get_inode, kn_link, type KernfsNode, type KnShow, type KnStore } from '../kernfs.js';
import { d_make_root } from '../libfs.js';
import { SuperBlock } from '../types.js';
import { register_filesystem } from '../super.js';
import { current } from '../../sched/core.js';
import { tasks_by_pid } from '../../kernel/pid.js';
import { proc_pid_entries } from './base.js';

export const PROC_SUPER_MAGIC = 0x9fa0;

let root: KernfsNode = kn_dir('/');

function pid_dirs(): KernfsNode[] {
  const out: KernfsNode[] = [];
  for (const t of tasks_by_pid()) {
    if (t.exit_state !== 0 && t.exit_state !== 0x20) continue;
    if (t.pid !== t.tgid) continue;
    const d = kn_dir(String(t.pid), proc_pid_entries(t));
    d.uid = t.cred.euid;
    d.gid = t.cred.egid;
    out.push(d);
  }
  return out;
}

export function proc_root_init(): void {
  root = kn_dir('/', [], pid_dirs);
  root.children!.push(kn_link('self', () => String(current().tgid)));
  root.children!.push(kn_link('thread-self', () => `${current().tgid}/task/${current().pid}`));
  register_filesystem({
    name: 'proc',
    nodev: true,
    mount: () => {
      const sb = new SuperBlock('proc', PROC_SUPER_MAGIC, 0xfff0);
      sb.s_d_op = kernfs_dops;
      d_make_root(sb, kn_get_inode(sb, root));
      return sb;
    },
  });
}

/** The directory node at `path` below /proc, created as needed. */
export function proc_mkdir(path: string): KernfsNode {
  let n = root;
  for (const part of path.split('/').filter((p) => p.length > 0)) {
    let c = (n.children ?? []).find((x) => x.name === part);
    if (c === undefined) c = kn_add(n, kn_dir(part));
    n = c;
  }
  return n;
}

/** proc_create: a generated file at `path` (its directories created as needed). */
export function proc_create(path: string, show: KnShow, store?: KnStore, mode?: number): KernfsNode {
  const parts = path.split('/').filter((p) => p.length > 0);
  const name = parts.pop()!;
  const dir = proc_mkdir(parts.join('/'));
  return kn_add(dir, kn_file(name, show, store, mode));
}

/** proc_create_node: any kernfs node (custom fops, links). */
export function proc_create_node(dirPath: string, node: KernfsNode): KernfsNode {
  return kn_add(proc_mkdir(dirPath), node);
}

export function proc_lookup_node(path: string): KernfsNode | undefined {
  return kn_find(root, path);
}

/** A sysctl under /proc/sys: integer value with get/set. */
export function register_sysctl_int(path: string, get: () => number, set?: (v: number) => number): KernfsNode {
  return proc_create(
    `sys/${path}`,
    () => `${get()}\n`,
    set
      ? (text) => {
          const v = Number.parseInt(text.trim(), 10);
          if (!Number.isFinite(v)) return -22;
          return set(v);
        }
      : undefined,
  );
}
