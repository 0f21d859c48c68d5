// SVA for the SMMUv3 (arm-smmu-v3-sva.c of the shared-ASID era, ~v6.7-6.9, in shape):
// an SVA domain's CD walks the process's page table with the process's CPU ASID,
// pinned with arm64_mm_context_get so that CPU ASID rollovers never hand it to
// another mm. A private (DMA/unmanaged) domain that happens to own that ASID on the
// SMMU is moved to a fresh one first (its CDs rewritten hitlessly, the old ASID
// invalidated). An MMU notifier turns CPU TLB flushes of the mm into TLBI_NH_VA
// (range) or TLBI_NH_ASID with the shared ASID, plus ATC_INV; on mm exit it installs
// the "quiet" CD (valid, EPD0: translates nothing). Unbind frees the ASID and unpins it.

import { thisCpu } from '../../../../arch/index.js';
import { EINVAL, ENOSPC, ESRCH } from '../../../lib/errno.js';
import { pr_warn } from '../../../lib/printk.js';
import { arm64_mm_context_get, arm64_mm_context_put } from '../../../mm/context.js';
import { MmuNotifier, type MmStruct } from '../../../mm/mm_types.js';
import { mmu_notifier_put, mmu_notifier_register, ULONG_MAX } from '../../../mm/mmu_notifier.js';
import { PAGE_SIZE } from '../../../mm/page.js';
import { IOMMU_DOMAIN_SVA, type Device, type IommuDomain } from '../iommu.js';
import { CD_WORDS, makeSvaCd } from './cd.js';
import { ArmSmmuDomain, arm_smmu_domain_track, arm_smmu_domain_untrack, masterOf, set_sva_domain_alloc, type ArmSmmuDevice, type ArmSmmuMaster } from './arm-smmu-v3.js';
import { ARM_SMMU_FEAT_RANGE_INV } from './features.js';

/** CMDQ_MAX_TLBI_OPS: without range TLBI, this many pages or more become one TLBI_NH_ASID. */
export const CMDQ_MAX_TLBI_OPS = 1 << (12 - 3);

class SvaNotifier extends MmuNotifier {
  /** release() ran: the CDs are quiet and the ASID invalidated, no new IOTLB entry can form. */
  cleared = false;
  constructor(readonly domain: ArmSmmuDomain) {
    super(SVA_NOTIFIER_OPS);
  }
}

const SVA_NOTIFIER_OPS = {
  /**
   * arm_smmu_mm_arch_invalidate_secondary_tlbs: [start, end) of the shared ASID as one
   * range command, or the whole ASID for flush_tlb_mm (size ULONG_MAX) and, without
   * range invalidation, for CMDQ_MAX_TLBI_OPS pages or more; then the ATCs.
   */
  arch_invalidate_secondary_tlbs(sub: MmuNotifier, _mm: MmStruct, start: number, end: number): void {
    const d = (sub as SvaNotifier).domain;
    const smmu = d.smmu;
    if (smmu === null) return;
    let size = end - start;
    if (!(smmu.features & ARM_SMMU_FEAT_RANGE_INV)) {
      if (size >= CMDQ_MAX_TLBI_OPS * PAGE_SIZE) size = 0;
    } else if (size === ULONG_MAX) {
      size = 0;
    }
    if (size <= 0) smmu.tlbInvAsid(d.asid);
    else smmu.tlbInvRangeAsid(start, size, d.asid, PAGE_SIZE, false, d);
    smmu.atcInvDomain(d, start, size <= 0 ? 0 : size);
  },
  /** arm_smmu_mm_release: DMA may still run; keep the CDs valid (no C_BAD_CD) but translating nothing. */
  release(sub: MmuNotifier): void {
    const d = (sub as SvaNotifier).domain;
    const smmu = d.smmu;
    if (smmu === null) return;
    const cd = new Uint32Array(CD_WORDS);
    for (const { master, ssid } of d.devices) {
      const pa = smmu.getCdPtr(master, ssid);
      if (pa < 0) continue;
      svaCd(cd, smmu, master, null, d.asid);
      smmu.writeCdEntry(master, ssid, pa, cd);
    }
    smmu.tlbInvAsid(d.asid);
    smmu.atcInvDomain(d, 0, 0);
    (sub as SvaNotifier).cleared = true;
  },
};

/** The SVA CD (or the quiet CD when `mm` is null) with the CPU's view of the process (VA bits, PARange, MAIR_EL1). */
function svaCd(out: Uint32Array, smmu: ArmSmmuDevice, master: ArmSmmuMaster, mm: MmStruct | null, asid: number): void {
  const cpu = thisCpu();
  const parange = Number(cpu.readSysreg('ID_AA64MMFR0_EL1') & 0xfn);
  makeSvaCd(out, {
    pgd: mm === null ? null : mm.pgd,
    asid,
    stallEnabled: master.stallEnabled,
    features: smmu.features,
    ips: parange,
    // 64 - vabits_actual: the VA size the kernel gave the CPU (TCR_EL1.T0SZ, __cpu_setup)
    t0sz: Number(cpu.readSysreg('TCR_EL1') & 0x3fn),
    tg: 0,
    mair: cpu.readSysreg('MAIR_EL1'),
  });
}

/**
 * arm_smmu_share_asid: makes the SMMU ASID `asid` free for the SVA CD of `mm`. A
 * private domain holding it moves to a new ASID: its CDs are rewritten (only the ASID
 * changes, so each write is hitless), then the old ASID's TLB entries are invalidated.
 * 0 or -errno (-ENOSPC: no ASID left to move to; -EINVAL: another mm's SVA domain
 * holds it, which a pinned CPU ASID rules out).
 */
function arm_smmu_share_asid(smmu: ArmSmmuDevice, asid: number): number {
  const owner = smmu.asids.get(asid);
  if (owner === undefined) return 0;
  if (owner.type === IOMMU_DOMAIN_SVA) {
    pr_warn(`${smmu.logName}: ASID ${asid} already shared with another address space`);
    return -EINVAL;
  }
  const newAsid = smmu.allocAsid(owner);
  if (newAsid < 0) return -ENOSPC;
  // Invalidations of the domain now target the new ASID; the old one is flushed below
  owner.asid = newAsid;
  const cd = new Uint32Array(CD_WORDS);
  for (const { master, ssid } of owner.devices) {
    const pa = smmu.getCdPtr(master, ssid);
    if (pa < 0) continue;
    smmu.makeDomainCd(cd, master, owner);
    smmu.writeCdEntry(master, ssid, pa, cd);
  }
  smmu.tlbInvAsid(asid);
  smmu.asids.delete(asid);
  return 0;
}

const SVA_DOMAIN_OPS = {
  /** arm_smmu_sva_set_dev_pasid. */
  setDevPasid(domain: IommuDomain, dev: Device, pasid: number): number {
    const d = domain as ArmSmmuDomain;
    const master = masterOf(dev);
    if (d.smmu === null || master === null || d.mm === null || d.mm.dead) return -EINVAL;
    const cd = new Uint32Array(CD_WORDS);
    svaCd(cd, d.smmu, master, d.mm, d.asid);
    return d.smmu.setPasid(master, d, pasid, cd);
  },
  /**
   * arm_smmu_mmu_notifier_put + arm_smmu_free_shared_cd: flush the ASID (unless
   * release() did), free it on the SMMU, unpin it on the CPU, drop the notifier.
   */
  free(domain: IommuDomain): void {
    const d = domain as ArmSmmuDomain;
    if (d.smmu === null) return;
    const n = notifiers.get(d);
    notifiers.delete(d);
    if (n === undefined || !n.cleared) {
      d.smmu.tlbInvAsid(d.asid);
      d.smmu.atcInvDomain(d, 0, 0);
    }
    d.smmu.freeAsid(d);
    arm_smmu_domain_untrack(d);
    if (d.mm !== null) arm64_mm_context_put(d.mm);
    // the notifier's mm reference goes last (arm_smmu_free_shared_cd's mmdrop)
    if (n !== undefined) mmu_notifier_put(n);
  },
};

const notifiers = new Map<ArmSmmuDomain, SvaNotifier>();

/** arm_smmu_sva_domain_alloc with arm_smmu_alloc_shared_cd: the domain takes the mm's pinned CPU ASID. */
export function arm_smmu_sva_domain_alloc(smmu: ArmSmmuDevice, _dev: Device, mm: MmStruct): IommuDomain | number {
  const asid = arm64_mm_context_get(mm);
  if (asid === 0) return -ESRCH;
  if (asid >= 2 ** smmu.asidBits) {
    arm64_mm_context_put(mm);
    return -EINVAL;
  }
  let r = arm_smmu_share_asid(smmu, asid);
  if (r) {
    arm64_mm_context_put(mm);
    return r;
  }
  const d = new ArmSmmuDomain(IOMMU_DOMAIN_SVA, SVA_DOMAIN_OPS);
  d.smmu = smmu;
  d.asid = asid;
  d.mm = mm;
  // The CPU's page table: range invalidations use its granule (TG = 4K)
  d.pgsizeBitmap = PAGE_SIZE;
  smmu.asids.set(asid, d);
  const n = new SvaNotifier(d);
  r = mmu_notifier_register(n, mm);
  if (r) {
    smmu.freeAsid(d);
    arm64_mm_context_put(mm);
    return r;
  }
  notifiers.set(d, n);
  // in the driver's domain list, so that releasing a device drops its master from this domain too
  arm_smmu_domain_track(d);
  return d;
}

set_sva_domain_alloc(arm_smmu_sva_domain_alloc);
