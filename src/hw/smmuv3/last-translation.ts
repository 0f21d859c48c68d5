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
 * Fields of an entry, as offsets in its row of `LastTranslations.rows`. A const enum used
 * only in this file, so the offsets compile to literals (an enum imported from another
 * module is a property load on every use).
 */
const enum LastField {
  Epoch = 0,
  Sid = 1,
  /** The SubstreamID (a valid one: rows are filled after a translation succeeds), or -1 for a transaction without one. */
  Ssid = 2,
  Base = 3,
  End = 4,
  Pa = 5,
  /** Allowed access kinds, indexed by the transaction's own attributes (before STE overrides). */
  Access = 6,
  /** Row length: a power of two, so a row is `slot << RowShift`. */
  RowShift = 3,
}

/**
 * One row per attached port, indexed by the port's slot (`DmaPort.iommuSlot`), in one
 * Float64Array (one bounds check and one base load on the hot path). A row matches an
 * access when its epoch is current, the port's StreamID and the SubstreamID key are
 * the ones it was filled for, the address lies in [Base, End), and the access kind's
 * bit is set in Access.
 */
export class LastTranslations {
  rows = new Float64Array(0);

  constructor(private readonly current: TranslationEpoch) {}

  /** Makes room for `n` slots (cold: called when a port is attached). */
  grow(n: number): void {
    if (n << LastField.RowShift <= this.rows.length) return;
    const rows = new Float64Array(n << LastField.RowShift);
    rows.set(this.rows);
    for (let r = this.rows.length; r < rows.length; r += 1 << LastField.RowShift) rows[r + LastField.Epoch] = -1;
    this.rows = rows;
  }

  /**
   * The hot path of a translation: when `slot`'s entry matches the access (current epoch,
   * StreamID `sid`, the SubstreamID of `attrs`, `iova` in range, the access kind allowed),
   * writes the output address and span to `out` and returns true; otherwise returns false
   * and leaves `out` alone. `write` and `attrs` are the transaction's own.
   */
  hit(slot: number, iova: number, sid: number, write: boolean, attrs: Readonly<DmaAttrs>, out: IommuResult): boolean {
    const r = this.rows;
    const o = slot << LastField.RowShift;
    if (
      o >= 0 &&
      r[o + LastField.Epoch] === this.current.value &&
      iova >= r[o + LastField.Base]! &&
      iova < r[o + LastField.End]! &&
      r[o + LastField.Sid] === sid &&
      r[o + LastField.Ssid] === (attrs.ssv ? (attrs.ssid >= 0 ? attrs.ssid : -2) : -1) && // -2: no row holds it
      ((r[o + LastField.Access]! >>> ((write ? 1 : 0) | (attrs.exec ? 2 : 0) | (attrs.priv ? 4 : 0))) & 1) !== 0
    ) {
      out.pa = r[o + LastField.Pa]! + (iova - r[o + LastField.Base]!);
      out.span = r[o + LastField.End]! - iova;
      return true;
    }
    return false;
  }

  /** Records the translation [base, base + size) -> pa for `slot` and (sid, SubstreamID if ssv) at the current epoch. */
  fill(slot: number, sid: number, ssv: boolean, ssid: number, base: number, size: number, pa: number, access: number): void {
    const r = this.rows;
    const o = slot << LastField.RowShift;
    r[o + LastField.Epoch] = this.current.value;
    r[o + LastField.Sid] = sid;
    r[o + LastField.Ssid] = ssv ? ssid : -1;
    r[o + LastField.Base] = base;
    r[o + LastField.End] = base + size;
    r[o + LastField.Pa] = pa;
    r[o + LastField.Access] = access;
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
