// The CPU contract: everything guest software (src/kernel, src/user) may use of the
// machine. It is what an AArch64 core offers to code running on it: loads and stores
// at virtual or physical addresses, system registers, TLB maintenance, exceptions,
// WFI/WFE/SEV, SMC for firmware (PSCI). Nothing else of src/hw is visible to the guest.
//
// Guest code is TypeScript running on the host and charged in virtual time. Each
// core runs one generator, `CoreMain`, supplied by the kernel at boot (and by PSCI
// CPU_ON for secondaries). It yields to the machine when it waits for an interrupt
// or gives up its time slice; the machine interleaves cores and device events in
// virtual-time order.
//
// Code that cannot yield (a driver polling for its device inside a call) waits as
// Linux's smp_cond_load_relaxed does on arm64: LDXR marks the location in the core's
// exclusive monitor, then `wfe` sleeps until a wake-up event. In a discrete-event
// machine the next event that could wake the core is known, so the wait costs the host
// one step per hardware event, not one per polling iteration.

export type SysRegName =
  | 'SCTLR_EL1'
  | 'TCR_EL1'
  | 'TTBR0_EL1'
  | 'TTBR1_EL1'
  | 'MAIR_EL1'
  | 'CONTEXTIDR_EL1'
  | 'ESR_EL1'
  | 'FAR_EL1'
  | 'ELR_EL1'
  | 'SPSR_EL1'
  | 'VBAR_EL1'
  | 'TPIDR_EL1'
  | 'TPIDR_EL0'
  | 'DAIF'
  /** PSTATE.PAN (bit 22), as MSR/MRS PAN access it. */
  | 'PAN'
  | 'CurrentEL'
  | 'ID_AA64MMFR0_EL1'
  | 'ID_AA64MMFR1_EL1'
  | 'ID_AA64MMFR2_EL1'
  | 'ID_AA64PFR0_EL1'
  /** TLB [59:56] says whether range TLBI (RVAE1IS...) is implemented. */
  | 'ID_AA64ISAR0_EL1'
  | 'MIDR_EL1'
  | 'MPIDR_EL1'
  | 'CNTFRQ_EL0'
  | 'CNTVCT_EL0'
  | 'CNTV_CTL_EL0'
  | 'CNTV_CVAL_EL0'
  // GICv3 CPU interface (system-register interface)
  | 'ICC_IAR1_EL1'
  | 'ICC_EOIR1_EL1'
  | 'ICC_PMR_EL1'
  | 'ICC_IGRPEN1_EL1'
  | 'ICC_SRE_EL1'
  | 'ICC_CTLR_EL1'
  | 'ICC_RPR_EL1'
  | 'ICC_HPPIR1_EL1'
  | 'ICC_SGI1R_EL1';

/** TLB maintenance operations (the Inner Shareable forms broadcast to every core). */
export type TlbiOp =
  | 'VMALLE1IS' // all entries, all ASIDs
  | 'VMALLE1' // local core only
  | 'ASIDE1IS' // arg: ASID << 48
  | 'VAE1IS' // arg: ASID << 48 | VA[55:12]
  | 'VALE1IS' // last level only
  | 'VAAE1IS' // arg: VA[55:12], any ASID
  | 'VAALE1IS'
  | 'RVAE1IS' // arg: range encoding (ASID, TG, SCALE, NUM, TTL, BaseADDR)
  | 'RVALE1IS'
  | 'RVAAE1IS';

export const enum ExceptionLevel {
  EL0 = 0,
  EL1 = 1,
}

/** What a core yields to the machine. */
export type CoreYield =
  /** Wait for interrupt: the core sleeps until an IRQ is pending for it. */
  | 'wfi'
  /**
   * Wait for event: sleeps until SEV, an interrupt, or the event register is set. Kernel
   * code that cannot yield calls `ArchCpu.wfe()` instead.
   */
  | 'wfe'
  /** The time slice ends; the core stays runnable. */
  | 'yield';

/** The code a core runs: the kernel's per-CPU main loop. */
export type CoreMain = (cpu: ArchCpu) => Generator<CoreYield, void, void>;

/** The exception vector table the kernel installs (what VBAR_EL1 points at). */
export interface ExceptionVectors {
  /**
   * Synchronous exception (data/instruction abort, SVC, ...). ESR_EL1, FAR_EL1 and
   * ELR_EL1 describe it. Returning means ERET: the faulting access is retried.
   * Throwing unwinds the interrupted guest code (the kernel kills the task).
   * `esr` and `far` are the values of ESR_EL1 and FAR_EL1 at entry, as Numbers (what
   * the entry code's MRS would read; FAR as unsigned, exact below 2^53), so the fault
   * path makes no BigInt; the registers hold them too.
   */
  sync(cpu: ArchCpu, from: ExceptionLevel, esr: number, far: number): void;
  /** IRQ: taken at the next access or charge while DAIF.I is clear. */
  irq(cpu: ArchCpu, from: ExceptionLevel): void;
  /**
   * SVC #0 from EL0: the system-call entry (ESR_EL1.EC = 0x15). `args` are x0..x5 and
   * `nr` is x8, as the arm64 Linux ABI passes them. A generator, because a system call
   * may block; it yields whatever the kernel's scheduler understands and returns x0.
   */
  svc(cpu: ArchCpu, nr: number, args: readonly number[]): Generator<unknown, number, unknown>;
  /**
   * A preemption point reached by the YIELD hint (`ArchCpu.yieldHint`) at level `from`:
   * what the return from an exception does before the interrupted code resumes (Linux's
   * exit_to_user_mode at EL0, preempt_schedule_irq at EL1). A generator: the kernel may
   * switch tasks here, and the task may resume on another core. Without it the hint only
   * charges its cost (bare-metal vector tables).
   */
  preempt?(cpu: ArchCpu, from: ExceptionLevel): Generator<unknown, void, unknown>;
}

/** A fault reported by a try* access instead of an exception (the kernel's fixup path). */
export interface AccessFault {
  /** ESR_EL1 value the access would have produced (EC, ISS with DFSC/WnR). */
  readonly esr: number;
  /** Faulting virtual address. */
  readonly far: number;
}

export interface VirtAccessOptions {
  /** Write access (default read). */
  readonly write?: boolean;
  /** Check with EL0 permissions (LDTR/STTR, as copy_to/from_user does). */
  readonly unprivileged?: boolean;
}

/**
 * The EL0 register file: x0..x30, SP_EL0 and the PC. Guest code is TypeScript and has no
 * instruction fetch, so user code keeps its own PC here: it sets `pc` to the address of
 * the text it "executes" (the SVC or YIELD site of its C library, as a branch there
 * would), and after an exception returns it reads `pc` to learn where EL0 resumes.
 * SVC writes its arguments to x0..x5 and the number to x8 and advances `pc` past the
 * SVC (the preferred return address); the kernel keeps them per task (Linux's pt_regs,
 * installed as `ArchCpu.user` on its return to EL0), so `pc`, `sp`, x0..x30 after `svc()` or
 * `yieldHint()` are what the kernel's ERET left: a signal handler's entry, a restarted
 * SVC (pc rewound to it), or the next instruction. Values are Numbers (exact below 2^53,
 * negative for -errno in x0).
 */
export interface UserRegs {
  /** x0..x30 (x30 is the link register). */
  readonly x: Float64Array;
  sp: number;
  pc: number;
}

export interface ArchCpu {
  /** Core number (MPIDR_EL1.Aff0). */
  readonly id: number;
  /** Current exception level. The kernel sets EL0 around user code with `setEl`. */
  readonly el: ExceptionLevel;
  setEl(el: ExceptionLevel): void;
  /**
   * The EL0 registers (see UserRegs). The kernel switches the whole file at once: its
   * return to EL0 installs the task's own UserRegs object (its pt_regs) here, which
   * stands for restoring every register from it, and exceptions from EL0 then save
   * into that object (no copy on either side).
   */
  user: UserRegs;

  // ---- time ----
  /** This core's virtual time in ns. */
  now(): number;
  /** Charges `ns` of guest work. Device events fall due on the way; IRQs may be taken. */
  charge(ns: number): void;
  /** Cost table of the machine (ns per modelled operation), read-only for the guest. */
  readonly cost: Readonly<Record<string, number>>;
  /**
   * This core's local time at which its turn on the host ends. The machine runs one core
   * at a time in virtual-time order; a core more than the interleaving quantum ahead of
   * another runnable core (or past the end of the run the machine was asked for) should
   * give the machine a turn at its next preemption point, where the kernel yields. It
   * depends only on the cores' virtual times, so runs repeat. Infinity when nothing waits.
   */
  turnEndNs(): number;

  // ---- system registers (64-bit values as bigint at this edge) ----
  readSysreg(name: SysRegName): bigint;
  writeSysreg(name: SysRegName, value: bigint | number): void;

  // ---- TLB maintenance and barriers ----
  tlbi(op: TlbiOp, arg?: bigint | number): void;
  dsb(): void;
  isb(): void;

  // ---- virtual accesses through the MMU at the current EL ----
  // A fault takes a synchronous exception to the installed vectors, then retries.
  ld8(va: number): number;
  ld16(va: number): number;
  ld32(va: number): number;
  /** 64-bit load as a Number (exact below 2^53: pointers, lengths). */
  ld64(va: number): number;
  /** 64-bit load as a bigint (full value). */
  ld64n(va: number): bigint;
  st8(va: number, v: number): void;
  st16(va: number, v: number): void;
  st32(va: number, v: number): void;
  st64(va: number, v: number | bigint): void;
  /** Bulk copy from virtual memory (faults as above). */
  readVirt(va: number, dst: Uint8Array, dstOff?: number, len?: number): void;
  writeVirt(va: number, src: Uint8Array, srcOff?: number, len?: number): void;

  /**
   * Fault-returning variants: the access stops at the first fault and returns it
   * (nothing is taken to the vectors). This is the exception-table fixup path of
   * copy_from_user/copy_to_user. Returns undefined when the whole access succeeded.
   */
  tryReadVirt(va: number, dst: Uint8Array, dstOff: number, len: number, opts?: VirtAccessOptions): AccessFault | undefined;
  tryWriteVirt(va: number, src: Uint8Array, srcOff: number, len: number, opts?: VirtAccessOptions): AccessFault | undefined;
  /**
   * Translates `va` as the current regime would (AT S1E1R/W, S1E0R/W): returns the PA or a fault.
   * Writes PAR_EL1 semantics into the result.
   */
  at(va: number, opts?: VirtAccessOptions): { pa: number } | AccessFault;

  // ---- physical accesses (the kernel's linear map) ----
  // A bus error takes a synchronous external abort.
  ldPhys8(pa: number): number;
  ldPhys16(pa: number): number;
  ldPhys32(pa: number): number;
  ldPhys64(pa: number): number;
  ldPhys64n(pa: number): bigint;
  stPhys8(pa: number, v: number): void;
  stPhys16(pa: number, v: number): void;
  stPhys32(pa: number, v: number): void;
  stPhys64(pa: number, v: number | bigint): void;
  /**
   * 64-bit load as 32-bit halves, for values a Number cannot hold without a BigInt
   * (translation table descriptors): one single-copy-atomic access. Returns bits [31:0];
   * bits [63:32] are in `pairHi` until the next ldPhys64Pair.
   */
  ldPhys64Pair(pa: number): number;
  readonly pairHi: number;
  /** 64-bit store of `hi` (bits [63:32]) and `lo` (bits [31:0]): one single-copy-atomic access. */
  stPhys64Pair(pa: number, lo: number, hi: number): void;
  readPhys(pa: number, dst: Uint8Array, dstOff?: number, len?: number): void;
  writePhys(pa: number, src: Uint8Array, srcOff?: number, len?: number): void;
  /** Fills physical memory with a byte value (DC ZVA loops, memset of a page). */
  fillPhys(pa: number, value: number, len: number): void;

  // ---- exceptions, events, firmware ----
  /**
   * SVC #0 from EL0: writes x0..x5 = args and x8 = nr, advances `user.pc` by 4 (past the
   * SVC), switches to EL1, runs the installed `svc` vector (which may block) and returns
   * to EL0 with its result (x0), charging the syscall cost.
   */
  svc(nr: number, ...args: number[]): Generator<unknown, number, unknown>;
  /** Installs the vector table; VBAR_EL1 holds `vbar`. */
  setVectors(vbar: number, vectors: ExceptionVectors): void;
  /**
   * True when an IRQ is pending for this core at its own time (whatever DAIF says). A core
   * running behind the machine clock sees an IRQ when its time reaches the time the IRQ
   * was raised; until then WFI sleeps until it arrives.
   */
  irqPending(): boolean;
  /**
   * YIELD, the spin-loop hint (cpu_relax). Charges one access. A TypeScript spin loop can
   * be suspended only at a generator yield, so spin loops call this where Arm code would
   * execute YIELD: when this core's turn is over (`turnEndNs`), or when an exception (an
   * IRQ such as the scheduler's tick) returned since the last such point, it runs the
   * kernel's `preempt` vector, the work that exception's return would have done there
   * (reschedule, signals, a turn for the machine); otherwise it returns at once.
   * `user.pc` is left as it was (the preempt point is an IRQ taken before the YIELD)
   * unless the kernel sent EL0 elsewhere (a signal handler).
   */
  yieldHint(): Generator<unknown, void, unknown>;
  /** Signals an event to all cores (SEV). */
  sev(): void;
  /** Sets this core's own event register (SEVL): the next WFE returns at once. */
  sevl(): void;
  /**
   * WFE executed in place by code that cannot yield to the machine. When the event
   * register is set, clears it and returns. Otherwise the core sleeps until the first of
   * its WFE wake-up events (D1.6.2):
   * - the event register is set: SEV from any core, or a write by another observer (a
   *   device's DMA or MSI write, another core's store) to the granule this core's
   *   exclusive monitor marked with LDXR, which clears the monitor;
   * - an IRQ reaches the core while DAIF.I is clear (it is taken at the next access);
   * - `untilNs` (this core's time) comes: the caller's timeout. The generic timer's event
   *   stream, which bounds such waits on Linux, is not modelled.
   * The core's time moves to that event, never past it; hardware catches up on the way as
   * it does for any access. A wake-up may be spurious (the caller re-checks its
   * condition), never missed. Other cores do not run during the wait (the machine
   * interleaves cores between steps): waiting for another core's SEV or store must yield.
   * An exception return sets the event register, so a WFE after an IRQ handler returns.
   */
  wfe(untilNs?: number): void;
  /**
   * Load-exclusive (LDXR) at a virtual address: the load, and the 64-byte granule holding
   * it (the Exclusives Reservation Granule) marked in this core's exclusive monitor, until
   * another observer writes it (which sets the event register), CLREX, or the next LDXR.
   */
  ldxr32(va: number): number;
  /** 64-bit LDXR as a Number (exact below 2^53). */
  ldxr64(va: number): number;
  /** LDXR at a physical address (the kernel's linear map). */
  ldxrPhys32(pa: number): number;
  ldxrPhys64(pa: number): number;
  /** CLREX: this core's exclusive monitor marks nothing (no event). */
  clrex(): void;
  /**
   * Secure monitor call, as PSCI uses it (SMC Calling Convention). x0 is the function
   * id; returns x0. CPU_ON passes the secondary's `CoreMain` as the entry point.
   */
  smc(functionId: number, x1?: number | bigint, x2?: number | bigint | CoreMain, x3?: number | bigint): number;
}

/** PSCI 1.0 function ids (DEN0022). */
export const PSCI = {
  VERSION: 0x84000000,
  CPU_OFF: 0x84000002,
  CPU_ON_64: 0xc4000003,
  SYSTEM_OFF: 0x84000008,
  SYSTEM_RESET: 0x84000009,
} as const;

export const PSCI_RET = {
  SUCCESS: 0,
  NOT_SUPPORTED: -1,
  INVALID_PARAMETERS: -2,
  DENIED: -3,
  ALREADY_ON: -4,
} as const;
