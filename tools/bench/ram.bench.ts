// Host memory of sparse RAM (DESIGN.md 7): a machine with 16 GiB configured that
// touched 64 MiB must cost about 64 MiB of host memory. Each figure is the RSS of a
// fresh child process (this file run with --child), so nothing else the bench
// runner loaded counts.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { figure, type BenchFigure } from './figure.js';

const MiB = 1 << 20;
const GiB = 1 << 30;
const RAM_BASE = 0x4000_0000;
const TOUCHED = 64 * MiB;
const PAGE = 4096;

interface ChildReport {
  readonly rssMiB: number;
  readonly allocatedMiB: number;
}

/** The child's work: `mode` "touch" builds the 16 GiB machine; "baseline" only loads the code. */
async function child(mode: string): Promise<void> {
  const { createMachine } = await import('../../src/machine/create.js');
  let allocated = 0;
  if (mode === 'touch') {
    const m = createMachine({ ramSize: 16 * GiB });
    // spread over the 16 GiB: 64 MiB worth of 64 KiB chunks, 1 GiB apart in groups
    const at = (i: number) => RAM_BASE + (i % 16) * GiB + Math.floor(i / 16) * PAGE;
    for (let i = 0; i < TOUCHED / PAGE; i++) m.bus.write8(at(i), i & 0xff); // one byte per page
    const page = new Uint8Array(PAGE).fill(0xa5);
    for (let i = 0; i < TOUCHED / PAGE; i++) m.bus.writeBytes(at(i), page); // then whole pages
    allocated = m.bus.ram.allocatedBytes;
    if (m.bus.read8(at(12345)) !== 0xa5) throw new Error('RAM did not keep what was written');
  }
  (globalThis as { gc?: () => void }).gc?.();
  const report: ChildReport = { rssMiB: process.memoryUsage().rss / MiB, allocatedMiB: allocated / MiB };
  process.stdout.write(JSON.stringify(report));
}

function runChild(mode: string): ChildReport {
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), '--child', mode], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ram bench child (${mode}) failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as ChildReport;
}

export async function bench(): Promise<BenchFigure[]> {
  const base = runChild('baseline');
  const touch = runChild('touch');
  return [
    figure('ram.rss_16g_touch_64m_mib', touch.rssMiB, 'MiB', { max: 200 }, `16 GiB configured, ${touch.allocatedMiB} MiB allocated`),
    figure('ram.rss_baseline_mib', base.rssMiB, 'MiB', undefined, 'same process without a machine'),
    figure('ram.rss_over_touched', (touch.rssMiB - base.rssMiB) / (TOUCHED / MiB), 'x', { max: 1.5 }, 'RSS growth per touched MiB'),
  ];
}

const modeIndex = process.argv.indexOf('--child');
if (modeIndex >= 0 && process.argv[1] === fileURLToPath(import.meta.url)) await child(process.argv[modeIndex + 1] ?? 'touch');
