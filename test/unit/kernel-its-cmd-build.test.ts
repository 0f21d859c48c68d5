// The guest ITS driver's command table and builders (IHI 0069 6.3) against encodings
// worked out from the spec layouts and the placement of Linux's its_encode_* helpers.
import { describe, expect, it } from 'vitest';
import {
  GITS_CMD,
  its_build_event_cmd,
  its_build_mapc_cmd,
  its_build_mapd_cmd,
  its_build_mapti_cmd,
  its_build_sync_cmd,
} from '../../src/kernel/drivers/irqchip/irq-gic-v3-its.js';

function dwords(cmd: Uint32Array): bigint[] {
  const v = new DataView(GITS_CMD.toBytes(cmd).buffer);
  return [0, 1, 2, 3].map((i) => v.getBigUint64(8 * i, true));
}

/** A command buffer holding garbage: every builder starts from a clean block. */
const dirty = () => new Uint32Array(8).fill(0xffffffff);

describe('guest ITS command builders (irq-gic-v3-its.c its_build_*_cmd)', () => {
  it('MAPD: DeviceID in DW0[63:32], Size = EventID bits - 1 in DW1[4:0], ITT address [51:8] in DW2, V in DW2[63]', () => {
    expect(dwords(its_build_mapd_cmd(dirty(), 0x10, 5, 0x4033_0000, true))).toEqual([0x0000_0010_0000_0008n, 0x4n, 0x8000_0000_4033_0000n, 0n]);
  });

  it('MAPD with V = 0 unmaps: V clear, no ITT address', () => {
    expect(dwords(its_build_mapd_cmd(dirty(), 0x10, 1, 0, false))).toEqual([0x0000_0010_0000_0008n, 0n, 0n, 0n]);
  });

  it('MAPD keeps the ITT address bits [51:8] of a high address exactly', () => {
    const cmd = its_build_mapd_cmd(dirty(), 0xffff_ffff, 16, 0xf_ffff_ffff_ff00, true);
    expect(dwords(cmd)[2]).toBe(0x800f_ffff_ffff_ff00n);
    expect(GITS_CMD.decode(cmd)).toMatchObject({ DeviceID: 0xffff_ffff, Size: 15, ITT_addr: 0xf_ffff_ffff_ff00, V: 1 });
  });

  it('MAPC: ICID in DW2[15:0], RDbase (processor number) from DW2[16], V in DW2[63]', () => {
    expect(dwords(its_build_mapc_cmd(dirty(), 1, 1))).toEqual([0x9n, 0n, 0x8000_0000_0001_0001n, 0n]);
  });

  it('MAPTI: EventID in DW1[31:0], pINTID in DW1[63:32], ICID in DW2[15:0]', () => {
    expect(dwords(its_build_mapti_cmd(dirty(), 0x10, 3, 8197, 1))).toEqual([0x0000_0010_0000_000an, 0x0000_2005_0000_0003n, 1n, 0n]);
  });

  it('INV and DISCARD: DeviceID and EventID only', () => {
    expect(dwords(its_build_event_cmd(dirty(), 0x0c, 0x22, 7))).toEqual([0x0000_0022_0000_000cn, 7n, 0n, 0n]);
    expect(dwords(its_build_event_cmd(dirty(), 0x0f, 0x22, 7))).toEqual([0x0000_0022_0000_000fn, 7n, 0n, 0n]);
  });

  it('SYNC: RDbase in DW2 from bit 16', () => {
    expect(dwords(its_build_sync_cmd(dirty(), 3))).toEqual([0x5n, 0n, 0x3_0000n, 0n]);
  });
});
