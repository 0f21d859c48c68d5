// Names for MMIO accesses: which device, which register, which fields. The device
// models declare their registers as data (src/hw/regs); this follows an address
// through the bus regions, the PCIe windows and BARs, and the SMMU and GIC frames to
// that table, then reads the field values out of the accessed value.

import { RegisterBlock, type RegDef } from '../../hw/regs/regmap.js';
import type { MachineCore } from '../../machine/machine.js';
import { Machine } from '../../machine/board.js';
import { SmmuV3 } from '../../hw/smmuv3/smmuv3.js';
import { SMMU_PAGE1 } from '../../hw/smmuv3/registers.js';
import { GICR_FRAME_SIZE, GICR_STRIDE } from '../../hw/gic/redistributor.js';
import { QM_DOORBELL_EQ_AEQ_BASE_V2, QM_DOORBELL_PAGE_SIZE, QM_DOORBELL_SQ_CQ_BASE_V2, QmDoorbellCmd } from '../../hw/qm/registers.js';
import type { PciFunction } from '../../hw/pcie/function.js';
import { GITS } from '../../hw/gic/its.js';

/** Where an MMIO address lands. */
export interface MmioTarget {
  /** Short device name: smmu, gicd, gicr1.sgi, uart, zip, testdev, ecam 00:02.0 ... */
  readonly device: string;
  /** The register table of that frame, when the device declares one. */
  readonly block: RegisterBlock | undefined;
  /** Offset within the frame. */
  readonly offset: number;
  /** What the frame is when it has no register table (doorbell page, MSI-X table). */
  readonly special?: 'qm-doorbell' | 'msix-table' | 'msix-pba' | 'its-translater';
}

/** One register hit by an access, with the fields the access covers. */
export interface RegisterAccess {
  /** Register name; a 32-bit half of a 64-bit register gets ".lo" / ".hi". */
  readonly name: string;
  readonly def: RegDef;
  /** Fields covered by the access, with their values. */
  readonly fields: readonly { readonly name: string; readonly value: number }[];
}

const blockIndex = new WeakMap<RegisterBlock, Map<number, RegDef>>();

/** The register whose bytes include `offset` (by 32-bit word), or undefined. */
export function registerAt(block: RegisterBlock, offset: number): RegDef | undefined {
  let index = blockIndex.get(block);
  if (index === undefined) {
    index = new Map();
    for (const def of block.definitions) {
      const words = def.width === 64 ? 2 : 1;
      for (let w = 0; w < words; w++) index.set(def.offset + w * 4, def);
    }
    blockIndex.set(block, index);
  }
  return index.get(offset & ~3);
}

/** Names the register and fields an access of `size` bytes at `offset` with `value` touches. */
export function describeRegister(block: RegisterBlock, offset: number, size: number, value: bigint): RegisterAccess | undefined {
  const def = registerAt(block, offset);
  if (def === undefined) return undefined;
  const regBits = def.width === 64 ? 64 : 32;
  const startBit = (offset - def.offset) * 8;
  const endBit = Math.min(regBits, startBit + size * 8);
  let name = def.name;
  if (regBits === 64 && size < 8) name += startBit >= 32 ? '.hi' : '.lo';
  else if (regBits === 32 && size < 4) name += `[${startBit + size * 8 - 1}:${startBit}]`;
  const fields: { name: string; value: number }[] = [];
  for (const f of def.fields ?? []) {
    if (f.lsb < startBit || f.lsb + f.width > endBit) continue;
    const v = (value >> BigInt(f.lsb - startBit)) & ((1n << BigInt(f.width)) - 1n);
    fields.push({ name: f.name, value: Number(v) });
  }
  return { name, def, fields };
}

function hasRegs(d: unknown): d is { regs: RegisterBlock } {
  return typeof d === 'object' && d !== null && (d as { regs?: unknown }).regs instanceof RegisterBlock;
}

const bdfText = (rid: number) => `${(rid >>> 8).toString(16).padStart(2, '0')}:${((rid >>> 3) & 31).toString(16).padStart(2, '0')}.${rid & 7}`;

/** Short names of the PCI functions this SoC carries. */
function functionName(fn: PciFunction): string {
  const n = fn.spec.name;
  return n === 'hisi_zip' ? 'zip' : n === 'iommu-testdev' ? 'testdev' : n;
}

function barTarget(fn: PciFunction, bar: number, offset: number): MmioTarget {
  const name = functionName(fn);
  const x = fn.spec.msix;
  if (x !== undefined && fn.msix !== undefined) {
    if (bar === x.tableBar && offset >= x.tableOffset && offset < x.tableOffset + fn.msix.tableSize) return { device: `${name}.msix`, block: undefined, offset: offset - x.tableOffset, special: 'msix-table' };
    if (bar === x.pbaBar && offset >= x.pbaOffset && offset < x.pbaOffset + fn.msix.pbaSize) return { device: `${name}.pba`, block: undefined, offset: offset - x.pbaOffset, special: 'msix-pba' };
  }
  const spec = fn.bar(bar);
  const device = spec?.device;
  // the QM's doorbell pages sit in BAR2 before its register table (hisi_qm v2 layout)
  if (name === 'zip' && offset >= QM_DOORBELL_SQ_CQ_BASE_V2 && offset < QM_DOORBELL_EQ_AEQ_BASE_V2 + QM_DOORBELL_PAGE_SIZE) {
    return { device: name, block: undefined, offset, special: 'qm-doorbell' };
  }
  if (device instanceof RegisterBlock) return { device: name, block: device, offset };
  if (hasRegs(device)) return { device: name, block: device.regs, offset };
  return { device: `${name}.bar${bar}`, block: undefined, offset };
}

/** Follows `pa` to the device frame and register table that decode it. */
export function mmioTarget(machine: MachineCore, pa: number): MmioTarget | undefined {
  const region = machine.bus.findRegion(pa);
  if (region === undefined) return undefined;
  const offset = pa - region.base;
  const dev = region.device;
  if (dev instanceof SmmuV3) {
    return offset >= SMMU_PAGE1 ? { device: 'smmu', block: dev.page1, offset: offset - SMMU_PAGE1 } : { device: 'smmu', block: dev.page0, offset };
  }
  if (machine instanceof Machine) {
    const pcie = machine.pcie;
    if (dev === pcie.ecam) {
      const rid = offset >>> 12;
      const fn = pcie.functionAt(rid >>> 8, (rid >>> 3) & 31, rid & 7);
      return { device: `ecam ${bdfText(rid)}`, block: fn?.config, offset: offset & 0xfff };
    }
    if (dev === pcie.mmio) {
      for (const e of pcie.enumerate()) {
        for (let i = 0; i < 6; i++) {
          const spec = e.fn.bar(i);
          const base = e.fn.barBase[i]!;
          if (spec !== undefined && base !== 0 && pa >= base && pa < base + spec.size) return barTarget(e.fn, i, pa - base);
        }
      }
      return { device: 'pcie-mmio', block: undefined, offset };
    }
    if (dev === machine.uart) return { device: 'uart', block: machine.uart.regs, offset };
    if (dev === machine.gic.its) {
      // the translation frame holds only GITS_TRANSLATER, outside the control frame's table
      if (offset === GITS.TRANSLATER) return { device: 'gits', block: undefined, offset, special: 'its-translater' };
      return { device: 'gits', block: machine.gic.its.regs, offset };
    }
    if (region.name === 'gicr') {
      const n = Math.floor(offset / GICR_STRIDE);
      const r = machine.gic.redistributors[n];
      const off = offset % GICR_STRIDE;
      if (r === undefined) return { device: 'gicr', block: undefined, offset };
      return off < GICR_FRAME_SIZE ? { device: `gicr${n}`, block: r.rd, offset: off } : { device: `gicr${n}.sgi`, block: r.sgi, offset: off - GICR_FRAME_SIZE };
    }
  }
  if (dev instanceof RegisterBlock) return { device: region.name, block: dev, offset };
  if (hasRegs(dev)) return { device: region.name, block: dev.regs, offset };
  return { device: region.name, block: undefined, offset };
}

const QM_DOORBELL_CMDS = Object.fromEntries(Object.entries(QmDoorbellCmd).map(([k, v]) => [v, k])) as Record<number, string>;

/** A QM doorbell (hisi_qm v2 qm_db_v2): qn[11:0] cmd[15:12], index at bit 32, priority at bit 48. */
export function describeQmDoorbell(lo: number, hi: number): string {
  const qn = lo & 0xfff;
  const cmd = (lo >>> 12) & 0xf;
  return `${QM_DOORBELL_CMDS[cmd] ?? `cmd${cmd}`} doorbell qn=${qn} index=${hi & 0xffff}${hi >>> 16 ? ` priority=${hi >>> 16}` : ''}`;
}

/** MSI-X table entry fields (PCIe 7.7.2): 16 bytes per vector. */
export function describeMsixTable(offset: number): string {
  const field = ['Message Address', 'Message Upper Address', 'Message Data', 'Vector Control'][(offset & 15) >>> 2]!;
  return `vector ${offset >>> 4} ${field}`;
}
