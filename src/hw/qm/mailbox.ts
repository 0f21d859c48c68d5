// The QM mailbox (hisi_qm v2, reference section 4): one 16-byte command word at
// 0x300. Linux writes it with a single 128-bit store, which reaches the bus as two
// 64-bit writes (0x300, then 0x308); a driver may also use four 32-bit writes.
//
// Trigger rule of this model: the command executes when all 16 bytes of the word
// have been written since the previous command, whatever the order and width of
// the writes; the write that completes the word triggers it. Reads of 0x304/0x308
// return QM_MB_CMD_DATA_ADDR_L/H (query results), not the written base address.

import { StructLayout } from '../regs/struct-layout.js';

export const MAILBOX = new StructLayout('MAILBOX', 16, [
  { name: 'cmd', dword: 0, lsb: 0, width: 8 },
  { name: 'event', dword: 0, lsb: 8, width: 1 },
  { name: 'status', dword: 0, lsb: 9, width: 4, description: 'non-zero: the last command failed (newer kernels: -EIO)' },
  { name: 'busy', dword: 0, lsb: 13, width: 1 },
  { name: 'op', dword: 0, lsb: 14, width: 1, description: '1 read/query (dump), 0 write (load)' },
  { name: 'queue_num', dword: 0, lsb: 16, width: 16 },
  { name: 'base_l', dword: 1, lsb: 0, width: 32 },
  { name: 'base_h', dword: 2, lsb: 0, width: 32 },
  { name: 'rsvd', dword: 3, lsb: 0, width: 32 },
]);

export const QM_MB_BUSY = 1 << 13;
export const QM_MB_STATUS_SHIFT = 9;

/** Mailbox commands (Linux `QM_MB_CMD_*`). */
export const MailboxCmd = {
  SQC: 0x0,
  CQC: 0x1,
  EQC: 0x2,
  AEQC: 0x3,
  SQC_BT: 0x4,
  CQC_BT: 0x5,
  SQC_VFT_V2: 0x6,
  STOP_QP: 0x8,
  SRC: 0xc,
  DST: 0xd,
} as const;

/**
 * Status codes this model reports in w0[12:9]. The hardware's own values are not
 * public; Linux only tests status != 0, so any non-zero code fails the command.
 */
export const MailboxStatus = {
  OK: 0,
  /** Unknown command, or a command this v2 QM does not implement (STOP_QP, PF-VF messages). */
  BAD_CMD: 1,
  /** queue_num beyond the QM's queue count. */
  BAD_QUEUE: 2,
  /** The context DMA was aborted (SMMU abort or bus error). */
  DMA_FAULT: 3,
  /** A command word was written while busy: it was discarded. */
  COLLISION: 4,
} as const;
