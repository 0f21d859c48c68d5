// The unflattened device tree (drivers/of/base.c, property.c, address.c, irq.c in
// shape): nodes with raw big-endian properties, lookups by path, compatible and
// phandle, and the decoders drivers use: `reg` with the parent's #address-cells and
// #size-cells, `interrupts` through the interrupt parent, and `iommu-map`/`msi-map`.

export class Property {
  constructor(
    readonly name: string,
    readonly value: Uint8Array,
  ) {}
  get length(): number {
    return this.value.length;
  }
}

export class DeviceNode {
  readonly properties: Property[] = [];
  readonly children: DeviceNode[] = [];
  phandle = 0;
  /** Driver-core data attached when a device is created for the node. */
  data: unknown = undefined;
  constructor(
    /** Node name with unit address, e.g. "pl011@9000000". */
    readonly full_name: string,
    readonly parent: DeviceNode | null,
  ) {}

  /** Name without the unit address. */
  get name(): string {
    const at = this.full_name.indexOf('@');
    return at < 0 ? this.full_name : this.full_name.slice(0, at);
  }

  /** Absolute path, e.g. "/pcie@10000000". */
  get path(): string {
    if (this.parent === null) return '/';
    const p = this.parent.path;
    return p === '/' ? `/${this.full_name}` : `${p}/${this.full_name}`;
  }
}

let root: DeviceNode | null = null;
let phandles = new Map<number, DeviceNode>();

export function of_set_root(r: DeviceNode | null): void {
  root = r;
  phandles = new Map();
  if (r === null) return;
  const walk = (n: DeviceNode): void => {
    const ph = of_get_property(n, 'phandle') ?? of_get_property(n, 'linux,phandle');
    if (ph !== undefined && ph.length === 4) {
      n.phandle = be32(ph, 0);
      phandles.set(n.phandle, n);
    }
    for (const c of n.children) walk(c);
  };
  walk(r);
}

export function of_root(): DeviceNode | null {
  return root;
}

export function be32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

export function of_find_property(np: DeviceNode, name: string): Property | undefined {
  return np.properties.find((p) => p.name === name);
}

export function of_get_property(np: DeviceNode, name: string): Uint8Array | undefined {
  return of_find_property(np, name)?.value;
}

export function of_property_read_bool(np: DeviceNode, name: string): boolean {
  return of_find_property(np, name) !== undefined;
}

/** of_property_read_u32_array: the cells, or undefined when absent/too short. */
export function of_property_read_u32_array(np: DeviceNode, name: string): number[] | undefined {
  const v = of_get_property(np, name);
  if (v === undefined || v.length % 4 !== 0) return undefined;
  const out: number[] = [];
  for (let i = 0; i < v.length; i += 4) out.push(be32(v, i));
  return out;
}

export function of_property_read_u32(np: DeviceNode, name: string): number | undefined {
  const v = of_get_property(np, name);
  if (v === undefined || v.length < 4) return undefined;
  return be32(v, 0);
}

/** A 1- or 2-cell number (u32 or u64 property), as linux,initrd-start may be either. */
export function of_property_read_number(np: DeviceNode, name: string): number | undefined {
  const v = of_get_property(np, name);
  if (v === undefined) return undefined;
  if (v.length === 4) return be32(v, 0);
  if (v.length === 8) return be32(v, 0) * 4294967296 + be32(v, 4);
  return undefined;
}

export function of_property_read_string_array(np: DeviceNode, name: string): string[] | undefined {
  const v = of_get_property(np, name);
  if (v === undefined) return undefined;
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < v.length; i++) {
    if (v[i] === 0) {
      out.push(new TextDecoder().decode(v.subarray(start, i)));
      start = i + 1;
    }
  }
  return out;
}

export function of_property_read_string(np: DeviceNode, name: string): string | undefined {
  return of_property_read_string_array(np, name)?.[0];
}

export function of_device_is_compatible(np: DeviceNode, compat: string): boolean {
  return of_property_read_string_array(np, 'compatible')?.includes(compat) ?? false;
}

export function of_device_is_available(np: DeviceNode): boolean {
  const s = of_property_read_string(np, 'status');
  return s === undefined || s === 'okay' || s === 'ok';
}

function* all_nodes(n: DeviceNode): Generator<DeviceNode> {
  yield n;
  for (const c of n.children) yield* all_nodes(c);
}

/** Every node in tree order (of_for_each_node). */
export function of_all_nodes(): DeviceNode[] {
  return root === null ? [] : [...all_nodes(root)];
}

/** of_find_compatible_node: the first available node after `from` with `compat`. */
export function of_find_compatible_node(from: DeviceNode | null, compat: string): DeviceNode | undefined {
  const nodes = of_all_nodes();
  const start = from === null ? 0 : nodes.indexOf(from) + 1;
  for (let i = start; i < nodes.length; i++) if (of_device_is_compatible(nodes[i]!, compat) && of_device_is_available(nodes[i]!)) return nodes[i];
  return undefined;
}

export function of_find_node_by_path(path: string): DeviceNode | undefined {
  if (root === null) return undefined;
  if (path === '/') return root;
  let n: DeviceNode = root;
  for (const part of path.split('/').filter((p) => p.length > 0)) {
    const next: DeviceNode | undefined = n.children.find((c) => c.full_name === part) ?? n.children.find((c) => c.name === part && !part.includes('@'));
    if (next === undefined) return undefined;
    n = next;
  }
  return n;
}

export function of_find_node_by_phandle(ph: number): DeviceNode | undefined {
  return phandles.get(ph);
}

/** of_n_addr_cells: #address-cells of the parent bus (default 2, as the spec says). */
export function of_n_addr_cells(np: DeviceNode): number {
  for (let p = np.parent; p !== null; p = p.parent) {
    const v = of_property_read_u32(p, '#address-cells');
    if (v !== undefined) return v;
  }
  return 2;
}

export function of_n_size_cells(np: DeviceNode): number {
  for (let p = np.parent; p !== null; p = p.parent) {
    const v = of_property_read_u32(p, '#size-cells');
    if (v !== undefined) return v;
  }
  return 1;
}

function read_cells(cells: number[], at: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) v = v * 4294967296 + (cells[at + i] ?? 0);
  return v;
}

export interface Resource {
  start: number;
  /** Inclusive end, as struct resource has it. */
  end: number;
  name: string;
}

export function resource_size(r: Resource): number {
  return r.end - r.start + 1;
}

/** The `reg` entries of a node (of_address_to_resource for each index; no ranges translation). */
export function of_reg(np: DeviceNode): Resource[] {
  const cells = of_property_read_u32_array(np, 'reg');
  if (cells === undefined) return [];
  const na = of_n_addr_cells(np);
  const ns = of_n_size_cells(np);
  const out: Resource[] = [];
  const step = na + ns;
  if (step === 0) return out;
  for (let i = 0; i + step <= cells.length; i += step) {
    const start = read_cells(cells, i, na);
    const size = read_cells(cells, i + na, ns);
    out.push({ start, end: start + size - 1, name: np.full_name });
  }
  return out;
}

export function of_address_to_resource(np: DeviceNode, index: number): Resource | undefined {
  return of_reg(np)[index];
}

/** The interrupt parent: `interrupt-parent` on the node or an ancestor. */
export function of_irq_find_parent(np: DeviceNode): DeviceNode | undefined {
  for (let n: DeviceNode | null = np; n !== null; n = n.parent) {
    const ph = of_property_read_u32(n, 'interrupt-parent');
    if (ph !== undefined) return of_find_node_by_phandle(ph);
  }
  return undefined;
}

/** struct of_phandle_args */
export interface OfPhandleArgs {
  np: DeviceNode;
  args: number[];
}

/** of_irq_parse_one: the `index`th interrupt specifier of a node. */
export function of_irq_parse_one(np: DeviceNode, index: number): OfPhandleArgs | undefined {
  const parent = of_irq_find_parent(np);
  if (parent === undefined) return undefined;
  const n = of_property_read_u32(parent, '#interrupt-cells');
  const cells = of_property_read_u32_array(np, 'interrupts');
  if (n === undefined || n === 0 || cells === undefined) return undefined;
  const at = index * n;
  if (at + n > cells.length) return undefined;
  return { np: parent, args: cells.slice(at, at + n) };
}

export function of_irq_count(np: DeviceNode): number {
  const parent = of_irq_find_parent(np);
  const n = parent ? of_property_read_u32(parent, '#interrupt-cells') : undefined;
  const cells = of_property_read_u32_array(np, 'interrupts');
  return n && cells ? Math.floor(cells.length / n) : 0;
}

/**
 * of_map_id: translates a requester id through `iommu-map` or `msi-map`
 * (<id-base phandle out-base length> entries, with `*-map-mask`). Returns the target
 * node and output id, or undefined when no entry covers `id`.
 */
export function of_map_id(np: DeviceNode, id: number, mapName: 'iommu-map' | 'msi-map'): { target: DeviceNode; id: number } | undefined {
  const cells = of_property_read_u32_array(np, mapName);
  if (cells === undefined) return undefined;
  const mask = of_property_read_u32(np, `${mapName}-mask`) ?? 0xffffffff;
  const masked = (id & mask) >>> 0;
  for (let i = 0; i + 4 <= cells.length; i += 4) {
    const base = cells[i]!;
    const ph = cells[i + 1]!;
    const outBase = cells[i + 2]!;
    const len = cells[i + 3]!;
    if (masked < base || masked >= base + len) continue;
    const target = of_find_node_by_phandle(ph);
    if (target === undefined) return undefined;
    return { target, id: masked - base + outBase };
  }
  return undefined;
}
