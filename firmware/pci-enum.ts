// The boot stage's PCI enumeration, as firmware (EDK2, U-Boot) does it before the
// kernel runs: walk ECAM, size every memory BAR, assign addresses from the host
// bridge's MMIO window, enable memory decoding. Everything goes through config
// reads and writes on the bus (PCI Local Bus 3.0 section 6.2.5.1 for BAR sizing).

import type { PhysicalBus } from '../src/hw/bus/bus.js';

export interface PciWindow {
  readonly base: number;
  readonly size: number;
}

export interface AssignedBar {
  readonly bdf: string;
  readonly index: number;
  readonly base: number;
  readonly size: number;
  readonly is64: boolean;
}

const PCI_COMMAND = 0x04;
const PCI_COMMAND_MEMORY = 0x2;
const PCI_HEADER_TYPE = 0x0e;
const PCI_BAR0 = 0x10;

export function bdfName(busNr: number, dev: number, fn: number): string {
  const h = (v: number, w: number) => v.toString(16).padStart(w, '0');
  return `0000:${h(busNr, 2)}:${h(dev, 2)}.${fn}`;
}

/**
 * Enumerates buses [busFirst, busLast] behind the ECAM at `ecamBase` and assigns
 * every memory BAR (naturally aligned, largest first) from `window`. Returns the
 * assignments; BARs that do not fit stay 0 (the kernel reports them).
 */
export function assignPciBars(bus: PhysicalBus, ecamBase: number, busFirst: number, busLast: number, window: PciWindow, initiator: number): AssignedBar[] {
  const cfg = (b: number, d: number, f: number, reg: number) => ecamBase + ((b << 20) | (d << 15) | (f << 12) | reg);
  const read = (pa: number) => bus.load(pa, 4, initiator);
  const write = (pa: number, v: number) => bus.store(pa, 4, v >>> 0, 0, initiator);

  interface Want { bdf: string; b: number; d: number; f: number; index: number; size: number; is64: boolean }
  const wants: Want[] = [];
  for (let b = busFirst; b <= busLast; b++) {
    for (let d = 0; d < 32; d++) {
      for (let f = 0; f < 8; f++) {
        const id = read(cfg(b, d, f, 0));
        if (bus.error || id === 0xffffffff || (id & 0xffff) === 0xffff) {
          if (f === 0) break;
          continue;
        }
        const headerType = (read(cfg(b, d, f, PCI_HEADER_TYPE & ~3)) >>> 16) & 0xff;
        if ((headerType & 0x7f) === 0) {
          // Type-0 header: six BARs. Disable decoding while sizing.
          const cmd = read(cfg(b, d, f, PCI_COMMAND)) & 0xffff;
          write(cfg(b, d, f, PCI_COMMAND), cmd & ~PCI_COMMAND_MEMORY);
          for (let i = 0; i < 6; i++) {
            const reg = cfg(b, d, f, PCI_BAR0 + 4 * i);
            const orig = read(reg);
            if (orig & 1) continue; // I/O BAR: no I/O window on this SoC
            const is64 = ((orig >>> 1) & 3) === 2;
            write(reg, 0xffffffff);
            const lo = read(reg) & ~0xf;
            let hi = 0xffffffff;
            if (is64) {
              write(reg + 4, 0xffffffff);
              hi = read(reg + 4);
            }
            write(reg, orig);
            if (is64) write(reg + 4, 0);
            if (lo === 0 && (!is64 || hi === 0)) {
              if (is64) i++;
              continue; // unimplemented BAR
            }
            // size = two's complement of the mask (64-bit masks need both halves)
            const mask = is64 ? (hi >>> 0) * 4294967296 + (lo >>> 0) : lo >>> 0;
            const size = is64 ? 2 ** 64 - mask : 2 ** 32 - mask;
            wants.push({ bdf: bdfName(b, d, f), b, d, f, index: i, size, is64 });
            if (is64) i++;
          }
          write(cfg(b, d, f, PCI_COMMAND), cmd);
        }
        if (f === 0 && (headerType & 0x80) === 0) break; // single-function device
      }
    }
  }

  // Largest first keeps natural alignment without holes for power-of-two sizes.
  wants.sort((x, y) => y.size - x.size || x.bdf.localeCompare(y.bdf) || x.index - y.index);
  const out: AssignedBar[] = [];
  let next = window.base;
  const enable = new Set<string>();
  for (const w of wants) {
    const base = Math.ceil(next / w.size) * w.size;
    if (base + w.size > window.base + window.size) continue;
    next = base + w.size;
    const reg = cfg(w.b, w.d, w.f, PCI_BAR0 + 4 * w.index);
    const flags = read(reg) & 0xf;
    write(reg, (base % 4294967296) | flags);
    if (w.is64) write(reg + 4, Math.floor(base / 4294967296));
    out.push({ bdf: w.bdf, index: w.index, base, size: w.size, is64: w.is64 });
    enable.add(`${w.b}:${w.d}:${w.f}`);
  }
  for (const key of enable) {
    const [b, d, f] = key.split(':').map(Number) as [number, number, number];
    const reg = cfg(b, d, f, PCI_COMMAND);
    write(reg, (read(reg) & 0xffff) | PCI_COMMAND_MEMORY);
  }
  return out.sort((x, y) => x.bdf.localeCompare(y.bdf) || x.index - y.index);
}
