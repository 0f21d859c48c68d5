// dmesg: the kernel log, read with syslog(2) SYSLOG_ACTION_READ_ALL (as util-linux
// does), or from /dev/kmsg records ("prio,seq,usec,flags;text") when syslog is absent.

import type { Libc } from '../libc/libc.js';
import { sys, isErr } from '../libc/syscall.js';
import { thisCpu } from '../../arch/index.js';
import { O_NONBLOCK } from '../libc/uapi.js';

const SYSLOG_ACTION_READ_ALL = 3;
const SYSLOG_ACTION_SIZE_BUFFER = 10;

/** One /dev/kmsg record as dmesg prints it: "[seconds.micros] text". */
export function formatKmsgRecord(rec: string): string | undefined {
  const semi = rec.indexOf(';');
  if (semi < 0) return undefined;
  const f = rec.slice(0, semi).split(',');
  const usec = Number(f[2] ?? 0);
  const text = rec.slice(semi + 1).replace(/\n.*$/s, '');
  return `[${String(Math.floor(usec / 1e6)).padStart(5)}.${String(usec % 1e6).padStart(6, '0')}] ${text}\n`;
}

export function* dmesgMain(c: Libc): Generator<unknown, number, unknown> {
  c.progname = 'dmesg';
  const size = yield* sys('syslog', SYSLOG_ACTION_SIZE_BUFFER, 0, 0);
  if (!isErr(size) && size > 0) {
    const len = Math.min(size, 4 << 20);
    const buf = yield* c.malloc(len);
    if (buf !== 0) {
      const n = yield* sys('syslog', SYSLOG_ACTION_READ_ALL, buf, len);
      if (!isErr(n)) {
        const bytes = new Uint8Array(n);
        thisCpu().readVirt(buf, bytes, 0, n);
        yield* c.flushAll();
        yield* c.write(1, bytes);
        yield* c.free(buf);
        return 0;
      }
      yield* c.free(buf);
    }
  }
  const fd = yield* c.open('/dev/kmsg', O_NONBLOCK);
  if (fd < 0) {
    yield* c.perror('read kernel buffer failed', fd);
    return 1;
  }
  const dec = new TextDecoder();
  for (;;) {
    const r = yield* c.read(fd, 8192);
    if (typeof r === 'number' || r.length === 0) break;
    const line = formatKmsgRecord(dec.decode(r));
    if (line !== undefined) yield* c.out(line);
  }
  yield* c.close(fd);
  return 0;
}
