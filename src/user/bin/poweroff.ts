// poweroff [-f] [STATUS], reboot, halt: reboot(2) directly (as `poweroff -f` does).
// svasoc: POWER_OFF carries the machine's exit status in reboot's `arg`.

import type { Libc } from '../libc/libc.js';
import { LINUX_REBOOT_CMD_HALT, LINUX_REBOOT_CMD_POWER_OFF, LINUX_REBOOT_CMD_RESTART } from '../libc/uapi.js';

function rebootCommand(cmd: number, name: string) {
  return function* main(c: Libc, argv: string[]): Generator<unknown, number, unknown> {
    c.progname = name;
    const arg = argv.slice(1).find((a) => /^[0-9]+$/.test(a));
    const status = arg === undefined ? 0 : Number(arg) & 0xff;
    const r = yield* c.reboot(cmd, status);
    yield* c.perror(name, r);
    return 1;
  };
}

export const poweroffMain = rebootCommand(LINUX_REBOOT_CMD_POWER_OFF, 'poweroff');
export const rebootMain = rebootCommand(LINUX_REBOOT_CMD_RESTART, 'reboot');
export const haltMain = rebootCommand(LINUX_REBOOT_CMD_HALT, 'halt');
