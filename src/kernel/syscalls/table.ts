// The system-call table (arch/arm64/kernel/syscall.c invoke_syscall, sys_call_table).
// Subsystems register their handlers by number; the SVC vector dispatches here. A
// handler is a generator (it may block) returning the value for x0: a result, or a
// negative errno. Unknown numbers give -ENOSYS.

import { ENOSYS } from '../lib/errno.js';

export type SyscallResult = Generator<unknown, number, unknown>;
export type SyscallHandler = (a0: number, a1: number, a2: number, a3: number, a4: number, a5: number) => SyscallResult;

export interface SyscallEntry {
  readonly nr: number;
  readonly name: string;
  readonly handler: SyscallHandler;
}

/** Highest number plus one (__NR_syscalls in asm-generic). */
export const NR_syscalls = 463;

const table: (SyscallEntry | undefined)[] = new Array<SyscallEntry | undefined>(NR_syscalls).fill(undefined);

/** Registers `handler` for `nr`. Registering a number twice is a kernel build error. */
export function registerSyscall(nr: number, name: string, handler: SyscallHandler): void {
  if (!Number.isInteger(nr) || nr < 0 || nr >= NR_syscalls) throw new RangeError(`registerSyscall: ${name}: number ${nr} is outside 0..${NR_syscalls - 1}`);
  const old = table[nr];
  if (old !== undefined && old.handler !== handler) throw new Error(`registerSyscall: ${nr} is already ${old.name}, cannot register ${name}`);
  table[nr] = { nr, name, handler };
}

export function syscall_entry(nr: number): SyscallEntry | undefined {
  return Number.isInteger(nr) && nr >= 0 && nr < NR_syscalls ? table[nr] : undefined;
}

export function syscall_name(nr: number): string {
  return syscall_entry(nr)?.name ?? `syscall_${nr}`;
}

function* ni_syscall(): SyscallResult {
  return -ENOSYS;
}

/** The handler for `nr` (sys_ni_syscall when none). */
export function syscall_handler(nr: number): SyscallHandler {
  return syscall_entry(nr)?.handler ?? ni_syscall;
}

// Argument conversions: registers are 64-bit; C types narrow them.

const TWO64 = 18446744073709551616;
const TWO63 = 9223372036854775808;

/** A C `int` argument: the low 32 bits, signed. */
export function sys_int(a: number): number {
  if (a < 0 && a >= -2147483648) return a | 0;
  return Number(BigInt.asIntN(32, BigInt(Math.trunc(a)))) | 0;
}

/** A C `unsigned int` argument. */
export function sys_uint(a: number): number {
  return sys_int(a) >>> 0;
}

/** A C `long` argument (negative values may arrive as two's complement above 2^63). */
export function sys_long(a: number): number {
  if (a >= TWO63) return a - TWO64;
  return Math.trunc(a);
}

/** A C `size_t`/`unsigned long`: negative inputs wrap to huge values. */
export function sys_ulong(a: number): number {
  if (a < 0) return a + TWO64;
  return Math.trunc(a);
}
