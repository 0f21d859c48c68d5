// The blessed view rendered headless: a screen on in-memory streams of a fixed size,
// read back from blessed's cell buffer, driven by keys.

import { PassThrough, Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { HELP_TEXT, TuiApp } from '../../src/tui/app.js';
import { ConsoleBuffer } from '../../src/tui/model/console.js';
import { TuiSession } from '../../src/tui/model/session.js';
import { demoWorkload } from '../../src/cli/tui.js';
import { layoutFor, formatRow } from '../../src/tui/layout.js';
import { TraceKind } from '../../src/trace/record.js';

class FakeInput extends PassThrough {
  readonly isTTY = true;
  setRawMode(): this {
    return this;
  }
}

class FakeTerminal extends Writable {
  readonly isTTY = true;
  bytes = 0;
  constructor(
    readonly columns: number,
    readonly rows: number,
  ) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.bytes += chunk.length;
    done();
  }
}

const apps: TuiApp[] = [];
afterEach(() => {
  for (const a of apps.splice(0)) a.quit();
});

function open(cols: number, rows: number): { app: TuiApp; input: FakeInput; session: TuiSession; out: FakeTerminal } {
  const console = new ConsoleBuffer();
  const session = new TuiSession(demoWorkload(console, { ramSize: 64 * 1024 * 1024, cpus: 2, seed: 1 }));
  const input = new FakeInput();
  const out = new FakeTerminal(cols, rows);
  const app = new TuiApp({ session, console, input, output: out, terminal: 'xterm' });
  apps.push(app);
  return { app, input, session, out };
}

/** Screen text without box borders, whitespace (and wrapped lines) collapsed to single spaces. */
const flat = (text: string[]) => text.join(' ').replace(/[│┌┐└┘─]/g, ' ').replace(/\s+/g, ' ');

const key = (name: string, ch?: string) => ({ name, full: name, sequence: ch ?? name, ctrl: false, meta: false, shift: false });

describe('TUI layout', () => {
  it('80x24: list, detail, console and status stack without overlap and fill the screen', () => {
    const l = layoutFor(80, 24);
    expect(l.list.top).toBe(0);
    expect(l.detail.top).toBe(l.list.height);
    expect(l.console.top).toBe(l.detail.top + l.detail.height);
    expect(l.console.top + l.console.height).toBe(23);
    expect(l.status).toEqual({ top: 23, left: 0, width: 80, height: 1 });
    for (const r of [l.list, l.detail, l.console]) expect(r.width).toBe(80);
    expect(l.detail.height).toBeGreaterThanOrEqual(6);
  });

  it('a big terminal keeps the list at full width on top, detail and console side by side below', () => {
    const l = layoutFor(200, 60);
    expect(l.list.width).toBe(200);
    expect(l.detail.top).toBe(l.list.height);
    expect(l.console.top).toBe(l.list.height);
    expect(l.console.left).toBe(l.detail.width);
    expect(l.detail.width + l.console.width).toBe(200);
    expect(l.detail.height + l.list.height).toBe(59);
  });

  it('rows fit the width exactly and add columns as the terminal widens', () => {
    const r = { index: 705, timeNs: 2744, kind: TraceKind.Stall, initiator: 'smmu', sid: 0x10, ssid: 1, iova: 0x7f0000801000n, pa: 0n, size: 0, value: 0n, aux: 0x10 };
    const narrow = formatRow(r, 'STAG 0x0 F_TRANSLATION at 0x7f0000801000', 78);
    expect(narrow).toHaveLength(78);
    expect(narrow).toMatch(/2\.744us smmu +STALL +STAG 0x0 F_TRANSLATION/);
    const wide = formatRow(r, 'STAG 0x0 F_TRANSLATION at 0x7f0000801000', 198);
    expect(wide).toHaveLength(198);
    expect(wide).toContain('#705');
    expect(wide).toContain('0x10/1');
    expect(wide).toContain('0x7f0000801000');
    expect(wide).toMatch(/0x7f0000801000 +- +0 0x0 +STAG/); // a stall has no output address: '-', not PA 0x0
    const mmio = formatRow({ ...r, kind: TraceKind.MmioWrite, initiator: 'cpu0', sid: 0xffff_ffff, ssid: -1, iova: 0x9050098n, pa: 0x9050098n, size: 4, value: 7n, aux: 0 }, 'smmu CMDQ_PROD <- WR=7', 198);
    expect(mmio).toMatch(/ - +0x9050098 +4 0x7 +smmu CMDQ_PROD/); // one address, in the pa column
  });
});

describe('TUI screen (headless blessed)', () => {
  it('opens on an empty list with the key help in the status bar', () => {
    const { app } = open(80, 24);
    const text = app.screenText();
    expect(text).toHaveLength(24);
    expect(text[0]).toMatch(/transactions 0\/0/);
    expect(text.join('\n')).toContain('nothing yet: n steps one record');
    expect(text[23]).toMatch(/t=0ns paused \| 0 rec \| 9 steps/);
    expect(text[23]).toContain('? help');
  });

  it('s runs to the stall: the stall line is on screen, selected, and the detail decodes it (80x24)', () => {
    const { app, session } = open(80, 24);
    app.onKey('s', key('s'));
    app.runToCompletion();
    const text = app.screenText();
    const screen = text.join('\n');
    const stallLine = text.find((l) => /STALL +STAG 0x0 F_TRANSLATION at 0x7f0000801000/.test(l));
    expect(stallLine, screen).toBeDefined();
    expect(session.record(session.end - 1)!.kind).toBe(TraceKind.Stall);
    expect(screen).toContain('stall #705 STAG 0x0 F_TRANSLATION at 0x7f0000801000');
    expect(flat(text)).toContain('STAG 0x0 (F_TRANSLATION) StreamID 0x10 SSID 1 IOVA 0x7f0000801000: still held');
    expect(text[23]).toMatch(/^ stalled DMA selected: detail below, Enter zooms \| t=2\.744us paused \| 706 rec \| /);
  });

  it('n after the stall steps to the event the SMMU queued and decodes its EVTQ record', () => {
    const { app } = open(80, 24);
    app.onKey('s', key('s'));
    app.runToCompletion();
    app.onKey('n', key('n'));
    app.onKey(undefined, key('enter', '\r'));
    const screen = flat(app.screenText());
    expect(screen).toContain('event #706 F_TRANSLATION StreamID 0x10 SSID 1 InputAddr 0x7f0000801000 Stall STAG 0x0');
    expect(screen).toContain('F_TRANSLATION event record from the EVTQ (EVT fields)');
    app.onKey(undefined, key('pagedown'));
    const fields = flat(app.screenText());
    expect(fields).toMatch(/EventID 0x10 \(F_TRANSLATION\) StreamID 0x10 SSV 1 SubstreamID 0x1/);
    expect(fields).toMatch(/Stall 1 STAG 0x0 PnU 0 \(unprivileged\) InD 0 \(data\) RnW 0 \(write\) S2 0 CLASS 2 \(IN: input address\) InputAddr 0x7f0000801000/);
  });

  it('after the run ends the stall detail shows the RESUME and the stall time; Enter zooms it', () => {
    const { app } = open(80, 24);
    app.onKey('s', key('s'));
    app.runToCompletion();
    app.onKey(' ', key('space', ' '));
    app.runToCompletion();
    app.onKey('/', key('/'));
    for (const ch of 'kind=stall') app.onKey(ch, key(ch));
    app.onKey(undefined, key('enter', '\r'));
    app.onKey(undefined, key('enter', '\r'));
    const screen = flat(app.screenText());
    expect(screen).toContain('detail');
    expect(screen).toContain('held 20 ns, then RETRY');
    expect(screen).toMatch(/resumed +#719 at 2\.764 us by #718 CMD_RESUME RETRY/);
    expect(screen).toMatch(/event +#706 at 2\.744 us: F_TRANSLATION/);
    expect(app.screenText()[23]).toMatch(/finished \| 736 rec \| all 9 steps done \| filter: kind=stall/);
  });

  it('keys typed on the terminal stream reach the app (n steps one record)', async () => {
    const { app, input, session } = open(100, 30);
    input.write('n');
    await new Promise((r) => setTimeout(r, 50));
    expect(session.end).toBe(1);
    expect(app.screenText().join('\n')).toContain('[1] bench (the test bench');
  });

  it('Enter typed on the terminal acts once: a prompt submitted from the keyboard keeps its message on the status line', async () => {
    const { app, input, session } = open(80, 24);
    input.write('f');
    input.write('x');
    input.write('\r'); // blessed reports it as 'enter' and again as 'return'
    await new Promise((r) => setTimeout(r, 50));
    expect(session.filterText).toBe('');
    expect(app.screenText()[23]).toMatch(/^ filter: /);
    input.write('g');
    input.write('zzzz\r');
    await new Promise((r) => setTimeout(r, 50));
    expect(app.screenText()[23]).toMatch(/^ "zzzz" not found/);
    input.write('n\r');
    await new Promise((r) => setTimeout(r, 50));
    expect(app.screenText()[0]).toMatch(/detail .*\(Enter: back\)/);
  });

  it('a narrower filter keeps the list full: the selected record stays, with the rows before it above, not blank lines below', () => {
    const { app, session } = open(80, 24);
    app.onKey(' ', key('space', ' '));
    app.runToCompletion();
    app.onKey(' ', key('space', ' '));
    app.runToCompletion();
    for (let i = 0; i < 3; i++) app.onKey(undefined, key('up'));
    app.onKey('/', key('/'));
    for (const ch of 'kind=mmio_read') app.onKey(ch, key(ch));
    app.onKey(undefined, key('enter', '\r'));
    expect(session.rowCount).toBeGreaterThan(10);
    const list = app.screenText().slice(2, 10); // the 8 rows inside the list box (border, header, rows, border)
    expect(list.every((l) => /mmio_rd/.test(l)), list.join('\n')).toBe(true);
  });

  it('Ctrl-U clears a prompt that opens with the current filter, so an empty filter (all records) is one key away', () => {
    const { app, session } = open(80, 24);
    app.onKey('/', key('/'));
    for (const ch of 'kind=stall') app.onKey(ch, key(ch));
    app.onKey(undefined, key('enter', '\r'));
    expect(session.filterText).toBe('kind=stall');
    app.onKey('/', key('/'));
    expect(app.screenText()[23]).toMatch(/kind=stall_/);
    app.onKey(undefined, key('C-u', '\x15'));
    app.onKey(undefined, key('enter', '\r'));
    expect(session.filterText).toBe('');
  });

  it('a bad filter is refused on the status line and the list keeps its filter', () => {
    const { app, session } = open(80, 24);
    app.onKey('f', key('f'));
    for (const ch of 'kind=bogus') app.onKey(ch, key(ch));
    app.onKey(undefined, key('enter', '\r'));
    expect(session.filterText).toBe('');
    expect(app.screenText()[23]).toMatch(/filter: unknown trace kind "bogus"/);
  });

  it('? shows the help over the panes and any key closes it', () => {
    const { app } = open(80, 24);
    app.onKey('?', key('?'));
    expect(app.screenText().join('\n')).toContain('run to the next stall');
    // all of it fits 80x24: the last line of the help is on screen, not clipped
    expect(app.screenText().join('\n')).toContain(HELP_TEXT[HELP_TEXT.length - 1]);
    expect(app.screenText().join('\n')).toContain('Shift-Tab back');
    app.onKey('x', key('x'));
    expect(app.screenText().join('\n')).not.toContain('run to the next stall');
  });

  it('Enter zooms the detail over the whole screen of a big terminal: the console does not draw over it', () => {
    const { app } = open(200, 50);
    app.onKey('s', key('s'));
    app.runToCompletion();
    app.onKey(undefined, key('enter', '\r'));
    const text = app.screenText();
    expect(text[0]).toMatch(/detail .*\(Enter: back\)/);
    expect(text.join('\n')).not.toContain('console');
    expect(text[48]).toMatch(/^└─+┘$/);
    app.onKey(undefined, key('enter', '\r'));
    expect(app.screenText().join('\n')).toContain('console');
  });

  it('uses the space of a big terminal: 200x50 shows the sid/ssid, iova, pa and value columns', () => {
    const { app } = open(200, 50);
    app.onKey('s', key('s'));
    app.runToCompletion();
    const text = app.screenText();
    expect(text).toHaveLength(50);
    expect(text[0]!.length).toBe(200);
    expect(text[1]).toMatch(/rec +time who +kind +sid\/ssid iova +pa +size value +decode/);
    expect(text.find((l) => l.includes('#705') && l.includes('0x10/1') && l.includes('STALL'))).toBeDefined();
  });
});
