// mmap of page-cache files (mm/filemap.c generic_file_mmap / filemap_fault): the VMA
// faults pages from the file's page cache (inode->i_mapping: index -> PFN), so a
// shared mapping and read()/write() see the same pages. The filesystem supplies how
// a page is found or created (tmpfs allocates a zeroed page for a hole).

import type { File, Inode } from '../fs/types.js';
import { VM_FAULT_OOM, VM_FAULT_SIGBUS, type VmAreaStruct, type VmFault, type VmOperationsStruct } from './mm_types.js';
import { get_page } from './page_alloc.js';
import { PAGE_SIZE } from './page.js';
import { file_rmap_get, file_rmap_link } from './rmap.js';

/** The filesystem's page lookup: the PFN of page `index` of `inode` (created when `create`), or -1. */
export type PageCacheGetter = (inode: Inode, index: number, create: boolean) => number;

const vmOpsCache = new Map<PageCacheGetter, VmOperationsStruct>();

function filemap_vm_ops(get: PageCacheGetter): VmOperationsStruct {
  let ops = vmOpsCache.get(get);
  if (ops !== undefined) return ops;
  ops = {
    fault(vmf: VmFault): number {
      const file = vmf.vma.vm_file;
      if (file === null) return VM_FAULT_SIGBUS;
      const inode = file.f_inode;
      // filemap_fault: beyond EOF is SIGBUS
      if (vmf.pgoff >= Math.ceil(inode.i_size / PAGE_SIZE)) return VM_FAULT_SIGBUS;
      const pfn = get(inode, vmf.pgoff, true);
      if (pfn < 0) return VM_FAULT_OOM;
      get_page(pfn);
      vmf.page = pfn;
      return 0;
    },
  };
  vmOpsCache.set(get, ops);
  return ops;
}

/** generic_file_mmap: the VMA maps `file`'s page cache through `get`. Returns 0. */
export function generic_file_mmap(file: File, vma: VmAreaStruct, get: PageCacheGetter): number {
  vma.vm_ops = filemap_vm_ops(get);
  file_rmap_link(vma, file_rmap_get(file.f_inode.i_mapping.pages));
  return 0;
}
