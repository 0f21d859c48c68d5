// The arm-smmu-v3 driver's command building against references written the plain way:
// buildCmd against CMDQ.encode by field name, and the range-TLBI split against
// __arm_smmu_tlb_inv_range's loop in exact BigInt arithmetic, over seeded random inputs
// (including page counts and addresses beyond 32 bits).

import { describe, expect, it } from 'vitest';
import {
  CMDQ,
  CMDQ_OP_ATC_INV,
  CMDQ_OP_CFGI_ALL,
  CMDQ_OP_CFGI_CD,
  CMDQ_OP_CFGI_STE,
  CMDQ_OP_CMD_SYNC,
  CMDQ_OP_PRI_RESP,
  CMDQ_OP_RESUME,
  CMDQ_OP_STALL_TERM,
  CMDQ_OP_TLBI_NH_ASID,
  CMDQ_OP_TLBI_NH_VA,
  CMDQ_OP_TLBI_S2_IPA,
  buildCmd,
  tlbiRangeCommands,
  type CmdqEnt,
} from '../../src/kernel/drivers/iommu/arm-smmu-v3/cmdq.js';
import { xorshift32u } from '../../src/machine/prng.js';

/** A seeded stream of integers in [0, n). */
function rng(seed: number): (n: number) => number {
  const next = xorshift32u(seed);
  return (n: number) => next() % n;
}

describe('arm-smmu-v3 command building', () => {
  it('buildCmd writes what encoding each command by field name writes (seeded, every built opcode)', () => {
    const r = rng(0x5eed);
    const big = () => r(1 << 20) * 2 ** 24 + r(1 << 24) * 4096; // page-aligned, up to 2^56
    for (let i = 0; i < 2000; i++) {
      const sid = r(1 << 16);
      const ssid = r(1 << 20);
      const leaf = r(2) === 1;
      let ent: CmdqEnt;
      let want: Parameters<typeof CMDQ.encode>[0];
      switch (r(9)) {
        case 0:
          ent = { opcode: CMDQ_OP_CFGI_CD, sid, ssid, leaf };
          want = { OP: CMDQ_OP_CFGI_CD, CFGI_SSID: ssid, CFGI_SID: sid, CFGI_LEAF: leaf ? 1 : 0 };
          break;
        case 1:
          ent = { opcode: CMDQ_OP_CFGI_STE, sid, leaf };
          want = { OP: CMDQ_OP_CFGI_STE, CFGI_SID: sid, CFGI_LEAF: leaf ? 1 : 0 };
          break;
        case 2: {
          const span = r(32);
          ent = { opcode: CMDQ_OP_CFGI_ALL, span };
          want = { OP: CMDQ_OP_CFGI_ALL, CFGI_RANGE: span };
          break;
        }
        case 3: {
          const e = { asid: r(1 << 16), vmid: r(1 << 16), num: r(32), scale: r(32), ttl: r(4), tg: r(4), addr: big() % 2 ** 52 };
          ent = { opcode: CMDQ_OP_TLBI_NH_VA, leaf, ...e };
          want = { OP: CMDQ_OP_TLBI_NH_VA, TLBI_VMID: e.vmid, TLBI_NUM: e.num, TLBI_SCALE: e.scale, TLBI_ASID: e.asid, TLBI_LEAF: leaf ? 1 : 0, TLBI_TTL: e.ttl, TLBI_TG: e.tg, TLBI_ADDR: e.addr };
          break;
        }
        case 4: {
          const addr = big();
          ent = { opcode: CMDQ_OP_TLBI_S2_IPA, vmid: 9, leaf, num: 3, scale: 1, ttl: 2, tg: 1, addr };
          want = { OP: CMDQ_OP_TLBI_S2_IPA, TLBI_VMID: 9, TLBI_NUM: 3, TLBI_SCALE: 1, TLBI_LEAF: leaf ? 1 : 0, TLBI_TTL: 2, TLBI_TG: 1, TLBI_ADDR: addr % 2 ** 52 };
          break;
        }
        case 5: {
          const asid = r(1 << 16);
          ent = { opcode: CMDQ_OP_TLBI_NH_ASID, asid, vmid: 0 };
          want = { OP: CMDQ_OP_TLBI_NH_ASID, TLBI_ASID: asid };
          break;
        }
        case 6: {
          const e = { substreamValid: r(2) === 1, global: r(2) === 1, ssid, sid, size: r(53), addr: big() };
          ent = { opcode: CMDQ_OP_ATC_INV, ...e };
          want = { OP: CMDQ_OP_ATC_INV, SSV: e.substreamValid ? 1 : 0, ATC_GLOBAL: e.global ? 1 : 0, ATC_SSID: ssid, ATC_SID: sid, ATC_SIZE: e.size, ATC_ADDR: e.addr };
          break;
        }
        case 7: {
          const msiaddr = r(2) === 1 ? 0x4000_0000 + r(1 << 24) * 16 : 0;
          ent = { opcode: CMDQ_OP_CMD_SYNC, msiaddr };
          want = msiaddr
            ? { OP: CMDQ_OP_CMD_SYNC, SYNC_CS: 1, SYNC_MSIADDR: msiaddr, SYNC_MSH: 3, SYNC_MSIATTR: 0xf }
            : { OP: CMDQ_OP_CMD_SYNC, SYNC_CS: 2, SYNC_MSH: 3, SYNC_MSIATTR: 0xf };
          break;
        }
        default: {
          const which = r(3);
          if (which === 0) {
            ent = { opcode: CMDQ_OP_RESUME, sid, resp: r(3), stag: r(1 << 16) };
            want = { OP: CMDQ_OP_RESUME, RESUME_SID: sid, RESUME_RESP: ent.resp!, RESUME_STAG: ent.stag! };
          } else if (which === 1) {
            ent = { opcode: CMDQ_OP_STALL_TERM, sid };
            want = { OP: CMDQ_OP_STALL_TERM, STALL_TERM_SID: sid };
          } else {
            ent = { opcode: CMDQ_OP_PRI_RESP, substreamValid: true, ssid, sid, grpid: r(512), resp: r(3) };
            want = { OP: CMDQ_OP_PRI_RESP, SSV: 1, PRI_SSID: ssid, PRI_SID: sid, PRI_GRPID: ent.grpid!, PRI_RESP: ent.resp! };
          }
        }
      }
      const got = new Uint32Array(4).fill(0xdeadbeef);
      expect(buildCmd(got, ent)).toBe(0);
      expect(Array.from(got)).toEqual(Array.from(CMDQ.encode(want)));
    }
  });

  /** __arm_smmu_tlb_inv_range in exact integers: [addr, num, scale] of each command. */
  function referenceSplit(iova: bigint, size: bigint, granule: bigint, pgsizeBitmap: bigint, leaf: boolean, rangeInv: boolean): { addr: bigint; num: number; scale: number; tg: number; ttl: number }[] {
    const out: { addr: bigint; num: number; scale: number; tg: number; ttl: number }[] = [];
    const end = iova + size;
    let numPages = 0n;
    let tg = 0n;
    let ttl = 0;
    let invRange = granule;
    const ffs = (x: bigint): bigint => {
      let n = 0n;
      while (((x >> n) & 1n) === 0n) n++;
      return n;
    };
    if (rangeInv) {
      tg = ffs(pgsizeBitmap);
      numPages = size >> tg;
      if (leaf) ttl = 4 - Number((BigInt(granule.toString(2).length - 1) - 3n) / (tg - 3n));
      else if ((numPages & 31n) === 1n) numPages++;
    }
    while (iova < end) {
      let num = 0;
      let scale = 0;
      if (rangeInv) {
        scale = Number(ffs(numPages));
        num = Number((numPages >> BigInt(scale)) & 31n);
        invRange = BigInt(num) << (BigInt(scale) + tg);
        numPages -= BigInt(num) << BigInt(scale);
        if (invRange === 0n) break;
      }
      out.push({ addr: iova, num: num - 1, scale, tg: rangeInv ? Number((tg - 10n) / 2n) : 0, ttl });
      iova += invRange;
    }
    return out;
  }

  it('the range TLBI split matches the exact-integer loop, page counts beyond 2^32 included (seeded)', () => {
    const r = rng(0xc0ffee);
    // 4K (4K, 2M, 1G), 16K (16K, 32M, 64G) and 64K (64K, 512M, 4T) translation granules
    const granules = [
      [2 ** 12, 2 ** 21, 2 ** 30],
      [2 ** 14, 2 ** 25, 2 ** 36],
      [2 ** 16, 2 ** 29, 2 ** 42],
    ];
    for (let i = 0; i < 3000; i++) {
      const sizes = granules[r(3)]!;
      const bitmap = sizes.reduce((a, b) => a + b, 0);
      const page = sizes[0]!;
      const granule = sizes[r(3)]!;
      const pages = r(4) === 0 ? r(1 << 20) * 2 ** r(25) + 1 : r(300) + 1;
      const size = pages * page;
      const iova = r(1 << 20) * page;
      const leaf = r(2) === 1;
      const rangeInv = pages < 5000 ? r(2) === 1 : true;
      const got: { addr: bigint; num: number; scale: number; tg: number; ttl: number }[] = [];
      tlbiRangeCommands({ opcode: CMDQ_OP_TLBI_NH_VA, asid: 1, leaf }, iova, size, granule, bitmap, rangeInv, (e) =>
        got.push({ addr: BigInt(e.addr!), num: rangeInv ? e.num! : -1, scale: rangeInv ? e.scale! : 0, tg: e.tg ?? 0, ttl: e.ttl ?? 0 }),
      );
      expect(got).toEqual(referenceSplit(BigInt(iova), BigInt(size), BigInt(granule), BigInt(bitmap), leaf, rangeInv));
    }
  });
});
