import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeCpio, readCpio, NEWC_HEADER_SIZE, S_IFDIR, S_IFREG, S_IFCHR, S_IFLNK } from '../../tools/mkimage/cpio.js';
import { buildImage, execStub } from '../../tools/mkimage/build.js';
import { userPrograms } from '../../src/user/rom.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

function cpioList(archive: Uint8Array): { status: number | null; names: string[]; stderr: string } {
  const r = spawnSync('cpio', ['-t', '--quiet'], { input: archive });
  return { status: r.status, names: r.stdout.toString().split('\n').filter((l) => l !== ''), stderr: r.stderr.toString() };
}

describe('cpio newc writer and reader', () => {
  const entries = [
    { name: 'bin', mode: S_IFDIR | 0o755 },
    { name: 'bin/hello', mode: S_IFREG | 0o755, data: enc.encode('#!svasoc:hello\n') },
    { name: 'dev', mode: S_IFDIR | 0o755 },
    { name: 'dev/console', mode: S_IFCHR | 0o600, rdevmajor: 5, rdevminor: 1 },
    { name: 'etc', mode: S_IFDIR | 0o755 },
    { name: 'etc/abc', mode: S_IFREG | 0o644, data: enc.encode('abc') },
    { name: 'link', mode: S_IFLNK | 0o777, data: enc.encode('etc/abc') },
  ];

  it('newc: header is "070701" + 13 eight-digit hex fields, 110 bytes, names and data 4-aligned', () => {
    const a = writeCpio(entries);
    expect(dec.decode(a.subarray(0, 6))).toBe('070701');
    const head = dec.decode(a.subarray(0, NEWC_HEADER_SIZE));
    expect(head).toMatch(/^070701[0-9a-f]{104}$/);
    // namesize of "bin" is 4 (with NUL): header+name = 114 -> padded to 116.
    expect(parseInt(head.slice(94, 102), 16)).toBe(4);
    expect(dec.decode(a.subarray(116, 122))).toBe('070701');
    expect(a.length % 4).toBe(0);
  });

  it('round trip: the reader returns every entry with mode, rdev, data, nlink and ino', () => {
    const back = readCpio(writeCpio(entries));
    expect(back.map((e) => e.name)).toEqual(entries.map((e) => e.name));
    const hello = back.find((e) => e.name === 'bin/hello')!;
    expect(hello.mode).toBe(S_IFREG | 0o755);
    expect(dec.decode(hello.data)).toBe('#!svasoc:hello\n');
    const con = back.find((e) => e.name === 'dev/console')!;
    expect([con.rdevmajor, con.rdevminor]).toEqual([5, 1]);
    expect(back.find((e) => e.name === 'bin')!.nlink).toBe(2);
    expect(back.map((e) => e.ino)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(back.every((e) => e.mtime === 0)).toBe(true);
  });

  it('archive ends with a TRAILER!!! entry and lists with the standard cpio -t', () => {
    const a = writeCpio(entries);
    expect(dec.decode(a)).toContain('TRAILER!!!');
    const r = cpioList(a);
    expect(r.status).toBe(0);
    expect(r.names).toEqual(entries.map((e) => e.name));
  });

  it('reader rejects bad magic and truncation with the offset', () => {
    const a = writeCpio(entries);
    const bad = a.slice();
    bad[0] = 0x39;
    expect(() => readCpio(bad)).toThrow(/bad magic.*offset 0/);
    expect(() => readCpio(a.subarray(0, 200))).toThrow(/truncated/);
  });

  it('writer refuses fields that do not fit 8 hex digits', () => {
    expect(() => writeCpio([{ name: 'x', mode: S_IFREG, uid: 2 ** 32 }])).toThrow(/uid/);
  });
});

describe('image builder', () => {
  it('default image: standard dirs, /bin stub per ROM program, /sbin/init, /init script; cpio -t lists it', () => {
    const a = buildImage('images/default');
    const back = readCpio(a);
    const names = back.map((e) => e.name);
    for (const d of ['bin', 'dev', 'etc', 'proc', 'sys', 'tmp', 'sbin', 'root']) expect(names).toContain(d);
    for (const p of userPrograms.keys()) {
      const e = back.find((x) => x.name === `bin/${p}`)!;
      expect(dec.decode(e.data)).toBe(`#!svasoc:${p}\n`);
      expect(e.mode & 0o111).toBe(0o111);
    }
    expect(dec.decode(back.find((e) => e.name === 'sbin/init')!.data)).toBe('#!svasoc:init\n');
    const init = back.find((e) => e.name === 'init')!;
    expect(dec.decode(init.data).startsWith('#!/bin/sh\n')).toBe(true);
    expect(init.mode).toBe(S_IFREG | 0o755);
    expect(back.find((e) => e.name === 'tmp')!.mode).toBe(S_IFDIR | 0o1777);
    const r = cpioList(a);
    expect(r.status).toBe(0);
    expect(r.names).toEqual(names);
  });

  it('entries are sorted with parents before children; the same tree gives the same bytes', () => {
    const a = buildImage('images/default');
    const names = readCpio(a).map((e) => e.name);
    expect([...names].sort()).toEqual(names);
    for (const n of names) {
      const parent = n.split('/').slice(0, -1).join('/');
      if (parent) expect(names.indexOf(parent)).toBeLessThan(names.indexOf(n));
    }
    expect(buildImage('images/default')).toEqual(a);
  });

  it('--script becomes /script (0755) and extraFiles are added with their parents', () => {
    const a = buildImage('images/smoke', { script: 'echo hi\n', extraFiles: { '/data/x/y.txt': 'yy', '/etc/run.sh': '#!/bin/sh\n' } });
    const back = readCpio(a);
    const s = back.find((e) => e.name === 'script')!;
    expect(dec.decode(s.data)).toBe('echo hi\n');
    expect(s.mode).toBe(S_IFREG | 0o755);
    expect(back.find((e) => e.name === 'data/x')!.mode & S_IFDIR).toBe(S_IFDIR);
    expect(back.find((e) => e.name === 'data/x/y.txt')!.mode).toBe(S_IFREG | 0o644);
    expect(back.find((e) => e.name === 'etc/run.sh')!.mode).toBe(S_IFREG | 0o755);
  });

  it('a missing image directory and a path escaping the root are reported, not built', () => {
    expect(() => buildImage('images/does-not-exist')).toThrow(/does not exist/);
    expect(() => buildImage(undefined, { extraFiles: { '../x': 'a' } })).toThrow(/bad archive path/);
  });

  it('execStub is EXEC_MAGIC + name + newline', () => {
    expect(dec.decode(execStub('ls'))).toBe('#!svasoc:ls\n');
  });
});

describe('mkimage command', () => {
  it('writes DIR as OUT.cpio; wrong arguments give status 2 and a usage line', async () => {
    const { mkimageMain } = await import('../../tools/mkimage/main.js');
    const { mkdtempSync, readFileSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'mkimage-'));
    const scriptFile = join(dir, 's.sh');
    writeFileSync(scriptFile, 'echo x\n');
    const out = join(dir, 'out.cpio');
    const errs: string[] = [];
    expect(mkimageMain(['images/smoke', out, '--script', scriptFile], (s) => errs.push(s))).toBe(0);
    const names = readCpio(new Uint8Array(readFileSync(out))).map((e) => e.name);
    expect(names).toContain('script');
    expect(names).toContain('init');
    expect(mkimageMain(['images/smoke'], (s) => errs.push(s))).toBe(2);
    expect(mkimageMain(['nope-dir', out], (s) => errs.push(s))).toBe(2);
    expect(errs.join('')).toMatch(/usage: mkimage[\s\S]*does not exist/);
  });
});
