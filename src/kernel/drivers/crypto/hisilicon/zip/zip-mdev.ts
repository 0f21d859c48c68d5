// hisi_zip as an mdev parent: one mediated device is one ZIP hardware queue pair, the
// pre-uacce WarpDrive/SDMDEV shape (../shared/reference/vfio-and-mm.md section 5):
// the queue is taken when the mdev is created (get_queue) and given back when it is
// removed (put_queue), started at the first open of the VFIO device and stopped
// (drained) at the last close. Enabled by hisi_zip.vfio_mdev=1 on a function that is
// not in uacce SVA mode; the kernel's own use of the ZIP (acomp, zipk) keeps working
// on the other queues of the same pool.
//
// Types: hisi_zip-comp and hisi_zip-decomp (the SQC alg_type picks the engine
// direction); available_instances is the QM's free queue count; create past it fails
// with -ENOSPC (mtty's rule); removing an open mdev is -EBUSY.
//
// DMA: the mdev is an emulated-IOMMU VFIO device (no IOMMU group of its own), so the
// device can never be given the user's IOVAs. The data path is mediated:
//   region 0 (doorbell, WRITE, 8 KiB): uacce's v2 MMIO layout, the 64-bit SQ/CQ
//       doorbell at 0x1000 (qn[11:0] cmd[15:12] | index[47:32]); qn is ignored (the
//       region is this queue's). Writes are trapped, never mapped: a direct doorbell
//       store would let the device fetch SQEs nobody checked.
//   region 1 (queue, READ|WRITE|MMAP, 144 KiB): [SQ 1024 x 128 B][CQ 1024 x 16 B],
//       uacce's DUS layout without the status page, in pages the kernel owns; the
//       device never reads them.
// An SQ doorbell with tail T takes the user's SQEs from the last tail up to T. For
// each, the source (in_sge_data_offset + input_data_length bytes), destination
// (out_sge_data_offset + dest_avail_out) and, in stream mode, the 64 KiB stream
// context are container IOVAs: the driver pins them with vfio_pin_pages (source READ,
// destination WRITE, context both), maps the pinned pages with the ZIP's DMA API
// (dma_map_sg: one contiguous device address range per buffer) and sends a copy of
// the SQE with those addresses, its tag set to the hardware slot, to the hardware SQ.
// The completion (the kernel polls the hardware CQ) unmaps, copies the result words
// back into the user's SQE (with the user's addresses and tag) and writes a CQE
// {sq_head = the user's SQ index, phase} into the user's CQ. A CQ doorbell tells the
// driver how far the user consumed; at most depth - 1 SQEs may be outstanding
// (mediated, CQE not consumed), more is -EBUSY. The first SQE that cannot be mediated
// ends the doorbell write with its error (earlier ones are submitted, it is not):
// -EINVAL SGL buffers (not supported), a buffer the DMA API cannot map contiguously
// or a bad index; then what vfio_pin_pages says (-EINVAL unmapped IOVA, -EPERM
// mapping without the access, -ENOMEM RLIMIT_MEMLOCK, -E2BIG never: pins go in
// chunks of 512 pages).
// Pinned pages stay pinned after their request (a per-page cache, as KVMGT keeps
// its DMA translations): a later request over the same pages pins nothing new.
// UNMAP_DMA over them calls dma_unmap, which waits (up to 1 s) for the in-flight
// requests using them to complete, takes any still running off the ZIP's DMA domain
// (the engine's access then faults, and the QM resets the function) and unpins; the
// last close drains the queue and unpins everything.
// VFIO_SDMDEV_CMD_WAIT (_IO('W', 1)) sleeps until a CQE waits to be consumed; arg
// is a timeout in ms (0 waits without one): 0, -ETIMEDOUT or -EINTR.

import { thisCpu } from '../../../../../arch/index.js';
import { EBUSY, EFAULT, EINVAL, ENODEV, ENOMEM, ENOSPC, ENOTTY, ETIMEDOUT } from '../../../../lib/errno.js';
import { pr_info } from '../../../../lib/printk.js';
import { copy_from_user, copy_to_user } from '../../../../lib/uaccess.js';
import { getField } from '../../../../lib/field-table.js';
import type { KGen } from '../../../../fs/types.js';
import { GFP_KERNEL, __GFP_ZERO } from '../../../../mm/gfp.js';
import { alloc_pages, free_pages } from '../../../../mm/page_alloc.js';
import { remap_pfn_range } from '../../../../mm/memory.js';
import type { VmAreaStruct } from '../../../../mm/mm_types.js';
import { WaitQueueHead, wait_event_interruptible_timeout, wake_up_all } from '../../../../sched/wait.js';
import { TASK_UNINTERRUPTIBLE } from '../../../../sched/task.js';
import { Scatterlist } from '../../../../crypto/scatterlist.js';
import { Device } from '../../../base/core.js';
import { DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE, dma_map_sg, dma_unmap_sg } from '../../../iommu/dma-iommu.js';
import { IOMMU_READ, IOMMU_WRITE } from '../../../iommu/iommu.js';
import { MdevDevice, MdevParent, MdevType, mdev_get_drvdata, mdev_register_parent, mdev_set_drvdata, mdev_unregister_parent } from '../../../vfio/mdev/mdev_core.js';
import { mdev_register_driver, type MdevDriver } from '../../../vfio/mdev/mdev_driver.js';
import { VfioDevice, vfio_pin_pages, vfio_register_emulated_iommu_dev, vfio_set_irqs_validate_and_prepare, vfio_unpin_pages, vfio_unregister_group_dev, type VfioDeviceOps } from '../../../vfio/vfio_main.js';
import {
  VFIO_DEVICE_GET_INFO,
  VFIO_DEVICE_GET_IRQ_INFO,
  VFIO_DEVICE_GET_REGION_INFO,
  VFIO_DEVICE_RESET,
  VFIO_DEVICE_SET_IRQS,
  VFIO_REGION_INFO_FLAG_MMAP,
  VFIO_REGION_INFO_FLAG_READ,
  VFIO_REGION_INFO_FLAG_WRITE,
  ustruct_from_user,
  ustruct_to_user,
  vfio_device_info,
  vfio_irq_info,
  vfio_irq_set,
  vfio_region_info,
} from '../../../vfio/uapi.js';
import { HisiQm, HisiQp, hisi_qm_create_qp, hisi_qm_get_free_qp_num, hisi_qm_release_qp, hisi_qm_start_qp, hisi_qm_stop_qp, hisi_qp_send } from '../qm.js';
import { QM_CQE_SIZE, QM_Q_DEPTH } from '../qm-structs.js';
import * as R from '../qm-regs.js';
import { HZIP_FLAT, HZIP_MAX_BD_BYTES, HZIP_SQE, HZIP_SQE_SIZE, HZIP_STREAM_CTX_SIZE } from './zip-sqe.js';

const PAGE_SIZE = 4096;
export const HZIP_MDEV_DOORBELL_REGION_INDEX = 0;
export const HZIP_MDEV_QUEUE_REGION_INDEX = 1;
export const HZIP_MDEV_NUM_REGIONS = 2;
/** File offset of a region: index << 40, as vfio-pci. */
export const HZIP_MDEV_OFFSET_SHIFT = 40;
export const HZIP_MDEV_DOORBELL_SIZE = 2 * PAGE_SIZE;
export const HZIP_MDEV_SQ_SIZE = HZIP_SQE_SIZE * QM_Q_DEPTH;
export const HZIP_MDEV_CQ_SIZE = QM_CQE_SIZE * QM_Q_DEPTH;
export const HZIP_MDEV_QUEUE_SIZE = HZIP_MDEV_SQ_SIZE + HZIP_MDEV_CQ_SIZE;
/** include/uapi/linux/vfio.h VFIO_DEVICE_FLAGS_PLATFORM: the device is neither PCI nor another bus type. */
export const VFIO_DEVICE_FLAGS_PLATFORM = 1 << 2;
/** WarpDrive's VFIO_SDMDEV_CMD_WAIT = _IO('W', 1). */
export const VFIO_SDMDEV_CMD_WAIT = 0x5701;
/** How long dma_unmap waits for in-flight requests over the range (virtual ns). */
const ZIP_MDEV_UNMAP_WAIT_NS = 1_000_000_000;
/** VFIO_PIN_PAGES_MAX_ENTRIES */
const PIN_CHUNK = PAGE_SIZE / 8;
const SQ_ORDER = Math.log2(HZIP_MDEV_SQ_SIZE / PAGE_SIZE);
const CQ_ORDER = Math.log2(HZIP_MDEV_CQ_SIZE / PAGE_SIZE);
const F = HZIP_SQE.f;
/** SQE dwords the driver rewrites for the hardware: tag (13) and the three addresses (18-23). */
const TAG_DW = 13;
const ADDR_DW = [18, 19, 20, 21, 22, 23];

/** One buffer of an SQE as the device sees it. */
interface ZipMdevMap {
  readonly sg: Scatterlist[];
  readonly dir: number;
}

/** One mediated SQE in the hardware SQ. */
class ZipMdevReq {
  maps: ZipMdevMap[] = [];
  constructor(
    readonly userIdx: number,
    /** The user's tag and addresses (dwords 13, 18-23), restored at completion. */
    readonly userWords: Uint32Array,
    /** IOVA pages the request uses. */
    readonly pages: readonly number[],
  ) {}
}

/** The ZIP parent of one function. */
class ZipMdevParent {
  readonly parent: MdevParent;
  constructor(
    readonly qm: HisiQm,
    dev: Device,
  ) {
    this.parent = new MdevParent(dev, hisi_zip_mdev_driver, [new MdevType('comp', 'hisi_zip compression queue', 0), new MdevType('decomp', 'hisi_zip decompression queue', 1)]);
  }
}

/** One ZIP mdev: its queue pair, the user's ring and the pins. */
export class ZipMdevState {
  readonly vdev: VfioDevice;
  readonly wait = new WaitQueueHead('zip-mdev');
  /** Next user SQ index to mediate (the last SQ doorbell's tail). */
  sqTail = 0;
  /** Next user CQE slot and its phase. */
  cqTail = 0;
  cqPhase = 1;
  /** The user's CQ head (the last CQ doorbell). */
  cqHead = 0;
  /** SQEs mediated, and CQEs written and consumed, since the device was opened. */
  mediated = 0;
  posted = 0;
  consumed = 0;
  readonly inflight = new Map<number, ZipMdevReq>();
  /** Pinned IOVA page -> PFN (one vfio_pin_pages reference each). */
  readonly pins = new Map<number, number>();
  private readonly sqe = new Uint8Array(HZIP_SQE_SIZE);
  readonly words = new Uint32Array(this.sqe.buffer);
  constructor(
    readonly zp: ZipMdevParent,
    readonly mdev: MdevDevice,
    readonly qp: HisiQp,
    /** Physical addresses of the user's SQ and CQ pages. */
    readonly sqPa: number,
    readonly cqPa: number,
  ) {
    this.vdev = new VfioDevice(mdev, zip_mdev_ops);
  }
  get sqeBytes(): Uint8Array {
    return this.sqe;
  }
}

const parents = new Map<HisiQm, ZipMdevParent>();

function state_of(vdev: VfioDevice): ZipMdevState {
  return mdev_get_drvdata(vdev.dev as MdevDevice) as ZipMdevState;
}

function dmaDev(st: ZipMdevState): Device {
  return st.zp.parent.dev;
}

function unmap_req(st: ZipMdevState, req: ZipMdevReq): void {
  for (const m of req.maps) dma_unmap_sg(dmaDev(st), m.sg, m.dir);
  req.maps = [];
}

/** Drops the cached pin of each page in [iova, iova + size). */
function unpin_range(st: ZipMdevState, iova: number, size: number): void {
  for (const [page] of [...st.pins]) {
    if (page < iova || page >= iova + size) continue;
    vfio_unpin_pages(st.vdev, page, 1);
    st.pins.delete(page);
  }
}

/**
 * Pins the pages of [iova, iova + len) (vfio_pin_pages, in chunks), one reference per
 * page recorded in `taken` (IOVA page, PFN); fills `pfns` page by page. 0 or -errno
 * (the chunks pinned stay in `taken` for the caller to release).
 */
function pin_buffer(st: ZipMdevState, iova: number, len: number, prot: number, taken: [number, number][], pfns: number[]): number {
  const first = Math.floor(iova / PAGE_SIZE) * PAGE_SIZE;
  const npage = Math.ceil((iova + len) / PAGE_SIZE) - first / PAGE_SIZE;
  for (let done = 0; done < npage; done += PIN_CHUNK) {
    const n = Math.min(PIN_CHUNK, npage - done);
    const got: number[] = [];
    const r = vfio_pin_pages(st.vdev, first + done * PAGE_SIZE, n, prot, got);
    if (r < 0) return r;
    for (let i = 0; i < n; i++) {
      taken.push([first + (done + i) * PAGE_SIZE, got[i]!]);
      pfns.push(got[i]!);
    }
  }
  return 0;
}

/** dma_map_sg of the pinned pages of one buffer; the device address, or -errno when it is not one contiguous range. */
function map_buffer(st: ZipMdevState, iova: number, len: number, pfns: readonly number[], dir: number, maps: ZipMdevMap[]): number {
  const sg: Scatterlist[] = [];
  let at = iova;
  for (const pfn of pfns) {
    const off = at % PAGE_SIZE;
    const n = Math.min(PAGE_SIZE - off, iova + len - at);
    sg.push(new Scatterlist(pfn * PAGE_SIZE + off, n));
    at += n;
  }
  const nents = dma_map_sg(dmaDev(st), sg, dir);
  if (nents === 0) return -ENOMEM;
  maps.push({ sg, dir });
  for (let i = 1; i < nents; i++) if (sg[i]!.dma_address !== sg[i - 1]!.dma_address + sg[i - 1]!.dma_length) return -EINVAL;
  return sg[0]!.dma_address;
}

/** Mediates the user's SQE at `idx` into the hardware SQ. 0 or -errno (nothing sent, nothing newly held). */
function zip_mdev_mediate(st: ZipMdevState, idx: number): number {
  const cpu = thisCpu();
  const w = st.words;
  cpu.readPhys(st.sqPa + idx * HZIP_SQE_SIZE, st.sqeBytes, 0, HZIP_SQE_SIZE);
  if (getField(w, F.buf_type) !== HZIP_FLAT) return -EINVAL;
  const addr = (dw: number): number => w[dw + 1]! * 4294967296 + w[dw]!;
  const bufs: { dw: number; len: number; prot: number; dir: number }[] = [
    { dw: 18, len: getField(w, F.in_sge_data_offset) + getField(w, F.input_data_length), prot: IOMMU_READ, dir: DMA_TO_DEVICE },
    { dw: 20, len: getField(w, F.out_sge_data_offset) + Math.min(getField(w, F.dest_avail_out), HZIP_MAX_BD_BYTES), prot: IOMMU_WRITE, dir: DMA_FROM_DEVICE },
  ];
  if (getField(w, F.stream_mode)) bufs.push({ dw: 22, len: HZIP_STREAM_CTX_SIZE, prot: IOMMU_READ | IOMMU_WRITE, dir: DMA_BIDIRECTIONAL });
  const userWords = new Uint32Array([w[TAG_DW]!, ...ADDR_DW.map((d) => w[d]!)]);
  const taken: [number, number][] = [];
  const maps: ZipMdevMap[] = [];
  const devAddr: number[] = [];
  let ret = 0;
  for (const b of bufs) {
    if (b.len === 0) {
      devAddr.push(0);
      continue;
    }
    const pfns: number[] = [];
    ret = pin_buffer(st, addr(b.dw), b.len, b.prot, taken, pfns);
    if (ret) break;
    const da = map_buffer(st, addr(b.dw), b.len, pfns, b.dir, maps);
    if (da < 0) {
      ret = da;
      break;
    }
    devAddr.push(da);
  }
  const slot = st.qp.sq_tail;
  if (ret === 0) {
    bufs.forEach((b, i) => {
      w[b.dw] = devAddr[i]! >>> 0;
      w[b.dw + 1] = Math.floor(devAddr[i]! / 4294967296);
    });
    if (bufs.length === 2) w[22] = w[23] = 0;
    w[TAG_DW] = slot;
    ret = hisi_qp_send(st.qp, st.sqeBytes);
  }
  // one cached reference per page: this request's extra references go now
  for (const [page, pfn] of taken) {
    if (ret === 0 && !st.pins.has(page)) st.pins.set(page, pfn);
    else vfio_unpin_pages(st.vdev, page, 1);
  }
  const req = new ZipMdevReq(idx, userWords, taken.map((t) => t[0]));
  req.maps = maps;
  if (ret) {
    unmap_req(st, req);
    return ret;
  }
  st.inflight.set(slot, req);
  st.mediated++;
  return 0;
}

/** req_cb: result back to the user's SQE, a CQE in the user's CQ, the device's mappings gone. */
function zip_mdev_req_done(qp: HisiQp, sqe: Uint32Array): void {
  const st = qp.qp_ctx as ZipMdevState;
  const slot = sqe[TAG_DW]!;
  const req = st.inflight.get(slot);
  if (req === undefined) return;
  st.inflight.delete(slot);
  unmap_req(st, req);
  const cpu = thisCpu();
  const out = st.words;
  out.set(sqe);
  out[TAG_DW] = req.userWords[0]!;
  ADDR_DW.forEach((d, i) => (out[d] = req.userWords[i + 1]!));
  cpu.writePhys(st.sqPa + req.userIdx * HZIP_SQE_SIZE, st.sqeBytes, 0, HZIP_SQE_SIZE);
  // the CQE's phase word last, after the SQE result
  const cqe = st.cqPa + st.cqTail * QM_CQE_SIZE;
  cpu.stPhys32(cqe, 0);
  cpu.stPhys32(cqe + 4, 0);
  cpu.stPhys32(cqe + 8, req.userIdx);
  cpu.dsb();
  cpu.stPhys32(cqe + 12, st.cqPhase << 16);
  if (++st.cqTail === QM_Q_DEPTH) {
    st.cqTail = 0;
    st.cqPhase ^= 1;
  }
  st.posted++;
  wake_up_all(st.wait);
}

/** A trapped doorbell store: SQ mediates up to the new tail, CQ records the user's head. */
function zip_mdev_doorbell(st: ZipMdevState, lo: number, hi: number): number {
  const cmd = (lo >>> 12) & 0xf;
  const index = hi & 0xffff;
  if (index >= QM_Q_DEPTH) return -EINVAL;
  if (cmd === R.QM_DOORBELL_CMD_CQ) {
    const n = (index - st.cqHead + QM_Q_DEPTH) % QM_Q_DEPTH;
    if (n > st.posted - st.consumed) return -EINVAL;
    st.consumed += n;
    st.cqHead = index;
    return 0;
  }
  if (cmd !== R.QM_DOORBELL_CMD_SQ) return -EINVAL;
  while (st.sqTail !== index) {
    if (st.mediated - st.consumed >= QM_Q_DEPTH - 1) return -EBUSY;
    const r = zip_mdev_mediate(st, st.sqTail);
    if (r) return r;
    st.sqTail = (st.sqTail + 1) % QM_Q_DEPTH;
  }
  return 0;
}

function region_of(pos: number): { index: number; off: number } {
  return { index: Math.floor(pos / 2 ** HZIP_MDEV_OFFSET_SHIFT), off: pos % 2 ** HZIP_MDEV_OFFSET_SHIFT };
}

/** The queue region's bytes [off, off + n) as physical runs (SQ pages, then CQ pages). */
function queue_pa(st: ZipMdevState, off: number): number {
  return off < HZIP_MDEV_SQ_SIZE ? st.sqPa + off : st.cqPa + off - HZIP_MDEV_SQ_SIZE;
}

function* zip_mdev_rw(vdev: VfioDevice, ubuf: number, count: number, ppos: { pos: number }, write: boolean): KGen<number> {
  const st = state_of(vdev);
  const { index, off } = region_of(ppos.pos);
  if (index === HZIP_MDEV_DOORBELL_REGION_INDEX) {
    if (!write || count !== 8 || off !== R.QM_DOORBELL_SQ_CQ_BASE_V2) return -EINVAL;
    const b = new Uint8Array(8);
    if (copy_from_user(b, ubuf, 8)) return -EFAULT;
    const dv = new DataView(b.buffer);
    const r = zip_mdev_doorbell(st, dv.getUint32(0, true), dv.getUint32(4, true));
    return r < 0 ? r : 8;
  }
  if (index !== HZIP_MDEV_QUEUE_REGION_INDEX || off + count > HZIP_MDEV_QUEUE_SIZE) return -EINVAL;
  const cpu = thisCpu();
  const b = new Uint8Array(count);
  if (write) {
    if (copy_from_user(b, ubuf, count)) return -EFAULT;
    for (let i = 0; i < count; i++) cpu.stPhys8(queue_pa(st, off + i), b[i]!);
  } else {
    for (let i = 0; i < count; i++) b[i] = cpu.ldPhys8(queue_pa(st, off + i));
    if (copy_to_user(ubuf, b, count)) return -EFAULT;
  }
  ppos.pos += count;
  return count;
}

function* zip_mdev_get_info(arg: number): KGen<number> {
  const minsz = vfio_device_info.end('num_irqs');
  const info = ustruct_from_user(vfio_device_info, arg, minsz);
  if (typeof info === 'number') return info;
  if (info.get('argsz') < minsz) return -EINVAL;
  info.set('flags', VFIO_DEVICE_FLAGS_PLATFORM);
  info.set('num_regions', HZIP_MDEV_NUM_REGIONS);
  info.set('num_irqs', 0);
  return ustruct_to_user(arg, info, minsz);
}

function* zip_mdev_get_region_info(arg: number): KGen<number> {
  const minsz = vfio_region_info.end('offset');
  const info = ustruct_from_user(vfio_region_info, arg, minsz);
  if (typeof info === 'number') return info;
  if (info.get('argsz') < minsz) return -EINVAL;
  const index = info.get('index');
  if (index === HZIP_MDEV_DOORBELL_REGION_INDEX) {
    info.set('flags', VFIO_REGION_INFO_FLAG_WRITE);
    info.set('size', HZIP_MDEV_DOORBELL_SIZE);
  } else if (index === HZIP_MDEV_QUEUE_REGION_INDEX) {
    info.set('flags', VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE | VFIO_REGION_INFO_FLAG_MMAP);
    info.set('size', HZIP_MDEV_QUEUE_SIZE);
  } else return -EINVAL;
  info.set('cap_offset', 0);
  info.set('offset', index * 2 ** HZIP_MDEV_OFFSET_SHIFT);
  return ustruct_to_user(arg, info, minsz);
}

/** GET_IRQ_INFO: the mdev has no IRQs, so every index is past num_irqs (-EINVAL, as mtty and vfio-platform). */
function* zip_mdev_get_irq_info(arg: number): KGen<number> {
  const minsz = vfio_irq_info.end('count');
  const info = ustruct_from_user(vfio_irq_info, arg, minsz);
  if (typeof info === 'number') return info;
  return -EINVAL;
}

/** SET_IRQS: vfio_set_irqs_validate_and_prepare with no IRQ index refuses everything (-EINVAL). */
function* zip_mdev_set_irqs(arg: number): KGen<number> {
  const minsz = vfio_irq_set.end('count');
  const hdr = ustruct_from_user(vfio_irq_set, arg, minsz);
  if (typeof hdr === 'number') return hdr;
  const r = vfio_set_irqs_validate_and_prepare(hdr.get('argsz'), hdr.get('flags'), hdr.get('index'), hdr.get('start'), hdr.get('count'), 0, 0);
  return r < 0 ? r : -EINVAL;
}

const zip_mdev_ops: VfioDeviceOps = {
  name: 'hisi_zip-mdev',
  *open_device(vdev) {
    const st = state_of(vdev);
    const cpu = thisCpu();
    cpu.fillPhys(st.sqPa, 0, HZIP_MDEV_SQ_SIZE);
    cpu.fillPhys(st.cqPa, 0, HZIP_MDEV_CQ_SIZE);
    st.sqTail = st.cqTail = st.cqHead = 0;
    st.cqPhase = 1;
    st.mediated = st.posted = st.consumed = 0;
    const r = hisi_qm_start_qp(st.qp, 0);
    return r < 0 ? r : 0;
  },
  *close_device(vdev) {
    const st = state_of(vdev);
    // drain: completions still reach the user's ring; then nothing stays pinned
    yield* hisi_qm_stop_qp(st.qp);
    for (const req of st.inflight.values()) unmap_req(st, req);
    st.inflight.clear();
    unpin_range(st, 0, Number.MAX_SAFE_INTEGER);
  },
  read(vdev, ubuf, count, ppos) {
    return zip_mdev_rw(vdev, ubuf, count, ppos, false);
  },
  write(vdev, ubuf, count, ppos) {
    return zip_mdev_rw(vdev, ubuf, count, ppos, true);
  },
  *ioctl(vdev, cmd, arg) {
    switch (cmd) {
      case VFIO_DEVICE_GET_INFO:
        return yield* zip_mdev_get_info(arg);
      case VFIO_DEVICE_GET_REGION_INFO:
        return yield* zip_mdev_get_region_info(arg);
      case VFIO_DEVICE_GET_IRQ_INFO:
        return yield* zip_mdev_get_irq_info(arg);
      case VFIO_DEVICE_SET_IRQS:
        return yield* zip_mdev_set_irqs(arg);
      case VFIO_DEVICE_RESET:
        // no reset (GET_INFO does not set VFIO_DEVICE_FLAGS_RESET): vfio_platform_call_reset's -EINVAL
        return -EINVAL;
      case VFIO_SDMDEV_CMD_WAIT: {
        const st = state_of(vdev);
        const ready = (): boolean => st.posted > st.consumed;
        const r = yield* wait_event_interruptible_timeout(st.wait, ready, arg > 0 ? arg * 1e6 : Number.MAX_SAFE_INTEGER);
        if (r < 0) return r;
        return ready() ? 0 : -ETIMEDOUT;
      }
      default:
        return -ENOTTY;
    }
  },
  mmap(vdev, vma: VmAreaStruct) {
    const st = state_of(vdev);
    if (vma.vm_pgoff !== (HZIP_MDEV_QUEUE_REGION_INDEX * 2 ** HZIP_MDEV_OFFSET_SHIFT) / PAGE_SIZE) return -EINVAL;
    if (vma.vm_end - vma.vm_start !== HZIP_MDEV_QUEUE_SIZE) return -EINVAL;
    const r = remap_pfn_range(vma, vma.vm_start, st.sqPa / PAGE_SIZE, HZIP_MDEV_SQ_SIZE);
    if (r) return r;
    return remap_pfn_range(vma, vma.vm_start + HZIP_MDEV_SQ_SIZE, st.cqPa / PAGE_SIZE, HZIP_MDEV_CQ_SIZE);
  },
  *dma_unmap(vdev, iova, length) {
    const st = state_of(vdev);
    const uses = (): boolean => [...st.inflight.values()].some((req) => req.maps.length > 0 && req.pages.some((p) => p + PAGE_SIZE > iova && p < iova + length));
    // the device finishes what it is doing with the pages first; one that does not
    // within the timeout loses its mappings (its DMA then faults) before the unpin
    yield* wait_event_interruptible_timeout(st.wait, () => !uses(), ZIP_MDEV_UNMAP_WAIT_NS, TASK_UNINTERRUPTIBLE);
    for (const req of st.inflight.values()) if (req.pages.some((p) => p + PAGE_SIZE > iova && p < iova + length)) unmap_req(st, req);
    unpin_range(st, iova, length);
  },
};

function zip_of(mtype: MdevType): ZipMdevParent {
  return [...parents.values()].find((p) => p.parent === mtype.parent)!;
}

export const hisi_zip_mdev_driver: MdevDriver = {
  name: 'hisi_zip_mdev',
  bus: null,
  device_api: 'vfio-platform',
  get_available(mtype) {
    return hisi_qm_get_free_qp_num(zip_of(mtype).qm);
  },
  show_description(mtype) {
    return `one ZIP queue pair (${mtype.sysfs_name === 'comp' ? 'compression' : 'decompression'}), DMA mediated through vfio_pin_pages\n`;
  },
  remove_busy(mdev) {
    const st = mdev_get_drvdata(mdev) as ZipMdevState | null;
    return st !== null && st.vdev.open_count > 0 ? -EBUSY : 0;
  },
  *mdev_probe(mdev: MdevDevice) {
    const zp = zip_of(mdev.type);
    // get_queue
    const qp = hisi_qm_create_qp(zp.qm, mdev.type.priv as number);
    if (typeof qp === 'number') return qp === -EBUSY ? -ENOSPC : qp;
    const sq = alloc_pages(SQ_ORDER, GFP_KERNEL | __GFP_ZERO);
    const cq = sq < 0 ? -1 : alloc_pages(CQ_ORDER, GFP_KERNEL | __GFP_ZERO);
    if (cq < 0) {
      if (sq >= 0) free_pages(sq * PAGE_SIZE, SQ_ORDER);
      hisi_qm_release_qp(qp);
      return -ENOMEM;
    }
    const st = new ZipMdevState(zp, mdev, qp, sq * PAGE_SIZE, cq * PAGE_SIZE);
    qp.is_in_kernel = true;
    qp.qp_ctx = st;
    qp.req_cb = zip_mdev_req_done;
    mdev_set_drvdata(mdev, st);
    const r = yield* vfio_register_emulated_iommu_dev(st.vdev);
    if (r) {
      mdev_set_drvdata(mdev, null);
      free_pages(st.sqPa, SQ_ORDER);
      free_pages(st.cqPa, CQ_ORDER);
      hisi_qm_release_qp(qp);
      return r;
    }
    pr_info(`${zp.qm.name}: mdev ${mdev.name}: queue ${qp.qp_id} (${mdev.type.sysfs_name})`);
    return 0;
  },
  *mdev_remove(mdev: MdevDevice) {
    const st = mdev_get_drvdata(mdev) as ZipMdevState | null;
    if (st === null) return;
    yield* vfio_unregister_group_dev(st.vdev);
    // put_queue (the last close stopped it)
    hisi_qm_release_qp(st.qp);
    free_pages(st.sqPa, SQ_ORDER);
    free_pages(st.cqPa, CQ_ORDER);
    mdev_set_drvdata(mdev, null);
  },
};

let driverRegistered = false;

/** hisi_zip probe hook: the function becomes an mdev parent. */
export function* hisi_zip_mdev_register(qm: HisiQm): KGen<number> {
  const dev = qm.pdev.dev;
  if (!(dev instanceof Device)) return -ENODEV;
  if (!driverRegistered) {
    const r = yield* mdev_register_driver(hisi_zip_mdev_driver);
    if (r) return r;
    driverRegistered = true;
  }
  const zp = new ZipMdevParent(qm, dev);
  parents.set(qm, zp);
  const r = mdev_register_parent(zp.parent);
  if (r) parents.delete(qm);
  return r;
}

/** hisi_zip remove hook: every mdev goes (an open one once its user lets go). */
export function* hisi_zip_mdev_unregister(qm: HisiQm): KGen<void> {
  const zp = parents.get(qm);
  if (zp === undefined) return;
  yield* mdev_unregister_parent(zp.parent);
  parents.delete(qm);
}

/** A new boot in the same host process starts with no parents and the driver unregistered. */
export function hisi_zip_mdev_reset_state(): void {
  parents.clear();
  driverRegistered = false;
}

/** The state of an mdev of this driver (for tests and debugging). */
export function hisi_zip_mdev_state(mdev: MdevDevice): ZipMdevState | null {
  return mdev.driver === hisi_zip_mdev_driver ? (mdev_get_drvdata(mdev) as ZipMdevState | null) : null;
}
