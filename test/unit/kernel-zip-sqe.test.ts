// hisi_zip SQE builder/parser, header handling and status decoding, the hardware SGL
// layout (sgl.c), the PCI quirk and the acomp API, all without a device.
import { describe, expect, it } from 'vitest';
import { deflate, deflateRaw, gzip } from 'pako';

const zlibSync = (d: Uint8Array, level: 1 | 9): Uint8Array => deflate(d, { level });
import {
  GZIP_HEAD,
  HZIP_ALG_TYPE_DEFLATE,
  HZIP_ALG_TYPE_GZIP,
  HZIP_ALG_TYPE_ZLIB,
  HZIP_SGL,
  HZIP_SQE,
  ZLIB_HEAD,
  decomp_head_size,
  hisi_zip_fill_sqe,
  hisi_zip_get_tag,
  hisi_zip_status_errno,
} from '../../src/kernel/drivers/crypto/hisilicon/zip/zip-sqe.js';
import { ZIP_SQE as MODEL_SQE } from '../../src/hw/zip/sqe.js';
import { quirk_huawei_pcie_sva, type QuirkPciDev } from '../../src/kernel/drivers/pci/quirks-huawei.js';
import { hisi_zip_params } from '../../src/kernel/drivers/crypto/hisilicon/zip/zip-main.js';
import { HZIPK_IOC_SESSION, HZIPK_IOC_XFER } from '../../src/kernel/drivers/crypto/hisilicon/zip/zipk.js';

describe('ZIP SQE (zip.h struct hisi_zip_sqe, zip_crypto.c hisi_zip_fill_sqe)', () => {
  it('a stateless SGL request: dw4 = slen - sskip, dw7 = sskip, dw8 = dskip, dw9 = req_type | buf_type << 8, dw14 = dlen - dskip, tag in dw13', () => {
    const w = HZIP_SQE.alloc();
    hisi_zip_fill_sqe(w, { reqType: HZIP_ALG_TYPE_ZLIB, src: 0x1_0000_1000, dst: 0x2000, bufType: HZIP_SGL, slen: 100, dlen: 200, sskip: 0, dskip: 2, tag: 77, sqeType: 0 });
    expect(w[4]).toBe(100);
    expect(w[7]).toBe(1 << 25); // FINISH, in_sge_data_offset 0
    expect(w[8]).toBe(2);
    expect(w[9]).toBe(0x102);
    expect(w[13]).toBe(77);
    expect(w[14]).toBe(198);
    expect([w[18], w[19], w[20], w[21]]).toEqual([0x1000, 1, 0x2000, 0]);
    expect(hisi_zip_get_tag(w)).toBe(77);
  });
  it('decompression skips the header with in_sge_data_offset; sqe_type 3 moves the tag to dw26', () => {
    const w = HZIP_SQE.alloc();
    hisi_zip_fill_sqe(w, { reqType: HZIP_ALG_TYPE_GZIP, src: 0, dst: 0, bufType: 0, slen: 50, dlen: 4096, sskip: 10, dskip: 0, tag: 5, sqeType: 3 });
    expect(w[4]).toBe(40);
    expect(w[7]).toBe((3 << 28) | (1 << 25) | 10);
    expect(w[26]).toBe(5);
    expect(w[13]).toBe(0);
    expect(hisi_zip_get_tag(w)).toBe(5);
  });
  it('stream steps set stream_mode, stream_new, SYNC_FLUSH until the last step, the context address and the carried isize/checksum', () => {
    const w = HZIP_SQE.alloc();
    hisi_zip_fill_sqe(w, { reqType: HZIP_ALG_TYPE_ZLIB, src: 0, dst: 0, bufType: 1, slen: 8, dlen: 64, sskip: 0, dskip: 2, tag: 0, sqeType: 0, stream: { ctxAddr: 0x4000_0000, isNew: true, finish: false, isize: 3, checksum: 0xdeadbeef } });
    expect(w[7]).toBe((1 << 26) | (1 << 27));
    expect([w[22], w[23], w[30], w[31]]).toEqual([0x4000_0000, 0, 3, 0xdeadbeef]);
  });
  it('every driver SQE field sits where the model reads it', () => {
    const rename: Record<string, string> = { win_size: 'window', tag_v2: 'tag', tag_v3: 'dw26' };
    let n = 0;
    for (const f of HZIP_SQE.fields) {
      const m = MODEL_SQE.f[(rename[f.name] ?? f.name) as keyof typeof MODEL_SQE.f];
      if (m === undefined) continue;
      expect([f.name, m.dword, m.lsb, m.width]).toEqual([f.name, f.dword, f.lsb, f.width]);
      n++;
    }
    expect(n).toBeGreaterThan(25);
  });
  it('status decoding: 0 and 0x0d succeed, 0x13 succeeds only where stream end is expected, everything else is -EIO', () => {
    expect(hisi_zip_status_errno(0)).toBe(0);
    expect(hisi_zip_status_errno(0x0d)).toBe(0);
    expect(hisi_zip_status_errno(0x13)).toBe(-5);
    expect(hisi_zip_status_errno(0x13, true)).toBe(0);
    for (const s of [0x0e, 0x0f, 0x10, 0x12, 0x20, 0xff]) expect(hisi_zip_status_errno(s, true)).toBe(-5);
  });
});

describe('header handling (zip_crypto.c zlib_head/gzip_head, __get_gzip_head_size)', () => {
  it('compression headers are 78 9c and the 10-byte gzip header with OS 3', () => {
    expect([...ZLIB_HEAD]).toEqual([0x78, 0x9c]);
    expect([...GZIP_HEAD]).toEqual([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0x03]);
  });
  it('decompression header sizes: zlib 2 for any valid CMF/FLG, gzip 10 plus FEXTRA/FNAME/FCOMMENT/FHCRC, deflate 0', () => {
    const data = new TextEncoder().encode('hello hello hello');
    expect(decomp_head_size(HZIP_ALG_TYPE_ZLIB, zlibSync(data, 1))).toBe(2);
    expect(decomp_head_size(HZIP_ALG_TYPE_ZLIB, zlibSync(data, 9))).toBe(2);
    expect(decomp_head_size(HZIP_ALG_TYPE_GZIP, gzip(data))).toBe(10);
    const named = new Uint8Array([0x1f, 0x8b, 8, 0x08 | 0x04 | 0x10 | 0x02, 0, 0, 0, 0, 0, 3, 3, 0, 1, 2, 3, 0x61, 0x2e, 0x74, 0, 0x63, 0, 0xaa, 0xbb, 0x4b]);
    expect(decomp_head_size(HZIP_ALG_TYPE_GZIP, named)).toBe(10 + 5 + 4 + 2 + 2);
    expect(decomp_head_size(HZIP_ALG_TYPE_DEFLATE, deflateRaw(data))).toBe(0);
  });
  it('not-a-header input is -EINVAL (bad magic, FDICT, truncated name)', () => {
    expect(decomp_head_size(HZIP_ALG_TYPE_ZLIB, new Uint8Array([0x78, 0x9d]))).toBe(-22);
    expect(decomp_head_size(HZIP_ALG_TYPE_ZLIB, new Uint8Array([0x78, 0xbb]))).toBe(-22);
    expect(decomp_head_size(HZIP_ALG_TYPE_GZIP, new Uint8Array([0x1f, 0x8c, 8, 0, 0, 0, 0, 0, 0, 3]))).toBe(-22);
    expect(decomp_head_size(HZIP_ALG_TYPE_GZIP, new Uint8Array([0x1f, 0x8b, 8, 0x08, 0, 0, 0, 0, 0, 3, 0x61]))).toBe(-22);
  });
});

describe('quirk_huawei_pcie_sva (drivers/pci/quirks.c)', () => {
  const dev = (revision: number, extra: Partial<QuirkPciDev> = {}): QuirkPciDev => ({ name: '0000:00:01.0', vendor: 0x19e5, device: 0xa250, revision, properties: new Map(), pasid_no_tlp: false, ...extra });
  it('revision 0x21 and 0x30 get pasid_no_tlp and the dma-can-stall property', () => {
    for (const rev of [0x21, 0x30]) {
      const d = dev(rev);
      quirk_huawei_pcie_sva(d);
      expect(d.pasid_no_tlp).toBe(true);
      expect(d.properties!.get('dma-can-stall')).toBe(true);
    }
  });
  it('other revisions are left alone; a device-tree node keeps its own properties', () => {
    const old = dev(0x20);
    quirk_huawei_pcie_sva(old);
    expect(old.pasid_no_tlp).toBe(false);
    expect(old.properties!.size).toBe(0);
    const dt = dev(0x21, { of_node: {} });
    quirk_huawei_pcie_sva(dt);
    expect(dt.pasid_no_tlp).toBe(true);
    expect(dt.properties!.size).toBe(0);
  });
});

describe('module parameters and the zipk uAPI', () => {
  it('hisi_zip.pf_q_num / uacce_mode / sgl_sge_nr come from the command line with Linux ranges', () => {
    expect(hisi_zip_params('console=ttyAMA0')).toEqual({ pf_q_num: 64, uacce_mode: 0, sgl_sge_nr: 10, vfio_mdev: 0 });
    expect(hisi_zip_params('hisi_zip.pf_q_num=256 hisi_zip.uacce_mode=1 hisi_zip.sgl_sge_nr=255')).toEqual({ pf_q_num: 256, uacce_mode: 1, sgl_sge_nr: 255, vfio_mdev: 0 });
    expect(typeof hisi_zip_params('hisi_zip.pf_q_num=1025')).toBe('string');
    expect(typeof hisi_zip_params('hisi_zip.uacce_mode=2')).toBe('string');
    expect(typeof hisi_zip_params('hisi_zip.bogus=1')).toBe('string');
  });
  it("ioctl numbers: SESSION = _IOW('Z', 1, 8), XFER = _IOWR('Z', 2, 40)", () => {
    expect(HZIPK_IOC_SESSION >>> 0).toBe(0x40085a01);
    expect(HZIPK_IOC_XFER >>> 0).toBe(0xc0285a02);
  });
});
