// /dev/uacce_ctrl on the booted board: a process pins part of its buffer with
// UACCE_CMD_PIN. The pages, first in ZONE_MOVABLE, are migrated to ZONE_NORMAL before
// the long-term pin (data intact); while pinned they cannot be migrated or compacted;
// UNPIN releases them; closing the file unpins whatever is left. Like pin_user_pages,
// the pin is not charged to VmPin and RLIMIT_MEMLOCK does not limit it.

import { describe, expect, it } from 'vitest';
import { thisCpu } from '../../src/arch/index.js';
import type { Libc } from '../../src/user/libc/libc.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, O_RDWR, PROT_READ, PROT_WRITE, RLIMIT_MEMLOCK } from '../../src/user/libc/uapi.js';
import { folio_maybe_dma_pinned } from '../../src/kernel/mm/gup.js';
import { compact_nodes } from '../../src/kernel/mm/compaction.js';
import { PAGE, UACCE_CMD_PIN, UACCE_CMD_UNPIN, UserQueue, bootUacce, pinIoctl, zlibCompressSqe } from './kernel-uacce-harness.js';
import { iopf_stats } from '../../src/kernel/drivers/iommu/io-pgfault.js';
import { inflate } from 'pako';
import { bytesEqual, zipSample } from './kernel-zip-harness.js';
import { pfnAt, movable, migrateUserPage } from '../support/user-pages.js';

const EINVAL = -22;
const EFAULT = -14;
const ENODEV = -19;



function* vmPin(c: Libc): Generator<unknown, string, unknown> {
  const s = yield* c.readFile('/proc/self/status');
  if (typeof s === 'number') return `err ${s}`;
  return /VmPin:\s*(\d+ kB)/.exec(new TextDecoder().decode(s))?.[1] ?? 'missing';
}

describe('uacce_ctrl: long-term pins of user memory', () => {
  const got: Record<string, unknown> = {};
  const pinMain = function* (c: Libc): Generator<unknown, number, unknown> {
    got.rlimit = yield* c.setrlimit(RLIMIT_MEMLOCK, 0, 0);
    const buf = yield* c.mmap(0, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    if (buf < 0) return 10;
    const data = new Uint8Array(8 * PAGE).map((_, i) => (i * 7 + 3) & 0xff);
    thisCpu().writeVirt(buf, data);
    const before = [0, 1, 2, 3, 4].map((i) => pfnAt(buf + i * PAGE));
    got.movableBefore = before.map(movable);
    const fd = yield* c.open('/dev/uacce_ctrl', O_RDWR);
    if (fd < 0) return 11;
    // [buf+100, buf+100+3 pages) spans pages 0..3
    got.pin = yield* pinIoctl(c, fd, UACCE_CMD_PIN, buf + 100, 3 * PAGE);
    const after = [0, 1, 2, 3, 4].map((i) => pfnAt(buf + i * PAGE));
    got.moved = after.map((p, i) => p !== before[i]);
    got.movableAfter = after.map(movable);
    got.pinned = after.map(folio_maybe_dma_pinned);
    const back = new Uint8Array(8 * PAGE);
    thisCpu().readVirt(buf, back);
    got.dataIntact = back.every((v, i) => v === data[i]);
    got.vmPin = yield* vmPin(c);
    got.migratePinned = migrateUserPage(buf + PAGE);
    compact_nodes();
    got.afterCompaction = pfnAt(buf + PAGE) === after[1];
    got.unpinWrongSize = yield* pinIoctl(c, fd, UACCE_CMD_UNPIN, buf + 100, PAGE);
    got.unpinNotPinned = yield* pinIoctl(c, fd, UACCE_CMD_UNPIN, buf + 5 * PAGE, PAGE);
    got.unpin = yield* pinIoctl(c, fd, UACCE_CMD_UNPIN, buf, 4 * PAGE);
    got.pinnedAfterUnpin = after.slice(0, 4).map(folio_maybe_dma_pinned);
    got.migrateUnpinned = migrateUserPage(buf + PAGE);
    got.unpinTwice = yield* pinIoctl(c, fd, UACCE_CMD_UNPIN, buf, 4 * PAGE);
    got.tooBig = yield* pinIoctl(c, fd, UACCE_CMD_PIN, buf, (1 << 30) + 1);
    got.empty = yield* pinIoctl(c, fd, UACCE_CMD_PIN, buf, 0);
    got.badArg = yield* c.ioctl(fd, UACCE_CMD_PIN, 16);
    got.unmapped = yield* pinIoctl(c, fd, UACCE_CMD_PIN, 0x10000, PAGE);
    got.otherCmd = yield* c.ioctl(fd, 0x40105704, 0);
    // a pin left in place when the file is closed
    got.pin2 = yield* pinIoctl(c, fd, UACCE_CMD_PIN, buf + 6 * PAGE, 2 * PAGE);
    const p6 = pfnAt(buf + 6 * PAGE);
    got.pinnedBeforeClose = folio_maybe_dma_pinned(p6);
    yield* c.close(fd);
    got.pinnedAfterClose = folio_maybe_dma_pinned(p6);
    got.migrateAfterClose = migrateUserPage(buf + 6 * PAGE);
    return 0;
  };
  const input = zipSample(32 * 1024, 21);
  const pinZipMain = function* (c: Libc): Generator<unknown, number, unknown> {
    const q = yield* UserQueue.create(c);
    if (typeof q === 'string') return 10;
    const src = yield* c.mmap(0, input.length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    const dst = yield* c.mmap(0, 64 * 1024, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    thisCpu().writeVirt(src, input);
    const fd = yield* c.open('/dev/uacce_ctrl', O_RDWR);
    // the never-touched destination is pinned (faulted in, long-term) before the device sees it
    got.pinDst = yield* pinIoctl(c, fd, UACCE_CMD_PIN, dst, 64 * 1024);
    const groups0 = iopf_stats().groups;
    q.send(zlibCompressSqe(src, input.length, dst, 64 * 1024, 1));
    yield* q.poll(c, 5e9);
    const r = q.reap();
    got.pinZipFaults = iopf_stats().groups - groups0;
    got.pinZipStatus = r.sqe[3]! & 0xff;
    const out = new Uint8Array(r.sqe[1]! + 2);
    out.set([0x78, 0x9c]);
    thisCpu().readVirt(dst, out, 2, r.sqe[1]!);
    got.pinZipOk = bytesEqual(inflate(out), input);
    yield* c.close(fd);
    yield* c.close(q.fd);
    return 0;
  };
  const run = bootUacce({ mains: { pin: pinMain, pin_zip: pinZipMain }, script: ['pin || echo FAIL-pin $?', 'pin_zip || echo FAIL-pinzip $?', 'echo pin-done'] });

  it('the program ran', () => {
    expect(run.out).toContain('pin-done');
    expect(run.out).not.toContain('FAIL');
    expect(run.code).toBe(0);
  });

  it('PIN of [addr+100, +3 pages) pins pages 0..3: MOVABLE pages are migrated to ZONE_NORMAL first, data intact, page 4 untouched', () => {
    expect(got.movableBefore).toEqual([true, true, true, true, true]);
    expect(got.pin).toBe(0);
    expect(got.moved).toEqual([true, true, true, true, false]);
    expect(got.movableAfter).toEqual([false, false, false, false, true]);
    expect(got.pinned).toEqual([true, true, true, true, false]);
    expect(got.dataIntact).toBe(true);
  });

  it('a pinned page is neither migrated nor moved by compaction', () => {
    expect(got.migratePinned).toBe(1);
    expect(got.afterCompaction).toBe(true);
  });

  it('pin_user_pages charges nothing: VmPin stays 0 kB and RLIMIT_MEMLOCK 0 does not refuse the pin', () => {
    expect(got.rlimit).toBe(0);
    expect(got.vmPin).toBe('0 kB');
  });

  it('UNPIN: another page count -EINVAL, no pin at that first page -ENODEV, then the matching range unpins (migratable again)', () => {
    expect(got.unpinWrongSize).toBe(EINVAL);
    expect(got.unpinNotPinned).toBe(ENODEV);
    expect(got.unpin).toBe(0);
    expect(got.pinnedAfterUnpin).toEqual([false, false, false, false]);
    expect(got.migrateUnpinned).toBe(0);
    expect(got.unpinTwice).toBe(ENODEV);
  });

  it('over 1 GiB or empty -EINVAL, unreadable argument -EFAULT, unmapped range -EFAULT, other command -EINVAL', () => {
    expect(got.tooBig).toBe(EINVAL);
    expect(got.empty).toBe(EINVAL);
    expect(got.badArg).toBe(EFAULT);
    expect(got.unmapped).toBe(EFAULT);
    expect(got.otherCmd).toBe(EINVAL);
  });

  it('a pinned destination needs no I/O page fault: the compression through uacce completes with no IOPF group and inflates', () => {
    expect(got.pinDst).toBe(0);
    expect(got.pinZipFaults).toBe(0);
    expect(got.pinZipStatus).toBe(0);
    expect(got.pinZipOk).toBe(true);
  });

  it('closing the file unpins what is still pinned', () => {
    expect(got.pin2).toBe(0);
    expect(got.pinnedBeforeClose).toBe(true);
    expect(got.pinnedAfterClose).toBe(false);
    expect(got.migrateAfterClose).toBe(0);
  });
});
