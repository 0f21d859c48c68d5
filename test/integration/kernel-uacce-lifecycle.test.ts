// uacce queue lifetime and isolation on the booted board (hisi_zip with 3 queues):
// a forked child inherits no queue mapping (VM_DONTCOPY / VM_WIPEONFORK) and its exit
// does not release the parent's queue; a process killed while the engine works on its
// SQE gives its queue, PASID bond and faults back; the fourth open of three queues is
// -EBUSY; a process naming another process's virtual address in an SQE faults at its
// own PASID instead of reading the other's data; removing the device zaps the user
// mappings and leaves open files with -ENXIO, and a node naming no device is -ENODEV.

import { describe, expect, it } from 'vitest';
import { inflate } from 'pako';
import { thisCpu } from '../../src/arch/index.js';
import type { Libc } from '../../src/user/libc/libc.js';
import { sys } from '../../src/user/libc/syscall.js';
import { putCstr } from '../../src/user/libc/string.js';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, O_RDWR, O_WRONLY, PROT_READ, PROT_WRITE, SIGKILL } from '../../src/user/libc/uapi.js';
import { iopf_stats, iopf_pending_groups } from '../../src/kernel/drivers/iommu/io-pgfault.js';
import { uacce_devices } from '../../src/kernel/drivers/misc/uacce/uacce.js';
import { hisi_zip_devices } from '../../src/kernel/drivers/crypto/hisilicon/zip/zip-main.js';
import { bytesEqual, zipSample } from './kernel-zip-harness.js';
import type { Machine } from '../../src/machine/board.js';
import { DEV, DUS_SIZE, PAGE, UACCE_CMD_START_Q, UserQueue, bootUacce, readAttr, zlibCompressSqe } from './kernel-uacce-harness.js';

const EBUSY = -16;
const ENXIO = -6;
const ENODEV = -19;
const ENOENT = -2;
const SIGSEGV = 11;
const SECRET = new TextEncoder().encode('the other process must never read this secret text '.repeat(40));
const SECRET_VA = 0x3000_0000_0000;

function withZlibHead(raw: Uint8Array): Uint8Array {
  const z = new Uint8Array(raw.length + 2);
  z.set([0x78, 0x9c]);
  z.set(raw, 2);
  return z;
}

function containsSecretPiece(b: Uint8Array): boolean {
  const text = new TextDecoder('latin1').decode(b);
  return text.includes('must never read');
}

describe('uacce queue lifetime, fork, kill, exhaustion, isolation and removal', () => {
  const got: Record<string, unknown> = {};
  const zip = () => hisi_zip_devices()[0]!;

  /** One compress through `q` with a waiting poll(); returns [status, output]. */
  function* roundTrip(c: Libc, q: UserQueue, input: Uint8Array, tag: number): Generator<unknown, [number, Uint8Array], unknown> {
    const src = yield* c.mmap(0, input.length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    const dst = yield* c.mmap(0, 2 * input.length + PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    thisCpu().writeVirt(src, input);
    q.send(zlibCompressSqe(src, input.length, dst, 2 * input.length + PAGE, tag));
    yield* q.poll(c, 5e9);
    if (!q.ready()) return [-1, new Uint8Array(0)];
    const r = q.reap();
    const out = new Uint8Array(r.sqe[1]!);
    thisCpu().readVirt(dst, out);
    return [r.sqe[3]! & 0xff, out];
  }

  const forkMain = function* (c: Libc): Generator<unknown, number, unknown> {
    const q = yield* UserQueue.create(c);
    if (typeof q === 'string') {
      got.forkErr = q;
      return 10;
    }
    thisCpu().st32(q.dus, 0x5a5a5a5a);
    const pid = yield* c.fork(function* (child) {
      // The DUS VMA was not copied: this load faults and the child dies with SIGSEGV.
      const v = thisCpu().ld32(q.dus);
      yield* child.out(`child read ${v}\n`);
      return 0;
    });
    const w = yield* c.wait4(pid);
    got.childStatus = typeof w === 'number' ? w : w.status;
    got.availAfterChild = yield* readAttr(c, 'available_instances');
    const input = zipSample(8192, 3);
    const [st, out] = yield* roundTrip(c, q, input, 7);
    got.parentAfterFork = st === 0 && bytesEqual(inflate(withZlibHead(out)), input);
    yield* c.close(q.fd);
    return 0;
  };

  const killMain = function* (c: Libc): Generator<unknown, number, unknown> {
    const p = yield* c.pipe2();
    if (typeof p === 'number') return 10;
    const [rd, wr] = p;
    const pid = yield* c.fork(function* (child) {
      const q = yield* UserQueue.create(child);
      if (typeof q === 'string') return 20;
      const len = 1 << 20;
      const src = yield* child.mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      const dst = yield* child.mmap(0, 2 * len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      thisCpu().writeVirt(src, zipSample(len, 11));
      // untouched destination: the engine will stall on it page after page
      q.send(zlibCompressSqe(src, len, dst, 2 * len, 1));
      yield* child.write(wr, 'x');
      yield* q.poll(child, 60e9);
      return 0;
    });
    got.availWhileChild = -1;
    const b = yield* c.read(rd, 1);
    got.childReady = typeof b !== 'number' && b.length === 1;
    got.availWhileChild = yield* readAttr(c, 'available_instances');
    got.kill = yield* c.kill(pid, SIGKILL);
    const w = yield* c.wait4(pid);
    got.killedStatus = typeof w === 'number' ? w : w.status & 0x7f;
    yield* c.nanosleep(10e6);
    got.availAfterKill = yield* readAttr(c, 'available_instances');
    got.qpInUse = zip().qm.qp_in_used;
    got.queuesLeft = uacce_devices()[0]?.queues.length;
    got.iopfPending = iopf_pending_groups(zip().qm.pdev.dev as Parameters<typeof iopf_pending_groups>[0]);
    return 0;
  };

  const busyMain = function* (c: Libc): Generator<unknown, number, unknown> {
    const fds: number[] = [];
    for (let i = 0; i < 4; i++) fds.push(yield* c.open(DEV, O_RDWR));
    got.opens = fds;
    got.availFull = yield* readAttr(c, 'available_instances');
    for (const fd of fds) if (fd >= 0) yield* c.close(fd);
    got.availFreed = yield* readAttr(c, 'available_instances');
    return 0;
  };

  const isolationMain = function* (c: Libc): Generator<unknown, number, unknown> {
    const qa = yield* UserQueue.create(c);
    if (typeof qa === 'string') return 10;
    const secret = yield* c.mmap(SECRET_VA, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
    got.secretVa = secret;
    thisCpu().writeVirt(SECRET_VA, SECRET);
    const invalid0 = iopf_stats().invalid;
    const pid = yield* c.fork(function* (child) {
      // Another address space: the secret's VA is not mapped here.
      yield* child.munmap(SECRET_VA, 4 * PAGE);
      const q = yield* UserQueue.create(child);
      if (typeof q === 'string') return 20;
      const dst = yield* child.mmap(0, 64 * 1024, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      thisCpu().writeVirt(dst, new Uint8Array(64 * 1024));
      q.send(zlibCompressSqe(SECRET_VA, SECRET.length, dst, 64 * 1024, 9));
      const ev = yield* q.poll(child, 2e9);
      got.intruderPoll = ev;
      let status = -1;
      let produced = 0;
      if (q.ready()) {
        const r = q.reap();
        status = r.sqe[3]! & 0xff;
        produced = r.sqe[1]!;
      }
      got.intruderStatus = status;
      got.intruderProduced = produced;
      const back = new Uint8Array(64 * 1024);
      thisCpu().readVirt(dst, back);
      let leaked = containsSecretPiece(back);
      if (!leaked && produced > 0) {
        try {
          leaked = containsSecretPiece(inflate(withZlibHead(back.subarray(0, produced))));
        } catch {
          // not a zlib stream: nothing decodable came out
        }
      }
      got.leaked = leaked;
      got.intruderTx = q.txStopped();
      return 0;
    });
    yield* c.wait4(pid);
    got.iopfInvalid = iopf_stats().invalid - invalid0;
    // the owner's queue still works, on its own data
    const input = zipSample(4096, 5);
    const [st, out] = yield* roundTrip(c, qa, input, 3);
    got.ownerAfter = st === 0 && bytesEqual(inflate(withZlibHead(out)), input);
    yield* c.close(qa.fd);
    return 0;
  };

  const isolateMain = function* (c: Libc): Generator<unknown, number, unknown> {
    const attr = '/sys/class/uacce/hisi_zip-0/isolate_strategy';
    got.isoTooBig = yield* c.writeFile(attr, '65536', O_WRONLY);
    got.isoJunk = yield* c.writeFile(attr, 'many', O_WRONLY);
    got.isoSet = yield* c.writeFile(attr, '1', O_WRONLY);
    got.isoRead = yield* readAttr(c, 'isolate_strategy');
    got.isolateBefore = yield* readAttr(c, 'isolate');
    const resets0 = zip().qm.dfx.reset_cnt;
    // two hardware errors (each a bad read that resets the controller) within the hour
    for (let i = 0; i < 2; i++) {
      const q = yield* UserQueue.create(c);
      if (typeof q === 'string') return 10 + i;
      q.send(zlibCompressSqe(SECRET_VA, PAGE, SECRET_VA + 2 * PAGE, PAGE, i));
      yield* q.poll(c, 1e9);
      yield* q.release(c);
      got[`isolateAfter${i}`] = yield* readAttr(c, 'isolate');
    }
    got.isoResets = zip().qm.dfx.reset_cnt - resets0;
    got.isoSetWhenIsolated = yield* c.writeFile(attr, '5', O_WRONLY);
    return 0;
  };

  let machine: Machine | undefined;
  const cqOverflowMain = function* (c: Libc): Generator<unknown, number, unknown> {
    const q = yield* UserQueue.create(c);
    if (typeof q === 'string') return 10;
    got.ovfFlagsBefore = [q.txStopped(), q.rxStopped()];
    machine!.zip.inject({ kind: 'cq-overflow', queue: q.qn });
    const input = zipSample(4096, 13);
    const src = yield* c.malloc(input.length);
    const dst = yield* c.malloc(16384);
    thisCpu().writeVirt(src, input);
    thisCpu().writeVirt(dst, new Uint8Array(16384));
    q.send(zlibCompressSqe(src, input.length, dst, 16384, 1));
    // the stop between TX and RX drains the queue first (v2: up to 1000 SQC/CQC dumps)
    yield* c.nanosleep(500e6);
    got.ovfFlagsAfter = [q.txStopped(), q.rxStopped()];
    const qn = q.qn;
    got.ovfPut = yield* q.release(c);
    const q2 = yield* UserQueue.create(c);
    if (typeof q2 === 'string') return 11;
    got.ovfSameQp = q2.qn === qn;
    got.ovfFlagsNew = [q2.txStopped(), q2.rxStopped()];
    const [st, out] = yield* roundTrip(c, q2, input, 2);
    got.ovfNewWorks = st === 0 && bytesEqual(inflate(withZlibHead(out)), input);
    yield* q2.release(c);
    return 0;
  };

  const removeMain = function* (c: Libc): Generator<unknown, number, unknown> {
    const q = yield* UserQueue.create(c);
    if (typeof q === 'string') return 10;
    const st = yield* c.fstat(q.fd);
    const rdev = typeof st === 'number' ? 0 : (st['st_rdev'] as number);
    got.unbind = yield* c.writeFile('/sys/bus/pci/drivers/hisi_zip/unbind', '0000:00:01.0', O_WRONLY);
    got.ioctlAfterRemove = yield* c.ioctl(q.fd, UACCE_CMD_START_Q, 0);
    yield* c.munmap(q.dus, DUS_SIZE);
    got.mmapAfterRemove = yield* c.mmap(0, DUS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, q.fd, PAGE);
    got.pollAfterRemove = yield* q.poll(c, 0);
    got.reopen = yield* c.open(DEV, O_RDWR);
    // a node still naming the removed device's dev_t
    const path = yield* c.malloc(64);
    putCstr(path, '/tmp/stale_uacce');
    got.mknod = yield* sys('mknodat', -100, path, 0o20666, rdev);
    got.openStale = yield* c.open('/tmp/stale_uacce', O_RDWR);
    got.classGone = yield* readAttr(c, 'api');
    // the glue directory <parent>/uacce went with its last device
    got.glueGone = yield* c.open('/sys/devices/pci0000:00/0000:00:01.0/uacce', 0);
    got.parentStays = (yield* c.open('/sys/devices/pci0000:00/0000:00:01.0/vendor', 0)) >= 0;
    yield* c.close(q.fd);
    // the doorbell mapping was zapped: a store there faults (SIGSEGV/SIGBUS ends the process)
    yield* c.out('touching the zapped doorbell page\n');
    thisCpu().st64(q.mmio + 0x1000, 0);
    yield* c.out('still alive after the store\n');
    return 0;
  };

  const run = bootUacce({
    mains: { fork_q: forkMain, kill_q: killMain, busy_q: busyMain, iso_q: isolationMain, cqovf_q: cqOverflowMain, isolate_q: isolateMain, remove_q: removeMain },
    args: 'hisi_zip.pf_q_num=3',
    script: ['fork_q || echo FAIL-fork $?', 'kill_q || echo FAIL-kill $?', 'busy_q || echo FAIL-busy $?', 'iso_q || echo FAIL-iso $?', 'cqovf_q || echo FAIL-cqovf $?', 'isolate_q || echo FAIL-isolate $?', 'remove_q; echo remove-status $?', 'echo life-done'],
    limitNs: 300e9,
    setup: (m) => {
      machine = m;
    },
  });

  it('all scenarios ran', () => {
    expect(run.out).toContain('life-done');
    expect(run.out).not.toContain('FAIL');
    expect(got.forkErr).toBeUndefined();
  });

  it('fork: the child has no DUS mapping (its load is SIGSEGV); its exit keeps the parent queue, which still compresses', () => {
    expect(got.childStatus! as number & 0x7f).toBe(SIGSEGV);
    expect(got.availAfterChild).toBe('2');
    expect(got.parentAfterFork).toBe(true);
  });

  it('SIGKILL while the engine works on the SQE: the queue, the bond and every fault are given back', () => {
    expect(got.childReady).toBe(true);
    expect(got.availWhileChild).toBe('2');
    expect(got.kill).toBe(0);
    expect(got.killedStatus).toBe(SIGKILL);
    expect(got.availAfterKill).toBe('3');
    expect(got.qpInUse).toBe(0);
    expect(got.queuesLeft).toBe(0);
    expect(got.iopfPending).toBe(0);
  });

  it('the fourth open of three queues is -EBUSY; closing frees them all', () => {
    const o = got.opens as number[];
    expect(o.slice(0, 3).every((fd) => fd >= 0)).toBe(true);
    expect(o[3]).toBe(EBUSY);
    expect(got.availFull).toBe('0');
    expect(got.availFreed).toBe('3');
  });

  it("an SQE naming another process's VA faults at the submitter's PASID (IOPF answers INVALID, the engine's read aborts: no completion), never reads the other's data; the owner's queue keeps working", () => {
    expect(got.secretVa).toBe(SECRET_VA);
    expect(got.leaked).toBe(false);
    expect(got.intruderStatus).toBe(-1);
    expect(got.intruderProduced).toBe(0);
    expect(got.iopfInvalid).toBeGreaterThan(0);
    expect(got.ownerAfter).toBe(true);
  });

  it('a CQ overflow on a user queue (AEQE) sets the TX then RX stop words of its status page; the next queue created on that qp starts with both clear and works', () => {
    expect(got.ovfFlagsBefore).toEqual([0, 0]);
    expect(got.ovfFlagsAfter).toEqual([1, 1]);
    expect(got.ovfPut).toBe(0);
    expect(got.ovfSameQp).toBe(true);
    expect(got.ovfFlagsNew).toEqual([0, 0]);
    expect(got.ovfNewWorks).toBe(true);
  });

  it('isolate_strategy: > 65535 or not a number -EINVAL; at threshold 1 the second hardware error within the hour isolates the device (isolate 1), after which the strategy is -EPERM', () => {
    expect(got.isoTooBig).toBe(-22);
    expect(got.isoJunk).toBe(-22);
    expect(got.isoSet).toBe(1);
    expect(got.isoRead).toBe('1');
    expect(got.isolateBefore).toBe('0');
    expect(got.isoResets).toBe(2);
    expect(got.isolateAfter0).toBe('0');
    expect(got.isolateAfter1).toBe('1');
    expect(got.isoSetWhenIsolated).toBe(-1);
  });

  it('device removal: open files get -ENXIO, poll 0, the node is gone (-ENOENT), a stale node is -ENODEV, the class dir is gone, mappings are zapped', () => {
    expect(got.unbind).toBeGreaterThan(0);
    expect(got.ioctlAfterRemove).toBe(ENXIO);
    expect(got.mmapAfterRemove).toBe(ENXIO);
    expect(got.pollAfterRemove).toBe(0);
    expect(got.reopen).toBe(ENOENT);
    expect(got.mknod).toBe(0);
    expect(got.openStale).toBe(ENODEV);
    expect(got.classGone).toBe(ENOENT);
    expect(got.glueGone).toBe(ENOENT);
    expect(got.parentStays).toBe(true);
    expect(run.out).toContain('touching the zapped doorbell page');
    expect(run.out).not.toContain('still alive after the store');
  });
});
