import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { setBootargs, setCpuCount, setInitrd, setMemory } from '../../src/machine/fdt/boot-patches.js';
import { FDT_MAGIC } from '../../src/machine/fdt/dtb-format.js';
import { readDtb } from '../../src/machine/fdt/dtb-reader.js';
import { writeDtb } from '../../src/machine/fdt/dtb-writer.js';
import { parseDts } from '../../src/machine/fdt/dts-parser.js';
import { readCells, readStringList } from '../../src/machine/fdt/property.js';
import type { DeviceTree } from '../../src/machine/fdt/tree.js';
import { SOC_DTS_PATH, loadSocTree } from '../../src/machine/soc.js';

const work = mkdtempSync(join(tmpdir(), 'svasoc-fdt-'));

/** Runs the standard dtc; the test fails (not skips) when it is missing. */
function dtc(args: string[], input?: Uint8Array | string): { stdout: Buffer; stderr: string; status: number | null } {
  const r = spawnSync('dtc', args, { input, maxBuffer: 1 << 24 });
  if (r.error) throw new Error(`dtc could not run (install device-tree-compiler): ${r.error.message}`);
  return { stdout: r.stdout, stderr: r.stderr.toString(), status: r.status };
}

function parse(src: string): DeviceTree {
  const r = parseDts(src, 't.dts');
  if (!r.ok) throw new Error(r.error);
  return r.tree;
}

function dtcCompile(src: string): Uint8Array {
  const file = join(work, 'in.dts');
  writeFileSync(file, src);
  const r = dtc(['-q', '-I', 'dts', '-O', 'dtb', file]);
  expect(r.status, r.stderr).toBe(0);
  return new Uint8Array(r.stdout);
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).toString('hex') === Buffer.from(b).toString('hex');

function read(blob: Uint8Array): DeviceTree {
  const r = readDtb(blob);
  if (!r.ok) throw new Error(r.error);
  return r.tree;
}

const socSource = readFileSync(SOC_DTS_PATH, 'utf8');

// Exercises every construct of the parser at once, to compare with dtc byte for byte.
const FEATURES = `/dts-v1/;
/memreserve/ 0x48000000 0x100000;
/ {
	#address-cells = <2>;
	#size-cells = <1>;
	compatible = "x,board", "x,family";
	interrupt-controller;
	l1: n@1000 { reg = <0 0x1000 0x10>; bytes = [01 02 0304]; b8 = /bits/ 8 <1 2 3>; b64 = /bits/ 64 <0x1122334455667788>; };
	l2: n@2000 { reg = <0 0x2000 0x10>; refs = <&l1 &l2 &l1>; path = &l1; mixed = "s", <(3 * (2 + 1))>, [ff]; chr = <'a' '\\n'>; };
	explicit: e { phandle = <1>; };
	user { p = <&explicit &l2>; p2 = &{/n@2000}; neg = <(-2)>; };
	gone { x; };
};
&l1 { extra = "x"; reg = <0 0x1000 0x20>; sub { y; }; };
/ { /delete-node/ gone; user { /delete-property/ neg; }; };
`;

describe('dtb writer (DTSpec 5)', () => {
  it('header: magic 0xd00dfeed, version 17, last_comp_version 16, sizes and offsets consistent', () => {
    const blob = writeDtb(loadSocTree());
    const dv = new DataView(blob.buffer);
    expect(dv.getUint32(0)).toBe(FDT_MAGIC);
    expect(dv.getUint32(4)).toBe(blob.length);
    expect(dv.getUint32(20)).toBe(17);
    expect(dv.getUint32(24)).toBe(16);
    const [offStruct, offStrings, offRsv, sizeStrings, sizeStruct] = [8, 12, 16, 32, 36].map((o) => dv.getUint32(o));
    expect(offRsv! % 8).toBe(0);
    expect(offStruct! % 4).toBe(0);
    expect(offStruct! + sizeStruct!).toBe(offStrings);
    expect(offStrings! + sizeStrings!).toBe(blob.length);
    expect(dv.getUint32(offStruct!)).toBe(1); // FDT_BEGIN_NODE of the root
    expect(dv.getUint32(offStrings! - 4)).toBe(9); // FDT_END closes the structure block
  });

  it('property names are stored once in the strings block', () => {
    const blob = writeDtb(loadSocTree());
    const dv = new DataView(blob.buffer);
    const strings = Buffer.from(blob.subarray(dv.getUint32(12), dv.getUint32(12) + dv.getUint32(32))).toString('latin1');
    const names = strings.split('\0').filter((s) => s !== '');
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain('compatible');
    expect(strings.split('compatible\0').length - 1).toBe(1);
  });

  it('firmware/soc.dts gives the same blob as dtc -I dts -O dtb, byte for byte', () => {
    expect(sameBytes(writeDtb(loadSocTree()), dtcCompile(socSource))).toBe(true);
  });

  it('a source using every supported construct gives the same blob as dtc', () => {
    const mine = writeDtb(parse(FEATURES));
    const theirs = dtcCompile(FEATURES);
    expect(Buffer.from(mine).toString('hex')).toBe(Buffer.from(theirs).toString('hex'));
  });

  it('dtc -I dtb decodes our blob without warnings, with the references resolved', () => {
    const r = dtc(['-I', 'dtb', '-O', 'dts', '-'], writeDtb(loadSocTree()));
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    const text = r.stdout.toString();
    expect(text).toMatch(/smmuv3@9050000 \{[^}]*compatible = "arm,smmu-v3";/);
    expect(text).toMatch(/interrupt-names = "eventq\\0priq\\0cmdq-sync\\0gerror";/);
    expect(text).toMatch(/bus-range = <0x00 0x0f>;/);
    // phandles: gic 1, apb-pclk 2, its 3, smmu 4 (document order of first reference)
    expect(text).toMatch(/msi-map = <0x00 0x03 0x00 0x10000>;/);
    expect(text).toMatch(/iommu-map = <0x00 0x04 0x00 0x10000>;/);
  });

  it('padding adds free space at the end, and totalsize covers it', () => {
    const blob = writeDtb(loadSocTree(), { padding: 4096 });
    expect(blob.length).toBe(writeDtb(loadSocTree()).length + 4096);
    expect(readDtb(blob).ok).toBe(true);
    expect(dtc(['-I', 'dtb', '-O', 'dts', '-'], blob).status).toBe(0);
  });
});

describe('dtb reader', () => {
  it("reads dtc's blob of soc.dts back to a tree that writes the same bytes", () => {
    const theirs = dtcCompile(socSource);
    const r = readDtb(theirs);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.header.version).toBe(17);
    expect(sameBytes(writeDtb(r.tree), theirs)).toBe(true);
    expect(readCells(r.tree.find('/pcie@10000000')!.prop('bus-range')!.value)).toEqual([0, 15]);
  });

  it("dtc's decompiled dts of our blob parses back to the same blob (dts -> dtb -> dts -> dtb)", () => {
    for (const src of [socSource, FEATURES]) {
      const blob = writeDtb(parse(src));
      const decompiled = dtc(['-q', '-I', 'dtb', '-O', 'dts', '-'], blob).stdout.toString();
      expect(sameBytes(writeDtb(parse(decompiled)), blob)).toBe(true);
    }
  });

  it('keeps the memory reservation block and boot_cpuid_phys', () => {
    const t = read(dtcCompile(FEATURES));
    expect(t.memReserve).toEqual([{ address: 0x48000000n, size: 0x100000n }]);
    const withCpu = parse('/dts-v1/; / { cpus { #address-cells = <1>; #size-cells = <0>; cpu@2 { reg = <2>; }; }; };');
    expect(read(writeDtb(withCpu)).bootCpuId).toBe(2);
  });

  const good = () => writeDtb(loadSocTree());
  const patch32 = (blob: Uint8Array, off: number, v: number) => {
    const b = blob.slice();
    new DataView(b.buffer).setUint32(off, v);
    return b;
  };
  const structOff = (b: Uint8Array) => new DataView(b.buffer).getUint32(8);
  const stringsOff = (b: Uint8Array) => new DataView(b.buffer).getUint32(12);

  const corruptions: [string, () => Uint8Array, RegExp][] = [
    ['an empty buffer', () => new Uint8Array(0), /too short for an FDT header/],
    ['a bad magic', () => patch32(good(), 0, 0xdeadbeef), /bad magic/],
    ['a version older than 16', () => patch32(good(), 20, 3), /older than 16/],
    ['a last_comp_version newer than 17', () => patch32(good(), 24, 18), /newer than 17/],
    ['totalsize beyond the buffer', () => patch32(good(), 4, 1 << 30), /exceeds/],
    ['a truncated blob', () => good().slice(0, 100), /exceeds/],
    ['a structure block outside the blob', () => patch32(good(), 36, 1 << 20), /structure block .* outside/],
    ['a strings block outside the blob', () => patch32(good(), 12, 0xfffffff0), /strings block .* outside/],
    ['a misaligned memory reservation block', () => patch32(good(), 16, 44), /not 8-byte aligned/],
    ['an unknown token', () => patch32(good(), structOff(good()) + 8, 0x77), /unknown token 0x77/],
    ['a root with a name', () => patch32(good(), structOff(good()) + 4, 0x41000000), /root node has the name "A"/],
    ['a property name offset past the strings', () => patch32(good(), structOff(good()) + 16, 0xffff), /beyond the strings block/],
    ['a property length past the block', () => patch32(good(), structOff(good()) + 12, 0x7fffffff), /runs past the structure block/],
    ['FDT_END before the root closes', () => patch32(good(), structOff(good()) + 8, 9), /FDT_END inside \//],
    ['a missing FDT_END', () => patch32(good(), stringsOff(good()) - 4, 4), /ends in the middle of a token/],
  ];
  for (const [what, make, message] of corruptions) {
    it(`rejects ${what} with an error value`, () => {
      const r = readDtb(make());
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).toMatch(message);
    });
  }

  it('rejects duplicate properties, properties after children and a second root', () => {
    // hand-built structure blocks over a minimal valid header
    const build = (tokens: number[], strings: string): Uint8Array => {
      const s = Buffer.from(strings, 'latin1');
      const structOffset = 40 + 16;
      const total = structOffset + tokens.length * 4 + s.length;
      const b = new Uint8Array(total);
      const dv = new DataView(b.buffer);
      [FDT_MAGIC, total, structOffset, structOffset + tokens.length * 4, 40, 17, 16, 0, s.length, tokens.length * 4].forEach((v, i) => dv.setUint32(i * 4, v));
      tokens.forEach((t, i) => dv.setUint32(structOffset + i * 4, t));
      b.set(s, structOffset + tokens.length * 4);
      return b;
    };
    const A = 0x61000000; // node name "a" padded
    const ok = build([1, 0, 3, 0, 0, 1, A, 2, 2, 9], 'p\0');
    expect(readDtb(ok).ok).toBe(true);
    const dup = readDtb(build([1, 0, 3, 0, 0, 3, 0, 0, 2, 9], 'p\0'));
    expect(!dup.ok && dup.error).toMatch(/duplicate property p in \//);
    const late = readDtb(build([1, 0, 1, A, 2, 3, 0, 0, 2, 9], 'p\0'));
    expect(!late.ok && late.error).toMatch(/property p of \/ follows a child node/);
    const twoRoots = readDtb(build([1, 0, 2, 1, 0, 2, 9], ''));
    expect(!twoRoots.ok && twoRoots.error).toMatch(/second top-level node/);
    const dupNode = readDtb(build([1, 0, 1, A, 2, 1, A, 2, 2, 9], ''));
    expect(!dupNode.ok && dupNode.error).toMatch(/duplicate node a/);
    const deep = readDtb(build([1, 0, ...Array.from({ length: 70 }, () => [1, A]).flat(), 9], ''));
    expect(!deep.ok && deep.error).toMatch(/nested deeper than 64/);
  });

  it('never throws on randomly corrupted blobs (seeded, 3000 mutants)', () => {
    const base = good();
    let s = 0x9e3779b9;
    const rnd = () => {
      // xorshift32
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return (s >>> 0) / 4294967296;
    };
    let rejected = 0;
    for (let i = 0; i < 3000; i++) {
      const b = base.slice(0, rnd() < 0.1 ? Math.floor(rnd() * base.length) : base.length);
      const flips = 1 + Math.floor(rnd() * 4);
      for (let k = 0; k < flips && b.length > 0; k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      const r = readDtb(b);
      if (!r.ok) rejected++;
      else expect(r.tree.root.name).toBe('');
    }
    expect(rejected).toBeGreaterThan(100);
  });
});

describe('boot patches (what the firmware stage edits)', () => {
  it('setMemory writes a 2+2-cell reg and renames the node to memory@<base>; dtc agrees', () => {
    const t = loadSocTree();
    setMemory(t, 0x4000_0000, 16 * 2 ** 30);
    const mem = t.find('/memory@40000000')!;
    expect(readCells(mem.prop('reg')!.value)).toEqual([0, 0x40000000, 4, 0]);
    setMemory(t, 0x8000_0000, 2 ** 30);
    expect(t.find('/memory@80000000')).toBeDefined();
    expect(dtc(['-I', 'dtb', '-O', 'dts', '-'], writeDtb(t)).stdout.toString()).toMatch(/memory@80000000 \{[^}]*reg = <0x00 0x80000000 0x00 0x40000000>;/);
  });

  it('setCpuCount keeps cpu@0..N-1 with reg = index, cloned from cpu@0', () => {
    const t = loadSocTree();
    setCpuCount(t, 4);
    const cpus = t.find('/cpus')!.children;
    expect(cpus.map((c) => c.name)).toEqual(['cpu@0', 'cpu@1', 'cpu@2', 'cpu@3']);
    expect(cpus.map((c) => readCells(c.prop('reg')!.value)![0])).toEqual([0, 1, 2, 3]);
    expect(readStringList(cpus[3]!.prop('enable-method')!.value)).toEqual(['psci']);
    setCpuCount(t, 1);
    expect(t.find('/cpus')!.children.map((c) => c.name)).toEqual(['cpu@0']);
    expect(() => setCpuCount(t, 9)).toThrow(/1\.\.8/);
  });

  it('setInitrd writes 64-bit start/end, setBootargs replaces bootargs; the blob stays valid for dtc', () => {
    const t = loadSocTree();
    setInitrd(t, 0x1_4800_0000, 0x1_4820_0000);
    setBootargs(t, 'console=ttyAMA0 rdinit=/init');
    const chosen = t.find('/chosen')!;
    expect(readCells(chosen.prop('linux,initrd-start')!.value)).toEqual([1, 0x48000000]);
    expect(readCells(chosen.prop('linux,initrd-end')!.value)).toEqual([1, 0x48200000]);
    const r = dtc(['-I', 'dtb', '-O', 'dts', '-'], writeDtb(t));
    expect(r.stderr).toBe('');
    expect(r.stdout.toString()).toMatch(/bootargs = "console=ttyAMA0 rdinit=\/init";/);
    expect(() => setInitrd(t, 10, 5)).toThrow(/before start/);
  });
});
