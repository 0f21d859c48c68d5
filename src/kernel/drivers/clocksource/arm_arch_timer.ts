// The Arm generic timer (drivers/clocksource/arm_arch_timer.c in shape): CNTVCT_EL0
// is the clock source; the virtual timer comparator (CNTV_CVAL_EL0, CNTV_CTL_EL0) on
// PPI 27 is each core's clock event device for hrtimers.

import { thisCpu, type ArchCpu } from '../../../arch/index.js';
import { clockevents_register_device, clocksource_register, hrtimer_interrupt, type ClockEventDevice } from '../../time/hrtimer.js';
import { enable_percpu_irq, request_percpu_irq, IRQ_HANDLED, IRQ_NONE, type IrqReturn } from '../../irq/irqdesc.js';
import { of_find_compatible_node, of_irq_parse_one } from '../../of/base.js';
import { pr_info } from '../../lib/printk.js';

// CNTV_CTL_EL0 bits (Arm ARM D17.8)
export const ARCH_TIMER_CTRL_ENABLE = 1 << 0;
export const ARCH_TIMER_CTRL_IT_MASK = 1 << 1;
export const ARCH_TIMER_CTRL_IT_STAT = 1 << 2;
/** Index of the virtual timer in the DT `interrupts` list (sec, non-sec, virt, hyp). */
const ARCH_TIMER_VIRT_PPI = 2;

let freq = 0;
let virqNr = 0;

/** Counter ticks -> ns. */
function cyc_to_ns(cyc: bigint): number {
  return Number((cyc * 1_000_000_000n) / BigInt(freq));
}

function ns_to_cyc(ns: number): bigint {
  return (BigInt(Math.ceil(ns)) * BigInt(freq) + 999_999_999n) / 1_000_000_000n;
}

const clockevent: ClockEventDevice = {
  name: 'arch_sys_timer',
  set_next_ktime(ns: number): void {
    const cpu = thisCpu();
    if (ns === Infinity) {
      cpu.writeSysreg('CNTV_CTL_EL0', ARCH_TIMER_CTRL_IT_MASK);
      return;
    }
    cpu.writeSysreg('CNTV_CVAL_EL0', ns_to_cyc(ns));
    cpu.writeSysreg('CNTV_CTL_EL0', ARCH_TIMER_CTRL_ENABLE);
  },
};

function arch_timer_handler_virt(): IrqReturn {
  const cpu = thisCpu();
  const ctl = Number(cpu.readSysreg('CNTV_CTL_EL0'));
  if (!(ctl & ARCH_TIMER_CTRL_IT_STAT)) return IRQ_NONE;
  // Mask until the next event is programmed (timer_handler: IT_MASK then event_handler).
  cpu.writeSysreg('CNTV_CTL_EL0', ctl | ARCH_TIMER_CTRL_IT_MASK);
  hrtimer_interrupt();
  return IRQ_HANDLED;
}

/** arch_timer_of_init on the boot core; `mapIrq` turns the DT specifier into an IRQ number. */
export function arch_timer_of_init(cpu: ArchCpu, mapIrq: (spec: { np: import('../../of/base.js').DeviceNode; args: number[] }) => number): boolean {
  freq = Number(cpu.readSysreg('CNTFRQ_EL0'));
  if (freq <= 0) freq = 62_500_000;
  clocksource_register({ name: 'arch_sys_counter', read_ns: () => cyc_to_ns(thisCpu().readSysreg('CNTVCT_EL0')) });
  const np = of_find_compatible_node(null, 'arm,armv8-timer');
  const spec = np ? of_irq_parse_one(np, ARCH_TIMER_VIRT_PPI) : undefined;
  virqNr = spec ? mapIrq(spec) : 0;
  if (virqNr > 0) request_percpu_irq(virqNr, arch_timer_handler_virt, 'arch_timer', null);
  pr_info(`arch_timer: cp15 timer(s) running at ${(freq / 1e6).toFixed(2)}MHz (virt).`);
  pr_info(`clocksource: arch_sys_counter: mask: 0xffffffffffffff max_cycles: 0x${(freq * 24).toString(16)}, max_idle_ns: 440795202767 ns`);
  arch_timer_starting_cpu(cpu);
  return virqNr > 0;
}

/** arch_timer_starting_cpu: per-core clock event setup (boot and secondaries). */
export function arch_timer_starting_cpu(cpu: ArchCpu): void {
  cpu.writeSysreg('CNTV_CTL_EL0', ARCH_TIMER_CTRL_IT_MASK);
  if (virqNr > 0) enable_percpu_irq(virqNr);
  clockevents_register_device(cpu.id, clockevent);
}

export function arch_timer_rate(): number {
  return freq;
}
