// The core's virtual generic timer (Arm ARM DDI 0487 D12 "The Generic Timer in
// AArch64 state"): CNTVCT_EL0 counts virtual time at CNTFRQ (CNTVOFF = 0), and the
// compare condition CNTVCT >= CNTV_CVAL drives the virtual timer PPI while
// CNTV_CTL.ENABLE = 1 and IMASK = 0. The line is level-sensitive (D12.2.4).

import type { Clock, ScheduledEvent } from '../../machine/clock.js';
import { CNTV_CTL_ENABLE, CNTV_CTL_IMASK, CNTV_CTL_ISTATUS, NS_PER_TICK } from './sysregs.js';

/** Compare values whose time is beyond 2^53 ns never fire in a Number timeline. */
const NEVER = Number.MAX_SAFE_INTEGER;

export class VirtualTimer {
  private ctl = 0;
  private cval = 0n;
  private fireNs = NEVER;
  private event: ScheduledEvent | undefined;
  private level = false;

  constructor(
    private readonly clock: Clock,
    private readonly label: string,
    /**
     * Drives the PPI (called only on a level change). `atNs` is when the level changed in
     * the core's own time: the compare time when the condition comes true by itself.
     */
    private readonly drive: (level: boolean, atNs: number) => void,
  ) {}

  /** CNTVCT_EL0 at virtual time `ns`. */
  static count(ns: number): bigint {
    return BigInt(Math.floor(ns / NS_PER_TICK));
  }

  readCtl(nowNs: number): number {
    return this.ctl | (nowNs >= this.fireNs ? CNTV_CTL_ISTATUS : 0);
  }

  readCval(): bigint {
    return this.cval;
  }

  writeCtl(value: number, nowNs: number): void {
    this.ctl = value & (CNTV_CTL_ENABLE | CNTV_CTL_IMASK);
    this.update(nowNs);
  }

  writeCval(value: bigint, nowNs: number): void {
    this.cval = BigInt.asUintN(64, value);
    const ns = Number(this.cval) * NS_PER_TICK;
    this.fireNs = ns < NEVER ? ns : NEVER;
    this.update(nowNs);
  }

  /** Reset: disabled, line low. */
  reset(): void {
    this.ctl = 0;
    this.cval = 0n;
    this.fireNs = NEVER;
    this.event?.cancel();
    this.event = undefined;
    this.setLevel(false, 0);
  }

  private update(nowNs: number): void {
    this.event?.cancel();
    this.event = undefined;
    const enabled = (this.ctl & CNTV_CTL_ENABLE) !== 0;
    const met = nowNs >= this.fireNs;
    this.setLevel(enabled && met && (this.ctl & CNTV_CTL_IMASK) === 0, nowNs);
    if (enabled && !met && this.fireNs < NEVER) {
      // The event may run later than the compare time (the clock was already past it for a
      // core running behind the machine clock); the condition came true at the compare time.
      this.event = this.clock.schedule(this.fireNs, this.label, (t) => {
        this.event = undefined;
        this.update(t < this.fireNs ? t : this.fireNs);
      });
    }
  }

  private setLevel(level: boolean, atNs: number): void {
    if (level === this.level) return;
    this.level = level;
    this.drive(level, atNs);
  }
}
