// _start: what a C runtime does before main. The kernel starts a program at EL0 with
// sp at the arm64 initial stack (ELF ABI / Linux create_elf_tables):
//   sp -> argc | argv[0..argc-1] | NULL | envp[...] | NULL | auxv (type, value)... AT_NULL
// each slot 8 bytes; the strings sit higher up the stack.

import { thisCpu, type UserEntry } from '../../arch/index.js';
import { cstr } from './string.js';
import { AT_NULL } from './uapi.js';
import { Libc } from './libc.js';

export interface InitialStack {
  readonly argc: number;
  readonly argv: string[];
  readonly envp: string[];
  /** Auxiliary vector: AT_* type -> value. */
  readonly auxv: Map<number, number>;
  /** Address of argv[0]'s pointer slot (sp + 8). */
  readonly argvPtr: number;
}

/** Bounds that keep a corrupt stack from spinning (the kernel's MAX_ARG_STRINGS is larger; a guest never needs more here). */
const MAX_SLOTS = 1 << 16;

/** Parses the initial stack at `sp`. */
export function readInitialStack(sp: number): InitialStack {
  const cpu = thisCpu();
  const argc = cpu.ld64(sp);
  const argv: string[] = [];
  let p = sp + 8;
  for (let i = 0; i < argc && i < MAX_SLOTS; i++, p += 8) argv.push(cstr(cpu.ld64(p)));
  p += 8; // argv's NULL
  const envp: string[] = [];
  for (let i = 0; i < MAX_SLOTS; i++, p += 8) {
    const s = cpu.ld64(p);
    if (s === 0) break;
    envp.push(cstr(s));
  }
  p += 8; // envp's NULL
  const auxv = new Map<number, number>();
  for (let i = 0; i < MAX_SLOTS; i++, p += 16) {
    const type = cpu.ld64(p);
    if (type === AT_NULL) break;
    auxv.set(type, cpu.ld64(p + 8));
  }
  return { argc, argv, envp, auxv, argvPtr: sp + 8 };
}

/** A program's main: its C library instance and argv; returns the exit status. */
export type Main = (c: Libc, argv: string[]) => Generator<unknown, number, unknown>;

/** Wraps `main` as an executable's entry: _start parses the stack, sets up libc, calls exit(main()). */
export function program(main: Main): UserEntry {
  return function* _start(_cpu, sp) {
    const stack = readInitialStack(sp);
    const c = new Libc(stack.envp, stack.auxv);
    yield* c.init(sp);
    const status = yield* main(c, stack.argv);
    return yield* c.exit(status);
  };
}
