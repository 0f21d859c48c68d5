// uadk_tool in the images and on the command line: the default image keeps its kernel
// (zipk) step in the default boot and runs its uacce + SVA step when booted with
// hisi_zip.uacce_mode=1; the sva image gets that parameter from its boot/cmdline.txt
// (through the CLI's startGuest) and its engine writes stall the SMMU; uadk_tool's
// usage errors are one line with status 2, its failures status 1, and the benchmark
// reports a throughput in virtual time.

import { describe, expect, it } from 'vitest';
import { imageCmdline, startGuest } from '../../src/cli/boot-image.js';
import { TraceKind } from '../../src/trace/record.js';
import { ZIP_SID } from './kernel-zip-harness.js';
import { bootUadk } from './user-uadk-harness.js';
import { userOutput } from '../support/kernel-boot.js';

const MiB = 1024 * 1024;

function bootImage(image: string, append?: string, onMachine?: (m: ReturnType<typeof startGuest>['machine']) => void): { code: number | undefined; out: string; console: string } {
  const { machine, handle } = startGuest({ image, ramSize: 512 * MiB, cpus: 2, seed: 1, trace: onMachine !== undefined, ...(append ? { append } : {}) });
  onMachine?.(machine);
  const code = handle.runToPoweroff(120e9);
  return { code, out: userOutput(handle.console), console: handle.console.replace(/\r\n/g, '\n') };
}

describe('default image', () => {
  it('default boot (uacce_mode 0): the zipk step works and the uacce step says it is skipped and why', () => {
    const r = bootImage('images/default');
    expect(r.code).toBe(0);
    expect(r.out).toContain('zipk: hardware gzip output inflates in software and in hardware to the original');
    expect(r.out).toContain('$ uacce + SVA (uadk_tool): skipped, no /dev/hisi_zip-0 (boot with --append hisi_zip.uacce_mode=1, or boot images/sva)');
    expect(r.out).not.toContain('uadk_tool: gzip compress');
    expect(r.out).toContain('demo done: powering off');
  });

  it('--append hisi_zip.uacce_mode=1: uadk_tool compresses through /dev/hisi_zip-0 and gunzip reads it back', () => {
    const r = bootImage('images/default', 'hisi_zip.uacce_mode=1');
    expect(r.code).toBe(0);
    expect(r.console).toMatch(/Kernel command line: console=ttyAMA0 earlycon hisi_zip\.uacce_mode=1\n/);
    expect(r.out).toMatch(/uadk_tool: gzip compress \(block\) 1092 -> \d+ bytes on hisi_zip-0 \(SVA\)/);
    expect(r.out).toContain('uadk_tool: gzip from the user-space queue inflates with gunzip to the original');
    expect(r.out).toContain('demo done: powering off');
  });
});

describe('sva image', () => {
  it('boot/cmdline.txt carries hisi_zip.uacce_mode=1 (comments dropped)', () => {
    expect(imageCmdline('images/sva')).toBe('hisi_zip.uacce_mode=1');
    expect(imageCmdline('images/default')).toBe('');
  });

  it('round trip through uadk_tool; the engine writes to untouched pages stall the SMMU and every stall is resumed', () => {
    let stalls = 0;
    let resumes = 0;
    const r = bootImage('images/sva', undefined, (m) =>
      m.trace.subscribe((ring, i) => {
        const k = ring.kindAt(i);
        if ((k === TraceKind.Stall || k === TraceKind.Resume) && ring.at(i).sid === ZIP_SID) {
          if (k === TraceKind.Stall) stalls++;
          else resumes++;
        }
      }),
    );
    expect(r.code).toBe(0);
    expect(r.out).toContain("sva: the engine's gzip inflates in software (gunzip) and in hardware to the original");
    const groups = Number(/\ngroups (\d+)\n/.exec(r.out)?.[1]);
    const success = Number(/\nsuccess (\d+)\n/.exec(r.out)?.[1]);
    expect(groups).toBeGreaterThan(40);
    expect(success).toBe(groups);
    expect(stalls).toBeGreaterThanOrEqual(groups);
    expect(resumes).toBe(stalls);
  });
});

describe('uadk_tool command line', () => {
  it('usage mistakes are one line on stderr and status 2; a missing file is status 1; the benchmark prints its figure', () => {
    const r = bootUadk({
      script: [
        'uadk_tool; echo rc=$?',
        'uadk_tool test --m zip --alg 7 --in /etc/motd --out /tmp/x; echo rc=$?',
        'uadk_tool test --m hpre --alg 1 --in /etc/motd --out /tmp/x; echo rc=$?',
        'uadk_tool test --m zip --alg 1 --in /etc/motd; echo rc=$?',
        'uadk_tool test --m zip --alg 1 --bogus --in /etc/motd --out /tmp/x; echo rc=$?',
        'uadk_tool test --m zip --alg 1 --in /no/such --out /tmp/x; echo rc=$?',
        'uadk_tool benchmark --alg lz4 --mode sva --opt 0 --pktlen 4096 --seconds 1; echo rc=$?',
        'uadk_tool benchmark --alg zlib --mode nosva --opt 0 --pktlen 4096 --seconds 1; echo rc=$?',
        'uadk_tool benchmark --alg zlib --mode sva --opt 2 --async --pktlen 4096 --seconds 1; echo rc=$?',
        'uadk_tool benchmark --alg zlib --mode sva --opt 0 --pktlen 4096 --seconds 0; echo rc=$?',
        'uadk_tool benchmark --alg zlib --mode sva --opt 0 --pktlen 4096 --seconds 129; echo rc=$?',
        'uadk_tool benchmark --alg gzip --mode sva --opt 0 --pktlen 8192 --seconds 0.0003; echo rc=$?',
        'uadk_tool benchmark --alg deflate --mode sva --opt 3 --pktlen 8192 --seconds 0.0003; echo rc=$?',
        'uadk_tool benchmark --alg zlib --mode sva --opt 1 --async --pktlen 8192 --seconds 0.0003; echo rc=$?',
        'exit 0',
      ],
    });
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    const rcs = lines.filter((l) => l.startsWith('rc=')).map((l) => Number(l.slice(3)));
    expect(rcs).toEqual([2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 0, 0, 0]);
    // every refusal is exactly one line before its status
    for (let i = 0; i < lines.length; i++) {
      if (lines[i] === 'rc=2') expect(lines[i - 1]).toMatch(/^uadk_tool: .*\(usage: uadk_tool /);
    }
    expect(r.out).toContain("uadk_tool: bad --alg '7' (0 deflate, 1 zlib, 2 gzip)");
    expect(r.out).toContain("uadk_tool: module 'hpre' is not supported (only zip)");
    expect(r.out).toContain('uadk_tool: /no/such: No such file or directory');
    expect(r.out).toMatch(/benchmark: gzip block compress sync on hisi_zip-0 \(sva\), pktlen 8192: \d+ requests in 0\.000\d+ s virtual: \d+\.\d+ MiB\/s, \d+ req\/s, ratio \d+\.\d%/);
    expect(r.out).toMatch(/benchmark: deflate stream decompress sync on hisi_zip-0 \(sva\), pktlen 8192: \d+ requests/);
    expect(r.out).toMatch(/benchmark: zlib block decompress async on hisi_zip-0 \(sva\), pktlen 8192: \d+ requests/);
    const mibs = [...r.out.matchAll(/virtual: (\d+\.\d+) MiB\/s/g)].map((m) => Number(m[1]));
    expect(mibs.length).toBe(3);
    for (const v of mibs) expect(v).toBeGreaterThan(10);
  });

  it('without uacce_mode=1 there is no device: status 1 and a line that says which parameter is missing', () => {
    const r = bootUadk({ args: 'console=ttyAMA0 earlycon', script: ['echo hello > /tmp/in', 'uadk_tool test --m zip --alg 1 --in /tmp/in --out /tmp/x; echo rc=$?', 'exit 0'] });
    expect(r.out).toContain('uadk_tool: no ZIP accelerator with a free queue under /sys/class/uacce (hisi_zip needs uacce_mode=1 on the kernel command line)\nrc=1');
  });
});
