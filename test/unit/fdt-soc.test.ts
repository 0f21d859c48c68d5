import { describe, expect, it } from 'vitest';
import { parseDts } from '../../src/machine/fdt/dts-parser.js';
import { buildSocTree, describeSoc, loadSocDescription, loadSocTree } from '../../src/machine/soc.js';

const MiB = 1 << 20;
const GiB = 1 << 30;

describe('SoC description from firmware/soc.dts (DESIGN.md section 6, QEMU virt memory map)', () => {
  const soc = loadSocDescription();

  it('memory map rows match the design table and do not overlap', () => {
    expect(soc.memoryMap.map((r) => [r.region, r.base, r.size])).toEqual([
      ['gic-distributor', 0x0800_0000, 0x1_0000],
      ['gic-its', 0x0808_0000, 0x2_0000],
      ['gic-redistributors', 0x080a_0000, 0xf6_0000],
      ['uart-pl011', 0x0900_0000, 0x1000],
      ['smmuv3', 0x0905_0000, 0x2_0000],
      ['pcie-mmio', 0x1000_0000, 0x2eff_0000],
      ['pcie-ecam', 0x3f00_0000, 0x100_0000],
      ['ram', 0x4000_0000, GiB],
    ]);
    // the GIC regions together fill the 0x0800_0000 + 0x0200_0000 block of the design
    const gic = soc.memoryMap.filter((r) => r.region.startsWith('gic'));
    expect(gic.every((r) => r.base >= 0x0800_0000 && r.base + r.size <= 0x0a00_0000)).toBe(true);
  });

  it('SMMU interrupts are SPIs 74-77, edge rising, found by interrupt-names', () => {
    expect(soc.smmu.irqs.eventq).toEqual({ type: 'spi', number: 74, intid: 106, trigger: 'edge-rising' });
    expect([soc.smmu.irqs.priq.number, soc.smmu.irqs['cmdq-sync'].number, soc.smmu.irqs.gerror.number]).toEqual([75, 76, 77]);
  });

  it('timer PPIs are 13, 14, 11, 10 (INTIDs 29, 30, 27, 26), level high', () => {
    expect([soc.timer.secure, soc.timer.nonSecure, soc.timer.virtual, soc.timer.hypervisor].map((i) => i.intid)).toEqual([29, 30, 27, 26]);
    expect(soc.timer.nonSecure.trigger).toBe('level-high');
  });

  it('UART is SPI 1 level high with a 24 MHz APB clock; PSCI uses SMC; two CPUs by default', () => {
    expect(soc.uart.irq).toEqual({ type: 'spi', number: 1, intid: 33, trigger: 'level-high' });
    expect(soc.uart.clockHz).toBe(24_000_000);
    expect(soc.psci.method).toBe('smc');
    expect(soc.cpus.map((c) => [c.mpidr, c.enableMethod])).toEqual([
      [0, 'psci'],
      [1, 'psci'],
    ]);
    expect(soc.chosen.stdoutPath).toBe('/pl011@9000000');
  });

  it('PCIe: ECAM for buses 0-15, identity iommu-map to the SMMU and msi-map to the ITS', () => {
    expect(soc.pcie.busRange).toEqual({ first: 0, last: 15 });
    expect(soc.pcie.ecam.size).toBe(16 * MiB);
    expect(soc.pcie.iommuMap).toEqual({ ridBase: 0, outBase: 0, length: 0x10000, target: '/smmuv3@9050000' });
    expect(soc.pcie.msiMap).toEqual({ ridBase: 0, outBase: 0, length: 0x10000, target: '/intc@8000000/its@8080000' });
    expect(soc.pcie.mmioWindow).toEqual({ base: 0x1000_0000, size: 0x2eff_0000, pciBase: 0x1000_0000 });
  });

  it('is parsed once: repeated loads return the cached description, trees are independent copies', () => {
    expect(loadSocDescription()).toBe(soc);
    const a = loadSocTree();
    a.require('/chosen').removeProp('bootargs');
    expect(loadSocTree().require('/chosen').prop('bootargs')).toBeDefined();
  });

  it('buildSocTree applies RAM size and CPU count', () => {
    const d = describeSoc(buildSocTree({ ramSize: 16 * GiB, cpus: 4 }));
    expect(d.memory).toEqual({ base: 0x4000_0000, size: 16 * GiB });
    expect(d.cpus.length).toBe(4);
    expect(d.memoryMap.at(-1)).toEqual({ region: 'ram', base: 0x4000_0000, size: 16 * GiB, node: '/memory@40000000' });
  });

  it('a source missing a device the board needs is reported by node and property', () => {
    const src = loadSocTree();
    src.require('/smmuv3@9050000').removeProp('interrupt-names');
    expect(() => describeSoc(src)).toThrow(/smmuv3@9050000: interrupt-names has no "eventq"/);
    const noSmmu = parseDts('/dts-v1/; / { #address-cells = <2>; #size-cells = <2>; memory@0 { device_type = "memory"; reg = <0 0 0 0x1000>; }; cpus { cpu@0 { device_type = "cpu"; reg = <0>; }; }; };');
    if (!noSmmu.ok) throw new Error(noSmmu.error);
    expect(() => describeSoc(noSmmu.tree)).toThrow(/compatible with "arm,psci-1.0"/);
  });

  it('PCI ranges: the 32-bit memory window is picked out of I/O and 64-bit entries (IEEE 1275 PCI binding phys.hi ss)', () => {
    const t = loadSocTree();
    const pcie = t.require('/pcie@10000000');
    const ranges = parseDts(
      '/dts-v1/; / { r = <0x01000000 0 0 0 0x3eff0000 0 0x10000>, <0x03000000 0x80 0 0x80 0 0x80 0>, <0x02000000 0 0x20000000 0 0x10000000 0 0x2eff0000>; };',
    );
    if (!ranges.ok) throw new Error(ranges.error);
    pcie.setProp('ranges', ranges.tree.root.prop('r')!.value);
    expect(describeSoc(t).pcie.mmioWindow).toEqual({ base: 0x1000_0000, size: 0x2eff_0000, pciBase: 0x2000_0000 });
    pcie.setProp('ranges', ranges.tree.root.prop('r')!.value.subarray(0, 28 * 2));
    expect(() => describeSoc(t)).toThrow(/ranges has no 32-bit memory window/);
  });

  it('overlapping regions are refused', () => {
    const t = loadSocTree();
    t.require('/smmuv3@9050000').setProp('reg', new Uint8Array([0, 0, 0, 0, 0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0]));
    expect(() => describeSoc(t)).toThrow(/uart-pl011 .* overlaps smmuv3|overlaps/);
  });
});
