import { describe, expect, it } from 'vitest';
import { DmaPort } from '../../src/hw/bus/dma.js';
import { RegisterBlock } from '../../src/hw/regs/regmap.js';
import { createMachine } from '../../src/machine/create.js';
import { exportText } from '../../src/trace/export-text.js';
import { xorshift32 as rng } from '../../src/machine/prng.js';

const RAM = 0x4000_0000;
const DEV = 0x0a00_0000;

/**
 * A seeded workload with everything that could make a run depend on the host:
 * doorbell writes that schedule DMA completions, several masters whose events
 * fall on the same nanosecond, cancelled events, bus errors and random data.
 */
function workload(seed: number): { hash: string; text: string; now: number } {
  const m = createMachine({ ramSize: 64 << 20, trace: true, traceCapacity: 1 << 14 });
  const rnd = rng(seed);
  const ports = [0x8, 0x10, 0x18].map((sid, i) => new DmaPort(m.bus, `dma${i}`, sid));
  const buf = new Uint8Array(8192);
  const regs = new RegisterBlock('dev', [
    {
      name: 'DOORBELL',
      offset: 0,
      write: (v) => {
        const port = ports[Number(v) % ports.length]!;
        const len = 1 + Math.floor(rnd() * buf.length);
        const at = RAM + Math.floor(rnd() * (60 << 20));
        const delay = m.cost.dmaLatencyNs + Math.floor(len / m.cost.dmaBytesPerNs);
        const ev = m.clock.after(delay, 'dma', () => {
          for (let i = 0; i < len; i++) buf[i] = Math.floor(rnd() * 256);
          port.write(at, buf, 0, len);
          port.read(at, buf, 0, Math.min(len, 64));
        });
        if (rnd() < 0.1) ev.cancel();
      },
    },
  ]);
  m.bus.map('dev', DEV, 0x1000, regs);
  for (let i = 0; i < 300; i++) {
    m.clock.schedule(Math.floor(rnd() * 50_000), 'cpu', () => {
      m.bus.write32(DEV, Math.floor(rnd() * 3));
      if (rnd() < 0.2) m.bus.read32(0x1000 + Math.floor(rnd() * 0x1000) * 4); // nothing there
    });
  }
  m.run({ untilIdle: true });
  return { hash: m.trace.hash(), text: exportText(m.trace), now: m.clock.now() };
}

describe('determinism (DESIGN.md 3: same inputs and seed, same trace byte for byte)', () => {
  it('two runs of the same seeded workload give identical traces, hashes and end times', () => {
    const a = workload(2024);
    const b = workload(2024);
    expect(a.text.length).toBeGreaterThan(10_000);
    expect(b.hash).toBe(a.hash);
    expect(b.text).toBe(a.text);
    expect(b.now).toBe(a.now);
  });

  it('a different seed gives a different trace (the hash is sensitive)', () => {
    expect(workload(2025).hash).not.toBe(workload(2024).hash);
  });
});
