// The shell grammar (POSIX.1-2017 XCU 2.3 token recognition, 2.10 grammar) as a
// recursive-descent parser over the source text. Pure: no system calls, so the
// parser is unit-tested on its own.

import { isUnquotedLiteral, literalText, type Assign, type Node, type ParamOp, type Part, type Redir, type RedirOp, type Word } from './ast.js';

export class ParseError extends Error {
  /** The input ended inside a construct: an interactive shell reads another line. */
  readonly incomplete: boolean;
  constructor(message: string, incomplete = false) {
    super(message);
    this.incomplete = incomplete;
  }
}

type Token =
  | { readonly k: 'word'; readonly w: Word; readonly io: number }
  | { readonly k: 'op'; readonly v: string }
  | { readonly k: 'nl' }
  | { readonly k: 'eof' };

const OPERATORS = ['&&', '||', ';;', '<<-', '<<', '>>', '<&', '>&', '<>', '>|', ';', '&', '|', '(', ')', '<', '>'];
const REDIR_OPS = new Set(['<', '>', '>>', '>|', '<>', '<&', '>&', '<<', '<<-']);
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

const isBlank = (c: string | undefined): boolean => c === ' ' || c === '\t';
const isOpStart = (c: string | undefined): boolean => c !== undefined && ';&|()<>'.includes(c);

/** Parses a complete program. Throws ParseError (incomplete=true when more input could finish it). */
export function parse(src: string): Node {
  const p = new Parser(src, 0);
  const list = p.parseProgram();
  return list;
}

export class Parser {
  private tok: Token | undefined;
  private pendingHeredocs: Redir[] = [];

  constructor(
    private readonly src: string,
    public pos: number,
  ) {}

  // ---- grammar ----

  parseProgram(): Node {
    const list = this.parseList(() => this.peek().k === 'eof');
    if (this.peek().k !== 'eof') this.unexpected();
    return list;
  }

  /** list: and_or ((';' | '&' | newline) and_or)*, until `stop()` says the next token ends it. */
  private parseList(stop: () => boolean): Node {
    const items: { node: Node; bg: boolean }[] = [];
    this.skipNewlines();
    while (!stop()) {
      const t = this.peek();
      if (t.k === 'eof') break;
      if (t.k === 'op' && (t.v === ')' || t.v === ';;')) break;
      if (t.k === 'word' && this.isKw(t, ['then', 'else', 'elif', 'fi', 'do', 'done', 'esac', '}'])) break;
      const node = this.parseAndOr();
      let bg = false;
      const sep = this.peek();
      if (sep.k === 'op' && (sep.v === ';' || sep.v === '&')) {
        bg = sep.v === '&';
        this.next();
      } else if (sep.k !== 'nl' && sep.k !== 'eof' && !(sep.k === 'op' && (sep.v === ')' || sep.v === ';;')) && !(sep.k === 'word' && this.isKw(sep, ['then', 'else', 'elif', 'fi', 'do', 'done', 'esac', '}']))) {
        this.unexpected();
      }
      items.push({ node, bg });
      this.skipNewlines();
    }
    return { type: 'list', items };
  }

  private parseAndOr(): Node {
    const first = this.parsePipeline();
    const rest: { op: '&&' | '||'; node: Node }[] = [];
    for (;;) {
      const t = this.peek();
      if (t.k !== 'op' || (t.v !== '&&' && t.v !== '||')) break;
      this.next();
      this.skipNewlines();
      rest.push({ op: t.v, node: this.parsePipeline() });
    }
    return rest.length === 0 ? first : { type: 'andor', first, rest };
  }

  private parsePipeline(): Node {
    let bang = false;
    const t = this.peek();
    if (t.k === 'word' && this.isKw(t, ['!'])) {
      this.next();
      bang = true;
    }
    const cmds = [this.parseCommand()];
    for (;;) {
      const s = this.peek();
      if (s.k !== 'op' || s.v !== '|') break;
      this.next();
      this.skipNewlines();
      cmds.push(this.parseCommand());
    }
    return cmds.length === 1 && !bang ? cmds[0]! : { type: 'pipeline', bang, cmds };
  }

  private parseCommand(): Node {
    const t = this.peek();
    if (t.k === 'eof') throw new ParseError('syntax error: unexpected end of file', true);
    if (t.k === 'op' && t.v === '(') {
      this.next();
      const body = this.parseList(() => this.isOp(')'));
      this.expectOp(')');
      return { type: 'subshell', body, redirs: this.parseRedirs() };
    }
    if (t.k === 'word' && isUnquotedLiteral(t.w)) {
      const kw = literalText(t.w)!;
      switch (kw) {
        case 'if':
          return this.parseIf();
        case 'for':
          return this.parseFor();
        case 'while':
        case 'until':
          return this.parseWhile(kw === 'until');
        case 'case':
          return this.parseCase();
        case '{': {
          this.next();
          const body = this.parseList(() => this.isKwNext('}'));
          this.expectKw('}');
          return { type: 'group', body, redirs: this.parseRedirs() };
        }
        case 'then':
        case 'else':
        case 'elif':
        case 'fi':
        case 'do':
        case 'done':
        case 'esac':
        case '}':
          this.unexpected();
      }
    }
    return this.parseSimple();
  }

  private parseIf(): Node {
    this.expectKw('if');
    const clauses: { cond: Node; body: Node }[] = [];
    let elseBody: Node | null = null;
    const cond = this.parseList(() => this.isKwNext('then'));
    this.expectKw('then');
    clauses.push({ cond, body: this.parseList(() => this.isKwNext('elif', 'else', 'fi')) });
    for (;;) {
      const t = this.peek();
      if (t.k === 'word' && this.isKw(t, ['elif'])) {
        this.next();
        const c = this.parseList(() => this.isKwNext('then'));
        this.expectKw('then');
        clauses.push({ cond: c, body: this.parseList(() => this.isKwNext('elif', 'else', 'fi')) });
        continue;
      }
      if (t.k === 'word' && this.isKw(t, ['else'])) {
        this.next();
        elseBody = this.parseList(() => this.isKwNext('fi'));
      }
      break;
    }
    this.expectKw('fi');
    return { type: 'if', clauses, else: elseBody, redirs: this.parseRedirs() };
  }

  private parseFor(): Node {
    this.expectKw('for');
    const nt = this.next();
    const name = nt.k === 'word' ? literalText(nt.w) : undefined;
    if (name === undefined || !NAME_RE.test(name)) throw new ParseError(`syntax error: bad for loop variable`);
    let words: Word[] | null = null;
    this.skipNewlines();
    const t = this.peek();
    if (t.k === 'word' && this.isKw(t, ['in'])) {
      this.next();
      words = [];
      for (;;) {
        const w = this.peek();
        if (w.k !== 'word') break;
        this.next();
        words.push(w.w);
      }
      const sep = this.peek();
      if (sep.k === 'op' && sep.v === ';') this.next();
      else if (sep.k !== 'nl') this.unexpected();
    } else if (t.k === 'op' && t.v === ';') this.next();
    this.skipNewlines();
    this.expectKw('do');
    const body = this.parseList(() => this.isKwNext('done'));
    this.expectKw('done');
    return { type: 'for', name, words, body, redirs: this.parseRedirs() };
  }

  private parseWhile(until: boolean): Node {
    this.next();
    const cond = this.parseList(() => this.isKwNext('do'));
    this.expectKw('do');
    const body = this.parseList(() => this.isKwNext('done'));
    this.expectKw('done');
    return { type: 'while', until, cond, body, redirs: this.parseRedirs() };
  }

  private parseCase(): Node {
    this.expectKw('case');
    const wt = this.next();
    if (wt.k !== 'word') this.unexpected(wt);
    this.skipNewlines();
    this.expectKw('in');
    this.skipNewlines();
    const arms: { patterns: Word[]; body: Node | null }[] = [];
    for (;;) {
      const t = this.peek();
      if (t.k === 'word' && this.isKw(t, ['esac'])) break;
      if (t.k === 'eof') throw new ParseError('syntax error: unexpected end of file (expecting "esac")', true);
      if (t.k === 'op' && t.v === '(') this.next();
      const patterns: Word[] = [];
      for (;;) {
        const p = this.next();
        if (p.k !== 'word') this.unexpected(p);
        patterns.push(p.w);
        const s = this.next();
        if (s.k === 'op' && s.v === '|') continue;
        if (s.k === 'op' && s.v === ')') break;
        this.unexpected(s);
      }
      const body = this.parseList(() => this.isOp(';;') || this.isKwNext('esac'));
      arms.push({ patterns, body: body.type === 'list' && body.items.length === 0 ? null : body });
      if (this.isOp(';;')) this.next();
      this.skipNewlines();
    }
    this.expectKw('esac');
    return { type: 'case', word: wt.w, arms, redirs: this.parseRedirs() };
  }

  private parseSimple(): Node {
    const assigns: Assign[] = [];
    const words: Word[] = [];
    const redirs: Redir[] = [];
    for (;;) {
      const t = this.peek();
      if (t.k === 'op' && REDIR_OPS.has(t.v)) {
        redirs.push(this.parseRedir(-1));
        continue;
      }
      if (t.k !== 'word') break;
      if (t.io >= 0) {
        this.next();
        redirs.push(this.parseRedir(t.io));
        continue;
      }
      if (words.length === 0) {
        const a = asAssignment(t.w);
        if (a !== undefined) {
          this.next();
          assigns.push(a);
          continue;
        }
        // name () compound-command: a function definition.
        const name = literalText(t.w);
        if (name !== undefined && NAME_RE.test(name) && assigns.length === 0 && redirs.length === 0 && this.lookingAtFuncParens()) {
          this.next();
          this.expectOp('(');
          this.expectOp(')');
          this.skipNewlines();
          return { type: 'func', name, body: this.parseCommand() };
        }
      }
      this.next();
      words.push(t.w);
    }
    if (assigns.length === 0 && words.length === 0 && redirs.length === 0) this.unexpected();
    return { type: 'simple', assigns, words, redirs };
  }

  private lookingAtFuncParens(): boolean {
    let i = this.pos;
    while (isBlank(this.src[i])) i++;
    if (this.src[i] !== '(') return false;
    i++;
    while (isBlank(this.src[i])) i++;
    return this.src[i] === ')';
  }

  private parseRedirs(): Redir[] {
    const out: Redir[] = [];
    for (;;) {
      const t = this.peek();
      if (t.k === 'op' && REDIR_OPS.has(t.v)) out.push(this.parseRedir(-1));
      else if (t.k === 'word' && t.io >= 0) {
        this.next();
        out.push(this.parseRedir(t.io));
      } else return out;
    }
  }

  private parseRedir(io: number): Redir {
    const t = this.next();
    if (t.k !== 'op') this.unexpected(t);
    const op = t.v as RedirOp;
    const target = this.next();
    if (target.k !== 'word') throw new ParseError(`syntax error: redirection ${op} needs a word`, target.k === 'eof');
    const fd = io >= 0 ? io : op === '<' || op === '<&' || op === '<>' || op === '<<' || op === '<<-' ? 0 : 1;
    const r: Redir = { fd, op, target: target.w };
    if (op === '<<' || op === '<<-') this.pendingHeredocs.push(r);
    return r;
  }

  // ---- token helpers ----

  private isKw(t: Token, kws: readonly string[]): boolean {
    return t.k === 'word' && isUnquotedLiteral(t.w) && kws.includes(literalText(t.w)!);
  }
  private isKwNext(...kws: string[]): boolean {
    return this.isKw(this.peek(), kws);
  }
  private isOp(v: string): boolean {
    const t = this.peek();
    return t.k === 'op' && t.v === v;
  }
  private expectKw(kw: string): void {
    const t = this.next();
    if (!this.isKw(t, [kw])) {
      if (t.k === 'eof') throw new ParseError(`syntax error: unexpected end of file (expecting "${kw}")`, true);
      this.unexpected(t, kw);
    }
  }
  private expectOp(v: string): void {
    const t = this.next();
    if (t.k !== 'op' || t.v !== v) {
      if (t.k === 'eof') throw new ParseError(`syntax error: unexpected end of file (expecting "${v}")`, true);
      this.unexpected(t, v);
    }
  }
  private skipNewlines(): void {
    while (this.peek().k === 'nl') this.next();
  }
  private unexpected(t: Token = this.peek(), expecting?: string): never {
    const what = t.k === 'eof' ? 'end of file' : t.k === 'nl' ? 'newline' : t.k === 'op' ? `"${t.v}"` : `"${literalText(t.w) ?? 'word'}"`;
    throw new ParseError(`syntax error: unexpected ${what}${expecting ? ` (expecting "${expecting}")` : ''}`, t.k === 'eof');
  }

  private peek(): Token {
    if (this.tok === undefined) this.tok = this.lex();
    return this.tok;
  }
  private next(): Token {
    const t = this.peek();
    this.tok = undefined;
    return t;
  }

  // ---- lexer (XCU 2.3) ----

  private lex(): Token {
    const s = this.src;
    for (;;) {
      while (isBlank(s[this.pos])) this.pos++;
      if (s[this.pos] === '\\' && s[this.pos + 1] === '\n') {
        this.pos += 2;
        continue;
      }
      if (s[this.pos] === '#') {
        while (this.pos < s.length && s[this.pos] !== '\n') this.pos++;
      }
      break;
    }
    if (this.pos >= s.length) {
      if (this.pendingHeredocs.length > 0) throw new ParseError('syntax error: here-document without its body', true);
      return { k: 'eof' };
    }
    const c = s[this.pos]!;
    if (c === '\n') {
      this.pos++;
      this.readHeredocBodies();
      return { k: 'nl' };
    }
    if (isOpStart(c)) {
      for (const op of OPERATORS) {
        if (s.startsWith(op, this.pos)) {
          this.pos += op.length;
          return { k: 'op', v: op };
        }
      }
    }
    const start = this.pos;
    const parts = this.scanWord(false);
    let io = -1;
    const raw = s.slice(start, this.pos);
    if (/^[0-9]+$/.test(raw) && (s[this.pos] === '<' || s[this.pos] === '>')) io = Number(raw);
    return { k: 'word', w: { parts }, io };
  }

  /** Scans one word; in `braceArg` mode (inside ${...}) blanks are literal and "}" ends it. */
  private scanWord(braceArg: boolean): Part[] {
    const s = this.src;
    const parts: Part[] = [];
    let lit = '';
    let litQ = false;
    const flush = (): void => {
      if (lit.length > 0) parts.push({ t: 'lit', s: lit, q: litQ });
      lit = '';
    };
    const addLit = (text: string, q: boolean): void => {
      if (lit.length > 0 && litQ !== q) flush();
      litQ = q;
      lit += text;
    };
    while (this.pos < s.length) {
      const c = s[this.pos]!;
      if (braceArg) {
        if (c === '}') break;
      } else if (isBlank(c) || c === '\n' || isOpStart(c)) break;
      if (c === '\\') {
        const n = s[this.pos + 1];
        if (n === undefined) {
          this.pos++;
          break;
        }
        this.pos += 2;
        if (n !== '\n') addLit(n, true);
        continue;
      }
      if (c === "'") {
        const end = s.indexOf("'", this.pos + 1);
        if (end < 0) throw new ParseError('syntax error: unterminated quoted string', true);
        addLit(s.slice(this.pos + 1, end), true);
        // An empty '' still makes a (quoted, empty) field.
        if (end === this.pos + 1) {
          flush();
          parts.push({ t: 'lit', s: '', q: true });
        }
        this.pos = end + 1;
        continue;
      }
      if (c === '"') {
        this.pos++;
        flush();
        const before = parts.length;
        this.scanDouble(parts);
        if (parts.length === before) parts.push({ t: 'lit', s: '', q: true });
        continue;
      }
      if (c === '$') {
        const p = this.scanDollar(false);
        if (p !== undefined) {
          flush();
          parts.push(p);
          continue;
        }
        addLit('$', false);
        this.pos++;
        continue;
      }
      if (c === '`') {
        flush();
        parts.push(this.scanBackquote(false));
        continue;
      }
      addLit(c, false);
      this.pos++;
    }
    flush();
    return parts;
  }

  /** Inside "...": $ ` and \ keep their meaning (XCU 2.2.3). */
  private scanDouble(parts: Part[]): void {
    const s = this.src;
    let lit = '';
    const flush = (): void => {
      if (lit.length > 0) parts.push({ t: 'lit', s: lit, q: true });
      lit = '';
    };
    for (;;) {
      if (this.pos >= s.length) throw new ParseError('syntax error: unterminated quoted string', true);
      const c = s[this.pos]!;
      if (c === '"') {
        this.pos++;
        break;
      }
      if (c === '\\') {
        const n = s[this.pos + 1];
        if (n !== undefined && '$`"\\\n'.includes(n)) {
          if (n !== '\n') lit += n;
          this.pos += 2;
          continue;
        }
        lit += c;
        this.pos++;
        continue;
      }
      if (c === '$') {
        const p = this.scanDollar(true);
        if (p !== undefined) {
          flush();
          parts.push(p);
          continue;
        }
      }
      if (c === '`') {
        flush();
        parts.push(this.scanBackquote(true));
        continue;
      }
      lit += c;
      this.pos++;
    }
    flush();
  }

  /** $name ${...} $(...) $((...)) or a special parameter; undefined when "$" is literal. */
  /** (Used by here-document expansion too.) */
  scanDollar(q: boolean): Part | undefined {
    const s = this.src;
    const n = s[this.pos + 1];
    if (n === undefined) return undefined;
    if (n === '(' && s[this.pos + 2] === '(') {
      // $((expr)): find the matching "))".
      let depth = 0;
      let i = this.pos + 3;
      for (; i < s.length; i++) {
        if (s[i] === '(') depth++;
        else if (s[i] === ')') {
          if (depth === 0 && s[i + 1] === ')') break;
          depth--;
        }
      }
      if (i >= s.length) throw new ParseError('syntax error: missing "))"', true);
      const expr = s.slice(this.pos + 3, i);
      this.pos = i + 2;
      return { t: 'arith', expr, q };
    }
    if (n === '(') {
      const sub = new Parser(s, this.pos + 2);
      const body = sub.parseList(() => sub.isOp(')'));
      sub.expectOp(')');
      this.pos = sub.pos;
      return { t: 'cmd', body, q };
    }
    if (n === '{') {
      this.pos += 2;
      let op: ParamOp = '';
      let name = '';
      if (s[this.pos] === '#' && s[this.pos + 1] !== '}') {
        op = '#';
        this.pos++;
      }
      const m = /^([A-Za-z_][A-Za-z0-9_]*|[0-9]+|[?$#@*!\-])/.exec(s.slice(this.pos));
      if (m === null) throw new ParseError('syntax error: bad substitution');
      name = m[1]!;
      this.pos += name.length;
      let arg: Part[] = [];
      if (op === '') {
        const om = /^(:-|:=|:\+|:\?|-|=|\+|\?)/.exec(s.slice(this.pos));
        if (om !== null) {
          op = om[1] as ParamOp;
          this.pos += op.length;
          arg = this.scanWord(true);
        }
      }
      if (s[this.pos] !== '}') throw new ParseError('syntax error: bad substitution (missing "}")', this.pos >= s.length);
      this.pos++;
      return { t: 'param', name, op, arg, q };
    }
    const m = /^([A-Za-z_][A-Za-z0-9_]*|[0-9?$#@*!\-])/.exec(s.slice(this.pos + 1));
    if (m === null) return undefined;
    this.pos += 1 + m[1]!.length;
    return { t: 'param', name: m[1]!, op: '', arg: [], q };
  }

  /** `command` (the old form of $(command)). */
  scanBackquote(q: boolean): Part {
    const s = this.src;
    let i = this.pos + 1;
    let body = '';
    for (; i < s.length && s[i] !== '`'; i++) {
      if (s[i] === '\\' && i + 1 < s.length && '$`\\'.includes(s[i + 1]!)) {
        body += s[i + 1];
        i++;
      } else body += s[i];
    }
    if (i >= s.length) throw new ParseError('syntax error: unterminated `', true);
    this.pos = i + 1;
    return { t: 'cmd', body: parse(body), q };
  }

  /** After a newline: the bodies of the here-documents started on that line (XCU 2.7.4). */
  private readHeredocBodies(): void {
    const s = this.src;
    for (const r of this.pendingHeredocs.splice(0)) {
      const delimWord = r.target;
      const delim = delimWord.parts.map((p) => (p.t === 'lit' ? p.s : '')).join('');
      const quoted = delimWord.parts.some((p) => p.t === 'lit' && p.q);
      const strip = r.op === '<<-';
      const lines: string[] = [];
      for (;;) {
        if (this.pos >= s.length) throw new ParseError(`syntax error: here-document delimited by end of file (wanted "${delim}")`, true);
        const nl = s.indexOf('\n', this.pos);
        const end = nl < 0 ? s.length : nl;
        let line = s.slice(this.pos, end);
        this.pos = nl < 0 ? s.length : nl + 1;
        if (strip) line = line.replace(/^\t+/, '');
        if (line === delim) break;
        lines.push(line + '\n');
      }
      const text = lines.join('');
      r.heredoc = quoted ? { parts: [{ t: 'lit', s: text, q: true }] } : { parts: heredocParts(text) };
    }
  }
}

/** An unquoted here-document: parameter, command and arithmetic expansion apply; quotes are literal. */
function heredocParts(text: string): Part[] {
  const p = new Parser(text, 0);
  const parts: Part[] = [];
  let lit = '';
  const src = text;
  while (p.pos < src.length) {
    const c = src[p.pos]!;
    if (c === '\\' && p.pos + 1 < src.length && '$`\\\n'.includes(src[p.pos + 1]!)) {
      if (src[p.pos + 1] !== '\n') lit += src[p.pos + 1];
      p.pos += 2;
      continue;
    }
    if (c === '$' || c === '`') {
      const part = c === '$' ? p.scanDollar(true) : p.scanBackquote(true);
      if (part !== undefined) {
        if (lit) parts.push({ t: 'lit', s: lit, q: true });
        lit = '';
        parts.push(part);
        continue;
      }
    }
    lit += c;
    p.pos++;
  }
  if (lit) parts.push({ t: 'lit', s: lit, q: true });
  return parts;
}

/** NAME=value as the first words of a simple command (XCU 2.10.2 rule 7). */
function asAssignment(w: Word): Assign | undefined {
  const first = w.parts[0];
  if (first === undefined || first.t !== 'lit' || first.q) return undefined;
  const eq = first.s.indexOf('=');
  if (eq <= 0 || !NAME_RE.test(first.s.slice(0, eq))) return undefined;
  const rest: Part[] = [];
  const tail = first.s.slice(eq + 1);
  if (tail.length > 0) rest.push({ t: 'lit', s: tail, q: false });
  rest.push(...w.parts.slice(1));
  return { name: first.s.slice(0, eq), value: { parts: rest } };
}

