// A file's release runs whatever ends its holder: a process killed by SIGKILL while it
// holds /dev/uacce_ctrl pins gives every pin back (do_exit -> exit_files -> the last
// fput -> ->release as task work), exactly as a process that exits normally does. The
// signal goes to the holder's own pid (read from /tmp/ready): in this sh, `cmd &` runs cmd
// as a child of a forked subshell, so `kill -9 $!` kills that subshell, not cmd.

import { describe, expect, it } from 'vitest';
import { thisCpu } from '../../src/arch/index.js';
import type { Libc } from '../../src/user/libc/libc.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, O_RDWR, PROT_READ, PROT_WRITE } from '../../src/user/libc/uapi.js';
import { check_page_alloc_consistency } from '../../src/kernel/mm/page_alloc.js';
import { oops_count } from '../../src/kernel/kernel/panic.js';
import { PAGE, UACCE_CMD_PIN, bootUacce, pinIoctl } from './kernel-uacce-harness.js';


/** Pins 16 pages through /dev/uacce_ctrl, says so in /tmp/ready, then sleeps (or exits when `exit` is set). */
function pinHolder(exit: boolean) {
  return function* (c: Libc): Generator<unknown, number, unknown> {
    const fd = yield* c.open('/dev/uacce_ctrl', O_RDWR);
    if (fd < 0) return 20;
    const buf = yield* c.mmap(0, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    if (buf < 0) return 21;
    for (let i = 0; i < 16; i++) thisCpu().st32(buf + i * PAGE, i);
    if ((yield* pinIoctl(c, fd, UACCE_CMD_PIN, buf, 16 * PAGE)) < 0) return 22;
    yield* c.writeFile('/tmp/ready', String(yield* c.getpid()));
    if (exit) {
      while (typeof (yield* c.stat('/tmp/go')) === 'number') yield* c.nanosleep(1_000_000);
      return 0;
    }
    for (;;) yield* c.nanosleep(1_000_000_000);
  };
}

/** kill(pid in /tmp/ready, SIGKILL), as `kill -9 PID` does. */
function* killer(c: Libc): Generator<unknown, number, unknown> {
  const d = yield* c.readFile('/tmp/ready');
  if (typeof d === 'number') return 30;
  return (yield* c.kill(Number(new TextDecoder().decode(d)), 9)) === 0 ? 0 : 31;
}

function pins(out: string): { acquired: number; released: number }[] {
  const res: { acquired: number; released: number }[] = [];
  const re = /nr_foll_pin_acquired (\d+)\nnr_foll_pin_released (\d+)\n/g;
  for (let m = re.exec(out); m !== null; m = re.exec(out)) res.push({ acquired: Number(m[1]), released: Number(m[2]) });
  return res;
}

describe('release runs however the holder ends', () => {
  for (const how of ['kill -9', 'kill -9 while sleeping in the kernel', 'exit']) {
    it(`uacce_ctrl pins are all released after ${how}`, () => {
      const r = bootUacce({
        ramSize: 128 * 1024 * 1024,
        mains: { holder: pinHolder(how === 'exit'), killer },
        script: [
          'holder &',
          'while [ ! -e /tmp/ready ]; do sleep 1; done',
          'grep foll_pin /proc/vmstat',
          ...(how === 'exit' ? ['touch /tmp/go'] : how === 'kill -9' ? ['killer'] : ['sleep 1', 'killer']),
          'wait',
          'echo "status $?"',
          'grep foll_pin /proc/vmstat',
          'echo done',
        ],
        limitNs: 60e9,
      });
      expect(r.out).toContain('done');
      expect(r.out).toContain(how === 'exit' ? 'status 0\n' : 'status 137\n');
      const p = pins(r.out);
      expect(p.length).toBe(2);
      expect(p[0]!.acquired - p[0]!.released, r.out).toBe(16);
      expect(p[1]!.acquired, r.out).toBe(p[1]!.released);
      expect(check_page_alloc_consistency()).toEqual([]);
      expect(oops_count()).toBe(0);
    });
  }
});
