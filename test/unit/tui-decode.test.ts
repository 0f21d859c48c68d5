// The TUI's one-line and detail decodes, held against encodings written from the
// specs (IHI 0070 command/event layouts, Linux arm-smmu-v3.h and hisi_qm.c field
// positions), not against the model's own tables.

import { describe, expect, it } from 'vitest';
import { createMachine } from '../../src/machine/create.js';
import { TraceKind, type TraceRecord } from '../../src/trace/record.js';
import { NO_SID } from '../../src/trace/ring.js';
import { decodeLine, detailSections, type DecodeContext } from '../../src/tui/model/decode.js';
import { describeRegister, mmioTarget } from '../../src/tui/model/mmio-names.js';
import type { Machine } from '../../src/machine/board.js';

const machine: Machine = createMachine({ ramSize: 64 * 1024 * 1024, cpus: 2 });

function ctxWith(snapshots: Map<number, Uint32Array> = new Map()): DecodeContext {
  return { machine, snapshots };
}

function rec(fields: Partial<TraceRecord> & { kind: TraceKind }): TraceRecord {
  return { index: 1, timeNs: 0, initiator: 'bench', sid: NO_SID, ssid: -1, iova: 0n, pa: 0n, size: 0, value: 0n, aux: 0, ...fields };
}

/** Little-endian 32-bit words of 64-bit dwords. */
function words(...dwords: bigint[]): Uint32Array {
  const w = new Uint32Array(dwords.length * 2);
  dwords.forEach((d, i) => {
    w[2 * i] = Number(d & 0xffffffffn);
    w[2 * i + 1] = Number(d >> 32n);
  });
  return w;
}

const SMMU = 0x0905_0000;

describe('MMIO accesses are named by device, register and fields', () => {
  it('SMMU CR0 (IHI 0070 6.3.9: SMMUEN bit 0, EVENTQEN bit 2, CMDQEN bit 3)', () => {
    const line = decodeLine(ctxWith(), rec({ kind: TraceKind.MmioWrite, pa: BigInt(SMMU + 0x20), iova: BigInt(SMMU + 0x20), size: 4, value: 0b1101n }));
    expect(line).toBe('smmu CR0 <- SMMUEN=1 EVENTQEN=1 CMDQEN=1');
  });

  it('SMMU page 1 registers: EVENTQ_PROD at 0x100a8 (6.3.27)', () => {
    const t = mmioTarget(machine, SMMU + 0x1_00a8)!;
    expect(t.device).toBe('smmu');
    expect(describeRegister(t.block!, t.offset, 4, 3n)!.name).toBe('EVENTQ_PROD');
  });

  it('a 32-bit half of a 64-bit register is named as that half (STRTAB_BASE at 0x80)', () => {
    const t = mmioTarget(machine, SMMU + 0x84)!;
    expect(describeRegister(t.block!, t.offset, 4, 0x4000_0000n)!.name).toBe('STRTAB_BASE.hi');
  });

  it('GIC distributor, PL011 and ECAM configuration space', () => {
    expect(decodeLine(ctxWith(), rec({ kind: TraceKind.MmioRead, pa: 0x0800_0004n, size: 4, value: 0n }))).toMatch(/^gicd GICD_TYPER ->/);
    expect(decodeLine(ctxWith(), rec({ kind: TraceKind.MmioWrite, pa: 0x0900_0000n, size: 4, value: 0x41n }))).toBe('uart UARTDR <- DATA=0x41');
    // ECAM: bus 0, device 2 (the testdev 1b36:0005), offset 0: Vendor ID / Device ID
    expect(decodeLine(ctxWith(), rec({ kind: TraceKind.MmioRead, pa: BigInt(0x3f00_0000 + (2 << 15)), size: 4, value: 0x0005_1b36n }))).toBe('ecam 00:02.0 ID -> VendorID=0x1b36 DeviceID=5');
    expect(decodeLine(ctxWith(), rec({ kind: TraceKind.MmioRead, pa: BigInt(0x3f00_0000 + (3 << 15)), size: 4, value: 0xffffffffn }))).toMatch(/ecam 00:03.0 \(no function\)/);
  });

  it('a QM doorbell in ZIP BAR2 (hisi_qm qm_db_v2: qn[11:0] cmd[15:12], index at bit 32, priority at 48)', () => {
    const bus = machine.bus;
    const ecam = 0x3f00_0000 + (1 << 15); // 00:01.0, the ZIP PF
    bus.write32(ecam + 0x18, 0x1040_0000); // BAR2 (64-bit) low
    bus.write32(ecam + 0x1c, 0);
    bus.write16(ecam + 0x04, 0x2); // Memory Space Enable
    const db = 0x1040_0000 + 0x1000;
    const value = 3n | (0n << 12n) | (7n << 32n) | (1n << 48n); // SQ doorbell of queue 3, tail 7, priority 1
    expect(decodeLine(ctxWith(), rec({ kind: TraceKind.MmioWrite, pa: BigInt(db), size: 8, value }))).toBe('zip SQ doorbell qn=3 index=7 priority=1');
  });
});

describe('SMMU commands are named by opcode with the fields that command reads', () => {
  const smmuCmd = (dw0: bigint, dw1: bigint) => {
    const r = rec({ kind: TraceKind.Command, initiator: 'smmu', pa: 0x4000_1000n, size: 16, value: dw0, aux: Number(dw0 & 0xffn) });
    return { r, ctx: ctxWith(new Map([[r.index, words(dw0, dw1)]])) };
  };

  it('CMD_CFGI_STE: opcode 0x03, StreamID dw0[63:32], Leaf dw1[0] (Linux CMDQ_CFGI_0_SID, CMDQ_CFGI_1_LEAF)', () => {
    const { r, ctx } = smmuCmd(0x03n | (0x10n << 32n), 1n);
    expect(decodeLine(ctx, r)).toBe('CMD_CFGI_STE StreamID=0x10 Leaf=1');
  });

  it('CMD_CFGI_STE_RANGE with Range 31 is CMD_CFGI_ALL (4.3.6)', () => {
    const { r, ctx } = smmuCmd(0x04n, 31n);
    expect(decodeLine(ctx, r)).toBe('CMD_CFGI_ALL');
  });

  it('CMD_TLBI_NH_VA: ASID dw0[63:48], NUM [16:12], SCALE [24:20]; Leaf, TTL [9:8], TG [11:10], Address [63:12] in dw1', () => {
    const { r, ctx } = smmuCmd(0x12n | (1n << 48n) | (5n << 20n), 1n | (3n << 8n) | (1n << 10n) | 0xfffc_0000n);
    expect(decodeLine(ctx, r)).toBe('CMD_TLBI_NH_VA NUM=0x0 SCALE=0x5 VMID=0x0 ASID=0x1 Leaf=1 TTL=3 TG=1 Address=0xfffc0000');
  });

  it('CMD_RESUME names its action and STAG (4.7.2; Linux CMDQ_RESUME_0_RESP_RETRY = 1 at [13:12])', () => {
    const { r, ctx } = smmuCmd(0x44n | (1n << 12n) | (0x10n << 32n), 0x2an);
    expect(decodeLine(ctx, r)).toBe('CMD_RESUME RETRY StreamID=0x10 STAG=0x2a');
  });

  it('CMD_SYNC with CS=IRQ shows where its MSI goes (4.7.3)', () => {
    const { r, ctx } = smmuCmd(0x46n | (1n << 12n) | (0x1234n << 32n), 0x4080_0000n);
    expect(decodeLine(ctx, r)).toBe('CMD_SYNC CS=IRQ MSIAddress=0x40800000 MSIData=0x1234');
  });

  it('the detail lists the command dwords and every field the opcode has, by name', () => {
    const { r, ctx } = smmuCmd(0x05n | (1n << 12n) | (0x10n << 32n), 1n);
    const text = detailSections(ctx, r).flatMap((s) => [s.title, ...s.rows]).join('\n');
    expect(text).toContain('CMD_CFGI_CD from the CMDQ slot at 0x40001000');
    expect(text).toMatch(/SubstreamID\s+0x1/);
    expect(text).toMatch(/StreamID\s+0x10/);
    expect(text).toContain('dw0 0x0000001000001005');
  });
});

describe('CPU exceptions read as what they are', () => {
  it('an SVC is a system call; a data abort names its fault status and direction (ESR ISS.DFSC, WnR)', () => {
    const ctx = ctxWith(new Map());
    expect(decodeLine(ctx, rec({ kind: TraceKind.Exception, initiator: 'cpu0', value: 2n, aux: 0x5600_0000 }))).toBe('system call (SVC #0)');
    const dabt = rec({ kind: TraceKind.Exception, initiator: 'cpu0', value: 0n, iova: 0xffff_bff6_2000n, aux: ((0x24 << 26) | (1 << 25) | (1 << 6) | 0x07) >>> 0 });
    expect(decodeLine(ctx, dabt)).toBe('sync ESR 0x92000047 EC=DABT_LOW translation fault L3 on write FAR 0xffffbff62000');
  });
});

describe('SMMU events are named (IHI 0070 7.3) and decoded from the EVTQ record', () => {
  it('F_TRANSLATION with Stall and STAG (dw1 STAG[15:0], Stall[31]), CLASS IN', () => {
    const dw0 = 0x10n | (1n << 11n) | (1n << 12n) | (0x10n << 32n);
    const dw1 = 0x2an | (1n << 31n) | (2n << 40n);
    const r = rec({ kind: TraceKind.Event, initiator: 'smmu', sid: 0x10, ssid: 1, iova: 0x7f00_0080_1000n, size: 32, value: 0x2an, aux: 0x10 });
    const ctx = ctxWith(new Map([[r.index, words(dw0, dw1, 0x7f00_0080_1000n, 0n)]]));
    expect(decodeLine(ctx, r)).toBe('F_TRANSLATION StreamID 0x10 SSID 1 InputAddr 0x7f0000801000 Stall STAG 0x2a');
    const text = detailSections(ctx, r).flatMap((s) => s.rows).join('\n');
    expect(text).toMatch(/Stall\s+1/);
    expect(text).toMatch(/STAG\s+0x2a/);
    expect(text).toContain('CLASS              2 (IN: input address)');
    expect(text).toContain('EventID            0x10 (F_TRANSLATION)');
    expect(text).toContain('RnW                0 (write)');
  });

  it('the record fields of a stall say what value and aux hold: the STAG and the event', () => {
    const r = rec({ kind: TraceKind.Stall, initiator: 'smmu', sid: 0x10, ssid: 1, iova: 0x7f00_0080_1000n, value: 0x2an, aux: 0x10 });
    const text = detailSections(ctxWith(new Map()), r).flatMap((s) => s.rows).join('\n');
    expect(text).toContain('value      0x2a (STAG)');
    expect(text).toContain('aux        0x10 (event F_TRANSLATION)');
  });

  it('configuration errors by name: C_BAD_STE is 0x04, C_BAD_CD 0x0a, F_STREAM_DISABLED 0x06', () => {
    for (const [id, name] of [
      [0x04, 'C_BAD_STE'],
      [0x0a, 'C_BAD_CD'],
      [0x06, 'F_STREAM_DISABLED'],
    ] as const) {
      expect(decodeLine(ctxWith(), rec({ kind: TraceKind.Event, initiator: 'smmu', sid: 3, aux: id }))).toMatch(new RegExp(`^${name} StreamID 0x3`));
    }
  });
});

describe('other architected records', () => {
  it('walks show the stage, level and fault; stalls their STAG; resumes their action', () => {
    const ctx = ctxWith();
    expect(decodeLine(ctx, rec({ kind: TraceKind.Walk, initiator: 'smmu', iova: 0x1000n, size: 4, aux: (1 << 16) | (1 << 8) | 3 }))).toBe('S1 walk 0x1000 L3 FAULT Translation (4 reads)');
    expect(decodeLine(ctx, rec({ kind: TraceKind.Stall, initiator: 'smmu', iova: 0x2000n, value: 5n, aux: 0x10 }))).toBe('STAG 0x5 F_TRANSLATION at 0x2000');
    expect(decodeLine(ctx, rec({ kind: TraceKind.Resume, initiator: 'smmu', iova: 0x2000n, value: 5n, aux: 1 }))).toBe('RETRY STAG 0x5 at 0x2000');
    expect(decodeLine(ctx, rec({ kind: TraceKind.Resume, initiator: 'smmu', sid: 8, aux: 2 }))).toMatch(/^STALL_TERM StreamID 0x8/);
  });

  it('PRI requests show R/W/Last and the PRG index; responses their code (PCIe 10.4.2)', () => {
    const ctx = ctxWith();
    expect(decodeLine(ctx, rec({ kind: TraceKind.PageRequest, iova: 0x12345n, value: 1n | 16n, aux: 7 }))).toBe('PRI PRG 7 R Last page 0x12000');
    expect(decodeLine(ctx, rec({ kind: TraceKind.PageResponse, value: 0xfn, aux: 7 }))).toBe('PRG 7 response Response Failure');
  });

  it('QM doorbells and ZIP completions (status 0x13 is decompression end, Linux HZIP_DECOMP_END)', () => {
    const zipInitiator = machine.trace.initiatorName(machine.zip.fn.dma.initiator);
    const ctx = ctxWith();
    expect(decodeLine(ctx, rec({ kind: TraceKind.Doorbell, initiator: zipInitiator, value: 9n, aux: 2 | (1 << 16) }))).toBe('CQ doorbell qn=2 index=9');
    expect(decodeLine(ctx, rec({ kind: TraceKind.Completion, initiator: zipInitiator, pa: 0xfff80000n, value: 0x13n, aux: 1 }))).toBe('qn=1 SQE 0xfff80000 status 0x13 DECOMP_END');
  });

  it('MSIs name their target; CPU aborts their DFSC; bus errors say why', () => {
    const ctx = ctxWith();
    // GITS_TRANSLATER is at 0x10040 in the ITS frame (IHI 0069 12.19.x)
    expect(decodeLine(ctx, rec({ kind: TraceKind.Msi, initiator: 'smmu', pa: BigInt(0x0808_0000 + 0x1_0040), value: 3n }))).toBe('write 0x3 to 0x8090040 (gits GITS_TRANSLATER)');
    expect(decodeLine(ctx, rec({ kind: TraceKind.Fault, initiator: 'cpu0', iova: 0x4000n, value: 1n, aux: 0x07 }))).toBe('translation fault L3 write at 0x4000');
    expect(decodeLine(ctx, rec({ kind: TraceKind.BusError, pa: 0x1000n, size: 4 }))).toBe('read of 4 B at 0x1000: nothing decodes it (DECERR)');
  });
});
