// Flattened devicetree blob -> DeviceTree, with strict validation (DTSpec 5). Any
// blob, however broken, gives either a tree or an error value naming the first
// problem and its byte offset: the reader never throws on input.

import {
  FDT_BEGIN_NODE,
  FDT_END,
  FDT_END_NODE,
  FDT_HEADER_FIELDS,
  FDT_HEADER_SIZE,
  FDT_MAGIC,
  FDT_NOP,
  FDT_PROP,
  FDT_VERSION,
  type FdtHeader,
} from './dtb-format.js';
import { DeviceTree, FdtNode } from './tree.js';

export type DtbReadResult =
  | { readonly ok: true; readonly tree: DeviceTree; readonly header: FdtHeader }
  | { readonly ok: false; readonly error: string; readonly offset: number };

/** Deeper nesting than this is treated as corruption (real trees are < 10 deep). */
export const MAX_DTB_DEPTH = 64;

const utf8 = new TextDecoder('utf-8', { fatal: false });

class DtbError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

function fail(message: string, offset: number): never {
  throw new DtbError(message, offset);
}

export function readDtb(blob: Uint8Array): DtbReadResult {
  try {
    return parseBlob(blob);
  } catch (e) {
    if (e instanceof DtbError) return { ok: false, error: `dtb: ${e.message} (at byte 0x${e.offset.toString(16)})`, offset: e.offset };
    throw e;
  }
}

function parseBlob(blob: Uint8Array): { ok: true; tree: DeviceTree; header: FdtHeader } {
  if (blob.length < FDT_HEADER_SIZE) fail(`${blob.length} bytes is too short for an FDT header (${FDT_HEADER_SIZE})`, 0);
  const dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const fields: Record<string, number> = {};
  FDT_HEADER_FIELDS.forEach((name, i) => (fields[name] = dv.getUint32(i * 4)));
  const h = fields as FdtHeader;

  if (h.magic !== FDT_MAGIC) fail(`bad magic 0x${h.magic.toString(16)} (expected 0xd00dfeed)`, 0);
  if (h.version < 16) fail(`version ${h.version} is older than 16, not supported`, 20);
  if (h.last_comp_version > FDT_VERSION) fail(`last_comp_version ${h.last_comp_version} is newer than ${FDT_VERSION}`, 24);
  if (h.totalsize > blob.length) fail(`totalsize ${h.totalsize} exceeds the ${blob.length} bytes given`, 4);
  const headerSize = h.version >= 17 ? FDT_HEADER_SIZE : 36;
  if (h.totalsize < headerSize) fail(`totalsize ${h.totalsize} is smaller than the header`, 4);
  const total = h.totalsize;

  const inBlock = (off: number, size: number, what: string, field: number) => {
    if (off < headerSize || off > total || size > total - off) fail(`${what} [0x${off.toString(16)}+0x${size.toString(16)}] lies outside the blob`, field);
  };
  if (h.off_mem_rsvmap % 8 !== 0) fail(`off_mem_rsvmap 0x${h.off_mem_rsvmap.toString(16)} is not 8-byte aligned`, 16);
  if (h.off_dt_struct % 4 !== 0) fail(`off_dt_struct 0x${h.off_dt_struct.toString(16)} is not 4-byte aligned`, 8);
  const structSize = h.version >= 17 ? h.size_dt_struct : total - h.off_dt_struct;
  inBlock(h.off_dt_struct, structSize, 'structure block', 8);
  inBlock(h.off_dt_strings, h.size_dt_strings, 'strings block', 12);
  inBlock(h.off_mem_rsvmap, 0, 'memory reservation block', 16);

  const tree = new DeviceTree();
  tree.bootCpuId = h.boot_cpuid_phys;

  // DTSpec 5.3: (address, size) pairs up to a (0, 0) terminator
  for (let off = h.off_mem_rsvmap; ; off += 16) {
    if (off + 16 > total) fail('memory reservation block has no (0, 0) terminator', off);
    const address = dv.getBigUint64(off);
    const size = dv.getBigUint64(off + 8);
    if (address === 0n && size === 0n) break;
    tree.memReserve.push({ address, size });
  }

  const strStart = h.off_dt_strings;
  const strEnd = strStart + h.size_dt_strings;
  const nameAt = (nameoff: number, tokenOff: number): string => {
    if (nameoff >= h.size_dt_strings) fail(`property name offset ${nameoff} is beyond the strings block`, tokenOff);
    const s = strStart + nameoff;
    const nul = blob.indexOf(0, s);
    if (nul < 0 || nul >= strEnd) fail(`property name at strings offset ${nameoff} is not NUL-terminated`, tokenOff);
    if (nul === s) fail('property with an empty name', tokenOff);
    return utf8.decode(blob.subarray(s, nul));
  };

  const start = h.off_dt_struct;
  const end = start + structSize;
  const stack: FdtNode[] = [];
  let rootDone = false;
  let sawEnd = false;
  let off = start;
  const word = (at: number) => {
    if (at + 4 > end) fail('structure block ends in the middle of a token', at);
    return dv.getUint32(at);
  };
  while (!sawEnd) {
    const tokenOff = off;
    const token = word(off);
    off += 4;
    switch (token) {
      case FDT_BEGIN_NODE: {
        const nul = blob.indexOf(0, off);
        if (nul < 0 || nul >= end) fail('node name is not NUL-terminated', tokenOff);
        const name = utf8.decode(blob.subarray(off, nul));
        off = (nul + 4) & ~3;
        if (rootDone) fail('a second top-level node after the root', tokenOff);
        const parent = stack[stack.length - 1];
        if (parent === undefined) {
          if (name !== '') fail(`root node has the name "${name}" (must be empty)`, tokenOff);
          stack.push(tree.root);
          break;
        }
        if (name === '' || name.includes('/')) fail(`invalid node name "${name}" under ${parent.path}`, tokenOff);
        if (parent.children.some((c) => c.name === name)) fail(`duplicate node ${name} under ${parent.path}`, tokenOff);
        if (stack.length >= MAX_DTB_DEPTH) fail(`nodes nested deeper than ${MAX_DTB_DEPTH}`, tokenOff);
        const node = new FdtNode(name);
        node.parent = parent;
        parent.children.push(node);
        stack.push(node);
        break;
      }
      case FDT_END_NODE:
        if (stack.length === 0) fail('FDT_END_NODE without a matching FDT_BEGIN_NODE', tokenOff);
        stack.pop();
        if (stack.length === 0) rootDone = true;
        break;
      case FDT_PROP: {
        const node = stack[stack.length - 1];
        if (node === undefined) fail('FDT_PROP outside any node', tokenOff);
        const len = word(off);
        const nameoff = word(off + 4);
        off += 8;
        if (len > end - off) fail(`property value of ${len} bytes runs past the structure block`, tokenOff);
        const name = nameAt(nameoff, tokenOff);
        // DTSpec 5.4.2: a node's properties come before its children
        if (node.children.length > 0) fail(`property ${name} of ${node.path} follows a child node`, tokenOff);
        if (node.prop(name) !== undefined) fail(`duplicate property ${name} in ${node.path}`, tokenOff);
        node.properties.push({ name, value: blob.slice(off, off + len) });
        off = (off + len + 3) & ~3;
        break;
      }
      case FDT_NOP:
        break;
      case FDT_END:
        if (stack.length > 0) fail(`FDT_END inside ${stack[stack.length - 1]!.path}`, tokenOff);
        if (!rootDone) fail('structure block has no root node', tokenOff);
        sawEnd = true;
        break;
      default:
        fail(`unknown token 0x${token.toString(16)}`, tokenOff);
    }
  }
  return { ok: true, tree, header: h };
}
