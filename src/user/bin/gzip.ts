// gzip / gunzip / zcat in software (pako, RFC 1952), the reference the ZIP
// accelerator is compared with. gzip [-c] [-d] [-k] [-f] [-1..-9] [FILE...]:
// FILE becomes FILE.gz (removed unless -k); -c writes to standard output; no FILE
// (or "-") filters standard input to standard output.

import { gzip as pakoGzip, ungzip } from 'pako';
import type { Libc } from '../libc/libc.js';
import { O_CREAT, O_EXCL, O_TRUNC, O_WRONLY } from '../libc/uapi.js';

type Level = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;

/** Compresses with a fixed header (mtime 0, no name): the same input gives the same bytes. */
export function gzipBytes(data: Uint8Array, level: Level = 6): Uint8Array {
  return pakoGzip(data, { level });
}

/** Decompresses every member; undefined when the data is not valid gzip. */
export function gunzipBytes(data: Uint8Array): Uint8Array | undefined {
  try {
    return ungzip(data);
  } catch {
    return undefined;
  }
}

function tool(defaultDecompress: boolean, defaultStdout: boolean, name: string) {
  return function* main(c: Libc, argv: string[]): Generator<unknown, number, unknown> {
    c.progname = name;
    let decompress = defaultDecompress;
    let toStdout = defaultStdout;
    let keep = false;
    let force = false;
    let level: Level = 6;
    const files: string[] = [];
    for (const a of argv.slice(1)) {
      if (a.startsWith('-') && a.length > 1) {
        for (const f of a.slice(1)) {
          if (f === 'd') decompress = true;
          else if (f === 'c') toStdout = true;
          else if (f === 'k') keep = true;
          else if (f === 'f') force = true;
          else if (f >= '1' && f <= '9') level = Number(f) as Level;
          else if (f === 'n' || f === 'q' || f === 'v') continue;
          else {
            yield* c.err(`${name}: invalid option -- '${f}'\n`);
            return 1;
          }
        }
      } else files.push(a);
    }
    if (files.length === 0) files.push('-');
    let status = 0;
    for (const f of files) {
      const input = f === '-' ? yield* c.readAll(0) : yield* c.readFile(f);
      if (typeof input === 'number') {
        yield* c.perror(f, input);
        status = 1;
        continue;
      }
      let output: Uint8Array;
      if (decompress) {
        const d = gunzipBytes(input);
        if (d === undefined) {
          yield* c.err(`${name}: ${f}: not in gzip format\n`);
          status = 1;
          continue;
        }
        output = d;
      } else output = gzipBytes(input, level);
      if (toStdout || f === '-') {
        yield* c.flushAll();
        const w = yield* c.write(1, output);
        if (w < 0) {
          yield* c.perror('write error', w);
          return 1;
        }
        continue;
      }
      let target: string;
      if (decompress) {
        if (!f.endsWith('.gz')) {
          yield* c.err(`${name}: ${f}: unknown suffix -- ignored\n`);
          status = 2;
          continue;
        }
        target = f.slice(0, -3);
      } else target = f + '.gz';
      const fd = yield* c.open(target, O_WRONLY | O_CREAT | O_TRUNC | (force ? 0 : O_EXCL), 0o644);
      if (fd < 0) {
        yield* c.perror(target, fd);
        status = 1;
        continue;
      }
      const w = yield* c.write(fd, output);
      yield* c.close(fd);
      if (w < 0) {
        yield* c.perror(target, w);
        status = 1;
        continue;
      }
      if (!keep) yield* c.unlink(f);
    }
    return status;
  };
}

export const gzipMain = tool(false, false, 'gzip');
export const gunzipMain = tool(true, false, 'gunzip');
export const zcatMain = tool(true, true, 'zcat');
