// The public API of svasoc (DESIGN.md section 5).
export { createMachine } from './machine/create.js';
export { Machine, type BoardOptions as MachineOptions, ZIP_BDF, TESTDEV_BDF } from './machine/board.js';
export type { RunLimit, RunResult } from './machine/machine.js';
export { PhysicalBus } from './hw/bus/bus.js';
export { TraceKind, type TraceRecord } from './trace/record.js';
export { TraceRing } from './trace/ring.js';
export * from './trace/filter.js';
export { exportText, formatTraceLine } from './trace/export-text.js';
export { exportChrome, exportChromeFromRing } from './trace/export-chrome.js';
export { boot, type BootOptions, type BootHandle } from './machine/boot.js';
