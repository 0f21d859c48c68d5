// 64-bit physical loads and stores of structures the SMMU reads (PTEs, STE and CD
// dwords) as lo/hi halves. A dword is stored with one 64-bit access: the SMMU only
// promises single-copy atomicity per 64 bits, and two 32-bit stores could let a walk
// that falls due between them see half an entry.

import type { ArchCpu } from '../../../arch/index.js';

const TWO32 = 4294967296;

export function storeDword(cpu: ArchCpu, pa: number, lo: number, hi: number): void {
  if (hi < 0x200000) cpu.stPhys64(pa, hi * TWO32 + (lo >>> 0));
  else cpu.stPhys64(pa, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
}

/** Loads a dword into out[i] (lo) and out[i+1] (hi). */
export function loadDword(cpu: ArchCpu, pa: number, out: Uint32Array, i: number): void {
  out[i] = cpu.ldPhys32(pa);
  out[i + 1] = cpu.ldPhys32(pa + 4);
}
