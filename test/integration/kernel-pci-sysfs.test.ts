// The standard attributes of a PCI function in sysfs (drivers/pci/pci-sysfs.c) as a
// user space driver reads them: numa_node (-1 with no NUMA information: UADK treats a
// negative node as 0), local_cpus / local_cpulist (every online CPU for NUMA_NO_NODE),
// irq, enable, msi_bus, dma_mask_bits, consistent_dma_mask_bits and modalias, with
// Linux's formats and modes, and the writes root may make (enable, msi_bus, numa_node).

import { describe, expect, it } from 'vitest';
import type { ArchCpu } from '../../src/arch/index.js';
import { device_attach, device_release_driver } from '../../src/kernel/drivers/base/core.js';
import { pci_devices } from '../../src/kernel/drivers/pci/pci.js';
import { oops_count } from '../../src/kernel/kernel/panic.js';
import * as NR from '../../src/kernel/syscalls/numbers.js';
import { bootKernel } from '../support/kernel-boot.js';
import { UserCtx } from '../support/kernel-user.js';

const AT_FDCWD = -100;
const O_WRONLY = 1;
const TESTDEV = '0000:00:02.0';
const DIR = `/sys/bus/pci/devices/${TESTDEV}`;
const EINVAL = -22;
const EACCES = -13;
const EBUSY = -16;
const EIO = -5;

function* readText(u: UserCtx, path: string): Generator<unknown, string, unknown> {
  const fd = yield* u.sys(NR.__NR_openat, AT_FDCWD, u.str(path), 0, 0);
  if (fd < 0) return `error ${fd}`;
  const buf = u.alloc(4096);
  const n = yield* u.sys(NR.__NR_read, fd, buf, 4096);
  yield* u.sys(NR.__NR_close, fd);
  return u.text(buf, Math.max(0, n));
}

/** write(2) of `text` to a sysfs file: the byte count or -errno (open's or write's). */
function* writeText(u: UserCtx, path: string, text: string): Generator<unknown, number, unknown> {
  const fd = yield* u.sys(NR.__NR_openat, AT_FDCWD, u.str(path), O_WRONLY, 0);
  if (fd < 0) return fd;
  const r = yield* u.sys(NR.__NR_write, fd, u.str(text), text.length);
  yield* u.sys(NR.__NR_close, fd);
  return r;
}

/** st_mode & 0o7777 of a path (struct stat: st_mode at offset 16). */
function* modeOf(u: UserCtx, path: string): Generator<unknown, number, unknown> {
  const st = u.alloc(128);
  const r = yield* u.sys(NR.__NR_newfstatat, AT_FDCWD, u.str(path), st, 0);
  return r < 0 ? r : u.cpu.ld32(st + 16) & 0o7777;
}

describe('PCI sysfs attributes of a function', () => {
  const got: Record<string, unknown> = {};
  const { handle } = bootKernel({
    cpus: 2,
    programs: {
      init: function* (cpu: ArchCpu, sp: number) {
        const u = new UserCtx(cpu, sp);
        const attrs = ['numa_node', 'local_cpus', 'local_cpulist', 'irq', 'enable', 'msi_bus', 'dma_mask_bits', 'consistent_dma_mask_bits', 'modalias', 'class'];
        const text: Record<string, string> = {};
        const mode: Record<string, number> = {};
        for (const a of attrs) {
          text[a] = yield* readText(u, `${DIR}/${a}`);
          mode[a] = yield* modeOf(u, `${DIR}/${a}`);
        }
        got.text = text;
        got.mode = mode;
        const pdev = pci_devices().find((d) => d.name === TESTDEV)!;
        got.pdev = { vendor: pdev.vendor, device: pdev.device, sv: pdev.subsystem_vendor, sd: pdev.subsystem_device, cls: pdev.class_code, msi: pdev.msi_enabled, irq0: pdev.irqs[0] };
        got.subsystem = yield* u.sys(NR.__NR_readlinkat, AT_FDCWD, u.str(`${DIR}/subsystem`), u.alloc(64), 64);

        // numa_node: -1 or an online node (node 0 here); anything else -EINVAL
        got.numa = [
          yield* writeText(u, `${DIR}/numa_node`, '1\n'),
          yield* writeText(u, `${DIR}/numa_node`, '-2'),
          yield* writeText(u, `${DIR}/numa_node`, 'zero'),
          yield* writeText(u, `${DIR}/numa_node`, '0\n'),
          yield* readText(u, `${DIR}/numa_node`),
          yield* writeText(u, `${DIR}/numa_node`, '-1'),
          yield* readText(u, `${DIR}/numa_node`),
        ];

        // enable: refused while a driver is bound; then 1 enables, 0 disables, 0 again -EIO
        got.enableBound = yield* writeText(u, `${DIR}/enable`, '1');
        yield* device_release_driver(pdev);
        got.enable = [
          yield* readText(u, `${DIR}/enable`),
          yield* writeText(u, `${DIR}/enable`, '1'),
          yield* readText(u, `${DIR}/enable`),
          yield* writeText(u, `${DIR}/enable`, '0'),
          yield* readText(u, `${DIR}/enable`),
          yield* writeText(u, `${DIR}/enable`, '0'),
          yield* writeText(u, `${DIR}/enable`, 'x'),
        ];

        // msi_bus 0: the next probe cannot have MSI (iommu-testdev needs one vector); 1 allows it again
        got.msiOff = yield* writeText(u, `${DIR}/msi_bus`, '0');
        got.msiBusOff = yield* readText(u, `${DIR}/msi_bus`);
        got.probeNoMsi = yield* device_attach(pdev);
        got.driverNoMsi = pdev.driver?.name ?? null;
        got.msiOn = yield* writeText(u, `${DIR}/msi_bus`, '1');
        got.probeMsi = yield* device_attach(pdev);
        got.driverMsi = pdev.driver?.name ?? null;

        // a user without CAP_SYS_ADMIN cannot open the 0644 files for writing
        const child = yield* u.fork(function* (c) {
          yield* c.sys(NR.__NR_setuid, 1000);
          const r = yield* writeText(c, `${DIR}/numa_node`, '0');
          return r === EACCES ? 0 : 1;
        });
        got.userWrite = (yield* u.wait(child))[1] >> 8;
        return 0;
      },
    },
    files: { '/init': ['#!svasoc:init\n', 0o755] },
  });
  const code = handle.runToPoweroff(10e9);

  it('runs to the end without an oops', () => {
    expect(code).toBe(0);
    expect(oops_count()).toBe(0);
  });

  it('numa_node reads -1 (NUMA_NO_NODE: the device tree gives none); local_cpus is the online mask in %*pb hex and local_cpulist in ranges', () => {
    const t = got.text as Record<string, string>;
    expect(t.numa_node).toBe('-1\n');
    expect(t.local_cpus).toBe('3\n');
    expect(t.local_cpulist).toBe('0-1\n');
  });

  it('dma_mask_bits and consistent_dma_mask_bits are the 32-bit default mask; msi_bus 1; enable counts the enables of the bound driver', () => {
    const t = got.text as Record<string, string>;
    expect(t.dma_mask_bits).toBe('32\n');
    expect(t.consistent_dma_mask_bits).toBe('32\n');
    expect(t.msi_bus).toBe('1\n');
    expect(t.enable).toBe('1\n');
  });

  it('irq shows the first MSI vector while MSI is on; modalias and class in pci-sysfs formats', () => {
    const t = got.text as Record<string, string>;
    const p = got.pdev as { vendor: number; device: number; sv: number; sd: number; cls: number; msi: boolean; irq0: number };
    expect(p.msi).toBe(true);
    expect(t.irq).toBe(`${p.irq0}\n`);
    const X = (n: number, w: number): string => n.toString(16).toUpperCase().padStart(w, '0');
    expect(t.modalias).toBe(`pci:v${X(p.vendor, 8)}d${X(p.device, 8)}sv${X(p.sv, 8)}sd${X(p.sd, 8)}bc${X(p.cls >> 16, 2)}sc${X((p.cls >> 8) & 0xff, 2)}i${X(p.cls & 0xff, 2)}\n`);
    expect(t.modalias.startsWith('pci:v00001B36d00000005')).toBe(true);
    expect(t.class).toBe(`0x${p.cls.toString(16).padStart(6, '0')}\n`);
  });

  it('modes: enable, msi_bus and numa_node 0644; the others 0444; the function links its bus as subsystem', () => {
    expect(got.mode).toEqual({
      numa_node: 0o644,
      local_cpus: 0o444,
      local_cpulist: 0o444,
      irq: 0o444,
      enable: 0o644,
      msi_bus: 0o644,
      dma_mask_bits: 0o444,
      consistent_dma_mask_bits: 0o444,
      modalias: 0o444,
      class: 0o444,
    });
    expect(got.subsystem).toBe('../../../bus/pci'.length);
  });

  it('numa_node takes -1 or an online node (-EINVAL otherwise, and for no number)', () => {
    expect(got.numa).toEqual([EINVAL, EINVAL, EINVAL, 2, '0\n', 2, '-1\n']);
  });

  it('enable: -EBUSY while a driver is bound; unbound, 1 enables and 0 disables; disabling a disabled function -EIO; not a number -EINVAL', () => {
    expect(got.enableBound).toBe(EBUSY);
    expect(got.enable).toEqual(['0\n', 1, '1\n', 1, '0\n', EIO, EINVAL]);
  });

  it('msi_bus 0 keeps MSI and MSI-X from the next driver (its probe fails); msi_bus 1 lets it bind again', () => {
    expect(got.msiOff).toBe(1);
    expect(got.msiBusOff).toBe('0\n');
    expect(got.driverNoMsi).toBe(null);
    expect(got.msiOn).toBe(1);
    expect(got.probeMsi).toBe(1);
    expect(got.driverMsi).toBe('iommu-testdev');
  });

  it('a user without CAP_SYS_ADMIN cannot open the writable attributes for writing (-EACCES)', () => {
    expect(got.userWrite).toBe(0);
  });
});
