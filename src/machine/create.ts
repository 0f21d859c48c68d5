// createMachine: a machine at reset, no software run (DESIGN.md section 5).
import { Machine, type BoardOptions } from './board.js';

export function createMachine(options: BoardOptions = {}): Machine {
  return new Machine(options);
}
