// Boot figures of the default image (what `npm start` runs): wall and virtual time to
// the shell running /init, the whole demo to poweroff, and the host memory of a
// 16 GiB guest running it (in a fresh child process, so the RSS is the guest's own).

import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { figure, type BenchFigure } from './figure.js';
import { createMachine } from '../../src/machine/create.js';
import { boot } from '../../src/machine/boot.js';
import { createKernelImage } from '../../src/kernel/image.js';
import { userPrograms } from '../../src/user/rom.js';
import { buildImage } from '../mkimage/build.js';

const here = dirname(fileURLToPath(import.meta.url));
const IMAGE = join(here, '..', '..', 'images', 'default');
/** The first line the default image's /init script prints after its banner. */
const SHELL_MARK = '$ uname -a';

interface BootRun {
  shellWallMs: number;
  shellVirtMs: number;
  totalWallMs: number;
  totalVirtMs: number;
  code: number | undefined;
}

function bootDefault(ramSize = 1024 * 1024 * 1024): BootRun {
  const t0 = performance.now();
  const initramfs = buildImage(IMAGE);
  const m = createMachine({ ramSize });
  const h = boot(m, { kernel: createKernelImage(), rom: userPrograms, initramfs });
  let shellWallMs = NaN;
  let shellVirtMs = NaN;
  while (!m.halted && m.clock.now() < 60e9) {
    m.run({ forNs: 1e6 });
    if (Number.isNaN(shellWallMs) && m.console.text.includes(SHELL_MARK)) {
      shellWallMs = performance.now() - t0;
      shellVirtMs = m.clock.now() / 1e6;
    }
  }
  return { shellWallMs, shellVirtMs, totalWallMs: performance.now() - t0, totalVirtMs: m.clock.now() / 1e6, code: h.exitCode };
}

/** Child-process entry: boots a 16 GiB guest and prints its peak RSS in MiB. */
function rssChild(): void {
  const run = bootDefault(16 * 1024 * 1024 * 1024);
  const rss = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(JSON.stringify({ rss, code: run.code }));
}

export async function bench(): Promise<BenchFigure[]> {
  bootDefault(); // warm the JIT and the module graph: the figure is a steady-state boot
  const runs = [bootDefault(), bootDefault(), bootDefault()].sort((a, b) => a.shellWallMs - b.shellWallMs);
  const r = runs[1]!;
  const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--rss-child'], { encoding: 'utf8' });
  const out = JSON.parse(child.stdout || '{"rss":NaN}') as { rss: number; code?: number };
  return [
    figure('boot.default_to_shell_wall_ms', r.shellWallMs, 'ms', { max: 1000 }, 'warm; median of 3'),
    figure('boot.default_to_shell_virtual_ms', r.shellVirtMs, 'ms', undefined, 'virtual time until /init prints its first command'),
    figure('boot.default_demo_wall_ms', r.totalWallMs, 'ms', undefined, 'whole default image to poweroff'),
    figure('boot.default_demo_virtual_ms', r.totalVirtMs, 'ms'),
    figure('boot.rss_16g_default_image_mib', out.rss, 'MiB', { max: 300 }, `fresh process, exit code ${out.code}`),
  ];
}

if (process.argv.includes('--rss-child')) rssChild();
