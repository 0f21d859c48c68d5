// Guest code that is not the kernel: user programs. Guest code is TypeScript, so an
// executable in the image does not hold machine code; it names an entry in the
// program ROM that boot() hands to the kernel, as a loader would map a text segment.
// An executable file's content is `#!svasoc:<name>\n` (see EXEC_MAGIC); the kernel's
// binfmt handler resolves the name in the ROM.

import type { ArchCpu } from './cpu.js';

/** First bytes of an svasoc executable, followed by the program name and a newline. */
export const EXEC_MAGIC = '#!svasoc:';

/**
 * A user program's entry, as the kernel starts it at EL0 after exec: `sp` points at
 * argc, then argv[] (NULL-terminated), envp[] (NULL-terminated) and auxv, in the
 * arm64 Linux initial-stack layout. It returns the exit status (or calls exit).
 */
export type UserEntry = (cpu: ArchCpu, sp: number) => Generator<unknown, number, unknown>;

/** The text segments available to exec: program name -> entry. */
export type ProgramRom = ReadonlyMap<string, UserEntry>;

/**
 * The kernel image boot() loads: its entry runs on the boot core at EL1 with x0 = the
 * DTB physical address, as arm64 Linux's booting protocol requires; `rom` holds the
 * user programs of the image.
 */
export interface KernelImage {
  readonly name: string;
  entry(cpu: ArchCpu, dtbPa: number, rom: ProgramRom): Generator<import('./cpu.js').CoreYield, void, void>;
}

/**
 * The code a new thread or forked child runs. A JavaScript generator cannot be
 * duplicated, so a program hands the kernel its child's continuation by yielding a
 * `UserThreadStart` just before it calls clone; the child begins there at EL0 with
 * clone's return value 0 (the "PC" that fork would have copied). `cpu` is the core
 * the child runs on.
 */
export class UserThreadStart {
  constructor(readonly entry: (cpu: import('./cpu.js').ArchCpu) => Generator<unknown, number, unknown>) {}
}
