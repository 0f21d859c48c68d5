// /proc/meminfo (fs/proc/meminfo.c meminfo_proc_show): "Name:   value kB" lines from
// the node counters, in Linux's order (the subset this kernel has).

import { LRU_ACTIVE_ANON, LRU_INACTIVE_ANON, LRU_UNEVICTABLE } from './mmzone.js';
import { NODE_DATA, nr_free_pages, totalram_pages } from './page_alloc.js';
import { PAGE_SIZE } from './page.js';
import { nr_swap_pages, total_swap_pages } from './swapfile.js';
import { global_page_state } from './vmstat.js';

function line(name: string, pages: number): string {
  return `${(name + ':').padEnd(16)}${String(Math.max(0, Math.round(pages * (PAGE_SIZE / 1024)))).padStart(8)} kB\n`;
}

/** si_mem_available: free pages above the reserves plus the reclaimable part of the page cache. */
export function si_mem_available(): number {
  const pgdat = NODE_DATA();
  let reserve = 0;
  for (const z of pgdat.node_zones) reserve += z.wmark_high;
  const file = global_page_state('nr_file_pages') - global_page_state('nr_shmem');
  let low = 0;
  for (const z of pgdat.node_zones) low += z.wmark_low;
  const available = nr_free_pages() - reserve + file - Math.min(file / 2, low);
  return Math.max(0, available);
}

export function meminfo_proc_show(): string {
  const pgdat = NODE_DATA();
  const lru = pgdat.lruvec;
  const cached = Math.max(0, global_page_state('nr_file_pages') - global_page_state('nr_swapcached'));
  return (
    line('MemTotal', totalram_pages()) +
    line('MemFree', nr_free_pages()) +
    line('MemAvailable', si_mem_available()) +
    line('Buffers', 0) +
    line('Cached', cached) +
    line('SwapCached', global_page_state('nr_swapcached')) +
    line('Active', lru[LRU_ACTIVE_ANON]!.count) +
    line('Inactive', lru[LRU_INACTIVE_ANON]!.count) +
    line('Active(anon)', lru[LRU_ACTIVE_ANON]!.count) +
    line('Inactive(anon)', lru[LRU_INACTIVE_ANON]!.count) +
    line('Active(file)', 0) +
    line('Inactive(file)', 0) +
    line('Unevictable', lru[LRU_UNEVICTABLE]!.count) +
    line('Mlocked', global_page_state('nr_mlock')) +
    line('SwapTotal', total_swap_pages()) +
    line('SwapFree', nr_swap_pages()) +
    line('Dirty', global_page_state('nr_dirty')) +
    line('Writeback', global_page_state('nr_writeback')) +
    line('AnonPages', global_page_state('nr_anon_pages')) +
    line('Mapped', global_page_state('nr_mapped')) +
    line('Shmem', global_page_state('nr_shmem')) +
    line('KernelStack', 0) +
    line('PageTables', global_page_state('nr_page_table_pages')) +
    line('Bounce', 0) +
    line('AnonHugePages', 0) +
    line('HugePages_Total', 0).replace(' kB', '') +
    line('Hugepagesize', 2048 / (PAGE_SIZE / 1024))
  );
}
