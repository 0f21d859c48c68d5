// Path lookup (fs/namei.c in shape): walks components from the root or the working
// directory (or a dirfd), crossing mount points and following symlinks (at most 40),
// with search permission checked on every directory. The dcache is each dentry's
// d_subdirs; a miss asks the directory's inode_operations.lookup (procfs, sysfs).

import { current } from '../sched/core.js';
import { CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, has_capability } from '../sched/task.js';
import { EACCES, EBADF, ELOOP, ENAMETOOLONG, ENOENT, ENOTDIR } from '../lib/errno.js';
import { S_ISDIR, S_ISLNK, Dentry, type Inode, type Path, type VfsMount } from './types.js';
import { fd_file } from './file.js';

export const MAY_EXEC = 0x1;
export const MAY_WRITE = 0x2;
export const MAY_READ = 0x4;
export const MAY_APPEND = 0x8;

export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_REMOVEDIR = 0x200;
export const AT_SYMLINK_FOLLOW = 0x400;
export const AT_EACCESS = 0x200;
export const AT_EMPTY_PATH = 0x1000;

export const PATH_MAX = 4096;
export const NAME_MAX = 255;
const MAXSYMLINKS = 40;

// lookup flags
export const LOOKUP_FOLLOW = 0x0001;
export const LOOKUP_DIRECTORY = 0x0002;

/** Mounts in mount order; lookup_mnt finds the newest mount on a mountpoint. */
let mounts: VfsMount[] = [];
let rootMnt: VfsMount | null = null;

export function namespace_init(root: VfsMount): void {
  mounts = [root];
  rootMnt = root;
}

export function init_root(): Path {
  if (rootMnt === null) throw new Error('vfs: no root mount');
  return { mnt: rootMnt, dentry: rootMnt.mnt_root };
}

export function attach_mnt(mnt: VfsMount, parent: VfsMount, mountpoint: Dentry): void {
  mnt.mnt_parent = parent;
  mnt.mnt_mountpoint = mountpoint;
  mountpoint.d_mounted++;
  mounts.push(mnt);
}

export function detach_mnt(mnt: VfsMount): void {
  const i = mounts.indexOf(mnt);
  if (i >= 0) mounts.splice(i, 1);
  if (mnt.mnt_mountpoint) mnt.mnt_mountpoint.d_mounted--;
}

export function all_mounts(): readonly VfsMount[] {
  return mounts;
}

/** lookup_mnt: the mount whose mountpoint is (mnt, dentry), newest first. */
function lookup_mnt(p: Path): VfsMount | undefined {
  for (let i = mounts.length - 1; i >= 0; i--) {
    const m = mounts[i]!;
    if (m.mnt_parent === p.mnt && m.mnt_mountpoint === p.dentry) return m;
  }
  return undefined;
}

function follow_mount(p: Path): Path {
  let cur = p;
  while (cur.dentry.d_mounted > 0) {
    const m = lookup_mnt(cur);
    if (m === undefined) break;
    cur = { mnt: m, dentry: m.mnt_root };
  }
  return cur;
}

/** generic_permission: owner/group/other bits with the root (CAP_DAC_*) overrides. */
export function inode_permission(inode: Inode, mask: number): number {
  if (inode.i_op.permission) return inode.i_op.permission(inode, mask);
  const task = current();
  const cred = task.cred;
  const mode = inode.i_mode;
  let bits: number;
  if (cred.fsuid === inode.i_uid) bits = (mode >> 6) & 7;
  else if (cred.fsgid === inode.i_gid) bits = (mode >> 3) & 7;
  else bits = mode & 7;
  const want = mask & (MAY_READ | MAY_WRITE | MAY_EXEC);
  if ((bits & want) === want) return 0;
  // capable_wrt_inode_uidgid: DAC override, except exec needs an x bit somewhere (non-dirs).
  if (has_capability(task, CAP_DAC_OVERRIDE)) {
    if (!(mask & MAY_EXEC) || S_ISDIR(mode) || mode & 0o111) return 0;
  }
  if (has_capability(task, CAP_DAC_READ_SEARCH) && (want === MAY_READ || (S_ISDIR(mode) && !(want & MAY_WRITE)))) return 0;
  return -EACCES;
}

/** d_lookup (revalidated by d_op->d_revalidate) + ->lookup on a miss. */
export function lookup_one(dir: Dentry, name: string): Dentry | number {
  const hit = dir.d_subdirs.get(name);
  if (hit !== undefined) {
    const rv = hit.d_sb.s_d_op?.d_revalidate;
    if (rv === undefined || rv(hit)) return hit;
    // d_invalidate: the object behind it is gone (a removed sysfs node)
    dir.d_subdirs.delete(name);
  }
  const inode = dir.d_inode;
  if (inode === null) return -ENOENT;
  if (inode.i_op.lookup) {
    const d = new Dentry(name, dir, dir.d_sb);
    const r = inode.i_op.lookup(inode, d);
    if (typeof r === 'number') return r;
    const res = r ?? d;
    if (res.d_inode === null) return -ENOENT;
    return res;
  }
  return -ENOENT;
}

function parent_of(p: Path, root: Path): Path {
  let cur = p;
  for (;;) {
    if (cur.dentry === root.dentry && cur.mnt === root.mnt) return cur;
    if (cur.dentry !== cur.mnt.mnt_root) return { mnt: cur.mnt, dentry: cur.dentry.d_parent ?? cur.dentry };
    // At the root of a mount: go to the mountpoint in the parent mount.
    if (cur.mnt.mnt_parent === null || cur.mnt.mnt_mountpoint === null) return cur;
    cur = { mnt: cur.mnt.mnt_parent, dentry: cur.mnt.mnt_mountpoint };
  }
}

/** The start of a walk: root for absolute names, else cwd or the directory of `dfd`. */
export function path_start(dfd: number, name: string): Path | number {
  const fs = current().fs;
  const root = fs ? fs.root : init_root();
  if (name.startsWith('/')) return root;
  if (dfd === AT_FDCWD) return fs ? fs.pwd : root;
  const f = fd_file(dfd);
  if (f === undefined) return -EBADF;
  if (!S_ISDIR(f.f_inode.i_mode)) return -ENOTDIR;
  return f.f_path;
}

interface WalkState {
  links: number;
}

function walk_components(start: Path, parts: string[], followLast: boolean, st: WalkState): Path | number {
  const fs = current().fs;
  const root = fs ? fs.root : init_root();
  let cur = follow_mount(start);
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const dirInode = cur.dentry.d_inode;
    if (dirInode === null) return -ENOENT;
    if (!S_ISDIR(dirInode.i_mode)) return -ENOTDIR;
    const perm = inode_permission(dirInode, MAY_EXEC);
    if (perm < 0) return perm;
    if (part === '.' || part === '') continue;
    if (part === '..') {
      cur = parent_of(cur, root);
      continue;
    }
    if (part.length > NAME_MAX) return -ENAMETOOLONG;
    const d = lookup_one(cur.dentry, part);
    if (typeof d === 'number') return d;
    let next: Path = follow_mount({ mnt: cur.mnt, dentry: d });
    const inode = next.dentry.d_inode;
    const last = i === parts.length - 1;
    if (inode !== null && S_ISLNK(inode.i_mode) && (!last || followLast)) {
      if (++st.links > MAXSYMLINKS) return -ELOOP;
      const target = inode.i_op.get_link ? inode.i_op.get_link(next.dentry, inode) : inode.i_link ?? '';
      if (typeof target === 'number') return target;
      const base: Path = target.startsWith('/') ? root : cur;
      const r = walk_components(base, target.split('/'), true, st);
      if (typeof r === 'number') return r;
      next = r;
    }
    cur = next;
  }
  return cur;
}

/** filename_lookup: the path `name` names (relative to `dfd`). */
export function path_lookupat(dfd: number, name: string, flags: number): Path | number {
  if (name.length === 0) return -ENOENT;
  if (name.length >= PATH_MAX) return -ENAMETOOLONG;
  const start = path_start(dfd, name);
  if (typeof start === 'number') return start;
  const parts = name.split('/');
  const r = walk_components(start, parts, (flags & LOOKUP_FOLLOW) !== 0, { links: 0 });
  if (typeof r === 'number') return r;
  if (flags & LOOKUP_DIRECTORY || name.endsWith('/')) {
    if (r.dentry.d_inode === null || !S_ISDIR(r.dentry.d_inode.i_mode)) return -ENOTDIR;
  }
  return r;
}

/** filename_parentat: the parent directory of `name` and the last component. */
export function path_parentat(dfd: number, name: string): { parent: Path; last: string } | number {
  if (name.length === 0) return -ENOENT;
  if (name.length >= PATH_MAX) return -ENAMETOOLONG;
  const start = path_start(dfd, name);
  if (typeof start === 'number') return start;
  const parts = name.split('/').filter((p, i, a) => p.length > 0 || i === 0 || i === a.length - 1);
  while (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  const last = parts.pop() ?? '';
  const parent = walk_components(start, parts, true, { links: 0 });
  if (typeof parent === 'number') return parent;
  const pi = parent.dentry.d_inode;
  if (pi === null) return -ENOENT;
  if (!S_ISDIR(pi.i_mode)) return -ENOTDIR;
  if (last.length > NAME_MAX) return -ENAMETOOLONG;
  return { parent, last: last === '' ? '.' : last };
}

/** d_path: the absolute name of a path as seen from the task's root. */
export function d_path(p: Path): string {
  const fs = current().fs;
  const root = fs ? fs.root : init_root();
  const names: string[] = [];
  let cur = p;
  for (let guard = 0; guard < 256; guard++) {
    if (cur.dentry === root.dentry && cur.mnt === root.mnt) break;
    if (cur.dentry === cur.mnt.mnt_root) {
      if (cur.mnt.mnt_parent === null || cur.mnt.mnt_mountpoint === null) break;
      cur = { mnt: cur.mnt.mnt_parent, dentry: cur.mnt.mnt_mountpoint };
      continue;
    }
    names.push(cur.dentry.d_name);
    const parent = cur.dentry.d_parent;
    if (parent === null) break;
    cur = { mnt: cur.mnt, dentry: parent };
  }
  return '/' + names.reverse().join('/');
}
