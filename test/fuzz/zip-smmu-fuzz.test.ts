// Seeded fuzzing of the ZIP PF behind the SMMUv3 model with per-queue PASIDs: six
// queues, queue i bound to PASID i + 1, each PASID with its own stage-1 page table
// (CD i + 1, some of them stall-enabled). The STE's S1DSS is SSID0, so the QM's own
// traffic without a PASID (SQ/CQ rings, EQ/AEQ, contexts, MSI) goes through CD 0, the
// "kernel" domain. Every SQE points anywhere: into its own mappings, at virtual
// addresses only another PASID maps, at the kernel domain's IOVAs, at physical
// addresses, at random 48-bit addresses, through SGLs that do the same. Every DMA of
// the function is traced with the PA it reached; the test checks each one lies in a
// page mapped for the context that issued it (its PASID, or CD 0 without one). Stall
// events are resumed with retry or terminated at random. No host exception may
// escape, and each queue works after the run.
import { describe, it, expect } from 'vitest';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { ZipRig, QM, DB_CMD, MSI_DOORBELL, makeSqe, REQ, STATUS, prng, sampleData, type QueueInfo } from '../conformance/zip-rig.js';
import { Alloc, PageTable, bringUp, drainEvents, resume, submit, writeCd, writeSte, cfgiAll, sync, PTE_AF, AP_RW_ALL, type Rig, type Queues } from '../conformance/smmuv3-harness.js';
import { TraceKind } from '../../src/trace/record.js';

const RAM_BASE = 0x4000_0000;
/** The rig allocates from RAM + 64 MiB; CD 0 maps 48 MiB from there one to one with 2 MiB blocks. */
const KERNEL_BASE = RAM_BASE + 0x0400_0000;
const KERNEL_SIZE = 48 << 20;
const PAGE = 4096;
const QUEUES = 6;
const S1DSS_SSID0 = 2;
/** Private VA region of PASID p: PRIV + p * PRIV_STRIDE, PRIV_PAGES pages (the last 16 are its stream context). */
const PRIV = 0x0000_1000_0000_0000;
const PRIV_STRIDE = 0x10_0000_0000;
const PRIV_PAGES = 64;
/** A VA range every PASID maps partly (a random subset of its pages) onto its own pages. */
const COMMON = 0x0000_7f00_0000_0000;
const COMMON_PAGES = 64;
const EVT_F_TRANSLATION = 0x10;

interface Space {
  pasid: number;
  pt: PageTable;
  /** VA page number -> PA page number. */
  readonly vaToPa: Map<number, number>;
  /** PA pages this PASID maps. */
  readonly paPages: Set<number>;
  /** Valid raw DEFLATE streams placed in its private region: VA and length, with the original. */
  readonly streams: { va: number; len: number; data: Uint8Array }[];
  stall: boolean;
}

interface FuzzResult {
  digest: number;
  nowNs: number;
  completions: number;
  dmaByContext: Record<string, number>;
  faults: number;
  stallsResumed: number;
  violations: string[];
}

function fuzz(seed: number, steps: number): FuzzResult {
  const rnd = prng(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const pick = <T,>(xs: readonly T[]): T => xs[int(xs.length)]!;

  // QM bring-up before the SMMU is enabled (as firmware leaves it), then the queues.
  const zr = new ZipRig().startQm(64);
  const queues: QueueInfo[] = [];
  for (let i = 0; i < QUEUES; i++) queues.push(zr.startQueue(i, i & 1, { depth: pick([8, 16, 64]), pasid: i + 1 }));
  zr.w32(QM.ZIP_SGL_RUSER, 1);
  zr.w32(QM.ZIP_DATA_RUSER, 1);
  zr.w32(QM.ZIP_DATA_WUSER, 1);

  // SMMU: STE S1 with a CD table; CD 0 the kernel domain, CD p for PASID p.
  const m = zr.machine;
  const s: Rig = { m, smmu: m.smmu, port: zr.zip.fn.dma, mem: new Alloc(), irqs: { eventq: 0, priq: 0, cmdqSync: 0, gerror: 0, sev: 0 }, stallEnds: [], pageResponses: [] };
  const sid = m.pcie.enumerate().find((e) => e.fn === zr.zip.fn)!.streamId;
  const q: Queues = bringUp(s, { log2: 8, evtqLog2: 10 });
  const cds = s.mem.take(64 * 8, 64);
  const kernel = new PageTable(s);
  const kernelPages = new Set<number>();
  for (let off = 0; off < KERNEL_SIZE; off += 2 << 20) kernel.map(KERNEL_BASE + off, KERNEL_BASE + off, PTE_AF | AP_RW_ALL, 2);
  for (let p = KERNEL_BASE / PAGE; p < (KERNEL_BASE + KERNEL_SIZE) / PAGE; p++) kernelPages.add(p);
  const msiPage = Math.floor(MSI_DOORBELL / PAGE) * PAGE;
  kernel.map(msiPage, msiPage, PTE_AF | AP_RW_ALL);
  kernelPages.add(msiPage / PAGE);
  writeCd(s, cds, { ttb0: kernel.ttb, asid: 1, mair: 0xffn });

  const spaces: Space[] = [];
  for (let i = 0; i < QUEUES; i++) {
    const pasid = i + 1;
    const sp: Space = { pasid, pt: new PageTable(s), vaToPa: new Map(), paPages: new Set(), streams: [], stall: pasid % 2 === 0 };
    const mapPage = (va: number): number => {
      const pa = zr.alloc(PAGE);
      sp.pt.map(va, pa, PTE_AF | AP_RW_ALL);
      sp.vaToPa.set(va / PAGE, pa / PAGE);
      sp.paPages.add(pa / PAGE);
      return pa;
    };
    const base = PRIV + pasid * PRIV_STRIDE;
    // Private pages in a shuffled physical order, so VA-contiguous buffers are PA-scattered.
    const order = Array.from({ length: PRIV_PAGES }, (_, k) => k);
    for (let k = order.length - 1; k > 0; k--) {
      const j = int(k + 1);
      [order[k], order[j]] = [order[j]!, order[k]!];
    }
    for (const k of order) mapPage(base + k * PAGE);
    for (let k = 0; k < COMMON_PAGES; k++) if (rnd() < 0.5) mapPage(COMMON + k * PAGE);
    spaces.push(sp);
    writeCd(s, cds + pasid * 64, { ttb0: sp.pt.ttb, asid: 10 + pasid, s: sp.stall, mair: 0xffn });
  }
  writeSte(s, q.strtab + sid * 64, { cfg: 5, ctxPtr: cds, cdMax: 3, s1dss: S1DSS_SSID0 });
  submit(s, cfgiAll(), sync());
  zr.run(1_000_000);

  /** Writes bytes at a VA of `sp` (page by page through its own map). */
  const writeVa = (sp: Space, va: number, bytes: Uint8Array): void => {
    for (let off = 0; off < bytes.length; ) {
      const at = va + off;
      const n = Math.min(PAGE - (at % PAGE), bytes.length - off);
      zr.bus.writeBytes(sp.vaToPa.get(Math.floor(at / PAGE))! * PAGE + (at % PAGE), bytes.subarray(off, off + n));
      off += n;
    }
  };
  const readVa = (sp: Space, va: number, len: number): Uint8Array => {
    const out = new Uint8Array(len);
    for (let off = 0; off < len; ) {
      const at = va + off;
      const n = Math.min(PAGE - (at % PAGE), len - off);
      out.set(zr.bus.readBytes(sp.vaToPa.get(Math.floor(at / PAGE))! * PAGE + (at % PAGE), n), off);
      off += n;
    }
    return out;
  };

  // Contents: text and noise, with valid raw DEFLATE streams at known places.
  for (const sp of spaces) {
    const base = PRIV + sp.pasid * PRIV_STRIDE;
    writeVa(sp, base, sampleData(32 * PAGE, seed + sp.pasid));
    writeVa(sp, base + 32 * PAGE, Uint8Array.from({ length: 16 * PAGE }, () => int(256)));
    for (let k = 0; k < 3; k++) {
      const data = sampleData(2000 + int(30_000), seed * 7 + sp.pasid * 3 + k);
      const z = new Uint8Array(deflateRawSync(data));
      const va = base + (8 + k * 8) * PAGE + 64 * int(16);
      writeVa(sp, va, z);
      sp.streams.push({ va, len: z.length, data });
    }
  }

  // Trace every DMA of the function and check the page it reached.
  const violations: string[] = [];
  const dmaByContext: Record<string, number> = {};
  let faults = 0;
  // Every channel of the function (the QM's and each core's) records under the port's name.
  const zipInitiator = m.trace.initiatorName(zr.zip.fn.dma.initiator);
  m.trace.subscribe((ring, idx) => {
    const kind = ring.kindAt(idx);
    if (kind === TraceKind.Event) {
      const r = ring.at(idx);
      if (r.initiator === m.smmu.name && r.aux === EVT_F_TRANSLATION) faults++;
      return;
    }
    if (kind !== TraceKind.DmaRead && kind !== TraceKind.DmaWrite) return;
    const r = ring.at(idx);
    if (r.initiator !== zipInitiator) return;
    const pa = Number(r.pa);
    const allowed = r.ssid < 0 ? kernelPages : spaces[r.ssid - 1]?.paPages;
    const key = r.ssid < 0 ? 'cd0' : `pasid${r.ssid}`;
    dmaByContext[key] = (dmaByContext[key] ?? 0) + 1;
    for (let pg = Math.floor(pa / PAGE); pg <= Math.floor((pa + Math.max(r.size, 1) - 1) / PAGE); pg++) {
      if (allowed === undefined || !allowed.has(pg)) {
        if (violations.length < 20) violations.push(`${TraceKind[kind]} ${key} iova 0x${r.iova.toString(16)} -> pa 0x${pa.toString(16)} (${r.size} B) outside its mappings`);
      }
    }
  });

  /** An address for `len` bytes seen from PASID `sp`: mostly its own, often not. */
  const addrFor = (sp: Space, len: number): number => {
    const base = PRIV + sp.pasid * PRIV_STRIDE;
    const r = rnd();
    if (r < 0.5) return base + int(Math.max(1, PRIV_PAGES * PAGE - 16 * PAGE - len));
    if (r < 0.6) return COMMON + int(COMMON_PAGES * PAGE);
    if (r < 0.7) return PRIV + pick(spaces.filter((o) => o !== sp)).pasid * PRIV_STRIDE + int(PRIV_PAGES * PAGE);
    if (r < 0.8) return int(2 ** 32) * 65536 + int(65536);
    if (r < 0.85) return pick([...sp.paPages]) * PAGE + int(PAGE);
    if (r < 0.9) return KERNEL_BASE + int(1 << 20);
    return base + int(PRIV_PAGES) * PAGE - int(64); // straddling into the next, unmapped region
  };

  /** A hardware SGL written into one of the PASID's own pages; its entries point anywhere. */
  const sglFor = (sp: Space, len: number): number => {
    const base = PRIV + sp.pasid * PRIV_STRIDE;
    const at = base + (40 + int(8)) * PAGE + 64 * int(8);
    const n = 1 + int(5);
    const b = new Uint8Array(64 + 32 * n);
    const v = new DataView(b.buffer);
    const nextR = rnd();
    const next = nextR < 0.2 ? at : nextR < 0.3 ? addrFor(sp, 64) : 0;
    v.setUint32(0, next >>> 0, true);
    v.setUint32(4, Math.floor(next / 2 ** 32), true);
    v.setUint16(8, n, true);
    v.setUint16(10, n, true);
    v.setUint16(12, 255, true);
    for (let k = 0; k < n; k++) {
      const l = 1 + int(Math.max(1, Math.ceil(len / n) + 2000));
      const a = addrFor(sp, l);
      v.setUint32(64 + k * 32, a >>> 0, true);
      v.setUint32(64 + k * 32 + 4, Math.floor(a / 2 ** 32), true);
      v.setUint32(64 + k * 32 + 16, l, true);
    }
    writeVa(sp, at, b);
    return rnd() < 0.9 ? at : addrFor(sp, 64);
  };

  const randomSqe = (qi: number): Uint8Array => {
    const sp = spaces[qi]!;
    const decomp = (qi & 1) === 1;
    const stream = decomp && rnd() < 0.4 ? pick(sp.streams) : undefined;
    const inLen = stream && rnd() < 0.8 ? stream.len : pick([0, 1, 100, 4096, 20_000, int(150_000)]);
    const avail = pick([0, 64, 4096, 40_000, 150_000, int(300_000)]);
    const bufType = rnd() < 0.3 ? 1 : 0;
    const stateful = rnd() < 0.3;
    const ctxVa = PRIV + sp.pasid * PRIV_STRIDE + (PRIV_PAGES - 16) * PAGE;
    return makeSqe({
      reqType: rnd() < 0.95 ? pick([REQ.DEFLATE, REQ.ZLIB, REQ.GZIP]) : int(256),
      bufType,
      window: int(5),
      inLen,
      availOut: avail,
      src: bufType === 1 ? sglFor(sp, inLen) : stream && rnd() < 0.8 ? stream.va : addrFor(sp, inLen),
      dst: bufType === 1 ? sglFor(sp, avail) : addrFor(sp, avail),
      inOffset: rnd() < 0.1 ? int(4096) : 0,
      outOffset: rnd() < 0.1 ? int(4096) : 0,
      flushFinish: rnd() < 0.7,
      stateful,
      streamNew: rnd() < 0.5,
      ctxAddr: stateful ? (rnd() < 0.8 ? ctxVa : addrFor(sp, 0x10000)) : 0,
      checksum: int(2 ** 32),
      isize: int(2 ** 32),
    });
  };

  let completions = 0;
  let stallsResumed = 0;
  const serviceEvents = (abortAll: boolean): void => {
    const cmds = [];
    for (const e of drainEvents(s, q, true)) {
      if (!e.stall) continue;
      stallsResumed++;
      cmds.push(resume(sid, e.stag, !abortAll && rnd() < 0.4));
    }
    if (cmds.length > 0) submit(s, ...cmds, sync());
  };
  const safeRegs = [QM.EQ_INT_MASK, QM.AEQ_INT_MASK, QM.ABN_MASK, QM.ABN_SET, QM.ABN_SOURCE, QM.CACHE_WB_START, QM.ZIP_CORE_INT_MASK, QM.ZIP_CORE_INT_SOURCE, 0x3010a8];

  for (let step = 0; step < steps; step++) {
    const op = rnd();
    if (op < 0.45) {
      const qi = int(QUEUES);
      zr.submit(queues[qi]!, ...Array.from({ length: 1 + int(3) }, () => randomSqe(qi)));
    } else if (op < 0.6) {
      for (const qq of queues) completions += zr.reap(qq).length;
      zr.reapEq();
      zr.reapAeq();
    } else if (op < 0.75) {
      serviceEvents(false);
    } else if (op < 0.8) {
      zr.w32(pick(safeRegs), int(2 ** 32));
    } else if (op < 0.83) {
      zr.doorbell(int(64), pick([DB_CMD.SQ, DB_CMD.CQ, DB_CMD.EQ, DB_CMD.AEQ, int(16)]), int(4096));
    } else if (op < 0.85) {
      zr.zip.inject(pick([{ kind: 'axi' }, { kind: 'cq-overflow' }, { kind: 'eq-overflow' }] as const));
    }
    zr.run(int(200_000));
  }
  // Terminate whatever is still stalled, then let everything finish.
  for (let k = 0; k < 200; k++) {
    serviceEvents(true);
    zr.run(1_000_000);
  }
  zr.run(50_000_000);
  for (const qq of queues) completions += zr.reap(qq).length;

  // Every queue still works: fresh rings, a valid request in its own mappings.
  for (let i = 0; i < QUEUES; i++) {
    const sp = spaces[i]!;
    const qq = zr.startQueue(i, i & 1, { depth: 8, pasid: sp.pasid });
    const base = PRIV + sp.pasid * PRIV_STRIDE;
    const dstVa = base + 20 * PAGE;
    const st = sp.streams[0]!;
    const data = sampleData(5000, 1000 + i);
    if ((i & 1) === 0) writeVa(sp, base + 2 * PAGE, data);
    const sqe = (i & 1) === 0
      ? makeSqe({ reqType: REQ.DEFLATE, src: base + 2 * PAGE, dst: dstVa, inLen: data.length, availOut: 8 * PAGE })
      : makeSqe({ reqType: REQ.DEFLATE, src: st.va, dst: dstVa, inLen: st.len, availOut: 12 * PAGE });
    writeVa(sp, st.va, new Uint8Array(deflateRawSync(st.data))); // the run may have written over it
    const [slot] = zr.submit(qq, sqe);
    zr.run(50_000_000);
    expect(zr.reap(qq), `queue ${i}`).toEqual([slot]);
    const r = zr.result(qq, slot!);
    expect(r.status, `queue ${i}`).toBe(STATUS.OK);
    if ((i & 1) === 0) {
      expect(new Uint8Array(inflateRawSync(readVa(sp, dstVa, r.produced))), `queue ${i}`).toEqual(data);
    } else {
      expect(readVa(sp, dstVa, r.produced), `queue ${i}`).toEqual(st.data);
    }
  }

  let digest = 0x811c9dc5;
  for (const sp of spaces)
    for (const pg of [...sp.paPages].sort((a, b) => a - b)) {
      const mem = zr.bus.readBytes(pg * PAGE, PAGE);
      for (let k = 0; k < PAGE; k += 61) digest = Math.imul(digest ^ mem[k]!, 0x01000193) >>> 0;
    }
  return { digest, nowNs: m.clock.now(), completions, dmaByContext, faults, stallsResumed, violations };
}

describe('QM/ZIP fuzz behind the SMMU with per-queue PASIDs', () => {
  it.each([1, 2, 3])('seed %i: 250 random operations: no DMA reaches a page outside the issuing PASID\'s (or CD 0\'s) mappings, no host exception, every queue works afterwards', (seed) => {
    const r = fuzz(seed, 250);
    expect(r.violations).toEqual([]);
    expect(r.completions).toBeGreaterThan(0);
    // The run did reach the interesting cases: translation faults, stalls, data DMA on every PASID.
    expect(r.faults).toBeGreaterThan(0);
    expect(r.stallsResumed).toBeGreaterThan(0);
    for (let p = 1; p <= QUEUES; p++) expect(r.dmaByContext[`pasid${p}`] ?? 0, `pasid ${p}`).toBeGreaterThan(0);
    expect(r.dmaByContext.cd0).toBeGreaterThan(0);
  }, 120_000);

  it('the same seed gives the same memory, virtual time and counts (determinism)', () => {
    const a = fuzz(7, 100);
    const b = fuzz(7, 100);
    expect(b).toEqual(a);
  }, 120_000);
});
