// struct mm_struct, vm_area_struct, vm_operations_struct, vm_fault and the MMU
// notifier types (include/linux/mm_types.h, mm.h, mmu_notifier.h). Kernel memory:
// TypeScript objects. What the CPU (and later the SMMU) reads is the pgd in guest RAM.

import type { File } from '../fs/types.js';

// vm_flags (include/linux/mm.h).
export const VM_NONE = 0;
export const VM_READ = 0x00000001;
export const VM_WRITE = 0x00000002;
export const VM_EXEC = 0x00000004;
export const VM_SHARED = 0x00000008;
export const VM_MAYREAD = 0x00000010;
export const VM_MAYWRITE = 0x00000020;
export const VM_MAYEXEC = 0x00000040;
export const VM_MAYSHARE = 0x00000080;
export const VM_GROWSDOWN = 0x00000100;
export const VM_PFNMAP = 0x00000400;
export const VM_LOCKED = 0x00002000;
export const VM_IO = 0x00004000;
export const VM_SEQ_READ = 0x00008000;
export const VM_RAND_READ = 0x00010000;
export const VM_DONTCOPY = 0x00020000;
export const VM_DONTEXPAND = 0x00040000;
export const VM_LOCKONFAULT = 0x00080000;
export const VM_ACCOUNT = 0x00100000;
export const VM_NORESERVE = 0x00200000;
export const VM_WIPEONFORK = 0x02000000;
export const VM_DONTDUMP = 0x04000000;
export const VM_MIXEDMAP = 0x10000000;

export const VM_ACCESS_FLAGS = VM_READ | VM_WRITE | VM_EXEC;
export const VM_LOCKED_MASK = VM_LOCKED | VM_LOCKONFAULT;
/** VM_SPECIAL: never merged, never mlocked, not expandable by mremap. */
export const VM_SPECIAL = VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_MIXEDMAP;

export const VM_FLAG_NAMES: readonly (readonly [number, string])[] = [
  [VM_READ, 'rd'],
  [VM_WRITE, 'wr'],
  [VM_EXEC, 'ex'],
  [VM_SHARED, 'sh'],
  [VM_MAYREAD, 'mr'],
  [VM_MAYWRITE, 'mw'],
  [VM_MAYEXEC, 'me'],
  [VM_MAYSHARE, 'ms'],
  [VM_GROWSDOWN, 'gd'],
  [VM_PFNMAP, 'pf'],
  [VM_LOCKED, 'lo'],
  [VM_IO, 'io'],
  [VM_SEQ_READ, 'sr'],
  [VM_RAND_READ, 'rr'],
  [VM_DONTCOPY, 'dc'],
  [VM_DONTEXPAND, 'de'],
  [VM_LOCKONFAULT, 'lf'],
  [VM_ACCOUNT, 'ac'],
  [VM_NORESERVE, 'nr'],
  [VM_WIPEONFORK, 'wf'],
  [VM_DONTDUMP, 'dd'],
  [VM_MIXEDMAP, 'mm'],
];

// enum vm_fault_reason (include/linux/mm_types.h).
export const VM_FAULT_OOM = 0x000001;
export const VM_FAULT_SIGBUS = 0x000002;
export const VM_FAULT_MAJOR = 0x000004;
export const VM_FAULT_HWPOISON = 0x000010;
export const VM_FAULT_SIGSEGV = 0x000040;
export const VM_FAULT_NOPAGE = 0x000100;
export const VM_FAULT_LOCKED = 0x000200;
export const VM_FAULT_RETRY = 0x000400;
export const VM_FAULT_FALLBACK = 0x000800;
export const VM_FAULT_DONE_COW = 0x001000;
export const VM_FAULT_COMPLETED = 0x004000;
export const VM_FAULT_ERROR = VM_FAULT_OOM | VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV | VM_FAULT_HWPOISON;

// enum fault_flag (include/linux/mm_types.h).
export const FAULT_FLAG_WRITE = 1 << 0;
export const FAULT_FLAG_MKWRITE = 1 << 1;
export const FAULT_FLAG_ALLOW_RETRY = 1 << 2;
export const FAULT_FLAG_RETRY_NOWAIT = 1 << 3;
export const FAULT_FLAG_KILLABLE = 1 << 4;
export const FAULT_FLAG_TRIED = 1 << 5;
export const FAULT_FLAG_USER = 1 << 6;
export const FAULT_FLAG_REMOTE = 1 << 7;
export const FAULT_FLAG_INSTRUCTION = 1 << 8;
export const FAULT_FLAG_INTERRUPTIBLE = 1 << 9;
export const FAULT_FLAG_UNSHARE = 1 << 10;

/** struct vm_fault: what a vm_ops->fault handler is told and what it returns. */
export class VmFault {
  /** Set by the handler: the page (PFN, with a reference held for the caller) to map. */
  page = -1;
  constructor(
    readonly vma: VmAreaStruct,
    /** Faulting virtual address, page aligned. */
    readonly address: number,
    /** Page offset of the address in the mapping (vma.vm_pgoff + (address - vm_start) >> 12). */
    readonly pgoff: number,
    readonly flags: number,
  ) {}
}

/** struct vm_operations_struct. */
export interface VmOperationsStruct {
  /** Called when a VMA is duplicated (fork) or split. */
  open?(vma: VmAreaStruct): void;
  /** Called when a VMA is removed. */
  close?(vma: VmAreaStruct): void;
  /** Called to refuse splitting at `addr` (returns negative errno). */
  may_split?(vma: VmAreaStruct, addr: number): number;
  /** Called by mremap with the moved VMA once its page tables moved; a negative errno undoes the move. */
  mremap?(vma: VmAreaStruct): number;
  /** Supplies the page for a fault: sets vmf.page (with a reference) or maps it itself (VM_FAULT_NOPAGE). */
  fault?(vmf: VmFault): number;
  /** Notifies that a read-only shared page is about to become writable. */
  page_mkwrite?(vmf: VmFault): number;
  /** Name shown in /proc/<pid>/maps for mappings without a file. */
  name?(vma: VmAreaStruct): string | undefined;
}

/**
 * struct anon_vma: the reverse-map root of anonymous pages. A page's mapping points
 * here and page->index is its linear index (VA >> PAGE_SHIFT at the time it was
 * faulted); every VMA linked here may map it (the child VMAs of fork link to their
 * parent's anon_vma, as the anon_vma_chain does).
 */
export interface AnonVma {
  readonly mappingId: number;
  readonly kind: 'anon';
  /** VMAs sharing this anon_vma (anon_vma_chain), in link order. */
  readonly vmas: VmAreaStruct[];
}

/** The mm-side reverse map of a file's page cache: the VMAs mapping it (address_space->i_mmap). */
export interface FileRmap {
  readonly mappingId: number;
  readonly kind: 'file';
  readonly i_mmap: VmAreaStruct[];
  /** The page cache it belongs to: page index -> PFN (the owner's AddressSpace.pages). */
  readonly pages: Map<number, number>;
}

export class VmAreaStruct {
  /** Next VMA id, for deterministic identity in debug output. */
  private static nextId = 1;
  readonly id = VmAreaStruct.nextId++;
  vm_private_data: unknown = undefined;
  vm_ops: VmOperationsStruct | null = null;
  vm_file: File | null = null;
  anon_vma: AnonVma | null = null;
  /** For file and shmem mappings: the reverse map the pages hang off. */
  file_rmap: FileRmap | null = null;
  /** Name for anonymous special mappings ("[heap]", "[stack]", "[vdso]"). */
  anon_name: string | undefined;
  /**
   * vm_page_prot's memory type: the MAIR index of the PTEs (MT_NORMAL = 0; drivers set
   * MT_DEVICE_nGnRE = 4 with pgprot_device or MT_NORMAL_NC = 2 with pgprot_writecombine).
   */
  vm_page_prot = 0;

  constructor(
    public vm_mm: MmStruct,
    public vm_start: number,
    public vm_end: number,
    public vm_flags: number,
    /** Offset in the file (or the VMA's first linear page index for anon), in pages. */
    public vm_pgoff: number,
  ) {}

  get size(): number {
    return this.vm_end - this.vm_start;
  }

  contains(addr: number): boolean {
    return addr >= this.vm_start && addr < this.vm_end;
  }
}

// enum mmu_notifier_event (include/linux/mmu_notifier.h).
export const MMU_NOTIFY_UNMAP = 0;
export const MMU_NOTIFY_CLEAR = 1;
export const MMU_NOTIFY_PROTECTION_VMA = 2;
export const MMU_NOTIFY_PROTECTION_PAGE = 3;
export const MMU_NOTIFY_SOFT_DIRTY = 4;
export const MMU_NOTIFY_RELEASE = 5;
export const MMU_NOTIFY_MIGRATE = 6;
export const MMU_NOTIFY_EXCLUSIVE = 7;
export type MmuNotifierEvent = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7;
export const MMU_NOTIFY_NAMES = ['UNMAP', 'CLEAR', 'PROTECTION_VMA', 'PROTECTION_PAGE', 'SOFT_DIRTY', 'RELEASE', 'MIGRATE', 'EXCLUSIVE'] as const;

/** struct mmu_notifier_range. */
export interface MmuNotifierRange {
  readonly mm: MmStruct;
  readonly start: number;
  readonly end: number;
  readonly event: MmuNotifierEvent;
  /** MMU_NOTIFIER_RANGE_BLOCKABLE when the callback may sleep. */
  readonly flags: number;
  /** migrate_vma owner (device-private pages); undefined otherwise. */
  readonly owner?: unknown;
}

export const MMU_NOTIFIER_RANGE_BLOCKABLE = 1;

/** struct mmu_notifier_ops. */
export interface MmuNotifierOps {
  /** The mm is going away (exit_mmap): stop using its page tables. */
  release?(subscription: MmuNotifier, mm: MmStruct): void;
  /** PTEs in [start, end) are about to change; returns 0 (or -EAGAIN when non-blockable and busy). */
  invalidate_range_start?(subscription: MmuNotifier, range: MmuNotifierRange): number;
  /** The change of [start, end) is complete (PTEs changed and CPU TLBs flushed). */
  invalidate_range_end?(subscription: MmuNotifier, range: MmuNotifierRange): void;
  /** Secondary TLBs (IOMMU) must drop [start, end) now (called with every CPU TLB flush). */
  arch_invalidate_secondary_tlbs?(subscription: MmuNotifier, mm: MmStruct, start: number, end: number): void;
  /** Frees the subscription after mmu_notifier_put. */
  free_notifier?(subscription: MmuNotifier): void;
}

/** struct mmu_notifier: a subscription of one user (e.g. an SVA domain) to one mm. */
export class MmuNotifier {
  mm: MmStruct | null = null;
  /** Reference count for mmu_notifier_get/put. */
  users = 0;
  constructor(readonly ops: MmuNotifierOps) {}
}

// mm_struct.rss_stat (enum MM_*).
export const MM_FILEPAGES = 0;
export const MM_ANONPAGES = 1;
export const MM_SWAPENTS = 2;
export const MM_SHMEMPAGES = 3;
export const NR_MM_COUNTERS = 4;

// mm->flags (MMF_*).
export const MMF_OOM_SKIP = 1 << 21;

/** struct mm_struct. */
export class MmStruct {
  private static nextId = 1;
  /** Identity for debug output and deterministic ordering. */
  readonly id = MmStruct.nextId++;
  /** Physical address of the level-0 table (what TTBR0_EL1 holds). */
  pgd = 0;
  /** mm->context.id: generation << 16 | ASID (arch/arm64/mm/context.c); 0 = none yet. */
  context_id = 0;
  /** VMAs sorted by vm_start (the maple tree / mmap list). */
  readonly mmap: VmAreaStruct[] = [];
  /** Users of the address space (threads, get_task_mm); the mm is torn down at zero. */
  mm_users = 1;
  /** References to the struct itself (lazy TLB, notifiers). */
  mm_count = 1;
  total_vm = 0;
  /** Peak total_vm (VmPeak). */
  hiwater_vm = 0;
  /** Pages mlocked (VM_LOCKED VMAs), in pages. */
  locked_vm = 0;
  /** Pages pinned long-term and accounted by drivers (account_locked_vm users add here or to locked_vm). */
  pinned_vm = 0;
  data_vm = 0;
  exec_vm = 0;
  stack_vm = 0;
  /** Flags new VMAs get (VM_LOCKED | VM_LOCKONFAULT after mlockall(MCL_FUTURE [| MCL_ONFAULT])). */
  def_flags = 0;
  start_code = 0;
  end_code = 0;
  start_data = 0;
  end_data = 0;
  start_brk = 0;
  brk = 0;
  start_stack = 0;
  arg_start = 0;
  arg_end = 0;
  env_start = 0;
  env_end = 0;
  /** Top of the mmap area; top-down allocation searches below it. */
  mmap_base = 0;
  task_size = 2 ** 48;
  readonly rss_stat = new Float64Array(NR_MM_COUNTERS);
  hiwater_rss = 0;
  /** Bytes of page-table pages (pgtables_bytes). */
  pgtables_bytes = 0;
  flags = 0;
  /** Registered MMU notifier subscriptions (mm->notifier_subscriptions), in registration order. */
  readonly notifier_subscriptions: MmuNotifier[] = [];
  /** Set by exit_mmap: the page tables are gone. */
  dead = false;
  /** The IOMMU's per-mm SVA state (mm->iommu_mm: PASID), owned by the IOMMU core. */
  iommu_mm: unknown = undefined;
}

export function get_mm_counter(mm: MmStruct, member: number): number {
  return mm.rss_stat[member]!;
}

export function add_mm_counter(mm: MmStruct, member: number, value: number): void {
  mm.rss_stat[member]! += value;
}

export function get_mm_rss(mm: MmStruct): number {
  return mm.rss_stat[MM_FILEPAGES]! + mm.rss_stat[MM_ANONPAGES]! + mm.rss_stat[MM_SHMEMPAGES]!;
}
