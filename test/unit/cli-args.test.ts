import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GiB, MiB, OPTIONS, COMMANDS, helpText, parseArgs, parseSize, type BootArgs } from '../../src/cli/args.js';

function ok(argv: string[]) {
  const r = parseArgs(argv);
  if (!r.ok) throw new Error(r.error);
  return r.args;
}

function err(argv: string[]): string {
  const r = parseArgs(argv);
  if (r.ok) throw new Error(`expected an error for ${argv.join(' ')}`);
  return r.error;
}

describe('sizes', () => {
  it('accept K/M/G/T suffixes in powers of 1024, with optional B or iB, and 0x hex bytes', () => {
    expect(parseSize('512M')).toBe(512 * MiB);
    expect(parseSize('1G')).toBe(GiB);
    expect(parseSize('16G')).toBe(16 * GiB);
    expect(parseSize('16GiB')).toBe(16 * GiB);
    expect(parseSize('2gb')).toBe(2 * GiB);
    expect(parseSize('64K')).toBe(65536);
    expect(parseSize('1.5G')).toBe(1.5 * GiB);
    expect(parseSize('0x40000000')).toBe(GiB);
    expect(parseSize('4096')).toBe(4096);
  });

  it('reject anything else', () => {
    for (const bad of ['3XB', '', 'G', '0x10M', '1.5', '-1G', '1 G B', '0x', '1e9']) expect(parseSize(bad), bad).toBeUndefined();
  });
});

describe('argument parsing', () => {
  it('boot defaults: no image, 1 GiB, 2 CPUs, seed 1, no trace outputs', () => {
    expect(ok(['boot'])).toEqual({ command: 'boot', image: undefined, script: undefined, interactive: false, ramSize: GiB, cpus: 2, seed: 1, trace: undefined, log: undefined, traceFilter: '' });
  });

  it('an image may be a name in images/; --interactive is a flag; mkimage takes DIR and OUT', () => {
    expect(ok(['boot', 'default', '--interactive'])).toMatchObject({ image: 'default', interactive: true });
    expect(ok(['mkimage', 'images/default', '/tmp/x.cpio'])).toEqual({ command: 'mkimage', dir: 'images/default', out: '/tmp/x.cpio', script: undefined });
  });

  it('accepts --opt value and --opt=value, and an image positional', () => {
    const a = ok(['boot', 'images/default', '--ram=512M', '--cpus', '4', '--seed', '0xff', '--trace', '/tmp/x.json', '--log=/tmp/x.log', '--trace-filter', 'kind=dma_* sid=0x10']) as BootArgs;
    expect(a).toMatchObject({ image: 'images/default', ramSize: 512 * MiB, cpus: 4, seed: 255, trace: '/tmp/x.json', log: '/tmp/x.log', traceFilter: 'kind=dma_* sid=0x10' });
  });

  it('dumpdtb takes one FILE and the machine-shape options', () => {
    expect(ok(['dumpdtb', '/tmp/x.dtb', '--ram', '2G', '--cpus', '1'])).toEqual({ command: 'dumpdtb', file: '/tmp/x.dtb', ramSize: 2 * GiB, cpus: 1 });
    expect(ok(['dumpdtb', '--', '-odd-name.dtb'])).toMatchObject({ file: '-odd-name.dtb' });
  });

  it('--help/-h and --version/-V win anywhere; no arguments means help', () => {
    expect(ok(['boot', '--ram', '3XB', '-h'])).toEqual({ command: 'help', topic: 'boot' });
    expect(ok(['--ram', '3XB', '-h'])).toEqual({ command: 'help' });
    expect(ok(['help', 'tui'])).toEqual({ command: 'help', topic: 'tui' });
    expect(ok(['--version'])).toEqual({ command: 'version' });
    expect(ok(['dumpdtb', '-V'])).toEqual({ command: 'version' });
    expect(ok([])).toEqual({ command: 'help' });
    expect(ok(['help'])).toEqual({ command: 'help' });
  });

  it('bad arguments give one-line errors that say what was wrong', () => {
    const cases: [string[], RegExp][] = [
      [['frob'], /^unknown command "frob" \(boot, mkimage, demo, dumpdtb, tui\)$/],
      [['--ram', '1G'], /expected a command before --ram/],
      [['boot', '--foo'], /^unknown option --foo \(see svasoc --help\)$/],
      [['boot', '--foo=1'], /^unknown option --foo /],
      [['boot', '--ram'], /^option --ram needs a value \(SIZE\)$/],
      [['boot', '--ram', '--cpus', '2'], /^option --ram needs a value/],
      [['boot', '--ram', '3XB'], /^--ram: "3XB" is not a size \(examples: 512M, 1G, 16G, 0x40000000\)$/],
      [['boot', '--ram', '8M'], /^--ram: 8M is out of range \(RAM must be 16M\.\.16G\)$/],
      [['boot', '--ram', '17G'], /out of range/],
      [['boot', '--ram', '0x1001000'], /not a multiple of 64K/],
      [['boot', '--cpus', '0'], /^--cpus: 0 is out of range \(1\.\.8\)$/],
      [['boot', '--cpus', 'two'], /^--cpus: "two" is not a number$/],
      [['boot', '--seed', '-1'], /^--seed: "-1" is not a number in 0\.\.2\^32-1$/],
      [['boot', '--script', '/nonexistent/x.sh'], /^--script: no such file: \/nonexistent\/x\.sh$/],
      [['boot', '--trace', '/tmp'], /^--trace: \/tmp is a directory$/],
      [['boot', '--trace-filter', 'kind=nope'], /^--trace-filter: unknown trace kind "nope"/],
      [['boot', '--ram', '1G', '--ram', '2G'], /^option --ram given twice$/],
      [['boot', '/nonexistent-image'], /^no such image: \/nonexistent-image \(a directory, a cpio archive, or a name in images\/: default, smoke, sva\)$/],
      [['boot', '--script', 'images'], /^--script: images is a directory, not a file$/],
      [['boot', '--trace', '/nonexistent-dir/t.json'], /^--trace: no such directory: \/nonexistent-dir$/],
      [['boot', '--log', '/nonexistent-dir/t.log'], /^--log: no such directory: \/nonexistent-dir$/],
      [['boot', '--interactive=yes'], /^option --interactive takes no value$/],
      [['mkimage', 'images/default'], /^mkimage needs DIR and OUT.cpio, got 1 argument/],
      [['mkimage', '/nonexistent-dir', '/tmp/x.cpio'], /^mkimage: no such directory/],
      [['boot', 'images/default', 'images/default'], /at most one image/],
      [['dumpdtb'], /^dumpdtb needs a FILE to write$/],
      [['dumpdtb', 'a', 'b'], /one FILE, got 2/],
      [['dumpdtb', '/tmp'], /is a directory/],
      [['dumpdtb', 'x.dtb', '--seed', '1'], /^option --seed does not apply to dumpdtb$/],
    ];
    for (const [argv, message] of cases) {
      const e = err(argv);
      expect(e, argv.join(' ')).toMatch(message);
      expect(e).not.toContain('\n');
    }
  });

  it('help is generated from the tables: every command and option appears with its metavar', () => {
    const h = helpText('9.9.9');
    expect(h).toMatch(/^svasoc 9\.9\.9/);
    for (const c of COMMANDS) expect(h).toContain(`svasoc ${c.name} ${c.usage}`);
    for (const o of OPTIONS) expect(h).toMatch(new RegExp(`--${o.name} ${o.metavar.replace('.', '\\.')} +${o.help.slice(0, 20).replace(/[()[\].*+?^$|\\]/g, '\\$&')}`));
    expect(h).toContain('-h, --help');
    expect(h).toContain('Exit status: 0 success, 1 the run failed, 2 bad arguments.');
  });
});

describe('start-up', () => {
  const root = fileURLToPath(new URL('../..', import.meta.url));

  /** Files main.ts loads before it runs anything: its static imports, transitively (dynamic import() excluded). */
  function staticGraph(entry: string): string[] {
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/^\s*(?:import|export)\s([^;]*?)\sfrom\s+'([^']+)'/gm)) {
        if (m[1]!.startsWith('type ')) continue; // erased: loads nothing
        const spec = m[2]!;
        if (!spec.startsWith('.')) {
          seen.add(spec);
          continue;
        }
        visit(join(dirname(file), spec.replace(/\.js$/, '.ts')));
      }
    };
    visit(entry);
    return [...seen].map((f) => (f.startsWith('/') ? relative(root, f) : f));
  }

  it('argument errors, --help and --version load no part of the emulator: main.ts statically reaches no machine, kernel, device or TUI module', () => {
    const graph = staticGraph(join(root, 'src/cli/main.ts'));
    expect(graph).toContain('src/cli/args.ts');
    expect(graph.filter((f) => /^src\/(machine|kernel|hw|tui|user)\/|^blessed$|^src\/cli\/commands\.ts$/.test(f))).toEqual([]);
  });

  it('the commands load the guest kernel and user ROM only for boot, tui IMAGE and mkimage: commands.ts statically reaches neither', () => {
    const graph = staticGraph(join(root, 'src/cli/commands.ts'));
    expect(graph).toContain('src/cli/demo.ts');
    expect(graph).toContain('src/tui/app.ts');
    expect(graph.filter((f) => /^src\/(kernel|user)\//.test(f))).toEqual([]);
  });
});
