// The arm-smmu-v3 driver in the booted kernel: probed from the device tree before PCI
// enumeration, every PCI function behind it with a group and a DMA domain, and the
// DMA API producing IOVAs that the device's transactions translate through the SMMU's
// stage-1 tables (the test device through /dev/iommu-testdev). An IOVA unmapped before
// the transfer ends in an F_TRANSLATION event the driver logs and a device error.

import { describe, expect, it } from 'vitest';
import { TraceKind } from '../../src/trace/record.js';
import { arm_smmu_devices } from '../../src/kernel/drivers/iommu/arm-smmu-v3/arm-smmu-v3.js';
import { sysfs_lookup } from '../../src/kernel/fs/sysfs/sysfs.js';
// The Huawei PCI quirk ships with the ZIP driver; imported so the test does not depend on what the image links
import '../../src/kernel/drivers/pci/quirks-huawei.js';
import { ITD_F_UNMAP_FIRST, ITD_OP_READ, ITD_OP_WRITE } from '../../src/kernel/drivers/misc/iommu-testdev.js';
import { PAGE, TESTDEV_SID, Testdev, cmdDword, holdsPattern, mmap, runInit, type DmaResult } from './kernel-smmu-harness.js';

describe('SMMU bring-up at boot (arm-smmu-v3 probe, groups, default DMA domains)', () => {
  const seen: Record<string, string> = {};
  const run = runInit(function* (u) {
    for (const p of ['devices/pci0000:00/0000:00:01.0/iommu_group', 'devices/pci0000:00/0000:00:02.0/iommu_group', 'kernel/iommu_groups/1/devices/0000:00:02.0', 'kernel/iommu_groups/0/type', 'class/iommu/smmu3.0x0000000009050000/devices/0000:00:02.0']) {
      const n = sysfs_lookup(p);
      seen[p] = n === undefined ? 'missing' : n.show ? String(n.show()) : n.target ? `-> ${n.target()}` : 'dir';
    }
    const td = yield* Testdev.open(u);
    return typeof td === 'number' ? 10 : 0;
  });
  const log = run.log;

  it('the driver probes from the DT in Linux order and logs what Linux logs, before PCI enumeration', () => {
    expect(run.code).toBe(0);
    const at = (re: RegExp): number => log.findIndex((l) => re.test(l));
    expect(at(/^arm-smmu-v3 9050000\.smmuv3: ias 48-bit, oas 48-bit \(features 0x[0-9a-f]{8}\)$/)).toBeGreaterThanOrEqual(0);
    expect(at(/^arm-smmu-v3 9050000\.smmuv3: allocated \d+ entries for cmdq$/)).toBeGreaterThanOrEqual(0);
    expect(at(/^arm-smmu-v3 9050000\.smmuv3: allocated \d+ entries for evtq$/)).toBeGreaterThanOrEqual(0);
    expect(at(/^arm-smmu-v3 9050000\.smmuv3: allocated \d+ entries for priq$/)).toBeGreaterThanOrEqual(0);
    expect(at(/allocated \d+ entries for cmdq/)).toBeLessThan(at(/^PCI host bridge to bus 0000:00$/));
    expect(at(/^pci 0000:00:01\.0: Adding to iommu group 0$/)).toBeGreaterThan(at(/^pci 0000:00:02\.0: \[1b36:0005\]/));
    expect(at(/^pci 0000:00:02\.0: Adding to iommu group 1$/)).toBeGreaterThanOrEqual(0);
    expect(at(/^iommu: Default domain type: Translated$/)).toBeGreaterThanOrEqual(0);
    // The hardware is enabled with all three queues and no global error
    const smmu = run.machine.smmu;
    const cr0 = run.machine.bus.read32(0x0905_0020);
    expect(cr0 & 0xf).toBe(0xf);
    expect(run.machine.bus.read32(0x0905_0060) ^ run.machine.bus.read32(0x0905_0064)).toBe(0);
    expect(smmu).toBeDefined();
  });

  it('sysfs: each PCI function links to its group, the group lists the device and says DMA', () => {
    expect(seen['devices/pci0000:00/0000:00:01.0/iommu_group']).toMatch(/-> .*kernel\/iommu_groups\/0$/);
    expect(seen['devices/pci0000:00/0000:00:02.0/iommu_group']).toMatch(/-> .*kernel\/iommu_groups\/1$/);
    expect(seen['kernel/iommu_groups/1/devices/0000:00:02.0']).toMatch(/-> .*devices\/pci0000:00\/0000:00:02\.0$/);
    expect(seen['kernel/iommu_groups/0/type']).toBe('DMA\n');
    expect(seen['class/iommu/smmu3.0x0000000009050000/devices/0000:00:02.0']).toMatch(/-> /);
  });

  it("the Huawei quirk's dma-can-stall makes the ZIP PF a stall master (STE.S1STALLD=0, CD.S=1); the test device is not", () => {
    const smmu = arm_smmu_devices()[0]!;
    const zip = smmu.streams.get(0x08)!;
    const td = smmu.streams.get(TESTDEV_SID)!;
    expect(zip.stallEnabled).toBe(true);
    expect(td.stallEnabled).toBe(false);
    // The STE and CD in guest memory, as the SMMU reads them
    const bus = run.machine.bus;
    const ste1 = bus.read64(smmu.stePa(0x08) + 8);
    expect((ste1 >> 27n) & 1n).toBe(0n);
    const cd0 = bus.read64(smmu.getCdPtr(zip, 0));
    expect((cd0 >> 44n) & 1n).toBe(1n);
    expect((bus.read64(smmu.stePa(TESTDEV_SID) + 8) >> 27n) & 1n).toBe(1n);
    // The test function's PASID capability was enabled by the SMMU driver (SSIDs sized from it)
    expect(td.pasidEnabled).toBe(true);
    expect(td.ssidBits).toBe(16);
  });
});

describe('DMA API through the SMMU: /dev/iommu-testdev (ITD_IOC_DMA)', () => {
  const res: Record<string, DmaResult> = {};
  let bufOk = false;
  let readOk: DmaResult | undefined;
  const run = runInit(function* (u) {
    const td = yield* Testdev.open(u);
    if (typeof td === 'number') return 10;
    const buf = yield* mmap(u, 4 * PAGE);
    res.write = yield* td.dma(buf + 16, 3 * PAGE, ITD_OP_WRITE);
    bufOk = holdsPattern(u, buf + 16, 3 * PAGE);
    // The device reads what we give it and compares it with its pattern
    readOk = yield* td.dma(buf + 16, 3 * PAGE, ITD_OP_READ);
    u.cpu.st32(buf + 16 + 2 * PAGE, 0xbad);
    res.readBad = yield* td.dma(buf + 16, 3 * PAGE, ITD_OP_READ);
    res.stale = yield* td.dma(buf, PAGE, ITD_OP_WRITE, ITD_F_UNMAP_FIRST);
    return 0;
  });
  const log = run.log;

  it('a mapped bounce buffer is written by the device at an IOVA the SMMU translates (write-verify at the PA passes)', () => {
    expect(run.code).toBe(0);
    expect(res.write!.ret).toBe(0);
    expect(res.write!.result).toBe(0);
    expect(bufOk).toBe(true);
    const iova = res.write!.iova;
    // The IOVA comes from the DMA domain's allocator, top-down below the 32-bit DMA mask
    expect(iova % PAGE).toBe(0);
    expect(iova).toBeLessThan(2 ** 32);
    // The device's transaction missed the IOTLB and walked the stage-1 tables of SID 0x10
    const miss = run.records.filter((r) => r.kind === TraceKind.IotlbMiss && r.sid === TESTDEV_SID && Number(r.iova) >= iova && Number(r.iova) < iova + 3 * PAGE);
    expect(miss.length).toBeGreaterThanOrEqual(1);
    const walks = run.records.filter((r) => r.kind === TraceKind.Walk && r.sid === TESTDEV_SID && Number(r.iova) === iova);
    expect(walks.length).toBeGreaterThanOrEqual(1);
    const pa = Number(walks[walks.length - 1]!.pa);
    expect(pa).toBeGreaterThanOrEqual(0x4000_0000);
    expect(pa).not.toBe(iova);
  });

  it('DMA_TO_DEVICE: the device reads the buffer through the IOVA; a changed word gives the mismatch code', () => {
    expect(readOk!.result).toBe(0);
    expect(res.readBad!.result).toBe(0xdead0004);
    expect(res.readBad!.fault - res.readBad!.iova).toBeGreaterThanOrEqual(2 * PAGE - 16);
  });

  it('after dma_unmap_single (with its TLBI) the IOVA is refused: F_TRANSLATION event logged by the driver, device error', () => {
    const stale = res.stale!;
    expect(stale.ret).toBe(0);
    expect(stale.result).toBe(0xdead0002);
    // The unmap's invalidation: a TLBI_NH_VA (0x12) for the domain's ASID covering the IOVA, then a sync
    const tlbi = run.records.filter((r) => r.kind === TraceKind.Command && r.initiator === 'smmu' && r.aux === 0x12);
    expect(tlbi.some((r) => Number(cmdDword(r, 1) & ~0xfffn) === stale.iova)).toBe(true);
    // The only event of the run: the completion MSIs go to the doorbell mapped in the MSI window
    const ev = run.records.filter((r) => r.kind === TraceKind.Event);
    expect(ev.length).toBe(1);
    expect(ev[0]!.sid).toBe(TESTDEV_SID);
    expect(ev[0]!.aux).toBe(0x10);
    expect(Number(ev[0]!.iova)).toBe(stale.iova);
    expect(log).toContain('arm-smmu-v3 9050000.smmuv3: event 0x10 received:');
    expect(log.some((l) => l === `arm-smmu-v3 9050000.smmuv3: F_TRANSLATION sid 0x10 addr 0x${stale.iova.toString(16)}`)).toBe(true);
    expect(log.some((l) => l.startsWith(`iommu-testdev 0000:00:02.0: DMA at iova 0x${stale.iova.toString(16)} failed: result 0xdead0002`))).toBe(true);
  });
});
