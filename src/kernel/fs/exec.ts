// execve (fs/exec.c, fs/binfmt_script.c, and binfmt_svasoc for the image's programs):
// the new program image replaces the old: a fresh mm with an 8 MiB stack VMA holding
// the arm64 initial stack (argc, argv[], envp[], auxv[] and the strings above them),
// close-on-exec descriptors closed, signal handlers reset, set-user-ID honoured.
// An executable is "#!svasoc:<name>\n" (resolved in the program ROM) or a "#!" script.

import { thisCpu, EXEC_MAGIC, type ProgramRom, type UserEntry } from '../../arch/index.js';
import { current } from '../sched/core.js';
import type { TaskStruct } from '../sched/task.js';
import { flush_signal_handlers } from '../kernel/signal.js';
import { registerSyscall } from '../syscalls/table.js';
import { __NR_execve } from '../syscalls/numbers.js';
import { E2BIG, EACCES, EFAULT, ELOOP, ENOENT, ENOEXEC, ENOMEM } from '../lib/errno.js';
import { copy_to_user, get_user, strncpy_from_user } from '../lib/uaccess.js';
import { ExecUnwind } from '../kernel/unwind.js';
import { do_close_on_exec, unshare_files, fput } from './file.js';
import { do_filp_open, getname } from './open.js';
import { kernel_read } from './read_write.js';
import { MAY_EXEC, inode_permission } from './namei.js';
import { O_RDONLY, S_ISGID, S_ISREG, S_ISUID, type File } from './types.js';
import { mm_alloc, mmput } from '../mm/fork.js';
import { do_mmap, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../mm/mmap.js';
import { switch_mm } from '../mm/context.js';
import { VM_GROWSDOWN } from '../mm/mm_types.js';
import type { MmStruct } from '../mm/mm_types.js';
import { set_task_cmdline } from './proc/base.js';
import { pr_err } from '../lib/printk.js';

/** Top of the user stack (arch_pick_mmap_layout without randomisation: TASK_SIZE). */
export const STACK_TOP = 2 ** 48;
/** Start of the heap (brk) area: no ELF image, so a fixed low base. */
export const ELF_BRK_BASE = 0x0000_0040_0000_0000;
/** MAX_ARG_STRLEN and the ARG_MAX-like budget of argument + environment bytes. */
export const MAX_ARG_STRLEN = 32 * 4096;
export const MAX_ARG_STRINGS = 0x7fffffff;
const ARG_BUDGET = 2 * 1024 * 1024;
const BINPRM_MAX_RECURSION = 4;

// auxv types (include/uapi/linux/auxvec.h)
export const AT_NULL = 0;
export const AT_PAGESZ = 6;
export const AT_UID = 11;
export const AT_EUID = 12;
export const AT_GID = 13;
export const AT_EGID = 14;
export const AT_PLATFORM = 15;
export const AT_HWCAP = 16;
export const AT_CLKTCK = 17;
export const AT_SECURE = 23;
export const AT_RANDOM = 25;
export const AT_EXECFN = 31;

let rom: ProgramRom = new Map();

export function set_program_rom(r: ProgramRom): void {
  rom = r;
}

/** struct linux_binprm */
interface LinuxBinprm {
  filename: string;
  interp: string;
  file: File;
  argv: string[];
  envp: string[];
  entry: UserEntry | undefined;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Reads a NULL-terminated array of user string pointers (copy_strings). */
function copy_strings(uptr: number, budget: { left: number }): string[] | number {
  const out: string[] = [];
  if (uptr === 0) return out;
  for (let i = 0; i < MAX_ARG_STRINGS; i++) {
    const p = get_user(uptr + 8 * i, 8);
    if (p === undefined) return -EFAULT;
    if (p === 0) break;
    const s = strncpy_from_user(p, MAX_ARG_STRLEN);
    if (typeof s === 'number') return s === -EFAULT ? -EFAULT : -E2BIG;
    budget.left -= enc.encode(s).length + 1 + 8;
    if (budget.left < 0) return -E2BIG;
    out.push(s);
  }
  return out;
}

function* open_exec(name: string): Generator<unknown, File | number, unknown> {
  const f = yield* do_filp_open(-100, name, O_RDONLY, 0);
  if (typeof f === 'number') return f;
  const inode = f.f_inode;
  if (!S_ISREG(inode.i_mode) || !(inode.i_mode & 0o111)) {
    fput(f);
    return -EACCES;
  }
  const p = inode_permission(inode, MAY_EXEC);
  if (p < 0) {
    fput(f);
    return p;
  }
  return f;
}

/** search_binary_handler: binfmt_svasoc, then binfmt_script (which recurses). */
function* search_binary_handler(bprm: LinuxBinprm, depth: number): Generator<unknown, number, unknown> {
  if (depth > BINPRM_MAX_RECURSION) return -ELOOP;
  const head = yield* kernel_read(bprm.file, 256);
  if (typeof head === 'number') return head;
  const firstLine = dec.decode(head.subarray(0, Math.max(0, head.indexOf(0x0a) >= 0 ? head.indexOf(0x0a) : head.length)));
  if (firstLine.startsWith(EXEC_MAGIC)) {
    const name = firstLine.slice(EXEC_MAGIC.length).trim();
    const entry = rom.get(name);
    if (entry === undefined) {
      pr_err(`binfmt_svasoc: ${bprm.filename}: program "${name}" is not in the program ROM`);
      return -ENOEXEC;
    }
    bprm.entry = entry;
    return 0;
  }
  if (firstLine.startsWith('#!')) {
    // binfmt_script: "#!interp [arg]" -> interp [arg] script-path original-args[1..]
    const rest = firstLine.slice(2).trim();
    if (rest.length === 0) return -ENOEXEC;
    const sp = rest.search(/[ \t]/);
    const interp = sp < 0 ? rest : rest.slice(0, sp);
    const iarg = sp < 0 ? '' : rest.slice(sp).trim();
    const newArgv = [interp, ...(iarg ? [iarg] : []), bprm.filename, ...bprm.argv.slice(1)];
    fput(bprm.file);
    const f = yield* open_exec(interp);
    if (typeof f === 'number') return f;
    bprm.file = f;
    bprm.argv = newArgv;
    bprm.interp = interp;
    return yield* search_binary_handler(bprm, depth + 1);
  }
  return -ENOEXEC;
}

/** Writes the initial stack into `mm` (which must be live on this core); returns sp. */
function create_stack(task: TaskStruct, bprm: LinuxBinprm): number | undefined {
  const strings: Uint8Array[] = [...bprm.argv, ...bprm.envp].map((s) => enc.encode(s + '\0'));
  const execfn = enc.encode(bprm.filename + '\0');
  const platform = enc.encode('aarch64\0');
  let p = STACK_TOP - 16;
  const put = (b: Uint8Array): number | undefined => {
    p -= b.length;
    return copy_to_user(p, b, b.length) === 0 ? p : undefined;
  };
  const execfnAddr = put(execfn);
  const platformAddr = put(platform);
  const ptrs: number[] = [];
  for (const s of strings) {
    const a = put(s);
    if (a === undefined) return undefined;
    ptrs.push(a);
  }
  // AT_RANDOM: 16 bytes, deterministic per (pid, exec count) so runs repeat exactly.
  const rnd = new Uint8Array(16);
  let x = (task.pid * 2654435761 + 0x9e3779b9) >>> 0;
  for (let i = 0; i < 16; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    rnd[i] = x & 0xff;
  }
  const randomAddr = put(rnd);
  if (execfnAddr === undefined || platformAddr === undefined || randomAddr === undefined) return undefined;
  const c = task.cred;
  const auxv: [number, number][] = [
    [AT_HWCAP, 0],
    [AT_PAGESZ, 4096],
    [AT_CLKTCK, 100],
    [AT_UID, c.uid],
    [AT_EUID, c.euid],
    [AT_GID, c.gid],
    [AT_EGID, c.egid],
    [AT_SECURE, c.euid !== c.uid || c.egid !== c.gid ? 1 : 0],
    [AT_RANDOM, randomAddr],
    [AT_EXECFN, execfnAddr],
    [AT_PLATFORM, platformAddr],
    [AT_NULL, 0],
  ];
  const argc = bprm.argv.length;
  const words = 1 + argc + 1 + bprm.envp.length + 1 + 2 * auxv.length;
  p = Math.floor((p - words * 8) / 16) * 16;
  const block = new Uint8Array(words * 8);
  const v = new DataView(block.buffer);
  let w = 0;
  const word = (n: number): void => {
    v.setBigUint64(8 * w++, BigInt(n), true);
  };
  word(argc);
  for (let i = 0; i < argc; i++) word(ptrs[i]!);
  word(0);
  for (let i = 0; i < bprm.envp.length; i++) word(ptrs[argc + i]!);
  word(0);
  for (const [k, val] of auxv) {
    word(k);
    word(val);
  }
  if (copy_to_user(p, block, block.length) !== 0) return undefined;
  return p;
}

/** Replaces the task's mm with a fresh one holding the stack (exec_mmap + setup_arg_pages). */
function exec_mmap(task: TaskStruct): number {
  const mm: MmStruct | null = mm_alloc();
  if (mm === null) return -ENOMEM;
  mm.start_brk = mm.brk = ELF_BRK_BASE;
  const stackSize = Math.min(task.signal.rlim[3]!.rlim_cur, 8 * 1024 * 1024);
  const old = task.mm;
  task.mm = mm;
  task.active_mm = mm;
  switch_mm(thisCpu(), mm);
  const r = do_mmap(mm, null, STACK_TOP - stackSize, stackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0);
  if (r < 0) return r;
  const vma = mm.mmap.find((x) => x.vm_start === STACK_TOP - stackSize);
  if (vma) {
    vma.vm_flags |= VM_GROWSDOWN;
    vma.anon_name = '[stack]';
  }
  mm.start_stack = STACK_TOP;
  if (old !== null) mmput(old);
  return 0;
}

/**
 * do_execveat_common without the final return to user space: on success the task has
 * the new mm and the entry and stack pointer are returned; on failure a negative
 * errno (and, past the point of no return, the task has lost its old image).
 */
export function* do_execve(filename: string, argv: string[], envp: string[]): Generator<unknown, { entry: UserEntry; sp: number } | number, unknown> {
  const task = current();
  const f = yield* open_exec(filename);
  if (typeof f === 'number') return f;
  const bprm: LinuxBinprm = { filename, interp: filename, file: f, argv: argv.length ? argv : [filename], envp, entry: undefined };
  const r = yield* search_binary_handler(bprm, 0);
  if (r < 0) {
    fput(bprm.file);
    return r;
  }
  // Point of no return (begin_new_exec).
  const inode = bprm.file.f_inode;
  const m = exec_mmap(task);
  if (m < 0) {
    fput(bprm.file);
    return m;
  }
  unshare_files(task);
  do_close_on_exec(task);
  flush_signal_handlers(task);
  const cred = task.cred;
  if (inode.i_mode & S_ISUID) cred.euid = cred.suid = cred.fsuid = inode.i_uid;
  if (inode.i_mode & S_ISGID) cred.egid = cred.sgid = cred.fsgid = inode.i_gid;
  task.comm = (filename.split('/').pop() ?? filename).slice(0, 15);
  task.thread_ctx.tpidr_el0 = 0n;
  thisCpu().writeSysreg('TPIDR_EL0', 0n);
  set_task_cmdline(task, bprm.argv);
  fput(bprm.file);
  const sp = create_stack(task, bprm);
  if (sp === undefined) return -EFAULT;
  return { entry: bprm.entry!, sp };
}

function* sys_execve(filename: number, argv: number, envp: number): Generator<unknown, number, unknown> {
  const name = getname(filename);
  if (typeof name === 'number') return name;
  const budget = { left: ARG_BUDGET };
  const a = copy_strings(argv, budget);
  if (typeof a === 'number') return a;
  const e = copy_strings(envp, budget);
  if (typeof e === 'number') return e;
  const r = yield* do_execve(name, a, e);
  if (typeof r === 'number') {
    // Past the point of no return the old image is gone: the task cannot continue.
    if (current().mm === null) return -ENOENT;
    return r;
  }
  throw new ExecUnwind(r.entry, r.sp);
}

registerSyscall(__NR_execve, 'execve', sys_execve);
