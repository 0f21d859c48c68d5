// The console tty as a controlling terminal (drivers/tty/tty_jobctrl.c rules): TIOCSCTTY,
// TIOCNOTTY, TIOCGPGRP/TIOCSPGRP/TIOCGSID and their errors, acquisition on open, /dev/tty,
// background reads, and the SIGHUP a session leader's exit or TIOCNOTTY sends.
import { describe, it, expect } from 'vitest';
import { bootUserInit } from '../support/kernel-boot.js';
import { UserCtx } from '../support/kernel-user.js';
import { oops_count } from '../../src/kernel/kernel/panic.js';
import * as NR from '../../src/kernel/syscalls/numbers.js';

const TIOCSCTTY = 0x540e;
const TIOCGPGRP = 0x540f;
const TIOCSPGRP = 0x5410;
const TIOCNOTTY = 0x5422;
const TIOCGSID = 0x5429;
const O_RDWR = 2;
const O_NOCTTY = 0o400;
const SIGHUP = 1;
const SIGTTOU = 22;
const EPERM = -1;
const ESRCH = -3;
const EIO = -5;
const ENXIO = -6;
const EINVAL = -22;
const ENOTTY = -25;

function* ioctlInt(u: UserCtx, fd: number, cmd: number): Generator<unknown, number, unknown> {
  const a = u.alloc(8);
  u.cpu.st32(a, 0x7777);
  const r = yield* u.sys(NR.__NR_ioctl, fd, cmd, a);
  return r < 0 ? r : u.cpu.ld32(a) | 0;
}

function* tcsetpgrp(u: UserCtx, fd: number, pgrp: number): Generator<unknown, number, unknown> {
  const a = u.alloc(8);
  u.cpu.st32(a, pgrp >>> 0);
  return yield* u.sys(NR.__NR_ioctl, fd, TIOCSPGRP, a);
}

function* sleepNs(u: UserCtx, ns: number): Generator<unknown, number, unknown> {
  const a = u.alloc(16);
  u.cpu.st64(a, Math.floor(ns / 1e9));
  u.cpu.st64(a + 8, ns % 1e9);
  return yield* u.sys(NR.__NR_nanosleep, a, 0);
}

function* sigIgnore(u: UserCtx, sig: number): Generator<unknown, number, unknown> {
  const a = u.alloc(32);
  u.cpu.st64(a, 1); // SIG_IGN
  u.cpu.st64(a + 8, 0);
  u.cpu.st64(a + 16, 0);
  u.cpu.st64(a + 24, 0);
  return yield* u.sys(NR.__NR_rt_sigaction, sig, a, 0, 8);
}

function* openat(u: UserCtx, path: string, flags: number): Generator<unknown, number, unknown> {
  return yield* u.sys(NR.__NR_openat, -100, u.str(path), flags, 0);
}

describe('controlling terminal ioctls', () => {
  it('only a session leader without a terminal takes one (TIOCSCTTY); TIOCGPGRP/TIOCGSID/TIOCSPGRP need it as the controlling tty and a group of the session', () => {
    const res: Record<string, number> = {};
    const { handle } = bootUserInit(function* (u) {
      const a = yield* u.fork(function* (c) {
        res['gpgrp.noctty'] = yield* ioctlInt(c, 0, TIOCGPGRP);
        res['gsid.noctty'] = yield* ioctlInt(c, 0, TIOCGSID);
        res['spgrp.noctty'] = yield* tcsetpgrp(c, 0, 1);
        res['sctty.notleader'] = yield* c.sys(NR.__NR_ioctl, 0, TIOCSCTTY, 0);
        res['devtty.noctty'] = yield* openat(c, '/dev/tty', O_RDWR);
        res['notty.noctty'] = yield* c.sys(NR.__NR_ioctl, 0, TIOCNOTTY, 0);
        const me = yield* c.sys(NR.__NR_setsid);
        res['setsid'] = me;
        res['getsid'] = yield* c.sys(NR.__NR_getsid, 0);
        res['setsid.again'] = yield* c.sys(NR.__NR_setsid);
        // /dev/console never becomes the controlling tty by open; TIOCSCTTY on it does.
        const con = yield* openat(c, '/dev/console', O_RDWR);
        res['gsid.afterconsoleopen'] = yield* ioctlInt(c, con, TIOCGSID);
        const noctty = yield* openat(c, '/dev/ttyAMA0', O_RDWR | O_NOCTTY);
        res['gsid.afternoctty'] = yield* ioctlInt(c, noctty, TIOCGSID);
        res['sctty'] = yield* c.sys(NR.__NR_ioctl, 0, TIOCSCTTY, 0);
        res['sctty.again'] = yield* c.sys(NR.__NR_ioctl, 0, TIOCSCTTY, 0);
        res['gsid'] = (yield* ioctlInt(c, 0, TIOCGSID)) - me;
        res['gpgrp'] = (yield* ioctlInt(c, 0, TIOCGPGRP)) - me;
        res['devtty'] = (yield* openat(c, '/dev/tty', O_RDWR)) >= 0 ? 1 : 0;
        res['spgrp.negative'] = yield* tcsetpgrp(c, 0, -1);
        res['spgrp.none'] = yield* tcsetpgrp(c, 0, 4000);
        res['spgrp.othersession'] = yield* tcsetpgrp(c, 0, 1);
        // A process of another session cannot take a tty its session does not own.
        const other = yield* c.fork(function* (d) {
          res['other.setsid'] = (yield* d.sys(NR.__NR_setsid)) > 0 ? 1 : 0;
          res['other.sctty.owned'] = yield* d.sys(NR.__NR_ioctl, 0, TIOCSCTTY, 0);
          res['other.gpgrp'] = yield* ioctlInt(d, 0, TIOCGPGRP);
          return 0;
        });
        yield* c.wait(other);
        return 0;
      });
      yield* u.wait(a);
      // init is not a session leader here.
      res['init.sctty'] = yield* u.sys(NR.__NR_ioctl, 0, TIOCSCTTY, 0);
      return 0;
    });
    expect(handle.runToPoweroff(5e9)).toBe(0);
    expect(res).toEqual({
      'gpgrp.noctty': ENOTTY,
      'gsid.noctty': ENOTTY,
      'spgrp.noctty': ENOTTY,
      'sctty.notleader': EPERM,
      'devtty.noctty': ENXIO,
      'notty.noctty': ENOTTY,
      setsid: res['setsid'],
      getsid: res['setsid'],
      'setsid.again': EPERM,
      'gsid.afterconsoleopen': ENOTTY,
      'gsid.afternoctty': ENOTTY,
      sctty: 0,
      'sctty.again': 0,
      gsid: 0,
      gpgrp: 0,
      devtty: 1,
      'spgrp.negative': EINVAL,
      'spgrp.none': ESRCH,
      'spgrp.othersession': EPERM,
      'other.setsid': 1,
      'other.sctty.owned': EPERM,
      'other.gpgrp': ENOTTY,
      'init.sctty': EPERM,
    });
    expect(res['setsid']).toBeGreaterThan(1);
    expect(oops_count()).toBe(0);
  });

  it('a session leader that opens the terminal device (not /dev/console, no O_NOCTTY) while it has none makes it its controlling tty', () => {
    const res: number[] = [];
    const { handle } = bootUserInit(function* (u) {
      const a = yield* u.fork(function* (c) {
        const me = yield* c.sys(NR.__NR_setsid);
        const fd = yield* openat(c, '/dev/ttyAMA0', O_RDWR);
        res.push((yield* ioctlInt(c, fd, TIOCGSID)) - me, (yield* ioctlInt(c, 0, TIOCGPGRP)) - me);
        return 0;
      });
      yield* u.wait(a);
      return 0;
    });
    expect(handle.runToPoweroff(5e9)).toBe(0);
    expect(res).toEqual([0, 0]);
  });

  it('tcsetpgrp moves the foreground group; a background caller needs SIGTTOU ignored (else -ENOTTY, having no stop state) and a background read is -EIO', () => {
    const res: Record<string, number> = {};
    const { handle } = bootUserInit(function* (u) {
      const a = yield* u.fork(function* (c) {
        const me = yield* c.sys(NR.__NR_setsid);
        const tty = yield* openat(c, '/dev/ttyAMA0', O_RDWR);
        const b = yield* c.fork(function* (d) {
          yield* d.sys(NR.__NR_setpgid, 0, 0);
          yield* sleepNs(d, 10e6);
          return 7;
        });
        res['setpgid.parent'] = yield* c.sys(NR.__NR_setpgid, b, b);
        res['setpgid.leader'] = yield* c.sys(NR.__NR_setpgid, 0, b);
        res['setpgid.nogroup'] = yield* c.sys(NR.__NR_setpgid, b, 4000);
        res['spgrp'] = yield* tcsetpgrp(c, tty, b);
        res['gpgrp'] = (yield* ioctlInt(c, tty, TIOCGPGRP)) - b;
        res['read.bg'] = yield* c.sys(NR.__NR_read, tty, c.alloc(16), 16);
        res['spgrp.bg.dfl'] = yield* tcsetpgrp(c, tty, me);
        yield* sigIgnore(c, SIGTTOU);
        res['spgrp.bg.ign'] = yield* tcsetpgrp(c, tty, me);
        res['gpgrp.back'] = (yield* ioctlInt(c, tty, TIOCGPGRP)) - me;
        const [, st] = yield* c.wait(b);
        res['b.status'] = st >> 8;
        return 0;
      });
      yield* u.wait(a);
      return 0;
    });
    expect(handle.runToPoweroff(5e9)).toBe(0);
    expect(res).toEqual({
      'setpgid.parent': 0,
      'setpgid.leader': EPERM,
      'setpgid.nogroup': EPERM,
      spgrp: 0,
      gpgrp: 0,
      'read.bg': EIO,
      'spgrp.bg.dfl': ENOTTY,
      'spgrp.bg.ign': 0,
      'gpgrp.back': 0,
      'b.status': 7,
    });
  });

  it("the session leader's exit sends SIGHUP to the foreground group and frees the tty; TIOCNOTTY by the leader does the same", () => {
    const res: Record<string, number> = {};
    const { handle } = bootUserInit(function* (u) {
      let fgPid = 0;
      const a = yield* u.fork(function* (c) {
        yield* c.sys(NR.__NR_setsid);
        yield* c.sys(NR.__NR_ioctl, 0, TIOCSCTTY, 0);
        const b = yield* c.fork(function* (d) {
          yield* d.sys(NR.__NR_setpgid, 0, 0);
          yield* sleepNs(d, 10e9);
          return 0;
        });
        yield* c.sys(NR.__NR_setpgid, b, b);
        yield* tcsetpgrp(c, 0, b);
        fgPid = b;
        return 0; // the leader exits; b is orphaned to init
      });
      yield* u.wait(a);
      const [pid, st] = yield* u.wait(fgPid);
      res['exit.hup'] = pid === fgPid ? st & 0x7f : -1;
      // The tty is free again: a new session leader takes it.
      const l = yield* u.fork(function* (c) {
        const me = yield* c.sys(NR.__NR_setsid);
        res['reacquire'] = yield* c.sys(NR.__NR_ioctl, 0, TIOCSCTTY, 0);
        const b = yield* c.fork(function* (d) {
          yield* d.sys(NR.__NR_setpgid, 0, 0);
          yield* sleepNs(d, 10e9);
          return 0;
        });
        yield* c.sys(NR.__NR_setpgid, b, b);
        yield* tcsetpgrp(c, 0, b);
        res['notty'] = yield* c.sys(NR.__NR_ioctl, 0, TIOCNOTTY, 0);
        res['gsid.after'] = yield* ioctlInt(c, 0, TIOCGSID);
        const [, st2] = yield* c.wait(b);
        res['notty.hup'] = st2 & 0x7f;
        res['me'] = me > 0 ? 1 : 0;
        return 0;
      });
      yield* u.wait(l);
      return 0;
    });
    expect(handle.runToPoweroff(30e9)).toBe(0);
    expect(res).toEqual({ 'exit.hup': SIGHUP, reacquire: 0, notty: 0, 'gsid.after': ENOTTY, 'notty.hup': SIGHUP, me: 1 });
    expect(oops_count()).toBe(0);
  });
});
