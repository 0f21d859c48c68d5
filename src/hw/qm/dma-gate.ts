// Stall handling for one bus-master channel, the QM's own (mailbox context loads and
// dumps, cache write-back, CQEs, EQEs, AEQEs). With the SMMU's stall model a faulting
// transaction is held, not aborted; the channel learns the outcome through
// `DmaPort.onStallEnd` (retry or abort), which does not say which transaction it
// was. The channel therefore keeps at most one transaction stalled: while one is
// held, the channel's other users wait (like an in-order AXI master whose
// outstanding-transaction slot is taken), and the stalled operation replays its
// whole step on retry (every step rewrites the same bytes, so a replay is harmless)
// or takes its error path on abort. The engine cores have channels of their own
// (zip/engine.ts), so a stalled data transfer holds only its core.

import type { DmaPort } from '../bus/dma.js';

export type StallResume = (retry: boolean) => void;

export class DmaStallGate {
  private stalled: StallResume | undefined;
  private readonly waiters: (() => void)[] = [];
  /** Stalls seen since reset (tests and the TUI read it). */
  stalls = 0;

  /** Takes over the port's stall-end callback (once the function has its port). */
  bind(port: DmaPort): void {
    port.onStallEnd = (retry) => this.end(retry);
  }

  /** True while a transaction of this function is held by the IOMMU. */
  get blocked(): boolean {
    return this.stalled !== undefined;
  }

  /** An operation whose DMA returned Stalled hands in how to continue. */
  park(resume: StallResume): void {
    this.stalls++;
    this.stalled = resume;
  }

  /** Runs `fn` once no transaction is stalled (now if none is). */
  whenOpen(fn: () => void): void {
    if (this.stalled === undefined) fn();
    else this.waiters.push(fn);
  }

  /** Forgets the held transaction and the waiters (device reset). */
  reset(): void {
    this.stalled = undefined;
    this.waiters.length = 0;
  }

  private end(retry: boolean): void {
    const resume = this.stalled;
    if (resume === undefined) return; // a resume for a transaction dropped by reset
    this.stalled = undefined;
    resume(retry);
    while (this.stalled === undefined && this.waiters.length > 0) this.waiters.shift()!();
  }
}
