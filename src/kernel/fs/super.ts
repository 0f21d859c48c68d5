// Filesystem types and mounting (fs/super.c, fs/namespace.c in shape):
// register_filesystem, vfs_kern_mount and do_mount onto a directory.

import { EBUSY, ENODEV, ENOTDIR, EPERM, EINVAL } from '../lib/errno.js';
import { current } from '../sched/core.js';
import { CAP_SYS_ADMIN, has_capability } from '../sched/task.js';
import { attach_mnt, all_mounts, detach_mnt, path_lookupat, LOOKUP_FOLLOW, d_path } from './namei.js';
import { S_ISDIR, VfsMount, type SuperBlock } from './types.js';

export interface FileSystemType {
  readonly name: string;
  /** Builds (or returns the single) super block for a mount of `devName` with `data`. */
  mount(devName: string, data: string): SuperBlock | number;
  /** Not backed by a block device (listed "nodev" in /proc/filesystems). */
  readonly nodev: boolean;
}

let fsTypes: FileSystemType[] = [];

export function filesystems_init(): void {
  fsTypes = [];
}

export function register_filesystem(fs: FileSystemType): number {
  if (fsTypes.some((f) => f.name === fs.name)) return -EBUSY;
  fsTypes.push(fs);
  return 0;
}

export function get_fs_type(name: string): FileSystemType | undefined {
  return fsTypes.find((f) => f.name === name);
}

/** /proc/filesystems */
export function show_filesystems(): string {
  return fsTypes.map((f) => `${f.nodev ? 'nodev' : ''}\t${f.name}\n`).join('');
}

/** vfs_kern_mount: a mount of `type` not attached anywhere yet. */
export function vfs_kern_mount(type: string, devName: string, data = ''): VfsMount | number {
  const fs = get_fs_type(type);
  if (fs === undefined) return -ENODEV;
  const sb = fs.mount(devName, data);
  if (typeof sb === 'number') return sb;
  if (sb.s_root === null) return -EINVAL;
  return new VfsMount(sb.s_root, sb, devName);
}

/** do_mount: mounts `type` on the directory `dirName` (as the mount(2) syscall does). */
export function do_mount(devName: string, dirName: string, type: string, data = ''): number {
  if (!has_capability(current(), CAP_SYS_ADMIN)) return -EPERM;
  const p = path_lookupat(-100, dirName, LOOKUP_FOLLOW);
  if (typeof p === 'number') return p;
  if (p.dentry.d_inode === null || !S_ISDIR(p.dentry.d_inode.i_mode)) return -ENOTDIR;
  const m = vfs_kern_mount(type, devName, data);
  if (typeof m === 'number') return m;
  attach_mnt(m, p.mnt, p.dentry);
  return 0;
}

export function do_umount(dirName: string): number {
  if (!has_capability(current(), CAP_SYS_ADMIN)) return -EPERM;
  const p = path_lookupat(-100, dirName, LOOKUP_FOLLOW);
  if (typeof p === 'number') return p;
  const m = all_mounts().find((x) => x.mnt_root === p.dentry && x === p.mnt);
  if (m === undefined || m.mnt_parent === null) return -EINVAL;
  if (all_mounts().some((x) => x.mnt_parent === m)) return -EBUSY;
  detach_mnt(m);
  return 0;
}

/** /proc/mounts */
export function show_mounts(): string {
  return all_mounts()
    .map((m) => {
      const where = m.mnt_parent === null || m.mnt_mountpoint === null ? '/' : d_path({ mnt: m.mnt_parent, dentry: m.mnt_mountpoint });
      return `${m.mnt_devname} ${where} ${m.mnt_sb.s_type} rw 0 0\n`;
    })
    .join('');
}
