// The arm-smmu-v3 driver against the SMMUv3 device model, through the bus only: probe
// and reset in Linux's order, commands and CMD_SYNC completion by MSI write-back,
// a DMA domain for a stream, DMA API mappings a device port translates through, and
// unmaps that the model honours only after the driver's TLBI. Also the command
// encodings and the range-TLBI arithmetic against Linux's formulas.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMachine } from '../../src/machine/create.js';
import type { MachineCore } from '../../src/machine/machine.js';
import { SmmuV3 } from '../../src/hw/smmuv3/smmuv3.js';
import { DmaPort, DmaStatus } from '../../src/hw/bus/dma.js';
import { ClockedBusCpu } from '../support/mm-bus-cpu.js';
import { printk_init, dmesg_text } from '../../src/kernel/lib/printk.js';
import { alloc_pages, mem_init, nr_free_pages } from '../../src/kernel/mm/page_alloc.js';
import { GFP_KERNEL, __GFP_ZERO } from '../../src/kernel/mm/gfp.js';
import { sysfs_init, sysfs_lookup } from '../../src/kernel/fs/sysfs/sysfs.js';
import { ArmSmmuDevice, ArmSmmuDomain, arm_smmu_device_init, arm_smmu_device_probe, masterOf } from '../../src/kernel/drivers/iommu/arm-smmu-v3/arm-smmu-v3.js';
import { DeviceNode, Property } from '../../src/kernel/of/base.js';
import '../../src/kernel/drivers/iommu/arm-smmu-v3/sva.js';
import { ARM_SMMU_FEAT_COHERENCY, ARM_SMMU_FEAT_RANGE_INV, ARM_SMMU_FEAT_SEV, ARM_SMMU_OPT_MSIPOLL, ARM_SMMU_OPT_PAGE0_REGS_ONLY } from '../../src/kernel/drivers/iommu/arm-smmu-v3/features.js';
import { Device, iommu_core_init, iommu_fwspec_init, iommu_get_dma_domain, iommu_probe_device, iommu_release_device } from '../../src/kernel/drivers/iommu/iommu.js';
import { DMA_BIDIRECTIONAL, DMA_MAPPING_ERROR, dma_alloc_coherent, dma_map_single, dma_unmap_single } from '../../src/kernel/drivers/iommu/dma-iommu.js';
import { CMDQ, CMDQ_OP_CMD_SYNC, CMDQ_OP_RESUME, CMDQ_OP_TLBI_NH_VA, buildCmd, tlbiRangeCommands, atcInvCommand, type CmdqEnt } from '../../src/kernel/drivers/iommu/arm-smmu-v3/cmdq.js';
import { getField } from '../../src/kernel/lib/field-table.js';
import { IovaDomain } from '../../src/kernel/drivers/iommu/iova.js';

const SMMU_BASE = 0x0905_0000;
const RAM = 0x4000_0000;
const MiB = 1 << 20;

interface Bench {
  m: MachineCore;
  model: SmmuV3;
  port: DmaPort;
  smmu: ArmSmmuDevice;
  restore: () => void;
}

function bench(): Bench {
  const m = createMachine({ ramSize: 256 * MiB });
  // The board wires the SMMU at its DESIGN.md address; one more DMA port plays the device
  const model: SmmuV3 = m.smmu;
  const port = new DmaPort(m.bus, 'testdev', 0x10);
  model.attach(port);
  const cpu = new ClockedBusCpu(m);
  const restore = cpu.makeCurrent();
  printk_init();
  mem_init({ memory: [{ base: RAM, size: 256 * MiB }], reserved: [{ base: RAM, size: 16 * MiB }], ramIsZero: true, movablecore: 0 });
  sysfs_init();
  iommu_core_init();
  const smmu = new ArmSmmuDevice(null, SMMU_BASE, 'smmu3.test');
  // The DT node says dma-coherent
  smmu.features |= ARM_SMMU_FEAT_COHERENCY;
  return { m, model, port, smmu, restore };
}

describe('arm-smmu-v3 driver on the SMMUv3 model', () => {
  let b: Bench;
  beforeEach(() => {
    b = bench();
  });
  afterEach(() => b.restore());

  it('probe and reset enable CMDQ, EVTQ, PRIQ and SMMUEN, with every command consumed and no GERROR', () => {
    expect(arm_smmu_device_init(b.smmu)).toBe(0);
    const cr0 = b.m.bus.read32(SMMU_BASE + 0x20);
    expect(cr0 & 0xf).toBe(0xf);
    expect(b.m.bus.read32(SMMU_BASE + 0x24)).toBe(cr0);
    expect(b.m.bus.read32(SMMU_BASE + 0x9c) & 0xfffff).toBe(b.m.bus.read32(SMMU_BASE + 0x98) & 0xfffff);
    expect(b.m.bus.read32(SMMU_BASE + 0x60) ^ b.m.bus.read32(SMMU_BASE + 0x64)).toBe(0);
    expect(b.smmu.options & ARM_SMMU_OPT_MSIPOLL).toBeTruthy();
    expect(b.smmu.features & ARM_SMMU_FEAT_RANGE_INV).toBeTruthy();
    // CFGI_ALL, TLBI_EL2_ALL (HYP) and TLBI_NSNH_ALL, each with its own CMD_SYNC
    expect(b.smmu.stats.syncs).toBe(3);
    expect(dmesg_text()).toMatch(/allocated \d+ entries for cmdq/);
  });

  it('DMA API: a mapped buffer is reachable by the device at its IOVA, and not after dma_unmap_single', () => {
    expect(arm_smmu_device_init(b.smmu)).toBe(0);
    const dev = new Device('0000:00:02.0');
    iommu_fwspec_init(dev, null, [0x10]);
    expect(iommu_probe_device(dev)).toBe(0);
    expect(iommu_get_dma_domain(dev)?.type).toBe(3);
    const buf = dma_alloc_coherent(dev, 4096);
    expect(buf).not.toBeNull();
    const iova = buf!.dmaHandle;
    expect(iova).not.toBe(buf!.cpuAddr);
    const data = Uint8Array.from({ length: 64 }, (_, i) => i * 3);
    expect(b.port.write(iova + 128, data, 0, data.length)).toBe(DmaStatus.Ok);
    expect(Array.from(b.m.bus.readBytes(buf!.cpuAddr + 128, 64))).toEqual(Array.from(data));

    const pa2 = RAM + 32 * MiB + 0x40;
    const h = dma_map_single(dev, pa2, 100, DMA_BIDIRECTIONAL);
    expect(h).not.toBe(DMA_MAPPING_ERROR);
    expect(h % 4096).toBe(0x40);
    expect(b.port.write(h, data, 0, 16)).toBe(DmaStatus.Ok);
    expect(Array.from(b.m.bus.readBytes(pa2, 16))).toEqual(Array.from(data.subarray(0, 16)));
    const syncs = b.smmu.stats.syncs;
    dma_unmap_single(dev, h, 100, DMA_BIDIRECTIONAL);
    expect(b.smmu.stats.syncs).toBe(syncs + 1);
    expect(b.port.write(h, data, 0, 16)).toBe(DmaStatus.Abort);
    // The group is visible in sysfs
    expect(sysfs_lookup('kernel/iommu_groups/0/devices')).toBeDefined();
  });
});

describe('arm_smmu_release_device', () => {
  let b: Bench;
  beforeEach(() => {
    b = bench();
  });
  afterEach(() => b.restore());

  it('puts the STE back to abort, drops the master from its domain and frees its CD table (arm_smmu_free_cd_tables)', () => {
    expect(arm_smmu_device_init(b.smmu)).toBe(0);
    const dev = new Device('0000:00:02.0');
    dev.properties.set('pasid-num-bits', 12); // 4096 CDs: a 2-level table with 64 KiB leaves
    iommu_fwspec_init(dev, null, [0x10]);
    expect(iommu_probe_device(dev)).toBe(0);
    const domain = iommu_get_dma_domain(dev) as ArmSmmuDomain;
    const master = masterOf(dev)!;
    expect(master.cdTable.cdtabDma).not.toBe(0);
    expect(domain.devices.some((x) => x.master === master)).toBe(true);
    // L1 (4 descriptors: one page) and the leaf of SSID 0 (64 KiB: 16 pages)
    const free = nr_free_pages();
    iommu_release_device(dev);
    expect(nr_free_pages() - free).toBe(1 + 16);
    expect(master.cdTable.cdtabDma).toBe(0);
    expect(domain.devices.some((x) => x.master === master)).toBe(false);
    expect(b.m.bus.read64(b.smmu.stePa(0x10)) & 0xfn).toBe(1n); // V, Config abort
    expect(b.port.write(0x1000, new Uint8Array(4), 0, 4)).toBe(DmaStatus.Abort);
  });
});

/** A DT node for the SMMU under a root with 2 address and 2 size cells. */
function smmuNode(regSize: number, extra: string[]): DeviceNode {
  const be = (...v: number[]): Uint8Array => {
    const b = new Uint8Array(v.length * 4);
    v.forEach((x, i) => new DataView(b.buffer).setUint32(i * 4, x));
    return b;
  };
  const root = new DeviceNode('', null);
  root.properties.push(new Property('#address-cells', be(2)), new Property('#size-cells', be(2)));
  const np = new DeviceNode('smmuv3@9050000', root);
  root.children.push(np);
  np.properties.push(new Property('reg', be(0, SMMU_BASE, 0, regSize)), new Property('#iommu-cells', be(1)), new Property('dma-coherent', new Uint8Array(0)));
  for (const name of extra) np.properties.push(new Property(name, new Uint8Array(0)));
  return np;
}

describe('arm_smmu_cmdq_issue_cmdlist: a full command queue', () => {
  let b: Bench;
  beforeEach(() => {
    b = bench();
  });
  afterEach(() => b.restore());

  it('waits for room past the 1 s poll timeout (logging CMDQ timeout) and never writes over commands the SMMU has not consumed', () => {
    const s = b.smmu;
    expect(s.hwProbe()).toBe(0);
    // 128 entries: one batch and its sync fit, three batches do not
    s.cmdq.llq.maxNShift = 7;
    // queue_poll backs off instead of WFE (this bench CPU has no event model)
    s.features &= ~ARM_SMMU_FEAT_SEV;
    expect(s.initStructures()).toBe(0);
    expect(s.reset()).toBe(0);
    const before = b.model.cmdq.consumed;
    const cr0 = b.m.bus.read32(SMMU_BASE + 0x20);
    // The SMMU stops consuming commands for 1.5 s of virtual time
    b.m.bus.write32(SMMU_BASE + 0x20, cr0 & ~8);
    b.m.clock.after(1.5e9, 'test.cmdq-restart', () => b.m.bus.write32(SMMU_BASE + 0x20, cr0));
    // Three batches of CMD_SYNCs, each sending its own MSI: command n writes n + 1 to word n
    const scratch = alloc_pages(0, GFP_KERNEL | __GFP_ZERO) * 4096;
    const batch = new Uint32Array(64 * 4);
    for (let k = 0; k < 3; k++) {
      for (let i = 0; i < 64; i++) buildCmd(batch.subarray(i * 4, i * 4 + 4), { opcode: CMDQ_OP_CMD_SYNC, msiaddr: scratch + 4 * (k * 64 + i), msidata: k * 64 + i + 1 });
      s.issueCmdlist(batch, 64, false);
    }
    expect(s.issueCmdlist(batch, 0, true)).toBe(0);
    b.m.run({ untilIdle: true });
    expect(b.model.cmdq.consumed - before).toBe(3 * 64 + 1);
    const words = Array.from({ length: 192 }, (_, n) => b.m.bus.read32(scratch + 4 * n));
    expect(words).toEqual(Array.from({ length: 192 }, (_, n) => n + 1));
    expect(dmesg_text()).toMatch(/CMDQ timeout/);
    expect(b.m.bus.read32(SMMU_BASE + 0x60) ^ b.m.bus.read32(SMMU_BASE + 0x64)).toBe(0);
  });
});

describe('arm_smmu_device_probe: firmware quirks', () => {
  let b: Bench;
  beforeEach(() => {
    b = bench();
  });
  afterEach(() => b.restore());

  it('cavium,cn9900-broken-page1-regspace: a 64 KiB region is accepted and the event/PRI queue PROD and CONS are used at their page 0 offsets', () => {
    const smmu = arm_smmu_device_probe(smmuNode(0x10000, ['cavium,cn9900-broken-page1-regspace']), () => 0);
    expect(smmu).toBeInstanceOf(ArmSmmuDevice);
    const s = smmu as ArmSmmuDevice;
    expect(s.options & ARM_SMMU_OPT_PAGE0_REGS_ONLY).toBeTruthy();
    expect([s.evtq.prodReg, s.evtq.consReg, s.priq.prodReg, s.priq.consReg]).toEqual([0xa8, 0xac, 0xc8, 0xcc]);
  });

  it('without the quirk a 64 KiB region is too small (page 1 is needed) and page 1 offsets are used', () => {
    expect(arm_smmu_device_probe(smmuNode(0x10000, []), () => 0)).toBeLessThan(0);
    const s = arm_smmu_device_probe(smmuNode(0x20000, []), () => 0) as ArmSmmuDevice;
    expect([s.evtq.prodReg, s.evtq.consReg, s.priq.prodReg, s.priq.consReg]).toEqual([0x100a8, 0x100ac, 0x100c8, 0x100cc]);
    expect(s.options & ARM_SMMU_OPT_PAGE0_REGS_ONLY).toBe(0);
  });
});

describe('command encodings (arm-smmu-v3.h layout)', () => {
  it('CMD_SYNC with an MSI address uses CS=IRQ, MSH=ISH, MSIATTR=OIWB and MSIADDR[51:2]', () => {
    const c = new Uint32Array(4);
    expect(buildCmd(c, { opcode: CMDQ_OP_CMD_SYNC, msiaddr: 0x4000_1230 })).toBe(0);
    expect(getField(c, CMDQ.f.OP)).toBe(0x46);
    expect(getField(c, CMDQ.f.SYNC_CS)).toBe(1);
    expect(getField(c, CMDQ.f.SYNC_MSH)).toBe(3);
    expect(getField(c, CMDQ.f.SYNC_MSIATTR)).toBe(0xf);
    expect(c[2]).toBe(0x4000_1230);
    buildCmd(c, { opcode: CMDQ_OP_CMD_SYNC });
    expect(getField(c, CMDQ.f.SYNC_CS)).toBe(2);
  });
  it('RESUME puts SID in dw0[63:32], RESP in dw0[13:12] and STAG in dw1[15:0]', () => {
    const c = new Uint32Array(4);
    buildCmd(c, { opcode: CMDQ_OP_RESUME, sid: 0x10, resp: 1, stag: 0xbeef });
    expect(c[0]).toBe(0x44 | (1 << 12));
    expect(c[1]).toBe(0x10);
    expect(c[2]).toBe(0xbeef);
  });
  it('an unknown opcode is refused', () => {
    expect(buildCmd(new Uint32Array(4), { opcode: 0x7f })).toBe(-1);
  });
  it('range TLBI: 5 pages of 4 KiB leaves give NUM=4, SCALE=0, TG=1, TTL=3 in one command', () => {
    const out: CmdqEnt[] = [];
    tlbiRangeCommands({ opcode: CMDQ_OP_TLBI_NH_VA, asid: 7, leaf: true }, 0x10000, 5 * 4096, 4096, 4096, true, (e) => out.push({ ...e }));
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ num: 4, scale: 0, tg: 1, ttl: 3, addr: 0x10000 });
  });
  it('range TLBI: 33 pages take two commands, 1 page then 32 (= 1 x 2^5)', () => {
    const out: CmdqEnt[] = [];
    tlbiRangeCommands({ opcode: CMDQ_OP_TLBI_NH_VA, asid: 1, leaf: true }, 0, 33 * 4096, 4096, 4096, true, (e) => out.push({ ...e }));
    expect(out.map((e) => [e.addr, e.num, e.scale])).toEqual([
      [0, 0, 0],
      [4096, 0, 5],
    ]);
  });
  it('non-range TLBI issues one command per granule', () => {
    const out: CmdqEnt[] = [];
    tlbiRangeCommands({ opcode: CMDQ_OP_TLBI_NH_VA, asid: 1, leaf: true }, 0x2000, 3 * 4096, 4096, 4096, false, (e) => out.push({ ...e }));
    expect(out.map((e) => e.addr)).toEqual([0x2000, 0x3000, 0x4000]);
  });
  it('ATC_INV covers pages 7..10 with the aligned span 0..15 (log2 size 4)', () => {
    const e: CmdqEnt = { opcode: 0 };
    atcInvCommand(e, 5, 7 * 4096, 4 * 4096);
    expect(e).toMatchObject({ addr: 0, size: 4, substreamValid: true, ssid: 5 });
  });
});

describe('IOVA allocator', () => {
  it('allocates top-down below the limit, size-aligned, and never inside a reserved range', () => {
    const d = new IovaDomain(4096, 1);
    d.reserve(0x8000, 0x80ff);
    const a = d.alloc(4, 0x80ff, true)!;
    expect(a.pfnHi).toBeLessThan(0x8000);
    expect(a.pfnLo % 4).toBe(0);
    const c = d.alloc(1, 0xfffff, true)!;
    expect(c.pfnLo).toBe(0xfffff);
    d.free(c);
    expect(d.find(0xfffff)).toBeNull();
    expect(d.alloc(0x100000, 0xfffff, true)).toBeNull();
  });
});
