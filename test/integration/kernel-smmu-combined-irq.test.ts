// An SMMU whose interrupt sources share one line, as a firmware with a single
// "combined" interrupt describes it (Linux arm_smmu_device_probe / arm_smmu_setup_irqs):
// the driver requests that line once, handles GERROR in the hard handler and drains the
// event and PRI queues in its thread. Here the guest's tree names the event queue's line
// "combined", so a translation fault must reach the driver through that handler.

import { describe, expect, it } from 'vitest';
import { TraceKind } from '../../src/trace/record.js';
import { cells, stringList } from '../../src/machine/fdt/property.js';
import { arm_smmu_devices } from '../../src/kernel/drivers/iommu/arm-smmu-v3/arm-smmu-v3.js';
import { show_interrupts } from '../../src/kernel/irq/irqdesc.js';
import { ITD_F_UNMAP_FIRST, ITD_OP_WRITE } from '../../src/kernel/drivers/misc/iommu-testdev.js';
import { PAGE, TESTDEV_SID, Testdev, mmap, runInit, type DmaResult } from './kernel-smmu-harness.js';

describe('arm-smmu-v3 with one "combined" interrupt (arm_smmu_combined_irq_handler / _thread)', () => {
  let stale: DmaResult | undefined;
  let interrupts = '';
  const run = runInit(
    function* (u) {
      const td = yield* Testdev.open(u);
      if (typeof td === 'number') return 10;
      const buf = yield* mmap(u, PAGE);
      stale = yield* td.dma(buf, PAGE, ITD_OP_WRITE, ITD_F_UNMAP_FIRST);
      interrupts = show_interrupts();
      return 0;
    },
    {
      dt: (tree) => {
        const smmu = tree.find('/smmuv3@9050000')!;
        // The event queue's SPI (74, edge) is the one line of every source
        smmu.setProp('interrupts', cells(0, 74, 1));
        smmu.setProp('interrupt-names', stringList('combined'));
      },
    },
  );

  it('the driver requests the combined line, not the per-queue ones', () => {
    expect(run.code).toBe(0);
    expect(arm_smmu_devices()[0]!.combinedIrq).toBeGreaterThan(0);
    expect(interrupts).toMatch(/arm-smmu-v3-combined-irq/);
    expect(interrupts).not.toMatch(/arm-smmu-v3-evtq/);
    expect(run.log.some((l) => /no evtq irq|no gerr irq/.test(l))).toBe(false);
  });

  it('a translation fault is recorded and reaches the driver through the combined thread', () => {
    expect(stale!.result).toBe(0xdead0002);
    const ev = run.records.filter((r) => r.kind === TraceKind.Event);
    expect(ev.length).toBe(1);
    expect(ev[0]!.sid).toBe(TESTDEV_SID);
    expect(run.log).toContain('arm-smmu-v3 9050000.smmuv3: event 0x10 received:');
    expect(arm_smmu_devices()[0]!.stats.events).toBe(1);
  });
});
