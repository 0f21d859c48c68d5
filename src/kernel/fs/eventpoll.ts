// epoll (fs/eventpoll.c in shape): an epoll file holds interest items (file, fd,
// events, data); each item is hooked on its file's wait queues so a wake-up marks it
// ready and wakes epoll_wait sleepers. Level-triggered by default; EPOLLET reports a
// ready item once per wake-up; EPOLLONESHOT disables it after one report.
// struct epoll_event on arm64 is {u32 events; u64 data} with natural alignment (16 bytes).

import { registerSyscall, sys_int } from '../syscalls/table.js';
import { __NR_epoll_create1, __NR_epoll_ctl, __NR_epoll_pwait } from '../syscalls/numbers.js';
import { EBADF, EEXIST, EFAULT, EINTR, EINVAL, ENOENT, EPERM, ELOOP } from '../lib/errno.js';
import { copy_from_user, copy_to_user, access_ok } from '../lib/uaccess.js';
import { current } from '../sched/core.js';
import { WaitQueueEntry, WaitQueueHead, add_wait_queue, remove_wait_queue, wake_up_all } from '../sched/wait.js';
import { ktime_get } from '../time/hrtimer.js';
import { signal_pending } from '../kernel/signal.js';
import { alloc_fd, fd_file, fd_install } from './file.js';
import { PollWqueues, poll_schedule_timeout, vfs_poll } from './select.js';
import { Dentry, EPOLLERR, EPOLLHUP, EPOLLIN, File, FMODE_READ, Inode, O_CLOEXEC, O_RDWR, SuperBlock, VfsMount, poll_wait, type FileOperations, type PollTable } from './types.js';

export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLL_CTL_MOD = 3;
export const EPOLLEXCLUSIVE = 1 << 28;
export const EPOLLWAKEUP = 1 << 29;
export const EPOLLONESHOT = 1 << 30;
export const EPOLLET = 1 << 31;
export const EP_MAX_EVENTS = 0x7fffffff / 16;

class EpItem {
  ready = true;
  readonly hooks: [WaitQueueHead, WaitQueueEntry][] = [];
  constructor(
    readonly file: File,
    readonly fd: number,
    public events: number,
    public data: bigint,
  ) {}
}

class EventPoll {
  readonly items: EpItem[] = [];
  readonly wq = new WaitQueueHead('epoll');
  readonly poll_wait = new WaitQueueHead('epoll-poll');
}

function ep_of(file: File): EventPoll | undefined {
  return file.private_data instanceof EventPoll ? file.private_data : undefined;
}

function ep_item_poll(item: EpItem): number {
  return vfs_poll(item.file, null) & (item.events | EPOLLERR | EPOLLHUP);
}

const eventpoll_fops: FileOperations = {
  poll(file: File, pt: PollTable | null): number {
    const ep = ep_of(file)!;
    poll_wait(file, ep.poll_wait, pt);
    return ep.items.some((i) => !(i.events & EPOLLONESHOT && i.events === EPOLLONESHOT) && ep_item_poll(i)) ? EPOLLIN : 0;
  },
  release(_inode: Inode, file: File): void {
    const ep = ep_of(file);
    if (!ep) return;
    for (const it of ep.items) for (const [wq, e] of it.hooks) remove_wait_queue(wq, e);
    ep.items.length = 0;
  },
};

const EPFS_MAGIC = 0x09041934;
let anon: { sb: SuperBlock; mnt: VfsMount } | undefined;

/** anon_inode_getfile: a file on the anonymous inode filesystem. */
export function anon_inode_getfile(name: string, fops: FileOperations, priv: unknown, flags: number): File {
  if (anon === undefined) {
    const sb = new SuperBlock('anon_inodefs', EPFS_MAGIC, 0xfffd);
    const root = new Dentry('anon_inode:', null, sb);
    sb.s_root = root;
    anon = { sb, mnt: new VfsMount(root, sb, 'anon_inodefs') };
  }
  const inode = new Inode(anon.sb, anon.sb.get_next_ino());
  inode.i_mode = 0o600;
  const dentry = new Dentry(`anon_inode:${name}`, null, anon.sb);
  dentry.d_inode = inode;
  const f = new File({ mnt: anon.mnt, dentry }, inode, fops, flags | O_RDWR, FMODE_READ | 2);
  f.private_data = priv;
  return f;
}

export function anon_inode_reset(): void {
  anon = undefined;
}

function* sys_epoll_create1(flags: number): Generator<unknown, number, unknown> {
  const fl = sys_int(flags);
  if (fl & ~O_CLOEXEC) return -EINVAL;
  const fd = alloc_fd(0, (fl & O_CLOEXEC) !== 0);
  if (fd < 0) return fd;
  fd_install(fd, anon_inode_getfile('[eventpoll]', eventpoll_fops, new EventPoll(), 0));
  return fd;
}

function hook_item(ep: EventPoll, item: EpItem): void {
  const pt: PollTable = {
    _key: ~0,
    _qproc(_f: File, wq: WaitQueueHead): void {
      const e = new WaitQueueEntry(null, (_entry, _mode, key) => {
        if (key !== 0 && (key & (item.events | EPOLLERR | EPOLLHUP)) === 0) return false;
        item.ready = true;
        wake_up_all(ep.wq);
        wake_up_all(ep.poll_wait);
        return false;
      });
      add_wait_queue(wq, e);
      item.hooks.push([wq, e]);
    },
  };
  vfs_poll(item.file, pt);
}

function* sys_epoll_ctl(epfd: number, op: number, fd: number, event: number): Generator<unknown, number, unknown> {
  const epf = fd_file(sys_int(epfd));
  if (epf === undefined) return -EBADF;
  const tf = fd_file(sys_int(fd));
  if (tf === undefined) return -EBADF;
  const ep = ep_of(epf);
  if (ep === undefined) return -EINVAL;
  if (tf === epf) return -EINVAL;
  if (ep_of(tf) !== undefined) return -ELOOP;
  if (!tf.f_op.poll) return -EPERM;
  const o = sys_int(op);
  let events = 0;
  let data = 0n;
  if (o !== EPOLL_CTL_DEL) {
    const b = new Uint8Array(16);
    if (copy_from_user(b, event, 16) !== 0) return -EFAULT;
    const v = new DataView(b.buffer);
    events = v.getUint32(0, true);
    data = v.getBigUint64(8, true);
  }
  const idx = ep.items.findIndex((i) => i.file === tf && i.fd === sys_int(fd));
  switch (o) {
    case EPOLL_CTL_ADD: {
      if (idx >= 0) return -EEXIST;
      const item = new EpItem(tf, sys_int(fd), events, data);
      ep.items.push(item);
      hook_item(ep, item);
      return 0;
    }
    case EPOLL_CTL_DEL: {
      if (idx < 0) return -ENOENT;
      const [item] = ep.items.splice(idx, 1);
      for (const [wq, e] of item!.hooks) remove_wait_queue(wq, e);
      return 0;
    }
    case EPOLL_CTL_MOD: {
      if (idx < 0) return -ENOENT;
      const item = ep.items[idx]!;
      item.events = events;
      item.data = data;
      item.ready = true;
      return 0;
    }
    default:
      return -EINVAL;
  }
}

function* sys_epoll_pwait(epfd: number, events: number, maxevents: number, timeout: number): Generator<unknown, number, unknown> {
  const max = sys_int(maxevents);
  if (max <= 0 || max > EP_MAX_EVENTS) return -EINVAL;
  if (!access_ok(events, max * 16)) return -EFAULT;
  const epf = fd_file(sys_int(epfd));
  if (epf === undefined) return -EBADF;
  const ep = ep_of(epf);
  if (ep === undefined) return -EINVAL;
  const tmo = sys_int(timeout);
  const deadline = tmo < 0 ? Infinity : ktime_get() + tmo * 1e6;
  const task = current();
  const pwq = new PollWqueues(task);
  pwq._qproc(epf, ep.wq, pwq);
  try {
    for (;;) {
      const out: EpItem[] = [];
      const masks: number[] = [];
      for (const it of ep.items) {
        if (out.length >= max) break;
        if ((it.events & ~(EPOLLET | EPOLLONESHOT | EPOLLEXCLUSIVE | EPOLLWAKEUP)) === 0) continue; // disabled oneshot
        if (it.events & EPOLLET && !it.ready) continue;
        const m = ep_item_poll(it);
        if (m === 0) continue;
        out.push(it);
        masks.push(m);
      }
      if (out.length > 0) {
        const b = new Uint8Array(out.length * 16);
        const v = new DataView(b.buffer);
        out.forEach((it, i) => {
          v.setUint32(16 * i, masks[i]! >>> 0, true);
          v.setBigUint64(16 * i + 8, it.data, true);
          if (it.events & EPOLLET) it.ready = false;
          if (it.events & EPOLLONESHOT) it.events &= EPOLLET | EPOLLONESHOT | EPOLLEXCLUSIVE | EPOLLWAKEUP;
        });
        if (copy_to_user(events, b, b.length) !== 0) return -EFAULT;
        return out.length;
      }
      if (signal_pending(task)) return -EINTR;
      if (ktime_get() >= deadline) return 0;
      yield* poll_schedule_timeout(pwq, deadline);
    }
  } finally {
    pwq.free();
  }
}

registerSyscall(__NR_epoll_create1, 'epoll_create1', sys_epoll_create1);
registerSyscall(__NR_epoll_ctl, 'epoll_ctl', sys_epoll_ctl);
registerSyscall(__NR_epoll_pwait, 'epoll_pwait', sys_epoll_pwait);
