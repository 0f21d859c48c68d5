// Test harness for the hisi_qm/hisi_zip driver on the board: boots the kernel with a
// PID-1 scenario (KernelConfig.initTask) after the initcalls have run, i.e. after the
// PCI core enumerated the ZIP PF, the Huawei quirk ran and hisi_zip probed it through
// the kernel's PCI core, ITS MSIs and DMA API. The driver's PCI/DMA binding is
// wrapped to count live coherent buffers and mappings (leak checks).

import { createMachine } from '../../src/machine/create.js';
import { boot, type BootHandle } from '../../src/machine/boot.js';
import type { Machine } from '../../src/machine/board.js';
import { createKernelImage } from '../../src/kernel/image.js';
import type { ProgramRom } from '../../src/arch/index.js';
import { set_qm_bus, type QmBusOps } from '../../src/kernel/drivers/crypto/hisilicon/qm-bus.js';
import { qm_pci_bus_ops } from '../../src/kernel/drivers/crypto/hisilicon/qm-pci.js';
import { hisi_zip_crypto_reset } from '../../src/kernel/drivers/crypto/hisilicon/zip/zip-crypto.js';
import { hisi_zip_devices, hisi_zip_reset_state, type HisiZip } from '../../src/kernel/drivers/crypto/hisilicon/zip/zip-main.js';
import { zipk_reset_state } from '../../src/kernel/drivers/crypto/hisilicon/zip/zipk.js';
import { userPrograms } from '../../src/user/rom.js';
import { program, type Main } from '../../src/user/libc/crt0.js';
import { zipkMain } from '../../src/user/bin/zipk.js';
import { buildImage, execStub } from '../../tools/mkimage/build.js';
import type { Libc } from '../../src/user/libc/libc.js';
import { TraceKind } from '../../src/trace/record.js';
import { userOutput } from '../support/kernel-boot.js';

/**
 * IOMMU mode of the booted kernel. 'translated' (the default, as on Linux) gives the
 * ZIP PF a DMA domain: every SQE/SGL/buffer/ring DMA and the MSI write to the ITS
 * doorbell (mapped in the domain's SW_MSI window) goes through the SMMU's stage-1
 * walk and IOTLB. 'passthrough' boots with iommu.passthrough=1 on the command line
 * (identity default domains, bypass STEs).
 */
export type IommuMode = 'passthrough' | 'translated';

/** The default command line of the tree plus iommu.passthrough=1 when asked for. */
export function zipBootArgs(args: string | undefined, mode: IommuMode | undefined): string | undefined {
  if (mode !== 'passthrough') return args;
  return `${args ?? 'console=ttyAMA0 earlycon'} iommu.passthrough=1`;
}

/** StreamID of the ZIP PF: its requester ID, bus 0 device 1 function 0 (iommu-map is identity). */
export const ZIP_SID = 0x0008;
/** IHI 0070 7.3.3: event number of F_TRANSLATION. */
export const EVT_F_TRANSLATION = 0x10;

/** What the SMMU did for the ZIP PF while a `zipk` process was running (trace records). */
export interface ZipTranslationCounts {
  iotlbHit: number;
  iotlbMiss: number;
  /** Stage-1 walks with the ZIP's StreamID. */
  walks: number;
  /** Records of any kind carrying the ZIP's StreamID with a fault (Fault/Event/Stall). */
  faults: number;
  /** F_TRANSLATION events for any stream, over the whole run. */
  fTranslation: number;
}

/**
 * Subscribes to the machine's trace and counts the SMMU's records for ZIP_SID while
 * `active()` is true, plus every F_TRANSLATION event of the run.
 */
export function countZipTranslation(machine: Machine, active: () => boolean): ZipTranslationCounts {
  const n: ZipTranslationCounts = { iotlbHit: 0, iotlbMiss: 0, walks: 0, faults: 0, fTranslation: 0 };
  machine.trace.subscribe((ring, i) => {
    const kind = ring.kindAt(i);
    if (kind !== TraceKind.IotlbHit && kind !== TraceKind.IotlbMiss && kind !== TraceKind.Walk && kind !== TraceKind.Fault && kind !== TraceKind.Event && kind !== TraceKind.Stall) return;
    const r = ring.at(i);
    if (r.initiator !== machine.smmu.name) return;
    if (kind === TraceKind.Event && r.aux === EVT_F_TRANSLATION) n.fTranslation++;
    if (r.sid !== ZIP_SID || !active()) return;
    if (kind === TraceKind.IotlbHit) n.iotlbHit++;
    else if (kind === TraceKind.IotlbMiss) n.iotlbMiss++;
    else if (kind === TraceKind.Walk) n.walks++;
    else n.faults++;
  });
  return n;
}

export interface HarnessStats {
  coherentLive: number;
  mapped: number;
  resets: number;
}

/** qm_pci_bus_ops with counters. */
export function countingBusOps(stats: HarnessStats): QmBusOps {
  const k = qm_pci_bus_ops;
  return {
    ...k,
    dma_alloc_coherent(dev, size) {
      const m = k.dma_alloc_coherent(dev, size);
      if (m !== null) stats.coherentLive++;
      return m;
    },
    dma_free_coherent(dev, mem) {
      stats.coherentLive--;
      k.dma_free_coherent(dev, mem);
    },
    dma_map_single(dev, pa, size, dir) {
      stats.mapped++;
      return k.dma_map_single(dev, pa, size, dir);
    },
    dma_unmap_single(dev, dma, size, dir) {
      stats.mapped--;
      k.dma_unmap_single(dev, dma, size, dir);
    },
    pci_reset_function(p) {
      stats.resets++;
      return k.pci_reset_function(p);
    },
  };
}

export interface ZipBoot {
  machine: Machine;
  handle: BootHandle;
  stats: HarnessStats;
  code: number | undefined;
}

export interface ZipBootOptions {
  args?: string;
  rom?: ProgramRom;
  initramfs?: Uint8Array;
  ramSize?: number;
  /** Runs after probe in PID 1 (kernel context); its return value is the poweroff code. */
  scenario?: (zip: HisiZip) => Generator<unknown, number | void, unknown>;
  limitNs?: number;
  /** Called once the machine exists (before boot), e.g. to arm injections. */
  setup?: (m: Machine) => void;
  iommu?: IommuMode;
}

/** Boots the kernel, probes hisi_zip through the harness binding, runs the scenario. */
export function bootZip(o: ZipBootOptions = {}): ZipBoot {
  const machine = createMachine(o.ramSize !== undefined ? { ramSize: o.ramSize } : {});
  o.setup?.(machine);
  const args = zipBootArgs(o.args, o.iommu);
  const stats: HarnessStats = { coherentLive: 0, mapped: 0, resets: 0 };
  hisi_zip_reset_state();
  hisi_zip_crypto_reset();
  zipk_reset_state();
  set_qm_bus(countingBusOps(stats));
  const kernel = createKernelImage({
    initTask: function* () {
      const zip = hisi_zip_devices()[0];
      if (zip === undefined) return 99;
      if (o.scenario) return yield* o.scenario(zip);
      return 0;
    },
  });
  const handle = boot(machine, { kernel, rom: o.rom ?? new Map(), ...(args !== undefined ? { args } : {}), ...(o.initramfs ? { initramfs: o.initramfs } : {}) });
  const code = handle.runToPoweroff(o.limitNs ?? 60e9);
  return { machine, handle, stats, code };
}

export interface ZipUserRun {
  machine: Machine;
  code: number | undefined;
  /** User-space console lines (kernel lines removed). */
  out: string;
  console: string;
  /** Files the script handed to the host with `capture FILE...`. */
  captured: Map<string, Uint8Array>;
  stats: HarnessStats;
  /** SMMU records for the ZIP PF while zipk ran (only with `countTranslation`). */
  translation?: ZipTranslationCounts;
}

/**
 * Boots an initramfs with `files` and runs `script` as /init's workload (sh). The ROM
 * has the standard programs, `zipk`, and a test-only `capture FILE...` that copies
 * guest files to the host for cross-checking.
 */
export function runZipUser(o: { files: Record<string, Uint8Array>; script: string[]; args?: string; ramSize?: number; limitNs?: number; setup?: (m: Machine) => void; iommu?: IommuMode; countTranslation?: boolean }): ZipUserRun {
  const machine = createMachine({ ramSize: o.ramSize ?? 1024 * 1024 * 1024 });
  o.setup?.(machine);
  let zipkRunning = 0;
  const translation = o.countTranslation ? countZipTranslation(machine, () => zipkRunning > 0) : undefined;
  const zipkCounted: Main = function* (c: Libc, argv: string[]) {
    zipkRunning++;
    try {
      return yield* zipkMain(c, argv);
    } finally {
      zipkRunning--;
    }
  };
  const args = zipBootArgs(o.args, o.iommu);
  const stats: HarnessStats = { coherentLive: 0, mapped: 0, resets: 0 };
  hisi_zip_reset_state();
  hisi_zip_crypto_reset();
  zipk_reset_state();
  set_qm_bus(countingBusOps(stats));
  const captured = new Map<string, Uint8Array>();
  const captureMain: Main = function* (c: Libc, argv: string[]) {
    for (const f of argv.slice(1)) {
      const d = yield* c.readFile(f);
      if (typeof d === 'number') {
        yield* c.perror(f, d);
        return 1;
      }
      captured.set(f, d.slice());
    }
    return 0;
  };
  const rom = new Map(userPrograms);
  rom.set('zipk', program(zipkCounted));
  rom.set('capture', program(captureMain));
  const extra: Record<string, string | Uint8Array> = { '/bin/zipk': execStub('zipk'), '/bin/capture': execStub('capture') };
  for (const [k, v] of Object.entries(o.files)) extra[k] = v;
  const initramfs = buildImage(undefined, { extraFiles: extra, script: o.script.join('\n') + '\n' });
  const h = boot(machine, { kernel: createKernelImage({}), rom, initramfs, ...(args !== undefined ? { args } : {}) });
  const code = h.runToPoweroff(o.limitNs ?? 600e9);
  const con = h.console.replace(/\r\n/g, '\n');
  const out = userOutput(con);
  return { machine, code, out, console: con, captured, stats, ...(translation ? { translation } : {}) };
}

/** Deterministic test data: text-like runs mixed with xorshift noise (compressible, not trivially). */
export function zipSample(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  const words = new TextEncoder().encode('queue manager doorbell mailbox phase completion stream window ');
  for (let i = 0; i < n; ) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const run = 16 + ((x >>> 0) % 200);
    if ((x & 3) === 0) for (let k = 0; k < run && i < n; k++) b[i++] = (x >>> (k & 15)) & 0xff;
    else for (let k = 0; k < run && i < n; k++) b[i++] = words[(k + (x & 31)) % words.length]!;
  }
  return b;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
