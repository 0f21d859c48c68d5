// Links every system call of the kernel into the table (the registration side effects
// of these modules), as the sys_call_table is assembled at build time.

import '../fs/open.js';
import '../fs/read_write.js';
import '../fs/stat.js';
import '../fs/readdir.js';
import '../fs/ioctl.js';
import '../fs/fcntl.js';
import '../fs/pipe.js';
import '../fs/select.js';
import '../fs/eventpoll.js';
import '../fs/eventfd.js';
import '../fs/namei_syscalls.js';
import '../fs/exec.js';
import '../fs/mount_syscalls.js';
import '../kernel/sys.js';
import '../kernel/futex.js';
import '../kernel/printk_syscalls.js';
