// Shared virtual addressing (drivers/iommu/iommu-sva.c in shape): one global PASID
// per mm, an SVA domain per (IOMMU, mm) attached at that PASID on each bound device,
// and the I/O page-fault handler that resolves device faults through the process
// address space with handle_mm_fault semantics.

import { INITCALL_CORE, register_initcall } from '../../init/initcall.js';
import { EINVAL, ENODEV, ENOSPC, EOVERFLOW } from '../../lib/errno.js';
import { FAULT_FLAG_INSTRUCTION, FAULT_FLAG_REMOTE, FAULT_FLAG_USER, FAULT_FLAG_WRITE, VM_EXEC, VM_FAULT_ERROR, VM_READ, VM_WRITE, type MmStruct } from '../../mm/mm_types.js';
import { vma_lookup } from '../../mm/mmap.js';
import { handle_mm_fault } from '../../mm/memory.js';
import {
  IOMMU_DOMAIN_SVA,
  IOMMU_FAULT_PERM_EXEC,
  IOMMU_FAULT_PERM_PRIV,
  IOMMU_FAULT_PERM_READ,
  IOMMU_FAULT_PERM_WRITE,
  IOMMU_PAGE_RESP_INVALID,
  IOMMU_PAGE_RESP_SUCCESS,
  dev_iommu,
  iommu_attach_device_pasid,
  iommu_detach_device_pasid,
  iommu_domain_free,
  type Device,
  type IommuDomain,
  type IopfGroup,
} from './iommu.js';
import { iopf_group_response, iopf_queue_flush_dev, iopf_queue_work } from './io-pgfault.js';

/** PASIDs are 20 bits (PCIe); 0 is IOMMU_NO_PASID. */
export const IOMMU_PASID_BITS = 20;
const pasidsInUse = new Set<number>();

// A new boot starts with every PASID free
register_initcall(INITCALL_CORE, 'iommu_sva_init', () => pasidsInUse.clear());

/** struct iommu_mm_data: mm->iommu_mm. */
export class IommuMmData {
  readonly svaDomains: IommuDomain[] = [];
  readonly handles: IommuSva[] = [];
  constructor(readonly pasid: number) {}
}

/** struct iommu_sva: one bond of a device to an mm. */
export class IommuSva {
  users = 1;
  constructor(
    readonly dev: Device,
    readonly domain: IommuDomain,
    readonly mm: MmStruct,
  ) {}
}

function iommu_mm(mm: MmStruct): IommuMmData | null {
  return mm.iommu_mm instanceof IommuMmData ? mm.iommu_mm : null;
}

/** iommu_alloc_global_pasid. */
function alloc_pasid(): number {
  for (let p = 1; p < 2 ** IOMMU_PASID_BITS; p++) {
    if (!pasidsInUse.has(p)) {
      pasidsInUse.add(p);
      return p;
    }
  }
  return -ENOSPC;
}

/** mm_get_enqcmd_pasid / iommu_sva_get_pasid of a bond. */
export function iommu_sva_get_pasid(handle: IommuSva): number {
  return iommu_mm(handle.mm)?.pasid ?? 0;
}

/** mm_pasid_drop: the mm is freed; its PASID goes back to the pool (called by the mm teardown). */
export function mm_pasid_drop(mm: MmStruct): void {
  const d = iommu_mm(mm);
  if (d === null) return;
  pasidsInUse.delete(d.pasid);
  mm.iommu_mm = undefined;
}

/**
 * iommu_sva_bind_device: binds `mm` to `dev` at the mm's global PASID. Returns the
 * bond (existing bonds are shared) or -errno: -EOVERFLOW when the PASID exceeds what
 * the device supports, -ENOSPC when no PASID is free, -ENODEV without SVA support.
 */
export function iommu_sva_bind_device(dev: Device, mm: MmStruct): IommuSva | number {
  const ops = dev_iommu(dev)?.iommuDev?.ops;
  if (ops?.domainAllocSva === undefined) return -ENODEV;
  if (mm.dead) return -EINVAL;
  let data = iommu_mm(mm);
  if (data === null) {
    const pasid = alloc_pasid();
    if (pasid < 0) return pasid;
    data = new IommuMmData(pasid);
    mm.iommu_mm = data;
  }
  if (data.pasid >= (dev_iommu(dev)?.maxPasids ?? 0)) return -EOVERFLOW;
  const have = data.handles.find((h) => h.dev === dev);
  if (have) {
    have.users++;
    return have;
  }
  // Reuse an SVA domain of this mm if the device's IOMMU accepts it
  for (const domain of data.svaDomains) {
    if (iommu_attach_device_pasid(domain, dev, data.pasid) === 0) {
      domain.users++;
      const h = new IommuSva(dev, domain, mm);
      data.handles.push(h);
      return h;
    }
  }
  const domain = ops.domainAllocSva(dev, mm);
  if (typeof domain === 'number') return domain;
  domain.type = IOMMU_DOMAIN_SVA;
  domain.mm = mm;
  domain.iopfHandler = iommu_sva_iopf_handler;
  const r = iommu_attach_device_pasid(domain, dev, data.pasid);
  if (r) {
    iommu_domain_free(domain);
    return r;
  }
  domain.users = 1;
  data.svaDomains.push(domain);
  const h = new IommuSva(dev, domain, mm);
  data.handles.push(h);
  return h;
}

/**
 * iommu_sva_unbind_device: the device has stopped using the PASID; pending faults are
 * flushed, then the PASID is detached and the domain freed with its last user.
 */
export function* iommu_sva_unbind_device(handle: IommuSva): Generator<unknown, void, unknown> {
  if (--handle.users > 0) return;
  const data = iommu_mm(handle.mm);
  yield* iopf_queue_flush_dev(handle.dev);
  const domain = handle.domain;
  if (data !== null) {
    iommu_detach_device_pasid(domain, handle.dev, data.pasid);
    data.handles.splice(data.handles.indexOf(handle), 1);
  }
  if (--domain.users === 0) {
    if (data !== null) data.svaDomains.splice(data.svaDomains.indexOf(domain), 1);
    iommu_domain_free(domain);
  }
}

/**
 * iommu_sva_handle_mm: resolves one fault in the mm. A missing VMA or an access the
 * VMA does not allow answers INVALID; a fault handle_mm_fault cannot resolve too.
 */
export function iommu_sva_handle_mm(mm: MmStruct, addr: number, perm: number): number {
  if (mm.dead || mm.mm_users === 0) return IOMMU_PAGE_RESP_INVALID;
  const vma = vma_lookup(mm, addr);
  if (vma === null) return IOMMU_PAGE_RESP_INVALID;
  let access = 0;
  let flags = FAULT_FLAG_REMOTE;
  if (perm & IOMMU_FAULT_PERM_READ) access |= VM_READ;
  if (perm & IOMMU_FAULT_PERM_WRITE) {
    access |= VM_WRITE;
    flags |= FAULT_FLAG_WRITE;
  }
  if (perm & IOMMU_FAULT_PERM_EXEC) {
    access |= VM_EXEC;
    flags |= FAULT_FLAG_INSTRUCTION;
  }
  if (!(perm & IOMMU_FAULT_PERM_PRIV)) flags |= FAULT_FLAG_USER;
  if (access & ~vma.vm_flags) return IOMMU_PAGE_RESP_INVALID;
  const ret = handle_mm_fault(mm, addr, flags);
  return ret & VM_FAULT_ERROR ? IOMMU_PAGE_RESP_INVALID : IOMMU_PAGE_RESP_SUCCESS;
}

function* iommu_sva_handle_iopf(group: IopfGroup): Generator<unknown, void, unknown> {
  const mm = group.domain.mm;
  let status = IOMMU_PAGE_RESP_SUCCESS;
  for (const f of group.faults) {
    // Faults before the last one of a group carry no separate answer; stop at the first failure
    status = mm === null ? IOMMU_PAGE_RESP_INVALID : iommu_sva_handle_mm(mm, f.prm.addr, f.prm.perm);
    if (status !== IOMMU_PAGE_RESP_SUCCESS) break;
  }
  iopf_group_response(group, status);
}

/** The SVA domain's iopf_handler: queue the group on the IOMMU's iopf workqueue. */
export function iommu_sva_iopf_handler(group: IopfGroup): number {
  return iopf_queue_work(group, iommu_sva_handle_iopf);
}
