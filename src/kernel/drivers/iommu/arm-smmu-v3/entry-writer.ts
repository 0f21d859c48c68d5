// Hitless STE/CD update (arm_smmu_write_entry, Linux ~v6.10). The SMMU reads an entry
// with only 64-bit single-copy atomicity, in no defined order, so a multi-dword change
// must never let it see a mix that means something else. The used-bits rule: bits the
// current configuration ignores may change freely; if after that exactly one dword
// still differs in bits the target uses, writing that one "critical" dword switches
// the configuration at once (hitless). Otherwise the entry goes through V=0
// (disruptive). Every step that changed memory is followed by a sync (CFGI_STE or
// CFGI_CD with Leaf, plus CMD_SYNC), so the SMMU never caches a half-written entry.

export interface EntryWriterOps {
  /** The bits of `entry` the SMMU reads (getSteUsed / getCdUsed). */
  getUsed(entry: Uint32Array, used: Uint32Array): void;
  /** Used bits that may change in any order between `cur` and `target` (STE only). */
  getUpdateSafe?(cur: Uint32Array, target: Uint32Array, safe: Uint32Array): void;
}

export interface EntryWriter {
  readonly ops: EntryWriterOps;
  /** Stores dword `d` of the live entry with one 64-bit store (lo/hi halves). */
  writeDword(d: number, lo: number, hi: number): void;
  /** Makes the SMMU drop any cached copy of the entry and waits for it (CFGI + CMD_SYNC). */
  sync(): void;
}

const MAX_WORDS = 16;
// Scratch, reused: the writer runs on cold paths, but one call makes no garbage.
const curUsed = new Uint32Array(MAX_WORDS);
const targetUsed = new Uint32Array(MAX_WORDS);
const unusedUpdate = new Uint32Array(MAX_WORDS);
const safeBits = new Uint32Array(MAX_WORDS);

/**
 * arm_smmu_entry_qword_diff: fills `unusedUpdate` (the entry with every unused bit set
 * to its target value) and returns a bit per dword whose used bits still differ.
 * Throws if a make function set a bit its own used-bits function calls unused (a
 * driver bug, not guest input).
 */
function entryDwordDiff(ops: EntryWriterOps, entry: Uint32Array, target: Uint32Array, update: Uint32Array): number {
  const n = entry.length;
  ops.getUsed(entry, curUsed.subarray(0, n));
  ops.getUsed(target, targetUsed.subarray(0, n));
  safeBits.fill(0);
  ops.getUpdateSafe?.(entry, target, safeBits.subarray(0, n));
  let diff = 0;
  for (let i = 0; i < n; i++) {
    // Safe bits only matter where both configurations use them; elsewhere the unused side rules
    const safe = safeBits[i]! & targetUsed[i]! & curUsed[i]!;
    curUsed[i] = (curUsed[i]! & ~safe) >>> 0;
    if ((target[i]! & ~targetUsed[i]!) !== 0) throw new Error(`entry writer: target sets bits the used-bits function calls unused (word ${i})`);
    update[i] = ((entry[i]! & curUsed[i]!) | (target[i]! & ~curUsed[i]!)) >>> 0;
    if (((update[i]! & targetUsed[i]!) >>> 0) !== target[i]) diff |= 1 << (i >> 1);
  }
  return diff;
}

/** entry_set: copies dwords [start, start+len) of `src` into the live entry; syncs if any changed. */
function entrySet(w: EntryWriter, entry: Uint32Array, src: Uint32Array, start: number, len: number): boolean {
  let changed = false;
  for (let d = start; d < start + len; d++) {
    const lo = src[2 * d]!;
    const hi = src[2 * d + 1]!;
    if (entry[2 * d] !== lo || entry[2 * d + 1] !== hi) {
      entry[2 * d] = lo;
      entry[2 * d + 1] = hi;
      w.writeDword(d, lo, hi);
      changed = true;
    }
  }
  if (changed) w.sync();
  return changed;
}

function popcount8(x: number): number {
  let c = 0;
  for (; x; x &= x - 1) c++;
  return c;
}

export const enum EntryUpdate {
  None = 0,
  Hitless = 1,
  Disruptive = 2,
}

/**
 * arm_smmu_write_entry: moves the live entry (`entry`, the driver's copy of what is in
 * memory, kept equal to it) to `target` with the fewest syncs that keep every
 * intermediate state equal to the old or the new configuration on the bits in use.
 */
export function writeEntry(w: EntryWriter, entry: Uint32Array, target: Uint32Array): EntryUpdate {
  if (entry.length !== target.length || entry.length > MAX_WORDS || entry.length % 2) throw new Error('entry writer: entry and target must be equal-sized dword arrays');
  const nd = entry.length / 2;
  const update = unusedUpdate.subarray(0, entry.length);
  const diff = entryDwordDiff(w.ops, entry, target, update);
  if (popcount8(diff) === 1) {
    const critical = 31 - Math.clz32(diff & -diff);
    // The critical dword is written whole in the next step; skipping its unused bits
    // here saves a sync when it is the only dword that changes.
    update[2 * critical] = entry[2 * critical]!;
    update[2 * critical + 1] = entry[2 * critical + 1]!;
    entrySet(w, entry, update, 0, nd);
    entrySet(w, entry, target, critical, 1);
    entrySet(w, entry, target, 0, nd);
    return EntryUpdate.Hitless;
  }
  if (diff !== 0) {
    // Break the entry (V=0, which lives in dword 0 of both STE and CD), fill the rest,
    // then make it valid with the final dword 0.
    update[0] = 0;
    update[1] = 0;
    entrySet(w, entry, update, 0, 1);
    entrySet(w, entry, target, 1, nd - 1);
    entrySet(w, entry, target, 0, 1);
    return EntryUpdate.Disruptive;
  }
  // Nothing in use changes (safe bits may): write whatever differs in place.
  entrySet(w, entry, target, 0, nd);
  return EntryUpdate.None;
}
