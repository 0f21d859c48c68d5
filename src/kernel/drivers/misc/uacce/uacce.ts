// uacce: the unified/user-space accelerator framework (Linux drivers/misc/uacce/uacce.c
// in shape, v6.2+ locking and queue-validity rules). A parent driver (hisi_qm) allocates
// a uacce device; each open of /dev/<name>-<id> is one hardware queue bound to the
// caller's address space with SVA. The process mmaps the queue's regions (MMIO
// doorbell page, DUS = SQ + CQ + status page), starts the queue and then drives it with
// loads and stores only; poll() sleeps until the queue has completions.
//
// sysfs: /sys/class/uacce/<name>-<id>/{api, flags, available_instances, algorithms,
// region_mmio_size, region_dus_size, isolate_strategy (RW), isolate, device -> parent}.

import { ENODEV, ENXIO, EINVAL, EEXIST, ENOMEM, EPERM } from '../../../lib/errno.js';
import { pr_err } from '../../../lib/printk.js';
import { register_chrdev } from '../../../fs/char_dev.js';
import { EPOLLIN, EPOLLRDNORM, MINOR, MKDEV, poll_wait, type File, type FileOperations, type Inode, type KGen, type PollTable } from '../../../fs/types.js';
import { sysfs_create_file, sysfs_remove } from '../../../fs/sysfs/sysfs.js';
import { Device, DeviceClass, device_del, device_register } from '../../base/core.js';
import { VM_DONTCOPY, VM_DONTEXPAND, VM_WIPEONFORK, type VmAreaStruct, type VmOperationsStruct } from '../../../mm/mm_types.js';
import { file_rmap_get, file_rmap_link } from '../../../mm/rmap.js';
import { unmap_mapping_range } from '../../../mm/filemap.js';
import { Mutex, mutex_lock, mutex_unlock } from '../../../locking/mutex.js';
import { WaitQueueHead, wake_up_interruptible } from '../../../sched/wait.js';
import { current } from '../../../sched/core.js';
import { subsys_initcall } from '../../../init/initcall.js';
import { iommu_dev_disable_iopf, iommu_dev_enable_iopf, dev_iommu } from '../../iommu/iommu.js';
import { iommu_sva_bind_device, iommu_sva_get_pasid, iommu_sva_unbind_device, type IommuSva } from '../../iommu/iommu-sva.js';
import {
  UACCE_CMD_PUT_Q,
  UACCE_CMD_START_Q,
  UACCE_DEV_SVA,
  UACCE_MAX_ERR_THRESHOLD,
  UACCE_MAX_REGION,
  UACCE_QFRT_DUS,
  UACCE_QFRT_MMIO,
  UACCE_Q_INIT,
  UACCE_Q_STARTED,
  UACCE_Q_ZOMBIE,
} from './uapi.js';

export const UACCE_NAME = 'uacce';
const PAGE_SHIFT = 12;
/** Minors per major (MINORMASK + 1 of a 20-bit minor). */
const UACCE_MINORS = 1 << 20;

/** struct uacce_qfile_region: one mmapped region of a queue. */
export interface UacceQfileRegion {
  readonly type: number;
}

/** struct uacce_ops: what the parent driver does for the framework. */
export interface UacceOps {
  get_available_instances?(uacce: UacceDevice): number;
  get_queue?(uacce: UacceDevice, pasid: number, q: UacceQueue): number;
  put_queue?(q: UacceQueue): void;
  start_queue?(q: UacceQueue): number;
  stop_queue?(q: UacceQueue): KGen<void>;
  is_q_updated?(q: UacceQueue): boolean;
  mmap?(q: UacceQueue, vma: VmAreaStruct, qfr: UacceQfileRegion): number;
  ioctl?(q: UacceQueue, cmd: number, arg: number): KGen<number>;
  get_isolate_state?(uacce: UacceDevice): number;
  isolate_err_threshold_write?(uacce: UacceDevice, num: number): number;
  isolate_err_threshold_read?(uacce: UacceDevice): number;
}

/** struct uacce_interface. */
export interface UacceInterface {
  readonly name: string;
  readonly flags: number;
  readonly ops: UacceOps;
}

/** struct uacce_queue: one open of the device. */
export class UacceQueue {
  readonly wait = new WaitQueueHead('uacce-q');
  readonly qfrs: (UacceQfileRegion | null)[] = [null, null];
  readonly mutex = new Mutex();
  state = UACCE_Q_ZOMBIE;
  pasid = 0;
  handle: IommuSva | null = null;
  /** The file's page cache map (filep->f_mapping): uacce_remove unmaps the queue's VMAs through it. */
  mapping: Map<number, number> | null = null;
  /** The parent driver's queue (struct hisi_qp). */
  priv: unknown = null;
  constructor(readonly uacce: UacceDevice) {}
}

/** struct uacce_device. */
export class UacceDevice {
  algs = '';
  api_ver = '';
  /** Pages of each region (UACCE_QFRT_MMIO, UACCE_QFRT_DUS). */
  readonly qf_pg_num = [0, 0];
  is_vf = false;
  priv: unknown = null;
  readonly queues: UacceQueue[] = [];
  readonly mutex = new Mutex();
  dev: Device;
  registered = false;
  constructor(
    public parent: Device | null,
    public flags: number,
    public ops: UacceOps | null,
    readonly dev_id: number,
    name: string,
  ) {
    this.dev = new Device(`${name}-${dev_id}`);
  }
}

let uacce_class = new DeviceClass(UACCE_NAME);
let uacce_major = -ENODEV;
/** uacce_xa: minor (dev_id) -> device. */
const uacce_xa = new Map<number, UacceDevice>();

/** Devices by dev_id, for tests and debugging. */
export function uacce_devices(): readonly UacceDevice[] {
  return [...uacce_xa.values()];
}

/** The queue behind an open file of a uacce device, or null. */
export function uacce_queue_of(file: File): UacceQueue | null {
  return file.private_data instanceof UacceQueue ? file.private_data : null;
}

/** The queue is usable: not put and its parent not removed. */
function uacce_queue_is_valid(q: UacceQueue): boolean {
  return q.state === UACCE_Q_INIT || q.state === UACCE_Q_STARTED;
}

function uacce_start_queue(q: UacceQueue): number {
  if (q.state !== UACCE_Q_INIT) return -EINVAL;
  const start = q.uacce.ops?.start_queue;
  if (start) {
    const r = start(q);
    if (r < 0) return r;
  }
  q.state = UACCE_Q_STARTED;
  return 0;
}

function* uacce_put_queue(q: UacceQueue): KGen<number> {
  const ops = q.uacce.ops;
  if (q.state === UACCE_Q_STARTED && ops?.stop_queue) yield* ops.stop_queue(q);
  if ((q.state === UACCE_Q_INIT || q.state === UACCE_Q_STARTED) && ops?.put_queue) ops.put_queue(q);
  q.state = UACCE_Q_ZOMBIE;
  return 0;
}

function* uacce_fops_unl_ioctl(file: File, cmd: number, arg: number): KGen<number> {
  const q = uacce_queue_of(file);
  if (q === null) return -ENODEV;
  const uacce = q.uacce;
  yield* mutex_lock(uacce.mutex);
  try {
    if (!uacce_queue_is_valid(q)) return -ENXIO;
    switch (cmd >>> 0) {
      case UACCE_CMD_START_Q >>> 0:
        return uacce_start_queue(q);
      case UACCE_CMD_PUT_Q >>> 0:
        return yield* uacce_put_queue(q);
      default:
        return uacce.ops?.ioctl ? yield* uacce.ops.ioctl(q, cmd >>> 0, arg) : -EINVAL;
    }
  } finally {
    mutex_unlock(uacce.mutex);
  }
}

/** uacce_bind_queue: SVA devices bind the caller's mm and use its PASID. */
function uacce_bind_queue(uacce: UacceDevice, q: UacceQueue): number {
  if (!(uacce.flags & UACCE_DEV_SVA)) return 0;
  const mm = current().mm;
  if (mm === null || uacce.parent === null) return -ENODEV;
  const handle = iommu_sva_bind_device(uacce.parent, mm);
  if (typeof handle === 'number') return handle;
  q.handle = handle;
  q.pasid = iommu_sva_get_pasid(handle);
  return 0;
}

function* uacce_unbind_queue(q: UacceQueue): KGen<void> {
  const h = q.handle;
  if (h === null) return;
  q.handle = null;
  yield* iommu_sva_unbind_device(h);
}

function* uacce_fops_open(inode: Inode, file: File): KGen<number> {
  const uacce = uacce_xa.get(MINOR(inode.i_rdev));
  if (uacce === undefined) return -ENODEV;
  yield* mutex_lock(uacce.mutex);
  try {
    if (uacce.parent === null) return -EINVAL;
    const q = new UacceQueue(uacce);
    let r = uacce_bind_queue(uacce, q);
    if (r < 0) return r;
    const get = uacce.ops?.get_queue;
    if (get) {
      r = get(uacce, q.pasid, q);
      if (r < 0) {
        yield* uacce_unbind_queue(q);
        return r;
      }
    }
    file.private_data = q;
    q.mapping = inode.i_mapping.pages;
    q.state = UACCE_Q_INIT;
    uacce.queues.push(q);
    return 0;
  } finally {
    mutex_unlock(uacce.mutex);
  }
}

function* uacce_fops_release(_inode: Inode, file: File): KGen<void> {
  const q = uacce_queue_of(file);
  if (q === null) return;
  const uacce = q.uacce;
  yield* mutex_lock(uacce.mutex);
  try {
    yield* uacce_put_queue(q);
    yield* uacce_unbind_queue(q);
    const i = uacce.queues.indexOf(q);
    if (i >= 0) uacce.queues.splice(i, 1);
  } finally {
    mutex_unlock(uacce.mutex);
  }
}

/**
 * uacce_vma_close: the region can be mapped again once its VMA is gone.
 * uacce_vma_mremap: a queue region never moves (-EPERM; Linux commit 02695347be53, Dec 2025,
 * also in the 6.12.y stable series): a moved copy would close the region twice.
 */
const uacce_vm_ops: VmOperationsStruct = {
  close(vma: VmAreaStruct): void {
    const q = vma.vm_private_data;
    if (!(q instanceof UacceQueue) || vma.vm_pgoff >= UACCE_MAX_REGION) return;
    q.qfrs[vma.vm_pgoff] = null;
  },
  mremap(): number {
    return -EPERM;
  },
};

function uacce_fops_mmap(file: File, vma: VmAreaStruct): number {
  const q = uacce_queue_of(file);
  if (q === null) return -ENODEV;
  if (vma.vm_pgoff >= UACCE_MAX_REGION) return -EINVAL;
  const type = vma.vm_pgoff;
  vma.vm_flags |= VM_DONTCOPY | VM_DONTEXPAND | VM_WIPEONFORK;
  vma.vm_ops = uacce_vm_ops;
  vma.vm_private_data = q;
  // mmap runs under mmap_lock; the queue's own state decides (q->mutex in Linux).
  if (!uacce_queue_is_valid(q)) return -ENXIO;
  if (q.qfrs[type] !== null) return -EEXIST;
  const mmap = q.uacce.ops?.mmap;
  if (mmap === undefined || (type !== UACCE_QFRT_MMIO && type !== UACCE_QFRT_DUS)) return -EINVAL;
  const qfr: UacceQfileRegion = { type };
  q.qfrs[type] = qfr;
  const r = mmap(q, vma, qfr);
  if (r < 0) {
    q.qfrs[type] = null;
    return r;
  }
  // PFN maps are not linked to the file's rmap by do_mmap; link them so that
  // uacce_remove's unmap_mapping_range finds them (q->mapping = filep->f_mapping).
  file_rmap_link(vma, file_rmap_get(file.f_inode.i_mapping.pages));
  return 0;
}

function uacce_fops_poll(file: File, pt: PollTable | null): number {
  const q = uacce_queue_of(file);
  if (q === null || !uacce_queue_is_valid(q)) return 0;
  poll_wait(file, q.wait, pt);
  return q.uacce.ops?.is_q_updated?.(q) ? EPOLLIN | EPOLLRDNORM : 0;
}

export const uacce_fops: FileOperations = {
  owner: 'uacce',
  open: uacce_fops_open,
  release: uacce_fops_release,
  unlocked_ioctl: uacce_fops_unl_ioctl,
  mmap: uacce_fops_mmap,
  poll: uacce_fops_poll,
};

/** Wakes poll() sleepers of a queue (the parent's completion path, qm_qp_event_notifier). */
export function uacce_wake_up(q: UacceQueue): void {
  wake_up_interruptible(q.wait);
}

/** uacce_enable_sva: IOPF then SVA on the parent; any failure clears UACCE_DEV_SVA. */
function uacce_enable_sva(parent: Device, flags: number): number {
  if (!(flags & UACCE_DEV_SVA)) return flags;
  flags &= ~UACCE_DEV_SVA;
  const r = iommu_dev_enable_iopf(parent);
  if (r < 0) {
    pr_err(`uacce: ${parent.name}: failed to enable IOPF feature! ret = ${r}`);
    return flags;
  }
  // IOMMU_DEV_FEAT_SVA: the IOMMU can share an mm with the device at a PASID.
  const di = dev_iommu(parent);
  if (di?.iommuDev?.ops.domainAllocSva === undefined || di.maxPasids <= 1) {
    pr_err(`uacce: ${parent.name}: failed to enable SVA feature! ret = ${-ENODEV}`);
    iommu_dev_disable_iopf(parent);
    return flags;
  }
  return flags | UACCE_DEV_SVA;
}

function uacce_disable_sva(uacce: UacceDevice): void {
  if (!(uacce.flags & UACCE_DEV_SVA) || uacce.parent === null) return;
  iommu_dev_disable_iopf(uacce.parent);
}

/**
 * uacce_alloc: a device for `parent` named "<interface.name>-<id>". Callers check the
 * negotiated `flags` (UACCE_DEV_SVA is cleared when the IOMMU cannot do it).
 */
export function uacce_alloc(parent: Device, iface: UacceInterface): UacceDevice | number {
  if (uacce_major < 0) return uacce_major;
  const flags = uacce_enable_sva(parent, iface.flags);
  let id = 0;
  while (uacce_xa.has(id)) id++;
  if (id >= UACCE_MINORS) {
    if (flags & UACCE_DEV_SVA) iommu_dev_disable_iopf(parent);
    return -ENOMEM;
  }
  const uacce = new UacceDevice(parent, flags, iface.ops, id, iface.name);
  uacce.dev.class = uacce_class;
  uacce.dev.parent = parent;
  uacce.dev.devt = MKDEV(uacce_major, id);
  uacce.dev.devnode_mode = 0o666;
  uacce_xa.set(id, uacce);
  return uacce;
}

function uacce_add_attrs(uacce: UacceDevice): void {
  const dir = uacce.dev.kobj_path;
  sysfs_create_file(dir, 'api', () => `${uacce.api_ver}\n`);
  sysfs_create_file(dir, 'flags', () => `${uacce.flags}\n`);
  // available_instances_show: -ENODEV when the parent cannot count its free queues.
  sysfs_create_file(dir, 'available_instances', () => {
    const get = uacce.ops?.get_available_instances;
    return get ? `${get(uacce)}\n` : -ENODEV;
  });
  sysfs_create_file(dir, 'algorithms', () => `${uacce.algs}\n`);
  // uacce_dev_is_visible: a region of no pages has no size file.
  if (uacce.qf_pg_num[UACCE_QFRT_MMIO]! > 0) sysfs_create_file(dir, 'region_mmio_size', () => `${uacce.qf_pg_num[UACCE_QFRT_MMIO]! * 2 ** PAGE_SHIFT}\n`);
  if (uacce.qf_pg_num[UACCE_QFRT_DUS]! > 0) sysfs_create_file(dir, 'region_dus_size', () => `${uacce.qf_pg_num[UACCE_QFRT_DUS]! * 2 ** PAGE_SHIFT}\n`);
  // uacce_dev_is_visible: isolate_strategy only with a threshold op, isolate only with get_isolate_state.
  const ops = uacce.ops;
  if (ops?.isolate_err_threshold_read || ops?.isolate_err_threshold_write) {
    sysfs_create_file(
      dir,
      'isolate_strategy',
      () => `${uacce.ops?.isolate_err_threshold_read?.(uacce) ?? 0}\n`,
      (text) => {
        // kstrtoul(buf, 0): decimal, 0x hex or 0 octal
        const t = text.trim();
        const v = /^0x[0-9a-f]+$/i.test(t) ? Number.parseInt(t.slice(2), 16) : /^0[0-7]*$/.test(t) ? Number.parseInt(t, 8) : /^[1-9][0-9]*$/.test(t) ? Number(t) : -1;
        if (v < 0 || !Number.isSafeInteger(v) || v > UACCE_MAX_ERR_THRESHOLD) return -EINVAL;
        const w = uacce.ops?.isolate_err_threshold_write;
        return w ? w(uacce, v) : -EPERM;
      },
      0o644,
    );
  }
  if (ops?.get_isolate_state) sysfs_create_file(dir, 'isolate', () => `${uacce.ops?.get_isolate_state?.(uacce) ?? 0}\n`);
}

const UACCE_ATTRS = ['api', 'flags', 'available_instances', 'algorithms', 'region_mmio_size', 'region_dus_size', 'isolate_strategy', 'isolate'];

/** uacce_register: the char device /dev/<name>-<id> and its class directory. */
export function* uacce_register(uacce: UacceDevice): KGen<number> {
  if (uacce.registered) return -EEXIST;
  const r = yield* device_register(uacce.dev);
  if (r < 0) return r;
  uacce_add_attrs(uacce);
  uacce.registered = true;
  return 0;
}

/**
 * uacce_remove: the parent is going away. User mappings are zapped (further accesses
 * fault), every queue is put and unbound, SVA is disabled and the node removed. Open
 * files stay valid; their ioctls and mmaps then fail with -ENXIO.
 */
export function* uacce_remove(uacce: UacceDevice): KGen<void> {
  const maps = new Set<Map<number, number>>();
  for (const q of uacce.queues) if (q.mapping !== null) maps.add(q.mapping);
  for (const m of maps) unmap_mapping_range(m, 0, 0);
  yield* mutex_lock(uacce.mutex);
  try {
    for (const q of [...uacce.queues]) {
      yield* uacce_put_queue(q);
      yield* uacce_unbind_queue(q);
    }
    uacce_disable_sva(uacce);
    if (uacce.registered) {
      const dir = uacce.dev.kobj_path;
      for (const a of UACCE_ATTRS) sysfs_remove(dir, a);
      yield* device_del(uacce.dev);
      uacce.registered = false;
    }
    uacce_xa.delete(uacce.dev_id);
    uacce.ops = null;
    uacce.parent = null;
  } finally {
    mutex_unlock(uacce.mutex);
  }
}

/** put_device of a device that was never registered (uacce_alloc's caller gives it up). */
export function uacce_put(uacce: UacceDevice): void {
  if (uacce.registered || uacce.queues.length > 0) return;
  uacce_disable_sva(uacce);
  uacce_xa.delete(uacce.dev_id);
  uacce.ops = null;
  uacce.parent = null;
}

/** uacce_init: the class and a dynamic char major for every uacce device. */
function uacce_init(): number {
  uacce_xa.clear();
  uacce_class = new DeviceClass(UACCE_NAME);
  uacce_major = register_chrdev(0, 0, UACCE_MINORS, UACCE_NAME, uacce_fops);
  return uacce_major < 0 ? uacce_major : 0;
}

subsys_initcall('uacce', uacce_init);
