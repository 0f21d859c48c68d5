// free: memory totals from /proc/meminfo in KiB, laid out as procps free(1) does.

import type { Libc } from '../libc/libc.js';

export function parseMeminfo(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const r = /^([A-Za-z0-9_()]+):\s+([0-9]+)/.exec(line);
    if (r) m.set(r[1]!, Number(r[2]));
  }
  return m;
}

/** The table free(1) prints for /proc/meminfo values (KiB). */
export function freeTable(m: Map<string, number>): string {
  const g = (k: string): number => m.get(k) ?? 0;
  const total = g('MemTotal');
  const free = g('MemFree');
  const buffCache = g('Buffers') + g('Cached') + g('SReclaimable');
  const used = Math.max(0, total - free - buffCache);
  const avail = m.get('MemAvailable') ?? free + buffCache;
  const col = (n: number | string): string => String(n).padStart(12);
  let out = `       ${col('total')}${col('used')}${col('free')}${col('shared')}${col('buff/cache')}${col('available')}\n`;
  out += `Mem:   ${col(total)}${col(used)}${col(free)}${col(g('Shmem'))}${col(buffCache)}${col(avail)}\n`;
  const st = g('SwapTotal');
  const sf = g('SwapFree');
  out += `Swap:  ${col(st)}${col(st - sf)}${col(sf)}\n`;
  return out;
}

export function* freeMain(c: Libc): Generator<unknown, number, unknown> {
  c.progname = 'free';
  const t = yield* c.readFile('/proc/meminfo');
  if (typeof t === 'number') {
    yield* c.perror('/proc/meminfo', t);
    return 1;
  }
  yield* c.out(freeTable(parseMeminfo(new TextDecoder().decode(t))));
  return 0;
}
