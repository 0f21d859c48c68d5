// A bare-metal test rig for the ZIP PF: a machine with a PCIe host bridge, the
// function plugged at 00:02.0 and programmed through ECAM, an MSI catcher on the
// bus, and a minimal QM "driver" that talks to the device only through
// machine.bus. Layouts here are written from the Linux structs (hisi_qm.h, zip.h)
// as plain dword offsets, independently of the model's field tables.

import { createMachine } from '../../src/machine/create.js';
import { RAM_BASE } from '../../src/machine/machine.js';
import { ZIP_BDF, type Machine } from '../../src/machine/board.js';
import type { HisiZip } from '../../src/hw/zip/hisi-zip.js';
import type { AccessSize, MmioAccess, MmioDevice } from '../../src/hw/bus/mmio.js';
import { mulberry32 } from '../../src/machine/prng.js';

/** Deterministic PRNG (mulberry32) for test data. */
export const prng = mulberry32;

export const BAR2 = 0x1000_0000;
/** An unused platform address where the rig catches MSI writes (the GIC ITS is not involved). */
export const MSI_DOORBELL = 0x0c00_0040;
export const MSI_DATA_BASE = 0x40;
const BDF = ZIP_BDF;

// QM registers (BAR2 offsets)
export const QM = {
  AEQ_INT_SOURCE: 0x0,
  AEQ_INT_MASK: 0x4,
  EQ_INT_SOURCE: 0x8,
  EQ_INT_MASK: 0xc,
  CACHE_WB_START: 0x204,
  CACHE_WB_DONE: 0x208,
  MB: 0x300,
  MB_DATA_L: 0x304,
  MB_DATA_H: 0x308,
  DB_SQ_CQ: 0x1000,
  DB_EQ_AEQ: 0x2000,
  ABN_SOURCE: 0x100000,
  ABN_MASK: 0x100004,
  ABN_STATUS: 0x100008,
  ABN_SET: 0x10000c,
  INF00: 0x100010,
  INF01: 0x100014,
  MEM_START_INIT: 0x100040,
  MEM_INIT_DONE: 0x100044,
  VFT_OP_ENABLE: 0x100054,
  VFT_OP_WR: 0x100058,
  VFT_TYPE: 0x10005c,
  VFT_CFG: 0x100060,
  VFT_DATA_L: 0x100064,
  VFT_DATA_H: 0x100068,
  VFT_RDY: 0x10006c,
  PEH_VENDOR_ID: 0x1000d8,
  CAPBILITY: 0x100158,
  DFX_MB: 0x104018,
  DFX_DB: 0x104028,
  DFX_SQE: 0x104038,
  DFX_CQE: 0x104048,
  DFX_CQE_ERR: 0x1040b4,
  /** Selections: function [5:0] (and queue [31:16]) the DFX counters above show. */
  DFX_MB_SEL: 0x104010,
  DFX_DB_SEL: 0x104020,
  DFX_SQE_SEL: 0x104030,
  DFX_CQE_SEL: 0x104040,
  OOO_SHUTDOWN_SEL: 0x1040f8,
  MASTER_GLOBAL_CTRL: 0x300000,
  MASTER_TRANS_RETURN: 0x300150,
  ZIP_CORE_INT_SOURCE: 0x3010a0,
  ZIP_CORE_INT_MASK: 0x3010a4,
  ZIP_CORE_INT_STATUS: 0x3010ac,
  ZIP_CNT_CLR_CE: 0x301000,
  ZIP_BD_RUSER: 0x301110,
  ZIP_BD_WUSER: 0x301140,
  ZIP_SGL_RUSER: 0x30111c,
  ZIP_DATA_RUSER: 0x301128,
  ZIP_DATA_WUSER: 0x301134,
} as const;

export const MB_CMD = { SQC: 0, CQC: 1, EQC: 2, AEQC: 3, SQC_BT: 4, CQC_BT: 5, SQC_VFT_V2: 6, STOP_QP: 8 } as const;
export const DB_CMD = { SQ: 0, CQ: 1, EQ: 2, AEQ: 3 } as const;

/** Records MSI writes that reach the bus (a stand-in for the ITS doorbell). */
class MsiCatcher implements MmioDevice {
  readonly name = 'msi-catcher';
  readonly received: number[] = [];
  mmioRead(_o: number, _s: AccessSize, acc: MmioAccess): void {
    acc.lo = 0;
  }
  mmioWrite(_o: number, _s: AccessSize, acc: MmioAccess): void {
    this.received.push(acc.lo - MSI_DATA_BASE);
  }
}

export interface QueueInfo {
  qn: number;
  depth: number;
  sq: number;
  cq: number;
  sqTail: number;
  cqHead: number;
  cqPhase: number;
}

export class ZipRig {
  readonly machine: Machine;
  readonly zip: HisiZip;
  readonly msi = new MsiCatcher();
  // Above 64 MiB: the SMMU harness allocator (tables, queues) uses 16-64 MiB.
  private next = RAM_BASE + 0x0400_0000;
  eqBase = 0;
  aeqBase = 0;
  eqHead = 0;
  eqPhase = 1;
  aeqHead = 0;
  aeqPhase = 1;
  eqDepth = 2048;
  aeqDepth = 1024;
  sqcBt = 0;
  cqcBt = 0;
  readonly queues = new Map<number, QueueInfo>();

  constructor(options: { ramSize?: number } = {}) {
    // The board plugs the ZIP PF at 00:01.0 of its ECAM host bridge.
    this.machine = createMachine({ ramSize: options.ramSize ?? 256 * 1024 * 1024 });
    this.machine.bus.map('msi-catcher', MSI_DOORBELL & ~0xfff, 0x1000, this.msi);
    this.zip = this.machine.zip;
  }

  get bus() {
    return this.machine.bus;
  }

  // ------------------------------------------------ PCI configuration through ECAM

  /** ECAM address of the function's configuration space (PCIe Base 4.0 7.2.2). */
  get cfgBase(): number {
    return this.machine.pcie.ecamBase + ((BDF.bus << 20) | (BDF.device << 15) | (BDF.function << 12));
  }

  cfgRead32(off: number): number {
    return this.bus.read32(this.cfgBase + off);
  }

  cfgWrite32(off: number, v: number): void {
    this.bus.write32(this.cfgBase + off, v >>> 0);
  }

  findCap(id: number): number {
    let p = this.cfgRead32(0x34) & 0xfc;
    while (p !== 0) {
      const h = this.cfgRead32(p);
      if ((h & 0xff) === id) return p;
      p = (h >>> 8) & 0xfc;
    }
    return 0;
  }

  /** BAR2 at BAR2 (64-bit), memory + bus master on, MSI with 4 vectors to the catcher. */
  enablePci(): this {
    this.cfgWrite32(0x18, BAR2);
    this.cfgWrite32(0x1c, 0);
    this.cfgWrite32(0x04, 0x6);
    const m = this.findCap(0x05);
    this.cfgWrite32(m + 4, MSI_DOORBELL);
    this.cfgWrite32(m + 8, 0);
    this.cfgWrite32(m + 0xc, MSI_DATA_BASE);
    this.cfgWrite32(m, (1 << 16) | (2 << 20));
    return this;
  }

  // ------------------------------------------------ memory

  alloc(bytes: number, align = 4096): number {
    this.next = Math.ceil(this.next / align) * align;
    const a = this.next;
    this.next += bytes;
    return a;
  }

  // ------------------------------------------------ registers

  r32(off: number): number {
    return this.bus.read32(BAR2 + off);
  }

  w32(off: number, v: number): void {
    this.bus.write32(BAR2 + off, v >>> 0);
  }

  w64(off: number, v: bigint): void {
    this.bus.write64(BAR2 + off, v);
  }

  run(ns?: number): void {
    if (ns === undefined) this.machine.run({ untilIdle: true });
    else this.machine.run({ forNs: ns });
  }

  // ------------------------------------------------ mailbox (Linux qm_mb_nolock)

  /** Sends a mailbox command as one 128-bit store (two 64-bit writes) and waits; returns w0. */
  mailbox(cmd: number, qn: number, addr: number, op: 0 | 1, opts: { wait?: boolean } = {}): number {
    const w0 = BigInt((cmd & 0xff) | (1 << 13) | (op << 14) | ((qn & 0xffff) << 16));
    const lo = w0 | (BigInt(addr >>> 0) << 32n);
    const hi = BigInt(Math.floor(addr / 2 ** 32));
    this.w64(QM.MB, lo);
    this.w64(QM.MB + 8, hi);
    if (opts.wait === false) return this.r32(QM.MB);
    for (let i = 0; i < 1000 && (this.r32(QM.MB) & (1 << 13)) !== 0; i++) this.run(1000);
    return this.r32(QM.MB);
  }

  mbStatus(w0: number): number {
    return (w0 >>> 9) & 0xf;
  }

  // ------------------------------------------------ bring-up (Linux hisi_qm_start, PF)

  doorbell(qn: number, cmd: number, index: number, priority = 0, rand = 0): void {
    const page = cmd <= DB_CMD.CQ ? QM.DB_SQ_CQ : QM.DB_EQ_AEQ;
    this.w64(page, BigInt(((qn & 0xfff) | (cmd << 12) | ((rand & 0xffff) << 16)) >>> 0) | (BigInt(index & 0xffff) << 32n) | (BigInt(priority & 0xffff) << 48n));
  }

  setPfVft(base: number, num: number): void {
    // SQC VFT v2: base << 28 | valid bit 44 | (num - 1) << 45
    const sqc = (BigInt(base) << 28n) | (1n << 44n) | (BigInt(num - 1) << 45n);
    for (const [type, data] of [[0, sqc], [1, 1n << 28n]] as const) {
      this.w32(QM.VFT_OP_WR, 0);
      this.w32(QM.VFT_TYPE, type);
      this.w32(QM.VFT_CFG, 0);
      this.w32(QM.VFT_DATA_L, Number(data & 0xffffffffn));
      this.w32(QM.VFT_DATA_H, Number(data >> 32n));
      this.w32(QM.VFT_RDY, 0);
      this.w32(QM.VFT_OP_ENABLE, 1);
    }
  }

  /** Memory init, VFT (base 0, `qpNum` queues), EQC/AEQC, BTs, EQ/AEQ doorbells, unmask. */
  startQm(qpNum = 64, rings: { eqDepth?: number; aeqDepth?: number } = {}): this {
    this.eqDepth = rings.eqDepth ?? 2048;
    this.aeqDepth = rings.aeqDepth ?? 1024;
    this.eqHead = this.aeqHead = 0;
    this.eqPhase = this.aeqPhase = 1;
    this.enablePci();
    this.w32(QM.MEM_START_INIT, 1);
    for (let i = 0; i < 100 && (this.r32(QM.MEM_INIT_DONE) & 1) === 0; i++) this.run(1000);
    this.setPfVft(0, qpNum);
    this.eqBase = this.alloc(4 * this.eqDepth);
    this.aeqBase = this.alloc(4 * this.aeqDepth);
    this.sqcBt = this.alloc(32 * qpNum);
    this.cqcBt = this.alloc(32 * qpNum);
    const ctx = this.alloc(32);
    this.writeEqc(ctx, this.eqBase, this.eqDepth);
    expectOk(this, this.mailbox(MB_CMD.EQC, 0, ctx, 0));
    this.writeEqc(ctx, this.aeqBase, this.aeqDepth);
    expectOk(this, this.mailbox(MB_CMD.AEQC, 0, ctx, 0));
    expectOk(this, this.mailbox(MB_CMD.SQC_BT, 0, this.sqcBt, 0));
    expectOk(this, this.mailbox(MB_CMD.CQC_BT, 0, this.cqcBt, 0));
    this.doorbell(0, DB_CMD.EQ, 0);
    this.doorbell(0, DB_CMD.AEQ, 0);
    this.w32(QM.EQ_INT_MASK, 0);
    this.w32(QM.AEQ_INT_MASK, 0);
    this.w32(QM.ABN_MASK, 0);
    this.w32(QM.ZIP_CORE_INT_MASK, 0);
    return this;
  }

  writeEqc(at: number, base: number, depth: number): void {
    const b = new Uint8Array(28);
    const v = new DataView(b.buffer);
    v.setUint32(4, base >>> 0, true);
    v.setUint32(8, Math.floor(base / 2 ** 32), true);
    v.setUint32(24, (depth - 1) | (1 << 16), true);
    this.bus.writeBytes(at, b);
  }

  /** Builds SQC and CQC in memory and loads them (Linux qm_sqc_ctx_cfg / qm_cqc_ctx_cfg, v2). */
  startQueue(qn: number, algType: number, opts: { depth?: number; pasid?: number; pasidEnable?: boolean; cqFlag?: boolean; priority?: number; orders?: number; rand?: number } = {}): QueueInfo {
    const depth = opts.depth ?? 1024;
    const sq = this.alloc(128 * depth);
    const cq = this.alloc(16 * depth);
    const ctx = this.alloc(64);
    const b = new Uint8Array(32);
    const v = new DataView(b.buffer);
    v.setUint32(4, sq >>> 0, true);
    v.setUint32(8, Math.floor(sq / 2 ** 32), true);
    v.setUint32(12, (depth - 1) | (7 << 12), true);
    v.setUint16(16, opts.rand ?? 0, true);
    v.setUint16(20, opts.pasid ?? 0, true);
    v.setUint16(22, opts.pasidEnable ? 1 << 7 : 0, true);
    v.setUint16(24, qn, true);
    v.setUint16(26, ((opts.priority ?? 0) & 0xf) | (((opts.orders ?? 1) & 0xf) << 4) | ((algType & 0xf) << 8), true);
    this.bus.writeBytes(ctx, b);
    expectOk(this, this.mailbox(MB_CMD.SQC, qn, ctx, 0));
    b.fill(0);
    v.setUint32(4, cq >>> 0, true);
    v.setUint32(8, Math.floor(cq / 2 ** 32), true);
    v.setUint32(12, (depth - 1) | (4 << 12), true);
    v.setUint16(16, opts.rand ?? 0, true);
    v.setUint16(20, opts.pasid ?? 0, true);
    v.setUint32(24, 1 | ((opts.cqFlag ?? true) ? 2 : 0), true);
    this.bus.writeBytes(ctx, b);
    expectOk(this, this.mailbox(MB_CMD.CQC, qn, ctx, 0));
    const q: QueueInfo = { qn, depth, sq, cq, sqTail: 0, cqHead: 0, cqPhase: 1 };
    this.queues.set(qn, q);
    return q;
  }

  /** Copies SQEs into the SQ at the tail and rings the SQ doorbell once. */
  submit(q: QueueInfo, ...sqes: Uint8Array[]): number[] {
    const slots: number[] = [];
    for (const s of sqes) {
      this.bus.writeBytes(q.sq + q.sqTail * 128, s);
      slots.push(q.sqTail);
      q.sqTail = (q.sqTail + 1) % q.depth;
    }
    this.doorbell(q.qn, DB_CMD.SQ, q.sqTail);
    return slots;
  }

  /**
   * Drains CQEs whose phase matches (Linux qm_poll_req_cb): returns the sq_head of each.
   * Rings the CQ doorbell per entry (priority 0) and, after any, once more with priority 1
   * to re-arm the completion event (c_flag), as Linux does.
   */
  reap(q: QueueInfo, ringDoorbell = true): number[] {
    const done: number[] = [];
    for (;;) {
      const at = q.cq + q.cqHead * 16;
      const w7 = this.bus.read16(at + 14);
      if ((w7 & 1) !== q.cqPhase) break;
      done.push(this.bus.read16(at + 8));
      q.cqHead++;
      if (q.cqHead === q.depth) {
        q.cqHead = 0;
        q.cqPhase ^= 1;
      }
      if (ringDoorbell) this.doorbell(q.qn, DB_CMD.CQ, q.cqHead);
    }
    if (ringDoorbell && done.length > 0) this.doorbell(q.qn, DB_CMD.CQ, q.cqHead, 1);
    return done;
  }

  /** Reads the result dwords of SQ slot `slot`. */
  result(q: QueueInfo, slot: number): SqeResult {
    const b = this.bus.readBytes(q.sq + slot * 128, 128);
    const v = new DataView(b.buffer);
    const dw = (i: number) => v.getUint32(i * 4, true);
    return { consumed: dw(0), produced: dw(1), status: dw(3) & 0xff, lstblk: (dw(3) >>> 8) & 1, ctxDw0: dw(15), ctxDw1: dw(28), ctxDw2: dw(29), isize: dw(30), checksum: dw(31), tag: dw(13) };
  }

  /** EQEs since the last call (Linux qm_get_complete_eqe_num), then the EQ doorbell. */
  reapEq(): number[] {
    const out: number[] = [];
    for (;;) {
      const e = this.bus.read32(this.eqBase + this.eqHead * 4);
      if (((e >>> 16) & 1) !== this.eqPhase) break;
      out.push(e & 0xffff);
      this.eqHead++;
      if (this.eqHead === this.eqDepth) {
        this.eqHead = 0;
        this.eqPhase ^= 1;
      }
    }
    this.doorbell(0, DB_CMD.EQ, this.eqHead);
    return out;
  }

  /** AEQEs as {qp, type}, then the AEQ doorbell. */
  reapAeq(): { qp: number; type: number }[] {
    const out: { qp: number; type: number }[] = [];
    for (;;) {
      const e = this.bus.read32(this.aeqBase + this.aeqHead * 4);
      if (((e >>> 16) & 1) !== this.aeqPhase) break;
      out.push({ qp: e & 0xffff, type: e >>> 17 });
      this.aeqHead++;
      if (this.aeqHead === this.aeqDepth) {
        this.aeqHead = 0;
        this.aeqPhase ^= 1;
      }
    }
    this.doorbell(0, DB_CMD.AEQ, this.aeqHead);
    return out;
  }

  /** Places `data` in fresh RAM and returns its address. */
  put(data: Uint8Array, align = 64): number {
    const a = this.alloc(Math.max(data.length, 1), align);
    this.bus.writeBytes(a, data);
    return a;
  }

  /** Builds a hardware SGL chain over `parts` (each part: address, length); `perSgl` entries per SGL. */
  buildSgl(parts: readonly (readonly [number, number])[], perSgl = 255): number {
    const sgls: number[] = [];
    for (let i = 0; i < Math.max(parts.length, 1); i += perSgl) sgls.push(this.alloc(64 + 32 * perSgl, 64));
    sgls.forEach((addr, k) => {
      const chunk = parts.slice(k * perSgl, (k + 1) * perSgl);
      const b = new Uint8Array(64 + 32 * chunk.length);
      const v = new DataView(b.buffer);
      const next = sgls[k + 1] ?? 0;
      v.setUint32(0, next >>> 0, true);
      v.setUint32(4, Math.floor(next / 2 ** 32), true);
      v.setUint16(8, k === 0 ? parts.length : 0, true);
      v.setUint16(10, chunk.length, true);
      v.setUint16(12, perSgl, true);
      chunk.forEach(([a, len], i) => {
        v.setUint32(64 + i * 32, a >>> 0, true);
        v.setUint32(64 + i * 32 + 4, Math.floor(a / 2 ** 32), true);
        v.setUint32(64 + i * 32 + 16, len, true);
      });
      this.bus.writeBytes(addr, b);
    });
    return sgls[0]!;
  }
}

export interface SqeResult {
  consumed: number;
  produced: number;
  status: number;
  lstblk: number;
  ctxDw0: number;
  ctxDw1: number;
  ctxDw2: number;
  isize: number;
  checksum: number;
  tag: number;
}

export interface SqeFields {
  reqType: number;
  src: number;
  dst: number;
  inLen: number;
  availOut: number;
  bufType?: number;
  window?: number;
  inOffset?: number;
  outOffset?: number;
  flushFinish?: boolean;
  stateful?: boolean;
  streamNew?: boolean;
  ctxAddr?: number;
  isize?: number;
  checksum?: number;
  tag?: number;
  sqeType?: number;
}

/** A ZIP SQE per Linux `struct hisi_zip_sqe` / UADK `fill_zip_comp_sqe`. */
export function makeSqe(f: SqeFields): Uint8Array {
  const b = new Uint8Array(128);
  const v = new DataView(b.buffer);
  const dw = (i: number, x: number) => v.setUint32(i * 4, x >>> 0, true);
  dw(4, f.inLen);
  dw(7, (f.inOffset ?? 0) | ((f.flushFinish ?? true) ? 1 << 25 : 0) | (f.stateful ? 1 << 26 : 0) | (f.streamNew ? 1 << 27 : 0) | ((f.sqeType ?? 0) << 28));
  dw(8, f.outOffset ?? 0);
  dw(9, f.reqType | ((f.bufType ?? 0) << 8) | ((f.window ?? 4) << 12));
  dw(13, f.tag ?? 0);
  dw(14, f.availOut);
  dw(18, f.src);
  dw(19, Math.floor(f.src / 2 ** 32));
  dw(20, f.dst);
  dw(21, Math.floor(f.dst / 2 ** 32));
  const c = f.ctxAddr ?? 0;
  dw(22, c);
  dw(23, Math.floor(c / 2 ** 32));
  dw(30, f.isize ?? 0);
  dw(31, f.checksum ?? 0);
  return b;
}

export const REQ = { DEFLATE: 1, ZLIB: 2, GZIP: 3 } as const;
/**
 * dw3 status codes: the hardware's public ones, and the one code the model reports for
 * failures whose hardware code is not public (IMPLEMENTATION-DEFINED, see src/hw/zip/sqe.ts).
 */
export const STATUS = { OK: 0, NEGACOMPRESS: 0x0d, DSTLEN_OUT: 0x0e, CRC_ERR: 0x10, DECOMP_END: 0x13, IMPLEMENTATION_DEFINED: 0x20 } as const;
/** HZIP_CORE_INT_* bits (Linux zip_main.c zip_hw_error). */
export const CORE_INT = { axi_rresp: 1 << 2, axi_bresp: 1 << 3, src_addr_parse: 1 << 4, dst_addr_parse: 1 << 5 } as const;

function expectOk(rig: ZipRig, w0: number): void {
  if ((w0 & (1 << 13)) !== 0 || rig.mbStatus(w0) !== 0) throw new Error(`mailbox failed: w0=0x${w0.toString(16)}`);
}


/** Compressible text-like test data. */
export function sampleData(len: number, seed = 1): Uint8Array {
  const r = prng(seed);
  const words = ['svasoc', 'queue', 'doorbell', 'kunpeng', 'deflate', 'mailbox', 'phase', 'smmu', 'pasid', '\n', 'the', 'of', 'a'];
  const out = new Uint8Array(len);
  let i = 0;
  while (i < len) {
    const w = words[Math.floor(r() * words.length)]!;
    for (let k = 0; k < w.length && i < len; k++) out[i++] = w.charCodeAt(k);
    if (i < len) out[i++] = r() < 0.1 ? Math.floor(r() * 256) : 0x20;
  }
  return out;
}
