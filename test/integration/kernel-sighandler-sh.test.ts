import { describe, it, expect } from 'vitest';
import { Machine } from '../../src/machine/board.js';
import { boot } from '../../src/machine/boot.js';
import { createKernelImage } from '../../src/kernel/image.js';
import { userPrograms } from '../../src/user/rom.js';
import { buildImage } from '../../tools/mkimage/build.js';
import { userOutput } from '../support/kernel-boot.js';

function runScript(lines: string[]): { out: string; code: number | undefined } {
  const machine = new Machine({ cpus: 2, ramSize: 256 * 1024 * 1024 });
  const h = boot(machine, { kernel: createKernelImage({}), rom: userPrograms, initramfs: buildImage(undefined, { script: lines.join('\n') + '\n' }) });
  const code = h.runToPoweroff(30e9);
  return { out: userOutput(h.console.replace(/\r\n/g, '\n')), code };
}

describe('sh trap on signal handlers', () => {
  it("trap 'CMD' SIG runs CMD when the shell gets SIG (kill -USR1 $$ from a background job interrupts wait with 128+SIG); trap - resets, trap '' ignores, trap lists; $? is kept across the trap", () => {
    const r = runScript([
      `trap 'echo "got USR1 status=$?"' USR1`,
      `trap 'echo never' USR2`,
      `trap - USR2`,
      `trap '' TERM`,
      `trap`,
      `(sleep 0.01; kill -USR1 $$; sleep 0.05) &`,
      `wait`,
      `echo "wait returned $?"`,
      `kill -TERM $$`,
      `echo "still here after TERM"`,
      `false`,
      `kill -USR1 $$`,
      `echo "after kill status $?"`,
      `trap 'echo x' KILL; echo "kill trap: $?"`,
      `trap 'echo x' EXIT; echo "exit trap: $?"`,
      `sh -c 'kill -USR1 $$; echo child-survived'; echo "exec'd child status $?"`,
      `kill -USR2 $$`,
      `echo unreachable`,
    ]);
    const want = [
      `trap -- 'echo "got USR1 status=$?"' USR1`,
      `trap -- '' TERM`,
      'got USR1 status=0',
      'wait returned 138',
      'still here after TERM',
      'got USR1 status=0',
      'after kill status 0',
      'sh: trap: KILL: Invalid argument',
      'kill trap: 1',
      'sh: trap: EXIT: the EXIT condition is not supported',
      'exit trap: 1',
      "exec'd child status 138",
    ];
    let at = 0;
    for (const w of want) {
      const i = r.out.indexOf(w, at);
      expect(i, `${w}\n--- in ---\n${r.out}`).toBeGreaterThanOrEqual(0);
      at = i + w.length;
    }
    expect(r.out).not.toContain('never');
    expect(r.out).not.toContain('child-survived');
    expect(r.out).not.toContain('unreachable');
  });
});
