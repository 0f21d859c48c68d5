// vfio_testdev, the user-space driver program, from an image's /init script: a root
// shell binds the test device to vfio-pci with driver_override + drivers_probe, then
// the program drives the device through VFIO (MSI on an eventfd, or polling), and the
// device goes back to its kernel driver afterwards.

import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/board.js';
import { boot } from '../../src/machine/boot.js';
import { createKernelImage } from '../../src/kernel/image.js';
import { userPrograms } from '../../src/user/rom.js';
import { buildImage } from '../../tools/mkimage/build.js';
import { oops_count } from '../../src/kernel/kernel/panic.js';
import { userOutput } from '../support/kernel-boot.js';

describe('vfio_testdev from a shell script', () => {
  const D = '0000:00:02.0';
  const P = '/sys/bus/pci';
  const script = [
    `echo vfio-pci > ${P}/devices/${D}/driver_override`,
    `echo ${D} > ${P}/drivers/iommu-testdev/unbind`,
    `echo ${D} > ${P}/drivers_probe`,
    `[ -e ${P}/drivers/vfio-pci/${D} ] && echo "driver=vfio-pci"`,
    `ls /dev/vfio`,
    `vfio_testdev ${D}; echo "status=$?"`,
    `vfio_testdev -p -n 3 -l 256 -i 0x40000000 ${D}; echo "status=$?"`,
    `vfio_testdev -i 0x8000000 ${D}; echo "status=$?"`,
    `vfio_testdev 0000:00:01.0; echo "status=$?"`,
    `echo ${D} > ${P}/drivers/vfio-pci/unbind`,
    `echo > ${P}/devices/${D}/driver_override`,
    `echo ${D} > ${P}/drivers_probe`,
    `[ -e ${P}/drivers/iommu-testdev/${D} ] && echo "driver=iommu-testdev"`,
    `[ -e /dev/vfio/1 ] || echo "no group node"`,
    `echo ${D} > ${P}/drivers/iommu-testdev/unbind`,
    `echo 1b36 0005 > ${P}/drivers/vfio-pci/new_id; echo "new_id=$?"`,
    `[ -e ${P}/drivers/vfio-pci/${D} ] && echo "bound by new_id"`,
    `echo 1b36 0005 > ${P}/drivers/vfio-pci/new_id; echo "new_id again=$?"`,
    `echo 1b36 > ${P}/drivers/vfio-pci/new_id; echo "new_id short=$?"`,
    `vfio_testdev -n 1 ${D}; echo "status=$?"`,
  ];
  const machine = new Machine({ cpus: 2, ramSize: 256 * 1024 * 1024 });
  const h = boot(machine, { kernel: createKernelImage({}), rom: userPrograms, initramfs: buildImage(undefined, { script: script.join('\n') + '\n' }) });
  const code = h.runToPoweroff(60e9);
  const con = h.console.replace(/\r\n/g, '\n');
  const out = userOutput(con)
    .split('\n')
    .filter((l) => l !== '');

  it('runs to the end without an oops', () => {
    expect(code).toBe(0);
    expect(oops_count()).toBe(0);
  });

  it('binding through driver_override makes vfio-pci the driver and creates /dev/vfio/<group>', () => {
    expect(out[0]).toBe('driver=vfio-pci');
    expect(out.slice(1, 3)).toEqual(['1', 'vfio']);
  });

  it('four transfers with the MSI on an eventfd, three polled at another IOVA; each checked', () => {
    const i = out.indexOf('status=0');
    expect(out.slice(3, i + 1)).toEqual([
      `vfio_testdev: ${D} group 1, 16384 bytes at IOVA 0x100000, BAR0 4096 bytes, MSI on eventfd`,
      'vfio_testdev: transfer 0: device wrote 4096 bytes at IOVA 0x100000 ok',
      'vfio_testdev: transfer 1: device read 4096 bytes at IOVA 0x101000 ok',
      'vfio_testdev: transfer 2: device wrote 4096 bytes at IOVA 0x102000 ok',
      'vfio_testdev: transfer 3: device read 4096 bytes at IOVA 0x103000 ok',
      'vfio_testdev: OK 4 transfers',
      'status=0',
    ]);
    const j = out.indexOf('status=0', i + 1);
    expect(out.slice(i + 1, j + 1)).toEqual([
      `vfio_testdev: ${D} group 1, 4096 bytes at IOVA 0x40000000, BAR0 4096 bytes, polling`,
      'vfio_testdev: transfer 0: device wrote 256 bytes at IOVA 0x40000000 ok',
      'vfio_testdev: transfer 1: device read 256 bytes at IOVA 0x40000100 ok',
      'vfio_testdev: transfer 2: device wrote 256 bytes at IOVA 0x40000200 ok',
      'vfio_testdev: OK 3 transfers',
      'status=0',
    ]);
  });

  it('an IOVA in the MSI window is refused by MAP_DMA; a device not bound to vfio-pci has no group node', () => {
    const k = out.indexOf('status=1');
    expect(out.slice(k - 1, k + 3)).toEqual(['vfio_testdev: IOMMU_MAP_DMA: Invalid argument', 'status=1', 'vfio_testdev: /dev/vfio/0: No such file or directory', 'status=1']);
  });

  it('unbinding vfio-pci and clearing the override gives the device back to its kernel driver; the group node goes', () => {
    const i = out.indexOf('no group node');
    expect(out.slice(i - 1, i + 1)).toEqual(['driver=iommu-testdev', 'no group node']);
  });

  it('new_id with the vendor and device binds the unbound function to vfio-pci; the same id again or a short line fails', () => {
    const i = out.indexOf('new_id=0');
    expect(out.slice(i, i + 4)).toEqual(['new_id=0', 'bound by new_id', 'new_id again=1', 'new_id short=1']);
    expect(out.slice(-2)).toEqual(['vfio_testdev: OK 1 transfers', 'status=0']);
  });
});
