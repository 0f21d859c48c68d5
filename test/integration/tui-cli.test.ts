// `svasoc tui`: argument errors are one line and exit 2, no terminal is one line and
// a non-zero exit, and a booted guest image runs under the session like the demo.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EXIT_FAILURE, EXIT_USAGE, runCli } from '../../src/cli/commands.js';
import { parseArgs } from '../../src/cli/args.js';
import { runTui } from '../../src/cli/tui.js';
import { imageWorkload } from '../../src/cli/tui-image.js';
import { ConsoleBuffer } from '../../src/tui/model/console.js';
import { TuiSession } from '../../src/tui/model/session.js';
import { TuiApp } from '../../src/tui/app.js';
import { TraceKind } from '../../src/trace/record.js';
import { hex } from '../../src/tui/model/decode.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'svasoc-tui-'));

function run(argv: string[]): { status: number; out: string; err: string } {
  let out = '';
  let err = '';
  const status = runCli(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
  if (typeof status !== 'number') throw new Error('expected a synchronous exit');
  return { status, out, err };
}

describe('svasoc tui arguments', () => {
  it('parses demo, an image, and the machine options', () => {
    expect(parseArgs(['tui', 'demo', '--cpus', '1', '--seed', '7', '--trace-filter', 'kind=stall'])).toEqual({
      ok: true,
      args: { command: 'tui', target: 'demo', script: undefined, append: undefined, ramSize: 1024 ** 3, cpus: 1, seed: 7, traceFilter: 'kind=stall' },
    });
    const r = parseArgs(['tui', 'smoke', '--ram', '256M']);
    expect(r.ok && r.args.command === 'tui' && r.args.target === 'smoke' && r.args.ramSize === 256 * 1024 ** 2).toBe(true);
    const a = parseArgs(['tui', 'default', '--append', 'hisi_zip.uacce_mode=1']);
    expect(a.ok && a.args.command === 'tui' && a.args.append === 'hisi_zip.uacce_mode=1').toBe(true);
    const d = parseArgs(['tui']);
    expect(d.ok && d.args.command === 'tui' && d.args.target === undefined).toBe(true);
  });

  it('a bad argument is one "svasoc: ..." line on stderr and exit 2', () => {
    const script = join(work, 'x.sh');
    writeFileSync(script, 'exit 0\n');
    const cases: [string[], RegExp][] = [
      [['tui', 'demo', 'smoke'], /^svasoc: tui takes at most one of demo or an image, got 2: demo smoke\n$/],
      [['tui', 'no-such-image'], /^svasoc: no such image: no-such-image \(demo, a directory/],
      [['tui', 'demo', '--script', script], /^svasoc: --script applies to an image, not to the demo\n$/],
      [['tui', 'demo', '--append', 'hisi_zip.uacce_mode=1'], /^svasoc: --append applies to an image, not to the demo\n$/],
      [['tui', '--cpus', '0'], /^svasoc: --cpus: 0 is out of range \(1\.\.8\)\n$/],
      [['tui', '--trace', 'x.json'], /^svasoc: option --trace does not apply to tui\n$/],
      [['tui', '--trace-filter', 'kind=nope'], /^svasoc: --trace-filter: unknown trace kind "nope"/],
    ];
    for (const [argv, message] of cases) {
      const r = run(argv);
      expect(r.status, argv.join(' ')).toBe(EXIT_USAGE);
      expect(r.out).toBe('');
      expect(r.err).toMatch(message);
      expect(r.err.split('\n')).toHaveLength(2);
    }
  });

  it('--help lists the tui command', () => {
    expect(run(['--help']).out).toMatch(/svasoc tui \[demo \| image\] \[options\]/);
  });

  it('without a terminal: one line on stderr and exit 1, before anything runs', () => {
    let err = '';
    const notTty = { input: { isTTY: false } as NodeJS.ReadStream, output: { isTTY: false } as NodeJS.WriteStream };
    const status = runTui({ command: 'tui', target: 'demo', script: undefined, append: undefined, ramSize: 1024 ** 3, cpus: 2, seed: 1, traceFilter: '' }, { stdout: () => {}, stderr: (t) => (err += t) }, notTty);
    expect(status).toBe(EXIT_FAILURE);
    expect(err).toMatch(/^svasoc: tui needs a terminal: stdin and stdout must be a TTY/);
    expect(err.split('\n')).toHaveLength(2);
  });

  it('the real command with pipes instead of a terminal exits non-zero with one line', () => {
    const r = spawnSync(process.execPath, [join(root, 'bin/svasoc.mjs'), 'tui', 'demo'], { encoding: 'utf8', input: '' });
    expect(r.status).toBe(EXIT_FAILURE);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^svasoc: tui needs a terminal/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('a guest image under the TUI session', () => {
  const smoke = () => {
    const console = new ConsoleBuffer();
    return { console, session: new TuiSession(imageWorkload(console, { target: 'smoke', script: undefined, ramSize: 256 * 1024 ** 2, cpus: 2, seed: 1 })) };
  };

  it('boots smoke to poweroff: console text in the console buffer, MMIO named by register, SMMU commands by opcode', () => {
    const { console, session } = smoke();
    expect(session.runToKind(new Set()).reason).toBe('end');
    expect(session.state).toBe('finished');
    expect(session.workload.status).toBe('guest powered off (code 0)');
    expect(console.text).toContain('smoke: hello from Linux');
    const decodes = session.rowsAt(0, session.rowCount).map((r) => r.decode);
    expect(decodes.some((d) => /^uart UARTDR <- DATA=0x/.test(d))).toBe(true);
    expect(decodes.some((d) => /^smmu CR0 <- /.test(d))).toBe(true);
    expect(decodes.some((d) => d === 'CMD_CFGI_ALL')).toBe(true);
    expect(decodes.some((d) => /^CMD_SYNC CS=/.test(d))).toBe(true);
    expect(decodes.some((d) => /^MAPD DeviceID=/.test(d))).toBe(true); // ITS commands too
  });

  it('s on an image that never stalls runs it to the end and says there was no stall, and where stalls are', async () => {
    const { console, session } = smoke();
    const { PassThrough, Writable } = await import('node:stream');
    const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => input });
    const output = Object.assign(new Writable({ write: (_c, _e, done) => done() }), { isTTY: true, columns: 100, rows: 30 });
    const app = new TuiApp({ session, console, input, output, terminal: 'xterm' });
    app.onKey('s', { name: 's', full: 's', sequence: 's', ctrl: false, meta: false, shift: false });
    app.runToCompletion();
    expect(app.screenText()[29]).toMatch(/^ no stall in this run \(the demo and the sva image stall\) \| boot smoke: guest powered off \(code 0\)/);
    app.quit();
  });

  it('the guest advances in fixed quanta: stepping and running give the same trace', () => {
    const a = smoke().session;
    a.runToKind(new Set());
    const b = smoke().session;
    b.step(1000);
    b.runToKind(new Set([TraceKind.Exception]));
    while (b.runToKind(new Set(), 3).reason === 'budget');
    expect(b.ring.total).toBe(a.ring.total);
    expect(b.ring.hash()).toBe(a.ring.hash());
  });
});

describe('the sva image under the TUI session: a guest-driven stall told end to end', () => {
  it('the first stall names the STE and CD in use, the event, the EVTQ interrupt, the kernel reading the event, the CMD_RESUME and the retried walk', () => {
    const console = new ConsoleBuffer();
    const session = new TuiSession(imageWorkload(console, { target: 'sva', script: undefined, ramSize: 1024 ** 3, cpus: 2, seed: 1 }));
    const stop = session.runToKind(new Set([TraceKind.Stall]));
    expect(stop.reason).toBe('match');
    const stall = session.record(stop.index!)!;
    expect(stall.ssid).toBe(1); // the process's PASID
    session.runToKind(new Set([TraceKind.Resume]));
    session.step(16);
    expect(session.workload.status).toBe('guest running'); // the status bar's word for the guest, beside the TUI's 'paused'
    const rows = session.detail(stall.index).flatMap((s) => s.rows);
    const row = (label: string) => rows.find((r) => r.startsWith(`${label} `)) ?? `(no ${label} row in:\n${rows.join('\n')})`;
    expect(row('STE')).toMatch(/^STE +#\d+ at 0x[0-9a-f]+: V 1, Config S1 translate, S1ContextPtr 0x[0-9a-f]+, S1CDMax \d+, S1STALLD 0$/);
    expect(row('CD')).toMatch(/^CD +#\d+ at 0x[0-9a-f]+: V 1, ASID 0x[0-9a-f]+, TTB0 0x[0-9a-f]+, T0SZ 16, S 1 \(faults stall\)/);
    expect(row('event')).toMatch(/^event +#\d+ at [\d.]+ ms: F_TRANSLATION StreamID 0x8 SSID 1 InputAddr 0x[0-9a-f]+ Stall STAG 0x0$/);
    expect(row('interrupt')).toMatch(/^interrupt +#\d+ at [\d.]+ ms: INTID \d+ \(smmu eventq\) acknowledged by gic\.cpu\d$/);
    expect(row('consumed')).toMatch(/^consumed +#\d+ at [\d.]+ ms: cpu\d smmu EVENTQ_CONS <- RD=1 \(software has read the event\)$/);
    expect(row('resumed')).toMatch(/^resumed +#\d+ at [\d.]+ ms by #\d+ CMD_RESUME RETRY StreamID=0x8 STAG=0x0$/);
    expect(row('retried')).toMatch(new RegExp(`^retried +#\\d+ at [\\d.]+ ms: S1 walk ${hex(stall.iova)} L3 -> 0x[0-9a-f]+ \\(4 reads\\): the page is mapped now$`));
    expect(rows[0]).toMatch(/: held [\d.]+ us, then RETRY$/);
  });
});
