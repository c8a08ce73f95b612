import { attr } from '../../graph/ir.js';
import type { GradRule, RuleTable } from '../rule.js';
import { gradsFor, intAttr, int64s, intsAttr, reshapeLike, where } from './util.js';

/**
 * Flatten, Reshape, Squeeze and Unsqueeze only relabel the shape: dX is dY in X's shape. Their integer
 * shape or axes input has no gradient, even when computed from X.
 */
const reshape: GradRule = (ctx, node, [dY]) =>
  gradsFor(ctx, node, (x, k) => (k === 0 ? reshapeLike(ctx, dY!, x) : undefined));

const transpose: GradRule = (ctx, node, [dY]) => {
  const rank = ctx.shape(node.inputs[0]).length;
  const perm = intsAttr(node, 'perm') ?? [...Array(rank).keys()].reverse();
  const inverse = perm.map((_, i) => perm.indexOf(i));
  return [ctx.g.op('Transpose', [dY!], { perm: attr.ints(inverse) })];
};

/** Splits dY back into the inputs' static extents along the axis. */
const concat: GradRule = (ctx, node, [dY]) => {
  const rank = ctx.shape(node.outputs[0]).length;
  const axis = (intAttr(node, 'axis', 0) + rank) % rank;
  const sizes = node.inputs.map((x) => ctx.shape(x)[axis]);
  if (sizes.some((s) => typeof s !== 'number'))
    throw new Error(`autodiff: ${where(node)} joins along the symbolic axis ${axis}, which is not supported`);
  const parts = ctx.g.add('Split', [dY!, int64s(ctx, sizes as number[])], {
    attrs: { axis: attr.int(axis) },
    outputs: sizes.length,
  });
  return gradsFor(ctx, node, (_, k) => parts[k]);
};

export const shapeRules: RuleTable = {
  Flatten: reshape,
  Reshape: reshape,
  Squeeze: reshape,
  Unsqueeze: reshape,
  Transpose: transpose,
  Concat: concat,
};
