// The configuration cache (IHI 0070 3.21, 4.3): STEs by StreamID and the stream
// contexts built from them and their CDs, keyed by (StreamID, SubstreamID). Entries
// leave only through CMD_CFGI_* (and reset): a driver that edits an STE or CD in
// memory without invalidating keeps getting the old configuration, as on hardware.

import type { S1RamWalk } from '../vmsa/walker.js';
import type { WalkConfig } from '../vmsa/types.js';
import { CdConfig } from './cd.js';
import { TranslationEpoch } from './last-translation.js';
import { SteConfig, StreamWorld } from './ste.js';

/** What a stream context does with a transaction. */
export const enum ContextMode {
  /** STE.Config == 0b000: abort, no event. */
  Abort = 0,
  /** Stage 1 and stage 2 bypassed. */
  Bypass = 1,
  /** Stage 1 only. */
  S1 = 2,
  /** Stage 2 only (STE stage 1 disabled, or S1DSS bypass on a nested STE). */
  S2 = 3,
  /** Stage 1 then stage 2. */
  Nested = 4,
}

/** SubstreamID key for a transaction without a SubstreamID. */
export const NO_SSID_KEY = 0x100000;

/** Everything the translation path needs for one (StreamID, SubstreamID). */
export class StreamContext {
  sid = 0;
  ssidKey = NO_SSID_KEY;
  mode: ContextMode = ContextMode.Abort;
  world: StreamWorld = StreamWorld.NsEl1;
  /** CD index this context was built from (-1: none), for CMD_CFGI_CD. */
  cdIndex = -1;
  /** IOTLB tag (regime + VMID), ASID (-1 none) and slot hash. */
  tag = 0;
  asid = -1;
  hash = 0;
  readonly cd = new CdConfig();
  ste: SteConfig = new SteConfig();
  /** Stage 1 walks through TTB0 and TTB1 (the CD's, with `s2` set when nested) and stage 2 walk (the STE's). */
  s1Walk: WalkConfig = this.cd.walk;
  s1Walk1: WalkConfig = this.cd.walk1;
  s2Walk: WalkConfig = this.ste.s2Walk;
  /** Row of the stage 1 permission-mask table for this context: WXN, PAN and the EL2 StreamWorld. */
  permKey = 0;
  /**
   * The one-pass RAM walks of a stage-1-only context (4 KiB granule, tables in RAM), for
   * input addresses [0, fastSpan0) through TTB0 and [-fastSpan1, 0) through TTB1; a span
   * of 0 means that range always takes the general walk.
   */
  fast0: S1RamWalk | undefined;
  fast1: S1RamWalk | undefined;
  fastSpan0 = 0;
  fastSpan1 = 0;
  /** Stage 1 fault behaviour (CD.R/S with STE.S1STALLD) and stage 2 (STE.S2R/S2S). */
  s1Record = false;
  s1Stall = false;
  s2Record = false;
  s2Stall = false;
  /** STE.PRIVCFG/INSTCFG overrides: -1 incoming, 0/1 forced. */
  privOverride = -1;
  instOverride = -1;
}

class SidEntry {
  readonly ste = new SteConfig();
  readonly contexts = new Map<number, StreamContext>();
  constructor(readonly sid: number) {}
}

export class ConfigCache {
  private readonly sids = new Map<number, SidEntry>();
  /** One-entry front cache for the hot path. */
  private lastSid = -1;
  private lastKey = -1;
  private last: StreamContext | undefined;
  /** Fills since reset, for tests and the TUI. */
  fills = 0;

  /** Bumped by every fill and invalidation (the SMMU's last-translation caches follow it). */
  constructor(readonly epoch: TranslationEpoch = new TranslationEpoch()) {}

  /** The cached context for (sid, ssidKey), or undefined. */
  lookup(sid: number, ssidKey: number): StreamContext | undefined {
    if (sid === this.lastSid && ssidKey === this.lastKey) return this.last;
    const ctx = this.sids.get(sid)?.contexts.get(ssidKey);
    if (ctx !== undefined) {
      this.lastSid = sid;
      this.lastKey = ssidKey;
      this.last = ctx;
    }
    return ctx;
  }

  /** The cached STE of `sid` (filled by `steFor`), if any. */
  cachedSte(sid: number): SteConfig | undefined {
    return this.sids.get(sid)?.ste;
  }

  hasSte(sid: number): boolean {
    return this.sids.has(sid);
  }

  /** The STE slot of `sid`, creating the entry (the caller decodes into it). */
  steSlot(sid: number): SteConfig {
    let e = this.sids.get(sid);
    if (e === undefined) {
      e = new SidEntry(sid);
      this.sids.set(sid, e);
      this.epoch.value++;
    }
    return e.ste;
  }

  /** Forgets a half-built STE entry (decode failed). */
  dropSte(sid: number): void {
    this.sids.delete(sid);
    this.forgetFront();
  }

  insert(ctx: StreamContext): void {
    const e = this.sids.get(ctx.sid);
    if (e === undefined) return;
    e.contexts.set(ctx.ssidKey, ctx);
    this.epoch.value++;
    this.fills++;
  }

  /** CMD_CFGI_STE: the STE and every CD cached through it (4.3.1, 5.3.1). */
  invalidateSte(sid: number): void {
    this.sids.delete(sid);
    this.forgetFront();
  }

  /** CMD_CFGI_STE_RANGE: an aligned range of 2^(range+1) StreamIDs (4.3.2). */
  invalidateSteRange(sid: number, range: number): void {
    if (range >= 31) return this.invalidateAll();
    const span = 2 ** (range + 1);
    const first = sid - (sid % span);
    for (const s of [...this.sids.keys()]) if (s >= first && s < first + span) this.sids.delete(s);
    this.forgetFront();
  }

  /** CMD_CFGI_CD: the CD `ssid` located through `sid`'s STE (4.3.3). */
  invalidateCd(sid: number, ssid: number): void {
    const e = this.sids.get(sid);
    if (e === undefined) return;
    for (const [key, ctx] of [...e.contexts]) if (ctx.cdIndex === ssid) e.contexts.delete(key);
    this.forgetFront();
  }

  /** CMD_CFGI_CD_ALL: every CD of `sid` (4.3.4). */
  invalidateCdAll(sid: number): void {
    this.sids.get(sid)?.contexts.clear();
    this.forgetFront();
  }

  /** CMD_CFGI_ALL (4.3.6). */
  invalidateAll(): void {
    this.sids.clear();
    this.forgetFront();
  }

  private forgetFront(): void {
    this.epoch.value++;
    this.lastSid = -1;
    this.lastKey = -1;
    this.last = undefined;
  }

  /** Cached StreamIDs (tests, TUI). */
  get size(): number {
    return this.sids.size;
  }
}
