// grep [-q] [-v] [-c] [-i] [-F] PATTERN [FILE...]: lines matching a regular
// expression (JavaScript syntax, close to ERE) or a fixed string with -F.

import type { Libc } from '../libc/libc.js';

export function* grepMain(c: Libc, argv: string[]): Generator<unknown, number, unknown> {
  c.progname = 'grep';
  const flags = new Set<string>();
  const rest: string[] = [];
  for (const a of argv.slice(1)) {
    if (/^-[qvciFE]+$/.test(a)) for (const f of a.slice(1)) flags.add(f);
    else rest.push(a);
  }
  const pattern = rest.shift();
  if (pattern === undefined) {
    yield* c.err('usage: grep [-qvciF] PATTERN [FILE...]\n');
    return 2;
  }
  let re: RegExp;
  try {
    re = new RegExp(flags.has('F') ? pattern.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&') : pattern, flags.has('i') ? 'i' : '');
  } catch {
    yield* c.err(`grep: invalid regular expression '${pattern}'\n`);
    return 2;
  }
  if (rest.length === 0) rest.push('-');
  let matched = 0;
  let trouble = false;
  const dec = new TextDecoder();
  for (const f of rest) {
    const d = f === '-' ? yield* c.readAll(0) : yield* c.readFile(f);
    if (typeof d === 'number') {
      yield* c.perror(f, d);
      trouble = true;
      continue;
    }
    const lines = dec.decode(d).split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    let count = 0;
    for (const line of lines) {
      if (re.test(line) !== flags.has('v')) {
        count++;
        if (flags.has('q')) return 0;
        if (!flags.has('c')) yield* c.out((rest.length > 1 ? `${f}:` : '') + line + '\n');
      }
    }
    if (flags.has('c')) yield* c.out((rest.length > 1 ? `${f}:` : '') + count + '\n');
    matched += count;
  }
  return trouble ? 2 : matched > 0 ? 0 : 1;
}
