// RAS routing of QM and ZIP engine errors (Linux hisi_qm_err_ini / qm_hw_error_init_v2,
// hisi_zip_hw_error_enable): each source is reported as CE, NFE or FE by the enable
// registers; the abnormal MSI (vector 3) carries CE and NFE reports, FE goes to the
// platform firmware (SOURCE only), and a source in no enable is not reported.
import { describe, it, expect } from 'vitest';
import { ZipRig, QM, makeSqe, REQ } from './zip-rig.js';

const RAS = {
  CE_ENABLE: 0x1000ec,
  FE_ENABLE: 0x1000f0,
  NFE_ENABLE: 0x1000f4,
  CE_THRESHOLD: 0x1000f8,
  ZIP_CE_ENB: 0x301160,
  ZIP_NFE_ENB: 0x301164,
  ZIP_FE_ENB: 0x301168,
  ZIP_INT_SET: 0x3010a8,
} as const;
const ECC_1BIT = 1 << 3;
const ECC_1BIT_CNT = 0x104000;
const ECC_MBIT_CNT = 0x104008;
const ECC_MBIT = 1 << 2;
const DB_TIMEOUT = 1 << 10;

function abnormalMsis(rig: ZipRig): number {
  return rig.msi.received.filter((v) => v === 3).length;
}

describe('QM RAS routing (QM_RAS_CE/NFE/FE_ENABLE, QM_RAS_CE_THRESHOLD)', () => {
  it('reset routes every source as NFE: an error is recorded and reported until the driver routes it', () => {
    const rig = new ZipRig().startQm();
    expect(rig.r32(RAS.NFE_ENABLE)).toBe(0x7fff);
    expect(rig.r32(RAS.CE_ENABLE)).toBe(0);
    expect(rig.r32(RAS.FE_ENABLE)).toBe(0);
    rig.w32(QM.ABN_SET, DB_TIMEOUT);
    expect(rig.r32(QM.ABN_SOURCE)).toBe(DB_TIMEOUT);
    expect(abnormalMsis(rig)).toBe(1);
  });

  it('an FE-routed source is recorded in SOURCE but raises no MSI (fatal errors go to firmware)', () => {
    const rig = new ZipRig().startQm();
    rig.w32(RAS.NFE_ENABLE, 0);
    rig.w32(RAS.FE_ENABLE, ECC_MBIT);
    rig.zip.inject({ kind: 'qm-ecc-mbit' });
    expect(rig.r32(QM.ABN_SOURCE)).toBe(ECC_MBIT);
    expect(rig.r32(QM.ABN_STATUS)).toBe(ECC_MBIT);
    expect(abnormalMsis(rig)).toBe(0);
    expect(rig.r32(ECC_MBIT_CNT)).toBe(1);
  });

  it('FE wins over NFE for a source in both enables', () => {
    const rig = new ZipRig().startQm();
    rig.w32(RAS.FE_ENABLE, ECC_MBIT);
    rig.zip.inject({ kind: 'qm-ecc-mbit' });
    expect(abnormalMsis(rig)).toBe(0);
  });

  it('a source cleared from NFE_ENABLE (Linux: "disable the same error reporting") is recorded, not reported', () => {
    const rig = new ZipRig().startQm();
    rig.w32(RAS.NFE_ENABLE, 0x7fff & ~DB_TIMEOUT);
    rig.zip.inject({ kind: 'doorbell-timeout' });
    expect(rig.r32(QM.ABN_SOURCE)).toBe(DB_TIMEOUT);
    expect(abnormalMsis(rig)).toBe(0);
    // Re-enabling does not report the old error; the next one is reported.
    rig.w32(RAS.NFE_ENABLE, 0x7fff);
    expect(abnormalMsis(rig)).toBe(0);
    rig.w32(QM.ABN_SOURCE, DB_TIMEOUT);
    rig.zip.inject({ kind: 'doorbell-timeout' });
    expect(abnormalMsis(rig)).toBe(1);
  });

  it('CE with QM_RAS_CE_THRESHOLD = 3: only every third correctable error sets SOURCE and raises MSI 3', () => {
    const rig = new ZipRig().startQm();
    rig.w32(RAS.NFE_ENABLE, 0x7fff & ~ECC_1BIT);
    rig.w32(RAS.CE_ENABLE, ECC_1BIT);
    rig.w32(RAS.CE_THRESHOLD, 3);
    rig.zip.inject({ kind: 'qm-ecc-1bit' });
    rig.zip.inject({ kind: 'qm-ecc-1bit' });
    expect(rig.r32(QM.ABN_SOURCE)).toBe(0);
    expect(abnormalMsis(rig)).toBe(0);
    rig.zip.inject({ kind: 'qm-ecc-1bit' });
    expect(rig.r32(QM.ABN_SOURCE)).toBe(ECC_1BIT);
    expect(abnormalMsis(rig)).toBe(1);
    rig.w32(QM.ABN_SOURCE, ECC_1BIT); // the driver's recovery: clear, no reset
    for (let i = 0; i < 2; i++) rig.zip.inject({ kind: 'qm-ecc-1bit' });
    expect(rig.r32(QM.ABN_SOURCE)).toBe(0);
    rig.zip.inject({ kind: 'qm-ecc-1bit' });
    expect(abnormalMsis(rig)).toBe(2);
    // QM_ECC_1BIT_CNT counts every one, reported or not.
    expect(rig.r32(ECC_1BIT_CNT)).toBe(6);
  });

  it('CE threshold 1 (Linux QM_RAS_CE_TIMES_PER_IRQ) reports every correctable error; 0 counts as 1', () => {
    for (const threshold of [1, 0]) {
      const rig = new ZipRig().startQm();
      rig.w32(RAS.NFE_ENABLE, 0);
      rig.w32(RAS.CE_ENABLE, ECC_1BIT);
      rig.w32(RAS.CE_THRESHOLD, threshold);
      rig.zip.inject({ kind: 'qm-ecc-1bit' });
      expect(rig.r32(QM.ABN_SOURCE)).toBe(ECC_1BIT);
      expect(abnormalMsis(rig)).toBe(1);
    }
  });

  it('an unreported error still shuts the master down when QM_OOO_SHUTDOWN_SEL selects it', () => {
    const rig = new ZipRig().startQm();
    rig.w32(RAS.NFE_ENABLE, 0);
    rig.w32(QM.OOO_SHUTDOWN_SEL, ECC_MBIT);
    const q = rig.startQueue(0, 0, { depth: 8 });
    rig.zip.inject({ kind: 'qm-ecc-mbit' });
    expect(abnormalMsis(rig)).toBe(0);
    rig.submit(q, makeSqe({ reqType: REQ.DEFLATE, src: rig.put(new Uint8Array(64)), dst: rig.alloc(4096), inLen: 64, availOut: 4096 }));
    rig.run();
    expect(rig.reap(q)).toEqual([]);
  });
});

describe('ZIP engine RAS routing (HZIP_CORE_INT_RAS_CE/NFE/FE_ENB)', () => {
  it('Linux routing (CE = ecc_1bit, NFE = 0x7fe, FE = 0): CE and NFE sources raise MSI 3', () => {
    const rig = new ZipRig().startQm();
    rig.w32(RAS.ZIP_CE_ENB, 1);
    rig.w32(RAS.ZIP_NFE_ENB, 0x7fe);
    rig.w32(RAS.ZIP_FE_ENB, 0);
    rig.zip.inject({ kind: 'ecc-1bit' });
    expect(abnormalMsis(rig)).toBe(1);
    rig.w32(QM.ZIP_CORE_INT_SOURCE, 1);
    rig.w32(RAS.ZIP_INT_SET, 1 << 4); // src_addr_parse
    expect(rig.r32(QM.ZIP_CORE_INT_STATUS)).toBe(1 << 4);
    expect(abnormalMsis(rig)).toBe(2);
  });

  it('an FE-routed or unrouted engine source is recorded in HZIP_CORE_INT_SOURCE without an MSI', () => {
    const rig = new ZipRig().startQm();
    rig.w32(RAS.ZIP_NFE_ENB, 0);
    rig.w32(RAS.ZIP_FE_ENB, 1 << 1);
    rig.zip.inject({ kind: 'ecc-mbit' });
    rig.w32(RAS.ZIP_INT_SET, 1 << 5); // in no enable
    expect(rig.r32(QM.ZIP_CORE_INT_SOURCE)).toBe((1 << 1) | (1 << 5));
    expect(abnormalMsis(rig)).toBe(0);
    // Routing a later error as NFE reports it.
    rig.w32(RAS.ZIP_NFE_ENB, 1 << 2);
    rig.zip.inject({ kind: 'axi' });
    rig.w32(RAS.ZIP_INT_SET, 1 << 2);
    expect(abnormalMsis(rig)).toBe(1);
  });
});
