// Boots the svasoc kernel on the real board for kernel-core tests: a Machine, the
// firmware stage and a program ROM, with helpers to build an initramfs of files and
// programs. Programs are `UserEntry` generators given to the ROM by name.

import { Machine } from '../../src/machine/board.js';
import { boot, type BootHandle } from '../../src/machine/boot.js';
import { createKernelImage } from '../../src/kernel/image.js';
import type { KernelConfig } from '../../src/kernel/init/main.js';
import type { UserEntry } from '../../src/arch/index.js';
import { EXEC_MAGIC } from '../../src/arch/index.js';
import { writeCpio, type CpioEntry } from '../../tools/mkimage/cpio.js';
import { do_execve } from '../../src/kernel/fs/exec.js';
import { user_task_body } from '../../src/kernel/kernel/fork.js';
import { mm_late_init } from '../../src/kernel/mm/late_init.js';
import { current } from '../../src/kernel/sched/core.js';
import { PF_KTHREAD } from '../../src/kernel/sched/task.js';
import { UserCtx } from './kernel-user.js';

export interface TestBootOptions {
  cpus?: number;
  ramSize?: number;
  args?: string;
  /** name -> program; each is also installed as /bin/<name> (mode 0755). */
  programs?: Record<string, UserEntry>;
  /** Extra files: path -> content (string or bytes), mode 0644 unless given as [content, mode]. */
  files?: Record<string, string | Uint8Array | [string | Uint8Array, number]>;
  config?: KernelConfig;
}

export function buildInitramfs(opts: TestBootOptions): Uint8Array {
  const entries: CpioEntry[] = [];
  const enc = new TextEncoder();
  const dirs = new Set<string>();
  const addDirs = (path: string): void => {
    const parts = path.split('/').filter((p) => p.length > 0);
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!dirs.has(d)) {
        dirs.add(d);
        entries.push({ name: d, mode: 0o040755, data: new Uint8Array(0) });
      }
    }
  };
  for (const name of Object.keys(opts.programs ?? {})) {
    addDirs(`bin/${name}`);
    entries.push({ name: `bin/${name}`, mode: 0o100755, data: enc.encode(`${EXEC_MAGIC}${name}\n`) });
  }
  for (const [path, spec] of Object.entries(opts.files ?? {})) {
    const [content, mode] = Array.isArray(spec) ? spec : [spec, 0o644];
    const p = path.replace(/^\//, '');
    addDirs(p);
    entries.push({ name: p, mode: 0o100000 | mode, data: typeof content === 'string' ? enc.encode(content) : content });
  }
  return writeCpio(entries);
}

export function bootKernel(opts: TestBootOptions = {}): { machine: Machine; handle: BootHandle } {
  const machine = new Machine({ cpus: opts.cpus ?? 2, ramSize: opts.ramSize ?? 256 * 1024 * 1024 });
  const rom = new Map(Object.entries(opts.programs ?? {}));
  const handle = boot(machine, {
    kernel: createKernelImage(opts.config ?? {}),
    rom,
    initramfs: buildInitramfs(opts),
    ...(opts.args !== undefined ? { args: opts.args } : {}),
  });
  return { machine, handle };
}

/** What user space printed: the console after "Run /init", kernel lines ("[ sec.usec] ...") dropped. */
export function userOutput(console: string): string {
  const con = console.replace(/\r\n/g, '\n');
  const start = con.indexOf('\n', con.indexOf('Run /init as init process'));
  return con
    .slice(start + 1)
    .split('\n')
    .filter((l) => !/^\[\s*\d+\.\d{6}\]/.test(l))
    .join('\n');
}

/** An initTask for bootKernel: PID 1 installs the mm's late hooks (syscalls, /proc, kthreads), then runs /init as a user task. */
export function* initWithMm(): Generator<unknown, number, unknown> {
  mm_late_init();
  const r = yield* do_execve('/init', ['/init'], []);
  if (typeof r === 'number') return 200;
  current().flags &= ~PF_KTHREAD;
  yield* user_task_body(r.entry, r.sp, false);
  return 0;
}

/** Boots the kernel with /init running `init` at EL0 through a UserCtx (raw system calls, no libc). */
export function bootUserInit(init: (u: UserCtx) => Generator<unknown, number, unknown>): { machine: Machine; handle: BootHandle } {
  return bootKernel({
    programs: {
      init: function* (cpu, sp) {
        return yield* init(new UserCtx(cpu, sp));
      },
    },
    files: { '/init': ['#!svasoc:init\n', 0o755] },
  });
}
