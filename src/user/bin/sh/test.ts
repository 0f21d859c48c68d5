// test / [ (XCU test): unary file and string primaries, binary string and integer
// comparisons, ! -a -o and parentheses. File facts come from the caller (stat(2)).

export interface FileFacts {
  /** st_mode, or undefined when the file does not exist. */
  readonly mode: number | undefined;
  readonly size: number;
  readonly uid: number;
}

export type StatFn = (path: string, follow: boolean) => Generator<unknown, FileFacts, unknown>;

export class TestError extends Error {}

const S_IFMT = 0o170000;
const UNARY_FILE = new Set(['-e', '-f', '-d', '-c', '-b', '-p', '-h', '-L', '-S', '-r', '-w', '-x', '-s']);
const BINARY = new Set(['=', '==', '!=', '-eq', '-ne', '-lt', '-le', '-gt', '-ge', '<', '>']);

function int(s: string): bigint {
  const t = s.trim();
  if (!/^[-+]?[0-9]+$/.test(t)) throw new TestError(`${s}: integer expression expected`);
  return BigInt(t);
}

/** Evaluates test's arguments (without the closing "]"): 0 true, 1 false; throws TestError (status 2). */
export function* evalTest(args: readonly string[], stat: StatFn, euid: number): Generator<unknown, number, unknown> {
  let i = 0;
  const peek = (): string | undefined => args[i];

  function* primary(): Generator<unknown, boolean, unknown> {
    const a = args[i];
    if (a === undefined) throw new TestError('argument expected');
    if (a === '!') {
      i++;
      return !(yield* primary());
    }
    if (a === '(' && args.length - i > 2) {
      i++;
      const v = yield* orExpr();
      if (args[i] !== ')') throw new TestError('missing ")"');
      i++;
      return v;
    }
    const op = args[i + 1];
    if (op !== undefined && BINARY.has(op) && i + 2 < args.length) {
      const b = args[i + 2]!;
      i += 3;
      switch (op) {
        case '=':
        case '==':
          return a === b;
        case '!=':
          return a !== b;
        case '<':
          return a < b;
        case '>':
          return a > b;
        case '-eq':
          return int(a) === int(b);
        case '-ne':
          return int(a) !== int(b);
        case '-lt':
          return int(a) < int(b);
        case '-le':
          return int(a) <= int(b);
        case '-gt':
          return int(a) > int(b);
        default:
          return int(a) >= int(b);
      }
    }
    if ((a === '-n' || a === '-z') && i + 1 < args.length) {
      const s = args[i + 1]!;
      i += 2;
      return a === '-n' ? s.length > 0 : s.length === 0;
    }
    if (UNARY_FILE.has(a) && i + 1 < args.length) {
      const path = args[i + 1]!;
      i += 2;
      const f = yield* stat(path, a !== '-h' && a !== '-L');
      if (f.mode === undefined) return false;
      const fmt = f.mode & S_IFMT;
      switch (a) {
        case '-e':
          return true;
        case '-f':
          return fmt === 0o100000;
        case '-d':
          return fmt === 0o040000;
        case '-c':
          return fmt === 0o020000;
        case '-b':
          return fmt === 0o060000;
        case '-p':
          return fmt === 0o010000;
        case '-S':
          return fmt === 0o140000;
        case '-h':
        case '-L':
          return fmt === 0o120000;
        case '-s':
          return f.size > 0;
        case '-r':
          return euid === 0 || (f.mode & (f.uid === euid ? 0o400 : 0o004)) !== 0;
        case '-w':
          return euid === 0 || (f.mode & (f.uid === euid ? 0o200 : 0o002)) !== 0;
        default:
          return (f.mode & 0o111) !== 0 && (euid === 0 || (f.mode & (f.uid === euid ? 0o100 : 0o001)) !== 0);
      }
    }
    i++;
    return a.length > 0;
  }

  function* andExpr(): Generator<unknown, boolean, unknown> {
    let v = yield* primary();
    while (peek() === '-a') {
      i++;
      const r = yield* primary();
      v = v && r;
    }
    return v;
  }

  function* orExpr(): Generator<unknown, boolean, unknown> {
    let v = yield* andExpr();
    while (peek() === '-o') {
      i++;
      const r = yield* andExpr();
      v = v || r;
    }
    return v;
  }

  if (args.length === 0) return 1;
  const v = yield* orExpr();
  if (i < args.length) throw new TestError(`${args[i]}: unexpected operator`);
  return v ? 0 : 1;
}
