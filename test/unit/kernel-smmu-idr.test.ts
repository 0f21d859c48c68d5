// arm_smmu_device_hw_probe's ID register checks and arm_smmu_init_one_queue's
// fallback, against a tiny fake register block in front of the SMMUv3 model: the
// block answers IDR0/IDR1 (and IDR3/IDR5) with the values a test gives and passes
// every other read through to the model. Probe must refuse what Linux refuses, with
// Linux's message, before touching any register; queues that cannot be allocated at
// the advertised size shrink until they can.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMachine } from '../../src/machine/create.js';
import type { MachineCore } from '../../src/machine/machine.js';
import type { AccessSize, MmioAccess, MmioDevice } from '../../src/hw/bus/mmio.js';
import { ClockedBusCpu } from '../support/mm-bus-cpu.js';
import { printk_init, dmesg_text } from '../../src/kernel/lib/printk.js';
import { alloc_pages, mem_init } from '../../src/kernel/mm/page_alloc.js';
import { GFP_KERNEL } from '../../src/kernel/mm/gfp.js';
import { sysfs_init } from '../../src/kernel/fs/sysfs/sysfs.js';
import { ArmSmmuDevice, arm_smmu_device_init } from '../../src/kernel/drivers/iommu/arm-smmu-v3/arm-smmu-v3.js';
import '../../src/kernel/drivers/iommu/arm-smmu-v3/sva.js';
import { ARM_SMMU_FEAT_COHERENCY, ARM_SMMU_FEAT_TT_BE, ARM_SMMU_FEAT_TT_LE } from '../../src/kernel/drivers/iommu/arm-smmu-v3/features.js';
import { iommu_core_init } from '../../src/kernel/drivers/iommu/iommu.js';

const SMMU_BASE = 0x0905_0000;
/** An unused stretch of the physical map for the fake block (QEMU virt's platform-bus area). */
const FAKE_BASE = 0x0c00_0000;
const RAM = 0x4000_0000;
const MiB = 1 << 20;
const ENXIO = 6;
const ENOMEM = 12;

/** Page 0/1 of an SMMU whose ID registers the test chooses; the rest reads as the model's. */
class FakeIdRegs implements MmioDevice {
  readonly name = 'fake-smmu';
  readonly ids = new Map<number, number>();
  writes = 0;
  constructor(private readonly m: MachineCore) {}
  mmioRead(offset: number, _size: AccessSize, acc: MmioAccess): void {
    acc.lo = this.ids.get(offset) ?? this.m.bus.read32(SMMU_BASE + offset);
    acc.hi = 0;
  }
  mmioWrite(): void {
    this.writes++;
  }
}

interface Bench {
  m: MachineCore;
  fake: FakeIdRegs;
  restore: () => void;
}

function bench(ram: { memory: { base: number; size: number }[]; reserved: { base: number; size: number }[] }): Bench {
  const m = createMachine({ ramSize: 256 * MiB });
  const fake = new FakeIdRegs(m);
  m.bus.map('fake-smmu', FAKE_BASE, 0x20000, fake);
  const cpu = new ClockedBusCpu(m);
  const restore = cpu.makeCurrent();
  printk_init();
  mem_init({ ...ram, ramIsZero: true, movablecore: 0 });
  sysfs_init();
  iommu_core_init();
  // start from what the model advertises
  for (const off of [0x00, 0x04, 0x0c, 0x14]) fake.ids.set(off, m.bus.read32(SMMU_BASE + off));
  return { m, fake, restore };
}

function smmuAt(base: number): ArmSmmuDevice {
  const smmu = new ArmSmmuDevice(null, base, 'smmu3.fake', 'c000000.smmuv3');
  smmu.features |= ARM_SMMU_FEAT_COHERENCY;
  return smmu;
}

/** Sets bits [hi:lo] of fake IDRn (n = register offset) to `v`. */
function setIdField(b: Bench, off: number, hi: number, lo: number, v: number): void {
  const width = hi - lo + 1;
  const mask = (width === 32 ? 0xffffffff : (1 << width) - 1) << lo;
  b.fake.ids.set(off, ((b.fake.ids.get(off)! & ~mask) | ((v << lo) & mask)) >>> 0);
}

const IDR0 = 0x00;
const IDR1 = 0x04;

describe('arm_smmu_device_hw_probe refuses the ID register values Linux refuses', () => {
  let b: Bench;
  beforeEach(() => {
    b = bench({ memory: [{ base: RAM, size: 64 * MiB }], reserved: [{ base: RAM, size: 4 * MiB }] });
  });
  afterEach(() => b.restore());

  it('the model\'s own values, read through the fake block, pass hw_probe (the fake is faithful)', () => {
    const smmu = smmuAt(FAKE_BASE);
    expect(smmu.hwProbe()).toBe(0);
    expect(dmesg_text()).toMatch(/arm-smmu-v3 c000000\.smmuv3: ias 48-bit, oas 48-bit/);
  });

  // [what, Linux's message, IDR offset, field hi, field lo, value]
  it.each([
    ['S1P = S2P = 0', 'no translation support!', IDR0, 1, 0, 0],
    ['TTF = 0 (no AArch64 tables)', 'AArch64 table format not supported!', IDR0, 3, 2, 0],
    ['TTF = 1 (AArch32 only)', 'AArch64 table format not supported!', IDR0, 3, 2, 1],
    ['TTENDIAN = 1 (reserved)', 'unknown/unsupported TT endianness!', IDR0, 22, 21, 1],
    ['TTENDIAN = 3 (big-endian only, on this little-endian CPU)', 'unknown/unsupported TT endianness!', IDR0, 22, 21, 3],
    ['IDR1.TABLES_PRESET', 'embedded implementation not supported', IDR1, 30, 30, 1],
    ['IDR1.QUEUES_PRESET', 'embedded implementation not supported', IDR1, 29, 29, 1],
    ['IDR1.REL', 'embedded implementation not supported', IDR1, 28, 28, 1],
    ['CMDQS = 0', 'command queue size <= 64 entries not supported', IDR1, 25, 21, 0],
    ['CMDQS = 6 (64 entries)', 'command queue size <= 64 entries not supported', IDR1, 25, 21, 6],
  ] as const)('%s: probe fails with -ENXIO and "%s" before writing any register', (_what, msg, off, hi, lo, v) => {
    setIdField(b, off, hi, lo, v);
    expect(arm_smmu_device_init(smmuAt(FAKE_BASE))).toBe(-ENXIO);
    expect(dmesg_text()).toContain(`arm-smmu-v3 c000000.smmuv3: ${msg}`);
    expect(b.fake.writes).toBe(0);
  });

  it('either stage alone, TTF = 3 (AArch32 and AArch64) and TTENDIAN = 0 (mixed: TT_LE and TT_BE) are accepted', () => {
    for (const stages of [1, 2]) {
      setIdField(b, IDR0, 1, 0, stages);
      expect(smmuAt(FAKE_BASE).hwProbe()).toBe(0);
    }
    setIdField(b, IDR0, 3, 2, 3);
    expect(smmuAt(FAKE_BASE).hwProbe()).toBe(0);
    setIdField(b, IDR0, 22, 21, 0);
    const smmu = smmuAt(FAKE_BASE);
    expect(smmu.hwProbe()).toBe(0);
    expect(smmu.features & (ARM_SMMU_FEAT_TT_LE | ARM_SMMU_FEAT_TT_BE)).toBe(ARM_SMMU_FEAT_TT_LE | ARM_SMMU_FEAT_TT_BE);
  });

  it('CMDQS = 7 (128 entries: one batch and its sync fit) is accepted', () => {
    setIdField(b, IDR1, 25, 21, 7);
    const smmu = smmuAt(FAKE_BASE);
    expect(smmu.hwProbe()).toBe(0);
    expect(smmu.cmdq.llq.maxNShift).toBe(7);
  });
});

describe('arm_smmu_init_one_queue shrinks max_n_shift until the queue can be allocated', () => {
  let b: Bench;
  afterEach(() => b.restore());

  it('no free 4 MiB block: a 2^18-entry command queue becomes 2^17 and a 2^17-entry event queue 2^16, with Q_BASE.LOG2SIZE to match', () => {
    // 16 MiB with one reserved page near the end of each 4 MiB: the largest free blocks are 2 MiB
    const reserved = [0, 1, 2, 3].map((i) => ({ base: RAM + i * 4 * MiB + 0x3ff000, size: 0x1000 }));
    b = bench({ memory: [{ base: RAM, size: 16 * MiB }], reserved });
    setIdField(b, IDR1, 25, 21, 19);
    setIdField(b, IDR1, 20, 16, 19);
    const smmu = smmuAt(FAKE_BASE);
    expect(smmu.hwProbe()).toBe(0);
    // capped for natural alignment: 4 MiB each (16-byte commands, 32-byte events)
    expect(smmu.cmdq.llq.maxNShift).toBe(18);
    expect(smmu.evtq.llq.maxNShift).toBe(17);
    expect(smmu.initStructures()).toBe(0);
    expect(smmu.cmdq.llq.maxNShift).toBe(17);
    expect(smmu.evtq.llq.maxNShift).toBe(16);
    expect(smmu.cmdq.baseLo & 0x1f).toBe(17);
    expect(smmu.evtq.baseLo & 0x1f).toBe(16);
    // naturally aligned at the size it got
    expect(smmu.cmdq.basePa % (2 * MiB)).toBe(0);
    expect(smmu.evtq.basePa % (2 * MiB)).toBe(0);
    expect(dmesg_text()).toContain('arm-smmu-v3 c000000.smmuv3: allocated 131072 entries for cmdq');
    expect(dmesg_text()).toContain('arm-smmu-v3 c000000.smmuv3: allocated 65536 entries for evtq');
  });

  it('no memory at all: the queue shrinks below a page, then probe fails with -ENOMEM and Linux\'s message', () => {
    b = bench({ memory: [{ base: RAM, size: 16 * MiB }], reserved: [{ base: RAM, size: MiB }] });
    while (alloc_pages(0, GFP_KERNEL) >= 0);
    const smmu = smmuAt(FAKE_BASE);
    expect(smmu.hwProbe()).toBe(0);
    expect(smmu.initStructures()).toBe(-ENOMEM);
    // the last try was 128 commands of 16 bytes, below PAGE_SIZE
    expect(smmu.cmdq.llq.maxNShift).toBe(7);
    expect(dmesg_text()).toContain('arm-smmu-v3 c000000.smmuv3: failed to allocate queue (0x800 bytes) for cmdq');
    expect(b.fake.writes).toBe(0);
  });
});
