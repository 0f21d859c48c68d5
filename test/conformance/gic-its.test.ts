// GICv3 ITS: LPIs from MSIs, programmed through machine.bus only (IHI 0069 6.1-6.3, 12.19).
import { describe, expect, it } from 'vitest';
import { MachineCore, RAM_BASE } from '../../src/machine/machine.js';
import { DmaPort } from '../../src/hw/bus/dma.js';
import { Gic, GICD_BASE, GICR_BASE, GITS_BASE, GITS_TRANSLATER_PA } from '../../src/hw/gic/gic.js';
import { GICD } from '../../src/hw/gic/distributor.js';
import { GICR, GICR_STRIDE } from '../../src/hw/gic/redistributor.js';
import { GITS } from '../../src/hw/gic/its.js';
import { ITS_CMD, ItsOpcode, type ItsCmdFields, type ItsCommandName } from '../../src/hw/gic/its-command.js';
import { TraceKind } from '../../src/trace/record.js';
import { mulberry32 } from '../../src/machine/prng.js';

const PROP = RAM_BASE + 0x10_0000;
const PEND = RAM_BASE + 0x20_0000; // + core * 64 KiB
const DEVICE_TABLE = RAM_BASE + 0x30_0000;
const COLLECTION_TABLE = RAM_BASE + 0x31_0000;
const CMDQ = RAM_BASE + 0x32_0000;
const ITT = RAM_BASE + 0x33_0000;
const VALID = 1n << 63n;
const LPI_PRIO_ENABLED = 0xa0 | 1;

function setup(cores = 2, opts: { deviceTable?: boolean } = {}) {
  const m = new MachineCore({ cpus: cores });
  const gic = new Gic(m, { cores });
  gic.mapOn(m.bus);
  const bus = m.bus;
  bus.write32(GICD_BASE + GICD.CTLR, 0x13);
  // LPIs 8192..8255 enabled at priority 0xa0 before the Redistributors read the table.
  for (let i = 0; i < 64; i++) bus.write8(PROP + i, LPI_PRIO_ENABLED);
  for (let c = 0; c < cores; c++) {
    const rd = GICR_BASE + c * GICR_STRIDE;
    bus.write32(rd + GICR.WAKER, 0);
    bus.write64(rd + GICR.PROPBASER, BigInt(PROP) | 15n); // IDbits = 15: 16-bit INTIDs
    bus.write64(rd + GICR.PENDBASER, BigInt(PEND + c * 0x1_0000));
    bus.write32(rd + GICR.CTLR, 1); // EnableLPIs
    gic.cpuInterface(c).writeSysreg('ICC_PMR_EL1', 0xffn);
    gic.cpuInterface(c).writeSysreg('ICC_IGRPEN1_EL1', 1n);
  }
  // Device table: 16 x 4 KiB pages of 8-byte entries; collection table: one page.
  if (opts.deviceTable !== false) bus.write64(GITS_BASE + GITS.BASER, VALID | BigInt(DEVICE_TABLE) | 15n);
  bus.write64(GITS_BASE + GITS.BASER + 8, VALID | BigInt(COLLECTION_TABLE));
  bus.write64(GITS_BASE + GITS.CBASER, VALID | BigInt(CMDQ)); // one 4 KiB page: 128 commands
  bus.write64(GITS_BASE + GITS.CWRITER, 0n);
  bus.write32(GITS_BASE + GITS.CTLR, 1);
  let cwriter = 0;
  /** Queues commands, rings CWRITER and lets the ITS run. */
  const send = (...cmds: [ItsCommandName, ItsCmdFields][]) => {
    for (const [name, fields] of cmds) {
      bus.writeBytes(CMDQ + cwriter, ITS_CMD.toBytes(ITS_CMD.encode({ ...fields, CommandType: ItsOpcode[name] })));
      cwriter = (cwriter + 32) % 0x1000;
    }
    bus.write64(GITS_BASE + GITS.CWRITER, BigInt(cwriter));
    m.run({ untilIdle: true });
  };
  const creadr = () => bus.read64(GITS_BASE + GITS.CREADR);
  return { m, gic, bus, send, creadr };
}

/** Maps DeviceID 0x10 with 32 events, collection 1 -> core 1, event 3 -> LPI 8197. */
function mapOneEvent(t: ReturnType<typeof setup>) {
  t.send(
    ['MAPD', { DeviceID: 0x10, Size: 4, ITT_addr: ITT, V: 1 }],
    ['MAPC', { ICID: 0, RDbase: 0, V: 1 }],
    ['MAPC', { ICID: 1, RDbase: 1, V: 1 }],
    ['MAPTI', { DeviceID: 0x10, EventID: 3, pINTID: 8197, ICID: 1 }],
    ['SYNC', { RDbase: 1 }],
  );
}

const iar = (gic: Gic, c: number) => Number(gic.cpuInterface(c).readSysreg('ICC_IAR1_EL1'));

describe('ITS identification (IHI 0069 12.19)', () => {
  it('GITS_TYPER: physical LPIs, 8-byte ITT entries, 16 EventID and DeviceID bits, PTA == 0', () => {
    const { bus } = setup();
    const typer = bus.read64(GITS_BASE + GITS.TYPER);
    expect(typer & 1n).toBe(1n);
    expect((typer >> 4n) & 0xfn).toBe(7n);
    expect((typer >> 8n) & 0x1fn).toBe(15n);
    expect((typer >> 13n) & 0x1fn).toBe(15n);
    expect((typer >> 19n) & 1n).toBe(0n);
    expect((bus.read32(GITS_BASE + GITS.PIDR2) >>> 4) & 0xf).toBe(3);
  });

  it('GITS_BASER<n>: Type and Entry_Size are read-only, Indirect is RAZ/WI, unimplemented tables read 0', () => {
    const { bus } = setup();
    bus.write32(GITS_BASE + GITS.CTLR, 0);
    bus.write64(GITS_BASE + GITS.BASER, 0xffff_ffff_ffff_ffffn);
    const v = bus.read64(GITS_BASE + GITS.BASER);
    expect((v >> 56n) & 7n).toBe(1n); // Devices
    expect((v >> 48n) & 0x1fn).toBe(7n); // 8-byte entries
    expect((v >> 62n) & 1n).toBe(0n);
    expect((bus.read64(GITS_BASE + GITS.BASER + 8) >> 56n) & 7n).toBe(4n); // Collections
    expect(bus.read64(GITS_BASE + GITS.BASER + 16)).toBe(0n);
  });

  it('GITS_CTLR.Quiescent reads 1 only while the ITS is disabled', () => {
    const { bus } = setup();
    expect(bus.read32(GITS_BASE + GITS.CTLR) >>> 31).toBe(0);
    bus.write32(GITS_BASE + GITS.CTLR, 0);
    expect(bus.read32(GITS_BASE + GITS.CTLR) >>> 31).toBe(1);
  });
});

describe('command queue (IHI 0069 6.3, GITS_CWRITER/GITS_CREADR)', () => {
  it('commands are consumed in order at the modelled rate and GITS_CREADR follows GITS_CWRITER', () => {
    const t = setup();
    t.bus.writeBytes(CMDQ, ITS_CMD.toBytes(ITS_CMD.encode({ CommandType: ItsOpcode.MAPC, ICID: 0, RDbase: 0, V: 1 })));
    t.bus.writeBytes(CMDQ + 32, ITS_CMD.toBytes(ITS_CMD.encode({ CommandType: ItsOpcode.SYNC, RDbase: 0 })));
    t.bus.write64(GITS_BASE + GITS.CWRITER, 64n);
    expect(t.creadr()).toBe(0n);
    t.m.run({ forNs: t.m.cost.itsCommandNs });
    expect(t.creadr()).toBe(32n);
    t.m.run({ untilIdle: true });
    expect(t.creadr()).toBe(64n);
    expect(t.gic.its.commandsProcessed).toBe(2);
  });

  it('the queue wraps at the end of the GITS_CBASER pages', () => {
    const t = setup();
    for (let i = 0; i < 130; i++) t.send(['SYNC', { RDbase: 0 }]);
    expect(t.creadr()).toBe(64n);
    expect(t.gic.its.commandsProcessed).toBe(130);
  });

  it('a command error stalls the queue: GITS_CREADR.Stalled, offset at the failing command (MAPTI_UNMAPPED_DEVICE 0x010a04)', () => {
    const t = setup();
    t.send(['MAPC', { ICID: 0, RDbase: 0, V: 1 }], ['MAPTI', { DeviceID: 7, EventID: 0, pINTID: 8192, ICID: 0 }], ['SYNC', { RDbase: 0 }]);
    expect(t.creadr()).toBe(32n | 1n);
    expect(t.gic.its.lastCommandError).toMatchObject({ code: 0x010a04, name: 'MAPTI_UNMAPPED_DEVICE', offset: 32 });
  });

  it('GITS_CWRITER.Retry re-executes the stalled command; rewriting GITS_CBASER (ITS disabled) resets GITS_CREADR', () => {
    const t = setup();
    t.send(['MAPTI', { DeviceID: 7, EventID: 0, pINTID: 8192, ICID: 0 }]);
    expect(t.creadr()).toBe(1n);
    t.bus.write64(GITS_BASE + GITS.CWRITER, 32n | 1n);
    t.m.run({ untilIdle: true });
    expect(t.creadr()).toBe(1n); // same error again
    t.bus.write32(GITS_BASE + GITS.CTLR, 0);
    t.bus.write64(GITS_BASE + GITS.CBASER, VALID | BigInt(CMDQ));
    expect(t.creadr()).toBe(0n);
  });

  it('an unknown command number stalls the queue as UNSUPPORTED_COMMAND', () => {
    const t = setup();
    const cmd = new Uint8Array(32);
    cmd[0] = 0x2a; // VMAPTI: GICv4, not implemented (GITS_TYPER.Virtual == 0)
    t.bus.writeBytes(CMDQ, cmd);
    t.bus.write64(GITS_BASE + GITS.CWRITER, 32n);
    t.m.run({ untilIdle: true });
    expect(t.creadr()).toBe(1n);
    expect(t.gic.its.lastCommandError?.name).toBe('UNSUPPORTED_COMMAND');
  });

  it('MAPD with GITS_BASER (Devices).Valid == 0 fails as MAPD_DEVICE_OOR', () => {
    const t = setup(2, { deviceTable: false });
    t.send(['MAPD', { DeviceID: 1, Size: 4, ITT_addr: ITT, V: 1 }]);
    expect(t.gic.its.lastCommandError).toMatchObject({ code: 0x010801, name: 'MAPD_DEVICE_OOR' });
  });

  it('MAPD with more EventID bits than GITS_TYPER.IDbits fails as MAPD_ITTSIZE_OOR; MAPC to a missing PE as MAPC_PROCNUM_OOR', () => {
    const t = setup();
    t.send(['MAPD', { DeviceID: 1, Size: 16, ITT_addr: ITT, V: 1 }]);
    expect(t.gic.its.lastCommandError?.code).toBe(0x010802);
    const u = setup();
    u.send(['MAPC', { ICID: 0, RDbase: 2, V: 1 }]);
    expect(u.gic.its.lastCommandError?.code).toBe(0x010902);
  });

  it('MAPTI with a pINTID below 8192 fails as MAPTI_PHYSICALID_OOR', () => {
    const t = setup();
    t.send(['MAPD', { DeviceID: 1, Size: 4, ITT_addr: ITT, V: 1 }], ['MAPTI', { DeviceID: 1, EventID: 0, pINTID: 100, ICID: 0 }]);
    expect(t.gic.its.lastCommandError?.code).toBe(0x010a06);
  });
});

describe('MSI to LPI (IHI 0069 6.2: DeviceID, EventID -> ITE -> collection -> Redistributor)', () => {
  it('a 32-bit MSI write by a DMA master with StreamID 0x10 makes LPI 8197 pending at core 1 only', () => {
    const t = setup();
    mapOneEvent(t);
    expect(t.creadr()).toBe(160n);
    const dev = new DmaPort(t.bus, 'zip-pf', 0x10);
    dev.write32(GITS_TRANSLATER_PA, 3);
    expect(t.gic.cpuInterface(0).hasPendingIrq()).toBe(false);
    expect(t.gic.cpuInterface(1).hasPendingIrq()).toBe(true);
    expect(iar(t.gic, 1)).toBe(8197);
    expect(Number(t.gic.cpuInterface(1).readSysreg('ICC_RPR_EL1'))).toBe(0xa0);
    t.gic.cpuInterface(1).writeSysreg('ICC_EOIR1_EL1', 8197n);
    expect(iar(t.gic, 1)).toBe(1023); // LPIs have no active state and were consumed by the ack
  });

  it('MAPI maps EventID == pINTID and an LPI MSI is traced as Msi (sid = DeviceID, value = EventID, aux = INTID)', () => {
    const t = setup();
    t.send(['MAPD', { DeviceID: 0x22, Size: 15, ITT_addr: ITT, V: 1 }], ['MAPC', { ICID: 5, RDbase: 0, V: 1 }], ['MAPI', { DeviceID: 0x22, EventID: 8200, ICID: 5 }]);
    t.m.trace.enable();
    const from = t.m.trace.total;
    new DmaPort(t.bus, 'testdev', 0x22).write32(GITS_TRANSLATER_PA, 8200);
    const msi = [...t.m.trace.records(from)].find((r) => r.kind === TraceKind.Msi)!;
    expect([msi.initiator, msi.sid, Number(msi.pa), Number(msi.value), msi.aux]).toEqual(['testdev', 0x22, GITS_TRANSLATER_PA, 8200, 8200]);
    expect(iar(t.gic, 0)).toBe(8200);
  });

  it('an MSI from an unmapped DeviceID is dropped, counted and traced as a Fault', () => {
    const t = setup();
    mapOneEvent(t);
    t.m.trace.enable();
    const from = t.m.trace.total;
    new DmaPort(t.bus, 'rogue', 0x11).write32(GITS_TRANSLATER_PA, 3);
    expect(t.gic.its.translationErrors).toBe(1);
    expect(t.gic.its.lastTranslationError).toMatchObject({ deviceId: 0x11, eventId: 3 });
    expect(t.gic.cpuInterface(0).hasPendingIrq() || t.gic.cpuInterface(1).hasPendingIrq()).toBe(false);
    const fault = [...t.m.trace.records(from)].find((r) => r.kind === TraceKind.Fault);
    expect(fault?.sid).toBe(0x11);
  });

  it('an unmapped EventID of a mapped device, and an EventID beyond the ITT size, are dropped', () => {
    const t = setup();
    mapOneEvent(t);
    const dev = new DmaPort(t.bus, 'zip-pf', 0x10);
    dev.write32(GITS_TRANSLATER_PA, 4);
    dev.write32(GITS_TRANSLATER_PA, 32);
    expect(t.gic.its.translationErrors).toBe(2);
    expect(t.gic.cpuInterface(1).hasPendingIrq()).toBe(false);
  });

  it('a CPU store to GITS_TRANSLATER carries no DeviceID and is dropped', () => {
    const t = setup();
    mapOneEvent(t);
    t.bus.write32(GITS_TRANSLATER_PA, 3);
    expect(t.bus.error).toBe(false);
    expect(t.gic.its.translationErrors).toBe(1);
  });

  it('with GITS_CTLR.Enabled == 0 MSIs are dropped', () => {
    const t = setup();
    mapOneEvent(t);
    t.bus.write32(GITS_BASE + GITS.CTLR, 0);
    new DmaPort(t.bus, 'zip-pf', 0x10).write32(GITS_TRANSLATER_PA, 3);
    expect(t.gic.cpuInterface(1).hasPendingIrq()).toBe(false);
  });
});

describe('LPI configuration and ITS maintenance commands (IHI 0069 6.1, 6.3)', () => {
  it('an LPI disabled in the property table stays pending unsignalled until the entry is enabled and INV issued', () => {
    const t = setup();
    mapOneEvent(t);
    t.bus.write8(PROP + 5, 0xa0); // LPI 8197: enable bit clear ...
    t.send(['INVALL', { ICID: 1 }]); // ... seen once the collection's Redistributor re-reads the table
    new DmaPort(t.bus, 'zip-pf', 0x10).write32(GITS_TRANSLATER_PA, 3);
    expect(t.gic.cpuInterface(1).hasPendingIrq()).toBe(false);
    t.bus.write8(PROP + 5, 0x40 | 1);
    expect(t.gic.cpuInterface(1).hasPendingIrq()).toBe(false); // cached configuration
    t.send(['INV', { DeviceID: 0x10, EventID: 3 }]);
    expect(iar(t.gic, 1)).toBe(8197);
    expect(Number(t.gic.cpuInterface(1).readSysreg('ICC_RPR_EL1'))).toBe(0x40);
  });

  it('INT makes the mapped LPI pending and CLEAR removes it', () => {
    const t = setup();
    mapOneEvent(t);
    t.send(['INT', { DeviceID: 0x10, EventID: 3 }]);
    expect(t.gic.cpuInterface(1).hasPendingIrq()).toBe(true);
    t.send(['CLEAR', { DeviceID: 0x10, EventID: 3 }]);
    expect(t.gic.cpuInterface(1).hasPendingIrq()).toBe(false);
  });

  it('MOVI retargets the event and carries a pending LPI to the new collection', () => {
    const t = setup();
    mapOneEvent(t);
    new DmaPort(t.bus, 'zip-pf', 0x10).write32(GITS_TRANSLATER_PA, 3);
    t.send(['MOVI', { DeviceID: 0x10, EventID: 3, ICID: 0 }]);
    expect(t.gic.cpuInterface(1).hasPendingIrq()).toBe(false);
    expect(iar(t.gic, 0)).toBe(8197);
  });

  it('DISCARD removes the mapping and its pending state; a later MSI is dropped', () => {
    const t = setup();
    mapOneEvent(t);
    const dev = new DmaPort(t.bus, 'zip-pf', 0x10);
    dev.write32(GITS_TRANSLATER_PA, 3);
    t.send(['DISCARD', { DeviceID: 0x10, EventID: 3 }]);
    expect(t.gic.cpuInterface(1).hasPendingIrq()).toBe(false);
    dev.write32(GITS_TRANSLATER_PA, 3);
    expect(t.gic.its.translationErrors).toBe(1);
  });

  it('MOVALL moves every pending LPI from one Redistributor to another', () => {
    const t = setup();
    mapOneEvent(t);
    new DmaPort(t.bus, 'zip-pf', 0x10).write32(GITS_TRANSLATER_PA, 3);
    t.send(['MOVALL', { RDbase: 1, RDbase2: 0 }]);
    expect(t.gic.cpuInterface(1).hasPendingIrq()).toBe(false);
    expect(iar(t.gic, 0)).toBe(8197);
  });

  it('pending bits already set in the pending table are picked up when LPIs are enabled (PTZ == 0)', () => {
    const m = new MachineCore({ cpus: 1 });
    const gic = new Gic(m, { cores: 1 });
    gic.mapOn(m.bus);
    const bus = m.bus;
    bus.write32(GICD_BASE + GICD.CTLR, 0x13);
    bus.write8(PROP + 9, LPI_PRIO_ENABLED);
    bus.write8(PEND + (8201 >>> 3), 1 << (8201 & 7));
    bus.write32(GICR_BASE + GICR.WAKER, 0);
    bus.write64(GICR_BASE + GICR.PROPBASER, BigInt(PROP) | 15n);
    bus.write64(GICR_BASE + GICR.PENDBASER, BigInt(PEND));
    bus.write32(GICR_BASE + GICR.CTLR, 1);
    gic.cpuInterface(0).writeSysreg('ICC_PMR_EL1', 0xffn);
    gic.cpuInterface(0).writeSysreg('ICC_IGRPEN1_EL1', 1n);
    expect(iar(gic, 0)).toBe(8201);
  });

  it('an LPI beyond GICR_PROPBASER.IDbits is rejected by the Redistributor', () => {
    const m = new MachineCore({ cpus: 1 });
    const gic = new Gic(m, { cores: 1 });
    gic.mapOn(m.bus);
    const bus = m.bus;
    bus.write64(GICR_BASE + GICR.PROPBASER, BigInt(PROP) | 13n); // 14 bits: INTIDs < 16384
    bus.write32(GICR_BASE + GICR.CTLR, 1);
    expect(gic.redistributors[0]!.setLpiPending(16384)).toBe(false);
    expect(gic.redistributors[0]!.setLpiPending(16383)).toBe(true);
  });
});

describe('garbage in, architected behaviour out', () => {
  const rng = mulberry32;

  it('random commands, random MSIs and random GIC register writes never throw a host exception', () => {
    const t = setup();
    const rand = rng(0x5eed);
    const int = (n: number) => Math.floor(rand() * n);
    const ops = [0x01, 0x03, 0x04, 0x05, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x2a, int(256)];
    const port = new DmaPort(t.bus, 'fuzz', 0);
    for (let round = 0; round < 300; round++) {
      const cmd = new Uint8Array(32);
      for (let i = 0; i < 32; i++) cmd[i] = int(256);
      cmd[0] = ops[int(ops.length)]!;
      // Keep some IDs small so commands often hit mapped state.
      if (rand() < 0.7) cmd.set([int(4), 0, 0, 0], 4);
      if (rand() < 0.7) cmd.set([int(8), 0, 0, 0], 8);
      if (rand() < 0.7) cmd.set([int(4), 0, int(3), 0], 16);
      t.bus.writeBytes(CMDQ + (round % 128) * 32, cmd);
      t.bus.write64(GITS_BASE + GITS.CWRITER, BigInt(((round % 128) + 1) * 32 % 0x1000) | BigInt(int(2)));
      port.sid = int(6);
      port.write32(GITS_TRANSLATER_PA, int(40));
      const frame = [GICD_BASE, GICR_BASE + int(2) * GICR_STRIDE + int(2) * 0x1_0000, GITS_BASE][int(3)]!;
      const off = int(0x1_0000) & ~3;
      if (frame !== GITS_BASE || (off !== GITS.CBASER && off !== GITS.CTLR)) t.bus.write32(frame + off, int(2 ** 32));
      t.m.run({ forNs: 1000 });
      for (let c = 0; c < 2; c++) {
        const cpu = t.gic.cpuInterface(c);
        const intid = cpu.readSysreg('ICC_IAR1_EL1');
        if (intid !== 1023n) cpu.writeSysreg('ICC_EOIR1_EL1', intid);
        cpu.writeSysreg('ICC_SGI1R_EL1', BigInt(int(2 ** 32)) | (BigInt(int(2 ** 32)) << 32n));
      }
    }
    // The ITS either ran everything or stopped at an architected stall.
    const creadr = t.creadr();
    expect(t.gic.its.isStalled ? (creadr & 1n) === 1n : (creadr & 1n) === 0n).toBe(true);
    expect(t.gic.its.commandsProcessed + t.gic.its.translationErrors).toBeGreaterThan(0);
  });
});
