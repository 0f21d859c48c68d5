// The CPU cluster: N cores in one Inner Shareable domain, plus what firmware at EL3
// does for them. TLBI ...IS operations and SEV reach every core of the cluster;
// SMC calls are answered as PSCI 1.0 (Arm DEN 0022) firmware would answer them.

import type { CoreMain, TlbiOp } from '../../arch/cpu.js';
import { PSCI, PSCI_RET } from '../../arch/cpu.js';
import type { MachineCore } from '../../machine/machine.js';
import { Core, type CoreFirmware } from './core.js';

/** PSCI function ids beyond the ones src/arch names (DEN 0022 5.1). */
export const PSCI_EXTRA = {
  CPU_ON_32: 0x84000003,
  AFFINITY_INFO_64: 0xc4000004,
  FEATURES: 0x8400000a,
} as const;

/** DEN 0022 5.2.2: INVALID_ADDRESS (the entry point is not one the firmware can start). */
export const PSCI_INVALID_ADDRESS = -9;
/** PSCI_VERSION: major 1, minor 0. */
export const PSCI_VERSION_1_0 = 0x0001_0000;

export interface ClusterOptions {
  /**
   * Called on PSCI SYSTEM_OFF (reason 'off') and SYSTEM_RESET ('reset') after the
   * machine has been marked halted. `code` is x1 of the call (an svasoc convention
   * for the exit status; PSCI itself passes nothing).
   */
  onSystemOff?: (code: number, reason: 'off' | 'reset') => void;
}

export class Cluster implements CoreFirmware {
  readonly cores: readonly Core[];

  constructor(
    private readonly machine: MachineCore,
    count = 2,
    private readonly options: ClusterOptions = {},
  ) {
    if (!Number.isInteger(count) || count < 1 || count > 8) throw new RangeError(`Cluster: core count must be 1..8, got ${count}`);
    const cores: Core[] = [];
    for (let i = 0; i < count; i++) cores.push(new Core(i, machine, this));
    this.cores = cores;
    machine.cores.push(...cores);
  }

  /** The boot core (core 0), powered on at `main` (EL1, MMU off). */
  boot(main: CoreMain): Core {
    const c = this.cores[0]!;
    c.enter(main);
    return c;
  }

  broadcastTlbi(op: TlbiOp, lo: number, hi: number): void {
    for (const c of this.cores) c.tlbiLocal(op, lo, hi);
  }

  sendEvent(): void {
    for (const c of this.cores) c.signalEvent();
  }

  smc(caller: Core, fid: number, x1: number | bigint, x2: number | bigint | CoreMain | undefined, x3: number | bigint): number {
    switch (fid) {
      case PSCI.VERSION:
        return PSCI_VERSION_1_0;
      case PSCI_EXTRA.FEATURES: {
        const f = Number(x1) >>> 0;
        const known: number[] = [PSCI.VERSION, PSCI.CPU_OFF, PSCI.CPU_ON_64, PSCI_EXTRA.CPU_ON_32, PSCI_EXTRA.AFFINITY_INFO_64, PSCI.SYSTEM_OFF, PSCI.SYSTEM_RESET, PSCI_EXTRA.FEATURES];
        return known.includes(f) ? PSCI_RET.SUCCESS : PSCI_RET.NOT_SUPPORTED;
      }
      case PSCI.CPU_ON_64:
      case PSCI_EXTRA.CPU_ON_32:
        return this.cpuOn(caller, x1, x2, x3);
      case PSCI.CPU_OFF:
        caller.powerOff();
        return PSCI_RET.SUCCESS;
      case PSCI_EXTRA.AFFINITY_INFO_64: {
        const target = this.coreByMpidr(x1);
        if (target === undefined) return PSCI_RET.INVALID_PARAMETERS;
        return target.poweredOn ? 0 : 1; // ON = 0, OFF = 1
      }
      case PSCI.SYSTEM_OFF:
      case PSCI.SYSTEM_RESET: {
        const reason = fid === PSCI.SYSTEM_OFF ? 'off' : 'reset';
        const code = Number(x1);
        this.machine.halted = { code, reason };
        for (const c of this.cores) c.powerOff();
        this.options.onSystemOff?.(code, reason);
        return PSCI_RET.SUCCESS;
      }
      default:
        return PSCI_RET.NOT_SUPPORTED;
    }
  }

  /** DEN 0022 5.6 CPU_ON: target MPIDR, entry point (a CoreMain here), context id. */
  private cpuOn(caller: Core, mpidr: number | bigint, entry: number | bigint | CoreMain | undefined, contextId: number | bigint): number {
    const target = this.coreByMpidr(mpidr);
    if (target === undefined) return PSCI_RET.INVALID_PARAMETERS;
    if (typeof entry !== 'function') return PSCI_INVALID_ADDRESS;
    if (target.poweredOn) return PSCI_RET.ALREADY_ON;
    target.powerOn(entry, BigInt.asUintN(64, BigInt(contextId)), caller.now());
    return PSCI_RET.SUCCESS;
  }

  private coreByMpidr(mpidr: number | bigint): Core | undefined {
    const v = BigInt.asUintN(64, BigInt(mpidr));
    // Aff0 selects the core; Aff1..Aff3 must be 0 in this single-cluster system.
    if ((v & 0xff_0000_ff_ff00n) !== 0n) return undefined;
    return this.cores[Number(v & 0xffn)];
  }
}
