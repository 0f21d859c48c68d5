// The ioctl command encoding (include/uapi/asm-generic/ioctl.h): nr [7:0], type [15:8],
// size [29:16], dir [31:30].

export const _IOC_NRBITS = 8;
export const _IOC_TYPEBITS = 8;
export const _IOC_SIZEBITS = 14;
export const _IOC_DIRBITS = 2;
export const _IOC_NRSHIFT = 0;
export const _IOC_TYPESHIFT = 8;
export const _IOC_SIZESHIFT = 16;
export const _IOC_DIRSHIFT = 30;
export const _IOC_NONE = 0;
export const _IOC_WRITE = 1;
export const _IOC_READ = 2;

export function _IOC(dir: number, type: number | string, nr: number, size: number): number {
  const t = typeof type === 'string' ? type.charCodeAt(0) : type;
  return ((dir << _IOC_DIRSHIFT) | (t << _IOC_TYPESHIFT) | (nr << _IOC_NRSHIFT) | (size << _IOC_SIZESHIFT)) >>> 0;
}
export const _IO = (type: number | string, nr: number): number => _IOC(_IOC_NONE, type, nr, 0);
export const _IOR = (type: number | string, nr: number, size: number): number => _IOC(_IOC_READ, type, nr, size);
export const _IOW = (type: number | string, nr: number, size: number): number => _IOC(_IOC_WRITE, type, nr, size);
export const _IOWR = (type: number | string, nr: number, size: number): number => _IOC(_IOC_READ | _IOC_WRITE, type, nr, size);

export const _IOC_DIR = (cmd: number): number => (cmd >>> _IOC_DIRSHIFT) & 0x3;
export const _IOC_TYPE = (cmd: number): number => (cmd >>> _IOC_TYPESHIFT) & 0xff;
export const _IOC_NR = (cmd: number): number => (cmd >>> _IOC_NRSHIFT) & 0xff;
export const _IOC_SIZE = (cmd: number): number => (cmd >>> _IOC_SIZESHIFT) & 0x3fff;

/** Human-readable decode, e.g. "_IOW('W', 2, 16)". */
export function ioctl_describe(cmd: number): string {
  const dir = _IOC_DIR(cmd);
  const name = dir === 0 ? '_IO' : dir === 1 ? '_IOW' : dir === 2 ? '_IOR' : '_IOWR';
  const t = _IOC_TYPE(cmd);
  const type = t >= 0x20 && t < 0x7f ? `'${String.fromCharCode(t)}'` : `0x${t.toString(16)}`;
  return dir === 0 ? `${name}(${type}, ${_IOC_NR(cmd)})` : `${name}(${type}, ${_IOC_NR(cmd)}, ${_IOC_SIZE(cmd)})`;
}
