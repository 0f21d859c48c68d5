// Pipes (fs/pipe.c): a ring buffer of PIPE_DEF_BUFFERS pages shared by a read end and
// a write end. Readers sleep while it is empty and writers exist; writers sleep while
// it is full and readers exist; writing with no reader is -EPIPE plus SIGPIPE.

import { current } from '../sched/core.js';
import { SIGPIPE } from '../sched/task.js';
import { EAGAIN, EFAULT, EPIPE, ERESTARTSYS } from '../lib/errno.js';
import { send_sig } from '../kernel/signal.js';
import { WaitQueueHead, wait_event_interruptible, wake_up_interruptible } from '../sched/wait.js';
import {
  EPOLLERR,
  EPOLLHUP,
  EPOLLIN,
  EPOLLOUT,
  EPOLLRDNORM,
  EPOLLWRNORM,
  FMODE_READ,
  FMODE_WRITE,
  O_NONBLOCK,
  poll_wait,
  File,
  Inode,
  type FileOperations,
  type Kiocb,
  type PollTable,
} from './types.js';
import type { IovIter } from './iov_iter.js';

export const PIPE_DEF_BUFFERS = 16;
export const PIPE_BUF = 4096;

export class PipeInodeInfo {
  readonly buf: Uint8Array;
  head = 0;
  len = 0;
  readers = 0;
  writers = 0;
  readonly rd_wait = new WaitQueueHead('pipe_rd');
  readonly wr_wait = new WaitQueueHead('pipe_wr');
  constructor(size = PIPE_DEF_BUFFERS * 4096) {
    this.buf = new Uint8Array(size);
  }
  get size(): number {
    return this.buf.length;
  }
}

function pipe_of(file: File): PipeInodeInfo {
  return file.private_data as PipeInodeInfo;
}

function* pipe_read(iocb: Kiocb, to: IovIter): Generator<unknown, number, unknown> {
  const file = iocb.ki_filp;
  const pipe = pipe_of(file);
  if (to.count === 0) return 0;
  for (;;) {
    if (pipe.len > 0) break;
    if (pipe.writers === 0) return 0;
    if (file.f_flags & O_NONBLOCK) return -EAGAIN;
    const r = yield* wait_event_interruptible(pipe.rd_wait, () => pipe.len > 0 || pipe.writers === 0);
    if (r < 0) return -ERESTARTSYS;
  }
  let done = 0;
  while (pipe.len > 0 && to.count > 0) {
    const tail = pipe.head;
    const n = Math.min(pipe.len, pipe.size - tail, to.count);
    const c = to.copy_to_iter(pipe.buf, tail, n);
    pipe.head = (tail + c) % pipe.size;
    pipe.len -= c;
    done += c;
    if (c < n) break;
  }
  if (pipe.len === 0) pipe.head = 0;
  wake_up_interruptible(pipe.wr_wait);
  if (done === 0 && to.faulted) return -EFAULT;
  return done;
}

function* pipe_write(iocb: Kiocb, from: IovIter): Generator<unknown, number, unknown> {
  const file = iocb.ki_filp;
  const pipe = pipe_of(file);
  let done = 0;
  const total = from.count;
  while (from.count > 0) {
    if (pipe.readers === 0) {
      send_sig(SIGPIPE, current(), false);
      return done > 0 ? done : -EPIPE;
    }
    const room = pipe.size - pipe.len;
    // Writes of at most PIPE_BUF bytes are atomic: wait for room for all of it.
    const need = total <= PIPE_BUF ? from.count : 1;
    if (room < need) {
      if (file.f_flags & O_NONBLOCK) return done > 0 ? done : -EAGAIN;
      wake_up_interruptible(pipe.rd_wait);
      const r = yield* wait_event_interruptible(pipe.wr_wait, () => pipe.size - pipe.len >= need || pipe.readers === 0);
      if (r < 0) return done > 0 ? done : -ERESTARTSYS;
      continue;
    }
    const at = (pipe.head + pipe.len) % pipe.size;
    const n = Math.min(room, pipe.size - at, from.count);
    const c = from.copy_from_iter(pipe.buf, at, n);
    pipe.len += c;
    done += c;
    if (c < n) {
      if (done === 0) return -EFAULT;
      break;
    }
    wake_up_interruptible(pipe.rd_wait);
  }
  wake_up_interruptible(pipe.rd_wait);
  return done;
}

function pipe_poll(file: File, pt: PollTable | null): number {
  const pipe = pipe_of(file);
  if (file.f_mode & FMODE_READ) poll_wait(file, pipe.rd_wait, pt);
  if (file.f_mode & FMODE_WRITE) poll_wait(file, pipe.wr_wait, pt);
  let mask = 0;
  if (file.f_mode & FMODE_READ) {
    if (pipe.len > 0) mask |= EPOLLIN | EPOLLRDNORM;
    if (pipe.writers === 0) mask |= EPOLLHUP;
  }
  if (file.f_mode & FMODE_WRITE) {
    if (pipe.len < pipe.size) mask |= EPOLLOUT | EPOLLWRNORM;
    if (pipe.readers === 0) mask |= EPOLLERR;
  }
  return mask;
}

function pipe_release(_inode: Inode, file: File): void {
  const pipe = pipe_of(file);
  if (file.f_mode & FMODE_READ) pipe.readers--;
  if (file.f_mode & FMODE_WRITE) pipe.writers--;
  wake_up_interruptible(pipe.rd_wait);
  wake_up_interruptible(pipe.wr_wait);
}

export const pipe_fops: FileOperations = {
  llseek: () => -29, // -ESPIPE
  read_iter: pipe_read,
  write_iter: pipe_write,
  poll: pipe_poll,
  release: pipe_release,
};

/** Named pipes: the inode carries the pipe; opens count readers/writers (fifo_open, simplified: no open blocking). */
function* fifo_open(inode: Inode, file: File): Generator<unknown, number, unknown> {
  let pipe = inode.i_private as PipeInodeInfo | undefined;
  if (!(pipe instanceof PipeInodeInfo)) {
    pipe = new PipeInodeInfo();
    inode.i_private = pipe;
  }
  file.private_data = pipe;
  file.f_op = pipe_fops;
  if (file.f_mode & FMODE_READ) pipe.readers++;
  if (file.f_mode & FMODE_WRITE) pipe.writers++;
  return 0;
}

export const pipefifo_fops: FileOperations = { open: fifo_open };

// pipe2 (fs/pipe.c do_pipe2): two fds on one pipe; int fildes[2] written to user memory.
import { registerSyscall, sys_int } from '../syscalls/table.js';
import { __NR_pipe2 } from '../syscalls/numbers.js';
import { EINVAL } from '../lib/errno.js';
import { alloc_fd, fd_install, put_unused_fd, get_files } from './file.js';
import { copy_to_user } from '../lib/uaccess.js';
import { SuperBlock, Dentry, VfsMount, S_IFIFO, O_CLOEXEC, O_RDONLY, O_WRONLY, O_DIRECT } from './types.js';

const PIPEFS_MAGIC = 0x50495045;
let pipefs: { sb: SuperBlock; mnt: VfsMount } | undefined;

function pipefs_mnt(): { sb: SuperBlock; mnt: VfsMount } {
  if (pipefs === undefined) {
    const sb = new SuperBlock('pipefs', PIPEFS_MAGIC, 0xfffe);
    const root = new Dentry('pipe:', null, sb);
    sb.s_root = root;
    pipefs = { sb, mnt: new VfsMount(root, sb, 'pipefs') };
  }
  return pipefs;
}

/** create_pipe_files: a read File and a write File on one new pipe. */
export function create_pipe_files(flags: number): [File, File] {
  const { sb, mnt } = pipefs_mnt();
  const inode = new Inode(sb, sb.get_next_ino());
  inode.i_mode = S_IFIFO | 0o600;
  const pipe = new PipeInodeInfo();
  pipe.readers = 1;
  pipe.writers = 1;
  inode.i_private = pipe;
  const dentry = new Dentry(`pipe:[${inode.i_ino}]`, null, sb);
  dentry.d_inode = inode;
  const path = { mnt, dentry };
  const r = new File(path, inode, pipe_fops, O_RDONLY | (flags & 0o4000), FMODE_READ);
  const w = new File(path, inode, pipe_fops, O_WRONLY | (flags & (0o4000 | O_DIRECT)), FMODE_WRITE);
  r.private_data = pipe;
  w.private_data = pipe;
  inode.i_count = 3;
  return [r, w];
}

function* sys_pipe2(fildes: number, flags: number): Generator<unknown, number, unknown> {
  const fl = sys_int(flags);
  if (fl & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT)) return -EINVAL;
  const cloexec = (fl & O_CLOEXEC) !== 0;
  const [r, w] = create_pipe_files(fl);
  const fd0 = alloc_fd(0, cloexec);
  if (fd0 < 0) return fd0;
  fd_install(fd0, r);
  const fd1 = alloc_fd(0, cloexec);
  if (fd1 < 0) {
    get_files().fd[fd0] = null;
    put_unused_fd(fd0);
    return fd1;
  }
  fd_install(fd1, w);
  const out = new Uint8Array(8);
  const v = new DataView(out.buffer);
  v.setInt32(0, fd0, true);
  v.setInt32(4, fd1, true);
  if (copy_to_user(fildes, out, 8) !== 0) {
    const files = get_files();
    files.fd[fd0] = null;
    files.fd[fd1] = null;
    put_unused_fd(fd0);
    put_unused_fd(fd1);
    return -EFAULT;
  }
  return 0;
}

export function pipe_reset(): void {
  pipefs = undefined;
}

registerSyscall(__NR_pipe2, 'pipe2', sys_pipe2);
