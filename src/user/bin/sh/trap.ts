// trap (XCU 2.14 special builtin): `trap 'CMD' SIG...` runs CMD when the shell receives
// SIG, `trap '' SIG...` ignores it, `trap - SIG...` (or `trap N...`) restores the
// default, `trap` lists the traps. A trapped signal gets a real handler (sigaction,
// without SA_RESTART) that only records it, as dash does; the shell runs the command at
// its next safe point: after the current command (a foreground command is waited for to
// the end first), or at once when the `wait` builtin is interrupted (it returns 128+SIG).
// Subshells and forked commands do not inherit caught traps (XCU 2.12): a handler that
// finds itself in another process than the one that set it takes the default action.
// The EXIT condition (0) is not supported here: `trap CMD EXIT` says so and fails.

import type { Libc } from '../../libc/libc.js';
import { strerror } from '../../libc/errno.js';
import { SIGNALS, SIG_DFL, SIG_IGN } from '../../libc/uapi.js';
import type { SignalHandler } from '../../libc/signal.js';

/** A signal number from "INT", "SIGINT" or "2"; undefined when it names none (0/EXIT included). */
export function trapSignal(name: string): number | undefined {
  if (/^[0-9]+$/.test(name)) {
    const n = Number(name);
    return n >= 1 && n < SIGNALS.length ? n : undefined;
  }
  const i = SIGNALS.indexOf(name.toUpperCase().replace(/^SIG/, ''));
  return i >= 1 ? i : undefined;
}

export class Traps {
  /** Signal -> command ('' = ignored). */
  readonly cmds = new Map<number, string>();
  /** Trapped signals received and not yet run, in arrival order. */
  readonly pending: number[] = [];
  /** What `trap - SIG` restores instead of SIG_DFL: the interactive shell's own actions (jobctl.ts). */
  readonly shellDefaults = new Map<number, SignalHandler | number>();
  /** The process whose handlers these are. */
  private owner = 0;
  private readonly handler: SignalHandler;

  constructor(private readonly c: Libc) {
    const traps = this;
    this.handler = function* trapHandler(sig) {
      const me = yield* c.getpid();
      if (me !== traps.owner) {
        // A child of the shell that inherited the handler: the default action, as an untrapped signal would have.
        yield* c.sigaction(sig, SIG_DFL);
        yield* c.raise(sig);
        return;
      }
      traps.pending.push(sig);
    };
  }

  /** The traps a subshell starts with: ignored signals stay ignored, caught ones are reset. */
  forChild(c: Libc): Traps {
    const t = new Traps(c);
    for (const [s, cmd] of this.cmds) if (cmd === '') t.cmds.set(s, '');
    return t;
  }

  /** Sets `cmd` for `sig` ('' ignores, undefined restores the default). 0 or -errno. */
  *set(sig: number, cmd: string | undefined): Generator<unknown, number, unknown> {
    this.owner = yield* this.c.getpid();
    const r = yield* this.c.sigaction(sig, cmd === undefined ? (this.shellDefaults.get(sig) ?? SIG_DFL) : cmd === '' ? SIG_IGN : this.handler);
    if (r < 0) return r;
    if (cmd === undefined) this.cmds.delete(sig);
    else this.cmds.set(sig, cmd);
    return 0;
  }
}

/** A string quoted for the shell's input ('...' with embedded quotes as '\''). */
function quote(s: string): string {
  return `'${s.replace(/'/g, "'\\''")}'`;
}

/** The trap builtin on `traps`; messages through `c`. */
export function* trapBuiltin(c: Libc, traps: Traps, argv: string[]): Generator<unknown, number, unknown> {
  const args = argv.slice(1);
  if (args[0] === '--') args.shift();
  if (args.length === 0) {
    for (const s of [...traps.cmds.keys()].sort((a, b) => a - b)) yield* c.out(`trap -- ${quote(traps.cmds.get(s)!)} ${SIGNALS[s]}\n`);
    return 0;
  }
  let action: string | undefined;
  let conds: string[];
  if (args[0] === '-' || /^[0-9]+$/.test(args[0]!)) {
    action = undefined;
    conds = args[0] === '-' ? args.slice(1) : args;
  } else {
    action = args[0]!;
    conds = args.slice(1);
  }
  if (conds.length === 0) {
    yield* c.err('sh: trap: usage: trap [action condition...]\n');
    return 2;
  }
  let status = 0;
  for (const name of conds) {
    if (name === '0' || name.toUpperCase() === 'EXIT') {
      yield* c.err(`sh: trap: ${name}: the EXIT condition is not supported\n`);
      status = 1;
      continue;
    }
    const sig = trapSignal(name);
    if (sig === undefined) {
      yield* c.err(`sh: trap: ${name}: bad trap\n`);
      status = 1;
      continue;
    }
    const r = yield* traps.set(sig, action);
    if (r < 0) {
      yield* c.err(`sh: trap: ${name}: ${strerror(r)}\n`);
      status = 1;
    }
  }
  return status;
}
