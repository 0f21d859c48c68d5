// init, PID 1: starts the image's workload and powers the machine off when it ends.
//   /script    (the `--script FILE` of `svasoc boot`)   -> /bin/sh /script
//   /init      when it is a shell script                 -> /bin/sh /init
//   /etc/rc                                              -> /bin/sh /etc/rc
//   otherwise, or with the argument "-i"/"interactive"   -> /bin/sh -i (a prompt on the console)
// The prompt's shell leads a session whose controlling terminal is the console, as
// busybox's cttyhack arranges: setsid, the terminal device itself (/dev/ttyAMA0, not
// /dev/console, whose opens are exempt from job control) on fds 0-2, TIOCSCTTY. Scripts
// keep /dev/console and no controlling terminal.
// It reaps every orphan reparented to it (wait4(-1)), and when the workload exits it
// exits with the workload's status (128+N for a signal): the kernel powers the
// machine off with init's exit code, which becomes the emulator's exit status.

import type { Libc } from '../libc/libc.js';
import { EXEC_MAGIC } from '../../arch/index.js';
import { strerror, ECHILD } from '../libc/errno.js';
import { O_RDWR, TIOCSCTTY, WNOHANG } from '../libc/uapi.js';
import { statusOfWait } from './sh/shell.js';

/** The console's terminal device (the UART: console=ttyAMA0). */
const CONSOLE_TTY = '/dev/ttyAMA0';

const INIT_ENV = ['PATH=/bin:/sbin:/usr/bin:/usr/sbin', 'HOME=/root', 'TERM=linux', 'SHELL=/bin/sh', 'PWD=/'];

function* isShellScript(c: Libc, path: string): Generator<unknown, boolean, unknown> {
  const fd = yield* c.open(path, 0);
  if (fd < 0) return false;
  const head = yield* c.read(fd, 64);
  yield* c.close(fd);
  if (typeof head === 'number' || head.length < 2 || head[0] !== 0x23 || head[1] !== 0x21) return false;
  return !new TextDecoder().decode(head).startsWith(EXEC_MAGIC);
}

function* exists(c: Libc, path: string): Generator<unknown, boolean, unknown> {
  return typeof (yield* c.stat(path)) !== 'number';
}

/** The command line init runs, by the convention above. */
export function* chooseWorkload(c: Libc, interactive: boolean): Generator<unknown, string[], unknown> {
  if (interactive) return ['/bin/sh', '-i'];
  if (yield* exists(c, '/script')) return ['/bin/sh', '/script'];
  if (yield* isShellScript(c, '/init')) return ['/bin/sh', '/init'];
  if (yield* exists(c, '/etc/rc')) return ['/bin/sh', '/etc/rc'];
  return ['/bin/sh', '-i'];
}

/** cttyhack: the console's terminal as fds 0-2 and the controlling terminal of this session (its leader). */
function* takeConsole(c: Libc): Generator<unknown, void, unknown> {
  const fd = yield* c.open(CONSOLE_TTY, O_RDWR);
  if (fd >= 0) {
    for (let i = 0; i <= 2; i++) if (fd !== i) yield* c.dup2(fd, i);
    if (fd > 2) yield* c.close(fd);
  }
  const r = yield* c.ioctl(0, TIOCSCTTY, 0);
  if (r < 0) yield* c.err(`init: ${fd < 0 ? CONSOLE_TTY : 'TIOCSCTTY'}: ${strerror(fd < 0 ? fd : r)}\n`);
}

export function* initMain(c: Libc, argv: string[]): Generator<unknown, number, unknown> {
  c.progname = 'init';
  const interactive = argv.slice(1).some((a) => a === '-i' || a === 'interactive' || a === 'single');
  const cmd = yield* chooseWorkload(c, interactive);
  const env = [...INIT_ENV, ...c.environ.filter((e) => !INIT_ENV.some((d) => d.split('=')[0] === e.split('=')[0]))];
  yield* c.chdir('/');
  const pid = yield* c.fork(function* workload(cl) {
    yield* cl.setsid();
    if (cmd[1] === '-i') yield* takeConsole(cl);
    const r = yield* cl.execve(cmd[0]!, cmd, env);
    yield* cl.err(`init: cannot run ${cmd.join(' ')}: ${strerror(r)}\n`);
    return 127;
  });
  let status = 1;
  if (pid < 0) yield* c.err(`init: fork: ${strerror(pid)}\n`);
  else {
    for (;;) {
      const r = yield* c.wait4(-1, 0);
      if (typeof r === 'number') {
        if (r === -ECHILD) break;
        continue;
      }
      if (r.pid === pid) {
        status = statusOfWait(r.status);
        break;
      }
    }
  }
  // Reap what is left without blocking: orphans still running die with the machine.
  for (;;) {
    const r = yield* c.wait4(-1, WNOHANG);
    if (typeof r === 'number' || r.pid === 0) break;
  }
  // init's exit is the power-off (kernel do_exit for PID 1) and carries the status;
  // reboot(POWER_OFF) would lose it where the kernel ignores reboot's arg.
  return status;
}
