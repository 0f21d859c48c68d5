// Shared memory (mm/shmem.c): the page cache of tmpfs files and of shared anonymous
// mappings, and the fault handler their mappings use. A page-cache page is a movable
// user page: PG_swapbacked | PG_uptodate, page->mapping is the cache's file rmap and
// page->index its offset in pages, one reference held by the cache. So rmap walks,
// migration and compaction find and move it like any mapped page, and pins hold it.
//
// Swap: this kernel has no shmem writeout (shmem_writeout turning a cache slot into a
// swap entry), so shmem pages are unevictable, as ramfs pages are
// (mapping_set_unevictable): they sit on the unevictable LRU, reclaim never scans
// them, and Unevictable in /proc/meminfo counts them. They stay movable: migration and
// compaction move them (compaction only while vm.compact_unevictable_allowed is 1).
//
// MAP_SHARED|MAP_ANONYMOUS (shmem_zero_setup) is backed by an unnamed shmem object
// whose cache the sharing VMAs (the mapper and its fork children) fault from; the
// object frees its pages when the last VMA using it closes.

import type { File } from '../fs/types.js';
import { __GFP_ZERO, GFP_HIGHUSER_MOVABLE } from './gfp.js';
import { truncate_inode_pages } from './filemap.js';
import { type FileRmap, VM_FAULT_OOM, VM_FAULT_SIGBUS, type VmAreaStruct, type VmFault, type VmOperationsStruct } from './mm_types.js';
import { alloc_pages, get_page, mem_map } from './page_alloc.js';
import { PAGE_SIZE, PG_swapbacked, PG_unevictable, PG_uptodate } from './page.js';
import { file_rmap_get, file_rmap_link, file_rmap_put } from './rmap.js';
import { lru_cache_add } from './swap.js';
import { mod_node_page_state, VM } from './vmstat.js';

/**
 * shmem_get_folio: the PFN of page `index` of the page cache `pages`, or -1. With
 * `create` a hole gets a new zeroed page (SGP_CACHE/SGP_WRITE), -1 only when memory
 * runs out.
 */
export function shmem_get_page(pages: Map<number, number>, index: number, create: boolean): number {
  const have = pages.get(index);
  if (have !== undefined) return have;
  if (!create) return -1;
  const pfn = alloc_pages(0, GFP_HIGHUSER_MOVABLE | __GFP_ZERO);
  if (pfn < 0) return -1;
  // shmem_add_to_page_cache: the allocation reference becomes the cache's
  const map = mem_map();
  map.setFlags(pfn, PG_swapbacked | PG_uptodate | PG_unevictable);
  map.setMapping(pfn, file_rmap_get(pages), index);
  pages.set(index, pfn);
  mod_node_page_state(VM.nr_file_pages, 1);
  mod_node_page_state(VM.nr_shmem, 1);
  lru_cache_add(pfn);
  return pfn;
}

/** The page cache and size (in pages) a shmem VMA faults from. */
function shmem_fault_page(vmf: VmFault, pages: Map<number, number>, sizePages: number): number {
  // Beyond the end of the object the access is an error (SIGBUS), as shmem_fault says.
  if (vmf.pgoff >= sizePages) return VM_FAULT_SIGBUS;
  const pfn = shmem_get_page(pages, vmf.pgoff, true);
  if (pfn < 0) return VM_FAULT_OOM;
  get_page(pfn);
  vmf.page = pfn;
  return 0;
}

/** shmem_vm_ops for tmpfs files: the page at the fault's file offset, created for a hole. */
const shmem_vm_ops: VmOperationsStruct = {
  fault(vmf: VmFault): number {
    const file = vmf.vma.vm_file;
    if (file === null) return VM_FAULT_SIGBUS;
    const inode = file.f_inode;
    return shmem_fault_page(vmf, inode.i_mapping.pages, Math.ceil(inode.i_size / PAGE_SIZE));
  },
};

/** shmem_mmap: the VMA faults from the file's page cache (do_mmap links it into i_mmap). Returns 0. */
export function shmem_mmap(_file: File, vma: VmAreaStruct): number {
  vma.vm_ops = shmem_vm_ops;
  return 0;
}

export function vma_is_shmem(vma: VmAreaStruct): boolean {
  return vma.vm_ops === shmem_vm_ops || vma.vm_ops === shmem_anon_vm_ops;
}

/** The unnamed shmem object behind a shared anonymous mapping. */
export class ShmemObject {
  readonly pages = new Map<number, number>();
  readonly rmap: FileRmap;
  /** VMAs using it (open/close). */
  users = 0;
  constructor(readonly sizePages: number) {
    this.rmap = file_rmap_get(this.pages);
  }
}

function shmem_of(vma: VmAreaStruct): ShmemObject {
  return vma.vm_private_data as ShmemObject;
}

const shmem_anon_vm_ops: VmOperationsStruct = {
  open(vma) {
    shmem_of(vma).users++;
  },
  close(vma) {
    const obj = shmem_of(vma);
    if (--obj.users > 0) return;
    // shmem_evict_inode
    truncate_inode_pages(obj.pages, 0);
    file_rmap_put(obj.pages);
  },
  fault(vmf: VmFault): number {
    const obj = shmem_of(vmf.vma);
    return shmem_fault_page(vmf, obj.pages, obj.sizePages);
  },
  name() {
    return '/dev/zero (deleted)';
  },
};

/** shmem_zero_setup: makes a shared anonymous VMA shmem-backed. Returns 0. */
export function shmem_zero_setup(vma: VmAreaStruct): number {
  const obj = new ShmemObject(vma.size / PAGE_SIZE);
  vma.vm_private_data = obj;
  vma.vm_ops = shmem_anon_vm_ops;
  vma.vm_pgoff = 0;
  file_rmap_link(vma, obj.rmap);
  obj.users = 1;
  return 0;
}

export function vma_is_shmem_anon(vma: VmAreaStruct): boolean {
  return vma.vm_ops === shmem_anon_vm_ops;
}
