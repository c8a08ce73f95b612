import { attr, type Node } from '../../graph/ir.js';
import type { GradContext, GradRule, RuleTable } from '../rule.js';
import { constantInts, gradsFor, intAttr, int64s, intsAttr, scalar, where } from './util.js';

const FLOAT = 1;

/** ReduceSum over the (opset 13+) softmax axis, kept for broadcasting. */
function sumOverAxis(ctx: GradContext, node: Node, x: string): string {
  if (ctx.g.opset < 13)
    throw new Error(`autodiff: ${where(node)} has pre-13 semantics (opset ${ctx.g.opset})`);
  return ctx.g.op('ReduceSum', [x, int64s(ctx, [intAttr(node, 'axis', -1)])], { keepdims: attr.int(1) });
}

/** dX = Y·(dY − Σ dY·Y). */
const softmax: GradRule = (ctx, node, [dY]) => {
  const y = node.outputs[0];
  const dot = sumOverAxis(ctx, node, ctx.g.op('Mul', [dY!, y]));
  return [ctx.g.op('Mul', [y, ctx.g.op('Sub', [dY!, dot])])];
};

/** dX = dY − softmax(X)·Σ dY, with softmax(X) = exp(Y). */
const logSoftmax: GradRule = (ctx, node, [dY]) => {
  const probs = ctx.g.op('Exp', [node.outputs[0]]);
  return [ctx.g.op('Sub', [dY!, ctx.g.op('Mul', [probs, sumOverAxis(ctx, node, dY!)])])];
};

/** The listed axes: an attribute before opset 13 (ReduceSum) or 18 (the rest), else a constant input. */
function listedAxes(ctx: GradContext, node: Node): number[] {
  const input = node.inputs[1];
  if (!input) return intsAttr(node, 'axes') ?? [];
  const axes = constantInts(ctx, input);
  if (!axes) throw new Error(`autodiff: ${where(node)} has computed axes, which is not supported`);
  return axes;
}

/** The target shape for expanding the gradient back over X: its static dims, 1 where dY already has the batch. */
function expandShape(ctx: GradContext, x: string, axes: number[]): string {
  const dims = ctx.shape(x);
  if (axes.some((a) => typeof dims[a] !== 'number')) return ctx.g.op('Shape', [x]);
  return int64s(
    ctx,
    dims.map((d) => (typeof d === 'number' ? d : 1)),
  );
}

/** dY divided by the number of elements each output averages. */
function meanOf(ctx: GradContext, node: Node, grad: string, axes: number[]): string {
  const dims = ctx.shape(node.inputs[0]);
  const extents = axes.map((a) => dims[a]);
  if (extents.every((d) => typeof d === 'number'))
    return ctx.g.op('Mul', [grad, scalar(ctx, 1 / extents.reduce((p, d) => p * d, 1))]);
  // A symbolic (batch) extent is known only at run time: the count is |X| / |Y|.
  const size = (v: string) => ctx.g.op('Cast', [ctx.g.op('Size', [v])], { to: attr.int(FLOAT) });
  return ctx.g.op('Div', [grad, ctx.g.op('Div', [size(node.inputs[0]), size(node.outputs[0])])]);
}

/** ReduceSum and ReduceMean: dX is dY (scaled for the mean) broadcast back over the reduced axes. */
const reduce =
  (mean: boolean): GradRule =>
  (ctx, node, [dY]) =>
    gradsFor(ctx, node, (x, k) => {
      if (k > 0) return undefined;
      const rank = ctx.shape(x).length;
      const listed = listedAxes(ctx, node);
      if (listed.length === 0 && intAttr(node, 'noop_with_empty_axes', 0)) return dY!;
      const axes = listed.length
        ? [...new Set(listed.map((a) => (a + rank) % rank))].sort((a, b) => a - b)
        : [...Array(rank).keys()];
      let grad = mean ? meanOf(ctx, node, dY!, axes) : dY!;
      if (!intAttr(node, 'keepdims', 1)) grad = ctx.g.op('Unsqueeze', [grad, int64s(ctx, axes)]);
      return ctx.g.op('Expand', [grad, expandShape(ctx, x, axes)]);
    });

export const softmaxRules: RuleTable = {
  Softmax: softmax,
  LogSoftmax: logSoftmax,
  ReduceSum: reduce(false),
  ReduceMean: reduce(true),
};
