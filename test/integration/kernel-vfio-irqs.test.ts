// VFIO_DEVICE_SET_IRQS on vfio-pci beyond the MSI happy path (drivers/vfio/pci/
// vfio_pci_intrs.c vfio_pci_set_ctx_trigger_single and vfio_pci_set_msi_trigger;
// ../shared/reference/vfio-and-mm.md 1.3): the single-eventfd ERR and REQ indexes
// (loopback through DATA_NONE/DATA_BOOL needs a bound eventfd, DATA_BOOL and
// DATA_EVENTFD need count 1, fd -1 unbinds, other negative fds change nothing), and
// the MSI index's loopback and masking rules.

import { describe, expect, it } from 'vitest';
import * as NR from '../../src/kernel/syscalls/numbers.js';
import { oops_count } from '../../src/kernel/kernel/panic.js';
import { runMarked } from './kernel-iommu-harness.js';
import { TESTDEV, UStruct, VFIO, bindVfio, ioctl, openContainerGroup } from './kernel-vfio-harness.js';

const DATA_NONE = 1;
const DATA_BOOL = 2;
const DATA_EVENTFD = 4;
const ACTION_MASK = 8;
const ACTION_TRIGGER = 32;
const MSI = 1;
const ERR = 3;
const REQ = 4;

describe('VFIO_DEVICE_SET_IRQS: ERR/REQ single triggers and MSI loopback', () => {
  const got: Record<string, unknown> = {};
  const run = runMarked(function* (u) {
    const cpu = u.cpu;
    yield* bindVfio(u, TESTDEV);
    const fds = yield* openContainerGroup(u, TESTDEV);
    if (typeof fds === 'string') return 1;
    const dev = yield* ioctl(u, fds.group, VFIO.GROUP_GET_DEVICE_FD, u.str(TESTDEV));
    if (dev < 0) return 2;
    const set = new UStruct(u, 24);
    const setIrqs = function* (flags: number, index: number, count: number, data = 0): Generator<unknown, number, unknown> {
      set.u32(0, 24);
      set.u32(4, flags);
      set.u32(8, index);
      set.u32(12, 0);
      set.u32(16, count);
      set.u32(20, data);
      return yield* ioctl(u, dev, VFIO.DEVICE_SET_IRQS, set.va);
    };
    const cnt = u.alloc(8);
    // the eventfd counter, taken (non-blocking: 0 when nothing was signalled)
    const take = function* (efd: number): Generator<unknown, number, unknown> {
      const n = yield* u.sys(NR.__NR_read, efd, cnt, 8);
      return n === 8 ? cpu.ld64(cnt) : 0;
    };
    const efd = yield* u.sys(NR.__NR_eventfd2, 0, 0o4000); // EFD_NONBLOCK

    for (const [name, index] of [
      ['req', REQ],
      ['err', ERR],
    ] as const) {
      const r: Record<string, number> = {};
      // nothing bound yet
      r.noneUnbound = yield* setIrqs(DATA_NONE | ACTION_TRIGGER, index, 1);
      r.disableUnbound = yield* setIrqs(DATA_NONE | ACTION_TRIGGER, index, 0);
      r.boolCount0 = yield* setIrqs(DATA_BOOL | ACTION_TRIGGER, index, 0);
      r.eventfdCount0 = yield* setIrqs(DATA_EVENTFD | ACTION_TRIGGER, index, 0, efd);
      r.badFd = yield* setIrqs(DATA_EVENTFD | ACTION_TRIGGER, index, 1, 1000);
      // bound: loopback signals it
      r.bind = yield* setIrqs(DATA_EVENTFD | ACTION_TRIGGER, index, 1, efd);
      r.none = yield* setIrqs(DATA_NONE | ACTION_TRIGGER, index, 1);
      r.afterNone = yield* take(efd);
      r.boolTrue = yield* setIrqs(DATA_BOOL | ACTION_TRIGGER, index, 1, 1);
      r.boolFalse = yield* setIrqs(DATA_BOOL | ACTION_TRIGGER, index, 1, 0);
      r.afterBools = yield* take(efd);
      // a negative fd other than -1 leaves the binding as it is
      r.fdMinus2 = yield* setIrqs(DATA_EVENTFD | ACTION_TRIGGER, index, 1, -2);
      yield* setIrqs(DATA_NONE | ACTION_TRIGGER, index, 1);
      r.afterMinus2 = yield* take(efd);
      // DATA_NONE count 0 unbinds; loopback is then -EINVAL again
      r.disable = yield* setIrqs(DATA_NONE | ACTION_TRIGGER, index, 0);
      r.noneAfterDisable = yield* setIrqs(DATA_NONE | ACTION_TRIGGER, index, 1);
      // fd -1 unbinds too, whether bound or not
      yield* setIrqs(DATA_EVENTFD | ACTION_TRIGGER, index, 1, efd);
      r.unbindMinus1 = yield* setIrqs(DATA_EVENTFD | ACTION_TRIGGER, index, 1, -1);
      r.noneAfterMinus1 = yield* setIrqs(DATA_NONE | ACTION_TRIGGER, index, 1);
      r.unbindMinus1Again = yield* setIrqs(DATA_EVENTFD | ACTION_TRIGGER, index, 1, -1);
      r.mask = yield* setIrqs(DATA_NONE | ACTION_MASK, index, 1);
      got[name] = r;
    }

    // MSI: loopback needs MSI enabled; masking is not supported
    const m: Record<string, number> = {};
    m.noneDisabled = yield* setIrqs(DATA_NONE | ACTION_TRIGGER, MSI, 1);
    m.enable = yield* setIrqs(DATA_EVENTFD | ACTION_TRIGGER, MSI, 1, efd);
    m.none = yield* setIrqs(DATA_NONE | ACTION_TRIGGER, MSI, 1);
    m.boolFalse = yield* setIrqs(DATA_BOOL | ACTION_TRIGGER, MSI, 1, 0);
    m.boolTrue = yield* setIrqs(DATA_BOOL | ACTION_TRIGGER, MSI, 1, 1);
    m.afterLoopback = yield* take(efd);
    m.mask = yield* setIrqs(DATA_NONE | ACTION_MASK, MSI, 1);
    m.disable = yield* setIrqs(DATA_NONE | ACTION_TRIGGER, MSI, 0);
    m.noneAfterDisable = yield* setIrqs(DATA_NONE | ACTION_TRIGGER, MSI, 1);
    got.msi = m;
    return 0;
  });

  it('runs to the end without an oops', () => {
    expect(run.code).toBe(0);
    expect(oops_count()).toBe(0);
  });

  for (const name of ['req', 'err']) {
    it(`${name.toUpperCase()}: DATA_NONE without a bound eventfd -EINVAL (signal and disable), DATA_BOOL/DATA_EVENTFD with count 0 -EINVAL, a bad fd -EBADF`, () => {
      const r = got[name] as Record<string, number>;
      expect([r.noneUnbound, r.disableUnbound, r.boolCount0, r.eventfdCount0, r.badFd]).toEqual([-22, -22, -22, -22, -9]);
    });

    it(`${name.toUpperCase()}: a bound eventfd is signalled by DATA_NONE and a true DATA_BOOL, not a false one`, () => {
      const r = got[name] as Record<string, number>;
      expect([r.bind, r.none, r.afterNone, r.boolTrue, r.boolFalse, r.afterBools]).toEqual([0, 0, 1, 0, 0, 1]);
    });

    it(`${name.toUpperCase()}: fd -2 changes nothing (0, still bound); DATA_NONE count 0 and fd -1 unbind; masking -ENOTTY`, () => {
      const r = got[name] as Record<string, number>;
      expect([r.fdMinus2, r.afterMinus2]).toEqual([0, 1]);
      expect([r.disable, r.noneAfterDisable]).toEqual([0, -22]);
      expect([r.unbindMinus1, r.noneAfterMinus1, r.unbindMinus1Again]).toEqual([0, -22, 0]);
      expect(r.mask).toBe(-25);
    });
  }

  it('MSI: loopback before MSI is enabled -EINVAL; enabled, DATA_NONE and a true DATA_BOOL signal the vector; MASK -ENOTTY; disabled again -EINVAL', () => {
    const m = got.msi as Record<string, number>;
    expect(m.noneDisabled).toBe(-22);
    expect([m.enable, m.none, m.boolFalse, m.boolTrue, m.afterLoopback]).toEqual([0, 0, 0, 0, 2]);
    expect(m.mask).toBe(-25);
    expect([m.disable, m.noneAfterDisable]).toEqual([0, -22]);
  });
});
