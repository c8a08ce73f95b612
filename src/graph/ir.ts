import type { DType, Tensor } from './tensor.js';

/** An ONNX attribute, tagged so that ints and floats never get confused. */
export type Attr =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: number[] }
  | { kind: 'floats'; value: number[] }
  | { kind: 'string'; value: string }
  | { kind: 'tensor'; value: Tensor };

export const attr = {
  int: (value: number): Attr => ({ kind: 'int', value }),
  float: (value: number): Attr => ({ kind: 'float', value }),
  ints: (value: number[]): Attr => ({ kind: 'ints', value }),
  floats: (value: number[]): Attr => ({ kind: 'floats', value }),
  string: (value: string): Attr => ({ kind: 'string', value }),
  tensor: (value: Tensor): Attr => ({ kind: 'tensor', value }),
};

/** A dimension is a size, or a symbol such as the batch 'N'. */
export type Dim = number | string;

export interface ValueInfo {
  name: string;
  dtype: DType;
  shape: Dim[];
}

export interface Node {
  /** Unique within the graph; models use module paths (`layer3.0.conv1`) so adapters can target them. */
  name: string;
  op: string;
  domain?: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, Attr>;
}

/**
 * A computation graph in ONNX terms: nodes in topological order, named graph inputs and outputs,
 * and constant initializers. Graphs are mutable builders; `clone` before transforming a shared one.
 */
export class Graph {
  nodes: Node[] = [];
  inputs: ValueInfo[] = [];
  outputs: ValueInfo[] = [];
  initializers = new Map<string, Tensor>();
  opset = 17;
  private counter = 0;

  /** Appends a node and returns its output names (fresh ones unless given). */
  add(
    op: string,
    inputs: string[],
    opts: { name?: string; outputs?: string[] | number; attrs?: Record<string, Attr> } = {},
  ): string[] {
    const name = opts.name ?? this.fresh(op);
    const outs =
      typeof opts.outputs === 'object'
        ? opts.outputs
        : Array.from({ length: opts.outputs ?? 1 }, (_, i) => (i === 0 ? name : `${name}:${i}`));
    this.nodes.push({ name, op, inputs, outputs: outs, attrs: opts.attrs ?? {} });
    return outs;
  }

  /** Single-output shorthand for `add`. */
  op(op: string, inputs: string[], attrs: Record<string, Attr> = {}, name?: string): string {
    return this.add(op, inputs, { attrs, name })[0];
  }

  /** Adds a constant and returns its name. */
  constant(t: Tensor, hint = 'const'): string {
    const name = this.fresh(hint);
    this.initializers.set(name, t);
    return name;
  }

  /** A name not yet used by any value or node in this graph. */
  fresh(prefix: string): string {
    const used = (n: string) =>
      this.initializers.has(n) ||
      this.nodes.some((x) => x.name === n || x.outputs.includes(n)) ||
      this.inputs.some((i) => i.name === n);
    let n = `${prefix}__${this.counter++}`;
    while (used(n)) n = `${prefix}__${this.counter++}`;
    return n;
  }

  node(name: string): Node {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`graph: no node named '${name}'`);
    return n;
  }

  /** Map from value name to the node that produces it. */
  producers(): Map<string, Node> {
    const m = new Map<string, Node>();
    for (const n of this.nodes) for (const o of n.outputs) m.set(o, n);
    return m;
  }

  /** The tensors of Constant nodes by output name: frozen values that exporters (torch) write as nodes. */
  constantNodeValues(): Map<string, Tensor> {
    const values = new Map<string, Tensor>();
    for (const n of this.nodes)
      if (n.op === 'Constant' && n.attrs.value?.kind === 'tensor')
        values.set(n.outputs[0], n.attrs.value.value);
    return values;
  }

  /** Map from value name to the nodes that read it. */
  consumers(): Map<string, Node[]> {
    const m = new Map<string, Node[]>();
    for (const n of this.nodes)
      for (const i of n.inputs) {
        if (!i) continue;
        const list = m.get(i);
        if (list) list.push(n);
        else m.set(i, [n]);
      }
    return m;
  }

  /** Renames every use of a value (not its producer): the rewiring step of graph surgery. */
  replaceUses(from: string, to: string, except?: Node): void {
    for (const n of this.nodes) {
      if (n === except) continue;
      n.inputs = n.inputs.map((i) => (i === from ? to : i));
    }
    for (const o of this.outputs) if (o.name === from) o.name = to;
  }

  /** Deep enough copy for transforms: node lists and attrs are new; tensors are shared (treat them as immutable). */
  clone(): Graph {
    const g = new Graph();
    g.nodes = this.nodes.map((n) => ({
      ...n,
      inputs: [...n.inputs],
      outputs: [...n.outputs],
      attrs: { ...n.attrs },
    }));
    g.inputs = this.inputs.map((v) => ({ ...v, shape: [...v.shape] }));
    g.outputs = this.outputs.map((v) => ({ ...v, shape: [...v.shape] }));
    g.initializers = new Map(this.initializers);
    g.opset = this.opset;
    g.counter = this.counter;
    return g;
  }

  /** Reorders nodes topologically (stable) and throws on cycles or values nobody produces. */
  sort(): void {
    const available = new Set<string>([...this.inputs.map((i) => i.name), ...this.initializers.keys(), '']);
    const pending = [...this.nodes];
    const out: Node[] = [];
    while (pending.length) {
      const idx = pending.findIndex((n) => n.inputs.every((i) => available.has(i)));
      if (idx < 0) {
        const n = pending[0];
        throw new Error(
          `graph: node '${n.name}' (${n.op}) reads ${n.inputs.filter((i) => !available.has(i)).join(', ')} which nothing produces`,
        );
      }
      const [n] = pending.splice(idx, 1);
      out.push(n);
      for (const o of n.outputs) available.add(o);
    }
    this.nodes = out;
  }

  /** Drops nodes and initializers that none of `outputs` (by default the graph's) depends on. */
  prune(outputs: readonly string[] = this.outputs.map((o) => o.name)): void {
    const needed = new Set(outputs);
    const kept: Node[] = [];
    for (let k = this.nodes.length - 1; k >= 0; k--) {
      const n = this.nodes[k];
      if (n.outputs.some((o) => needed.has(o))) {
        kept.push(n);
        for (const i of n.inputs) needed.add(i);
      }
    }
    this.nodes = kept.reverse();
    for (const name of [...this.initializers.keys()]) if (!needed.has(name)) this.initializers.delete(name);
  }
}
