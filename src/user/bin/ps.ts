// ps: one line per process from /proc/<pid>/status (Name, State, PPid, Uid) and
// /proc/<pid>/cmdline.

import type { Libc } from '../libc/libc.js';

/** Fields of a /proc/<pid>/status text ("Key:\tvalue" lines). */
export function parseStatus(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return m;
}

export function* psMain(c: Libc): Generator<unknown, number, unknown> {
  c.progname = 'ps';
  const ents = yield* c.readdir('/proc');
  if (typeof ents === 'number') {
    yield* c.perror('/proc', ents);
    return 1;
  }
  const pids = ents.map((e) => e.name).filter((n) => /^[0-9]+$/.test(n)).map(Number).sort((a, b) => a - b);
  yield* c.out('  PID  PPID USER     STAT COMMAND\n');
  const dec = new TextDecoder();
  for (const pid of pids) {
    const st = yield* c.readFile(`/proc/${pid}/status`);
    if (typeof st === 'number') continue;
    const f = parseStatus(dec.decode(st));
    const cmd = yield* c.readFile(`/proc/${pid}/cmdline`);
    let command = typeof cmd === 'number' || cmd.length === 0 ? `[${f.get('Name') ?? '?'}]` : dec.decode(cmd).replace(/\0+$/, '').replace(/\0/g, ' ');
    if (command.length > 60) command = command.slice(0, 60);
    const uid = (f.get('Uid') ?? '0').split(/\s+/)[0]!;
    const user = uid === '0' ? 'root' : uid;
    const state = (f.get('State') ?? '?').slice(0, 1);
    yield* c.printf('%5d %5s %-8s %-4s %s\n', pid, f.get('PPid') ?? '?', user, state, command);
  }
  return 0;
}
