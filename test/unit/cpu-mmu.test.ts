import { describe, expect, it } from 'vitest';
import { MachineCore } from '../../src/machine/machine.js';
import { Cluster } from '../../src/hw/cpu/cluster.js';
import type { Core } from '../../src/hw/cpu/core.js';
import { ExceptionLevel, type ArchCpu, type ExceptionVectors } from '../../src/arch/cpu.js';
import { encodeRangeOperand } from '../../src/hw/vmsa/tlbi-range.js';
import type { MmioAccess, MmioDevice } from '../../src/hw/bus/mmio.js';
import { TraceKind } from '../../src/trace/record.js';

const RAM = 0x4000_0000;
const AF = 1n << 10n;
const NG = 1n << 11n;
const PAGE = 3n;
const TABLE = 3n;
const BLOCK = 1n;
const AP_EL1_RW = 0n << 6n;
const AP_RW = 1n << 6n;
const AP_EL1_RO = 2n << 6n;
const AP_RO = 3n << 6n;

// TCR: T0SZ=T1SZ=16, TG0=4K (0b00), TG1=4K (0b10), IPS=48 bits (0b101), AS=1 (16-bit ASIDs).
const TCR_48 = 16n | (16n << 16n) | (2n << 30n) | (5n << 32n) | (1n << 36n);
const TCR_EPD0 = 1n << 7n;
const TCR_EPD1 = 1n << 23n;
const TCR_A1 = 1n << 22n;

/** Page tables in guest RAM (4K granule, 48-bit VA, level 0 start). */
class Tables {
  private next: number;
  constructor(
    private readonly m: MachineCore,
    base = RAM + 0x10_0000,
  ) {
    this.next = base;
  }
  alloc(): number {
    const a = this.next;
    this.next += 4096;
    for (let i = 0; i < 4096; i += 8) this.m.bus.write64(a + i, 0n);
    return a;
  }
  /** Maps `va` (signed for TTBR1) to `leaf` at `level` under root `ttb`. Returns the leaf slot PA. */
  map(ttb: number, va: number, leaf: bigint, level = 3, tableAttrs = 0n): number {
    const input = va < 0 ? va + 2 ** 48 : va;
    let table = ttb;
    for (let l = 0; ; l++) {
      const shift = 12 + 9 * (3 - l);
      const slot = table + (Math.floor(input / 2 ** shift) % 512) * 8;
      if (l === level) {
        this.m.bus.write64(slot, leaf);
        return slot;
      }
      let d = this.m.bus.read64(slot);
      if ((d & 1n) === 0n) {
        d = BigInt(this.alloc()) | TABLE | tableAttrs;
        this.m.bus.write64(slot, d);
      }
      table = Number(d & 0xffff_ffff_f000n);
    }
  }
}

/** Records synchronous exceptions; `fix` runs in the handler (return = retry). */
class Vectors implements ExceptionVectors {
  taken: { esr: bigint; far: bigint; from: ExceptionLevel; el: ExceptionLevel }[] = [];
  fix: ((cpu: ArchCpu) => void) | undefined;
  sync(cpu: ArchCpu, from: ExceptionLevel): void {
    this.taken.push({ esr: cpu.readSysreg('ESR_EL1'), far: cpu.readSysreg('FAR_EL1'), from, el: cpu.el });
    if (this.fix === undefined) throw new Error('unhandled fault');
    this.fix(cpu);
  }
  irq(): void {}
  // eslint-disable-next-line require-yield
  *svc(): Generator<unknown, number, unknown> {
    return 0;
  }
}

function setup(cpus = 2) {
  const m = new MachineCore({ ramSize: 64 * 1024 * 1024 });
  const cluster = new Cluster(m, cpus);
  const t = new Tables(m);
  const vec = new Vectors();
  for (const c of cluster.cores) c.setVectors(0, vec);
  return { m, cluster, cpu: cluster.cores[0]!, t, vec };
}

function enableMmu(cpu: Core, ttbr0: number, asid = 0, tcr = TCR_48, ttbr1 = 0): void {
  cpu.writeSysreg('TCR_EL1', tcr);
  cpu.writeSysreg('TTBR0_EL1', (BigInt(asid) << 48n) | BigInt(ttbr0));
  cpu.writeSysreg('TTBR1_EL1', BigInt(ttbr1));
  cpu.writeSysreg('SCTLR_EL1', cpu.readSysreg('SCTLR_EL1') | 1n);
}

const ec = (esr: bigint) => Number(esr >> 26n);
const dfsc = (esr: bigint) => Number(esr & 0x3fn);
const wnr = (esr: bigint) => (esr & (1n << 6n)) !== 0n;

describe('CPU MMU: regime selection', () => {
  it('D8.2.10: with SCTLR.M=0 the VA is the PA', () => {
    const { m, cpu } = setup();
    m.bus.write32(RAM + 0x2000, 0xdeadbeef);
    expect(cpu.ld32(RAM + 0x2000)).toBe(0xdeadbeef);
    cpu.st16(RAM + 0x2006, 0x1234);
    expect(m.bus.read16(RAM + 0x2006)).toBe(0x1234);
  });

  it('D8.2.5: VA bit 55 selects TTBR0 (0x0000...) or TTBR1 (0xffff... given as a negative Number)', () => {
    const { m, cpu, t } = setup();
    const root0 = t.alloc();
    const root1 = t.alloc();
    t.map(root0, 0x1000, BigInt(RAM + 0x20_0000) | PAGE | AF);
    t.map(root1, -(2 ** 47) + 0x1000, BigInt(RAM + 0x30_0000) | PAGE | AF);
    m.bus.write32(RAM + 0x20_0000, 0xaaaa);
    m.bus.write32(RAM + 0x30_0000, 0xbbbb);
    enableMmu(cpu, root0, 0, TCR_48, root1);
    expect(cpu.ld32(0x1000)).toBe(0xaaaa);
    expect(cpu.ld32(-(2 ** 47) + 0x1000)).toBe(0xbbbb);
    // The unsigned spelling of a TTBR1 address works where the Number is exact.
    t.map(root1, -(2 ** 47), BigInt(RAM + 0x30_0000) | PAGE | AF);
    expect(cpu.ld32(0xffff_8000_0000_0000)).toBe(0xbbbb);
  });

  it('AArch64.S1Translate: a VA outside both TxSZ ranges is a level 0 translation fault (DFSC 0b000100), FAR = VA', () => {
    const { cpu, t, vec } = setup();
    const root = t.alloc();
    // T0SZ=25: 39-bit TTBR0 range.
    enableMmu(cpu, root, 0, (TCR_48 & ~0x3fn) | 25n);
    const r = cpu.at(2 ** 40);
    expect('esr' in r && dfsc(BigInt(r.esr))).toBe(0b000100);
    expect(() => cpu.ld8(2 ** 40)).toThrow('unhandled fault');
    expect(vec.taken).toHaveLength(1);
    expect(ec(vec.taken[0]!.esr)).toBe(0x25);
    expect(vec.taken[0]!.far).toBe(BigInt(2 ** 40));
  });

  it('AArch64.S1Translate: TCR.EPD0/EPD1 make a TLB miss in that half a level 0 translation fault', () => {
    const { cpu, t } = setup();
    const root = t.alloc();
    t.map(root, 0x5000, BigInt(RAM) | PAGE | AF);
    enableMmu(cpu, root, 0, TCR_48 | TCR_EPD0);
    const r = cpu.at(0x5000);
    expect('esr' in r ? dfsc(BigInt(r.esr)) : -1).toBe(0b000100);
    cpu.writeSysreg('TCR_EL1', TCR_48 | TCR_EPD1);
    expect(cpu.at(0x5000)).toEqual({ pa: RAM });
    const r1 = cpu.at(-(2 ** 47));
    expect('esr' in r1 ? dfsc(BigInt(r1.esr)) : -1).toBe(0b000100);
  });

  it('D24.2.194: TG1 encodes 4K as 0b10 (TG0 uses 0b00); a 16K TTBR1 walk uses the TG1 encoding 0b01', () => {
    const { m, cpu, t } = setup();
    const root0 = t.alloc();
    t.map(root0, 0x3000, BigInt(RAM + 0x40_0000) | PAGE | AF);
    // 16K TTBR1 tables with T1SZ=17 (47-bit): levels 1..3, 16K pages.
    const l1 = RAM + 0x80_0000;
    const l2 = l1 + 0x4000;
    const l3 = l2 + 0x4000;
    const va = -(2 ** 46) + 0x4000;
    const input = va + 2 ** 47;
    m.bus.write64(l1 + (Math.floor(input / 2 ** 36) % 2048) * 8, BigInt(l2) | TABLE);
    m.bus.write64(l2 + (Math.floor(input / 2 ** 25) % 2048) * 8, BigInt(l3) | TABLE);
    m.bus.write64(l3 + (Math.floor(input / 2 ** 14) % 2048) * 8, BigInt(RAM + 0x90_0000) | PAGE | AF);
    const tcr = 16n | (17n << 16n) | (1n << 30n) | (5n << 32n) | (1n << 36n);
    enableMmu(cpu, root0, 0, tcr, l1);
    expect(cpu.at(va + 0x123)).toEqual({ pa: RAM + 0x90_0123 });
    expect(cpu.at(0x3000)).toEqual({ pa: RAM + 0x40_0000 });
  });
  it('D8.8 (TBI): with TCR.TBI0 the top byte of a TTBR0 address is ignored; without it the tagged address faults', () => {
    const { m, cpu, t } = setup();
    const root = t.alloc();
    t.map(root, 0x8000, BigInt(RAM + 0x60_0000) | PAGE | AF);
    m.bus.write32(RAM + 0x60_0000, 0x7a6);
    const tagged = 2 ** 56 * 0x5a + 0x8000; // top byte 0x5a (exact: 48 significant bits)
    enableMmu(cpu, root, 0, TCR_48 | (1n << 37n));
    expect(cpu.ld32(tagged)).toBe(0x7a6);
    expect(cpu.at(tagged)).toEqual({ pa: RAM + 0x60_0000 });
    cpu.writeSysreg('TCR_EL1', TCR_48);
    const r = cpu.at(tagged);
    expect('esr' in r ? dfsc(BigInt(r.esr)) : -1).toBe(0b000100);
  });
});

describe('CPU MMU: faults, ESR and FAR', () => {
  it('D24.2.40: an EL0 write to a read-only page is a permission fault (EC 0x24, WnR, DFSC 0b001111); returning from the vector retries', () => {
    const { m, cpu, t, vec } = setup();
    const root = t.alloc();
    const slot = t.map(root, 0x7000, BigInt(RAM + 0x50_0000) | PAGE | AF | AP_RO | NG);
    enableMmu(cpu, root, 5);
    cpu.setEl(ExceptionLevel.EL0);
    vec.fix = (c) => {
      m.bus.write64(slot, BigInt(RAM + 0x50_0000) | PAGE | AF | AP_RW | NG);
      c.tlbi('VAE1IS', (5n << 48n) | (0x7000n >> 12n));
    };
    cpu.st32(0x7004, 0x55aa);
    expect(vec.taken).toHaveLength(1);
    const { esr, far, from, el } = vec.taken[0]!;
    expect([ec(esr), wnr(esr), dfsc(esr), far, from, el]).toEqual([0x24, true, 0b001111, 0x7004n, ExceptionLevel.EL0, ExceptionLevel.EL1]);
    expect(esr & (1n << 25n)).toBe(1n << 25n); // IL
    expect(cpu.el).toBe(ExceptionLevel.EL0); // ERET back
    expect(m.bus.read32(RAM + 0x50_0004)).toBe(0x55aa);
  });

  it('D8.4.1: EL0 cannot read an EL1-only page; EL1 can', () => {
    const { cpu, t, vec } = setup();
    const root = t.alloc();
    t.map(root, 0x7000, BigInt(RAM + 0x50_0000) | PAGE | AF | AP_EL1_RW);
    enableMmu(cpu, root);
    expect(cpu.ld32(0x7000)).toBe(0);
    cpu.setEl(ExceptionLevel.EL0);
    expect(() => cpu.ld32(0x7000)).toThrow('unhandled fault');
    expect([ec(vec.taken[0]!.esr), wnr(vec.taken[0]!.esr), dfsc(vec.taken[0]!.esr)]).toEqual([0x24, false, 0b001111]);
  });

  it('D8.4.1: EL1 writes to an EL1 read-only page fault at the same EL (EC 0x25)', () => {
    const { cpu, t, vec } = setup();
    const root = t.alloc();
    t.map(root, 0x7000, BigInt(RAM + 0x50_0000) | PAGE | AF | AP_EL1_RO);
    enableMmu(cpu, root);
    expect(() => cpu.st8(0x7000, 1)).toThrow('unhandled fault');
    expect([ec(vec.taken[0]!.esr), wnr(vec.taken[0]!.esr), dfsc(vec.taken[0]!.esr)]).toEqual([0x25, true, 0b001111]);
  });

  it('D8.5.1: AF=0 is an access flag fault (DFSC 0b0010LL) at the leaf level', () => {
    const { cpu, t, vec } = setup();
    const root = t.alloc();
    t.map(root, 0x20_0000, BigInt(RAM + 0x20_0000) | BLOCK, 2);
    enableMmu(cpu, root);
    expect(() => cpu.ld8(0x20_0010)).toThrow('unhandled fault');
    expect(dfsc(vec.taken[0]!.esr)).toBe(0b001010);
  });

  it('D8.3: a missing level 2 table is a level 2 translation fault (DFSC 0b000110)', () => {
    const { cpu, t, vec } = setup();
    const root = t.alloc();
    t.map(root, 0x4000_0000, 0n, 2);
    enableMmu(cpu, root);
    expect(() => cpu.ld8(0x4000_0000)).toThrow('unhandled fault');
    expect(dfsc(vec.taken[0]!.esr)).toBe(0b000110);
  });

  it('D8.3.2: a leaf output address beyond TCR.IPS is an address size fault (DFSC 0b000011)', () => {
    const { cpu, t, vec } = setup();
    const root = t.alloc();
    t.map(root, 0x1000, 0x1_0000_0000n | PAGE | AF);
    enableMmu(cpu, root, 0, (TCR_48 & ~(7n << 32n)) | (0n << 32n)); // IPS = 32 bits
    expect(() => cpu.ld8(0x1000)).toThrow('unhandled fault');
    expect(dfsc(vec.taken[0]!.esr)).toBe(0b000011);
  });

  it('D8.3: a descriptor read that hits a bus error is a synchronous external abort on walk (DFSC 0b0101LL)', () => {
    const { cpu, vec } = setup();
    enableMmu(cpu, 0x2000_0000); // nothing decodes there
    expect(() => cpu.ld8(0x1000)).toThrow('unhandled fault');
    expect(dfsc(vec.taken[0]!.esr)).toBe(0b010100);
  });

  it('a physical access that hits a bus error is a synchronous external abort (DFSC 0b010000), FAR = the address; a throwing vector unwinds at EL1', () => {
    const { cpu, vec } = setup();
    cpu.setEl(ExceptionLevel.EL1);
    expect(() => cpu.ldPhys32(0x2000_0000)).toThrow('unhandled fault');
    expect([ec(vec.taken[0]!.esr), dfsc(vec.taken[0]!.esr), vec.taken[0]!.far]).toEqual([0x25, 0b010000, 0x2000_0000n]);
    expect(cpu.el).toBe(ExceptionLevel.EL1);
    expect(() => cpu.stPhys64(0x2000_0000, 1n)).toThrow('unhandled fault');
    expect(wnr(vec.taken[1]!.esr)).toBe(true);
  });

  it('a vector that returns without fixing the fault does not hang the host: the core reports the livelock', () => {
    const { cpu, vec } = setup();
    enableMmu(cpu, 0x2000_0000);
    vec.fix = () => {};
    expect(() => cpu.ld8(0x1000)).toThrow(/faulted 64 times/);
  });

  it('tryReadVirt/tryWriteVirt return the fault (ESR, FAR of the first failing byte) without calling the vectors', () => {
    const { m, cpu, t, vec } = setup();
    const root = t.alloc();
    t.map(root, 0x8000, BigInt(RAM + 0x60_0000) | PAGE | AF | AP_RW);
    enableMmu(cpu, root);
    m.bus.writeBytes(RAM + 0x60_0ffc, new Uint8Array([1, 2, 3, 4]));
    const buf = new Uint8Array(8);
    const f = cpu.tryReadVirt(0x8ffc, buf, 0, 8);
    expect(f).toBeDefined();
    expect(f!.far).toBe(0x9000);
    expect(dfsc(BigInt(f!.esr))).toBe(0b000111);
    expect([...buf.subarray(0, 4)]).toEqual([1, 2, 3, 4]);
    expect(cpu.tryWriteVirt(0x8000, new Uint8Array([9, 9]), 0, 2)).toBeUndefined();
    expect(m.bus.read16(RAM + 0x60_0000)).toBe(0x0909);
    expect(vec.taken).toHaveLength(0);
  });

  it('D8.4.3: with PSTATE.PAN an EL1 load from an EL0 page faults, but unprivileged (LDTR-style) accesses succeed', () => {
    const { cpu, t, vec } = setup();
    const root = t.alloc();
    t.map(root, 0x8000, BigInt(RAM + 0x60_0000) | PAGE | AF | AP_RW);
    t.map(root, 0x9000, BigInt(RAM + 0x61_0000) | PAGE | AF | AP_EL1_RW);
    enableMmu(cpu, root);
    expect(cpu.ld32(0x8000)).toBe(0); // cached, PAN off
    cpu.writeSysreg('PAN', 1n << 22n);
    expect(cpu.readSysreg('PAN')).toBe(1n << 22n);
    expect(() => cpu.ld32(0x8000)).toThrow('unhandled fault');
    expect(dfsc(vec.taken[0]!.esr)).toBe(0b001111);
    expect(cpu.ld32(0x9000)).toBe(0);
    expect(cpu.tryReadVirt(0x8000, new Uint8Array(4), 0, 4, { unprivileged: true })).toBeUndefined();
    const f = cpu.tryReadVirt(0x9000, new Uint8Array(4), 0, 4, { unprivileged: true });
    expect(f && dfsc(BigInt(f.esr))).toBe(0b001111);
  });

  it('at() translates as the current regime would and reports faults', () => {
    const { cpu, t } = setup();
    const root = t.alloc();
    t.map(root, 0x8000, BigInt(RAM + 0x60_0000) | PAGE | AF | AP_RO);
    enableMmu(cpu, root);
    expect(cpu.at(0x8abc)).toEqual({ pa: RAM + 0x60_0abc });
    const w = cpu.at(0x8abc, { write: true });
    expect('esr' in w && wnr(BigInt(w.esr))).toBe(true);
  });

  it('unaligned and page-crossing accesses are split and each page is translated', () => {
    const { m, cpu, t } = setup();
    const root = t.alloc();
    t.map(root, 0x8000, BigInt(RAM + 0x60_0000) | PAGE | AF);
    t.map(root, 0x9000, BigInt(RAM + 0x70_0000) | PAGE | AF);
    enableMmu(cpu, root);
    cpu.st64(0x8ffd, 0x1122_3344_5566_7788n);
    expect(m.bus.read8(RAM + 0x60_0ffd)).toBe(0x88);
    expect(m.bus.read8(RAM + 0x70_0000)).toBe(0x55);
    expect(cpu.ld64n(0x8ffd)).toBe(0x1122_3344_5566_7788n);
    expect(cpu.ld32(0x8ffe)).toBe(0x4455_6677);
    expect(cpu.ld16(0x8fff)).toBe(0x5566);
  });
});

describe('CPU MMU: MMIO through the page tables', () => {
  class Regs implements MmioDevice {
    readonly name = 'regs';
    reads = 0;
    value = 0x1234_5678;
    mmioRead(offset: number, size: number, acc: MmioAccess): void {
      this.reads++;
      if (offset >= 0x100) acc.error = true;
      acc.lo = this.value;
    }
    mmioWrite(offset: number, size: number, acc: MmioAccess): void {
      if (offset >= 0x100) acc.error = true;
      this.value = acc.lo;
    }
  }

  it('device pages are never host-pointer cached: every access reaches the device and costs mmioNs', () => {
    const { m, cpu, t, vec } = setup();
    const dev = new Regs();
    m.bus.map('regs', 0x0900_0000, 0x1000, dev);
    const root = t.alloc();
    t.map(root, 0x10_0000, 0x0900_0000n | PAGE | AF);
    enableMmu(cpu, root);
    expect(cpu.ld32(0x10_0000)).toBe(0x1234_5678);
    const t0 = cpu.now();
    cpu.st32(0x10_0000, 7);
    expect(cpu.ld32(0x10_0000)).toBe(7);
    expect(dev.reads).toBe(2);
    expect(cpu.now() - t0).toBe(2 * (m.cost.cpuAccessNs + m.cost.mmioNs));
    // A device that refuses the access (SLVERR) is a synchronous external abort.
    expect(() => cpu.ld32(0x10_0200)).toThrow('unhandled fault');
    expect(dfsc(vec.taken[0]!.esr)).toBe(0b010000);
    // Unaligned device access: alignment fault.
    expect(() => cpu.ld32(0x10_0002)).toThrow('unhandled fault');
    expect(dfsc(vec.taken[1]!.esr)).toBe(0b100001);
  });
});

describe('CPU TLB: ASIDs and maintenance', () => {
  function twoAsids() {
    const env = setup();
    const { m, t } = env;
    const rootA = t.alloc();
    const rootB = t.alloc();
    m.bus.write32(RAM + 0x60_0000, 0xa);
    m.bus.write32(RAM + 0x70_0000, 0xb);
    m.bus.write32(RAM + 0x68_0000, 0xa2);
    const slotA = t.map(rootA, 0x8000, BigInt(RAM + 0x60_0000) | PAGE | AF | NG);
    const slotB = t.map(rootB, 0x8000, BigInt(RAM + 0x70_0000) | PAGE | AF | NG);
    return { ...env, rootA, rootB, slotA, slotB };
  }

  it('D8.14: non-global entries are tagged with the ASID: the same VA in two ASIDs translates independently without flushing', () => {
    const { cpu, rootA, rootB, m } = twoAsids();
    enableMmu(cpu, rootA, 1);
    expect(cpu.ld32(0x8000)).toBe(0xa);
    cpu.writeSysreg('TTBR0_EL1', (2n << 48n) | BigInt(rootB));
    expect(cpu.ld32(0x8000)).toBe(0xb);
    cpu.writeSysreg('TTBR0_EL1', (1n << 48n) | BigInt(rootA));
    const walksBefore = [...m.trace.records()].length;
    expect(cpu.ld32(0x8000)).toBe(0xa);
    expect([...m.trace.records()].length).toBe(walksBefore);
  });

  it('D8.14: a global entry (nG=0) matches in every ASID', () => {
    const { m, cpu, t } = setup();
    const rootA = t.alloc();
    const rootB = t.alloc();
    t.map(rootA, 0x8000, BigInt(RAM + 0x60_0000) | PAGE | AF);
    t.map(rootB, 0x8000, BigInt(RAM + 0x70_0000) | PAGE | AF);
    m.bus.write32(RAM + 0x60_0000, 0xa);
    enableMmu(cpu, rootA, 1);
    expect(cpu.ld32(0x8000)).toBe(0xa);
    cpu.writeSysreg('TTBR0_EL1', (2n << 48n) | BigInt(rootB));
    expect(cpu.ld32(0x8000)).toBe(0xa); // the cached global entry still applies
  });

  it('TCR.A1=1 takes the ASID from TTBR1; TCR.AS=0 uses only ASID[7:0]', () => {
    const { cpu, rootA, rootB } = twoAsids();
    enableMmu(cpu, rootA, 0, TCR_48 | TCR_A1, 0);
    cpu.writeSysreg('TTBR1_EL1', 3n << 48n);
    expect(cpu.ld32(0x8000)).toBe(0xa);
    cpu.writeSysreg('TTBR0_EL1', BigInt(rootB)); // ASID comes from TTBR1: still 3
    expect(cpu.ld32(0x8000)).toBe(0xa);
    cpu.writeSysreg('TTBR1_EL1', 4n << 48n);
    expect(cpu.ld32(0x8000)).toBe(0xb);
    // AS=0: ASIDs 0x104 and 0x004 are the same 8-bit ASID.
    cpu.writeSysreg('TCR_EL1', (TCR_48 | TCR_A1) & ~(1n << 36n));
    cpu.writeSysreg('TTBR1_EL1', 0x104n << 48n);
    expect(cpu.ld32(0x8000)).toBe(0xb);
  });

  it('D8.16: a page-table change is not seen until TLBI; writing TTBR/TCR does not flush', () => {
    const { m, cpu, rootA, slotA } = twoAsids();
    enableMmu(cpu, rootA, 1);
    expect(cpu.ld32(0x8000)).toBe(0xa);
    m.bus.write64(slotA, BigInt(RAM + 0x68_0000) | PAGE | AF | NG);
    cpu.writeSysreg('TCR_EL1', TCR_48);
    cpu.writeSysreg('TTBR0_EL1', (1n << 48n) | BigInt(rootA));
    expect(cpu.ld32(0x8000)).toBe(0xa);
    cpu.tlbi('VAE1IS', (1n << 48n) | 8n);
    expect(cpu.ld32(0x8000)).toBe(0xa2);
  });

  const remapA = (m: MachineCore, slotA: number) => m.bus.write64(slotA, BigInt(RAM + 0x68_0000) | PAGE | AF | NG);

  it('TLBI VAE1IS/VALE1IS only hit the given ASID (and global entries); VAAE1IS/VAALE1IS hit every ASID', () => {
    for (const [op, asid, expectA2] of [
      ['VAE1IS', 2n, false],
      ['VAE1IS', 1n, true],
      ['VALE1IS', 1n, true],
      ['VAAE1IS', 9n, true],
      ['VAALE1IS', 9n, true],
    ] as const) {
      const { m, cpu, rootA, slotA } = twoAsids();
      enableMmu(cpu, rootA, 1);
      cpu.ld32(0x8000);
      remapA(m, slotA);
      cpu.tlbi(op, (asid << 48n) | 8n);
      expect(cpu.ld32(0x8000), `${op} asid ${asid}`).toBe(expectA2 ? 0xa2 : 0xa);
    }
  });

  it('TLBI ASIDE1IS invalidates the non-global entries of that ASID only; VMALLE1IS invalidates everything', () => {
    const { m, cpu, t, rootA, slotA } = twoAsids();
    const g = t.map(rootA, 0x9000, BigInt(RAM + 0x60_0000) | PAGE | AF);
    enableMmu(cpu, rootA, 1);
    cpu.ld32(0x8000);
    cpu.ld32(0x9000);
    remapA(m, slotA);
    m.bus.write64(g, BigInt(RAM + 0x68_0000) | PAGE | AF);
    cpu.tlbi('ASIDE1IS', 2n << 48n);
    expect(cpu.ld32(0x8000)).toBe(0xa);
    cpu.tlbi('ASIDE1IS', 1n << 48n);
    expect(cpu.ld32(0x8000)).toBe(0xa2);
    expect(cpu.ld32(0x9000)).toBe(0xa); // global survives ASIDE1
    cpu.tlbi('VMALLE1IS');
    expect(cpu.ld32(0x9000)).toBe(0xa2);
  });

  it('TLBI by VA inside a cached 2 MiB block invalidates the whole block', () => {
    const { m, cpu, t } = setup();
    const root = t.alloc();
    const slot = t.map(root, 0x20_0000, BigInt(RAM + 0x20_0000) | BLOCK | AF, 2);
    m.bus.write32(RAM + 0x20_0000 + 0x1000, 1);
    m.bus.write32(RAM + 0x40_0000 + 0x1000, 2);
    enableMmu(cpu, root);
    expect(cpu.ld32(0x20_1000)).toBe(1);
    m.bus.write64(slot, BigInt(RAM + 0x40_0000) | BLOCK | AF);
    cpu.tlbi('VAAE1IS', 0x3f_f000 / 4096); // last page of the block
    expect(cpu.ld32(0x20_1000)).toBe(2);
  });

  it('FEAT_TLBIRANGE: RVAE1IS invalidates (NUM+1)*2^(5*SCALE+1) pages from BaseADDR for the ASID; RVAAE1IS for any ASID', () => {
    const { m, cpu, t } = setup();
    const root = t.alloc();
    const slots: number[] = [];
    for (let i = 0; i < 8; i++) {
      slots.push(t.map(root, 0x10_0000 + i * 4096, BigInt(RAM + 0x60_0000 + i * 4096) | PAGE | AF | NG));
      m.bus.write32(RAM + 0x60_0000 + i * 4096, i);
      m.bus.write32(RAM + 0x70_0000 + i * 4096, 100 + i);
    }
    enableMmu(cpu, root, 3);
    const reload = () => {
      for (let i = 0; i < 8; i++) m.bus.write64(slots[i]!, BigInt(RAM + 0x70_0000 + i * 4096) | PAGE | AF | NG);
    };
    for (let i = 0; i < 8; i++) cpu.ld32(0x10_0000 + i * 4096);
    reload();
    // Pages 2..5: NUM=1, SCALE=0 -> 4 pages.
    const [lo, hi] = encodeRangeOperand(3, 12, 0, 1, 0, 0x10_2000);
    cpu.tlbi('RVAE1IS', (BigInt(hi) << 32n) | BigInt(lo));
    expect([...Array(8).keys()].map((i) => cpu.ld32(0x10_0000 + i * 4096))).toEqual([0, 1, 102, 103, 104, 105, 6, 7]);
    const [lo2, hi2] = encodeRangeOperand(77, 12, 0, 3, 1, 0x10_0000);
    cpu.tlbi('RVALE1IS', (BigInt(hi2) << 32n) | BigInt(lo2)); // wrong ASID: nothing
    expect(cpu.ld32(0x10_0000)).toBe(0);
    cpu.tlbi('RVAAE1IS', (BigInt(hi2) << 32n) | BigInt(lo2)); // any ASID, 8 pages
    expect([...Array(8).keys()].map((i) => cpu.ld32(0x10_0000 + i * 4096))).toEqual([100, 101, 102, 103, 104, 105, 106, 107]);
  });

  it('TLBI ...IS operations reach every core; TLBI VMALLE1 stays local', () => {
    const { m, cluster, rootA, slotA } = twoAsids();
    const [c0, c1] = cluster.cores as [Core, Core];
    enableMmu(c0, rootA, 1);
    enableMmu(c1, rootA, 1);
    c0.ld32(0x8000);
    c1.ld32(0x8000);
    remapA(m, slotA);
    c0.tlbi('VMALLE1');
    expect(c0.ld32(0x8000)).toBe(0xa2);
    expect(c1.ld32(0x8000)).toBe(0xa);
    c0.tlbi('VAE1IS', (1n << 48n) | 8n);
    expect(c1.ld32(0x8000)).toBe(0xa2);
  });

  it('a TLB miss records TlbMiss and Walk; TLBI records TlbInvalidate; a fault records Fault and Exception', () => {
    const { m, cpu, t, vec } = setup();
    m.trace.enable();
    const root = t.alloc();
    t.map(root, 0x8000, BigInt(RAM + 0x60_0000) | PAGE | AF);
    enableMmu(cpu, root);
    cpu.ld32(0x8000);
    cpu.ld32(0x8004);
    cpu.tlbi('VMALLE1IS');
    vec.fix = () => t.map(root, 0x9000, BigInt(RAM + 0x60_0000) | PAGE | AF);
    cpu.ld32(0x9000);
    const kinds = [...m.trace.records()].map((r) => r.kind);
    expect(kinds).toEqual([
      TraceKind.TlbMiss,
      TraceKind.Walk,
      TraceKind.TlbInvalidate,
      TraceKind.TlbInvalidate,
      TraceKind.TlbMiss,
      TraceKind.Walk,
      TraceKind.Fault,
      TraceKind.Exception,
      TraceKind.TlbMiss,
      TraceKind.Walk,
    ]);
    const walk = [...m.trace.records()][1]!;
    expect([walk.iova, walk.pa, walk.size, walk.aux]).toEqual([0x8000n, BigInt(RAM + 0x60_0000), 4, 3]);
  });

  it('walks charge walkStepNs per descriptor read; TLB hits charge only cpuAccessNs', () => {
    const { m, cpu, t } = setup();
    const root = t.alloc();
    t.map(root, 0x8000, BigInt(RAM + 0x60_0000) | PAGE | AF);
    enableMmu(cpu, root);
    const t0 = cpu.now();
    cpu.ld32(0x8000);
    expect(cpu.now() - t0).toBe(m.cost.cpuAccessNs + 4 * m.cost.walkStepNs);
    const t1 = cpu.now();
    cpu.ld32(0x8008);
    expect(cpu.now() - t1).toBe(m.cost.cpuAccessNs);
  });
});
