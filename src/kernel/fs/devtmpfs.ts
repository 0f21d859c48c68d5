// devtmpfs (drivers/base/devtmpfs.c in shape): a tmpfs instance the driver core fills
// with device nodes as devices appear (device_add -> devtmpfs_create_node), mounted on
// /dev. Nodes created before the mount are kept and appear when it is mounted.

import { set_devtmpfs_hooks, type DevNodeRequest } from './char_dev.js';
import { shmem_fill_super } from './shmem.js';
import { lookup_one } from './namei.js';
import { Dentry, S_IFDIR, type SuperBlock } from './types.js';
import { register_filesystem } from './super.js';

let sb: SuperBlock | null = null;

function dir_for(path: string[]): Dentry | null {
  let d = sb!.s_root!;
  for (const part of path) {
    let next = lookup_one(d, part);
    if (typeof next === 'number') {
      const nd = new Dentry(part, d, d.d_sb);
      d.d_inode!.i_op.mkdir!(d.d_inode!, nd, 0o755);
      next = d.d_subdirs.get(part) ?? nd;
    }
    if (next.d_inode === null || (next.d_inode.i_mode & S_IFDIR) !== S_IFDIR) return null;
    d = next;
  }
  return d;
}

function create_node(req: DevNodeRequest): void {
  const parts = req.name.split('/').filter((p) => p.length > 0);
  const leaf = parts.pop();
  if (leaf === undefined) return;
  const dir = dir_for(parts);
  if (dir === null || dir.d_subdirs.has(leaf)) return;
  const d = new Dentry(leaf, dir, dir.d_sb);
  dir.d_inode!.i_op.mknod!(dir.d_inode!, d, req.mode, req.dev);
  const node = dir.d_subdirs.get(leaf);
  if (node?.d_inode) {
    node.d_inode.i_uid = req.uid;
    node.d_inode.i_gid = req.gid;
  }
}

function remove_node(name: string): void {
  const parts = name.split('/').filter((p) => p.length > 0);
  const leaf = parts.pop();
  if (leaf === undefined) return;
  const dir = dir_for(parts);
  const d = dir?.d_subdirs.get(leaf);
  if (dir && d?.d_inode && dir.d_inode?.i_op.unlink) dir.d_inode.i_op.unlink(dir.d_inode, d);
}

/** devtmpfs_init: the instance and the driver-core hooks; registers the "devtmpfs" type. */
export function devtmpfs_init(): void {
  sb = shmem_fill_super(0o755);
  (sb as { s_type: string }).s_type = 'devtmpfs';
  set_devtmpfs_hooks(create_node, remove_node);
  register_filesystem({ name: 'devtmpfs', nodev: true, mount: () => sb! });
}
