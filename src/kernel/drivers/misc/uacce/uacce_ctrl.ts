// /dev/uacce_ctrl: long-term pinning of user memory for SVA users that want no I/O page
// faults on their buffers (the out-of-tree uacce_ctrl misc device of the LKML RFC
// "uacce: Add uacce_ctrl misc device", 2021, with the productized 1 GiB limit).
//
//   UACCE_CMD_PIN    _IOW('W', 2, struct uacce_pin_address { u64 addr; u64 size; })
//   UACCE_CMD_UNPIN  _IOW('W', 3, struct uacce_pin_address)
//
// PIN pins every page of [addr & PAGE_MASK, last page of addr + size) with
// FOLL_WRITE | FOLL_FORCE | FOLL_LONGTERM (pages in ZONE_MOVABLE are migrated out first;
// pinned pages are then never migrated, compacted or swapped) and records them in the
// file's table under the first page index. UNPIN finds the entry by its first page:
// none -ENODEV, a different page count -EINVAL. Closing the file unpins everything.
// Like pin_user_pages itself, nothing is charged to mm->pinned_vm (VmPin) or checked
// against RLIMIT_MEMLOCK. Errors: -EFAULT unreadable argument or unmapped range,
// -EINVAL empty or over 1 GiB range, other commands -EINVAL.

import { EFAULT, EINVAL, ENODEV } from '../../../lib/errno.js';
import { copy_from_user } from '../../../lib/uaccess.js';
import { MISC_DYNAMIC_MINOR, misc_register, type MiscDevice } from '../../../fs/char_dev.js';
import type { File, Inode, KGen } from '../../../fs/types.js';
import { FOLL_FORCE, FOLL_LONGTERM, FOLL_WRITE, pin_user_pages, unpin_user_pages } from '../../../mm/gup.js';
import { device_initcall } from '../../../init/initcall.js';
import { UACCE_CMD_PIN, UACCE_CMD_UNPIN, UACCE_PIN_ADDRESS_SIZE } from './uapi.js';

const PAGE_SHIFT = 12;
const PAGE_SIZE = 1 << PAGE_SHIFT;
/** UACCE_MAX_PIN_PAGE: SZ_1G / PAGE_SIZE. */
export const UACCE_MAX_PIN_PAGE = (1 << 30) / PAGE_SIZE;

/** struct pin_pages: one pinned range. */
interface PinPages {
  readonly first: number;
  readonly nr_pages: number;
  readonly pages: number[];
}

/** struct uacce_pin_container: the per-file table (an xarray keyed by first page index). */
class UacceCtrlFile {
  readonly array = new Map<number, PinPages>();
  /**
   * Entries a second PIN at the same first page replaced. The RFC's xa_store overwrites
   * silently and loses them (their pins would never be dropped); they are kept here so
   * that release still unpins them.
   */
  readonly replaced: PinPages[] = [];
}

/** The page range of a uacce_pin_address, or -EINVAL. */
function pin_range(addr: number, size: number): { first: number; nr_pages: number } | number {
  if (size === 0 || addr + size > Number.MAX_SAFE_INTEGER) return -EINVAL;
  const first = Math.floor(addr / PAGE_SIZE);
  const last = Math.floor((addr + size - 1) / PAGE_SIZE);
  const nr_pages = last - first + 1;
  if (nr_pages > UACCE_MAX_PIN_PAGE) return -EINVAL;
  return { first, nr_pages };
}

function read_pin_address(arg: number): { addr: number; size: number } | number {
  const b = new Uint8Array(UACCE_PIN_ADDRESS_SIZE);
  if (copy_from_user(b, arg, UACCE_PIN_ADDRESS_SIZE) !== 0) return -EFAULT;
  const dv = new DataView(b.buffer);
  const hiA = dv.getUint32(4, true);
  const hiS = dv.getUint32(12, true);
  // Addresses and sizes past 2^53 cannot be user memory here (TASK_SIZE is 2^48).
  if (hiA >= 1 << 21 || hiS >= 1 << 21) return -EINVAL;
  return { addr: hiA * 2 ** 32 + dv.getUint32(0, true), size: hiS * 2 ** 32 + dv.getUint32(8, true) };
}

function uacce_pin_page(f: UacceCtrlFile, addr: number, size: number): number {
  const range = pin_range(addr, size);
  if (typeof range === 'number') return range;
  const pages: number[] = [];
  const r = pin_user_pages(range.first * PAGE_SIZE, range.nr_pages, FOLL_FORCE | FOLL_WRITE | FOLL_LONGTERM, pages);
  if (r !== range.nr_pages) {
    unpin_user_pages(pages, pages.length);
    return r < 0 ? r : -EFAULT;
  }
  const old = f.array.get(range.first);
  if (old !== undefined) f.replaced.push(old);
  f.array.set(range.first, { first: range.first, nr_pages: range.nr_pages, pages });
  return 0;
}

function uacce_unpin_page(f: UacceCtrlFile, addr: number, size: number): number {
  const range = pin_range(addr, size);
  if (typeof range === 'number') return range;
  const p = f.array.get(range.first);
  if (p === undefined) return -ENODEV;
  if (p.nr_pages !== range.nr_pages) return -EINVAL;
  f.array.delete(range.first);
  unpin_user_pages(p.pages, p.nr_pages);
  return 0;
}

function* uacce_ctrl_open(_inode: Inode, file: File): KGen<number> {
  file.private_data = new UacceCtrlFile();
  return 0;
}

function* uacce_ctrl_release(_inode: Inode, file: File): KGen<void> {
  const f = file.private_data;
  if (!(f instanceof UacceCtrlFile)) return;
  for (const p of [...f.array.values(), ...f.replaced]) unpin_user_pages(p.pages, p.nr_pages);
  f.array.clear();
  f.replaced.length = 0;
}

function* uacce_ctrl_unl_ioctl(file: File, cmd: number, arg: number): KGen<number> {
  const f = file.private_data;
  if (!(f instanceof UacceCtrlFile)) return -EINVAL;
  const c = cmd >>> 0;
  if (c !== UACCE_CMD_PIN >>> 0 && c !== UACCE_CMD_UNPIN >>> 0) return -EINVAL;
  const a = read_pin_address(arg);
  if (typeof a === 'number') return a;
  return c === UACCE_CMD_PIN >>> 0 ? uacce_pin_page(f, a.addr, a.size) : uacce_unpin_page(f, a.addr, a.size);
}

const uacceCtrlMisc: MiscDevice = {
  minor: MISC_DYNAMIC_MINOR,
  name: 'uacce_ctrl',
  mode: 0o666,
  fops: { owner: 'uacce_ctrl', open: uacce_ctrl_open, release: uacce_ctrl_release, unlocked_ioctl: uacce_ctrl_unl_ioctl },
};

/** module_misc_device: a fresh boot starts with an empty misc device list. */
function uacce_ctrl_init(): number {
  uacceCtrlMisc.minor = MISC_DYNAMIC_MINOR;
  return misc_register(uacceCtrlMisc);
}

device_initcall('uacce_ctrl', uacce_ctrl_init);
