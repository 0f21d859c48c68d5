// Scatterlists (include/linux/scatterlist.h, lib/scatterlist.c in shape): a list of
// physically contiguous segments of kernel memory, named by physical address. The
// DMA mapping fills dma_address/dma_length per entry.

export class Scatterlist {
  /** DMA address and length once mapped (sg_dma_address / sg_dma_len). */
  dma_address = 0;
  dma_length = 0;
  constructor(
    /** Physical address of the segment (page_to_phys(sg_page) + offset). */
    public pa: number,
    public length: number,
  ) {}
}

/** sg_init_one: a one-entry list over [pa, pa + len). */
export function sg_init_one(pa: number, len: number): Scatterlist[] {
  return [new Scatterlist(pa, len)];
}

/** A list over physically contiguous chunks (sg_alloc_table + sg_set_buf per chunk). */
export function sg_init_table(chunks: readonly { pa: number; len: number }[]): Scatterlist[] {
  return chunks.map((c) => new Scatterlist(c.pa, c.len));
}

/** sg_nents */
export function sg_nents(sgl: readonly Scatterlist[]): number {
  return sgl.length;
}

/** Total bytes of the list. */
export function sg_total_len(sgl: readonly Scatterlist[]): number {
  let n = 0;
  for (const s of sgl) n += s.length;
  return n;
}

/** Moves bytes between a buffer and a list's physical memory: (pa, buffer, offset, length). */
type SgCopy = (pa: number, buf: Uint8Array, off: number, len: number) => void;

/**
 * sg_copy_buffer: walks the list from byte `skip` and hands `copy` each piece that overlaps
 * `buf`, in order, until `buf` is covered or the list ends; returns the bytes covered.
 */
function sg_copy_buffer(copy: SgCopy, sgl: readonly Scatterlist[], buf: Uint8Array, skip: number): number {
  let done = 0;
  let pos = 0;
  for (const s of sgl) {
    if (done >= buf.length) break;
    const segEnd = pos + s.length;
    if (segEnd > skip) {
      const from = Math.max(0, skip - pos);
      const n = Math.min(s.length - from, buf.length - done);
      copy(s.pa + from, buf, done, n);
      done += n;
    }
    pos = segEnd;
  }
  return done;
}

/**
 * sg_copy_to_buffer / sg_pcopy_to_buffer: copies up to `buf.length` bytes starting at
 * `skip` into `buf` with physical reads; returns the bytes copied.
 */
export function sg_pcopy_to_buffer(read: SgCopy, sgl: readonly Scatterlist[], buf: Uint8Array, skip = 0): number {
  return sg_copy_buffer(read, sgl, buf, skip);
}

/** sg_pcopy_from_buffer: copies `buf` into the list starting at `skip`; returns bytes copied. */
export function sg_pcopy_from_buffer(write: SgCopy, sgl: readonly Scatterlist[], buf: Uint8Array, skip = 0): number {
  return sg_copy_buffer(write, sgl, buf, skip);
}
