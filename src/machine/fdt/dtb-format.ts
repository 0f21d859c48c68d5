// Constants of the flattened devicetree blob (DTSpec 5: header, memory reservation
// block, structure block tokens). Shared by the writer and the reader of this folder.

export const FDT_MAGIC = 0xd00dfeed;
/** The version we write, and the oldest version a reader of ours must understand. */
export const FDT_VERSION = 17;
export const FDT_LAST_COMP_VERSION = 16;
/** DTSpec 5.2: ten 32-bit big-endian fields. */
export const FDT_HEADER_SIZE = 40;

/** DTSpec 5.4.1: structure block tokens. */
export const FDT_BEGIN_NODE = 0x1;
export const FDT_END_NODE = 0x2;
export const FDT_PROP = 0x3;
export const FDT_NOP = 0x4;
export const FDT_END = 0x9;

/** Header fields in blob order (DTSpec 5.2 struct fdt_header). */
export const FDT_HEADER_FIELDS = [
  'magic',
  'totalsize',
  'off_dt_struct',
  'off_dt_strings',
  'off_mem_rsvmap',
  'version',
  'last_comp_version',
  'boot_cpuid_phys',
  'size_dt_strings',
  'size_dt_struct',
] as const;

export type FdtHeader = { readonly [K in (typeof FDT_HEADER_FIELDS)[number]]: number };
