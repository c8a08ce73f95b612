import { attr, type Dim, type Node } from '../../graph/ir.js';
import { f32, i64 } from '../../graph/tensor.js';
import type { GradContext, GradRule, RuleTable } from '../rule.js';

// Helpers shared by every rule family in this folder.

export function intAttr(node: Node, name: string, fallback: number): number {
  const a = node.attrs[name];
  return a?.kind === 'int' ? a.value : fallback;
}

export function floatAttr(node: Node, name: string, fallback: number): number {
  const a = node.attrs[name];
  return a?.kind === 'float' ? a.value : fallback;
}

export function intsAttr(node: Node, name: string): number[] | undefined {
  const a = node.attrs[name];
  return a?.kind === 'ints' ? a.value : undefined;
}

/** Calls `grad` for each input that needs a gradient, so no rule emits nodes nobody reads. */
export function gradsFor(
  ctx: GradContext,
  node: Node,
  grad: (input: string, k: number) => string | undefined,
): (string | undefined)[] {
  return node.inputs.map((x, k) => (x && ctx.needsGrad(x) ? grad(x, k) : undefined));
}

export function int64s(ctx: GradContext, values: number[]): string {
  return ctx.g.constant(i64([values.length], values), 'grad.ints');
}

export function scalar(ctx: GradContext, value: number): string {
  return ctx.g.constant(f32([], [value]), 'grad.scalar');
}

/**
 * A shape tensor for forward value x. A constant where possible, with -1 for the one symbolic (batch)
 * dimension: Shape(x) would keep the activation x alive until the backward pass just to read its shape.
 */
export function shapeOf(ctx: GradContext, x: string): string {
  const dims = ctx.shape(x);
  if (dims.filter((d) => typeof d !== 'number').length > 1) return ctx.g.op('Shape', [x]);
  return int64s(
    ctx,
    dims.map((d) => (typeof d === 'number' ? d : -1)),
  );
}

export function reshapeLike(ctx: GradContext, grad: string, x: string): string {
  return ctx.g.op('Reshape', [grad, shapeOf(ctx, x)]);
}

/**
 * Sums a gradient of the broadcast shape `from` down to input x's shape (numpy broadcasting): over the
 * leading axes x lacks and over the axes where x has size 1.
 */
export function unbroadcast(ctx: GradContext, grad: string, from: Dim[], x: string): string {
  const to = ctx.shape(x);
  const lead = from.length - to.length;
  const axes = from.flatMap((d, i) => (i < lead || (to[i - lead] === 1 && d !== 1) ? [i] : []));
  if (axes.length === 0) return grad;
  // Dropping only leading axes needs no Reshape afterwards.
  const leadingOnly = axes.length === lead;
  const summed = ctx.g.op('ReduceSum', [grad, int64s(ctx, axes)], {
    keepdims: attr.int(leadingOnly ? 0 : 1),
  });
  return leadingOnly || lead === 0 ? summed : reshapeLike(ctx, summed, x);
}

/** Where(mask, grad, 0). */
function masked(ctx: GradContext, mask: string, grad: string): string {
  return ctx.g.op('Where', [mask, grad, scalar(ctx, 0)]);
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
      throw new Error(
        `autodiff: Clip '${node.name}' has a trainable bound '${bound}', which is not supported`,
      );
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
