// Driver binding from user space through sysfs (drivers/base/bus.c bind_store,
// unbind_store, drivers_probe_store; drivers/pci/pci-sysfs.c driver_override with
// pci_match_device): a root shell unbinds the test device (the driver links and its
// /dev node go, the IOMMU group keeps its default domain), binds it again, and an
// override naming a driver that does not exist leaves it unbound after drivers_probe
// until the override is cleared. The errnos come from raw writes: -ENODEV for an
// unknown device or one not bound to that driver, -EBUSY when already bound, -EBUSY
// for a DMA API driver on a group a user owns; the files are root's (0200 / 0644);
// with drivers_autoprobe off a new driver does not bind by itself.

import { describe, expect, it } from 'vitest';
import type { ArchCpu } from '../../src/arch/index.js';
import { Machine } from '../../src/machine/board.js';
import { boot } from '../../src/machine/boot.js';
import { createKernelImage } from '../../src/kernel/image.js';
import { userPrograms } from '../../src/user/rom.js';
import { buildImage } from '../../tools/mkimage/build.js';
import { EACCES, EBUSY, EINVAL, ENODEV } from '../../src/kernel/lib/errno.js';
import {
  iommu_get_dma_domain,
  iommu_get_domain_for_dev,
  iommu_group_claim_dma_owner,
  iommu_group_get,
  iommu_group_release_dma_owner,
  type IommuGroup,
} from '../../src/kernel/drivers/iommu/iommu.js';
import { pci_devices, pci_register_driver, pci_unregister_driver, type PciDev, type PciDriver } from '../../src/kernel/drivers/pci/pci.js';
import { oops_count } from '../../src/kernel/kernel/panic.js';
import * as NR from '../../src/kernel/syscalls/numbers.js';
import { bootKernel } from '../support/kernel-boot.js';
import { UserCtx } from '../support/kernel-user.js';
import { readFile } from './kernel-iommu-harness.js';
import { userOutput } from '../support/kernel-boot.js';

const TESTDEV = '0000:00:02.0';
const ZIP = '0000:00:01.0';
const P = '/sys/bus/pci';
const O_WRONLY = 1;
const AT_FDCWD = -100;

const testdev = (): PciDev => pci_devices().find((d) => d.name === TESTDEV)!;

describe('a root shell unbinds, binds and overrides the test device through sysfs', () => {
  const script = [
    `P=${P}; D=${TESTDEV}`,
    'echo "override=$(cat $P/devices/$D/driver_override)"',
    '[ -e $P/devices/$D/driver ] && echo "bound at boot"',
    'echo $D > $P/drivers/iommu-testdev/unbind; echo "unbind=$?"',
    '[ -e $P/devices/$D/driver ] || echo "no driver link"',
    '[ -e $P/drivers/iommu-testdev/$D ] || echo "no link in the driver"',
    '[ -e /dev/iommu-testdev ] || echo "no /dev node"',
    'echo "group type=$(cat $P/devices/$D/iommu_group/type)"',
    'echo $D > $P/drivers/iommu-testdev/unbind; echo "unbind again=$?"',
    'echo $D > $P/drivers/iommu-testdev/bind; echo "bind=$?"',
    '[ -e $P/devices/$D/driver ] && echo "driver link back"',
    '[ -c /dev/iommu-testdev ] && echo "/dev node back"',
    'echo $D > $P/drivers/iommu-testdev/bind; echo "bind again=$?"',
    'echo 0000:00:1f.0 > $P/drivers/iommu-testdev/bind; echo "bind unknown=$?"',
    'echo $D > $P/drivers/iommu-testdev/unbind',
    'echo nosuchdriver > $P/devices/$D/driver_override',
    'echo "override=$(cat $P/devices/$D/driver_override)"',
    'echo $D > $P/drivers_probe; echo "drivers_probe=$?"',
    '[ -e $P/devices/$D/driver ] || echo "still unbound"',
    'echo $D > $P/drivers/iommu-testdev/bind; echo "bind overridden=$?"',
    '[ -e $P/devices/$D/driver ] || echo "still unbound"',
    'echo > $P/devices/$D/driver_override',
    'echo "override=$(cat $P/devices/$D/driver_override)"',
    'echo $D > $P/drivers_probe; echo "drivers_probe=$?"',
    '[ -e $P/devices/$D/driver ] && echo "bound by drivers_probe"',
    '[ -e $P/devices/' + ZIP + '/driver ] && echo "zip still bound"',
    'echo "group type=$(cat $P/devices/$D/iommu_group/type)"',
  ];
  const machine = new Machine({ cpus: 2, ramSize: 256 * 1024 * 1024 });
  const h = boot(machine, { kernel: createKernelImage({}), rom: userPrograms, initramfs: buildImage(undefined, { script: script.join('\n') + '\n' }) });
  const code = h.runToPoweroff(30e9);
  const con = h.console.replace(/\r\n/g, '\n');
  const out = userOutput(con).split('\n');

  it('runs to the end', () => {
    expect(code).toBe(0);
  });

  it('unbind: the driver link, the link in the driver directory and the /dev node go; the group keeps its DMA default domain; a second unbind fails', () => {
    expect(out.slice(0, 9)).toEqual([
      'override=(null)',
      'bound at boot',
      'unbind=0',
      'no driver link',
      'no link in the driver',
      'no /dev node',
      'group type=DMA',
      'unbind again=1',
      'bind=0',
    ]);
  });

  it('bind: the links and the /dev node are back; binding a bound device or an unknown one fails', () => {
    expect(out.slice(9, 13)).toEqual(['driver link back', '/dev node back', 'bind again=1', 'bind unknown=1']);
  });

  it('an override naming no existing driver leaves the device unbound after drivers_probe and refuses the bind; cleared, drivers_probe binds it', () => {
    expect(out.slice(13, 24)).toEqual([
      'override=nosuchdriver',
      'drivers_probe=0',
      'still unbound',
      'bind overridden=1',
      'still unbound',
      'override=(null)',
      'drivers_probe=0',
      'bound by drivers_probe',
      'zip still bound',
      'group type=DMA',
      '',
    ]);
  });

  it('afterwards the test device is on its default domain, used by one DMA API driver', () => {
    const pdev = testdev();
    expect(pdev.driver?.name).toBe('iommu-testdev');
    expect(pdev.driver_override).toBe(null);
    expect(iommu_get_domain_for_dev(pdev)).toBe(iommu_get_dma_domain(pdev));
    expect(iommu_group_get(pdev)!.ownerCnt).toBe(1);
    expect(oops_count()).toBe(0);
  });
});

/** Opens `path` for writing and writes `text` in one write(2): the write's result, or the open's error. */
function* writeFile(u: UserCtx, path: string, text: string): Generator<unknown, number, unknown> {
  const fd = yield* u.sys(NR.__NR_openat, AT_FDCWD, u.str(path), O_WRONLY, 0);
  if (fd < 0) return fd;
  const buf = u.str(text);
  const n = yield* u.sys(NR.__NR_write, fd, buf, text.length);
  yield* u.sys(NR.__NR_close, fd);
  return n;
}

describe('the errnos and permissions of bind, unbind, drivers_probe and driver_override', () => {
  const got: Record<string, unknown> = {};
  const { handle } = bootKernel({
    programs: {
      init: function* (cpu: ArchCpu, sp: number) {
        const u = new UserCtx(cpu, sp);
        const drv = `${P}/drivers/iommu-testdev`;
        const line = `${TESTDEV}\n`;
        got.bindBound = yield* writeFile(u, `${drv}/bind`, line);
        // kernfs_fop_open: root may not open a file without show for reading, nor one without store for writing
        got.readWriteOnly = yield* u.sys(NR.__NR_openat, AT_FDCWD, u.str(`${drv}/unbind`), 0 /* O_RDONLY */, 0);
        got.writeReadOnly = yield* u.sys(NR.__NR_openat, AT_FDCWD, u.str(`${P}/devices/${TESTDEV}/vendor`), O_WRONLY, 0);
        got.unbindOther = yield* writeFile(u, `${P}/drivers/hisi_zip/unbind`, line);
        got.unbindUnknown = yield* writeFile(u, `${drv}/unbind`, '0000:00:1f.0\n');
        got.unbind = yield* writeFile(u, `${drv}/unbind`, line);
        got.unbindAgain = yield* writeFile(u, `${drv}/unbind`, line);
        got.domainUnbound = iommu_get_domain_for_dev(testdev()) === iommu_get_dma_domain(testdev());
        // the ZIP's driver does not match the test device
        got.bindWrongDriver = yield* writeFile(u, `${P}/drivers/hisi_zip/bind`, line);
        got.probeUnknown = yield* writeFile(u, `${P}/drivers_probe`, '0000:00:1f.0\n');
        // a user owns the group: the DMA API driver may not bind
        const group = iommu_group_get(testdev()) as IommuGroup;
        got.claim = iommu_group_claim_dma_owner(group, 'user');
        got.bindOwned = yield* writeFile(u, `${drv}/bind`, line);
        got.probeOwned = yield* writeFile(u, `${P}/drivers_probe`, line);
        got.unboundOwned = testdev().driver === null;
        iommu_group_release_dma_owner(group);
        // the override picks the driver by name; the same driver binds, another may not
        got.override = yield* writeFile(u, `${P}/devices/${TESTDEV}/driver_override`, 'iommu-testdev\n');
        got.overrideValue = testdev().driver_override;
        got.bindOverridden = yield* writeFile(u, `${drv}/bind`, line);
        got.boundOverridden = testdev().driver?.name;
        // a lone newline clears it
        got.clear = yield* writeFile(u, `${P}/devices/${TESTDEV}/driver_override`, '\n');
        got.cleared = testdev().driver_override;
        // non-root: bind and unbind are 0200 root, driver_override 0644 root
        const pid = yield* u.fork(function* (c) {
          yield* c.sys(NR.__NR_setuid, 1000);
          const r = [
            yield* writeFile(c, `${drv}/unbind`, line),
            yield* writeFile(c, `${drv}/bind`, line),
            yield* writeFile(c, `${P}/drivers_probe`, line),
            yield* writeFile(c, `${P}/devices/${TESTDEV}/driver_override`, 'x\n'),
          ];
          return r.every((v) => v === -EACCES) ? 0 : 1;
        });
        const [, status] = yield* u.wait(pid);
        got.nonRoot = status >> 8;
        got.stillBound = testdev().driver?.name;
        // drivers_autoprobe off: a newly registered matching driver does not take the unbound device
        const auto = `${P}/drivers_autoprobe`;
        got.autoBefore = yield* readFile(u, auto);
        got.autoBad = yield* writeFile(u, auto, 'x\n');
        got.autoOff = yield* writeFile(u, auto, '0\n');
        got.autoRead = yield* readFile(u, auto);
        yield* writeFile(u, `${drv}/unbind`, line);
        const probed: string[] = [];
        const late: PciDriver = {
          name: 'test-late',
          bus: null,
          id_table: [{ vendor: 0x1b36, device: 0x0005 }],
          *pci_probe(pdev) {
            probed.push(pdev.name);
            return 0;
          },
        };
        got.lateReg = yield* pci_register_driver(late);
        got.lateProbed = [...probed];
        got.autoOn = yield* writeFile(u, auto, 'on\n');
        got.autoOnRead = yield* readFile(u, auto);
        // explicit probing still works; the first matching driver (iommu-testdev) binds
        got.probeAfter = yield* writeFile(u, `${P}/drivers_probe`, line);
        got.boundAfter = testdev().driver?.name;
        yield* pci_unregister_driver(late);
        return 0;
      },
    },
    files: { '/init': ['#!svasoc:init\n', 0o755] },
  });
  const code = handle.runToPoweroff(20e9);

  it('unbind: -ENODEV for a device of another driver or an unknown one, the write count when bound, -ENODEV when no longer bound', () => {
    expect(code).toBe(0);
    expect(got.bindBound).toBe(-EBUSY);
    expect(got.readWriteOnly).toBe(-EACCES);
    expect(got.writeReadOnly).toBe(-EACCES);
    expect(got.unbindOther).toBe(-ENODEV);
    expect(got.unbindUnknown).toBe(-ENODEV);
    expect(got.unbind).toBe(TESTDEV.length + 1);
    expect(got.unbindAgain).toBe(-ENODEV);
    expect(got.domainUnbound).toBe(true);
  });

  it('bind: -ENODEV when the driver does not match; drivers_probe: -ENODEV for an unknown device', () => {
    expect(got.bindWrongDriver).toBe(-ENODEV);
    expect(got.probeUnknown).toBe(-ENODEV);
  });

  it('a group owned by a user refuses the DMA API driver: bind and drivers_probe fail with -EBUSY', () => {
    expect(got.claim).toBe(0);
    expect(got.bindOwned).toBe(-EBUSY);
    expect(got.probeOwned).toBe(-EBUSY);
    expect(got.unboundOwned).toBe(true);
  });

  it('driver_override takes the name up to the newline; the named driver binds; a lone newline clears it', () => {
    expect(got.override).toBe('iommu-testdev\n'.length);
    expect(got.overrideValue).toBe('iommu-testdev');
    expect(got.bindOverridden).toBe(TESTDEV.length + 1);
    expect(got.boundOverridden).toBe('iommu-testdev');
    expect(got.clear).toBe(1);
    expect(got.cleared).toBe(null);
  });

  it('a non-root user gets -EACCES on every one of these files and changes nothing', () => {
    expect(got.nonRoot).toBe(0);
    expect(got.stillBound).toBe('iommu-testdev');
  });

  it('drivers_autoprobe: kstrtobool values (-EINVAL otherwise); off, a new matching driver leaves the unbound device alone', () => {
    expect(got.autoBefore).toBe('1\n');
    expect(got.autoBad).toBe(-EINVAL);
    expect(got.autoOff).toBe(2);
    expect(got.autoRead).toBe('0\n');
    expect(got.lateReg).toBe(0);
    expect(got.lateProbed).toEqual([]);
    expect(got.autoOn).toBe(3);
    expect(got.autoOnRead).toBe('1\n');
    expect(got.probeAfter).toBe(TESTDEV.length + 1);
    expect(got.boundAfter).toBe('iommu-testdev');
    expect(oops_count()).toBe(0);
  });
});
