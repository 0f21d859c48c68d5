// Test harness for libwd and uadk_tool on the booted board: the kernel boots with
// hisi_zip in uacce SVA mode (unless told otherwise), host-made files are put into
// the image, a script runs, and the test's own programs (libc Mains running libwd) can
// record what they saw into host variables. `grab` (a program) copies guest files
// back to the host.

import { createMachine } from '../../src/machine/create.js';
import { boot } from '../../src/machine/boot.js';
import type { Machine } from '../../src/machine/board.js';
import { createKernelImage } from '../../src/kernel/image.js';
import { set_qm_bus } from '../../src/kernel/drivers/crypto/hisilicon/qm-bus.js';
import { hisi_zip_crypto_reset } from '../../src/kernel/drivers/crypto/hisilicon/zip/zip-crypto.js';
import { hisi_zip_reset_state } from '../../src/kernel/drivers/crypto/hisilicon/zip/zip-main.js';
import { zipk_reset_state } from '../../src/kernel/drivers/crypto/hisilicon/zip/zipk.js';
import { userPrograms } from '../../src/user/rom.js';
import { program, type Main } from '../../src/user/libc/crt0.js';
import { buildImage, execStub } from '../../tools/mkimage/build.js';
import { countingBusOps, type HarnessStats } from './kernel-zip-harness.js';
import { userOutput } from '../support/kernel-boot.js';

export const UACCE_ARGS = 'console=ttyAMA0 earlycon hisi_zip.uacce_mode=1';

export interface UadkRun {
  machine: Machine;
  code: number | undefined;
  /** User-space console lines (kernel lines dropped). */
  out: string;
  console: string;
  /** Files copied back by `grab FILE...`. */
  files: Map<string, Uint8Array>;
}

export interface UadkBoot {
  script: string[];
  mains?: Record<string, Main>;
  /** Files put into the image: path -> content. */
  files?: Record<string, Uint8Array | string>;
  /** Kernel command line (default: uacce mode). */
  args?: string;
  /** Image directory whose tree is used (default: only the generated files). */
  image?: string;
  /** Use the image's /init instead of a script. */
  useImageInit?: boolean;
  limitNs?: number;
  ramSize?: number;
  setup?: (m: Machine) => void;
}

export function bootUadk(o: UadkBoot): UadkRun {
  const machine = createMachine({ ramSize: o.ramSize ?? 512 * 1024 * 1024, trace: true });
  o.setup?.(machine);
  const stats: HarnessStats = { coherentLive: 0, mapped: 0, resets: 0 };
  hisi_zip_reset_state();
  hisi_zip_crypto_reset();
  zipk_reset_state();
  set_qm_bus(countingBusOps(stats));
  const files = new Map<string, Uint8Array>();
  const grab: Main = function* (c, argv) {
    for (const f of argv.slice(1)) {
      const d = yield* c.readFile(f);
      if (typeof d !== 'number') files.set(f, d);
    }
    return 0;
  };
  const rom = new Map(userPrograms);
  const extra: Record<string, string | Uint8Array> = { ...(o.files ?? {}) };
  for (const [name, main] of Object.entries({ grab, ...(o.mains ?? {}) })) {
    rom.set(name, program(main));
    extra[`/bin/${name}`] = execStub(name);
  }
  const initramfs = buildImage(o.image, { extraFiles: extra, ...(o.useImageInit ? {} : { script: o.script.join('\n') + '\n' }) });
  const h = boot(machine, { kernel: createKernelImage({}), rom, initramfs, args: o.args ?? UACCE_ARGS });
  const code = h.runToPoweroff(o.limitNs ?? 120e9);
  const con = h.console.replace(/\r\n/g, '\n');
  return { machine, code, out: userOutput(con), console: con, files };
}

/** Seeded data: 'text' is words from a small vocabulary (compressible), 'random' is xorshift bytes. */
export function sample(kind: 'text' | 'random', n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  const next = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  if (kind === 'random') {
    for (let i = 0; i < n; i++) b[i] = next() & 0xff;
    return b;
  }
  const words = ['uacce ', 'queue ', 'doorbell ', 'phase ', 'stall ', 'resume ', 'pasid ', 'stream ', 'window ', 'deflate\n'];
  for (let i = 0; i < n; ) {
    const w = words[next() % words.length]!;
    for (let j = 0; j < w.length && i < n; j++) b[i++] = w.charCodeAt(j);
  }
  return b;
}

export function bytesEqual(a: Uint8Array | undefined, b: Uint8Array): boolean {
  if (a === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
