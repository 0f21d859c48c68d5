// module_platform_driver(arm_smmu_driver): at boot every available "arm,smmu-v3" node of
// the device tree is probed, at arch_initcall level so that the SMMUs are registered
// with the IOMMU core before the PCI host bridge enumerates (device_initcall) and
// of_iommu_configure puts each function behind its SMMU. Importing sva.ts installs the
// SVA domain allocator into the driver.

import { register_initcall, INITCALL_ARCH } from '../../../init/initcall.js';
import { of_device_is_available, of_root, of_property_read_string_array, type DeviceNode } from '../../../of/base.js';
import { gic_irq_of_mapping } from '../../irqchip/irq-gic-v3.js';
import { pr_err } from '../../../lib/printk.js';
import { arm_smmu_device_probe, arm_smmu_reset_state } from './arm-smmu-v3.js';
import './sva.js';

function smmu_nodes(n: DeviceNode, out: DeviceNode[]): DeviceNode[] {
  if ((of_property_read_string_array(n, 'compatible') ?? []).includes('arm,smmu-v3') && of_device_is_available(n)) out.push(n);
  for (const c of n.children) smmu_nodes(c, out);
  return out;
}

/** arm_smmu_driver's probe for each matching node; a failed SMMU leaves its masters untranslated. */
export function arm_smmu_v3_init(): void {
  arm_smmu_reset_state();
  const root = of_root();
  if (root === null) return;
  for (const np of smmu_nodes(root, [])) {
    const r = arm_smmu_device_probe(np, gic_irq_of_mapping);
    if (typeof r === 'number') pr_err(`arm-smmu-v3 ${np.full_name}: probe failed with error ${r}`);
  }
}

register_initcall(INITCALL_ARCH, 'arm_smmu_v3', arm_smmu_v3_init);
