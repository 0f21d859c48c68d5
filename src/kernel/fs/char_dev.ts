// Character devices (fs/char_dev.c, drivers/char/misc.c, drivers/char/mem.c): drivers
// register file_operations for a (major, minor range); opening a device inode swaps in
// the driver's fops (chrdev_open). misc devices share major 10 with dynamic minors.

import { ENODEV, ENXIO, EBUSY } from '../lib/errno.js';
import { MAJOR, MINOR, MKDEV, S_IFBLK, S_IFCHR, S_IFIFO, S_IFMT, S_IFSOCK, type File, type FileOperations, type Inode } from './types.js';
import type { IovIter } from './iov_iter.js';
import { pipefifo_fops } from './pipe.js';

export const MISC_MAJOR = 10;
export const MEM_MAJOR = 1;
export const TTYAUX_MAJOR = 5;
export const TTY_MAJOR = 4;
export const AMBA_MAJOR = 204;
export const MISC_DYNAMIC_MINOR = 255;

interface CharDevRegion {
  major: number;
  baseminor: number;
  count: number;
  name: string;
  fops: FileOperations;
}

let regions: CharDevRegion[] = [];
let nextDynamicMajor = 511;

/** A devtmpfs node request (device_add -> devtmpfs_create_node). */
export interface DevNodeRequest {
  name: string;
  dev: number;
  mode: number;
  uid: number;
  gid: number;
}

let devnodeHook: ((req: DevNodeRequest) => void) | undefined;
let devnodeRemoveHook: ((name: string) => void) | undefined;

export function set_devtmpfs_hooks(create: (req: DevNodeRequest) => void, remove: (name: string) => void): void {
  devnodeHook = create;
  devnodeRemoveHook = remove;
}

export function chrdev_init(): void {
  regions = [];
  nextDynamicMajor = 511;
  miscDevices = [];
  devnodeHook = undefined;
  devnodeRemoveHook = undefined;
}

/** register_chrdev_region / __register_chrdev: major 0 asks for a dynamic major. */
export function register_chrdev(major: number, baseminor: number, count: number, name: string, fops: FileOperations): number {
  let m = major;
  if (m === 0) {
    while (regions.some((r) => r.major === nextDynamicMajor)) nextDynamicMajor--;
    m = nextDynamicMajor--;
  }
  if (regions.some((r) => r.major === m && baseminor < r.baseminor + r.count && r.baseminor < baseminor + count)) return -EBUSY;
  regions.push({ major: m, baseminor, count, name, fops });
  return m;
}

export function unregister_chrdev(major: number, baseminor: number): void {
  regions = regions.filter((r) => !(r.major === major && r.baseminor === baseminor));
}

function lookup_chrdev(dev: number): CharDevRegion | undefined {
  const major = MAJOR(dev);
  const minor = MINOR(dev);
  return regions.find((r) => r.major === major && minor >= r.baseminor && minor < r.baseminor + r.count);
}

/** /proc/devices "Character devices:" section. */
export function show_chrdevs(): string {
  const seen = new Map<number, string>();
  for (const r of [...regions].sort((a, b) => a.major - b.major)) if (!seen.has(r.major)) seen.set(r.major, r.name);
  return [...seen].map(([m, n]) => `${String(m).padStart(3)} ${n}\n`).join('');
}

function* chrdev_open(inode: Inode, file: File): Generator<unknown, number, unknown> {
  const r = lookup_chrdev(inode.i_rdev);
  if (r === undefined) return -ENXIO;
  file.f_op = r.fops;
  if (r.fops.open) return yield* r.fops.open(inode, file);
  return 0;
}

export const def_chr_fops: FileOperations = { open: chrdev_open };

function* bad_open(): Generator<unknown, number, unknown> {
  return -ENXIO;
}

/** init_special_inode: device, FIFO and socket inodes get their generic open. */
export function init_special_inode(inode: Inode, mode: number, rdev: number): void {
  inode.i_mode = mode;
  const fmt = mode & S_IFMT;
  if (fmt === S_IFCHR) {
    inode.i_fop = def_chr_fops;
    inode.i_rdev = rdev;
  } else if (fmt === S_IFBLK) {
    inode.i_fop = { open: bad_open };
    inode.i_rdev = rdev;
  } else if (fmt === S_IFIFO) inode.i_fop = pipefifo_fops;
  else if (fmt === S_IFSOCK) inode.i_fop = { open: bad_open };
}

/** struct miscdevice */
export interface MiscDevice {
  minor: number;
  readonly name: string;
  readonly fops: FileOperations;
  /** Mode of the /dev node (default 0600). */
  readonly mode?: number;
  /** Set by misc_register: the dev_t. */
  this_device?: number;
}

let miscDevices: MiscDevice[] = [];

function* misc_open(inode: Inode, file: File): Generator<unknown, number, unknown> {
  const minor = MINOR(inode.i_rdev);
  const m = miscDevices.find((d) => d.minor === minor);
  if (m === undefined) return -ENODEV;
  file.f_op = m.fops;
  file.private_data = m;
  if (m.fops.open) return yield* m.fops.open(inode, file);
  return 0;
}

/** misc_register: a char device on major 10 with a /dev node. */
export function misc_register(misc: MiscDevice): number {
  if (miscDevices.length === 0 && !regions.some((r) => r.major === MISC_MAJOR)) register_chrdev(MISC_MAJOR, 0, 256, 'misc', { open: misc_open });
  if (misc.minor === MISC_DYNAMIC_MINOR) {
    let m = 254;
    while (m > 0 && miscDevices.some((d) => d.minor === m)) m--;
    misc.minor = m;
  } else if (miscDevices.some((d) => d.minor === misc.minor)) return -EBUSY;
  miscDevices.push(misc);
  misc.this_device = MKDEV(MISC_MAJOR, misc.minor);
  devnode_create(misc.name, misc.this_device, S_IFCHR | (misc.mode ?? 0o600));
  return 0;
}

export function misc_deregister(misc: MiscDevice): void {
  miscDevices = miscDevices.filter((d) => d !== misc);
  devnodeRemoveHook?.(misc.name);
}

export function devnode_create(name: string, dev: number, mode: number, uid = 0, gid = 0): void {
  devnodeHook?.({ name, dev, mode, uid, gid });
}

export function devnode_remove(name: string): void {
  devnodeRemoveHook?.(name);
}

// drivers/char/mem.c: /dev/null, /dev/zero, /dev/full

function* null_read(): Generator<unknown, number, unknown> {
  return 0;
}
function* null_write(_f: File, _u: number, count: number): Generator<unknown, number, unknown> {
  return count;
}
const zeroPage = new Uint8Array(4096);
function* zero_read_iter(_iocb: unknown, to: IovIter): Generator<unknown, number, unknown> {
  let done = 0;
  while (to.count > 0) {
    const n = Math.min(to.count, zeroPage.length);
    const c = to.copy_to_iter(zeroPage, 0, n);
    done += c;
    if (c < n) return done > 0 ? done : -14;
  }
  return done;
}

export const null_fops: FileOperations = { llseek: () => 0, read: null_read, write: null_write };
export const zero_fops: FileOperations = { llseek: () => 0, read_iter: zero_read_iter, write: null_write };

export function chr_dev_init(): void {
  register_chrdev(MEM_MAJOR, 3, 1, 'mem', null_fops);
  register_chrdev(MEM_MAJOR, 5, 1, 'mem', zero_fops);
  devnode_create('null', MKDEV(MEM_MAJOR, 3), S_IFCHR | 0o666);
  devnode_create('zero', MKDEV(MEM_MAJOR, 5), S_IFCHR | 0o666);
}
