// Shared anonymous memory (mm/shmem.c shmem_zero_setup): MAP_SHARED|MAP_ANONYMOUS
// is backed by an unnamed shmem object whose page cache the sharing VMAs (the
// mapper and its fork children) fault from. Its pages are swap-backed and movable;
// the object frees them when the last VMA using it closes.

import { __GFP_ZERO, GFP_HIGHUSER_MOVABLE } from './gfp.js';
import { type FileRmap, VM_FAULT_OOM, VM_FAULT_SIGBUS, type VmAreaStruct, type VmFault, type VmOperationsStruct } from './mm_types.js';
import { alloc_pages, get_page, mem_map, put_page } from './page_alloc.js';
import { PG_swapbacked, PG_uptodate } from './page.js';
import { file_rmap_get, file_rmap_link, file_rmap_put } from './rmap.js';
import { mod_node_page_state, VM } from './vmstat.js';

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
    // shmem_evict_inode: the page cache holds one reference per page.
    const idx = [...obj.pages.keys()].sort((a, b) => a - b);
    for (const i of idx) {
      const pfn = obj.pages.get(i)!;
      obj.pages.delete(i);
      mod_node_page_state(VM.nr_shmem, -1);
      mod_node_page_state(VM.nr_file_pages, -1);
      put_page(pfn);
    }
    file_rmap_put(obj.pages);
  },
  fault(vmf: VmFault): number {
    const obj = shmem_of(vmf.vma);
    if (vmf.pgoff >= obj.sizePages) return VM_FAULT_SIGBUS;
    let pfn = obj.pages.get(vmf.pgoff);
    if (pfn === undefined) {
      pfn = alloc_pages(0, GFP_HIGHUSER_MOVABLE | __GFP_ZERO);
      if (pfn < 0) return VM_FAULT_OOM;
      const map = mem_map();
      map.setFlags(pfn, PG_swapbacked | PG_uptodate);
      map.setMapping(pfn, obj.rmap, vmf.pgoff);
      obj.pages.set(vmf.pgoff, pfn);
      mod_node_page_state(VM.nr_shmem, 1);
      mod_node_page_state(VM.nr_file_pages, 1);
    }
    get_page(pfn);
    vmf.page = pfn;
    return 0;
  },
  name() {
    return '/dev/zero (deleted)';
  },
};

/** shmem_zero_setup: makes a shared anonymous VMA shmem-backed. Returns 0. */
export function shmem_zero_setup(vma: VmAreaStruct): number {
  const obj = new ShmemObject(vma.size / 4096);
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
