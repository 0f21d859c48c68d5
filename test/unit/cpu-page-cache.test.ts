// The core's last-page caches (the hot path in front of the TLB) must never allow an
// access the TLB would refuse: they die with TLB maintenance, context switches and
// EL/PAN changes (D8.17: after TLBI + DSB no stale translation may be used).
import { describe, it, expect } from 'vitest';
import { MachineCore } from '../../src/machine/machine.js';
import { Cluster } from '../../src/hw/cpu/cluster.js';
import { ExceptionLevel, type ExceptionVectors } from '../../src/arch/cpu.js';

const RAM = 0x4000_0000;
const VA = 0x1000;
const AF = 1n << 10n;
const NG = 1n << 11n;
const AP_RW_EL1 = 0n << 6n;
const AP_RO_EL1 = 2n << 6n;
const AP_RW_ALL = 1n << 6n;

class Fixup extends Error {}

function rig() {
  const m = new MachineCore({ ramSize: 16 << 20 });
  const cpu = new Cluster(m, 1).cores[0]!;
  const faults: bigint[] = [];
  const vectors: ExceptionVectors = {
    sync(c) {
      faults.push(c.readSysreg('ESR_EL1'));
      throw new Fixup();
    },
    irq() {},
    // eslint-disable-next-line require-yield
    *svc() {
      return 0;
    },
  };
  cpu.setVectors(0, vectors);
  // Two table sets (one per ASID): L0..L3 at RAM+0x10000.. and RAM+0x20000..
  const tables = (base: number) => {
    m.bus.write64(base, BigInt(base + 0x1000) | 3n);
    m.bus.write64(base + 0x1000, BigInt(base + 0x2000) | 3n);
    m.bus.write64(base + 0x2000, BigInt(base + 0x3000) | 3n);
    return base + 0x3000 + (VA / 4096) * 8; // the L3 slot of VA
  };
  const ptA = tables(RAM + 0x1_0000);
  const ptB = tables(RAM + 0x2_0000);
  m.bus.write64(ptA, BigInt(RAM + 0x10_0000) | AF | NG | AP_RW_EL1 | 3n);
  m.bus.write64(ptB, BigInt(RAM + 0x20_0000) | AF | NG | AP_RW_EL1 | 3n);
  m.bus.write32(RAM + 0x10_0000, 0xaaaa_aaaa);
  m.bus.write32(RAM + 0x20_0000, 0xbbbb_bbbb);
  cpu.writeSysreg('TCR_EL1', 16n | (16n << 16n) | (1n << 23n) | (5n << 32n) | (1n << 36n));
  cpu.writeSysreg('TTBR0_EL1', (1n << 48n) | BigInt(RAM + 0x1_0000));
  cpu.writeSysreg('SCTLR_EL1', cpu.readSysreg('SCTLR_EL1') | 1n);
  const attempt = (f: () => void): 'ok' | 'fault' => {
    try {
      f();
      return 'ok';
    } catch (e) {
      if (e instanceof Fixup) return 'fault';
      throw e;
    }
  };
  return { m, cpu, faults, ptA, ptB, attempt };
}

describe('CPU last-page caches', () => {
  it('a store allowed through the cache faults once the PTE is made read-only and TLBI VAE1IS + DSB is done', () => {
    const { m, cpu, ptA, attempt } = rig();
    expect(attempt(() => cpu.st32(VA, 1))).toBe('ok');
    expect(attempt(() => cpu.st32(VA + 4, 2))).toBe('ok'); // served by the last write page
    m.bus.write64(ptA, BigInt(RAM + 0x10_0000) | AF | NG | AP_RO_EL1 | 3n);
    cpu.tlbi('VAE1IS', (1n << 48n) | BigInt(VA / 4096));
    cpu.dsb();
    expect(attempt(() => cpu.st32(VA + 8, 3))).toBe('fault');
    expect(cpu.ld32(VA + 4)).toBe(2); // still readable
  });

  it('an ASID switch (TTBR0 write) stops the cached page of the old address space from being used', () => {
    const { cpu } = rig();
    expect(cpu.ld32(VA)).toBe(0xaaaa_aaaa);
    cpu.writeSysreg('TTBR0_EL1', (2n << 48n) | BigInt(RAM + 0x2_0000));
    expect(cpu.ld32(VA)).toBe(0xbbbb_bbbb);
    cpu.writeSysreg('TTBR0_EL1', (1n << 48n) | BigInt(RAM + 0x1_0000));
    expect(cpu.ld32(VA)).toBe(0xaaaa_aaaa);
  });

  it('D8.4.1: an EL1-only page read through the cache at EL1 faults when the same load runs at EL0', () => {
    const { cpu, attempt, faults } = rig();
    expect(cpu.ld32(VA)).toBe(0xaaaa_aaaa);
    cpu.setEl(ExceptionLevel.EL0);
    expect(attempt(() => cpu.ld32(VA))).toBe('fault');
    cpu.setEl(ExceptionLevel.EL1);
    expect(Number(faults[0]! >> 26n)).toBe(0x24); // data abort from a lower EL
  });

  it('D8.4.3: PAN set makes an EL0-accessible page fault for EL1 loads served from the cache before', () => {
    const { m, cpu, ptA, attempt } = rig();
    m.bus.write64(ptA, BigInt(RAM + 0x10_0000) | AF | NG | AP_RW_ALL | 3n);
    expect(cpu.ld32(VA)).toBe(0xaaaa_aaaa);
    cpu.writeSysreg('PAN', 1n << 22n);
    expect(attempt(() => cpu.ld32(VA))).toBe('fault');
    cpu.writeSysreg('PAN', 0);
    expect(cpu.ld32(VA)).toBe(0xaaaa_aaaa);
  });

  it('charge() keeps exact virtual time: a device event falls due when the core passes it, not later', () => {
    const { m, cpu } = rig();
    const seen: number[] = [];
    m.clock.after(1_000, 'probe', (now) => seen.push(now));
    cpu.charge(999);
    expect(seen).toEqual([]);
    cpu.charge(1);
    expect(seen).toEqual([1_000]);
    expect(cpu.now()).toBe(m.clock.now());
  });
});
