// printf(3) formatting: %[flags][width][.precision][length]conversion with the flags
// "-+ #0", `*` width/precision, length modifiers hh h l ll z j t (accepted; values are
// JavaScript numbers or bigints), conversions d i u o x X c s p f F e E g G %.

export type PrintfArg = number | bigint | string | boolean;

interface Spec {
  left: boolean;
  plus: boolean;
  space: boolean;
  alt: boolean;
  zero: boolean;
  width: number;
  prec: number; // -1 when absent
}

/** Widths and precisions beyond this are clamped (a guest asking for a gigabyte of padding gets a megabyte). */
const MAX_FIELD = 1 << 20;

/** Formats like snprintf with an unlimited buffer. Missing arguments print as 0 / "(null)". */
export function sprintf(fmt: string, ...args: readonly PrintfArg[]): string {
  let out = '';
  let ai = 0;
  let i = 0;
  const next = (): PrintfArg | undefined => args[ai++];
  while (i < fmt.length) {
    const pct = fmt.indexOf('%', i);
    if (pct < 0) {
      out += fmt.slice(i);
      break;
    }
    out += fmt.slice(i, pct);
    i = pct + 1;
    if (i >= fmt.length) {
      out += '%';
      break;
    }
    const sp: Spec = { left: false, plus: false, space: false, alt: false, zero: false, width: 0, prec: -1 };
    for (;;) {
      const c = fmt[i];
      if (c === '-') sp.left = true;
      else if (c === '+') sp.plus = true;
      else if (c === ' ') sp.space = true;
      else if (c === '#') sp.alt = true;
      else if (c === '0') sp.zero = true;
      else break;
      i++;
    }
    if (fmt[i] === '*') {
      const w = toInt(next());
      if (w < 0) {
        sp.left = true;
        sp.width = Number(-w);
      } else sp.width = Number(w);
      i++;
    } else
      while (i < fmt.length && fmt[i]! >= '0' && fmt[i]! <= '9') sp.width = sp.width * 10 + (fmt.charCodeAt(i++) - 48);
    if (fmt[i] === '.') {
      i++;
      sp.prec = 0;
      if (fmt[i] === '*') {
        const p = Number(toInt(next()));
        sp.prec = p < 0 ? -1 : p;
        i++;
      } else while (i < fmt.length && fmt[i]! >= '0' && fmt[i]! <= '9') sp.prec = sp.prec * 10 + (fmt.charCodeAt(i++) - 48);
    }
    sp.width = Math.min(sp.width, MAX_FIELD);
    sp.prec = Math.min(sp.prec, MAX_FIELD);
    let longBits = 32;
    for (;;) {
      const c = fmt[i];
      if (c === 'l' || c === 'z' || c === 'j' || c === 't' || c === 'L' || c === 'q') longBits = 64;
      else if (c !== 'h') break;
      i++;
    }
    const conv = fmt[i++];
    switch (conv) {
      case '%':
        out += '%';
        break;
      case 'd':
      case 'i':
        out += formatInt(toInt(next()), 10, sp, false, true, longBits);
        break;
      case 'u':
        out += formatInt(toInt(next()), 10, sp, false, false, longBits);
        break;
      case 'o':
        out += formatInt(toInt(next()), 8, sp, false, false, longBits);
        break;
      case 'x':
        out += formatInt(toInt(next()), 16, sp, false, false, longBits);
        break;
      case 'X':
        out += formatInt(toInt(next()), 16, sp, true, false, longBits);
        break;
      case 'p': {
        const v = toInt(next());
        out += v === 0n ? pad('(nil)', sp, false) : formatInt(v, 16, { ...sp, alt: true }, false, false, 64);
        break;
      }
      case 'c': {
        const v = next();
        const ch = typeof v === 'string' ? v.slice(0, 1) : String.fromCharCode(Number(toInt(v)) & 0xff);
        out += pad(ch, sp, false);
        break;
      }
      case 's': {
        const v = next();
        let s = v === undefined ? '(null)' : String(v);
        if (sp.prec >= 0) s = s.slice(0, sp.prec);
        out += pad(s, sp, false);
        break;
      }
      case 'f':
      case 'F':
      case 'e':
      case 'E':
      case 'g':
      case 'G':
        out += formatFloat(Number(next() ?? 0), conv, sp);
        break;
      default:
        // Unknown conversion: print it as written, as glibc does.
        out += fmt.slice(pct, i);
    }
  }
  return out;
}

function toInt(v: PrintfArg | undefined): bigint {
  if (v === undefined) return 0n;
  if (typeof v === 'bigint') return v;
  if (typeof v === 'boolean') return v ? 1n : 0n;
  const n = typeof v === 'string' ? Number(v) : v;
  return Number.isFinite(n) ? BigInt(Math.trunc(n)) : 0n;
}

function pad(body: string, sp: Spec, numeric: boolean, signPrefix = ''): string {
  const len = signPrefix.length + body.length;
  if (len >= sp.width) return signPrefix + body;
  const fill = sp.width - len;
  if (sp.left) return signPrefix + body + ' '.repeat(fill);
  if (numeric && sp.zero) return signPrefix + '0'.repeat(fill) + body;
  return ' '.repeat(fill) + signPrefix + body;
}

function formatInt(v: bigint, base: number, sp: Spec, upper: boolean, signed: boolean, bits: number): string {
  let neg = false;
  if (signed) {
    v = BigInt.asIntN(bits, v);
    if (v < 0n) {
      neg = true;
      v = -v;
    }
  } else v = BigInt.asUintN(bits, v);
  let digits = v.toString(base);
  if (upper) digits = digits.toUpperCase();
  if (sp.prec >= 0) {
    if (sp.prec === 0 && v === 0n) digits = '';
    else if (digits.length < sp.prec) digits = '0'.repeat(sp.prec - digits.length) + digits;
  }
  let prefix = neg ? '-' : signed && sp.plus ? '+' : signed && sp.space ? ' ' : '';
  if (sp.alt && v !== 0n) {
    if (base === 16) prefix += upper ? '0X' : '0x';
    else if (base === 8 && !digits.startsWith('0')) digits = '0' + digits;
  }
  // The 0 flag is ignored when a precision is given (C11 7.21.6.1).
  return pad(digits, sp.prec >= 0 ? { ...sp, zero: false } : sp, true, prefix);
}

function formatFloat(v: number, conv: string, sp: Spec): string {
  const prec = sp.prec < 0 ? 6 : sp.prec;
  const neg = v < 0 || Object.is(v, -0);
  const a = Math.abs(v);
  let body: string;
  const upper = conv === 'F' || conv === 'E' || conv === 'G';
  if (!Number.isFinite(a)) body = Number.isNaN(a) ? 'nan' : 'inf';
  else if (conv === 'f' || conv === 'F') body = a.toFixed(prec);
  else if (conv === 'e' || conv === 'E') body = expForm(a, prec);
  else {
    const p = prec === 0 ? 1 : prec;
    const x = a === 0 ? 0 : Math.floor(Math.log10(a));
    const exp = Number(a.toExponential(p - 1).split('e')[1]);
    const e = Number.isFinite(exp) ? exp : x;
    body = e < -4 || e >= p ? expForm(a, p - 1) : a.toFixed(Math.max(0, p - 1 - e));
    if (!sp.alt && body.includes('.')) body = body.replace(/\.?0+(?=e|$)/, '');
  }
  if (upper) body = body.toUpperCase();
  const prefix = neg ? '-' : sp.plus ? '+' : sp.space ? ' ' : '';
  return pad(body, Number.isFinite(a) ? sp : { ...sp, zero: false }, true, prefix);
}

function expForm(a: number, prec: number): string {
  const [m, e] = a.toExponential(prec).split('e') as [string, string];
  const n = Number(e);
  return `${m}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
}
