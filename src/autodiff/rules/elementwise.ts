import { attr } from '../../graph/ir.js';
import { onnxDataType } from '../../graph/onnx-dtypes.js';
import type { GradContext, GradRule, RuleTable } from '../rule.js';
import { floatAttr, gradsFor, scalar, unbroadcast, where } from './util.js';

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

/** dX = dY · y · (1 - y), from the forward output (EfficientNet's SiLU and squeeze-excite gates). */
const sigmoid: GradRule = (ctx, node, [dY]) => {
  const y = node.outputs[0];
  return [ctx.g.op('Mul', [dY!, ctx.g.op('Mul', [y, ctx.g.op('Sub', [scalar(ctx, 1), y])])])];
};

/**
 * y = clip(αx + β, 0, 1): dX = α·dY strictly inside, 0 where it is clipped, as PyTorch's hardsigmoid.
 * As for Clip, y equals a bound exactly where it is clipped, so comparing y is exact.
 */
const hardSigmoid: GradRule = (ctx, node, [dY]) => {
  const y = node.outputs[0];
  const inside = ctx.g.op('And', [
    ctx.g.op('Greater', [y, scalar(ctx, 0)]),
    ctx.g.op('Less', [y, scalar(ctx, 1)]),
  ]);
  return [masked(ctx, inside, ctx.g.op('Mul', [dY!, scalar(ctx, floatAttr(node, 'alpha', 0.2))]))];
};

/**
 * y = x · clip(x/6 + 1/2, 0, 1) (MobileNetV3): dX = dY · (0 below -3, x/3 + 1/2 up to 3, 1 above), as
 * PyTorch's hardswish backward.
 */
const hardSwish: GradRule = (ctx, node, [dY]) => {
  const x = node.inputs[0];
  const ramp = ctx.g.op('Add', [ctx.g.op('Mul', [x, scalar(ctx, 1 / 3)]), scalar(ctx, 0.5)]);
  const upTo3 = ctx.g.op('Where', [ctx.g.op('LessOrEqual', [x, scalar(ctx, 3)]), ramp, scalar(ctx, 1)]);
  const slope = ctx.g.op('Where', [ctx.g.op('Less', [x, scalar(ctx, -3)]), scalar(ctx, 0), upTo3]);
  return [ctx.g.op('Mul', [dY!, slope])];
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

/** y = a / b: da = dY / b and db = −dY · y / b, each reduced to its input's shape. */
const div: GradRule = (ctx, node, [dY]) => {
  const b = node.inputs[1];
  const over = ctx.g.op('Div', [dY!, b]);
  return gradsFor(ctx, node, (x, k) =>
    unbroadcast(
      ctx,
      k === 0 ? over : ctx.g.op('Neg', [ctx.g.op('Mul', [over, node.outputs[0]])]),
      ctx.shape(node.outputs[0]),
      x,
    ),
  );
};

/** y = a^p with a frozen exponent (LayerNorm's square, written out by torch below opset 17): dA = dY · p · a^(p−1). */
const pow: GradRule = (ctx, node, [dY]) => {
  const [a, p] = node.inputs;
  if (ctx.needsGrad(p))
    throw new Error(`autodiff: ${where(node)} has a trainable exponent '${p}', which is not supported`);
  const slope = ctx.g.op('Mul', [p, ctx.g.op('Pow', [a, ctx.g.op('Sub', [p, scalar(ctx, 1)])])]);
  return [unbroadcast(ctx, ctx.g.op('Mul', [dY!, slope]), ctx.shape(node.outputs[0]), a)];
};

/** dX = dY / (2y). */
const sqrt: GradRule = (ctx, node, [dY]) => [
  ctx.g.op('Div', [ctx.g.op('Mul', [dY!, scalar(ctx, 0.5)]), node.outputs[0]]),
];

/** dX = dY · 2/√π · exp(−x²) (the exact GELU, x·Φ(x), is written with Erf). */
const erf: GradRule = (ctx, node, [dY]) => {
  const x = node.inputs[0];
  const bell = ctx.g.op('Exp', [ctx.g.op('Neg', [ctx.g.op('Mul', [x, x])])]);
  return [ctx.g.op('Mul', [dY!, ctx.g.op('Mul', [bell, scalar(ctx, 2 / Math.sqrt(Math.PI))])])];
};

export const elementwiseRules: RuleTable = {
  Relu: relu,
  Clip: clip,
  Sigmoid: sigmoid,
  HardSigmoid: hardSigmoid,
  HardSwish: hardSwish,
  Add: passThrough,
  Sum: passThrough,
  Identity: passThrough,
  Sub: sub,
  Mul: mul,
  Neg: neg,
  Div: div,
  Pow: pow,
  Sqrt: sqrt,
  Erf: erf,
};
