// `svasoc tui IMAGE`: a guest image booted under the TUI. Apart from tui.ts because it
// loads the guest kernel (boot-image.ts), which `svasoc tui demo` does without.

import { readFileSync } from 'node:fs';
import { ConsoleBuffer } from '../tui/model/console.js';
import { guestWorkload, type Workload } from '../tui/model/workload.js';
import { initramfsFor, startGuest } from './boot-image.js';
import { resolveImage } from './image-path.js';
import { TUI_TRACE_CAPACITY, type TuiWorkloadOptions } from './tui.js';

/** What is wrong with the image or script of a TUI run, checked before the screen opens; undefined when nothing. */
export function imageProblem(options: Pick<TuiWorkloadOptions, 'target' | 'script'>): string | undefined {
  try {
    const image = resolveImage(options.target);
    if (image === undefined) return `no such image: ${options.target ?? 'default'}`;
    initramfsFor(image, options.script !== undefined ? readFileSync(options.script, 'utf8') : undefined);
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/** A guest image booted on a fresh machine; UART output goes to `console`, keystrokes to its UART. */
export function imageWorkload(console: ConsoleBuffer, options: TuiWorkloadOptions): Workload {
  const image = resolveImage(options.target);
  if (image === undefined) throw new Error(`no such image: ${options.target ?? 'default'}`);
  const script = options.script !== undefined ? readFileSync(options.script, 'utf8') : undefined;
  initramfsFor(image, script); // a bad image fails here, before the screen opens
  const { machine, handle } = startGuest({
    image,
    ramSize: options.ramSize,
    cpus: options.cpus,
    seed: options.seed,
    trace: true,
    traceCapacity: TUI_TRACE_CAPACITY,
    consoleSink: (t) => console.write(t),
    ...(script !== undefined ? { script } : {}),
    ...(options.append !== undefined ? { append: options.append } : {}),
  });
  return guestWorkload(machine, { title: `boot ${options.target ?? 'default'}`, input: (d) => handle.input(d) });
}

