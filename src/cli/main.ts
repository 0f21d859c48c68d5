// The `svasoc` command (placeholder until the CLI lands in this session).
import { createMachine } from '../index.js';

const m = createMachine();
console.log(`svasoc: machine with ${m.ramSize / 2 ** 20} MiB RAM at reset`);
