// vfio_mdev_zip, the user-space program, from an image's /init script on a kernel
// booted with hisi_zip.vfio_mdev=1: it creates a compression and a decompression mdev
// through sysfs, opens both through one VFIO container and round-trips blocks through
// the two mediated ZIP queues; -k leaves the mdevs for the shell to see and remove.

import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/board.js';
import { boot } from '../../src/machine/boot.js';
import { createKernelImage } from '../../src/kernel/image.js';
import { userPrograms } from '../../src/user/rom.js';
import { buildImage } from '../../tools/mkimage/build.js';
import { oops_count } from '../../src/kernel/kernel/panic.js';
import { userOutput } from '../support/kernel-boot.js';

describe('vfio_mdev_zip from a shell script', () => {
  const Z = '0000:00:01.0';
  const T = `/sys/bus/pci/devices/${Z}/mdev_supported_types`;
  const script = [
    `ls ${T}`,
    `cat ${T}/hisi_zip-comp/available_instances`,
    `vfio_mdev_zip ${Z}; echo "status=$?"`,
    `vfio_mdev_zip -n 2 -l 100000 -k ${Z}; echo "status=$?"`,
    `ls /sys/bus/mdev/devices`,
    `cat ${T}/hisi_zip-comp/available_instances`,
    `for d in /sys/bus/mdev/devices/*; do echo 1 > $d/remove; done; echo "removed=$?"`,
    `cat ${T}/hisi_zip-comp/available_instances`,
    `vfio_mdev_zip 0000:00:02.0; echo "status=$?"`,
    `vfio_mdev_zip -l 0 ${Z}; echo "status=$?"`,
  ];
  const machine = new Machine({ cpus: 2, ramSize: 256 * 1024 * 1024 });
  const h = boot(machine, { kernel: createKernelImage({}), rom: userPrograms, initramfs: buildImage(undefined, { script: script.join('\n') + '\n' }), args: 'console=ttyAMA0 hisi_zip.vfio_mdev=1' });
  const code = h.runToPoweroff(120e9);
  const con = h.console.replace(/\r\n/g, '\n');
  const out = userOutput(con)
    .split('\n')
    .filter((l) => l !== '');

  const U = '[0-9a-f]{8}-5a1d-4d3e-8f00-00000000000';

  it('runs to the end without an oops', () => {
    expect(code).toBe(0);
    expect(oops_count()).toBe(0);
  });

  it('the ZIP offers a compression and a decompression type, each with every free queue available', () => {
    expect(out.slice(0, 3)).toEqual(['hisi_zip-comp', 'hisi_zip-decomp', '64']);
  });

  it('four 16 KiB blocks compressed by one mdev and decompressed by the other come back equal; both mdevs have groups of their own in one container', () => {
    const i = out.indexOf('status=0');
    expect(out[3]).toMatch(new RegExp(`^vfio_mdev_zip: ${Z}: ${U}1 \\(hisi_zip-comp, group (\\d+)\\) and ${U}2 \\(hisi_zip-decomp, group (\\d+)\\), 61440 bytes mapped at IOVA 0x[0-9a-f]+$`));
    const g = /group (\d+)\) and .* group (\d+)\)/.exec(out[3]!)!;
    expect(g[1]).not.toBe(g[2]);
    expect(out.slice(4, i + 1)).toEqual([0, 1, 2, 3].map((b) => `vfio_mdev_zip: block ${b}: 16384 -> 197 bytes, back to 16384 ok`).concat(['vfio_mdev_zip: OK 4 blocks', 'status=0']));
  });

  it('-k keeps the mdevs: they are listed on the mdev bus and hold two queues until removed through sysfs', () => {
    const i = out.indexOf('vfio_mdev_zip: OK 2 blocks');
    expect(out.slice(i - 3, i - 1)).toEqual(['vfio_mdev_zip: block 0: 100000 -> 914 bytes, back to 100000 ok', 'vfio_mdev_zip: block 1: 100000 -> 914 bytes, back to 100000 ok']);
    expect(out[i - 1]).toMatch(new RegExp(`^vfio_mdev_zip: kept ${U}1 ${U}2$`));
    expect(out[i + 1]).toBe('status=0');
    expect(out[i + 2]).toMatch(new RegExp(`^${U}1$`));
    expect(out[i + 3]).toMatch(new RegExp(`^${U}2$`));
    expect(out.slice(i + 4, i + 7)).toEqual(['62', 'removed=0', '64']);
  });

  it('a function without mdev types and a bad block size fail with status 1 and 2', () => {
    expect(out.slice(-5)).toEqual(['vfio_mdev_zip: hisi_zip-comp/create: No such file or directory', 'status=1', 'vfio_mdev_zip: bad -l (1..1048576)', 'usage: vfio_mdev_zip [-n COUNT] [-l BYTES] [-k] BDF', 'status=2']);
  });
});
