// The program ROM of svasoc's user space: every executable an image can name with
// "#!svasoc:<name>" (mkimage installs each as /bin/<name>), as boot() hands it to the
// kernel.

import type { ProgramRom, UserEntry } from '../arch/index.js';
import { program, type Main } from './libc/crt0.js';
import { shMain } from './bin/sh/main.js';
import { initMain } from './bin/init.js';
import { catMain } from './bin/cat.js';
import { echoMain } from './bin/echo.js';
import { lsMain } from './bin/ls.js';
import { psMain } from './bin/ps.js';
import { killMain } from './bin/kill.js';
import { freeMain } from './bin/free.js';
import { dmesgMain } from './bin/dmesg.js';
import { cmpMain } from './bin/cmp.js';
import { hexdumpMain } from './bin/hexdump.js';
import { sleepMain } from './bin/sleep.js';
import { trueMain, falseMain } from './bin/true.js';
import { mkdirMain } from './bin/mkdir.js';
import { rmMain } from './bin/rm.js';
import { cpMain } from './bin/cp.js';
import { sysctlMain } from './bin/sysctl.js';
import { poweroffMain, rebootMain, haltMain } from './bin/poweroff.js';
import { mountMain } from './bin/mount.js';
import { unameMain } from './bin/uname.js';
import { gzipMain, gunzipMain, zcatMain } from './bin/gzip.js';
import { headMain } from './bin/head.js';
import { grepMain } from './bin/grep.js';
import { touchMain } from './bin/touch.js';
import { seqMain } from './bin/seq.js';
import { envMain } from './bin/env.js';
import { zipkMain } from './bin/zipk.js';
import { vfioTestdevMain } from './bin/vfio_testdev.js';
import { vfioMdevZipMain } from './bin/vfio_mdev_zip.js';
import { uadkToolMain } from './bin/uadk_tool.js';

const MAINS: readonly (readonly [string, Main])[] = [
  ['sh', shMain],
  ['zipk', zipkMain],
  ['vfio_testdev', vfioTestdevMain],
  ['vfio_mdev_zip', vfioMdevZipMain],
  ['uadk_tool', uadkToolMain],
  ['init', initMain],
  ['cat', catMain],
  ['echo', echoMain],
  ['ls', lsMain],
  ['ps', psMain],
  ['kill', killMain],
  ['free', freeMain],
  ['dmesg', dmesgMain],
  ['cmp', cmpMain],
  ['hexdump', hexdumpMain],
  ['sleep', sleepMain],
  ['true', trueMain],
  ['false', falseMain],
  ['mkdir', mkdirMain],
  ['rm', rmMain],
  ['cp', cpMain],
  ['sysctl', sysctlMain],
  ['poweroff', poweroffMain],
  ['reboot', rebootMain],
  ['halt', haltMain],
  ['mount', mountMain],
  ['uname', unameMain],
  ['gzip', gzipMain],
  ['gunzip', gunzipMain],
  ['zcat', zcatMain],
  ['head', headMain],
  ['grep', grepMain],
  ['touch', touchMain],
  ['seq', seqMain],
  ['env', envMain],
];

export const userPrograms: ProgramRom = new Map<string, UserEntry>(MAINS.map(([name, main]) => [name, program(main)]));
