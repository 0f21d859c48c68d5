// DMA faults of the ZIP PF under translation (default DMA domain). The Huawei quirk
// makes the PF stall-capable, so its CD has S=1: a transaction to an IOVA that the
// domain does not map stalls in the SMMU (IHI 0070 3.12.2) and is reported as a
// stalled F_TRANSLATION event. The arm-smmu-v3 driver hands it to
// iommu_report_device_fault; a DMA domain has no fault handler (only SVA domains
// have one), so the fault is answered INVALID and the driver terminates the stalled
// transaction with CMD_RESUME ABORT (IHI 0070 4.7.2). The engine then sees an aborted
// transfer: the SQE ends with the AXI error status, the driver completes the request
// with -EIO, the AXI error resets the controller, and the next request works. Never
// a hang.
import { describe, expect, it } from 'vitest';
import { inflate } from 'pako';
import { bootZip, EVT_F_TRANSLATION, ZIP_SID } from './kernel-zip-harness.js';
import { thisCpu } from '../../src/arch/index.js';
import { msleep } from '../../src/kernel/time/sleep.js';
import { DMA_MAPPING_ERROR, qm_bus, set_qm_bus } from '../../src/kernel/drivers/crypto/hisilicon/qm-bus.js';
import { IOMMU_READ, IOMMU_WRITE, iommu_get_domain_for_dev, iommu_iova_to_phys, iommu_map, iommu_unmap, type Device } from '../../src/kernel/drivers/iommu/iommu.js';
import { iopf_stats } from '../../src/kernel/drivers/iommu/io-pgfault.js';
import {
  CryptoWait,
  acomp_request_alloc,
  acomp_request_set_callback,
  acomp_request_set_params,
  crypto_acomp_compress,
  crypto_alloc_acomp,
  crypto_req_done,
  crypto_wait_req,
  type CryptoAcomp,
} from '../../src/kernel/crypto/acompress.js';
import { sg_init_one } from '../../src/kernel/crypto/scatterlist.js';
import { TraceKind } from '../../src/trace/record.js';
import type { HisiZip } from '../../src/kernel/drivers/crypto/hisilicon/zip/zip-main.js';
import type { Machine } from '../../src/machine/board.js';

const DATA = new TextEncoder().encode('translated fault path '.repeat(300));
const EIO = 5;

interface SmmuLog {
  stalls: number;
  /** CMD_RESUME seen by the SMMU: aux 1 = RETRY, 0 = ABORT. */
  resumes: number[];
  /** Stalled F_TRANSLATION events of the ZIP PF: their input addresses. */
  faultAddrs: number[];
}

function watchSmmu(m: Machine): SmmuLog {
  const log: SmmuLog = { stalls: 0, resumes: [], faultAddrs: [] };
  m.trace.subscribe((ring, i) => {
    const k = ring.kindAt(i);
    if (k !== TraceKind.Stall && k !== TraceKind.Resume && k !== TraceKind.Event) return;
    const r = ring.at(i);
    if (r.sid !== ZIP_SID) return;
    if (k === TraceKind.Stall) log.stalls++;
    else if (k === TraceKind.Resume) log.resumes.push(r.aux);
    else if (r.aux === EVT_F_TRANSLATION) log.faultAddrs.push(Number(r.iova));
  });
  return log;
}

/** An IOVA page the ZIP's DMA domain does not map (checked in the page table). */
function unmappedIova(zip: HisiZip): number {
  const domain = iommu_get_domain_for_dev(zip.qm.pdev.dev as Device)!;
  for (let iova = 0x10_0000; ; iova += 0x1000) if (iommu_iova_to_phys(domain, iova) === 0) return iova;
}

/** How the armed mapping goes wrong. */
type Breakage =
  /** The SGE gets an IOVA the domain does not map (a corrupted SGL address). */
  | { kind: 'bad-address'; iova: number }
  /** The driver unmaps the buffer before the device used it (an early dma_unmap). */
  | { kind: 'early-unmap' };

/**
 * Compresses DATA with `tfm`. With `breakage`, the mapping of the buffer at CPU PA
 * `which` ('src' or 'dst') goes wrong before the SQE is sent: the qm bus ops are
 * wrapped for this request. Returns the errno or 'ok'/'mismatch', and the IOVA the
 * device was given for the broken buffer.
 */
function* compress(zip: HisiZip, tfm: CryptoAcomp, breakage?: { which: 'src' | 'dst'; how: Breakage; seen?: { iova: number } }): Generator<unknown, string, unknown> {
  const bus = qm_bus();
  const dev = zip.qm.pdev.dev;
  const src = bus.dma_alloc_coherent(dev, 16384)!;
  const dst = bus.dma_alloc_coherent(dev, 16384)!;
  let stale = -1;
  if (breakage) {
    const target = breakage.which === 'src' ? src.cpu : dst.cpu;
    set_qm_bus({
      ...bus,
      dma_map_single(d, pa, size, dir) {
        const iova = bus.dma_map_single(d, pa, size, dir);
        if (pa !== target || iova === DMA_MAPPING_ERROR) return iova;
        if (breakage.how.kind === 'bad-address') {
          bus.dma_unmap_single(d, iova, size, dir);
          stale = breakage.how.iova;
        } else {
          bus.dma_unmap_single(d, iova, size, dir);
          stale = iova;
        }
        if (breakage.seen) breakage.seen.iova = stale;
        return stale;
      },
      dma_unmap_single(d, iova, size, dir) {
        // the broken mapping is already gone
        if (iova === stale) return;
        bus.dma_unmap_single(d, iova, size, dir);
      },
    });
  }
  try {
    thisCpu().writePhys(src.cpu, DATA);
    const req = acomp_request_alloc(tfm);
    const w = new CryptoWait();
    acomp_request_set_callback(req, 0, crypto_req_done, w);
    acomp_request_set_params(req, sg_init_one(src.cpu, DATA.length), sg_init_one(dst.cpu, 16384), DATA.length, 16384);
    const r = yield* crypto_wait_req(crypto_acomp_compress(req), w);
    if (r < 0) return `${r}`;
    const z = new Uint8Array(req.dlen);
    thisCpu().readPhys(dst.cpu, z);
    const back = inflate(z);
    return back.length === DATA.length && back.every((b, i) => b === DATA[i]) ? 'ok' : 'mismatch';
  } finally {
    if (breakage) set_qm_bus(bus);
    bus.dma_free_coherent(dev, src);
    bus.dma_free_coherent(dev, dst);
  }
}

describe('ZIP DMA faults under translation: stall, ABORT for a DMA domain, error completion (IHI 0070 3.12.2, 4.7.2)', () => {
  it('a corrupted destination SGE address (unmapped IOVA) stalls, is aborted by the SMMU driver, and the request ends with -EIO; the device then works', () => {
    let log: SmmuLog | undefined;
    let bad = 0;
    const out: string[] = [];
    const b = bootZip({
      limitNs: 30e9,
      setup: (m) => (log = watchSmmu(m)),
      scenario: function* (zip) {
        const tfm = (yield* crypto_alloc_acomp('zlib-deflate')) as CryptoAcomp;
        bad = unmappedIova(zip);
        out.push(yield* compress(zip, tfm, { which: 'dst', how: { kind: 'bad-address', iova: bad } }));
        const iopf = iopf_stats();
        out.push(`reported=${iopf.reported} groups=${iopf.groups}`);
        yield* msleep(50);
        out.push(yield* compress(zip, tfm));
        out.push(`resets=${zip.qm.dfx.reset_cnt} err_bd=${zip.dfx.err_bd_cnt}`);
        return 0;
      },
    });
    expect(b.code).toBe(0);
    expect(out[0]).toBe(`${-EIO}`);
    // the PF has no iopf queue (IOPF is enabled only with SVA), so the IOMMU core takes
    // nothing and the SMMU driver answers the stall itself
    expect(out[1]).toBe('reported=0 groups=0');
    expect(out[2]).toBe('ok');
    expect(out[3]).toBe('resets=1 err_bd=1');
    // the SMMU stalled the write to the bad IOVA, recorded it, and was told to ABORT
    expect(log!.stalls).toBe(1);
    // on the page of the bad IOVA (the zlib header the driver wrote makes dskip 2)
    expect(log!.faultAddrs.map((a) => a - bad)).toEqual([2]);
    expect(log!.resumes).toEqual([0]);
    expect(b.handle.console).toContain('compress fail in qp');
    expect(b.stats.mapped).toBe(0);
  }, 60_000);

  it('a source buffer unmapped before the device reads it (driver bug) faults the read: aborted, -EIO, no hang', () => {
    let log: SmmuLog | undefined;
    let iova = 0;
    let mappedAfter = -1;
    const out: string[] = [];
    const b = bootZip({
      limitNs: 30e9,
      setup: (m) => (log = watchSmmu(m)),
      scenario: function* (zip) {
        const tfm = (yield* crypto_alloc_acomp('gzip')) as CryptoAcomp;
        const seen = { iova: 0 };
        out.push(yield* compress(zip, tfm, { which: 'src', how: { kind: 'early-unmap' }, seen }));
        iova = seen.iova;
        mappedAfter = iommu_iova_to_phys(iommu_get_domain_for_dev(zip.qm.pdev.dev as Device)!, iova);
        yield* msleep(50);
        out.push(yield* compress(zip, tfm));
        return 0;
      },
    });
    expect(b.code).toBe(0);
    expect(out).toEqual([`${-EIO}`, 'ok']);
    expect(iova).toBeGreaterThan(0);
    expect(mappedAfter).toBe(0);
    expect(log!.stalls).toBe(1);
    expect(log!.faultAddrs).toEqual([iova]);
    expect(log!.resumes).toEqual([0]);
  }, 60_000);
});

describe('the ZIP DMA domain page table (io-pgtable-arm through iommu_map)', () => {
  it('a 5 MiB run across three leaf tables maps every page to its PA in one call per page size; a clash with a mapped page maps nothing (-EEXIST) and unmap clears it all', () => {
    const out: string[] = [];
    const b = bootZip({
      scenario: function* (zip) {
        const domain = iommu_get_domain_for_dev(zip.qm.pdev.dev as Device)!;
        // above the DMA allocator's 32-bit space, starting 8 pages before a 2 MiB boundary
        const iova = 0x1_0020_0000 - 8 * 0x1000;
        const pa = 0x4800_0000;
        const size = 5 * 1024 * 1024;
        out.push(`map ${iommu_map(domain, iova, pa, size, IOMMU_READ | IOMMU_WRITE)}`);
        let wrong = 0;
        for (let off = 0; off < size; off += 0x1000) if (iommu_iova_to_phys(domain, iova + off + 0x10) !== pa + off + 0x10) wrong++;
        out.push(`wrong ${wrong}`);
        // a second mapping that runs from free IOVAs into the mapped run: refused, and the
        // 16 free pages it had filled are not left behind; the first run is untouched
        const clash = iova - 0x1_0000;
        out.push(`clash ${iommu_map(domain, clash, 0x5000_0000, 0x2_0000, IOMMU_READ)}`);
        out.push(`after-clash ${iommu_iova_to_phys(domain, clash)} ${iommu_iova_to_phys(domain, clash + 0xf000)} ${iommu_iova_to_phys(domain, iova).toString(16)}`);
        out.push(`unmap ${iommu_unmap(domain, iova, size)}`);
        let left = 0;
        for (let off = 0; off < size; off += 0x1000) if (iommu_iova_to_phys(domain, iova + off) !== 0) left++;
        out.push(`left ${left}`);
        return 0;
      },
    });
    expect(b.code).toBe(0);
    expect(out).toEqual(['map 0', 'wrong 0', 'clash -17', 'after-clash 0 0 48000000', `unmap ${5 * 1024 * 1024}`, 'left 0']);
  }, 60_000);
});
