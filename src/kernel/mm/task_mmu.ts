// The per-process views of an address space (fs/proc/task_mmu.c, array.c):
// /proc/<pid>/status Vm* lines, /proc/<pid>/maps and /proc/<pid>/pagemap entries.
// Pure functions of the mm; the procfs glue (late_init.ts) hands them to procfs.

import { follow_pte, type FollowResult } from './memory.js';
import {
  get_mm_counter,
  get_mm_rss,
  MM_ANONPAGES,
  MM_FILEPAGES,
  MM_SHMEMPAGES,
  MM_SWAPENTS,
  type MmStruct,
  VM_EXEC,
  VM_GROWSDOWN,
  VM_MAYSHARE,
  VM_PFNMAP,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  type VmAreaStruct,
} from './mm_types.js';
import { vma_lookup } from './mmap.js';
import { mem_map } from './page_alloc.js';
import { PAGE_SIZE, PG_anon } from './page.js';

function kb(pages: number): string {
  return String(pages * (PAGE_SIZE / 1024)).padStart(8);
}

/** task_mem: the Vm* and Rss* lines of /proc/<pid>/status (VmLck = locked_vm, VmPin = pinned_vm). */
export function task_mem(mm: MmStruct): string {
  const anon = get_mm_counter(mm, MM_ANONPAGES);
  const file = get_mm_counter(mm, MM_FILEPAGES);
  const shmem = get_mm_counter(mm, MM_SHMEMPAGES);
  const rss = get_mm_rss(mm);
  mm.hiwater_rss = Math.max(mm.hiwater_rss, rss);
  const text = Math.max(0, Math.ceil((mm.end_code - mm.start_code) / PAGE_SIZE));
  const lib = Math.max(0, mm.exec_vm - text);
  return (
    `VmPeak:\t${kb(Math.max(mm.hiwater_vm, mm.total_vm))} kB\n` +
    `VmSize:\t${kb(mm.total_vm)} kB\n` +
    `VmLck:\t${kb(mm.locked_vm)} kB\n` +
    `VmPin:\t${kb(mm.pinned_vm)} kB\n` +
    `VmHWM:\t${kb(mm.hiwater_rss)} kB\n` +
    `VmRSS:\t${kb(rss)} kB\n` +
    `RssAnon:\t${kb(anon)} kB\n` +
    `RssFile:\t${kb(file)} kB\n` +
    `RssShmem:\t${kb(shmem)} kB\n` +
    `VmData:\t${kb(mm.data_vm)} kB\n` +
    `VmStk:\t${kb(mm.stack_vm)} kB\n` +
    `VmExe:\t${kb(text)} kB\n` +
    `VmLib:\t${kb(lib)} kB\n` +
    `VmPTE:\t${kb(mm.pgtables_bytes / PAGE_SIZE)} kB\n` +
    `VmSwap:\t${kb(get_mm_counter(mm, MM_SWAPENTS))} kB\n`
  );
}

/** The name column of a maps line: the file, or [heap]/[stack]/a special name. */
function vma_name(vma: VmAreaStruct, fileName: (vma: VmAreaStruct) => string | undefined): string {
  if (vma.vm_file !== null) return fileName(vma) ?? '';
  const n = vma.vm_ops?.name?.(vma);
  if (n !== undefined) return n;
  if (vma.anon_name !== undefined) return vma.anon_name;
  const mm = vma.vm_mm;
  if (vma.vm_start <= mm.brk && vma.vm_end >= mm.start_brk && mm.start_brk !== 0) return '[heap]';
  if (vma.vm_flags & VM_GROWSDOWN || (vma.vm_start <= mm.start_stack && vma.vm_end >= mm.start_stack)) return '[stack]';
  return '';
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** show_map_vma for every VMA: "start-end perms offset dev inode   name". */
export function show_maps(mm: MmStruct, fileName: (vma: VmAreaStruct) => string | undefined = () => undefined): string {
  let out = '';
  for (const vma of mm.mmap) {
    const f = vma.vm_flags;
    const perms = (f & VM_READ ? 'r' : '-') + (f & VM_WRITE ? 'w' : '-') + (f & VM_EXEC ? 'x' : '-') + (f & VM_MAYSHARE || f & VM_SHARED ? 's' : 'p');
    const file = vma.vm_file;
    const ino = file !== null ? file.f_inode.i_ino : 0;
    const dev = file !== null ? file.f_inode.i_sb.s_dev : 0;
    const pgoff = file !== null ? vma.vm_pgoff * PAGE_SIZE : 0;
    let line = `${hex(vma.vm_start, 8)}-${hex(vma.vm_end, 8)} ${perms} ${hex(pgoff, 8)} ${hex((dev >>> 8) & 0xfff, 2)}:${hex(dev & 0xff, 2)} ${ino} `;
    const name = vma_name(vma, fileName);
    if (name !== '') line = line.padEnd(73) + name;
    out += line + '\n';
  }
  return out;
}

// pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst)
export const PM_PFRAME_BITS = 55;
export const PM_SOFT_DIRTY_BIT = 55;
export const PM_MMAP_EXCLUSIVE_BIT = 56;
export const PM_FILE_BIT = 61;
export const PM_SWAP_BIT = 62;
export const PM_PRESENT_BIT = 63;

const pfr: FollowResult = { pfn: -1, writable: false, special: false, swapOffset: -1, dirty: false };

/**
 * pagemap_pmd_range for one page: the 64-bit entry as [lo, hi] words. Present pages
 * carry their PFN in bits 0-54 when `showPfn` (CAP_SYS_ADMIN), swapped ones the
 * swap type (0) and offset; bit 63 present, 62 swapped, 61 file/shared, 56 exclusive.
 * PFN maps (VM_PFNMAP) read as holes: all zero.
 */
export function pagemap_entry(mm: MmStruct, va: number, showPfn: boolean, out: Uint32Array): void {
  out[0] = 0;
  out[1] = 0;
  // walk_page_test: a VM_PFNMAP range has no struct pages; pagemap reports it as a hole
  const vma = vma_lookup(mm, va);
  if (vma !== null && vma.vm_flags & VM_PFNMAP) return;
  follow_pte(mm, va, pfr);
  if (pfr.pfn >= 0) {
    const map = mem_map();
    let hi = 1 << (PM_PRESENT_BIT - 32);
    if (!pfr.special) {
      if (!map.testFlags(pfr.pfn, PG_anon)) hi |= 1 << (PM_FILE_BIT - 32);
      if (map.mapcount(pfr.pfn) === 1) hi |= 1 << (PM_MMAP_EXCLUSIVE_BIT - 32);
    }
    if (showPfn) {
      out[0] = pfr.pfn >>> 0;
      hi |= Math.floor(pfr.pfn / 4294967296) & 0x7fffff;
    }
    out[1] = hi >>> 0;
  } else if (pfr.swapOffset > 0) {
    // swap type in bits 0-4, offset from bit 5
    const v = pfr.swapOffset * 32;
    out[0] = v >>> 0;
    out[1] = ((Math.floor(v / 4294967296) & 0x7fffff) | (1 << (PM_SWAP_BIT - 32))) >>> 0;
  }
}

/** pagemap_read: `count` bytes of entries from byte `pos` (a multiple of 8) into `dst`. */
export function pagemap_read(mm: MmStruct, pos: number, count: number, showPfn: boolean): Uint8Array {
  const n = Math.floor(count / 8);
  const buf = new Uint8Array(n * 8);
  const dv = new DataView(buf.buffer);
  const e = new Uint32Array(2);
  const first = pos / 8;
  for (let i = 0; i < n; i++) {
    const va = (first + i) * PAGE_SIZE;
    if (va >= mm.task_size) return buf.subarray(0, i * 8);
    pagemap_entry(mm, va, showPfn, e);
    dv.setUint32(i * 8, e[0]!, true);
    dv.setUint32(i * 8 + 4, e[1]!, true);
  }
  return buf;
}
