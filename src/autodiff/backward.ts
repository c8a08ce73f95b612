import type { Dim, Graph, Node } from '../graph/ir.js';
import { f32 } from '../graph/tensor.js';
import type { GradContext, RuleTable } from './rule.js';
import { RULES } from './rules/index.js';
import { isStopGradient } from './stop-gradient.js';

export interface BackwardOptions {
  /** A scalar (or one-element) float value to differentiate. */
  loss: string;
  /** Values (usually graph inputs holding trainables) to differentiate with respect to. */
  wrt: string[];
  /** Static shapes of forward values, from `probeShapes`. */
  shapes: Map<string, Dim[]>;
  rules?: RuleTable;
}

/**
 * Reverse-mode autodiff over the IR. Appends backward nodes to `g` for the region between the first
 * trainable and the loss only (frozen layers upstream get no backward), and returns the name of each
 * `wrt` value's gradient. A `stopGradient` node cuts its path: what feeds only it gets no backward.
 */
export function appendBackward(g: Graph, opts: BackwardOptions): Map<string, string> {
  const rules = opts.rules ?? RULES;
  const fromParams = new Set(opts.wrt);
  for (const n of g.nodes)
    if (n.inputs.some((i) => fromParams.has(i))) for (const o of n.outputs) fromParams.add(o);
  if (!fromParams.has(opts.loss))
    throw new Error(`autodiff: the loss '${opts.loss}' does not depend on any of ${opts.wrt.join(', ')}`);

  const toLoss = new Set([opts.loss]);
  for (let k = g.nodes.length - 1; k >= 0; k--) {
    const n = g.nodes[k];
    if (!isStopGradient(n) && n.outputs.some((o) => toLoss.has(o))) for (const i of n.inputs) toLoss.add(i);
  }
  const active = g.nodes.filter(
    (n) => !isStopGradient(n) && n.outputs.some((o) => fromParams.has(o) && toLoss.has(o)),
  );

  // Frozen constants are initializers or Constant nodes (torch exports write both).
  const constantNodes = g.constantNodeValues();
  const ctx: GradContext = {
    g,
    shape(name) {
      const s = opts.shapes.get(name);
      if (!s) throw new Error(`autodiff: no shape known for '${name}'`);
      return s;
    },
    constant: (name) => g.initializers.get(name) ?? constantNodes.get(name),
    needsGrad: (name) => fromParams.has(name) && toLoss.has(name),
  };

  const contributions = new Map<string, string[]>();
  const push = (value: string, grad: string) => {
    const list = contributions.get(value);
    if (list) list.push(grad);
    else contributions.set(value, [grad]);
  };
  // Sums a value's gradient contributions once, when its producer (or the caller) first needs it.
  const total = (value: string): string | undefined => {
    const list = contributions.get(value);
    if (!list || list.length === 0) return undefined;
    if (list.length > 1)
      contributions.set(value, [
        g.op(list.length === 2 ? 'Add' : 'Sum', list, {}, g.fresh(`grad.${value}.sum`)),
      ]);
    return contributions.get(value)![0];
  };

  push(opts.loss, g.constant(f32(opts.shapes.get(opts.loss)?.map(Number) ?? [], [1]), 'grad.seed'));
  const emitted: Emitted[] = [];
  for (const node of [...active].reverse()) {
    const dOut = node.outputs.map(total);
    const start = g.nodes.length;
    emitNode(ctx, rules, node, dOut, push);
    emitted.push({ forward: node, start, end: g.nodes.length });
  }

  const result = new Map<string, string>();
  const outputs = new Set<string>();
  for (const w of opts.wrt) {
    if (result.has(w)) continue;
    let grad = total(w);
    if (!grad) throw new Error(`autodiff: '${w}' does not reach the loss, so it has no gradient`);
    // Add and Identity pass dY straight through, so two parameters can share one gradient value; each
    // gets its own name so that the gradients can all be distinct graph outputs.
    if (outputs.has(grad)) grad = g.op('Identity', [grad], {}, g.fresh(`grad.${w}`));
    outputs.add(grad);
    result.set(w, grad);
  }
  nameBackwardNodes(g, emitted);
  return result;
}

/** The backward nodes one rule appended for a forward node: `g.nodes[start, end)`. */
interface Emitted {
  forward: Node;
  start: number;
  end: number;
}

/**
 * Names each backward node `grad.<forward node>.<op>` unless its rule gave it a `grad.` name already, so
 * that ORT profiles attribute backward time to forward nodes and phases. Only node names change, and only
 * after the last value is created: `g.fresh` numbers every name from one counter, so renaming earlier
 * would renumber the values created after it.
 */
function nameBackwardNodes(g: Graph, emitted: Emitted[]): void {
  for (const { forward, start, end } of emitted)
    for (const n of g.nodes.slice(start, end))
      if (!n.name.startsWith('grad.')) n.name = g.fresh(`grad.${forward.name}.${n.op}`);
}

function emitNode(
  ctx: GradContext,
  rules: RuleTable,
  node: Node,
  dOut: (string | undefined)[],
  push: (v: string, grad: string) => void,
): void {
  if (dOut.every((d) => d === undefined)) return;
  const rule = rules[node.op];
  if (!rule) throw new Error(`autodiff: no gradient rule for ${node.op} (node '${node.name}')`);
  const dIn = rule(ctx, node, dOut);
  node.inputs.forEach((input, k) => {
    const d = dIn[k];
    if (d !== undefined && ctx.needsGrad(input)) push(input, d);
  });
}
