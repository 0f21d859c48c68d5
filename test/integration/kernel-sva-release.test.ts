// SVA domains in the arm-smmu-v3 driver's domain bookkeeping: releasing a device
// (arm_smmu_release_device) drops its master from the SVA domains it is attached to,
// as from paging domains, so the mm's notifier no longer writes CDs into the CD table
// freed with the master. The SVA CD's T0SZ is 64 - vabits_actual, the VA size the
// kernel gave the CPU (TCR_EL1.T0SZ), not a fixed 16.

import { describe, expect, it } from 'vitest';
import { thisCpu } from '../../src/arch/index.js';
import { arm_smmu_devices, masterOf, type ArmSmmuDomain } from '../../src/kernel/drivers/iommu/arm-smmu-v3/arm-smmu-v3.js';
import { iommu_get_domain_for_dev_pasid, iommu_release_device } from '../../src/kernel/drivers/iommu/iommu.js';
import { iommu_sva_bind_device, iommu_sva_get_pasid, iommu_sva_unbind_device } from '../../src/kernel/drivers/iommu/iommu-sva.js';
import { current } from '../../src/kernel/sched/core.js';
import { TESTDEV_SID } from './kernel-smmu-harness.js';
import { runMarked } from './kernel-iommu-harness.js';

describe('SVA domains and device release; the SVA CD T0SZ', () => {
  const got: Record<string, unknown> = {};
  const run = runMarked(function* () {
    const smmu = arm_smmu_devices()[0]!;
    const dev = smmu.streams.get(TESTDEV_SID)!.dev;
    const master = masterOf(dev)!;
    const mm = current().mm!;
    const cpu = thisCpu();
    // a kernel with 47-bit VAs: T0SZ 17 while the CD is made (nothing touches user memory meanwhile)
    const tcr = cpu.readSysreg('TCR_EL1');
    cpu.writeSysreg('TCR_EL1', (tcr & ~0x3fn) | 17n);
    const h47 = iommu_sva_bind_device(dev, mm);
    cpu.writeSysreg('TCR_EL1', tcr);
    if (typeof h47 === 'number') return 10;
    got.t0sz47 = Number(cpu.ldPhys64n(smmu.getCdPtr(master, iommu_sva_get_pasid(h47))) & 0x3fn);
    yield* iommu_sva_unbind_device(h47);

    const h = iommu_sva_bind_device(dev, mm);
    if (typeof h === 'number') return 11;
    const pasid = iommu_sva_get_pasid(h);
    got.t0sz = Number(cpu.ldPhys64n(smmu.getCdPtr(master, pasid)) & 0x3fn);
    const d = iommu_get_domain_for_dev_pasid(dev, pasid) as ArmSmmuDomain;
    got.inDomain = d.devices.some((x) => x.master === master && x.ssid === pasid);
    iommu_release_device(dev);
    got.afterRelease = d.devices.some((x) => x.master === master);
    got.cdTable = master.cdTable.cdtabDma;
    return 0;
  });

  it('the SVA CD carries T0SZ = TCR_EL1.T0SZ (64 - vabits_actual): 17 for 47-bit VAs, 16 for 48-bit', () => {
    expect(run.code).toBe(0);
    expect(got.t0sz47).toBe(17);
    expect(got.t0sz).toBe(16);
  });

  it("releasing the device drops its master from the SVA domain (arm_smmu_release_device), as from paging domains", () => {
    expect(got.inDomain).toBe(true);
    expect(got.afterRelease).toBe(false);
    expect(got.cdTable).toBe(0);
  });
});
