// A wired interrupt line from a device to the interrupt controller.

export interface IrqLine {
  /** Level-sensitive: drive the line high (true) or low (false). */
  set(level: boolean): void;
  /** Edge-triggered: one rising edge. */
  pulse(): void;
}

/** A line connected to nothing (a device whose interrupt is not wired). */
export const UNCONNECTED_IRQ: IrqLine = { set() {}, pulse() {} };
