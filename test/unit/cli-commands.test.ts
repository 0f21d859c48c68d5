import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, runCli, version } from '../../src/cli/commands.js';
import { runBareMetalDemo, type DemoStep } from '../../src/cli/demo.js';
import { readDtb } from '../../src/machine/fdt/dtb-reader.js';
import { readCells } from '../../src/machine/fdt/property.js';
import { createMachine } from '../../src/machine/create.js';
import type { ChromeTraceEvent } from '../../src/trace/export-chrome.js';

const work = mkdtempSync(join(tmpdir(), 'svasoc-cli-'));
const root = fileURLToPath(new URL('../..', import.meta.url));

function run(argv: string[]): { status: number; out: string; err: string } {
  let out = '';
  let err = '';
  const status = runCli(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
  if (typeof status !== 'number') throw new Error(`svasoc ${argv.join(' ')} did not finish synchronously`);
  return { status, out, err };
}

async function runAsync(argv: string[]): Promise<{ status: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const status = await runCli(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
  return { status, out, err };
}

describe('svasoc commands', () => {
  it('bad arguments: exit 2 with one "svasoc: ..." line on stderr and nothing on stdout', () => {
    const r = run(['boot', '--ram', '3XB']);
    expect(r.status).toBe(EXIT_USAGE);
    expect(r.out).toBe('');
    expect(r.err).toBe('svasoc: --ram: "3XB" is not a size (examples: 512M, 1G, 16G, 0x40000000)\n');
  });

  it('--help prints usage to stdout and exits 0; --version prints package.json version', () => {
    const h = run(['--help']);
    expect(h.status).toBe(EXIT_OK);
    expect(h.out).toContain('svasoc dumpdtb FILE');
    expect(run(['-V']).out).toBe(`svasoc ${version()}\n`);
    expect(version()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('dumpdtb FILE writes a valid blob reflecting --ram and --cpus', () => {
    const file = join(work, 'm.dtb');
    const r = run(['dumpdtb', file, '--ram', '2G', '--cpus', '3']);
    expect(r).toEqual({ status: EXIT_OK, out: '', err: '' });
    const t = readDtb(new Uint8Array(readFileSync(file)));
    expect(t.ok).toBe(true);
    if (!t.ok) return;
    expect(readCells(t.tree.find('/memory@40000000')!.prop('reg')!.value)).toEqual([0, 0x40000000, 0, 0x80000000]);
    expect(t.tree.find('/cpus')!.children.map((c) => c.name)).toEqual(['cpu@0', 'cpu@1', 'cpu@2']);
    const dtc = spawnSync('dtc', ['-I', 'dtb', '-O', 'dts', file]);
    expect(dtc.status).toBe(0);
    expect(dtc.stderr.toString()).toBe('');
  });

  it('an output file in a missing directory is refused before anything runs: exit 2, one line, nothing on stdout', () => {
    const missing = join(work, 'no/such/dir');
    const cases: [string[], string][] = [
      [['dumpdtb', join(missing, 'm.dtb')], `svasoc: dumpdtb: no such directory: ${missing}\n`],
      [['boot', 'smoke', '--trace', join(missing, 't.json')], `svasoc: --trace: no such directory: ${missing}\n`],
      [['demo', '--log', join(missing, 't.log')], `svasoc: --log: no such directory: ${missing}\n`],
      [['mkimage', 'images/smoke', join(missing, 'x.cpio')], `svasoc: mkimage: no such directory: ${missing}\n`],
    ];
    for (const [argv, message] of cases) {
      const r = run(argv);
      expect(r.status, argv.join(' ')).toBe(EXIT_USAGE);
      expect(r.out).toBe(''); // the boot did not start
      expect(r.err).toBe(message);
    }
  });

  it('a boot whose guest waits idle for console input ends with exit 1 and says why, not only that time ran out', async () => {
    const empty = join(work, 'empty-image');
    mkdirSync(empty, { recursive: true }); // no workload: init gives a shell on the console
    const r = await runAsync(['boot', empty, '--ram', '256M']);
    expect(r.status).toBe(EXIT_FAILURE);
    expect(r.err).toMatch(/^svasoc: the guest did not power off within 600 s of virtual time: it sits idle waiting for console input \(.*--interactive.*\)\n$/);
  });

  it('an image file that is not a cpio newc archive is refused before the boot: exit 2, one line', async () => {
    const junk = join(work, 'junk.cpio');
    writeFileSync(junk, 'hello\n');
    for (const argv of [['boot', junk], ['tui', junk]]) {
      const r = await runAsync(argv);
      expect(r.status, argv.join(' ')).toBe(EXIT_USAGE);
      expect(r.out).toBe('');
      expect(r.err).toBe(`svasoc: ${junk} is not a cpio newc archive (svasoc mkimage DIR OUT.cpio builds one)\n`);
    }
  });

  it('svasoc COMMAND --help is that command: its usage, what it does, and only its options', () => {
    const h = run(['tui', '--help']);
    expect(h.status).toBe(EXIT_OK);
    expect(h.out).toMatch(/^Usage: svasoc tui \[demo \| image\] \[options\]\n/);
    expect(h.out).toContain('default, smoke, sva');
    expect(h.out).toContain('Keys: s run to the next stall');
    expect(h.out).toContain('--trace-filter EXPR');
    expect(h.out).not.toContain('--trace FILE.json'); // boot and demo only
    expect(run(['help', 'mkimage']).out).toMatch(/^Usage: svasoc mkimage DIR OUT\.cpio \[options\]\n/);
    expect(run(['mkimage', '-h']).out).not.toContain('SIZE is bytes');
    expect(run(['mkimage', '-h']).out).toContain('boot it with svasoc boot OUT.cpio');
    expect(run(['dumpdtb', '-h']).out).toContain('dtc -I dtb -O dts FILE');
  });

  it('demo runs the bare-metal demo and writes --trace (Chrome JSON) and --log (text), filtered', () => {
    const json = join(work, 't.json');
    const log = join(work, 't.log');
    const r = run(['demo', '--seed', '5', '--trace', json, '--log', log, '--trace-filter', 'kind=dma_*']);
    expect(r.status).toBe(EXIT_OK);
    expect(r.out).toContain('demo: ok');
    const trace = JSON.parse(readFileSync(json, 'utf8')) as { traceEvents: ChromeTraceEvent[]; displayTimeUnit: string };
    expect(trace.displayTimeUnit).toBe('ns');
    const names = new Set(trace.traceEvents.filter((e) => e.ph !== 'M').map((e) => e.name));
    expect(names).toEqual(new Set(['dma_read', 'dma_write']));
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => / dma_(read|write) sid=0x(10|100) /.test(l))).toBe(true);
    expect(lines.some((l) => /^\d+ iommu-testdev\S* dma_write sid=0x10 .* value=0x12345678 /.test(l))).toBe(true);
    // each record also read in words, as the TUI's list reads it
    expect(lines.every((l) => / \| (read|write) \d+ B 0x[0-9a-f]+ /.test(l))).toBe(true);
    expect(trace.traceEvents.filter((e) => e.ph !== 'M').every((e) => typeof e.args?.decoded === 'string' && /^(read|write) \d+ B /.test(e.args.decoded))).toBe(true);
  });

  it('boot runs an image to poweroff: the console is printed and the poweroff code is the exit status', async () => {
    const script = join(work, 'five.sh');
    writeFileSync(script, 'echo hello from the guest\nexit 5\n');
    const r = await runAsync(['boot', 'default', '--script', script, '--ram', '256M', '--log', join(work, 'boot.log'), '--trace-filter', 'kind=mmio_write']);
    expect(r.status).toBe(5);
    expect(r.out).toMatch(/Booting Linux on physical CPU 0x0000000000/);
    expect(r.out).toContain('hello from the guest');
    expect(readFileSync(join(work, 'boot.log'), 'utf8')).toMatch(/ mmio_write /);
  });

  it('mkimage writes a cpio archive of the image with an executable per program', async () => {
    const out = join(work, 'default.cpio');
    const r = await runAsync(['mkimage', join(root, 'images/default'), out]);
    expect(r.status).toBe(EXIT_OK);
    const listed = spawnSync('cpio', ['-t'], { input: new Uint8Array(readFileSync(out)), encoding: 'utf8' });
    expect(listed.status).toBe(0);
    expect(listed.stdout.split('\n')).toEqual(expect.arrayContaining(['init', 'bin/sh', 'sbin/init']));
  });

  it('the real command: bin/svasoc.mjs exits 2 on a bad size and 0 on --version', () => {
    const bad = spawnSync(process.execPath, [join(root, 'bin/svasoc.mjs'), 'boot', '--ram', '3XB'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n').filter((l) => l.startsWith('svasoc:'))).toEqual(['svasoc: --ram: "3XB" is not a size (examples: 512M, 1G, 16G, 0x40000000)']);
    const v = spawnSync(process.execPath, [join(root, 'bin/svasoc.mjs'), '--version'], { encoding: 'utf8' });
    expect(v.status).toBe(0);
    expect(v.stdout).toBe(`svasoc ${version()}\n`);
  });
});

describe('bare-metal demo', () => {
  const quiet = { write: () => {} };

  it('same seed, same trace hash; another seed changes the data and so the hash', () => {
    const a = runBareMetalDemo(quiet, { seed: 42 });
    const b = runBareMetalDemo(quiet, { seed: 42 });
    const c = runBareMetalDemo(quiet, { seed: 43 });
    expect(a.failures).toEqual([]);
    expect(a.traceHash).toBe(b.traceHash);
    expect(c.traceHash).not.toBe(a.traceHash);
  });

  it('prints the memory map from the SoC description and a trace excerpt in text-exporter form', () => {
    let text = '';
    runBareMetalDemo({ write: (t) => (text += t) }, { excerptLines: 4 });
    expect(text).toMatch(/0x09050000-0x0906ffff {2}smmuv3 +(wired|not wired yet) {2}\/smmuv3@9050000/);
    expect(text).toMatch(/0x3f000000-0x3fffffff {2}pcie-ecam +wired/);
    expect(text).toMatch(/testdev DMA_RESULT 0x00000000; last word at the buffer 0x12345678/);
    expect(text).toMatch(/\(\d+ ECAM configuration accesses not shown\)/);
    expect(text).toMatch(/0x40000000-0x7fffffff {2}ram +wired/);
    const excerpt = text.split('\n').filter((l) => /^ {2}\d+ \S+ \S+ sid=/.test(l));
    expect(excerpt).toHaveLength(4);
    expect(text).toMatch(/trace: \d+ records, hash [0-9a-f]{8}; first 4 of \d+/);
    expect(text.trim().endsWith('demo: ok')).toBe(true);
  });

  it('takes a machine and a step list, so other devices can be driven in place of the stand-in DMA', () => {
    const machine = createMachine({ trace: true, ramSize: 64 << 20 });
    const seen: number[] = [];
    const step: DemoStep = {
      title: 'custom',
      start: (ctx) => {
        ctx.machine.clock.after(500, 'custom', (now) => seen.push(now));
      },
      check: (ctx) => (ctx.machine.clock.now() === 500 ? undefined : 'clock did not reach 500'),
    };
    const failing: DemoStep = { title: 'fails', start: () => {}, check: () => 'broken on purpose' };
    let text = '';
    const r = runBareMetalDemo({ write: (t) => (text += t) }, { machine, steps: [step, failing] });
    expect(r.machine).toBe(machine);
    expect(seen).toEqual([500]);
    expect(r.failures).toEqual(['broken on purpose']);
    expect(text).toMatch(/demo: FAILED: broken on purpose/);
    expect(text).toMatch(/machine: 64M RAM/);
  });
});
