// The VFS objects (include/linux/fs.h, dcache.h, mount.h, fdtable.h, fs_struct.h):
// super blocks, inodes, dentries, mounts, open files and the per-process file tables.
// They are kernel memory (TypeScript objects); file data of tmpfs lives in page-cache
// pages in guest RAM (AddressSpace.pages), so mmap of a file maps those pages.

import type { VmAreaStruct } from '../mm/mm_types.js';
import type { WaitQueueHead } from '../sched/wait.js';
import type { IovIter } from './iov_iter.js';

// i_mode bits (include/uapi/linux/stat.h).
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;
export const S_ISUID = 0o4000;
export const S_ISGID = 0o2000;
export const S_ISVTX = 0o1000;
export const S_IRWXUGO = 0o777;
export const S_IALLUGO = 0o7777;

export const S_ISREG = (m: number): boolean => (m & S_IFMT) === S_IFREG;
export const S_ISDIR = (m: number): boolean => (m & S_IFMT) === S_IFDIR;
export const S_ISCHR = (m: number): boolean => (m & S_IFMT) === S_IFCHR;
export const S_ISLNK = (m: number): boolean => (m & S_IFMT) === S_IFLNK;
export const S_ISFIFO = (m: number): boolean => (m & S_IFMT) === S_IFIFO;
export const S_ISBLK = (m: number): boolean => (m & S_IFMT) === S_IFBLK;

// Open flags (include/uapi/asm-generic/fcntl.h; arm64 overrides the directory bits
// in arch/arm64/include/uapi/asm/fcntl.h).
export const O_ACCMODE = 0o3;
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NONBLOCK = 0o4000;
export const O_DSYNC = 0o10000;
export const O_DIRECTORY = 0o40000;
export const O_NOFOLLOW = 0o100000;
export const O_DIRECT = 0o200000;
export const O_LARGEFILE = 0o400000;
export const O_NOATIME = 0o1000000;
export const O_CLOEXEC = 0o2000000;
export const O_PATH = 0o10000000;

// file->f_mode
export const FMODE_READ = 0x1;
export const FMODE_WRITE = 0x2;
export const FMODE_LSEEK = 0x4;
export const FMODE_PREAD = 0x8;
export const FMODE_PWRITE = 0x10;

export const SEEK_SET = 0;
export const SEEK_CUR = 1;
export const SEEK_END = 2;

// Poll events (include/uapi/asm-generic/poll.h).
export const EPOLLIN = 0x0001;
export const EPOLLPRI = 0x0002;
export const EPOLLOUT = 0x0004;
export const EPOLLERR = 0x0008;
export const EPOLLHUP = 0x0010;
export const EPOLLNVAL = 0x0020;
export const EPOLLRDNORM = 0x0040;
export const EPOLLRDBAND = 0x0080;
export const EPOLLWRNORM = 0x0100;
export const EPOLLWRBAND = 0x0200;
export const EPOLLMSG = 0x0400;
export const EPOLLRDHUP = 0x2000;
/** What a file without a poll method reports (DEFAULT_POLLMASK). */
export const DEFAULT_POLLMASK = EPOLLIN | EPOLLOUT | EPOLLRDNORM | EPOLLWRNORM;

/** Device numbers: MKDEV/MAJOR/MINOR with the kernel's 20-bit minor. */
export const MINORBITS = 20;
export const MKDEV = (major: number, minor: number): number => major * (1 << MINORBITS) + minor;
export const MAJOR = (dev: number): number => Math.floor(dev / (1 << MINORBITS));
export const MINOR = (dev: number): number => dev % (1 << MINORBITS);
/** new_encode_dev: the dev_t user space sees in struct stat. */
export const new_encode_dev = (dev: number): number => {
  const major = MAJOR(dev);
  const minor = MINOR(dev);
  return (minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12);
};

export type KGen<T> = Generator<unknown, T, unknown>;

/** struct kiocb: the file and position of one read_iter/write_iter. */
export interface Kiocb {
  readonly ki_filp: File;
  ki_pos: number;
}

/** struct poll_table_struct: how a poll method registers on its wait queues. */
export interface PollTable {
  _qproc(file: File, wq: WaitQueueHead, pt: PollTable): void;
  /** Events the caller is interested in (poll_requested_events). */
  _key: number;
}

/** poll_wait: the one call a poll method makes per wait queue. */
export function poll_wait(file: File, wq: WaitQueueHead, pt: PollTable | null): void {
  if (pt !== null) pt._qproc(file, wq, pt);
}

/** struct dir_context: getdents64 hands entries to `actor` until it returns false. */
export interface DirContext {
  pos: number;
  actor(name: string, ino: number, dtype: number): boolean;
}

// d_type values (include/linux/fs_types.h)
export const DT_UNKNOWN = 0;
export const DT_FIFO = 1;
export const DT_CHR = 2;
export const DT_DIR = 4;
export const DT_BLK = 6;
export const DT_REG = 8;
export const DT_LNK = 10;
export const DT_SOCK = 12;

export function dt_type(mode: number): number {
  return (mode & S_IFMT) >>> 12;
}

/** struct file_operations. Methods that may sleep are generators. */
export interface FileOperations {
  readonly owner?: string;
  llseek?(file: File, offset: number, whence: number): number;
  /** Legacy read into a user buffer (drivers use copy_to_user); returns bytes or -errno. */
  read?(file: File, ubuf: number, count: number, ppos: { pos: number }): KGen<number>;
  write?(file: File, ubuf: number, count: number, ppos: { pos: number }): KGen<number>;
  read_iter?(iocb: Kiocb, to: IovIter): KGen<number>;
  write_iter?(iocb: Kiocb, from: IovIter): KGen<number>;
  iterate_shared?(file: File, ctx: DirContext): number;
  poll?(file: File, pt: PollTable | null): number;
  unlocked_ioctl?(file: File, cmd: number, arg: number): KGen<number>;
  mmap?(file: File, vma: VmAreaStruct): number;
  open?(inode: Inode, file: File): KGen<number>;
  flush?(file: File): number;
  release?(inode: Inode, file: File): KGen<void> | void;
  fsync?(file: File): KGen<number>;
}

/** struct inode_operations (directory and symlink methods). */
export interface InodeOperations {
  lookup?(dir: Inode, dentry: Dentry): Dentry | null | number;
  create?(dir: Inode, dentry: Dentry, mode: number): number;
  mkdir?(dir: Inode, dentry: Dentry, mode: number): number;
  mknod?(dir: Inode, dentry: Dentry, mode: number, dev: number): number;
  unlink?(dir: Inode, dentry: Dentry): number;
  rmdir?(dir: Inode, dentry: Dentry): number;
  symlink?(dir: Inode, dentry: Dentry, target: string): number;
  rename?(oldDir: Inode, oldDentry: Dentry, newDir: Inode, newDentry: Dentry): number;
  get_link?(dentry: Dentry, inode: Inode): string | number;
  setattr?(dentry: Dentry, attr: IAttr): number;
  permission?(inode: Inode, mask: number): number;
}

/** struct iattr: what setattr changes. */
export interface IAttr {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
}

/** struct address_space: a file's page cache (page index -> PFN of a page in guest RAM). */
export class AddressSpace {
  readonly pages = new Map<number, number>();
  constructor(readonly host: Inode) {}
  get nrpages(): number {
    return this.pages.size;
  }
}

export interface SuperOperations {
  /** Frees what the filesystem keeps for an inode when its last link and user are gone. */
  evict_inode?(inode: Inode): void;
  statfs?(sb: SuperBlock): { f_type: number; f_bsize: number; f_blocks: number; f_bfree: number };
}

/** struct dentry_operations (the part used here). */
export interface DentryOperations {
  /** A cached dentry is still what a fresh lookup would find (false: look it up again). */
  d_revalidate?(dentry: Dentry): boolean;
}

export class SuperBlock {
  s_root: Dentry | null = null;
  private nextIno = 1;
  s_op: SuperOperations = {};
  /** Dentry operations of every dentry of this filesystem (sb->s_d_op). */
  s_d_op: DentryOperations | null = null;
  s_fs_info: unknown = undefined;
  constructor(
    readonly s_type: string,
    readonly s_magic: number,
    readonly s_dev: number,
  ) {}
  get_next_ino(): number {
    return this.nextIno++;
  }
}

export class Inode {
  i_mode = 0;
  i_uid = 0;
  i_gid = 0;
  i_nlink = 1;
  i_size = 0;
  i_rdev = 0;
  i_atime = 0;
  i_mtime = 0;
  i_ctime = 0;
  i_op: InodeOperations = {};
  i_fop: FileOperations = {};
  i_private: unknown = undefined;
  /** Symlink target for fast symlinks. */
  i_link: string | undefined;
  readonly i_mapping: AddressSpace;
  /** Open files and dentries referring to it (iput frees at zero with no links). */
  i_count = 1;
  constructor(
    readonly i_sb: SuperBlock,
    readonly i_ino: number,
  ) {
    this.i_mapping = new AddressSpace(this);
  }
}

export class Dentry {
  d_inode: Inode | null = null;
  readonly d_subdirs = new Map<string, Dentry>();
  /** Set when a filesystem is mounted on this dentry. */
  d_mounted = 0;
  d_fsdata: unknown = undefined;
  constructor(
    public d_name: string,
    public d_parent: Dentry | null,
    readonly d_sb: SuperBlock,
  ) {}
}

/** struct vfsmount + struct mount. */
export class VfsMount {
  mnt_parent: VfsMount | null = null;
  mnt_mountpoint: Dentry | null = null;
  constructor(
    readonly mnt_root: Dentry,
    readonly mnt_sb: SuperBlock,
    readonly mnt_devname: string,
    public mnt_flags = 0,
  ) {}
}

export interface Path {
  readonly mnt: VfsMount;
  readonly dentry: Dentry;
}

export class File {
  f_pos = 0;
  f_count = 1;
  private_data: unknown = undefined;
  constructor(
    readonly f_path: Path,
    readonly f_inode: Inode,
    public f_op: FileOperations,
    public f_flags: number,
    public f_mode: number,
  ) {}
}

/** struct files_struct with its fdtable: fd -> File, plus the close-on-exec bits. */
export class FilesStruct {
  fd: (File | null)[] = [];
  close_on_exec: boolean[] = [];
  /** Tasks sharing this table (CLONE_FILES). */
  count = 1;
  next_fd = 0;
}

/** struct fs_struct: root, cwd and umask. */
export class FsStruct {
  users = 1;
  constructor(
    public root: Path,
    public pwd: Path,
    public umask = 0o022,
  ) {}
}
