// Arm SMMUv3 driver (drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c, ~v6.10, in shape):
// probe from the "arm,smmu-v3" DT node, ID register checks, queue and stream-table
// allocation in guest RAM, the reset sequence in Linux's order, the command queue
// with batching and one CMD_SYNC (MSI write-back polling or CONS polling), GERROR,
// event and PRI queue threads, STE/CD installation through the hitless writer, and
// the iommu_ops for paging, identity, blocked and SVA domains.

import { thisCpu, type ArchCpu } from '../../../../arch/index.js';
import { EINVAL, ENODEV, ENOMEM, ENOSPC, ENXIO, ERANGE, ETIMEDOUT } from '../../../lib/errno.js';
import { pr_err, pr_info, pr_warn } from '../../../lib/printk.js';
import { of_property_read_bool, of_property_read_string_array, of_property_read_u32, of_reg, of_irq_parse_one, type DeviceNode, type OfPhandleArgs } from '../../../of/base.js';
import { IRQF_ONESHOT, IRQ_HANDLED, IRQ_NONE, IRQ_WAKE_THREAD, disable_irq_nosync, enable_irq, request_irq, request_threaded_irq, type IrqReturn } from '../../../irq/irqdesc.js';
import { alloc_pages, free_pages } from '../../../mm/page_alloc.js';
import { GFP_KERNEL, __GFP_ZERO } from '../../../mm/gfp.js';
import { MAX_PAGE_ORDER, PAGE_SHIFT, PAGE_SIZE } from '../../../mm/page.js';
import { debugfs_create_file } from '../../../fs/debugfs.js';
import { pci_disable_pasid, pci_disable_pri, pci_enable_pasid, pci_enable_pri, pci_max_pasids, pci_pasid_features, pci_pri_supported, pci_reset_pri } from '../pci-pasid-pri.js';
import {
  Device,
  IOMMU_DOMAIN_BLOCKED,
  IOMMU_DOMAIN_IDENTITY,
  IOMMU_FAULT_PAGE_REQUEST_LAST_PAGE,
  IOMMU_FAULT_PAGE_REQUEST_PASID_VALID,
  IOMMU_FAULT_PAGE_RESPONSE_NEEDS_PASID,
  IOMMU_FAULT_PERM_EXEC,
  IOMMU_FAULT_PERM_PRIV,
  IOMMU_FAULT_PERM_READ,
  IOMMU_FAULT_PERM_WRITE,
  IOMMU_MMIO,
  IOMMU_NOEXEC,
  IOMMU_NO_PASID,
  IOMMU_PAGE_RESP_INVALID,
  IOMMU_PAGE_RESP_SUCCESS,
  IOMMU_RESV_SW_MSI,
  IOMMU_WRITE,
  IommuDevice,
  IommuDomain,
  IotlbGather,
  iommu_iotlb_gather_add_page,
  pgsize_has,
  dev_iommu,
  dev_iommu_priv_get,
  dev_iommu_priv_set,
  device_property_read_bool,
  device_property_read_u32,
  iommu_device_register,
  iommu_get_domain_for_dev,
  kernel_cmdline,
  type IommuOps,
  type IommuPageResponse,
  type IommuResvRegion,
  type IopfFault,
} from '../iommu.js';
import { iommu_report_device_fault, iopf_queue_add_device, iopf_queue_alloc, iopf_queue_discard_partial, iopf_queue_remove_device, type IopfQueue } from '../io-pgfault.js';
import { IO_PGTABLE_IAS, IO_PGTABLE_MAIR, IoPgtable } from '../io-pgtable-arm.js';
import { loadDword, storeDword } from '../dword-io.js';
import { smp_cond_load_relaxed } from '../../../arch/barrier.js';
import { getField, setField, formatDwords } from '../../../lib/field-table.js';
import * as F from './features.js';
import * as R from './regs.js';
import { LlQueue, Q_OVERFLOW_FLAG } from './queue.js';
import {
  CMDQ_BATCH_ENTRIES,
  CMDQ_ENT_WORDS,
  CMDQ_ENT_SZ_SHIFT,
  CMDQ_OP_CFGI_ALL,
  CMDQ_OP_CFGI_CD,
  CMDQ_OP_CFGI_STE,
  CMDQ_OP_CMD_SYNC,
  CMDQ_OP_PREFETCH_CFG,
  CMDQ_OP_PRI_RESP,
  CMDQ_OP_RESUME,
  CMDQ_OP_STALL_TERM,
  CMDQ_OP_TLBI_EL2_ALL,
  CMDQ_OP_TLBI_NH_ASID,
  CMDQ_OP_TLBI_NH_VA,
  CMDQ_OP_TLBI_NSNH_ALL,
  CMDQ_OP_ATC_INV,
  CMDQ_RESUME_0_RESP_ABORT,
  CMDQ_RESUME_0_RESP_RETRY,
  PRI_RESP_DENY,
  PRI_RESP_FAIL,
  PRI_RESP_SUCC,
  atcInvCommand,
  buildCmd,
  tlbiRangeCommands,
  type CmdqEnt,
} from './cmdq.js';
import { EVTQ, EVTQ_ENT_SZ_SHIFT, EVTQ_ENT_WORDS, EVT_ID_ACCESS_FAULT, EVT_ID_ADDR_SIZE_FAULT, EVT_ID_PERMISSION_FAULT, EVT_ID_TRANSLATION_FAULT, EVT_NAMES, evtAddr } from './evtq.js';
import { PRIQ, PRIQ_ENT_SZ_SHIFT, PRIQ_ENT_WORDS } from './priq.js';
import {
  L1STD,
  STE,
  STE_WORDS,
  STRTAB_SPLIT,
  STRTAB_STE_0_CFG_S1_TRANS,
  STRTAB_STE_0_S1FMT_64K_L2,
  STRTAB_STE_0_S1FMT_LINEAR,
  STRTAB_STE_1_S1DSS_BYPASS,
  STRTAB_STE_1_S1DSS_SSID0,
  STRTAB_STE_1_S1DSS_TERMINATE,
  getSteUpdateSafe,
  getSteUsed,
  makeAbortSte,
  makeBypassSte,
  makeCdtableSte,
} from './ste.js';
import { CD_WORDS, CTXDESC_L2_ENTRIES, CTXDESC_LINEAR_CDMAX, CTXDESC_SPLIT, L1CD, getCdUsed, makeS1Cd } from './cd.js';
import { writeEntry, type EntryWriter, type EntryWriterOps } from './entry-writer.js';

const ARM_SMMU_POLL_TIMEOUT_NS = 1_000_000_000;
const ARM_SMMU_POLL_SPIN_COUNT = 10;
/** One spin of queue_poll: the load, the compare and cpu_relax (YIELD). */
const CPU_RELAX_NS = 10;

/** struct arm_smmu_queue_poll. */
interface QueuePoll {
  timeout: number;
  delay: number;
  spinCnt: number;
  wfe: boolean;
  /** Polls so far (for the GERROR check when no GERROR interrupt is wired). */
  polls: number;
}
/** Outstanding page requests a PRI master is allocated (capped by its capacity). */
const ARM_SMMU_PRI_REQS = 32;
/** PAGE_SHIFT + MAX_PAGE_ORDER: queues are naturally aligned buddy allocations. */
const Q_MAX_SZ_SHIFT = PAGE_SHIFT + MAX_PAGE_ORDER;

/** A queue-size parameter `name=N` (log2 entries, 1..19) from the kernel command line, or null. */
function cmdlineShift(name: string): number | null {
  const m = new RegExp(`(?:^|\\s)${name.replace(/\./g, '\\.')}=(\\d+)(?:\\s|$)`).exec(kernel_cmdline());
  if (m === null) return null;
  const n = Number(m[1]);
  return n >= 1 && n <= 19 ? n : null;
}

/**
 * A bool module parameter `name` on the kernel command line (param_set_bool: a bare name,
 * or =1/y/Y/on is true; =0/n/N/off false).
 */
function cmdlineBool(name: string): boolean {
  const m = new RegExp(`(?:^|\\s)${name.replace(/\./g, '\\.')}(?:=(\\S*))?(?:\\s|$)`).exec(kernel_cmdline());
  if (m === null) return false;
  return m[1] === undefined || ['1', 'y', 'Y', 'on'].includes(m[1]);
}

/** Linux's L1 stream table cap: 2^20 bytes of L1 descriptors. */
const STRTAB_L1_SZ_SHIFT = 20;
/** The reserved IOVA window where MSI doorbells are mapped (MSI_IOVA_BASE/LENGTH). */
export const MSI_IOVA_BASE = 0x8000000;
export const MSI_IOVA_LENGTH = 0x100000;

/** One of the three queues (struct arm_smmu_queue). */
export class SmmuQueue {
  basePa = 0;
  baseLo = 0;
  baseHi = 0;
  irq = 0;
  constructor(
    readonly name: string,
    readonly llq: LlQueue,
    readonly entWords: number,
    readonly entShift: number,
    /** PROD and CONS register offsets from the SMMU base (page 0 or page 1). */
    public prodReg: number,
    public consReg: number,
  ) {}
  entPa(p: number): number {
    return this.basePa + this.llq.idx(p) * (1 << this.entShift);
  }
}

/** struct arm_smmu_ctx_desc_cfg: a master's CD table. */
export class CdTable {
  cdtabDma = 0;
  s1fmt = STRTAB_STE_0_S1FMT_LINEAR;
  s1cdmax = 0;
  numL1 = 0;
  /** 2-level: physical address of each leaf table (0 = not yet allocated). */
  l2: number[] = [];
  /** SSIDs other than 0 with a valid CD. */
  usedSsids = 0;
  /** The STE currently points at this table. */
  inSte = false;
}

/** struct arm_smmu_master. */
export class ArmSmmuMaster {
  readonly cdTable = new CdTable();
  ssidBits = 0;
  stallEnabled = false;
  iopfEnabled = false;
  /** The PCI PASID capability is enabled (the function may tag transactions with a PASID). */
  pasidEnabled = false;
  /** The PCI PRI capability is enabled: recoverable faults arrive as page requests. */
  priEnabled = false;
  constructor(
    readonly dev: Device,
    readonly smmu: ArmSmmuDevice,
    readonly streams: readonly number[],
  ) {}
}

export const ARM_SMMU_DOMAIN_S1 = 1;
export const ARM_SMMU_DOMAIN_S2 = 2;

/** struct arm_smmu_domain. */
export class ArmSmmuDomain extends IommuDomain {
  smmu: ArmSmmuDevice | null = null;
  stage = ARM_SMMU_DOMAIN_S1;
  asid = 0;
  pgtbl: IoPgtable | null = null;
  /** (master, ssid) pairs that use this domain: where invalidations and CD rewrites go. */
  readonly devices: { master: ArmSmmuMaster; ssid: number }[] = [];
}

/** Counters for /sys/kernel/debug/iommu/<smmu>/stats. */
export interface SmmuStats {
  cmds: number;
  syncs: number;
  events: number;
  stallEvents: number;
  pageRequests: number;
  gerrors: number;
  evtqOverflows: number;
  priqOverflows: number;
  resumes: number;
  priResps: number;
}

const steScratch = new Uint32Array(STE_WORDS);
const steTarget = new Uint32Array(STE_WORDS);
const cdScratch = new Uint32Array(CD_WORDS);
const cmdScratch = new Uint32Array(CMDQ_ENT_WORDS);
/** batchAdd builds here, then copies into the batch (no subarray view per command). */
const batchScratch = new Uint32Array(CMDQ_ENT_WORDS);

/** struct arm_smmu_cmdq_batch: up to 64 commands issued with one CMD_SYNC. */
export class CmdqBatch {
  readonly cmds = new Uint32Array(CMDQ_BATCH_ENTRIES * CMDQ_ENT_WORDS);
  num = 0;
}

/** struct arm_smmu_device. */
export class ArmSmmuDevice {
  features = 0;
  options = 0;
  ias = 0;
  oas = 48;
  asidBits = 8;
  vmidBits = 8;
  sidBits = 0;
  ssidBits = 0;
  pgsizeBitmap = 0;
  maxStalls = 0;
  readonly cmdq = new SmmuQueue('cmdq', new LlQueue(0), CMDQ_ENT_WORDS, CMDQ_ENT_SZ_SHIFT, R.ARM_SMMU_CMDQ_PROD, R.ARM_SMMU_CMDQ_CONS);
  readonly evtq = new SmmuQueue('evtq', new LlQueue(0), EVTQ_ENT_WORDS, EVTQ_ENT_SZ_SHIFT, R.ARM_SMMU_PAGE1 + R.ARM_SMMU_EVTQ_PROD, R.ARM_SMMU_PAGE1 + R.ARM_SMMU_EVTQ_CONS);
  readonly priq = new SmmuQueue('priq', new LlQueue(0), PRIQ_ENT_WORDS, PRIQ_ENT_SZ_SHIFT, R.ARM_SMMU_PAGE1 + R.ARM_SMMU_PRIQ_PROD, R.ARM_SMMU_PAGE1 + R.ARM_SMMU_PRIQ_CONS);
  /** Command batches of tlbInvRangeAsid, reused. */
  private readonly tlbiBatches: CmdqBatch[] = [];
  gerrIrq = 0;
  combinedIrq = 0;
  /** IRQF_TRIGGER_* of the wired lines, from the DT specifier (the SMMU's are edge: IHI 0070 3.18). */
  irqTrigger = 0;
  iopf: IopfQueue | null = null;
  strtabDma = 0;
  strtabBaseCfg = 0;
  numL1Ents = 0;
  /** 2-level stream table: the L2 table of each L1 descriptor (0 = abort descriptor). */
  readonly l2Strtab: number[] = [];
  readonly streams = new Map<number, ArmSmmuMaster>();
  /** arm_smmu_asid_xa: the domain each SMMU ASID belongs to (a private domain, or an SVA domain sharing a CPU ASID). */
  readonly asids = new Map<number, ArmSmmuDomain>();
  readonly stats: SmmuStats = { cmds: 0, syncs: 0, events: 0, stallEvents: 0, pageRequests: 0, gerrors: 0, evtqOverflows: 0, priqOverflows: 0, resumes: 0, priResps: 0 };
  iommu: IommuDevice | null = null;
  private readonly evtBuf = new Uint32Array(EVTQ_ENT_WORDS);
  private readonly priBuf = new Uint32Array(PRIQ_ENT_WORDS);
  readonly identityDomain: IommuDomain;
  readonly blockedDomain: IommuDomain;

  /** How dev_err/dev_info name the SMMU: "arm-smmu-v3 9050000.smmuv3". */
  readonly logName: string;

  constructor(
    readonly node: DeviceNode | null,
    /** Physical base of register page 0 (page 1 is at +64 KiB). */
    readonly base: number,
    /** The iommu_device name ("smmu3.0x0000000009050000"), in /sys/class/iommu. */
    readonly name: string,
    /** dev_name() of the platform device ("9050000.smmuv3"). */
    devName: string = name,
  ) {
    this.logName = `arm-smmu-v3 ${devName}`;
    this.identityDomain = new IommuDomain(IOMMU_DOMAIN_IDENTITY, { attachDev: (_d, dev) => this.attachDevSte(dev, 'bypass') });
    this.blockedDomain = new IommuDomain(IOMMU_DOMAIN_BLOCKED, { attachDev: (_d, dev) => this.attachDevSte(dev, 'abort') });
  }

  /**
   * ARM_SMMU_OPT_PAGE0_REGS_ONLY (cavium,cn9900-broken-page1-regspace): the page 1
   * registers (event and PRI queue PROD/CONS) are at the same offsets in page 0
   * (Linux: smmu->page1 = smmu->base).
   */
  usePage0Regs(): void {
    this.options |= F.ARM_SMMU_OPT_PAGE0_REGS_ONLY;
    for (const q of [this.evtq, this.priq]) {
      q.prodReg %= R.ARM_SMMU_PAGE1;
      q.consReg %= R.ARM_SMMU_PAGE1;
    }
  }

  // ---- register access (readl/writel over the CPU's physical accesses) ----
  readl(off: number): number {
    return thisCpu().ldPhys32(this.base + off) >>> 0;
  }
  writel(off: number, v: number): void {
    thisCpu().stPhys32(this.base + off, v >>> 0);
  }
  /** writeq_relaxed as two 32-bit halves, low first (IHI 0070 6.2: 64-bit registers allow 32-bit access). */
  writeq(off: number, lo: number, hi: number): void {
    const cpu = thisCpu();
    cpu.stPhys32(this.base + off, lo >>> 0);
    cpu.stPhys32(this.base + off + 4, hi >>> 0);
  }

  /** readl_relaxed_poll_timeout: polls `cond` on the register with 1 us steps until 1 s passes. */
  private pollReg(off: number, cond: (v: number) => boolean): number {
    const cpu = thisCpu();
    const deadline = cpu.now() + ARM_SMMU_POLL_TIMEOUT_NS;
    for (;;) {
      const v = this.readl(off);
      if (cond(v)) return 0;
      if (cpu.now() > deadline) return -ETIMEDOUT;
      cpu.charge(1000);
    }
  }

  /** arm_smmu_write_reg_sync: write and poll the ACK register until it matches. */
  writeRegSync(val: number, reg: number, ack: number): number {
    this.writel(reg, val);
    return this.pollReg(ack, (v) => v === val >>> 0);
  }

  /** arm_smmu_update_gbpa. */
  updateGbpa(set: number, clr: number): number {
    let reg = 0;
    let ret = this.pollReg(R.ARM_SMMU_GBPA, (v) => {
      reg = v;
      return (v & R.GBPA_UPDATE) === 0;
    });
    if (ret) return ret;
    reg = (reg & ~clr) | set;
    this.writel(R.ARM_SMMU_GBPA, (reg | R.GBPA_UPDATE) >>> 0);
    ret = this.pollReg(R.ARM_SMMU_GBPA, (v) => (v & R.GBPA_UPDATE) === 0);
    if (ret) pr_err(`${this.logName}: GBPA not responding to update`);
    return ret;
  }

  // ---- probe ----

  /** arm_smmu_device_hw_probe: what the ID registers say. */
  hwProbe(): number {
    const coherent = (this.features & F.ARM_SMMU_FEAT_COHERENCY) !== 0;
    const id = new Uint32Array(2);
    id[0] = this.readl(R.ARM_SMMU_IDR0);
    if (getField(id, R.IDR0.f.ST_LEVEL) === R.IDR0_ST_LVL_2LVL) this.features |= F.ARM_SMMU_FEAT_2_LVL_STRTAB;
    if (getField(id, R.IDR0.f.CD2L)) this.features |= F.ARM_SMMU_FEAT_2_LVL_CDTAB;
    const endian = getField(id, R.IDR0.f.TTENDIAN);
    if (endian === R.IDR0_TTENDIAN_MIXED) this.features |= F.ARM_SMMU_FEAT_TT_LE | F.ARM_SMMU_FEAT_TT_BE;
    else if (endian === R.IDR0_TTENDIAN_LE) this.features |= F.ARM_SMMU_FEAT_TT_LE;
    else {
      pr_err(`${this.logName}: unknown/unsupported TT endianness!`);
      return -ENXIO;
    }
    if (getField(id, R.IDR0.f.PRI)) this.features |= F.ARM_SMMU_FEAT_PRI;
    if (getField(id, R.IDR0.f.ATS)) this.features |= F.ARM_SMMU_FEAT_ATS;
    if (getField(id, R.IDR0.f.SEV)) this.features |= F.ARM_SMMU_FEAT_SEV;
    if (getField(id, R.IDR0.f.MSI)) {
      this.features |= F.ARM_SMMU_FEAT_MSI;
      if (coherent && !cmdlineBool('arm_smmu_v3.disable_msipolling')) this.options |= F.ARM_SMMU_OPT_MSIPOLL;
    }
    if (getField(id, R.IDR0.f.HYP)) this.features |= F.ARM_SMMU_FEAT_HYP;
    const httu = getField(id, R.IDR0.f.HTTU);
    if (httu === R.IDR0_HTTU_ACCESS_DIRTY) this.features |= F.ARM_SMMU_FEAT_HD | F.ARM_SMMU_FEAT_HA;
    else if (httu === R.IDR0_HTTU_ACCESS) this.features |= F.ARM_SMMU_FEAT_HA;
    if (!!getField(id, R.IDR0.f.COHACC) !== coherent) pr_warn(`${this.logName}: IDR0.COHACC overridden by FW configuration (${coherent})`);
    const stall = getField(id, R.IDR0.f.STALL_MODEL);
    if (stall === R.IDR0_STALL_MODEL_FORCE) this.features |= F.ARM_SMMU_FEAT_STALL_FORCE | F.ARM_SMMU_FEAT_STALLS;
    else if (stall === R.IDR0_STALL_MODEL_STALL) this.features |= F.ARM_SMMU_FEAT_STALLS;
    if (getField(id, R.IDR0.f.S1P)) this.features |= F.ARM_SMMU_FEAT_TRANS_S1;
    if (getField(id, R.IDR0.f.S2P)) this.features |= F.ARM_SMMU_FEAT_TRANS_S2;
    if (!(this.features & (F.ARM_SMMU_FEAT_TRANS_S1 | F.ARM_SMMU_FEAT_TRANS_S2))) {
      pr_err(`${this.logName}: no translation support!`);
      return -ENXIO;
    }
    const ttf = getField(id, R.IDR0.f.TTF);
    if (ttf === R.IDR0_TTF_AARCH32_64) this.ias = 40;
    else if (ttf !== R.IDR0_TTF_AARCH64) {
      pr_err(`${this.logName}: AArch64 table format not supported!`);
      return -ENXIO;
    }
    this.asidBits = getField(id, R.IDR0.f.ASID16) ? 16 : 8;
    this.vmidBits = getField(id, R.IDR0.f.VMID16) ? 16 : 8;

    id[0] = this.readl(R.ARM_SMMU_IDR1);
    if (getField(id, R.IDR1.f.TABLES_PRESET) || getField(id, R.IDR1.f.QUEUES_PRESET) || getField(id, R.IDR1.f.REL)) {
      pr_err(`${this.logName}: embedded implementation not supported`);
      return -ENXIO;
    }
    if (getField(id, R.IDR1.f.ATTR_TYPES_OVR)) this.features |= F.ARM_SMMU_FEAT_ATTR_TYPES_OVR;
    this.cmdq.llq.maxNShift = Math.min(Q_MAX_SZ_SHIFT - CMDQ_ENT_SZ_SHIFT, getField(id, R.IDR1.f.CMDQS));
    if (this.cmdq.llq.maxNShift <= Math.log2(CMDQ_BATCH_ENTRIES)) {
      // One batch plus its CMD_SYNC must fit in the queue
      pr_err(`${this.logName}: command queue size <= ${CMDQ_BATCH_ENTRIES} entries not supported`);
      return -ENXIO;
    }
    this.evtq.llq.maxNShift = Math.min(Q_MAX_SZ_SHIFT - EVTQ_ENT_SZ_SHIFT, getField(id, R.IDR1.f.EVTQS));
    this.priq.llq.maxNShift = Math.min(Q_MAX_SZ_SHIFT - PRIQ_ENT_SZ_SHIFT, getField(id, R.IDR1.f.PRIQS));
    // svasoc parameters (not in Linux): smaller output queues, so that a test can overflow them
    const evtqShift = cmdlineShift('arm_smmu_v3.evtq_max_n_shift');
    if (evtqShift !== null) this.evtq.llq.maxNShift = Math.min(this.evtq.llq.maxNShift, evtqShift);
    const priqShift = cmdlineShift('arm_smmu_v3.priq_max_n_shift');
    if (priqShift !== null) this.priq.llq.maxNShift = Math.min(this.priq.llq.maxNShift, priqShift);
    this.ssidBits = getField(id, R.IDR1.f.SSIDSIZE);
    this.sidBits = getField(id, R.IDR1.f.SIDSIZE);
    if (this.sidBits <= STRTAB_SPLIT) this.features &= ~F.ARM_SMMU_FEAT_2_LVL_STRTAB;

    id[0] = this.readl(R.ARM_SMMU_IDR3);
    if (getField(id, R.IDR3.f.RIL)) this.features |= F.ARM_SMMU_FEAT_RANGE_INV;

    id[0] = this.readl(R.ARM_SMMU_IDR5);
    this.maxStalls = getField(id, R.IDR5.f.STALL_MAX);
    if (getField(id, R.IDR5.f.GRAN64K)) this.pgsizeBitmap += 2 ** 16 + 2 ** 29;
    if (getField(id, R.IDR5.f.GRAN16K)) this.pgsizeBitmap += 2 ** 14 + 2 ** 25;
    if (getField(id, R.IDR5.f.GRAN4K)) this.pgsizeBitmap += 2 ** 12 + 2 ** 21 + 2 ** 30;
    if (getField(id, R.IDR5.f.VAX) === 1) this.features |= F.ARM_SMMU_FEAT_VAX;
    const oas = getField(id, R.IDR5.f.OAS);
    if (oas < R.OAS_BITS.length) this.oas = R.OAS_BITS[oas]!;
    else {
      pr_info(`${this.logName}: unknown output address size. Truncating to 48-bit`);
      this.oas = 48;
    }
    this.ias = Math.max(this.ias, this.oas);
    if (this.features & F.ARM_SMMU_FEAT_TRANS_S1 && this.features & F.ARM_SMMU_FEAT_TRANS_S2) this.features |= F.ARM_SMMU_FEAT_NESTING;
    // arm_smmu_sva_supported: coherent walks, the CPU page size, OAS >= PARange, and
    // ASIDs at least as wide as the CPU's (an SVA CD takes the process's CPU ASID)
    const cpuAsidBits = ((Number(thisCpu().readSysreg('ID_AA64MMFR0_EL1')) >>> 4) & 0xf) === 2 ? 16 : 8;
    if (this.features & F.ARM_SMMU_FEAT_COHERENCY && this.pgsizeBitmap % (2 * PAGE_SIZE) >= PAGE_SIZE && this.asidBits >= cpuAsidBits) this.features |= F.ARM_SMMU_FEAT_SVA;
    pr_info(`${this.logName}: ias ${this.ias}-bit, oas ${this.oas}-bit (features 0x${(this.features >>> 0).toString(16).padStart(8, '0')})`);
    return 0;
  }

  /** dmam_alloc_coherent for the SMMU's own structures: zeroed, naturally aligned pages. */
  private allocCoherent(bytes: number): number {
    const order = Math.max(0, Math.ceil(Math.log2(Math.max(bytes, PAGE_SIZE) / PAGE_SIZE)));
    if (order > MAX_PAGE_ORDER) return -1;
    const pfn = alloc_pages(order, GFP_KERNEL | __GFP_ZERO);
    return pfn < 0 ? -1 : pfn * PAGE_SIZE;
  }

  /** arm_smmu_init_one_queue: shrinks the queue until the allocation succeeds. */
  private initOneQueue(q: SmmuQueue): number {
    let qsz = 0;
    for (;;) {
      qsz = (1 << q.llq.maxNShift) * (1 << q.entShift);
      const pa = this.allocCoherent(qsz);
      if (pa >= 0) {
        q.basePa = pa;
        break;
      }
      if (qsz < PAGE_SIZE) break;
      q.llq.maxNShift--;
    }
    if (q.basePa === 0) {
      pr_err(`${this.logName}: failed to allocate queue (0x${qsz.toString(16)} bytes) for ${q.name}`);
      return -ENOMEM;
    }
    pr_info(`${this.logName}: allocated ${1 << q.llq.maxNShift} entries for ${q.name}`);
    const b = new Uint32Array(2);
    setField(b, R.Q_BASE.f.RWA, 1);
    setField(b, R.Q_BASE.f.ADDR, q.basePa);
    setField(b, R.Q_BASE.f.LOG2SIZE, q.llq.maxNShift);
    q.baseLo = b[0]!;
    q.baseHi = b[1]!;
    q.llq.prod = 0;
    q.llq.cons = 0;
    return 0;
  }

  /** arm_smmu_init_structures: queues, iopf queue, stream table. */
  initStructures(): number {
    let ret = this.initOneQueue(this.cmdq);
    if (ret) return ret;
    ret = this.initOneQueue(this.evtq);
    if (ret) return ret;
    if (this.features & F.ARM_SMMU_FEAT_SVA && this.features & F.ARM_SMMU_FEAT_STALLS) this.iopf = iopf_queue_alloc(this.name);
    if (this.features & F.ARM_SMMU_FEAT_PRI) {
      ret = this.initOneQueue(this.priq);
      if (ret) return ret;
      this.iopf ??= iopf_queue_alloc(this.name);
    }
    return this.features & F.ARM_SMMU_FEAT_2_LVL_STRTAB ? this.initStrtab2lvl() : this.initStrtabLinear();
  }

  private initStrtabLinear(): number {
    const size = (1 << this.sidBits) * 64;
    const pa = this.allocCoherent(size);
    if (pa < 0) {
      pr_err(`${this.logName}: failed to allocate linear stream table (${size} bytes)`);
      return -ENOMEM;
    }
    this.strtabDma = pa;
    this.numL1Ents = 1 << this.sidBits;
    const cfg = new Uint32Array(2);
    setField(cfg, R.STRTAB_BASE_CFG.f.FMT, R.STRTAB_BASE_CFG_FMT_LINEAR);
    setField(cfg, R.STRTAB_BASE_CFG.f.LOG2SIZE, this.sidBits);
    this.strtabBaseCfg = cfg[0]!;
    // The table is not live yet: plain stores of abort STEs, no sync needed
    this.initInitialStes(pa, this.numL1Ents);
    return 0;
  }

  private initStrtab2lvl(): number {
    let size = STRTAB_L1_SZ_SHIFT - 3;
    size = Math.min(size, this.sidBits - STRTAB_SPLIT);
    this.numL1Ents = 1 << size;
    size += STRTAB_SPLIT;
    if (size < this.sidBits) pr_warn(`${this.logName}: 2-level strtab only covers ${size}/${this.sidBits} bits of SID`);
    const pa = this.allocCoherent(this.numL1Ents * 8);
    if (pa < 0) {
      pr_err(`${this.logName}: failed to allocate l1 stream table (${this.numL1Ents * 8} bytes)`);
      return -ENOMEM;
    }
    this.strtabDma = pa;
    const cfg = new Uint32Array(2);
    setField(cfg, R.STRTAB_BASE_CFG.f.FMT, R.STRTAB_BASE_CFG_FMT_2LVL);
    setField(cfg, R.STRTAB_BASE_CFG.f.LOG2SIZE, size);
    setField(cfg, R.STRTAB_BASE_CFG.f.SPLIT, STRTAB_SPLIT);
    this.strtabBaseCfg = cfg[0]!;
    this.l2Strtab.length = this.numL1Ents;
    this.l2Strtab.fill(0);
    return 0;
  }

  private initInitialStes(pa: number, n: number): void {
    const cpu = thisCpu();
    makeAbortSte(steScratch);
    for (let i = 0; i < n; i++) storeDword(cpu, pa + i * 64, steScratch[0]!, steScratch[1]!);
  }

  /** arm_smmu_init_l2_strtab: allocates the 256 abort STEs covering `sid` on first use. */
  private initL2Strtab(sid: number): number {
    const i = sid >> STRTAB_SPLIT;
    if (this.l2Strtab[i]) return 0;
    const pa = this.allocCoherent((1 << STRTAB_SPLIT) * 64);
    if (pa < 0) {
      pr_err(`${this.logName}: failed to allocate l2 stream table for SID ${sid}`);
      return -ENOMEM;
    }
    this.initInitialStes(pa, 1 << STRTAB_SPLIT);
    this.l2Strtab[i] = pa;
    const d = new Uint32Array(2);
    setField(d, L1STD.f.SPAN, STRTAB_SPLIT + 1);
    setField(d, L1STD.f.L2PTR, pa);
    // A single 64-bit store: the SMMU sees the old invalid descriptor or the new one
    storeDword(thisCpu(), this.strtabDma + i * 8, d[0]!, d[1]!);
    return 0;
  }

  sidInRange(sid: number): boolean {
    const limit = this.features & F.ARM_SMMU_FEAT_2_LVL_STRTAB ? this.numL1Ents * (1 << STRTAB_SPLIT) : this.numL1Ents;
    return sid >= 0 && sid < limit;
  }

  /** arm_smmu_get_step_for_sid: physical address of the STE. */
  stePa(sid: number): number {
    if (this.features & F.ARM_SMMU_FEAT_2_LVL_STRTAB) return this.l2Strtab[sid >> STRTAB_SPLIT]! + (sid & ((1 << STRTAB_SPLIT) - 1)) * 64;
    return this.strtabDma + sid * 64;
  }

  /** arm_smmu_device_reset, in Linux's order. */
  reset(): number {
    if (this.readl(R.ARM_SMMU_CR0) & R.CR0_SMMUEN) {
      pr_warn(`${this.logName}: SMMU currently enabled! Resetting...`);
      this.updateGbpa(R.GBPA_ABORT, 0);
    }
    let ret = this.writeRegSync(0, R.ARM_SMMU_CR0, R.ARM_SMMU_CR0ACK);
    if (ret) {
      pr_err(`${this.logName}: failed to clear cr0`);
      return ret;
    }
    const cr1 = new Uint32Array(2);
    setField(cr1, R.CR1.f.TABLE_SH, F.ARM_SMMU_SH_ISH);
    setField(cr1, R.CR1.f.TABLE_OC, R.CR1_CACHE_WB);
    setField(cr1, R.CR1.f.TABLE_IC, R.CR1_CACHE_WB);
    setField(cr1, R.CR1.f.QUEUE_SH, F.ARM_SMMU_SH_ISH);
    setField(cr1, R.CR1.f.QUEUE_OC, R.CR1_CACHE_WB);
    setField(cr1, R.CR1.f.QUEUE_IC, R.CR1_CACHE_WB);
    this.writel(R.ARM_SMMU_CR1, cr1[0]!);
    this.writel(R.ARM_SMMU_CR2, R.CR2_PTM | R.CR2_RECINVSID | (this.features & F.ARM_SMMU_FEAT_E2H ? R.CR2_E2H : 0));

    const base = new Uint32Array(2);
    setField(base, R.STRTAB_BASE.f.ADDR, this.strtabDma);
    setField(base, R.STRTAB_BASE.f.RA, 1);
    this.writeq(R.ARM_SMMU_STRTAB_BASE, base[0]!, base[1]!);
    this.writel(R.ARM_SMMU_STRTAB_BASE_CFG, this.strtabBaseCfg);

    this.writeq(R.ARM_SMMU_CMDQ_BASE, this.cmdq.baseLo, this.cmdq.baseHi);
    this.writel(R.ARM_SMMU_CMDQ_PROD, this.cmdq.llq.prod);
    this.writel(R.ARM_SMMU_CMDQ_CONS, this.cmdq.llq.cons);
    let enables = R.CR0_CMDQEN;
    ret = this.writeRegSync(enables, R.ARM_SMMU_CR0, R.ARM_SMMU_CR0ACK);
    if (ret) {
      pr_err(`${this.logName}: failed to enable command queue`);
      return ret;
    }
    // Forget any cached configuration and TLB entries from before us
    this.issueCmd({ opcode: CMDQ_OP_CFGI_ALL }, true);
    if (this.features & F.ARM_SMMU_FEAT_HYP) this.issueCmd({ opcode: CMDQ_OP_TLBI_EL2_ALL }, true);
    this.issueCmd({ opcode: CMDQ_OP_TLBI_NSNH_ALL }, true);

    this.writeq(R.ARM_SMMU_EVTQ_BASE, this.evtq.baseLo, this.evtq.baseHi);
    this.writel(this.evtq.prodReg, this.evtq.llq.prod);
    this.writel(this.evtq.consReg, this.evtq.llq.cons);
    enables |= R.CR0_EVTQEN;
    ret = this.writeRegSync(enables, R.ARM_SMMU_CR0, R.ARM_SMMU_CR0ACK);
    if (ret) {
      pr_err(`${this.logName}: failed to enable event queue`);
      return ret;
    }
    if (this.features & F.ARM_SMMU_FEAT_PRI) {
      this.writeq(R.ARM_SMMU_PRIQ_BASE, this.priq.baseLo, this.priq.baseHi);
      this.writel(this.priq.prodReg, this.priq.llq.prod);
      this.writel(this.priq.consReg, this.priq.llq.cons);
      enables |= R.CR0_PRIQEN;
      ret = this.writeRegSync(enables, R.ARM_SMMU_CR0, R.ARM_SMMU_CR0ACK);
      if (ret) {
        pr_err(`${this.logName}: failed to enable PRI queue`);
        return ret;
      }
    }
    if (this.features & F.ARM_SMMU_FEAT_ATS) {
      enables |= R.CR0_ATSCHK;
      ret = this.writeRegSync(enables, R.ARM_SMMU_CR0, R.ARM_SMMU_CR0ACK);
      if (ret) return ret;
    }
    ret = this.setupIrqs();
    if (ret) {
      pr_err(`${this.logName}: failed to setup irqs`);
      return ret;
    }
    enables |= R.CR0_SMMUEN;
    ret = this.writeRegSync(enables, R.ARM_SMMU_CR0, R.ARM_SMMU_CR0ACK);
    if (ret) {
      pr_err(`${this.logName}: failed to enable SMMU interface`);
      return ret;
    }
    return 0;
  }

  /** arm_smmu_setup_irqs: disable, request the wired lines (no platform MSI domain), enable. */
  private setupIrqs(): number {
    let ret = this.writeRegSync(0, R.ARM_SMMU_IRQ_CTRL, R.ARM_SMMU_IRQ_CTRLACK);
    if (ret) {
      pr_err(`${this.logName}: failed to disable irqs`);
      return ret;
    }
    // arm_smmu_setup_msis: clear the MSI addresses; there is no msi_domain for platform devices here
    this.writeq(R.ARM_SMMU_GERROR_IRQ_CFG0, 0, 0);
    this.writeq(R.ARM_SMMU_EVTQ_IRQ_CFG0, 0, 0);
    if (this.features & F.ARM_SMMU_FEAT_PRI) this.writeq(R.ARM_SMMU_PRIQ_IRQ_CFG0, 0, 0);
    if (this.features & F.ARM_SMMU_FEAT_MSI) pr_info(`${this.logName}: msi_domain absent - falling back to wired irqs`);
    if (this.combinedIrq) {
      // One line for every source: GERROR in the hard handler, the queues in its thread
      if (request_threaded_irq(this.combinedIrq, () => this.combinedIrqHandler(), () => this.combinedIrqThread(), IRQF_ONESHOT | this.irqTrigger, 'arm-smmu-v3-combined-irq', this) < 0) pr_warn(`${this.logName}: failed to enable combined irq`);
    } else this.setupUniqueIrqs();
    let irqen = R.IRQ_CTRL_EVTQ_IRQEN | R.IRQ_CTRL_GERROR_IRQEN;
    if (this.features & F.ARM_SMMU_FEAT_PRI) irqen |= R.IRQ_CTRL_PRIQ_IRQEN;
    ret = this.writeRegSync(irqen, R.ARM_SMMU_IRQ_CTRL, R.ARM_SMMU_IRQ_CTRLACK);
    if (ret) pr_warn(`${this.logName}: failed to enable irqs`);
    return 0;
  }

  /** arm_smmu_combined_irq_handler: GERROR at once, the queues in the thread. */
  combinedIrqHandler(): IrqReturn {
    this.gerrorHandler();
    return IRQ_WAKE_THREAD;
  }

  /** arm_smmu_combined_irq_thread: drains the event queue, then the PRI queue. */
  *combinedIrqThread(): Generator<unknown, IrqReturn, unknown> {
    yield* this.evtqThread();
    if (this.features & F.ARM_SMMU_FEAT_PRI) yield* this.priqThread();
    return IRQ_HANDLED;
  }

  /** arm_smmu_setup_unique_irqs: one line per source. */
  private setupUniqueIrqs(): void {
    if (this.evtq.irq) {
      if (request_threaded_irq(this.evtq.irq, null, () => this.evtqThread(), IRQF_ONESHOT | this.irqTrigger, 'arm-smmu-v3-evtq', this) < 0) pr_warn(`${this.logName}: failed to enable evtq irq`);
    } else pr_warn(`${this.logName}: no evtq irq - events will not be reported!`);
    if (this.gerrIrq) {
      if (request_irq(this.gerrIrq, () => this.gerrorHandler(), this.irqTrigger, 'arm-smmu-v3-gerror', this) < 0) pr_warn(`${this.logName}: failed to enable gerror irq`);
    } else pr_warn(`${this.logName}: no gerr irq - errors will not be reported!`);
    if (this.features & F.ARM_SMMU_FEAT_PRI) {
      if (this.priq.irq) {
        if (request_threaded_irq(this.priq.irq, null, () => this.priqThread(), IRQF_ONESHOT | this.irqTrigger, 'arm-smmu-v3-priq', this) < 0) pr_warn(`${this.logName}: failed to enable priq irq`);
      } else pr_warn(`${this.logName}: no priq irq - PRI will be broken`);
    }
  }

  // ---- command queue ----

  /** arm_smmu_cmdq_build_sync_cmd: MSI write-back into the sync's own slot when MSIPOLL. */
  private buildSyncCmd(out: Uint32Array, prod: number): void {
    const ent: CmdqEnt = { opcode: CMDQ_OP_CMD_SYNC };
    if (this.options & F.ARM_SMMU_OPT_MSIPOLL) ent.msiaddr = this.cmdq.entPa(prod);
    buildCmd(out, ent);
  }

  private writeCmd(prod: number, words: Uint32Array, off: number): void {
    const cpu = thisCpu();
    const pa = this.cmdq.entPa(prod);
    storeDword(cpu, pa, words[off]!, words[off + 1]!);
    storeDword(cpu, pa + 8, words[off + 2]!, words[off + 3]!);
  }

  /**
   * arm_smmu_cmdq_poll_until_not_full with its caller's has-space loop: CONS is refreshed
   * from the SMMU until `n` entries fit. The SMMU sends SEV when the queue goes from full to
   * non-full, so queue_poll waits in WFE only while the queue is full; with room but not
   * enough, it spins.
   */
  private pollUntilNotFull(n: number): number {
    const cpu = thisCpu();
    const llq = this.cmdq.llq;
    const qp = this.queuePollInit(cpu);
    const sev = qp.wfe;
    for (;;) {
      llq.cons = this.readl(this.cmdq.consReg);
      if (llq.hasSpace(n)) return 0;
      qp.wfe = sev && llq.full();
      const ret = this.queuePoll(cpu, qp);
      if (ret) return ret;
    }
  }

  /** queue_poll_init: WFE when the SMMU signals SEV (IDR0.SEV). */
  private queuePollInit(cpu: ArchCpu): QueuePoll {
    return { timeout: cpu.now() + ARM_SMMU_POLL_TIMEOUT_NS, delay: 1, spinCnt: 0, wfe: (this.features & F.ARM_SMMU_FEAT_SEV) !== 0, polls: 0 };
  }

  /**
   * queue_poll: -ETIMEDOUT past the timeout; else WFE (woken by the SMMU's SEV, bounded by
   * the timeout), or spin, then back off with doubling delays.
   */
  private queuePoll(cpu: ArchCpu, qp: QueuePoll): number {
    if (cpu.now() > qp.timeout) return -ETIMEDOUT;
    if (qp.wfe) cpu.wfe(qp.timeout);
    else if (++qp.spinCnt < ARM_SMMU_POLL_SPIN_COUNT) cpu.charge(CPU_RELAX_NS);
    else {
      cpu.charge(qp.delay * 1000);
      qp.delay *= 2;
      qp.spinCnt = 0;
    }
    // Without a GERROR interrupt nobody else would notice a stopped queue
    if (!this.gerrIrq && !this.combinedIrq && ++qp.polls % 16 === 0) this.gerrorHandler();
    return 0;
  }

  /**
   * arm_smmu_cmdq_issue_cmdlist: writes `n` commands (and a CMD_SYNC when `sync`),
   * publishes them with one PROD write and, for a sync, waits for its completion: the
   * SMMU's MSI zeroes the first word of the sync slot (MSIPOLL) or CONS passes it.
   */
  issueCmdlist(cmds: Uint32Array, n: number, sync: boolean): number {
    const llq = this.cmdq.llq;
    const total = n + (sync ? 1 : 0);
    // Room first, however long the SMMU takes: a timeout is logged and the wait goes on
    // (writing anyway would overwrite commands the SMMU has not consumed)
    while (!llq.hasSpace(total)) if (this.pollUntilNotFull(total)) pr_err(`${this.logName}: CMDQ timeout`);
    let prod = llq.prod;
    for (let i = 0; i < n; i++) {
      this.writeCmd(prod, cmds, i * CMDQ_ENT_WORDS);
      prod = llq.incN(prod, 1);
    }
    const syncProd = prod;
    if (sync) {
      this.buildSyncCmd(cmdScratch, syncProd);
      this.writeCmd(syncProd, cmdScratch, 0);
      prod = llq.incN(prod, 1);
    }
    const cpu = thisCpu();
    cpu.dsb();
    llq.prod = prod;
    this.writel(this.cmdq.prodReg, prod);
    this.stats.cmds += n;
    if (!sync) return 0;
    this.stats.syncs++;
    const ret = this.options & F.ARM_SMMU_OPT_MSIPOLL ? this.pollUntilMsi(syncProd) : this.pollUntilConsumed(syncProd);
    if (ret) pr_err(`${this.logName}: CMD_SYNC timeout at 0x${syncProd.toString(16).padStart(8, '0')} [hwprod 0x${this.readl(this.cmdq.prodReg).toString(16).padStart(8, '0')}, hwcons 0x${this.readl(this.cmdq.consReg).toString(16).padStart(8, '0')}]`);
    return ret;
  }

  /**
   * __arm_smmu_cmdq_poll_until_msi: the sync's MSI (MSIDATA = 0) lands on its own first
   * word. The core waits on it with LDXR + WFE (smp_cond_load_relaxed): the MSI write
   * clears the exclusive monitor and wakes it. queue_poll itself must not WFE, as no SEV
   * comes with the MSI.
   */
  private pollUntilMsi(syncProd: number): number {
    const cpu = thisCpu();
    const qp = this.queuePollInit(cpu);
    qp.wfe = false;
    let ret = 0;
    smp_cond_load_relaxed(cpu, this.cmdq.entPa(syncProd), (val) => val === 0 || (ret = this.queuePoll(cpu, qp)) !== 0, qp.timeout);
    const llq = this.cmdq.llq;
    llq.cons = ret ? syncProd : llq.incN(syncProd, 1);
    return ret;
  }

  /** __arm_smmu_cmdq_poll_until_consumed: CONS has moved past the sync (its CS=SEV wakes queue_poll's WFE). */
  private pollUntilConsumed(syncProd: number): number {
    const cpu = thisCpu();
    const llq = this.cmdq.llq;
    const qp = this.queuePollInit(cpu);
    let ret = 0;
    while (!llq.consumed(syncProd)) {
      ret = this.queuePoll(cpu, qp);
      // a readl (not relaxed) in Linux: the read must not pass the wait
      llq.cons = this.readl(this.cmdq.consReg);
      if (ret) break;
    }
    return ret;
  }

  issueCmd(ent: CmdqEnt, sync: boolean): number {
    const words = new Uint32Array(CMDQ_ENT_WORDS);
    if (buildCmd(words, ent)) {
      pr_warn(`${this.logName}: ignoring unknown CMDQ opcode 0x${ent.opcode.toString(16)}`);
      return -EINVAL;
    }
    return this.issueCmdlist(words, 1, sync);
  }

  /** arm_smmu_cmdq_batch_add: a full batch is issued without a sync, the rest waits. */
  batchAdd(b: CmdqBatch, ent: CmdqEnt): void {
    if (b.num === CMDQ_BATCH_ENTRIES) {
      this.issueCmdlist(b.cmds, b.num, false);
      b.num = 0;
    }
    const c = batchScratch;
    if (buildCmd(c, ent)) {
      pr_warn(`${this.logName}: ignoring unknown CMDQ opcode 0x${ent.opcode.toString(16)}`);
      return;
    }
    const at = b.num * CMDQ_ENT_WORDS;
    b.cmds[at] = c[0]!;
    b.cmds[at + 1] = c[1]!;
    b.cmds[at + 2] = c[2]!;
    b.cmds[at + 3] = c[3]!;
    b.num++;
  }

  batchSubmit(b: CmdqBatch): number {
    const r = this.issueCmdlist(b.cmds, b.num, true);
    b.num = 0;
    return r;
  }

  /** __arm_smmu_cmdq_skip_err: log CONS.ERR; an illegal command is overwritten with a CMD_SYNC. */
  private cmdqSkipErr(): void {
    const cons = this.readl(this.cmdq.consReg);
    const idx = (cons >>> R.CMDQ_CONS_ERR_SHIFT) & R.CMDQ_CONS_ERR_MASK;
    const names = ['No error', 'Illegal command', 'Abort on command fetch', 'ATC invalidate timeout'];
    pr_err(`${this.logName}: CMDQ error (cons 0x${cons.toString(16).padStart(8, '0')}): ${names[idx] ?? 'Unknown'}`);
    if (idx === R.CMDQ_ERR_CERROR_ABT_IDX) {
      pr_err(`${this.logName}: retrying command fetch`);
      return;
    }
    if (idx === R.CMDQ_ERR_CERROR_NONE_IDX || idx === R.CMDQ_ERR_CERROR_ATC_INV_IDX) return;
    const cpu = thisCpu();
    const bad = new Uint32Array(CMDQ_ENT_WORDS);
    const pa = this.cmdq.entPa(cons);
    loadDword(cpu, pa, bad, 0);
    loadDword(cpu, pa + 8, bad, 2);
    pr_err(`${this.logName}: skipping command in error state:\n\t${formatDwords(bad).split(' ').join('\n\t')}`);
    buildCmd(bad, { opcode: CMDQ_OP_CMD_SYNC });
    this.writeCmd(cons, bad, 0);
  }

  /**
   * svasoc test hook (debugfs iommu/<smmu>/inject_cmd, root only; not in Linux): writes
   * the command given as up to four hex 32-bit words (dword 0 low word first) to the
   * command queue as it is, followed by a CMD_SYNC, the way a driver bug that built a
   * malformed command would. Nothing checks the opcode: an illegal one stops the queue
   * (CMDQ_CONS.ERR = CERROR_ILL, GERROR.CMDQ_ERR) and the GERROR handler recovers.
   * Returns the bytes consumed, -EINVAL for text that is not 1-4 hex words.
   */
  injectCmd(text: string): number {
    const parts = text.trim().split(/\s+/);
    if (parts.length < 1 || parts.length > CMDQ_ENT_WORDS) return -EINVAL;
    const words = new Uint32Array(CMDQ_ENT_WORDS);
    for (let i = 0; i < parts.length; i++) {
      if (!/^(0x)?[0-9a-fA-F]{1,8}$/.test(parts[i]!)) return -EINVAL;
      words[i] = parseInt(parts[i]!.replace(/^0x/, ''), 16);
    }
    pr_warn(`${this.logName}: injecting command ${formatDwords(words)}`);
    this.issueCmdlist(words, 1, true);
    return text.length;
  }

  /** Whether the evtq_irq hook holds the event interrupt masked. */
  evtqIrqHeld = false;

  /**
   * svasoc test hook (debugfs iommu/<smmu>/evtq_irq, not in Linux): "0" masks the
   * event queue interrupt at the interrupt controller (disable_irq_nosync), "1" unmasks
   * it. While masked the SMMU keeps writing records and the line stays pending in the
   * GIC, as when evtq_thread cannot keep up with a fault storm; unmasking delivers it
   * and the thread finds what is left (and PROD.OVFLG if the queue overflowed).
   */
  holdEvtqIrq(text: string): number {
    const v = text.trim();
    if ((v !== '0' && v !== '1') || this.evtq.irq === 0) return -EINVAL;
    if (v === '0' && !this.evtqIrqHeld) disable_irq_nosync(this.evtq.irq);
    if (v === '1' && this.evtqIrqHeld) enable_irq(this.evtq.irq);
    this.evtqIrqHeld = v === '0';
    return text.length;
  }

  /** arm_smmu_gerror_handler. */
  gerrorHandler(): IrqReturn {
    const gerror = this.readl(R.ARM_SMMU_GERROR);
    const gerrorn = this.readl(R.ARM_SMMU_GERRORN);
    const active = (gerror ^ gerrorn) & R.GERROR_ERR_MASK;
    if (!active) return IRQ_NONE;
    this.stats.gerrors++;
    pr_warn(`${this.logName}: unexpected global error reported (0x${active.toString(16).padStart(8, '0')}), this could be serious`);
    if (active & R.GERROR_SFM_ERR) {
      pr_err(`${this.logName}: device has entered Service Failure Mode!`);
      this.writeRegSync(0, R.ARM_SMMU_CR0, R.ARM_SMMU_CR0ACK);
    }
    if (active & R.GERROR_MSI_GERROR_ABT_ERR) pr_warn(`${this.logName}: GERROR MSI write aborted`);
    if (active & R.GERROR_MSI_PRIQ_ABT_ERR) pr_warn(`${this.logName}: PRIQ MSI write aborted`);
    if (active & R.GERROR_MSI_EVTQ_ABT_ERR) pr_warn(`${this.logName}: EVTQ MSI write aborted`);
    if (active & R.GERROR_MSI_CMDQ_ABT_ERR) pr_warn(`${this.logName}: CMDQ MSI write aborted`);
    if (active & R.GERROR_PRIQ_ABT_ERR) pr_err(`${this.logName}: PRIQ write aborted -- events may have been lost`);
    if (active & R.GERROR_EVTQ_ABT_ERR) pr_err(`${this.logName}: EVTQ write aborted -- events may have been lost`);
    if (active & R.GERROR_CMDQ_ERR) this.cmdqSkipErr();
    this.writel(R.ARM_SMMU_GERRORN, gerror);
    return IRQ_HANDLED;
  }

  // ---- event and PRI queues ----

  /** queue_remove_raw: one entry into `out`, CONS published. False when empty. */
  private queueRemoveRaw(q: SmmuQueue, out: Uint32Array): boolean {
    if (q.llq.empty()) return false;
    const cpu = thisCpu();
    const pa = q.entPa(q.llq.cons);
    for (let d = 0; d < out.length / 2; d++) loadDword(cpu, pa + 8 * d, out, 2 * d);
    q.llq.incCons();
    this.writel(q.consReg, q.llq.cons);
    return true;
  }

  /** queue_sync_prod_in: true when PROD.OVFLG moved (entries were lost). */
  private syncProdIn(q: SmmuQueue): boolean {
    const prod = this.readl(q.prodReg);
    const ovf = LlQueue.ovf(prod) !== LlQueue.ovf(q.llq.prod);
    q.llq.prod = prod;
    return ovf;
  }

  /** queue_sync_cons_ovf: acknowledge an overflow by copying OVFLG into CONS.OVACKFLG. */
  private syncConsOvf(q: SmmuQueue): void {
    if (LlQueue.ovf(q.llq.prod) === LlQueue.ovf(q.llq.cons)) return;
    q.llq.cons = ((q.llq.prod & Q_OVERFLOW_FLAG) | q.llq.wrp(q.llq.cons) | q.llq.idx(q.llq.cons)) >>> 0;
    this.writel(q.consReg, q.llq.cons);
  }

  /** arm_smmu_evtq_thread: drains the event queue; stall faults go to the iopf queue. */
  *evtqThread(): Generator<unknown, IrqReturn, unknown> {
    const q = this.evtq;
    const evt = this.evtBuf;
    // Our PROD is refreshed only after a drain, so that an OVFLG toggle seen on the
    // first refresh is reported too (a refresh before the loop would swallow it)
    do {
      while (this.queueRemoveRaw(q, evt)) {
        this.stats.events++;
        const ret = this.handleEvt(evt);
        if (ret === 0) continue;
        const id = getField(evt, EVTQ.f.ID);
        pr_info(`${this.logName}: event 0x${id.toString(16).padStart(2, '0')} received:`);
        pr_info(`${this.logName}: ${EVT_NAMES[id] ?? 'UNKNOWN'} sid 0x${getField(evt, EVTQ.f.SID).toString(16)}${getField(evt, EVTQ.f.SSV) ? ` ssid 0x${getField(evt, EVTQ.f.SSID).toString(16)}` : ''} addr 0x${evtAddr(evt).toString(16)}`);
        for (const w of formatDwords(evt).split(' ')) pr_info(`${this.logName}: \t${w}`);
      }
      if (this.syncProdIn(q)) {
        this.stats.evtqOverflows++;
        pr_err(`${this.logName}: EVTQ overflow detected -- events lost`);
      }
    } while (!q.llq.empty());
    this.syncConsOvf(q);
    return IRQ_HANDLED;
  }

  /** arm_smmu_handle_evt: a stalled translation fault becomes a page request for iopf. */
  handleEvt(evt: Uint32Array): number {
    const id = getField(evt, EVTQ.f.ID);
    if (id !== EVT_ID_TRANSLATION_FAULT && id !== EVT_ID_ADDR_SIZE_FAULT && id !== EVT_ID_ACCESS_FAULT && id !== EVT_ID_PERMISSION_FAULT) return -1;
    // Stage 2 is always pinned here
    if (getField(evt, EVTQ.f.S2)) return -1;
    if (!getField(evt, EVTQ.f.STALL)) return -1;
    this.stats.stallEvents++;
    let perm = getField(evt, EVTQ.f.RnW) ? IOMMU_FAULT_PERM_READ : IOMMU_FAULT_PERM_WRITE;
    if (getField(evt, EVTQ.f.InD)) perm |= IOMMU_FAULT_PERM_EXEC;
    if (getField(evt, EVTQ.f.PnU)) perm |= IOMMU_FAULT_PERM_PRIV;
    const ssv = getField(evt, EVTQ.f.SSV) !== 0;
    const prm = {
      flags: IOMMU_FAULT_PAGE_REQUEST_LAST_PAGE | (ssv ? IOMMU_FAULT_PAGE_REQUEST_PASID_VALID : 0),
      pasid: ssv ? getField(evt, EVTQ.f.SSID) : 0,
      grpid: getField(evt, EVTQ.f.STAG),
      perm,
      addr: evtAddr(evt),
    };
    const master = this.streams.get(getField(evt, EVTQ.f.SID));
    if (master === undefined) return -EINVAL;
    const ret = iommu_report_device_fault(master.dev, prm);
    if (ret) {
      // Nobody handles it (no iopf queue for a device without SVA, or no fault handler
      // in the attached domain, e.g. a DMA domain): answer INVALID as Linux's
      // iopf_error_response does, which terminates the stalled access (CMD_RESUME ABORT)
      this.pageResponse(master.dev, { prm, reportedNs: thisCpu().now() }, { pasid: prm.pasid, grpid: prm.grpid, code: IOMMU_PAGE_RESP_INVALID });
    }
    return 0;
  }

  /** arm_smmu_priq_thread. */
  *priqThread(): Generator<unknown, IrqReturn, unknown> {
    const q = this.priq;
    const e = this.priBuf;
    let overflowed = false;
    do {
      while (this.queueRemoveRaw(q, e)) this.handlePpr(e);
      if (this.syncProdIn(q)) {
        this.stats.priqOverflows++;
        overflowed = true;
        pr_err(`${this.logName}: PRIQ overflow detected -- requests lost`);
      }
    } while (!q.llq.empty());
    // Page requests go to iopf here (upstream denies them), so the groups whose Last
    // request was lost in the overflow are parked there once the queue has been read:
    // drop them before acknowledging, as the Intel PRQ handler does (IHI 0070 8.1.1: a
    // group without its Last entry is ignored; the SMMU answered it).
    if (overflowed && this.iopf) iopf_queue_discard_partial(this.iopf);
    this.syncConsOvf(q);
    return IRQ_HANDLED;
  }

  /**
   * A PCIe page request: handed to the iopf queue like a stall (upstream Linux denies
   * every PRI request; svasoc resolves them through the same fault path). A group no
   * one handles is answered on its last page: InvalidRequest when the master takes page
   * faults, else ResponseFailure (PRI_RESP_DENY) as arm_smmu_handle_ppr answers.
   */
  handlePpr(e: Uint32Array): void {
    this.stats.pageRequests++;
    const sid = getField(e, PRIQ.f.SID);
    const ssv = getField(e, PRIQ.f.SSID_V) !== 0;
    const ssid = ssv ? getField(e, PRIQ.f.SSID) : IOMMU_NO_PASID;
    const last = getField(e, PRIQ.f.PRG_LAST) !== 0;
    const grpid = getField(e, PRIQ.f.PRG_IDX);
    let perm = 0;
    if (getField(e, PRIQ.f.READ)) perm |= IOMMU_FAULT_PERM_READ;
    if (getField(e, PRIQ.f.WRITE)) perm |= IOMMU_FAULT_PERM_WRITE;
    if (getField(e, PRIQ.f.EXEC)) perm |= IOMMU_FAULT_PERM_EXEC;
    if (getField(e, PRIQ.f.PRIV)) perm |= IOMMU_FAULT_PERM_PRIV;
    const prm = {
      flags: (last ? IOMMU_FAULT_PAGE_REQUEST_LAST_PAGE : 0) | (ssv ? IOMMU_FAULT_PAGE_REQUEST_PASID_VALID | IOMMU_FAULT_PAGE_RESPONSE_NEEDS_PASID : 0),
      pasid: ssid,
      grpid,
      perm,
      addr: getField(e, PRIQ.f.ADDR),
    };
    const master = this.streams.get(sid);
    const ret = master ? iommu_report_device_fault(master.dev, prm) : -EINVAL;
    if (ret && last) {
      this.stats.priResps++;
      if (master?.iopfEnabled) {
        // A master that takes page faults but has no handler at this PASID: the group
        // fails (iopf_error_response's INVALID), InvalidRequest, and PRI goes on
        this.issueCmd({ opcode: CMDQ_OP_PRI_RESP, substreamValid: ssv, sid, ssid, grpid, resp: PRI_RESP_FAIL }, false);
        return;
      }
      // arm_smmu_handle_ppr: nobody takes page requests from this stream, ResponseFailure
      pr_info(`${this.logName}: unexpected PRI request received: sid 0x${sid.toString(16).padStart(8, '0')}.0x${ssid.toString(16).padStart(5, '0')}: [${grpid}L] ${perm & IOMMU_FAULT_PERM_PRIV ? '' : 'un'}privileged ${perm & IOMMU_FAULT_PERM_READ ? 'R' : ''}${perm & IOMMU_FAULT_PERM_WRITE ? 'W' : ''}${perm & IOMMU_FAULT_PERM_EXEC ? 'X' : ''} access at iova 0x${prm.addr.toString(16).padStart(16, '0')}`);
      this.issueCmd({ opcode: CMDQ_OP_PRI_RESP, substreamValid: ssv, sid, ssid, grpid, resp: PRI_RESP_DENY }, false);
    }
  }

  /**
   * arm_smmu_page_response: a stalled master gets CMD_RESUME (STAG = grpid, RETRY on
   * success, ABORT otherwise); a PRI master gets PRI_RESP. Neither needs a CMD_SYNC:
   * the SMMU acts on RESUME when it consumes it and PRI_RESP is fire and forget.
   */
  pageResponse(dev: Device, fault: IopfFault, resp: IommuPageResponse): void {
    const master = masterOf(dev);
    if (master === null || master.streams.length === 0) return;
    const sid = master.streams[0]!;
    if (master.stallEnabled) {
      this.stats.resumes++;
      this.issueCmd({ opcode: CMDQ_OP_RESUME, sid, stag: resp.grpid, resp: resp.code === IOMMU_PAGE_RESP_SUCCESS ? CMDQ_RESUME_0_RESP_RETRY : CMDQ_RESUME_0_RESP_ABORT }, false);
      return;
    }
    const ssv = (fault.prm.flags & IOMMU_FAULT_PAGE_REQUEST_PASID_VALID) !== 0;
    // IHI 0070 4.5.2 Resp: INVALID (this group could not be paged in) is InvalidRequest,
    // 0b01 (Linux's PRI_RESP_FAIL); FAILURE (stop faulting) is ResponseFailure, 0b00 (PRI_RESP_DENY)
    const code = resp.code === IOMMU_PAGE_RESP_SUCCESS ? PRI_RESP_SUCC : resp.code === IOMMU_PAGE_RESP_INVALID ? PRI_RESP_FAIL : PRI_RESP_DENY;
    this.stats.priResps++;
    this.issueCmd({ opcode: CMDQ_OP_PRI_RESP, substreamValid: ssv, sid, ssid: fault.prm.pasid, grpid: resp.grpid, resp: code }, false);
  }

  // ---- STE and CD installation ----

  /** arm_smmu_write_ste: hitless update, each step synced with CFGI_STE + CMD_SYNC, then PREFETCH_CFG. */
  writeSte(sid: number, target: Uint32Array): void {
    const cpu = thisCpu();
    const pa = this.stePa(sid);
    for (let d = 0; d < 8; d++) loadDword(cpu, pa + 8 * d, steScratch, 2 * d);
    const writer: EntryWriter = {
      ops: STE_OPS,
      writeDword: (d, lo, hi) => storeDword(cpu, pa + 8 * d, lo, hi),
      sync: () => void this.issueCmd({ opcode: CMDQ_OP_CFGI_STE, sid, leaf: true }, true),
    };
    writeEntry(writer, steScratch, target);
    if (!(this.options & F.ARM_SMMU_OPT_SKIP_PREFETCH)) this.issueCmd({ opcode: CMDQ_OP_PREFETCH_CFG, sid }, false);
  }

  installSteForDev(master: ArmSmmuMaster, target: Uint32Array): void {
    master.cdTable.inSte = getField(target, STE.f.CFG) === STRTAB_STE_0_CFG_S1_TRANS;
    const seen = new Set<number>();
    for (const sid of master.streams) {
      if (seen.has(sid)) continue;
      seen.add(sid);
      this.writeSte(sid, target);
    }
  }

  /** arm_smmu_sync_cd: CFGI_CD for every stream of the master, one sync. */
  syncCd(master: ArmSmmuMaster, ssid: number, leaf: boolean): void {
    const b = new CmdqBatch();
    for (const sid of master.streams) this.batchAdd(b, { opcode: CMDQ_OP_CFGI_CD, sid, ssid, leaf });
    this.batchSubmit(b);
  }

  /** arm_smmu_alloc_cd_tables: linear up to 1024 CDs, else 2-level with 1024-CD leaves. */
  private allocCdTables(master: ArmSmmuMaster): number {
    const t = master.cdTable;
    t.s1cdmax = master.ssidBits;
    const maxContexts = 2 ** t.s1cdmax;
    let l1size: number;
    if (!(this.features & F.ARM_SMMU_FEAT_2_LVL_CDTAB) || maxContexts <= CTXDESC_L2_ENTRIES) {
      t.s1fmt = STRTAB_STE_0_S1FMT_LINEAR;
      t.numL1 = maxContexts;
      l1size = maxContexts * 64;
    } else {
      t.s1fmt = STRTAB_STE_0_S1FMT_64K_L2;
      t.numL1 = Math.ceil(maxContexts / CTXDESC_L2_ENTRIES);
      t.l2 = new Array<number>(t.numL1).fill(0);
      l1size = t.numL1 * 8;
    }
    const pa = this.allocCoherent(l1size);
    if (pa < 0) {
      pr_warn(`${this.logName}: failed to allocate context descriptor`);
      return -ENOMEM;
    }
    t.cdtabDma = pa;
    return 0;
  }

  /** arm_smmu_get_cd_ptr: physical address of the CD, or -1 when its leaf does not exist. */
  getCdPtr(master: ArmSmmuMaster, ssid: number): number {
    const t = master.cdTable;
    if (!t.cdtabDma) return -1;
    if (t.s1fmt === STRTAB_STE_0_S1FMT_LINEAR) return t.cdtabDma + ssid * 64;
    const l2 = t.l2[ssid >> CTXDESC_SPLIT];
    return l2 ? l2 + (ssid & (CTXDESC_L2_ENTRIES - 1)) * 64 : -1;
  }

  /** arm_smmu_alloc_cd_ptr: allocates the table and the leaf on first use. */
  allocCdPtr(master: ArmSmmuMaster, ssid: number): number {
    const t = master.cdTable;
    if (!t.cdtabDma && this.allocCdTables(master)) return -1;
    if (t.s1fmt === STRTAB_STE_0_S1FMT_64K_L2) {
      const idx = ssid >> CTXDESC_SPLIT;
      if (!t.l2[idx]) {
        const l2 = this.allocCoherent(CTXDESC_L2_ENTRIES * 64);
        if (l2 < 0) return -1;
        t.l2[idx] = l2;
        const d = new Uint32Array(2);
        setField(d, L1CD.f.V, 1);
        setField(d, L1CD.f.L2PTR, l2);
        storeDword(thisCpu(), t.cdtabDma + idx * 8, d[0]!, d[1]!);
        // An invalid L1CD may have been cached
        this.syncCd(master, ssid, false);
      }
    }
    return this.getCdPtr(master, ssid);
  }

  /** arm_smmu_write_cd_entry: hitless CD update, each step synced with CFGI_CD. */
  writeCdEntry(master: ArmSmmuMaster, ssid: number, cdPa: number, target: Uint32Array): void {
    const cpu = thisCpu();
    for (let d = 0; d < 8; d++) loadDword(cpu, cdPa + 8 * d, cdScratch, 2 * d);
    const curValid = (cdScratch[0]! >>> 31) & 1;
    const tgtValid = (target[0]! >>> 31) & 1;
    if (ssid !== IOMMU_NO_PASID && curValid !== tgtValid) master.cdTable.usedSsids += tgtValid ? 1 : -1;
    writeEntry({ ops: CD_OPS, writeDword: (d, lo, hi) => storeDword(cpu, cdPa + 8 * d, lo, hi), sync: () => this.syncCd(master, ssid, true) }, cdScratch, target);
  }

  /** arm_smmu_clear_cd. */
  clearCd(master: ArmSmmuMaster, ssid: number): void {
    const pa = this.getCdPtr(master, ssid);
    if (pa < 0) return;
    this.writeCdEntry(master, ssid, pa, new Uint32Array(CD_WORDS));
  }

  // ---- masters ----

  /** arm_smmu_probe_device. */
  probeDevice(dev: Device): number {
    const ids = dev_iommu(dev)?.fwspec.ids ?? [];
    if (ids.length === 0) return -ENODEV;
    const master = new ArmSmmuMaster(dev, this, [...ids]);
    for (const sid of ids) {
      if (!this.sidInRange(sid)) return -ERANGE;
      if (this.features & F.ARM_SMMU_FEAT_2_LVL_STRTAB && this.initL2Strtab(sid)) return -ENOMEM;
      if (this.streams.has(sid)) {
        pr_warn(`${dev.name}: stream ${sid} already in tree`);
        return -EINVAL;
      }
    }
    for (const sid of ids) this.streams.set(sid, master);
    master.ssidBits = Math.min(this.ssidBits, device_property_read_u32(dev, 'pasid-num-bits') ?? 0);
    // arm_smmu_enable_pasid: a PCI function's PASID capability sizes its SSIDs, and is enabled here
    const numPasids = pci_max_pasids(dev);
    if (numPasids > 0 && this.ssidBits > 0) {
      const features = pci_pasid_features(dev);
      if (features >= 0 && pci_enable_pasid(dev, features) === 0) {
        master.ssidBits = Math.min(Math.floor(Math.log2(numPasids)), this.ssidBits);
        master.pasidEnabled = true;
      }
    }
    if (!(this.features & F.ARM_SMMU_FEAT_2_LVL_CDTAB)) master.ssidBits = Math.min(master.ssidBits, CTXDESC_LINEAR_CDMAX);
    if ((this.features & F.ARM_SMMU_FEAT_STALLS && device_property_read_bool(dev, 'dma-can-stall')) || this.features & F.ARM_SMMU_FEAT_STALL_FORCE) master.stallEnabled = true;
    dev_iommu_priv_set(dev, master);
    const param = dev_iommu(dev);
    if (param) param.maxPasids = 2 ** master.ssidBits;
    return 0;
  }

  /** arm_smmu_release_device: pending faults answered, STE back to abort, streams dropped. */
  releaseDevice(dev: Device): void {
    const master = masterOf(dev);
    if (master === null) return;
    if (master.iopfEnabled && this.iopf) iopf_queue_remove_device(this.iopf, dev);
    if (master.priEnabled) pci_disable_pri(dev);
    makeAbortSte(steTarget);
    this.installSteForDev(master, steTarget);
    if (master.stallEnabled) this.stallTerm(master);
    // No domain may reach the master's CDs any more (arm_smmu_attach_dev_blocked)
    for (const d of allDomains) {
      for (let i = d.devices.length - 1; i >= 0; i--) if (d.devices[i]!.master === master) d.devices.splice(i, 1);
    }
    for (const sid of master.streams) this.streams.delete(sid);
    if (master.pasidEnabled) pci_disable_pasid(dev);
    // The STE no longer points at the CD table (synced above): arm_smmu_free_cd_tables
    this.freeCdTables(master);
    dev_iommu_priv_set(dev, null);
  }

  /** arm_smmu_free_cd_tables: the leaf tables, then the linear or level 1 table. */
  private freeCdTables(master: ArmSmmuMaster): void {
    const t = master.cdTable;
    if (!t.cdtabDma) return;
    if (t.s1fmt === STRTAB_STE_0_S1FMT_64K_L2) {
      for (const l2 of t.l2) if (l2) arm_smmu_free_coherent(l2, CTXDESC_L2_ENTRIES * 64);
      arm_smmu_free_coherent(t.cdtabDma, t.numL1 * 8);
    } else {
      arm_smmu_free_coherent(t.cdtabDma, t.numL1 * 64);
    }
    t.cdtabDma = 0;
    t.l2 = [];
    t.numL1 = 0;
    t.usedSsids = 0;
    t.inSte = false;
  }

  /**
   * CMD_STALL_TERM for every stream of a stall master that is going away (svasoc; Linux's
   * arm_smmu_release_device does not issue it). iopf_queue_remove_device has answered
   * every stall the driver was told about with CMD_RESUME, but a stall whose record the
   * SMMU has not written yet (the event queue full or its interrupt not yet serviced:
   * IHI 0070 7.2.1, a stall record is held, never discarded) has a STAG nobody knows;
   * once the master's stream is forgotten its event would find no master and the
   * transaction would stay stalled, holding one of IDR5.STALL_MAX slots. STALL_TERM
   * (IHI 0070 4.7.3) ends all stalls of the StreamID whatever their STAG; the STE is
   * already abort, so no new stall can begin.
   */
  private stallTerm(master: ArmSmmuMaster): void {
    const b = new CmdqBatch();
    for (const sid of master.streams) this.batchAdd(b, { opcode: CMDQ_OP_STALL_TERM, sid });
    this.batchSubmit(b);
  }

  /** Identity / blocked attach (arm_smmu_attach_dev_ste): a cdtable STE with S1DSS when PASIDs are live. */
  private attachDevSte(dev: Device, kind: 'bypass' | 'abort'): number {
    const master = masterOf(dev);
    if (master === null) return -ENODEV;
    this.detachFromDomains(master, IOMMU_NO_PASID);
    if (master.cdTable.usedSsids > 0) makeCdtableSte(steTarget, this.features, master.stallEnabled, master.cdTable, false, kind === 'bypass' ? STRTAB_STE_1_S1DSS_BYPASS : STRTAB_STE_1_S1DSS_TERMINATE);
    else if (kind === 'bypass') makeBypassSte(this.features, steTarget);
    else makeAbortSte(steTarget);
    this.installSteForDev(master, steTarget);
    this.clearCd(master, IOMMU_NO_PASID);
    return 0;
  }

  private detachFromDomains(master: ArmSmmuMaster, ssid: number): void {
    for (const d of allDomains) {
      const i = d.devices.findIndex((x) => x.master === master && x.ssid === ssid);
      if (i >= 0) d.devices.splice(i, 1);
    }
  }

  // ---- paging domains ----

  /** arm_smmu_domain_alloc_paging + arm_smmu_domain_finalise (stage 1). */
  domainAllocPaging(type: number): ArmSmmuDomain | number {
    const d = new ArmSmmuDomain(type, PAGING_OPS);
    const r = this.finaliseS1(d);
    return r ? r : d;
  }

  /** xa_alloc in arm_smmu_asid_xa: the lowest free ASID (1 up), recorded as `d`'s. */
  allocAsid(d: ArmSmmuDomain): number {
    for (let a = 1; a < 2 ** this.asidBits; a++) {
      if (!this.asids.has(a)) {
        this.asids.set(a, d);
        return a;
      }
    }
    return -ENOSPC;
  }

  /** arm_smmu_free_asid: the ASID goes back to the pool if `d` still holds it. */
  freeAsid(d: ArmSmmuDomain): void {
    if (this.asids.get(d.asid) === d) this.asids.delete(d.asid);
  }

  private finaliseS1(d: ArmSmmuDomain): number {
    if (!(this.features & F.ARM_SMMU_FEAT_TRANS_S1)) return -EINVAL;
    const asid = this.allocAsid(d);
    if (asid < 0) return asid;
    const pgtbl = IoPgtable.alloc({
      // arm_smmu_tlb_inv_walk: a table was unhooked, every level of its span goes (leaf = 0)
      flushWalk: (iova, size, granule) => {
        this.tlbInvRangeAsid(iova, size, d.asid, granule, false, d);
        this.atcInvDomain(d, iova, size);
      },
      // arm_smmu_tlb_inv_page_nosync
      addPage: (gather, iova, granule) => iommu_iotlb_gather_add_page(d, gather, iova, granule),
    });
    if (pgtbl === null) {
      this.asids.delete(asid);
      return -ENOMEM;
    }
    d.smmu = this;
    d.asid = asid;
    d.pgtbl = pgtbl;
    // arm_lpae_restrict_pgsizes for the 4 KiB granule: 4K | 2M | 1G, of those the SMMU has
    d.pgsizeBitmap = [12, 21, 30].reduce((m, b) => (pgsize_has(this.pgsizeBitmap, b) ? m + 2 ** b : m), 0);
    d.apertureStart = 0;
    d.apertureEnd = 2 ** Math.min(IO_PGTABLE_IAS, this.features & F.ARM_SMMU_FEAT_VAX ? 52 : 48) - 1;
    allDomains.push(d);
    return 0;
  }

  /** The CD of a stage-1 paging domain. */
  makeDomainCd(out: Uint32Array, master: ArmSmmuMaster, d: ArmSmmuDomain): void {
    const ips = R.OAS_BITS.indexOf(this.ias as (typeof R.OAS_BITS)[number]);
    makeS1Cd(out, master.stallEnabled, d.asid, {
      ttbr: d.pgtbl!.pgd,
      tsz: 64 - IO_PGTABLE_IAS,
      tg: 0,
      irgn: this.features & F.ARM_SMMU_FEAT_COHERENCY ? 1 : 0,
      orgn: this.features & F.ARM_SMMU_FEAT_COHERENCY ? 1 : 0,
      sh: this.features & F.ARM_SMMU_FEAT_COHERENCY ? 3 : 0,
      ips: ips < 0 ? 5 : ips,
      mair: IO_PGTABLE_MAIR,
    });
  }

  /** arm_smmu_attach_dev for a stage-1 paging domain: CD at SSID 0, then a cdtable STE. */
  attachDev(d: ArmSmmuDomain, dev: Device): number {
    const master = masterOf(dev);
    if (master === null) return -ENODEV;
    if (d.smmu !== this) return -EINVAL;
    const cdPa = this.allocCdPtr(master, IOMMU_NO_PASID);
    if (cdPa < 0) return -ENOMEM;
    this.detachFromDomains(master, IOMMU_NO_PASID);
    d.devices.push({ master, ssid: IOMMU_NO_PASID });
    const cd = new Uint32Array(CD_WORDS);
    this.makeDomainCd(cd, master, d);
    this.writeCdEntry(master, IOMMU_NO_PASID, cdPa, cd);
    makeCdtableSte(steTarget, this.features, master.stallEnabled, master.cdTable, false, STRTAB_STE_1_S1DSS_SSID0);
    this.installSteForDev(master, steTarget);
    return 0;
  }

  /**
   * arm_smmu_set_pasid: installs `cd` at `pasid` and makes sure the STE walks the CD
   * table (an identity/blocked RID becomes S1DSS=bypass/terminate, hitlessly).
   */
  setPasid(master: ArmSmmuMaster, d: ArmSmmuDomain, pasid: number, cd: Uint32Array): number {
    const sidDomain = iommu_get_domain_for_dev(master.dev);
    if (d.smmu !== this) return -EINVAL;
    if (!master.cdTable.inSte && sidDomain !== null && sidDomain.type !== IOMMU_DOMAIN_IDENTITY && sidDomain.type !== IOMMU_DOMAIN_BLOCKED) return -EINVAL;
    const cdPa = this.allocCdPtr(master, pasid);
    if (cdPa < 0) return -ENOMEM;
    d.devices.push({ master, ssid: pasid });
    this.writeCdEntry(master, pasid, cdPa, cd);
    if (!master.cdTable.inSte) {
      const s1dss = sidDomain?.type === IOMMU_DOMAIN_IDENTITY ? STRTAB_STE_1_S1DSS_BYPASS : STRTAB_STE_1_S1DSS_TERMINATE;
      makeCdtableSte(steTarget, this.features, master.stallEnabled, master.cdTable, false, s1dss);
      this.installSteForDev(master, steTarget);
    }
    return 0;
  }

  /** arm_smmu_remove_dev_pasid: clears the CD; the last PASID gone puts a plain RID STE back. */
  removeDevPasid(dev: Device, pasid: number, domain: IommuDomain): void {
    const master = masterOf(dev);
    if (master === null) return;
    this.clearCd(master, pasid);
    if (this.features & F.ARM_SMMU_FEAT_ATS) this.atcInvMaster(master, pasid);
    if (domain instanceof ArmSmmuDomain) {
      const i = domain.devices.findIndex((x) => x.master === master && x.ssid === pasid);
      if (i >= 0) domain.devices.splice(i, 1);
    }
    if (master.cdTable.usedSsids === 0) {
      const sid = iommu_get_domain_for_dev(dev);
      if (sid !== null && (sid.type === IOMMU_DOMAIN_IDENTITY || sid.type === IOMMU_DOMAIN_BLOCKED)) sid.ops.attachDev?.(sid, dev);
    }
  }

  // ---- invalidation ----

  /** arm_smmu_tlb_inv_asid. */
  tlbInvAsid(asid: number): void {
    this.issueCmd({ opcode: CMDQ_OP_TLBI_NH_ASID, asid, vmid: 0 }, true);
  }

  /** arm_smmu_tlb_inv_range_asid: TLBI_NH_VA over the range, one batch, one sync. */
  tlbInvRangeAsid(iova: number, size: number, asid: number, granule: number, leaf: boolean, d: ArmSmmuDomain): void {
    // every strict-mode unmap comes here: the batch (a 4 KiB command buffer, on the
    // stack in Linux) is reused; an invalidation nested in an IRQ taken while this one
    // polls for its CMD_SYNC takes another from the pool
    const b = this.tlbiBatches.pop() ?? new CmdqBatch();
    tlbiRangeCommands({ opcode: CMDQ_OP_TLBI_NH_VA, asid, vmid: 0, leaf }, iova, size, granule, d.pgsizeBitmap, (this.features & F.ARM_SMMU_FEAT_RANGE_INV) !== 0, (ent) => this.batchAdd(b, ent));
    this.batchSubmit(b);
    this.tlbiBatches.push(b);
  }

  /** arm_smmu_atc_inv_master. */
  atcInvMaster(master: ArmSmmuMaster, ssid: number): void {
    const ent: CmdqEnt = { opcode: CMDQ_OP_ATC_INV };
    atcInvCommand(ent, ssid === IOMMU_NO_PASID ? null : ssid, 0, 0);
    const b = new CmdqBatch();
    for (const sid of master.streams) this.batchAdd(b, { ...ent, sid });
    this.batchSubmit(b);
  }

  /** arm_smmu_atc_inv_domain: only masters with ATS enabled have an ATC to invalidate. */
  atcInvDomain(d: ArmSmmuDomain, iova: number, size: number): void {
    if (!(this.features & F.ARM_SMMU_FEAT_ATS)) return;
    const b = new CmdqBatch();
    for (const { master, ssid } of d.devices) {
      const ent: CmdqEnt = { opcode: CMDQ_OP_ATC_INV };
      atcInvCommand(ent, ssid === IOMMU_NO_PASID ? null : ssid, iova, size);
      for (const sid of master.streams) this.batchAdd(b, { ...ent, sid });
    }
    if (b.num) this.batchSubmit(b);
  }

  /** Debug text for /sys/kernel/debug/iommu/<smmu>/stats. */
  debugStats(): string {
    const s = this.stats;
    return Object.entries(s).map(([k, v]) => `${k} ${v}`).join('\n') + `\nfeatures 0x${(this.features >>> 0).toString(16)}\noptions 0x${this.options.toString(16)}\ncmdq_prod 0x${this.cmdq.llq.prod.toString(16)}\ncmdq_cons 0x${this.cmdq.llq.cons.toString(16)}\n`;
  }

  /** arm_smmu_master_iopf_supported + iopf_queue_add_device. */
  enableIopf(dev: Device): number {
    const master = masterOf(dev);
    if (master === null) return -ENODEV;
    if (master.streams.length !== 1) return -EINVAL;
    const pri = !master.stallEnabled && pci_pri_supported(dev) && (this.features & F.ARM_SMMU_FEAT_PRI) !== 0;
    if (!master.stallEnabled && !pri) return -EINVAL;
    if (this.iopf === null) return -EINVAL;
    if (master.iopfEnabled) return 0;
    if (pri) {
      // The device's page requests go to our PRI queue: allocate its outstanding requests and enable
      pci_reset_pri(dev);
      const r = pci_enable_pri(dev, ARM_SMMU_PRI_REQS);
      if (r) return r;
      master.priEnabled = true;
    }
    const r = iopf_queue_add_device(this.iopf, dev);
    if (r) return r;
    master.iopfEnabled = true;
    return 0;
  }

  disableIopf(dev: Device): number {
    const master = masterOf(dev);
    if (master === null || !master.iopfEnabled || this.iopf === null) return -EINVAL;
    iopf_queue_remove_device(this.iopf, dev);
    if (master.priEnabled) pci_disable_pri(dev);
    master.priEnabled = false;
    master.iopfEnabled = false;
    return 0;
  }
}

const STE_OPS: EntryWriterOps = { getUsed: getSteUsed, getUpdateSafe: getSteUpdateSafe };
const CD_OPS: EntryWriterOps = { getUsed: getCdUsed };
/** Every live arm-smmu-v3 domain, paging and SVA (the driver's view, for detach bookkeeping). */
const allDomains: ArmSmmuDomain[] = [];

/** Records a domain made outside this file (SVA) so that device release finds its masters. */
export function arm_smmu_domain_track(d: ArmSmmuDomain): void {
  if (!allDomains.includes(d)) allDomains.push(d);
}

export function arm_smmu_domain_untrack(d: ArmSmmuDomain): void {
  const i = allDomains.indexOf(d);
  if (i >= 0) allDomains.splice(i, 1);
}

/** dev_iommu_priv_get narrowed to this driver's master. */
export function masterOf(dev: Device): ArmSmmuMaster | null {
  const m = dev_iommu_priv_get(dev);
  return m instanceof ArmSmmuMaster ? m : null;
}

function smmuOf(d: IommuDomain): ArmSmmuDevice | null {
  return d instanceof ArmSmmuDomain ? d.smmu : null;
}

/** iommu_domain_ops of stage-1 paging domains (DMA and unmanaged). */
const PAGING_OPS = {
  attachDev(domain: IommuDomain, dev: Device): number {
    const smmu = smmuOf(domain);
    return smmu === null ? -EINVAL : smmu.attachDev(domain as ArmSmmuDomain, dev);
  },
  setDevPasid(domain: IommuDomain, dev: Device, pasid: number): number {
    const smmu = smmuOf(domain);
    const master = masterOf(dev);
    if (smmu === null || master === null) return -EINVAL;
    const cd = new Uint32Array(CD_WORDS);
    smmu.makeDomainCd(cd, master, domain as ArmSmmuDomain);
    return smmu.setPasid(master, domain as ArmSmmuDomain, pasid, cd);
  },
  mapPages(domain: IommuDomain, iova: number, pa: number, pgsize: number, pgcount: number, prot: number): number {
    const d = domain as ArmSmmuDomain;
    if (d.pgtbl === null) return -ENODEV;
    return d.pgtbl.map(iova, pa, pgsize, pgcount, prot);
  },
  unmapPages(domain: IommuDomain, iova: number, pgsize: number, pgcount: number, gather: IotlbGather): number {
    const d = domain as ArmSmmuDomain;
    if (d.pgtbl === null) return 0;
    return d.pgtbl.unmap(iova, pgsize, pgcount, gather);
  },
  iotlbSync(domain: IommuDomain, gather: IotlbGather): void {
    const d = domain as ArmSmmuDomain;
    if (!gather.pgsize || d.smmu === null) return;
    d.smmu.tlbInvRangeAsid(gather.start, gather.end - gather.start + 1, d.asid, gather.pgsize, true, d);
    d.smmu.atcInvDomain(d, gather.start, gather.end - gather.start + 1);
  },
  flushIotlbAll(domain: IommuDomain): void {
    const d = domain as ArmSmmuDomain;
    if (d.smmu === null) return;
    d.smmu.tlbInvAsid(d.asid);
    d.smmu.atcInvDomain(d, 0, 0);
  },
  iovaToPhys(domain: IommuDomain, iova: number): number {
    return (domain as ArmSmmuDomain).pgtbl?.iovaToPhys(iova) ?? 0;
  },
  free(domain: IommuDomain): void {
    const d = domain as ArmSmmuDomain;
    // free_io_pgtable_ops flushes the context first: no IOTLB entry may outlive the
    // tables, or survive into the next domain given this ASID
    if (d.pgtbl !== null) d.smmu?.tlbInvAsid(d.asid);
    d.pgtbl?.free();
    d.pgtbl = null;
    d.smmu?.freeAsid(d);
    const i = allDomains.indexOf(d);
    if (i >= 0) allDomains.splice(i, 1);
  },
};

/** The arm-smmu-v3 iommu_ops for one probed SMMU. */
function makeOps(smmu: ArmSmmuDevice): IommuOps {
  return {
    name: 'arm-smmu-v3',
    pgsizeBitmap: smmu.pgsizeBitmap,
    identityDomain: smmu.identityDomain,
    blockedDomain: smmu.blockedDomain,
    probeDevice: (dev) => smmu.probeDevice(dev),
    releaseDevice: (dev) => smmu.releaseDevice(dev),
    domainAllocPaging: (_dev, type) => smmu.domainAllocPaging(type),
    domainAllocSva: (dev, mm) => arm_smmu_sva_domain_alloc(smmu, dev, mm),
    getResvRegions: (): IommuResvRegion[] => [{ start: MSI_IOVA_BASE, length: MSI_IOVA_LENGTH, prot: IOMMU_WRITE | IOMMU_NOEXEC | IOMMU_MMIO, type: IOMMU_RESV_SW_MSI }],
    pageResponse: (dev, fault, resp) => smmu.pageResponse(dev, fault, resp),
    removeDevPasid: (dev, pasid, domain) => smmu.removeDevPasid(dev, pasid, domain),
    devEnableIopf: (dev) => smmu.enableIopf(dev),
    devDisableIopf: (dev) => smmu.disableIopf(dev),
  };
}

/** Set by sva.ts (which imports this file) to avoid an import cycle. */
let arm_smmu_sva_domain_alloc: (smmu: ArmSmmuDevice, dev: Device, mm: import('../../../mm/mm_types.js').MmStruct) => IommuDomain | number = () => -ENODEV;
export function set_sva_domain_alloc(fn: typeof arm_smmu_sva_domain_alloc): void {
  arm_smmu_sva_domain_alloc = fn;
}

function irqByName(np: DeviceNode, name: string, mapIrq: (spec: OfPhandleArgs) => number): number {
  const spec = irqSpec(np, name);
  return spec === undefined ? 0 : mapIrq(spec);
}

function irqSpec(np: DeviceNode, name: string): OfPhandleArgs | undefined {
  const names = of_property_read_string_array(np, 'interrupt-names') ?? [];
  const i = names.indexOf(name);
  return i < 0 ? undefined : of_irq_parse_one(np, i);
}

const smmus: ArmSmmuDevice[] = [];

export function arm_smmu_devices(): readonly ArmSmmuDevice[] {
  return smmus;
}

/** Forgets the SMMUs and domains of an earlier boot in the same host process. */
export function arm_smmu_reset_state(): void {
  smmus.length = 0;
  allDomains.length = 0;
}

/**
 * arm_smmu_device_probe for one "arm,smmu-v3" node: DT properties, MMIO region, IRQs by
 * name, hardware probe, in-memory structures, reset, registration with the IOMMU core.
 * Returns the device or a negative errno.
 */
export function arm_smmu_device_probe(np: DeviceNode, mapIrq: (spec: OfPhandleArgs) => number): ArmSmmuDevice | number {
  const cells = of_property_read_u32(np, '#iommu-cells');
  if (cells === undefined) {
    pr_err('arm-smmu-v3: missing #iommu-cells property');
    return -EINVAL;
  }
  if (cells !== 1) {
    pr_err(`arm-smmu-v3: invalid #iommu-cells value (${cells})`);
    return -EINVAL;
  }
  const res = of_reg(np)[0];
  if (res === undefined) return -EINVAL;
  const name = `smmu3.0x${res.start.toString(16).padStart(16, '0')}`;
  const pageOnly = of_property_read_bool(np, 'cavium,cn9900-broken-page1-regspace');
  if (res.end - res.start + 1 < (pageOnly ? 0x10000 : 0x20000)) {
    pr_err(`${name}: MMIO region too small`);
    return -EINVAL;
  }
  const smmu = new ArmSmmuDevice(np, res.start, name, `${res.start.toString(16)}.${np.name}`);
  if (of_property_read_bool(np, 'hisilicon,broken-prefetch-cmd')) smmu.options |= F.ARM_SMMU_OPT_SKIP_PREFETCH;
  if (pageOnly) smmu.usePage0Regs();
  if (of_property_read_bool(np, 'dma-coherent')) smmu.features |= F.ARM_SMMU_FEAT_COHERENCY;
  const combined = irqByName(np, 'combined', mapIrq);
  if (combined > 0) smmu.combinedIrq = combined;
  else {
    smmu.evtq.irq = irqByName(np, 'eventq', mapIrq);
    smmu.priq.irq = irqByName(np, 'priq', mapIrq);
    smmu.gerrIrq = irqByName(np, 'gerror', mapIrq);
  }
  // irq_create_of_mapping sets the trigger from the specifier's flags cell (GIC: 1 = edge rising)
  const spec = irqSpec(np, combined > 0 ? 'combined' : 'eventq');
  if (spec !== undefined && spec.args.length >= 3) smmu.irqTrigger = spec.args[2]! & 0xf;
  const ret = arm_smmu_device_init(smmu);
  return ret ? ret : smmu;
}

/**
 * The probe steps after the firmware description is read: hardware probe, in-memory
 * structures, reset and registration with the IOMMU core. 0 or -errno.
 */
export function arm_smmu_device_init(smmu: ArmSmmuDevice): number {
  let ret = smmu.hwProbe();
  if (ret) return ret;
  ret = smmu.initStructures();
  if (ret) return ret;
  ret = smmu.reset();
  if (ret) return ret;
  smmu.iommu = new IommuDevice(smmu.name, makeOps(smmu), smmu.node, 2 ** smmu.ssidBits);
  ret = iommu_device_register(smmu.iommu);
  if (ret) {
    pr_err(`${smmu.name}: Failed to register iommu`);
    return ret;
  }
  debugfs_create_file(`iommu/${smmu.name}/stats`, () => smmu.debugStats());
  debugfs_create_file(`iommu/${smmu.name}/inject_cmd`, undefined, (text) => smmu.injectCmd(text), 0o200);
  debugfs_create_file(`iommu/${smmu.name}/evtq_irq`, () => `${smmu.evtqIrqHeld ? 0 : 1}\n`, (text) => smmu.holdEvtqIrq(text), 0o600);
  smmus.push(smmu);
  return 0;
}

/** Frees a domain's ASID-less pieces when probe fails midway (dmam_* would). */
export function arm_smmu_free_coherent(pa: number, bytes: number): void {
  free_pages(pa, Math.max(0, Math.ceil(Math.log2(Math.max(bytes, PAGE_SIZE) / PAGE_SIZE))));
}
