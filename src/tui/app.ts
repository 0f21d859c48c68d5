// The terminal UI (blessed) over a TuiSession: the transaction list, the detail of the
// selected record, the guest console and a status bar. All state lives in the session
// and in this class; blessed only draws boxes and delivers keys, so the same app runs
// on a real terminal and on in-memory streams in tests.

import blessed from 'blessed';
import type { Readable, Writable } from 'node:stream';
import { TRACE_KIND_NAMES, TraceKind } from '../trace/record.js';
import { parseKinds, type StopInfo, type TuiSession } from './model/session.js';
import type { ConsoleBuffer } from './model/console.js';
import { formatHeader, formatRow, formatTime, layoutFor, type Rect } from './layout.js';

export interface TuiAppOptions {
  readonly session: TuiSession;
  readonly console: ConsoleBuffer;
  /** Terminal streams (default process.stdin/stdout). */
  readonly input?: Readable;
  readonly output?: Writable;
  /** terminfo name (default $TERM or xterm). */
  readonly terminal?: string;
  /** Called once when the user quits. */
  readonly onExit?: () => void;
  /** Workload quanta per screen update while running (default 20). */
  readonly quantaPerTick?: number;
}

type Pane = 'list' | 'detail' | 'console';
/** What a run in progress is heading for. */
type Goal = { readonly kind: 'breakpoints' } | { readonly kind: 'stall' } | { readonly kind: 'filter' };
type PromptKind = 'filter' | 'search' | 'breakpoints';

const PROMPT_LABELS: Readonly<Record<PromptKind, string>> = {
  filter: 'filter (e.g. kind=dma_*,stall sid=0x10; Ctrl-U clears, empty = all): ',
  search: 'search text: ',
  breakpoints: 'break on kinds (e.g. stall,fault,bus_error,event): ',
};

export const HELP_TEXT = [
  'svasoc tui: every bus transaction of the machine, as it happens',
  '',
  ' space    run / pause (a run stops at a breakpoint kind; b sets them)',
  ' n        step: show the next record (the next one passing the filter)',
  ' s        run to the next stall (a DMA held by the SMMU)',
  ' f or /   filter the list: kind=stall,event sid=0x10 addr=LO-HI ...',
  '          (in a prompt: Enter applies, Esc cancels, Ctrl-U clears)',
  ' g        search text in the list; ] next match, [ previous',
  ' b        breakpoint kinds for space (default: stall)',
  ' arrows (j/k), PgUp/PgDn, Home/End: move in the list (End follows the',
  '          tail); in the detail (Tab, or zoomed) they scroll it',
  ' Enter    zoom the detail of the selected record (Enter/Esc back)',
  ' Tab      focus list -> detail -> console (Shift-Tab back); in the',
  '          console keys go to the guest UART (Tab leaves it)',
  ' ?        this help          q  quit (Ctrl-C quits from any pane)',
  '',
  'A stall (s gets there): the detail tells the STE and CD used, the event,',
  'and after space or n the interrupt, CMD_RESUME, retry and time held.',
];

const esc = (text: string) => text.replace(/[{}]/g, (c) => (c === '{' ? '{open}' : '{close}'));

function kindColor(kind: TraceKind): string | undefined {
  switch (kind) {
    case TraceKind.Stall:
    case TraceKind.Fault:
    case TraceKind.BusError:
      return 'red';
    case TraceKind.Event:
    case TraceKind.Resume:
      return 'yellow';
    case TraceKind.Command:
    case TraceKind.Doorbell:
    case TraceKind.Completion:
      return 'cyan';
    case TraceKind.DmaRead:
    case TraceKind.DmaWrite:
      return 'green';
    case TraceKind.Marker:
      return 'magenta';
    default:
      return undefined;
  }
}

function overlaps(a: Rect, b: Rect): boolean {
  return a.left < b.left + b.width && b.left < a.left + a.width && a.top < b.top + b.height && b.top < a.top + a.height;
}

/** Breaks `text` into lines of at most `width` at spaces where it can; continuation lines are indented. */
export function wrapWords(text: string, width: number): string[] {
  const out: string[] = [];
  let rest = text;
  let indent = '';
  while (indent.length + rest.length > width && width > 8) {
    const room = width - indent.length;
    let cut = rest.lastIndexOf(' ', room);
    if (cut <= room / 2) cut = room;
    out.push(indent + rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
    indent = '    ';
  }
  out.push(indent + rest);
  return out;
}

export class TuiApp {
  readonly screen: blessed.Widgets.Screen;
  private readonly session: TuiSession;
  private readonly consoleText: ConsoleBuffer;
  private readonly list: blessed.Widgets.BoxElement;
  private readonly detailBox: blessed.Widgets.BoxElement;
  private readonly consoleBox: blessed.Widgets.BoxElement;
  private readonly status: blessed.Widgets.BoxElement;
  private readonly helpBox: blessed.Widgets.BoxElement;
  private focus: Pane = 'list';
  /** Selected list row; follows the tail while `follow`. */
  private selected = 0;
  private top = 0;
  private follow = true;
  private zoomed = false;
  private detailScroll = 0;
  private goal: Goal | undefined;
  private tickPending = false;
  private prompt: { kind: PromptKind; text: string } | undefined;
  private message = '';
  private searchText = '';
  private closed = false;
  private readonly quantaPerTick: number;
  private readonly onExit: (() => void) | undefined;

  constructor(options: TuiAppOptions) {
    this.session = options.session;
    this.consoleText = options.console;
    this.onExit = options.onExit;
    this.quantaPerTick = options.quantaPerTick ?? 20;
    this.screen = blessed.screen({
      smartCSR: true,
      warnings: false,
      title: 'svasoc tui',
      terminal: options.terminal ?? process.env.TERM ?? 'xterm',
      ...(options.input !== undefined ? { input: options.input as unknown as Writable } : {}),
      ...(options.output !== undefined ? { output: options.output as unknown as Readable } : {}),
    } as blessed.Widgets.IScreenOptions);
    const pane = (label: string) =>
      blessed.box({
        parent: this.screen,
        label: ` ${label} `,
        border: { type: 'line' },
        tags: true,
        wrap: false,
        style: { border: { fg: 'white' }, label: { bold: false } },
      });
    this.list = pane('transactions');
    this.detailBox = pane('detail');
    this.consoleBox = pane('console');
    this.status = blessed.box({ parent: this.screen, tags: true, style: { inverse: true } });
    this.helpBox = blessed.box({
      parent: this.screen,
      label: ' help ',
      border: { type: 'line' },
      tags: true,
      hidden: true,
      content: esc(HELP_TEXT.join('\n')),
    });
    this.screen.on('keypress', (ch: string | undefined, key: blessed.Widgets.Events.IKeyEventArg) => this.onKey(ch, key));
    this.screen.on('resize', () => this.render());
    this.render();
  }

  // ---- drawing ----

  private place(el: blessed.Widgets.BoxElement, r: Rect): void {
    el.top = r.top;
    el.left = r.left;
    el.width = r.width;
    el.height = r.height;
  }

  /** Redraws every pane from the session. */
  render(): void {
    if (this.closed) return;
    const cols = (this.screen.width as number) || 80;
    const rows = (this.screen.height as number) || 24;
    const layout = layoutFor(cols, rows);
    this.place(this.list, layout.list);
    this.place(this.detailBox, this.zoomed ? layout.zoom : layout.detail);
    this.place(this.consoleBox, layout.console);
    this.place(this.status, layout.status);
    this.list.hidden = this.zoomed;
    // the wide layout's zoom takes the console's place too: hidden, it cannot draw over the detail
    this.consoleBox.hidden = this.zoomed && overlaps(layout.zoom, layout.console);
    this.place(this.helpBox, { top: 1, left: Math.max(0, Math.floor((cols - 78) / 2)), width: Math.min(cols, 78), height: Math.min(rows - 2, HELP_TEXT.length + 2) });
    for (const [el, name] of [
      [this.list, 'list'],
      [this.detailBox, 'detail'],
      [this.consoleBox, 'console'],
    ] as const) {
      (el.style as { border: { fg: string } }).border.fg = this.focus === name ? 'cyan' : 'white';
    }
    this.drawList(layout.list);
    this.drawDetail(this.zoomed ? layout.zoom : layout.detail);
    this.drawConsole(layout.console);
    this.drawStatus(cols);
    this.screen.render();
  }

  private drawList(r: Rect): void {
    const s = this.session;
    const inner = r.width - 2;
    const visible = Math.max(1, r.height - 3); // border top/bottom and a header line
    const count = s.rowCount;
    if (this.follow || this.selected >= count) this.selected = Math.max(0, count - 1);
    if (this.selected < this.top) this.top = this.selected;
    if (this.selected >= this.top + visible) this.top = this.selected - visible + 1;
    if (this.follow) this.top = Math.max(0, count - visible);
    // a list that shrank (a narrower filter) shows rows above the selection rather than blank lines below it
    this.top = Math.max(0, Math.min(this.top, count - visible));
    const lines = [`{bold}${esc(formatHeader(inner))}{/bold}`];
    for (const row of s.rowsAt(this.top, visible)) {
      const rowIndex = this.top + lines.length - 1;
      let text = esc(formatRow(row.record, row.decode, inner));
      const color = kindColor(row.record.kind);
      if (color !== undefined) text = `{${color}-fg}${text}{/${color}-fg}`;
      if (rowIndex === this.selected) text = `{inverse}${text}{/inverse}`;
      lines.push(text);
    }
    if (count === 0) lines.push(s.end === 0 ? ' nothing yet: n steps one record, space runs, s runs to the next stall' : ' no record passes the filter');
    this.list.setLabel(` transactions ${count === 0 ? 0 : this.selected + 1}/${count}${s.filterText ? ` [${s.filterText}]` : ''} `);
    this.list.setContent(lines.join('\n'));
  }

  private detailLines(width: number): string[] {
    const index = this.session.indexOfRow(this.selected);
    if (index === undefined) return ['(no record selected)'];
    const out: string[] = [];
    for (const section of this.session.detail(index)) {
      if (section.title !== '') for (const piece of wrapWords(section.title, width)) out.push(`{bold}${esc(piece)}{/bold}`);
      for (const row of section.rows) for (const piece of wrapWords(row, width)) out.push(esc(piece));
    }
    return out;
  }

  private drawDetail(r: Rect): void {
    const lines = this.detailLines(r.width - 2);
    const visible = r.height - 2;
    this.detailScroll = Math.max(0, Math.min(this.detailScroll, lines.length - visible));
    this.detailBox.setLabel(` detail${lines.length > visible ? ` ${this.detailScroll + 1}-${Math.min(lines.length, this.detailScroll + visible)}/${lines.length}` : ''}${this.zoomed ? ' (Enter: back)' : ''} `);
    this.detailBox.setContent(lines.slice(this.detailScroll, this.detailScroll + visible).join('\n'));
  }

  private drawConsole(r: Rect): void {
    const lines = this.consoleText.tail(r.height - 2, r.width - 2);
    this.consoleBox.setLabel(` console${this.focus === 'console' ? ' (typing goes to the guest UART; Tab leaves)' : ''} `);
    this.consoleBox.setContent(lines.map(esc).join('\n'));
  }

  private drawStatus(cols: number): void {
    const s = this.session;
    if (this.prompt !== undefined) {
      this.status.setContent(esc(`${PROMPT_LABELS[this.prompt.kind]}${this.prompt.text}_`.slice(-cols)));
      return;
    }
    const state = s.state === 'finished' ? 'finished' : this.goal !== undefined ? (this.session.workload.waiting ? 'waiting for input' : `running${this.goal.kind === 'stall' ? ' to stall' : this.goal.kind === 'filter' ? ' to filter' : ''}`) : 'paused';
    const breaks = [...s.breakpoints].map((k) => TRACE_KIND_NAMES[k]).join(',') || 'none';
    const lost = s.lost > 0 ? ` lost ${s.lost}` : '';
    const left = ` t=${formatTime(s.timeNs)} ${state} | ${s.end} rec${lost} | ${s.workload.status}${s.filterText ? ` | filter: ${s.filterText}` : ''} | break: ${breaks}`;
    const keys = cols >= 120 ? ' spc run  n step  s stall  f filter  g search  Tab focus  ? help  q quit' : ' s stall  ? help  q quit';
    const text = this.message !== '' ? ` ${this.message} |${left}` : left.length + keys.length <= cols ? `${left}${' '.repeat(cols - left.length - keys.length)}${keys}` : `${left} |${keys}`;
    this.status.setContent(esc(text.slice(0, cols)));
  }

  // ---- running ----

  private startGoal(goal: Goal): void {
    this.goal = goal;
    this.follow = true;
    this.message = '';
    this.session.state = 'running';
    this.scheduleTick();
  }

  private pause(): void {
    this.goal = undefined;
    if (this.session.state === 'running') this.session.state = 'paused';
  }

  private scheduleTick(): void {
    if (this.tickPending || this.closed) return;
    this.tickPending = true;
    setImmediate(() => {
      this.tickPending = false;
      this.tick();
    });
  }

  /** One slice of a run: a few workload quanta, then a redraw. */
  tick(): void {
    const goal = this.goal;
    if (goal === undefined || this.closed) return;
    const s = this.session;
    const before = s.end;
    let stop: StopInfo;
    if (goal.kind === 'stall') stop = s.runToKind(new Set([TraceKind.Stall]), this.quantaPerTick);
    else if (goal.kind === 'filter') stop = s.runToFilter(s.filter, this.quantaPerTick);
    else stop = s.runToKind(s.breakpoints, this.quantaPerTick);
    this.onStop(stop);
    if (goal.kind === 'stall' && stop.reason === 'end') this.message = `no stall in this run (the demo and the sva image stall) | ${this.message}`;
    // an idle guest waits for input without spinning: a keystroke restarts the run
    if (this.goal !== undefined && !(s.workload.waiting && s.end === before)) this.scheduleTick();
    this.render();
  }

  private onStop(stop: StopInfo): void {
    if (stop.reason === 'budget') return;
    this.goal = undefined;
    if (stop.reason === 'end') {
      this.message = `${this.session.workload.title}: ${this.session.workload.status}`;
      if (this.session.state === 'running') this.session.state = 'paused';
      return;
    }
    if (this.session.state === 'running') this.session.state = 'paused';
    if (stop.index !== undefined) this.selectIndex(stop.index);
    if (stop.reason === 'match' && stop.index !== undefined) {
      const r = this.session.record(stop.index);
      if (r !== undefined && r.kind === TraceKind.Stall) this.message = 'stalled DMA selected: detail below, Enter zooms';
    }
  }

  private selectIndex(index: number): void {
    const row = this.session.rowOfIndex(index);
    const count = this.session.rowCount;
    this.selected = Math.min(row, Math.max(0, count - 1));
    this.follow = false;
    this.detailScroll = 0;
  }

  /** Runs until the current goal stops (for tests and scripts): no event loop needed. */
  runToCompletion(maxTicks = 1_000_000): void {
    for (let i = 0; i < maxTicks && this.goal !== undefined; i++) {
      const s = this.session;
      const before = s.end;
      this.tickPending = false;
      this.tick();
      if (this.goal !== undefined && s.workload.waiting && s.end === before) break;
    }
  }

  // ---- keys ----

  /** Handles one key (blessed's keypress event); public so tests can type without a terminal. */
  onKey(ch: string | undefined, key: blessed.Widgets.Events.IKeyEventArg | undefined): void {
    if (this.closed) return;
    const name = key?.full ?? key?.name ?? ch ?? '';
    // blessed reports a terminal's Enter ('\r') twice, as 'enter' and then as 'return':
    // acting on both would submit a prompt and then wipe its message (or zoom twice)
    if (name === 'return') return;
    if (name === 'C-c') return this.quit();
    if (this.prompt !== undefined) return this.promptKey(ch, name);
    if (!this.helpBox.hidden) {
      this.helpBox.hide();
      return this.render();
    }
    if (this.focus === 'console' && name !== 'tab' && name !== 'S-tab') {
      const bytes = key?.sequence ?? ch;
      if (bytes !== undefined && bytes !== '') {
        if (!this.session.input(new TextEncoder().encode(bytes))) this.message = 'this workload takes no console input';
        else if (this.goal === undefined) this.startGoal({ kind: 'breakpoints' });
        else this.scheduleTick();
      }
      return this.render();
    }
    this.message = '';
    switch (name) {
      case 'q':
        return this.quit();
      case '?':
        this.helpBox.show();
        this.helpBox.setFront();
        break;
      case 'space':
        if (this.goal !== undefined) this.pause();
        else if (this.session.state !== 'finished') this.startGoal({ kind: 'breakpoints' });
        break;
      case 'n':
        this.pause();
        {
          const stop = this.session.runToFilter(this.session.filter, this.quantaPerTick * 50);
          this.onStop(stop);
          if (stop.reason === 'budget') this.message = 'no matching record yet: n looks further, space runs';
          this.follow = false;
        }
        break;
      case 's':
        this.startGoal({ kind: 'stall' });
        break;
      case 'f':
      case '/':
        this.prompt = { kind: 'filter', text: this.session.filterText };
        break;
      case 'g':
        this.prompt = { kind: 'search', text: this.searchText };
        break;
      case 'b':
        this.prompt = { kind: 'breakpoints', text: [...this.session.breakpoints].map((k) => TRACE_KIND_NAMES[k]).join(',') };
        break;
      case ']':
      case '[':
        this.searchNext(name === '[');
        break;
      case 'tab':
        this.focus = this.focus === 'list' ? 'detail' : this.focus === 'detail' ? 'console' : 'list';
        break;
      case 'S-tab':
        this.focus = this.focus === 'list' ? 'console' : this.focus === 'detail' ? 'list' : 'detail';
        break;
      case 'enter':
        this.zoomed = !this.zoomed;
        this.detailScroll = 0;
        break;
      case 'escape':
        this.zoomed = false;
        break;
      default:
        this.moveKey(name);
    }
    this.render();
  }

  private moveKey(name: string): void {
    const detail = this.focus === 'detail' || this.zoomed;
    const page = Math.max(1, ((detail ? this.detailBox.height : this.list.height) as number) - 3);
    const delta = name === 'up' || name === 'k' ? -1 : name === 'down' || name === 'j' ? 1 : name === 'pageup' ? -page : name === 'pagedown' ? page : 0;
    if (detail && (delta !== 0 || name === 'home')) {
      this.detailScroll = name === 'home' ? 0 : Math.max(0, this.detailScroll + delta);
      return;
    }
    const count = this.session.rowCount;
    if (name === 'home') {
      this.selected = 0;
      this.follow = false;
    } else if (name === 'end') {
      this.follow = true;
    } else if (delta !== 0) {
      this.selected = Math.max(0, Math.min(count - 1, this.selected + delta));
      this.follow = false;
    } else return;
    this.detailScroll = 0;
  }

  private promptKey(ch: string | undefined, name: string): void {
    const p = this.prompt!;
    if (name === 'escape') this.prompt = undefined;
    else if (name === 'enter') {
      this.prompt = undefined;
      this.submit(p.kind, p.text);
    } else if (name === 'backspace') p.text = p.text.slice(0, -1);
    else if (name === 'C-u') p.text = '';
    else if (ch !== undefined && ch.length === 1 && ch >= ' ') p.text += ch;
    this.render();
  }

  private submit(kind: PromptKind, text: string): void {
    if (kind === 'filter') {
      const keep = this.session.indexOfRow(this.selected);
      const err = this.session.setFilter(text);
      if (err !== undefined) this.message = `filter: ${err}`;
      else if (keep !== undefined && !this.follow) this.selectIndex(keep);
      return;
    }
    if (kind === 'breakpoints') {
      const kinds = parseKinds(text);
      if (typeof kinds === 'string') this.message = kinds;
      else this.session.breakpoints = new Set(kinds);
      return;
    }
    this.searchText = text;
    this.searchNext(false);
  }

  private searchNext(backwards: boolean): void {
    if (this.searchText === '') {
      this.message = 'no search text (g)';
      return;
    }
    const row = this.session.search(this.searchText, this.selected, backwards);
    if (row === undefined) this.message = `"${this.searchText}" not found`;
    else {
      this.selected = row;
      this.follow = false;
      this.detailScroll = 0;
    }
  }

  /** Text on the screen as drawn (rows of characters), for tests and snapshots. */
  screenText(): string[] {
    const lines = (this.screen as unknown as { lines: [number, string][][] }).lines;
    return lines.map((line) => line.map((cell) => cell[1]).join(''));
  }

  quit(): void {
    if (this.closed) return;
    this.closed = true;
    this.goal = undefined;
    this.screen.destroy();
    this.onExit?.();
  }
}
