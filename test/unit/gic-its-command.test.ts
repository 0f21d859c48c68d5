// ITS command field table (IHI 0069 6.3) against encodings worked out from the spec
// layouts and the way Linux's its_encode_* helpers place the same fields.
import { describe, expect, it } from 'vitest';
import { ITS_CMD_FIELDS as F, ItsOpcode, encodeItsCommand, itsCmdField, itsCommandName } from '../../src/hw/gic/its-command.js';

function dwords(bytes: Uint8Array): bigint[] {
  const v = new DataView(bytes.buffer);
  return [0, 1, 2, 3].map((i) => v.getBigUint64(8 * i, true));
}

function words(bytes: Uint8Array): Uint32Array {
  const v = new DataView(bytes.buffer);
  return Uint32Array.from({ length: 8 }, (_, i) => v.getUint32(4 * i, true));
}

describe('ITS command layout (IHI 0069 6.3)', () => {
  it('MAPD: DeviceID in DW0[63:32], Size in DW1[4:0], ITT_addr in DW2[51:8], V in DW2[63]', () => {
    const cmd = encodeItsCommand('MAPD', { DeviceID: 0x10, Size: 4, ITT_addr: 0x4033_0000 / 256, V: 1 });
    expect(dwords(cmd)).toEqual([0x0000_0010_0000_0008n, 0x4n, 0x8000_0000_4033_0000n, 0n]);
  });

  it('MAPC: ICID in DW2[15:0] and RDbase (processor number with PTA == 0) in DW2[50:16]', () => {
    const cmd = encodeItsCommand('MAPC', { ICID: 1, RDbase: 1, V: 1 });
    expect(dwords(cmd)).toEqual([0x9n, 0n, 0x8000_0000_0001_0001n, 0n]);
  });

  it('MAPTI: EventID in DW1[31:0], pINTID in DW1[63:32], ICID in DW2[15:0]', () => {
    const cmd = encodeItsCommand('MAPTI', { DeviceID: 0x10, EventID: 3, pINTID: 8197, ICID: 1 });
    expect(dwords(cmd)).toEqual([0x0000_0010_0000_000an, 0x0000_2005_0000_0003n, 1n, 0n]);
  });

  it('decoding reads back every field, including the 44-bit ITT address spanning two words', () => {
    const itt = 0xf_ffff_ffff_ff00 / 256;
    const w = words(encodeItsCommand('MAPD', { DeviceID: 0xffff_ffff, Size: 31, ITT_addr: itt, V: 1 }));
    expect(itsCmdField(w, F.CommandType)).toBe(ItsOpcode.MAPD);
    expect(itsCmdField(w, F.DeviceID)).toBe(0xffff_ffff);
    expect(itsCmdField(w, F.Size)).toBe(31);
    expect(itsCmdField(w, F.ITT_addr)).toBe(itt);
    expect(itsCmdField(w, F.V)).toBe(1);
  });

  it('command numbers name back to their commands; GICv4 numbers are not physical commands', () => {
    expect(itsCommandName(0x0a)).toBe('MAPTI');
    expect(itsCommandName(0x05)).toBe('SYNC');
    expect(itsCommandName(0x2a)).toBeUndefined();
  });
});
