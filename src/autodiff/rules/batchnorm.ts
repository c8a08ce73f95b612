import { f32 } from '../../graph/tensor.js';
import type { GradRule, RuleTable } from '../rule.js';
import { Emitter, floatAttr, intAttr, refuseTrainableBeyondX, where } from './util.js';

/**
 * Inference BatchNormalization, y = scale·(x − mean)/√(var + ε) + B with its statistics frozen, as in
 * an eval-mode export whose BN follows no conv to fold into (DenseNet's pre-activation BN): a per-channel
 * scale, so dX = dY · scale/√(var + ε). Trainable statistics or affine parameters are not supported.
 */
const batchNormalization: GradRule = (ctx, node, [dY]) => {
  if (intAttr(node, 'training_mode', 0) !== 0)
    throw new Error(
      `autodiff: ${where(node)} is in training mode; only inference BatchNormalization is supported`,
    );
  const [x, scale, , , variance] = node.inputs;
  refuseTrainableBeyondX(ctx, node);
  const e = Emitter.for(ctx, node);
  const eps = e.constant(f32([], [floatAttr(node, 'epsilon', 1e-5)]), 'eps');
  const perChannel = e.op('Div', [scale, e.op('Sqrt', [e.op('Add', [variance, eps])])]);
  const rank = ctx.shape(x).length;
  return [e.op('Mul', [dY!, e.reshape(perChannel, [-1, ...Array<number>(rank - 2).fill(1)])])];
};

export const batchNormRules: RuleTable = { BatchNormalization: batchNormalization };
