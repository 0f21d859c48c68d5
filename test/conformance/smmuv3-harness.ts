// Bare-metal test bench for the SMMUv3 conformance tests: a machine, the SMMU mapped at
// its DESIGN.md address, a DMA port as the device, and a tiny "driver" that builds
// stream tables, CDs, page tables and commands in RAM. Encodings here are written
// from the Linux arm-smmu-v3.h field positions (shared/reference/smmuv3.md), not from
// the model's own field tables, so the tests cross-check the model.

import { MachineCore } from '../../src/machine/machine.js';
import { DmaPort, DmaStatus, type DmaAttrs } from '../../src/hw/bus/dma.js';
import { SmmuV3 } from '../../src/hw/smmuv3/smmuv3.js';

export const SMMU = 0x0905_0000;
export const P1 = SMMU + 0x10000;
export const RAM = 0x4000_0000;

// Register offsets (arm-smmu-v3.h).
export const R = {
  IDR0: 0x00, IDR1: 0x04, IDR3: 0x0c, IDR5: 0x14, IIDR: 0x18, AIDR: 0x1c,
  CR0: 0x20, CR0ACK: 0x24, CR1: 0x28, CR2: 0x2c, STATUSR: 0x40, GBPA: 0x44,
  IRQ_CTRL: 0x50, IRQ_CTRLACK: 0x54, GERROR: 0x60, GERRORN: 0x64,
  GERROR_IRQ_CFG0: 0x68, GERROR_IRQ_CFG1: 0x70, GERROR_IRQ_CFG2: 0x74,
  STRTAB_BASE: 0x80, STRTAB_BASE_CFG: 0x88,
  CMDQ_BASE: 0x90, CMDQ_PROD: 0x98, CMDQ_CONS: 0x9c,
  EVTQ_BASE: 0xa0, EVTQ_IRQ_CFG0: 0xb0, EVTQ_IRQ_CFG1: 0xb8, EVTQ_IRQ_CFG2: 0xbc,
  PRIQ_BASE: 0xc0, PRIQ_IRQ_CFG0: 0xd0, PRIQ_IRQ_CFG1: 0xd8, PRIQ_IRQ_CFG2: 0xdc,
  EVTQ_PROD: 0x100a8, EVTQ_CONS: 0x100ac, PRIQ_PROD: 0x100c8, PRIQ_CONS: 0x100cc,
} as const;

export const CR0_SMMUEN = 1, CR0_PRIQEN = 2, CR0_EVTQEN = 4, CR0_CMDQEN = 8;
export const GERROR_CMDQ_ERR = 1, GERROR_EVTQ_ABT = 4, GERROR_PRIQ_ABT = 8, GERROR_MSI_CMDQ_ABT = 16, GERROR_MSI_EVTQ_ABT = 32;

const b = BigInt;
const bits = (v: number | bigint, lsb: number) => b(v) << b(lsb);

/** Bump allocator over guest RAM (above the first 16 MiB, left to the tests' data). */
export class Alloc {
  private next = RAM + 0x0100_0000;
  take(size: number, align = 4096): number {
    this.next = Math.ceil(this.next / align) * align;
    const at = this.next;
    this.next += size;
    return at;
  }
}

export interface Rig {
  m: MachineCore;
  smmu: SmmuV3;
  port: DmaPort;
  mem: Alloc;
  irqs: { eventq: number; priq: number; cmdqSync: number; gerror: number; sev: number };
  stallEnds: boolean[];
  pageResponses: { prg: number; code: number; ssid: number; ssv: boolean }[];
}

export function makeRig(sid = 0x10): Rig {
  // The SMMU alone on a bus (no board), so the rig owns its interrupt lines.
  const m = new MachineCore({ ramSize: 256 * 1024 * 1024, trace: true, traceCapacity: 1 << 14 });
  const irqs = { eventq: 0, priq: 0, cmdqSync: 0, gerror: 0, sev: 0 };
  const line = (k: 'eventq' | 'priq' | 'cmdqSync' | 'gerror') => ({ set() {}, pulse: () => void irqs[k]++ });
  const smmu = new SmmuV3(m, { eventq: line('eventq'), priq: line('priq'), cmdqSync: line('cmdqSync'), gerror: line('gerror'), sev: () => void irqs.sev++ }).mapOn(m.bus, SMMU);
  const port = new DmaPort(m.bus, 'testdev', sid);
  const stallEnds: boolean[] = [];
  const pageResponses: Rig['pageResponses'] = [];
  port.onStallEnd = (retry) => void stallEnds.push(retry);
  port.onPageResponse = (prg, code, ssid, ssv) => void pageResponses.push({ prg, code, ssid, ssv });
  smmu.attach(port);
  return { m, smmu, port, mem: new Alloc(), irqs, stallEnds, pageResponses };
}

// ---- register access through the bus only ----

export const r32 = (rig: Rig, off: number) => rig.m.bus.read32(SMMU + off);
export const w32 = (rig: Rig, off: number, v: number) => rig.m.bus.write32(SMMU + off, v >>> 0);
export const r64 = (rig: Rig, off: number) => rig.m.bus.read64(SMMU + off);
export const w64 = (rig: Rig, off: number, v: bigint | number) => rig.m.bus.write64(SMMU + off, v);

// ---- queues ----

export interface Queues {
  cmdq: number;
  cmdqLog2: number;
  evtq: number;
  evtqLog2: number;
  priq: number;
  priqLog2: number;
  strtab: number;
}

/** Builds a linear stream table of 2^log2 STEs (all zero = invalid). */
export function linearStrtab(rig: Rig, log2: number): number {
  return rig.mem.take(64 << log2, Math.max(64 << log2, 64));
}

/**
 * The Linux reset sequence (arm_smmu_device_reset, shared/reference/smmuv3.md):
 * GBPA, CR0=0/ack, CR1, CR2, STRTAB, CMDQ + CMDQEN, CFGI_ALL+SYNC, TLBI_EL2_ALL+SYNC,
 * TLBI_NSNH_ALL+SYNC, EVTQ + EVTQEN, PRIQ + PRIQEN, IRQ_CTRL=0/ack then enable/ack, SMMUEN.
 */
export function bringUp(rig: Rig, opts: { strtabBase?: bigint; strtabCfg?: number; log2?: number; evtqLog2?: number; priqLog2?: number; irq?: boolean } = {}): Queues {
  const { mem } = rig;
  const log2 = opts.log2 ?? 8;
  const evtqLog2 = opts.evtqLog2 ?? 6;
  const priqLog2 = opts.priqLog2 ?? 6;
  const strtab = opts.strtabBase === undefined ? linearStrtab(rig, log2) : 0;
  const cmdq = mem.take(16 << 8, 16 << 8);
  const evtq = mem.take(32 << evtqLog2, 32 << evtqLog2);
  const priq = mem.take(16 << priqLog2, 16 << priqLog2);
  // 1. GBPA: abort incoming traffic while the SMMU is reconfigured, wait for Update to clear.
  w32(rig, R.GBPA, (1 << 31) | (1 << 20));
  if ((r32(rig, R.GBPA) >>> 31) !== 0) throw new Error('GBPA.Update stuck');
  // 2. CR0 = 0, poll ack.
  w32(rig, R.CR0, 0);
  if (r32(rig, R.CR0ACK) !== 0) throw new Error('CR0ACK');
  // 3. CR1 (ISH, WB for queues and tables), CR2 (PTM | RECINVSID).
  w32(rig, R.CR1, (3 << 10) | (1 << 8) | (1 << 6) | (3 << 4) | (1 << 2) | 1);
  w32(rig, R.CR2, (1 << 2) | (1 << 1));
  // 4. Stream table.
  w64(rig, R.STRTAB_BASE, opts.strtabBase ?? (bits(1, 62) | b(strtab)));
  w32(rig, R.STRTAB_BASE_CFG, opts.strtabCfg ?? log2);
  // 5. Command queue.
  w64(rig, R.CMDQ_BASE, bits(1, 62) | b(cmdq) | 8n);
  w32(rig, R.CMDQ_PROD, 0);
  w32(rig, R.CMDQ_CONS, 0);
  w32(rig, R.CR0, CR0_CMDQEN);
  if (r32(rig, R.CR0ACK) !== CR0_CMDQEN) throw new Error('CR0ACK CMDQEN');
  // 6. Invalidate everything.
  cmd(rig, cfgiAll(), sync());
  cmd(rig, tlbiEl2All(), sync());
  cmd(rig, tlbiNsnhAll(), sync());
  // 7. Event queue.
  w64(rig, R.EVTQ_BASE, bits(1, 62) | b(evtq) | b(evtqLog2));
  w32(rig, R.EVTQ_PROD, 0);
  w32(rig, R.EVTQ_CONS, 0);
  w32(rig, R.CR0, CR0_CMDQEN | CR0_EVTQEN);
  // 8. PRI queue.
  w64(rig, R.PRIQ_BASE, bits(1, 62) | b(priq) | b(priqLog2));
  w32(rig, R.PRIQ_PROD, 0);
  w32(rig, R.PRIQ_CONS, 0);
  w32(rig, R.CR0, CR0_CMDQEN | CR0_EVTQEN | CR0_PRIQEN);
  // 9. IRQs.
  w32(rig, R.IRQ_CTRL, 0);
  if (r32(rig, R.IRQ_CTRLACK) !== 0) throw new Error('IRQ_CTRLACK');
  if (opts.irq !== false) {
    w32(rig, R.IRQ_CTRL, 7);
    if (r32(rig, R.IRQ_CTRLACK) !== 7) throw new Error('IRQ_CTRLACK 7');
  }
  // 10. Enable translation.
  w32(rig, R.CR0, CR0_CMDQEN | CR0_EVTQEN | CR0_PRIQEN | CR0_SMMUEN);
  if (r32(rig, R.CR0ACK) !== 0xf) throw new Error('CR0ACK SMMUEN');
  return { cmdq, cmdqLog2: 8, evtq, evtqLog2, priq, priqLog2, strtab };
}

// ---- commands (CMDQ_* field positions of arm-smmu-v3.h) ----

export type Cmd = [bigint, bigint];
export const sync = (cs = 0, msiAddr = 0, msiData = 0): Cmd => [0x46n | bits(cs, 12) | bits(msiData >>> 0, 32), b(msiAddr) & 0x000f_ffff_ffff_fffcn];
export const cfgiAll = (): Cmd => [0x04n, 31n];
export const cfgiSte = (sid: number, leaf = true): Cmd => [0x03n | bits(sid, 32), leaf ? 1n : 0n];
export const cfgiSteRange = (sid: number, range: number): Cmd => [0x04n | bits(sid, 32), b(range)];
export const cfgiCd = (sid: number, ssid: number, leaf = true): Cmd => [0x05n | bits(ssid, 12) | bits(sid, 32), leaf ? 1n : 0n];
export const cfgiCdAll = (sid: number): Cmd => [0x06n | bits(sid, 32), 0n];
export const tlbiNhAll = (vmid = 0): Cmd => [0x10n | bits(vmid, 32), 0n];
export const tlbiNhAsid = (asid: number, vmid = 0): Cmd => [0x11n | bits(vmid, 32) | bits(asid, 48), 0n];
export const tlbiEl2All = (): Cmd => [0x20n, 0n];
export const tlbiS12Vmall = (vmid: number): Cmd => [0x28n | bits(vmid, 32), 0n];
export const tlbiNsnhAll = (): Cmd => [0x30n, 0n];
/** TLBI_NH_VA / NH_VAA / S2_IPA / EL2_VA with the range fields (NUM, SCALE, TG, TTL, LEAF). */
export function tlbiVa(op: 0x12 | 0x13 | 0x22 | 0x23 | 0x2a, addr: number, o: { asid?: number; vmid?: number; num?: number; scale?: number; tg?: number; ttl?: number; leaf?: boolean } = {}): Cmd {
  const d0 = b(op) | bits(o.num ?? 0, 12) | bits(o.scale ?? 0, 20) | bits(o.vmid ?? 0, 32) | bits(o.asid ?? 0, 48);
  const d1 = (o.leaf ? 1n : 0n) | bits(o.ttl ?? 0, 8) | bits(o.tg ?? 0, 10) | (b(addr) & ~0xfffn);
  return [d0, d1];
}
export const resume = (sid: number, stag: number, retry: boolean): Cmd => [0x44n | bits(retry ? 1 : 2, 12) | bits(sid, 32), b(stag)];
export const stallTerm = (sid: number): Cmd => [0x45n | bits(sid, 32), 0n];
export const priResp = (sid: number, grpid: number, resp: number, ssid?: number): Cmd => [
  0x41n | (ssid !== undefined ? (1n << 11n) | bits(ssid, 12) : 0n) | bits(sid, 32),
  b(grpid) | bits(resp, 12),
];
export const prefetchCfg = (sid: number): Cmd => [0x01n | bits(sid, 32), 0n];
export const prefetchAddr = (sid: number, addr: number, size = 0): Cmd => [0x02n | bits(sid, 32), (b(addr) & ~0xfffn) | b(size & 31)];

/** Writes commands at CMDQ_PROD, publishes them, and runs the machine until idle. */
export function cmd(rig: Rig, ...cmds: Cmd[]): void {
  submit(rig, ...cmds);
  rig.m.run({ untilIdle: true });
}

/** Writes commands and moves PROD without running the clock. */
export function submit(rig: Rig, ...cmds: Cmd[]): void {
  const base = Number(r64(rig, R.CMDQ_BASE) & 0x00ff_ffff_ffff_ffe0n);
  const log2 = Number(r64(rig, R.CMDQ_BASE) & 0x1fn);
  let prod = r32(rig, R.CMDQ_PROD);
  for (const [d0, d1] of cmds) {
    const idx = prod & ((1 << log2) - 1);
    rig.m.bus.write64(base + idx * 16, d0);
    rig.m.bus.write64(base + idx * 16 + 8, d1);
    prod = (prod + 1) & ((2 << log2) - 1);
  }
  w32(rig, R.CMDQ_PROD, prod);
}

// ---- STE / CD (STRTAB_STE_* / CTXDESC_CD_* of arm-smmu-v3.h) ----

export interface SteOpts {
  cfg: number; // 0 abort, 4 bypass, 5 S1, 6 S2, 7 nested
  ctxPtr?: number;
  cdMax?: number;
  s1Fmt?: number;
  s1dss?: number;
  s1stalld?: boolean;
  strw?: number;
  vmid?: number;
  s2?: { t0sz: number; sl0: number; tg?: number; ps?: number; ttb: number; affd?: boolean; s?: boolean; r?: boolean; ptw?: boolean; aa64?: boolean };
  valid?: boolean;
}

export function steWords(o: SteOpts): bigint[] {
  const d = [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n];
  d[0] = (o.valid === false ? 0n : 1n) | bits(o.cfg, 1) | bits(o.s1Fmt ?? 0, 4) | (b(o.ctxPtr ?? 0) & 0x00ff_ffff_ffff_ffc0n) | bits(o.cdMax ?? 0, 59);
  d[1] = bits(o.s1dss ?? 0, 0) | bits(1, 2) | bits(1, 4) | bits(3, 6) | (o.s1stalld ? 1n << 27n : 0n) | bits(o.strw ?? 0, 30);
  if (o.s2) {
    const s = o.s2;
    const vtcr = b(s.t0sz) | bits(s.sl0, 6) | bits(1, 8) | bits(1, 10) | bits(3, 12) | bits(s.tg ?? 0, 14) | bits(s.ps ?? 5, 16);
    d[2] =
      bits(o.vmid ?? 0, 0) |
      (vtcr << 32n) |
      (s.aa64 === false ? 0n : 1n << 51n) |
      (s.affd ? 1n << 53n : 0n) |
      (s.ptw ? 1n << 54n : 0n) |
      (s.s ? 1n << 57n : 0n) |
      (s.r ? 1n << 58n : 0n);
    d[3] = b(s.ttb) & 0x000f_ffff_ffff_fff0n;
  } else {
    d[2] = bits(o.vmid ?? 0, 0);
  }
  return d;
}

export function writeSte(rig: Rig, at: number, o: SteOpts): void {
  steWords(o).forEach((w, i) => rig.m.bus.write64(at + i * 8, w));
}

export interface CdOpts {
  t0sz?: number;
  tg0?: number;
  ttb0: number;
  /** TTB1 range (EPD1 is set unless `epd1: false`): T1SZ, TG1 (CD encoding: 2 = 4K), TTB1. */
  t1sz?: number;
  tg1?: number;
  ttb1?: number;
  tbi0?: boolean;
  tbi1?: boolean;
  wxn?: boolean;
  pan?: boolean;
  asid?: number;
  ips?: number;
  epd0?: boolean;
  epd1?: boolean;
  affd?: boolean;
  r?: boolean;
  a?: boolean;
  s?: boolean;
  aa64?: boolean;
  valid?: boolean;
  endi?: boolean;
  mair?: bigint;
}

export function cdWords(o: CdOpts): bigint[] {
  const d = [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n];
  d[0] =
    b(o.t0sz ?? 16) |
    bits(o.tg0 ?? 0, 6) |
    bits(1, 8) |
    bits(1, 10) |
    bits(3, 12) |
    (o.epd0 ? 1n << 14n : 0n) |
    (o.endi ? 1n << 15n : 0n) |
    bits(o.t1sz ?? 16, 16) |
    bits(o.tg1 ?? 2, 22) |
    bits(1, 24) |
    bits(1, 26) |
    bits(3, 28) |
    (o.epd1 === false ? 0n : 1n << 30n) |
    (o.valid === false ? 0n : 1n << 31n) |
    bits(o.ips ?? 5, 32) |
    (o.affd ? 1n << 35n : 0n) |
    (o.wxn ? 1n << 36n : 0n) |
    (o.tbi0 ? 1n << 38n : 0n) |
    (o.tbi1 ? 1n << 39n : 0n) |
    (o.pan ? 1n << 40n : 0n) |
    (o.aa64 === false ? 0n : 1n << 41n) |
    (o.s ? 1n << 44n : 0n) |
    (o.r === false ? 0n : 1n << 45n) |
    (o.a === false ? 0n : 1n << 46n) |
    (1n << 47n) |
    bits(o.asid ?? 0, 48);
  d[1] = b(o.ttb0) & 0x000f_ffff_ffff_fff0n;
  d[2] = b(o.ttb1 ?? 0) & 0x000f_ffff_ffff_fff0n;
  d[3] = o.mair ?? 0n;
  return d;
}

export function writeCd(rig: Rig, at: number, o: CdOpts): void {
  cdWords(o).forEach((w, i) => rig.m.bus.write64(at + i * 8, w));
}

// ---- page tables (VMSAv8-64, 4K granule, 4 levels from level 0) ----

export const PTE_AF = 1n << 10n;
export const PTE_NG = 1n << 11n;
export const AP_RW_EL1 = 0n << 6n;
export const AP_RW_ALL = 1n << 6n;
export const AP_RO_EL1 = 2n << 6n;
export const AP_RO_ALL = 3n << 6n;
export const S2AP_R = 1n << 6n;
export const S2AP_W = 2n << 6n;
export const S2_MEMATTR_NORMAL = 0xfn << 2n;

/**
 * A 4-level 4K page table built in RAM. `tableAddr` turns the PA of a table page into
 * the address stored in descriptors (identity for PAs, PA->IPA for nested stage 1).
 */
export class PageTable {
  readonly root: number;
  constructor(
    private readonly rig: Rig,
    private readonly tableAddr: (pa: number) => number = (pa) => pa,
    private readonly tablePa: (addr: number) => number = (a) => a,
  ) {
    this.root = rig.mem.take(4096);
  }

  /** Address to program in TTB0/S2TTB. */
  get ttb(): number {
    return this.tableAddr(this.root);
  }

  /** Maps `va` to `pa` with a leaf at `level` (3 = 4K page, 2 = 2M block, 1 = 1G block). */
  map(va: number, pa: number, attrs: bigint, level = 3): void {
    const bus = this.rig.m.bus;
    let table = this.root;
    for (let l = 0; l < level; l++) {
      const idx = Math.floor(va / 2 ** (39 - 9 * l)) % 512;
      const at = table + idx * 8;
      const d = bus.read64(at);
      if ((d & 3n) === 3n) {
        table = this.tablePa(Number(d & 0x0000_ffff_ffff_f000n));
      } else {
        const next = this.rig.mem.take(4096);
        bus.write64(at, b(this.tableAddr(next)) | 3n);
        table = next;
      }
    }
    const idx = Math.floor(va / 2 ** (39 - 9 * level)) % 512;
    const type = level === 3 ? 3n : 1n;
    bus.write64(table + idx * 8, b(pa) | attrs | type);
  }

  unmap(va: number, level = 3): void {
    const bus = this.rig.m.bus;
    let table = this.root;
    for (let l = 0; l < level; l++) {
      const d = bus.read64(table + (Math.floor(va / 2 ** (39 - 9 * l)) % 512) * 8);
      if ((d & 3n) !== 3n) return;
      table = this.tablePa(Number(d & 0x0000_ffff_ffff_f000n));
    }
    bus.write64(table + (Math.floor(va / 2 ** (39 - 9 * level)) % 512) * 8, 0n);
  }
}

// ---- events and PRI records (EVTQ_* / PRIQ_* of arm-smmu-v3.h) ----

export interface Evt {
  id: number;
  ssv: boolean;
  ssid: number;
  sid: number;
  stag: number;
  stall: boolean;
  pnu: boolean;
  ind: boolean;
  rnw: boolean;
  s2: boolean;
  cls: number;
  addr: bigint;
  dw3: bigint;
}

/** Pops every event between EVTQ_CONS and EVTQ_PROD and updates CONS (keeping OVACKFLG). */
export function drainEvents(rig: Rig, q: Queues, ack = false): Evt[] {
  const out: Evt[] = [];
  const prodReg = rig.m.bus.read32(P1 + 0xa8);
  let cons = rig.m.bus.read32(P1 + 0xac);
  const mask = (2 << q.evtqLog2) - 1;
  while ((cons & mask) !== (prodReg & mask)) {
    const at = q.evtq + (cons & ((1 << q.evtqLog2) - 1)) * 32;
    const d0 = rig.m.bus.read64(at);
    const d1 = rig.m.bus.read64(at + 8);
    out.push({
      id: Number(d0 & 0xffn),
      ssv: ((d0 >> 11n) & 1n) === 1n,
      ssid: Number((d0 >> 12n) & 0xfffffn),
      sid: Number(d0 >> 32n),
      stag: Number(d1 & 0xffffn),
      stall: ((d1 >> 31n) & 1n) === 1n,
      pnu: ((d1 >> 33n) & 1n) === 1n,
      ind: ((d1 >> 34n) & 1n) === 1n,
      rnw: ((d1 >> 35n) & 1n) === 1n,
      s2: ((d1 >> 39n) & 1n) === 1n,
      cls: Number((d1 >> 40n) & 3n),
      addr: rig.m.bus.read64(at + 16),
      dw3: rig.m.bus.read64(at + 24),
    });
    cons = (cons & 0x80000000) | (((cons & mask) + 1) & mask);
  }
  if (ack) cons = (cons & ~0x80000000) | (prodReg & 0x80000000);
  rig.m.bus.write32(P1 + 0xac, cons >>> 0);
  return out;
}

/** A DMA read of `len` bytes at `iova` with the given attributes. */
export function dmaRead(rig: Rig, iova: number, len = 4, attrs: Partial<DmaAttrs> = {}): { status: DmaStatus; data: Uint8Array } {
  const data = new Uint8Array(len);
  const status = rig.port.read(iova, data, 0, len, { ssid: 0, ssv: false, priv: false, exec: false, ...attrs });
  return { status, data };
}

export function dmaWrite(rig: Rig, iova: number, bytes: Uint8Array, attrs: Partial<DmaAttrs> = {}): DmaStatus {
  return rig.port.write(iova, bytes, 0, bytes.length, { ssid: 0, ssv: false, priv: false, exec: false, ...attrs });
}

/** Stage 1 setup: a linear STE with one CD for `sid`, returning the page table and CD address. */
export function setupS1(rig: Rig, q: Queues, sid: number, cd: Partial<CdOpts> = {}, ste: Partial<SteOpts> = {}): { pt: PageTable; cdAt: number } {
  const pt = new PageTable(rig);
  const cdAt = rig.mem.take(64 * 4, 64);
  writeCd(rig, cdAt, { ttb0: pt.ttb, asid: 1, ...cd });
  writeSte(rig, q.strtab + sid * 64, { cfg: 5, ctxPtr: cdAt, ...ste });
  return { pt, cdAt };
}
