// Device-tree source (dts v1) to a DeviceTree, as dtc reads it (DTSpec 6: dts format).
// Supported: /dts-v1/, /memreserve/, labels on nodes, properties and data, node
// merging (a second `/ {...}` or `&label {...}`), /delete-node/ and /delete-property/,
// cells `<...>` with /bits/ 8|16|32|64, C-like integer expressions in parentheses,
// character literals, strings with escapes, byte strings `[...]`, phandle references
// `&label` / `&{/path}` in cells and path references as values. Not supported:
// /include/, preprocessor directives, overlays (/plugin/).
//
// Phandles are given as dtc gives them: a referenced node without a `phandle`
// property gets the lowest unused value, in document order of the references, and the
// property is appended to the node. So `parseDts` + `writeDtb` reproduce
// `dtc -I dts -O dtb` byte for byte on the trees we write.

import { concat } from './property.js';
import { DeviceTree, type FdtNode, type FdtProperty } from './tree.js';

export type DtsParseResult =
  | { readonly ok: true; readonly tree: DeviceTree }
  | { readonly ok: false; readonly error: string; readonly line: number; readonly column: number };

type Ref = { readonly label: string; readonly pos: number } | { readonly path: string; readonly pos: number };

type Part =
  | { readonly kind: 'bytes'; readonly data: Uint8Array }
  | { readonly kind: 'phandle'; readonly ref: Ref }
  | { readonly kind: 'path'; readonly ref: Ref };

class DtsError extends Error {
  constructor(
    message: string,
    readonly pos: number,
  ) {
    super(message);
  }
}

const NAME_CHAR = /[a-zA-Z0-9,._+*#?@-]/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const LABEL_REF_CHAR = /[a-zA-Z0-9_]/;
const U64 = (1n << 64n) - 1n;

/** Parses dts text. Errors come back as a value with a `file:line:column: message` text. */
export function parseDts(text: string, fileName = '<dts>'): DtsParseResult {
  const p = new DtsParser(text);
  try {
    return { ok: true, tree: p.parseFile() };
  } catch (e) {
    if (!(e instanceof DtsError)) throw e;
    const before = text.slice(0, e.pos);
    const line = before.split('\n').length;
    const column = e.pos - before.lastIndexOf('\n');
    return { ok: false, error: `${fileName}:${line}:${column}: ${e.message}`, line, column };
  }
}

class DtsParser {
  private pos = 0;
  private readonly tree = new DeviceTree();
  private readonly labels = new Map<string, FdtNode>();
  private readonly parts = new Map<FdtProperty, Part[]>();

  constructor(private readonly src: string) {}

  parseFile(): DeviceTree {
    this.ws();
    if (!this.accept('/dts-v1/')) this.fail('expected /dts-v1/; at the start of the file');
    this.ws();
    this.expect(';');
    for (;;) {
      this.ws();
      if (this.pos >= this.src.length) break;
      if (this.accept('/dts-v1/')) {
        this.ws();
        this.expect(';');
        continue;
      }
      if (this.src.startsWith('/include/', this.pos)) this.fail('/include/ is not supported');
      if (this.src.startsWith('/plugin/', this.pos)) this.fail('overlays (/plugin/) are not supported');
      if (this.skipLabelsThen('/memreserve/')) {
        this.ws();
        const address = this.primary();
        this.ws();
        const size = this.primary();
        this.ws();
        this.expect(';');
        this.tree.memReserve.push({ address, size });
        continue;
      }
      if (this.accept('/delete-node/')) {
        this.ws();
        const ref = this.reference();
        const node = this.resolve(ref);
        if (node.parent === undefined) this.fail('cannot delete the root node', ref.pos);
        node.parent.removeChild(node.name);
        this.forgetLabels(node);
        this.ws();
        this.expect(';');
        continue;
      }
      if (this.peek() === '/') {
        this.pos++;
        this.ws();
        this.nodeBody(this.tree.root);
        continue;
      }
      if (this.peek() === '&') {
        const ref = this.reference();
        this.ws();
        this.nodeBody(this.resolve(ref));
        continue;
      }
      this.fail(`unexpected ${this.describeHere()} at top level (expected a node, /memreserve/ or /delete-node/)`);
    }
    this.finish();
    this.tree.bootCpuId = this.guessBootCpu();
    return this.tree;
  }

  // --- nodes and properties ---

  private nodeBody(node: FdtNode): void {
    this.expect('{');
    const propsHere = new Set<string>();
    const childrenHere = new Set<string>();
    for (;;) {
      this.ws();
      if (this.pos >= this.src.length) this.fail(`unterminated node ${node.path} (missing '}')`);
      if (this.accept('}')) {
        this.ws();
        this.expect(';');
        return;
      }
      if (this.accept('/delete-property/')) {
        this.ws();
        const name = this.name();
        node.removeProp(name);
        this.ws();
        this.expect(';');
        continue;
      }
      if (this.accept('/delete-node/')) {
        this.ws();
        const name = this.name();
        const child = node.children.find((c) => c.name === name);
        if (child) {
          node.removeChild(name);
          this.forgetLabels(child);
        }
        this.ws();
        this.expect(';');
        continue;
      }
      const labels: string[] = [];
      let start = this.pos;
      let name = this.name();
      while (this.peek() === ':') {
        if (!LABEL_RE.test(name)) this.fail(`"${name}" is not a valid label`, start);
        this.pos++;
        labels.push(name);
        this.ws();
        start = this.pos;
        name = this.name();
      }
      this.ws();
      const c = this.peek();
      if (c === '{') {
        if (childrenHere.has(name)) this.fail(`duplicate node name "${name}" in ${node.path}`, start);
        childrenHere.add(name);
        const child = node.children.find((x) => x.name === name) ?? node.addChild(name);
        for (const l of labels) this.defineLabel(l, child, start);
        this.nodeBody(child);
      } else if (c === '=' || c === ';') {
        // dtc's grammar: a block lists its properties, then its subnodes
        if (childrenHere.size > 0) this.fail(`property "${name}" follows a subnode: properties must precede subnodes`, start);
        if (propsHere.has(name)) this.fail(`duplicate property name "${name}" in ${node.path}`, start);
        if (name.includes('@')) this.fail(`"${name}" is not a valid property name`, start);
        propsHere.add(name);
        const parts = c === '=' ? (this.pos++, this.values()) : [];
        this.expect(';');
        node.setProp(name, new Uint8Array(0));
        this.parts.set(node.prop(name)!, parts);
      } else if (name.startsWith('#') && /^#(include|define|if|ifdef)\b/.test(name + ' ')) {
        this.fail('preprocessor directives are not supported (run cpp first)', start);
      } else {
        this.fail(`expected '=', ';' or '{' after "${name}", found ${this.describeHere()}`);
      }
    }
  }

  /** `value (, value)*` up to (not including) the ';'. */
  private values(): Part[] {
    const parts: Part[] = [];
    for (;;) {
      this.ws();
      this.skipDataLabels();
      const c = this.peek();
      if (c === '<') parts.push(...this.cellArray(32));
      else if (this.accept('/bits/')) {
        this.ws();
        const at = this.pos;
        const bits = Number(this.primary());
        if (bits !== 8 && bits !== 16 && bits !== 32 && bits !== 64) this.fail('/bits/ must be 8, 16, 32 or 64', at);
        this.ws();
        if (this.peek() !== '<') this.fail(`expected '<' after /bits/ ${bits}`);
        parts.push(...this.cellArray(bits));
      } else if (c === '"') parts.push({ kind: 'bytes', data: this.stringLiteral() });
      else if (c === '[') parts.push({ kind: 'bytes', data: this.byteString() });
      else if (c === '&') parts.push({ kind: 'path', ref: this.reference() });
      else this.fail(`expected a value ('<', '"', '[' or '&'), found ${this.describeHere()}`);
      this.ws();
      this.skipDataLabels();
      if (!this.accept(',')) return parts;
    }
  }

  private cellArray(bits: 8 | 16 | 32 | 64): Part[] {
    this.expect('<');
    const parts: Part[] = [];
    const bytes: number[] = [];
    const flush = () => {
      if (bytes.length > 0) parts.push({ kind: 'bytes', data: Uint8Array.from(bytes) });
      bytes.length = 0;
    };
    for (;;) {
      this.ws();
      const c = this.peek();
      if (c === '>') {
        this.pos++;
        flush();
        return parts;
      }
      if (c === '&') {
        const at = this.pos;
        if (bits !== 32) this.fail('phandle references are only allowed in 32-bit cell arrays', at);
        flush();
        parts.push({ kind: 'phandle', ref: this.reference() });
        continue;
      }
      if (c !== undefined && /[a-zA-Z_]/.test(c)) {
        const at = this.pos;
        const label = this.name();
        if (this.peek() !== ':' || !LABEL_RE.test(label)) this.fail(`unexpected "${label}" in cell array`, at);
        this.pos++;
        continue;
      }
      if (c === undefined) this.fail("unterminated cell array (missing '>')");
      const at = this.pos;
      const v = this.primary();
      const mask = (1n << BigInt(bits)) - 1n;
      // dtc: a value wider than the cell is an error unless it is a negative number
      // that sign-extends from the cell (e.g. (-1) in a 32-bit cell).
      if (v > mask && (v | mask) !== U64) this.fail(`value 0x${v.toString(16)} does not fit in ${bits} bits`, at);
      const cell = v & mask;
      for (let s = bits - 8; s >= 0; s -= 8) bytes.push(Number((cell >> BigInt(s)) & 0xffn));
    }
  }

  private byteString(): Uint8Array {
    this.expect('[');
    const out: number[] = [];
    for (;;) {
      this.ws();
      const c = this.peek();
      if (c === ']') {
        this.pos++;
        return Uint8Array.from(out);
      }
      const pair = this.src.slice(this.pos, this.pos + 2);
      if (/^[0-9a-fA-F]{2}$/.test(pair)) {
        out.push(parseInt(pair, 16));
        this.pos += 2;
        continue;
      }
      if (c !== undefined && /[a-zA-Z_]/.test(c)) {
        const at = this.pos;
        const label = this.name();
        if (this.peek() === ':' && LABEL_RE.test(label)) {
          this.pos++;
          continue;
        }
        this.pos = at;
      }
      if (c === undefined) this.fail("unterminated byte string (missing ']')");
      this.fail('byte strings hold pairs of hex digits');
    }
  }

  private stringLiteral(): Uint8Array {
    this.expect('"');
    const out: number[] = [];
    const enc = new TextEncoder();
    for (;;) {
      const c = this.peek();
      if (c === undefined || c === '\n') this.fail('unterminated string');
      this.pos++;
      if (c === '"') break;
      if (c === '\\') out.push(this.escape());
      else out.push(...enc.encode(c));
    }
    out.push(0);
    return Uint8Array.from(out);
  }

  /** The byte of an escape sequence after the backslash (dtc's get_escape_char). */
  private escape(): number {
    const c = this.peek();
    if (c === undefined) this.fail('unterminated escape');
    this.pos++;
    const simple: Record<string, number> = { a: 7, b: 8, t: 9, n: 10, v: 11, f: 12, r: 13, '\\': 92, '"': 34, "'": 39 };
    if (c in simple) return simple[c]!;
    if (c === 'x') {
      const m = /^[0-9a-fA-F]{1,2}/.exec(this.src.slice(this.pos, this.pos + 2));
      if (!m) this.fail('\\x needs hex digits');
      this.pos += m[0].length;
      return parseInt(m[0], 16);
    }
    if (/[0-7]/.test(c)) {
      const m = /^[0-7]{0,2}/.exec(this.src.slice(this.pos, this.pos + 2))!;
      this.pos += m[0].length;
      const v = parseInt(c + m[0], 8);
      if (v > 255) this.fail('octal escape out of range');
      return v;
    }
    this.fail(`unknown escape \\${c}`);
  }

  // --- integers: literals, character literals, (expressions) ---

  private primary(): bigint {
    const c = this.peek();
    if (c === '(') {
      this.pos++;
      const v = this.ternary();
      this.ws();
      this.expect(')');
      return v;
    }
    if (c === "'") {
      this.pos++;
      let v: number;
      const ch = this.peek();
      if (ch === undefined || ch === "'") this.fail('empty character literal');
      this.pos++;
      if (ch === '\\') v = this.escape();
      else v = ch.charCodeAt(0);
      this.expect("'");
      return BigInt(v);
    }
    const m = /^(0[xX][0-9a-fA-F]+|[0-9]+)[uUlL]*/.exec(this.src.slice(this.pos, this.pos + 80));
    if (!m) this.fail(`expected a number, found ${this.describeHere()}`);
    const digits = m[1]!;
    if (/^0[0-9]/.test(digits) && /[89]/.test(digits)) this.fail(`"${digits}" is not a valid octal number`);
    const v = /^0[0-7]/.test(digits) ? BigInt(`0o${digits.slice(1)}`) : BigInt(digits);
    if (v > U64) this.fail(`integer ${digits} does not fit in 64 bits`);
    this.pos += m[0].length;
    return v;
  }

  private ternary(): bigint {
    const cond = this.binary(0);
    this.ws();
    if (!this.accept('?')) return cond;
    const a = this.ternary();
    this.ws();
    this.expect(':');
    const b = this.ternary();
    return cond !== 0n ? a : b;
  }

  // Binary operators by precedence level (lowest first), as in C.
  private static readonly LEVELS: readonly (readonly string[])[] = [
    ['||'],
    ['&&'],
    ['|'],
    ['^'],
    ['&'],
    ['==', '!='],
    ['<=', '>=', '<', '>'],
    ['<<', '>>'],
    ['+', '-'],
    ['*', '/', '%'],
  ];

  private binary(level: number): bigint {
    if (level >= DtsParser.LEVELS.length) return this.unary();
    let left = this.binary(level + 1);
    for (;;) {
      this.ws();
      const op = DtsParser.LEVELS[level]!.find((o) => this.src.startsWith(o, this.pos) && !this.longerOperator(o));
      if (op === undefined) return left;
      const at = this.pos;
      this.pos += op.length;
      this.ws();
      const right = this.binary(level + 1);
      left = this.apply(op, left, right, at);
    }
  }

  /** True when `op` at the cursor is the start of a longer operator ('|' of '||', '<' of '<<'). */
  private longerOperator(op: string): boolean {
    const next = this.src[this.pos + op.length];
    if (op === '|' || op === '&') return next === op;
    if (op === '<' || op === '>') return next === op || next === '=';
    return false;
  }

  private apply(op: string, a: bigint, b: bigint, at: number): bigint {
    const u = (v: bigint) => BigInt.asUintN(64, v);
    switch (op) {
      case '||':
        return a !== 0n || b !== 0n ? 1n : 0n;
      case '&&':
        return a !== 0n && b !== 0n ? 1n : 0n;
      case '|':
        return a | b;
      case '^':
        return a ^ b;
      case '&':
        return a & b;
      case '==':
        return a === b ? 1n : 0n;
      case '!=':
        return a !== b ? 1n : 0n;
      case '<':
        return a < b ? 1n : 0n;
      case '>':
        return a > b ? 1n : 0n;
      case '<=':
        return a <= b ? 1n : 0n;
      case '>=':
        return a >= b ? 1n : 0n;
      case '<<':
        return b >= 64n ? 0n : u(a << b);
      case '>>':
        return b >= 64n ? 0n : a >> b;
      case '+':
        return u(a + b);
      case '-':
        return u(a - b);
      case '*':
        return u(a * b);
      default:
        if (b === 0n) this.fail('division by zero', at);
        return op === '/' ? a / b : a % b;
    }
  }

  private unary(): bigint {
    this.ws();
    const c = this.peek();
    if (c === '-' || c === '~' || c === '!') {
      this.pos++;
      const v = this.unary();
      return c === '-' ? BigInt.asUintN(64, -v) : c === '~' ? BigInt.asUintN(64, ~v) : v === 0n ? 1n : 0n;
    }
    return this.primary();
  }

  // --- references and labels ---

  private reference(): Ref {
    const pos = this.pos;
    this.expect('&');
    if (this.accept('{')) {
      const end = this.src.indexOf('}', this.pos);
      if (end < 0) this.fail('unterminated path reference &{...}', pos);
      const path = this.src.slice(this.pos, end);
      this.pos = end + 1;
      if (!path.startsWith('/')) this.fail(`path reference "${path}" must be absolute`, pos);
      return { path, pos };
    }
    const start = this.pos;
    while (this.pos < this.src.length && LABEL_REF_CHAR.test(this.src[this.pos]!)) this.pos++;
    const label = this.src.slice(start, this.pos);
    if (!LABEL_RE.test(label)) this.fail("expected a label or {/path} after '&'", pos);
    return { label, pos };
  }

  private resolve(ref: Ref): FdtNode {
    const node = 'label' in ref ? this.labels.get(ref.label) : this.tree.find(ref.path);
    if (node === undefined) {
      this.fail('label' in ref ? `reference to undefined label "${ref.label}"` : `reference to non-existent node "${ref.path}"`, ref.pos);
    }
    return node;
  }

  private defineLabel(label: string, node: FdtNode, pos: number): void {
    const other = this.labels.get(label);
    if (other !== undefined && other !== node) this.fail(`duplicate label "${label}" on ${other.path} and ${node.path}`, pos);
    this.labels.set(label, node);
    if (!node.labels.includes(label)) node.labels.push(label);
  }

  private forgetLabels(node: FdtNode): void {
    for (const [l, n] of [...this.labels]) {
      for (let x: FdtNode | undefined = n; x; x = x.parent) {
        if (x === node) {
          this.labels.delete(l);
          break;
        }
      }
    }
  }

  /** Labels on data (`prop = a: <1>, b: "x";`) name nothing in the blob: skip them. */
  private skipDataLabels(): void {
    for (;;) {
      const m = /^[a-zA-Z_][a-zA-Z0-9_]*:/.exec(this.src.slice(this.pos, this.pos + 128));
      if (!m) return;
      this.pos += m[0].length;
      this.ws();
    }
  }

  /** Skips `label:` prefixes and accepts `keyword`; restores the cursor when absent. */
  private skipLabelsThen(keyword: string): boolean {
    const save = this.pos;
    this.skipDataLabels();
    if (this.accept(keyword)) return true;
    this.pos = save;
    return false;
  }

  // --- resolution of references, phandle assignment ---

  private finish(): void {
    const used = new Set<number>();
    const phandleOf = new Map<FdtNode, number>();
    for (const n of this.tree.nodes()) {
      const p = n.prop('phandle') ?? n.prop('linux,phandle');
      const parts = p && this.parts.get(p);
      if (parts && parts.length === 1 && parts[0]!.kind === 'bytes' && parts[0].data.length === 4) {
        const v = new DataView(parts[0].data.buffer).getUint32(0);
        if (v === 0 || v === 0xffffffff) this.fail(`${n.path} has an invalid phandle 0x${v.toString(16)}`);
        if (used.has(v)) this.fail(`${n.path} has phandle 0x${v.toString(16)}, already used by another node`);
        used.add(v);
        phandleOf.set(n, v);
      }
    }
    let next = 1;
    for (const n of this.tree.nodes()) {
      for (const prop of [...n.properties]) {
        const parts = this.parts.get(prop) ?? [];
        const out: Uint8Array[] = [];
        for (const part of parts) {
          if (part.kind === 'bytes') out.push(part.data);
          else if (part.kind === 'path') out.push(new TextEncoder().encode(`${this.resolve(part.ref).path}\0`));
          else {
            const target = this.resolve(part.ref);
            let ph = phandleOf.get(target);
            if (ph === undefined) {
              while (used.has(next)) next++;
              ph = next;
              used.add(ph);
              phandleOf.set(target, ph);
              const cell = new Uint8Array(4);
              new DataView(cell.buffer).setUint32(0, ph);
              target.setProp('phandle', cell);
              this.parts.set(target.prop('phandle')!, [{ kind: 'bytes', data: cell }]);
            }
            const cell = new Uint8Array(4);
            new DataView(cell.buffer).setUint32(0, ph);
            out.push(cell);
          }
        }
        prop.value = concat(out);
      }
    }
  }

  /** dtc's default boot_cpuid_phys: the reg of the first cpu node under /cpus. */
  private guessBootCpu(): number {
    const cpu = this.tree.find('/cpus')?.children.find((c) => c.nodeName === 'cpu');
    const reg = cpu?.prop('reg');
    return reg && reg.value.length >= 4 ? new DataView(reg.value.buffer, reg.value.byteOffset).getUint32(reg.value.length - 4) : 0;
  }

  // --- lexical helpers ---

  private name(): string {
    const start = this.pos;
    while (this.pos < this.src.length && NAME_CHAR.test(this.src[this.pos]!)) this.pos++;
    if (this.pos === start) this.fail(`expected a name, found ${this.describeHere()}`);
    return this.src.slice(start, this.pos);
  }

  /** Skips whitespace and comments. */
  private ws(): void {
    const s = this.src;
    for (;;) {
      const c = s[this.pos];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') this.pos++;
      else if (c === '/' && s[this.pos + 1] === '/') {
        const e = s.indexOf('\n', this.pos);
        this.pos = e < 0 ? s.length : e + 1;
      } else if (c === '/' && s[this.pos + 1] === '*') {
        const e = s.indexOf('*/', this.pos + 2);
        if (e < 0) this.fail('unterminated comment');
        this.pos = e + 2;
      } else return;
    }
  }

  private peek(): string | undefined {
    return this.src[this.pos];
  }

  private accept(s: string): boolean {
    if (!this.src.startsWith(s, this.pos)) return false;
    this.pos += s.length;
    return true;
  }

  private expect(s: string): void {
    if (!this.accept(s)) this.fail(`expected '${s}', found ${this.describeHere()}`);
  }

  private describeHere(): string {
    if (this.pos >= this.src.length) return 'end of file';
    const m = /^\S{1,20}/.exec(this.src.slice(this.pos));
    return m ? `"${m[0]}"` : 'whitespace';
  }

  private fail(message: string, pos = this.pos): never {
    throw new DtsError(message, pos);
  }
}
