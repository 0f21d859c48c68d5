// PL011 UART (Arm DDI 0183) through machine.bus: identification, FIFOs, flags, timing, interrupts.
import { describe, expect, it } from 'vitest';
import { MachineCore } from '../../src/machine/machine.js';
import {
  PL011_BASE,
  Pl011,
  UART,
  UARTCR_LBE,
  UARTCR_RXE,
  UARTCR_TXE,
  UARTCR_UARTEN,
  UARTFR_BUSY,
  UARTFR_RXFE,
  UARTFR_RXFF,
  UARTFR_TXFE,
  UARTFR_TXFF,
  UARTLCR_H_FEN,
  UART_INT_RT,
  UART_INT_RX,
  UART_INT_TX,
} from '../../src/hw/uart/pl011.js';

const ENABLED = UARTCR_UARTEN | UARTCR_TXE | UARTCR_RXE;

function setup(opts: { fifo?: boolean; enable?: boolean } = {}) {
  const m = new MachineCore({ cpus: 1 });
  const out: number[] = [];
  const irq: boolean[] = [];
  const uart = new Pl011(m, { onTx: (b) => out.push(b), irq: { set: (l) => irq.push(l), pulse: () => {} } });
  uart.mapOn(m.bus);
  const bus = m.bus;
  if (opts.fifo !== false) bus.write32(PL011_BASE + UART.LCR_H, UARTLCR_H_FEN | (3 << 5));
  if (opts.enable !== false) bus.write32(PL011_BASE + UART.CR, ENABLED);
  const fr = () => bus.read32(PL011_BASE + UART.FR);
  const ris = () => bus.read32(PL011_BASE + UART.RIS);
  const charNs = m.cost.uartCharNs;
  return { m, uart, bus, out, irq, fr, ris, charNs };
}

const text = (bytes: number[]) => String.fromCharCode(...bytes);

describe('PL011 identification and reset (DDI 0183 3.3)', () => {
  it('PeriphID0-3 and PCellID0-3 read 0x11 0x10 0x14 0x00 0x0d 0xf0 0x05 0xb1', () => {
    const { bus } = setup();
    const ids = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => bus.read32(PL011_BASE + UART.PeriphID0 + 4 * i));
    expect(ids).toEqual([0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1]);
  });

  it('after reset UARTCR = 0x300 (TXE, RXE), UARTIFLS = 0x12, both FIFOs empty and not busy', () => {
    const { bus, fr } = setup({ fifo: false, enable: false });
    expect(bus.read32(PL011_BASE + UART.CR)).toBe(0x300);
    expect(bus.read32(PL011_BASE + UART.IFLS)).toBe(0x12);
    expect(fr() & (UARTFR_TXFE | UARTFR_RXFE | UARTFR_BUSY | UARTFR_TXFF | UARTFR_RXFF)).toBe(UARTFR_TXFE | UARTFR_RXFE);
  });

  it('byte accesses reach the registers (earlycon writes UARTDR with 8-bit stores)', () => {
    const { bus, out } = setup();
    bus.write8(PL011_BASE + UART.DR, 0x41);
    expect(text(out)).toBe('A');
    expect(bus.error).toBe(false);
  });
});

describe('transmit (DDI 0183 2.4.2, UARTFR)', () => {
  it('nothing leaves while UARTCR.UARTEN is clear; the FIFO holds the data and BUSY is set', () => {
    const { m, bus, out, fr } = setup({ enable: false });
    bus.write32(PL011_BASE + UART.DR, 0x68);
    m.run({ forNs: 1_000_000 });
    expect(out).toEqual([]);
    expect(fr() & (UARTFR_BUSY | UARTFR_TXFE)).toBe(UARTFR_BUSY);
    bus.write32(PL011_BASE + UART.CR, ENABLED);
    expect(text(out)).toBe('h');
  });

  it('characters leave one per character time: 17 writes fill the shift register and the 16-entry FIFO (TXFF)', () => {
    const { m, bus, out, fr, charNs } = setup();
    for (let i = 0; i < 17; i++) bus.write32(PL011_BASE + UART.DR, 0x61 + i);
    expect(out.length).toBe(1);
    expect(fr() & UARTFR_TXFF).toBe(UARTFR_TXFF);
    bus.write32(PL011_BASE + UART.DR, 0x7a); // lost: the FIFO is full
    m.run({ forNs: charNs });
    expect(out.length).toBe(2);
    expect(fr() & UARTFR_TXFF).toBe(0);
    m.run({ untilIdle: true });
    expect(text(out)).toBe('abcdefghijklmnopq');
    expect(m.clock.now()).toBe(17 * charNs);
    expect(fr() & (UARTFR_BUSY | UARTFR_TXFE)).toBe(UARTFR_TXFE);
  });

  it('with FIFOs disabled (FEN == 0) the transmitter has a one-character holding register', () => {
    const { bus, fr } = setup({ fifo: false });
    bus.write32(PL011_BASE + UART.DR, 0x31); // into the shift register
    bus.write32(PL011_BASE + UART.DR, 0x32); // holding register
    expect(fr() & (UARTFR_TXFF | UARTFR_TXFE)).toBe(UARTFR_TXFF);
  });

  it('the TX interrupt asserts when the FIFO drains through the trigger level, drives the line through UARTIMSC, and UARTICR clears it', () => {
    const { m, bus, irq, ris, charNs } = setup();
    bus.write32(PL011_BASE + UART.IMSC, UART_INT_TX);
    for (let i = 0; i < 17; i++) bus.write32(PL011_BASE + UART.DR, 0x30);
    expect(ris() & UART_INT_TX).toBe(0);
    m.run({ forNs: 7 * charNs }); // FIFO 16 -> 9 entries: still above 1/2
    expect(ris() & UART_INT_TX).toBe(0);
    m.run({ forNs: charNs }); // 8 entries: at the trigger level
    expect(ris() & UART_INT_TX).toBe(UART_INT_TX);
    expect(bus.read32(PL011_BASE + UART.MIS)).toBe(UART_INT_TX);
    expect(irq.at(-1)).toBe(true);
    bus.write32(PL011_BASE + UART.ICR, UART_INT_TX);
    expect(ris() & UART_INT_TX).toBe(0);
    expect(irq.at(-1)).toBe(false);
  });

  it('refilling the FIFO above the trigger level clears the TX interrupt', () => {
    const { m, bus, ris, charNs } = setup();
    for (let i = 0; i < 17; i++) bus.write32(PL011_BASE + UART.DR, 0x30);
    m.run({ forNs: 8 * charNs });
    expect(ris() & UART_INT_TX).toBe(UART_INT_TX);
    bus.write32(PL011_BASE + UART.DR, 0x30);
    expect(ris() & UART_INT_TX).toBe(0);
  });

  it('a masked interrupt is raw-pending but keeps UARTINTR low', () => {
    const { m, bus, irq, charNs } = setup();
    for (let i = 0; i < 17; i++) bus.write32(PL011_BASE + UART.DR, 0x30);
    m.run({ forNs: 8 * charNs });
    expect(bus.read32(PL011_BASE + UART.MIS)).toBe(0);
    expect(irq).toEqual([]);
    bus.write32(PL011_BASE + UART.IMSC, UART_INT_TX);
    expect(irq).toEqual([true]);
  });
});

describe('receive (DDI 0183 2.4.3, UARTRTINTR, UARTRXINTR)', () => {
  it('input arrives one character per character time; RXFE clears and UARTDR returns the bytes in order', () => {
    const { m, bus, uart, fr, charNs } = setup();
    uart.input('hi');
    expect(fr() & UARTFR_RXFE).toBe(UARTFR_RXFE);
    m.run({ forNs: charNs });
    expect(fr() & UARTFR_RXFE).toBe(0);
    m.run({ forNs: charNs });
    expect(bus.read32(PL011_BASE + UART.DR)).toBe(0x68);
    expect(bus.read32(PL011_BASE + UART.DR)).toBe(0x69);
    expect(fr() & UARTFR_RXFE).toBe(UARTFR_RXFE);
  });

  it('the RX interrupt asserts when the FIFO reaches the trigger level and clears when reads take it below', () => {
    const { m, bus, uart, ris, charNs } = setup();
    uart.input('abcdefgh');
    m.run({ forNs: 7 * charNs });
    expect(ris() & UART_INT_RX).toBe(0);
    m.run({ forNs: charNs });
    expect(ris() & UART_INT_RX).toBe(UART_INT_RX);
    bus.read32(PL011_BASE + UART.DR);
    expect(ris() & UART_INT_RX).toBe(0);
  });

  it('fewer characters than the trigger raise the receive timeout after 32 bit periods of silence; emptying the FIFO clears it', () => {
    const { m, bus, uart, ris, charNs } = setup();
    bus.write32(PL011_BASE + UART.IMSC, UART_INT_RX | UART_INT_RT);
    uart.input('x');
    m.run({ forNs: charNs + 3 * charNs });
    expect(ris() & UART_INT_RT).toBe(0);
    m.run({ forNs: 0.2 * charNs + 1 });
    expect(ris() & UART_INT_RT).toBe(UART_INT_RT);
    expect(bus.read32(PL011_BASE + UART.DR)).toBe(0x78);
    expect(ris() & UART_INT_RT).toBe(0);
  });

  it('a full receive FIFO sets RXFF and holds the rest of the input on the line until the guest reads', () => {
    const { m, bus, uart, fr } = setup();
    uart.input('0123456789abcdefXY');
    m.run({ untilIdle: true });
    expect(fr() & UARTFR_RXFF).toBe(UARTFR_RXFF);
    expect(uart.pendingInput).toBe(2);
    let got = '';
    for (let i = 0; i < 18; i++) {
      m.run({ untilIdle: true });
      got += String.fromCharCode(bus.read32(PL011_BASE + UART.DR) & 0xff);
    }
    expect(got).toBe('0123456789abcdefXY');
    expect(bus.read32(PL011_BASE + UART.RSR_ECR)).toBe(0); // no overrun
  });

  it('input waits on the line while the receiver is disabled', () => {
    const { m, bus, uart, fr } = setup({ enable: false });
    uart.input('k');
    m.run({ untilIdle: true });
    expect(fr() & UARTFR_RXFE).toBe(UARTFR_RXFE);
    bus.write32(PL011_BASE + UART.CR, ENABLED);
    m.run({ untilIdle: true });
    expect(bus.read32(PL011_BASE + UART.DR)).toBe(0x6b);
  });

  it('loopback (UARTCR.LBE) feeds transmitted characters to the receiver instead of the line', () => {
    const { m, bus, out } = setup();
    bus.write32(PL011_BASE + UART.CR, ENABLED | UARTCR_LBE);
    bus.write32(PL011_BASE + UART.DR, 0x55);
    m.run({ untilIdle: true });
    expect(out).toEqual([]);
    expect(bus.read32(PL011_BASE + UART.DR)).toBe(0x55);
  });
});
