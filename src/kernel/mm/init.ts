// mm_core_init (mm/mm_init.c): brings up memory management on the boot core — the
// buddy allocator over the DTB memory, the zero page, the reserved TTBR0 table, the
// ASID allocator, the swap area — and wires reclaim and compaction into the
// allocator's slow path. Kernel threads (kswapd, kcompactd) start later, from
// mm_start_daemons once the scheduler runs (daemons.ts).

import { try_to_compact_pages, wakeup_kcompactd } from './compaction.js';
import { asids_init } from './context.js';
import { __GFP_ZERO, GFP_KERNEL } from './gfp.js';
import { set_swapcache_shared_check, zero_page_init } from './memory.js';
import { set_madv_pageout_hook } from './mmap.js';
import type { PgData } from './mmzone.js';
import { mem_init, set_alloc_slowpath_ops, set_page_free_hooks, type MemInitOptions, alloc_pages, mem_map } from './page_alloc.js';
import { PAGE_SIZE, PG_reserved } from './page.js';
import { rmap_reset } from './rmap.js';
import { del_page_from_lru_list } from './swap.js';
import { swapcache_shared, swapon } from './swapfile.js';
import { reclaim_range, set_swappiness, try_to_free_pages, wakeup_kswapd } from './vmscan.js';
import { set_compact_unevictable_allowed } from './compaction.js';

export interface MmInitOptions extends MemInitOptions {
  /** Size of the in-kernel swap area in bytes (default: a quarter of RAM, at most 256 MiB; 0 = no swap). */
  swapBytes?: number;
  /** ASID width (16 on this CPU; tests use fewer to force rollovers). */
  asidBits?: number;
  /** vm.swappiness at boot (default 60). */
  swappiness?: number;
}

/** Physical address of the reserved (empty) TTBR0 table. */
export let reserved_pg_dir = 0;

/** mm_core_init: everything the kernel needs before the first mm exists. Returns the node. */
export function mm_core_init(opts: MmInitOptions): PgData {
  const pgdat = mem_init(opts);
  rmap_reset();
  zero_page_init();
  const pgd = alloc_pages(0, GFP_KERNEL | __GFP_ZERO);
  if (pgd < 0) throw new Error('mm: no memory for reserved_pg_dir');
  mem_map().setFlags(pgd, PG_reserved);
  reserved_pg_dir = pgd * PAGE_SIZE;
  asids_init(opts.asidBits ?? 16, reserved_pg_dir);
  const ram = opts.memory.reduce((n, r) => n + r.size, 0);
  swapon(opts.swapBytes ?? Math.min(Math.floor(ram / 4), 256 * 1024 * 1024));
  set_swappiness(opts.swappiness ?? 60);
  set_compact_unevictable_allowed(1);
  set_alloc_slowpath_ops({ wakeup_kswapd, wakeup_kcompactd, try_to_compact_pages, try_to_free_pages });
  set_page_free_hooks({ del_from_lru: del_page_from_lru_list });
  set_swapcache_shared_check(swapcache_shared);
  set_madv_pageout_hook(reclaim_range);
  return pgdat;
}
