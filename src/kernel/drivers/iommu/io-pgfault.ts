// I/O page faults (drivers/iommu/io-pgfault.c in shape). The IOMMU driver reports
// each stalled access or PCIe page request; requests of one group are parked until
// the one marked LAST arrives, then the group goes to the handler of the domain
// attached at that PASID (the SVA domain queues it on the IOMMU's iopf workqueue).
// The answer travels back through iommu_page_response to CMD_RESUME or PRI_RESP.
// Removing a device answers everything it still waits for with INVALID.

import { thisCpu } from '../../../arch/index.js';
import { INITCALL_CORE, register_initcall } from '../../init/initcall.js';
import { EINVAL, ENODEV } from '../../lib/errno.js';
import { pr_debug, pr_warn } from '../../lib/printk.js';
import { alloc_workqueue, flush_workqueue, queue_work, WorkStruct, WQ_UNBOUND, type WorkqueueStruct } from '../../kernel/workqueue.js';
import { debugfs_create_file } from '../../fs/debugfs.js';
import {
  IOMMU_FAULT_PAGE_REQUEST_LAST_PAGE,
  IOMMU_FAULT_PAGE_REQUEST_PASID_VALID,
  IOMMU_NO_PASID,
  IOMMU_PAGE_RESP_INVALID,
  dev_iommu,
  iommu_get_domain_for_dev,
  iommu_get_domain_for_dev_pasid,
  iommu_page_response,
  type Device,
  type IommuFaultPageRequest,
  type IopfFault,
  type IopfGroup,
} from './iommu.js';

/** struct iopf_queue: one per IOMMU, a workqueue "iopf_queue/<name>". */
export class IopfQueue {
  readonly devices = new Set<Device>();
  constructor(
    readonly name: string,
    readonly wq: WorkqueueStruct,
  ) {}
}

/** struct iommu_fault_param: a device's parked and outstanding faults. */
class FaultParam {
  /** Page requests waiting for the LAST one of their group. */
  readonly partial: IopfFault[] = [];
  /** Groups handed to a handler and not yet answered. */
  readonly pending: IopfGroup[] = [];
  constructor(readonly queue: IopfQueue) {}
}

export interface IopfStats {
  reported: number;
  groups: number;
  responded: number;
  success: number;
  invalid: number;
  failure: number;
  totalLatencyNs: number;
  maxLatencyNs: number;
}

const stats: IopfStats = { reported: 0, groups: 0, responded: 0, success: 0, invalid: 0, failure: 0, totalLatencyNs: 0, maxLatencyNs: 0 };

export function iopf_stats(): Readonly<IopfStats> {
  return stats;
}

export function iopf_stats_reset(): void {
  for (const k of Object.keys(stats) as (keyof IopfStats)[]) stats[k] = 0;
}

register_initcall(INITCALL_CORE, 'iopf_init', iopf_stats_reset);

function param(dev: Device): FaultParam | null {
  const p = dev_iommu(dev)?.faultParam;
  return p instanceof FaultParam ? p : null;
}

/** iopf_queue_alloc. */
export function iopf_queue_alloc(name: string): IopfQueue {
  const q = new IopfQueue(name, alloc_workqueue(`iopf_queue/${name}`, WQ_UNBOUND, 0));
  debugfs_create_file(`iommu/${name}/iopf`, () => {
    const s = stats;
    const avg = s.responded ? Math.round(s.totalLatencyNs / s.responded) : 0;
    return `reported ${s.reported}\ngroups ${s.groups}\nresponded ${s.responded}\nsuccess ${s.success}\ninvalid ${s.invalid}\nfailure ${s.failure}\nlatency_avg_ns ${avg}\nlatency_max_ns ${s.maxLatencyNs}\n`;
  });
  return q;
}

/** iopf_queue_add_device: the device may now report recoverable faults. */
export function iopf_queue_add_device(q: IopfQueue, dev: Device): number {
  const d = dev_iommu(dev);
  if (d === null) return -ENODEV;
  if (param(dev) !== null) return 0;
  d.faultParam = new FaultParam(q);
  q.devices.add(dev);
  return 0;
}

/** iopf_queue_remove_device: answers every outstanding group INVALID and forgets the device. */
export function iopf_queue_remove_device(q: IopfQueue, dev: Device): void {
  const p = param(dev);
  const d = dev_iommu(dev);
  if (p === null || d === null) return;
  p.partial.length = 0;
  for (const g of p.pending.slice()) iopf_group_response(g, IOMMU_PAGE_RESP_INVALID);
  d.faultParam = null;
  q.devices.delete(dev);
}

/**
 * iopf_queue_discard_partial: drops the requests parked for a LAST that will never come.
 * The IOMMU driver calls it when its hardware queue overflowed: the LAST request of a
 * group may have been lost (and answered by the IOMMU itself), and a later group that
 * reuses the PRG index must not pick up the stale requests.
 */
export function iopf_queue_discard_partial(q: IopfQueue): number {
  for (const dev of q.devices) {
    const p = param(dev);
    if (p !== null) p.partial.length = 0;
  }
  return 0;
}

/** Requests of `dev` parked until the LAST request of their group arrives. */
export function iopf_partial_faults(dev: Device): number {
  return param(dev)?.partial.length ?? 0;
}

/** iopf_queue_flush_dev: waits until every fault queued so far for the device has been handled. */
export function* iopf_queue_flush_dev(dev: Device): Generator<unknown, number, unknown> {
  const p = param(dev);
  if (p === null) return -ENODEV;
  yield* flush_workqueue(p.queue.wq);
  return 0;
}

/**
 * iommu_report_device_fault: 0 when the fault was taken (parked or handed to a
 * handler); a negative errno when nobody handles it and the caller must answer.
 */
export function iommu_report_device_fault(dev: Device, prm: IommuFaultPageRequest): number {
  const p = param(dev);
  if (p === null) return -ENODEV;
  stats.reported++;
  const fault: IopfFault = { prm: { ...prm }, reportedNs: thisCpu().now() };
  if (!(prm.flags & IOMMU_FAULT_PAGE_REQUEST_LAST_PAGE)) {
    p.partial.push(fault);
    return 0;
  }
  const pasidValid = (prm.flags & IOMMU_FAULT_PAGE_REQUEST_PASID_VALID) !== 0;
  const faults: IopfFault[] = [];
  for (let i = 0; i < p.partial.length; ) {
    const f = p.partial[i]!;
    // iopf_group_alloc (Linux 6.10+) matches on the PRG index alone: PCIe gives a
    // function one PRG index space, whatever the PASID of each request
    if (f.prm.grpid === prm.grpid) {
      faults.push(f);
      p.partial.splice(i, 1);
    } else i++;
  }
  faults.push(fault);
  const domain = pasidValid ? iommu_get_domain_for_dev_pasid(dev, prm.pasid) : iommu_get_domain_for_dev(dev);
  if (domain === null || domain.iopfHandler === null) {
    pr_warn(`iommu: ${dev.name}: no fault handler for pasid ${pasidValid ? prm.pasid : IOMMU_NO_PASID}, grpid ${prm.grpid}`);
    return -EINVAL;
  }
  const group: IopfGroup = { dev, domain, last: fault, faults };
  p.pending.push(group);
  stats.groups++;
  const r = domain.iopfHandler(group);
  if (r) {
    p.pending.splice(p.pending.indexOf(group), 1);
    return r;
  }
  return 0;
}

/** iopf_group_response: answers a group once; later answers for it are ignored. */
export function iopf_group_response(group: IopfGroup, code: number): void {
  const p = param(group.dev);
  if (p === null) return;
  const i = p.pending.indexOf(group);
  if (i < 0) return;
  p.pending.splice(i, 1);
  const prm = group.last.prm;
  iommu_page_response(group.dev, group.last, { pasid: prm.pasid, grpid: prm.grpid, code });
  const lat = thisCpu().now() - group.faults[0]!.reportedNs;
  stats.responded++;
  stats.totalLatencyNs += lat;
  stats.maxLatencyNs = Math.max(stats.maxLatencyNs, lat);
  if (code === 0) stats.success++;
  else if (code === IOMMU_PAGE_RESP_INVALID) stats.invalid++;
  else stats.failure++;
  // dev_dbg: in dmesg, not on the serial console (printing on the fault path would stall it for ms)
  pr_debug(`iommu: ${group.dev.name}: iopf pasid ${prm.pasid} grpid ${prm.grpid} addr 0x${prm.addr.toString(16)} -> ${['SUCCESS', 'INVALID', 'FAILURE'][code] ?? code} in ${lat} ns`);
}

/** Queues `fn(group)` on the device's iopf workqueue (the SVA domain's iopf_handler). */
export function iopf_queue_work(group: IopfGroup, fn: (g: IopfGroup) => Generator<unknown, void, unknown>): number {
  const p = param(group.dev);
  if (p === null) return -ENODEV;
  queue_work(p.queue.wq, new WorkStruct(() => fn(group)));
  return 0;
}

export function iopf_pending_groups(dev: Device): number {
  return param(dev)?.pending.length ?? 0;
}

export { EINVAL };
