import { afterEach, describe, expect, it } from 'vitest';
import { meminfo_proc_show } from '../../src/kernel/mm/meminfo.js';
import { do_madvise, do_mmap, MADV_PAGEOUT, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/kernel/mm/mmap.js';
import { do_mlock } from '../../src/kernel/mm/mlock.js';
import { pagemap_entry, show_maps, task_mem } from '../../src/kernel/mm/task_mmu.js';
import { account_pinned_vm } from '../../src/kernel/mm/util.js';
import { vmstat_show } from '../../src/kernel/mm/vmstat.js';
import { makeMmEnv, type MmEnv } from '../support/mm-env.js';

let env: MmEnv | undefined;
afterEach(() => {
  env?.restore();
  env = undefined;
});

const ROOT = { memlockLimit: Infinity, capIpcLock: true };

describe('/proc views of an address space (fs/proc/task_mmu.c, meminfo.c, vmstat.c)', () => {
  it('status: VmLck is locked_vm and VmPin is pinned_vm, in kB, Linux layout', () => {
    env = makeMmEnv();
    const mm = env.newMm();
    env.use(mm);
    const a = do_mmap(mm, null, 0, 8 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, 0, ROOT);
    expect(do_mlock(mm, a, 4 * 4096, 0, ROOT)).toBe(0);
    expect(account_pinned_vm(mm, 3, true, ROOT)).toBe(0);
    const s = task_mem(mm);
    expect(s).toContain('VmLck:\t      16 kB\n');
    expect(s).toContain('VmPin:\t      12 kB\n');
    expect(s).toMatch(/^VmPeak:\t +\d+ kB\nVmSize:/);
    expect(s).toContain('RssAnon:\t      16 kB\n'); // the locked part was faulted in
  });

  it('maps: one line per VMA with range, perms, offset, dev, inode and the name column at 73', () => {
    env = makeMmEnv();
    const mm = env.newMm();
    env.use(mm);
    const a = do_mmap(mm, null, 0x10_0000, 2 * 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, 0);
    const s = do_mmap(mm, null, 0x20_0000, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, 0);
    const lines = show_maps(mm).trimEnd().split('\n');
    expect(lines[0]).toBe(`${a.toString(16).padStart(8, '0')}-${(a + 0x2000).toString(16).padStart(8, '0')} r--p 00000000 00:00 0 `);
    expect(lines[1]!.slice(0, 39)).toBe(`${s.toString(16).padStart(8, '0')}-${(s + 0x1000).toString(16).padStart(8, '0')} rw-s 00000000 00:00 0`);
    expect(lines[1]!.indexOf('/dev/zero (deleted)')).toBe(73);
  });

  it('pagemap: present pages carry bit 63 and their PFN, swapped pages bit 62 and the swap offset', () => {
    env = makeMmEnv(32, { swapBytes: 4 * 1024 * 1024 });
    const mm = env.newMm();
    env.use(mm);
    const a = do_mmap(mm, null, 0, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, 0);
    env.cpu.st32(a, 1);
    env.cpu.st32(a + 4096, 2);
    const e = new Uint32Array(2);
    pagemap_entry(mm, a, true, e);
    expect(e[1]! >>> 31).toBe(1);
    expect(e[0]).toBeGreaterThan(0x40000);
    pagemap_entry(mm, a, false, e);
    expect(e[0]).toBe(0); // PFNs hidden without CAP_SYS_ADMIN
    expect(do_madvise(mm, a + 4096, 4096, MADV_PAGEOUT)).toBe(0);
    pagemap_entry(mm, a + 4096, true, e);
    expect((e[1]! >>> 30) & 3).toBe(1); // swapped, not present
    expect(e[0]! >>> 5).toBeGreaterThan(0); // offset above the 5 type bits
  });

  it('meminfo and vmstat print Linux names', () => {
    env = makeMmEnv();
    const mi = meminfo_proc_show();
    expect(mi).toMatch(/^MemTotal: +\d+ kB\nMemFree: +\d+ kB\nMemAvailable: +\d+ kB\n/);
    expect(mi).toContain('SwapTotal:');
    expect(mi).toContain('Mlocked:');
    const vs = vmstat_show();
    for (const k of ['nr_free_pages', 'nr_mlock', 'pgfault', 'pgmajfault', 'pgmigrate_success', 'pgmigrate_fail', 'compact_stall', 'pswpin', 'pswpout', 'nr_foll_pin_acquired', 'nr_foll_pin_released', 'thp_fault_alloc']) {
      expect(vs).toMatch(new RegExp(`^${k} \\d+$`, 'm'));
    }
  });
});
