// The shell's syntax tree (POSIX.1-2017 XCU 2.9, Shell Commands, in the subset sh
// implements). Words keep their parts so expansion knows what was quoted.

export type Part =
  /** Literal text; `q` when it came from quotes or a backslash (no splitting, no globbing). */
  | { readonly t: 'lit'; readonly s: string; readonly q: boolean }
  /** $name, ${name}, ${name op word}, ${#name}; special names ? $ # @ * ! 0-9 -. */
  | { readonly t: 'param'; readonly name: string; readonly op: ParamOp; readonly arg: readonly Part[]; readonly q: boolean }
  /** $(list) */
  | { readonly t: 'cmd'; readonly body: Node; readonly q: boolean }
  /** $((expression)) */
  | { readonly t: 'arith'; readonly expr: string; readonly q: boolean };

/** '' plain; ':-' '-' ':=' '=' ':+' '+' ':?' '?' as XCU 2.6.2; '#' is the length ${#name}. */
export type ParamOp = '' | ':-' | '-' | ':=' | '=' | ':+' | '+' | ':?' | '?' | '#';

export interface Word {
  readonly parts: readonly Part[];
}

export type RedirOp = '<' | '>' | '>>' | '>|' | '<>' | '<&' | '>&' | '<<' | '<<-';

export interface Redir {
  readonly fd: number;
  readonly op: RedirOp;
  /** The file, the fd for <& and >& ("-" closes), or the here-document delimiter. */
  readonly target: Word;
  /** Here-document body (already split into parts; literal when the delimiter was quoted). */
  heredoc?: Word;
}

export interface Assign {
  readonly name: string;
  readonly value: Word;
}

export type Node =
  | { readonly type: 'simple'; readonly assigns: readonly Assign[]; readonly words: readonly Word[]; readonly redirs: readonly Redir[] }
  | { readonly type: 'pipeline'; readonly bang: boolean; readonly cmds: readonly Node[] }
  | { readonly type: 'andor'; readonly first: Node; readonly rest: readonly { readonly op: '&&' | '||'; readonly node: Node }[] }
  | { readonly type: 'list'; readonly items: readonly { readonly node: Node; readonly bg: boolean }[] }
  | { readonly type: 'if'; readonly clauses: readonly { readonly cond: Node; readonly body: Node }[]; readonly else: Node | null; readonly redirs: readonly Redir[] }
  | { readonly type: 'for'; readonly name: string; readonly words: readonly Word[] | null; readonly body: Node; readonly redirs: readonly Redir[] }
  | { readonly type: 'while'; readonly until: boolean; readonly cond: Node; readonly body: Node; readonly redirs: readonly Redir[] }
  | { readonly type: 'case'; readonly word: Word; readonly arms: readonly { readonly patterns: readonly Word[]; readonly body: Node | null }[]; readonly redirs: readonly Redir[] }
  | { readonly type: 'group'; readonly body: Node; readonly redirs: readonly Redir[] }
  | { readonly type: 'subshell'; readonly body: Node; readonly redirs: readonly Redir[] }
  | { readonly type: 'func'; readonly name: string; readonly body: Node };

/** The literal text of a word when it has no expansions (for keywords, names, delimiters). */
export function literalText(w: Word): string | undefined {
  let s = '';
  for (const p of w.parts) {
    if (p.t !== 'lit') return undefined;
    s += p.s;
  }
  return s;
}

/** True when the word has no quoted part (a candidate reserved word). */
export function isUnquotedLiteral(w: Word): boolean {
  return w.parts.every((p) => p.t === 'lit' && !p.q);
}
