// The VFIO type1 IOMMU backend (drivers/vfio/vfio_iommu_type1.c in shape): each
// container gets one instance (TYPE1 or TYPE1v2 at SET_IOMMU). Groups attach to an
// unmanaged IOMMU domain (a second group shares it when the IOMMU lets it); the valid
// IOVA list is the domains' aperture minus the groups' reserved regions (the SMMU's
// software MSI window). MAP_DMA pins the user pages long-term (FOLL_LONGTERM: pages in
// ZONE_MOVABLE are migrated out first) in the mm of the task that maps, charges them
// to that mm's locked_vm against RLIMIT_MEMLOCK (unless the mapper had CAP_IPC_LOCK at
// MAP time) and maps them in every domain. UNMAP_DMA (v1 or v2 rules) and the last
// group leaving unmap, unpin (dirtying device-writable pages) and uncharge.
//
// Errnos follow Linux's order (see ../shared/reference/vfio-and-mm.md section 3):
// MAP: argsz/flags -EINVAL; zero/unaligned size, iova or vaddr -EINVAL; wrap -EINVAL;
// overlap -EEXIST; dma_entry_limit reached -ENOSPC; outside the valid IOVA list
// -EINVAL; then pinning (-EFAULT) and RLIMIT_MEMLOCK (-ENOMEM).
//
// Emulated-IOMMU groups (mdev; Linux's "external domain", later emulated_iommu_groups)
// attach with no IOMMU domain. While the container has no IOMMU-backed domain,
// MAP_DMA only records the mapping; the vendor driver pins what its device will touch
// with vfio_pin_pages (TYPE1v2 only, -EACCES otherwise; the IOVA must be mapped,
// -EINVAL, with at least the asked prot, -EPERM). Each pinned page is kept per mapping
// (the pfn_list) with a reference count: pinning it again takes no new pin and no new
// charge; its first pin charges locked_vm (-ENOMEM past RLIMIT_MEMLOCK) unless an
// IOMMU domain already pinned and charged the whole mapping. UNMAP_DMA over a mapping
// with such pins calls every open device's dma_unmap, and the vendor driver must unpin
// (Linux BUG()s after 10 retries). The last domain leaving a container that still has
// emulated groups unpins the remote pins and re-charges only the vendor pins.
//
// The VADDR flags (VFIO_UPDATE_VADDR) and dirty tracking are not implemented: the
// flags are refused as unknown (-EINVAL), CHECK_EXTENSION(UPDATE_VADDR) is 0 and
// DIRTY_PAGES is -ENOTTY.

import { EACCES, EEXIST, EFAULT, EINVAL, EIO, ENODEV, ENOMEM, ENOSPC, ENOTTY, EPERM } from '../../lib/errno.js';
import { pr_warn } from '../../lib/printk.js';
import { copy_to_user } from '../../lib/uaccess.js';
import { current } from '../../sched/core.js';
import { CAP_IPC_LOCK, RLIMIT_MEMLOCK, has_capability, rlimit, type TaskStruct } from '../../sched/task.js';
import type { KGen } from '../../fs/types.js';
import { FOLL_LONGTERM, FOLL_WRITE, pin_user_pages_remote, unpin_user_pages_dirty_lock } from '../../mm/gup.js';
import { follow_pte, handle_vma_fault, type FollowResult } from '../../mm/memory.js';
import { find_vma } from '../../mm/mmap.js';
import { mmgrab, mmdrop, mmget_not_zero, mmput } from '../../mm/fork.js';
import { FAULT_FLAG_REMOTE, FAULT_FLAG_WRITE, VM_FAULT_ERROR, VM_PFNMAP, type MmStruct } from '../../mm/mm_types.js';
import { NODE_DATA, mem_map } from '../../mm/page_alloc.js';
import { PAGE_SIZE, PG_reserved } from '../../mm/page.js';
import { __account_locked_vm, current_mm_creds, type MmCreds } from '../../mm/util.js';
import {
  IOMMU_CACHE,
  IOMMU_READ,
  IOMMU_WRITE,
  iommu_attach_group,
  iommu_detach_group,
  iommu_domain_free,
  iommu_get_resv_regions,
  iommu_map,
  iommu_paging_domain_alloc,
  iommu_unmap,
  kernel_cmdline,
  type IommuDomain,
  type IommuGroup,
} from '../iommu/iommu.js';
import type { VfioIommuDriverOps } from './container.js';
import { VFIO_EMULATED_IOMMU, VFIO_IOMMU, type VfioGroup } from './group.js';
import {
  UBuf,
  VFIO_CHECK_EXTENSION,
  VFIO_DMA_CC_IOMMU,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_UNMAP_FLAG_ALL,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_INFO_CAPS,
  VFIO_IOMMU_INFO_PGSIZES,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
  VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION,
  VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_TYPE1_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  VFIO_UNMAP_ALL,
  VfioInfoCap,
  ustruct_from_user,
  ustruct_to_user,
  vfio_iommu_type1_dma_map,
  vfio_iommu_type1_dma_unmap,
  vfio_iommu_type1_info,
} from './uapi.js';

const U64_MAX = 0xffffffffffffffffn;
const PAGE_MASK_BIG = ~(BigInt(PAGE_SIZE) - 1n) & U64_MAX;
/** DIRTY_BITMAP_SIZE_MAX: the bitmap of INT_MAX pages, in bytes (migration capability). */
const DIRTY_BITMAP_SIZE_MAX = 2 ** 28;

/** Module parameter dma_entry_limit (default U16_MAX); vfio_iommu_type1.dma_entry_limit= on the command line. */
function dma_entry_limit(): number {
  const m = /(?:^|\s)vfio_iommu_type1\.dma_entry_limit=(\d+)(?:\s|$)/.exec(kernel_cmdline());
  return m === null ? 65535 : Number(m[1]);
}

/** struct vfio_dma: one MAP_DMA. */
export class VfioDma {
  /** Bytes mapped so far (the whole size once MAP_DMA succeeded). */
  size = 0;
  /** PFN of each page, in IOVA order. */
  readonly pfns: number[] = [];
  /** Pages not pinned nor charged: reserved PFNs of a VM_PFNMAP mapping (MMIO). */
  readonly rsvd: boolean[] = [];
  /** Pages charged to mm.locked_vm. */
  locked = 0;
  /** Pages pinned by vfio_pin_pages, by IOVA (struct vfio_pfn: the PFN and the pin count). */
  readonly pfnList = new Map<number, { pfn: number; ref: number }>();
  constructor(
    readonly iova: number,
    readonly vaddr: number,
    readonly prot: number,
    readonly task: TaskStruct,
    readonly mm: MmStruct,
    /** capable(CAP_IPC_LOCK) of the mapper, taken at MAP time. */
    readonly lock_cap: boolean,
  ) {}
  get end(): number {
    return this.iova + this.size;
  }
}

/** struct vfio_domain. */
class VfioDomain {
  readonly groups: IommuGroup[] = [];
  constructor(
    readonly domain: IommuDomain,
    readonly prot: number,
  ) {}
}

interface IovaRange {
  start: number;
  /** Inclusive. */
  end: number;
}

/** struct vfio_iommu. */
export class VfioIommu {
  readonly domains: VfioDomain[] = [];
  /** Emulated-IOMMU (mdev) groups: attached with no domain. */
  readonly emulatedGroups: VfioGroup[] = [];
  /** Mappings sorted by IOVA (the rb-tree). */
  dmaList: VfioDma[] = [];
  iovaList: IovaRange[] = [];
  /** Page sizes (a u64 bitmap): PAGE_MASK until a domain narrows it. */
  pgsizeBitmap: bigint = PAGE_MASK_BIG;
  dma_avail = dma_entry_limit();
  constructor(readonly v2: boolean) {}
}

/** The instances alive (for tests and debugging). */
const instances = new Set<VfioIommu>();
export function vfio_iommu_instances(): ReadonlySet<VfioIommu> {
  return instances;
}

function min_pgsize(iommu: VfioIommu): number {
  const b = iommu.pgsizeBitmap;
  let i = 0;
  while (i < 64 && ((b >> BigInt(i)) & 1n) === 0n) i++;
  return 2 ** i;
}

/** vfio_find_dma: a mapping overlapping [start, start + size), or undefined. */
function vfio_find_dma(iommu: VfioIommu, start: number, size: number): VfioDma | undefined {
  return iommu.dmaList.find((d) => start < d.iova + d.size && d.iova < start + size);
}

function vfio_link_dma(iommu: VfioIommu, dma: VfioDma): void {
  const i = iommu.dmaList.findIndex((d) => d.iova > dma.iova);
  if (i < 0) iommu.dmaList.push(dma);
  else iommu.dmaList.splice(i, 0, dma);
}

/** is_invalid_reserved_pfn: not RAM the page allocator manages, or a reserved page. */
function is_invalid_reserved_pfn(pfn: number): boolean {
  if (!NODE_DATA().node_zones.some((z) => z.contains(pfn))) return true;
  return mem_map().testFlags(pfn, PG_reserved);
}

const fr: FollowResult = { pfn: -1, writable: false, special: false, swapOffset: -1, dirty: false };

/**
 * follow_fault_pfn for a VM_PFNMAP mapping (a BAR mmapped through vfio-pci): the PFN
 * behind `va`, faulting it in when needed; only MMIO (reserved) PFNs are allowed.
 */
function vaddr_get_pfnmap(mm: MmStruct, va: number, write: boolean): number {
  follow_pte(mm, va, fr);
  if (fr.pfn < 0 || (write && !fr.writable)) {
    const vma = find_vma(mm, va)!;
    const r = handle_vma_fault(vma, va, FAULT_FLAG_REMOTE | (write ? FAULT_FLAG_WRITE : 0));
    if (r & VM_FAULT_ERROR) return -EFAULT;
    follow_pte(mm, va, fr);
  }
  if (fr.pfn < 0 || (write && !fr.writable)) return -EFAULT;
  return is_invalid_reserved_pfn(fr.pfn) ? fr.pfn : -EFAULT;
}

/**
 * mm_lock_acct(dma->task, mm, dma->lock_cap, ...): a mapping's pages are charged to
 * the mapper and held to its RLIMIT_MEMLOCK and its CAP_IPC_LOCK at MAP_DMA time,
 * whichever task pins them (a vendor driver's caller, a group attach).
 */
function dma_creds(dma: VfioDma): MmCreds {
  return { memlockLimit: rlimit(dma.task, RLIMIT_MEMLOCK), capIpcLock: dma.lock_cap };
}

/** Releases pages [from, to) of dma.pfns (unpin, dirtying them when the device could write). */
function put_pfns(dma: VfioDma, from: number, to: number): void {
  const pages: number[] = [];
  for (let i = from; i < to; i++) if (!dma.rsvd[i]) pages.push(dma.pfns[i]!);
  unpin_user_pages_dirty_lock(pages, pages.length, (dma.prot & IOMMU_WRITE) !== 0);
}

/**
 * vfio_pin_pages_remote for the whole mapping: pins `npage` pages from dma.vaddr into
 * dma.pfns, then charges them (vfio_lock_acct) except pages a vendor driver's
 * vfio_pin_pages charged already (in the pfn_list), whose charge the remote pin takes
 * over. On failure nothing stays pinned or charged. 0 or -errno.
 */
function vfio_pin_dma(dma: VfioDma, npage: number): number {
  const mm = dma.mm;
  const write = (dma.prot & IOMMU_WRITE) !== 0;
  const gup = FOLL_LONGTERM | (write ? FOLL_WRITE : 0);
  let ret = 0;
  while (dma.pfns.length < npage) {
    const i = dma.pfns.length;
    const va = dma.vaddr + i * PAGE_SIZE;
    const vma = find_vma(mm, va);
    if (vma !== null && vma.vm_start <= va && vma.vm_flags & VM_PFNMAP) {
      const pfn = vaddr_get_pfnmap(mm, va, write);
      if (pfn < 0) {
        ret = pfn;
        break;
      }
      dma.pfns.push(pfn);
      dma.rsvd.push(true);
      continue;
    }
    const n = vma !== null && vma.vm_start <= va ? Math.min(npage - i, (vma.vm_end - va) / PAGE_SIZE) : 1;
    const got: number[] = [];
    const r = pin_user_pages_remote(mm, va, n, gup, got);
    if (r <= 0) {
      ret = r < 0 ? r : -EFAULT;
      break;
    }
    for (const p of got) {
      dma.pfns.push(p);
      dma.rsvd.push(false);
    }
  }
  let lock_acct = 0;
  for (let i = 0; i < dma.pfns.length; i++) if (!dma.rsvd[i] && !dma.pfnList.has(dma.iova + i * PAGE_SIZE)) lock_acct++;
  if (ret === 0 && lock_acct > 0) {
    // vfio_pin_pages_remote's early check is against the caller's limit (vfio_pin_map_dma,
    // vfio_iommu_replay); the charge itself against the mapper's (vfio_lock_acct)
    const caller = current_mm_creds();
    const limit = caller.memlockLimit === Infinity ? Infinity : Math.floor(caller.memlockLimit / PAGE_SIZE);
    if (!dma.lock_cap && mm.locked_vm + lock_acct > limit) {
      pr_warn(`vfio_pin_pages_remote: RLIMIT_MEMLOCK (${caller.memlockLimit}) exceeded`);
      ret = -ENOMEM;
    } else {
      ret = __account_locked_vm(mm, lock_acct, true, dma_creds(dma), dma.lock_cap);
      if (ret === 0) dma.locked = lock_acct + dma.pfnList.size;
    }
  }
  if (ret === 0 && lock_acct === 0) dma.locked = dma.pfnList.size;
  if (ret) {
    put_pfns(dma, 0, dma.pfns.length);
    dma.pfns.length = 0;
    dma.rsvd.length = 0;
  }
  return ret;
}

/** vfio_iommu_map: maps pages [from, to) of `dma` into every domain, one iommu_map per physically contiguous run. */
function vfio_iommu_map_range(iommu: VfioIommu, dma: VfioDma, from: number, to: number, domains: readonly VfioDomain[]): number {
  for (const d of domains) {
    let i = from;
    while (i < to) {
      let j = i + 1;
      while (j < to && dma.pfns[j] === dma.pfns[j - 1]! + 1) j++;
      const r = iommu_map(d.domain, dma.iova + i * PAGE_SIZE, dma.pfns[i]! * PAGE_SIZE, (j - i) * PAGE_SIZE, dma.prot | d.prot);
      if (r) {
        // undo this domain's runs and the domains before it
        if (i > from) iommu_unmap(d.domain, dma.iova + from * PAGE_SIZE, (i - from) * PAGE_SIZE);
        for (const e of domains) {
          if (e === d) break;
          iommu_unmap(e.domain, dma.iova + from * PAGE_SIZE, (to - from) * PAGE_SIZE);
        }
        return r;
      }
      i = j;
    }
  }
  return 0;
}

/** put_pfn for a vendor pin: unpinned, dirtied when the device could write. */
function put_vpfn(dma: VfioDma, pfn: number): void {
  unpin_user_pages_dirty_lock([pfn], 1, (dma.prot & IOMMU_WRITE) !== 0);
}

/** Charges (or uncharges) `n` pages to the mapper's locked_vm; skipped (-ESRCH) once its mm has no users. */
function vfio_lock_acct(dma: VfioDma, n: number, inc: boolean): number {
  if (n === 0) return 0;
  if (dma.mm.mm_users === 0) return 0;
  return __account_locked_vm(dma.mm, n, inc, dma_creds(dma), dma.lock_cap);
}

/**
 * vfio_unmap_unpin + vfio_remove_dma: out of every domain, unpinned, uncharged,
 * forgotten. Vendor pins still held here are a driver bug (Linux WARNs): they are
 * released too so that nothing leaks.
 */
function vfio_remove_dma(iommu: VfioIommu, dma: VfioDma): void {
  if (dma.size > 0) for (const d of iommu.domains) iommu_unmap(d.domain, dma.iova, dma.size);
  put_pfns(dma, 0, dma.pfns.length);
  dma.pfns.length = 0;
  dma.rsvd.length = 0;
  if (dma.pfnList.size > 0) {
    pr_warn(`vfio_remove_dma: ${dma.pfnList.size} page(s) at IOVA 0x${dma.iova.toString(16)} still pinned by a vendor driver`);
    for (const v of dma.pfnList.values()) put_vpfn(dma, v.pfn);
    // without a domain each vendor pin holds its own charge
    if (iommu.domains.length === 0) vfio_lock_acct(dma, dma.pfnList.size, false);
    dma.pfnList.clear();
  }
  vfio_lock_acct(dma, dma.locked, false);
  dma.locked = 0;
  iommu.dmaList = iommu.dmaList.filter((d) => d !== dma);
  iommu.dma_avail++;
  mmdrop(dma.mm);
}

/**
 * vfio_iommu_unmap_unpin_reaccount: the last IOMMU domain left while emulated groups
 * stay: the remote pins go and each mapping is charged for its vendor pins only.
 */
function vfio_iommu_unmap_unpin_reaccount(iommu: VfioIommu): void {
  for (const dma of iommu.dmaList) {
    put_pfns(dma, 0, dma.pfns.length);
    dma.pfns.length = 0;
    dma.rsvd.length = 0;
    const keep = dma.pfnList.size;
    if (dma.locked > keep) vfio_lock_acct(dma, dma.locked - keep, false);
    else if (keep > dma.locked) __account_locked_vm(dma.mm, keep - dma.locked, true, dma_creds(dma), true);
    dma.locked = 0;
  }
}

/** vfio_notify_dma_unmap: every open device of an emulated group is told to drop its pins in the range. */
function* vfio_notify_dma_unmap(iommu: VfioIommu, iova: number, size: number): KGen<void> {
  for (const g of [...iommu.emulatedGroups]) {
    for (const vdev of [...g.devices]) if (vdev.open_count > 0 && vdev.ops.dma_unmap) yield* vdev.ops.dma_unmap(vdev, iova, size);
  }
}

/** VFIO_PIN_PAGES_MAX_ENTRIES: one page of page pointers. */
export const VFIO_PIN_PAGES_MAX_ENTRIES = PAGE_SIZE / 8;

/** vfio_unpin_page_external: one reference dropped; the last unpins it and, without a domain, uncharges it. */
function vfio_unpin_page_external(iommu: VfioIommu, dma: VfioDma, iova: number): boolean {
  const v = dma.pfnList.get(iova);
  if (v === undefined) return false;
  if (--v.ref > 0) return true;
  dma.pfnList.delete(iova);
  put_vpfn(dma, v.pfn);
  if (iommu.domains.length === 0) vfio_lock_acct(dma, 1, false);
  return true;
}

/**
 * vfio_iommu_type1_pin_pages: `npage` pages from page-aligned `iova`, each in a
 * mapping whose prot covers `prot`. A page already in the mapping's pfn_list gains a
 * reference; a new one is pinned long-term in the mapper's mm and, when no IOMMU
 * domain pinned the mapping already, charged (-ENOMEM past RLIMIT_MEMLOCK). On any
 * failure the pages pinned by this call are released. npage or -errno.
 */
function vfio_iommu_type1_pin_pages(iommu: VfioIommu, iova: number, npage: number, prot: number, pages: number[]): number {
  if (!iommu.v2) return -EACCES;
  if (iova % PAGE_SIZE !== 0 || npage <= 0) return -EINVAL;
  const do_accounting = iommu.domains.length === 0;
  pages.length = 0;
  let ret = 0;
  let i = 0;
  for (; i < npage; i++) {
    const at = iova + i * PAGE_SIZE;
    const dma = vfio_find_dma(iommu, at, PAGE_SIZE);
    if (dma === undefined) {
      ret = -EINVAL;
      break;
    }
    if ((dma.prot & prot) !== prot) {
      ret = -EPERM;
      break;
    }
    const v = dma.pfnList.get(at);
    if (v !== undefined) {
      v.ref++;
      pages.push(v.pfn);
      continue;
    }
    // vfio_pin_page_external
    if (!mmget_not_zero(dma.mm)) {
      ret = -ENODEV;
      break;
    }
    const got: number[] = [];
    const r = pin_user_pages_remote(dma.mm, dma.vaddr + (at - dma.iova), 1, FOLL_LONGTERM | (dma.prot & IOMMU_WRITE ? FOLL_WRITE : 0), got);
    mmput(dma.mm);
    if (r !== 1) {
      ret = r < 0 ? r : -EFAULT;
      break;
    }
    if (do_accounting) {
      const a = vfio_lock_acct(dma, 1, true);
      if (a) {
        pr_warn(`vfio_pin_page_external: Task ${dma.task.comm} (${dma.task.pid}) RLIMIT_MEMLOCK (${dma_creds(dma).memlockLimit}) exceeded`);
        put_vpfn(dma, got[0]!);
        ret = a;
        break;
      }
    }
    dma.pfnList.set(at, { pfn: got[0]!, ref: 1 });
    pages.push(got[0]!);
  }
  if (ret === 0) return npage;
  for (let j = 0; j < i; j++) {
    const at = iova + j * PAGE_SIZE;
    const dma = vfio_find_dma(iommu, at, PAGE_SIZE);
    if (dma !== undefined) vfio_unpin_page_external(iommu, dma, at);
  }
  pages.length = 0;
  return ret;
}

/** vfio_iommu_type1_unpin_pages: one reference per page; stops at the first IOVA no mapping holds. */
function vfio_iommu_type1_unpin_pages(iommu: VfioIommu, iova: number, npage: number): void {
  if (!iommu.v2) return;
  for (let i = 0; i < npage; i++) {
    const at = iova + i * PAGE_SIZE;
    const dma = vfio_find_dma(iommu, at, PAGE_SIZE);
    if (dma === undefined) break;
    vfio_unpin_page_external(iommu, dma, at);
  }
}

/** Pages pinned through vfio_pin_pages in the container (distinct pages, and pins counted by reference). */
export function vfio_iommu_vendor_pins(iommu: VfioIommu): { pages: number; refs: number } {
  let pages = 0;
  let refs = 0;
  for (const d of iommu.dmaList) {
    pages += d.pfnList.size;
    for (const v of d.pfnList.values()) refs += v.ref;
  }
  return { pages, refs };
}

/** vfio_iommu_iova_dma_valid: [start, end] lies inside one range of the valid list (an empty list allows all). */
function vfio_iommu_iova_dma_valid(iommu: VfioIommu, start: number, end: number): boolean {
  if (iommu.iovaList.length === 0) return true;
  return iommu.iovaList.some((r) => start >= r.start && end <= r.end);
}

function* vfio_iommu_type1_map_dma(iommu: VfioIommu, arg: number): Generator<unknown, number, unknown> {
  const minsz = vfio_iommu_type1_dma_map.end('size');
  const map = ustruct_from_user(vfio_iommu_type1_dma_map, arg, minsz);
  if (typeof map === 'number') return map;
  if (map.get('argsz') < minsz || map.get('flags') & ~(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)) return -EINVAL;
  return vfio_dma_do_map(iommu, map);
}

function vfio_dma_do_map(iommu: VfioIommu, map: UBuf<'argsz' | 'flags' | 'vaddr' | 'iova' | 'size'>): number {
  const flags = map.get('flags');
  let prot = 0;
  if (flags & VFIO_DMA_MAP_FLAG_WRITE) prot |= IOMMU_WRITE;
  if (flags & VFIO_DMA_MAP_FLAG_READ) prot |= IOMMU_READ;
  // without VADDR support, one of READ/WRITE is the only valid form
  if (!prot) return -EINVAL;
  const size = map.getBig('size');
  const iova = map.getBig('iova');
  const vaddr = map.getBig('vaddr');
  const pgmask = BigInt(min_pgsize(iommu)) - 1n;
  if (size === 0n || (size | iova | vaddr) & pgmask) return -EINVAL;
  // no IOVA or virtual address wrap
  if (iova + size - 1n > U64_MAX || vaddr + size - 1n > U64_MAX) return -EINVAL;
  // past 2^53 no mapping can overlap and no IOVA range or user address can hold it
  if (iova + size > BigInt(Number.MAX_SAFE_INTEGER)) return iommu.dma_avail ? -EINVAL : -ENOSPC;
  const iovaN = Number(iova);
  const sizeN = Number(size);
  if (vfio_find_dma(iommu, iovaN, sizeN) !== undefined) return -EEXIST;
  if (!iommu.dma_avail) return -ENOSPC;
  if (!vfio_iommu_iova_dma_valid(iommu, iovaN, iovaN + sizeN - 1)) return -EINVAL;
  const task = current();
  const mm = task.mm;
  if (mm === null) return -EFAULT;
  // an address past 2^53 is no user address: the pin fails as it would for any unmapped one
  if (vaddr + size > BigInt(Number.MAX_SAFE_INTEGER)) return -EFAULT;
  const dma = new VfioDma(iovaN, Number(vaddr), prot, task.group_leader, mm, has_capability(task, CAP_IPC_LOCK));
  mmgrab(mm);
  iommu.dma_avail--;
  vfio_link_dma(iommu, dma);
  // a container without an IOMMU-backed domain does not pin (emulated devices pin later)
  if (iommu.domains.length === 0) {
    dma.size = sizeN;
    return 0;
  }
  const npage = sizeN / PAGE_SIZE;
  let ret = vfio_pin_dma(dma, npage);
  if (ret === 0) {
    ret = vfio_iommu_map_range(iommu, dma, 0, npage, iommu.domains);
    if (ret === 0) dma.size = sizeN;
  }
  if (ret) vfio_remove_dma(iommu, dma);
  return ret;
}

function* vfio_iommu_type1_unmap_dma(iommu: VfioIommu, arg: number): Generator<unknown, number, unknown> {
  const minsz = vfio_iommu_type1_dma_unmap.end('size');
  const unmap = ustruct_from_user(vfio_iommu_type1_dma_unmap, arg, minsz);
  if (typeof unmap === 'number') return unmap;
  if (unmap.get('argsz') < minsz || unmap.get('flags') & ~VFIO_DMA_UNMAP_FLAG_ALL) return -EINVAL;
  const r = yield* vfio_dma_do_unmap(iommu, unmap);
  if (r) return r;
  return ustruct_to_user(arg, unmap, minsz);
}

/**
 * vfio_dma_do_unmap: v2 refuses to bisect a mapping (-EINVAL) and unmaps every mapping
 * inside the range; v1 unmaps from the mapping starting at `iova` on, and a range
 * starting inside a mapping unmaps nothing. Only the mm that mapped may unmap.
 */
function* vfio_dma_do_unmap(iommu: VfioIommu, unmap: UBuf<'argsz' | 'flags' | 'iova' | 'size'>): KGen<number> {
  const unmap_all = (unmap.get('flags') & VFIO_DMA_UNMAP_FLAG_ALL) !== 0;
  const iovaB = unmap.getBig('iova');
  let sizeB = unmap.getBig('size');
  unmap.set('size', 0);
  const pgmask = BigInt(min_pgsize(iommu)) - 1n;
  if (iovaB & pgmask) return -EINVAL;
  if (unmap_all) {
    if (iovaB !== 0n || sizeB !== 0n) return -EINVAL;
    sizeB = U64_MAX;
  } else if (sizeB === 0n || sizeB & pgmask || iovaB + sizeB - 1n > U64_MAX) return -EINVAL;
  // Numbers past 2^53 lose exactness only beyond every mapping (IOVAs are < 2^52)
  const iova = Number(iovaB);
  const end = iovaB + sizeB - 1n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(iovaB + sizeB - 1n);
  if (iommu.v2 && !unmap_all) {
    const first = vfio_find_dma(iommu, iova, 1);
    if (first !== undefined && first.iova !== iova) return -EINVAL;
    const last = vfio_find_dma(iommu, end, 1);
    if (last !== undefined && last.iova + last.size !== end + 1) return -EINVAL;
  }
  const mm = current().mm;
  let unmapped = 0;
  let last: VfioDma | undefined;
  let retries = 0;
  for (;;) {
    const dma = iommu.dmaList.find((d) => d.iova + d.size > iova);
    if (dma === undefined || dma.iova > end) break;
    if (!iommu.v2 && iova > dma.iova) break;
    if (dma.mm !== mm) break;
    if (dma.pfnList.size > 0) {
      // vendor drivers MUST unpin in their dma_unmap; Linux BUG()s after 10 retries
      if (last === dma) {
        if (++retries > 10) throw new Error(`kernel BUG at vfio_iommu_type1.c: vendor driver kept ${dma.pfnList.size} pinned page(s) at IOVA 0x${dma.iova.toString(16)} after dma_unmap`);
      } else {
        last = dma;
        retries = 0;
      }
      yield* vfio_notify_dma_unmap(iommu, dma.iova, dma.size);
      continue;
    }
    unmapped += dma.size;
    vfio_remove_dma(iommu, dma);
  }
  unmap.set('size', unmapped);
  return 0;
}

function* vfio_iommu_type1_get_info(iommu: VfioIommu, arg: number): Generator<unknown, number, unknown> {
  const minsz = vfio_iommu_type1_info.end('iova_pgsizes');
  const info = ustruct_from_user(vfio_iommu_type1_info, arg, minsz);
  if (typeof info === 'number') return info;
  const argsz = info.get('argsz');
  if (argsz < minsz) return -EINVAL;
  const outsz = Math.min(argsz, vfio_iommu_type1_info.size);
  info.set('flags', VFIO_IOMMU_INFO_PGSIZES);
  info.set('iova_pgsizes', iommu.pgsizeBitmap);
  const caps = new VfioInfoCap();
  // vfio_iommu_migration_build_caps: dirty tracking at the smallest page size
  const mig = caps.add(VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION, 1, 32);
  mig.setUint32(8, 0, true);
  mig.setBigUint64(16, BigInt(min_pgsize(iommu)), true);
  mig.setBigUint64(24, BigInt(DIRTY_BITMAP_SIZE_MAX), true);
  // vfio_iommu_dma_avail_build_caps: {header, u32 avail}, padded to 8 bytes
  caps.add(VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, 1, 16).setUint32(8, iommu.dma_avail, true);
  if (iommu.iovaList.length > 0) {
    const cap = caps.add(VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, 1, 16 + 16 * iommu.iovaList.length);
    cap.setUint32(8, iommu.iovaList.length, true);
    iommu.iovaList.forEach((r, i) => {
      cap.setBigUint64(16 + 16 * i, BigInt(r.start), true);
      cap.setBigUint64(24 + 16 * i, BigInt(r.end), true);
    });
  }
  info.set('flags', VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS);
  const base = vfio_iommu_type1_info.size;
  if (argsz < base + caps.size) info.set('argsz', base + caps.size);
  else {
    const bytes = caps.bytes(base);
    if (copy_to_user(arg + base, bytes, bytes.length)) return -EFAULT;
    info.set('cap_offset', base);
  }
  return ustruct_to_user(arg, info, outsz);
}

function vfio_iommu_type1_check_extension(arg: number): number {
  switch (arg) {
    case VFIO_TYPE1_IOMMU:
    case VFIO_TYPE1v2_IOMMU:
    case VFIO_UNMAP_ALL:
      return 1;
    case VFIO_DMA_CC_IOMMU:
      // vfio_domains_have_enforce_cache_coherency: the SMMU driver offers no enforce_cache_coherency
      return 0;
    default:
      return 0;
  }
}

// ---- groups ----

/** The valid IOVA list for `domains` and the reserved regions of their groups' devices, or -EINVAL when empty. */
function vfio_iommu_build_iova_list(domains: readonly VfioDomain[]): IovaRange[] | number {
  if (domains.length === 0) return [];
  let list: IovaRange[] = [{ start: domains[0]!.domain.apertureStart, end: domains[0]!.domain.apertureEnd }];
  // the aperture is the intersection of the domains' apertures
  for (const d of domains) {
    list = list.map((r) => ({ start: Math.max(r.start, d.domain.apertureStart), end: Math.min(r.end, d.domain.apertureEnd) })).filter((r) => r.start <= r.end);
  }
  for (const d of domains) {
    for (const g of d.groups) {
      for (const dev of g.devices) {
        for (const resv of iommu_get_resv_regions(dev)) {
          const rs = resv.start;
          const re = resv.start + resv.length - 1;
          const next: IovaRange[] = [];
          for (const r of list) {
            if (re < r.start || rs > r.end) {
              next.push(r);
              continue;
            }
            if (rs > r.start) next.push({ start: r.start, end: rs - 1 });
            if (re < r.end) next.push({ start: re + 1, end: r.end });
          }
          list = next;
        }
      }
    }
  }
  return list.length === 0 ? -EINVAL : list;
}

/** A mapping would fall outside the new list (an aperture that strands it, a reserved region over it). */
function vfio_iommu_list_strands(iommu: VfioIommu, list: readonly IovaRange[]): boolean {
  return iommu.dmaList.some((d) => !list.some((r) => d.iova >= r.start && d.iova + d.size - 1 <= r.end));
}

/**
 * vfio_iommu_replay: a new domain gets every existing mapping. The first IOMMU domain
 * of a container that had only emulated groups pins the recorded mappings first.
 */
function vfio_iommu_replay(iommu: VfioIommu, d: VfioDomain): number {
  const pinnedHere: VfioDma[] = [];
  let ret = 0;
  let failed: VfioDma | undefined;
  for (const dma of iommu.dmaList) {
    if (dma.pfns.length === 0 && dma.size > 0) {
      ret = vfio_pin_dma(dma, dma.size / PAGE_SIZE);
      if (ret) {
        failed = dma;
        break;
      }
      pinnedHere.push(dma);
    }
    ret = vfio_iommu_map_range(iommu, dma, 0, dma.pfns.length, [d]);
    if (ret) {
      failed = dma;
      break;
    }
  }
  if (ret === 0) return 0;
  for (const done of iommu.dmaList) {
    if (done === failed) break;
    iommu_unmap(d.domain, done.iova, done.size);
  }
  // the pins taken here go again, with their charge beyond the vendor pins
  for (const dma of pinnedHere) {
    put_pfns(dma, 0, dma.pfns.length);
    dma.pfns.length = 0;
    dma.rsvd.length = 0;
    vfio_lock_acct(dma, dma.locked - dma.pfnList.size, false);
    dma.locked = 0;
  }
  return ret;
}

function vfio_update_pgsize_bitmap(iommu: VfioIommu): void {
  let b = PAGE_MASK_BIG;
  for (const d of iommu.domains) b &= BigInt(d.domain.pgsizeBitmap);
  // sub-page sizes are hidden: the smallest size is PAGE_SIZE
  if (b & (BigInt(PAGE_SIZE) - 1n)) b = (b & PAGE_MASK_BIG) | BigInt(PAGE_SIZE);
  iommu.pgsizeBitmap = b;
}

function find_domain_of(iommu: VfioIommu, g: IommuGroup): VfioDomain | undefined {
  return iommu.domains.find((d) => d.groups.includes(g));
}

/**
 * vfio_iommu_type1_attach_group: the group joins a domain of the container that its
 * IOMMU accepts, else a new unmanaged domain that gets every existing mapping. The
 * new valid IOVA list must keep every mapping and not be empty (-EINVAL).
 */
function vfio_iommu_type1_attach_group(iommu: VfioIommu, vg: VfioGroup): number {
  if (vg.type === VFIO_EMULATED_IOMMU) {
    // no domain: the vendor driver pins what its device uses (vfio_pin_pages)
    if (iommu.emulatedGroups.includes(vg)) return -EINVAL;
    iommu.emulatedGroups.push(vg);
    return 0;
  }
  if (vg.type !== VFIO_IOMMU || vg.iommu_group === null) return -EINVAL;
  const g = vg.iommu_group;
  if (find_domain_of(iommu, g) !== undefined) return -EINVAL;
  const dev = g.devices[0];
  if (dev === undefined) return -EINVAL;
  for (const d of iommu.domains) {
    if (iommu_attach_group(d.domain, g) !== 0) continue;
    d.groups.push(g);
    const list = vfio_iommu_build_iova_list(iommu.domains);
    if (typeof list === 'number' || vfio_iommu_list_strands(iommu, list)) {
      d.groups.pop();
      iommu_detach_group(d.domain, g);
      return -EINVAL;
    }
    iommu.iovaList = list;
    return 0;
  }
  const dom = iommu_paging_domain_alloc(dev);
  if (typeof dom === 'number') return -EIO;
  // IOMMU_RESV_SW_MSI needs no cookie here: dma-iommu maps the ITS doorbell in that window of
  // whatever domain the device is in when its MSIs are set up (iommu_dma_compose_msi_addr)
  const vd = new VfioDomain(dom, IOMMU_CACHE);
  vd.groups.push(g);
  const list = vfio_iommu_build_iova_list([...iommu.domains, vd]);
  if (typeof list === 'number' || vfio_iommu_list_strands(iommu, list)) {
    iommu_domain_free(dom);
    return -EINVAL;
  }
  let r = iommu_attach_group(dom, g);
  if (r === 0) r = vfio_iommu_replay(iommu, vd);
  if (r) {
    if (g.domain === dom) iommu_detach_group(dom, g);
    iommu_domain_free(dom);
    return r;
  }
  iommu.domains.push(vd);
  iommu.iovaList = list;
  vfio_update_pgsize_bitmap(iommu);
  return 0;
}

/** vfio_iommu_unmap_unpin_all. */
function vfio_iommu_unmap_unpin_all(iommu: VfioIommu): void {
  for (const dma of [...iommu.dmaList]) vfio_remove_dma(iommu, dma);
}

/**
 * vfio_iommu_type1_detach_group: the group leaves its domain; the last group of the
 * last domain takes every mapping with it (unmapped, unpinned, uncharged).
 */
function vfio_iommu_type1_detach_group(iommu: VfioIommu, vg: VfioGroup): void {
  const ei = iommu.emulatedGroups.indexOf(vg);
  if (ei >= 0) {
    iommu.emulatedGroups.splice(ei, 1);
    if (iommu.emulatedGroups.length === 0 && iommu.domains.length === 0) vfio_iommu_unmap_unpin_all(iommu);
    return;
  }
  const g = vg.iommu_group;
  if (g === null) return;
  const d = find_domain_of(iommu, g);
  if (d === undefined) return;
  if (d.groups.length === 1 && iommu.domains.length === 1) {
    if (iommu.emulatedGroups.length === 0) vfio_iommu_unmap_unpin_all(iommu);
    else vfio_iommu_unmap_unpin_reaccount(iommu);
  }
  iommu_detach_group(d.domain, g);
  d.groups.splice(d.groups.indexOf(g), 1);
  if (d.groups.length === 0) {
    for (const dma of iommu.dmaList) if (dma.size > 0) iommu_unmap(d.domain, dma.iova, dma.size);
    iommu_domain_free(d.domain);
    iommu.domains.splice(iommu.domains.indexOf(d), 1);
    vfio_update_pgsize_bitmap(iommu);
  }
  const list = vfio_iommu_build_iova_list(iommu.domains);
  iommu.iovaList = typeof list === 'number' ? [] : list;
}

/** vfio_iommu_type1_release: every mapping goes, then every group and domain. */
function vfio_iommu_type1_release(iommu: VfioIommu): void {
  vfio_iommu_unmap_unpin_all(iommu);
  for (const d of iommu.domains) {
    for (const g of d.groups) iommu_detach_group(d.domain, g);
    iommu_domain_free(d.domain);
  }
  iommu.domains.length = 0;
  iommu.emulatedGroups.length = 0;
  instances.delete(iommu);
}

export const vfio_iommu_driver_ops_type1: VfioIommuDriverOps = {
  name: 'vfio-iommu-type1',
  open(arg: number): VfioIommu | number {
    if (arg !== VFIO_TYPE1_IOMMU && arg !== VFIO_TYPE1v2_IOMMU) return -EINVAL;
    const iommu = new VfioIommu(arg === VFIO_TYPE1v2_IOMMU);
    instances.add(iommu);
    return iommu;
  },
  release(data: unknown): void {
    vfio_iommu_type1_release(data as VfioIommu);
  },
  *ioctl(data: unknown, cmd: number, arg: number): KGen<number> {
    const iommu = data as VfioIommu | null;
    if (cmd === VFIO_CHECK_EXTENSION) return vfio_iommu_type1_check_extension(arg);
    if (iommu === null) return -EINVAL;
    switch (cmd) {
      case VFIO_IOMMU_GET_INFO:
        return yield* vfio_iommu_type1_get_info(iommu, arg);
      case VFIO_IOMMU_MAP_DMA:
        return yield* vfio_iommu_type1_map_dma(iommu, arg);
      case VFIO_IOMMU_UNMAP_DMA:
        return yield* vfio_iommu_type1_unmap_dma(iommu, arg);
      default:
        return -ENOTTY;
    }
  },
  attach_group(data: unknown, group: VfioGroup): number {
    return vfio_iommu_type1_attach_group(data as VfioIommu, group);
  },
  detach_group(data: unknown, group: VfioGroup): void {
    vfio_iommu_type1_detach_group(data as VfioIommu, group);
  },
  pin_pages(data: unknown, _group: VfioGroup, iova: number, npage: number, prot: number, pages: number[]): number {
    return vfio_iommu_type1_pin_pages(data as VfioIommu, iova, npage, prot, pages);
  },
  unpin_pages(data: unknown, iova: number, npage: number): void {
    vfio_iommu_type1_unpin_pages(data as VfioIommu, iova, npage);
  },
};

