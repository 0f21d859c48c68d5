// The cost model: one table of named constants (virtual nanoseconds), with the source
// or reasoning for each. Users override entries with `createMachine({ cost: {...} })`.
// Device models and the CPU read their costs from here; nothing else invents a delay.

export const DEFAULT_COST = {
  /** A load or store that hits the CPU TLB and caches (~3 cycles at 2.6 GHz, Kunpeng 920). */
  cpuAccessNs: 1,
  /** One page-table descriptor read by a walker (an L2-cache/DRAM access, ~80 ns DRAM). */
  walkStepNs: 40,
  /** Exception entry + return (vector, ERET), order of 100 cycles. */
  exceptionNs: 50,
  /** System call round trip into the kernel and back. */
  syscallNs: 150,
  /** An uncached MMIO read or write as seen by the CPU (device register, ~200 ns over PCIe). */
  mmioNs: 200,
  /** DMA bandwidth of a bus master to DRAM, bytes per ns (~16 GB/s PCIe 4.0 x16-class interconnect). */
  dmaBytesPerNs: 16,
  /** Fixed latency of one DMA transaction (request + completion). */
  dmaLatencyNs: 100,
  /** SMMU: IOTLB hit cost added to a DMA transaction. */
  iotlbHitNs: 2,
  /** SMMU: processing one command from the command queue. */
  smmuCommandNs: 20,
  /** GIC ITS: processing one 32-byte command from its command queue (same order as an SMMU command). */
  itsCommandNs: 20,
  /** Interrupt delivery from a device write to the CPU taking it. */
  irqLatencyNs: 300,
  /** UART transmit time of one character at 115200 baud, 8N1 (10 bits). */
  uartCharNs: 86_806,
  /** ZIP engine: compression throughput of one core, bytes per ns (2 cores ~ 2.2 GB/s, Kunpeng 920 lzbench). */
  zipCompressBytesPerNsPerCore: 1.1,
  /** ZIP engine: decompression throughput of one core (6 cores ~ 1.5 GB/s). */
  zipDecompressBytesPerNsPerCore: 0.25,
  /** ZIP engine: fixed per-request overhead (SQE fetch, setup, write-back). */
  zipRequestOverheadNs: 1_000,
  /** QM: one mailbox command from the write of the word to busy=0 (Linux polls every 10 us, 1 ms timeout; a few us is typical). */
  qmMailboxNs: 2_000,
  /** QM: QM_MEM_START_INIT to MEM_INIT_DONE (SRAM initialisation; Linux allows 1 ms). */
  qmMemInitNs: 20_000,
  /** QM: QM_CACHE_WB_START to QM_CACHE_WB_DONE (write back cached SQC/CQC contexts). */
  qmCacheWriteBackNs: 1_000,
  /** Kernel: handling one anonymous page fault (allocation, zeroing, PTE write). */
  pageFaultNs: 1_000,
  /** Kernel: copying one byte between user and kernel (memcpy at ~10 GB/s). */
  copyByteNs: 0.1,
} as const;

export type CostModel = { -readonly [K in keyof typeof DEFAULT_COST]: number };

export function makeCostModel(overrides: Partial<CostModel> = {}): Readonly<CostModel> {
  const out: CostModel = { ...DEFAULT_COST };
  for (const [k, v] of Object.entries(overrides)) {
    if (!(k in DEFAULT_COST)) throw new Error(`unknown cost-model entry "${k}" (known: ${Object.keys(DEFAULT_COST).join(', ')})`);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`cost-model entry "${k}" must be a non-negative number`);
    out[k as keyof CostModel] = v;
  }
  return Object.freeze(out);
}
