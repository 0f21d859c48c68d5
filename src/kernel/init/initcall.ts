// Initcalls (include/linux/init.h, init/main.c do_initcalls): drivers and subsystems
// register a function at module load; PID 1 runs them in level order at every boot
// (so a second boot in the same process starts from scratch).

export const INITCALL_CORE = 1;
export const INITCALL_POSTCORE = 2;
export const INITCALL_ARCH = 3;
export const INITCALL_SUBSYS = 4;
export const INITCALL_FS = 5;
export const INITCALL_DEVICE = 6;
export const INITCALL_LATE = 7;

type Initcall = () => Generator<unknown, number | void, unknown> | number | void;

const initcalls: { level: number; name: string; fn: Initcall }[] = [];
let ran = new Set<string>();

export function register_initcall(level: number, name: string, fn: Initcall): void {
  if (initcalls.some((c) => c.name === name)) return;
  initcalls.push({ level, name, fn });
}

export const subsys_initcall = (name: string, fn: Initcall): void => register_initcall(INITCALL_SUBSYS, name, fn);
export const device_initcall = (name: string, fn: Initcall): void => register_initcall(INITCALL_DEVICE, name, fn);
export const late_initcall = (name: string, fn: Initcall): void => register_initcall(INITCALL_LATE, name, fn);

export function initcalls_reset(): void {
  ran = new Set();
}

export function* do_initcalls(): Generator<unknown, void, unknown> {
  const order = [...initcalls].sort((a, b) => a.level - b.level);
  for (const c of order) {
    if (ran.has(c.name)) continue;
    ran.add(c.name);
    const r = c.fn();
    if (r !== undefined && typeof r === 'object') yield* r;
  }
}
