// Arithmetic expansion $((...)) (XCU 2.6.4): C integer expressions on signed 64-bit
// values with variables by name. Precedence climbing over a tiny tokenizer.

export class ArithError extends Error {}

export interface ArithVars {
  get(name: string): string | undefined;
  set(name: string, value: string): void;
}

type Tok = { k: 'num'; v: bigint } | { k: 'name'; v: string } | { k: 'op'; v: string } | { k: 'end' };

const OPS = ['<<=', '>>=', '&&', '||', '==', '!=', '<=', '>=', '<<', '>>', '+=', '-=', '*=', '/=', '%=', '&=', '|=', '^=', '+', '-', '*', '/', '%', '<', '>', '=', '!', '~', '&', '|', '^', '?', ':', '(', ')'];

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n') {
      i++;
      continue;
    }
    const num = /^(0[xX][0-9a-fA-F]+|[0-9]+)/.exec(src.slice(i));
    if (num) {
      const t = num[1]!;
      let v: bigint;
      if (/^0[xX]/.test(t)) v = BigInt(t);
      else if (t.length > 1 && t[0] === '0') {
        if (!/^[0-7]+$/.test(t)) throw new ArithError(`${t}: value too great for base`);
        v = BigInt('0o' + t.slice(1));
      } else v = BigInt(t);
      out.push({ k: 'num', v });
      i += t.length;
      continue;
    }
    const name = /^\$?([A-Za-z_][A-Za-z0-9_]*)/.exec(src.slice(i));
    if (name) {
      out.push({ k: 'name', v: name[1]! });
      i += name[0].length;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (op === undefined) throw new ArithError(`syntax error: "${src.slice(i)}"`);
    out.push({ k: 'op', v: op });
    i += op.length;
  }
  out.push({ k: 'end' });
  return out;
}

const BINARY: Record<string, number> = {
  '||': 1, '&&': 2, '|': 3, '^': 4, '&': 5, '==': 6, '!=': 6, '<': 7, '<=': 7, '>': 7, '>=': 7, '<<': 8, '>>': 8, '+': 9, '-': 9, '*': 10, '/': 10, '%': 10,
};

const wrap = (v: bigint): bigint => BigInt.asIntN(64, v);

/** Evaluates `src`; unset or empty variables are 0. Throws ArithError on bad input. */
export function evalArith(src: string, vars: ArithVars): bigint {
  const toks = tokenize(src);
  let i = 0;
  const peek = (): Tok => toks[i]!;
  const take = (): Tok => toks[i++]!;
  const isOp = (v: string): boolean => {
    const t = peek();
    return t.k === 'op' && t.v === v;
  };

  const valueOf = (name: string, depth = 0): bigint => {
    const s = (vars.get(name) ?? '').trim();
    if (s === '') return 0n;
    if (/^-?(0[xX][0-9a-fA-F]+|[0-9]+)$/.test(s)) return wrap(BigInt(s.replace(/^(-?)0([0-7]+)$/, '$10o$2')));
    if (depth < 8 && /^[A-Za-z_][A-Za-z0-9_]*$/.test(s)) return valueOf(s, depth + 1);
    throw new ArithError(`${s}: not a number`);
  };

  const binop = (op: string, a: bigint, b: bigint): bigint => {
    switch (op) {
      case '+': return wrap(a + b);
      case '-': return wrap(a - b);
      case '*': return wrap(a * b);
      case '/':
      case '%':
        if (b === 0n) throw new ArithError('division by zero');
        return wrap(op === '/' ? a / b : a % b);
      case '<<': return wrap(a << (b & 63n));
      case '>>': return a >> (b & 63n);
      case '<': return a < b ? 1n : 0n;
      case '<=': return a <= b ? 1n : 0n;
      case '>': return a > b ? 1n : 0n;
      case '>=': return a >= b ? 1n : 0n;
      case '==': return a === b ? 1n : 0n;
      case '!=': return a !== b ? 1n : 0n;
      case '&': return a & b;
      case '|': return a | b;
      case '^': return a ^ b;
      default: throw new ArithError(`unknown operator ${op}`);
    }
  };

  function unary(): bigint {
    const t = take();
    if (t.k === 'num') return wrap(t.v);
    if (t.k === 'name') {
      const n = peek();
      if (n.k === 'op' && /^([-+*/%&|^]|<<|>>)?=$/.test(n.v) && n.v !== '==') {
        take();
        const rhs = assignment();
        const v = n.v === '=' ? rhs : binop(n.v.slice(0, -1), valueOf(t.v), rhs);
        vars.set(t.v, v.toString());
        return v;
      }
      return valueOf(t.v);
    }
    if (t.k === 'op') {
      switch (t.v) {
        case '(': {
          const v = assignment();
          if (!isOp(')')) throw new ArithError('missing ")"');
          take();
          return v;
        }
        case '-': return wrap(-unary());
        case '+': return unary();
        case '!': return unary() === 0n ? 1n : 0n;
        case '~': return ~unary();
      }
    }
    throw new ArithError(t.k === 'end' ? 'syntax error: operand expected' : `syntax error: unexpected "${t.k === 'op' ? t.v : ''}"`);
  }

  function binary(minPrec: number): bigint {
    let lhs = unary();
    for (;;) {
      const t = peek();
      if (t.k !== 'op') break;
      const prec = BINARY[t.v];
      if (prec === undefined || prec < minPrec) break;
      take();
      if (t.v === '&&' || t.v === '||') {
        const rhs = binary(prec + 1);
        lhs = t.v === '&&' ? (lhs !== 0n && rhs !== 0n ? 1n : 0n) : lhs !== 0n || rhs !== 0n ? 1n : 0n;
      } else lhs = binop(t.v, lhs, binary(prec + 1));
    }
    return lhs;
  }

  function conditional(): bigint {
    const c = binary(1);
    if (!isOp('?')) return c;
    take();
    const a = assignment();
    if (!isOp(':')) throw new ArithError('expecting ":"');
    take();
    const b = conditional();
    return c !== 0n ? a : b;
  }

  function assignment(): bigint {
    return conditional();
  }

  if (peek().k === 'end') return 0n;
  const v = assignment();
  if (peek().k !== 'end') throw new ArithError('syntax error in expression');
  return v;
}
