import { describe, expect, it } from 'vitest';
import { DmaStatus } from '../../src/hw/bus/dma.js';
import { bringUp, cmd, dmaRead, drainEvents, makeRig, P1, R, r32, r64, setupS1, SMMU, sync, tlbiNsnhAll, w32, w64 } from './smmuv3-harness.js';

describe('SMMUv3 registers (IHI 0070 chapter 6)', () => {
  it('6.3.1-6.3.8: ID registers advertise what the model implements', () => {
    const rig = makeRig();
    const idr0 = r32(rig, R.IDR0);
    expect(idr0 & 3).toBe(3); // S1P, S2P
    expect((idr0 >>> 2) & 3).toBe(2); // TTF AArch64
    expect((idr0 >>> 5) & 1).toBe(0); // BTM not implemented
    expect((idr0 >>> 9) & 1).toBe(1); // Hyp
    expect((idr0 >>> 10) & 1).toBe(0); // ATS
    expect([12, 13, 14, 16, 18, 19].map((b) => (idr0 >>> b) & 1)).toEqual([1, 1, 1, 1, 1, 1]); // ASID16 MSI SEV PRI VMID16 CD2L
    expect((idr0 >>> 24) & 3).toBe(0); // STALL_MODEL: stall and terminate
    expect((idr0 >>> 26) & 1).toBe(1); // TERM_MODEL
    expect((idr0 >>> 27) & 3).toBe(1); // 2-level stream table
    const idr1 = r32(rig, R.IDR1);
    expect([idr1 & 0x3f, (idr1 >>> 6) & 0x1f, (idr1 >>> 21) & 0x1f]).toEqual([16, 20, 19]);
    expect((idr1 >>> 28) & 7).toBe(0); // REL, QUEUES_PRESET, TABLES_PRESET: Linux refuses them
    expect((r32(rig, R.IDR3) >>> 10) & 1).toBe(1); // RIL
    expect((r32(rig, R.IDR3) >>> 4) & 1).toBe(1); // XNX: the walker decodes stage 2 XN[1:0]
    const idr5 = r32(rig, R.IDR5);
    expect(idr5 & 7).toBe(5); // OAS 48
    expect((idr5 >>> 4) & 7).toBe(7); // 4K, 16K, 64K
    expect(idr5 >>> 16).toBe(rig.smmu.stalls.capacity);
    expect(r32(rig, R.AIDR)).toBe(2);
    w32(rig, R.IDR0, 0);
    expect(r32(rig, R.IDR0)).toBe(idr0);
  });

  it('3.11: the Linux reset sequence brings the SMMU up with every ACK register following', () => {
    const rig = makeRig();
    bringUp(rig);
    expect(r32(rig, R.CR0ACK)).toBe(0xf);
    expect(r32(rig, R.IRQ_CTRLACK)).toBe(7);
    expect(r32(rig, R.GERROR)).toBe(0);
    expect(r32(rig, R.CMDQ_CONS) & 0x7f000000).toBe(0);
  });

  it('6.3.24-28: guarded registers ignore writes while their enable is set', () => {
    const rig = makeRig();
    bringUp(rig);
    const strtab = r64(rig, R.STRTAB_BASE);
    w64(rig, R.STRTAB_BASE, 0x4800_0000n);
    expect(r64(rig, R.STRTAB_BASE)).toBe(strtab);
    const cfg = r32(rig, R.STRTAB_BASE_CFG);
    w32(rig, R.STRTAB_BASE_CFG, 3);
    expect(r32(rig, R.STRTAB_BASE_CFG)).toBe(cfg);
    const cmdqBase = r64(rig, R.CMDQ_BASE);
    w64(rig, R.CMDQ_BASE, 0n);
    expect(r64(rig, R.CMDQ_BASE)).toBe(cmdqBase);
    const cons = r32(rig, R.CMDQ_CONS);
    w32(rig, R.CMDQ_CONS, 0);
    expect(r32(rig, R.CMDQ_CONS)).toBe(cons);
    const cr2 = r32(rig, R.CR2);
    w32(rig, R.CR2, 0);
    expect(r32(rig, R.CR2)).toBe(cr2);
    const prod = rig.m.bus.read32(P1 + 0xa8);
    rig.m.bus.write32(P1 + 0xa8, 5);
    expect(rig.m.bus.read32(P1 + 0xa8)).toBe(prod);
    w32(rig, R.GERROR, 0x1fd);
    expect(r32(rig, R.GERROR)).toBe(0);
  });

  it('6.3.26: LOG2SIZE beyond IDR1.CMDQS is treated as CMDQS; queue ADDR low bits below the queue size are ignored', () => {
    const rig = makeRig();
    const q = bringUp(rig);
    w32(rig, R.CR0, 0x7);
    // misaligned base (+0x120) for a 256-entry queue: the SMMU uses the aligned address
    w64(rig, R.CMDQ_BASE, BigInt(q.cmdq + 0x120) | 8n);
    w32(rig, R.CMDQ_PROD, 0);
    w32(rig, R.CMDQ_CONS, 0);
    w32(rig, R.CR0, 0xf);
    rig.m.bus.write64(q.cmdq, 0x7fn); // illegal opcode at the aligned slot 0
    w32(rig, R.CMDQ_PROD, 1);
    rig.m.run({ untilIdle: true });
    expect((r32(rig, R.CMDQ_CONS) >>> 24) & 0x7f).toBe(1);
    expect(rig.smmu.cmdq.maxLog2).toBe(19);
    w32(rig, R.CR0, 0x7);
    w64(rig, R.CMDQ_BASE, BigInt(q.cmdq) | 31n);
    expect(rig.smmu.cmdq.log2Size()).toBe(19);
  });

  it('6.3.24: STRTAB_BASE address bits below the linear table size are ignored', () => {
    const rig = makeRig(3);
    const q = bringUp(rig, { log2: 4 });
    w32(rig, R.CR0, 0xe);
    w64(rig, R.STRTAB_BASE, BigInt(q.strtab + 0x140)); // 16 STEs = 1 KiB table
    w32(rig, R.CR0, 0xf);
    setupS1(rig, q, 3, { epd0: true }); // STE at the aligned base
    expect(dmaRead(rig, 0x1000).status).toBe(DmaStatus.Abort);
    expect(drainEvents(rig, q).map((e) => e.id)).toEqual([0x10]);
  });

  it('6.1: page 1 holds EVENTQ/PRIQ PROD and CONS; page 0 at those offsets is RES0', () => {
    const rig = makeRig();
    bringUp(rig);
    rig.m.bus.write32(P1 + 0xac, 0x3);
    expect(rig.m.bus.read32(P1 + 0xac)).toBe(0x3);
    expect(rig.m.bus.read32(SMMU + 0xac)).toBe(0);
    rig.m.bus.write32(P1 + 0xcc, 0x2);
    expect(rig.m.bus.read32(P1 + 0xcc)).toBe(0x2);
    expect(rig.m.bus.errorCount).toBe(0);
    cmd(rig, tlbiNsnhAll(), sync());
  });
});
