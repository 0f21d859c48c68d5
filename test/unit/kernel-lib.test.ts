import { describe, it, expect } from 'vitest';
import { format_timestamp } from '../../src/kernel/lib/printk.js';
import { _IOC_DIR, _IOC_NR, _IOC_SIZE, _IOC_TYPE, _IOW, _IOR, _IO, ioctl_describe } from '../../src/kernel/lib/ioctl.js';
import { cpio_parse } from '../../src/kernel/init/initramfs.js';
import { writeCpio } from '../../tools/mkimage/cpio.js';
import { parse_cmdline } from '../../src/kernel/init/main.js';
import { sys_int, sys_long } from '../../src/kernel/syscalls/table.js';
import { errname } from '../../src/kernel/lib/errno.js';

describe('kernel library pieces', () => {
  it('printk timestamps are "[%5lu.%06lu] " of virtual seconds', () => {
    expect(format_timestamp(0)).toBe('[    0.000000] ');
    expect(format_timestamp(1_234_567_891)).toBe('[    1.234567] ');
    expect(format_timestamp(123456e9)).toBe('[123456.000000] ');
  });

  it('ioctl numbers decode as asm-generic _IOC: UACCE_CMD_PIN = _IOW(\'W\', 2, 16) = 0x40105702', () => {
    const pin = _IOW('W', 2, 16);
    expect(pin).toBe(0x40105702);
    expect([_IOC_DIR(pin), _IOC_TYPE(pin), _IOC_NR(pin), _IOC_SIZE(pin)]).toEqual([1, 0x57, 2, 16]);
    expect(_IO('W', 0)).toBe(0x5700);
    expect(_IOR(';', 100, 0)).toBe(0x80003b64);
    expect(ioctl_describe(0x40105702)).toBe("_IOW('W', 2, 16)");
  });

  it('cpio newc archives from the image builder unpack to the same entries', () => {
    const enc = new TextEncoder();
    const archive = writeCpio([
      { name: 'bin', mode: 0o040755 },
      { name: 'bin/x', mode: 0o100755, data: enc.encode('#!svasoc:x\n') },
      { name: 'lnk', mode: 0o120777, data: enc.encode('bin/x') },
    ]);
    const e = cpio_parse(archive);
    if (typeof e === 'string') throw new Error(e);
    expect(e.map((x) => [x.name, x.mode.toString(8), new TextDecoder().decode(x.data)])).toEqual([
      ['bin', '40755', ''],
      ['bin/x', '100755', '#!svasoc:x\n'],
      ['lnk', '120777', 'bin/x'],
    ]);
    expect(cpio_parse(new Uint8Array([1, 2, 3]))).toMatch(/junk|magic/);
  });

  it('the command line gives rdinit=/init= and passes unknown words to init as argv/envp', () => {
    const p = parse_cmdline('console=ttyAMA0 rdinit=/sbin/x FOO=bar single -- a b');
    expect(p.rdinit).toBe('/sbin/x');
    expect(p.initArgs).toEqual(['single', 'a', 'b']);
    expect(p.initEnv).toContain('FOO=bar');
  });

  it('system-call argument narrowing follows C: int is the signed low 32 bits, long wraps above 2^63', () => {
    expect(sys_int(-1)).toBe(-1);
    expect(sys_int(0xffffffff)).toBe(-1);
    expect(sys_int(2 ** 32 + 5)).toBe(5);
    expect(sys_long(2 ** 64 - 1)).toBe(0);
    expect(sys_long(-100)).toBe(-100);
    expect(errname(-2)).toBe('ENOENT');
  });
});
