// hexdump [-C] [FILE...]: -C is the canonical hex+ASCII display; without it, the
// default format (offset, then eight little-endian 16-bit words per line). A run of
// identical lines prints as "*".

import type { Libc } from '../libc/libc.js';
import { concat } from '../libc/stdio.js';

const hex = (n: number, w: number): string => n.toString(16).padStart(w, '0');

export function hexdumpText(data: Uint8Array, canonical: boolean): string {
  let out = '';
  let prev: string | undefined;
  let starred = false;
  for (let off = 0; off < data.length; off += 16) {
    const row = data.subarray(off, off + 16);
    const key = Array.from(row).join(',');
    if (key === prev && row.length === 16) {
      if (!starred) out += '*\n';
      starred = true;
      continue;
    }
    prev = key;
    starred = false;
    if (canonical) {
      let h = '';
      let a = '';
      for (let i = 0; i < 16; i++) {
        h += i < row.length ? hex(row[i]!, 2) + ' ' : '   ';
        if (i === 7) h += ' ';
        if (i < row.length) a += row[i]! >= 0x20 && row[i]! < 0x7f ? String.fromCharCode(row[i]!) : '.';
      }
      out += `${hex(off, 8)}  ${h} |${a}|\n`;
    } else {
      const words: string[] = [];
      for (let i = 0; i < row.length; i += 2) words.push(hex(row[i]! | ((row[i + 1] ?? 0) << 8), 4));
      out += `${hex(off, 7)} ${words.join(' ')}\n`;
    }
  }
  if (data.length > 0 || canonical) out += canonical ? `${hex(data.length, 8)}\n` : `${hex(data.length, 7)}\n`;
  return out;
}

export function* hexdumpMain(c: Libc, argv: string[]): Generator<unknown, number, unknown> {
  c.progname = 'hexdump';
  const canonical = argv.includes('-C');
  const files = argv.slice(1).filter((a) => a !== '-C');
  const parts: Uint8Array[] = [];
  let status = 0;
  if (files.length === 0) files.push('-');
  for (const f of files) {
    const d = f === '-' ? yield* c.readAll(0) : yield* c.readFile(f);
    if (typeof d === 'number') {
      yield* c.perror(f, d);
      status = 1;
      continue;
    }
    parts.push(d);
  }
  yield* c.out(hexdumpText(concat(parts), canonical));
  return status;
}
