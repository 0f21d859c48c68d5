// The OOM killer against unreclaimable memory and under random load, on the full image
// (init, sh, the drivers): long-term pins (FOLL_LONGTERM through /dev/uacce_ctrl) can
// neither be swapped nor migrated, so pinning too much must end in the OOM killer
// choosing the pinner, never the process whose data was only swapped; and a seeded mix
// of hogs and holders never raises a host exception, always leaves the allocator
// consistent, and gives the same victims and the same log for the same seed.

import { describe, expect, it } from 'vitest';
import { thisCpu } from '../../src/arch/index.js';
import { oops_count } from '../../src/kernel/kernel/panic.js';
import { check_page_alloc_consistency } from '../../src/kernel/mm/page_alloc.js';
import { global_page_state } from '../../src/kernel/mm/vmstat.js';
import type { Libc } from '../../src/user/libc/libc.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, O_RDWR, O_WRONLY, PROT_READ, PROT_WRITE } from '../../src/user/libc/uapi.js';
import { bootUacce, UACCE_CMD_PIN } from './kernel-uacce-harness.js';
import { xorshift32 as rng } from '../../src/machine/prng.js';

const PAGE = 4096;
const MiB = 1024 * 1024;

/** Holds `pages` pages of data until /tmp/go exists, then checks them: prints "<name> ok" or "<name> corrupt". */
function holdMain(name: string, pages: number, adj?: string) {
  return function* (c: Libc): Generator<unknown, number, unknown> {
    if (adj !== undefined && (yield* c.writeFile('/proc/self/oom_score_adj', adj, O_WRONLY)) < 0) return 11;
    const a = yield* c.mmap(0, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    if (a < 0) return 10;
    const cpu = thisCpu();
    for (let i = 0; i < pages; i++) cpu.st32(a + i * PAGE, 0x7000 + i);
    yield* c.writeFile('/tmp/ready', 'y');
    while (typeof (yield* c.stat('/tmp/go')) === 'number') yield* c.nanosleep(1_000_000);
    for (let i = 0; i < pages; i++) if (thisCpu().ld32(a + i * PAGE) !== 0x7000 + i) {
      yield* c.out(`${name} corrupt\n`);
      return 1;
    }
    yield* c.out(`${name} ok\n`);
    return 0;
  };
}

/** Pins 64 KiB after 64 KiB of a 96 MiB buffer with UACCE_CMD_PIN (FOLL_LONGTERM) until a pin fails (exit 22) or it is killed. */
function* pinner(c: Libc): Generator<unknown, number, unknown> {
  const fd = yield* c.open('/dev/uacce_ctrl', O_RDWR);
  if (fd < 0) return 20;
  const len = 96 * MiB;
  const buf = yield* c.mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  if (buf < 0) return 21;
  const arg = yield* c.malloc(16);
  const chunk = 64 * 1024;
  for (let off = 0; off < len; off += chunk) {
    const b = new Uint8Array(16);
    const dv = new DataView(b.buffer);
    dv.setBigUint64(0, BigInt(buf + off), true);
    dv.setBigUint64(8, BigInt(chunk), true);
    thisCpu().writeVirt(arg, b);
    const r = yield* c.ioctl(fd, UACCE_CMD_PIN, arg);
    if (r < 0) {
      yield* c.out(`pin failed ${r}\n`);
      return 22;
    }
  }
  return 23;
}

/** Touches `pages` pages, writing each index; yields to the scheduler now and then. */
function hogMain(pages: number, adj: string) {
  return function* (c: Libc): Generator<unknown, number, unknown> {
    if ((yield* c.writeFile('/proc/self/oom_score_adj', adj, O_WRONLY)) < 0) return 11;
    const a = yield* c.mmap(0, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    if (a < 0) return 10;
    for (let i = 0; i < pages; i++) {
      thisCpu().st32(a + i * PAGE, i);
      if (i % 300 === 299) yield* c.sched_yield();
    }
    for (let i = 0; i < pages; i += 61) if (thisCpu().ld32(a + i * PAGE) !== i) return 1;
    return 0;
  };
}

function oomLines(con: string): string[] {
  return con.split('\n').filter((l) => /invoked oom-killer|Out of memory|oom_reaper|oom-kill:|Kernel panic/.test(l));
}

describe('OOM killer and unreclaimable memory on the full image', () => {
  it('FOLL_LONGTERM pins (uacce_ctrl) past what ZONE_NORMAL can hold: the pin fails with -ENOMEM or the pinner is killed (137), never the process whose data was swapped; no oops', () => {
    const r = bootUacce({
      ramSize: 96 * MiB,
      mains: { holdmem: holdMain('holder', 1000), pinner },
      script: [
        'holdmem &',
        'while [ ! -e /tmp/ready ]; do sleep 1; done',
        'pinner',
        'echo "pinner status $?"',
        'touch /tmp/go',
        'wait',
        'grep oom_kill /proc/vmstat',
        'echo done',
      ],
      limitNs: 120e9,
    });
    // Either the pin itself fails (-ENOMEM: gup gives up migrating the pages out of
    // ZONE_MOVABLE while reclaim keeps taking them back) or the OOM killer ends the
    // pinner; the holder, whose data could be swapped, is never the one to go.
    const m = /pinner status (\d+)\n/.exec(r.out);
    expect(m).not.toBeNull();
    if (m![1] === '22') expect(r.out).toContain('pin failed -12\n');
    else {
      expect(m![1]).toBe('137');
      expect(r.console).toMatch(/Out of memory: Killed process \d+ \(pinner\)/);
    }
    expect(r.out).toContain('holder ok\n');
    expect(r.out).toContain('done');
    expect(r.console).not.toMatch(/Killed process \d+ \((holdmem|sh|init)\)/);
    expect(check_page_alloc_consistency()).toEqual([]);
    expect(oops_count()).toBe(0);
  });

  const runSeed = (seed: number) => {
    const rnd = rng(seed);
    const mains: Record<string, (c: Libc) => Generator<unknown, number, unknown>> = {};
    const script: string[] = [];
    const n = 3 + Math.floor(rnd() * 4);
    const adjs = ['-1000', '-500', '0', '300', '1000'];
    const protectedHolders: string[] = [];
    for (let i = 0; i < n; i++) {
      const hogP = i === n - 1 || rnd() < 0.5;
      const name = `${hogP ? 'hog' : 'hold'}${i}`;
      const pages = hogP ? 4000 + Math.floor(rnd() * 20000) : 100 + Math.floor(rnd() * 1200);
      // a hog is never -1000: something must always be left to kill
      const adj = hogP ? adjs[1 + Math.floor(rnd() * 4)]! : adjs[Math.floor(rnd() * 5)]!;
      mains[name] = hogP ? hogMain(pages, adj) : holdMain(name, pages, adj);
      if (hogP) script.push(`${name} &`);
      else script.push(`${name} &`, 'while [ ! -e /tmp/ready ]; do sleep 1; done', 'rm /tmp/ready');
      if (!hogP && adj === '-1000') protectedHolders.push(name);
    }
    script.push('sleep 5', 'touch /tmp/go', 'wait', 'echo fuzz-done');
    const r = bootUacce({ ramSize: 64 * MiB, mains, script, limitNs: 300e9 });
    return { r, protectedHolders, lines: oomLines(r.console), kills: global_page_state('oom_kill'), consistent: check_page_alloc_consistency(), oops: oops_count() };
  };

  for (const seed of [11, 2026]) {
    it(`seed ${seed}: random hogs and holders with random oom_score_adj: no host exception, no oops, -1000 holders keep their data, the allocator stays consistent; the same seed gives the same victims and the same log`, () => {
      const a = runSeed(seed);
      expect(a.r.out).toContain('fuzz-done');
      expect(a.kills).toBeGreaterThan(0);
      expect(a.lines.filter((l) => l.includes('Killed process')).length).toBe(a.kills);
      expect(a.oops).toBe(0);
      expect(a.consistent).toEqual([]);
      expect(a.r.out).not.toContain('corrupt');
      for (const h of a.protectedHolders) expect(a.r.out).toContain(`${h} ok\n`);
      expect(a.lines.some((l) => l.includes('Kernel panic'))).toBe(false);
      const b = runSeed(seed);
      expect(b.lines).toEqual(a.lines);
      expect(b.kills).toBe(a.kills);
      expect(b.r.out).toBe(a.r.out);
    });
  }
});
