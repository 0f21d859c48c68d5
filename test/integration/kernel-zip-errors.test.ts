// Error injection (machine.zip.inject, scheduled by the test in virtual time) against
// the driver's abnormal-interrupt, AEQ and controller-reset paths: each error is
// logged as Linux logs it, correctable ones are only cleared, the others reset the
// controller (master shutdown, vendor-ID handshake, FLR, re-init, qps restarted) and
// the device compresses correctly afterwards.
import { describe, expect, it } from 'vitest';
import { inflate } from 'pako';
import { bootZip } from './kernel-zip-harness.js';
import type { HisiZip } from '../../src/kernel/drivers/crypto/hisilicon/zip/zip-main.js';
import { thisCpu } from '../../src/arch/index.js';
import { msleep } from '../../src/kernel/time/sleep.js';
import { ktime_get } from '../../src/kernel/time/hrtimer.js';
import {
  CryptoWait,
  acomp_request_alloc,
  acomp_request_set_callback,
  acomp_request_set_params,
  crypto_acomp_compress,
  crypto_acomp_decompress,
  crypto_alloc_acomp,
  crypto_req_done,
  crypto_wait_req,
  crypto_free_acomp,
  crypto_acomp_algs,
  type CryptoAcomp,
} from '../../src/kernel/crypto/acompress.js';
import { pci_unregister_driver } from '../../src/kernel/drivers/pci/pci.js';
import { hisi_zip_pci_driver } from '../../src/kernel/drivers/crypto/hisilicon/zip/zip-main.js';
import { sg_init_one } from '../../src/kernel/crypto/scatterlist.js';
import { qm_bus } from '../../src/kernel/drivers/crypto/hisilicon/qm-bus.js';
import { sysfs_lookup } from '../../src/kernel/fs/sysfs/sysfs.js';
import { qm_qp_stop_words, QP_STOP } from '../../src/kernel/drivers/crypto/hisilicon/qm.js';
import type { ZipInjection } from '../../src/hw/zip/hisi-zip.js';

const DATA = new TextEncoder().encode('error injection round trip '.repeat(400));

function eq(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** compress + decompress DATA with `tfm`; returns 'ok', or the first errno. */
function* roundTrip(zip: HisiZip, tfm: CryptoAcomp, out?: { z?: Uint8Array }): Generator<unknown, string, unknown> {
  const bus = qm_bus();
  const dev = zip.qm.pdev.dev;
  const a = bus.dma_alloc_coherent(dev, 16384)!;
  const b = bus.dma_alloc_coherent(dev, 16384)!;
  const c = bus.dma_alloc_coherent(dev, 16384)!;
  try {
    const cpu = thisCpu();
    cpu.writePhys(a.cpu, DATA);
    const req = acomp_request_alloc(tfm);
    let w = new CryptoWait();
    acomp_request_set_callback(req, 0, crypto_req_done, w);
    acomp_request_set_params(req, sg_init_one(a.cpu, DATA.length), sg_init_one(b.cpu, 16384), DATA.length, 16384);
    let r = yield* crypto_wait_req(crypto_acomp_compress(req), w);
    if (r < 0) return `compress ${r}`;
    const clen = req.dlen;
    const z = new Uint8Array(clen);
    thisCpu().readPhys(b.cpu, z);
    if (out) out.z = z;
    w = new CryptoWait();
    acomp_request_set_callback(req, 0, crypto_req_done, w);
    acomp_request_set_params(req, sg_init_one(b.cpu, clen), sg_init_one(c.cpu, 16384), clen, 16384);
    r = yield* crypto_wait_req(crypto_acomp_decompress(req), w);
    if (r < 0) return `decompress ${r}`;
    const back = new Uint8Array(req.dlen);
    thisCpu().readPhys(c.cpu, back);
    return eq(back, DATA) ? 'ok' : 'mismatch';
  } finally {
    bus.dma_free_coherent(dev, a);
    bus.dma_free_coherent(dev, b);
    bus.dma_free_coherent(dev, c);
  }
}

interface Phase {
  at: number;
  what: ZipInjection;
}

function runPhases(phases: Phase[], body: (zip: HisiZip, log: string[], phase: number) => Generator<unknown, void, unknown>) {
  const log: string[] = [];
  const b = bootZip({
    setup: (m) => {
      for (const p of phases) m.clock.after(p.at, `inject ${p.what.kind}`, () => m.zip.inject(p.what));
    },
    scenario: function* (zip) {
      for (let i = 0; i < phases.length; i++) {
        const wait = (phases[i]!.at + 50e6 - ktime_get()) / 1e6;
        if (wait > 0) yield* msleep(wait);
        yield* body(zip, log, i);
      }
      return 0;
    },
  });
  return { ...b, log };
}

describe('hisi_zip error handling and controller reset (reference section 5)', () => {
  it('correctable errors (engine and QM 1-bit ECC) are logged and cleared without a reset', () => {
    let tfm: CryptoAcomp | undefined;
    const r = runPhases(
      [
        { at: 1e9, what: { kind: 'ecc-1bit' } },
        { at: 2e9, what: { kind: 'qm-ecc-1bit' } },
      ],
      function* (zip, log) {
        if (tfm === undefined) tfm = (yield* crypto_alloc_acomp('zlib-deflate')) as CryptoAcomp;
        log.push(yield* roundTrip(zip, tfm));
        log.push(`resets=${zip.qm.dfx.reset_cnt} abn=${zip.qm.dfx.abnormal_irq_cnt}`);
      },
    );
    expect(r.code).toBe(0);
    const con = r.handle.console;
    expect(con).toContain('hisi_zip 0000:00:01.0: zip_ecc_1bit_err [error status=0x1] found');
    expect(con).toContain('hisi_zip 0000:00:01.0: qm_ecc_1bit [error status=0x8] found');
    expect(con).not.toContain('Controller resetting');
    expect(r.log).toEqual(['ok', 'resets=0 abn=1', 'ok', 'resets=0 abn=2']);
    expect(r.stats.resets).toBe(0);
    expect(r.machine.zip.qm.abnormalSource).toBe(0);
  }, 60_000);

  it('non-fatal errors reset the controller (handshake, FLR, re-init) and running transforms work afterwards', () => {
    let tfm: CryptoAcomp | undefined;
    const r = runPhases(
      [
        { at: 1e9, what: { kind: 'qm-ecc-mbit' } },
        { at: 2e9, what: { kind: 'doorbell-timeout', doorbellType: 1 } },
        { at: 3e9, what: { kind: 'fifo-overflow', doorbellType: 2 } },
        { at: 4e9, what: { kind: 'ecc-mbit' } },
      ],
      function* (zip, log) {
        if (tfm === undefined) tfm = (yield* crypto_alloc_acomp('zlib-deflate')) as CryptoAcomp;
        const out: { z?: Uint8Array } = {};
        const rt = yield* roundTrip(zip, tfm, out);
        log.push(`${rt} resets=${zip.qm.dfx.reset_cnt} pako=${out.z ? eq(inflate(out.z), DATA) : false}`);
      },
    );
    expect(r.code).toBe(0);
    const con = r.handle.console;
    expect(con).toContain('qm_ecc_mbit [error status=0x4] found');
    expect(con).toContain('qm_db_timeout [error status=0x400] found');
    expect(con).toContain('qm CQ doorbell timeout in function 0');
    expect(con).toContain('qm_of_fifo_of [error status=0x800] found');
    expect(con).toContain('qm EQ fifo overflow in function 0');
    expect(con).toContain('zip_ecc_2bit_err [error status=0x2] found');
    expect(con).toContain('hisi-zip multi ecc sram num=0x2');
    expect(con.match(/Controller resetting\.\.\./g)?.length).toBe(4);
    expect(con.match(/Controller reset complete/g)?.length).toBe(4);
    expect(r.log).toEqual(['ok resets=1 pako=true', 'ok resets=2 pako=true', 'ok resets=3 pako=true', 'ok resets=4 pako=true']);
    expect(r.stats.resets).toBe(4);
  }, 60_000);

  it('db_random_invalid is reported (NFE, MSI 3) but needs no reset: logged, its source cleared and NFE reporting kept on (qm_reset_mask)', () => {
    let tfm: CryptoAcomp | undefined;
    const r = runPhases(
      [
        { at: 1e9, what: { kind: 'qm-abnormal', bit: 'db_random_invalid' } },
        { at: 2e9, what: { kind: 'qm-abnormal', bit: 'db_random_invalid' } },
      ],
      function* (zip, log) {
        if (tfm === undefined) tfm = (yield* crypto_alloc_acomp('zlib-deflate')) as CryptoAcomp;
        log.push(yield* roundTrip(zip, tfm));
        log.push(`resets=${zip.qm.dfx.reset_cnt} abn=${zip.qm.dfx.abnormal_irq_cnt}`);
      },
    );
    expect(r.code).toBe(0);
    const con = r.handle.console;
    expect(con.match(/qm_db_random_invalid \[error status=0x1000\] found/g)?.length).toBe(2);
    expect(con).not.toContain('Controller resetting');
    expect(r.log).toEqual(['ok', 'resets=0 abn=1', 'ok', 'resets=0 abn=2']);
    expect(r.stats.resets).toBe(0);
    expect(r.machine.zip.qm.abnormalSource).toBe(0);
  }, 60_000);

  it('an AXI error on a request ends it with -EIO, resets the controller, and the next request succeeds', () => {
    let tfm: CryptoAcomp | undefined;
    const r = runPhases([{ at: 1e9, what: { kind: 'axi' } }], function* (zip, log) {
      tfm = (yield* crypto_alloc_acomp('gzip')) as CryptoAcomp;
      log.push(yield* roundTrip(zip, tfm));
      yield* msleep(50);
      log.push(yield* roundTrip(zip, tfm));
      log.push(`resets=${zip.qm.dfx.reset_cnt} err_bd=${zip.dfx.err_bd_cnt}`);
    });
    expect(r.code).toBe(0);
    expect(r.log[0]).toBe('compress -5');
    expect(r.log[1]).toBe('ok');
    expect(r.log[2]).toBe('resets=1 err_bd=1');
    expect(r.handle.console).toContain('zip_axi_rresp_err [error status=0x4] found');
  }, 60_000);

  it('a CQ overflow (AEQE) stops that qp with the TX/RX stop words set; its request ends with -EIO; a new transform works', () => {
    const r = runPhases([{ at: 1e9, what: { kind: 'cq-overflow' } }], function* (zip, log) {
      const tfm = (yield* crypto_alloc_acomp('zlib-deflate')) as CryptoAcomp;
      log.push(yield* roundTrip(zip, tfm));
      const stopped = zip.qm.qps.filter((q) => q.status === QP_STOP);
      log.push(`stopped=${stopped.length} words=${stopped.map((q) => JSON.stringify(qm_qp_stop_words(q))).join(',')}`);
      log.push(yield* roundTrip(zip, tfm));
      const fresh = (yield* crypto_alloc_acomp('zlib-deflate')) as CryptoAcomp;
      log.push(yield* roundTrip(zip, fresh));
    });
    expect(r.code).toBe(0);
    expect(r.handle.console).toMatch(/cq overflow, stop qp\(\d+\)/);
    expect(r.log[0]).toBe('compress -5');
    expect(r.log[1]).toBe('stopped=1 words={"tx":1,"rx":1}');
    expect(r.log[2]).toBe('compress -11');
    expect(r.log[3]).toBe('ok');
  }, 60_000);
});

describe('bad input and driver removal', () => {
  it('corrupt compressed data ends with -EIO (the engine status), a bad header with -EINVAL, and the device keeps working', () => {
    const log: string[] = [];
    const b = bootZip({
      scenario: function* (zip) {
        const bus = qm_bus();
        const dev = zip.qm.pdev.dev;
        const src = bus.dma_alloc_coherent(dev, 4096)!;
        const dst = bus.dma_alloc_coherent(dev, 65536)!;
        const tfm = (yield* crypto_alloc_acomp('zlib-deflate')) as CryptoAcomp;
        const req = acomp_request_alloc(tfm);
        let x = 12345;
        const junk = new Uint8Array(2048).map(() => ((x = (x * 1103515245 + 12345) >>> 0) >>> 24) & 0xff);
        junk[0] = 0x78;
        junk[1] = 0x9c;
        junk[2] = 0xff; // BTYPE 11: reserved block type
        for (const [what, bytes] of [
          ['corrupt', junk],
          ['bad-header', new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3])],
        ] as const) {
          thisCpu().writePhys(src.cpu, bytes);
          const w = new CryptoWait();
          acomp_request_set_callback(req, 0, crypto_req_done, w);
          acomp_request_set_params(req, sg_init_one(src.cpu, bytes.length), sg_init_one(dst.cpu, 65536), bytes.length, 65536);
          log.push(`${what} ${yield* crypto_wait_req(crypto_acomp_decompress(req), w)}`);
        }
        log.push(yield* roundTrip(zip, tfm));
        return 0;
      },
    });
    expect(b.code).toBe(0);
    expect(log).toEqual(['corrupt -5', 'bad-header -22', 'ok']);
    expect(b.handle.console).toMatch(/hisi_zip 0000:00:01\.0: decompress fail in qp\d+: \d+ /);
  }, 60_000);

  it('unbinding the driver stops the QM and frees every coherent buffer, vector, algorithm and debug file', () => {
    let after = '';
    const b = bootZip({
      scenario: function* (zip) {
        const tfm = (yield* crypto_alloc_acomp('gzip')) as CryptoAcomp;
        yield* roundTrip(zip, tfm);
        yield* crypto_free_acomp(tfm);
        const dir = zip.qm.debugDir;
        const files = ['qm/regs', 'qm/current_q', 'current_qm', 'zip_dfx/send_cnt', 'selftest', 'clear_enable', 'comp_core0/regs'];
        const before = files.filter((f) => sysfs_lookup(`${dir}/${f}`) !== undefined).length;
        yield* pci_unregister_driver(hisi_zip_pci_driver);
        after = `qm=${zip.qm.status} algs=${crypto_acomp_algs().length} irqs=${zip.qm.irqs.length} debug=${before}->${sysfs_lookup(dir) === undefined ? 'gone' : 'left'}`;
        return 0;
      },
    });
    expect(b.code).toBe(0);
    expect(after).toBe('qm=2 algs=0 irqs=0 debug=7->gone');
    expect(b.stats.coherentLive).toBe(0);
    expect(b.stats.mapped).toBe(0);
  }, 60_000);
});
