// The PASID and PRI capabilities of a PCI function (drivers/pci/ats.c in shape). The
// IOMMU drivers are their only users: arm-smmu-v3 sizes a master's SubstreamIDs from
// the Max PASID Width and enables PASID at probe, and enables PRI with an outstanding
// page request allocation when the device's I/O page faults are switched on.

import { EBUSY, EINVAL } from '../../lib/errno.js';
import {
  PCI_EXT_CAP_ID_PASID,
  PCI_EXT_CAP_ID_PRI,
  PciDev,
  pci_find_ext_capability,
  pci_read_config_dword,
  pci_read_config_word,
  pci_write_config_dword,
  pci_write_config_word,
} from '../pci/pci.js';

// PCIe Base 4.0 7.8.8 PASID Extended Capability
const PCI_PASID_CAP = 0x04;
const PCI_PASID_CTRL = 0x06;
export const PCI_PASID_CAP_EXEC = 1 << 1;
export const PCI_PASID_CAP_PRIV = 1 << 2;
const PCI_PASID_CTRL_ENABLE = 1 << 0;
const PCI_PASID_CTRL_EXEC = 1 << 1;
const PCI_PASID_CTRL_PRIV = 1 << 2;

// PCIe Base 4.0 10.5.2 Page Request Extended Capability
const PCI_PRI_CTRL = 0x04;
const PCI_PRI_STATUS = 0x06;
const PCI_PRI_MAX_REQ = 0x08;
const PCI_PRI_ALLOC_REQ = 0x0c;
const PCI_PRI_CTRL_ENABLE = 1 << 0;
const PCI_PRI_CTRL_RESET = 1 << 1;
const PCI_PRI_STATUS_STOPPED = 1 << 8;
const PCI_PRI_STATUS_PASID = 1 << 15;

function pasidCap(dev: unknown): number {
  return dev instanceof PciDev ? pci_find_ext_capability(dev, PCI_EXT_CAP_ID_PASID) : 0;
}

function priCap(dev: unknown): number {
  return dev instanceof PciDev ? pci_find_ext_capability(dev, PCI_EXT_CAP_ID_PRI) : 0;
}

/** pci_max_pasids: 2^(Max PASID Width), or 0 without a PASID capability. */
export function pci_max_pasids(dev: unknown): number {
  const pos = pasidCap(dev);
  if (pos === 0) return 0;
  return 2 ** ((pci_read_config_word(dev as PciDev, pos + PCI_PASID_CAP) >> 8) & 0x1f);
}

/** pci_pasid_features: the Execute/Privileged Mode Supported bits. */
export function pci_pasid_features(dev: unknown): number {
  const pos = pasidCap(dev);
  if (pos === 0) return -EINVAL;
  return pci_read_config_word(dev as PciDev, pos + PCI_PASID_CAP) & (PCI_PASID_CAP_EXEC | PCI_PASID_CAP_PRIV);
}

/** pci_enable_pasid: PASID Enable with the requested features the function supports. */
export function pci_enable_pasid(dev: unknown, features: number): number {
  const pos = pasidCap(dev);
  if (pos === 0) return -EINVAL;
  const pdev = dev as PciDev;
  const supported = pci_read_config_word(pdev, pos + PCI_PASID_CAP);
  if (features & ~supported & (PCI_PASID_CAP_EXEC | PCI_PASID_CAP_PRIV)) return -EINVAL;
  let ctrl = PCI_PASID_CTRL_ENABLE;
  if (features & PCI_PASID_CAP_EXEC) ctrl |= PCI_PASID_CTRL_EXEC;
  if (features & PCI_PASID_CAP_PRIV) ctrl |= PCI_PASID_CTRL_PRIV;
  pci_write_config_word(pdev, pos + PCI_PASID_CTRL, ctrl);
  return 0;
}

export function pci_disable_pasid(dev: unknown): void {
  const pos = pasidCap(dev);
  if (pos !== 0) pci_write_config_word(dev as PciDev, pos + PCI_PASID_CTRL, 0);
}

export function pci_pri_supported(dev: unknown): boolean {
  return priCap(dev) !== 0;
}

/** pci_prg_resp_pasid_required: the function wants the PASID echoed in PRG responses. */
export function pci_prg_resp_pasid_required(dev: unknown): boolean {
  const pos = priCap(dev);
  return pos !== 0 && (pci_read_config_word(dev as PciDev, pos + PCI_PRI_STATUS) & PCI_PRI_STATUS_PASID) !== 0;
}

/**
 * pci_enable_pri: allocates min(reqs, capacity) outstanding page requests and sets
 * Enable. -EBUSY while the interface has not stopped (PRI was enabled before).
 */
export function pci_enable_pri(dev: unknown, reqs: number): number {
  const pos = priCap(dev);
  if (pos === 0) return -EINVAL;
  const pdev = dev as PciDev;
  if (pci_read_config_word(pdev, pos + PCI_PRI_CTRL) & PCI_PRI_CTRL_ENABLE) return 0;
  if (!(pci_read_config_word(pdev, pos + PCI_PRI_STATUS) & PCI_PRI_STATUS_STOPPED)) return -EBUSY;
  const max = pci_read_config_dword(pdev, pos + PCI_PRI_MAX_REQ) >>> 0;
  pci_write_config_dword(pdev, pos + PCI_PRI_ALLOC_REQ, Math.min(max, reqs));
  pci_write_config_word(pdev, pos + PCI_PRI_CTRL, PCI_PRI_CTRL_ENABLE);
  return 0;
}

export function pci_disable_pri(dev: unknown): void {
  const pos = priCap(dev);
  if (pos !== 0) pci_write_config_word(dev as PciDev, pos + PCI_PRI_CTRL, 0);
}

/** pci_reset_pri: clears the outstanding page request state (PRI must be disabled). */
export function pci_reset_pri(dev: unknown): number {
  const pos = priCap(dev);
  if (pos === 0) return -EINVAL;
  const pdev = dev as PciDev;
  if (pci_read_config_word(pdev, pos + PCI_PRI_CTRL) & PCI_PRI_CTRL_ENABLE) return -EBUSY;
  pci_write_config_word(pdev, pos + PCI_PRI_CTRL, PCI_PRI_CTRL_RESET);
  return 0;
}
