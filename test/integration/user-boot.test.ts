import { describe, it, expect } from 'vitest';
import { Machine } from '../../src/machine/board.js';
import { boot } from '../../src/machine/boot.js';
import { createKernelImage } from '../../src/kernel/image.js';
import { userPrograms } from '../../src/user/rom.js';
import { buildImage, type BuildOptions } from '../../tools/mkimage/build.js';
import { userOutput } from '../support/kernel-boot.js';

/** Boots an image on a 2-core board and runs it to power-off; returns the user-space part of the console. */
function runImage(dir: string | undefined, options: BuildOptions = {}): { out: string; code: number | undefined; console: string } {
  const machine = new Machine({ cpus: 2, ramSize: 256 * 1024 * 1024 });
  const h = boot(machine, { kernel: createKernelImage({}), rom: userPrograms, initramfs: buildImage(dir, options) });
  const code = h.runToPoweroff(30e9);
  const con = h.console.replace(/\r\n/g, "\n");
  const out = userOutput(con);
  return { out: out + '\n', code, console: con };
}

const script = (lines: string[]): BuildOptions => ({ script: lines.join('\n') + '\n' });

describe('default image', () => {
  it('boots, runs the /init demo through init and sh, and powers off with status 0', () => {
    const r = runImage('images/default');
    expect(r.code).toBe(0);
    expect(r.out).toContain('svasoc 6.6.0-svasoc (aarch64) - the SVA SoC emulator');
    expect(r.out).toMatch(/\$ uname -a\nLinux svasoc \S+/);
    expect(r.out).toMatch(/\$ ls \/dev\n(.*\n)*null\n/);
    expect(r.out).toContain('gzip: /tmp/numbers.txt -> /tmp/numbers.txt.gz -> identical after gunzip');
    expect(r.out).toContain('a subshell exited with status 3');
    expect(r.out).toMatch(/background child \d+ finished with status 0/);
    expect(r.out).toContain('demo done: powering off');
    expect(r.out).not.toMatch(/not found|Cannot allocate/);
  });

  it('--script replaces the /init demo; init powers off with the script exit status', () => {
    const r = runImage('images/default', script(['echo from-script', 'exit 5']));
    expect(r.out).toContain('from-script');
    expect(r.out).not.toContain('demo done');
    expect(r.code).toBe(5);
  });

  it('an image without /init runs the smoke /init through sh with its exit status', () => {
    const r = runImage('images/smoke');
    expect(r.out).toContain('smoke: hello from Linux');
    expect(r.code).toBe(0);
  });
});

describe('sh on the kernel', () => {
  const r = runImage(
    undefined,
    script([
      'x=hello; y="a b  c"',
      'echo $x "$y" $y',
      'false; echo "after false: $?"',
      'true && echo and-ok || echo and-bad',
      'false || echo or-ok',
      'if [ -d /tmp ]; then echo tmp-is-dir; elif true; then echo no; else echo no2; fi',
      'for i in 1 2 3; do printf "[%s]" $i; done; echo',
      'n=0; while [ $n -lt 3 ]; do n=$((n + 1)); done; echo "n=$n"',
      'echo redirected > /tmp/r.txt; echo more >> /tmp/r.txt; cat < /tmp/r.txt',
      'ls /nonexistent 2>&1 | cat',
      'echo piped | cat | cat',
      'v=$(echo sub; echo st); echo "subst: $v"',
      'f() { echo "in f: $1 $2 $#"; return 4; }; f a b; echo "f returned $?"',
      'case abc in a*) echo case-a;; *) echo case-other;; esac',
      'sleep 0.001 & bg=$!; wait $bg; echo "bg status $?"',
      'cat <<EOT',
      'heredoc $x',
      'EOT',
      'set -- p1 p2 p3; echo "$# $1 $3"; shift; echo "$@"',
      'echo ${undef:-default} ${x:+alt}',
      'read line < /tmp/r.txt; echo "read: $line"',
      'nosuchcmd; echo "nosuch: $?"',
      '( cd /tmp && pwd ); pwd',
      "export E1=exported; sh -c 'echo child sees $E1'",
      "sh -c 'exit 7'; echo \"sh -c exit: $?\"",
      'cd /bin && echo c*at && cd /',
      'echo "pid $$"',
      'exit 9',
    ]),
  );

  const expectLines = (lines: string[]): void => {
    let at = 0;
    for (const l of lines) {
      const i = r.out.indexOf(l + '\n', at);
      expect(i, `missing (in order) ${JSON.stringify(l)} in:\n${r.out}`).toBeGreaterThanOrEqual(0);
      at = i + l.length;
    }
  };

  it('XCU 2.6.5: quoted expansions stay one field, unquoted ones split on IFS', () => expectLines(['hello a b  c a b c']));
  it('XCU 2.9.3: $? after a command, && and || lists', () => expectLines(['after false: 1', 'and-ok', 'or-ok']));
  it('XCU 2.9.4: if/elif/else, for, while with $((...)) arithmetic', () => expectLines(['tmp-is-dir', '[1][2][3]', 'n=3']));
  it('XCU 2.7: > >> < and 2>&1 redirections on real files and fds', () =>
    expectLines(['redirected', 'more', "ls: cannot access '/nonexistent': No such file or directory"]));
  it('XCU 2.9.2: pipelines through pipe2; XCU 2.6.3: command substitution strips trailing newlines', () => expectLines(['piped', 'subst: sub', 'st']));
  it('functions with positional parameters and return; case patterns', () => expectLines(['in f: a b 2', 'f returned 4', 'case-a']));
  it('background & with $! and wait PID returns the child status', () => expectLines(['bg status 0']));
  it('here-documents expand parameters; set -- and shift; ${:-} ${:+}; read from a file', () =>
    expectLines(['heredoc hello', '3 p1 p3', 'p2 p3', 'default alt', 'read: redirected']));
  it('an unknown command is status 127 with a message; subshell cd does not leak', () => expectLines(['sh: nosuchcmd: not found', 'nosuch: 127', '/tmp', '/']));
  it('exported variables reach exec\'d children; sh -c exit status; pathname expansion', () => expectLines(['child sees exported', 'sh -c exit: 7', 'cat']));
  it('$$ is the shell PID (a child of init, not 1) and exit N is the power-off code', () => {
    const m = /\npid (\d+)\n/.exec(r.out);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(1);
    expect(r.code).toBe(9);
  });
});

describe('tools on the kernel', () => {
  const r = runImage(
    undefined,
    script([
      'mkdir -p /tmp/a/b/c && echo mkdir-ok',
      'echo hello > /tmp/a/b/c/f.txt',
      'cp /tmp/a/b/c/f.txt /tmp/a/g.txt && cat /tmp/a/g.txt',
      'ls /tmp/a',
      'ls -l /tmp/a/g.txt /dev/null',
      'rm -r /tmp/a; ls /tmp/a 2>/dev/null; echo "rm gone $?"',
      "printf 'ABCDEFGHIJKLMNOPQRSTUVWXYZ\\n' > /tmp/h.bin",
      'hexdump -C /tmp/h.bin',
      'echo one > /tmp/c1; echo onf > /tmp/c2; cmp /tmp/c1 /tmp/c2; echo "cmp $?"',
      'cmp /tmp/c1 /tmp/c1; echo "cmp same $?"',
      'seq 1 2000 > /tmp/big; gzip /tmp/big; ls /tmp/big.gz; gunzip /tmp/big.gz; head -n 2 /tmp/big',
      'gzip -c /tmp/big | gunzip -c | cmp - /tmp/big && echo pipe-gzip-ok',
      'echo bad > /tmp/bad.gz; gunzip /tmp/bad.gz; echo "gunzip bad $?"',
      'grep -c 1 /tmp/big',
      'sleep 100 & p=$!; kill $p; wait $p; echo "killed status $?"',
      'ps',
      'uname -s -r -m',
      'sysctl vm.swappiness; sysctl -w vm.swappiness=10; sysctl -n vm.swappiness',
      'mount | grep -c proc',
      'echo done',
    ]),
  );

  it('mkdir -p, cp, ls, ls -l (mode, links, owner, size, device numbers), rm -r', () => {
    expect(r.out).toContain('mkdir-ok\nhello\nb\ng.txt\n');
    expect(r.out).toMatch(/-rw-r--r-- +1 0 +0 +6 \/tmp\/a\/g.txt/);
    expect(r.out).toMatch(/crw-rw-rw- +1 0 +0 +1, 3 \/dev\/null/);
    expect(r.out).toContain('rm gone 2');
  });

  it('hexdump -C prints the canonical hex+ASCII layout and the final offset', () => {
    expect(r.out).toContain('00000000  41 42 43 44 45 46 47 48  49 4a 4b 4c 4d 4e 4f 50  |ABCDEFGHIJKLMNOP|\n00000010  51 52 53 54 55 56 57 58  59 5a 0a                 |QRSTUVWXYZ.|\n0000001b\n');
  });

  it('cmp reports the first differing byte (status 1) and is silent on equal files (status 0)', () => {
    expect(r.out).toContain('/tmp/c1 /tmp/c2 differ: byte 3, line 1\ncmp 1\ncmp same 0\n');
  });

  it('gzip/gunzip in software: file round trip, pipes with -c, and a corrupt input is an error', () => {
    expect(r.out).toContain('/tmp/big.gz\n1\n2\npipe-gzip-ok\n');
    expect(r.out).toContain('gunzip: /tmp/bad.gz: not in gzip format\ngunzip bad 1\n');
    expect(r.out).toContain('1271\n');
  });

  it('kill sends SIGTERM: wait reports 128+15', () => {
    expect(r.out).toContain('killed status 143');
  });

  it('ps lists init as PID 1 and the shell as its child', () => {
    expect(r.out).toMatch(/ +PID +PPID USER +STAT COMMAND\n +1 +0 root +\S +\S*init/);
    expect(r.out).toMatch(/\n +\d+ +1 root +\S +\/bin\/sh \/script/);
  });

  it('sysctl reads and writes /proc/sys (vm.swappiness); mount lists /proc/mounts', () => {
    expect(r.out).toMatch(/vm\.swappiness = \d+\nvm\.swappiness = 10\n10\n1\n/);
  });

  it('uname prints sysname, release and machine; the script ends with status 0', () => {
    expect(r.out).toMatch(/Linux \S+ aarch64\n/);
    expect(r.out).toContain('done');
    expect(r.code).toBe(0);
  });
});
