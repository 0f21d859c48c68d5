// `svasoc tui`: the workload the TUI watches, built from the same pieces as `svasoc
// demo` (its bare-metal steps) and `svasoc boot` (startGuest, in tui-image.ts, loaded
// only for an image: the guest kernel takes about a second to load), then handed to the
// TUI, which sees only the machine and the workload (never the guest kernel).

import { createMachine } from '../machine/create.js';
import { mulberry32 } from '../machine/prng.js';
import { ConsoleBuffer } from '../tui/model/console.js';
import { scriptedWorkload, type Workload } from '../tui/model/workload.js';
import { BARE_METAL_STEPS, type DemoContext } from './demo.js';
import type { TuiArgs } from './args.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliIo } from './commands.js';
import { TuiSession } from '../tui/model/session.js';
import { TuiApp } from '../tui/app.js';

export interface TuiWorkloadOptions {
  /** 'demo', or an image (directory, cpio, name in images/); undefined = the default image. */
  readonly target: string | undefined;
  readonly script: string | undefined;
  /** Words added to the kernel command line (images only). */
  readonly append?: string | undefined;
  readonly ramSize: number;
  readonly cpus: number;
  readonly seed: number;
}

/** Trace ring of the TUI's machine: the whole default boot fits many times over. */
export const TUI_TRACE_CAPACITY = 1 << 20;

/** The bare-metal demo as steps: its narrative goes to `console`. */
export function demoWorkload(console: ConsoleBuffer, options: Pick<TuiWorkloadOptions, 'ramSize' | 'cpus' | 'seed'>): Workload {
  const machine = createMachine({ ramSize: options.ramSize, cpus: options.cpus, seed: options.seed, trace: true, traceCapacity: TUI_TRACE_CAPACITY });
  const ctx: DemoContext = { machine, random: mulberry32(options.seed), log: (l) => console.write(`    ${l}\n`), facts: new Map() };
  const steps = BARE_METAL_STEPS.map((s) => ({ title: s.title, run: () => s.start(ctx) }));
  return scriptedWorkload(machine, steps, {
    title: 'bare-metal demo',
    write: (t) => console.write(t),
    finish: () => {
      const failures = BARE_METAL_STEPS.map((s) => s.check?.(ctx)).filter((f): f is string => f !== undefined);
      console.write(failures.length === 0 ? 'demo: ok\n' : `demo: FAILED: ${failures.join('; ')}\n`);
    },
  });
}

/** The streams the TUI draws on; a non-TTY is refused before anything runs. */
export interface TuiTerminal {
  readonly input: NodeJS.ReadStream;
  readonly output: NodeJS.WriteStream;
}

/** `svasoc tui`: 0 when the user quits, 1 without a terminal, 2 for a bad image or script. */
export function runTui(args: TuiArgs, io: CliIo, terminal: TuiTerminal = { input: process.stdin, output: process.stdout }): number | Promise<number> {
  const options: TuiWorkloadOptions = { target: args.target, script: args.script, append: args.append, ramSize: args.ramSize, cpus: args.cpus, seed: args.seed };
  if (args.target === 'demo') return openTui(args, io, terminal, (console) => demoWorkload(console, options));
  return import('./tui-image.js').then(({ imageProblem, imageWorkload }) => {
    // a bad image or script is an argument error (exit 2) whether or not there is a terminal
    const problem = imageProblem(options);
    if (problem !== undefined) {
      io.stderr(`svasoc: ${problem}\n`);
      return EXIT_USAGE;
    }
    return openTui(args, io, terminal, (console) => imageWorkload(console, options));
  });
}

function openTui(args: TuiArgs, io: CliIo, terminal: TuiTerminal, workload: (console: ConsoleBuffer) => Workload): number | Promise<number> {
  if (!terminal.input.isTTY || !terminal.output.isTTY) {
    io.stderr('svasoc: tui needs a terminal: stdin and stdout must be a TTY (for a log without one: svasoc boot --log FILE)\n');
    return EXIT_FAILURE;
  }
  const console = new ConsoleBuffer();
  let session: TuiSession;
  try {
    session = new TuiSession(workload(console), { filter: args.traceFilter });
  } catch (e) {
    io.stderr(`svasoc: ${e instanceof Error ? e.message : String(e)}\n`);
    return EXIT_USAGE;
  }
  return new Promise((resolve) => {
    const app = new TuiApp({ session, console, input: terminal.input, output: terminal.output, onExit: () => resolve(EXIT_OK) });
    app.render();
  });
}
