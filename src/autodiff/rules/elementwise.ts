import { attr } from '../../graph/ir.js';
import { onnxDataType } from '../../graph/onnx-dtypes.js';
import type { GradContext, GradRule, RuleTable } from '../rule.js';
import { gradsFor, scalar, unbroadcast, where } from './util.js';

/**
 * grad · mask as Mul(grad, Cast(mask)): ORT runs it 3x faster than Where(mask, grad, 0) on large maps
 * (1.7 against 5.5 ms on [32,384,14,14]); a 0/1 factor changes no finite gradient. The graphs are float32, as
 * `scalar` is.
 */
function masked(ctx: GradContext, mask: string, grad: string): string {
  return ctx.g.op('Mul', [grad, ctx.g.op('Cast', [mask], { to: attr.int(onnxDataType('float32')) })]);
}

// Relu and Clip read their forward output, which later layers keep alive anyway, rather than X.
const relu: GradRule = (ctx, node, [dY]) => [
  masked(ctx, ctx.g.op('Greater', [node.outputs[0], scalar(ctx, 0)]), dY!),
];

/**
 * As PyTorch's hardtanh: the gradient passes strictly inside (min, max) and is 0 at the bounds. Y equals
 * a bound exactly where X is at or beyond it, so comparing Y is exact.
 */
const clip: GradRule = (ctx, node, [dY]) => {
  const [, lo, hi] = node.inputs;
  for (const bound of [lo, hi])
    if (bound && ctx.needsGrad(bound))
      throw new Error(`autodiff: ${where(node)} has a trainable bound '${bound}', which is not supported`);
  const y = node.outputs[0];
  const masks: string[] = [];
  if (lo) masks.push(ctx.g.op('Greater', [y, lo]));
  if (hi) masks.push(ctx.g.op('Less', [y, hi]));
  if (masks.length === 0) return [dY];
  return [masked(ctx, masks.length === 2 ? ctx.g.op('And', masks) : masks[0], dY!)];
};

/** Add, Sum and Identity: every input receives the output gradient, reduced to its shape. */
const passThrough: GradRule = (ctx, node, [dY]) =>
  gradsFor(ctx, node, (x) => unbroadcast(ctx, dY!, ctx.shape(node.outputs[0]), x));

const sub: GradRule = (ctx, node, [dY]) =>
  gradsFor(ctx, node, (x, k) => {
    const grad = unbroadcast(ctx, dY!, ctx.shape(node.outputs[0]), x);
    return k === 0 ? grad : ctx.g.op('Neg', [grad]);
  });

const mul: GradRule = (ctx, node, [dY]) =>
  gradsFor(ctx, node, (x, k) =>
    unbroadcast(ctx, ctx.g.op('Mul', [dY!, node.inputs[1 - k]]), ctx.shape(node.outputs[0]), x),
  );

const neg: GradRule = (ctx, _node, [dY]) => [ctx.g.op('Neg', [dY!])];

export const elementwiseRules: RuleTable = {
  Relu: relu,
  Clip: clip,
  Add: passThrough,
  Sum: passThrough,
  Identity: passThrough,
  Sub: sub,
  Mul: mul,
  Neg: neg,
};
