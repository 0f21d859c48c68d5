// A tiny test-only user-space helper for kernel-core tests: system calls through
// cpu.svc, strings and buffers in a scratch area of the program's own stack (below
// the initial sp), read back through the MMU. Real programs use src/user's libc.

import type { ArchCpu } from '../../src/arch/index.js';
import { UserThreadStart } from '../../src/arch/program.js';

export class UserCtx {
  private brk: number;
  constructor(
    readonly cpu: ArchCpu,
    readonly sp: number,
  ) {
    // Scratch space: 64 KiB below the initial stack pointer, 16-byte aligned.
    this.brk = Math.floor((sp - 256 * 1024) / 16) * 16;
  }

  *sys(nr: number, ...args: number[]): Generator<unknown, number, unknown> {
    return yield* this.cpu.svc(nr, ...args);
  }

  /** Allocates `n` bytes of scratch (zeroed) and returns the address. */
  alloc(n: number): number {
    const a = this.brk;
    this.brk += Math.ceil(n / 16) * 16;
    this.cpu.writeVirt(a, new Uint8Array(n));
    return a;
  }

  /** A NUL-terminated string in scratch memory. */
  str(s: string): number {
    const b = new TextEncoder().encode(s + '\0');
    const a = this.alloc(b.length);
    this.cpu.writeVirt(a, b);
    return a;
  }

  /** A NULL-terminated array of string pointers. */
  argv(list: string[]): number {
    const ptrs = list.map((s) => this.str(s));
    const a = this.alloc(8 * (ptrs.length + 1));
    ptrs.forEach((p, i) => this.cpu.st64(a + 8 * i, p));
    this.cpu.st64(a + 8 * ptrs.length, 0);
    return a;
  }

  bytes(addr: number, n: number): Uint8Array {
    const b = new Uint8Array(n);
    this.cpu.readVirt(addr, b);
    return b;
  }

  text(addr: number, n: number): string {
    return new TextDecoder().decode(this.bytes(addr, n));
  }

  /** Reads argc/argv from the initial stack. */
  args(): string[] {
    const argc = this.cpu.ld64(this.sp);
    const out: string[] = [];
    for (let i = 0; i < argc; i++) {
      let p = this.cpu.ld64(this.sp + 8 + 8 * i);
      let s = '';
      for (let c = this.cpu.ld8(p); c !== 0; c = this.cpu.ld8(++p)) s += String.fromCharCode(c);
      out.push(s);
    }
    return out;
  }

  *write(fd: number, s: string): Generator<unknown, number, unknown> {
    const b = new TextEncoder().encode(s);
    const a = this.alloc(b.length);
    this.cpu.writeVirt(a, b);
    return yield* this.sys(64, fd, a, b.length);
  }

  /** fork(): the child runs `child` (with its own UserCtx on the parent's stack copy). */
  *fork(child: (u: UserCtx) => Generator<unknown, number, unknown>): Generator<unknown, number, unknown> {
    const sp = this.sp;
    const brk = this.brk;
    yield new UserThreadStart(function* (cpu: ArchCpu) {
      const u = new UserCtx(cpu, sp);
      u.brk = brk;
      return yield* child(u);
    });
    return yield* this.sys(220, 17 /* SIGCHLD */, 0, 0, 0, 0);
  }

  /** wait4(pid) -> [pid, status] */
  *wait(pid = -1, options = 0): Generator<unknown, [number, number], unknown> {
    const st = this.alloc(8);
    const r = yield* this.sys(260, pid, st, options, 0);
    return [r, this.cpu.ld32(st)];
  }
}
