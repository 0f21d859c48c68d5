// Pattern matching notation (XCU 2.13): * ? [...] [!...] for case and pathname
// expansion. A pattern is a list of pieces; quoted pieces match literally.

export interface PatternPiece {
  readonly s: string;
  readonly q: boolean;
}

const reEscape = (s: string): string => s.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');

/** True when an unquoted piece holds a pattern character. */
export function hasGlob(pieces: readonly PatternPiece[]): boolean {
  return pieces.some((p) => !p.q && /[*?[]/.test(p.s));
}

/** Compiles pieces to an anchored RegExp. `pathname`: * and ? do not match "/" or a leading ".". */
export function patternToRegExp(pieces: readonly PatternPiece[], pathname = false): RegExp {
  let re = '';
  const any = pathname ? '[^/]' : '[\\s\\S]';
  for (const p of pieces) {
    if (p.q) {
      re += reEscape(p.s);
      continue;
    }
    const s = p.s;
    for (let i = 0; i < s.length; i++) {
      const c = s[i]!;
      if (c === '\\' && i + 1 < s.length) {
        re += reEscape(s[++i]!);
      } else if (c === '*') re += `${any}*`;
      else if (c === '?') re += any;
      else if (c === '[') {
        const end = s.indexOf(']', i + 2);
        if (end < 0) {
          re += '\\[';
          continue;
        }
        let body = s.slice(i + 1, end);
        let neg = false;
        if (body[0] === '!' || body[0] === '^') {
          neg = true;
          body = body.slice(1);
        }
        re += `[${neg ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
        i = end;
      } else re += reEscape(c);
    }
  }
  return new RegExp(`^${re}$`);
}

export function matchPattern(pieces: readonly PatternPiece[], text: string): boolean {
  return patternToRegExp(pieces).test(text);
}
