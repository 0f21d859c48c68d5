// Power-off and restart (kernel/reboot.c): the last step is PSCI SYSTEM_OFF or
// SYSTEM_RESET. svasoc passes the exit code in x1 of SYSTEM_OFF (PSCI defines no
// argument; the firmware stage turns it into the machine's exit status).

import { thisCpu, PSCI } from '../../arch/index.js';
import { printk } from '../lib/printk.js';

// reboot(2) magic and commands (include/uapi/linux/reboot.h)
export const LINUX_REBOOT_MAGIC1 = 0xfee1dead;
export const LINUX_REBOOT_MAGIC2 = 672274793;
export const LINUX_REBOOT_MAGIC2A = 85072278;
export const LINUX_REBOOT_MAGIC2B = 369367448;
export const LINUX_REBOOT_MAGIC2C = 537993216;
export const LINUX_REBOOT_CMD_RESTART = 0x01234567;
export const LINUX_REBOOT_CMD_HALT = 0xcdef0123;
export const LINUX_REBOOT_CMD_CAD_ON = 0x89abcdef;
export const LINUX_REBOOT_CMD_CAD_OFF = 0x00000000;
export const LINUX_REBOOT_CMD_POWER_OFF = 0x4321fedc;

/** Exit code of the last power-off (for tests that run without a firmware stage). */
export let last_power_off_code: number | undefined;

export function reboot_init(): void {
  last_power_off_code = undefined;
}

export function kernel_power_off(code: number): void {
  if (last_power_off_code !== undefined) return;
  last_power_off_code = code;
  printk('reboot: Power down');
  thisCpu().smc(PSCI.SYSTEM_OFF, code);
}

export function kernel_restart(): void {
  printk('reboot: Restarting system');
  thisCpu().smc(PSCI.SYSTEM_RESET);
}
