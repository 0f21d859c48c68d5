// The per-port last-translation cache: the IOTLB entry each DMA port used last,
// copied with the (StreamID, SubstreamID) it was resolved for, so that the next
// access to the same page or block costs a few compares (the SMMU's counterpart of
// the CPU's last-page caches). It is a view of the configuration cache and the IOTLB,
// not a cache of its own: every change to either (fill, invalidation, command) and
// every register write that alters translation bumps one epoch, and an entry of an
// older epoch is never used. So it holds nothing the IOTLB does not, and it cannot
// keep a translation past the command that invalidates it.

/** A counter bumped by every change that could alter a translation's outcome. */
export class TranslationEpoch {
  value = 0;

  bump(): void {
    this.value++;
  }
}

/** Access-kind mask with every kind allowed (see `accessIndex`). */
export const ALL_ACCESS = 0xff;

/** Fields of an entry, as offsets in its row of `LastTranslations.rows`. */
export const enum LastField {
  Epoch = 0,
  Sid = 1,
  SsidKey = 2,
  Base = 3,
  End = 4,
  Pa = 5,
  /** Allowed access kinds, indexed by the transaction's own attributes (before STE overrides). */
  Access = 6,
}
/** Row length: a power of two, so a row is `slot << LAST_ROW_SHIFT`. */
export const LAST_ROW_SHIFT = 3;

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
    if (n << LAST_ROW_SHIFT <= this.rows.length) return;
    const rows = new Float64Array(n << LAST_ROW_SHIFT);
    rows.set(this.rows);
    for (let r = this.rows.length; r < rows.length; r += 1 << LAST_ROW_SHIFT) rows[r + LastField.Epoch] = -1;
    this.rows = rows;
  }

  /** Records the translation [base, base + size) -> pa for `slot` at the current epoch. */
  fill(slot: number, sid: number, ssidKey: number, base: number, size: number, pa: number, access: number): void {
    const r = this.rows;
    const o = slot << LAST_ROW_SHIFT;
    r[o + LastField.Epoch] = this.current.value;
    r[o + LastField.Sid] = sid;
    r[o + LastField.SsidKey] = ssidKey;
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
