// vfio-pci interrupts (drivers/vfio/pci/vfio_pci_intrs.c in shape): VFIO_DEVICE_SET_IRQS
// for MSI and MSI-X allocates the vectors through the PCI core (the ITS MSI domain;
// the doorbell is mapped in the container's IOMMU domain, IOMMU_RESV_SW_MSI) and
// binds each to an eventfd the handler signals; DATA_NONE / DATA_BOOL with
// ACTION_TRIGGER signal the eventfds from software (loopback tests); count 0 with
// DATA_NONE disables the index. ERR and REQ take one eventfd each: REQ is signalled
// when the device is being unbound while open; ERR would be signalled by AER, which
// this SoC does not have. INTx is not wired here (its count is 0).

import { EINVAL, ENOSPC, ENOTTY } from '../../../lib/errno.js';
import { eventfd_ctx_fdget, eventfd_signal, type EventfdCtx } from '../../../fs/eventfd.js';
import { IRQ_HANDLED, free_irq, request_irq } from '../../../irq/irqdesc.js';
import { PCI_IRQ_MSI, PCI_IRQ_MSIX, pci_alloc_irq_vectors, pci_free_irq_vectors, pci_irq_vector } from '../../pci/pci.js';
import type { VfioPciCoreDevice } from './vfio_pci_core.js';
import {
  VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_ACTION_TYPE_MASK,
  VFIO_IRQ_SET_DATA_BOOL,
  VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_DATA_NONE,
  VFIO_PCI_ERR_IRQ_INDEX,
  VFIO_PCI_MSIX_IRQ_INDEX,
  VFIO_PCI_MSI_IRQ_INDEX,
  VFIO_PCI_REQ_IRQ_INDEX,
} from '../uapi.js';

export const VFIO_PCI_IRQ_NONE = -1;

/** struct vfio_pci_irq_ctx: one vector bound to an eventfd. */
export interface VfioPciIrqCtx {
  trigger: EventfdCtx;
  irq: number;
  name: string;
}

/** The interrupt handler (vfio_msihandler): one eventfd_signal per MSI. */
function vfio_msihandler(_irq: number, ctx: unknown): 0 | 1 | 2 {
  eventfd_signal((ctx as VfioPciIrqCtx).trigger);
  return IRQ_HANDLED;
}

/** vfio_msi_enable: `nvec` vectors of MSI or MSI-X; -ENOSPC when fewer are available. */
function vfio_msi_enable(vdev: VfioPciCoreDevice, nvec: number, msix: boolean): number {
  const ret = pci_alloc_irq_vectors(vdev.pdev, 1, nvec, msix ? PCI_IRQ_MSIX : PCI_IRQ_MSI);
  if (ret < nvec) {
    if (ret > 0) pci_free_irq_vectors(vdev.pdev);
    return ret < 0 ? ret : -ENOSPC;
  }
  vdev.irq_type = msix ? VFIO_PCI_MSIX_IRQ_INDEX : VFIO_PCI_MSI_IRQ_INDEX;
  vdev.num_ctx = nvec;
  // the virtual MSI flags may show up to this many vectors enabled
  if (!msix) vdev.config!.msi_qmax = Math.ceil(Math.log2(nvec));
  return 0;
}

/** vfio_msi_set_vector_signal: (re)binds vector `vector` to eventfd `fd` (-1: unbind). */
function vfio_msi_set_vector_signal(vdev: VfioPciCoreDevice, vector: number, fd: number, msix: boolean): number {
  const old = vdev.ctx.get(vector);
  if (old !== undefined) {
    free_irq(old.irq, old);
    vdev.ctx.delete(vector);
  }
  if (fd < 0) return 0;
  const irq = pci_irq_vector(vdev.pdev, vector);
  if (irq < 0) return -EINVAL;
  const trigger = eventfd_ctx_fdget(fd);
  if (typeof trigger === 'number') return trigger;
  const ctx: VfioPciIrqCtx = { trigger, irq, name: `vfio-msi${msix ? 'x' : ''}[${vector}](${vdev.pdev.name})` };
  const r = request_irq(irq, vfio_msihandler, 0, ctx.name, ctx);
  if (r) return r;
  vdev.ctx.set(vector, ctx);
  return 0;
}

/** vfio_msi_set_block: fds[j] for vectors start..start+count-1; on failure the block is unbound again. */
function vfio_msi_set_block(vdev: VfioPciCoreDevice, start: number, count: number, fds: Int32Array | null, msix: boolean): number {
  for (let j = 0; j < count; j++) {
    const r = vfio_msi_set_vector_signal(vdev, start + j, fds ? fds[j]! : -1, msix);
    if (r) {
      for (let i = start; i < start + j; i++) vfio_msi_set_vector_signal(vdev, i, -1, msix);
      return r;
    }
  }
  return 0;
}

/** vfio_msi_disable: every vector unbound, the vectors freed, MSI/MSI-X off. */
export function vfio_msi_disable(vdev: VfioPciCoreDevice): void {
  for (const v of [...vdev.ctx.keys()]) vfio_msi_set_vector_signal(vdev, v, -1, vdev.irq_type === VFIO_PCI_MSIX_IRQ_INDEX);
  if (vdev.irq_type === VFIO_PCI_MSI_IRQ_INDEX || vdev.irq_type === VFIO_PCI_MSIX_IRQ_INDEX) pci_free_irq_vectors(vdev.pdev);
  vdev.irq_type = VFIO_PCI_IRQ_NONE;
  vdev.num_ctx = 0;
  if (vdev.config) vdev.config.msi_qmax = 0;
}

function vfio_pci_set_msi_trigger(vdev: VfioPciCoreDevice, index: number, start: number, count: number, flags: number, data: Uint8Array): number {
  const msix = index === VFIO_PCI_MSIX_IRQ_INDEX;
  if (vdev.irq_type === index && count === 0 && flags & VFIO_IRQ_SET_DATA_NONE) {
    vfio_msi_disable(vdev);
    return 0;
  }
  if (!(vdev.irq_type === index || vdev.irq_type === VFIO_PCI_IRQ_NONE)) return -EINVAL;
  if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
    const fds = new Int32Array(data.buffer, data.byteOffset, count);
    if (vdev.irq_type === index) return vfio_msi_set_block(vdev, start, count, fds, msix);
    let r = vfio_msi_enable(vdev, start + count, msix);
    if (r) return r;
    r = vfio_msi_set_block(vdev, start, count, fds, msix);
    if (r) vfio_msi_disable(vdev);
    return r;
  }
  if (vdev.irq_type !== index) return -EINVAL;
  for (let i = start; i < start + count; i++) {
    const ctx = vdev.ctx.get(i);
    if (ctx === undefined) continue;
    if (flags & VFIO_IRQ_SET_DATA_NONE) eventfd_signal(ctx.trigger);
    else if (flags & VFIO_IRQ_SET_DATA_BOOL && data[i - start]) eventfd_signal(ctx.trigger);
  }
  return 0;
}

/**
 * vfio_pci_set_ctx_trigger_single: the ERR and REQ eventfds (count 1). Loopback
 * (DATA_NONE count 1, a true DATA_BOOL) and DATA_NONE count 0 (unbind) need a bound
 * eventfd, else -EINVAL; DATA_BOOL and DATA_EVENTFD need count 1 (-EINVAL); fd -1
 * unbinds and any other negative fd changes nothing.
 */
function vfio_pci_set_ctx_trigger_single(slot: { ctx: EventfdCtx | null }, count: number, flags: number, data: Uint8Array): number {
  if (flags & VFIO_IRQ_SET_DATA_NONE) {
    if (slot.ctx === null) return -EINVAL;
    if (count) eventfd_signal(slot.ctx);
    else slot.ctx = null;
    return 0;
  }
  if (flags & VFIO_IRQ_SET_DATA_BOOL) {
    if (!count) return -EINVAL;
    if (data[0] && slot.ctx) eventfd_signal(slot.ctx);
    return 0;
  }
  if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
    if (!count) return -EINVAL;
    const fd = new DataView(data.buffer, data.byteOffset, 4).getInt32(0, true);
    if (fd === -1) slot.ctx = null;
    else if (fd >= 0) {
      const t = eventfd_ctx_fdget(fd);
      if (typeof t === 'number') return t;
      slot.ctx = t;
    }
    return 0;
  }
  return -EINVAL;
}

/**
 * vfio_pci_set_irqs_ioctl: the handler for (index, action); -ENOTTY when there is
 * none (INTx here, masking of MSI/MSI-X, which Linux does not support either).
 */
export function vfio_pci_set_irqs_ioctl(vdev: VfioPciCoreDevice, flags: number, index: number, start: number, count: number, data: Uint8Array): number {
  const action = flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
  switch (index) {
    case VFIO_PCI_MSI_IRQ_INDEX:
    case VFIO_PCI_MSIX_IRQ_INDEX:
      if (action === VFIO_IRQ_SET_ACTION_TRIGGER) return vfio_pci_set_msi_trigger(vdev, index, start, count, flags, data);
      // MASK/UNMASK: "XXX Need masking support exported"
      return -ENOTTY;
    case VFIO_PCI_ERR_IRQ_INDEX:
      if (action === VFIO_IRQ_SET_ACTION_TRIGGER) return vfio_pci_set_ctx_trigger_single(vdev.err_trigger, count, flags, data);
      return -ENOTTY;
    case VFIO_PCI_REQ_IRQ_INDEX:
      if (action === VFIO_IRQ_SET_ACTION_TRIGGER) return vfio_pci_set_ctx_trigger_single(vdev.req_trigger, count, flags, data);
      return -ENOTTY;
    default:
      return -ENOTTY;
  }
}
