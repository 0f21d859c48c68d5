import { describe, expect, it } from 'vitest';
import { MachineCore } from '../../src/machine/machine.js';
import { Cluster } from '../../src/hw/cpu/cluster.js';
import type { Core } from '../../src/hw/cpu/core.js';
import { TLB_SCRATCH } from '../../src/hw/cpu/tlb.js';
import { mulberry32u } from '../../src/machine/prng.js';
import { ExceptionLevel, type ArchCpu, type ExceptionVectors, type TlbiOp } from '../../src/arch/cpu.js';
import type { AccessSize, MmioAccess } from '../../src/hw/bus/mmio.js';

// The core's TLB refill fast path (4 KiB stage 1 walks through RAM-resident tables) must
// be invisible: a core with it and a core without it, given the same tables, regimes and
// accesses, end with the same TLB, the same loaded values, faults (ESR/FAR), MMIO
// accesses, local time and trace records.

const RAM = 0x4000_0000;
const RAM_SIZE = 8 << 20;
/** Table pool: every descriptor of these pages is random, and accesses may rewrite them. */
const POOL_PAGES = 512;
const MMIO = 0x0900_0000;

class Killed extends Error {}
/** One instance, thrown again and again: no stack captured per fault. */
const KILLED = new Killed('access abandoned by the test vector');

type Op =
  | { kind: 'load'; size: 1 | 2 | 4 | 8; va: number }
  | { kind: 'store'; size: 1 | 2 | 4 | 8; va: number; value: number }
  | { kind: 'sysreg'; name: 'TCR_EL1' | 'TTBR0_EL1' | 'TTBR1_EL1' | 'SCTLR_EL1' | 'PAN'; value: bigint }
  | { kind: 'el'; el: ExceptionLevel }
  | { kind: 'tlbi'; op: TlbiOp; arg: bigint }
  | { kind: 'at' | 'tryRead' | 'tryWrite'; va: number; write: boolean; unprivileged: boolean };

const TLBI_OPS: TlbiOp[] = ['VMALLE1IS', 'VMALLE1', 'ASIDE1IS', 'VAE1IS', 'VALE1IS', 'VAAE1IS', 'VAALE1IS', 'RVAE1IS', 'RVALE1IS', 'RVAAE1IS'];

/** A random descriptor: mostly table/page (0b11) into the pool, some blocks, invalid, AF-clear, out of RAM or beyond the IPS. */
function descriptor(next: () => number): [number, number] {
  const r = next() % 100;
  const attrs = (next() & 0xffc & ~(1 << 10)) | (next() % 20 === 0 ? 0 : 1 << 10);
  let hi = next() % 8 === 0 ? next() & 0x7ff8_0000 : 0; // APTable/XNTable/UXN/PXN/SW/DBM bits
  let pa: number;
  const where = next() % 40;
  if (where === 0) pa = MMIO + (next() % 16) * 4096;
  else if (where === 1) pa = RAM + RAM_SIZE + (next() % 16) * 4096; // nothing there: bus error
  else if (where === 2) pa = 2 ** 44 + (next() % 16) * 4096; // beyond a 40-bit IPS
  else pa = RAM + (next() % POOL_PAGES) * 4096 + (next() % 32 === 0 ? (next() % 512) * 4096 * 512 : 0);
  const lo = ((pa % 2 ** 32) & ~0xfff) | attrs;
  hi |= Math.floor(pa / 2 ** 32) & 0xffff;
  if (r < 85) return [(lo | 3) >>> 0, hi >>> 0];
  if (r < 95) return [((lo & ~3) | 1) >>> 0, hi >>> 0];
  return [(lo & ~1) >>> 0, hi >>> 0];
}

function randomTcr(next: () => number): bigint {
  const tsz = () => [16, 16, 16, 20, 25, 28, 33, 39, next() % 64][next() % 9]!;
  const tg0 = next() % 5 === 0 ? next() % 4 : 0;
  const tg1 = next() % 5 === 0 ? next() % 4 : 2;
  const ips = next() % 4 === 0 ? next() % 8 : 5;
  let v = BigInt(tsz()) | (BigInt(tsz()) << 16n) | (BigInt(tg0) << 14n) | (BigInt(tg1) << 30n) | (BigInt(ips) << 32n);
  if (next() % 10 === 0) v |= 1n << 7n; // EPD0
  if (next() % 10 === 0) v |= 1n << 23n; // EPD1
  if (next() % 2 === 0) v |= 1n << 22n; // A1
  if (next() % 2 === 0) v |= 1n << 36n; // AS
  if (next() % 3 === 0) v |= 1n << 37n; // TBI0
  if (next() % 3 === 0) v |= 1n << 38n; // TBI1
  return v;
}

function randomTtbr(next: () => number): bigint {
  const asid = BigInt(next() % 4 === 0 ? next() & 0xffff : next() % 4);
  const base = next() % 16 === 0 ? RAM + RAM_SIZE : RAM + (next() % POOL_PAGES) * 4096 + (next() % 8 === 0 ? (next() % 512) * 8 : 0);
  return (asid << 48n) | BigInt(base);
}

function randomOps(seed: number, count: number): Op[] {
  const next = mulberry32u(seed);
  let tcr = randomTcr(next);
  // Most VAs fall in the current regime's TTBR0/TTBR1 ranges (TxSZ clamped to [16, 39]).
  const rangeBits = (tsz: number) => 64 - Math.min(39, Math.max(16, tsz));
  const ops: Op[] = [
    { kind: 'sysreg', name: 'TCR_EL1', value: tcr },
    { kind: 'sysreg', name: 'TTBR0_EL1', value: randomTtbr(next) },
    { kind: 'sysreg', name: 'TTBR1_EL1', value: randomTtbr(next) },
    { kind: 'sysreg', name: 'SCTLR_EL1', value: 0x30d0_0801n },
  ];
  const recent: number[] = [];
  const sizes = [1, 2, 4, 8] as const;
  for (let i = 0; i < count; i++) {
    const r = next() % 200;
    if (r === 0) {
      tcr = randomTcr(next);
      ops.push({ kind: 'sysreg', name: 'TCR_EL1', value: tcr });
    }
    else if (r === 1) ops.push({ kind: 'sysreg', name: 'TTBR0_EL1', value: randomTtbr(next) });
    else if (r === 2) ops.push({ kind: 'sysreg', name: 'TTBR1_EL1', value: randomTtbr(next) });
    else if (r === 3) ops.push({ kind: 'sysreg', name: 'SCTLR_EL1', value: (next() % 8 === 0 ? 0n : 1n) | (next() % 2 === 0 ? 0n : 1n << 23n) | 0x30d0_0800n });
    else if (r < 8) ops.push({ kind: 'sysreg', name: 'PAN', value: next() % 2 === 0 ? 0n : 1n << 22n });
    else if (r < 12) ops.push({ kind: 'el', el: next() % 3 === 0 ? ExceptionLevel.EL0 : ExceptionLevel.EL1 });
    else if (r < 16) ops.push({ kind: 'tlbi', op: TLBI_OPS[next() % TLBI_OPS.length]!, arg: (BigInt(next()) << 32n) | BigInt(next()) });
    else {
      let va: number;
      const pick = next() % 10;
      if (pick < 4 && recent.length > 0) va = recent[next() % recent.length]! + (next() % 16) * 8;
      else if (pick < 7) va = Math.floor((((next() % 2 ** 21) * 2 ** 32 + next()) / 2 ** 53) * 2 ** rangeBits(Number(tcr & 63n))); // TTBR0
      else if (pick < 9) va = -Math.floor((((next() % 2 ** 21) * 2 ** 32 + next() + 1) / 2 ** 53) * 2 ** rangeBits(Number((tcr >> 16n) & 63n))); // TTBR1
      else va = (next() % 256) * 2 ** 56 + (next() % 2 ** 16) * 2 ** 32 + next(); // tagged or unsigned form
      if (next() % 4 !== 0) va -= va % 8;
      if (pick >= 4 && recent.length < 64) recent.push(va - (va % 4096));
      const size = sizes[next() % 4]!;
      const how = next() % 12;
      if (how < 2) ops.push({ kind: how === 0 ? 'at' : next() % 2 === 0 ? 'tryRead' : 'tryWrite', va, write: next() % 2 === 0, unprivileged: next() % 2 === 0 });
      else ops.push(how < 6 ? { kind: 'store', size, va, value: next() } : { kind: 'load', size, va });
    }
  }
  return ops;
}

interface Run {
  m: MachineCore;
  cpu: Core;
  /** What each op did: the value loaded, or the fault's ESR/FAR. */
  results: string[];
  mmio: string[];
  fastRefills: number;
}

function randomPool(seed: number): Uint8Array {
  const next = mulberry32u(seed ^ 0x5eed);
  const words = new Uint32Array(POOL_PAGES * 1024);
  for (let i = 0; i < words.length; i += 2) [words[i], words[i + 1]] = descriptor(next);
  return new Uint8Array(words.buffer);
}

function machine(pool: Uint8Array, fast: boolean, trace = true): Run {
  const m = new MachineCore({ ramSize: RAM_SIZE, trace, traceCapacity: 1 << 16 });
  const cpu = new Cluster(m, 1).cores[0]!;
  cpu.fastRefill = fast;
  const run: Run = { m, cpu, results: [], mmio: [], fastRefills: 0 };
  m.bus.map('scratch', MMIO, 0x10000, {
    name: 'scratch',
    mmioRead(offset: number, size: AccessSize, acc: MmioAccess) {
      run.mmio.push(`r${size}@${offset}`);
      acc.lo = (offset * 0x9e37_79b9) >>> 0;
      acc.hi = offset;
    },
    mmioWrite(offset: number, size: AccessSize, acc: MmioAccess) {
      run.mmio.push(`w${size}@${offset}=${acc.lo},${acc.hi}`);
    },
  });
  const vectors: ExceptionVectors = {
    sync(c: ArchCpu, _from: ExceptionLevel, esr: number, far: number) {
      // The vector's ESR/FAR arguments are the registers' values (FAR unsigned, as a Number).
      const argsOk = BigInt(esr) === c.readSysreg('ESR_EL1') && far === Number(c.readSysreg('FAR_EL1'));
      run.results.push(`fault esr=${c.readSysreg('ESR_EL1')} far=${c.readSysreg('FAR_EL1')}${argsOk ? '' : ` args ${esr} ${far}`}`);
      throw KILLED;
    },
    irq() {},
    // eslint-disable-next-line require-yield
    *svc() {
      return 0;
    },
  };
  cpu.setVectors(0, vectors);
  m.bus.ram.writeFrom(0, pool, 0, pool.length);
  const spy = cpu as unknown as { refill(va: number, need: number): number };
  const refill = spy.refill.bind(cpu);
  spy.refill = (va: number, need: number) => {
    const s = refill(va, need);
    if (s >= 0) run.fastRefills++;
    return s;
  };
  return run;
}

function apply(run: Run, op: Op): void {
  const cpu = run.cpu;
  try {
    switch (op.kind) {
      case 'load': {
        const v = op.size === 1 ? cpu.ld8(op.va) : op.size === 2 ? cpu.ld16(op.va) : op.size === 4 ? cpu.ld32(op.va) : cpu.ld64(op.va);
        run.results.push(`ld ${v}`);
        break;
      }
      case 'store':
        if (op.size === 1) cpu.st8(op.va, op.value & 0xff);
        else if (op.size === 2) cpu.st16(op.va, op.value & 0xffff);
        else if (op.size === 4) cpu.st32(op.va, op.value);
        else cpu.st64(op.va, op.value * 3);
        run.results.push('st');
        break;
      case 'sysreg':
        cpu.writeSysreg(op.name, op.value);
        break;
      case 'el':
        cpu.setEl(op.el);
        break;
      case 'tlbi':
        cpu.tlbi(op.op, op.arg);
        break;
      case 'at': {
        const r = cpu.at(op.va, { write: op.write, unprivileged: op.unprivileged });
        run.results.push('pa' in r ? `at pa=${r.pa}` : `at esr=${r.esr} far=${r.far}`);
        break;
      }
      case 'tryRead':
      case 'tryWrite': {
        const buf = new Uint8Array(24).fill(0x5a);
        const f = op.kind === 'tryRead' ? cpu.tryReadVirt(op.va, buf, 0, 24, op) : cpu.tryWriteVirt(op.va, buf, 0, 24, op);
        run.results.push(f === undefined ? `copy ${buf.join(',')}` : `copy esr=${f.esr} far=${f.far}`);
        break;
      }
    }
  } catch (e) {
    if (!(e instanceof Killed)) throw e;
  }
  run.results.push(`t=${cpu.now()}`);
}

function tlbState(cpu: Core): unknown {
  const t = cpu.tlb;
  const valid: number[] = [];
  for (let s = 0; s <= TLB_SCRATCH; s++) if (t.vpn[s] === t.vpn[s] || s === TLB_SCRATCH) valid.push(s);
  return valid.map((s) => [s, t.vpn[s], t.ctx[s], t.perm[s], t.active[s], t.pa[s], t.off[s], t.sizeShift[s]]);
}

function traceRecords(m: MachineCore): unknown[] {
  return [...m.trace.records()].map((r) => JSON.stringify(r, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)));
}

describe('CPU TLB refill fast path', () => {
  it('D8.2 / D8.3: random tables, regimes, permissions and accesses give the same TLB, values, faults (ESR/FAR), MMIO accesses, time and trace records with and without the fast path', () => {
    let fastRefills = 0;
    let faults = 0;
    const dfscs = new Set<string>();
    // Seeds 13-16 run with tracing off: the fast path's untraced branches keep the same time and faults.
    for (let seed = 1; seed <= 16; seed++) {
      const ops = randomOps(seed, 4000);
      const pool = randomPool(seed);
      const a = machine(pool, true, seed <= 12);
      const b = machine(pool, false, seed <= 12);
      for (let i = 0; i < ops.length; i++) {
        apply(a, ops[i]!);
        apply(b, ops[i]!);
        if (i % 500 === 499 || i === ops.length - 1) {
          const where = `seed ${seed} op ${i}`;
          expect(a.results, where).toEqual(b.results);
          expect(a.mmio, where).toEqual(b.mmio);
          expect(tlbState(a.cpu), where).toEqual(tlbState(b.cpu));
          expect(traceRecords(a.m), where).toEqual(traceRecords(b.m));
          fastRefills += a.fastRefills;
          faults += a.results.filter((r) => r.startsWith('fault')).length;
          expect(a.results.filter((r) => r.includes(' args ')), where).toEqual([]);
          for (const r of a.results) if (r.startsWith('fault')) dfscs.add(r.split(' ')[1]!);
          for (const run of [a, b]) {
            run.results.length = 0;
            run.mmio.length = 0;
            run.m.trace.clear();
            run.fastRefills = 0;
          }
        }
      }
      expect(b.fastRefills).toBe(0);
    }
    // The run exercised both paths: many fast refills, and many accesses the general path handled.
    expect(fastRefills).toBeGreaterThan(3000);
    expect(faults).toBeGreaterThan(3000);
    // Faults of every kind the fast path hands over: translation, address size, access flag, permission, external abort on walk.
    const dfsc = new Set([...dfscs.keys()].map((esr) => Number(esr.slice(4)) & 0x3c));
    for (const kind of [0x00, 0x04, 0x08, 0x0c, 0x10]) expect(dfsc, `DFSC class 0x${kind.toString(16)}`).toContain(kind);
  });

  it('a TTBR1 access, a 2 MiB block and a page left with AF clear: the fast path fills what the general path fills, and the fault is the general path\'s', () => {
    const results: unknown[] = [];
    for (const fast of [true, false]) {
      const m = new MachineCore({ ramSize: RAM_SIZE, trace: true });
      const cpu = new Cluster(m, 1).cores[0]!;
      cpu.fastRefill = fast;
      const esrs: bigint[] = [];
      cpu.setVectors(0, {
        sync(c: ArchCpu) {
          esrs.push(c.readSysreg('ESR_EL1'));
          throw KILLED;
        },
        irq() {},
        // eslint-disable-next-line require-yield
        *svc() {
          return 0;
        },
      });
      // TTBR1 with T1SZ=25 (39-bit VA, start at level 1): L1[511] -> L2 table; L2[0] a 2 MiB block, L2[1] -> L3 with AF clear.
      const l1 = RAM + 0x1000;
      const l2 = RAM + 0x2000;
      const l3 = RAM + 0x3000;
      m.bus.write64(l1 + 511 * 8, BigInt(l2) | 3n);
      m.bus.write64(l2, BigInt(RAM + 0x20_0000) | 1n | (1n << 10n) | (1n << 11n));
      m.bus.write64(l2 + 8, BigInt(l3) | 3n);
      m.bus.write64(l3, BigInt(RAM + 0x40_0000) | 3n);
      m.bus.write64(RAM + 0x20_0000 + 0x1234 * 8, 0x1122_3344_5566_7788n);
      cpu.writeSysreg('TCR_EL1', (25n << 16n) | (2n << 30n) | (5n << 32n) | (1n << 36n) | (1n << 7n));
      cpu.writeSysreg('TTBR1_EL1', (7n << 48n) | BigInt(l1));
      cpu.writeSysreg('SCTLR_EL1', 0x30d0_0801n);
      const top = -(2 ** 30); // L1 index 511 of a 39-bit TTBR1 region
      const v = cpu.ld64n(top + 0x1234 * 8);
      try {
        cpu.ld32(top + 0x20_0000);
      } catch (e) {
        if (!(e instanceof Killed)) throw e;
      }
      results.push({ v, esrs, tlb: tlbState(cpu), trace: traceRecords(m) });
    }
    expect(results[0]).toEqual(results[1]);
    const first = results[0] as { v: bigint; esrs: bigint[] };
    expect(first.v).toBe(0x1122_3344_5566_7788n);
    // D8.5.1: AF clear with no hardware update: Access flag fault, level 3 (DFSC 0b001011).
    expect(first.esrs.map((e) => Number(e & 0x3fn))).toEqual([0x0b]);
  });
});
