import { describe, expect, it } from 'vitest';
import { parseDts } from '../../src/machine/fdt/dts-parser.js';
import { readCells, readStringList, readU32 } from '../../src/machine/fdt/property.js';
import type { DeviceTree } from '../../src/machine/fdt/tree.js';

function parse(src: string): DeviceTree {
  const r = parseDts(src, 't.dts');
  if (!r.ok) throw new Error(r.error);
  return r.tree;
}

function error(src: string): string {
  const r = parseDts(src, 't.dts');
  if (r.ok) throw new Error('expected a parse error');
  return r.error;
}

function prop(tree: DeviceTree, path: string, name: string): Uint8Array {
  const p = tree.find(path)?.prop(name);
  if (!p) throw new Error(`no ${path}:${name}`);
  return p.value;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('dts parser: values (DTSpec 6.3)', () => {
  it('cells are big-endian 32-bit words; an empty property has no bytes', () => {
    const t = parse('/dts-v1/; / { a = <1 0x20 017>; b; };');
    expect(hex(prop(t, '/', 'a'))).toBe('00000001' + '00000020' + '0000000f');
    expect(prop(t, '/', 'b').length).toBe(0);
  });

  it('/bits/ 8, 16 and 64 set the cell width', () => {
    const t = parse('/dts-v1/; / { a = /bits/ 8 <1 0xff>; b = /bits/ 16 <0x1234>; c = /bits/ 64 <0x123456789abcdef0>; };');
    expect(hex(prop(t, '/', 'a'))).toBe('01ff');
    expect(hex(prop(t, '/', 'b'))).toBe('1234');
    expect(hex(prop(t, '/', 'c'))).toBe('123456789abcdef0');
  });

  it('integer expressions follow C precedence; negative values wrap to the cell width', () => {
    const t = parse("/dts-v1/; / { a = <(1 + 2 * 3) (1 << 4 | 1) ((2 > 1) ? 7 : 9) (-1) (~0 & 0xff) (10 % 4) 'A'>; };");
    expect(readCells(prop(t, '/', 'a'))).toEqual([7, 17, 7, 0xffffffff, 0xff, 2, 65]);
  });

  it('strings carry escapes and a NUL; several strings make a string list', () => {
    const t = parse('/dts-v1/; / { s = "a\\tb\\x41\\101\\"", "second"; };');
    expect(readStringList(prop(t, '/', 's'))).toEqual(['a\tbAA"', 'second']);
  });

  it('byte strings take hex pairs with or without spaces; mixed values concatenate', () => {
    const t = parse('/dts-v1/; / { b = [00 01 ab], [cdef]; m = "x", <1>, [ff]; };');
    expect(hex(prop(t, '/', 'b'))).toBe('0001abcdef');
    expect(hex(prop(t, '/', 'm'))).toBe('7800' + '00000001' + 'ff');
  });

  it('comments of both kinds are whitespace', () => {
    const t = parse('/dts-v1/; /* c */ / { // line\n a = /* in */ <1>; };');
    expect(readU32(prop(t, '/', 'a'))).toBe(1);
  });
});

describe('dts parser: labels and references (DTSpec 6.2)', () => {
  it('a &label in cells becomes the phandle; referenced nodes get phandles 1, 2, ... in reference order', () => {
    const t = parse('/dts-v1/; / { a: a {}; b: b {}; c { x = <&b &a &b>; }; };');
    expect(readCells(prop(t, '/c', 'x'))).toEqual([1, 2, 1]);
    expect(readU32(prop(t, '/b', 'phandle'))).toBe(1);
    expect(readU32(prop(t, '/a', 'phandle'))).toBe(2);
  });

  it('an explicit phandle is kept and skipped by assignment', () => {
    const t = parse('/dts-v1/; / { a: a { phandle = <1>; }; b: b {}; c { x = <&b &a>; }; };');
    expect(readCells(prop(t, '/c', 'x'))).toEqual([2, 1]);
  });

  it('a &label or &{/path} as a value is the full path of the node', () => {
    const t = parse('/dts-v1/; / { p { u: uart@9000000 {}; }; aliases { s0 = &u; s1 = &{/p/uart@9000000}; }; };');
    expect(readStringList(prop(t, '/aliases', 's0'))).toEqual(['/p/uart@9000000']);
    expect(readStringList(prop(t, '/aliases', 's1'))).toEqual(['/p/uart@9000000']);
  });

  it('references may point forward to nodes defined later', () => {
    const t = parse('/dts-v1/; / { x = <&late>; late: n {}; };');
    expect(readU32(prop(t, '/', 'x'))).toBe(1);
  });

  it('&label { } merges into the node: properties replaced in place, new ones appended', () => {
    const t = parse('/dts-v1/; / { n: n { a = <1>; b = <2>; }; }; &n { a = <9>; c = <3>; k {}; };');
    const n = t.find('/n')!;
    expect(n.properties.map((p) => p.name)).toEqual(['a', 'b', 'c']);
    expect(readU32(prop(t, '/n', 'a'))).toBe(9);
    expect(n.children.map((c) => c.name)).toEqual(['k']);
  });

  it('a second root block merges into the first', () => {
    const t = parse('/dts-v1/; / { a { x = <1>; }; }; / { a { y = <2>; }; b {}; };');
    expect(t.find('/a')!.properties.map((p) => p.name)).toEqual(['x', 'y']);
    expect(t.root.children.map((c) => c.name)).toEqual(['a', 'b']);
  });

  it('/delete-node/ and /delete-property/ remove what they name', () => {
    const t = parse('/dts-v1/; / { a { x = <1>; y; }; d: b {}; c {}; }; / { a { /delete-property/ y; }; /delete-node/ c; }; /delete-node/ &d;');
    expect(t.find('/a')!.properties.map((p) => p.name)).toEqual(['x']);
    expect(t.root.children.map((c) => c.name)).toEqual(['a']);
  });

  it('/memreserve/ entries go to the reservation block, in order', () => {
    const t = parse('/dts-v1/; /memreserve/ 0x40000000 0x1000; r: /memreserve/ 0x1 (0x100000000 * 2); / { };');
    expect(t.memReserve).toEqual([
      { address: 0x40000000n, size: 0x1000n },
      { address: 1n, size: 0x200000000n },
    ]);
  });

  it('labels on properties and data are accepted and name nothing in the tree', () => {
    const t = parse('/dts-v1/; / { l1: p = l2: <l3: 1 2> l4:, "s"; };');
    expect(hex(prop(t, '/', 'p'))).toBe('00000001000000027300');
  });

  it('boot_cpuid_phys defaults to the reg of the first cpu, as dtc does', () => {
    expect(parse('/dts-v1/; / { cpus { #address-cells = <1>; #size-cells = <0>; cpu@3 { reg = <3>; }; }; };').bootCpuId).toBe(3);
  });
});

describe('dts parser: errors are values with file:line:column', () => {
  it('a missing /dts-v1/ tag', () => {
    expect(error('/ { };')).toMatch(/^t\.dts:1:1: expected \/dts-v1\//);
  });

  it('an unterminated string names its line', () => {
    expect(error('/dts-v1/;\n/ {\n  a = "abc;\n};')).toMatch(/^t\.dts:3:\d+: unterminated string/);
  });

  it('a reference to an undefined label', () => {
    expect(error('/dts-v1/; / { a = <&nope>; };')).toMatch(/undefined label "nope"/);
  });

  it('a duplicate label on two nodes', () => {
    expect(error('/dts-v1/; / { x: a {}; x: b {}; };')).toMatch(/duplicate label "x"/);
  });

  it('a duplicate property or node in one block', () => {
    expect(error('/dts-v1/; / { a; a; };')).toMatch(/duplicate property name "a"/);
    expect(error('/dts-v1/; / { n {}; n {}; };')).toMatch(/duplicate node name "n"/);
  });

  it('a value too wide for its cell', () => {
    expect(error('/dts-v1/; / { a = <0x100000000>; };')).toMatch(/does not fit in 32 bits/);
    expect(error('/dts-v1/; / { a = /bits/ 8 <256>; };')).toMatch(/does not fit in 8 bits/);
  });

  it('a phandle reference in a non-32-bit array, /bits/ of a bad width, division by zero', () => {
    expect(error('/dts-v1/; / { a = /bits/ 16 <&n>; n: n {}; };')).toMatch(/only allowed in 32-bit/);
    expect(error('/dts-v1/; / { a = /bits/ 12 <1>; };')).toMatch(/\/bits\/ must be 8, 16, 32 or 64/);
    expect(error('/dts-v1/; / { a = <(1 / 0)>; };')).toMatch(/division by zero/);
  });

  it('unterminated node, cell array and comment; unsupported /include/ and #include', () => {
    expect(error('/dts-v1/; / { a = <1>;')).toMatch(/unterminated node/);
    expect(error('/dts-v1/; / { a = <1 ; };')).toMatch(/expected a number|unterminated cell/);
    expect(error('/dts-v1/; /* ')).toMatch(/unterminated comment/);
    expect(error('/dts-v1/; /include/ "x.dtsi"')).toMatch(/\/include\/ is not supported/);
    expect(error('/dts-v1/; / { #include "x.h"\n };')).toMatch(/preprocessor directives/);
  });

  it('a property after a subnode in the same block (dtc: properties must precede subnodes)', () => {
    expect(error('/dts-v1/; / { n {}; a; };')).toMatch(/properties must precede subnodes/);
  });

  it('odd hex digits in a byte string and a missing semicolon', () => {
    expect(error('/dts-v1/; / { b = [0 1]; };')).toMatch(/pairs of hex digits/);
    expect(error('/dts-v1/; / { a = <1> }; ')).toMatch(/expected ';'/);
  });
});
