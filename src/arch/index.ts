// The CPU contract (DESIGN.md section 1): the only door from guest code to hardware.
export * from './cpu.js';
export { thisCpu } from './current.js';
export * from './program.js';
