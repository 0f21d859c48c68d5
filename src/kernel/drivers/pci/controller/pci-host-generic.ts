// Generic ECAM host bridge (drivers/pci/controller/pci-host-generic.c, ecam.c): the
// "pci-host-ecam-generic" DT node gives the ECAM window (reg), the bus range and the
// memory window (ranges); enumeration scans every devfn of the buses in range. Its
// `iommu-map`/`msi-map` tell the IOMMU and MSI layers each device's StreamID/DeviceID.

import { Device, device_register } from '../../base/core.js';
import { of_find_compatible_node, of_map_id, of_property_read_u32_array, of_reg, type DeviceNode } from '../../../of/base.js';
import { pr_info } from '../../../lib/printk.js';
import { insert_iomem } from '../../../fs/proc/generic.js';
import { IORESOURCE_MEM, IORESOURCE_MEM_64, IORESOURCE_PREFETCH, pci_add_resource_offset, pci_bus_add_device, pci_core_init, pci_scan_device, pci_set_mem_window, type PciDev, type PciOps } from '../pci.js';
import { device_initcall, subsys_initcall } from '../../../init/initcall.js';
import { of_iommu_configure } from '../../iommu/of-iommu.js';

export interface PciHostBridge {
  readonly node: DeviceNode;
  readonly ecam: number;
  readonly busStart: number;
  readonly busEnd: number;
  readonly dev: Device;
  readonly ops: PciOps;
}

let bridge: PciHostBridge | null = null;

export function pci_host_bridge(): PciHostBridge | null {
  return bridge;
}

/** of_map_id through the bridge's iommu-map: (IOMMU node, StreamID) of a device. */
export function pci_iommu_map(d: PciDev): { target: DeviceNode; id: number } | undefined {
  return bridge ? of_map_id(bridge.node, d.devid, 'iommu-map') : undefined;
}

/** ... and msi-map: (MSI controller node, DeviceID). */
export function pci_msi_map(d: PciDev): { target: DeviceNode; id: number } | undefined {
  return bridge ? of_map_id(bridge.node, d.devid, 'msi-map') : undefined;
}

function* pci_host_common_probe(): Generator<unknown, number, unknown> {
  bridge = null;
  const np = of_find_compatible_node(null, 'pci-host-ecam-generic');
  if (np === undefined) return 0;
  const reg = of_reg(np)[0];
  if (reg === undefined) return 0;
  const range = of_property_read_u32_array(np, 'bus-range') ?? [0, 0xff];
  const busStart = range[0] ?? 0;
  const busEnd = Math.min(range[1] ?? 0xff, busStart + Math.floor((reg.end - reg.start + 1) / (1 << 20)) - 1);
  // ranges: <flags(1) pci-addr(2) cpu-addr(2) size(2)> with #address-cells 3 on the bus side.
  const ranges = of_property_read_u32_array(np, 'ranges') ?? [];
  for (let i = 0; i + 7 <= ranges.length; i += 7) {
    const hi = ranges[i]!;
    const space = (hi >>> 24) & 3;
    const pciAddr = ranges[i + 1]! * 4294967296 + ranges[i + 2]!;
    const cpuAddr = ranges[i + 3]! * 4294967296 + ranges[i + 4]!;
    const size = ranges[i + 5]! * 4294967296 + ranges[i + 6]!;
    if (space === 2 || space === 3) {
      // of_pci_range_to_resource + pci_add_resource_offset: the window on the bridge (phys.hi bit 30: prefetchable)
      const flags = IORESOURCE_MEM | (space === 3 ? IORESOURCE_MEM_64 : 0) | (hi & 0x40000000 ? IORESOURCE_PREFETCH : 0);
      pci_add_resource_offset(cpuAddr, cpuAddr + size - 1, flags, cpuAddr - pciAddr);
      // devm_request_pci_bus_resources: the window in /proc/iomem, named after the node
      insert_iomem({ start: cpuAddr, end: cpuAddr + size - 1, name: np.full_name });
      pci_set_mem_window(cpuAddr, cpuAddr + size - 1, np.full_name);
      pr_info(`pci-host-generic ${np.full_name.replace(/^[^@]*@/, '')}.pcie:   MEM 0x${cpuAddr.toString(16).padStart(10, '0')}..0x${(cpuAddr + size - 1).toString(16).padStart(10, '0')} -> 0x${pciAddr.toString(16).padStart(10, '0')}`);
    }
  }
  const ecam = reg.start;
  const ops: PciOps = { map_bus: (bus, devfn, where) => ecam + ((bus - busStart) << 20) + (devfn << 12) + where };
  pr_info(`pci-host-generic ${np.full_name.replace(/^[^@]*@/, '')}.pcie: ECAM at [mem 0x${ecam.toString(16)}-0x${reg.end.toString(16)}] for [bus ${busStart.toString(16).padStart(2, '0')}-${busEnd.toString(16).padStart(2, '0')}]`);
  const host = new Device('pci0000:00');
  yield* device_register(host);
  bridge = { node: np, ecam, busStart, busEnd, dev: host, ops };
  pr_info('PCI host bridge to bus 0000:00');
  const found: PciDev[] = [];
  for (let bus = busStart; bus <= busEnd; bus++) {
    for (let devfn = 0; devfn < 256; devfn++) {
      const d = yield* pci_scan_device(ops, 0, bus, devfn, host);
      if (d === undefined) {
        if ((devfn & 7) === 0) devfn += 7; // no function 0: skip the slot
        continue;
      }
      found.push(d);
      if ((devfn & 7) === 0 && !(d.hdr_type & 0x80)) devfn += 7; // single-function device
    }
  }
  for (const d of found) {
    of_iommu_configure(d, pci_iommu_map(d));
    yield* pci_bus_add_device(d);
  }
  return 0;
}

subsys_initcall('pci_core_init', () => {
  pci_core_init();
});
device_initcall('pci_host_generic', pci_host_common_probe);
