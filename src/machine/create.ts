// createMachine: a machine at reset, no software run.
import { MachineCore, type MachineOptions } from './machine.js';

export function createMachine(options: MachineOptions = {}): MachineCore {
  return new MachineCore(options);
}
