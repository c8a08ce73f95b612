import type { Dim, Graph, Node } from '../graph/ir.js';
import type { Tensor } from '../graph/tensor.js';

/** What a gradient rule may ask about the forward graph while it emits backward nodes into `g`. */
export interface GradContext {
  g: Graph;
  /** Static shape of a forward value; the batch dimension may be the symbol 'N'. */
  shape(name: string): Dim[];
  /** The value of a frozen constant (an initializer), or undefined for computed values and graph inputs. */
  constant(name: string): Tensor | undefined;
  /** Whether a gradient is wanted for this forward value (it lies between a trainable and the loss). */
  needsGrad(name: string): boolean;
}

/**
 * Emits the backward of one node: given the gradient names of its outputs (undefined where no gradient
 * flows), returns one gradient name per input, undefined for inputs that need none.
 */
export type GradRule = (
  ctx: GradContext,
  node: Node,
  dOutputs: (string | undefined)[],
) => (string | undefined)[];

export type RuleTable = Record<string, GradRule>;
