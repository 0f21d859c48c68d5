// Generated files for pseudo filesystems (fs/kernfs, fs/seq_file.c and fs/proc/generic.c
// in shape): a node is a directory with static or dynamic children, a text attribute
// whose content is generated at open (show) and parsed on write (store), or a symlink.
// procfs and sysfs are built from these; their inodes are created on lookup.

import { EACCES, EINVAL, ENOENT, EFAULT } from '../lib/errno.js';
import { current_time_ns, d_add, new_inode } from './libfs.js';
import {
  Dentry,
  FMODE_READ,
  FMODE_WRITE,
  S_IFDIR,
  S_IFLNK,
  S_IFREG,
  SEEK_CUR,
  SEEK_END,
  SEEK_SET,
  dt_type,
  type DentryOperations,
  type DirContext,
  type File,
  type FileOperations,
  type Inode,
  type InodeOperations,
  type Kiocb,
  type SuperBlock,
} from './types.js';
import type { IovIter } from './iov_iter.js';

/**
 * Generates an attribute's content; a negative number is an errno (a `*_show` returning
 * a negative ssize_t): the open succeeds and read() fails with it.
 */
export type KnShow = () => string | Uint8Array | number;
/**
 * Parses a write; returns 0 or a negative errno, or a generator for a store that may
 * sleep (a sysfs bind that probes a driver) and returns the same.
 */
export type KnStore = (text: string) => number | Generator<unknown, number, unknown>;

export interface KernfsNode {
  readonly name: string;
  readonly mode: number;
  uid?: number;
  gid?: number;
  /** Attribute content generator. */
  show?: KnShow;
  store?: KnStore;
  /** Symlink target (relative or absolute). */
  target?: () => string;
  /** Directory: static children plus dynamic ones. */
  children?: KernfsNode[];
  dynamic?: () => KernfsNode[];
  /** Custom file operations (for binary or device-like files, e.g. /proc/<pid>/pagemap). */
  fops?: FileOperations;
  /** i_size of a binary attribute (bin_attribute->size, e.g. a PCI resource's length). */
  size?: number;
  /** Stable inode number across lookups (assigned on first use). */
  ino?: number;
}

export function kn_dir(name: string, children: KernfsNode[] = [], dynamic?: () => KernfsNode[], mode = 0o555): KernfsNode {
  return dynamic ? { name, mode: S_IFDIR | mode, children, dynamic } : { name, mode: S_IFDIR | mode, children };
}

/** A generated file; `show` undefined makes it write-only (opening it for reading is -EACCES). */
export function kn_file(name: string, show: KnShow | undefined, store?: KnStore, mode?: number): KernfsNode {
  const m = mode ?? ((show ? 0o444 : 0) | (store ? 0o200 : 0));
  const node: KernfsNode = { name, mode: S_IFREG | m };
  if (show) node.show = show;
  if (store) node.store = store;
  return node;
}

export function kn_link(name: string, target: () => string): KernfsNode {
  return { name, mode: S_IFLNK | 0o777, target };
}

export function kn_children(n: KernfsNode): KernfsNode[] {
  const s = n.children ?? [];
  return n.dynamic ? [...s, ...n.dynamic()] : s;
}

/** Adds (or replaces) a child of a directory node. */
export function kn_add(dir: KernfsNode, child: KernfsNode): KernfsNode {
  const list = dir.children ?? [];
  const i = list.findIndex((c) => c.name === child.name);
  if (i >= 0) list[i] = child;
  else list.push(child);
  return child;
}

export function kn_remove(dir: KernfsNode, name: string): void {
  const list = dir.children;
  if (!list) return;
  const i = list.findIndex((c) => c.name === name);
  if (i >= 0) list.splice(i, 1);
}

/** Finds a node by a path of names below `root`. */
export function kn_find(root: KernfsNode, path: string): KernfsNode | undefined {
  let n: KernfsNode | undefined = root;
  for (const part of path.split('/').filter((p) => p.length > 0)) {
    if (n === undefined) return undefined;
    n = kn_children(n).find((c) => c.name === part);
  }
  return n;
}

interface SeqState {
  data: Uint8Array;
  /** A negative errno from show, returned by every read (seq_read passes it on). */
  err?: number;
}

const enc = new TextEncoder();

function* kn_read_iter(iocb: Kiocb, to: IovIter): Generator<unknown, number, unknown> {
  const st = iocb.ki_filp.private_data as SeqState;
  if (st.err !== undefined) return st.err;
  const pos = iocb.ki_pos;
  if (pos >= st.data.length) return 0;
  const n = Math.min(to.count, st.data.length - pos);
  const c = to.copy_to_iter(st.data, pos, n);
  iocb.ki_pos = pos + c;
  if (c === 0 && to.faulted) return -EFAULT;
  return c;
}

function* kn_write_iter(iocb: Kiocb, from: IovIter): Generator<unknown, number, unknown> {
  const node = iocb.ki_filp.f_inode.i_private as KernfsNode;
  if (!node.store) return -EACCES;
  const n = Math.min(from.count, 4096);
  const buf = new Uint8Array(n);
  const c = from.copy_from_iter(buf, 0, n);
  if (c < n && from.faulted && c === 0) return -EFAULT;
  const ret = node.store(new TextDecoder().decode(buf.subarray(0, c)));
  const r = typeof ret === 'number' ? ret : yield* ret;
  if (r < 0) return r;
  return c;
}

function* kn_open(inode: Inode, file: File): Generator<unknown, number, unknown> {
  const node = inode.i_private as KernfsNode;
  // kernfs_fop_open: a file without show (or store) refuses that direction even to root.
  if ((file.f_mode & FMODE_READ && !node.show) || (file.f_mode & FMODE_WRITE && !node.store)) return -EACCES;
  if (node.show) {
    const v = node.show();
    if (typeof v === 'number') file.private_data = { data: new Uint8Array(0), err: v < 0 ? v : -EINVAL } satisfies SeqState;
    else file.private_data = { data: typeof v === 'string' ? enc.encode(v) : v } satisfies SeqState;
  } else file.private_data = { data: new Uint8Array(0) } satisfies SeqState;
  return 0;
}

function kn_llseek(file: File, offset: number, whence: number): number {
  const st = file.private_data as SeqState;
  let pos: number;
  if (whence === SEEK_SET) pos = offset;
  else if (whence === SEEK_CUR) pos = file.f_pos + offset;
  else if (whence === SEEK_END) pos = st.data.length + offset;
  else return -EINVAL;
  if (pos < 0) return -EINVAL;
  file.f_pos = pos;
  return pos;
}

const kn_file_fops: FileOperations = { open: kn_open, read_iter: kn_read_iter, write_iter: kn_write_iter, llseek: kn_llseek };

function kn_readdir(file: File, ctx: DirContext): number {
  const dentry = file.f_path.dentry;
  const node = file.f_inode.i_private as KernfsNode;
  const entries: [string, number, number][] = [
    ['.', file.f_inode.i_ino, 4],
    ['..', dentry.d_parent?.d_inode?.i_ino ?? file.f_inode.i_ino, 4],
  ];
  for (const c of kn_children(node)) entries.push([c.name, kn_ino(file.f_inode.i_sb, c), dt_type(c.mode)]);
  while (ctx.pos < entries.length) {
    const [name, ino, type] = entries[ctx.pos]!;
    if (!ctx.actor(name, ino, type)) break;
    ctx.pos++;
  }
  return 0;
}

const kn_dir_fops: FileOperations = {
  iterate_shared: kn_readdir,
  llseek: (file, offset, whence) => (whence === SEEK_SET && offset >= 0 ? (file.f_pos = offset) : -EINVAL),
};

function kn_ino(sb: SuperBlock, n: KernfsNode): number {
  if (n.ino === undefined) n.ino = sb.get_next_ino();
  return n.ino;
}

function kn_lookup(dir: Inode, dentry: Dentry): Dentry | null | number {
  const node = dir.i_private as KernfsNode;
  const child = kn_children(node).find((c) => c.name === dentry.d_name);
  if (child === undefined) return -ENOENT;
  // Dynamic entries are not cached: a process directory must vanish when the process does.
  const inode = kn_get_inode(dir.i_sb, child);
  dentry.d_inode = inode;
  if (!node.dynamic || (node.children ?? []).includes(child)) d_add(dentry, inode);
  return dentry;
}

const kn_dir_iops: InodeOperations = { lookup: kn_lookup };

/**
 * kernfs_dop_revalidate: a cached dentry stays valid while its node is still a child
 * of its parent's node (kn_remove, or kn_add replacing it, makes the next lookup fresh).
 */
export const kernfs_dops: DentryOperations = {
  d_revalidate(dentry: Dentry): boolean {
    const node = dentry.d_inode?.i_private as KernfsNode | undefined;
    const parent = dentry.d_parent?.d_inode?.i_private as KernfsNode | undefined;
    if (node === undefined || parent === undefined || dentry.d_mounted) return true;
    return (parent.children ?? []).includes(node);
  },
};

export function kn_get_inode(sb: SuperBlock, n: KernfsNode): Inode {
  const inode = new_inode(sb, n.mode);
  // new_inode numbered it; keep one number per node.
  (inode as { i_ino: number }).i_ino = kn_ino(sb, n);
  inode.i_uid = n.uid ?? 0;
  inode.i_gid = n.gid ?? 0;
  inode.i_private = n;
  inode.i_mtime = inode.i_ctime = inode.i_atime = current_time_ns();
  if ((n.mode & S_IFDIR) === S_IFDIR && (n.mode & 0o170000) === S_IFDIR) {
    inode.i_op = kn_dir_iops;
    inode.i_fop = kn_dir_fops;
  } else if ((n.mode & 0o170000) === S_IFLNK) {
    inode.i_op = { get_link: () => (n.target ? n.target() : '') };
  } else {
    inode.i_fop = n.fops ?? kn_file_fops;
    inode.i_size = n.size ?? 0;
  }
  return inode;
}
