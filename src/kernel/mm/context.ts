// ASID allocation and switch_mm (arch/arm64/mm/context.c). mm->context.id holds
// generation | ASID. An mm whose generation is current keeps its ASID; otherwise it
// gets a new one from the bitmap. When the bitmap is full the generation rolls over:
// every ASID is freed except those live on a core (kept as reserved so running tasks
// stay correct) and those pinned by arm64_mm_context_get (an SMMU context descriptor
// shares them for SVA), and the TLBs of all cores are flushed (TLBI VMALLE1IS).
// KPTI is not modelled: ASIDs are not paired and a pinned ASID is returned as it is.

import { thisCpu, type ArchCpu } from '../../arch/index.js';
import type { MmStruct } from './mm_types.js';
import { nr_cpu_ids } from '../sched/core.js';
import { TCR_EL1_SET, MAIR_EL1_SET } from './pgtable.js';

let asid_bits = 16;
let asid_mask = (1 << asid_bits) - 1;
/** ASID_FIRST_VERSION: generations count in units above the ASID bits. */
let asid_first_version = 1 << asid_bits;
let asid_generation = asid_first_version;
let asid_map = new Uint8Array(1 << asid_bits);
let cur_idx = 1;
/** Per-core ASID currently in TTBR0 (active_asids) and kept across a rollover (reserved_asids). */
const active_asids: number[] = [];
const reserved_asids: number[] = [];
/** Rollovers so far (for tests and /proc/vmstat-style debugging). */
export let asid_rollovers = 0;
let reserved_pgd = 0;
/** pinned_asid_map: ASIDs that survive every rollover while pinned. */
let pinned_asid_map = new Uint8Array(1 << asid_bits);
let nr_pinned_asids = 0;
/** mm->context.pinned: the pin count of each mm with a pinned ASID. */
let pinned = new WeakMap<MmStruct, number>();

/** ASID(mm): the hardware ASID of the mm's context id. */
export function ASID(mm: MmStruct): number {
  return mm.context_id & asid_mask;
}

/**
 * asids_init: sets the ASID width (16 on this CPU: ID_AA64MMFR0_EL1.ASIDBits = 2;
 * tests use fewer to force rollovers) and the empty table TTBR0 points at when no
 * user mm is live (reserved_pg_dir).
 */
export function asids_init(bits = 16, reservedPgdPa = 0): void {
  asid_bits = bits;
  asid_mask = bits >= 31 ? 0x7fffffff : (1 << bits) - 1;
  asid_first_version = 2 ** bits;
  asid_generation = asid_first_version;
  asid_map = new Uint8Array(2 ** bits);
  asid_map[0] = 1; // ASID 0 is the reserved context (init_mm / kernel threads)
  cur_idx = 1;
  active_asids.length = 0;
  reserved_asids.length = 0;
  asid_rollovers = 0;
  reserved_pgd = reservedPgdPa;
  pinned_asid_map = new Uint8Array(2 ** bits);
  nr_pinned_asids = 0;
  pinned = new WeakMap();
}

export function asid_bits_in_use(): number {
  return asid_bits;
}

function generation_of(id: number): number {
  return id - (id % asid_first_version);
}

/** flush_context: rollover. Keeps the pinned and per-core live ASIDs and flushes every TLB. */
function flush_context(cpu: ArchCpu): void {
  // set_reserved_asid_bits: the new generation starts with the pinned ASIDs taken
  asid_map.set(pinned_asid_map);
  asid_map[0] = 1;
  for (let i = 0; i < Math.max(active_asids.length, reserved_asids.length); i++) {
    let asid = active_asids[i] ?? 0;
    if (asid === 0) asid = reserved_asids[i] ?? 0; // the core ran no user mm since the last rollover
    if (asid !== 0) asid_map[asid & asid_mask] = 1;
    reserved_asids[i] = asid;
    active_asids[i] = 0;
  }
  asid_rollovers++;
  // Linux defers a local TLBI to each core's next switch; one broadcast flush is equivalent here.
  cpu.dsb();
  cpu.tlbi('VMALLE1IS');
  cpu.dsb();
  cpu.isb();
}

function check_update_reserved_asid(asid: number, newid: number): boolean {
  let hit = false;
  for (let i = 0; i < reserved_asids.length; i++) {
    if (reserved_asids[i] === asid) {
      hit = true;
      reserved_asids[i] = newid;
    }
  }
  return hit;
}

function new_context(cpu: ArchCpu, mm: MmStruct): number {
  const old = mm.context_id;
  const generation = asid_generation;
  if (old !== 0) {
    const newid = generation + (old & asid_mask);
    // A reserved ASID (live on a core at rollover) moves to the new generation unchanged.
    if (check_update_reserved_asid(old, newid)) return newid;
    // So does a pinned one (its bit is already set in the new generation's map).
    if (pinned.has(mm)) return newid;
    // Keep the old ASID if nobody took it in this generation.
    if (asid_map[old & asid_mask] === 0) {
      asid_map[old & asid_mask] = 1;
      return newid;
    }
  }
  let asid = -1;
  const n = asid_map.length;
  for (let i = cur_idx; i < n; i++) {
    if (asid_map[i] === 0) {
      asid = i;
      break;
    }
  }
  if (asid < 0) {
    asid_generation += asid_first_version;
    flush_context(cpu);
    for (let i = 1; i < n; i++) {
      if (asid_map[i] === 0) {
        asid = i;
        break;
      }
    }
  }
  asid_map[asid] = 1;
  cur_idx = asid;
  return asid_generation + asid;
}

/** max_pinned_asids: what is left once every core may hold a reserved ASID (plus ASID 0 and one to allocate). */
function max_pinned_asids(): number {
  return 2 ** asid_bits - Math.max(1, nr_cpu_ids()) - 2;
}

/**
 * arm64_mm_context_get: pins the mm's ASID so that it survives rollovers (an SMMU CD
 * uses it for SVA). Gives the mm an ASID of the current generation first if it has
 * none. Returns the ASID, or 0 when too many ASIDs are pinned already.
 */
export function arm64_mm_context_get(mm: MmStruct): number {
  const refs = pinned.get(mm);
  if (refs !== undefined) {
    pinned.set(mm, refs + 1);
    return ASID(mm);
  }
  if (nr_pinned_asids >= max_pinned_asids()) return 0;
  // We went through one or more rollovers since the mm last ran: get a valid ASID
  if (mm.context_id === 0 || generation_of(mm.context_id) !== asid_generation) mm.context_id = new_context(thisCpu(), mm);
  nr_pinned_asids++;
  pinned_asid_map[ASID(mm)] = 1;
  pinned.set(mm, 1);
  return ASID(mm);
}

/** arm64_mm_context_put: drops a pin; the last one lets the next rollover reuse the ASID. */
export function arm64_mm_context_put(mm: MmStruct): void {
  const refs = pinned.get(mm);
  if (refs === undefined) return;
  if (refs > 1) {
    pinned.set(mm, refs - 1);
    return;
  }
  pinned.delete(mm);
  pinned_asid_map[ASID(mm)] = 0;
  nr_pinned_asids--;
}

/** The pin count of the mm's ASID (mm->context.pinned), for tests and debugging. */
export function mm_context_pinned(mm: MmStruct): number {
  return pinned.get(mm) ?? 0;
}

/** check_and_switch_context: gives `mm` an ASID of the current generation and records it live on `cpu`. */
export function check_and_switch_context(cpu: ArchCpu, mm: MmStruct): void {
  if (mm.context_id === 0 || generation_of(mm.context_id) !== asid_generation) mm.context_id = new_context(cpu, mm);
  active_asids[cpu.id] = mm.context_id;
}

/**
 * switch_mm: makes `mm` the live user address space of `cpu` (TTBR0_EL1 = pgd with
 * its ASID in bits 63:48). `null` installs the reserved empty table with ASID 0, as
 * a kernel thread runs.
 */
export function switch_mm(cpu: ArchCpu, mm: MmStruct | null): void {
  if (mm === null || mm.dead) {
    active_asids[cpu.id] = 0;
    cpu.writeSysreg('TTBR0_EL1', BigInt(reserved_pgd));
    cpu.isb();
    return;
  }
  check_and_switch_context(cpu, mm);
  cpu.writeSysreg('TTBR0_EL1', (BigInt(mm.context_id & asid_mask) << 48n) | BigInt(mm.pgd));
  cpu.isb();
}

/** __cpu_setup's MMU registers for a core: MAIR_EL1 and TCR_EL1 as the page tables expect. */
export function cpu_setup_mmu(cpu: ArchCpu): void {
  cpu.writeSysreg('MAIR_EL1', MAIR_EL1_SET);
  cpu.writeSysreg('TCR_EL1', TCR_EL1_SET);
  cpu.writeSysreg('TTBR0_EL1', BigInt(reserved_pgd));
  cpu.isb();
}
