// VM counters (include/linux/vmstat.h, mm/vmstat.c): node/zone state items and event
// counters, printed by /proc/vmstat in Linux's order and names. A Float64Array with
// named indexes: counting is one add, no allocation.

const ITEMS = [
  // zone/node state items (global_zone_page_state / global_node_page_state)
  'nr_free_pages',
  'nr_zone_inactive_anon',
  'nr_zone_active_anon',
  'nr_zone_inactive_file',
  'nr_zone_active_file',
  'nr_zone_unevictable',
  'nr_mlock',
  'nr_bounce',
  'nr_free_cma',
  'nr_inactive_anon',
  'nr_active_anon',
  'nr_inactive_file',
  'nr_active_file',
  'nr_unevictable',
  'nr_isolated_anon',
  'nr_isolated_file',
  'nr_anon_pages',
  'nr_mapped',
  'nr_file_pages',
  'nr_dirty',
  'nr_writeback',
  'nr_shmem',
  'nr_anon_transparent_hugepages',
  'nr_kernel_stack',
  'nr_page_table_pages',
  'nr_swapcached',
  'nr_foll_pin_acquired',
  'nr_foll_pin_released',
  'nr_kernel_pages',
  // event counters (enum vm_event_item)
  'pgpgin',
  'pgpgout',
  'pswpin',
  'pswpout',
  'pgalloc_normal',
  'pgalloc_movable',
  'allocstall_normal',
  'allocstall_movable',
  'pgfree',
  'pgactivate',
  'pgdeactivate',
  'pgfault',
  'pgmajfault',
  'pgrefill',
  'pgsteal_kswapd',
  'pgsteal_direct',
  'pgscan_kswapd',
  'pgscan_direct',
  'pginodesteal',
  'pageoutrun',
  'pgrotated',
  'oom_kill',
  'pgmigrate_success',
  'pgmigrate_fail',
  'compact_migrate_scanned',
  'compact_free_scanned',
  'compact_isolated',
  'compact_stall',
  'compact_fail',
  'compact_success',
  'compact_daemon_wake',
  'compact_daemon_migrate_scanned',
  'compact_daemon_free_scanned',
  'unevictable_pgs_culled',
  'unevictable_pgs_scanned',
  'unevictable_pgs_rescued',
  'unevictable_pgs_mlocked',
  'unevictable_pgs_munlocked',
  'unevictable_pgs_cleared',
  'unevictable_pgs_stranded',
  'thp_fault_alloc',
  'thp_fault_fallback',
  'thp_collapse_alloc',
  'thp_split_page',
  'swap_ra',
  'swap_ra_hit',
  'cow_ksm',
] as const;

export type VmStatItem = (typeof ITEMS)[number];

export const VMSTAT_NAMES: readonly VmStatItem[] = ITEMS;

/** Index of each counter, for `vm_stat[NR_FREE_PAGES]`-style hot-path access. */
export const VM = Object.freeze(Object.fromEntries(ITEMS.map((n, i) => [n, i])) as Record<VmStatItem, number>);

/** The counters (pages for state items, events for event items). */
export const vm_stat = new Float64Array(ITEMS.length);

export function count_vm_event(item: number): void {
  vm_stat[item]! += 1;
}

export function count_vm_events(item: number, n: number): void {
  vm_stat[item]! += n;
}

export function mod_node_page_state(item: number, delta: number): void {
  vm_stat[item]! += delta;
}

export function global_page_state(item: VmStatItem): number {
  return vm_stat[VM[item]]!;
}

/** Resets every counter (mem_init of a fresh node). */
export function vmstat_reset(): void {
  vm_stat.fill(0);
}

/** /proc/vmstat content (mm/vmstat.c vmstat_show): "name value" lines. */
export function vmstat_show(): string {
  let out = '';
  for (let i = 0; i < ITEMS.length; i++) out += `${ITEMS[i]} ${vm_stat[i]}\n`;
  return out;
}
