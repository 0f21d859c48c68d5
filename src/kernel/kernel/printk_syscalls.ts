// The kernel log for user space (kernel/printk/printk.c): syslog(2) and /dev/kmsg.
// /dev/kmsg returns one record per read as "level,seq,timestamp_us,-;text\n".

import { registerSyscall, sys_int } from '../syscalls/table.js';
import { copy_to_user } from '../lib/uaccess.js';
import { dmesg_text, log_records } from '../lib/printk.js';
import { EFAULT, EINVAL, EPERM, EPIPE } from '../lib/errno.js';
import { current } from '../sched/core.js';
import { CAP_SYS_ADMIN, has_capability } from '../sched/task.js';
import { register_chrdev, devnode_create, MEM_MAJOR } from '../fs/char_dev.js';
import { MKDEV, S_IFCHR, type File, type FileOperations } from '../fs/types.js';

export const __NR_syslog = 116;
export const SYSLOG_ACTION_READ_ALL = 3;
export const SYSLOG_ACTION_SIZE_UNREAD = 9;
export const SYSLOG_ACTION_SIZE_BUFFER = 10;

function* sys_syslog(type: number, buf: number, len: number): Generator<unknown, number, unknown> {
  const t = sys_int(type);
  if (t === SYSLOG_ACTION_SIZE_BUFFER) return 1 << 17;
  if (t === SYSLOG_ACTION_SIZE_UNREAD) return new TextEncoder().encode(dmesg_text()).length;
  if (t !== SYSLOG_ACTION_READ_ALL) return -EINVAL;
  if (!has_capability(current(), CAP_SYS_ADMIN)) return -EPERM;
  const n = sys_int(len);
  if (n < 0) return -EINVAL;
  const bytes = new TextEncoder().encode(dmesg_text());
  const take = bytes.subarray(Math.max(0, bytes.length - n));
  if (copy_to_user(buf, take, take.length) !== 0) return -EFAULT;
  return take.length;
}

interface KmsgState {
  seq: number;
}

const kmsg_fops: FileOperations = {
  *open(_inode, file: File) {
    const recs = log_records();
    file.private_data = { seq: recs.length > 0 ? recs[0]!.seq : 0 } satisfies KmsgState;
    return 0;
  },
  *read(file: File, ubuf: number, count: number) {
    const st = file.private_data as KmsgState;
    const rec = log_records().find((r) => r.seq >= st.seq);
    if (rec === undefined) return 0;
    const line = new TextEncoder().encode(`${rec.level},${rec.seq},${Math.floor(rec.tsNs / 1000)},-;${rec.text}\n`);
    if (line.length > count) return -EINVAL;
    if (copy_to_user(ubuf, line, line.length) !== 0) return -EFAULT;
    st.seq = rec.seq + 1;
    return line.length;
  },
  *write(_file: File, _ubuf: number, count: number) {
    return count > 0 ? count : -EPIPE;
  },
};

export function kmsg_init(): void {
  register_chrdev(MEM_MAJOR, 11, 1, 'kmsg', kmsg_fops);
  devnode_create('kmsg', MKDEV(MEM_MAJOR, 11), S_IFCHR | 0o644);
}

registerSyscall(__NR_syslog, 'syslog', sys_syslog);
