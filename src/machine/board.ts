// The board: wires the SoC's devices onto the bus as firmware/soc.dts describes them,
// like a schematic. Addresses, interrupt numbers and the PCIe ID maps all come from
// the device tree; the PCI functions sit at fixed slots of the root bus.

import { MachineCore, type MachineOptions } from './machine.js';
import { buildSocTree, describeSoc, type MemoryMapRow, type SocDescription } from './soc.js';
import type { DeviceTree } from './fdt/tree.js';
import { writeDtb } from './fdt/dtb-writer.js';
import { Cluster } from '../hw/cpu/cluster.js';
import type { Core } from '../hw/cpu/core.js';
import { Gic } from '../hw/gic/gic.js';
import { Pl011 } from '../hw/uart/pl011.js';
import { PcieHostBridge, type Bdf } from '../hw/pcie/host-bridge.js';
import { IommuTestDev } from '../hw/testdev/iommu-testdev.js';
import { HisiZip } from '../hw/zip/hisi-zip.js';
import { SmmuV3 } from '../hw/smmuv3/smmuv3.js';

/** Root-bus slots of the PCI functions (DESIGN.md section 6). */
export const ZIP_BDF: Bdf = { bus: 0, device: 1, function: 0 };
export const TESTDEV_BDF: Bdf = { bus: 0, device: 2, function: 0 };

export interface BoardOptions extends MachineOptions {
  /** Where UART output goes besides the capture buffer (e.g. process.stdout.write). */
  consoleSink?: (text: string) => void;
}

/** Console output captured from the PL011 transmitter. */
export class ConsoleCapture {
  private chunks: string[] = [];
  private decoder = new TextDecoder();
  private pending: number[] = [];
  constructor(private readonly sink?: (text: string) => void) {}

  /** Called per transmitted byte. */
  byte(b: number): void {
    this.pending.push(b);
    if (b === 0x0a || this.pending.length >= 256) this.flush();
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const text = this.decoder.decode(new Uint8Array(this.pending), { stream: true });
    this.pending = [];
    this.chunks.push(text);
    this.sink?.(text);
  }

  /** Everything transmitted so far. */
  get text(): string {
    this.flush();
    if (this.chunks.length > 1) this.chunks = [this.chunks.join('')];
    return this.chunks[0] ?? '';
  }
}

export class Machine extends MachineCore {
  readonly soc: SocDescription;
  /** The device tree this machine hands its firmware (RAM size and CPU count patched in). */
  readonly deviceTree: DeviceTree;
  readonly memoryMap: readonly MemoryMapRow[];
  readonly cluster: Cluster;
  readonly gic: Gic;
  readonly uart: Pl011;
  readonly console: ConsoleCapture;
  readonly smmu: SmmuV3;
  readonly pcie: PcieHostBridge;
  readonly testdev: IommuTestDev;
  readonly zip: HisiZip;

  constructor(options: BoardOptions = {}) {
    super(options);
    const cpus = options.cpus ?? 2;
    this.deviceTree = buildSocTree({ ramSize: this.ramSize, cpus });
    const soc = describeSoc(this.deviceTree);
    this.soc = soc;
    this.memoryMap = soc.memoryMap;

    this.cluster = new Cluster(this, cpus, {
      onSystemOff: () => this.console.flush(),
    });

    this.gic = new Gic(this, { cores: cpus });
    this.gic.mapOn(this.bus, { gicd: soc.gic.gicd.base, gits: soc.gic.its.base, gicr: soc.gic.gicr.base });
    this.cluster.cores.forEach((core, i) => core.attachGic(this.gic.cpuInterface(i)));

    this.console = new ConsoleCapture(options.consoleSink);
    this.uart = new Pl011(this, { irq: this.gic.spi(soc.uart.irq.number), onTx: (b) => this.console.byte(b) });
    this.uart.mapOn(this.bus, soc.uart.base);

    const irqs = soc.smmu.irqs;
    this.smmu = new SmmuV3(this, {
      eventq: this.gic.spi(irqs.eventq.number),
      priq: this.gic.spi(irqs.priq.number),
      cmdqSync: this.gic.spi(irqs['cmdq-sync'].number),
      gerror: this.gic.spi(irqs.gerror.number),
      // IDR0.SEV: the SMMU's WFE wake-up event reaches every core (CMD_SYNC CS=SEV, CMDQ no longer full)
      sev: () => this.cluster.sendEvent(),
    });
    this.smmu.mapOn(this.bus, soc.smmu.base);

    const map = soc.pcie.iommuMap;
    this.pcie = new PcieHostBridge(this, {
      ecamBase: soc.pcie.ecam.base,
      ecamBuses: soc.pcie.busRange.last + 1,
      mmioBase: soc.pcie.mmioWindow.base,
      mmioSize: soc.pcie.mmioWindow.size,
      iommuMap: [{ ridBase: map.ridBase, sidBase: map.outBase, length: map.length }],
    });
    this.pcie.mapOn(this.bus);

    this.zip = new HisiZip(this);
    this.zip.attach(this.pcie, ZIP_BDF);
    this.testdev = new IommuTestDev(this);
    this.pcie.attach(this.testdev.fn, TESTDEV_BDF);
    // iommu-map puts every PCI requester behind the SMMU.
    for (const port of this.pcie.ports()) this.smmu.attach(port);
  }

  /** The CPU cores (also in `cores`, the run loop's list). */
  get cpus(): readonly Core[] {
    return this.cluster.cores;
  }

  /** The DTB of this machine (FDT v17), as the firmware stage places it in RAM. */
  dtb(tree: DeviceTree = this.deviceTree): Uint8Array {
    return writeDtb(tree);
  }
}
