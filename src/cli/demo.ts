// The bare-metal demo `svasoc boot` runs until the guest kernel lands: a machine at
// reset, driven from outside as a bare-metal test would drive it, with its trace
// printed by the text exporter.
//
// The work is a list of steps, each a small program against `machine.bus` and the
// clock. Today a plain bus master (a DmaPort with no IOMMU in front) copies a buffer,
// because nothing else is wired into createMachine yet; when the board wires the
// iommu-testdev behind the SMMU, a step that programs its BAR0 replaces DMA_COPY_STEP
// and the rest stays.

import { DmaPort, DmaStatus } from '../hw/bus/dma.js';
import { buildSocTree, loadSocDescription } from '../machine/soc.js';
import { writeDtb } from '../machine/fdt/dtb-writer.js';
import { createMachine } from '../machine/create.js';
import type { MachineCore } from '../machine/machine.js';
import { TraceKind } from '../trace/record.js';
import { NO_SID, NO_SSID } from '../trace/ring.js';
import { formatTraceLine } from '../trace/export-text.js';
import { formatSize } from './args.js';

export interface DemoOutput {
  write(text: string): void;
}

export interface DemoContext {
  readonly machine: MachineCore;
  /** Seeded generator (mulberry32) for demo data: same seed, same bytes. */
  readonly random: () => number;
  /** Prints one line of the step's narrative. */
  log(line: string): void;
  /** Facts later steps and the summary use (e.g. where a buffer lives). */
  readonly facts: Map<string, number>;
}

export interface DemoStep {
  readonly title: string;
  /** Issues the step's accesses; may schedule events that the demo then runs to idle. */
  start(ctx: DemoContext): void;
  /** Checks the outcome after the machine went idle; returns a failure message or undefined. */
  check?(ctx: DemoContext): string | undefined;
}

export interface DemoOptions {
  readonly ramSize?: number;
  readonly cpus?: number;
  readonly seed?: number;
  /** A machine to use instead of a fresh one (it must have tracing on). */
  readonly machine?: MachineCore;
  readonly steps?: readonly DemoStep[];
  /** Trace lines to print (head of the trace). */
  readonly excerptLines?: number;
}

export interface DemoResult {
  readonly machine: MachineCore;
  readonly traceHash: string;
  readonly failures: readonly string[];
}

/** mulberry32: a tiny seeded PRNG, enough for demo data. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hex = (v: number, digits = 8) => `0x${v.toString(16).padStart(digits, '0')}`;

const DEMO_SRC = 0x4010_f000; // straddles the 64 KiB RAM chunk at 0x4011_0000
const DEMO_DST = 0x4020_0000;
const DEMO_LEN = 3 * 4096;
const PAGE = 4096;
/** StreamID the demo master uses: the requester ID of 00:02.0, where the test device will sit. */
const DEMO_SID = 0x0010;

export const FILL_SOURCE_STEP: DemoStep = {
  title: 'bench writes a 12 KiB seeded source buffer across a RAM chunk boundary',
  start(ctx) {
    const data = new Uint8Array(DEMO_LEN);
    for (let i = 0; i < data.length; i++) data[i] = Math.floor(ctx.random() * 256);
    ctx.machine.bus.writeBytes(DEMO_SRC, data);
    ctx.log(`src ${hex(DEMO_SRC)}..${hex(DEMO_SRC + DEMO_LEN - 1)} written`);
  },
};

export const DMA_COPY_STEP: DemoStep = {
  title: 'a bus master (no IOMMU yet) copies the buffer page by page in virtual time',
  start(ctx) {
    const m = ctx.machine;
    const port = new DmaPort(m.bus, 'demo-dma', DEMO_SID);
    const page = new Uint8Array(PAGE);
    const perPage = m.cost.dmaLatencyNs + PAGE / m.cost.dmaBytesPerNs;
    let copied = 0;
    const copyPage = (i: number) => {
      const readSt = port.read(DEMO_SRC + i * PAGE, page, 0, PAGE);
      const writeSt = readSt === DmaStatus.Ok ? port.write(DEMO_DST + i * PAGE, page, 0, PAGE) : readSt;
      if (writeSt === DmaStatus.Ok) copied += PAGE;
      ctx.facts.set('copied', copied);
      if (i + 1 < DEMO_LEN / PAGE) m.clock.after(2 * perPage, 'demo-dma page', () => copyPage(i + 1));
      else ctx.log(`copy done at ${m.clock.now()} ns: ${copied} bytes`);
    };
    m.clock.after(perPage, 'demo-dma page', () => copyPage(0));
  },
  check(ctx) {
    const bus = ctx.machine.bus;
    const a = bus.readBytes(DEMO_SRC, DEMO_LEN);
    const b = bus.readBytes(DEMO_DST, DEMO_LEN);
    const same = a.every((v, i) => v === b[i]);
    ctx.log(same ? `dst ${hex(DEMO_DST)} matches src (${DEMO_LEN} bytes)` : 'dst differs from src');
    return same ? undefined : 'DMA copy mismatch';
  },
};

export const BUS_ERROR_STEP: DemoStep = {
  title: 'accesses to addresses nothing decodes end in bus errors, recorded and returned',
  start(ctx) {
    const m = ctx.machine;
    const before = m.bus.errorCount;
    const v = m.bus.read32(0x0000_1000);
    const port = new DmaPort(m.bus, 'demo-dma', DEMO_SID);
    const st = port.write32(0x2000_0000, 0xfeedface);
    ctx.log(`read32(0x1000) -> ${hex(v)} with error=${m.bus.error}; DMA to 0x20000000 -> ${DmaStatus[st]}`);
    ctx.facts.set('busErrors', m.bus.errorCount - before);
  },
  check(ctx) {
    return ctx.facts.get('busErrors') === 2 ? undefined : `expected 2 bus errors, saw ${ctx.facts.get('busErrors')}`;
  },
};

export const BARE_METAL_STEPS: readonly DemoStep[] = [FILL_SOURCE_STEP, DMA_COPY_STEP, BUS_ERROR_STEP];

/** Runs the demo and prints its narrative, the memory map and a trace excerpt to `out`. */
export function runBareMetalDemo(out: DemoOutput, options: DemoOptions = {}): DemoResult {
  const ramSize = options.machine?.ramSize ?? options.ramSize ?? 2 ** 30;
  const cpus = options.cpus ?? 2;
  const seed = options.seed ?? 1;
  const machine = options.machine ?? createMachine({ ramSize, cpus, seed, trace: true });
  const steps = options.steps ?? BARE_METAL_STEPS;
  const w = (line = '') => out.write(`${line}\n`);

  w('svasoc bare-metal demo (no guest kernel yet: the machine is driven from outside, as a bare-metal test does)');
  w(`machine: ${formatSize(ramSize)} RAM, ${cpus} CPU${cpus === 1 ? '' : 's'}, seed ${seed}`);
  w('memory map (firmware/soc.dts):');
  const soc = loadSocDescription();
  const rows = soc.memoryMap.map((r) => (r.region === 'ram' ? { ...r, size: ramSize } : r));
  const digits = Math.max(...rows.map((r) => (r.base + r.size - 1).toString(16).length), 8);
  for (const r of rows) {
    const wired = r.region === 'ram' || machine.bus.findRegion(r.base) !== undefined;
    w(`  ${hex(r.base, digits)}-${hex(r.base + r.size - 1, digits)}  ${r.region.padEnd(18)}  ${(wired ? 'wired' : 'not wired yet').padEnd(13)}  ${r.node}`);
  }
  w(`device tree blob: ${writeDtb(buildSocTree({ ramSize, cpus })).length} bytes (svasoc dumpdtb FILE writes it)`);

  const marker = machine.trace.initiatorId('demo');
  const ctx: DemoContext = { machine, random: mulberry32(seed), log: (l) => w(`    ${l}`), facts: new Map() };
  steps.forEach((step, i) => {
    w(`[${i + 1}] ${step.title}`);
    if (machine.trace.on) machine.trace.record(TraceKind.Marker, marker, NO_SID, NO_SSID, 0, 0, 0, 0, i + 1);
    step.start(ctx);
    machine.run({ untilIdle: true });
  });
  const failures: string[] = [];
  if (steps.some((s) => s.check)) w('checks:');
  for (const step of steps) {
    const f = step.check?.(ctx);
    if (f !== undefined) failures.push(f);
  }

  const ring = machine.trace;
  const excerpt = options.excerptLines ?? 16;
  w(`trace: ${ring.total} records, hash ${ring.hash()}; first ${Math.min(excerpt, ring.total - ring.first)}:`);
  let n = 0;
  for (const r of ring.records()) {
    if (n++ >= excerpt) break;
    w(`  ${formatTraceLine(r)}`);
  }
  w(`virtual time ${machine.clock.now()} ns; host memory for guest RAM: ${formatSize(machine.bus.ram.allocatedBytes)} of ${formatSize(ramSize)}`);
  w(failures.length === 0 ? 'demo: ok' : `demo: FAILED: ${failures.join('; ')}`);
  return { machine, traceHash: ring.hash(), failures };
}
