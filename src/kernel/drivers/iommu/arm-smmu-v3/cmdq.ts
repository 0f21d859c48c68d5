// Command queue entries (IHI 0070 4): the field table, the opcodes, the builder that
// turns a command description into its 16 bytes (arm_smmu_cmdq_build_cmd), and the
// invalidation arithmetic Linux uses: range TLBI (TG, SCALE, NUM, TTL) and the ATC
// invalidation span.

import { FieldTable, setField } from '../../../lib/field-table.js';
import { ARM_SMMU_MEMATTR_OIWB, ARM_SMMU_SH_ISH } from './features.js';

export const CMDQ_ENT_DWORDS = 2;
export const CMDQ_ENT_WORDS = 4;
export const CMDQ_ENT_SZ_SHIFT = 4;
/** A batch is what one CMD_SYNC covers; the queue must hold a batch plus its sync. */
export const CMDQ_BATCH_ENTRIES = 64;

export const CMDQ_OP_PREFETCH_CFG = 0x01;
export const CMDQ_OP_PREFETCH_ADDR = 0x02;
export const CMDQ_OP_CFGI_STE = 0x03;
export const CMDQ_OP_CFGI_ALL = 0x04;
export const CMDQ_OP_CFGI_CD = 0x05;
export const CMDQ_OP_CFGI_CD_ALL = 0x06;
export const CMDQ_OP_TLBI_NH_ALL = 0x10;
export const CMDQ_OP_TLBI_NH_ASID = 0x11;
export const CMDQ_OP_TLBI_NH_VA = 0x12;
export const CMDQ_OP_TLBI_NH_VAA = 0x13;
export const CMDQ_OP_TLBI_EL2_ALL = 0x20;
export const CMDQ_OP_TLBI_EL2_ASID = 0x21;
export const CMDQ_OP_TLBI_EL2_VA = 0x22;
export const CMDQ_OP_TLBI_S12_VMALL = 0x28;
export const CMDQ_OP_TLBI_S2_IPA = 0x2a;
export const CMDQ_OP_TLBI_NSNH_ALL = 0x30;
export const CMDQ_OP_ATC_INV = 0x40;
export const CMDQ_OP_PRI_RESP = 0x41;
export const CMDQ_OP_RESUME = 0x44;
export const CMDQ_OP_STALL_TERM = 0x45;
export const CMDQ_OP_CMD_SYNC = 0x46;

export const CMDQ_OP_NAMES: Readonly<Record<number, string>> = {
  0x01: 'PREFETCH_CFG', 0x02: 'PREFETCH_ADDR', 0x03: 'CFGI_STE', 0x04: 'CFGI_STE_RANGE', 0x05: 'CFGI_CD', 0x06: 'CFGI_CD_ALL',
  0x10: 'TLBI_NH_ALL', 0x11: 'TLBI_NH_ASID', 0x12: 'TLBI_NH_VA', 0x13: 'TLBI_NH_VAA', 0x20: 'TLBI_EL2_ALL', 0x21: 'TLBI_EL2_ASID',
  0x22: 'TLBI_EL2_VA', 0x28: 'TLBI_S12_VMALL', 0x2a: 'TLBI_S2_IPA', 0x30: 'TLBI_NSNH_ALL', 0x40: 'ATC_INV', 0x41: 'PRI_RESP',
  0x44: 'RESUME', 0x45: 'STALL_TERM', 0x46: 'CMD_SYNC',
};

/** One layout per opcode over the same 16 bytes (CMDQ_*_0/1_* in arm-smmu-v3.h). */
export const CMDQ = FieldTable.le64('CMDQ', 16, [
  ['OP', 0, 7, 0],
  ['SSV', 0, 11, 11],
  ['PREFETCH_SID', 0, 63, 32],
  ['PREFETCH_SIZE', 1, 4, 0],
  ['PREFETCH_ADDR', 1, 63, 12, 'addr'],
  ['CFGI_SSID', 0, 31, 12],
  ['CFGI_SID', 0, 63, 32],
  ['CFGI_LEAF', 1, 0, 0],
  ['CFGI_RANGE', 1, 4, 0],
  ['TLBI_NUM', 0, 16, 12],
  ['TLBI_SCALE', 0, 24, 20],
  ['TLBI_VMID', 0, 47, 32],
  ['TLBI_ASID', 0, 63, 48],
  ['TLBI_LEAF', 1, 0, 0],
  ['TLBI_TTL', 1, 9, 8],
  ['TLBI_TG', 1, 11, 10],
  ['TLBI_ADDR', 1, 63, 12, 'addr'],
  ['ATC_GLOBAL', 0, 9, 9],
  ['ATC_SSID', 0, 31, 12],
  ['ATC_SID', 0, 63, 32],
  ['ATC_SIZE', 1, 5, 0],
  ['ATC_ADDR', 1, 63, 12, 'addr'],
  ['PRI_SSID', 0, 31, 12],
  ['PRI_SID', 0, 63, 32],
  ['PRI_GRPID', 1, 8, 0],
  ['PRI_RESP', 1, 13, 12],
  ['RESUME_RESP', 0, 13, 12],
  ['RESUME_SID', 0, 63, 32],
  ['RESUME_STAG', 1, 15, 0],
  ['STALL_TERM_SID', 0, 63, 32],
  ['SYNC_CS', 0, 13, 12],
  ['SYNC_MSH', 0, 23, 22],
  ['SYNC_MSIATTR', 0, 27, 24],
  ['SYNC_MSIDATA', 0, 63, 32],
  ['SYNC_MSIADDR', 1, 51, 2, 'addr'],
], { union: true });

// The fields as constants: a table's fields are looked up by name once, here, not per command.
const {
  OP,
  SSV,
  PREFETCH_SID,
  CFGI_SSID,
  CFGI_SID,
  CFGI_LEAF,
  CFGI_RANGE,
  TLBI_NUM,
  TLBI_SCALE,
  TLBI_VMID,
  TLBI_ASID,
  TLBI_LEAF,
  TLBI_TTL,
  TLBI_TG,
  TLBI_ADDR,
  ATC_GLOBAL,
  ATC_SSID,
  ATC_SID,
  ATC_SIZE,
  ATC_ADDR,
  PRI_SSID,
  PRI_SID,
  PRI_GRPID,
  PRI_RESP,
  RESUME_RESP,
  RESUME_SID,
  RESUME_STAG,
  STALL_TERM_SID,
  SYNC_CS,
  SYNC_MSH,
  SYNC_MSIATTR,
  SYNC_MSIDATA,
  SYNC_MSIADDR,
} = CMDQ.f;

export const CMDQ_SYNC_0_CS_NONE = 0;
export const CMDQ_SYNC_0_CS_IRQ = 1;
export const CMDQ_SYNC_0_CS_SEV = 2;
export const CMDQ_RESUME_0_RESP_TERM = 0;
export const CMDQ_RESUME_0_RESP_RETRY = 1;
export const CMDQ_RESUME_0_RESP_ABORT = 2;
/** CMD_PRI_RESP.Resp (Linux's names; IHI 0070 4.5.2: 0b00 ResponseFailure, 0b01 InvalidRequest, 0b10 Success). */
export const PRI_RESP_DENY = 0;
export const PRI_RESP_FAIL = 1;
export const PRI_RESP_SUCC = 2;
export const ATC_INV_SIZE_ALL = 52;
export const CMDQ_TLBI_RANGE_NUM_MAX = 31;

/** struct arm_smmu_cmdq_ent: what a command says, before it is encoded. */
export interface CmdqEnt {
  opcode: number;
  substreamValid?: boolean;
  sid?: number;
  ssid?: number;
  leaf?: boolean;
  /** CFGI_STE_RANGE span (31 = all). */
  span?: number;
  asid?: number;
  vmid?: number;
  num?: number;
  scale?: number;
  ttl?: number;
  tg?: number;
  addr?: number;
  /** ATC_INV size (log2 of 4 KiB pages) and global bit. */
  size?: number;
  global?: boolean;
  grpid?: number;
  resp?: number;
  stag?: number;
  /** CMD_SYNC: MSI address (0 = completion signalled by SEV). */
  msiaddr?: number;
  msidata?: number;
}

/**
 * arm_smmu_cmdq_build_cmd: encodes `ent` into `cmd` (4 words). Returns 0, or -1 for
 * an opcode the driver does not build or a PRI_RESP code that does not exist.
 */
export function buildCmd(cmd: Uint32Array, ent: Readonly<CmdqEnt>): number {
  cmd[0] = 0;
  cmd[1] = 0;
  cmd[2] = 0;
  cmd[3] = 0;
  setField(cmd, OP, ent.opcode);
  switch (ent.opcode) {
    case CMDQ_OP_TLBI_EL2_ALL:
    case CMDQ_OP_TLBI_NSNH_ALL:
    case CMDQ_OP_TLBI_NH_ALL:
      break;
    case CMDQ_OP_PREFETCH_CFG:
      setField(cmd, PREFETCH_SID, ent.sid ?? 0);
      break;
    case CMDQ_OP_CFGI_CD:
    case CMDQ_OP_CFGI_STE:
      if (ent.opcode === CMDQ_OP_CFGI_CD) setField(cmd, CFGI_SSID, ent.ssid ?? 0);
      setField(cmd, CFGI_SID, ent.sid ?? 0);
      setField(cmd, CFGI_LEAF, ent.leaf ? 1 : 0);
      break;
    case CMDQ_OP_CFGI_CD_ALL:
      setField(cmd, CFGI_SID, ent.sid ?? 0);
      break;
    case CMDQ_OP_CFGI_ALL:
      // CFGI_STE_RANGE with Range=31 covers every StreamID (IHI 0070 4.3.3)
      setField(cmd, CFGI_RANGE, ent.span ?? 31);
      break;
    case CMDQ_OP_TLBI_NH_VA:
    case CMDQ_OP_TLBI_EL2_VA:
      if (ent.opcode === CMDQ_OP_TLBI_NH_VA) setField(cmd, TLBI_VMID, ent.vmid ?? 0);
      setField(cmd, TLBI_NUM, ent.num ?? 0);
      setField(cmd, TLBI_SCALE, ent.scale ?? 0);
      setField(cmd, TLBI_ASID, ent.asid ?? 0);
      setField(cmd, TLBI_LEAF, ent.leaf ? 1 : 0);
      setField(cmd, TLBI_TTL, ent.ttl ?? 0);
      setField(cmd, TLBI_TG, ent.tg ?? 0);
      setField(cmd, TLBI_ADDR, ent.addr ?? 0);
      break;
    case CMDQ_OP_TLBI_S2_IPA:
      setField(cmd, TLBI_NUM, ent.num ?? 0);
      setField(cmd, TLBI_SCALE, ent.scale ?? 0);
      setField(cmd, TLBI_VMID, ent.vmid ?? 0);
      setField(cmd, TLBI_LEAF, ent.leaf ? 1 : 0);
      setField(cmd, TLBI_TTL, ent.ttl ?? 0);
      setField(cmd, TLBI_TG, ent.tg ?? 0);
      // IPA[51:12]
      setField(cmd, TLBI_ADDR, (ent.addr ?? 0) % 2 ** 52);
      break;
    case CMDQ_OP_TLBI_NH_ASID:
    case CMDQ_OP_TLBI_S12_VMALL:
      if (ent.opcode === CMDQ_OP_TLBI_NH_ASID) setField(cmd, TLBI_ASID, ent.asid ?? 0);
      setField(cmd, TLBI_VMID, ent.vmid ?? 0);
      break;
    case CMDQ_OP_TLBI_EL2_ASID:
      setField(cmd, TLBI_ASID, ent.asid ?? 0);
      break;
    case CMDQ_OP_ATC_INV:
      setField(cmd, SSV, ent.substreamValid ? 1 : 0);
      setField(cmd, ATC_GLOBAL, ent.global ? 1 : 0);
      setField(cmd, ATC_SSID, ent.ssid ?? 0);
      setField(cmd, ATC_SID, ent.sid ?? 0);
      setField(cmd, ATC_SIZE, ent.size ?? 0);
      setField(cmd, ATC_ADDR, ent.addr ?? 0);
      break;
    case CMDQ_OP_PRI_RESP: {
      const resp = ent.resp ?? PRI_RESP_DENY;
      if (resp !== PRI_RESP_DENY && resp !== PRI_RESP_FAIL && resp !== PRI_RESP_SUCC) return -1;
      setField(cmd, SSV, ent.substreamValid ? 1 : 0);
      setField(cmd, PRI_SSID, ent.ssid ?? 0);
      setField(cmd, PRI_SID, ent.sid ?? 0);
      setField(cmd, PRI_GRPID, ent.grpid ?? 0);
      setField(cmd, PRI_RESP, resp);
      break;
    }
    case CMDQ_OP_RESUME:
      setField(cmd, RESUME_SID, ent.sid ?? 0);
      setField(cmd, RESUME_RESP, ent.resp ?? CMDQ_RESUME_0_RESP_TERM);
      setField(cmd, RESUME_STAG, ent.stag ?? 0);
      break;
    case CMDQ_OP_STALL_TERM:
      setField(cmd, STALL_TERM_SID, ent.sid ?? 0);
      break;
    case CMDQ_OP_CMD_SYNC:
      if (ent.msiaddr) {
        setField(cmd, SYNC_CS, CMDQ_SYNC_0_CS_IRQ);
        setField(cmd, SYNC_MSIADDR, ent.msiaddr);
        setField(cmd, SYNC_MSIDATA, ent.msidata ?? 0);
      } else setField(cmd, SYNC_CS, CMDQ_SYNC_0_CS_SEV);
      setField(cmd, SYNC_MSH, ARM_SMMU_SH_ISH);
      setField(cmd, SYNC_MSIATTR, ARM_SMMU_MEMATTR_OIWB);
      break;
    default:
      return -1;
  }
  return 0;
}

const TWO32 = 4294967296;
/** 2^n for n < 64, exact. */
const POW2 = Float64Array.from({ length: 64 }, (_, n) => 2 ** n);

/** __ffs for integers below 2^53: the index of the lowest set bit (0 for 0). */
function ffs0(x: number): number {
  if (x === 0) return 0;
  const lo = x >>> 0;
  if (lo !== 0) return 31 - Math.clz32(lo & -lo);
  return 32 + ffs0(Math.floor(x / TWO32));
}

/** ilog2 for integers from 1 below 2^53: the index of the highest set bit. */
function ilog2(x: number): number {
  return x < TWO32 ? 31 - Math.clz32(x) : 32 + ilog2(Math.floor(x / TWO32));
}

/**
 * __arm_smmu_tlb_inv_range: the TLBI commands that cover [iova, iova+size) in
 * `granule` steps. With range invalidation (IDR3.RIL) each command covers
 * NUM+1 x 2^SCALE pages of the leaf size (TG = (log2 page - 10) / 2), TTL names the
 * level of `granule` for leaf invalidations, and the loop peels 5 bits of the page
 * count per command, lowest first. `proto` carries the opcode, ASID/VMID and Leaf;
 * `emit` receives each command (the same object, rewritten between calls).
 */
export function tlbiRangeCommands(proto: CmdqEnt, iova: number, size: number, granule: number, pgsizeBitmap: number, rangeInv: boolean, emit: (ent: CmdqEnt) => void): void {
  if (size === 0) return;
  const end = iova + size;
  let numPages = 0;
  let tg = 0;
  let invRange = granule;
  if (rangeInv) {
    tg = ffs0(pgsizeBitmap);
    numPages = Math.floor(size / POW2[tg]!);
    proto.tg = (tg - 10) / 2;
    if (proto.leaf) proto.ttl = 4 - Math.floor((ilog2(granule) - 3) / (tg - 3));
    // Non-leaf: avoid SCALE=NUM=0, which some SMMUs mishandle, by rounding up one page
    else if ((numPages & CMDQ_TLBI_RANGE_NUM_MAX) === 1) numPages++;
  }
  while (iova < end) {
    if (rangeInv) {
      const scale = ffs0(numPages);
      proto.scale = scale;
      // (numPages >> scale) & 31: ToInt32 of the quotient keeps floor's low bits below 2^53
      const num = (numPages / POW2[scale]!) & CMDQ_TLBI_RANGE_NUM_MAX;
      proto.num = num - 1;
      invRange = num * POW2[scale + tg]!;
      numPages -= num * POW2[scale]!;
      if (invRange === 0) break;
    }
    proto.addr = iova;
    emit(proto);
    iova += invRange;
  }
}

/**
 * arm_smmu_atc_inv_to_cmd: ATC_INV covering [iova, iova+size) with the smallest
 * naturally aligned power-of-two span of 4 KiB pages (size 0 = the whole ATC).
 */
export function atcInvCommand(ent: CmdqEnt, ssid: number | null, iova: number, size: number): void {
  ent.opcode = CMDQ_OP_ATC_INV;
  ent.substreamValid = ssid !== null;
  ent.ssid = ssid ?? 0;
  ent.global = false;
  if (size === 0) {
    ent.size = ATC_INV_SIZE_ALL;
    ent.addr = 0;
    return;
  }
  let pageStart = Math.floor(iova / 4096);
  const pageEnd = Math.floor((iova + size - 1) / 4096);
  // fls(start ^ end) in 64-bit arithmetic on Numbers
  let x = pageStart ^ pageEnd;
  let log2Span = 0;
  const hiA = Math.floor(pageStart / 2 ** 32);
  const hiB = Math.floor(pageEnd / 2 ** 32);
  if (hiA !== hiB) log2Span = 32 + (32 - Math.clz32(hiA ^ hiB));
  else log2Span = 32 - Math.clz32(x >>> 0);
  x = 2 ** log2Span;
  pageStart = Math.floor(pageStart / x) * x;
  ent.addr = pageStart * 4096;
  ent.size = log2Span;
}
