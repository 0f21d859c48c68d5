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
    /** Drives the PPI (called only on a level change). */
    private readonly drive: (level: boolean) => void,
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
    this.setLevel(false);
  }

  private update(nowNs: number): void {
    this.event?.cancel();
    this.event = undefined;
    const enabled = (this.ctl & CNTV_CTL_ENABLE) !== 0;
    const met = nowNs >= this.fireNs;
    this.setLevel(enabled && met && (this.ctl & CNTV_CTL_IMASK) === 0);
    if (enabled && !met && this.fireNs < NEVER) {
      this.event = this.clock.schedule(this.fireNs, this.label, (t) => {
        this.event = undefined;
        this.update(t);
      });
    }
  }

  private setLevel(level: boolean): void {
    if (level === this.level) return;
    this.level = level;
    this.drive(level);
  }
}
