// debugfs (fs/debugfs in shape): a kernfs tree drivers fill with debugging files
// (debugfs_create_dir/debugfs_create_file), mounted on /sys/kernel/debug by PID 1.

import { kn_add, kn_dir, kn_file, kn_get_inode, type KernfsNode, type KnShow, type KnStore } from './kernfs.js';
import { d_make_root } from './libfs.js';
import { SuperBlock } from './types.js';
import { register_filesystem } from './super.js';

export const DEBUGFS_MAGIC = 0x64626720;

let root: KernfsNode = kn_dir('/', [], undefined, 0o700);

export function debugfs_init(): void {
  root = kn_dir('/', [], undefined, 0o700);
  register_filesystem({
    name: 'debugfs',
    nodev: true,
    mount: () => {
      const sb = new SuperBlock('debugfs', DEBUGFS_MAGIC, 0xfff2);
      d_make_root(sb, kn_get_inode(sb, root));
      return sb;
    },
  });
}

/** debugfs_create_dir: the directory at `path` (parents created as needed). */
export function debugfs_create_dir(path: string): KernfsNode {
  let n = root;
  for (const part of path.split('/').filter((p) => p.length > 0)) {
    let c = (n.children ?? []).find((x) => x.name === part);
    if (c === undefined) c = kn_add(n, kn_dir(part, [], undefined, 0o700));
    n = c;
  }
  return n;
}

/** debugfs_create_file: a generated file, root-only by default (0400, or 0600 with a store). */
export function debugfs_create_file(path: string, show: KnShow | undefined, store?: KnStore, mode?: number): KernfsNode {
  const parts = path.split('/').filter((p) => p.length > 0);
  const name = parts.pop()!;
  return kn_add(debugfs_create_dir(parts.join('/')), kn_file(name, show, store, mode ?? (store ? 0o600 : 0o400)));
}

export function debugfs_remove(path: string): void {
  const parts = path.split('/').filter((p) => p.length > 0);
  const name = parts.pop();
  const dir = debugfs_create_dir(parts.join('/'));
  if (dir.children && name) {
    const i = dir.children.findIndex((c) => c.name === name);
    if (i >= 0) dir.children.splice(i, 1);
  }
}
