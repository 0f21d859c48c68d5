// The memory boot parameters are honoured, not accepted and dropped: movablecore= and
// kernelcore= (memparse sizes with K/M/G suffixes, or N% of RAM, as cmdline_parse_core)
// size ZONE_MOVABLE, kernelcore wins over movablecore, kernelcore=mirror is refused with
// a warning, and the svasoc-only swapbytes= sizes the swap area (SwapTotal).

import { describe, expect, it } from 'vitest';
import type { Libc } from '../../src/user/libc/libc.js';
import { NODE_DATA } from '../../src/kernel/mm/page_alloc.js';
import { memparse, parse_cmdline } from '../../src/kernel/init/main.js';
import { bootUacce } from './kernel-uacce-harness.js';

const MiB = 1024 * 1024;
const PAGE = 4096;

function* meminfo(c: Libc): Generator<unknown, number, unknown> {
  const d = yield* c.readFile('/proc/meminfo');
  if (typeof d === 'number') return 1;
  yield* c.out(new TextDecoder().decode(d).split('\n').filter((l) => l.startsWith('SwapTotal')).join('\n') + '\n');
  return 0;
}

function boot(args: string) {
  const r = bootUacce({ ramSize: 128 * MiB, args, mains: { meminfo }, script: ['meminfo', 'echo done'], limitNs: 30e9 });
  const pg = NODE_DATA();
  const movableMiB = ((pg.node_end_pfn - pg.movable_start_pfn) * PAGE) / MiB;
  const swapKb = Number(/SwapTotal:\s+(\d+) kB/.exec(r.out)?.[1] ?? -1);
  return { r, movableMiB, swapKb };
}

describe('memory boot parameters', () => {
  it('memparse takes K/M/G suffixes and hex/octal numbers and refuses trailing junk', () => {
    expect(memparse('64M')).toBe(64 * MiB);
    expect(memparse('2g')).toBe(2 * 1024 * MiB);
    expect(memparse('512k')).toBe(512 * 1024);
    expect(memparse('0x1000')).toBe(4096);
    expect(memparse('010')).toBe(8);
    expect(memparse('0')).toBe(0);
    expect(memparse('12Q')).toBeUndefined();
    expect(memparse('')).toBeUndefined();
    expect(memparse('M')).toBeUndefined();
  });

  it('parse_cmdline keeps movablecore/kernelcore/swapbytes for mm and does not pass them to init', () => {
    const p = parse_cmdline('movablecore=25% kernelcore=96M swapbytes=8M foo=1');
    expect(p.movablecore).toEqual({ percent: 25 });
    expect(p.kernelcore).toEqual({ bytes: 96 * MiB });
    expect(p.swapBytes).toBe(8 * MiB);
    expect(p.initEnv).toContain('foo=1');
    expect(p.initEnv.some((w) => /core|swap/.test(w))).toBe(false);
    expect(parse_cmdline('movablecore=101%').movablecore).toBeUndefined();
    expect(parse_cmdline('kernelcore=mirror').kernelcore).toBeUndefined();
  });

  it('movablecore=48M makes ZONE_MOVABLE 48 MiB', () => {
    expect(boot('movablecore=48M').movableMiB).toBe(48);
  });

  it('movablecore=50% makes half of RAM movable', () => {
    expect(boot('movablecore=50%').movableMiB).toBe(64);
  });

  it('kernelcore=80M leaves 48 MiB movable and wins over movablecore', () => {
    expect(boot('kernelcore=80M movablecore=64M').movableMiB).toBe(48);
  });

  it('kernelcore=mirror is refused with a warning; the default split stays', () => {
    const b = boot('kernelcore=mirror');
    expect(b.r.console).toContain('kernelcore=mirror: this machine has no mirrored memory, ignored');
    expect(b.movableMiB).toBe(32);
  });

  it('swapbytes=8M sizes the swap area (less its header page, as SwapTotal) and swapbytes=0 boots without swap', () => {
    expect(boot('swapbytes=8M').swapKb).toBe(8 * 1024 - 4);
    expect(boot('swapbytes=0').swapKb).toBe(0);
    expect(boot('').swapKb).toBe(32 * 1024 - 4);
  });
});
