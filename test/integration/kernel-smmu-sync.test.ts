// How the arm-smmu-v3 driver waits for a CMD_SYNC in the booted kernel. With MSIPOLL
// (a coherent SMMU) the sync's MSI is written into its own command slot and the core
// waits on that word with LDXR + WFE (smp_cond_load_relaxed): the wait ends when the
// MSI lands, not at the next poll. Without MSIPOLL the sync says CS=SEV and queue_poll
// waits in WFE for the SMMU's SEV. A sync the SMMU never completes times out after the
// driver's 1 s, in one WFE rather than a spin.

import { describe, expect, it } from 'vitest';
import { thisCpu } from '../../src/arch/index.js';
import { TraceKind } from '../../src/trace/record.js';
import { arm_smmu_devices } from '../../src/kernel/drivers/iommu/arm-smmu-v3/arm-smmu-v3.js';
import { CMDQ_OP_TLBI_NH_ALL } from '../../src/kernel/drivers/iommu/arm-smmu-v3/cmdq.js';
import { ARM_SMMU_FEAT_SEV, ARM_SMMU_OPT_MSIPOLL } from '../../src/kernel/drivers/iommu/arm-smmu-v3/features.js';
import { log_records } from '../../src/kernel/lib/printk.js';
import { bootZip } from './kernel-zip-harness.js';

const ETIMEDOUT = 110;
const SMMU_CR0 = 0x0905_0020;
const CR0_CMDQEN = 1 << 3;
const CMD_SYNC = 0x46;

interface Sync {
  ret: number;
  start: number;
  end: number;
  /** Time of the SMMU's completion signal: the MSI write, or the CMD_SYNC consumed (SEV). */
  signal: number;
}

describe('arm-smmu-v3: waiting for CMD_SYNC', () => {
  const syncs: Record<string, Sync> = {};
  let features = 0;
  let msipoll = 0;
  let lastMsi = NaN;
  let lastSync = NaN;
  const run = bootZip({
    // the SMMU's MSI writes and the CMD_SYNCs it consumes, with their times
    setup: (m) =>
      m.trace.subscribe((ring, i) => {
        const kind = ring.kindAt(i);
        if (kind !== TraceKind.Msi && kind !== TraceKind.Command) return;
        const r = ring.at(i);
        if (r.initiator !== m.smmu.name) return;
        if (kind === TraceKind.Msi) lastMsi = r.timeNs;
        else if (r.aux === CMD_SYNC) lastSync = r.timeNs;
      }),
    scenario: function* () {
      const smmu = arm_smmu_devices()[0]!;
      features = smmu.features;
      msipoll = smmu.options & ARM_SMMU_OPT_MSIPOLL;
      const cpu = thisCpu();
      const issue = (name: string, signal: () => number): void => {
        lastMsi = NaN;
        lastSync = NaN;
        const start = cpu.now();
        const ret = smmu.issueCmd({ opcode: CMDQ_OP_TLBI_NH_ALL }, true);
        syncs[name] = { ret, start, end: cpu.now(), signal: signal() };
      };
      issue('msi', () => lastMsi);
      smmu.options &= ~ARM_SMMU_OPT_MSIPOLL;
      issue('sev', () => lastSync);
      smmu.options |= ARM_SMMU_OPT_MSIPOLL;
      // CMDQEN off: the SMMU consumes nothing and the sync never completes
      const cr0 = cpu.ldPhys32(SMMU_CR0);
      cpu.stPhys32(SMMU_CR0, cr0 & ~CR0_CMDQEN);
      issue('stuck', () => lastMsi);
      cpu.stPhys32(SMMU_CR0, cr0);
      return 0;
    },
  });

  it('boots and runs the scenario on an SMMU with MSIPOLL and SEV', () => {
    expect(run.code).toBe(0);
    expect(msipoll).toBeTruthy();
    expect(features & ARM_SMMU_FEAT_SEV).toBeTruthy();
  });

  it('MSIPOLL: the wait ends when the MSI lands on the sync slot (LDXR + WFE), not at a later poll', () => {
    const s = syncs['msi']!;
    expect(s.ret).toBe(0);
    expect(s.signal).toBeGreaterThan(s.start);
    expect(s.end).toBeGreaterThanOrEqual(s.signal);
    // the load after the wake-up and the return: a few accesses, no 10 ns poll granularity
    expect(s.end - s.signal).toBeLessThan(5);
  });

  it("CS=SEV: queue_poll's WFE is woken by the SMMU's SEV when it consumes the sync, then CONS is read once", () => {
    const s = syncs['sev']!;
    expect(s.ret).toBe(0);
    expect(s.end).toBeGreaterThanOrEqual(s.signal);
    // one MMIO read of CMDQ_CONS (cost.mmioNs = 200) after the wake-up
    expect(s.end - s.signal).toBeLessThan(250);
  });

  it('a sync the SMMU never completes times out after 1 s of virtual time, and the driver says so', () => {
    const s = syncs['stuck']!;
    expect(s.ret).toBe(-ETIMEDOUT);
    expect(Number.isNaN(s.signal)).toBe(true);
    expect(s.end - s.start).toBeGreaterThanOrEqual(1e9);
    // plus the error line printed through the PL011 at 115200 baud (~87 us a character)
    expect(s.end - s.start).toBeLessThan(1e9 + 20e6);
    expect(log_records().some((r) => /CMD_SYNC timeout/.test(r.text))).toBe(true);
  });
});
