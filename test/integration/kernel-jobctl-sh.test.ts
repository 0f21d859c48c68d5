// Job control of the interactive shell on the console (init makes the console the
// controlling terminal of the shell's session): ^C and ^\ reach the foreground job only,
// $? is 128 + the signal, the shell survives, background jobs are not hit, ^C at the
// prompt drops the line, and the transcript is the same on every run.
import { describe, it, expect } from 'vitest';
import { Machine } from '../../src/machine/board.js';
import { boot } from '../../src/machine/boot.js';
import { createKernelImage } from '../../src/kernel/image.js';
import { userPrograms } from '../../src/user/rom.js';
import { buildImage } from '../../tools/mkimage/build.js';

/** Boots the interactive shell and types each step (a string) or lets virtual time run (a number of ns). */
function session(steps: readonly (string | number)[]): { console: string; code: number | undefined; times: number[] } {
  const machine = new Machine({ cpus: 2, ramSize: 256 * 1024 * 1024 });
  const h = boot(machine, { kernel: createKernelImage({}), rom: userPrograms, initramfs: buildImage(undefined), args: 'console=ttyAMA0 interactive' });
  h.run({ forNs: 300e6 });
  const times: number[] = [];
  for (const s of steps) {
    if (typeof s === 'number') h.run({ forNs: s });
    else {
      h.input(s);
      times.push(machine.clock.now());
      h.run({ forNs: 50e6 });
    }
  }
  const code = h.runToPoweroff(20e9);
  const con = h.console.replace(/\r/g, '');
  const start = 'Run /sbin/init as init process\n';
  return { console: con.slice(con.indexOf(start) + start.length), code, times };
}

describe('interactive shell job control', () => {
  it('^C ends a foreground sleep at once, $? is 130 with no message, and the shell goes on', () => {
    const r = session(['sleep 100\n', '\x03', 'echo st=$?\n', 'echo alive\n', 'exit 4\n']);
    expect(r.console).toMatch(/^# sleep 100\n\^C\n# echo st=\$\?\nst=130\n# echo alive\nalive\n# exit 4\n/);
    expect(r.code).toBe(4);
    // Everything after the ^C ran within the steps' 50 ms each, far before sleep's 100 s.
    expect(r.times[r.times.length - 1]! - r.times[0]!).toBeLessThan(1e9);
  });

  it('^C interrupts a whole command line (a loop of foreground jobs) and a pipeline', () => {
    const r = session(['for i in 1 2 3; do sleep 50; echo no; done; echo no\n', '\x03', 'echo st=$?\n', 'sleep 100 | cat\n', '\x03', 'echo st=$?\n', 'exit\n']);
    expect(r.console.split('\n')).not.toContain('no');
    expect(r.console).toContain('\n^C\n# echo st=$?\nst=130\n# sleep 100 | cat\n^C\n# echo st=$?\nst=130\n');
  });

  it('^C at the prompt drops the line typed so far and prompts again with $? 130', () => {
    const r = session(['true\n', 'nosuchcmd', '\x03', 'echo st=$?\n', 'if true\n', '\x03', 'echo after\n', 'exit\n']);
    expect(r.console).toContain('# nosuchcmd^C\n# echo st=$?\nst=130\n# if true\n> ^C\n# echo after\nafter\n');
    expect(r.console).not.toContain('not found');
  });

  it('a background job is its own process group: ^C does not reach it', () => {
    const r = session(['(sleep 1; echo bg-survived) &\n', '\x03', 'sleep 100\n', '\x03', 'wait; echo w=$?\n', 1.5e9, 'exit\n']);
    expect(r.console).toMatch(/# \(sleep 1; echo bg-survived\) &\n\[1\] \d+\n# \^C\n# sleep 100\n\^C\n# wait; echo w=\$\?\n/);
    expect(r.console).toContain('bg-survived\nw=0\n');
  });

  it('^\\ sends SIGQUIT to the foreground job: $? is 131', () => {
    const r = session(['sleep 100\n', '\x1c', 'echo st=$?\n', 'exit\n']);
    expect(r.console).toContain('# sleep 100\n^\\\n# echo st=$?\nst=131\n');
  });

  it('the foreground job has the terminal, in a process group of its own, and the shell gets it back', () => {
    const r = session(['cat /proc/self/stat\n', 'echo $$\n', 'exit\n']);
    const stat = /\n(\d+) \(cat\) \S+ (\d+) (\d+) (\d+)/.exec(r.console);
    expect(stat).not.toBeNull();
    const [, pid, ppid, pgrp, sid] = stat!;
    expect(pgrp).toBe(pid);
    expect(sid).toBe(ppid);
    expect(r.console).toContain(`# echo $$\n${ppid}\n`);
  });

  it('a background job that reads the terminal gets EIO (no stopped state for SIGTTIN)', () => {
    const r = session(['cat &\n', 'wait; echo w=$?\n', 'exit\n']);
    expect(r.console).toMatch(/# cat &\n\[1\] \d+\ncat: -: Input\/output error\n# wait; echo w=\$\?\nw=1\n/);
  });

  it('a shell started at the prompt does job control in its own group and hands the terminal back when it exits', () => {
    const r = session(['sh\n', 'sleep 100\n', '\x03', 'echo inner=$?\n', 'exit 5\n', 'echo outer=$?\n', 'sleep 100\n', '\x03', 'echo again=$?\n', 'exit\n']);
    expect(r.console).toContain('# sh\n# sleep 100\n^C\n# echo inner=$?\ninner=130\n# exit 5\n# echo outer=$?\nouter=5\n# sleep 100\n^C\n# echo again=$?\nagain=130\n');
  });

  it("trap - INT in the interactive shell restores the shell's own ^C handling, not the default that would end it", () => {
    const r = session(["trap 'echo caught' INT\n", 'trap - INT\n', 'partial', '\x03', 'echo alive=$?\n', 'exit 6\n']);
    expect(r.console).toContain('# partial^C\n# echo alive=$?\nalive=130\n# exit 6\n');
    expect(r.code).toBe(6);
  });

  it('the interactive transcript with ^C is the same on every run', () => {
    const steps = ['sleep 100\n', '\x03', 'echo st=$?\n', 'sleep 5 &\n', 'abc', '\x03', 'exit\n'];
    const a = session(steps);
    const b = session(steps);
    expect(a.console).toBe(b.console);
    expect(a.times).toEqual(b.times);
  });
});
