import { describe, expect, it } from 'vitest';
import { bootZip } from './kernel-zip-harness.js';

describe('hisi_zip probe on the board (kernel PID 1, harness PCI/DMA binding)', () => {
  it('probe brings the QM up, registers zlib/gzip/deflate and the self-test passes through the device', () => {
    const b = bootZip({});
    expect(b.code).toBe(0);
    const con = b.handle.console;
    expect(con).toContain('hisi_zip 0000:00:01.0: qm start with 64 queue pairs');
    expect(con).toMatch(/self-test passed: zlib-deflate 8192->\d+->8192, gzip 8192->\d+->8192, deflate 8192->\d+->8192/);
    // The engine did the work: its per-core DFX counters moved (3 compressions, 3 decompressions).
    const zip = b.machine.zip;
    const bds = zip.engine.cores.reduce((n, c) => n + c.bdCount, 0);
    expect(bds).toBe(6);
  }, 60_000);
});
