// The console tty (drivers/tty/tty_io.c, n_tty.c in shape): one terminal on the UART,
// reachable as /dev/console, /dev/tty and /dev/ttyAMA0. Output goes to the console
// drivers; input arrives from the UART RX interrupt and is cooked by a small line
// discipline (ICANON with ECHO, ^C sends SIGINT to the foreground process group, ^D
// ends input) unless a program switches ICANON off with TCSETS.

import { console_write } from '../../lib/printk.js';
import { SIGINT } from '../../sched/task.js';
import { send_sig } from '../../kernel/signal.js';
import { tasks_by_pid } from '../../kernel/pid.js';
import { WaitQueueHead, wait_event_interruptible, wake_up_interruptible } from '../../sched/wait.js';
import { EAGAIN, EFAULT, ENOTTY, ERESTARTSYS, EINVAL } from '../../lib/errno.js';
import { copy_from_user, copy_to_user, get_user, put_user } from '../../lib/uaccess.js';
import { register_chrdev, devnode_create, TTYAUX_MAJOR, AMBA_MAJOR } from '../../fs/char_dev.js';
import { EPOLLIN, EPOLLOUT, EPOLLRDNORM, EPOLLWRNORM, MKDEV, O_NONBLOCK, S_IFCHR, poll_wait, type File, type FileOperations, type Kiocb, type PollTable } from '../../fs/types.js';
import type { IovIter } from '../../fs/iov_iter.js';

// termios ioctls (include/uapi/asm-generic/ioctls.h)
export const TCGETS = 0x5401;
export const TCSETS = 0x5402;
export const TCSETSW = 0x5403;
export const TCSETSF = 0x5404;
export const TIOCGPGRP = 0x540f;
export const TIOCSPGRP = 0x5410;
export const TIOCGWINSZ = 0x5413;
export const TIOCSWINSZ = 0x5414;
// c_lflag bits
export const ISIG = 0o1;
export const ICANON = 0o2;
export const ECHO = 0o10;

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
  pgrp = 1;
  rows = 24;
  cols = 80;
  constructor() {
    const v = new DataView(this.termios.buffer);
    v.setUint32(0, 0o2400, true); // ICRNL | IXON
    v.setUint32(4, 0o5, true); // OPOST | ONLCR
    v.setUint32(8, 0o277, true); // B38400 | CS8 | CREAD
    v.setUint32(12, ISIG | ICANON | ECHO | 0o20 | 0o40 | 0o1000 | 0o4000 | 0o100000, true);
    this.termios[17 + 0] = 3; // VINTR ^C
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
  register_chrdev(TTYAUX_MAJOR, 0, 2, '/dev/tty', tty_fops);
  register_chrdev(AMBA_MAJOR, 64, 1, 'ttyAMA', tty_fops);
  devnode_create('tty', MKDEV(TTYAUX_MAJOR, 0), S_IFCHR | 0o666);
  devnode_create('console', MKDEV(TTYAUX_MAJOR, 1), S_IFCHR | 0o600);
  devnode_create('ttyAMA0', MKDEV(AMBA_MAJOR, 64), S_IFCHR | 0o620);
}

function echo(bytes: number[]): void {
  if (tty.lflag & ECHO) console_write(String.fromCharCode(...bytes));
}

/** tty_receive_buf: characters from the UART RX interrupt (IRQ context). */
export function tty_receive(chars: Uint8Array): void {
  const canon = (tty.lflag & ICANON) !== 0;
  for (const raw of chars) {
    const c = raw === 0x0d ? 0x0a : raw;
    if (tty.lflag & ISIG && c === 3) {
      for (const t of tasks_by_pid()) if (t.pgid === tty.pgrp && t.pid !== 1) send_sig(SIGINT, t, true);
      tty.line = [];
      echo([0x5e, 0x43, 0x0a]);
      continue;
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

function* tty_write(_iocb: Kiocb, from: IovIter): Generator<unknown, number, unknown> {
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

function* tty_ioctl(_file: File, cmd: number, arg: number): Generator<unknown, number, unknown> {
  switch (cmd) {
    case TCGETS:
      return copy_to_user(arg, tty.termios, TERMIOS_SIZE) === 0 ? 0 : -EFAULT;
    case TCSETS:
    case TCSETSW:
    case TCSETSF: {
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
    case TIOCGPGRP:
      return put_user(tty.pgrp, arg, 4);
    case TIOCSPGRP: {
      const p = get_user(arg, 4);
      if (p === undefined) return -EFAULT;
      if (p <= 0) return -EINVAL;
      tty.pgrp = p;
      return 0;
    }
    default:
      return -ENOTTY;
  }
}

export const tty_fops: FileOperations = {
  llseek: () => -29,
  read_iter: tty_read,
  write_iter: tty_write,
  poll: tty_poll,
  unlocked_ioctl: tty_ioctl,
};

/** Foreground process group of the console (for the shell's job control basics). */
export function tty_set_pgrp(pgrp: number): void {
  tty.pgrp = pgrp;
}

