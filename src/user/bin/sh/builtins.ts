// Shell builtins (XCU 2.14 special builtins and the regular ones a small shell keeps
// in-process): they run in the shell process with its redirections applied.

import type { Shell, ShellGen } from './shell.js';
import { LoopControl, ReturnControl, statusOfWait } from './shell.js';
import { evalTest, TestError, type FileFacts } from './test.js';
import { sprintf, type PrintfArg } from '../../libc/printf.js';
import { strerror } from '../../libc/errno.js';
import { AT_SYMLINK_NOFOLLOW } from '../../libc/uapi.js';
import { trapBuiltin } from './trap.js';

export type Builtin = (sh: Shell, argv: string[]) => ShellGen;

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

function* cd(sh: Shell, argv: string[]): ShellGen {
  let dir = argv[1] ?? sh.getVar('HOME') ?? '/';
  if (dir === '-') dir = sh.getVar('OLDPWD') ?? '/';
  const r = yield* sh.c.chdir(dir);
  if (r < 0) {
    yield* sh.c.err(`sh: cd: ${dir}: ${strerror(r)}\n`);
    return 1;
  }
  const old = sh.getVar('PWD');
  if (old !== undefined) sh.setVar('OLDPWD', old);
  const cwd = yield* sh.c.getcwd();
  sh.setVar('PWD', typeof cwd === 'string' ? cwd : dir);
  return 0;
}

function* pwd(sh: Shell): ShellGen {
  const cwd = yield* sh.c.getcwd();
  if (typeof cwd === 'number') {
    yield* sh.c.err(`sh: pwd: ${strerror(cwd)}\n`);
    return 1;
  }
  yield* sh.c.out(cwd + '\n');
  return 0;
}

function* exit(sh: Shell, argv: string[]): ShellGen {
  const n = argv[1] === undefined ? sh.status : Number(argv[1]);
  const status = Number.isInteger(n) ? n & 0xff : 2;
  return yield* sh.c.exit(status);
}

function* exportB(sh: Shell, argv: string[]): ShellGen {
  if (argv.length === 1 || argv[1] === '-p') {
    for (const [k, v] of [...sh.vars].sort(([a], [b]) => (a < b ? -1 : 1))) if (v.exported) yield* sh.c.out(`export ${k}='${v.value.replace(/'/g, "'\\''")}'\n`);
    return 0;
  }
  let s = 0;
  for (const a of argv.slice(1)) {
    const eq = a.indexOf('=');
    const name = eq < 0 ? a : a.slice(0, eq);
    if (!NAME_RE.test(name)) {
      yield* sh.c.err(`sh: export: ${a}: bad variable name\n`);
      s = 1;
      continue;
    }
    if (eq >= 0) sh.setVar(name, a.slice(eq + 1), true);
    else sh.exportVar(name);
  }
  return s;
}

function* unset(sh: Shell, argv: string[]): ShellGen {
  for (const a of argv.slice(1)) {
    if (a === '-v') continue;
    if (a === '-f') continue;
    if (argv[1] === '-f') sh.funcs.delete(a);
    else sh.unsetVar(a);
  }
  return 0;
}

function* set(sh: Shell, argv: string[]): ShellGen {
  if (argv.length === 1) {
    for (const [k, v] of [...sh.vars].sort(([a], [b]) => (a < b ? -1 : 1))) yield* sh.c.out(`${k}='${v.value.replace(/'/g, "'\\''")}'\n`);
    return 0;
  }
  let i = 1;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      i++;
      sh.positional = argv.slice(i);
      return 0;
    }
    if ((a[0] === '-' || a[0] === '+') && a.length > 1) {
      const on = a[0] === '-';
      for (const f of a.slice(1)) {
        if (f === 'e') sh.opts.errexit = on;
        else if (f === 'x') sh.opts.xtrace = on;
        else if (f === 'f') sh.opts.noglob = on;
        else if (f === 'o' || f === 'u' || f === 'v' || f === 'C' || f === 'm') continue;
        else {
          yield* sh.c.err(`sh: set: -${f}: invalid option\n`);
          return 2;
        }
      }
      continue;
    }
    break;
  }
  if (i < argv.length) sh.positional = argv.slice(i);
  return 0;
}

function* shift(sh: Shell, argv: string[]): ShellGen {
  const n = argv[1] === undefined ? 1 : Number(argv[1]);
  if (!Number.isInteger(n) || n < 0 || n > sh.positional.length) {
    yield* sh.c.err(`sh: shift: can't shift that many\n`);
    return 1;
  }
  sh.positional = sh.positional.slice(n);
  return 0;
}

/** echo with -n and -e (backslash escapes), as most shells' builtin echo. */
export function echoText(args: readonly string[]): string {
  let newline = true;
  let escapes = false;
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (!/^-[neE]+$/.test(a)) break;
    for (const f of a.slice(1)) {
      if (f === 'n') newline = false;
      else if (f === 'e') escapes = true;
      else escapes = false;
    }
  }
  let text = args.slice(i).join(' ');
  if (escapes) {
    const cut = text.indexOf('\\c');
    if (cut >= 0) {
      text = text.slice(0, cut);
      newline = false;
    }
    text = unescapeC(text);
  }
  return newline ? text + '\n' : text;
}

/** Backslash escapes of echo -e and printf: \n \t \\ \0NNN \xHH ... */
export function unescapeC(s: string): string {
  return s.replace(/\\(0[0-7]{0,3}|x[0-9a-fA-F]{1,2}|[abefnrtv\\])/g, (_m, e: string) => {
    switch (e[0]) {
      case 'a':
        return '\x07';
      case 'b':
        return '\b';
      case 'e':
        return '\x1b';
      case 'f':
        return '\f';
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case 't':
        return '\t';
      case 'v':
        return '\v';
      case '\\':
        return '\\';
      case 'x':
        return String.fromCharCode(parseInt(e.slice(1), 16));
      default:
        return String.fromCharCode(parseInt(e.slice(1) || '0', 8));
    }
  });
}

function* echo(sh: Shell, argv: string[]): ShellGen {
  const r = yield* sh.c.out(echoText(argv.slice(1)));
  return r < 0 ? 1 : 0;
}

/** printf FORMAT [ARG...]: the format is reused while arguments remain (XCU printf). */
export function printfText(fmt: string, args: readonly string[]): string {
  const f = unescapeC(fmt);
  const convs = (f.replace(/%%/g, '').match(/%[-+ #0]*[0-9*]*(\.[0-9*]*)?[hlLqjzt]*[diouxXcsfFeEgGb]/g) ?? []).length;
  const toArg = (a: string): PrintfArg => (/^[-+]?(0x[0-9a-fA-F]+|[0-9]+)$/.test(a) ? (a.startsWith('0x') || a.startsWith('-0x') || a.startsWith('+0x') ? Number(a) : Number(a)) : /^[-+]?[0-9]*\.[0-9]+$/.test(a) ? Number(a) : a);
  if (convs === 0) return f;
  let out = '';
  let i = 0;
  do {
    const chunk = args.slice(i, i + convs);
    // %d on a missing argument prints 0, %s prints "" (XCU printf).
    const fmtArgs = chunk.map(toArg);
    out += sprintf(f.replace(/%b/g, '%s'), ...fmtArgs, ...new Array<PrintfArg>(Math.max(0, convs - chunk.length)).fill(''));
    i += convs;
  } while (i < args.length);
  return out;
}

function* printfB(sh: Shell, argv: string[]): ShellGen {
  if (argv.length < 2) {
    yield* sh.c.err('sh: printf: usage: printf format [arguments]\n');
    return 2;
  }
  yield* sh.c.out(printfText(argv[1]!, argv.slice(2)));
  return 0;
}

function* read(sh: Shell, argv: string[]): ShellGen {
  let raw = false;
  const names: string[] = [];
  for (const a of argv.slice(1)) {
    if (a === '-r') raw = true;
    else names.push(a);
  }
  if (names.length === 0) names.push('REPLY');
  // Read byte by byte so the rest of the input stays for the next reader (as shells do on pipes).
  let line = '';
  let got = false;
  const bytes: number[] = [];
  for (;;) {
    const r = yield* sh.c.read(0, 1);
    if (typeof r === 'number' || r.length === 0) break;
    got = true;
    if (r[0] === 10) {
      if (!raw && bytes.length > 0 && bytes[bytes.length - 1] === 0x5c) {
        bytes.pop();
        continue;
      }
      break;
    }
    bytes.push(r[0]!);
  }
  line = new TextDecoder().decode(new Uint8Array(bytes));
  if (!raw) line = line.replace(/\\(.)/g, '$1');
  const ifs = sh.getVar('IFS') ?? ' \t\n';
  const isSep = (ch: string): boolean => ifs.includes(ch);
  let rest = line;
  for (let i = 0; i < names.length; i++) {
    let s = 0;
    while (s < rest.length && isSep(rest[s]!)) s++;
    rest = rest.slice(s);
    if (i === names.length - 1) {
      let e = rest.length;
      while (e > 0 && isSep(rest[e - 1]!)) e--;
      sh.setVar(names[i]!, rest.slice(0, e));
      break;
    }
    let e = 0;
    while (e < rest.length && !isSep(rest[e]!)) e++;
    sh.setVar(names[i]!, rest.slice(0, e));
    rest = rest.slice(e);
  }
  return got ? 0 : 1;
}

function* wait(sh: Shell, argv: string[]): ShellGen {
  if (argv.length > 1) {
    let s = 0;
    for (const a of argv.slice(1)) {
      const pid = Number(a.replace(/^%/, ''));
      if (!Number.isInteger(pid) || pid <= 0) {
        yield* sh.c.err(`sh: wait: ${a}: bad pid\n`);
        s = 2;
        continue;
      }
      s = yield* sh.waitFor(pid, true);
      if (s > 128 && sh.jobs.includes(pid)) return s;
    }
    return s;
  }
  let s = 0;
  for (const pid of [...sh.jobs]) {
    s = yield* sh.waitFor(pid, true);
    if (s > 128 && sh.jobs.includes(pid)) return s; // interrupted by a trapped signal
  }
  // Reap anything else left (children of exec'd commands that outlived them).
  for (;;) {
    const r = yield* sh.c.wait4(-1, 1 /* WNOHANG */);
    if (typeof r === 'number' || r.pid === 0) break;
    s = statusOfWait(r.status);
  }
  return s;
}

function* test(sh: Shell, argv: string[]): ShellGen {
  let args = argv.slice(1);
  if (argv[0] === '[') {
    if (args[args.length - 1] !== ']') {
      yield* sh.c.err('sh: [: missing "]"\n');
      return 2;
    }
    args = args.slice(0, -1);
  }
  const euid = yield* sh.c.geteuid();
  const statFn = function* (path: string, follow: boolean): Generator<unknown, FileFacts, unknown> {
    const st = yield* sh.c.stat(path, follow ? 0 : AT_SYMLINK_NOFOLLOW);
    if (typeof st === 'number') return { mode: undefined, size: 0, uid: 0 };
    return { mode: st['st_mode'] as number, size: st['st_size'] as number, uid: st['st_uid'] as number };
  };
  try {
    return yield* evalTest(args, statFn, euid);
  } catch (e) {
    if (!(e instanceof TestError)) throw e;
    yield* sh.c.err(`sh: ${argv[0]}: ${e.message}\n`);
    return 2;
  }
}

function* evalB(sh: Shell, argv: string[]): ShellGen {
  return yield* sh.runSource(argv.slice(1).join(' '), 'sh: eval');
}

function* dot(sh: Shell, argv: string[]): ShellGen {
  const file = argv[1];
  if (file === undefined) {
    yield* sh.c.err('sh: .: filename argument required\n');
    return 2;
  }
  const text = yield* sh.c.readFile(file);
  if (typeof text === 'number') {
    yield* sh.c.err(`sh: .: ${file}: ${strerror(text)}\n`);
    return 1;
  }
  return yield* sh.runSource(new TextDecoder().decode(text), file);
}

function* returnB(sh: Shell, argv: string[]): ShellGen {
  throw new ReturnControl(argv[1] === undefined ? sh.status : Number(argv[1]) & 0xff);
}

function* loopCtl(sh: Shell, argv: string[]): ShellGen {
  const n = argv[1] === undefined ? 1 : Number(argv[1]);
  if (!Number.isInteger(n) || n < 1) {
    yield* sh.c.err(`sh: ${argv[0]}: bad number\n`);
    return 1;
  }
  throw new LoopControl(argv[0] === 'break' ? 'break' : 'continue', n);
}

function* typeB(sh: Shell, argv: string[]): ShellGen {
  let s = 0;
  for (const n of argv.slice(1)) {
    if (sh.funcs.has(n)) yield* sh.c.out(`${n} is a function\n`);
    else if (BUILTINS.has(n)) yield* sh.c.out(`${n} is a shell builtin\n`);
    else {
      const p = yield* sh.lookPath(n);
      if (p === undefined) {
        yield* sh.c.out(`${n}: not found\n`);
        s = 1;
      } else yield* sh.c.out(`${n} is ${p}\n`);
    }
  }
  return s;
}

function* trueB(): ShellGen {
  return 0;
}
function* falseB(): ShellGen {
  return 1;
}

export const BUILTINS: ReadonlyMap<string, Builtin> = new Map<string, Builtin>([
  [':', trueB],
  ['true', trueB],
  ['false', falseB],
  ['cd', cd],
  ['pwd', pwd],
  ['exit', exit],
  ['export', exportB],
  ['unset', unset],
  ['set', set],
  ['shift', shift],
  ['echo', echo],
  ['printf', printfB],
  ['read', read],
  ['wait', wait],
  ['test', test],
  ['[', test],
  ['eval', evalB],
  ['.', dot],
  ['source', dot],
  ['return', returnB],
  ['break', loopCtl],
  ['continue', loopCtl],
  ['type', typeB],
  ['trap', function* trap(sh: Shell, argv: string[]): ShellGen {
    return yield* trapBuiltin(sh.c, sh.traps, argv);
  }],
  // exec is handled by the shell itself (it keeps its redirections).
  ['exec', trueB],
]);
