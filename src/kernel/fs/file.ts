// File descriptors (fs/file.c, fs/file_table.c): the per-process table, allocation of
// the lowest free fd under RLIMIT_NOFILE, close-on-exec, and the last fput that calls
// the file's release.

import { current } from '../sched/core.js';
import { RLIMIT_NOFILE, rlimit, type TaskStruct } from '../sched/task.js';
import { EBADF, EMFILE } from '../lib/errno.js';
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

/** fput: drops a reference; the last one releases the file. */
export function* fput(file: File): Generator<unknown, void, unknown> {
  if (--file.f_count > 0) return;
  if (finalRelease !== undefined) yield* finalRelease(file);
}

/** close_fd: removes `fd` from the table and drops its reference. */
export function* close_fd(fd: number, task: TaskStruct = current()): Generator<unknown, number, unknown> {
  const files = task.files;
  if (files === null || !Number.isInteger(fd) || fd < 0 || fd >= files.fd.length) return -EBADF;
  const f = files.fd[fd];
  if (f === null || f === undefined) return -EBADF;
  files.fd[fd] = null;
  files.close_on_exec[fd] = false;
  if (fd < files.next_fd) files.next_fd = fd;
  if (f.f_op.flush) f.f_op.flush(f);
  yield* fput(f);
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

/** do_close_on_exec: closes every fd marked FD_CLOEXEC. */
export function* do_close_on_exec(task: TaskStruct): Generator<unknown, void, unknown> {
  const files = get_files(task);
  for (let fd = 0; fd < files.fd.length; fd++) {
    if (files.close_on_exec[fd] && files.fd[fd]) yield* close_fd(fd, task);
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

export function* exit_files(task: TaskStruct): Generator<unknown, void, unknown> {
  const files = task.files;
  if (files === null) return;
  task.files = null;
  if (--files.count > 0) return;
  for (let fd = 0; fd < files.fd.length; fd++) {
    const f = files.fd[fd];
    if (f) {
      files.fd[fd] = null;
      yield* fput(f);
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
