// The console pane's text: UART output of the guest (or a scenario's narrative), kept
// as lines, with carriage returns, backspaces and escape sequences interpreted the
// way a plain terminal would show them.

const MAX_LINES = 5000;

export class ConsoleBuffer {
  private readonly done: string[] = [];
  private current = '';
  private escape = false;
  /** Bumped on every change, so a view redraws only when needed. */
  version = 0;

  write(text: string): void {
    for (const ch of text) {
      if (this.escape) {
        // CSI sequences end with a letter; a lone ESC x is two characters
        if (/[A-Za-z~]/.test(ch)) this.escape = false;
        continue;
      }
      if (ch === '\x1b') this.escape = true;
      else if (ch === '\n') {
        this.done.push(this.current);
        this.current = '';
      } else if (ch === '\r') continue;
      else if (ch === '\b' || ch === '\x7f') this.current = this.current.slice(0, -1);
      else if (ch === '\t') this.current += ' '.repeat(8 - (this.current.length % 8));
      else if (ch >= ' ') this.current += ch;
    }
    if (this.done.length > MAX_LINES) this.done.splice(0, this.done.length - MAX_LINES);
    this.version++;
  }

  /** Every line, the one being written last (when not empty). */
  lines(): string[] {
    return this.current === '' ? [...this.done] : [...this.done, this.current];
  }

  /** The last `n` lines, each cut or wrapped to `width` columns. */
  tail(n: number, width: number): string[] {
    const out: string[] = [];
    const all = this.lines();
    for (let i = all.length - 1; i >= 0 && out.length < n; i--) {
      const line = all[i]!;
      const pieces: string[] = [];
      for (let at = 0; at < line.length || pieces.length === 0; at += width) pieces.push(line.slice(at, at + width));
      for (let k = pieces.length - 1; k >= 0 && out.length < n; k--) out.push(pieces[k]!);
    }
    return out.reverse();
  }

  get text(): string {
    return this.lines().join('\n');
  }
}
