// ZIP engine control registers Linux programs in hisi_zip_set_user_domain_and_cache
// (HZIP_CLOCK_GATE_CTRL: core clocks, decompression check) and the 2018 driver's
// HZIP_FSM_MAX_CNT ("fsm count"), with the ctx_st codes UADK reads (0x3 block not
// started, 0x4 no CRC). Rules in hisi-zip.ts / engine.ts.
import { describe, it, expect } from 'vitest';
import * as pako from 'pako';
import { ZipRig, QM, makeSqe, REQ, STATUS, sampleData, type QueueInfo, type SqeFields, type SqeResult } from './zip-rig.js';

const CLOCK_GATE = 0x301004;
const FSM_MAX_CNT = 0x301008;
const COMP0_BD = 0x302000;
const COMP1_BD = 0x303000;
const DECOMP_CHECK = 1 << 16;
const ACC_DO_TASK_TIMEOUT = 1 << 5;
const CTX_ST = { NONE: 0, BLOCK_NOT_STARTED: 3, NO_CRC: 4 } as const;

function one(rig: ZipRig, q: QueueInfo, f: SqeFields): SqeResult {
  const [slot] = rig.submit(q, makeSqe(f));
  rig.run();
  expect(rig.reap(q)).toEqual([slot]);
  return rig.result(q, slot!);
}

function compressRequest(rig: ZipRig, seed: number): Uint8Array {
  const data = sampleData(4096, seed);
  return makeSqe({ reqType: REQ.DEFLATE, src: rig.put(data), dst: rig.alloc(8192), inLen: data.length, availOut: 8192 });
}

/** zlib body as the drivers hand it to the engine: raw DEFLATE + Adler-32 (header skipped). */
function zlibBody(data: Uint8Array): Uint8Array {
  return pako.deflate(data).subarray(2);
}

describe('HZIP_CLOCK_GATE_CTRL core clocks (bits 0-7)', () => {
  it('a gated core takes no SQE: with comp0 gated every compression runs on comp1 (GET_BD_NUM)', () => {
    const rig = new ZipRig().startQm();
    rig.w32(CLOCK_GATE, DECOMP_CHECK | 0xfe);
    const q = rig.startQueue(0, 0, { depth: 16 });
    rig.submit(q, ...[1, 2, 3, 4].map((s) => compressRequest(rig, s)));
    rig.run();
    expect(rig.reap(q).length).toBe(4);
    expect(rig.r32(COMP0_BD)).toBe(0);
    expect(rig.r32(COMP1_BD)).toBe(4);
  });

  it('with both compression cores gated a compression SQE waits; clocking a core starts it', () => {
    const rig = new ZipRig().startQm();
    rig.w32(CLOCK_GATE, DECOMP_CHECK | 0xfc);
    const q = rig.startQueue(0, 0, { depth: 16 });
    rig.submit(q, compressRequest(rig, 1));
    rig.run();
    expect(rig.reap(q)).toEqual([]);
    rig.w32(CLOCK_GATE, DECOMP_CHECK | 0xfd);
    rig.run();
    expect(rig.reap(q)).toEqual([0]);
    expect(rig.r32(COMP0_BD)).toBe(1);
  });

  it('reset value clocks every core with the check on (0x100ff); reserved bits read as zero', () => {
    const rig = new ZipRig().startQm();
    expect(rig.r32(CLOCK_GATE)).toBe(0x100ff);
    rig.w32(CLOCK_GATE, 0xffffffff);
    expect(rig.r32(CLOCK_GATE)).toBe(0x100ff);
  });
});

describe('HZIP_CLOCK_GATE_CTRL bit 16: decompression trailer check; ctx_st NO_CRC (0x4)', () => {
  const data = sampleData(3000, 7);

  it('check on: a zlib stream with a wrong Adler-32 ends with CRC_ERR; a right one with status 0 and ctx_st 0', () => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(1, 1, { depth: 8 });
    const body = zlibBody(data);
    const good = one(rig, q, { reqType: REQ.ZLIB, src: rig.put(body), dst: rig.alloc(4096), inLen: body.length, availOut: 4096 });
    expect(good.status).toBe(STATUS.OK);
    expect(good.ctxDw0 & 0xf).toBe(CTX_ST.NONE);
    const bad = body.slice();
    bad[bad.length - 1]! ^= 1;
    const r = one(rig, q, { reqType: REQ.ZLIB, src: rig.put(bad), dst: rig.alloc(4096), inLen: bad.length, availOut: 4096 });
    expect(r.status).toBe(STATUS.CRC_ERR);
  });

  it('check off: the wrong trailer is consumed unchecked, status 0 with ctx_st NO_CRC', () => {
    const rig = new ZipRig().startQm();
    rig.w32(CLOCK_GATE, 0xff);
    const q = rig.startQueue(1, 1, { depth: 8 });
    const bad = zlibBody(data).slice();
    bad[bad.length - 1]! ^= 1;
    const r = one(rig, q, { reqType: REQ.ZLIB, src: rig.put(bad), dst: rig.alloc(4096), inLen: bad.length, availOut: 4096 });
    expect(r.status).toBe(STATUS.OK);
    expect(r.consumed).toBe(bad.length);
    expect(r.ctxDw0 & 0xf).toBe(CTX_ST.NO_CRC);
  });

  it('a gzip stream whose input ends before the CRC-32/ISIZE trailer: status 0 with ctx_st NO_CRC', () => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(1, 1, { depth: 8 });
    const raw = pako.deflateRaw(data);
    const r = one(rig, q, { reqType: REQ.GZIP, src: rig.put(raw), dst: rig.alloc(4096), inLen: raw.length, availOut: 4096 });
    expect(r.status).toBe(STATUS.OK);
    expect(r.produced).toBe(data.length);
    expect(r.ctxDw0 & 0xf).toBe(CTX_ST.NO_CRC);
  });
});

describe('ctx_st BLOCK_NOT_STARTED (0x3): stateful decompression stopped between blocks', () => {
  it('input ending after a sync-flushed block reports 0x3; input ending inside a block reports 0', () => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(1, 1, { depth: 8 });
    const p1 = sampleData(5000, 1);
    const p2 = new TextEncoder().encode('svasoc block two '.repeat(1500));
    const d = new pako.Deflate({ raw: true });
    d.push(p1, 2); // Z_SYNC_FLUSH: ends at a block boundary
    const cut = d.chunks.reduce((n, c) => n + c.length, 0);
    d.push(p2, true);
    const all = d.result;
    const ctx = rig.alloc(0x10000);
    const r1 = one(rig, q, { reqType: REQ.DEFLATE, src: rig.put(all.subarray(0, cut)), dst: rig.alloc(8192), inLen: cut, availOut: 8192, stateful: true, streamNew: true, ctxAddr: ctx });
    expect(r1.status).toBe(STATUS.OK);
    expect(r1.produced).toBe(p1.length);
    expect(r1.ctxDw0 & 0xf).toBe(CTX_ST.BLOCK_NOT_STARTED);
    const half = Math.floor((all.length - cut) / 2);
    const r2 = one(rig, q, { reqType: REQ.DEFLATE, src: rig.put(all.subarray(cut, cut + half)), dst: rig.alloc(65536), inLen: half, availOut: 65536, stateful: true, ctxAddr: ctx });
    expect(r2.status).toBe(STATUS.OK);
    expect(r2.ctxDw0 & 0xf).toBe(CTX_ST.NONE);
  });
});

describe('HZIP_FSM_MAX_CNT: core FSM watchdog (engine cycles, 0 = off)', () => {
  it('a hung core reports QM acc_do_task_timeout when the count expires, not before', () => {
    const rig = new ZipRig().startQm();
    rig.w32(FSM_MAX_CNT, 100_000);
    rig.zip.inject({ kind: 'core-stuck' });
    const q = rig.startQueue(0, 0, { depth: 8 });
    rig.submit(q, compressRequest(rig, 1));
    rig.run(50_000);
    expect(rig.r32(QM.ABN_SOURCE) & ACC_DO_TASK_TIMEOUT).toBe(0);
    rig.run(100_000);
    expect(rig.r32(QM.ABN_SOURCE) & ACC_DO_TASK_TIMEOUT).toBe(ACC_DO_TASK_TIMEOUT);
    expect(rig.reap(q)).toEqual([]);
  });

  it('per-core DFX: GET_BD_NUM counts the BDs a core took, DONE_BD_NUM those it finished (a hung core has got one it never finishes)', () => {
    const rig = new ZipRig().startQm();
    const q = rig.startQueue(0, 0, { depth: 8 });
    rig.submit(q, compressRequest(rig, 1));
    rig.run();
    expect(rig.reap(q)).toEqual([0]);
    const got = rig.r32(COMP0_BD) + rig.r32(COMP1_BD);
    const done = rig.r32(COMP0_BD + 0x0c) + rig.r32(COMP1_BD + 0x0c);
    expect([got, done]).toEqual([1, 1]);
    rig.zip.inject({ kind: 'core-stuck' });
    rig.submit(q, compressRequest(rig, 2));
    rig.run(10_000_000);
    expect(rig.reap(q)).toEqual([]);
    expect(rig.r32(COMP0_BD) + rig.r32(COMP1_BD)).toBe(2);
    expect(rig.r32(COMP0_BD + 0x0c) + rig.r32(COMP1_BD + 0x0c)).toBe(1);
  });

  it('0 disables the watchdog: a hung core reports nothing', () => {
    const rig = new ZipRig().startQm();
    rig.zip.inject({ kind: 'core-stuck' });
    const q = rig.startQueue(0, 0, { depth: 8 });
    rig.submit(q, compressRequest(rig, 1));
    rig.run(10_000_000);
    expect(rig.r32(QM.ABN_SOURCE)).toBe(0);
  });

  it('a request computing longer than the count still completes, and reports the timeout', () => {
    const rig = new ZipRig().startQm();
    rig.w32(FSM_MAX_CNT, 1);
    const q = rig.startQueue(0, 0, { depth: 8 });
    rig.submit(q, compressRequest(rig, 1));
    rig.run();
    expect(rig.reap(q)).toEqual([0]);
    expect(rig.r32(QM.ABN_SOURCE) & ACC_DO_TASK_TIMEOUT).toBe(ACC_DO_TASK_TIMEOUT);
  });
});
