// Job control of the interactive shell (XCU 2.11; ash's setjobctl, forkchild and
// forkparent in behaviour). It is on when the shell is interactive and can open its
// controlling terminal (/dev/tty) while in the terminal's foreground process group;
// otherwise the shell says so and its commands stay in its process group, as before.
//
// The shell ignores SIGQUIT, SIGTERM, SIGTSTP, SIGTTIN and SIGTTOU and catches SIGINT
// (without SA_RESTART, so a read at the prompt or a wait returns EINTR): ^C at the prompt
// drops the line being typed and gives a new prompt with $? = 130. Its children put these
// signals back to the default before running anything (an ignored signal would otherwise
// stay ignored across exec); `trap - SIG` in the shell puts back these actions, not
// SIG_DFL (ash's setsignal for an interactive shell). This kernel has no stopped state,
// so there is no ^Z, bg or fg.

import type { Libc } from '../../libc/libc.js';
import { EINTR } from '../../libc/errno.js';
import { F_DUPFD_CLOEXEC, O_CLOEXEC, O_RDWR, SIGINT, SIGQUIT, SIGTERM, SIGTSTP, SIGTTIN, SIGTTOU, SIG_DFL, SIG_IGN } from '../../libc/uapi.js';
import type { SignalHandler } from '../../libc/signal.js';
import type { Shell, ShellGen } from './shell.js';

/** A ^C (SIGINT) interrupts the command line being run: the interactive loop catches this. */
export class InterruptControl {}

export interface JobControl {
  /** The controlling terminal, on a close-on-exec descriptor >= 10. */
  readonly ttyfd: number;
  /** The shell's own process group, given the terminal back after each foreground job. */
  readonly pgrp: number;
  /** A SIGINT reached the shell and has not been acted on. */
  intPending: boolean;
}

/** The process group a forked child joins (0: its own, named after it) and whether it gets the terminal. */
export interface JobSpec {
  readonly pgid: number;
  readonly foreground: boolean;
  readonly ttyfd: number;
}

/** Signals the shell ignores for itself while doing job control. */
const IGNORED = [SIGQUIT, SIGTERM, SIGTSTP, SIGTTIN, SIGTTOU];

/**
 * Turns job control on for `sh` (interactive): the terminal, the shell as a process group
 * of its own in the foreground, the signal actions above. False (with ash's message) when
 * there is no controlling terminal or the shell is not in its foreground.
 */
export function* enableJobControl(sh: Shell): ShellGen<boolean> {
  const c = sh.c;
  const fd = yield* c.open('/dev/tty', O_RDWR | O_CLOEXEC);
  let ttyfd = -1;
  if (fd >= 0) {
    ttyfd = yield* c.fcntl(fd, F_DUPFD_CLOEXEC, 10);
    yield* c.close(fd);
  }
  const me = yield* c.getpid();
  const pgrp = ttyfd >= 0 ? yield* c.getpgid(0) : -1;
  if (ttyfd < 0 || (yield* c.tcgetpgrp(ttyfd)) !== pgrp) {
    if (ttyfd >= 0) yield* c.close(ttyfd);
    yield* c.err("sh: can't access tty; job control turned off\n");
    return false;
  }
  for (const s of IGNORED) {
    yield* c.sigaction(s, SIG_IGN);
    sh.traps.shellDefaults.set(s, SIG_IGN);
  }
  // The shell leads a group of its own (a session leader already does).
  if (pgrp !== me) {
    yield* c.setpgid(0, me);
    yield* c.tcsetpgrp(ttyfd, me);
  }
  const jc: JobControl = { ttyfd, pgrp: me, intPending: false };
  const owner = me;
  const onint: SignalHandler = function* onint(sig) {
    // A child that has not yet reset its actions takes the default, as it would have.
    if ((yield* c.getpid()) !== owner) {
      yield* c.sigaction(sig, SIG_DFL);
      yield* c.raise(sig);
      return;
    }
    jc.intPending = true;
  };
  yield* c.sigaction(SIGINT, onint);
  sh.traps.shellDefaults.set(SIGINT, onint);
  sh.jobctl = jc;
  sh.shellSigs = [SIGINT, ...IGNORED];
  return true;
}

/** In a forked child: its process group and, for a foreground job, the terminal; then the default signal actions. */
export function* jobChildSetup(sh: Shell, job: JobSpec | null): ShellGen<void> {
  const c = sh.c;
  if (job !== null) {
    yield* c.setpgid(0, job.pgid);
    if (job.foreground) yield* c.tcsetpgrp(job.ttyfd, job.pgid === 0 ? yield* c.getpid() : job.pgid);
  }
  for (const s of sh.shellSigs) if (!sh.traps.cmds.has(s)) yield* c.sigaction(s, SIG_DFL);
  sh.shellSigs = [];
}

/**
 * In the shell after forking `pid`: the same process group from this side, so the job is
 * in it whichever of the two runs first. An error (the child already exec'd or exited) is
 * expected and ignored, as ash does.
 */
export function* jobParentSetup(sh: Shell, pid: number, job: JobSpec | null): ShellGen<void> {
  if (job === null) return;
  yield* sh.c.setpgid(pid, job.pgid === 0 ? pid : job.pgid);
}

/**
 * One line typed at the prompt: the line with its "\n", null at end of input, or
 * 'interrupt' when ^C came while waiting (the terminal already dropped what was typed).
 */
export function* readPromptLine(c: Libc, jc: JobControl): ShellGen<string | null | 'interrupt'> {
  const parts: Uint8Array[] = [];
  for (;;) {
    if (jc.intPending) return 'interrupt';
    const r = yield* c.read(0, 4096);
    if (typeof r === 'number') {
      if (jc.intPending) return 'interrupt';
      if (r === -EINTR) continue;
      return null;
    }
    if (r.length === 0) return parts.length === 0 ? null : decode(parts);
    parts.push(r);
    if (r[r.length - 1] === 0x0a) return decode(parts);
  }
}

function decode(parts: readonly Uint8Array[]): string {
  const d = new TextDecoder();
  return parts.map((p) => d.decode(p)).join('');
}
