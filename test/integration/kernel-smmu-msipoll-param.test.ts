// arm_smmu_v3.disable_msipolling (a module parameter of arm-smmu-v3.c): a coherent SMMU
// with MSIs would complete each CMD_SYNC by an MSI into the sync's own slot (MSIPOLL);
// the parameter makes the driver use CS=SEV and poll CMDQ_CONS instead.

import { describe, expect, it } from 'vitest';
import { TraceKind } from '../../src/trace/record.js';
import { arm_smmu_devices } from '../../src/kernel/drivers/iommu/arm-smmu-v3/arm-smmu-v3.js';
import { ARM_SMMU_FEAT_MSI, ARM_SMMU_OPT_MSIPOLL } from '../../src/kernel/drivers/iommu/arm-smmu-v3/features.js';
import { cmdDword, runInit } from './kernel-smmu-harness.js';

const CMD_SYNC = 0x46;

describe('arm_smmu_v3.disable_msipolling=1', () => {
  let options = -1;
  let features = 0;
  const run = runInit(
    function* () {
      options = arm_smmu_devices()[0]!.options;
      features = arm_smmu_devices()[0]!.features;
      return 0;
    },
    { args: 'arm_smmu_v3.disable_msipolling=1' },
  );

  it('a coherent SMMU with MSIs gets no MSIPOLL: every CMD_SYNC says CS=SEV (no MSI write-back into the sync slot)', () => {
    expect(run.code).toBe(0);
    expect(features & ARM_SMMU_FEAT_MSI).toBeTruthy();
    expect(options & ARM_SMMU_OPT_MSIPOLL).toBe(0);
    const syncs = run.records.filter((r) => r.kind === TraceKind.Command && r.aux === CMD_SYNC);
    expect(syncs.length).toBeGreaterThan(3);
    expect(new Set(syncs.map((r) => Number((cmdDword(r, 0) >> 12n) & 3n)))).toEqual(new Set([2]));
  });
});
