// PL011 UART driver (drivers/tty/serial/amba-pl011.c in shape): the console writes
// characters by polling UARTFR.TXFF; received characters raise the RX interrupt and go
// to the tty layer. Register map from the PrimeCell UART (PL011) TRM, DDI 0183.

import { thisCpu, type ArchCpu } from '../../../../arch/index.js';
import { register_console, type Console } from '../../../lib/printk.js';
import { request_irq, IRQ_HANDLED, IRQ_NONE, type IrqReturn } from '../../../irq/irqdesc.js';
import { of_find_compatible_node, of_reg, of_irq_parse_one, type OfPhandleArgs } from '../../../of/base.js';
import { pr_info } from '../../../lib/printk.js';

export const UART01x_DR = 0x000;
export const UART01x_FR = 0x018;
export const UART011_IBRD = 0x024;
export const UART011_FBRD = 0x028;
export const UART011_LCRH = 0x02c;
export const UART011_CR = 0x030;
export const UART011_IMSC = 0x038;
export const UART011_MIS = 0x040;
export const UART011_ICR = 0x044;
export const UART01x_FR_TXFF = 1 << 5;
export const UART01x_FR_RXFE = 1 << 4;
export const UART01x_FR_BUSY = 1 << 3;
export const UART011_CR_UARTEN = 1 << 0;
export const UART011_CR_TXE = 1 << 8;
export const UART011_CR_RXE = 1 << 9;
export const UART01x_LCRH_WLEN_8 = 0x60;
export const UART01x_LCRH_FEN = 0x10;
export const UART011_RXIM = 1 << 4;
export const UART011_RTIM = 1 << 6;

/** Receives characters from the UART (the tty layer's receive_buf). */
export type RxSink = (chars: Uint8Array) => void;

interface Pl011Port {
  base: number;
  irq: number;
  rx: RxSink | undefined;
}

let port: Pl011Port | null = null;

function pl011_putc(cpu: ArchCpu, base: number, c: number): void {
  // Wait for FIFO room; each poll is an MMIO read, and between polls the core idles
  // for a quarter of a character time instead of hammering the bus.
  for (let i = 0; i < 64 && cpu.ldPhys32(base + UART01x_FR) & UART01x_FR_TXFF; i++) cpu.charge(cpu.cost['uartCharNs']! / 4);
  cpu.stPhys32(base + UART01x_DR, c);
}

const encoder = new TextEncoder();

export function pl011_write(text: string): void {
  if (port === null) return;
  const cpu = thisCpu();
  const bytes = encoder.encode(text);
  for (const b of bytes) {
    if (b === 0x0a) pl011_putc(cpu, port.base, 0x0d);
    pl011_putc(cpu, port.base, b);
  }
  // As pl011_console_write does: wait for the transmitter to drain, so a message
  // printed just before power-off is on the wire when the machine stops.
  for (let i = 0; i < 256 && cpu.ldPhys32(port.base + UART01x_FR) & UART01x_FR_BUSY; i++) cpu.charge(cpu.cost['uartCharNs']!);
}

const console: Console = { name: 'ttyAMA0', write: pl011_write };

function pl011_int(): IrqReturn {
  if (port === null) return IRQ_NONE;
  const cpu = thisCpu();
  const base = port.base;
  const got: number[] = [];
  for (let i = 0; i < 256 && !(cpu.ldPhys32(base + UART01x_FR) & UART01x_FR_RXFE); i++) got.push(cpu.ldPhys32(base + UART01x_DR) & 0xff);
  cpu.stPhys32(base + UART011_ICR, UART011_RXIM | UART011_RTIM);
  if (got.length > 0 && port.rx) port.rx(Uint8Array.from(got));
  return got.length > 0 ? IRQ_HANDLED : IRQ_NONE;
}

/** Sets where received characters go (the console tty). */
export function pl011_set_rx(sink: RxSink): void {
  if (port !== null) port.rx = sink;
}

/** pl011 probe from the DT node: enables the UART, registers the console and RX IRQ. */
export function pl011_init(cpu: ArchCpu, mapIrq: (spec: OfPhandleArgs) => number): boolean {
  port = null;
  const np = of_find_compatible_node(null, 'arm,pl011');
  if (np === undefined) return false;
  const reg = of_reg(np)[0];
  if (reg === undefined) return false;
  const spec = of_irq_parse_one(np, 0);
  const irq = spec ? mapIrq(spec) : 0;
  port = { base: reg.start, irq, rx: undefined };
  cpu.stPhys32(reg.start + UART011_CR, 0);
  cpu.stPhys32(reg.start + UART011_LCRH, UART01x_LCRH_WLEN_8 | UART01x_LCRH_FEN);
  cpu.stPhys32(reg.start + UART011_CR, UART011_CR_UARTEN | UART011_CR_TXE | UART011_CR_RXE);
  cpu.stPhys32(reg.start + UART011_IMSC, UART011_RXIM | UART011_RTIM);
  pr_info(`${np.full_name.replace('pl011@', '')}.pl011: ttyAMA0 at MMIO 0x${reg.start.toString(16)} (irq = ${irq}, base_baud = 0) is a PL011 rev3`);
  register_console(console);
  pr_info('printk: console [ttyAMA0] enabled');
  if (irq > 0) request_irq(irq, pl011_int, 0, 'uart-pl011', port);
  return true;
}

export function pl011_reset(): void {
  port = null;
}
