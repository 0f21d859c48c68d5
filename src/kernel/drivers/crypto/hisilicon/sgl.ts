// Hardware SGLs for the HiSilicon accelerators (Linux drivers/crypto/hisilicon/sgl.c
// in shape): a pool of fixed-size SGLs in coherent DMA memory; a scatterlist is
// DMA-mapped and its entries written into one pool SGL, whose DMA address goes into
// the SQE with buf_type = SGL.
//
// Layout (struct hisi_acc_hw_sgl, 64-byte aligned): next_dma u64 @0,
// entry_sum_in_chain u16 @8, entry_sum_in_sgl u16 @10, entry_length_in_sgl u16 @12,
// pad to @64 (Linux keeps software pointers in the pad); then entries of 32 bytes
// (struct acc_hw_sge): buf u64 @0, page_ctrl (software) u64 @8, len u32 @16, pad.

import { thisCpu } from '../../../../arch/index.js';
import { EINVAL, ENOMEM } from '../../../lib/errno.js';
import type { Scatterlist } from '../../../crypto/scatterlist.js';
import { DMA_MAPPING_ERROR, qm_bus, type DmaCoherent } from './qm-bus.js';

export const HISI_ACC_SGL_SGE_NR_MIN = 1;
export const HISI_ACC_SGL_SGE_NR_MAX = 255;
export const HISI_ACC_SGL_ALIGN_SIZE = 64;
export const HISI_ACC_SGL_HEADER_SIZE = 64;
export const HISI_ACC_SGE_SIZE = 32;
/** Largest single coherent block the pool allocates (HISI_ACC_MEM_BLOCK_NR blocks in Linux). */
const POOL_BLOCK_MAX = 128 * 1024;

export const SGL_NEXT_DMA = 0;
export const SGL_ENTRY_SUM_IN_CHAIN = 8;
export const SGL_ENTRY_SUM_IN_SGL = 10;
export const SGL_ENTRY_LENGTH_IN_SGL = 12;
export const SGE_BUF = 0;
export const SGE_LEN = 16;

export class HisiAccSglPool {
  readonly sglSize: number;
  private readonly blocks: DmaCoherent[] = [];
  private readonly perBlock: number;
  constructor(
    readonly dev: object,
    readonly count: number,
    readonly sgeNr: number,
  ) {
    this.sglSize = alignUp(HISI_ACC_SGL_HEADER_SIZE + sgeNr * HISI_ACC_SGE_SIZE, HISI_ACC_SGL_ALIGN_SIZE);
    this.perBlock = Math.max(1, Math.floor(POOL_BLOCK_MAX / this.sglSize));
  }

  /** (cpu PA, dma) of SGL `index`. */
  get(index: number): { cpu: number; dma: number } | undefined {
    if (index < 0 || index >= this.count) return undefined;
    const b = this.blocks[Math.floor(index / this.perBlock)];
    if (b === undefined) return undefined;
    const off = (index % this.perBlock) * this.sglSize;
    return { cpu: b.cpu + off, dma: b.dma + off };
  }

  /** Fills the static header fields of every SGL (entry_length_in_sgl = sge_nr). */
  init(): number {
    const bus = qm_bus();
    const cpu = thisCpu();
    let left = this.count;
    while (left > 0) {
      const n = Math.min(left, this.perBlock);
      const mem = bus.dma_alloc_coherent(this.dev, n * this.sglSize);
      if (mem === null) {
        this.free();
        return -ENOMEM;
      }
      this.blocks.push(mem);
      for (let i = 0; i < n; i++) cpu.stPhys16(mem.cpu + i * this.sglSize + SGL_ENTRY_LENGTH_IN_SGL, this.sgeNr);
      left -= n;
    }
    return 0;
  }

  free(): void {
    const bus = qm_bus();
    for (const b of this.blocks) bus.dma_free_coherent(this.dev, b);
    this.blocks.length = 0;
  }
}

function alignUp(v: number, a: number): number {
  return Math.ceil(v / a) * a;
}

/** hisi_acc_create_sgl_pool: -EINVAL for a bad size, -ENOMEM when memory runs out. */
export function hisi_acc_create_sgl_pool(dev: object, count: number, sgeNr: number): HisiAccSglPool | number {
  if (count <= 0 || sgeNr < HISI_ACC_SGL_SGE_NR_MIN || sgeNr > HISI_ACC_SGL_SGE_NR_MAX) return -EINVAL;
  const pool = new HisiAccSglPool(dev, count, sgeNr);
  const r = pool.init();
  return r < 0 ? r : pool;
}

export function hisi_acc_free_sgl_pool(pool: HisiAccSglPool): void {
  pool.free();
}

/**
 * hisi_acc_sg_buf_map_to_hw_sgl: DMA-maps `sgl`, writes its entries into pool SGL
 * `index` and returns that SGL's DMA address, or -errno (-EINVAL when the list has
 * more entries than an SGL holds, -ENOMEM when a mapping fails).
 */
export function hisi_acc_sg_buf_map_to_hw_sgl(dev: object, sgl: Scatterlist[], pool: HisiAccSglPool, index: number): number {
  if (sgl.length === 0) return -EINVAL;
  if (sgl.length > pool.sgeNr) return -EINVAL;
  const hw = pool.get(index);
  if (hw === undefined) return -EINVAL;
  const bus = qm_bus();
  for (let i = 0; i < sgl.length; i++) {
    const s = sgl[i]!;
    const dma = bus.dma_map_single(dev, s.pa, s.length, 0);
    if (dma === DMA_MAPPING_ERROR) {
      hisi_acc_sg_buf_unmap(dev, sgl.slice(0, i));
      return -ENOMEM;
    }
    s.dma_address = dma;
    s.dma_length = s.length;
  }
  const cpu = thisCpu();
  for (let i = 0; i < sgl.length; i++) {
    const s = sgl[i]!;
    const e = hw.cpu + HISI_ACC_SGL_HEADER_SIZE + i * HISI_ACC_SGE_SIZE;
    cpu.stPhys64(e + SGE_BUF, s.dma_address);
    cpu.stPhys64(e + 8, 0);
    cpu.stPhys32(e + SGE_LEN, s.dma_length);
  }
  cpu.stPhys64(hw.cpu + SGL_NEXT_DMA, 0);
  cpu.stPhys16(hw.cpu + SGL_ENTRY_SUM_IN_CHAIN, sgl.length);
  cpu.stPhys16(hw.cpu + SGL_ENTRY_SUM_IN_SGL, sgl.length);
  cpu.stPhys16(hw.cpu + SGL_ENTRY_LENGTH_IN_SGL, pool.sgeNr);
  return hw.dma;
}

/** hisi_acc_sg_buf_unmap */
export function hisi_acc_sg_buf_unmap(dev: object, sgl: Scatterlist[]): void {
  const bus = qm_bus();
  for (const s of sgl) {
    if (s.dma_length > 0) bus.dma_unmap_single(dev, s.dma_address, s.dma_length, 0);
    s.dma_address = 0;
    s.dma_length = 0;
  }
}
