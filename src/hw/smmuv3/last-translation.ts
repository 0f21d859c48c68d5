// The per-port last-translation cache: the IOTLB entry each DMA port used last,
// copied with the (StreamID, SubstreamID) it was resolved for, so that the next
// access to the same page or block costs a few compares (the SMMU's counterpart of
// the CPU's last-page caches). It is a view of the configuration cache and the IOTLB,
// not a cache of its own: every change to either (fill, invalidation, command) and
// every register write that alters translation bumps one epoch, and an entry of an
// older epoch is never used. So it holds nothing the IOTLB does not, and it cannot
// keep a translation past the command that invalidates it.

import type { DmaAttrs, IommuResult } from '../bus/dma.js';

/** A counter bumped by every change that could alter a translation's outcome. */
export class TranslationEpoch {
  value = 0;

  bump(): void {
    this.value++;
  }
}

/** Access-kind mask with every kind allowed (see `accessIndex`). */
export const ALL_ACCESS = 0xff;

/**
 * One port's entry: the translation [base, end) -> pa it used last, for StreamID `sid`
 * and SubstreamID `ssid` (a valid one: entries are filled after a translation succeeds;
 * -1 for a transaction without one), valid while `epoch` is the current one. Plain
 * fields rather than a typed-array row: a field load is one or two instructions, a
 * typed-array element an index computation and a bounds check.
 */
class LastEntry {
  epoch = -1;
  sid = 0;
  ssid = -1;
  base = 0;
  end = 0;
  pa = 0;
  /** Allowed access kinds, indexed by the transaction's own attributes (before STE overrides). */
  access = 0;
}

/**
 * One entry per attached port, indexed by the port's slot (`DmaPort.iommuSlot`). An
 * entry matches an access when its epoch is current, the port's StreamID and the
 * transaction's SubstreamID are the ones it was filled for, the address lies in
 * [base, end), and the access kind's bit is set in `access`.
 */
export class LastTranslations {
  private readonly entries: LastEntry[] = [];

  constructor(private readonly current: TranslationEpoch) {}

  /** Makes room for `n` slots (cold: called when a port is attached). */
  grow(n: number): void {
    while (this.entries.length < n) this.entries.push(new LastEntry());
  }

  /**
   * The hot path of a translation: when `slot`'s entry matches the access (current epoch,
   * StreamID `sid`, the SubstreamID of `attrs`, `iova` in range, the access kind allowed),
   * writes the output address and span to `out` and returns true; otherwise returns false
   * and leaves `out` alone. `write` and `attrs` are the transaction's own.
   */
  hit(slot: number, iova: number, sid: number, write: boolean, attrs: Readonly<DmaAttrs>, out: IommuResult): boolean {
    const entries = this.entries;
    if (!(slot >= 0 && slot < entries.length)) return false;
    const e = entries[slot]!;
    if (
      e.epoch === this.current.value &&
      iova >= e.base &&
      iova < e.end &&
      e.sid === sid &&
      e.ssid === (attrs.ssv ? (attrs.ssid >= 0 ? attrs.ssid : -2) : -1) && // -2: no entry holds it
      ((e.access >>> ((write ? 1 : 0) | (attrs.exec ? 2 : 0) | (attrs.priv ? 4 : 0))) & 1) !== 0
    ) {
      out.pa = e.pa + (iova - e.base);
      out.span = e.end - iova;
      return true;
    }
    return false;
  }

  /** Records the translation [base, base + size) -> pa for `slot` and (sid, SubstreamID if ssv) at the current epoch. */
  fill(slot: number, sid: number, ssv: boolean, ssid: number, base: number, size: number, pa: number, access: number): void {
    const e = this.entries[slot]!;
    e.epoch = this.current.value;
    e.sid = sid;
    e.ssid = ssv ? ssid : -1;
    e.base = base;
    e.end = base + size;
    e.pa = pa;
    e.access = access;
  }
}

/**
 * The IOTLB permission mask `perm` (indexed by the effective access kind) re-indexed by
 * the transaction's own attributes, given the STE's PRIVCFG/INSTCFG overrides (-1:
 * use incoming, 0/1: forced).
 */
export function accessMaskForAttrs(perm: number, privOverride: number, instOverride: number): number {
  if (privOverride < 0 && instOverride < 0) return perm;
  let m = 0;
  for (let r = 0; r < 8; r++) {
    const exec = instOverride < 0 ? (r >>> 1) & 1 : instOverride;
    const priv = privOverride < 0 ? (r >>> 2) & 1 : privOverride;
    if (((perm >>> ((r & 1) | (exec << 1) | (priv << 2))) & 1) !== 0) m |= 1 << r;
  }
  return m;
}
