// Hardware scatter-gather lists of the HiSilicon accelerators (Linux sgl.c
// `struct hisi_acc_hw_sgl` / `acc_hw_sge`, UADK hisi_qm_udrv): a 64-byte header
// followed by 32-byte entries; SGLs chain through `next_dma`. The engine walks a
// list once per request into a flat segment list, then moves data run by run.

import { DmaStatus, type DmaAttrs, type DmaPort } from '../bus/dma.js';
import { StructLayout } from '../regs/struct-layout.js';

export const SGL_HEADER = new StructLayout('SGL_HEADER', 64, [
  { name: 'next_dma_l', dword: 0, lsb: 0, width: 32 },
  { name: 'next_dma_h', dword: 1, lsb: 0, width: 32 },
  { name: 'entry_sum_in_chain', dword: 2, lsb: 0, width: 16 },
  { name: 'entry_sum_in_sgl', dword: 2, lsb: 16, width: 16, description: 'entries used in this SGL' },
  { name: 'entry_length_in_sgl', dword: 3, lsb: 0, width: 16, description: 'entries this SGL has room for' },
]);

export const SGE = new StructLayout('SGE', 32, [
  { name: 'buf_l', dword: 0, lsb: 0, width: 32 },
  { name: 'buf_h', dword: 1, lsb: 0, width: 32 },
  { name: 'page_ctrl_l', dword: 2, lsb: 0, width: 32, description: 'software only' },
  { name: 'page_ctrl_h', dword: 3, lsb: 0, width: 32, description: 'software only' },
  { name: 'len', dword: 4, lsb: 0, width: 32 },
]);

/** Entries per SGL (Linux `HISI_ACC_SGL_SGE_NR_MAX`). */
export const SGL_MAX_ENTRIES = 255;
/** SGLs followed in one chain before the walk is declared a loop. */
export const SGL_MAX_CHAIN = 256;

export const enum SglResult {
  Ok = 0,
  Stalled = 1,
  /** The SGL or its entries could not be read (abort, bus error). */
  Fault = 2,
  /** Malformed: entry count beyond 255 or its own capacity, a loop, misalignment, or too short a source. */
  Malformed = 3,
}

/** A flat list of (address, length) runs, reused across requests. */
export class SegmentList {
  addr = new Float64Array(64);
  len = new Uint32Array(64);
  count = 0;
  total = 0;

  clear(): void {
    this.count = 0;
    this.total = 0;
  }

  push(addr: number, len: number): void {
    if (this.count === this.addr.length) {
      const a = new Float64Array(this.count * 2);
      a.set(this.addr);
      this.addr = a;
      const l = new Uint32Array(this.count * 2);
      l.set(this.len);
      this.len = l;
    }
    this.addr[this.count] = addr;
    this.len[this.count] = len;
    this.count++;
    this.total += len;
  }

  /** One run covering a flat buffer. */
  flat(addr: number, len: number): void {
    this.clear();
    this.push(addr, len);
  }
}

const hdrBytes = new Uint8Array(64);
const hdrWords = new Uint32Array(16);
const sgeBytes = new Uint8Array(32 * SGL_MAX_ENTRIES);
const sgeWords = new Uint32Array(8);
const visited = new Float64Array(SGL_MAX_CHAIN);

/**
 * Walks the SGL chain at `addr` into `out` until `need` bytes are covered or the
 * chain ends. `mustCover` makes a chain shorter than `need` malformed (a source);
 * otherwise a short chain just limits the capacity (a destination).
 */
export function walkSgl(port: DmaPort, addr: number, attrs: Readonly<DmaAttrs>, need: number, mustCover: boolean, out: SegmentList): SglResult {
  out.clear();
  let hops = 0;
  while (addr !== 0 && out.total < need) {
    if (addr % 64 !== 0) return SglResult.Malformed;
    for (let i = 0; i < hops; i++) if (visited[i] === addr) return SglResult.Malformed;
    if (hops === SGL_MAX_CHAIN) return SglResult.Malformed;
    visited[hops++] = addr;
    let st = port.read(addr, hdrBytes, 0, 64, attrs);
    if (st !== DmaStatus.Ok) return st === DmaStatus.Stalled ? SglResult.Stalled : SglResult.Fault;
    SGL_HEADER.fromBytes(hdrBytes, hdrWords);
    const n = SGL_HEADER.get(hdrWords, SGL_HEADER.f.entry_sum_in_sgl);
    const cap = SGL_HEADER.get(hdrWords, SGL_HEADER.f.entry_length_in_sgl);
    if (n > SGL_MAX_ENTRIES || (cap !== 0 && n > cap)) return SglResult.Malformed;
    if (n > 0) {
      st = port.read(addr + 64, sgeBytes, 0, n * 32, attrs);
      if (st !== DmaStatus.Ok) return st === DmaStatus.Stalled ? SglResult.Stalled : SglResult.Fault;
    }
    for (let i = 0; i < n && out.total < need; i++) {
      SGE.fromBytes(sgeBytes, sgeWords, i * 32);
      const len = SGE.get(sgeWords, SGE.f.len);
      if (len === 0) continue;
      const buf = SGE.get(sgeWords, SGE.f.buf_h) * 4294967296 + SGE.get(sgeWords, SGE.f.buf_l);
      out.push(buf, len);
    }
    addr = SGL_HEADER.get(hdrWords, SGL_HEADER.f.next_dma_h) * 4294967296 + SGL_HEADER.get(hdrWords, SGL_HEADER.f.next_dma_l);
  }
  if (mustCover && out.total < need) return SglResult.Malformed;
  return SglResult.Ok;
}

/**
 * Moves `len` bytes between `buf[bufOff..]` and the runs of `list`, starting `skip`
 * bytes into the list. Returns the DMA status of the first run that did not complete.
 */
export function moveSegments(port: DmaPort, list: SegmentList, skip: number, buf: Uint8Array, bufOff: number, len: number, write: boolean, attrs: Readonly<DmaAttrs>): DmaStatus {
  let i = 0;
  while (i < list.count && skip >= list.len[i]!) {
    skip -= list.len[i]!;
    i++;
  }
  while (len > 0 && i < list.count) {
    const n = Math.min(len, list.len[i]! - skip);
    const a = list.addr[i]! + skip;
    const st = write ? port.write(a, buf, bufOff, n, attrs) : port.read(a, buf, bufOff, n, attrs);
    if (st !== DmaStatus.Ok) return st;
    bufOff += n;
    len -= n;
    skip = 0;
    i++;
  }
  return len > 0 ? DmaStatus.BusError : DmaStatus.Ok;
}
