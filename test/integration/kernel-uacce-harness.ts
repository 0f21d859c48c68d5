// Test harness for uacce on the booted board: the kernel boots with hisi_zip in uacce
// SVA mode, init runs a shell script, and the test's own user programs (libc Mains,
// installed as /bin/<name>) drive /dev/hisi_zip-0 the way UADK's hisi_qm user driver
// does: mmap the DUS and MMIO regions, SET_QP_CTX, START_Q, SQEs with user VAs, a
// doorbell store, then poll() or a spin on the CQE phase. The uAPI numbers below are
// user space's own copy (as UADK carries its headers), not the kernel's module.

import { createMachine } from '../../src/machine/create.js';
import { boot } from '../../src/machine/boot.js';
import type { Machine } from '../../src/machine/board.js';
import { createKernelImage } from '../../src/kernel/image.js';
import { set_qm_bus } from '../../src/kernel/drivers/crypto/hisilicon/qm-bus.js';
import { hisi_zip_crypto_reset } from '../../src/kernel/drivers/crypto/hisilicon/zip/zip-crypto.js';
import { hisi_zip_reset_state } from '../../src/kernel/drivers/crypto/hisilicon/zip/zip-main.js';
import { zipk_reset_state } from '../../src/kernel/drivers/crypto/hisilicon/zip/zipk.js';
import { thisCpu } from '../../src/arch/index.js';
import { userPrograms } from '../../src/user/rom.js';
import { program, type Main } from '../../src/user/libc/crt0.js';
import type { Libc } from '../../src/user/libc/libc.js';
import { MAP_SHARED, O_RDWR, POLLIN, PROT_READ, PROT_WRITE } from '../../src/user/libc/uapi.js';
import { buildImage, execStub } from '../../tools/mkimage/build.js';
import { countingBusOps, type HarnessStats } from './kernel-zip-harness.js';
import { userOutput } from '../support/kernel-boot.js';

// include/uapi/misc/uacce/{uacce.h,hisi_qm.h} as user space spells them
export const UACCE_CMD_START_Q = 0x5700;
export const UACCE_CMD_PUT_Q = 0x5701;
export const UACCE_CMD_QM_SET_QP_CTX = 0xc004480a;
export const UACCE_CMD_QM_SET_QP_INFO = 0xc010480b;
export const UACCE_CMD_PIN = 0x40105702;
export const UACCE_CMD_UNPIN = 0x40105703;
export const UACCE_QFRT_MMIO = 0;
export const UACCE_QFRT_DUS = 1;
export const DEV = '/dev/hisi_zip-0';
export const SYSDIR = '/sys/class/uacce/hisi_zip-0';
export const PAGE = 4096;
export const SQE_SIZE = 128;
export const DEPTH = 1024;
export const DUS_SIZE = 0x25000;
export const MMIO_SIZE = 0x2000;
/** QM v2 SQ/CQ doorbell inside the MMIO region. */
export const DB_OFFSET = 0x1000;
const CQ_OFFSET = SQE_SIZE * DEPTH;

export interface UacceRun {
  machine: Machine;
  code: number | undefined;
  out: string;
  console: string;
  stats: HarnessStats;
}

/** Boots with hisi_zip.uacce_mode=1, installs `mains` as programs and runs `script`. */
export function bootUacce(o: { mains: Record<string, Main>; script: string[]; args?: string; limitNs?: number; ramSize?: number; setup?: (m: Machine) => void }): UacceRun {
  const machine = createMachine({ ramSize: o.ramSize ?? 512 * 1024 * 1024 });
  o.setup?.(machine);
  const stats: HarnessStats = { coherentLive: 0, mapped: 0, resets: 0 };
  hisi_zip_reset_state();
  hisi_zip_crypto_reset();
  zipk_reset_state();
  set_qm_bus(countingBusOps(stats));
  const rom = new Map(userPrograms);
  const extra: Record<string, string | Uint8Array> = {};
  for (const [name, main] of Object.entries(o.mains)) {
    rom.set(name, program(main));
    extra[`/bin/${name}`] = execStub(name);
  }
  const initramfs = buildImage(undefined, { extraFiles: extra, script: o.script.join('\n') + '\n' });
  const args = `console=ttyAMA0 earlycon hisi_zip.uacce_mode=1${o.args ? ' ' + o.args : ''}`;
  const h = boot(machine, { kernel: createKernelImage({}), rom, initramfs, args });
  const code = h.runToPoweroff(o.limitNs ?? 120e9);
  const con = h.console.replace(/\r\n/g, '\n');
  const out = userOutput(con);
  return { machine, code, out, console: con, stats };
}

/** A sysfs attribute of the uacce device as text (trailing newline dropped), or the errno. */
export function* readAttr(c: Libc, name: string): Generator<unknown, string | number, unknown> {
  const d = yield* c.readFile(`${SYSDIR}/${name}`);
  if (typeof d === 'number') return d;
  return new TextDecoder().decode(d).replace(/\n$/, '');
}

/** ioctl with a small in/out structure in user memory; returns [ret, bytes after]. */
export function* ioctlStruct(c: Libc, fd: number, cmd: number, inBytes: Uint8Array): Generator<unknown, [number, Uint8Array], unknown> {
  const arg = yield* c.malloc(Math.max(inBytes.length, 16));
  thisCpu().writeVirt(arg, inBytes);
  const r = yield* c.ioctl(fd, cmd, arg);
  const back = new Uint8Array(inBytes.length);
  thisCpu().readVirt(arg, back);
  yield* c.free(arg);
  return [r, back];
}

/** UADK's hisi_qm_udrv in miniature: one queue, its rings and doorbells, from user space. */
export class UserQueue {
  qn = -1;
  sqTail = 0;
  cqHead = 0;
  phase = 1;
  constructor(
    readonly fd: number,
    readonly dus: number,
    readonly mmio: number,
  ) {}

  /** open, mmap DUS then MMIO, SET_QP_CTX(qc_type), START_Q. Returns the queue or a labelled errno. */
  static *create(c: Libc, qcType = 0): Generator<unknown, UserQueue | string, unknown> {
    const fd = yield* c.open(DEV, O_RDWR);
    if (fd < 0) return `open ${fd}`;
    const dus = yield* c.mmap(0, DUS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, UACCE_QFRT_DUS * PAGE);
    if (dus < 0) return `mmap dus ${dus}`;
    const mmio = yield* c.mmap(0, MMIO_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, UACCE_QFRT_MMIO * PAGE);
    if (mmio < 0) return `mmap mmio ${mmio}`;
    const q = new UserQueue(fd, dus, mmio);
    const [r, ctx] = yield* ioctlStruct(c, fd, UACCE_CMD_QM_SET_QP_CTX, new Uint8Array([0, 0, qcType, 0]));
    if (r < 0) return `set_qp_ctx ${r}`;
    q.qn = ctx[0]! | (ctx[1]! << 8);
    const s = yield* c.ioctl(fd, UACCE_CMD_START_Q, 0);
    if (s < 0) return `start ${s}`;
    return q;
  }

  /** UADK's teardown: PUT_Q, munmap both regions, close (the mappings hold the file open). */
  *release(c: Libc): Generator<unknown, number, unknown> {
    const r = yield* c.ioctl(this.fd, UACCE_CMD_PUT_Q, 0);
    yield* c.munmap(this.dus, DUS_SIZE);
    yield* c.munmap(this.mmio, MMIO_SIZE);
    yield* c.close(this.fd);
    return r;
  }

  /** TX stop word (status page, last u32) and RX stop word (the one before). */
  txStopped(): number {
    return thisCpu().ld32(this.dus + DUS_SIZE - 4);
  }
  rxStopped(): number {
    return thisCpu().ld32(this.dus + DUS_SIZE - 8);
  }

  /** Copies an SQE into the ring at the tail and rings the SQ doorbell with the new tail (a plain 64-bit store). */
  send(sqe: Uint32Array): void {
    const cpu = thisCpu();
    cpu.writeVirt(this.dus + this.sqTail * SQE_SIZE, new Uint8Array(sqe.buffer, sqe.byteOffset, SQE_SIZE));
    this.sqTail = (this.sqTail + 1) % DEPTH;
    this.doorbell(0, this.sqTail, 0);
  }

  /** QM v2 doorbell: qn [11:0], cmd [15:12] (0 SQ, 1 CQ), index [47:32], priority [63:48]. */
  doorbell(cmd: number, index: number, prio: number): void {
    thisCpu().st64(this.mmio + DB_OFFSET, (this.qn & 0xfff) + cmd * 0x1000 + index * 2 ** 32 + prio * 2 ** 48);
  }

  cqeAddr(): number {
    return this.dus + CQ_OFFSET + this.cqHead * 16;
  }

  /** The CQE at the head carries the expected phase. */
  ready(): boolean {
    return ((thisCpu().ld32(this.cqeAddr() + 12) >>> 16) & 1) === this.phase;
  }

  /** Spins on the CQE phase (LDXR + WFE, as smp_cond_load does) until it flips or `ns` pass. */
  spin(ns: number): boolean {
    const cpu = thisCpu();
    const deadline = cpu.now() + ns;
    for (;;) {
      const w = cpu.ldxr32(this.cqeAddr() + 12);
      if (((w >>> 16) & 1) === this.phase) return true;
      if (cpu.now() >= deadline) return false;
      cpu.wfe(deadline);
    }
  }

  /** Waits in poll(POLLIN); returns revents or -errno. */
  *poll(c: Libc, timeoutNs: number): Generator<unknown, number, unknown> {
    const r = yield* c.ppoll([{ fd: this.fd, events: POLLIN }], timeoutNs);
    return typeof r === 'number' ? r : r[0]!;
  }

  /** Consumes the head CQE: the SQE it names (the engine wrote the result there), CQ doorbell. */
  reap(): { sqHead: number; sqe: Uint32Array } {
    const cpu = thisCpu();
    const sqHead = cpu.ld32(this.cqeAddr() + 8) & 0xffff;
    const sqe = new Uint32Array(32);
    cpu.readVirt(this.dus + sqHead * SQE_SIZE, new Uint8Array(sqe.buffer));
    if (this.cqHead === DEPTH - 1) {
      this.cqHead = 0;
      this.phase ^= 1;
    } else this.cqHead++;
    this.doorbell(1, this.cqHead, 1);
    return { sqHead, sqe };
  }
}

/** A zlib-format compress SQE (V2 form, sqe_type 0): flat buffers at user VAs; the engine writes raw DEFLATE + Adler-32, no header. */
export function zlibCompressSqe(src: number, slen: number, dst: number, dlen: number, tag: number, reqType = 0x02): Uint32Array {
  const w = new Uint32Array(32);
  w[4] = slen;
  w[7] = 1 << 25; // FINISH, stateless, sqe_type 0
  w[9] = reqType; // req_type, flat buffers, 4 KiB window
  w[13] = tag;
  w[14] = dlen;
  w[18] = src >>> 0;
  w[19] = Math.floor(src / 2 ** 32);
  w[20] = dst >>> 0;
  w[21] = Math.floor(dst / 2 ** 32);
  return w;
}

/** A uacce_ctrl ioctl (UACCE_CMD_PIN/UNPIN) with its struct uacce_pin_address { addr, size } in a malloc'd buffer. */
export function* pinIoctl(c: Libc, fd: number, cmd: number, addr: number, size: number): Generator<unknown, number, unknown> {
  const arg = yield* c.malloc(16);
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  dv.setBigUint64(0, BigInt(addr), true);
  dv.setBigUint64(8, BigInt(size), true);
  thisCpu().writeVirt(arg, b);
  const r = yield* c.ioctl(fd, cmd, arg);
  yield* c.free(arg);
  return r;
}
