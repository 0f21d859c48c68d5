// The OOM killer (mm/oom_kill.c): when reclaim and compaction cannot satisfy an
// allocation that may not fail on its own, out_of_memory picks the process whose
// memory is worth most to kill (oom_badness: resident pages, swap entries and page-table
// pages, shifted by oom_score_adj in thousandths of RAM + swap), logs the OOM report,
// sends it SIGKILL and marks it as the victim (signal->oom_mm); the OOM reaper then
// unmaps the victim's private memory ahead of its exit.
//
// Departures from Linux, because guest code here cannot sleep inside an allocation
// (a page fault is taken synchronously and the victim runs only when the allocating
// task reaches a preemption point):
// - The reaper's work runs at once in out_of_memory when no fault can be in progress
//   on the victim's mm (the allocating task is a user task that does not share it and
//   nobody holds a transient mm_users reference, as a remote gup does); otherwise it
//   goes to the oom_reaper kthread, started at the first OOM kill rather than at boot.
// - A task that allocates while a victim it waits on has not exited may use the
//   ALLOC_OOM reserve (half of the min watermark), as the victim itself does: Linux's
//   allocator would instead sleep and retry until the victim's memory came back.
// - pagefault_out_of_memory: Linux retries the fault and the task loops until the
//   victim frees memory. Here a retried fault cannot let the victim run, so a user
//   fault that still gets VM_FAULT_OOM with nothing left to kill or wait on ends the
//   faulting task (SIGKILL, logged), never a hang.

import { set_pagefault_out_of_memory } from '../arch/fault.js';
import { kn_file, type KernfsNode } from '../fs/kernfs.js';
import { proc_pid_entry_register } from '../fs/proc/base.js';
import { register_sysctl_int } from '../fs/proc/root.js';
import { kernel_power_off } from '../kernel/reboot.js';
import { kthread_run } from '../kernel/kthread.js';
import { tasks_by_pid } from '../kernel/pid.js';
import { fatal_signal_pending, is_global_init, send_sig } from '../kernel/signal.js';
import { EACCES, EINVAL } from '../lib/errno.js';
import { KERN_EMERG, pr_err, pr_info, pr_warn, printk_level } from '../lib/printk.js';
import { current } from '../sched/core.js';
import { CAP_SYS_RESOURCE, EXIT_DEAD, PF_EXITING, PF_KTHREAD, SIGKILL, SIGSEGV, has_capability, type TaskStruct } from '../sched/task.js';
import { WaitQueueHead, wait_event, wake_up } from '../sched/wait.js';
import {
  __GFP_ACCOUNT,
  __GFP_COMP,
  __GFP_DIRECT_RECLAIM,
  __GFP_DMA32,
  __GFP_FS,
  __GFP_HARDWALL,
  __GFP_HIGH,
  __GFP_IO,
  __GFP_KSWAPD_RECLAIM,
  __GFP_MOVABLE,
  __GFP_NOFAIL,
  __GFP_NORETRY,
  __GFP_NOWARN,
  __GFP_RECLAIMABLE,
  __GFP_RETRY_MAYFAIL,
  __GFP_ZERO,
  GFP_ATOMIC,
  GFP_HIGHUSER_MOVABLE,
  GFP_KERNEL,
  GFP_KERNEL_ACCOUNT,
  GFP_NOIO,
  GFP_NOWAIT,
  GFP_USER,
  type GfpFlags,
} from './gfp.js';
import { get_mm_counter, get_mm_rss, MM_ANONPAGES, MM_FILEPAGES, MM_SHMEMPAGES, MM_SWAPENTS, MMF_OOM_SKIP, type MmStruct, VM_PFNMAP, VM_SHARED } from './mm_types.js';
import { LRU_ACTIVE_ANON, LRU_INACTIVE_ANON, LRU_UNEVICTABLE } from './mmzone.js';
import { zap_page_range } from './memory.js';
import { MMU_NOTIFY_UNMAP } from './mm_types.js';
import { NODE_DATA, nr_free_pages, set_oom_ops, totalram_pages } from './page_alloc.js';
import { MAX_PAGE_ORDER, PAGE_SIZE } from './page.js';
import { nr_swap_pages, total_swap_pages } from './swapfile.js';
import { count_vm_event, global_page_state, VM } from './vmstat.js';

export const OOM_SCORE_ADJ_MIN = -1000;
export const OOM_SCORE_ADJ_MAX = 1000;

/** vm.panic_on_oom (0, 1 system-wide, 2 compulsory) and vm.oom_kill_allocating_task, vm.oom_dump_tasks. */
export let sysctl_panic_on_oom = 0;
export let sysctl_oom_kill_allocating_task = 0;
export let sysctl_oom_dump_tasks = 1;

const K = (pages: number): number => pages * (PAGE_SIZE / 1024);

/** struct oom_control: what the allocation asked for and who was chosen. */
interface OomControl {
  readonly gfp_mask: GfpFlags;
  /** -1 for a page fault's pagefault_out_of_memory (no allocation context). */
  readonly order: number;
  totalpages: number;
  chosen: TaskStruct | null;
  chosen_points: number;
  /** select_bad_process met a victim still freeing memory: wait for it instead of killing another. */
  aborted: boolean;
}

/** The emulator's own GFP bit values, named as %pGg names them (composite names first). */
const GFP_NAMES: readonly (readonly [number, string])[] = [
  [GFP_HIGHUSER_MOVABLE, 'GFP_HIGHUSER_MOVABLE'],
  [GFP_USER, 'GFP_USER'],
  [GFP_KERNEL_ACCOUNT, 'GFP_KERNEL_ACCOUNT'],
  [GFP_KERNEL, 'GFP_KERNEL'],
  [GFP_NOIO, 'GFP_NOIO'],
  [GFP_ATOMIC, 'GFP_ATOMIC'],
  [GFP_NOWAIT, 'GFP_NOWAIT'],
  [__GFP_DMA32, '__GFP_DMA32'],
  [__GFP_MOVABLE, '__GFP_MOVABLE'],
  [__GFP_RECLAIMABLE, '__GFP_RECLAIMABLE'],
  [__GFP_HIGH, '__GFP_HIGH'],
  [__GFP_IO, '__GFP_IO'],
  [__GFP_FS, '__GFP_FS'],
  [__GFP_ZERO, '__GFP_ZERO'],
  [__GFP_DIRECT_RECLAIM, '__GFP_DIRECT_RECLAIM'],
  [__GFP_KSWAPD_RECLAIM, '__GFP_KSWAPD_RECLAIM'],
  [__GFP_NOWARN, '__GFP_NOWARN'],
  [__GFP_RETRY_MAYFAIL, '__GFP_RETRY_MAYFAIL'],
  [__GFP_NOFAIL, '__GFP_NOFAIL'],
  [__GFP_NORETRY, '__GFP_NORETRY'],
  [__GFP_COMP, '__GFP_COMP'],
  [__GFP_HARDWALL, '__GFP_HARDWALL'],
  [__GFP_ACCOUNT, '__GFP_ACCOUNT'],
];

/** %pGg: the flag names of a GFP mask joined with '|'. */
export function format_gfp(gfp: GfpFlags): string {
  const names: string[] = [];
  let left = gfp;
  for (const [bits, name] of GFP_NAMES) {
    if (bits !== 0 && (left & bits) === bits) {
      names.push(name);
      left &= ~bits;
    }
  }
  if (left !== 0) names.push(`0x${left.toString(16)}`);
  return names.length ? names.join('|') : 'none';
}

// ---- task selection ----

/** oom_unkillable_task: the global init and kernel threads are never chosen. */
function oom_unkillable_task(p: TaskStruct): boolean {
  return is_global_init(p) || (p.flags & PF_KTHREAD) !== 0;
}

/** find_lock_task_mm: a thread of p's group that still has an mm. */
function find_lock_task_mm(p: TaskStruct): TaskStruct | null {
  for (const t of p.group_leader.thread_group) if (t.mm !== null) return t;
  return p.mm !== null ? p : null;
}

/** tsk_is_oom_victim. */
export function tsk_is_oom_victim(t: TaskStruct): boolean {
  return t.signal.oom_mm !== null;
}

/** The victim's mm is done with: reaped (MMF_OOM_SKIP) or torn down by exit_mmap (which sets it in Linux). */
function oom_mm_skip(mm: MmStruct): boolean {
  return (mm.flags & MMF_OOM_SKIP) !== 0 || mm.dead || mm.mm_users <= 0;
}

/** mm_pgtables_bytes / PAGE_SIZE. */
function pgtable_pages(mm: MmStruct): number {
  return Math.floor(mm.pgtables_bytes / PAGE_SIZE);
}

/**
 * oom_badness: the pages the task would free (rss + swap entries + page tables),
 * plus oom_score_adj thousandths of `totalpages`. null (LONG_MIN) for a task that may
 * not be killed: unkillable, no mm, OOM_SCORE_ADJ_MIN, or an mm already reaped.
 */
export function oom_badness(p: TaskStruct, totalpages: number): number | null {
  if (oom_unkillable_task(p)) return null;
  const t = find_lock_task_mm(p);
  if (t === null) return null;
  const mm = t.mm!;
  const adj = p.signal.oom_score_adj;
  if (adj === OOM_SCORE_ADJ_MIN || oom_mm_skip(mm)) return null;
  const points = get_mm_rss(mm) + get_mm_counter(mm, MM_SWAPENTS) + pgtable_pages(mm);
  return points + adj * Math.floor(totalpages / 1000);
}

/** totalram_pages() + total_swap_pages (constrained_alloc, CONSTRAINT_NONE). */
export function oom_totalpages(): number {
  return totalram_pages() + total_swap_pages();
}

/** /proc/<pid>/oom_score: badness scaled to 0..2000 (proc_oom_score); 0 for an unkillable task. */
export function proc_oom_score(p: TaskStruct): number {
  const total = oom_totalpages();
  const b = oom_badness(p, total);
  if (b === null) return 0;
  return Math.trunc(((1000 + Math.trunc((b * 1000) / total)) * 2) / 3);
}

/** Processes (thread-group leaders) in for_each_process order: creation order, as PIDs are handed out. */
function for_each_process(): TaskStruct[] {
  return tasks_by_pid().filter((t) => t.pid === t.tgid && t.exit_state !== EXIT_DEAD);
}

/** oom_evaluate_task over every process; `aborted` when a victim in flight is still freeing memory. */
function select_bad_process(oc: OomControl): void {
  for (const p of for_each_process()) {
    if (oom_unkillable_task(p)) continue;
    // A victim still freeing memory has the reserves; do not pick a second one.
    if (tsk_is_oom_victim(p)) {
      if (oom_mm_skip(p.signal.oom_mm!)) continue;
      oc.chosen = null;
      oc.aborted = true;
      return;
    }
    const points = oom_badness(p, oc.totalpages);
    if (points === null || (oc.chosen !== null && points < oc.chosen_points)) continue;
    oc.chosen = p;
    oc.chosen_points = points;
  }
}

// ---- the report ----

function dump_tasks(): void {
  pr_info('Tasks state (memory values in pages):');
  pr_info('[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name');
  for (const p of for_each_process()) {
    if (oom_unkillable_task(p)) continue;
    const t = find_lock_task_mm(p);
    if (t === null) continue;
    const mm = t.mm!;
    pr_info(
      `[${String(t.pid).padStart(7)}] ${String(t.cred.uid).padStart(5)} ${String(t.tgid).padStart(5)} ${String(mm.total_vm).padStart(8)} ` +
        `${String(get_mm_rss(mm)).padStart(8)} ${String(get_mm_counter(mm, MM_ANONPAGES)).padStart(8)} ${String(get_mm_counter(mm, MM_FILEPAGES)).padStart(8)} ` +
        `${String(get_mm_counter(mm, MM_SHMEMPAGES)).padStart(9)} ${String(mm.pgtables_bytes).padStart(8)} ${String(get_mm_counter(mm, MM_SWAPENTS)).padStart(8)}` +
        `         ${String(p.signal.oom_score_adj).padStart(5)} ${t.comm}`,
    );
  }
}

/** show_mem: the Mem-Info block of the node's counters, zones and free lists. */
function show_mem(): void {
  const pgdat = NODE_DATA();
  const lru = pgdat.lruvec;
  let pcp = 0;
  for (const z of pgdat.node_zones) pcp += z.pcp.count;
  pr_info('Mem-Info:');
  pr_info(
    `active_anon:${lru[LRU_ACTIVE_ANON]!.count} inactive_anon:${lru[LRU_INACTIVE_ANON]!.count} isolated_anon:${global_page_state('nr_isolated_anon')}` +
      ` active_file:0 inactive_file:0 isolated_file:${global_page_state('nr_isolated_file')}` +
      ` unevictable:${lru[LRU_UNEVICTABLE]!.count} dirty:${global_page_state('nr_dirty')} writeback:${global_page_state('nr_writeback')}` +
      ` mapped:${global_page_state('nr_mapped')} shmem:${global_page_state('nr_shmem')} pagetables:${global_page_state('nr_page_table_pages')}` +
      ` free:${nr_free_pages()} free_pcp:${pcp} free_cma:0`,
  );
  for (const z of pgdat.node_zones) {
    if (z.managed_pages === 0) continue;
    pr_info(
      `Node 0 ${z.name} free:${K(z.nr_free_pages)}kB min:${K(z.wmark_min)}kB low:${K(z.wmark_low)}kB high:${K(z.wmark_high)}kB` +
        ` present:${K(z.spanned_pages)}kB managed:${K(z.managed_pages)}kB free_pcp:${K(z.pcp.count)}kB`,
    );
  }
  for (const z of pgdat.node_zones) {
    if (z.managed_pages === 0) continue;
    let line = `Node 0 ${z.name}:`;
    let total = 0;
    for (let o = 0; o <= MAX_PAGE_ORDER; o++) {
      const n = z.free_area[o]!.count;
      line += ` ${n}*${K(1 << o)}kB`;
      total += n * K(1 << o);
    }
    pr_info(`${line} = ${total}kB`);
  }
  pr_info(`${global_page_state('nr_file_pages')} total pagecache pages`);
  pr_info(`${global_page_state('nr_swapcached')} pages in swap cache`);
  pr_info(`Free swap  = ${K(nr_swap_pages())}kB`);
  pr_info(`Total swap = ${K(total_swap_pages())}kB`);
  pr_info(`${pgdat.node_zones.reduce((n, z) => n + z.spanned_pages, 0)} pages RAM`);
  pr_info(`${pgdat.node_zones.reduce((n, z) => n + z.spanned_pages - z.managed_pages, 0)} pages reserved`);
}

function dump_header(oc: OomControl, victim: TaskStruct | null): void {
  const cur = current();
  pr_warn(`${cur.comm} invoked oom-killer: gfp_mask=0x${oc.gfp_mask.toString(16)}(${format_gfp(oc.gfp_mask)}), order=${oc.order}, oom_score_adj=${cur.signal.oom_score_adj}`);
  pr_warn(`CPU: ${cur.cpu} PID: ${cur.pid} Comm: ${cur.comm}`);
  show_mem();
  if (sysctl_oom_dump_tasks) dump_tasks();
  if (victim !== null) pr_info(`oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),global_oom,task=${victim.comm},pid=${victim.pid},uid=${victim.cred.uid}`);
}

/** The node whose OOM killer panicked: nothing more is killed or reported on it. */
let panicked_node: unknown;

/** panic(): the machine stops (power-off with 255, as init/main's panic); this code does not go on. */
function panic(msg: string): void {
  panicked_node = NODE_DATA();
  printk_level(KERN_EMERG, `Kernel panic - not syncing: ${msg}`);
  kernel_power_off(255);
}

// ---- killing and reaping ----

/**
 * mark_oom_victim: the task may use the reserves (ALLOC_OOM); its signal struct remembers
 * the mm. No mmgrab: the struct stays readable after exit_mmap (mm.dead), and nothing
 * would drop the reference when the signal struct goes.
 */
function mark_oom_victim(t: TaskStruct): void {
  if (t.signal.oom_mm === null && t.mm !== null) t.signal.oom_mm = t.mm;
}

/** __task_will_free_mem: the group is exiting (SIGKILL pending counts: it dies on its way out). */
function __task_will_free_mem(t: TaskStruct): boolean {
  if (t.signal.group_exit) return true;
  if (t.group_leader.thread_group.length <= 1 && (t.flags & PF_EXITING || fatal_signal_pending(t))) return true;
  return false;
}

/** task_will_free_mem: it and every process sharing its mm are on their way out. */
function task_will_free_mem(t: TaskStruct): boolean {
  const mm = t.mm;
  if (mm === null || !__task_will_free_mem(t) || oom_mm_skip(mm)) return false;
  for (const p of for_each_process()) {
    if (p.group_leader === t.group_leader) continue;
    if (find_lock_task_mm(p)?.mm !== mm) continue;
    if (!__task_will_free_mem(p)) return false;
  }
  return true;
}

/**
 * __oom_reap_task_mm: unmaps every private or anonymous VMA of the victim (pinned
 * pages lose the mapping but stay allocated until unpinned; swap slots are freed).
 */
function __oom_reap_task_mm(mm: MmStruct): void {
  for (let i = mm.mmap.length - 1; i >= 0; i--) {
    const vma = mm.mmap[i]!;
    if (vma.vm_flags & VM_PFNMAP) continue;
    if (vma.vm_ops === null || !(vma.vm_flags & VM_SHARED)) zap_page_range(vma, vma.vm_start, vma.vm_end, MMU_NOTIFY_UNMAP);
  }
}

/** oom_reap_task: reap once, then hide the mm from the OOM killer (MMF_OOM_SKIP). */
function oom_reap_task(t: TaskStruct): void {
  const mm = t.signal.oom_mm;
  if (mm === null || oom_mm_skip(mm)) return;
  __oom_reap_task_mm(mm);
  pr_info(
    `oom_reaper: reaped process ${t.pid} (${t.comm}), now anon-rss:${K(get_mm_counter(mm, MM_ANONPAGES))}kB, file-rss:${K(get_mm_counter(mm, MM_FILEPAGES))}kB, shmem-rss:${K(get_mm_counter(mm, MM_SHMEMPAGES))}kB`,
  );
  mm.flags |= MMF_OOM_SKIP;
}

/** No fault can be in progress on `mm` in this context, so its pages may be unmapped now. */
function can_reap_now(mm: MmStruct): boolean {
  const cur = current();
  if (cur.flags & PF_KTHREAD || cur.mm === mm || cur.active_mm === mm) return false;
  let users = 0;
  for (const t of tasks_by_pid()) if (t.mm === mm) users++;
  return mm.mm_users <= users;
}

const oom_reaper_wait = new WaitQueueHead('oom_reaper_wait');
let oom_reaper_list: TaskStruct[] = [];
let oom_reaper_started: unknown;
/** The node oom_init ran for (mem_init of a new node unwires the allocator side). */
let oom_node: unknown;

function* oom_reaper(): Generator<unknown, number, unknown> {
  for (;;) {
    yield* wait_event(oom_reaper_wait, () => oom_reaper_list.length > 0);
    const t = oom_reaper_list.shift()!;
    oom_reap_task(t);
  }
}

/** queue_oom_reaper: reap now when that is safe here, else hand the victim to the oom_reaper thread. */
function queue_oom_reaper(t: TaskStruct): void {
  const mm = t.signal.oom_mm;
  if (mm === null || oom_mm_skip(mm)) return;
  if (can_reap_now(mm)) {
    oom_reap_task(t);
    return;
  }
  if (!oom_reaper_list.includes(t)) oom_reaper_list.push(t);
  if (oom_reaper_started !== NODE_DATA()) {
    oom_reaper_started = NODE_DATA();
    kthread_run(oom_reaper, 'oom_reaper');
  }
  wake_up(oom_reaper_wait);
}

function __oom_kill_process(victim: TaskStruct, message: string): void {
  const t = find_lock_task_mm(victim);
  if (t === null) {
    pr_info(`${message}: OOM victim ${victim.pid} (${victim.comm}) is already exiting. Skip killing the task`);
    return;
  }
  const mm = t.mm!;
  count_vm_event(VM.oom_kill);
  send_sig(SIGKILL, victim, true, true);
  mark_oom_victim(t);
  pr_err(
    `${message}: Killed process ${victim.pid} (${victim.comm}) total-vm:${K(mm.total_vm)}kB, anon-rss:${K(get_mm_counter(mm, MM_ANONPAGES))}kB, ` +
      `file-rss:${K(get_mm_counter(mm, MM_FILEPAGES))}kB, shmem-rss:${K(get_mm_counter(mm, MM_SHMEMPAGES))}kB, UID:${victim.cred.uid} ` +
      `pgtables:${mm.pgtables_bytes >> 10}kB oom_score_adj:${victim.signal.oom_score_adj}`,
  );
  // Every other process using the mm dies too, or the memory would not come back.
  let can_reap = true;
  for (const p of for_each_process()) {
    if (p.group_leader === victim.group_leader || find_lock_task_mm(p)?.mm !== mm) continue;
    if (is_global_init(p)) {
      can_reap = false;
      mm.flags |= MMF_OOM_SKIP;
      pr_info(`oom killer ${victim.pid} (${victim.comm}) has mm pinned by ${p.pid} (${p.comm})`);
      continue;
    }
    if (p.flags & PF_KTHREAD) continue;
    send_sig(SIGKILL, p, true, true);
  }
  if (can_reap) queue_oom_reaper(t);
}

function oom_kill_process(oc: OomControl, message: string): void {
  const victim = oc.chosen!;
  const t = find_lock_task_mm(victim);
  // Already dying: no report, just let it use the reserves and reap it.
  if (t !== null && task_will_free_mem(t)) {
    mark_oom_victim(t);
    queue_oom_reaper(t);
    return;
  }
  dump_header(oc, victim);
  __oom_kill_process(victim, message);
}

/** check_panic_on_oom: true when it panicked. */
function check_panic_on_oom(oc: OomControl): boolean {
  if (sysctl_panic_on_oom === 0) return false;
  dump_header(oc, null);
  panic(`Out of memory: ${sysctl_panic_on_oom === 2 ? 'compulsory' : 'system-wide'} panic_on_oom is enabled`);
  return true;
}

/**
 * out_of_memory: kills the process with the highest badness. Returns true when
 * memory may come back (a victim was killed, is already dying, or is still exiting).
 */
export function out_of_memory(gfp: GfpFlags, order: number): boolean {
  if (panicked_node === NODE_DATA()) return false;
  const cur = current();
  // The allocating task is already dying: let it have the reserves and go.
  if (task_will_free_mem(cur)) {
    mark_oom_victim(cur);
    queue_oom_reaper(cur);
    return true;
  }
  // The OOM killer does not compensate for IO-less reclaim.
  if (!(gfp & __GFP_FS) && order >= 0) return true;
  const oc: OomControl = { gfp_mask: gfp, order, totalpages: Math.max(1, oom_totalpages()), chosen: null, chosen_points: 0, aborted: false };
  if (check_panic_on_oom(oc)) return false;
  if (
    sysctl_oom_kill_allocating_task &&
    cur.mm !== null &&
    !oom_unkillable_task(cur) &&
    cur.signal.oom_score_adj !== OOM_SCORE_ADJ_MIN
  ) {
    oc.chosen = cur;
    oom_kill_process(oc, 'Out of memory (oom_kill_allocating_task)');
    return true;
  }
  select_bad_process(oc);
  if (oc.aborted) return true;
  if (oc.chosen === null) {
    dump_header(oc, null);
    pr_warn('Out of memory and no killable processes...');
    panic('System is deadlocked on memory');
    return false;
  }
  oom_kill_process(oc, 'Out of memory');
  return true;
}

/**
 * oom_reserves_allowed for the allocator: the current task is a victim, or a victim it
 * must wait for is still exiting (see the header: this context cannot sleep for it).
 */
function oom_reserves_allowed(): boolean {
  if (tsk_is_oom_victim(current())) return true;
  for (const p of for_each_process()) if (p.signal.oom_mm !== null && !p.signal.oom_mm.dead && p.exit_state === 0) return true;
  return false;
}

/**
 * pagefault_out_of_memory: a user fault came back VM_FAULT_OOM. A dying task just
 * returns (SIGKILL is delivered on the way out); otherwise the faulting task, which
 * cannot wait here for memory to come back, is killed (see the header). Returns the
 * signal the fault delivers: SIGKILL, or 0 when it is already pending.
 */
export function pagefault_out_of_memory(): number {
  if (oom_node !== NODE_DATA()) return SIGSEGV; // a node brought up without the OOM killer (mm alone)
  const cur = current();
  if (fatal_signal_pending(cur)) return 0;
  if (panicked_node === NODE_DATA()) {
    // The machine is stopping: end the faulting task quietly rather than retry the fault.
    send_sig(SIGKILL, cur, true, true);
    return 0;
  }
  pr_err(`Out of memory: ${cur.comm}[${cur.pid}] cannot wait in a page fault for memory to come back; killing it`);
  count_vm_event(VM.oom_kill);
  send_sig(SIGKILL, cur, true, true);
  mark_oom_victim(cur);
  return 0;
}

// ---- /proc ----

/** /proc/<pid>/oom_score_adj write (__set_oom_adj): -1000..1000; below oom_score_adj_min needs CAP_SYS_RESOURCE. */
export function set_oom_score_adj(task: TaskStruct, text: string): number {
  const s = text.trim();
  if (!/^[+-]?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.test(s)) return -EINVAL;
  const neg = s.startsWith('-');
  const body = s.replace(/^[+-]/, '');
  const v = (neg ? -1 : 1) * (/^0[xX]/.test(body) ? parseInt(body.slice(2), 16) : /^0[0-7]+$/.test(body) ? parseInt(body, 8) : parseInt(body, 10));
  if (!Number.isFinite(v) || v < OOM_SCORE_ADJ_MIN || v > OOM_SCORE_ADJ_MAX) return -EINVAL;
  const writer = current();
  if (v < task.signal.oom_score_adj_min && !has_capability(writer, CAP_SYS_RESOURCE)) return -EACCES;
  task.signal.oom_score_adj = v;
  if (has_capability(writer, CAP_SYS_RESOURCE)) task.signal.oom_score_adj_min = v;
  // Other processes sharing the mm (not vfork children) follow it.
  const mm = find_lock_task_mm(task)?.mm ?? null;
  if (mm !== null) {
    for (const p of for_each_process()) {
      if (p.group_leader === task.group_leader || p.flags & PF_KTHREAD || is_global_init(p)) continue;
      if (find_lock_task_mm(p)?.mm !== mm) continue;
      p.signal.oom_score_adj = v;
      if (has_capability(writer, CAP_SYS_RESOURCE)) p.signal.oom_score_adj_min = v;
    }
  }
  return 0;
}

/** Sysctl writers, range-checked as vm_table's proc_dointvec_minmax does. */
export function set_panic_on_oom(v: number): number {
  if (v < 0 || v > 2) return -EINVAL;
  sysctl_panic_on_oom = v;
  return 0;
}
export function set_oom_kill_allocating_task(v: number): number {
  sysctl_oom_kill_allocating_task = v;
  return 0;
}
export function set_oom_dump_tasks(v: number): number {
  sysctl_oom_dump_tasks = v;
  return 0;
}

/** /proc/<pid>/oom_score (0444) and oom_score_adj (0644, owned by the task's euid). */
function proc_oom_entries(t: TaskStruct): KernfsNode {
  return kn_file('oom_score', () => `${proc_oom_score(t)}\n`);
}
function proc_oom_adj_entry(t: TaskStruct): KernfsNode {
  const n = kn_file('oom_score_adj', () => `${t.signal.oom_score_adj}\n`, (text) => set_oom_score_adj(t, text), 0o644);
  n.uid = t.cred.euid;
  n.gid = t.cred.egid;
  return n;
}

/** oom_init: wires the OOM killer into the allocator's slow path and the fault handler (after tasks exist). */
export function oom_init(): void {
  oom_node = NODE_DATA();
  sysctl_panic_on_oom = 0;
  sysctl_oom_kill_allocating_task = 0;
  sysctl_oom_dump_tasks = 1;
  oom_reaper_list = [];
  set_oom_ops({
    out_of_memory,
    oom_reserves_allowed,
    current_is_oom_victim: () => tsk_is_oom_victim(current()),
  });
  set_pagefault_out_of_memory(pagefault_out_of_memory);
  proc_pid_entry_register(proc_oom_entries);
  proc_pid_entry_register(proc_oom_adj_entry);
  register_sysctl_int('vm/panic_on_oom', () => sysctl_panic_on_oom, set_panic_on_oom);
  register_sysctl_int('vm/oom_kill_allocating_task', () => sysctl_oom_kill_allocating_task, set_oom_kill_allocating_task);
  register_sysctl_int('vm/oom_dump_tasks', () => sysctl_oom_dump_tasks, set_oom_dump_tasks);
}
