// ITS command format (IHI 0069 6.3): 32 bytes, four little-endian doublewords; the
// command number is DW0[7:0]. The fields of the physical commands are one union table
// on the device models' structure-layout module, so tests and the TUI can build and
// print a command by field name. This is the device model's table; the guest driver
// has its own.

import { dw, dwAddr, StructLayout } from '../regs/struct-layout.js';

export const ITS_CMD_SIZE = 32;

/** Command numbers of the physical LPI commands (IHI 0069 6.3, the ITS command summary). */
export const ItsOpcode = {
  MOVI: 0x01,
  INT: 0x03,
  CLEAR: 0x04,
  SYNC: 0x05,
  MAPD: 0x08,
  MAPC: 0x09,
  MAPTI: 0x0a,
  MAPI: 0x0b,
  INV: 0x0c,
  INVALL: 0x0d,
  MOVALL: 0x0e,
  DISCARD: 0x0f,
} as const;

export type ItsCommandName = keyof typeof ItsOpcode;

/**
 * Every field of the physical commands (IHI 0069 6.3, one section per command); the
 * commands share bits, each reads its own: MOVI, INT, CLEAR, INV, DISCARD take DeviceID
 * and EventID (MOVI also ICID); MAPTI adds pINTID and ICID, MAPI ICID; MAPD DeviceID,
 * Size, ITT_addr, V; MAPC ICID, RDbase, V; SYNC RDbase; INVALL ICID; MOVALL RDbase and
 * RDbase2.
 */
export const ITS_CMD = new StructLayout('ITS_CMD', ITS_CMD_SIZE, {
  CommandType: dw(0, 7, 0),
  DeviceID: dw(0, 63, 32),
  /** MAPD: number of EventID bits minus one. */
  Size: dw(1, 4, 0),
  EventID: dw(1, 31, 0),
  pINTID: dw(1, 63, 32),
  ICID: dw(2, 15, 0),
  /** MAPD: the ITT's physical address, bits [51:8] (read and written as the address). */
  ITT_addr: dwAddr(2, 51, 8),
  /** MAPC, SYNC, MOVALL: target Redistributor (the processor number with GITS_TYPER.PTA == 0). */
  RDbase: dw(2, 50, 16),
  V: dw(2, 63),
  /** MOVALL: the second Redistributor. */
  RDbase2: dw(3, 50, 16),
}, { union: true });

export type ItsCmdFields = Partial<Record<keyof typeof ITS_CMD.f, number>>;

export function itsCommandName(opcode: number): ItsCommandName | undefined {
  for (const [name, op] of Object.entries(ItsOpcode)) if (op === opcode) return name as ItsCommandName;
  return undefined;
}
