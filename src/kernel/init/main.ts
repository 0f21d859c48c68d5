// Kernel start-up (init/main.c, arch/arm64/kernel/setup.c, smp.c in shape):
// start_kernel on the boot core parses the device tree from RAM, brings up memory,
// interrupts, timers and the console, builds the VFS with the initramfs, starts the
// secondary cores with PSCI CPU_ON and runs the scheduler; PID 1 (kernel_init) mounts
// /dev, /proc and /sys, opens the console and execs /init (rdinit=, init=).

import { ExceptionLevel, PSCI, type ArchCpu, type CoreYield, type ProgramRom } from '../../arch/index.js';
import { kernelVectors } from '../arch/entry.js';
import { set_handle_mm_fault } from '../arch/fault.js';
import { cpu_rq, cpu_startup_entry, current, sched_init, scheduler_ipi, set_mm_switcher, set_smp_cross_call, set_task_dead_hook } from '../sched/core.js';
import { CAP_IPC_LOCK, PF_KTHREAD, RLIMIT_MEMLOCK, TASK_DEAD, has_capability, rlimit, type TaskStruct } from '../sched/task.js';
import { hrtimers_init, ktime_get } from '../time/hrtimer.js';
import { irq_create_mapping, irq_init, request_percpu_irq, enable_percpu_irq, IRQ_HANDLED } from '../irq/irqdesc.js';
import { printk_init, printk_set_clock, pr_info, pr_err, pr_notice, pr_warn, set_console_loglevel, printk_level, KERN_EMERG } from '../lib/printk.js';
import { panic_init, oops_report } from '../kernel/panic.js';
import { reboot_init, kernel_power_off } from '../kernel/reboot.js';
import { pidmap_init } from '../kernel/pid.js';
import { create_init_task, set_mm_lifecycle, user_task_body } from '../kernel/fork.js';
import { workqueue_init } from '../kernel/workqueue.js';
import { random_init } from '../kernel/sys.js';
import { futex_init } from '../kernel/futex.js';
import { unflatten_device_tree } from '../of/fdt.js';
import { of_find_node_by_path, of_property_read_number, of_property_read_string, of_reg, of_root, of_device_is_available, of_property_read_u32, type DeviceNode } from '../of/base.js';
import { gic_cpu_init, gic_domain, gic_irq_of_mapping, gic_of_init, gic_reset, gic_send_sgi, IPI_RESCHEDULE } from '../drivers/irqchip/irq-gic-v3.js';
import { its_init } from '../drivers/irqchip/irq-gic-v3-its.js';
import { arch_timer_of_init, arch_timer_starting_cpu } from '../drivers/clocksource/arm_arch_timer.js';
import { pl011_init, pl011_reset, pl011_set_rx } from '../drivers/tty/serial/amba-pl011.js';
import { tty_init, tty_receive } from '../drivers/tty/tty_io.js';
import { chrdev_init, chr_dev_init } from '../fs/char_dev.js';
import { filesystems_init, register_filesystem, vfs_kern_mount, do_mount } from '../fs/super.js';
import { namespace_init, init_root } from '../fs/namei.js';
import { shmem_fill_super } from '../fs/shmem.js';
import { devtmpfs_init } from '../fs/devtmpfs.js';
import { proc_root_init } from '../fs/proc/root.js';
import { proc_generic_init, insert_iomem } from '../fs/proc/generic.js';
import { sysfs_init } from '../fs/sysfs/sysfs.js';
import { debugfs_init } from '../fs/debugfs.js';
import { kmsg_init } from '../kernel/printk_syscalls.js';
import { open_init, do_sys_openat } from '../fs/open.js';
import { vfs_mkdirat } from '../fs/namei_syscalls.js';
import { pipe_reset } from '../fs/pipe.js';
import { anon_inode_reset } from '../fs/eventpoll.js';
import { do_execve, set_program_rom } from '../fs/exec.js';
import { FilesStruct, FsStruct, O_RDWR } from '../fs/types.js';
import { populate_rootfs } from './initramfs.js';
import { mm_core_init } from '../mm/init.js';
import { cpu_setup_mmu, switch_mm } from '../mm/context.js';
import { handle_mm_fault } from '../mm/memory.js';
import { dup_mm, mmget, mmput } from '../mm/fork.js';
import { set_mm_creds_provider } from '../mm/util.js';
import { mm_late_init } from '../mm/late_init.js';
import { do_initcalls, initcalls_reset } from './initcall.js';
import { WaitQueueHead, wait_event, wake_up_all } from '../sched/wait.js';
import '../syscalls/all.js';
import '../drivers/pci/controller/pci-host-generic.js';
import '../drivers/iommu/arm-smmu-v3/module.js';
import '../drivers/misc/iommu-testdev.js';
import '../drivers/vfio/pci/vfio_pci.js';
import '../drivers/crypto/hisilicon/zip/zip-main.js';
import '../drivers/misc/uacce/uacce_ctrl.js';
import { driver_core_init } from '../drivers/base/core.js';

export interface KernelConfig {
  /**
   * Test hook: PID 1 runs this kernel-side function instead of exec'ing /init (after
   * the same set-up). Its return value is the power-off code.
   */
  initTask?: () => Generator<unknown, number | void, unknown>;
  /** Seed for getrandom and anything else the kernel randomises (default from /chosen/rng-seed or 1). */
  seed?: number;
}

/** Where the kernel image would be (reserved from the allocator, as the image's own pages are). */
const SCTLR_EL1_M = 1n;

interface BootParams {
  cmdline: string;
  rdinit: string | undefined;
  init: string | undefined;
  initArgs: string[];
  initEnv: string[];
  /** `movablecore=`: bytes, or a percentage of RAM. */
  movablecore?: CoreSize;
  /** `kernelcore=`: bytes, or a percentage of RAM. */
  kernelcore?: CoreSize;
  /**
   * `swapbytes=` (svasoc only; Linux has no in-kernel swap area): the size of the swap
   * area mm_core_init sets up, memparse syntax; 0 boots without swap. Default: a quarter
   * of RAM, at most 256 MiB.
   */
  swapBytes?: number;
}

/** A `kernelcore=` / `movablecore=` value: bytes, or a percentage of RAM (cmdline_parse_core). */
export type CoreSize = { bytes: number } | { percent: number };

let bootParams: BootParams = { cmdline: '', rdinit: undefined, init: undefined, initArgs: [], initEnv: [] };

/**
 * memparse (lib/cmdline.c): a number (0x hex, leading 0 octal, else decimal) with an
 * optional K/M/G/T/P/E suffix (either case); the whole string must be used, else undefined.
 */
export function memparse(s: string): number | undefined {
  const m = /^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)([kKmMgGtTpPeE]?)$/.exec(s);
  if (m === null) return undefined;
  const digits = m[1]!;
  let v = /^0[xX]/.test(digits) ? Number.parseInt(digits.slice(2), 16) : digits.length > 1 && digits[0] === '0' ? Number.parseInt(digits.slice(1), 8) : Number.parseInt(digits, 10);
  const shift = { '': 0, k: 10, m: 20, g: 30, t: 40, p: 50, e: 60 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't' | 'p' | 'e'];
  v *= 2 ** shift;
  return Number.isSafeInteger(v) ? v : undefined;
}

/** cmdline_parse_core: `N%` (0..100) or a memparse size; undefined (with a warning) when malformed. */
function parse_core(key: string, val: string): CoreSize | undefined {
  const pm = /^(\d+)%$/.exec(val);
  if (pm !== null) {
    const percent = Number(pm[1]);
    if (percent <= 100) return { percent };
  } else {
    const bytes = memparse(val);
    if (bytes !== undefined) return { bytes };
  }
  pr_warn(`${key}=${val}: not a size or a percentage, ignored`);
  return undefined;
}

/** parse_args for the parameters this kernel knows; the rest go to init as in Linux. */
export function parse_cmdline(cmdline: string): BootParams {
  const p: BootParams = { cmdline, rdinit: undefined, init: undefined, initArgs: [], initEnv: ['HOME=/', 'TERM=linux'] };
  const words = cmdline.split(/\s+/).filter((w) => w.length > 0);
  let afterDashes = false;
  for (const w of words) {
    if (afterDashes) {
      p.initArgs.push(w);
      continue;
    }
    if (w === '--') {
      afterDashes = true;
      continue;
    }
    const eq = w.indexOf('=');
    const key = eq < 0 ? w : w.slice(0, eq);
    const val = eq < 0 ? '' : w.slice(eq + 1);
    if (key === 'rdinit') p.rdinit = val;
    else if (key === 'init') p.init = val;
    else if (key === 'loglevel') set_console_loglevel(Number.parseInt(val, 10) || 7);
    else if (key === 'quiet') set_console_loglevel(4);
    else if (key === 'kernelcore' && val === 'mirror') pr_warn('kernelcore=mirror: this machine has no mirrored memory, ignored');
    else if (key === 'kernelcore') p.kernelcore = parse_core(key, val);
    else if (key === 'movablecore') p.movablecore = parse_core(key, val);
    else if (key === 'swapbytes') {
      p.swapBytes = memparse(val);
      if (p.swapBytes === undefined) pr_warn(`swapbytes=${val}: not a size, ignored`);
    } else if (['console', 'earlycon', 'root', 'rw', 'ro'].includes(key)) continue;
    else if (eq >= 0 && !key.includes('.')) p.initEnv.push(w);
    else if (eq < 0 && !key.includes('.')) p.initArgs.push(w);
  }
  return p;
}

function memory_ranges(): { base: number; size: number }[] {
  const out: { base: number; size: number }[] = [];
  const root = of_root();
  if (root === null) return out;
  for (const n of root.children) {
    if (of_property_read_string(n, 'device_type') !== 'memory' || !of_device_is_available(n)) continue;
    for (const r of of_reg(n)) if (r.end >= r.start) out.push({ base: r.start, size: r.end - r.start + 1 });
  }
  return out;
}

function cpu_nodes(): DeviceNode[] {
  const cpus = of_find_node_by_path('/cpus');
  if (cpus === undefined) return [];
  return cpus.children.filter((c) => of_property_read_string(c, 'device_type') === 'cpu' && of_device_is_available(c));
}

function size_suffix(bytes: number): string {
  return bytes >= 2 ** 30 && bytes % 2 ** 30 === 0 ? `${bytes / 2 ** 30} GiB` : `${Math.round(bytes / 2 ** 20)} MiB`;
}

function install_mm_glue(): void {
  set_handle_mm_fault(handle_mm_fault);
  set_mm_lifecycle({ dup_mm, mmget, mmput });
  set_mm_switcher((cpu: ArchCpu, _prev: TaskStruct, next: TaskStruct) => {
    if (next.mm !== null) switch_mm(cpu, next.mm);
  });
  set_mm_creds_provider(() => {
    const t = current();
    return { memlockLimit: rlimit(t, RLIMIT_MEMLOCK), capIpcLock: has_capability(t, CAP_IPC_LOCK) };
  });
}

let ipiIrq = 0;

function setup_ipi(): void {
  ipiIrq = irq_create_mapping(gic_domain(), IPI_RESCHEDULE);
  request_percpu_irq(
    ipiIrq,
    () => {
      scheduler_ipi();
      return IRQ_HANDLED;
    },
    'IPI',
    null,
  );
  enable_percpu_irq(ipiIrq);
  set_smp_cross_call((target) => gic_send_sgi(target, IPI_RESCHEDULE));
}

/** Woken by each secondary as it comes online; PID 1 waits for all (as smp_init's wait for cpu_online). */
let cpuOnlineWait = new WaitQueueHead('cpu_online');
let cpusExpected = 1;
let cpusOnline = 1;

function* secondary_start_kernel(cpu: ArchCpu): Generator<CoreYield, void, void> {
  cpu.setVectors(0xffff_8000_1001_0000, kernelVectors);
  cpu_setup_mmu(cpu);
  cpu.writeSysreg('SCTLR_EL1', cpu.readSysreg('SCTLR_EL1') | SCTLR_EL1_M);
  gic_cpu_init(cpu);
  if (ipiIrq > 0) enable_percpu_irq(ipiIrq);
  arch_timer_starting_cpu(cpu);
  pr_info(`CPU${cpu.id}: Booted secondary processor 0x${cpu.id.toString(16).padStart(10, '0')} [0x${cpu.readSysreg('MIDR_EL1').toString(16)}]`);
  cpu.writeSysreg('DAIF', 0);
  cpu_rq(cpu.id).online = true;
  cpusOnline++;
  wake_up_all(cpuOnlineWait);
  yield* cpu_startup_entry(cpu);
}

/** smp_init: PSCI CPU_ON for every other cpu node (their `reg` is the MPIDR). */
function smp_init(cpu: ArchCpu, nodes: DeviceNode[]): void {
  pr_info('smp: Bringing up secondary CPUs ...');
  let up = 1;
  for (const n of nodes) {
    const mpidr = of_property_read_u32(n, 'reg') ?? 0;
    if (mpidr === cpu.id) continue;
    const r = cpu.smc(PSCI.CPU_ON_64, mpidr, secondary_start_kernel);
    if (r === 0) up++;
    else pr_err(`psci: failed to boot CPU${mpidr} (${r})`);
  }
  cpusExpected = up;
}

function panic(msg: string): void {
  printk_level(KERN_EMERG, `Kernel panic - not syncing: ${msg}`);
  kernel_power_off(255);
}

/** kernel_init: PID 1's kernel half. */
function* kernel_init(config: KernelConfig): Generator<unknown, number | void, unknown> {
  const task = current();
  yield* wait_event(cpuOnlineWait, () => cpusOnline >= cpusExpected);
  pr_info(`smp: Brought up 1 node, ${cpusOnline} CPU${cpusOnline > 1 ? 's' : ''}`);
  mm_late_init();
  yield* do_initcalls();
  for (const [dir, type] of [
    ['/dev', 'devtmpfs'],
    ['/proc', 'proc'],
    ['/sys', 'sysfs'],
  ] as const) {
    vfs_mkdirat(-100, dir, 0o755);
    const r = do_mount(type, dir, type);
    if (r < 0) pr_err(`mount ${type} on ${dir} failed: ${r}`);
  }
  do_mount('debugfs', '/sys/kernel/debug', 'debugfs');
  pr_info('devtmpfs: mounted');
  for (let i = 0; i < 3; i++) {
    const fd = yield* do_sys_openat(-100, '/dev/console', O_RDWR, 0);
    if (fd < 0) {
      pr_err(`Warning: unable to open an initial console (${fd}).`);
      break;
    }
  }
  if (config.initTask) {
    const r = yield* config.initTask();
    const code = typeof r === 'number' ? r : 0;
    kernel_power_off(code);
    return code;
  }
  const candidates: string[] = [];
  if (bootParams.rdinit !== undefined) candidates.push(bootParams.rdinit);
  else candidates.push('/init');
  if (bootParams.init !== undefined) candidates.push(bootParams.init);
  candidates.push('/sbin/init', '/etc/init', '/bin/init', '/bin/sh');
  for (const path of candidates) {
    const r = yield* do_execve(path, [path, ...bootParams.initArgs], bootParams.initEnv);
    if (typeof r === 'number') {
      if (path === bootParams.rdinit || path === bootParams.init) pr_err(`Failed to execute ${path} (error ${r})`);
      continue;
    }
    pr_info(`Run ${path} as init process`);
    task.flags &= ~PF_KTHREAD;
    yield* user_task_body(r.entry, r.sp, false);
    return;
  }
  panic('No working init found.  Try passing init= option to kernel.');
  return 255;
}

/** start_kernel: the boot core's entry (x0 = DTB physical address). */
export function* start_kernel(cpu: ArchCpu, dtbPa: number, rom: ProgramRom, config: KernelConfig = {}): Generator<CoreYield, void, void> {
  printk_init();
  cpuOnlineWait = new WaitQueueHead('cpu_online');
  cpusExpected = 1;
  cpusOnline = 1;
  panic_init();
  reboot_init();
  pidmap_init();
  futex_init();
  initcalls_reset();
  gic_reset();
  pl011_reset();
  pipe_reset();
  anon_inode_reset();
  cpu.setVectors(0xffff_8000_1001_0000, kernelVectors);
  cpu.setEl(ExceptionLevel.EL1);
  pr_info(`Booting Linux on physical CPU 0x${cpu.id.toString(16).padStart(10, '0')} [0x${cpu.readSysreg('MIDR_EL1').toString(16)}]`);
  pr_info('Linux version 6.6.0-svasoc (svasoc@svasoc) (TypeScript) #1 SMP PREEMPT svasoc');
  const fdt = unflatten_device_tree(cpu, dtbPa);
  if (typeof fdt === 'string') {
    pr_err(`FDT: ${fdt}`);
    cpu.smc(PSCI.SYSTEM_OFF, 255);
    return;
  }
  const root = of_root()!;
  pr_info(`Machine model: ${of_property_read_string(root, 'model') ?? 'unknown'}`);
  const chosen = of_find_node_by_path('/chosen');
  const cmdline = chosen ? of_property_read_string(chosen, 'bootargs') ?? '' : '';
  bootParams = parse_cmdline(cmdline);
  const seed = config.seed ?? (chosen ? of_property_read_u32(chosen, 'rng-seed') : undefined) ?? 1;
  random_init(seed);

  // Memory: /memory nodes minus the DTB, the initramfs and /memreserve/ entries.
  const memory = memory_ranges();
  const reserved = [{ base: dtbPa, size: fdt.header.totalsize }, ...fdt.reserved.map((r) => ({ base: r.address, size: r.size }))];
  const initrdStart = chosen ? of_property_read_number(chosen, 'linux,initrd-start') : undefined;
  const initrdEnd = chosen ? of_property_read_number(chosen, 'linux,initrd-end') : undefined;
  if (initrdStart !== undefined && initrdEnd !== undefined && initrdEnd > initrdStart) reserved.push({ base: initrdStart, size: initrdEnd - initrdStart });
  for (const m of memory) pr_info(`Memory: node 0: [mem 0x${m.base.toString(16).padStart(16, '0')}-0x${(m.base + m.size - 1).toString(16).padStart(16, '0')}] ${size_suffix(m.size)}`);
  // find_zone_movable_pfns_for_nodes: a percentage is of all RAM.
  const ram = memory.reduce((n, r) => n + r.size, 0);
  const coreBytes = (c: CoreSize | undefined): number | undefined => (c === undefined ? undefined : 'bytes' in c ? c.bytes : Math.floor((ram * c.percent) / 100));
  mm_core_init({ memory, reserved, ramIsZero: true, kernelcore: coreBytes(bootParams.kernelcore), movablecore: coreBytes(bootParams.movablecore), swapBytes: bootParams.swapBytes });
  install_mm_glue();
  cpu_setup_mmu(cpu);
  cpu.writeSysreg('SCTLR_EL1', cpu.readSysreg('SCTLR_EL1') | SCTLR_EL1_M);
  pr_notice(`Kernel command line: ${cmdline}`);

  const cpus = cpu_nodes();
  const nrCpus = Math.max(1, cpus.length);
  sched_init(nrCpus);
  hrtimers_init(nrCpus);
  irq_init(nrCpus);
  set_task_dead_hook((task, err) => {
    if (err !== undefined) oops_report(err, `task ${task.comm}`);
    task.state = TASK_DEAD;
  });

  // Interrupts, timers, console.
  if (!gic_of_init(cpu)) pr_err('GICv3: no interrupt controller in the device tree');
  else setup_ipi();

  arch_timer_of_init(cpu, gic_irq_of_mapping);
  printk_set_clock(ktime_get);
  chrdev_init();
  if (pl011_init(cpu, gic_irq_of_mapping)) pl011_set_rx(tty_receive);

  // VFS: rootfs (tmpfs), devtmpfs, procfs, sysfs; the initramfs unpacked into "/".
  workqueue_init();
  open_init();
  filesystems_init();
  register_filesystem({ name: 'tmpfs', nodev: true, mount: () => shmem_fill_super() });
  register_filesystem({ name: 'rootfs', nodev: true, mount: () => shmem_fill_super() });
  devtmpfs_init();
  proc_root_init();
  proc_generic_init(cmdline);
  for (const n of of_root()!.children) for (const r of of_reg(n)) if (n.name !== 'memory' && n.name !== 'cpus') insert_iomem({ ...r, name: n.full_name.replace(/^[^@]*@/, '') + '.' + n.name });
  for (const m of memory) insert_iomem({ start: m.base, end: m.base + m.size - 1, name: 'System RAM' });
  sysfs_init();
  debugfs_init();
  driver_core_init();
  const rootMnt = vfs_kern_mount('rootfs', 'rootfs');
  if (typeof rootMnt === 'number') {
    panic('VFS: cannot create rootfs');
    return;
  }
  namespace_init(rootMnt);
  const idle = cpu_rq(cpu.id).idle;
  idle.fs = new FsStruct(init_root(), init_root());
  idle.files = new FilesStruct();
  chr_dev_init();
  kmsg_init();
  tty_init();
  if (initrdStart !== undefined && initrdEnd !== undefined) {
    pr_info(`Trying to unpack rootfs image as initramfs... [mem 0x${initrdStart.toString(16)}-0x${(initrdEnd - 1).toString(16)}]`);
    populate_rootfs(initrdStart, initrdEnd);
  }
  set_program_rom(rom);
  its_init(cpu, nrCpus);

  cpu.writeSysreg('DAIF', 0);
  const init = create_init_task(() => kernel_init(config));
  init.fs = new FsStruct(init_root(), init_root());
  init.files = new FilesStruct();
  smp_init(cpu, cpus);
  yield* cpu_startup_entry(cpu);
}

export function boot_params(): BootParams {
  return bootParams;
}
