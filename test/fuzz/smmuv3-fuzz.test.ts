import { describe, expect, it } from 'vitest';
import { DmaStatus } from '../../src/hw/bus/dma.js';
import { AP_RW_ALL, bringUp, cmd, makeRig, PTE_AF, R, RAM, setupS1, SMMU, submit, sync, w32, w64, type Cmd } from '../conformance/smmuv3-harness.js';
import { mulberry32 as prng } from '../../src/machine/prng.js';


const OFFSETS = [0x20, 0x28, 0x2c, 0x44, 0x50, 0x64, 0x68, 0x70, 0x74, 0x80, 0x88, 0x90, 0x98, 0x9c, 0xa0, 0xb0, 0xb8, 0xbc, 0xc0, 0xd0, 0xd8, 0xdc, 0x100a8, 0x100ac, 0x100c8, 0x100cc, 0x0, 0x14, 0xfd0, 0x1fffc];

describe('SMMUv3 fuzz (seeded)', () => {
  it('random register writes, tables, commands and DMA never throw a host exception', () => {
    for (let seed = 1; seed <= 6; seed++) {
      const rnd = prng(seed);
      const u32 = () => (rnd() * 2 ** 32) >>> 0;
      const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
      const rig = makeRig(Math.floor(rnd() * 300));
      const q = bringUp(rig);
      const junk = RAM + 0x0200_0000;
      expect(() => {
        for (let step = 0; step < 400; step++) {
          const r = rnd();
          if (r < 0.2) {
            const off = pick(OFFSETS);
            if (rnd() < 0.5) w32(rig, off, u32());
            else rig.m.bus.write64(SMMU + (off & ~7), (BigInt(u32()) << 32n) | BigInt(u32()));
          } else if (r < 0.4) {
            // random STE / CD / table bytes around the stream table and a junk region
            const at = rnd() < 0.5 ? q.strtab + Math.floor(rnd() * 256) * 64 : junk + Math.floor(rnd() * 4096) * 8;
            rig.m.bus.write64(at, (BigInt(u32()) << 32n) | BigInt(u32()));
          } else if (r < 0.55) {
            const c: Cmd = [(BigInt(u32()) << 32n) | BigInt(pick([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x10, 0x11, 0x12, 0x13, 0x20, 0x21, 0x22, 0x23, 0x28, 0x2a, 0x30, 0x41, 0x44, 0x45, 0x46, u32() & 0xff])) | (BigInt(u32() & 0xffff00) & ~0xffn), (BigInt(u32()) << 32n) | BigInt(u32())];
            submit(rig, c);
            rig.m.run({ forNs: 1000 });
          } else if (r < 0.6) {
            w32(rig, R.GERRORN, rig.m.bus.read32(SMMU + R.GERROR));
          } else if (r < 0.65) {
            rig.port.pageRequest(u32() * 4096, u32() & 0xfffff, rnd() < 0.5, rnd() < 0.5, rnd() < 0.5, rnd() < 0.5, rnd() < 0.5, u32() & 0x1ff, rnd() < 0.5);
          } else {
            if (rnd() < 0.1) rig.port.sid = Math.floor(rnd() * 300);
            const buf = new Uint8Array(1 + Math.floor(rnd() * 8192));
            // TTB0 and TTB1 ranges, tagged (TBI) and unsigned 64-bit forms, RAM
            const k = rnd();
            const low = Math.floor(rnd() * 2 ** 48);
            const iova = k < 0.35 ? low : k < 0.5 ? -low : k < 0.6 ? Math.floor(rnd() * 256) * 2 ** 56 + low - (low % 4096) : k < 0.65 ? 2 ** 64 - low - (low % 4096) : RAM + Math.floor(rnd() * 0x100_0000);
            const attrs = { ssv: rnd() < 0.5, ssid: rnd() < 0.9 ? u32() & 0xfffff : u32(), priv: rnd() < 0.5, exec: rnd() < 0.5 };
            if (rnd() < 0.5) rig.port.read(iova, buf, 0, buf.length, attrs);
            else rig.port.write(iova, buf, 0, buf.length, attrs);
          }
        }
        rig.m.run({ untilIdle: true });
      }).not.toThrow();
    }
  });

  it('no DMA reaches memory its stream does not map: a canary region stays intact under random tables and DMA', () => {
    const rnd = prng(99);
    const u32 = () => (rnd() * 2 ** 32) >>> 0;
    const rig = makeRig(5);
    const q = bringUp(rig);
    w32(rig, R.GBPA, (1 << 31) | (1 << 20)); // if translation ever gets disabled, abort
    // No event records in memory: they echo input addresses, which random tables could then map.
    w32(rig, R.CR0, 0xb);
    const allowed = RAM + 0x0400_0000; // the only page stream 5 maps
    const junk = RAM + 0x0500_0000; // random tables; their output addresses stay in here
    const canary = RAM + 0x0800_0000;
    const pattern = new Uint8Array(0x10000).fill(0xa5);
    rig.m.bus.writeBytes(canary, pattern);
    const { pt } = setupS1(rig, q, 5);
    pt.map(0x10_0000, allowed, PTE_AF | AP_RW_ALL);
    // Random STEs for the other streams: translating configs only, pointers into the junk region.
    for (let sid = 0; sid < 256; sid++) {
      if (sid === 5) continue;
      const cfg = [0, 5, 6, 7][u32() & 3]!;
      const ptr = BigInt(junk + (u32() % 0x10000) * 64);
      const d0 = 1n | (BigInt(cfg) << 1n) | ptr | (BigInt(u32() & 0x1f) << 59n) | (BigInt(u32() & 3) << 4n);
      // S1DSS = bypass on a stage-1-only STE would legitimately bypass everything: keep 0 or 2.
      const d1 = BigInt(u32() & 0x0fff_fffc) | (u32() & 1 ? 2n : 0n);
      const d2 = BigInt(u32() & 0xffff) | (BigInt(u32() & 0x7fffff) << 32n);
      const d3 = ptr;
      [d0, d1, d2, d3].forEach((w, i) => rig.m.bus.write64(q.strtab + sid * 64 + i * 8, w));
    }
    // Junk: random words whose output-address bits point back into the junk region. Bit 1 is
    // set so no word is a block descriptor (a 1 GiB block would cover all of RAM).
    for (let i = 0; i < 0x20000; i++) {
      const lo = (u32() & 0xfff) | 2 | ((junk + (u32() % 0x100_0000)) & 0xfffff000);
      rig.m.bus.write64(junk + i * 8, (BigInt(u32() & 0xffff0000) << 32n) | BigInt(lo >>> 0));
    }
    cmd(rig, [0x04n, 31n], sync());
    let ok = 0;
    for (let i = 0; i < 3000; i++) {
      rig.port.sid = rnd() < 0.3 ? 5 : u32() & 0xff;
      const iova = rnd() < 0.3 ? 0x10_0000 + (u32() & 0xfff) : rnd() < 0.5 ? canary + (u32() & 0xffff) : rnd() < 0.7 ? u32() * 4096 : -u32() * 4096;
      const buf = new Uint8Array(1 + (u32() & 0x3ff)).fill(0x3c);
      const st = rig.port.write(iova, buf, 0, buf.length, { ssv: rnd() < 0.3, ssid: u32() & 0xff, priv: rnd() < 0.5, exec: false });
      if (st === DmaStatus.Ok) ok++;
      if (i % 500 === 0 && rnd() < 0.5) {
        w64(rig, R.STRTAB_BASE, 0n); // ignored while SMMUEN = 1
        rig.m.run({ untilIdle: true });
      }
    }
    expect(ok).toBeGreaterThan(0);
    expect(Buffer.compare(rig.m.bus.readBytes(canary, pattern.length), pattern)).toBe(0);
  });
});
