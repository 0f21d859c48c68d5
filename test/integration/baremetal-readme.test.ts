// The bare-metal example of the README, run as written: program the iommu-testdev
// through machine.bus alone (no guest), let the DMA take virtual time, read the trace.
import { describe, expect, it } from 'vitest';
import { createMachine, TraceKind } from '../../src/index.js';
import { exportText } from '../../src/trace/export-text.js';
import { byKind } from '../../src/trace/filter.js';

describe('README bare-metal example', () => {
  it('iommu-testdev DMA: RESULT reads BUSY, then 0, and the pattern lands in RAM (QEMU iommu-testdev protocol)', () => {
    // --- README example start ---
    const m = createMachine({ trace: true });
    const ecam = m.soc.pcie.ecam.base;
    const cfg = ecam + (2 << 15); // 00:02.0, the iommu-testdev
    const bar0 = 0x1000_0000;
    m.bus.write32(cfg + 0x10, bar0); // BAR0
    m.bus.write32(cfg + 0x04, 0x6); // Command: memory space + bus master
    const iova = 0x4800_0000; // no SMMU in the path yet: IOVA = PA
    m.bus.write32(bar0 + 0x04, iova); // DMA_GVA_LO
    m.bus.write32(bar0 + 0x0c, 4096); // DMA_LEN
    m.bus.write32(bar0 + 0x1c, iova); // DMA_GPA_LO (where the pattern is checked)
    m.bus.write32(bar0 + 0x14, 1); // DMA_DBELL: arm
    m.bus.read32(bar0 + 0x00); // DMA_TRIGGERING: start
    const busy = m.bus.read32(bar0 + 0x10); // DMA_RESULT
    m.run({ untilIdle: true });
    const result = m.bus.read32(bar0 + 0x10);
    console.log(exportText(m.trace, byKind(TraceKind.DmaWrite, TraceKind.DmaRead)));
    // --- README example end ---
    expect(busy >>> 0).toBe(0xfffffffe);
    expect(result).toBe(0);
    expect(m.bus.read32(iova)).toBe(0x12345678);
    expect(m.bus.read32(iova + 4092)).toBe(0x12345678);
    const dma = [...m.trace.records()].filter((r) => r.kind === TraceKind.DmaWrite);
    expect(dma.length).toBeGreaterThan(0);
    expect(dma[0]!.initiator).toBe('iommu-testdev@00:02.0');
    expect(dma[0]!.sid).toBe(0x10); // RID 00:02.0 -> StreamID through iommu-map
    expect(m.clock.now()).toBeGreaterThan(0);
  });
});
