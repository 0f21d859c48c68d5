// SVA for the SMMUv3 (arm-smmu-v3-sva.c, v6.10+ in shape): an SVA domain has its own
// SMMU ASID and a CD whose TTB0 is the process's page table; an MMU notifier turns
// CPU TLB flushes of the mm into TLBI_NH_VA (range) or TLBI_NH_ASID plus ATC_INV, and
// on mm exit swaps in the "released" CD that faults everything (hitless, EPD0).

import { thisCpu } from '../../../../arch/index.js';
import { ENOMEM } from '../../../lib/errno.js';
import { MmuNotifier, type MmStruct } from '../../../mm/mm_types.js';
import { mmu_notifier_register, mmu_notifier_unregister } from '../../../mm/mmu_notifier.js';
import { PAGE_SIZE } from '../../../mm/page.js';
import { IOMMU_DOMAIN_SVA, type Device, type IommuDomain } from '../iommu.js';
import { CD_WORDS, makeSvaCd } from './cd.js';
import { ArmSmmuDomain, masterOf, set_sva_domain_alloc, type ArmSmmuDevice, type ArmSmmuMaster } from './arm-smmu-v3.js';
import { ARM_SMMU_FEAT_RANGE_INV } from './features.js';

/** CMDQ_MAX_TLBI_OPS: without range TLBI, this many pages or more become one TLBI_NH_ASID. */
export const CMDQ_MAX_TLBI_OPS = 1 << (12 - 3);

class SvaNotifier extends MmuNotifier {
  constructor(readonly domain: ArmSmmuDomain) {
    super(SVA_NOTIFIER_OPS);
  }
}

const SVA_NOTIFIER_OPS = {
  /** arm_smmu_mm_arch_invalidate_secondary_tlbs. */
  arch_invalidate_secondary_tlbs(sub: MmuNotifier, _mm: MmStruct, start: number, end: number): void {
    const d = (sub as SvaNotifier).domain;
    const smmu = d.smmu;
    if (smmu === null) return;
    let size = end - start;
    if (!(smmu.features & ARM_SMMU_FEAT_RANGE_INV)) {
      if (size >= CMDQ_MAX_TLBI_OPS * PAGE_SIZE) size = 0;
    } else if (size >= 2 ** 52) size = 0;
    if (size <= 0) smmu.tlbInvAsid(d.asid);
    else smmu.tlbInvRangeAsid(start, size, d.asid, PAGE_SIZE, false, d);
    smmu.atcInvDomain(d, start, size <= 0 ? 0 : size);
  },
  /** arm_smmu_mm_release: DMA may still run; keep CDs valid but translating nothing. */
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
  },
};

/** arm_smmu_make_sva_cd with the CPU's view of the process (VA bits, PARange, MAIR_EL1). */
function svaCd(out: Uint32Array, smmu: ArmSmmuDevice, master: ArmSmmuMaster, mm: MmStruct | null, asid: number): void {
  const cpu = thisCpu();
  const parange = Number(cpu.readSysreg('ID_AA64MMFR0_EL1') & 0xfn);
  makeSvaCd(out, {
    pgd: mm === null ? null : mm.pgd,
    asid,
    stallEnabled: master.stallEnabled,
    features: smmu.features,
    ips: parange,
    t0sz: 64 - 48,
    tg: 0,
    mair: cpu.readSysreg('MAIR_EL1'),
  });
}

const SVA_DOMAIN_OPS = {
  /** arm_smmu_sva_set_dev_pasid. */
  setDevPasid(domain: IommuDomain, dev: Device, pasid: number): number {
    const d = domain as ArmSmmuDomain;
    const master = masterOf(dev);
    if (d.smmu === null || master === null || d.mm === null || d.mm.dead) return -22;
    const cd = new Uint32Array(CD_WORDS);
    svaCd(cd, d.smmu, master, d.mm, d.asid);
    return d.smmu.setPasid(master, d, pasid, cd);
  },
  /** arm_smmu_sva_domain_free: flush the ASID before it can be reused. */
  free(domain: IommuDomain): void {
    const d = domain as ArmSmmuDomain;
    if (d.smmu === null) return;
    d.smmu.tlbInvAsid(d.asid);
    d.smmu.asids.delete(d.asid);
    const n = notifiers.get(d);
    if (n && n.mm) mmu_notifier_unregister(n, n.mm);
    notifiers.delete(d);
  },
};

const notifiers = new Map<ArmSmmuDomain, SvaNotifier>();

/** arm_smmu_sva_domain_alloc. */
export function arm_smmu_sva_domain_alloc(smmu: ArmSmmuDevice, _dev: Device, mm: MmStruct): IommuDomain | number {
  const d = new ArmSmmuDomain(IOMMU_DOMAIN_SVA, SVA_DOMAIN_OPS);
  d.smmu = smmu;
  let asid = -1;
  for (let a = 1; a < 2 ** smmu.asidBits; a++) {
    if (!smmu.asids.has(a)) {
      asid = a;
      break;
    }
  }
  if (asid < 0) return -ENOMEM;
  smmu.asids.add(asid);
  d.asid = asid;
  d.mm = mm;
  const n = new SvaNotifier(d);
  const r = mmu_notifier_register(n, mm);
  if (r) {
    smmu.asids.delete(asid);
    return r;
  }
  notifiers.set(d, n);
  return d;
}

set_sva_domain_alloc(arm_smmu_sva_domain_alloc);
