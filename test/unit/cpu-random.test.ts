import { describe, expect, it } from 'vitest';
import { MachineCore } from '../../src/machine/machine.js';
import { Cluster } from '../../src/hw/cpu/cluster.js';
import { ExceptionLevel, type ArchCpu, type ExceptionVectors, type TlbiOp } from '../../src/arch/cpu.js';
import { xorshift32u as rng } from '../../src/machine/prng.js';

class Killed extends Error {}

const VALID_DFSC = new Set([0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 13, 14, 15, 0x10, 0x14, 0x15, 0x16, 0x17, 0x21]);

describe('CPU core under random system-register values, tables and accesses (seeded)', () => {
  it('every access either completes or takes an architected data abort to the vectors; the emulator never throws on its own', () => {
    const next = rng(0xc0de);
    const m = new MachineCore({ ramSize: 4 * 1024 * 1024 });
    const cpu = new Cluster(m, 1).cores[0]!;
    const esrs: bigint[] = [];
    const vectors: ExceptionVectors = {
      sync(c: ArchCpu) {
        esrs.push(c.readSysreg('ESR_EL1'));
        throw new Killed();
      },
      irq() {},
      // eslint-disable-next-line require-yield
      *svc() {
        return 0;
      },
    };
    cpu.setVectors(0, vectors);
    // Random bytes in the first MiB of RAM: whatever a walk finds there.
    for (let a = 0; a < 0x10_0000; a += 4) m.bus.write32(0x4000_0000 + a, next());
    const big = () => (BigInt(next()) << 32n) | BigInt(next());
    const ops: TlbiOp[] = ['VMALLE1IS', 'VMALLE1', 'ASIDE1IS', 'VAE1IS', 'VALE1IS', 'VAAE1IS', 'VAALE1IS', 'RVAE1IS', 'RVALE1IS', 'RVAAE1IS'];
    let completed = 0;
    for (let i = 0; i < 10_000; i++) {
      const r = next() % 16;
      if (r === 0) cpu.writeSysreg('TCR_EL1', big());
      else if (r === 1) cpu.writeSysreg('TTBR0_EL1', (big() & 0xffff_0000_0000_0000n) | BigInt(0x4000_0000 + (next() % 0x100) * 4096));
      else if (r === 2) cpu.writeSysreg('TTBR1_EL1', big());
      else if (r === 3) cpu.writeSysreg('SCTLR_EL1', BigInt(next() & 1) | 0x30d0_0800n);
      else if (r === 4) cpu.tlbi(ops[next() % ops.length]!, big());
      else if (r === 5) cpu.setEl(next() & 1 ? ExceptionLevel.EL0 : ExceptionLevel.EL1);
      else {
        const pick = next() % 3;
        const va = pick === 0 ? 0x4000_0000 + (next() % 0x40_0000) : (pick === 1 ? 0 : -(2 ** 48)) + (next() % 0x10000) * 2 ** 32 + next();
        try {
          if (next() & 1) cpu.ld64(va);
          else cpu.st32(va, next());
          completed++;
        } catch (e) {
          if (!(e instanceof Killed)) throw e;
        }
      }
    }
    expect(esrs.length).toBeGreaterThan(100);
    expect(completed).toBeGreaterThan(100);
    const odd = esrs.filter((esr) => ![0x24, 0x25].includes(Number(esr >> 26n)) || !VALID_DFSC.has(Number(esr & 0x3fn)));
    expect(odd.map((e) => e.toString(16))).toEqual([]);
  });
});
