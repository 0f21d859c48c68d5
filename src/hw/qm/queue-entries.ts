// Entries the QM writes into guest rings (reference section 3): the 16-byte CQE,
// the 4-byte EQE and AEQE. Each carries a phase bit that flips every lap so the
// consumer can tell new entries from old ones without a shared index.

import { StructLayout } from '../regs/struct-layout.js';

export const CQE = new StructLayout('CQE', 16, [
  { name: 'rsvd0', dword: 0, lsb: 0, width: 32 },
  { name: 'cmd_id', dword: 1, lsb: 0, width: 16 },
  { name: 'sq_head', dword: 2, lsb: 0, width: 16, description: 'index of the completed SQE (its slot holds the result)' },
  { name: 'sq_num', dword: 2, lsb: 16, width: 16 },
  { name: 'phase', dword: 3, lsb: 16, width: 1, description: 'w7 bit0' },
]);

export const EQE = new StructLayout('EQE', 4, [
  { name: 'cq_num', dword: 0, lsb: 0, width: 16 },
  { name: 'phase', dword: 0, lsb: 16, width: 1 },
]);

export const AEQE = new StructLayout('AEQE', 4, [
  { name: 'qp_id', dword: 0, lsb: 0, width: 16 },
  { name: 'phase', dword: 0, lsb: 16, width: 1 },
  { name: 'type', dword: 0, lsb: 17, width: 15 },
]);

/** AEQE.type values (Linux `QM_CQ_OVERFLOW` etc.). */
export const AeqeType = {
  CQ_OVERFLOW: 0,
  EQ_OVERFLOW: 1,
  CQE_ERROR: 2,
} as const;
