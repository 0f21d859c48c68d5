// SMMUv3 hot paths, as ratios measured in the same run:
// - an IOTLB-hit translation (Iommu.translate) against a CPU TLB-hit ld32 (target <= 4x);
// - an IOTLB miss (4-level stage 1 walk + fill) against a CPU TLB-hit ld32 (target <= 30x)
//   and against an IOTLB hit (report);
// - a 1 MiB DMA write through stage 1 (4K pages, IOTLB warm) against Uint8Array.set of
//   1 MiB (target >= 0.4 of its throughput).

import { figure, timeNsPerOp, type BenchFigure } from './figure.js';
import { MachineCore } from '../../src/machine/machine.js';
import { Cluster } from '../../src/hw/cpu/cluster.js';
import { DmaPort, DmaStatus, IommuResult, DEFAULT_DMA_ATTRS } from '../../src/hw/bus/dma.js';
import { SmmuV3 } from '../../src/hw/smmuv3/smmuv3.js';

const RAM = 0x4000_0000;
const MiB = 1 << 20;
const SID = 1;
/**
 * Four IOVAs in different level 0/1/2 tables (the CPU bench's miss VAs). Only the first
 * two share an IOTLB slot (the slot is VA[23:12] ^ the context's hash): the last two sit
 * in slots of their own, so half of the accesses of the loop over them are IOTLB hits
 * taken through the full lookup (the port's last translation always misses).
 */
export const MISS_VAS = [0x0000_1000_0000_0000, 0x0000_2040_4000_0000, 0x0000_3080_8040_0000, 0x0000_40c0_c080_0000].map((v) => v + 5 * 4096);
/**
 * Four IOVAs that all share one IOTLB slot (the same VA[23:12]) and lie in different
 * level 0, 1 and 2 tables: every access of a loop over them is a 4-level walk and fill.
 */
export const WALK_VAS = [2, 3, 4, 5].map((k) => k * 2 ** 39 + k * 2 ** 30 + k * 2 ** 24 + 5 * 4096);

export function smmuMachine(): { m: MachineCore; smmu: SmmuV3; port: DmaPort } {
  const m = new MachineCore({ ramSize: 256 * MiB });
  const smmu = new SmmuV3(m).mapOn();
  const port = new DmaPort(m.bus, 'bench-dev', SID);
  smmu.attach(port);
  const bus = m.bus;
  let next = RAM + 0x10_0000;
  const alloc = (n = 4096) => {
    const a = next;
    next += n;
    return a;
  };
  const root = alloc();
  const map = (va: number, pa: number) => {
    let table = root;
    for (let level = 0; level < 3; level++) {
      const slot = table + (Math.floor(va / 2 ** (12 + 9 * (3 - level))) % 512) * 8;
      let d = bus.read64(slot);
      if ((d & 1n) === 0n) {
        d = BigInt(alloc()) | 3n;
        bus.write64(slot, d);
      }
      table = Number(d & 0xffff_ffff_f000n);
    }
    bus.write64(table + (Math.floor(va / 4096) % 512) * 8, BigInt(pa) | 3n | (1n << 10n) | (1n << 6n));
  };
  for (const [i, va] of MISS_VAS.entries()) map(va, RAM + 0x100_0000 + i * 4096);
  for (let i = 0; i < 256; i++) map(0x1000_0000 + i * 4096, RAM + 0x200_0000 + i * 4096);
  for (const [i, va] of WALK_VAS.entries()) map(va, RAM + 0x100_8000 + i * 4096);
  // CD: T0SZ 16, TG0 4K, EPD1, V, IPS 48, AA64, R, A, ASID 1; STE: S1, linear.
  const cd = alloc();
  bus.write64(cd, 16n | (1n << 30n) | (1n << 31n) | (5n << 32n) | (1n << 41n) | (1n << 45n) | (1n << 46n) | (1n << 48n));
  bus.write64(cd + 8, BigInt(root));
  const strtab = alloc();
  bus.write64(strtab + SID * 64, 1n | (5n << 1n) | BigInt(cd));
  const base = 0x0905_0000;
  bus.write64(base + 0x80, BigInt(strtab));
  bus.write32(base + 0x88, 2);
  bus.write32(base + 0x20, 1); // SMMUEN
  return { m, smmu, port };
}

let sink = 0;

export async function bench(): Promise<BenchFigure[]> {
  // CPU reference: a TLB-hit ld32 on the same kind of table.
  const cm = new MachineCore({ ramSize: 64 * MiB });
  const cpu = new Cluster(cm, 1).cores[0]!;
  const root = RAM + 0x10_0000;
  const l1 = root + 0x1000;
  const l2 = root + 0x2000;
  const l3 = root + 0x3000;
  cm.bus.write64(root, BigInt(l1) | 3n);
  cm.bus.write64(l1, BigInt(l2) | 3n);
  cm.bus.write64(l2, BigInt(l3) | 3n);
  for (let i = 0; i < 4; i++) cm.bus.write64(l3 + (1 + i) * 8, BigInt(RAM + 0x80_0000 + i * 4096) | 3n | (1n << 10n));
  cpu.writeSysreg('TCR_EL1', 16n | (16n << 16n) | (2n << 30n) | (5n << 32n) | (1n << 36n));
  cpu.writeSysreg('TTBR0_EL1', BigInt(root));
  cpu.writeSysreg('SCTLR_EL1', cpu.readSysreg('SCTLR_EL1') | 1n);
  const cpuHitNs = timeNsPerOp((n) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += cpu.ld32(0x1000 + ((i * 4) & 0x3ffc));
    sink += s;
  }, 5_000_000);

  const { smmu, port } = smmuMachine();
  const out = new IommuResult();
  const attrs = DEFAULT_DMA_ATTRS;
  if (smmu.translate(port, 0x1000_0000, false, attrs, out) !== DmaStatus.Ok) throw new Error('smmu bench: setup does not translate');
  const hitNs = timeNsPerOp((n) => {
    let s = 0;
    for (let i = 0; i < n; i++) {
      smmu.translate(port, 0x1000_0000 + ((i * 64) & 0x3fff), false, attrs, out);
      s += out.pa;
    }
    sink += s;
  }, 5_000_000);

  const missNs = timeNsPerOp((n) => {
    let s = 0;
    for (let i = 0; i < n; i++) {
      smmu.translate(port, MISS_VAS[i & 3]!, false, attrs, out);
      s += out.pa;
    }
    sink += s;
  }, 200_000);

  const walkNs = timeNsPerOp((n) => {
    let s = 0;
    for (let i = 0; i < n; i++) {
      smmu.translate(port, WALK_VAS[i & 3]!, false, attrs, out);
      s += out.pa;
    }
    sink += s;
  }, 200_000);
  const misses0 = smmu.iotlb.misses;
  for (let i = 0; i < 8; i++) smmu.translate(port, WALK_VAS[i & 3]!, false, attrs, out);
  if (smmu.iotlb.misses - misses0 !== 8) throw new Error('smmu bench: the WALK_VAS must share one IOTLB slot');

  const src = new Uint8Array(MiB).map((_, i) => i & 0xff);
  const dst = new Uint8Array(MiB);
  const setNs = timeNsPerOp((n) => {
    for (let i = 0; i < n; i++) dst.set(src);
  }, 200);
  const dmaNs = timeNsPerOp((n) => {
    for (let i = 0; i < n; i++) if (port.write(0x1000_0000, src, 0, MiB) !== DmaStatus.Ok) throw new Error('dma failed');
  }, 200);
  if (sink === -1) console.log(sink);

  return [
    figure('smmu.iotlb_hit_translate_ns', hitNs, 'ns'),
    figure('smmu.iotlb_hit_vs_cpu_tlb_hit_ld32', hitNs / cpuHitNs, 'x', { max: 4 }, `cpu ld32 ${cpuHitNs.toFixed(1)} ns`),
    figure('smmu.iotlb_miss_4level_ns', missNs, 'ns'),
    figure('smmu.iotlb_miss_vs_cpu_tlb_hit_ld32', missNs / cpuHitNs, 'x', { max: 30 }, `cpu ld32 ${cpuHitNs.toFixed(1)} ns`),
    figure('smmu.iotlb_miss_vs_hit', missNs / hitNs, 'x', undefined, '4 descriptor reads (one-pass RAM walk) + permission-mask lookup + fill'),
    figure('smmu.iotlb_walk_every_access_ns', walkNs, 'ns', undefined, 'WALK_VAS: one IOTLB slot, so every access walks (MISS_VAS: every other one)'),
    figure('smmu.iotlb_walk_every_access_vs_cpu_tlb_hit_ld32', walkNs / cpuHitNs, 'x', undefined, `cpu ld32 ${cpuHitNs.toFixed(1)} ns`),
    figure('smmu.dma_1mib_s1_vs_u8_set', setNs / dmaNs, 'x', { min: 0.4 }, `set ${(setNs / 1000).toFixed(1)} us, dma ${(dmaNs / 1000).toFixed(1)} us`),
  ];
}
