// The shell's execution engine (XCU 2.5-2.9): expansion, redirection, simple and
// compound commands, pipelines with pipe2(2), subshells and background jobs with
// fork/clone, external commands with execve(2). One Shell is one shell process's
// state; a forked child gets a snapshot.
//
// Job control (XCU 2.11, as ash and hush do it) is on in an interactive shell that has a
// controlling terminal (jobctl.ts): every job (a pipeline or a simple command, in the
// foreground or with &) is a process group of its own, set by setpgid in both the shell
// and the child so neither order of running matters; a foreground job gets the terminal
// (tcsetpgrp, done by the child before it runs anything) and the shell takes it back when
// the job ends. A foreground job killed by SIGINT interrupts the command line being run,
// with $? = 130 and no message. Command substitutions stay in the shell's group.

import type { Libc } from '../../libc/libc.js';
import { strerror, ENOENT, ENOEXEC, EBADF, ECHILD, EINTR } from '../../libc/errno.js';
import { Traps } from './trap.js';
import { SIGINT, F_DUPFD_CLOEXEC, O_APPEND, O_CLOEXEC, O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, S_IFMT, S_IFREG, WIFEXITED, WEXITSTATUS, WIFSIGNALED, WTERMSIG } from '../../libc/uapi.js';
import type { Node, Part, Redir, Word } from './ast.js';
import { parse, ParseError } from './parse.js';
import { evalArith, ArithError } from './arith.js';
import { hasGlob, matchPattern, patternToRegExp, type PatternPiece } from './pattern.js';
import { BUILTINS } from './builtins.js';
import { type JobControl, type JobSpec, InterruptControl, jobChildSetup, jobParentSetup } from './jobctl.js';

export type ShellGen<T = number> = Generator<unknown, T, unknown>;

/** break/continue/return unwind to their loop or function (only the shell's own frames). */
export class LoopControl {
  constructor(
    readonly kind: 'break' | 'continue',
    public levels: number,
  ) {}
}
export class ReturnControl {
  constructor(readonly status: number) {}
}
/** An expansion error (${x?}, bad arithmetic): the command fails; a script stops. */
export class ExpansionError extends Error {
  constructor(
    message: string,
    readonly status = 1,
  ) {
    super(message);
  }
}

interface Var {
  value: string;
  exported: boolean;
}

/** A field being built during expansion: pieces remember what was quoted. */
interface Field {
  pieces: PatternPiece[];
  /** True once something (even an empty quoted string) produced this field. */
  present: boolean;
}

const DEFAULT_PATH = '/bin:/sbin:/usr/bin:/usr/sbin';

/** Decodes a wait status into the shell's $? (128+signal for a kill). */
export function statusOfWait(ws: number): number {
  if (WIFEXITED(ws)) return WEXITSTATUS(ws);
  if (WIFSIGNALED(ws)) return 128 + WTERMSIG(ws);
  return 1;
}

export class Shell {
  vars = new Map<string, Var>();
  funcs = new Map<string, Node>();
  positional: string[];
  status = 0;
  /** $! */
  lastBg = 0;
  /** Background children not yet waited for. */
  jobs: number[] = [];
  /** $$: the PID of the top-level shell (subshells keep it, XCU 2.5.2). */
  pid = 0;
  opts = { errexit: false, xtrace: false, noglob: false };
  interactive = false;
  /** Job control of the interactive top-level shell; null in subshells, children and scripts. */
  jobctl: JobControl | null = null;
  /** Signal actions this shell set for itself that its children put back to the default. */
  shellSigs: readonly number[] = [];
  /** The wait status of the last process waitFor reaped. */
  private lastWaitStatus = 0;
  /** Depth of if/while conditions and && || lists, where errexit does not apply. */
  private condDepth = 0;
  /** Status of the last command substitution of the current simple command (XCU 2.9.1: the status of an assignment-only command). */
  private substStatus = 0;
  private heredocSeq = 0;
  private readonly pathCache = new Map<string, string>();
  /** trap's commands and the trapped signals received (trap.ts). */
  traps: Traps;

  constructor(
    public c: Libc,
    /** $0 */
    public name: string,
    args: readonly string[],
  ) {
    this.positional = [...args];
    this.traps = new Traps(c);
    for (const e of c.environ) {
      const eq = e.indexOf('=');
      if (eq > 0) this.vars.set(e.slice(0, eq), { value: e.slice(eq + 1), exported: true });
    }
    if (!this.vars.has('PATH')) this.vars.set('PATH', { value: DEFAULT_PATH, exported: true });
    if (!this.vars.has('IFS')) this.vars.set('IFS', { value: ' \t\n', exported: false });
  }

  /** The state a forked child starts from (taken in the parent, before clone). */
  snapshot(): (c: Libc) => Shell {
    const vars = new Map([...this.vars].map(([k, v]) => [k, { ...v }]));
    const funcs = new Map(this.funcs);
    const positional = [...this.positional];
    const { status, lastBg, pid, name } = this;
    const opts = { ...this.opts };
    const traps = this.traps;
    const shellSigs = this.shellSigs;
    return (c) => {
      const s = new Shell(c, name, positional);
      s.traps = traps.forChild(c);
      s.vars = vars;
      s.funcs = funcs;
      s.status = status;
      s.lastBg = lastBg;
      s.pid = pid;
      s.opts = opts;
      s.shellSigs = shellSigs;
      return s;
    };
  }

  // ---- variables ----

  getVar(name: string): string | undefined {
    return this.vars.get(name)?.value;
  }
  setVar(name: string, value: string, exported?: boolean): void {
    const v = this.vars.get(name);
    if (v) {
      v.value = value;
      if (exported) v.exported = true;
    } else this.vars.set(name, { value, exported: exported ?? false });
  }
  exportVar(name: string): void {
    const v = this.vars.get(name);
    if (v) v.exported = true;
    else this.vars.set(name, { value: '', exported: true });
  }
  unsetVar(name: string): void {
    this.vars.delete(name);
  }
  /** The environment for execve: exported variables. */
  environment(): string[] {
    const out: string[] = [];
    for (const [k, v] of this.vars) if (v.exported) out.push(`${k}=${v.value}`);
    return out;
  }

  // ---- running ----

  /** Parses and runs `src`; syntax errors print and give status 2. */
  *runSource(src: string, where = 'sh'): ShellGen {
    let tree: Node;
    try {
      tree = parse(src);
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      yield* this.c.err(`${where}: ${e.message}\n`);
      this.status = 2;
      return 2;
    }
    return yield* this.run(tree);
  }

  *run(node: Node): ShellGen {
    switch (node.type) {
      case 'list': {
        let s = this.status;
        for (const it of node.items) {
          if (it.bg) s = yield* this.runBackground(it.node);
          else s = yield* this.run(it.node);
          this.status = s;
          if (this.traps.pending.length > 0) yield* this.runTraps();
          if (this.jobctl?.intPending) throw new InterruptControl();
          if (s !== 0 && this.opts.errexit && this.condDepth === 0 && !it.bg) yield* this.c.exit(s);
        }
        return s;
      }
      case 'andor': {
        this.condDepth++;
        let s: number;
        try {
          s = yield* this.run(node.first);
          for (let i = 0; i < node.rest.length; i++) {
            const r = node.rest[i]!;
            if ((r.op === '&&') === (s === 0)) {
              if (i === node.rest.length - 1) {
                this.condDepth--;
                try {
                  s = yield* this.run(r.node);
                } finally {
                  this.condDepth++;
                }
              } else s = yield* this.run(r.node);
            }
          }
        } finally {
          this.condDepth--;
        }
        this.status = s;
        return s;
      }
      case 'pipeline': {
        let s: number;
        if (node.bang) this.condDepth++;
        try {
          s = node.cmds.length === 1 ? yield* this.run(node.cmds[0]!) : yield* this.runPipeline(node.cmds);
        } finally {
          if (node.bang) this.condDepth--;
        }
        if (node.bang) s = s === 0 ? 1 : 0;
        this.status = s;
        return s;
      }
      case 'simple':
        return yield* this.runSimple(node.assigns, node.words, node.redirs);
      case 'func':
        this.funcs.set(node.name, node.body);
        return 0;
      case 'subshell': {
        const snap = this.snapshot();
        const body = node.body;
        const redirs = node.redirs;
        const job = this.newJob(true);
        const pid = yield* this.c.fork(function* subshell(cl) {
          const sh = snap(cl);
          yield* jobChildSetup(sh, job);
          if (!(yield* sh.redirect(redirs, null))) return 1;
          return yield* sh.runGuarded(body);
        });
        if (pid < 0) return yield* this.forkFailed(pid);
        yield* jobParentSetup(this, pid, job);
        return (this.status = yield* this.waitJob([pid], job));
      }
      default:
        return yield* this.withRedirs(node.redirs, () => this.runCompound(node));
    }
  }

  /** Runs `node` in a child process and returns its status (catches loop/return control). */
  *runGuarded(node: Node): ShellGen {
    try {
      return yield* this.run(node);
    } catch (e) {
      if (e instanceof ReturnControl) return e.status;
      if (e instanceof LoopControl) return this.status;
      if (e instanceof ExpansionError) {
        yield* this.c.err(`sh: ${e.message}\n`);
        return e.status;
      }
      throw e;
    }
  }

  private *runCompound(node: Node): ShellGen {
    switch (node.type) {
      case 'group':
        return yield* this.run(node.body);
      case 'if': {
        for (const cl of node.clauses) {
          if ((yield* this.cond(cl.cond)) === 0) return yield* this.run(cl.body);
        }
        if (node.else) return yield* this.run(node.else);
        return (this.status = 0);
      }
      case 'while': {
        let s = 0;
        for (;;) {
          const cs = yield* this.cond(node.cond);
          if ((cs === 0) === node.until) break;
          const ctl = yield* this.loopBody(node.body);
          s = this.status;
          if (ctl === 'break') break;
        }
        return (this.status = s);
      }
      case 'for': {
        let items: string[];
        if (node.words === null) items = [...this.positional];
        else {
          items = [];
          for (const w of node.words) items.push(...(yield* this.expandWord(w)));
        }
        let s = 0;
        for (const it of items) {
          this.setVar(node.name, it);
          const ctl = yield* this.loopBody(node.body);
          s = this.status;
          if (ctl === 'break') break;
        }
        return (this.status = s);
      }
      case 'case': {
        const subject = yield* this.expandString(node.word);
        for (const arm of node.arms) {
          for (const p of arm.patterns) {
            const pieces = yield* this.expandPattern(p);
            if (matchPattern(pieces, subject)) return arm.body ? yield* this.run(arm.body) : (this.status = 0);
          }
        }
        return (this.status = 0);
      }
      default:
        return yield* this.run(node);
    }
  }

  private *cond(node: Node): ShellGen {
    this.condDepth++;
    try {
      return yield* this.run(node);
    } finally {
      this.condDepth--;
    }
  }

  /** Runs a loop body; returns 'break' to leave this loop, 'next' to go on. */
  private *loopBody(body: Node): ShellGen<'break' | 'next'> {
    if (this.jobctl?.intPending) throw new InterruptControl();
    try {
      yield* this.run(body);
      return 'next';
    } catch (e) {
      if (!(e instanceof LoopControl)) throw e;
      if (e.levels > 1) {
        e.levels--;
        throw e;
      }
      return e.kind === 'break' ? 'break' : 'next';
    }
  }

  private *runBackground(node: Node): ShellGen {
    const snap = this.snapshot();
    const job = this.newJob(false);
    const pid = yield* this.c.fork(function* background(cl) {
      const sh = snap(cl);
      yield* jobChildSetup(sh, job);
      return yield* sh.runGuarded(node);
    });
    if (pid < 0) return yield* this.forkFailed(pid);
    yield* jobParentSetup(this, pid, job);
    this.lastBg = pid;
    this.jobs.push(pid);
    if (this.interactive) yield* this.c.err(`[${this.jobs.length}] ${pid}\n`);
    return 0;
  }

  private *runPipeline(cmds: readonly Node[]): ShellGen {
    const pids: number[] = [];
    let prevRead = -1;
    let job = this.newJob(true);
    for (let i = 0; i < cmds.length; i++) {
      const last = i === cmds.length - 1;
      let r = -1;
      let w = -1;
      if (!last) {
        const p = yield* this.c.pipe2(O_CLOEXEC);
        if (typeof p === 'number') {
          yield* this.c.err(`sh: pipe: ${strerror(p)}\n`);
          if (prevRead >= 0) yield* this.c.close(prevRead);
          break;
        }
        [r, w] = p;
      }
      const snap = this.snapshot();
      const cmd = cmds[i]!;
      const inFd = prevRead;
      const outFd = w;
      const readEnd = r;
      const stageJob = job;
      const pid = yield* this.c.fork(function* pipelineStage(cl) {
        const sh = snap(cl);
        yield* jobChildSetup(sh, stageJob);
        if (inFd >= 0) {
          yield* cl.dup2(inFd, 0);
          yield* cl.close(inFd);
        }
        if (outFd >= 0) {
          yield* cl.dup2(outFd, 1);
          yield* cl.close(outFd);
        }
        if (readEnd >= 0) yield* cl.close(readEnd);
        return yield* sh.runGuarded(cmd);
      });
      if (prevRead >= 0) yield* this.c.close(prevRead);
      if (w >= 0) yield* this.c.close(w);
      prevRead = r;
      if (pid < 0) {
        yield* this.forkFailed(pid);
        if (r >= 0) yield* this.c.close(r);
        break;
      }
      yield* jobParentSetup(this, pid, job);
      // The later stages join the first one's process group.
      if (job !== null && job.pgid === 0) job = { ...job, pgid: pid };
      pids.push(pid);
    }
    return yield* this.waitJob(pids, job);
  }

  /** The job a fork for a command starts, when this shell does job control. */
  private newJob(foreground: boolean): JobSpec | null {
    return this.jobctl === null ? null : { pgid: 0, foreground, ttyfd: this.jobctl.ttyfd };
  }

  /**
   * Waits for the processes of a job, the last one's status being the job's; then a
   * foreground job hands the terminal back to the shell, and one whose last process
   * SIGINT killed interrupts the command line (dash's waitforjob).
   */
  private *waitJob(pids: readonly number[], job: JobSpec | null): ShellGen {
    let s = 1;
    let ws = 0;
    for (const pid of pids) {
      s = yield* this.waitFor(pid);
      ws = this.lastWaitStatus;
    }
    if (job !== null && job.foreground && this.jobctl !== null) {
      yield* this.c.tcsetpgrp(this.jobctl.ttyfd, this.jobctl.pgrp);
      if (pids.length > 0 && WIFSIGNALED(ws) && WTERMSIG(ws) === SIGINT) {
        this.status = s;
        throw new InterruptControl();
      }
    }
    return s;
  }

  private *forkFailed(err: number): ShellGen {
    yield* this.c.err(`sh: fork: ${strerror(err)}\n`);
    return (this.status = 2);
  }

  /**
   * Runs the commands of the trapped signals received, in arrival order; $? is kept
   * (XCU 2.14 trap: the value of "$?" after the trap action completes is the value it had before).
   */
  *runTraps(): ShellGen {
    const saved = this.status;
    while (this.traps.pending.length > 0) {
      const sig = this.traps.pending.shift()!;
      const cmd = this.traps.cmds.get(sig);
      if (cmd !== undefined && cmd !== '') yield* this.runSource(cmd, 'sh: trap');
    }
    this.status = saved;
    return saved;
  }

  /**
   * Waits for child `pid`, reaping it; returns its $? value. A trapped signal does not
   * end the wait for a foreground command; with `interruptible` (the wait builtin) it
   * does: 128 + the signal, and its trap runs at once.
   */
  *waitFor(pid: number, interruptible = false): ShellGen {
    for (;;) {
      const r = yield* this.c.wait4(pid, 0);
      if (r === -EINTR) {
        if (this.jobctl?.intPending) throw new InterruptControl();
        const sig = this.traps.pending[0];
        if (interruptible && sig !== undefined) {
          yield* this.runTraps();
          return 128 + sig;
        }
        continue;
      }
      if (typeof r === 'number') return r === -ECHILD ? 127 : 1;
      if (r.pid === pid) {
        this.jobs = this.jobs.filter((j) => j !== pid);
        this.lastWaitStatus = r.status;
        return statusOfWait(r.status);
      }
    }
  }

  // ---- simple commands ----

  private *runSimple(assigns: readonly { readonly name: string; readonly value: Word }[], words: readonly Word[], redirs: readonly Redir[]): ShellGen {
    let argv: string[];
    const values: [string, string][] = [];
    this.substStatus = 0;
    try {
      argv = [];
      for (const w of words) argv.push(...(yield* this.expandWord(w)));
      for (const a of assigns) values.push([a.name, yield* this.expandString(a.value)]);
    } catch (e) {
      if (!(e instanceof ExpansionError)) throw e;
      yield* this.c.err(`sh: ${e.message}\n`);
      this.status = e.status;
      if (!this.interactive) yield* this.c.exit(e.status);
      return e.status;
    }
    if (this.opts.xtrace && (argv.length > 0 || values.length > 0)) {
      yield* this.c.err(`+ ${[...values.map(([k, v]) => `${k}=${v}`), ...argv].join(' ')}\n`);
    }
    if (argv.length === 0) {
      for (const [k, v] of values) this.setVar(k, v);
      const s = yield* this.withRedirs(redirs, function* () {
        return 0;
      });
      return (this.status = s === 0 ? this.substStatus : s);
    }
    const name = argv[0]!;
    const fn = this.funcs.get(name);
    if (fn !== undefined) {
      for (const [k, v] of values) this.setVar(k, v);
      const saved = this.positional;
      this.positional = argv.slice(1);
      try {
        return (this.status = yield* this.withRedirs(redirs, () => this.run(fn)));
      } catch (e) {
        if (e instanceof ReturnControl) return (this.status = e.status);
        throw e;
      } finally {
        this.positional = saved;
      }
    }
    const builtin = BUILTINS.get(name);
    if (builtin !== undefined) {
      // Assignments before a special builtin persist (XCU 2.14); for others they are temporary, kept simple here: persist.
      for (const [k, v] of values) this.setVar(k, v);
      if (name === 'exec') return (this.status = yield* this.execBuiltin(argv, redirs));
      const s = yield* this.withRedirs(redirs, () => builtin(this, argv));
      return (this.status = s);
    }
    const snap = this.snapshot();
    const job = this.newJob(true);
    const pid = yield* this.c.fork(function* command(cl) {
      const sh = snap(cl);
      yield* jobChildSetup(sh, job);
      for (const [k, v] of values) sh.setVar(k, v, true);
      if (!(yield* sh.redirect(redirs, null))) return 1;
      return yield* sh.execCommand(argv);
    });
    if (pid < 0) return yield* this.forkFailed(pid);
    yield* jobParentSetup(this, pid, job);
    return (this.status = yield* this.waitJob([pid], job));
  }

  /** exec [command [args]]: redirections stay; with a command, the shell is replaced. */
  private *execBuiltin(argv: string[], redirs: readonly Redir[]): ShellGen {
    if (!(yield* this.redirect(redirs, null))) return 1;
    if (argv.length === 1) return 0;
    return yield* this.execCommand(argv.slice(1));
  }

  /** In a child (or exec): finds and executes argv[0]; returns 126/127 when it cannot. */
  *execCommand(argv: readonly string[]): ShellGen {
    const name = argv[0]!;
    const path = yield* this.lookPath(name);
    if (path === undefined) {
      yield* this.c.err(`sh: ${name}: not found\n`);
      return 127;
    }
    const env = this.environment();
    const r = yield* this.c.execve(path, argv, env);
    if (r === -ENOEXEC) {
      // A file without a known magic: run it as a shell script (XCU 2.9.1.1).
      const text = yield* this.c.readFile(path);
      if (typeof text !== 'number') {
        this.name = path;
        this.positional = argv.slice(1);
        return yield* this.runGuardedSource(new TextDecoder().decode(text), path);
      }
    }
    yield* this.c.err(`sh: ${name}: ${strerror(r)}\n`);
    return r === -ENOENT ? 127 : 126;
  }

  *runGuardedSource(src: string, where: string): ShellGen {
    try {
      return yield* this.runSource(src, where);
    } catch (e) {
      if (e instanceof ReturnControl) return e.status;
      if (e instanceof LoopControl) return this.status;
      throw e;
    }
  }

  /** PATH search (XCU 2.9.1.1 e): the first regular file with an execute bit. */
  *lookPath(name: string): ShellGen<string | undefined> {
    if (name.includes('/')) return name;
    const cached = this.pathCache.get(name);
    if (cached !== undefined) return cached;
    const dirs = (this.getVar('PATH') ?? DEFAULT_PATH).split(':');
    for (const d of dirs) {
      const p = `${d === '' ? '.' : d}/${name}`;
      const st = yield* this.c.stat(p);
      if (typeof st === 'number') continue;
      if (((st['st_mode'] as number) & S_IFMT) === S_IFREG) {
        this.pathCache.set(name, p);
        return p;
      }
    }
    return undefined;
  }

  // ---- redirection (XCU 2.7) ----

  /** Runs `body` with `redirs` applied, then restores the shell's descriptors. */
  *withRedirs(redirs: readonly Redir[], body: () => ShellGen): ShellGen {
    if (redirs.length === 0) return yield* body();
    const saved: [number, number][] = [];
    yield* this.c.flushAll();
    if (!(yield* this.redirect(redirs, saved))) {
      yield* this.restore(saved);
      return 1;
    }
    let s: number;
    try {
      s = yield* body();
    } catch (e) {
      // Only the shell's own control flow passes through with descriptors restored;
      // a kernel unwind (exit, exec) must not run more system calls on its way out.
      if (e instanceof LoopControl || e instanceof ReturnControl || e instanceof ExpansionError || e instanceof InterruptControl) {
        yield* this.c.flushAll();
        yield* this.restore(saved);
      }
      throw e;
    }
    yield* this.c.flushAll();
    yield* this.restore(saved);
    return s;
  }

  private *restore(saved: [number, number][]): ShellGen<void> {
    for (let i = saved.length - 1; i >= 0; i--) {
      const [fd, copy] = saved[i]!;
      if (copy >= 0) {
        yield* this.c.dup2(copy, fd);
        yield* this.c.close(copy);
      } else yield* this.c.close(fd);
    }
  }

  /** Applies `redirs`; when `saved` is given, remembers each replaced descriptor. False on error (message printed). */
  *redirect(redirs: readonly Redir[], saved: [number, number][] | null): ShellGen<boolean> {
    for (const r of redirs) {
      if (saved !== null && !saved.some(([fd]) => fd === r.fd)) {
        const copy = yield* this.c.fcntl(r.fd, F_DUPFD_CLOEXEC, 10);
        saved.push([r.fd, copy === -EBADF ? -1 : copy]);
      }
      let target: string;
      try {
        target = r.op === '<<' || r.op === '<<-' ? '' : yield* this.expandString(r.target);
      } catch (e) {
        if (!(e instanceof ExpansionError)) throw e;
        yield* this.c.err(`sh: ${e.message}\n`);
        return false;
      }
      let fd: number;
      switch (r.op) {
        case '<':
          fd = yield* this.c.open(target, O_RDONLY);
          break;
        case '>':
        case '>|':
          fd = yield* this.c.open(target, O_WRONLY | O_CREAT | O_TRUNC, 0o666);
          break;
        case '>>':
          fd = yield* this.c.open(target, O_WRONLY | O_CREAT | O_APPEND, 0o666);
          break;
        case '<>':
          fd = yield* this.c.open(target, O_RDWR | O_CREAT, 0o666);
          break;
        case '<&':
        case '>&': {
          if (target === '-') {
            yield* this.c.close(r.fd);
            continue;
          }
          if (!/^[0-9]+$/.test(target)) {
            yield* this.c.err(`sh: ${target}: bad file descriptor\n`);
            return false;
          }
          const d = yield* this.c.dup2(Number(target), r.fd);
          if (d < 0) {
            yield* this.c.err(`sh: ${target}: ${strerror(d)}\n`);
            return false;
          }
          continue;
        }
        default:
          fd = yield* this.heredocFd(r);
          target = 'here-document';
      }
      if (fd < 0) {
        yield* this.c.err(`sh: ${target}: ${strerror(fd)}\n`);
        return false;
      }
      if (fd !== r.fd) {
        yield* this.c.dup2(fd, r.fd);
        yield* this.c.close(fd);
      }
    }
    return true;
  }

  /** A here-document's body in an unlinked temporary file, opened for reading. */
  private *heredocFd(r: Redir): ShellGen {
    const text = r.heredoc ? yield* this.expandString(r.heredoc) : '';
    const path = `/tmp/.sh-heredoc-${yield* this.c.getpid()}-${this.heredocSeq++}`;
    const w = yield* this.c.writeFile(path, text, O_WRONLY | O_CREAT | O_TRUNC, 0o600);
    if (w < 0) return w;
    const fd = yield* this.c.open(path, O_RDONLY);
    yield* this.c.unlink(path);
    return fd;
  }

  // ---- expansion (XCU 2.6) ----

  /** Word expansion with field splitting and pathname expansion: zero or more fields. */
  *expandWord(w: Word): ShellGen<string[]> {
    const fields: Field[] = [{ pieces: [], present: false }];
    const cur = (): Field => fields[fields.length - 1]!;
    const ifs = this.getVar('IFS') ?? ' \t\n';
    for (const p of w.parts) {
      if (p.t === 'lit') {
        cur().pieces.push({ s: p.s, q: p.q });
        cur().present = true;
        continue;
      }
      if (p.t === 'param' && (p.name === '@' || p.name === '*') && p.op === '') {
        const items = this.positional;
        if (p.q && p.name === '@') {
          // "$@": one field per positional parameter.
          items.forEach((it, i) => {
            if (i > 0) fields.push({ pieces: [], present: false });
            cur().pieces.push({ s: it, q: true });
            cur().present = true;
          });
          continue;
        }
        if (p.q) {
          cur().pieces.push({ s: items.join(ifs[0] ?? ''), q: true });
          cur().present = true;
          continue;
        }
      }
      const value = yield* this.expandPart(p);
      if (p.q) {
        cur().pieces.push({ s: value, q: true });
        cur().present = true;
        continue;
      }
      // Unquoted expansion: split on IFS (XCU 2.6.5), treating every IFS character as a separator run.
      if (ifs === '') {
        cur().pieces.push({ s: value, q: true });
        if (value !== '') cur().present = true;
        continue;
      }
      let i = 0;
      const isSep = (ch: string): boolean => ifs.includes(ch);
      while (i < value.length) {
        if (isSep(value[i]!)) {
          while (i < value.length && isSep(value[i]!)) i++;
          if (cur().present) fields.push({ pieces: [], present: false });
          continue;
        }
        let j = i;
        while (j < value.length && !isSep(value[j]!)) j++;
        // Expanded text is not re-parsed, but its glob characters are active when unquoted.
        cur().pieces.push({ s: value.slice(i, j), q: false });
        cur().present = true;
        i = j;
      }
    }
    const out: string[] = [];
    for (const f of fields) {
      if (!f.present) continue;
      const text = f.pieces.map((x) => x.s).join('');
      if (!this.opts.noglob && hasGlob(f.pieces)) {
        const matches = yield* this.glob(f.pieces);
        if (matches.length > 0) {
          out.push(...matches);
          continue;
        }
      }
      out.push(text);
    }
    return out;
  }

  /** Expansion without field splitting or globbing (assignments, redirections, case words). */
  *expandString(w: Word): ShellGen<string> {
    let s = '';
    for (const p of w.parts) s += p.t === 'lit' ? p.s : yield* this.expandPart(p);
    return s;
  }

  /** A case pattern: expansions are taken literally only when quoted. */
  private *expandPattern(w: Word): ShellGen<PatternPiece[]> {
    const out: PatternPiece[] = [];
    for (const p of w.parts) out.push({ s: p.t === 'lit' ? p.s : yield* this.expandPart(p), q: p.q });
    return out;
  }

  private *expandPart(p: Part): ShellGen<string> {
    switch (p.t) {
      case 'lit':
        return p.s;
      case 'arith': {
        const text = yield* this.expandString({ parts: arithParts(p.expr) });
        try {
          return evalArith(text, { get: (n) => this.getVar(n), set: (n, v) => this.setVar(n, v) }).toString();
        } catch (e) {
          if (e instanceof ArithError) throw new ExpansionError(`arithmetic expression: ${e.message}: "${p.expr}"`, 2);
          throw e;
        }
      }
      case 'cmd':
        return yield* this.commandSubst(p.body);
      case 'param':
        return yield* this.expandParam(p.name, p.op, p.arg);
    }
  }

  private special(name: string): string | undefined {
    switch (name) {
      case '?':
        return String(this.status);
      case '$':
        return String(this.pid);
      case '#':
        return String(this.positional.length);
      case '!':
        return this.lastBg ? String(this.lastBg) : '';
      case '@':
      case '*':
        return this.positional.join(' ');
      case '-':
        return (this.opts.errexit ? 'e' : '') + (this.opts.xtrace ? 'x' : '') + (this.opts.noglob ? 'f' : '') + (this.interactive ? 'i' : '');
      case '0':
        return this.name;
    }
    if (/^[0-9]+$/.test(name)) return this.positional[Number(name) - 1];
    return this.getVar(name);
  }

  private *expandParam(name: string, op: string, arg: readonly Part[]): ShellGen<string> {
    const v = this.special(name);
    const argText = (): ShellGen<string> => this.expandString({ parts: arg });
    switch (op) {
      case '':
        return v ?? '';
      case '#':
        return String((v ?? '').length);
      case ':-':
        return v === undefined || v === '' ? yield* argText() : v;
      case '-':
        return v === undefined ? yield* argText() : v;
      case ':=':
      case '=':
        if (v === undefined || (op === ':=' && v === '')) {
          const d = yield* argText();
          if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new ExpansionError(`${name}: cannot assign in this way`);
          this.setVar(name, d);
          return d;
        }
        return v;
      case ':+':
        return v === undefined || v === '' ? '' : yield* argText();
      case '+':
        return v === undefined ? '' : yield* argText();
      default: {
        if (v === undefined || (op === ':?' && v === '')) {
          const msg = yield* argText();
          throw new ExpansionError(`${name}: ${msg || 'parameter not set'}`);
        }
        return v;
      }
    }
  }

  /** $(list): runs `body` in a child with stdout on a pipe; the output minus trailing newlines. */
  private *commandSubst(body: Node): ShellGen<string> {
    const p = yield* this.c.pipe2(O_CLOEXEC);
    if (typeof p === 'number') throw new ExpansionError(`pipe: ${strerror(p)}`);
    const [r, w] = p;
    const snap = this.snapshot();
    const pid = yield* this.c.fork(function* substitution(cl) {
      const sh = snap(cl);
      yield* cl.dup2(w, 1);
      yield* cl.close(w);
      yield* cl.close(r);
      return yield* sh.runGuarded(body);
    });
    yield* this.c.close(w);
    if (pid < 0) {
      yield* this.c.close(r);
      throw new ExpansionError(`fork: ${strerror(pid)}`);
    }
    const data = yield* this.c.readAll(r);
    yield* this.c.close(r);
    this.status = this.substStatus = yield* this.waitFor(pid);
    const text = typeof data === 'number' ? '' : new TextDecoder().decode(data);
    return text.replace(/\n+$/, '');
  }

  /** Pathname expansion (XCU 2.13.3) over the directory tree, one component at a time. */
  private *glob(pieces: readonly PatternPiece[]): ShellGen<string[]> {
    // Split the pieces into path components at unquoted and quoted "/".
    const comps: PatternPiece[][] = [[]];
    for (const p of pieces) {
      const segs = p.s.split('/');
      segs.forEach((seg, i) => {
        if (i > 0) comps.push([]);
        if (seg !== '') comps[comps.length - 1]!.push({ s: seg, q: p.q });
      });
    }
    const absolute = comps[0]!.length === 0 && comps.length > 1;
    let bases: string[] = [absolute ? '/' : ''];
    for (let ci = absolute ? 1 : 0; ci < comps.length; ci++) {
      const comp = comps[ci]!;
      const last = ci === comps.length - 1;
      const next: string[] = [];
      if (comp.length === 0) {
        if (last) for (const b of bases) next.push(b);
        bases = next;
        continue;
      }
      if (!hasGlob(comp)) {
        const name = comp.map((x) => x.s).join('');
        for (const b of bases) next.push(b + name + (last ? '' : '/'));
        bases = next;
        continue;
      }
      const re = patternToRegExp(comp, true);
      const dotOk = comp[0]!.s.startsWith('.');
      for (const b of bases) {
        const ents = yield* this.c.readdir(b === '' ? '.' : b);
        if (typeof ents === 'number') continue;
        const names = ents.map((e) => e.name).filter((n) => n !== '.' && n !== '..' && (dotOk || !n.startsWith('.')) && re.test(n));
        names.sort();
        for (const n of names) next.push(b + n + (last ? '' : '/'));
      }
      bases = next;
    }
    if (comps.length > 1) {
      // Keep only paths that exist when the last component was literal.
      const out: string[] = [];
      for (const b of bases) {
        const st = yield* this.c.stat(b);
        if (typeof st !== 'number') out.push(b);
      }
      return out;
    }
    return bases;
  }
}

/** Parses arithmetic text for $name, ${...} and $(...) as a double-quoted string would. */
function arithParts(expr: string): Part[] {
  try {
    const tree = parse(`: "${expr.replace(/["\\]/g, '\\$&')}"`);
    if (tree.type === 'list' && tree.items[0]?.node.type === 'simple') return [...tree.items[0].node.words[1]!.parts];
  } catch {
    // fall through: take the text as it is
  }
  return [{ t: 'lit', s: expr, q: true }];
}

