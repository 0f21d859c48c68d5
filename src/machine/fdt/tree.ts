// The in-memory device tree: nodes with ordered properties (raw bytes, as in the
// FDT structure block) and ordered children. The dts parser and the dtb reader build
// it; the dtb writer flattens it; the firmware stage patches it before boot.
// Devicetree Specification v0.4, chapter 2 (the devicetree) and 5 (the flattened form).

export interface FdtProperty {
  readonly name: string;
  value: Uint8Array;
}

/** One reserved physical range of the memory reservation block (DTSpec 5.3). */
export interface MemReserve {
  readonly address: bigint;
  readonly size: bigint;
}

export class FdtNode {
  readonly properties: FdtProperty[] = [];
  readonly children: FdtNode[] = [];
  /** Source labels (dts only; a dtb has none). */
  readonly labels: string[] = [];
  parent: FdtNode | undefined;

  constructor(private fullName: string) {}

  /** Full node name including the unit address, "" for the root. */
  get name(): string {
    return this.fullName;
  }

  /** Renames the node (e.g. memory@40000000 after its base moved); siblings must not clash. */
  rename(name: string): void {
    if (this.parent?.children.some((c) => c !== this && c.name === name)) {
      throw new Error(`device tree: ${this.parent.path} already has a child "${name}"`);
    }
    this.fullName = name;
  }

  /** The name before '@'. */
  get nodeName(): string {
    const at = this.name.indexOf('@');
    return at < 0 ? this.name : this.name.slice(0, at);
  }

  /** The text after '@', or "" when the node has no unit address. */
  get unitAddress(): string {
    const at = this.name.indexOf('@');
    return at < 0 ? '' : this.name.slice(at + 1);
  }

  get path(): string {
    if (this.parent === undefined) return '/';
    const up = this.parent.path;
    return up === '/' ? `/${this.name}` : `${up}/${this.name}`;
  }

  prop(name: string): FdtProperty | undefined {
    for (const p of this.properties) if (p.name === name) return p;
    return undefined;
  }

  /** Sets a property, replacing the value in place (keeping its position) or appending. */
  setProp(name: string, value: Uint8Array): void {
    const p = this.prop(name);
    if (p) p.value = value;
    else this.properties.push({ name, value });
  }

  removeProp(name: string): boolean {
    const i = this.properties.findIndex((p) => p.name === name);
    if (i < 0) return false;
    this.properties.splice(i, 1);
    return true;
  }

  /**
   * The child called `name`. A name without a unit address also matches a single
   * child with that node-name ("memory" finds "memory@40000000"), as paths in
   * /chosen and /aliases are usually written.
   */
  child(name: string): FdtNode | undefined {
    let byNodeName: FdtNode | undefined;
    let count = 0;
    for (const c of this.children) {
      if (c.name === name) return c;
      if (!name.includes('@') && c.nodeName === name) {
        byNodeName = c;
        count++;
      }
    }
    return count === 1 ? byNodeName : undefined;
  }

  /** Appends a new child; a second child of the same full name is a mistake of the caller. */
  addChild(name: string): FdtNode {
    if (this.children.some((c) => c.name === name)) {
      throw new Error(`device tree: ${this.path} already has a child "${name}"`);
    }
    const n = new FdtNode(name);
    n.parent = this;
    this.children.push(n);
    return n;
  }

  removeChild(name: string): boolean {
    const i = this.children.findIndex((c) => c.name === name);
    if (i < 0) return false;
    this.children[i]!.parent = undefined;
    this.children.splice(i, 1);
    return true;
  }

  /** Deep copy (labels included, parent links rebuilt). */
  clone(): FdtNode {
    const n = new FdtNode(this.name);
    n.labels.push(...this.labels);
    for (const p of this.properties) n.properties.push({ name: p.name, value: p.value.slice() });
    for (const c of this.children) {
      const cc = c.clone();
      cc.parent = n;
      n.children.push(cc);
    }
    return n;
  }
}

export class DeviceTree {
  readonly root: FdtNode;
  readonly memReserve: MemReserve[] = [];
  /** boot_cpuid_phys of the FDT header. */
  bootCpuId = 0;

  constructor(root?: FdtNode) {
    this.root = root ?? new FdtNode('');
  }

  /** The node at an absolute path ("/", "/cpus/cpu@0", "/memory"), or undefined. */
  find(path: string): FdtNode | undefined {
    if (!path.startsWith('/')) return undefined;
    let n: FdtNode | undefined = this.root;
    for (const part of path.split('/')) {
      if (part === '') continue;
      n = n.child(part);
      if (n === undefined) return undefined;
    }
    return n;
  }

  /** Like find, but a missing node is an error naming the path. */
  require(path: string): FdtNode {
    const n = this.find(path);
    if (n === undefined) throw new Error(`device tree: no node ${path}`);
    return n;
  }

  /** Creates the nodes of `path` that do not exist yet and returns the last one. */
  ensure(path: string): FdtNode {
    if (!path.startsWith('/')) throw new Error(`device tree: path must be absolute, got "${path}"`);
    let n = this.root;
    for (const part of path.split('/')) {
      if (part === '') continue;
      n = n.child(part) ?? n.addChild(part);
    }
    return n;
  }

  /** Every node in document order (parents before children). */
  *nodes(): IterableIterator<FdtNode> {
    const stack: FdtNode[] = [this.root];
    while (stack.length > 0) {
      const n = stack.pop()!;
      yield n;
      for (let i = n.children.length - 1; i >= 0; i--) stack.push(n.children[i]!);
    }
  }

  /** The node whose `phandle` property is `phandle` (DTSpec 2.3.3). */
  byPhandle(phandle: number): FdtNode | undefined {
    for (const n of this.nodes()) {
      const p = n.prop('phandle') ?? n.prop('linux,phandle');
      if (p && p.value.length === 4 && new DataView(p.value.buffer, p.value.byteOffset).getUint32(0) === phandle) return n;
    }
    return undefined;
  }

  byLabel(label: string): FdtNode | undefined {
    for (const n of this.nodes()) if (n.labels.includes(label)) return n;
    return undefined;
  }

  clone(): DeviceTree {
    const t = new DeviceTree(this.root.clone());
    t.memReserve.push(...this.memReserve);
    t.bootCpuId = this.bootCpuId;
    return t;
  }
}
