// C strings in user memory: NUL-terminated UTF-8 at a virtual address.

import { thisCpu } from '../../arch/index.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

export function utf8(s: string): Uint8Array {
  return enc.encode(s);
}

export function fromUtf8(b: Uint8Array): string {
  return dec.decode(b);
}

/** Bytes `putCstr` needs for `s` (UTF-8 plus the NUL). */
export function cstrSize(s: string): number {
  return enc.encode(s).length + 1;
}

/** Reads the NUL-terminated string at `va` (at most `max` bytes, scanning a chunk at a time). */
export function cstr(va: number, max = 4096): string {
  const cpu = thisCpu();
  const chunk = new Uint8Array(64);
  const parts: Uint8Array[] = [];
  let total = 0;
  while (total < max) {
    // Never read across a page boundary past the NUL: the next page may be unmapped.
    const pageLeft = 4096 - ((va + total) & 4095);
    const n = Math.min(chunk.length, pageLeft, max - total);
    cpu.readVirt(va + total, chunk, 0, n);
    const nul = chunk.subarray(0, n).indexOf(0);
    if (nul >= 0) {
      parts.push(chunk.slice(0, nul));
      total += nul;
      break;
    }
    parts.push(chunk.slice(0, n));
    total += n;
  }
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return dec.decode(out);
}

/** Writes `s` with its NUL at `va`; returns the bytes written (including the NUL). */
export function putCstr(va: number, s: string): number {
  const b = enc.encode(s);
  const buf = new Uint8Array(b.length + 1);
  buf.set(b);
  thisCpu().writeVirt(va, buf);
  return buf.length;
}
