// ITS command format (IHI 0069 6.3): 32 bytes, four little-endian doublewords; the
// command number is DW0[7:0]. Fields are declared once here as a table (doubleword,
// bit position, width) and decoded from the table, so tests and the TUI can print a
// command by field name. This is the device model's table; the guest driver has its own.

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

export interface ItsCmdField {
  readonly name: string;
  /** Doubleword 0..3. */
  readonly dw: number;
  /** Bit position within the doubleword. */
  readonly lsb: number;
  readonly width: number;
}

const f = (name: string, dw: number, lsb: number, width: number): ItsCmdField => ({ name, dw, lsb, width });

/** Every field of the physical commands (IHI 0069 6.3, one section per command). */
export const ITS_CMD_FIELDS = {
  CommandType: f('CommandType', 0, 0, 8),
  DeviceID: f('DeviceID', 0, 32, 32),
  /** MAPD: number of EventID bits minus one. */
  Size: f('Size', 1, 0, 5),
  EventID: f('EventID', 1, 0, 32),
  pINTID: f('pINTID', 1, 32, 32),
  ICID: f('ICID', 2, 0, 16),
  /** MAPD: ITT address bits [51:8]. */
  ITT_addr: f('ITT_addr', 2, 8, 44),
  /** MAPC, SYNC, MOVALL: target Redistributor (the processor number with GITS_TYPER.PTA == 0). */
  RDbase: f('RDbase', 2, 16, 35),
  V: f('V', 2, 63, 1),
  /** MOVALL: the second Redistributor. */
  RDbase2: f('RDbase2', 3, 16, 35),
} as const;

const F = ITS_CMD_FIELDS;

/** Fields each command uses, in the order the spec lists them. */
export const ITS_COMMAND_LAYOUT: Readonly<Record<ItsCommandName, readonly ItsCmdField[]>> = {
  MOVI: [F.DeviceID, F.EventID, F.ICID],
  INT: [F.DeviceID, F.EventID],
  CLEAR: [F.DeviceID, F.EventID],
  SYNC: [F.RDbase],
  MAPD: [F.DeviceID, F.Size, F.ITT_addr, F.V],
  MAPC: [F.ICID, F.RDbase, F.V],
  MAPTI: [F.DeviceID, F.EventID, F.pINTID, F.ICID],
  MAPI: [F.DeviceID, F.EventID, F.ICID],
  INV: [F.DeviceID, F.EventID],
  INVALL: [F.ICID],
  MOVALL: [F.RDbase, F.RDbase2],
  DISCARD: [F.DeviceID, F.EventID],
};

export function itsCommandName(opcode: number): ItsCommandName | undefined {
  for (const [name, op] of Object.entries(ItsOpcode)) if (op === opcode) return name as ItsCommandName;
  return undefined;
}

/**
 * Extracts a field from a command held as eight 32-bit words (dw0 lo, dw0 hi, ...).
 * Widths up to 52 bits come back exact as Numbers.
 */
export function itsCmdField(words: Uint32Array, field: ItsCmdField): number {
  let out = 0;
  let scale = 1;
  let bit = field.lsb;
  let left = field.width;
  while (left > 0) {
    const word = words[field.dw * 2 + (bit >>> 5)]!;
    const shift = bit & 31;
    const take = Math.min(32 - shift, left);
    const part = take === 32 ? word >>> 0 : ((word >>> shift) & ((1 << take) - 1)) >>> 0;
    out += part * scale;
    scale *= 2 ** take;
    bit += take;
    left -= take;
  }
  return out;
}

/** Builds a command (for tests and tools): the inverse of `itsCmdField`. */
export function encodeItsCommand(name: ItsCommandName, values: Readonly<Record<string, number>>): Uint8Array {
  const words = new Uint32Array(8);
  const put = (field: ItsCmdField, value: number): void => {
    let bit = field.lsb;
    let left = field.width;
    let v = value;
    while (left > 0) {
      const idx = field.dw * 2 + (bit >>> 5);
      const shift = bit & 31;
      const take = Math.min(32 - shift, left);
      const part = take === 32 ? v % 2 ** 32 : v % 2 ** take;
      words[idx] = (words[idx]! | (part << shift)) >>> 0;
      v = Math.floor(v / 2 ** take);
      bit += take;
      left -= take;
    }
  };
  put(F.CommandType, ItsOpcode[name]);
  for (const field of ITS_COMMAND_LAYOUT[name]) {
    const v = values[field.name];
    if (v !== undefined) put(field, v);
  }
  const out = new Uint8Array(ITS_CMD_SIZE);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) view.setUint32(4 * i, words[i]!, true);
  return out;
}
