// Test harness for the hisi_qm/hisi_zip driver on the real board and kernel, until
// the kernel's PCI core and DMA API exist: it binds the driver's QmBusOps
// (qm-bus.ts) to
//   - config space through ECAM with physical loads/stores (what the PCI core does),
//   - MSI through a GICv2m-style frame the test maps on the bus (MSI_SETSPI_NS at
//     +0x40: the written data is the SPI's INTID), since the ITS driver is not there,
//   - coherent DMA from the page allocator with DMA address = PA (no SMMU on the board),
//   - pci_reset_function as save config / FLR / restore.
// The kernel runs the scenario as PID 1 (KernelConfig.initTask).

import { createMachine } from '../../src/machine/create.js';
import { boot, type BootHandle } from '../../src/machine/boot.js';
import { ZIP_BDF, type Machine } from '../../src/machine/board.js';
import { createKernelImage } from '../../src/kernel/image.js';
import type { AccessSize, MmioAccess, MmioDevice } from '../../src/hw/bus/mmio.js';
import { thisCpu } from '../../src/arch/index.js';
import { irq_create_mapping, irq_to_desc } from '../../src/kernel/irq/irqdesc.js';
import { gic_domain } from '../../src/kernel/drivers/irqchip/irq-gic-v3.js';
import { alloc_pages, __free_pages } from '../../src/kernel/mm/page_alloc.js';
import { GFP_KERNEL, __GFP_ZERO } from '../../src/kernel/mm/gfp.js';
import { set_qm_bus, type DmaCoherent, type HisiPciDev, type QmBusOps } from '../../src/kernel/drivers/crypto/hisilicon/qm-bus.js';
import { hisi_zip_crypto_reset } from '../../src/kernel/drivers/crypto/hisilicon/zip/zip-crypto.js';
import { hisi_zip_probe, hisi_zip_reset_state } from '../../src/kernel/drivers/crypto/hisilicon/zip/zip-main.js';
import { zipk_reset_state } from '../../src/kernel/drivers/crypto/hisilicon/zip/zipk.js';
import { pci_fixup_device_final } from '../../src/kernel/drivers/pci/quirks-huawei.js';
import type { ProgramRom } from '../../src/arch/index.js';

export const V2M_FRAME = 0x0c00_0000;
export const V2M_SETSPI = 0x40;
/** INTIDs 96..99 carry the ZIP's four MSI vectors (aligned to 4 for multi-message MSI). */
export const ZIP_MSI_INTID_BASE = 96;

class V2mFrame implements MmioDevice {
  readonly name = 'gicv2m-frame';
  constructor(private readonly m: Machine) {}
  mmioRead(_o: number, _s: AccessSize, acc: MmioAccess): void {
    acc.lo = 0;
    acc.hi = 0;
  }
  mmioWrite(o: number, _s: AccessSize, acc: MmioAccess): void {
    if (o !== V2M_SETSPI) return;
    const intid = acc.lo >>> 0;
    if (intid >= 32 && intid < 32 + 256) this.m.gic.spi(intid - 32).pulse();
  }
}

export class TestPciDev implements HisiPciDev {
  readonly name = '0000:00:01.0';
  readonly vendor: number;
  readonly device: number;
  readonly revision: number;
  readonly dev = { name: '0000:00:01.0' };
  readonly properties = new Map<string, number | boolean>();
  pasid_no_tlp?: boolean;
  constructor(readonly cfgBase: number) {
    const cpu = thisCpu();
    const id = cpu.ldPhys32(cfgBase);
    this.vendor = id & 0xffff;
    this.device = id >>> 16;
    this.revision = cpu.ldPhys32(cfgBase + 8) & 0xff;
  }
}

function findCap(pdev: TestPciDev, id: number): number {
  const cpu = thisCpu();
  let pos = cpu.ldPhys32(pdev.cfgBase + 0x34) & 0xfc;
  while (pos !== 0) {
    const h = cpu.ldPhys32(pdev.cfgBase + pos);
    if ((h & 0xff) === id) return pos;
    pos = (h >>> 8) & 0xfc;
  }
  return 0;
}

export interface HarnessStats {
  coherentLive: number;
  mapped: number;
  resets: number;
}

export function testBusOps(stats: HarnessStats): QmBusOps {
  const cfg = (p: HisiPciDev) => (p as TestPciDev).cfgBase;
  const setCmd = (p: HisiPciDev, bits: number, on: boolean): void => {
    const cpu = thisCpu();
    const v = cpu.ldPhys32(cfg(p) + 4) & 0xffff;
    cpu.stPhys32(cfg(p) + 4, on ? v | bits : v & ~bits);
  };
  return {
    pci_enable_device_mem: (p) => (setCmd(p, 1 << 1, true), 0),
    pci_disable_device: (p) => setCmd(p, 1 << 1, false),
    pci_set_master: (p) => setCmd(p, 1 << 2, true),
    pci_clear_master: (p) => setCmd(p, 1 << 2, false),
    pci_resource_start(p, bar) {
      const cpu = thisCpu();
      const lo = cpu.ldPhys32(cfg(p) + 0x10 + bar * 4);
      const hi = (lo & 0x6) === 0x4 ? cpu.ldPhys32(cfg(p) + 0x14 + bar * 4) : 0;
      return hi * 2 ** 32 + (lo & ~0xf) >>> 0;
    },
    pci_resource_len: () => 0x40_0000,
    pci_alloc_irq_vectors(p, min, max) {
      const cap = findCap(p as TestPciDev, 0x05);
      if (cap === 0) return -22;
      const cpu = thisCpu();
      const ctl = cpu.ldPhys32(cfg(p) + cap) >>> 16;
      const mmc = 1 << ((ctl >>> 1) & 7);
      const n = Math.min(max, mmc);
      if (n < min) return -28;
      cpu.stPhys32(cfg(p) + cap + 4, V2M_FRAME + V2M_SETSPI);
      cpu.stPhys32(cfg(p) + cap + 8, 0);
      cpu.stPhys32(cfg(p) + cap + 0xc, ZIP_MSI_INTID_BASE);
      const mme = Math.log2(n);
      cpu.stPhys32(cfg(p) + cap, (((ctl & ~(7 << 4)) | (mme << 4) | 1) << 16) | (cpu.ldPhys32(cfg(p) + cap) & 0xffff));
      for (let i = 0; i < n; i++) {
        const irq = irq_create_mapping(gic_domain(), ZIP_MSI_INTID_BASE + i);
        const d = irq_to_desc(irq)!;
        d.chip.irq_set_type?.(d, 1);
      }
      return n;
    },
    pci_irq_vector: (_p, nr) => irq_create_mapping(gic_domain(), ZIP_MSI_INTID_BASE + nr),
    pci_free_irq_vectors(p) {
      const cap = findCap(p as TestPciDev, 0x05);
      const cpu = thisCpu();
      if (cap !== 0) cpu.stPhys32(cfg(p) + cap, cpu.ldPhys32(cfg(p) + cap) & ~(1 << 16));
    },
    pci_read_config_dword: (p, where) => thisCpu().ldPhys32(cfg(p) + where) >>> 0,
    pci_write_config_dword: (p, where, v) => thisCpu().stPhys32(cfg(p) + where, v),
    dma_alloc_coherent(_dev, size): DmaCoherent | null {
      const order = Math.max(0, Math.ceil(Math.log2(Math.ceil(size / 4096))));
      const pfn = alloc_pages(order, GFP_KERNEL | __GFP_ZERO);
      if (pfn < 0) return null;
      stats.coherentLive++;
      return { cpu: pfn * 4096, dma: pfn * 4096, size };
    },
    dma_free_coherent(_dev, mem) {
      const order = Math.max(0, Math.ceil(Math.log2(Math.ceil(mem.size / 4096))));
      __free_pages(mem.cpu / 4096, order);
      stats.coherentLive--;
    },
    dma_map_single: (_d, pa) => (stats.mapped++, pa),
    dma_unmap_single: () => void stats.mapped--,
    pci_reset_function(p) {
      const cpu = thisCpu();
      const base = cfg(p);
      const saved: number[] = [];
      for (let o = 0; o < 0x40; o += 4) saved.push(cpu.ldPhys32(base + o));
      const msi = findCap(p as TestPciDev, 0x05);
      const msiSaved: number[] = [];
      for (let o = 0; o < 0x18; o += 4) msiSaved.push(cpu.ldPhys32(base + msi + o));
      const exp = findCap(p as TestPciDev, 0x10);
      if (exp === 0) return -25;
      cpu.stPhys32(base + exp + 8, cpu.ldPhys32(base + exp + 8) | (1 << 15));
      cpu.charge(100_000); // PCIe: wait 100 ms after FLR; the model is ready at once
      for (let o = 0x10; o < 0x40; o += 4) cpu.stPhys32(base + o, saved[o / 4]!);
      for (let o = 4; o < 0x18; o += 4) cpu.stPhys32(base + msi + o, msiSaved[o / 4]!);
      cpu.stPhys32(base + msi, msiSaved[0]!);
      cpu.stPhys32(base + 4, saved[1]! & 0xffff);
      stats.resets++;
      return 0;
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
  scenario?: (pdev: TestPciDev) => Generator<unknown, number | void, unknown>;
  /** Run /init from the initramfs after probing instead of a kernel scenario. */
  execInit?: boolean;
  limitNs?: number;
  /** Called once the machine exists (before boot), e.g. to arm injections. */
  setup?: (m: Machine) => void;
}

/** The ZIP function's config space in ECAM. */
export function zipCfgBase(m: Machine): number {
  return m.soc.pcie.ecam.base + ((ZIP_BDF.bus << 20) | (ZIP_BDF.device << 15) | (ZIP_BDF.function << 12));
}

/** Boots the kernel, probes hisi_zip through the harness binding, runs the scenario. */
export function bootZip(o: ZipBootOptions = {}): ZipBoot {
  const machine = createMachine(o.ramSize !== undefined ? { ramSize: o.ramSize } : {});
  machine.bus.map('gicv2m-frame', V2M_FRAME, 0x1000, new V2mFrame(machine));
  o.setup?.(machine);
  const stats: HarnessStats = { coherentLive: 0, mapped: 0, resets: 0 };
  hisi_zip_reset_state();
  hisi_zip_crypto_reset();
  zipk_reset_state();
  set_qm_bus(testBusOps(stats));
  const cfg = zipCfgBase(machine);
  const kernel = createKernelImage({
    initTask: function* () {
      const pdev = new TestPciDev(cfg);
      pci_fixup_device_final(pdev);
      const r = yield* hisi_zip_probe(pdev);
      if (r < 0) return 100 + -r;
      if (o.scenario) return yield* o.scenario(pdev);
      return 0;
    },
  });
  const handle = boot(machine, { kernel, rom: o.rom ?? new Map(), ...(o.args !== undefined ? { args: o.args } : {}), ...(o.initramfs ? { initramfs: o.initramfs } : {}) });
  const code = handle.runToPoweroff(o.limitNs ?? 60e9);
  return { machine, handle, stats, code };
}
