import { describe, it, expect } from 'vitest';
import { bootKernel } from '../support/kernel-boot.js';
import { oops_count } from '../../src/kernel/kernel/panic.js';
import { msleep } from '../../src/kernel/time/sleep.js';
import { ktime_get } from '../../src/kernel/time/hrtimer.js';
import { printk } from '../../src/kernel/lib/printk.js';

describe('kernel boot', () => {
  it('boots to PID 1 with a Linux-style timestamped log and powers off with the init task code', () => {
    const { handle } = bootKernel({
      config: {
        *initTask() {
          printk('init task running');
          return 7;
        },
      },
    });
    const code = handle.runToPoweroff(5e9);
    const con = handle.console;
    expect(con).toMatch(/^\[\s+0\.\d{6}\] Booting Linux on physical CPU 0x0000000000/m);
    expect(con).toContain('Machine model: svasoc virt');
    expect(con).toContain('init task running');
    expect(con).toContain('CPU1: Booted secondary processor');
    expect(oops_count()).toBe(0);
    expect(code).toBe(7);
  });

  it('msleep on the arch timer advances virtual time by at least the requested time', () => {
    let slept = 0;
    const { handle } = bootKernel({
      config: {
        *initTask() {
          const t0 = ktime_get();
          yield* msleep(20);
          slept = ktime_get() - t0;
          return 0;
        },
      },
    });
    expect(handle.runToPoweroff(5e9)).toBe(0);
    expect(slept).toBeGreaterThanOrEqual(20e6);
    expect(slept).toBeLessThan(21e6);
    expect(oops_count()).toBe(0);
  });
});
