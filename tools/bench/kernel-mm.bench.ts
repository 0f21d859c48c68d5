// kernel-mm hot paths on a real core, measured in the same run:
// - the anonymous demand-fault path (data abort at EL0 -> handle_mm_fault: page
//   allocation, zeroing, PTE write, rmap/LRU -> retried store) against a TLB-hit ld32
//   (target <= 50x), next to zeroing the same pages alone (the memset is part of the
//   fault, and on a cold 64 MiB set it is host memory bandwidth), and next to the same
//   zeroing done by the host alone on a plain buffer (the floor no emulator code is in);
// - the same fault loop over 1 MiB per round (report only): the pcp lists are LIFO, as
//   Linux's are, so each round gets back the pages the last one freed, still in the
//   host caches (the common case Linux optimises for); and the kernel's share of it,
//   handle_mm_fault called directly on the same rounds (report only);
// - fork + exit of a 64 MiB process (dup_mm copying 16384 PTEs copy-on-write, then
//   mmput of the child): host wall time.

import { figure, timeNsPerOp, type BenchFigure } from './figure.js';
import { ExceptionLevel, type ArchCpu, type ExceptionVectors } from '../../src/arch/cpu.js';
import { setCurrentCpu } from '../../src/arch/current.js';
import { Cluster } from '../../src/hw/cpu/cluster.js';
import type { Core } from '../../src/hw/cpu/core.js';
import { MachineCore } from '../../src/machine/machine.js';
import { cpu_setup_mmu, switch_mm } from '../../src/kernel/mm/context.js';
import { dup_mm, mm_alloc, mmput } from '../../src/kernel/mm/fork.js';
import { mm_core_init } from '../../src/kernel/mm/init.js';
import { GFP_HIGHUSER_MOVABLE, GFP_KERNEL } from '../../src/kernel/mm/gfp.js';
import { alloc_pages, put_page } from '../../src/kernel/mm/page_alloc.js';
import { handle_mm_fault } from '../../src/kernel/mm/memory.js';
import { do_mmap, do_munmap, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/kernel/mm/mmap.js';
import { FAULT_FLAG_USER, FAULT_FLAG_WRITE, type MmStruct, VM_FAULT_ERROR } from '../../src/kernel/mm/mm_types.js';
import { flush_tlb_mm } from '../../src/kernel/mm/tlbflush.js';
import { PTE_AF, PTE_HI_PXN, PTE_HI_UXN, PTE_NG, PTE_TYPE_PAGE, PTE_USER, pte_alloc, pte_clear, set_pte, walk_pte_range } from '../../src/kernel/mm/pgtable.js';

const RAM = 0x4000_0000;
/** The page the 'bare' handler maps everywhere (allocated from the kernel for it). */
let bareTarget = 0;
const MiB = 1 << 20;
const PAGE = 4096;

let sink = 0;

/** 'kernel': faults go to handle_mm_fault; 'bare': the handler only writes a PTE to a fixed page (the CPU's own round trip). */
let mode: 'kernel' | 'bare' = 'kernel';

function setup(): { cpu: Core; use: (mm: MmStruct) => void } {
  const m = new MachineCore({ ramSize: 512 * MiB });
  const cpu = new Cluster(m, 1).cores[0]!;
  setCurrentCpu(cpu);
  mm_core_init({ memory: [{ base: RAM, size: 512 * MiB }], reserved: [{ base: RAM, size: MiB }], swapBytes: 0 });
  cpu_setup_mmu(cpu);
  cpu.writeSysreg('SCTLR_EL1', cpu.readSysreg('SCTLR_EL1') | 1n);
  let current: MmStruct | null = null;
  const vectors: ExceptionVectors = {
    sync(c: ArchCpu, from: ExceptionLevel, esr: number, far: number) {
      const flags = (esr & (1 << 6) ? FAULT_FLAG_WRITE : 0) | (from === ExceptionLevel.EL0 ? FAULT_FLAG_USER : 0);
      if (mode === 'bare' && current !== null) {
        const ptep = pte_alloc(c, current, far - (far % PAGE));
        set_pte(c, ptep, (bareTarget | PTE_TYPE_PAGE | PTE_USER | PTE_AF | PTE_NG) >>> 0, PTE_HI_UXN | PTE_HI_PXN);
        return;
      }
      const r = current === null ? VM_FAULT_ERROR : handle_mm_fault(current, far, flags);
      if (r & VM_FAULT_ERROR) throw new Error(`bench: unresolved fault at 0x${far.toString(16)}`);
    },
    irq() {},
    *svc() {
      return 0;
    },
  };
  cpu.setVectors(0, vectors);
  cpu.setEl(ExceptionLevel.EL0);
  return {
    cpu,
    use(mm) {
      current = mm;
      switch_mm(cpu, mm);
    },
  };
}

function anon(mm: MmStruct, len: number): number {
  const a = do_mmap(mm, null, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, 0, { memlockLimit: Infinity, capIpcLock: true });
  if (a < 0) throw new Error(`bench: mmap failed ${a}`);
  return a;
}

export async function bench(): Promise<BenchFigure[]> {
  const { cpu, use } = setup();
  const mm = mm_alloc()!;
  use(mm);

  const hot = anon(mm, 4 * PAGE);
  for (let i = 0; i < 4; i++) cpu.st32(hot + i * PAGE, i);
  const hitNs = timeNsPerOp((n) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += cpu.ld32(hot + ((i * 4) & 0x3ffc));
    sink += s;
  }, 5_000_000);

  // Hot: 1 MiB per round, so the pages (recycled through the pcp list) and their metadata stay cached.
  const hotPages = 256;
  const hotRounds = 64;
  const hotSamples: number[] = [];
  for (let sample = -1; sample < 9; sample++) {
    let ns = 0;
    for (let round = 0; round < hotRounds; round++) {
      const a = anon(mm, hotPages * PAGE);
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < hotPages; i++) cpu.st32(a + i * PAGE, i);
      ns += Number(process.hrtime.bigint() - t0);
      do_munmap(mm, a, hotPages * PAGE);
    }
    if (sample >= 0) hotSamples.push(ns / (hotRounds * hotPages)); // sample -1 warms up
  }
  hotSamples.sort((x, y) => x - y);
  const hotFaultNs = hotSamples[hotSamples.length >> 1]!;

  // Report only: the kernel's share of the hot fault, handle_mm_fault called directly for
  // each page of the same 1 MiB rounds (no exception entry/return, no retried store).
  const kernelSamples: number[] = [];
  for (let sample = -1; sample < 9; sample++) {
    let ns = 0;
    for (let round = 0; round < hotRounds; round++) {
      const a = anon(mm, hotPages * PAGE);
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < hotPages; i++) {
        if (handle_mm_fault(mm, a + i * PAGE, FAULT_FLAG_WRITE | FAULT_FLAG_USER) & VM_FAULT_ERROR) throw new Error('bench: kernel fault failed');
      }
      ns += Number(process.hrtime.bigint() - t0);
      do_munmap(mm, a, hotPages * PAGE);
    }
    if (sample >= 0) kernelSamples.push(ns / (hotRounds * hotPages));
  }
  kernelSamples.sort((x, y) => x - y);
  const kernelHotNs = kernelSamples[kernelSamples.length >> 1]!;

  // Demand faults: each round maps 64 MiB, stores once into each page, unmaps it. Measured
  // after the hot rounds above have warmed the fault path's JIT code up (measured first, its
  // median landed on rounds still running code V8 was optimising).
  const pages = 16384;
  const samples: number[] = [];
  for (let round = -1; round < 7; round++) {
    const a = anon(mm, pages * PAGE);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < pages; i++) cpu.st32(a + i * PAGE, i);
    if (round >= 0) samples.push(Number(process.hrtime.bigint() - t0) / pages); // round -1 warms the JIT up
    do_munmap(mm, a, pages * PAGE);
  }
  samples.sort((x, y) => x - y);
  const faultNs = samples[samples.length >> 1]!;

  // Zeroing alone (prep_new_page's __GFP_ZERO work) over the same 64 MiB of pages, cold in
  // the host caches as the faults find them: the floor under the anon fault on this host.
  const zero: number[] = [];
  const pfns = new Float64Array(pages);
  for (let round = -1; round < 7; round++) {
    for (let i = 0; i < pages; i++) pfns[i] = alloc_pages(0, GFP_HIGHUSER_MOVABLE);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < pages; i++) cpu.fillPhys(pfns[i]! * PAGE, 0, PAGE);
    if (round >= 0) zero.push(Number(process.hrtime.bigint() - t0) / pages);
    for (let i = 0; i < pages; i++) put_page(pfns[i]!);
  }
  zero.sort((x, y) => x - y);
  const zeroNs = zero[zero.length >> 1]!;

  // The host's own floor, no emulator code: Uint8Array.fill(0) of one 4 KiB page of a plain
  // 64 MiB buffer, in address order (the hardware prefetcher's best case), after another
  // 64 MiB buffer has been written to push it out of the caches, as the fault loop's pages are.
  const hostRam = new Uint8Array(pages * PAGE).fill(1);
  const evict = new Uint8Array(pages * PAGE);
  const memset: number[] = [];
  for (let round = -1; round < 7; round++) {
    evict.fill(round & 0xff);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < pages; i++) hostRam.fill(0, i * PAGE, i * PAGE + PAGE);
    if (round >= 0) memset.push(Number(process.hrtime.bigint() - t0) / pages);
  }
  memset.sort((x, y) => x - y);
  const memsetNs = memset[memset.length >> 1]!;

  // The same loop with a handler that only installs a PTE: the CPU's fault round trip (two walks,
  // exception entry and return) without the kernel's work.
  mode = 'bare';
  bareTarget = alloc_pages(0, GFP_KERNEL) * PAGE;
  const bare: number[] = [];
  const refill: number[] = [];
  for (let round = -1; round < 7; round++) {
    const a = anon(mm, pages * PAGE);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < pages; i++) cpu.st32(a + i * PAGE, i);
    if (round >= 0) bare.push(Number(process.hrtime.bigint() - t0) / pages);
    // Report only: the same stores again after a TLB flush: a refill each (the walk, its walk-cache
    // hit for the tables above the PTE, the TLB fill), no exception.
    flush_tlb_mm(mm);
    const t1 = process.hrtime.bigint();
    for (let i = 0; i < pages; i++) cpu.st32(a + i * PAGE, i);
    refill.push(Number(process.hrtime.bigint() - t1) / pages);
    walk_pte_range(mm, a, a + pages * PAGE, (ptep) => pte_clear(cpu, ptep)); // not real pages: drop before munmap
    do_munmap(mm, a, pages * PAGE);
  }
  mode = 'kernel';
  bare.sort((x, y) => x - y);
  const bareNs = bare[bare.length >> 1]!;
  refill.sort((x, y) => x - y);
  const refillNs = refill[refill.length >> 1]!;

  // fork + exit of a 64 MiB process.
  const big = anon(mm, pages * PAGE);
  for (let i = 0; i < pages; i++) cpu.st32(big + i * PAGE, i);
  const forkMs: number[] = [];
  for (let round = 0; round < 5; round++) {
    const t0 = process.hrtime.bigint();
    const child = dup_mm(mm)!;
    mmput(child);
    forkMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  forkMs.sort((x, y) => x - y);
  if (sink === -1) console.log(sink);
  setCurrentCpu(undefined);

  return [
    figure('kernel_mm.anon_fault_vs_tlb_hit_ld32', faultNs / hitNs, 'x', { max: 50 }, `fault ${faultNs.toFixed(0)} ns, TLB-hit ld32 ${hitNs.toFixed(1)} ns`),
    figure('kernel_mm.anon_fault_ns', faultNs, 'ns'),
    figure('kernel_mm.anon_fault_hot_vs_tlb_hit_ld32', hotFaultNs / hitNs, 'x', undefined, `1 MiB per round (pages back cache-hot from the pcp list): fault ${hotFaultNs.toFixed(0)} ns`),
    figure('kernel_mm.anon_fault_hot_ns', hotFaultNs, 'ns'),
    figure('kernel_mm.anon_fault_kernel_hot_vs_tlb_hit_ld32', kernelHotNs / hitNs, 'x', undefined, `handle_mm_fault alone on the hot rounds (no exception, no retried store): ${kernelHotNs.toFixed(0)} ns`),
    figure('kernel_mm.clear_page_cold_vs_tlb_hit_ld32', zeroNs / hitNs, 'x', undefined, `zeroing one page of the faults' 64 MiB set (no fault): ${zeroNs.toFixed(0)} ns`),
    figure('kernel_mm.host_memset_4k_cold_vs_tlb_hit_ld32', memsetNs / hitNs, 'x', undefined, `host floor under any first touch: Uint8Array.fill(0) of a 4 KiB page of a plain 64 MiB buffer out of the caches: ${memsetNs.toFixed(0)} ns`),
    figure('kernel_mm.cpu_fault_roundtrip_vs_tlb_hit_ld32', bareNs / hitNs, 'x', undefined, `the same store with a handler that only writes the PTE: ${bareNs.toFixed(0)} ns`),
    figure('kernel_mm.tlb_refill_vs_tlb_hit_ld32', refillNs / hitNs, 'x', undefined, `a store to a mapped page whose TLB entry was flushed (walk with the walk cache, TLB fill): ${refillNs.toFixed(0)} ns`),
    figure('kernel_mm.fork_exit_64mib_ms', forkMs[forkMs.length >> 1]!, 'ms', undefined, 'dup_mm + mmput of the child, 16384 present pages'),
  ];
}
