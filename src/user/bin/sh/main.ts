// sh [-ex] [-c command [name [arg...]] | file [arg...]]: runs a script, a command
// string, standard input, or (when stdin is a terminal) an interactive session with
// the prompt "# " (root) or "$ ".

import type { Libc } from '../../libc/libc.js';
import { strerror } from '../../libc/errno.js';
import { Shell, type ShellGen } from './shell.js';
import { parse, ParseError } from './parse.js';
import { InterruptControl, enableJobControl, readPromptLine } from './jobctl.js';

export function* shMain(c: Libc, argv: string[]): ShellGen {
  c.progname = 'sh';
  const pid = yield* c.getpid();
  if (pid === 1) {
    // The kernel ran a "#!/bin/sh" /init as PID 1: let init own that role (it runs
    // the script as its child, reaps orphans and powers off with the script's status).
    const r = yield* c.execve('/sbin/init', ['init', ...argv.slice(1)]);
    yield* c.err(`sh: cannot exec /sbin/init: ${strerror(r)}; running as PID 1\n`);
  }
  let command: string | undefined;
  let interactiveFlag = false;
  const opts = { errexit: false, xtrace: false };
  let i = 1;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      i++;
      break;
    }
    if (a === '-c') {
      command = argv[++i];
      if (command === undefined) {
        yield* c.err('sh: -c: option requires an argument\n');
        return 2;
      }
      i++;
      break;
    }
    if (/^-[exis]+$/.test(a)) {
      for (const f of a.slice(1)) {
        if (f === 'e') opts.errexit = true;
        else if (f === 'x') opts.xtrace = true;
        else if (f === 'i') interactiveFlag = true;
      }
      continue;
    }
    break;
  }
  const rest = argv.slice(i);
  let sh: Shell;
  if (command !== undefined) {
    sh = new Shell(c, rest[0] ?? argv[0] ?? 'sh', rest.slice(1));
  } else if (rest.length > 0) {
    sh = new Shell(c, rest[0]!, rest.slice(1));
  } else sh = new Shell(c, argv[0] ?? 'sh', []);
  sh.pid = pid;
  sh.opts.errexit = opts.errexit;
  sh.opts.xtrace = opts.xtrace;

  if (command !== undefined) return yield* sh.runGuardedSource(command, 'sh');
  if (rest.length > 0) {
    const text = yield* c.readFile(rest[0]!);
    if (typeof text === 'number') {
      yield* c.err(`sh: ${rest[0]}: ${strerror(text)}\n`);
      return 127;
    }
    return yield* sh.runGuardedSource(new TextDecoder().decode(text), rest[0]!);
  }
  if (interactiveFlag || (yield* c.isatty(0))) return yield* interactive(sh);
  const all = yield* c.stdin.readAll();
  if (typeof all === 'number') return 1;
  return yield* sh.runGuardedSource(new TextDecoder().decode(all), 'sh');
}

/**
 * The read-eval loop on a terminal: PS1, continuation lines with PS2, EOF ends. With job
 * control (jobctl.ts), ^C at the prompt drops the lines typed so far and prompts again,
 * and a command line that ^C interrupted ends with $? = 130.
 */
function* interactive(sh: Shell): ShellGen {
  sh.interactive = true;
  const c = sh.c;
  // A login-style start: /etc/profile sets PS1, PATH and the like when the image has one.
  const profile = yield* c.readFile('/etc/profile');
  if (typeof profile !== 'number') yield* sh.runGuardedSource(new TextDecoder().decode(profile), '/etc/profile');
  const root = (yield* c.geteuid()) === 0;
  yield* enableJobControl(sh);
  const jc = sh.jobctl;
  let pending = '';
  for (;;) {
    yield* c.out(pending === '' ? (sh.getVar('PS1') ?? (root ? '# ' : '$ ')) : (sh.getVar('PS2') ?? '> '));
    yield* c.stdout.flush();
    const line = jc === null ? yield* c.stdin.readLine() : yield* readPromptLine(c, jc);
    if (line === 'interrupt') {
      jc!.intPending = false;
      pending = '';
      sh.status = 130;
      continue;
    }
    if (line === null) {
      yield* c.out('\n');
      return sh.status;
    }
    pending += line.endsWith('\n') ? line : line + '\n';
    try {
      parse(pending);
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      if (e.incomplete) continue;
    }
    const src = pending;
    pending = '';
    try {
      yield* sh.runGuardedSource(src, 'sh');
    } catch (e) {
      if (!(e instanceof InterruptControl)) throw e;
      jc!.intPending = false;
      sh.status = 130;
    }
    yield* c.flushAll();
  }
}
