// The bare-metal demo `svasoc boot` runs until the guest kernel lands: a machine at
// reset, driven from outside as a bare-metal test would drive it, with its trace
// printed by the text exporter.
//
// The work is a list of steps, each a small program against `machine.bus` and the
// clock: a plain bus master copies a seeded buffer, the iommu-testdev found through
// ECAM does a DMA of its own, and accesses to holes end in bus errors. Once the SMMU
// is wired, a step that sets up a stream table and context descriptor goes before
// TESTDEV_DMA_STEP and the device's IOVA stops being the physical address.

import { assignPciBars } from '../../firmware/pci-enum.js';
import { DmaPort, DmaStatus } from '../hw/bus/dma.js';
import { buildSocTree, loadSocDescription } from '../machine/soc.js';
import { writeDtb } from '../machine/fdt/dtb-writer.js';
import { createMachine } from '../machine/create.js';
import type { MachineCore } from '../machine/machine.js';
import { TraceKind } from '../trace/record.js';
import { NO_SID, NO_SSID } from '../trace/ring.js';
import { formatTraceLine } from '../trace/export-text.js';
import { byAddress, not, select, type TraceFilter } from '../trace/filter.js';
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
  /** Records the excerpt shows (default: all but PCI configuration accesses through ECAM). */
  readonly excerptFilter?: TraceFilter;
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
/** StreamID of the plain bus master: requester ID 01:00.0, where no PCI function sits. */
const DEMO_SID = 0x0100;

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
  title: 'a plain bus master copies the buffer page by page in virtual time',
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

// iommu-testdev BAR0 registers (QEMU docs/specs/iommu-testdev.rst), as a driver declares them
const ITD_DMA_TRIGGERING = 0x00;
const ITD_DMA_GVA_LO = 0x04;
const ITD_DMA_GVA_HI = 0x08;
const ITD_DMA_LEN = 0x0c;
const ITD_DMA_RESULT = 0x10;
const ITD_DMA_DBELL = 0x14;
const ITD_DMA_GPA_LO = 0x1c;
const ITD_DMA_GPA_HI = 0x20;
const ITD_PATTERN = 0x12345678;
const TESTDEV_BDF = '0000:00:02.0';
const TESTDEV_BUF = 0x4030_0000;
const TESTDEV_LEN = 256;
const PCI_COMMAND = 0x04;
const PCI_COMMAND_MEMORY = 0x2;
const PCI_COMMAND_MASTER = 0x4;

export const TESTDEV_DMA_STEP: DemoStep = {
  title: 'the iommu-testdev at 00:02.0 (BAR0 assigned through ECAM) writes its pattern by DMA and checks it',
  start(ctx) {
    const m = ctx.machine;
    const soc = loadSocDescription();
    const { ecam, busRange, mmioWindow } = soc.pcie;
    const bars = assignPciBars(m.bus, ecam.base, busRange.first, busRange.last, mmioWindow, m.bus.benchInitiator);
    const bar0 = bars.find((b) => b.bdf === TESTDEV_BDF && b.index === 0);
    if (bar0 === undefined) {
      ctx.log(`no BAR0 for ${TESTDEV_BDF}: the test device is not on this machine`);
      return;
    }
    const cmd = ecam.base + (2 << 15) + PCI_COMMAND; // bus 0, device 2, function 0
    m.bus.write16(cmd, m.bus.read16(cmd) | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    const reg = (off: number) => bar0.base + off;
    m.bus.write32(reg(ITD_DMA_GVA_LO), TESTDEV_BUF);
    m.bus.write32(reg(ITD_DMA_GVA_HI), 0);
    m.bus.write32(reg(ITD_DMA_GPA_LO), TESTDEV_BUF); // no SMMU yet: the IOVA is the PA
    m.bus.write32(reg(ITD_DMA_GPA_HI), 0);
    m.bus.write32(reg(ITD_DMA_LEN), TESTDEV_LEN);
    m.bus.write32(reg(ITD_DMA_DBELL), 1);
    m.bus.read32(reg(ITD_DMA_TRIGGERING));
    ctx.facts.set('testdevResultReg', reg(ITD_DMA_RESULT));
    ctx.log(`BAR0 at ${hex(bar0.base)}; DMA of ${TESTDEV_LEN} bytes to ${hex(TESTDEV_BUF)} triggered at ${m.clock.now()} ns`);
  },
  check(ctx) {
    const resultReg = ctx.facts.get('testdevResultReg');
    if (resultReg === undefined) return 'the test device was not found';
    const bus = ctx.machine.bus;
    const result = bus.read32(resultReg);
    const word = bus.read32(TESTDEV_BUF + TESTDEV_LEN - 4);
    ctx.log(`testdev DMA_RESULT ${hex(result)}; last word at the buffer ${hex(word)}`);
    return result === 0 && word === ITD_PATTERN ? undefined : `testdev DMA_RESULT ${hex(result)}, buffer word ${hex(word)}`;
  },
};

export const BUS_ERROR_STEP: DemoStep = {
  title: 'accesses to addresses nothing decodes end in bus errors, recorded and returned',
  start(ctx) {
    const m = ctx.machine;
    const before = m.bus.errorCount;
    const v = m.bus.read32(0x0000_1000);
    const port = new DmaPort(m.bus, 'demo-dma', DEMO_SID);
    const st = port.write32(0x3e00_0000, 0xfeedface); // a hole in the PCIe window, no BAR there
    ctx.log(`read32(0x1000) -> ${hex(v)} with error=${m.bus.error}; DMA to 0x3e000000 -> ${DmaStatus[st]}`);
    ctx.facts.set('busErrors', m.bus.errorCount - before);
  },
  check(ctx) {
    return ctx.facts.get('busErrors') === 2 ? undefined : `expected 2 bus errors, saw ${ctx.facts.get('busErrors')}`;
  },
};

export const BARE_METAL_STEPS: readonly DemoStep[] = [FILL_SOURCE_STEP, DMA_COPY_STEP, TESTDEV_DMA_STEP, BUS_ERROR_STEP];

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
  const excerpt = options.excerptLines ?? 24;
  const filter = options.excerptFilter ?? not(byAddress(soc.pcie.ecam.base, soc.pcie.ecam.base + soc.pcie.ecam.size));
  const shown = [...select(ring, filter)];
  const hidden = ring.total - ring.first - shown.length;
  w(`trace: ${ring.total} records, hash ${ring.hash()}; first ${Math.min(excerpt, shown.length)} of ${shown.length}${hidden > 0 ? ` (${hidden} ECAM configuration accesses not shown)` : ''}:`);
  for (const r of shown.slice(0, excerpt)) w(`  ${formatTraceLine(r)}`);
  w(`virtual time ${machine.clock.now()} ns; host memory for guest RAM: ${formatSize(machine.bus.ram.allocatedBytes)} of ${formatSize(ramSize)}`);
  w(failures.length === 0 ? 'demo: ok' : `demo: FAILED: ${failures.join('; ')}`);
  return { machine, traceHash: ring.hash(), failures };
}
