import { describe, it, expect } from 'vitest';
import { parse, ParseError } from '../../src/user/bin/sh/parse.js';
import type { Node, Word } from '../../src/user/bin/sh/ast.js';
import { evalArith } from '../../src/user/bin/sh/arith.js';
import { matchPattern, patternToRegExp } from '../../src/user/bin/sh/pattern.js';
import { evalTest, TestError, type FileFacts } from '../../src/user/bin/sh/test.js';
import { echoText, printfText, unescapeC } from '../../src/user/bin/sh/builtins.js';

function items(src: string): Node[] {
  const t = parse(src);
  if (t.type !== 'list') throw new Error('not a list');
  return t.items.map((i) => i.node);
}

function simple(n: Node): Extract<Node, { type: 'simple' }> {
  if (n.type !== 'simple') throw new Error(`expected simple, got ${n.type}`);
  return n;
}

/** A word's parts in a compact form: lit "x" / 'q:x' quoted / $name / $(..) / $((..)). */
function show(w: Word): string[] {
  return w.parts.map((p) => (p.t === 'lit' ? (p.q ? `q:${p.s}` : p.s) : p.t === 'param' ? `$${p.name}${p.op}${p.q ? '(q)' : ''}` : p.t === 'cmd' ? '$(..)' : `$((${p.expr}))`));
}

function runSync<T>(g: Generator<unknown, T, unknown>): T {
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
  }
}

describe('sh token recognition (XCU 2.3) and quoting (2.2)', () => {
  it('XCU 2.2.2: single quotes keep every character literal, including $ and \\', () => {
    const w = simple(items(`echo 'a $b \\c'`)[0]!).words[1]!;
    expect(show(w)).toEqual(['q:a $b \\c']);
  });

  it('XCU 2.2.3: double quotes keep $ expansions, \\ escapes only $ ` " \\ newline', () => {
    const w = simple(items(`echo "x $HOME \\$y \\n"`)[0]!).words[1]!;
    expect(show(w)).toEqual(['q:x ', '$HOME(q)', 'q: $y \\n']);
  });

  it('XCU 2.2.1: backslash quotes the next character; backslash-newline is removed', () => {
    const w = simple(items('echo a\\ b\\\nc')[0]!).words;
    expect(w.length).toBe(2);
    expect(show(w[1]!).join('|')).toBe('a|q: |bc');
  });

  it('XCU 2.6.2: ${name op word} forms, ${#name}, special parameters', () => {
    const ws = simple(items('echo ${A:-d} ${B=x} ${#C} $? $$ $# $1 ${10} $@')[0]!).words.slice(1);
    expect(ws.map((w) => show(w).join(''))).toEqual(['$A:-', '$B=', '$C#', '$?', '$$', '$#', '$1', '$10', '$@']);
  });

  it('XCU 2.6.3/2.6.4: $(...) and `...` parse as nested programs; $((...)) keeps its expression', () => {
    const ws = simple(items('echo $(ls | cat) `pwd` $((1 + 2*3))')[0]!).words.slice(1);
    expect(ws.map((w) => show(w).join(''))).toEqual(['$(..)', '$(..)', '$((1 + 2*3))']);
    const sub = ws[0]!.parts[0]!;
    expect(sub.t === 'cmd' && sub.body.type === 'list' && sub.body.items[0]!.node.type).toBe('pipeline');
  });

  it('a # at the start of a word begins a comment; inside a word it does not', () => {
    const n = simple(items('echo a#b # comment')[0]!);
    expect(n.words.map((w) => show(w).join(''))).toEqual(['echo', 'a#b']);
  });

  it('NAME=value words before the command are assignments; after it they are arguments', () => {
    const n = simple(items('A=1 B="x y" cmd C=2')[0]!);
    expect(n.assigns.map((a) => a.name)).toEqual(['A', 'B']);
    expect(n.words.map((w) => show(w).join(''))).toEqual(['cmd', 'C=2']);
  });
});

describe('sh grammar (XCU 2.9, 2.10)', () => {
  it('; & and newlines separate commands; & marks background', () => {
    const t = parse('a; b & c\nd');
    expect(t.type === 'list' && t.items.map((i) => i.bg)).toEqual([false, true, false, false]);
  });

  it('&& and || form an and-or list, left-associative', () => {
    const n = items('a && b || c')[0]!;
    expect(n.type).toBe('andor');
    if (n.type === 'andor') expect(n.rest.map((r) => r.op)).toEqual(['&&', '||']);
  });

  it('| forms a pipeline; ! negates it', () => {
    const n = items('! a | b | c')[0]!;
    expect(n.type === 'pipeline' && n.bang && n.cmds.length).toBe(3);
  });

  it('redirections: > >> < 2>&1 <> with IO numbers and default fds', () => {
    const n = simple(items('cmd >out 2>>err <in 2>&1 3<>rw')[0]!);
    expect(n.redirs.map((r) => [r.fd, r.op, show(r.target).join('')])).toEqual([
      [1, '>', 'out'],
      [2, '>>', 'err'],
      [0, '<', 'in'],
      [2, '>&', '1'],
      [3, '<>', 'rw'],
    ]);
  });

  it('if/elif/else/fi, for/in/do/done, while and until', () => {
    const [i, f, w, u] = items('if a; then b; elif c; then d; else e; fi\nfor x in 1 2 3; do echo $x; done\nwhile a; do b; done\nuntil a; do b; done');
    expect(i!.type === 'if' && i!.clauses.length === 2 && i!.else !== null).toBe(true);
    expect(f!.type === 'for' && f!.name === 'x' && f!.words!.length).toBe(3);
    expect(w!.type === 'while' && !w!.until).toBe(true);
    expect(u!.type === 'while' && u!.until).toBe(true);
  });

  it('keywords are recognised only unquoted and in command position', () => {
    const n = simple(items('echo if then "fi"')[0]!);
    expect(n.words.length).toBe(4);
  });

  it('{ list; } groups, ( list ) is a subshell, name() { ...; } defines a function', () => {
    const [g, s, fn] = items('{ a; b; } > f\n(c; d)\nf() { echo hi; }');
    expect(g!.type === 'group' && g!.redirs.length).toBe(1);
    expect(s!.type).toBe('subshell');
    expect(fn!.type === 'func' && fn!.name).toBe('f');
  });

  it('case word in pattern|pattern) list ;; esac', () => {
    const n = items('case $x in a|b) echo ab;; *) echo other;; esac')[0]!;
    expect(n.type === 'case' && n.arms.map((a) => a.patterns.length)).toEqual([2, 1]);
  });

  it('here-documents: body up to the delimiter; a quoted delimiter keeps it literal', () => {
    const [a, b] = items('cat <<EOF\nhello $USER\nEOF\ncat <<\'E\'\n$x\nE\n');
    const ra = simple(a!).redirs[0]!;
    expect(ra.op).toBe('<<');
    expect(show(ra.heredoc!)).toEqual(['q:hello ', '$USER(q)', 'q:\n']);
    expect(show(simple(b!).redirs[0]!.heredoc!)).toEqual(['q:$x\n']);
  });

  it('unfinished input is a ParseError marked incomplete (the prompt asks for more)', () => {
    for (const src of ['if true; then', 'echo "abc', "echo 'x", 'for i in 1; do', 'a &&', 'cat <<EOF\nx\n', '{ echo', 'echo $(ls']) {
      try {
        parse(src);
        expect.unreachable(src);
      } catch (e) {
        expect(e).toBeInstanceOf(ParseError);
        expect((e as ParseError).incomplete, src).toBe(true);
      }
    }
  });

  it('misplaced keywords and operators are complete syntax errors', () => {
    for (const src of ['fi', 'then echo', 'echo ;; x', '| a', 'a | | b', 'done']) {
      try {
        parse(src);
        expect.unreachable(src);
      } catch (e) {
        expect(e).toBeInstanceOf(ParseError);
        expect((e as ParseError).incomplete, src).toBe(false);
      }
    }
  });
});

describe('sh arithmetic (XCU 2.6.4)', () => {
  const vars = new Map<string, string>([['x', '7'], ['h', '0x10'], ['o', '010']]);
  const env = { get: (n: string) => vars.get(n), set: (n: string, v: string) => void vars.set(n, v) };
  it('C precedence and associativity, variables by name with and without $', () => {
    expect(evalArith('1 + 2 * 3 - 4 / 2', env)).toBe(5n);
    expect(evalArith('(1 + 2) * 3', env)).toBe(9n);
    expect(evalArith('x * 2 + $x', env)).toBe(21n);
    expect(evalArith('h + o', env)).toBe(24n);
    expect(evalArith('10 % 3 == 1 && 2 > 1 || 0', env)).toBe(1n);
    expect(evalArith('x > 5 ? 100 : 200', env)).toBe(100n);
    expect(evalArith('-x + ~0 + !0', env)).toBe(-7n);
    expect(evalArith('1 << 4 | 1', env)).toBe(17n);
  });
  it('assignment operators update the variable', () => {
    expect(evalArith('y = 3', env)).toBe(3n);
    expect(evalArith('y += 4', env)).toBe(7n);
    expect(vars.get('y')).toBe('7');
  });
  it('signed 64-bit wrap-around, division by zero and garbage are errors', () => {
    expect(evalArith('9223372036854775807 + 1', env)).toBe(-9223372036854775808n);
    expect(() => evalArith('1 / 0', env)).toThrow(/division by zero/);
    expect(() => evalArith('1 +', env)).toThrow();
    expect(() => evalArith('2 @ 3', env)).toThrow();
  });
});

describe('sh patterns (XCU 2.13)', () => {
  it('* ? [...] [!...] match; quoted pieces are literal', () => {
    expect(matchPattern([{ s: '*.txt', q: false }], 'a.txt')).toBe(true);
    expect(matchPattern([{ s: 'a?c', q: false }], 'abc')).toBe(true);
    expect(matchPattern([{ s: '[a-c]x', q: false }], 'bx')).toBe(true);
    expect(matchPattern([{ s: '[!a-c]x', q: false }], 'bx')).toBe(false);
    expect(matchPattern([{ s: '*', q: true }], 'abc')).toBe(false);
    expect(matchPattern([{ s: '*', q: true }], '*')).toBe(true);
  });
  it('pathname patterns do not match "/" with * or ?', () => {
    expect(patternToRegExp([{ s: '*', q: false }], true).test('a/b')).toBe(false);
  });
});

describe('test / [ (XCU test)', () => {
  const files: Record<string, FileFacts> = {
    '/f': { mode: 0o100644, size: 3, uid: 0 },
    '/e': { mode: 0o100600, size: 0, uid: 5 },
    '/d': { mode: 0o040755, size: 0, uid: 0 },
    '/x': { mode: 0o100755, size: 1, uid: 0 },
  };
  const stat = function* (p: string): Generator<unknown, FileFacts, unknown> {
    return files[p] ?? { mode: undefined, size: 0, uid: 0 };
  };
  const t = (args: string[], euid = 0): number => runSync(evalTest(args, stat, euid));
  it('string and integer comparisons', () => {
    expect(t(['a', '=', 'a'])).toBe(0);
    expect(t(['a', '!=', 'a'])).toBe(1);
    expect(t(['-z', ''])).toBe(0);
    expect(t(['-n', ''])).toBe(1);
    expect(t(['3', '-lt', '10'])).toBe(0);
    expect(t(['3', '-ge', '10'])).toBe(1);
    expect(t(['abc'])).toBe(0);
    expect(t([''])).toBe(1);
    expect(t([])).toBe(1);
  });
  it('file primaries: -e -f -d -s -x and permission checks against the effective uid', () => {
    expect(t(['-e', '/f'])).toBe(0);
    expect(t(['-e', '/nope'])).toBe(1);
    expect(t(['-f', '/d'])).toBe(1);
    expect(t(['-d', '/d'])).toBe(0);
    expect(t(['-s', '/e'])).toBe(1);
    expect(t(['-x', '/x'])).toBe(0);
    expect(t(['-x', '/f'])).toBe(1);
    expect(t(['-r', '/e'], 7)).toBe(1);
    expect(t(['-r', '/e'], 5)).toBe(0);
  });
  it('! -a -o and parentheses', () => {
    expect(t(['!', '-e', '/nope'])).toBe(0);
    expect(t(['-e', '/f', '-a', '-d', '/d'])).toBe(0);
    expect(t(['-e', '/nope', '-o', '(', '1', '-eq', '1', ')'])).toBe(0);
  });
  it('a non-integer operand is an error (status 2 in the builtin)', () => {
    expect(() => t(['x', '-eq', '1'])).toThrow(TestError);
  });
});

describe('echo and printf text', () => {
  it('echo: -n drops the newline, -e interprets escapes, \\c stops output', () => {
    expect(echoText(['a', 'b'])).toBe('a b\n');
    expect(echoText(['-n', 'a'])).toBe('a');
    expect(echoText(['-e', 'a\\tb\\n'])).toBe('a\tb\n\n');
    expect(echoText(['-e', 'a\\cb'])).toBe('a');
    expect(echoText(['-x'])).toBe('-x\n');
  });
  it('printf reuses the format for extra arguments and fills missing ones', () => {
    expect(printfText('%s=%d\\n', ['a', '1', 'b', '2'])).toBe('a=1\nb=2\n');
    expect(printfText('%5s|%-3d|%x\\n', ['ab', '7', '255'])).toBe('   ab|7  |ff\n');
    expect(printfText('%s %s\\n', ['only'])).toBe('only \n');
    expect(unescapeC('\\x41\\0102')).toBe('AB');
  });
});

describe('sh parser robustness', () => {
  it('seeded random input: parse either succeeds or throws ParseError, never another exception', () => {
    let seed = 0x9e3779b9;
    const rnd = (): number => {
      // xorshift32
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 2 ** 32;
    };
    const atoms = ['echo', 'a', ' ', ' ', '\n', ';', '&', '&&', '||', '|', '(', ')', '{', '}', '<', '>', '>>', '2>&1', '<<', 'EOF', "'", '"', '\\', '$', '${', '}', '$(', '$((', '))', '`', '#', 'if', 'then', 'fi', 'for', 'in', 'do', 'done', 'case', 'esac', ';;', 'while', 'x=1', '*', '!'];
    let ok = 0;
    let errors = 0;
    for (let n = 0; n < 3000; n++) {
      let src = '';
      const len = 1 + Math.floor(rnd() * 14);
      for (let i = 0; i < len; i++) src += atoms[Math.floor(rnd() * atoms.length)]!;
      try {
        parse(src);
        ok++;
      } catch (e) {
        if (!(e instanceof ParseError)) throw new Error(`${JSON.stringify(src)}: ${String(e)}`);
        errors++;
      }
    }
    expect(ok).toBeGreaterThan(100);
    expect(errors).toBeGreaterThan(100);
  });
});
