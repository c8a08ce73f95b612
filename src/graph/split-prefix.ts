import type { Graph, Node, ValueInfo } from './ir.js';

/** A graph cut in two: `prefix` computes `boundary` from the other inputs, `suffix` the outputs from it. */
export interface PrefixSplit {
  /**
   * Its outputs are `boundary`, whose types are known once it has run: it declares none, so serialise
   * it with `toOnnxBytes(prefix, { untypedOutputs: boundary })`.
   */
  prefix: Graph;
  /** The values computed by the prefix and read by the suffix: its outputs, the suffix's inputs. */
  boundary: string[];
  /** The rest of the graph, reading the boundary values as `types` declares them. */
  suffix(types: readonly ValueInfo[]): Graph;
}

/**
 * Splits off the part of `g` that does not depend on the graph inputs `varying`: with a model's
 * trainables varying, the prefix is the frozen start of the network, whose outputs for a fixed image
 * stay the same however the trainables change. Undefined
 * (no split) when nothing is frozen, when a graph output is frozen, or when the suffix would need the
 * prefix's own inputs too.
 */
export function splitPrefix(g: Graph, varying: ReadonlySet<string>): PrefixSplit | undefined {
  const constant = new Set<string>([...g.initializers.keys(), '']);
  const frozen = new Set<string>(constant);
  for (const i of g.inputs) if (!varying.has(i.name)) frozen.add(i.name);
  const inPrefix = new Set<Node>();
  for (const n of g.nodes)
    if (n.inputs.every((i) => frozen.has(i))) {
      inPrefix.add(n);
      for (const o of n.outputs) frozen.add(o);
    }
  if (inPrefix.size === 0 || g.outputs.some((o) => frozen.has(o.name))) return undefined;
  // A frozen node that reads only what the suffix reads anyway would only widen the boundary (a LoRA
  // layer's base conv, a shortcut's downsample): it goes with the suffix, until none is left.
  for (let moved = true; moved;) {
    moved = false;
    const suffixReads = new Set(g.nodes.filter((n) => !inPrefix.has(n)).flatMap((n) => n.inputs));
    const prefixReads = new Set([...inPrefix].flatMap((n) => n.inputs));
    for (const n of [...inPrefix].reverse())
      if (
        n.outputs.every((o) => !prefixReads.has(o)) &&
        n.inputs.every((i) => constant.has(i) || suffixReads.has(i))
      ) {
        inPrefix.delete(n);
        moved = true;
        break;
      }
  }
  const suffixNodes = g.nodes.filter((n) => !inPrefix.has(n));
  const fixedInputs = new Set(g.inputs.filter((i) => !varying.has(i.name)).map((i) => i.name));
  if (inPrefix.size === 0 || suffixNodes.some((n) => n.inputs.some((i) => fixedInputs.has(i))))
    return undefined;
  const produced = new Set([...inPrefix].flatMap((n) => n.outputs));
  const boundary = [...new Set(suffixNodes.flatMap((n) => n.inputs).filter((i) => produced.has(i)))];
  const part = (
    keep: (n: Node) => boolean,
    inputs: readonly ValueInfo[],
    outputs: ValueInfo[],
    needed = outputs.map((o) => o.name),
  ) => {
    const p = g.clone();
    p.nodes = p.nodes.filter((_, k) => keep(g.nodes[k]));
    p.outputs = outputs;
    p.prune(needed);
    p.inputs = inputs.filter((i) => p.nodes.some((n) => n.inputs.includes(i.name)));
    return p;
  };
  return {
    prefix: part((n) => inPrefix.has(n), g.inputs, [], boundary),
    boundary,
    suffix: (types) => part((n) => !inPrefix.has(n), [...types, ...g.inputs], g.outputs),
  };
}
