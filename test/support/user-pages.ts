// Where the current task's user pages live, and moving them: what tests of pinning,
// migration and SVA look at (a debug view Linux gives through /proc/<pid>/pagemap and
// move_pages(2)).

import { GFP_HIGHUSER_MOVABLE, ZONE_MOVABLE } from '../../src/kernel/mm/gfp.js';
import { follow_pte, type FollowResult } from '../../src/kernel/mm/memory.js';
import { migrate_pages, MR_SYSCALL } from '../../src/kernel/mm/migrate.js';
import { NODE_DATA, alloc_pages } from '../../src/kernel/mm/page_alloc.js';
import { isolate_page, putback_isolated_page } from '../../src/kernel/mm/swap.js';
import { current } from '../../src/kernel/sched/core.js';

const fr: FollowResult = { pfn: -1, writable: false, special: false, swapOffset: -1, dirty: false };

/** follow_pte in the current task: the result object is reused by the next call. */
export function followUserPte(va: number): Readonly<FollowResult> {
  follow_pte(current().mm!, va, fr);
  return fr;
}

/** The page frame mapped at `va` in the current task, or -1. */
export function pfnAt(va: number): number {
  return followUserPte(va).pfn;
}

/** The frame is in ZONE_MOVABLE. */
export function movable(pfn: number): boolean {
  return NODE_DATA().node_zones[ZONE_MOVABLE]!.contains(pfn);
}

/** move_pages(2) for one page of the current task: 0 moved, 1 refused (pinned, ...). */
export function migrateUserPage(va: number): number {
  const pfn = pfnAt(va);
  isolate_page(pfn);
  const failed = migrate_pages([pfn], () => alloc_pages(0, GFP_HIGHUSER_MOVABLE), GFP_HIGHUSER_MOVABLE, MR_SYSCALL);
  for (const p of failed) putback_isolated_page(p);
  return failed.length;
}
