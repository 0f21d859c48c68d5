// File descriptors (fs/file.c, fs/file_table.c): the per-process table, allocation of
// the lowest free fd under RLIMIT_NOFILE, close-on-exec, and the last fput that calls
// the file's release: from a task, as task work before it returns to user space (or
// at its exit); from a kernel thread or an interrupt, on the system workqueue
// (delayed_fput). close(2) releases at once (__fput_sync).

import { current, in_interrupt } from '../sched/core.js';
import { PF_KTHREAD, RLIMIT_NOFILE, boot_generation, rlimit, type TaskStruct } from '../sched/task.js';
import { EBADF, EMFILE } from '../lib/errno.js';
import { task_work_add, TWA_RESUME } from '../kernel/task_work.js';
import { WorkStruct, schedule_work } from '../kernel/workqueue.js';
import { FilesStruct, FsStruct, type File } from './types.js';

/** Hard ceiling of the fd table (sysctl fs.nr_open default). */
export const NR_OPEN = 1024 * 1024;

export function get_files(task: TaskStruct = current()): FilesStruct {
  const f = task.files;
  if (f === null) throw new Error(`files: task ${task.comm}/${task.pid} has no file table`);
  return f;
}

/** get_unused_fd_flags: the lowest free fd at or above `start`, or -EMFILE. */
export function alloc_fd(start: number, cloexec: boolean, task: TaskStruct = current()): number {
  const files = get_files(task);
  const limit = Math.min(rlimit(task, RLIMIT_NOFILE), NR_OPEN);
  let fd = Math.max(start, start <= files.next_fd ? files.next_fd : start);
  while (fd < files.fd.length && files.fd[fd] !== null && files.fd[fd] !== undefined) fd++;
  if (fd >= limit) return -EMFILE;
  while (files.fd.length <= fd) {
    files.fd.push(null);
    files.close_on_exec.push(false);
  }
  // Reserve the slot with a placeholder-free marker: fd_install fills it.
  files.close_on_exec[fd] = cloexec;
  if (start <= files.next_fd) files.next_fd = fd + 1;
  return fd;
}

export function put_unused_fd(fd: number, task: TaskStruct = current()): void {
  const files = get_files(task);
  if (fd < files.next_fd) files.next_fd = fd;
}

export function fd_install(fd: number, file: File, task: TaskStruct = current()): void {
  const files = get_files(task);
  files.fd[fd] = file;
}

/** fget: the open file for `fd` with a reference, or undefined. */
export function fget(fd: number, task: TaskStruct = current()): File | undefined {
  const files = task.files;
  if (files === null || !Number.isInteger(fd) || fd < 0 || fd >= files.fd.length) return undefined;
  const f = files.fd[fd];
  if (f === null || f === undefined) return undefined;
  f.f_count++;
  return f;
}

/** fdget without a reference (the caller does not keep it across a block that may close it). */
export function fd_file(fd: number, task: TaskStruct = current()): File | undefined {
  const files = task.files;
  if (files === null || !Number.isInteger(fd) || fd < 0 || fd >= files.fd.length) return undefined;
  return files.fd[fd] ?? undefined;
}

/** Registered by the VFS: final release of a file (f_op->release, dput, mntput). */
let finalRelease: ((file: File) => Generator<unknown, void, unknown>) | undefined;
export function set_file_final_release(fn: (file: File) => Generator<unknown, void, unknown>): void {
  finalRelease = fn;
}

/** __fput: the final release (f_op->release, dput, mntput) in the caller's context. */
function* __fput(file: File): Generator<unknown, void, unknown> {
  if (finalRelease !== undefined) yield* finalRelease(file);
}

/** delayed_fput_list: files whose last reference went in a kernel thread or an interrupt (this boot's). */
let delayedFputList: File[] = [];
let delayedFputWork: WorkStruct | undefined;
let delayedFputBoot = -1;

function* delayed_fput(): Generator<unknown, void, unknown> {
  while (delayedFputList.length > 0) {
    const list = delayedFputList;
    delayedFputList = [];
    for (const f of list) yield* __fput(f);
  }
}

/**
 * fput: drops a reference. The last one queues the release: as task work of the
 * current task (run before it returns to user space, or in exit_task_work), or, in an
 * interrupt, a kernel thread or a task past exit_task_work, on the delayed_fput work.
 */
export function fput(file: File): void {
  if (--file.f_count > 0) return;
  if (!in_interrupt()) {
    const task = current();
    if (!(task.flags & PF_KTHREAD) && task_work_add(task, () => __fput(file), TWA_RESUME) === 0) return;
  }
  if (delayedFputBoot !== boot_generation()) {
    // a new boot in the same host process: the last boot's list and work item are gone with it
    delayedFputBoot = boot_generation();
    delayedFputList = [];
    delayedFputWork = new WorkStruct(delayed_fput);
  }
  delayedFputList.push(file);
  schedule_work(delayedFputWork!);
}

/** __fput_sync: drops a reference; the last one releases the file before returning (close(2)). */
export function* __fput_sync(file: File): Generator<unknown, void, unknown> {
  if (--file.f_count > 0) return;
  yield* __fput(file);
}

/** file_close_fd: takes `fd` out of the table; the file (whose reference passes to the caller) or undefined. */
function file_close_fd(fd: number, task: TaskStruct): File | undefined {
  const files = task.files;
  if (files === null || !Number.isInteger(fd) || fd < 0 || fd >= files.fd.length) return undefined;
  const f = files.fd[fd];
  if (f === null || f === undefined) return undefined;
  files.fd[fd] = null;
  files.close_on_exec[fd] = false;
  if (fd < files.next_fd) files.next_fd = fd;
  return f;
}

/** close_fd (the close(2) path): removes `fd` from the table, flushes and releases synchronously. */
export function* close_fd(fd: number, task: TaskStruct = current()): Generator<unknown, number, unknown> {
  const f = file_close_fd(fd, task);
  if (f === undefined) return -EBADF;
  if (f.f_op.flush) f.f_op.flush(f);
  yield* __fput_sync(f);
  return 0;
}

/** dup_fd: the child's copy of the table (fork without CLONE_FILES). */
export function dup_fd(old: FilesStruct): FilesStruct {
  const n = new FilesStruct();
  n.fd = old.fd.slice();
  n.close_on_exec = old.close_on_exec.slice();
  n.next_fd = old.next_fd;
  for (const f of n.fd) if (f) f.f_count++;
  return n;
}

/** do_close_on_exec: closes every fd marked FD_CLOEXEC (filp_close: the releases are task work). */
export function do_close_on_exec(task: TaskStruct): void {
  const files = get_files(task);
  for (let fd = 0; fd < files.fd.length; fd++) {
    if (!files.close_on_exec[fd]) continue;
    const f = file_close_fd(fd, task);
    if (f === undefined) continue;
    if (f.f_op.flush) f.f_op.flush(f);
    fput(f);
  }
}

/** unshare_files at exec when the table is shared with other tasks. */
export function unshare_files(task: TaskStruct): void {
  const files = get_files(task);
  if (files.count > 1) {
    files.count--;
    task.files = dup_fd(files);
  }
}

/** exit_files: the last user of the table closes its files (their releases run in exit_task_work). */
export function exit_files(task: TaskStruct): void {
  const files = task.files;
  if (files === null) return;
  task.files = null;
  if (--files.count > 0) return;
  for (let fd = 0; fd < files.fd.length; fd++) {
    const f = files.fd[fd];
    if (f) {
      files.fd[fd] = null;
      fput(f);
    }
  }
}

export function copy_fs_struct(fs: FsStruct): FsStruct {
  return new FsStruct(fs.root, fs.pwd, fs.umask);
}

export function exit_fs(task: TaskStruct): void {
  const fs = task.fs;
  if (fs === null) return;
  fs.users--;
  task.fs = null;
}

/** Number of open fds (for /proc/<pid>/status FDSize and tests). */
export function nr_open_fds(task: TaskStruct): number {
  const files = task.files;
  if (files === null) return 0;
  let n = 0;
  for (const f of files.fd) if (f) n++;
  return n;
}
