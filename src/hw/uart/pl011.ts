// Arm PrimeCell PL011 UART (Arm DDI 0183): the console. Register file, 16-entry
// transmit and receive FIFOs (the depth of revisions below r1p5, which PeriphID2 =
// 0x14 reports and Linux's amba-pl011 sizes its FIFO from), the combined interrupt
// UARTINTR on one level-sensitive line, and line timing from the cost model: one
// character per `cost.uartCharNs` each way.
//
// Transmit: a character written to UARTDR enters the FIFO; the transmitter takes it
// into the shift register when the UART and transmitter are enabled, hands it to the
// sink (`onTx`) at that moment and is busy for one character time. So the host sees
// console output at once while UARTFR.BUSY/TXFF and the TX interrupt keep the timing.
// Receive: `input()` queues bytes on the line; they arrive one per character time
// while the receiver is enabled. The host side honours flow control (as RTS/CTS
// would): a byte waits while the receive FIFO is full, so scripted input is never
// lost to overrun. The host line never produces framing, parity or break errors.
// Modem inputs are fixed (CTS, DSR, DCD asserted, RI not); IrDA, DMA (UARTDMACR)
// and the baud divisors are stored but have no effect: the character time comes from
// the cost model, not from UARTIBRD/UARTFBRD.

import { RegisterBlock, type RegDef } from '../regs/regmap.js';
import type { AccessSize, MmioAccess, MmioDevice } from '../bus/mmio.js';
import type { PhysicalBus } from '../bus/bus.js';
import { UNCONNECTED_IRQ, type IrqLine } from '../irq.js';
import type { Clock, ScheduledEvent } from '../../machine/clock.js';

/** QEMU virt VIRT_UART. */
export const PL011_BASE = 0x0900_0000;
export const PL011_SIZE = 0x1000;

/** Register offsets (DDI 0183 3.2, Table 3-1). */
export const UART = {
  DR: 0x000,
  RSR_ECR: 0x004,
  FR: 0x018,
  ILPR: 0x020,
  IBRD: 0x024,
  FBRD: 0x028,
  LCR_H: 0x02c,
  CR: 0x030,
  IFLS: 0x034,
  IMSC: 0x038,
  RIS: 0x03c,
  MIS: 0x040,
  ICR: 0x044,
  DMACR: 0x048,
  PeriphID0: 0xfe0,
  PCellID0: 0xff0,
} as const;

/** UARTFR (DDI 0183 3.3.3). */
export const UARTFR_CTS = 1 << 0;
export const UARTFR_DSR = 1 << 1;
export const UARTFR_DCD = 1 << 2;
export const UARTFR_BUSY = 1 << 3;
export const UARTFR_RXFE = 1 << 4;
export const UARTFR_TXFF = 1 << 5;
export const UARTFR_RXFF = 1 << 6;
export const UARTFR_TXFE = 1 << 7;

/** UARTLCR_H.FEN and UARTCR bits (DDI 0183 3.3.7, 3.3.8). */
export const UARTLCR_H_FEN = 1 << 4;
export const UARTCR_UARTEN = 1 << 0;
export const UARTCR_LBE = 1 << 7;
export const UARTCR_TXE = 1 << 8;
export const UARTCR_RXE = 1 << 9;

/** Interrupt bits shared by UARTIMSC/RIS/MIS/ICR (DDI 0183 3.3.10-3.3.13). */
export const UART_INT_RX = 1 << 4;
export const UART_INT_TX = 1 << 5;
export const UART_INT_RT = 1 << 6;
export const UART_INT_FE = 1 << 7;
export const UART_INT_PE = 1 << 8;
export const UART_INT_BE = 1 << 9;
export const UART_INT_OE = 1 << 10;
const UART_INT_ALL = 0x7ff;

/** UARTDR / UARTRSR error bits (DDI 0183 3.3.1, 3.3.2). */
export const UARTDR_OE = 1 << 11;
export const UARTRSR_OE = 1 << 3;

export const PL011_FIFO_DEPTH = 16;
/** PeriphID0-3 then PCellID0-3 (DDI 0183 3.3.14-3.3.15), as QEMU's Arm PL011 reports them. */
export const PL011_ID_BYTES = [0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1] as const;
/** Trigger points for UARTIFLS TXIFLSEL/RXIFLSEL 0..4: 1/8, 1/4, 1/2, 3/4, 7/8 of the FIFO. */
const FIFO_TRIGGER = [2, 4, 8, 12, 14] as const;
/** The receive timeout: 32 bit periods; a character is 10 bit periods (8N1). */
const RX_TIMEOUT_CHARS = 3.2;
const MODEM_INPUTS = UARTFR_CTS | UARTFR_DSR | UARTFR_DCD;

export interface Pl011Host {
  readonly clock: Clock;
  readonly cost: { readonly uartCharNs: number };
}

export interface Pl011Options {
  /** UARTINTR, level-sensitive (e.g. `gic.spi(1)` on QEMU virt). */
  readonly irq?: IrqLine;
  /** Sink of transmitted bytes (host stdout, a capture buffer). */
  readonly onTx?: (byte: number) => void;
  /** Trace/diagnostic name. */
  readonly name?: string;
}

export class Pl011 implements MmioDevice {
  readonly name: string;
  readonly regs: RegisterBlock;
  irq: IrqLine;
  onTx: ((byte: number) => void) | undefined;
  /** Characters that left the transmitter since reset. */
  transmitted = 0;

  private readonly txFifo = new Uint8Array(PL011_FIFO_DEPTH);
  private txHead = 0;
  private txCount = 0;
  private txShifting = false;
  private txChar = 0;
  /** Data plus error bits [11:8] per entry, as UARTDR reads them. */
  private readonly rxFifo = new Uint16Array(PL011_FIFO_DEPTH);
  private rxHead = 0;
  private rxCount = 0;
  private ris = 0;
  private rsr = 0;
  private irqLevel = false;
  private readonly line: number[] = [];
  private lineHead = 0;
  private rxEvent: ScheduledEvent | undefined;
  private timeoutEvent: ScheduledEvent | undefined;
  private readonly clock: Clock;
  private readonly charNs: () => number;

  constructor(host: Pl011Host, options: Pl011Options = {}) {
    this.clock = host.clock;
    this.charNs = () => host.cost.uartCharNs;
    this.name = options.name ?? 'pl011';
    this.irq = options.irq ?? UNCONNECTED_IRQ;
    this.onTx = options.onTx;
    this.regs = new RegisterBlock('PL011', this.registerDefs(), { allowNarrow: true, unmappedRazWi: true });
  }

  mapOn(bus: PhysicalBus, base = PL011_BASE): void {
    bus.map(this.name, base, PL011_SIZE, this);
  }

  mmioRead(offset: number, size: AccessSize, acc: MmioAccess): void {
    this.regs.mmioRead(offset, size, acc);
  }

  mmioWrite(offset: number, size: AccessSize, acc: MmioAccess): void {
    this.regs.mmioWrite(offset, size, acc);
  }

  /** Puts bytes on the receive line (scripted input or host stdin). */
  input(data: Uint8Array | string): void {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    for (const b of bytes) this.line.push(b);
    this.scheduleReceive();
  }

  /** Bytes still waiting on the receive line (not yet in the FIFO). */
  get pendingInput(): number {
    return this.line.length - this.lineHead;
  }

  reset(): void {
    this.rxEvent?.cancel();
    this.timeoutEvent?.cancel();
    this.rxEvent = undefined;
    this.timeoutEvent = undefined;
    this.regs.reset();
    this.txHead = this.txCount = 0;
    this.txShifting = false;
    this.rxHead = this.rxCount = 0;
    this.ris = 0;
    this.rsr = 0;
    this.line.length = 0;
    this.lineHead = 0;
    this.updateIrq();
  }

  // ---- state helpers ----

  private get lcrH(): number {
    return this.regs.getNum('UARTLCR_H');
  }

  private get cr(): number {
    return this.regs.getNum('UARTCR');
  }

  /** FIFOs disabled (FEN == 0) leave one-character holding registers. */
  private get depth(): number {
    return (this.lcrH & UARTLCR_H_FEN) !== 0 ? PL011_FIFO_DEPTH : 1;
  }

  private txTrigger(): number {
    if ((this.lcrH & UARTLCR_H_FEN) === 0) return 0;
    return FIFO_TRIGGER[Math.min(this.regs.getNum('UARTIFLS') & 7, 4)]!;
  }

  private rxTrigger(): number {
    if ((this.lcrH & UARTLCR_H_FEN) === 0) return 1;
    return FIFO_TRIGGER[Math.min((this.regs.getNum('UARTIFLS') >>> 3) & 7, 4)]!;
  }

  private canTransmit(): boolean {
    const cr = this.cr;
    return (cr & UARTCR_UARTEN) !== 0 && (cr & UARTCR_TXE) !== 0;
  }

  private canReceive(): boolean {
    const cr = this.cr;
    return (cr & UARTCR_UARTEN) !== 0 && (cr & UARTCR_RXE) !== 0;
  }

  private flags(): number {
    let fr = MODEM_INPUTS;
    if (this.txCount > 0 || this.txShifting) fr |= UARTFR_BUSY;
    if (this.rxCount === 0) fr |= UARTFR_RXFE;
    if (this.txCount >= this.depth) fr |= UARTFR_TXFF;
    if (this.rxCount >= this.depth) fr |= UARTFR_RXFF;
    if (this.txCount === 0) fr |= UARTFR_TXFE;
    return fr;
  }

  private updateIrq(): void {
    const level = (this.ris & this.regs.getNum('UARTIMSC')) !== 0;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }

  // ---- transmit ----

  /** UARTDR write: into the transmit FIFO (a write to a full FIFO is lost). */
  private writeData(byte: number): void {
    if (this.txCount >= this.depth) return;
    this.txFifo[(this.txHead + this.txCount) % PL011_FIFO_DEPTH] = byte;
    this.txCount++;
    // DDI 0183 3.4.4 UARTTXINTR: cleared by filling the FIFO above the trigger level.
    if (this.txCount > this.txTrigger()) this.ris &= ~UART_INT_TX;
    this.startTransmit();
    this.updateIrq();
  }

  private startTransmit(): void {
    if (this.txShifting || this.txCount === 0 || !this.canTransmit()) return;
    const before = this.txCount;
    const byte = this.txFifo[this.txHead]!;
    this.txHead = (this.txHead + 1) % PL011_FIFO_DEPTH;
    this.txCount--;
    // The TX interrupt fires on the transition through the trigger level, not on the level itself.
    const trigger = this.txTrigger();
    if (before > trigger && this.txCount <= trigger) this.ris |= UART_INT_TX;
    this.txShifting = true;
    this.txChar = byte;
    if ((this.cr & UARTCR_LBE) === 0) {
      this.transmitted++;
      this.onTx?.(byte);
    }
    this.clock.after(this.charNs(), 'pl011.tx', this.endOfCharacter);
    this.updateIrq();
  }

  private readonly endOfCharacter = (): void => {
    this.txShifting = false;
    // Loopback (UARTCR.LBE): the transmitted character arrives at the receiver.
    if ((this.cr & UARTCR_LBE) !== 0) {
      this.transmitted++;
      if (!this.receive(this.txChar) && this.rxCount >= this.depth) {
        this.rsr |= UARTRSR_OE;
        this.ris |= UART_INT_OE;
      }
    }
    this.startTransmit();
    this.updateIrq();
  };

  // ---- receive ----

  private scheduleReceive(): void {
    if (this.rxEvent !== undefined || this.lineHead >= this.line.length || !this.canReceive()) return;
    this.rxEvent = this.clock.after(this.charNs(), 'pl011.rx', this.arrive);
  }

  private readonly arrive = (): void => {
    this.rxEvent = undefined;
    if (!this.canReceive() || this.lineHead >= this.line.length) return;
    // Flow control: the host holds the byte while the FIFO is full; a read restarts the line.
    if (!this.receive(this.line[this.lineHead]!)) return;
    this.lineHead++;
    if (this.lineHead === this.line.length) {
      this.line.length = 0;
      this.lineHead = 0;
    }
    this.scheduleReceive();
  };

  /** A character enters the receive FIFO. Returns false when it is full. */
  private receive(byte: number): boolean {
    if (!this.canReceive() || this.rxCount >= this.depth) return false;
    this.rxFifo[(this.rxHead + this.rxCount) % PL011_FIFO_DEPTH] = byte;
    this.rxCount++;
    if (this.rxCount === this.rxTrigger()) this.ris |= UART_INT_RX;
    // DDI 0183 3.4.3 UARTRTINTR: 32 bit periods without a new character while data waits.
    this.timeoutEvent?.cancel();
    this.timeoutEvent = this.clock.after(this.charNs() * RX_TIMEOUT_CHARS, 'pl011.rx-timeout', this.receiveTimeout);
    this.updateIrq();
    return true;
  }

  private readonly receiveTimeout = (): void => {
    this.timeoutEvent = undefined;
    if (this.rxCount > 0) {
      this.ris |= UART_INT_RT;
      this.updateIrq();
    }
  };

  /** UARTDR read: the oldest received character with its error bits (0 when empty). */
  private readData(): number {
    if (this.rxCount === 0) return 0;
    const v = this.rxFifo[this.rxHead]!;
    this.rxHead = (this.rxHead + 1) % PL011_FIFO_DEPTH;
    this.rxCount--;
    this.rsr = (this.rsr & UARTRSR_OE) | ((v >>> 8) & 0x7);
    if (this.rxCount < this.rxTrigger()) this.ris &= ~UART_INT_RX;
    if (this.rxCount === 0) this.ris &= ~UART_INT_RT;
    this.updateIrq();
    this.scheduleReceive();
    return v;
  }

  private registerDefs(): RegDef[] {
    const defs: RegDef[] = [
      {
        name: 'UARTDR',
        offset: UART.DR,
        fields: [
          { name: 'DATA', lsb: 0, width: 8 },
          { name: 'FE', lsb: 8, width: 1, access: 'RO' },
          { name: 'PE', lsb: 9, width: 1, access: 'RO' },
          { name: 'BE', lsb: 10, width: 1, access: 'RO' },
          { name: 'OE', lsb: 11, width: 1, access: 'RO' },
        ],
        read: () => this.readData(),
        write: (_v, _o, w) => this.writeData(w & 0xff),
      },
      {
        name: 'UARTRSR_ECR',
        offset: UART.RSR_ECR,
        fields: [
          { name: 'FE', lsb: 0, width: 1 },
          { name: 'PE', lsb: 1, width: 1 },
          { name: 'BE', lsb: 2, width: 1 },
          { name: 'OE', lsb: 3, width: 1 },
        ],
        read: () => this.rsr,
        // UARTECR: any write clears the error flags.
        write: () => {
          this.rsr = 0;
        },
      },
      {
        name: 'UARTFR',
        offset: UART.FR,
        access: 'RO',
        fields: [
          { name: 'CTS', lsb: 0, width: 1 },
          { name: 'DSR', lsb: 1, width: 1 },
          { name: 'DCD', lsb: 2, width: 1 },
          { name: 'BUSY', lsb: 3, width: 1 },
          { name: 'RXFE', lsb: 4, width: 1 },
          { name: 'TXFF', lsb: 5, width: 1 },
          { name: 'RXFF', lsb: 6, width: 1 },
          { name: 'TXFE', lsb: 7, width: 1 },
          { name: 'RI', lsb: 8, width: 1 },
        ],
        read: () => this.flags(),
      },
      { name: 'UARTILPR', offset: UART.ILPR, fields: [{ name: 'ILPDVSR', lsb: 0, width: 8 }] },
      { name: 'UARTIBRD', offset: UART.IBRD, fields: [{ name: 'BAUD_DIVINT', lsb: 0, width: 16 }] },
      { name: 'UARTFBRD', offset: UART.FBRD, fields: [{ name: 'BAUD_DIVFRAC', lsb: 0, width: 6 }] },
      {
        name: 'UARTLCR_H',
        offset: UART.LCR_H,
        fields: [
          { name: 'BRK', lsb: 0, width: 1 },
          { name: 'PEN', lsb: 1, width: 1 },
          { name: 'EPS', lsb: 2, width: 1 },
          { name: 'STP2', lsb: 3, width: 1 },
          { name: 'FEN', lsb: 4, width: 1 },
          { name: 'WLEN', lsb: 5, width: 2 },
          { name: 'SPS', lsb: 7, width: 1 },
        ],
      },
      {
        name: 'UARTCR',
        offset: UART.CR,
        reset: UARTCR_TXE | UARTCR_RXE,
        fields: [
          { name: 'UARTEN', lsb: 0, width: 1 },
          { name: 'SIREN', lsb: 1, width: 1 },
          { name: 'SIRLP', lsb: 2, width: 1 },
          { name: 'LBE', lsb: 7, width: 1 },
          { name: 'TXE', lsb: 8, width: 1 },
          { name: 'RXE', lsb: 9, width: 1 },
          { name: 'DTR', lsb: 10, width: 1 },
          { name: 'RTS', lsb: 11, width: 1 },
          { name: 'Out1', lsb: 12, width: 1 },
          { name: 'Out2', lsb: 13, width: 1 },
          { name: 'RTSEn', lsb: 14, width: 1 },
          { name: 'CTSEn', lsb: 15, width: 1 },
        ],
        write: () => {
          this.startTransmit();
          this.scheduleReceive();
        },
      },
      {
        name: 'UARTIFLS',
        offset: UART.IFLS,
        reset: 0x12,
        fields: [
          { name: 'TXIFLSEL', lsb: 0, width: 3 },
          { name: 'RXIFLSEL', lsb: 3, width: 3 },
        ],
      },
      { name: 'UARTIMSC', offset: UART.IMSC, reserved: ~UART_INT_ALL >>> 0, write: () => this.updateIrq() },
      { name: 'UARTRIS', offset: UART.RIS, access: 'RO', reserved: ~UART_INT_ALL >>> 0, read: () => this.ris },
      {
        name: 'UARTMIS',
        offset: UART.MIS,
        access: 'RO',
        reserved: ~UART_INT_ALL >>> 0,
        read: () => this.ris & this.regs.getNum('UARTIMSC'),
      },
      {
        name: 'UARTICR',
        offset: UART.ICR,
        access: 'WO',
        reserved: ~UART_INT_ALL >>> 0,
        write: (_v, _o, w) => {
          this.ris &= ~Number(w);
          this.updateIrq();
        },
      },
      {
        name: 'UARTDMACR',
        offset: UART.DMACR,
        fields: [
          { name: 'RXDMAE', lsb: 0, width: 1 },
          { name: 'TXDMAE', lsb: 1, width: 1 },
          { name: 'DMAONERR', lsb: 2, width: 1 },
        ],
      },
    ];
    PL011_ID_BYTES.forEach((v, i) => {
      defs.push({
        name: i < 4 ? `UARTPeriphID${i}` : `UARTPCellID${i - 4}`,
        offset: UART.PeriphID0 + 4 * i,
        access: 'RO',
        reset: v,
      });
    });
    return defs;
  }
}
