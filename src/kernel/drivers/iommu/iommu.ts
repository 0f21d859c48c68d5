// The IOMMU core (drivers/iommu/iommu.c in shape): IOMMU drivers register their ops,
// devices behind an IOMMU get a group (shown in /sys/kernel/iommu_groups) and a
// default domain (DMA: translated through an IOVA allocator, or identity), unmanaged
// domains for vfio, PASID attachments (SVA), reserved regions, and the fault and
// page-response plumbing the I/O page-fault queue uses.

import { EBUSY, EINVAL, ENODEV, ENOENT, ENOMEM, EOVERFLOW, EPERM, EPROBE_DEFER } from '../../lib/errno.js';
import { pr_info, pr_warn } from '../../lib/printk.js';
import { DeviceNode, of_find_node_by_path, of_property_read_bool, of_property_read_string, of_property_read_u32 } from '../../of/base.js';
import { Device } from '../base/core.js';
import type { MmStruct } from '../../mm/mm_types.js';
import { INITCALL_CORE, register_initcall } from '../../init/initcall.js';
import { sysfs_create_dir, sysfs_create_file, sysfs_create_link, sysfs_remove } from '../../fs/sysfs/sysfs.js';

/**
 * The IOMMU core works on the driver core's struct device: dev.iommu holds the
 * DevIommu below (struct dev_iommu), dev.iommu_group the group. Bus code (PCI,
 * platform) fills the fwspec from the firmware and calls iommu_probe_device.
 */
export { Device };

/** dev->iommu, or null when the device sits behind no IOMMU. */
export function dev_iommu(dev: Device): DevIommu | null {
  return dev.iommu instanceof DevIommu ? dev.iommu : null;
}

/** dev_iommu_priv_get: the IOMMU driver's per-device data. */
export function dev_iommu_priv_get(dev: Device): unknown {
  return dev_iommu(dev)?.priv ?? null;
}

export function dev_iommu_priv_set(dev: Device, priv: unknown): void {
  const d = dev_iommu(dev);
  if (d !== null) d.priv = priv;
}

/** device_property_read_bool: a software-node property, else the device-tree node's. */
export function device_property_read_bool(dev: Device, name: string): boolean {
  if (dev.properties.get(name) === true) return true;
  return dev.of_node instanceof DeviceNode && of_property_read_bool(dev.of_node, name);
}

/** device_property_read_u32. */
export function device_property_read_u32(dev: Device, name: string): number | undefined {
  const v = dev.properties.get(name);
  if (typeof v === 'number') return v;
  return dev.of_node instanceof DeviceNode ? of_property_read_u32(dev.of_node, name) : undefined;
}

/** struct iommu_fwspec: which IOMMU instance and which StreamIDs (of_xlate/iommu-map). */
export interface IommuFwspec {
  readonly iommuNode: DeviceNode | null;
  readonly ids: number[];
}

/** struct dev_iommu. */
export class DevIommu {
  iommuDev: IommuDevice | null = null;
  /** The IOMMU driver's per-device data (dev_iommu_priv_set). */
  priv: unknown = null;
  group: IommuGroup | null = null;
  maxPasids = 0;
  /** I/O page-fault parameters (iommu_fault_param), owned by io-pgfault. */
  faultParam: unknown = null;
  constructor(readonly fwspec: IommuFwspec) {}
}

export const IOMMU_DOMAIN_BLOCKED = 0;
export const IOMMU_DOMAIN_IDENTITY = 1;
export const IOMMU_DOMAIN_UNMANAGED = 2;
export const IOMMU_DOMAIN_DMA = 3;
export const IOMMU_DOMAIN_SVA = 4;
const DOMAIN_TYPE_NAMES = ['blocked', 'identity', 'unmanaged', 'DMA', 'sva'];

// iommu_map prot bits
export const IOMMU_READ = 1 << 0;
export const IOMMU_WRITE = 1 << 1;
export const IOMMU_CACHE = 1 << 2;
export const IOMMU_NOEXEC = 1 << 3;
export const IOMMU_MMIO = 1 << 4;
export const IOMMU_PRIV = 1 << 5;

export const IOMMU_NO_PASID = 0;

/** struct iommu_iotlb_gather: the range unmap collected, flushed by iotlb_sync. */
export class IotlbGather {
  start = Infinity;
  end = 0;
  pgsize = 0;
  reset(): void {
    this.start = Infinity;
    this.end = 0;
    this.pgsize = 0;
  }
  /** iommu_iotlb_gather_add_range. */
  addRange(iova: number, size: number): void {
    this.start = Math.min(this.start, iova);
    this.end = Math.max(this.end, iova + size - 1);
  }
  /** iommu_iotlb_gather_is_disjoint: [iova, iova+size) neither overlaps nor touches the range. */
  isDisjoint(iova: number, size: number): boolean {
    return this.end !== 0 && (iova + size < this.start || iova > this.end + 1);
  }
}

/** iommu_iotlb_sync: flushes what `gather` collected and empties it. */
export function iommu_iotlb_sync(domain: IommuDomain, gather: IotlbGather): void {
  domain.ops.iotlbSync?.(domain, gather);
  gather.reset();
}

/**
 * iommu_iotlb_gather_add_page: a leaf of `size` bytes at `iova` was cleared. A leaf of
 * another size, or one away from the gathered range, flushes the range first: one
 * invalidation has one granule (and TTL).
 */
export function iommu_iotlb_gather_add_page(domain: IommuDomain, gather: IotlbGather, iova: number, size: number): void {
  if ((gather.pgsize && gather.pgsize !== size) || gather.isDisjoint(iova, size)) iommu_iotlb_sync(domain, gather);
  gather.pgsize = size;
  gather.addRange(iova, size);
}

export interface IommuDomainOps {
  attachDev?(domain: IommuDomain, dev: Device): number;
  setDevPasid?(domain: IommuDomain, dev: Device, pasid: number): number;
  mapPages?(domain: IommuDomain, iova: number, pa: number, pgsize: number, pgcount: number, prot: number): number;
  /** Returns the bytes unmapped; the TLB invalidation waits for iotlbSync. */
  unmapPages?(domain: IommuDomain, iova: number, pgsize: number, pgcount: number, gather: IotlbGather): number;
  iotlbSync?(domain: IommuDomain, gather: IotlbGather): void;
  flushIotlbAll?(domain: IommuDomain): void;
  iovaToPhys?(domain: IommuDomain, iova: number): number;
  free?(domain: IommuDomain): void;
}

/** How the IOMMU core hands a recoverable fault to whoever owns the domain. */
export type IopfHandler = (group: IopfGroup) => number;

/** struct iommu_domain. */
export class IommuDomain {
  pgsizeBitmap = 0;
  apertureStart = 0;
  apertureEnd = 0;
  /** dma-iommu's IOVA cookie for DMA domains. */
  iovaCookie: unknown = null;
  /** SVA: the process address space. */
  mm: MmStruct | null = null;
  /** SVA: bonds referencing the domain. */
  users = 0;
  iopfHandler: IopfHandler | null = null;
  constructor(
    public type: number,
    public ops: IommuDomainOps,
  ) {}
}

/** Reserved region types (enum iommu_resv_type). */
export const IOMMU_RESV_DIRECT = 0;
export const IOMMU_RESV_RESERVED = 2;
export const IOMMU_RESV_MSI = 3;
export const IOMMU_RESV_SW_MSI = 4;

export interface IommuResvRegion {
  readonly start: number;
  readonly length: number;
  readonly prot: number;
  readonly type: number;
}

/** A page request or stall as the driver reports it (struct iommu_fault_page_request). */
export interface IommuFaultPageRequest {
  flags: number;
  pasid: number;
  grpid: number;
  perm: number;
  addr: number;
}
export const IOMMU_FAULT_PAGE_REQUEST_PASID_VALID = 1 << 0;
export const IOMMU_FAULT_PAGE_REQUEST_LAST_PAGE = 1 << 1;
export const IOMMU_FAULT_PAGE_RESPONSE_NEEDS_PASID = 1 << 2;
export const IOMMU_FAULT_PERM_READ = 1 << 0;
export const IOMMU_FAULT_PERM_WRITE = 1 << 1;
export const IOMMU_FAULT_PERM_EXEC = 1 << 2;
export const IOMMU_FAULT_PERM_PRIV = 1 << 3;

/** include/linux/iommu.h response codes (PCIe PRG response: Success / Invalid Request / Response Failure). */
export const IOMMU_PAGE_RESP_SUCCESS = 0;
export const IOMMU_PAGE_RESP_INVALID = 1;
export const IOMMU_PAGE_RESP_FAILURE = 2;

export interface IommuPageResponse {
  pasid: number;
  grpid: number;
  code: number;
}

/** struct iopf_fault with the virtual time it was reported (for latency reports). */
export interface IopfFault {
  readonly prm: IommuFaultPageRequest;
  readonly reportedNs: number;
}

/** struct iopf_group: the faults of one page request group, answered together. */
export interface IopfGroup {
  readonly dev: Device;
  readonly domain: IommuDomain;
  readonly last: IopfFault;
  readonly faults: IopfFault[];
}

/** struct iommu_ops: what an IOMMU driver provides. */
export interface IommuOps {
  readonly name: string;
  readonly pgsizeBitmap: number;
  probeDevice(dev: Device): number;
  releaseDevice(dev: Device): void;
  domainAllocPaging(dev: Device | null, type: number): IommuDomain | number;
  domainAllocSva?(dev: Device, mm: MmStruct): IommuDomain | number;
  readonly identityDomain?: IommuDomain;
  readonly blockedDomain?: IommuDomain;
  getResvRegions?(dev: Device): IommuResvRegion[];
  pageResponse?(dev: Device, fault: IopfFault, resp: IommuPageResponse): void;
  removeDevPasid?(dev: Device, pasid: number, domain: IommuDomain): void;
  /** IOMMU_DEV_FEAT_IOPF / _SVA style switches (0 or -errno). */
  devEnableIopf?(dev: Device): number;
  devDisableIopf?(dev: Device): number;
  defDomainType?(dev: Device): number;
}

/** struct iommu_device: one registered IOMMU instance. */
export class IommuDevice {
  constructor(
    readonly name: string,
    readonly ops: IommuOps,
    /** The firmware node devices reference in iommus / iommu-map. */
    readonly node: DeviceNode | null,
    readonly maxPasids: number,
  ) {}
}

/** struct iommu_group. */
export class IommuGroup {
  readonly devices: Device[] = [];
  defaultDomain: IommuDomain | null = null;
  domain: IommuDomain | null = null;
  /** PASID -> domain attached at that PASID (group->pasid_array). */
  readonly pasidArray = new Map<number, IommuDomain>();
  /** Claimed by a driver that takes the group away from the DMA API (vfio). */
  owner: unknown = null;
  /**
   * owner_cnt: with no `owner`, how many bound drivers use the DMA API on the group's
   * devices (iommu_device_use_default_domain at probe); with an owner, its claim.
   */
  ownerCnt = 0;
  /** The domain an owned group sits in between its user's domains (group->blocking_domain). */
  blockingDomain: IommuDomain | null = null;
  constructor(readonly id: number) {}
}

let iommuDevices: IommuDevice[] = [];
let groups: IommuGroup[] = [];
let nextGroupId = 0;
/** iommu.strict: unmaps invalidate synchronously (Linux default on arm64 is strict). */
let iommuDefaultPassthrough = false;

export function iommu_core_init(): void {
  iommuDevices = [];
  groups = [];
  nextGroupId = 0;
  iommuDefaultPassthrough = false;
  sysfs_create_dir('kernel/iommu_groups');
  sysfs_create_dir('class/iommu');
}

/** The kernel command line (/chosen/bootargs), for the iommu.* and driver parameters read here. */
export function kernel_cmdline(): string {
  const chosen = of_find_node_by_path('/chosen');
  return chosen === undefined ? '' : of_property_read_string(chosen, 'bootargs') ?? '';
}

/** iommu_subsys_init: the boot-time policy lines Linux prints. */
function iommu_subsys_init(): void {
  iommu_core_init();
  // iommu.passthrough=1: default domains are identity (DMA untranslated), as on Linux
  const pt = /(?:^|\s)iommu\.passthrough=(\S+)/.exec(kernel_cmdline());
  if (pt !== null) iommuDefaultPassthrough = ['1', 'y', 'Y', 'on'].includes(pt[1]!);
  pr_info(`iommu: Default domain type: ${iommuDefaultPassthrough ? 'Passthrough' : 'Translated'}`);
  pr_info('iommu: DMA domain TLB invalidation policy: strict mode');
}

// iommu_subsys_init runs as a core_initcall: each boot starts with no IOMMUs or groups
register_initcall(INITCALL_CORE, 'iommu_init', iommu_subsys_init);

/** iommu.passthrough= on the command line. */
export function iommu_set_default_passthrough(on: boolean): void {
  iommuDefaultPassthrough = on;
}

/** iommu_device_register (with iommu_device_sysfs_add). */
export function iommu_device_register(iommu: IommuDevice): number {
  if (iommuDevices.includes(iommu)) return -EBUSY;
  iommuDevices.push(iommu);
  sysfs_create_dir(`class/iommu/${iommu.name}/devices`);
  return 0;
}

export function iommu_device_unregister(iommu: IommuDevice): void {
  iommuDevices = iommuDevices.filter((d) => d !== iommu);
  sysfs_remove('class/iommu', iommu.name);
}

export function iommu_devices(): readonly IommuDevice[] {
  return iommuDevices;
}

/** iommu_fwspec_init + add_ids: the device sits behind the IOMMU of `node` with these StreamIDs. */
export function iommu_fwspec_init(dev: Device, node: DeviceNode | null, ids: readonly number[]): number {
  const cur = dev_iommu(dev);
  if (cur !== null) {
    if (cur.fwspec.iommuNode !== node) return -EINVAL;
    cur.fwspec.ids.push(...ids);
    return 0;
  }
  dev.iommu = new DevIommu({ iommuNode: node, ids: [...ids] });
  return 0;
}

function group_show_type(g: IommuGroup): string {
  const d = g.defaultDomain;
  return (d ? DOMAIN_TYPE_NAMES[d.type] ?? 'unknown' : 'blocked') + '\n';
}

function iommu_group_alloc(): IommuGroup {
  const g = new IommuGroup(nextGroupId++);
  groups.push(g);
  const dir = `kernel/iommu_groups/${g.id}`;
  sysfs_create_dir(`${dir}/devices`);
  sysfs_create_file(dir, 'type', () => group_show_type(g));
  sysfs_create_file(dir, 'reserved_regions', () => {
    let out = '';
    for (const dev of g.devices) {
      for (const r of iommu_get_resv_regions(dev)) out += `0x${r.start.toString(16).padStart(16, '0')} 0x${(r.start + r.length - 1).toString(16).padStart(16, '0')} ${['direct', 'direct-relaxable', 'reserved', 'msi', 'msi'][r.type]}\n`;
    }
    return out;
  });
  return g;
}

export function iommu_groups(): readonly IommuGroup[] {
  return groups;
}

/** iommu_get_group. */
export function iommu_group_get(dev: Device): IommuGroup | null {
  return dev_iommu(dev)?.group ?? null;
}

function ops_of(dev: Device): IommuOps | null {
  return dev_iommu(dev)?.iommuDev?.ops ?? null;
}

/**
 * iommu_probe_device: binds `dev` (whose fwspec names an IOMMU) to its driver, puts it
 * in a group and attaches the group's default domain. Returns 0 or -errno; a device
 * without an IOMMU returns -ENODEV and keeps doing DMA untranslated.
 */
export function iommu_probe_device(dev: Device): number {
  const param = dev_iommu(dev);
  if (param === null) return -ENODEV;
  if (param.group !== null) return 0;
  const fw = param.fwspec;
  const iommu = iommuDevices.find((d) => d.node === fw.iommuNode);
  if (iommu === undefined) return -ENODEV;
  param.iommuDev = iommu;
  const ret = iommu.ops.probeDevice(dev);
  if (ret) {
    param.iommuDev = null;
    return ret;
  }
  param.maxPasids = Math.min(iommu.maxPasids, param.maxPasids || iommu.maxPasids);
  // One group per device: the SMMU gives every function its own StreamID and we have no ACS-less bridges
  const group = iommu_group_alloc();
  group.devices.push(dev);
  param.group = group;
  dev.iommu_group = group;
  // iommu_group_add_device / iommu_device_link: links both ways between the device and its group and IOMMU
  const devPath = dev.kobj_path || `devices/${dev.name}`;
  sysfs_create_link(`kernel/iommu_groups/${group.id}/devices`, dev.name, devPath);
  sysfs_create_link(`class/iommu/${iommu.name}/devices`, dev.name, devPath);
  if (dev.kobj_path) {
    sysfs_create_link(dev.kobj_path, 'iommu_group', `kernel/iommu_groups/${group.id}`);
    sysfs_create_link(dev.kobj_path, 'iommu', `class/iommu/${iommu.name}`);
  }
  const type = iommu.ops.defDomainType?.(dev) || (iommuDefaultPassthrough ? IOMMU_DOMAIN_IDENTITY : IOMMU_DOMAIN_DMA);
  let dom: IommuDomain | number;
  if (type === IOMMU_DOMAIN_IDENTITY && iommu.ops.identityDomain) dom = iommu.ops.identityDomain;
  else dom = iommu.ops.domainAllocPaging(dev, IOMMU_DOMAIN_DMA);
  if (typeof dom === 'number') return dom;
  group.defaultDomain = dom;
  const r = __iommu_attach_group(dom, group);
  if (r) return r;
  pr_info(`${dev.bus?.name ?? 'iommu'} ${dev.name}: Adding to iommu group ${group.id}`);
  return 0;
}

/** iommu_release_device: the device goes away (answers its pending faults, detaches). */
export function iommu_release_device(dev: Device): void {
  const ops = ops_of(dev);
  const group = iommu_group_get(dev);
  if (ops === null || group === null) return;
  ops.releaseDevice(dev);
  group.devices.splice(group.devices.indexOf(dev), 1);
  sysfs_remove(`kernel/iommu_groups/${group.id}/devices`, dev.name);
  sysfs_remove(`class/iommu/${dev_iommu(dev)!.iommuDev!.name}/devices`, dev.name);
  if (dev.kobj_path) {
    sysfs_remove(dev.kobj_path, 'iommu_group');
    sysfs_remove(dev.kobj_path, 'iommu');
  }
  dev_iommu(dev)!.group = null;
  dev_iommu(dev)!.iommuDev = null;
  dev.iommu_group = undefined;
}

function __iommu_attach_group(domain: IommuDomain, group: IommuGroup): number {
  for (const dev of group.devices) {
    const r = domain.ops.attachDev?.(domain, dev) ?? -EINVAL;
    if (r) return r;
  }
  group.domain = domain;
  return 0;
}

/** iommu_domain_alloc(dev): an unmanaged paging domain for vfio-like users. */
export function iommu_paging_domain_alloc(dev: Device): IommuDomain | number {
  const ops = ops_of(dev);
  if (ops === null) return -ENODEV;
  return ops.domainAllocPaging(dev, IOMMU_DOMAIN_UNMANAGED);
}

export function iommu_domain_free(domain: IommuDomain): void {
  domain.ops.free?.(domain);
}

/**
 * iommu_attach_group: the group leaves its default (or blocking) domain for `domain`.
 * -EBUSY while another domain is attached or PASIDs are in use.
 */
export function iommu_attach_group(domain: IommuDomain, group: IommuGroup): number {
  if (group.domain !== null && group.domain !== group.defaultDomain && group.domain !== group.blockingDomain) return -EBUSY;
  if (group.pasidArray.size > 0) return -EBUSY;
  return __iommu_attach_group(domain, group);
}

/** __iommu_group_set_core_domain: an owned group waits in its blocking domain, others use the default. */
function iommu_group_set_core_domain(group: IommuGroup): void {
  const core = group.owner !== null ? group.blockingDomain : group.defaultDomain;
  if (core !== null) __iommu_attach_group(core, group);
}

/** iommu_detach_group: `domain` leaves the group, which goes back to its core domain. */
export function iommu_detach_group(domain: IommuDomain, group: IommuGroup): void {
  if (group.domain !== domain) {
    pr_warn(`iommu: group ${group.id}: detach of a domain that is not attached`);
    return;
  }
  iommu_group_set_core_domain(group);
}

/** iommu_attach_device: for a group of exactly one device (-EINVAL otherwise). */
export function iommu_attach_device(domain: IommuDomain, dev: Device): number {
  const g = iommu_group_get(dev);
  if (g === null) return -ENODEV;
  if (g.devices.length !== 1) return -EINVAL;
  return iommu_attach_group(domain, g);
}

/**
 * iommu_device_use_default_domain: the driver core calls it before the probe of a
 * driver that uses the DMA API (the bus's dma_configure). -EBUSY while a user owns the
 * group, or a domain other than the default or PASIDs are attached while it is in use;
 * -EPROBE_DEFER before the group has its default domain. A device behind no IOMMU is
 * always fine.
 */
export function iommu_device_use_default_domain(dev: Device): number {
  const group = iommu_group_get(dev);
  if (group === null) return 0;
  if (group.defaultDomain === null) return -EPROBE_DEFER;
  if (group.ownerCnt > 0 && (group.owner !== null || group.domain !== group.defaultDomain || group.pasidArray.size > 0)) return -EBUSY;
  group.ownerCnt++;
  return 0;
}

/** iommu_device_unuse_default_domain: after the remove (or failed probe) of such a driver. */
export function iommu_device_unuse_default_domain(dev: Device): void {
  const group = iommu_group_get(dev);
  if (group === null) return;
  // the driver must have detached its PASIDs (as uacce_remove does) before it goes
  if (group.ownerCnt === 0 || group.pasidArray.size > 0) {
    pr_warn(`iommu: group ${group.id}: ${dev.name} stops using the default domain ${group.ownerCnt === 0 ? 'it never used' : 'with PASIDs still attached'}`);
    return;
  }
  group.ownerCnt--;
}

/** __iommu_group_alloc_blocking_domain: the IOMMU's blocked domain, else an empty unmanaged one. */
function group_blocking_domain(group: IommuGroup): IommuDomain | null {
  if (group.blockingDomain !== null) return group.blockingDomain;
  const dev = group.devices[0];
  const ops = dev === undefined ? null : ops_of(dev);
  if (dev === undefined || ops === null) return null;
  let d: IommuDomain | number | undefined = ops.blockedDomain;
  if (d === undefined) d = ops.domainAllocPaging(dev, IOMMU_DOMAIN_UNMANAGED);
  if (typeof d === 'number') return null;
  group.blockingDomain = d;
  return d;
}

/**
 * iommu_group_claim_dma_owner: a user (vfio) takes the group from the DMA API. -EPERM
 * while a driver of the group uses the DMA API (owner_cnt counts it) or someone owns
 * it already; -EBUSY while a domain other than the default is attached or PASIDs are
 * in use. The group then sits in its blocking domain until the owner attaches its own.
 */
export function iommu_group_claim_dma_owner(group: IommuGroup, owner: unknown): number {
  if (owner === null || owner === undefined) return -EINVAL;
  if (group.ownerCnt > 0) return -EPERM;
  if ((group.domain !== null && group.domain !== group.defaultDomain) || group.pasidArray.size > 0) return -EBUSY;
  const blocking = group_blocking_domain(group);
  if (blocking === null) return -EINVAL;
  const r = __iommu_attach_group(blocking, group);
  if (r) return r;
  group.owner = owner;
  group.ownerCnt++;
  return 0;
}

/** iommu_group_release_dma_owner: the owner has detached its domain; the group returns to its default domain. */
export function iommu_group_release_dma_owner(group: IommuGroup): void {
  if (group.ownerCnt === 0 || group.owner === null || group.pasidArray.size > 0) {
    pr_warn(`iommu: group ${group.id}: release of DMA ownership ${group.pasidArray.size > 0 ? 'with PASIDs still attached' : 'nobody claimed'}`);
    return;
  }
  group.ownerCnt = 0;
  group.owner = null;
  iommu_group_set_core_domain(group);
}

/** iommu_group_dma_owner_claimed: a user or a DMA API driver holds the group. */
export function iommu_group_dma_owner_claimed(group: IommuGroup): boolean {
  return group.ownerCnt > 0;
}

export function iommu_detach_device(domain: IommuDomain, dev: Device): void {
  const g = iommu_group_get(dev);
  if (g !== null) iommu_detach_group(domain, g);
}

export function iommu_get_domain_for_dev(dev: Device): IommuDomain | null {
  return iommu_group_get(dev)?.domain ?? null;
}

/** iommu_get_dma_domain: the default domain the DMA API maps into. */
export function iommu_get_dma_domain(dev: Device): IommuDomain | null {
  return iommu_group_get(dev)?.defaultDomain ?? null;
}

/** iommu_attach_device_pasid. */
export function iommu_attach_device_pasid(domain: IommuDomain, dev: Device, pasid: number): number {
  const group = iommu_group_get(dev);
  if (group === null || domain.ops.setDevPasid === undefined) return -ENODEV;
  if (pasid === IOMMU_NO_PASID || pasid >= (dev_iommu(dev)?.maxPasids ?? 0)) return -EINVAL;
  if (group.pasidArray.has(pasid)) return -EBUSY;
  const r = domain.ops.setDevPasid(domain, dev, pasid);
  if (r) return r;
  group.pasidArray.set(pasid, domain);
  return 0;
}

/** iommu_detach_device_pasid. */
export function iommu_detach_device_pasid(domain: IommuDomain, dev: Device, pasid: number): void {
  const group = iommu_group_get(dev);
  const ops = ops_of(dev);
  if (group === null || group.pasidArray.get(pasid) !== domain) return;
  ops?.removeDevPasid?.(dev, pasid, domain);
  group.pasidArray.delete(pasid);
}

export function iommu_get_domain_for_dev_pasid(dev: Device, pasid: number): IommuDomain | null {
  return iommu_group_get(dev)?.pasidArray.get(pasid) ?? null;
}

/** Whether page size 2^b is in a page-size bitmap (a Number: sizes up to 2^52 do not fit 32-bit ops). */
export function pgsize_has(bitmap: number, b: number): boolean {
  return Math.floor(bitmap / 2 ** b) % 2 === 1;
}

/** iommu_pgsize: the largest page size of the bitmap that fits alignment and size. */
function iommu_pgsize(domain: IommuDomain, iova: number, pa: number, size: number): number {
  let best = 0;
  for (let b = 12; b <= 52; b++) {
    const pg = 2 ** b;
    if (pg > size || iova % pg || pa % pg) break;
    if (pgsize_has(domain.pgsizeBitmap, b)) best = pg;
  }
  return best;
}

/**
 * How many pages of `pgsize` to map in one map_pages call (iommu_pgsize's count): up
 * to the next boundary where a larger supported page size becomes usable, else all.
 */
function iommu_pgcount(domain: IommuDomain, iova: number, pa: number, size: number, pgsize: number): number {
  // the bitmap is a sum of powers of two: below 2 * pgsize it has no larger size
  if (domain.pgsizeBitmap < 2 * pgsize) return Math.floor(size / pgsize);
  for (let b = Math.log2(pgsize) + 1; b <= 52; b++) {
    if (!pgsize_has(domain.pgsizeBitmap, b)) continue;
    const next = 2 ** b;
    if ((iova - pa) % next !== 0) break;
    const offset = next - (iova % next);
    if (offset + next <= size) size = offset;
    break;
  }
  return Math.floor(size / pgsize);
}

/** iommu_map: maps [iova, iova+size) to pa. 0 or -errno; on failure nothing stays mapped. */
export function iommu_map(domain: IommuDomain, iova: number, pa: number, size: number, prot: number): number {
  const map = domain.ops.mapPages;
  if (map === undefined || domain.pgsizeBitmap === 0) return -ENODEV;
  if (iova % 4096 || pa % 4096 || size % 4096 || size === 0) return -EINVAL;
  if (iova < domain.apertureStart || iova + size - 1 > domain.apertureEnd) return -EINVAL;
  let done = 0;
  while (done < size) {
    const pg = iommu_pgsize(domain, iova + done, pa + done, size - done);
    if (pg === 0) break;
    const count = iommu_pgcount(domain, iova + done, pa + done, size - done, pg);
    // a failed map_pages call maps nothing of its own
    const r = map(domain, iova + done, pa + done, pg, count, prot);
    if (r) {
      if (done) iommu_unmap(domain, iova, done);
      return r;
    }
    done += pg * count;
  }
  return done === size ? 0 : -EINVAL;
}

const gatherScratch = new IotlbGather();

/** iommu_unmap: returns the bytes unmapped, after the IOTLB invalidation completed. */
export function iommu_unmap(domain: IommuDomain, iova: number, size: number): number {
  const unmap = domain.ops.unmapPages;
  if (unmap === undefined) return 0;
  if (iova % 4096 || size % 4096) return 0;
  gatherScratch.reset();
  let done = 0;
  // __iommu_unmap: the largest page size the IOVA's alignment and the remaining length allow
  while (done < size) {
    const pg = iommu_pgsize(domain, iova + done, iova + done, size - done);
    if (pg === 0) break;
    const n = unmap(domain, iova + done, pg, iommu_pgcount(domain, iova + done, iova + done, size - done, pg), gatherScratch);
    if (n === 0) break;
    done += n;
  }
  iommu_iotlb_sync(domain, gatherScratch);
  return done;
}

export function iommu_iova_to_phys(domain: IommuDomain, iova: number): number {
  if (domain.type === IOMMU_DOMAIN_IDENTITY) return iova;
  return domain.ops.iovaToPhys?.(domain, iova) ?? 0;
}

/** iommu_get_resv_regions: the IOVA ranges a domain must not hand out (the MSI doorbell window). */
export function iommu_get_resv_regions(dev: Device): IommuResvRegion[] {
  return ops_of(dev)?.getResvRegions?.(dev) ?? [];
}

/** iommu_dev_enable_feature(dev, IOMMU_DEV_FEAT_IOPF). */
export function iommu_dev_enable_iopf(dev: Device): number {
  const ops = ops_of(dev);
  if (ops === null) return -ENODEV;
  return ops.devEnableIopf?.(dev) ?? -EINVAL;
}

export function iommu_dev_disable_iopf(dev: Device): number {
  const ops = ops_of(dev);
  if (ops === null) return -ENODEV;
  return ops.devDisableIopf?.(dev) ?? -EINVAL;
}

/** iommu_page_response: routes a fault group's answer back to the driver. */
export function iommu_page_response(dev: Device, fault: IopfFault, resp: IommuPageResponse): void {
  const ops = ops_of(dev);
  if (ops?.pageResponse === undefined) {
    pr_warn(`iommu: ${dev.name}: no page_response op, fault ${fault.prm.grpid} dropped`);
    return;
  }
  ops.pageResponse(dev, fault, resp);
}

// Errno values IOMMU users see (re-exported for callers that only include iommu.ts).
export { EBUSY, EINVAL, ENODEV, ENOENT, ENOMEM, EOVERFLOW, EPERM };
