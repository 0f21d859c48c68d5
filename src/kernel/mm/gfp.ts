// GFP flags (include/linux/gfp_types.h): how an allocation may be satisfied.

export type GfpFlags = number;

export const __GFP_DMA32 = 1 << 2;
/** Page may be moved by migration/compaction: may come from ZONE_MOVABLE. */
export const __GFP_MOVABLE = 1 << 3;
export const __GFP_RECLAIMABLE = 1 << 4;
export const __GFP_HIGH = 1 << 5;
export const __GFP_IO = 1 << 6;
export const __GFP_FS = 1 << 7;
export const __GFP_ZERO = 1 << 8;
export const __GFP_DIRECT_RECLAIM = 1 << 10;
export const __GFP_KSWAPD_RECLAIM = 1 << 11;
export const __GFP_NOWARN = 1 << 13;
export const __GFP_RETRY_MAYFAIL = 1 << 14;
export const __GFP_NOFAIL = 1 << 15;
export const __GFP_NORETRY = 1 << 16;
export const __GFP_COMP = 1 << 18;
export const __GFP_HARDWALL = 1 << 20;
export const __GFP_ACCOUNT = 1 << 22;

export const __GFP_RECLAIM = __GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM;

export const GFP_ATOMIC = __GFP_HIGH | __GFP_KSWAPD_RECLAIM;
export const GFP_NOWAIT = __GFP_KSWAPD_RECLAIM;
export const GFP_KERNEL = __GFP_RECLAIM | __GFP_IO | __GFP_FS;
export const GFP_KERNEL_ACCOUNT = GFP_KERNEL | __GFP_ACCOUNT;
export const GFP_NOIO = __GFP_RECLAIM;
export const GFP_USER = __GFP_RECLAIM | __GFP_IO | __GFP_FS | __GFP_HARDWALL;
export const GFP_HIGHUSER = GFP_USER;
export const GFP_HIGHUSER_MOVABLE = GFP_HIGHUSER | __GFP_MOVABLE;

/** Zone indexes (enum zone_type). */
export const ZONE_NORMAL = 0;
export const ZONE_MOVABLE = 1;
export const MAX_NR_ZONES = 2;

/** gfp_zone(): the highest zone an allocation may use. */
export function gfp_zone(gfp: GfpFlags): number {
  return gfp & __GFP_MOVABLE ? ZONE_MOVABLE : ZONE_NORMAL;
}
