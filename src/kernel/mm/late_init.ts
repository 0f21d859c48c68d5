// mm's hookup to the rest of the kernel once processes, procfs and the scheduler
// exist (the parts of mm_init/kswapd_init/proc_*_init that need them): the
// context-switch hook (switch_mm), the current task's credentials for mlock and pin
// accounting, /proc files (meminfo, vmstat, buddyinfo, swaps, <pid>/status, maps,
// pagemap), the vm sysctls, the memory system calls, and the kthreads.

import { d_path } from '../fs/namei.js';
import { proc_create, register_sysctl_int } from '../fs/proc/root.js';
import { set_proc_mm_hooks } from '../fs/proc/base.js';
import { fput } from '../fs/file.js';
import type { File, FileOperations } from '../fs/types.js';
import { EINVAL, EFAULT } from '../lib/errno.js';
import { copy_to_user } from '../lib/uaccess.js';
import { current, set_mm_switcher } from '../sched/core.js';
import { CAP_IPC_LOCK, CAP_SYS_ADMIN, has_capability, rlimit, RLIMIT_MEMLOCK, type TaskStruct } from '../sched/task.js';
import {
  compact_nodes,
  set_compact_unevictable_allowed,
  set_compaction_proactiveness,
  sysctl_compact_unevictable_allowed,
  sysctl_compaction_proactiveness,
} from './compaction.js';
import { switch_mm } from './context.js';
import { mm_start_daemons } from './daemons.js';
import { set_current_mm_provider } from './gup.js';
import { meminfo_proc_show } from './meminfo.js';
import { oom_init } from './oom_kill.js';
import { set_deferred_fput, set_max_map_count, sysctl_max_map_count } from './mmap.js';
import { buddyinfo, NODE_DATA, set_watermark_scale_factor } from './page_alloc.js';
import { mm_syscalls_init } from './syscalls.js';
import { swaps_show } from './swapfile.js';
import { pagemap_read, show_maps, task_mem } from './task_mmu.js';
import { set_mm_creds_provider } from './util.js';
import { set_swappiness, vm_swappiness } from './vmscan.js';
import { vmstat_show } from './vmstat.js';

let watermark_scale = 10;

function pagemap_fops(task: TaskStruct): FileOperations {
  return {
    // mem_lseek: SEEK_SET and SEEK_CUR over the virtual page index space
    llseek(file: File, offset: number, whence: number): number {
      const pos = whence === 0 ? offset : whence === 1 ? file.f_pos + offset : -1;
      if (pos < 0 || !Number.isSafeInteger(pos)) return -EINVAL;
      file.f_pos = pos;
      return pos;
    },
    *read(_file: File, ubuf: number, count: number, ppos: { pos: number }) {
      const mm = task.mm;
      if (mm === null) return 0;
      if (ppos.pos % 8 !== 0 || count % 8 !== 0) return -EINVAL;
      const showPfn = has_capability(current(), CAP_SYS_ADMIN);
      const data = pagemap_read(mm, ppos.pos, Math.min(count, 64 * 1024), showPfn);
      if (copy_to_user(ubuf, data, data.length) !== 0) return -EFAULT;
      ppos.pos += data.length;
      return data.length;
    },
  };
}

let lateInitNode: unknown;

/** mm_late_init: called by kernel_init once the scheduler, workqueues and procfs run (once per boot). */
export function mm_late_init(): void {
  if (lateInitNode === NODE_DATA()) return;
  lateInitNode = NODE_DATA();
  set_mm_switcher((cpu, _prev, next) => switch_mm(cpu, next.mm ?? next.active_mm));
  set_mm_creds_provider(() => {
    const t = current();
    return { memlockLimit: rlimit(t, RLIMIT_MEMLOCK), capIpcLock: has_capability(t, CAP_IPC_LOCK) };
  });
  set_current_mm_provider(() => current().mm);
  set_deferred_fput(fput);
  set_proc_mm_hooks({
    status_vm: (t) => (t.mm === null ? '' : task_mem(t.mm)),
    maps: (t) => (t.mm === null ? '' : show_maps(t.mm, (vma) => (vma.vm_file !== null ? d_path(vma.vm_file.f_path) : undefined))),
    pagemap_fops,
  });
  proc_create('meminfo', meminfo_proc_show);
  proc_create('vmstat', vmstat_show);
  proc_create('buddyinfo', buddyinfo);
  proc_create('swaps', swaps_show);
  register_sysctl_int('vm/swappiness', () => vm_swappiness, (v) => {
    if (v < 0 || v > 200) return -EINVAL;
    set_swappiness(v);
    return 0;
  });
  register_sysctl_int('vm/compact_memory', () => 0, () => {
    compact_nodes();
    return 0;
  });
  register_sysctl_int('vm/compact_unevictable_allowed', () => sysctl_compact_unevictable_allowed, (v) => {
    if (v !== 0 && v !== 1) return -EINVAL;
    set_compact_unevictable_allowed(v);
    return 0;
  });
  register_sysctl_int('vm/compaction_proactiveness', () => sysctl_compaction_proactiveness, (v) => {
    if (v < 0 || v > 100) return -EINVAL;
    set_compaction_proactiveness(v);
    return 0;
  });
  register_sysctl_int('vm/max_map_count', () => sysctl_max_map_count, (v) => {
    if (v < 0) return -EINVAL;
    set_max_map_count(v);
    return 0;
  });
  register_sysctl_int('vm/watermark_scale_factor', () => watermark_scale, (v) => {
    if (v < 1 || v > 3000) return -EINVAL;
    watermark_scale = v;
    set_watermark_scale_factor(v);
    return 0;
  });
  mm_syscalls_init();
  oom_init();
  mm_start_daemons();
}
