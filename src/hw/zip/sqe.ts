// The ZIP submission queue entry (128 bytes, 32 dwords; reference section 6, Linux
// zip.h `struct hisi_zip_sqe`, UADK drv/hisi_comp.c). The engine reads the request
// from it and writes the result back into the same slot.
//
// Status codes (dw3[7:0]): the hardware's public codes are the ones Linux and UADK
// name: 0x00 ok, 0x0d negative compression, 0x0e dest_avail_out too small, 0x0f input
// DIF error, 0x10 CRC error, 0x12 uncompressed DIF error, 0x13 decompression end (the
// end of a stateful stream; a stateless decompression that completes reports 0, the
// only success Linux's stateless hisi_zip_acomp_cb accepts besides 0x0d); and ctx_st
// (ctx_dw0[3:0]) 0x1-0x4 for stateful streams. No public source says what the
// hardware writes for a request it cannot run (unsupported req_type, buf_type,
// sqe_type or window, an input above 8 MiB, a stateful request without a usable
// context), a corrupt or truncated stream, an SGL it cannot parse, or an aborted
// transfer. This model reports all of them with ONE code of its own,
// ZipStatus.IMPLEMENTATION_DEFINED_ERROR (0x20); the drivers only need "not 0, 0x0d
// or 0x13" (Linux hisi_zip_acomp_cb: -EIO; UADK parse_zip_sqe: WD_IN_EPARA). Where
// the hardware has a fact to show, it shows it besides the code: an SGL it cannot
// parse sets HZIP_CORE_INT src_addr_parse / dst_addr_parse, an aborted data read or
// write sets axi_rresp / axi_bresp (Linux zip_main.c zip_hw_error), which raise the
// abnormal MSI.

import { StructLayout } from '../regs/struct-layout.js';

export const ZIP_SQE_BYTES = 128;

export const ZIP_SQE = new StructLayout('ZIP_SQE', ZIP_SQE_BYTES, [
  { name: 'consumed', dword: 0, lsb: 0, width: 32, description: 'out: input bytes consumed' },
  { name: 'produced', dword: 1, lsb: 0, width: 32, description: 'out: output bytes written' },
  { name: 'comp_data_length', dword: 2, lsb: 0, width: 32 },
  { name: 'status', dword: 3, lsb: 0, width: 8, description: 'out: status code (ZipStatus)' },
  { name: 'lstblk', dword: 3, lsb: 8, width: 1, description: 'out: last deflate block seen' },
  { name: 'input_data_length', dword: 4, lsb: 0, width: 32 },
  { name: 'dw5', dword: 5, lsb: 0, width: 32 },
  { name: 'dw6', dword: 6, lsb: 0, width: 32 },
  { name: 'in_sge_data_offset', dword: 7, lsb: 0, width: 24, description: 'bytes skipped at the start of the source' },
  { name: 'flush_type', dword: 7, lsb: 25, width: 1, description: '1 FINISH, 0 SYNC_FLUSH' },
  { name: 'stream_mode', dword: 7, lsb: 26, width: 1, description: '1 stateful' },
  { name: 'stream_new', dword: 7, lsb: 27, width: 1, description: 'first request of a stateful stream' },
  { name: 'sqe_type', dword: 7, lsb: 28, width: 4, description: '0 = v2 format (tag in dw13), 3 = v3 format' },
  { name: 'out_sge_data_offset', dword: 8, lsb: 0, width: 24, description: 'bytes skipped at the start of the destination' },
  { name: 'req_type', dword: 9, lsb: 0, width: 8 },
  { name: 'buf_type', dword: 9, lsb: 8, width: 4, description: '0 flat, 1 hardware SGL' },
  { name: 'window', dword: 9, lsb: 12, width: 4, description: '0 4K, 1 8K, 2 16K, 3 24K, 4 32K' },
  { name: 'dw10', dword: 10, lsb: 0, width: 32 },
  { name: 'dw11', dword: 11, lsb: 0, width: 32 },
  { name: 'dw12', dword: 12, lsb: 0, width: 32 },
  { name: 'tag', dword: 13, lsb: 0, width: 32, description: 'sqe_type 0: software tag, returned unchanged' },
  { name: 'dest_avail_out', dword: 14, lsb: 0, width: 32 },
  { name: 'ctx_st', dword: 15, lsb: 0, width: 4, description: 'out: stream state (ZipCtxState)' },
  { name: 'ctx_bfinal', dword: 15, lsb: 7, width: 1, description: 'out: BFINAL of the current block' },
  { name: 'ctx_head_bits', dword: 15, lsb: 10, width: 6, description: 'out: bits held in the bit buffer' },
  { name: 'dw16', dword: 16, lsb: 0, width: 32 },
  { name: 'dw17', dword: 17, lsb: 0, width: 32 },
  { name: 'source_addr_l', dword: 18, lsb: 0, width: 32 },
  { name: 'source_addr_h', dword: 19, lsb: 0, width: 32 },
  { name: 'dest_addr_l', dword: 20, lsb: 0, width: 32 },
  { name: 'dest_addr_h', dword: 21, lsb: 0, width: 32 },
  { name: 'stream_ctx_addr_l', dword: 22, lsb: 0, width: 32 },
  { name: 'stream_ctx_addr_h', dword: 23, lsb: 0, width: 32 },
  { name: 'literals_addr_l', dword: 24, lsb: 0, width: 32 },
  { name: 'literals_addr_h', dword: 25, lsb: 0, width: 32 },
  { name: 'dw26', dword: 26, lsb: 0, width: 32, description: 'sqe_type 3: software tag' },
  { name: 'dw27', dword: 27, lsb: 0, width: 32 },
  { name: 'ctx_dw1', dword: 28, lsb: 0, width: 32, description: 'out: [18:0] stored-block bytes pending' },
  { name: 'ctx_dw2', dword: 29, lsb: 0, width: 32, description: 'out: [15:0] window bytes held' },
  { name: 'isize', dword: 30, lsb: 0, width: 32, description: 'gzip ISIZE carried across a stream' },
  { name: 'checksum', dword: 31, lsb: 0, width: 32, description: 'running Adler-32 (zlib) / CRC-32 (gzip)' },
]);

/** req_type values (dw9[7:0]). This v2 engine implements deflate, zlib and gzip. */
export const ZipReqType = {
  DEFLATE: 0x01,
  ZLIB: 0x02,
  GZIP: 0x03,
  LZ4: 0x04,
  LZ77_ONLY: 0x40,
  LZ77_ZSTD_PRICE: 0x42,
  LZ77_ZSTD: 0x43,
} as const;

/** Status codes (dw3[7:0]); see the header comment for what is public and what is not. */
export const ZipStatus = {
  OK: 0x00,
  /** Compressed output larger than the input: valid output, success for the drivers. */
  NEGACOMPRESS: 0x0d,
  /** dest_avail_out too small for the output (nothing consumed). */
  DSTLEN_OUT: 0x0e,
  /** Trailer checksum (Adler-32 / CRC-32) or ISIZE mismatch on decompression. */
  CRC_ERR: 0x10,
  /** Decompression reached the end of the final block. */
  DECOMP_END: 0x13,
  /**
   * IMPLEMENTATION-DEFINED (this model's code, not the hardware's): a request the
   * engine cannot run, a corrupt or truncated stream, an unparsable SGL, an aborted
   * transfer. The HZIP_CORE_INT bits tell the last two apart.
   */
  IMPLEMENTATION_DEFINED_ERROR: 0x20,
} as const;

/** Stream state (ctx_dw0[3:0]) reported with a stateful decompression. */
export const ZipCtxState = {
  NONE: 0x0,
  /** The final block is being output but the destination is full. */
  LAST_BLOCK_NO_SPACE: 0x1,
  /** The destination filled while decompressing. */
  NO_SPACE: 0x2,
  /** Stateful decompression: all input consumed at a block boundary, the next block not started: send more. */
  BLOCK_NOT_STARTED: 0x3,
  /** Stream end without a checked trailer: the input ended before it, or the check is off (HZIP_CLOCK_GATE_CTRL bit 16). */
  NO_CRC: 0x4,
} as const;

/** Window field (dw9[15:12]) to history bytes. */
export const ZIP_WINDOW_BYTES = [4096, 8192, 16384, 24576, 32768] as const;
