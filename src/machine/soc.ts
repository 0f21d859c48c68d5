// The SoC description: firmware/soc.dts read once, and a typed view of what is where
// (memory map, interrupt numbers, PCIe windows and ID maps) for the board to wire
// devices from. Devices are found by `compatible`, as Linux's drivers find them, so
// the view holds whatever node names the source uses.
//
// A source that lacks something the board needs is a mistake in the emulator's own
// firmware, so it throws, naming the node and property.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setCpuCount, setMemory } from './fdt/boot-patches.js';
import { parseDts } from './fdt/dts-parser.js';
import { childCellCounts, joinCells, readCells, readReg, readStringList, readU32 } from './fdt/property.js';
import type { DeviceTree, FdtNode } from './fdt/tree.js';

export interface MmioRegion {
  readonly base: number;
  readonly size: number;
}

/** A GICv3 interrupt specifier (<type number flags>), with its INTID. */
export interface GicInterrupt {
  readonly type: 'spi' | 'ppi';
  /** SPI or PPI number as the tree writes it. */
  readonly number: number;
  /** GIC INTID: SPI n is 32 + n, PPI n is 16 + n (IHI 0069 2.2.1). */
  readonly intid: number;
  readonly trigger: 'edge-rising' | 'edge-falling' | 'level-high' | 'level-low';
}

export type SmmuIrqName = 'eventq' | 'priq' | 'cmdq-sync' | 'gerror';

/** One entry of a PCI iommu-map / msi-map: RIDs [ridBase, ridBase+length) -> [outBase, ...). */
export interface PciIdMap {
  readonly ridBase: number;
  /** StreamID (iommu-map) or ITS DeviceID (msi-map) of ridBase. */
  readonly outBase: number;
  readonly length: number;
  /** Path of the SMMU or ITS node the map points at. */
  readonly target: string;
}

export interface CpuDescription {
  readonly path: string;
  /** MPIDR affinity bits (reg). */
  readonly mpidr: number;
  readonly enableMethod: string;
}

export interface MemoryMapRow {
  readonly region: string;
  readonly base: number;
  readonly size: number;
  /** Device-tree node that declares it. */
  readonly node: string;
}

export interface SocDescription {
  readonly model: string;
  readonly memory: MmioRegion;
  readonly cpus: readonly CpuDescription[];
  readonly psci: { readonly method: 'smc' | 'hvc' };
  /** Generic timer PPIs (INTIDs): secure, non-secure, virtual, hypervisor physical. */
  readonly timer: { readonly secure: GicInterrupt; readonly nonSecure: GicInterrupt; readonly virtual: GicInterrupt; readonly hypervisor: GicInterrupt };
  readonly gic: { readonly gicd: MmioRegion; readonly gicr: MmioRegion; readonly its: MmioRegion; readonly maintenance: GicInterrupt | undefined };
  readonly uart: MmioRegion & { readonly irq: GicInterrupt; readonly clockHz: number };
  readonly smmu: MmioRegion & { readonly irqs: Readonly<Record<SmmuIrqName, GicInterrupt>> };
  readonly pcie: {
    readonly ecam: MmioRegion;
    /** 32-bit non-prefetchable memory window: CPU addresses map 1:1 onto PCI addresses plus an offset. */
    readonly mmioWindow: MmioRegion & { readonly pciBase: number };
    readonly busRange: { readonly first: number; readonly last: number };
    readonly iommuMap: PciIdMap;
    readonly msiMap: PciIdMap;
  };
  readonly chosen: { readonly stdoutPath: string; readonly bootargs: string };
  /** What is where, sorted by base (machine.memoryMap). */
  readonly memoryMap: readonly MemoryMapRow[];
}

/** Where the SoC source lives in the repository. */
export const SOC_DTS_PATH = fileURLToPath(new URL('../../firmware/soc.dts', import.meta.url));

let cachedTree: DeviceTree | undefined;
let cachedDescription: SocDescription | undefined;

/** The parsed firmware/soc.dts (parsed once per process). Returns a copy the caller may patch. */
export function loadSocTree(): DeviceTree {
  if (cachedTree === undefined) {
    const parsed = parseDts(readFileSync(SOC_DTS_PATH, 'utf8'), 'firmware/soc.dts');
    if (!parsed.ok) throw new Error(`SoC description: ${parsed.error}`);
    cachedTree = parsed.tree;
  }
  return cachedTree.clone();
}

/** The typed view of firmware/soc.dts as written (1 GiB, 2 CPUs), cached. */
export function loadSocDescription(): SocDescription {
  cachedDescription ??= describeSoc(loadSocTree());
  return cachedDescription;
}

/** The tree a machine with this RAM size and CPU count hands its firmware. */
export function buildSocTree(options: { readonly ramSize: number; readonly cpus: number }): DeviceTree {
  const tree = loadSocTree();
  const mem = describeMemory(tree);
  setMemory(tree, mem.base, options.ramSize);
  setCpuCount(tree, options.cpus);
  return tree;
}

// --- decoding ---

function problem(node: FdtNode | string, what: string): never {
  throw new Error(`SoC description: ${typeof node === 'string' ? node : node.path}: ${what}`);
}

function strings(node: FdtNode, name: string): string[] {
  const p = node.prop(name);
  return (p && readStringList(p.value)) ?? [];
}

function byCompatible(tree: DeviceTree, compatible: string): FdtNode {
  for (const n of tree.nodes()) if (strings(n, 'compatible').includes(compatible)) return n;
  return problem('/', `no node is compatible with "${compatible}"`);
}

function regions(node: FdtNode, count: number): MmioRegion[] {
  const r = readReg(node);
  if (r === undefined || r.length < count) problem(node, `needs ${count} reg entr${count === 1 ? 'y' : 'ies'}`);
  return r;
}

function u32(node: FdtNode, name: string): number {
  const p = node.prop(name);
  const v = p && readU32(p.value);
  if (v === undefined) problem(node, `needs a one-cell ${name}`);
  return v;
}

function phandleTarget(tree: DeviceTree, node: FdtNode, phandle: number, prop: string): FdtNode {
  return tree.byPhandle(phandle) ?? problem(node, `${prop} refers to phandle ${phandle}, which no node has`);
}

const TRIGGERS = { 1: 'edge-rising', 2: 'edge-falling', 4: 'level-high', 8: 'level-low' } as const;

/** The `interrupts` of a node whose interrupt parent is the GICv3 (3 cells each). */
function interrupts(node: FdtNode): GicInterrupt[] {
  const p = node.prop('interrupts');
  const c = p && readCells(p.value);
  if (c === undefined || c.length === 0 || c.length % 3 !== 0) problem(node, 'needs interrupts as <type number flags> triples');
  const out: GicInterrupt[] = [];
  for (let i = 0; i < c.length; i += 3) {
    const [type, number, flags] = [c[i]!, c[i + 1]!, c[i + 2]!];
    const trigger = TRIGGERS[(flags & 0xf) as keyof typeof TRIGGERS];
    if ((type !== 0 && type !== 1) || trigger === undefined) problem(node, `interrupt <${type} ${number} ${flags}> is not an SPI/PPI with one trigger`);
    if (type === 0 ? number > 987 : number > 15) problem(node, `interrupt number ${number} is out of range`);
    out.push({ type: type === 0 ? 'spi' : 'ppi', number, intid: (type === 0 ? 32 : 16) + number, trigger });
  }
  return out;
}

function describeMemory(tree: DeviceTree): MmioRegion & { node: string } {
  const mem = tree.root.children.find((n) => strings(n, 'device_type').includes('memory'));
  if (mem === undefined) problem('/', 'no memory node (device_type = "memory")');
  const [r] = regions(mem, 1);
  return { ...r!, node: mem.path };
}

/** pci-bus `ranges`: (pci.hi pci.mid pci.lo, cpu address, size) entries (IEEE 1275 PCI binding 2.2.1.1). */
function pciMemWindow(pcie: FdtNode): MmioRegion & { pciBase: number } {
  const p = pcie.prop('ranges');
  const c = p && readCells(p.value);
  // child address (the PCI node's #address-cells, 3), parent address (the parent's), length (the PCI node's #size-cells)
  const own = childCellCounts(pcie);
  const parentCells = childCellCounts(pcie.parent!).addressCells;
  const stride = own.addressCells + parentCells + own.sizeCells;
  if (own.addressCells !== 3 || c === undefined || c.length % stride !== 0) problem(pcie, `ranges must be (3 + ${parentCells} + ${own.sizeCells})-cell entries with #address-cells = 3`);
  for (let i = 0; i < c.length; i += stride) {
    const space = (c[i]! >>> 24) & 3; // phys.hi ss: 1 = I/O, 2 = 32-bit memory, 3 = 64-bit memory
    if (space !== 2) continue;
    const pciBase = joinCells(c, i + 1, 2);
    const base = joinCells(c, i + 3, parentCells);
    const size = joinCells(c, i + 3 + parentCells, own.sizeCells);
    if (pciBase === undefined || base === undefined || size === undefined) break;
    return { base, size, pciBase };
  }
  return problem(pcie, 'ranges has no 32-bit memory window');
}

function pciIdMap(tree: DeviceTree, pcie: FdtNode, name: 'iommu-map' | 'msi-map'): PciIdMap {
  const p = pcie.prop(name);
  const c = p && readCells(p.value);
  // one entry: rid-base, phandle, one specifier cell (#iommu-cells / #msi-cells = 1), length
  if (c === undefined || c.length !== 4) problem(pcie, `${name} must be one <rid-base &target out-base length> entry`);
  const target = phandleTarget(tree, pcie, c[1]!, name);
  return { ridBase: c[0]!, outBase: c[2]!, length: c[3]!, target: target.path };
}

/** Decodes a SoC tree into the typed view. */
export function describeSoc(tree: DeviceTree): SocDescription {
  const memory = describeMemory(tree);

  const cpus = (tree.find('/cpus')?.children ?? [])
    .filter((n) => strings(n, 'device_type').includes('cpu'))
    .map((n) => ({ path: n.path, mpidr: u32(n, 'reg'), enableMethod: strings(n, 'enable-method')[0] ?? 'none' }));
  if (cpus.length === 0) problem('/cpus', 'has no cpu nodes');

  const psciNode = byCompatible(tree, 'arm,psci-1.0');
  const method = strings(psciNode, 'method')[0];
  if (method !== 'smc' && method !== 'hvc') problem(psciNode, 'method must be "smc" or "hvc"');

  const timerNode = byCompatible(tree, 'arm,armv8-timer');
  const ppis = interrupts(timerNode);
  if (ppis.length !== 4 || ppis.some((i) => i.type !== 'ppi')) problem(timerNode, 'needs four PPIs');

  const gicNode = byCompatible(tree, 'arm,gic-v3');
  if (u32(gicNode, '#interrupt-cells') !== 3) problem(gicNode, '#interrupt-cells must be 3');
  const [gicd, gicr] = regions(gicNode, 2);
  const itsNode = byCompatible(tree, 'arm,gic-v3-its');
  const [its] = regions(itsNode, 1);
  const maintenance = gicNode.prop('interrupts') ? interrupts(gicNode)[0] : undefined;

  const uartNode = byCompatible(tree, 'arm,pl011');
  const [uartRegion] = regions(uartNode, 1);
  const clocks = uartNode.prop('clocks');
  const clockCells = clocks && readCells(clocks.value);
  if (clockCells === undefined || clockCells.length === 0) problem(uartNode, 'needs clocks');
  const clock = phandleTarget(tree, uartNode, clockCells[0]!, 'clocks');

  const smmuNode = byCompatible(tree, 'arm,smmu-v3');
  const [smmuRegion] = regions(smmuNode, 1);
  const smmuIrqs = interrupts(smmuNode);
  const irqNames = strings(smmuNode, 'interrupt-names');
  const irqs = {} as Record<SmmuIrqName, GicInterrupt>;
  for (const name of ['eventq', 'priq', 'cmdq-sync', 'gerror'] as const) {
    const i = irqNames.indexOf(name);
    if (i < 0 || i >= smmuIrqs.length) problem(smmuNode, `interrupt-names has no "${name}" with an interrupt`);
    irqs[name] = smmuIrqs[i]!;
  }

  const pcieNode = byCompatible(tree, 'pci-host-ecam-generic');
  const [ecam] = regions(pcieNode, 1);
  const bus = pcieNode.prop('bus-range');
  const busCells = bus && readCells(bus.value);
  if (busCells === undefined || busCells.length !== 2 || busCells[0]! > busCells[1]!) problem(pcieNode, 'bus-range must be <first last>');
  // PCI Firmware Spec 4.1.2: ECAM gives each bus 1 MiB
  if ((busCells[1]! - busCells[0]! + 1) * 0x100000 > ecam!.size) problem(pcieNode, 'ECAM reg is smaller than bus-range needs');
  const iommuMap = pciIdMap(tree, pcieNode, 'iommu-map');
  if (iommuMap.target !== smmuNode.path) problem(pcieNode, `iommu-map points at ${iommuMap.target}, not the SMMU`);
  const msiMap = pciIdMap(tree, pcieNode, 'msi-map');
  if (msiMap.target !== itsNode.path) problem(pcieNode, `msi-map points at ${msiMap.target}, not the ITS`);
  const mmioWindow = pciMemWindow(pcieNode);

  const chosen = tree.find('/chosen');
  const memoryMap: MemoryMapRow[] = [
    { region: 'gic-distributor', ...gicd!, node: gicNode.path },
    { region: 'gic-its', ...its!, node: itsNode.path },
    { region: 'gic-redistributors', ...gicr!, node: gicNode.path },
    { region: 'uart-pl011', ...uartRegion!, node: uartNode.path },
    { region: 'smmuv3', ...smmuRegion!, node: smmuNode.path },
    { region: 'pcie-mmio', base: mmioWindow.base, size: mmioWindow.size, node: pcieNode.path },
    { region: 'pcie-ecam', ...ecam!, node: pcieNode.path },
    { region: 'ram', base: memory.base, size: memory.size, node: memory.node },
  ].sort((a, b) => a.base - b.base);
  for (let i = 1; i < memoryMap.length; i++) {
    const [a, b] = [memoryMap[i - 1]!, memoryMap[i]!];
    if (a.base + a.size > b.base) problem('/', `${a.region} [0x${a.base.toString(16)}+0x${a.size.toString(16)}] overlaps ${b.region}`);
  }

  return {
    model: strings(tree.root, 'model')[0] ?? '',
    memory: { base: memory.base, size: memory.size },
    cpus,
    psci: { method },
    timer: { secure: ppis[0]!, nonSecure: ppis[1]!, virtual: ppis[2]!, hypervisor: ppis[3]! },
    gic: { gicd: gicd!, gicr: gicr!, its: its!, maintenance },
    uart: { ...uartRegion!, irq: interrupts(uartNode)[0]!, clockHz: u32(clock, 'clock-frequency') },
    smmu: { ...smmuRegion!, irqs },
    pcie: { ecam: ecam!, mmioWindow, busRange: { first: busCells[0]!, last: busCells[1]! }, iommuMap, msiMap },
    chosen: { stdoutPath: (chosen && strings(chosen, 'stdout-path')[0]) ?? '', bootargs: (chosen && strings(chosen, 'bootargs')[0]) ?? '' },
    memoryMap,
  };
}
