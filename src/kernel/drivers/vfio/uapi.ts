// The VFIO uAPI as the kernel side sees it (include/uapi/linux/vfio.h): ioctl numbers,
// flags, fixed vfio-pci indexes, and the ioctl structures as tables of
// [field, byte offset, bytes] (LP64, little-endian), read from and written to user
// memory in one copy each way. User space keeps its own copy (src/user/bin/vfio_*.ts).

import { EFAULT } from '../../lib/errno.js';
import { copy_from_user, copy_to_user } from '../../lib/uaccess.js';

/** Every VFIO ioctl is _IO(';', 100 + n): no size or direction bits. */
const VFIO_TYPE = 0x3b;
const VFIO_BASE = 100;
const vfio_io = (n: number): number => (VFIO_TYPE << 8) | (VFIO_BASE + n);

export const VFIO_API_VERSION = 0;

export const VFIO_GET_API_VERSION = vfio_io(0);
export const VFIO_CHECK_EXTENSION = vfio_io(1);
export const VFIO_SET_IOMMU = vfio_io(2);
export const VFIO_GROUP_GET_STATUS = vfio_io(3);
export const VFIO_GROUP_SET_CONTAINER = vfio_io(4);
export const VFIO_GROUP_UNSET_CONTAINER = vfio_io(5);
export const VFIO_GROUP_GET_DEVICE_FD = vfio_io(6);
export const VFIO_DEVICE_GET_INFO = vfio_io(7);
export const VFIO_DEVICE_GET_REGION_INFO = vfio_io(8);
export const VFIO_DEVICE_GET_IRQ_INFO = vfio_io(9);
export const VFIO_DEVICE_SET_IRQS = vfio_io(10);
export const VFIO_DEVICE_RESET = vfio_io(11);
export const VFIO_IOMMU_GET_INFO = vfio_io(12);
export const VFIO_IOMMU_MAP_DMA = vfio_io(13);
export const VFIO_IOMMU_UNMAP_DMA = vfio_io(14);

// Extensions / IOMMU types (VFIO_CHECK_EXTENSION, VFIO_SET_IOMMU)
export const VFIO_TYPE1_IOMMU = 1;
export const VFIO_SPAPR_TCE_IOMMU = 2;
export const VFIO_TYPE1v2_IOMMU = 3;
export const VFIO_DMA_CC_IOMMU = 4;
export const VFIO_EEH = 5;
export const VFIO_SPAPR_TCE_v2_IOMMU = 7;
export const VFIO_NOIOMMU_IOMMU = 8;
export const VFIO_UNMAP_ALL = 9;
export const VFIO_UPDATE_VADDR = 10;

export const VFIO_GROUP_FLAGS_VIABLE = 1 << 0;
export const VFIO_GROUP_FLAGS_CONTAINER_SET = 1 << 1;

export const VFIO_DEVICE_FLAGS_RESET = 1 << 0;
export const VFIO_DEVICE_FLAGS_PCI = 1 << 1;
export const VFIO_DEVICE_FLAGS_CAPS = 1 << 7;

export const VFIO_REGION_INFO_FLAG_READ = 1 << 0;
export const VFIO_REGION_INFO_FLAG_WRITE = 1 << 1;
export const VFIO_REGION_INFO_FLAG_MMAP = 1 << 2;
export const VFIO_REGION_INFO_FLAG_CAPS = 1 << 3;
/** Region capability ids. */
export const VFIO_REGION_INFO_CAP_SPARSE_MMAP = 1;
export const VFIO_REGION_INFO_CAP_TYPE = 2;
export const VFIO_REGION_INFO_CAP_MSIX_MAPPABLE = 3;

export const VFIO_IRQ_INFO_EVENTFD = 1 << 0;
export const VFIO_IRQ_INFO_MASKABLE = 1 << 1;
export const VFIO_IRQ_INFO_AUTOMASKED = 1 << 2;
export const VFIO_IRQ_INFO_NORESIZE = 1 << 3;

export const VFIO_IRQ_SET_DATA_NONE = 1 << 0;
export const VFIO_IRQ_SET_DATA_BOOL = 1 << 1;
export const VFIO_IRQ_SET_DATA_EVENTFD = 1 << 2;
export const VFIO_IRQ_SET_ACTION_MASK = 1 << 3;
export const VFIO_IRQ_SET_ACTION_UNMASK = 1 << 4;
export const VFIO_IRQ_SET_ACTION_TRIGGER = 1 << 5;
export const VFIO_IRQ_SET_DATA_TYPE_MASK = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_DATA_EVENTFD;
export const VFIO_IRQ_SET_ACTION_TYPE_MASK = VFIO_IRQ_SET_ACTION_MASK | VFIO_IRQ_SET_ACTION_UNMASK | VFIO_IRQ_SET_ACTION_TRIGGER;

export const VFIO_PCI_BAR0_REGION_INDEX = 0;
export const VFIO_PCI_BAR5_REGION_INDEX = 5;
export const VFIO_PCI_ROM_REGION_INDEX = 6;
export const VFIO_PCI_CONFIG_REGION_INDEX = 7;
export const VFIO_PCI_VGA_REGION_INDEX = 8;
export const VFIO_PCI_NUM_REGIONS = 9;
export const VFIO_PCI_INTX_IRQ_INDEX = 0;
export const VFIO_PCI_MSI_IRQ_INDEX = 1;
export const VFIO_PCI_MSIX_IRQ_INDEX = 2;
export const VFIO_PCI_ERR_IRQ_INDEX = 3;
export const VFIO_PCI_REQ_IRQ_INDEX = 4;
export const VFIO_PCI_NUM_IRQS = 5;

export const VFIO_IOMMU_INFO_PGSIZES = 1 << 0;
export const VFIO_IOMMU_INFO_CAPS = 1 << 1;
export const VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE = 1;
export const VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION = 2;
export const VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL = 3;

export const VFIO_DMA_MAP_FLAG_READ = 1 << 0;
export const VFIO_DMA_MAP_FLAG_WRITE = 1 << 1;
export const VFIO_DMA_MAP_FLAG_VADDR = 1 << 2;
export const VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP = 1 << 0;
export const VFIO_DMA_UNMAP_FLAG_ALL = 1 << 1;
export const VFIO_DMA_UNMAP_FLAG_VADDR = 1 << 2;

/** vfio-pci file offsets: region index in bits 63:40 (VFIO_PCI_OFFSET_SHIFT). */
export const VFIO_PCI_OFFSET_SHIFT = 40;
export const VFIO_PCI_OFFSET_MASK = 2 ** VFIO_PCI_OFFSET_SHIFT - 1;
export const VFIO_PCI_INDEX_TO_OFFSET = (index: number): number => index * 2 ** VFIO_PCI_OFFSET_SHIFT;
export const VFIO_PCI_OFFSET_TO_INDEX = (off: number): number => Math.floor(off / 2 ** VFIO_PCI_OFFSET_SHIFT);

type FieldSize = 2 | 4 | 8;
export type UStructField = readonly [name: string, offset: number, size: FieldSize];

/**
 * A uAPI struct. Values are Numbers: u64 fields above 2^53 (an IOVA or size near
 * U64_MAX) are read as BigInt by `getBig` where the kernel needs their exact value.
 */
export class UStruct<N extends string> {
  readonly byName: ReadonlyMap<N, UStructField>;
  constructor(
    readonly name: string,
    readonly size: number,
    readonly fields: readonly (readonly [N, number, FieldSize])[],
  ) {
    this.byName = new Map(fields.map((f) => [f[0], f]));
  }
  /** offsetofend(field): the minsz of an ioctl whose last mandatory field it is. */
  end(field: N): number {
    const f = this.byName.get(field)!;
    return f[1] + f[2];
  }
  offset(field: N): number {
    return this.byName.get(field)![1];
  }
}

/** The user's copy of a struct (the first `len` bytes), with typed field access. */
export class UBuf<N extends string> {
  readonly bytes: Uint8Array;
  private readonly dv: DataView;
  constructor(
    readonly s: UStruct<N>,
    len = s.size,
  ) {
    this.bytes = new Uint8Array(Math.max(len, s.size));
    this.dv = new DataView(this.bytes.buffer);
  }
  get(field: N): number {
    const [, off, size] = this.s.byName.get(field)!;
    if (size === 2) return this.dv.getUint16(off, true);
    if (size === 4) return this.dv.getUint32(off, true);
    return Number(this.dv.getBigUint64(off, true));
  }
  getBig(field: N): bigint {
    const [, off, size] = this.s.byName.get(field)!;
    return size === 8 ? this.dv.getBigUint64(off, true) : BigInt(this.get(field));
  }
  set(field: N, v: number | bigint): void {
    const [, off, size] = this.s.byName.get(field)!;
    if (size === 2) this.dv.setUint16(off, Number(v), true);
    else if (size === 4) this.dv.setUint32(off, Number(v) >>> 0, true);
    else this.dv.setBigUint64(off, BigInt(v), true);
  }
}

/** copy_from_user of `minsz` bytes of `s` (the part the kernel reads). -EFAULT or the buffer. */
export function ustruct_from_user<N extends string>(s: UStruct<N>, uaddr: number, minsz: number): UBuf<N> | number {
  const b = new UBuf(s);
  if (copy_from_user(b.bytes, uaddr, minsz)) return -EFAULT;
  return b;
}

/** copy_to_user of the first `len` bytes. 0 or -EFAULT. */
export function ustruct_to_user<N extends string>(uaddr: number, b: UBuf<N>, len: number): number {
  return copy_to_user(uaddr, b.bytes, len) ? -EFAULT : 0;
}

export const vfio_group_status = new UStruct('vfio_group_status', 8, [
  ['argsz', 0, 4],
  ['flags', 4, 4],
]);

export const vfio_device_info = new UStruct('vfio_device_info', 24, [
  ['argsz', 0, 4],
  ['flags', 4, 4],
  ['num_regions', 8, 4],
  ['num_irqs', 12, 4],
  ['cap_offset', 16, 4],
  ['pad', 20, 4],
]);

export const vfio_region_info = new UStruct('vfio_region_info', 32, [
  ['argsz', 0, 4],
  ['flags', 4, 4],
  ['index', 8, 4],
  ['cap_offset', 12, 4],
  ['size', 16, 8],
  ['offset', 24, 8],
]);

export const vfio_irq_info = new UStruct('vfio_irq_info', 16, [
  ['argsz', 0, 4],
  ['flags', 4, 4],
  ['index', 8, 4],
  ['count', 12, 4],
]);

export const vfio_irq_set = new UStruct('vfio_irq_set', 20, [
  ['argsz', 0, 4],
  ['flags', 4, 4],
  ['index', 8, 4],
  ['start', 12, 4],
  ['count', 16, 4],
]);

export const vfio_iommu_type1_info = new UStruct('vfio_iommu_type1_info', 24, [
  ['argsz', 0, 4],
  ['flags', 4, 4],
  ['iova_pgsizes', 8, 8],
  ['cap_offset', 16, 4],
  ['pad', 20, 4],
]);

export const vfio_iommu_type1_dma_map = new UStruct('vfio_iommu_type1_dma_map', 32, [
  ['argsz', 0, 4],
  ['flags', 4, 4],
  ['vaddr', 8, 8],
  ['iova', 16, 8],
  ['size', 24, 8],
]);

export const vfio_iommu_type1_dma_unmap = new UStruct('vfio_iommu_type1_dma_unmap', 24, [
  ['argsz', 0, 4],
  ['flags', 4, 4],
  ['iova', 8, 8],
  ['size', 16, 8],
]);

/**
 * A capability chain being built (vfio_info_cap_add): each capability starts with
 * struct vfio_info_cap_header {u16 id; u16 version; u32 next}; `next` and the
 * struct's cap_offset count from the start of the user's buffer, where the chain
 * follows the fixed struct.
 */
export class VfioInfoCap {
  private parts: Uint8Array[] = [];
  size = 0;
  /** Adds a capability of `len` bytes (header included); returns its body to fill (after the 8-byte header). */
  add(id: number, version: number, len: number): DataView {
    const b = new Uint8Array(len);
    const dv = new DataView(b.buffer);
    dv.setUint16(0, id, true);
    dv.setUint16(2, version, true);
    this.parts.push(b);
    this.size += len;
    return dv;
  }
  /** The chain with `next` fields set for placement at `base` in the user buffer. */
  bytes(base: number): Uint8Array {
    const out = new Uint8Array(this.size);
    let off = 0;
    for (let i = 0; i < this.parts.length; i++) {
      const p = this.parts[i]!;
      const dv = new DataView(p.buffer);
      dv.setUint32(4, i + 1 < this.parts.length ? base + off + p.length : 0, true);
      out.set(p, off);
      off += p.length;
    }
    return out;
  }
}
