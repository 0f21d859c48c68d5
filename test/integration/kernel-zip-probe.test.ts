import { describe, expect, it } from 'vitest';
import { bootZip } from './kernel-zip-harness.js';
import { thisCpu } from '../../src/arch/index.js';
import { qm_bus } from '../../src/kernel/drivers/crypto/hisilicon/qm-bus.js';
import { sysfs_lookup } from '../../src/kernel/fs/sysfs/sysfs.js';
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
import { inflate } from 'pako';
import type { HisiQp } from '../../src/kernel/drivers/crypto/hisilicon/qm.js';

describe('hisi_zip probe on the board (PCI core, ITS MSIs, DMA API; scenario in PID 1)', () => {
  it('the Huawei quirk marks the enumerated PF: pasid_no_tlp and the dma-can-stall device property', () => {
    let seen = '';
    const b = bootZip({
      scenario: function* (zip) {
        const pci = (zip.qm.pdev as unknown as { pci: { pasid_no_tlp: boolean; properties?: Map<string, unknown> } }).pci;
        seen = `${pci.pasid_no_tlp} ${String(pci.properties?.get('dma-can-stall'))}`;
        return 0;
      },
    });
    expect(b.code).toBe(0);
    expect(seen).toBe('true true');
  }, 60_000);

  it('probe brings the QM up, registers zlib/gzip/deflate and the self-test passes through the device', () => {
    const b = bootZip({});
    expect(b.code).toBe(0);
    const con = b.handle.console;
    // the PF sits in a translated DMA domain (its MSIs reach the ITS through the SW_MSI window)
    expect(con).toContain('iommu: Default domain type: Translated');
    expect(con).toContain('hisi_zip 0000:00:01.0: qm start with 64 queue pairs');
    expect(con).toMatch(/self-test passed: zlib-deflate 8192->\d+->8192, gzip 8192->\d+->8192, deflate 8192->\d+->8192/);
    // The engine did the work: its per-core DFX counters moved (3 compressions, 3 decompressions).
    const zip = b.machine.zip;
    const bds = zip.engine.cores.reduce((n, c) => n + c.bdCount, 0);
    expect(bds).toBe(6);
  }, 60_000);
});


describe('module parameters, debug files and phase-bit laps', () => {
  it('hisi_zip.pf_q_num=16 on the command line gives the PF 16 queue pairs (VFT and qp table), shown in /sys/module', () => {
    let shown = '';
    const b = bootZip({
      args: 'console=ttyAMA0 hisi_zip.pf_q_num=16',
      scenario: function* (zip) {
        const n = sysfs_lookup('module/hisi_zip/parameters/pf_q_num');
        shown = n?.show ? String(n.show()) : '';
        return zip.qm.qps.length === 16 ? 0 : 1;
      },
    });
    expect(b.code).toBe(0);
    expect(b.handle.console).toContain('qm start with 16 queue pairs');
    expect(shown).toBe('16\n');
  }, 60_000);

  it('2600 requests on one qp pair: the CQ wraps twice and the EQ once (phase flips), every request completes with correct output', () => {
    const data = new TextEncoder().encode('phase bit lap '.repeat(20));
    let bad = -1;
    let phases = '';
    const b = bootZip({
      limitNs: 3600e9,
      scenario: function* (zip) {
        const bus = qm_bus();
        const dev = zip.qm.pdev.dev;
        const src = bus.dma_alloc_coherent(dev, 4096)!;
        const dst = bus.dma_alloc_coherent(dev, 8192)!;
        thisCpu().writePhys(src.cpu, data);
        const tfm = (yield* crypto_alloc_acomp('zlib-deflate')) as CryptoAcomp;
        const req = acomp_request_alloc(tfm);
        for (let i = 0; i < 2600; i++) {
          const w = new CryptoWait();
          acomp_request_set_callback(req, 0, crypto_req_done, w);
          acomp_request_set_params(req, sg_init_one(src.cpu, data.length), sg_init_one(dst.cpu, 8192), data.length, 8192);
          const r = yield* crypto_wait_req(crypto_acomp_compress(req), w);
          const z = new Uint8Array(req.dlen);
          thisCpu().readPhys(dst.cpu, z);
          if (r !== 0 || inflate(z).length !== data.length) {
            bad = i;
            break;
          }
        }
        const qp = (tfm.ctx as { qp_ctx: { qp: HisiQp }[] }).qp_ctx[0]!.qp;
        phases = `cq_head=${qp.cq_head} cqc_phase=${qp.cqc_phase} eq_head=${zip.qm.eq_head} eqc_phase=${zip.qm.eqc_phase}`;
        return 0;
      },
    });
    expect(b.code).toBe(0);
    expect(bad).toBe(-1);
    // 2600 = 2 * 1024 + 552 CQEs; the EQ saw 2600 + the probe self-test's 6 EQEs = 2606 = 2048 + 558.
    expect(phases).toBe('cq_head=552 cqc_phase=1 eq_head=558 eqc_phase=0');
  }, 300_000);

  it('debug files: QM dfx counters and the zip send/recv counters follow the traffic', () => {
    const files: Record<string, string> = {};
    const b = bootZip({
      scenario: function* (zip) {
        for (const f of ['qm/qm_state', 'qm/status', 'zip_dfx/send_cnt', 'zip_dfx/recv_cnt', 'zip_dfx/err_bd_cnt', 'qm/regs']) {
          const n = sysfs_lookup(`${zip.qm.debugDir}/${f}`);
          files[f] = n?.show ? String(n.show()) : '';
        }
        return 0;
      },
    });
    expect(b.code).toBe(0);
    expect(files['qm/qm_state']).toBe('start\n');
    expect(files['zip_dfx/send_cnt']).toBe('6\n');
    expect(files['zip_dfx/recv_cnt']).toBe('6\n');
    expect(files['zip_dfx/err_bd_cnt']).toBe('0\n');
    expect(files['qm/status']).toContain('eq_irq_cnt: ');
    expect(files['qm/regs']).toMatch(/QM_DFX_SQE_CNT = 0x[0-9a-f]{8}\n/);
  }, 60_000);

  it('zip debug files: <core>/regs show each core\'s GET/DONE_BD_NUM and byte counters; clear_enable (HZIP_SOFT_CTRL_CNT_CLR_CE) makes them read-clear (Linux hisi_zip debugfs)', () => {
    const log: string[] = [];
    const b = bootZip({
      scenario: function* (zip) {
        const dir = zip.qm.debugDir;
        const node = (f: string) => sysfs_lookup(`${dir}/${f}`)!;
        const regs = (core: string): Record<string, number> =>
          Object.fromEntries(String(node(`${core}/regs`).show!()).trim().split('\n').map((l) => { const [k, v] = l.split(' = '); return [k!, Number.parseInt(v!, 16)]; }));
        const cores = ['comp_core0', 'comp_core1', 'decomp_core0', 'decomp_core1', 'decomp_core2', 'decomp_core3', 'decomp_core4', 'decomp_core5'];
        const sum = (k: string, names: string[]): number => names.reduce((n, c) => n + regs(c)[k]!, 0);
        // The probe's self-test: 3 compressions and 3 decompressions of 8 KiB.
        log.push(`comp get=${sum('GET_BD_NUM', cores.slice(0, 2))} done=${sum('DONE_BD_NUM', cores.slice(0, 2))} consumed=${sum('CONSUMED_BYTE', cores.slice(0, 2))}`);
        log.push(`decomp get=${sum('GET_BD_NUM', cores.slice(2))} produced=${sum('PRODUCED_BYTE', cores.slice(2))}`);
        const ce = node('clear_enable');
        log.push(`clear_enable=${String(ce.show!()).trim()} set=${ce.store!('1\n')} now=${String(ce.show!()).trim()}`);
        log.push(`first=${sum('DONE_BD_NUM', cores)} then=${sum('DONE_BD_NUM', cores)}`);
        log.push(`bad=${ce.store!('2')},${ce.store!('x')} off=${ce.store!('0')}`);
        return 0;
      },
    });
    expect(b.code).toBe(0);
    expect(log).toEqual(['comp get=3 done=3 consumed=24576', 'decomp get=3 produced=24576', 'clear_enable=0 set=0 now=1', 'first=6 then=0', 'bad=-22,-22 off=0']);
  }, 60_000);

  it('debug files current_qm, qm/current_q, qm/clear_enable select the function and queue the QM counters in qm/regs show, and make them read-clear (Linux qm debugfs)', () => {
    const log: string[] = [];
    const b = bootZip({
      scenario: function* (zip) {
        const dir = zip.qm.debugDir;
        const node = (f: string) => sysfs_lookup(`${dir}/${f}`)!;
        const show = (f: string): string => String(node(f).show!());
        const store = (f: string, text: string): number => node(f).store!(text) as number;
        const count = (reg: string): number => Number.parseInt(/= 0x([0-9a-f]{8})/.exec(show('qm/regs').split('\n').find((l) => l.startsWith(`${reg} `))!)![1]!, 16);
        const tfm = (yield* crypto_alloc_acomp('zlib-deflate')) as CryptoAcomp;
        const qp = (tfm.ctx as { qp_ctx: { qp: HisiQp }[] }).qp_ctx[0]!.qp;
        const bus = qm_bus();
        const dev = zip.qm.pdev.dev;
        const src = bus.dma_alloc_coherent(dev, 4096)!;
        const dst = bus.dma_alloc_coherent(dev, 8192)!;
        thisCpu().writePhys(src.cpu, new TextEncoder().encode('debug counters '.repeat(200)));
        const dqp = (tfm.ctx as { qp_ctx: { qp: HisiQp }[] }).qp_ctx[1]!.qp;
        log.push(`select ${store('qm/current_q', `${qp.qp_id}\n`)} same=${show('qm/current_q') === `${qp.qp_id}\n`}`);
        const before = count('QM_DFX_SQE_CNT');
        store('qm/current_q', `${dqp.qp_id}`);
        const otherBefore = count('QM_DFX_SQE_CNT');
        store('qm/current_q', `${qp.qp_id}`);
        for (let i = 0; i < 3; i++) {
          const req = acomp_request_alloc(tfm);
          const w = new CryptoWait();
          acomp_request_set_callback(req, 0, crypto_req_done, w);
          acomp_request_set_params(req, sg_init_one(src.cpu, 3000), sg_init_one(dst.cpu, 8192), 3000, 8192);
          yield* crypto_wait_req(crypto_acomp_compress(req), w);
        }
        log.push(`sqe+${count('QM_DFX_SQE_CNT') - before} cqe>=${count('QM_DFX_CQE_CNT') >= 3}`);
        // The decompression qp of the same transform fetched none of them.
        store('qm/current_q', `${dqp.qp_id}`);
        log.push(`other+${count('QM_DFX_SQE_CNT') - otherBefore}`);
        store('qm/current_q', `${qp.qp_id}`);
        log.push(`clear ${store('qm/clear_enable', '1')} ${show('qm/clear_enable').trim()}`);
        const first = count('QM_DFX_SQE_CNT');
        log.push(`read-clear ${first > 0} then ${count('QM_DFX_SQE_CNT')}`);
        store('qm/clear_enable', '0');
        log.push(`errors ${store('current_qm', '1')} ${store('qm/current_q', `${zip.qm.qp_num}`)} ${store('qm/current_q', 'x')} ${store('qm/clear_enable', '2')} ${store('current_qm', '0')} current_qm=${show('current_qm').trim()}`);
        bus.dma_free_coherent(dev, src);
        bus.dma_free_coherent(dev, dst);
        return 0;
      },
    });
    expect(b.code).toBe(0);
    expect(log).toEqual(['select 0 same=true', 'sqe+3 cqe>=true', 'other+0', 'clear 0 1', 'read-clear true then 0', 'errors -22 -22 -14 -22 0 current_qm=0']);
  }, 60_000);
});
