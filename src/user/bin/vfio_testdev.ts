// vfio_testdev: a user-space driver of the iommu-testdev (PCI 1b36:0005) through VFIO,
// the way vfio.rst's example and QEMU's hw/vfio drive a device: container and group,
// TYPE1v2, a DMA buffer mapped with MAP_DMA at an IOVA, the device fd, BAR0 mmapped,
// bus mastering enabled through the config region, the MSI bound to an eventfd, then
// transfers the device does through the SMMU, checked in the buffer.
//
//   vfio_testdev [-n COUNT] [-l BYTES] [-i IOVA] [-p] BDF
//
// The function must be bound to vfio-pci first (driver_override + drivers_probe).
// -n transfers (default 4), -l bytes per transfer (default 4096, at most 64 KiB),
// -i the IOVA of the buffer (default 0x100000), -p waits by polling DMA_RESULT instead
// of the MSI. Each transfer alternates a device write of the pattern 0x12345678 into
// one slot of the buffer and a device read + compare of a slot the CPU filled.
// Prints one line per transfer and "vfio_testdev: OK n transfers" (status 0), or what
// failed (status 1).

import { thisCpu } from '../../arch/index.js';
import type { Libc } from '../libc/libc.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, O_RDWR, PROT_READ, PROT_WRITE } from '../libc/uapi.js';
import { UserWords } from '../libc/cstruct.js';

// include/uapi/linux/vfio.h: _IO(';', 100 + n)
const io = (n: number): number => 0x3b00 | (100 + n);
const VFIO_GET_API_VERSION = io(0);
const VFIO_CHECK_EXTENSION = io(1);
const VFIO_SET_IOMMU = io(2);
const VFIO_GROUP_GET_STATUS = io(3);
const VFIO_GROUP_SET_CONTAINER = io(4);
const VFIO_GROUP_GET_DEVICE_FD = io(6);
const VFIO_DEVICE_GET_INFO = io(7);
const VFIO_DEVICE_GET_REGION_INFO = io(8);
const VFIO_DEVICE_SET_IRQS = io(10);
const VFIO_DEVICE_RESET = io(11);
const VFIO_IOMMU_MAP_DMA = io(13);
const VFIO_IOMMU_UNMAP_DMA = io(14);
const VFIO_TYPE1v2_IOMMU = 3;
const VFIO_GROUP_FLAGS_VIABLE = 1;
const VFIO_DMA_MAP_FLAG_READ = 1;
const VFIO_DMA_MAP_FLAG_WRITE = 2;
const VFIO_REGION_INFO_FLAG_MMAP = 4;
const VFIO_IRQ_SET_DATA_EVENTFD = 1 << 2;
const VFIO_IRQ_SET_ACTION_TRIGGER = 1 << 5;
const VFIO_PCI_MSI_IRQ_INDEX = 1;
const VFIO_PCI_CONFIG_REGION_INDEX = 7;
const VFIO_DEVICE_FLAGS_RESET = 1;

// iommu-testdev BAR0 as a user-space driver sees it (QEMU docs/specs/iommu-testdev.rst + the svasoc extension)
export const DMA_TRIGGERING = 0x00;
export const DMA_GVA_LO = 0x04;
export const DMA_GVA_HI = 0x08;
export const DMA_LEN = 0x0c;
export const DMA_RESULT = 0x10;
export const DMA_DBELL = 0x14;
export const X_CTRL = 0x44;
export const X_FAULT_LO = 0x48;
export const X_READ_DATA = 0x58;
export const X_ID = 0x5c;
export const X_ID_SVAX = 0x58415653;
export const X_OP_WRITE = 1 << 4;
export const X_OP_READ = 2 << 4;
export const X_CTRL_MSI = 1 << 9;
export const RESULT_BUSY = 0xfffffffe;
const PATTERN = 0x12345678;
const PCI_COMMAND = 0x04;
const PCI_COMMAND_MEMORY = 0x2;
const PCI_COMMAND_MASTER = 0x4;

const PAGE = 4096;
const MAX_LEN = 64 * 1024;

interface Opts {
  count: number;
  len: number;
  iova: number;
  poll: boolean;
  bdf: string;
}

function parse(argv: readonly string[]): Opts | string {
  const o: Opts = { count: 4, len: 4096, iova: 0x100000, poll: false, bdf: '' };
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-n') o.count = Number.parseInt(argv[++i] ?? '', 10);
    else if (a === '-l') o.len = Number.parseInt(argv[++i] ?? '', 10);
    else if (a === '-i') o.iova = Number(argv[++i] ?? '');
    else if (a === '-p') o.poll = true;
    else if (o.bdf === '') o.bdf = a;
    else return `unexpected argument ${a}`;
  }
  if (o.bdf === '') return 'no device given';
  if (!(o.count >= 1 && o.count <= 1024)) return 'bad -n';
  if (!(o.len >= 4 && o.len <= MAX_LEN && o.len % 4 === 0)) return 'bad -l (4..65536, a multiple of 4)';
  if (!(Number.isSafeInteger(o.iova) && o.iova % PAGE === 0)) return 'bad -i (a page-aligned IOVA)';
  return o;
}

export function* vfioTestdevMain(c: Libc, argv: string[]): Generator<unknown, number, unknown> {
  c.progname = 'vfio_testdev';
  const o = parse(argv);
  if (typeof o === 'string') {
    yield* c.err(`vfio_testdev: ${o}\nusage: vfio_testdev [-n COUNT] [-l BYTES] [-i IOVA] [-p] BDF\n`);
    return 2;
  }
  const fail = function* (what: string, r: number): Generator<unknown, number, unknown> {
    yield* c.perror(what, r);
    return 1;
  };
  // 1. the IOMMU group of the device
  const link = yield* c.readlink(`/sys/bus/pci/devices/${o.bdf}/iommu_group`);
  if (typeof link === 'number') return yield* fail('iommu_group', link);
  const group_id = link.slice(link.lastIndexOf('/') + 1);
  // 2-4. the container
  const container = yield* c.open('/dev/vfio/vfio', O_RDWR);
  if (container < 0) return yield* fail('/dev/vfio/vfio', container);
  if ((yield* c.ioctl(container, VFIO_GET_API_VERSION)) !== 0) return yield* fail('unknown API version', -22);
  if ((yield* c.ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU)) <= 0) return yield* fail('no TYPE1v2 IOMMU', -19);
  // 5-6. the group, viable
  const group = yield* c.open(`/dev/vfio/${group_id}`, O_RDWR);
  if (group < 0) return yield* fail(`/dev/vfio/${group_id}`, group);
  const a = new UserWords(yield* c.malloc(256));
  a.u32(0, 8);
  let r = yield* c.ioctl(group, VFIO_GROUP_GET_STATUS, a.va);
  if (r < 0) return yield* fail('GROUP_GET_STATUS', r);
  if (!(a.u32(4) & VFIO_GROUP_FLAGS_VIABLE)) {
    yield* c.err(`vfio_testdev: group ${group_id} is not viable (are all its devices bound to vfio-pci?)\n`);
    return 1;
  }
  // 7-8. group into container, IOMMU model
  a.u32(0, container);
  r = yield* c.ioctl(group, VFIO_GROUP_SET_CONTAINER, a.va);
  if (r < 0) return yield* fail('GROUP_SET_CONTAINER', r);
  r = yield* c.ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU);
  if (r < 0) return yield* fail('SET_IOMMU', r);
  // 10. the DMA buffer: one slot per transfer
  const size = Math.ceil((o.count * o.len) / PAGE) * PAGE;
  const buf = yield* c.mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  if (buf < 0) return yield* fail('mmap buffer', buf);
  a.u32(0, 32);
  a.u32(4, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
  a.u64(8, buf);
  a.u64(16, o.iova);
  a.u64(24, size);
  r = yield* c.ioctl(container, VFIO_IOMMU_MAP_DMA, a.va);
  if (r < 0) return yield* fail('IOMMU_MAP_DMA', r);
  // 11-12. the device, its BAR0 and config space
  const name = yield* c.malloc(64);
  thisCpu().writeVirt(name, new TextEncoder().encode(`${o.bdf}\0`));
  const dev = yield* c.ioctl(group, VFIO_GROUP_GET_DEVICE_FD, name);
  if (dev < 0) return yield* fail('GROUP_GET_DEVICE_FD', dev);
  a.u32(0, 24);
  r = yield* c.ioctl(dev, VFIO_DEVICE_GET_INFO, a.va);
  if (r < 0) return yield* fail('DEVICE_GET_INFO', r);
  const canReset = (a.u32(4) & VFIO_DEVICE_FLAGS_RESET) !== 0;
  if (canReset) {
    r = yield* c.ioctl(dev, VFIO_DEVICE_RESET);
    if (r < 0) return yield* fail('DEVICE_RESET', r);
  }
  a.u32(0, 32);
  a.u32(8, 0);
  r = yield* c.ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, a.va);
  if (r < 0) return yield* fail('GET_REGION_INFO BAR0', r);
  if (!(a.u32(4) & VFIO_REGION_INFO_FLAG_MMAP)) return yield* fail('BAR0 cannot be mmapped', -22);
  const barSize = a.u64(16);
  const barOff = a.u64(24);
  a.u32(0, 32);
  a.u32(8, VFIO_PCI_CONFIG_REGION_INDEX);
  r = yield* c.ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, a.va);
  if (r < 0) return yield* fail('GET_REGION_INFO CONFIG', r);
  const cfg = a.u64(24);
  const bar = yield* c.mmap(0, barSize, PROT_READ | PROT_WRITE, MAP_SHARED, dev, barOff);
  if (bar < 0) return yield* fail('mmap BAR0', bar);
  if (thisCpu().ld32(bar + X_ID) >>> 0 !== X_ID_SVAX) {
    yield* c.err('vfio_testdev: BAR0 is not an iommu-testdev with the svasoc extension\n');
    return 1;
  }
  // Memory Space and Bus Master: the device may DMA now
  const w = new UserWords(yield* c.malloc(8));
  r = yield* c.pread(dev, w.va, 2, cfg + PCI_COMMAND);
  if (r !== 2) return yield* fail('read PCI_COMMAND', r < 0 ? r : -5);
  thisCpu().st16(w.va, thisCpu().ld16(w.va) | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
  r = yield* c.pwrite(dev, w.va, 2, cfg + PCI_COMMAND);
  if (r !== 2) return yield* fail('write PCI_COMMAND', r < 0 ? r : -5);
  // 13. MSI -> eventfd
  let efd = -1;
  if (!o.poll) {
    efd = yield* c.eventfd(0, 0);
    if (efd < 0) return yield* fail('eventfd', efd);
    a.u32(0, 24);
    a.u32(4, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER);
    a.u32(8, VFIO_PCI_MSI_IRQ_INDEX);
    a.u32(12, 0);
    a.u32(16, 1);
    a.u32(20, efd);
    r = yield* c.ioctl(dev, VFIO_DEVICE_SET_IRQS, a.va);
    if (r < 0) return yield* fail('DEVICE_SET_IRQS MSI', r);
  }
  yield* c.printf('vfio_testdev: %s group %s, %d bytes at IOVA 0x%x, BAR0 %d bytes, %s\n', o.bdf, group_id, size, o.iova, barSize, o.poll ? 'polling' : 'MSI on eventfd');
  for (let i = 0; i < o.count; i++) {
    const off = i * o.len;
    const write = i % 2 === 0;
    if (!write) for (let k = 0; k < o.len; k += 4) thisCpu().st32(buf + off + k, PATTERN);
    thisCpu().st32(bar + DMA_GVA_LO, (o.iova + off) % 2 ** 32);
    thisCpu().st32(bar + DMA_GVA_HI, Math.floor((o.iova + off) / 2 ** 32));
    thisCpu().st32(bar + DMA_LEN, o.len);
    thisCpu().st32(bar + X_CTRL, (write ? X_OP_WRITE : X_OP_READ) | (o.poll ? 0 : X_CTRL_MSI));
    thisCpu().st32(bar + DMA_DBELL, 1);
    thisCpu().ld32(bar + DMA_TRIGGERING);
    if (o.poll) {
      for (let spins = 0; thisCpu().ld32(bar + DMA_RESULT) >>> 0 === RESULT_BUSY; spins++) if (spins % 64 === 63) yield* c.sched_yield();
    } else {
      // blocks until the device's MSI signals the eventfd
      const n = yield* c.read(efd, 8);
      if (typeof n === 'number') return yield* fail('read eventfd', n);
    }
    const result = thisCpu().ld32(bar + DMA_RESULT) >>> 0;
    if (result !== 0) {
      yield* c.printf('vfio_testdev: transfer %d (%s at IOVA 0x%x) failed: DMA_RESULT 0x%08x, stopped at 0x%x\n', i, write ? 'write' : 'read', o.iova + off, result, thisCpu().ld32(bar + X_FAULT_LO) >>> 0);
      return 1;
    }
    if (write) {
      for (let k = 0; k < o.len; k += 4) {
        const v = thisCpu().ld32(buf + off + k) >>> 0;
        if (v !== PATTERN) {
          yield* c.printf('vfio_testdev: transfer %d: buffer offset %d holds 0x%08x, not the pattern\n', i, off + k, v);
          return 1;
        }
      }
    }
    yield* c.printf('vfio_testdev: transfer %d: %s %d bytes at IOVA 0x%x ok\n', i, write ? 'device wrote' : 'device read', o.len, o.iova + off);
  }
  a.u32(0, 24);
  a.u32(4, 0);
  a.u64(8, o.iova);
  a.u64(16, size);
  r = yield* c.ioctl(container, VFIO_IOMMU_UNMAP_DMA, a.va);
  if (r < 0) return yield* fail('IOMMU_UNMAP_DMA', r);
  yield* c.munmap(bar, barSize);
  if (efd >= 0) yield* c.close(efd);
  yield* c.close(dev);
  yield* c.close(group);
  yield* c.close(container);
  yield* c.printf('vfio_testdev: OK %d transfers\n', o.count);
  return 0;
}
