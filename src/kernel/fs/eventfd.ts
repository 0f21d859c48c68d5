// eventfd (fs/eventfd.c in shape): a 64-bit counter behind a file. write(2) adds an
// 8-byte value, read(2) returns the counter and zeroes it (EFD_SEMAPHORE: returns 1
// and decrements), both block (or -EAGAIN with O_NONBLOCK) when the counter is zero /
// would pass 0xfffffffffffffffe. poll: EPOLLIN when non-zero, EPOLLOUT while a write
// of 1 fits, EPOLLERR at the overflow value. Kernel producers (vfio interrupt
// triggers) call eventfd_signal on a context they got with eventfd_ctx_fdget.

import { registerSyscall, sys_int, sys_uint } from '../syscalls/table.js';
import { __NR_eventfd2 } from '../syscalls/numbers.js';
import { EAGAIN, EBADF, EFAULT, EINVAL, ERESTARTSYS, ESPIPE } from '../lib/errno.js';
import { copy_from_user, copy_to_user } from '../lib/uaccess.js';
import { WaitQueueHead, wait_event_interruptible, wake_up_poll } from '../sched/wait.js';
import { alloc_fd, fd_file, fd_install } from './file.js';
import { anon_inode_getfile } from './eventpoll.js';
import { EPOLLERR, EPOLLIN, EPOLLOUT, O_CLOEXEC, O_NONBLOCK, poll_wait, type File, type FileOperations, type PollTable } from './types.js';

export const EFD_SEMAPHORE = 1 << 0;
export const EFD_CLOEXEC = O_CLOEXEC;
export const EFD_NONBLOCK = O_NONBLOCK;
const EFD_SHARED_FCNTL_FLAGS = O_CLOEXEC | O_NONBLOCK;
const EFD_FLAGS_SET = EFD_SHARED_FCNTL_FLAGS | EFD_SEMAPHORE;

const ULLONG_MAX = 0xffffffffffffffffn;

/** struct eventfd_ctx. The counter is a BigInt: it is a full u64 and never on a hot path. */
export class EventfdCtx {
  count: bigint;
  readonly wqh = new WaitQueueHead('eventfd');
  /** eventfd_signal calls that were delivered (for tests and /proc-like views). */
  signals = 0;
  constructor(
    initval: number,
    readonly flags: number,
  ) {
    this.count = BigInt(initval);
  }
}

function ctx_of(file: File): EventfdCtx {
  return file.private_data as EventfdCtx;
}

/**
 * eventfd_signal: adds `n` (default 1) to the counter, saturating at ULLONG_MAX as
 * eventfd_signal_mask does, and wakes readers and pollers.
 */
export function eventfd_signal(ctx: EventfdCtx, n = 1): void {
  let add = BigInt(n);
  if (ULLONG_MAX - ctx.count < add) add = ULLONG_MAX - ctx.count;
  ctx.count += add;
  ctx.signals++;
  wake_up_poll(ctx.wqh, EPOLLIN);
}

function* eventfd_read(file: File, ubuf: number, count: number): Generator<unknown, number, unknown> {
  const ctx = ctx_of(file);
  if (count < 8) return -EINVAL;
  if (ctx.count === 0n) {
    if (file.f_flags & O_NONBLOCK) return -EAGAIN;
    const r = yield* wait_event_interruptible(ctx.wqh, () => ctx.count !== 0n);
    if (r < 0) return -ERESTARTSYS;
  }
  const ucnt = ctx.flags & EFD_SEMAPHORE ? 1n : ctx.count;
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, ucnt, true);
  // Linux reads the counter (eventfd_ctx_do_read) before the copy: a bad buffer loses the value
  ctx.count -= ucnt;
  wake_up_poll(ctx.wqh, EPOLLOUT);
  if (copy_to_user(ubuf, out, 8)) return -EFAULT;
  return 8;
}

function* eventfd_write(file: File, ubuf: number, count: number): Generator<unknown, number, unknown> {
  const ctx = ctx_of(file);
  if (count < 8) return -EINVAL;
  const b = new Uint8Array(8);
  if (copy_from_user(b, ubuf, 8)) return -EFAULT;
  const ucnt = new DataView(b.buffer).getBigUint64(0, true);
  if (ucnt === ULLONG_MAX) return -EINVAL;
  if (ULLONG_MAX - ctx.count <= ucnt) {
    if (file.f_flags & O_NONBLOCK) return -EAGAIN;
    const r = yield* wait_event_interruptible(ctx.wqh, () => ULLONG_MAX - ctx.count > ucnt);
    if (r < 0) return -ERESTARTSYS;
  }
  ctx.count += ucnt;
  // every successful write wakes, a write of 0 included (EPOLLET watchers see a new edge)
  wake_up_poll(ctx.wqh, EPOLLIN);
  return 8;
}

export const eventfd_fops: FileOperations = {
  read: eventfd_read,
  write: eventfd_write,
  llseek: () => -ESPIPE,
  poll(file: File, pt: PollTable | null): number {
    const ctx = ctx_of(file);
    poll_wait(file, ctx.wqh, pt);
    let events = 0;
    if (ctx.count > 0n) events |= EPOLLIN;
    if (ctx.count === ULLONG_MAX) events |= EPOLLERR;
    if (ULLONG_MAX - 1n > ctx.count) events |= EPOLLOUT;
    return events;
  },
};

/** eventfd_ctx_fileget: the context of an eventfd file, or -EINVAL for another kind of file. */
export function eventfd_ctx_fileget(file: File): EventfdCtx | number {
  return file.f_op === eventfd_fops ? ctx_of(file) : -EINVAL;
}

/** eventfd_ctx_fdget: the context behind `fd`: -EBADF for no file, -EINVAL for a file that is not an eventfd. */
export function eventfd_ctx_fdget(fd: number): EventfdCtx | number {
  const f = fd_file(fd);
  if (f === undefined) return -EBADF;
  return eventfd_ctx_fileget(f);
}

/** do_eventfd: a new eventfd file installed at the lowest free fd. */
export function do_eventfd(initval: number, flags: number): number {
  if (flags & ~EFD_FLAGS_SET) return -EINVAL;
  const ctx = new EventfdCtx(initval, flags);
  const fd = alloc_fd(0, (flags & O_CLOEXEC) !== 0);
  if (fd < 0) return fd;
  fd_install(fd, anon_inode_getfile('[eventfd]', eventfd_fops, ctx, flags & EFD_SHARED_FCNTL_FLAGS & ~O_CLOEXEC));
  return fd;
}

function* sys_eventfd2(initval: number, flags: number): Generator<unknown, number, unknown> {
  return do_eventfd(sys_uint(initval), sys_int(flags));
}

registerSyscall(__NR_eventfd2, 'eventfd2', sys_eventfd2);
