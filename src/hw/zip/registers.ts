// ZIP-specific registers in BAR2 (Linux zip_main.c, reference section 2).

export const HZIP_SOFT_CTRL_CNT_CLR_CE = 0x301000;
export const HZIP_CLOCK_GATE_CTRL = 0x301004;
export const HZIP_FSM_MAX_CNT = 0x301008;
export const HZIP_SOFT_CTRL_ZIP_CONTROL = 0x30100c;
export const HZIP_PORT_ARCA_CHE_0 = 0x301040;
export const HZIP_PORT_ARCA_CHE_1 = 0x301044;
export const HZIP_PORT_AWCA_CHE_0 = 0x301060;
export const HZIP_PORT_AWCA_CHE_1 = 0x301064;
export const HZIP_CORE_INT_SOURCE = 0x3010a0;
export const HZIP_CORE_INT_MASK = 0x3010a4;
export const HZIP_CORE_INT_SET = 0x3010a8;
export const HZIP_CORE_INT_STATUS = 0x3010ac;
export const HZIP_BD_RUSER_32_63 = 0x301110;
export const HZIP_SGL_RUSER_32_63 = 0x30111c;
export const HZIP_DATA_RUSER_32_63 = 0x301128;
export const HZIP_DATA_WUSER_32_63 = 0x301134;
export const HZIP_BD_WUSER_32_63 = 0x301140;
export const HZIP_SRAM_ECC_ERR_INFO = 0x301148;
export const HZIP_CORE_INT_RAS_CE_ENB = 0x301160;
export const HZIP_CORE_INT_RAS_NFE_ENB = 0x301164;
export const HZIP_CORE_INT_RAS_FE_ENB = 0x301168;
/** Per-core DFX blocks: comp0, comp1, decomp0..5 at 0x302000 + 0x1000 * core. */
export const HZIP_CORE_DFX_BASE = 0x302000;
export const HZIP_CORE_DFX_STRIDE = 0x1000;
export const HZIP_CORE_DFX_GET_BD_NUM = 0x00;
export const HZIP_CORE_DFX_DONE_BD_NUM = 0x0c;
export const HZIP_CORE_DFX_CONSUMED_BYTE = 0x38;
export const HZIP_CORE_DFX_PRODUCED_BYTE = 0x40;
export const HZIP_QM_IDEL_STATUS = 0x3040e4;

/** HZIP_CLOCK_GATE_CTRL: bits 0-7 clock comp0, comp1, decomp0-5; bit 16 the decompression checksum check (Linux zip_main.c). */
export const HZIP_CORE_CLOCK_ENABLE_ALL = 0xff;
export const HZIP_DECOMP_CHECK_ENABLE = 1 << 16;
/** One HZIP_FSM_MAX_CNT count = one engine clock cycle, taken as 1 ns (the engine clock is not public). */
export const HZIP_FSM_CYCLE_NS = 1;

/** AXUSER bit 0: the transaction carries a valid SubstreamID (the SQC PASID). */
export const AXUSER_SSV = 1 << 0;
/** HZIP_SOFT_CTRL_ZIP_CONTROL bit 14: shut the AXI master down on a multi-bit ECC error. */
export const HZIP_AXI_SHUTDOWN_ENABLE = 1 << 14;

/** HZIP_CORE_INT_* bits (Linux `zip_hw_error` table). */
export const ZipCoreError = {
  ecc_1bit: 1 << 0,
  ecc_2bit: 1 << 1,
  axi_rresp: 1 << 2,
  axi_bresp: 1 << 3,
  src_addr_parse: 1 << 4,
  dst_addr_parse: 1 << 5,
  pre_in_addr: 1 << 6,
  pre_in_data: 1 << 7,
  com_inf: 1 << 8,
  enc_inf: 1 << 9,
  pre_out: 1 << 10,
} as const;
export const HZIP_CORE_INT_ALL = 0x7ff;

export const HZIP_COMP_CORE_NUM = 2;
export const HZIP_DECOMP_CORE_NUM = 6;
