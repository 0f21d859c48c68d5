// The PRI queue (IHI 0070 chapter 8): PCIe Page Request Messages recorded as 16-byte
// entries, the overflow rules of 8.1 and the automatic PRG responses of 8.1/8.2, and
// the PRG Response codes of 8.3.

import { dw, dwAddr, StructLayout } from '../regs/struct-layout.js';

export const PRI_BYTES = 16;

/** PRI queue entry (chapter 8; field positions as Linux's PRIQ_* definitions). */
export const PRI = new StructLayout('PRI', PRI_BYTES, {
  StreamID: dw(0, 31, 0),
  SubstreamID: dw(0, 51, 32),
  Priv: dw(0, 58),
  Exec: dw(0, 59),
  Read: dw(0, 60),
  Write: dw(0, 61),
  Last: dw(0, 62),
  SSV: dw(0, 63),
  PRGIndex: dw(1, 8, 0),
  PageAddr: dwAddr(1, 63, 12),
});

/** PRG Response Message codes (8.3; PCIe Base 10.4.2). */
export const PRG_RESP_SUCCESS = 0b0000;
export const PRG_RESP_INVALID_REQUEST = 0b0001;
export const PRG_RESP_FAILURE = 0b1111;

/**
 * CMD_PRI_RESP.Resp (4.5.2) to the PRG Response code sent to the function: 0b00 is
 * ResponseFailure (Linux calls it PRI_RESP_DENY), 0b01 InvalidRequest (PRI_RESP_FAIL),
 * 0b10 Success (0b11 is ILLEGAL).
 */
export function priRespCode(resp: number): number {
  return resp === 2 ? PRG_RESP_SUCCESS : resp === 1 ? PRG_RESP_INVALID_REQUEST : PRG_RESP_FAILURE;
}

/** Encodes one page request into `words` (4 words). */
export function encodePageRequest(
  words: Uint32Array,
  sid: number,
  addr: number,
  ssid: number,
  ssv: boolean,
  read: boolean,
  write: boolean,
  exec: boolean,
  priv: boolean,
  prgIndex: number,
  last: boolean,
): Uint32Array {
  words.fill(0);
  PRI.set(words, PRI.f.StreamID, sid >>> 0);
  if (ssv) {
    PRI.set(words, PRI.f.SSV, 1);
    PRI.set(words, PRI.f.SubstreamID, ssid);
    // 8: when SSV == 0 the X and Priv bits are both 0
    PRI.set(words, PRI.f.Priv, priv);
    PRI.set(words, PRI.f.Exec, exec);
  }
  PRI.set(words, PRI.f.Read, read);
  PRI.set(words, PRI.f.Write, write);
  PRI.set(words, PRI.f.Last, last);
  PRI.set(words, PRI.f.PRGIndex, prgIndex & 0x1ff);
  PRI.set(words, PRI.f.PageAddr, addr - (addr % 4096));
  return words;
}
