// MMU notifiers (mm/mmu_notifier.c): secondary MMUs (an IOMMU sharing the CPU page
// tables for SVA, a device with its own TLB) subscribe to an mm and are told before
// and after PTEs change, on every CPU TLB flush, and when the mm goes away.

import { EINVAL } from '../lib/errno.js';
import { mmdrop } from './fork.js';
import {
  MMU_NOTIFIER_RANGE_BLOCKABLE,
  MmuNotifier,
  type MmStruct,
  type MmuNotifierEvent,
  type MmuNotifierOps,
  type MmuNotifierRange,
} from './mm_types.js';

/** mmu_notifier_register: subscribes `subscription` to `mm`. Returns 0 or -EINVAL. */
export function mmu_notifier_register(subscription: MmuNotifier, mm: MmStruct): number {
  if (mm.dead || subscription.mm !== null) return -EINVAL;
  subscription.mm = mm;
  subscription.users = 1;
  mm.mm_count++;
  mm.notifier_subscriptions.push(subscription);
  return 0;
}

/**
 * mmu_notifier_unregister: calls ->release unless __mmu_notifier_release already ran
 * it (the subscription is then unlinked), unlinks the subscription and drops its mm
 * reference.
 */
export function mmu_notifier_unregister(subscription: MmuNotifier, mm: MmStruct): void {
  if (subscription.mm !== mm) return;
  const i = mm.notifier_subscriptions.indexOf(subscription);
  if (i >= 0) {
    subscription.ops.release?.(subscription, mm);
    mm.notifier_subscriptions.splice(mm.notifier_subscriptions.indexOf(subscription), 1);
  }
  subscription.mm = null;
  // The subscription's reference: the last one frees the pgd and the mm's PASID (__mmdrop)
  mmdrop(mm);
}

/**
 * mmu_notifier_get: the existing subscription of `ops` on `mm` (with a new user
 * reference), or a new one made by `alloc` and registered.
 */
export function mmu_notifier_get(ops: MmuNotifierOps, mm: MmStruct, alloc: (mm: MmStruct) => MmuNotifier): MmuNotifier {
  for (const s of mm.notifier_subscriptions) {
    if (s.ops === ops) {
      s.users++;
      return s;
    }
  }
  const s = alloc(mm);
  mmu_notifier_register(s, mm);
  return s;
}

/** mmu_notifier_put: drops a user reference; the last one unregisters and frees. */
export function mmu_notifier_put(subscription: MmuNotifier): void {
  if (--subscription.users > 0) return;
  const mm = subscription.mm;
  if (mm !== null) {
    const i = mm.notifier_subscriptions.indexOf(subscription);
    if (i >= 0) mm.notifier_subscriptions.splice(i, 1);
    subscription.mm = null;
    mmdrop(mm);
  }
  subscription.ops.free_notifier?.(subscription);
}

export function mm_has_notifiers(mm: MmStruct): boolean {
  return mm.notifier_subscriptions.length > 0;
}

/** mmu_notifier_range_init. */
export function mmu_notifier_range_init(event: MmuNotifierEvent, mm: MmStruct, start: number, end: number, owner?: unknown): MmuNotifierRange {
  return owner === undefined
    ? { mm, start, end, event, flags: MMU_NOTIFIER_RANGE_BLOCKABLE }
    : { mm, start, end, event, flags: MMU_NOTIFIER_RANGE_BLOCKABLE, owner };
}

/** mmu_notifier_invalidate_range_start. */
export function mmu_notifier_invalidate_range_start(range: MmuNotifierRange): void {
  const subs = range.mm.notifier_subscriptions;
  for (let i = 0; i < subs.length; i++) {
    const s = subs[i]!;
    s.ops.invalidate_range_start?.(s, range);
  }
}

/** mmu_notifier_invalidate_range_end. */
export function mmu_notifier_invalidate_range_end(range: MmuNotifierRange): void {
  const subs = range.mm.notifier_subscriptions;
  for (let i = 0; i < subs.length; i++) {
    const s = subs[i]!;
    s.ops.invalidate_range_end?.(s, range);
  }
}

/** Starts and returns a range when `mm` has subscribers (callers skip the work otherwise). */
export function notify_start(event: MmuNotifierEvent, mm: MmStruct, start: number, end: number): MmuNotifierRange | undefined {
  if (mm.notifier_subscriptions.length === 0) return undefined;
  const r = mmu_notifier_range_init(event, mm, start, end);
  mmu_notifier_invalidate_range_start(r);
  return r;
}

export function notify_end(range: MmuNotifierRange | undefined): void {
  if (range !== undefined) mmu_notifier_invalidate_range_end(range);
}

/**
 * -1UL, the `end` flush_tlb_mm hands secondary TLBs for "the whole address space".
 * 2^64 - 1 is not a double: the Number is 2^64, which 0xffff_ffff_ffff_ffff rounds to,
 * so `end - start` of a whole-mm flush compares equal to it as size == ULONG_MAX does.
 */
export const ULONG_MAX = 2 ** 64;

/**
 * mmu_notifier_arch_invalidate_secondary_tlbs: called with every CPU TLB flush of `mm`
 * for [start, end); flush_tlb_mm passes (0, ULONG_MAX).
 */
export function mmu_notifier_arch_invalidate_secondary_tlbs(mm: MmStruct, start: number, end: number): void {
  const subs = mm.notifier_subscriptions;
  for (let i = 0; i < subs.length; i++) {
    const s = subs[i]!;
    s.ops.arch_invalidate_secondary_tlbs?.(s, mm, start, end);
  }
}

/**
 * __mmu_notifier_release: the mm is being torn down (exit_mmap). Every subscriber's
 * ->release runs once, then every subscription is unlinked (hlist_del_init_rcu), so
 * the unmaps and TLB flushes of the teardown reach none of them and a later
 * mmu_notifier_get makes a new one. Each keeps its mm reference until
 * mmu_notifier_unregister or the last mmu_notifier_put.
 */
export function mmu_notifier_release(mm: MmStruct): void {
  for (const s of mm.notifier_subscriptions.slice()) s.ops.release?.(s, mm);
  mm.notifier_subscriptions.length = 0;
}
