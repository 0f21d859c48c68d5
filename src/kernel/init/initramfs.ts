// Unpacking the initramfs (init/initramfs.c in shape): a cpio "newc" archive (magic
// 070701, 110-byte ASCII-hex headers, 4-byte alignment, "TRAILER!!!" at the end) in
// guest RAM between /chosen linux,initrd-start and linux,initrd-end is unpacked into
// the root tmpfs: directories, regular files, symlinks and device nodes with their
// modes and owners.

import { thisCpu } from '../../arch/index.js';
import { pr_err, pr_info } from '../lib/printk.js';
import { LOOKUP_FOLLOW, lookup_one, path_lookupat, path_parentat } from '../fs/namei.js';
import { shmem_write_bytes } from '../fs/shmem.js';
import { Dentry, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK } from '../fs/types.js';

const MAGIC_NEWC = '070701';
const MAGIC_CRC = '070702';

export interface CpioEntry {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  rdevmajor: number;
  rdevminor: number;
  data: Uint8Array;
}

/** Parses a newc archive; returns the entries or an error message. */
export function cpio_parse(buf: Uint8Array): CpioEntry[] | string {
  const dec = new TextDecoder();
  const out: CpioEntry[] = [];
  let p = 0;
  for (;;) {
    // Zero padding may separate concatenated archives.
    while (p < buf.length && buf[p] === 0) p++;
    if (p >= buf.length) break;
    if (p + 110 > buf.length) return 'junk at end of initramfs';
    const hdr = dec.decode(buf.subarray(p, p + 110));
    const magic = hdr.slice(0, 6);
    if (magic !== MAGIC_NEWC && magic !== MAGIC_CRC) return `no cpio magic at offset ${p}`;
    const f = (i: number): number => Number.parseInt(hdr.slice(6 + 8 * i, 14 + 8 * i), 16);
    const fields = Array.from({ length: 13 }, (_, i) => f(i));
    if (fields.some((x) => !Number.isFinite(x))) return `bad cpio header at offset ${p}`;
    const [, mode, uid, gid, nlink, mtime, filesize, , , rdevmajor, rdevminor, namesize] = fields as number[];
    const nameStart = p + 110;
    if (nameStart + namesize! > buf.length || namesize! < 1) return 'truncated cpio name';
    const name = dec.decode(buf.subarray(nameStart, nameStart + namesize! - 1));
    const dataStart = (nameStart + namesize! + 3) & ~3;
    if (dataStart + filesize! > buf.length) return `truncated cpio data for ${name}`;
    if (name === 'TRAILER!!!') {
      p = (dataStart + filesize! + 3) & ~3;
      continue;
    }
    out.push({ name, mode: mode!, uid: uid!, gid: gid!, nlink: nlink!, mtime: mtime!, rdevmajor: rdevmajor!, rdevminor: rdevminor!, data: buf.subarray(dataStart, dataStart + filesize!) });
    p = (dataStart + filesize! + 3) & ~3;
  }
  return out;
}

function make_parents(path: string): void {
  const parts = path.split('/').filter((x) => x.length > 0);
  parts.pop();
  let cur = '';
  for (const part of parts) {
    cur += '/' + part;
    const p = path_lookupat(-100, cur, LOOKUP_FOLLOW);
    if (typeof p !== 'number') continue;
    const pp = path_parentat(-100, cur);
    if (typeof pp === 'number') return;
    const dir = pp.parent.dentry.d_inode!;
    dir.i_op.mkdir?.(dir, new Dentry(pp.last, pp.parent.dentry, pp.parent.dentry.d_sb), 0o755);
  }
}

/** Creates one archive entry in the root filesystem. Returns an error string or undefined. */
function create_entry(e: CpioEntry): string | undefined {
  let name = e.name.replace(/^\.?\/+/, '');
  if (name === '' || name === '.') return undefined;
  name = '/' + name;
  make_parents(name);
  const pp = path_parentat(-100, name);
  if (typeof pp === 'number') return `${name}: parent missing (${pp})`;
  const dir = pp.parent.dentry.d_inode!;
  const d = new Dentry(pp.last, pp.parent.dentry, pp.parent.dentry.d_sb);
  const existing = lookup_one(pp.parent.dentry, pp.last);
  const fmt = e.mode & S_IFMT;
  const perm = e.mode & 0o7777;
  let r = 0;
  if (typeof existing !== 'number' && existing.d_inode !== null) {
    if (fmt === S_IFDIR && (existing.d_inode.i_mode & S_IFMT) === S_IFDIR) {
      existing.d_inode.i_mode = S_IFDIR | perm;
      existing.d_inode.i_uid = e.uid;
      existing.d_inode.i_gid = e.gid;
      return undefined;
    }
    dir.i_op.unlink?.(dir, existing);
  }
  switch (fmt) {
    case S_IFDIR:
      r = dir.i_op.mkdir!(dir, d, perm);
      break;
    case S_IFREG:
      r = dir.i_op.create!(dir, d, perm);
      break;
    case S_IFLNK:
      r = dir.i_op.symlink!(dir, d, new TextDecoder().decode(e.data));
      break;
    case S_IFCHR:
    case S_IFBLK:
    case S_IFIFO:
    case S_IFSOCK:
      r = dir.i_op.mknod!(dir, d, e.mode, e.rdevmajor * (1 << 20) + e.rdevminor);
      break;
    default:
      return `${name}: unknown file type 0${fmt.toString(8)}`;
  }
  if (r < 0) return `${name}: error ${r}`;
  const made = pp.parent.dentry.d_subdirs.get(pp.last);
  const inode = made?.d_inode;
  if (!inode) return `${name}: not created`;
  inode.i_mode = (inode.i_mode & S_IFMT) | perm;
  inode.i_uid = e.uid;
  inode.i_gid = e.gid;
  inode.i_mtime = inode.i_ctime = inode.i_atime = e.mtime * 1e9;
  if (fmt === S_IFREG && e.data.length > 0) {
    const w = shmem_write_bytes(inode, e.data);
    if (w < 0) return `${name}: out of memory`;
  }
  return undefined;
}

/** populate_rootfs: unpacks the archive at [start, end) of guest RAM into "/". */
export function populate_rootfs(start: number, end: number): number {
  if (end <= start) return 0;
  const buf = new Uint8Array(end - start);
  thisCpu().readPhys(start, buf, 0, buf.length);
  const entries = cpio_parse(buf);
  if (typeof entries === 'string') {
    pr_err(`Initramfs unpacking failed: ${entries}`);
    return -1;
  }
  let errs = 0;
  for (const e of entries) {
    const err = create_entry(e);
    if (err !== undefined) {
      errs++;
      pr_err(`initramfs: ${err}`);
    }
  }
  pr_info(`Unpacking initramfs... ${entries.length} entries${errs ? `, ${errs} errors` : ''}`);
  return errs === 0 ? entries.length : -1;
}
