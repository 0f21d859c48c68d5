// tmpfs (mm/shmem.c in shape): files whose data lives in page-cache pages in guest
// RAM (inode->i_mapping: page index -> PFN, filled by mm/shmem.ts), so read(),
// write() and mmap of a tmpfs file all reach those very pages. Directories are
// dcache-only. The root filesystem is a tmpfs that the initramfs is unpacked into.

import { thisCpu } from '../../arch/index.js';
import { truncate_inode_pages, truncate_pagecache } from '../mm/filemap.js';
import { file_rmap_put } from '../mm/rmap.js';
import { shmem_get_page, shmem_mmap } from '../mm/shmem.js';
import { EEXIST, EFBIG, ENOENT, ENOSPC, EPERM, ENOTEMPTY, EINVAL } from '../lib/errno.js';
import { current_time_ns, d_add, d_delete, d_make_root, dcache_readdir, generic_file_llseek, new_inode, simple_empty } from './libfs.js';
import {
  Dentry,
  Inode,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_ISDIR,
  S_ISREG,
  SuperBlock,
  type FileOperations,
  type IAttr,
  type InodeOperations,
  type Kiocb,
} from './types.js';
import type { IovIter } from './iov_iter.js';
import { init_special_inode } from './char_dev.js';

export const TMPFS_MAGIC = 0x01021994;
const PAGE_SIZE = 4096;
/** Largest tmpfs file (MAX_LFS_FILESIZE would do; a guest never needs more than this). */
const SHMEM_MAX_BYTES = 2 ** 40;

let nextDev = 1;

/** shmem_evict_inode: the inode's last link and user are gone: its pages and rmap go. */
function shmem_evict_inode(inode: Inode): void {
  truncate_inode_pages(inode.i_mapping.pages, 0);
  file_rmap_put(inode.i_mapping.pages);
}

function* shmem_file_read_iter(iocb: Kiocb, to: IovIter): Generator<unknown, number, unknown> {
  const inode = iocb.ki_filp.f_inode;
  const cpu = thisCpu();
  let pos = iocb.ki_pos;
  let done = 0;
  const buf = new Uint8Array(PAGE_SIZE);
  while (to.count > 0 && pos < inode.i_size) {
    const index = Math.floor(pos / PAGE_SIZE);
    const off = pos % PAGE_SIZE;
    const n = Math.min(PAGE_SIZE - off, inode.i_size - pos, to.count);
    const pfn = inode.i_mapping.pages.get(index);
    if (pfn === undefined) buf.fill(0, 0, n);
    else cpu.readPhys(pfn * PAGE_SIZE + off, buf, 0, n);
    const c = to.copy_to_iter(buf, 0, n);
    done += c;
    pos += c;
    if (c < n) break;
  }
  iocb.ki_pos = pos;
  if (done === 0 && to.faulted) return -14;
  return done;
}

function* shmem_file_write_iter(iocb: Kiocb, from: IovIter): Generator<unknown, number, unknown> {
  const file = iocb.ki_filp;
  const inode = file.f_inode;
  const cpu = thisCpu();
  let pos = file.f_flags & 0o2000 ? inode.i_size : iocb.ki_pos;
  let done = 0;
  const buf = new Uint8Array(PAGE_SIZE);
  while (from.count > 0) {
    if (pos >= SHMEM_MAX_BYTES) return done > 0 ? done : -EFBIG;
    const index = Math.floor(pos / PAGE_SIZE);
    const off = pos % PAGE_SIZE;
    const n = Math.min(PAGE_SIZE - off, from.count);
    const c = from.copy_from_iter(buf, 0, n);
    if (c === 0) break;
    const pfn = shmem_get_page(inode.i_mapping.pages, index, true);
    if (pfn < 0) return done > 0 ? done : -ENOSPC;
    cpu.writePhys(pfn * PAGE_SIZE + off, buf, 0, c);
    done += c;
    pos += c;
    if (pos > inode.i_size) inode.i_size = pos;
    if (c < n) break;
  }
  iocb.ki_pos = pos;
  inode.i_mtime = inode.i_ctime = current_time_ns();
  if (done === 0 && from.faulted) return -14;
  return done;
}

/** Kernel-side write of a whole file's content (initramfs unpack). */
export function shmem_write_bytes(inode: Inode, data: Uint8Array): number {
  const cpu = thisCpu();
  for (let pos = 0; pos < data.length; pos += PAGE_SIZE) {
    const pfn = shmem_get_page(inode.i_mapping.pages, pos / PAGE_SIZE, true);
    if (pfn < 0) return -ENOSPC;
    cpu.writePhys(pfn * PAGE_SIZE, data, pos, Math.min(PAGE_SIZE, data.length - pos));
  }
  inode.i_size = data.length;
  return 0;
}

export const shmem_file_operations: FileOperations = {
  llseek: generic_file_llseek,
  read_iter: shmem_file_read_iter,
  write_iter: shmem_file_write_iter,
  mmap: shmem_mmap,
};

export const shmem_dir_operations: FileOperations = {
  llseek: (file, offset, whence) => (whence === 0 && offset >= 0 ? (file.f_pos = offset) : -EINVAL),
  iterate_shared: dcache_readdir,
};

function shmem_setattr(dentry: Dentry, attr: IAttr): number {
  const inode = dentry.d_inode;
  if (inode === null) return -ENOENT;
  if (attr.size !== undefined) {
    if (!S_ISREG(inode.i_mode)) return -EINVAL;
    const oldsize = inode.i_size;
    inode.i_size = attr.size;
    // Mappings lose the pages beyond the new end first (their next access there is SIGBUS).
    if (attr.size < oldsize) truncate_pagecache(inode.i_mapping.pages, oldsize, attr.size);
  }
  if (attr.mode !== undefined) inode.i_mode = (inode.i_mode & S_IFMT) | (attr.mode & 0o7777);
  if (attr.uid !== undefined) inode.i_uid = attr.uid;
  if (attr.gid !== undefined) inode.i_gid = attr.gid;
  inode.i_ctime = current_time_ns();
  return 0;
}

function shmem_get_inode(sb: SuperBlock, mode: number, dev: number): Inode {
  const inode = new_inode(sb, mode);
  inode.i_op = shmem_inode_operations;
  if (S_ISREG(mode)) {
    inode.i_fop = shmem_file_operations;
    inode.i_op = shmem_file_inode_operations;
  } else if (S_ISDIR(mode)) inode.i_fop = shmem_dir_operations;
  else if ((mode & S_IFMT) !== S_IFLNK) init_special_inode(inode, mode, dev);
  return inode;
}

function shmem_mknod(dir: Inode, dentry: Dentry, mode: number, dev: number): number {
  if (dentry.d_parent?.d_subdirs.get(dentry.d_name)?.d_inode) return -EEXIST;
  const inode = shmem_get_inode(dir.i_sb, mode, dev);
  d_add(dentry, inode);
  if (S_ISDIR(mode)) dir.i_nlink++;
  dir.i_mtime = dir.i_ctime = current_time_ns();
  return 0;
}

function drop_inode_link(inode: Inode): void {
  inode.i_nlink--;
  if (inode.i_nlink <= 0 && S_ISREG(inode.i_mode)) {
    // Pages stay while the file is open; the last fput frees them (shmem_evict_inode).
    inode.i_nlink = 0;
    if (inode.i_count <= 1) shmem_evict_inode(inode);
  }
}

export const shmem_file_inode_operations: InodeOperations = {
  setattr: shmem_setattr,
};

export const shmem_inode_operations: InodeOperations = {
  create: (dir, dentry, mode) => shmem_mknod(dir, dentry, (mode & 0o7777) | S_IFREG, 0),
  mkdir: (dir, dentry, mode) => shmem_mknod(dir, dentry, (mode & 0o7777) | S_IFDIR, 0),
  mknod: shmem_mknod,
  symlink(dir, dentry, target) {
    if (dentry.d_parent?.d_subdirs.get(dentry.d_name)?.d_inode) return -EEXIST;
    const inode = shmem_get_inode(dir.i_sb, S_IFLNK | 0o777, 0);
    inode.i_link = target;
    inode.i_size = new TextEncoder().encode(target).length;
    d_add(dentry, inode);
    return 0;
  },
  unlink(dir, dentry) {
    const inode = dentry.d_inode;
    if (inode === null) return -ENOENT;
    if (S_ISDIR(inode.i_mode)) return -EPERM;
    d_delete(dentry);
    drop_inode_link(inode);
    dir.i_mtime = dir.i_ctime = current_time_ns();
    return 0;
  },
  rmdir(dir, dentry) {
    if (!simple_empty(dentry)) return -ENOTEMPTY;
    d_delete(dentry);
    dir.i_nlink--;
    return 0;
  },
  rename(oldDir, oldDentry, newDir, newDentry) {
    const inode = oldDentry.d_inode;
    if (inode === null) return -ENOENT;
    const target = newDentry.d_parent?.d_subdirs.get(newDentry.d_name);
    if (target?.d_inode) {
      if (S_ISDIR(target.d_inode.i_mode) && !simple_empty(target)) return -ENOTEMPTY;
      d_delete(target);
      drop_inode_link(target.d_inode);
    }
    d_delete(oldDentry);
    oldDentry.d_name = newDentry.d_name;
    oldDentry.d_parent = newDentry.d_parent;
    d_add(oldDentry, inode);
    if (S_ISDIR(inode.i_mode) && oldDir !== newDir) {
      oldDir.i_nlink--;
      newDir.i_nlink++;
    }
    return 0;
  },
  setattr: shmem_setattr,
};

/** shmem_fill_super: a new tmpfs instance with an empty root directory. */
export function shmem_fill_super(mode = 0o755): SuperBlock {
  const sb = new SuperBlock('tmpfs', TMPFS_MAGIC, nextDev++);
  const root = shmem_get_inode(sb, S_IFDIR | mode, 0);
  d_make_root(sb, root);
  sb.s_op = {
    evict_inode: shmem_evict_inode,
    statfs: () => ({ f_type: TMPFS_MAGIC, f_bsize: PAGE_SIZE, f_blocks: 0, f_bfree: 0 }),
  };
  return sb;
}
