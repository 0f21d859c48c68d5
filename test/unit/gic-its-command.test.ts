// ITS command field table (IHI 0069 6.3) against encodings worked out from the spec
// layouts and the way Linux's its_encode_* helpers place the same fields.
import { describe, expect, it } from 'vitest';
import { ITS_CMD, ItsOpcode, itsCommandName } from '../../src/hw/gic/its-command.js';

const F = ITS_CMD.f;

function dwords(words: Uint32Array): bigint[] {
  const v = new DataView(ITS_CMD.toBytes(words).buffer);
  return [0, 1, 2, 3].map((i) => v.getBigUint64(8 * i, true));
}

describe('ITS command layout (IHI 0069 6.3)', () => {
  it('MAPD: DeviceID in DW0[63:32], Size in DW1[4:0], ITT_addr in DW2[51:8], V in DW2[63]', () => {
    const cmd = ITS_CMD.encode({ CommandType: ItsOpcode.MAPD, DeviceID: 0x10, Size: 4, ITT_addr: 0x4033_0000, V: 1 });
    expect(dwords(cmd)).toEqual([0x0000_0010_0000_0008n, 0x4n, 0x8000_0000_4033_0000n, 0n]);
  });

  it('MAPC: ICID in DW2[15:0] and RDbase (processor number with PTA == 0) in DW2[50:16]', () => {
    const cmd = ITS_CMD.encode({ CommandType: ItsOpcode.MAPC, ICID: 1, RDbase: 1, V: 1 });
    expect(dwords(cmd)).toEqual([0x9n, 0n, 0x8000_0000_0001_0001n, 0n]);
  });

  it('MAPTI: EventID in DW1[31:0], pINTID in DW1[63:32], ICID in DW2[15:0]', () => {
    const cmd = ITS_CMD.encode({ CommandType: ItsOpcode.MAPTI, DeviceID: 0x10, EventID: 3, pINTID: 8197, ICID: 1 });
    expect(dwords(cmd)).toEqual([0x0000_0010_0000_000an, 0x0000_2005_0000_0003n, 1n, 0n]);
  });

  it('MOVALL: RDbase in DW2[50:16], RDbase2 in DW3[50:16]', () => {
    const cmd = ITS_CMD.encode({ CommandType: ItsOpcode.MOVALL, RDbase: 0x7_ffff_ffff, RDbase2: 2 });
    expect(dwords(cmd)).toEqual([0xen, 0n, 0x0007_ffff_ffff_0000n, 0x0000_0000_0002_0000n]);
  });

  it('decoding reads back every field, including the ITT address spanning two words, from the bytes', () => {
    const itt = 0xf_ffff_ffff_ff00;
    const bytes = ITS_CMD.toBytes(ITS_CMD.encode({ CommandType: ItsOpcode.MAPD, DeviceID: 0xffff_ffff, Size: 31, ITT_addr: itt, V: 1 }));
    const w = ITS_CMD.fromBytes(bytes);
    expect(ITS_CMD.get(w, F.CommandType)).toBe(ItsOpcode.MAPD);
    expect(ITS_CMD.get(w, F.DeviceID)).toBe(0xffff_ffff);
    expect(ITS_CMD.get(w, F.Size)).toBe(31);
    expect(ITS_CMD.get(w, F.ITT_addr)).toBe(itt);
    expect(ITS_CMD.flag(w, F.V)).toBe(true);
  });

  it('ITT_addr keeps address bits [51:8] only: bits below 256-byte alignment and above bit 51 are not encoded', () => {
    const w = ITS_CMD.encode({ ITT_addr: 0x10_0000_4033_01ff });
    expect(dwords(w)[2]).toBe(0x4033_0100n);
    expect(ITS_CMD.get(w, F.ITT_addr)).toBe(0x4033_0100);
  });

  it('command numbers name back to their commands; GICv4 numbers are not physical commands', () => {
    expect(itsCommandName(0x0a)).toBe('MAPTI');
    expect(itsCommandName(0x05)).toBe('SYNC');
    expect(itsCommandName(0x2a)).toBeUndefined();
  });
});
