import type { Graph, Node } from '../graph/ir.js';

/** The name prefix that marks an Identity node as a stop-gradient. */
const STOP_GRADIENT = 'stop_gradient';

/**
 * PyTorch's `detach`: forward, x itself (an Identity, which ONNX Runtime removes); backward, a constant,
 * so nothing upstream of it gets a gradient through this path. The mark is the node's name, since ONNX
 * Identity takes no attributes.
 */
export function stopGradient(g: Graph, x: string, name: string): string {
  return g.op('Identity', [x], {}, g.fresh(`${STOP_GRADIENT}.${name}`));
}

export function isStopGradient(node: Node): boolean {
  return node.op === 'Identity' && node.name.startsWith(`${STOP_GRADIENT}.`);
}
