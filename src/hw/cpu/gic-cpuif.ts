// What a CPU core sees of the interrupt controller: the GICv3 CPU interface, reached
// through ICC_* system registers, plus the core's private peripheral lines (timer).

export type IccRegName =
  | 'ICC_IAR1_EL1'
  | 'ICC_EOIR1_EL1'
  | 'ICC_PMR_EL1'
  | 'ICC_IGRPEN1_EL1'
  | 'ICC_SRE_EL1'
  | 'ICC_CTLR_EL1'
  | 'ICC_RPR_EL1'
  | 'ICC_HPPIR1_EL1'
  | 'ICC_SGI1R_EL1';

export interface GicCpuInterface {
  /** True when an enabled, unmasked interrupt of sufficient priority is pending for this core. */
  hasPendingIrq(): boolean;
  readSysreg(name: IccRegName): bigint;
  writeSysreg(name: IccRegName, value: bigint): void;
  /** Drives a private peripheral interrupt (PPI, INTID 16-31) of this core, e.g. the timer. */
  setPpi(intid: number, level: boolean): void;
  /** Set by the core: called when hasPendingIrq() may have become true (wake from WFI). */
  onIrqChange: (() => void) | undefined;
}
