// Library code for simple in-memory filesystems (fs/libfs.c, fs/inode.c, fs/dcache.c):
// inode allocation, dentry instantiation, directory iteration over the dcache, and
// the default llseek.

import { ktime_get } from '../time/hrtimer.js';
import { current } from '../sched/core.js';
import { EINVAL, ENOTEMPTY } from '../lib/errno.js';
import { thisCpu } from '../../arch/index.js';
import {
  Dentry,
  Inode,
  S_IFDIR,
  S_ISDIR,
  SEEK_CUR,
  SEEK_END,
  SEEK_SET,
  dt_type,
  type DirContext,
  type File,
  type FileOperations,
  type SuperBlock,
} from './types.js';

/** Wall clock for timestamps: seconds since boot plus the boot epoch of the image. */
export function current_time_ns(): number {
  try {
    return ktime_get();
  } catch {
    try {
      return thisCpu().now();
    } catch {
      return 0;
    }
  }
}

/** new_inode: owned by the caller's fsuid/fsgid, times set to now. */
export function new_inode(sb: SuperBlock, mode: number): Inode {
  const inode = new Inode(sb, sb.get_next_ino());
  inode.i_mode = mode;
  let uid = 0;
  let gid = 0;
  try {
    const c = current().cred;
    uid = c.fsuid;
    gid = c.fsgid;
  } catch {
    // before the first task exists
  }
  inode.i_uid = uid;
  inode.i_gid = gid;
  const t = current_time_ns();
  inode.i_atime = inode.i_mtime = inode.i_ctime = t;
  if (S_ISDIR(mode)) inode.i_nlink = 2;
  return inode;
}

/** d_instantiate + d_add: binds `inode` to `dentry` and hashes it in its parent. */
export function d_add(dentry: Dentry, inode: Inode | null): Dentry {
  dentry.d_inode = inode;
  if (dentry.d_parent !== null && dentry.d_parent !== dentry) dentry.d_parent.d_subdirs.set(dentry.d_name, dentry);
  return dentry;
}

/** d_alloc + d_add of a child `name` of `parent`. */
export function d_alloc_name(parent: Dentry, name: string, inode: Inode): Dentry {
  const d = new Dentry(name, parent, parent.d_sb);
  return d_add(d, inode);
}

export function d_delete(dentry: Dentry): void {
  const p = dentry.d_parent;
  if (p !== null && p.d_subdirs.get(dentry.d_name) === dentry) p.d_subdirs.delete(dentry.d_name);
}

/** d_make_root: the root dentry of a new super block. */
export function d_make_root(sb: SuperBlock, inode: Inode): Dentry {
  const d = new Dentry('/', null, sb);
  d.d_inode = inode;
  sb.s_root = d;
  return d;
}

export function simple_empty(dentry: Dentry): boolean {
  for (const c of dentry.d_subdirs.values()) if (c.d_inode !== null) return false;
  return true;
}

export function simple_rmdir_check(dentry: Dentry): number {
  return simple_empty(dentry) ? 0 : -ENOTEMPTY;
}

/**
 * dcache_readdir: "." and "..", then the children in creation order. ctx.pos counts
 * entries emitted, so a second getdents64 call resumes where the first stopped.
 */
export function dcache_readdir(file: File, ctx: DirContext): number {
  const dentry = file.f_path.dentry;
  const entries: [string, number, number][] = [
    ['.', dentry.d_inode?.i_ino ?? 0, 4],
    ['..', dentry.d_parent?.d_inode?.i_ino ?? dentry.d_inode?.i_ino ?? 0, 4],
  ];
  for (const [name, d] of dentry.d_subdirs) if (d.d_inode !== null) entries.push([name, d.d_inode.i_ino, dt_type(d.d_inode.i_mode)]);
  while (ctx.pos < entries.length) {
    const [name, ino, type] = entries[ctx.pos]!;
    if (!ctx.actor(name, ino, type)) break;
    ctx.pos++;
  }
  return 0;
}

/** generic_file_llseek over i_size. */
export function generic_file_llseek(file: File, offset: number, whence: number): number {
  let pos: number;
  if (whence === SEEK_SET) pos = offset;
  else if (whence === SEEK_CUR) pos = file.f_pos + offset;
  else if (whence === SEEK_END) pos = file.f_inode.i_size + offset;
  else return -EINVAL;
  if (!Number.isSafeInteger(pos) || pos < 0) return -EINVAL;
  file.f_pos = pos;
  return pos;
}

export const simple_dir_operations: FileOperations = {
  llseek: (file, offset, whence) => {
    if (whence !== SEEK_SET || offset < 0) return -EINVAL;
    file.f_pos = offset;
    return offset;
  },
  iterate_shared: dcache_readdir,
};

/** A directory inode with the simple (dcache-only) operations. */
export function simple_dir_inode(sb: SuperBlock, mode = 0o755): Inode {
  const inode = new_inode(sb, S_IFDIR | mode);
  inode.i_fop = simple_dir_operations;
  return inode;
}
