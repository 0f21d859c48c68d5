// Command-line arguments of `svasoc`: one table of commands and one of options.
// Parsing, validation and `--help` all come from the tables, so a new option is one
// row. Mistakes are returned as one-line messages; the caller prints them and exits 2.

import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseTraceFilter } from '../trace/filter.js';
import { imageNames, resolveImage } from './image-path.js';

export type CommandName = 'boot' | 'demo' | 'dumpdtb' | 'mkimage' | 'tui';

interface CommandSpec {
  readonly name: CommandName;
  /** Positional arguments as shown in usage. */
  readonly usage: string;
  readonly summary: string;
  /** Lines `svasoc NAME --help` adds after the options. */
  readonly notes?: readonly string[];
}

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'boot',
    usage: '[image]',
    summary: 'boot an image (default images/default) and run its /init script',
    notes: ['image: a directory tree, a cpio archive, or a name in images/ (IMAGES).', 'The exit status is the guest\'s poweroff code (exit N in --script FILE).'],
  },
  {
    name: 'mkimage',
    usage: 'DIR OUT.cpio',
    summary: 'build an image tree into a cpio newc initramfs (lists with cpio -t)',
    notes: ['List it with cpio -t < OUT.cpio; boot it with svasoc boot OUT.cpio. images/README.md says what the builder adds to DIR.'],
  },
  {
    name: 'demo',
    usage: '',
    summary: 'run the bare-metal demo: DMA, SMMU bring-up, SVA with a PASID, a stalled DMA resumed',
    notes: ['No guest: the demo drives the machine from outside (the "bench" initiator). svasoc tui demo steps through it.'],
  },
  {
    name: 'dumpdtb',
    usage: 'FILE',
    summary: "write the machine's device tree blob to FILE (like QEMU -machine dumpdtb=FILE)",
    notes: ['Decode it with dtc -I dtb -O dts FILE.'],
  },
  {
    name: 'tui',
    usage: '[demo | image]',
    summary: 'watch every bus transaction in a terminal UI: step, run to a stall, decode it (default image: images/default)',
    notes: [
      'demo: the bare-metal demo; image: as for boot (IMAGES). `svasoc tui sva` shows a user process\'s DMA stalling.',
      'Keys: s run to the next stall, n step one record, space run/pause, / filter, Enter zoom the detail, ? all keys, q quit.',
    ],
  },
];

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const RAM_MIN = 16 * MiB;
export const RAM_MAX = 16 * GiB;
export const RAM_GRANULE = 64 * KiB;
export const CPUS_MAX = 8;

type OptionKind = 'size' | 'count' | 'seed' | 'input-file' | 'output-file' | 'filter' | 'words' | 'flag';

interface OptionSpec {
  readonly name: string;
  readonly metavar: string;
  readonly kind: OptionKind;
  readonly commands: readonly CommandName[];
  readonly help: string;
}

export const OPTIONS: readonly OptionSpec[] = [
  { name: 'script', metavar: 'FILE', kind: 'input-file', commands: ['boot', 'mkimage', 'tui'], help: 'shell script to run in the guest instead of the image /init workload' },
  { name: 'interactive', metavar: '', kind: 'flag', commands: ['boot'], help: 'a shell prompt on the console instead of the workload (host stdin to the UART)' },
  { name: 'append', metavar: 'ARGS', kind: 'words', commands: ['boot', 'tui'], help: 'words added to the kernel command line, e.g. "hisi_zip.uacce_mode=1" (module parameters)' },
  { name: 'ram', metavar: 'SIZE', kind: 'size', commands: ['boot', 'demo', 'dumpdtb', 'tui'], help: 'guest RAM, 16M..16G (default 1G)' },
  { name: 'cpus', metavar: 'N', kind: 'count', commands: ['boot', 'demo', 'dumpdtb', 'tui'], help: `CPU cores, 1..${CPUS_MAX} (default 2)` },
  { name: 'seed', metavar: 'N', kind: 'seed', commands: ['boot', 'demo', 'tui'], help: 'seed for anything randomised, 0..2^32-1 (default 1)' },
  { name: 'trace', metavar: 'FILE.json', kind: 'output-file', commands: ['boot', 'demo'], help: 'write the bus trace as Chrome/Perfetto JSON (open in ui.perfetto.dev)' },
  { name: 'log', metavar: 'FILE', kind: 'output-file', commands: ['boot', 'demo'], help: 'write the bus trace as text lines (time-in-ns initiator kind key=value ...)' },
  { name: 'trace-filter', metavar: 'EXPR', kind: 'filter', commands: ['boot', 'demo', 'tui'], help: 'records to keep in --trace/--log (tui: in the list), e.g. "kind=dma_* sid=0x10"' },
];

export interface BootArgs {
  readonly command: 'boot';
  /** A directory tree, a cpio archive, or the name of a directory in images/. */
  readonly image: string | undefined;
  readonly script: string | undefined;
  readonly interactive: boolean;
  /** Words added to the kernel command line. */
  readonly append: string | undefined;
  readonly ramSize: number;
  readonly cpus: number;
  readonly seed: number;
  readonly trace: string | undefined;
  readonly log: string | undefined;
  readonly traceFilter: string;
}

/** `svasoc demo`: the bare-metal demo with the trace options of boot. */
export interface DemoArgs {
  readonly command: 'demo';
  readonly ramSize: number;
  readonly cpus: number;
  readonly seed: number;
  readonly trace: string | undefined;
  readonly log: string | undefined;
  readonly traceFilter: string;
}

export interface MkimageArgs {
  readonly command: 'mkimage';
  readonly dir: string;
  readonly out: string;
  readonly script: string | undefined;
}

export interface DumpDtbArgs {
  readonly command: 'dumpdtb';
  readonly file: string;
  readonly ramSize: number;
  readonly cpus: number;
}

/** `svasoc tui`: the bare-metal demo (target 'demo') or an image under the terminal UI. */
export interface TuiArgs {
  readonly command: 'tui';
  /** 'demo', or an image as for boot; undefined = the default image. */
  readonly target: string | undefined;
  readonly script: string | undefined;
  /** Words added to the kernel command line (an image target only). */
  readonly append: string | undefined;
  readonly ramSize: number;
  readonly cpus: number;
  readonly seed: number;
  readonly traceFilter: string;
}

export type CliArgs = BootArgs | MkimageArgs | DemoArgs | DumpDtbArgs | TuiArgs | { readonly command: 'help'; readonly topic?: CommandName } | { readonly command: 'version' };

export type ArgsResult = { readonly ok: true; readonly args: CliArgs } | { readonly ok: false; readonly error: string };

const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, K: KiB, M: MiB, G: GiB, T: 1024 * GiB };

/**
 * A size: bytes as decimal or 0x hex, or with a K/M/G/T suffix in powers of 1024
 * (optionally followed by "iB" or "B"): 512M, 1G, 16GiB, 0x40000000.
 */
export function parseSize(text: string): number | undefined {
  const m = /^(0x[0-9a-f]+|\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim());
  if (!m || (m[1]!.startsWith('0x') && m[2] !== '') || (m[1]!.includes('.') && m[2] === '')) return undefined;
  const v = Number(m[1]) * SIZE_UNITS[m[2]!.toUpperCase()]!;
  return Number.isSafeInteger(v) ? v : undefined;
}

/** A size for display: the largest binary unit that divides it. */
export function formatSize(bytes: number): string {
  for (const [unit, scale] of [
    ['G', GiB],
    ['M', MiB],
    ['K', KiB],
  ] as const) {
    if (bytes >= scale && bytes % scale === 0) return `${bytes / scale}${unit}`;
  }
  return `${bytes}`;
}

function parseInteger(text: string): number | undefined {
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(text)) return undefined;
  const v = Number(text);
  return Number.isSafeInteger(v) ? v : undefined;
}

function canAccess(path: string, mode: number): boolean {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
}

/** Why `file` cannot be written, checked before anything runs (a boot would otherwise run to the end first). */
function outputFileError(what: string, file: string): { error: string } | undefined {
  if (file === '') return { error: `${what}: needs a file name` };
  if (existsSync(file)) {
    if (statSync(file).isDirectory()) return { error: `${what}: ${file} is a directory` };
    return canAccess(file, constants.W_OK) ? undefined : { error: `${what}: cannot write ${file} (permission denied)` };
  }
  const dir = dirname(file);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return { error: `${what}: no such directory: ${dir}` };
  return canAccess(dir, constants.W_OK) ? undefined : { error: `${what}: cannot create a file in ${dir} (permission denied)` };
}

/** Validates one option value; returns the parsed value or an error message. */
function optionValue(spec: OptionSpec, raw: string): { value: string | number } | { error: string } {
  const flag = `--${spec.name}`;
  switch (spec.kind) {
    case 'size': {
      const v = parseSize(raw);
      if (v === undefined) return { error: `${flag}: "${raw}" is not a size (examples: 512M, 1G, 16G, 0x40000000)` };
      if (v < RAM_MIN || v > RAM_MAX) return { error: `${flag}: ${raw} is out of range (RAM must be ${formatSize(RAM_MIN)}..${formatSize(RAM_MAX)})` };
      if (v % RAM_GRANULE !== 0) return { error: `${flag}: ${raw} is not a multiple of 64K` };
      return { value: v };
    }
    case 'count': {
      const v = parseInteger(raw);
      if (v === undefined) return { error: `${flag}: "${raw}" is not a number` };
      if (v < 1 || v > CPUS_MAX) return { error: `${flag}: ${raw} is out of range (1..${CPUS_MAX})` };
      return { value: v };
    }
    case 'seed': {
      const v = parseInteger(raw);
      if (v === undefined || v > 0xffffffff) return { error: `${flag}: "${raw}" is not a number in 0..2^32-1` };
      return { value: v };
    }
    case 'input-file':
      if (!existsSync(raw)) return { error: `${flag}: no such file: ${raw}` };
      if (statSync(raw).isDirectory()) return { error: `${flag}: ${raw} is a directory, not a file` };
      if (!canAccess(raw, constants.R_OK)) return { error: `${flag}: cannot read ${raw} (permission denied)` };
      return { value: raw };
    case 'output-file':
      return outputFileError(flag, raw) ?? { value: raw };
    case 'filter': {
      const f = parseTraceFilter(raw);
      return f.ok ? { value: raw } : { error: `${flag}: ${f.error}` };
    }
    case 'words':
      if (raw.trim() === '') return { error: `${flag}: needs at least one word` };
      return { value: raw.trim() };
    case 'flag':
      return { value: 1 };
  }
}

/** Parses argv (without node and the script). */
export function parseArgs(argv: readonly string[]): ArgsResult {
  const fail = (error: string): ArgsResult => ({ ok: false, error });
  if (argv.length === 0) return { ok: true, args: { command: 'help' } };
  // `svasoc boot --help` and `svasoc help boot` give the command's own help
  const topicOf = (name: string | undefined) => COMMANDS.find((c) => c.name === name)?.name;
  const help = (topic: CommandName | undefined): ArgsResult => ({ ok: true, args: topic !== undefined ? { command: 'help', topic } : { command: 'help' } });
  if (argv.some((a) => a === '--help' || a === '-h')) return help(topicOf(argv[0]));
  if (argv.some((a) => a === '--version' || a === '-V')) return { ok: true, args: { command: 'version' } };
  if (argv[0] === 'help') return help(topicOf(argv[1]));

  const commandName = argv[0]!;
  const command = COMMANDS.find((c) => c.name === commandName);
  if (command === undefined) {
    const names = COMMANDS.map((c) => c.name).join(', ');
    return fail(commandName.startsWith('-') ? `expected a command before ${commandName} (${names})` : `unknown command "${commandName}" (${names})`);
  }

  const values = new Map<string, string | number>();
  const positionals: string[] = [];
  let onlyPositionals = false;
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i]!;
    if (onlyPositionals || !arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    if (arg === '--') {
      onlyPositionals = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') ? arg.slice(2, eq < 0 ? undefined : eq) : '';
    const spec = OPTIONS.find((o) => o.name === name);
    if (spec === undefined) return fail(`unknown option ${eq < 0 ? arg : arg.slice(0, eq)} (see svasoc --help)`);
    if (!spec.commands.includes(command.name)) return fail(`option --${spec.name} does not apply to ${command.name}`);
    if (values.has(spec.name)) return fail(`option --${spec.name} given twice`);
    let raw: string;
    if (spec.kind === 'flag') {
      if (eq >= 0) return fail(`option --${spec.name} takes no value`);
      raw = '';
    } else if (eq >= 0) raw = arg.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) return fail(`option --${spec.name} needs a value (${spec.metavar})`);
      raw = next;
      i++;
    }
    const v = optionValue(spec, raw);
    if ('error' in v) return fail(v.error);
    values.set(spec.name, v.value);
  }

  const ramSize = (values.get('ram') as number | undefined) ?? GiB;
  const cpus = (values.get('cpus') as number | undefined) ?? 2;
  if (command.name === 'dumpdtb') {
    if (positionals.length !== 1) return fail(positionals.length === 0 ? 'dumpdtb needs a FILE to write' : `dumpdtb takes one FILE, got ${positionals.length}`);
    const file = positionals[0]!;
    const bad = outputFileError('dumpdtb', file);
    if (bad !== undefined) return fail(bad.error);
    return { ok: true, args: { command: 'dumpdtb', file, ramSize, cpus } };
  }
  if (command.name === 'demo') {
    if (positionals.length > 0) return fail(`demo takes no arguments, got ${positionals.join(' ')}`);
    return {
      ok: true,
      args: {
        command: 'demo',
        ramSize,
        cpus,
        seed: (values.get('seed') as number | undefined) ?? 1,
        trace: values.get('trace') as string | undefined,
        log: values.get('log') as string | undefined,
        traceFilter: (values.get('trace-filter') as string | undefined) ?? '',
      },
    };
  }
  if (command.name === 'mkimage') {
    if (positionals.length !== 2) return fail(`mkimage needs DIR and OUT.cpio, got ${positionals.length} argument(s)`);
    const [dir, out] = positionals as [string, string];
    if (!existsSync(dir) || !statSync(dir).isDirectory()) return fail(`mkimage: no such directory: ${dir}`);
    const bad = outputFileError('mkimage', out);
    if (bad !== undefined) return fail(bad.error);
    return { ok: true, args: { command: 'mkimage', dir, out, script: values.get('script') as string | undefined } };
  }
  if (command.name === 'tui') {
    if (positionals.length > 1) return fail(`tui takes at most one of demo or an image, got ${positionals.length}: ${positionals.join(' ')}`);
    const target = positionals[0];
    if (target !== undefined && target !== 'demo' && resolveImage(target) === undefined) return fail(`no such image: ${target} (demo, a directory, a cpio archive, or a name in images/: ${imageNames().join(', ')})`);
    if (target === 'demo' && values.has('script')) return fail('--script applies to an image, not to the demo');
    if (target === 'demo' && values.has('append')) return fail('--append applies to an image, not to the demo');
    return {
      ok: true,
      args: {
        command: 'tui',
        target,
        script: values.get('script') as string | undefined,
        append: values.get('append') as string | undefined,
        ramSize,
        cpus,
        seed: (values.get('seed') as number | undefined) ?? 1,
        traceFilter: (values.get('trace-filter') as string | undefined) ?? '',
      },
    };
  }
  if (positionals.length > 1) return fail(`boot takes at most one image, got ${positionals.length}: ${positionals.join(' ')}`);
  const image = positionals[0];
  if (image !== undefined && resolveImage(image) === undefined) return fail(`no such image: ${image} (a directory, a cpio archive, or a name in images/: ${imageNames().join(', ')})`);
  return {
    ok: true,
    args: {
      command: 'boot',
      image,
      script: values.get('script') as string | undefined,
      interactive: values.has('interactive'),
      append: values.get('append') as string | undefined,
      ramSize,
      cpus,
      seed: (values.get('seed') as number | undefined) ?? 1,
      trace: values.get('trace') as string | undefined,
      log: values.get('log') as string | undefined,
      traceFilter: (values.get('trace-filter') as string | undefined) ?? '',
    },
  };
}

/** `svasoc --help`, generated from the tables; with a topic, `svasoc COMMAND --help`: that command and its options. */
export function helpText(version: string, topic?: CommandName): string {
  const command = topic !== undefined ? COMMANDS.find((c) => c.name === topic) : undefined;
  const options = command !== undefined ? OPTIONS.filter((o) => o.commands.includes(command.name)) : OPTIONS;
  const lines: string[] = [];
  if (command !== undefined) {
    lines.push(`Usage: svasoc ${command.name}${command.usage ? ` ${command.usage}` : ''} [options]`, '', `${command.summary[0]!.toUpperCase()}${command.summary.slice(1)}.`);
    for (const n of command.notes ?? []) lines.push(n.replace('IMAGES', imageNames().join(', ')));
  } else {
    lines.push(`svasoc ${version}: emulator of an Arm SoC with SMMUv3 and a ZIP accelerator, for shared virtual addressing`, '', 'Usage:');
    for (const c of COMMANDS) lines.push(`  svasoc ${c.name} ${c.usage} [options]`);
    lines.push('  svasoc --help | --version', '  svasoc COMMAND --help   the options of one command', '', 'Commands:');
    const cw = Math.max(...COMMANDS.map((c) => c.name.length));
    for (const c of COMMANDS) lines.push(`  ${c.name.padEnd(cw)}  ${c.summary}`);
  }
  lines.push('', 'Options:');
  const left = options.map((o) => (o.metavar ? `--${o.name} ${o.metavar}` : `--${o.name}`));
  const w = Math.max(...left.map((l) => l.length), '-V, --version'.length);
  options.forEach((o, i) => lines.push(`  ${left[i]!.padEnd(w)}  ${o.help}${command === undefined ? ` [${o.commands.join(', ')}]` : ''}`));
  lines.push(`  ${'-h, --help'.padEnd(w)}  show this help`);
  if (command === undefined) lines.push(`  ${'-V, --version'.padEnd(w)}  show the version`);
  lines.push('');
  if (options.some((o) => o.kind === 'size')) lines.push('SIZE is bytes (decimal or 0x hex) or a number with K, M, G or T (powers of 1024).');
  lines.push('Exit status: 0 success, 1 the run failed, 2 bad arguments.');
  return `${lines.join('\n')}\n`;
}

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}

/**
 * The answers that need no machine: an argument error (one line, exit 2), --help and
 * --version; undefined when the command has to run. The CLI's entry point gives these
 * before it loads the emulator, which takes seconds.
 */
export function answerWithoutMachine(parsed: ArgsResult, io: { stdout(text: string): void; stderr(text: string): void }): number | undefined {
  if (!parsed.ok) {
    io.stderr(`svasoc: ${parsed.error}\n`);
    return 2;
  }
  if (parsed.args.command === 'help') {
    io.stdout(helpText(version(), parsed.args.topic));
    return 0;
  }
  if (parsed.args.command === 'version') {
    io.stdout(`svasoc ${version()}\n`);
    return 0;
  }
  return undefined;
}
