// The VMSAv8-64 translation-table walker shared by the CPU MMU and the SMMU
// (Arm ARM DDI 0487, chapter D8 "The AArch64 Virtual Memory System Architecture").
// Stage 1 and stage 2, 4K/16K/64K granules, 48-bit input and output addresses
// (no FEAT_LPA/LPA2, no FEAT_TTST, no hardware AF/dirty update, no FEAT_HPDS).
// Allocation-free: the caller owns the WalkResult; addresses are Numbers < 2^53.

import { CHUNK_SHIFT, type SparseRam } from '../bus/ram.js';
import { WalkFault, type AccessKind, type DescriptorReader, type WalkConfig, type WalkResult } from './types.js';

const TWO32 = 4294967296;
const TWO32_RECIPROCAL = 1 / TWO32;
const CHUNK_PAGE_SHIFT = CHUNK_SHIFT - 12;
const PAGES_PER_CHUNK = 1 << CHUNK_PAGE_SHIFT;
/** 2^n for n in [0, 64], so the hot loop never calls Math.pow. */
const POW2 = new Float64Array(65).map((_, i) => 2 ** i);

// Descriptor bits (D8.3 "Translation table descriptor formats"), low word.
const DESC_VALID = 1 << 0;
const DESC_TABLE = 1 << 1; // table (levels 0-2) or page (level 3); 0 = block
const DESC_AF = 1 << 10;
const DESC_NG = 1 << 11;
// High word (bit n of the descriptor is bit n-32 here).
const DESC_HI_OA_MASK = 0xffff; // OA[47:32]
const DESC_HI_DBM = 1 << (51 - 32);
const DESC_HI_PXN = 1 << (53 - 32);
const DESC_HI_UXN = 1 << (54 - 32);
const DESC_HI_PXNTABLE = 1 << (59 - 32);
const DESC_HI_UXNTABLE = 1 << (60 - 32);
const DESC_HI_APTABLE0 = 1 << (61 - 32); // no EL0 access below this table
const DESC_HI_APTABLE1 = 1 << (62 - 32); // no write access below this table

/** D8.2.6: TxSZ values outside [16, 39] are treated as the nearest limit (no FEAT_LVA, no FEAT_TTST). */
export const MIN_TXSZ = 16;
export const MAX_TXSZ = 39;

/** The largest output address this walker can produce: 48 bits (D8.3: OA[47:n] in the descriptor). */
export const MAX_OA_BITS = 48;

/**
 * Start level of a stage 1 walk (D8.2.6): enough levels to resolve an input of
 * `64 - tsz` bits, each level resolving `granuleShift - 3` bits.
 */
export function s1StartLevel(granuleShift: number, tsz: number): number {
  const ia = 64 - clampTsz(tsz);
  const stride = granuleShift - 3;
  return 4 - Math.ceil((ia - granuleShift) / stride);
}

/**
 * Start level of a stage 2 walk from VTCR.SL0 (D8.2.7, Table D8-12/13/14), or -1 when
 * SL0 is reserved for the granule or inconsistent with T0SZ (AArch64.S2InvalidSL /
 * AArch64.S2InconsistentSL: the start level must resolve 1 to stride+4 bits, i.e.
 * at most 16 concatenated tables).
 */
export function s2StartLevel(granuleShift: number, sl0: number, tsz: number): number {
  let start: number;
  if (granuleShift === 12) start = sl0 === 0 ? 2 : sl0 === 1 ? 1 : sl0 === 2 ? 0 : -1; // SL0=3 needs FEAT_TTST
  else start = sl0 === 0 ? 3 : sl0 === 1 ? 2 : sl0 === 2 ? 1 : -1; // 16K SL0=3 needs LPA2; 64K reserved
  if (start < 0) return -1;
  const stride = granuleShift - 3;
  const bits = 64 - clampTsz(tsz) - (granuleShift + (3 - start) * stride);
  return bits >= 1 && bits <= stride + 4 ? start : -1;
}

/** s1StartLevel by (granule, TxSZ): index ((granuleShift - 12) << 5) | (tsz - MIN_TXSZ). */
const S1_START = new Int8Array(5 << 5);
for (const g of [12, 14, 16]) for (let tsz = MIN_TXSZ; tsz <= MAX_TXSZ; tsz++) S1_START[((g - 12) << 5) | (tsz - MIN_TXSZ)] = s1StartLevel(g, tsz);

function clampTsz(tsz: number): number {
  return tsz < MIN_TXSZ ? MIN_TXSZ : tsz > MAX_TXSZ ? MAX_TXSZ : tsz;
}

/**
 * D8.3.1: block descriptors exist at level 1 and 2 for 4K, and at level 2 only for
 * 16K and 64K (level 0 for 4K/16K and level 1 for 64K need FEAT_LPA/LPA2).
 */
function blockAllowed(granuleShift: number, level: number): boolean {
  return granuleShift === 12 ? level === 1 || level === 2 : level === 2;
}

function fail(out: WalkResult, fault: WalkFault, level: number): void {
  out.fault = fault;
  out.level = level;
}

/**
 * Walks the translation tables for input address `va` (0 <= va < 2^(64-tsz); the
 * caller has already chosen TTBR0/TTBR1 and removed the upper bits) and fills `out`.
 * On return `out.fault` is None or the fault with `out.level` the lookup level that
 * raised it (level 0 for an input out of range or an invalid stage 2 start level,
 * as AArch64.S1Translate/S2Translate report them).
 */
export function walk(reader: DescriptorReader, cfg: WalkConfig, va: number, out: WalkResult, ram?: SparseRam): void {
  out.clear();
  out.stage = cfg.stage;
  const g = cfg.granuleShift;
  const stride = g - 3;
  const tsz = clampTsz(cfg.tsz);
  const ia = 64 - tsz;
  const stage1 = cfg.stage === 1;
  const start = stage1 ? S1_START[((g - 12) << 5) | (tsz - MIN_TXSZ)]! : s2StartLevel(g, cfg.sl0 ?? 0, tsz);
  // AArch64.S2InvalidSL / S2InconsistentSL / VAIsOutOfRange / IPAIsOutOfRange: level 0.
  if (start < 0 || !(va >= 0 && va < POW2[ia]!)) return fail(out, WalkFault.Translation, 0);

  const oasLimit = POW2[cfg.oasBits < MAX_OA_BITS ? cfg.oasBits : MAX_OA_BITS]!;
  // Bits resolved by the start level; more than `stride` means concatenated tables (stage 2).
  const startBits = ia - (g + (3 - start) * stride);
  // D8.2.4: TTBR.BADDR is aligned to the size of the start table; the low bits are RES0.
  let table = cfg.ttb - (cfg.ttb & (POW2[startBits + 3]! - 1));
  // AArch64.S1Walk/S2Walk: a base address beyond the output size is an Address size fault at level 0.
  if (table >= oasLimit) return fail(out, WalkFault.AddressSize, 0);

  const s2 = cfg.s2;
  // Direct reads: with `ram` given (and no nested stage 2), a table held in one RAM chunk is
  // read in place: `page` is its first 4 KiB page counted from the RAM base (-1: use the reader),
  // `pageOff` its byte offset in that page (a start table smaller than a page).
  const rb = ram !== undefined && s2 === undefined ? ram.directBasePage : -1;
  let page = -1;
  let pageOff = 0;
  if (rb >= 0 && startBits + 3 <= CHUNK_SHIFT) {
    const off = table - ram!.base;
    if (off >= 0 && off < ram!.size) {
      pageOff = off & 4095; // off < 2^53 and >= 0: the low 32 bits are exact
      page = (off - pageOff) / 4096;
    }
  }
  // The input address as 32-bit halves: index extraction stays in integer arithmetic.
  const vaLo = va >>> 0;
  const vaHi = (va / TWO32) >>> 0; // va < 2^48
  let level = start;
  let nbits = startBits;
  let shift = g + (3 - start) * stride;
  // APTable, PXNTable, UXNTable of the table descriptors on the way (D8.4.2), as high-word bits.
  let tableAttrs = 0;
  let lo = 0;
  let hi = 0;
  if (page >= 0) {
    // Tables in RAM: integer page arithmetic only, until a table lies elsewhere.
    const r = ram!;
    // Tables at or beyond this page are not RAM, or are beyond the output size.
    const pageLimit = Math.min(r.pages, oasLimit / 4096 - rb);
    let wordOff = pageOff >>> 2;
    let mask = (1 << nbits) - 1;
    for (;;) {
      const idx = (shift >= 32 ? vaHi >>> (shift - 32) : (vaLo >>> shift) | (vaHi << (32 - shift))) & mask;
      const w = r.wordsOfPage(page);
      if (w === undefined) {
        lo = 0; // untouched RAM reads as zero
        hi = 0;
      } else {
        const i = ((page & (PAGES_PER_CHUNK - 1)) << 10) + wordOff + idx * 2;
        lo = w[i]!;
        hi = w[i + 1]!;
      }
      if ((lo & DESC_VALID) === 0 || level === 3 || (lo & DESC_TABLE) === 0) {
        out.reads = level - start + 1;
        out.descriptorPa = (rb + page) * 4096 + wordOff * 4 + idx * 8;
        if ((lo & DESC_VALID) === 0) return fail(out, WalkFault.Translation, level);
        break;
      }
      const oaHi = hi & DESC_HI_OA_MASK;
      const next = ((oaHi << 20) | ((lo >>> g) << (g - 12))) - rb;
      tableAttrs |= hi;
      if (oaHi >= 2048 || next < 0 || next >= pageLimit) {
        // The next table is not RAM (or is beyond the output size): the general loop goes on from here.
        out.reads = level - start + 1;
        out.descriptorPa = (rb + page) * 4096 + wordOff * 4 + idx * 8;
        table = oaHi * TWO32 + (lo >>> g) * POW2[g]!;
        if (table >= oasLimit) return fail(out, WalkFault.AddressSize, level);
        level++;
        shift -= stride;
        nbits = stride;
        page = -1;
        break;
      }
      page = next;
      wordOff = 0;
      level++;
      shift -= stride;
      mask = (1 << stride) - 1;
    }
  }
  if (page < 0) {
    for (;;) {
      const idx = (shift >= 32 ? vaHi >>> (shift - 32) : (vaLo >>> shift) | (vaHi << (32 - shift))) & ((1 << nbits) - 1);
      let descPa = table + idx * 8;
      if (s2 !== undefined) {
        // Nested: the table address is an IPA; a stage 2 fault on it ends the walk.
        descPa = s2.translateTableAddress(descPa, out);
        if (descPa < 0) {
          out.s2Fault = true;
          if (out.fault === WalkFault.None) out.fault = WalkFault.Translation;
          return;
        }
      }
      lo = reader.readDescriptor(descPa);
      hi = reader.hi;
      out.reads++;
      out.descriptorPa = descPa;
      if (reader.error) return fail(out, WalkFault.ExternalAbort, level);
      if ((lo & DESC_VALID) === 0) return fail(out, WalkFault.Translation, level);
      if (level === 3 || (lo & DESC_TABLE) === 0) break;
      // Table descriptor: next-level table address is OA[47:g].
      table = (hi & DESC_HI_OA_MASK) * TWO32 + (lo >>> g) * POW2[g]!;
      if (table >= oasLimit) return fail(out, WalkFault.AddressSize, level);
      tableAttrs |= hi;
      level++;
      shift -= stride;
      nbits = stride;
    }
  }
  // Leaf: a page at level 3 (bits[1:0] = 0b11; 0b01 is reserved there) or a block.
  if (level === 3 ? (lo & DESC_TABLE) === 0 : !blockAllowed(g, level)) return fail(out, WalkFault.Translation, level);
  const oa = (hi & DESC_HI_OA_MASK) * TWO32 + (lo >>> shift) * POW2[shift]!;
  if (oa >= oasLimit) return fail(out, WalkFault.AddressSize, level);
  out.level = level;
  out.sizeShift = shift;
  out.pa = oa + ((vaLo & ((1 << shift) - 1)) >>> 0);
  out.af = (lo & DESC_AF) !== 0 || cfg.affd === true;
  if (stage1) {
    let ap = (lo >>> 6) & 3;
    if ((tableAttrs & DESC_HI_APTABLE0) !== 0) ap &= ~1;
    if ((tableAttrs & DESC_HI_APTABLE1) !== 0) ap |= 2;
    out.ap = ap;
    out.uxn = (tableAttrs & DESC_HI_UXNTABLE) !== 0 || (hi & DESC_HI_UXN) !== 0;
    out.pxn = (tableAttrs & DESC_HI_PXNTABLE) !== 0 || (hi & DESC_HI_PXN) !== 0;
    out.ng = (lo & DESC_NG) !== 0;
    out.attrIndx = (lo >>> 2) & 7;
  } else {
    out.s2ap = (lo >>> 6) & 3;
    out.s2xn = (hi >>> (53 - 32)) & 3;
    out.attrIndx = (lo >>> 2) & 15; // MemAttr[3:0]
  }
  out.sw = (hi >>> (55 - 32)) & 15;
  out.dbm = (hi & DESC_HI_DBM) !== 0;
  // D8.5.1: no hardware Access flag update; AF=0 faults unless AFFD (SMMU) says otherwise.
  if (!out.af) return fail(out, WalkFault.AccessFlag, level);
}

export interface PermissionOptions {
  /** SCTLR.WXN: writable memory is execute-never. */
  readonly wxn?: boolean;
  /** PSTATE.PAN: privileged data accesses to EL0-accessible memory fault. */
  readonly pan?: boolean;
}

const NO_OPTIONS: PermissionOptions = Object.freeze({});

/**
 * Checks `access` against the leaf permissions in `out` (a successful walk). Returns
 * true when allowed; otherwise sets `out.fault = Permission` (at `out.level`) and
 * returns false.
 * Stage 1 (D8.4.1, Table D8-45 "Data access permissions"): AP[2] = read-only,
 * AP[1] = EL0 access; UXN/PXN, with EL0-writable memory always PXN and WXN making
 * any writable memory XN; PAN forbids privileged data accesses to EL0-accessible
 * memory (D8.4.3). Stage 2 (D8.4.1.2): S2AP[0] read, S2AP[1] write, XN[1:0] as
 * FEAT_XNX defines (0 exec, 1 not at EL1, 2 never, 3 not at EL0).
 */
export function checkPermission(out: WalkResult, access: AccessKind, opts: PermissionOptions = NO_OPTIONS): boolean {
  let ok: boolean;
  if (out.stage === 2) {
    if (access.exec) {
      const xn = out.s2xn;
      ok = access.priv ? xn === 0 || xn === 3 : xn === 0 || xn === 1;
    } else {
      ok = (out.s2ap & (access.write ? 2 : 1)) !== 0;
    }
  } else {
    const ap = out.ap;
    const writableEl0 = ap === 1;
    const writable = (ap & 2) === 0;
    if (access.exec) {
      if (access.priv) ok = !out.pxn && !writableEl0;
      else ok = !out.uxn;
      if (opts.wxn === true && writable) ok = false;
    } else if (access.priv) {
      ok = !(opts.pan === true && (ap & 1) !== 0) && (!access.write || writable);
    } else {
      ok = (ap & 1) !== 0 && (!access.write || writable);
    }
  }
  if (!ok) out.fault = WalkFault.Permission;
  return ok;
}

/** Entries of an S1RamWalk's walk cache (direct-mapped by VA[26:21]). */
export const WALK_CACHE_SIZE = 64;
const WALK_CACHE_MASK = WALK_CACHE_SIZE - 1;
const TWO21_RECIPROCAL = 2 ** -21;

/**
 * The common stage 1 walk, set up once per translation regime: 4 KiB granule, the
 * start table in RAM (`ram.directBasePage >= 0`), no nested stage 2. `walk` follows
 * RAM-resident tables to a leaf and succeeds, or gives up; `configure` does the part
 * that depends only on the regime (start level, TTB alignment and output-size checks).
 *
 * Walk cache: the walk keeps the table descriptors it followed down to each level 3
 * table, per 2 MiB of input address (the level 2 entry and what the levels above it
 * contributed: the table's address and the APTable/XNTable bits), as Arm cores do
 * (DDI 0487 D8.16 "Translation Lookaside Buffers": a TLB may hold intermediate table
 * entries of a walk, never an entry that faulted). A walk whose 2 MiB region is cached
 * reads the level 3 descriptor only. The owner invalidates it exactly as the
 * architecture does (D8.17 "TLB maintenance"): everything on a new regime (`configure`:
 * TTBR, ASID, TCR or SCTLR written) and on TLBI VMALLE1 or ASIDE1 (`flushWalkCache`);
 * the regions a TLBI by VA or by range reaches when it is not a last-level form
 * (`invalidateWalkCache`); VALE1/VAALE1/RVALE1 leave it, as the architecture allows.
 * A guest that changes a table descriptor without the TLBI the architecture asks for
 * may therefore keep using the old table, as on hardware. Modelled time is that of the
 * full walk (`out.reads` counts every level): the cost model has no walk-cache term.
 */
export class S1RamWalk {
  /** The start table's first page counted from the RAM base, or -1: this regime is not covered. */
  private rootPage = -1;
  /** Word offset of the start table in its page (a start table smaller than a page). */
  private rootWord = 0;
  private start = 0;
  private startMask = 0;
  private oasLimit = 0;
  /** Tables at or beyond this page (from the RAM base) are not RAM, or are beyond the output size. */
  private pageLimit = 0;
  /** Walk cache: input address / 2 MiB of each entry (-1: none). */
  private readonly wcRegion = new Int32Array(WALK_CACHE_SIZE).fill(-1);
  /** The level 3 table of each entry: its page counted from the RAM base. */
  private readonly wcPage = new Int32Array(WALK_CACHE_SIZE);
  /** The high words of the table descriptors above it, ORed (APTable, UXNTable, PXNTable). */
  private readonly wcAttrs = new Int32Array(WALK_CACHE_SIZE);

  /**
   * `walkCache` false: every walk starts at the start table (an owner whose invalidation
   * commands do not reach this cache, e.g. the SMMU, whose TLBI commands invalidate its IOTLB only).
   */
  constructor(
    private readonly ram: SparseRam,
    private readonly walkCache = true,
  ) {}

  /** Sets the walk up for `cfg` (a stage 1 regime) and empties the walk cache; call again whenever `cfg` changes. */
  configure(cfg: WalkConfig): void {
    this.rootPage = -1;
    this.flushWalkCache();
    const ram = this.ram;
    const rb = ram.directBasePage;
    if (cfg.granuleShift !== 12 || cfg.stage !== 1 || cfg.s2 !== undefined || rb < 0) return;
    const tsz = clampTsz(cfg.tsz);
    const start = S1_START[tsz - MIN_TXSZ]!;
    const startBits = 64 - tsz - (12 + (3 - start) * 9);
    const table = cfg.ttb - (cfg.ttb & (POW2[startBits + 3]! - 1));
    const oasLimit = POW2[cfg.oasBits < MAX_OA_BITS ? cfg.oasBits : MAX_OA_BITS]!;
    const off = table - ram.base;
    // A base beyond the output size faults (AArch64.S1Walk); a base outside RAM is read through the bus.
    if (table >= oasLimit || !(off >= 0 && off < ram.size)) return;
    this.start = start;
    this.startMask = (1 << startBits) - 1;
    this.oasLimit = oasLimit;
    // Page numbers are below 2^31 (RAM is smaller than 8 TiB): stored as int32 values, they
    // keep these fields (and the walk's page arithmetic) out of floating point.
    this.pageLimit = Math.min(ram.pages, oasLimit / 4096 - rb) | 0;
    this.rootWord = (off & 4095) >>> 2;
    this.rootPage = Math.floor(off / 4096) | 0;
  }

  /**
   * Walks input address `va` (0 <= va < 2^(64-TxSZ), as for `walk`). Returns true with
   * the stage 1 fields of `out` exactly as `walk` sets them (the stage 2 fields are left
   * as they were) when every table and the leaf are RAM-resident and the walk succeeds.
   * Otherwise returns false, and `out.fault` says why: Translation when the walk read an
   * invalid descriptor in RAM (`out.level`, `out.reads` and `out.descriptorPa` then are
   * what `walk` reports for it), None when the caller must walk with `walk` (the other
   * fields of `out` unspecified). Reads only: a false return leaves no trace anywhere.
   */
  walk(va: number, out: WalkResult): boolean {
    let page = this.rootPage;
    if (page < 0) return this.decline(out);
    const ram = this.ram;
    const rb = ram.directBasePage;
    const pageLimit = this.pageLimit;
    const start = this.start;
    const vaLo = va >>> 0;
    const vaHi = (va * TWO32_RECIPROCAL) >>> 0; // exact: a power-of-two scale of va < 2^48
    let region = 0;
    let ws = -1; // walk-cache slot of this VA's 2 MiB region, -1 without a walk cache
    let wordOff: number;
    let level: number;
    let shift: number;
    let mask: number;
    let tableAttrs: number;
    if (this.walkCache) {
      region = (vaHi << 11) | (vaLo >>> 21); // VA[47:21] < 2^27
      ws = region & WALK_CACHE_MASK;
    }
    if (ws >= 0 && this.wcRegion[ws] === region) {
      // The walk cache holds this region's level 3 table: read its descriptor only.
      page = this.wcPage[ws]!;
      tableAttrs = this.wcAttrs[ws]!;
      wordOff = 0;
      level = 3;
      shift = 12;
      mask = 511;
    } else {
      wordOff = this.rootWord;
      level = start;
      shift = 12 + (3 - start) * 9;
      mask = this.startMask;
      tableAttrs = 0;
    }
    let lo = 0;
    let hi = 0;
    let descWord = 0;
    // The chunk of the table being read, looked up again only when a table lies in another chunk.
    let chunk = page >>> CHUNK_PAGE_SHIFT;
    let w = ram.wordsOfPage(page);
    for (;;) {
      // Both arms int32 (vaHi < 2^16): a phi of uint32 and int32 would be carried as a double.
      const idx = (shift >= 32 ? vaHi >> (shift - 32) : (vaLo >>> shift) | (vaHi << (32 - shift))) & mask;
      descWord = wordOff + idx * 2;
      if (w === undefined) {
        lo = 0; // untouched RAM reads as zero: an invalid descriptor
        hi = 0;
      } else {
        const i = ((page & (PAGES_PER_CHUNK - 1)) << 10) + descWord;
        lo = w[i]!;
        hi = w[i + 1]!;
      }
      if ((lo & DESC_VALID) === 0) {
        out.fault = WalkFault.Translation;
        out.level = level;
        out.reads = level - start + 1;
        out.descriptorPa = (rb + page) * 4096 + descWord * 4;
        return false;
      }
      if (level === 3 || (lo & DESC_TABLE) === 0) break;
      const oaHi = hi & DESC_HI_OA_MASK;
      const next = ((oaHi << 20) | (lo >>> 12)) - rb;
      if (oaHi >= 2048 || next < 0 || next >= pageLimit) return this.decline(out);
      tableAttrs |= hi;
      if (level === 2 && ws >= 0) {
        this.wcRegion[ws] = region;
        this.wcPage[ws] = next;
        this.wcAttrs[ws] = tableAttrs;
      }
      page = next;
      if (next >>> CHUNK_PAGE_SHIFT !== chunk) {
        chunk = next >>> CHUNK_PAGE_SHIFT;
        w = ram.wordsOfPage(next);
      }
      wordOff = 0;
      level++;
      shift -= 9;
      mask = 511;
    }
    // A page at level 3, a block at level 1 or 2 (D8.3.1), with AF set (no hardware AF update).
    if ((level === 3 ? (lo & DESC_TABLE) === 0 : level === 0) || (lo & DESC_AF) === 0) return this.decline(out);
    const oa = (hi & DESC_HI_OA_MASK) * TWO32 + (lo >>> shift) * POW2[shift]!;
    if (oa >= this.oasLimit) return this.decline(out);
    out.fault = WalkFault.None;
    out.stage = 1;
    out.level = level;
    out.sizeShift = shift;
    out.pa = oa + ((vaLo & ((1 << shift) - 1)) >>> 0);
    out.descriptorPa = (rb + page) * 4096 + descWord * 4;
    out.reads = level - start + 1;
    let ap = (lo >>> 6) & 3;
    if ((tableAttrs & DESC_HI_APTABLE0) !== 0) ap &= ~1;
    if ((tableAttrs & DESC_HI_APTABLE1) !== 0) ap |= 2;
    out.ap = ap;
    out.uxn = ((tableAttrs & DESC_HI_UXNTABLE) | (hi & DESC_HI_UXN)) !== 0;
    out.pxn = ((tableAttrs & DESC_HI_PXNTABLE) | (hi & DESC_HI_PXN)) !== 0;
    out.ng = (lo & DESC_NG) !== 0;
    out.af = true;
    out.attrIndx = (lo >>> 2) & 7;
    out.sw = (hi >>> (55 - 32)) & 15;
    out.dbm = (hi & DESC_HI_DBM) !== 0;
    return true;
  }

  /** Empties the walk cache (TLBI VMALLE1, ASIDE1; a new regime). */
  flushWalkCache(): void {
    this.wcRegion.fill(-1);
  }

  /**
   * TLBI by VA or by range, not last level: drops the walk-cache entries used to translate
   * an input address in [base, base + bytes) (addresses as `walk` takes them).
   */
  invalidateWalkCache(base: number, bytes: number): void {
    const end = base + bytes;
    if (!(end > 0 && base < 2 ** 48)) return;
    const first = Math.floor((base > 0 ? base : 0) * TWO21_RECIPROCAL);
    const last = Math.floor((end - 1) * TWO21_RECIPROCAL);
    const r = this.wcRegion;
    if (last - first >= WALK_CACHE_SIZE) {
      for (let s = 0; s < WALK_CACHE_SIZE; s++) if (r[s]! >= first && r[s]! <= last) r[s] = -1;
      return;
    }
    for (let region = first; region <= last; region++) {
      const s = region & WALK_CACHE_MASK;
      if (r[s] === region) r[s] = -1;
    }
  }

  /** Valid walk-cache entries (tests). */
  get walkCacheCount(): number {
    let n = 0;
    for (let s = 0; s < WALK_CACHE_SIZE; s++) if (this.wcRegion[s]! >= 0) n++;
    return n;
  }

  /** A walk this class leaves to `walk`. */
  private decline(out: WalkResult): false {
    out.fault = WalkFault.None;
    return false;
  }
}
