// hisi_zip: the PCI driver of the HiSilicon ZIP engine (Linux zip/zip_main.c in
// shape, PF on QM v2). Probe brings up the QM, the engine's user-domain, cache and
// clock-gate registers and its error reporting, starts the QM, registers the acomp
// algorithms, runs a self-test through the device and creates /dev/hisi_zip_k.
//
// Module parameters (kernel command line "hisi_zip.<name>=<value>", shown in
// /sys/module/hisi_zip/parameters): pf_q_num (queues of the PF, 1-1024, default 64),
// uacce_mode (0 kernel only, 1 also uacce; default 0), sgl_sge_nr (SGEs per hardware
// SGL, 1-255, default 10), vfio_mdev (1: the function is also an mdev parent whose
// mdevs are queues, zip-mdev.ts; not with uacce SVA; default 0).

import { pr_err, pr_info } from '../../../../lib/printk.js';
import { EINVAL, ENODEV } from '../../../../lib/errno.js';
import { sysfs_create_file } from '../../../../fs/sysfs/sysfs.js';
import { boot_params } from '../../../../init/main.js';
import {
  CryptoWait,
  acomp_request_alloc,
  acomp_request_free,
  acomp_request_set_callback,
  acomp_request_set_params,
  crypto_acomp_compress,
  crypto_acomp_decompress,
  crypto_alloc_acomp,
  crypto_free_acomp,
  crypto_req_done,
  crypto_wait_req,
  CRYPTO_TFM_REQ_MAY_BACKLOG,
} from '../../../../crypto/acompress.js';
import { sg_init_one } from '../../../../crypto/scatterlist.js';
import { thisCpu } from '../../../../../arch/index.js';
import { HisiQm, hisi_qm_debug_init, hisi_qm_debug_uninit, hisi_qm_init, hisi_qm_start, hisi_qm_stop, hisi_qm_uninit, hisi_qm_dev_err_init, QM_NORMAL, readl, writel, type HisiQmErrIni } from '../qm.js';
import { qm_bus, qm_bus_bound, set_qm_bus, type HisiPciDev } from '../qm-bus.js';
import { QmPciDev, qm_pci_bus_ops } from '../qm-pci.js';
import { pci_register_driver, type PciDev, type PciDriver } from '../../../pci/pci.js';
import { device_initcall } from '../../../../init/initcall.js';
import '../../../pci/quirks-huawei.js';
import * as R from '../qm-regs.js';
import { HZIP_SQE_SIZE } from './zip-sqe.js';
import { hisi_zip_crypto_reset, hisi_zip_register_device, hisi_zip_register_to_crypto, hisi_zip_unregister_device, hisi_zip_unregister_from_crypto, type HisiZipDev, type HisiZipDfx } from './zip-crypto.js';
import { zipk_register, zipk_reset_state, zipk_unregister } from './zipk.js';
import { qm_register_uacce, qm_remove_uacce } from '../qm-uacce.js';
import { hisi_zip_mdev_register, hisi_zip_mdev_reset_state, hisi_zip_mdev_unregister } from './zip-mdev.js';

export const PCI_DEVICE_ID_HUAWEI_ZIP_PF = 0xa250;
export const PCI_DEVICE_ID_HUAWEI_ZIP_VF = 0xa251;
export const HZIP_PF_DEF_Q_NUM = 64;
export const HZIP_SGL_SGE_NR = 10;

// ZIP registers (BAR2)
export const HZIP_SOFT_CTRL_CNT_CLR_CE = 0x301000;
export const HZIP_CLOCK_GATE_CTRL = 0x301004;
export const HZIP_DECOMP_CHECK_ENABLE = 1 << 16;
/** comp0-1 and decomp0-5 enables (bits 0-7). */
export const HZIP_ALL_COMP_DECOMP_EN = 0xff;
export const HZIP_SOFT_CTRL_ZIP_CONTROL = 0x30100c;
export const HZIP_AXI_SHUTDOWN_ENABLE = 1 << 14;
export const HZIP_PORT_ARCA_CHE_0 = 0x301040;
export const HZIP_PORT_ARCA_CHE_1 = 0x301044;
export const HZIP_PORT_AWCA_CHE_0 = 0x301060;
export const HZIP_PORT_AWCA_CHE_1 = 0x301064;
export const HZIP_CACHE_ALL_EN = 0xffffffff;
export const HZIP_CORE_INT_SOURCE = 0x3010a0;
export const HZIP_CORE_INT_MASK_REG = 0x3010a4;
export const HZIP_CORE_INT_SET = 0x3010a8;
export const HZIP_CORE_INT_STATUS = 0x3010ac;
export const HZIP_BD_RUSER_32_63 = 0x301110;
export const HZIP_SGL_RUSER_32_63 = 0x30111c;
export const HZIP_DATA_RUSER_32_63 = 0x301128;
export const HZIP_DATA_WUSER_32_63 = 0x301134;
export const HZIP_BD_WUSER_32_63 = 0x301140;
export const HZIP_SRAM_ECC_ERR_INFO = 0x301148;
export const HZIP_CORE_INT_RAS_CE_ENB = 0x301160;
export const HZIP_CORE_INT_RAS_NFE_ENB = 0x301164;
export const HZIP_CORE_INT_RAS_FE_ENB = 0x301168;
/** v2 core error bits 0-10 (ecc_1bit .. pre_out). */
export const HZIP_CORE_INT_MASK_ALL = 0x7ff;
export const HZIP_CORE_INT_RAS_CE_ENABLE = 0x1;
export const HZIP_CORE_INT_RAS_NFE_ENABLE = 0x7fe;

// AXUSER (zip_main.c): snoop, SMMU normal command type, NS/NO/FP; SSV marks a substream.
export const AXUSER_BASE = (1 << 30) | (1 << 12) | (1 << 6) | (1 << 5) | (1 << 4);
export const AXUSER_SSV = 1 << 0;
const QM_AXI_M_CFG = 0x1000ac;
const AXI_M_CFG = 0xffff;
const QM_AXI_M_CFG_ENABLE = 0x1000b0;
const QM_PEH_AXUSER_CFG = 0x1000cc;
const QM_PEH_AXUSER_CFG_ENABLE = 0x1000d0;
const PEH_AXUSER_CFG = 0x401001;

/** zip_hw_error[]: the engine's error bits and Linux's messages. */
export const ZIP_HW_ERRORS: readonly { readonly bit: number; readonly msg: string }[] = [
  { bit: 0, msg: 'zip_ecc_1bit_err' },
  { bit: 1, msg: 'zip_ecc_2bit_err' },
  { bit: 2, msg: 'zip_axi_rresp_err' },
  { bit: 3, msg: 'zip_axi_bresp_err' },
  { bit: 4, msg: 'zip_src_addr_parse_err' },
  { bit: 5, msg: 'zip_dst_addr_parse_err' },
  { bit: 6, msg: 'zip_pre_in_addr_err' },
  { bit: 7, msg: 'zip_pre_in_data_err' },
  { bit: 8, msg: 'zip_com_inf_err' },
  { bit: 9, msg: 'zip_enc_inf_err' },
  { bit: 10, msg: 'zip_pre_out_err' },
];

export interface HisiZipParams {
  pf_q_num: number;
  uacce_mode: number;
  sgl_sge_nr: number;
  vfio_mdev: number;
}

/** Reads hisi_zip.* from the kernel command line (module_param_cb checks included). */
export function hisi_zip_params(cmdline: string): HisiZipParams | string {
  const p: HisiZipParams = { pf_q_num: HZIP_PF_DEF_Q_NUM, uacce_mode: 0, sgl_sge_nr: HZIP_SGL_SGE_NR, vfio_mdev: 0 };
  for (const w of cmdline.split(/\s+/)) {
    const m = /^hisi_zip\.([a-z_]+)=(.*)$/.exec(w);
    if (m === null) continue;
    const v = Number.parseInt(m[2]!, 10);
    switch (m[1]) {
      case 'pf_q_num':
        if (!(v >= 2 && v <= R.QM_QNUM_V2)) return `pf_q_num ${m[2]} out of range (2-${R.QM_QNUM_V2})`;
        p.pf_q_num = v;
        break;
      case 'uacce_mode':
        if (v !== 0 && v !== 1) return `uacce_mode ${m[2]} must be 0 or 1`;
        p.uacce_mode = v;
        break;
      case 'vfio_mdev':
        if (v !== 0 && v !== 1) return `vfio_mdev ${m[2]} must be 0 or 1`;
        p.vfio_mdev = v;
        break;
      case 'sgl_sge_nr':
        if (!(v >= 1 && v <= 255)) return `sgl_sge_nr ${m[2]} out of range (1-255)`;
        p.sgl_sge_nr = v;
        break;
      default:
        return `unknown parameter '${m[1]}'`;
    }
  }
  return p;
}

export class HisiZip implements HisiZipDev {
  readonly dfx: HisiZipDfx = { send_cnt: 0, recv_cnt: 0, send_busy_cnt: 0, err_bd_cnt: 0 };
  selftest = '';
  /** The device serves the kernel's acomp algorithms (not on v2 in uacce SVA mode). */
  crypto = false;
  constructor(
    readonly qm: HisiQm,
    readonly sgl_sge_nr: number,
  ) {}
}

/** hisi_zip_set_user_domain_and_cache + the clock gates and SQC/CQC write-back. */
function hisi_zip_set_user_domain_and_cache(qm: HisiQm): number {
  const useSva = qm.use_sva && qm.ver === R.QM_HW_V2;
  writel(qm, R.QM_ARUSER_M_CFG_1, AXUSER_BASE);
  writel(qm, R.QM_ARUSER_M_CFG_ENABLE, 0xfffffffe);
  writel(qm, R.QM_AWUSER_M_CFG_1, AXUSER_BASE);
  writel(qm, R.QM_AWUSER_M_CFG_ENABLE, 0xfffffffe);
  writel(qm, R.QM_WUSER_M_CFG_ENABLE, 0xffffffff);
  writel(qm, QM_AXI_M_CFG, AXI_M_CFG);
  writel(qm, QM_AXI_M_CFG_ENABLE, 0xffffffff);
  writel(qm, QM_PEH_AXUSER_CFG, PEH_AXUSER_CFG);
  writel(qm, QM_PEH_AXUSER_CFG_ENABLE, 0xffffffff);
  writel(qm, HZIP_PORT_ARCA_CHE_0, HZIP_CACHE_ALL_EN);
  writel(qm, HZIP_PORT_ARCA_CHE_1, HZIP_CACHE_ALL_EN);
  writel(qm, HZIP_PORT_AWCA_CHE_0, HZIP_CACHE_ALL_EN);
  writel(qm, HZIP_PORT_AWCA_CHE_1, HZIP_CACHE_ALL_EN);
  writel(qm, HZIP_BD_RUSER_32_63, AXUSER_BASE);
  writel(qm, HZIP_BD_WUSER_32_63, AXUSER_BASE);
  const data = useSva ? AXUSER_BASE | AXUSER_SSV : AXUSER_BASE;
  writel(qm, HZIP_DATA_RUSER_32_63, data);
  writel(qm, HZIP_DATA_WUSER_32_63, data);
  writel(qm, HZIP_SGL_RUSER_32_63, data);
  writel(qm, HZIP_CLOCK_GATE_CTRL, HZIP_DECOMP_CHECK_ENABLE | HZIP_ALL_COMP_DECOMP_EN);
  writel(qm, R.QM_CACHE_CTL, R.QM_CACHE_CTL_V2);
  return 0;
}

export const hisi_zip_err_ini: HisiQmErrIni = {
  hw_init: hisi_zip_set_user_domain_and_cache,
  hw_err_enable(qm) {
    writel(qm, HZIP_CORE_INT_SOURCE, HZIP_CORE_INT_MASK_ALL);
    writel(qm, HZIP_CORE_INT_RAS_CE_ENB, HZIP_CORE_INT_RAS_CE_ENABLE);
    writel(qm, HZIP_CORE_INT_RAS_FE_ENB, 0);
    writel(qm, HZIP_CORE_INT_RAS_NFE_ENB, HZIP_CORE_INT_RAS_NFE_ENABLE);
    writel(qm, HZIP_CORE_INT_MASK_REG, 0);
    // hisi_zip_master_ooo_ctrl: a multi-bit ECC error shuts the AXI master down.
    writel(qm, HZIP_SOFT_CTRL_ZIP_CONTROL, readl(qm, HZIP_SOFT_CTRL_ZIP_CONTROL) | HZIP_AXI_SHUTDOWN_ENABLE);
  },
  hw_err_disable(qm) {
    writel(qm, HZIP_CORE_INT_MASK_REG, HZIP_CORE_INT_MASK_ALL);
    writel(qm, HZIP_SOFT_CTRL_ZIP_CONTROL, readl(qm, HZIP_SOFT_CTRL_ZIP_CONTROL) & ~HZIP_AXI_SHUTDOWN_ENABLE);
  },
  get_dev_hw_err_status: (qm) => readl(qm, HZIP_CORE_INT_STATUS),
  clear_dev_hw_err_status: (qm, err) => writel(qm, HZIP_CORE_INT_SOURCE, err),
  disable_error_report: (qm, err) => writel(qm, HZIP_CORE_INT_RAS_NFE_ENB, HZIP_CORE_INT_RAS_NFE_ENABLE & ~err),
  enable_error_report(qm) {
    writel(qm, HZIP_CORE_INT_RAS_NFE_ENB, HZIP_CORE_INT_RAS_NFE_ENABLE);
    writel(qm, HZIP_CORE_INT_RAS_CE_ENB, HZIP_CORE_INT_RAS_CE_ENABLE);
  },
  log_dev_hw_err(qm, err) {
    for (const e of ZIP_HW_ERRORS) {
      if ((err & (1 << e.bit)) === 0) continue;
      pr_err(`${qm.name}: ${e.msg} [error status=0x${(1 << e.bit).toString(16)}] found`);
      if (e.bit === 1) pr_err(`${qm.name}: hisi-zip multi ecc sram num=0x${readl(qm, HZIP_SRAM_ECC_ERR_INFO).toString(16)}`);
    }
  },
  dev_reset_mask: HZIP_CORE_INT_RAS_NFE_ENABLE,
};

const probed: HisiZip[] = [];

export function hisi_zip_devices(): readonly HisiZip[] {
  return probed;
}

/** A known buffer: text with repeats (compressible) followed by pseudo-random bytes. */
function selftest_data(): Uint8Array {
  const b = new Uint8Array(8192);
  const text = new TextEncoder().encode('svasoc hisi_zip self-test: the quick brown fox jumps over the lazy dog. ');
  for (let i = 0; i < 6144; i++) b[i] = text[i % text.length]!;
  let x = 0x2545f491;
  for (let i = 6144; i < b.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/**
 * The probe-time self-test: compress a known buffer through the device with each
 * algorithm, decompress it again and compare. Returns 0 or -errno.
 */
export function* hisi_zip_selftest(zip: HisiZip): Generator<unknown, number, unknown> {
  const bus = qm_bus();
  const dev = zip.qm.pdev.dev;
  const data = selftest_data();
  const bufs = [bus.dma_alloc_coherent(dev, 16384), bus.dma_alloc_coherent(dev, 16384), bus.dma_alloc_coherent(dev, 16384)];
  if (bufs.some((b) => b === null)) return -12;
  const [a, b, c] = bufs as [NonNullable<(typeof bufs)[0]>, NonNullable<(typeof bufs)[0]>, NonNullable<(typeof bufs)[0]>];
  const cpu = thisCpu();
  const report: string[] = [];
  let err = 0;
  try {
    for (const name of ['hisi-zlib-acomp', 'hisi-gzip-acomp', 'hisi-deflate-acomp']) {
      cpu.writePhys(a.cpu, data);
      const tfm = yield* crypto_alloc_acomp(name);
      if (typeof tfm === 'number') return tfm;
      try {
        const wait = new CryptoWait();
        const req = acomp_request_alloc(tfm);
        acomp_request_set_callback(req, CRYPTO_TFM_REQ_MAY_BACKLOG, crypto_req_done, wait);
        acomp_request_set_params(req, sg_init_one(a.cpu, data.length), sg_init_one(b.cpu, 16384), data.length, 16384);
        let r = yield* crypto_wait_req(crypto_acomp_compress(req), wait);
        const clen = req.dlen;
        if (r === 0) {
          const wait2 = new CryptoWait();
          acomp_request_set_callback(req, CRYPTO_TFM_REQ_MAY_BACKLOG, crypto_req_done, wait2);
          acomp_request_set_params(req, sg_init_one(b.cpu, clen), sg_init_one(c.cpu, 16384), clen, 16384);
          r = yield* crypto_wait_req(crypto_acomp_decompress(req), wait2);
        }
        acomp_request_free(req);
        if (r === 0 && req.dlen !== data.length) r = -EINVAL;
        if (r === 0) {
          const back = new Uint8Array(data.length);
          cpu.readPhys(c.cpu, back);
          for (let i = 0; i < back.length; i++) if (back[i] !== data[i]) r = -EINVAL;
        }
        if (r < 0) {
          err = r;
          report.push(`${tfm.alg.cra_name} FAILED (${r})`);
        } else report.push(`${tfm.alg.cra_name} ${data.length}->${clen}->${data.length}`);
      } finally {
        yield* crypto_free_acomp(tfm);
      }
    }
  } finally {
    for (const m of bufs) if (m) bus.dma_free_coherent(dev, m);
  }
  zip.selftest = report.join(', ');
  if (err < 0) pr_err(`${zip.qm.name}: self-test failed: ${zip.selftest}`);
  else pr_info(`${zip.qm.name}: self-test passed: ${zip.selftest}`);
  return err;
}

function hisi_zip_debugfs_init(zip: HisiZip): void {
  hisi_qm_debug_init(zip.qm);
  const dir = `${zip.qm.debugDir}/zip_dfx`;
  for (const k of Object.keys(zip.dfx) as (keyof HisiZipDfx)[]) sysfs_create_file(dir, k, () => `${zip.dfx[k]}\n`);
  sysfs_create_file(zip.qm.debugDir, 'selftest', () => `${zip.selftest}\n`);
  hisi_zip_ctrl_debug_init(zip);
}

/** Per-core DFX registers dumped in <core>/regs (hzip_dfx_regs: the ones this device implements). */
const HZIP_DFX_REGS: readonly [string, number][] = [
  ['GET_BD_NUM', 0x00],
  ['DONE_BD_NUM', 0x0c],
  ['CONSUMED_BYTE', 0x38],
  ['PRODUCED_BYTE', 0x40],
];
const HZIP_CORE_DFX_BASE = 0x302000;
const HZIP_CORE_DFX_STRIDE = 0x1000;
const HZIP_CORE_NAMES = ['comp_core0', 'comp_core1', 'decomp_core0', 'decomp_core1', 'decomp_core2', 'decomp_core3', 'decomp_core4', 'decomp_core5'];

/**
 * hisi_zip_ctrl_debug_init / hisi_zip_core_debug_init (PF): clear_enable turns the
 * engine's DFX counters read-clear (HZIP_SOFT_CTRL_CNT_CLR_CE bit 0; 0 or 1, else
 * -EINVAL); <core>/regs dumps each core's counters.
 */
function hisi_zip_ctrl_debug_init(zip: HisiZip): void {
  const qm = zip.qm;
  const dir = qm.debugDir;
  sysfs_create_file(
    dir,
    'clear_enable',
    () => `${readl(qm, HZIP_SOFT_CTRL_CNT_CLR_CE) & 1}\n`,
    (text) => {
      // kstrtoul(buf, 0): its -EINVAL for a bad number, as the current driver returns it.
      const t = text.endsWith('\n') ? text.slice(0, -1) : text;
      const v = /^0x[0-9a-f]+$/i.test(t) ? Number.parseInt(t.slice(2), 16) : /^0[0-7]*$/.test(t) ? Number.parseInt(t, 8) : /^[1-9][0-9]*$/.test(t) ? Number(t) : -1;
      if (v < 0 || v > 1) return -EINVAL;
      writel(qm, HZIP_SOFT_CTRL_CNT_CLR_CE, (readl(qm, HZIP_SOFT_CTRL_CNT_CLR_CE) & ~1) | v);
      return 0;
    },
    0o600,
  );
  HZIP_CORE_NAMES.forEach((name, i) => {
    const base = HZIP_CORE_DFX_BASE + i * HZIP_CORE_DFX_STRIDE;
    sysfs_create_file(`${dir}/${name}`, 'regs', () => HZIP_DFX_REGS.map(([n, off]) => `${n} = 0x${readl(qm, base + off).toString(16).padStart(8, '0')}\n`).join(''), undefined, 0o444);
  });
}

let paramsShown = false;

function hisi_zip_module_params(p: HisiZipParams): void {
  if (paramsShown) return;
  paramsShown = true;
  for (const k of Object.keys(p) as (keyof HisiZipParams)[]) sysfs_create_file('module/hisi_zip/parameters', k, () => `${p[k]}\n`, undefined, 0o444);
}

/** hisi_zip_probe */
export function* hisi_zip_probe(pdev: HisiPciDev): Generator<unknown, number, unknown> {
  if (pdev.vendor !== R.PCI_VENDOR_ID_HUAWEI || pdev.device !== PCI_DEVICE_ID_HUAWEI_ZIP_PF) return -ENODEV;
  const params = hisi_zip_params(boot_params().cmdline);
  if (typeof params === 'string') {
    pr_err(`hisi_zip: ${params}`);
    return -EINVAL;
  }
  hisi_zip_module_params(params);
  const qm = new HisiQm(pdev, { dev_name: 'hisi_zip', qp_num: params.pf_q_num, sqe_size: HZIP_SQE_SIZE, algs: 'zlib\ngzip', err_ini: hisi_zip_err_ini, uacce_mode: params.uacce_mode });
  const zip = new HisiZip(qm, params.sgl_sge_nr);
  qm.drvdata = zip;
  let r = hisi_qm_init(qm);
  if (r < 0) {
    pr_err(`${qm.name}: Failed to init zip qm configures! (${r})`);
    return r;
  }
  hisi_qm_dev_err_init(qm);
  r = hisi_qm_start(qm);
  if (r < 0) {
    pr_err(`${qm.name}: Failed to start zip qm! (${r})`);
    yield* hisi_qm_uninit(qm);
    return r;
  }
  hisi_zip_debugfs_init(zip);
  // hisi_qm_alg_register: a v2 function whose data transfers carry the SVA PASID (AXUSER
  // SSV) cannot also serve kernel requests, which have no PASID.
  zip.crypto = !(qm.use_sva && qm.ver <= R.QM_HW_V2);
  if (zip.crypto) {
    hisi_zip_register_device(zip);
    r = hisi_zip_register_to_crypto();
    if (r < 0) {
      pr_err(`${qm.name}: Failed to register driver to crypto (${r})`);
      hisi_zip_unregister_device(zip);
      yield* hisi_qm_stop(qm, QM_NORMAL);
      yield* hisi_qm_uninit(qm);
      return r;
    }
  } else pr_info(`${qm.name}: v2 in uacce SVA mode serves user queues only: kernel algorithms not registered`);
  r = yield* qm_register_uacce(qm);
  if (r < 0) {
    pr_err(`${qm.name}: Failed to register uacce (${r})`);
    if (zip.crypto) {
      hisi_zip_unregister_from_crypto();
      hisi_zip_unregister_device(zip);
    }
    yield* hisi_qm_stop(qm, QM_NORMAL);
    yield* hisi_qm_uninit(qm);
    return r;
  }
  if (params.vfio_mdev === 1) {
    // mdev DMA goes through the function's DMA API domain, which an SVA function's v2 data path cannot use
    r = qm.use_sva ? -EINVAL : yield* hisi_zip_mdev_register(qm);
    if (r < 0) pr_err(`${qm.name}: vfio_mdev not available (${r})`);
  }
  probed.push(zip);
  pr_info(`${qm.name}: hisi_zip probed: QM v2, ${qm.qp_num} queue pairs, ${zip.crypto ? 'algorithms zlib gzip deflate' : 'kernel algorithms not registered'}${qm.uacce ? `, uacce ${qm.uacce.dev.name}` : ''}`);
  if (!zip.crypto) return 0;
  r = yield* hisi_zip_selftest(zip);
  if (r < 0) return 0; // the device stays bound (as Linux keeps a device whose testmgr run failed); dmesg says why
  zipk_register();
  return 0;
}

/** hisi_zip_remove */
export function* hisi_zip_remove(pdev: HisiPciDev): Generator<unknown, void, unknown> {
  const i = probed.findIndex((z) => z.qm.pdev === pdev);
  if (i < 0) return;
  const zip = probed[i]!;
  probed.splice(i, 1);
  yield* hisi_zip_mdev_unregister(zip.qm);
  // User queues first: they are stopped, released and unmapped before the QM stops.
  yield* qm_remove_uacce(zip.qm);
  if (probed.every((z) => !z.crypto)) zipk_unregister();
  if (zip.crypto) {
    hisi_zip_unregister_from_crypto();
    hisi_zip_unregister_device(zip);
  }
  hisi_qm_debug_uninit(zip.qm);
  yield* hisi_qm_stop(zip.qm, QM_NORMAL);
  yield* hisi_qm_uninit(zip.qm);
}

const bound = new Map<PciDev, QmPciDev>();

/** struct pci_driver hisi_zip_pci_driver (the VF id is listed as in Linux; probe takes the PF only). */
export const hisi_zip_pci_driver: PciDriver = {
  name: 'hisi_zip',
  bus: null,
  id_table: [
    { vendor: R.PCI_VENDOR_ID_HUAWEI, device: PCI_DEVICE_ID_HUAWEI_ZIP_PF },
    { vendor: R.PCI_VENDOR_ID_HUAWEI, device: PCI_DEVICE_ID_HUAWEI_ZIP_VF },
  ],
  *pci_probe(pdev: PciDev): Generator<unknown, number, unknown> {
    const q = new QmPciDev(pdev);
    const r = yield* hisi_zip_probe(q);
    if (r === 0) bound.set(pdev, q);
    return r;
  },
  *pci_remove(pdev: PciDev): Generator<unknown, void, unknown> {
    const q = bound.get(pdev);
    if (q === undefined) return;
    bound.delete(pdev);
    yield* hisi_zip_remove(q);
  },
};

/** module_init(hisi_zip_init): binds hisi_qm to the kernel's PCI core and DMA API, registers the driver. */
function* hisi_zip_init(): Generator<unknown, number, unknown> {
  // Module state is host memory that outlives a guest: a new boot in the same host
  // process starts from nothing, as a freshly loaded module would.
  hisi_zip_reset_state();
  hisi_zip_crypto_reset();
  zipk_reset_state();
  hisi_zip_mdev_reset_state();
  if (!qm_bus_bound()) set_qm_bus(qm_pci_bus_ops);
  const r = yield* pci_register_driver(hisi_zip_pci_driver);
  if (r < 0) pr_err(`hisi_zip: Failed to register pci driver (${r})`);
  return r;
}

device_initcall('hisi_zip', hisi_zip_init);

/** Forgets probed devices (a new boot in the same host process). */
export function hisi_zip_reset_state(): void {
  probed.length = 0;
  bound.clear();
  paramsShown = false;
}
