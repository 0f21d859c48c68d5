// vfio-pci config space virtualization (drivers/vfio/pci/vfio_pci_config.c in shape):
// every byte has permission bits: `virt` bits are read from and written to a virtual
// copy (vconfig), other bits read the hardware; `write` bits may be written (to
// vconfig when virtual, to the device when not); the rest of a write is dropped.
//
// Header (init_pci_cap_basic_perm): IDs, class, header type, capability pointer and
// Interrupt Pin virtual read-only; Command: INTx Disable virtual, the rest written
// through (the user's Memory Space bit is also kept in vconfig: BAR access and mmap
// faults need it); Cache Line / Latency / BIST written through; BARs and the ROM BAR
// virtual and writable (sizing with all-ones reads back the size mask, the device's
// real BARs never change); Interrupt Line virtual.
// MSI (vfio_msi_cap_init): flags, address and data virtual (the host programs the
// device when SET_IRQS enables MSI); Multiple Message Enable clamped to what SET_IRQS
// allocated; mask bits written through. MSI-X: read-only. PCI Express: Device Control
// written through except Phantom Functions, Max Payload Size and Max Read Request Size
// (virtual); writing Initiate FLR resets the function (vfio_exp_config_write).
// Other capabilities and the extended space: read-only.

import type { PciDev } from '../../pci/pci.js';
import {
  PCI_BASE_ADDRESS_0,
  PCI_BASE_ADDRESS_MEM_TYPE_64,
  PCI_CAP_ID_EXP,
  PCI_CAP_ID_MSI,
  PCI_CAP_ID_MSIX,
  PCI_CAPABILITY_LIST,
  PCI_COMMAND,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_IO,
  PCI_COMMAND_MEMORY,
  PCI_EXP_DEVCTL,
  PCI_EXP_DEVCTL_BCR_FLR,
  PCI_INTERRUPT_LINE,
  PCI_INTERRUPT_PIN,
  PCI_STATUS,
  pci_find_capability,
  pci_is_pcie,
  pci_read_config_byte,
  pci_read_config_dword,
  pci_read_config_word,
  pci_resource_flags,
  pci_resource_len,
  pci_resource_start,
  pci_write_config_byte,
  pci_write_config_dword,
  pci_write_config_word,
  IORESOURCE_MEM_64,
  IORESOURCE_PREFETCH,
} from '../../pci/pci.js';

const PCI_CACHE_LINE_SIZE = 0x0c;
const PCI_LATENCY_TIMER = 0x0d;
const PCI_BIST = 0x0f;
const PCI_ROM_ADDRESS = 0x30;
const PCI_STATUS_CAP_LIST = 0x10;
const PCI_MSI_FLAGS = 2;
const PCI_MSI_FLAGS_ENABLE = 0x0001;
const PCI_MSI_FLAGS_QMASK = 0x000e;
const PCI_MSI_FLAGS_QSIZE = 0x0070;
const PCI_MSI_FLAGS_64BIT = 0x0080;
const PCI_MSI_FLAGS_MASKBIT = 0x0100;
const PCI_EXP_DEVCTL_PAYLOAD = 0x00e0;
const PCI_EXP_DEVCTL_PHANTOM = 0x0200;
const PCI_EXP_DEVCTL_READRQ = 0x7000;

/** What the config code asks of the vfio-pci device around it. */
export interface VfioPciConfigHooks {
  /** The user cleared Memory Space Enable: user mappings of the BARs must go. */
  memoryDisabled(): void;
  /** The user wrote Initiate FLR. */
  flr(): Generator<unknown, void, unknown>;
}

export class VfioPciConfig {
  readonly size: number;
  readonly vconfig: Uint8Array;
  private readonly virt: Uint8Array;
  private readonly wr: Uint8Array;
  private bardirty = true;
  readonly msiPos: number;
  readonly msixPos: number;
  readonly expPos: number;
  /** log2 of the MSI vectors SET_IRQS allocated (msi_qmax). */
  msi_qmax = 0;

  constructor(
    readonly pdev: PciDev,
    private readonly hooks: VfioPciConfigHooks,
  ) {
    this.size = pci_is_pcie(pdev) ? 4096 : 256;
    this.vconfig = new Uint8Array(this.size);
    this.virt = new Uint8Array(this.size);
    this.wr = new Uint8Array(this.size);
    for (let i = 0; i < this.size; i += 4) this.put(this.vconfig, i, 4, pci_read_config_dword(pdev, i));
    this.msiPos = pci_find_capability(pdev, PCI_CAP_ID_MSI);
    this.msixPos = pci_find_capability(pdev, PCI_CAP_ID_MSIX);
    this.expPos = pci_find_capability(pdev, PCI_CAP_ID_EXP);
    this.initBasicPerm();
    if (this.msiPos) this.initMsiPerm(this.msiPos);
    if (this.expPos) this.perm(this.expPos + PCI_EXP_DEVCTL, 2, PCI_EXP_DEVCTL_BCR_FLR | PCI_EXP_DEVCTL_PAYLOAD | PCI_EXP_DEVCTL_READRQ, ~PCI_EXP_DEVCTL_PHANTOM & 0xffff);
  }

  private put(buf: Uint8Array, pos: number, n: number, v: number): void {
    for (let i = 0; i < n; i++) buf[pos + i] = (v >>> (8 * i)) & 0xff;
  }

  private get(buf: Uint8Array, pos: number, n: number): number {
    let v = 0;
    for (let i = n - 1; i >= 0; i--) v = v * 256 + buf[pos + i]!;
    return v >>> 0;
  }

  /** p_setb/p_setw/p_setd. */
  private perm(pos: number, n: number, virt: number, write: number): void {
    this.put(this.virt, pos, n, virt);
    this.put(this.wr, pos, n, write);
  }

  private initBasicPerm(): void {
    this.perm(0x00, 2, 0xffff, 0); // vendor
    this.perm(0x02, 2, 0xffff, 0); // device
    this.perm(PCI_COMMAND, 2, PCI_COMMAND_INTX_DISABLE, 0xffff);
    this.perm(PCI_STATUS, 2, PCI_STATUS_CAP_LIST, 0);
    this.perm(0x08, 4, 0xffffffff, 0); // revision, class
    this.perm(PCI_CACHE_LINE_SIZE, 1, 0, 0xff);
    this.perm(PCI_LATENCY_TIMER, 1, 0, 0xff);
    this.perm(0x0e, 1, 0xff, 0); // header type
    this.perm(PCI_BIST, 1, 0, 0xff);
    for (let i = 0; i < 6; i++) this.perm(PCI_BASE_ADDRESS_0 + 4 * i, 4, 0xffffffff, 0xffffffff);
    this.perm(0x28, 4, 0xffffffff, 0); // CardBus CIS
    this.perm(0x2c, 4, 0xffffffff, 0); // subsystem ids
    this.perm(PCI_ROM_ADDRESS, 4, 0xffffffff, 0xffffffff);
    this.perm(PCI_CAPABILITY_LIST, 1, 0xff, 0);
    this.perm(PCI_INTERRUPT_LINE, 1, 0xff, 0xff);
    this.perm(PCI_INTERRUPT_PIN, 1, 0xff, 0);
    // INTx is not wired on this SoC: the pin reads 0, as vfio-pci shows it without INTx
    this.vconfig[PCI_INTERRUPT_PIN] = 0;
  }

  private initMsiPerm(pos: number): void {
    const flags = this.get(this.vconfig, pos + PCI_MSI_FLAGS, 2);
    this.perm(pos, 2, 0xffff, 0);
    this.perm(pos + PCI_MSI_FLAGS, 2, 0xffff, 0xffff);
    this.perm(pos + 4, 4, 0xffffffff, 0xffffffff);
    let next = pos + 8;
    if (flags & PCI_MSI_FLAGS_64BIT) {
      this.perm(next, 4, 0xffffffff, 0xffffffff);
      next += 4;
    }
    this.perm(next, 2, 0xffff, 0xffff);
    if (flags & PCI_MSI_FLAGS_MASKBIT) {
      this.perm(next + 4, 4, 0, 0xffffffff);
      this.perm(next + 8, 4, 0, 0);
    }
    // the user starts with MSI disabled and nothing programmed
    this.put(this.vconfig, pos + PCI_MSI_FLAGS, 2, flags & ~(PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE));
    this.put(this.vconfig, pos + 4, next - pos - 4 + 2, 0);
  }

  /** __vfio_pci_memory_enabled: the user's view of Memory Space Enable. */
  memoryEnabled(): boolean {
    return (this.vconfig[PCI_COMMAND]! & PCI_COMMAND_MEMORY) !== 0;
  }

  /** vfio_bar_fixup: the virtual BARs keep only the bits a real BAR of that size keeps. */
  private barFixup(): void {
    const d = this.pdev;
    for (let i = 0; i < 6; i++) {
      const off = PCI_BASE_ADDRESS_0 + 4 * i;
      const len = pci_resource_len(d, i);
      if (!pci_resource_start(d, i) || len === 0) {
        this.put(this.vconfig, off, 4, 0);
        continue;
      }
      const flags = pci_resource_flags(d, i);
      const lowFlags = (flags & IORESOURCE_MEM_64 ? PCI_BASE_ADDRESS_MEM_TYPE_64 : 0) | (flags & IORESOURCE_PREFETCH ? 0x8 : 0);
      const lo = this.get(this.vconfig, off, 4);
      const maskLo = len >= 2 ** 32 ? 0 : (~(len - 1) >>> 0) & ~0xf;
      this.put(this.vconfig, off, 4, ((lo & maskLo) | lowFlags) >>> 0);
      if (flags & IORESOURCE_MEM_64) {
        const hi = this.get(this.vconfig, off + 4, 4);
        const maskHi = len > 2 ** 32 ? (~(len / 2 ** 32 - 1) >>> 0) : 0xffffffff;
        this.put(this.vconfig, off + 4, 4, (hi & maskHi) >>> 0);
        i++;
      }
    }
    // no option ROM is exposed (the devices here have none)
    this.put(this.vconfig, PCI_ROM_ADDRESS, 4, 0);
    this.bardirty = false;
  }

  /** One naturally aligned access of 1, 2 or 4 bytes (vfio_default_config_read). */
  read(pos: number, n: 1 | 2 | 4): number {
    if (this.bardirty && pos < PCI_CAPABILITY_LIST && pos + n > PCI_BASE_ADDRESS_0) this.barFixup();
    const virt = this.get(this.virt, pos, n);
    let v = this.get(this.vconfig, pos, n) & virt;
    const allVirt = n === 4 ? 0xffffffff : n === 2 ? 0xffff : 0xff;
    if ((virt >>> 0) !== allVirt) {
      const phys = n === 4 ? pci_read_config_dword(this.pdev, pos) : n === 2 ? pci_read_config_word(this.pdev, pos) : pci_read_config_byte(this.pdev, pos);
      v |= phys & ~virt;
    }
    return v >>> 0;
  }

  private physWrite(pos: number, n: 1 | 2 | 4, v: number): void {
    if (n === 4) pci_write_config_dword(this.pdev, pos, v);
    else if (n === 2) pci_write_config_word(this.pdev, pos, v);
    else pci_write_config_byte(this.pdev, pos, v);
  }

  /** One naturally aligned write (vfio_default_config_write and the per-capability writefns). */
  *write(pos: number, n: 1 | 2 | 4, val: number): Generator<unknown, void, unknown> {
    const virt = this.get(this.virt, pos, n);
    const write = this.get(this.wr, pos, n);
    const full = n === 4 ? 0xffffffff : n === 2 ? 0xffff : 0xff;
    const hitsCommand = pos <= PCI_COMMAND && pos + n > PCI_COMMAND;
    const oldMem = this.memoryEnabled();
    if (write & virt) {
      const cur = this.get(this.vconfig, pos, n);
      this.put(this.vconfig, pos, n, ((cur & ~(write & virt)) | (val & write & virt)) >>> 0);
    }
    const physBits = (write & ~virt & full) >>> 0;
    if (physBits) {
      const phys = n === 4 ? pci_read_config_dword(this.pdev, pos) : n === 2 ? pci_read_config_word(this.pdev, pos) : pci_read_config_byte(this.pdev, pos);
      this.physWrite(pos, n, ((phys & ~physBits) | (val & physBits)) >>> 0);
    }
    if (pos < PCI_CAPABILITY_LIST && pos + n > PCI_BASE_ADDRESS_0 && write) this.bardirty = true;
    if (hitsCommand) {
      // keep the user's Memory/IO enable bits in vconfig (vfio_basic_config_write)
      const newCmd = (val >>> (8 * (PCI_COMMAND - pos))) & 0xffff;
      const mask = PCI_COMMAND_MEMORY | PCI_COMMAND_IO;
      const cur = this.get(this.vconfig, PCI_COMMAND, 2);
      this.put(this.vconfig, PCI_COMMAND, 2, (cur & ~mask) | (newCmd & mask));
      if (oldMem && !this.memoryEnabled()) this.hooks.memoryDisabled();
    }
    if (this.msiPos && pos <= this.msiPos + PCI_MSI_FLAGS && pos + n > this.msiPos + PCI_MSI_FLAGS) {
      // vfio_msi_config_write: Multiple Message Enable never above what is allocated
      const at = this.msiPos + PCI_MSI_FLAGS;
      let flags = this.get(this.vconfig, at, 2);
      const mme = Math.min((flags & PCI_MSI_FLAGS_QSIZE) >> 4, this.msi_qmax, (flags & PCI_MSI_FLAGS_QMASK) >> 1);
      flags = (flags & ~PCI_MSI_FLAGS_QSIZE) | (mme << 4);
      this.put(this.vconfig, at, 2, flags);
    }
    if (this.expPos && pos <= this.expPos + PCI_EXP_DEVCTL + 1 && pos + n > this.expPos + PCI_EXP_DEVCTL + 1) {
      const at = this.expPos + PCI_EXP_DEVCTL;
      const ctl = this.get(this.vconfig, at, 2);
      if (ctl & PCI_EXP_DEVCTL_BCR_FLR) {
        this.put(this.vconfig, at, 2, ctl & ~PCI_EXP_DEVCTL_BCR_FLR);
        yield* this.hooks.flr();
      }
    }
  }

  /** The virtual BARs read back as the device had them when opened (after a reset: vfio_bar_restore's view). */
  markBarsDirty(): void {
    this.bardirty = true;
  }
}
