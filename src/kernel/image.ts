// The kernel image boot() loads (src/arch/program.ts KernelImage): entry is
// start_kernel on the boot core with x0 = the DTB address.

import type { KernelImage } from '../arch/index.js';
import { start_kernel, type KernelConfig } from './init/main.js';

export function createKernelImage(config: KernelConfig = {}): KernelImage {
  return {
    name: 'svasoc-linux-6.6',
    entry: (cpu, dtbPa, rom) => start_kernel(cpu, dtbPa, rom, config),
  };
}

/** The kernel with its default configuration: PID 1 execs /init from the initramfs. */
export const svasocKernel: KernelImage = createKernelImage();
