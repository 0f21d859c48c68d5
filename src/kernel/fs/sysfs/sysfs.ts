// sysfs (fs/sysfs in shape): the kernfs tree of kobjects. The driver core creates
// /sys/devices/..., /sys/bus/<bus>/{devices,drivers}, /sys/class/<class>/<dev>
// with attributes and symlinks; mounts show the same tree.

import { kernfs_dops, kn_add, kn_dir, kn_file, kn_find, kn_get_inode, kn_link, kn_remove, type KernfsNode, type KnShow, type KnStore } from '../kernfs.js';
import { d_make_root } from '../libfs.js';
import { S_IFREG, SuperBlock, type FileOperations } from '../types.js';
import { register_filesystem } from '../super.js';

export const SYSFS_MAGIC = 0x62656572;

let root: KernfsNode = kn_dir('/', [], undefined, 0o755);

export function sysfs_init(): void {
  root = kn_dir('/', [], undefined, 0o755);
  for (const d of ['devices', 'bus', 'class', 'kernel', 'module', 'firmware', 'dev', 'fs', 'block']) kn_add(root, kn_dir(d, [], undefined, 0o755));
  sysfs_create_dir('kernel/debug');
  register_filesystem({
    name: 'sysfs',
    nodev: true,
    mount: () => {
      const sb = new SuperBlock('sysfs', SYSFS_MAGIC, 0xfff1);
      sb.s_d_op = kernfs_dops;
      d_make_root(sb, kn_get_inode(sb, root));
      return sb;
    },
  });
}

/** The directory at `path` (e.g. "bus/pci/devices"), created as needed. */
export function sysfs_create_dir(path: string): KernfsNode {
  let n = root;
  for (const part of path.split('/').filter((p) => p.length > 0)) {
    let c = (n.children ?? []).find((x) => x.name === part);
    if (c === undefined) c = kn_add(n, kn_dir(part, [], undefined, 0o755));
    n = c;
  }
  return n;
}

export function sysfs_create_file(dirPath: string, name: string, show: KnShow | undefined, store?: KnStore, mode?: number): KernfsNode {
  return kn_add(sysfs_create_dir(dirPath), kn_file(name, show, store, mode));
}

/**
 * sysfs_create_bin_file: a binary attribute of `size` bytes whose file operations
 * are the attribute's own (read, mmap), e.g. a PCI device's resource<N>.
 */
export function sysfs_create_bin_file(dirPath: string, name: string, mode: number, size: number, fops: FileOperations): KernfsNode {
  return kn_add(sysfs_create_dir(dirPath), { name, mode: S_IFREG | mode, fops, size });
}

/**
 * sysfs_create_link: `dirPath/name` -> `targetPath` (both below /sys). The link text is
 * relative through the nearest common ancestor, as kernfs_get_target_path writes it
 * ("../../../devices/..." from another tree, "../../../0000:00:01.0" to an ancestor).
 */
export function sysfs_create_link(dirPath: string, name: string, targetPath: string): KernfsNode {
  const from = dirPath.split('/').filter((p) => p.length > 0);
  const to = targetPath.split('/').filter((p) => p.length > 0);
  let common = 0;
  // the common ancestor is one of the target's parents, never the target itself
  while (common < from.length && common < to.length - 1 && from[common] === to[common]) common++;
  const rel = '../'.repeat(from.length - common) + to.slice(common).join('/');
  return kn_add(sysfs_create_dir(dirPath), kn_link(name, () => rel));
}

export function sysfs_remove(dirPath: string, name: string): void {
  const d = kn_find(root, dirPath);
  if (d) kn_remove(d, name);
}

export function sysfs_lookup(path: string): KernfsNode | undefined {
  return kn_find(root, path);
}
