// The core's walk cache (the table entries of a walk down to each level 3 table, per
// 2 MiB of VA) and its invalidation: DDI 0487 D8.16 (a TLB may cache intermediate
// table entries, never an entry that faulted) and D8.17 (TLBI by VA or range without
// "last level" reaches them, VALE1/RVALE1 need not, VMALLE1/ASIDE1 do; this core also
// empties them on any TTBR/TCR/SCTLR write). A table that is changed after the right
// TLBI must be seen; one changed without it may not be (as on hardware).

import { describe, expect, it } from 'vitest';
import { MachineCore } from '../../src/machine/machine.js';
import { Cluster } from '../../src/hw/cpu/cluster.js';
import type { Core } from '../../src/hw/cpu/core.js';
import { ExceptionLevel, type ArchCpu, type ExceptionVectors } from '../../src/arch/cpu.js';
import { encodeRangeOperand } from '../../src/hw/vmsa/tlbi-range.js';
import { TraceKind } from '../../src/trace/record.js';

const RAM = 0x4000_0000;
const AF = 1n << 10n;
const NG = 1n << 11n;
const PAGE = 3n;
const TABLE = 3n;
const AP_RW = 1n << 6n;
/** TCR: T0SZ=T1SZ=16, 4K granules, IPS 48 bits, 16-bit ASIDs, EPD1. */
const TCR_48 = 16n | (16n << 16n) | (2n << 30n) | (5n << 32n) | (1n << 36n) | (1n << 23n);
const MiB2 = 0x20_0000;
/** Two pages in one 2 MiB region (so they share the level 3 table) and their data pages. */
const VA_A = 0x4000_0000;
const VA_B = VA_A + 0x5000;
const DATA_OLD = RAM + 0x100_0000;
const DATA_NEW = RAM + 0x110_0000;

class Tables {
  private next = RAM + 0x20_0000;
  constructor(private readonly m: MachineCore) {}
  alloc(): number {
    const a = this.next;
    this.next += 4096;
    for (let i = 0; i < 4096; i += 8) this.m.bus.write64(a + i, 0n);
    return a;
  }
  /** The descriptor slot of `va` at `level` under `root`, creating the tables above it. */
  slot(root: number, va: number, level: number): number {
    let table = root;
    for (let l = 0; ; l++) {
      const slot = table + (Math.floor(va / 2 ** (12 + 9 * (3 - l))) % 512) * 8;
      if (l === level) return slot;
      let d = this.m.bus.read64(slot);
      if ((d & 1n) === 0n) {
        d = BigInt(this.alloc()) | TABLE;
        this.m.bus.write64(slot, d);
      }
      table = Number(d & 0xffff_ffff_f000n);
    }
  }
  /** A level 3 table mapping VA_A and VA_B to `data` and `data + 0x5000` (EL0 RW, nG). */
  leafTable(data: number): number {
    const t = this.alloc();
    for (const off of [0, 0x5000]) this.m.bus.write64(t + ((((VA_A + off) / 4096) % 512) * 8), BigInt(data + off) | PAGE | AF | NG | AP_RW);
    return t;
  }
}

class Vectors implements ExceptionVectors {
  faults: { dfsc: number; far: number }[] = [];
  fix: ((cpu: ArchCpu) => void) | undefined;
  sync(cpu: ArchCpu, _from: ExceptionLevel, esr: number, far: number): void {
    this.faults.push({ dfsc: esr & 0x3f, far });
    if (this.fix === undefined) throw new Error('unhandled fault');
    this.fix(cpu);
    this.fix = undefined;
  }
  irq(): void {}
  // eslint-disable-next-line require-yield
  *svc(): Generator<unknown, number, unknown> {
    return 0;
  }
}

function setup(fastRefill = true) {
  const m = new MachineCore({ ramSize: 64 * 1024 * 1024 });
  const cluster = new Cluster(m, 2);
  const cpu = cluster.cores[0]!;
  const vec = new Vectors();
  for (const c of cluster.cores) {
    c.setVectors(0, vec);
    c.fastRefill = fastRefill;
  }
  const t = new Tables(m);
  const root = t.alloc();
  const l2slot = t.slot(root, VA_A, 2);
  const oldTable = t.leafTable(DATA_OLD);
  const newTable = t.leafTable(DATA_NEW);
  m.bus.write64(l2slot, BigInt(oldTable) | TABLE);
  for (let i = 0; i < 0x10; i += 4) {
    m.bus.write32(DATA_OLD + i, 0x01d0 + i);
    m.bus.write32(DATA_OLD + 0x5000 + i, 0x01db + i);
    m.bus.write32(DATA_NEW + i, 0x0e70 + i);
    m.bus.write32(DATA_NEW + 0x5000 + i, 0x0e7b + i);
  }
  return { m, cluster, cpu, vec, t, root, l2slot, oldTable, newTable };
}

function enable(cpu: Core, root: number, asid: number): void {
  cpu.writeSysreg('TCR_EL1', TCR_48);
  cpu.writeSysreg('TTBR0_EL1', (BigInt(asid) << 48n) | BigInt(root));
  cpu.writeSysreg('SCTLR_EL1', cpu.readSysreg('SCTLR_EL1') | 1n);
  cpu.setEl(ExceptionLevel.EL0);
}

/** The TLBI operand for a VA (by page) and ASID. */
const op = (asid: number, va: number): bigint => (BigInt(asid) << 48n) | BigInt(va / 4096);

describe('CPU walk cache', () => {
  it('D8.16: a walk in a region it has walked before uses the cached table entries: a level 2 descriptor changed without TLBI is not seen', () => {
    const { m, cpu, root, l2slot, newTable } = setup();
    enable(cpu, root, 1);
    expect(cpu.ld32(VA_A)).toBe(0x01d0);
    m.bus.write64(l2slot, BigInt(newTable) | TABLE); // no TLBI
    // VA_B is not in the TLB: its walk goes through the cached level 2 entry to the old table.
    expect(cpu.ld32(VA_B)).toBe(0x01db);
  });

  it('the general (slow-path) walk, which has no walk cache, sees the change: the cache is the only reason for the stale result above', () => {
    const { m, cpu, root, l2slot, newTable } = setup(false);
    enable(cpu, root, 1);
    expect(cpu.ld32(VA_A)).toBe(0x01d0);
    m.bus.write64(l2slot, BigInt(newTable) | TABLE);
    expect(cpu.ld32(VA_B)).toBe(0x0e7b);
  });

  it('a cached walk charges and traces the full walk (the cost model has no walk-cache term)', () => {
    const { m, cpu, root } = setup();
    enable(cpu, root, 1);
    cpu.ld32(VA_A);
    m.trace.enable();
    const t0 = cpu.now();
    cpu.ld32(VA_B);
    expect(cpu.now() - t0).toBe(m.cost.cpuAccessNs + 4 * m.cost.walkStepNs);
    const walks = [...m.trace.records()].filter((r) => r.kind === TraceKind.Walk);
    expect(walks.map((r) => [r.size, r.pa])).toEqual([[4, BigInt(DATA_OLD + 0x5000)]]);
  });

  for (const [name, tlbi] of [
    ['TLBI VAE1IS of another page of the region', (c: Core) => c.tlbi('VAE1IS', op(1, VA_A))],
    ['TLBI VAAE1IS (any ASID)', (c: Core) => c.tlbi('VAAE1IS', op(0, VA_A + 0x1f_f000))],
    ['TLBI RVAE1IS over the region', (c: Core) => c.tlbi('RVAE1IS', rangeOp(1, VA_A - MiB2 / 2, 1, 7))],
    ['TLBI ASIDE1IS', (c: Core) => c.tlbi('ASIDE1IS', 1n << 48n)],
    ['TLBI VMALLE1IS', (c: Core) => c.tlbi('VMALLE1IS')],
    ['TLBI VMALLE1 (local)', (c: Core) => c.tlbi('VMALLE1')],
  ] as const) {
    it(`D8.17: ${name} drops the cached table entry: the next walk reads the new level 2 descriptor`, () => {
      const { m, cpu, root, l2slot, newTable } = setup();
      enable(cpu, root, 1);
      expect(cpu.ld32(VA_A)).toBe(0x01d0);
      m.bus.write64(l2slot, BigInt(newTable) | TABLE);
      tlbi(cpu);
      expect(cpu.ld32(VA_B)).toBe(0x0e7b);
    });
  }

  it('D8.17: the IS forms reach the walk cache of every core', () => {
    const { m, cluster, root, l2slot, newTable } = setup();
    const [c0, c1] = cluster.cores as [Core, Core];
    enable(c1, root, 1);
    expect(c1.ld32(VA_A)).toBe(0x01d0);
    m.bus.write64(l2slot, BigInt(newTable) | TABLE);
    c0.tlbi('VAE1IS', op(1, VA_A));
    expect(c1.ld32(VA_B)).toBe(0x0e7b);
  });

  for (const [name, tlbi] of [
    ['TLBI VALE1IS', (c: Core) => c.tlbi('VALE1IS', op(1, VA_A))],
    ['TLBI VAALE1IS', (c: Core) => c.tlbi('VAALE1IS', op(1, VA_A))],
    ['TLBI RVALE1IS', (c: Core) => c.tlbi('RVALE1IS', rangeOp(1, VA_A - MiB2 / 2, 1, 7))],
    ['TLBI VAE1IS of the next region', (c: Core) => c.tlbi('VAE1IS', op(1, VA_A + MiB2))],
    ['TLBI RVAE1IS ending below the region', (c: Core) => c.tlbi('RVAE1IS', rangeOp(1, VA_A - MiB2, 1, 7))],
  ] as const) {
    it(`D8.17: ${name} need not reach the walk cache, and does not: the old table stays in use`, () => {
      const { m, cpu, root, l2slot, newTable } = setup();
      enable(cpu, root, 1);
      expect(cpu.ld32(VA_A)).toBe(0x01d0);
      m.bus.write64(l2slot, BigInt(newTable) | TABLE);
      tlbi(cpu);
      expect(cpu.ld32(VA_B)).toBe(0x01db);
    });
  }

  it('a table freed after break-before-make and TLBI VAE1IS, then reused as a data page, is never walked again', () => {
    const { m, cpu, vec, root, l2slot, oldTable, newTable } = setup();
    enable(cpu, root, 1);
    cpu.st32(VA_A, 0x5a);
    // Break: the level 2 entry goes invalid, the TLB and walk caches are flushed for the region.
    m.bus.write64(l2slot, 0n);
    cpu.tlbi('VAE1IS', op(1, VA_A));
    // The old table page is handed out again and filled with descriptor-like junk.
    for (let i = 0; i < 4096; i += 8) m.bus.write64(oldTable + i, BigInt(RAM + 0x1f0_0000) | PAGE | AF | NG | AP_RW);
    // The region is unmapped now: a level 2 translation fault; the handler makes the new table.
    vec.fix = () => m.bus.write64(l2slot, BigInt(newTable) | TABLE);
    expect(cpu.ld32(VA_B)).toBe(0x0e7b);
    expect(vec.faults).toEqual([{ dfsc: 0b000110, far: VA_B }]);
    expect(cpu.ld32(VA_A)).toBe(0x0e70);
  });

  it('a translation fault at level 3 leaves the table entries above it cached; the retry after the handler maps the page walks them from the cache', () => {
    const { m, cpu, vec, root, oldTable } = setup();
    enable(cpu, root, 1);
    const slotC = oldTable + (((VA_A + 0x9000) / 4096) % 512) * 8;
    vec.fix = () => m.bus.write64(slotC, BigInt(DATA_NEW) | PAGE | AF | NG | AP_RW);
    const t0 = cpu.now();
    expect(cpu.ld32(VA_A + 0x9000)).toBe(0x0e70);
    expect(vec.faults).toEqual([{ dfsc: 0b000111, far: VA_A + 0x9000 }]);
    // Two walks of four levels each, the exception, the access.
    expect(cpu.now() - t0).toBe(m.cost.cpuAccessNs + 8 * m.cost.walkStepNs + m.cost.exceptionNs);
  });

  it('writing TTBR0 empties the walk cache: another address space (another ASID) walks its own tables', () => {
    const { m, cpu, root, t, newTable } = setup();
    const rootB = t.alloc();
    m.bus.write64(t.slot(rootB, VA_A, 2), BigInt(newTable) | TABLE);
    enable(cpu, root, 1);
    expect(cpu.ld32(VA_A)).toBe(0x01d0);
    cpu.writeSysreg('TTBR0_EL1', (2n << 48n) | BigInt(rootB));
    expect(cpu.ld32(VA_B)).toBe(0x0e7b);
    cpu.writeSysreg('TTBR0_EL1', (1n << 48n) | BigInt(root));
    expect(cpu.ld32(VA_B)).toBe(0x01db);
  });

  it('ASID rollover: an ASID reused for new tables after TLBI VMALLE1IS walks the new tables', () => {
    const { m, cpu, root, t, newTable } = setup();
    const rootB = t.alloc();
    m.bus.write64(t.slot(rootB, VA_A, 2), BigInt(newTable) | TABLE);
    enable(cpu, root, 7);
    expect(cpu.ld32(VA_A)).toBe(0x01d0);
    expect(cpu.ld32(VA_B)).toBe(0x01db);
    // flush_context, then the same ASID for another mm.
    cpu.tlbi('VMALLE1IS');
    cpu.writeSysreg('TTBR0_EL1', (7n << 48n) | BigInt(rootB));
    expect(cpu.ld32(VA_B)).toBe(0x0e7b);
    expect(cpu.ld32(VA_A)).toBe(0x0e70);
  });

  it('a changed level 1 entry: TLBI VAE1IS of one page drops the cached walk of its region (it holds the level 1 entry too); the leaf TLB entries of other pages stay', () => {
    const { m, cpu, root, t, newTable } = setup();
    // The level 1 entry of the region changes to a new level 2 table (which points at the new leaf table).
    const l1slot = t.slot(root, VA_A, 1);
    const l2 = t.alloc();
    m.bus.write64(l2 + ((VA_A / MiB2) % 512) * 8, BigInt(newTable) | TABLE);
    enable(cpu, root, 1);
    expect(cpu.ld32(VA_A)).toBe(0x01d0);
    m.bus.write64(l1slot, BigInt(l2) | TABLE);
    cpu.tlbi('VAE1IS', op(1, VA_A + 0x1000));
    expect(cpu.ld32(VA_B)).toBe(0x0e7b);
    expect(cpu.ld32(VA_A)).toBe(0x01d0); // its TLB entry was not invalidated
    cpu.tlbi('VALE1IS', op(1, VA_A));
    expect(cpu.ld32(VA_A)).toBe(0x0e70);
  });
});

/** Range TLBI operand covering (num+1) << (5*scale+1) pages from `base` (4K granule). */
function rangeOp(asid: number, base: number, scale: number, num: number): bigint {
  const [lo, hi] = encodeRangeOperand(asid, 12, scale, num, 0, base);
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}
