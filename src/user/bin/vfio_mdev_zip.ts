// vfio_mdev_zip: a user-space driver of ZIP queues exposed as mediated devices
// (hisi_zip.vfio_mdev=1), the pre-uacce WarpDrive way: it creates a compression and
// a decompression mdev through sysfs, puts both groups in one VFIO container (TYPE1v2),
// maps its buffer with MAP_DMA at IOVA = VA (as WarpDrive's wd_mem_share did), opens
// both devices by UUID, maps their queue regions and compresses then decompresses
// each block through the queues: SQEs written in the mapped SQ, the doorbell stored
// through the device's trapped doorbell region (pwrite), VFIO_SDMDEV_CMD_WAIT for the
// CQE, the result read back from the SQE. The round trip is compared with the input.
//
//   vfio_mdev_zip [-n COUNT] [-l BYTES] [-k] BDF
//
// -n blocks (default 4), -l bytes per block (default 16384, at most 1 MiB), -k keeps
// the two mdevs (UUIDs printed) instead of removing them at the end. Prints one line
// per block and "vfio_mdev_zip: OK n blocks" (status 0), or what failed (status 1).

import { thisCpu } from '../../arch/index.js';
import type { Libc } from '../libc/libc.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, O_RDWR, O_WRONLY, PROT_READ, PROT_WRITE } from '../libc/uapi.js';
import { UserWords } from '../libc/cstruct.js';

// include/uapi/linux/vfio.h: _IO(';', 100 + n)
const io = (n: number): number => 0x3b00 | (100 + n);
const VFIO_GET_API_VERSION = io(0);
const VFIO_CHECK_EXTENSION = io(1);
const VFIO_SET_IOMMU = io(2);
const VFIO_GROUP_SET_CONTAINER = io(4);
const VFIO_GROUP_GET_DEVICE_FD = io(6);
const VFIO_DEVICE_GET_INFO = io(7);
const VFIO_DEVICE_GET_REGION_INFO = io(8);
const VFIO_IOMMU_MAP_DMA = io(13);
const VFIO_IOMMU_UNMAP_DMA = io(14);
const VFIO_TYPE1v2_IOMMU = 3;
const VFIO_DMA_MAP_FLAG_READ = 1;
const VFIO_DMA_MAP_FLAG_WRITE = 2;
const VFIO_REGION_INFO_FLAG_MMAP = 4;
const VFIO_DEVICE_FLAGS_PLATFORM = 4;
/** WarpDrive's VFIO_SDMDEV_CMD_WAIT = _IO('W', 1): arg = timeout in ms. */
const VFIO_SDMDEV_CMD_WAIT = 0x5701;

// The ZIP mdev's regions and the QM v2 ring formats
const DOORBELL_REGION = 0;
const QUEUE_REGION = 1;
const DOORBELL_SQ_CQ = 0x1000;
const DB_CMD_SQ = 0;
const DB_CMD_CQ = 1;
const Q_DEPTH = 1024;
const SQE_SIZE = 128;
const CQE_SIZE = 16;
const SQ_BYTES = Q_DEPTH * SQE_SIZE;
// ZIP SQE (Linux zip.h): dw0 consumed, dw1 produced, dw3[7:0] status, dw4 input length,
// dw7 bit 25 flush FINISH, dw9 req_type | buf_type << 8, dw13 tag, dw14 dest_avail_out,
// dw18-19 source, dw20-21 destination
const REQ_DEFLATE = 1;
const FLUSH_FINISH = 1 << 25;
const STATUS_OK = 0x00;
const STATUS_NEGACOMPRESS = 0x0d;
const STATUS_DECOMP_END = 0x13;

const PAGE = 4096;
const MAX_LEN = 1 << 20;

interface Opts {
  count: number;
  len: number;
  keep: boolean;
  bdf: string;
}

function parse(argv: readonly string[]): Opts | string {
  const o: Opts = { count: 4, len: 16384, keep: false, bdf: '' };
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-n') o.count = Number.parseInt(argv[++i] ?? '', 10);
    else if (a === '-l') o.len = Number.parseInt(argv[++i] ?? '', 10);
    else if (a === '-k') o.keep = true;
    else if (o.bdf === '') o.bdf = a;
    else return `unexpected argument ${a}`;
  }
  if (o.bdf === '') return 'no device given';
  if (!(o.count >= 1 && o.count <= 1000)) return 'bad -n';
  if (!(o.len >= 1 && o.len <= MAX_LEN)) return 'bad -l (1..1048576)';
  return o;
}

/** One opened mdev queue: device fd, queue mapping, the SQ index and CQ head the program keeps. */
interface Queue {
  dev: number;
  ring: number;
  ringSize: number;
  dbOff: number;
  tail: number;
}

/** A UUID made of the pid and a counter (no randomness needed: unique per boot). */
function makeUuid(pid: number, n: number): string {
  const h = (v: number, w: number): string => v.toString(16).padStart(w, '0');
  return `${h(pid, 8)}-5a1d-4d3e-8f00-${h(n, 12)}`;
}

export function* vfioMdevZipMain(c: Libc, argv: string[]): Generator<unknown, number, unknown> {
  c.progname = 'vfio_mdev_zip';
  const o = parse(argv);
  if (typeof o === 'string') {
    yield* c.err(`vfio_mdev_zip: ${o}\nusage: vfio_mdev_zip [-n COUNT] [-l BYTES] [-k] BDF\n`);
    return 2;
  }
  const fail = function* (what: string, r: number): Generator<unknown, number, unknown> {
    yield* c.perror(what, r);
    return 1;
  };
  const a = new UserWords(yield* c.malloc(256));
  const types = `/sys/bus/pci/devices/${o.bdf}/mdev_supported_types`;
  const pid = yield* c.getpid();
  const uuids = [makeUuid(pid, 1), makeUuid(pid, 2)];
  const kinds = ['hisi_zip-comp', 'hisi_zip-decomp'];
  const sysfsWrite = function* (path: string, text: string): Generator<unknown, number, unknown> {
    const fd = yield* c.open(path, O_WRONLY);
    if (fd < 0) return fd;
    const r = yield* c.write(fd, text);
    yield* c.close(fd);
    return r;
  };
  // 1. the mdevs: echo $UUID > .../mdev_supported_types/<type>/create
  for (let i = 0; i < 2; i++) {
    const r = yield* sysfsWrite(`${types}/${kinds[i]}/create`, `${uuids[i]}\n`);
    if (r < 0) return yield* fail(`${kinds[i]}/create`, r);
  }
  // 2-4. the container
  const container = yield* c.open('/dev/vfio/vfio', O_RDWR);
  if (container < 0) return yield* fail('/dev/vfio/vfio', container);
  if ((yield* c.ioctl(container, VFIO_GET_API_VERSION)) !== 0) return yield* fail('unknown API version', -22);
  if ((yield* c.ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU)) <= 0) return yield* fail('no TYPE1v2 IOMMU', -19);
  // 5-8. each mdev's own group into the container, then the IOMMU model
  const groups: number[] = [];
  const groupIds: string[] = [];
  for (const id of uuids) {
    const link = yield* c.readlink(`/sys/bus/mdev/devices/${id}/iommu_group`);
    if (typeof link === 'number') return yield* fail(`${id}/iommu_group`, link);
    const gid = link.slice(link.lastIndexOf('/') + 1);
    const g = yield* c.open(`/dev/vfio/${gid}`, O_RDWR);
    if (g < 0) return yield* fail(`/dev/vfio/${gid}`, g);
    a.u32(0, container);
    const r = yield* c.ioctl(g, VFIO_GROUP_SET_CONTAINER, a.va);
    if (r < 0) return yield* fail('GROUP_SET_CONTAINER', r);
    groups.push(g);
    groupIds.push(gid);
  }
  let r = yield* c.ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU);
  if (r < 0) return yield* fail('SET_IOMMU', r);
  // 10. one buffer per block: input, compressed, decompressed; mapped at IOVA = VA
  const slot = Math.ceil((o.len + 64) / PAGE) * PAGE;
  const size = 3 * slot;
  const buf = yield* c.mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  if (buf < 0) return yield* fail('mmap buffer', buf);
  a.u32(0, 32);
  a.u32(4, VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
  a.u64(8, buf);
  a.u64(16, buf);
  a.u64(24, size);
  r = yield* c.ioctl(container, VFIO_IOMMU_MAP_DMA, a.va);
  if (r < 0) return yield* fail('IOMMU_MAP_DMA', r);
  // 11-12. the devices by UUID, their regions
  const queues: Queue[] = [];
  for (let i = 0; i < 2; i++) {
    const name = yield* c.malloc(64);
    thisCpu().writeVirt(name, new TextEncoder().encode(`${uuids[i]}\0`));
    const dev = yield* c.ioctl(groups[i]!, VFIO_GROUP_GET_DEVICE_FD, name);
    if (dev < 0) return yield* fail('GROUP_GET_DEVICE_FD', dev);
    a.u32(0, 24);
    r = yield* c.ioctl(dev, VFIO_DEVICE_GET_INFO, a.va);
    if (r < 0) return yield* fail('DEVICE_GET_INFO', r);
    if (!(a.u32(4) & VFIO_DEVICE_FLAGS_PLATFORM) || a.u32(8) < 2) return yield* fail('not a ZIP mdev', -19);
    a.u32(0, 32);
    a.u32(8, DOORBELL_REGION);
    r = yield* c.ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, a.va);
    if (r < 0) return yield* fail('GET_REGION_INFO doorbell', r);
    const dbOff = a.u64(24) + DOORBELL_SQ_CQ;
    a.u32(0, 32);
    a.u32(8, QUEUE_REGION);
    r = yield* c.ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, a.va);
    if (r < 0) return yield* fail('GET_REGION_INFO queue', r);
    if (!(a.u32(4) & VFIO_REGION_INFO_FLAG_MMAP)) return yield* fail('queue region cannot be mmapped', -22);
    const ringSize = a.u64(16);
    const ring = yield* c.mmap(0, ringSize, PROT_READ | PROT_WRITE, MAP_SHARED, dev, a.u64(24));
    if (ring < 0) return yield* fail('mmap queue', ring);
    queues.push({ dev, ring, ringSize, dbOff, tail: 0 });
  }
  yield* c.printf('vfio_mdev_zip: %s: %s (%s, group %s) and %s (%s, group %s), %d bytes mapped at IOVA 0x%x\n', o.bdf, uuids[0]!, kinds[0]!, groupIds[0]!, uuids[1]!, kinds[1]!, groupIds[1]!, size, buf);
  const db = new UserWords(yield* c.malloc(8));
  /** One SQE through queue q; the result words, or -errno. */
  const run = function* (q: Queue, src: number, slen: number, dst: number, dlen: number): Generator<unknown, { consumed: number; produced: number; status: number } | number, unknown> {
    const s = q.ring + q.tail * SQE_SIZE;
    for (let k = 0; k < SQE_SIZE; k += 4) thisCpu().st32(s + k, 0);
    thisCpu().st32(s + 16, slen);
    thisCpu().st32(s + 28, FLUSH_FINISH);
    thisCpu().st32(s + 36, REQ_DEFLATE);
    thisCpu().st32(s + 52, q.tail);
    thisCpu().st32(s + 56, dlen);
    thisCpu().st32(s + 72, src % 2 ** 32);
    thisCpu().st32(s + 76, Math.floor(src / 2 ** 32));
    thisCpu().st32(s + 80, dst % 2 ** 32);
    thisCpu().st32(s + 84, Math.floor(dst / 2 ** 32));
    const cqe = q.ring + SQ_BYTES + q.tail * CQE_SIZE;
    const phase = (thisCpu().ld32(cqe + 12) >>> 16) & 1;
    const idx = q.tail;
    q.tail = (q.tail + 1) % Q_DEPTH;
    // SQ doorbell: qn[11:0] cmd[15:12] | index[15:0] in the high word
    db.u32(0, DB_CMD_SQ << 12);
    db.u32(4, q.tail);
    let e = yield* c.pwrite(q.dev, db.va, 8, q.dbOff);
    if (e < 0) return e;
    while (((thisCpu().ld32(cqe + 12) >>> 16) & 1) === phase) {
      e = yield* c.ioctl(q.dev, VFIO_SDMDEV_CMD_WAIT, 1000);
      if (e < 0) return e;
    }
    if ((thisCpu().ld32(cqe + 8) & 0xffff) !== idx) return -5;
    db.u32(0, DB_CMD_CQ << 12);
    db.u32(4, q.tail);
    e = yield* c.pwrite(q.dev, db.va, 8, q.dbOff);
    if (e < 0) return e;
    return { consumed: thisCpu().ld32(s) >>> 0, produced: thisCpu().ld32(s + 4) >>> 0, status: thisCpu().ld32(s + 12) & 0xff };
  };
  const inp = buf;
  const mid = buf + slot;
  const out = buf + 2 * slot;
  for (let i = 0; i < o.count; i++) {
    const line = `block ${i}: the mediated queue compresses what the vendor driver pinned. `;
    for (let k = 0; k < o.len; k++) thisCpu().st8(inp + k, line.charCodeAt(k % line.length));
    const comp = yield* run(queues[0]!, inp, o.len, mid, slot);
    if (typeof comp === 'number') return yield* fail(`block ${i}: compress`, comp);
    if ((comp.status !== STATUS_OK && comp.status !== STATUS_NEGACOMPRESS) || comp.consumed !== o.len) {
      yield* c.printf('vfio_mdev_zip: block %d: compression status 0x%x, consumed %d\n', i, comp.status, comp.consumed);
      return 1;
    }
    const dec = yield* run(queues[1]!, mid, comp.produced, out, slot);
    if (typeof dec === 'number') return yield* fail(`block ${i}: decompress`, dec);
    if ((dec.status !== STATUS_OK && dec.status !== STATUS_DECOMP_END) || dec.produced !== o.len) {
      yield* c.printf('vfio_mdev_zip: block %d: decompression status 0x%x, produced %d\n', i, dec.status, dec.produced);
      return 1;
    }
    for (let k = 0; k < o.len; k++) {
      if (thisCpu().ld8(out + k) !== thisCpu().ld8(inp + k)) {
        yield* c.printf('vfio_mdev_zip: block %d: byte %d differs after the round trip\n', i, k);
        return 1;
      }
    }
    yield* c.printf('vfio_mdev_zip: block %d: %d -> %d bytes, back to %d ok\n', i, o.len, comp.produced, dec.produced);
  }
  // UNMAP_DMA: the vendor driver unpins what it pinned (dma_unmap), then everything closes
  a.u32(0, 24);
  a.u32(4, 0);
  a.u64(8, buf);
  a.u64(16, size);
  r = yield* c.ioctl(container, VFIO_IOMMU_UNMAP_DMA, a.va);
  if (r < 0) return yield* fail('IOMMU_UNMAP_DMA', r);
  for (const q of queues) {
    yield* c.munmap(q.ring, q.ringSize);
    yield* c.close(q.dev);
  }
  for (const g of groups) yield* c.close(g);
  yield* c.close(container);
  if (o.keep) yield* c.printf('vfio_mdev_zip: kept %s %s\n', uuids[0]!, uuids[1]!);
  else {
    for (const id of uuids) {
      r = yield* sysfsWrite(`/sys/bus/mdev/devices/${id}/remove`, '1\n');
      if (r < 0) return yield* fail(`${id}/remove`, r);
    }
  }
  yield* c.printf('vfio_mdev_zip: OK %d blocks\n', o.count);
  return 0;
}
