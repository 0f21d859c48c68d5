import { describe, it, expect } from 'vitest';
import { fdt_unflatten } from '../../src/kernel/of/fdt.js';
import {
  of_set_root,
  of_find_compatible_node,
  of_find_node_by_path,
  of_reg,
  of_irq_parse_one,
  of_map_id,
  of_property_read_string,
  of_property_read_u32,
} from '../../src/kernel/of/base.js';
import { buildSocTree } from '../../src/machine/soc.js';
import { writeDtb } from '../../src/machine/fdt/dtb-writer.js';

function liveTree() {
  const blob = writeDtb(buildSocTree({ ramSize: 512 * 1024 * 1024, cpus: 4 }));
  const r = fdt_unflatten(blob);
  if (typeof r === 'string') throw new Error(r);
  of_set_root(r.root);
  return r;
}

describe('kernel FDT parser (devicetree spec v0.4 chapter 5)', () => {
  it('parses the SoC DTB: model, memory reg with 2+2 cells, 4 cpu nodes', () => {
    const r = liveTree();
    expect(r.header.version).toBe(17);
    expect(of_property_read_string(r.root, 'model')).toBe('svasoc virt');
    const mem = of_find_node_by_path('/memory@40000000')!;
    expect(of_reg(mem)).toEqual([{ start: 0x4000_0000, end: 0x4000_0000 + 512 * 1024 * 1024 - 1, name: 'memory@40000000' }]);
    expect(of_find_node_by_path('/cpus')!.children.filter((c) => c.name === 'cpu')).toHaveLength(4);
  });

  it('resolves interrupts through interrupt-parent with #interrupt-cells = 3 (GIC binding)', () => {
    liveTree();
    const uart = of_find_compatible_node(null, 'arm,pl011')!;
    const spec = of_irq_parse_one(uart, 0)!;
    expect(spec.np.name).toBe('intc');
    expect(spec.args).toEqual([0, 1, 4]);
    const timer = of_find_compatible_node(null, 'arm,armv8-timer')!;
    expect(of_irq_parse_one(timer, 2)!.args).toEqual([1, 11, 4]);
  });

  it('maps a requester ID through iommu-map and msi-map (identity on this SoC)', () => {
    liveTree();
    const pcie = of_find_compatible_node(null, 'pci-host-ecam-generic')!;
    const smmu = of_map_id(pcie, 0x0008, 'iommu-map')!;
    expect(smmu.target.name).toBe('smmuv3');
    expect(smmu.id).toBe(0x0008);
    const its = of_map_id(pcie, 0x0010, 'msi-map')!;
    expect(of_property_read_u32(its.target, '#msi-cells')).toBe(1);
    expect(its.id).toBe(0x0010);
    expect(of_map_id(pcie, 0x10000, 'iommu-map')).toBeUndefined();
  });

  it('rejects a blob with a bad magic or a truncated structure block instead of throwing', () => {
    const blob = writeDtb(buildSocTree({ ramSize: 1 << 30, cpus: 1 }));
    const bad = blob.slice();
    bad[0] = 0;
    expect(fdt_unflatten(bad)).toMatch(/bad FDT magic/);
    expect(typeof fdt_unflatten(blob.subarray(0, 100))).toBe('string');
  });
});
