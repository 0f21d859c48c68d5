// The cpio "newc" format (SVR4 without CRC) as the Linux initramfs uses it
// (Documentation/driver-api/early-userspace/buffer-format.rst, cpio(5)):
// a 110-byte ASCII header "070701" + 13 eight-digit hex fields, the NUL-terminated
// name padded so header+name is a multiple of 4, the data padded to 4, and a final
// entry named "TRAILER!!!".

export const NEWC_MAGIC = '070701';
export const NEWC_HEADER_SIZE = 110;
export const TRAILER = 'TRAILER!!!';

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;

export interface CpioEntry {
  /** Path inside the archive, without a leading "/" (e.g. "bin/sh"). */
  readonly name: string;
  /** st_mode: file type and permission bits. */
  readonly mode: number;
  readonly uid?: number;
  readonly gid?: number;
  /** Link count (default 2 for directories, 1 otherwise). */
  readonly nlink?: number;
  /** Modification time in seconds (default 0: reproducible archives). */
  readonly mtime?: number;
  /** File content, or the link target of a symlink. */
  readonly data?: Uint8Array;
  readonly rdevmajor?: number;
  readonly rdevminor?: number;
}

/** A fully populated entry as the reader returns it. */
export interface CpioRecord extends Required<CpioEntry> {
  readonly ino: number;
  readonly devmajor: number;
  readonly devminor: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

const pad4 = (n: number): number => (n + 3) & ~3;

function hex8(n: number, what: string, name: string): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`cpio: ${name}: ${what} ${n} does not fit 8 hex digits`);
  return n.toString(16).padStart(8, '0');
}

/**
 * Writes a newc archive. Inode numbers are assigned in entry order from 1 (the
 * trailer gets 0), mtime defaults to 0: the same entries give the same bytes.
 */
export function writeCpio(entries: readonly CpioEntry[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const push = (b: Uint8Array): void => {
    chunks.push(b);
    total += b.length;
  };
  const emit = (e: CpioEntry, ino: number): void => {
    const name = enc.encode(e.name);
    if (e.name.length === 0 || name.includes(0)) throw new Error(`cpio: bad entry name ${JSON.stringify(e.name)}`);
    const data = e.data ?? new Uint8Array(0);
    const isDir = (e.mode & S_IFMT) === S_IFDIR;
    const fields = [
      ino,
      e.mode,
      e.uid ?? 0,
      e.gid ?? 0,
      e.nlink ?? (isDir ? 2 : 1),
      e.mtime ?? 0,
      data.length,
      0, // devmajor
      0, // devminor
      e.rdevmajor ?? 0,
      e.rdevminor ?? 0,
      name.length + 1,
      0, // check (newc: always 0)
    ];
    const what = ['ino', 'mode', 'uid', 'gid', 'nlink', 'mtime', 'filesize', 'devmajor', 'devminor', 'rdevmajor', 'rdevminor', 'namesize', 'check'];
    const header = NEWC_MAGIC + fields.map((v, i) => hex8(v, what[i]!, e.name)).join('');
    const headLen = pad4(NEWC_HEADER_SIZE + name.length + 1);
    const head = new Uint8Array(headLen);
    head.set(enc.encode(header), 0);
    head.set(name, NEWC_HEADER_SIZE);
    push(head);
    if (data.length > 0) {
      const body = new Uint8Array(pad4(data.length));
      body.set(data);
      push(body);
    }
  };
  entries.forEach((e, i) => emit(e, i + 1));
  emit({ name: TRAILER, mode: 0, nlink: 1 }, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** Reads a newc archive (stops at TRAILER!!!). Throws with the offset on malformed input. */
export function readCpio(buf: Uint8Array): CpioRecord[] {
  const out: CpioRecord[] = [];
  let p = 0;
  for (;;) {
    if (p + NEWC_HEADER_SIZE > buf.length) throw new Error(`cpio: truncated header at offset ${p} (no ${TRAILER})`);
    const head = dec.decode(buf.subarray(p, p + NEWC_HEADER_SIZE));
    if (!head.startsWith(NEWC_MAGIC)) throw new Error(`cpio: bad magic ${JSON.stringify(head.slice(0, 6))} at offset ${p} (expected ${NEWC_MAGIC})`);
    const f: number[] = [];
    for (let i = 0; i < 13; i++) {
      const s = head.slice(6 + i * 8, 14 + i * 8);
      if (!/^[0-9a-fA-F]{8}$/.test(s)) throw new Error(`cpio: bad header field ${i} "${s}" at offset ${p}`);
      f.push(parseInt(s, 16));
    }
    const [ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize] = f as [number, number, number, number, number, number, number, number, number, number, number, number];
    const nameStart = p + NEWC_HEADER_SIZE;
    if (namesize < 1 || nameStart + namesize > buf.length) throw new Error(`cpio: truncated name at offset ${p}`);
    const name = dec.decode(buf.subarray(nameStart, nameStart + namesize - 1));
    const dataStart = pad4(nameStart + namesize);
    if (dataStart + filesize > buf.length) throw new Error(`cpio: truncated data of ${name} at offset ${dataStart}`);
    if (name === TRAILER) return out;
    out.push({ name, mode, uid, gid, nlink, mtime, ino, devmajor, devminor, rdevmajor, rdevminor, data: buf.slice(dataStart, dataStart + filesize) });
    p = pad4(dataStart + filesize);
  }
}
