// Register definitions over an IrqStateBank that the Distributor (GICD_*<n>, one per
// word of SPIs) and a Redistributor's SGI_base frame (GICR_*0, SGIs and PPIs) share:
// IHI 0069 gives both the same offsets and semantics, only the INTID range differs.

import type { RegDef } from '../regs/regmap.js';
import { PRIORITY_MASK, ctz32 } from './intid.js';
import type { IrqStateBank } from './irq-state.js';

/** Offsets of word 0 (GICD_*0 and GICR_*0 alike); word n is 4n further. */
export const IRQ_REG = {
  IGROUPR: 0x0080,
  ISENABLER: 0x0100,
  ICENABLER: 0x0180,
  ISPENDR: 0x0200,
  ICPENDR: 0x0280,
  ISACTIVER: 0x0300,
  ICACTIVER: 0x0380,
  IPRIORITYR: 0x0400,
  ICFGR: 0x0c00,
} as const;

/** Reserved (unimplemented, RAZ/WI) bits of a 4-priority IPRIORITYR word. */
const PRIORITY_RESERVED = ~(PRIORITY_MASK * 0x01010101) >>> 0;

/**
 * IGROUPR, ISENABLER/ICENABLER, ISPENDR/ICPENDR and ISACTIVER/ICACTIVER of word `w`.
 * The set/clear pairs read the same state; a write acts on the bits written as 1.
 */
export function irqWordRegisters(
  bank: IrqStateBank,
  w: number,
  prefix: 'GICD' | 'GICR',
  changed: () => void,
  becamePending: (intid: number) => void,
): RegDef[] {
  const at = (base: number): number => base + 4 * w;
  const name = (reg: string): string => `${prefix}_${reg}${w}`;
  const setClear = (set: string, clear: string, setOff: number, clearOff: number, state: Uint32Array): RegDef[] => [
    {
      name: name(set),
      offset: at(setOff),
      access: 'W1S',
      read: () => state[w]!,
      write: (_v, _o, bits) => {
        state[w]! |= Number(bits);
        changed();
      },
    },
    {
      name: name(clear),
      offset: at(clearOff),
      access: 'W1C',
      read: () => state[w]!,
      write: (_v, _o, bits) => {
        state[w]! &= ~Number(bits);
        changed();
      },
    },
  ];
  return [
    {
      name: name('IGROUPR'),
      offset: at(IRQ_REG.IGROUPR),
      write: (v) => {
        bank.group[w] = Number(v);
        changed();
      },
    },
    ...setClear('ISENABLER', 'ICENABLER', IRQ_REG.ISENABLER, IRQ_REG.ICENABLER, bank.enabled),
    {
      name: name('ISPENDR'),
      offset: at(IRQ_REG.ISPENDR),
      access: 'W1S',
      read: () => bank.pending(w),
      write: (_v, _o, bits) => {
        let became = bank.setPendingBits(w, Number(bits));
        while (became !== 0) {
          becamePending(w * 32 + ctz32(became));
          became &= became - 1;
        }
        changed();
      },
    },
    {
      name: name('ICPENDR'),
      offset: at(IRQ_REG.ICPENDR),
      access: 'W1C',
      read: () => bank.pending(w),
      // Clears the latch only: a level-sensitive input still asserted keeps it pending.
      write: (_v, _o, bits) => {
        bank.pendLatch[w]! &= ~Number(bits);
        changed();
      },
    },
    ...setClear('ISACTIVER', 'ICACTIVER', IRQ_REG.ISACTIVER, IRQ_REG.ICACTIVER, bank.active),
  ];
}

/** IPRIORITYR<k> for k in [from, to): one byte per INTID, unimplemented low bits RAZ/WI. */
export function priorityRegisters(bank: IrqStateBank, prefix: 'GICD' | 'GICR', from: number, to: number, changed: () => void): RegDef[] {
  const defs: RegDef[] = [];
  for (let k = from; k < to; k++) {
    defs.push({
      name: `${prefix}_IPRIORITYR${k}`,
      offset: IRQ_REG.IPRIORITYR + 4 * k,
      reserved: PRIORITY_RESERVED,
      write: (v) => {
        const x = Number(v);
        for (let j = 0; j < 4; j++) bank.priority[4 * k + j] = (x >>> (8 * j)) & 0xff;
        changed();
      },
    });
  }
  return defs;
}

/** ICFGR<k>, RW: Int_config (1 = edge) at the odd bit of each 2-bit field. */
export function configRegister(bank: IrqStateBank, prefix: 'GICD' | 'GICR', k: number, changed: () => void): RegDef {
  return {
    name: `${prefix}_ICFGR${k}`,
    offset: IRQ_REG.ICFGR + 4 * k,
    reserved: 0x55555555,
    write: (v) => {
      bank.setIcfgr(k, Number(v));
      changed();
    },
  };
}
