// The pure parts of libwd: uAPI numbers, doorbell encodings, the SQE field table
// against the engine model's own table, SQE fill and parse, header parsing, nrand48
// tags, context-count parsing and device choice.

import { describe, expect, it } from 'vitest';
import { gzip } from 'pako';
import { UACCE_CMD_PUT_Q, UACCE_CMD_QM_SET_QP_CTX, UACCE_CMD_QM_SET_QP_INFO, UACCE_CMD_START_Q, HISI_QP_CTX, HISI_QP_INFO } from '../../src/user/libwd/uacce.js';
import { WD_IN_EPARA, WD_STREAM_END, wd_find_dev_by_numa, wd_get_accel_dev, wd_get_accel_list, wd_parse_api_version, type UaccDevInfo } from '../../src/user/libwd/wd.js';
import type { Libc } from '../../src/user/libc/libc.js';
import { HisiQp, hisi_check_bd_id, hisi_set_msg_id, nrand48, qm_db_v1, qm_db_v2, CTX_MODE_ASYNC } from '../../src/user/libwd/drv/hisi_qm_udrv.js';
import {
  HZIP_SQE,
  WD_COMP_STATEFUL,
  WD_COMP_STREAM_NEW,
  WD_COMP_STREAM_OLD,
  WD_DEFLATE,
  WD_DIR_COMPRESS,
  WD_DIR_DECOMPRESS,
  WD_GZIP,
  WD_LZ4,
  WD_ZLIB,
  comp_head_size,
  fill_zip_comp_sqe,
  max_in_data_size,
  min_out_buf_size,
  parse_zip_sqe,
  sqe_get,
  sqe_set,
  wd_comp_msg,
} from '../../src/user/libwd/drv/hisi_comp.js';
import { wd_parse_ctx_num } from '../../src/user/libwd/wd_comp.js';
import { benchData } from '../../src/user/bin/uadk_tool.js';
import { ZIP_SQE } from '../../src/hw/zip/sqe.js';
import type { WdCtx } from '../../src/user/libwd/wd.js';

function qp(mode = 0, qcType = WD_DIR_COMPRESS, hw = 2): HisiQp {
  const q = new HisiQp({} as WdCtx);
  q.hw_type = hw;
  q.qp_mode = mode;
  q.qc_type = qcType;
  q.sq_depth = 1024;
  return q;
}

function bytesOf(w: Uint32Array): Uint8Array {
  const b = new Uint8Array(128);
  const dv = new DataView(b.buffer);
  w.forEach((v, i) => dv.setUint32(i * 4, v, true));
  return b;
}

describe('uacce uAPI numbers (include/uapi/misc/uacce)', () => {
  it('START_Q/PUT_Q are _IO(W,0/1); SET_QP_CTX/SET_QP_INFO are _IOWR(H,10/11) of 4 and 16 bytes', () => {
    expect(UACCE_CMD_START_Q).toBe(0x5700);
    expect(UACCE_CMD_PUT_Q).toBe(0x5701);
    expect(UACCE_CMD_QM_SET_QP_CTX).toBe(0xc004480a);
    expect(UACCE_CMD_QM_SET_QP_INFO).toBe(0xc010480b);
    expect([HISI_QP_CTX.size, HISI_QP_CTX.offsetof('qc_type'), HISI_QP_INFO.size, HISI_QP_INFO.offsetof('sq_depth'), HISI_QP_INFO.offsetof('cq_depth')]).toEqual([4, 2, 16, 4, 6]);
  });

  it('the api string gives the QM version after "hisi_qm_v"', () => {
    expect(wd_parse_api_version('hisi_qm_v2')).toBe(2);
    expect(wd_parse_api_version('hisi_qm_v3')).toBe(3);
    expect(wd_parse_api_version('hisi_sec_v2')).toBe(-22);
    expect(wd_parse_api_version('hisi_qm_vx')).toBe(-22);
  });
});

describe('QM doorbells (UADK hacc_db / hacc_db_v2)', () => {
  it('v2: qn in [9:0], cmd in [15:12], index in [47:32], priority in [63:48]', () => {
    expect(qm_db_v2(5, 1, 0x123, 1)).toEqual({ lo: 0x1005, hi: 0x10123 });
    expect(qm_db_v2(0x405, 0, 1023, 0)).toEqual({ lo: 0x005, hi: 1023 });
  });

  it('v1: qn in [15:0], cmd in [31:16], index in [47:32], priority in [63:48]', () => {
    expect(qm_db_v1(0x405, 1, 7, 1)).toEqual({ lo: 0x10405, hi: 0x10007 });
  });
});

describe('sync tags: nrand48 seeded as UADK seeds it', () => {
  it('matches glibc nrand48 with xsubi {seed lo, seed hi, 0} from 0x330eabcd, each id seeding the next', () => {
    // printed by a C program calling glibc's nrand48 the way hisi_set_msg_id does
    const q = qp();
    expect([hisi_set_msg_id(q), hisi_set_msg_id(q), hisi_set_msg_id(q), hisi_set_msg_id(q)]).toEqual([700189002, 1857337552, 1665802334, 1708006694]);
    expect(nrand48(0)).toBe(Number((0xbn & 0xffffffffffffn) >> 17n));
  });

  it('a sync queue refuses a response with another tag; an async queue matches by pool index instead', () => {
    expect(hisi_check_bd_id(qp(0), 1, 2)).toBe(-22);
    expect(hisi_check_bd_id(qp(0), 7, 7)).toBe(0);
    expect(hisi_check_bd_id(qp(CTX_MODE_ASYNC), 1, 2)).toBe(0);
  });
});

describe('ZIP SQE field table (driver side) against the engine model (hardware side)', () => {
  // the two sides are written apart on purpose; where they name the same field they must agree
  const same: Record<string, string> = {
    consumed: 'consumed',
    produced: 'produced',
    status: 'status',
    lstblk: 'lstblk',
    input_data_length: 'input_data_length',
    flush_type: 'flush_type',
    stream_mode: 'stream_mode',
    stream_pos: 'stream_new',
    sqe_type: 'sqe_type',
    req_type: 'req_type',
    buf_type: 'buf_type',
    win_sz: 'window',
    tag: 'tag',
    dest_avail_out: 'dest_avail_out',
    ctx_st: 'ctx_st',
    ctx_bfinal: 'ctx_bfinal',
    source_addr_l: 'source_addr_l',
    source_addr_h: 'source_addr_h',
    dest_addr_l: 'dest_addr_l',
    dest_addr_h: 'dest_addr_h',
    stream_ctx_addr_l: 'stream_ctx_addr_l',
    stream_ctx_addr_h: 'stream_ctx_addr_h',
    isize: 'isize',
    checksum: 'checksum',
  };
  it.each(Object.entries(same))('%s sits where the model reads %s', (mine, theirs) => {
    const w = new Uint32Array(32);
    const [, , width] = HZIP_SQE[mine as keyof typeof HZIP_SQE];
    const v = width === 32 ? 0xdeadbeef : (1 << width) - 1;
    sqe_set(w, mine as keyof typeof HZIP_SQE, v);
    expect(ZIP_SQE.get(w, ZIP_SQE.f[theirs as keyof typeof ZIP_SQE.f])).toBe(v >>> 0);
  });

  it('set leaves the neighbouring bits alone; get reads them back', () => {
    const w = new Uint32Array(32);
    sqe_set(w, 'flush_type', 1);
    sqe_set(w, 'stream_pos', 1);
    sqe_set(w, 'sqe_type', 3);
    sqe_set(w, 'stream_mode', 1);
    sqe_set(w, 'stream_mode', 0);
    expect(w[7]).toBe((1 << 25) | (1 << 27) | (3 << 28));
    expect([sqe_get(w, 'flush_type'), sqe_get(w, 'stream_mode'), sqe_get(w, 'stream_pos'), sqe_get(w, 'sqe_type')]).toEqual([1, 0, 1, 3]);
  });
});

describe('fill_zip_comp_sqe (raw deflate: no header, no context: no memory access)', () => {
  it('stateless FINISH: sizes, user VAs above 4 GiB split lo/hi, dw7 = FINISH | NEW << 27, dw9 = req 1 | window << 12, tag in dw13', () => {
    const w = new Uint32Array(32);
    const msg = wd_comp_msg({ alg_type: WD_DEFLATE, src: 0xffff_8000_1000, src_len: 5000, dst: 0xffff_8001_0000, avail_out: 9000, tag: 0x1234, win_sz: 4 });
    expect(fill_zip_comp_sqe(qp(), msg, w)).toBe(0);
    expect(w[4]).toBe(5000);
    expect(w[14]).toBe(9000);
    expect([w[18], w[19], w[20], w[21]]).toEqual([0x8000_1000, 0xffff, 0x8001_0000, 0xffff]);
    expect(w[7]).toBe((1 << 25) | (1 << 27));
    expect(w[9]).toBe(0x01 | (4 << 12));
    expect(w[13]).toBe(0x1234);
    expect([w[22], w[23]]).toEqual([0, 0]);
  });

  it('refuses lz4 on a v2 queue, more than 8 MiB of input, and a stateful request without a context buffer', () => {
    const w = new Uint32Array(32);
    expect(fill_zip_comp_sqe(qp(), wd_comp_msg({ alg_type: WD_LZ4, src: 4096, src_len: 10, dst: 8192, avail_out: 100 }), w)).toBe(-22);
    expect(fill_zip_comp_sqe(qp(), wd_comp_msg({ alg_type: WD_DEFLATE, src: 4096, src_len: 8 * 1024 * 1024 + 1, dst: 8192, avail_out: 100 }), w)).toBe(-22);
    expect(fill_zip_comp_sqe(qp(), wd_comp_msg({ alg_type: WD_DEFLATE, stream_mode: WD_COMP_STATEFUL, src: 4096, src_len: 10, dst: 8192, avail_out: 100 }), w)).toBe(-22);
  });

  it('the 1.125 rule: a stateful compression with little room takes 8/9 of it (4-aligned) and drops FINISH', () => {
    expect(min_out_buf_size(1000)).toBe(1125);
    expect(max_in_data_size(1125)).toBe(1000);
    expect(max_in_data_size(1000)).toBe(888);
  });
});

describe('parse_zip_sqe', () => {
  const resp = (f: Partial<Record<keyof typeof HZIP_SQE, number>>): Uint8Array => {
    const w = new Uint32Array(32);
    for (const [k, v] of Object.entries(f)) sqe_set(w, k as keyof typeof HZIP_SQE, v);
    return bytesOf(w);
  };

  it('a compression at a stream start counts the header the driver wrote in produced', () => {
    const msg = wd_comp_msg({ alg_type: WD_GZIP, tag: 9, head_size: 10 });
    expect(parse_zip_sqe(qp(), resp({ tag: 9, consumed: 100, produced: 40, stream_pos: 1, checksum: 0xabc, isize: 100 }), msg)).toBe(0);
    expect([msg.status, msg.in_cons, msg.produced, msg.checksum, msg.isize]).toEqual([0, 100, 50, 0xabc, 100]);
  });

  it('a decompression at a stream start counts the skipped header in consumed; lstblk + 0x13 is WD_STREAM_END', () => {
    const msg = wd_comp_msg({ alg_type: WD_ZLIB, op_type: WD_DIR_DECOMPRESS, tag: 3, head_size: 2, stream_pos: WD_COMP_STREAM_NEW });
    expect(parse_zip_sqe(qp(0, WD_DIR_DECOMPRESS), resp({ tag: 3, consumed: 30, produced: 200, stream_pos: 1, status: 0x13, lstblk: 1 }), msg)).toBe(0);
    expect([msg.status, msg.in_cons, msg.produced]).toEqual([WD_STREAM_END, 32, 200]);
  });

  it('negative compression (0x0d) is success; no room (0x0e), CRC (0x10) and other codes are WD_IN_EPARA', () => {
    for (const [status, want] of [
      [0x0d, 0],
      [0x0e, WD_IN_EPARA],
      [0x10, WD_IN_EPARA],
      [0x20, WD_IN_EPARA],
    ] as const) {
      const msg = wd_comp_msg({ alg_type: WD_DEFLATE, tag: 1 });
      parse_zip_sqe(qp(), resp({ tag: 1, status }), msg);
      expect(msg.status).toBe(want);
    }
  });

  it('the final block out of room (ctx_st 1) asks for another call (EAGAIN); a response with a foreign tag is refused', () => {
    const msg = wd_comp_msg({ alg_type: WD_DEFLATE, op_type: WD_DIR_DECOMPRESS, stream_pos: WD_COMP_STREAM_OLD, tag: 5 });
    parse_zip_sqe(qp(0, WD_DIR_DECOMPRESS), resp({ tag: 5, ctx_st: 1, produced: 10 }), msg);
    expect(msg.status).toBe(11);
    expect(parse_zip_sqe(qp(), resp({ tag: 6 }), wd_comp_msg({ tag: 5 }))).toBe(-22);
  });
});

describe('zlib/gzip header length (RFC 1950 2.2, RFC 1952 2.3)', () => {
  it('zlib: 2 bytes; a preset dictionary, another method or a bad check is refused', () => {
    expect(comp_head_size(WD_ZLIB, new Uint8Array([0x78, 0x9c, 0]))).toBe(2);
    expect(comp_head_size(WD_ZLIB, new Uint8Array([0x78, 0x01]))).toBe(2);
    expect(comp_head_size(WD_ZLIB, new Uint8Array([0x78, 0xbb]))).toBe(-22); // FDICT
    expect(comp_head_size(WD_ZLIB, new Uint8Array([0x79, 0x9c]))).toBe(-22);
    expect(comp_head_size(WD_ZLIB, new Uint8Array([0x78, 0x9d]))).toBe(-22);
    expect(comp_head_size(WD_ZLIB, new Uint8Array([0x78]))).toBe(0);
  });

  it('gzip: 10 bytes plus FEXTRA, FNAME, FCOMMENT and FHCRC when present; 0 while incomplete; bad magic or reserved flags refused', () => {
    const plain = gzip(new Uint8Array([1, 2, 3]));
    expect(comp_head_size(WD_GZIP, plain)).toBe(10);
    const h = [0x1f, 0x8b, 8, 0x1e, 0, 0, 0, 0, 0, 3, 3, 0, 9, 9, 9, ...new TextEncoder().encode('a.txt\0'), ...new TextEncoder().encode('hi\0'), 0xaa, 0xbb, 0x03];
    expect(comp_head_size(WD_GZIP, new Uint8Array(h))).toBe(h.length - 1);
    expect(comp_head_size(WD_GZIP, new Uint8Array(h.slice(0, 18)))).toBe(0);
    expect(comp_head_size(WD_GZIP, new Uint8Array([0x1f, 0x8c, 8, 0, 0, 0, 0, 0, 0, 3]))).toBe(-22);
    expect(comp_head_size(WD_GZIP, new Uint8Array([0x1f, 0x8b, 8, 0x20, 0, 0, 0, 0, 0, 3]))).toBe(-22);
  });
});

describe('configuration', () => {
  it('WD_COMP_CTX_NUM parses kinds and counts; malformed text is -EINVAL', () => {
    expect(wd_parse_ctx_num('sync-comp:2@0,async-decomp:1@0')).toEqual([
      { mode: 0, op: 0, num: 2 },
      { mode: 1, op: 1, num: 1 },
    ]);
    expect(wd_parse_ctx_num('sync-compress:1@0')).toBe(-22);
    expect(wd_parse_ctx_num('sync-comp:65@0')).toBe(-22);
  });

  it('device choice: the most available queues, the wanted NUMA node first, none when every queue is taken', () => {
    const dev = (name: string, avail: number, node: number): UaccDevInfo => ({ name, devPath: `/dev/${name}`, api: 'hisi_qm_v2', algorithms: ['zlib'], flags: 1, regionMmioSize: 8192, regionDusSize: 0x25000, availableInstances: avail, numaNode: node, isolated: false });
    const list = [dev('a', 3, 0), dev('b', 10, 1), dev('c', 5, 0)];
    expect(wd_find_dev_by_numa(list, -1)?.name).toBe('b');
    expect(wd_find_dev_by_numa(list, 0)?.name).toBe('c');
    expect(wd_find_dev_by_numa([dev('a', 0, 0)], -1)).toBeNull();
  });

  it('discovery reads /sys/class/uacce: whole-line algorithm match, isolated devices skipped, missing numa_node is node 0', () => {
    const attrs: Record<string, string> = {};
    const add = (name: string, a: Record<string, string>): void => {
      for (const [k, v] of Object.entries(a)) attrs[`/sys/class/uacce/${name}/${k}`] = `${v}\n`;
    };
    const base = { api: 'hisi_qm_v2', flags: '1', region_mmio_size: '8192', region_dus_size: '151552' };
    add('hisi_zip-0', { ...base, algorithms: 'zlib\ngzip', available_instances: '60', isolate: '1' });
    add('hisi_zip-1', { ...base, algorithms: 'zlib\ngzip', available_instances: '5', isolate: '0', 'device/numa_node': '-1' });
    add('hisi_sec2-0', { ...base, algorithms: 'zlibx\ncbc(aes)', available_instances: '99', isolate: '0' });
    const fake = {
      *readdir(path: string) {
        return path === '/sys/class/uacce' ? ['hisi_zip-0', 'hisi_zip-1', 'hisi_sec2-0'].map((name) => ({ name })) : -2;
      },
      *readFile(path: string) {
        const v = attrs[path];
        return v === undefined ? -2 : new TextEncoder().encode(v);
      },
    } as unknown as Libc;
    const run = <T>(g: Generator<unknown, T, unknown>): T => {
      for (;;) {
        const r = g.next();
        if (r.done) return r.value;
      }
    };
    const list = run(wd_get_accel_list(fake, 'zlib'));
    expect(list.map((d) => [d.name, d.availableInstances, d.numaNode, d.devPath])).toEqual([['hisi_zip-1', 5, 0, '/dev/hisi_zip-1']]);
    expect(run(wd_get_accel_dev(fake, 'gzip'))?.name).toBe('hisi_zip-1');
    expect(run(wd_get_accel_list(fake, 'cbc(aes)')).map((d) => d.name)).toEqual(['hisi_sec2-0']);
    expect(run(wd_get_accel_list(fake, 'deflate'))).toEqual([]);
  });

  it('benchmark data is the same for the same seed and compressible text', () => {
    expect(benchData(256, 7)).toEqual(benchData(256, 7));
    expect(benchData(256, 7)).not.toEqual(benchData(256, 8));
    expect(new TextDecoder().decode(benchData(64, 1))).toMatch(/^[a-z ]+$/);
  });
});
