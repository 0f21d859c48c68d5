// The page cache as mappings see it (mm/filemap.c, mm/truncate.c and
// unmap_mapping_range of mm/memory.c). A file's cache is inode->i_mapping.pages
// (page index -> PFN, one reference per page); the VMAs mapping the file hang off
// its file rmap (address_space->i_mmap). The filesystem fills the cache (tmpfs:
// mm/shmem.ts); shrinking a file first takes the pages out of every mapping, then
// out of the cache.

import { thisCpu } from '../../arch/index.js';
import { zap_page_range } from './memory.js';
import { MMU_NOTIFY_CLEAR } from './mm_types.js';
import { mem_map, put_page } from './page_alloc.js';
import { PAGE_SIZE, PG_swapbacked } from './page.js';
import { file_rmap_lookup } from './rmap.js';
import { mod_node_page_state, VM } from './vmstat.js';

/**
 * __filemap_remove_folio + folio_put: page `index` leaves the cache `pages`; its
 * page->mapping is cleared (a pin or gup reference may keep the page a while, as an
 * orphan nobody can look up) and the cache's reference dropped.
 */
export function delete_from_page_cache(pages: Map<number, number>, index: number): void {
  const pfn = pages.get(index);
  if (pfn === undefined) return;
  pages.delete(index);
  const map = mem_map();
  if (map.testFlags(pfn, PG_swapbacked)) mod_node_page_state(VM.nr_shmem, -1);
  mod_node_page_state(VM.nr_file_pages, -1);
  map.setMapping(pfn, undefined, 0);
  put_page(pfn);
}

/**
 * unmap_mapping_range(mapping, holebegin, holelen, even_cows=1): clears every PTE
 * that maps bytes [holebegin, holebegin + holelen) of the file (holelen 0: to the
 * end) in every VMA of i_mmap — shared mappings and the private COW copies made from
 * them alike — telling MMU notifiers with MMU_NOTIFY_CLEAR and flushing TLBs, so the
 * next access faults (and finds the new file size).
 */
export function unmap_mapping_range(pages: Map<number, number>, holebegin: number, holelen: number): void {
  const r = file_rmap_lookup(pages);
  if (r === undefined) return;
  const first = Math.floor(holebegin / PAGE_SIZE);
  const last = holelen === 0 ? Infinity : Math.ceil((holebegin + holelen) / PAGE_SIZE);
  for (const vma of r.i_mmap.slice()) {
    if (vma.vm_mm.dead) continue;
    const vfirst = vma.vm_pgoff;
    const vlast = vma.vm_pgoff + vma.size / PAGE_SIZE;
    const s = Math.max(first, vfirst);
    const e = Math.min(last, vlast);
    if (s >= e) continue;
    zap_page_range(vma, vma.vm_start + (s - vfirst) * PAGE_SIZE, vma.vm_start + (e - vfirst) * PAGE_SIZE, MMU_NOTIFY_CLEAR);
  }
}

/**
 * truncate_inode_pages(mapping, lstart): drops the cache's pages wholly at or beyond
 * byte `lstart` and zeroes the rest of the page `lstart` falls in, so a later
 * extension reads zeros there.
 */
export function truncate_inode_pages(pages: Map<number, number>, lstart: number): void {
  const from = Math.ceil(lstart / PAGE_SIZE);
  const drop: number[] = [];
  for (const idx of pages.keys()) if (idx >= from) drop.push(idx);
  drop.sort((a, b) => a - b);
  for (const idx of drop) delete_from_page_cache(pages, idx);
  const tail = lstart % PAGE_SIZE;
  const partial = pages.get(Math.floor(lstart / PAGE_SIZE));
  if (tail !== 0 && partial !== undefined) thisCpu().fillPhys(partial * PAGE_SIZE + tail, 0, PAGE_SIZE - tail);
}

/**
 * truncate_pagecache(inode, newsize) for a file shrinking from `oldsize`: unmaps the
 * part beyond the new end from every mapping, drops its pages, and unmaps again for
 * private COW copies made in between.
 */
export function truncate_pagecache(pages: Map<number, number>, oldsize: number, newsize: number): void {
  const holebegin = Math.ceil(newsize / PAGE_SIZE) * PAGE_SIZE;
  if (oldsize > holebegin) unmap_mapping_range(pages, holebegin, 0);
  truncate_inode_pages(pages, newsize);
  if (oldsize > holebegin) unmap_mapping_range(pages, holebegin, 0);
}
