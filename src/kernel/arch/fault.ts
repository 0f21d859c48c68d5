// The arm64 data/instruction abort handler (arch/arm64/mm/fault.c do_page_fault):
// decodes ESR_EL1 and hands the fault to the core mm. Used by the sync vector for
// faults taken from EL0 and by the uaccess fixup path (copy_from_user & co.).

import { VM_FAULT_ERROR, VM_FAULT_OOM, VM_FAULT_SIGBUS, VM_FAULT_SIGSEGV, FAULT_FLAG_WRITE, FAULT_FLAG_USER, FAULT_FLAG_INSTRUCTION, FAULT_FLAG_REMOTE } from '../mm/mm_types.js';
import type { MmStruct } from '../mm/mm_types.js';
import { SIGBUS, SIGSEGV } from '../sched/task.js';

// ESR_EL1 (Arm ARM D17.2.37)
export const ESR_ELx_EC_SHIFT = 26;
export const ESR_ELx_EC_IABT_LOW = 0x20;
export const ESR_ELx_EC_IABT_CUR = 0x21;
export const ESR_ELx_EC_DABT_LOW = 0x24;
export const ESR_ELx_EC_DABT_CUR = 0x25;
export const ESR_ELx_EC_SVC64 = 0x15;
export const ESR_ELx_WNR = 1 << 6;
export const ESR_ELx_FSC = 0x3f;
// DFSC/IFSC groups (fault status codes, level in the low two bits)
export const ESR_ELx_FSC_FAULT = 0x04;
export const ESR_ELx_FSC_ACCESS = 0x08;
export const ESR_ELx_FSC_PERM = 0x0c;
export const ESR_ELx_FSC_EXTABT = 0x10;

/**
 * The core mm's fault handler (mm/memory.c handle_mm_fault), installed at boot by
 * mm_core_init's caller. Until then every user fault is unresolvable.
 */
let handle_mm_fault: (mm: MmStruct, address: number, flags: number) => number = () => VM_FAULT_SIGSEGV;

export function set_handle_mm_fault(fn: (mm: MmStruct, address: number, flags: number) => number): void {
  handle_mm_fault = fn;
}

/**
 * pagefault_out_of_memory (mm/oom_kill.c), installed with the OOM killer: what a fault
 * that still got VM_FAULT_OOM does; returns the signal to deliver (0: retry, any
 * pending SIGKILL is delivered on the way back). Until then such a fault is SIGSEGV.
 */
let pagefault_oom: () => number = () => SIGSEGV;

export function set_pagefault_out_of_memory(fn: () => number): void {
  pagefault_oom = fn;
}

export function esr_ec(esr: number): number {
  return (esr >>> ESR_ELx_EC_SHIFT) & 0x3f;
}

export function esr_is_abort(esr: number): boolean {
  const ec = esr_ec(esr);
  return ec === ESR_ELx_EC_DABT_LOW || ec === ESR_ELx_EC_DABT_CUR || ec === ESR_ELx_EC_IABT_LOW || ec === ESR_ELx_EC_IABT_CUR;
}

/** Fault flags for handle_mm_fault from an abort's ESR. */
export function esr_fault_flags(esr: number, user: boolean): number {
  const ec = esr_ec(esr);
  let flags = user ? FAULT_FLAG_USER : 0;
  if (ec === ESR_ELx_EC_IABT_LOW || ec === ESR_ELx_EC_IABT_CUR) flags |= FAULT_FLAG_INSTRUCTION;
  else if (esr & ESR_ELx_WNR) flags |= FAULT_FLAG_WRITE;
  return flags;
}

/**
 * do_page_fault: resolves a translation, access-flag or permission fault on a user
 * address. Returns 0 when the access can be retried, else the signal to deliver
 * (SIGSEGV for a bad address or permission, SIGBUS for an I/O or external error).
 */
export function do_page_fault(mm: MmStruct | null, far: number, esr: number, user: boolean, remote = false): number {
  if (mm === null) return SIGSEGV;
  const fsc = esr & ESR_ELx_FSC;
  if (!esr_is_abort(esr)) return SIGSEGV;
  if (fsc >= ESR_ELx_FSC_EXTABT) return SIGBUS;
  const flags = esr_fault_flags(esr, user) | (remote ? FAULT_FLAG_REMOTE : 0);
  const r = handle_mm_fault(mm, far, flags);
  if ((r & VM_FAULT_ERROR) === 0) return 0;
  // From user mode: pagefault_out_of_memory. A kernel access (the uaccess fixup, EL1) goes to
  // no_context as Linux's __do_kernel_fault: the copy fails and the caller returns -EFAULT.
  if (r & VM_FAULT_OOM) return esr_ec(esr) === ESR_ELx_EC_DABT_LOW || esr_ec(esr) === ESR_ELx_EC_IABT_LOW ? pagefault_oom() : SIGSEGV;
  return r & VM_FAULT_SIGBUS ? SIGBUS : SIGSEGV;
}
