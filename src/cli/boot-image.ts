// `svasoc boot`: build the image's initramfs, boot the kernel on a fresh machine, run
// until the guest powers off, and exit with its poweroff code.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMachine } from '../machine/create.js';
import { boot } from '../machine/boot.js';
import type { Machine } from '../machine/board.js';
import { createKernelImage } from '../kernel/image.js';
import { userPrograms } from '../user/rom.js';
import { buildImage } from '../../tools/mkimage/build.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const IMAGES_DIR = join(ROOT, 'images');
export const DEFAULT_IMAGE = 'default';

/**
 * An image argument: a directory tree, a cpio archive, or the name of a directory in
 * images/. Returns the path or undefined when nothing matches.
 */
export function resolveImage(image: string | undefined): string | undefined {
  const name = image ?? DEFAULT_IMAGE;
  if (existsSync(name)) return name;
  const inImages = join(IMAGES_DIR, name);
  return existsSync(inImages) && statSync(inImages).isDirectory() ? inImages : undefined;
}

export interface GuestBootOptions {
  readonly image: string;
  readonly script?: string;
  readonly ramSize: number;
  readonly cpus: number;
  readonly seed: number;
  readonly trace: boolean;
  /** Console text as it arrives. */
  readonly consoleSink?: (text: string) => void;
  /** Upper bound of virtual time before giving up (default 600 s). */
  readonly limitNs?: number;
}

export interface GuestBootResult {
  readonly machine: Machine;
  /** The guest's poweroff code, or undefined when it did not power off in time. */
  readonly exitCode: number | undefined;
  readonly virtualNs: number;
}

/** The initramfs for an image path: a cpio file as is, a directory built with mkimage. */
export function initramfsFor(imagePath: string, script?: string): Uint8Array {
  if (statSync(imagePath).isDirectory()) return buildImage(imagePath, script !== undefined ? { script } : {});
  if (script !== undefined) throw new Error('--script needs an image directory, not a prebuilt archive');
  return new Uint8Array(readFileSync(imagePath));
}

export function bootGuest(options: GuestBootOptions): GuestBootResult {
  const machine = createMachine({
    ramSize: options.ramSize,
    cpus: options.cpus,
    seed: options.seed,
    trace: options.trace,
    traceCapacity: options.trace ? 1 << 20 : 1 << 16,
    ...(options.consoleSink ? { consoleSink: options.consoleSink } : {}),
  });
  const handle = boot(machine, {
    kernel: createKernelImage({ seed: options.seed }),
    rom: userPrograms,
    initramfs: initramfsFor(options.image, options.script),
  });
  const exitCode = handle.runToPoweroff(options.limitNs ?? 600e9);
  return { machine, exitCode, virtualNs: machine.clock.now() };
}
