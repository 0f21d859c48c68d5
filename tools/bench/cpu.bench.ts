// CPU hot paths, as ratios measured in the same run:
// - a TLB-hit translated ld32 against a raw Uint32Array read (target <= 8x);
// - a TLB miss (4-level walk of 4 descriptor reads plus TLB fill) against a TLB-hit ld32
//   (target <= 25x).

import { figure, timeNsPerOp, type BenchFigure } from './figure.js';
import { MachineCore } from '../../src/machine/machine.js';
import { Cluster } from '../../src/hw/cpu/cluster.js';
import type { Core } from '../../src/hw/cpu/core.js';
import { TLB_MASK } from '../../src/hw/cpu/tlb.js';

const RAM = 0x4000_0000;
const MiB = 1 << 20;
const TABLE = 3n;
const PAGE_AF = 3n | (1n << 10n);
/**
 * VAs for the miss loop: all in the same TLB set (a multiple of TLB_SIZE pages apart)
 * and in different level 0/1/2 tables, so each access evicts the previous entry and
 * does a full 4-level walk over tables that stay in the host cache: the figure is the
 * emulator's walk cost, not host DRAM latency.
 */
const MISS_VAS = [0x0000_1000_0000_0000, 0x0000_2040_4000_0000, 0x0000_3080_8040_0000, 0x0000_40c0_c080_0000].map((v) => v + 5 * 4096);

function mmuMachine(): { m: MachineCore; cpu: Core } {
  const m = new MachineCore({ ramSize: 256 * MiB });
  const cpu = new Cluster(m, 1).cores[0]!;
  let next = RAM + 0x10_0000;
  const alloc = () => {
    const a = next;
    next += 4096;
    return a;
  };
  const root = alloc();
  const map = (va: number, pa: number) => {
    let table = root;
    for (let level = 0; level < 3; level++) {
      const slot = table + (Math.floor(va / 2 ** (12 + 9 * (3 - level))) % 512) * 8;
      let d = m.bus.read64(slot);
      if ((d & 1n) === 0n) {
        d = BigInt(alloc()) | TABLE;
        m.bus.write64(slot, d);
      }
      table = Number(d & 0xffff_ffff_f000n);
    }
    m.bus.write64(table + (Math.floor(va / 4096) % 512) * 8, BigInt(pa) | PAGE_AF);
  };
  for (const [i, va] of MISS_VAS.entries()) map(va, RAM + 0x100_0000 + i * 4096);
  for (let i = 0; i < 4; i++) map(0x1000 + i * 4096, RAM + 0x80_0000 + i * 4096);
  // T0SZ=16, 4K, IPS 48 bits, 16-bit ASIDs; MMU on.
  cpu.writeSysreg('TCR_EL1', 16n | (16n << 16n) | (2n << 30n) | (5n << 32n) | (1n << 36n));
  cpu.writeSysreg('TTBR0_EL1', BigInt(root));
  cpu.writeSysreg('SCTLR_EL1', cpu.readSysreg('SCTLR_EL1') | 1n);
  return { m, cpu };
}

let sink = 0;

export async function bench(): Promise<BenchFigure[]> {
  const raw = new Uint32Array(4 * 1024);
  for (let i = 0; i < raw.length; i++) raw[i] = i;
  const rawNs = timeNsPerOp((n) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += raw[(i * 4) & 0xfff]!;
    sink += s;
  }, 5_000_000);

  const { cpu } = mmuMachine();
  const hitNs = timeNsPerOp((n) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += cpu.ld32(0x1000 + ((i * 4) & 0x3ffc));
    sink += s;
  }, 5_000_000);

  const missNs = timeNsPerOp((n) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += cpu.ld32(MISS_VAS[i & 3]!);
    sink += s;
  }, 200_000);
  if (sink === -1) console.log(sink);
  const sets = new Set(MISS_VAS.map((va) => (va / 4096) & TLB_MASK));
  if (sets.size !== 1) throw new Error('cpu bench: the miss VAs must share one TLB set');

  return [
    figure('cpu.raw_u32_read_ns', rawNs, 'ns'),
    figure('cpu.tlb_hit_ld32_ns', hitNs, 'ns'),
    figure('cpu.tlb_miss_walk_ld32_ns', missNs, 'ns', undefined, '4 descriptor reads + TLB fill per access'),
    figure('cpu.tlb_hit_ld32_vs_u32_read', hitNs / rawNs, 'x', { max: 8 }),
    figure('cpu.walk_fill_vs_tlb_hit', missNs / hitNs, 'x', { max: 25 }),
  ];
}
