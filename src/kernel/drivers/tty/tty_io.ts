// The console tty (drivers/tty/tty_io.c, tty_jobctrl.c, n_tty.c in shape): one terminal
// on the UART, reachable as /dev/console, /dev/tty and /dev/ttyAMA0. Output goes to the
// console drivers; input arrives from the UART RX interrupt and is cooked by a small line
// discipline (ICANON with ECHO, ^D ends input) unless a program switches ICANON off.
//
// Job control (tty_jobctrl.c): the tty is the controlling terminal of at most one session
// (`session`, with its foreground process group `pgrp`); a process's controlling tty is
// signal.tty. A session leader acquires it with TIOCSCTTY, or by opening /dev/ttyAMA0
// without O_NOCTTY while it has none (opens of /dev/console and /dev/tty never acquire);
// TIOCNOTTY and the leader's exit give it up (the leader's exit sends SIGHUP to the
// foreground group). With ISIG, the VINTR and VQUIT characters send SIGINT and SIGQUIT to
// the foreground process group. This kernel has no stopped state (stop signals are
// ignored, kernel/signal.ts), so VSUSP (^Z) is disabled and a background process that
// reads the terminal, or that changes its settings while SIGTTOU is at its default, gets
// -EIO where Linux would stop it; one with a SIGTTIN/SIGTTOU handler gets the signal and
// the call restarts, as in Linux. Files opened as /dev/console are exempt from these
// background checks, as Linux's redirected console writes are. Not modelled: the hangup
// of the tty's open files when the session leader exits (tty_vhangup_session).

import { console_write } from '../../lib/printk.js';
import { SIGHUP, SIGINT, SIGQUIT, SIG_DFL, SIG_IGN, CAP_SYS_ADMIN, has_capability, type TaskStruct } from '../../sched/task.js';
import { send_sig, sigmask } from '../../kernel/signal.js';
import { tasks_by_pid } from '../../kernel/pid.js';
import { register_exit_hook } from '../../kernel/exit.js';
import { current } from '../../sched/core.js';
import { WaitQueueHead, wait_event_interruptible, wake_up_interruptible } from '../../sched/wait.js';
import { EAGAIN, EFAULT, EIO, ENOTTY, ENXIO, EPERM, ERESTARTSYS, ESRCH, EINVAL } from '../../lib/errno.js';
import { copy_from_user, copy_to_user, get_user, put_user } from '../../lib/uaccess.js';
import { register_chrdev, devnode_create, TTYAUX_MAJOR, AMBA_MAJOR } from '../../fs/char_dev.js';
import { EPOLLIN, EPOLLOUT, EPOLLRDNORM, EPOLLWRNORM, FMODE_READ, MKDEV, O_NOCTTY, O_NONBLOCK, S_IFCHR, poll_wait, type File, type FileOperations, type Inode, type Kiocb, type PollTable } from '../../fs/types.js';
import type { IovIter } from '../../fs/iov_iter.js';

// termios ioctls (include/uapi/asm-generic/ioctls.h)
export const TCGETS = 0x5401;
export const TCSETS = 0x5402;
export const TCSETSW = 0x5403;
export const TCSETSF = 0x5404;
export const TIOCSCTTY = 0x540e;
export const TIOCGPGRP = 0x540f;
export const TIOCSPGRP = 0x5410;
export const TIOCGWINSZ = 0x5413;
export const TIOCSWINSZ = 0x5414;
export const TIOCNOTTY = 0x5422;
export const TIOCGSID = 0x5429;
// c_lflag bits
export const ISIG = 0o1;
export const ICANON = 0o2;
export const ECHO = 0o10;
export const NOFLSH = 0o200;
export const TOSTOP = 0o400;
// c_cc indices (asm-generic/termbits.h)
const VINTR = 0;
const VQUIT = 1;
const SIGTTIN = 21;
const SIGTTOU = 22;

/** struct termios (asm-generic): c_iflag, c_oflag, c_cflag, c_lflag, c_line, c_cc[19]: 36 bytes. */
const TERMIOS_SIZE = 36;

class Tty {
  /** Cooked input ready for read(). */
  read_buf: number[] = [];
  /** The line being edited (canonical mode). */
  line: number[] = [];
  eof = 0;
  readonly read_wait = new WaitQueueHead('tty_read');
  termios = new Uint8Array(TERMIOS_SIZE);
  /** tty->ctrl.session: the session this is the controlling terminal of (0: none). */
  session = 0;
  /** tty->ctrl.pgrp: the foreground process group (0: none). */
  pgrp = 0;
  rows = 24;
  cols = 80;
  constructor() {
    const v = new DataView(this.termios.buffer);
    v.setUint32(0, 0o2400, true); // ICRNL | IXON
    v.setUint32(4, 0o5, true); // OPOST | ONLCR
    v.setUint32(8, 0o277, true); // B38400 | CS8 | CREAD
    v.setUint32(12, ISIG | ICANON | ECHO | 0o20 | 0o40 | 0o1000 | 0o4000 | 0o100000, true);
    this.termios[17 + VINTR] = 3; // ^C
    this.termios[17 + VQUIT] = 0x1c; // ^\
    this.termios[17 + 4] = 4; // VEOF ^D
    this.termios[17 + 2] = 0x7f; // VERASE
  }
  get lflag(): number {
    return new DataView(this.termios.buffer).getUint32(12, true);
  }
}

let tty = new Tty();

export function tty_init(): void {
  tty = new Tty();
  if (!exitHookRegistered) {
    register_exit_hook(tty_exit_hook);
    exitHookRegistered = true;
  }
  register_chrdev(TTYAUX_MAJOR, 0, 2, '/dev/tty', tty_fops);
  register_chrdev(AMBA_MAJOR, 64, 1, 'ttyAMA', tty_fops);
  devnode_create('tty', MKDEV(TTYAUX_MAJOR, 0), S_IFCHR | 0o666);
  devnode_create('console', MKDEV(TTYAUX_MAJOR, 1), S_IFCHR | 0o600);
  devnode_create('ttyAMA0', MKDEV(AMBA_MAJOR, 64), S_IFCHR | 0o620);
}

function echo(bytes: number[]): void {
  if (tty.lflag & ECHO) console_write(String.fromCharCode(...bytes));
}

/** n_tty isig: the signal to the foreground process group, the pending input flushed (unless NOFLSH), the character echoed as ^X. */
function isig(sig: number, c: number): void {
  if (tty.pgrp !== 0) kill_pgrp(tty.pgrp, sig);
  if (!(tty.lflag & NOFLSH)) {
    tty.line = [];
    tty.read_buf = [];
  }
  echo([0x5e, c + 0x40, 0x0a]);
}

/** kill_pgrp(pgrp, sig, priv = 1): every process of the group, SI_KERNEL. */
function kill_pgrp(pgrp: number, sig: number): void {
  for (const t of tasks_by_pid()) if (t.pgid === pgrp && t.pid === t.tgid && t.exit_state === 0) send_sig(sig, t, true);
}

/** tty_receive_buf: characters from the UART RX interrupt (IRQ context). */
export function tty_receive(chars: Uint8Array): void {
  const canon = (tty.lflag & ICANON) !== 0;
  for (const raw of chars) {
    const c = raw === 0x0d ? 0x0a : raw;
    if (tty.lflag & ISIG && c !== 0) {
      const sig = c === tty.termios[17 + VINTR] ? SIGINT : c === tty.termios[17 + VQUIT] ? SIGQUIT : 0;
      if (sig !== 0) {
        isig(sig, c);
        continue;
      }
    }
    if (!canon) {
      tty.read_buf.push(c);
      echo([c]);
      continue;
    }
    if (c === 0x7f || c === 0x08) {
      if (tty.line.length > 0) {
        tty.line.pop();
        echo([0x08, 0x20, 0x08]);
      }
      continue;
    }
    if (c === 4) {
      if (tty.line.length === 0) tty.eof++;
      tty.read_buf.push(...tty.line);
      tty.line = [];
      continue;
    }
    tty.line.push(c);
    echo([c]);
    if (c === 0x0a) {
      tty.read_buf.push(...tty.line);
      tty.line = [];
    }
  }
  wake_up_interruptible(tty.read_wait);
}

function* tty_read(iocb: Kiocb, to: IovIter): Generator<unknown, number, unknown> {
  const file = iocb.ki_filp;
  for (;;) {
    // n_tty job_control: checked before reading and after every sleep.
    if (!is_console_file(file)) {
      const jc = tty_check_change(SIGTTIN);
      if (jc < 0) return jc;
    }
    if (tty.read_buf.length > 0) break;
    if (tty.eof > 0) {
      tty.eof--;
      return 0;
    }
    if (file.f_flags & O_NONBLOCK) return -EAGAIN;
    const r = yield* wait_event_interruptible(tty.read_wait, () => tty.read_buf.length > 0 || tty.eof > 0);
    if (r < 0) return -ERESTARTSYS;
  }
  // Canonical reads return at most one line.
  let n = Math.min(to.count, tty.read_buf.length);
  if (tty.lflag & ICANON) {
    const nl = tty.read_buf.indexOf(0x0a);
    if (nl >= 0) n = Math.min(n, nl + 1);
  }
  const chunk = Uint8Array.from(tty.read_buf.slice(0, n));
  const c = to.copy_to_iter(chunk, 0, n);
  tty.read_buf.splice(0, c);
  if (c === 0 && to.faulted) return -EFAULT;
  return c;
}

const dec = new TextDecoder();

function* tty_write(iocb: Kiocb, from: IovIter): Generator<unknown, number, unknown> {
  if (tty.lflag & TOSTOP && !is_console_file(iocb.ki_filp)) {
    const jc = tty_check_change(SIGTTOU);
    if (jc < 0) return jc;
  }
  const n = from.count;
  const buf = new Uint8Array(Math.min(n, 65536));
  let done = 0;
  while (done < n) {
    const want = Math.min(buf.length, n - done);
    const c = from.copy_from_iter(buf, 0, want);
    if (c > 0) console_write(dec.decode(buf.subarray(0, c)));
    done += c;
    if (c < want) break;
  }
  if (done === 0 && from.faulted) return -EFAULT;
  return done;
}

function tty_poll(file: File, pt: PollTable | null): number {
  poll_wait(file, tty.read_wait, pt);
  return (tty.read_buf.length > 0 || tty.eof > 0 ? EPOLLIN | EPOLLRDNORM : 0) | EPOLLOUT | EPOLLWRNORM;
}

function* tty_ioctl(file: File, cmd: number, arg: number): Generator<unknown, number, unknown> {
  switch (cmd) {
    case TCGETS:
      return copy_to_user(arg, tty.termios, TERMIOS_SIZE) === 0 ? 0 : -EFAULT;
    case TCSETS:
    case TCSETSW:
    case TCSETSF: {
      // set_termios: a background process may not change the settings (SIGTTOU).
      const jc = tty_check_change(SIGTTOU);
      if (jc < 0) return jc;
      const b = new Uint8Array(TERMIOS_SIZE);
      if (copy_from_user(b, arg, TERMIOS_SIZE) !== 0) return -EFAULT;
      const wasCanon = tty.lflag & ICANON;
      tty.termios = b;
      if (wasCanon && !(tty.lflag & ICANON)) {
        tty.read_buf.push(...tty.line);
        tty.line = [];
      }
      return 0;
    }
    case TIOCGWINSZ: {
      const b = new Uint8Array(8);
      const v = new DataView(b.buffer);
      v.setUint16(0, tty.rows, true);
      v.setUint16(2, tty.cols, true);
      return copy_to_user(arg, b, 8) === 0 ? 0 : -EFAULT;
    }
    case TIOCSWINSZ: {
      const rows = get_user(arg, 2);
      const cols = get_user(arg + 2, 2);
      if (rows === undefined || cols === undefined) return -EFAULT;
      tty.rows = rows;
      tty.cols = cols;
      return 0;
    }
    case TIOCSCTTY:
      return tiocsctty(file, arg);
    case TIOCNOTTY:
      if (current().signal.tty !== tty) return -ENOTTY;
      no_tty();
      return 0;
    case TIOCGPGRP:
      if (current().signal.tty !== tty) return -ENOTTY;
      return put_user(tty.pgrp, arg, 4);
    case TIOCSPGRP:
      return tiocspgrp(arg);
    case TIOCGSID:
      if (current().signal.tty !== tty || tty.session === 0) return -ENOTTY;
      return put_user(tty.session, arg, 4);
    default:
      return -ENOTTY;
  }
}

/** A file opened as /dev/console: exempt from background-process checks (Linux's redirected_tty_write). */
function is_console_file(file: File): boolean {
  return file.f_inode.i_rdev === MKDEV(TTYAUX_MAJOR, 1);
}

/** is_ignored: the signal is blocked or SIG_IGN in the calling thread. */
function is_ignored(t: TaskStruct, sig: number): boolean {
  return (t.blocked & sigmask(sig)) !== 0 || t.signal.action[sig] === SIG_IGN;
}

/**
 * will_become_orphaned_pgrp (kernel/exit.c): no member has a parent in another group of
 * the same session (init, as a parent, does not count).
 */
function is_orphaned_pgrp(pgrp: number): boolean {
  for (const p of tasks_by_pid()) {
    if (p.pgid !== pgrp || p.pid !== p.tgid || p.exit_state !== 0) continue;
    const parent = p.real_parent;
    if (parent === null || parent.tgid === 1) continue;
    if (parent.pgid !== pgrp && parent.sid === p.sid) return false;
  }
  return true;
}

/**
 * __tty_check_change: a process of the session outside the foreground group reading
 * (SIGTTIN) or changing (SIGTTOU) its controlling terminal. 0 when allowed; -EIO for an
 * ignored SIGTTIN, an orphaned group, or a default action (stop, not modelled); with a
 * handler the group gets the signal and the call restarts (-ERESTARTSYS).
 */
function tty_check_change(sig: number): number {
  const me = current();
  if (me.signal.tty !== tty || tty.pgrp === 0 || me.pgid === tty.pgrp) return 0;
  if (is_ignored(me, sig)) return sig === SIGTTIN ? -EIO : 0;
  if (is_orphaned_pgrp(me.pgid)) return -EIO;
  if (me.signal.action[sig] === SIG_DFL) return -EIO;
  kill_pgrp(me.pgid, sig);
  return -ERESTARTSYS;
}

/** __proc_set_tty: the caller's session takes the tty, its process group in the foreground. */
function proc_set_tty(me: TaskStruct): void {
  tty.session = me.sid;
  tty.pgrp = me.pgid;
  me.signal.tty = tty;
}

/** session_clear_tty: no process of session `sid` keeps this tty. */
function session_clear_tty(sid: number): void {
  for (const t of tasks_by_pid()) if (t.sid === sid && t.signal.tty === tty) t.signal.tty = null;
}

/**
 * tiocsctty: a session leader without a controlling tty takes this one. Already its own:
 * 0. Owned by another session: EPERM, unless arg is 1 and the caller has CAP_SYS_ADMIN
 * (the tty is stolen). A file not open for reading needs CAP_SYS_ADMIN too.
 */
function tiocsctty(file: File, arg: number): number {
  const me = current();
  if (me.signal.leader && me.sid === tty.session) return 0;
  if (!me.signal.leader || me.signal.tty !== null) return -EPERM;
  if (tty.session !== 0) {
    if (arg === 1 && has_capability(me, CAP_SYS_ADMIN)) session_clear_tty(tty.session);
    else return -EPERM;
  }
  if (!(file.f_mode & FMODE_READ) && !has_capability(me, CAP_SYS_ADMIN)) return -EPERM;
  proc_set_tty(me);
  return 0;
}

/**
 * tiocspgrp: the foreground process group of the caller's controlling tty. ENOTTY when it
 * is not the caller's (or a background caller's check fails with EIO), ESRCH for no such
 * group, EPERM for a group of another session.
 */
function tiocspgrp(arg: number): number {
  const jc = tty_check_change(SIGTTOU);
  if (jc === -EIO) return -ENOTTY;
  if (jc < 0) return jc;
  const nr = get_user(arg, 4);
  if (nr === undefined) return -EFAULT;
  const p = nr | 0;
  if (p < 0) return -EINVAL;
  const me = current();
  if (me.signal.tty !== tty || tty.session !== me.sid) return -ENOTTY;
  // session_of_pgrp: a member of the group, else the process with that PID.
  const all = tasks_by_pid();
  const member = all.find((t) => t.pgid === p && t.exit_state === 0) ?? all.find((t) => t.pid === p && t.exit_state === 0);
  if (member === undefined || p === 0) return -ESRCH;
  if (member.sid !== me.sid) return -EPERM;
  tty.pgrp = p;
  return 0;
}

/**
 * disassociate_ctty: a session leader gives up its controlling tty (on exit: SIGHUP to the
 * foreground group; by TIOCNOTTY: SIGHUP and SIGCONT) and no process of its session keeps
 * it. Others only lose their own reference (proc_clear_tty).
 */
function disassociate_ctty(me: TaskStruct, onExit: boolean): void {
  if (!me.signal.leader || me.signal.tty !== tty) return;
  if (tty.pgrp !== 0) {
    kill_pgrp(tty.pgrp, SIGHUP);
    if (!onExit) kill_pgrp(tty.pgrp, 18 /* SIGCONT */);
  }
  tty.session = 0;
  tty.pgrp = 0;
  session_clear_tty(me.sid);
}

/** no_tty (TIOCNOTTY): the leader disassociates the session; any caller drops its own reference. */
function no_tty(): void {
  const me = current();
  disassociate_ctty(me, false);
  me.signal.tty = null;
}

let exitHookRegistered = false;

/** do_exit: when the last thread of a session leader exits, the session loses the tty. */
function tty_exit_hook(t: TaskStruct): void {
  if (t.signal.live === 0) disassociate_ctty(t, true);
}

/**
 * tty_open: /dev/tty is the caller's controlling tty (ENXIO without one); a session leader
 * without one that opens the terminal itself (not /dev/console or /dev/tty, no O_NOCTTY,
 * readable) and finds it free makes it its controlling tty (tty_open_proc_set_tty).
 */
function* tty_open(inode: Inode, file: File): Generator<unknown, number, unknown> {
  const me = current();
  if (inode.i_rdev === MKDEV(TTYAUX_MAJOR, 0)) return me.signal.tty === tty ? 0 : -ENXIO;
  const noctty = (file.f_flags & O_NOCTTY) !== 0 || inode.i_rdev === MKDEV(TTYAUX_MAJOR, 1);
  if (!noctty && me.signal.leader && me.signal.tty === null && tty.session === 0 && file.f_mode & FMODE_READ) proc_set_tty(me);
  return 0;
}

export const tty_fops: FileOperations = {
  open: tty_open,
  llseek: () => -29,
  read_iter: tty_read,
  write_iter: tty_write,
  poll: tty_poll,
  unlocked_ioctl: tty_ioctl,
};
