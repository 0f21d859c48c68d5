// The public API of svasoc (DESIGN.md section 5).
export { MachineCore as Machine, type MachineOptions, type RunLimit, type RunResult } from './machine/machine.js';
export { createMachine } from './machine/create.js';
export { PhysicalBus } from './hw/bus/bus.js';
export { TraceKind, type TraceRecord } from './trace/record.js';
export { TraceRing } from './trace/ring.js';
