// Reverse mapping (mm/rmap.c): from a page to every PTE that maps it. Anonymous
// pages point at an anon_vma and carry their linear index (page->index); a VMA
// linked to that anon_vma maps the page at vm_start + (index - vm_pgoff) pages if
// its PTE there holds the page. File and shmem pages point at the file's rmap
// (address_space->i_mmap). Mapcounts and NR_ANON_MAPPED/NR_FILE_MAPPED follow here.

import { thisCpu } from '../../arch/index.js';
import type { AnonVma, FileRmap, MmStruct, VmAreaStruct } from './mm_types.js';
import { mem_map } from './page_alloc.js';
import { PAGE_SIZE, PAGES_PER_SECTION, PG_anon, PG_swapbacked, type PageMapping } from './page.js';
import { pte_hi, pte_lookup, pte_pfn, pte_present, pte_read, PTE_VALID } from './pgtable.js';
import { mod_node_page_state, VM, vm_stat } from './vmstat.js';

/** anon_vma_prepare: the VMA's anon_vma, created on first need. */
export function anon_vma_prepare(vma: VmAreaStruct): AnonVma {
  if (vma.anon_vma !== null) return vma.anon_vma;
  const av = mem_map().registerMapping((id) => ({ mappingId: id, kind: 'anon' as const, vmas: [] as VmAreaStruct[] })) as AnonVma;
  av.vmas.push(vma);
  vma.anon_vma = av;
  return av;
}

/** anon_vma_clone / link: `vma` may map pages of `av` (fork, split). */
export function anon_vma_link(vma: VmAreaStruct, av: AnonVma): void {
  vma.anon_vma = av;
  if (!av.vmas.includes(vma)) av.vmas.push(vma);
}

/** unlink_anon_vmas: the VMA leaves its anon_vma; an anon_vma with no VMAs is freed. */
export function unlink_anon_vmas(vma: VmAreaStruct): void {
  const av = vma.anon_vma;
  if (av === null) return;
  const i = av.vmas.indexOf(vma);
  if (i >= 0) av.vmas.splice(i, 1);
  if (av.vmas.length === 0) mem_map().unregisterMapping(av);
  vma.anon_vma = null;
}

/** The file rmap of a page cache (one per AddressSpace page map), created on first mmap. */
const fileRmaps = new Map<Map<number, number>, FileRmap>();

export function file_rmap_get(pages: Map<number, number>): FileRmap {
  let r = fileRmaps.get(pages);
  if (r === undefined) {
    r = mem_map().registerMapping((id) => ({ mappingId: id, kind: 'file' as const, i_mmap: [] as VmAreaStruct[], pages })) as FileRmap;
    fileRmaps.set(pages, r);
  }
  return r;
}

/** The file rmap of a page cache, if one was made. */
export function file_rmap_lookup(pages: Map<number, number>): FileRmap | undefined {
  return fileRmaps.get(pages);
}

/** The page cache is gone (its inode evicted, its shmem object freed): forget its rmap. */
export function file_rmap_put(pages: Map<number, number>): void {
  const r = fileRmaps.get(pages);
  if (r === undefined || r.i_mmap.length > 0) return;
  fileRmaps.delete(pages);
  mem_map().unregisterMapping(r);
}

/** vma_interval_tree_insert: the VMA maps part of the file. */
export function file_rmap_link(vma: VmAreaStruct, r: FileRmap): void {
  vma.file_rmap = r;
  if (!r.i_mmap.includes(vma)) r.i_mmap.push(vma);
}

export function file_rmap_unlink(vma: VmAreaStruct): void {
  const r = vma.file_rmap;
  if (r === null) return;
  const i = r.i_mmap.indexOf(vma);
  if (i >= 0) r.i_mmap.splice(i, 1);
  vma.file_rmap = null;
}

/** Forgets every file rmap (mem_init of a fresh node). */
export function rmap_reset(): void {
  fileRmaps.clear();
}

/** linear_page_index: the page index of `addr` in the VMA's mapping. */
export function linear_page_index(vma: VmAreaStruct, addr: number): number {
  return (addr - vma.vm_start) / PAGE_SIZE + vma.vm_pgoff;
}

/** vma_address: where in `vma` page index `index` would be mapped, or -1 outside it. */
export function vma_address(vma: VmAreaStruct, index: number): number {
  const a = vma.vm_start + (index - vma.vm_pgoff) * PAGE_SIZE;
  return a >= vma.vm_start && a < vma.vm_end ? a : -1;
}

/** folio_add_new_anon_rmap: a freshly allocated page becomes mapped anon memory of `vma` at `addr`. */
export function page_add_new_anon_rmap(pfn: number, vma: VmAreaStruct, addr: number): void {
  const av = vma.anon_vma ?? anon_vma_prepare(vma);
  const sec = mem_map().sec(pfn);
  const i = pfn & (PAGES_PER_SECTION - 1);
  sec.flags[i]! |= PG_anon | PG_swapbacked;
  sec.mapping[i] = av.mappingId;
  sec.index[i] = (addr - vma.vm_start) * (1 / 4096) + vma.vm_pgoff; // / PAGE_SIZE, exact, without the divide an imported constant costs
  sec.mapcount[i]! += 1;
  vm_stat[VM.nr_anon_pages]! += 1;
}

/** folio_add_anon_rmap_pte / folio_add_file_rmap_pte: one more PTE maps an existing page. */
export function page_add_rmap(pfn: number): void {
  const map = mem_map();
  if (map.mapcountAdd(pfn, 1) === 1) mod_node_page_state(map.testFlags(pfn, PG_anon) ? VM.nr_anon_pages : VM.nr_mapped, 1);
}

/** A page-cache page mapped by a file or shmem VMA for the first time gets its rmap. */
export function page_add_file_rmap(pfn: number, r: FileRmap, index: number): void {
  const map = mem_map();
  if (map.mappingId(pfn) !== r.mappingId) map.setMapping(pfn, r, index);
  page_add_rmap(pfn);
}

/** folio_remove_rmap_pte. */
export function page_remove_rmap(pfn: number): void {
  const map = mem_map();
  if (map.mapcountAdd(pfn, -1) === 0) mod_node_page_state(map.testFlags(pfn, PG_anon) ? VM.nr_anon_pages : VM.nr_mapped, -1);
}

/** page_mapcount. */
export function page_mapcount(pfn: number): number {
  return mem_map().mapcount(pfn);
}

/**
 * rmap_walk: calls `fn(vma, addr, ptep)` for every PTE that maps `pfn` (present or
 * PROT_NONE). `fn` returns false to stop. The list is snapshotted first, so `fn`
 * may change PTEs.
 */
export function rmap_walk(pfn: number, fn: (vma: VmAreaStruct, addr: number, ptep: number) => boolean | void): void {
  const map = mem_map();
  const m: PageMapping | undefined = map.mappingOf(pfn);
  if (m === undefined) return;
  const index = map.index(pfn);
  const vmas = (m as AnonVma | FileRmap).kind === 'anon' ? (m as AnonVma).vmas : (m as FileRmap).i_mmap;
  const cpu = thisCpu();
  const hits: { vma: VmAreaStruct; addr: number; ptep: number }[] = [];
  for (const vma of vmas) {
    const addr = vma_address(vma, index);
    if (addr < 0 || vma.vm_mm.dead) continue;
    const ptep = pte_lookup(cpu, vma.vm_mm, addr);
    if (ptep < 0) continue;
    const lo = pte_read(cpu, ptep);
    const hi = pte_hi;
    if (!pte_present(lo, hi)) continue;
    if ((lo & PTE_VALID) === 0 && lo === 0) continue;
    if (pte_pfn(lo, hi) !== pfn) continue;
    hits.push({ vma, addr, ptep });
  }
  for (const h of hits) if (fn(h.vma, h.addr, h.ptep) === false) return;
}

/** The (mm, address) pairs mapping a page: for /proc and tests. */
export function page_mappers(pfn: number): { mm: MmStruct; addr: number }[] {
  const out: { mm: MmStruct; addr: number }[] = [];
  rmap_walk(pfn, (vma, addr) => {
    out.push({ mm: vma.vm_mm, addr });
  });
  return out;
}
