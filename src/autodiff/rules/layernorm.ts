import { attr } from '../../graph/ir.js';
import { f32 } from '../../graph/tensor.js';
import type { GradRule, RuleTable } from '../rule.js';
import { Emitter, intAttr, refuseTrainableBeyondX, where } from './util.js';

/**
 * LayerNormalization (opset 17; ConvNeXt's) with its scale and bias frozen. Over the normalised axes D,
 * with x̂ = (x − mean)·r and g = dY·scale: dX = r · (g − mean_D(g) − x̂ · mean_D(g·x̂)). The forward node
 * is made to emit its Mean and InvStdDev outputs, so x̂ costs one Sub and one Mul.
 */
const layerNormalization: GradRule = (ctx, node, [dY]) => {
  refuseTrainableBeyondX(ctx, node);
  const [x, scale] = node.inputs;
  const shape = ctx.shape(x);
  const from = (intAttr(node, 'axis', -1) + shape.length) % shape.length;
  const axes = [...Array(shape.length - from).keys()].map((i) => from + i);
  const extents = axes.map((a) => shape[a]);
  if (!extents.every((d): d is number => typeof d === 'number'))
    throw new Error(`autodiff: ${where(node)} normalises over a symbolic axis, which is not supported`);
  const e = Emitter.for(ctx, node);
  for (const [i, what] of [
    [1, 'mean'],
    [2, 'inv_std'],
  ] as const)
    if (!node.outputs[i]) node.outputs[i] = ctx.g.fresh(`${node.name}.${what}`);
  // ReduceSum takes its axes as an input from opset 13 on, where ReduceMean waits until 18.
  const mean = (v: string) =>
    e.op('Mul', [
      e.op('ReduceSum', [v, e.ints(axes)], { keepdims: attr.int(1) }),
      e.constant(f32([], [1 / extents.reduce((p, d) => p * d, 1)]), 'count'),
    ]);
  const r = node.outputs[2];
  const normalised = e.op('Mul', [e.op('Sub', [x, node.outputs[1]]), r]);
  const g = e.op('Mul', [dY!, scale]);
  const centred = e.op('Sub', [g, mean(g)]);
  const along = e.op('Mul', [normalised, mean(e.op('Mul', [g, normalised]))]);
  return [e.op('Mul', [r, e.op('Sub', [centred, along])])];
};

export const layerNormRules: RuleTable = { LayerNormalization: layerNormalization };
