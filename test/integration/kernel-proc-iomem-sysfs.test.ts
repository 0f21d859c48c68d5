// /proc/iomem and the sysfs driver links of PCI devices on the booted board. iomem
// lists the regions the device tree gives (GIC, UART, SMMU, the PCIe ECAM, RAM from the
// memory node) and the host bridge's memory window with each device's BARs claimed
// inside it, at the addresses config space holds; /sys/.../<bdf>/driver names the
// bound driver (and the driver's directory links back), and both links go away when
// the driver is unbound (device_release_driver) and come back when it binds again.

import { describe, expect, it } from 'vitest';
import type { ArchCpu } from '../../src/arch/index.js';
import { device_attach, device_release_driver } from '../../src/kernel/drivers/base/core.js';
import { pci_devices } from '../../src/kernel/drivers/pci/pci.js';
import { oops_count } from '../../src/kernel/kernel/panic.js';
import * as NR from '../../src/kernel/syscalls/numbers.js';
import { bootKernel } from '../support/kernel-boot.js';
import { UserCtx } from '../support/kernel-user.js';

const AT_FDCWD = -100;
const TESTDEV = '0000:00:02.0';
const ZIP = '0000:00:01.0';

function* readText(u: UserCtx, path: string): Generator<unknown, string, unknown> {
  const fd = yield* u.sys(NR.__NR_openat, AT_FDCWD, u.str(path), 0, 0);
  if (fd < 0) return `error ${fd}`;
  const buf = u.alloc(16384);
  const n = yield* u.sys(NR.__NR_read, fd, buf, 16384);
  yield* u.sys(NR.__NR_close, fd);
  return u.text(buf, Math.max(0, n));
}

function* readlink(u: UserCtx, path: string): Generator<unknown, string | number, unknown> {
  const buf = u.alloc(256);
  const n = yield* u.sys(NR.__NR_readlinkat, AT_FDCWD, u.str(path), buf, 256);
  return n < 0 ? n : u.text(buf, n);
}

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');

describe('/proc/iomem and the PCI driver links in sysfs', () => {
  const got: Record<string, unknown> = {};
  const { machine, handle } = bootKernel({
    programs: {
      init: function* (cpu: ArchCpu, sp: number) {
        const u = new UserCtx(cpu, sp);
        got.iomem = yield* readText(u, '/proc/iomem');
        got.resource = { [TESTDEV]: yield* readText(u, `/sys/bus/pci/devices/${TESTDEV}/resource`), [ZIP]: yield* readText(u, `/sys/bus/pci/devices/${ZIP}/resource`) };
        got.bound = [
          yield* readlink(u, `/sys/bus/pci/devices/${TESTDEV}/driver`),
          yield* readlink(u, `/sys/bus/pci/devices/${ZIP}/driver`),
          yield* readlink(u, `/sys/bus/pci/drivers/iommu-testdev/${TESTDEV}`),
        ];
        got.driverName = yield* readText(u, `/sys/bus/pci/devices/${TESTDEV}/driver/${TESTDEV}/vendor`);
        const pdev = pci_devices().find((d) => d.name === TESTDEV)!;
        yield* device_release_driver(pdev);
        got.unbound = [
          yield* readlink(u, `/sys/bus/pci/devices/${TESTDEV}/driver`),
          yield* readlink(u, `/sys/bus/pci/drivers/iommu-testdev/${TESTDEV}`),
          yield* u.sys(NR.__NR_openat, AT_FDCWD, u.str('/dev/iommu-testdev'), 2, 0),
          yield* readlink(u, `/sys/bus/pci/devices/${ZIP}/driver`),
        ];
        got.rebind = yield* device_attach(pdev);
        got.rebound = yield* readlink(u, `/sys/bus/pci/devices/${TESTDEV}/driver`);
        const fd = yield* u.sys(NR.__NR_openat, AT_FDCWD, u.str('/dev/iommu-testdev'), 2, 0);
        got.devAgain = fd >= 0;
        return 0;
      },
    },
    files: { '/init': ['#!svasoc:init\n', 0o755] },
  });
  const code = handle.runToPoweroff(10e9);

  it('iomem lists every device-tree region and RAM at the addresses the SoC description gives', () => {
    expect(code).toBe(0);
    const lines = (got.iomem as string).split('\n');
    const row = (region: string) => machine.memoryMap.find((r) => r.region === region)!;
    const span = (region: string) => `${hex8(row(region).base)}-${hex8(row(region).base + row(region).size - 1)}`;
    expect(lines).toContain(`${span('ram')} : System RAM`);
    expect(lines).toContain(`${span('uart-pl011')} : 9000000.pl011`);
    expect(lines).toContain(`${span('smmuv3')} : 9050000.smmuv3`);
    expect(lines).toContain(`${span('gic-distributor')} : 8000000.intc`);
    expect(lines).toContain(`${span('gic-redistributors')} : 8000000.intc`);
    expect(lines).toContain(`${span('pcie-ecam')} : 10000000.pcie`);
    expect(lines).toContain(`${span('pcie-mmio')} : pcie@10000000`);
    // top-level entries are sorted and do not overlap
    const top = lines.filter((l) => /^[0-9a-f]{8}-/.test(l)).map((l) => l.slice(0, 17).split('-').map((h) => parseInt(h, 16)) as [number, number]);
    for (let i = 1; i < top.length; i++) expect(top[i]![0]).toBeGreaterThan(top[i - 1]![1]);
  });

  it('each BAR is claimed inside the PCIe window under its device name, where config space placed it', () => {
    const lines = (got.iomem as string).split('\n');
    const win = lines.findIndex((l) => l.endsWith(' : pcie@10000000'));
    const children: string[] = [];
    for (let i = win + 1; i < lines.length && lines[i]!.startsWith('  '); i++) children.push(lines[i]!);
    const bars: string[] = [];
    for (const dev of [ZIP, TESTDEV]) {
      for (const l of ((got.resource as Record<string, string>)[dev]!).split('\n')) {
        const [start, end] = l.split(' ').map((h) => parseInt(h, 16));
        if (start !== undefined && end !== undefined && end > start) bars.push(`  ${hex8(start)}-${hex8(end)} : ${dev}`);
      }
    }
    expect(bars.length).toBe(2);
    expect(children).toEqual(bars.sort());
    const dev = pci_devices().find((d) => d.name === TESTDEV)!;
    expect(children).toContain(`  ${hex8(dev.resource[0]!.start)}-${hex8(dev.resource[0]!.end)} : ${TESTDEV}`);
  });

  it('the driver link names the bound driver; the driver directory links back to the device', () => {
    expect(got.bound).toEqual(['../../../bus/pci/drivers/iommu-testdev', '../../../bus/pci/drivers/hisi_zip', `../../../../devices/pci0000:00/${TESTDEV}`]);
    expect(got.driverName).toBe('0x1b36\n');
  });

  it('unbinding removes both links (and the driver\'s /dev node); binding again restores them', () => {
    expect(got.unbound).toEqual([-2, -2, -2, '../../../bus/pci/drivers/hisi_zip']);
    expect(got.rebind).toBe(1);
    expect(got.rebound).toBe('../../../bus/pci/drivers/iommu-testdev');
    expect(got.devAgain).toBe(true);
    expect(oops_count()).toBe(0);
  });
});
